"""The subject page's derived results (response per visit, CTCAE grades, CRS/ICANS, DLT) and
their cache keyed by the subject's data version.

Expected values are derived by hand from the cited rules:

- one liver target lesion, longest diameter 50 mm and viable (enhancing) diameter 40 mm at
  baseline, 45 mm and 10 mm on 2026-04-10: RECIST 1.1 sum 50 -> 45 is -10% (neither -30% nor
  +20%): SD; mRECIST viable sum 40 -> 10 is -75% (<= -30%): PR (Eisenhauer 2009 section
  4.3.1; Lencioni & Llovet 2010 Table 1). The assessment is 64 days after randomization
  (2026-02-05), past NCT04011033's 42-day minimum for SD, so RECIST BOR is SD; mRECIST BOR is
  the (unconfirmed) PR, the protocol not requiring confirmation.
- platelets 60 x 10^9/L: CTCAE v5.0 "Platelet count decreased" grade 2 (<75,000 - 50,000/mm3).
- a CRS adverse event of grade 2 with no end date: ongoing CRS of grade 2.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from hcctrial.web.db import Record, Site, Subject
from hcctrial.web.derived import derived_cache, subject_data_version, subject_derived
from hcctrial.web.service import (
    create_subject,
    protocol_source,
    save_record,
    setup_study,
    transition,
)

from .conftest import Env, lab_payload, move, randomize_new
from .serve import treated_subject_records

TODAY = date(2026, 11, 1)


def _post(env: Env, sid: int, domain: str, body: dict[str, Any]) -> int:
    r = env.client.post(
        f"/api/subjects/{sid}/records/{domain}", headers=env.headers("coordinator"), json=body
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _treated_subject_with_data(env: Env) -> int:
    sid = env.ids["subject_A"]
    randomize_new(env, sid, date(2026, 1, 6))  # consent 01-06 ... randomized 01-09
    assert move(env, sid, "treated", "2026-02-07").status_code == 200
    for domain, body in treated_subject_records():
        _post(env, sid, domain, body)
    return sid


def test_response_per_visit_by_recist_and_mrecist(env: Env) -> None:
    sid = _treated_subject_with_data(env)
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        derived = subject_derived(session, subject, TODAY)
    by = {r.criteria: r for r in derived.response}
    recist, mrecist = by["RECIST 1.1"], by["mRECIST"]
    assert recist.error == "" and mrecist.error == ""
    assert [t["OVRLRESP"] for t in recist.timepoints] == ["SD"]
    assert [t["OVRLRESP"] for t in mrecist.timepoints] == ["PR"]
    assert recist.timepoints[0]["SUMDIAM"] == 45 and round(recist.timepoints[0]["PCHG"]) == -10
    assert mrecist.timepoints[0]["SUMDIAM"] == 10 and round(mrecist.timepoints[0]["PCHG"]) == -75
    assert recist.best["BOR"] == "SD"
    assert mrecist.best["BOR"] == "PR"
    assert "Eisenhauer" in recist.rule and "Lencioni" in mrecist.rule
    assert "primary criteria" in mrecist.rule and "primary criteria" not in recist.rule


def test_lab_and_ae_grades_and_crs_on_the_page(env: Env) -> None:
    sid = _treated_subject_with_data(env)
    client, _ = env.login("coordinator")
    html = client.get(f"/subjects/{sid}").text
    assert "CTCAE v5.0 (NCI)" in html
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        safety = subject_derived(session, subject, TODAY).safety
    plt = [row for row in safety.labs if row.test == "PLT" and row.date == "2026-03-01"]
    assert len(plt) == 1 and plt[0].grade == 2 and "Platelet count decreased" in plt[0].term
    assert [(a.syndrome, a.grade, a.ongoing) for a in safety.syndromes] == [("CRS", 2, True)]
    assert safety.dlt is None  # NCT04011033 has no DLT rules
    assert "<td>CRS</td><td><strong>2</strong></td><td>2026-02-08</td><td>ongoing</td>" in html
    assert "<td><strong>PR</strong></td>" in html and "<td><strong>SD</strong></td>" in html


def test_ae_grade_3_comes_first(env: Env) -> None:
    sid = _treated_subject_with_data(env)
    _post(
        env,
        sid,
        "AE",
        {
            "AETERM": "Nausea",
            "AETOXGR": "1",
            "AESTDTC": "2026-02-09",
            "AEENDTC": "2026-02-10",
        },
    )
    _post(env, sid, "AE", {"AETERM": "Anemia", "AETOXGR": "3", "AESTDTC": "2026-03-02"})
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        aes = subject_derived(session, subject, TODAY).safety.adverse_events
    assert [(a.term, a.grade) for a in aes] == [
        ("Anemia", 3),
        ("Cytokine release syndrome", 2),
        ("Nausea", 1),
    ]


def test_a_changed_lab_shows_on_the_next_page_load(env: Env) -> None:
    sid = _treated_subject_with_data(env)
    client, _ = env.login("coordinator")
    first = client.get(f"/subjects/{sid}").text
    cache = derived_cache(env.session())
    hits = cache.hits
    again = client.get(f"/subjects/{sid}").text
    assert cache.hits == hits + 1  # unchanged subject: not derived again
    assert again.count("<strong>2</strong>") == first.count("<strong>2</strong>")
    with env.session() as session:
        lab = session.scalars(
            select(Record).where(Record.subject_id == sid, Record.domain == "LB")
        ).all()[-1]
        lab_id, version = lab.id, lab.version
    body = lab_payload("PLT", 20, "10^9/L", 150, 400, "2026-03-01")
    r = env.client.put(
        f"/api/records/{lab_id}",
        headers=env.headers("coordinator"),
        json={"data": body, "reason": "transcription error", "version": version},
    )
    assert r.status_code == 200, r.text
    misses = cache.misses
    html = client.get(f"/subjects/{sid}").text
    assert cache.misses == misses + 1
    # 20 x 10^9/L: CTCAE v5.0 platelet count decreased grade 4 (< 25,000/mm3)
    assert "<td>2026-03-01</td><td>PLT</td><td>20 10^9/L</td>" in html
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        plt = [
            row
            for row in subject_derived(session, subject, TODAY).safety.labs
            if row.test == "PLT" and row.date == "2026-03-01"
        ]
    assert plt[0].grade == 4


def test_every_kind_of_change_changes_the_data_version(env: Env) -> None:
    sid = env.ids["subject_A"]
    seen = []

    def key() -> tuple[Any, ...]:
        with env.session() as session:
            subject = session.get(Subject, sid)
            assert subject is not None
            return subject_data_version(session, subject)

    seen.append(key())
    rid = _post(env, sid, "LB", lab_payload("PLT", 150, "10^9/L", 150, 400, "2026-01-06"))
    seen.append(key())
    with env.session() as session:
        version = session.get(Record, rid).version  # type: ignore[union-attr]
    body = lab_payload("PLT", 151, "10^9/L", 150, 400, "2026-01-06")
    h = env.headers("coordinator")
    r = env.client.put(
        f"/api/records/{rid}", headers=h, json={"data": body, "reason": "typo", "version": version}
    )
    assert r.status_code == 200, r.text
    seen.append(key())
    r = env.client.post(f"/api/records/{rid}/delete", headers=h, json={"reason": "wrong subject"})
    assert r.status_code == 200, r.text
    seen.append(key())
    assert move(env, sid, "consented", "2026-01-06").status_code == 200
    seen.append(key())
    assert len(set(seen)) == len(seen), seen


def test_a_writer_does_not_fill_the_cache(env: Env) -> None:
    """Results derived inside a transaction that wrote are not kept (it may roll back)."""
    sid = env.ids["subject_A"]
    with env.session() as session:
        session.info["user"] = "test"
        subject = session.get(Subject, sid)
        assert subject is not None
        cache = derived_cache(session)
        transition(session, subject, "consented", "2026-01-06", "test")
        subject_derived(session, subject, TODAY)
        subject_derived(session, subject, TODAY)
        hits = cache.hits
        session.rollback()
    assert hits == 0


def _escalation_subject(env: Env) -> int:
    """An il1rap-car-t subject assigned to dose level dl1 and infused on 2026-03-10."""
    with env.session() as session:
        session.info["user"] = "setup"
        study = setup_study(session, protocol_source("il1rap-car-t"), [("X", "Site X")])
        site = session.scalars(select(Site).where(Site.study_id == study.id)).one()
        subject = create_subject(
            session,
            site,
            {"subjid": "X01", "sex": "M", "birth_dtc": "1970-01-01", "screened_dtc": "2026-03-01"},
            "setup",
        )
        # The screening path is tested elsewhere: the subject starts enrolled here.
        subject.state, subject.enrolled_dtc = "enrolled", "2026-03-02"
        session.flush()
        transition(
            session,
            subject,
            "assigned",
            "2026-03-03",
            "setup",
            {"arm": "il1rap-car-t", "dose_level": "dl1"},
        )
        transition(session, subject, "treated", "2026-03-10", "setup")
        session.commit()
        return subject.id


def _dlt(env: Env, sid: int, today: date) -> Any:
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        return subject_derived(session, subject, today).safety.dlt


def test_dlt_status_in_the_escalation_study(env: Env) -> None:
    """il1rap-car-t: DLT window of 28 days from the infusion (2026-03-10 to 2026-04-07); grade
    4 CRS (ASTCT 2019) is a DLT by the protocol's rule DLT-CRS-4."""
    sid = _escalation_subject(env)
    open_window = _dlt(env, sid, date(2026, 3, 20))
    assert open_window.status == "window open" and "not evaluable" in open_window.evaluable
    assert "2026-03-10 to 2026-04-07" in open_window.window
    assert "DLT-CRS-4" in open_window.rule
    assert _dlt(env, sid, TODAY).status == "no DLT"
    with env.session() as session:
        session.info["user"] = "setup"
        subject = session.get(Subject, sid)
        assert subject is not None
        save_record(
            session,
            subject,
            "AE",
            {
                "AETERM": "Cytokine release syndrome",
                "AEDECOD": "Cytokine release syndrome",
                "AETOXGR": "4",
                "AESTDTC": "2026-03-12",
                "AEENDTC": "2026-03-16",
                "AEREL": "RELATED",
            },
            "setup",
        )
        session.commit()
    status = _dlt(env, sid, TODAY)
    assert status.status == "DLT" and status.evaluable == "evaluable"
    client, _ = env.login("statistician")  # a sponsor role: every site of every study
    html = client.get(f"/subjects/{sid}").text
    assert '<strong class="dlt dlt-DLT">DLT</strong> (evaluable)' in html
    assert "DLT window: 2026-03-10 to 2026-04-07 (28 days)" in html
    # Grade 4 for 5 days (03-12 to 03-16) meets DLT-CRS-4 and DLT-CRS-3-72H (>= 3 for 3 days).
    assert {e["DLTRULE"] for e in status.events} == {"DLT-CRS-4", "DLT-CRS-3-72H"}


