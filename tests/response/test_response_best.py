"""Best overall response (BOR) and confirmed BOR (CBOR).

Two independent sources of cases:

- RECIST 1.1 (Eisenhauer et al. 2009) Table 3, "best overall response when confirmation of
  CR and PR required", and section 4.4.3 (assessments after PD not used);
- the documented example of pharmaverse admiralonco ``derive_param_confirmed_bor`` (nine
  subjects, reference start TRTSDT, ``ref_start_window = 28``, ``ref_confirm = 28``), restated
  here as data with the result each documented rule gives, worked out by hand in comments.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.response import derive_best_overall_response


def _adrs(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "USUBJID": [r[0] for r in rows],
            "PARAMCD": "OVR",
            "ADT": [dt.date.fromisoformat(r[1]) for r in rows],
            "AVALC": [r[2] for r in rows],
        },
        schema={"USUBJID": pl.Utf8, "PARAMCD": pl.Utf8, "ADT": pl.Date, "AVALC": pl.Utf8},
    )


def _ref(pairs: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"USUBJID": list(pairs), "TRTSDT": [dt.date.fromisoformat(v) for v in pairs.values()]}
    )


def _result(res, paramcd: str) -> dict[str, tuple[str, str | None]]:
    sub = res.adrs.filter(pl.col("PARAMCD") == paramcd)
    return {
        r["USUBJID"]: (r["AVALC"], None if r["ADT"] is None else str(r["ADT"]))
        for r in sub.iter_rows(named=True)
    }


# admiralonco derive_param_confirmed_bor documented example (restated).
ADMIRAL_REF = {
    "1": "2020-01-01",
    "2": "2019-12-12",
    "3": "2019-11-11",
    "4": "2019-12-30",
    "5": "2020-01-01",
    "6": "2020-02-02",
    "7": "2020-02-02",
    "8": "2020-04-01",
    "9": "2020-03-01",
}
ADMIRAL_OVR = [
    ("1", "2020-01-01", "PR"),
    ("1", "2020-02-01", "CR"),
    ("1", "2020-02-16", "NE"),
    ("1", "2020-03-01", "CR"),
    ("1", "2020-04-01", "SD"),
    ("2", "2020-01-01", "SD"),
    ("2", "2020-02-01", "PR"),
    ("2", "2020-03-01", "SD"),
    ("2", "2020-03-13", "CR"),
    ("3", "2019-11-12", "CR"),
    ("3", "2019-12-02", "CR"),
    ("3", "2020-01-01", "SD"),
    ("4", "2020-01-01", "PR"),
    ("4", "2020-03-01", "SD"),
    ("4", "2020-04-01", "SD"),
    ("4", "2020-05-01", "PR"),
    ("4", "2020-05-15", "NON-CR/NON-PD"),
    ("5", "2020-01-01", "PR"),
    ("5", "2020-01-10", "SD"),
    ("5", "2020-01-20", "PR"),
    ("5", "2020-05-15", "NON-CR/NON-PD"),
    ("6", "2020-02-06", "PR"),
    ("6", "2020-02-16", "CR"),
    ("6", "2020-03-30", "PR"),
    ("6", "2020-04-12", "PD"),
    ("6", "2020-05-01", "CR"),
    ("6", "2020-06-01", "CR"),
    ("7", "2020-02-06", "PR"),
    ("7", "2020-02-16", "CR"),
    ("7", "2020-04-01", "NE"),
    ("9", "2020-03-16", "CR"),
    ("9", "2020-04-01", "NE"),
    ("9", "2020-04-16", "NE"),
    ("9", "2020-05-01", "CR"),
]

ADMIRAL_CBOR_DEFAULT = {
    # CR 02-01 confirmed by CR 03-01 (29 days >= 28) with one NE between (<= 1).
    "1": ("CR", "2020-02-01"),
    # PR 02-01: confirming CR 03-13 but an SD between (not accepted): SD; the first SD-eligible
    # assessment (>= 12-12 + 28 = 2020-01-09) is the PR of 02-01.
    "2": ("SD", "2020-02-01"),
    # CR 11-12 / 12-02 only 20 days apart: unconfirmed; SD window opens 12-09: SD 01-01.
    "3": ("SD", "2020-01-01"),
    # PR 01-01 confirmed only after two SDs: no; SD window opens 01-27: SD 03-01.
    "4": ("SD", "2020-03-01"),
    # PR 01-01 / 01-20 only 19 days apart; nothing SD-eligible but NON-CR/NON-PD on 05-15.
    "5": ("NON-CR/NON-PD", "2020-05-15"),
    # Up to PD (04-12) only: PR 02-06 -> PR 03-30 has a CR before a PR: no; SD window 03-01:
    # the PR of 03-30 counts as SD. The CRs after PD are not used.
    "6": ("SD", "2020-03-30"),
    # Both responses before the SD window (03-01) and unconfirmed; then NE: NE, first date.
    "7": ("NE", "2020-02-06"),
    # No assessment at all: NE (admiralonco says MISSING; hcctrial reports NE with a reason).
    "8": ("NE", None),
    # CR 03-16 -> CR 05-01 has two NEs between (> 1): unconfirmed; SD from 03-29: CR 05-01.
    "9": ("SD", "2020-05-01"),
}


def test_admiralonco_documented_cbor_example():
    res = derive_best_overall_response(
        _adrs(ADMIRAL_OVR), _ref(ADMIRAL_REF), confirm_days=28, sd_min_days=28
    )
    assert _result(res, "CBOR") == ADMIRAL_CBOR_DEFAULT


def test_admiralonco_documented_cbor_example_accept_sd_two_ne():
    # accept_sd=TRUE, max_nr_ne=2: subject 2 PR (one SD accepted), subject 9 CR (two NEs).
    res = derive_best_overall_response(
        _adrs(ADMIRAL_OVR),
        _ref(ADMIRAL_REF),
        confirm_days=28,
        sd_min_days=28,
        max_ne_between=2,
        accept_sd=True,
    )
    got = _result(res, "CBOR")
    assert got["2"] == ("PR", "2020-02-01")
    assert got["9"] == ("CR", "2020-03-16")
    assert got["1"] == ("CR", "2020-02-01")
    assert got["6"] == ("SD", "2020-03-30")


def test_admiralonco_unconfirmed_bor():
    # derive_param_bor rules: CR > PR > SD (window) > NON-CR/NON-PD > PD > NE, first date.
    res = derive_best_overall_response(_adrs(ADMIRAL_OVR), _ref(ADMIRAL_REF), sd_min_days=28)
    got = _result(res, "BOR")
    assert got["1"] == ("CR", "2020-02-01")
    assert got["2"] == ("CR", "2020-03-13")
    assert got["4"] == ("PR", "2020-01-01")
    assert got["5"] == ("PR", "2020-01-01")
    assert got["6"] == ("CR", "2020-02-16")  # CRs after the PD of 04-12 are not used
    assert got["8"] == ("NE", None)


# RECIST 1.1 Table 3 (first timepoint, subsequent timepoint) -> best overall response, with
# the SD minimum duration met (dates day 56 and 112 with a 42-day minimum) or not met (day 14
# and 70 with a 42-day minimum, i.e. the first is too early for SD and the second is what it is).
TABLE_3 = [
    # (first, second, BOR with SD duration met, BOR with SD duration not met)
    ("CR", "CR", "CR", "CR"),
    ("CR", "PD", "SD", "PD"),
    ("CR", "NE", "SD", "NE"),
    ("PR", "CR", "PR", "PR"),
    ("PR", "PR", "PR", "PR"),
    ("PR", "SD", "SD", "SD"),
    ("PR", "PD", "SD", "PD"),
    ("PR", "NE", "SD", "NE"),
    ("NE", "NE", "NE", "NE"),
]


@pytest.mark.parametrize("row", TABLE_3, ids=lambda r: f"{r[0]}-{r[1]}")
def test_recist_table_3_confirmation(row):
    first, second, met, not_met = row
    ref = _ref({"S": "2024-01-01"})
    for day1, day2, expected in ((56, 112, met), (14, 70, not_met)):
        d1 = str(dt.date(2024, 1, 1) + dt.timedelta(days=day1))
        d2 = str(dt.date(2024, 1, 1) + dt.timedelta(days=day2))
        res = derive_best_overall_response(
            _adrs([("S", d1, first), ("S", d2, second)]), ref, confirm_days=28, sd_min_days=42
        )
        assert _result(res, "CBOR")["S"][0] == expected, (day1, day2)


def test_confirmation_interval_is_a_parameter():
    # PR day 56, PR day 84 (28 days later): confirmed with 28, not with 35 (then SD).
    rows = [("S", "2024-02-26", "PR"), ("S", "2024-03-25", "PR")]
    ref = _ref({"S": "2024-01-01"})
    assert (
        _result(derive_best_overall_response(_adrs(rows), ref, confirm_days=28), "CBOR")["S"][0]
        == "PR"
    )
    assert (
        _result(derive_best_overall_response(_adrs(rows), ref, confirm_days=35), "CBOR")["S"][0]
        == "SD"
    )


def test_assessments_after_new_anticancer_therapy_not_used():
    rows = [("S", "2024-02-26", "SD"), ("S", "2024-04-22", "PR"), ("S", "2024-05-20", "PR")]
    nact = pl.DataFrame({"USUBJID": ["S"], "NACTDT": [dt.date(2024, 3, 1)]})
    res = derive_best_overall_response(
        _adrs(rows), _ref({"S": "2024-01-01"}), anticancer_start=nact
    )
    assert _result(res, "BOR")["S"][0] == "SD"
    used = res.adrs.filter(pl.col("PARAMCD") == "OVR")["ANL01FL"].to_list()
    assert used == ["Y", None, None]


def test_no_reference_start_uses_baseline_date_and_reports_missing():
    rows = _adrs([("S", "2024-03-01", "SD")]).with_columns(BASEDT=pl.lit(dt.date(2024, 1, 1)))
    res = derive_best_overall_response(rows, None, sd_min_days=42)
    assert _result(res, "BOR")["S"][0] == "SD"
    res2 = derive_best_overall_response(_adrs([("S", "2024-03-01", "SD")]), None)
    assert _result(res2, "BOR")["S"][0] == "NE"
    assert "reference start" in res2.problems["CHECK"].to_list()


def test_unknown_response_value_reported_not_used():
    res = derive_best_overall_response(
        _adrs([("S", "2024-03-01", "GOOD")]), _ref({"S": "2024-01-01"})
    )
    assert _result(res, "BOR")["S"] == ("NE", None)
    assert res.problems.filter(pl.col("CHECK") == "overall response")["VALUE"].to_list() == ["GOOD"]


def test_bad_parameters_raise_input_error():
    with pytest.raises(InputError):
        derive_best_overall_response(_adrs([("S", "2024-03-01", "SD")]), confirm_days=-1)
    with pytest.raises(InputError):
        derive_best_overall_response(pl.DataFrame({"USUBJID": ["S"]}))
