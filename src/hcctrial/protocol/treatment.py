"""Design, arms, interventions, dose levels and dose-escalation rules of a protocol."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hcctrial.protocol.common import DayRange, Dose, Model

__all__ = [
    "Arm",
    "Design",
    "DoseEscalation",
    "DoseLevel",
    "Intervention",
    "Randomization",
    "Site",
]


class Site(Model):
    """A site (hospital) of the trial."""

    name: str
    city: str | None = None
    country: str | None = None


class Randomization(Model):
    """How participants are randomized: ratio per arm id, strata, block sizes."""

    ratio: dict[str, int] = Field(min_length=2)
    strata: list[str] = Field(default_factory=list)
    block_sizes: list[int] = Field(default_factory=list)
    method: str | None = None

    @model_validator(mode="after")
    def _positive(self) -> Randomization:
        bad = {k: v for k, v in self.ratio.items() if v < 1}
        if bad:
            raise ValueError(f"randomization ratio parts must be >= 1, got {bad}")
        total = sum(self.ratio.values())
        for size in self.block_sizes:
            if size < 1 or size % total:
                raise ValueError(f"block size {size} is not a multiple of the ratio total {total}")
        return self


class DoseEscalation(Model):
    """A dose-escalation design over the protocol's ``dose_levels``.

    ``3+3``: cohorts of 3, escalate on 0/3 DLT, expand to 6 on 1/3, stop at >= 2 DLT (Storer
    1989). ``BOIN``: Liu and Yuan 2015, boundaries from ``target_dlt_rate``; the default
    ``p_saf = 0.6 * target`` and ``p_tox = 1.4 * target`` are the authors' recommendation.
    """

    design: Literal["3+3", "BOIN"]
    levels: list[str] = Field(min_length=1)
    start_level: str
    cohort_size: int = Field(default=3, ge=1)
    max_patients: int | None = Field(default=None, ge=1)
    target_dlt_rate: float | None = Field(default=None, gt=0, lt=1)
    p_saf: float | None = Field(default=None, gt=0, lt=1)
    p_tox: float | None = Field(default=None, gt=0, lt=1)
    elimination_cutoff: float = Field(default=0.95, gt=0, lt=1)
    max_per_level: int | None = Field(default=None, ge=1)
    allow_skipping: bool = False
    source: str | None = None

    @model_validator(mode="after")
    def _boin_target(self) -> DoseEscalation:
        if self.design == "BOIN" and self.target_dlt_rate is None:
            raise ValueError("a BOIN design needs target_dlt_rate")
        if self.start_level not in self.levels:
            raise ValueError(f"start_level {self.start_level!r} is not one of levels {self.levels}")
        return self


class Design(Model):
    """Allocation, model, masking, enrolment, sites and (where relevant) randomization."""

    allocation: Literal["randomized", "non-randomized", "single-arm"]
    model: Literal[
        "parallel", "single-group", "dose-escalation", "paired-control", "crossover", "sequential"
    ]
    masking: Literal["none", "single", "double", "triple", "quadruple"] = "none"
    purpose: Literal["treatment", "prevention", "supportive-care", "diagnostic"] = "treatment"
    enrolment_target: int | None = Field(default=None, ge=1)
    sites: list[Site] = Field(default_factory=list)
    site_count: int | None = Field(default=None, ge=1)
    randomization: Randomization | None = None
    dose_escalation: DoseEscalation | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if self.randomization is not None and self.allocation != "randomized":
            raise ValueError("randomization is given but allocation is not 'randomized'")
        if self.model == "dose-escalation" and self.dose_escalation is None:
            raise ValueError("a dose-escalation model needs dose_escalation")
        return self


class DoseLevel(Model):
    """One dose level of an escalation study."""

    id: str
    label: str
    dose: Dose
    source: str | None = None


class Intervention(Model):
    """A procedure, biological or drug given in one or more arms.

    ``cycles`` x ``cycle_length_days``; ``consecutive_days`` infusions/doses per cycle;
    ``duration_days`` for a course given daily over a range of days (IL-2 for 5-14 days);
    ``follows`` names the intervention each course follows (IL-2 after each iNKT infusion);
    ``choice_group`` groups alternatives of which one is given (sorafenib or regorafenib or
    lenvatinib).
    """

    id: str
    name: str
    kind: Literal["procedure", "biological", "drug", "device", "other"]
    product: str | None = None
    source: str | None = None
    origin: Literal["autologous", "allogeneic"] | None = None
    cell_type: str | None = None
    target: str | None = None
    manufacturing: str | None = None
    dose: Dose | None = None
    dose_from_levels: bool = False
    route: (
        Literal[
            "intravenous",
            "intra-arterial",
            "percutaneous-peritumoral",
            "intratumoral",
            "oral",
            "subcutaneous",
        ]
        | None
    ) = None
    route_detail: str | None = None
    cycles: int | None = Field(default=None, ge=1)
    cycle_length_days: int | None = Field(default=None, ge=1)
    consecutive_days: int | None = Field(default=None, ge=1)
    duration_days: DayRange | None = None
    follows: str | None = None
    choice_group: str | None = None
    until: str | None = None
    #: Id of the ``assumptions`` entry this item rests on when the record does not state it.
    assumption: str | None = None

    @model_validator(mode="after")
    def _cell_fields(self) -> Intervention:
        if self.dose_from_levels and self.dose is not None:
            raise ValueError("give either dose or dose_from_levels: true, not both")
        return self


class Arm(Model):
    """An arm (group) of the trial and the interventions it receives (ids)."""

    id: str
    label: str
    type: Literal[
        "experimental",
        "active-comparator",
        "placebo-comparator",
        "no-intervention",
        "sham",
        "other",
    ]
    description: str | None = None
    source: str | None = None
    interventions: list[str] = Field(min_length=1)
    dose_levels: list[str] = Field(default_factory=list)
    planned_size: int | None = Field(default=None, ge=1)
