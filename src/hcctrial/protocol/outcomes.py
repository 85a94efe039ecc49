"""Endpoints (with origin, event, censoring, timepoints, response criteria), safety, follow-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hcctrial.protocol.common import Model

__all__ = [
    "AEWindow",
    "Censoring",
    "CtcaeVersion",
    "DLTRule",
    "DLTSpec",
    "Endpoint",
    "EndpointKind",
    "FollowUp",
    "Origin",
    "ResponseCriteria",
    "Safety",
]

CtcaeVersion = Literal["4.03", "5.0"]

EndpointKind = Literal[
    "safety-incidence",
    "dlt",
    "orr",
    "dcr",
    "ttr",
    "dor",
    "pfs",
    "os",
    "median-pfs",
    "median-os",
    "rate",
    "biomarker-change",
    "kinetics",
    "lab-shift",
]

Origin = Literal[
    "first-infusion",
    "randomization",
    "first-tace",
    "enrolment",
    "first-response",
    "pbmc-collection",
]

_TIME_TO_EVENT = {"ttr", "dor", "pfs", "os", "median-pfs", "median-os"}


class Censoring(Model):
    """Censoring rules for a time-to-event endpoint.

    Defaults follow FDA, *Clinical Trial Endpoints for the Approval of Cancer Drugs and
    Biologics, Guidance for Industry* (2018), Table A (PFS censoring): censor at the last
    adequate tumour assessment; an event after two or more missed assessments is censored at
    the last adequate assessment before it; new anticancer therapy before the event censors at
    the last adequate assessment before it; no baseline or no post-baseline assessment censors
    at the origin (day 1) unless death occurs within the second scheduled visit interval.

    The date of censoring without an event is one of two: the last adequate tumour assessment
    (``at_last_adequate_assessment``, the guidance's) or the last date known alive
    (``at_last_known_alive: true``, which takes precedence, as the seed records' OS). Turning
    both off leaves no date and is refused.
    """

    at_last_adequate_assessment: bool = True
    missed_assessments: int | None = Field(default=2, ge=1)
    new_anticancer_therapy: bool = True
    no_baseline_at_origin: bool = True
    no_post_baseline_at_origin: bool = True
    at_last_known_alive: bool = False
    data_cutoff_months: float | None = None

    @model_validator(mode="after")
    def _has_a_censoring_date(self) -> Censoring:
        if not self.at_last_adequate_assessment and not self.at_last_known_alive:
            raise ValueError(
                "at_last_adequate_assessment and at_last_known_alive are both false: a subject "
                "without an event needs a censoring date; set one of them to true"
            )
        return self


class ResponseCriteria(Model):
    """Tumour response criteria and their settings.

    ``confirmation_days``: RECIST 1.1 (Eisenhauer 2009, section 4.4) asks that PR/CR be
    confirmed by a repeat assessment at least 4 weeks (28 days) later in non-randomised trials
    where response is the primary endpoint. ``sd_min_days``: the minimum time from the origin
    for a best response of SD, which RECIST leaves to the protocol (section 4.3).
    """

    criteria: Literal["recist1.1", "mrecist"]
    confirmation_required: bool = True
    confirmation_days: int = Field(default=28, ge=0)
    sd_min_days: int = Field(default=42, ge=0)


class Endpoint(Model):
    """One outcome measure of the record."""

    id: str
    name: str
    kind: EndpointKind
    role: Literal["primary", "secondary", "exploratory"]
    source: str = Field(min_length=1)
    time_frame: str | None = None
    description: str | None = None
    origin: Origin | None = None
    event: list[Literal["progression", "death", "response", "dlt", "adverse-event"]] = Field(
        default_factory=list
    )
    event_definition: str | None = None
    responses: list[Literal["CR", "PR", "SD"]] = Field(default_factory=list)
    censoring: Censoring | None = None
    timepoints_months: list[float] = Field(default_factory=list)
    horizon_months: float | None = None
    response: ResponseCriteria | None = None
    ctcae_version: CtcaeVersion | None = None
    analyte: str | None = None
    compare_arms: bool = False
    #: Id of the ``assumptions`` entry this item rests on when the record does not state it.
    assumption: str | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> Endpoint:
        if self.kind in _TIME_TO_EVENT:
            if self.origin is None:
                raise ValueError(f"a {self.kind} endpoint needs an origin")
            if not self.event:
                raise ValueError(f"a {self.kind} endpoint needs event (what ends the time)")
        if self.kind in {"orr", "dcr", "ttr", "dor"} and self.response is None:
            raise ValueError(f"a {self.kind} endpoint needs response criteria")
        if self.kind in {"orr", "dcr"} and not self.responses:
            raise ValueError(f"a {self.kind} endpoint needs responses (e.g. [CR, PR])")
        if self.kind in {"safety-incidence", "dlt"} and self.ctcae_version is None:
            raise ValueError(f"a {self.kind} endpoint needs ctcae_version")
        return self


class AEWindow(Model):
    """When adverse events are collected.

    From ``start`` to ``end_days_after`` days after ``end_after`` (or withdrawal if
    ``ends_at_withdrawal``); participants withdrawn before treatment are followed for
    ``untreated_days`` days after the study procedure that started.
    """

    start: Literal[
        "consent", "enrolment", "pbmc-collection", "first-tace", "first-infusion", "randomization"
    ]
    end_after: Literal["first-infusion", "last-infusion", "enrolment", "last-dose"]
    end_days_after: int = Field(ge=0)
    ends_at_withdrawal: bool = True
    untreated_days: int | None = Field(default=None, ge=0)
    source: str | None = None


class DLTRule(Model):
    """One DLT rule as data: an adverse event of ``category``/``term`` at ``min_grade`` or
    more, lasting at least ``min_duration_days`` (when given), unless one of ``exceptions``."""

    id: str
    description: str
    category: Literal["haematological", "non-haematological", "crs", "icans", "death", "any"]
    term: str | None = None
    min_grade: int = Field(ge=1, le=5)
    min_duration_days: int | None = Field(default=None, ge=0)
    exceptions: list[str] = Field(default_factory=list)


class DLTSpec(Model):
    """The DLT observation window and rules."""

    window_days: int = Field(ge=1)
    window_start: Literal["first-infusion", "last-infusion"] = "first-infusion"
    rules: list[DLTRule] = Field(min_length=1)
    attribution: Literal["related", "possibly-related-or-more", "any"] = "possibly-related-or-more"
    definition: Literal["record", "assumed"]
    source: str | None = None


class FollowUp(Model):
    """How long participants are followed and how."""

    duration_months: float = Field(gt=0)
    survival_follow_up_months: float | None = Field(default=None, gt=0)
    visit_rule: str | None = None
    source: str | None = None


class Safety(Model):
    """CTCAE version, AE window, DLT rules and CRS/ICANS grading."""

    ctcae_version: CtcaeVersion
    ae_window: AEWindow | None = None
    dlt: DLTSpec | None = None
    crs_icans_grading: Literal["ASTCT 2019"] | None = None
    source: str | None = None
