"""The one-patient evaluator: hand-built patients with hand-computed expectations."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hcctrial.eligibility import screen_patient, screening_log
from hcctrial.eligibility.evaluate import PatientDecision

from .conftest import AS_OF, full_record, make_criteria, read


def _screen(
    obj: dict[str, Any], criteria: Any = None, lookback: int = 14, as_of: date = AS_OF
) -> PatientDecision:
    return screen_patient(
        "TEST", read(obj), as_of, criteria=criteria or make_criteria(), lookback_days=lookback
    )


def _result(decision: PatientDecision, cid: str) -> Any:
    return next(r for r in decision.results if r.criterion.id == cid)


def _with_lab(code: str, **changes: Any) -> list[dict[str, Any]]:
    labs = [dict(lab) for lab in full_record()["labs"]]
    for lab in labs:
        if lab["code"] == code:
            lab.update(changes)
    return [lab for lab in labs if lab.get("value", 0) is not None]


def _without_lab(code: str) -> list[dict[str, Any]]:
    return [lab for lab in full_record()["labs"] if lab["code"] != code]


# 1. a complete patient who meets everything still waits for the investigator
def test_complete_patient_is_eligible_pending_investigator_judgement() -> None:
    d = _screen(full_record())
    assert d.decision == "incomplete"
    assert d.detail == "eligible pending investigator judgement (EX-J)"
    assert [r.effect for r in d.results].count("passes") == len(d.results) - 1


# 2-3. the investigator's decision on the record closes the judgement criterion
def test_recorded_judgement_decides() -> None:
    assert _screen(full_record(judgements={"EX-J": False})).decision == "eligible"
    d = _screen(full_record(judgements={"EX-J": True}))
    assert d.decision == "ineligible" and d.detail == "fails EX-J"


# 4. hand-computed values: age 65, Child-Pugh 5 A, CrCl (140-65) x 72 / (72 x 1.0) = 75
def test_derived_values_by_hand() -> None:
    d = _screen(full_record())
    age = _result(d, "IN-AGE").values[0]
    assert age.value == 65
    cp = _result(d, "IN-CP").values[-1]
    assert cp.value == 5  # bili 18.8 umol/L, alb 36 g/L, INR 1.1, none, none: 1+1+1+1+1
    assert _result(d, "IN-CPC").values[-1].value == "A"
    crcl = _result(d, "IN-CRCL").values[-1]
    assert crcl.item == "crcl()" and crcl.value == pytest.approx(75.0)


# 5. unit conversion is shown: Hb 118 g/L is 11.8 g/dL
def test_conversion_is_explained() -> None:
    used = _result(_screen(full_record()), "IN-HGB").values[0]
    assert used.value == pytest.approx(11.8)
    assert used.unit == "g/dL" and used.original == "118 g/L"
    assert used.date == date(2026, 6, 25)
    assert "g/dL" in (used.conversion or "")


# 6-7. a result older than the look-back window is unknown, never silently used
def test_stale_lab_is_unknown_with_reason() -> None:
    rec = full_record(labs=_with_lab("PLT", date="2026-06-01"))
    r = _result(_screen(rec), "IN-PLT")
    assert r.status == "unknown"
    assert "29 days old" in (r.reason or "") and "14-day look-back" in (r.reason or "")
    assert _result(_screen(rec, lookback=30), "IN-PLT").status == "met"


def test_stale_latest_is_not_replaced_by_an_older_value() -> None:
    labs = [
        *_with_lab("PLT", date="2026-05-01"),
        {"code": "PLT", "value": 30, "unit": "10^9/L", "date": "2026-04-01"},
    ]
    assert _result(_screen(full_record(labs=labs)), "IN-PLT").status == "unknown"


def test_most_recent_value_wins() -> None:
    labs = [
        *_with_lab("PLT", value=40, date="2026-06-20"),
        {"code": "PLT", "value": 150, "unit": "10^9/L", "date": "2026-06-28"},
    ]
    r = _result(_screen(full_record(labs=labs)), "IN-PLT")
    assert r.status == "met" and r.values[0].value == 150


# 8. a missing lab
def test_missing_lab_is_unknown() -> None:
    d = _screen(full_record(labs=_without_lab("PLT")))
    assert _result(d, "IN-PLT").reason == "no PLT result"
    assert d.decision == "incomplete" and "IN-PLT (no PLT result)" in d.detail


# 9-10. unknown units and units that do not fit the test: unknown + reported problem
@pytest.mark.parametrize("unit", ["mg/dLL", "g/L"])
def test_bad_unit_is_unknown_and_reported(unit: str) -> None:
    d = _screen(full_record(labs=_with_lab("PLT", unit=unit)))
    r = _result(d, "IN-PLT")
    assert r.status == "unknown" and "unit" in (r.reason or "")
    assert any("labs[0].unit" in p for p in d.problems)
    assert d.decision == "incomplete"


# 11. xuln needs the ULN of the same record
def test_xuln_without_uln() -> None:
    r = _result(_screen(full_record(labs=_with_lab("ALT", uln=None))), "IN-ALT")
    assert r.status == "unknown" and "no ULN" in (r.reason or "")


def test_xuln_value() -> None:
    used = _result(_screen(full_record()), "IN-ALT").values[0]
    assert used.value == pytest.approx(1.6)  # 64 / 40


# 12. one failed criterion makes the patient ineligible even when others are unknown
def test_fail_beats_unknown() -> None:
    labs = [lab for lab in _with_lab("PLT", value=40) if lab["code"] != "HGB"]
    d = _screen(full_record(labs=labs))
    assert d.decision == "ineligible" and d.detail == "fails IN-PLT"
    assert _result(d, "IN-HGB").status == "unknown"


# 13. Cockcroft-Gault worked example (Cockcroft & Gault 1976; hcctrial.clinical docstring):
# 60 y, 72 kg, SCr 1.0 mg/dL -> 80 mL/min; female x 0.85 -> 68; SCr 88.4 umol/L = 1.0 mg/dL
@pytest.mark.parametrize(
    ("sex", "creat", "unit", "expected"),
    [("M", 1.0, "mg/dL", 80.0), ("F", 1.0, "mg/dL", 68.0), ("M", 88.4, "umol/L", 80.0)],
)
def test_crcl_worked_example(sex: str, creat: float, unit: str, expected: float) -> None:
    rec = full_record(
        sex=sex,
        birth_date="1966-06-30",
        weight_kg=72,
        labs=_with_lab("CREAT", value=creat, unit=unit),
    )
    used = _result(_screen(rec), "IN-CRCL").values[-1]
    assert used.value == pytest.approx(expected, rel=1e-3)


# 14. Child-Pugh derived from labs: Pugh 1973 table, worked example of hcctrial.clinical:
# bilirubin 40 umol/L (2), albumin 30 g/L (2), INR 1.8 (2), mild ascites (2), grade 1-2 (2) = 10 C
def test_child_pugh_derived_from_labs() -> None:
    labs = [lab for lab in full_record()["labs"] if lab["code"] not in ("BILI", "ALB", "INR")]
    labs += [
        {"code": "BILI", "value": 40, "unit": "umol/L", "uln": 21, "date": "2026-06-25"},
        {"code": "ALB", "value": 30, "unit": "g/L", "date": "2026-06-25"},
        {"code": "INR", "value": 1.8, "unit": "ratio", "date": "2026-06-25"},
    ]
    findings = {**full_record()["findings"], "ascites": "mild", "encephalopathy": "grade 1-2"}
    d = _screen(full_record(labs=labs, findings=findings))
    assert _result(d, "IN-CP").values[-1].value == 10
    assert _result(d, "IN-CPC").values[-1].value == "C"
    assert d.decision == "ineligible"


def test_child_pugh_needs_its_findings() -> None:
    findings = {k: v for k, v in full_record()["findings"].items() if k != "ascites"}
    r = _result(_screen(full_record(findings=findings)), "IN-CP")
    assert r.status == "unknown" and "ascites" in (r.reason or "")


# 15. ECOG from KPS when ECOG is absent (KPS 80 -> ECOG 1, conventional table)
def test_ecog_from_kps() -> None:
    findings = {k: v for k, v in full_record()["findings"].items() if k != "ecog"}
    used = _result(_screen(full_record(findings=findings)), "IN-ECOG").values[0]
    assert used.value == 1 and used.original == "KPS 80"


# 16-18. washouts: days, calendar months, never, ongoing
def test_washout_within_14_days() -> None:
    therapies = [{"category": "chemotherapy", "start": "2026-06-01", "end": "2026-06-20"}]
    d = _screen(full_record(therapies=therapies))
    assert _result(d, "EX-WASH").status == "met" and d.decision == "ineligible"


def test_ongoing_therapy_counts_as_today() -> None:
    therapies = [{"category": "targeted_therapy", "start": "2026-01-01", "ongoing": True}]
    r = _result(_screen(full_record(therapies=therapies)), "EX-WASH")
    assert r.status == "met" and r.values[0].date == AS_OF


@pytest.mark.parametrize(("day", "within"), [("2026-03-30", True), ("2026-03-29", False)])
def test_within_months_is_calendar(day: str, within: bool) -> None:
    therapies = [{"category": "investigational_agent", "start": day}]
    r = _result(_screen(full_record(therapies=therapies)), "EX-INV")
    assert r.status == ("met" if within else "not met")


def test_never_is_long_ago_and_tace_28_days() -> None:
    therapies = [{"category": "interventional_therapy", "name": "TACE", "start": "2026-06-10"}]
    d = _screen(full_record(therapies=therapies))
    assert _result(d, "EX-CELL").status == "not met"  # never had cell therapy
    tace = _result(d, "EX-TACE")
    assert tace.status == "met" and tace.values[0].value == 20


def test_history_not_collected_is_unknown() -> None:
    rec = full_record()
    del rec["therapies"]
    r = _result(_screen(rec), "EX-WASH")
    assert r.status == "unknown" and r.reason == "therapy history not recorded"


# 19-20. history vs active, and events by onset date
def test_history_and_active() -> None:
    conditions = [
        {"name": "hepatic_encephalopathy", "onset": "2019-01-10", "end": "2019-02-01"},
        {"name": "hiv", "onset": "2010-01-01", "ongoing": False},
        {"name": "myocardial_infarction", "onset": "2026-02-01"},
    ]
    d = _screen(full_record(conditions=conditions))
    assert _result(d, "EX-HE").status == "met"  # history, though resolved
    assert _result(d, "EX-HIV").status == "not met"  # not active
    assert _result(d, "EX-MI").status == "met"  # within 6 calendar months


def test_screening_log_has_one_row_per_patient_and_criterion() -> None:
    decisions = [_screen(full_record()), _screen(full_record(id="P2", labs=_without_lab("PLT")))]
    log = screening_log(decisions)
    assert log.height == 2 * len(make_criteria())
    row = log.filter((log["USUBJID"] == "P-OK") & (log["CRITID"] == "IN-HGB")).row(0, named=True)
    assert row["STATUS"] == "met" and row["EFFECT"] == "passes"
    assert "11.8 g/dL on 2026-06-25 (from 118 g/L" in row["VALUES"]
    assert ">= 9: true" in row["COMPARISONS"]
    missing = log.filter((log["USUBJID"] == "P2") & (log["CRITID"] == "IN-PLT")).row(0, named=True)
    assert missing["REASON"] == "no PLT result" and missing["DECISION"] == "incomplete"
