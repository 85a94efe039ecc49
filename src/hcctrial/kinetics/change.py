"""Change from baseline at protocol timepoints (ADaM BDS style: AVISIT, AVAL, BASE, CHG, PCHG).

Baseline is the last sample on or before the day of the first infusion (``ADY <= 0``; a day-0
sample is taken before the infusion), as ADaM IG v1.3 defines baseline for BDS: the last
non-missing value before exposure. At each target day the sample closest to it within
``window_days`` is used (the earlier one on a tie). ``CHG = AVAL - BASE``;
``PCHG = 100 x CHG / BASE``, null when ``BASE`` is 0 (ADaM IG v1.3, section 3.3.4).
A timepoint without a sample in its window is kept with null ``AVAL`` and a ``REASON``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from hcctrial.errors import InputError

__all__ = ["DEFAULT_TIMEPOINTS_DAYS", "change_from_baseline"]

#: Days after the first infusion at which cellular kinetics are usually reported: expansion
#: (days 7, 14), AUC0-28d end (day 28), months 3, 6 and 12 (persistence), as in Mueller KT et
#: al., Blood 2017;130:2317 (tisagenlecleucel) and the IL1RAP CAR-T record (months 3-24).
DEFAULT_TIMEPOINTS_DAYS = (7, 14, 28, 91, 183, 365)

_G = ["USUBJID", "PARAMCD"]


def change_from_baseline(
    samples: pl.DataFrame,
    timepoints_days: Sequence[int] = DEFAULT_TIMEPOINTS_DAYS,
    *,
    window_days: int = 3,
) -> pl.DataFrame:
    """``USUBJID, PARAMCD, AVISIT, AVISITN, ADY, AVAL, BASE, CHG, PCHG, AVALU, REASON``.

    Parameters
    ----------
    samples : from :func:`hcctrial.kinetics.prepare_samples`.
    timepoints_days : target days after the first infusion (``AVISITN``).
    window_days : a sample counts for a target day when ``|ADY - day| <= window_days``.
    """
    if window_days < 0:
        raise InputError("window must be >= 0 days", value=window_days, expected=">= 0")
    days = sorted({int(d) for d in timepoints_days})
    if not days:
        raise InputError("no timepoints given", expected="at least one day, e.g. 7, 14, 28")
    base = (
        samples.filter(pl.col("ADY") <= 0)
        .sort([*_G, "ADY"])
        .group_by(_G)
        .agg(pl.col("AVAL").last().alias("BASE"), pl.col("ADY").last().alias("BASEDY"))
    )
    targets = pl.DataFrame({"AVISITN": days}, schema={"AVISITN": pl.Int64})
    subjects = samples.select([*_G, "AVALU"]).unique(_G, keep="first")
    grid = subjects.join(targets, how="cross")
    near = (
        samples.filter(pl.col("ADY") > 0)
        .join(targets, how="cross")
        .with_columns((pl.col("ADY") - pl.col("AVISITN")).abs().alias("_D"))
        .filter(pl.col("_D") <= window_days)
        .sort([*_G, "AVISITN", "_D", "ADY"])
        .unique([*_G, "AVISITN"], keep="first")
        .select([*_G, "AVISITN", "ADY", "AVAL"])
    )
    out = grid.join(near, on=[*_G, "AVISITN"], how="left").join(base, on=_G, how="left")
    return (
        out.with_columns(
            pl.format("Day {}", "AVISITN").alias("AVISIT"),
            (pl.col("AVAL") - pl.col("BASE")).alias("CHG"),
            pl.when(pl.col("BASE") != 0)
            .then(100 * (pl.col("AVAL") - pl.col("BASE")) / pl.col("BASE"))
            .alias("PCHG"),
            pl.when(pl.col("AVAL").is_null())
            .then(pl.format("no sample within {} days of day {}", pl.lit(window_days), "AVISITN"))
            .when(pl.col("BASE").is_null())
            .then(pl.lit("no baseline sample (on or before the first infusion)"))
            .alias("REASON"),
        )
        .select(
            "USUBJID",
            "PARAMCD",
            "AVISIT",
            "AVISITN",
            "ADY",
            "AVAL",
            "BASE",
            "CHG",
            "PCHG",
            "AVALU",
            "REASON",
        )
        .sort([*_G, "AVISITN"])
    )
