"""Body size and renal function: body surface area (Mosteller, DuBois), Cockcroft-Gault.

Scalar functions check their inputs and raise :class:`~hcctrial.errors.InputError` naming the
value and the range expected; the ``*_expr`` versions compute natively over polars columns and
raise the same kind of error (with the first offending row) when evaluated over bad rows.
Null inputs give a null result.
"""

from __future__ import annotations

import math
from typing import Literal

import polars as pl

from hcctrial.clinical._check import category, category_expr, col, number, strict
from hcctrial.clinical.units import convert

__all__ = [
    "BSA_METHODS",
    "bsa",
    "bsa_dubois",
    "bsa_expr",
    "bsa_mosteller",
    "crcl_expr",
    "creatinine_clearance_cockcroft_gault",
    "parse_sex",
]

# Plausible adult and paediatric ranges; outside them the unit is almost surely wrong
# (height in metres or inches, weight in pounds or grams). 272 cm: tallest recorded human.
HEIGHT_CM = (30.0, 272.0)
WEIGHT_KG = (0.5, 700.0)
BSA_METHODS = ("mosteller", "dubois")


def _height(height_cm: object) -> float:
    return number(
        "height",
        height_cm,
        unit="cm",
        low=HEIGHT_CM[0],
        high=HEIGHT_CM[1],
        hint="height is in centimetres, not metres or inches",
    )


def _weight(weight_kg: object) -> float:
    return number(
        "weight",
        weight_kg,
        unit="kg",
        low=WEIGHT_KG[0],
        high=WEIGHT_KG[1],
        hint="weight is in kilograms, not pounds or grams",
    )


# sqrt(H x W / 3600) = sqrt(H x W) / 60, computed as a product in both bsa_mosteller and
# bsa_expr: polars divides a column of several rows by a number as a multiplication by its
# reciprocal (one row: a true division), which moved some BSAs by one unit in the last place
# between a one-subject and a many-subject calendar
_ONE_SIXTIETH = 1.0 / 60.0


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    r"""Body surface area by Mosteller's formula, m².

    .. math:: \mathrm{BSA} = \sqrt{\frac{H_{cm} \times W_{kg}}{3600}}

    Reference: Mosteller RD. Simplified calculation of body-surface area. N Engl J Med
    1987;317:1098. Example: 180 cm, 80 kg -> sqrt(14400 / 3600) = 2.00 m².
    """
    h, w = _height(height_cm), _weight(weight_kg)
    return math.sqrt(h * w) * _ONE_SIXTIETH


def bsa_dubois(height_cm: float, weight_kg: float) -> float:
    r"""Body surface area by the DuBois and DuBois formula, m².

    .. math:: \mathrm{BSA} = 0.007184 \times W_{kg}^{0.425} \times H_{cm}^{0.725}

    Reference: Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if
    height and weight be known. Arch Intern Med 1916;17:863-871 (published as
    log A = 0.425 log W + 0.725 log H + 1.8564, A in cm²; 10^1.8564 cm² = 0.007184 m²).
    """
    h, w = _height(height_cm), _weight(weight_kg)
    return 0.007184 * w**0.425 * h**0.725


def bsa(
    height_cm: float, weight_kg: float, method: Literal["mosteller", "dubois"] | str = "mosteller"
) -> float:
    """Body surface area (m²) by ``method``: ``"mosteller"`` (default) or ``"dubois"``."""
    choice = category("BSA method", method, {m: m for m in BSA_METHODS})
    return (
        bsa_mosteller(height_cm, weight_kg)
        if choice == "mosteller"
        else bsa_dubois(height_cm, weight_kg)
    )


