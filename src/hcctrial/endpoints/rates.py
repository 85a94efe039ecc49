"""Proportions with exact confidence intervals and the difference between two arms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, norm

from hcctrial.errors import InputError

__all__ = [
    "Proportion",
    "ProportionDifference",
    "clopper_pearson",
    "newcombe_difference",
    "proportion",
    "wilson",
]


@dataclass(frozen=True)
class Proportion:
    """``x`` of ``n`` with a two-sided CI; ``method`` names the interval."""

    x: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None
    method: str
    conf_level: float
    note: str = ""


@dataclass(frozen=True)
class ProportionDifference:
    """``p1 - p2`` with a two-sided CI (``method`` names it)."""

    x1: int
    n1: int
    x2: int
    n2: int
    estimate: float | None
    lower: float | None
    upper: float | None
    method: str
    conf_level: float
    note: str = ""


def _check(x: int, n: int) -> None:
    if int(n) != n or int(x) != x or n < 0 or x < 0 or x > n:
        raise InputError("a proportion needs integers 0 <= x <= n", value=(x, n))


def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    r"""Clopper-Pearson exact interval (Clopper & Pearson 1934, Biometrika 26:404).

    .. math::

        L = B^{-1}(\alpha/2;\, x, n - x + 1), \qquad U = B^{-1}(1 - \alpha/2;\, x + 1, n - x)

    with L = 0 when x = 0 and U = 1 when x = n. Identical to R ``binom.test(x, n)$conf.int``
    and SAS PROC FREQ ``BINOMIAL(EXACT)``.

    Examples
    --------
    >>> [round(v, 6) for v in clopper_pearson(7, 20)]   # R: binom.test(7, 20)$conf.int
    [0.153909, 0.592189]
    """
    _check(x, n)
    if n == 0:
        raise InputError("no subjects: a proportion of 0 subjects is not defined", value=(x, n))
    a = 1.0 - conf_level
    lower = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lower, upper


def wilson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval without continuity correction (Wilson 1927, JASA 22:209).

    .. math::

        \frac{2np + z^2 \pm z\sqrt{z^2 + 4np(1-p)}}{2(n + z^2)}

    Equals R ``prop.test(x, n, correct = FALSE)$conf.int``.
    """
    _check(x, n)
    if n == 0:
        raise InputError("no subjects: a proportion of 0 subjects is not defined", value=(x, n))
    z = float(norm.ppf(1 - (1 - conf_level) / 2))
    p = x / n
    centre = 2 * n * p + z * z
    half = z * np.sqrt(z * z + 4 * n * p * (1 - p))
    den = 2 * (n + z * z)
    return float((centre - half) / den), float((centre + half) / den)


def proportion(x: int, n: int, conf_level: float = 0.95) -> Proportion:
    """A rate with its Clopper-Pearson exact CI; ``n = 0`` gives a defined empty result."""
    _check(x, n)
    if n == 0:
        return Proportion(
            x,
            n,
            None,
            None,
            None,
            "Clopper-Pearson exact",
            conf_level,
            note="no subjects in the denominator",
        )
    lo, hi = clopper_pearson(x, n, conf_level)
    return Proportion(x, n, x / n, lo, hi, "Clopper-Pearson exact", conf_level)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95
) -> ProportionDifference:
    r"""Newcombe hybrid score interval for ``p1 - p2`` (Newcombe 1998, Stat Med 17:873, method 10).

    With Wilson limits :math:`(l_i, u_i)` for each arm:

    .. math::

        L = \hat d - \sqrt{(p_1 - l_1)^2 + (u_2 - p_2)^2}, \qquad
        U = \hat d + \sqrt{(u_1 - p_1)^2 + (p_2 - l_2)^2}

    Checked against Newcombe's Table II (e.g. 56/70 vs 48/80: 0.0524 to 0.3339).
    """
    _check(x1, n1)
    _check(x2, n2)
    method = "Newcombe hybrid score (method 10, Wilson without continuity correction)"
    if n1 == 0 or n2 == 0:
        return ProportionDifference(
            x1,
            n1,
            x2,
            n2,
            None,
            None,
            None,
            method,
            conf_level,
            note="an arm has no subjects: difference not estimable",
        )
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, conf_level)
    l2, u2 = wilson(x2, n2, conf_level)
    d = p1 - p2
    lower = d - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    upper = d + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return ProportionDifference(x1, n1, x2, n2, d, lower, upper, method, conf_level)
