"""Queries: opened by a monitor (or an edit check), answered by site staff, closed or reopened by
the monitor; every message kept in the query's history."""

from __future__ import annotations

from .conftest import Env


def _lab(env: Env) -> int:
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/records/LB",
        headers=env.headers("coordinator"),
        json={"LBTESTCD": "PLT", "LBORRES": 15, "LBORRESU": "10^9/L", "LBDTC": "2026-01-06"},
    )
    assert r.status_code == 201
    return int(r.json()["id"])


def test_open_answer_close_with_history(env: Env) -> None:
    record = _lab(env)
    sid = env.ids["subject_A"]
    r = env.client.post(
        f"/api/subjects/{sid}/queries",
        headers=env.headers("monitor"),
        json={
            "text": "Platelets 15: please confirm against the source",
            "record_id": record,
            "field": "LBORRES",
        },
    )
    assert r.status_code == 201, r.text
    query = r.json()
    assert (query["status"], query["origin"], query["field"]) == ("open", "monitor", "LBORRES")
    qid = query["id"]
    # Site staff answer; they cannot close.
    assert (
        env.client.post(
            f"/api/queries/{qid}/close", headers=env.headers("coordinator"), json={"text": "ok"}
        ).status_code
        == 403
    )
    r = env.client.post(
        f"/api/queries/{qid}/answer",
        headers=env.headers("coordinator"),
        json={"text": "Confirmed in the lab report of 6 January"},
    )
    assert r.status_code == 200 and r.json()["status"] == "answered"
    # The monitor reopens, the site answers again, the monitor closes.
    assert (
        env.client.post(
            f"/api/queries/{qid}/reopen",
            headers=env.headers("monitor"),
            json={"text": "Please attach the report"},
        ).json()["status"]
        == "open"
    )
    env.client.post(
        f"/api/queries/{qid}/answer",
        headers=env.headers("investigator"),
        json={"text": "Report filed in the ISF"},
    )
    r = env.client.post(
        f"/api/queries/{qid}/close", headers=env.headers("monitor"), json={"text": "Resolved"}
    )
    assert r.status_code == 200
    history = [(m["action"], m["by"]) for m in r.json()["history"]]
    assert history == [
        ("open", "monitor"),
        ("answer", "coordinator"),
        ("reopen", "monitor"),
        ("answer", "investigator"),
        ("close", "monitor"),
    ]
    assert r.json()["history"][1]["text"] == "Confirmed in the lab report of 6 January"
    # A closed query takes no more answers.
    late = env.client.post(
        f"/api/queries/{qid}/answer", headers=env.headers("coordinator"), json={"text": "more"}
    )
    assert late.status_code == 422
    listed = env.client.get(f"/api/subjects/{sid}/queries", headers=env.headers("auditor")).json()
    assert [q["id"] for q in listed] == [qid] and len(listed[0]["history"]) == 5


def test_queries_stay_within_the_site(env: Env) -> None:
    sid = env.ids["subject_A"]
    r = env.client.post(
        f"/api/subjects/{sid}/queries", headers=env.headers("monitor"), json={"text": "Check"}
    )
    qid = r.json()["id"]
    assert (
        env.client.post(
            f"/api/subjects/{sid}/queries", headers=env.headers("monitor_b"), json={"text": "x"}
        ).status_code
        == 404
    )
    for user in ("coordinator_b", "investigator_b"):
        r = env.client.post(
            f"/api/queries/{qid}/answer", headers=env.headers(user), json={"text": "x"}
        )
        assert r.status_code == 404
    assert (
        env.client.get(f"/api/subjects/{sid}/queries", headers=env.headers("monitor_b")).status_code
        == 404
    )


def test_a_query_on_another_subjects_record_is_refused(env: Env) -> None:
    record = _lab(env)
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_B']}/queries",
        headers=env.headers("monitor_b"),
        json={"text": "x", "record_id": record},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "record_id"]


def test_only_monitors_open_queries(env: Env) -> None:
    for user in ("coordinator", "investigator", "statistician", "auditor", "admin"):
        r = env.client.post(
            f"/api/subjects/{env.ids['subject_A']}/queries",
            headers=env.headers(user),
            json={"text": "x"},
        )
        assert r.status_code in (403, 404), user


def test_open_queries_count_on_the_dashboard(env: Env) -> None:
    sid = env.ids["subject_A"]
    for text in ("one", "two"):
        env.client.post(
            f"/api/subjects/{sid}/queries", headers=env.headers("monitor"), json={"text": text}
        )
    a = env.client.get(
        f"/api/studies/{env.ids['study']}/dashboard", headers=env.headers("coordinator")
    ).json()
    b = env.client.get(
        f"/api/studies/{env.ids['study']}/dashboard", headers=env.headers("coordinator_b")
    ).json()
    assert a["open_queries"] == 2 and b["open_queries"] == 0
