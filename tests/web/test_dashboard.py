"""The study dashboard on a small seeded study, with the counts derived by hand.

The seeded NCT04011033 study (enrolment target 60; CONSORT 2010 flow):

======  =====  ==========================================================================
site    id     history
======  =====  ==========================================================================
A       A01    screened only
A       A02    consented, screening data with a life expectancy of 8 weeks: the investigator
               signs *ineligible* (the engine finds IN-LIFE-EXPECTANCY failed: >= 12 weeks)
A       A03    eligible, enrolled, randomized, treated 2026-02-07, off treatment (ADVERSE
               EVENT) 2026-03-20; AEs: anaemia grade 3 ongoing, CRS grade 2 ongoing,
               nausea grade 1 resolved; the monitor's query (the oldest)
A       A04    eligible, enrolled, randomized, treated 2026-02-17; a second query
B       B01    consented, then off study (WITHDRAWAL BY SUBJECT) before enrolment; AE grade
               4 (sepsis) ongoing; a query
======  =====  ==========================================================================

A site-A user sees: screened 4, screen failures 1 (IN-LIFE-EXPECTANCY), eligible 2, enrolled 2 of 60
(3%), randomized 2, treated 2, off treatment 1 (ADVERSE EVENT), off study 0, died 0; open
queries 2, the oldest on A03; unresolved AEs 2 (anaemia grade 3 before CRS grade 2; nausea
has an end date); CRS in 1 subject, maximum grade 2, 1 ongoing. A sponsor role (every site)
adds B01: screened 5, screen failures 2 (IN-LIFE-EXPECTANCY 1, WITHDRAWAL BY SUBJECT 1), 3 open
queries, 3 unresolved AEs with sepsis grade 4 first. Site B's coordinator sees B01 only.

Visits: day 0 is the first TAE/TACE (the first treatment). Visit "Week 4" (day 28) holds the
second TAE/TACE (window 0 days before, 3 after) and the labs (3 days either side), so its
window is day 25 to day 31: A03 (day 0 2026-02-07) 2026-03-04 to 2026-03-10, A04 (day 0
2026-02-17) 2026-03-14 to 2026-03-20. No record names the visit, so both are overdue by
(today - window end) days.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hcctrial.web.dashboard import LIST_LIMIT, study_dashboard
from hcctrial.web.db import Study

from .conftest import (
    LABS,
    Env,
    findings_payload,
    lab_payload,
    move,
    new_subject,
    randomize_new,
)


def _post(env: Env, sid: int, domain: str, body: dict[str, Any], user: str = "coordinator"):
    r = env.client.post(
        f"/api/subjects/{sid}/records/{domain}", headers=env.headers(user), json=body
    )
    assert r.status_code == 201, r.text


def _query(env: Env, sid: int, text: str, user: str = "monitor") -> None:
    r = env.client.post(
        f"/api/subjects/{sid}/queries", headers=env.headers(user), json={"text": text}
    )
    assert r.status_code == 201, r.text


@pytest.fixture
def seeded(env: Env) -> dict[str, int]:
    ids = {"A01": env.ids["subject_A"], "B01": env.ids["subject_B"]}
    ids["A02"] = new_subject(env, "A02")
    assert move(env, ids["A02"], "consented", "2026-01-06").status_code == 200
    short = findings_payload("2026-01-06")
    short["FINDINGS"] = {**short["FINDINGS"], "life_expectancy_weeks": 8}
    _post(env, ids["A02"], "FINDINGS", short)
    for lab in LABS:
        _post(env, ids["A02"], "LB", lab_payload(*lab, "2026-01-06"))
    r = move(env, ids["A02"], "ineligible", "2026-01-07", "investigator")
    assert r.status_code == 200, r.text

    ids["A03"] = new_subject(env, "A03")
    randomize_new(env, ids["A03"], date(2026, 1, 6))
    assert move(env, ids["A03"], "treated", "2026-02-07").status_code == 200
    r = move(env, ids["A03"], "off_treatment", "2026-03-20", detail={"dsdecod": "ADVERSE EVENT"})
    assert r.status_code == 200, r.text
    for ae in (
        {"AETERM": "Anaemia", "AEDECOD": "Anemia", "AETOXGR": "3", "AESTDTC": "2026-03-01"},
        {"AETERM": "Cytokine release syndrome", "AETOXGR": "2", "AESTDTC": "2026-02-08"},
        {"AETERM": "Nausea", "AETOXGR": "1", "AESTDTC": "2026-02-09", "AEENDTC": "2026-02-10"},
    ):
        _post(env, ids["A03"], "AE", ae)
    _query(env, ids["A03"], "Please confirm the anaemia onset date.")

    ids["A04"] = new_subject(env, "A04")
    randomize_new(env, ids["A04"], date(2026, 1, 10))
    assert move(env, ids["A04"], "treated", "2026-02-17").status_code == 200
    _query(env, ids["A04"], "Weight missing at baseline.")

    assert move(env, ids["B01"], "consented", "2026-01-06", "coordinator_b").status_code == 200
    r = move(
        env,
        ids["B01"],
        "off_study",
        "2026-01-08",
        "coordinator_b",
        detail={"dsdecod": "WITHDRAWAL BY SUBJECT"},
    )
    assert r.status_code == 200, r.text
    _post(
        env,
        ids["B01"],
        "AE",
        {"AETERM": "Sepsis", "AETOXGR": "4", "AESTDTC": "2026-01-07"},
        "coordinator_b",
    )
    _query(env, ids["B01"], "Source document for the sepsis?", "monitor_b")
    return ids


def _row(html: str, table_id: str, label: str) -> list[str]:
    """The cells of the row headed ``label`` in the table ``table_id`` (tags stripped)."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in {table_id}")


