"""Safety: CTCAE grading, adverse events, CRS/ICANS (ASTCT 2019), DLT rules, dose escalation.

Dose escalation lives in its modules: :mod:`hcctrial.safety.escalation` (cohort data, the
next-cohort decision, pathways), :mod:`~hcctrial.safety.three_plus_three`,
:mod:`~hcctrial.safety.boin`, :mod:`~hcctrial.safety.boin_simulation` and
:mod:`~hcctrial.safety.decision_table`.
"""

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
from hcctrial.safety.dlt import DLTResult, dlt_counts, evaluate_dlt
from hcctrial.safety.dose_levels import derive_dose_level
from hcctrial.safety.shift import (
    derive_lab_baseline_flag,
    lab_shift_table,
    lab_shifts_by_subject,
)
from hcctrial.safety.syndromes import (
    CrsIcans,
    crs_icans_from_fa,
    grade_crs_icans,
    recorded_episode_problems,
    recorded_vs_derived_problems,
)

__all__ = [
    "ANCHOR_COLUMNS",
    "CTCAE_VERSIONS",
    "LB_REQUIRED",
    "AeDerivation",
    "CrsIcans",
    "CtcaeTerm",
    "DLTResult",
    "LabGrade",
    "ae_incidence",
    "crs_icans_from_fa",
    "ctcae_criteria",
    "ctcae_terms",
    "derive_ae_window",
    "derive_dose_level",
    "derive_lab_baseline_flag",
    "derive_subject_anchors",
    "derive_treatment_emergent",
    "dlt_counts",
    "evaluate_dlt",
    "find_ctcae_term",
    "grade_crs_icans",
    "grade_lab",
    "grade_labs",
    "lab_grading_problems",
    "lab_shift_table",
    "lab_shifts_by_subject",
    "normalise_ctcae_version",
    "recorded_episode_problems",
    "recorded_vs_derived_problems",
    "serious_adverse_events",
    "worst_grade_per_subject",
]
