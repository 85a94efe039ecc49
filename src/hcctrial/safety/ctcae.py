"""CTCAE v5.0 and v4.03 lab grading over a whole SDTM LB table (vectorised, criteria as data).

:func:`grade_labs` adds to each LB row the CTCAE term and grade for a low and a high result
(``ATOXDSCL``/``ATOXGRL``, ``ATOXDSCH``/``ATOXGRH``), the worse of the two (``ATOXGR``), and
why a row could not be graded (``ATOXGRRSN``). Every bound comes from
:func:`hcctrial.safety.ctcae_criteria.ctcae_criteria` (the package data files, one row per
term, grade and bound, with the document's wording); this module only turns those rows into
polars expressions:

``grade = max over rows r of [condition_r and lower_r (op) value and value (op) upper_r] x g_r``

within a direction that is abnormal (``value > ULN`` for an increase, ``value < LLN`` for a
decrease); a value within the normal limits is grade 0 (CTCAE v5.0, "Grades": grade 0 is not
an adverse event; admiral ``derive_var_atoxgr_dir`` does the same). Values and limits are put
into the criterion's unit through :func:`hcctrial.clinical.units.conversion` (one conversion per
distinct unit and test, joined back, never per row).

Baseline (v5.0 ALT, AST, ALP, GGT, bilirubin "if baseline was abnormal"; creatinine "x
baseline" in both versions): the ``BASE`` column if given (in the row's unit), else the value
of the row flagged ``LBBLFL``/``ABLFL`` = ``Y`` for the subject and test. A baseline is
abnormal when it is above the row's ULN. The baseline record itself, and rows of a subject
without a baseline, are graded against ULN (the "baseline was normal" criteria).

Rows are never dropped: a row that cannot be graded keeps a null grade and the reason (no
numeric result, a unit that does not fit the test, no normal range, a term the document grades
only clinically, a non-fasting glucose under v4.03).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from hcctrial.clinical.units import canonical_unit, conversion
from hcctrial.errors import InputError, InputErrors, Problem, UnitError
from hcctrial.safety.ctcae_criteria import ctcae_criteria, find_ctcae_term, normalise_ctcae_version

__all__ = ["LB_REQUIRED", "LabGrade", "grade_lab", "grade_labs", "lab_grading_problems"]

LB_REQUIRED = ("USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI")
_OUT = {
    "ATOXDSCL": pl.String,
    "ATOXGRL": pl.Int8,
    "ATOXDSCH": pl.String,
    "ATOXGRH": pl.Int8,
    "ATOXGR": pl.Int8,
    "ATOXGRRSN": pl.String,
    "ATOXAVAL": pl.Float64,
    "ATOXBASE": pl.Float64,
    "ATOXU": pl.String,
    "ATOXRNGF": pl.String,
}


def _frame(lb: Any) -> pl.DataFrame:
    if isinstance(lb, pl.DataFrame):
        return lb
    if isinstance(lb, pl.LazyFrame):
        return lb.collect()
    try:
        return pl.from_pandas(lb)
    except (TypeError, ValueError):
        raise InputError(
            "LB must be a polars or pandas DataFrame", value=type(lb).__name__
        ) from None


def _numeric(df: pl.DataFrame, col: str) -> tuple[pl.Expr, pl.Expr]:
    """The column as Float64, and a flag for text that is not a number."""
    raw = pl.col(col)
    if df.schema[col].is_numeric():
        return raw.cast(pl.Float64), pl.lit(False)
    parsed = raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    bad = raw.is_not_null() & (raw.cast(pl.String).str.strip_chars() != "") & parsed.is_null()
    return parsed, bad


def _unit_table(keys: pl.DataFrame) -> pl.DataFrame:
    """One conversion to the criterion unit per distinct (test, unit), or the reason it fails."""
    rows: list[tuple[str, str, float | None, float | None, str | None, str]] = []
    for code, unit in keys.iter_rows():
        target = canonical_unit(code)
        try:
            conv = conversion(unit, target, code)
            error = "log-scale unit" if conv.log_in or conv.log_out else None
            rows.append((code, unit, conv.scale, conv.offset, error, target))
        except UnitError as exc:
            p = exc.problem
            why = p.message + (f" (expected {p.expected})" if p.expected else "")
            rows.append((code, unit, None, None, f"unit {unit!r}: {why}", target))
    schema = {
        "_code": pl.String,
        "_unit": pl.String,
        "_scale": pl.Float64,
        "_offset": pl.Float64,
        "_unit_error": pl.String,
        "ATOXU": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _default_table(ranges: Any) -> pl.DataFrame:
    """User-given documented default ranges, in the criterion unit, with their source."""
    df = _frame(ranges)
    need = ("LBTESTCD", "LBSTNRLO", "LBSTNRHI", "LBSTRESU", "SOURCE")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(
            "default ranges table lacks column(s) " + ", ".join(missing),
            expected="LBTESTCD, LBSTNRLO, LBSTNRHI, LBSTRESU, SOURCE (where the range comes from)",
        )
    out, problems = [], []
    for i, r in enumerate(df.select(need).iter_rows(named=True), start=1):
        code = str(r["LBTESTCD"]).strip().upper()
        if not r["SOURCE"] or not str(r["SOURCE"]).strip():
            problems.append(Problem("a default range needs its SOURCE", row=i, column="SOURCE"))
            continue
        try:
            conv = conversion(str(r["LBSTRESU"] or ""), canonical_unit(code), code)
        except UnitError as exc:
            problems.append(Problem(exc.problem.message, row=i, column="LBSTRESU", value=code))
            continue
        lo = None if r["LBSTNRLO"] is None else conv.apply(float(r["LBSTNRLO"]))
        hi = None if r["LBSTNRHI"] is None else conv.apply(float(r["LBSTNRHI"]))
        out.append((code, lo, hi, f"DEFAULT ({str(r['SOURCE']).strip()})"))
    if problems:
        raise InputErrors(problems, context="default ranges")
    schema = {"_code": pl.String, "_dlo": pl.Float64, "_dhi": pl.Float64, "_dsrc": pl.String}
    return pl.DataFrame(out, schema=schema, orient="row").unique("_code", keep="last")


def _baseline_flag(df: pl.DataFrame) -> str | None:
    for col in ("ABLFL", "LBBLFL"):
        if col in df.columns:
            return col
    return None


def _with_baseline(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``_isbase`` and ``_base`` (criterion unit) from BASE or the baseline flag."""
    flag = _baseline_flag(df)
    is_base = (
        pl.col(flag).cast(pl.String).str.strip_chars().str.to_uppercase().eq("Y").fill_null(False)
        if flag
        else pl.lit(False)
    )
    df = df.with_columns(is_base.alias("_isbase"))
    if "BASE" in df.columns:
        base, _ = _numeric(df, "BASE")
        return df.with_columns((pl.col("_scale") * base + pl.col("_offset")).alias("_base"))
    if flag is None:
        return df.with_columns(pl.lit(None, dtype=pl.Float64).alias("_base"))
    flagged = df.filter(pl.col("_isbase") & pl.col("_v").is_not_null())
    dupes = flagged.group_by("USUBJID", "_code").agg(pl.len().alias("n"), pl.col("_row").min())
    dupes = dupes.filter(pl.col("n") > 1).sort("_row")
    if dupes.height:
        raise InputErrors(
            [
                Problem(
                    f"{r['n']} rows flagged as baseline for {r['_code']}",
                    row=int(r["_row"]) + 1,
                    column=flag,
                    subject=r["USUBJID"],
                    expected="one baseline row per subject and test",
                )
                for r in dupes.iter_rows(named=True)
            ],
            context="LB baseline flags",
        )
    base_rows = flagged.select("USUBJID", "_code", pl.col("_v").alias("_base"))
    return df.join(base_rows, on=["USUBJID", "_code"], how="left", maintain_order="left")


