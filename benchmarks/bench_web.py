"""Benchmark: the study database's web application on SQLite and PostgreSQL.

For each database, ``hcctrial serve`` runs in its own process on 127.0.0.1 and a load
generator of threads with httpx clients (keep-alive, API tokens) sends, each bounded by a
request count and a time limit:

- reading a subject page (``GET /subjects/{id}``: eligibility by the screening engine,
  calendar, RECIST 1.1 and mRECIST response, CTCAE lab grades, AEs, records, queries); the
  subject has the screening data of an eligible patient (findings and 20 labs), is treated,
  and has a target lesion measured at two timepoints, two post-baseline labs and two AEs
  (:data:`READ_RECORDS` records). Its data do not change during the run (the lab saves go
  to another subject), so every read is of the same page. The page is read from two servers
  in the same run: the default one, which caches derived results by the subject's data
  version, and one started with ``HCCTRIAL_DERIVED_CACHE=0``, which derives them on every
  request (what every first read after a change costs);
- saving a lab form (``POST /subjects/{id}/forms/LB``: edit checks, unit conversion, the
  visit-window check, the audited insert) on a second subject;
- the issue's concurrency load: 20 clients x 500 changes to shared records with optimistic
  locking (read, change, send back with the version; on 409 read again), then the check that
  no update was lost and every change is in the audit trail.

Requests per second (completed requests / wall time) and p50/p99 latency per request.
The audit trail's cost: the same lab record saved and committed in-process, sequentially,
through an audited session and through a session without the audit hooks (the audit entry
with its hash chain is the difference); the ratio of the median write latencies.

PostgreSQL is the throw-away cluster of ``tests/eligibility/services.py`` (apt-get installs it
when missing; ``fsync=off``, so its write figures are an upper bound for a durable setup).
The server's peak resident memory (``VmHWM``) is reported per server run.
Run: ``.venv/bin/python -m benchmarks.bench_web [--quick]``.
Writes ``benchmarks/results/web.json`` and ``benchmarks/results/web.md``.

``--dashboard LABEL`` measures only the study dashboard (``GET /``) of a 200-subject study:
requests per second and p50/p99 latency, and the SQL statements of one dashboard counted
in-process; each run is kept under its label (``before``, ``after`` a change) in
``benchmarks/results/web_dashboard.json`` and ``web_dashboard.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]
PASSWORD = "correct horse battery"

LAB = {
    "LBTESTCD": "ALT",
    "LBORRES": "52",
    "LBORRESU": "U/L",
    "LBORNRHI": "40",
    "LBDTC": "2026-01-06",
    "VISIT": "Screening",
}


def _services() -> Any:
    """``tests/eligibility/services.py`` (the throw-away PostgreSQL), imported by file path
    (registered in ``sys.modules`` first: its dataclasses look their module up there)."""
    name = "hcctrial_test_services"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "tests" / "eligibility" / "services.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _serve() -> Any:
    """``tests/web/serve.py``'s ``serve`` (the helper the concurrency tests use)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from web.serve import serve

    return serve


#: Records of the subject whose page is read (screening findings, 20 screening labs, a
#: target lesion, two measurements at two timepoints, two labs and two AEs after treatment).
READ_RECORDS = 1 + 20 + 1 + 4 + 2 + 2


def _read_subject_data(session: Any, subject: Any, save_record: Any) -> None:
    """The records after the first treatment (2026-02-07): those the tests derive by hand
    (``tests/web/serve.py``'s :func:`treated_subject_records`: a target lesion measured at
    two timepoints, platelets, a CRS AE), and a second lab and AE."""
    sys.path.insert(0, str(ROOT / "tests"))
    from web.serve import treated_subject_records

    extra = [
        (
            "LB",
            {
                "LBTESTCD": "ALT",
                "LBORRES": "130",
                "LBORRESU": "U/L",
                "LBORNRHI": 40,
                "LBDTC": "2026-03-01",
            },
        ),
        ("AE", {"AETERM": "Anaemia", "AETOXGR": "3", "AESTDTC": "2026-03-01"}),
    ]
    for domain, body in treated_subject_records() + extra:
        save_record(session, subject, domain, body, "bench")


