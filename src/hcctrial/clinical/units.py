"""Lab units: spelling normalisation and analyte-aware conversion (pint underneath).

Three layers, each strict (an unknown unit or a unit that does not fit the analyte raises
:class:`~hcctrial.errors.UnitError`; nothing is guessed):

1. :func:`normalise_unit` maps the spellings found in lab exports to one spelling per unit:
   ``x10^9/L``, ``10*9/L``, ``10E9/L``, ``G/L``, ``Gpt/L`` -> ``10^9/L``; ``/mm3``, ``cells/uL``,
   ``/µL`` -> ``/uL``; ``K/uL``, ``10^3/mm3`` -> ``10^3/uL``; ``µmol/l`` -> ``umol/L``; ``mg%`` ->
   ``mg/dL``; ``UI/L`` -> ``IU/L``; ``meq/l`` -> ``mEq/L``; ``""``, ``RATIO`` -> ``ratio``;
   ``sec`` -> ``s``; ``log10 IU/mL`` keeps its log.
2. Dimensional conversion by one module-level pint ``UnitRegistry`` with clinical additions:
   ``cell`` (a count), ``copy`` (nucleic-acid copies, own dimension), ``IU`` (WHO international
   unit, own dimension), ``U`` (enzyme unit, 1 umol/min, IUB 1964) and ``eq`` (charge equivalent).
3. Analyte bridges from :mod:`hcctrial.clinical.analytes`: molar mass (mg/dL <-> umol/L),
   charge number (mEq/L <-> mmol/L), IU <-> copies (HBV DNA), IU <-> ng (AFP), the NGSP/IFCC
   master equation for HbA1c, and enzyme 'IU' = 'U'.

Every conversion is ``y = scale * x + offset`` (with an optional log10 on either side), found
once per (unit, unit, analyte) and cached; :func:`convert_expr` applies it to a polars column by
mapping each distinct unit once, never calling pint per row.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pint
import polars as pl

from hcctrial.clinical._check import ExprUnitError
from hcctrial.clinical.analytes import ANALYTES, Analyte, get_analyte
from hcctrial.clinical.unit_spelling import (
    _ALIASES,
    _CASE_SENSITIVE,
    UREG,
    _clean,
    _parse_spelling,
    normalise_unit,
)
from hcctrial.errors import InputError, UnitError

__all__ = [
    "UREG",
    "Conversion",
    "canonical_unit",
    "check_unit",
    "conversion",
    "convert",
    "convert_expr",
    "known_analytes",
    "normalise_unit",
    "unit_problems",
]

# --- 2 and 3. conversion -----------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """A conversion ``y = scale * x + offset``, with ``x``/``y`` on a log10 scale if flagged.

    ``log_in``: the input is log10 of the quantity; ``log_out``: the output is.
    """

    from_unit: str
    to_unit: str
    analyte: str | None
    scale: float
    offset: float = 0.0
    log_in: bool = False
    log_out: bool = False

    def apply(self, value: float) -> float:
        """Convert one value."""
        x = 10.0**value if self.log_in else value
        y = self.scale * x + self.offset
        if self.log_out:
            if y <= 0:
                raise InputError(
                    f"cannot express {value} {self.from_unit} on a log10 scale",
                    value=value,
                    expected="a positive value",
                )
            return math.log10(y)
        return y

    def formula(self) -> str:
        """The formula as text, e.g. ``umol/L = mg/dL x 17.1`` (for the CLI and reports)."""
        x = f"10^({self.from_unit[6:]})" if self.log_in else self.from_unit
        body = f"{x} x {self.scale:.6g}"
        if self.offset:
            body += f" {'+' if self.offset > 0 else '-'} {abs(self.offset):.6g}"
        target = self.to_unit[6:] if self.log_out else self.to_unit
        rhs = f"log10({body})" if self.log_out else body
        return f"{target if not self.log_out else self.to_unit} = {rhs}"


def _bridges(analyte: Analyte | None) -> list[pint.Quantity]:
    """Quantities that may multiply a unit ratio to make it dimensionless, for this analyte."""
    Q = UREG.Quantity
    # 'IU' = 'U' one to one: for enzymes the historical 'international unit' is the enzyme unit
    # (IUB 1964); for AFP/HBV DNA 'U' on a report means IU. Either way the number is the same.
    bridges = [Q(1.0, "U/IU")]
    if analyte is None:
        return bridges
    if analyte.molar_mass is not None:
        bridges.append(Q(analyte.molar_mass, "g/mol"))
    if analyte.valence is not None:
        bridges.append(Q(float(analyte.valence), "eq/mol"))
    if analyte.copies_per_iu is not None:
        bridges.append(Q(analyte.copies_per_iu, "copies/IU"))
    if analyte.ng_per_iu is not None:
        bridges.append(Q(analyte.ng_per_iu, "ng/IU"))
    return bridges


def _linear_factor(from_unit: str, to_unit: str, analyte: Analyte | None) -> float:
    ratio = _parse_spelling(from_unit) / _parse_spelling(to_unit)
    bridges = _bridges(analyte)
    for powers in itertools.product((0, 1, -1), repeat=len(bridges)):
        candidate = ratio
        for bridge, power in zip(bridges, powers, strict=True):
            if power:
                candidate = candidate * bridge**power
        if candidate.dimensionless:
            factor = float(candidate.to("dimensionless").magnitude)
            return float(f"{factor:.14g}")  # drop binary noise such as 0.9999999999999999
    hint = ""
    if analyte is None and all(
        dict(_parse_spelling(u).dimensionality).get("[length]") == -3 for u in (from_unit, to_unit)
    ):
        hint = (
            "; mass and substance concentrations, mEq and mmol, IU and copies are linked only "
            "through an analyte: pass the analyte (LBTESTCD), e.g. BILI, CREAT, CA, HBVDNA"
        )
    raise UnitError(
        f"cannot convert {from_unit} to {to_unit}"
        + (f" for {analyte.code}" if analyte else "")
        + hint,
        value=from_unit,
        expected=f"a unit of the same kind as {to_unit}",
    )


def _hba1c(from_unit: str, to_unit: str) -> tuple[float, float] | None:
    # NGSP (%) = 0.09148 x IFCC (mmol/mol) + 2.152 (Hoelzel W et al., Clin Chem 2004;50:166-174)
    if (from_unit, to_unit) == ("mmol/mol", "%"):
        return 0.09148, 2.152
    if (from_unit, to_unit) == ("%", "mmol/mol"):
        return 1.0 / 0.09148, -2.152 / 0.09148
    return None


def _check_fits(spelling: str, analyte: Analyte) -> None:
    base = spelling[6:] if spelling.startswith("log10 ") else spelling
    if analyte.only_units and base not in analyte.only_units:
        raise UnitError(
            f"unit does not fit {analyte.code} ({analyte.name})",
            value=spelling,
            expected=" or ".join(analyte.only_units),
        )
    try:
        _linear_factor(base, analyte.canonical_unit, analyte)
    except UnitError:
        raise UnitError(
            f"unit does not fit {analyte.code} ({analyte.name})",
            value=spelling,
            expected=f"a unit convertible to {analyte.canonical_unit}",
        ) from None


def _for_analyte(text: str, meta: Analyte | None) -> str:
    """Normalise; an all-capital 'G/L' is g/L for an analyte measured by mass."""
    spelling = normalise_unit(text)
    cleaned = _clean(text) if text is not None else ""
    if meta is None or cleaned not in _CASE_SENSITIVE or cleaned.lower() not in _ALIASES:
        return spelling
    try:
        _check_fits(spelling, meta)
    except UnitError:
        return _ALIASES[cleaned.lower()]
    return spelling


@lru_cache(maxsize=8192)
def conversion(from_unit: str, to_unit: str, analyte: str | None = None) -> Conversion:
    """The conversion from one unit to another (for an analyte), found once and cached.

    Parameters
    ----------
    from_unit, to_unit : unit texts in any spelling :func:`normalise_unit` knows.
    analyte : SDTM LBTESTCD; required when the units differ in kind (mg/dL <-> umol/L needs the
        molar mass, mEq/L <-> mmol/L the charge, IU/mL <-> copies/mL the assay factor).

    Raises
    ------
    UnitError : unknown unit or analyte, a unit that does not fit the analyte, or units of
        different kinds with no analyte bridge between them.
    """
    meta = get_analyte(analyte) if analyte is not None else None
    src, dst = _for_analyte(from_unit, meta), _for_analyte(to_unit, meta)
    if meta is not None:
        _check_fits(src, meta)
        _check_fits(dst, meta)
    log_in, base_src = src.startswith("log10 "), src.removeprefix("log10 ")
    log_out, base_dst = dst.startswith("log10 "), dst.removeprefix("log10 ")
    code = meta.code if meta else None
    if meta is not None and meta.code == "HBA1C":
        affine = _hba1c(base_src, base_dst)
        if affine is not None:
            return Conversion(src, dst, code, affine[0], affine[1], log_in, log_out)
    scale = _linear_factor(base_src, base_dst, meta)
    return Conversion(src, dst, code, scale, 0.0, log_in, log_out)


def convert(value: float, from_unit: str, to_unit: str, analyte: str | None = None) -> float:
    """Convert one lab value between units.

    Examples (constants in :mod:`hcctrial.clinical.analytes`)::

        convert(1, "mg/dL", "umol/L", "BILI")    # 17.104 (10 / 584.66 x 1000)
        convert(1, "mg/dL", "umol/L", "CREAT")   # 88.40  (10 / 113.12 x 1000)
        convert(250, "/mm3", "10^9/L")           # 0.25
        convert(2.5, "mEq/L", "mmol/L", "CA")    # 1.25 (calcium is divalent)

    Raises
    ------
    InputError : the value is not a finite number.
    UnitError : see :func:`conversion`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InputError("lab value is not a number", value=value, expected="a number")
    if not math.isfinite(float(value)):
        raise InputError("lab value is not finite", value=value, expected="a finite number")
    return conversion(from_unit, to_unit, analyte).apply(float(value))


