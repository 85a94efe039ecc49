"""grade_labs over LB tables: units, normal ranges, baselines, bad input, the criteria files."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputError
from hcctrial.safety import (
    ctcae_criteria,
    ctcae_terms,
    find_ctcae_term,
    grade_lab,
    grade_labs,
    lab_grading_problems,
)

F = pl.Float64


def _lb(rows: list[tuple[object, ...]], **extra: list[object]) -> pl.DataFrame:
    cols = ("USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI")
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    data.update(extra)
    return pl.DataFrame(data, schema_overrides={"LBSTRESN": F, "LBSTNRLO": F, "LBSTNRHI": F})


def test_units_go_through_the_unit_layer() -> None:
    """The same results in other units give the same grades (CTCAE v5.0, Investigations)."""
    lb = _lb(
        [
            # Blood bilirubin: 3.5 mg/dL with ULN 1.2 mg/dL is 2.9 x ULN -> grade 2
            ("S1", "BILI", 3.5, "mg/dL", 0.1, 1.2),
            ("S1", "BILI", 3.5 * 17.104, "umol/L", 0.1 * 17.104, 1.2 * 17.104),
            # Platelet count decreased: 60,000/uL = 60 x 10e9/L -> grade 2 (<75.0 - 50.0)
            ("S1", "PLT", 60000, "/uL", 150000, 400000),
            ("S1", "PLT", 60, "x10^9/L", 150, 400),
            # Anemia: Hgb 7.9 g/dL = 79 g/L -> grade 3 (<80 g/L)
            ("S1", "HGB", 7.9, "g/dL", 13.0, 17.0),
            # Hypercalcemia: 12.0 mg/dL = 2.994 mmol/L -> grade 2 (>2.9 - 3.1 mmol/L)
            ("S1", "CA", 12.0, "mg/dL", 8.6, 10.2),
        ]
    )
    out = grade_labs(lb)
    assert out["ATOXGR"].to_list() == [2, 2, 2, 2, 3, 2]
    assert out["ATOXU"].to_list() == ["umol/L", "umol/L", "10^9/L", "10^9/L", "g/L", "mmol/L"]
    assert out["ATOXAVAL"][2] == pytest.approx(60.0)


def test_rows_are_kept_in_order_with_reasons() -> None:
    lb = _lb(
        [
            ("S1", "AFP", 20.0, "ng/mL", 0.0, 10.0),  # no CTCAE lab term
            ("S1", "PLT", None, "10^9/L", 150, 400),  # no result
            ("S1", "PLT", 100.0, "mg/dL", 150, 400),  # unit does not fit
            ("S1", "PLT", 100.0, "10^9/L", None, None),  # no normal range
            ("S1", "ALT", 30.0, "U/L", 0, 40),  # within normal limits
            ("S1", "NEUT", 0.4, "10^9/L", 1.8, 7.5),  # grade 4
        ]
    )
    out = grade_labs(lb)
    assert out.height == lb.height
    assert out["LBTESTCD"].to_list() == lb["LBTESTCD"].to_list()
    assert out["ATOXGR"].to_list() == [None, None, None, None, 0, 4]
    reasons = out["ATOXGRRSN"].to_list()
    assert "no CTCAE v5.0 lab criteria for LBTESTCD 'AFP'" in reasons[0]
    assert "no numeric result" in reasons[1]
    assert "does not fit PLT" in reasons[2]
    assert "no LLN (LBSTNRLO)" in reasons[3]
    assert reasons[4] is None and reasons[5] is None


def test_low_and_high_terms_of_one_test() -> None:
    """Sodium 118 mmol/L: Hyponatremia grade 4, Hypernatremia grade 0 (CTCAE v5.0)."""
    out = grade_labs(_lb([("S1", "SODIUM", 118.0, "mmol/L", 135, 145)]))
    row = out.row(0, named=True)
    assert (row["ATOXDSCL"], row["ATOXGRL"]) == ("Hyponatremia", 4)
    assert (row["ATOXDSCH"], row["ATOXGRH"]) == ("Hypernatremia", 0)
    assert row["ATOXGR"] == 4


def test_overall_grade_is_null_when_the_abnormal_side_is_ungradable() -> None:
    """Glucose 15 mmol/L under v5.0: Hypoglycemia 0, Hyperglycemia ungradable -> ATOXGR null;
    sodium 128 with no ULN: Hyponatremia 2 (a low value needs no ULN) -> ATOXGR 2."""
    out = grade_labs(
        _lb(
            [("S1", "GLUC", 15.0, "mmol/L", 3.9, 6.1), ("S1", "SODIUM", 128.0, "mmol/L", 135, None)]
        )
    )
    assert out["ATOXGRL"].to_list() == [0, 2]
    assert out["ATOXGRH"].to_list() == [None, None]
    assert out["ATOXGR"].to_list() == [None, 2]


def test_default_ranges_only_when_asked() -> None:
    lb = _lb([("S1", "PLT", 60.0, "10^9/L", None, None), ("S1", "PLT", 60.0, "10^9/L", 50, 400)])
    assert grade_labs(lb)["ATOXGR"].to_list() == [None, 0]
    ranges = pl.DataFrame(
        {
            "LBTESTCD": ["PLT"],
            "LBSTNRLO": [150000.0],
            "LBSTNRHI": [400000.0],
            "LBSTRESU": ["/uL"],
            "SOURCE": ["site laboratory manual 2024, table 3"],
        }
    )
    out = grade_labs(lb, default_ranges=ranges)
    assert out["ATOXGR"].to_list() == [2, 0]  # the row's own range wins where it has one
    assert out["ATOXRNGF"].to_list() == ["DEFAULT (site laboratory manual 2024, table 3)", None]
    with pytest.raises(InputError, match="SOURCE"):
        grade_labs(lb, default_ranges=ranges.drop("SOURCE"))


def test_baseline_from_the_flag() -> None:
    """CTCAE v5.0 ALT with abnormal baseline (LBBLFL = Y, 60 U/L > ULN 40): 100 U/L is
    1.67 x baseline -> grade 1, though 2.5 x ULN; the baseline row itself is graded vs ULN."""
    lb = _lb(
        [("S1", "ALT", 60.0, "U/L", 0, 40), ("S1", "ALT", 100.0, "U/L", 0, 40)],
        LBBLFL=["Y", None],
    )
    out = grade_labs(lb)
    assert out["ATOXGR"].to_list() == [1, 1]
    assert out["ATOXBASE"].to_list() == [60.0, 60.0]
    lb2 = lb.with_columns(pl.Series("LBSTRESN", [60.0, 89.0]))
    assert grade_labs(lb2)["ATOXGR"].to_list() == [1, 0]  # 89 < 1.5 x 60


def test_two_baselines_are_reported() -> None:
    lb = _lb(
        [("S1", "ALT", 60.0, "U/L", 0, 40), ("S1", "ALT", 70.0, "U/L", 0, 40)],
        LBBLFL=["Y", "Y"],
    )
    with pytest.raises(InputError, match=r"2 rows flagged as baseline for ALT") as err:
        grade_labs(lb)
    assert "subject S1" in str(err.value)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="LB lacks column"):
        grade_labs(pl.DataFrame({"USUBJID": ["S1"], "LBTESTCD": ["ALT"]}))
    with pytest.raises(InputError, match="unknown CTCAE version"):
        grade_labs(_lb([("S1", "ALT", 30.0, "U/L", 0, 40)]), "3.0")
    text = _lb([("S1", "ALT", 30.0, "U/L", 0, 40)]).with_columns(
        pl.Series("LBSTRESN", ["<5"], dtype=pl.String)
    )
    out = grade_labs(text)
    assert out["ATOXGR"][0] is None and out["ATOXGRRSN"][0] == "LBSTRESN is not a number"


def test_pandas_input() -> None:
    df = pd.DataFrame(
        {
            "USUBJID": ["S1"],
            "LBTESTCD": ["K"],
            "LBSTRESN": [6.5],
            "LBSTRESU": ["mmol/L"],
            "LBSTNRLO": [3.5],
            "LBSTNRHI": [5.1],
        }
    )
    assert grade_labs(df)["ATOXGR"].to_list() == [3]  # Hyperkalemia >6.0 - 7.0 mmol/L


def test_unknown_term_suggests_the_nearest() -> None:
    with pytest.raises(InputError, match="did you mean 'Platelet count decreased'"):
        find_ctcae_term("Platelet count decrease")
    with pytest.raises(InputError, match="Hyponatremia"):
        grade_lab("hyponatraemia", 120, lln=135, uln=145)
    with pytest.raises(InputError, match="names 2 CTCAE terms"):
        grade_lab("LYM", 0.1, lln=1, uln=3.5)
    assert [t.term for t in find_ctcae_term("lym")] == [
        "Lymphocyte count decreased",
        "Lymphocyte count increased",
    ]


@pytest.mark.parametrize("version", ["5.0", "4.03"])
def test_criteria_files_cover_the_listed_analytes(version: str) -> None:
    crit = ctcae_criteria(version)
    codes = set(crit["lbtestcd"])
    assert codes >= {
        "ALT", "AST", "ALP", "GGT", "BILI", "CREAT", "ALB", "PLT", "NEUT", "LYM", "WBC", "HGB",
        "INR", "LIPASE", "AMYLASE", "SODIUM", "K", "CA", "GLUC", "MG",
    }  # fmt: skip
    assert crit["document"].str.contains(f"v{version}").all()
    assert crit.filter(pl.col("criterion").is_null()).height == 0
    assert len(ctcae_terms(version)) == 28  # 20 tests, 8 with a low and a high term
    assert ctcae_criteria(version, ["PLT"]).height == 4


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 5000, allow_nan=False), min_size=2, max_size=30),
    uln=st.floats(10, 100),
    base=st.one_of(st.none(), st.floats(1, 400)),
    version=st.sampled_from(["5.0", "4.03"]),
)
def test_higher_alt_never_gives_a_lower_grade(
    values: list[float], uln: float, base: float | None, version: str
) -> None:
    """For one subject, ULN and baseline, the ALT grade is monotone in the ALT value."""
    ordered = sorted(values)
    lb = _lb([("S1", "ALT", v, "U/L", 0.0, uln) for v in ordered], BASE=[base] * len(ordered))
    grades = grade_labs(lb.with_columns(pl.col("BASE").cast(F)), version)["ATOXGR"].to_list()
    assert all(g is not None for g in grades)
    assert grades == sorted(grades)


def test_misspelt_test_code_is_reported_with_the_nearest_code() -> None:
    """``ALTT`` is close to ALT and listed as a problem naming it; ``AFP`` has no CTCAE lab
    criteria and is simply not graded (not a problem)."""
    lb = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1"],
            "LBTESTCD": ["ALTT", "AFP", "PLT"],
            "LBSTRESN": [100.0, 5.0, 80.0],
            "LBSTRESU": ["U/L", "ug/L", "10^9/L"],
            "LBSTNRLO": [0.0, 0.0, 150.0],
            "LBSTNRHI": [40.0, 10.0, 400.0],
        }
    )
    graded = grade_labs(lb)
    assert graded["ATOXGR"].to_list() == [None, None, 1]  # PLT 80: <LLN - 75.0, grade 1
    problems = lab_grading_problems(graded)
    assert problems["ROW"].to_list() == [1]
    assert "did you mean 'ALT'?" in problems["MESSAGE"][0]