def _rows(html: str, table_id: str) -> list[list[str]]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _page(env: Env, user: str) -> str:
    client, _ = env.login(user)
    r = client.get("/")
    assert r.status_code == 200, r.text
    return r.text


def test_site_a_dashboard_counts(env: Env, seeded: dict[str, int]) -> None:
    html = _page(env, "coordinator")
    study = env.ids["study"]
    consort = f"consort-{study}"
    assert _row(html, consort, "Screened") == ["4", ""]
    assert _row(html, consort, "Screen failures") == ["1", "IN-LIFE-EXPECTANCY (1)"]
    assert _row(html, consort, "Eligible")[0] == "2"
    assert _row(html, consort, "Enrolled")[0] == "2"
    randomized = _row(html, consort, "Randomized")
    assert randomized[0] == "2"
    arms = dict(re.findall(r"([\w-]+) \((\d+)\)", randomized[1]))
    assert sum(int(n) for n in arms.values()) == 2 and set(arms) <= {"inkt-tace", "tace"}
    assert _row(html, consort, "Treated")[0] == "2"
    assert _row(html, consort, "Off treatment") == ["1", "ADVERSE EVENT (1)"]
    assert _row(html, consort, "Off study") == ["0", ""]
    assert _row(html, consort, "Died") == ["0", ""]
    enrolment = html.split(f'id="enrolment-{study}"', 1)[1].split("</p>", 1)[0]
    assert "Enrolled <strong>2</strong> of 60 planned (3%)" in enrolment
    assert "Open queries: <strong>2</strong>" in enrolment
    assert "NCT04011033-A-A03" in enrolment  # the oldest query
    assert _rows(html, f"sites-{study}") == [["A Beijing Youan Hospital", "4", "2"]]
    aes = _rows(html, f"aes-{study}")
    assert [(a[0], a[1], a[2]) for a in aes] == [
        ("NCT04011033-A-A03", "Anaemia", "3"),
        ("NCT04011033-A-A03", "Cytokine release syndrome", "2"),
    ]
    crs = _row(html, f"syndromes-{study}", "CRS")
    assert crs[:2] == ["1", "2"] and crs[2].startswith("1: NCT04011033-A-A03 grade 2")
    assert _row(html, f"syndromes-{study}", "ICANS")[:3] == ["0", "-", "0"]
    assert "NCT04011033-B-B01" not in html and "Sepsis" not in html


def _dashboard(env: Env, site: str | None) -> Any:
    with env.session() as session:
        study = session.get(Study, env.ids["study"])
        assert study is not None
        sites = None if site is None else {env.ids[f"site_{site}"]}
        return study_dashboard(session, study, sites, datetime.now(UTC).date())


