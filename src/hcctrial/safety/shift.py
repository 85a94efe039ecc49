"""Lab shift tables: CTCAE grade at baseline to worst grade after baseline, per term and arm.

:func:`derive_lab_baseline_flag` marks the baseline record when the LB table has none: the last
record with a numeric result on or before the subject's first study treatment of any kind
(``FSTDOSDT``: the first TACE of a TACE + cells arm, so that both arms of NCT04011033 take
their baseline before the same procedure; else the first infusion ``TRTSDT``), the SDTM
definition of ``LBLOBXFL``/baseline ("last observation before exposure", SDTMIG 3.4 section
6.3.5.9; ADaM IG 1.3 ``ABLFL``). :func:`lab_shift_table` then cross-tabulates, per CTCAE
term (the low and high terms of a test separately), each subject's baseline grade against the
worst grade of the records after baseline, counting subjects.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from hcctrial.errors import InputError

__all__ = ["derive_lab_baseline_flag", "lab_shift_table", "lab_shifts_by_subject"]

_MISSING = "MISSING"


def _flag(df: pl.DataFrame) -> str | None:
    for col in ("ABLFL", "LBBLFL"):
        if col in df.columns:
            return col
    return None


def derive_lab_baseline_flag(lb: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Add ``LBBLFL = "Y"`` to the last record with a result on or before the reference date.

    Parameters
    ----------
    lb : LB with ``USUBJID, LBTESTCD, LBSTRESN`` and the date ``LBDT`` (pl.Date).
    reference : ``USUBJID`` and ``FSTDOSDT`` (first study treatment of any kind) or
        ``TRTSDT`` (first infusion), from
        :func:`~hcctrial.safety.adverse_events.derive_subject_anchors`; ``FSTDOSDT`` is used
        where the table has it.

    A subject without a reference date (never treated) gets no baseline. An existing
    ``LBBLFL`` column is kept as given.
    """
    if _flag(lb) is not None:
        return lb
    for col in ("USUBJID", "LBTESTCD", "LBSTRESN", "LBDT"):
        if col not in lb.columns:
            raise InputError(f"LB lacks {col} to find the baseline record", column=col)
    date = "FSTDOSDT" if "FSTDOSDT" in reference.columns else "TRTSDT"
    ref = reference.select("USUBJID", pl.col(date).alias("_ref"))
    work = lb.with_row_index("_row").join(ref, on="USUBJID", how="left", maintain_order="left")
    before = work.filter(
        pl.col("LBSTRESN").is_not_null()
        & pl.col("LBDT").is_not_null()
        & (pl.col("LBDT") <= pl.col("_ref"))
    )
    last = before.sort("LBDT", "_row").group_by("USUBJID", "LBTESTCD").agg(pl.col("_row").last())
    flagged = set(last["_row"].to_list())
    return work.with_columns(
        pl.when(pl.col("_row").is_in(sorted(flagged)))
        .then(pl.lit("Y"))
        .otherwise(None)
        .alias("LBBLFL")
    ).drop("_row", "_ref")


def _long(graded: pl.DataFrame) -> pl.DataFrame:
    flag = _flag(graded)
    if flag is None:
        raise InputError(
            "graded LB has no baseline flag (LBBLFL or ABLFL)",
            expected="a baseline flag; derive it with derive_lab_baseline_flag(lb, anchors)",
        )
    is_base = pl.col(flag).cast(pl.String).str.to_uppercase().eq("Y").fill_null(False)
    date = pl.col("LBDT") if "LBDT" in graded.columns else pl.lit(None, pl.Date)
    parts = []
    for suffix in ("L", "H"):
        parts.append(
            graded.select(
                "USUBJID",
                "LBTESTCD",
                pl.col(f"ATOXDSC{suffix}").alias("TERM"),
                pl.col(f"ATOXGR{suffix}").alias("GRADE"),
                is_base.alias("_base"),
                date.alias("_date"),
            ).filter(pl.col("TERM").is_not_null())
        )
    return pl.concat(parts)


def lab_shifts_by_subject(graded: pl.DataFrame) -> pl.DataFrame:
    """Per subject and CTCAE term: ``BTOXGR`` (baseline grade) and ``WTOXGR`` (worst grade
    after baseline), each null when not available; ``NPOST`` graded records after baseline.

    After baseline means a later ``LBDT`` than the baseline record, or, without dates, any
    record not flagged as baseline.
    """
    long = _long(graded)
    base = (
        long.filter(pl.col("_base"))
        .group_by("USUBJID", "TERM")
        .agg(pl.col("GRADE").first().alias("BTOXGR"), pl.col("_date").first().alias("_bdate"))
    )
    post = long.filter(~pl.col("_base")).join(base, on=["USUBJID", "TERM"], how="left")
    after = (
        pl.col("_bdate").is_null()
        | pl.col("_date").is_null()
        | (pl.col("_date") > pl.col("_bdate"))
    )
    worst = (
        post.filter(after)
        .group_by("USUBJID", "TERM")
        .agg(
            pl.col("GRADE").max().alias("WTOXGR"),
            pl.col("GRADE").is_not_null().sum().alias("NPOST"),
        )
    )
    subjects = long.select("USUBJID", "LBTESTCD", "TERM").unique()
    out = subjects.join(base.drop("_bdate"), on=["USUBJID", "TERM"], how="left")
    out = out.join(worst, on=["USUBJID", "TERM"], how="left")
    return out.with_columns(pl.col("NPOST").fill_null(0).cast(pl.Int64)).sort("USUBJID", "TERM")


def lab_shift_table(
    graded: pl.DataFrame, subjects: Any = None, *, arm: str = "ARM"
) -> pl.DataFrame:
    """Counts of subjects by baseline grade and worst post-baseline grade, per term and arm.

    Returns ``ARM, LBTESTCD, TERM, BTOXGR, WTOXGR, n`` with grades as text ``"0"``-``"4"``
    or ``"MISSING"`` (no gradable record), only the combinations that occur.
    """
    per = lab_shifts_by_subject(graded)
    if subjects is not None:
        subj = subjects if isinstance(subjects, pl.DataFrame) else pl.from_pandas(subjects)
        if arm not in subj.columns:
            raise InputError(f"subjects table lacks {arm}", column=arm)
        per = per.join(
            subj.select("USUBJID", pl.col(arm).cast(pl.String).alias("ARM")).unique("USUBJID"),
            on="USUBJID",
            how="left",
        )
    else:
        per = per.with_columns(pl.lit("ALL").alias("ARM"))
    as_text = [pl.col(c).cast(pl.String).fill_null(_MISSING).alias(c) for c in ("BTOXGR", "WTOXGR")]
    return (
        per.with_columns(as_text)
        .group_by("ARM", "LBTESTCD", "TERM", "BTOXGR", "WTOXGR")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .sort("ARM", "LBTESTCD", "TERM", "BTOXGR", "WTOXGR")
    )
