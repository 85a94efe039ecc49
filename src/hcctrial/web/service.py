"""What the API and the pages do to the database: study set-up, subjects and their states,
clinical records with edit checks, queries, signatures. Every change goes through a session
whose flushes are audited (:mod:`hcctrial.web.audit`); the caller commits.

Subject states (the ``to`` of each transition and the states it may come from)::

    screened -> consented -> eligible | ineligible
    eligible -> enrolled -> randomized | assigned (dose cohort) | treated
    randomized | assigned -> treated -> off_treatment
    any state after consent -> off_study; any state after consent -> died

Dates follow the order of events: a state's date is on or after the dates of the states before
it (consent excepted: screening procedures may precede or follow consent).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import hcctrial.protocol
from hcctrial.errors import InputError
from hcctrial.protocol import Protocol, load_protocol
from hcctrial.protocol.loader import parse_protocol
from hcctrial.web.checks import (
    CRS_ICANS_DOMAIN,
    FORMS,
    FieldProblem,
    is_iso_date,
    validate_form,
)
from hcctrial.web.db import (
    Query,
    QueryMessage,
    Record,
    Site,
    Study,
    StudyVersion,
    Subject,
    SubjectEvent,
    utcnow,
)
from hcctrial.web.randomization import create_randomization_list, randomize_subject

__all__ = [
    "DISPOSITION_TERMS",
    "TRANSITIONS",
    "EditCheckFailed",
    "create_subject",
    "protocol_of",
    "record_problems",
    "same_day_observation",
    "save_record",
    "setup_study",
    "subject_problems",
    "transition",
    "transition_problems",
    "visit_key",
    "visits_done",
]

#: to-state -> states it may be entered from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "consented": ("screened",),
    "eligible": ("consented",),
    "ineligible": ("consented",),
    "enrolled": ("eligible",),
    "randomized": ("enrolled",),
    "assigned": ("enrolled",),
    "treated": ("enrolled", "randomized", "assigned"),
    "off_treatment": ("treated",),
    "off_study": (
        "consented",
        "eligible",
        "ineligible",
        "enrolled",
        "randomized",
        "assigned",
        "treated",
        "off_treatment",
    ),
    "died": (
        "consented",
        "eligible",
        "ineligible",
        "enrolled",
        "randomized",
        "assigned",
        "treated",
        "off_treatment",
        "off_study",
    ),
}

#: CDISC CT NCOMPLT / DSDECOD values accepted when a subject leaves the study (C66727).
DISPOSITION_TERMS = (
    "COMPLETED",
    "ADVERSE EVENT",
    "DEATH",
    "LOST TO FOLLOW-UP",
    "PHYSICIAN DECISION",
    "PROGRESSIVE DISEASE",
    "SCREEN FAILURE",
    "STUDY TERMINATED BY SPONSOR",
    "WITHDRAWAL BY SUBJECT",
    "OTHER",
)

_DATE_OF = {
    "consented": "consented_dtc",
    "eligible": "eligibility_dtc",
    "ineligible": "eligibility_dtc",
    "enrolled": "enrolled_dtc",
    "randomized": "randomized_dtc",
    "assigned": "randomized_dtc",
    "treated": "first_treatment_dtc",
    "off_treatment": "off_treatment_dtc",
    "off_study": "off_study_dtc",
    "died": "death_dtc",
}


class EditCheckFailed(Exception):
    """Entry refused by edit checks: one message per field (HTTP 422)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def _fail(field: str, message: str) -> EditCheckFailed:
    return EditCheckFailed([FieldProblem(field=field, message=message)])


