"""Clinical scores, formulas and lab units (pure functions, no I/O).

Each formula cites its source in its docstring; every scalar function checks its inputs and
raises :class:`hcctrial.errors.InputError` naming the value and what was expected; ``*_expr``
functions are the vectorised polars versions.
"""

from __future__ import annotations

from hcctrial.clinical.bclc import BclcStage, bclc_stage, bclc_stage_expr
from hcctrial.clinical.body import (
    bsa,
    bsa_dubois,
    bsa_expr,
    bsa_mosteller,
    crcl_expr,
    creatinine_clearance_cockcroft_gault,
)
from hcctrial.clinical.dose import Dose, calculate_dose, dose_expr
from hcctrial.clinical.liver import (
    Albi,
    ChildPugh,
    albi,
    albi_expr,
    albi_grade,
    albi_grade_expr,
    child_pugh,
    child_pugh_class,
    child_pugh_class_expr,
    child_pugh_expr,
    child_pugh_from_units,
)
from hcctrial.clinical.performance import ecog_from_kps, ecog_from_kps_expr, kps_range_from_ecog
from hcctrial.clinical.units import (
    canonical_unit,
    check_unit,
    convert,
    convert_expr,
    normalise_unit,
    unit_problems,
)

__all__ = [
    "Albi",
    "BclcStage",
    "ChildPugh",
    "Dose",
    "albi",
    "albi_expr",
    "albi_grade",
    "albi_grade_expr",
    "bclc_stage",
    "bclc_stage_expr",
    "bsa",
    "bsa_dubois",
    "bsa_expr",
    "bsa_mosteller",
    "calculate_dose",
    "canonical_unit",
    "check_unit",
    "child_pugh",
    "child_pugh_class",
    "child_pugh_class_expr",
    "child_pugh_expr",
    "child_pugh_from_units",
    "convert",
    "convert_expr",
    "crcl_expr",
    "creatinine_clearance_cockcroft_gault",
    "dose_expr",
    "ecog_from_kps",
    "ecog_from_kps_expr",
    "kps_range_from_ecog",
    "normalise_unit",
    "unit_problems",
]
