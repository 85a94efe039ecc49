"""Zero events, one arm, rates beyond follow-up: defined results with a reason, never NaN."""

from __future__ import annotations

import polars as pl
import pytest

from hcctrial.endpoints.summary import (
    DAYS_PER_MONTH,
    AnalysisOptions,
    compare_arms,
    summarise_time_to_event,
)


def _adtte(aval: list[float], cnsr: list[int], arm: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "USUBJID": [f"S{i}" for i in range(len(aval))],
            "ARM": arm,
            "PARAMCD": "OS",
            "AVAL": aval,
            "CNSR": cnsr,
        }
    )


def _no_nan(df: pl.DataFrame) -> None:
    for col, dtype in df.schema.items():
        if dtype == pl.Float64:
            assert not df[col].is_nan().any(), col


def test_zero_events_in_both_arms() -> None:
    adtte = _adtte([100, 200, 300, 150, 250, 350], [1] * 6, ["A"] * 3 + ["B"] * 3)
    by_arm = summarise_time_to_event(adtte, AnalysisOptions())
    med = by_arm.filter(pl.col("STATISTIC") == "MEDIAN")
    assert med["ESTIMATE"].null_count() == 2
    assert all(n.startswith("not reached") for n in med["NOTE"])
    comp = compare_arms(adtte, AnalysisOptions())
    hr = comp.filter(pl.col("STATISTIC") == "HR").row(0, named=True)
    assert hr["ESTIMATE"] is None and "no events" in hr["NOTE"]
    lr = comp.filter(pl.col("STATISTIC") == "LOGRANK_P").row(0, named=True)
    assert lr["ESTIMATE"] is None and "no events" in lr["NOTE"]
    _no_nan(by_arm)
    _no_nan(comp)


def test_rate_beyond_follow_up_is_not_estimable_unless_zero() -> None:
    # arm A: follow-up ends at day 300 censored -> S(12 months) unknown;
    # arm B: everyone died by day 250 -> S(12 months) = 0 is known.
    adtte = _adtte([100, 200, 300, 150, 200, 250], [0, 0, 1, 0, 0, 0], ["A"] * 3 + ["B"] * 3)
    by_arm = summarise_time_to_event(adtte, AnalysisOptions())
    rate = {
        r["ARM"]: r for r in by_arm.filter(pl.col("STATISTIC") == "RATE_12M").iter_rows(named=True)
    }
    assert rate["A"]["ESTIMATE"] is None and "not estimable" in rate["A"]["NOTE"]
    assert rate["B"]["ESTIMATE"] == 0.0 and rate["B"]["N"] == 0
    # 6 months (182.6 days) is inside arm A's follow-up: 2/3 by hand (one death at day 100)
    six = by_arm.filter((pl.col("ARM") == "A") & (pl.col("STATISTIC") == "RATE_6M"))
    assert six["ESTIMATE"][0] == pytest.approx(2 / 3)
    assert 12 * DAYS_PER_MONTH > 300
    _no_nan(by_arm)


def test_both_median_transforms_are_stated() -> None:
    adtte = _adtte([10, 20, 30, 40, 50, 60], [0, 0, 1, 0, 0, 1], ["A"] * 6)
    by_arm = summarise_time_to_event(adtte, AnalysisOptions(conf_type="log-log"))
    main = by_arm.filter(pl.col("STATISTIC") == "MEDIAN").row(0, named=True)
    other = by_arm.filter(pl.col("STATISTIC") == "MEDIAN_CI_LOG").row(0, named=True)
    assert "log-log transform" in main["METHOD"] and "log transform" in other["METHOD"]
    assert main["ESTIMATE"] == other["ESTIMATE"]  # same median, different CI
    plain = summarise_time_to_event(adtte, AnalysisOptions(conf_type="plain"))
    assert not plain.filter(pl.col("STATISTIC").str.starts_with("MEDIAN_CI_")).height


def test_no_events_in_one_arm_gives_an_explained_hr_and_a_log_rank_test() -> None:
    # arm A: deaths at days 100, 200, 300; arm B: everyone censored, at risk throughout. The
    # Cox likelihood is monotone (the HR of A vs B is infinite): not estimable, with the reason;
    # the log-rank test is still defined (3 observed vs 1.5 expected in A, by hand:
    # at t=100: 6 at risk, 3 in A -> E_A = 0.5; t=200: 5 at risk, 2 in A -> 0.4;
    # t=300: 4 at risk, 1 in A -> 0.25; E_A = 1.15).
    adtte = _adtte([100, 200, 300, 400, 450, 500], [0, 0, 0, 1, 1, 1], ["A"] * 3 + ["B"] * 3)
    comp = compare_arms(adtte, AnalysisOptions(control_arm="B"))
    hr = comp.filter(pl.col("STATISTIC") == "HR").row(0, named=True)
    assert hr["ESTIMATE"] is None and "monotone likelihood" in hr["NOTE"]
    assert "+infinity" in hr["NOTE"]
    assert comp.filter(pl.col("STATISTIC") == "HR_PROFILE_CI").height == 0
    lr = comp.filter(pl.col("STATISTIC") == "LOGRANK_P").row(0, named=True)
    assert lr["ESTIMATE"] is not None and 0 < lr["ESTIMATE"] < 0.05
    _no_nan(comp)


def test_log_rank_by_hand_when_one_arm_has_no_events() -> None:
    """Same data: E_A = 3/6 + 2/5 + 1/4 = 1.15; V = 0.25 + 0.24 + 0.1875 = 0.6775 (the
    hypergeometric variance n_A n_B d (n - d) / (n^2 (n - 1)) summed over the three deaths);
    chi-square = (3 - 1.15)^2 / 0.6775."""
    from hcctrial.endpoints import logrank_test

    res = logrank_test([100, 200, 300, 400, 450, 500], [1, 1, 1, 0, 0, 0], list("AAABBB"))
    assert res.exp[0] == pytest.approx(1.15, rel=1e-12)
    assert res.var[0][0] == pytest.approx(0.6775, rel=1e-12)
    assert res.chisq == pytest.approx((3 - 1.15) ** 2 / 0.6775, rel=1e-12)


def test_median_on_a_plateau_at_one_half_up_to_rounding_follows_r() -> None:
    """17 events at days 1..17, then 17 censored at day 100: S(t) is 0.5 from day 17 on, but the
    product limit gives 0.4999999999999999 in floating point. R survival 3.5.3:
    ``quantile(survfit(Surv(c(1:17, rep(100, 17)), c(rep(1, 17), rep(0, 17))) ~ 1), 0.5)``
    gives 58.5 (the midpoint of the plateau to the last follow-up), lower limit 13."""
    import numpy as np

    from hcctrial.endpoints.km import kaplan_meier

    time = np.r_[np.arange(1, 18), np.full(17, 100.0)]
    event = np.r_[np.ones(17), np.zeros(17)]
    fit = kaplan_meier(time, event)
    assert fit.surv[-1] != 0.5  # the rounding this test is about
    median = fit.median()
    assert median.estimate == 58.5
    assert median.lower == 13
