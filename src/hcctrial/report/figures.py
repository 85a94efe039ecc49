"""Figures of the trial report, drawn with matplotlib and returned as inline SVG text.

Every function takes plain tables or arrays (no engine internals) and returns an SVG string
that the HTML report embeds, so the report is one self-contained file that prints crisply.
Colours follow the Okabe-Ito palette, which stays distinguishable with colour-vision deficiency
(Okabe and Ito 2008, "Color Universal Design").
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure

__all__ = [
    "RESPONSE_COLOURS",
    "SurvivalCurve",
    "escalation_path_figure",
    "kaplan_meier_figure",
    "kinetics_figure",
    "spider_figure",
    "swimmer_figure",
    "waterfall_figure",
]

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
RESPONSE_COLOURS = {
    "CR": "#009E73",
    "PR": "#56B4E9",
    "SD": "#E69F00",
    "NON-CR/NON-PD": "#F0E442",
    "PD": "#D55E00",
    "NE": "#999999",
}

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "none",  # text stays text: searchable, selectable, small
        "svg.hashsalt": "hcctrial",  # stable ids: the same data gives the same file
    }
)


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan-Meier step curve for one arm, as the endpoints engine reports it.

    ``time`` and ``survival`` hold the curve after each distinct time (starting anywhere > 0;
    the figure adds the point (0, 1)); ``lower``/``upper`` the pointwise confidence band;
    ``censored`` the times of censored observations (drawn as ticks).
    """

    label: str
    time: Sequence[float]
    survival: Sequence[float]
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None
    censored: Sequence[float] = field(default_factory=tuple)


def _short(label: str, width: int = 28) -> str:
    """An arm label short enough for a figure margin (full labels are in the legend)."""
    return label if len(label) <= width else label[: width - 1].rstrip() + "\u2026"


def _step_value(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)


