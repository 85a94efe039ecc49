"""Hypothesis invariants of the Kaplan-Meier estimator, the log-rank test and the Cox model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.endpoints.cox import cox_ph
from hcctrial.endpoints.km import kaplan_meier
from hcctrial.endpoints.logrank import logrank_test
from hcctrial.errors import InputError

subjects = st.lists(
    st.tuples(st.integers(0, 60), st.booleans(), st.booleans()), min_size=1, max_size=60
)


@settings(max_examples=150, deadline=None)
@given(subjects, st.sampled_from(["log", "log-log", "plain"]))
def test_km_non_increasing_within_unit_interval(
    rows: list[tuple[int, bool, bool]], conf_type: str
) -> None:
    t = np.array([r[0] for r in rows], float)
    e = np.array([r[1] for r in rows], int)
    fit = kaplan_meier(t, e, conf_type=conf_type)
    assert np.all(np.diff(fit.surv) <= 0)
    assert np.all((fit.surv >= 0) & (fit.surv <= 1))
    ok = ~np.isnan(fit.lower)
    assert np.all(fit.lower[ok] <= fit.surv[ok] + 1e-12)
    assert np.all((fit.upper[ok] >= fit.surv[ok] - 1e-12) & (fit.upper[ok] <= 1))
    assert int(fit.n_event.sum() + fit.n_censor.sum()) == len(rows)


@settings(max_examples=150, deadline=None)
@given(subjects, st.integers(1, 20))
def test_censored_follow_up_after_last_event_changes_nothing_earlier(
    rows: list[tuple[int, bool, bool]], extra: int
) -> None:
    """Censored follow-up after the last event never changes the curve up to that event.

    Read literally ("add a new censored subject") the property is false: a new subject is at
    risk at every earlier time and enlarges each n_j (hypothesis found [t=0 event] -> S drops to
    0, with one more subject to 0.5). What holds, and is tested: extending the follow-up of
    subjects censored after the last event, or adding censored time to such a subject, leaves
    S, its variance and the median at and before the last event unchanged.
    """
    t = np.array([r[0] for r in rows], float)
    e = np.array([r[1] for r in rows], int)
    last_event = t[e == 1].max() if e.any() else -1.0
    moved = t.copy()
    late_censored = (e == 0) & (t >= last_event)
    moved[late_censored] += extra
    # the subjects censored exactly at the last event time stay at risk there (time >= t)
    before, after = kaplan_meier(t, e), kaplan_meier(moved, e)
    keep_b = before.time <= last_event
    keep_a = after.time <= last_event
    np.testing.assert_array_equal(after.time[keep_a], before.time[keep_b])
    np.testing.assert_array_equal(after.surv[keep_a], before.surv[keep_b])
    np.testing.assert_array_equal(after.se_log[keep_a], before.se_log[keep_b])
    np.testing.assert_array_equal(after.n_risk[keep_a], before.n_risk[keep_b])
    med_b = before.median()
    if med_b.estimate is not None and med_b.estimate < last_event:
        assert after.median().estimate == med_b.estimate


@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(max_examples=100, deadline=None)
@given(subjects, st.randoms(use_true_random=False))
def test_permuting_rows_changes_nothing(rows: list[tuple[int, bool, bool]], rnd: object) -> None:
    t = np.array([r[0] for r in rows], float)
    e = np.array([r[1] for r in rows], int)
    g = np.array(["A" if r[2] else "B" for r in rows])
    perm = np.arange(t.size)
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    a, b = kaplan_meier(t, e), kaplan_meier(t[perm], e[perm])
    np.testing.assert_array_equal(a.surv, b.surv)
    np.testing.assert_array_equal(a.n_risk, b.n_risk)
    assert a.median() == b.median()
    la, lb = logrank_test(t, e, g), logrank_test(t[perm], e[perm], g[perm])
    assert la.chisq == lb.chisq or (
        la.chisq is not None and lb.chisq is not None and np.isclose(la.chisq, lb.chisq, rtol=1e-10)
    )
    x = (g == "A").astype(float)
    try:
        ca = cox_ph(t, e, {"arm": x})
    except InputError:
        return
    cb = cox_ph(t[perm], e[perm], {"arm": x[perm]})
    np.testing.assert_allclose(ca.coef, cb.coef, rtol=1e-8, atol=1e-10)
    # a fit that is returned is a finite estimate (degenerate data raise NotEstimableError)
    assert np.all(np.isfinite([*ca.coef, *ca.se, *ca.hr_lower, *ca.hr_upper, ca.lrt, ca.score]))
    assert all(s > 0 for s in ca.se)


@settings(max_examples=100, deadline=None)
@given(subjects)
def test_counting_and_sorting_paths_agree(rows: list[tuple[int, bool, bool]]) -> None:
    """Whole-number times are grouped by counting (km.integer_times), others by sorting.

    Shifting every time by 0.5 sends the same data down the sorting path: the curve, the risk
    sets and the log-rank statistic must be the same, the times shifted by 0.5.
    """
    t = np.array([r[0] for r in rows], float)
    e = np.array([r[1] for r in rows], int)
    g = np.array(["A" if r[2] else "B" for r in rows])
    a, b = kaplan_meier(t, e), kaplan_meier(t + 0.5, e)
    np.testing.assert_array_equal(a.time + 0.5, b.time)
    np.testing.assert_array_equal(a.surv, b.surv)
    np.testing.assert_array_equal(a.n_risk, b.n_risk)
    np.testing.assert_array_equal(a.se_log, b.se_log)
    la, lb = logrank_test(t, e, g), logrank_test(t + 0.5, e, g)
    assert (la.chisq is None) == (lb.chisq is None)
    if la.chisq is not None and lb.chisq is not None:
        assert np.isclose(la.chisq, lb.chisq, rtol=1e-12)
    np.testing.assert_allclose(la.exp, lb.exp, rtol=1e-12)
