"""prepare_samples / first_infusion_dates / change_from_baseline on hand-built LB and EX."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.kinetics import change_from_baseline, first_infusion_dates, prepare_samples

INFUSION = dt.date(2026, 1, 12)


def _day(d: int) -> str:
    return (INFUSION + dt.timedelta(days=d)).isoformat()


@pytest.fixture
def lb() -> pl.DataFrame:
    rows = [
        # USUBJID, LBTESTCD, LBSTRESN, LBSTRESC, LBSTRESU, LBLLOQ, LBDTC
        ("S1", "CARDNA", None, "<LLOQ", "copies/ug", 50.0, _day(-2)),
        ("S1", "CARDNA", 30.0, "30", "copies/ug", 50.0, _day(1)),  # below LBLLOQ -> BLQ
        ("S1", "CARDNA", 12000.0, "12000", "copies/ug", 50.0, _day(7)),
        ("S1", "CARDNA", 11000.0, "11000", "copies/ug", 50.0, _day(7)),  # same day again
        ("S1", "CARDNA", 3000.0, "3000", "copies/ug", 50.0, _day(28)),
        ("S1", "CARDNA", 5.0, "5", "copies/mL", 50.0, _day(56)),  # other unit
        ("S1", "IL1RAP", 250.0, "250", "ng/mL", None, _day(0)),
        ("S1", "IL1RAP", 200.0, "200", "ng/mL", None, _day(27)),
        ("S1", "IL1RAP", 150.0, "150", "ng/mL", None, _day(90)),
        ("S1", "ALT", 30.0, "30", "U/L", None, _day(7)),  # not a kinetic test
        ("S2", "CARDNA", None, "", "copies/ug", None, _day(7)),  # no result
        ("S3", "CARDNA", 100.0, "100", "copies/ug", None, _day(7)),  # no infusion date
        ("S1", "CARDNA", 10.0, "10", "copies/ug", None, "2026-02"),  # partial date
    ]
    return pl.DataFrame(
        rows,
        schema=["USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESC", "LBSTRESU", "LBLLOQ", "LBDTC"],
        orient="row",
    )


@pytest.fixture
def reference() -> pl.DataFrame:
    ex = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S1", "S2"],
            "EXTRT": ["TACE", "CAR-T CELLS", "CAR-T CELLS", "CAR-T CELLS"],
            "EXCAT": ["PROCEDURE", "BIOLOGICAL", "BIOLOGICAL", "BIOLOGICAL"],
            "EXSTDTC": [_day(-7), _day(28), _day(0), _day(0)],
        }
    )
    return first_infusion_dates(ex)


def test_first_infusion_dates(reference: pl.DataFrame) -> None:
    assert reference.rows() == [("S1", INFUSION), ("S2", INFUSION)]


def test_samples_and_problems(lb: pl.DataFrame, reference: pl.DataFrame) -> None:
    out = prepare_samples(lb, reference)
    cart = out.table.filter(pl.col("PARAMCD") == "CARDNA")
    assert cart.select("ADY", "AVAL", "BLQFL").rows() == [
        (-2.0, 0.0, "Y"),
        (1.0, 0.0, "Y"),
        (7.0, 12000.0, "N"),
        (28.0, 3000.0, "N"),
    ]
    assert set(out.table["PARAMCD"]) == {"CARDNA", "IL1RAP"}
    reasons = {r["LBROW"]: r["REASON"] for r in out.problems.iter_rows(named=True)}
    assert reasons == {
        4: "a second sample on the same day (the first is used)",
        6: "unit copies/mL differs from this test's unit copies/ug",
        11: "no numeric result and not below the limit of quantitation",
        12: "no first-infusion date (TRTSDT) for this subject",
        13: "no complete sample date (LBDTC)",
    }
    # nothing dropped silently: every kinetic LB row is a sample or a problem
    assert out.table.height + out.problems.height == lb.height - 1


def test_change_from_baseline(lb: pl.DataFrame, reference: pl.DataFrame) -> None:
    samples = prepare_samples(lb, reference, tests=["IL1RAP"]).table
    out = change_from_baseline(samples, [28, 91, 365], window_days=3)
    assert out.select("AVISIT", "ADY", "AVAL", "BASE", "CHG").rows() == [
        ("Day 28", 27.0, 200.0, 250.0, -50.0),
        ("Day 91", 90.0, 150.0, 250.0, -100.0),
        ("Day 365", None, None, 250.0, None),
    ]
    assert out["PCHG"].to_list()[:2] == [pytest.approx(-20.0), pytest.approx(-40.0)]
    assert out["REASON"][2] == "no sample within 3 days of day 365"
    # BLQ baseline of 0: CHG computed, PCHG undefined
    cart = change_from_baseline(prepare_samples(lb, reference, tests=["CARDNA"]).table, [7])
    assert cart.select("BASE", "CHG", "PCHG").row(0) == (0.0, 12000.0, None)


def test_bad_input(lb: pl.DataFrame, reference: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="LB lacks columns"):
        prepare_samples(lb.drop("LBSTRESN"), reference)
    with pytest.raises(InputError, match="reference table lacks"):
        prepare_samples(lb, reference.drop("TRTSDT"))
    with pytest.raises(InputError, match="EX lacks"):
        first_infusion_dates(pl.DataFrame({"USUBJID": ["a"]}))
    samples = prepare_samples(lb, reference).table
    with pytest.raises(InputError, match="window"):
        change_from_baseline(samples, [7], window_days=-1)
    with pytest.raises(InputError, match="no timepoints"):
        change_from_baseline(samples, [])
