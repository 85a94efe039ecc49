"""A small hand-written study: four adults with advanced HCC given GPC3-directed CAR-T cells.

The extract (``hcc_demo/``: DM, LB, TU, TR, AE, EX, DS) is invented for documentation and the
demo, shaped like a phase I cell-therapy trial: lymphodepletion with fludarabine 25 mg/m2/day
and cyclophosphamide 500 mg/m2/day on days -5 to -3, one infusion of 1x10^6 CAR-T cells/kg on
day 0, MRI/CT at screening, week 6 and week 12. It contains, on purpose, what real data does:
a partial birth date (``1962-05``) and a partial disposition date (``2024-12``), lesion
diameters recorded in cm at one site and standardised to mm, bilirubin and albumin in mg/dL
and g/dL as original results with SI standard results, an INR without a unit (a ratio), a
lymph-node target lesion measured by short axis, a new lesion at week 6 and a grade 5 event.
Subject outcomes by RECIST 1.1: 001 partial response (sum 83 -> 53 mm, -36%), 002 stable
disease, 003 progression (new lesion), 004 complete response.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hcctrial.io.study import StudyData

__all__ = ["example_study", "example_study_folder"]


def example_study_folder() -> Path:
    """The folder holding the example study's CSV files."""
    return Path(str(resources.files("hcctrial.io.examples").joinpath("hcc_demo")))


def example_study() -> StudyData:
    """The example study, read and validated like any folder (see :func:`read_study`)."""
    from hcctrial.io.read import read_study

    return read_study(example_study_folder())