_CMP = {
    ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b,
    "<": lambda v, b: v < b,
    "<=": lambda v, b: v <= b,
}


def _bound(ref: str, factor: float) -> pl.Expr:
    base_rel = pl.when(pl.col("_isbase")).then(None).otherwise(pl.col("_base"))
    if ref == "ABS":
        return pl.lit(factor)
    if ref == "ULN":
        return pl.col("_uln") * factor
    if ref == "LLN":
        return pl.col("_lln") * factor
    if ref == "BASE":
        return base_rel * factor
    if ref == "ULN+":
        return pl.col("_uln") + factor
    return base_rel + factor  # "BASE+"


def _condition(kind: str) -> pl.Expr:
    abnormal_base = (
        (~pl.col("_isbase") & (pl.col("_base") > pl.col("_uln"))).fill_null(False).alias("_ab")
    )
    if kind == "baseline normal":
        return ~abnormal_base
    if kind == "baseline abnormal":
        return abnormal_base
    if kind == "fasting":
        return ~pl.col("_nonfasting")
    return pl.lit(True)


def _row_match(r: dict[str, Any]) -> pl.Expr:
    v = pl.col("_v")
    match = _condition(r["condition"])
    if r["lower_ref"]:
        match = match & _CMP[r["lower_op"]](v, _bound(r["lower_ref"], r["lower_value"]))
    if r["upper_ref"]:
        match = match & _CMP[r["upper_op"]](v, _bound(r["upper_ref"], r["upper_value"]))
    return pl.when(match.fill_null(False)).then(pl.lit(r["grade"], pl.Int8)).otherwise(0)


