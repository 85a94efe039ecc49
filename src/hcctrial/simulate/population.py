"""Virtual patients with advanced HCC: baseline characteristics drawn from a published cohort.

:func:`sample_baseline` draws ``n`` patients (vectorised numpy) from the distributions of
:mod:`hcctrial.simulate.parameters` (Biselli 2024 Table 1 and the other cited sources), with
derived quantities computed by the clinical layer, not sampled: Child-Pugh score and class from
bilirubin, albumin, INR, ascites and encephalopathy (Pugh 1973, :func:`child_pugh_expr`), BCLC
stage from macrovascular invasion, extrahepatic spread, ECOG and Child-Pugh (BCLC 2022, Reig M et
al., J Hepatol 2022;76:681: C = vascular invasion, extrahepatic spread or ECOG 1-2; D = Child-Pugh
C or ECOG > 2; otherwise B for multinodular, A for one nodule), KPS from ECOG (Oken 1982 table).

:func:`patient_record` turns one row into the eligibility engine's patient record, so that the
protocol's real criteria screen the virtual patients.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from hcctrial.clinical.liver import child_pugh_class_expr, child_pugh_expr
from hcctrial.simulate.parameters import (
    BASELINE,
    GENERAL_REFERRAL,
    TUMOUR,
    Z75,
    Referral,
    lognormal_sigma_from_iqr,
)

__all__ = ["LAB_PANEL", "patient_record", "sample_baseline"]

MG_DL_BILI_TO_UMOL = 17.104  # 1 mg/dL bilirubin = 17.104 umol/L (584.66 g/mol, PubChem 5280352)
MG_DL_CREAT_TO_UMOL = 88.40  # 1 mg/dL creatinine = 88.40 umol/L (113.12 g/mol, PubChem 588)

#: Screening labs: code -> (unit, LLN, ULN, label). Reference intervals are typical adult values
#: (A: the simulator's choice, one set for every site); the distributions come from
#: :func:`sample_baseline`.
LAB_PANEL: dict[str, tuple[str, float | None, float | None, str]] = {
    "WBC": ("10^9/L", 3.5, 9.5, "Leukocytes"),
    "NEUT": ("10^9/L", 1.8, 6.3, "Neutrophils"),
    "LYM": ("10^9/L", 1.1, 3.2, "Lymphocytes"),
    "PLT": ("10^9/L", 125.0, 350.0, "Platelets"),
    "HGB": ("g/L", 130.0, 175.0, "Hemoglobin"),
    "ALB": ("g/L", 35.0, 50.0, "Albumin"),
    "BILI": ("umol/L", 0.0, 21.0, "Bilirubin"),
    "ALT": ("U/L", 0.0, 40.0, "Alanine Aminotransferase"),
    "AST": ("U/L", 0.0, 40.0, "Aspartate Aminotransferase"),
    "CREAT": ("umol/L", 57.0, 111.0, "Creatinine"),
    "INR": ("ratio", 0.8, 1.2, "Prothrombin Intl. Normalized Ratio"),
    "PTPROL": ("s", 0.0, 3.0, "Prothrombin Time prolongation over control"),
    "LIPASE": ("U/L", 0.0, 60.0, "Lipase"),
    "AMYLASE": ("U/L", 0.0, 100.0, "Amylase"),
    "HBA1C": ("%", 4.0, 6.0, "Hemoglobin A1C"),
    "AFP": ("ng/mL", 0.0, 7.0, "Alpha Fetoprotein"),
    "HBVDNA": ("IU/mL", None, 20.0, "Hepatitis B Virus DNA"),
    "INKTPBMC": ("%", None, None, "iNKT cells as percent of PBMC"),
}


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = [k for k, _ in table]
    p = np.array([v for _, v in table], dtype=float)
    return np.asarray(rng.choice(names, size=n, p=p / p.sum()))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.asarray(median * np.exp(sigma * rng.standard_normal(n)))


def sample_baseline(
    rng: np.random.Generator, n: int, referral: Referral = GENERAL_REFERRAL
) -> pl.DataFrame:
    """``n`` virtual patients with advanced HCC, one row each (units in the column names).

    Marginal distributions (see :mod:`hcctrial.simulate.parameters` for each source): age normal
    (median ``referral.age_median``, 69 in the general cohort; sd = IQR 14 / 1.349); sex 85.1%
    male; aetiology HCV/HBV/alcohol/other; ECOG ``referral.ecog`` (general: 0/1/2
    50.2/36.3/13.5%); bilirubin, INR, platelets, AFP, creatinine, AST log-normal from median and
    IQR; albumin normal; ascites 29.3%; macrovascular invasion 33.5%; extrahepatic spread 27%;
    baseline sum of target-lesion diameters log-normal (median 57 mm). Prior TACE, JSH TACE
    failure among those treated, prior systemic lines and GPC3 positivity are the referral
    profile's shares (:class:`~hcctrial.simulate.parameters.Referral`: who a site refers to that
    trial).
    """
    b = BASELINE
    age = np.clip(rng.normal(referral.age_median, b.age_iqr / (2 * Z75), n), 20.0, 95.0).round(0)
    male = rng.random(n) < b.male
    aetiology = _pick(rng, b.aetiology, n)
    ecog = rng.choice(3, size=n, p=np.array(referral.ecog) / sum(referral.ecog))
    kps = np.where(ecog == 0, rng.choice([90, 100], n), np.where(ecog == 1, 80, 60))
    kps = np.where((ecog == 1) & (rng.random(n) < 0.5), 70, kps)
    bili_mg = _lognormal(
        rng, b.bilirubin_mg_dl, lognormal_sigma_from_iqr(b.bilirubin_mg_dl, 0.8), n
    )
    albumin_g_dl = np.clip(rng.normal(b.albumin_g_dl, b.albumin_iqr / (2 * Z75), n), 1.5, 5.5)
    inr = np.clip(_lognormal(rng, b.inr, lognormal_sigma_from_iqr(b.inr, b.inr_iqr), n), 0.8, 4)
    plt_ = _lognormal(rng, b.platelets, lognormal_sigma_from_iqr(b.platelets, b.platelets_iqr), n)
    afp = np.clip(_lognormal(rng, b.afp, lognormal_sigma_from_iqr(b.afp, b.afp_iqr), n), 0.5, 2e6)
    creat_mg = _lognormal(
        rng, b.creatinine_mg_dl, lognormal_sigma_from_iqr(b.creatinine_mg_dl, b.creatinine_iqr), n
    )
    bmi = _lognormal(rng, b.bmi, lognormal_sigma_from_iqr(b.bmi, b.bmi_iqr), n)
    height = np.where(male, rng.normal(b.height_cm[0], b.height_sd, n), 0.0)
    height = np.where(male, height, rng.normal(b.height_cm[1], b.height_sd, n)).round(0)
    weight = (bmi * (height / 100.0) ** 2).round(1)
    ast = _lognormal(rng, b.ast, b.ast_sigma, n)
    alt = ast / _lognormal(rng, b.de_ritis, b.de_ritis_sigma, n)
    has_ascites = rng.random(n) < b.ascites
    ascites = np.where(
        has_ascites, np.where(rng.random(n) < 0.8, "mild", "moderate-severe"), "none"
    )
    enceph = np.where(rng.random(n) < 0.05, "grade1-2", "none")
    mvi = rng.random(n) < b.macrovascular_invasion
    ehs = rng.random(n) < b.extrahepatic_spread
    # tumour burden: two liver target lesions in 85% (A: multinodular disease is the rule in
    # BCLC B/C, and 85% gives the BCLC A share near Biselli's 1.4%), one more (lung) with spread
    sld = _lognormal(rng, TUMOUR.sld_median_mm, TUMOUR.sld_sigma, n)
    n_liver = np.where(rng.random(n) < 0.85, 2, 1)
    frame = pl.DataFrame(
        {
            "AGE": age,
            "SEX": np.where(male, "M", "F"),
            "AETIOL": aetiology,
            "ECOG": ecog.astype(np.int64),
            "KPS": kps.astype(np.int64),
            "BILI": (bili_mg * MG_DL_BILI_TO_UMOL).round(1),
            "ALB": (albumin_g_dl * 10.0).round(0),
            "INR": inr.round(2),
            "PLT": plt_.round(0),
            "AFP": afp.round(1),
            "CREAT": (creat_mg * MG_DL_CREAT_TO_UMOL).round(0),
            "AST": ast.round(0),
            "ALT": alt.round(0),
            "WBC": _lognormal(rng, 5.0, 0.3, n).round(2),  # A: reference-range population
            "LYM": _lognormal(rng, 1.3, 0.35, n).round(2),  # A
            "HGB": np.clip(rng.normal(125.0, 18.0, n), 60, 180).round(0),  # A
            "LIPASE": _lognormal(rng, 30.0, 0.4, n).round(0),  # A
            "AMYLASE": _lognormal(rng, 60.0, 0.35, n).round(0),  # A
            "HBA1C": np.clip(rng.normal(5.8, 0.8, n), 4.0, 12.0).round(1),  # A
            "INKTPBMC": _lognormal(rng, 0.1, 0.8, n).round(3),  # A: iNKT ~0.1% of PBMC
            "HEIGHT": height,
            "WEIGHT": weight,
            "ASCITES": ascites,
            "ENCEPH": enceph,
            "MVI": mvi,
            "EHS": ehs,
            "SLD0": sld.round(0),
            "NLIVER": n_liver.astype(np.int64),
            "GPC3POS": rng.random(n) < referral.gpc3_positive,
            "PRIORLINES": rng.choice(3, size=n, p=np.array(referral.prior_systemic)).astype(
                np.int64
            ),
            "PRIORTACE": rng.random(n) < referral.prior_tace,
            "TACEFAIL": rng.random(n) < referral.tace_failure,
            "LVEF": np.clip(rng.normal(62.0, 5.0, n), 35, 80).round(0),  # A
            "FEV1": np.clip(rng.normal(90.0, 12.0, n), 40, 130).round(0),  # A
            "HBVDNA": np.where(aetiology == "HBV", _lognormal(rng, 30.0, 2.0, n), 0.0).round(0),
            "ANTIVIRALD": np.where(aetiology == "HBV", rng.integers(0, 2000, n), 0).astype(
                np.int64
            ),  # A
            "DONOR": rng.random(n) < 0.9,  # A: related donor available
            # A: of macrovascular invasion, 20% occlusive thrombus and 20% main portal vein (Vp4)
            "OCCLUSIVE": mvi & (rng.random(n) < 0.2),
            "VP4": mvi & (rng.random(n) < 0.2),
        }
    )
    frame = frame.with_columns(
        (pl.col("WBC") * 0.6).round(2).alias("NEUT"),  # A: neutrophils 60% of leukocytes
        (pl.col("INR") - 1.0).mul(12.0).clip(0.0).round(1).alias("PTPROL"),  # PT ~ 12 s x INR
        child_pugh_expr(
            pl.col("BILI"), pl.col("ALB"), pl.col("INR"), pl.col("ASCITES"), pl.col("ENCEPH")
        ).alias("CPSCORE"),
    )
    frame = frame.with_columns(child_pugh_class_expr("CPSCORE").alias("CPCLASS"))
    bclc = (
        pl.when((pl.col("CPCLASS") == "C") | (pl.col("ECOG") > 2))
        .then(pl.lit("D"))
        .when(pl.col("MVI") | pl.col("EHS") | (pl.col("ECOG") >= 1))
        .then(pl.lit("C"))
        .when(pl.col("NLIVER") >= 2)
        .then(pl.lit("B"))
        .otherwise(pl.lit("A"))
    )
    return frame.with_columns(bclc.alias("BCLC")).with_row_index("PATIENT")


def _labs(row: dict[str, Any], day: date) -> list[dict[str, Any]]:
    out = []
    for code, (unit, lln, uln, _label) in LAB_PANEL.items():
        value = row.get(code)
        if value is None:
            continue
        lab: dict[str, Any] = {"code": code, "value": float(value), "unit": unit}
        lab["date"] = day.isoformat()
        if lln is not None:
            lab["lln"] = lln
        if uln is not None:
            lab["uln"] = uln
        out.append(lab)
    return out


def patient_record(
    row: dict[str, Any], screen_date: date, judgements: dict[str, bool]
) -> dict[str, Any]:
    """The eligibility engine's JSON form of one virtual patient screened on ``screen_date``.

    Lab samples are dated three days before screening; therapy history is complete (a present
    list), so washout criteria evaluate.
    """
    lab_day = screen_date - timedelta(days=3)
    hbv = row["AETIOL"] == "HBV"
    hcv = row["AETIOL"] == "HCV"
    birth = screen_date - timedelta(days=int(row["AGE"] * 365.25 + 100))
    lesions = int(row["NLIVER"]) + int(bool(row["EHS"]))
    therapies = []
    if row["PRIORTACE"]:
        start = screen_date - timedelta(days=120)
        therapies.append(
            {
                "category": "interventional_therapy",
                "start": start.isoformat(),
                "end": start.isoformat(),
                "name": "TACE",
            }
        )
    if row["PRIORLINES"]:
        start = screen_date - timedelta(days=240)
        end = screen_date - timedelta(days=35)
        therapies.append(
            {
                "category": "targeted_therapy",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "name": "sorafenib",
            }
        )
    conditions = []
    if hbv:
        conditions.append({"name": "hbv_active", "onset": "2000-01-01", "ongoing": True})
    if row["ENCEPH"] != "none":
        conditions.append(
            {"name": "hepatic_encephalopathy", "onset": lab_day.isoformat(), "ongoing": True}
        )
    findings: dict[str, Any] = {
        "diagnosis": "HCC",
        "diagnosis_basis": "histology",
        "bclc_stage": row["BCLC"],
        "child_pugh_score": int(row["CPSCORE"]),
        "child_pugh_class": row["CPCLASS"],
        "ecog": int(row["ECOG"]),
        "kps": int(row["KPS"]),
        "life_expectancy_weeks": 12 + 40 * (2 - int(row["ECOG"])),
        "gpc3_ihc": "positive" if row["GPC3POS"] else "negative",
        "measurable_lesions": lesions,
        "mrecist_measurable_lesions": lesions,
        "hbsag_positive": hbv,
        "hbcab_positive": hbv,
        "hcv_ab_positive": hcv,
        "hiv_positive": False,
        "antiviral_days": int(row["ANTIVIRALD"]),
        "ascites_depth_cm": {"none": 0.0, "mild": 2.0}.get(row["ASCITES"], 6.0),
        "tumour_liver_fraction": min(90.0, float(row["SLD0"]) / 3.0),
        "vascular_invasion_occlusive": bool(row["OCCLUSIVE"]),
        "main_portal_vein_invasion": bool(row["VP4"]),
        "extrahepatic_spread": bool(row["EHS"]),
        "lvef_percent": float(row["LVEF"]),
        "fev1_percent_predicted": float(row["FEV1"]),
        "pregnant": False,
        "lactating": False,
        "consent_signed": True,
        "donor_available": bool(row["DONOR"]),
        "tace_failure_jsh": bool(row["PRIORTACE"]) and bool(row["TACEFAIL"]),
        "prior_lines_systemic": int(row["PRIORLINES"]),
        "stable_vital_signs": True,
        "ascites": row["ASCITES"],
        "encephalopathy": "none" if row["ENCEPH"] == "none" else "grade 1-2",
    }
    return {
        "id": f"P{int(row['PATIENT']):05d}",
        "sex": row["SEX"],
        "birth_date": birth.isoformat(),
        "weight_kg": float(row["WEIGHT"]),
        "height_cm": float(row["HEIGHT"]),
        "findings": findings,
        "labs": _labs(row, lab_day),
        "therapies": therapies,
        "conditions": conditions,
        "judgements": judgements,
    }
