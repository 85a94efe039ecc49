"""Dose calculation: the seed trials' doses (NCT04011033 iNKT 5e8-1e9 cells/m², IL-2 25,000
IU/kg/day; IL1RAP CAR-T flat 1.0e8 / 2.5e8 / 5.0e8 cells), rounding, caps and errors."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.clinical import bsa_dubois, calculate_dose, dose_expr
from hcctrial.clinical.dose import format_amount, parse_basis
from hcctrial.errors import InputError


def test_01_cells_per_m2_mosteller() -> None:
    """5e8 cells/m² x BSA 2.00 m² (Mosteller 180 cm, 80 kg) = 1.0e9 cells."""
    d = calculate_dose(5e8, "cells/m2", height_cm=180, weight_kg=80)
    assert d.amount == pytest.approx(1e9)
    assert (d.unit, d.bsa_m2, d.bsa_method) == ("cells", 2.0, "mosteller")
    assert "sqrt(180 cm x 80 kg / 3600)" in d.formula


def test_02_cells_per_m2_dubois_and_range_top() -> None:
    d = calculate_dose(1e9, "cells/m²", height_cm=170, weight_kg=70, bsa_method="dubois")
    assert d.amount == pytest.approx(1e9 * bsa_dubois(170, 70))


def test_03_il2_per_kg_per_day() -> None:
    """NCT04011033: IL-2 25,000 IU/kg/day; 70 kg -> 1,750,000 IU/day."""
    d = calculate_dose(25_000, "IU/kg/day", weight_kg=70)
    assert d.amount == 1_750_000 and d.unit == "IU/day"
    assert d.formula == "25,000 IU/kg/day x weight 70 kg = 1,750,000 IU/day"


def test_04_flat_and_per_kg_cells() -> None:
    assert calculate_dose(2.5e8, "cells").amount == 2.5e8
    assert calculate_dose(2.5e8, "flat").formula == "flat 2.5e8 cells = 2.5e8 cells"
    assert calculate_dose(2e6, "cells/kg", weight_kg=65).amount == pytest.approx(1.3e8)


def test_05_rounding_and_caps() -> None:
    d = calculate_dose(5e8, "cells/m2", height_cm=170, weight_kg=70, significant=2)
    assert d.amount == pytest.approx(9.1e8) and d.amount_unrounded == pytest.approx(
        9.0906e8, rel=1e-4
    )
    d = calculate_dose(5e8, "cells/m2", height_cm=170, weight_kg=70, round_to=1e7)
    assert d.amount == pytest.approx(9.1e8)
    d = calculate_dose(5e8, "cells/m2", height_cm=200, weight_kg=120, cap=1e9)
    assert d.capped and d.amount == 1e9 and "capped at 1e9" in d.formula
    d = calculate_dose(5e8, "cells/m2", height_cm=200, weight_kg=120, bsa_cap_m2=2.0)
    assert d.bsa_m2 == 2.0 and d.amount == pytest.approx(1e9)
    with pytest.raises(InputError, match="not both"):
        calculate_dose(1e8, "cells", round_to=1e6, significant=2)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"dose": 5e8, "basis": "cells/m2", "weight_kg": 70}, "needs height and weight"),
        ({"dose": 5e8, "basis": "cells/kg"}, "needs the weight"),
        ({"dose": -1, "basis": "cells"}, "dose is out of range"),
        ({"dose": 1, "basis": "cells/furlong"}, "unknown dose basis"),
        ({"dose": 1, "basis": "cells/m2", "height_cm": 0, "weight_kg": 70}, "height"),
        ({"dose": 1, "basis": "cells/kg", "weight_kg": -5}, "weight"),
        (
            {"dose": 1, "basis": "cells/m2", "height_cm": 170, "weight_kg": 70, "bsa_method": "x"},
            "BSA",
        ),
    ],
)
def test_06_invalid(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        calculate_dose(**kwargs)  # type: ignore[arg-type]


def test_07_basis_parsing_and_formatting() -> None:
    assert str(parse_basis("IU/kg/d")) == "IU/kg/day"
    assert str(parse_basis("cells/m^2")) == "cells/m2"
    assert format_amount(5e8) == "5e8"
    assert format_amount(25000) == "25,000"


def test_08_vectorised() -> None:
    df = pl.DataFrame({"HEIGHT": [180.0, 170.0], "WEIGHT": [80.0, 70.0]})
    out = df.select(
        dose_expr(5e8, "cells/m2", "HEIGHT", "WEIGHT"),
        dose_expr(25_000, "IU/kg/day", weight_kg="WEIGHT").alias("IL2"),
    )
    assert out["DOSE"].to_list() == pytest.approx(
        [1e9, calculate_dose(5e8, "cells/m2", height_cm=170, weight_kg=70).amount]
    )
    assert out["IL2"].to_list() == [2_000_000, 1_750_000]


@settings(max_examples=100, deadline=None)
@given(h=st.floats(120, 210), w=st.floats(35, 150), dose=st.floats(1e6, 1e10))
def test_09_dose_proportional(h: float, w: float, dose: float) -> None:
    one = calculate_dose(dose, "cells/m2", height_cm=h, weight_kg=w)
    two = calculate_dose(2 * dose, "cells/m2", height_cm=h, weight_kg=w)
    assert two.amount == pytest.approx(2 * one.amount)
