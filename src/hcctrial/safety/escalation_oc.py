"""Operating characteristics of a dose-escalation design, 3+3 (exact) or BOIN (simulated).

One entry point for both designs, as ``hcctrial escalate --simulate`` shows them: per level
the probability of being selected as MTD (with its Monte Carlo standard error for BOIN),
the mean patients and DLTs; overall the probability of selecting no dose and of stopping
early, the mean sample size and DLTs; and the design stated in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hcctrial.errors import InputError
from hcctrial.safety.boin import ELIMINATION_CUTOFF
from hcctrial.safety.decision_table import DecisionTable

__all__ = ["VARIANT_33", "DesignOC", "design_operating_characteristics"]

#: The 3+3 variant in words (hcctrial.safety.three_plus_three: Storer 1989 design A with the
#: Lin and Shih 2001 A+B de-escalation, A = B = 3), with and without de-escalation.
VARIANT_33 = {
    True: "0/3 DLT escalate; 1/3 treat 3 more, <= 1/6 escalate; >= 2 DLT (of 3 or 6): the level "
    "exceeds the MTD and the next lower level is the MTD once it has 6 patients with <= 1/6 "
    "(3 more are treated there if it has 3); passing the highest level selects it",
    False: "0/3 DLT escalate; 1/3 treat 3 more, <= 1/6 escalate; >= 2 DLT (of 3 or 6): the level "
    "exceeds the MTD and the next lower level is the MTD as it stands (3 or 6 patients); "
    "passing the highest level selects it",
}


@dataclass(frozen=True)
class DesignOC:
    """``table``: per level ``LEVEL`` (1-based), ``TRUEP``, ``PSELECT`` (%), [``PSELECT_SE``],
    ``MEAN_N``, [``PCT_PATIENTS``], ``MEAN_DLT``, [``MEAN_BACKFILL``]; ``overall``: ``p_none``,
    ``p_early_stop`` (%), ``mean_n``, ``mean_dlt`` (BOIN: also ``dlt_rate`` and ``*_se``);
    ``design`` and ``method`` in words; ``notes``: further (label, text) lines."""

    table: pl.DataFrame
    overall: dict[str, float]
    design: str
    method: str
    notes: list[tuple[str, str]] = field(default_factory=list)


def design_operating_characteristics(
    design: str,
    true_p: Sequence[float] | np.ndarray,
    *,
    target: float | None = None,
    start: int = 0,
    cohort_size: int = 3,
    max_n: int = 30,
    trials: int = 10_000,
    seed: int = 20150101,
    deescalate: bool = True,
    p_saf: float | None = None,
    p_tox: float | None = None,
    cutoff: float = ELIMINATION_CUTOFF,
    table: DecisionTable | None = None,
    backfill_size: int = 0,
    backfill_cap: int | None = None,
) -> DesignOC:
    """Operating characteristics of ``design`` (``"3+3"``: exact enumeration; ``"boin"``:
    ``trials`` simulated trials with Monte Carlo standard errors) at the true DLT rates
    ``true_p`` (one per level, lowest first)."""
    key = design.strip().lower()
    rates = np.asarray(true_p, dtype=float)
    if key == "3+3":
        from hcctrial.safety.three_plus_three import three_plus_three_oc

        if table is not None or backfill_size:
            raise InputError(
                "decision tables and backfill are simulated for BOIN, not 3+3",
                expected="--design boin",
            )
        ex = three_plus_three_oc(rates, start=start, deescalate=deescalate)
        out = ex.table.select(
            "LEVEL",
            "TRUEP",
            (100 * pl.col("PSELECT")).alias("PSELECT"),
            pl.col("EN").alias("MEAN_N"),
            pl.col("EDLT").alias("MEAN_DLT"),
        )
        overall = {
            "p_none": 100 * ex.p_none,
            "p_early_stop": 100 * ex.p_none,  # 3+3 stops early only with no dose selected
            "mean_n": ex.expected_n,
            "mean_dlt": ex.expected_dlt,
        }
        variant = "with" if deescalate else "without"
        return DesignOC(
            out,
            overall,
            f"3+3 {variant} de-escalation (Storer 1989; Lin and Shih 2001)",
            "exact enumeration (no Monte Carlo error)",
            [("variant", VARIANT_33[deescalate])],
        )
    if key != "boin":
        raise InputError("unknown design", value=design, expected="boin or 3+3")
    from hcctrial.safety.boin import boin_boundaries
    from hcctrial.safety.boin_simulation import operating_characteristics, simulate_boin

    if target is None:
        raise InputError("BOIN needs a target DLT rate", expected="--target, e.g. 0.3")
    if trials < 1:
        raise InputError("number of trials must be >= 1", value=trials)
    if backfill_size < 0 or (backfill_cap is not None and backfill_cap < 1):
        raise InputError("backfill takes >= 0 patients and a cap >= 1")
    sim = simulate_boin(
        rates,
        target,
        n_trials=trials,
        cohort_size=cohort_size,
        max_n=max_n,
        start=start,
        seed=seed,
        p_saf=p_saf,
        p_tox=p_tox,
        cutoff=cutoff,
        table=table,
        backfill_size=backfill_size,
        backfill_cap=backfill_cap,
    )
    out, overall = operating_characteristics(sim)
    lam_e, lam_d = boin_boundaries(target, p_saf, p_tox)
    text = (
        f"BOIN (Liu and Yuan 2015), target {target:g}, lambda_e {lam_e:.4f}, "
        f"lambda_d {lam_d:.4f}, elimination Pr(p > target) > {cutoff:g} with n >= 3"
    )
    if table is not None:
        text = f"BOIN with the decision table {table.source} (MTD: target {target:g})"
    notes = []
    if backfill_size:
        cap = f", at most {backfill_cap} patients per level" if backfill_cap else ""
        notes.append(
            (
                "backfill",
                f"{backfill_size} patients at the highest cleared level below the next "
                f"cohort's after each cohort{cap}; closed from a level whose pooled DLT rate "
                "reaches the de-escalation boundary",
            )
        )
    method = f"{trials} simulated trials (seed {seed}); SE = Monte Carlo standard error"
    return DesignOC(out, overall, text, method, notes)
