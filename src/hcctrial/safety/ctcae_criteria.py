"""CTCAE lab grading criteria as data: loading, checking and looking up terms.

The criteria live in ``safety/data/ctcae_v5.csv`` (NCI CTCAE v5.0, 27 November 2017) and
``safety/data/ctcae_v403.csv`` (NCI CTCAE v4.03, 14 June 2010), one row per term, grade and
bound, each with the document's wording (``criterion``), the document and its system organ
class section (``section``), and a ``note`` wherever the row reads the document (SI bound
chosen, symptoms unknown from a lab value). Nothing about grading is written as code branches:
:mod:`hcctrial.safety.ctcae` builds its expressions from these rows.

A row grades ``grade`` when the value lies in ``(lower, upper)`` with the document's edges:

``bound = factor x ref``  for ``ref`` in ``ULN``, ``LLN``, ``BASE`` (baseline value),
``bound = ref + factor``  for ``ULN+``, ``BASE+`` (an increase, in ``unit``),
``bound = factor``        for ``ABS`` (an absolute value in ``unit``),

with ``lower_op`` ``>`` or ``>=`` and ``upper_op`` ``<`` or ``<=`` exactly as the document
writes the range ("``>3.0 - 5.0 x ULN``" is ``> 3 ULN`` and ``<= 5 ULN``; "``<LLN - 75.0``"
is ``>= 75`` and ``< LLN``). ``condition`` restricts a row to a baseline that was normal or
abnormal (v5.0 liver tests), to fasting samples (v4.03 hyperglycemia), or marks a term that the
document grades only clinically (v5.0 hyperglycemia: no lab bound).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import polars as pl

from hcctrial.clinical.units import canonical_unit
from hcctrial.errors import InputError

__all__ = [
    "CTCAE_VERSIONS",
    "CtcaeTerm",
    "ctcae_criteria",
    "ctcae_terms",
    "find_ctcae_term",
    "normalise_ctcae_version",
]

CTCAE_VERSIONS = ("5.0", "4.03")
_FILES = {"5.0": "ctcae_v5.csv", "4.03": "ctcae_v403.csv"}
_REFS = {"ULN", "LLN", "BASE", "ABS", "ULN+", "BASE+", ""}
_CONDITIONS = {"any", "baseline normal", "baseline abnormal", "fasting", "clinical"}
_SCHEMA = {
    "term": pl.String,
    "lbtestcd": pl.String,
    "direction": pl.String,
    "grade": pl.Int8,
    "condition": pl.String,
    "lower_ref": pl.String,
    "lower_value": pl.Float64,
    "lower_op": pl.String,
    "upper_ref": pl.String,
    "upper_value": pl.Float64,
    "upper_op": pl.String,
    "unit": pl.String,
    "criterion": pl.String,
    "document": pl.String,
    "section": pl.String,
    "note": pl.String,
}


@dataclass(frozen=True)
class CtcaeTerm:
    """One CTCAE term graded from a lab test: its name, SDTM test code and direction."""

    term: str
    lbtestcd: str
    direction: str
    unit: str
    version: str


def normalise_ctcae_version(version: str | float) -> str:
    """``"5"``, ``"v5.0"``, ``5.0`` -> ``"5.0"``; ``"4.03"``, ``"v4.03"`` -> ``"4.03"``."""
    text = str(version).strip().lower().removeprefix("ctcae").strip().removeprefix("v")
    if text in ("5", "5.0", "5.00"):
        return "5.0"
    if text in ("4.03", "4.3"):
        return "4.03"
    raise InputError("unknown CTCAE version", column="ctcae", value=version, expected="5.0 or 4.03")


def _check(df: pl.DataFrame, name: str) -> None:
    """The data file is well formed: refs, ops, conditions, units and grades make sense."""
    for i, r in enumerate(df.iter_rows(named=True), start=1):
        where = f"{name} row {i} ({r['term']} grade {r['grade']})"
        if r["lower_ref"] not in _REFS or r["upper_ref"] not in _REFS:
            raise ValueError(f"{where}: unknown bound reference")
        if r["condition"] not in _CONDITIONS:
            raise ValueError(f"{where}: unknown condition {r['condition']!r}")
        if r["condition"] == "clinical":
            continue
        if r["grade"] is None or not 1 <= r["grade"] <= 5:
            raise ValueError(f"{where}: grade must be 1..5")
        if r["lower_ref"] and r["lower_op"] not in (">", ">="):
            raise ValueError(f"{where}: lower_op must be > or >=")
        if r["upper_ref"] and r["upper_op"] not in ("<", "<="):
            raise ValueError(f"{where}: upper_op must be < or <=")
        if not r["lower_ref"] and not r["upper_ref"]:
            raise ValueError(f"{where}: a graded row needs at least one bound")
        if r["unit"] != canonical_unit(r["lbtestcd"]):
            raise ValueError(f"{where}: unit {r['unit']} is not the canonical unit")


@lru_cache(maxsize=4)
def _load(version: str) -> pl.DataFrame:
    name = _FILES[version]
    path = resources.files("hcctrial.safety").joinpath("data", name)
    with path.open("rb") as handle:
        df = pl.read_csv(handle, schema=_SCHEMA)
    df = df.with_columns(
        [pl.col(c).fill_null("") for c in ("lower_ref", "upper_ref", "lower_op", "upper_op")]
        + [pl.col("note").fill_null(""), pl.lit(version).alias("version")]
    )
    _check(df, name)
    return df


def ctcae_criteria(version: str | float = "5.0", terms: list[str] | None = None) -> pl.DataFrame:
    """The grading criteria of one CTCAE version, optionally for some terms only.

    Parameters
    ----------
    version : ``"5.0"`` or ``"4.03"``.
    terms : CTCAE terms (``"Platelet count decreased"``) or SDTM test codes (``"PLT"``);
        None for all.

    Raises
    ------
    InputError : an unknown version, or an unknown term (the message suggests the nearest).
    """
    df = _load(normalise_ctcae_version(version))
    if terms is None:
        return df
    wanted = [find_ctcae_term(t, version) for t in terms]
    keys = sorted({f"{t.lbtestcd}|{t.direction}" for w in wanted for t in w})
    return df.filter((pl.col("lbtestcd") + "|" + pl.col("direction")).is_in(keys))


def ctcae_terms(version: str | float = "5.0") -> list[CtcaeTerm]:
    """Every lab-graded term of a CTCAE version, in file order."""
    v = normalise_ctcae_version(version)
    seen = _load(v).select("term", "lbtestcd", "direction", "unit").unique(maintain_order=True)
    return [
        CtcaeTerm(term=t, lbtestcd=c, direction=d, unit=u, version=v)
        for t, c, d, u in seen.iter_rows()
    ]


def find_ctcae_term(name: str, version: str | float = "5.0") -> list[CtcaeTerm]:
    """The term(s) a CTCAE term name or SDTM ``LBTESTCD`` refers to (a code may name two:
    ``LYM`` is lymphocyte count decreased and increased).

    Raises
    ------
    InputError : no term or code matches; the message names the nearest terms.
    """
    terms = ctcae_terms(version)
    key = str(name).strip().casefold()
    hits = [t for t in terms if key in (t.term.casefold(), t.lbtestcd.casefold())]
    if hits:
        return hits
    choices = sorted({t.term for t in terms} | {t.lbtestcd for t in terms})
    near = difflib.get_close_matches(str(name).strip(), choices, n=3, cutoff=0.5)
    if not near:
        folded = {c.casefold(): c for c in choices}
        near = [folded[c] for c in difflib.get_close_matches(key, list(folded), n=3, cutoff=0.4)]
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    raise InputError(
        f"unknown CTCAE v{normalise_ctcae_version(version)} lab term{hint}",
        column="term",
        value=name,
        expected="a CTCAE term such as 'Platelet count decreased' or an LBTESTCD such as 'PLT'",
    )
