"""Dose calculation for cell products and cytokines: per m² (BSA), per kg, per day, flat.

Examples from the seed trials: iNKT cells 5 x 10^8 to 10^9 cells/m² (NCT04011033); IL-2
25,000 IU/kg/day for 5-14 days after each infusion (NCT04011033); flat CAR-T dose groups
1.0e8, 2.5e8 and 5.0e8 cells (IL1RAP CAR-T record).

Formulas: per m²: amount = dose x BSA (Mosteller by default, :mod:`hcctrial.clinical.body`);
per kg: amount = dose x weight; flat: amount = dose. Optional rounding (to a multiple or to
significant figures) then an optional cap on the amount (and/or on the BSA used).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import polars as pl

from hcctrial.clinical._check import category, col, number, strict
from hcctrial.clinical.body import BSA_METHODS, WEIGHT_KG, bsa, bsa_expr
from hcctrial.errors import InputError

__all__ = ["Dose", "DoseBasis", "calculate_dose", "dose_expr", "format_amount", "parse_basis"]

_QUANTITIES = {
    "cells": "cells",
    "cell": "cells",
    "iu": "IU",
    "u": "IU",
    "mg": "mg",
    "ug": "ug",
    "mcg": "ug",
    "g": "g",
    "ml": "mL",
    "copies": "copies",
}
_BASIS_RE = re.compile(r"^(?P<q>[a-z]+)(?:/(?P<body>m2|m\^2|m²|kg))?(?:/(?P<per>day|d))?$")


@dataclass(frozen=True)
class DoseBasis:
    """A parsed dose basis such as ``cells/m2`` or ``IU/kg/day``."""

    quantity: str  # cells, IU, mg, ...
    body: str  # "m2", "kg" or "" (flat)
    per_day: bool

    def __str__(self) -> str:
        text = self.quantity + (f"/{self.body}" if self.body else "")
        return text + ("/day" if self.per_day else "")

    @property
    def amount_unit(self) -> str:
        """The unit of the amount given: ``cells``, ``IU/day`` ..."""
        return self.quantity + ("/day" if self.per_day else "")


def parse_basis(text: str) -> DoseBasis:
    """Parse a dose basis: ``cells/m2``, ``cells/kg``, ``cells`` (flat), ``IU/kg/day``, ``mg/m2``.

    ``flat`` alone means a flat number of cells.
    """
    key = str(text).strip().lower().replace(" ", "").replace("²", "2").replace("^2", "2")
    if key in ("flat", "fixed"):
        return DoseBasis("cells", "", False)
    match = _BASIS_RE.match(key)
    if not match or match.group("q") not in _QUANTITIES:
        raise InputError(
            "unknown dose basis",
            value=text,
            expected="cells/m2, cells/kg, cells (flat), IU/kg/day, IU/m2, mg/kg, mg/m2, mg",
        )
    body = (match.group("body") or "").replace("^", "")
    return DoseBasis(_QUANTITIES[match.group("q")], body, bool(match.group("per")))


def format_amount(x: float) -> str:
    """``5e8``, ``1.75e6``-style for cell counts (>= 10^7), ``25,000`` below."""
    if x != 0 and abs(x) >= 1e7:
        exponent = math.floor(math.log10(abs(x)))
        mantissa = round(x / 10**exponent, 4)
        return f"{mantissa:g}e{exponent}"
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.0f}"


@dataclass(frozen=True)
class Dose:
    """A calculated dose with its inputs and the formula used."""

    dose: float
    basis: str
    amount: float
    unit: str
    amount_unrounded: float
    height_cm: float | None
    weight_kg: float | None
    bsa_m2: float | None
    bsa_method: str | None
    rounding: str | None
    cap: float | None
    capped: bool
    formula: str


def _round(
    value: float, round_to: float | None, significant: int | None
) -> tuple[float, str | None]:
    if round_to is not None and significant is not None:
        raise InputError("give round_to or significant, not both", expected="one rounding rule")
    if round_to is not None:
        step = number("round_to", round_to, low=0, low_open=True)
        return round(value / step) * step, f"nearest multiple of {format_amount(step)}"
    if significant is not None:
        digits = int(number("significant", significant, low=1, high=15))
        if value == 0:
            return 0.0, f"{digits} significant figures"
        exponent = math.floor(math.log10(abs(value)))
        return round(value, digits - 1 - exponent), f"{digits} significant figures"
    return value, None


def calculate_dose(
    dose: float,
    basis: str,
    *,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    bsa_method: str = "mosteller",
    bsa_cap_m2: float | None = None,
    round_to: float | None = None,
    significant: int | None = None,
    cap: float | None = None,
) -> Dose:
    """The amount to give for a dose on a body-size basis.

    Parameters
    ----------
    dose : the prescribed dose per basis unit (e.g. ``5e8`` for 5 x 10^8 cells/m²).
    basis : ``cells/m2``, ``cells/kg``, ``cells`` (flat), ``IU/kg/day``, ``mg/m2`` ...
    height_cm, weight_kg : needed for per-m² (both) and per-kg (weight) bases.
    bsa_method : ``mosteller`` (default; Mosteller, NEJM 1987) or ``dubois`` (DuBois 1916).
    bsa_cap_m2 : use at most this BSA (some protocols cap BSA at 2.0 m²).
    round_to : round the amount to the nearest multiple (e.g. ``1e7`` cells);
    significant : or to this many significant figures.
    cap : the largest amount allowed (after rounding).

    Examples
    --------
    5e8 cells/m², 180 cm, 80 kg (Mosteller BSA 2.00 m²) -> 1.0e9 cells.
    25,000 IU/kg/day, 70 kg -> 1,750,000 IU/day.
    """
    b = parse_basis(basis)
    per_dose = number("dose", dose, unit=str(b), low=0, low_open=True)
    h = w = area = None
    method = None
    if b.body == "m2":
        if height_cm is None or weight_kg is None:
            raise InputError(
                f"a dose in {b} needs height and weight", expected="height_cm, weight_kg"
            )
        method = str(category("BSA method", bsa_method, {m: m for m in BSA_METHODS}))
        area = bsa(height_cm, weight_kg, method)
        h, w = float(height_cm), float(weight_kg)
        cap_note = ""
        if bsa_cap_m2 is not None:
            limit = number("BSA cap", bsa_cap_m2, unit="m2", low=0, low_open=True)
            if area > limit:
                cap_note = f" (capped from {area:.3f} m2)"
                area = limit
        how = (
            f"sqrt({h:g} cm x {w:g} kg / 3600)"
            if method == "mosteller"
            else f"0.007184 x {w:g} kg^0.425 x {h:g} cm^0.725"
        )
        size_text = f"BSA {area:.3f} m2 ({method}: {how}){cap_note}"
        unrounded = per_dose * area
        formula = f"{format_amount(per_dose)} {b} x {size_text}"
    elif b.body == "kg":
        if weight_kg is None:
            raise InputError(f"a dose in {b} needs the weight", expected="weight_kg")
        w = number("weight", weight_kg, unit="kg", low=WEIGHT_KG[0], high=WEIGHT_KG[1])
        unrounded = per_dose * w
        formula = f"{format_amount(per_dose)} {b} x weight {w:g} kg"
    else:
        unrounded = per_dose
        formula = f"flat {format_amount(per_dose)} {b}"
    amount, rounding = _round(unrounded, round_to, significant)
    formula += f" = {format_amount(unrounded)} {b.amount_unit}"
    if rounding:
        formula += f", rounded to {rounding}: {format_amount(amount)}"
    capped = False
    limit_amount = None
    if cap is not None:
        limit_amount = number("dose cap", cap, unit=b.amount_unit, low=0, low_open=True)
        if amount > limit_amount:
            amount, capped = limit_amount, True
            formula += f", capped at {format_amount(limit_amount)} {b.amount_unit}"
    return Dose(
        dose=per_dose,
        basis=str(b),
        amount=amount,
        unit=b.amount_unit,
        amount_unrounded=unrounded,
        height_cm=h,
        weight_kg=w,
        bsa_m2=area,
        bsa_method=method,
        rounding=rounding,
        cap=limit_amount,
        capped=capped,
        formula=formula,
    )


def dose_expr(
    dose: float,
    basis: str,
    height_cm: str | pl.Expr | None = None,
    weight_kg: str | pl.Expr | None = None,
    bsa_method: str = "mosteller",
) -> pl.Expr:
    """Vectorised amount (no rounding or cap) for one dose and basis over columns of height and
    weight; per-m² uses :func:`hcctrial.clinical.body.bsa_expr`."""
    b = parse_basis(basis)
    per_dose = number("dose", dose, unit=str(b), low=0, low_open=True)
    if b.body == "m2":
        if height_cm is None or weight_kg is None:
            raise InputError(f"a dose in {b} needs height and weight", expected="two columns")
        return (per_dose * bsa_expr(height_cm, weight_kg, bsa_method)).alias("DOSE")
    if b.body == "kg":
        if weight_kg is None:
            raise InputError(f"a dose in {b} needs the weight", expected="a weight column")
        w = col(weight_kg).cast(pl.Float64)
        bad = (w < WEIGHT_KG[0]) | (w > WEIGHT_KG[1]) | w.is_nan()
        checks = [(bad, "weight out of range", f"{WEIGHT_KG[0]:g} to {WEIGHT_KG[1]:g} kg")]
        return strict((per_dose * w).alias("DOSE"), checks, pl.Float64)
    return pl.lit(per_dose, dtype=pl.Float64).alias("DOSE")