def setup_study(
    session: Session,
    protocol_yaml: str,
    sites: list[tuple[str, str]],
    *,
    seed: int | None = None,
    strata: dict[str, list[str]] | None = None,
    per_stratum: int | None = None,
) -> Study:
    """Create a study (or a new protocol version of it) from protocol YAML text.

    A randomized protocol gets its concealed list here (``seed`` required; ``per_stratum``
    defaults to the enrolment target); ``strata`` gives the levels of each stratification
    factor the protocol names.
    """
    protocol = parse_protocol(protocol_yaml, file="protocol")
    digest = hashlib.sha256(protocol_yaml.encode("utf-8")).hexdigest()
    study = session.scalar(select(Study).where(Study.protocol_id == protocol.id))
    if study is None:
        study = Study(
            protocol_id=protocol.id,
            title=protocol.title,
            enrolment_target=protocol.design.enrolment_target,
        )
        session.add(study)
        session.flush()
        version = 1
    else:
        latest = session.scalar(
            select(StudyVersion)
            .where(StudyVersion.study_id == study.id)
            .order_by(StudyVersion.version.desc())
        )
        if latest is not None and latest.protocol_sha256 == digest:
            raise InputError("this protocol version is already loaded", value=protocol.id)
        version = (latest.version if latest else 0) + 1
        study.title = protocol.title
        study.enrolment_target = protocol.design.enrolment_target
    session.add(
        StudyVersion(
            study_id=study.id, version=version, protocol_yaml=protocol_yaml, protocol_sha256=digest
        )
    )
    known = set(session.scalars(select(Site.code).where(Site.study_id == study.id)))
    session.add_all(
        Site(study_id=study.id, code=code, name=name) for code, name in sites if code not in known
    )
    session.flush()
    rand = protocol.design.randomization
    if rand is not None and version == 1:
        if seed is None:
            raise InputError("a randomized study needs a seed for its list", expected="--seed N")
        levels = strata or {}
        missing = [s for s in rand.strata if s not in levels]
        if missing:
            raise InputError("levels of stratification factors missing", value=missing)
        unknown = [s for s in levels if s not in rand.strata]
        if unknown:
            raise InputError(
                "not a stratification factor of the protocol",
                value=unknown,
                expected=", ".join(rand.strata) or "no strata (the protocol names none)",
            )
        empty = [f for f in rand.strata if not levels[f]]
        if empty:
            raise InputError("a stratification factor needs levels", value=empty)
        levels = {f: [str(v) for v in levels[f]] for f in rand.strata}
        size = per_stratum or protocol.design.enrolment_target or 100
        create_randomization_list(
            session, study.id, rand.ratio, levels, size, seed, rand.block_sizes or None
        )
    return study


def protocol_source(path_or_id: str) -> str:
    """The YAML text of a protocol file, or of a built-in protocol given by id or alias."""
    path = Path(path_or_id)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    protocol = load_protocol(path_or_id)
    builtin = Path(hcctrial.protocol.__file__).parent / "builtin" / f"{protocol.id}.yaml"
    if not builtin.is_file():
        raise InputError("protocol file not found", value=path_or_id, expected="a YAML file")
    return builtin.read_text(encoding="utf-8")


#: Parsed protocols by (study version id, SHA-256 of its YAML): a version never changes, and
#: a :class:`Protocol` is frozen, so each is parsed once per process.
_PARSED: dict[tuple[int, str], Protocol] = {}


def protocol_of(session: Session, version_id: int) -> Protocol:
    """The protocol a record or subject was collected under (parsed once per process)."""
    version = session.get(StudyVersion, version_id)
    if version is None:
        raise InputError("unknown study version", value=version_id)
    key = (version.id, version.protocol_sha256)
    protocol = _PARSED.get(key)
    if protocol is None:
        protocol = parse_protocol(version.protocol_yaml, file=f"study version {version.version}")
        _PARSED[key] = protocol
    return protocol


def current_version(session: Session, study_id: int) -> StudyVersion:
    """The newest protocol version of a study."""
    version = session.scalar(
        select(StudyVersion)
        .where(StudyVersion.study_id == study_id)
        .order_by(StudyVersion.version.desc())
    )
    if version is None:
        raise InputError("study has no protocol version", value=study_id)
    return version


