"""Every number the virtual-trial simulator uses, with its source (one place, as data).

Status of each value, as in ``/work/shared/research/simulation-parameters.md``:

- **P**: read in the primary source (abstract or table);
- **S**: secondary source only (provisional);
- **D**: derived by calculation from P/S values (the calculation is shown);
- **A**: an ASSUMPTION of this simulator where no source was retrieved. Each is a modelling
  choice, listed in :data:`ASSUMPTIONS` so that reports can show it.

Baseline distributions follow the training cohort of Biselli M et al., Cancers 2024;16:1080,
Table 1 (PMC10968777; n = 215 Italian patients with advanced HCC on sorafenib). A median with an
interquartile range (IQR) becomes a log-normal with that median and
``sigma = asinh(IQR / (2 median)) / z75`` (z75 = 0.6745, the normal 75th percentile), because
for a log-normal ``Q3 - Q1 = 2 median sinh(z75 sigma)``; a symmetric one becomes a normal with
``sd = IQR / 1.349``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ASSUMPTIONS",
    "BASELINE",
    "CELL_KINETICS",
    "OUTCOME_SETTINGS",
    "TOXICITY",
    "TUMOUR",
    "Baseline",
    "CellKinetics",
    "OutcomeSetting",
    "Toxicity",
    "Tumour",
    "lognormal_sigma_from_iqr",
]

Z75 = 0.6744897501960817  # standard normal 75th percentile (scipy.stats.norm.ppf(0.75))
DAYS_PER_MONTH = 365.25 / 12


def lognormal_sigma_from_iqr(median: float, iqr: float) -> float:
    """Log-scale SD of a log-normal with this median and interquartile range.

    ``Q3 - Q1 = median (exp(z sigma) - exp(-z sigma)) = 2 median sinh(z sigma)``, so
    ``sigma = asinh(IQR / (2 median)) / z`` with z = 0.6745.

    >>> round(lognormal_sigma_from_iqr(1.02, 0.8), 3)
    0.567
    """
    return math.asinh(iqr / (2.0 * median)) / Z75


@dataclass(frozen=True)
class Baseline:
    """Baseline distributions of advanced HCC (Biselli 2024 Table 1 unless stated)."""

    age_median: float = 69.0  # P: Biselli Table 1, age 69 (IQR 14)
    age_iqr: float = 14.0  # P: normal with sd = 14 / 1.349 = 10.4 (D)
    male: float = 0.851  # P: Biselli Table 1, 183/215 male
    # P: Biselli Table 1 aetiology of cirrhosis: HCV 39.5%, HBV 15.8%, alcohol 12.6%, other 32.1%
    aetiology: tuple[tuple[str, float], ...] = (
        ("HCV", 0.395),
        ("HBV", 0.158),
        ("ALCOHOL", 0.126),
        ("OTHER", 0.321),
    )
    bclc: tuple[tuple[str, float], ...] = (("A", 0.014), ("B", 0.167), ("C", 0.819))  # P
    ecog: tuple[float, float, float] = (0.502, 0.363, 0.135)  # P: ECOG 0/1/2
    bilirubin_mg_dl: float = 1.02  # P: median 1.02 mg/dL (IQR 0.8)
    bilirubin_iqr: float = 0.8
    albumin_g_dl: float = 3.5  # P: median 3.5 g/dL (IQR 0.61); normal, sd = 0.61 / 1.349
    albumin_iqr: float = 0.61
    inr: float = 1.16  # P: median 1.16 (IQR 0.18); log-normal
    inr_iqr: float = 0.18
    platelets: float = 129.0  # P: median 129 x10^9/L (IQR 107)
    platelets_iqr: float = 107.0
    afp: float = 36.0  # P: median 36 ng/mL (IQR 538.2); log-normal, very right-skewed
    afp_iqr: float = 538.2
    creatinine_mg_dl: float = 0.85  # P: median 0.85 mg/dL (IQR 0.32)
    creatinine_iqr: float = 0.32
    bmi: float = 25.62  # P: median 25.62 kg/m2 (IQR 5.7)
    bmi_iqr: float = 5.7
    ascites: float = 0.293  # P: ascites 29.3%
    macrovascular_invasion: float = 0.335  # P: 33.5%
    extrahepatic_spread: float = 0.27  # P: metastasis 27%
    # P: AST baseline mean 66.5 (SD 35.7) U/L, median 66: Di Costanzo GG et al., World J
    # Gastroenterol 2014;20(3):786-794, Table 3 (sorafenib, progressive-disease stratum, n = 25).
    # Log-normal with CV = 35.7 / 66.5: sigma = sqrt(log(1 + CV^2)) = 0.503 (D).
    ast: float = 66.0
    ast_sigma: float = math.sqrt(math.log(1.0 + (35.7 / 66.5) ** 2))
    # A: ALT from AST through an AST/ALT (De Ritis) ratio, log-normal median 1.3, sigma 0.3;
    # no baseline ALT distribution was retrieved.
    de_ritis: float = 1.3
    de_ritis_sigma: float = 0.3
    # A: height by sex (normal, cm) and haematology/chemistry inside adult reference ranges where
    # no HCC cohort value was retrieved (WBC, neutrophils, lymphocytes, haemoglobin, lipase,
    # amylase, HbA1c, LVEF, FEV1); see ASSUMPTIONS.
    height_cm: tuple[float, float] = (168.0, 158.0)
    height_sd: float = 7.0


@dataclass(frozen=True)
class Tumour:
    """Tumour size model (Stein/Fojo growth-regression) and its treatment effects.

    ``f(t) = exp(-d t) + exp(g t) - 1`` is the sum of diameters relative to baseline (Stein WD et
    al., Oncologist 2008;13:1046, PMC3313464): ``g`` growth constant, ``d`` regression constant,
    per day.
    """

    # D: untreated HCC, median volume doubling 85.7 d (An C et al., Clin Mol Hepatol
    # 2015;21:279): k_V = ln2 / 85.7 = 0.0081/d, diameter k = k_V / 3 = 0.0027/d.
    g_untreated: float = math.log(2.0) / 85.7 / 3.0
    # D: HCC on sorafenib, median tumour-burden doubling time 665 d (Kolamunnage-Dona R, ...,
    # Johnson P, joint model of phase III data): g = ln2 / 665 = 0.00104/d.
    g_systemic: float = math.log(2.0) / 665.0
    # A: between-patient log-SD of g. Stein 2008 reports a ~1,500-fold spread of g (S only);
    # sigma = 1.0 gives a 95% range of ~50-fold, a deliberately narrower choice.
    g_sigma: float = 1.0
    # A: regression constants d (per day), log-normal medians, calibrated so that the best
    # unconfirmed response rate of TACE alone is near the 35% sustained objective response of
    # Llovet JM et al., Lancet 2002;359:1734, and that of a CAR-T product alone near 2/13 = 15%
    # partial responses of Shi D et al., Clin Cancer Res 2020;26:3979 (GPC3 CAR-T in HCC), and that
    # of a targeted drug near the 9.2% sorafenib ORR of REFLECT (Kudo 2018, investigator, S).
    # tests/simulate/test_disease.py checks these three calibration targets.
    d_tace: float = 0.0085
    d_cells: float = 0.0055
    # P: the cell product's regression constant d_cells is that of Shi 2020, whose patients got a
    # median of 19.9 x 10^8 CAR-T cells (Shi D et al., Clin Cancer Res 2020;26:3979); a product
    # given at another dose gets d_cells x (dose / 19.9e8)^0.5 (A: the SIM-DOSE exponent). Without
    # this reference the iNKT dose of NCT04011033 (5e8-1e9 cells/m2, ~1.3e9 cells) counted as 13x
    # the 1e8 kinetic reference and gave an experimental-arm ORR of 83% (issue 5).
    d_cells_reference_dose: float = 19.9e8
    d_systemic: float = 0.0016
    d_sigma: float = 0.8
    # A: baseline sum of diameters: log-normal, median 57 mm (TS0 in PMC10363035, NSCLC, S only),
    # CV 66% -> sigma = sqrt(log(1 + 0.66^2)) = 0.60 (D).
    sld_median_mm: float = 57.0
    sld_sigma: float = math.sqrt(math.log(1.0 + 0.66**2))
    measurement_cv: float = 0.05  # A: radiology measurement error, 5% per lesion
    # A: new-lesion (non-size) progression: exponential, median time = the cited TTP of the
    # setting (OUTCOME_SETTINGS.ttp_months), so that total PFS sits below the cited TTP.


@dataclass(frozen=True)
class OutcomeSetting:
    """Control-arm survival of one treatment setting (exponential, as Katsanos 2017 fitted)."""

    name: str
    os_months: float
    os_months_pvtt: float
    ttp_months: float
    source: str


#: Control outcomes per setting. Exponential survival: Katsanos K et al., PLoS One
#: 2017;12:e0184597 (network meta-analysis of embolisation, curves fitted with an exponential
#: model).
OUTCOME_SETTINGS: dict[str, OutcomeSetting] = {
    # P: TACE in BCLC C, median OS 16.9 mo without and 6.1 mo with portal-vein tumour thrombus
    # (PMC5106296, n = 508); A: TTP anchored on SHARP sorafenib 5.5 mo (no TACE TTP retrieved).
    "tace": OutcomeSetting("TACE/TAE", 16.9, 6.1, 5.5, "PMC5106296; SHARP TTP (Llovet 2008)"),
    # P: SHARP sorafenib OS 10.7 mo, TTP 5.5 mo (Llovet JM et al., NEJM 2008;359:378);
    # A: the PVTT ratio 6.1/16.9 of the TACE cohort applied to the systemic setting.
    "systemic": OutcomeSetting(
        "targeted drug (sorafenib/lenvatinib/regorafenib)",
        10.7,
        10.7 * 6.1 / 16.9,
        5.5,
        "SHARP (Llovet 2008); PVTT ratio of PMC5106296",
    ),
    # P: RESORCE placebo OS 7.8 mo (Bruix J et al., Lancet 2017;389:56); SHARP placebo TTP
    # 2.8 mo; A: PVTT ratio as above.
    "refractory": OutcomeSetting(
        "after standard therapy (no active background treatment)",
        7.8,
        7.8 * 6.1 / 16.9,
        2.8,
        "RESORCE placebo (Bruix 2017); SHARP placebo TTP (Llovet 2008)",
    ),
}


@dataclass(frozen=True)
class CellKinetics:
    """Cellular kinetics (Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285).

    ``C(t) = R0 exp(rho t)`` before Tmax; after it
    ``C = Cmax ((1 - FB) exp(-alpha (t - Tmax)) + FB exp(-beta (t - Tmax)))``, with
    ``R0 = Cmax / foldx`` and ``rho = log(foldx) / Tmax`` (tisagenlecleucel, B-ALL; Table 1 as
    quoted line by line in nlmixr2lib Stein_2019_Tisagenlecleucel.R).
    """

    foldx: float = 3900.0  # P, omega^2 2.4
    foldx_omega2: float = 2.4
    tmax_days: float = 9.3  # P, omega^2 0.38
    tmax_omega2: float = 0.38
    cmax_copies_ug: float = 24000.0  # P: copies/ug genomic DNA, omega^2 0.65
    cmax_omega2: float = 0.65
    alpha: float = 0.16  # P: /day, omega^2 0.91
    alpha_omega2: float = 0.91
    fb: float = 0.0079  # P, omega^2 0.8
    fb_omega2: float = 0.8
    beta: float = 0.0032  # P: /day, omega^2 0.86
    beta_omega2: float = 0.86
    residual_sd_log: float = 0.56  # P: additive on log scale
    # P: median dose 1.0e8 CAR+ cells for patients > 50 kg (Stein 2019 cohort, nlmixr2lib)
    reference_dose_cells: float = 1.0e8
    # A: copies/ug gDNA -> CAR+ cells/uL: 1 cell ~ 6.6 pg DNA (diploid genome), so 1 ug gDNA is
    # ~150,000 cells; with ~1 transgene copy per CAR+ cell and ~1.5 x 10^3 leukocytes/uL, a
    # copy/ug corresponds to ~0.01 cells/uL.
    cells_per_ul_per_copy: float = 0.01
    # A: non-CAR products (NK, iNKT, PD-1 knockout T cells) expand less: Cmax x 0.05 and no
    # transgene; Cmax scales with dose as (dose / reference)^0.5.
    non_car_cmax_factor: float = 0.05
    dose_exponent: float = 0.5


@dataclass(frozen=True)
class Toxicity:
    """CRS, ICANS and lab toxicities of cell products."""

    # P: GPC3 CAR-T in HCC, CRS 9/13 (69%), 8 grade 1-2, 1 grade 5; no grade 3/4 neurotoxicity
    # (Shi D et al., Clin Cancer Res 2020;26:3979).
    crs_any_car: float = 9.0 / 13.0
    # P (context): tisagenlecleucel real world, grade >= 3 CRS 11.6%, grade >= 3 neurotoxicity
    # 7.5% (Pasquini MC et al., Blood Adv 2020;4:5414).
    crs_severe_given_any: float = 0.116 / (9.0 / 13.0)
    icans_any_car: float = 0.075
    # A: non-CAR cell products (NK, iNKT, PD-1 KO T cells): CRS grade 1-2 in 10%, no ICANS
    crs_any_other: float = 0.10
    # P: CRS severity rises with Cmax (Mueller 2018; Awasthi 2020) and tumour burden: A, odds
    # ratio 1.5 per doubling of Cmax and 1.3 per doubling of baseline sum of diameters.
    crs_or_per_doubling_cmax: float = 1.5
    crs_or_per_doubling_sld: float = 1.3
    # P: solid-tumour CAR-T, lymphopenia 89.2% any grade, 52.0% grade >= 3 (meta-analysis of 163
    # trials, PROSPERO CRD42024596383); A: modelled as a lymphocyte nadir on day 3-7.
    lymphopenia_any: float = 0.892
    lymphopenia_g3: float = 0.520
    crs_onset_median_days: float = 3.0  # A: onset ~day 2-5 after infusion
    dropout_per_year: float = 0.10  # A: withdrawal of consent / lost to follow-up, 10%/year
    # A: post-embolisation syndrome (abdominal pain) after half of TACE/TAE procedures, grade 2 in
    # 30%; always attributed to the procedure (RELATED).
    pes_after_tace: float = 0.5
    missed_visit: float = 0.05  # A: 5% of scheduled assessments missed
    visit_jitter_sd_days: float = 2.0  # A: actual - planned date, normal, clipped to the window


BASELINE = Baseline()
TUMOUR = Tumour()
CELL_KINETICS = CellKinetics()
TOXICITY = Toxicity()

#: The simulator's own assumptions, for reports ("id", "what", "chosen").
ASSUMPTIONS: tuple[tuple[str, str, str], ...] = (
    ("SIM-ALT", "baseline ALT", "AST / De Ritis ratio (log-normal median 1.3, sigma 0.3)"),
    (
        "SIM-LABS",
        "WBC, neutrophils, lymphocytes, Hb, lipase, amylase, HbA1c, LVEF, FEV1",
        "adult reference-range distributions; no HCC cohort values retrieved",
    ),
    ("SIM-G", "spread of tumour growth constant g", "log-normal sigma 1.0 (Stein 2008: wider)"),
    (
        "SIM-D",
        "tumour regression by TACE / cells / drug",
        "log-normal d calibrated to ORR of TACE 35% (Llovet 2002) and CAR-T 15% (Shi 2020)",
    ),
    ("SIM-SLD", "baseline sum of diameters", "log-normal median 57 mm, CV 66% (NSCLC value)"),
    ("SIM-NEW", "new-lesion progression", "exponential with median = the setting's cited TTP"),
    ("SIM-PVTT", "PVTT effect outside TACE", "OS ratio 6.1/16.9 of the TACE cohort"),
    ("SIM-CK", "non-CAR products", "Stein 2019 kinetics with Cmax x 0.05, no transgene"),
    ("SIM-DOSE", "dose and expansion", "Cmax proportional to dose^0.5"),
    ("SIM-CRS", "CRS drivers", "OR 1.5 per Cmax doubling, 1.3 per tumour-burden doubling"),
    ("SIM-DROP", "dropout", "10% per year, exponential"),
    ("SIM-VISIT", "visits", "5% missed; jitter normal sd 2 days within the window"),
    ("SIM-JUDGE", "investigator-judgement criteria", "decided in the patient's favour"),
    ("SIM-EFFECT", "treatment effect", "hazards and growth constant x HR in the experimental arm"),
)
