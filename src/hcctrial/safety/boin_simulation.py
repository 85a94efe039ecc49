"""BOIN trials simulated, vectorised across trials, with optional backfill and decision table.

Each simulated trial follows :func:`hcctrial.safety.boin.boin_decision` cohort by cohort;
:func:`simulate_boin_loop` runs the same trials one at a time through that function and is the
reference the vectorised code is tested against (identical trials on shared uniforms).

Backfill (the idea of BF-BOIN: Zhao Y, Yuan Y, Korn EL, Freidlin B. Backfilling patients in
phase I dose-escalation trials using Bayesian optimal interval design (BOIN). Clin Cancer Res
2024;30:673-679), in this exact variant:

1. A level is *cleared* when the trial escalates from it; it is *open for backfill* while it is
   cleared, below the level of the next main cohort, not eliminated, and has fewer than
   ``backfill_cap`` patients.
2. After each main cohort (the trial not stopped), one backfill cohort of ``backfill_size``
   patients (fewer if the maximum sample size is reached) is treated at the highest open
   level. Its patients count towards the maximum sample size and are pooled with that
   level's data for every later decision and for the MTD.
3. After a backfill cohort at level ``b``: the elimination rule is applied to ``b`` (``b`` and
   above eliminated; the trial stops with no MTD if ``b`` is the lowest level); if ``b`` was
   eliminated, or its pooled DLT rate is ``>= lambda_d``, every level from ``b`` up stops being
   cleared and the next main cohort is treated at ``min(next, max(b - 1, 0))``.

Patient ``i`` of trial ``t`` has a DLT at level ``d`` when ``U[t, i] < p_d``: patients are
numbered in the order treated, main and backfill cohorts alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from hcctrial.errors import InputError
from hcctrial.safety.boin import (
    ELIMINATION_CUTOFF,
    boin_boundaries,
    boin_decision,
    elimination_limits,
    isotonic_mtd,
)
from hcctrial.safety.decision_table import DecisionTable

__all__ = ["Simulation", "operating_characteristics", "simulate_boin", "simulate_boin_loop"]


@dataclass(frozen=True)
class Simulation:
    """Simulated trials: per-trial selected level (-1: none), patients and DLTs per level,
    early stop, the lowest eliminated level (``k``: none) and backfill patients per level."""

    true_p: np.ndarray
    selected: np.ndarray
    n: np.ndarray
    ndlt: np.ndarray
    early_stop: np.ndarray
    eliminated_from: np.ndarray | None = None
    backfilled: np.ndarray | None = None


def _check_sim(
    true_p: Sequence[float] | np.ndarray, start: int, cohort_size: int, max_n: int
) -> np.ndarray:
    p = np.asarray(true_p, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any((p < 0) | (p > 1)):
        raise InputError("true DLT rates must lie in [0, 1]", value=list(true_p))
    if not 0 <= start < p.size:
        raise InputError("start level out of range", value=start)
    if cohort_size < 1 or max_n < cohort_size:
        raise InputError("need 1 <= cohort size <= maximum sample size", value=(cohort_size, max_n))
    return p


def _reachable(cohort_size: int, backfill_size: int, max_n: int) -> set[int]:
    """Every patient count a level can reach (sums of main and backfill cohorts, the last
    possibly cut short by the maximum sample size)."""
    sizes = {cohort_size} | ({backfill_size} if backfill_size else set())
    reach = {0}
    frontier = {0}
    while frontier:
        nxt = set()
        for r in frontier:
            for s in sizes:
                for m in range(1, s + 1) if r + s > max_n else (s,):
                    if r + m <= max_n and r + m not in reach:
                        nxt.add(r + m)
        reach |= nxt
        frontier = nxt
    return reach - {0}


def _boundaries(
    target: float,
    max_n: int,
    table: DecisionTable | None,
    needed: set[int],
    p_saf: float | None,
    p_tox: float | None,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(escalate_le, deescalate_ge, eliminate_ge)`` per n: integer boundaries equivalent
    to the rate comparisons (DLT/n <= lambda_e <=> DLT <= lambda_e n)."""
    if table is not None:
        return table.arrays(max_n, needed)
    lam_e, lam_d = boin_boundaries(target, p_saf, p_tox)
    ns = range(max_n + 1)
    # y / n <= lam_e exactly as boin_decision computes it: the largest such y per n.
    esc = np.array(
        [max((y for y in range(n + 1) if y / max(n, 1) <= lam_e), default=-1) for n in ns]
    )
    de = np.array(
        [min((y for y in range(n + 1) if y / max(n, 1) >= lam_d), default=n + 1) for n in ns]
    )
    return esc.astype(float), de.astype(float), elimination_limits(target, max_n, cutoff)


