"""A seeded synthetic OMOP CDM v5.4 population of advanced-HCC patients (tests, benchmarks).

Baseline distributions follow ``docs/research/simulation-parameters.md`` section D
(Biselli M et al., Cancers 2024;16:1080, Table 1, Italian sorafenib cohort, n=215): median age
69 y, 85% male; total bilirubin median 1.02 mg/dL (IQR 0.8); albumin median 3.5 g/dL
(IQR 0.61); platelets median 129 x10^9/L (IQR 107); AFP median 36 ng/mL (IQR 538); INR median
1.16; ECOG 0/1/2 50.2/36.3/13.5%; BCLC A/B/C 1.4/16.7/81.9%; macrovascular invasion 33.5%;
extrahepatic spread 27%. Right-skewed analytes are log-normal with the median and IQR above:
for a log-normal, IQR = 2 m sinh(z75 s) with z75 = 0.6745, so s = asinh(IQR / 2m) / z75.

Everything else is an ASSUMPTION of this generator (marked ``assumption`` beside the number):
ALT/AST are not reported in that table (section D: NR), so they are log-normal around
45/55 U/L; reference limits are typical adult intervals; unit styles, missingness and
staleness shares are chosen to exercise the screen: per patient 1 + Poisson(1.2) lab panels,
the last one 0-14 days before the anchor date for 65%, 15-90 days for 20% (stale for a
14-day window) and 91-365 days for 15%; each test is missing from a panel with probability
0.05; 10% of results carry no reference range; 0.1% carry a unit code no converter knows.

Concept ids are synthetic (LOINC 3,000,000+, SNOMED 4,000,000+, UCUM 9,000,000+, local
HCCTRIAL 2,000,000,001+); the screen matches codes through ``concept``, so real Athena ids work
the same way.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from hcctrial.eligibility.codes import LOINC_TO_FINDING
from hcctrial.eligibility.omop.concepts import (
    GENDER_FEMALE,
    GENDER_MALE,
    LOCAL_VOCABULARY,
    concept_map,
)

__all__ = ["LAB_MODEL", "synthetic_omop", "write_duckdb"]

_Z75 = 0.6745  # 75th percentile of the standard normal


def _sigma(median: float, iqr: float) -> float:
    """Log-normal sigma from median and IQR: IQR = 2 m sinh(z75 s)."""
    return math.asinh(iqr / (2 * median)) / _Z75


# lab: (LOINC, median in SI-ish unit, log-normal sigma or None for normal sd, sd, LLN, ULN,
#       SI unit, conventional unit, factor SI -> conventional, source)
LAB_MODEL: dict[
    str, tuple[str, float, float, float, float | None, float | None, str, str, float]
] = {
    # Biselli 2024 Table 1: bilirubin 1.02 mg/dL (IQR 0.8) = 17.4 umol/L; ULN 21 umol/L (assumption)
    "BILI": ("1975-2", 17.44, _sigma(1.02, 0.8), 0, None, 21.0, "umol/L", "mg/dL", 1 / 17.104),
    # Biselli 2024: albumin 3.5 g/dL (IQR 0.61) -> normal, sd = IQR / 1.349
    "ALB": ("1751-7", 35.0, 0, 6.1 / 1.349, 35.0, 52.0, "g/L", "g/dL", 0.1),
    # Biselli 2024: platelets 129 x10^9/L (IQR 107); 10^9/L = 10^3/uL
    "PLT": ("777-3", 129.0, _sigma(129, 107), 0, 125.0, 350.0, "10*9/L", "10*3/uL", 1.0),
    # Biselli 2024: INR median 1.16; sigma 0.12 (assumption, IQR not reported)
    "INR": ("6301-6", 1.16, 0.12, 0, 0.8, 1.2, "", "", 1.0),
    # Biselli 2024: AFP 36 ng/mL (IQR 538)
    "AFP": ("1834-1", 36.0, _sigma(36, 538), 0, None, 7.0, "ng/mL", "ng/mL", 1.0),
    "ALT": ("1742-6", 45.0, 0.6, 0, None, 40.0, "U/L", "U/L", 1.0),  # assumption (NR)
    "AST": ("1920-8", 55.0, 0.6, 0, None, 40.0, "U/L", "U/L", 1.0),  # assumption (NR)
    "CREAT": ("2160-0", 80.0, 0.25, 0, 62.0, 106.0, "umol/L", "mg/dL", 1 / 88.4),  # assumption
    "WBC": ("6690-2", 5.5, 0.35, 0, 4.0, 10.0, "10*9/L", "10*3/uL", 1.0),  # assumption
    "LYM": ("731-0", 1.3, 0.45, 0, 1.0, 3.2, "10*9/L", "10*3/uL", 1.0),  # assumption
    "NEUT": ("751-8", 3.5, 0.4, 0, 1.8, 7.5, "10*9/L", "10*3/uL", 1.0),  # assumption
    "HGB": ("718-7", 125.0, 0, 18.0, 120.0, 170.0, "g/L", "g/dL", 0.1),  # assumption
    "LIPASE": ("3040-3", 35.0, 0.5, 0, None, 60.0, "U/L", "U/L", 1.0),  # assumption
    "AMYLASE": ("1798-8", 70.0, 0.4, 0, None, 100.0, "U/L", "U/L", 1.0),  # assumption
}
_UNIT_TYPO = "mg/dLL"


def _concepts() -> pl.DataFrame:
    cmap = concept_map()
    base = {"LOINC": 3_000_000, "SNOMED": 4_000_000, LOCAL_VOCABULARY: 2_000_000_000}
    keys = cmap.select("vocabulary_id", "concept_code").unique(maintain_order=True)
    keys = keys.with_columns(
        (
            pl.col("vocabulary_id").replace_strict(base, return_dtype=pl.Int64)
            + pl.int_range(1, pl.len() + 1).over("vocabulary_id")
        ).alias("concept_id")
    )
    units = sorted({u for m in LAB_MODEL.values() for u in (m[6], m[7]) if u} | {_UNIT_TYPO, "kg"})
    ucum = pl.DataFrame(
        {
            "vocabulary_id": "UCUM",
            "concept_code": units,
            "concept_id": [9_000_001 + i for i in range(len(units))],
        }
    )
    return pl.concat([keys, ucum]).with_columns(
        pl.col("concept_code").alias("concept_name"), pl.lit("S").alias("standard_concept")
    )


def _ids(concepts: pl.DataFrame, vocabulary: str) -> dict[str, int]:
    sub = concepts.filter(pl.col("vocabulary_id") == vocabulary)
    return dict(zip(sub["concept_code"].to_list(), sub["concept_id"].to_list(), strict=True))


def synthetic_omop(
    n: int, *, seed: int = 0, anchor: date = date(2026, 6, 30)
) -> dict[str, pl.DataFrame]:
    """A synthetic OMOP population of ``n`` persons, data dated on or before ``anchor``.

    Returns the tables ``person, measurement, observation, condition_occurrence,
    drug_exposure, procedure_occurrence, concept`` as polars frames (OMOP v5.4 column names).
    """
    rng = np.random.default_rng(seed)
    concepts = _concepts()
    loinc, local, ucum = (
        _ids(concepts, "LOINC"),
        _ids(concepts, LOCAL_VOCABULARY),
        _ids(concepts, "UCUM"),
    )
    anchor_days = (anchor - date(1970, 1, 1)).days
    pid = np.arange(1, n + 1, dtype=np.int64)

    # --- person: age median 69, 85% male (Biselli 2024); sd 10 y (assumption)
    age_days = np.clip(rng.normal(69, 10, n), 25, 95) * 365.25
    birth = anchor_days - age_days.astype(np.int64)
    birth_dates = pl.Series(birth, dtype=pl.Int32).cast(pl.Date)
    male = rng.random(n) < 0.85
    partial = rng.random(n) < 0.01  # 1% only the year of birth (assumption)
    person = pl.DataFrame(
        {
            "person_id": pid,
            "gender_concept_id": np.where(male, GENDER_MALE, GENDER_FEMALE).astype(np.int64),
            "year_of_birth": birth_dates.dt.year().cast(pl.Int64),
            "month_of_birth": birth_dates.dt.month().cast(pl.Int64),
            "day_of_birth": birth_dates.dt.day().cast(pl.Int64),
        }
    ).with_columns(
        pl.when(pl.Series(partial)).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("month_of_birth", "day_of_birth")
    )

    # --- measurement: lab panels
    n_panels = 1 + rng.poisson(1.2, n)
    panel_person = np.repeat(pid, n_panels)
    first = np.cumsum(n_panels) - n_panels
    rank = np.arange(panel_person.size) - np.repeat(first, n_panels)
    style = rng.random(n)
    last = np.select(
        [style < 0.65, style < 0.85],
        [rng.integers(0, 15, n), rng.integers(15, 91, n)],
        rng.integers(91, 366, n),
    )
    gaps = rng.integers(7, 61, panel_person.size)
    panel_offset = np.repeat(last, n_panels) + rank * gaps
    conventional = rng.random(n) < 0.45  # unit style of the person's site (assumption)
    frames = []
    for lab, (code, median, sigma, sd, lln, uln, si, conv, factor) in LAB_MODEL.items():
        present = rng.random(panel_person.size) < 0.95
        who = panel_person[present] - 1
        base = (
            median * np.exp(sigma * rng.standard_normal(n)) if sigma else rng.normal(median, sd, n)
        )
        base = np.clip(base, median * 0.05, None)
        value = base[who] * np.exp(0.05 * rng.standard_normal(who.size))
        use_conv = conventional[who] & (conv != si)
        value = np.where(use_conv, value * factor, value)
        unit_text = np.where(use_conv, conv, si)
        digits = 2 if lab in ("INR", "BILI") or conv in ("mg/dL", "g/dL") else 1
        frames.append(
            pl.DataFrame(
                {
                    "person_id": panel_person[present],
                    "measurement_concept_id": np.full(who.size, loinc[code], dtype=np.int64),
                    "measurement_date": pl.Series(
                        anchor_days - panel_offset[present], dtype=pl.Int32
                    ).cast(pl.Date),
                    "value_as_number": np.round(value, digits),
                    "unit": unit_text,
                    "range_low": np.where(use_conv, (lln or np.nan) * factor, lln or np.nan)
                    if lln
                    else np.full(who.size, np.nan),
                    "range_high": np.where(use_conv, (uln or np.nan) * factor, uln or np.nan)
                    if uln
                    else np.full(who.size, np.nan),
                }
            )
        )
    weight_who = pid[rng.random(n) < 0.95]
    frames.append(
        pl.DataFrame(
            {
                "person_id": weight_who,
                "measurement_concept_id": np.full(
                    weight_who.size, loinc["29463-7"], dtype=np.int64
                ),
                "measurement_date": pl.Series(
                    anchor_days - rng.integers(0, 120, weight_who.size), dtype=pl.Int32
                ).cast(pl.Date),
                "value_as_number": np.round(
                    np.clip(rng.normal(65, 12, weight_who.size), 35, 150), 1
                ),  # assumption
                "unit": np.full(weight_who.size, "kg"),
                "range_low": np.full(weight_who.size, np.nan),
                "range_high": np.full(weight_who.size, np.nan),
            }
        )
    )
    m = pl.concat(frames).with_columns(pl.col("range_low", "range_high").fill_nan(None))
    no_range = rng.random(m.height) < 0.10
    typo = rng.random(m.height) < 0.001
    m = m.with_columns(
        pl.when(pl.Series(no_range)).then(None).otherwise(pl.col("range_high")).alias("range_high"),
        pl.when(pl.Series(typo) & (pl.col("unit") != ""))
        .then(pl.lit(_UNIT_TYPO))
        .otherwise(pl.col("unit"))
        .alias("unit"),
    )
    m = m.with_columns(
        pl.col("unit")
        .replace_strict(ucum, default=0, return_dtype=pl.Int64)
        .alias("unit_concept_id")
    )
    m = (
        m.drop("unit")
        .sort("person_id", "measurement_date", maintain_order=True)
        .with_row_index("measurement_id", offset=1)
    )
    m = m.with_columns(pl.col("measurement_id").cast(pl.Int64))

    observation = _observations(rng, pid, male, anchor_days, loinc, local)
    conditions, drugs, procedures = _history(rng, pid, anchor_days, local, observation)
    return {
        "person": person,
        "measurement": m,
        "observation": observation,
        "condition_occurrence": conditions,
        "drug_exposure": drugs,
        "procedure_occurrence": procedures,
        "concept": concepts,
    }


def _choice(rng: np.random.Generator, options: list[str], p: list[float], n: int) -> np.ndarray:
    return rng.choice(np.array(options, dtype=object), size=n, p=np.array(p) / sum(p))


def _observations(
    rng: np.random.Generator,
    pid: np.ndarray,
    male: np.ndarray,
    anchor_days: int,
    loinc: dict[str, int],
    local: dict[str, int],
) -> pl.DataFrame:
    n = pid.size
    loinc_of = {name: code for code, name in LOINC_TO_FINDING.items()}
    ecog = _choice(rng, ["0", "1", "2"], [50.2, 36.3, 13.5], n).astype(float)  # Biselli 2024
    kps = np.where(
        ecog == 0,
        rng.choice([90, 100], n),
        np.where(ecog == 1, rng.choice([70, 80], n), rng.choice([50, 60], n)),
    )
    hbsag = rng.random(n) < 0.6  # assumption: HBV-dominant East Asian cohort
    numeric: dict[str, tuple[np.ndarray, float]] = {
        # name: (values, share present); shares are assumptions unless cited
        "ecog": (ecog, 0.9),
        "kps": (kps.astype(float), 0.5),
        "measurable_lesions": (rng.poisson(2.0, n).astype(float), 0.9),
        "mrecist_measurable_lesions": (rng.poisson(1.8, n).astype(float), 0.6),
        "life_expectancy_weeks": (rng.integers(8, 60, n).astype(float), 0.8),
        "hbsag_positive": (hbsag.astype(float), 0.95),
        "hbcab_positive": ((hbsag | (rng.random(n) < 0.3)).astype(float), 0.8),
        "hcv_ab_positive": ((rng.random(n) < 0.15).astype(float), 0.9),
        "hiv_positive": ((rng.random(n) < 0.01).astype(float), 0.9),
        "antiviral_days": (np.where(hbsag, rng.integers(0, 2000, n), 0).astype(float), 0.85),
        "ascites_depth_cm": (np.round(rng.exponential(1.5, n), 1), 0.7),
        "tumour_liver_fraction": (np.round(rng.beta(2, 4, n) * 100, 0), 0.8),
        "vascular_invasion_occlusive": ((rng.random(n) < 0.10).astype(float), 0.9),
        "main_portal_vein_invasion": ((rng.random(n) < 0.15).astype(float), 0.9),
        "extrahepatic_spread": ((rng.random(n) < 0.27).astype(float), 0.9),  # Biselli 2024
        "lvef_percent": (np.round(rng.normal(62, 6, n), 0), 0.6),
        "fev1_percent_predicted": (np.round(rng.normal(85, 15, n), 0), 0.4),
        "pregnant": (((~male) & (rng.random(n) < 0.005)).astype(float), 0.95),
        "lactating": (np.zeros(n), 0.9),
        "consent_signed": ((rng.random(n) < 0.7).astype(float), 1.0),
        "donor_available": ((rng.random(n) < 0.3).astype(float), 0.7),
        "tace_failure_jsh": ((rng.random(n) < 0.25).astype(float), 0.7),
        "prior_lines_systemic": (rng.integers(0, 4, n).astype(float), 0.8),
        "stable_vital_signs": ((rng.random(n) < 0.95).astype(float), 0.95),
    }
    text: dict[str, tuple[np.ndarray, float]] = {
        "diagnosis": (np.full(n, "HCC", dtype=object), 1.0),
        "diagnosis_basis": (
            _choice(rng, ["histology", "imaging", "cytology"], [55, 40, 5], n),
            0.95,
        ),
        "bclc_stage": (_choice(rng, ["A", "B", "C"], [1.4, 16.7, 81.9], n), 0.95),  # Biselli 2024
        "gpc3_ihc": (_choice(rng, ["positive", "negative"], [70, 30], n), 0.6),
        "ascites": (_choice(rng, ["none", "mild", "moderate-severe"], [70, 20, 10], n), 0.9),
        "encephalopathy": (_choice(rng, ["none", "grade 1-2", "grade 3-4"], [92, 7, 1], n), 0.9),
    }
    frames = []
    for name, (values, share) in {**numeric, **text}.items():
        keep = rng.random(n) < share
        if name in loinc_of and loinc_of[name] in loinc:
            concept = loinc[loinc_of[name]]
        else:
            concept = local[name]
        is_text = name in text
        frames.append(
            pl.DataFrame(
                {
                    "person_id": pid[keep],
                    "observation_concept_id": np.full(int(keep.sum()), concept, dtype=np.int64),
                    "observation_date": pl.Series(
                        anchor_days - rng.integers(0, 30, int(keep.sum())), dtype=pl.Int32
                    ).cast(pl.Date),
                    "value_as_number": None if is_text else values[keep],
                    "value_as_string": pl.Series(values[keep].tolist(), dtype=pl.Utf8)
                    if is_text
                    else None,
                },
                schema={
                    "person_id": pl.Int64,
                    "observation_concept_id": pl.Int64,
                    "observation_date": pl.Date,
                    "value_as_number": pl.Float64,
                    "value_as_string": pl.Utf8,
                },
            )
        )
    obs = (
        pl.concat(frames)
        .sort("person_id", maintain_order=True)
        .with_row_index("observation_id", offset=1)
    )
    return obs.with_columns(pl.col("observation_id").cast(pl.Int64))


def _events(
    rng: np.random.Generator,
    pid: np.ndarray,
    anchor_days: int,
    concept: int,
    share: float,
    max_days_ago: int,
    duration: tuple[int, int] | None,
) -> pl.DataFrame:
    who = pid[rng.random(pid.size) < share]
    start = anchor_days - rng.integers(0, max_days_ago, who.size)
    # therapies still running at the data cut end on the anchor date
    end = (
        np.minimum(start + rng.integers(*duration, who.size), anchor_days)
        if duration
        else (np.full(who.size, -1))
    )
    return pl.DataFrame(
        {
            "person_id": who,
            "concept_id": np.full(who.size, concept, dtype=np.int64),
            "start": pl.Series(start, dtype=pl.Int32).cast(pl.Date),
            "end": pl.Series(end, dtype=pl.Int32).cast(pl.Date),
        }
    ).with_columns(
        pl.when(pl.col("end") < pl.date(1971, 1, 1))
        .then(None)
        .otherwise(pl.col("end"))
        .alias("end")
    )


def _history(
    rng: np.random.Generator,
    pid: np.ndarray,
    anchor_days: int,
    local: dict[str, int],
    observation: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    # shares are assumptions chosen to exercise every criterion kind
    cond_spec = [
        ("hbv_active", 0.5, 9000, None),
        ("hepatic_encephalopathy", 0.05, 2000, (5, 60)),
        ("other_malignancy", 0.03, 4000, None),
        ("gi_bleeding", 0.08, 730, (1, 10)),
        ("myocardial_infarction", 0.02, 1500, None),
        ("copd", 0.05, 5000, None),
        ("diabetes_uncontrolled", 0.04, 3000, None),
        ("autoimmune_disease", 0.02, 5000, None),
        ("organ_transplant", 0.01, 3000, None),
        ("infection_uncontrolled", 0.02, 60, (5, 40)),
        ("hcv_active", 0.08, 9000, None),
        ("cns_metastasis", 0.01, 200, None),
    ]
    cond = pl.concat(
        [
            _events(rng, pid, anchor_days, local[name], share, days, dur)
            for name, share, days, dur in cond_spec
        ]
    )
    cond = (
        cond.rename(
            {
                "concept_id": "condition_concept_id",
                "start": "condition_start_date",
                "end": "condition_end_date",
            }
        )
        .sort("person_id", maintain_order=True)
        .with_row_index("condition_occurrence_id", offset=1)
        .with_columns(pl.col("condition_occurrence_id").cast(pl.Int64))
    )
    drug_spec = [
        ("targeted_therapy", 0.5, 700, (30, 300)),
        ("immunotherapy", 0.2, 700, (21, 200)),
        ("chemotherapy", 0.08, 900, (1, 120)),
        ("investigational_agent", 0.03, 365, (14, 120)),
        ("cell_therapy", 0.02, 720, (1, 3)),
        ("systemic_steroid", 0.05, 365, (5, 200)),
    ]
    drugs = pl.concat(
        [
            _events(rng, pid, anchor_days, local[name], share, days, dur)
            for name, share, days, dur in drug_spec
        ]
    )
    drugs = (
        drugs.with_columns(pl.coalesce("end", "start").alias("end"))
        .rename(
            {
                "concept_id": "drug_concept_id",
                "start": "drug_exposure_start_date",
                "end": "drug_exposure_end_date",
            }
        )
        .sort("person_id", maintain_order=True)
        .with_row_index("drug_exposure_id", offset=1)
        .with_columns(pl.col("drug_exposure_id").cast(pl.Int64))
    )
    proc_spec = [
        ("interventional_therapy", 0.45, 700, None),
        ("surgery", 0.10, 2000, None),
        ("radiotherapy", 0.08, 700, (5, 40)),
        ("major_surgery", 0.05, 400, None),
    ]
    procs = pl.concat(
        [
            _events(rng, pid, anchor_days, local[name], share, days, dur)
            for name, share, days, dur in proc_spec
        ]
    )
    procs = (
        procs.rename(
            {
                "concept_id": "procedure_concept_id",
                "start": "procedure_date",
                "end": "procedure_end_date",
            }
        )
        .sort("person_id", maintain_order=True)
        .with_row_index("procedure_occurrence_id", offset=1)
        .with_columns(pl.col("procedure_occurrence_id").cast(pl.Int64))
    )
    return cond, drugs, procs


def write_duckdb(tables: dict[str, pl.DataFrame], path: str) -> None:
    """Write the tables into a DuckDB database file (replacing tables of the same name)."""
    import duckdb

    con = duckdb.connect(path)
    try:
        for name, df in tables.items():
            con.register("_frame", df.to_arrow())
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
    finally:
        con.close()