def test_crs_and_icans_grade_by_day_from_the_daily_observations(env: Env) -> None:
    """ASTCT 2019 (Lee et al. 2019, CRS and ICANS tables), by hand:

    - 02-08: 38.6 C, hypotension without vasopressor (grade 2), nasal cannula 2 L/min
      (low flow <= 6 L/min: grade 2): CRS 2; ICE 8 (7-9: grade 1), alert: ICANS 1;
    - 02-09: 39.2 C, hypotension with one vasopressor (grade 3), no oxygen: CRS 3; ICE 10,
      alert: ICANS 0;
    - 02-10: 37.0 C, no hypotension or hypoxia, no antipyretic: CRS 0, the episode ends.

    One CRS episode 02-08 to 02-09 of maximum grade 3, one ICANS episode on 02-08 of grade 1.
    """
    sid = _treated_subject_with_data(env)
    for day in (
        {"FADTC": "2026-02-08", "TEMP": 38.6, "HYPOTN": "Y", "VASOPN": 0}
        | {"O2DEV": "nasal-cannula", "O2FLOW": 2, "ICE": 8, "LOC": "alert"},
        {"FADTC": "2026-02-09", "TEMP": 39.2, "HYPOTN": "Y", "VASOPN": 1}
        | {"O2DEV": "none", "ICE": 10, "LOC": "alert"},
        {"FADTC": "2026-02-10", "TEMP": 37.0, "HYPOTN": "N", "O2DEV": "none", "ICE": 10},
    ):
        _post(env, sid, "CRSICANS", day)
    with env.session() as session:
        subject = session.get(Subject, sid)
        assert subject is not None
        daily = subject_derived(session, subject, TODAY).safety.daily
    assert [(str(d["ADT"]), d["CRSGR"], d["ICANSGR"]) for d in daily.days] == [
        ("2026-02-08", 2, 1),
        ("2026-02-09", 3, 0),
        ("2026-02-10", 0, 0),
    ]
    episodes = {
        (e["SYNDROME"], str(e["ASTDT"]), str(e["AENDT"]), e["MAXGR"]) for e in daily.episodes
    }
    assert episodes == {
        ("CRS", "2026-02-08", "2026-02-09", 3),
        ("ICANS", "2026-02-08", "2026-02-08", 1),
    }
    client, _ = env.login("coordinator")
    html = client.get(f"/subjects/{sid}").text
    assert "<tr><td>2026-02-09</td><td>3</td><td>0</td></tr>" in html
