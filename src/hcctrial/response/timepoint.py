"""Timepoint response by RECIST 1.1 or mRECIST, vectorized over all subjects (polars).

Formulas (Eisenhauer et al. 2009, section 4.3.1; Lencioni & Llovet 2010 Table 1):

.. math::

    S_t = \\sum_{i \\in \\text{baseline targets}} d_{i,t}, \\quad
    \\text{PCHG}_t = 100 (S_t - S_0) / S_0, \\quad
    \\text{nadir}_t = \\min_{s < t} S_s \\; (S_0 \\text{ included})

- target CR: every non-nodal target 0 mm and every nodal target short axis < 10 mm;
- PR: :math:`S_t \\le 0.7 S_0`;
- PD: :math:`S_t \\ge 1.2\\,\\text{nadir}_t` and :math:`S_t - \\text{nadir}_t \\ge 5` mm
  (mRECIST: no absolute minimum), also when some targets are missing but the measured ones
  already meet it (section 4.4.2);
- NE: any target not measured (section 4.4.2); SD otherwise.

Overall response follows Table 1 (target disease) and Table 2 (non-target disease only).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hcctrial.response.baseline import check_baseline, target_lesions_after_baseline
from hcctrial.response.criteria import Criteria, get_criteria
from hcctrial.response.lesion_states import (
    TP,
    new_lesions_by_timepoint,
    non_target_by_timepoint,
    non_target_response,
)
from hcctrial.response.prepare import (
    KEYS,
    SUBJECT_KEYS,
    attach_names,
    attach_subjects,
    group_rows,
    prepare_lesions,
    sort_rows,
)

__all__ = ["TimepointResponse", "derive_timepoint_response"]

_EPS = 1e-9  # floating tolerance on percentage thresholds (a 30.0% fall is a PR)

_RSTEST = {
    "TRGRESP": "Target Response",
    "NTRGRESP": "Non-target Response",
    "NEWLPROG": "New Lesion Progression",
    "OVRLRESP": "Overall Response",
}


@dataclass(frozen=True)
class TimepointResponse:
    """Everything :func:`derive_timepoint_response` derives.

    Attributes
    ----------
    rs : SDTM RS shape: ``USUBJID, RSEVAL, RSEVALID, VISITNUM, VISIT, RSDTC, RSTESTCD,
        RSTEST, RSCAT, RSSTRESC, RSREASND`` with RSTESTCD TRGRESP, NTRGRESP, NEWLPROG,
        OVRLRESP (one row each per post-baseline timepoint; TRGRESP/NTRGRESP only where that
        disease exists at baseline).
    adrs : ADaM ADRS shape, PARAMCD ``OVR``: ``USUBJID, RSEVAL, RSEVALID, PARAMCD, PARAM,
        PARCAT1, AVALC, ADT, VISIT, VISITNUM, RSREASND``.
    timepoint_changes : one row per timepoint (baseline included) with ``SUMDIAM, BASE, CHG,
        PCHG, NADIR, PCHGNADIR`` and the four responses: spider plots.
    lesion_changes : one row per baseline target lesion and timepoint with ``AVAL`` (mm),
        ``BASE``, ``CHG``, ``PCHG``: per-lesion plots.
    problems : every data problem (``SOURCE, ROW, USUBJID, ..., CHECK, MESSAGE, VALUE``).
    """

    rs: pl.DataFrame
    adrs: pl.DataFrame
    timepoint_changes: pl.DataFrame
    lesion_changes: pl.DataFrame
    problems: pl.DataFrame


def _target_by_timepoint(
    meas: pl.DataFrame, criteria: Criteria
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per timepoint: target counts and sums; per subject: NTARGET; per-lesion changes."""
    tgt = meas.filter(pl.col("ROLE") == "TARGET")
    base_t = tgt.filter(pl.col("BASELINE")).select(
        [*KEYS, "LESIONID", pl.col("DIAM_MM").alias("BASE")]
    )
    n_base = base_t.group_by(KEYS).agg(pl.len().alias("NTARGET"))
    tgt = tgt.join(base_t, on=[*KEYS, "LESIONID"], how="inner")
    cr_lesion = (
        pl.when(pl.col("NODAL"))
        .then(pl.col("DIAM_MM") < criteria.nodal_normal_mm)
        .otherwise(pl.col("DIAM_MM") == 0)
    )
    agg = group_rows(
        tgt,
        TP,
        pl.col("DIAM_MM").count().alias("NMEAS"),
        # rounded to 1e-6 mm so that the result never depends on the order of summation
        pl.col("DIAM_MM").sum().round(6).alias("_PSUM"),
        cr_lesion.fill_null(False).all().alias("_ALLCR"),
    )
    lesion_changes = tgt.select(
        *KEYS,
        "LESIONID",
        "VISITNUM",
        "VISIT",
        pl.col("TRDT").alias("ADT"),
        "NODAL",
        "DIAMTEST",
        pl.col("DIAM_MM").alias("AVAL"),
        "BASE",
    ).with_columns(
        (pl.col("AVAL") - pl.col("BASE")).alias("CHG"),
        pl.when(pl.col("BASE") > 0)
        .then(100 * (pl.col("AVAL") - pl.col("BASE")) / pl.col("BASE"))
        .alias("PCHG"),
    )
    return agg, n_base, lesion_changes


