"""The protocol schema (pydantic v2): one validated object per trial.

The shape follows DESIGN.md, 'The protocol file'. Building blocks live in
:mod:`~hcctrial.protocol.common`, :mod:`~hcctrial.protocol.treatment`,
:mod:`~hcctrial.protocol.plan` and :mod:`~hcctrial.protocol.outcomes`; this module holds the
root :class:`Protocol` and the checks that span sections (every id a field refers to exists).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from hcctrial.protocol.common import Assumption, DayRange, Dose, Model, Reference
from hcctrial.protocol.outcomes import (
    AEWindow,
    Censoring,
    DLTRule,
    DLTSpec,
    Endpoint,
    FollowUp,
    ResponseCriteria,
    Safety,
)
from hcctrial.protocol.plan import (
    Anchor,
    Biomarker,
    Criterion,
    DonorSpec,
    Eligibility,
    Repeat,
    Schedule,
    ScheduleEvent,
)
from hcctrial.protocol.treatment import (
    Arm,
    Design,
    DoseEscalation,
    DoseLevel,
    Intervention,
    Randomization,
    Site,
)

__all__ = [
    "AEWindow",
    "Anchor",
    "Arm",
    "Assumption",
    "Biomarker",
    "Censoring",
    "Criterion",
    "DLTRule",
    "DLTSpec",
    "DayRange",
    "Design",
    "DonorSpec",
    "Dose",
    "DoseEscalation",
    "DoseLevel",
    "Eligibility",
    "Endpoint",
    "FollowUp",
    "Intervention",
    "Protocol",
    "Randomization",
    "Reference",
    "Repeat",
    "ResponseCriteria",
    "Safety",
    "Schedule",
    "ScheduleEvent",
    "Site",
]

Phase = Literal["Phase 1", "Phase 2", "Phase 1/2", "Phase 3", "not stated"]

#: (yaml path, message, offending value, what was expected)
RefProblem = tuple[tuple[str | int, ...], str, object, str]


class Protocol(Model):
    """A trial protocol as code.

    Examples
    --------
    >>> from hcctrial.protocol import load_protocol
    >>> p = load_protocol("NCT04011033")
    >>> [a.id for a in p.arms]
    ['inkt-tace', 'tace']
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    registry_id: str | None = Field(default=None, pattern=r"^NCT\d{8}$")
    aliases: list[str] = Field(default_factory=list)
    title: str
    official_title: str | None = None
    phase: Phase
    status: str | None = None
    conditions: list[str] = Field(min_length=1)
    sponsor: str | None = None
    summary: str | None = None
    source_record: str | None = None
    references: list[Reference] = Field(default_factory=list)
    design: Design
    interventions: list[Intervention] = Field(min_length=1)
    arms: list[Arm] = Field(min_length=1)
    dose_levels: list[DoseLevel] = Field(default_factory=list)
    schedule: Schedule
    eligibility: Eligibility
    donors: DonorSpec | None = None
    endpoints: list[Endpoint] = Field(min_length=1)
    safety: Safety
    follow_up: FollowUp
    biomarkers: list[Biomarker] = Field(default_factory=list)
    assumptions: list[Assumption] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Protocol:
        problems = reference_problems(self)
        if problems:
            raise PydanticCustomError(
                "protocol_references",
                "{count} cross-reference problem(s)",
                {"count": len(problems), "problems": problems},
            )
        return self

    # Convenience look-ups used by the engines.
    def arm(self, arm_id: str) -> Arm:
        """The arm with this id (KeyError if none)."""
        for arm in self.arms:
            if arm.id == arm_id:
                return arm
        raise KeyError(arm_id)

    def intervention(self, intervention_id: str) -> Intervention:
        """The intervention with this id (KeyError if none)."""
        for item in self.interventions:
            if item.id == intervention_id:
                return item
        raise KeyError(intervention_id)

    def dose_level(self, level_id: str) -> DoseLevel:
        """The dose level with this id (KeyError if none)."""
        for level in self.dose_levels:
            if level.id == level_id:
                return level
        raise KeyError(level_id)

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint with this id (KeyError if none)."""
        for item in self.endpoints:
            if item.id == endpoint_id:
                return item
        raise KeyError(endpoint_id)


def _duplicates(section: str, ids: Iterable[str], problems: list[RefProblem]) -> None:
    ids = list(ids)
    for dup, count in Counter(ids).items():
        if count > 1:
            index = [i for i, x in enumerate(ids) if x == dup][1]
            problems.append(
                ((section, index, "id"), "duplicate id", dup, "ids unique in " + section)
            )


def _check(
    path: tuple[str | int, ...], value: str, known: set[str], what: str, out: list[RefProblem]
) -> None:
    if value not in known:
        out.append((path, f"unknown {what}", value, "one of " + ", ".join(sorted(known))))


def _assumption_refs(p: Protocol, out: list[RefProblem]) -> None:
    """Every ``assumption:`` field names an entry of ``assumptions``."""
    known = {a.id for a in p.assumptions}
    sections: list[tuple[tuple[str | int, ...], list[Model]]] = [
        (("interventions",), list(p.interventions)),
        (("schedule", "events"), list(p.schedule.events)),
        (("eligibility", "criteria"), list(p.eligibility.criteria)),
        (("endpoints",), list(p.endpoints)),
        (("biomarkers",), list(p.biomarkers)),
    ]
    for prefix, items in sections:
        for index, item in enumerate(items):
            ref = getattr(item, "assumption", None)
            if ref is not None:
                _check((*prefix, index, "assumption"), ref, known, "assumption", out)


def assumed_items(p: Protocol) -> dict[str, list[str]]:
    """Assumption id -> the YAML paths of the items that rest on it (``assumption:`` fields).

    Examples
    --------
    >>> from hcctrial.protocol import load_protocol
    >>> assumed_items(load_protocol("pd1-ko-t-tace"))["A-CELL-DOSE"]
    ['interventions[1]']
    """
    found: dict[str, list[str]] = {a.id: [] for a in p.assumptions}
    sections: list[tuple[str, list[Model]]] = [
        ("interventions", list(p.interventions)),
        ("schedule.events", list(p.schedule.events)),
        ("eligibility.criteria", list(p.eligibility.criteria)),
        ("endpoints", list(p.endpoints)),
        ("biomarkers", list(p.biomarkers)),
    ]
    for prefix, items in sections:
        for index, item in enumerate(items):
            ref = getattr(item, "assumption", None)
            if ref in found:
                found[ref].append(f"{prefix}[{index}]")
    return found


def reference_problems(p: Protocol) -> list[RefProblem]:
    """Ids that are duplicated or refer to nothing, each with its YAML path."""
    out: list[RefProblem] = []
    _duplicates("interventions", (i.id for i in p.interventions), out)
    _duplicates("arms", (a.id for a in p.arms), out)
    _duplicates("dose_levels", (d.id for d in p.dose_levels), out)
    _duplicates("endpoints", (e.id for e in p.endpoints), out)
    _duplicates("assumptions", (a.id for a in p.assumptions), out)
    _duplicates("biomarkers", (b.id for b in p.biomarkers), out)
    crit = [c.id for c in p.eligibility.criteria]
    for dup, count in Counter(crit).items():
        if count > 1:
            index = [i for i, x in enumerate(crit) if x == dup][1]
            out.append(
                (("eligibility", "criteria", index, "id"), "duplicate criterion id", dup, "unique")
            )
    events = [e.id for e in p.schedule.events]
    for dup, count in Counter(events).items():
        if count > 1:
            index = [i for i, x in enumerate(events) if x == dup][1]
            out.append((("schedule", "events", index, "id"), "duplicate event id", dup, "unique"))
    interventions = {i.id for i in p.interventions}
    arms = {a.id for a in p.arms}
    levels = {d.id for d in p.dose_levels}
    for a_i, arm in enumerate(p.arms):
        for j, ref in enumerate(arm.interventions):
            _check(("arms", a_i, "interventions", j), ref, interventions, "intervention", out)
        for j, ref in enumerate(arm.dose_levels):
            _check(("arms", a_i, "dose_levels", j), ref, levels, "dose level", out)
    for i_i, item in enumerate(p.interventions):
        if item.follows is not None:
            _check(
                ("interventions", i_i, "follows"), item.follows, interventions, "intervention", out
            )
        if item.dose_from_levels and not p.dose_levels:
            out.append(
                (
                    ("interventions", i_i, "dose_from_levels"),
                    "no dose_levels defined",
                    True,
                    "dose_levels",
                )
            )
    for e_i, event in enumerate(p.schedule.events):
        if event.intervention is not None:
            _check(
                ("schedule", "events", e_i, "intervention"),
                event.intervention,
                interventions,
                "intervention",
                out,
            )
        if event.after is not None:
            _check(
                ("schedule", "events", e_i, "after"),
                event.after,
                interventions | set(events),
                "event or intervention",
                out,
            )
    randomization = p.design.randomization
    if randomization is not None:
        for key in randomization.ratio:
            _check(("design", "randomization", "ratio", key), key, arms, "arm", out)
    escalation = p.design.dose_escalation
    if escalation is not None:
        for j, ref in enumerate(escalation.levels):
            _check(("design", "dose_escalation", "levels", j), ref, levels, "dose level", out)
    _assumption_refs(p, out)
    if p.design.allocation == "single-arm" and len(p.arms) != 1:
        out.append(
            (
                ("design", "allocation"),
                f"single-arm with {len(p.arms)} arms",
                "single-arm",
                "one arm, or allocation randomized/non-randomized",
            )
        )
    return out