def simulate_boin(
    true_p: Sequence[float] | np.ndarray,
    target: float,
    *,
    n_trials: int = 10_000,
    cohort_size: int = 3,
    max_n: int = 30,
    start: int = 0,
    seed: int = 20150101,
    p_saf: float | None = None,
    p_tox: float | None = None,
    cutoff: float = ELIMINATION_CUTOFF,
    n_earlystop: int | None = None,
    uniforms: np.ndarray | None = None,
    table: DecisionTable | None = None,
    backfill_size: int = 0,
    backfill_cap: int | None = None,
) -> Simulation:
    """Simulate BOIN trials, vectorised across trials (one numpy step per cohort).

    ``U ~ Uniform(0, 1)`` is drawn once, shape ``(n_trials, max_n)`` (``uniforms`` may be
    given to couple runs). Each step treats one main cohort in every trial still running,
    applies the elimination rule and the boundaries exactly as
    :func:`~hcctrial.safety.boin.boin_decision`, then the backfill cohort (module docstring)
    when ``backfill_size > 0``; the MTD is selected by
    :func:`~hcctrial.safety.boin.isotonic_mtd`. ``table``: a decision table replacing the
    boundaries and the elimination rule. ``n_earlystop``: stop when the level of the next main
    cohort has this many patients (BOIN ``n.earlystop``; default never). ``backfill_cap``:
    patients per level beyond which a level takes no backfill (default ``max_n``).
    """
    p = _check_sim(true_p, start, cohort_size, max_n)
    if backfill_size < 0:
        raise InputError("backfill cohort size must be >= 0", value=backfill_size)
    k = p.size
    cap = max_n if backfill_cap is None else backfill_cap
    needed = _reachable(cohort_size, backfill_size, max_n)
    esc_le, de_ge, lim = _boundaries(target, max_n, table, needed, p_saf, p_tox, cutoff)
    if uniforms is None:
        uniforms = np.random.default_rng(seed).random((n_trials, max_n))
    t = uniforms.shape[0]
    rows = np.arange(t)
    d = np.full(t, start)
    n = np.zeros((t, k), dtype=np.int64)
    y = np.zeros((t, k), dtype=np.int64)
    bf = np.zeros((t, k), dtype=np.int64)
    cleared = np.zeros((t, k), dtype=bool)
    elim_first = np.full(t, k)
    pos = np.zeros(t, dtype=np.int64)
    active = np.ones(t, dtype=bool)
    early = np.zeros(t, dtype=bool)
    levels = np.arange(k)

    def treat(level: np.ndarray, size: int, who: np.ndarray) -> np.ndarray:
        """Treat up to ``size`` patients at ``level`` in trials ``who``; returns their count."""
        if not backfill_size:
            # Without backfill every running trial is at the same patient: slice, not gather.
            at = int(pos[who].max()) if who.any() else max_n
            size = min(size, max_n - at)
            m = np.where(who, size, 0)
            tox = np.where(who, (uniforms[:, at : at + size] < p[level][:, None]).sum(axis=1), 0)
        else:
            m = np.where(who, np.minimum(size, max_n - pos), 0)
            idx = np.minimum(pos[:, None] + np.arange(size)[None, :], max_n - 1)
            take = np.arange(size)[None, :] < m[:, None]
            tox = ((uniforms[rows[:, None], idx] < p[level][:, None]) & take).sum(axis=1)
        n[rows, level] += m
        y[rows, level] += tox
        pos[:] += m
        return m

    while active.any():
        treat(d, cohort_size, active)
        nd, yd = n[rows, d], y[rows, d]
        elim_now = active & (yd >= lim[nd])
        elim_first = np.where(elim_now, np.minimum(elim_first, d), elim_first)
        stop = elim_now & (d == 0)
        full = pos >= max_n
        up = active & ~stop & ~elim_now & (yd <= esc_le[nd]) & (d + 1 < k) & (d + 1 < elim_first)
        down = active & ~stop & (elim_now | (yd >= de_ge[nd])) & (d > 0)
        if n_earlystop is not None:
            stop |= active & ~full & (nd >= n_earlystop)  # boin_decision: the treated level
        cleared[rows, d] |= up
        d = d + up.astype(np.int64) - down.astype(np.int64)
        early |= stop & ~full
        active &= ~stop & ~full
        if backfill_size and active.any():
            open_ = (
                cleared & (levels[None, :] < d[:, None]) & (levels[None, :] < elim_first[:, None])
            )
            open_ &= n < cap
            has = active & open_.any(axis=1)
            b = np.where(has, k - 1 - np.argmax(open_[:, ::-1], axis=1), 0)
            m = treat(b, backfill_size, has)
            bf[rows, b] += m
            nb, yb = n[rows, b], y[rows, b]
            elim_b = has & (yb >= lim[nb])
            elim_first = np.where(elim_b, np.minimum(elim_first, b), elim_first)
            stop_b = elim_b & (b == 0)
            close = has & (elim_b | (yb >= de_ge[nb]))
            cleared &= ~(close[:, None] & (levels[None, :] >= b[:, None]))
            d = np.where(close, np.minimum(d, np.maximum(b - 1, 0)), d)
            full = pos >= max_n
            early |= stop_b & ~full
            active &= ~stop_b & ~full
    admissible = levels[None, :] < elim_first[:, None]
    selected = isotonic_mtd(n, y, admissible, target)
    selected = np.where(elim_first == 0, -1, selected)
    return Simulation(p, selected, n, y, early, elim_first, bf)


