"""CRS/ICANS from the SDTM FA domain (long) to daily ASTCT grades, episodes and checks.

Expected grades are read off Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638,
"ASTCT CRS Consensus Grading" (fever >= 38.0 C; hypotension without vasopressor 2, one
vasopressor 3, several 4; low-flow nasal cannula <= 6 L/min 2, > 6 L/min 3) and its footnote
on antipyretic/anti-cytokine therapy (fever no longer required once CRS has begun).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputErrors
from hcctrial.protocol import load_protocol
from hcctrial.safety.dlt import evaluate_dlt, rule_term_problems
from hcctrial.safety.dose_levels import derive_dose_level
from hcctrial.safety.syndromes import (
    crs_icans_from_fa,
    grade_crs_icans,
    recorded_episode_problems,
    recorded_vs_derived_problems,
)


def _fa(rows: list[tuple[str, str, str, str, str]], unit: list[str] | None = None) -> pl.DataFrame:
    """rows: (USUBJID, FAOBJ, FATESTCD, FASTRESC, FADTC)."""
    df = pl.DataFrame(
        rows, schema=["USUBJID", "FAOBJ", "FATESTCD", "FASTRESC", "FADTC"], orient="row"
    )
    if unit is not None:
        df = df.with_columns(pl.Series("FASTRESU", unit))
    return df


def test_case_1_long_findings_grade_like_the_wide_table() -> None:
    fa = _fa(
        [
            ("1", "CRS", "TEMP", "39.4", "2025-03-03"),
            ("1", "CRS", "HYPOTN", "Y", "2025-03-03"),  # no vasopressor: grade 2
            ("1", "CRS", "ANTICYT", "Y", "2025-03-03"),  # tocilizumab: masks later fever
            ("1", "CRS", "TEMP", "37.2", "2025-03-04"),
            ("1", "CRS", "VASOPN", "1", "2025-03-04"),  # one vasopressor: grade 3 while masked
            ("1", "CRS", "TEMP", "36.9", "2025-03-05"),  # no finding: the episode ends
            ("2", "Cytokine release syndrome", "TEMP", "100.9", "2025-03-04T08:00"),
        ],
        unit=["C", "", "", "C", "", "C", "F"],
    )
    wide, problems, other = crs_icans_from_fa(fa)
    assert problems.height == 0 and other == 0 and set(wide) == {"CRS"}
    res = grade_crs_icans(wide["CRS"], None)
    assert res.crs is not None
    got = {(s, d.day): g for s, d, g in res.crs.select("USUBJID", "ADT", "CRSGR").iter_rows()}
    assert got == {("1", 3): 2, ("1", 4): 3, ("1", 5): 0, ("2", 4): 1}  # 100.9 F = 38.3 C
    eps = res.episodes.filter(pl.col("USUBJID") == "1").row(0, named=True)
    assert (eps["ASTDT"], eps["AENDT"], eps["ADURN"], eps["MAXGR"], eps["MASKDAYS"]) == (
        dt.date(2025, 3, 3),
        dt.date(2025, 3, 4),
        2,
        3,
        1,
    )


def test_case_2_device_and_flow_of_one_assessment_stay_together() -> None:
    """Nasal cannula at 8 L/min is high flow (> 6 L/min, grade 3); at another time of the
    day (and no FAGRPID), a flow alone says nothing about the device, so only the cannula
    (grade 2) counts."""
    same = _fa(
        [
            ("1", "CRS", "TEMP", "38.5", "2025-03-03T08:00"),
            ("1", "CRS", "O2DEV", "nasal cannula", "2025-03-03T08:00"),
            ("1", "CRS", "O2FLOW", "8", "2025-03-03T08:00"),
        ]
    )
    apart = same.with_columns(
        pl.when(pl.col("FATESTCD") == "O2FLOW")
        .then(pl.lit("2025-03-03T12:00"))
        .otherwise("FADTC")
        .alias("FADTC")
    )
    grouped = apart.with_columns(pl.lit("A1").alias("FAGRPID"))
    grade = {}
    for name, df in (("same", same), ("apart", apart), ("grouped", grouped)):
        wide, _, _ = crs_icans_from_fa(df)
        crs = grade_crs_icans(wide["CRS"], None).crs
        assert crs is not None
        grade[name] = crs["CRSGR"].to_list()
    # FAGRPID joins findings of one day recorded at different times into one assessment
    assert grade == {"same": [3], "apart": [2], "grouped": [3]}


def test_case_3_icans_findings() -> None:
    """ICE 2 is grade 3; awakening to voice is grade 2; the worse applies (Lee 2019 ICANS)."""
    icans = "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME"
    fa = _fa(
        [
            ("1", "ICANS", "ICE", "2", "2025-03-06"),
            ("1", "ICANS", "LOC", "awakens to voice", "2025-03-06"),
            ("1", icans, "ICE", "10", "2025-03-07"),
            ("1", "TUMOUR LYSIS SYNDROME", "LDH", "900", "2025-03-07"),
        ]
    )
    wide, problems, other = crs_icans_from_fa(fa)
    assert other == 1 and problems.height == 0
    res = grade_crs_icans(None, wide["ICANS"])
    assert res.icans is not None
    assert res.icans["ICANSGR"].to_list() == [3, 0]
    assert res.subjects.row(0, named=True)["MAXGR"] == 3


def test_case_4_bad_rows_name_the_file_row_and_suggest() -> None:
    fa = _fa(
        [
            ("1", "CRS", "TEMPR", "38.5", "2025-03-03"),  # row 1: misspelt code
            ("1", "CRS", "ICE", "5", "2025-03-03"),  # row 2: an ICANS finding under CRS
            ("1", "CRS", "HYPOTN", "maybe", "2025-03-03"),  # row 3: not Y/N
            ("1", "CRS", "TEMP", "101.2", "2025-03"),  # row 4: F without unit, partial date
            ("1", "CRS", "O2DEV", "tent", "2025-03-04"),  # row 5: unknown device
            ("1", "CRS", "TEMP", "38.2", "2025-03-04"),  # row 6: fine
        ]
    )
    with pytest.raises(InputErrors) as err:
        crs_icans_from_fa(fa, file="fa.csv")
    text = str(err.value)
    assert "fa.csv, row 1, column FATESTCD" in text and "did you mean TEMP" in text
    assert "row 2, column FATESTCD" in text and "ICE is an ICANS finding" in text
    assert "row 3, column FASTRESC" in text and "'maybe'" in text
    assert "row 4, column FADTC" in text and "row 4, column FASTRESC" in text
    assert "row 5, column FASTRESC" in text and "'tent'" in text
    assert "row 6" not in text
    wide, problems, _ = crs_icans_from_fa(fa, file="fa.csv", on_error="collect")
    assert sorted(set(problems["ROW"].to_list())) == [1, 2, 3, 4, 5]
    assert set(problems["ACTION"]) == {"row not graded"}
    assert wide["CRS"].height == 1 and wide["CRS"]["TEMP"].to_list() == [38.2]


def test_case_5_recorded_overlapping_episodes() -> None:
    ae = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1", "2", "2"],
            "AEDECOD": ["Cytokine release syndrome"] * 3 + ["Cytokine release syndrome"] * 2,
            "AESTDT": [dt.date(2025, 3, d) for d in (2, 4, 20, 2, 6)],
            "AEENDT": [dt.date(2025, 3, 5), dt.date(2025, 3, 6), None, dt.date(2025, 3, 5), None],
        }
    )
    got = recorded_episode_problems(ae, file="ae.csv")
    # subject 1: rows 1 and 2 overlap (03-04..03-05); row 3 starts later. Subject 2: row 5
    # starts the day after row 4 ended, not an overlap.
    assert got["ROW"].to_list() == [2] and got["USUBJID"].to_list() == ["1"]
    assert "AE rows 1 (2025-03-02..2025-03-05) and 2" in got["MESSAGE"][0]


def test_case_6_dose_level_sources() -> None:
    levels = load_protocol("il1rap-car-t").dose_levels  # 1.0, 2.5, 5.0 x 10^8 cells
    subjects = pl.DataFrame({"USUBJID": ["a", "b", "c", "d"]})
    dm = pl.DataFrame(
        {
            "USUBJID": ["a", "b", "c", "d"],
            "ARM": ["", "", "Cohort (Third dose group (5.0 x 10^8 cells))", "Expansion"],
        }
    )
    ex = pl.DataFrame(
        {
            "USUBJID": ["a", "a", "b"],
            "EXDOSE": ["500", "1.0E8", "250000000.0"],
            "EXDOSU": ["mg/m2/day", "cells", "cells"],
            "EXSTDTC": ["2025-01-01", "2025-01-06", "2025-01-06"],
        }
    )
    out, problems = derive_dose_level(subjects, levels, dm=dm, ex=ex)
    assert out["DOSELVL"].to_list() == ["dl1", "dl2", "dl3", None]
    assert out["DOSELVLS"].to_list() == ["EX.EXDOSE", "EX.EXDOSE", "DM.ARM", None]
    assert problems["USUBJID"].to_list() == ["d"]
    named = pl.DataFrame({"USUBJID": ["a"], "DOSELVL": ["second dose group (2.5 x 10^8 cells)"]})
    assert derive_dose_level(named, levels)[0]["DOSELVL"].to_list() == ["dl2"]


def test_case_7_dlt_exception_fever_matches_pyrexia_and_near_terms_are_reported() -> None:
    """The IL1RAP CAR-T non-haematological rule excepts "Fever" (CTCAE); the MedDRA preferred
    term of a fever AE is "Pyrexia" (LLT Fever 10016558 -> PT Pyrexia 10037660)."""
    spec = load_protocol("il1rap-car-t").safety.dlt
    assert spec is not None
    adsl = pl.DataFrame({"USUBJID": ["1", "2"], "TRTSDT": [dt.date(2025, 3, 1)] * 2})
    ae = pl.DataFrame(
        {
            "USUBJID": ["1", "2"],
            "AEDECOD": ["Pyrexia", "Febrile neutropenias"],
            "AETOXGR": [3, 3],
            "AESTDTC": ["2025-03-03", "2025-03-05"],
            "AEENDTC": ["2025-03-08", "2025-03-06"],
            "AEREL": ["RELATED", "RELATED"],
            "AEBODSYS": ["General disorders", "Blood and lymphatic system disorders"],
        }
    )
    res = evaluate_dlt(spec, adsl, ae, data_cutoff=dt.date(2025, 5, 1))
    flags = dict(zip(res.subjects["USUBJID"], res.subjects["DLTFL"], strict=True))
    assert flags["1"] == "N"  # grade 3 fever for 6 days is excepted, not a non-haem DLT
    msgs = rule_term_problems(spec, ["Pyrexia", "Febrile neutropenias"])
    assert len(msgs) == 1 and "did you mean 'Febrile neutropenias'" in msgs[0].message
    assert any("Febrile neutropenias" in m for m in res.problems["MESSAGE"].to_list())


def test_case_8_recorded_grade_against_the_derived_grade() -> None:
    """Derived episode of subject 1: CRS 03-02..03-05, ASTCT grade 3. A recorded CRS AE of
    grade 2 in those dates disagrees; one of grade 3 agrees; one dated 03-20 has no derived
    episode; subject 2 has no FA findings and is not compared."""
    episodes = pl.DataFrame(
        {
            "USUBJID": ["1"],
            "SYNDROME": ["CRS"],
            "ASTDT": [dt.date(2025, 3, 2)],
            "AENDT": [dt.date(2025, 3, 5)],
            "MAXGR": [3],
        }
    )
    ae = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1", "2"],
            "AEDECOD": ["Cytokine release syndrome"] * 4,
            "AETOXGR": [2, 3, 1, 2],
            "AESTDT": [dt.date(2025, 3, d) for d in (4, 2, 20, 4)],
            "AEENDT": [dt.date(2025, 3, 6), dt.date(2025, 3, 5), None, None],
        }
    )
    got = recorded_vs_derived_problems(ae, episodes, file="ae.csv")
    assert got["ROW"].to_list() == [1, 3]
    assert "recorded CRS grade 2, ASTCT grade derived from FA in its dates 3" in got["MESSAGE"][0]
    assert "no derived ASTCT CRS episode" in got["MESSAGE"][1]