def test_overdue_visits_from_the_calendar(env: Env, seeded: dict[str, int]) -> None:
    today = datetime.now(UTC).date()
    board = _dashboard(env, "A")
    overdue = {(v["subject"].subjid, v["visit"]): v for v in board.overdue}
    a03, a04 = overdue[("A03", "Week 4")], overdue[("A04", "Week 4")]
    assert a03["window"] == "2026-03-04 to 2026-03-10"
    assert a03["days_overdue"] == (today - date(2026, 3, 10)).days
    assert a04["window"] == "2026-03-14 to 2026-03-20"
    assert a04["days_overdue"] == (today - date(2026, 3, 20)).days
    days = [v["days_overdue"] for v in board.overdue]
    assert days == sorted(days)  # the most recently missed first
    assert {v["subject"].subjid for v in board.overdue} == {"A03", "A04"}  # treated only
    html = _page(env, "coordinator")
    caption = html.split(f'id="overdue-{env.ids["study"]}"', 1)[1].split("</caption>", 1)[0]
    assert f"none is dated in its window): {len(board.overdue)}" in caption
    shown = _rows(html, f"overdue-{env.ids['study']}")
    assert len(shown) == min(LIST_LIMIT, len(board.overdue))
    first = board.overdue[0]
    assert shown[0][:2] == [first["subject"].usubjid, first["visit"]]


def test_a_recorded_visit_is_no_longer_overdue(env: Env, seeded: dict[str, int]) -> None:
    before = _dashboard(env, "A").overdue
    _post(env, seeded["A04"], "EX", {"EXTRT": "TACE", "EXSTDTC": "2026-03-18", "VISIT": "Week 4"})
    after = _dashboard(env, "A").overdue
    assert [v for v in after if v["subject"].subjid == "A04" and v["visit"] == "Week 4"] == []
    assert len(after) == len(before) - 1


def test_sponsor_sees_every_site(env: Env, seeded: dict[str, int]) -> None:
    html = _page(env, "statistician")
    study = env.ids["study"]
    consort = f"consort-{study}"
    assert _row(html, consort, "Screened")[0] == "5"
    assert _row(html, consort, "Screen failures") == [
        "2",
        "IN-LIFE-EXPECTANCY (1); WITHDRAWAL BY SUBJECT (1)",
    ]
    assert _row(html, consort, "Off study") == ["0", ""]  # B01 left before enrolment
    assert "Open queries: <strong>3</strong>" in html
    aes = _rows(html, f"aes-{study}")
    assert [a[1] for a in aes] == ["Sepsis", "Anaemia", "Cytokine release syndrome"]
    assert _rows(html, f"sites-{study}") == [
        ["A Beijing Youan Hospital", "4", "2"],
        ["B Beijing Ditan Hospital", "1", "0"],
    ]


def test_api_dashboard_counts_enrolment_as_the_page_does(env: Env, seeded: dict[str, int]) -> None:
    """B01 consented and left before enrolment (off study): a screen failure, not enrolled,
    in the JSON dashboard too (it counted every state past eligibility before)."""
    for user, enrolled in (("statistician", 2), ("coordinator", 2), ("coordinator_b", 0)):
        client, _ = env.login(user)
        r = client.get(f"/api/studies/{env.ids['study']}/dashboard")
        assert r.status_code == 200, r.text
        assert r.json()["enrolled"] == enrolled, user
        assert _row(_page(env, user), f"consort-{env.ids['study']}", "Enrolled")[0] == str(enrolled)


def test_site_b_sees_only_site_b(env: Env, seeded: dict[str, int]) -> None:
    html = _page(env, "coordinator_b")
    study = env.ids["study"]
    consort = f"consort-{study}"
    assert _row(html, consort, "Screened")[0] == "1"
    assert _row(html, consort, "Screen failures") == ["1", "WITHDRAWAL BY SUBJECT (1)"]
    assert "Open queries: <strong>1</strong>" in html
    assert [a[1] for a in _rows(html, f"aes-{study}")] == ["Sepsis"]
    assert "-A-" not in html.replace("A Beijing", "")  # no site-A subject id anywhere
    assert _rows(html, f"overdue-{study}") == [["None."]]


def test_crs_from_the_daily_observations(env: Env, seeded: dict[str, int]) -> None:
    """A04: 02-18 and 02-19 with fever (38.6, 39.0 C) and hypotension needing one vasopressor:
    ASTCT CRS grade 3 on both days (Lee et al. 2019), the episode still on at its last
    observation. With A03's CRS adverse event (grade 2, no end date): 2 subjects, maximum
    grade 3, 2 ongoing, A04's grade 3 first."""
    for day, temp in (("2026-02-18", 38.6), ("2026-02-19", 39.0)):
        body = {"FADTC": day, "TEMP": temp, "HYPOTN": "Y", "VASOPN": 1, "O2DEV": "none"}
        _post(env, seeded["A04"], "CRSICANS", body)
    html = _page(env, "coordinator")
    crs = _row(html, f"syndromes-{env.ids['study']}", "CRS")
    assert crs[:2] == ["2", "3"]
    assert crs[2].startswith("2: NCT04011033-A-A04 grade 3 since 2026-02-18, NCT04011033-A-A03")
    assert _row(_page(env, "coordinator_b"), f"syndromes-{env.ids['study']}", "CRS")[:3] == [
        "0",
        "-",
        "0",
    ]


