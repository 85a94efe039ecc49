"""Bad input: reported with where it is; the subject gets NE with a reason, never dropped."""

from __future__ import annotations

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.response import derive_best_overall_response, derive_timepoint_response

from ._build import dates, study, subject

D = dates(4)


def _two_targets(follow: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    return study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER"), "T2": ("TARGET", "LUNG")},
                [(1, D[0], {"T1": 30, "T2": 20}), (2, D[1], follow)],
            )
        }
    )


def _check(res, check: str) -> pl.DataFrame:
    return res.problems.filter(pl.col("CHECK") == check)


def test_negative_diameter_reported_with_row_and_ne():
    tu, tr = _two_targets({"T1": -5, "T2": 20})
    res = derive_timepoint_response(tu, tr)
    p = _check(res, "negative diameter")
    assert p.height == 1
    row = p.row(0, named=True)
    # TR row 3 (1-based data row): T1 at visit 2.
    assert (row["ROW"], row["USUBJID"], row["LESIONID"], row["VISIT"]) == (3, "S1", "T1", "V2")
    assert res.adrs["AVALC"].to_list() == ["NE"]
    assert res.adrs["RSREASND"].to_list() == ["1 of 2 target lesions not measured"]


def test_missing_diameter_reported_and_ne():
    tu, tr = _two_targets({"T1": None, "T2": 20})
    res = derive_timepoint_response(tu, tr)
    assert _check(res, "missing diameter").height == 1
    assert res.adrs["AVALC"].to_list() == ["NE"]


def test_unknown_unit_reported_and_ne():
    tu, tr = _two_targets({"T1": {"LDIAM": (1.2, "in")}, "T2": 20})
    res = derive_timepoint_response(tu, tr)
    p = _check(res, "unit")
    assert p["VALUE"].to_list() == ["in"] and p["COLUMN"].to_list() == ["TRSTRESU"]
    assert res.adrs["AVALC"].to_list() == ["NE"]


def test_target_lesion_first_seen_after_baseline_not_summed():
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER"), "T9": ("TARGET", "LUNG")},
                [(1, D[0], {"T1": 30}), (2, D[1], {"T1": 20, "T9": 40})],
            )
        }
    )
    res = derive_timepoint_response(tu, tr)
    p = _check(res, "target after baseline")
    assert p["LESIONID"].to_list() == ["T9"] and p["VISIT"].to_list() == ["V2"]
    tp = res.timepoint_changes.sort("VISITNUM")
    assert tp["SUMDIAM"].to_list() == [30.0, 20.0]  # 40 mm of T9 not added
    assert tp["OVRLRESP"][1] == "PR"  # -33%


def test_duplicate_lesion_id_in_tu_makes_subject_ne_with_reason():
    tu, tr = _two_targets({"T1": 10, "T2": 10})
    tu = pl.concat([tu, tu.filter(pl.col("TULNKID") == "T1")])
    res = derive_timepoint_response(tu, tr)
    assert _check(res, "duplicate lesion id").height == 2  # both TU records named
    assert res.adrs["AVALC"].to_list() == ["NE"]
    assert res.adrs["RSREASND"].to_list() == ["baseline sum of diameters incomplete"]


def test_duplicate_measurement_with_different_values():
    tu, tr = _two_targets({"T1": 10, "T2": 10})
    extra = tr.filter((pl.col("TRLNKID") == "T1") & (pl.col("VISITNUM") == 2)).with_columns(
        TRSTRESN=pl.lit(12.0)
    )
    res = derive_timepoint_response(tu, pl.concat([tr, extra]))
    assert _check(res, "duplicate measurement").height == 2
    assert res.adrs["AVALC"].to_list() == ["NE"]


def test_measurement_dated_before_baseline_reported_and_not_used():
    tu, tr = _two_targets({"T1": 10, "T2": 10})
    tr = tr.with_columns(
        pl.when((pl.col("TRLNKID") == "T1") & (pl.col("VISITNUM") == 2))
        .then(pl.lit("2023-12-01"))
        .otherwise(pl.col("TRDTC"))
        .alias("TRDTC")
    )
    res = derive_timepoint_response(tu, tr)
    p = _check(res, "before baseline")
    assert p["LESIONID"].to_list() == ["T1"] and p["VALUE"].to_list() == ["2023-12-01"]
    assert res.adrs["AVALC"].to_list() == ["NE"]


