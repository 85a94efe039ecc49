"""RECIST 1.1 timepoint response: worked examples from Eisenhauer et al., Eur J Cancer
2009;45:228-247 (sections and tables cited per case).

Each case is a small hand-built subject whose expected responses are computed by hand in the
comment beside it.
"""

from __future__ import annotations

import polars as pl
import pytest

from hcctrial.response import derive_timepoint_response
from hcctrial.response.criteria import OVERALL_RESPONSE_NON_TARGET_ONLY, OVERALL_RESPONSE_TARGET

from ._build import dates, overall, study, subject, timepoints

D = dates(4)

# (case id, lesions, follow-up results per visit, expected OVRLRESP per follow-up visit)
TARGET_CASES = [
    # 4.3.1 PR: sum 50 -> 34 is -32% (>= 30% decrease from baseline).
    ("4.3.1 PR -32%", {"T1": 30, "T2": 20}, [{"T1": 20, "T2": 14}], ["PR"]),
    # 4.3.1 PR boundary: 50 -> 35 is exactly -30%: PR ("at least a 30% decrease").
    ("4.3.1 PR exactly -30%", {"T1": 30, "T2": 20}, [{"T1": 20, "T2": 15}], ["PR"]),
    # 50 -> 35.5 is -29%: SD.
    ("4.3.1 SD -29%", {"T1": 30, "T2": 20}, [{"T1": 20, "T2": 15.5}], ["SD"]),
    # 4.3.1 PD from the nadir: 50 -> 30 (PR, nadir 30) -> 36: +20% and +6 mm over the nadir,
    # although still -28% from baseline.
    (
        "4.3.1 PD from nadir",
        {"T1": 30, "T2": 20},
        [{"T1": 18, "T2": 12}, {"T1": 22, "T2": 14}],
        ["PR", "PD"],
    ),
    # 4.3.1 PD needs +5 mm: 20 -> 10 (PR) -> 14 is +40% over the nadir but only +4 mm; 14 is
    # -30% from baseline: PR.
    ("4.3.1 5 mm rule", {"T1": 20}, [{"T1": 10}, {"T1": 14}], ["PR", "PR"]),
    # 4.3.1 +20% exactly and +5 mm exactly: 25 -> 25 (SD, nadir 25) -> 30: PD.
    ("4.3.1 PD boundary", {"T1": 25}, [{"T1": 25}, {"T1": 30}], ["SD", "PD"]),
    # 4.3.1 CR: all non-nodal targets disappear.
    ("4.3.1 CR", {"T1": 30, "T2": 20}, [{"T1": 0, "T2": 0}], ["CR"]),
    # 4.3.2 nodes: node short axis 20 -> 8 (< 10 mm) with the liver lesion gone is CR even
    # though the sum is 8 mm, not 0.
    ("4.3.2 CR with nodes < 10 mm", {"T1": 30, "L1": 20}, [{"T1": 0, "L1": 8}], ["CR"]),
    # 4.3.2 node 20 -> 12 is not < 10 mm: not CR; sum 50 -> 12 is -76%: PR.
    ("4.3.2 node 12 mm not CR", {"T1": 30, "L1": 20}, [{"T1": 0, "L1": 12}], ["PR"]),
    # 4.4.2 a target not measured: NE (no PD shown by the others).
    ("4.4.2 missing target NE", {"T1": 30, "T2": 20}, [{"T1": 10}], ["NE"]),
    # 4.4.2 example: baseline 50 mm with three lesions; at follow-up two lesions give 80 mm:
    # PD regardless of the missing lesion.
    (
        "4.4.2 partial sum already PD",
        {"T1": 20, "T2": 15, "T3": 15},
        [{"T1": 50, "T2": 30}],
        ["PD"],
    ),
    # 4.3.1 after CR (nadir 0), reappearance of 5 mm is +5 mm and >= 20% of 0: PD.
    ("4.3.1 PD after CR", {"T1": 20}, [{"T1": 0}, {"T1": 5}], ["CR", "PD"]),
]


def _target_study(baseline: dict[str, float], follow: list[dict[str, float]]):
    lesions = {k: ("TARGET", "LYMPH NODE" if k.startswith("L") else "LIVER") for k in baseline}
    visits = [(1, D[0], baseline)] + [(i + 2, D[i + 1], f) for i, f in enumerate(follow)]
    return study({"S1": subject(lesions, visits)})


@pytest.mark.parametrize(
    ("case", "baseline", "follow", "expected"), TARGET_CASES, ids=[c[0] for c in TARGET_CASES]
)
def test_target_response_worked_examples(case, baseline, follow, expected):
    tu, tr = _target_study(baseline, follow)
    assert overall(tu, tr) == expected, case


def test_sum_change_and_nadir_columns():
    # 50 -> 30 -> 36: PCHG -40 then -28; nadir before visit 3 is 30: PCHGNADIR +20.
    tu, tr = _target_study({"T1": 30, "T2": 20}, [{"T1": 18, "T2": 12}, {"T1": 22, "T2": 14}])
    tp = timepoints(tu, tr).sort("VISITNUM")
    assert tp["SUMDIAM"].to_list() == [50.0, 30.0, 36.0]
    assert tp["PCHG"].to_list() == pytest.approx([0.0, -40.0, -28.0])
    assert tp["NADIR"].to_list()[1:] == [50.0, 30.0]
    assert tp["PCHGNADIR"][2] == pytest.approx(20.0)


