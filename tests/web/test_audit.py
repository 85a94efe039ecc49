"""The audit trail of 21 CFR 11.10(e): who, when (UTC), old and new value, why; append-only
(database triggers), tamper-evident (hash chain); ``hcctrial audit verify``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hcctrial.cli import main
from hcctrial.web.audit import GENESIS_HASH, entry_hash, verify_chain
from hcctrial.web.db import AuditEntry, AuditHead

from .conftest import Env


def _lab(env: Env) -> dict:  # type: ignore[type-arg]
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/records/LB",
        headers=env.headers("coordinator"),
        json={"LBTESTCD": "ALB", "LBORRES": 36, "LBORRESU": "g/L", "LBDTC": "2026-01-06"},
    )
    assert r.status_code == 201
    return dict(r.json())


def test_every_change_is_recorded_with_who_when_what_and_why(env: Env) -> None:
    before = datetime.now(UTC)
    record = _lab(env)
    r = env.client.put(
        f"/api/records/{record['id']}",
        headers=env.headers("coordinator"),
        json={
            "data": {**record["data"], "LBORRES": 3.6, "LBORRESU": "g/dL"},
            "reason": "unit",
            "version": 1,
        },
    )
    assert r.status_code == 200
    with env.session() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "records", AuditEntry.row_id == str(record["id"]))
            .order_by(AuditEntry.seq)
        ).all()
    assert [e.action for e in entries] == ["create", "update"]
    create, update = entries
    assert create.user == update.user == "coordinator"
    assert datetime.fromisoformat(create.at) >= before  # UTC, with its offset
    assert create.at.endswith("+00:00")
    assert create.reason is None and update.reason == "unit"
    created = json.loads(create.changes)
    assert created["data.LBORRES"] == [None, "36"] and created["domain"] == [None, "LB"]
    changed = json.loads(update.changes)
    assert changed["data.LBORRES"] == ["36", "3.6"]
    assert changed["data.LBORRESU"] == ["g/L", "g/dL"]
    assert "data.LBSTRESN" not in changed  # 3.6 g/dL is 36 g/L: the standard value is unchanged


def test_credentials_never_enter_the_trail(env: Env) -> None:
    r = env.client.post(
        "/api/users",
        headers=env.headers("admin"),
        json={
            "username": "newmon",
            "full_name": "New Monitor",
            "password": "a secret phrase 1",
            "roles": [{"role": "monitor", "site_id": env.ids["site_B"]}],
        },
    )
    assert r.status_code == 201, r.text
    token = env.client.post("/api/tokens", headers=env.headers("admin"), json={"name": "x"}).json()[
        "token"
    ]
    dump = json.dumps(
        env.client.get("/api/audit?limit=1000", headers=env.headers("auditor")).json()
    )
    assert "a secret phrase 1" not in dump and token not in dump and "$argon2" not in dump
    assert "[redacted]" in dump


def test_the_trail_is_append_only(env: Env) -> None:
    _lab(env)
    for sql in ("UPDATE audit_trail SET reason = 'x'", "DELETE FROM audit_trail"):
        with pytest.raises(DBAPIError, match="append-only"), env.app.state.engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain(env.app.state.engine).ok


def test_the_chain_links_every_entry(env: Env) -> None:
    _lab(env)
    with env.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        head = session.get(AuditHead, 1)
    prev = GENESIS_HASH
    for n, e in enumerate(entries, start=1):
        assert e.seq == n and e.prev_hash == prev
        assert e.hash == entry_hash(
            e.seq, e.at, e.user, e.action, e.table_name, e.row_id, e.changes, e.reason, prev
        )
        prev = e.hash
    assert head is not None and (head.seq, head.hash) == (len(entries), prev)


def _drop_triggers(env: Env) -> None:
    """What someone with the database's owner rights could do to rewrite history."""
    with env.app.state.engine.begin() as conn:
        if env.backend == "sqlite":
            conn.execute(text("DROP TRIGGER audit_trail_no_update"))
            conn.execute(text("DROP TRIGGER audit_trail_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_trail_append_only ON audit_trail"))


def _entry_of_lab(env: Env, record_id: int) -> int:
    with env.session() as session:
        return int(
            session.scalars(
                select(AuditEntry.seq).where(
                    AuditEntry.table_name == "records", AuditEntry.row_id == str(record_id)
                )
            ).one()
        )


def test_an_edited_entry_is_found_and_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    record = _lab(env)
    seq = _entry_of_lab(env, record["id"])
    assert main(["audit", "verify", "--db", env.url]) == 0
    assert "Audit trail intact" in capsys.readouterr().out
    _drop_triggers(env)
    with env.app.state.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_trail SET changes = replace(changes, :a, :b) WHERE seq = :s"),
            {"s": seq, "a": '"36"', "b": '"26"'},
        )
    check = verify_chain(env.app.state.engine)
    assert not check.ok
    assert check.problems[0].startswith(
        f"entry {seq} (create records {record['id']} by coordinator"
    )
    assert main(["audit", "verify", "--db", env.url]) == 1
    err = capsys.readouterr().err
    assert "Audit trail broken" in err and f"entry {seq} (create records" in err


def test_a_removed_entry_is_found(env: Env) -> None:
    _lab(env)
    seq = 5  # an entry of the set-up, well inside the chain
    _drop_triggers(env)
    with env.app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_trail WHERE seq = :s"), {"s": seq})
    check = verify_chain(env.app.state.engine)
    assert check.problems[0] == f"entry {seq}: missing (next entry present is {seq + 1})"


def test_a_rewritten_chain_does_not_match_the_head(env: Env) -> None:
    record = _lab(env)
    _drop_triggers(env)
    with env.app.state.engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_trail")).scalar_one()
        conn.execute(text("DELETE FROM audit_trail WHERE seq = :s"), {"s": last})
    check = verify_chain(env.app.state.engine)
    assert check.problems == [
        f"audit head records entry {last} but the trail ends at entry {last - 1}"
    ]
    assert record


def test_audit_trail_api_is_for_auditors_of_every_site(env: Env) -> None:
    for user in ("coordinator", "investigator", "monitor", "statistician", "admin", "monitor_b"):
        assert env.client.get("/api/audit", headers=env.headers(user)).status_code == 403
    r = env.client.get("/api/audit?after=0&limit=5", headers=env.headers("auditor"))
    assert r.status_code == 200 and [e["seq"] for e in r.json()] == [1, 2, 3, 4, 5]
    v = env.client.get("/api/audit/verify", headers=env.headers("auditor")).json()
    assert v["ok"] is True and v["entries"] > 60
