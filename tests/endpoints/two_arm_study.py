"""A small randomized two-arm study in SDTM (DM, DS, EX, TU, TR) for the endpoints CLI tests.

Each subject has one 40 mm liver target lesion measured at screening (day -7) and every 8 weeks
(day 56 k) from randomization until progression, death or the last visit. RECIST 1.1 by hand
(Eisenhauer 2009 section 4.3.1: PR <= -30% from baseline; PD >= +20% and >= +5 mm over the
nadir), days from randomization:

=====  ===================  ===============  ====================================
id     diameters (mm)       PFS (day)        OS (day)
=====  ===================  ===============  ====================================
E1     25 24 24 24          cens. 224        alive, last contact 400
E2     36 38 50             PD 168           death 300
E3     0 0 10               PD 168 (CR)      alive, last contact 350
E4     42 52                PD 112           death 250
E5     38                   death 100        death 100
E6     28 27 28 29 28 28    cens. 336        alive, last contact 380
E7     45 55                PD 112           death 200
E8     39 41 40             cens. 168        alive, last contact 200
C1     44 50                PD 112           death 180
C2     50                   PD 56            death 150
C3     28 27 40             PD 168           death 320
C4     41 43 50             PD 168           alive, last contact 260
C5     (none)               death 40         death 40
C6     38 39 39             cens. 168        alive, last contact 210
C7     47 49                PD 112           death 220
C8     42 56                PD 112           death 140
=====  ===================  ===============  ====================================

Confirmed responses (CR/PR again >= 28 days later): E1 PR, E3 CR, E6 PR; C3 PR.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

EXPERIMENTAL = "TACE + iNKT"
CONTROL = "TACE alone"

# id: (diameters at weeks 8, 16, ..., death day or None, last contact day)
SUBJECTS: dict[str, tuple[list[float], int | None, int]] = {
    "E1": ([25, 24, 24, 24], None, 400),
    "E2": ([36, 38, 50], 300, 300),
    "E3": ([0, 0, 10], None, 350),
    "E4": ([42, 52], 250, 250),
    "E5": ([38], 100, 100),
    "E6": ([28, 27, 28, 29, 28, 28], None, 380),
    "E7": ([45, 55], 200, 200),
    "E8": ([39, 41, 40], None, 200),
    "C1": ([44, 50], 180, 180),
    "C2": ([50], 150, 150),
    "C3": ([28, 27, 40], 320, 320),
    "C4": ([41, 43, 50], None, 260),
    "C5": ([], 40, 40),
    "C6": ([38, 39, 39], None, 210),
    "C7": ([47, 49], 220, 220),
    "C8": ([42, 56], 140, 140),
}
START = dt.date(2024, 1, 1)


def usubjid(sid: str) -> str:
    """The USUBJID of a short subject id."""
    return f"TWOARM-{sid}"


def randomization_date(sid: str) -> dt.date:
    """Subjects are randomized a week apart, in table order."""
    return START + dt.timedelta(days=7 * list(SUBJECTS).index(sid))


def write_study(folder: Path) -> Path:
    """Write dm.csv, ds.csv, ex.csv, tu.csv, tr.csv into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    dm, ds, ex, tu, tr = [], [], [], [], []
    for sid, (diams, death, last) in SUBJECTS.items():
        u, r = usubjid(sid), randomization_date(sid)
        arm = EXPERIMENTAL if sid.startswith("E") else CONTROL

        def day(d: int, r: dt.date = r) -> str:
            return (r + dt.timedelta(days=d)).isoformat()

        dm.append(
            {
                "STUDYID": "TWOARM", "DOMAIN": "DM", "USUBJID": u, "SUBJID": sid,
                "RFSTDTC": day(0), "RFXSTDTC": day(3), "DTHDTC": day(death) if death else "",
                "DTHFL": "Y" if death else "", "AGE": 60, "SEX": "M",
                "ARMCD": "EXP" if sid.startswith("E") else "CTL", "ARM": arm,
            }
        )  # fmt: skip
        ds.append({"STUDYID": "TWOARM", "DOMAIN": "DS", "USUBJID": u, "DSSEQ": 1,
                   "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED",
                   "DSCAT": "PROTOCOL MILESTONE", "DSSTDTC": day(0)})  # fmt: skip
        ds.append({"STUDYID": "TWOARM", "DOMAIN": "DS", "USUBJID": u, "DSSEQ": 2,
                   "DSTERM": "DEATH" if death else "LAST CONTACT",
                   "DSDECOD": "DEATH" if death else "COMPLETED",
                   "DSCAT": "DISPOSITION EVENT", "DSSTDTC": day(last)})  # fmt: skip
        ex.append({"STUDYID": "TWOARM", "DOMAIN": "EX", "USUBJID": u, "EXSEQ": 1,
                   "EXTRT": "TACE", "EXDOSE": 1, "EXDOSU": "procedure",
                   "EXSTDTC": day(3), "EXENDTC": day(3)})  # fmt: skip
        tu.append({"STUDYID": "TWOARM", "DOMAIN": "TU", "USUBJID": u, "TULNKID": "T01",
                   "TUTESTCD": "TUMIDENT", "TUORRES": "TARGET", "TUSTRESC": "TARGET",
                   "TULOC": "LIVER", "TUEVAL": "INVESTIGATOR", "VISITNUM": 1,
                   "VISIT": "SCREENING", "TUDTC": day(-7)})  # fmt: skip
        for k, d in enumerate([40.0, *diams]):
            tr.append(
                {
                    "STUDYID": "TWOARM", "DOMAIN": "TR", "USUBJID": u, "TRSEQ": k + 1,
                    "TRGRPID": "TARGET", "TRLNKID": "T01", "TRTESTCD": "LDIAM",
                    "TRTEST": "Longest Diameter", "TRORRES": d, "TRORRESU": "mm",
                    "TRSTRESC": d, "TRSTRESN": d, "TRSTRESU": "mm", "TREVAL": "INVESTIGATOR",
                    "VISITNUM": k + 1, "VISIT": "SCREENING" if k == 0 else f"WEEK {8 * k}",
                    "TRDTC": day(-7 if k == 0 else 56 * k),
                }
            )  # fmt: skip
    for name, rows in (("dm", dm), ("ds", ds), ("ex", ex), ("tu", tu), ("tr", tr)):
        pl.DataFrame(rows).write_csv(folder / f"{name}.csv")
    return folder
