"""Exact binomial and score intervals against R, and Newcombe's published worked examples."""

from __future__ import annotations

from typing import Any

import pytest
from endpoints_ref import close

from hcctrial.endpoints.rates import clopper_pearson, newcombe_difference, proportion, wilson
from hcctrial.errors import InputError


def test_clopper_pearson_against_R_binom_test(more_ref: dict[str, Any]) -> None:
    """R: binom.test(x, n)$conf.int and binom.test(x, n, conf.level = 0.9)$conf.int."""
    for case in more_ref["binom_test"]:
        close(clopper_pearson(case["x"], case["n"]), [case["lower"], case["upper"]])
        close(clopper_pearson(case["x"], case["n"], 0.9), [case["lower90"], case["upper90"]])


def test_wilson_against_R_prop_test(more_ref: dict[str, Any]) -> None:
    """R: prop.test(x, n, correct = FALSE)$conf.int."""
    for case in more_ref["prop_test_wilson"]:
        close(wilson(case["x"], case["n"]), [case["lower"], case["upper"]])


# Newcombe RG (1998). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Stat Med 17:873-890, Table II, method 10 (score, no CC).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_difference_against_published_table(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    res = newcombe_difference(*counts)
    assert res.lower is not None and res.upper is not None
    assert round(res.lower, 4) == pytest.approx(expected[0], abs=1e-9)
    assert round(res.upper, 4) == pytest.approx(expected[1], abs=1e-9)
    assert "Newcombe" in res.method


def test_empty_denominators_are_defined_not_nan() -> None:
    p = proportion(0, 0)
    assert p.estimate is None and "no subjects" in p.note
    d = newcombe_difference(1, 5, 0, 0)
    assert d.estimate is None and "not estimable" in d.note
    with pytest.raises(InputError, match="0 <= x <= n"):
        proportion(6, 5)