def _direction(rows: pl.DataFrame, direction: str, version: str) -> tuple[pl.Expr, pl.Expr]:
    """Grade and reason expressions for one term (one test, one direction)."""
    term = rows["term"][0]
    high = direction == "high"
    limit = pl.col("_uln") if high else pl.col("_lln")
    limit_name = "ULN (LBSTNRHI)" if high else "LLN (LBSTNRLO)"
    abnormal = pl.col("_v") > limit if high else pl.col("_v") < limit
    graded = rows.filter(pl.col("condition") != "clinical")
    clinical = rows.filter(pl.col("condition") == "clinical")
    fasting_only = bool((rows["condition"] == "fasting").any())
    parts = [_row_match(r) for r in graded.iter_rows(named=True)]
    grade_of_rows = pl.max_horizontal(parts) if parts else pl.lit(0, pl.Int8)
    missing = pl.col("_v").is_null() | pl.col("_unit_error").is_not_null()
    blocked = pl.lit(clinical.height > 0) | (pl.lit(fasting_only) & pl.col("_nonfasting"))
    grade = (
        pl.when(missing | limit.is_null())
        .then(None)
        .when(~abnormal)
        .then(0)
        .when(blocked)
        .then(None)
        .otherwise(grade_of_rows)
        .cast(pl.Int8)
    )
    if clinical.height:
        why_blocked = pl.lit(f"{term}: {clinical['note'][0]}")
    else:
        why_blocked = pl.lit(f"{term}: CTCAE v{version} grades a fasting value (LBFAST = N)")
    reason = (
        pl.when(missing)
        .then(None)
        .when(limit.is_null())
        .then(pl.lit(f"{term}: no {limit_name}; a grade needs the normal range"))
        .when(abnormal & blocked)
        .then(why_blocked)
        .otherwise(None)
    )
    return grade, reason


def _overall() -> pl.Expr:
    """``ATOXGR``: the worse of the two directions; null when the direction that could be
    abnormal is ungradable (a value within one limit tells nothing about the other)."""
    low, high = pl.col("ATOXGRL"), pl.col("ATOXGRH")
    no_low, no_high = pl.col("ATOXDSCL").is_null(), pl.col("ATOXDSCH").is_null()
    return (
        pl.when(low.is_null() & high.is_null())
        .then(None)
        .when(low.is_null())
        .then(pl.when(no_low | (high > 0)).then(high).otherwise(None))
        .when(high.is_null())
        .then(pl.when(no_high | (low > 0)).then(low).otherwise(None))
        .otherwise(pl.max_horizontal(low, high))
        .cast(pl.Int8)
    )


