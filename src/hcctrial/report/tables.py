"""Summary tables of the report that are presentation, not analysis: baseline characteristics
by arm and the CONSORT flow.

Continuous variables are summarised as median (Q1-Q3) and range with the count of non-missing
values; categorical ones as n (%) of the arm's subjects with missing shown as its own row, the
layout of CONSORT 2010 item 15 "Table 1" (Schulz et al., BMJ 2010;340:c332).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from markupsafe import escape

__all__ = ["ConsortFlow", "baseline_characteristics", "consort_html"]


def _fmt(v: float) -> str:
    """A summary number for a table: 3 significant digits, thousands separated from 1,000."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _continuous_rows(df: pl.DataFrame, column: str, label: str, arms: list[str]) -> list[dict]:
    row: dict[str, str] = {"Characteristic": label, "Category": "median (Q1-Q3)"}
    rng: dict[str, str] = {"Characteristic": "", "Category": "range; n"}
    for arm in [*arms, "Total"]:
        values = df if arm == "Total" else df.filter(pl.col("ARM") == arm)
        x = values.get_column(column).drop_nulls().cast(pl.Float64)
        if x.len() == 0:
            row[arm] = "-"
            rng[arm] = "n = 0"
            continue
        q1, med, q3 = (float(x.quantile(q, "linear") or 0.0) for q in (0.25, 0.5, 0.75))
        lo, hi = float(x.min()), float(x.max())  # type: ignore[arg-type]
        row[arm] = f"{_fmt(med)} ({_fmt(q1)}-{_fmt(q3)})"
        rng[arm] = f"{_fmt(lo)}-{_fmt(hi)}; n = {x.len()}"
    return [row, rng]


def _categorical_rows(df: pl.DataFrame, column: str, label: str, arms: list[str]) -> list[dict]:
    levels = sorted(str(v) for v in df.get_column(column).drop_nulls().unique().to_list())
    has_missing = df.get_column(column).null_count() > 0
    rows = []
    for i, level in enumerate(levels + (["missing"] if has_missing else [])):
        row: dict[str, str] = {"Characteristic": label if i == 0 else "", "Category": level}
        for arm in [*arms, "Total"]:
            values = df if arm == "Total" else df.filter(pl.col("ARM") == arm)
            col = values.get_column(column)
            n = col.null_count() if level == "missing" else int((col.cast(pl.Utf8) == level).sum())
            row[arm] = f"{n} ({100.0 * n / values.height:.1f}%)" if values.height else "0"
        rows.append(row)
    return rows


def baseline_characteristics(
    adsl: pl.DataFrame, variables: Sequence[tuple[str, str]]
) -> pl.DataFrame:
    """Baseline characteristics by arm (columns: Characteristic, Category, each arm, Total).

    ``adsl`` has one row per subject with ``ARM`` and the variables; ``variables`` lists
    ``(column, label)`` pairs; numeric columns are summarised as continuous, others as
    categorical. Columns absent from ``adsl`` are skipped.
    """
    if "ARM" not in adsl.columns:
        adsl = adsl.with_columns(pl.lit("All subjects").alias("ARM"))
    arms = sorted(str(a) for a in adsl.get_column("ARM").drop_nulls().unique().to_list())
    header = {"Characteristic": "Subjects", "Category": "N"}
    for arm in arms:
        header[arm] = str(adsl.filter(pl.col("ARM") == arm).height)
    header["Total"] = str(adsl.height)
    rows: list[dict] = [header]
    for column, label in variables:
        if column not in adsl.columns:
            continue
        if adsl.schema[column].is_numeric():
            rows.extend(_continuous_rows(adsl, column, label, arms))
        else:
            rows.extend(_categorical_rows(adsl, column, label, arms))
    out = pl.DataFrame(rows, schema=["Characteristic", "Category", *arms, "Total"])
    return out.drop("Total") if len(arms) == 1 else out


@dataclass(frozen=True)
class ConsortFlow:
    """Counts of the CONSORT 2010 flow diagram (Schulz et al., BMJ 2010;340:c332, figure 1)."""

    screened: int
    excluded: int
    excluded_reasons: list[tuple[str, int]]
    enrolled: int
    allocated: list[tuple[str, int]]  # (arm, n)
    treated: list[tuple[str, int]]
    completed: list[tuple[str, int]]
    analysed: list[tuple[str, int]]
    #: screen failures with no failed criterion (consent withdrawn, ...): CONSORT's "declined to
    #: participate" and "other reasons", by their DS term; ``excluded_reasons`` then holds the
    #: failed criteria only
    other_reasons: list[tuple[str, int]] = field(default_factory=list)


def consort_html(flow: ConsortFlow, *, randomized: bool = False) -> str:
    """The CONSORT flow as accessible HTML boxes (prints cleanly; text stays searchable)."""
    reasons = "".join(f"<li>{escape(reason)}: {n}</li>" for reason, n in flow.excluded_reasons[:12])
    more = len(flow.excluded_reasons) - 12
    if more > 0:
        reasons += f"<li>{more} further criteria (see the screening log)</li>"
    if flow.other_reasons:
        others = "".join(f"<li>{escape(reason)}: {n}</li>" for reason, n in flow.other_reasons)
        n_other = sum(n for _, n in flow.other_reasons)
        reasons = (
            f"<li>Not meeting eligibility criteria: n = {flow.excluded - n_other}"
            f"<ul>{reasons}</ul></li><li>Other reasons: n = {n_other}<ul>{others}</ul></li>"
        )
        heading = "Excluded"
    else:
        heading = "Excluded (did not meet criteria)"

    def arm_boxes(label: str, counts: list[tuple[str, int]]) -> str:
        boxes = "".join(
            f"<div class='box'>{escape(label)} {escape(arm)}: n = {n}</div>" for arm, n in counts
        )
        return f"<div class='arms'>{boxes}</div>"

    return (
        "<div class='consort' role='figure' aria-label='CONSORT flow diagram'>"
        f"<div class='box'>Assessed for eligibility: n = {flow.screened}</div>"
        f"<div class='box side'>{heading}: n = {flow.excluded}"
        f"<ul>{reasons}</ul></div>"
        f"<div class='box'>{'Randomized' if randomized else 'Enrolled'}: n = {flow.enrolled}</div>"
        + arm_boxes("Allocated to", flow.allocated)
        + arm_boxes("Treated,", flow.treated)
        + arm_boxes("Completed follow-up,", flow.completed)
        + arm_boxes("Analysed,", flow.analysed)
        + "</div>"
    )
