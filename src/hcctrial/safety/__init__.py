"""Safety: CTCAE grading, adverse events, CRS/ICANS (ASTCT 2019), DLT rules, dose escalation."""

from __future__ import annotations

from hcctrial.safety.ctcae import LB_REQUIRED, LabGrade, grade_lab, grade_labs
from hcctrial.safety.ctcae_criteria import (
    CTCAE_VERSIONS,
    CtcaeTerm,
    ctcae_criteria,
    ctcae_terms,
    find_ctcae_term,
    normalise_ctcae_version,
)

__all__ = [
    "CTCAE_VERSIONS",
    "LB_REQUIRED",
    "CtcaeTerm",
    "LabGrade",
    "ctcae_criteria",
    "ctcae_terms",
    "find_ctcae_term",
    "grade_lab",
    "grade_labs",
    "normalise_ctcae_version",
]