def _treat(
    u: np.ndarray,
    p: np.ndarray,
    n: list[int],
    y: list[int],
    level: int,
    size: int,
    pos: int,
    max_n: int,
) -> int:
    """Treat up to ``size`` patients (uniforms from ``pos``) at ``level``; the new position."""
    m = min(size, max_n - pos)
    y[level] += int((u[pos : pos + m] < p[level]).sum())
    n[level] += m
    return pos + m


def simulate_boin_loop(
    true_p: Sequence[float] | np.ndarray,
    target: float,
    *,
    n_trials: int = 1000,
    cohort_size: int = 3,
    max_n: int = 30,
    start: int = 0,
    seed: int = 20150101,
    n_earlystop: int | None = None,
    uniforms: np.ndarray | None = None,
    table: DecisionTable | None = None,
    backfill_size: int = 0,
    backfill_cap: int | None = None,
    trace: list[tuple[int, str, int, int]] | None = None,
) -> Simulation:
    """The same trials one at a time through :func:`~hcctrial.safety.boin.boin_decision`.

    The reference :func:`simulate_boin` is checked against trial by trial on shared uniforms,
    and the straightforward loop it is benchmarked against. ``trace``: a list that receives
    ``(trial, "main" | "backfill", level, lowest level eliminated so far or k)`` for every
    cohort, in the order treated.
    """
    p = _check_sim(true_p, start, cohort_size, max_n)
    k = p.size
    cap = max_n if backfill_cap is None else backfill_cap
    lam_d = boin_boundaries(target)[1]
    if uniforms is None:
        uniforms = np.random.default_rng(seed).random((n_trials, max_n))
    t = uniforms.shape[0]
    out_n = np.zeros((t, k), dtype=np.int64)
    out_y = np.zeros((t, k), dtype=np.int64)
    out_bf = np.zeros((t, k), dtype=np.int64)
    elim_from = np.full(t, k)
    selected = np.full(t, -1)
    early = np.zeros(t, dtype=bool)
    for trial in range(t):
        n, y, bf, d, pos = [0] * k, [0] * k, [0] * k, start, 0
        cleared = [False] * k
        eliminated: tuple[int, ...] = ()

        u = uniforms[trial]
        while True:
            if trace is not None:
                trace.append((trial, "main", d, eliminated[0] if eliminated else k))
            pos = _treat(u, p, n, y, d, cohort_size, pos, max_n)
            dec = boin_decision(n, y, d, target, max_n=max_n, n_earlystop=n_earlystop, table=table)
            eliminated = dec.eliminated or eliminated
            if dec.action == "stop":
                selected[trial] = -1 if dec.mtd is None else dec.mtd
                early[trial] = pos < max_n
                break
            assert dec.level is not None
            if dec.action == "escalate":
                cleared[d] = True
            d = dec.level
            if not backfill_size:
                continue
            lowest_out = eliminated[0] if eliminated else k
            open_ = [j for j in range(min(d, lowest_out)) if cleared[j] and n[j] < cap]
            if not open_:
                continue
            b = max(open_)
            before = pos
            if trace is not None:
                trace.append((trial, "backfill", b, eliminated[0] if eliminated else k))
            pos = _treat(u, p, n, y, b, backfill_size, pos, max_n)
            bf[b] += pos - before
            check = boin_decision(n, y, b, target, table=table)  # elimination at b
            gone = b in check.eliminated
            if gone:
                eliminated = check.eliminated
                if b == 0:
                    selected[trial], early[trial] = -1, pos < max_n
                    break
            if table is not None:
                limit = table.row(n[b])[1]
                too_toxic = limit is not None and y[b] >= limit
            else:
                too_toxic = y[b] / n[b] >= lam_d
            if gone or too_toxic:
                cleared[b:] = [False] * (k - b)
                d = min(d, max(b - 1, 0))
            if pos >= max_n:
                dec = boin_decision(n, y, d, target, max_n=max_n, table=table)
                selected[trial] = -1 if dec.mtd is None else dec.mtd
                break
        out_n[trial], out_y[trial], out_bf[trial] = n, y, bf
        if eliminated:
            elim_from[trial] = eliminated[0]
    return Simulation(p, selected, out_n, out_y, early, elim_from, out_bf)


