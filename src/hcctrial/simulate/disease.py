"""The disease and treatment model, vectorised over any batch shape (subjects, or trials x
subjects): tumour size, progression, death, dropout, cellular kinetics, CRS and ICANS.

Tumour size (Stein WD et al., Oncologist 2008;13:1046): the sum of target-lesion diameters is
``SLD(t) = SLD0 (exp(-d t) + exp(g t) - 1)``. The regression constant ``d`` adds the effects of
the arm's TACE/TAE, cell product and targeted drug; the growth constant ``g`` is that of the
setting (untreated HCC or on a targeted drug) and, in the experimental arm, is multiplied by the
effect's hazard ratio. Progression by size is RECIST 1.1 (Eisenhauer 2009, section 4.3.1): the
sum 20% above the nadir and at least 5 mm larger; progression by new lesions follows an
exponential time whose median is the setting's cited time to progression. Death and dropout are
exponential (Katsanos 2017 fitted exponential survival to embolisation trials).

Cellular kinetics (Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285): exponential
expansion to ``Cmax`` at ``Tmax`` then biexponential contraction with a persisting fraction FB,
one curve per infusion, superposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hcctrial.errors import InputError
from hcctrial.simulate.parameters import (
    CELL_KINETICS,
    DAYS_PER_MONTH,
    OUTCOME_SETTINGS,
    TOXICITY,
    TUMOUR,
)

__all__ = [
    "ArmTreatment",
    "Effect",
    "Outcomes",
    "crs_icans",
    "kinetics_curves",
    "kinetics_parameters",
    "simulate_outcomes",
    "stein_sld",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Effect:
    """The treatment effect of the experimental arm (assumption SIM-EFFECT).

    ``hr`` multiplies the experimental arm's hazards of death and of new-lesion progression and its
    tumour growth constant ``g`` (an accelerated-failure-time effect on size progression that
    equals a proportional-hazards effect of ``hr`` for exponential times). ``regression``
    multiplies the cell product's tumour regression constant. The default (HR 0.75) is a design
    scenario, not evidence of efficacy.
    """

    hr: float = 0.75
    # A (SIM-EFFECT): default add-on regression 0.3 x d_cells, chosen so that with HR 0.75 an
    # add-on product at ~1.3e9 cells lifts the TACE best unconfirmed response of the calibration
    # helper from 34% to ~50% (tests/simulate/test_models.py), inside the 35-55% mRECIST range
    # after TACE (Llovet 2002 35% sustained; REFLECT lenvatinib mRECIST 40.6%, research file C).
    regression: float = 0.3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hr) and 0.05 <= self.hr <= 5.0):
            raise InputError("effect HR out of range", value=self.hr, expected="0.05 to 5")
        if not (math.isfinite(self.regression) and 0.0 <= self.regression <= 20.0):
            raise InputError(
                "effect regression multiplier out of range",
                value=self.regression,
                expected="0 to 20",
            )


@dataclass(frozen=True)
class ArmTreatment:
    """What an arm gives, as the model needs it."""

    tace: bool
    cells: bool
    systemic: bool
    experimental: bool
    car: bool
    setting: str
    nk: bool = False  # the cells are NK cells (not NKT): a CAR-NK product has its own CRS model

    def __post_init__(self) -> None:
        if self.setting not in OUTCOME_SETTINGS:
            raise InputError(
                "unknown outcome setting", value=self.setting, expected=", ".join(OUTCOME_SETTINGS)
            )


@dataclass
class Outcomes:
    """Latent outcomes of a batch of subjects (arrays of the batch shape; times in days)."""

    g: FloatArray
    d: FloatArray
    t_new_lesion: FloatArray
    t_death: FloatArray
    t_dropout: FloatArray


def _ln(
    rng: np.random.Generator, median: FloatArray | float, sigma: float, shape: tuple[int, ...]
) -> FloatArray:
    return np.asarray(median * np.exp(sigma * rng.standard_normal(shape)), dtype=np.float64)


def simulate_outcomes(
    rng: np.random.Generator,
    *,
    pvtt: BoolArray,
    tace: BoolArray,
    cells: BoolArray,
    systemic: BoolArray,
    experimental: BoolArray,
    setting: str,
    dose_factor: FloatArray | float = 1.0,
    effect: Effect | None = None,
    tace_refractory: BoolArray | None = None,
) -> Outcomes:
    """Draw tumour-growth constants and event times for a batch (arrays broadcast together).

    ``g`` ~ LogNormal(g_setting, 1.0) x HR (experimental); ``d`` = sum over the arm's treatments
    of LogNormal(d_treatment, 0.8), the TACE part x 0.4 for a patient whose TACE already failed
    (``tace_refractory``, JSH-LCSGJ; SIM-REFRACTORY, calibrated to Guo 2023), the cell part
    x ``regression`` x (cells / 19.9e8)^0.5 (the median dose of Shi 2020, where d_cells was
    calibrated; ``dose_factor`` is cells / 1e8);
    new-lesion time ~ Exp(median TTP / HR); death ~ Exp(median OS (PVTT or not) / HR);
    dropout ~ Exp(10%/y).
    """
    effect = effect or Effect()
    shape = np.broadcast_shapes(pvtt.shape, tace.shape, cells.shape, experimental.shape)
    base = OUTCOME_SETTINGS[setting]
    hr = np.where(experimental, effect.hr, 1.0)
    g_med = TUMOUR.g_systemic if setting == "systemic" else TUMOUR.g_untreated
    g = _ln(rng, g_med, TUMOUR.g_sigma, shape) * hr
    s = TUMOUR.d_sigma
    refractory = np.zeros(shape, bool) if tace_refractory is None else tace_refractory
    d_tace = np.where(refractory, TUMOUR.d_tace * TUMOUR.d_tace_refractory_factor, TUMOUR.d_tace)
    d = np.where(tace, _ln(rng, 1.0, s, shape) * d_tace, 0.0)
    # dose_factor is cells per infusion / 1e8 (the kinetic reference); regression is calibrated at
    # Shi 2020's median 19.9e8 cells (TUMOUR.d_cells_reference_dose)
    rel_dose = (
        np.asarray(dose_factor, dtype=float)
        * CELL_KINETICS.reference_dose_cells
        / TUMOUR.d_cells_reference_dose
    )
    cell_d = TUMOUR.d_cells * effect.regression * np.sqrt(rel_dose)
    d = d + np.where(cells, _ln(rng, 1.0, s, shape) * cell_d, 0.0)
    d = d + np.where(systemic, _ln(rng, TUMOUR.d_systemic, s, shape), 0.0)
    os_med = np.where(pvtt, base.os_months_pvtt, base.os_months) * DAYS_PER_MONTH / hr
    ttp_med = base.ttp_months * DAYS_PER_MONTH / hr
    t_death = rng.exponential(1.0, shape) * os_med / math.log(2.0)
    t_new = rng.exponential(1.0, shape) * ttp_med / math.log(2.0)
    drop_rate = -math.log(1.0 - TOXICITY.dropout_per_year) / 365.25
    t_drop = rng.exponential(1.0 / drop_rate, shape)
    return Outcomes(
        g=g,
        d=np.asarray(d, dtype=np.float64),
        t_new_lesion=t_new,
        t_death=t_death,
        t_dropout=t_drop,
    )


def stein_sld(sld0: FloatArray, g: FloatArray, d: FloatArray, t: FloatArray) -> FloatArray:
    """Sum of diameters at days ``t`` (Stein 2008): ``SLD0 (exp(-d t) + exp(g t) - 1)``.

    ``sld0``, ``g``, ``d`` have the batch shape; ``t`` is broadcast along a new last axis.
    The relative size is floored at 0 (a complete response).

    >>> stein_sld(np.array([50.0]), np.array([0.0]), np.array([math.log(2) / 30]), 30.0)
    array([[25.]])
    """
    tt = np.asarray(t, dtype=np.float64)
    f = np.exp(-d[..., None] * tt) + np.exp(np.minimum(g[..., None] * tt, 50.0)) - 1.0
    return np.asarray(sld0[..., None] * np.maximum(f, 0.0), dtype=np.float64)


def size_progression(sld: FloatArray, valid: BoolArray, min_increase_mm: float = 5.0) -> BoolArray:
    """Size progression at each assessment (last axis): the sum at least 20% above and at least
    ``min_increase_mm`` above the smallest sum so far (baseline included, column 0).

    RECIST 1.1 (Eisenhauer 2009, section 4.3.1) asks 5 mm; mRECIST (Lencioni and Llovet 2010,
    Table 1) states no absolute minimum (0). Missed assessments (``valid`` False) neither set the
    nadir nor progress.
    """
    masked = np.where(valid, sld, np.inf)
    nadir = np.minimum.accumulate(masked, axis=-1)
    prev_nadir = np.concatenate([nadir[..., :1], nadir[..., :-1]], axis=-1)
    return np.asarray(valid & (sld >= 1.2 * prev_nadir) & (sld - prev_nadir >= min_increase_mm))


def kinetics_parameters(
    rng: np.random.Generator, n: int, dose_factor: FloatArray, car: bool
) -> dict[str, FloatArray]:
    """Individual Stein 2019 parameters (log-normal IIV with the published omega^2)."""
    k = CELL_KINETICS

    def ind(typ: float, omega2: float) -> FloatArray:
        return _ln(rng, typ, math.sqrt(omega2), (n,))

    cmax = ind(k.cmax_copies_ug, k.cmax_omega2) * np.power(dose_factor, k.dose_exponent)
    if not car:
        cmax = cmax * k.non_car_cmax_factor
    fb = np.clip(ind(k.fb, k.fb_omega2), 0.0, 0.5)
    alpha = ind(k.alpha, k.alpha_omega2)
    beta = np.minimum(ind(k.beta, k.beta_omega2), alpha * 0.5)
    return {
        "foldx": np.maximum(ind(k.foldx, k.foldx_omega2), 2.0),
        "tmax": np.clip(ind(k.tmax_days, k.tmax_omega2), 3.0, 28.0),
        "cmax": cmax,
        "alpha": alpha,
        "fb": fb,
        "beta": beta,
    }


def kinetics_curves(par: dict[str, FloatArray], t: FloatArray) -> FloatArray:
    """Concentration (copies/ug gDNA) at days ``t`` after an infusion (subjects x times);
    zero before the infusion (t < 0).

    ``C = R0 exp(rho t)`` for ``t < Tmax`` with ``R0 = Cmax/foldx``, ``rho = log(foldx)/Tmax``;
    then ``Cmax ((1-FB) exp(-alpha (t-Tmax)) + FB exp(-beta (t-Tmax)))`` (Stein 2019).
    """
    tt = np.asarray(t, dtype=np.float64)
    tmax, cmax = par["tmax"][:, None], par["cmax"][:, None]
    rho = np.log(par["foldx"])[:, None] / tmax
    r0 = cmax / par["foldx"][:, None]
    after = np.maximum(tt - tmax, 0.0)
    up = r0 * np.exp(rho * np.minimum(tt, tmax))
    down = cmax * (
        (1.0 - par["fb"][:, None]) * np.exp(-par["alpha"][:, None] * after)
        + par["fb"][:, None] * np.exp(-par["beta"][:, None] * after)
    )
    out = np.where(tt < tmax, up, down)
    return np.asarray(np.where(tt < 0, 0.0, out), dtype=np.float64)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def crs_icans(
    rng: np.random.Generator, cmax: FloatArray, sld0: FloatArray, car: bool, nk: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Worst CRS and ICANS grade (ASTCT 2019, 0 = none) after the first infusion.

    logit P(CRS) = logit(p0) + log(1.5) log2(Cmax / typical) + log(1.3) log2(SLD0 / 57 mm)
    (assumption SIM-CRS, direction from Mueller 2018 and Awasthi 2020); p0 = 69% for CAR-T
    (Shi 2020), 10% otherwise (assumption); ``typical`` is the typical Cmax at Shi 2020's median
    dose of 19.9e8 cells (``TOXICITY.crs_reference_dose_cells``), where the 69% was observed.
    Severe (grade >= 3) given CRS with the same shifts, base 11.6% / 69% (Pasquini 2020 / Shi
    2020); severe CRS is grade 3 (80%), 4 (15%) or 5 (5%) (assumption). ICANS only for CAR-T,
    base 7.5% (Pasquini 2020), grade 3 in 30% (assumption). At Shi's dose the marginal rates are
    69% CRS, 12% grade >= 3 and 8% ICANS (tests/simulate/test_models.py). A CAR-NK product
    (``car`` and ``nk``) has CRS grade 1-2 only, base 5%, and no ICANS (SIM-CARNK: none in 48
    patients of Marin 2024 and Liu 2020); its kinetics stay those of a CAR product.
    """
    t = TOXICITY
    n = cmax.shape[0]
    k = CELL_KINETICS
    # the typical Cmax at the dose where the base incidences were observed (Shi 2020, 19.9e8)
    typical = (
        k.cmax_copies_ug
        * (t.crs_reference_dose_cells / k.reference_dose_cells) ** k.dose_exponent
        * (1.0 if car else k.non_car_cmax_factor)
    )
    shift = math.log(t.crs_or_per_doubling_cmax) * np.log2(cmax / typical)
    shift = shift + math.log(t.crs_or_per_doubling_sld) * np.log2(sld0 / TUMOUR.sld_median_mm)
    car_t = car and not nk
    base = t.crs_any_car if car_t else (t.crs_any_car_nk if car else t.crs_any_other)

    def shifted(p0: float) -> FloatArray:
        """The base incidence ``p0`` moved by the Cmax and tumour-burden shift (logit scale)."""
        return np.asarray(1.0 / (1.0 + np.exp(-(_logit(p0) + shift))), dtype=np.float64)

    p_any = shifted(base)
    crs = rng.random(n) < p_any
    p_severe = shifted(t.crs_severe_given_any) if car_t else 0.0
    severe = crs & (rng.random(n) < p_severe)
    mild_grade = np.where(rng.random(n) < 0.6, 1, 2)
    u = rng.random(n)
    severe_grade = np.where(u < 0.80, 3, np.where(u < 0.95, 4, 5))
    crs_grade = np.where(severe, severe_grade, np.where(crs, mild_grade, 0))
    if car_t:
        p_icans = shifted(t.icans_any_car)
        icans = rng.random(n) < p_icans
        icans_grade = np.where(
            icans, np.where(rng.random(n) < 0.3, 3, 1 + (rng.random(n) < 0.5)), 0
        )
    else:
        icans_grade = np.zeros(n, dtype=np.int64)
    return crs_grade.astype(np.int64), np.asarray(icans_grade, dtype=np.int64)
