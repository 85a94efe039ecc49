"""BCLC 2022 (Reig et al., J Hepatol 2022;76:681-693, Figure 1) and ECOG/Karnofsky."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcctrial.clinical import (
    bclc_stage,
    bclc_stage_expr,
    ecog_from_kps,
    ecog_from_kps_expr,
    kps_range_from_ecog,
)
from hcctrial.errors import InputError

# (nodules, largest cm, vascular invasion, extrahepatic spread, ECOG, Child-Pugh, stage)
BCLC_CASES = [
    (1, 1.8, False, False, 0, "A", "0"),  # 1 very early: single <= 2 cm
    (1, 2.0, False, False, 0, "A", "0"),  # 2 edge: 2 cm is very early
    (1, 2.1, False, False, 0, "A", "A"),  # 3 single > 2 cm -> early
    (1, 9.0, False, False, 0, "A", "A"),  # 4 single of any size -> early
    (3, 3.0, False, False, 0, "A", "A"),  # 5 edge: 3 nodules each <= 3 cm
    (3, 3.1, False, False, 0, "A", "B"),  # 6 one nodule > 3 cm -> intermediate
    (2, 3.5, False, False, 0, "A", "B"),  # 7
    (4, 1.0, False, False, 0, "A", "B"),  # 8 more than 3 nodules
    (1, 1.5, True, False, 0, "A", "C"),  # 9 portal invasion -> advanced
    (1, 1.5, False, True, 0, "A", "C"),  # 10 extrahepatic spread
    (1, 1.5, False, False, 1, "A", "C"),  # 11 ECOG 1 -> advanced
    (1, 1.5, False, False, 2, "A", "C"),  # 12 ECOG 2
    (1, 1.5, False, False, 3, "A", "D"),  # 13 ECOG 3 -> terminal
    (5, 8.0, True, True, 0, "C", "D"),  # 14 end-stage liver function wins over spread
    (1, 1.5, False, False, 4, "B", "D"),  # 15 ECOG 4: no liver function needed
]


@pytest.mark.parametrize(("n", "size", "vi", "ehs", "ecog", "cp", "stage"), BCLC_CASES)
def test_01_bclc_cases(
    n: int, size: float, vi: bool, ehs: bool, ecog: int, cp: str, stage: str
) -> None:
    assert bclc_stage(n, size, vi, ehs, ecog, child_pugh_class=cp).stage == stage


def test_02_bclc_liver_function() -> None:
    r = bclc_stage(1, 1.5, False, False, 0, liver_function="preserved")
    assert r.stage == "0" and r.name == "very early"
    r = bclc_stage(1, 1.5, False, False, 0, liver_function="end-stage")
    assert r.stage == "D" and "Milan" in r.reason  # transplant evaluation noted
    r = bclc_stage(1, 1.5, False, False, 0, liver_function="preserved", child_pugh_class="B")
    assert r.stage == "0"
    with pytest.raises(InputError, match="Child-Pugh B"):
        bclc_stage(1, 1.5, False, False, 0, child_pugh_class="B")
    with pytest.raises(InputError, match="needs liver function"):
        bclc_stage(1, 1.5, False, False, 0)
    assert (
        "ALBI grade 2"
        in bclc_stage(4, 2, False, False, 0, child_pugh_class="A", albi_grade="2").reason
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((0, 1.0, False, False, 0), "nodules"),
        ((1, 0.0, False, False, 0), "largest nodule"),
        ((1, 1.0, "yes", False, 0), "true/false"),
        ((1, 1.0, False, False, 5), "ECOG"),
        ((1, 1.0, False, False, 1.5), "ECOG"),
    ],
)
def test_03_bclc_invalid(args: tuple[object, ...], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        bclc_stage(*args, child_pugh_class="A")  # type: ignore[arg-type]


def test_04_bclc_vectorised_matches_scalar_and_is_three_valued() -> None:
    df = pl.DataFrame(
        {
            "N": [c[0] for c in BCLC_CASES] + [None, 2, 1],
            "SIZE": [c[1] for c in BCLC_CASES] + [None, 2.0, 1.0],
            "VI": [c[2] for c in BCLC_CASES] + [True, None, False],
            "EHS": [c[3] for c in BCLC_CASES] + [None, False, False],
            "ECOG": [c[4] for c in BCLC_CASES] + [0, 0, None],
            "CP": [c[5] for c in BCLC_CASES] + ["A", "A", "A"],
        }
    )
    out = df.select(bclc_stage_expr("N", "SIZE", "VI", "EHS", "ECOG", child_pugh_class="CP"))
    # known vascular invasion decides C even with nodules unknown; unknown VI or ECOG -> null
    assert out["BCLC_STAGE"].to_list() == [c[6] for c in BCLC_CASES] + ["C", None, None]
    with pytest.raises(InputError, match="Child-Pugh B"):
        df.with_columns(pl.lit("B").alias("CP")).select(
            bclc_stage_expr("N", "SIZE", "VI", "EHS", "ECOG", child_pugh_class="CP")
        )


def test_05_kps_to_ecog_table() -> None:
    """KPS 100-90 -> 0, 80-70 -> 1, 60-50 -> 2, 40-30 -> 3, 20-10 -> 4, 0 -> 5."""
    expected = {100: 0, 90: 0, 80: 1, 70: 1, 60: 2, 50: 2, 40: 3, 30: 3, 20: 4, 10: 4, 0: 5}
    assert {k: ecog_from_kps(k) for k in expected} == expected
    assert [kps_range_from_ecog(e) for e in range(6)] == [
        (90, 100),
        (70, 80),
        (50, 60),
        (30, 40),
        (10, 20),
        (0, 0),
    ]
    for bad in (85, 110, -10):
        with pytest.raises(InputError):
            ecog_from_kps(bad)
    with pytest.raises(InputError):
        kps_range_from_ecog(6)


def test_06_kps_vectorised() -> None:
    df = pl.DataFrame({"KPS": [100, 80, 50, 0, None]})
    assert df.select(ecog_from_kps_expr("KPS"))["ECOG"].to_list() == [0, 1, 2, 5, None]
    with pytest.raises(InputError, match="KPS not in"):
        pl.DataFrame({"KPS": [85]}).select(ecog_from_kps_expr("KPS"))


@given(ecog=st.integers(0, 5))
def test_07_round_trip_ecog_kps(ecog: int) -> None:
    low, high = kps_range_from_ecog(ecog)
    assert ecog_from_kps(low) == ecog == ecog_from_kps(high)


@given(k1=st.integers(0, 10), k2=st.integers(0, 10))
def test_08_ecog_monotone_in_kps(k1: int, k2: int) -> None:
    lo, hi = sorted((k1 * 10, k2 * 10))
    assert ecog_from_kps(hi) <= ecog_from_kps(lo)