def subject_problems(
    session: Session, site: Site | None, data: dict[str, Any]
) -> list[FieldProblem]:
    """Every problem of a subject registration's ``data`` (the fields that passed the type
    checks): screening and birth dates ISO 8601, not in the future, birth not after screening;
    the USUBJID not already taken (``site`` ``None``: not known, not checked)."""
    problems: list[FieldProblem] = []
    today = utcnow().date().isoformat()
    for name in ("screened_dtc", "birth_dtc"):
        value = data.get(name)
        if value is None:
            continue
        if not is_iso_date(value):
            problems.append(FieldProblem(field=name, message="not an ISO 8601 date (YYYY-MM-DD)"))
        elif value[:10] > today:
            problems.append(FieldProblem(field=name, message=f"in the future (today is {today})"))
    birth, screened = data.get("birth_dtc"), data.get("screened_dtc")
    if not problems and birth and screened and screened < birth[: len(screened)]:
        problems.append(FieldProblem(field="birth_dtc", message=f"after screening ({screened})"))
    study = None if site is None else session.get(Study, site.study_id)
    if site is not None and study is not None and (data.get("usubjid") or data.get("subjid")):
        usubjid = data.get("usubjid") or f"{study.protocol_id}-{site.code}-{data['subjid']}"
        if session.scalar(select(Subject.id).where(Subject.usubjid == usubjid)) is not None:
            field = "usubjid" if data.get("usubjid") else "subjid"
            problems.append(FieldProblem(field=field, message=f"subject {usubjid} already exists"))
    return problems


def create_subject(session: Session, site: Site, data: dict[str, Any], user: str) -> Subject:
    """Register a screened subject at ``site`` (``USUBJID`` = protocol id-site-subject)."""
    study = session.get(Study, site.study_id)
    if study is None:
        raise InputError("unknown study")
    problems = subject_problems(session, site, data)
    if problems:
        raise EditCheckFailed(problems)
    usubjid = data.get("usubjid") or f"{study.protocol_id}-{site.code}-{data['subjid']}"
    subject = Subject(
        study_id=study.id,
        site_id=site.id,
        study_version_id=current_version(session, study.id).id,
        usubjid=usubjid,
        subjid=data["subjid"],
        sex=data["sex"],
        birth_dtc=data.get("birth_dtc"),
        race=data.get("race"),
        ethnic=data.get("ethnic"),
        country=data.get("country"),
        screened_dtc=data["screened_dtc"],
        state="screened",
    )
    session.add(subject)
    session.flush()
    session.add(
        SubjectEvent(
            subject_id=subject.id,
            from_state=None,
            to_state="screened",
            event_dtc=subject.screened_dtc,
            by_user=user,
        )
    )
    session.flush()
    return subject


def _latest_date(subject: Subject) -> str | None:
    dates = [
        getattr(subject, column)
        for state, column in _DATE_OF.items()
        if state != "died" and getattr(subject, column)
    ]
    return max(dates) if dates else None


#: States whose date must be a full date (the endpoints count days from them); a death date
#: may be partial (SDTM DTHDTC), as may the end of study when only the month is known.
_PARTIAL_DATE_ALLOWED = frozenset({"died"})


