"""The 3+3 design: decision rules and exact operating characteristics by enumeration.

The variant (Storer, Biometrics 1989;45:925-937, design "A" with the usual MTD confirmation;
Lin and Shih, Biostatistics 2001;2:203-215, "A+B" with A = B = 3 and de-escalation):

1. Treat 3 patients at the current level.
2. 0/3 DLT: escalate. 1/3: treat 3 more at the level; then <= 1/6: escalate.
3. >= 2 DLT (of 3 or of 6): the level exceeds the MTD.
   - with de-escalation (``deescalate=True``, default): if the next lower level has 6
     patients it is the MTD; if it has 3, treat 3 more there (<= 1/6: MTD; >= 2/6: it too
     exceeds the MTD and the rule repeats one level lower);
   - without (``deescalate=False``): the next lower level is the MTD as it stands.
   If the lowest level exceeds the MTD, no dose is selected.
4. Escalation past the highest level (it passed: 0/3 or <= 1/6) selects the highest level
   ("MTD not reached within the planned levels").

Operating characteristics are exact: every sequence of cohort outcomes is enumerated with its
binomial probability (at most 4 outcomes per cohort, each level visited a bounded number of
times), so no Monte Carlo error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import polars as pl

from hcctrial.errors import InputError
from hcctrial.safety.decision_table import DecisionTable
from hcctrial.safety.escalation import Decision

COHORT = 3  # the "3" of 3+3 (Storer 1989).


def three_plus_three_decision(
    n: Sequence[int], ndlt: Sequence[int], current: int, *, deescalate: bool = True
) -> Decision:
    """The next step of the 3+3 design (see the module docstring for the exact variant).

    Parameters
    ----------
    n, ndlt
        Patients evaluable for DLT and patients with a DLT at each level (0 = lowest).
    current
        The level the last cohort was treated at.
    deescalate
        Whether a level below an over-toxic one is expanded to 6 to confirm it as MTD.
    """
    k = len(n)
    if not 0 <= current < k:
        raise InputError("current level out of range", value=current)
    for j in range(k):
        if n[j] > 2 * COHORT:
            raise InputError(
                f"3+3 treats at most {2 * COHORT} patients per level",
                value=n[j],
                subject=None,
                expected=f"level {j + 1}: N <= 6",
            )
    d, nd, yd = current, n[current], ndlt[current]
    if nd % COHORT:
        return Decision("stay", d, None, f"cohort incomplete at level {d + 1} ({nd} patients)")
    if yd >= 2:
        return _exceeded(n, ndlt, d, deescalate)
    if nd == COHORT and yd == 1:
        return Decision("stay", d, None, "1/3 DLT: treat 3 more at the same level")
    # The level passed: 0/3 or <= 1/6.
    upper_exceeded = d + 1 < k and ndlt[d + 1] >= 2
    if upper_exceeded:
        if nd == 2 * COHORT or not deescalate:
            return Decision("stop", None, d, f"{yd}/{nd} DLT here, >= 2 DLT one level up: MTD")
        return Decision("stay", d, None, "0/3 DLT, level above too toxic: treat 3 more to confirm")
    if d + 1 < k:
        return Decision("escalate", d + 1, None, f"{yd}/{nd} DLT: escalate")
    return Decision("stop", None, d, f"{yd}/{nd} DLT at the highest level: MTD not reached")


def _exceeded(n: Sequence[int], ndlt: Sequence[int], d: int, deescalate: bool) -> Decision:
    why = f"{ndlt[d]}/{n[d]} DLT: level {d + 1} exceeds the MTD"
    if d == 0:
        return Decision("stop", None, None, why + "; lowest level: no dose selected")
    below = d - 1
    if not deescalate or n[below] == 2 * COHORT:
        return Decision("stop", None, below, why + f"; MTD is level {below + 1}")
    return Decision("de-escalate", below, None, why + f"; treat 3 more at level {below + 1}")


@dataclass(frozen=True)
class ExactOC:
    """Exact operating characteristics of the 3+3 design.

    ``table``: per level ``LEVEL`` (1-based), ``TRUEP``, ``PSELECT`` (probability the level
    is selected as MTD), ``EN`` (expected patients), ``EDLT`` (expected DLTs); ``p_none``:
    probability no dose is selected; ``expected_n``, ``expected_dlt``: totals.
    """

    table: pl.DataFrame
    p_none: float
    expected_n: float
    expected_dlt: float


def three_plus_three_oc(
    true_p: Sequence[float] | np.ndarray, *, start: int = 0, deescalate: bool = True
) -> ExactOC:
    """Exact operating characteristics by enumerating every cohort outcome sequence.

    Each cohort of 3 at level j has ``k`` DLTs with probability
    ``C(3, k) p_j^k (1 - p_j)^(3 - k)``; a trial path's probability is the product over its
    cohorts, and the characteristics are probability-weighted sums over all paths.
    """
    p = np.asarray(true_p, dtype=float)
    k = p.size
    if k == 0 or np.any((p < 0) | (p > 1)):
        raise InputError("true DLT rates must lie in [0, 1]", value=list(true_p))
    if not 0 <= start < k:
        raise InputError("start level out of range", value=start)
    psel = np.zeros(k)
    en = np.zeros(k)
    edlt = np.zeros(k)
    p_none = 0.0

    def walk(n: tuple[int, ...], y: tuple[int, ...], level: int, prob: float) -> None:
        nonlocal p_none
        for x in range(COHORT + 1):
            px = comb(COHORT, x) * p[level] ** x * (1 - p[level]) ** (COHORT - x)
            if px == 0.0:
                continue
            n2 = tuple(v + COHORT * (i == level) for i, v in enumerate(n))
            y2 = tuple(v + x * (i == level) for i, v in enumerate(y))
            dec = three_plus_three_decision(n2, y2, level, deescalate=deescalate)
            if dec.action == "stop":
                w = prob * px
                en[:] += w * np.array(n2)
                edlt[:] += w * np.array(y2)
                if dec.mtd is None:
                    p_none += w
                else:
                    psel[dec.mtd] += w
            else:
                assert dec.level is not None
                walk(n2, y2, dec.level, prob * px)

    walk((0,) * k, (0,) * k, start, 1.0)
    table = pl.DataFrame(
        {"LEVEL": np.arange(1, k + 1), "TRUEP": p, "PSELECT": psel, "EN": en, "EDLT": edlt}
    )
    return ExactOC(table, p_none, float(en.sum()), float(edlt.sum()))


def three_plus_three_table() -> DecisionTable:
    """The 3+3 rules as a decision table (the module docstring's variant): with 3 patients,
    0 DLT escalate, 1 stay (3 more), >= 2 the level exceeds the MTD (never used again; the
    trial moves down or stops); with 6, <= 1 escalate, >= 2 exceeds the MTD."""
    return DecisionTable(
        n=(3, 6),
        escalate_le=(0, 1),
        deescalate_ge=(2, 2),
        eliminate_ge=(2, 2),
        source="3+3",
    )
