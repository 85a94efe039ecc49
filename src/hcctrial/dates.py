"""ISO 8601 dates in study data, partial dates included, with documented imputation.

SDTM stores dates as ISO 8601 text (``--DTC``): ``2019-03-14``, ``2019-03-14T08:30``, or
partial ``2019-03`` and ``2019``. Analyses need calendar dates, so a partial date is imputed
by an explicit rule and the imputation is flagged the ADaM way (``--DTF``: ``D`` day imputed,
``M`` month and day imputed, ``Y`` year, month and day imputed; null when nothing was imputed).

Rules (ADaM IG v1.3 and admiral's ``derive_vars_dt`` conventions):

- ``first``: missing day -> 1st, missing month -> January (the default for start dates,
  e.g. first dose, AE onset when the onset cannot precede treatment),
- ``mid``: missing day -> 15th, missing month -> 1 July (``mid`` year),
- ``last``: missing day -> last day of the month, missing month -> 31 December
  (end dates, e.g. last known alive),
- ``none``: partial dates stay missing (null) and are reported.

A fully missing date is null with no flag. Text that is not ISO 8601 raises
:class:`~hcctrial.errors.InputErrors` naming each row, never a silent null.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from hcctrial.errors import InputErrors, Problem

ImputationRule = Literal["first", "mid", "last", "none"]
IMPUTATION_RULES: tuple[str, ...] = ("first", "mid", "last", "none")

# YYYY, YYYY-MM, YYYY-MM-DD, optionally followed by a time part that we keep out of the date.
_ISO_PATTERN = r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T[\d:.]*(?:Z|[+-]\d{2}:?\d{2})?)?$"


def _ymd_to_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Date from integer parts; an impossible date (2019-02-30) gives null, never an error."""
    text = pl.format(
        "{}-{}-{}",
        year.cast(pl.Utf8).str.zfill(4),
        month.cast(pl.Utf8).str.zfill(2),
        day.cast(pl.Utf8).str.zfill(2),
    )
    return text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def impute_date_expr(column: str, rule: ImputationRule = "first") -> pl.Expr:
    """Polars expression: the ``--DTC`` text column as a date, imputed by ``rule``."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    year = text.str.extract(_ISO_PATTERN, 1).cast(pl.Int32)
    month = text.str.extract(_ISO_PATTERN, 2).cast(pl.Int32)
    day = text.str.extract(_ISO_PATTERN, 3).cast(pl.Int32)
    if rule == "none":
        return _ymd_to_date(year, month, day)
    month_fill = {"first": 1, "mid": 7, "last": 12}[rule]
    m = month.fill_null(month_fill)
    if rule in ("first", "mid"):
        return _ymd_to_date(year, m, day.fill_null(1 if rule == "first" else 15))
    # last: the last day of the (possibly imputed) month when the day is missing
    last_day = _ymd_to_date(year, m, pl.lit(1)).dt.month_end()
    return pl.when(day.is_null()).then(last_day).otherwise(_ymd_to_date(year, m, day))


def imputation_flag_expr(column: str) -> pl.Expr:
    """Polars expression: the ADaM date imputation flag (``D``, ``M``, ``Y`` or null)."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    has_year = text.str.extract(_ISO_PATTERN, 1).is_not_null()
    has_month = text.str.extract(_ISO_PATTERN, 2).is_not_null()
    has_day = text.str.extract(_ISO_PATTERN, 3).is_not_null()
    return (
        pl.when(text.is_null() | (text == "") | ~has_year)
        .then(None)
        .when(~has_month)
        .then(pl.lit("M"))
        .when(~has_day)
        .then(pl.lit("D"))
        .otherwise(None)
    )


def check_iso_dates(df: pl.DataFrame, column: str, *, file: str | None = None) -> list[Problem]:
    """Problems for every row whose ``column`` is neither empty nor a valid ISO 8601 date.

    Catches text that does not match ``YYYY[-MM[-DD]][Thh:mm[:ss]]`` and impossible calendar
    dates (``2019-02-30``, month 13).
    """
    if column not in df.columns:
        return []
    checked = df.select(
        pl.col(column).cast(pl.Utf8).str.strip_chars().alias("text"),
        impute_date_expr(column, "first").alias("date"),
    ).with_row_index("row", offset=1)
    bad = checked.filter(
        pl.col("text").is_not_null() & (pl.col("text") != "") & pl.col("date").is_null()
    ).with_columns(
        pl.col("text")
        .str.contains(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$")
        .alias("iso")
    )
    return [
        Problem(
            message="impossible calendar date" if r["iso"] else "not an ISO 8601 date",
            file=file,
            row=int(r["row"]),
            column=column,
            value=r["text"],
            expected=(
                "a date that exists (month 01-12, a day of that month)"
                if r["iso"]
                else "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm"
            ),
        )
        for r in bad.iter_rows(named=True)
    ]


def derive_date(
    df: pl.DataFrame,
    dtc: str,
    *,
    dt: str | None = None,
    rule: ImputationRule = "first",
    file: str | None = None,
) -> pl.DataFrame:
    """Add ``--DT`` (date) and ``--DTF`` (imputation flag) derived from the ``--DTC`` column.

    ``dt`` defaults to the ``DTC`` name with ``DTC`` replaced by ``DT`` (``LBDTC`` -> ``LBDT``,
    flag ``LBDTF``). Raises :class:`InputErrors` listing every row whose text is not ISO 8601.
    """
    if rule not in IMPUTATION_RULES:
        raise ValueError(f"imputation rule must be one of {IMPUTATION_RULES}, got {rule!r}")
    problems = check_iso_dates(df, dtc, file=file)
    if problems:
        raise InputErrors(problems, context=file or dtc)
    target = dt or (dtc[:-1] if dtc.endswith("DTC") else dtc + "_DT")
    flag = target + "F"
    return df.with_columns(
        impute_date_expr(dtc, rule).alias(target),
        imputation_flag_expr(dtc).alias(flag),
    )
