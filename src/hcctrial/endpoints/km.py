"""Kaplan-Meier estimation with Greenwood variance, confidence bands, quantiles and landmarks.

Everything here is vectorized numpy over one sorted pass of the data and reproduces R's
``survival`` package (``survfit``, ``summary.survfit``, ``quantile.survfit``; Therneau,
survival 3.5-3) to floating-point precision. Conventions that differ between packages:

* The confidence interval transform is a parameter: ``"log"`` (R's default,
  ``survfit(conf.type = "log")``), ``"log-log"`` (SAS PROC LIFETEST's default ``CONFTYPE=LOGLOG``,
  also what lifelines uses) or ``"plain"`` (linear, SAS ``CONFTYPE=LINEAR``).
* Quantiles and their confidence intervals follow Brookmeyer & Crowley (1982, Biometrics
  38:29-41) as R implements it: the CI of the p-th quantile is the set of times where the
  pointwise CI band of S(t) contains 1 - p; where S(t) is exactly 1 - p over an interval the
  quantile is the midpoint of that interval (R's ``survival:::findq``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from hcctrial.endpoints.counts import (
    EventTable,
    FloatArray,
    IntArray,
    check_survival_data,
    factorize,
    tabulate_codes,
)
from hcctrial.errors import InputError

__all__ = [
    "CONF_TYPES",
    "ConfType",
    "KaplanMeier",
    "Quantile",
    "confidence_band",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "kaplan_meier_from_counts",
    "numbers_at_risk",
]

ConfType = Literal["log", "log-log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")

# R survival:::quantile.survfit default tolerance, sqrt(.Machine$double.eps).
_R_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def confidence_band(
    surv: FloatArray, se_log: FloatArray, conf_type: str = "log", conf_level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Pointwise confidence limits for S(t) as R's ``survival:::survfit_confint``.

    With ``s`` the Greenwood standard error of ``log S`` and ``z = Phi^-1(1 - alpha/2)``:

    * log:     ``S exp(-z s)``, ``min(1, S exp(z s))``; undefined where S = 0
    * log-log: ``S^exp(z s / log S)``, ``S^exp(-z s / log S)``; undefined where S is 0 or 1
    * plain:   ``max(0, S - z s S)``, ``min(1, S + z s S)``

    Undefined limits are NaN here (R gives NA); callers that report them say why.
    """
    if conf_type not in CONF_TYPES:
        raise InputError(
            "unknown confidence interval transform",
            value=conf_type,
            expected=" | ".join(CONF_TYPES),
        )
    if not 0.0 < conf_level < 1.0:
        raise InputError("confidence level must be in (0, 1)", value=conf_level)
    z = float(norm.ppf(1.0 - (1.0 - conf_level) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * se_log * surv
            half = np.where(se_log == 0, 0.0, half)
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
        elif conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se_log)
            upper = np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        else:
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * se_log / np.log(xx)
            loglog = np.log(-np.log(xx))
            lower = np.exp(-np.exp(loglog - se2))
            upper = np.exp(-np.exp(loglog + se2))
    return lower, upper


@dataclass(frozen=True)
class Quantile:
    """A survival quantile (e.g. the median) with its Brookmeyer-Crowley confidence interval.

    ``None`` means "not reached"; ``note`` says why in words a reader of the table understands.
    """

    prob: float
    estimate: float | None
    lower: float | None
    upper: float | None
    conf_type: str
    conf_level: float
    note: str = ""


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier fit: one row per distinct observed time (events and censorings).

    Attributes mirror R's ``summary(survfit(...), censored = TRUE)``: ``n_risk`` subjects at risk
    just before ``time``, ``n_event`` and ``n_censor`` at ``time``, ``surv`` the product-limit
    estimate, ``std_err`` its Greenwood standard error (of S, as R's summary reports it) and the
    pointwise CI ``lower``/``upper`` under ``conf_type``.
    """

    time: FloatArray
    n_risk: IntArray
    n_event: IntArray
    n_censor: IntArray
    surv: FloatArray
    se_log: FloatArray
    lower: FloatArray
    upper: FloatArray
    conf_type: str
    conf_level: float
    n: int
    events: int
    first_time: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def std_err(self) -> FloatArray:
        """Greenwood standard error of S(t): ``S(t) * sqrt(sum d / (n (n - d)))``."""
        with np.errstate(invalid="ignore"):
            return self.surv * self.se_log

    def _index_at(self, times: FloatArray) -> IntArray:
        """Index of the last table row with ``time <= t`` (-1 before the first row)."""
        return np.searchsorted(self.time, times, side="right").astype(np.int64) - 1

    def survival_at(self, times: npt.ArrayLike) -> dict[str, FloatArray]:
        """S(t), its standard error and CI at chosen times (R ``summary(fit, times, extend=TRUE)``).

        Before the first event S = 1 with zero variance. Numbers at risk count subjects with
        follow-up ``>= t``.
        """
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        idx = self._index_at(t)
        has = idx >= 0
        safe = np.where(has, idx, 0)
        surv = np.where(has, self.surv[safe], 1.0)
        se_log = np.where(has, self.se_log[safe], 0.0)
        lower = np.where(has, self.lower[safe], 1.0 if self.conf_type != "log-log" else np.nan)
        upper = np.where(has, self.upper[safe], 1.0 if self.conf_type != "log-log" else np.nan)
        at_risk = self.n_at_risk(t)
        with np.errstate(invalid="ignore"):
            std_err = surv * se_log
        return {
            "time": t,
            "n_risk": at_risk.astype(np.float64),
            "surv": surv,
            "std_err": std_err,
            "lower": lower,
            "upper": upper,
        }

    def n_at_risk(self, times: npt.ArrayLike) -> IntArray:
        """Number of subjects with follow-up time ``>= t`` for each ``t``."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        # subjects with time >= t = n - (number with time < t)
        removed = np.concatenate(([0], np.cumsum(self.n_event + self.n_censor)))
        pos = np.searchsorted(self.time, t, side="left")
        return (self.n - removed[pos]).astype(np.int64)

    def quantile(self, prob: float = 0.5) -> Quantile:
        """The time by which a fraction ``prob`` has had the event, with Brookmeyer-Crowley CI.

        Implements R's ``survival:::findq`` on ``F(t) = 1 - S(t)`` (and on 1 - the CI limits):
        the quantile is the first time with ``F >= p``; if F equals p (within sqrt(machine eps))
        over an interval the result is the midpoint of that interval, and if F stays at p until
        the last observed time it is the midpoint of the first such time and the last time.
        """
        x = np.concatenate(([self.first_time], self.time))
        est = _findq(x, 1.0 - np.concatenate(([1.0], self.surv)), prob)
        low = _findq(x, 1.0 - np.concatenate(([1.0], self.lower)), prob)
        upp = _findq(x, 1.0 - np.concatenate(([1.0], self.upper)), prob)
        notes = []
        pct = f"{prob:.0%}"
        min_s = float(self.surv.min()) if self.surv.size else 1.0
        plural = "" if self.events == 1 else "s"
        if est is None:
            notes.append(
                f"not reached: survival stays above {1 - prob:.2f} "
                f"(lowest estimate {min_s:.3f}, {self.events} event{plural})"
            )
        if upp is None:
            notes.append(
                f"upper limit of the {pct} quantile not reached: the {self.conf_type} "
                f"lower confidence limit of S(t) stays above {1 - prob:.2f}"
            )
        if low is None and est is not None:
            notes.append(f"lower limit not estimable under the {self.conf_type} transform")
        return Quantile(
            prob=prob,
            estimate=est,
            lower=low,
            upper=upp,
            conf_type=self.conf_type,
            conf_level=self.conf_level,
            note="; ".join(notes),
        )

    def median(self) -> Quantile:
        """Median survival time with its Brookmeyer-Crowley CI (see :meth:`quantile`)."""
        return self.quantile(0.5)


def _findq(x: FloatArray, y: FloatArray, p: float, tol: float = _R_TOLERANCE) -> float | None:
    """R ``survival:::findq`` for one probability: first x where the CDF ``y`` reaches ``p``.

    ``y`` is non-decreasing with possible NaN (undefined CI limits), which are ignored like R's
    ``approx(na.rm = TRUE)``. Returns ``None`` when ``y`` never reaches ``p``.
    """
    # the same tolerance as the plateau test below: a curve at 0.5 up to rounding reaches 0.5
    if y.size == 0 or not np.isfinite(y).any() or np.nanmax(y) < p - tol:
        return None
    xmax = float(x[-1])
    # duplicated(y): keep the first occurrence of each value (NaN counted as one value)
    keep = np.ones(y.size, dtype=bool)
    keep[1:] = ~((y[1:] == y[:-1]) | (np.isnan(y[1:]) & np.isnan(y[:-1])))
    # R's duplicated() compares against all earlier values; y is monotone apart from NaN,
    # so equal values are adjacent once NaNs are removed below.
    xs, ys = x[keep], y[keep]
    finite = ~np.isnan(ys)
    xs_f, ys_f = xs[finite], ys[finite]
    if p == 0:
        return float(xs[0])
    i1 = int(np.searchsorted(ys_f, p - tol, side="left"))  # first y >= p - tol
    i2 = int(np.searchsorted(ys_f, p + tol, side="left"))  # first y >= p + tol
    if i1 >= ys_f.size:
        return None
    last_is_p = abs(p - ys[-1]) < tol if not np.isnan(ys[-1]) else False
    if i2 >= ys_f.size:
        # R: approx() gives NA beyond the last point; only the lastpt rule rescues it
        return (float(xs_f[i1]) + xmax) / 2.0 if last_is_p else None
    if last_is_p:
        return (float(xs_f[i1]) + xmax) / 2.0
    return (float(xs_f[i1]) + float(xs_f[i2])) / 2.0


def kaplan_meier(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> KaplanMeier:
    r"""Kaplan-Meier product-limit estimate with Greenwood variance.

    .. math::

        \hat S(t) = \prod_{t_j \le t} \left(1 - \frac{d_j}{n_j}\right), \qquad
        \widehat{\mathrm{Var}}\,[\log \hat S(t)] = \sum_{t_j \le t} \frac{d_j}{n_j (n_j - d_j)}

    (Kaplan & Meier 1958, JASA 53:457; Greenwood 1926). Matches R
    ``survfit(Surv(time, status) ~ 1, conf.type = conf_type)``.

    Parameters
    ----------
    time : array of follow-up times (>= 0, any unit)
    event : array of 0 (censored) / 1 (event)
    conf_type : "log" (R default), "log-log" (SAS default) or "plain"
    conf_level : two-sided confidence level

    Examples
    --------
    >>> fit = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
    >>> [round(float(s), 4) for s in fit.surv]   # 3/4; 3/4 * 2/3 = 1/2; then 0
    [0.75, 0.5, 0.0]
    """
    t, e = check_survival_data(time, event)
    _check_conf_type(conf_type)
    if t.size == 0:
        raise InputError("Kaplan-Meier needs at least one subject", value=0)
    tab = tabulate_codes(t, e, None, 1, ("all",))
    return kaplan_meier_from_counts(
        tab.time, tab.n_total[:, 0], tab.n_event[:, 0], conf_type, conf_level
    )


def _check_conf_type(conf_type: str) -> None:
    if conf_type not in CONF_TYPES:
        raise InputError(
            "unknown confidence interval transform",
            value=conf_type,
            expected=" | ".join(CONF_TYPES),
        )


def kaplan_meier_from_counts(
    utime: FloatArray,
    n_total: IntArray,
    n_event: IntArray,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> KaplanMeier:
    """:func:`kaplan_meier` from the counts per distinct time (see :mod:`.counts`).

    ``utime`` ascending distinct times, ``n_total`` subjects whose follow-up ends there,
    ``n_event`` how many of them had the event; at risk ``n_j = n - sum_{i<j} n_total_i``.
    """
    _check_conf_type(conf_type)
    n = int(n_total.sum())
    if n == 0:
        raise InputError("Kaplan-Meier needs at least one subject", value=0)
    n_censor = n_total - n_event
    # at risk at each distinct time: everyone whose time is not earlier
    n_risk = (n - (np.cumsum(n_total) - n_total)).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv: FloatArray = np.cumprod(1.0 - n_event / n_risk).astype(np.float64)
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    var_log = np.cumsum(term)
    se_log = np.sqrt(var_log)
    lower, upper = confidence_band(surv, se_log, conf_type, conf_level)
    events = int(n_event.sum())
    notes: list[str] = []
    if events == 0:
        notes.append("no events: S(t) = 1 throughout, quantiles not reached")
    if np.isinf(se_log).any():
        notes.append(
            "S(t) reaches 0 (all remaining subjects had the event): Greenwood variance and the "
            f"{conf_type} CI are undefined from that time on"
        )
    return KaplanMeier(
        time=utime,
        n_risk=n_risk,
        n_event=n_event.astype(np.int64),
        n_censor=n_censor.astype(np.int64),
        surv=surv,
        se_log=se_log,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        conf_level=conf_level,
        n=n,
        events=events,
        notes=tuple(notes),
    )


def kaplan_meier_by_group(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    group: npt.ArrayLike,
    conf_type: str = "log",
    conf_level: float = 0.95,
    table: EventTable | None = None,
) -> dict[str, KaplanMeier]:
    """One Kaplan-Meier fit per group (arm), from one tabulation of all subjects.

    Equal to ``kaplan_meier(time[group == g], event[group == g])`` for each ``g`` (R
    ``survfit(Surv(time, status) ~ group)``) without selecting the rows of each arm: the
    counts per (time, arm) come from one pass (:func:`~hcctrial.endpoints.counts.tabulate`).
    Pass ``table`` to reuse a tabulation (e.g. the one the log-rank test uses); ``time``,
    ``event`` and ``group`` are then not read. Keys are the group labels, sorted.
    """
    _check_conf_type(conf_type)
    if table is None:
        t, e = check_survival_data(time, event)
        g_arr = np.asarray(group)
        if g_arr.shape != t.shape:
            raise InputError("group must have one value per subject", value=g_arr.shape)
        labels, codes = factorize(g_arr)
        table = tabulate_codes(t, e, codes, len(labels), labels)
    out: dict[str, KaplanMeier] = {}
    for i, label in enumerate(table.groups):
        ut, tot, ev = table.group(i)
        out[label] = kaplan_meier_from_counts(ut, tot, ev, conf_type, conf_level)
    return out


def numbers_at_risk(time: npt.ArrayLike, at: npt.ArrayLike) -> IntArray:
    """Subjects still under observation (follow-up time ``>= t``) at each time in ``at``."""
    t = np.sort(np.asarray(time, dtype=np.float64))
    a = np.atleast_1d(np.asarray(at, dtype=np.float64))
    return (t.size - np.searchsorted(t, a, side="left")).astype(np.int64)
