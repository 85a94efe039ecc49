"""Results derived for one subject by the engines: eligibility (screening engine), the
protocol calendar (schedule engine), tumour response, CTCAE grades, CRS/ICANS and DLT status
(:mod:`hcctrial.web.subject_results`).

Caching. Deriving is costly (the screening engine evaluates every criterion, the response
engine runs polars pipelines) and a subject page is read far more often than its data
change. :func:`subject_derived` keeps the results per subject under the subject's *data
version*: the subject row's version (every state change increments it), the largest record
id and the sum of the record versions of the subject (an insert adds an id, an update or a
deletion increments a version: any change makes the key differ), the protocol version's
SHA-256 and the day (eligibility is as of today). The key is read from the database on every
request, so the cache is exact in every server process without any invalidation message.
Only a read transaction stores results: it sees committed data only, and committed data never
goes back to an earlier key (ids and versions only grow), whereas a writer's uncommitted state
may be rolled back and its key (SQLite reuses a rolled-back row id) later name other data.
:func:`subject_calendar` is memoized on its inputs (protocol, arm, day 0, height, weight,
dose level)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import polars as pl
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hcctrial.eligibility import PatientDecision, record_from_dict, screen_patient
from hcctrial.errors import HcctrialError
from hcctrial.schedule import build_calendar
from hcctrial.web.checks import lab_number
from hcctrial.web.db import WRITE_OPTION, Record, StudyVersion, Subject
from hcctrial.web.export import _impute_mid
from hcctrial.web.service import protocol_of, visits_done
from hcctrial.web.subject_results import (
    ResponseResult,
    SafetyResults,
    subject_adverse_events,
    subject_crs_icans,
    subject_dlt,
    subject_domains,
    subject_labs,
    subject_response,
)

__all__ = [
    "DerivedCache",
    "SubjectDerived",
    "calendar_status",
    "calendar_with_findings",
    "derived_cache",
    "subject_calendar",
    "subject_data_version",
    "subject_derived",
    "subject_eligibility",
]

T = TypeVar("T")


class DerivedCache:
    """A bounded, thread-safe least-recently-used map of derived results.

    ``capacity`` 0 switches caching off (every call derives afresh). ``hits`` and ``misses``
    count the look-ups (for tests and the benchmark)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T], store: bool = True) -> T:
        """The value under ``key``, computed (outside the lock) and kept when absent (and
        ``store``)."""
        if self.capacity > 0:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key]
        value = compute()
        with self._lock:
            self.misses += 1
            if self.capacity > 0 and store:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


