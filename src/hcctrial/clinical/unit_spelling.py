"""Lab unit spellings and the pint registry behind :mod:`hcctrial.clinical.units`.

:func:`normalise_unit` maps the spellings found in lab exports to one spelling per unit, and
``_parse_spelling`` turns a normalised spelling into a pint quantity. The registry adds the
clinical units pint lacks: ``cell`` (a count), ``copy`` (nucleic-acid copies, own dimension),
``IU`` (WHO international unit, own dimension), ``U`` (enzyme unit, 1 umol/min, IUB 1964) and
``eq`` (charge equivalent).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pint

from hcctrial.errors import UnitError

__all__ = ["UREG", "normalise_unit"]

UREG: pint.UnitRegistry = pint.UnitRegistry()
UREG.define("cell = count = cells")
UREG.define("copy = [copies] = copies")
UREG.define("international_unit = [international_unit] = IU")
UREG.define("enzyme_unit = micromole / minute = U")  # IUB 1964 definition of the enzyme unit
UREG.define("equivalent = [charge_equivalent] = eq = Eq")

# --- 1. spelling -------------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_LOG_RE = re.compile(r"^(?:log10|log|lg)\s*\(?\s*(.*?)\s*\)?$", re.IGNORECASE)
# 10^9/L written as x10^9/L, 10*9/L (UCUM), 10E9/L, 10**9/L, x 10^9 cells/L ...
_POWER_RE = re.compile(
    r"^(?:x|\*)?10(?:\^|\*\*|\*|e)(-?\d{1,2})(?:cells?)?/(l|ul|mm3|mm\^3|ml|nl|dl)$"
)
# 'x109/L': a superscript lost in copying from a PDF (the seed records read 'PLT≥60×109/L').
# Accepted only with the multiplication sign, and only for the usual exponents, 3, 6, 9 and 12.
_LOST_SUPERSCRIPT_RE = re.compile(r"^x10(3|6|9|12)/(l|ul|mm3)$")
_VOLUME = {"l": "L", "ul": "uL", "mm3": "uL", "mm^3": "uL", "ml": "mL", "nl": "nL", "dl": "dL"}
_CASE_SENSITIVE = {  # SI prefixes where case matters: G = giga, T = tera (not gram, tesla)
    "G/L": "10^9/L",
    "Gpt/L": "10^9/L",
    "Gpt/l": "10^9/L",
    "G/l": "10^9/L",
    "T/L": "10^12/L",
    "Tpt/L": "10^12/L",
    "T/l": "10^12/L",
}
_ALIASES = {
    # mass concentration
    "mg/dl": "mg/dL",
    "mg%": "mg/dL",
    "mg/100ml": "mg/dL",
    "g/dl": "g/dL",
    "g%": "g/dL",
    "g/100ml": "g/dL",
    "g/l": "g/L",
    "mg/l": "mg/L",
    "mg/ml": "mg/mL",
    "ug/l": "ug/L",
    "mcg/l": "ug/L",
    "ug/dl": "ug/dL",
    "ug/ml": "ug/mL",
    "ng/ml": "ng/mL",
    "ng/l": "ng/L",
    "ng/dl": "ng/dL",
    "pg/ml": "pg/mL",
    "pg/l": "pg/L",
    # substance concentration
    "mol/l": "mol/L",
    "mmol/l": "mmol/L",
    "umol/l": "umol/L",
    "micromol/l": "umol/L",
    "nmol/l": "nmol/L",
    "pmol/l": "pmol/L",
    "mmol/mol": "mmol/mol",
    "meq/l": "mEq/L",
    # catalytic and international units
    "u/l": "U/L",
    "unit/l": "U/L",
    "units/l": "U/L",
    "iu/l": "IU/L",
    "ui/l": "IU/L",
    "u/ml": "U/mL",
    "iu/ml": "IU/mL",
    "ui/ml": "IU/mL",
    "miu/ml": "mIU/mL",
    "mu/ml": "mU/mL",
    "kiu/l": "kIU/L",
    "ku/l": "kU/L",
    "ukat/l": "ukat/L",
    "nkat/l": "nkat/L",
    "iu": "IU",
    "iu/kg": "IU/kg",
    "iu/kg/day": "IU/kg/day",
    "iu/kg/d": "IU/kg/day",
    "copies/ml": "copies/mL",
    "copy/ml": "copies/mL",
    "cp/ml": "copies/mL",
    "copies/l": "copies/L",
    # cell counts
    "/ul": "/uL",
    "cells/ul": "/uL",
    "cell/ul": "/uL",
    "/mm3": "/uL",
    "/mm^3": "/uL",
    "cells/mm3": "/uL",
    "cells/mm^3": "/uL",
    "/cumm": "/uL",
    "/cmm": "/uL",
    "k/ul": "10^3/uL",
    "k/mm3": "10^3/uL",
    "thou/ul": "10^3/uL",
    "thou/mm3": "10^3/uL",
    "m/ul": "10^6/uL",
    "mill/ul": "10^6/uL",
    "/l": "/L",
    "cells/l": "/L",
    "/nl": "10^9/L",
    "cells": "cells",
    "cells/kg": "cells/kg",
    "cells/m2": "cells/m2",
    "cells/m^2": "cells/m2",
    # dimensionless, time, body measures
    "%": "%",
    "percent": "%",
    "pct": "%",
    "": "ratio",
    "1": "ratio",
    "ratio": "ratio",
    "inr": "ratio",
    "index": "ratio",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "min",
    "h": "h",
    "hr": "h",
    "day": "day",
    "days": "day",
    "kg": "kg",
    "g": "g",
    "mg": "mg",
    "lb": "lb",
    "cm": "cm",
    "m": "m",
    "in": "in",
    "m2": "m2",
    "m^2": "m2",
    "ml/min": "mL/min",
    "ml/min/1.73m2": "mL/min/1.73m2",
}
# dimensions a clinical unit may have: no electromagnetic, thermal or photometric units
_FORBIDDEN_DIMS = {"[current]", "[temperature]", "[luminosity]", "[printing_unit]"}


def _clean(text: str) -> str:
    out = re.sub(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", r"10^\1", str(text).strip()).translate(_SUPERSCRIPTS)
    for micro in ("µ", "μ"):  # micro sign U+00B5 and Greek mu U+03BC
        out = out.replace(micro, "u")
    out = out.replace("×", "x").replace("·", "*")
    return re.sub(r"\s+", "", out)


def _split_log(text: str) -> tuple[bool, str]:
    match = _LOG_RE.match(str(text).strip())
    if match and match.group(1):
        return True, match.group(1)
    return False, str(text)


@lru_cache(maxsize=4096)
def normalise_unit(text: str) -> str:
    """One spelling per unit: ``"x10^9/L"``, ``"10*9/L"``, ``"G/L"`` -> ``"10^9/L"`` and so on.

    Parameters
    ----------
    text : a unit as written in a lab export (SDTM ``--ORRESU``/``--STRESU``, a spreadsheet).
        An empty text is the unit of a ratio (INR) and comes back as ``"ratio"``. A leading
        ``log10``/``log``/``lg`` is kept as ``"log10 <unit>"`` (HBV DNA is often reported so).

    Returns
    -------
    str : the normalised spelling, which :func:`convert` understands.

    Raises
    ------
    UnitError : the text is not a unit hcctrial knows, or not a clinical one (``"K"`` is kelvin,
        not thousands; write ``"K/uL"``).

    Notes
    -----
    Case matters only where SI does: ``"G/L"`` is giga per litre (10^9/L, the French and German
    spelling for cell counts); all-capital exports such as ``"MG/DL"`` are read case-free. For an
    analyte measured by mass (ALB), :func:`conversion` reads an all-capital ``"G/L"`` as g/L,
    since giga-albumin per litre means nothing.
    """
    if text is None:
        text = ""
    is_log, inner = _split_log(str(text))
    if is_log:
        return "log10 " + normalise_unit(inner)
    cleaned = _clean(text)
    if cleaned in _CASE_SENSITIVE:
        return _CASE_SENSITIVE[cleaned]
    lower = cleaned.lower()
    if lower in _ALIASES:
        return _ALIASES[lower]
    power = _POWER_RE.match(lower) or _LOST_SUPERSCRIPT_RE.match(lower)
    if power:
        return f"10^{int(power.group(1))}/{_VOLUME[power.group(2)]}"
    # anything else must be a unit pint understands, with a clinical dimension
    candidate = re.sub(r"/([munpkd]?)l\b", lambda m: f"/{m.group(1)}L", cleaned)
    try:
        quantity = _parse_spelling(candidate)
    except UnitError:
        raise UnitError(
            "unknown unit",
            value=text,
            expected="a unit such as 10^9/L, g/L, g/dL, umol/L, mg/dL, U/L, IU/mL, mmol/L, %",
        ) from None
    if float(quantity.magnitude) != 1.0:  # '109/L', '1000/uL': a number inside a unit is refused
        raise UnitError(
            "a unit with a number in it is ambiguous",
            value=text,
            expected="a power of ten written 10^9/L, x10^9/L or 10*9/L",
        )
    dims = {str(k): float(str(v)) for k, v in dict(quantity.dimensionality).items()}
    if set(dims) & _FORBIDDEN_DIMS or any(p != round(p) for p in dims.values()):
        raise UnitError(
            "not a clinical unit",
            value=text,
            expected="a concentration, count, activity, time, mass, length or ratio",
        )
    return candidate


def _pint_text(spelling: str) -> str:
    text = re.sub(r"10\^(-?\d+)", r"1e\1", spelling)
    text = text.replace("%", "percent").replace("mm3", "mm**3").replace("m2", "m**2")
    if text == "ratio":
        return "dimensionless"
    if text.startswith("/"):
        text = "1" + text
    return text


@lru_cache(maxsize=4096)
def _parse_spelling(spelling: str) -> pint.Quantity:
    try:
        quantity = UREG.parse_expression(_pint_text(spelling))
    except (pint.errors.PintError, AttributeError, TypeError, SyntaxError, ValueError):
        raise UnitError("unknown unit", value=spelling) from None
    if not isinstance(quantity, UREG.Quantity):  # a bare number such as "5"
        raise UnitError("unknown unit", value=spelling)
    return quantity
