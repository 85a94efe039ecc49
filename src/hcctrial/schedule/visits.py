"""Planned against actual: missed, out-of-window and unplanned visits, each with its reason.

``actual`` is SDTM SV- or EX-shaped: ``USUBJID``, a visit key and a date. The key is the first
of these that ``actual`` has: (``EVENTID``, ``OCCURRENCE``), (``VISITNUM``, ``EVENTID``),
(``VISITNUM``, ``EXTRT``), ``VISITNUM``, ``VISIT``; the date is ``SVSTDTC`` / ``EXSTDTC`` /
``--DTC`` text (ISO 8601; partial dates are not imputed: the window cannot be checked) or a
``pl.Date`` column ``SVSTDT`` / ``EXSTDT`` / ``ADT``.

Each planned event gets ``VISITFL``:

- ``DONE``: the actual date is inside the window ``WINLODT``..``WINHIDT`` (inclusive);
- ``OUT OF WINDOW``: done before the window opens or after it closes (``DEVDAYS`` says by how
  many days from the planned date);
- ``MISSED``: no record and the window closed before the data cut-off ``as_of``;
- ``NOT DUE``: no record and the window is still open on ``as_of``;
- ``DATE UNKNOWN``: recorded with a partial or missing date.

Records of ``actual`` that match no planned event are kept as ``UNPLANNED`` rows, and second
records of the same planned event as ``DUPLICATE`` rows: nothing is dropped.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hcctrial.dates import derive_date
from hcctrial.errors import InputError

__all__ = ["VISIT_FLAGS", "flag_visits"]

VISIT_FLAGS = (
    "DONE",
    "OUT OF WINDOW",
    "MISSED",
    "NOT DUE",
    "DATE UNKNOWN",
    "UNPLANNED",
    "DUPLICATE",
)

_KEYS = (
    ("EVENTID", "OCCURRENCE"),
    ("VISITNUM", "EVENTID"),
    ("VISITNUM", "EXTRT"),
    ("VISITNUM",),
    ("VISIT",),
)
_DTC = ("SVSTDTC", "EXSTDTC", "DTC")
_DT = ("SVSTDT", "EXSTDT", "ADT")
_PLANNED = (
    "USUBJID",
    "VISITNUM",
    "VISIT",
    "EVENTID",
    "EVENT",
    "KIND",
    "OCCURRENCE",
    "EXTRT",
    "PLANDT",
    "WINLODT",
    "WINHIDT",
)


def _actual_dates(actual: pl.DataFrame) -> pl.DataFrame:
    """``actual`` with ``ACTDT`` (pl.Date) and ``ACTDTC`` (the text as given)."""
    for name in _DT:
        if name in actual.columns and actual.schema[name] == pl.Date:
            return actual.with_columns(
                pl.col(name).alias("ACTDT"), pl.col(name).cast(pl.String).alias("ACTDTC")
            )
    for name in (*_DTC, *_DT):
        if name in actual.columns:
            text = actual.with_columns(pl.col(name).cast(pl.String).alias("ACTDTC"))
            return derive_date(text, "ACTDTC", dt="ACTDT", rule="none", file="actual visits")
    raise InputError(
        "actual visits have no date column",
        file="actual visits",
        expected="one of " + ", ".join((*_DTC, *_DT)),
    )


def flag_visits(
    calendar: pl.DataFrame, actual: pl.DataFrame, *, as_of: dt.date | None = None
) -> pl.DataFrame:
    """Flag each planned event as done, out of window, missed or not yet due, with the reason.

    Parameters
    ----------
    calendar : from :func:`hcctrial.schedule.build_calendars` (``USUBJID`` filled in).
    actual : SV/EX-like records (see the module docstring for keys and date columns).
    as_of : the data cut-off; default the latest actual date in ``actual``. A planned event
        without a record is missed when its window closed before this date.

    Returns
    -------
    polars.DataFrame: the planned columns (``USUBJID``, ``VISITNUM``, ``VISIT``, ``EVENTID``,
    ``EVENT``, ``KIND``, ``OCCURRENCE``, ``EXTRT``, ``PLANDT``, ``WINLODT``, ``WINHIDT``) plus
    ``ACTDTC`` (as recorded), ``ACTDT``, ``DEVDAYS`` (actual - planned, days), ``VISITFL`` and
    ``REASON``; planned rows first in calendar order, then unplanned/duplicate records.
    """
    if isinstance(actual, pl.DataFrame) is False:
        import pandas as pd

        if isinstance(actual, pd.DataFrame):
            actual = pl.from_pandas(actual)
        else:
            raise InputError("actual visits must be a table", expected="a DataFrame")
    missing = [c for c in _PLANNED if c not in calendar.columns]
    if missing:
        raise InputError(
            "the calendar lacks columns",
            value=missing,
            expected="a calendar from hcctrial.schedule.build_calendar(s)",
        )
    if calendar["USUBJID"].null_count():
        raise InputError(
            "the calendar has no USUBJID",
            column="USUBJID",
            expected="build_calendar(..., usubjid=...) or build_calendars",
        )
    if "USUBJID" not in actual.columns:
        raise InputError("actual visits lack USUBJID", column="USUBJID", file="actual visits")
    key = next((k for k in _KEYS if all(c in actual.columns for c in k)), None)
    if key is None:
        raise InputError(
            "actual visits have no visit key",
            file="actual visits",
            expected="VISITNUM, VISIT, or EVENTID with OCCURRENCE",
        )
    keys = ["USUBJID", *key]
    act = _actual_dates(actual.with_row_index("ACTROW", offset=1))
    planned_types = {k: calendar.schema[k] for k in keys}
    act = act.with_columns([pl.col(k).cast(t, strict=False) for k, t in planned_types.items()])
    act = act.sort(["ACTDT", "ACTROW"], nulls_last=True).with_columns(
        pl.int_range(pl.len()).over(keys).alias("_N")
    )
    first = act.filter(pl.col("_N") == 0).select([*keys, "ACTDTC", "ACTDT", "ACTROW"])
    cutoff = as_of if as_of is not None else act["ACTDT"].max()
    plan = calendar.select(_PLANNED).with_row_index("_ORDER")
    joined = plan.join(first, on=keys, how="left", nulls_equal=False)
    cut = pl.lit(cutoff, dtype=pl.Date)
    dev = (pl.col("ACTDT") - pl.col("PLANDT")).dt.total_days()
    window = pl.format("window {} to {}", pl.col("WINLODT"), pl.col("WINHIDT"))
    flagged = joined.with_columns(dev.alias("DEVDAYS")).with_columns(
        pl.when(pl.col("ACTROW").is_not_null() & pl.col("ACTDT").is_null())
        .then(pl.lit("DATE UNKNOWN"))
        .when(pl.col("ACTDT").is_between(pl.col("WINLODT"), pl.col("WINHIDT")))
        .then(pl.lit("DONE"))
        .when(pl.col("ACTDT").is_not_null())
        .then(pl.lit("OUT OF WINDOW"))
        .when(cut.is_not_null() & (pl.col("WINHIDT") < cut))
        .then(pl.lit("MISSED"))
        .otherwise(pl.lit("NOT DUE"))
        .alias("VISITFL")
    )
    reason = (
        pl.when(pl.col("VISITFL") == "DATE UNKNOWN")
        .then(pl.format("recorded with date '{}'; the window cannot be checked", "ACTDTC"))
        .when(pl.col("VISITFL") == "DONE")
        .then(pl.format("in the {}", window))
        .when((pl.col("VISITFL") == "OUT OF WINDOW") & (pl.col("ACTDT") < pl.col("WINLODT")))
        .then(
            pl.format(
                "{} day(s) before the {}",
                (pl.col("WINLODT") - pl.col("ACTDT")).dt.total_days(),
                window,
            )
        )
        .when(pl.col("VISITFL") == "OUT OF WINDOW")
        .then(
            pl.format(
                "{} day(s) after the {}",
                (pl.col("ACTDT") - pl.col("WINHIDT")).dt.total_days(),
                window,
            )
        )
        .when(pl.col("VISITFL") == "MISSED")
        .then(pl.format("no record; the {} closed before the cut-off {}", window, cut))
        .otherwise(
            pl.when(cut.is_null())
            .then(pl.lit("no record and no data cut-off (no dated record at all)"))
            .otherwise(pl.format("no record yet; the {} ends after the cut-off {}", window, cut))
        )
        .alias("REASON")
    )
    out = flagged.with_columns(reason).sort("_ORDER").drop("_ORDER", "ACTROW")
    matched = plan.select(keys).unique()
    extra = act.join(matched, on=keys, how="anti").with_columns(
        pl.lit("UNPLANNED").alias("VISITFL"),
        pl.format(
            "record {} matches no planned event of this subject ({})",
            "ACTROW",
            pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator=", "),
        ).alias("REASON"),
    )
    again = act.join(matched, on=keys, how="semi").filter(pl.col("_N") > 0)
    again = again.with_columns(
        pl.lit("DUPLICATE").alias("VISITFL"),
        pl.format("record {} repeats a planned event already recorded", "ACTROW").alias("REASON"),
    )
    others = pl.concat([extra, again], how="vertical_relaxed").select(
        [*keys, "ACTDTC", "ACTDT", "VISITFL", "REASON"]
    )
    return pl.concat([out, others], how="diagonal_relaxed").select(
        [*_PLANNED, "ACTDTC", "ACTDT", "DEVDAYS", "VISITFL", "REASON"]
    )
