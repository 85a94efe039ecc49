"""FHIR R4 Bundles and SDTM domains become the same patient records as the JSON form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from hcctrial.eligibility import read_fhir, records_from_bundle, records_from_sdtm, screen_patient
from hcctrial.errors import InputError

from .conftest import AS_OF, TODAY, make_criteria

LOINC = "http://loinc.org"


def _obs(
    oid: str,
    code: str,
    value: float,
    unit: str,
    day: str,
    high: float | None = None,
    system: str = LOINC,
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": day,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }
    if high is not None:
        obs["referenceRange"] = [{"high": {"value": high}}]
    return obs


def _bundle() -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1966-06-30"},
        _obs("o1", "777-3", 132, "10*9/L", "2026-06-25"),
        _obs("o2", "718-7", 11.8, "g/dL", "2026-06-25"),
        _obs("o3", "1742-6", 64, "U/L", "2026-06-25", high=40),
        _obs("o4", "2160-0", 1.0, "mg/dL", "2026-06-25", high=1.2),
        _obs("o5", "29463-7", 72, "kg", "2026-06-20"),
        {
            "resourceType": "Observation",
            "id": "o6",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "89247-1"}]},
            "subject": {"reference": "Patient/p1"},
            "valueInteger": 1,
        },
        {
            "resourceType": "Observation",
            "id": "o7",
            "status": "final",
            "code": {"coding": [{"system": "urn:hcctrial:vocabulary", "code": "bclc_stage"}]},
            "subject": {"reference": "Patient/p1"},
            "valueString": "C",
        },
        {
            "resourceType": "Observation",
            "id": "o8",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "5196-1"}]},
            "subject": {"reference": "Patient/p1"},
            "valueCodeableConcept": {"text": "Positive"},
        },
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "13920009"}]},
            "onsetDateTime": "2020-05-01",
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "m1",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"text": "sorafenib"},
            "category": {
                "coding": [{"system": "urn:hcctrial:category", "code": "targeted_therapy"}]
            },
            "effectivePeriod": {"start": "2025-09-01", "end": "2026-06-20"},
        },
        {
            "resourceType": "Procedure",
            "id": "pr1",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "TACE"},
            "category": {
                "coding": [{"system": "urn:hcctrial:category", "code": "interventional_therapy"}]
            },
            "performedDateTime": "2026-01-10",
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in entries],
    }


def test_bundle_maps_every_resource_kind() -> None:
    (rec,) = records_from_bundle(_bundle(), today=TODAY)
    assert rec.id == "p1" and rec.sex == "F" and str(rec.birth_date) == "1966-06-30"
    assert {lab.code for lab in rec.labs} == {"PLT", "HGB", "ALT", "CREAT"}
    alt = next(lab for lab in rec.labs if lab.code == "ALT")
    assert alt.uln == 40 and alt.unit == "U/L"
    assert rec.weight_kg == 72
    assert rec.findings == {"ecog": 1, "bclc_stage": "C", "hbsag_positive": True}
    assert rec.conditions is not None and rec.conditions[0].name == "hepatic_encephalopathy"
    assert rec.conditions[0].ongoing is False
    assert rec.therapies is not None
    assert {t.category for t in rec.therapies} == {"targeted_therapy", "interventional_therapy"}
    assert rec.problems == []


def test_bundle_screens_like_json() -> None:
    """CrCl for the FHIR patient: female, 60 y, 72 kg, SCr 1.0 mg/dL -> 80 x 0.85 = 68 mL/min
    (Cockcroft & Gault 1976); sorafenib ended 10 days before -> washout not met."""
    (rec,) = records_from_bundle(_bundle(), today=TODAY)
    d = screen_patient("TEST", rec, AS_OF, criteria=make_criteria(), lookback_days=14)
    by_id = {r.criterion.id: r for r in d.results}
    assert by_id["IN-CRCL"].values[-1].value == pytest.approx(68.0, rel=1e-3)
    assert by_id["EX-WASH"].status == "met"
    assert by_id["EX-HE"].status == "met"  # history of encephalopathy, resolved
    assert d.decision == "ineligible"


def test_unmapped_resources_are_problems_not_silence() -> None:
    bundle = _bundle()
    bundle["entry"].append({"resource": _obs("o9", "99999-9", 1, "mg/dL", "2026-06-25")})
    (rec,) = records_from_bundle(bundle, today=TODAY)
    assert any("no mapped code" in p.message for p in rec.problems)


def test_duplicate_patient_and_invalid_bundle(tmp_path: Path) -> None:
    bundle = _bundle()
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": "p1"}})
    (rec,) = records_from_bundle(bundle, today=TODAY)
    assert rec.invalid["record"].startswith("duplicate person")
    with pytest.raises(InputError, match="not a valid FHIR R4 Bundle"):
        records_from_bundle({"resourceType": "Bundle", "type": "collection", "entry": 5})
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_bundle()))
    assert [r.id for r in read_fhir(path, today=TODAY)] == ["p1"]


def _sdtm() -> dict[str, pl.DataFrame]:
    return {
        "DM": pl.DataFrame(
            {
                "USUBJID": ["S-1", "S-2"],
                "SEX": ["M", "F"],
                "BRTHDTC": ["1961-04-02", "1955-01"],
                "AGE": [65, 71],
            }
        ),
        "LB": pl.DataFrame(
            {
                "USUBJID": ["S-1", "S-1", "S-2"],
                "LBTESTCD": ["PLT", "ALT", "PLT"],
                "LBSTRESN": [132.0, 64.0, 45.0],
                "LBSTRESU": ["10^9/L", "U/L", "10^9/L"],
                "LBSTNRHI": [350.0, 40.0, 350.0],
                "LBSTNRLO": [125.0, None, 125.0],
                "LBDTC": ["2026-06-25", "2026-06-25T08:30", "2026-06-26"],
            }
        ),
        "VS": pl.DataFrame(
            {
                "USUBJID": ["S-1"],
                "VSTESTCD": ["WEIGHT"],
                "VSSTRESN": [72.0],
                "VSDTC": ["2026-06-20"],
            }
        ),
        "QS": pl.DataFrame(
            {
                "USUBJID": ["S-1", "S-2"],
                "QSTESTCD": ["ECOG101", "KPS101"],
                "QSSTRESN": [1.0, 70.0],
                "QSDTC": ["2026-06-20", "2026-06-20"],
            }
        ),
        "SC": pl.DataFrame(
            {"USUBJID": ["S-1"], "SCTESTCD": ["BCLC_STAGE"], "SCSTRESC": ["C"], "SCSTRESN": [None]},
            schema_overrides={"SCSTRESN": pl.Float64},
        ),
        "MH": pl.DataFrame(
            {
                "USUBJID": ["S-2"],
                "MHDECOD": ["Hepatic encephalopathy"],
                "MHSTDTC": ["2021-03"],
                "MHENDTC": [None],
                "MHENRF": [None],
            }
        ),
        "CM": pl.DataFrame(
            {
                "USUBJID": ["S-1"],
                "CMDECOD": ["SORAFENIB"],
                "CMCAT": [None],
                "CMSTDTC": ["2025-09-01"],
                "CMENDTC": ["2026-04-30"],
                "CMENRF": [None],
            }
        ),
        "PR": pl.DataFrame(
            {"USUBJID": ["S-2"], "PRTRT": ["TACE"], "PRSTDTC": ["2026-06-20"], "PRENDTC": [None]}
        ),
    }


def test_sdtm_domains_to_records() -> None:
    s1, s2 = records_from_sdtm(_sdtm(), today=TODAY)
    assert s1.id == "S-1" and s1.weight_kg == 72 and s1.findings["ecog"] == 1
    assert s1.findings["bclc_stage"] == "C"
    assert s1.therapies is not None and s1.therapies[0].category == "targeted_therapy"
    assert s1.conditions == []  # CM rows make the history 'collected'
    assert s2.findings["kps"] == 70
    assert s2.conditions is not None and s2.conditions[0].name == "hepatic_encephalopathy"
    assert s2.therapies is not None and s2.therapies[0].category == "interventional_therapy"
    d2 = screen_patient("TEST", s2, AS_OF, criteria=make_criteria(), lookback_days=14)
    by_id = {r.criterion.id: r for r in d2.results}
    assert by_id["IN-ECOG"].values[0].value == 1  # KPS 70 -> ECOG 1
    assert by_id["IN-PLT"].status == "not met"  # 45 < 60
    assert by_id["EX-TACE"].status == "met"  # TACE 10 days before


def test_sdtm_needs_dm() -> None:
    with pytest.raises(InputError, match="DM"):
        records_from_sdtm({"LB": pl.DataFrame({"USUBJID": ["x"]})})


def test_sdtm_duplicate_subject_and_bad_value() -> None:
    data = _sdtm()
    data["DM"] = pl.concat([data["DM"], data["DM"].head(1)])
    data["LB"] = (
        data["LB"]
        .with_columns(pl.col("LBSTRESN").cast(pl.Utf8))
        .with_columns(
            pl.when(pl.col("LBTESTCD") == "ALT")
            .then(pl.lit("high"))
            .otherwise(pl.col("LBSTRESN"))
            .alias("LBSTRESN")
        )
    )
    records = records_from_sdtm(data, today=TODAY)
    assert sum(1 for r in records if r.invalid.get("record") == "duplicate person id") == 2
    assert any(p.column == "labs[1].value" and p.value == "high" for p in records[0].problems)
