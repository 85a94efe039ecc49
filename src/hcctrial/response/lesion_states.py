"""Non-target and new lesion responses per timepoint, vectorized over all subjects.

Non-target lesions (RECIST 1.1 section 4.3.3; mRECIST "non-target lesions"; under mRECIST a
worsening effusion or ascites is progression only with positive cytology):

- CR: all non-target lesions absent (mRECIST: no intratumoral arterial enhancement left),
- NON-CR/NON-PD: one or more persist (mRECIST "incomplete response/stable disease"),
- PD: unequivocal progression of existing non-target lesions,
- NE: any baseline non-target lesion not assessed (and none in PD).

New lesions (RECIST 1.1 section 4.3.4): an unequivocal new lesion is PD. An equivocal lesion is
not PD; if a later scan confirms it, PD is dated at the scan where it was first seen. mRECIST
adds, for a new liver nodule, a longest diameter >= 1 cm with the typical HCC pattern
(``ENHPATT = TYPICAL``), or >= 1 cm interval growth of an atypical nodule; and for a new or
worsening effusion/ascites, positive cytology (``CYTOL = POSITIVE``).
"""

from __future__ import annotations

import polars as pl

from hcctrial.response.criteria import Criteria
from hcctrial.response.prepare import KEYS, group_rows, problems_frame

ABSENT_STATES = ("ABSENT", "CR", "DISAPPEARED", "NOT PRESENT")
PRESENT_STATES = ("PRESENT", "EQUIVOCAL", "NON-CR/NON-PD", "STABLE", "PERSISTENT")
PROGRESSION_STATES = ("UNEQUIVOCAL", "UNEQUIVOCAL PROGRESSION", "PROGRESSION", "PD")
NEW_UNEQUIVOCAL = ("UNEQUIVOCAL", "PRESENT", "Y", "YES")
NEW_EQUIVOCAL = ("EQUIVOCAL",)

TP = [*KEYS, "VISITNUM"]


def _effusion(lesions: pl.DataFrame) -> pl.Expr:
    """Lesion location names a pleural/pericardial effusion or ascites (``LOC``, ``LOCDTL``)."""
    loc = pl.concat_str(
        [pl.col("LOC").fill_null(""), pl.col("LOCDTL").fill_null("")], separator=" "
    )
    return loc.str.contains("EFFUSION|ASCITES")


