"""mRECIST for HCC (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60), rule by rule.

Cases are written from the paper's text and Table 1; the RECIST 1.1 result on the same data is
asserted beside it where the two criteria differ, which is the point of mRECIST.
"""

from __future__ import annotations

import polars as pl

from hcctrial.response import derive_timepoint_response

from ._build import dates, overall, study, subject

D = dates(4)


def test_viable_diameter_response_without_shrinkage():
    # Table 1 target PR: >= 30% decrease in the sum of viable (enhancing) diameters. Necrosis
    # after TACE: the lesion stays 50 mm (RECIST SD) while the enhancing part falls 40 -> 20
    # mm (-50%, mRECIST PR).
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER")},
                [
                    (1, D[0], {"T1": {"LDIAM": 50, "VIABLDIAM": 40}}),
                    (2, D[1], {"T1": {"LDIAM": 50, "VIABLDIAM": 20}}),
                ],
            )
        }
    )
    assert overall(tu, tr, "mrecist") == ["PR"]
    assert overall(tu, tr, "recist1.1") == ["SD"]


def test_complete_disappearance_of_enhancement_is_cr():
    # Table 1 target CR: disappearance of any intratumoral arterial enhancement.
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER")},
                [
                    (1, D[0], {"T1": {"LDIAM": 30, "VIABLDIAM": 30}}),
                    (2, D[1], {"T1": {"LDIAM": 28, "VIABLDIAM": 0}}),
                ],
            )
        }
    )
    assert overall(tu, tr, "mrecist") == ["CR"]


def test_progression_has_no_5mm_minimum():
    # Table 1 PD: >= 20% increase over the smallest viable sum, no absolute minimum stated.
    # 10 -> 5 (nadir) -> 7 is +40% / +2 mm: mRECIST PD. RECIST 1.1 needs +5 mm: 7 is -30%
    # from baseline, PR.
    visits = [
        (1, D[0], {"T1": {"LDIAM": 10, "VIABLDIAM": 10}}),
        (2, D[1], {"T1": {"LDIAM": 5, "VIABLDIAM": 5}}),
        (3, D[2], {"T1": {"LDIAM": 7, "VIABLDIAM": 7}}),
    ]
    tu, tr = study({"S1": subject({"T1": ("TARGET", "LIVER")}, visits)})
    assert overall(tu, tr, "mrecist") == ["PR", "PD"]
    assert overall(tu, tr, "recist1.1") == ["PR", "PR"]


def test_extrahepatic_lesion_measured_as_in_recist():
    # mRECIST "Selection of target lesions": extrahepatic lesions as RECIST (no enhancement
    # criterion): the lung lesion LDIAM 20 -> 10 plus liver viable 20 -> 10: -50%, PR.
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER"), "T2": ("TARGET", "LUNG")},
                [
                    (1, D[0], {"T1": {"VIABLDIAM": 20}, "T2": {"LDIAM": 20}}),
                    (2, D[1], {"T1": {"VIABLDIAM": 10}, "T2": {"LDIAM": 10}}),
                ],
            )
        }
    )
    tp = derive_timepoint_response(tu, tr, "mrecist").timepoint_changes.sort("VISITNUM")
    assert tp["SUMDIAM"].to_list() == [40.0, 20.0]
    assert tp["OVRLRESP"][1] == "PR"


def test_liver_target_without_viable_diameter_is_ne_and_reported():
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER")},
                [(1, D[0], {"T1": {"LDIAM": 30}}), (2, D[1], {"T1": {"LDIAM": 10}})],
            )
        }
    )
    res = derive_timepoint_response(tu, tr, "mrecist")
    assert res.adrs["AVALC"].to_list() == ["NE"]
    assert "mRECIST viable diameter" in res.problems["CHECK"].to_list()


def _new_liver_case(new_visits: list[dict]) -> list[str | None]:
    visits = [(1, D[0], {"T1": {"VIABLDIAM": 30}})]
    for i, nv in enumerate(new_visits):
        visits.append((i + 2, D[i + 1], {"T1": {"VIABLDIAM": 29}, "NEW1": nv}))
    tu, tr = study({"S1": subject({"T1": ("TARGET", "LIVER"), "NEW1": ("NEW", "LIVER")}, visits)})
    return overall(tu, tr, "mrecist")