def transition_problems(
    session: Session,
    subject: Subject,
    to: str | None,
    dtc: str | None,
    detail: dict[str, Any],
) -> list[FieldProblem]:
    """Every problem of moving ``subject`` to ``to`` on ``dtc`` with ``detail``, each field
    checked on its own (``None``: that field failed its type check and is not checked): the
    state machine, the date (ISO 8601, a full date except for a death; not in the future,
    not before the previous event nor birth), the arm and dose level of an assignment, the
    disposition term of leaving. Nothing is changed. (The eligibility sign-off's engine
    decision is checked by :func:`transition`, on a valid date.)"""
    problems: list[FieldProblem] = []
    if to is not None and subject.state not in TRANSITIONS.get(to, ()):
        problems.append(
            FieldProblem(field="to", message=f"a {subject.state} subject cannot become {to}")
        )
    if dtc is not None and (
        not is_iso_date(dtc) or (to not in _PARTIAL_DATE_ALLOWED and len(dtc) < 10)
    ):
        problems.append(FieldProblem(field="date", message="not an ISO 8601 date (YYYY-MM-DD)"))
    elif dtc is not None:
        today = utcnow().date().isoformat()
        latest = _latest_date(subject)
        if dtc[:10] > today:
            problems.append(FieldProblem(field="date", message=f"in the future (today is {today})"))
        elif to != "consented" and latest is not None and dtc < latest[: len(dtc)]:
            problems.append(
                FieldProblem(
                    field="date", message=f"before the subject's previous event ({latest})"
                )
            )
        elif subject.birth_dtc and dtc < subject.birth_dtc[: len(dtc)]:
            problems.append(
                FieldProblem(field="date", message=f"before birth ({subject.birth_dtc})")
            )
    protocol = protocol_of(session, subject.study_version_id)
    arm_ids = [a.id for a in protocol.arms]
    randomized_design = protocol.design.randomization is not None
    assigning = to == "assigned" or (to == "treated" and subject.arm_code is None)
    level = detail.get("dose_level")
    if to == "randomized":
        strata = detail.get("strata") or {}
        if not isinstance(strata, dict):
            problems.append(FieldProblem(field="strata", message="expected factor: level pairs"))
    elif assigning:
        if randomized_design:
            problems.append(
                FieldProblem(
                    field="to",
                    message="the arm of a randomized study comes from randomization only",
                )
            )
        else:
            chosen = detail.get("arm") or (arm_ids[0] if len(arm_ids) == 1 else None)
            if chosen not in arm_ids:
                problems.append(
                    FieldProblem(field="arm", message=f"expected one of {', '.join(arm_ids)}")
                )
            else:
                levels = next(a.dose_levels for a in protocol.arms if a.id == chosen)
                if levels and level not in levels:
                    problems.append(
                        FieldProblem(
                            field="dose_level", message=f"expected one of {', '.join(levels)}"
                        )
                    )
                if not levels and level is not None:
                    problems.append(
                        FieldProblem(field="dose_level", message=f"arm {chosen} has no dose levels")
                    )
    elif to == "off_study" and detail.get("dsdecod") not in DISPOSITION_TERMS:
        problems.append(
            FieldProblem(field="dsdecod", message=f"expected one of {', '.join(DISPOSITION_TERMS)}")
        )
    return problems