def _first_by_date() -> pl.Expr:
    """Index of the earliest ``TRDT`` in a group, a null date first (as ``sort_by("TRDT")``).

    Ties: the first such row. One pass instead of sorting each group.
    """
    dt = pl.col("TRDT")
    return pl.when(dt.null_count() > 0).then(dt.is_null().arg_max()).otherwise(dt.arg_min())


def _target_response(criteria: Criteria) -> pl.Expr:
    n = pl.col("NTARGET").fill_null(0)
    nmeas = pl.col("NMEAS").fill_null(0)
    psum, nadir = pl.col("_PSUM"), pl.col("NADIR")
    pd = (
        (nmeas > 0)
        & (psum > nadir)
        & (psum * 100 >= nadir * (100 + criteria.pd_increase_pct) - _EPS)
        & (psum - nadir >= criteria.pd_increase_abs_mm - _EPS)
    ).fill_null(False)
    return (
        pl.when(pl.col("BASELINE") | (n == 0))
        .then(pl.lit(None, pl.Utf8))
        .when(pl.col("BASE").is_null())
        .then(pl.lit("NE"))
        .when(pd)
        .then(pl.lit("PD"))
        .when(nmeas < n)
        .then(pl.lit("NE"))
        .when(pl.col("_ALLCR"))
        .then(pl.lit("CR"))
        .when(pl.col("PCHG") <= -criteria.pr_decrease_pct + _EPS)
        .then(pl.lit("PR"))
        .otherwise(pl.lit("SD"))
    )


def _overall_response() -> pl.Expr:
    """RECIST 1.1 Table 1 (target disease) and Table 2 (non-target disease only)."""
    t, nt, new = pl.col("TRGRESP"), pl.col("NTRGRESP"), pl.col("NEWLPROG")
    has_t = pl.col("NTARGET").fill_null(0) > 0
    has_nt = pl.col("NNTARGET").fill_null(0) > 0
    return (
        pl.when(pl.col("BASELINE"))
        .then(pl.lit(None, pl.Utf8))
        .when((t == "PD").fill_null(False) | (nt == "PD").fill_null(False) | (new == "Y"))
        .then(pl.lit("PD"))
        .when(has_t & (t == "NE"))
        .then(pl.lit("NE"))
        .when(has_t & (t == "CR") & (nt.is_null() | (nt == "CR")))
        .then(pl.lit("CR"))
        .when(has_t & t.is_in(["CR", "PR"]))
        .then(pl.lit("PR"))
        .when(has_t & (t == "SD"))
        .then(pl.lit("SD"))
        .when(~has_t & has_nt)
        .then(nt)
        .otherwise(pl.lit("NE"))
    )