def test_centimetres_are_converted():
    # 5 cm = 50 mm at baseline, 3.4 cm = 34 mm: -32%, PR (SI: 1 cm = 10 mm).
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LUNG")},
                [
                    (1, D[0], {"T1": {"LDIAM": (5.0, "cm")}}),
                    (2, D[1], {"T1": {"LDIAM": (3.4, "cm")}}),
                ],
            )
        }
    )
    tp = timepoints(tu, tr).sort("VISITNUM")
    assert tp["SUMDIAM"].to_list() == pytest.approx([50.0, 34.0])
    assert tp["OVRLRESP"][1] == "PR"


STATE = {"CR": "ABSENT", "NON-CR/NON-PD": "PRESENT", "PD": "UNEQUIVOCAL"}
TARGET_FOLLOW = {"CR": 0, "PR": 15, "SD": 28, "PD": 40}


def _table_subject(t: str | None, nt: str | None, new: str) -> dict:
    lesions: dict[str, tuple[str, str]] = {}
    base: dict = {}
    follow: dict = {}
    if t is not None:
        lesions["T1"] = ("TARGET", "LIVER")
        base["T1"] = 30
        if t != "NE":  # NE: the target lesion is not measured at follow-up
            follow["T1"] = TARGET_FOLLOW[t]
    if nt is not None:
        lesions["N1"] = ("NON-TARGET", "BONE")
        base["N1"] = "PRESENT"
        if nt != "NE":
            follow["N1"] = STATE[nt]
    if new == "Y":
        lesions["NEW1"] = ("NEW", "LUNG")
        follow["NEW1"] = "UNEQUIVOCAL"
    visits = [(1, D[0], base), (2, D[1], follow)]
    if not follow:
        visits[1] = (2, D[1], {"N1" if nt else "T1": None})
    return subject(lesions, visits)


@pytest.mark.parametrize("row", OVERALL_RESPONSE_TARGET, ids=lambda r: "/".join(map(str, r)))
def test_recist_table_1_target_disease(row):
    """Eisenhauer 2009 Table 1: time point response, target (+/- non-target) disease."""
    t, nt, new, expected = row
    tu, tr = study({"S1": _table_subject(t, nt, new)})
    result = timepoints(tu, tr).filter(pl.col("ABLFL").is_null())
    assert result["TRGRESP"][0] == t
    assert result["NTRGRESP"][0] == nt
    assert result["NEWLPROG"][0] == new
    assert result["OVRLRESP"][0] == expected


@pytest.mark.parametrize(
    "row", OVERALL_RESPONSE_NON_TARGET_ONLY, ids=lambda r: "/".join(map(str, r))
)
def test_recist_table_2_non_target_only(row):
    """Eisenhauer 2009 Table 2: time point response, non-target disease only."""
    nt, new, expected = row
    tu, tr = study({"S1": _table_subject(None, nt, new)})
    result = timepoints(tu, tr).filter(pl.col("ABLFL").is_null())
    assert result["TRGRESP"][0] is None
    assert result["OVRLRESP"][0] == expected


def test_equivocal_new_lesion_confirmed_later_dates_pd_back():
    """Section 4.3.4: an equivocal new lesion later confirmed: PD at the first sighting."""
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER"), "NEW1": ("NEW", "LUNG")},
                [
                    (1, D[0], {"T1": 30}),
                    (2, D[1], {"T1": 28, "NEW1": "EQUIVOCAL"}),
                    (3, D[2], {"T1": 28, "NEW1": "UNEQUIVOCAL"}),
                ],
            )
        }
    )
    assert overall(tu, tr) == ["PD", "PD"]


def test_equivocal_new_lesion_never_confirmed_is_not_pd():
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER"), "NEW1": ("NEW", "LUNG")},
                [
                    (1, D[0], {"T1": 30}),
                    (2, D[1], {"T1": 28, "NEW1": "EQUIVOCAL"}),
                    (3, D[2], {"T1": 28, "NEW1": "ABSENT"}),
                ],
            )
        }
    )
    assert overall(tu, tr) == ["SD", "SD"]


def test_rs_shape_and_testcodes():
    tu, tr = _target_study({"T1": 30, "T2": 20}, [{"T1": 20, "T2": 14}])
    res = derive_timepoint_response(tu, tr)
    assert set(res.rs["RSTESTCD"]) == {"TRGRESP", "NEWLPROG", "OVRLRESP"}
    assert res.rs.filter(pl.col("RSTESTCD") == "OVRLRESP")["RSSTRESC"].to_list() == ["PR"]
    assert res.rs["RSDTC"].to_list()[0] == D[1]
    assert res.adrs.columns[:6] == ["USUBJID", "RSEVAL", "RSEVALID", "PARAMCD", "PARAM", "PARCAT1"]
    assert res.adrs["PARAMCD"].to_list() == ["OVR"]
    lesion = res.lesion_changes.filter(pl.col("LESIONID") == "T2").sort("VISITNUM")
    assert lesion["PCHG"].to_list() == pytest.approx([0.0, -30.0])