def canonical_unit(analyte: str) -> str:
    """The unit every engine uses for an analyte (``"PLT" -> "10^9/L"``, ``"BILI" -> "umol/L"``)."""
    return get_analyte(analyte).canonical_unit


def check_unit(unit: str, analyte: str) -> str:
    """The normalised unit if it fits the analyte; :class:`UnitError` otherwise."""
    spelling = normalise_unit(unit)
    _check_fits(spelling, get_analyte(analyte))
    return spelling


# --- vectorised ---------------------------------------------------------------------------------


def _as_expr(col: str | pl.Expr) -> pl.Expr:
    return pl.col(col) if isinstance(col, str) else col


def _lookup_table(
    keys: pl.DataFrame, to_unit: str | None
) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
    """One conversion per distinct (unit, analyte); returns the factors and the failures."""
    rows: list[dict[str, object]] = []
    failures: list[tuple[str, str, str]] = []
    for unit, code in keys.sort("_unit", "_code").iter_rows():
        analyte = code or None
        if analyte is None and to_unit is None:
            failures.append((unit, code, "lab test code is missing (expected an SDTM LBTESTCD)"))
            continue
        try:
            target = to_unit if to_unit is not None else canonical_unit(str(analyte))
            conv = conversion(unit, target, analyte)
        except UnitError as exc:
            failures.append((unit, code, exc.problem.message + _expected(exc)))
            continue
        rows.append(
            {
                "_unit": unit,
                "_code": code,
                "_scale": conv.scale,
                "_offset": conv.offset,
                "_log_in": conv.log_in,
                "_log_out": conv.log_out,
            }
        )
    schema: dict[str, type[pl.DataType]] = {
        "_unit": pl.String,
        "_code": pl.String,
        "_scale": pl.Float64,
        "_offset": pl.Float64,
        "_log_in": pl.Boolean,
        "_log_out": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema), failures