def _capacity(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    return int(text) if text.isdigit() else default


#: Entries per cache (``HCCTRIAL_DERIVED_CACHE``; 0 switches caching off).
CACHE_SIZE = _capacity("HCCTRIAL_DERIVED_CACHE", 512)
#: Calendars by their inputs: a pure function of them, so one cache serves every database.
calendar_cache = DerivedCache(CACHE_SIZE)
_BY_ENGINE: WeakKeyDictionary[Engine, DerivedCache] = WeakKeyDictionary()
_BY_ENGINE_LOCK = threading.Lock()


def derived_cache(session: Session) -> DerivedCache:
    """The cache of derived subject results of ``session``'s database (one per engine: ids
    and versions are only meaningful within one database)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _BY_ENGINE_LOCK:
        cache = _BY_ENGINE.get(engine)
        if cache is None:
            cache = _BY_ENGINE[engine] = DerivedCache(CACHE_SIZE)
    return cache


def _records(session: Session, subject: Subject, domain: str) -> list[Record]:
    return list(
        session.scalars(
            select(Record)
            .where(
                Record.subject_id == subject.id,
                Record.domain == domain,
                Record.status == "active",
            )
            .order_by(Record.id)
        )
    )


def patient_dict(session: Session, subject: Subject) -> dict[str, Any]:
    """The subject as a screening-engine patient object (``docs/criteria-language.md``)."""
    findings = _records(session, subject, "FINDINGS")
    latest = findings[-1].data if findings else {}
    labs = [
        {
            "code": r.data["LBTESTCD"],
            "value": lab_number(r.data["LBORRES"]),
            "unit": r.data.get("LBORRESU") or "",
            "date": str(r.data["LBDTC"])[:10],
            **({"lln": r.data["LBORNRLO"]} if r.data.get("LBORNRLO") is not None else {}),
            **({"uln": r.data["LBORNRHI"]} if r.data.get("LBORNRHI") is not None else {}),
        }
        for r in _records(session, subject, "LB")
        if len(str(r.data["LBDTC"])) >= 10 and lab_number(r.data["LBORRES"]) is not None
    ]
    patient: dict[str, Any] = {
        "id": subject.usubjid,
        "sex": subject.sex,
        "findings": dict(latest.get("FINDINGS", {})),
        "labs": labs,
    }
    if subject.birth_dtc:
        patient["birth_date"] = _impute_mid(subject.birth_dtc).isoformat()
    for key, name in (("WEIGHT_KG", "weight_kg"), ("HEIGHT_CM", "height_cm")):
        if latest.get(key) is not None:
            patient[name] = latest[key]
    for key, name in (
        ("THERAPIES", "therapies"),
        ("CONDITIONS", "conditions"),
        ("JUDGEMENTS", "judgements"),
    ):
        if latest.get(key) is not None:
            patient[name] = latest[key]
    return patient


def subject_eligibility(session: Session, subject: Subject, as_of: date) -> PatientDecision:
    """The screening engine's decision for the subject on ``as_of`` (three-valued, explained)."""
    protocol = protocol_of(session, subject.study_version_id)
    record = record_from_dict(patient_dict(session, subject), today=as_of)
    return screen_patient(protocol, record, as_of)


def subject_calendar(session: Session, subject: Subject) -> tuple[pl.DataFrame | None, str]:
    """The subject's planned visits from the first treatment (day 0), or why there are none."""
    if not subject.first_treatment_dtc:
        return calendar_with_findings(session, subject, {})
    findings = _records(session, subject, "FINDINGS")
    return calendar_with_findings(session, subject, findings[-1].data if findings else {})


def calendar_with_findings(
    session: Session, subject: Subject, latest: dict[str, Any]
) -> tuple[pl.DataFrame | None, str]:
    """:func:`subject_calendar` given the data of the subject's latest screening findings
    record (``{}`` when none; its height and weight size body-surface doses), for a caller that
    read every subject's at once (the dashboard)."""
    if not subject.first_treatment_dtc:
        return None, "the calendar starts at the first treatment (day 0), not yet recorded"
    return _calendar(
        session,
        subject.study_version_id,
        subject.arm_code,
        subject.first_treatment_dtc[:10],
        latest.get("HEIGHT_CM"),
        latest.get("WEIGHT_KG"),
        subject.dose_level,
        subject.usubjid,
    )


def _calendar(
    session: Session,
    version_id: int,
    arm: str | None,
    day0: str,
    height: float | None,
    weight: float | None,
    dose_level: str | None,
    usubjid: str,
) -> tuple[pl.DataFrame | None, str]:
    """:func:`hcctrial.schedule.build_calendar`, memoized on exactly its inputs."""
    version = session.get(StudyVersion, version_id)
    sha = version.protocol_sha256 if version is not None else ""

    def compute() -> tuple[pl.DataFrame | None, str]:
        protocol = protocol_of(session, version_id)
        try:
            calendar = build_calendar(
                protocol, arm, day0, height, weight, dose_level=dose_level, usubjid=usubjid
            )
        except HcctrialError as exc:
            return None, str(exc)
        return calendar, ""

    key = (version_id, sha, arm, day0, height, weight, dose_level, usubjid)
    return calendar_cache.get_or_compute(key, compute)


def subject_data_version(session: Session, subject: Subject) -> tuple[Any, ...]:
    """The key that changes whenever anything derived from the subject may change: the
    subject row's version, ``(count, max id, sum of versions)`` of its records (deleted ones
    included: a deletion increments the version), its protocol version and SHA-256."""
    count, top, versions = session.execute(
        select(func.count(), func.max(Record.id), func.sum(Record.version)).where(
            Record.subject_id == subject.id
        )
    ).one()
    version = session.get(StudyVersion, subject.study_version_id)
    sha = version.protocol_sha256 if version is not None else ""
    return (
        subject.id,
        subject.version,
        int(count or 0),
        int(top or 0),
        int(versions or 0),
        subject.study_version_id,
        sha,
    )


#: Calendar rows the subject page shows.
CALENDAR_ROWS = 40


def calendar_status(
    calendar: pl.DataFrame,
    subject: Subject,
    records: list[Record],
    today: date,
    limit: int | None = CALENDAR_ROWS,
) -> list[dict[str, Any]]:
    """The first ``limit`` calendar rows (``None``: all) with ``STATUS``: ``done`` (the visit
    is done, :func:`hcctrial.web.service.visits_done`), ``overdue`` (its window closed before
    ``today``), ``window open``, or ``planned``."""
    rows = calendar.to_dicts()
    done = visits_done(rows, [(r.domain, r.data) for r in records], subject.first_treatment_dtc)
    out = []
    for row in rows[:limit]:
        if str(row["VISIT"]) in done:
            status = "done"
        elif row["WINHIDT"] < today:
            status = "overdue"
        elif row["WINLODT"] <= today:
            status = "window open"
        else:
            status = "planned"
        out.append({**row, "STATUS": status})
    return out


@dataclass(frozen=True)
class SubjectDerived:
    """Everything the subject page shows that the engines derive, with the rules used."""

    eligibility: PatientDecision
    eligibility_rule: str
    calendar: list[dict[str, Any]] | None
    calendar_reason: str
    response: list[ResponseResult]
    safety: SafetyResults
    as_of: date
    key: tuple[Any, ...]


def subject_derived(session: Session, subject: Subject, today: date) -> SubjectDerived:
    """The subject's derived results as of ``today``, from the cache when the subject's data
    version (:func:`subject_data_version`) and the day are those of a previous derivation."""
    key = (*subject_data_version(session, subject), today.isoformat())
    return derived_cache(session).get_or_compute(
        key, lambda: _derive(session, subject, today, key), store=not _is_writer(session)
    )


def _is_writer(session: Session) -> bool:
    """Whether ``session``'s transaction began as a writer (:func:`~hcctrial.web.db.begin_write`)
    or has flushed changes: its state is not yet committed."""
    conn = session.connection()
    return bool(conn.get_execution_options().get(WRITE_OPTION)) or bool(session.info.get(_FLUSHED))


_FLUSHED = "hcctrial_uncommitted_flush"


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, flush_context: Any) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _clear_flushed(session: Session) -> None:
    session.info.pop(_FLUSHED, None)