def test_not_an_iso_date_reported():
    tu, tr = _two_targets({"T1": 10, "T2": 10})
    tr = tr.with_columns(
        pl.when(pl.col("VISITNUM") == 2)
        .then(pl.lit("12/03/2024"))
        .otherwise(pl.col("TRDTC"))
        .alias("TRDTC")
    )
    res = derive_timepoint_response(tu, tr)
    assert _check(res, "date").height == 2


def test_subject_without_baseline_disease_kept_as_ne():
    # S2: only an equivocal NEW lesion, nothing at baseline. S3: a baseline and no follow-up.
    tu, tr = study(
        {
            "S1": subject(
                {"T1": ("TARGET", "LIVER")}, [(1, D[0], {"T1": 30}), (2, D[1], {"T1": 30})]
            ),
            "S2": subject({"X1": ("NEW", "LUNG")}, [(2, D[1], {"X1": "EQUIVOCAL"})]),
            "S3": subject({"T1": ("TARGET", "LIVER")}, [(1, D[0], {"T1": 30})]),
        }
    )
    res = derive_timepoint_response(tu, tr)
    assert set(res.timepoint_changes["USUBJID"]) == {"S1", "S2", "S3"}
    s2 = res.adrs.filter(pl.col("USUBJID") == "S2").row(0, named=True)
    assert (s2["AVALC"], s2["RSREASND"]) == ("NE", "no target or non-target lesion at baseline")
    ref = pl.DataFrame({"USUBJID": ["S1", "S2", "S3"], "TRTSDT": [D[0]] * 3})
    best = derive_best_overall_response(res.adrs, ref).adrs.filter(pl.col("PARAMCD") == "BOR")
    got = {r["USUBJID"]: (r["AVALC"], r["RSREASND"]) for r in best.iter_rows(named=True)}
    assert got["S1"] == ("SD", None)
    assert got["S2"] == ("NE", "no target or non-target lesion at baseline")
    assert got["S3"] == ("NE", "no evaluable post-baseline assessment")


def test_too_many_targets_and_per_organ_and_small_lesions():
    lesions = {f"T{i}": ("TARGET", "LIVER" if i < 4 else "LUNG") for i in range(1, 7)}
    lesions["L1"] = ("TARGET", "MEDIASTINAL LYMPH NODE")
    base = {k: 20 for k in lesions} | {"T6": 8, "L1": 12}
    tu, tr = study({"S1": subject(lesions, [(1, D[0], base), (2, D[1], base)])})
    res = derive_timepoint_response(tu, tr)
    checks = res.problems["CHECK"].to_list()
    assert checks.count("baseline target count") == 1  # 7 > 5 (RECIST 1.1 section 3.3.1)
    assert checks.count("baseline targets per organ") == 2  # LIVER 3 > 2, LUNG 3 > 2
    small = _check(res, "baseline measurability").sort("LESIONID")
    assert small["LESIONID"].to_list() == ["L1", "T6"]  # node 12 < 15 mm, lesion 8 < 10 mm


def test_missing_required_column_raises_input_error():
    tu, tr = _two_targets({"T1": 10, "T2": 10})
    with pytest.raises(InputError, match="TRTESTCD"):
        derive_timepoint_response(tu, tr.drop("TRTESTCD"))
    with pytest.raises(InputError, match="unknown response criteria"):
        derive_timepoint_response(tu, tr, criteria="who")


def test_pandas_input_accepted():
    tu, tr = _two_targets({"T1": 20, "T2": 10})
    res = derive_timepoint_response(tu.to_pandas(), tr.to_pandas())
    assert res.adrs["AVALC"].to_list() == ["PR"]


def test_too_small_to_measure_gets_the_5mm_default():
    """RECIST 1.1 section 4.3.2 (Eisenhauer 2009, p. 233): "too small to measure" is 5 mm.

    Baseline 30 + 20 = 50 mm; follow-up T1 too small (5 mm) + T2 10 mm = 15 mm, -70%: PR
    (not CR, since the lesion is still there; not NE, since it was assessed).
    """
    tu, tr = _two_targets({"T1": {"LDIAM": "TOO SMALL TO MEASURE"}, "T2": 10})
    res = derive_timepoint_response(tu, tr)
    assert res.adrs["AVALC"].to_list() == ["PR"]
    post = res.timepoint_changes.filter(pl.col("ABLFL").is_null())
    assert post["SUMDIAM"].to_list() == [15.0]
    p = _check(res, "too small to measure")
    assert p.height == 1 and p["LESIONID"].to_list() == ["T1"]
    assert _check(res, "missing diameter").height == 0
