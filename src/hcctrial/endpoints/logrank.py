"""Log-rank and Harrington-Fleming G-rho tests, optionally stratified (as R ``survdiff``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import chi2

from hcctrial.endpoints.km import FloatArray, check_survival_data, integer_times
from hcctrial.errors import InputError

__all__ = ["LogRank", "logrank_test"]


@dataclass(frozen=True)
class LogRank:
    """Result of :func:`logrank_test`.

    ``chisq``/``p`` are ``None`` (never NaN) when the test is not defined; ``note`` says why.
    ``obs``/``exp`` are the (weighted, when rho != 0) observed and expected events per group,
    ``var`` the variance matrix of obs - exp, as R's ``survdiff`` returns them.
    """

    groups: tuple[str, ...]
    n: tuple[int, ...]
    obs: tuple[float, ...]
    exp: tuple[float, ...]
    var: tuple[tuple[float, ...], ...]
    chisq: float | None
    df: int
    p: float | None
    rho: float
    stratified: bool
    note: str = ""


def _stratum_scores(
    t: FloatArray, e: npt.NDArray[np.bool_], g: npt.NDArray[np.int64], k: int, rho: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Observed, expected and variance contributions of one stratum (vectorized over times)."""
    ti = integer_times(t)
    if ti is not None and (int(ti.max()) + 1) * k > 4 * t.size + 4096:
        ti = None  # many groups: the (time, group) grid would outgrow the data; sort instead
    if ti is not None:
        # whole-day times: count per (time, group) cell directly, no sort (see integer_times)
        cell = ti * k + g
        size = (int(ti.max()) + 1) * k
        total = np.bincount(cell, minlength=size).reshape(-1, k).astype(np.float64)
        died = np.bincount(cell, weights=e, minlength=size).reshape(-1, k)
        seen = total.sum(axis=1) > 0
        total, died = total[seen], died[seen]
        m = total.shape[0]
    else:
        order = np.argsort(t)  # rows of one time are summed together: stability not needed
        ts, es, gs = t[order], e[order], g[order]
        new = np.empty(ts.size, dtype=bool)
        new[0] = True
        np.not_equal(ts[1:], ts[:-1], out=new[1:])
        tid = np.cumsum(new) - 1
        m = int(tid[-1]) + 1
        cell = tid * k + gs
        total = np.bincount(cell, minlength=m * k).reshape(m, k).astype(np.float64)
        died = np.bincount(cell, weights=es, minlength=m * k).reshape(m, k)
    # at risk at time j in group g: subjects of g with time >= t_j (reverse cumulative sum)
    at_risk = np.cumsum(total[::-1], axis=0)[::-1]
    d = died.sum(axis=1)
    nr = at_risk.sum(axis=1)
    if rho != 0:
        # weight S(t-)^rho from the pooled Kaplan-Meier of this stratum (R survdiff2.c)
        s_after = np.cumprod(1.0 - d / nr)
        s_before = np.concatenate(([1.0], s_after[:-1]))
        w = s_before**rho
    else:
        w = np.ones(m)
    keep = d > 0
    d, nr, w, at_risk, died = d[keep], nr[keep], w[keep], at_risk[keep], died[keep]
    frac = at_risk / nr[:, None]
    exp = (w[:, None] * frac * d[:, None]).sum(axis=0)
    obs = (w[:, None] * died).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(nr > 1, w**2 * d * (nr - d) / (nr - 1), 0.0)
    # V_gh = sum_j factor_j * frac_jg * (delta_gh - frac_jh)
    var = np.diag((factor[:, None] * frac).sum(axis=0)) - np.einsum(
        "j,jg,jh->gh", factor, frac, frac
    )
    return obs, exp, var, total.sum(axis=0)


