"""Schedule, eligibility (with checked criterion expressions), donors and biomarker samples."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from hcctrial.protocol.common import Model
from hcctrial.protocol.expressions import expression_problems

__all__ = [
    "Anchor",
    "Biomarker",
    "Criterion",
    "DonorSpec",
    "Eligibility",
    "Repeat",
    "Schedule",
    "ScheduleEvent",
]


class Anchor(Model):
    """Day 0 of the schedule: which event it is (``first-tace``, ``first-infusion`` ...)."""

    event: Literal["first-tace", "first-infusion", "randomization", "enrolment", "pbmc-collection"]
    label: str
    day_numbering: Literal["day0", "day1"] = "day0"


class Repeat(Model):
    """A repeating rule: every ``every_weeks`` (or days/months) from ``start_week`` (or day),
    ``until`` an end, at most ``count`` times."""

    every_days: int | None = Field(default=None, ge=1)
    every_weeks: int | None = Field(default=None, ge=1)
    every_months: int | None = Field(default=None, ge=1)
    start_day: int | None = None
    start_week: float | None = None
    until: Literal["end-of-follow-up", "end-of-treatment", "progression", "death", "withdrawal"] = (
        "end-of-follow-up"
    )
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_interval(self) -> Repeat:
        given = [x for x in (self.every_days, self.every_weeks, self.every_months) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of every_days, every_weeks, every_months")
        if self.start_day is not None and self.start_week is not None:
            raise ValueError("give start_day or start_week, not both")
        return self


EventKind = Literal[
    "intervention",
    "tumour-assessment",
    "lab",
    "ae-visit",
    "pk-sample",
    "biomarker-sample",
    "screening",
    "consent",
    "apheresis",
    "randomization",
    "survival-follow-up",
    "end-of-treatment",
]


class ScheduleEvent(Model):
    """One planned event and when it happens relative to the anchor (or to ``after``).

    ``days``/``weeks``/``months`` list fixed offsets (week 1 = day 7 after a day-0 anchor);
    ``repeat`` adds a repeating rule; ``window_before_days``/``window_after_days`` the visit
    window. ``after`` names another event or intervention the offsets count from (IL-2 starts
    the day after each iNKT infusion).
    """

    id: str
    what: EventKind
    label: str
    intervention: str | None = None
    source: str | None = None
    days: list[int] = Field(default_factory=list)
    weeks: list[float] = Field(default_factory=list)
    months: list[float] = Field(default_factory=list)
    repeat: Repeat | None = None
    after: str | None = None
    window_before_days: int = Field(default=0, ge=0)
    window_after_days: int = Field(default=0, ge=0)
    assessments: list[str] = Field(default_factory=list)
    #: Id of the ``assumptions`` entry this item rests on when the record does not state it.
    assumption: str | None = None

    @model_validator(mode="after")
    def _timed(self) -> ScheduleEvent:
        if not (self.days or self.weeks or self.months or self.repeat):
            raise ValueError("an event needs days, weeks, months or repeat")
        if self.what == "intervention" and not self.intervention:
            raise ValueError("an intervention event needs 'intervention' (an intervention id)")
        return self


class Schedule(Model):
    """Events relative to an anchor."""

    anchor: Anchor
    events: list[ScheduleEvent] = Field(min_length=1)
    source: str | None = None


class Criterion(Model):
    """One eligibility criterion: its source fragment and an expression or a judgement.

    For an inclusion criterion the expression is what must be true to enter; for an exclusion
    criterion what excludes (docs/criteria-language.md).
    """

    id: str = Field(min_length=1)
    kind: Literal["inclusion", "exclusion"]
    source: str = Field(min_length=1)
    expression: str | None = None
    judgement: Literal["investigator"] | None = None
    reason: str | None = None
    note: str | None = None
    #: Id of the ``assumptions`` entry this item rests on when the record does not state it.
    assumption: str | None = None

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problems = expression_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Criterion:
        if (self.expression is None) == (self.judgement is None):
            raise ValueError(
                "give exactly one of 'expression' or 'judgement: investigator' (with a reason)"
            )
        if self.judgement is not None and not self.reason:
            raise ValueError("'judgement: investigator' needs a 'reason'")
        return self


class Eligibility(Model):
    """Screening settings and the criteria."""

    lab_lookback_days: int = Field(default=14, ge=0)
    min_age: float | None = None
    max_age: float | None = None
    sex: Literal["all", "male", "female"] = "all"
    healthy_volunteers: bool = False
    criteria: list[Criterion] = Field(min_length=1)

    @property
    def inclusion(self) -> list[Criterion]:
        """The inclusion criteria."""
        return [c for c in self.criteria if c.kind == "inclusion"]

    @property
    def exclusion(self) -> list[Criterion]:
        """The exclusion criteria."""
        return [c for c in self.criteria if c.kind == "exclusion"]


class DonorSpec(Model):
    """Who the cell donor is (allogeneic products) and the donor's eligibility criteria."""

    relation: str
    hla_matching: str | None = None
    source: str | None = None
    criteria: list[Criterion] = Field(default_factory=list)


class Biomarker(Model):
    """A biomarker or research sample collected in the trial."""

    id: str
    name: str
    specimen: Literal["serum", "plasma", "blood", "pbmc", "tissue", "other"]
    measure: str | None = None
    unit: str | None = None
    timepoints_months: list[float] = Field(default_factory=list)
    source: str | None = None
    #: Id of the ``assumptions`` entry this item rests on when the record does not state it.
    assumption: str | None = None
