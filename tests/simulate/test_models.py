"""The simulator's models against their published sources: baseline marginals (Biselli 2024
Table 1), Stein 2019 kinetics, Stein 2008 tumour model, RECIST 1.1 progression, CTCAE v5 grades,
3+3 (Storer 1989) and BOIN boundaries (Liu and Yuan 2015, Table 1), calibration targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputError
from hcctrial.simulate.design import (
    boin_boundaries,
    stratified_block_randomization,
    three_plus_three_decision,
)
from hcctrial.simulate.disease import (
    Effect,
    crs_icans,
    kinetics_curves,
    kinetics_parameters,
    simulate_outcomes,
    size_progression,
    stein_sld,
)
from hcctrial.simulate.events import ctcae_grade
from hcctrial.simulate.parameters import lognormal_sigma_from_iqr
from hcctrial.simulate.population import sample_baseline


@pytest.fixture(scope="module")
def cohort() -> pl.DataFrame:
    return sample_baseline(np.random.default_rng(2024), 20_000)


def test_baseline_marginals_match_biselli_table1(cohort: pl.DataFrame) -> None:
    # Biselli M et al., Cancers 2024;16:1080, Table 1 (training group, n = 215)
    assert cohort["SEX"].eq("M").mean() == pytest.approx(0.851, abs=0.01)
    assert cohort["AGE"].median() == pytest.approx(69, abs=1)
    q1, q3 = cohort["AGE"].quantile(0.25), cohort["AGE"].quantile(0.75)
    assert q3 - q1 == pytest.approx(14, abs=1.5)  # IQR 14
    assert cohort["BILI"].median() / 17.104 == pytest.approx(1.02, rel=0.05)  # mg/dL
    assert cohort["ALB"].median() / 10 == pytest.approx(3.5, abs=0.1)  # g/dL
    assert cohort["PLT"].median() == pytest.approx(129, rel=0.05)
    assert cohort["AFP"].median() == pytest.approx(36, rel=0.1)
    afp_iqr = cohort["AFP"].quantile(0.75) - cohort["AFP"].quantile(0.25)
    assert afp_iqr == pytest.approx(538.2, rel=0.15)
    ecog = cohort["ECOG"].value_counts(normalize=True).sort("ECOG")["proportion"].to_list()
    assert ecog == pytest.approx([0.502, 0.363, 0.135], abs=0.015)
    assert cohort["AETIOL"].eq("HCV").mean() == pytest.approx(0.395, abs=0.015)
    assert cohort["MVI"].mean() == pytest.approx(0.335, abs=0.015)


def test_derived_child_pugh_and_bclc_near_the_cohort(cohort: pl.DataFrame) -> None:
    # not sampled but computed (Pugh 1973; BCLC 2022) from sampled items: they land near
    # Biselli's Child-Pugh A 74.9% and BCLC C 81.9% without being tuned to them exactly
    assert 0.65 <= cohort["CPCLASS"].eq("A").mean() <= 0.85
    assert 0.72 <= cohort["BCLC"].eq("C").mean() <= 0.90
    assert cohort["CPSCORE"].min() >= 5


@settings(max_examples=30, deadline=None)
@given(st.floats(0.5, 500.0), st.floats(0.05, 5.0))
def test_lognormal_from_median_and_iqr_has_that_iqr(median: float, rel_iqr: float) -> None:
    sigma = lognormal_sigma_from_iqr(median, rel_iqr * median)
    z = 0.6744897501960817
    iqr = median * (math.exp(z * sigma) - math.exp(-z * sigma))
    assert iqr == pytest.approx(rel_iqr * median, rel=1e-9)


def test_stein_2019_kinetics_typical_curve() -> None:
    # Stein 2019 typical values: foldx 3900, Tmax 9.3 d, Cmax 24,000 copies/ug, alpha 0.16/d,
    # FB 0.0079, beta 0.0032/d; derived R0 = Cmax/foldx = 6.15, rho = ln(3900)/9.3 = 0.889/d
    par = {
        "foldx": np.array([3900.0]),
        "tmax": np.array([9.3]),
        "cmax": np.array([24000.0]),
        "alpha": np.array([0.16]),
        "fb": np.array([0.0079]),
        "beta": np.array([0.0032]),
    }
    t = np.array([-1.0, 0.0, 9.3, 9.3 + 4.332, 400.0])
    c = kinetics_curves(par, t)[0]
    assert c[0] == 0.0
    assert c[1] == pytest.approx(24000 / 3900, rel=1e-9)
    assert c[2] == pytest.approx(24000, rel=1e-9)
    # one initial half-life (ln2 / 0.16 = 4.33 d) after Tmax: the fast phase halves
    assert c[3] == pytest.approx(
        24000 * (0.9921 * 0.5 + 0.0079 * math.exp(-0.0032 * 4.332)), rel=1e-3
    )
    # persistence: the slow phase dominates late (terminal half-life ln2/0.0032 = 217 d)
    late = 24000 * 0.0079 * math.exp(-0.0032 * (400 - 9.3))
    assert c[4] == pytest.approx(late, rel=1e-3)
    rho = math.log(3900) / 9.3
    assert rho == pytest.approx(0.889, abs=1e-3)


def test_stein_2008_tumour_model() -> None:
    sld = stein_sld(
        np.array([50.0]), np.array([0.0]), np.array([math.log(2) / 30]), np.array([30.0, 60.0])
    )
    assert sld[0].tolist() == pytest.approx([25.0, 12.5])
    grow = stein_sld(
        np.array([40.0]), np.array([math.log(2) / 100]), np.array([0.0]), np.array([100.0])
    )
    assert grow[0, 0] == pytest.approx(80.0)


def test_recist_size_progression_needs_20_percent_and_5_mm() -> None:
    # RECIST 1.1 section 4.3.1: +20% over the nadir AND at least +5 mm
    sums = np.array([[50.0, 40.0, 47.0, 48.0], [20.0, 10.0, 12.0, 15.0]])
    valid = np.ones_like(sums, dtype=bool)
    assert size_progression(sums, valid).tolist() == [
        [False, False, False, True],
        [False, False, False, True],
    ]
    # a missed assessment does not set the nadir
    valid[0, 1] = False
    assert size_progression(sums, valid)[0].tolist() == [False, False, False, False]


@pytest.mark.parametrize(
    ("code", "value", "baseline", "grade"),
    [
        ("LYM", 1.2, 1.3, 0),
        ("LYM", 0.9, 1.3, 1),
        ("LYM", 0.6, 1.3, 2),
        ("LYM", 0.3, 1.3, 3),
        ("LYM", 0.1, 1.3, 4),
        ("NEUT", 0.4, 3.0, 4),
        ("PLT", 60.0, 150.0, 2),
        ("ALT", 130.0, 30.0, 2),  # normal baseline: > 3 x ULN 40
        ("ALT", 130.0, 80.0, 1),  # abnormal baseline: > 1.5 x baseline 80
        ("ALT", 900.0, 30.0, 4),  # > 20 x ULN
    ],
)
def test_ctcae_v5_lab_grades(code: str, value: float, baseline: float, grade: int) -> None:
    lln, uln = {"LYM": (1.1, 3.2), "NEUT": (1.8, 6.3), "PLT": (125, 350), "ALT": (0, 40)}[code]
    assert ctcae_grade(code, value, lln, uln, baseline) == grade


def test_three_plus_three_rule() -> None:
    assert three_plus_three_decision(3, 0) == "escalate"
    assert three_plus_three_decision(3, 1) == "stay"
    assert three_plus_three_decision(6, 1) == "escalate"
    assert three_plus_three_decision(3, 2) == "stop"
    assert three_plus_three_decision(6, 2) == "stop"


@pytest.mark.parametrize(
    ("target", "lam_e", "lam_d"),
    [(0.2, 0.157, 0.238), (0.25, 0.197, 0.298), (0.3, 0.236, 0.358)],  # Liu & Yuan 2015 Table 1
)
def test_boin_boundaries_match_the_published_table(
    target: float, lam_e: float, lam_d: float
) -> None:
    e, d = boin_boundaries(target)
    assert e == pytest.approx(lam_e, abs=6e-4)
    assert d == pytest.approx(lam_d, abs=6e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=80), st.integers(0, 10**6))
def test_permuted_blocks_balance_within_every_stratum(strata: list[str], seed: int) -> None:
    arms = stratified_block_randomization(np.random.default_rng(seed), strata, {"x": 1, "y": 1})
    for s in set(strata):
        got = [a for a, t in zip(arms, strata, strict=True) if t == s]
        # blocks of 2 or 4: within a stratum the arms never differ by more than 2
        assert abs(got.count("x") - got.count("y")) <= 2
    again = stratified_block_randomization(np.random.default_rng(seed), strata, {"x": 1, "y": 1})
    assert arms == again


@dataclass(frozen=True)
class _Run:
    """Best unconfirmed response and progression of one simulated cohort (see ``_cohort``)."""

    orr: float
    pfs_free: dict[int, float]  # share progression-free and alive at each assessment day


ASSESS = np.array([0.0, 56, 112, 168, 252, 336])


def _cohort(
    *,
    tace: bool = False,
    cells: bool = False,
    systemic: bool = False,
    setting: str,
    dose_factor: float = 1.0,
    experimental: bool = False,
    effect: Effect | None = None,
    refractory: bool = False,
    mrecist: bool = False,
    seed: int = 7,
    n: int = 20_000,
) -> _Run:
    """20,000 patients of one arm (baseline SLD 57 mm, no PVTT) assessed on ``ASSESS`` days.

    Response: a sum <= 70% of baseline at an assessment before the first progression (size
    progression by RECIST 1.1, or mRECIST when ``mrecist``, or a new lesion). PFS also counts
    death. ``effect`` defaults to no effect (HR 1, regression 1), which isolates the control
    models; the calibration tests below share this one helper.
    """
    effect = effect if effect is not None else Effect(hr=1.0, regression=1.0)
    o = simulate_outcomes(
        np.random.default_rng(seed),
        pvtt=np.zeros(n, bool),
        tace=np.full(n, tace),
        cells=np.full(n, cells),
        systemic=np.full(n, systemic),
        experimental=np.full(n, experimental),
        setting=setting,
        dose_factor=dose_factor,
        effect=effect,
        tace_refractory=np.full(n, refractory),
    )
    t = ASSESS
    s = stein_sld(np.full(n, 57.0), o.g, o.d, t)
    pd = size_progression(s, np.ones_like(s, bool), 0.0 if mrecist else 5.0)
    pd |= t[None, :] >= o.t_new_lesion[:, None]
    pd[:, 0] = False
    first = np.where(pd.any(1), t[np.argmax(pd, 1)], np.inf)
    orr = float(((s[:, 1:] <= 0.7 * 57) & (t[None, 1:] < first[:, None])).any(1).mean())
    event = np.minimum(first, o.t_death)
    return _Run(orr, {int(d): float((event > d).mean()) for d in t[1:]})


def test_calibration_targets_of_the_regression_constants() -> None:
    assert _cohort(tace=True, setting="tace").orr == pytest.approx(0.35, abs=0.05)  # Llovet 2002
    # Shi 2020: 2/13 PR at a median 19.9e8 cells (dose_factor = cells / 1e8)
    shi = _cohort(cells=True, setting="refractory", dose_factor=19.9)
    assert shi.orr == pytest.approx(2 / 13, abs=0.05)
    sharp = _cohort(systemic=True, setting="systemic")
    assert sharp.orr == pytest.approx(0.092, abs=0.04)  # REFLECT sorafenib


def test_tace_after_tace_failure_matches_the_tae_arm_of_guo_2023() -> None:
    """NCT04011033's published control arm (Guo J et al., J Hepatocell Carcinoma 2023;10:1379;
    TAE after TACE failure, 30 patients): ORR 11% (mRECIST) and median PFS 2.7 months (95% CI
    2.3-3.2). The SIM-REFRACTORY factor 0.4 on d_tace brings the ORR there (a TACE-naive patient
    responds in ~35%, Llovet 2002); the PFS at the 8-weekly assessments lies between the
    exponential curves of median 2.3 and 3.2 months (S(t) = 0.5^(t / median)), within 0.02."""
    naive = _cohort(tace=True, setting="tace", mrecist=True)
    after = _cohort(tace=True, setting="tace", mrecist=True, refractory=True)
    assert after.orr == pytest.approx(0.11, abs=0.03)
    assert naive.orr > 2.5 * after.orr
    for day in (56, 112):
        months = day / (365.25 / 12)
        low, high = 0.5 ** (months / 2.3), 0.5 ** (months / 3.2)
        assert low - 0.02 <= after.pfs_free[day] <= high + 0.02, day


def test_effect_hr_scales_the_death_hazard() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    kw = {
        "pvtt": np.zeros(n, bool),
        "tace": np.ones(n, bool),
        "cells": np.zeros(n, bool),
        "systemic": np.zeros(n, bool),
        "setting": "tace",
    }
    ctl = simulate_outcomes(rng, experimental=np.zeros(n, bool), **kw)
    exp = simulate_outcomes(rng, experimental=np.ones(n, bool), effect=Effect(hr=0.5), **kw)
    # exponential: median = 16.9 months (PMC5106296) without PVTT, doubled by HR 0.5
    assert np.median(ctl.t_death) / (365.25 / 12) == pytest.approx(16.9, rel=0.02)
    assert np.median(exp.t_death) / np.median(ctl.t_death) == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("bad", [0.0, -1.0, 6.0, float("nan")])
def test_effect_out_of_range_is_an_input_error(bad: float) -> None:
    with pytest.raises(InputError, match="HR"):
        Effect(hr=bad)


def test_default_effect_lifts_tace_response_modestly() -> None:
    """Issue 5: TACE + an add-on product at ~1.3e9 cells (NCT04011033's iNKT dose) under the
    default Effect stays within 45-55% in TACE-naive patients (TACE alone ~34% here; 35-55%
    mRECIST after TACE, research file C), not the 83% the uncapped dose factor gave."""
    run = _cohort(
        tace=True,
        cells=True,
        setting="tace",
        dose_factor=13.0,
        experimental=True,
        effect=Effect(),
        seed=11,
    )
    assert 0.45 <= run.orr <= 0.55


def test_crs_incidence_at_the_shi_2020_dose_matches_its_sources() -> None:
    """At Shi 2020's median 19.9e8 GPC3 CAR-T cells the simulated CRS is Shi's 9/13 (69%); grade
    >= 3 CRS and ICANS are Pasquini 2020's 11.6% and 7.5% (tisagenlecleucel real world, research
    file E). Lower doses give less (Cmax OR 1.5 per doubling, SIM-CRS); non-CAR products 10%
    (assumption). Before the CRS model was referenced to Shi's dose, the same draw gave 83%."""
    rng = np.random.default_rng(5)
    n = 40_000
    sld0 = 57.0 * np.exp(math.sqrt(math.log(1 + 0.66**2)) * rng.standard_normal(n))

    def rates(dose_factor: float, car: bool) -> tuple[float, float, float]:
        par = kinetics_parameters(rng, n, np.full(n, dose_factor), car)
        crs, icans = crs_icans(rng, par["cmax"], sld0, car)
        return float((crs > 0).mean()), float((crs >= 3).mean()), float((icans > 0).mean())

    any_crs, severe, icans = rates(19.9, True)
    assert any_crs == pytest.approx(9 / 13, abs=0.03)
    assert severe == pytest.approx(0.116, abs=0.025)
    assert icans == pytest.approx(0.075, abs=0.02)
    low, _, _ = rates(1.0, True)  # il1rap-car-t's first level, 1e8 cells
    assert 0.35 < low < any_crs - 0.1
    other, other_severe, _ = rates(19.9, False)
    assert other == pytest.approx(0.10, abs=0.02)
    assert other_severe == 0.0


