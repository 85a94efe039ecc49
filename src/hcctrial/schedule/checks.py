"""Checks that a planned calendar can be given: cycles and courses that do not overlap, and an
anchor (day 0) that the arm really has."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from hcctrial.errors import InputError
from hcctrial.protocol import Intervention, Protocol

if TYPE_CHECKING:
    from hcctrial.schedule.template import PlannedEvent

__all__ = ["check_anchor", "check_overlaps"]

_TACE = re.compile(r"tace|\btae\b|emboli", re.I)


def _where(protocol: Protocol) -> str:
    return f"protocol {protocol.id}"


def _intervention_index(protocol: Protocol, intervention_id: str) -> int:
    return [i.id for i in protocol.interventions].index(intervention_id)


def check_overlaps(protocol: Protocol, rows: list[PlannedEvent], horizon: int) -> None:
    by_item: dict[str, list[PlannedEvent]] = {}
    for row in rows:
        if row.intervention is not None:
            by_item.setdefault(row.intervention, []).append(row)
    for item_id, items in by_item.items():
        item = protocol.intervention(item_id)
        where = f"interventions[{_intervention_index(protocol, item_id)}]"
        days = [r.offset for r in items]
        for a, b in itertools.pairwise(days):
            if a == b:
                raise InputError(
                    f"{item.name} is planned twice on day {a} (overlapping cycles)",
                    file=_where(protocol),
                    column=where,
                    expected="each dose of an intervention on its own day",
                )
        starts = [r for r in items if r.cycle_day in (None, 1)]
        length = item.cycle_length_days
        if length is not None and (item.consecutive_days or 1) > length:
            raise InputError(
                f"{item.name}: {item.consecutive_days} consecutive days do not fit in a "
                f"{length}-day cycle",
                file=_where(protocol),
                column=where + ".consecutive_days",
                expected=f"at most {length}",
            )
        for first, second in itertools.pairwise(starts):
            gap = second.offset - first.offset
            if length is not None and gap < length:
                raise InputError(
                    f"overlapping cycles: cycle starting day {second.offset} of {item.name} "
                    f"begins {gap} days after the one on day {first.offset}, before that "
                    f"{length}-day cycle ends",
                    file=_where(protocol),
                    column=where + ".cycle_length_days",
                    expected=f"cycle starts at least {length} days apart",
                )
            if first.duration_max is not None and gap < first.duration_max:
                raise InputError(
                    f"overlapping courses: {item.name} from day {first.offset} lasts up to "
                    f"{first.duration_max} days, into the next course on day {second.offset}",
                    file=_where(protocol),
                    column=where + ".duration_days",
                    expected=f"courses at least {first.duration_max} days apart",
                )
        truncated = bool(starts) and starts[-1].offset + (length or 0) > horizon
        cut_by_horizon = truncated and len(starts) < (item.cycles or 0)
        if (
            item.cycles is not None
            and item.follows is None
            and len(starts) != item.cycles
            and not cut_by_horizon
        ):
            raise InputError(
                f"the schedule plans {len(starts)} cycle(s) of {item.name} but the "
                f"intervention has cycles: {item.cycles}",
                file=_where(protocol),
                column=where + ".cycles",
                expected=f"{item.cycles} planned cycle starts in schedule.events",
            )


def check_anchor(protocol: Protocol, arm_id: str, rows: list[PlannedEvent]) -> None:
    anchor = protocol.schedule.anchor
    if anchor.event == "first-tace":

        def wanted(item: Intervention) -> bool:
            text = " ".join(x for x in (item.id, item.name, item.product) if x)
            return item.kind == "procedure" and bool(_TACE.search(text))

        what = "TACE/TAE"
    elif anchor.event == "first-infusion":

        def wanted(item: Intervention) -> bool:
            return item.kind == "biological"

        what = "cell infusion"
    else:
        return
    days = [
        r.offset
        for r in rows
        if r.intervention is not None and wanted(protocol.intervention(r.intervention))
    ]
    if not days:
        raise InputError(
            f"unknown anchor: day 0 is the {anchor.event} but arm {arm_id!r} has no planned {what}",
            file=_where(protocol),
            column="schedule.anchor.event",
            value=anchor.event,
            expected=f"a {what} event in this arm, or another anchor",
        )
    if min(days) != 0:
        raise InputError(
            f"the anchor is the {anchor.event} but the first {what} of arm {arm_id!r} is "
            f"planned {min(days)} days from the anchor",
            file=_where(protocol),
            column="schedule.anchor.event",
            value=anchor.event,
            expected=f"the first {what} on the anchor day",
        )
