"""Schedules that cannot be built, and bad subject input: clear InputError, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from hcctrial.errors import InputError, InputErrors
from hcctrial.protocol import Protocol
from hcctrial.schedule import build_calendar, build_calendars

START = "2026-01-05"
Variant = Callable[[Callable[[dict[str, Any]], None]], Protocol]


def test_overlapping_cycles(variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schedule"]["events"][1]["weeks"] = [1, 3, 5]  # 14 days apart, cycle length 28

    with pytest.raises(InputError, match="overlapping cycles") as info:
        build_calendar(variant(edit), None, START)
    assert info.value.problem.column == "interventions[1].cycle_length_days"


def test_same_day_twice(variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schedule"]["events"].append(
            {
                "id": "extra",
                "what": "intervention",
                "intervention": "car-t",
                "label": "X",
                "days": [35],
            }
        )

    with pytest.raises(InputError, match="planned twice on day 35"):
        build_calendar(variant(edit), None, START)


def test_overlapping_courses(inkt: Protocol, variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["interventions"][1].update(
            cycle_length_days=7, dose={"value": 1e8, "unit": "cells"}, cycles=4
        )
        d["interventions"].append(
            {
                "id": "il2",
                "name": "IL-2",
                "kind": "drug",
                "dose": {"value": 25000, "unit": "IU/kg/day"},
                "duration_days": {"low": 5, "high": 14},
                "follows": "car-t",
            }
        )
        d["arms"][0]["interventions"].append("il2")
        d["schedule"]["events"][1]["weeks"] = [1, 2, 3, 4]

    with pytest.raises(InputError, match="overlapping courses: IL-2 from day 8 lasts up to 14"):
        build_calendar(variant(edit), None, START, 170, 70)


def test_cycles_disagree_with_schedule(variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["interventions"][1]["cycles"] = 4

    with pytest.raises(InputError, match=r"plans 3 cycle\(s\) of CAR-T cells but .* cycles: 4"):
        build_calendar(variant(edit), None, START)


def test_dose_basis_without_measurements(inkt: Protocol) -> None:
    with pytest.raises(InputErrors) as info:
        build_calendar(inkt, "inkt-tace", START)
    text = str(info.value)
    assert "iNKT cells is in cells/m2 but height and weight are not given" in text
    assert "IL-2 is in IU/kg/day but the weight is not given" in text
    # weight alone is enough for IU/kg/day but not for cells/m2
    with pytest.raises(InputErrors, match="iNKT cells") as info:
        build_calendar(inkt, "inkt-tace", START, weight_kg=70)
    assert "IL-2" not in str(info.value)


def test_unknown_anchor(variant: Variant) -> None:
    def no_tace(d: dict[str, Any]) -> None:
        d["schedule"]["anchor"]["event"] = "first-tace"
        d["arms"][0]["interventions"] = ["car-t"]
        d["schedule"]["events"].pop(0)

    with pytest.raises(InputError, match="unknown anchor: day 0 is the first-tace") as info:
        build_calendar(variant(no_tace), None, START)
    assert info.value.problem.column == "schedule.anchor.event"

    def late(d: dict[str, Any]) -> None:
        d["schedule"]["anchor"]["event"] = "first-infusion"

    with pytest.raises(InputError, match=r"first cell infusion .* planned 7 days from the anchor"):
        build_calendar(variant(late), None, START)


def test_after_loop(variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schedule"]["events"] += [
            {"id": "a", "what": "lab", "label": "A", "days": [1], "after": "b"},
            {"id": "b", "what": "lab", "label": "B", "days": [1], "after": "a"},
        ]

    with pytest.raises(InputError, match="loop") as info:
        build_calendar(variant(edit), None, START)
    assert "a -> b -> a" in str(info.value)


def test_day_zero_with_day1_numbering(variant: Variant) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schedule"]["anchor"]["day_numbering"] = "day1"

    with pytest.raises(InputError, match="day 0 does not exist"):
        build_calendar(variant(edit), None, START)


def test_arm_choice(inkt: Protocol) -> None:
    with pytest.raises(InputError, match="several arms; choose one") as info:
        build_calendar(inkt, None, START)
    assert "inkt-tace or tace" in str(info.value)
    with pytest.raises(InputError, match="unknown arm"):
        build_calendar(inkt, "placebo", START)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_date": "05/01/2026"}, "start date is not a date"),
        ({"start_date": START, "height_cm": "tall"}, "height is not a number"),
        ({"start_date": START, "height_cm": 17, "weight_kg": 70}, "HEIGHTBL out of range"),
        ({"start_date": START, "horizon_days": -1}, "horizon"),
        ({"start_date": START, "dose_level": "DL9"}, "unknown dose level"),
    ],
)
def test_bad_arguments(minimal: Protocol, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_calendar(minimal, None, **kwargs)


def test_subject_table_problems_name_each_subject(inkt: Protocol) -> None:
    subjects = pl.DataFrame(
        {
            "USUBJID": ["S1", "S2", "S3"],
            "ARM": ["inkt-tace", "nope", "tace"],
            "ANCHORDT": ["2026-01-05", "2026-02-30", "2026-01-07"],
            "HEIGHTBL": [170.0, 165.0, 400.0],
            "WEIGHTBL": [70.0, 60.0, 80.0],
        }
    )
    with pytest.raises(InputErrors) as info:
        build_calendars(inkt, subjects)
    problems = {(p.subject, p.column) for p in info.value.problems}
    assert problems == {("S2", "ANCHORDT"), ("S2", "ARM"), ("S3", "HEIGHTBL")}
    with pytest.raises(InputError, match="lacks a column"):
        build_calendars(inkt, subjects.drop("ANCHORDT"))
