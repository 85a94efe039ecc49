"""The one tabulation behind Kaplan-Meier and log-rank (``hcctrial.endpoints.counts``).

Per-arm fits from one (time, arm, event) tabulation must equal fits of each arm's rows on their
own, and the log-rank test from the same table must equal ``logrank_test`` (which is checked
against R ``survdiff`` in ``test_logrank_cox_against_r.py``), on both the counting path (whole
numbers) and the sorting path (other times).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.endpoints import (
    kaplan_meier,
    kaplan_meier_by_group,
    logrank_from_table,
    logrank_test,
    tabulate,
)
from hcctrial.errors import InputError

rows_st = st.lists(
    st.tuples(st.integers(0, 40), st.booleans(), st.sampled_from(["A", "B", "C"])),
    min_size=1,
    max_size=50,
)


def test_hand_table() -> None:
    # times 1, 2, 2, 3; events 1, 1, 0, 1; arms A, B, B, A:
    # time 1: A 1 subject 1 event; time 2: B 2 subjects 1 event; time 3: A 1 subject 1 event
    tab = tabulate([1, 2, 2, 3], [1, 1, 0, 1], ["A", "B", "B", "A"])
    assert tab.groups == ("A", "B")
    assert tab.time.tolist() == [1.0, 2.0, 3.0]
    assert tab.n_total.tolist() == [[1, 0], [0, 2], [1, 0]]
    assert tab.n_event.tolist() == [[1, 0], [0, 1], [1, 0]]
    assert tab.at_risk().tolist() == [[2, 2], [1, 2], [1, 0]]
    assert tab.n.tolist() == [2, 2]


@settings(max_examples=150, deadline=None)
@given(rows_st, st.sampled_from([0.0, 0.5]))
def test_by_group_equals_each_arm_alone(rows: list[tuple[int, bool, str]], shift: float) -> None:
    t = np.array([r[0] for r in rows], float) + shift  # 0.5: the sorting path
    e = np.array([r[1] for r in rows], int)
    g = np.array([r[2] for r in rows])
    fits = kaplan_meier_by_group(t, e, g, "log-log")
    assert sorted(fits) == sorted(set(g.tolist()))
    for arm, fit in fits.items():
        alone = kaplan_meier(t[g == arm], e[g == arm], "log-log")
        np.testing.assert_array_equal(fit.time, alone.time)
        np.testing.assert_array_equal(fit.n_risk, alone.n_risk)
        np.testing.assert_array_equal(fit.surv, alone.surv)
        np.testing.assert_array_equal(fit.lower, alone.lower)
        assert fit.median() == alone.median()
    table = tabulate(t, e, g)
    a, b = logrank_from_table(table), logrank_test(t, e, g)
    assert a == b


def test_small_integer_arm_codes_with_a_gap() -> None:
    # arms coded 0 and 2 (no 1): the empty level is dropped, not reported as a group
    t = np.array([3.0, 5.0, 7.0, 2.0])
    e = np.array([1, 0, 1, 1])
    x = np.array([0, 2, 2, 0])
    assert logrank_test(t, e, x).groups == ("0", "2")
    assert sorted(kaplan_meier_by_group(t, e, x)) == ["0", "2"]
    strat = logrank_test(t, e, x, strata=np.array(["s", "s", "u", "u"]))
    assert strat.groups == ("0", "2") and strat.strata == ("s", "u")


def test_missing_arm_names_row() -> None:
    with pytest.raises(InputError, match=r"row 2.*missing group"):
        tabulate([1, 2], [1, 0], ["A", None])
