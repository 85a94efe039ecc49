"""The planned events of one arm, in days from the anchor: the subject-free part of a calendar.

A protocol's ``schedule`` lists events with fixed offsets (``days``, ``weeks``, ``months``), a
repeating rule (``repeat``) and an optional reference event (``after``). This module turns them
into one :class:`PlannedEvent` per occurrence, relative to the anchor (offset 0), and checks
that the schedule can be built: the anchor is where the protocol says, cycles of the same
intervention do not overlap, and ``after`` references resolve without a loop.

Conventions (documented in ``docs/readme/schedule.md``):

- week ``w`` is ``round(7 w)`` days after the anchor (protocol schema: "week 1 = day 7 after a
  day-0 anchor"); month ``m`` is ``round(30.4375 m)`` days (365.25 / 12 days per month, the
  month length of ``admiral::compute_duration(out_unit = "months")``);
- ``days`` are written in the protocol's own numbering: with ``day_numbering: day1`` the anchor
  is day 1 and there is no day 0 (CDISC SDTMIG v3.4, section 4.4.4, --DY);
- a repeat starts at ``start_day``/``start_week``, else one interval after the last fixed
  offset, else at the anchor; it runs to the horizon (``end-of-follow-up``, ``progression``,
  ``death``, ``withdrawal``: the plan cannot know the last two in advance) or to the last
  planned treatment day (``end-of-treatment``), at most ``count`` times;
- an intervention with ``consecutive_days: k`` is given on ``k`` consecutive days from each
  planned cycle start (NK cells "on two consecutive days");
- an intervention in the arm that ``follows`` another and has no schedule event of its own
  starts the day after each occurrence of the one it follows and lasts ``duration_days`` (IL-2
  "for 5 to 14 days after each infusion", NCT04011033).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hcctrial.errors import InputError
from hcctrial.protocol import Dose, Intervention, Protocol, ScheduleEvent
from hcctrial.schedule.checks import check_anchor, check_overlaps

__all__ = [
    "DAYS_PER_MONTH",
    "EVENT_KINDS",
    "PlannedEvent",
    "arm_template",
    "default_horizon_days",
    "given_interventions",
    "resolve_arm",
    "unscheduled_interventions",
]

#: 365.25 / 12: mean Gregorian month (admiral ``compute_duration``, ``out_unit = "months"``).
DAYS_PER_MONTH = 365.25 / 12

#: Calendar kinds, from the protocol's ``what`` (and the intervention's ``kind``).
EVENT_KINDS = ("procedure", "infusion", "drug", "assessment", "lab", "AE review", "visit")

_KIND_OF_WHAT = {
    "tumour-assessment": "assessment",
    "lab": "lab",
    "pk-sample": "lab",
    "biomarker-sample": "lab",
    "ae-visit": "AE review",
}
_KIND_OF_INTERVENTION = {
    "procedure": "procedure",
    "device": "procedure",
    "biological": "infusion",
    "drug": "drug",
    "other": "procedure",
}


@dataclass(frozen=True)
class PlannedEvent:
    """One planned occurrence of a schedule event, ``offset`` days after the anchor."""

    event_id: str
    what: str
    kind: str
    label: str
    offset: int
    occurrence: int
    window_before: int
    window_after: int
    intervention: str | None = None
    treatment: str | None = None
    cycle: int | None = None
    cycle_day: int | None = None
    duration_min: int | None = None
    duration_max: int | None = None
    dose: Dose | None = None
    source: str | None = None


def _where(protocol: Protocol) -> str:
    return f"protocol {protocol.id}"


def resolve_arm(protocol: Protocol, arm: str | None) -> str:
    """The arm id for ``arm`` (an id or a label, any case); the only arm when ``None``."""
    ids = [a.id for a in protocol.arms]
    if arm is None:
        if len(ids) == 1:
            return ids[0]
        raise InputError(
            "this protocol has several arms; choose one",
            file=_where(protocol),
            expected="--arm " + " or ".join(ids),
        )
    wanted = str(arm).strip().casefold()
    for item in protocol.arms:
        if wanted in (item.id.casefold(), item.label.casefold()):
            return item.id
    raise InputError(
        "unknown arm", file=_where(protocol), value=arm, expected="one of " + ", ".join(ids)
    )


def default_horizon_days(protocol: Protocol) -> int:
    """Planned follow-up in days: ``round(follow_up.duration_months x 30.4375)``."""
    return round(protocol.follow_up.duration_months * DAYS_PER_MONTH)


def _dose_of(protocol: Protocol, item: Intervention, arm_id: str, level: str | None) -> Dose | None:
    if not item.dose_from_levels:
        return item.dose
    levels = list(protocol.arm(arm_id).dose_levels) or [d.id for d in protocol.dose_levels]
    if level is None:
        if len(levels) == 1:
            level = levels[0]
        else:
            raise InputError(
                f"the dose of {item.id!r} comes from the dose level; choose one",
                file=_where(protocol),
                expected="dose_level one of " + ", ".join(levels),
            )
    if level not in levels:
        raise InputError(
            "unknown dose level",
            file=_where(protocol),
            value=level,
            expected="one of " + ", ".join(levels),
        )
    return protocol.dose_level(level).dose


def _fixed_offsets(protocol: Protocol, event: ScheduleEvent, index: int) -> list[float]:
    """Offsets from the anchor in days, not yet rounded (a repeat counts on from them)."""
    day1 = protocol.schedule.anchor.day_numbering == "day1"
    out: list[float] = []
    for day in event.days:
        if day1 and day == 0:
            raise InputError(
                "day 0 does not exist when the anchor is day 1",
                file=_where(protocol),
                column=f"schedule.events[{index}].days",
                value=day,
                expected="1 for the anchor day, -1 for the day before",
            )
        out.append(float(day - 1 if day1 and day > 0 else day))
    out += [7.0 * w for w in event.weeks]
    out += [DAYS_PER_MONTH * m for m in event.months]
    return out


class _Resolver:
    """Offsets of each event in one arm, resolving ``after`` and end-of-treatment on demand."""

    def __init__(self, protocol: Protocol, arm_id: str, horizon: int, given: set[str]) -> None:
        self.protocol = protocol
        self.horizon = horizon
        self.arm = given
        self.events = {e.id: (i, e) for i, e in enumerate(protocol.schedule.events)}
        self.done: dict[str, list[tuple[int, int | None]]] = {}
        self.stack: list[str] = []

    def in_arm(self, event: ScheduleEvent, seen: frozenset[str] = frozenset()) -> bool:
        """Whether the event belongs to this arm (its intervention, or what it comes after)."""
        if event.intervention is not None and event.intervention not in self.arm:
            return False
        ref = event.after
        if ref is None or ref in seen:
            return True  # a loop is reported by offsets()
        if ref in self.events:
            return self.in_arm(self.events[ref][1], seen | {event.id})
        return ref in self.arm

    def references(self, ref: str) -> list[tuple[int, int | None]]:
        """(offset, cycle) of each occurrence of an event id or of an intervention id."""
        if ref in self.events:
            named = [ref]
        else:
            named = [
                eid
                for eid, (_, event) in self.events.items()
                if event.intervention == ref and self.in_arm(event)
            ]
        out: list[int] = []
        for eid in named:
            event = self.events[eid][1]
            # after a cycle given on consecutive days, count from its last day
            extra = 0
            if event.intervention is not None and event.intervention in self.arm:
                extra = (self.protocol.intervention(event.intervention).consecutive_days or 1) - 1
            out += [d + extra for d, _ in self.offsets(eid)]
        return [(d, n) for n, d in enumerate(sorted(set(out)), start=1)]

    def end_of_treatment(self, asking: str) -> int:
        last = None
        for eid, (_, event) in self.events.items():
            if event.what == "intervention" and eid != asking and self.in_arm(event):
                days = [d for d, _ in self.offsets(eid)]
                if days:
                    last = max(days) if last is None else max(last, *days)
        return self.horizon if last is None else min(last, self.horizon)

    def offsets(self, event_id: str) -> list[tuple[int, int | None]]:
        if event_id in self.done:
            return self.done[event_id]
        index, event = self.events[event_id]
        if event_id in self.stack:
            loop = " -> ".join([*self.stack[self.stack.index(event_id) :], event_id])
            raise InputError(
                "schedule events refer to each other in a loop",
                file=_where(self.protocol),
                column=f"schedule.events[{index}].after",
                value=loop,
                expected="'after' chains that end at an event with fixed days/weeks",
            )
        self.stack.append(event_id)
        exact = _fixed_offsets(self.protocol, event, index)
        relative = [round(d) for d in exact]
        rep = event.repeat
        if rep is not None:
            step = (
                rep.every_days
                if rep.every_days
                else 7 * rep.every_weeks
                if rep.every_weeks
                else DAYS_PER_MONTH * (rep.every_months or 0)
            )
            if rep.start_day is not None:
                first = float(rep.start_day)
            elif rep.start_week is not None:
                first = 7 * rep.start_week
            else:
                first = max(exact) + step if exact else 0.0
            end = self.horizon
            if rep.until == "end-of-treatment":
                end = self.end_of_treatment(event_id)
            k = 0
            while rep.count is None or k < rep.count:
                day = round(first + k * step)
                if day > end:
                    break
                relative.append(day)
                k += 1
        relative = sorted(set(relative))
        if event.after is None:
            result: list[tuple[int, int | None]] = [(d, None) for d in relative]
        else:
            result = []
            for ref_day, ref_cycle in self.references(event.after):
                result += [(ref_day + d, ref_cycle) for d in relative]
        self.stack.pop()
        result = sorted({r for r in result if r[0] <= self.horizon})
        self.done[event_id] = result
        return result


def _intervention_index(protocol: Protocol, intervention_id: str) -> int:
    return [i.id for i in protocol.interventions].index(intervention_id)


def _course(
    protocol: Protocol, item: Intervention, arm_id: str, level: str | None
) -> tuple[str, Dose | None, int | None, int | None]:
    kind = _KIND_OF_INTERVENTION[item.kind]
    span = item.duration_days
    return (
        kind,
        _dose_of(protocol, item, arm_id, level),
        span.low if span else None,
        span.high if span else None,
    )


def given_interventions(
    protocol: Protocol, arm_id: str, choices: Sequence[str] | None = None
) -> list[str]:
    """The arm's interventions one subject receives: of each ``choice_group`` (sorafenib or
    regorafenib or lenvatinib) only the one in ``choices``, by default the first listed."""
    items = list(protocol.arm(arm_id).interventions)
    chosen = list(choices or [])
    for choice in chosen:
        if choice not in items or protocol.intervention(choice).choice_group is None:
            groups = sorted({g for i in items if (g := protocol.intervention(i).choice_group)})
            options = [i for i in items if protocol.intervention(i).choice_group]
            raise InputError(
                "not an alternative of a choice group in this arm",
                file=_where(protocol),
                value=choice,
                expected=f"one of {', '.join(options)} (groups {', '.join(groups)})"
                if options
                else "no choice (this arm has no choice groups)",
            )
    out: list[str] = []
    taken: set[str] = set()
    for item_id in items:
        group = protocol.intervention(item_id).choice_group
        if group is None:
            out.append(item_id)
            continue
        in_group = [c for c in chosen if protocol.intervention(c).choice_group == group]
        if len(in_group) > 1:
            raise InputError(
                f"two alternatives of choice group {group!r} chosen",
                file=_where(protocol),
                value=in_group,
                expected="one per group",
            )
        pick = in_group[0] if in_group else None
        if group not in taken and (pick is None or pick == item_id):
            out.append(item_id)
            taken.add(group)
    return out


def _cycle_days(
    offsets: list[tuple[int, int | None]], per_cycle: int, after: bool
) -> list[tuple[int, int, int | None]]:
    """(day, cycle, day of cycle) for an intervention given on ``per_cycle`` consecutive days.

    When the listed days already come in runs of ``per_cycle`` consecutive days (``days:
    [15, 16, 43, 44]``) each run is a cycle; otherwise each listed day starts a cycle.
    """
    days = [d for d, _ in offsets]
    if per_cycle == 1:
        return [(d, c if after and c else n, None) for n, (d, c) in enumerate(offsets, start=1)]
    runs: list[list[tuple[int, int | None]]] = []
    for day, cycle in offsets:
        if runs and day == runs[-1][-1][0] + 1 and not after:
            runs[-1].append((day, cycle))
        else:
            runs.append([(day, cycle)])
    if len(days) > 1 and all(len(run) == per_cycle for run in runs):
        return [
            (d, n, j + 1) for n, run in enumerate(runs, start=1) for j, (d, _) in enumerate(run)
        ]
    return [
        (d + j, c if after and c else n, j + 1)
        for n, (d, c) in enumerate(offsets, start=1)
        for j in range(per_cycle)
    ]


def arm_template(
    protocol: Protocol,
    arm_id: str,
    horizon_days: int,
    dose_level: str | None = None,
    choices: Sequence[str] | None = None,
) -> list[PlannedEvent]:
    """Every planned event of one arm up to ``horizon_days``, sorted by day.

    ``choices``: the alternative given of each choice group (default: the first listed).
    An intervention event repeated every day (a continuous oral drug) is one row, a course
    from its first day to the horizon, not one row per day.

    Raises
    ------
    InputError
        The schedule cannot be built: a loop of ``after`` references, cycles or courses of one
        intervention that overlap, an anchor event that this arm does not have or that is not
        on day 0, a ``follows`` reference without occurrences, a dose level to choose.
    """
    arm_items = given_interventions(protocol, arm_id, choices)
    resolver = _Resolver(protocol, arm_id, horizon_days, set(arm_items))
    rows: list[PlannedEvent] = []
    scheduled: set[str] = set()
    for event_id, (_, event) in resolver.events.items():
        if not resolver.in_arm(event):
            continue
        offsets = resolver.offsets(event_id)
        if event.intervention is None:
            kind = _KIND_OF_WHAT.get(event.what, "visit")
            for offset, ref_cycle in offsets:
                rows.append(
                    PlannedEvent(
                        event_id=event_id,
                        what=event.what,
                        kind=kind,
                        label=event.label,
                        offset=offset,
                        occurrence=0,
                        window_before=event.window_before_days,
                        window_after=event.window_after_days,
                        cycle=ref_cycle,
                        source=event.source,
                    )
                )
            continue
        item = protocol.intervention(event.intervention)
        scheduled.add(item.id)
        kind, dose, dur_min, dur_max = _course(protocol, item, arm_id, dose_level)
        daily = event.repeat is not None and event.repeat.every_days == 1
        if daily and offsets:
            # a continuous daily drug: one course from its first day through the horizon
            span = offsets[-1][0] - offsets[0][0] + 1
            planned: list[tuple[int, int, int | None]] = [(offsets[0][0], 1, None)]
            dur_min = dur_max = span
        else:
            planned = _cycle_days(offsets, item.consecutive_days or 1, event.after is not None)
        for offset, cycle, cycle_day in planned:
            rows.append(
                PlannedEvent(
                    event_id=event_id,
                    what=event.what,
                    kind=kind,
                    label=event.label,
                    offset=offset,
                    occurrence=0,
                    window_before=event.window_before_days,
                    window_after=event.window_after_days,
                    intervention=item.id,
                    treatment=item.name,
                    cycle=cycle,
                    cycle_day=cycle_day,
                    duration_min=dur_min,
                    duration_max=dur_max,
                    dose=dose,
                    source=event.source or item.source,
                )
            )
    for item_id in arm_items:
        item = protocol.intervention(item_id)
        if item_id in scheduled or item.follows is None:
            continue
        refs = resolver.references(item.follows) if item.follows in arm_items else []
        if not refs:
            raise InputError(
                f"{item_id!r} follows {item.follows!r}, which is not scheduled in arm {arm_id!r}",
                file=_where(protocol),
                column=f"interventions[{_intervention_index(protocol, item_id)}].follows",
                value=item.follows,
                expected="an intervention of this arm with a schedule event",
            )
        kind, dose, dur_min, dur_max = _course(protocol, item, arm_id, dose_level)
        for offset, ref_cycle in refs:
            if offset + 1 > horizon_days:
                continue
            rows.append(
                PlannedEvent(
                    event_id=item_id,
                    what="intervention",
                    kind=kind,
                    label=f"{item.name} after {protocol.intervention(item.follows).name}",
                    offset=offset + 1,
                    occurrence=0,
                    window_before=0,
                    window_after=0,
                    intervention=item_id,
                    treatment=item.name,
                    cycle=ref_cycle,
                    duration_min=dur_min,
                    duration_max=dur_max,
                    dose=dose,
                    source=item.source,
                )
            )
    order = {e.id: i for i, e in enumerate(protocol.schedule.events)}
    rows.sort(key=lambda r: (r.offset, order.get(r.event_id, len(order)), r.event_id))
    seen: dict[str, int] = {}
    numbered = []
    for row in rows:
        seen[row.event_id] = seen.get(row.event_id, 0) + 1
        numbered.append(replace(row, occurrence=seen[row.event_id]))
    check_overlaps(protocol, numbered, horizon_days)
    check_anchor(protocol, arm_id, numbered)
    return numbered


def unscheduled_interventions(
    protocol: Protocol, arm_id: str, choices: Sequence[str] | None = None
) -> list[str]:
    """Interventions given in the arm that the calendar cannot place: no schedule event and no
    ``follows`` (e.g. supportive care); the CLI lists them."""
    scheduled = {e.intervention for e in protocol.schedule.events if e.intervention}
    return [
        i
        for i in given_interventions(protocol, arm_id, choices)
        if i not in scheduled and protocol.intervention(i).follows is None
    ]
