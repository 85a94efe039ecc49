"""Cellular kinetics and biomarker section of the report (``hcctrial.kinetics``).

Non-compartmental parameters per subject (:func:`hcctrial.kinetics.nca`: Cmax, Tmax,
AUC0-28d linear-up/log-down, Tlast, persistence), summarised as CAR-T kinetics are reported
(geometric mean and CV% of Cmax and AUC, median and range of Tmax; Mueller KT et al., Blood
2017;130:2317), change from baseline at the usual timepoints, and one concentration-time
figure per test (individual profiles and the median).
"""

from __future__ import annotations

import polars as pl

from hcctrial.errors import InputError
from hcctrial.io import StudyData
from hcctrial.kinetics import (
    DEFAULT_TIMEPOINTS_DAYS,
    KINETIC_TESTS,
    change_from_baseline,
    first_infusion_dates,
    nca,
    prepare_samples,
    summarise,
)
from hcctrial.protocol import Protocol
from hcctrial.report.document import Section
from hcctrial.report.figures import kinetics_figure

__all__ = ["INFUSED_PRODUCT_TESTS", "kinetics_sections"]

#: Tests measuring the infused product itself (zero before the infusion).
INFUSED_PRODUCT_TESTS = ("CARDNA", "CARTCNT", "NKCNT", "TCELLCNT")


def _num(x: object) -> str:
    if not isinstance(x, int | float) or x != x:
        return "-"
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def _summary_rows(summary: pl.DataFrame, arm: str | None = None) -> pl.DataFrame:
    """Display rows of :func:`hcctrial.kinetics.summarise` (one per test)."""
    rows = []
    for r in summary.iter_rows(named=True):
        cv = r["CMAX_GEOCV"]
        row: dict[str, object] = {"Test": f"{r['PARAMCD']}: {KINETIC_TESTS.get(r['PARAMCD'], '')}"}
        if arm is not None:
            row["Arm / dose level"] = arm
        row.update(
            {
                "N": r["N"],
                "Cmax, geo. mean (CV%)": f"{_num(r['CMAX_GEOMEAN'])} {r['AVALU'] or ''}"
                + (f" ({cv:.0f}%)" if isinstance(cv, float) and cv == cv else ""),
                "Tmax, days, median (range)": f"{_num(r['TMAX_MEDIAN'])} "
                f"({_num(r['TMAX_MIN'])}-{_num(r['TMAX_MAX'])})",
                "AUC0-28d, geo. mean": f"{_num(r['AUCEND_GEOMEAN'])} {r['AUCU'] or ''}",
                "Tlast, days, median": _num(r["TLAST_MEDIAN"]),
                "Persisting": f"{r['N_PERSIST']}/{r['N']}",
            }
        )
        rows.append(row)
    return pl.DataFrame(rows)


def kinetics_sections(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> list[Section]:
    """NCA summary, change from baseline and profiles of every kinetic test in LB."""
    for domain in ("LB", "EX"):
        if domain not in data:
            raise InputError(
                f"no {domain} domain: kinetics needs LB samples and EX infusion dates",
                expected=f"{domain.lower()}.csv",
            )
    infused = first_infusion_dates(data["EX"])
    # subjects never infused (screen failures, a control arm) have no kinetic time origin
    lb = data["LB"].filter(pl.col("USUBJID").is_in(infused["USUBJID"].to_list()))
    samples = prepare_samples(lb, infused)
    # tests sampled only before the infusion (a screening iNKT count) have no kinetics
    after = samples.table.filter(pl.col("ADY") > 0)["PARAMCD"].unique().to_list()
    samples = type(samples)(samples.table.filter(pl.col("PARAMCD").is_in(after)), samples.problems)
    if samples.table.is_empty():
        raise InputError(
            "no cellular-kinetic or biomarker samples in LB",
            expected="LBTESTCD one of " + ", ".join(KINETIC_TESTS),
        )
    section = Section("kinetics", "Cellular kinetics and biomarkers")
    section.add_text(
        "Day 0 is the first infusion of the cell product (EX). AUC from day 0 to day 28 by the "
        "linear-up/log-down trapezoidal rule; Cmax and AUC summarised by geometric mean and "
        "geometric CV%, Tmax and Tlast by median (range); 'persisting' = measurable at the "
        "last sample."
    )
    params = nca(samples.table, auc_end_days=28)
    summary = summarise(params)
    section.add_table(_summary_rows(summary), "Non-compartmental parameters per test")
    arms = adsl.select("USUBJID", "ARM")
    with_arm = params.join(arms, on="USUBJID", how="left")
    if with_arm["ARM"].n_unique() > 1:
        parts = []
        for (arm,), group in with_arm.group_by("ARM", maintain_order=True):
            parts.append(_summary_rows(summarise(group.drop("ARM")), str(arm)))
        section.add_table(
            pl.concat(parts).sort("Test", "Arm / dose level"),
            "Non-compartmental parameters per test and arm / dose level",
        )
    changes = change_from_baseline(samples.table, DEFAULT_TIMEPOINTS_DAYS)
    cfb = (
        changes.filter(pl.col("AVAL").is_not_null())
        .group_by("PARAMCD", "AVISITN")
        .agg(
            pl.len().alias("n"),
            pl.col("AVAL").median().alias("AVAL"),
            pl.col("PCHG").drop_nulls().median().alias("PCHG"),
        )
        .sort("PARAMCD", "AVISITN")
    )
    # an infused product is absent before the infusion: its % change from a baseline at or below
    # the limit of quantification says nothing (reported for endogenous cells and biomarkers)
    cfb = cfb.with_columns(
        pl.when(pl.col("PARAMCD").is_in(list(INFUSED_PRODUCT_TESTS)))
        .then(None)
        .otherwise(pl.col("PCHG"))
        .alias("PCHG")
    )
    if cfb.height:
        section.add_table(
            cfb.select(
                pl.col("PARAMCD").alias("Test"),
                pl.col("AVISITN").alias("Day"),
                "n",
                pl.col("AVAL").map_elements(_num, return_dtype=pl.String).alias("Median value"),
                pl.col("PCHG")
                .map_elements(_num, return_dtype=pl.String)
                .alias("Median % change from baseline"),
            ),
            "Change from baseline at days "
            + ", ".join(str(d) for d in DEFAULT_TIMEPOINTS_DAYS)
            + " (nearest sample within 3 days; no % change for the infused product, absent at "
            "baseline)",
        )
    for (code,), group in samples.table.group_by("PARAMCD", maintain_order=True):
        unit = str(group["AVALU"].drop_nulls().first() or "")
        section.add_figure(
            kinetics_figure(
                group.filter(pl.col("ADY") >= 0)
                .rename({"ADY": "DY"})
                .join(arms.select("USUBJID", pl.col("ARM").alias("GROUP")), on="USUBJID"),
                title=f"{code}: {KINETIC_TESTS.get(str(code), code)}",
                unit=unit,
            ),
            f"{code}: individual profiles (thin lines) and the median per arm or dose level "
            "(thick lines), log scale; samples below the limit of quantification are not drawn.",
        )
    if samples.problems.height:
        section.add_text(
            f"{samples.problems.height} LB rows of these tests were not used "
            "(`hcctrial kinetics` lists each with the reason)."
        )
    return [section]
