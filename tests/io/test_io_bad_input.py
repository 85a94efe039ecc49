"""One test per kind of bad input: each message names file, row, column and the expected form.

Every case is a small hand-built folder; the expected row numbers are counted by hand (row 1 is
the first line under the header, as a spreadsheet user sees it).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tests.io.conftest import DM, LB, write

from hcctrial.errors import InputError, InputErrors
from hcctrial.io import read_study


def _only_problem(folder: Path) -> str:
    with pytest.raises(InputErrors) as info:
        read_study(folder)
    assert len(info.value.problems) == 1, str(info.value)
    return str(info.value.problems[0])


def test_1_missing_required_column(tmp_path: Path) -> None:
    lb = "USUBJID,LBTESTCD,LBSTRESU,LBDTC\nS-001,PLT,10^9/L,2024-03-05\n"
    folder = write(tmp_path, dm=DM, lb=lb)
    text = _only_problem(folder)
    assert "lb.csv" in text
    assert "column LBSTRESN" in text
    assert "required column LBSTRESN is missing (1 rows not loaded)" in text
    assert "expected a column LBSTRESN (Numeric Result/Finding in Standard Units)" in text


def test_2_unparseable_date(tmp_path: Path) -> None:
    lb = LB.replace("S-002,PLT,201,x10^9/L,2024-04-01", "S-002,PLT,201,x10^9/L,01/04/2024")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "lb.csv, row 3, column LBDTC, subject S-002: not an ISO 8601 date" in text
    assert "(got '01/04/2024')" in text
    assert "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm" in text


def test_2b_impossible_calendar_date(tmp_path: Path) -> None:
    lb = LB.replace("S-001,BILI,18,umol/L,2024-03-05", "S-001,BILI,18,umol/L,2023-02-29")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "row 2, column LBDTC" in text and "'2023-02-29'" in text
    assert "impossible calendar date" in text


def test_2c_negative_lab_result(tmp_path: Path) -> None:
    lb = LB.replace("S-002,PLT,201,", "S-002,PLT,-201,")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "lb.csv, row 3, column LBSTRESN, subject S-002: negative result" in text
    assert "expected a result >= 0" in text


def test_3_unknown_unit(tmp_path: Path) -> None:
    lb = LB.replace("S-001,BILI,18,umol/L", "S-001,BILI,18,umol/blorp")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "lb.csv, row 2, column LBSTRESU, subject S-001" in text
    assert "unknown unit for BILI" in text
    assert "(got 'umol/blorp')" in text
    assert "expected a unit of BILI, e.g. umol/L" in text


def test_3b_unit_that_does_not_fit_the_analyte(tmp_path: Path) -> None:
    # U/L is an enzyme activity: it cannot be a platelet count
    lb = LB.replace("S-001,PLT,142,10^9/L", "S-001,PLT,142,U/L")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "row 1, column LBSTRESU" in text and "does not fit PLT" in text
    assert "expected a unit of PLT, e.g. 10^9/L" in text


def test_4_duplicate_key_with_different_values(tmp_path: Path) -> None:
    lb = LB + "S-001,PLT,150,10^9/L,2024-03-05\n"
    with pytest.raises(InputErrors) as info:
        read_study(write(tmp_path, dm=DM, lb=lb))
    rows = sorted(p.row for p in info.value.problems if p.row is not None)
    assert rows == [1, 5]  # both conflicting rows: hcctrial cannot choose between 142 and 150
    text = str(info.value)
    assert "duplicate key USUBJID, LBTESTCD, LBDTC with different values" in text
    assert "2 rows share this key, first at row 1" in text
    assert "expected one record per key" in text


def test_4b_exact_duplicate_keeps_the_first(tmp_path: Path) -> None:
    lb = LB + "S-001,PLT,142,10^9/L,2024-03-05\n"
    data = read_study(write(tmp_path, dm=DM, lb=lb), on_error="collect")
    assert data.lb.height == 4
    assert data.problems["ROW"].to_list() == [5]
    assert data.problems["VALUE"].to_list() == ["duplicate of row 1"]
    assert data.problems["ACTION"].to_list() == ["row rejected"]


def test_5_text_in_a_numeric_column(tmp_path: Path) -> None:
    lb = LB.replace("S-001,BILI,18,", "S-001,BILI,<3.4,")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "lb.csv, row 2, column LBSTRESN, subject S-001: not a number" in text
    assert "(got '<3.4')" in text
    assert "expected a finite number, or empty when missing" in text


def test_5b_fraction_in_a_whole_number_column(tmp_path: Path) -> None:
    lb = "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBDTC\nS-001,1.5,PLT,142,10^9/L,2024-03-05\n"
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "row 1, column LBSEQ" in text and "expected a whole number" in text


def test_6_controlled_terminology(tmp_path: Path) -> None:
    dm = DM.replace("S-002,F,", "S-002,female,")
    ae = (
        "USUBJID,AETERM,AETOXGR,AESER,AESTDTC\n"
        "S-001,CYTOKINE RELEASE SYNDROME,2.0,N,2024-03-24\n"
        "S-001,NEUTROPENIA,6,n,2024-03-21\n"
    )
    with pytest.raises(InputErrors) as info:
        read_study(write(tmp_path, dm=dm, ae=ae))
    found = {(Path(p.file or "").name, p.row, p.column): p for p in info.value.problems}
    assert set(found) == {("dm.csv", 2, "SEX"), ("ae.csv", 2, "AETOXGR")}
    assert "one of M, F, U, UNDIFFERENTIATED" in str(found["dm.csv", 2, "SEX"])
    assert "one of 1, 2, 3, 4, 5" in str(found["ae.csv", 2, "AETOXGR"])


def test_6b_terminology_is_case_free_and_normalised(tmp_path: Path) -> None:
    ae = "USUBJID,AETERM,AETOXGR,AESER,AESTDTC\nS-001,PYREXIA,1.0,y,2024-03-24\n"
    data = read_study(write(tmp_path, dm=DM, ae=ae))
    assert data.ae.row(0, named=True)["AETOXGR"] == "1"
    assert data.ae.row(0, named=True)["AESER"] == "Y"


def test_6c_response_terminology_depends_on_the_test(tmp_path: Path) -> None:
    rs = (
        "USUBJID,RSTESTCD,RSSTRESC,RSDTC\n"
        "S-001,OVRLRESP,PR,2024-05-04\n"
        "S-001,NEWLPROG,UNEQUIVOCAL,2024-05-04\n"
        "S-001,OVRLRESP,CHECK,2024-06-15\n"
    )
    text = _only_problem(write(tmp_path, dm=DM, rs=rs))
    assert "rs.csv, row 3, column RSSTRESC" in text and "ONCRSR" in text


def test_7_subject_missing_from_dm(tmp_path: Path) -> None:
    lb = LB + "S-999,PLT,120,10^9/L,2024-04-01\n"
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "lb.csv, row 5, column USUBJID, subject S-999: subject is not in DM" in text


def test_8_record_of_another_domain(tmp_path: Path) -> None:
    lb = "DOMAIN," + LB.replace("\nS-", "\nLB,S-").replace("LB,S-002,ALB", "VS,S-002,ALB")
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "row 4, column DOMAIN" in text and "expected LB" in text


def test_9_empty_subject(tmp_path: Path) -> None:
    lb = LB + ",PLT,120,10^9/L,2024-04-01\n"
    text = _only_problem(write(tmp_path, dm=DM, lb=lb))
    assert "row 5, column USUBJID: USUBJID is empty" in text


def test_10_two_files_for_one_domain(tmp_path: Path) -> None:
    folder = write(tmp_path, dm=DM, lb=LB, lb_local=LB)
    with pytest.raises(InputErrors) as info:
        read_study(folder)
    assert "two files for domain LB: lb.csv and lb_local.csv" in str(info.value)
    data = read_study(folder, mapping={"lb_local.csv": None})
    assert data.lb.height == 4


def test_11_file_name_that_is_no_domain(tmp_path: Path) -> None:
    folder = write(tmp_path, dm=DM, **{"lab-results": LB})
    with pytest.raises(InputErrors) as info:
        read_study(folder)
    assert "lab-results.csv" in str(info.value) and "mapping" in str(info.value)
    data = read_study(folder, mapping={"lab-results.csv": "LB"})
    assert data.lb.height == 4


def test_12_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="study folder not found"):
        read_study(tmp_path / "nope")
    with pytest.raises(InputError, match="no study data files"):
        read_study(tmp_path)


def test_13_collect_mode_lists_every_rejected_row(tmp_path: Path) -> None:
    lb = LB.replace("S-001,BILI,18,", "S-001,BILI,high,").replace(
        "2024-04-01\nS-002,ALB", "2024-13-01\nS-002,ALB"
    )
    data = read_study(write(tmp_path, dm=DM, lb=lb), on_error="collect")
    assert data.lb.height == 2  # rows 1 and 4 kept
    problems = data.problems
    assert problems.select("ROW", "COLUMN").rows() == [(2, "LBSTRESN"), (3, "LBDTC")]
    assert set(problems["ACTION"]) == {"row rejected"}
    assert problems.columns == [
        "DOMAIN",
        "FILE",
        "ROW",
        "COLUMN",
        "USUBJID",
        "VALUE",
        "EXPECTED",
        "MESSAGE",
        "ACTION",
    ]


def test_14_collect_mode_reports_a_domain_that_cannot_load(tmp_path: Path) -> None:
    tr = "USUBJID,TRTESTCD\nS-001,LDIAM\n"
    data = read_study(write(tmp_path, dm=DM, lb=LB, tr=tr), on_error="collect")
    assert "TR" not in data
    missing = data.problems.filter(pl.col("DOMAIN") == "TR")
    assert set(missing["COLUMN"]) == {"TRLNKID", "TRSTRESN", "VISIT", "TRDTC"}
    assert set(missing["ACTION"]) == {"domain not loaded"}


def test_15_unknown_imputation_rule(tmp_path: Path, good_folder: Path) -> None:
    with pytest.raises(InputError, match="unknown date imputation rule"):
        read_study(good_folder, imputation="median")


def test_16_unreadable_file(tmp_path: Path) -> None:
    folder = write(tmp_path, dm=DM)
    (folder / "lb.xpt").write_bytes(b"this is not a SAS transport file")
    with pytest.raises(InputErrors) as info:
        read_study(folder)
    assert "lb.xpt" in str(info.value) and "cannot read file" in str(info.value)
