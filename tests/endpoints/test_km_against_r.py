"""Kaplan-Meier tables, quantiles, landmarks and numbers at risk against R survival 3.5.3."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from endpoints_ref import close, read

from hcctrial.endpoints.km import kaplan_meier, numbers_at_risk

LUNG_KEYS = {
    "log": "survfit_conf_log",
    "log-log": "survfit_conf_loglog",
    "plain": "survfit_conf_plain",
}


def _lung() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = read("lung.csv")
    return df["time"].to_numpy(), df["status"].to_numpy(), df["sex"].to_numpy()


def _check_table(fit: Any, ref: dict[str, Any]) -> None:
    close(fit.time, ref["time"])
    close(fit.n_risk, ref["n_risk"])
    close(fit.n_event, ref["n_event"])
    close(fit.n_censor, ref["n_censor"])
    close(fit.surv, ref["surv"])
    close(fit.std_err, ref["std_err"])
    close(fit.lower, ref["lower"])
    close(fit.upper, ref["upper"])


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_lung_overall_km_table_against_R(lung_ref: dict[str, Any], conf_type: str) -> None:
    """R: summary(survfit(Surv(time, status) ~ 1, lung, conf.type = ct), censored = TRUE)."""
    t, e, _ = _lung()
    ref = lung_ref[LUNG_KEYS[conf_type]]["overall"]
    fit = kaplan_meier(t, e, conf_type=conf_type)
    _check_table(fit, ref["km_table"])
    med = fit.median()
    assert med.conf_type == conf_type
    close(
        [med.estimate, med.lower, med.upper],
        [ref["median"], ref["median_lower"], ref["median_upper"]],
    )
    lm = fit.survival_at(ref["landmarks"]["time"])
    for key in ("n_risk", "surv", "std_err", "lower", "upper"):
        close(lm[key], ref["landmarks"][key])


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_lung_by_sex_against_R(lung_ref: dict[str, Any], conf_type: str) -> None:
    """R: survfit(Surv(time, status) ~ sex, lung, conf.type = ct): per-stratum tables, medians."""
    t, e, g = _lung()
    ref = lung_ref[LUNG_KEYS[conf_type]]["by_group"]
    strata = np.asarray(ref["km_table"]["stratum"])
    lstr = np.asarray(ref["landmarks"]["stratum"])
    for i, sex in enumerate((1, 2)):
        fit = kaplan_meier(t[g == sex], e[g == sex], conf_type=conf_type)
        sel = strata == f"grp={sex}"
        _check_table(fit, {k: np.asarray(v)[sel].tolist() for k, v in ref["km_table"].items()})
        med = fit.median()
        close(
            [med.estimate, med.lower, med.upper],
            [ref["median"][i], ref["median_lower"][i], ref["median_upper"][i]],
        )
        lsel = lstr == f"grp={sex}"
        lm = fit.survival_at(np.asarray(ref["landmarks"]["time"])[lsel])
        for key in ("n_risk", "surv", "std_err", "lower", "upper"):
            close(lm[key], np.asarray(ref["landmarks"][key])[lsel])


def test_lung_numbers_at_risk_direct(lung_ref: dict[str, Any]) -> None:
    """R: sapply(times, function(t) sum(d$time >= t)) per sex and overall."""
    t, _, g = _lung()
    times = lung_ref["landmark_times"]
    close(numbers_at_risk(t, times), lung_ref["n_at_risk_direct"]["all"])
    close(numbers_at_risk(t[g == 1], times), lung_ref["n_at_risk_direct"]["1"])
    close(numbers_at_risk(t[g == 2], times), lung_ref["n_at_risk_direct"]["2"])


def _check_block(fit_data: tuple[np.ndarray, np.ndarray], block: dict[str, Any]) -> None:
    for conf_type, ref in block.items():
        fit = kaplan_meier(*fit_data, conf_type=conf_type)
        _check_table(fit, ref["km_table"])
        q = ref["quantiles"]
        for j, prob in enumerate(q["probs"]):
            got = fit.quantile(prob)
            close(
                [got.estimate, got.lower, got.upper],
                [q["quantile"][j], q["lower"][j], q["upper"][j]],
            )
        lm = fit.survival_at(ref["landmarks"]["time"])
        for key in ("n_risk", "surv", "std_err", "lower", "upper"):
            close(lm[key], ref["landmarks"][key])


@pytest.mark.parametrize(
    ("dataset", "block", "csv", "arm"),
    [
        ("veteran", "km_overall", "veteran.csv", None),
        ("veteran", "km_arm1", "veteran.csv", 1),
        ("ovarian", "km_overall", "ovarian.csv", None),
        ("lung_months", "km_overall", "lung_months.csv", None),
        ("km_half_interval", "km", "km_half_interval.csv", None),
        ("km_half_to_end", "km", "km_half_to_end.csv", None),
    ],
)
def test_more_km_against_R(
    more_ref: dict[str, Any], dataset: str, block: str, csv: str, arm: int | None
) -> None:
    """R (make_more_references.R): survfit tables, quantile(fit, c(.25,.5,.75)) with CIs, and
    summary(fit, times, extend = TRUE), for log, log-log and plain, on veteran, ovarian, a
    ties-heavy lung (months) and two curves sitting exactly at S = 0.5."""
    df = read(csv)
    if arm is not None:
        df = df.filter(df["arm"] == arm)
    _check_block((df["time"].to_numpy(), df["status"].to_numpy()), more_ref[dataset][block])


def test_midpoint_rule_hand_computed() -> None:
    """S = 0.5 on [3, 5): median (3 + 5) / 2 = 4; S = 0.5 from 2 to the last time 4: 3."""
    assert kaplan_meier([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 1, 0]).median().estimate == 4.0
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0]).median().estimate == 3.0


def test_zero_events_median_not_reached_with_reason() -> None:
    fit = kaplan_meier([5, 8, 13], [0, 0, 0])
    med = fit.median()
    assert med.estimate is None and med.upper is None
    assert "not reached" in med.note
    assert fit.events == 0 and np.all(fit.surv == 1.0)
    assert "no events" in fit.notes[0]
