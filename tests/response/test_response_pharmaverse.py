"""Real SDTM: pharmaversesdtm tu_onco / tr_onco (5 subjects, see data/README.md).

Expected values are derived by hand from the TR rows (RECIST 1.1, TRTESTCD DIAMETER), shown in
the comments; they differ from pharmaversesdtm's rs_onco where that data generator ignores the
nadir (Eisenhauer 2009 section 4.3.1) or sums around missing lesions (section 4.4.2).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from hcctrial.response import derive_best_overall_response, derive_timepoint_response

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def result():
    tu = pl.read_csv(DATA / "pharmaverse_tu_onco_5subjects.csv", infer_schema_length=0)
    tr = pl.read_csv(DATA / "pharmaverse_tr_onco_5subjects.csv", infer_schema_length=0)
    return derive_timepoint_response(tu, tr)


def _tp(result, usubjid: str, evaluator: str = "INVESTIGATOR") -> pl.DataFrame:
    return result.timepoint_changes.filter(
        (pl.col("USUBJID") == usubjid) & (pl.col("RSEVAL") == evaluator)
    ).sort("VISITNUM")


def test_1015_investigator_pd_from_nadir_after_cr(result):
    # Baseline T01-T05 10+16+13+16+18 = 73 mm. Week 6: 11+6+12+8+5 = 42 (-42.5%, PR) but NT01
    # unequivocal progression: PD. Week 12: all 0 (T02 is a node, 0 < 10 mm): CR, all NT
    # absent: CR. Week 24: 5+11+13+12+14 = 55 over a nadir of 0: PD (rs_onco says SD: it
    # compares with baseline).
    tp = _tp(result, "01-701-1015")
    assert tp["SUMDIAM"].to_list() == [73.0, 42.0, 0.0, 55.0]
    assert tp["TRGRESP"].to_list() == [None, "PR", "CR", "PD"]
    assert tp["NTRGRESP"].to_list() == [None, "PD", "CR", "NE"]
    assert tp["OVRLRESP"].to_list() == [None, "PD", "CR", "PD"]


def test_1028_investigator_nadir_is_the_smallest_sum_so_far(result):
    # Baseline 7+8+14+14+12 = 55. Week 6: 19+16+12+10+16 = 73 (+32.7%, +18 mm): PD.
    # Week 12: 67 (+21.8% over 55): PD. Week 18: 62 (+12.7%): SD. Week 24: 79: PD.
    tp = _tp(result, "01-701-1028")
    assert tp["SUMDIAM"].to_list() == [55.0, 73.0, 67.0, 62.0, 79.0]
    assert tp["TRGRESP"].to_list() == [None, "PD", "PD", "SD", "PD"]
    # Week 24 NEW01 is EQUIVOCAL: not PD by itself (section 4.3.4).
    assert tp["NEWLPROG"].to_list()[-1] == "N"


def test_1188_investigator_missing_target_ne_but_non_target_pd(result):
    # Baseline 9+10+14+11+12 = 56; week 6 T04 not done: the other four sum 62 (+10.7%, +6 mm,
    # not PD): target NE; NT04/NT05 unequivocal: overall PD.
    tp = _tp(result, "01-701-1188")
    assert tp["TRGRESP"].to_list() == [None, "NE"]
    assert tp["NTRGRESP"].to_list() == [None, "PD"]
    assert tp["OVRLRESP"].to_list() == [None, "PD"]
    missing = result.problems.filter(
        (pl.col("CHECK") == "missing diameter")
        & (pl.col("USUBJID") == "01-701-1188")
        & (pl.col("RSEVAL") == "INVESTIGATOR")
    )
    assert set(missing["LESIONID"]) == {"T04"}
    assert set(missing["VISIT"]) == {"WEEK 6"}


def test_evaluators_kept_apart(result):
    evaluators = (
        result.timepoint_changes.filter(pl.col("USUBJID") == "01-701-1015")
        .select("RSEVAL", "RSEVALID")
        .unique()
    )
    assert evaluators.height == 3


def test_real_data_problems_reported(result):
    checks = set(result.problems["CHECK"])
    # Baseline targets below 10 mm (README: "some baseline target lesions are below 10 mm"),
    # a partial baseline date, lesions measured twice at one visit, NOT DONE measurements,
    # and an unscheduled visit dated before the visit numbered before it (01-701-1153).
    assert {
        "baseline measurability",
        "partial date",
        "duplicate measurement",
        "missing diameter",
        "date order",
    } <= checks
    small = result.problems.filter(
        (pl.col("CHECK") == "baseline measurability")
        & (pl.col("USUBJID") == "01-701-1028")
        & (pl.col("RSEVAL") == "INVESTIGATOR")
    )
    assert set(small["LESIONID"]) >= {"T01", "T02"}  # 7 and 8 mm at baseline
    assert result.problems["ROW"].null_count() < result.problems.height


def test_best_overall_response_on_real_data(result):
    best = derive_best_overall_response(result.adrs).adrs
    bor = best.filter((pl.col("PARAMCD") == "BOR") & (pl.col("RSEVAL") == "INVESTIGATOR"))
    got = dict(zip(bor["USUBJID"], bor["AVALC"], strict=True))
    # First PD at week 6 for 1015, 1028, 1188: nothing after it counts.
    assert got["01-701-1015"] == "PD"
    assert got["01-701-1028"] == "PD"
    assert got["01-701-1188"] == "PD"
    assert set(got) == {"01-701-1015", "01-701-1028", "01-711-1143", "01-701-1188", "01-701-1153"}
