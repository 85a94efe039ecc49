"""Endpoint tables per arm and the two-arm comparison, from ADTTE and ADRS.

Output tables are long ("one statistic per row") so they print, export to CSV and JSON, and
feed the report the same way: ``ARM, PARAMCD, STATISTIC, N, X, ESTIMATE, LOWER, UPPER, UNIT,
METHOD, NOTE``. Every median, rate and quantile names its CI transform in ``METHOD``; a value
that cannot be estimated is null with the reason in ``NOTE`` (never an unexplained NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hcctrial.endpoints.adtte import (
    ADEQUATE,
    DAYS_PER_MONTH,
    RESPONDED,
    EndpointOptions,
    to_polars,
)
from hcctrial.endpoints.cox import cox_ph
from hcctrial.endpoints.km import CONF_TYPES, kaplan_meier
from hcctrial.endpoints.logrank import logrank_test
from hcctrial.endpoints.rates import newcombe_difference, proportion
from hcctrial.errors import InputError

__all__ = [
    "DAYS_PER_MONTH",
    "AnalysisOptions",
    "at_risk_table",
    "compare_arms",
    "landmark_assessment_day",
    "response_rates",
    "stratum_labels",
    "summarise_time_to_event",
]


RESULT_SCHEMA = {
    "ARM": pl.Utf8, "PARAMCD": pl.Utf8, "STATISTIC": pl.Utf8, "N": pl.Int64, "X": pl.Int64,
    "ESTIMATE": pl.Float64, "LOWER": pl.Float64, "UPPER": pl.Float64, "UNIT": pl.Utf8,
    "METHOD": pl.Utf8, "NOTE": pl.Utf8,
}  # fmt: skip


@dataclass(frozen=True)
class AnalysisOptions:
    """Statistical choices of the endpoint tables (defaults match R ``survival``).

    ``conf_type``: CI transform for S(t), medians and rates: "log" (R default), "log-log"
    (SAS default), "plain". ``control_arm``: the reference of hazard ratios and differences
    (default: the second arm in sorted order, stated in every comparison row).
    ``median_both_transforms``: also give the median's Brookmeyer-Crowley CI under the other
    of log / log-log (row ``MEDIAN_CI_LOGLOG`` or ``MEDIAN_CI_LOG``). ``strata``: ADSL
    columns (e.g. the randomization's stratification factors) for the stratified log-rank test
    (row ``LOGRANK_STRATIFIED_P``; several columns: their combinations, as R ``strata(a, b)``).
    ``assessment_schedule``: the protocol's scheduled tumour assessments as ``(day after the
    origin, days of window before)``, used by :func:`landmark_assessment_day` for DCR at months.
    """

    conf_type: str = "log"
    conf_level: float = 0.95
    ties: str = "efron"
    landmarks_months: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {"OS": (6.0, 12.0, 24.0), "PFS": (3.0, 6.0, 12.0, 24.0)}
    )
    dcr_months: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0)
    at_risk_months: tuple[float, ...] = (0.0, 3.0, 6.0, 9.0, 12.0, 18.0, 24.0)
    control_arm: str | None = None
    median_both_transforms: bool = True
    strata: tuple[str, ...] = ()
    assessment_schedule: tuple[tuple[int, int], ...] = ()


def _row(arm: str, param: str, stat: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(RESULT_SCHEMA)
    base.update(ARM=arm, PARAMCD=param, STATISTIC=stat, NOTE="")
    base.update(kw)
    return base


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return (
        pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=RESULT_SCHEMA)
    )


def _check_adtte(adtte: pl.DataFrame) -> pl.DataFrame:
    adtte = to_polars(adtte, "ADTTE")
    need = ("USUBJID", "ARM", "PARAMCD", "AVAL", "CNSR")
    missing = [c for c in need if c not in adtte.columns]
    if missing:
        raise InputError("ADTTE columns missing", column=", ".join(missing), expected=str(need))
    return adtte


def summarise_time_to_event(adtte: pl.DataFrame, options: AnalysisOptions) -> pl.DataFrame:
    """Per arm and PARAMCD: subjects, events, median and quartiles with Brookmeyer-Crowley CIs,
    landmark rates in months with pointwise CIs, and median follow-up (reverse Kaplan-Meier,
    Schemper & Smith 1996, Control Clin Trials 17:343) for OS."""
    if options.conf_type not in CONF_TYPES:
        raise InputError(
            "unknown CI transform", value=options.conf_type, expected=" | ".join(CONF_TYPES)
        )
    adtte = _check_adtte(adtte)
    ct = options.conf_type
    method = f"Kaplan-Meier, Brookmeyer-Crowley CI, {ct} transform, {options.conf_level:.0%}"
    rows: list[dict[str, object]] = []
    for (param, arm), grp in adtte.group_by(["PARAMCD", "ARM"], maintain_order=True):
        p, a = str(param), str(arm)
        t = grp["AVAL"].to_numpy()
        e = (grp["CNSR"].to_numpy() == 0).astype(int)
        fit = kaplan_meier(t, e, ct, options.conf_level)
        n = int(t.size)
        rows.append(_row(a, p, "SUBJECTS", N=n, X=n))
        rows.append(_row(a, p, "EVENTS", N=n, X=fit.events, ESTIMATE=fit.events / n))
        quantiles = [(0.5, "MEDIAN", fit), (0.25, "Q1", fit), (0.75, "Q3", fit)]
        if options.median_both_transforms and ct in ("log", "log-log"):
            # lifelines' median CI matches R's log-log, R's default is log: offer both.
            alt = "log-log" if ct == "log" else "log"
            alt_fit = kaplan_meier(t, e, alt, options.conf_level)
            quantiles.insert(1, (0.5, f"MEDIAN_CI_{alt.upper().replace('-', '')}", alt_fit))
        for prob, name, qfit in quantiles:
            q = qfit.quantile(prob)
            qmethod = method.replace(f"{ct} transform", f"{qfit.conf_type} transform")
            rows.append(
                _row(
                    a,
                    p,
                    name,
                    N=n,
                    X=fit.events,
                    ESTIMATE=_m(q.estimate),
                    LOWER=_m(q.lower),
                    UPPER=_m(q.upper),
                    UNIT="months",
                    METHOD=qmethod,
                    NOTE=q.note,
                )
            )
        for month in options.landmarks_months.get(p, ()):
            day = month * DAYS_PER_MONTH
            lm = fit.survival_at([day])
            note = ""
            est: float | None = float(lm["surv"][0])
            low, upp = float(lm["lower"][0]), float(lm["upper"][0])
            last = float(fit.time[-1])
            if day > last and est is not None and est > 0:
                # Beyond the last follow-up time S(t) is unknown unless it already reached 0
                # (R: summary(fit, times) leaves such times out unless extend = TRUE, which
                # carries the last value forward with n.risk 0).
                note = (
                    f"not estimable: follow-up ends at {last / DAYS_PER_MONTH:.2f} months "
                    f"(R summary(extend = TRUE) would carry {est:.4f} forward)"
                )
                est, low, upp = None, math.nan, math.nan
            elif math.isnan(low) or math.isnan(upp):
                note = f"CI undefined under the {ct} transform at S = {est:g}"
            rows.append(
                _row(
                    a,
                    p,
                    f"RATE_{month:g}M",
                    N=int(lm["n_risk"][0]),
                    ESTIMATE=est,
                    LOWER=None if math.isnan(low) else low,
                    UPPER=None if math.isnan(upp) else upp,
                    UNIT="proportion",
                    METHOD=f"Kaplan-Meier, Greenwood, {ct} transform; N = at risk",
                    NOTE=note,
                )
            )
        if p == "OS":
            rev = kaplan_meier(t, 1 - e, ct, options.conf_level).median()
            rows.append(
                _row(
                    a,
                    p,
                    "FOLLOW_UP_MEDIAN",
                    N=n,
                    ESTIMATE=_m(rev.estimate),
                    LOWER=_m(rev.lower),
                    UPPER=_m(rev.upper),
                    UNIT="months",
                    METHOD=f"reverse Kaplan-Meier (censoring as event), {ct}",
                    NOTE=rev.note,
                )
            )
    return _frame(rows)


def _m(days: float | None) -> float | None:
    return None if days is None else days / DAYS_PER_MONTH


def _arms(arms: Sequence[str], options: AnalysisOptions) -> tuple[str, str] | None:
    names = sorted(set(arms))
    if len(names) != 2:
        return None
    control = options.control_arm if options.control_arm in names else names[1]
    experimental = names[0] if control == names[1] else names[1]
    return experimental, control


def stratum_labels(adsl: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``USUBJID, STRATUM``: each subject's stratum, the values of ``columns`` joined by ", ".

    A missing column or a subject without a value is an error naming the column (and the
    subject): a stratified test cannot leave anyone out silently.
    """
    missing = [c for c in columns if c not in adsl.columns]
    if missing:
        raise InputError(
            "stratification factor not in the subject-level data",
            column=", ".join(missing),
            expected="one of " + ", ".join(adsl.columns),
        )
    subj = adsl.unique("USUBJID", keep="first", maintain_order=True)
    for c in columns:
        empty = subj.filter(pl.col(c).is_null() | (pl.col(c).cast(pl.Utf8).str.strip_chars() == ""))
        if empty.height:
            raise InputError(
                "no value of the stratification factor (rule: every subject is in one stratum)",
                column=c,
                subject=", ".join(map(str, empty["USUBJID"].to_list()[:10])),
            )
    return subj.select(
        "USUBJID",
        pl.concat_str([pl.col(c).cast(pl.Utf8) for c in columns], separator=", ").alias("STRATUM"),
    )


