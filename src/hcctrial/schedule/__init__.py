"""Calendars and doses: each subject's planned visits, windows and doses from the protocol.

Stable API (used by :mod:`hcctrial.simulate` and the CLI)
---------------------------------------------------------
``build_calendar(protocol, arm, start_date, height_cm=None, weight_kg=None, *,
horizon_days=None, dose_level=None, usubjid=None, choices=None) -> pl.DataFrame``
    One subject. ``protocol``: a :class:`~hcctrial.protocol.Protocol`, a built-in id or a
    YAML path; ``arm``: arm id or label (``None`` for a single-arm protocol); ``start_date``:
    the date of the anchor (day 0: first TACE, first infusion ... as ``schedule.anchor`` says).
``build_calendars(protocol, subjects, *, horizon_days=None, choices=None) -> pl.DataFrame``
    Many subjects at once, vectorised (one join, no per-subject loop). ``subjects`` has
    ``USUBJID``, ``ANCHORDT`` (pl.Date or ISO text) and optional ``ARM``, ``HEIGHTBL`` (cm),
    ``WEIGHTBL`` (kg), ``DOSELEVEL``.
``flag_visits(calendar, actual) -> pl.DataFrame``
    Each planned event against what happened (SV/EX-like ``actual``): ``VISITFL`` done /
    out of window / missed / not yet due, with the reason.
``to_ics(calendar, ...) -> str``
    RFC 5545 iCalendar text (all-day events, CRLF, folded at 75 octets).

Calendar columns (:data:`CALENDAR_COLUMNS`), one row per planned event occurrence:

=============  ===========================================================================
USUBJID        subject (null when not given)
ARMCD          arm id
VISITNUM       1, 2, ...: one visit per planned day (events on the same day share it)
VISIT          ``Week 8`` when the day is a whole week from the anchor, else ``Day 10``
EVENTID        schedule event id (or intervention id for a course that ``follows``)
EVENT          the protocol's label (``CT/MRI``, ``iNKT infusion``)
KIND           procedure, infusion, drug, assessment, lab, AE review, visit
WHAT           the protocol's ``what`` (intervention, tumour-assessment, lab, ae-visit ...)
INTERVENTION   intervention id; EXTRT its name (SDTM EX.EXTRT)
OCCURRENCE     n-th occurrence of this event; CYCLE cycle number; CYCLEDAY day within a
               cycle of consecutive days (NK cells on 2 consecutive days)
DAY            day in the protocol's numbering (``day0``: anchor = 0; ``day1``: anchor = 1)
VISITDY        planned SDTM study day (anchor = 1, no day 0; SDTMIG v3.4 4.4.4)
PLANDT         planned date; WINLODT / WINHIDT the visit window (inclusive)
DURMIN/DURMAX  course length in days (IL-2 5-14 days); ENDLODT / ENDHIDT its last day
DOSE, DOSEHI   prescribed dose (DOSEHI: top of a range, e.g. 5e8-1e9 cells/m2), DOSEU unit
DOSEBASIS      flat, per-m2, per-kg
BSA            m2 (Mosteller) for per-m2 doses
EXDOSE(HI)     amount to give (cells, IU/day ...), EXDOSU its unit
DOSECALC       how it was computed, e.g. ``25,000 IU/kg/day x weight 70 kg = 1,750,000 IU/day``
=============  ===========================================================================

Rules for weeks, months, repeats, ``after``, consecutive days and ``follows`` are in
:mod:`hcctrial.schedule.template`. A schedule that cannot be built (overlapping cycles,
``after`` loops, an anchor the arm does not have, a dose basis without height/weight) raises
:class:`~hcctrial.errors.InputError`.
"""

from __future__ import annotations

from hcctrial.schedule.calendar import (
    CALENDAR_COLUMNS,
    build_calendar,
    build_calendars,
    template_frame,
)
from hcctrial.schedule.ics import to_ics
from hcctrial.schedule.template import (
    DAYS_PER_MONTH,
    EVENT_KINDS,
    PlannedEvent,
    arm_template,
    default_horizon_days,
    given_interventions,
    resolve_arm,
    unscheduled_interventions,
)
from hcctrial.schedule.visits import VISIT_FLAGS, flag_visits

__all__ = [
    "CALENDAR_COLUMNS",
    "DAYS_PER_MONTH",
    "EVENT_KINDS",
    "VISIT_FLAGS",
    "PlannedEvent",
    "arm_template",
    "build_calendar",
    "build_calendars",
    "default_horizon_days",
    "flag_visits",
    "given_interventions",
    "resolve_arm",
    "template_frame",
    "to_ics",
    "unscheduled_interventions",
]