def _overdue(env: Env) -> set[tuple[str, str]]:
    return {(v["subject"].subjid, v["visit"]) for v in _dashboard(env, "A").overdue}


def test_a_visit_is_done_by_its_name_in_any_spelling_or_by_its_window(
    env: Env, seeded: dict[str, int]
) -> None:
    """Week 4 of A04 (day 0 2026-02-17; lab window 03-14 to 03-20) by a lab named "WEEK-4"
    (case and hyphen aside, the calendar's "Week 4"); Week 4 of A03 (day 0 2026-02-07; TAE/TACE
    window 03-07 to 03-10) by a TACE named "Wk 4", which names no visit of the calendar, dated
    03-08: inside the window of the visit's intervention. Not done: a lab "Wk 8" of A03 on
    03-20, inside no lab window (Week 4 03-04 to 03-10, Week 8 04-01 to 04-07); and A03's
    Week 8 by a lab dated inside its window but named "Week 12" (the name wins: Week 12 is
    done, and the lab opens its out-of-window query). Day 0 is done by the first treatment."""
    before = _overdue(env)
    assert {("A03", "Week 4"), ("A04", "Week 4"), ("A03", "Week 8"), ("A03", "Week 12")} <= before
    assert not {v for v in before if v[1] == "Day 0"}
    lab = lab_payload("PLT", 150, "10^9/L", 150, 400, "2026-03-15")
    _post(env, seeded["A04"], "LB", {**lab, "VISIT": "WEEK-4"})
    _post(env, seeded["A03"], "EX", {"EXTRT": "TACE", "EXSTDTC": "2026-03-08", "VISIT": "Wk 4"})
    _post(env, seeded["A03"], "LB", {**lab, "LBDTC": "2026-03-20", "VISIT": "Wk 8"})
    _post(env, seeded["A03"], "LB", {**lab, "LBDTC": "2026-04-03", "VISIT": "Week 12"})
    after = _overdue(env)
    assert before - after == {("A04", "Week 4"), ("A03", "Week 4"), ("A03", "Week 12")}
    assert after <= before
    client, _ = env.login("coordinator")
    page = client.get(f"/subjects/{seeded['A03']}").text
    status = {row[0]: row[-1] for row in _rows(page, "calendar")}
    assert status["Week 4"] == "done" and status["Day 0"] == "done"
    assert status["Week 8"] == "overdue" and status["Week 12"] == "done"
    api = env.client.get(f"/api/subjects/{seeded['A03']}/calendar", headers=env.headers("monitor"))
    assert {v["VISIT"]: v["STATUS"] for v in api.json()["visits"]}["Week 4"] == "done"
    # The entry forms offer the calendar's visit names for VISIT (a datalist: plain HTML).
    form = client.get(f"/subjects/{seeded['A03']}/forms/LB").text
    assert 'list="visit-names"' in form and '<option value="Week 4"></option>' in form


def _statements(env: Env) -> int:
    """SQL statements of one dashboard over every site (after one that fills the caches)."""
    from sqlalchemy import event

    engine = env.app.state.engine
    sent = [0]

    def count(*_: Any) -> None:
        sent[0] += 1

    _dashboard(env, None)
    event.listen(engine, "before_cursor_execute", count)
    try:
        _dashboard(env, None)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


def test_the_dashboard_reads_each_table_once_whatever_the_subjects(
    env: Env, seeded: dict[str, int]
) -> None:
    """One query per table (subjects, protocol versions, sites, events, records, queries,
    and the study), not one per subject: two more treated subjects, each with screening
    findings (a calendar input), send no more statements."""
    before = _statements(env)
    for n, start in ((5, date(2026, 1, 12)), (6, date(2026, 1, 14))):
        sid = new_subject(env, f"A0{n}")
        randomize_new(env, sid, start)
        treated = (start + timedelta(days=10)).isoformat()
        assert move(env, sid, "treated", treated).status_code == 200
    assert len(_dashboard(env, None).subjects) == 7
    assert _statements(env) == before <= 8