def non_target_by_timepoint(
    meas: pl.DataFrame,
    lesions: pl.DataFrame | None = None,
    criteria: Criteria | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per subject-evaluator and timepoint: NTRGRESP and the counts behind it; problems.

    Returns the per-timepoint table (``NNTEVAL`` assessed now, ``_NABSENT``, ``_NTPD``), the
    per-subject ``NNTARGET`` (baseline non-target lesions) and the problems (unknown states).

    mRECIST ("Pleural effusion and ascites", Lencioni & Llovet 2010): the worsening of an
    effusion or ascites is progression only with cytological proof (``CYTOL = POSITIVE`` at
    that or an earlier timepoint); without it the lesion counts as present (NON-CR/NON-PD)
    and the timepoint is reported.
    """
    nt = meas.filter(pl.col("ROLE") == "NON-TARGET")
    needs_cytology = criteria is not None and criteria.effusion_needs_cytology
    if needs_cytology and lesions is not None and nt.height:
        lesion_key = [*KEYS, "LESIONID"]
        nt = (
            nt.join(
                lesions.select([*lesion_key, _effusion(lesions).alias("_EFF")]),
                on=lesion_key,
                how="left",
            )
            .sort([*lesion_key, "TPSEQ"])
            .with_columns(
                (pl.col("CYTOL") == "POSITIVE")
                .fill_null(False)
                .cum_max()
                .over(lesion_key)
                .alias("_CYTO_SO_FAR")
            )
        )
        unproven = (
            pl.col("_EFF").fill_null(False)
            & pl.col("TUMSTATE").is_in(PROGRESSION_STATES).fill_null(False)
            & ~pl.col("_CYTO_SO_FAR")
        )
        held = nt.filter(unproven)
        nt = nt.with_columns(
            pl.when(unproven)
            .then(pl.lit("PRESENT"))
            .otherwise(pl.col("TUMSTATE"))
            .alias("TUMSTATE")
        ).drop("_EFF", "_CYTO_SO_FAR")
    else:
        held = nt.clear()
    known = (*ABSENT_STATES, *PRESENT_STATES, *PROGRESSION_STATES)
    unknown = nt.filter(pl.col("TUMSTATE").is_not_null() & ~pl.col("TUMSTATE").is_in(known))
    problems = problems_frame(
        unknown,
        "TR",
        "non-target state",
        "unknown non-target lesion state; the lesion is not evaluated",
        "TRSTRESC",
        pl.col("TUMSTATE"),
    )
    base_nt = nt.filter(pl.col("BASELINE")).select([*KEYS, "LESIONID"]).unique()
    n_base = base_nt.group_by(KEYS).agg(pl.len().alias("NNTARGET"))
    follow = nt.filter(~pl.col("BASELINE")).join(base_nt, on=[*KEYS, "LESIONID"], how="semi")
    state = pl.col("TUMSTATE")
    agg = group_rows(
        follow,
        TP,
        state.is_in(known).sum().alias("NNTEVAL"),
        state.is_in(ABSENT_STATES).sum().alias("_NABSENT"),
    )
    # Unequivocal progression of any non-target lesion, baseline-listed or not.
    pd = nt.filter(~pl.col("BASELINE")).pipe(
        group_rows, TP, state.is_in(PROGRESSION_STATES).any().alias("_NTPD")
    )
    if held.height:
        problems = pl.concat(
            [
                problems,
                problems_frame(
                    held,
                    "TR",
                    "mRECIST effusion without cytology",
                    "worsening effusion or ascites without positive cytology (CYTOL) is not "
                    "progression under mRECIST; counted as present (Lencioni & Llovet 2010)",
                    "TRSTRESC",
                    pl.col("TUMSTATE"),
                ),
            ],
            how="diagonal_relaxed",
        )
    return agg.join(pd, on=TP, how="full", coalesce=True), n_base, problems


def non_target_response() -> pl.Expr:
    """NTRGRESP from ``NNTARGET``, ``NNTEVAL``, ``_NABSENT``, ``_NTPD`` (RECIST 1.1 4.3.3)."""
    n = pl.col("NNTARGET").fill_null(0)
    n_eval = pl.col("NNTEVAL").fill_null(0)
    return (
        pl.when(pl.col("_NTPD").fill_null(False))
        .then(pl.lit("PD"))
        .when(n == 0)
        .then(pl.lit(None, pl.Utf8))
        .when(n_eval < n)
        .then(pl.lit("NE"))
        .when(pl.col("_NABSENT").fill_null(0) == n)
        .then(pl.lit("CR"))
        .otherwise(pl.lit("NON-CR/NON-PD"))
    )


def new_lesions_by_timepoint(
    meas: pl.DataFrame, lesions: pl.DataFrame, criteria: Criteria
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per subject-evaluator: the first timepoint (TPSEQ) at which new lesions mean PD.

    Returns ``(KEYS, NEWPD_TPNUM)`` and a problems table.
    """
    new = meas.filter((pl.col("ROLE") == "NEW") & ~pl.col("BASELINE")).join(
        lesions.select([*KEYS, "LESIONID", "LOC", "LOCDTL"]), on=[*KEYS, "LESIONID"], how="left"
    )
    loc = pl.concat_str(
        [pl.col("LOC").fill_null(""), pl.col("LOCDTL").fill_null("")], separator=" "
    )
    state = pl.col("TUMSTATE")
    seen = ~state.is_in(ABSENT_STATES).fill_null(False)
    unequivocal = state.is_in(NEW_UNEQUIVOCAL) | (state.is_null() & pl.col("DIAM_MM").is_not_null())
    new = new.with_columns(
        seen.alias("_SEEN"),
        unequivocal.fill_null(False).alias("_UNEQ"),
        (loc.str.contains("EFFUSION|ASCITES") & pl.lit(criteria.effusion_needs_cytology)).alias(
            "_EFFUSION"
        ),
        (pl.col("LIVER") & pl.lit(criteria.new_liver_lesion_min_mm is not None)).alias("_HCC"),
    )
    lesion_key = [*KEYS, "LESIONID"]
    new = new.sort([*lesion_key, "TPSEQ"]).with_columns(
        pl.col("TPSEQ").filter(pl.col("_SEEN")).min().over(lesion_key).alias("_FIRST"),
        pl.col("_UNEQ").any().over(lesion_key).alias("_EVER_UNEQ"),
        (pl.col("CYTOL") == "POSITIVE").fill_null(False).any().over(lesion_key).alias("_EVER_CYTO"),
        pl.col("DIAM_MM").drop_nulls().first().over(lesion_key).alias("_FIRST_DIAM"),
        (pl.col("DIAM_MM").is_not_null() | pl.col("ENHPATT").is_not_null())
        .any()
        .over(lesion_key)
        .alias("_HAS_HCC_DATA"),
    )
    parts = []
    if criteria.new_liver_lesion_min_mm is not None:
        min_mm = criteria.new_liver_lesion_min_mm
        growth = criteria.new_liver_lesion_growth_mm or 0.0
        # [mRECIST] new liver nodule: >= 1 cm and typical pattern, or >= 1 cm interval growth.
        hcc_now = ((pl.col("DIAM_MM") >= min_mm) & (pl.col("ENHPATT") == "TYPICAL")) | (
            (pl.col("DIAM_MM") - pl.col("_FIRST_DIAM")) >= growth
        )
        new = new.with_columns(
            pl.col("TPSEQ").filter(hcc_now.fill_null(False)).min().over(lesion_key).alias("_HCC_TP")
        )
        no_data = new.filter(pl.col("_HCC") & ~pl.col("_HAS_HCC_DATA")).unique(
            lesion_key, keep="first"
        )
        parts.append(
            problems_frame(
                no_data,
                "TR",
                "mRECIST new liver lesion",
                "new liver lesion without diameter or enhancement pattern (ENHPATT); judged by its "
                "state as in RECIST 1.1",
                "TRTESTCD",
                pl.col("TUMSTATE"),
            )
        )
    else:
        new = new.with_columns(pl.lit(None, pl.Int64).alias("_HCC_TP"))
    per_lesion = new.group_by(lesion_key).agg(
        pl.col("_FIRST").first(),
        pl.col("_EVER_UNEQ").first(),
        pl.col("_EVER_CYTO").first(),
        pl.col("_EFFUSION").first(),
        pl.col("_HCC").first(),
        pl.col("_HAS_HCC_DATA").first(),
        pl.col("_HCC_TP").first(),
    )
    pd_tp = (
        pl.when(pl.col("_EFFUSION"))
        .then(pl.when(pl.col("_EVER_CYTO")).then(pl.col("_FIRST")))
        .when(pl.col("_HCC") & pl.col("_HAS_HCC_DATA"))
        .then(pl.col("_HCC_TP"))
        .when(pl.col("_EVER_UNEQ"))
        .then(pl.col("_FIRST"))
        .otherwise(None)
    )
    out = (
        per_lesion.with_columns(pd_tp.alias("_PDTP"))
        .group_by(KEYS)
        .agg(
            pl.col("_PDTP").min().alias("NEWPD_TPNUM"),
            pl.col("_FIRST").min().alias("NEWSEEN_TPNUM"),
        )
    )
    problems = pl.concat(parts, how="diagonal_relaxed") if parts else None
    base_new = meas.filter((pl.col("ROLE") == "NEW") & pl.col("BASELINE"))
    p2 = problems_frame(
        base_new,
        "TR",
        "new lesion at baseline",
        "lesion recorded as NEW at the baseline visit; not used",
        "TRGRPID",
        pl.col("LESIONID"),
    )
    problems = p2 if problems is None else pl.concat([problems, p2], how="diagonal_relaxed")
    return out, problems
