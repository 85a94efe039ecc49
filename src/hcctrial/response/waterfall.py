"""Best percentage change of the target sum per subject: the data of a waterfall plot.

A waterfall plot shows one bar per subject: the largest decrease (or smallest increase) of the
sum of target lesion diameters from baseline,

.. math::

    \\text{BESTPCHG} = \\min_{t} \\; 100 \\, (S_t - S_0) / S_0,

over post-baseline timepoints whose sum is complete (every baseline target measured; RECIST
1.1 section 4.4.2: a sum with a missing lesion is not evaluable) up to and including the first
overall PD (later scans do not count towards best response, section 4.4.3). Subjects without
such a timepoint keep a row with a null change and the reason, so the plot's denominator is
explicit (never a silently shorter plot).
"""

from __future__ import annotations

import polars as pl

__all__ = ["derive_best_change"]

_KEYS = ["USUBJID", "RSEVAL", "RSEVALID"]


def derive_best_change(
    timepoint_changes: pl.DataFrame, adrs: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per subject-evaluator: ``BASE, BESTSUM, BESTPCHG, ADT, VISIT`` (+ ``BOR``).

    Parameters
    ----------
    timepoint_changes : ``TimepointResponse.timepoint_changes`` (``SUMDIAM, BASE, PCHG,
        OVRLRESP, ABLFL, ADT, VISIT`` per timepoint).
    adrs : optional ADRS with ``BOR``/``CBOR`` rows: their ``AVALC`` is added as ``BOR`` /
        ``CBOR`` (the bar colour of the plot).

    Returns
    -------
    polars.DataFrame
        ``USUBJID, RSEVAL, RSEVALID, BASE, BESTSUM, BESTPCHG, ADT, VISIT, NTP, REASON``;
        ``NTP`` counts the complete timepoints used. Sorted by ``BESTPCHG`` descending (the
        plot's order), subjects without a value last.
    """
    tc = timepoint_changes.with_columns(pl.col(k).cast(pl.Utf8) for k in _KEYS)
    first_pd = (
        tc.filter(pl.col("OVRLRESP") == "PD")
        .group_by(_KEYS)
        .agg(pl.col("ADT").min().alias("_PDDT"))
    )
    post = (
        tc.filter(pl.col("ABLFL").is_null())
        .join(first_pd, on=_KEYS, how="left", nulls_equal=True)
        .filter(pl.col("_PDDT").is_null() | (pl.col("ADT") <= pl.col("_PDDT")))
    )
    usable = post.filter(pl.col("PCHG").is_not_null())
    best = (
        usable.sort([*_KEYS, "PCHG", "ADT"], nulls_last=True)
        .group_by(_KEYS, maintain_order=True)
        .agg(
            pl.col("BASE").first(),
            pl.col("SUMDIAM").first().alias("BESTSUM"),
            pl.col("PCHG").first().alias("BESTPCHG"),
            pl.col("ADT").first(),
            pl.col("VISIT").first(),
            pl.len().alias("NTP"),
        )
    )
    subjects = (
        tc.select(*_KEYS, "BASE")
        .group_by(_KEYS, maintain_order=True)
        .agg(pl.col("BASE").drop_nulls().first())
    )
    out = subjects.join(best.drop("BASE"), on=_KEYS, how="left", nulls_equal=True).with_columns(
        pl.col("NTP").fill_null(0),
        pl.when(pl.col("BESTPCHG").is_not_null())
        .then(pl.lit(None, pl.Utf8))
        .when(pl.col("BASE").is_null())
        .then(pl.lit("no complete baseline sum (no target lesion, or one not measured)"))
        .otherwise(pl.lit("no post-baseline timepoint with every target lesion measured"))
        .alias("REASON"),
    )
    if adrs is not None:
        for param in ("BOR", "CBOR"):
            rows = adrs.filter(pl.col("PARAMCD") == param).select(
                *[pl.col(k).cast(pl.Utf8) for k in _KEYS], pl.col("AVALC").alias(param)
            )
            out = out.join(rows, on=_KEYS, how="left", nulls_equal=True)
    return out.sort(["BESTPCHG", *_KEYS], descending=[True, False, False, False], nulls_last=True)