def test_car_nk_crs_follows_the_car_nk_trials_not_car_t() -> None:
    """A CAR-NK product (sz003-car-nk) had no CRS, ICANS or GVHD in 48 patients (Marin 2024 Nat
    Med, 37; Liu 2020 NEJM, 11): the model gives CRS grade 1-2 in about 5% at the typical
    peak, never grade >= 3 and no ICANS (SIM-CARNK), where the same draw for a CAR-T product
    gives Shi 2020's 69%. The arm of NCT04011033 (iNKT cells, "natural killer T") is not NK."""
    from hcctrial.protocol import load_protocol
    from hcctrial.simulate.design import arm_treatment, trial_setting

    rng = np.random.default_rng(11)
    n = 40_000
    sld0 = np.full(n, 57.0)
    par = kinetics_parameters(rng, n, np.full(n, 19.9), True)
    crs, icans = crs_icans(rng, par["cmax"], sld0, True, nk=True)
    assert float((crs > 0).mean()) == pytest.approx(0.05, abs=0.015)
    assert int(crs.max()) <= 2
    assert not icans.any()
    car_t, _ = crs_icans(np.random.default_rng(11), par["cmax"], sld0, True)
    assert float((car_t > 0).mean()) > 0.5
    kinds = {}
    for pid in ("sz003-car-nk", "il1rap-car-t", "NCT04011033", "NCT04162158"):
        protocol = load_protocol(pid)
        arm = next(a for a in protocol.arms if a.type == "experimental")
        t = arm_treatment(protocol, arm, trial_setting(protocol))
        kinds[pid] = (t.car, t.nk)
    assert kinds == {
        "sz003-car-nk": (True, True),
        "il1rap-car-t": (True, False),
        "NCT04011033": (False, False),
        "NCT04162158": (False, True),
    }


