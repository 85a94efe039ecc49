"""Baseline checks of target lesion selection (RECIST 1.1 sections 3.1 and 3.3; mRECIST).

Each violation is a row of the problems table naming the subject, evaluator, lesion and the
rule. Violations are reported, not corrected: the lesions the reader chose stay the targets
(changing them would change the sums), and the reviewer decides.
"""

from __future__ import annotations

import polars as pl

from hcctrial.response.criteria import Criteria
from hcctrial.response.prepare import KEYS, empty_problems, problems_frame

__all__ = ["check_baseline", "target_lesions_after_baseline"]


def check_baseline(
    measurements: pl.DataFrame, lesions: pl.DataFrame, criteria: Criteria
) -> pl.DataFrame:
    """Problems with the baseline target lesions of each subject-evaluator.

    Rules
    -----
    - Non-nodal target longest diameter >= 10 mm (RECIST 1.1 section 3.1.1).
    - Nodal target short axis >= 15 mm; a node of 10 to < 15 mm is pathological but not
      measurable, < 10 mm is normal (RECIST 1.1 section 3.1.1).
    - At most 5 target lesions in total and at most 2 per organ (RECIST 1.1 section 3.3.1).
    - mRECIST: intrahepatic targets measured by their viable (enhancing) diameter >= 10 mm;
      portal vein thrombosis is non-measurable and cannot be a target; a porta hepatis node
      must have a short axis >= 20 mm to count as malignant (Lencioni & Llovet 2010).

    Parameters
    ----------
    measurements, lesions : polars.DataFrame
        From :func:`hcctrial.response.prepare.prepare_lesions`.
    criteria : Criteria
        RECIST 1.1 or mRECIST thresholds.

    Returns
    -------
    polars.DataFrame
        Problems table (``SOURCE, ROW, USUBJID, RSEVAL, RSEVALID, LESIONID, VISIT, COLUMN,
        CHECK, MESSAGE, VALUE``).
    """
    base = measurements.filter(pl.col("BASELINE") & (pl.col("ROLE") == "TARGET")).join(
        lesions.select([*KEYS, "LESIONID", "LOC", "LOCDTL"]), on=[*KEYS, "LESIONID"], how="left"
    )
    parts = [empty_problems()]
    small_node = pl.col("NODAL") & (pl.col("DIAM_MM") < criteria.measurable_nodal_short_axis_mm)
    small = ~pl.col("NODAL") & (pl.col("DIAM_MM") < criteria.measurable_non_nodal_mm)
    parts.append(
        problems_frame(
            base.filter(small),
            "TR",
            "baseline measurability",
            f"target lesion below {criteria.measurable_non_nodal_mm:g} mm at baseline is not "
            "measurable (RECIST 1.1 section 3.1.1)",
            "TRSTRESN",
            pl.col("DIAM_MM"),
        )
    )
    parts.append(
        problems_frame(
            base.filter(small_node),
            "TR",
            "baseline measurability",
            pl.when(pl.col("DIAM_MM") < criteria.nodal_normal_mm)
            .then(
                pl.lit(
                    f"target lymph node short axis below {criteria.nodal_normal_mm:g} mm is "
                    "normal, not a lesion (RECIST 1.1 section 3.1.1)"
                )
            )
            .otherwise(
                pl.lit(
                    f"target lymph node short axis 10 to < "
                    f"{criteria.measurable_nodal_short_axis_mm:g} mm is pathological but "
                    "not measurable (RECIST 1.1 section 3.1.1)"
                )
            ),
            "TRSTRESN",
            pl.col("DIAM_MM"),
        )
    )
    parts.append(
        problems_frame(
            base.filter(pl.col("DIAM_MM").is_null()),
            "TR",
            "baseline diameter",
            "baseline target lesion has no usable diameter (nodal: short axis SAXIS/LPERP, "
            "non-nodal: LDIAM, or DIAMETER); the baseline sum is incomplete",
            "TRTESTCD",
            pl.col("DIAMTEST"),
        )
    )
    counts = base.group_by(KEYS).agg(pl.len().alias("N"), pl.col("VISIT").first())
    parts.append(
        problems_frame(
            counts.filter(pl.col("N") > criteria.max_targets),
            "TU",
            "baseline target count",
            pl.format(
                "{} target lesions at baseline; at most "
                + str(criteria.max_targets)
                + " allowed (RECIST 1.1 section 3.3.1)",
                pl.col("N"),
            ),
            "TUSTRESC",
            pl.col("N"),
        )
    )
    organ = (
        base.filter(pl.col("LOC").is_not_null())
        .group_by([*KEYS, "LOC"])
        .agg(pl.len().alias("N"), pl.col("VISIT").first())
    )
    parts.append(
        problems_frame(
            organ.filter(pl.col("N") > criteria.max_targets_per_organ),
            "TU",
            "baseline targets per organ",
            pl.format(
                "{} target lesions in {}; at most "
                + str(criteria.max_targets_per_organ)
                + " per organ (RECIST 1.1 section 3.3.1)",
                pl.col("N"),
                pl.col("LOC"),
            ),
            "TULOC",
            pl.col("LOC"),
        )
    )
    parts.append(
        problems_frame(
            base.filter(pl.col("LOC").is_null()),
            "TU",
            "lesion location",
            "target lesion has no location (TULOC): organ limits and nodal rules cannot be checked",
            "TULOC",
        )
    )
    if criteria.portal_vein_thrombosis_non_measurable:
        loc = pl.concat_str(
            [pl.col("LOC").fill_null(""), pl.col("LOCDTL").fill_null("")], separator=" "
        )
        parts.append(
            problems_frame(
                base.filter(loc.str.contains("PORTAL VEIN")),
                "TU",
                "mRECIST portal vein thrombosis",
                "portal vein thrombosis is a non-measurable lesion and cannot be a target "
                "(Lencioni & Llovet 2010, mRECIST)",
                "TULOC",
                pl.col("LOC"),
            )
        )
        if criteria.porta_hepatis_node_min_mm is not None:
            parts.append(
                problems_frame(
                    base.filter(
                        loc.str.contains("PORTA HEPATIS")
                        & pl.col("NODAL")
                        & (pl.col("DIAM_MM") < criteria.porta_hepatis_node_min_mm)
                    ),
                    "TU",
                    "mRECIST porta hepatis node",
                    "porta hepatis node short axis below "
                    f"{criteria.porta_hepatis_node_min_mm:g} mm "
                    "is not considered malignant (Lencioni & Llovet 2010, mRECIST)",
                    "TRSTRESN",
                    pl.col("DIAM_MM"),
                )
            )
        parts.append(
            problems_frame(
                base.filter(
                    pl.col("LIVER") & (pl.col("DIAMTEST") != criteria.viable_test).fill_null(True)
                ),
                "TR",
                "mRECIST viable diameter",
                f"intrahepatic target has no {criteria.viable_test} (viable tumour diameter)",
                "TRTESTCD",
                pl.col("DIAMTEST"),
            )
        )
    return pl.concat(parts, how="diagonal_relaxed")


def target_lesions_after_baseline(measurements: pl.DataFrame) -> pl.DataFrame:
    """Problems: target lesions that have no baseline record (first seen after baseline).

    Target lesions are chosen at baseline (RECIST 1.1 section 3.3.1); a lesion labelled
    TARGET that first appears later is not added to the sum. It is reported here, once, at
    the visit where it first appears.
    """
    lesion_key = [*KEYS, "LESIONID"]
    tgt = measurements.filter(pl.col("ROLE") == "TARGET")
    # Only the (few) lesions without a baseline row are grouped.
    late = (
        tgt.join(tgt.filter(pl.col("BASELINE")).select(lesion_key), on=lesion_key, how="anti")
        .group_by(lesion_key)
        .agg(pl.col("VISIT").sort_by("VISITNUM").first())
    )
    return problems_frame(
        late,
        "TR",
        "target after baseline",
        "target lesion has no baseline measurement (first seen at this visit); not in the sum",
        "TRLNKID",
        pl.col("LESIONID"),
    )
