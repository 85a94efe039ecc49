"""Subjects: registration, the state machine with its dates, and the eligibility sign-off from
the screening engine."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from hcctrial.web.db import SubjectEvent
from hcctrial.web.service import TRANSITIONS

from .conftest import Env, findings_payload, move, new_subject, randomize_new, screen_eligible


def test_register_a_screened_subject(env: Env) -> None:
    sid = new_subject(env, "A02", screened_dtc="2026-02-01")
    subject = env.client.get(f"/api/subjects/{sid}", headers=env.headers("coordinator")).json()
    assert subject["usubjid"] == "NCT04011033-A-A02"
    assert subject["state"] == "screened" and subject["arm_code"] is None
    again = env.client.post(
        "/api/subjects",
        headers=env.headers("coordinator"),
        json={
            "site_id": env.ids["site_A"],
            "subjid": "A02",
            "sex": "M",
            "screened_dtc": "2026-02-01",
        },
    )
    assert again.status_code == 422
    assert again.json()["detail"] == [
        {
            "loc": ["body", "subjid"],
            "msg": "subject NCT04011033-A-A02 already exists",
            "type": "edit_check",
        }
    ]


def test_every_registration_problem_comes_in_one_answer(env: Env) -> None:
    """A sex outside SDTM CT, a screening date that does not exist, a birth date in the future
    and a subject number already taken: four fields, one 422."""
    r = env.client.post(
        "/api/subjects",
        headers=env.headers("coordinator"),
        json={
            "site_id": env.ids["site_A"],
            "subjid": "A01",
            "sex": "X",
            "birth_dtc": "2999-01-01",
            "screened_dtc": "2026-02-30",
        },
    )
    assert r.status_code == 422, r.text
    errors = {d["loc"][-1]: d["msg"] for d in r.json()["detail"]}
    assert set(errors) == {"sex", "birth_dtc", "screened_dtc", "subjid"}
    assert errors["screened_dtc"] == "not an ISO 8601 date (YYYY-MM-DD)"
    assert errors["birth_dtc"].startswith("in the future")
    assert errors["subjid"] == "subject NCT04011033-A-A01 already exists"
    for body in ([], "A01", {"site_id": "x"}):
        r = env.client.post("/api/subjects", headers=env.headers("coordinator"), json=body)
        assert r.status_code == 422, (body, r.text)
    r = env.client.post(
        "/api/subjects",
        headers={**env.headers("coordinator"), "content-type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_subjects_are_registered_only_at_the_users_sites(env: Env) -> None:
    r = env.client.post(
        "/api/subjects",
        headers=env.headers("coordinator"),
        json={
            "site_id": env.ids["site_B"],
            "subjid": "B09",
            "sex": "F",
            "screened_dtc": "2026-02-01",
        },
    )
    assert r.status_code == 403


def test_a_subject_through_every_state(env: Env) -> None:
    sid = new_subject(env, "A03", screened_dtc="2026-02-01")
    randomized = randomize_new(env, sid, date(2026, 2, 2))
    assert randomized["state"] == "randomized" and randomized["arm_code"] in ("inkt-tace", "tace")
    steps = [
        ("treated", "2026-02-07", {}),
        ("off_treatment", "2026-03-20", {}),
        ("off_study", "2026-06-01", {"detail": {"dsdecod": "PROGRESSIVE DISEASE"}}),
        ("died", "2026-07", {"detail": {"dsterm": "HEPATOCELLULAR CARCINOMA"}}),
    ]
    for to, day, extra in steps:
        r = move(env, sid, to, day, **extra)
        assert r.status_code == 200, (to, r.text)
    subject = r.json()
    assert subject["state"] == "died"
    assert (subject["consented_dtc"], subject["eligibility_dtc"], subject["enrolled_dtc"]) == (
        "2026-02-02",
        "2026-02-03",
        "2026-02-04",
    )
    assert subject["randomized_dtc"] == "2026-02-05"
    assert subject["first_treatment_dtc"] == "2026-02-07"
    assert subject["off_treatment_dtc"] == "2026-03-20"
    assert subject["off_study_dtc"] == "2026-06-01"
    assert subject["death_dtc"] == "2026-07"  # a partial death date is allowed (SDTM DTHDTC)
    with env.session() as session:
        events = session.scalars(
            select(SubjectEvent).where(SubjectEvent.subject_id == sid).order_by(SubjectEvent.id)
        ).all()
        assert [(e.from_state, e.to_state) for e in events] == [
            (None, "screened"),
            ("screened", "consented"),
            ("consented", "eligible"),
            ("eligible", "enrolled"),
            ("enrolled", "randomized"),
            ("randomized", "treated"),
            ("treated", "off_treatment"),
            ("off_treatment", "off_study"),
            ("off_study", "died"),
        ]
        assert events[2].by_user == "investigator"
        assert events[2].detail["engine_decision"] == "eligible"


@pytest.mark.parametrize(
    "state,to",
    [
        (state, to)
        for to, sources in TRANSITIONS.items()
        for state in ("screened", "consented")
        if state not in sources
    ],
)
def test_transitions_outside_the_state_machine_are_refused(env: Env, state: str, to: str) -> None:
    sid = env.ids["subject_A"]
    if state == "consented":
        assert move(env, sid, "consented", "2026-01-06").status_code == 200
    r = move(env, sid, to, "2026-01-08", "investigator")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "to"]
    assert f"a {state} subject cannot become {to}" in r.json()["detail"][0]["msg"]


def test_unknown_state_is_a_422(env: Env) -> None:
    r = move(env, env.ids["subject_A"], "cured", "2026-01-08")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "to"]


@pytest.mark.parametrize(
    "day,message",
    [
        ("2026-01-05", "before the subject's previous event (2026-01-06)"),
        ("2999-01-01", "in the future"),
        ("2026-02-30", "not an ISO 8601 date"),
        ("2026-02", "not an ISO 8601 date"),
        ("6 Jan 2026", "not an ISO 8601 date"),
    ],
)
def test_transition_dates_are_checked(env: Env, day: str, message: str) -> None:
    sid = env.ids["subject_A"]
    assert move(env, sid, "consented", "2026-01-06").status_code == 200
    r = move(env, sid, "off_study", day, detail={"dsdecod": "WITHDRAWAL BY SUBJECT"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "date"]
    assert message in r.json()["detail"][0]["msg"]


def test_leaving_the_study_needs_a_disposition_term(env: Env) -> None:
    sid = env.ids["subject_A"]
    assert move(env, sid, "consented", "2026-01-06").status_code == 200
    r = move(env, sid, "off_study", "2026-01-07", detail={"dsdecod": "BORED"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "dsdecod"]


def test_only_investigators_sign_eligibility(env: Env) -> None:
    sid = env.ids["subject_A"]
    screen_eligible(env, sid, "2026-01-06")
    assert move(env, sid, "eligible", "2026-01-07", "coordinator").status_code == 403
    assert move(env, sid, "eligible", "2026-01-07", "monitor").status_code == 403
    assert move(env, sid, "eligible", "2026-01-07", "investigator").status_code == 200


def test_eligibility_endpoint_explains_the_engine_decision(env: Env) -> None:
    sid = env.ids["subject_A"]
    h = env.headers("investigator")
    before = env.client.get(f"/api/subjects/{sid}/eligibility?as_of=2026-01-07", headers=h).json()
    assert before["decision"] == "incomplete"
    assert any(c["id"] == "IN-HCC-BCLC" and c["status"] == "unknown" for c in before["criteria"])
    screen_eligible(env, sid, "2026-01-06")
    after = env.client.get(f"/api/subjects/{sid}/eligibility?as_of=2026-01-07", headers=h).json()
    assert after["decision"] == "eligible", after["detail"]
    # 14-day lab look-back of the protocol: three weeks later the labs are too old.
    late = env.client.get(f"/api/subjects/{sid}/eligibility?as_of=2026-01-28", headers=h).json()
    assert late["decision"] == "incomplete"
    bad = env.client.get(f"/api/subjects/{sid}/eligibility?as_of=someday", headers=h)
    assert bad.status_code == 422


def test_eligible_only_when_the_engine_agrees(env: Env) -> None:
    sid = env.ids["subject_A"]
    assert move(env, sid, "consented", "2026-01-06").status_code == 200
    r = move(env, sid, "eligible", "2026-01-07", "investigator")
    assert r.status_code == 422
    assert "the screening engine says incomplete" in r.json()["detail"][0]["msg"]
    # An ineligible finding: BCLC stage A (the protocol asks for B or C).
    h = env.headers("coordinator")
    payload = findings_payload("2026-01-06")
    payload["FINDINGS"] = {**payload["FINDINGS"], "bclc_stage": "A"}
    assert (
        env.client.post(
            f"/api/subjects/{sid}/records/FINDINGS", headers=h, json=payload
        ).status_code
        == 201
    )
    r = move(env, sid, "eligible", "2026-01-07", "investigator")
    assert r.status_code == 422 and "says ineligible" in r.json()["detail"][0]["msg"]
    r = move(env, sid, "ineligible", "2026-01-07", "investigator")
    assert r.status_code == 200 and r.json()["eligibility"] == "ineligible"


def test_ineligible_against_the_engine_needs_a_reason(env: Env) -> None:
    sid = env.ids["subject_A"]
    screen_eligible(env, sid, "2026-01-06")
    r = move(env, sid, "ineligible", "2026-01-07", "investigator")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = move(
        env,
        sid,
        "ineligible",
        "2026-01-07",
        "investigator",
        reason="portal vein branch thrombus on review of the CT",
    )
    assert r.status_code == 200
    with env.session() as session:
        from hcctrial.web.db import AuditEntry

        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "subjects")
            .order_by(AuditEntry.seq.desc())
        ).first()
        assert (
            entry is not None and entry.reason == "portal vein branch thrombus on review of the CT"
        )


def test_screening_findings_are_checked_by_the_engines_reader(env: Env) -> None:
    sid = env.ids["subject_A"]
    r = env.client.post(
        f"/api/subjects/{sid}/records/FINDINGS",
        headers=env.headers("coordinator"),
        json={
            "FINDINGS": {"ecog": 7, "bclc_stage": "E"},
            "THERAPIES": [{"category": "chemotherapy", "start": "2025-13-01"}],
            "DTC": "2026-01-06",
        },
    )
    assert r.status_code == 422, r.text
    fields = {".".join(map(str, d["loc"][1:])) for d in r.json()["detail"]}
    assert {"FINDINGS.ecog", "FINDINGS.bclc_stage"} <= fields
    assert any(f.startswith("THERAPIES") for f in fields)


def test_a_randomized_study_never_assigns_an_arm_by_hand(env: Env) -> None:
    sid = env.ids["subject_A"]
    screen_eligible(env, sid, "2026-01-06")
    assert move(env, sid, "eligible", "2026-01-07", "investigator").status_code == 200
    assert move(env, sid, "enrolled", "2026-01-08").status_code == 200
    r = move(env, sid, "assigned", "2026-01-09", detail={"arm": "tace"})
    assert r.status_code == 422 and "randomization only" in r.json()["detail"][0]["msg"]
    r = move(env, sid, "treated", "2026-01-09")
    assert r.status_code == 422


def test_bad_transition_bodies_get_a_message_per_field(env: Env) -> None:
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/transitions",
        headers=env.headers("coordinator"),
        json={"to": "randomized", "date": 5, "detail": {"strata": ["x"], "colour": "red"}},
    )
    assert r.status_code == 422
    locs = {tuple(d["loc"]) for d in r.json()["detail"]}
    assert ("body", "date") in locs
    assert ("body", "detail", "strata") in locs
    assert ("body", "detail", "colour") in locs


def _problems(r) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    out: dict[str, list[str]] = {}
    for d in r.json()["detail"]:
        out.setdefault(str(d["loc"][-1]), []).append(d["msg"])
    return out


def test_every_transition_problem_comes_in_one_answer(env: Env) -> None:
    """A screened subject sent off study in the future with a term outside CDISC NCOMPLT: the
    state, the date and the term, one answer; with the date also too short for the body's
    type (a type error) and the state still wrong, both again in one answer."""
    sid = env.ids["subject_A"]
    r = move(env, sid, "off_study", "2999-01-01", detail={"dsdecod": "BORED"})
    problems = _problems(r)
    assert set(problems) == {"to", "date", "dsdecod"}
    assert problems["to"] == ["a screened subject cannot become off_study"]
    assert problems["date"][0].startswith("in the future")
    r = move(env, sid, "enrolled", "20")
    problems = _problems(r)
    assert set(problems) == {"to", "date"}
    assert "at least 4 characters" in problems["date"][0]


def test_a_refused_randomization_reveals_nothing(env: Env) -> None:
    """An enrolled subject randomized with a date in the future: refused before the list is
    touched (a reveal is final and audited), then randomized on a valid date."""
    from hcctrial.web.db import AuditEntry, RandomizationSlot

    sid = new_subject(env, "A05")
    screen_eligible(env, sid, "2026-01-06")
    assert move(env, sid, "eligible", "2026-01-07", "investigator").status_code == 200
    assert move(env, sid, "enrolled", "2026-01-08").status_code == 200
    assert set(_problems(move(env, sid, "randomized", "2999-01-01"))) == {"date"}
    with env.session() as session:
        revealed = select(RandomizationSlot).where(RandomizationSlot.subject_id.is_not(None))
        assert session.scalars(revealed).all() == []
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")).all() == []
    assert move(env, sid, "randomized", "2026-01-09").status_code == 200
