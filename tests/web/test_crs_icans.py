"""Daily CRS/ICANS observations: the form's fields are the safety engine's inputs, its edit
checks (temperature with unit, ICE 0-10, controlled lists, dates against consent and death) and
one observation per subject and day."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.safety.crs import CRS_FIELDS, O2_DEVICES
from hcctrial.safety.icans import ICANS_FIELDS, ICP_GRADES, LOC_GRADES, MOTOR_GRADES, SEIZURE_GRADES
from hcctrial.web.checks import CRS_ICANS_DOMAIN, CrsIcansForm, fahrenheit_to_celsius

from .conftest import Env, move

DAY1 = {
    "FADTC": "2026-01-08",
    "TEMP": 38.6,
    "TEMPU": "C",
    "HYPOTN": "Y",
    "VASOPN": 0,
    "O2DEV": "nasal-cannula",
    "O2FLOW": 2,
    "ICE": 8,
    "LOC": "alert",
}


def _post(env: Env, body: dict[str, Any], user: str = "coordinator"):  # type: ignore[no-untyped-def]
    return env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/records/{CRS_ICANS_DOMAIN}",
        headers=env.headers(user),
        json=body,
    )


def _errors(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    return {".".join(map(str, d["loc"][1:])): d["msg"] for d in r.json()["detail"]}


def _choices(name: str) -> set[str]:
    annotation = CrsIcansForm.model_fields[name].annotation
    literal = next(a for a in typing.get_args(annotation) if a is not type(None))
    return set(typing.get_args(literal))


def test_the_form_carries_every_input_of_the_grading_engine() -> None:
    fields = set(CrsIcansForm.model_fields)
    assert set(CRS_FIELDS) | set(ICANS_FIELDS) <= fields
    # The controlled lists are the engine's, so a saved value always grades.
    assert _choices("O2DEV") == set(O2_DEVICES)
    assert _choices("LOC") == set(LOC_GRADES)
    assert _choices("SEIZURE") == set(SEIZURE_GRADES)
    assert _choices("MOTOR") == set(MOTOR_GRADES)
    assert _choices("ICP") == set(ICP_GRADES)


def test_an_observation_is_saved_and_listed(env: Env) -> None:
    r = _post(env, {**DAY1, "O2DEV": "Nasal cannula"})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["O2DEV"] == "nasal-cannula"
    assert data["TEMP"] == 38.6 and data["ICE"] == 8
    listed = env.client.get(
        f"/api/subjects/{env.ids['subject_A']}/records?domain={CRS_ICANS_DOMAIN}",
        headers=env.headers("monitor"),
    )
    assert [rec["data"]["FADTC"] for rec in listed.json()] == ["2026-01-08"]


def test_edit_checks_give_one_message_per_field(env: Env) -> None:
    r = _post(
        env,
        {
            "FADTC": "2026-01",
            "TEMP": 101.3,
            "ICE": 11,
            "O2DEV": "oxygen tent",
            "LOC": "drowsy",
            "HYPOTN": "maybe",
        },
    )
    errors = _errors(r)
    # Type errors (FastAPI/pydantic) and range errors (the edit checks) in the same answer:
    # the temperature's range is not left for a second round after the others are mended.
    assert set(errors) == {"FADTC", "ICE", "O2DEV", "LOC", "HYPOTN", "TEMP"}
    assert errors["TEMP"] == "outside 30-45 C: check the value and unit"
    assert "10" in errors["ICE"]
    assert "nasal-cannula" in errors["O2DEV"]
    assert "10 characters" in errors["FADTC"]
    # A Fahrenheit reading entered as Celsius: outside the plausible range, the unit named.
    errors = _errors(_post(env, {**DAY1, "TEMP": 101.3}))
    assert errors == {"TEMP": "outside 30-45 C: check the value and unit"}
    errors = _errors(_post(env, {**DAY1, "FADTC": "2026-02-30"}))
    assert errors == {"FADTC": "not an ISO 8601 date (YYYY-MM-DD)"}


def test_a_fahrenheit_temperature_is_checked_in_its_unit(env: Env) -> None:
    assert _post(env, {**DAY1, "TEMP": 101.3, "TEMPU": "f"}).status_code == 201
    errors = _errors(_post(env, {**DAY1, "FADTC": "2026-01-09", "TEMP": 38.6, "TEMPU": "F"}))
    assert "86-113 F" in errors["TEMP"]


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-100, max_value=300, allow_nan=False))
def test_fahrenheit_and_celsius_limits_agree(value: float) -> None:
    # A reading inside 86-113 F is inside 30-45 C and the other way round.
    celsius = fahrenheit_to_celsius(value)
    inside_f = 86.0 <= value <= 113.0
    assert inside_f == (30.0 - 1e-9 <= celsius <= 45.0 + 1e-9)


def test_a_second_observation_of_the_same_day_is_refused(env: Env) -> None:
    first = _post(env, DAY1)
    assert first.status_code == 201
    errors = _errors(_post(env, {**DAY1, "FADTC": "2026-01-08T18:00", "TEMP": 39.0}))
    assert f"record {first.json()['id']}" in errors["FADTC"]
    assert "2026-01-08" in errors["FADTC"]
    # The next day is a new observation; changing the first one keeps its own day.
    assert _post(env, {**DAY1, "FADTC": "2026-01-09"}).status_code == 201
    r = env.client.put(
        f"/api/records/{first.json()['id']}",
        headers=env.headers("coordinator"),
        json={"data": {**DAY1, "TEMP": 38.9}, "reason": "transcription", "version": 1},
    )
    assert r.status_code == 200, r.text


def test_a_deleted_observation_frees_its_day(env: Env) -> None:
    first = _post(env, DAY1).json()
    r = env.client.post(
        f"/api/records/{first['id']}/delete",
        headers=env.headers("coordinator"),
        json={"reason": "wrong subject"},
    )
    assert r.status_code == 200, r.text
    assert _post(env, DAY1).status_code == 201


def test_dates_before_consent_or_after_death_are_refused(env: Env) -> None:
    subject = env.ids["subject_A"]
    assert move(env, subject, "consented", "2026-01-07").status_code == 200
    errors = _errors(_post(env, {**DAY1, "FADTC": "2026-01-06"}))
    assert errors["FADTC"] == "before consent (2026-01-07)"
    assert _post(env, {**DAY1, "FADTC": "2026-01-07"}).status_code == 201
    r = move(env, subject, "died", "2026-01-10")
    assert r.status_code == 200, r.text
    errors = _errors(_post(env, {**DAY1, "FADTC": "2026-01-11"}))
    assert errors["FADTC"] == "after death (2026-01-10)"


@pytest.mark.parametrize("value", ["Y", "N"])
def test_flags_are_y_or_n(env: Env, value: str) -> None:
    assert _post(env, {**DAY1, "ANTICYT": value}).status_code == 201
