"""``simulate_trial``: one virtual trial of a protocol, as SDTM domains.

Steps: draw and screen virtual patients with the protocol's criteria until the enrolment target
is eligible (screen failures stay in DM with ``ARMCD = SCRNFAIL``, SDTM IG v3.4 DM assumption 4,
with IE and DS rows naming the failed criteria); allocate them (stratified permuted blocks when
randomized, dose escalation by 3+3 or BOIN, sequential by planned size for non-randomized arms,
one arm otherwise); draw outcomes with the disease model; write EX, TU, TR, LB, VS, AE, DS, DM.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np

from hcctrial.errors import InputError
from hcctrial.io import StudyData, validate_study
from hcctrial.protocol import Protocol, load_protocol
from hcctrial.simulate.allocation import allocate
from hcctrial.simulate.design import REFERENCE_CELL_DOSE, arm_treatment, dose_amount, trial_setting
from hcctrial.simulate.disease import Effect, crs_icans, kinetics_parameters, simulate_outcomes
from hcctrial.simulate.parameters import DAYS_PER_MONTH, Referral
from hcctrial.simulate.population import LAB_PANEL
from hcctrial.simulate.screening import screen_virtual_patients
from hcctrial.simulate.sdtm import frames_from_rows
from hcctrial.simulate.subject import SubjectInput, iso, subject_records
from hcctrial.simulate.visits import planned_visits

__all__ = ["DEFAULT_START", "simulate_trial", "subject_toxicity"]

DEFAULT_START = date(2025, 1, 6)
#: Days from screening to day 0 (first procedure or infusion): 14 (assumption), or more when the
#: schedule has an event earlier than day -7 (screening is 7 days before the first scheduled
#: event at the latest: il1rap-car-t's PBMC collection on day -21 puts screening on day -28).
SCREEN_TO_DAY0 = 14
#: An apheresis event of the schedule whose label names a donor is the donor's procedure, not the
#: subject's (NCT04162158): no subject milestone is written for it.
_DONOR = "donor"
#: Accrual: screened patients arrive evenly over 12 months (assumption).
ACCRUAL_DAYS = 365
MAX_SUBJECTS = 5000


def _target(protocol: Protocol, n_subjects: int | None) -> int:
    if n_subjects is not None:
        if not (isinstance(n_subjects, int) and 1 <= n_subjects <= MAX_SUBJECTS):
            raise InputError(
                "number of subjects out of range", value=n_subjects, expected=f"1..{MAX_SUBJECTS}"
            )
        return n_subjects
    design = protocol.design
    if design.dose_escalation is not None and design.dose_escalation.max_patients:
        return design.dose_escalation.max_patients
    if design.enrolment_target:
        return design.enrolment_target
    sizes = [a.planned_size for a in protocol.arms if a.planned_size]
    return sum(sizes) if sizes else 20


def _kinetic_code(
    protocol: Protocol, arm_items: list[Any], car: bool
) -> tuple[str, str, str] | None:
    cells = [i for i in arm_items if i.kind == "biological"]
    if not cells:
        return None
    text = " ".join(f"{i.name} {i.cell_type or ''} {i.product or ''}" for i in cells).upper()
    if car:
        return ("CARDNA", "CAR transgene copies", "copies/ug")
    if "INKT" in text:
        return ("INKTPBMC", "iNKT cells as percent of PBMC", "%")
    if "NK" in text:
        return ("NKCNT", "Infused NK cells", "cells/uL")
    return ("TCELLCNT", "Infused T cells", "cells/uL")


def subject_toxicity(
    seed: int, patient: int, dose_factor: float, sld0: float, car: bool, nk: bool = False
) -> tuple[dict[str, float], int, int]:
    """Kinetic parameters and worst CRS/ICANS grade of one patient at one dose.

    Drawn from a generator seeded by (seed, patient), so the same patient at the same dose gets
    the same values whatever the enrolment order (dose escalation relies on this).
    """
    rng = np.random.default_rng([seed, patient, 17])
    par = kinetics_parameters(rng, 1, np.array([dose_factor]), car)
    crs, icans = crs_icans(rng, par["cmax"], np.array([sld0]), car, nk)
    return {k: float(v[0]) for k, v in par.items()}, int(crs[0]), int(icans[0])


def simulate_trial(
    protocol: Protocol | str,
    *,
    seed: int,
    n_subjects: int | None = None,
    effect: Effect | float | None = None,
    start_date: date = DEFAULT_START,
    referral: Referral | None = None,
) -> StudyData:
    """Simulate one virtual trial of ``protocol`` and return its SDTM domains.

    Parameters
    ----------
    protocol : a :class:`~hcctrial.protocol.Protocol` or a built-in id / YAML path.
    seed : the random seed; the same seed gives the same trial.
    n_subjects : subjects to enrol (default: the record's enrolment target; for dose escalation
        the design's ``max_patients``, the most that may enrol).
    effect : the experimental arm's :class:`~hcctrial.simulate.Effect`, or a hazard ratio.
    start_date : the date the first patient is screened.
    referral : who the sites refer (:class:`~hcctrial.simulate.parameters.Referral`); default
        the protocol's profile in ``REFERRALS`` (the general advanced-HCC cohort otherwise).

    Returns
    -------
    StudyData : DM (screened patients, screen failures as ``ARMCD = SCRNFAIL``), IE, DS, EX, LB,
        VS, AE, TU, TR, validated by :func:`hcctrial.io.validate_study` (dates derived).
        ``data.problems`` is empty. The screen-failure rate is
        ``(DM.ARMCD == "SCRNFAIL").mean()``.
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    if isinstance(effect, (int, float)):
        effect = Effect(hr=float(effect))
    effect = effect or Effect()
    if not isinstance(seed, int) or seed < 0:
        raise InputError("seed must be a non-negative whole number", value=seed)
    rng = np.random.default_rng(seed)
    target = _target(protocol, n_subjects)
    screening = screen_virtual_patients(protocol, rng, target, start_date, referral)
    base = screening.baseline
    n_screened = base.height
    screen_day = np.floor(np.arange(n_screened) * ACCRUAL_DAYS / max(n_screened, 1)).astype(int)
    eligible = np.flatnonzero(screening.eligible)
    setting = trial_setting(protocol)
    study = (protocol.registry_id or protocol.id).upper()
    n_sites = protocol.design.site_count or len(protocol.design.sites) or 1
    sites = rng.integers(1, n_sites + 1, n_screened)
    usubjid = [f"{study}-{sites[i]:03d}-{i + 1:04d}" for i in range(n_screened)]
    rows: dict[str, list[dict[str, Any]]] = _empty_rows()
    horizon = int(
        max(protocol.follow_up.duration_months, protocol.follow_up.survival_follow_up_months or 0)
        * DAYS_PER_MONTH
    )
    visits = {a.id: planned_visits(protocol, a.id, horizon) for a in protocol.arms}
    earliest = min((v.day for vs in visits.values() for v in vs), default=0)
    screen_to_day0 = max(SCREEN_TO_DAY0, 7 - earliest)
    treat = {a.id: arm_treatment(protocol, a, setting) for a in protocol.arms}
    fu_days = protocol.follow_up.duration_months * DAYS_PER_MONTH
    fu_days = max(fu_days, (protocol.follow_up.survival_follow_up_months or 0) * DAYS_PER_MONTH)
    dlt = protocol.safety.dlt.window_days if protocol.safety.dlt is not None else None
    il1rap = any("IL1RAP" in f"{b.id} {b.name}".upper() for b in protocol.biomarkers) or any(
        (i.target or "").upper() == "IL1RAP" for i in protocol.interventions
    )
    mrecist = any(
        e.response is not None and e.response.criteria == "mrecist" for e in protocol.endpoints
    )
    level_label: dict[int, str] = {}

    def enrol(
        i: int,
        arm_id: str,
        level: str | None,
        outcome: dict[str, float],
        doses: tuple[dict[str, float], dict[str, str], float],
        skip: set[str],
        rng_s: np.random.Generator,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        """Write one enrolled subject's records (EX, TU, TR, LB, VS, AE, DM, DS) into ``out``."""
        row = base.row(i, named=True)
        arm = protocol.arm(arm_id)
        tr = treat[arm.id]
        anchor = start_date + timedelta(days=int(screen_day[i]) + screen_to_day0)
        amounts, units, factor = doses
        kin, crs, icans = (
            subject_toxicity(seed, int(row["PATIENT"]), factor, float(row["SLD0"]), tr.car, tr.nk)
            if tr.cells
            else (None, 0, 0)
        )
        t_death = outcome["t_death"]
        if crs == 5:  # fatal CRS: death within the CRS episode after the first infusion
            first = min(
                (
                    v.day
                    for v in visits[arm.id]
                    if v.what == "intervention"
                    and v.intervention is not None
                    and protocol.intervention(v.intervention).kind == "biological"
                ),
                default=0,
            )
            t_death = min(t_death, first + 8.0)
        end = min(t_death, outcome["t_dropout"], fu_days)
        items = [protocol.intervention(x) for x in arm.interventions]
        subject = SubjectInput(
            usubjid=usubjid[i],
            base=row,
            anchor=anchor,
            visits=[v for v in visits[arm.id] if v.intervention not in skip],
            g=outcome["g"],
            d=outcome["d"],
            t_new=outcome["t_new"],
            end_day=end,
            progression_stops_treatment=True,
            doses=amounts,
            dose_units=units,
            kinetics=kin,
            kinetic_code=_kinetic_code(protocol, items, tr.car),
            crs_grade=crs,
            icans_grade=icans,
            car=tr.car,
            biomarker_il1rap=il1rap and tr.cells,
            dlt_window=dlt,
            mrecist=mrecist,
        )
        summary = subject_records(subject, protocol, rng_s, out)
        if end == t_death:
            status, decod = "DEATH", "DEATH"
        elif end == fu_days:
            status, decod = "COMPLETED", "COMPLETED"
        else:
            status, decod = "WITHDRAWAL BY SUBJECT", "WITHDRAWAL BY SUBJECT"
        if level is not None:
            level_label[i] = protocol.dose_level(level).label
        label = arm.label + (f" ({level_label[i]})" if i in level_label else "")
        out["DM"].append(
            {
                "USUBJID": usubjid[i],
                "SUBJID": usubjid[i][-4:],
                "SITEID": f"{sites[i]:03d}",
                "RFICDTC": iso(start_date, screen_day[i]),
                "RFSTDTC": iso(anchor, 0),
                "RFENDTC": iso(anchor, end),
                "RFXSTDTC": iso(anchor, 0) if summary["treated"] else None,
                "RFXENDTC": iso(anchor, summary["last_dose"]) if summary["treated"] else None,
                "DTHDTC": iso(anchor, end) if decod == "DEATH" else None,
                "DTHFL": "Y" if decod == "DEATH" else None,
                "ARMCD": arm.id.upper()[:20],
                "ARM": label,
                "ACTARMCD": arm.id.upper()[:20],
                "ACTARM": label,
                **_demo(row),
            }
        )
        if protocol.design.randomization is not None:
            out["DS"].append(
                _ds(usubjid[i], "RANDOMIZED", "RANDOMIZED", "PROTOCOL MILESTONE", iso(anchor, -7))
            )
        # the subject's own apheresis (PBMC collection for the cell product) as a protocol
        # milestone: an AE window may open there (il1rap-car-t: "from the start of PBMC
        # collection"); hcctrial.safety finds it by its term
        for v in visits[arm.id]:
            if v.what == "apheresis" and _DONOR not in v.label.lower() and v.day < end:
                out["DS"].append(
                    _ds(
                        usubjid[i],
                        "PBMC COLLECTION (APHERESIS)",
                        "PBMC COLLECTION",
                        "PROTOCOL MILESTONE",
                        iso(anchor, v.day),
                    )
                )
        out["DS"].append(_ds(usubjid[i], status, decod, "DISPOSITION EVENT", iso(anchor, end)))

    # dose escalation: each cohort is simulated in full as it enrols, and its DLTs are the
    # protocol's DLT rules (hcctrial.safety.dlt.evaluate_dlt) over its simulated AEs, so the
    # escalation decisions follow from the same data the report analyses
    done: dict[int, dict[str, list[dict[str, Any]]]] = {}

    def cohort_dlts(positions: list[int], arm_id: str, level: str) -> list[bool]:
        flags = []
        for pos in positions:
            i = int(eligible[pos])
            row = base.row(i, named=True)
            rng_s = np.random.default_rng([seed, int(row["PATIENT"]), 29])
            skip = _not_chosen(protocol, arm_id, rng_s)
            doses = _doses(protocol, arm_id, level, row, skip)
            outcome = _one_outcome(rng_s, treat[arm_id], row, setting, doses[2], effect)
            done[i] = _empty_rows()
            enrol(i, arm_id, level, outcome, doses, skip, rng_s, done[i])
            flags.append(_has_dlt(protocol, done[i]))
        return flags

    allocation = allocate(
        protocol, rng, base[eligible.tolist()], seed, setting, cohort_dlts=cohort_dlts
    )
    arm_of = dict(zip(eligible.tolist(), allocation.arms, strict=True))
    level_of = dict(zip(eligible.tolist(), allocation.levels, strict=True))
    enrolled = [i for i in eligible.tolist() if arm_of[i] is not None]
    # a design that stops early (dose escalation) screens no one after its last enrolment
    n_screened = (max(enrolled) + 1) if enrolled else n_screened
    pending = [i for i in enrolled if i not in done]
    # latent outcomes for every other enrolled subject in one vectorised draw
    arm_list = [treat[arm_of[i]] for i in pending]  # type: ignore[index]
    doses_of: dict[int, tuple[dict[str, float], dict[str, str], float]] = {}
    skipped: dict[int, set[str]] = {}
    for i in pending:
        row = base.row(i, named=True)
        skipped[i] = _not_chosen(protocol, arm_of[i], rng)  # type: ignore[arg-type]
        doses_of[i] = _doses(protocol, arm_of[i], level_of[i], row, skipped[i])  # type: ignore[arg-type]
    outcomes = simulate_outcomes(
        rng,
        pvtt=base["MVI"].to_numpy()[pending] if pending else np.zeros(0, bool),
        tace_refractory=(
            (base["PRIORTACE"] & base["TACEFAIL"]).to_numpy()[pending]
            if pending
            else np.zeros(0, bool)
        ),
        tace=np.array([t.tace for t in arm_list], bool),
        cells=np.array([t.cells for t in arm_list], bool),
        systemic=np.array([t.systemic for t in arm_list], bool),
        experimental=np.array([t.experimental for t in arm_list], bool),
        setting=setting,
        dose_factor=np.array([doses_of[i][2] for i in pending], float),
        effect=effect,
    )
    for k, i in enumerate(pending):
        outcome = {
            "g": float(outcomes.g[k]),
            "d": float(outcomes.d[k]),
            "t_new": float(outcomes.t_new_lesion[k]),
            "t_death": float(outcomes.t_death[k]),
            "t_dropout": float(outcomes.t_dropout[k]),
        }
        enrol(i, arm_of[i], level_of[i], outcome, doses_of[i], skipped[i], rng, rows)  # type: ignore[arg-type]
    for i in enrolled:
        for key, part in done.get(i, {}).items():
            rows[key].extend(part)
    for i in range(n_screened):
        row = base.row(i, named=True)
        consent = iso(start_date, screen_day[i] - 3)
        rows["SUPPDM"].extend(_supp_dm(usubjid[i], row))
        rows["DS"].append(
            _ds(
                usubjid[i],
                "INFORMED CONSENT OBTAINED",
                "INFORMED CONSENT OBTAINED",
                "PROTOCOL MILESTONE",
                consent,
            )
        )
        for code, (unit, lln, uln, label) in LAB_PANEL.items():
            if code in row and row[code] is not None:
                rows["LB"].append(
                    {
                        "USUBJID": usubjid[i],
                        "LBTESTCD": code,
                        "LBTEST": label,
                        "LBCAT": "SCREENING",
                        "LBORRES": f"{row[code]:g}",
                        "LBORRESU": unit,
                        "LBSTRESN": float(row[code]),
                        "LBSTRESU": unit,
                        "LBSTNRLO": lln,
                        "LBSTNRHI": uln,
                        "VISIT": "SCREENING",
                        "LBDTC": consent,
                    }
                )
        if i in arm_of and arm_of[i] is not None:
            continue
        failed = screening.failed_criteria(i) if i not in arm_of else []
        withdrew = i not in arm_of and screening.withdrew[i]
        reason = ", ".join(c for c, _, _ in failed) or (
            "withdrew consent before enrolment" if withdrew else "enrolment closed"
        )
        armcd, arm_label = (
            ("SCRNFAIL", "Screen Failure") if failed or withdrew else ("NOTASSGN", "Not Assigned")
        )
        rows["DM"].append(
            {
                "USUBJID": usubjid[i],
                "SUBJID": usubjid[i][-4:],
                "SITEID": f"{sites[i]:03d}",
                "RFICDTC": consent,
                "RFSTDTC": None,
                "RFENDTC": None,
                "RFXSTDTC": None,
                "RFXENDTC": None,
                "DTHDTC": None,
                "DTHFL": None,
                "ARMCD": armcd,
                "ARM": arm_label,
                "ACTARMCD": armcd,
                "ACTARM": arm_label,
                **_demo(row),
            }
        )
        rows["DS"].append(
            _ds(
                usubjid[i],
                f"SCREEN FAILURE: {reason}",
                "SCREEN FAILURE",
                "DISPOSITION EVENT",
                iso(start_date, screen_day[i]),
            )
        )
        for cid, kind, result in failed:
            criterion = next(c for c in protocol.eligibility.criteria if c.id == cid)
            rows["IE"].append(
                {
                    "USUBJID": usubjid[i],
                    "IETESTCD": cid,
                    "IETEST": criterion.source[:200],
                    "IECAT": kind.upper(),
                    "IEORRES": result,
                    "IESTRESC": result,
                    "IEDTC": iso(start_date, screen_day[i]),
                }
            )
    frames = frames_from_rows(rows, study)
    return validate_study(frames, on_error="raise", context=f"simulated {protocol.id}")


_DOMAINS = ("DM", "DS", "IE", "EX", "LB", "VS", "AE", "TU", "TR", "SUPPDM")


def _empty_rows() -> dict[str, list[dict[str, Any]]]:
    return {k: [] for k in _DOMAINS}


def _one_outcome(
    rng: np.random.Generator,
    treatment: Any,
    row: dict[str, Any],
    setting: str,
    dose_factor: float,
    effect: Effect,
) -> dict[str, float]:
    """The disease model's latent outcomes of one subject (the batch draw with one row)."""
    out = simulate_outcomes(
        rng,
        pvtt=np.array([bool(row["MVI"])]),
        tace_refractory=np.array([bool(row["PRIORTACE"]) and bool(row["TACEFAIL"])]),
        tace=np.array([treatment.tace]),
        cells=np.array([treatment.cells]),
        systemic=np.array([treatment.systemic]),
        experimental=np.array([treatment.experimental]),
        setting=setting,
        dose_factor=np.array([dose_factor]),
        effect=effect,
    )
    return {
        "g": float(out.g[0]),
        "d": float(out.d[0]),
        "t_new": float(out.t_new_lesion[0]),
        "t_death": float(out.t_death[0]),
        "t_dropout": float(out.t_dropout[0]),
    }


def _has_dlt(protocol: Protocol, rows: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether one simulated subject had a DLT by the protocol's rules
    (:func:`hcctrial.safety.dlt.evaluate_dlt` over the subject's AE rows, window from the first
    cell infusion); without DLT rules, a CRS or ICANS of grade 3 or more counts."""
    import polars as pl

    from hcctrial.dates import derive_date
    from hcctrial.safety.dlt import evaluate_dlt
    from hcctrial.simulate.sdtm import SCHEMAS

    ae = pl.DataFrame(rows["AE"], schema=SCHEMAS["AE"], orient="row")
    spec = protocol.safety.dlt
    if spec is None:
        terms = ae.filter(
            pl.col("AEDECOD").str.to_uppercase().str.contains("CYTOKINE|NEUROTOXICITY")
        )
        return bool((terms["AETOXGR"].cast(pl.Int64, strict=False) >= 3).any())
    ex = derive_date(pl.DataFrame(rows["EX"], schema=SCHEMAS["EX"], orient="row"), "EXSTDTC")
    cells = ex.filter(pl.col("EXCAT") == "BIOLOGICAL")
    if cells.is_empty() or not rows["DM"]:
        return False
    usubjid = rows["DM"][0]["USUBJID"]
    adsl = pl.DataFrame(
        {"USUBJID": [usubjid], "TRTSDT": [cells["EXSTDT"].min()], "TRTEDT": [cells["EXSTDT"].max()]}
    )
    if ae.is_empty():
        return False
    result = evaluate_dlt(spec, adsl, ae.with_columns(pl.lit(usubjid).alias("USUBJID")))
    return bool((result.subjects["DLTFL"] == "Y").any())


def _demo(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "AGE": float(row["AGE"]),
        "AGEU": "YEARS",
        "SEX": row["SEX"],
        "RACE": "ASIAN",
        "COUNTRY": "CHN",
    }


#: Baseline disease characteristics written to SUPPDM (QNAM, QLABEL, value).
SUPPDM_QUALIFIERS = (
    ("AETIOL", "Aetiology of liver disease"),
    ("BCLC", "BCLC stage"),
    ("CPCLASS", "Child-Pugh class"),
    ("ECOG", "ECOG performance status"),
    ("MVI", "Macrovascular invasion"),
    ("EHS", "Extrahepatic spread"),
)


def _supp_dm(usubjid: str, row: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for qnam, label in SUPPDM_QUALIFIERS:
        value = row.get(qnam)
        if value is None:
            continue
        text = ("Y" if value else "N") if isinstance(value, bool) else str(value)
        out.append(
            {
                "USUBJID": usubjid,
                "RDOMAIN": "DM",
                "IDVAR": None,
                "IDVARVAL": None,
                "QNAM": qnam,
                "QLABEL": label,
                "QVAL": text,
                "QORIG": "DERIVED" if qnam in ("BCLC", "CPCLASS") else "CRF",
            }
        )
    return out


def _ds(usubjid: str, term: str, decod: str, cat: str, dtc: str) -> dict[str, Any]:
    return {"USUBJID": usubjid, "DSTERM": term, "DSDECOD": decod, "DSCAT": cat, "DSSTDTC": dtc}


def _not_chosen(protocol: Protocol, arm_id: str, rng: np.random.Generator) -> set[str]:
    """Interventions of a choice group (one of sorafenib, regorafenib, lenvatinib) that this
    subject does not get: one member is chosen with equal probability (assumption)."""
    groups: dict[str, list[str]] = {}
    for iid in protocol.arm(arm_id).interventions:
        group = protocol.intervention(iid).choice_group
        if group:
            groups.setdefault(group, []).append(iid)
    out: set[str] = set()
    for members in groups.values():
        chosen = members[int(rng.integers(len(members)))]
        out.update(m for m in members if m != chosen)
    return out


def _doses(
    protocol: Protocol, arm_id: str, level_id: str | None, row: dict[str, Any], skip: set[str]
) -> tuple[dict[str, float], dict[str, str], float]:
    """Dose per intervention of the arm (absolute amount), its unit, and the cell-dose factor
    (cells per infusion / 1e8, the kinetic model's reference)."""
    doses: dict[str, float] = {}
    units: dict[str, str] = {}
    factor = 1.0
    for iid in protocol.arm(arm_id).interventions:
        if iid in skip:
            continue
        item = protocol.intervention(iid)
        dose = item.dose
        if item.dose_from_levels and level_id is not None:
            dose = protocol.dose_level(level_id).dose
        if dose is None:
            continue
        amount = dose_amount(dose, float(row["HEIGHT"]), float(row["WEIGHT"]))
        unit = dose.unit.split("/")[0]
        if dose.per == "day" or dose.unit.endswith("/day"):
            unit += "/day"
        doses[iid], units[iid] = float(f"{amount:.4g}"), unit
        if item.kind == "biological" and unit == "cells":
            factor = amount / REFERENCE_CELL_DOSE
    return doses, units, factor if math.isfinite(factor) else 1.0