def _derive(
    session: Session, subject: Subject, today: date, key: tuple[Any, ...]
) -> SubjectDerived:
    protocol = protocol_of(session, subject.study_version_id)
    version = session.get(StudyVersion, subject.study_version_id)
    records = list(
        session.scalars(
            select(Record)
            .where(Record.subject_id == subject.id, Record.status == "active")
            .order_by(Record.id)
        )
    )
    calendar, reason = subject_calendar(session, subject)
    data = subject_domains(subject, records)
    labs, lab_rule = subject_labs(protocol, subject, data)
    aes = subject_adverse_events(records)
    daily = subject_crs_icans(subject, records)
    ctcae = f"CTCAE v{protocol.safety.ctcae_version}"
    safety = SafetyResults(
        labs=labs,
        lab_rule=lab_rule,
        adverse_events=aes,
        ae_rule=f"{ctcae} grade as recorded by the investigator",
        syndromes=[a for a in aes if a.syndrome],
        syndrome_rule=(
            "ASTCT 2019 consensus grading (Lee et al., Biol Blood Marrow Transplant "
            "2019;25:625-638): by day from the daily CRS/ICANS observations (hcctrial.safety "
            "crs and icans), and as recorded on the CRS/ICANS adverse events"
        ),
        daily=daily,
        dlt=subject_dlt(protocol, subject, data, today, daily),
    )
    return SubjectDerived(
        eligibility=subject_eligibility(session, subject, today),
        eligibility_rule=(
            f"protocol {protocol.id} version {version.version if version else '?'}: "
            f"{len(protocol.eligibility.criteria)} criteria, screening engine as of {today}"
        ),
        calendar=None if calendar is None else calendar_status(calendar, subject, records, today),
        calendar_reason=reason,
        response=subject_response(protocol, subject, data),
        safety=safety,
        as_of=today,
        key=key,
    )
