"""Allocation of eligible virtual patients: randomization, dose escalation, sequential, single.

- randomized designs: permuted blocks within strata
  (:func:`~.design.stratified_block_randomization`),
  strata read from the protocol's ``randomization.strata`` (BCLC stage, Child-Pugh class, ECOG,
  portal-vein invasion, AFP >= 400 ng/mL, aetiology); BCLC stage and macrovascular invasion when
  the protocol names none (assumption);
- dose escalation: cohorts at the current level; each patient's DLT (CRS or ICANS grade >= 3 in
  the DLT window) comes from the disease model at that dose; the next level, and when to stop,
  from the safety engine's 3+3 or BOIN rule (:mod:`hcctrial.safety.three_plus_three`,
  :mod:`hcctrial.safety.boin`), the same rules the report replays over the simulated data;
- non-randomized arms: by enrolment order in proportion to the arms' planned sizes;
- one arm: everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from hcctrial.protocol import Protocol
from hcctrial.safety.boin import boin_decision as safety_boin
from hcctrial.safety.three_plus_three import three_plus_three_decision as safety_three_plus_three
from hcctrial.simulate.design import (
    arm_treatment,
    dose_amount,
    stratified_block_randomization,
)

__all__ = ["Allocation", "allocate", "strata_labels"]

_STRATA = {
    "bclc": lambda r: f"BCLC {r['BCLC']}",
    "child": lambda r: f"CP {r['CPCLASS']}",
    "ecog": lambda r: f"ECOG {r['ECOG']}",
    "portal": lambda r: f"PVTT {bool(r['MVI'])}",
    "vascular": lambda r: f"MVI {bool(r['MVI'])}",
    "pvtt": lambda r: f"PVTT {bool(r['MVI'])}",
    "afp": lambda r: f"AFP>=400 {r['AFP'] >= 400}",
    "aetiolog": lambda r: f"AET {r['AETIOL']}",
    "etiolog": lambda r: f"AET {r['AETIOL']}",
    "hbv": lambda r: f"HBV {r['AETIOL'] == 'HBV'}",
}


@dataclass
class Allocation:
    """Arm id (None = not enrolled) and dose-level id per eligible patient, in order."""

    arms: list[str | None]
    levels: list[str | None]
    level_labels: dict[int, str] = field(default_factory=dict)
    path: list[tuple[str, int, int]] = field(default_factory=list)


def strata_labels(protocol: Protocol, rows: list[dict[str, Any]]) -> list[str]:
    """Stratum of each patient from the protocol's named strata (matched by keyword)."""
    names = protocol.design.randomization.strata if protocol.design.randomization else []
    keys = [k for name in names for k in _STRATA if k in name.lower()]
    keys = list(dict.fromkeys(keys)) or ["bclc", "vascular"]
    return [" / ".join(_STRATA[k](r) for k in keys) for r in rows]


CohortDlts = Callable[[list[int], str, str], list[bool]]


def allocate(
    protocol: Protocol,
    rng: np.random.Generator,
    eligible: pl.DataFrame,
    seed: int,
    setting: str,
    *,
    cohort_dlts: CohortDlts | None = None,
) -> Allocation:
    """Allocate the eligible patients (rows of ``eligible``, enrolment order).

    ``cohort_dlts(positions, arm_id, level_id)`` (dose escalation): whether each patient of a
    cohort (positions in ``eligible``) had a DLT at that level; by default a CRS or ICANS of
    grade 3 or more drawn by the kinetic model.
    """
    n = eligible.height
    rows = eligible.to_dicts()
    design = protocol.design
    if design.dose_escalation is not None:
        return _escalate(protocol, rows, seed, setting, cohort_dlts)
    if design.randomization is not None:
        r = design.randomization
        arms = stratified_block_randomization(
            rng, strata_labels(protocol, rows), dict(r.ratio), list(r.block_sizes) or None
        )
        return Allocation(list(arms), [None] * n)
    if len(protocol.arms) == 1:
        return Allocation([protocol.arms[0].id] * n, [None] * n)
    sizes = np.array([a.planned_size or 1 for a in protocol.arms], float)
    out: list[str | None] = []
    counts = np.zeros(len(sizes))
    for k in range(n):
        # the arm furthest below its planned share so far (deterministic, balanced)
        deficit = (k + 1) * sizes / sizes.sum() - counts
        j = int(np.argmax(deficit))
        counts[j] += 1
        out.append(protocol.arms[j].id)
    return Allocation(out, [None] * n)


def _escalate(
    protocol: Protocol,
    rows: list[dict[str, Any]],
    seed: int,
    setting: str,
    cohort_dlts: CohortDlts | None,
) -> Allocation:
    from hcctrial.simulate.trial import subject_toxicity

    esc = protocol.design.dose_escalation
    assert esc is not None
    levels = list(esc.levels)
    arm_for = {lv: a.id for a in protocol.arms for lv in a.dose_levels}
    default_arm = protocol.arms[0].id
    n = [0] * len(levels)
    y = [0] * len(levels)
    current = levels.index(esc.start_level)
    arms: list[str | None] = [None] * len(rows)
    assigned: list[str | None] = [None] * len(rows)
    labels: dict[int, str] = {}
    path: list[tuple[str, int, int]] = []
    k = 0
    max_n = len(rows)
    while k + esc.cohort_size <= max_n:
        level = levels[current]
        arm_id = arm_for.get(level, default_arm)
        arm = protocol.arm(arm_id)
        treat = arm_treatment(protocol, arm, setting)
        members = list(range(k, k + esc.cohort_size))
        if cohort_dlts is not None:
            flags = cohort_dlts(members, arm_id, level)
        else:
            flags = []
            for m in members:
                row = rows[m]
                dose = protocol.dose_level(level).dose
                amount = dose_amount(dose, float(row["HEIGHT"]), float(row["WEIGHT"]))
                _, crs, icans = subject_toxicity(
                    seed,
                    int(row["PATIENT"]),
                    amount / 1e8,
                    float(row["SLD0"]),
                    treat.car,
                    treat.nk,
                )
                flags.append(crs >= 3 or icans >= 3)
        for m in members:
            arms[m], assigned[m] = arm_id, level
            labels[m] = protocol.dose_level(level).label
        cohort_dlt = int(sum(flags))
        k += esc.cohort_size
        j = levels.index(level)
        n[j] += esc.cohort_size
        y[j] += cohort_dlt
        path.append((level, esc.cohort_size, cohort_dlt))
        # the next cohort's level from the safety engine's rule (hcctrial.safety)
        if esc.design == "3+3":
            decision = safety_three_plus_three(n, y, j)
        else:
            decision = safety_boin(
                n,
                y,
                j,
                esc.target_dlt_rate or 0.3,
                max_n=max_n,
                cutoff=esc.elimination_cutoff,
                n_earlystop=esc.max_per_level,
            )
        if decision.action == "stop" or decision.level is None:
            break
        if esc.design == "3+3" and n[decision.level] >= 6:
            break  # 3+3 never treats more than 6 at a level
        current = decision.level
    return Allocation(arms, assigned, labels, path)