def _grade_part(part: pl.DataFrame, crit: pl.DataFrame, version: str) -> pl.DataFrame:
    exprs: dict[str, pl.Expr] = {}
    reasons: list[pl.Expr] = []
    for direction, suffix in (("low", "L"), ("high", "H")):
        rows = crit.filter(pl.col("direction") == direction)
        if rows.height == 0:
            exprs[f"ATOXDSC{suffix}"] = pl.lit(None, pl.String)
            exprs[f"ATOXGR{suffix}"] = pl.lit(None, pl.Int8)
            continue
        grade, reason = _direction(rows, direction, version)
        exprs[f"ATOXDSC{suffix}"] = pl.lit(rows["term"][0])
        exprs[f"ATOXGR{suffix}"] = grade
        reasons.append(reason)
    general = (
        pl.when(pl.col("_unit_error").is_not_null())
        .then(pl.col("_unit_error"))
        .when(pl.col("_badnum"))
        .then(pl.lit("LBSTRESN is not a number"))
        .when(pl.col("_v").is_null())
        .then(pl.lit("no numeric result (LBSTRESN is empty)"))
    )
    out = (
        part.with_columns(**exprs)
        .with_columns(
            _overall().alias("ATOXGR"),
            pl.concat_str([general, *reasons], separator="; ", ignore_nulls=True)
            .replace("", None)
            .alias("ATOXGRRSN"),
        )
        .drop("_lln", "_uln", "_isbase", "_nonfasting", "_unit_error", "_badnum")
    )
    return out


