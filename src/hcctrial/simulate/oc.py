"""Operating characteristics: many replicates of a trial design, vectorised (trials x subjects).

Each replicate enrols ``n`` patients drawn (with replacement) from a pool of virtual patients who
passed the protocol's real criteria (:func:`~.screening.screen_virtual_patients`, run once),
allocates them (permuted blocks of 2 x the ratio total for randomized designs, by planned size
for non-randomized arms), draws outcomes with the same disease model as :func:`simulate_trial`
(:func:`~.disease.simulate_outcomes`, :func:`~.disease.stein_sld`), assesses tumours on the
protocol calendar with jitter and missed visits, and derives per replicate:

- PFS (progression by the protocol's criteria at an assessment, or death; censored at the last
  adequate assessment) and OS (death; censored at dropout or end of follow-up), days from day 0;
- the two-arm log-rank test of the primary endpoint (:func:`logrank_rows`, the Mantel-Haenszel
  statistic of R ``survival::survdiff`` with tie groups), and power = share of replicates with
  two-sided p < alpha in favour of the experimental arm;
- Kaplan-Meier medians per arm (:func:`km_median_rows`), ORR with Clopper-Pearson exact CIs.

No Python loop runs over trials: every step is an array operation over (trials, subjects[, visits]),
processed in chunks of trials to bound memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.stats import beta, chi2

from hcctrial.errors import InputError
from hcctrial.protocol import Protocol, load_protocol
from hcctrial.simulate.design import arm_treatment, trial_setting
from hcctrial.simulate.disease import ArmTreatment, Effect, simulate_outcomes, size_progression
from hcctrial.simulate.parameters import (
    DAYS_PER_MONTH,
    TOXICITY,
    TUMOUR,
    Referral,
    referral_for,
)
from hcctrial.simulate.screening import screen_virtual_patients
from hcctrial.simulate.trial import DEFAULT_START
from hcctrial.simulate.visits import assessment_days, planned_visits

__all__ = [
    "OperatingCharacteristics",
    "km_median_rows",
    "logrank_rows",
    "operating_characteristics",
    "parse_effect",
    "parse_referral",
]

FloatArray = npt.NDArray[np.float64]
CHUNK = 2000
MAX_TRIALS = 1_000_000


def _settings(
    text: str, names: tuple[str, ...], unreadable: Callable[[str], InputError]
) -> dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}`` (names lower-cased, empty parts skipped);
    ``unreadable(part)`` is raised for a part without ``=`` or with a name not in ``names``."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in names:
            raise unreadable(part.strip())
        pairs[key] = value
    return pairs


def parse_effect(text: str) -> Effect:
    """``"HR=0.6"`` or ``"HR=0.6,regression=1.5"`` -> :class:`Effect`.

    >>> parse_effect("HR=0.6")
    Effect(hr=0.6, regression=0.3)
    """
    pairs = _settings(
        text,
        ("hr", "regression"),
        lambda _part: InputError(
            "cannot read the effect", value=text, expected="HR=0.6 or HR=0.6,regression=1.5"
        ),
    )
    values: dict[str, float] = {}
    for key, value in pairs.items():
        try:
            values[key] = float(value)
        except ValueError:
            raise InputError(
                "effect value is not a number", value=value, expected="e.g. 0.6"
            ) from None
    return Effect(**values)


_REFERRAL_SCALARS = ("prior_tace", "tace_failure", "age_median", "gpc3_positive", "withdrawal")
_REFERRAL_SHARES = ("prior_systemic", "ecog")


def parse_referral(text: str, protocol_id: str) -> Referral:
    """``"tace_failure=0.6,ecog=0.5/0.4/0.1"`` -> the protocol's :class:`Referral` with those
    fields changed (:func:`~hcctrial.simulate.parameters.referral_for` gives the rest).

    Scalar fields: prior_tace, tace_failure, gpc3_positive, withdrawal (shares in [0, 1]) and
    age_median (years); ``prior_systemic`` (0, 1, 2 lines) and ``ecog`` (0, 1, 2) take three
    shares separated by ``/``. The result is checked by :class:`Referral` (shares in [0, 1],
    three-way shares summing to 1).

    >>> parse_referral("tace_failure=0.6", "NCT04011033").tace_failure
    0.6
    """
    base = referral_for(protocol_id)
    names = (*_REFERRAL_SCALARS, *_REFERRAL_SHARES)
    pairs = _settings(
        text,
        names,
        lambda part: InputError(
            f"cannot read the referral setting {part!r}",
            value=text,
            expected=f"name=value pairs separated by commas; names: {', '.join(names)}",
        ),
    )
    changes: dict[str, object] = {}
    for key, value in pairs.items():
        triple = key in _REFERRAL_SHARES
        try:
            number: object = tuple(float(v) for v in value.split("/")) if triple else float(value)
            if triple and len(number) != 3:  # type: ignore[arg-type]
                raise ValueError
        except ValueError:
            raise InputError(
                f"referral {key} is not a number" + (" triple" if triple else ""),
                value=value,
                expected="three shares a/b/c, e.g. 0.5/0.4/0.1" if triple else "a number, e.g. 0.6",
            ) from None
        changes[key] = number
    if not changes:
        return base
    return replace(base, name=f"{base.name} (changed: {text})", **changes)  # type: ignore[arg-type]


def logrank_rows(
    time: FloatArray, event: npt.NDArray[np.bool_], group: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Two-group log-rank test for every row (trial) at once.

    At each distinct event time (tie group) with ``n`` at risk, ``n1`` of them in group 1 and
    ``d`` events (``d1`` in group 1): ``O1 - E1 = sum(d1 - d n1/n)`` and
    ``V = sum(d (n1/n)(1 - n1/n)(n - d)/(n - 1))``; ``chisq = (O1 - E1)^2 / V``, 1 df (Mantel
    1966; R ``survival::survdiff`` with rho = 0).

    Returns (chisq, p, observed, expected) for group 1, each of shape (rows,). A row without
    events has chisq and p NaN; one where the variance is 0 has chisq 0 (R's generalised
    inverse).
    """
    order = np.lexsort((~event, time), axis=-1)
    t = np.take_along_axis(time, order, axis=-1)
    e = np.take_along_axis(event, order, axis=-1).astype(np.float64)
    g = np.take_along_axis(group, order, axis=-1).astype(np.float64)
    rows, n = t.shape
    idx = np.broadcast_to(np.arange(n), (rows, n))
    new = np.ones((rows, n), dtype=bool)
    new[:, 1:] = t[:, 1:] != t[:, :-1]
    last = np.ones((rows, n), dtype=bool)
    last[:, :-1] = new[:, 1:]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=-1)
    zero = np.zeros((rows, 1))
    cum_e = np.concatenate([zero, np.cumsum(e, axis=-1)], axis=-1)
    cum_e1 = np.concatenate([zero, np.cumsum(e * g, axis=-1)], axis=-1)
    cum_g = np.concatenate([zero, np.cumsum(g, axis=-1)], axis=-1)
    n1_total = cum_g[:, -1:]
    d = np.take_along_axis(cum_e, idx + 1, axis=-1) - np.take_along_axis(cum_e, start, axis=-1)
    d1 = np.take_along_axis(cum_e1, idx + 1, axis=-1) - np.take_along_axis(cum_e1, start, axis=-1)
    at_risk = (n - start).astype(np.float64)
    at_risk1 = n1_total - np.take_along_axis(cum_g, start, axis=-1)
    use = last & (d > 0)
    frac = np.where(use, at_risk1 / at_risk, 0.0)
    expected = np.where(use, d * frac, 0.0).sum(axis=-1)
    observed = np.where(use, d1, 0.0).sum(axis=-1)
    denom = np.where(use & (at_risk > 1), at_risk - 1.0, 1.0)
    var = np.where(use, d * frac * (1.0 - frac) * (at_risk - d) / denom, 0.0).sum(axis=-1)
    # var = 0 with events (no time with both groups at risk): 0, as R's generalised inverse
    with np.errstate(invalid="ignore", divide="ignore"):
        chisq = np.where(var > 0, (observed - expected) ** 2 / np.where(var > 0, var, 1.0), 0.0)
    chisq = np.where(e.sum(axis=-1) > 0, chisq, np.nan)
    p = np.where(np.isnan(chisq), np.nan, chi2.sf(np.nan_to_num(chisq), 1))
    return chisq, p, observed, expected


