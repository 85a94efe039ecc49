"""Baseline flag and lab shift tables (baseline CTCAE grade to worst post-baseline grade)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.safety import grade_labs
from hcctrial.safety.shift import (
    derive_lab_baseline_flag,
    lab_shift_table,
    lab_shifts_by_subject,
)

D = dt.date


def _lb() -> pl.DataFrame:
    # S1 platelets (LLN 150): 160 and 140 before infusion on 2024-03-10, then 60 and 40;
    # S2 platelets 120 at baseline then 100; S3 never infused (no baseline).
    return pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S1", "S1", "S1", "S2", "S2", "S3"],
            "LBTESTCD": ["PLT"] * 8,
            "LBSTRESN": [160.0, 140.0, None, 60.0, 40.0, 120.0, 100.0, 90.0],
            "LBSTRESU": ["10^9/L"] * 8,
            "LBSTNRLO": [150.0] * 8,
            "LBSTNRHI": [400.0] * 8,
            "LBDT": [
                D(2024, 3, 1),
                D(2024, 3, 9),
                D(2024, 3, 10),
                D(2024, 3, 20),
                D(2024, 4, 1),
                D(2024, 3, 1),
                D(2024, 4, 1),
                D(2024, 3, 1),
            ],
        }
    )


REF = pl.DataFrame({"USUBJID": ["S1", "S2", "S3"], "TRTSDT": [D(2024, 3, 10), D(2024, 3, 5), None]})


def test_baseline_is_the_last_result_on_or_before_first_infusion() -> None:
    flagged = derive_lab_baseline_flag(_lb(), REF)
    # S1: the 2024-03-10 record has no result, so the baseline is 140 on 2024-03-09
    assert flagged["LBBLFL"].to_list() == [None, "Y", None, None, None, "Y", None, None]


def test_shift_table_counts_subjects() -> None:
    """CTCAE v5.0 Platelet count decreased: S1 140 (grade 1) -> worst 40 (grade 3);
    S2 120 (grade 1) -> 100 (grade 1); S3 no baseline -> MISSING to 90 (grade 1)."""
    graded = grade_labs(derive_lab_baseline_flag(_lb(), REF))
    per = lab_shifts_by_subject(graded).filter(pl.col("TERM") == "Platelet count decreased")
    assert per["BTOXGR"].to_list() == [1, 1, None]
    assert per["WTOXGR"].to_list() == [3, 1, 1]
    assert per["NPOST"].to_list() == [2, 1, 1]
    table = lab_shift_table(graded, pl.DataFrame({"USUBJID": ["S1", "S2", "S3"], "ARM": "A"}))
    rows = set(table.select("BTOXGR", "WTOXGR", "n").iter_rows())
    assert rows == {("1", "3", 1), ("1", "1", 1), ("MISSING", "1", 1)}
    assert set(table["TERM"]) == {"Platelet count decreased"}


def test_pre_baseline_records_are_not_post_baseline() -> None:
    """S1's 160 on 2024-03-01 precedes the baseline record and is not counted after it."""
    graded = grade_labs(derive_lab_baseline_flag(_lb(), REF))
    per = lab_shifts_by_subject(graded)
    assert per.filter(pl.col("USUBJID") == "S1")["NPOST"].to_list() == [2]


def test_no_baseline_flag_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no baseline flag"):
        lab_shift_table(grade_labs(_lb()))


def test_both_arms_take_their_baseline_before_the_first_tace() -> None:
    """NCT04011033: TAE/TACE on day 0 in both arms, iNKT cells from day 7 in one. ALT 40 on
    day -3, 180 on day 3 (the post-embolisation rise). The baseline of both arms is the day -3
    result (last observation before the first study treatment, SDTMIG 3.4 6.3.5.9), not day 3
    for the arm whose first infusion is on day 7."""
    from hcctrial.safety.adverse_events import derive_subject_anchors

    day0 = D(2024, 3, 10)
    dm = pl.DataFrame({"USUBJID": ["E1", "C1"], "RFXSTDTC": ["2024-03-17", "2024-03-10"]})
    ex = pl.DataFrame(
        {
            "USUBJID": ["E1", "E1", "C1"],
            "EXTRT": ["TACE", "iNKT cells", "TACE"],
            "EXSTDTC": ["2024-03-10", "2024-03-17", "2024-03-10"],
        }
    )
    anchors = derive_subject_anchors(dm, ex=ex)
    assert anchors.sort("USUBJID")["FSTDOSDT"].to_list() == [day0, day0]
    assert anchors.sort("USUBJID")["TRTSDT"].to_list() == [day0, D(2024, 3, 17)]
    lb = pl.DataFrame(
        {
            "USUBJID": ["E1", "E1", "C1", "C1"],
            "LBTESTCD": ["ALT"] * 4,
            "LBSTRESN": [40.0, 180.0, 40.0, 180.0],
            "LBDT": [day0 - dt.timedelta(days=3), day0 + dt.timedelta(days=3)] * 2,
        }
    )
    flagged = derive_lab_baseline_flag(lb, anchors)
    assert flagged["LBBLFL"].to_list() == ["Y", None, "Y", None]
