"""Shared helpers for the endpoints tests: R reference values and a 1e-6 relative comparison.

Reference data (all committed in ``tests/endpoints/data/``):

* ``lung.csv``, ``survival_lung.json``, ``make_reference.R``: copied from
  ``/work/shared/reference/survival/`` (R 4.2.2, survival 3.5.3; see its README).
* ``survival_more.json`` and the CSVs beside it: made by ``make_more_references.R`` (same R).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def lung_ref() -> dict[str, Any]:
    return json.loads((DATA / "survival_lung.json").read_text())


@pytest.fixture(scope="session")
def more_ref() -> dict[str, Any]:
    return json.loads((DATA / "survival_more.json").read_text())
