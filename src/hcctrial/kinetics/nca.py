"""Non-compartmental kinetics of cell products and biomarkers, vectorised over subjects.

Conventions follow PKNCA (Denney W et al., R package PKNCA; defaults of ``PKNCA.options()``):

- AUC by the linear-up/log-down trapezoidal rule (``auc.method = "lin up/log down"``, as
  WinNonlin's "Linear Up Log Down"): for an interval (t1, C1) -> (t2, C2),
  ``AUC = (t2 - t1) (C1 + C2) / 2`` when C2 >= C1 or either is 0, and
  ``AUC = (t2 - t1) (C1 - C2) / ln(C1 / C2)`` when C1 > C2 > 0;
- BLQ samples count as 0; BLQ before the first and after the last measurable sample are kept,
  BLQ between measurable samples are dropped (``conc.blq = list(first = "keep",
  middle = "drop", last = "keep")``);
- Tmax is the first time of Cmax (``first.tmax = TRUE``);
- time 0 (the first infusion) without a sample gets the last pre-infusion value (PKNCA
  imputation ``start_predose``), or 0 when there is none (``start_conc0``: cells are not in
  blood before they are infused); ``C0SRC`` says which;
- ``AUC0-28d`` integrates from day 0 to day 28, interpolating at day 28 between the samples
  around it with the same rule (log when decreasing and both > 0, else linear; PKNCA
  ``interp.extrap.conc``). If the last sample is before day 28 it is computed only when that
  sample is BLQ (the level stays 0, as PKNCA's AUCall); otherwise it is null with a reason.

Tisagenlecleucel, the first CAR-T product, is described the same way: Cmax, Tmax, AUC0-28d and
Tlast of transgene copies/ug gDNA (Mueller KT et al., Blood 2017;130:2317-2325).
"""

from __future__ import annotations

import polars as pl

from hcctrial.errors import InputError

__all__ = ["NCA_COLUMNS", "nca"]

#: Columns of :func:`nca`, one row per subject and test.
NCA_COLUMNS = (
    "USUBJID",
    "PARAMCD",
    "AVALU",
    "NSAMP",
    "C0SRC",
    "CMAX",
    "TMAX",
    "CLAST",
    "TLAST",
    "LASTDY",
    "PERSISTFL",
    "AUCLAST",
    "AUCEND",
    "AUCENDDY",
    "AUCU",
    "REASON",
)

_G = ["USUBJID", "PARAMCD"]


def _segment_auc(t1: pl.Expr, c1: pl.Expr, t2: pl.Expr, c2: pl.Expr) -> pl.Expr:
    """Linear-up/log-down area of one interval."""
    log_down = (c2 < c1) & (c2 > 0)
    return (
        pl.when(log_down)
        .then((c1 - c2) * (t2 - t1) / (c1 / c2).log())
        .otherwise((c1 + c2) / 2 * (t2 - t1))
    )


def _interpolate(t1: pl.Expr, c1: pl.Expr, t2: pl.Expr, c2: pl.Expr, t: float) -> pl.Expr:
    """Concentration at ``t`` between two samples: log when decreasing and both > 0."""
    frac = (pl.lit(t) - t1) / (t2 - t1)
    log_down = (c2 < c1) & (c2 > 0)
    return (
        pl.when(log_down)
        .then((c1.log() + frac * (c2.log() - c1.log())).exp())
        .otherwise(c1 + frac * (c2 - c1))
    )