def test_control_os_and_dropout_match_their_sources() -> None:
    """TACE in BCLC C (PMC5106296): median OS 16.9 months without and 6.1 with PVTT. Dropout
    10%/year (SIM-DROP) against NCT04011033's registry results: 3 of 30 per arm did not complete
    (10%; exact 95% CI 2.1-26.5%) over its 24 months of follow-up."""
    rng = np.random.default_rng(9)
    n = 100_000
    pvtt = rng.random(n) < 0.3
    o = simulate_outcomes(
        rng,
        pvtt=pvtt,
        tace=np.ones(n, bool),
        cells=np.zeros(n, bool),
        systemic=np.zeros(n, bool),
        experimental=np.zeros(n, bool),
        setting="tace",
    )
    month = 365.25 / 12
    assert np.median(o.t_death[~pvtt]) / month == pytest.approx(16.9, rel=0.03)
    assert np.median(o.t_death[pvtt]) / month == pytest.approx(6.1, rel=0.03)
    horizon = 24 * month
    withdrew = float((o.t_dropout < np.minimum(o.t_death, horizon)).mean())
    assert 0.021 <= withdrew <= 0.265
    assert withdrew == pytest.approx(0.10, abs=0.04)


def test_car_t_after_standard_therapy_survival_is_within_shi_2020() -> None:
    """A CAR-T arm after standard therapy (setting 'refractory': RESORCE placebo OS 7.8 months)
    under the default effect (HR 0.75): OS at 6 and 12 months within the binomial 95% limits of
    Shi 2020's 50.3% and 42.0% (n = 13, +-1.96 sqrt(p (1 - p) / 13))."""
    n = 100_000
    o = simulate_outcomes(
        np.random.default_rng(4),
        pvtt=np.zeros(n, bool),
        tace=np.zeros(n, bool),
        cells=np.ones(n, bool),
        systemic=np.zeros(n, bool),
        experimental=np.ones(n, bool),
        setting="refractory",
        dose_factor=19.9,
    )
    month = 365.25 / 12
    for months, p in ((6, 0.503), (12, 0.420)):
        half = 1.96 * math.sqrt(p * (1 - p) / 13)
        assert p - half <= float((o.t_death > months * month).mean()) <= p + half