def compare_arms(
    adtte: pl.DataFrame, options: AnalysisOptions, strata: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Two-arm comparison per PARAMCD: Cox HR (Wald and profile-likelihood CIs), log-rank test,
    and with ``strata`` (``USUBJID, STRATUM`` from :func:`stratum_labels`) the stratified
    log-rank test (R ``survdiff(Surv(AVAL, status) ~ ARM + strata(STRATUM))``).

    The HR is experimental vs control (``control_arm``); with one arm, or more than two, rows
    say "not estimable" and why.
    """
    adtte = _check_adtte(adtte)
    if strata is not None:
        adtte = adtte.join(strata.select("USUBJID", "STRATUM"), on="USUBJID", how="left")
    rows: list[dict[str, object]] = []
    for (param,), grp in adtte.group_by(["PARAMCD"], maintain_order=True):
        p = str(param)
        pair = _arms(grp["ARM"].cast(pl.Utf8).to_list(), options)
        if pair is None:
            arms = sorted(set(grp["ARM"].cast(pl.Utf8).to_list()))
            rows.append(
                _row(
                    " vs ".join(arms),
                    p,
                    "HR",
                    NOTE=f"not estimable: {len(arms)} arm(s); a comparison needs exactly two",
                )
            )
            continue
        exp_arm, ctl = pair
        label = f"{exp_arm} vs {ctl}"
        t = grp["AVAL"].to_numpy()
        e = (grp["CNSR"].to_numpy() == 0).astype(int)
        arm = grp["ARM"].cast(pl.Utf8).to_numpy()
        x = (arm == exp_arm).astype(float)
        lr = logrank_test(t, e, arm)
        try:
            cox = cox_ph(t, e, {"ARM": x}, ties=options.ties, conf_level=options.conf_level)
            rows.append(
                _row(
                    label,
                    p,
                    "HR",
                    N=cox.n,
                    X=cox.nevent,
                    ESTIMATE=cox.hr[0],
                    LOWER=cox.hr_lower[0],
                    UPPER=cox.hr_upper[0],
                    METHOD=f"Cox PH, {options.ties} ties, Wald CI; p (Wald) = {cox.p_wald[0]:.4g}",
                    NOTE=cox.note,
                )
            )
            rows.append(
                _row(
                    label,
                    p,
                    "HR_PROFILE_CI",
                    N=cox.n,
                    X=cox.nevent,
                    ESTIMATE=cox.hr[0],
                    LOWER=cox.hr_lower_lr,
                    UPPER=cox.hr_upper_lr,
                    METHOD=f"Cox PH, {options.ties} ties, profile-likelihood CI; "
                    f"LRT p = {cox.lrt_p:.4g}",
                )
            )
        except InputError as exc:
            rows.append(
                _row(label, p, "HR", N=int(t.size), X=int(e.sum()), NOTE=str(exc.problem.message))
            )
        rows.append(
            _row(
                label,
                p,
                "LOGRANK_P",
                N=int(t.size),
                X=int(e.sum()),
                ESTIMATE=lr.p,
                METHOD="log-rank (survdiff rho = 0)"
                + ("" if lr.chisq is None else f"; chi-square = {lr.chisq:.4f}, df 1"),
                NOTE=lr.note,
            )
        )
        if strata is not None:
            rows.append(_stratified_row(grp, t, e, arm, label, p, options))
    return _frame(rows)


def _stratified_row(
    grp: pl.DataFrame,
    t: np.ndarray,
    e: np.ndarray,
    arm: np.ndarray,
    label: str,
    param: str,
    options: AnalysisOptions,
) -> dict[str, object]:
    """Row ``LOGRANK_STRATIFIED_P``: the log-rank test within strata, summed (survdiff)."""
    lost = grp.filter(pl.col("STRATUM").is_null())
    if lost.height:
        raise InputError(
            "subject has no stratum (rule: every analysed subject is in one stratum)",
            column=", ".join(options.strata) or "STRATUM",
            subject=", ".join(map(str, lost["USUBJID"].to_list()[:10])),
        )
    lr = logrank_test(t, e, arm, strata=grp["STRATUM"].to_numpy())
    factors = ", ".join(options.strata) or "STRATUM"
    return _row(
        label,
        param,
        "LOGRANK_STRATIFIED_P",
        N=int(t.size),
        X=int(e.sum()),
        ESTIMATE=lr.p,
        METHOD=f"stratified log-rank (survdiff + strata({factors}), {len(lr.strata)} strata)"
        + ("" if lr.chisq is None else f"; chi-square = {lr.chisq:.4f}, df 1"),
        NOTE=lr.note,
    )


def landmark_assessment_day(
    month: float, options: AnalysisOptions, endpoint_options: EndpointOptions
) -> tuple[int, str]:
    """First day (after the origin) whose tumour assessment counts for a landmark at ``month``.

    A landmark "at m months" is read the way the protocol's visit plan reads it: the scheduled
    tumour assessment nearest to day ``m * 30.4375`` (earlier one on a tie), counted from the
    first day of its visit window (``day - window_before``). The week-12 scan (day 84, window
    7 days) so counts for "3 months" (day 91.3) from day 77, and the week-24 scan (day 168)
    for "6 months" (day 182.6). Without a schedule within one imaging interval of the
    landmark: ``floor(m * 30.4375) - window`` (whole days, as assessments are dated), e.g.
    91 - 7 = day 84 for 3 months. Returns the day and the rule in words for ``METHOD``.
    """
    target = month * DAYS_PER_MONTH
    schedule = options.assessment_schedule
    if schedule:
        day, before = min(schedule, key=lambda v: (abs(v[0] - target), v[0]))
        if abs(day - target) <= endpoint_options.assessment_interval_days:
            return day - before, (
                f"scheduled assessment day {day} nearest {month:g} months, window -{before} days"
            )
    window = endpoint_options.assessment_window_days
    return math.floor(target) - window, f"day {math.floor(target)} = {month:g} months - {window}"


def response_rates(
    adrs: pl.DataFrame,
    adsl: pl.DataFrame,
    endpoint_options: EndpointOptions,
    options: AnalysisOptions,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """ORR (CR+PR) and DCR (CR+PR+SD+NON-CR/NON-PD) per arm with Clopper-Pearson CIs, DCR at
    month timepoints, and arm differences (Newcombe hybrid score CI).

    The denominator is every ADSL subject of the arm; a subject with no best-response row is a
    non-responder (NE) and counted in the note. Disease control at month m: an adequate non-PD
    timepoint response on or after :func:`landmark_assessment_day` and before any PD, in days
    from ADSL ``ANCHORDT`` (day 0 of the visit plan, where the scheduled scans count from;
    :func:`~hcctrial.endpoints.protocol_options.with_origin_date`) when ADSL has it, else from
    the origin. Returns ``(by_arm, comparison)``.
    """
    adrs = to_polars(adrs, "ADRS")
    adsl = to_polars(adsl, "ADSL")
    param = endpoint_options.response_param
    # the landmark visits count from the visit plan's day 0 (ANCHORDT, e.g. the first TACE when
    # the origin is randomization) where ADSL dates it, else from the origin
    day0 = "ANCHORDT" if "ANCHORDT" in adsl.columns else endpoint_options.origin
    subj = adsl.select(
        "USUBJID",
        pl.col("ARM").cast(pl.Utf8),
        pl.coalesce(day0, endpoint_options.origin).alias("DAY0DT"),
    ).unique("USUBJID")
    counted = "of the visit plan" if day0 == "ANCHORDT" else "from the origin"
    best = adrs.filter(pl.col("PARAMCD") == param).select("USUBJID", pl.col("AVALC").alias("BEST"))
    s = subj.join(best.unique("USUBJID"), on="USUBJID", how="left")
    ovr = adrs.filter(pl.col("PARAMCD") == "OVR").join(subj, on="USUBJID")
    if ovr.height and ovr.schema["ADT"] != pl.Date:
        ovr = ovr.with_columns(pl.col("ADT").cast(pl.Utf8).str.slice(0, 10).str.to_date())
    first_pd = (
        ovr.filter(pl.col("AVALC") == "PD")
        .group_by("USUBJID")
        .agg(pl.col("ADT").min().alias("PDDT"))
    )
    ovr = ovr.join(first_pd, on="USUBJID", how="left").with_columns(
        (pl.col("ADT") - pl.col("DAY0DT")).dt.total_days().alias("DAY")
    )
    controlled = ovr.filter(
        pl.col("AVALC").is_in([a for a in ADEQUATE if a != "PD"])
        & (pl.col("PDDT").is_null() | (pl.col("ADT") < pl.col("PDDT")))
    )
    rows: list[dict[str, object]] = []
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    ci = f"Clopper-Pearson exact, {options.conf_level:.0%}"
    for (arm,), g in s.group_by(["ARM"], maintain_order=True):
        a = str(arm)
        n = g.height
        no_best = int(g["BEST"].is_null().sum())
        note = f"{no_best} subject(s) without {param} counted as non-responders" if no_best else ""
        ids = g["USUBJID"].to_list()
        defs = [
            ("ORR", int(g["BEST"].is_in(RESPONDED).sum()), f"{param} in CR, PR"),
            (
                "DCR",
                int(g["BEST"].is_in(["CR", "PR", "SD", "NON-CR/NON-PD"]).sum()),
                f"{param} in CR, PR, SD, NON-CR/NON-PD",
            ),
        ]
        for month in options.dcr_months:
            cut, rule = landmark_assessment_day(month, options, endpoint_options)
            x = controlled.filter(pl.col("USUBJID").is_in(ids) & (pl.col("DAY") >= cut))
            defs.append(
                (
                    f"DCR_{month:g}M",
                    int(x["USUBJID"].n_unique()),
                    f"non-PD adequate response on/after day {cut} {counted} ({rule}), "
                    "before any PD",
                )
            )
        for stat, x_count, what in defs:
            pr = proportion(x_count, n, options.conf_level)
            counts[(a, stat)] = (x_count, n)
            rows.append(
                _row(
                    a,
                    "RESPONSE",
                    stat,
                    N=n,
                    X=x_count,
                    ESTIMATE=pr.estimate,
                    LOWER=pr.lower,
                    UPPER=pr.upper,
                    UNIT="proportion",
                    METHOD=f"{what}; {ci}",
                    NOTE=note or pr.note,
                )
            )
    by_arm = _frame(rows)
    comp: list[dict[str, object]] = []
    pair = _arms(s["ARM"].to_list(), options)
    if pair is not None:
        exp_arm, ctl = pair
        for stat in dict.fromkeys(k[1] for k in counts):
            x1, n1 = counts[(exp_arm, stat)]
            x2, n2 = counts[(ctl, stat)]
            d = newcombe_difference(x1, n1, x2, n2, options.conf_level)
            comp.append(
                _row(
                    f"{exp_arm} vs {ctl}",
                    "RESPONSE",
                    f"{stat}_DIFF",
                    N=n1 + n2,
                    X=x1 + x2,
                    ESTIMATE=d.estimate,
                    LOWER=d.lower,
                    UPPER=d.upper,
                    UNIT="difference in proportions",
                    METHOD=d.method,
                    NOTE=d.note,
                )
            )
    return by_arm, _frame(comp)


def at_risk_table(adtte: pl.DataFrame, months: Sequence[float]) -> pl.DataFrame:
    """Numbers at risk (follow-up >= t) per arm and PARAMCD at the given months, as data."""
    adtte = _check_adtte(adtte)
    rows = []
    for (param, arm), grp in adtte.group_by(["PARAMCD", "ARM"], maintain_order=True):
        t = np.sort(grp["AVAL"].to_numpy())
        days = np.asarray(months, dtype=float) * DAYS_PER_MONTH
        at = t.size - np.searchsorted(t, days, side="left")
        for m, d, k in zip(months, days, at, strict=True):
            rows.append(
                {
                    "PARAMCD": str(param),
                    "ARM": str(arm),
                    "MONTH": float(m),
                    "DAY": float(d),
                    "N_RISK": int(k),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "PARAMCD": pl.Utf8,
            "ARM": pl.Utf8,
            "MONTH": pl.Float64,
            "DAY": pl.Float64,
            "N_RISK": pl.Int64,
        },
    )