def setup(url: str, writers: int) -> dict[str, Any]:
    """A study (NCT04011033, two sites), a screened eligible subject, ``writers`` coordinators
    with tokens, five shared lab records."""
    from hcctrial.web import auth
    from hcctrial.web.db import Record, Site, make_engine, make_sessionmaker, upgrade_database
    from hcctrial.web.service import (
        create_subject,
        protocol_source,
        save_record,
        setup_study,
        transition,
    )

    sys.path.insert(0, str(ROOT / "tests"))
    from web.conftest import LABS, findings_payload, lab_payload  # the test suite's patient

    upgrade_database(url)
    engine = make_engine(url)
    out: dict[str, Any] = {"tokens": []}
    with make_sessionmaker(engine)() as session:
        session.info["user"] = "bench"
        study = setup_study(
            session, protocol_source("NCT04011033"), [("A", "A"), ("B", "B")], seed=1
        )
        site = session.scalars(select(Site).where(Site.code == "A")).one()
        subject = create_subject(
            session,
            site,
            {"subjid": "001", "sex": "M", "birth_dtc": "1962-03-14", "screened_dtc": "2026-01-05"},
            "bench",
        )
        transition(session, subject, "consented", "2026-01-05", "bench")
        save_record(session, subject, "FINDINGS", findings_payload("2026-01-05"), "bench")
        for lab in LABS:
            save_record(session, subject, "LB", lab_payload(*lab, "2026-01-05"), "bench")
        transition(session, subject, "eligible", "2026-01-06", "bench")
        transition(session, subject, "enrolled", "2026-01-07", "bench")
        transition(session, subject, "randomized", "2026-01-08", "bench")
        transition(session, subject, "treated", "2026-02-07", "bench")
        _read_subject_data(session, subject, save_record)
        writes = create_subject(
            session,
            site,
            {"subjid": "002", "sex": "F", "birth_dtc": "1960-04-02", "screened_dtc": "2026-01-05"},
            "bench",
        )
        one_hash = auth.hash_password(PASSWORD)
        for n in range(writers):
            user = auth.add_user(
                session, f"w{n:02d}", f"W {n}", PASSWORD, [("coordinator", site.id)]
            )
            user.password_hash = one_hash
            out["tokens"].append(auth.create_api_token(session, user, "bench"))
        out["records"] = [
            save_record(session, writes, "LB", {**LAB, "LBORRES": "0"}, "bench").id
            for _ in range(5)
        ]
        out["subject"], out["write_subject"], out["study"] = subject.id, writes.id, study.id
        out["read_records"] = len(
            list(session.scalars(select(Record).where(Record.subject_id == subject.id)))
        )
        session.commit()
    engine.dispose()
    return out


