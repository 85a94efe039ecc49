"""Trial designs: what each arm gives, stratified randomization, dose-escalation decisions.

- :func:`arm_treatment`: reads an arm's interventions (TACE/TAE procedure, cell product,
  targeted drug) into the model's :class:`~hcctrial.simulate.disease.ArmTreatment`.
- :func:`stratified_block_randomization`: permuted blocks within strata (Zelen 1974; ICH E9
  section 2.3.1), seeded, reproducible.
- :func:`three_plus_three_decision` (Storer BE, Biometrics 1989;45:925) and
  :func:`boin_boundaries` / :func:`boin_decision` (Liu S, Yuan Y, J R Stat Soc C 2015;64:507):
  the escalation rules the simulator uses; the safety engine (``hcctrial.safety``) is used
  instead when it provides them.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
import numpy.typing as npt

from hcctrial.clinical import bsa_mosteller
from hcctrial.errors import InputError
from hcctrial.protocol import Arm, Dose, Protocol
from hcctrial.simulate.disease import ArmTreatment
from hcctrial.simulate.parameters import CELL_KINETICS

__all__ = [
    "REFERENCE_CELL_DOSE",
    "arm_treatment",
    "boin_boundaries",
    "boin_decision",
    "dose_amount",
    "stratified_block_randomization",
    "three_plus_three_decision",
    "trial_setting",
]

#: Reference dose of the kinetic model: median 1.0e8 CAR+ cells for patients > 50 kg in Stein
#: 2019 (ELIANA/ENSIGN, as quoted in nlmixr2lib); the value lives in ``CELL_KINETICS``.
REFERENCE_CELL_DOSE = CELL_KINETICS.reference_dose_cells

_TACE = re.compile(r"\b(TACE|TAE|chemoemboli[sz]ation|emboli[sz]ation)\b", re.IGNORECASE)
_TARGETED = re.compile(
    r"sorafenib|lenvatinib|regorafenib|cabozantinib|donafenib|apatinib|targeted", re.IGNORECASE
)
_CAR = re.compile(r"\bCAR\b|chimeric antigen receptor", re.IGNORECASE)
# NK cells, not NKT / iNKT cells ("natural killer T")
_NK = re.compile(r"\bNK\b(?![- ]?T\b)|natural killer(?! T\b)(?! \(NK\) T\b)", re.IGNORECASE)

Decision = Literal["escalate", "stay", "de-escalate", "stop"]


def _text(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def arm_treatment(protocol: Protocol, arm: Arm, setting: str) -> ArmTreatment:
    """The model's view of an arm: TACE/TAE, a cell product (CAR or not, NK cells or not), a
    targeted drug."""
    items = [protocol.intervention(i) for i in arm.interventions]
    tace = any(
        i.kind == "procedure" and _TACE.search(_text(i.id, i.name, i.product)) for i in items
    )
    cells = [i for i in items if i.kind == "biological"]
    systemic = any(
        i.kind == "drug" and (_TARGETED.search(_text(i.id, i.name, i.product)) or i.choice_group)
        for i in items
    )
    car = any(_CAR.search(_text(i.name, i.product, i.cell_type, i.id)) for i in cells)
    nk = any(_NK.search(_text(i.name, i.product, i.cell_type, i.id)) for i in cells)
    return ArmTreatment(
        tace=tace,
        cells=bool(cells),
        systemic=systemic,
        experimental=arm.type == "experimental",
        car=car,
        setting=setting,
        nk=nk,
    )


def trial_setting(protocol: Protocol) -> str:
    """The control setting of the trial: ``tace`` if any arm has TACE/TAE, ``systemic`` if any has
    a targeted drug, else ``refractory`` (cell product after standard therapy)."""
    items = protocol.interventions
    if any(i.kind == "procedure" and _TACE.search(_text(i.id, i.name, i.product)) for i in items):
        return "tace"
    if any(
        i.kind == "drug" and (_TARGETED.search(_text(i.id, i.name)) or i.choice_group)
        for i in items
    ):
        return "systemic"
    return "refractory"


def dose_amount(dose: Dose, height_cm: float, weight_kg: float) -> float:
    """The amount of one dose for this patient, in the unit's numerator (cells, IU, mg).

    A range ``low..high`` uses its geometric mean (assumption); per-m2 doses use Mosteller BSA
    (Mosteller, NEJM 1987;317:1098); per-kg doses the body weight.
    """
    value = dose.value if dose.value is not None else math.sqrt((dose.low or 0) * (dose.high or 0))
    if dose.basis == "per-m2":
        return value * bsa_mosteller(height_cm, weight_kg)
    if dose.basis == "per-kg":
        return value * weight_kg
    return value


def stratified_block_randomization(
    rng: np.random.Generator,
    strata: list[str],
    ratio: dict[str, int],
    block_sizes: list[int] | None = None,
) -> list[str]:
    """Arm per subject (in enrolment order) by permuted blocks within each stratum.

    Each block holds every arm ``ratio[arm] * (size / sum(ratio))`` times in random order; the
    block size is drawn from ``block_sizes`` (default: 1x and 2x the ratio total), so that
    allocation is balanced within strata and hard to predict.

    >>> arms = stratified_block_randomization(np.random.default_rng(1), ["a"] * 8, {"x": 1, "y": 1})
    >>> sorted(arms).count("x")
    4
    """
    total = sum(ratio.values())
    sizes = block_sizes or [total, 2 * total]
    if any(s % total for s in sizes):
        raise InputError("block size not a multiple of the ratio total", value=sizes)
    queues: dict[str, list[str]] = {}
    out: list[str] = []
    for stratum in strata:
        queue = queues.setdefault(stratum, [])
        if not queue:
            size = int(rng.choice(sizes))
            block = [arm for arm, r in ratio.items() for _ in range(r * size // total)]
            queue.extend(str(a) for a in rng.permutation(block))
        out.append(queue.pop(0))
    return out


def three_plus_three_decision(n_treated: int, n_dlt: int) -> Decision:
    """The 3+3 rule at one dose level (Storer 1989, design 'A'):

    0/3 DLT -> escalate; 1/3 -> stay (expand to 6); 1/6 -> escalate; >= 2 -> stop (the next lower
    level is the MTD), checked after each cohort of 3.

    >>> three_plus_three_decision(3, 0), three_plus_three_decision(3, 1)
    ('escalate', 'stay')
    >>> three_plus_three_decision(6, 1), three_plus_three_decision(6, 2)
    ('escalate', 'stop')
    """
    if n_dlt >= 2:
        return "stop"
    if n_treated <= 3:
        return "escalate" if n_dlt == 0 else "stay"
    return "escalate"


def boin_boundaries(
    target: float, p_saf: float | None = None, p_tox: float | None = None
) -> tuple[float, float]:
    """BOIN escalation/de-escalation boundaries (Liu and Yuan 2015, equation 2):

    ``lambda_e = log((1-p1)/(1-phi)) / log(phi (1-p1) / (p1 (1-phi)))`` and
    ``lambda_d = log((1-phi)/(1-p2)) / log(p2 (1-phi) / (phi (1-p2)))`` with p1 = 0.6 phi and
    p2 = 1.4 phi by default.

    >>> [round(x, 3) for x in boin_boundaries(0.3)]  # the paper's Table 1 for phi = 0.3
    [0.236, 0.359]
    """
    p1 = p_saf if p_saf is not None else 0.6 * target
    p2 = p_tox if p_tox is not None else 1.4 * target
    lam_e = math.log((1 - p1) / (1 - target)) / math.log(target * (1 - p1) / (p1 * (1 - target)))
    lam_d = math.log((1 - target) / (1 - p2)) / math.log(p2 * (1 - target) / (target * (1 - p2)))
    return lam_e, lam_d


def boin_decision(n_treated: int, n_dlt: int, target: float) -> Decision:
    """BOIN decision at the current level: escalate if the observed DLT rate <= lambda_e,
    de-escalate if >= lambda_d, else stay (Liu and Yuan 2015)."""
    lam_e, lam_d = boin_boundaries(target)
    rate = n_dlt / n_treated
    if rate <= lam_e:
        return "escalate"
    if rate >= lam_d:
        return "de-escalate"
    return "stay"


def level_factors(doses: list[float]) -> npt.NDArray[np.float64]:
    """Dose factors relative to the kinetic model's reference dose (1e8 cells)."""
    return np.asarray(doses, dtype=np.float64) / REFERENCE_CELL_DOSE
