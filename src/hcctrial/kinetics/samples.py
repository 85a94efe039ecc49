"""Kinetic samples from LB-shaped data: one row per subject, test and day after first infusion.

Input is SDTM LB: ``USUBJID``, ``LBTESTCD``, ``LBSTRESN`` (numeric result), ``LBSTRESC``
(character result: ``<LLOQ``, ``BLQ``, ``NOT DETECTED`` ...), ``LBSTRESU``, optional
``LBLLOQ`` (lower limit of quantitation, SDTMIG v3.4 LB) and the date ``LBDTC`` (or ``LBDT``
already derived). Time is in days from each subject's first infusion (``TRTSDT`` of a
``reference`` table, or the first EX record of a biological product, see
:func:`first_infusion_dates`).

A result below the limit of quantitation (BLQ: a ``<``, ``BLQ``, ``BLOQ``, ``ND``, ``NOT
DETECTED``, ``UNDETECTABLE`` character result, or ``LBSTRESN < LBLLOQ``) becomes 0 with
``BLQFL = "Y"``, as PKNCA does ("below the limit of quantification (zero, 0)", PKNCA option
``conc.blq``). Rows that cannot be used (no result, no date, no infusion date, a unit other
than the test's first unit, a second sample on the same day) are returned in ``problems``,
never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from hcctrial.dates import derive_date
from hcctrial.errors import InputError

__all__ = ["KINETIC_TESTS", "Samples", "first_infusion_dates", "prepare_samples"]

#: Test codes of cellular kinetics and biomarkers written by hcctrial.simulate, with what they
#: measure; other LBTESTCD values are accepted as given.
KINETIC_TESTS: dict[str, str] = {
    "CARDNA": "CAR transgene copies per ug genomic DNA (qPCR)",
    "CARTCNT": "CAR+ T cells per uL blood (flow cytometry)",
    "NKCNT": "infused NK cells per uL blood",
    "TCELLCNT": "infused T cells per uL blood",
    "INKTPBMC": "iNKT cells as percent of PBMC",
    "IL1RAP": "serum IL1RAP",
}

_BLQ_TEXT = r"(?i)^\s*(<|BLQ|BLOQ|BQL|LLOQ|ND\b|NOT DETECTED|UNDETECT|NEGATIVE)"
_SAMPLE_COLUMNS = ("USUBJID", "PARAMCD", "ADY", "AVAL", "BLQFL", "AVALU", "LBROW")


@dataclass(frozen=True)
class Samples:
    """Usable samples (``USUBJID, PARAMCD, ADY, AVAL, BLQFL, AVALU, LBROW``) and the rows
    that could not be used (``LBROW, USUBJID, PARAMCD, REASON``)."""

    table: pl.DataFrame
    problems: pl.DataFrame


def first_infusion_dates(ex: pl.DataFrame) -> pl.DataFrame:
    """``USUBJID, TRTSDT``: the first EX start date of a cell product per subject.

    A cell product is an EX row with ``EXCAT = BIOLOGICAL`` (as hcctrial.simulate writes), or
    when EX has no EXCAT, an ``EXTRT`` naming cells (CELL, CAR, NK, INKT, CIK, TIL).
    """
    if "USUBJID" not in ex.columns or not {"EXSTDTC", "EXSTDT"} & set(ex.columns):
        raise InputError("EX lacks USUBJID or EXSTDTC", file="EX", expected="SDTM EX")
    df = ex if "EXSTDT" in ex.columns else derive_date(ex, "EXSTDTC", file="EX")
    if "EXCAT" in df.columns:
        cells = pl.col("EXCAT").cast(pl.String).str.to_uppercase() == "BIOLOGICAL"
    elif "EXTRT" in df.columns:
        cells = pl.col("EXTRT").cast(pl.String).str.contains(r"(?i)CELL|CAR|\bNK\b|INKT|CIK|TIL")
    else:
        raise InputError("EX has neither EXCAT nor EXTRT", file="EX", expected="EXCAT or EXTRT")
    return (
        df.filter(cells & pl.col("EXSTDT").is_not_null())
        .group_by("USUBJID")
        .agg(pl.col("EXSTDT").min().alias("TRTSDT"))
        .sort("USUBJID")
    )


def _reference(reference: pl.DataFrame) -> pl.DataFrame:
    if not {"USUBJID", "TRTSDT"} <= set(reference.columns):
        raise InputError(
            "the reference table lacks USUBJID or TRTSDT",
            expected="USUBJID and TRTSDT (date of first infusion)",
        )
    ref = reference.select("USUBJID", "TRTSDT")
    if ref.schema["TRTSDT"] != pl.Date:
        ref = ref.with_columns(
            pl.col("TRTSDT").cast(pl.String).str.slice(0, 10).str.to_date(strict=False)
        )
    return ref.with_columns(pl.col("USUBJID").cast(pl.String)).unique("USUBJID", keep="first")


def prepare_samples(
    lb: pl.DataFrame,
    reference: pl.DataFrame,
    *,
    tests: Sequence[str] | None = None,
) -> Samples:
    """Kinetic samples of ``tests`` (default: every :data:`KINETIC_TESTS` code present).

    ``ADY`` = sample date - first infusion date (days; 0 = the infusion day, negative before).
    """
    needed = {"USUBJID", "LBTESTCD"} | ({"LBSTRESN"} if "LBSTRESN" in lb.columns else set())
    missing = sorted(needed - set(lb.columns)) + (
        [] if {"LBDTC", "LBDT"} & set(lb.columns) else ["LBDTC"]
    )
    if missing or "LBSTRESN" not in lb.columns:
        raise InputError(
            "LB lacks columns",
            file="LB",
            value=missing or ["LBSTRESN"],
            expected="USUBJID, LBTESTCD, LBSTRESN, LBDTC (SDTM LB)",
        )
    df = lb.with_row_index("LBROW", offset=1)
    if "LBDT" not in df.columns:
        df = derive_date(df, "LBDTC", rule="none", file="LB")
    codes = (
        [str(t) for t in tests]
        if tests is not None
        else [c for c in KINETIC_TESTS if c in set(df["LBTESTCD"].cast(pl.String).to_list())]
    )
    df = df.filter(pl.col("LBTESTCD").cast(pl.String).is_in(codes))
    ref = _reference(reference)
    text = (
        pl.col("LBSTRESC").cast(pl.String) if "LBSTRESC" in df.columns else pl.lit(None, pl.String)
    )
    unit = (
        pl.col("LBSTRESU").cast(pl.String) if "LBSTRESU" in df.columns else pl.lit(None, pl.String)
    )
    value = pl.col("LBSTRESN").cast(pl.Float64, strict=False)
    below = text.str.contains(_BLQ_TEXT).fill_null(False)
    if "LBLLOQ" in df.columns:
        lloq = pl.col("LBLLOQ").cast(pl.Float64, strict=False)
        below = below | (value.is_not_null() & lloq.is_not_null() & (value < lloq))
    df = (
        df.with_columns(pl.col("USUBJID").cast(pl.String))
        .join(ref, on="USUBJID", how="left")
        .with_columns(
            pl.col("LBTESTCD").cast(pl.String).alias("PARAMCD"),
            below.alias("_BLQ"),
            value.alias("_V"),
            unit.alias("AVALU"),
            (pl.col("LBDT") - pl.col("TRTSDT")).dt.total_days().alias("ADY"),
        )
    )
    first_unit = df.group_by("PARAMCD").agg(pl.col("AVALU").drop_nulls().first().alias("_U"))
    df = df.join(first_unit, on="PARAMCD", how="left")
    reason = (
        pl.when(pl.col("TRTSDT").is_null())
        .then(pl.lit("no first-infusion date (TRTSDT) for this subject"))
        .when(pl.col("LBDT").is_null())
        .then(pl.lit("no complete sample date (LBDTC)"))
        .when(pl.col("_V").is_null() & ~pl.col("_BLQ"))
        .then(pl.lit("no numeric result and not below the limit of quantitation"))
        .when(pl.col("_V").is_not_null() & (pl.col("_V") < 0))
        .then(pl.lit("negative result"))
        .when(pl.col("AVALU").is_not_null() & (pl.col("AVALU") != pl.col("_U")))
        .then(pl.format("unit {} differs from this test's unit {}", "AVALU", "_U"))
    )
    df = df.with_columns(reason.alias("REASON")).sort("USUBJID", "PARAMCD", "ADY", "LBROW")
    df = df.with_columns(
        pl.when(
            pl.col("REASON").is_null()
            & (
                pl.int_range(pl.len()).over("USUBJID", "PARAMCD", "ADY", pl.col("REASON").is_null())
                > 0
            )
        )
        .then(pl.lit("a second sample on the same day (the first is used)"))
        .otherwise(pl.col("REASON"))
        .alias("REASON")
    )
    good = df.filter(pl.col("REASON").is_null()).select(
        "USUBJID",
        "PARAMCD",
        pl.col("ADY").cast(pl.Float64),
        pl.when(pl.col("_BLQ")).then(0.0).otherwise(pl.col("_V")).alias("AVAL"),
        pl.when(pl.col("_BLQ")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("BLQFL"),
        pl.col("_U").alias("AVALU"),
        "LBROW",
    )
    bad = df.filter(pl.col("REASON").is_not_null()).select("LBROW", "USUBJID", "PARAMCD", "REASON")
    return Samples(good.select(_SAMPLE_COLUMNS), bad)
