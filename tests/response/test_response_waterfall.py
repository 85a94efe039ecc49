"""Best % change per subject (waterfall data), by hand (RECIST 1.1 sections 4.3.1, 4.4.2-3)."""

from __future__ import annotations

import polars as pl
import pytest

from hcctrial.response import derive_best_overall_response, derive_timepoint_response
from hcctrial.response.waterfall import derive_best_change

from ._build import dates, study, subject

D = dates(5)
LIVER = ("TARGET", "LIVER")


@pytest.fixture(scope="module")
def waterfall() -> pl.DataFrame:
    tu, tr = study(
        {
            # 50 -> 34 (-32%) -> 30 (-40%) -> 38 (+26.7% and +8 mm over the nadir 30: PD)
            # -> 15 after PD (not counted): best -40% at the third scan.
            "S1": subject(
                {"T1": LIVER, "T2": LIVER},
                [
                    (1, D[0], {"T1": 30, "T2": 20}),
                    (2, D[1], {"T1": 20, "T2": 14}),
                    (3, D[2], {"T1": 18, "T2": 12}),
                    (4, D[3], {"T1": 22, "T2": 16}),
                    (5, D[4], {"T1": 10, "T2": 5}),
                ],
            ),
            # T1 never measured after baseline: every follow-up sum incomplete (4.4.2).
            "S2": subject(
                {"T1": LIVER, "T2": LIVER},
                [(1, D[0], {"T1": 30, "T2": 20}), (2, D[1], {"T2": 10})],
            ),
            # Non-target disease only: no sum at all.
            "S3": subject(
                {"N1": ("NON-TARGET", "LUNG")},
                [(1, D[0], {"N1": "PRESENT"}), (2, D[1], {"N1": "PRESENT"})],
            ),
        }
    )
    tp = derive_timepoint_response(tu, tr)
    best = derive_best_overall_response(tp.adrs)
    return derive_best_change(tp.timepoint_changes, best.adrs)


def test_best_change_until_first_pd(waterfall: pl.DataFrame) -> None:
    s1 = waterfall.filter(pl.col("USUBJID") == "S1").row(0, named=True)
    assert s1["BESTPCHG"] == pytest.approx(-40.0)
    assert (s1["BASE"], s1["BESTSUM"], s1["NTP"]) == (50.0, 30.0, 3)
    assert s1["BOR"] == "PR"


def test_subjects_without_a_value_are_kept_with_reason(waterfall: pl.DataFrame) -> None:
    assert waterfall.height == 3
    s2 = waterfall.filter(pl.col("USUBJID") == "S2").row(0, named=True)
    assert s2["BESTPCHG"] is None and "every target lesion measured" in s2["REASON"]
    s3 = waterfall.filter(pl.col("USUBJID") == "S3").row(0, named=True)
    assert s3["BESTPCHG"] is None and "no complete baseline sum" in s3["REASON"]
    # plot order: values descending, subjects without a value last
    assert waterfall["USUBJID"].to_list()[0] == "S1"
