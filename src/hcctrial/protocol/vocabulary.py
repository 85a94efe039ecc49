"""The vocabulary of the eligibility criterion language: the one list of it.

``docs/criteria-language.md`` is the contract; this module is that contract as data. The
protocol schema checks expressions against it when a protocol is loaded, and the eligibility
engine (:mod:`hcctrial.eligibility.language`) imports it to type-check and evaluate them. Add a
name here and in the document together, never in one place only.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "CATEGORIES",
    "CATEGORY_FUNCTIONS",
    "CONDITIONS",
    "CONDITION_FUNCTIONS",
    "FUNCTIONS",
    "LAB_CODES",
    "LAB_FUNCTIONS",
    "NAMES",
]

#: Patient names an expression may read, with their meaning (docs/criteria-language.md,
#: "Patient vocabulary").
NAMES: Final = MappingProxyType(
    {
        "age": "years on the screening date",
        "sex": '"M" or "F"',
        "diagnosis": 'primary diagnosis, e.g. "HCC"',
        "diagnosis_basis": '"histology", "cytology", "imaging" (AASLD/EASL), "clinical"',
        "bclc_stage": 'Barcelona Clinic Liver Cancer stage "0", "A", "B", "C", "D"',
        "child_pugh_score": "Child-Pugh points 5..15",
        "child_pugh_class": '"A", "B", "C"',
        "ecog": "ECOG performance status 0..5",
        "kps": "Karnofsky performance status 0..100",
        "life_expectancy_weeks": "investigator's estimate of expected survival, weeks",
        "gpc3_ihc": 'glypican-3 immunohistochemistry, "positive" or "negative"',
        "measurable_lesions": "RECIST 1.1 measurable lesions at screening",
        "mrecist_measurable_lesions": "mRECIST measurable lesions at screening",
        "hbsag_positive": "HBsAg positive",
        "hbcab_positive": "anti-HBc positive",
        "hcv_ab_positive": "anti-HCV positive",
        "hiv_positive": "HIV positive",
        "antiviral_days": "days of current anti-HBV therapy (entecavir/tenofovir)",
        "ascites_depth_cm": "deepest pocket of ascites on imaging, cm",
        "tumour_liver_fraction": "percent of the liver replaced by tumour",
        "vascular_invasion_occlusive": "thrombus completely blocking portal/hepatic veins or IVC",
        "main_portal_vein_invasion": "tumour invasion of the main portal vein (Vp4)",
        "extrahepatic_spread": "extrahepatic metastasis",
        "lvef_percent": "left ventricular ejection fraction, percent",
        "fev1_percent_predicted": "FEV1 as percent of predicted",
        "pregnant": "pregnant",
        "lactating": "lactating",
        "consent_signed": "written informed consent signed",
        "donor_available": "a suitable (HLA-haploidentical or related) donor is available",
        "tace_failure_jsh": "TACE failure/refractoriness by the JSH definition (Kudo 2014)",
        "prior_lines_systemic": "lines of prior systemic therapy",
        "stable_vital_signs": "stable vital signs",
    }
)

#: Functions an expression may call, with their signature.
FUNCTIONS: Final = MappingProxyType(
    {
        "lab": "lab(CODE[, UNIT]) -> latest value within the look-back window",
        "uln": "uln(CODE) -> upper limit of normal of that lab record",
        "lln": "lln(CODE) -> lower limit of normal of that lab record",
        "xuln": "xuln(CODE) -> lab(CODE) / uln(CODE)",
        "crcl": "crcl() -> Cockcroft-Gault creatinine clearance, mL/min",
        "days_since": "days_since(CATEGORY) -> days since the latest event, None = never",
        "within_days": "within_days(CATEGORY, N) -> bool",
        "within_months": "within_months(CATEGORY, N) -> bool",
        "history": "history(CONDITION) -> bool, any time",
        "active": "active(CONDITION) -> bool, at screening",
    }
)

#: Functions whose first argument is a lab code / a category / a condition.
LAB_FUNCTIONS: Final = frozenset({"lab", "uln", "lln", "xuln"})
CATEGORY_FUNCTIONS: Final = frozenset({"days_since", "within_days", "within_months"})
CONDITION_FUNCTIONS: Final = frozenset({"history", "active"})

#: SDTM LBTESTCD (CDISC controlled terminology) codes the language knows.
LAB_CODES: Final = MappingProxyType(
    {
        "WBC": "leukocytes",
        "PLT": "platelets",
        "HGB": "haemoglobin",
        "LYM": "lymphocytes",
        "NEUT": "neutrophils",
        "ALB": "albumin",
        "BILI": "total bilirubin",
        "ALT": "alanine aminotransferase",
        "AST": "aspartate aminotransferase",
        "ALP": "alkaline phosphatase",
        "GGT": "gamma-glutamyl transferase",
        "CREAT": "creatinine",
        "LIPASE": "lipase",
        "AMYLASE": "amylase",
        "INR": "international normalised ratio",
        "PT": "prothrombin time",
        "PTPROL": "prothrombin time prolongation over control, seconds",
        "HBVDNA": "HBV DNA",
        "HBA1C": "glycated haemoglobin",
        "AFP": "alpha-fetoprotein",
        "INKTPBMC": "iNKT cells as percent of PBMC",
        "SODIUM": "sodium",
        "K": "potassium",
        "CA": "calcium",
        "GLUC": "glucose",
        "MG": "magnesium",
    }
)

#: Therapy and event categories for days_since / within_days / within_months.
CATEGORIES: Final = frozenset(
    {
        "anti_tumour_therapy",
        "surgery",
        "interventional_therapy",
        "radiotherapy",
        "chemotherapy",
        "immunotherapy",
        "targeted_therapy",
        "investigational_agent",
        "cell_therapy",
        "systemic_steroid",
        "myocardial_infarction",
        "unstable_angina",
        "arrhythmia_unstable",
        "gi_bleeding",
        "other_malignancy",
        "live_vaccine",
        "major_surgery",
    }
)

#: Conditions for history / active.
CONDITIONS: Final = frozenset(
    {
        "hepatic_encephalopathy",
        "infection_uncontrolled",
        "hiv",
        "hbv_active",
        "hcv_active",
        "autoimmune_disease",
        "organ_transplant",
        "awaiting_transplant",
        "heart_failure_severe",
        "copd",
        "interstitial_lung_disease",
        "pulmonary_embolism",
        "gastric_ulcer",
        "gi_bleeding",
        "bleeding_tendency",
        "diabetes_uncontrolled",
        "allergy_study_product",
        "other_malignancy",
        "cns_metastasis",
        "psychiatric_disorder",
    }
)
