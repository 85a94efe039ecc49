"""Every number the virtual-trial simulator uses, with its source (one place, as data).

Status of each value, as in ``docs/research/simulation-parameters.md``:

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

from hcctrial.errors import InputError

__all__ = [
    "ASSUMPTIONS",
    "BASELINE",
    "CELL_KINETICS",
    "GENERAL_REFERRAL",
    "OUTCOME_SETTINGS",
    "REFERRALS",
    "TOXICITY",
    "TUMOUR",
    "Baseline",
    "CellKinetics",
    "OutcomeSetting",
    "Referral",
    "Toxicity",
    "Tumour",
    "lognormal_sigma_from_iqr",
    "referral_for",
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
    # A (SIM-REFRACTORY), calibrated: a patient whose TACE already failed (JSH-LCSGJ criteria)
    # gets d_tace x 0.4 from a further TACE/TAE, so that the best response of TAE alone in such
    # patients is near the 11% ORR of the TAE arm of Guo J et al., J Hepatocell Carcinoma
    # 2023;10:1379 (NCT04011033's published result, HCC after TACE failure, 30 per arm).
    # tests/simulate/test_models.py checks this target.
    d_tace_refractory_factor: float = 0.4
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
    # P: the incidences above hold at Shi 2020's median dose of 19.9 x 10^8 cells; the Cmax of
    # the CRS model is relative to the typical Cmax at that dose (Stein 2019 Cmax x (19.9e8 /
    # 1e8)^0.5, SIM-DOSE). Relative to the 1e8 kinetic reference instead, the marginal CRS at
    # Shi's dose was 83% (severe 29%, ICANS 17%), not Shi's 69% (test_models.py checks it).
    crs_reference_dose_cells: float = 19.9e8
    # P (context): tisagenlecleucel real world, grade >= 3 CRS 11.6%, grade >= 3 neurotoxicity
    # 7.5% (Pasquini MC et al., Blood Adv 2020;4:5414).
    crs_severe_given_any: float = 0.116 / (9.0 / 13.0)
    icans_any_car: float = 0.075
    # A: non-CAR cell products (NK, iNKT, PD-1 KO T cells): CRS grade 1-2 in 10%, no ICANS
    crs_any_other: float = 0.10
    # P: CAR-NK cells (cord-blood CD19 CAR-NK): no CRS, neurotoxicity or GVHD in 37 patients
    # (Marin D et al., Nat Med 2024, phase 1/2) nor in 11 (Liu E et al., N Engl J Med
    # 2020;382:545). A: CRS grade 1-2 in 5% (0/48 observed, upper 95% bound 3/48 = 6% by the
    # rule of three), never grade >= 3, no ICANS (SIM-CARNK).
    crs_any_car_nk: float = 0.05
    # P: CRS severity rises with Cmax (Mueller 2018; Awasthi 2020) and tumour burden: A, odds
    # ratio 1.5 per doubling of Cmax and 1.3 per doubling of baseline sum of diameters.
    crs_or_per_doubling_cmax: float = 1.5
    crs_or_per_doubling_sld: float = 1.3
    # P: solid-tumour CAR-T, lymphopenia 89.2% any grade, 52.0% grade >= 3 (meta-analysis of 163
    # trials, PROSPERO CRD42024596383); A: modelled as a lymphocyte nadir on day 3-7.
    lymphopenia_any: float = 0.892
    lymphopenia_g3: float = 0.520
    # A, calibrated: the lymphocyte count after a CAR-T infusion is multiplied by a nadir drawn
    # log-normal (median, log-SD), from day 3 recovering with a 10-day time constant, so that
    # "lymphocyte count decreased" AEs (worse than the screening grade) reach the two rates
    # above; tests/simulate/test_events.py checks them.
    car_lymphocyte_nadir: tuple[float, float] = (0.41, 0.45)
    crs_onset_median_days: float = 3.0  # A: onset ~day 2-5 after infusion
    dropout_per_year: float = 0.10  # A: withdrawal of consent / lost to follow-up, 10%/year
    # P: post-embolisation syndrome (PES: fever, abdominal pain, nausea/vomiting within 3 days of
    # the procedure) after 53.9% of TACE procedures (398/739; 68.1% of 298 patients), a Thai
    # retrospective cohort (abstract, discovery.researcher.life mirror, "prevalence and predictors
    # of post-embolization syndrome after TACE for HCC in Thailand"); 55% after TACE in Curr Med
    # Imaging Rev 2019;15(4):380 (PMID 31989907). Applied per TACE/TAE procedure.
    pes_after_tace: float = 0.539
    # A: the symptoms of one PES episode (no per-symptom split was retrieved): fever in 70%,
    # abdominal pain in 75% (at least one of the two always), nausea in 40%; each grade 2 in 30%
    # (else grade 1); onset day 1 after the procedure, lasting 2-5 days (resolves within 3-5
    # days, the definition's 3-day window).
    pes_fever: float = 0.70
    pes_pain: float = 0.75
    pes_nausea: float = 0.40
    pes_grade2: float = 0.30
    # A: transaminase rise after TACE/TAE (hepatic ischaemia, the cause of PES): ALT/AST x (1 +
    # r exp(-days / 5)) with r log-normal, median 2.0 in a PES episode and 0.5 without.
    pes_alt_rise: float = 2.0
    no_pes_alt_rise: float = 0.5
    missed_visit: float = 0.05  # A: 5% of scheduled assessments missed
    visit_jitter_sd_days: float = 2.0  # A: actual - planned date, normal, clipped to the window


BASELINE = Baseline()
TUMOUR = Tumour()
CELL_KINETICS = CellKinetics()
TOXICITY = Toxicity()


@dataclass(frozen=True)
class Referral:
    """Who a site refers to one trial: the shares of the referred (screened) population that
    differ from the general advanced-HCC cohort of :class:`Baseline`.

    A trial of "HCC relapsed after TACE" is referred patients who had TACE, a trial "after
    standard therapy" patients who had systemic therapy: drawing every trial's screened patients
    from the unselected cohort made ~90% of them fail such criteria. Each trial's profile is in
    :data:`REFERRALS` (keyed by protocol id; others use :data:`GENERAL_REFERRAL`); a user changes
    one with ``dataclasses.replace(REFERRALS["NCT04011033"], tace_failure=0.6)`` and passes it
    as ``simulate_trial(..., referral=...)`` or ``operating_characteristics(..., referral=...)``.
    The screening itself stays the protocol's criteria (the eligibility engine).

    Fields: ``prior_tace`` share with a previous TACE/TAE; ``tace_failure`` share of those whose
    TACE failed by the JSH-LCSGJ criteria (Kudo 2014); ``prior_systemic`` shares with 0, 1, 2
    previous systemic lines; ``ecog`` shares of ECOG 0, 1, 2; ``age_median`` (normal, sd from
    :attr:`Baseline.age_iqr`); ``gpc3_positive`` share with GPC3-positive IHC; ``withdrawal``
    share of patients who meet every criterion but withdraw before enrolment (screen failure
    "withdrew consent", no criterion failed); ``source`` the basis of the values.
    """

    name: str
    prior_tace: float
    tace_failure: float
    prior_systemic: tuple[float, float, float]
    ecog: tuple[float, float, float]
    age_median: float
    gpc3_positive: float
    withdrawal: float
    source: str

    def __post_init__(self) -> None:
        shares = {
            "prior_tace": self.prior_tace,
            "tace_failure": self.tace_failure,
            "gpc3_positive": self.gpc3_positive,
            "withdrawal": self.withdrawal,
        }
        for field_name, value in shares.items():
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InputError(
                    f"referral {self.name}: {field_name} is not a share",
                    value=value,
                    expected="0 to 1",
                )
        for field_name, dist in (("prior_systemic", self.prior_systemic), ("ecog", self.ecog)):
            if len(dist) != 3 or min(dist) < 0 or not math.isclose(sum(dist), 1.0, abs_tol=1e-6):
                raise InputError(
                    f"referral {self.name}: {field_name} must be 3 shares adding up to 1",
                    value=dist,
                )
        if not (18.0 <= self.age_median <= 90.0):
            raise InputError(
                f"referral {self.name}: age_median out of range",
                value=self.age_median,
                expected="18 to 90",
            )


#: The unselected advanced-HCC cohort (the default for a protocol without a profile).
GENERAL_REFERRAL = Referral(
    name="general",
    # D: 66% pre-treated, 79% of them with TACE -> 0.52 (international sorafenib cohort, n = 785,
    # PMC5704701, research file D)
    prior_tace=0.66 * 0.79,
    tace_failure=0.30,  # A: JSH TACE failure among those treated (no cohort value retrieved)
    prior_systemic=(0.50, 0.35, 0.15),  # A
    ecog=BASELINE.ecog,  # P: Biselli 2024 Table 1, ECOG 0/1/2 50.2/36.3/13.5%
    age_median=BASELINE.age_median,  # P: Biselli 2024, median 69 (Italian cohort)
    gpc3_positive=0.70,  # A: GPC3 IHC positive in ~70% of HCC
    # A, of the order of Parekh D et al., ecancermedicalscience 2022;16:1476 (15 randomised
    # oncology studies, 7,481 screened: 51.0% screen failures, 22.2% of which declined treatment,
    # i.e. 11.3% of those screened)
    withdrawal=0.10,
    source="Biselli 2024 (Table 1); PMC5704701; Parekh 2022",
)

#: A: fit patients referred to a cell-therapy trial. Sites refer few ECOG 2 patients to trials
#: that ask ECOG 0-1 or KPS >= 80 (5%, a third of Biselli's 13.5%; the rest split as
#: Biselli's 0:1 ratio, 58:42); age: REFLECT mean 61 (Kudo 2018, research file C, S; an
#: Asia-Pacific-majority trial), as the seed trials recruit in China, younger than Biselli's
#: Italian median 69.
_FIT_ECOG = (0.95 * 0.502 / 0.865, 0.95 * 0.363 / 0.865, 0.05)
_ASIAN_AGE = 61.0

#: Per-protocol referral profiles (A unless a source is named in ``source``).
REFERRALS: dict[str, Referral] = {
    # "relapsed after previous therapy" = JSH TACE failure (IN-RELAPSED); Guo J et al.,
    # J Hepatocell Carcinoma 2023;10:1379 enrolled "unresectable HCC after TACE failure"
    "NCT04011033": Referral(
        name="after TACE failure",
        prior_tace=0.95,  # A: referred by interventional radiology after TACE
        tace_failure=0.85,  # A: 15% do not meet the JSH-LCSGJ 2014 criteria on review
        prior_systemic=GENERAL_REFERRAL.prior_systemic,
        ecog=_FIT_ECOG,
        age_median=_ASIAN_AGE,
        gpc3_positive=GENERAL_REFERRAL.gpc3_positive,
        withdrawal=GENERAL_REFERRAL.withdrawal,
        source="Guo 2023 (population after TACE failure); A: shares",
    ),
    # "progression or intolerance after previous standard therapy", GPC3-positive (IN-GPC3)
    "sz003-car-nk": Referral(
        name="after standard therapy, GPC3-targeted",
        prior_tace=GENERAL_REFERRAL.prior_tace,
        tace_failure=GENERAL_REFERRAL.tace_failure,
        prior_systemic=(0.10, 0.60, 0.30),  # A: 90% referred after >= 1 systemic line
        # A: a KPS >= 80 trial is referred fitter patients still: ECOG 2 in 2%
        ecog=(0.65, 0.33, 0.02),
        age_median=_ASIAN_AGE,
        # A: half the referred patients had GPC3 IHC on archival tissue before referral (positive)
        # and half are tested at screening (70% positive): 0.5 + 0.5 x 0.7 = 0.85
        gpc3_positive=0.5 + 0.5 * GENERAL_REFERRAL.gpc3_positive,
        withdrawal=GENERAL_REFERRAL.withdrawal,
        source="A: shares",
    ),
    # relapsed/refractory HCC; the record states no other criterion (A-NO-ELIGIBILITY)
    "il1rap-car-t": Referral(
        name="relapsed/refractory",
        prior_tace=GENERAL_REFERRAL.prior_tace,
        tace_failure=GENERAL_REFERRAL.tace_failure,
        prior_systemic=(0.10, 0.60, 0.30),  # A: as sz003-car-nk
        ecog=_FIT_ECOG,
        age_median=_ASIAN_AGE,
        gpc3_positive=GENERAL_REFERRAL.gpc3_positive,
        withdrawal=GENERAL_REFERRAL.withdrawal,
        source="A: shares",
    ),
    # allogeneic NK cells with a targeted drug, BCLC C, ECOG < 2
    "NCT04162158": Referral(
        name="on a targeted drug, BCLC C",
        prior_tace=GENERAL_REFERRAL.prior_tace,
        tace_failure=GENERAL_REFERRAL.tace_failure,
        prior_systemic=GENERAL_REFERRAL.prior_systemic,
        ecog=_FIT_ECOG,
        age_median=_ASIAN_AGE,
        gpc3_positive=GENERAL_REFERRAL.gpc3_positive,
        withdrawal=GENERAL_REFERRAL.withdrawal,
        source="A: shares",
    ),
    # TACE + PD-1 knockout T cells in advanced (BCLC C) HCC: no selection beyond the stage
    "pd1-ko-t-tace": Referral(
        name="advanced HCC, TACE candidates",
        prior_tace=GENERAL_REFERRAL.prior_tace,
        tace_failure=GENERAL_REFERRAL.tace_failure,
        prior_systemic=GENERAL_REFERRAL.prior_systemic,
        ecog=GENERAL_REFERRAL.ecog,
        age_median=_ASIAN_AGE,
        gpc3_positive=GENERAL_REFERRAL.gpc3_positive,
        withdrawal=GENERAL_REFERRAL.withdrawal,
        source="A: age only",
    ),
}


def referral_for(protocol_id: str) -> Referral:
    """The referral profile of a protocol (:data:`REFERRALS`), else :data:`GENERAL_REFERRAL`."""
    return REFERRALS.get(protocol_id, GENERAL_REFERRAL)


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
    (
        "SIM-REFRACTORY",
        "TACE after TACE failure",
        "regression d_tace x 0.4, calibrated to TAE ORR 11% after TACE failure (Guo 2023)",
    ),
    ("SIM-CK", "non-CAR products", "Stein 2019 kinetics with Cmax x 0.05, no transgene"),
    ("SIM-DOSE", "dose and expansion", "Cmax proportional to dose^0.5"),
    ("SIM-CRS", "CRS drivers", "OR 1.5 per Cmax doubling, 1.3 per tumour-burden doubling"),
    (
        "SIM-CARNK",
        "CAR-NK products",
        "CRS grade 1-2 in 5%, no grade >= 3, no ICANS (0/48: Marin 2024, Liu 2020)",
    ),
    ("SIM-DROP", "dropout", "10% per year, exponential"),
    (
        "SIM-REFER",
        "who is screened",
        "per-protocol referral profile (prior TACE/TACE failure, prior lines, ECOG, age, GPC3)",
    ),
    ("SIM-WITHDRAW", "withdrawal during screening", "10% of eligible patients (Parekh 2022: 11%)"),
    ("SIM-PES", "post-embolisation syndrome symptoms", "fever 70%, pain 75%, nausea 40%"),
    ("SIM-AEREL", "AE relatedness", "by cause and timing (hcctrial.simulate.events.relatedness)"),
    ("SIM-SAE", "AE seriousness", "fatal AEs and CRS/ICANS grade >= 3; lab toxicities not serious"),
    ("SIM-VISIT", "visits", "5% missed; jitter normal sd 2 days within the window"),
    ("SIM-JUDGE", "investigator-judgement criteria", "decided in the patient's favour"),
    ("SIM-EFFECT", "treatment effect", "hazards and growth constant x HR in the experimental arm"),
)
