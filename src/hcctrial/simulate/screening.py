"""Screening virtual patients with the protocol's real criteria (the eligibility engine).

Patients are drawn in batches from :func:`~hcctrial.simulate.population.sample_baseline` and
screened one by one, in arrival order, until the enrolment target is met; the screen-failure
rate is therefore an output. Investigator-judgement criteria are decided in the patient's favour
(assumption SIM-JUDGE): an inclusion is met, an exclusion does not apply.

Who is screened is the trial's referral profile (:class:`~hcctrial.simulate.parameters.Referral`,
:func:`~hcctrial.simulate.parameters.referral_for`): the population a site refers to that trial,
not the unselected advanced-HCC cohort. A patient who meets every criterion still withdraws
before enrolment with the profile's ``withdrawal`` probability (assumption SIM-WITHDRAW, of the
order of Parekh 2022): a screen failure without a failed criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from hcctrial.eligibility import (
    PatientDecision,
    criteria_from_protocol,
    record_from_dict,
    screen_patient,
)
from hcctrial.errors import InputError
from hcctrial.protocol import Protocol
from hcctrial.simulate.parameters import Referral, referral_for
from hcctrial.simulate.population import patient_record, sample_baseline

__all__ = ["Screening", "screen_virtual_patients"]

#: At most this many patients are screened per enrolled patient before giving up.
MAX_SCREENED_PER_ENROLLED = 40


@dataclass
class Screening:
    """Screened patients (baseline rows, in arrival order), their decisions, and whether each
    patient who met the criteria withdrew before enrolment."""

    baseline: pl.DataFrame
    decisions: list[PatientDecision]
    withdrew: list[bool]
    referral: Referral

    @property
    def eligible(self) -> list[bool]:
        """Whether each screened patient is eligible and did not withdraw."""
        return [
            d.decision == "eligible" and not w
            for d, w in zip(self.decisions, self.withdrew, strict=True)
        ]

    @property
    def screen_failure_rate(self) -> float:
        """Share of screened patients who were not eligible."""
        if not self.decisions:
            return 0.0
        return 1.0 - sum(self.eligible) / len(self.decisions)

    def failed_criteria(self, index: int) -> list[tuple[str, str, str]]:
        """(criterion id, kind, result 'N'/'Y'/'UNKNOWN') of the criteria patient ``index`` failed:
        an inclusion not met ('N'), an exclusion met ('Y'), or unknown."""
        out: list[tuple[str, str, str]] = []
        for r in self.decisions[index].results:
            if r.effect == "fails":
                out.append((r.criterion.id, r.criterion.kind, "Y" if r.status == "met" else "N"))
            elif r.effect == "unknown" and self.decisions[index].decision == "incomplete":
                out.append((r.criterion.id, r.criterion.kind, "UNKNOWN"))
        return out


def screen_virtual_patients(
    protocol: Protocol,
    rng: np.random.Generator,
    needed: int,
    as_of: date,
    referral: Referral | None = None,
) -> Screening:
    """Screen virtual patients until ``needed`` are eligible (all on ``as_of``), drawn from
    ``referral`` (default: the protocol's profile, :func:`referral_for`).

    Raises
    ------
    InputError : when fewer than ``needed`` of ``40 x needed + 200`` patients are eligible; the
        message names the criteria that excluded most patients.
    """
    referral = referral or referral_for(protocol.id)
    criteria, lookback = criteria_from_protocol(protocol)
    judgements = {c.id: c.kind == "inclusion" for c in protocol.eligibility.criteria if c.judgement}
    cap = MAX_SCREENED_PER_ENROLLED * needed + 200
    frames: list[pl.DataFrame] = []
    decisions: list[PatientDecision] = []
    withdrew: list[bool] = []
    n_eligible = 0
    offset = 0
    while n_eligible < needed and offset < cap:
        batch = min(max(50, 3 * (needed - n_eligible)), cap - offset)
        frame = sample_baseline(rng, batch, referral).with_columns(pl.col("PATIENT") + offset)
        leaves = rng.random(batch) < referral.withdrawal
        offset += batch
        screened = 0
        for row in frame.iter_rows(named=True):
            record = record_from_dict(patient_record(row, as_of, judgements), today=as_of)
            decision = screen_patient(
                protocol, record, as_of, criteria=criteria, lookback_days=lookback
            )
            decisions.append(decision)
            met = decision.decision == "eligible"
            withdrew.append(met and bool(leaves[screened]))
            screened += 1
            n_eligible += met and not withdrew[-1]
            if n_eligible >= needed:
                break
        frames.append(frame.head(screened))
    if n_eligible < needed:
        counts: dict[str, int] = {}
        for d in decisions:
            for r in d.results:
                if r.effect in ("fails", "unknown"):
                    counts[r.criterion.id] = counts.get(r.criterion.id, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        raise InputError(
            f"protocol {protocol.id}: only {n_eligible} of {len(decisions)} virtual patients "
            f"are eligible, {needed} needed",
            value=", ".join(f"{k} excluded {v}" for k, v in top),
            expected="criteria that a share of advanced-HCC patients can meet",
        )
    return Screening(pl.concat(frames), decisions, withdrew, referral)
