"""ADSL derivation from SDTM: hand-built subjects with hand-derived dates."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.io import StudyData, validate_study
from hcctrial.io.adsl import derive_adsl

D = dt.date


def _study() -> StudyData:
    dm = pl.DataFrame(
        {
            "STUDYID": ["S"] * 3,
            "DOMAIN": ["DM"] * 3,
            "USUBJID": ["S-1", "S-2", "S-3"],
            "SUBJID": ["1", "2", "3"],
            "RFXSTDTC": ["2024-01-10", None, None],
            "DTHDTC": [None, "2024-03-01", None],
            "SITEID": ["01"] * 3,
            "AGE": [60, 55, 70],
            "SEX": ["M", "F", "M"],
            "ARMCD": ["A", "B", "SCRNFAIL"],
            "ARM": ["Arm A", "Arm B", "Screen Failure"],
            "COUNTRY": ["CHN"] * 3,
        }
    )
    ex = pl.DataFrame(
        {
            "STUDYID": ["S"] * 3,
            "DOMAIN": ["EX"] * 3,
            "USUBJID": ["S-1", "S-2", "S-2"],
            "EXSEQ": [1, 1, 2],
            "EXTRT": ["CAR-T", "NK", "NK"],
            "EXDOSE": [1.0, 1.0, 1.0],
            "EXDOSU": ["10^8 cells"] * 3,
            "EXSTDTC": ["2024-01-10", "2024-01-20", "2024-01-21"],
        }
    )
    ds = pl.DataFrame(
        {
            "STUDYID": ["S"] * 3,
            "DOMAIN": ["DS"] * 3,
            "USUBJID": ["S-1", "S-2", "S-2"],
            "DSSEQ": [1, 1, 2],
            "DSTERM": ["RANDOMIZED", "RANDOMIZED", "DEATH"],
            "DSDECOD": ["RANDOMIZED", "RANDOMIZED", "DEATH"],
            "DSCAT": ["PROTOCOL MILESTONE", "PROTOCOL MILESTONE", "DISPOSITION EVENT"],
            "DSSTDTC": ["2024-01-05", "2024-01-15", "2024-03-01"],
        }
    )
    # a lab drawn after the recorded death (a data error) must not extend LSTALVDT past death
    lb = pl.DataFrame(
        {
            "STUDYID": ["S"] * 2,
            "DOMAIN": ["LB"] * 2,
            "USUBJID": ["S-1", "S-2"],
            "LBSEQ": [1, 1],
            "LBTESTCD": ["ALB", "ALB"],
            "LBTEST": ["Albumin", "Albumin"],
            "LBORRES": ["35", "30"],
            "LBSTRESN": [35.0, 30.0],
            "LBSTRESU": ["g/L", "g/L"],
            "LBDTC": ["2024-06-30", "2024-03-05"],
        }
    )
    study = validate_study(StudyData({"DM": dm, "EX": ex, "DS": ds, "LB": lb}), on_error="collect")
    assert study.problems.height == 0, study.problems
    return study


def test_dates_and_flags_follow_their_sources() -> None:
    adsl = derive_adsl(_study()).sort("USUBJID")
    rows = {r["USUBJID"]: r for r in adsl.to_dicts()}
    assert rows["S-1"]["TRTSDT"] == D(2024, 1, 10)  # DM.RFXSTDTC
    assert rows["S-2"]["TRTSDT"] == D(2024, 1, 20)  # earliest EX when DM has none
    assert rows["S-2"]["TRTEDT"] == D(2024, 1, 21)
    assert rows["S-1"]["RANDDT"] == D(2024, 1, 5)
    assert rows["S-2"]["DTHDT"] == D(2024, 3, 1)
    assert rows["S-2"]["LSTALVDT"] == D(2024, 3, 1)  # the 2024-03-05 lab is after death
    assert rows["S-1"]["LSTALVDT"] == D(2024, 6, 30)
    assert [rows[s]["ENRLFL"] for s in ("S-1", "S-2", "S-3")] == ["Y", "Y", "N"]
    assert [rows[s]["ITTFL"] for s in ("S-1", "S-2", "S-3")] == ["Y", "Y", "N"]
    assert rows["S-3"]["SAFFL"] == "N"


def test_a_study_without_demographics_is_refused() -> None:
    with pytest.raises(InputError, match="no DM"):
        derive_adsl(StudyData({}))