def _reason() -> pl.Expr:
    """RSREASND: why a timepoint is NE."""
    n, nmeas = pl.col("NTARGET").fill_null(0), pl.col("NMEAS").fill_null(0)
    nn, nneval = pl.col("NNTARGET").fill_null(0), pl.col("NNTEVAL").fill_null(0)
    return (
        pl.when(pl.col("OVRLRESP").is_null() | (pl.col("OVRLRESP") != "NE"))
        .then(pl.lit(None, pl.Utf8))
        .when((n == 0) & (nn == 0))
        .then(pl.lit("no target or non-target lesion at baseline"))
        .when((n > 0) & pl.col("BASE").is_null())
        .then(pl.lit("baseline sum of diameters incomplete"))
        .when(nmeas < n)
        .then(pl.format("{} of {} target lesions not measured", n - nmeas, n))
        .when(nneval < nn)
        .then(pl.format("{} of {} non-target lesions not assessed", nn - nneval, nn))
        .otherwise(pl.lit("not evaluable"))
    )


def derive_timepoint_response(
    tu: object, tr: object, criteria: str | Criteria = "recist1.1"
) -> TimepointResponse:
    """Target, non-target, new lesion and overall response at every assessment.

    Parameters
    ----------
    tu, tr : polars or pandas DataFrame
        SDTM TU and TR (see :func:`hcctrial.response.prepare.prepare_lesions`). Several
        evaluators (TREVAL/TREVALID) are kept apart: each is a separate read.
    criteria : {"recist1.1", "mrecist"} or Criteria

    Returns
    -------
    TimepointResponse
        RS, ADRS (OVR), change tables and problems. No subject is dropped: a subject whose
        data cannot be used gets NE with ``RSREASND`` saying why.

    Examples
    --------
    Baseline sum 50 mm, week 8 sum 34 mm (-32%): target PR, overall PR (RECIST 1.1 Table 1).
    """
    crit = get_criteria(criteria)
    prep = prepare_lesions(tu, tr, crit)
    meas = prep.measurements
    target, n_target, lesion_changes = _target_by_timepoint(meas, crit)
    nt, n_non_target, nt_problems = non_target_by_timepoint(meas, prep.lesions, crit)
    new, new_problems = new_lesions_by_timepoint(meas, prep.lesions, crit)
    tps = group_rows(
        meas,
        TP,
        pl.col("TPSEQ").first(),
        pl.col("VISIT").get(_first_by_date()),
        pl.col("TRDT").min().alias("ADT"),
        pl.col("BASELINE").first(),
    )
    tp = (
        tps.join(target, on=TP, how="left")
        .join(n_target, on=KEYS, how="left")
        .join(nt, on=TP, how="left")
        .join(n_non_target, on=KEYS, how="left")
        .join(new, on=KEYS, how="left")
        .pipe(sort_rows, [*KEYS, "TPSEQ"])
    )
    complete = (pl.col("NMEAS") == pl.col("NTARGET")) & (pl.col("NTARGET") > 0)
    tp = (
        tp.with_columns(
            pl.when(complete).then(pl.col("_PSUM")).alias("SUMDIAM"),
        )
        .with_columns(
            pl.col("SUMDIAM").filter(pl.col("BASELINE")).first().over(KEYS).alias("BASE"),
            pl.col("ADT").filter(pl.col("BASELINE")).first().over(KEYS).alias("BASEDT"),
            pl.col("SUMDIAM").cum_min().forward_fill().shift(1).over(KEYS).alias("NADIR"),
        )
        .with_columns(
            (pl.col("SUMDIAM") - pl.col("BASE")).alias("CHG"),
            pl.when(pl.col("BASE") > 0)
            .then(100 * (pl.col("SUMDIAM") - pl.col("BASE")) / pl.col("BASE"))
            .alias("PCHG"),
            pl.when(pl.col("NADIR") > 0)
            .then(100 * (pl.col("SUMDIAM") - pl.col("NADIR")) / pl.col("NADIR"))
            .alias("PCHGNADIR"),
        )
    )
    tp = (
        tp.with_columns(
            _target_response(crit).alias("TRGRESP"),
            pl.when(pl.col("BASELINE"))
            .then(None)
            .otherwise(non_target_response())
            .alias("NTRGRESP"),
            pl.when(pl.col("BASELINE"))
            .then(None)
            .when(pl.col("NEWPD_TPNUM") <= pl.col("TPSEQ"))
            .then(pl.lit("Y"))
            .otherwise(pl.lit("N"))
            .alias("NEWLPROG"),
        )
        .with_columns(_overall_response().alias("OVRLRESP"))
        .with_columns(_reason().alias("RSREASND"))
    )
    problems = attach_subjects(
        pl.concat(
            [
                prep.problems,
                check_baseline(meas, prep.lesions, crit),
                target_lesions_after_baseline(meas),
                nt_problems,
                new_problems,
            ],
            how="diagonal_relaxed",
        ),
        prep.subjects,
    ).sort(["USUBJID", "RSEVAL", "RSEVALID", "ROW"], nulls_last=True)
    return _outputs(tp, lesion_changes, problems, prep.subjects, crit)


