"""build_calendar: dates, windows, repeats, anchors and doses against hand-computed values.

Dates are counted by hand from a Monday anchor (2026-01-05): week 8 = day 56 = 2026-03-02.
Doses: Mosteller BSA = sqrt(170 x 70 / 3600) = sqrt(3.305556) = 1.818119 m2 (Mosteller RD,
N Engl J Med 1987;317:1098), so 5e8 cells/m2 -> 9.0906e8 cells; IL-2 25,000 IU/kg/day x 70 kg
= 1,750,000 IU/day (NCT04011033 record, seeds/003).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from hcctrial.clinical import calculate_dose
from hcctrial.protocol import Protocol
from hcctrial.schedule import CALENDAR_COLUMNS, build_calendar, default_horizon_days

START = dt.date(2026, 1, 5)


def _days(cal: pl.DataFrame, event: str) -> list[int]:
    return cal.filter(pl.col("EVENTID") == event)["DAY"].to_list()


def test_minimal_dates_windows_and_repeat(minimal: Protocol) -> None:
    cal = build_calendar(minimal, None, START, 170, 70)
    assert cal.columns == list(CALENDAR_COLUMNS)
    # horizon: 24 months x 30.4375 = 730.5 -> 730 days; every 12 weeks from week 36
    assert default_horizon_days(minimal) == 730
    assert _days(cal, "ct") == [0, 56, 112, 168, 252, 336, 420, 504, 588, 672]
    assert _days(cal, "infusion") == [7, 35, 63]
    week8 = cal.filter((pl.col("EVENTID") == "ct") & (pl.col("DAY") == 56)).row(0, named=True)
    assert week8["VISIT"] == "Week 8"
    assert week8["PLANDT"] == dt.date(2026, 3, 2)
    assert week8["WINLODT"] == dt.date(2026, 2, 23)
    assert week8["WINHIDT"] == dt.date(2026, 3, 9)
    assert week8["VISITDY"] == 57  # SDTM study day: anchor is day 1, no day 0
    assert week8["KIND"] == "assessment"
    first = cal.row(0, named=True)
    assert (first["EVENTID"], first["KIND"], first["VISITNUM"], first["VISIT"]) == (
        "tace",
        "procedure",
        1,
        "Day 0",
    )
    assert cal["USUBJID"].null_count() == cal.height
    infusion = cal.filter(pl.col("EVENTID") == "infusion")
    assert infusion["CYCLE"].to_list() == [1, 2, 3]
    assert infusion["EXDOSE"].to_list() == [1e8, 1e8, 1e8]
    assert infusion["DOSECALC"][0] == "flat 1e8 cells"


def test_visitnum_groups_events_of_one_day(minimal: Protocol) -> None:
    cal = build_calendar(minimal, None, START, 170, 70)
    per_day = cal.group_by("VISITNUM").agg(pl.col("DAY").n_unique().alias("n"))
    assert per_day["n"].max() == 1
    assert cal["VISITNUM"].is_sorted()


def test_horizon_cuts_repeats(minimal: Protocol) -> None:
    cal = build_calendar(minimal, None, START, horizon_days=200)
    assert _days(cal, "ct") == [0, 56, 112, 168]
    assert cal["DAY"].max() <= 200


def test_inkt_calendar_and_doses(inkt: Protocol) -> None:
    cal = build_calendar(inkt, "inkt-tace", START, 170, 70, usubjid="S-001")
    assert _days(cal, "tace") == [0, 28]
    assert _days(cal, "inkt") == [7, 21, 35, 49, 63, 77]
    # IL-2 starts the day after each infusion and lasts 5 to 14 days
    il2 = cal.filter(pl.col("EVENTID") == "il2")
    assert il2["DAY"].to_list() == [8, 22, 36, 50, 64, 78]
    assert il2["CYCLE"].to_list() == [1, 2, 3, 4, 5, 6]
    assert il2["ENDLODT"][0] == dt.date(2026, 1, 17)  # day 8 + 4
    assert il2["ENDHIDT"][0] == dt.date(2026, 1, 26)  # day 8 + 13
    assert il2["EXDOSE"][0] == pytest.approx(1_750_000)
    assert il2["EXDOSU"][0] == "IU/day"
    assert il2["DOSECALC"][0] == "25,000 IU/kg/day x weight 70 kg = 1,750,000 IU/day"
    cells = cal.filter(pl.col("EVENTID") == "inkt").row(0, named=True)
    bsa = (170 * 70 / 3600) ** 0.5
    assert cells["BSA"] == pytest.approx(1.818119, abs=1e-6)
    assert cells["EXDOSE"] == pytest.approx(5e8 * bsa)
    assert cells["EXDOSEHI"] == pytest.approx(1e9 * bsa)
    # the shared clinical dose calculation gives the same amounts
    assert cells["EXDOSE"] == pytest.approx(
        calculate_dose(5e8, "cells/m2", height_cm=170, weight_kg=70).amount
    )
    assert cells["DOSECALC"].startswith("5e8-1e9 cells/m2 x BSA 1.818 m2 (Mosteller")
    assert cells["DOSEBASIS"] == "per-m2"
    # baseline, weeks 8, 16, 24 then every 12 weeks to 12 months (365 days)
    assert _days(cal, "ct") == [0, 56, 112, 168, 252, 336]
    # AE review every 2 weeks from week 1 to the last planned treatment (IL-2 day 78)
    assert _days(cal, "ae") == [7, 21, 35, 49, 63, 77]
    assert set(cal["KIND"]) == {"procedure", "infusion", "drug", "assessment", "lab", "AE review"}
    assert cal["USUBJID"].unique().to_list() == ["S-001"]


def test_control_arm_has_no_cell_product(inkt: Protocol) -> None:
    cal = build_calendar(inkt, "TACE alone", START)  # by label; no body size needed
    assert set(cal["EVENTID"]) == {"tace", "ct", "labs", "ae"}
    # AE review every 2 weeks from week 1 to the last planned treatment: TACE on day 28
    assert _days(cal, "ae") == [7, 21]
    assert cal["EXDOSE"].null_count() == cal.height


def test_consecutive_days_cycles(variant: Callable[..., Protocol]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["interventions"][1].update(consecutive_days=2, cycle_length_days=28, cycles=3)
        d["interventions"][1]["dose"] = {"value": 2e9, "unit": "cells"}

    cal = build_calendar(variant(edit), None, START)
    nk = cal.filter(pl.col("EVENTID") == "infusion")
    assert nk["DAY"].to_list() == [7, 8, 35, 36, 63, 64]
    assert nk["CYCLE"].to_list() == [1, 1, 2, 2, 3, 3]
    assert nk["CYCLEDAY"].to_list() == [1, 2, 1, 2, 1, 2]
    assert nk["OCCURRENCE"].to_list() == [1, 2, 3, 4, 5, 6]


def test_day1_numbering_and_months(variant: Callable[..., Protocol]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schedule"]["anchor"]["day_numbering"] = "day1"
        d["schedule"]["events"][0]["days"] = [1]
        d["schedule"]["events"][2] = {
            "id": "ct",
            "what": "tumour-assessment",
            "label": "CT",
            "months": [3],
            "repeat": {"every_months": 3, "count": 2},
        }

    cal = build_calendar(variant(edit), None, START)
    tace = cal.filter(pl.col("EVENTID") == "tace").row(0, named=True)
    assert (tace["DAY"], tace["VISITDY"], tace["PLANDT"], tace["VISIT"]) == (1, 1, START, "Day 1")
    # months of 30.4375 days: 3 -> 91.3 -> 91; then 182.6 -> 183, 273.9 -> 274
    ct = cal.filter(pl.col("EVENTID") == "ct")
    assert ct["PLANDT"].to_list() == [START + dt.timedelta(days=d) for d in (91, 183, 274)]
    assert ct["DAY"].to_list() == [92, 184, 275]


def test_start_date_as_text_and_datetime(minimal: Protocol) -> None:
    a = build_calendar(minimal, None, "2026-01-05")
    b = build_calendar(minimal, None, dt.datetime(2026, 1, 5, 9, 30))
    assert a.equals(b)


def test_consecutive_days_listed_explicitly(variant: Callable[..., Protocol]) -> None:
    """Days already written as runs (NCT04162158: 'two consecutive days', days 15, 16, 43, 44,
    71, 72) are cycles as written, not expanded again."""

    def edit(d: dict[str, Any]) -> None:
        d["interventions"][1].update(consecutive_days=2, cycle_length_days=28, cycles=3)
        event = d["schedule"]["events"][1]
        event.pop("weeks")
        event["days"] = [15, 16, 43, 44, 71, 72]

    cal = build_calendar(variant(edit), None, START)
    nk = cal.filter(pl.col("EVENTID") == "infusion")
    assert nk["DAY"].to_list() == [15, 16, 43, 44, 71, 72]
    assert nk["CYCLE"].to_list() == [1, 1, 2, 2, 3, 3]
    assert nk["CYCLEDAY"].to_list() == [1, 2, 1, 2, 1, 2]


def _targeted(d: dict[str, Any]) -> None:
    for drug, mg in (("sorafenib", 800), ("lenvatinib", 12)):
        d["interventions"].append(
            {
                "id": drug,
                "name": drug.title(),
                "kind": "drug",
                "dose": {"value": mg, "unit": "mg/day", "per": "day"},
                "choice_group": "targeted",
            }
        )
        d["schedule"]["events"].append(
            {
                "id": drug,
                "what": "intervention",
                "intervention": drug,
                "label": f"{drug} daily",
                "repeat": {"every_days": 1, "start_day": 0, "until": "progression"},
            }
        )
    d["arms"][0]["interventions"] += ["sorafenib", "lenvatinib"]


def test_choice_group_and_continuous_daily_drug(variant: Callable[..., Protocol]) -> None:
    protocol = variant(_targeted)
    cal = build_calendar(protocol, None, START, horizon_days=100)
    drug = cal.filter(pl.col("KIND") == "drug")
    # the first alternative by default; a daily drug is one course row through the horizon
    assert drug.select("EVENTID", "DAY", "DURMIN", "DURMAX", "ENDHIDT", "DOSECALC").rows() == [
        ("sorafenib", 0, 101, 101, START + dt.timedelta(days=100), "flat 800 mg/day")
    ]
    cal = build_calendar(protocol, None, START, horizon_days=100, choices=["lenvatinib"])
    assert cal.filter(pl.col("KIND") == "drug")["EVENTID"].to_list() == ["lenvatinib"]
    from hcctrial.errors import InputError

    with pytest.raises(InputError, match="not an alternative of a choice group"):
        build_calendar(protocol, None, START, choices=["car-t"])
    with pytest.raises(InputError, match="two alternatives"):
        build_calendar(protocol, None, START, choices=["lenvatinib", "sorafenib"])


@pytest.mark.parametrize(
    ("weight", "text"),
    [
        (0.5, "12,500 IU/day"),  # 25,000 x 0.5
        (35.0, "875,000 IU/day"),
        (70.0, "1,750,000 IU/day"),
        (400.0, "1e7 IU/day"),  # 10^7 and up in scientific form, as format_amount
    ],
)
def test_amount_text_matches_clinical_format(
    variant: Callable[..., Protocol], weight: float, text: str
) -> None:
    from hcctrial.clinical.dose import format_amount

    def edit(d: dict[str, Any]) -> None:
        d["interventions"][1]["dose"] = {"value": 25000, "unit": "IU/kg/day"}

    cal = build_calendar(variant(edit), None, START, weight_kg=weight)
    calc = cal.filter(pl.col("EVENTID") == "infusion")["DOSECALC"][0]
    assert calc.endswith("= " + text)
    assert text.startswith(format_amount(25000 * weight))
