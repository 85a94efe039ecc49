"""DCR "at m months": the protocol's scheduled assessment for that landmark, with its window.

Hand-built subjects, origin 2024-01-01 (DAY = ADT - origin). Protocol plan: scans at week 12
(day 84) and week 24 (day 168), window 7 days before. 3 months = 3 * 30.4375 = 91.3 days:
the nearest scheduled scan is day 84 (7.3 days away; day 168 is 76.7), so a non-PD response
counts from day 84 - 7 = 77. Without a schedule the rule is floor(91.3) - 7 = day 84.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from hcctrial.endpoints.adtte import EndpointOptions
from hcctrial.endpoints.summary import AnalysisOptions, landmark_assessment_day, response_rates

ORIGIN = date(2024, 1, 1)
PLAN = ((84, 7), (168, 7))
E_OPTS = EndpointOptions(assessment_interval_days=84, assessment_window_days=7)


def test_landmark_days_by_hand() -> None:
    with_plan = AnalysisOptions(assessment_schedule=PLAN)
    # 3 months: nearest scan day 84 -> from day 77
    assert landmark_assessment_day(3, with_plan, E_OPTS)[0] == 77
    # 6 months = 182.6: nearest day 168 (14.6 away) -> from day 161; the old rule
    # (182.6 - 7 = 175.6) missed an on-time week-24 scan by 7.6 days
    assert landmark_assessment_day(6, with_plan, E_OPTS)[0] == 161
    # 24 months = 730.5: the plan ends at day 168, more than one interval (84) away -> whole
    # months: floor(730.5) - 7 = 723
    assert landmark_assessment_day(24, with_plan, E_OPTS)[0] == 723
    # no plan: floor(91.3) - 7 = 84
    assert landmark_assessment_day(3, AnalysisOptions(), E_OPTS)[0] == 84


def _data() -> tuple[pl.DataFrame, pl.DataFrame]:
    # (subject, [(day, response)], best overall response)
    subjects = [
        ("P1", [(84, "SD")], "SD"),  # week-12 scan on the day: counts with and without plan
        ("P2", [(80, "SD")], "SD"),  # 4 days early, inside the window: counts with the plan
        ("P3", [(76, "SD")], "SD"),  # 8 days early, outside the window: never counts
        ("P4", [(60, "PD"), (84, "SD")], "PD"),  # SD after a PD: not disease control
        ("P5", [(84, "NE")], "NE"),  # not evaluable is not an adequate assessment
    ]
    adsl = pl.DataFrame(
        {"USUBJID": [s[0] for s in subjects], "ARM": ["A"] * len(subjects),
         "TRTSDT": [ORIGIN] * len(subjects)}
    )  # fmt: skip
    rows = []
    for sid, visits, best in subjects:
        rows += [(sid, "OVR", r, ORIGIN + timedelta(days=d)) for d, r in visits]
        rows.append((sid, "BOR", best, None))
    adrs = pl.DataFrame(
        rows,
        schema={"USUBJID": pl.Utf8, "PARAMCD": pl.Utf8, "AVALC": pl.Utf8, "ADT": pl.Date},
        orient="row",
    )
    return adrs, adsl


@pytest.mark.parametrize(
    ("plan", "expected", "first_day"),
    [
        (PLAN, 2, 77),  # P1 (day 84), P2 (day 80)
        ((), 1, 84),  # P1 only
    ],
)
def test_dcr_3m_counts_the_week_12_scan(
    plan: tuple[tuple[int, int], ...], expected: int, first_day: int
) -> None:
    adrs, adsl = _data()
    options = AnalysisOptions(dcr_months=(3.0,), assessment_schedule=plan)
    by_arm, _ = response_rates(adrs, adsl, E_OPTS, options)
    row = by_arm.filter(pl.col("STATISTIC") == "DCR_3M").row(0, named=True)
    assert (row["X"], row["N"]) == (expected, 5)
    assert f"on/after day {first_day} " in row["METHOD"]


def test_randomized_study_counts_landmark_scans_from_the_first_tace() -> None:
    """A randomized study whose visit plan's day 0 is the first TACE (10 days after
    randomization here). The week-12 window opens on TACE day 77 = randomization day 87; a scan
    on TACE day 70 (randomization day 80) is before it, although day 80 >= 77 from the
    origin."""
    rand = ORIGIN
    tace = rand + timedelta(days=10)
    adsl = pl.DataFrame(
        {
            "USUBJID": ["R1", "R2", "R3"],
            "ARM": ["A"] * 3,
            "RANDDT": [rand] * 3,
            "ANCHORDT": [tace, tace, None],  # R3 randomized, never treated: counts from origin
        }
    )
    adrs = pl.DataFrame(
        [
            ("R1", "OVR", "SD", tace + timedelta(days=70)),
            ("R2", "OVR", "SD", tace + timedelta(days=80)),
            ("R3", "OVR", "SD", rand + timedelta(days=80)),
        ]
        + [(s, "BOR", "SD", None) for s in ("R1", "R2", "R3")],
        schema={"USUBJID": pl.Utf8, "PARAMCD": pl.Utf8, "AVALC": pl.Utf8, "ADT": pl.Date},
        orient="row",
    )
    e_opts = EndpointOptions(origin="RANDDT", assessment_interval_days=84, assessment_window_days=7)
    options = AnalysisOptions(dcr_months=(3.0,), assessment_schedule=PLAN)
    row = response_rates(adrs, adsl, e_opts, options)[0].row(-1, named=True)
    assert row["STATISTIC"] == "DCR_3M"
    assert row["X"] == 2  # R2 and R3; R1's scan is 7 days before the window
    assert "on/after day 77 of the visit plan" in row["METHOD"]
    # without the anchor column the origin is day 0 and R1 would count
    row = response_rates(adrs, adsl.drop("ANCHORDT"), e_opts, options)[0].row(-1, named=True)
    assert row["X"] == 3 and "from the origin" in row["METHOD"]


def test_anchor_date_of_nct04011033_is_the_first_tace() -> None:
    """``with_origin_date`` dates the origin (NCT04011033: enrolment, from DS) and the visit
    plan's day 0 (first TACE, from EX) separately; a subject with no TACE keeps the origin."""
    from hcctrial.endpoints.protocol_options import efficacy_settings, with_origin_date
    from hcctrial.protocol import load_protocol

    settings = efficacy_settings(load_protocol("NCT04011033"))
    assert (settings.origin, settings.schedule_anchor) == ("enrolment", "first-tace")
    study = {
        "DM": pl.DataFrame({"USUBJID": ["S1", "S2"]}),
        "DS": pl.DataFrame(
            {
                "USUBJID": ["S1", "S2"],
                "DSDECOD": ["ENROLLED"] * 2,
                "DSSTDTC": ["2024-01-01", "2024-01-03"],
            }
        ),
        "EX": pl.DataFrame({"USUBJID": ["S1"], "EXTRT": ["TACE"], "EXSTDTC": ["2024-01-11"]}),
    }
    adsl = pl.DataFrame({"USUBJID": ["S1", "S2"]})
    got = with_origin_date(adsl, settings.origin, study, settings.schedule_anchor).sort("USUBJID")
    assert got["ORIGINDT"].to_list() == [date(2024, 1, 1), date(2024, 1, 3)]
    assert got["ANCHORDT"].to_list() == [date(2024, 1, 11), date(2024, 1, 3)]
