"""Building blocks shared by the protocol schema: the base model, doses, ranges, assumptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Assumption", "DayRange", "Dose", "DoseUnit", "Model", "Reference"]


class Model(BaseModel):
    """Base of every protocol model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


#: Dose units; the basis (flat / per m2 / per kg) follows from the unit.
DoseUnit = Literal[
    "cells",
    "cells/m2",
    "cells/kg",
    "IU",
    "IU/kg",
    "IU/kg/day",
    "IU/m2/day",
    "mg",
    "mg/day",
    "mg/m2",
    "mg/kg",
]

_BASIS: dict[str, Literal["flat", "per-m2", "per-kg"]] = {
    "cells": "flat",
    "cells/m2": "per-m2",
    "cells/kg": "per-kg",
    "IU": "flat",
    "IU/kg": "per-kg",
    "IU/kg/day": "per-kg",
    "IU/m2/day": "per-m2",
    "mg": "flat",
    "mg/day": "flat",
    "mg/m2": "per-m2",
    "mg/kg": "per-kg",
}


class Dose(Model):
    """A dose: one value, or a range ``low``..``high``, in ``unit``.

    ``basis`` is derived from the unit when omitted (``cells/m2`` -> ``per-m2``) and must agree
    with it when given. ``per`` says what one dose covers (one infusion, one day ...).
    """

    value: float | None = Field(default=None, gt=0)
    low: float | None = Field(default=None, gt=0)
    high: float | None = Field(default=None, gt=0)
    unit: DoseUnit
    basis: Literal["flat", "per-m2", "per-kg"] | None = None
    per: Literal["infusion", "day", "cycle", "dose", "course"] = "infusion"
    frequency: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _value_or_range(self) -> Dose:
        if (self.value is None) == (self.low is None and self.high is None):
            raise ValueError("give either value or low and high (a range)")
        if self.value is None and (self.low is None or self.high is None):
            raise ValueError("a dose range needs both low and high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"dose range low {self.low} is above high {self.high}")
        implied = _BASIS[self.unit]
        if self.basis is None:
            object.__setattr__(self, "basis", implied)
        elif self.basis != implied:
            raise ValueError(f"basis {self.basis!r} does not fit unit {self.unit!r} ({implied})")
        return self


class DayRange(Model):
    """A duration in days, fixed or a range (IL-2 'for 5-14 days' is ``low: 5, high: 14``)."""

    low: int = Field(ge=0)
    high: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class Reference(Model):
    """A publication or document the protocol relies on."""

    citation: str
    pmid: str | None = None
    doi: str | None = None
    url: str | None = None


class Assumption(Model):
    """A place where the record is silent or contradicts itself, and what the file chose."""

    id: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    record_says: str = Field(min_length=1)
    chosen: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    #: Published sources of what was chosen (guideline, paper, table), when there are any.
    references: list[str] = Field(default_factory=list)
