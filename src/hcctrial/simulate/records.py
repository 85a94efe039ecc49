"""The subject-level input of the record builders and shared helpers (dates, row store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hcctrial.simulate.visits import PlannedVisit

__all__ = [
    "BASELINE_IMAGING_DAY",
    "DEFAULT_PK_DAYS",
    "FOLLOWED_LABS",
    "Rows",
    "SubjectInput",
    "iso",
]

Rows = dict[str, list[dict[str, Any]]]

#: Labs followed on treatment (codes of LAB_PANEL).
FOLLOWED_LABS = ("WBC", "NEUT", "LYM", "PLT", "HGB", "ALB", "BILI", "ALT", "AST", "CREAT", "AFP")
#: Baseline imaging is done in the screening window, 7 days before day 0 (assumption).
BASELINE_IMAGING_DAY = -7
#: Default pharmacokinetic sampling days after an infusion when the protocol lists none.
DEFAULT_PK_DAYS = (1, 4, 7, 10, 14, 21, 28)


def iso(origin: date, day: float) -> str:
    """ISO 8601 date of study day ``day`` counted from ``origin``."""
    return (origin + timedelta(days=int(day))).isoformat()


@dataclass
class SubjectInput:
    """What the record builder needs about one enrolled subject."""

    usubjid: str
    base: dict[str, Any]
    anchor: date
    visits: list[PlannedVisit]
    g: float
    d: float
    t_new: float
    end_day: float
    progression_stops_treatment: bool
    doses: dict[str, float]
    dose_units: dict[str, str]
    kinetics: dict[str, float] | None
    kinetic_code: tuple[str, str, str] | None
    crs_grade: int
    icans_grade: int
    car: bool
    biomarker_il1rap: bool
    dlt_window: int | None
    mrecist: bool = False
    tace_days: list[int] = field(default_factory=list)
