"""Labs (with cellular kinetics and the IL1RAP biomarker), vital signs and adverse events of one
enrolled virtual subject, driven by the subject's treatment days and tumour trajectory.

Adverse events: CRS and ICANS after the first cell infusion (:func:`~.disease.crs_icans`);
post-embolisation syndrome after each TACE/TAE (:func:`post_embolisation_syndrome`: fever,
abdominal pain, nausea, with a larger transaminase rise); CTCAE v5.0 lab toxicities from the
simulated lab values. Each AE's relatedness (AEREL) follows its cause and timing
(:func:`relatedness`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hcctrial.simulate.disease import kinetics_curves
from hcctrial.simulate.parameters import CELL_KINETICS, TOXICITY
from hcctrial.simulate.population import LAB_PANEL
from hcctrial.simulate.records import (
    BASELINE_IMAGING_DAY,
    DEFAULT_PK_DAYS,
    FOLLOWED_LABS,
    Rows,
    SubjectInput,
    iso,
)

__all__ = [
    "ctcae_grade",
    "labs_and_events",
    "post_embolisation_syndrome",
    "relatedness",
    "seriousness",
]

#: Onset windows (days after the event) of the relatedness rule (assumption SIM-AEREL).
TACE_LIVER_WINDOW_DAYS = 14
INFUSION_WINDOW_DAYS = 28


def _lag(day: float, events: list[int]) -> float:
    """Days from the last of ``events`` strictly before ``day`` (inf when none)."""
    before = [t for t in events if t < day]
    return day - max(before) if before else math.inf


def relatedness(
    cause: str, day: float, infusions: list[int], tace_days: list[int], lab: str | None = None
) -> str:
    """AEREL of a simulated AE from its cause and timing (assumption SIM-AEREL).

    ``cause`` is what the model generated the AE from: ``"cell"`` (CRS, ICANS: toxicities of the
    immune-effector cells by definition, Lee DW et al., Biol Blood Marrow Transplant 2019;25:625,
    ASTCT consensus) and ``"tace"`` (post-embolisation syndrome, the procedure's own syndrome)
    are RELATED; ``"lab"`` (a CTCAE lab toxicity, code ``lab``, worst value on study day
    ``day``) is attributed by timing, the way an investigator would:

    - ALT/AST increased within 14 days after a TACE/TAE: RELATED (post-embolisation hepatic
      ischaemia);
    - a cytopenia (lymphocytes, neutrophils, platelets) within 28 days after a cell infusion:
      PROBABLY RELATED (the infusion-related count dip, lymphodepletion-like);
    - ALT/AST within 28 days after a cell infusion: POSSIBLY RELATED;
    - otherwise UNLIKELY RELATED (cirrhosis, the tumour or day-to-day variation).

    AEREL refers to the protocol's treatment (every intervention of the arm, TACE/TAE included
    when the protocol gives it).

    >>> relatedness("lab", 3, [14], [0], "ALT"), relatedness("lab", 17, [14], [0], "ALT")
    ('RELATED', 'POSSIBLY RELATED')
    >>> relatedness("lab", 20, [14], [0], "PLT"), relatedness("lab", 90, [14], [0], "PLT")
    ('PROBABLY RELATED', 'UNLIKELY RELATED')
    """
    if cause in ("cell", "tace"):
        return "RELATED"
    if cause != "lab" or lab is None:
        raise ValueError(f"unknown AE cause {cause!r} (expected cell, tace or lab with a code)")
    liver = lab in ("ALT", "AST")
    if liver and _lag(day, tace_days) <= TACE_LIVER_WINDOW_DAYS:
        return "RELATED"
    if _lag(day, infusions) <= INFUSION_WINDOW_DAYS:
        return "POSSIBLY RELATED" if liver else "PROBABLY RELATED"
    return "UNLIKELY RELATED"


#: A: day-to-day variation of a followed lab value, log-SD 0.08 (8%).
LAB_NOISE_SD = 0.08


def seriousness(category: str | None, grade: int) -> str:
    """AESER of a simulated AE (assumption SIM-SAE).

    Serious (ICH E2A: fatal, life-threatening, requiring or prolonging hospitalisation): a fatal
    AE, and CRS or ICANS of grade >= 3 (ASTCT grade 3 needs vasopressors or high-flow oxygen,
    i.e. inpatient care). A lab toxicity is a finding, not by itself a serious event, and the
    post-embolisation syndrome is grade 1-2: neither is serious.

    >>> seriousness("CRS", 3), seriousness(None, 4), seriousness(None, 5), seriousness("PES", 2)
    ('Y', 'N', 'Y', 'N')
    """
    if grade >= 5 or (category in ("CRS", "ICANS") and grade >= 3):
        return "Y"
    return "N"


def post_embolisation_syndrome(
    rng: np.random.Generator, n_procedures: int
) -> list[tuple[bool, bool, bool, bool]]:
    """Per TACE/TAE procedure: (syndrome, fever, abdominal pain, nausea).

    The syndrome follows a procedure with probability ``TOXICITY.pes_after_tace`` (53.9% of
    procedures in a Thai cohort of 739 TACE; 55% in Curr Med Imaging Rev 2019;15:380), defined
    as fever and/or abdominal pain and/or nausea within 3 days. Within an episode (assumption
    SIM-PES): fever 70%, abdominal pain 75%, nausea 40%; when neither fever nor pain is drawn,
    one of the two is (so an episode always has fever or pain).
    """
    t = TOXICITY
    out = []
    for _ in range(n_procedures):
        u = rng.random(5)
        if u[0] >= t.pes_after_tace:
            out.append((False, False, False, False))
            continue
        fever, pain, nausea = (
            bool(u[1] < t.pes_fever),
            bool(u[2] < t.pes_pain),
            bool(u[3] < t.pes_nausea),
        )
        if not (fever or pain):
            fever, pain = (True, False) if u[4] < 0.5 else (False, True)
        out.append((True, fever, pain, nausea))
    return out


def ctcae_grade(code: str, value: float, lln: float, uln: float, baseline: float) -> int:
    """CTCAE v5.0 grade of a lab value (NCI, CTCAE v5.0, 2017, Investigations).

    Lymphocyte count decreased: <LLN, <0.8, <0.5, <0.2 x10^9/L; neutrophil count decreased:
    <LLN, <1.5, <1.0, <0.5; platelet count decreased: <LLN, <75, <50, <25; ALT/AST increased:
    >ULN, >3, >5, >20 x ULN when the baseline was normal, and >1.5, >3, >5, >20 x baseline when
    it was abnormal.

    >>> ctcae_grade("LYM", 0.3, 1.1, 3.2, 1.3), ctcae_grade("ALT", 130, 0, 40, 30)
    (3, 2)
    """
    if code in ("LYM", "NEUT", "PLT"):
        cuts = {"LYM": (0.8, 0.5, 0.2), "NEUT": (1.5, 1.0, 0.5), "PLT": (75.0, 50.0, 25.0)}[code]
        if value >= lln:
            return 0
        return 1 + sum(value < c for c in cuts)
    if code in ("ALT", "AST"):
        ref, first = (uln, 1.0) if baseline <= uln else (baseline, 1.5)
        cuts2 = (first, 3.0, 5.0, 20.0)
        return sum(value > c * ref for c in cuts2)
    return 0


_AE_TERMS = {
    "LYM": ("LYMPHOCYTE COUNT DECREASED", "Lymphocyte count decreased"),
    "NEUT": ("NEUTROPHIL COUNT DECREASED", "Neutrophil count decreased"),
    "PLT": ("PLATELET COUNT DECREASED", "Platelet count decreased"),
    "ALT": ("ALT INCREASED", "Alanine aminotransferase increased"),
    "AST": ("AST INCREASED", "Aspartate aminotransferase increased"),
}


def _dip(days: np.ndarray, infusions: list[int], nadir: float) -> np.ndarray:
    """Multiplier of a count after cell infusions: drop to ``nadir`` from day 3, recovering with
    a 10-day time constant (assumption, lymphodepletion-like)."""
    m = np.ones_like(days, dtype=float)
    for t0 in infusions:
        lag = days - t0 - 3.0
        # strictly after the infusion: a sample on the infusion day is drawn before it
        effect = np.where(days > t0, (1.0 - nadir) * np.exp(-np.maximum(lag, 0.0) / 10.0), 0.0)
        m = m * (1.0 - effect)
    return m


def labs_and_events(
    s: SubjectInput,
    rng: np.random.Generator,
    rows: Rows,
    infusions: list[int],
    tace_days: list[int],
    pd_day: float,
) -> None:
    end = s.end_day
    # labs until progression stop at the progression visit (plus an end-of-treatment visit)
    stop_at = {"progression": pd_day + 28, "end-of-treatment": pd_day + 28}
    lab_days = sorted(
        {
            v.day
            for v in s.visits
            if v.what in ("lab", "ae-visit")
            and 0 < v.day < min(end, stop_at.get(v.until, math.inf))
        }
    )
    if not lab_days:
        lab_days = [d for d in range(28, int(min(end, 2000)), 28)]
    extra = {i + k for i in infusions for k in (3, 7, 14)} if infusions else set()
    # liver tests 2-4 days after each TACE, as post-embolisation syndrome is monitored (assumption)
    # (also for a procedure before day 0, as pd1-ko-t-tace's TACE on day -14)
    extra |= {t + 3 for t in tace_days}
    pes = post_embolisation_syndrome(rng, len(tace_days))
    days = np.array(sorted({0, *lab_days, *(d for d in extra if d < end)}), float)
    # the tumour model starts at day 0: samples before it see the baseline burden
    tumour_days = np.maximum(days, 0.0)
    sld_rel = np.exp(-s.d * tumour_days) + np.exp(np.minimum(s.g * tumour_days, 50.0)) - 1.0
    sld_rel = np.maximum(sld_rel, 0.02)
    # A: nadir multipliers (log-normal median, log-SD) after a cell infusion; the CAR-T
    # lymphocyte nadir is calibrated to solid-tumour CAR-T lymphopenia (TOXICITY)
    nadirs = (
        {"LYM": TOXICITY.car_lymphocyte_nadir, "NEUT": (0.55, 0.4), "PLT": (0.75, 0.3)}
        if s.car
        else {"LYM": (0.8, 0.2), "NEUT": (0.9, 0.1), "PLT": (0.95, 0.05)}
    )
    values: dict[str, np.ndarray] = {}
    for code in FOLLOWED_LABS:
        base = float(s.base[code])
        v = base * np.exp(LAB_NOISE_SD * rng.standard_normal(days.shape))
        if code in nadirs and infusions:
            med, sd = nadirs[code]
            v = v * _dip(
                days, infusions, float(np.clip(med * math.exp(sd * rng.standard_normal()), 0.02, 1))
            )
        if code in ("ALT", "AST") and tace_days:
            # A (SIM-PES): the rise is larger after a procedure followed by the syndrome
            z = math.exp(0.5 * rng.standard_normal())
            for t0, episode in zip(tace_days, pes, strict=True):
                rise = z * (TOXICITY.pes_alt_rise if episode[0] else TOXICITY.no_pes_alt_rise)
                # after the procedure (a same-day sample is the pre-procedure one)
                v = v * (1.0 + np.where(days > t0, rise * np.exp(-(days - t0) / 5.0), 0.0))
        if code == "AFP":
            v = base * sld_rel**3 * np.exp(0.15 * rng.standard_normal(days.shape))
        values[code] = np.clip(v, 0.001, 2e6)
    for k, day in enumerate(days):
        visit = "DAY 0" if day == 0 else f"DAY {int(day)}"
        for code in FOLLOWED_LABS:
            unit, lln, uln, label = LAB_PANEL[code]
            rows["LB"].append(
                _lb(
                    s,
                    code,
                    label,
                    float(values[code][k]),
                    unit,
                    lln,
                    uln,
                    "CHEMISTRY"
                    if code not in ("WBC", "NEUT", "LYM", "PLT", "HGB")
                    else "HEMATOLOGY",
                    visit,
                    day,
                )
            )
    if s.biomarker_il1rap:
        base = 250.0 * math.exp(0.4 * rng.standard_normal())  # A: serum IL1RAP ~250 ng/mL
        for k, day in enumerate(days):
            val = base * sld_rel[k] ** 0.5 * math.exp(0.1 * rng.standard_normal())
            rows["LB"].append(
                _lb(
                    s,
                    "IL1RAP",
                    "Interleukin 1 Receptor Accessory Protein",
                    val,
                    "ng/mL",
                    None,
                    None,
                    "BIOMARKER",
                    f"DAY {int(day)}",
                    day,
                )
            )
    if s.kinetics is not None and s.kinetic_code is not None and infusions:
        par = {k: np.array([v]) for k, v in s.kinetics.items()}
        pk_days = sorted(
            {i + d for i in infusions for d in DEFAULT_PK_DAYS} | {int(x) for x in days}
        )
        t = np.array([d for d in pk_days if infusions[0] <= d < end], float)
        conc = sum(kinetics_curves(par, t - i)[0] for i in infusions)
        conc = np.asarray(conc) * np.exp(
            CELL_KINETICS.residual_sd_log * rng.standard_normal(t.shape)
        )
        code, label, unit = s.kinetic_code
        scale = CELL_KINETICS.cells_per_ul_per_copy if unit != "copies/ug" else 1.0
        if code == "INKTPBMC":
            scale = 0.1 / (CELL_KINETICS.cmax_copies_ug * CELL_KINETICS.non_car_cmax_factor)
        for k, day in enumerate(t):
            val = float(conc[k] * scale)
            if code == "INKTPBMC":
                val += float(s.base["INKTPBMC"])
            rows["LB"].append(
                _lb(
                    s,
                    code,
                    label,
                    round(val, 4),
                    unit,
                    None,
                    None,
                    "CELLULAR KINETICS",
                    f"DAY {int(day)}",
                    day,
                )
            )
    # vital signs
    rows["VS"].append(
        _vs(s, "HEIGHT", "Height", float(s.base["HEIGHT"]), "cm", BASELINE_IMAGING_DAY, "SCREENING")
    )
    for day in days:
        w = float(s.base["WEIGHT"]) * (1.0 - 0.0002 * day) + 0.5 * rng.standard_normal()
        rows["VS"].append(_vs(s, "WEIGHT", "Weight", round(w, 1), "kg", day, f"DAY {int(day)}"))
        rows["VS"].append(
            _vs(
                s,
                "TEMP",
                "Temperature",
                round(36.6 + 0.3 * rng.standard_normal(), 1),
                "C",
                day,
                f"DAY {int(day)}",
            )
        )
    # adverse events
    seq_terms: list[dict[str, Any]] = []
    if infusions and s.crs_grade > 0:
        onset = infusions[0] + max(
            1, round(TOXICITY.crs_onset_median_days * math.exp(0.4 * rng.standard_normal()))
        )
        if onset < end:
            dur = 3 + int(rng.integers(0, 5))
            seq_terms.append(
                _ae(
                    "CYTOKINE RELEASE SYNDROME",
                    "Cytokine release syndrome",
                    "Immune system disorders",
                    "CRS",
                    s.crs_grade,
                    onset,
                    min(onset + dur, end),
                    relatedness("cell", onset, infusions, tace_days),
                    s,
                    infusions[0],
                )
            )
            rows["VS"].append(
                _vs(
                    s,
                    "TEMP",
                    "Temperature",
                    round(38.3 + rng.random() * 1.5, 1),
                    "C",
                    onset,
                    f"DAY {onset}",
                    tpt=True,
                )
            )
    if infusions and s.icans_grade > 0:
        onset = infusions[0] + 4 + int(rng.integers(0, 4))
        if onset < end:
            seq_terms.append(
                _ae(
                    "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME",
                    "Immune effector cell-associated neurotoxicity syndrome",
                    "Nervous system disorders",
                    "ICANS",
                    s.icans_grade,
                    onset,
                    min(onset + 5, end),
                    relatedness("cell", onset, infusions, tace_days),
                    s,
                    infusions[0],
                )
            )
    pes_terms = (
        (1, "FEVER", "Pyrexia", "General disorders and administration site conditions"),
        (2, "ABDOMINAL PAIN", "Abdominal pain", "Gastrointestinal disorders"),
        (3, "NAUSEA", "Nausea", "Gastrointestinal disorders"),
    )
    for t0, episode in zip(tace_days, pes, strict=True):
        if not episode[0] or t0 + 1 >= end:
            continue
        for k, term, decod, soc in pes_terms:
            if not episode[k]:
                continue
            grade = 1 + int(rng.random() < TOXICITY.pes_grade2)
            stop = min(t0 + 2 + int(rng.integers(0, 4)), end)
            rel = relatedness("tace", t0 + 1, infusions, tace_days)
            seq_terms.append(_ae(term, decod, soc, "PES", grade, t0 + 1, stop, rel, s, None))
            if term == "FEVER":
                # CTCAE v5.0 fever: grade 1 38.0-39.0 C, grade 2 > 39.0-40.0 C
                temp = 38.1 + 0.8 * rng.random() if grade == 1 else 39.1 + 0.8 * rng.random()
                rows["VS"].append(
                    _vs(
                        s,
                        "TEMP",
                        "Temperature",
                        round(temp, 1),
                        "C",
                        t0 + 1,
                        f"DAY {t0 + 1}",
                        tpt=True,
                    )
                )
    first_treatment = min([0, *tace_days, *infusions])
    for code, (term, decod) in _AE_TERMS.items():
        unit, lln, uln, _ = LAB_PANEL[code]
        base = float(s.base[code])
        # on-treatment samples: after the first procedure or infusion (a sample on that day is
        # drawn before it); the grade is against the screening value
        on = [j for j, day in enumerate(days) if day > first_treatment]
        grades = [
            ctcae_grade(code, float(values[code][j]), lln or 0.0, uln or math.inf, base) for j in on
        ]
        g0 = ctcae_grade(code, base, lln or 0.0, uln or math.inf, base)
        worst = max(grades, default=0)
        if worst > g0 and worst > 0:
            m = int(np.argmax(grades))
            k = on[m]
            start = int(days[on[m - 1]] if m > 0 else days[k])
            seq_terms.append(
                _ae(
                    term,
                    decod,
                    "Investigations",
                    None,
                    worst,
                    start,
                    min(int(days[k]) + 14, end),
                    relatedness("lab", float(days[k]), infusions, tace_days, code),
                    s,
                    infusions[0] if infusions else None,
                )
            )
    for seq, ae in enumerate(sorted(seq_terms, key=lambda a: a["AESTDTC"]), start=1):
        rows["AE"].append({**ae, "AESEQ": seq})


def _lb(
    s: SubjectInput,
    code: str,
    label: str,
    value: float,
    unit: str,
    lln: float | None,
    uln: float | None,
    cat: str,
    visit: str,
    day: float,
) -> dict[str, Any]:
    shown = f"{value:.4g}"
    return {
        "USUBJID": s.usubjid,
        "LBTESTCD": code,
        "LBTEST": label,
        "LBCAT": cat,
        "LBORRES": shown,
        "LBORRESU": unit,
        "LBSTRESN": float(shown),
        "LBSTRESU": unit,
        "LBSTNRLO": lln,
        "LBSTNRHI": uln,
        "VISIT": visit,
        "LBDTC": iso(s.anchor, day),
    }


def _vs(
    s: SubjectInput,
    code: str,
    label: str,
    value: float,
    unit: str,
    day: float,
    visit: str,
    tpt: bool = False,
) -> dict[str, Any]:
    return {
        "USUBJID": s.usubjid,
        "VSTESTCD": code,
        "VSTEST": label,
        "VSSTRESN": value,
        "VSSTRESU": unit,
        "VISIT": visit + (" (EVENT)" if tpt else ""),
        "VSTPTNUM": 2.0 if tpt else 1.0,
        "VSDTC": iso(s.anchor, day),
    }


def _ae(
    term: str,
    decod: str,
    soc: str,
    cat: str | None,
    grade: int,
    start: float,
    stop: float,
    rel: str,
    s: SubjectInput,
    first_infusion: int | None,
) -> dict[str, Any]:
    dlt = (
        "Y"
        if s.dlt_window is not None
        and first_infusion is not None
        and cat in ("CRS", "ICANS")
        and grade >= 3
        and start - first_infusion <= s.dlt_window
        else "N"
    )
    return {
        "USUBJID": s.usubjid,
        "AETERM": term,
        "AEDECOD": decod,
        "AEBODSYS": soc,
        "AECAT": cat,
        "AETOXGR": str(grade),
        "AESER": seriousness(cat, grade),
        "AEREL": rel,
        "AEOUT": "FATAL" if grade == 5 else "RECOVERED/RESOLVED",
        "AEDLT": dlt,
        "AESTDTC": iso(s.anchor, start),
        "AEENDTC": iso(s.anchor, stop),
    }
