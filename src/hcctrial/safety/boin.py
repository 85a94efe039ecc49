"""BOIN: the Bayesian optimal interval design (Liu S, Yuan Y. J R Stat Soc C 2015;64:507-523).

Boundaries (Liu and Yuan 2015, section 2.2, eq. for lambda_e and lambda_d), with target DLT
rate ``phi``, the highest sub-therapeutic rate ``phi1`` and the lowest overly toxic rate
``phi2`` (default ``phi1 = 0.6 phi``, ``phi2 = 1.4 phi``, the authors' recommendation)::

    lambda_e = log((1 - phi1) / (1 - phi)) / log(phi (1 - phi1) / (phi1 (1 - phi)))
    lambda_d = log((1 - phi) / (1 - phi2)) / log(phi2 (1 - phi) / (phi (1 - phi2)))

With ``y`` DLTs in ``n`` patients at the current level: escalate if ``y / n <= lambda_e``,
de-escalate if ``y / n >= lambda_d``, otherwise stay. Elimination (Liu and Yuan 2015, section
2.3; BOIN R package ``get.boundary``): when ``n >= 3`` and ``Pr(p > phi | y, n) > 0.95`` under
a Beta(1, 1) prior (posterior Beta(1 + y, 1 + n - y)), the level and all higher levels are
eliminated for the rest of the trial; if the lowest level is eliminated the trial stops with no
MTD. At the end, the MTD is the admissible level (treated, not eliminated) whose isotonic
estimate of the DLT rate is closest to ``phi`` (ties: the higher level below ``phi``, the lower
above), with the estimate of the BOIN R package ``select.mtd``: ``(y + 0.05) / (n + 0.1)``,
pool-adjacent-violators weighted by the inverse of its posterior variance (Yan F, Zhang L,
Zhou Y, Pan H, Liu S, Yuan Y. BOIN: an R package for designing single-agent and drug-
combination dose-finding trials. J Stat Softw 2020;94(13)).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from math import log

import numpy as np
import polars as pl
from scipy.stats import beta

from hcctrial.errors import InputError
from hcctrial.safety.decision_table import DecisionTable
from hcctrial.safety.escalation import Decision

ELIMINATION_CUTOFF = 0.95  # Liu and Yuan 2015, section 2.3; BOIN R default cutoff.eli.
MIN_N_ELIMINATION = 3  # elimination only once >= 3 patients were treated at the level.


def boin_boundaries(
    target: float, p_saf: float | None = None, p_tox: float | None = None
) -> tuple[float, float]:
    """Escalation and de-escalation boundaries ``(lambda_e, lambda_d)`` (Liu and Yuan 2015).

    ``target = 0.3`` gives ``(0.236, 0.358)`` (Liu and Yuan 2015, Table 1).
    """
    if not 0 < target < 1:
        raise InputError("target DLT rate must lie strictly between 0 and 1", value=target)
    phi1 = 0.6 * target if p_saf is None else p_saf
    phi2 = 1.4 * target if p_tox is None else p_tox
    if not 0 < phi1 < target < phi2 < 1:
        raise InputError("need 0 < p_saf < target < p_tox < 1", value=(phi1, target, phi2))
    lam_e = log((1 - phi1) / (1 - target)) / log(target * (1 - phi1) / (phi1 * (1 - target)))
    lam_d = log((1 - target) / (1 - phi2)) / log(phi2 * (1 - target) / (target * (1 - phi2)))
    return lam_e, lam_d


def elimination_limits(target: float, max_n: int, cutoff: float = ELIMINATION_CUTOFF) -> np.ndarray:
    """For each ``n`` in ``0..max_n``, the fewest DLTs that eliminate the level (inf: never).

    ``y`` eliminates when ``n >= 3`` and ``1 - BetaCDF(target; 1 + y, 1 + n - y) > cutoff``.
    """
    limits = np.full(max_n + 1, np.inf)
    for n in range(MIN_N_ELIMINATION, max_n + 1):
        y = np.arange(n + 1)
        post = beta.sf(target, 1 + y, 1 + n - y)
        hit = np.nonzero(post > cutoff)[0]
        if hit.size:
            limits[n] = float(hit[0])
    return limits


def boin_decision_table(
    target: float,
    max_n: int,
    *,
    cohort_size: int = 3,
    p_saf: float | None = None,
    p_tox: float | None = None,
    cutoff: float = ELIMINATION_CUTOFF,
) -> pl.DataFrame:
    """The trial's decision table (as printed by BOIN ``get.boundary``), one row per ``n``.

    Columns: ``N`` (patients at the level, multiples of the cohort size), ``ESCALATE_LE``
    (escalate if DLTs <= this), ``DEESCALATE_GE`` (de-escalate if >=), ``ELIMINATE_GE``
    (eliminate if >=; null: never at this n).
    """
    lam_e, lam_d = boin_boundaries(target, p_saf, p_tox)
    elim = elimination_limits(target, max_n, cutoff)
    ns = list(range(cohort_size, max_n + 1, cohort_size))
    return pl.DataFrame(
        {
            "N": ns,
            "ESCALATE_LE": [int(np.floor(lam_e * n + 1e-12)) for n in ns],
            "DEESCALATE_GE": [int(np.ceil(lam_d * n - 1e-12)) for n in ns],
            "ELIMINATE_GE": [None if np.isinf(elim[n]) else int(elim[n]) for n in ns],
        },
        schema={
            "N": pl.Int64,
            "ESCALATE_LE": pl.Int64,
            "DEESCALATE_GE": pl.Int64,
            "ELIMINATE_GE": pl.Int64,
        },
    )


def eliminated_levels(
    n: Sequence[int], ndlt: Sequence[int], target: float, cutoff: float = ELIMINATION_CUTOFF
) -> tuple[int, ...]:
    """Levels eliminated by the data: the lowest level meeting the rule and all above it."""
    for j, (nj, yj) in enumerate(zip(n, ndlt, strict=True)):
        if nj >= MIN_N_ELIMINATION and _too_toxic(target, int(nj), int(yj), cutoff):
            return tuple(range(j, len(n)))
    return ()


@lru_cache(maxsize=4096)
def _too_toxic(target: float, n: int, y: int, cutoff: float) -> bool:
    """Pr(p > target | Beta(1 + y, 1 + n - y)) > cutoff."""
    return bool(beta.sf(target, 1 + y, 1 + n - y) > cutoff)


def isotonic_mtd(
    n: np.ndarray, ndlt: np.ndarray, admissible: np.ndarray, target: float
) -> np.ndarray:
    """MTD per trial (rows) by isotonic regression; -1 when no level is admissible.

    Vectorised pool-adjacent-violators through the min-max formula
    ``iso_j = max_{i <= j} min_{k >= j} sum_{i..k} w x / sum_{i..k} w`` (Barlow et al. 1972,
    Statistical Inference under Order Restrictions, Thm 1.4.4) with ``x = (y + 0.05) /
    (n + 0.1)`` and ``w = 1 / var``, ``var = (y + 0.05)(n - y + 0.05) / ((n + 0.1)^2
    (n + 1.1))`` (BOIN ``select.mtd``); weight 0 for levels not admissible.
    """
    n = np.atleast_2d(n).astype(float)
    y = np.atleast_2d(ndlt).astype(float)
    adm = np.atleast_2d(admissible) & (n > 0)
    x = (y + 0.05) / (n + 0.1)
    var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 1.1))
    w = np.where(adm, 1.0 / var, 0.0)
    k = n.shape[1]
    cw = np.concatenate([np.zeros((n.shape[0], 1)), np.cumsum(w, axis=1)], axis=1)
    cwx = np.concatenate([np.zeros((n.shape[0], 1)), np.cumsum(w * x, axis=1)], axis=1)
    iso = np.full(n.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            best = np.full(n.shape[0], -np.inf)
            for i in range(j + 1):
                low = np.full(n.shape[0], np.inf)
                for m in range(j, k):
                    avg = (cwx[:, m + 1] - cwx[:, i]) / (cw[:, m + 1] - cw[:, i])
                    low = np.fmin(low, avg)
                best = np.fmax(best, low)
            iso[:, j] = best
    # + j * 1e-10 breaks ties towards the higher level below target, lower above (select.mtd).
    dist = np.abs(iso + np.arange(k) * 1e-10 - target)
    dist = np.where(adm, dist, np.inf)
    mtd = np.argmin(dist, axis=1)
    return np.where(np.isfinite(dist.min(axis=1)), mtd, -1)


def boin_decision(
    n: Sequence[int],
    ndlt: Sequence[int],
    current: int,
    target: float,
    *,
    max_n: int | None = None,
    p_saf: float | None = None,
    p_tox: float | None = None,
    cutoff: float = ELIMINATION_CUTOFF,
    n_earlystop: int | None = None,
    table: DecisionTable | None = None,
) -> Decision:
    """The BOIN decision for the next cohort from the data so far.

    Elimination first (the level and above, never to be used again); then the boundaries
    at the current level; when ``max_n`` patients have been treated the trial stops and the
    MTD is selected by isotonic regression. With ``table`` (a user's decision table, see
    :mod:`hcctrial.safety.decision_table`) its rows replace the boundaries and the
    elimination rule; ``target`` still selects the MTD.
    """
    k = len(n)
    if not 0 <= current < k:
        raise InputError("current level out of range", value=current)
    lam_e, lam_d = boin_boundaries(target, p_saf, p_tox)
    if table is None:
        elim = eliminated_levels(n, ndlt, target, cutoff)
    else:
        elim = table_eliminated_levels(n, ndlt, table)
    nd, yd = n[current], ndlt[current]
    if elim and elim[0] == 0:
        return Decision(
            "stop",
            None,
            None,
            f"lowest level eliminated (Pr(p > target) > {cutoff:g}): no dose selected",
            elim,
        )
    total = sum(n)
    full = max_n is not None and total >= max_n
    if full or (n_earlystop is not None and nd >= n_earlystop):
        admissible = np.array([j not in elim for j in range(k)])
        mtd = int(isotonic_mtd(np.array(n), np.array(ndlt), admissible, target)[0])
        return Decision(
            "stop",
            None,
            None if mtd < 0 else mtd,
            (f"maximum sample size {max_n} reached" if full else f"{nd} patients at the level")
            + ": MTD by isotonic regression",
            elim,
        )
    rate = yd / nd if nd else 0.0
    if current in elim:
        below = max(j for j in range(current) if j not in elim)
        return Decision(
            "de-escalate",
            below,
            None,
            f"{yd}/{nd} DLT: level {elim[0] + 1} and above eliminated",
            elim,
        )
    if table is not None:
        return _table_step(nd, yd, current, k, elim, table)
    if rate <= lam_e:
        if current + 1 < k and current + 1 not in elim:
            return Decision(
                "escalate",
                current + 1,
                None,
                f"{yd}/{nd} = {rate:.3f} <= lambda_e {lam_e:.3f}: escalate",
                elim,
            )
        return Decision(
            "stay",
            current,
            None,
            f"{yd}/{nd} = {rate:.3f} <= lambda_e {lam_e:.3f}, no higher level open: stay",
            elim,
        )
    if rate >= lam_d and current > 0:
        return Decision(
            "de-escalate",
            current - 1,
            None,
            f"{yd}/{nd} = {rate:.3f} >= lambda_d {lam_d:.3f}: de-escalate",
            elim,
        )
    why = f"{lam_e:.3f} < {yd}/{nd} = {rate:.3f} < lambda_d {lam_d:.3f}: stay"
    if rate >= lam_d:
        why = f"{yd}/{nd} = {rate:.3f} >= lambda_d {lam_d:.3f} at the lowest level: stay"
    return Decision("stay", current, None, why, elim)


def table_eliminated_levels(
    n: Sequence[int], ndlt: Sequence[int], table: DecisionTable
) -> tuple[int, ...]:
    """Levels eliminated by a decision table: the lowest level with DLT >= its
    ``ELIMINATE_GE`` at its ``N``, and all above it."""
    for j, (nj, yj) in enumerate(zip(n, ndlt, strict=True)):
        if nj > 0:
            limit = table.row(int(nj))[2]
            if limit is not None and yj >= limit:
                return tuple(range(j, len(n)))
    return ()


def _table_step(
    nd: int, yd: int, current: int, k: int, elim: tuple[int, ...], table: DecisionTable
) -> Decision:
    esc, de, _ = table.row(nd)
    where = f"({table.source}, N = {nd})"
    if esc is not None and yd <= esc:
        if current + 1 < k and current + 1 not in elim:
            return Decision(
                "escalate", current + 1, None, f"{yd} DLT <= {esc} {where}: escalate", elim
            )
        return Decision(
            "stay", current, None, f"{yd} DLT <= {esc} {where}, no higher level open: stay", elim
        )
    if de is not None and yd >= de:
        if current > 0:
            return Decision(
                "de-escalate", current - 1, None, f"{yd} DLT >= {de} {where}: de-escalate", elim
            )
        return Decision(
            "stay", current, None, f"{yd} DLT >= {de} {where} at the lowest level: stay", elim
        )
    return Decision("stay", current, None, f"{yd} DLT between the boundaries {where}: stay", elim)
