"""Plain-text pieces of a protocol for people: doses, event timing, one-line overviews.

Pure functions (no printing); the CLI (``hcctrial protocols show``) and reports lay them out.

>>> from hcctrial.protocol import load_protocol
>>> p = load_protocol("il1rap-car-t")
>>> dose_text(p.dose_level("dl2").dose)
'2.5e8 cells per infusion (flat)'
>>> timing_text(p.schedule.events[4])
'months 3, 6, 12, 24 (window -14/+14 d)'
"""

from __future__ import annotations

from typing import Any

from hcctrial.protocol.common import Dose
from hcctrial.protocol.models import Protocol
from hcctrial.protocol.plan import ScheduleEvent

__all__ = [
    "design_text",
    "dose_text",
    "endpoint_rows",
    "event_rows",
    "intervention_rows",
    "overview",
    "timing_text",
]


def _num(value: float) -> str:
    """Cell counts in scientific notation (``5.0e8``), other numbers as written (``25000``)."""
    if value >= 1e6:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


def _join(values: list[float] | list[int]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def dose_text(dose: Dose | None) -> str:
    """A dose as text: value or range, unit, what one dose covers, basis."""
    if dose is None:
        return "not stated"
    amount = (
        _num(dose.value)
        if dose.value is not None
        else f"{_num(dose.low or 0)} to {_num(dose.high or 0)}"
    )
    per = "" if dose.unit.endswith("/day") and dose.per == "day" else f" per {dose.per}"
    text = f"{amount} {dose.unit}{per} ({dose.basis})"
    if dose.frequency:
        text += f", {dose.frequency}"
    return text


def timing_text(event: ScheduleEvent) -> str:
    """When an event happens: fixed days/weeks/months, repeat rule, reference event, window."""
    parts: list[str] = []
    if event.days:
        parts.append(("day " if len(event.days) == 1 else "days ") + _join(event.days))
    if event.weeks:
        parts.append(("week " if len(event.weeks) == 1 else "weeks ") + _join(event.weeks))
    if event.months:
        parts.append(("month " if len(event.months) == 1 else "months ") + _join(event.months))
    rep = event.repeat
    if rep is not None:
        step = (
            f"{rep.every_days} days"
            if rep.every_days
            else f"{rep.every_weeks} weeks"
            if rep.every_weeks
            else f"{rep.every_months} months"
        )
        start = (
            f" from day {rep.start_day}"
            if rep.start_day is not None
            else f" from week {rep.start_week:g}"
            if rep.start_week is not None
            else ""
        )
        count = f", at most {rep.count} times" if rep.count else ""
        parts.append(f"every {step}{start} until {rep.until}{count}")
    text = "; ".join(parts)
    if event.after:
        text += f" after each {event.after}"
    if event.window_before_days or event.window_after_days:
        text += f" (window -{event.window_before_days}/+{event.window_after_days} d)"
    return text


def design_text(p: Protocol) -> str:
    """Allocation, model and masking in a few words (``single-arm, dose-escalation, 3+3``)."""
    d = p.design
    parts: list[str] = [d.allocation, d.model]
    if d.dose_escalation is not None:
        parts.append(d.dose_escalation.design)
    if d.randomization is not None:
        parts.append(":".join(str(v) for v in d.randomization.ratio.values()))
    parts.append("open label" if d.masking == "none" else f"{d.masking} blind")
    return ", ".join(parts)


def overview(p: Protocol) -> dict[str, Any]:
    """One row of ``hcctrial protocols list``: id, title, phase, design, arms, enrolment."""
    return {
        "id": p.id,
        "title": p.title,
        "phase": p.phase,
        "design": design_text(p),
        "arms": [a.label for a in p.arms],
        "enrolment_target": p.design.enrolment_target,
        "criteria": len(p.eligibility.criteria),
        "endpoints": len(p.endpoints),
        "assumptions": len(p.assumptions),
    }


def intervention_rows(p: Protocol) -> list[dict[str, str]]:
    """One row per intervention: kind, product/origin, dose, route, cycles."""
    rows = []
    for item in p.interventions:
        if item.dose_from_levels:
            dose = "by dose level: " + "; ".join(
                f"{d.id} {dose_text(d.dose)}" for d in p.dose_levels
            )
        else:
            dose = dose_text(item.dose)
        cycles = ""
        if item.cycles:
            cycles = f"{item.cycles} cycle{'s' if item.cycles > 1 else ''}"
            if item.cycle_length_days:
                cycles += f" x {item.cycle_length_days} d"
        if item.consecutive_days:
            cycles += f", {item.consecutive_days} consecutive days each"
        if item.duration_days:
            cycles += (
                f"{', ' if cycles else ''}for {item.duration_days.low}-{item.duration_days.high} d"
            )
        if item.follows:
            cycles += f" after each {item.follows}"
        rows.append(
            {
                "id": item.id,
                "name": item.name,
                "kind": item.kind,
                "origin": item.origin or "",
                "dose": dose,
                "route": item.route or "not stated",
                "cycles": cycles.strip() or "not stated",
                "assumption": item.assumption or "",
            }
        )
    return rows


def event_rows(p: Protocol) -> list[dict[str, str]]:
    """The calendar: one row per schedule event with its timing."""
    return [
        {
            "id": e.id,
            "what": e.what,
            "label": e.label,
            "when": timing_text(e),
            "assumption": e.assumption or "",
        }
        for e in p.schedule.events
    ]


def endpoint_rows(p: Protocol) -> list[dict[str, str]]:
    """One row per endpoint: role, kind, origin, event, timepoints, criteria, CTCAE."""
    rows = []
    for e in p.endpoints:
        timing = []
        if e.timepoints_months:
            timing.append("months " + _join(e.timepoints_months))
        if e.horizon_months:
            timing.append(f"to {e.horizon_months:g} months")
        criteria = []
        if e.response is not None:
            confirmed = " (confirmed)" if e.response.confirmation_required else ""
            criteria.append(e.response.criteria + confirmed)
        if e.ctcae_version:
            criteria.append(f"CTCAE v{e.ctcae_version}")
        rows.append(
            {
                "id": e.id,
                "role": e.role,
                "kind": e.kind,
                "name": e.name,
                "origin -> event": " -> ".join(
                    x for x in (e.origin or "", ", ".join(e.event)) if x
                ),
                "timepoints": "; ".join(timing) or (e.time_frame or ""),
                "criteria": "; ".join(criteria),
                "assumption": e.assumption or "",
            }
        )
    return rows
