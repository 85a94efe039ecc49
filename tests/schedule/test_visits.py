"""flag_visits: planned against actual dates, every case with a hand-computed expectation.

Minimal protocol, anchor Monday 2026-01-05: infusion week 1 = 2026-01-12 with window -2/+2
days (2026-01-10 .. 2026-01-14); CT week 8 = 2026-03-02, window +/- 7 days.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputError, InputErrors
from hcctrial.protocol import Protocol
from hcctrial.schedule import build_calendar, flag_visits


@pytest.fixture
def calendar(minimal: Protocol) -> pl.DataFrame:
    return build_calendar(minimal, None, "2026-01-05", usubjid="S1")


def _flag(out: pl.DataFrame, visitnum: int, event: str) -> dict[str, object]:
    return out.filter((pl.col("VISITNUM") == visitnum) & (pl.col("EVENTID") == event)).row(
        0, named=True
    )


def test_sv_like_records(calendar: pl.DataFrame) -> None:
    actual = pl.DataFrame(
        {
            "USUBJID": ["S1"] * 6,
            "VISITNUM": [1, 2, 3, 4, 4, 99],
            "SVSTDTC": [
                "2026-01-05",
                "2026-01-15",  # infusion planned 01-12, window closes 01-14: 1 day late
                "2026-02",  # partial date
                "2026-03-01T10:30",  # CT week 8 one day early: inside +/- 7
                "2026-03-02",  # a second record of visit 4
                "2026-05-01",  # no visit 99 planned
            ],
        }
    )
    out = flag_visits(calendar, actual)
    assert _flag(out, 1, "tace")["VISITFL"] == "DONE"
    late = _flag(out, 2, "infusion")
    assert (late["VISITFL"], late["DEVDAYS"]) == ("OUT OF WINDOW", 3)
    assert late["REASON"] == "1 day(s) after the window 2026-01-10 to 2026-01-14"
    assert _flag(out, 3, "infusion")["VISITFL"] == "DATE UNKNOWN"
    ct = _flag(out, 4, "ct")
    assert (ct["VISITFL"], ct["DEVDAYS"], ct["ACTDT"]) == ("DONE", -1, dt.date(2026, 3, 1))
    # cut-off = latest record (2026-05-01): infusion week 9 window closed 2026-03-11 -> missed
    missed = _flag(out, 5, "infusion")
    assert missed["VISITFL"] == "MISSED"
    assert missed["REASON"] == (
        "no record; the window 2026-03-07 to 2026-03-11 closed before the cut-off 2026-05-01"
    )
    # CT week 16 window 2026-04-20 .. 2026-05-04 still open on 2026-05-01
    assert _flag(out, 6, "ct")["VISITFL"] == "NOT DUE"
    extra = out.filter(pl.col("VISITFL").is_in(["UNPLANNED", "DUPLICATE"]))
    assert extra.select("VISITNUM", "VISITFL", "ACTDTC").rows() == [
        (99, "UNPLANNED", "2026-05-01"),
        (4, "DUPLICATE", "2026-03-02"),
    ]
    # nothing dropped: every planned row once, every record used or listed
    assert out.height == calendar.height + 2


def test_early_by_event_and_occurrence(calendar: pl.DataFrame) -> None:
    actual = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1"],
            "EVENTID": ["infusion", "ct"],
            "OCCURRENCE": [2, 2],
            "ADT": [dt.date(2026, 2, 5), dt.date(2026, 3, 2)],
        }
    )
    out = flag_visits(calendar, actual, as_of=dt.date(2026, 3, 31))
    early = _flag(out, 3, "infusion")  # planned 2026-02-09, window opens 2026-02-07
    assert early["VISITFL"] == "OUT OF WINDOW"
    assert early["REASON"] == "2 day(s) before the window 2026-02-07 to 2026-02-11"
    assert _flag(out, 1, "tace")["VISITFL"] == "MISSED"
    assert out.filter(pl.col("VISITFL") == "DONE").height == 1


def test_ex_like_records_by_treatment(calendar: pl.DataFrame) -> None:
    actual = pl.DataFrame(
        {"USUBJID": ["S1"], "VISITNUM": [2], "EXTRT": ["CAR-T cells"], "EXSTDTC": ["2026-01-12"]}
    )
    out = flag_visits(calendar, actual)
    assert _flag(out, 2, "infusion")["VISITFL"] == "DONE"
    # cut-off 2026-01-12: TACE window (2026-01-05 only) closed before it; the CT window closes
    # on the cut-off day itself, so it is not yet missed
    assert _flag(out, 1, "tace")["VISITFL"] == "MISSED"
    assert _flag(out, 1, "ct")["VISITFL"] == "NOT DUE"


def test_bad_input(calendar: pl.DataFrame) -> None:
    good = pl.DataFrame({"USUBJID": ["S1"], "VISITNUM": [1], "SVSTDTC": ["2026-01-05"]})
    with pytest.raises(InputError, match="no date column"):
        flag_visits(calendar, good.drop("SVSTDTC"))
    with pytest.raises(InputError, match="no visit key"):
        flag_visits(calendar, good.drop("VISITNUM"))
    with pytest.raises(InputError, match="no USUBJID"):
        flag_visits(calendar.with_columns(pl.lit(None, pl.String).alias("USUBJID")), good)
    with pytest.raises(InputErrors, match="row 1"):
        flag_visits(calendar, good.with_columns(pl.lit("5 Jan 2026").alias("SVSTDTC")))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(1, 14), st.integers(-30, 30)), max_size=12))
def test_every_planned_row_once(calendar: pl.DataFrame, records: list[tuple[int, int]]) -> None:
    plan = dict(zip(calendar["VISITNUM"], calendar["PLANDT"], strict=False))
    actual = pl.DataFrame(
        {
            "USUBJID": ["S1"] * len(records),
            "VISITNUM": [v for v, _ in records],
            "SVSTDT": [plan.get(v, dt.date(2028, 1, 1)) + dt.timedelta(days=d) for v, d in records],
        },
        schema={"USUBJID": pl.String, "VISITNUM": pl.Int64, "SVSTDT": pl.Date},
    )
    out = flag_visits(calendar, actual, as_of=dt.date(2026, 6, 1))
    planned = out.filter(pl.col("PLANDT").is_not_null())
    assert planned.height == calendar.height
    assert (
        out.height - planned.height
        == len(records)
        - actual["VISITNUM"].n_unique() * (1 if records else 0)
        + actual.filter(~pl.col("VISITNUM").is_in(calendar["VISITNUM"].to_list()))[
            "VISITNUM"
        ].n_unique()
    )
    done = planned.filter(pl.col("VISITFL") == "DONE")
    assert ((done["ACTDT"] >= done["WINLODT"]) & (done["ACTDT"] <= done["WINHIDT"])).all()