def _expected(exc: UnitError) -> str:
    return f" (expected {exc.problem.expected})" if exc.problem.expected else ""


def _frame(batch: pl.Series) -> pl.DataFrame:
    df = batch.struct.unnest()
    if "_code" not in df.columns:
        df = df.with_columns(pl.lit("", dtype=pl.String).alias("_code"))
    return df.with_columns(
        pl.col("_unit").fill_null(""),
        pl.col("_code").fill_null("").str.strip_chars().str.to_uppercase(),
    )


def convert_expr(
    value_col: str | pl.Expr,
    unit_col: str | pl.Expr,
    to_unit: str | None,
    analyte: str | pl.Expr | None = None,
) -> pl.Expr:
    """Vectorised :func:`convert` over a table whose rows may carry different units.

    Each distinct (unit, analyte) pair is converted once through pint; the factors are joined
    back onto the rows. A null value gives null; a null unit is read as ``""`` (a ratio), which
    fails loudly for any analyte that has a unit.

    Parameters
    ----------
    value_col : the numeric column (e.g. ``"LBORRES"`` cast to float, or ``"LBSTRESN"``).
    unit_col : the unit column (e.g. ``"LBORRESU"``).
    to_unit : the target unit, or None for the canonical unit of each row's analyte.
    analyte : one LBTESTCD for all rows, or an expression giving it per row
        (``pl.col("LBTESTCD")``), or None for purely dimensional conversion.

    Raises
    ------
    UnitError : when the expression is evaluated, naming the unit column, the offending unit,
        analyte and first row (1-based, within the frame evaluated), for every bad pair at once.
        Use :func:`unit_problems` first to get a problems table instead of an error.
    """
    if to_unit is None and analyte is None:
        raise InputError("convert_expr needs to_unit or an analyte", expected="a unit or LBTESTCD")
    value = _as_expr(value_col)
    unit = _as_expr(unit_col)
    unit_name = unit_col if isinstance(unit_col, str) else "unit"
    value_name = value_col if isinstance(value_col, str) else "value"
    fields = [value.alias("_value"), unit.cast(pl.String).alias("_unit")]
    if analyte is not None:
        code = pl.lit(analyte) if isinstance(analyte, str) else analyte
        fields.append(code.cast(pl.String).alias("_code"))

    def _apply(batch: pl.Series) -> pl.Series:
        df = _numeric_values(_frame(batch), value_name).with_row_index("_row")
        keys = df.filter(pl.col("_value").is_not_null()).select("_unit", "_code").unique()
        table, failures = _lookup_table(keys, to_unit)
        if failures:
            raise _failure_error(df, failures, unit_name)
        joined = df.join(table, on=["_unit", "_code"], how="left").sort("_row")
        x = pl.when(pl.col("_log_in")).then(10.0 ** pl.col("_value")).otherwise(pl.col("_value"))
        y = pl.col("_scale") * x + pl.col("_offset")
        out = joined.select(y.alias("_y"), pl.col("_log_out").fill_null(False).alias("_log_out"))
        bad_log = out.filter(pl.col("_log_out") & (pl.col("_y") <= 0))
        if bad_log.height:
            raise ExprUnitError(
                "cannot express a non-positive value on a log10 scale",
                column=unit_name,
                expected="positive values",
            )
        result = out.select(
            pl.when(pl.col("_log_out")).then(pl.col("_y").log10()).otherwise(pl.col("_y"))
        ).to_series()
        return result.alias(batch.name)

    try:
        name = value.meta.output_name()
    except pl.exceptions.ComputeError:
        name = "value"
    return pl.struct(fields).map_batches(_apply, return_dtype=pl.Float64).alias(name)