def transition(
    session: Session,
    subject: Subject,
    to: str,
    dtc: str,
    user: str,
    detail: dict[str, Any] | None = None,
) -> Subject:
    """Move ``subject`` to state ``to`` on date ``dtc`` (checks the state machine and dates).

    ``detail``: ``arm`` / ``dose_level`` for ``assigned``; ``strata`` for ``randomized``;
    ``dsdecod`` (one of :data:`DISPOSITION_TERMS`) and ``dsterm`` for ``off_study``;
    ``dsterm`` for ``died``.

    The eligibility sign-off (``eligible`` / ``ineligible``, by an investigator) runs the
    screening engine (:func:`hcctrial.eligibility.screen_patient`) on the subject's screening
    data as of ``dtc`` and keeps its decision in the event: ``eligible`` is accepted only when
    the engine finds every criterion met (an unknown criterion makes it *incomplete*: enter the
    missing data or the investigator's judgement first); ``ineligible`` against an *eligible*
    engine decision needs a reason.
    """
    from hcctrial.web.derived import subject_eligibility

    detail = dict(detail or {})
    if to not in TRANSITIONS:
        raise _fail("to", f"unknown state; expected one of {', '.join(TRANSITIONS)}")
    problems = transition_problems(session, subject, to, dtc, detail)
    if problems:
        raise EditCheckFailed(problems)
    protocol = protocol_of(session, subject.study_version_id)
    arm_ids = [a.id for a in protocol.arms]
    assigning = to == "assigned" or (to == "treated" and subject.arm_code is None)
    chosen = detail.get("arm") or (arm_ids[0] if len(arm_ids) == 1 else None)
    level = detail.get("dose_level")
    if to == "randomized":
        strata = {str(k): str(v) for k, v in (detail.get("strata") or {}).items()}
        arm = randomize_subject(session, subject, strata, user)
        subject.arm_code, subject.strata = arm, strata
        detail["arm"] = arm
    elif assigning:
        subject.arm_code, subject.dose_level = str(chosen), level
    elif to in ("eligible", "ineligible"):
        decision = subject_eligibility(session, subject, date.fromisoformat(dtc[:10]))
        detail["engine_decision"] = decision.decision
        detail["engine_detail"] = decision.detail
        if to == "eligible" and decision.decision != "eligible":
            raise _fail(
                "to",
                f"the screening engine says {decision.decision} on {dtc[:10]}: {decision.detail}",
            )
        if (
            to == "ineligible"
            and decision.decision == "eligible"
            and not session.info.get("reason")
        ):
            raise _fail(
                "reason",
                "the screening engine finds the subject eligible; say why the investigator "
                "decides otherwise",
            )
        subject.eligibility = to
        subject.eligibility_signed_by = user
    setattr(subject, _DATE_OF[to], dtc)
    event = SubjectEvent(
        subject_id=subject.id,
        from_state=subject.state,
        to_state=to,
        event_dtc=dtc,
        detail=detail or None,
        by_user=user,
    )
    subject.state = to
    session.add(event)
    session.flush()
    return subject


#: Columns the edit checks derive (standard units); sent back in a change, they are recomputed.
DERIVED_COLUMNS = frozenset({"LBSTRESN", "LBSTNRLO", "LBSTNRHI"})

#: Domain -> the date column of its visit, and the calendar events (``WHAT``) it belongs to.
_VISIT_DATE = {
    "LB": ("LBDTC", ("lab",)),
    "VS": ("VSDTC", ()),
    "TU": ("TUDTC", ("tumour-assessment",)),
    "TR": ("TRDTC", ("tumour-assessment",)),
    "EX": ("EXSTDTC", ("intervention",)),
}


def visit_key(name: object) -> str:
    """A visit name as compared: case, and runs of spaces, hyphens and underscores, do not
    count (``WEEK-4``, ``week 4`` and ``Week_4`` are the calendar's ``Week 4``)."""
    return re.sub(r"[\s_-]+", " ", str(name)).strip().casefold()


def _visit_on(calendar: list[dict[str, Any]], day: str, kinds: tuple[str, ...]) -> str | None:
    """The visit with an event of one of ``kinds`` (any event when none) whose window holds
    ``day`` (``YYYY-MM-DD``); of overlapping windows, the visit planned nearest to the day."""
    found: list[tuple[int, str]] = []
    when = date.fromisoformat(day)
    for row in calendar:
        if kinds and row.get("WHAT") not in kinds:
            continue
        lo, hi, planned = row["WINLODT"], row["WINHIDT"], row["PLANDT"]
        if lo <= when <= hi:
            found.append((abs((when - planned).days), str(row["VISIT"])))
    return min(found)[1] if found else None


def visits_done(
    calendar: list[dict[str, Any]],
    records: Iterable[tuple[str, dict[str, Any]]],
    first_treatment: str | None = None,
) -> set[str]:
    """The visits of a subject's ``calendar`` (rows of :func:`hcctrial.schedule.build_calendar`)
    that its ``records`` (domain, data) show done.

    A record marks the visit its ``VISIT`` names (compared by :func:`visit_key`). A record whose
    ``VISIT`` names no visit of the calendar (spelled otherwise, ``Wk 4``, or left empty)
    marks the visit whose window holds its date, for an event of the record's kind (a lab
    for ``LB``, a tumour assessment for ``TU``/``TR``, the intervention for ``EX``; see
    :func:`_visit_on`). The first treatment (day 0 of the calendar) is the intervention of its
    day."""
    names = {visit_key(row["VISIT"]): str(row["VISIT"]) for row in calendar}
    done: set[str] = set()
    entries = list(records)
    if first_treatment and len(first_treatment) >= 10:
        entries.append(("EX", {"EXSTDTC": first_treatment}))
    for domain, data in entries:
        label = data.get("VISIT")
        if label and visit_key(label) in names:
            done.add(names[visit_key(label)])
            continue
        spec = _VISIT_DATE.get(domain)
        day = str(data.get(spec[0]) or "")[:10] if spec else ""
        if spec is None or len(day) < 10 or not is_iso_date(day):
            continue
        visit = _visit_on(calendar, day, spec[1])
        if visit is not None:
            done.add(visit)
    return done


