"""Eligibility screening: the criterion language, three-valued evaluation with explanations,
patient records (JSON, SDTM, FHIR R4) and population screening over OMOP (:mod:`.omop`).

Typical use::

    from datetime import date
    from hcctrial.protocol import load_protocol
    from hcctrial.eligibility import read_patients, screen_patients, screening_log

    protocol = load_protocol("SZ003")
    decisions = screen_patients(protocol, read_patients("patients.jsonl"), date(2026, 11, 20))
    log = screening_log(decisions)   # one row per patient and criterion
"""

from __future__ import annotations

from hcctrial.eligibility.evaluate import (
    Criterion,
    CriterionResult,
    PatientDecision,
    criteria_from_protocol,
    evaluate_criterion,
    screen_patient,
)
from hcctrial.eligibility.fhir import read_fhir, records_from_bundle
from hcctrial.eligibility.language import ParsedExpression, parse_expression
from hcctrial.eligibility.log import decisions_table, explain, screen_patients, screening_log
from hcctrial.eligibility.logic import Unknown
from hcctrial.eligibility.record import (
    Condition,
    LabResult,
    PatientRecord,
    Therapy,
    read_patients,
    record_from_dict,
)
from hcctrial.eligibility.sdtm import records_from_sdtm

__all__ = [
    "Condition",
    "Criterion",
    "CriterionResult",
    "LabResult",
    "ParsedExpression",
    "PatientDecision",
    "PatientRecord",
    "Therapy",
    "Unknown",
    "criteria_from_protocol",
    "decisions_table",
    "evaluate_criterion",
    "explain",
    "parse_expression",
    "read_fhir",
    "read_patients",
    "record_from_dict",
    "records_from_bundle",
    "records_from_sdtm",
    "screen_patient",
    "screen_patients",
    "screening_log",
]
