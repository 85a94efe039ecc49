"""One enrolled virtual subject's tumour assessments (TU/TR) and exposure (EX), as SDTM rows;
labs, vital signs and adverse events come from :mod:`.events`.

Everything here is driven by the subject's latent outcomes (:mod:`.disease`) and the arm's
planned visits (:mod:`.visits`). Dates are study days relative to the anchor (day 0) and are
turned into ISO 8601 text by :func:`~.records.iso`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hcctrial.protocol import Protocol
from hcctrial.simulate.disease import size_progression
from hcctrial.simulate.events import labs_and_events
from hcctrial.simulate.parameters import TUMOUR
from hcctrial.simulate.records import BASELINE_IMAGING_DAY, Rows, SubjectInput, iso
from hcctrial.simulate.visits import actual_days

__all__ = ["subject_records"]


def _courses(days: list[int], merge: bool) -> list[tuple[int, int]]:
    """(first, last) day of each course: runs of consecutive days merged for a daily drug
    (one EX record per continuous course, SDTM IG v3.4 EX assumption 6), else one per dose."""
    if not merge:
        return [(d, d) for d in days]
    out: list[tuple[int, int]] = []
    for d in days:
        if out and d == out[-1][1] + 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def subject_records(
    s: SubjectInput, protocol: Protocol, rng: np.random.Generator, rows: Rows
) -> dict[str, Any]:
    """Append the subject's EX, TU, TR, LB, VS and AE rows; return the summary (last treatment
    day, progression day) the DM/DS rows need."""
    end = s.end_day
    # --- tumour assessments ------------------------------------------------------------------
    planned = np.array(
        sorted({v.day for v in s.visits if v.what == "tumour-assessment" and v.day > 0}), float
    )
    win = {v.day: (v.before, v.after) for v in s.visits if v.what == "tumour-assessment"}
    before = np.array([win[int(d)][0] for d in planned], float)
    after = np.array([win[int(d)][1] for d in planned], float)
    days, missed = actual_days(rng, planned, before, after)
    keep = days < end
    days, missed = days[keep], missed[keep]
    all_days = np.concatenate([[BASELINE_IMAGING_DAY], days]).astype(float)
    rel = np.maximum(all_days, 0.0)
    n_les = int(s.base["NLIVER"]) + int(bool(s.base["EHS"]))
    shares = rng.dirichlet(np.full(n_les, 3.0))
    f = np.exp(-s.d * rel) + np.exp(np.minimum(s.g * rel, 50.0)) - 1.0
    les = s.base["SLD0"] * shares[:, None] * np.maximum(f, 0.0)[None, :]
    les = les * np.exp(TUMOUR.measurement_cv * rng.standard_normal(les.shape))
    # RECIST 1.1 (Eisenhauer 2009, appendix I): a lesion too small to measure is recorded as
    # 5 mm, one that disappeared as 0 mm; here below 10 mm (the CT slice thickness limit) and
    # below 5% of its baseline size respectively.
    les = np.where(les < 10.0, np.where(f[None, :] < 0.05, 0.0, 5.0), les).round(0)
    les[:, 0] = np.maximum(les[:, 0], 10.0)  # measurable at baseline (RECIST 1.1: >= 10 mm)
    # The Stein model gives the viable tumour. For liver lesions (mRECIST, Lencioni and Llovet
    # 2010: viable = arterially enhancing) the total diameter keeps 60% of the necrotic shrinkage
    # (assumption): total = viable + 0.6 (baseline - viable)+. Other lesions: total = viable.
    liver = np.arange(n_les) < int(s.base["NLIVER"])
    valid = np.concatenate([[True], ~missed])
    total = np.where(liver[:, None], les + 0.6 * np.maximum(les[:, :1] - les, 0.0), les).round(0)
    if s.mrecist:
        pd_size = size_progression(les.sum(axis=0), valid, min_increase_mm=0.0)
    else:
        pd_size = size_progression(total.sum(axis=0), valid)
    pd_new = valid & (all_days >= s.t_new)
    pd_new[0] = False
    pd_any = pd_size | pd_new
    pd_index = int(np.argmax(pd_any)) if pd_any.any() else None
    pd_day = float(all_days[pd_index]) if pd_index is not None else math.inf
    locs = ["LIVER"] * int(s.base["NLIVER"]) + ["LUNG"] * int(bool(s.base["EHS"]))
    last = pd_index if pd_index is not None else len(all_days) - 1
    visit_no = 0
    for j in range(last + 1):
        if not valid[j]:
            continue
        visit_no += 1
        visit = "SCREENING" if j == 0 else f"WEEK {round(float(planned[keep][j - 1]) / 7)}"
        dtc = iso(s.anchor, all_days[j])
        common = {"USUBJID": s.usubjid, "VISITNUM": float(visit_no), "VISIT": visit}
        for k in range(n_les):
            if j == 0:
                rows["TU"].append(
                    {
                        **common,
                        "TULNKID": f"T{k + 1:02d}",
                        "TUSTRESC": "TARGET",
                        "TULOC": locs[k],
                        "TUMETHOD": "MRI",
                        "TUDTC": dtc,
                    }
                )
            measures = [("LDIAM", "Longest Diameter", total[k, j])]
            if liver[k]:
                measures.append(("VIABLDIAM", "Viable Tumor Longest Diameter", les[k, j]))
            for code, name, value in measures:
                rows["TR"].append(
                    {
                        **common,
                        "TRGRPID": "TARGET",
                        "TRLNKID": f"T{k + 1:02d}",
                        "TRTESTCD": code,
                        "TRTEST": name,
                        "TRSTRESC": f"{value:g}",
                        "TRSTRESN": float(value),
                        "TRSTRESU": "mm",
                        "TRDTC": dtc,
                    }
                )
        if s.base["MVI"]:
            if j == 0:
                rows["TU"].append(
                    {
                        **common,
                        "TULNKID": "NT01",
                        "TUSTRESC": "NON-TARGET",
                        "TULOC": "PORTAL VEIN",
                        "TUMETHOD": "MRI",
                        "TUDTC": dtc,
                    }
                )
            rows["TR"].append(
                {
                    **common,
                    "TRGRPID": "NON-TARGET",
                    "TRLNKID": "NT01",
                    "TRTESTCD": "TUMSTATE",
                    "TRTEST": "Tumor State",
                    "TRSTRESC": "PRESENT",
                    "TRSTRESN": None,
                    "TRSTRESU": None,
                    "TRDTC": dtc,
                }
            )
        if pd_new[j] and j == pd_index:
            rows["TU"].append(
                {
                    **common,
                    "TULNKID": "NEW01",
                    "TUSTRESC": "NEW",
                    "TULOC": "LIVER",
                    "TUMETHOD": "MRI",
                    "TUDTC": dtc,
                }
            )
            rows["TR"].append(
                {
                    **common,
                    "TRGRPID": "NEW",
                    "TRLNKID": "NEW01",
                    "TRTESTCD": "TUMSTATE",
                    "TRTEST": "Tumor State",
                    "TRSTRESC": "UNEQUIVOCAL",
                    "TRSTRESN": None,
                    "TRSTRESU": None,
                    "TRDTC": dtc,
                }
            )
            if s.mrecist:
                # mRECIST (Lencioni and Llovet 2010): a new liver nodule is PD when >= 1 cm with
                # the typical HCC pattern (arterial hyperenhancement and washout); new nodules
                # are drawn 10-30 mm (assumption) with the typical pattern.
                size = float(round(10 + 20 * rng.random()))
                for code, name, text, value in (
                    ("LDIAM", "Longest Diameter", f"{size:g}", size),
                    ("ENHPATT", "Enhancement Pattern", "TYPICAL", None),
                ):
                    rows["TR"].append(
                        {
                            **common,
                            "TRGRPID": "NEW",
                            "TRLNKID": "NEW01",
                            "TRTESTCD": code,
                            "TRTEST": name,
                            "TRSTRESC": text,
                            "TRSTRESN": value,
                            "TRSTRESU": "mm" if value is not None else None,
                            "TRDTC": dtc,
                        }
                    )
    # --- exposure ------------------------------------------------------------------------------
    stop = min(end, pd_day) if s.progression_stops_treatment else end
    given: dict[str, list[int]] = {}
    for v in s.visits:
        if v.what != "intervention" or v.intervention is None or v.day >= stop:
            continue
        jit = int(np.clip(round(rng.normal(0, 1.0)), -v.before, v.after)) if v.day > 0 else 0
        day = v.day + jit
        used = given.setdefault(v.intervention, [])
        while day in used:  # two doses never fall on one day
            day += 1
        used.append(day)
    last_dose = 0
    for iid, dlist in given.items():
        item = protocol.intervention(iid)
        for first, final in _courses(sorted(dlist), item.kind == "drug"):
            rows["EX"].append(
                {
                    "USUBJID": s.usubjid,
                    "EXTRT": item.name.upper(),
                    "EXCAT": item.kind.upper(),
                    "EXDOSE": s.doses.get(iid),
                    "EXDOSU": s.dose_units.get(iid),
                    "EXROUTE": (item.route or "").upper().replace("-", " ") or None,
                    "VISIT": f"DAY {first}",
                    "EXSTDTC": iso(s.anchor, first),
                    "EXENDTC": iso(s.anchor, final),
                }
            )
            last_dose = max(last_dose, final)
    for item in protocol.interventions:
        if item.id not in s.doses or item.id in given:
            continue
        if item.follows is not None and item.duration_days is not None:
            for day in sorted(given.get(item.follows, [])):
                length = int(rng.integers(item.duration_days.low, item.duration_days.high + 1))
                stop_day = int(min(day + length, stop - 1))
                if stop_day <= day:
                    continue
                rows["EX"].append(
                    {
                        "USUBJID": s.usubjid,
                        "EXTRT": item.name.upper(),
                        "EXCAT": item.kind.upper(),
                        "EXDOSE": s.doses[item.id],
                        "EXDOSU": s.dose_units[item.id],
                        "EXROUTE": (item.route or "").upper() or None,
                        "VISIT": f"DAY {day + 1}",
                        "EXSTDTC": iso(s.anchor, day + 1),
                        "EXENDTC": iso(s.anchor, stop_day),
                    }
                )
                last_dose = max(last_dose, stop_day)
        elif item.kind == "drug" and item.follows is None and stop > 0:
            stop_day = int(min(stop, 10_000) - 1)
            rows["EX"].append(
                {
                    "USUBJID": s.usubjid,
                    "EXTRT": item.name.upper(),
                    "EXCAT": "DRUG",
                    "EXDOSE": s.doses[item.id],
                    "EXDOSU": s.dose_units[item.id],
                    "EXROUTE": (item.route or "").upper() or None,
                    "VISIT": "DAY 0",
                    "EXSTDTC": iso(s.anchor, 0),
                    "EXENDTC": iso(s.anchor, stop_day),
                }
            )
            last_dose = max(last_dose, stop_day)
    infusions = sorted(
        d
        for iid, dl in given.items()
        if protocol.intervention(iid).kind == "biological"
        for d in dl
    )
    tace_days = sorted(
        d for iid, dl in given.items() if protocol.intervention(iid).kind == "procedure" for d in dl
    )
    labs_and_events(s, rng, rows, infusions, tace_days, pd_day)
    return {"last_dose": last_dose, "pd_day": pd_day, "treated": bool(given)}
