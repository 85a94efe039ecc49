"""Log-rank and Harrington-Fleming G-rho tests, optionally stratified (as R ``survdiff``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from hcctrial.endpoints.counts import (
    EventTable,
    FloatArray,
    check_survival_data,
    factorize,
    tabulate_codes,
)
from hcctrial.errors import InputError

__all__ = ["LogRank", "logrank_from_table", "logrank_test"]


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
    strata: tuple[str, ...] = ()


def _stratum_scores(
    table: EventTable, rho: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Observed, expected and variance contributions of one stratum (vectorized over times)."""
    total = table.n_total.astype(np.float64)
    died = table.n_event.astype(np.float64)
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
        w = np.ones(d.size)
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
    summed over strata (risk sets within each stratum). Reproduces R
    ``survdiff(Surv(time, status) ~ group + strata(s), rho = rho)``. The counts come from one
    pass per stratum (:mod:`hcctrial.endpoints.counts`).
    """
    t, e = check_survival_data(time, event)
    g_raw = np.asarray(group)
    if g_raw.shape != t.shape:
        raise InputError("group must have one value per subject", value=g_raw.shape)
    labels, g = factorize(g_raw, "group")
    if strata is None:
        return logrank_from_table(tabulate_codes(t, e, g, len(labels), labels), rho)
    s_arr = np.asarray(strata)
    if s_arr.shape != t.shape:
        raise InputError("strata must have one value per subject", value=s_arr.shape)
    s_labels, s_codes = factorize(s_arr, "stratum")
    k = len(labels)
    present = np.bincount(g, minlength=k) > 0  # small integer codes may leave empty levels
    if not present.all():
        g = (np.cumsum(present) - 1)[g]
        labels = tuple(lab for lab, p in zip(labels, present, strict=True) if p)
        k = len(labels)
    order = np.argsort(s_codes, kind="stable")
    bounds = np.searchsorted(s_codes[order], np.arange(len(s_labels) + 1))
    tables: list[EventTable] = []
    used: list[str] = []
    for i, name in enumerate(s_labels):
        rows = order[bounds[i] : bounds[i + 1]]
        if rows.size:
            tables.append(tabulate_codes(t[rows], e[rows], g[rows], k, labels, drop_empty=False))
            used.append(name)
    return _combine(tables, labels, rho, tuple(used))


def logrank_from_table(table: EventTable, rho: float = 0.0) -> LogRank:
    """:func:`logrank_test` (unstratified) from a tabulation (:mod:`hcctrial.endpoints.counts`).

    The Kaplan-Meier fits per arm and the log-rank test can so share one pass over the
    subjects (:func:`~hcctrial.endpoints.km.kaplan_meier_by_group` with ``table=``).
    """
    return _combine([table], table.groups, rho, None)


def _combine(
    tables: list[EventTable],
    labels: tuple[str, ...],
    rho: float,
    strata: tuple[str, ...] | None,
) -> LogRank:
    """Sum score, expectation and variance over strata; chi-square ``U' V^- U``."""
    k = len(labels)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    n_g = np.zeros(k)
    events = 0
    for table in tables:
        if table.n_total.shape[0] == 0:
            continue
        o, x, v, ng = _stratum_scores(table, rho)
        obs += o
        exp += x
        var += v
        n_g += ng
        events += int(table.n_event.sum())
    df = k - 1
    note = ""
    chisq: float | None = None
    p: float | None = None
    if k < 2:
        note = f"not testable: only one group ({labels[0] if k else 'none'})"
    elif events == 0:
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
        groups=labels,
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
        strata=strata or (),
    )