def bsa_expr(
    height_cm: str | pl.Expr, weight_kg: str | pl.Expr, method: str = "mosteller"
) -> pl.Expr:
    """Vectorised :func:`bsa` over columns of height (cm) and weight (kg)."""
    choice = category("BSA method", method, {m: m for m in BSA_METHODS})
    h, w = col(height_cm).cast(pl.Float64), col(weight_kg).cast(pl.Float64)
    if choice == "mosteller":
        value = (h * w).sqrt() * _ONE_SIXTIETH
    else:
        value = 0.007184 * w.pow(0.425) * h.pow(0.725)
    checks = [
        (
            (h < HEIGHT_CM[0]) | (h > HEIGHT_CM[1]) | h.is_nan(),
            "height out of range",
            f"{HEIGHT_CM[0]:g} to {HEIGHT_CM[1]:g} cm",
        ),
        (
            (w < WEIGHT_KG[0]) | (w > WEIGHT_KG[1]) | w.is_nan(),
            "weight out of range",
            f"{WEIGHT_KG[0]:g} to {WEIGHT_KG[1]:g} kg",
        ),
    ]
    return strict(value.alias("BSA"), checks, pl.Float64)


_SEX = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}


def parse_sex(sex: object) -> str:
    """``"M"`` or ``"F"`` from SDTM SEX or a spelled-out word; :class:`InputError` otherwise.

    Cockcroft-Gault has a factor for female sex only; ``U`` (unknown) cannot be computed.
    """
    return str(category("sex", sex, _SEX))


def creatinine_clearance_cockcroft_gault(
    age: float,
    weight_kg: float,
    sex: str,
    creatinine: float,
    unit: str = "mg/dL",
) -> float:
    r"""Creatinine clearance (mL/min) by Cockcroft and Gault.

    .. math::

        \mathrm{CrCl} = \frac{(140 - \mathrm{age}) \times W_{kg}}{72 \times S_{Cr,\,mg/dL}}
        \times (0.85 \text{ if female})

    Reference: Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum
    creatinine. Nephron 1976;16:31-41 (the 0.85 factor for women is the authors' suggestion in
    the same paper). Serum creatinine in other units is converted to mg/dL first with the molar
    mass 113.12 g/mol (1 mg/dL = 88.40 umol/L), so the SI form is
    1.2278 x (140 - age) x W / SCr(umol/L), the '1.23' of SI textbooks.

    Weight is actual body weight, as in the original derivation; the formula was derived in
    adults aged 18 to 92 and is not defined for children (ages below 18 are refused).

    Example: a 60-year-old man of 72 kg with SCr 1.0 mg/dL: (80 x 72) / (72 x 1.0) = 80 mL/min;
    a woman with the same values: 68 mL/min.
    """
    a = number("age", age, unit="years", low=18, high=120, hint="Cockcroft-Gault is for adults")
    w = _weight(weight_kg)
    s = parse_sex(sex)
    scr_raw = number("serum creatinine", creatinine, unit=unit, low=0, low_open=True)
    scr = convert(scr_raw, unit, "mg/dL", "CREAT")
    value = (140.0 - a) * w / (72.0 * scr)
    return value * 0.85 if s == "F" else value


def crcl_expr(
    age: str | pl.Expr,
    weight_kg: str | pl.Expr,
    sex: str | pl.Expr,
    creatinine: str | pl.Expr,
    unit: str = "mg/dL",
) -> pl.Expr:
    """Vectorised :func:`creatinine_clearance_cockcroft_gault` (one creatinine unit for all rows;
    use :func:`hcctrial.clinical.units.convert_expr` first when units differ by row)."""
    factor = convert(1.0, unit, "mg/dL", "CREAT")
    a = col(age).cast(pl.Float64)
    w = col(weight_kg).cast(pl.Float64)
    scr = col(creatinine).cast(pl.Float64) * factor
    sex_code = category_expr(col(sex), _SEX, pl.String)
    female = pl.when(sex_code == "F").then(0.85).otherwise(1.0)
    value = (140.0 - a) * w / (72.0 * scr) * female
    checks = [
        ((a < 18) | (a > 120) | a.is_nan(), "age out of range", "18 to 120 years"),
        (
            (w < WEIGHT_KG[0]) | (w > WEIGHT_KG[1]) | w.is_nan(),
            "weight out of range",
            f"{WEIGHT_KG[0]:g} to {WEIGHT_KG[1]:g} kg",
        ),
        ((scr <= 0) | scr.is_nan(), "serum creatinine not positive", f"> 0 {unit}"),
        (col(sex).is_not_null() & sex_code.is_null(), "unknown sex", "M or F"),
    ]
    return strict(value.alias("CRCL"), checks, pl.Float64)
