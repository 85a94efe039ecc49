"""Planned visits of one arm from the protocol schedule, and actual dates with jitter and misses.

:func:`planned_visits` reads the protocol's schedule events (days/weeks/months offsets from the
anchor, repeating rules, ``after`` another event) and the interventions' cycles and consecutive
days into one table of planned study days per arm. It is the simulator's minimal calendar; the
full calendar with doses is :mod:`hcctrial.schedule`.

:func:`actual_days` turns planned days into actual days: a normal jitter (sd 2 days, clipped to
the visit window) and a 5% chance that an assessment is missed (assumptions SIM-VISIT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcctrial.errors import InputError
from hcctrial.protocol import Protocol, ScheduleEvent
from hcctrial.simulate.parameters import DAYS_PER_MONTH, TOXICITY

__all__ = ["PlannedVisit", "actual_days", "planned_visits"]

#: Tumour assessments when a protocol gives none: baseline, weeks 8, 16, 24, then every 12 weeks
#: (the schedule of seed 000, a common HCC imaging schedule).
DEFAULT_ASSESSMENT_WEEKS = (0.0, 8.0, 16.0, 24.0)
DEFAULT_ASSESSMENT_REPEAT_WEEKS = 12


@dataclass(frozen=True)
class PlannedVisit:
    """One planned event of an arm: study day relative to the anchor (day 0) and its window."""

    event_id: str
    what: str
    label: str
    day: int
    before: int
    after: int
    intervention: str | None = None
    until: str = "end-of-follow-up"


def _offsets(event: ScheduleEvent, horizon: int) -> list[int]:
    days = [int(d) for d in event.days]
    days += [round(w * 7) for w in event.weeks]
    days += [round(m * DAYS_PER_MONTH) for m in event.months]
    rep = event.repeat
    if rep is not None:
        step = rep.every_days or (rep.every_weeks or 0) * 7
        if rep.every_months:
            step = round(rep.every_months * DAYS_PER_MONTH)
        start = rep.start_day if rep.start_day is not None else round((rep.start_week or 0) * 7)
        count = rep.count or 10_000
        day, k = start, 0
        while day <= horizon and k < count:
            days.append(day)
            day += step
            k += 1
    return sorted({d for d in days if d <= horizon})


def planned_visits(protocol: Protocol, arm_id: str, horizon_days: int) -> list[PlannedVisit]:
    """Planned visits of ``arm_id`` up to ``horizon_days`` after the anchor, sorted by day.

    Intervention events are kept only for interventions of the arm; an intervention's
    ``consecutive_days`` repeat each dose on following days; ``after`` offsets count from each
    occurrence of the named event (or intervention). A protocol without a tumour-assessment event
    gets :data:`DEFAULT_ASSESSMENT_WEEKS` then every 12 weeks.
    """
    try:
        arm = protocol.arm(arm_id)
    except KeyError:
        raise InputError(
            "unknown arm", value=arm_id, expected=", ".join(a.id for a in protocol.arms)
        ) from None
    # the schedule engine's checks first: a schedule that cannot be built (overlapping cycles or
    # courses, after-loops, an anchor the arm lacks) is a clear InputError naming the field
    from hcctrial.schedule import arm_template

    arm_template(protocol, arm_id, horizon_days, dose_level=next(iter(arm.dose_levels), None))
    given = set(arm.interventions)
    by_id: dict[str, list[int]] = {}
    out: list[PlannedVisit] = []
    events = sorted(protocol.schedule.events, key=lambda e: e.after is not None)
    for event in events:
        if event.what == "intervention" and event.intervention not in given:
            continue
        offsets = _offsets(event, horizon_days)
        if event.after is not None:
            bases = by_id.get(event.after, [])
            offsets = sorted({b + o for b in bases for o in offsets if b + o <= horizon_days})
        if event.what == "intervention" and event.intervention is not None:
            item = protocol.intervention(event.intervention)
            extra = (item.consecutive_days or 1) - 1
            offsets = sorted({o + k for o in offsets for k in range(extra + 1)})
            by_id.setdefault(event.intervention, []).extend(offsets)
        by_id.setdefault(event.id, []).extend(offsets)
        for day in offsets:
            out.append(
                PlannedVisit(
                    event.id,
                    event.what,
                    event.label,
                    day,
                    event.window_before_days,
                    event.window_after_days,
                    event.intervention,
                    event.repeat.until if event.repeat is not None else "end-of-follow-up",
                )
            )
    if not any(v.what == "tumour-assessment" for v in out):
        weeks = list(DEFAULT_ASSESSMENT_WEEKS)
        w = weeks[-1] + DEFAULT_ASSESSMENT_REPEAT_WEEKS
        while w * 7 <= horizon_days:
            weeks.append(w)
            w += DEFAULT_ASSESSMENT_REPEAT_WEEKS
        out += [
            PlannedVisit("imaging", "tumour-assessment", "CT/MRI", int(w * 7), 7, 7) for w in weeks
        ]
    return sorted(out, key=lambda v: (v.day, v.event_id))


def assessment_days(visits: list[PlannedVisit]) -> np.ndarray:
    """Planned study days of the tumour assessments after baseline (day > 0), sorted."""
    days = sorted({v.day for v in visits if v.what == "tumour-assessment" and v.day > 0})
    return np.asarray(days, dtype=np.int64)


def actual_days(
    rng: np.random.Generator, planned: np.ndarray, before: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Actual days (planned + jitter within the window) and a missed-visit mask.

    Jitter ~ Normal(0, 2 days) rounded and clipped to ``[-before, +after]``; a visit is missed
    with probability 0.05 (assumption SIM-VISIT). Arrays broadcast (subjects x visits).
    """
    jitter = np.rint(rng.normal(0.0, TOXICITY.visit_jitter_sd_days, planned.shape))
    jitter = np.clip(jitter, -before, after)
    missed = rng.random(planned.shape) < TOXICITY.missed_visit
    return (planned + jitter).astype(np.int64), missed
