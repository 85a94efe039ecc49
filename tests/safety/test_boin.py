"""BOIN (Liu and Yuan, J R Stat Soc C 2015;64:507-523): boundaries, elimination, decisions,
isotonic MTD selection, and the vectorised simulation against a per-trial loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from hcctrial.errors import InputError
from hcctrial.safety.boin import (
    boin_boundaries,
    boin_decision,
    boin_decision_table,
    elimination_limits,
    isotonic_mtd,
)
from hcctrial.safety.boin_simulation import (
    operating_characteristics,
    simulate_boin,
    simulate_boin_loop,
)

# Liu and Yuan 2015, Table 1 (phi1 = 0.6 phi, phi2 = 1.4 phi), printed to 3 decimals (some
# entries rounded, some truncated: 0.1178 -> 0.118, 0.3585 -> 0.358): target -> (lambda_e,
# lambda_d). Checked to within 0.001.
PUBLISHED = {
    0.15: (0.118, 0.179),
    0.20: (0.157, 0.238),
    0.25: (0.197, 0.298),
    0.30: (0.236, 0.358),
    0.35: (0.276, 0.419),
    0.40: (0.316, 0.479),
}


@pytest.mark.parametrize("target", sorted(PUBLISHED))
def test_boundaries_match_the_published_table(target: float) -> None:
    lam_e, lam_d = boin_boundaries(target)
    pub_e, pub_d = PUBLISHED[target]
    assert abs(lam_e - pub_e) < 0.001
    assert abs(lam_d - pub_d) < 0.001


def test_decision_table_target_030() -> None:
    """BOIN R ``get.boundary(target = 0.3, ncohort = 10, cohortsize = 3)`` decision table."""
    table = boin_decision_table(0.3, 30, cohort_size=3)
    assert table["N"].to_list() == list(range(3, 31, 3))
    assert table["ESCALATE_LE"].to_list() == [0, 1, 2, 2, 3, 4, 4, 5, 6, 7]
    assert table["DEESCALATE_GE"].to_list() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert table["ELIMINATE_GE"].to_list() == [3, 4, 5, 7, 8, 9, 10, 11, 12, 14]


def test_elimination_limits_by_hand() -> None:
    """n = 3: Pr(p > 0.3 | Beta(4, 1)) = 1 - 0.3^4 = 0.9919 > 0.95 eliminates at 3 DLTs;
    Beta(3, 2): 1 - 0.3^3 (4 - 3 x 0.3) = 0.9163 does not, so the limit is 3; below 3
    patients nothing eliminates."""
    assert beta.sf(0.3, 4, 1) == pytest.approx(1 - 0.3**4)
    assert beta.sf(0.3, 3, 2) == pytest.approx(1 - 0.3**3 * (4 - 0.9))
    lim = elimination_limits(0.3, 6)
    assert np.isinf(lim[:3]).all() and lim[3] == 3


def test_bad_targets() -> None:
    with pytest.raises(InputError):
        boin_boundaries(1.2)
    with pytest.raises(InputError):
        boin_boundaries(0.3, p_saf=0.35)


@pytest.mark.parametrize(
    ("n", "y", "cur", "action", "level"),
    [
        ([3, 0, 0], [0, 0, 0], 0, "escalate", 1),  # 0/3 = 0 <= 0.236
        ([3, 3, 0], [0, 1, 0], 1, "stay", 1),  # 1/3 = 0.333 in (0.236, 0.359)
        ([3, 3, 0], [0, 2, 0], 1, "de-escalate", 0),  # 2/3 >= 0.359
        ([6, 0, 0], [3, 0, 0], 0, "stay", 0),  # de-escalation at the lowest level: stay
        ([3, 6, 3], [0, 1, 0], 2, "stay", 2),  # escalation at the highest level: stay
        ([3, 3, 0], [0, 3, 0], 1, "de-escalate", 0),  # 3/3 eliminates levels 2 and 3
        ([3, 0, 0], [3, 0, 0], 0, "stop", None),  # lowest level eliminated: stop, no MTD
    ],
)
def test_decisions(n: list[int], y: list[int], cur: int, action: str, level: int | None) -> None:
    dec = boin_decision(n, y, cur, 0.3)
    assert (dec.action, dec.level) == (action, level), dec.rule


def test_eliminated_level_is_never_recommended_again() -> None:
    """Level 2 eliminated by 3/3; later 0/9 at level 1 would escalate but level 2 is closed."""
    dec = boin_decision([9, 3, 0], [0, 3, 0], 0, 0.3)
    assert dec.action == "stay" and dec.level == 0 and dec.eliminated == (1, 2)
    end = boin_decision([27, 3, 0], [2, 3, 0], 0, 0.3, max_n=30)
    assert end.action == "stop" and end.mtd == 0


def _pava(x: list[float], w: list[float]) -> list[float]:
    """Textbook weighted pool-adjacent-violators (a scalar reference)."""
    blocks = [[xi, wi, 1] for xi, wi in zip(x, w, strict=True)]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            a, b = blocks[i], blocks[i + 1]
            wt = a[1] + b[1]
            blocks[i] = [(a[0] * a[1] + b[0] * b[1]) / wt, wt, a[2] + b[2]]
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return [v for v, _, c in blocks for _ in range(c)]


@settings(max_examples=80, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(1, 12), st.floats(0, 1)), min_size=1, max_size=6),
    target=st.sampled_from([0.2, 0.25, 0.3]),
)
def test_isotonic_selection_matches_scalar_pava(
    data: list[tuple[int, float]], target: float
) -> None:
    n = np.array([d[0] for d in data])
    y = np.array([round(d[1] * d[0]) for d in data])
    x = (y + 0.05) / (n + 0.1)
    var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 1.1))
    iso = np.array(_pava(list(x), list(1 / var))) + np.arange(len(n)) * 1e-10
    expected = int(np.argmin(np.abs(iso - target)))
    got = isotonic_mtd(n, y, np.ones(len(n), dtype=bool), target)
    assert int(got[0]) == expected


def test_isotonic_tie_rules() -> None:
    """Equal estimates below the target: the higher level; above it: the lower level."""
    n = np.array([[6, 6, 0], [6, 6, 0]])
    y = np.array([[0, 0, 0], [5, 5, 0]])
    got = isotonic_mtd(n, y, np.ones((2, 3), dtype=bool), 0.3)
    assert got.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("p", "cohort", "max_n", "earlystop"),
    [
        ([0.05, 0.15, 0.3], 3, 30, None),
        ([0.1, 0.25, 0.45, 0.6], 3, 24, None),
        ([0.4, 0.55, 0.7], 3, 30, None),
        ([0.02, 0.1, 0.2, 0.3, 0.5], 2, 21, 9),
    ],
)
def test_vectorised_equals_per_trial_loop(
    p: list[float], cohort: int, max_n: int, earlystop: int | None
) -> None:
    """On shared uniforms each simulated trial is identical to the loop through
    ``boin_decision`` (selected level, patients and DLTs per level, early stop)."""
    u = np.random.default_rng(7).random((400, max_n))
    kw = {"cohort_size": cohort, "max_n": max_n, "n_earlystop": earlystop, "uniforms": u}
    vec = simulate_boin(p, 0.3, **kw)  # type: ignore[arg-type]
    loop = simulate_boin_loop(p, 0.3, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(vec.selected, loop.selected)
    np.testing.assert_array_equal(vec.n, loop.n)
    np.testing.assert_array_equal(vec.ndlt, loop.ndlt)
    np.testing.assert_array_equal(vec.early_stop, loop.early_stop)


def test_operating_characteristics() -> None:
    sim = simulate_boin([0.05, 0.15, 0.3], 0.3, n_trials=20_000, seed=3)
    table, overall = operating_characteristics(sim)
    assert table["PSELECT"].sum() + overall["p_none"] == pytest.approx(100.0)
    assert table["MEAN_N"].sum() == pytest.approx(overall["mean_n"])
    # With the target at the top level, it is selected most often and treats most patients.
    assert table["PSELECT"].arg_max() == 2 and table["MEAN_N"].arg_max() == 2
    # E[DLT at level j] = p_j E[N_j] up to Monte Carlo error (4 SE).
    np.testing.assert_allclose(table["MEAN_DLT"], table["TRUEP"] * table["MEAN_N"], rtol=0.03)
    sel = table["PSELECT"].to_numpy() / 100
    np.testing.assert_allclose(table["PSELECT_SE"], 100 * np.sqrt(sel * (1 - sel) / 20_000))


def test_all_levels_too_toxic_stops_early() -> None:
    sim = simulate_boin([0.6, 0.7, 0.8], 0.3, n_trials=5000, seed=1)
    _, overall = operating_characteristics(sim)
    assert overall["p_early_stop"] > 80 and overall["p_none"] >= overall["p_early_stop"]