def nca(samples: pl.DataFrame, *, auc_end_days: float = 28.0) -> pl.DataFrame:
    """Cmax, Tmax, Clast, Tlast, persistence, AUClast and AUC0-``auc_end_days`` per subject
    and test, from :func:`hcctrial.kinetics.prepare_samples` (``ADY`` days, ``AVAL`` >= 0).

    Returns
    -------
    polars.DataFrame with :data:`NCA_COLUMNS`: ``TMAX``/``TLAST``/``LASTDY`` in days from
    the first infusion, ``NSAMP`` the samples on or after day 0, ``PERSISTFL = Y`` when the
    last sample is still measurable (the product persists at the last observation),
    ``AUCEND`` the AUC from day 0 to ``AUCENDDY``, units ``AVALU`` and ``AUCU``
    (``AVALU*day``), ``REASON`` when a value could not be computed.
    """
    need = {"USUBJID", "PARAMCD", "ADY", "AVAL", "BLQFL"}
    if not need <= set(samples.columns):
        raise InputError(
            "samples lack columns",
            value=sorted(need - set(samples.columns)),
            expected="the table of hcctrial.kinetics.prepare_samples",
        )
    if auc_end_days <= 0:
        raise InputError("AUC end day must be after day 0", value=auc_end_days, expected="> 0")
    end = float(auc_end_days)
    unit = pl.col("AVALU") if "AVALU" in samples.columns else pl.lit(None, pl.String)
    raw = samples.select(
        pl.col("USUBJID").cast(pl.String),
        pl.col("PARAMCD").cast(pl.String),
        pl.col("ADY").cast(pl.Float64),
        pl.col("AVAL").cast(pl.Float64),
        (pl.col("BLQFL") == "Y").fill_null(False).alias("_BLQ"),
        unit.cast(pl.String).alias("AVALU"),
    )
    # one integer id per subject and test: every later step groups and joins on it
    keys = (
        raw.group_by(_G).agg(pl.col("AVALU").drop_nulls().first()).sort(_G).with_row_index("_GID")
    )
    s = raw.join(keys.select(*_G, "_GID"), on=_G).select("_GID", "ADY", "AVAL", "_BLQ")
    s = s.sort("_GID", "ADY")
    pre = s.filter(pl.col("ADY") < 0).group_by("_GID").agg(pl.col("AVAL").last().alias("PRE"))
    post = s.filter(pl.col("ADY") >= 0)
    counts = post.group_by("_GID").agg(pl.len().cast(pl.UInt32).alias("NSAMP"))
    with_zero = post.filter(pl.col("ADY") == 0).select("_GID").unique()
    start = (
        counts.select("_GID")
        .join(with_zero, on="_GID", how="anti")
        .join(pre, on="_GID", how="left")
        .select(
            "_GID",
            pl.lit(0.0).alias("ADY"),
            pl.col("PRE").fill_null(0.0).alias("AVAL"),
            (pl.col("PRE").fill_null(0.0) <= 0).alias("_BLQ"),
            pl.lit(True).alias("_IMPUTED"),
        )
    )
    c0src = start.select(
        "_GID",
        pl.when(pl.col("AVAL") > 0)
        .then(pl.lit("last pre-infusion value"))
        .when(pl.col("_GID").is_in(pre["_GID"].implode()))
        .then(pl.lit("last pre-infusion value"))
        .otherwise(pl.lit("assumed 0 (no sample on day 0 or before)"))
        .alias("C0SRC"),
    )
    prof = pl.concat(
        [post.with_columns(pl.lit(False).alias("_IMPUTED")), start], how="vertical"
    ).sort("_GID", "ADY")
    measurable = (pl.col("AVAL") > 0) & ~pl.col("_BLQ")
    bounds = (
        prof.filter(measurable)
        .group_by("_GID")
        .agg(pl.col("ADY").min().alias("_FIRST"), pl.col("ADY").max().alias("TLAST"))
    )
    prof = prof.join(bounds, on="_GID", how="left").filter(
        measurable
        | pl.col("_FIRST").is_null()
        | (pl.col("ADY") < pl.col("_FIRST"))
        | (pl.col("ADY") > pl.col("TLAST"))
    )
    same = pl.col("_GID") == pl.col("_GID").shift(1)
    t1 = pl.when(same).then(pl.col("ADY").shift(1))
    c1 = pl.when(same).then(pl.col("AVAL").shift(1))
    prof = prof.with_columns(t1.alias("_T1"), c1.alias("_C1")).with_columns(
        _segment_auc(pl.col("_T1"), pl.col("_C1"), pl.col("ADY"), pl.col("AVAL"))
        .fill_null(0.0)
        .alias("_SEG")
    )
    crossing = (pl.col("_T1") < end) & (pl.col("ADY") > end)
    c_end = _interpolate(pl.col("_T1"), pl.col("_C1"), pl.col("ADY"), pl.col("AVAL"), end)
    partial = _segment_auc(pl.col("_T1"), pl.col("_C1"), pl.lit(end), c_end)
    observed = ~pl.col("_IMPUTED")
    cmax = pl.col("AVAL").filter(observed).max()
    out = prof.group_by("_GID").agg(
        cmax.alias("CMAX"),
        pl.col("ADY")
        .filter(observed & (pl.col("AVAL") == cmax) & (cmax > 0))
        .first()
        .alias("TMAX"),
        pl.col("TLAST").first(),
        pl.col("AVAL").filter(pl.col("ADY") == pl.col("TLAST")).first().alias("CLAST"),
        pl.col("ADY").filter(observed).max().alias("LASTDY"),
        pl.col("_SEG").filter(pl.col("ADY") <= pl.col("TLAST")).sum().alias("AUCLAST"),
        pl.col("_SEG").filter(pl.col("ADY") <= end).sum().alias("_FULL"),
        partial.filter(crossing).sum().alias("_PART"),
        crossing.any().alias("_CROSS"),
        pl.col("ADY").max().alias("_MAXT"),
        pl.col("AVAL").last().alias("_LASTC"),
    )
    reaches = (pl.col("_MAXT") >= end) | pl.col("_CROSS") | (pl.col("_LASTC") == 0)
    no_meas = pl.col("TLAST").is_null()
    out = out.with_columns(
        pl.when(reaches).then(pl.col("_FULL") + pl.col("_PART")).alias("AUCEND"),
        pl.when(no_meas)
        .then(pl.lit("no measurable sample on or after the first infusion"))
        .when(~reaches)
        .then(
            pl.format(
                "AUC0-{}d not computed: the last sample (day {}) is before day {} and still "
                "measurable",
                pl.lit(f"{end:g}"),
                pl.col("_MAXT").cast(pl.Int64),
                pl.lit(f"{end:g}"),
            )
        )
        .alias("REASON"),
        pl.when(~no_meas & (pl.col("TLAST") >= pl.col("LASTDY")))
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N"))
        .alias("PERSISTFL"),
        pl.when(no_meas).then(0.0).otherwise(pl.col("AUCLAST")).alias("AUCLAST"),
    )
    out = (
        keys.join(out, on="_GID", how="left")
        .join(counts, on="_GID", how="left")
        .join(c0src, on="_GID", how="left")
        .with_columns(
            pl.when(pl.col("NSAMP").is_null())
            .then(pl.lit("no sample on or after the first infusion"))
            .otherwise(pl.col("REASON"))
            .alias("REASON"),
            pl.col("NSAMP").fill_null(0),
            pl.col("PERSISTFL").fill_null("N"),
            pl.when(pl.col("NSAMP").is_not_null())
            .then(pl.col("C0SRC").fill_null("observed"))
            .alias("C0SRC"),
            pl.lit(end).alias("AUCENDDY"),
            pl.when(pl.col("AVALU").is_not_null()).then(pl.format("{}*day", "AVALU")).alias("AUCU"),
        )
    )
    return out.select(NCA_COLUMNS).sort(_G)
