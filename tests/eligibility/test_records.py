"""Patient JSON records: bad input is reported with where it is and never ends in 'eligible'."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hcctrial.eligibility import read_patients, screen_patient
from hcctrial.errors import InputError

from .conftest import AS_OF, TODAY, full_record, make_criteria, read


def _decide(obj: dict[str, Any]) -> Any:
    rec = read({**obj, "judgements": {"EX-J": False}})
    return screen_patient("TEST", rec, AS_OF, criteria=make_criteria(), lookback_days=14)


def test_clean_record_has_no_problems() -> None:
    assert read(full_record()).problems == []
    assert _decide(full_record()).decision == "eligible"


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        ({"age": 300, "birth_date": None}, "age", "impossible value"),
        ({"birth_date": "1820-01-01"}, "birth_date", "impossible birth date"),
        ({"birth_date": "2027-01-01"}, "birth_date", "date in the future"),
        (
            {"findings": {**full_record()["findings"], "measurable_lesions": -1}},
            "findings.measurable_lesions",
            "impossible value",
        ),
        (
            {"findings": {**full_record()["findings"], "ecog": 7}},
            "findings.ecog",
            "impossible value",
        ),
        (
            {"findings": {**full_record()["findings"], "bclc_stage": "E"}},
            "findings.bclc_stage",
            "not an allowed value",
        ),
        (
            {"findings": {**full_record()["findings"], "pregnant": "maybe"}},
            "findings.pregnant",
            "not true/false",
        ),
        ({"sex": "X"}, "sex", "not an allowed value"),
    ],
)
def test_impossible_values_are_reported_and_block_eligibility(
    change: dict[str, Any], column: str, message: str
) -> None:
    rec = read(full_record(**change))
    problem = next(p for p in rec.problems if p.column == column)
    assert message in problem.message and problem.subject == "P-OK"
    assert _decide(full_record(**change)).decision in ("incomplete", "ineligible")
    assert _decide(full_record(**change)).decision != "eligible"


def test_future_lab_date_and_negative_value() -> None:
    labs = full_record()["labs"] + [
        {"code": "AFP", "value": 12, "unit": "ng/mL", "date": "2027-03-01"},
        {"code": "PLT", "value": -5, "unit": "10^9/L", "date": "2026-06-29"},
    ]
    rec = read(full_record(labs=labs))
    columns = {p.column: p.message for p in rec.problems}
    assert columns["labs[9].date"] == "date in the future"
    assert columns["labs[10].value"] == "negative lab value"
    d = _decide(full_record(labs=labs))
    assert d.decision == "incomplete"
    assert "negative value" in next(r for r in d.results if r.criterion.id == "IN-PLT").reason


def test_unknown_lab_code_and_unit_typo() -> None:
    labs = full_record()["labs"] + [
        {"code": "PLTX", "value": 5, "unit": "10^9/L", "date": "2026-06-29"}
    ]
    labs[0] = {**labs[0], "unit": "10^9/LL"}
    rec = read(full_record(labs=labs))
    columns = {p.column for p in rec.problems}
    assert {"labs[9].code", "labs[0].unit"} <= columns


def test_unknown_field_is_reported() -> None:
    rec = read({**full_record(), "ecog": 1})
    assert any(p.column == "ecog" and p.message == "unknown field" for p in rec.problems)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "patients.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jsonl_with_duplicates_and_a_broken_line(tmp_path: Path) -> None:
    ok = json.dumps(full_record())
    other = json.dumps(full_record(id="P-2"))
    path = _write(tmp_path, [ok, other, "{not json", ok])
    records = read_patients(path, today=TODAY)
    assert [r.id for r in records] == ["P-OK", "P-2", "line 3", "P-OK"]
    assert records[2].problems[0].row == 3 and "not valid JSON" in records[2].problems[0].message
    dup = [p for p in records[0].problems if "duplicate person id" in p.message]
    assert dup and dup[0].subject == "P-OK"
    decisions = [
        screen_patient("TEST", r, AS_OF, criteria=make_criteria(), lookback_days=14)
        for r in records
    ]
    assert [d.decision for d in decisions] == [
        "incomplete",
        "incomplete",
        "incomplete",
        "incomplete",
    ]
    assert decisions[0].detail.startswith("record problem: duplicate person id")
    assert decisions[1].detail.startswith("eligible pending")


def test_json_array_and_single_object(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(full_record(), indent=2))
    assert [r.id for r in read_patients(path, today=TODAY)] == ["P-OK"]
    path.write_text(json.dumps([full_record(), full_record(id="B")]))
    assert [r.id for r in read_patients(path, today=TODAY)] == ["P-OK", "B"]


def test_unreadable_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read patient file"):
        read_patients(tmp_path / "missing.jsonl")
    empty = _write(tmp_path, [""])
    with pytest.raises(InputError, match="no patient records"):
        read_patients(empty)


def test_partial_dates_follow_first_rule() -> None:
    rec = read(full_record(conditions=[{"name": "hbv_active", "onset": "2009-06"}]))
    assert rec.conditions is not None and rec.conditions[0].onset == date(2009, 6, 1)