def visit_window_problem(
    session: Session, subject: Subject, domain: str, data: dict[str, Any]
) -> tuple[str, str] | None:
    """The field and message when a record's date is outside its visit's window on the
    subject's protocol calendar (``None`` when inside, or when the visit or calendar is not
    known). A visit out of window is a protocol deviation, not wrong data: it opens a query
    rather than refusing the entry."""
    from hcctrial.web.derived import subject_calendar

    visit, spec = data.get("VISIT"), _VISIT_DATE.get(domain)
    if not visit or spec is None or not data.get(spec[0]):
        return None
    column, kinds = spec
    calendar, _ = subject_calendar(session, subject)
    if calendar is None:
        return None
    rows = [r for r in calendar.to_dicts() if visit_key(r["VISIT"]) == visit_key(visit)]
    if kinds and any(r.get("WHAT") in kinds for r in rows):
        rows = [r for r in rows if r.get("WHAT") in kinds]
    if not rows:
        return None
    lo = min(r["WINLODT"] for r in rows).isoformat()
    hi = max(r["WINHIDT"] for r in rows).isoformat()
    day = str(data[column])[:10]
    if len(day) < 10 or lo <= day <= hi:
        return None
    return column, f"{day} is outside the {rows[0]['VISIT']} window ({lo} to {hi})"


def same_day_observation(
    session: Session, subject: Subject, day: str, record: Record | None = None
) -> Record | None:
    """The subject's active CRS/ICANS observation record of calendar day ``day[:10]`` other
    than ``record`` (the one being changed), or ``None``: one observation per subject and day."""
    query = select(Record).where(
        Record.subject_id == subject.id,
        Record.domain == CRS_ICANS_DOMAIN,
        Record.status == "active",
    )
    if record is not None and record.id is not None:
        query = query.where(Record.id != record.id)
    for other in session.scalars(query.order_by(Record.id)):
        if str(other.data.get("FADTC", ""))[:10] == day[:10]:
            return other
    return None


