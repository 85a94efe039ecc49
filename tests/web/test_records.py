"""Clinical records: entry with edit checks (422 with a message per field), edit with reason,
optimistic locking, deletion, lock and sign, and the visit-window check that opens a query."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from hcctrial.web.db import AuditEntry, Query

from .conftest import PASSWORD, Env, move, randomize_new

LAB = {
    "LBTESTCD": "BILI",
    "LBORRES": 1.2,
    "LBORRESU": "mg/dL",
    "LBORNRLO": 0.2,
    "LBORNRHI": 1.2,
    "LBDTC": "2026-01-06",
    "VISIT": "Screening",
}
AE = {
    "AETERM": "Fever",
    "AEDECOD": "Fever",
    "AETOXGR": "2",
    "AESER": "N",
    "AESTDTC": "2026-01-07",
    "AEENDTC": "2026-01-09",
}
LESION = {
    "TULNKID": "T01",
    "TUSTRESC": "TARGET",
    "TULOC": "LIVER",
    "TUMETHOD": "MRI",
    "TUDTC": "2026-01-06",
    "VISIT": "Screening",
}
MEASURE = {
    "TRGRPID": "TARGET",
    "TRLNKID": "T01",
    "TRTESTCD": "LDIAM",
    "TRORRES": "52",
    "TRSTRESN": 52,
    "TRSTRESU": "mm",
    "TRDTC": "2026-01-06",
    "VISIT": "Screening",
}


def _post(
    env: Env,
    domain: str,
    body: dict[str, Any],
    user: str = "coordinator",
    subject: str = "subject_A",
):  # type: ignore[no-untyped-def]
    return env.client.post(
        f"/api/subjects/{env.ids[subject]}/records/{domain}", headers=env.headers(user), json=body
    )


def _errors(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    return {".".join(map(str, d["loc"][1:])): d["msg"] for d in r.json()["detail"]}


def test_a_lab_is_saved_with_standard_units(env: Env) -> None:
    r = _post(env, "LB", LAB)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["LBSTRESU"] == "umol/L"
    assert data["LBSTRESN"] == pytest.approx(1.2 * 17.1, rel=1e-3)  # bilirubin mg/dL -> umol/L
    assert data["LBSTNRHI"] == pytest.approx(1.2 * 17.1, rel=1e-3)
    listed = env.client.get(
        f"/api/subjects/{env.ids['subject_A']}/records?domain=lb",
        headers=env.headers("monitor"),
    ).json()
    assert [x["id"] for x in listed] == [r.json()["id"]]


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"LBORRES": -3}, {"LBORRES": "cannot be negative"}),
        ({"LBORRESU": "mmHg"}, {"LBORRESU": "does not fit"}),
        ({"LBORRESU": None}, {"LBORRESU": "unit required for BILI"}),
        ({"LBORNRLO": 5}, {"LBORNRLO": "lower limit above upper"}),
        ({"LBDTC": "2026-13-01"}, {"LBDTC": "not an ISO 8601 date"}),
        ({"LBDTC": "2999-01-01"}, {"LBDTC": "in the future"}),
        ({"LBDTC": "1950-01-01"}, {"LBDTC": "before birth"}),
        ({"LBORRES": "high"}, {"LBORRES": "not a number"}),
        ({"LBTESTCD": "bili!"}, {"LBTESTCD": "pattern"}),
        ({"LBTESTCD": None}, {"LBTESTCD": "required"}),
        ({"COLOUR": "red"}, {"COLOUR": "Extra inputs"}),
        ({"LBORRES": "NaN"}, {"LBORRES": "not a number"}),
        ({"LBORRES": "1e400"}, {"LBORRES": "not a number"}),
        (
            {"LBORRES": -3, "LBDTC": "2026-13-01", "LBORRESU": "mmHg"},
            {"LBORRES": "negative", "LBDTC": "ISO 8601", "LBORRESU": "does not fit"},
        ),
    ],
)
def test_lab_edit_checks(env: Env, change: dict[str, Any], expected: dict[str, str]) -> None:
    body = {k: v for k, v in {**LAB, **change}.items() if v is not None}
    errors = _errors(_post(env, "LB", body))
    for field, text in expected.items():
        assert field in errors, errors
        assert text in errors[field], errors


def test_type_and_edit_check_problems_come_in_one_answer(env: Env) -> None:
    """A lower limit that is not a number (a type error of the form) and a negative result (an
    edit check) are both named, so one correction round mends the entry; so are a CTCAE grade
    out of the list and an end before the start of an AE."""
    errors = _errors(_post(env, "LB", {**LAB, "LBORNRLO": "abc", "LBORRES": -3}))
    assert set(errors) == {"LBORNRLO", "LBORRES"}
    assert "valid number" in errors["LBORNRLO"] and "negative" in errors["LBORRES"]
    errors = _errors(_post(env, "AE", {**AE, "AETOXGR": "6", "AEENDTC": "2026-01-02"}))
    assert set(errors) == {"AETOXGR", "AEENDTC"}
    assert errors["AEENDTC"] == "before the start (2026-01-07)"


def test_a_change_without_reason_names_the_data_problems_too(env: Env) -> None:
    saved = _post(env, "LB", LAB).json()
    r = env.client.put(
        f"/api/records/{saved['id']}",
        headers=env.headers("coordinator"),
        json={"data": {**saved["data"], "LBORRES": -1}, "version": saved["version"]},
    )
    errors = _errors(r)
    assert set(errors) == {"LBORRES", "reason"}
    assert "reason" in errors["reason"] and "21 CFR 11.10(e)" in errors["reason"]


def test_an_adverse_event_with_its_ctcae_grade(env: Env) -> None:
    r = _post(env, "AE", AE)
    assert r.status_code == 201, r.text
    errors = _errors(_post(env, "AE", {**AE, "AETOXGR": "6"}))
    assert "AETOXGR" in errors and "'1', '2', '3', '4' or '5'" in errors["AETOXGR"]
    errors = _errors(_post(env, "AE", {**AE, "AEENDTC": "2026-01-02"}))
    assert errors == {"AEENDTC": "before the start (2026-01-07)"}
    assert "AETERM" in _errors(_post(env, "AE", {**AE, "AETERM": ""}))


def test_lesions_and_their_measurements(env: Env) -> None:
    assert _post(env, "TU", LESION).status_code == 201
    assert _post(env, "TR", MEASURE).status_code == 201
    errors = _errors(_post(env, "TU", {**LESION, "TUSTRESC": "BIG"}))
    assert "TUSTRESC" in errors
    errors = _errors(_post(env, "TR", {**MEASURE, "TRSTRESN": 60, "TRSTRESU": "cm"}))
    assert errors == {"TRSTRESN": "above 500 mm: check the unit"}
    errors = _errors(_post(env, "TR", {**MEASURE, "TRSTRESN": -1}))
    assert errors == {"TRSTRESN": "a diameter cannot be negative"}
    errors = _errors(_post(env, "TR", {**MEASURE, "TRTESTCD": "TUMSTATE", "TRSTRESN": None}))
    assert errors == {"TRSTRESC": "TUMSTATE needs a result text"}


def test_vital_signs_entry_limits(env: Env) -> None:
    ok = {"VSTESTCD": "TEMP", "VSSTRESN": 38.4, "VSDTC": "2026-01-06"}
    assert _post(env, "VS", ok).status_code == 201
    assert _errors(_post(env, "VS", {**ok, "VSSTRESN": 101.2})) == {
        "VSSTRESN": "outside the entry limits 30.0-45.0 C"
    }
    assert _errors(_post(env, "VS", {**ok, "VSSTRESU": "F"})) == {"VSSTRESU": "expected C"}


@pytest.mark.parametrize("body", [[], "text", {"LBTESTCD": {"a": 1}}, {"LBORRES": [1]}, None])
def test_malformed_bodies_are_422_not_500(env: Env, body: Any) -> None:
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/records/LB",
        headers=env.headers("coordinator"),
        json=body,
    )
    assert r.status_code == 422
    assert all("loc" in d and "msg" in d for d in r.json()["detail"])


def test_a_body_sent_as_another_content_type_is_a_422(env: Env) -> None:
    url = f"/api/subjects/{env.ids['subject_A']}/records/LB"
    r = env.client.post(url, headers=env.headers("coordinator"), data={"LBTESTCD": "ALT"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "content-type"]
    r = env.client.post(
        url,
        headers={**env.headers("coordinator"), "content-type": "text/plain"},
        content=json.dumps(LAB),
    )
    assert r.status_code == 422
    r = env.client.post(
        url,
        headers={**env.headers("coordinator"), "content-type": "application/json; charset=utf-8"},
        content=json.dumps(LAB),
    )
    assert r.status_code == 201, r.text


def test_infinity_and_nan_are_refused(env: Env) -> None:
    # Python's JSON reader accepts these non-standard tokens; the forms do not.
    for token in ("Infinity", "NaN", "-Infinity"):
        r = env.client.post(
            f"/api/subjects/{env.ids['subject_A']}/records/LB",
            headers={**env.headers("coordinator"), "content-type": "application/json"},
            content=json.dumps({**LAB, "LBORNRHI": 0}).replace(
                '"LBORNRHI": 0', f'"LBORNRHI": {token}'
            ),
        )
        assert _errors(r).keys() == {"LBORNRHI"}, token


def test_text_the_database_cannot_store_is_refused(env: Env) -> None:
    errors = _errors(_post(env, "AE", {**AE, "AETERM": "Fe\x00ver"}))
    assert any("NUL" in m for m in errors.values())
    r = env.client.get("/api/subjects/1%00", headers=env.headers("coordinator"))
    assert r.status_code == 422
    r = env.client.get("/api/subjects/99999999999999", headers=env.headers("coordinator"))
    assert r.status_code == 422


def _change(
    env: Env,
    record: dict[str, Any],
    data: dict[str, Any],
    reason: str | None,
    user: str = "coordinator",
    version: int | None = None,
):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"data": data, "version": version or record["version"]}
    if reason is not None:
        body["reason"] = reason
    return env.client.put(f"/api/records/{record['id']}", headers=env.headers(user), json=body)


def test_a_change_needs_a_reason_and_keeps_the_old_value(env: Env) -> None:
    saved = _post(env, "LB", LAB).json()
    r = _change(env, saved, {**saved["data"], "LBORRES": 1.4}, None)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = _change(env, saved, {**saved["data"], "LBORRES": 1.4}, "transcription error")
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["version"] == 2 and changed["data"]["LBORRES"] == "1.4"
    assert changed["data"]["LBSTRESN"] == pytest.approx(1.4 * 17.1, rel=1e-3)  # recomputed
    with env.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.table_name == "records", AuditEntry.action == "update"
            )
        ).one()
        changes = json.loads(entry.changes)
        assert changes["data.LBORRES"] == ["1.2", "1.4"]
        assert entry.reason == "transcription error" and entry.user == "coordinator"


def test_a_stale_version_is_a_409_not_a_lost_update(env: Env) -> None:
    saved = _post(env, "LB", LAB).json()
    first = _change(env, saved, {**saved["data"], "LBORRES": 1.3}, "first", version=1)
    assert first.status_code == 200
    second = _change(env, saved, {**saved["data"], "LBORRES": 1.5}, "second", version=1)
    assert second.status_code == 409
    assert second.json()["version"] == 2
    current = env.client.get(
        f"/api/subjects/{env.ids['subject_A']}/records", headers=env.headers("coordinator")
    ).json()[0]
    assert current["data"]["LBORRES"] == "1.3"


def test_edited_data_is_checked_again(env: Env) -> None:
    saved = _post(env, "LB", LAB).json()
    r = _change(env, saved, {**saved["data"], "LBORRESU": "kg"}, "unit")
    assert _errors(r).keys() == {"LBORRESU"}


def test_delete_keeps_the_record_with_its_history(env: Env) -> None:
    saved = _post(env, "AE", AE).json()
    url = f"/api/records/{saved['id']}/delete"
    h = env.headers("coordinator")
    assert env.client.post(url, headers=h, json={}).status_code == 422
    r = env.client.post(url, headers=h, json={"reason": "entered for the wrong subject"})
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert env.client.post(url, headers=h, json={"reason": "again"}).status_code == 422
    assert _change(env, r.json(), AE, "revive").status_code == 422


def test_lock_and_sign(env: Env) -> None:
    saved = _post(env, "LB", LAB).json()
    url = f"/api/records/{saved['id']}/sign"
    body = {"password": PASSWORD, "meaning": "approval"}
    # Only an investigator of the subject's site signs, with the password re-entered.
    assert env.client.post(url, headers=env.headers("coordinator"), json=body).status_code == 403
    assert env.client.post(url, headers=env.headers("investigator_b"), json=body).status_code == 404
    wrong = env.client.post(
        url, headers=env.headers("investigator"), json={**body, "password": "not my password"}
    )
    assert wrong.status_code == 401
    bad = env.client.post(
        url, headers=env.headers("investigator"), json={**body, "meaning": "because"}
    )
    assert bad.status_code == 422
    r = env.client.post(url, headers=env.headers("investigator"), json=body)
    assert r.status_code == 200, r.text
    signed = r.json()
    assert signed["locked"] is True
    assert signed["signed_by"] == "Investigator"  # the printed (full) name
    assert signed["signature_meaning"] == "approval"
    assert signed["signed_at"] is not None
    # Locked: no change, no delete, no second signature.
    assert _change(env, signed, {**LAB, "LBORRES": 9}, "late").status_code == 422
    r = env.client.post(
        f"/api/records/{saved['id']}/delete",
        headers=env.headers("coordinator"),
        json={"reason": "x"},
    )
    assert r.status_code == 422
    assert env.client.post(url, headers=env.headers("investigator"), json=body).status_code == 422
    with env.session() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "records")
            .order_by(AuditEntry.seq.desc())
        ).first()
        assert entry is not None and entry.reason == "signature: approval"
        assert json.loads(entry.changes)["locked"] == [False, True]


def test_wrong_signature_passwords_count_as_failed_logins(env: Env) -> None:
    from hcctrial.web.auth import MAX_FAILURES

    saved = _post(env, "LB", LAB).json()
    url = f"/api/records/{saved['id']}/sign"
    wrong = {"password": "guessing again", "meaning": "approval"}
    for _ in range(MAX_FAILURES):
        assert (
            env.client.post(url, headers=env.headers("investigator"), json=wrong).status_code == 401
        )
    right = {"password": PASSWORD, "meaning": "approval"}
    assert env.client.post(url, headers=env.headers("investigator"), json=right).status_code == 429
    r = env.client.post("/api/login", json={"username": "investigator", "password": PASSWORD})
    assert r.status_code == 429


def test_a_visit_out_of_its_window_opens_a_query(env: Env) -> None:
    sid = env.ids["subject_A"]
    randomize_new(env, sid, date(2026, 1, 6))
    assert move(env, sid, "treated", "2026-01-12").status_code == 200
    calendar = env.client.get(f"/api/subjects/{sid}/calendar", headers=env.headers("monitor"))
    week8 = [v for v in calendar.json()["visits"] if v["VISIT"] == "Week 8"]
    assert week8, calendar.json()
    inside = _post(env, "LB", {**LAB, "VISIT": "Week 8", "LBDTC": "2026-03-09"})
    assert inside.status_code == 201
    late = _post(env, "LB", {**LAB, "VISIT": "Week 8", "LBDTC": "2026-03-20"})
    assert late.status_code == 201  # saved: an out-of-window visit is a deviation, not wrong data
    with env.session() as session:
        queries = session.scalars(select(Query).where(Query.subject_id == sid)).all()
        assert [(q.record_id, q.field, q.origin, q.status) for q in queries] == [
            (late.json()["id"], "LBDTC", "edit_check", "open")
        ]
        assert "outside the Week 8 window (2026-03-06 to 2026-03-12)" in queries[0].text


def test_forms_report_type_errors_and_edit_checks_together() -> None:
    from hcctrial.web.checks import validate_form

    _, problems = validate_form("AE", {**AE, "AETOXGR": "6", "AEENDTC": "2026-01-02"})
    assert [(p.field, p.kind) for p in problems] == [
        ("AETOXGR", "literal_error"),
        ("AEENDTC", "edit_check"),
    ]
    _, problems = validate_form("LB", {**LAB, "LBORRES": "high", "LBDTC": "2026-02-30"})
    assert {p.field for p in problems} == {"LBORRES", "LBDTC"}