def test_new_liver_nodule_typical_pattern_at_least_1cm_is_pd():
    # "New lesions": >= 1 cm with the typical vascular pattern of HCC is PD.
    assert _new_liver_case([{"TUMSTATE": "UNEQUIVOCAL", "LDIAM": 12, "ENHPATT": "TYPICAL"}]) == [
        "PD"
    ]


def test_new_liver_nodule_below_1cm_is_not_pd():
    assert _new_liver_case([{"TUMSTATE": "UNEQUIVOCAL", "LDIAM": 8, "ENHPATT": "TYPICAL"}]) == [
        "SD"
    ]


def test_new_atypical_nodule_pd_after_1cm_interval_growth():
    # Atypical 12 mm nodule: not PD; grows to 23 mm (+11 mm >= 1 cm): PD at that visit.
    assert _new_liver_case(
        [
            {"TUMSTATE": "UNEQUIVOCAL", "LDIAM": 12, "ENHPATT": "ATYPICAL"},
            {"TUMSTATE": "UNEQUIVOCAL", "LDIAM": 23, "ENHPATT": "ATYPICAL"},
        ]
    ) == ["SD", "PD"]


def test_new_effusion_needs_cytology():
    # "Pleural effusion and ascites": cytological proof needed to call PD.
    def case(cytol: str | None) -> list[str | None]:
        new = {"TUMSTATE": "UNEQUIVOCAL"} | ({"CYTOL": cytol} if cytol else {})
        tu, tr = study(
            {
                "S1": subject(
                    {"T1": ("TARGET", "LIVER"), "E1": ("NEW", "ASCITES")},
                    [
                        (1, D[0], {"T1": {"VIABLDIAM": 30}}),
                        (2, D[1], {"T1": {"VIABLDIAM": 29}, "E1": new}),
                    ],
                )
            }
        )
        return overall(tu, tr, "mrecist")

    assert case(None) == ["SD"]
    assert case("NEGATIVE") == ["SD"]
    assert case("POSITIVE") == ["PD"]


def test_portal_vein_thrombosis_and_porta_hepatis_node_reported():
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "PORTAL VEIN"), "L1": ("TARGET", "PORTA HEPATIS LYMPH NODE")},
                [
                    (1, D[0], {"T1": {"LDIAM": 25}, "L1": {"SAXIS": 18}}),
                    (2, D[1], {"T1": {"LDIAM": 25}, "L1": {"SAXIS": 18}}),
                ],
            )
        }
    )
    problems = derive_timepoint_response(tu, tr, "mrecist").problems
    checks = set(problems["CHECK"])
    assert "mRECIST portal vein thrombosis" in checks
    assert "mRECIST porta hepatis node" in checks
    # Not reported under RECIST 1.1 (18 mm node is measurable there).
    recist = derive_timepoint_response(tu, tr, "recist1.1").problems
    assert recist.filter(pl.col("CHECK").str.starts_with("mRECIST")).height == 0


def test_worsening_non_target_ascites_needs_cytology():
    # "Pleural effusion and ascites": the worsening of a baseline effusion/ascites (a
    # non-target lesion) is PD only with cytological proof of its neoplastic nature; RECIST 1.1
    # has no such rule (unequivocal progression of a non-target lesion is PD).
    def case(cytol: str | None, criteria: str) -> tuple[list[str | None], set[str]]:
        worse = {"TUMSTATE": "UNEQUIVOCAL"} | ({"CYTOL": cytol} if cytol else {})
        tu, tr = study(
            {
                "S1": subject(
                    {"T1": ("TARGET", "LIVER"), "A1": ("NON-TARGET", "ASCITES")},
                    [
                        (1, D[0], {"T1": {"VIABLDIAM": 30, "LDIAM": 30}, "A1": "PRESENT"}),
                        (2, D[1], {"T1": {"VIABLDIAM": 29, "LDIAM": 30}, "A1": worse}),
                    ],
                )
            }
        )
        res = derive_timepoint_response(tu, tr, criteria)
        return overall(tu, tr, criteria), set(res.problems["CHECK"])

    ovr, checks = case(None, "mrecist")
    assert ovr == ["SD"] and "mRECIST effusion without cytology" in checks
    assert case("NEGATIVE", "mrecist")[0] == ["SD"]
    ovr, checks = case("POSITIVE", "mrecist")
    assert ovr == ["PD"] and "mRECIST effusion without cytology" not in checks
    assert case(None, "recist1.1")[0] == ["PD"]
