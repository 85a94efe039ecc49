"""Efficacy sections of the report: tumour response and time-to-event endpoints.

Both call the engines (``hcctrial.response``, ``hcctrial.endpoints``) with the protocol's own
choices: the response criteria, confirmation interval and minimum SD duration of the primary
response endpoint, and the origin of time (randomization for randomized trials, first
infusion otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from hcctrial.endpoints import kaplan_meier
from hcctrial.endpoints.adtte import assessments_until
from hcctrial.endpoints.analysis import EndpointsResult, analyse_endpoints
from hcctrial.endpoints.protocol_options import ORIGINS, efficacy_settings, with_origin_date
from hcctrial.errors import InputError
from hcctrial.io import StudyData
from hcctrial.protocol import Protocol, ResponseCriteria
from hcctrial.report.document import Section
from hcctrial.report.figures import (
    SurvivalCurve,
    kaplan_meier_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)
from hcctrial.response import derive_best_overall_response, derive_timepoint_response
from hcctrial.response.reference import derive_anticancer_start
from hcctrial.response.waterfall import derive_best_change

__all__ = ["EfficacyResults", "efficacy_results", "response_section", "survival_section"]

DAYS_PER_MONTH = 365.25 / 12
#: Above this many subjects the swimmer plot shows responders only.
SWIMMER_MAX_LANES = 60


@dataclass(frozen=True)
class EfficacyResults:
    """What the efficacy sections show, kept for the index page and for tests."""

    criteria: ResponseCriteria
    adrs: pl.DataFrame
    timepoint_changes: pl.DataFrame
    response_problems: pl.DataFrame
    endpoints: EndpointsResult
    #: USUBJID, ORIGINDT: each ITT subject's day 1 (the protocol's origin)
    origin_dates: pl.DataFrame
    #: the origin in words ("randomization", "first infusion", ...)
    origin_label: str
    design: str = "randomized"  # randomized | non-randomized | dose-escalation | single-arm


def response_criteria(protocol: Protocol) -> ResponseCriteria:
    """The response criteria of the protocol's primary (else first) response endpoint.

    RECIST 1.1 with 28-day confirmation and SD at >= 42 days (the engine defaults) when the
    protocol names no response criteria.
    """
    ranked = sorted(protocol.endpoints, key=lambda e: {"primary": 0}.get(e.role, 1))
    for endpoint in ranked:
        if endpoint.response is not None:
            return endpoint.response
    return ResponseCriteria(criteria="recist1.1")


def efficacy_results(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> EfficacyResults:
    """Timepoint response, best overall response and every endpoint for the ITT population.

    The analysis follows the protocol's efficacy settings exactly as ``hcctrial endpoints``
    does (:func:`hcctrial.endpoints.protocol_options.efficacy_settings`: origin, response
    criteria, confirmation, censoring rules, data cut-off, landmarks, DCR visits, control arm
    and the randomization strata that the data hold), so the report and the command agree.
    """
    for domain in ("TU", "TR"):
        if domain not in data:
            raise InputError(
                f"no {domain} domain: tumour response needs lesion identification (TU) and "
                "measurements (TR)",
                expected=f"{domain.lower()}.csv in the study folder",
            )
    criteria = response_criteria(protocol)
    settings = efficacy_settings(protocol)
    itt = with_origin_date(
        adsl.filter(pl.col("ITTFL") == "Y"), settings.origin, data, settings.schedule_anchor
    )
    cut = settings.endpoint_options.cutoff_date(itt.get_column("ORIGINDT"))
    timepoints = derive_timepoint_response(data["TU"], data["TR"], settings.criteria)
    reference = itt.select("USUBJID", pl.col("ORIGINDT").alias("REFDT")).drop_nulls("REFDT")
    anticancer = derive_anticancer_start(data.get("CM"), reference)
    ovr = timepoints.adrs.filter(pl.col("USUBJID").is_in(itt.get_column("USUBJID").to_list()))
    best = derive_best_overall_response(
        assessments_until(ovr, cut),
        reference,
        confirm_days=settings.confirm_days,
        sd_min_days=settings.sd_min_days,
        anticancer_start=anticancer,
        criteria_label="mRECIST" if settings.criteria == "mrecist" else "RECIST 1.1",
    )
    a_opts = settings.analysis_options
    present = set(itt.get_column("ARM").to_list())
    a_opts = replace(
        a_opts,
        control_arm=a_opts.control_arm if a_opts.control_arm in present else None,
        strata=tuple(c for c in a_opts.strata if c in itt.columns),
    )
    endpoints = analyse_endpoints(itt, best.adrs, settings.endpoint_options, a_opts, anticancer)
    return EfficacyResults(
        criteria=criteria,
        adrs=best.adrs,
        timepoint_changes=timepoints.timepoint_changes,
        response_problems=pl.concat([timepoints.problems, best.problems], how="diagonal_relaxed"),
        endpoints=endpoints,
        origin_dates=itt.select("USUBJID", "ORIGINDT"),
        origin_label=ORIGINS.get(settings.origin, settings.origin),
        design=(
            "dose-escalation"
            if protocol.design.dose_escalation is not None
            else "randomized"
            if protocol.design.randomization is not None
            else str(protocol.design.allocation)
        ),
    )


def _bor_table(adrs: pl.DataFrame, adsl: pl.DataFrame, paramcd: str) -> pl.DataFrame:
    order = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]
    bor = (
        adsl.filter(pl.col("ITTFL") == "Y")
        .select("USUBJID", "ARM")
        .join(
            adrs.filter(pl.col("PARAMCD") == paramcd).select("USUBJID", "AVALC"),
            on="USUBJID",
            how="left",
        )
    )
    bor = bor.with_columns(pl.col("AVALC").fill_null("NE (no assessment)"))
    arms = sorted(bor.get_column("ARM").unique().to_list())
    rows = []
    for category in [*order, "NE (no assessment)"]:
        row: dict[str, str] = {"Best overall response": category}
        for arm in arms:
            n = bor.filter(pl.col("ARM") == arm).height
            k = bor.filter((pl.col("ARM") == arm) & (pl.col("AVALC") == category)).height
            row[f"{arm} (N={n})"] = f"{k} ({100 * k / n:.1f}%)" if n else "0"
        if any(not v.startswith("0") for k, v in row.items() if k != "Best overall response"):
            rows.append(row)
    return pl.DataFrame(rows)


def response_section(results: EfficacyResults, adsl: pl.DataFrame) -> Section:
    """BOR table, rates with exact CIs, waterfall, spider and swimmer plots."""
    crit = results.criteria
    label = "mRECIST" if crit.criteria == "mrecist" else "RECIST 1.1"
    section = Section("response", f"Tumour response ({label})")
    section.add_text(
        f"Response by {label}; CR/PR confirmed by a repeat assessment at least "
        f"{crit.confirmation_days} days later (CBOR); SD requires at least "
        f"{crit.sd_min_days} days from the reference start; reference start: "
        f"{results.origin_label}."
    )
    paramcd = "CBOR" if crit.confirmation_required else "BOR"
    section.add_table(_bor_table(results.adrs, adsl, paramcd), f"Best overall response ({paramcd})")
    rates = results.endpoints.by_arm.filter(pl.col("PARAMCD") == "RESPONSE")
    if rates.height:
        section.add_table(
            rate_table(rates),
            "Response rates, n/N and % with Clopper-Pearson exact 95% CI (ORR: CR + PR; DCR: "
            "CR + PR + SD; DCR at a landmark: non-PD adequate response on or after it)",
        )
    changes = results.timepoint_changes
    if changes.height and "PCHG" in changes.columns:
        itt_ids = adsl.filter(pl.col("ITTFL") == "Y")["USUBJID"].to_list()
        changes = changes.filter(pl.col("USUBJID").is_in(itt_ids))
        post = changes.drop_nulls("PCHG")
        # best % change up to the first PD over complete sums (hcctrial.response.waterfall)
        table = derive_best_change(changes, results.adrs)
        color = "CBOR" if paramcd == "CBOR" and "CBOR" in table.columns else "BOR"
        best = table.select("USUBJID", pl.col("BESTPCHG").alias("PCHG"), pl.col(color).alias("BOR"))
        plotted = best.drop_nulls("PCHG")
        if plotted.height:
            missing = table.filter(pl.col("BESTPCHG").is_null())
            why = (
                missing.group_by("REASON").len().sort("len", descending=True).iter_rows()
                if missing.height
                else iter(())
            )
            note = "; ".join(f"{n} with {r}" for r, n in why)
            section.add_figure(
                waterfall_figure(plotted, title="Best % change in the sum of diameters"),
                f"Waterfall plot: one bar per subject ({plotted.height} of {len(itt_ids)} "
                "analysed), the best change of the target sum from baseline up to the first PD "
                "over complete sums; colour = best overall response; dashed lines at +20% and "
                "-30%." + (f" Not plotted: {note}." if note else ""),
            )
        if "ADY" not in post.columns and "ADT" in post.columns:
            ref = results.origin_dates.select("USUBJID", pl.col("ORIGINDT").alias("_REF"))
            post = post.join(ref, on="USUBJID", how="left").with_columns(
                (pl.col("ADT") - pl.col("_REF")).dt.total_days().alias("ADY")
            )
        if "ADY" in post.columns and post.height:
            section.add_figure(
                spider_figure(
                    post.drop_nulls("ADY").join(
                        adsl.select("USUBJID", "ARM"), on="USUBJID", how="left"
                    ),
                    title="% change from baseline over time",
                ),
                "Spider plot: change of the target sum from baseline, one line per subject "
                "(coloured by arm when there are several); dashed lines at +20% and -30%.",
            )
    section.add_figure(*_swimmer(results, adsl))
    problems = results.response_problems
    if problems.height:
        keys = [c for c in ("SOURCE", "CHECK", "MESSAGE") if c in problems.columns]
        grouped = (
            problems.group_by(keys, maintain_order=True)
            .agg(
                pl.len().alias("Rows"),
                pl.col("USUBJID").n_unique().alias("Subjects"),
                pl.col("USUBJID").first().alias("First subject"),
            )
            .sort("Rows", descending=True)
        )
        section.add_table(
            grouped,
            f"Data problems found by the response engine ({problems.height} rows; each row in "
            "tables/response_problems.csv)",
        )
    return section


def _swimmer(results: EfficacyResults, adsl: pl.DataFrame) -> tuple[str, str]:
    itt = adsl.filter(pl.col("ITTFL") == "Y").join(
        results.origin_dates.drop_nulls("ORIGINDT"), on="USUBJID"
    )
    ref = itt.select("USUBJID", "ARM", pl.col("ORIGINDT").alias("_REF"), "LSTALVDT", "DTHDT")
    lanes = ref.with_columns(
        (pl.col("LSTALVDT") - pl.col("_REF")).dt.total_days().clip(0).alias("END_DY")
    ).select("USUBJID", "ARM", "END_DY")
    ovr = results.adrs.filter(
        (pl.col("PARAMCD") == "OVR") & pl.col("AVALC").is_in(["CR", "PR", "PD"])
    )
    events = ovr.join(ref, on="USUBJID").select(
        "USUBJID",
        (pl.col("ADT") - pl.col("_REF")).dt.total_days().alias("DY"),
        pl.col("AVALC").alias("EVENT"),
    )
    deaths = ref.drop_nulls("DTHDT").select(
        "USUBJID",
        (pl.col("DTHDT") - pl.col("_REF")).dt.total_days().alias("DY"),
        pl.lit("Death").alias("EVENT"),
    )
    events = pl.concat([events, deaths], how="vertical_relaxed")
    scope = "one lane per subject"
    if lanes.height > SWIMMER_MAX_LANES:
        responders = ovr.filter(pl.col("AVALC").is_in(["CR", "PR"]))["USUBJID"].unique()
        lanes = lanes.filter(pl.col("USUBJID").is_in(responders.to_list()))
        events = events.filter(pl.col("USUBJID").is_in(responders.to_list()))
        scope = (
            f"one lane per responder ({lanes.height} subjects with CR or PR at any assessment; "
            f"all {ref.height} would not be legible)"
        )
    return (
        swimmer_figure(lanes, events, title="Time on study"),
        f"Swimmer plot: {scope}, from the reference start to last contact (months); lane "
        "colour = arm; markers at responses, progression and death.",
    )


def _curves(adtte: pl.DataFrame, paramcd: str) -> list[SurvivalCurve]:
    curves = []
    for (arm,), grp in adtte.filter(pl.col("PARAMCD") == paramcd).group_by(
        ["ARM"], maintain_order=True
    ):
        fit = kaplan_meier(grp["AVAL"].to_numpy(), 1 - grp["CNSR"].to_numpy())
        has_event = fit.n_event > 0
        curves.append(
            SurvivalCurve(
                label=str(arm),
                time=fit.time[has_event].tolist(),
                survival=fit.surv[has_event].tolist(),
                lower=fit.lower[has_event].tolist(),
                upper=fit.upper[has_event].tolist(),
                censored=grp.filter(pl.col("CNSR") == 1)["AVAL"].to_list(),
            )
        )
    return sorted(curves, key=lambda c: c.label)


def survival_section(results: EfficacyResults) -> Section:
    """Endpoint table per arm, comparison, and Kaplan-Meier plots with numbers at risk."""
    ep = results.endpoints
    section = Section("survival", "Time-to-event endpoints")
    conv = ep.conventions()
    section.add_text(
        f"Origin: {results.origin_label}. "
        f"Kaplan-Meier with Greenwood variance, {conv['ci_transform']} CI transform "
        f"(R survival default), medians by {conv['median_ci']}; Cox ties: {conv['cox_ties']}. "
        "Censoring follows the FDA 2018 guidance on cancer trial endpoints."
    )
    tte = ep.by_arm.filter(pl.col("PARAMCD").is_in(["OS", "PFS", "TTR", "DOR"]))
    section.add_table(
        time_to_event_table(tte),
        "Time-to-event endpoints by arm: events/N, median in months (95% CI), "
        "Kaplan-Meier landmark rates (95% CI); NR = not reached, NE = not estimable",
    )
    if results.design == "dose-escalation":
        section.add_text(
            "Dose levels are described, not compared: the cohorts of a dose-escalation study "
            "are sequential and not randomized, so a hazard ratio or a rate difference between "
            "levels has no causal reading (tables/endpoints_comparison.csv has them anyway)."
        )
    elif ep.comparison.height and ep.comparison["ESTIMATE"].is_null().all():
        section.add_text(
            "No comparison between arms: "
            + str(ep.comparison["NOTE"].drop_nulls().first() or "fewer than two arms")
            + "."
        )
    elif ep.comparison.height:
        if results.design != "randomized":
            section.add_text(
                "The arms were not randomized: the comparison below is descriptive, and "
                "differences between the arms may reflect who was allocated to them."
            )
        section.add_table(
            comparison_table(ep.comparison),
            "Comparison between arms (Cox HR with 95% Wald CI, HR < 1 favours the first arm "
            "named; two-sided log-rank p; rate differences with Newcombe 95% CI)",
        )
    section.add_text(
        "Every statistic with its method and notes: tables/endpoints_by_arm.csv and "
        "tables/endpoints_comparison.csv."
    )
    at_risk = ep.at_risk
    for paramcd, name in (("OS", "Overall survival"), ("PFS", "Progression-free survival")):
        curves = _curves(ep.adtte, paramcd)
        if not curves:
            continue
        risk = at_risk.filter(pl.col("PARAMCD") == paramcd).select(
            pl.col("ARM").alias("label"),
            pl.col("DAY").alias("time"),
            pl.col("N_RISK").alias("n_at_risk"),
        )
        section.add_figure(
            kaplan_meier_figure(curves, risk, title=name, time_scale=DAYS_PER_MONTH),
            f"{name}: Kaplan-Meier estimate with 95% pointwise CI; ticks mark censored "
            "subjects; numbers at risk under the axis.",
        )
    return section


def _num(x: float | None, digits: int = 1) -> str:
    return "NR" if x is None or x != x else f"{x:.{digits}f}"


def _interval(est: float | None, lo: float | None, hi: float | None, scale: float = 1.0) -> str:
    """``est (lo-hi)``; a missing estimate or upper limit is NR (not reached), a missing lower
    limit NE (not estimable)."""
    if est is None:
        return "NR"

    def f(v: float | None, missing: str) -> str:
        return missing if v is None or v != v else f"{v * scale:.1f}"

    return f"{est * scale:.1f} ({f(lo, 'NE')}-{f(hi, 'NR')})"


def rate_table(rates: pl.DataFrame) -> pl.DataFrame:
    """Rows ORR, DCR, DCR at landmarks; one column per arm with ``x/N = % (lo-hi)``."""
    arms = sorted(rates["ARM"].unique().to_list())
    out = []
    for stat in rates["STATISTIC"].unique(maintain_order=True).to_list():
        row = {"Rate": str(stat).replace("_", " at ").replace("M", " months")}
        if stat in ("ORR", "DCR"):
            row["Rate"] = str(stat)
        for arm in arms:
            r = rates.filter((pl.col("ARM") == arm) & (pl.col("STATISTIC") == stat))
            if r.height == 0:
                row[arm] = "-"
                continue
            x, n, est, lo, hi = r.select("X", "N", "ESTIMATE", "LOWER", "UPPER").row(0)
            row[arm] = f"{x}/{n} = {_interval(est, lo, hi, 100)}%"
        out.append(row)
    return pl.DataFrame(out)


_TTE_NAMES = {
    "OS": "Overall survival",
    "PFS": "Progression-free survival",
    "TTR": "Time to response",
    "DOR": "Duration of response",
}


def time_to_event_table(tte: pl.DataFrame) -> pl.DataFrame:
    """Per endpoint: events/N, median (95% CI), landmark rates (95% CI); one column per arm."""
    arms = sorted(tte["ARM"].unique().to_list())
    out = []
    for code in ("OS", "PFS", "TTR", "DOR"):
        part = tte.filter(pl.col("PARAMCD") == code)
        if part.is_empty():
            continue
        stats = (
            ["EVENTS", "MEDIAN"]
            + [
                s
                for s in part["STATISTIC"].unique(maintain_order=True).to_list()
                if s.startswith("RATE_")
            ]
            + (["FOLLOW_UP_MEDIAN"] if code == "OS" else [])
        )
        for stat in stats:
            label = {
                "EVENTS": "Events / N",
                "MEDIAN": "Median, months (95% CI)",
                "FOLLOW_UP_MEDIAN": "Median follow-up, months (reverse KM)",
            }.get(stat, f"Rate at {stat[5:-1]} months, % (95% CI)")
            row = {"Endpoint": _TTE_NAMES[code] if stat == "EVENTS" else "", "Statistic": label}
            for arm in arms:
                r = part.filter((pl.col("ARM") == arm) & (pl.col("STATISTIC") == stat))
                if r.height == 0:
                    row[arm] = "-"
                    continue
                x, n, est, lo, hi = r.select("X", "N", "ESTIMATE", "LOWER", "UPPER").row(0)
                if stat == "EVENTS":
                    row[arm] = f"{x} / {n}"
                elif stat == "FOLLOW_UP_MEDIAN":
                    row[arm] = _num(est)
                elif stat == "MEDIAN":
                    row[arm] = _interval(est, lo, hi)
                else:
                    row[arm] = _interval(est, lo, hi, 100)
            out.append(row)
    return pl.DataFrame(out)


def _count(x: int | None, n: int | None) -> str:
    return "-" if x is None or n is None else f"{x} / {n}"


def _p(p: float | None) -> str:
    if p is None or p != p:
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def comparison_table(comparison: pl.DataFrame) -> pl.DataFrame:
    """Per endpoint: hazard ratio (95% Wald CI), profile-likelihood CI, log-rank p; for
    response rates the difference in percentage points (Newcombe 95% CI)."""
    out = []
    for (arm, code), part in comparison.group_by("ARM", "PARAMCD", maintain_order=True):
        stat = dict(zip(part["STATISTIC"].to_list(), part.iter_rows(named=True), strict=True))
        if "HR" in stat:
            hr = stat["HR"]
            prof = stat.get("HR_PROFILE_CI")
            lr = stat.get("LOGRANK_P")
            out.append(
                {
                    "Comparison": str(arm),
                    "Endpoint": _TTE_NAMES.get(str(code), str(code)),
                    "Estimate": (
                        f"HR {hr['ESTIMATE']:.2f} ({hr['LOWER']:.2f}-{hr['UPPER']:.2f})"
                        if hr["ESTIMATE"] is not None and hr["LOWER"] is not None
                        else f"not estimable ({hr['NOTE'] or 'no events'})"
                    ),
                    "Profile-likelihood 95% CI": (
                        f"{prof['LOWER']:.2f}-{prof['UPPER']:.2f}"
                        if prof and prof["LOWER"] is not None and prof["UPPER"] is not None
                        else "-"
                    ),
                    "Log-rank p": _p(lr["ESTIMATE"]) if lr else "-",
                    "Events / N": _count(hr["X"], hr["N"]),
                }
            )
        for name, row in stat.items():
            if name.endswith("_DIFF"):
                label = name[:-5].replace("_", " at ").replace("M", " months")
                out.append(
                    {
                        "Comparison": str(arm),
                        "Endpoint": f"{label} difference, percentage points",
                        "Estimate": _interval(row["ESTIMATE"], row["LOWER"], row["UPPER"], 100),
                        "Profile-likelihood 95% CI": "-",
                        "Log-rank p": "-",
                        "Events / N": _count(row["X"], row["N"]),
                    }
                )
    return pl.DataFrame(out)
