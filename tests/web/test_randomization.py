"""Concealed, seeded, stratified permuted-block randomization: the list, its concealment, the
reveal on randomization only, and the audit of every reveal."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from itertools import groupby
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hcctrial.errors import InputError
from hcctrial.web.db import (
    AuditEntry,
    RandomizationList,
    RandomizationSlot,
    Site,
    make_engine,
    make_sessionmaker,
    upgrade_database,
)
from hcctrial.web.randomization import generate_allocations, list_digest, stratum_key
from hcctrial.web.service import create_subject, protocol_source, setup_study, transition

from .conftest import Env, findings_payload, move, randomize_new

RATIO = {"inkt-tace": 1, "tace": 1}
STRATA = {"bclc_stage": ["B", "C"], "site": ["A", "B"]}


def _blocks(allocs):  # type: ignore[no-untyped-def]
    return [list(g) for _, g in groupby(allocs, key=lambda a: (a.stratum, a.block))]


def test_every_block_is_balanced_and_of_an_allowed_size() -> None:
    allocs = generate_allocations({"a": 2, "b": 1}, STRATA, 40, seed=7, block_sizes=[3, 6])
    assert {a.stratum for a in allocs} == {
        "bclc_stage=B;site=A",
        "bclc_stage=B;site=B",
        "bclc_stage=C;site=A",
        "bclc_stage=C;site=B",
    }
    sizes = Counter()
    for block in _blocks(allocs):
        size = block[0].block_size
        assert size in (3, 6) and len(block) == size
        counts = Counter(a.arm for a in block)
        assert counts == {"a": size * 2 // 3, "b": size // 3}  # 2:1 within every block
        sizes[size] += 1
    assert sizes[3] > 0 and sizes[6] > 0  # both sizes drawn: block ends are not predictable
    for _, group in groupby(allocs, key=lambda a: a.stratum):
        seqs = [a.seq for a in group]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 40


def test_the_list_depends_on_the_seed_only() -> None:
    one = generate_allocations(RATIO, STRATA, 30, seed=11)
    assert one == generate_allocations(RATIO, STRATA, 30, seed=11)
    assert list_digest(one) == list_digest(generate_allocations(RATIO, STRATA, 30, seed=11))
    assert [a.arm for a in one] != [a.arm for a in generate_allocations(RATIO, STRATA, 30, seed=12)]


def test_bad_designs_are_refused() -> None:
    with pytest.raises(InputError, match="not a multiple"):
        generate_allocations(RATIO, {}, 10, seed=1, block_sizes=[3])
    with pytest.raises(InputError, match="two or more arms"):
        generate_allocations({"a": 1}, {}, 10, seed=1)
    with pytest.raises(InputError, match="unknown stratum level"):
        stratum_key(STRATA, {"bclc_stage": "D", "site": "A"})
    with pytest.raises(InputError, match="factor missing"):
        stratum_key(STRATA, {"bclc_stage": "B"})


def _stratified_protocol() -> str:
    """NCT04011033 stratified by BCLC stage, blocks of 2 and 4 (a test protocol version)."""
    yaml_text = protocol_source("NCT04011033")
    return yaml_text.replace(
        "    strata: []\n", "    strata: [bclc_stage]\n    block_sizes: [2, 4]\n", 1
    )


@pytest.fixture
def stratified(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'strat.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    yield sessions
    engine.dispose()


def test_stratified_reveals_follow_each_strata_list(stratified) -> None:  # type: ignore[no-untyped-def]
    with stratified() as session:
        session.info["user"] = "admin"
        with pytest.raises(InputError, match="not a stratification factor"):
            setup_study(
                session,
                _stratified_protocol(),
                [("A", "Site A")],
                seed=5,
                strata={"bclc_stage": ["B", "C"], "sex": ["M", "F"]},
            )
        session.rollback()
        study = setup_study(
            session,
            _stratified_protocol(),
            [("A", "Site A")],
            seed=5,
            strata={"bclc_stage": ["B", "C"]},
            per_stratum=20,
        )
        site = session.scalars(select(Site)).one()
        expected = generate_allocations(RATIO, {"bclc_stage": ["B", "C"]}, 20, 5, [2, 4])
        by_stratum = {
            key: [a.arm for a in group] for key, group in groupby(expected, key=lambda a: a.stratum)
        }
        got: dict[str, list[str]] = {"bclc_stage=B": [], "bclc_stage=C": []}
        day = date(2026, 1, 10)
        for i, stage in enumerate("BCCBBCBCCC"):
            subject = create_subject(
                session, site, {"subjid": f"S{i}", "sex": "M", "screened_dtc": "2026-01-05"}, "c"
            )
            subject.state = "enrolled"  # the screening path is tested elsewhere
            arm = transition(
                session,
                subject,
                "randomized",
                (day + timedelta(days=i)).isoformat(),
                "c",
                {"strata": {"bclc_stage": stage}},
            ).arm_code
            got[f"bclc_stage={stage}"].append(str(arm))
        for key, arms in got.items():
            assert arms == by_stratum[key][: len(arms)], key
        assert study.id == 1
        session.commit()


def test_arms_are_concealed_until_randomization(env: Env) -> None:
    sid = env.ids["subject_A"]
    h = env.headers("coordinator")
    # Nothing in the API lists the allocations.
    paths = env.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if "random" in p or "slot" in p or "allocation" in p]
    assert env.client.get(f"/api/subjects/{sid}", headers=h).json()["arm_code"] is None
    # The audit trail records the list's creation without any arm.
    audit = env.client.get("/api/audit?limit=1000", headers=env.headers("auditor")).json()
    slots = [e for e in audit if e["table"] == "randomization_slots"]
    assert len(slots) >= 60
    assert all(json.loads(e["changes"])["arm_code"] == [None, "concealed"] for e in slots)
    # Arm names appear in the protocol text and the list's ratio, never as an allocation.
    mentions = [e for e in audit if "tace" in e["changes"] and e["table"] != "study_versions"]
    assert [e["table"] for e in mentions] == ["randomization_lists"]
    assert set(json.loads(mentions[0]["changes"])) >= {"ratio.inkt-tace", "ratio.tace"}


def test_randomizing_reveals_the_next_slot_and_logs_it(env: Env) -> None:
    sid = env.ids["subject_A"]
    with env.session() as session:
        first = session.scalars(
            select(RandomizationSlot).order_by(RandomizationSlot.seq).limit(1)
        ).one()
        expected_arm = first.arm_code
    subject = randomize_new(env, sid, date(2026, 1, 6))
    assert subject["arm_code"] == expected_arm
    assert subject["randomized_dtc"] == "2026-01-09"
    with env.session() as session:
        slot = session.scalars(
            select(RandomizationSlot).where(RandomizationSlot.subject_id == sid)
        ).one()
        assert (slot.id, slot.revealed_by) == (first.id, "coordinator")
        assert slot.revealed_at is not None
        reveal = session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")).one()
        assert reveal.user == "coordinator" and reveal.row_id == str(slot.id)
        assert json.loads(reveal.changes) == {
            "arm_code": [None, expected_arm],
            "seq": [None, 1],
            "stratum": [None, "ALL"],
            "usubjid": [None, env.ids["usubjid_A"]],
        }
    # A second randomization of the same subject is refused.
    again = move(env, sid, "randomized", "2026-01-10")
    assert again.status_code == 422


def test_two_subjects_never_share_a_slot(env: Env) -> None:
    first = randomize_new(env, env.ids["subject_A"], date(2026, 1, 6))
    h = env.headers("investigator_b")
    sid_b = env.ids["subject_B"]
    for to, day in (("consented", "2026-01-06"),):
        assert move(env, sid_b, to, day, "coordinator_b").status_code == 200
    env.client.post(
        f"/api/subjects/{sid_b}/records/FINDINGS",
        headers=env.headers("coordinator_b"),
        json=findings_payload("2026-01-06"),
    )
    from .conftest import LABS, lab_payload

    for lab in LABS:
        env.client.post(
            f"/api/subjects/{sid_b}/records/LB",
            headers=env.headers("coordinator_b"),
            json=lab_payload(*lab, "2026-01-06"),
        )
    assert move(env, sid_b, "eligible", "2026-01-07", "investigator_b").status_code == 200
    assert move(env, sid_b, "enrolled", "2026-01-08", "coordinator_b").status_code == 200
    second = move(env, sid_b, "randomized", "2026-01-09", "coordinator_b").json()
    with env.session() as session:
        slots = session.scalars(
            select(RandomizationSlot)
            .where(RandomizationSlot.subject_id.is_not(None))
            .order_by(RandomizationSlot.seq)
        ).all()
        assert [s.seq for s in slots] == [1, 2]
        assert [s.arm_code for s in slots] == [first["arm_code"], second["arm_code"]]
        assert h  # site B's investigator signed site B's subject


def test_the_list_cannot_be_regenerated(env: Env) -> None:
    with env.session() as session:
        session.info["user"] = "admin"
        from hcctrial.web.randomization import create_randomization_list

        with pytest.raises(InputError, match="cannot be regenerated"):
            create_randomization_list(session, env.ids["study"], RATIO, {}, 10, seed=1)
        rlist = session.scalars(select(RandomizationList)).one()
        assert rlist.seed == 20261122


def test_a_changed_list_is_found_by_audit_verify(env: Env) -> None:
    from hcctrial.web.admin import verify_audit

    assert verify_audit(env.url).ok
    with env.app.state.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE randomization_slots SET arm_code = CASE arm_code "
                "WHEN 'tace' THEN 'inkt-tace' ELSE 'tace' END WHERE seq = 1"
            )
        )
    report = verify_audit(env.url)
    assert not report.ok
    assert "randomization list 1" in report.problems[0]
