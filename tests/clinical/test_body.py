"""BSA (Mosteller, DuBois) and Cockcroft-Gault, against hand computations from the published
formulas and against their published alternative forms (DuBois' logarithmic form, the SI
constants 1.23 / 1.04 of Cockcroft-Gault)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.clinical import (
    bsa,
    bsa_dubois,
    bsa_expr,
    bsa_mosteller,
    crcl_expr,
    creatinine_clearance_cockcroft_gault,
)
from hcctrial.errors import InputError

heights = st.floats(min_value=100, max_value=220)
weights = st.floats(min_value=30, max_value=200)


def test_01_mosteller_worked_example() -> None:
    """Mosteller NEJM 1987: sqrt(180 x 80 / 3600) = sqrt(4) = 2.00 m² exactly."""
    assert bsa_mosteller(180, 80) == pytest.approx(2.0, abs=1e-12)
    assert bsa_mosteller(170, 70) == pytest.approx(math.sqrt(170 * 70 / 3600), abs=1e-12)
    assert bsa_mosteller(170, 70) == pytest.approx(1.818, abs=5e-4)


def test_02_dubois_against_its_logarithmic_form() -> None:
    """DuBois 1916 published log A = 0.425 log W + 0.725 log H + 1.8564 (A in cm²)."""
    for h, w in [(180, 80), (170, 70), (155, 50), (200, 120)]:
        log_form = 10 ** (0.425 * math.log10(w) + 0.725 * math.log10(h) + 1.8564) / 1e4
        assert bsa_dubois(h, w) == pytest.approx(log_form, rel=1e-4)
    assert bsa_dubois(180, 80) == pytest.approx(1.996, abs=5e-4)


def test_03_bsa_method_choice() -> None:
    assert bsa(180, 80) == bsa_mosteller(180, 80)
    assert bsa(180, 80, "DuBois") == bsa_dubois(180, 80)
    with pytest.raises(InputError, match="unknown BSA method"):
        bsa(180, 80, "haycock")


@pytest.mark.parametrize(
    ("h", "w", "pattern"),
    [
        (1.8, 80, "centimetres"),  # metres
        (0, 80, "height"),
        (180, -1, "kilograms"),
        (180, 0, "weight"),
        (180, 80000, "kilograms"),  # grams
        (float("nan"), 80, "not finite"),
        ("180", 80, "not a number"),
        (True, 80, "not a number"),
    ],
)
def test_04_invalid_body_size(h: object, w: object, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        bsa_mosteller(h, w)  # type: ignore[arg-type]


def test_05_cockcroft_gault_worked_example() -> None:
    """Cockcroft & Gault 1976: 60 y, 72 kg, SCr 1.0 mg/dL -> (80 x 72)/(72 x 1) = 80 mL/min;
    female x 0.85 = 68."""
    assert creatinine_clearance_cockcroft_gault(60, 72, "M", 1.0) == pytest.approx(80.0)
    assert creatinine_clearance_cockcroft_gault(60, 72, "F", 1.0) == pytest.approx(68.0)
    assert creatinine_clearance_cockcroft_gault(60, 72, "female", 1.0, "mg/dL") == pytest.approx(68)


def test_06_cockcroft_gault_si_constants() -> None:
    """SI form: CrCl = 1.23 x (140 - age) x W / SCr(umol/L) for men, 1.04 for women."""
    for age, w, scr in [(45, 80, 100.0), (70, 60, 150.0), (30, 95, 70.0)]:
        male = 1.23 * (140 - age) * w / scr
        female = 1.04 * (140 - age) * w / scr
        got_m = creatinine_clearance_cockcroft_gault(age, w, "M", scr, "umol/L")
        got_f = creatinine_clearance_cockcroft_gault(age, w, "F", scr, "umol/L")
        assert got_m == pytest.approx(male, rel=3e-3)
        assert got_f == pytest.approx(female, rel=4e-3)  # 1.04 is 1.0436 rounded


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((60, 72, "U", 1.0), "unknown sex"),
        ((12, 40, "M", 0.5), "adults"),
        ((60, 72, "M", 0.0), "creatinine"),
        ((60, 72, "M", -1.0), "creatinine"),
        ((60, 72, "M", 1.0, "U/L"), "does not fit CREAT"),
    ],
)
def test_07_cockcroft_gault_invalid(args: tuple[object, ...], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        creatinine_clearance_cockcroft_gault(*args)  # type: ignore[arg-type]


def test_08_vectorised_equal_scalar_and_nulls() -> None:
    df = pl.DataFrame(
        {
            "HEIGHT": [180.0, 170.0, None],
            "WEIGHT": [80.0, 70.0, 60.0],
            "AGE": [60, 45, 50],
            "SEX": ["M", "F", "M"],
            "CREAT": [1.0, 1.3, None],
        }
    )
    out = df.with_columns(
        bsa_expr("HEIGHT", "WEIGHT"),
        bsa_expr("HEIGHT", "WEIGHT", "dubois").alias("BSA_DUBOIS"),
        crcl_expr("AGE", "WEIGHT", "SEX", "CREAT"),
    )
    assert out["BSA"].to_list()[:2] == pytest.approx(
        [bsa_mosteller(180, 80), bsa_mosteller(170, 70)]
    )
    assert out["BSA_DUBOIS"][1] == pytest.approx(bsa_dubois(170, 70))
    assert out["CRCL"][1] == pytest.approx(creatinine_clearance_cockcroft_gault(45, 70, "F", 1.3))
    assert out["BSA"][2] is None and out["CRCL"][2] is None


def test_09_vectorised_refuses_bad_rows() -> None:
    df = pl.DataFrame({"h": [180.0, 1.75], "w": [80.0, 70.0]})
    with pytest.raises(InputError, match=r"height out of range in 1 row\(s\), first at row 2"):
        df.select(bsa_expr("h", "w"))
    df = pl.DataFrame({"a": [60], "w": [70.0], "s": ["X"], "c": [1.0]})
    with pytest.raises(InputError, match="unknown sex"):
        df.select(crcl_expr("a", "w", "s", "c"))


@settings(max_examples=200, deadline=None)
@given(h=heights, w=weights, dh=st.floats(0.5, 30), dw=st.floats(0.5, 30))
def test_10_bsa_increasing_in_height_and_weight(h: float, w: float, dh: float, dw: float) -> None:
    for method in ("mosteller", "dubois"):
        assert bsa(h + dh, w, method) > bsa(h, w, method)
        assert bsa(h, w + dw, method) > bsa(h, w, method)


@settings(max_examples=200, deadline=None)
@given(
    age=st.integers(18, 100),
    w=weights,
    scr=st.floats(0.2, 10),
    factor=st.floats(1.01, 5),
    sex=st.sampled_from(["M", "F"]),
)
def test_11_crcl_decreasing_in_creatinine(
    age: int, w: float, scr: float, factor: float, sex: str
) -> None:
    low = creatinine_clearance_cockcroft_gault(age, w, sex, scr)
    high = creatinine_clearance_cockcroft_gault(age, w, sex, scr * factor)
    assert high < low
    assert creatinine_clearance_cockcroft_gault(age, w, "F", scr) == pytest.approx(
        0.85 * creatinine_clearance_cockcroft_gault(age, w, "M", scr)
    )