def _factorize(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]]:
    """Sorted distinct labels (as text) and the code of each value.

    A hash table (pandas ``factorize``): O(n), instead of sorting a million values or strings;
    only the distinct labels are sorted (R orders factor levels the same way).
    """
    if values.dtype.kind in "biuf" and values.size:
        # small whole-number codes (0/1 arms): distinct values by counting, no hashing
        lo, hi = values.min(), values.max()
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 1024:
            shifted = (values - lo).astype(np.int64)
            if np.array_equal(shifted + lo, values):
                present = np.flatnonzero(np.bincount(shifted))
                lookup = np.full(present[-1] + 1, -1, dtype=np.int64)
                lookup[present] = np.arange(present.size)
                return (present + lo).astype(values.dtype).astype(str), lookup[shifted]
    codes_pd, levels_pd = pd.factorize(
        values if values.dtype.kind in "biuf" else values.astype(object), sort=True
    )
    if (codes_pd < 0).any():
        row = int(np.flatnonzero(codes_pd < 0)[0]) + 1
        raise InputError("missing group or stratum", row=row, expected="a value for every subject")
    return np.asarray(levels_pd).astype(str), codes_pd.astype(np.int64)


def logrank_test(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    group: npt.ArrayLike,
    strata: npt.ArrayLike | None = None,
    rho: float = 0.0,
) -> LogRank:
    r"""Log-rank test (``rho = 0``) or Peto-Peto / G-rho test (``rho = 1``), optionally stratified.

    With weights :math:`w_j = \hat S(t_j-)^\rho` (pooled Kaplan-Meier just before ``t_j``,
    Harrington & Fleming 1982, Biometrika 69:553):

    .. math::

        U_g = \sum_j w_j \Big(d_{jg} - d_j \frac{n_{jg}}{n_j}\Big), \quad
        V_{gh} = \sum_j w_j^2 \frac{d_j (n_j - d_j)}{n_j - 1}
                 \frac{n_{jg}}{n_j}\Big(\delta_{gh} - \frac{n_{jh}}{n_j}\Big)

    and :math:`\chi^2 = U' V^{-} U` on ``G - 1`` degrees of freedom. Stratified: U and V are
    summed over strata. Reproduces R ``survdiff(Surv(time, status) ~ group + strata(s), rho)``.
    """
    t, e = check_survival_data(time, event)
    g_raw = np.asarray(group)
    if g_raw.shape != t.shape:
        raise InputError("group must have one value per subject", value=g_raw.shape)
    labels, g = _factorize(g_raw)
    k = labels.size
    if strata is None:
        s_codes = np.zeros(1 if t.size else 0, dtype=np.int64)  # one stratum: codes unused
    else:
        s_arr = np.asarray(strata)
        if s_arr.shape != t.shape:
            raise InputError("strata must have one value per subject", value=s_arr.shape)
        s_codes = _factorize(s_arr)[1]
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    n_g = np.zeros(k)
    n_strata = int(s_codes.max()) + 1 if s_codes.size else 0
    for s in range(n_strata):
        if n_strata == 1:
            o, x, v, ng = _stratum_scores(t, e, g, k, rho)
        else:
            sel = s_codes == s
            o, x, v, ng = _stratum_scores(t[sel], e[sel], g[sel], k, rho)
        obs += o
        exp += x
        var += v
        n_g += ng
    df = k - 1
    note = ""
    chisq: float | None = None
    p: float | None = None
    if k < 2:
        note = f"not testable: only one group ({labels[0] if k else 'none'})"
    elif e.sum() == 0:
        note = "not testable: no events"
    else:
        diff = (obs - exp)[1:]
        vv = var[1:, 1:]
        if np.linalg.matrix_rank(vv) < vv.shape[0]:
            note = "variance matrix is singular (a group has no subjects at risk at event times)"
            chisq = float(diff @ np.linalg.pinv(vv) @ diff)
        else:
            chisq = float(diff @ np.linalg.solve(vv, diff))
        p = float(chi2.sf(chisq, df))
    return LogRank(
        groups=tuple(str(x) for x in labels),
        n=tuple(int(x) for x in n_g),
        obs=tuple(float(x) for x in obs),
        exp=tuple(float(x) for x in exp),
        var=tuple(tuple(float(y) for y in row) for row in var),
        chisq=chisq,
        df=df,
        p=p,
        rho=rho,
        stratified=strata is not None,
        note=note,
    )
