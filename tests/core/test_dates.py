"""ISO 8601 partial dates and their imputation (hcctrial.dates).

Rules follow ADaM IG v1.3 date imputation flags (D = day imputed, M = month and day imputed)
and the conventions of admiral's derive_vars_dt (highest_imputation, date_imputation
"first"/"mid"/"last"), restated here as hand-computed cases.
"""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given

from hcctrial.dates import derive_date
from hcctrial.errors import InputErrors

CASES = [
    # (text, rule, expected date, expected flag)
    ("2019-03-14", "first", dt.date(2019, 3, 14), None),
    ("2019-03-14T08:30", "first", dt.date(2019, 3, 14), None),
    ("2019-03-14T08:30:00+08:00", "last", dt.date(2019, 3, 14), None),
    ("2019-03", "first", dt.date(2019, 3, 1), "D"),
    ("2019-03", "mid", dt.date(2019, 3, 15), "D"),
    ("2019-03", "last", dt.date(2019, 3, 31), "D"),
    ("2020-02", "last", dt.date(2020, 2, 29), "D"),  # leap year
    ("2019-02", "last", dt.date(2019, 2, 28), "D"),
    ("2019", "first", dt.date(2019, 1, 1), "M"),
    ("2019", "mid", dt.date(2019, 7, 15), "M"),
    ("2019", "last", dt.date(2019, 12, 31), "M"),
    ("2019-03", "none", None, "D"),
    ("2019", "none", None, "M"),
]


@pytest.mark.parametrize(("text", "rule", "expected", "flag"), CASES)
def test_imputation_rules(text: str, rule: str, expected: dt.date | None, flag: str | None) -> None:
    out = derive_date(pl.DataFrame({"AESTDTC": [text]}), "AESTDTC", rule=rule)  # type: ignore[arg-type]
    assert out["AESTDT"][0] == expected
    assert out["AESTDTF"][0] == flag


def test_missing_dates_stay_missing_without_flag() -> None:
    out = derive_date(pl.DataFrame({"LBDTC": [None, "", " "]}), "LBDTC")
    assert out["LBDT"].to_list() == [None, None, None]
    assert out["LBDTF"].to_list() == [None, None, None]


def test_bad_dates_are_reported_with_file_row_and_column() -> None:
    df = pl.DataFrame({"LBDTC": ["2019-01-02", "2019-02-30", "14/03/2019", "2019-13"]})
    with pytest.raises(InputErrors) as info:
        derive_date(df, "LBDTC", file="lb.csv")
    problems = info.value.problems
    assert [p.row for p in problems] == [2, 3, 4]
    assert all(p.file == "lb.csv" and p.column == "LBDTC" for p in problems)
    assert "expected YYYY" in str(info.value)
    assert "'2019-02-30'" in str(info.value)


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="imputation rule"):
        derive_date(pl.DataFrame({"LBDTC": ["2019"]}), "LBDTC", rule="random")  # type: ignore[arg-type]


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_complete_dates_round_trip(day: dt.date) -> None:
    out = derive_date(pl.DataFrame({"DSSTDTC": [day.isoformat()]}), "DSSTDTC", rule="mid")
    assert out["DSSTDT"][0] == day
    assert out["DSSTDTF"][0] is None


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_partial_month_brackets_the_true_date(day: dt.date) -> None:
    text = day.isoformat()[:7]
    df = pl.DataFrame({"X_DTC": [text]})
    first = derive_date(df, "X_DTC", dt="D", rule="first")["D"][0]
    last = derive_date(df, "X_DTC", dt="D", rule="last")["D"][0]
    assert first <= day <= last