def kaplan_meier_figure(
    curves: Sequence[SurvivalCurve],
    at_risk: pl.DataFrame | None,
    *,
    title: str,
    time_unit: str = "months",
    time_scale: float = 1.0,
) -> str:
    """Kaplan-Meier curves with confidence bands, censoring ticks and a numbers-at-risk table.

    ``at_risk`` has columns ``label``, ``time`` (in days) and ``n_at_risk``; it is printed under
    the axis at its times, one row per arm, as CONSORT-style KM figures require (Pocock et al.,
    Lancet 2002;359:1686, "Survival plots of time-to-event outcomes in clinical trials").
    ``time_scale`` divides days into the display unit (30.4375 for months).
    """
    n_arms = max(len(curves), 1)
    fig = plt.figure(figsize=(6.4, 3.6 + 0.22 * n_arms))
    grid = fig.add_gridspec(2, 1, height_ratios=[3.2, 0.28 * n_arms + 0.35], hspace=0.35)
    ax = fig.add_subplot(grid[0])
    for i, curve in enumerate(curves):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        t = np.concatenate([[0.0], np.asarray(curve.time, dtype=float)]) / time_scale
        s = np.concatenate([[1.0], np.asarray(curve.survival, dtype=float)])
        ax.step(t, s, where="post", color=colour, label=curve.label, linewidth=1.6)
        if curve.lower is not None and curve.upper is not None:
            lo = np.concatenate([[1.0], np.asarray(curve.lower, dtype=float)])
            hi = np.concatenate([[1.0], np.asarray(curve.upper, dtype=float)])
            ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        if len(curve.censored):
            c = np.asarray(curve.censored, dtype=float)
            y = _step_value(np.asarray(curve.time, dtype=float), np.asarray(curve.survival), c)
            ax.plot(c / time_scale, y, "|", color=colour, markersize=7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_ylabel(f"{title} probability" if len(title) < 30 else "Probability")
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_title(title, loc="left", fontsize=10)
    if len(curves) > 1:
        ax.legend(frameon=False, loc="lower left", fontsize=8)
    table_ax = fig.add_subplot(grid[1], sharex=ax)
    table_ax.axis("off")
    table_ax.set_title("Number at risk", loc="left", fontsize=8)
    if at_risk is not None and at_risk.height:
        ticks = sorted({float(t) / time_scale for t in at_risk.get_column("time").to_list()})
        ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
        for row_index, curve in enumerate(curves):
            rows = at_risk.filter(pl.col("label") == curve.label).sort("time")
            y_pos = 1.0 - (row_index + 0.5) / n_arms
            table_ax.text(
                0,
                y_pos,
                _short(curve.label) + "  ",
                transform=table_ax.get_yaxis_transform(),
                ha="right",
                va="center",
                fontsize=8,
                color=OKABE_ITO[row_index % len(OKABE_ITO)],
            )
            for time, n in rows.select("time", "n_at_risk").iter_rows():
                table_ax.text(
                    time / time_scale, y_pos, str(n), ha="center", va="center", fontsize=8
                )
        table_ax.set_ylim(0, 1)
        # the first column of counts sits on x = 0: move the labels left of it
        for text in table_ax.texts:
            if text.get_horizontalalignment() == "right":
                text.set_x(-0.03)
    return _to_svg(fig)


def waterfall_figure(best_change: pl.DataFrame, *, title: str) -> str:
    """Waterfall plot: best percentage change of the sum of diameters per subject.

    ``best_change`` has ``USUBJID``, ``PCHG`` (best % change from baseline) and optionally
    ``BOR`` for the bar colour. Reference lines at +20% and -30% mark the RECIST 1.1 PD and PR
    thresholds for the target sum (Eisenhauer et al., Eur J Cancer 2009;45:228, section 4.3.1).
    """
    df = best_change.drop_nulls("PCHG").sort("PCHG", descending=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    colours = (
        [RESPONSE_COLOURS.get(str(b), "#777777") for b in df.get_column("BOR")]
        if "BOR" in df.columns
        else ["#0072B2"] * df.height
    )
    ax.bar(np.arange(df.height), df.get_column("PCHG").to_numpy(), color=colours, width=0.85)
    ax.axhline(20, color="#D55E00", linestyle="--", linewidth=0.8)
    ax.axhline(-30, color="#009E73", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks([])
    ax.set_xlabel(f"Subjects (n = {df.height})")
    ax.set_ylabel("Best change in target sum (%)")
    ax.set_title(title, loc="left", fontsize=10)
    if "BOR" in df.columns:
        present = [b for b in RESPONSE_COLOURS if b in set(df.get_column("BOR").to_list())]
        handles = [plt.Rectangle((0, 0), 1, 1, color=RESPONSE_COLOURS[b]) for b in present]
        ax.legend(
            handles,
            present,
            frameon=False,
            fontsize=8,
            ncols=min(len(present), 5),
            loc="lower left",
            title="Best overall response",
            title_fontsize=8,
        )
    return _to_svg(fig)


def spider_figure(changes: pl.DataFrame, *, title: str, time_scale: float = 7.0) -> str:
    """Spider plot: % change of the target sum from baseline over time, one line per subject.

    ``changes`` has ``USUBJID``, ``ADY`` (days from the reference start) and ``PCHG``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    arms = (
        sorted(str(a) for a in changes["ARM"].drop_nulls().unique().to_list())
        if "ARM" in changes.columns
        else []
    )
    by_arm = len(arms) > 1
    shown: set[str] = set()
    for i, (_, group) in enumerate(changes.sort("ADY").group_by("USUBJID", maintain_order=True)):
        arm = str(group["ARM"][0]) if by_arm else ""
        colour = OKABE_ITO[(arms.index(arm) if by_arm else i) % len(OKABE_ITO)]
        ax.plot(
            group.get_column("ADY").to_numpy() / time_scale,
            group.get_column("PCHG"),
            color=colour,
            linewidth=0.9,
            alpha=0.7,
            marker="o",
            markersize=2,
            label=_short(arm, 40) if by_arm and arm not in shown else None,
        )
        shown.add(arm)
    if by_arm:
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.axhline(20, color="#D55E00", linestyle="--", linewidth=0.8)
    ax.axhline(-30, color="#009E73", linestyle="--", linewidth=0.8)
    ax.set_xlabel("Weeks from reference start")
    ax.set_ylabel("Change in target sum (%)")
    ax.set_title(title, loc="left", fontsize=10)
    return _to_svg(fig)


def swimmer_figure(lanes: pl.DataFrame, events: pl.DataFrame, *, title: str) -> str:
    """Swimmer plot: one lane per subject from the reference start to last follow-up.

    ``lanes``: ``USUBJID``, ``END_DY`` (days), optional ``ARM``. ``events``: ``USUBJID``,
    ``DY`` (days) and ``EVENT`` (for example ``CR``, ``PR``, ``PD``, ``Death``, ``Infusion``).
    """
    markers = {
        "CR": ("*", "#009E73"),
        "PR": ("^", "#56B4E9"),
        "PD": ("X", "#D55E00"),
        "Death": ("s", "#000000"),
        "Infusion": ("|", "#CC79A7"),
        "TACE": ("|", "#E69F00"),
    }
    ordered = lanes.sort("END_DY")
    height = max(2.4, 0.12 * ordered.height + 1.0)
    fig, ax = plt.subplots(figsize=(6.4, min(height, 12)))
    position = {s: i for i, s in enumerate(ordered.get_column("USUBJID").to_list())}
    arms = (
        ordered.get_column("ARM").to_list() if "ARM" in ordered.columns else [""] * ordered.height
    )
    arm_colour = {a: OKABE_ITO[i % len(OKABE_ITO)] for i, a in enumerate(dict.fromkeys(arms))}
    ax.barh(
        np.arange(ordered.height),
        ordered.get_column("END_DY").to_numpy() / 30.4375,
        color=[arm_colour[a] for a in arms],
        alpha=0.35,
        height=0.7,
    )
    for name, (marker, colour) in markers.items():
        sub = events.filter(pl.col("EVENT") == name)
        if sub.height:
            ys = [position.get(s, -1) for s in sub.get_column("USUBJID").to_list()]
            ax.scatter(
                sub.get_column("DY").to_numpy() / 30.4375,
                ys,
                marker=marker,
                color=colour,
                s=18,
                label=name,
                zorder=3,
            )
    ax.set_yticks([])
    ax.set_ylabel(f"Subjects (n = {ordered.height})")
    ax.set_xlabel("Months from reference start")
    ax.set_title(title, loc="left", fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    if len(arm_colour) > 1:
        for arm, colour in arm_colour.items():
            handles.append(plt.Rectangle((0, 0), 1, 1, color=colour, alpha=0.35))
            names.append(_short(str(arm), 40))
    ax.legend(handles, names, frameon=False, fontsize=8, loc="lower right")
    return _to_svg(fig)


def kinetics_figure(conc: pl.DataFrame, *, title: str, unit: str) -> str:
    """Cellular kinetics: concentration over time per subject on a log axis, with the median.

    ``conc``: ``USUBJID``, ``DY`` (days after infusion), ``AVAL`` (> 0 plotted; below the
    limit of quantification is not drawn on a log axis), optionally ``GROUP`` (arm or dose
    level: one colour and one median line per group).
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    positive = conc.filter(pl.col("AVAL") > 0).sort("DY")
    if "GROUP" not in positive.columns:
        positive = positive.with_columns(pl.lit("median").alias("GROUP"))
    groups = sorted(str(g) for g in positive["GROUP"].drop_nulls().unique().to_list())
    for j, name in enumerate(groups):
        colour = OKABE_ITO[j % len(OKABE_ITO)]
        part = positive.filter(pl.col("GROUP") == name)
        for _, group in part.group_by("USUBJID", maintain_order=True):
            ax.plot(
                group.get_column("DY"),
                group.get_column("AVAL"),
                color=colour,
                linewidth=0.6,
                alpha=0.35,
            )
        median = part.group_by("DY").agg(pl.col("AVAL").median()).sort("DY")
        ax.plot(
            median.get_column("DY"),
            median.get_column("AVAL"),
            color=colour,
            linewidth=2,
            label=_short(name, 48) if len(groups) > 1 else "median",
        )
    ax.set_yscale("log")
    ax.set_xlabel("Days after first infusion")
    ax.set_ylabel(unit)
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(frameon=False, fontsize=8, title="median" if len(groups) > 1 else None)
    return _to_svg(fig)


def escalation_path_figure(cohorts: pl.DataFrame, *, title: str, dose_labels: Sequence[str]) -> str:
    """Dose-escalation path: the dose level of each cohort, with its DLT count.

    ``cohorts``: ``COHORT`` (1, 2, ...), ``DOSE_LEVEL`` (1-based), ``N``, ``N_DLT``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    x = cohorts.get_column("COHORT").to_numpy()
    y = cohorts.get_column("DOSE_LEVEL").to_numpy()
    ax.plot(x, y, color="#0072B2", linewidth=1.2, drawstyle="steps-post", alpha=0.6)
    dlt = cohorts.get_column("N_DLT").to_numpy()
    ax.scatter(x, y, s=60, c=np.where(dlt > 0, "#D55E00", "#009E73"), zorder=3)
    for xi, yi, n, d in zip(x, y, cohorts.get_column("N").to_list(), dlt, strict=True):
        ax.annotate(
            f"{d}/{n}", (xi, yi), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8
        )
    ax.set_yticks(range(1, len(dose_labels) + 1), labels=list(dose_labels))
    ax.set_ylim(0.5, len(dose_labels) + 0.7)
    ax.set_xticks(x)
    ax.set_xlim(0.5, max(x) + 0.5 if len(x) else 1.5)
    ax.set_xlabel("Cohort (in treatment order)")
    ax.set_title(title, loc="left", fontsize=10)
    return _to_svg(fig)