def load(
    base: str, tokens: list[str], threads: int, count: int, seconds: float, request: Any
) -> dict[str, Any]:
    """``threads`` clients sending ``request(client, i)`` until ``count`` or ``seconds``."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    issued = [0]
    stop_at = time.monotonic() + seconds

    def run(token: str) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if issued[0] >= count:
                        return
                    issued[0] += 1
                    i = issued[0]
                t = time.perf_counter()
                status = request(client, i)
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    statuses[status] += 1

    start = time.perf_counter()
    workers = [
        threading.Thread(target=run, args=(tokens[i % len(tokens)],)) for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "seconds": round(wall, 2),
        "threads": threads,
        "rps": round(len(lat) / wall, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 2),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "statuses": dict(statuses),
    }


def concurrency(
    base: str, tokens: list[str], records: list[int], changes: int, seconds: float
) -> dict[str, Any]:
    """20 clients x ``changes`` increments of shared records with optimistic locking."""
    stats: Counter[str] = Counter()
    lat: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(index: int, token: str) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            for n in range(changes):
                rid = records[(index + n) % len(records)]
                while time.monotonic() < stop_at:
                    t = time.perf_counter()
                    rec = client.get(f"/api/records/{rid}").json()
                    data = {**rec["data"], "LBORRES": str(int(rec["data"]["LBORRES"]) + 1)}
                    r = client.put(
                        f"/api/records/{rid}",
                        json={"data": data, "reason": "load", "version": rec["version"]},
                    )
                    with lock:
                        if r.status_code == 200:
                            stats["accepted"] += 1
                            lat.append(time.perf_counter() - t)
                        else:
                            stats[f"status {r.status_code}"] += 1
                    if r.status_code == 200:
                        break
                else:
                    return

    start = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tokens)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    lat.sort()
    return {
        "clients": len(tokens),
        "changes_each": changes,
        "seconds": round(wall, 1),
        "accepted": stats["accepted"],
        "conflicts_409": stats["status 409"],
        "other": {k: v for k, v in stats.items() if k not in ("accepted", "status 409")},
        "changes_per_s": round(stats["accepted"] / wall, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2) if lat else None,
    }


def check_no_lost_update(url: str, records: list[int], accepted: int) -> dict[str, Any]:
    from sqlalchemy import func

    from hcctrial.web.admin import verify_audit
    from hcctrial.web.db import AuditEntry, Record, make_engine, make_sessionmaker

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        total = sum(
            int(r.data["LBORRES"])
            for r in session.scalars(select(Record).where(Record.id.in_(records)))
        )
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.table_name == "records",
                AuditEntry.action == "update",
                AuditEntry.row_id.in_([str(r) for r in records]),
            )
        )
    engine.dispose()
    return {
        "sum_of_values": total,
        "audited_updates": audited,
        "accepted": accepted,
        "no_lost_update": total == accepted == audited,
        "chain_ok": verify_audit(url).ok,
    }


def audit_cost(url: str, n: int, subject_id: int) -> dict[str, Any]:
    """Median commit latency of one lab record, audited vs not (in-process, sequential)."""
    from hcctrial.web.db import Subject, begin_write, make_engine, make_sessionmaker
    from hcctrial.web.service import save_record

    engine = make_engine(url)
    kinds = {
        "audited": make_sessionmaker(engine),
        "no_audit": sessionmaker(bind=engine, expire_on_commit=False),
    }
    out: dict[str, Any] = {}
    for name, factory in kinds.items():
        times = []
        for i in range(n + 20):
            t = time.perf_counter()
            with factory() as session:
                begin_write(session)
                session.info["user"] = "bench"
                subject = session.get(Subject, subject_id)
                save_record(session, subject, "LB", {**LAB, "LBORRES": str(i)}, "bench")
                session.commit()
            if i >= 20:  # warm-up left out
                times.append(time.perf_counter() - t)
        out[f"{name}_p50_ms"] = round(1000 * statistics.median(times), 3)
    out["ratio"] = round(out["audited_p50_ms"] / out["no_audit_p50_ms"], 2)
    out["writes"] = n
    engine.dispose()
    return out


def bench_backend(url: str, quick: bool, changes: int | None = None) -> dict[str, Any]:
    serve = _serve()
    made = setup(url, 20)
    sid, wid = made["subject"], made["write_subject"]
    count, secs = (300, 10) if quick else (3000, 30)
    changes = changes or (20 if quick else 500)
    result: dict[str, Any] = {"subject_page_records": made["read_records"]}

    def read(c: Any, i: int) -> int:
        return int(c.get(f"/subjects/{sid}").status_code)

    servers = {}
    for cache, env in (("off", {"HCCTRIAL_DERIVED_CACHE": "0"}), ("on", {})):
        with serve(url, env) as server:
            load(server.base, made["tokens"], 2, 20, 30, read)  # warm-up: imports, pools
            for threads in (1, 8):
                result[f"read_subject_page_cache_{cache}_{threads}t"] = load(
                    server.base, made["tokens"], threads, count, secs, read
                )
            if cache == "on":
                for threads in (1, 8):
                    result[f"save_lab_form_{threads}t"] = load(
                        server.base,
                        made["tokens"],
                        threads,
                        count,
                        secs,
                        lambda c, i: int(
                            c.post(
                                f"/subjects/{wid}/forms/LB", data={**LAB, "LBORRES": str(i)}
                            ).status_code
                        ),
                    )
                result["concurrency_20x"] = concurrency(
                    server.base, made["tokens"], made["records"], changes, 600
                )
            servers[cache] = server.peak_rss_mb()
    result["server_peak_rss_mb"] = servers
    result["concurrency_check"] = check_no_lost_update(
        url, made["records"], result["concurrency_20x"]["accepted"]
    )
    result["audit_cost"] = audit_cost(url, 100 if quick else 500, wid)
    return result


#: Subjects of the dashboard study (NCT04162158 plans 200 patients at three hospitals).
DASHBOARD_SUBJECTS = 200


def setup_dashboard(url: str, n: int) -> dict[str, Any]:
    """NCT04011033 at three sites with ``n`` subjects: every third one screened only, the others
    enrolled, randomized (arms alternating) and treated on a day of 2026 (so each has its own
    calendar), with screening findings (height and weight: calendar inputs), half with the
    Week 4 TACE recorded, every fifth with an ongoing grade 3 AE; a statistician (every site)
    with an API token."""
    from datetime import date, timedelta

    from hcctrial.web import auth
    from hcctrial.web.db import Site, make_engine, make_sessionmaker, upgrade_database
    from hcctrial.web.service import create_subject, protocol_source, save_record, setup_study

    upgrade_database(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        session.info["user"] = "bench"
        study = setup_study(
            session,
            protocol_source("NCT04011033"),
            [("A", "A"), ("B", "B"), ("C", "C")],
            seed=1,
            per_stratum=n,
        )
        sites = list(session.scalars(select(Site).where(Site.study_id == study.id)))
        for i in range(n):
            subject = create_subject(
                session,
                sites[i % len(sites)],
                {"subjid": f"{i:04d}", "sex": "MF"[i % 2], "screened_dtc": "2026-01-05"},
                "bench",
            )
            if i % 3 == 0:
                continue
            day0 = date(2026, 1, 20) + timedelta(days=i % 200)
            subject.state, subject.consented_dtc = "treated", "2026-01-05"
            subject.eligibility, subject.eligibility_dtc = "eligible", "2026-01-06"
            subject.enrolled_dtc = subject.randomized_dtc = "2026-01-07"
            subject.arm_code = ("inkt-tace", "tace")[i % 2]
            subject.first_treatment_dtc = day0.isoformat()
            session.flush()
            findings = {"FINDINGS": {"ecog": 1}, "DTC": "2026-01-06"}
            save_record(session, subject, "FINDINGS", findings | {"HEIGHT_CM": 170}, "bench")
            if i % 2 == 0:
                tace = {"EXTRT": "TACE", "VISIT": "Week 4"}
                tace["EXSTDTC"] = (day0 + timedelta(days=28)).isoformat()
                if tace["EXSTDTC"] <= date.today().isoformat():
                    save_record(session, subject, "EX", tace, "bench")
            if i % 5 == 0:
                ae = {"AETERM": "Anaemia", "AETOXGR": "3", "AESTDTC": day0.isoformat()}
                save_record(session, subject, "AE", ae, "bench")
        user = auth.add_user(session, "stat", "Statistician", PASSWORD, [("statistician", None)])
        token = auth.create_api_token(session, user, "bench")
        session.commit()
        study_id = study.id
    engine.dispose()
    return {"token": token, "study": study_id}


def dashboard_queries(url: str, study_id: int) -> dict[str, Any]:
    """SQL statements and median in-process time of one :func:`study_dashboard` over every
    site (after a warm-up call that fills the calendar cache)."""
    from datetime import UTC, datetime

    from sqlalchemy import event

    from hcctrial.web.dashboard import study_dashboard
    from hcctrial.web.db import Study, make_engine, make_sessionmaker

    engine = make_engine(url)
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    today = datetime.now(UTC).date()
    times, counts = [], []
    for i in range(6):
        with make_sessionmaker(engine)() as session:
            study = session.get(Study, study_id)
            statements[0] = 0
            t = time.perf_counter()
            board = study_dashboard(session, study, None, today)
            if i:  # the first call fills the calendar cache
                times.append(time.perf_counter() - t)
                counts.append(statements[0])
    engine.dispose()
    return {
        "subjects": len(board.subjects),
        "statements": max(counts),
        "p50_ms": round(1000 * statistics.median(times), 1),
        "overdue": len(board.overdue),
        "upcoming": len(board.upcoming),
    }


def bench_dashboard(url: str, quick: bool) -> dict[str, Any]:
    """The dashboard page (``GET /``) of a :data:`DASHBOARD_SUBJECTS`-subject study over every
    site, served and in-process."""
    serve = _serve()
    made = setup_dashboard(url, DASHBOARD_SUBJECTS)
    result: dict[str, Any] = {"in_process": dashboard_queries(url, made["study"])}
    count, secs = (30, 10) if quick else (300, 60)

    def read(c: Any, i: int) -> int:
        return int(c.get("/").status_code)

    with serve(url) as server:
        load(server.base, [made["token"]], 1, 3, 60, read)  # warm-up: imports, calendars
        for threads in (1, 4):
            result[f"dashboard_{threads}t"] = load(
                server.base, [made["token"]], threads, count, secs, read
            )
    return result


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _dashboard_md(runs: dict[str, Any]) -> str:
    lines = [
        "## Web application: the study dashboard",
        "",
        f"The dashboard page (`GET /`, a statistician: every site) of NCT04011033 with "
        f"{DASHBOARD_SUBJECTS} subjects at three sites (two thirds treated, each with its own "
        "protocol calendar; findings, Week 4 TACE for half, open AEs); `hcctrial serve` on "
        "127.0.0.1, httpx clients with an API token. *SQL statements*: statements one "
        "dashboard sends, counted in-process (after a warm-up call), and its overdue / upcoming "
        "visits. Each run names its code (*before*: two queries per treated subject, its "
        "latest findings for its calendar and its protocol version, which the session's "
        "identity map had let go; *after*: one query per table, and visits also done by a "
        "record dated in their window or by the first treatment, hence fewer overdue) and the "
        "load average (1, 5, 15 min) when it started; the machine has 2 cores shared with "
        "other jobs.",
        "",
        "| code | measured | load | database | SQL statements | overdue / upcoming "
        "| in-process p50 ms | clients | requests | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        for db, r in run["results"].items():
            q = r["in_process"]
            for key in sorted(k for k in r if k.startswith("dashboard_")):
                x = r[key]
                lines.append(
                    f"| {label} | {run['date']} | {run['load']} | {db} | {q['statements']} | "
                    f"{q['overdue']} / {q['upcoming']} | "
                    f"{q['p50_ms']} | {x['threads']} | {x['requests']} | {x['rps']} | "
                    f"{x['p50_ms']} | {x['p99_ms']} |"
                )
    return "\n".join(lines) + "\n"


def main_dashboard(label: str, quick: bool, postgres: bool) -> None:
    """Measure the dashboard; the run is kept under ``label`` in ``web_dashboard.json`` beside
    the earlier runs (so before and after a change stay side by side)."""
    load_average = _load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = bench_dashboard(f"sqlite:///{tmp}/dashboard.db", quick)
    if postgres:
        services = _services()
        with services.postgres() as server:
            url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
            results["PostgreSQL"] = bench_dashboard(url, quick)
    path = RESULTS / "web_dashboard.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[label] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": load_average,
        "quick": quick,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(runs, indent=2))
    (RESULTS / "web_dashboard.md").write_text(_dashboard_md(runs))
    print(_dashboard_md(runs))


def _md(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "## Web application (study database)",
        "",
        f"Measured {meta['date']} on {meta['machine']} ({meta['cpus']} CPUs), Python "
        f"{meta['python']}; `hcctrial serve` on 127.0.0.1 in its own process, load from "
        "threads with httpx clients (API tokens, keep-alive). PostgreSQL: the throw-away "
        "test cluster with fsync=off.",
        "",
        "The machine has 2 cores shared with other jobs that ran at the same time (other "
        "engineers' tests and builds), so absolute figures are noisy; the cache on/off rows "
        "of one database ran minutes apart in the same run.",
        "",
        "The subject page: the subject has "
        f"{next(iter(results.values()))['subject_page_records']} records (screening findings "
        "and labs, a target lesion measured twice, labs and AEs after treatment). *cache on*: "
        "derived results (eligibility, calendar, RECIST 1.1/mRECIST, CTCAE grades, CRS/ICANS) "
        "kept per subject data version; *cache off*: the server started with "
        "`HCCTRIAL_DERIVED_CACHE=0`, deriving on every request, which is also the cost of "
        "the first read after each change. The lab saves go to another subject.",
        "",
        "| database | what | derived-results cache | clients | requests | req/s | p50 ms "
        "| p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for db, r in results.items():
        for key in sorted(k for k in r if k.startswith(("read", "save"))):
            x = r[key]
            what = "read a subject page" if key.startswith("read") else "save a lab form"
            cache = "off" if "cache_off" in key else "on"
            lines.append(
                f"| {db} | {what} | {cache} | {x['threads']} | {x['requests']} | {x['rps']} | "
                f"{x['p50_ms']} | {x['p99_ms']} |"
            )
    lines += [
        "",
        "Peak resident memory of the server process (VmHWM), MiB: "
        + "; ".join(
            f"{db} cache off {r['server_peak_rss_mb']['off']}, cache on (reads, saves, "
            f"concurrency) {r['server_peak_rss_mb']['on']}"
            for db, r in results.items()
        )
        + ".",
    ]
    lines += [
        "",
        "Concurrency: 20 clients, each its own user, x N changes to 5 shared lab records "
        "with optimistic locking (a 409 is read again and retried).",
        "",
        "| database | changes | seconds | changes/s | 409s | p50 ms | p99 ms | "
        "no lost update | audit chain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for db, r in results.items():
        c, k = r["concurrency_20x"], r["concurrency_check"]
        lines.append(
            f"| {db} | {c['clients']} x {c['changes_each']} = {c['accepted']} | "
            f"{c['seconds']} | {c['changes_per_s']} | {c['conflicts_409']} | "
            f"{c['p50_ms']} | {c['p99_ms']} | "
            f"{'yes' if k['no_lost_update'] else 'NO'} (sum {k['sum_of_values']}, "
            f"{k['audited_updates']} audited) | {'intact' if k['chain_ok'] else 'BROKEN'} |"
        )
    lines += [
        "",
        "Cost of the audit trail: one lab record saved and committed in-process, "
        "sequentially, median of N writes.",
        "",
        "| database | audited p50 ms | without audit p50 ms | ratio |",
        "|---|---|---|---|",
    ]
    for db, r in results.items():
        a = r["audit_cost"]
        lines.append(f"| {db} | {a['audited_p50_ms']} | {a['no_audit_p50_ms']} | {a['ratio']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--pg-changes",
        type=int,
        default=None,
        help="changes per client on PostgreSQL (default as SQLite: 500)",
    )
    parser.add_argument(
        "--dashboard",
        metavar="LABEL",
        help="measure only the study dashboard, kept under LABEL in web_dashboard.md/.json "
        "(e.g. before, after)",
    )
    args = parser.parse_args()
    if args.dashboard:
        main_dashboard(args.dashboard, args.quick, not args.no_postgres)
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = bench_backend(f"sqlite:///{tmp}/bench.db", args.quick)
    if not args.no_postgres:
        services = _services()
        with services.postgres() as server:
            results["PostgreSQL"] = bench_backend(
                f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres",
                args.quick,
                args.pg_changes,
            )
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    (RESULTS / "web.md").write_text(_md(results, meta))
    print(_md(results, meta))


if __name__ == "__main__":
    main()