def grade_labs(
    lb: Any,
    version: str | float = "5.0",
    *,
    default_ranges: Any = None,
) -> pl.DataFrame:
    """Grade every lab result of an SDTM LB table by CTCAE v5.0 or v4.03.

    Parameters
    ----------
    lb : LB with ``USUBJID, LBTESTCD, LBSTRESN, LBSTRESU, LBSTNRLO, LBSTNRHI``; optional
        ``BASE`` (baseline result in the row's unit) or a baseline flag ``ABLFL``/``LBBLFL``,
        and ``LBFAST`` (v4.03 hyperglycemia grades fasting values only).
    version : ``"5.0"`` or ``"4.03"``.
    default_ranges : None (rows without a normal range are not graded, with the reason), or a
        table ``LBTESTCD, LBSTNRLO, LBSTNRHI, LBSTRESU, SOURCE`` of documented default ranges
        used only where a row has none (marked in ``ATOXRNGF``).

    Returns
    -------
    pl.DataFrame : LB in its row order with ``ATOXDSCL, ATOXGRL, ATOXDSCH, ATOXGRH`` (term and
    grade 0-4 of a low and a high result; null term where CTCAE has none for that direction),
    ``ATOXGR`` (the worse of the two), ``ATOXGRRSN`` (why a grade is null), ``ATOXAVAL``,
    ``ATOXBASE`` and ``ATOXU`` (value and baseline in the criterion's unit), ``ATOXRNGF``.

    Raises
    ------
    InputError : a required column is missing, or several rows are flagged as one baseline.

    Examples
    --------
    >>> import polars as pl
    >>> lb = pl.DataFrame({"USUBJID": ["S1"], "LBTESTCD": ["PLT"], "LBSTRESN": [60.0],
    ...     "LBSTRESU": ["10^9/L"], "LBSTNRLO": [150.0], "LBSTNRHI": [400.0]})
    >>> grade_labs(lb)["ATOXGR"].to_list()  # <75.0 - 50.0 x 10e9/L: grade 2
    [2]
    """
    v = normalise_ctcae_version(version)
    df = _frame(lb)
    missing = [c for c in LB_REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            "LB lacks column(s) " + ", ".join(missing),
            column=missing[0],
            expected="SDTM LB with " + ", ".join(LB_REQUIRED),
        )
    clash = [c for c in _OUT if c in df.columns]
    if clash:
        df = df.drop(clash)
    crit = ctcae_criteria(v)
    codes = crit["lbtestcd"].unique().to_list()
    value, badnum = _numeric(df, "LBSTRESN")
    lo, _ = _numeric(df, "LBSTNRLO")
    hi, _ = _numeric(df, "LBSTNRHI")
    nonfasting = (
        pl.col("LBFAST").cast(pl.String).str.strip_chars().str.to_uppercase().eq("N")
        if "LBFAST" in df.columns
        else pl.lit(False)
    )
    flag = _baseline_flag(df)
    extra = [c for c in (flag, "BASE", "LBFAST") if c is not None and c in df.columns]
    narrow = df.select(*LB_REQUIRED, *extra)  # only what grading reads: memory stays small
    work = narrow.with_row_index("_row").with_columns(
        pl.col("LBTESTCD").cast(pl.String).str.strip_chars().str.to_uppercase().alias("_code"),
        pl.col("LBSTRESU").cast(pl.String).fill_null("").alias("_unit"),
        value.alias("_raw"),
        badnum.alias("_badnum"),
        lo.alias("_rawlo"),
        hi.alias("_rawhi"),
        nonfasting.fill_null(False).alias("_nonfasting"),
    )
    keys = work.filter(pl.col("_code").is_in(codes)).select("_code", "_unit").unique()
    units = _unit_table(keys.sort("_code", "_unit"))
    work = work.join(units, on=["_code", "_unit"], how="left", maintain_order="left")
    scaled = [
        (pl.col("_scale") * pl.col(src) + pl.col("_offset")).alias(dst)
        for src, dst in (("_raw", "_v"), ("_rawlo", "_lln"), ("_rawhi", "_uln"))
    ]
    work = work.with_columns(scaled).with_columns(pl.lit(None, pl.String).alias("ATOXRNGF"))
    if default_ranges is not None:
        defaults = _default_table(default_ranges)
        work = work.join(defaults, on="_code", how="left", maintain_order="left")
        use = pl.col("_dsrc").is_not_null() & (pl.col("_lln").is_null() | pl.col("_uln").is_null())
        work = work.with_columns(
            pl.coalesce("_lln", "_dlo").alias("_lln"),
            pl.coalesce("_uln", "_dhi").alias("_uln"),
            pl.when(use).then(pl.col("_dsrc")).otherwise(None).alias("ATOXRNGF"),
        ).drop("_dlo", "_dhi", "_dsrc")
    work = _with_baseline(work).select(
        "_row", "_code", "_v", "_lln", "_uln", "_base", "_isbase", "_nonfasting",
        "_unit_error", "_badnum", "ATOXU", "ATOXRNGF",
    )  # fmt: skip
    # Columns that are the same for every row of a test, or already in row order, stay out of
    # the per-test parts: putting 10^7 rows back in order is cheap for numbers, not for text.
    side = work.select("_code", "ATOXU", "ATOXRNGF")
    parts = []
    for (code,), part in (
        work.drop("ATOXU", "ATOXRNGF")
        .partition_by("_code", as_dict=True, maintain_order=True)
        .items()
    ):
        rows = crit.filter(pl.col("lbtestcd") == code)
        if rows.height:
            parts.append(_grade_part(part, rows, v).drop("ATOXDSCL", "ATOXDSCH"))
        else:
            parts.append(
                part.with_columns(
                    pl.lit(None, pl.Int8).alias("ATOXGRL"),
                    pl.lit(None, pl.Int8).alias("ATOXGRH"),
                    pl.lit(None, pl.Int8).alias("ATOXGR"),
                    pl.lit(_no_criteria(code, v, crit)).alias("ATOXGRRSN"),
                )
            )
    keep = ["_row", "_v", "_base", "ATOXGRL", "ATOXGRH", "ATOXGR", "ATOXGRRSN"]
    graded = pl.concat([p.select(keep) for p in parts], how="vertical_relaxed").sort("_row")
    terms = {
        d: dict(
            crit.filter(pl.col("direction") == d)
            .select("lbtestcd", "term")
            .unique("lbtestcd", keep="first", maintain_order=True)
            .iter_rows()
        )
        for d in ("low", "high")
    }
    graded = graded.with_columns(
        side["_code"]
        .replace_strict(terms["low"], default=None, return_dtype=pl.String)
        .alias("ATOXDSCL"),
        side["_code"]
        .replace_strict(terms["high"], default=None, return_dtype=pl.String)
        .alias("ATOXDSCH"),
        side["ATOXU"],
        side["ATOXRNGF"],
        pl.col("_v").alias("ATOXAVAL"),
        pl.col("_base").alias("ATOXBASE"),
    ).select([pl.col(k).cast(t) for k, t in _OUT.items()])
    return df.hstack(graded.get_columns())


