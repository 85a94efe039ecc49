"""Shared helpers of the eligibility tests: hand-built patients and a criteria set that uses
every function and name kind of the language (the 'kitchen sink')."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hcctrial.eligibility import Criterion, parse_expression, record_from_dict

AS_OF = date(2026, 6, 30)
TODAY = date(2026, 11, 22)

KITCHEN_SINK: list[tuple[str, str, str | None]] = [
    ("IN-AGE", "inclusion", "18 <= age <= 80"),
    ("IN-SEX", "inclusion", 'sex in ["M", "F"]'),
    ("IN-BCLC", "inclusion", 'bclc_stage in ["B", "C"]'),
    ("IN-DX", "inclusion", 'diagnosis == "HCC" and diagnosis_basis in ["histology", "imaging"]'),
    ("IN-ECOG", "inclusion", "ecog <= 1"),
    ("IN-CP", "inclusion", "child_pugh_score <= 7"),
    ("IN-CPC", "inclusion", 'child_pugh_class in ["A", "B"]'),
    ("IN-PLT", "inclusion", 'lab("PLT", "10^9/L") >= 60'),
    ("IN-HGB", "inclusion", 'lab("HGB", "g/dL") >= 9'),
    ("IN-ALB", "inclusion", 'lab("ALB") >= 30'),
    ("IN-ALT", "inclusion", 'xuln("ALT") <= 5'),
    ("IN-AST", "inclusion", 'lab("AST") <= 5 * uln("AST")'),
    ("IN-BILI", "inclusion", 'lab("BILI") < 51'),
    ("IN-WBC", "inclusion", 'lab("WBC") >= lln("WBC") - 1.5'),
    ("IN-CRCL", "inclusion", "crcl() >= 40"),
    ("IN-GPC3", "inclusion", 'gpc3_ihc == "positive"'),
    ("IN-LES", "inclusion", "measurable_lesions >= 1"),
    ("IN-HBV", "inclusion", "not hbsag_positive or antiviral_days >= 14"),
    ("IN-LIFE", "inclusion", "life_expectancy_weeks >= 12"),
    ("EX-WASH", "exclusion", 'within_days("anti_tumour_therapy", 14)'),
    ("EX-INV", "exclusion", 'within_months("investigational_agent", 3)'),
    ("EX-CELL", "exclusion", 'days_since("cell_therapy") < 180'),
    ("EX-TACE", "exclusion", 'days_since("interventional_therapy") <= 28'),
    ("EX-HE", "exclusion", 'history("hepatic_encephalopathy")'),
    ("EX-HIV", "exclusion", 'active("hiv") or hiv_positive'),
    ("EX-MI", "exclusion", 'within_months("myocardial_infarction", 6)'),
    ("EX-ASC", "exclusion", "ascites_depth_cm > 5"),
    ("EX-PREG", "exclusion", "pregnant or lactating"),
    ("EX-J", "exclusion", None),
]


def make_criteria(spec: list[tuple[str, str, str | None]] = KITCHEN_SINK) -> list[Criterion]:
    """Parsed criteria from (id, kind, expression or None for investigator judgement)."""
    return [
        Criterion(
            id=cid,
            kind=kind,  # type: ignore[arg-type]
            source=f"source sentence of {cid}",
            expression=parse_expression(expr) if expr else None,
            judgement_reason=None if expr else "no data item decides it",
        )
        for cid, kind, expr in spec
    ]


def full_record(**overrides: Any) -> dict[str, Any]:
    """A complete patient (JSON form) who meets every kitchen-sink criterion on AS_OF."""
    record: dict[str, Any] = {
        "id": "P-OK",
        "sex": "M",
        "birth_date": "1961-04-02",
        "weight_kg": 72,
        "findings": {
            "diagnosis": "HCC",
            "diagnosis_basis": "histology",
            "bclc_stage": "C",
            "ecog": 1,
            "kps": 80,
            "gpc3_ihc": "positive",
            "measurable_lesions": 2,
            "hbsag_positive": True,
            "antiviral_days": 400,
            "hiv_positive": False,
            "life_expectancy_weeks": 24,
            "ascites": "none",
            "encephalopathy": "none",
            "ascites_depth_cm": 0,
            "pregnant": False,
            "lactating": False,
        },
        "labs": [
            {
                "code": "PLT",
                "value": 132,
                "unit": "10^9/L",
                "lln": 125,
                "uln": 350,
                "date": "2026-06-25",
            },
            {
                "code": "HGB",
                "value": 118,
                "unit": "g/L",
                "lln": 130,
                "uln": 175,
                "date": "2026-06-25",
            },
            {
                "code": "ALB",
                "value": 3.6,
                "unit": "g/dL",
                "lln": 3.5,
                "uln": 5.2,
                "date": "2026-06-25",
            },
            {"code": "ALT", "value": 64, "unit": "U/L", "uln": 40, "date": "2026-06-25"},
            {"code": "AST", "value": 80, "unit": "U/L", "uln": 40, "date": "2026-06-25"},
            {"code": "BILI", "value": 1.1, "unit": "mg/dL", "uln": 1.2, "date": "2026-06-25"},
            {
                "code": "WBC",
                "value": 4.8,
                "unit": "10^9/L",
                "lln": 4.0,
                "uln": 10,
                "date": "2026-06-25",
            },
            {"code": "CREAT", "value": 1.0, "unit": "mg/dL", "uln": 1.2, "date": "2026-06-25"},
            {"code": "INR", "value": 1.1, "unit": "ratio", "date": "2026-06-25"},
        ],
        "therapies": [
            {
                "category": "targeted_therapy",
                "name": "sorafenib",
                "start": "2025-09-01",
                "end": "2026-04-30",
            },
        ],
        "conditions": [{"name": "hbv_active", "onset": "2009-06", "ongoing": True}],
        "judgements": {},
    }
    for key, value in overrides.items():
        record[key] = value
    return record


@pytest.fixture
def criteria() -> list[Criterion]:
    return make_criteria()


def read(obj: dict[str, Any], today: date = TODAY) -> Any:
    return record_from_dict(obj, today=today)
