"""3+3: decision rules and exact operating characteristics against closed forms.

Closed forms (Storer, Biometrics 1989;45:925-937; Lin and Shih, Biostatistics 2001;2:203-215):
a level with true DLT rate p is passed (escalated from) with probability
``a(p) = (1-p)^3 + 3 p (1-p)^2 (1-p)^3`` (0/3, or 1/3 then 0/3); the familiar table of
escalation probabilities 0.91, 0.71, 0.49, 0.31, 0.17 for p = 0.1..0.5.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputError
from hcctrial.safety.three_plus_three import three_plus_three_decision, three_plus_three_oc


def _a(p: float) -> float:
    return (1 - p) ** 3 + 3 * p * (1 - p) ** 5


def _c(p: float) -> float:
    """At most 1 DLT in 3 (confirming a 0/3 level with 3 more)."""
    return (1 - p) ** 3 + 3 * p * (1 - p) ** 2


@pytest.mark.parametrize(
    ("p", "published"), [(0.1, 0.91), (0.2, 0.71), (0.3, 0.49), (0.4, 0.31), (0.5, 0.17)]
)
def test_escalation_probability_table(p: float, published: float) -> None:
    """One level then a non-toxic one: P(select level 2) = a(p1), to the 2 decimals printed."""
    oc = three_plus_three_oc([p, 0.0], deescalate=False)
    assert oc.table["PSELECT"][1] == pytest.approx(_a(p), abs=1e-12)
    assert round(oc.table["PSELECT"][1], 2) == published


def _closed_form_no_deescalation(p: list[float]) -> tuple[np.ndarray, float, float]:
    k = len(p)
    a = [_a(x) for x in p]
    reach = np.cumprod([1.0, *a[:-1]])  # P(level j is reached)
    sel = np.array([reach[j] * a[j] * (1 - a[j + 1]) for j in range(k - 1)] + [reach[-1] * a[-1]])
    p_none = 1 - a[0]
    # Expected patients: 3 at each level reached, 3 more after exactly 1/3.
    en = float(sum(reach[j] * (3 + 3 * 3 * p[j] * (1 - p[j]) ** 2) for j in range(k)))
    return sel, p_none, en


def _closed_form_deescalation(p: list[float]) -> np.ndarray:
    """P(MTD = level i) with de-escalation: escalation stops at m (fails), then levels m-1,
    m-2, ... are confirmed in turn; a passed level with 6 patients is the MTD, one with 3 is
    expanded and is the MTD with probability c(p) (Lin and Shih 2001, A+B with A=B=3)."""
    k = len(p)
    a = [_a(x) for x in p]
    a0 = [(1 - x) ** 3 for x in p]
    six = [(a[j] - a0[j]) / a[j] for j in range(k)]  # P(6 patients | passed)
    succ = [six[j] + a0[j] / a[j] * _c(p[j]) for j in range(k)]  # confirmed as MTD | passed
    fail = [a0[j] / a[j] * (1 - _c(p[j])) for j in range(k)]  # 3 more give >= 2 DLT | passed
    sel = np.zeros(k)
    for m in range(1, k):  # level m is the first to fail
        stop_at_m = np.prod(a[:m]) * (1 - a[m])
        for i in range(m - 1, -1, -1):
            sel[i] += stop_at_m * succ[i] * np.prod(fail[i + 1 : m])
    sel[k - 1] += np.prod(a)  # all levels passed: highest selected
    return sel


@pytest.mark.parametrize(
    "p", [[0.05, 0.15, 0.3], [0.1, 0.2, 0.35, 0.5], [0.02, 0.05, 0.1, 0.25, 0.45], [0.3, 0.6]]
)
def test_exact_oc_without_deescalation_matches_closed_form(p: list[float]) -> None:
    oc = three_plus_three_oc(p, deescalate=False)
    sel, p_none, en = _closed_form_no_deescalation(p)
    np.testing.assert_allclose(oc.table["PSELECT"].to_numpy(), sel, atol=1e-12)
    assert oc.p_none == pytest.approx(p_none, abs=1e-12)
    assert oc.expected_n == pytest.approx(en, abs=1e-10)
    assert oc.table["PSELECT"].sum() + oc.p_none == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("p", [[0.05, 0.15, 0.3], [0.1, 0.2, 0.35, 0.5], [0.2, 0.4, 0.6]])
def test_exact_oc_with_deescalation_matches_closed_form(p: list[float]) -> None:
    oc = three_plus_three_oc(p, deescalate=True)
    closed = _closed_form_deescalation(p)
    np.testing.assert_allclose(oc.table["PSELECT"].to_numpy(), closed, atol=1e-12)
    # No dose: the lowest level fails at once, or fails its confirmation after de-escalation.
    assert oc.p_none == pytest.approx(1 - closed.sum(), abs=1e-12)
    assert oc.p_none > 1 - _a(p[0])


def test_expected_dlts_are_rate_times_patients() -> None:
    """Each patient at level j has a DLT with probability p_j, so E[DLT_j] = p_j E[N_j]."""
    p = [0.1, 0.25, 0.4]
    oc = three_plus_three_oc(p)
    np.testing.assert_allclose(oc.table["EDLT"], np.array(p) * oc.table["EN"], rtol=1e-12)


@pytest.mark.parametrize(
    ("n", "y", "cur", "action", "level", "mtd"),
    [
        ([3, 0, 0], [0, 0, 0], 0, "escalate", 1, None),  # 0/3: escalate
        ([3, 0, 0], [1, 0, 0], 0, "stay", 0, None),  # 1/3: 3 more
        ([6, 0, 0], [1, 0, 0], 0, "escalate", 1, None),  # 1/6: escalate
        ([6, 3, 0], [1, 2, 0], 1, "stop", None, 0),  # 2/3 above a 6-patient level: MTD below
        ([3, 3, 0], [0, 2, 0], 1, "de-escalate", 0, None),  # level below has 3: expand it
        ([6, 3, 0], [0, 2, 0], 0, "stop", None, 0),  # confirmed 0/6 under a toxic level
        ([6, 3, 0], [2, 2, 0], 0, "stop", None, None),  # lowest level too toxic: no MTD
        ([3, 0, 0], [2, 0, 0], 0, "stop", None, None),
        ([3, 3, 6], [0, 0, 1], 2, "stop", None, 2),  # highest level passed
        ([3, 2, 0], [0, 0, 0], 1, "stay", 1, None),  # cohort incomplete
    ],
)
def test_decisions(
    n: list[int], y: list[int], cur: int, action: str, level: int | None, mtd: int | None
) -> None:
    dec = three_plus_three_decision(n, y, cur)
    assert (dec.action, dec.level, dec.mtd) == (action, level, mtd), dec.rule


def test_without_deescalation_the_lower_level_is_mtd_as_it_stands() -> None:
    dec = three_plus_three_decision([3, 3, 0], [0, 2, 0], 1, deescalate=False)
    assert (dec.action, dec.mtd) == ("stop", 0)


def test_more_than_six_patients_is_refused() -> None:
    with pytest.raises(InputError, match="at most 6"):
        three_plus_three_decision([9, 0], [1, 0], 0)


@settings(max_examples=40, deadline=None)
@given(
    p=st.lists(st.floats(0.0, 0.9), min_size=2, max_size=4).map(sorted),
    bump=st.floats(0.0, 0.1),
)
def test_more_toxic_first_level_never_raises_escalation(p: list[float], bump: float) -> None:
    """Monotonicity: a more toxic lowest level never makes selecting no dose less likely,
    and the probabilities always sum to 1."""
    worse = [min(p[0] + bump, 1.0), *p[1:]]
    a, b = three_plus_three_oc(p), three_plus_three_oc(sorted(worse))
    assert b.p_none >= a.p_none - 1e-12
    assert a.table["PSELECT"].sum() + a.p_none == pytest.approx(1.0, abs=1e-9)