def _no_criteria(code: object, version: str, crit: pl.DataFrame) -> str:
    """Why a test is not graded; a code close to a CTCAE-graded one (``ALTT``, ``PLAT``) is
    likely misspelt, and the nearest codes are named."""
    import difflib

    text = f"no CTCAE v{version} lab criteria for LBTESTCD {code!r}"
    codes = sorted(set(crit["lbtestcd"].to_list()))
    near = difflib.get_close_matches(str(code).upper(), codes, n=2, cutoff=0.75)
    if near:
        text += "; did you mean " + " or ".join(repr(c) for c in near) + "?"
    return text


@dataclass(frozen=True)
class LabGrade:
    """The grade of one value for one CTCAE term (``grade`` None when ungradable)."""

    term: str
    grade: int | None
    reason: str | None
    version: str


def grade_lab(
    term: str,
    value: float,
    *,
    lln: float | None,
    uln: float | None,
    unit: str | None = None,
    baseline: float | None = None,
    version: str | float = "5.0",
    fasting: bool | None = None,
) -> LabGrade:
    """Grade one value for one CTCAE term (a one-row :func:`grade_labs`).

    ``term`` is a CTCAE term (``"Anemia"``) or an LBTESTCD naming one term (``"PLT"``); ``unit``
    defaults to the criterion's unit; ``baseline`` is in ``unit``.

    >>> grade_lab("Alanine aminotransferase increased", 120, lln=0, uln=40).grade
    1
    """
    hits = find_ctcae_term(term, version)
    if len(hits) > 1:
        raise InputError(
            f"{term!r} names {len(hits)} CTCAE terms",
            value=term,
            expected=" or ".join(repr(h.term) for h in hits),
        )
    t = hits[0]
    row: dict[str, Any] = {
        "USUBJID": ["1"],
        "LBTESTCD": [t.lbtestcd],
        "LBSTRESN": [float(value)],
        "LBSTRESU": [unit if unit is not None else t.unit],
        "LBSTNRLO": [lln],
        "LBSTNRHI": [uln],
        "BASE": [baseline],
        "LBFAST": [None if fasting is None else ("Y" if fasting else "N")],
    }
    schema = {k: pl.Float64 for k in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI", "BASE")}
    out = grade_labs(pl.DataFrame(row, schema_overrides=schema), version)
    suffix = "L" if t.direction == "low" else "H"
    return LabGrade(
        term=t.term,
        grade=out[f"ATOXGR{suffix}"][0],
        reason=out["ATOXGRRSN"][0],
        version=t.version,
    )


def lab_grading_problems(graded: pl.DataFrame, *, row_col: str | None = None) -> pl.DataFrame:
    """Rows of a CTCAE-gradable test left without a grade, and rows whose test code is close
    to a graded one (a likely misspelling, e.g. ``ALTT``), in the study problems shape
    (``DOMAIN, FILE, ROW, COLUMN, USUBJID, VALUE, EXPECTED, MESSAGE, ACTION``); ``ROW`` is the
    1-based row of ``graded``, or the value of ``row_col`` (e.g. the file row)."""
    from hcctrial.io import PROBLEM_SCHEMA

    gradable = pl.col("ATOXDSCL").is_not_null() | pl.col("ATOXDSCH").is_not_null()
    misspelt = pl.col("ATOXGRRSN").str.contains("did you mean", literal=True).fill_null(False)
    rows = graded.with_row_index("_row", 1).filter(
        (gradable & pl.col("ATOXGR").is_null()) | misspelt
    )
    return rows.select(
        pl.lit("LB").alias("DOMAIN"),
        pl.lit(None, pl.String).alias("FILE"),
        (pl.col(row_col) if row_col else pl.col("_row")).cast(pl.Int64).alias("ROW"),
        pl.lit("LBSTRESN").alias("COLUMN"),
        pl.col("USUBJID").cast(pl.String),
        pl.format("{} {} {}", "LBTESTCD", "LBSTRESN", "LBSTRESU").alias("VALUE"),
        pl.lit("a numeric result, a unit of the test and its normal range").alias("EXPECTED"),
        pl.col("ATOXGRRSN").alias("MESSAGE"),
        pl.lit("not graded").alias("ACTION"),
    ).cast(PROBLEM_SCHEMA)