def record_problems(
    subject: Subject, domain: str, payload: Any
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The record data of ``payload`` for ``subject`` and every problem the form and its edit
    checks find (:func:`~hcctrial.web.checks.validate_form` with the subject's birth, death,
    sex and consent); derived columns sent back are dropped (they are recomputed)."""
    if domain not in FORMS:
        return {}, [FieldProblem(field="domain", message=f"expected one of {', '.join(FORMS)}")]
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k not in DERIVED_COLUMNS}
    return validate_form(
        domain,
        payload,
        birth=subject.birth_dtc,
        death=subject.death_dtc,
        sex=subject.sex,
        consent=subject.consented_dtc,
    )


def save_record(
    session: Session,
    subject: Subject,
    domain: str,
    payload: dict[str, Any],
    user: str,
    *,
    record: Record | None = None,
    expected_version: int | None = None,
) -> Record:
    """Create (or, given ``record``, change) a clinical record after the edit checks pass.

    A change needs ``session.info["reason"]`` and the version the user edited
    (``expected_version``): a stale version is refused (optimistic locking, HTTP 409). A date
    outside its visit's window opens a query (origin ``edit_check``) on the saved record.
    """
    data, problems = record_problems(subject, domain, payload)
    if record is not None and not session.info.get("reason"):
        problems.append(
            FieldProblem(
                field="reason", message="a change to saved data needs a reason (21 CFR 11.10(e))"
            )
        )
    if problems:
        raise EditCheckFailed(problems)
    if domain == CRS_ICANS_DOMAIN:
        same_day = same_day_observation(session, subject, str(data["FADTC"]), record)
        if same_day is not None:
            raise _fail(
                "FADTC",
                f"record {same_day.id} already holds the CRS/ICANS observations of "
                f"{str(data['FADTC'])[:10]}; change that record instead",
            )
    if record is None:
        record = Record(
            subject_id=subject.id,
            study_version_id=subject.study_version_id,
            domain=domain,
            data=data,
            created_by=user,
        )
        session.add(record)
    else:
        if record.status != "active":
            raise _fail("record", f"the record is {record.status}")
        if record.locked:
            raise _fail("record", "the record is locked and signed")
        if expected_version is not None and expected_version != record.version:
            raise StaleVersionError(record.version)
        record.data = data
    session.flush()
    window = visit_window_problem(session, subject, domain, data)
    if window is not None:
        field, message = window
        already = session.scalar(
            select(Query).where(
                Query.record_id == record.id,
                Query.field == field,
                Query.origin == "edit_check",
                Query.status != "closed",
            )
        )
        if already is None:
            open_query(
                session,
                subject,
                message,
                "edit check",
                record_id=record.id,
                field=field,
                origin="edit_check",
            )
    return record


class StaleVersionError(Exception):
    """The record changed since the user read it (HTTP 409)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the record is now at version {current}; reload and apply again")
        self.current = current


def delete_record(session: Session, record: Record) -> None:
    """Mark a record deleted (kept, with its history; needs a reason)."""
    if record.status != "active":
        raise _fail("record", f"the record is already {record.status}")
    if record.locked:
        raise _fail("record", "the record is locked and signed")
    if not session.info.get("reason"):
        raise _fail("reason", "deleting saved data needs a reason (21 CFR 11.10(e))")
    record.status = "deleted"
    session.flush()


def sign_record(session: Session, record: Record, full_name: str, meaning: str) -> None:
    """Lock and sign (21 CFR 11.50: printed name, date and time, meaning of the signature)."""
    if record.locked:
        raise _fail("record", "already signed")
    record.locked = True
    record.signed_by = full_name
    record.signed_at = utcnow()
    record.signature_meaning = meaning
    session.flush()


def open_query(
    session: Session,
    subject: Subject,
    text: str,
    user: str,
    *,
    record_id: int | None = None,
    field: str | None = None,
    origin: str = "monitor",
) -> Query:
    """Open a query on a subject (optionally one record and field)."""
    if record_id is not None:
        record = session.get(Record, record_id)
        if record is None or record.subject_id != subject.id:
            raise _fail("record_id", "no such record for this subject")
    query = Query(
        subject_id=subject.id,
        record_id=record_id,
        field=field,
        origin=origin,
        text=text,
        opened_by=user,
    )
    session.add(query)
    session.flush()
    session.add(QueryMessage(query_id=query.id, action="open", text=text, by_user=user))
    session.flush()
    return query


_QUERY_MOVES = {"answer": ("open",), "close": ("open", "answered"), "reopen": ("answered",)}
_QUERY_STATE = {"answer": "answered", "close": "closed", "reopen": "open"}


def act_on_query(session: Session, query: Query, action: str, text: str, user: str) -> Query:
    """Answer, close or reopen a query; the message joins its history."""
    if action not in _QUERY_MOVES:
        raise _fail("action", "expected answer, close or reopen")
    if query.status not in _QUERY_MOVES[action]:
        raise _fail("action", f"a {query.status} query cannot be {action}ed")
    query.status = _QUERY_STATE[action]
    session.add(QueryMessage(query_id=query.id, action=action, text=text, by_user=user))
    session.flush()
    return query