def _outputs(
    tp: pl.DataFrame,
    lesion_changes: pl.DataFrame,
    problems: pl.DataFrame,
    subjects: pl.DataFrame,
    crit: Criteria,
) -> TimepointResponse:
    rscat = "RECIST 1.1" if crit.name == "recist1.1" else "mRECIST"
    # _SID follows the sorted subject names, so sorting by it sorts by the names.
    tp = attach_names(sort_rows(tp, [*KEYS, "VISITNUM"]), subjects)
    lesion_changes = (
        attach_names(sort_rows(lesion_changes, [*KEYS, "LESIONID", "VISITNUM"]), subjects)
        .with_columns(pl.col("LESIONID").cast(pl.Utf8))
        .select(*SUBJECT_KEYS, pl.exclude([*SUBJECT_KEYS, *KEYS]))
    )
    blank_to_null = [pl.col(k).replace("", None) for k in ("RSEVAL", "RSEVALID")]
    changes = tp.select(
        *KEYS,
        *SUBJECT_KEYS,
        "VISITNUM",
        "VISIT",
        "ADT",
        "BASEDT",
        pl.col("BASELINE").alias("ABLFL"),
        "NTARGET",
        "NMEAS",
        "SUMDIAM",
        "BASE",
        "CHG",
        "PCHG",
        "NADIR",
        "PCHGNADIR",
        "TRGRESP",
        "NTRGRESP",
        "NEWLPROG",
        "OVRLRESP",
        "RSREASND",
    ).with_columns(
        *blank_to_null,
        pl.col("ABLFL").replace_strict({True: "Y", False: None}, return_dtype=pl.Utf8),
    )
    post = changes.filter(pl.col("ABLFL").is_null())
    long = post.unpivot(
        index=[*KEYS, *SUBJECT_KEYS, "VISITNUM", "VISIT", "ADT", "RSREASND"],
        on=list(_RSTEST),
        variable_name="RSTESTCD",
        value_name="RSSTRESC",
    ).filter(pl.col("RSSTRESC").is_not_null())
    rs = (
        long.select(
            *SUBJECT_KEYS,
            "VISITNUM",
            "VISIT",
            pl.col("ADT").dt.to_string("%Y-%m-%d").alias("RSDTC"),
            "RSTESTCD",
            pl.col("RSTESTCD").replace_strict(_RSTEST).alias("RSTEST"),
            pl.lit(rscat).alias("RSCAT"),
            "RSSTRESC",
            pl.when(pl.col("RSTESTCD") == "OVRLRESP").then(pl.col("RSREASND")).alias("RSREASND"),
            *KEYS,
        )
        .pipe(sort_rows, [*KEYS, "VISITNUM", "RSTESTCD"])
        .drop(KEYS)
    )
    adrs = post.select(
        *SUBJECT_KEYS,
        pl.lit("OVR").alias("PARAMCD"),
        pl.lit(f"Overall Response by {rscat}").alias("PARAM"),
        pl.lit(rscat).alias("PARCAT1"),
        pl.col("OVRLRESP").alias("AVALC"),
        "ADT",
        "VISIT",
        "VISITNUM",
        "BASEDT",
        "RSREASND",
    )
    return TimepointResponse(
        rs=_text_columns(rs),
        adrs=_text_columns(adrs),
        timepoint_changes=_text_columns(changes.drop(KEYS)),
        lesion_changes=_text_columns(lesion_changes.with_columns(*blank_to_null)),
        problems=problems,
    )


def _text_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Categorical columns (internal, for speed) back to text in the outputs."""
    cats = [c for c, t in df.schema.items() if isinstance(t, pl.Categorical)]
    return df.with_columns(pl.col(cats).cast(pl.Utf8)) if cats else df
