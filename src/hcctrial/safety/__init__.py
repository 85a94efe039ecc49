"""Safety: CTCAE grading, adverse events, CRS/ICANS (ASTCT 2019), DLT rules, dose escalation."""

from __future__ import annotations

from hcctrial.safety.adverse_events import (
    ANCHOR_COLUMNS,
    AeDerivation,
    ae_incidence,
    derive_ae_window,
    derive_subject_anchors,
    derive_treatment_emergent,
    serious_adverse_events,
    worst_grade_per_subject,
)
from hcctrial.safety.ctcae import (
    LB_REQUIRED,
    LabGrade,
    grade_lab,
    grade_labs,
    lab_grading_problems,
)
from hcctrial.safety.ctcae_criteria import (
    CTCAE_VERSIONS,
    CtcaeTerm,
    ctcae_criteria,
    ctcae_terms,
    find_ctcae_term,
    normalise_ctcae_version,
)
from hcctrial.safety.shift import (
    derive_lab_baseline_flag,
    lab_shift_table,
    lab_shifts_by_subject,
)

__all__ = [
    "ANCHOR_COLUMNS",
    "CTCAE_VERSIONS",
    "LB_REQUIRED",
    "AeDerivation",
    "CtcaeTerm",
    "LabGrade",
    "ae_incidence",
    "ctcae_criteria",
    "ctcae_terms",
    "derive_ae_window",
    "derive_lab_baseline_flag",
    "derive_subject_anchors",
    "derive_treatment_emergent",
    "find_ctcae_term",
    "grade_lab",
    "grade_labs",
    "lab_grading_problems",
    "lab_shift_table",
    "lab_shifts_by_subject",
    "normalise_ctcae_version",
    "serious_adverse_events",
    "worst_grade_per_subject",
]