def km_median_rows(
    time: FloatArray, event: npt.NDArray[np.bool_], member: npt.NDArray[np.bool_]
) -> FloatArray:
    """Kaplan-Meier median of the ``member`` subjects of every row (NaN when not reached).

    Product-limit ``S(t) = prod(1 - d_i / n_i)`` over the row's members sorted by time (events
    before censorings at a tie, so the product over a tie group equals ``1 - d/n``; Kaplan and
    Meier 1958). The median follows R ``survival:::findq``: the first time with ``S <= 0.5``;
    when S equals 0.5 on an interval (within 1e-8), the midpoint between its start and the next
    drop (or the last observed time when S stays at 0.5).
    """
    tol = 1e-8  # R: sqrt(.Machine$double.eps) as used by survival's quantile
    t = np.where(member, time, np.inf)
    e = member & event
    order = np.lexsort((~e, t), axis=-1)
    ts = np.take_along_axis(t, order, axis=-1)
    es = np.take_along_axis(e, order, axis=-1)
    n_m = member.sum(axis=-1, keepdims=True)
    at_risk = n_m - np.arange(t.shape[-1])[None, :]
    factor = np.where(es & (at_risk > 0), 1.0 - 1.0 / np.maximum(at_risk, 1), 1.0)
    surv = np.cumprod(factor, axis=-1)
    reach = surv <= 0.5 + tol
    below = surv < 0.5 - tol
    a = np.argmax(reach, axis=-1)[:, None]
    b = np.argmax(below, axis=-1)[:, None]
    t_a = np.take_along_axis(ts, a, axis=-1)[:, 0]
    t_b = np.take_along_axis(ts, b, axis=-1)[:, 0]
    last = np.maximum(n_m[:, 0] - 1, 0)[:, None]
    t_max = np.take_along_axis(ts, last, axis=-1)[:, 0]
    s_end = np.take_along_axis(surv, last, axis=-1)[:, 0]
    med = np.where(below.any(axis=-1), (t_a + t_b) / 2.0, np.nan)
    plateau_to_end = reach.any(axis=-1) & ~below.any(axis=-1) & (np.abs(s_end - 0.5) < tol)
    return np.where(plateau_to_end, (t_a + t_max) / 2.0, med)


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Per-replicate results and their summary."""

    protocol_id: str
    trials: int
    n_subjects: int
    endpoint: str
    alpha: float
    effect: Effect
    arms: tuple[str, ...]
    per_trial: pl.DataFrame
    summary: pl.DataFrame
    power: float | None
    eligible_pool: int
    screened_pool: int
    power_mcse: float | None = None
    experimental_arm: str | None = None


def _primary(protocol: Protocol) -> str:
    tte = [e for e in protocol.endpoints if e.kind in ("os", "pfs", "median-os", "median-pfs")]
    ranked = sorted(tte, key=lambda e: (not e.compare_arms, e.role != "primary"))
    return "PFS" if ranked and "pfs" in ranked[0].kind else "OS"


def _mrecist(protocol: Protocol) -> bool:
    return any(
        e.response is not None and e.response.criteria == "mrecist" for e in protocol.endpoints
    )


def _allocation(
    protocol: Protocol, rng: np.random.Generator, trials: int, n: int
) -> npt.NDArray[np.int64]:
    """Arm index per (trial, subject): permuted blocks for randomized designs (vectorised)."""
    arms = [a.id for a in protocol.arms]
    r = protocol.design.randomization
    if r is not None:
        block = np.concatenate([[arms.index(a)] * k for a, k in r.ratio.items()])
        block = np.tile(block, 2)
        reps = -(-n // block.size)
        tiled = np.broadcast_to(block, (trials, reps, block.size)).copy()
        return rng.permuted(tiled, axis=2).reshape(trials, -1)[:, :n].astype(np.int64)
    sizes = np.array([a.planned_size or 1 for a in protocol.arms], float)
    cum = np.floor(np.arange(1, n + 1)[:, None] * sizes / sizes.sum() + 1e-9)
    arm_of = np.argmax(np.diff(np.vstack([np.zeros(len(sizes)), cum]), axis=0), axis=1)
    return np.broadcast_to(arm_of, (trials, n)).astype(np.int64)


def operating_characteristics(
    protocol: Protocol | str,
    *,
    trials: int,
    seed: int,
    effect: Effect | float | None = None,
    n_subjects: int | None = None,
    alpha: float = 0.05,
    pool_size: int = 200,
    statistics: str = "vectorised",
    referral: Referral | None = None,
) -> OperatingCharacteristics:
    """Operating characteristics of ``protocol`` over ``trials`` replicates (see module docs).

    ``statistics="loop"`` computes the per-replicate statistics one replicate at a time with
    :mod:`hcctrial.endpoints` over the same simulated data (the reference for tests and the
    benchmark); the default is the vectorised path. ``referral`` is who the sites refer
    (default: the protocol's profile, :func:`~hcctrial.simulate.parameters.referral_for`).

    Raises
    ------
    InputError : a dose-escalation design (use ``hcctrial escalation``), trials or alpha out of
        range, or criteria that no virtual patient meets.
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    if isinstance(effect, (int, float)):
        effect = Effect(hr=float(effect))
    effect = effect or Effect()
    if not (isinstance(trials, int) and 1 <= trials <= MAX_TRIALS):
        raise InputError("number of trials out of range", value=trials, expected=f"1..{MAX_TRIALS}")
    if not 0 < alpha < 1:
        raise InputError("alpha out of range", value=alpha, expected="0 < alpha < 1")
    if statistics not in ("vectorised", "loop"):
        raise InputError("unknown statistics path", value=statistics, expected="vectorised, loop")
    if protocol.design.dose_escalation is not None:
        raise InputError(
            "operating characteristics of a dose-escalation design are those of its escalation "
            "rule",
            value=protocol.id,
            expected="hcctrial escalation (3+3 / BOIN operating characteristics) for this protocol",
        )
    n = n_subjects or protocol.design.enrolment_target or 20
    rng = np.random.default_rng(seed)
    if not (isinstance(pool_size, int) and 10 <= pool_size <= 100_000):
        raise InputError("pool size out of range", value=pool_size, expected="10..100000")
    # eligible virtual patients, screened once; replicates resample them with replacement
    screening = screen_virtual_patients(protocol, rng, pool_size, DEFAULT_START, referral)
    pool = screening.baseline.filter(pl.Series(screening.eligible))
    setting = trial_setting(protocol)
    treat = [arm_treatment(protocol, a, setting) for a in protocol.arms]
    horizon = protocol.follow_up.duration_months * DAYS_PER_MONTH
    horizon = max(horizon, (protocol.follow_up.survival_follow_up_months or 0) * DAYS_PER_MONTH)
    visits = planned_visits(protocol, protocol.arms[0].id, int(horizon))
    planned = assessment_days(visits).astype(float)
    window = {v.day: (v.before, v.after) for v in visits if v.what == "tumour-assessment"}
    before = np.array([window[int(d)][0] for d in planned], float)
    after = np.array([window[int(d)][1] for d in planned], float)
    mrecist = _mrecist(protocol)
    endpoint = _primary(protocol)
    n_arms = len(protocol.arms)
    experimental = [i for i, t in enumerate(treat) if t.experimental] or [0]
    parts = []
    for start in range(0, trials, CHUNK):
        size = min(CHUNK, trials - start)
        data = _chunk(
            rng,
            pool,
            treat,
            planned,
            before,
            after,
            horizon,
            size,
            n,
            protocol,
            effect,
            setting,
            mrecist,
            experimental[0],
            n_arms,
        )
        stats = replicate_statistics if statistics == "vectorised" else replicate_statistics_loop
        parts.append(stats(data, n_arms, experimental[0]))
    per_trial = pl.concat(parts).with_row_index("TRIAL", offset=1)
    arms = tuple(a.id for a in protocol.arms)
    power = power_mcse = None
    if n_arms == 2:
        key = f"{endpoint}_P"
        favours = pl.col(f"{endpoint}_OBSEXP") < 0
        power = float(per_trial.select(((pl.col(key) < alpha) & favours).mean()).item())
        # Monte Carlo standard error of a proportion over independent replicates
        power_mcse = float(np.sqrt(power * (1.0 - power) / trials))
    return OperatingCharacteristics(
        protocol.id,
        trials,
        n,
        endpoint,
        alpha,
        effect,
        arms,
        per_trial,
        _summary(per_trial, arms),
        power,
        pool.height,
        screening.baseline.height,
        power_mcse,
        arms[experimental[0]],
    )


def _chunk(
    rng: np.random.Generator,
    pool: pl.DataFrame,
    treat: list[ArmTreatment],
    planned: FloatArray,
    before: FloatArray,
    after: FloatArray,
    horizon: float,
    trials: int,
    n: int,
    protocol: Protocol,
    effect: Effect,
    setting: str,
    mrecist: bool,
    exp_arm: int,
    n_arms: int,
) -> Replicates:
    pick = rng.integers(0, pool.height, (trials, n))
    sld0 = pool["SLD0"].to_numpy().astype(float)[pick]
    pvtt = pool["MVI"].to_numpy()[pick]
    refractory = (pool["PRIORTACE"] & pool["TACEFAIL"]).to_numpy()[pick]
    arm = _allocation(protocol, rng, trials, n)
    flags = {
        k: np.array([getattr(t, k) for t in treat], bool)[arm]
        for k in ("tace", "cells", "systemic", "experimental")
    }
    out = simulate_outcomes(
        rng, pvtt=pvtt, **flags, setting=setting, effect=effect, tace_refractory=refractory
    )
    jitter = np.clip(
        np.rint(rng.normal(0, TOXICITY.visit_jitter_sd_days, (trials, n, planned.size))),
        -before,
        after,
    )
    days = planned + jitter
    missed = rng.random(days.shape) < TOXICITY.missed_visit
    end = np.minimum(np.minimum(out.t_death, out.t_dropout), horizon)
    all_days = np.concatenate([np.zeros((trials, n, 1)), days], axis=-1)
    # Stein 2008 relative size at each subject's own (jittered) assessment days
    f = (
        np.exp(-out.d[..., None] * all_days)
        + np.exp(np.minimum(out.g[..., None] * all_days, 50))
        - 1
    )
    viable = sld0[..., None] * np.maximum(f, 0.0)
    viable = viable * np.exp(TUMOUR.measurement_cv * rng.standard_normal(viable.shape))
    viable = np.where(viable < 10.0, np.where(f < 0.05, 0.0, 5.0), viable)
    measure = viable if mrecist else viable + 0.6 * np.maximum(viable[..., :1] - viable, 0.0)
    valid = np.concatenate([np.ones((trials, n, 1), bool), ~missed], axis=-1)
    valid &= all_days < end[..., None]
    pd = size_progression(measure, valid, 0.0 if mrecist else 5.0)
    pd |= valid & (all_days >= out.t_new_lesion[..., None])
    pd[..., 0] = False
    has_pd = pd.any(axis=-1)
    pd_day = np.where(
        has_pd, np.take_along_axis(all_days, np.argmax(pd, -1)[..., None], -1)[..., 0], np.inf
    )
    last_ok = np.max(
        np.where(valid & (all_days <= np.minimum(pd_day, end)[..., None]), all_days, 0.0), -1
    )
    death_seen = out.t_death <= np.minimum(out.t_dropout, horizon)
    pfs_event = has_pd | (death_seen & (out.t_death < pd_day))
    pfs_time = np.where(has_pd, pd_day, np.where(pfs_event, out.t_death, last_ok))
    pfs_time = np.maximum(pfs_time, 0.5)
    os_time = end
    os_event = death_seen
    # response: at a valid assessment before progression, sum <= 70% of baseline
    resp = valid & (measure <= 0.7 * measure[..., :1]) & (all_days < pd_day[..., None])
    resp[..., 0] = False
    confirm = protocol_confirmation(protocol)
    if confirm:
        later = np.flip(np.logical_or.accumulate(np.flip(resp, -1), axis=-1), -1)
        later = np.concatenate([later[..., 1:], np.zeros((trials, n, 1), bool)], axis=-1)
        responder = (resp & later).any(-1)
    else:
        responder = resp.any(-1)
    return Replicates(arm, pfs_time, pfs_event, os_time, os_event, np.asarray(responder, bool))


@dataclass(frozen=True)
class Replicates:
    """Simulated subject-level outcomes of a chunk of replicates, arrays of (trials, subjects)."""

    arm: npt.NDArray[np.int64]
    pfs_time: FloatArray
    pfs_event: npt.NDArray[np.bool_]
    os_time: FloatArray
    os_event: npt.NDArray[np.bool_]
    responder: npt.NDArray[np.bool_]


def replicate_statistics(r: Replicates, n_arms: int, exp_arm: int) -> pl.DataFrame:
    """Per replicate (vectorised over rows): N, ORR with Clopper-Pearson limits and KM median
    PFS/OS per arm; for two arms the log-rank chi-square, p, O - E and events of PFS and OS."""
    arm, responder = r.arm, r.responder
    pfs_time, pfs_event, os_time, os_event = r.pfs_time, r.pfs_event, r.os_time, r.os_event
    trials = arm.shape[0]
    cols: dict[str, FloatArray] = {}
    for a in range(n_arms):
        member = arm == a
        k = (responder & member).sum(-1)
        m = member.sum(-1)
        cols[f"N_{a}"] = m.astype(float)
        cols[f"ORR_{a}"] = np.where(m > 0, k / np.maximum(m, 1), np.nan)
        cols[f"ORR_LO_{a}"] = np.where(k > 0, beta.ppf(0.025, k, m - k + 1), 0.0)
        cols[f"ORR_HI_{a}"] = np.where(k < m, beta.ppf(0.975, k + 1, m - k), 1.0)
        cols[f"MEDIAN_PFS_{a}"] = km_median_rows(pfs_time, pfs_event, member) / DAYS_PER_MONTH
        cols[f"MEDIAN_OS_{a}"] = km_median_rows(os_time, os_event, member) / DAYS_PER_MONTH
    if n_arms == 2:
        grp = arm == exp_arm
        for name, t, e in (("PFS", pfs_time, pfs_event), ("OS", os_time, os_event)):
            chisq, p, obs, exp = logrank_rows(t, e, grp)
            cols[f"{name}_CHISQ"], cols[f"{name}_P"] = chisq, p
            cols[f"{name}_OBSEXP"] = obs - exp
            cols[f"{name}_EVENTS"] = e.sum(-1).astype(float)
    return pl.DataFrame(cols, schema={k: pl.Float64 for k in cols}) if trials else pl.DataFrame()


def replicate_statistics_loop(r: Replicates, n_arms: int, exp_arm: int) -> pl.DataFrame:
    """The same statistics as :func:`replicate_statistics`, one replicate at a time with
    :mod:`hcctrial.endpoints` (``logrank_test``, ``kaplan_meier``, ``clopper_pearson``): the
    straightforward reference the vectorised path is tested and benchmarked against."""
    from hcctrial.endpoints import kaplan_meier, logrank_test
    from hcctrial.endpoints.rates import clopper_pearson

    rows = []
    for i in range(r.arm.shape[0]):
        row: dict[str, float] = {}
        for a in range(n_arms):
            member = r.arm[i] == a
            m, k = int(member.sum()), int((r.responder[i] & member).sum())
            row[f"N_{a}"] = float(m)
            row[f"ORR_{a}"] = k / m if m else float("nan")
            lo, hi = clopper_pearson(k, m) if m else (0.0, 1.0)
            row[f"ORR_LO_{a}"], row[f"ORR_HI_{a}"] = lo, hi
            for name, t, e in (
                ("PFS", r.pfs_time[i], r.pfs_event[i]),
                ("OS", r.os_time[i], r.os_event[i]),
            ):
                med = (
                    kaplan_meier(t[member], e[member].astype(int)).median().estimate if m else None
                )
                row[f"MEDIAN_{name}_{a}"] = float("nan") if med is None else med / DAYS_PER_MONTH
        if n_arms == 2:
            grp = (r.arm[i] == exp_arm).astype(int)
            for name, t, e in (
                ("PFS", r.pfs_time[i], r.pfs_event[i]),
                ("OS", r.os_time[i], r.os_event[i]),
            ):
                test = logrank_test(t, e.astype(int), grp) if e.any() else None
                one = test.groups.index("1") if test is not None and "1" in test.groups else 1
                ok = test is not None and test.chisq is not None
                row[f"{name}_CHISQ"] = test.chisq if ok else float("nan")  # type: ignore[union-attr,assignment]
                row[f"{name}_P"] = test.p if ok else float("nan")  # type: ignore[union-attr,assignment]
                row[f"{name}_OBSEXP"] = test.obs[one] - test.exp[one] if test is not None else 0.0
                row[f"{name}_EVENTS"] = float(e.sum())
        rows.append(row)
    return pl.DataFrame(rows, schema={k: pl.Float64 for k in rows[0]}) if rows else pl.DataFrame()


def protocol_confirmation(protocol: Protocol) -> bool:
    """Whether the protocol's ORR endpoint asks a confirmed response (RECIST 1.1 section 4.4)."""
    orr = [e for e in protocol.endpoints if e.kind == "orr" and e.response is not None]
    return bool(orr) and bool(orr[0].response and orr[0].response.confirmation_required)


def _summary(per_trial: pl.DataFrame, arms: tuple[str, ...]) -> pl.DataFrame:
    """Mean with its Monte Carlo standard error (SD / sqrt(replicates)), 2.5/50/97.5
    percentiles across replicates; medians not reached are left out and counted in NOT_REACHED
    (share of replicates)."""
    rows = []
    for a, arm in enumerate(arms):
        for stat, label in (
            ("ORR", "ORR"),
            ("MEDIAN_PFS", "mPFS, mo"),
            ("MEDIAN_OS", "mOS, mo"),
        ):
            raw = per_trial[f"{stat}_{a}"]
            x = raw.filter(raw.is_not_nan())
            rows.append(
                {
                    "ARM": arm,
                    "STATISTIC": label,
                    "MEAN": x.mean(),
                    "MCSE": (x.std() / np.sqrt(x.len())) if x.len() > 1 else None,
                    "P2_5": x.quantile(0.025),
                    "MEDIAN": x.median(),
                    "P97_5": x.quantile(0.975),
                    "NOT_REACHED": float(raw.is_nan().sum()) / max(raw.len(), 1),
                }
            )
        lo, hi = per_trial[f"ORR_LO_{a}"], per_trial[f"ORR_HI_{a}"]
        rows.append(
            {
                "ARM": arm,
                "STATISTIC": "ORR CI (mean)",
                "MEAN": None,
                "MCSE": None,
                "P2_5": lo.mean(),
                "MEDIAN": None,
                "P97_5": hi.mean(),
                "NOT_REACHED": None,
            }
        )
    out = pl.DataFrame(
        rows,
        schema={
            "ARM": pl.Utf8,
            "STATISTIC": pl.Utf8,
            "MEAN": pl.Float64,
            "MCSE": pl.Float64,
            "P2_5": pl.Float64,
            "MEDIAN": pl.Float64,
            "P97_5": pl.Float64,
            "NOT_REACHED": pl.Float64,
        },
    )
    return out.with_columns(pl.col(pl.Float64).fill_nan(None).round(3))
