"""The study dashboard: enrolment against target, CONSORT counts, visits due and overdue, open
queries, unresolved adverse events and CRS/ICANS, over the sites a user may see.

CONSORT counts (Schulz et al., CONSORT 2010 statement, BMJ 2010;340:c332, flow diagram:
assessed for eligibility, excluded with reasons, allocated, received the intervention,
discontinued, analysed), from the subjects' states and dates:

- screened: every registered subject; screen failures: judged ineligible, or left the study
  (or died) before enrolment; their reasons are the criteria the screening engine found failed
  at the sign-off (``fails IN-..., EX-...``), else "investigator decision", else the
  disposition term;
- eligible: signed off eligible; enrolled: with an enrolment date; allocated: randomized per arm
  (randomized design) or assigned per arm and dose cohort; treated: with a first treatment
  date; off treatment, and off study after enrolment (leaving before it is a screen failure),
  with the reason recorded at the step; died (any time after consent).

Visits: each treated subject still on study has the protocol calendar
(:func:`hcctrial.web.derived.subject_calendar`); a visit is done when a record names it in
``VISIT`` (case, spaces and hyphens aside), or, for a record whose ``VISIT`` names no visit of
the calendar, when the record's date is inside the window of one of the visit's events of its
kind (:func:`hcctrial.web.service.visits_done`); a visit not done is *overdue* when its window
closed before today (days overdue = today - window end), and *upcoming* when its window is
open today or opens within :data:`UPCOMING_DAYS`.

Cost: one query per table (subjects, sites, subject events, records, open queries), whatever
the number of subjects; calendars are memoized on their inputs
(:func:`hcctrial.web.derived.calendar_with_findings`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from hcctrial.errors import HcctrialError
from hcctrial.safety.dlt import CRS_TERM, ICANS_TERM
from hcctrial.web.checks import CRS_ICANS_DOMAIN
from hcctrial.web.db import Query, Record, Site, Study, StudyVersion, Subject, SubjectEvent
from hcctrial.web.derived import calendar_with_findings
from hcctrial.web.service import visits_done

__all__ = ["LIST_LIMIT", "UPCOMING_DAYS", "StudyDashboard", "study_dashboard"]

#: A visit whose window opens within this many days is listed as upcoming.
UPCOMING_DAYS = 14
#: Rows the dashboard page shows per list (the counts and the lists here are complete).
LIST_LIMIT = 25


@dataclass
class StudyDashboard:
    """Everything the dashboard shows for one study (the user's sites only)."""

    study: Study
    enrolment_target: int | None
    enrolled: int
    sites: list[dict[str, Any]]
    consort: dict[str, Any]
    overdue: list[dict[str, Any]] = field(default_factory=list)
    upcoming: list[dict[str, Any]] = field(default_factory=list)
    open_queries: int = 0
    oldest_query: dict[str, Any] | None = None
    unresolved_aes: list[dict[str, Any]] = field(default_factory=list)
    syndromes: dict[str, dict[str, Any]] = field(default_factory=dict)
    subjects: list[Subject] = field(default_factory=list)


def _fail_reasons(subject: Subject, events: list[SubjectEvent]) -> list[str]:
    """Why a never-enrolled subject failed screening (the criteria, or the decision)."""
    for event in events:
        detail = event.detail or {}
        if event.to_state == "ineligible":
            engine = str(detail.get("engine_detail") or "")
            if detail.get("engine_decision") == "ineligible" and engine.startswith("fails "):
                failed = engine[len("fails ") :].split(" | ")[0]
                return [c.strip() for c in failed.split(",") if c.strip()]
            return ["investigator decision"]
    for event in events:
        detail = event.detail or {}
        if event.to_state == "off_study":
            return [str(detail.get("dsdecod") or "off study")]
        if event.to_state == "died":
            return ["DEATH"]
    return []


def _consort(
    subjects: list[Subject], events: dict[int, list[SubjectEvent]], randomized: bool
) -> dict[str, Any]:
    fails = [
        s
        for s in subjects
        if s.enrolled_dtc is None
        and (s.eligibility == "ineligible" or s.off_study_dtc or s.death_dtc)
    ]
    reasons: Counter[str] = Counter()
    for s in fails:
        reasons.update(_fail_reasons(s, events.get(s.id, [])))
    allocated: Counter[str] = Counter()
    for s in subjects:
        if s.arm_code and s.enrolled_dtc:
            label = s.arm_code if randomized or not s.dose_level else f"{s.arm_code} {s.dose_level}"
            allocated[label] += 1

    def reason_of(s: Subject, state: str) -> str:
        for e in events.get(s.id, []):
            if e.to_state == state:
                d = e.detail or {}
                return str(d.get("dsdecod") or d.get("dsterm") or "reason not recorded")
        return "reason not recorded"

    off_treatment = Counter(reason_of(s, "off_treatment") for s in subjects if s.off_treatment_dtc)
    off_study = Counter(
        reason_of(s, "off_study") for s in subjects if s.off_study_dtc and s.enrolled_dtc
    )
    return {
        "screened": len(subjects),
        "screen_failures": len(fails),
        "screen_failure_reasons": reasons.most_common(5),
        "eligible": sum(1 for s in subjects if s.eligibility == "eligible"),
        "enrolled": sum(1 for s in subjects if s.enrolled_dtc),
        "allocation": "randomized" if randomized else "assigned",
        "allocated": sorted(allocated.items()),
        "treated": sum(1 for s in subjects if s.first_treatment_dtc),
        "off_treatment": sum(off_treatment.values()),
        "off_treatment_reasons": off_treatment.most_common(),
        "off_study": sum(off_study.values()),
        "off_study_reasons": off_study.most_common(),
        "died": sum(1 for s in subjects if s.death_dtc),
    }


def _visits(
    session: Session,
    subjects: list[Subject],
    records: dict[int, list[Record]],
    findings: dict[int, dict[str, Any]],
    today: date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    overdue, upcoming = [], []
    for s in subjects:
        if not s.first_treatment_dtc or s.off_study_dtc or s.death_dtc:
            continue
        calendar, _ = calendar_with_findings(session, s, findings.get(s.id, {}))
        if calendar is None:
            continue
        rows = calendar.to_dicts()
        done = visits_done(
            rows, [(r.domain, r.data) for r in records.get(s.id, [])], s.first_treatment_dtc
        )
        windows: dict[str, list[Any]] = {}
        for row in rows:
            visit = str(row["VISIT"])
            if visit in done:
                continue
            if visit not in windows:
                windows[visit] = [row["PLANDT"], row["WINLODT"], row["WINHIDT"]]
            else:  # a visit with several events: its window spans theirs
                w = windows[visit]
                w[1], w[2] = min(w[1], row["WINLODT"]), max(w[2], row["WINHIDT"])
        for visit, (planned, lo, hi) in windows.items():
            item = {"subject": s, "visit": visit, "planned": planned, "window": f"{lo} to {hi}"}
            if hi < today:
                overdue.append({**item, "days_overdue": (today - hi).days})
            elif (lo - today).days <= UPCOMING_DAYS:
                upcoming.append({**item, "days_to_window": max(0, (lo - today).days)})
    # the most recently missed first: the visits a coordinator can still catch up
    overdue.sort(key=lambda v: (v["days_overdue"], v["subject"].usubjid))
    upcoming.sort(key=lambda v: (v["planned"], v["subject"].usubjid))
    return overdue, upcoming


def study_dashboard(
    session: Session, study: Study, site_ids: set[int] | None, today: date
) -> StudyDashboard:
    """The dashboard of ``study`` over ``site_ids`` (``None``: every site) as of ``today``."""
    query = select(Subject).where(Subject.study_id == study.id).order_by(Subject.usubjid)
    site_query = select(Site).where(Site.study_id == study.id).order_by(Site.code)
    if site_ids is not None:
        query = query.where(Subject.site_id.in_(site_ids))
        site_query = site_query.where(Site.id.in_(site_ids))
    subjects = list(session.scalars(query))
    # The study's protocol versions, read once and held here: the session's identity map
    # keeps only referenced objects, and every calendar and protocol look-up asks for its
    # version (without this, one query per treated subject).
    _versions = list(session.scalars(select(StudyVersion).where(StudyVersion.study_id == study.id)))
    ids = [s.id for s in subjects]
    events: dict[int, list[SubjectEvent]] = {}
    records: list[Record] = []
    queries: list[Query] = []
    if ids:
        for e in session.scalars(
            select(SubjectEvent).where(SubjectEvent.subject_id.in_(ids)).order_by(SubjectEvent.id)
        ):
            events.setdefault(e.subject_id, []).append(e)
        records = list(
            session.scalars(
                select(Record)
                .where(
                    Record.subject_id.in_(ids),
                    Record.status == "active",
                    Record.domain.in_(
                        ("FINDINGS", "AE", "LB", "VS", "TU", "TR", "EX", CRS_ICANS_DOMAIN)
                    ),
                )
                .order_by(Record.id)
            )
        )
        queries = list(
            session.scalars(
                select(Query)
                .where(Query.subject_id.in_(ids), Query.status != "closed")
                .order_by(Query.opened_at, Query.id)
            )
        )
    by_id = {s.id: s for s in subjects}
    from hcctrial.web.service import protocol_of

    randomized = bool(subjects) and (
        protocol_of(session, subjects[0].study_version_id).design.randomization is not None
    )
    sites = []
    for site in session.scalars(site_query):
        at = [s for s in subjects if s.site_id == site.id]
        sites.append(
            {
                "code": site.code,
                "name": site.name,
                "screened": len(at),
                "enrolled": sum(1 for s in at if s.enrolled_dtc),
            }
        )
    # one pass over the records of every subject (no query per subject): each subject's
    # records, and its latest screening findings (height and weight: calendar inputs)
    by_subject: dict[int, list[Record]] = {}
    findings: dict[int, dict[str, Any]] = {}
    for r in records:
        if r.domain == "FINDINGS":
            findings[r.subject_id] = r.data  # ordered by id: the latest wins
        else:
            by_subject.setdefault(r.subject_id, []).append(r)
    records = [r for r in records if r.domain != "FINDINGS"]
    overdue, upcoming = _visits(session, subjects, by_subject, findings, today)
    aes, syndromes = _adverse_events(records, by_id)
    _daily_syndromes(records, by_id, syndromes)
    oldest = None
    if queries:
        q = queries[0]
        oldest = {
            "id": q.id,
            "subject": by_id[q.subject_id],
            "opened": q.opened_at.date(),
            "days_open": (today - q.opened_at.date()).days,
            "text": q.text,
        }
    return StudyDashboard(
        study=study,
        enrolment_target=study.enrolment_target,
        enrolled=sum(1 for s in subjects if s.enrolled_dtc),
        sites=sites,
        consort=_consort(subjects, events, randomized),
        overdue=overdue,
        upcoming=upcoming,
        open_queries=len(queries),
        oldest_query=oldest,
        unresolved_aes=aes,
        syndromes=syndromes,
        subjects=subjects,
    )


def _adverse_events(
    records: list[Record], subjects: dict[int, Subject]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Unresolved AEs (no end date), grade >= 3 first; CRS/ICANS: ongoing and maximum grade."""
    names = {CRS_TERM.casefold(): "CRS", ICANS_TERM.casefold(): "ICANS"}
    unresolved = []
    syndromes: dict[str, dict[str, Any]] = {
        name: {"ongoing": [], "max_grade": None, "subjects": 0, "subject_ids": set()}
        for name in ("CRS", "ICANS")
    }
    with_syndrome: dict[str, set[int]] = {"CRS": set(), "ICANS": set()}
    for r in records:
        if r.domain != "AE":
            continue
        d = r.data
        grade = int(d["AETOXGR"])
        item = {
            "subject": subjects[r.subject_id],
            "record_id": r.id,
            "term": d["AETERM"],
            "grade": grade,
            "start": d["AESTDTC"],
            "serious": d.get("AESER") == "Y",
        }
        syndrome = names.get(str(d.get("AEDECOD") or d["AETERM"]).casefold())
        if syndrome:
            info = syndromes[syndrome]
            info["max_grade"] = max(grade, info["max_grade"] or 0)
            with_syndrome[syndrome].add(r.subject_id)
            if not d.get("AEENDTC"):
                info["ongoing"].append(item)
        if not d.get("AEENDTC"):
            unresolved.append(item)
    for name, info in syndromes.items():
        info["subject_ids"] = with_syndrome[name]
        info["subjects"] = len(with_syndrome[name])
        info["ongoing"].sort(key=lambda a: (-a["grade"], a["start"]))
    unresolved.sort(key=lambda a: (a["grade"] < 3, -a["grade"], a["start"], a["record_id"]))
    return unresolved, syndromes


def _daily_syndromes(
    records: list[Record], subjects: dict[int, Subject], syndromes: dict[str, dict[str, Any]]
) -> None:
    """Add the ASTCT grades of the daily CRS/ICANS observations to ``syndromes``: subjects,
    maximum grade and the episodes ongoing at their last observation
    (:func:`hcctrial.safety.grade_crs_icans` over every subject at once)."""
    from hcctrial.safety import crs_icans_from_fa, grade_crs_icans
    from hcctrial.web.export import fa_rows

    rows: list[dict[str, Any]] = []
    owner: dict[str, Subject] = {}
    for r in records:
        if r.domain == CRS_ICANS_DOMAIN:
            subject = subjects[r.subject_id]
            owner[subject.usubjid] = subject
            rows += fa_rows("", subject.usubjid, r.data, f"{CRS_ICANS_DOMAIN}-{r.id}")
    if not rows:
        return
    try:
        wide, _, _ = crs_icans_from_fa(
            pl.DataFrame(rows, infer_schema_length=None), on_error="collect"
        )
        episodes = grade_crs_icans(wide.get("CRS"), wide.get("ICANS")).episodes
    except HcctrialError:
        return  # the subject page shows why an observation is not graded
    seen: dict[str, set[str]] = {"CRS": set(), "ICANS": set()}
    for e in episodes.to_dicts():
        info = syndromes[e["SYNDROME"]]
        seen[e["SYNDROME"]].add(e["USUBJID"])
        info["max_grade"] = max(int(e["MAXGR"]), info["max_grade"] or 0)
        if e["ONGOING"]:
            info["ongoing"].append(
                {
                    "subject": owner[e["USUBJID"]],
                    "grade": int(e["MAXGR"]),
                    "start": str(e["ASTDT"]),
                    "source": "daily observations",
                }
            )
    for name, ids in seen.items():
        info = syndromes[name]
        info["subject_ids"] |= {owner[u].id for u in ids}
        info["subjects"] = len(info["subject_ids"])
        info["ongoing"].sort(key=lambda a: (-a["grade"], a["start"]))
