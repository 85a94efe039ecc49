"""Immune effector cell-associated neurotoxicity syndrome (ICANS), ASTCT consensus, adults.

Source: Lee DW, Santomasso BD, Locke FL, et al. Biol Blood Marrow Transplant 2019;25:625-638,
tables "Encephalopathy Assessment Tools for Grading of ICANS" (ICE score) and "ASTCT ICANS
Consensus Grading for Adults" with footnotes:

=====================  =============  ============  ======================  =====================
domain                 grade 1        grade 2       grade 3                 grade 4
=====================  =============  ============  ======================  =====================
ICE score (0-10)       7-9            3-6           0-2                     0, unarousable
level of consciousness awakens        awakens to    awakens only to         unarousable, or needs
                       spontaneously  voice         tactile stimulus        vigorous/repetitive
                                                                            stimuli; stupor, coma
seizure                -              -             any clinical seizure    life-threatening
                                                    that resolves rapidly,  prolonged (> 5 min),
                                                    or non-convulsive on    or repetitive without
                                                    EEG resolving with      return to baseline
                                                    intervention
motor findings         -              -             -                       deep focal motor
                                                                            weakness (hemi-/para-
                                                                            paresis)
raised ICP / cerebral  -              -             focal/local oedema on   diffuse oedema;
oedema                                              neuroimaging            posturing; CN VI
                                                                            palsy; papilloedema;
                                                                            Cushing's triad
=====================  =============  ============  ======================  =====================

"ICANS grade is determined by the most severe event ... not attributable to any other cause"
(footnote); depressed consciousness must not be due to another cause such as sedation; an ICE
score of 0 is grade 3 if awake with global aphasia and grade 4 if unarousable (the level of
consciousness domain gives the 4); tremor and myoclonus do not influence the grade;
intracranial haemorrhage is excluded (record it as ``ICPOTH``). Grade 5: death due to ICANS
in which another cause is not the principal factor (Lee 2019, text). The ICE score is for
patients aged 12 and over; children are graded with CAPD, which is not implemented here.

Input columns (one row per subject per day; several rows of a day combine to the worst):
``USUBJID``, ``ADT``, ``ICE`` (0-10), ``LOC`` (see :data:`LOC_GRADES`), ``SEIZURE``
(:data:`SEIZURE_GRADES`), ``MOTOR`` (:data:`MOTOR_GRADES`), ``ICP`` (:data:`ICP_GRADES`),
``ICEOTH``, ``LOCOTH``, ``SEIZOTH``, ``MOTOROTH``, ``ICPOTH`` (the finding is attributable
to another cause) and ``DTHICANS`` (death due to ICANS). Only ``USUBJID``, ``ADT`` are
required; at least one domain column must be present.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from hcctrial.errors import InputError
from hcctrial.safety.crs import Field, prepare_daily

# Lee 2019, ASTCT ICANS Consensus Grading for Adults, one mapping per domain row.
LOC_GRADES: dict[str, int] = {
    "alert": 0,
    "awakens-spontaneously": 1,
    "awakens-to-voice": 2,
    "awakens-to-tactile": 3,
    "unarousable": 4,
}
SEIZURE_GRADES: dict[str, int] = {"none": 0, "resolves-rapidly": 3, "prolonged-or-repetitive": 4}
MOTOR_GRADES: dict[str, int] = {"none": 0, "deep-focal-weakness": 4}
ICP_GRADES: dict[str, int] = {"none": 0, "focal-edema": 3, "diffuse-edema": 4}
ICE_MAX = 10  # Lee 2019, ICE table: orientation 4, naming 3, commands 1, writing 1, attention 1.

ICANS_FIELDS: dict[str, Field] = {
    "ICE": Field("int", "ICE score", low=0, high=ICE_MAX),
    "LOC": Field("cat", "level of consciousness", values=tuple(LOC_GRADES)),
    "SEIZURE": Field("cat", "seizure", values=tuple(SEIZURE_GRADES)),
    "MOTOR": Field("cat", "motor findings", values=tuple(MOTOR_GRADES)),
    "ICP": Field("cat", "raised ICP / cerebral oedema", values=tuple(ICP_GRADES)),
    "ICEOTH": Field("bool", "ICE impairment attributable to another cause"),
    "LOCOTH": Field("bool", "depressed consciousness attributable to another cause"),
    "SEIZOTH": Field("bool", "seizure attributable to another cause"),
    "MOTOROTH": Field("bool", "motor finding attributable to another cause"),
    "ICPOTH": Field("bool", "oedema attributable to another cause (e.g. haemorrhage)"),
    "DTHICANS": Field("bool", "death due to ICANS"),
}
_DOMAINS = ("ICE", "LOC", "SEIZURE", "MOTOR", "ICP")


def ice_grade_expr(ice: pl.Expr) -> pl.Expr:
    """ICANS grade from the ICE score: 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3 (Lee 2019).

    ICE 0 in an unarousable patient is grade 4 through the level-of-consciousness domain.
    """
    return (
        pl.when(ice.is_null())
        .then(0)
        .when(ice >= ICE_MAX)
        .then(0)
        .when(ice >= 7)
        .then(1)
        .when(ice >= 3)
        .then(2)
        .otherwise(3)
    )


def _cat_grade(col: str, table: dict[str, int]) -> pl.Expr:
    return pl.col(col).replace_strict(table, default=0, return_dtype=pl.Int64).fill_null(0)


def grade_icans_daily(obs: Any, *, file: str | None = None) -> pl.DataFrame:
    """Daily ASTCT ICANS grade per subject with each domain's grade and the episode number.

    Returns
    -------
    polars.DataFrame
        ``USUBJID, ADT, ICEGR, LOCGR, SEIZGR, MOTORGR, ICPGR`` (0 when the finding is
        attributable to another cause or not recorded), ``ICANSGR`` (0-5, the most severe
        domain; 5 with ``DTHICANS``), ``ICANSEPI`` (episode number, null on grade 0 days) and
        ``ICANSRSN`` (the domains that set the grade).
    """
    raw = obs if isinstance(obs, pl.DataFrame) else None
    columns = raw.columns if raw is not None else list(getattr(obs, "columns", []))
    if not any(d in columns for d in _DOMAINS):
        raise InputError(
            "no ICANS domain column", file=file, expected="at least one of " + ", ".join(_DOMAINS)
        )
    df = prepare_daily(obs, ICANS_FIELDS, required=(), file=file)
    graded = df.with_columns(
        ice_grade_expr(pl.col("ICE")).cast(pl.Int64).alias("ICEGR"),
        _cat_grade("LOC", LOC_GRADES).alias("LOCGR"),
        _cat_grade("SEIZURE", SEIZURE_GRADES).alias("SEIZGR"),
        _cat_grade("MOTOR", MOTOR_GRADES).alias("MOTORGR"),
        _cat_grade("ICP", ICP_GRADES).alias("ICPGR"),
    )
    for dom, other in (
        ("ICEGR", "ICEOTH"),
        ("LOCGR", "LOCOTH"),
        ("SEIZGR", "SEIZOTH"),
        ("MOTORGR", "MOTOROTH"),
        ("ICPGR", "ICPOTH"),
    ):
        graded = graded.with_columns(
            pl.when(pl.col(other).fill_null(False)).then(0).otherwise(pl.col(dom)).alias(dom)
        )
    names = ("ICEGR", "LOCGR", "SEIZGR", "MOTORGR", "ICPGR")
    day = (
        graded.group_by("USUBJID", "ADT", maintain_order=True)
        .agg(*[pl.col(n).max() for n in names], pl.col("DTHICANS").any())
        .sort("USUBJID", "ADT")
    )
    worst = pl.max_horizontal(*names)
    day = day.with_columns(
        pl.when(pl.col("DTHICANS").fill_null(False)).then(5).otherwise(worst).alias("ICANSGR")
    )
    labels = {"ICEGR": "ICE", "LOCGR": "consciousness", "SEIZGR": "seizure"}
    labels |= {"MOTORGR": "motor", "ICPGR": "cerebral oedema"}
    reason = pl.concat_str(
        [pl.when(pl.col(n) == worst).then(pl.lit(labels[n])) for n in names],
        separator=", ",
        ignore_nulls=True,
    )
    day = day.with_columns(
        pl.when(pl.col("ICANSGR") == 5)
        .then(pl.lit("death due to ICANS (grade 5)"))
        .when(pl.col("ICANSGR") == 0)
        .then(pl.lit("no ICANS finding"))
        .otherwise(reason)
        .alias("ICANSRSN")
    )
    # Episodes: a run of consecutive observed days with grade >= 1 (a grade 0 day ends it).
    starts = (pl.col("ICANSGR") > 0) & (
        pl.col("ICANSGR").shift(1).over("USUBJID").fill_null(0) == 0
    )
    day = day.with_columns(starts.cast(pl.Int64).cum_sum().over("USUBJID").alias("_EPI"))
    day = day.with_columns(pl.when(pl.col("ICANSGR") > 0).then(pl.col("_EPI")).alias("ICANSEPI"))
    return day.select("USUBJID", "ADT", *names, "ICANSGR", "ICANSEPI", "ICANSRSN")