def operating_characteristics(sim: Simulation) -> tuple[pl.DataFrame, dict[str, float]]:
    """Per-level and overall operating characteristics with Monte Carlo standard errors.

    Per level: ``PSELECT`` (% of trials selecting it as MTD, SE ``sqrt(p(1 - p) / T)``),
    ``MEAN_N`` and ``MEAN_DLT`` (patients and DLTs per trial), ``PCT_PATIENTS``, and
    ``MEAN_BACKFILL`` (backfill patients per trial) when backfill was simulated. Overall:
    ``p_none`` (% no MTD selected), ``p_early_stop`` (%), ``mean_n``, ``mean_dlt``,
    ``dlt_rate`` (% of treated patients with a DLT), each with ``*_se``.
    """
    t, k = sim.n.shape
    sel = np.stack([(sim.selected == j) for j in range(k)], axis=1).mean(axis=0)
    total_n = sim.n.sum(axis=1)
    total_y = sim.ndlt.sum(axis=1)
    cols: dict[str, object] = {
        "LEVEL": np.arange(1, k + 1),
        "TRUEP": sim.true_p,
        "PSELECT": 100 * sel,
        "PSELECT_SE": 100 * np.sqrt(sel * (1 - sel) / t),
        "MEAN_N": sim.n.mean(axis=0),
        "PCT_PATIENTS": 100 * sim.n.sum(axis=0) / max(total_n.sum(), 1),
        "MEAN_DLT": sim.ndlt.mean(axis=0),
    }
    if sim.backfilled is not None and sim.backfilled.any():
        cols["MEAN_BACKFILL"] = sim.backfilled.mean(axis=0)
    table = pl.DataFrame(cols)
    none = float((sim.selected < 0).mean())
    stop = float(sim.early_stop.mean())
    rate = total_y / np.maximum(total_n, 1)
    overall = {
        "trials": float(t),
        "p_none": 100 * none,
        "p_none_se": 100 * np.sqrt(none * (1 - none) / t),
        "p_early_stop": 100 * stop,
        "p_early_stop_se": 100 * np.sqrt(stop * (1 - stop) / t),
        "mean_n": float(total_n.mean()),
        "mean_n_se": float(total_n.std(ddof=1) / np.sqrt(t)) if t > 1 else 0.0,
        "mean_dlt": float(total_y.mean()),
        "mean_dlt_se": float(total_y.std(ddof=1) / np.sqrt(t)) if t > 1 else 0.0,
        "dlt_rate": 100 * float(rate.mean()),
        "dlt_rate_se": 100 * float(rate.std(ddof=1) / np.sqrt(t)) if t > 1 else 0.0,
    }
    return table, overall