def _numeric_values(df: pl.DataFrame, value_name: str) -> pl.DataFrame:
    """Cast ``_value`` to Float64; text that is not a number (``"<0.5"``, ``"trace"``) raises."""
    raw = df["_value"]
    if raw.dtype == pl.Float64:
        return df
    if raw.dtype in (pl.String, pl.Categorical):
        parsed = raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        bad = raw.is_not_null() & parsed.is_null()
        if bad.any():
            rows = bad.arg_true()
            raise ExprUnitError(
                f"value is not a number in {len(rows)} row(s), first at row {int(rows[0]) + 1}",
                column=value_name,
                value=raw[int(rows[0])],
                expected="a number (censored results such as '<0.5' need LBSTRESN/LBSTRESC rules)",
            )
        return df.with_columns(parsed.alias("_value"))
    try:
        return df.with_columns(pl.col("_value").cast(pl.Float64))
    except pl.exceptions.PolarsError:
        raise ExprUnitError(
            "value column is not numeric", column=value_name, value=str(raw.dtype)
        ) from None


def _failure_error(
    df: pl.DataFrame, failures: list[tuple[str, str, str]], unit_name: str
) -> UnitError:
    parts = []
    for unit, code, message in failures:
        hit = df.filter(
            (pl.col("_unit") == unit) & (pl.col("_code") == code) & pl.col("_value").is_not_null()
        )
        first = int(hit["_row"][0]) + 1 if hit.height else None
        what = f"unit {unit!r}" + (f" for {code}" if code else "")
        parts.append(f"{what}: {message} [{hit.height} row(s), first at row {first}]")
    return ExprUnitError("; ".join(parts), column=unit_name)


def unit_problems(
    df: pl.DataFrame,
    unit_col: str,
    analyte_col: str | None = None,
    to_unit: str | None = None,
    value_col: str | None = None,
) -> pl.DataFrame:
    """Rows whose unit cannot be converted, as a problems table (nothing raised).

    Returns a frame with ``row`` (1-based), the unit, the analyte (if given) and ``message``;
    empty when every unit converts. Rows with a null value (``value_col``) are not checked.
    """
    if to_unit is None and analyte_col is None:
        raise InputError("unit_problems needs to_unit or analyte_col", expected="one of them")
    cols = [pl.col(unit_col).cast(pl.String).alias("_unit")]
    cols.append(
        pl.col(analyte_col).cast(pl.String).alias("_code")
        if analyte_col
        else pl.lit("", dtype=pl.String).alias("_code")
    )
    cols.append(
        pl.col(value_col).cast(pl.Float64, strict=False).alias("_value")
        if value_col
        else pl.lit(0.0).alias("_value")
    )
    work = _frame(df.select(pl.struct(cols).alias("s")).to_series()).with_row_index("_row", 1)
    keys = work.filter(pl.col("_value").is_not_null()).select("_unit", "_code").unique()
    _, failures = _lookup_table(keys, to_unit)
    fail = pl.DataFrame(
        failures,
        schema={"_unit": pl.String, "_code": pl.String, "message": pl.String},
        orient="row",
    )
    out = (
        work.filter(pl.col("_value").is_not_null())
        .join(fail, on=["_unit", "_code"], how="inner")
        .sort("_row")
        .select(
            pl.col("_row").alias("row"),
            pl.col("_unit").alias(unit_col),
            pl.col("_code").alias(analyte_col or "analyte"),
            "message",
        )
    )
    return out


def known_analytes() -> list[str]:
    """The SDTM LBTESTCD codes with a canonical unit."""
    return sorted(ANALYTES)
