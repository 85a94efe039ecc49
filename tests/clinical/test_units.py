"""Lab units: spellings, analyte-aware conversions against published factors, vectorised form.

Reference factors (independent of our molar-mass table) come from the SI conversion table of
Young DS, "Implementation of SI units for clinical laboratory data", Ann Intern Med
1987;106:114-129 (reproduced in the AMA Manual of Style, 'SI conversion calculator'), the
NGSP/IFCC HbA1c conversion table (www.ngsp.org/ifccngsp.asp) and the IFCC/IUB enzyme-unit
definition (1 U = 1 umol/min = 16.67 nkat).
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.clinical.analytes import ANALYTES
from hcctrial.clinical.units import (
    canonical_unit,
    check_unit,
    conversion,
    convert,
    convert_expr,
    normalise_unit,
    unit_problems,
)
from hcctrial.errors import InputError, UnitError

# (value, from, to, analyte, expected, relative tolerance); Young 1987 factors to 4 figures.
YOUNG_1987 = [
    (1.0, "mg/dL", "umol/L", "BILI", 17.10, 1e-3),  # bilirubin x 17.10
    (1.0, "mg/dL", "umol/L", "CREAT", 88.40, 1e-3),  # creatinine x 88.40
    (100.0, "mg/dL", "mmol/L", "GLUC", 5.551, 1e-3),  # glucose x 0.05551
    (10.0, "mg/dL", "mmol/L", "CA", 2.495, 1e-3),  # calcium x 0.2495
    (2.0, "mg/dL", "mmol/L", "MG", 0.8228, 1e-3),  # magnesium x 0.4114
    (10.0, "mg/dL", "mmol/L", "BUN", 3.570, 1e-3),  # urea nitrogen x 0.3570
    (6.0, "mg/dL", "umol/L", "URATE", 356.9, 1e-3),  # uric acid x 59.48
    (200.0, "mg/dL", "mmol/L", "CHOL", 5.172, 1e-3),  # cholesterol x 0.02586
    (150.0, "mg/dL", "mmol/L", "TRIG", 1.694, 1e-3),  # triglycerides x 0.01129
    (3.0, "mg/dL", "mmol/L", "PHOS", 0.9687, 1e-3),  # phosphorus x 0.3229
    (4.0, "g/dL", "g/L", "ALB", 40.0, 1e-12),  # albumin x 10
    (13.5, "g/dL", "g/L", "HGB", 135.0, 1e-12),  # haemoglobin x 10
    (140.0, "mEq/L", "mmol/L", "SODIUM", 140.0, 1e-12),  # monovalent x 1
    (4.2, "mEq/L", "mmol/L", "K", 4.2, 1e-12),
    (5.0, "mEq/L", "mmol/L", "CA", 2.5, 1e-12),  # divalent x 0.5
    (1.0, "ukat/L", "U/L", "ALT", 60.0, 1e-12),  # 1 U = 16.67 nkat
    (40.0, "IU/L", "U/L", "AST", 40.0, 1e-12),  # enzyme IU is the enzyme unit
]


@pytest.mark.parametrize(("value", "src", "dst", "analyte", "expected", "rel"), YOUNG_1987)
def test_01_published_si_factors(
    value: float, src: str, dst: str, analyte: str, expected: float, rel: float
) -> None:
    assert convert(value, src, dst, analyte) == pytest.approx(expected, rel=rel)


def test_02_hba1c_ngsp_ifcc_table() -> None:
    """NGSP/IFCC table: 6.5 % = 48 mmol/mol, 7.0 % = 53, 8.0 % = 64, 10.0 % = 86 (rounded)."""
    for ngsp, ifcc in [(6.5, 48), (7.0, 53), (8.0, 64), (10.0, 86)]:
        assert round(convert(ngsp, "%", "mmol/mol", "HBA1C")) == ifcc
        assert convert(ifcc, "mmol/mol", "%", "HBA1C") == pytest.approx(ngsp, abs=0.05)


def test_03_haemoglobin_mmol() -> None:
    """Dutch convention: 1 g/dL Hb = 0.6206 mmol/L (Hb monomer 16 114.5 g/mol)."""
    assert convert(1.0, "g/dL", "mmol/L", "HGB") == pytest.approx(0.6206, rel=1e-4)


def test_04_cell_count_spellings_are_one_unit() -> None:
    """10^9/L = x10^9/L = 10*9/L = G/L = 10^3/uL; 1/mm3 = cells/uL = 10^-3 x 10^9/L."""
    for text in ["x10^9/L", "10^9/L", "10*9/L", "G/L", "x10E9/L", "10⁹/L", "×10^9/l", "Gpt/L"]:
        assert normalise_unit(text) == "10^9/L", text
        assert convert(60, text, "10^9/L", "PLT") == 60
    for text in ["/mm3", "cells/uL", "/µL", "cells/mm³", "/uL"]:
        assert normalise_unit(text) == "/uL", text
        assert convert(1500, text, "10^9/L", "NEUT") == pytest.approx(1.5)
    for text in ["10^3/uL", "K/uL", "x10^3/uL", "10*3/uL", "10^3/mm3"]:
        assert convert(4.5, text, "10^9/L", "WBC") == pytest.approx(4.5)


def test_05_other_spellings() -> None:
    assert normalise_unit("µmol/l") == "umol/L"
    assert normalise_unit("μmol/L") == "umol/L"  # Greek mu
    assert normalise_unit("MG/DL") == "mg/dL"
    assert normalise_unit("mg%") == "mg/dL"
    assert normalise_unit("UI/L") == "IU/L"
    assert normalise_unit("meq/l") == "mEq/L"
    assert normalise_unit("") == "ratio"
    assert normalise_unit("RATIO") == "ratio"
    assert normalise_unit("sec") == "s"
    assert normalise_unit("log10 IU/mL") == "log10 IU/mL"
    assert normalise_unit("Log IU/ml") == "log10 IU/mL"


def test_06_hbv_dna_iu_copies_and_logs() -> None:
    """2000 IU/mL is 4.07 log copies/mL with 5.82 copies/IU (JSH guideline 2014, Table 10)."""
    assert convert(2000, "IU/mL", "log10 copies/mL", "HBVDNA") == pytest.approx(4.07, abs=0.005)
    assert convert(2000, "IU/mL", "copies/mL", "HBVDNA") == pytest.approx(11640)
    assert convert(3.0, "log10 IU/mL", "IU/mL", "HBVDNA") == pytest.approx(1000)
    with pytest.raises(UnitError, match="analyte"):
        convert(2000, "IU/mL", "copies/mL")  # no analyte: no bridge, no guess


def test_07_afp_iu() -> None:
    """WHO 72/225: 1 IU AFP = 1.21 ng; kU/L is IU/mL."""
    assert convert(400, "ng/mL", "IU/mL", "AFP") == pytest.approx(400 / 1.21)
    assert convert(100, "kU/L", "ng/mL", "AFP") == pytest.approx(121)


def test_08_all_capital_g_per_l_for_albumin() -> None:
    assert convert(35, "G/L", "g/L", "ALB") == 35
    assert convert(100, "G/L", "10^9/L", "PLT") == 100


@pytest.mark.parametrize(
    ("value", "src", "dst", "analyte", "pattern"),
    [
        (1, "mg/dL", "umol/L", None, "pass the analyte"),  # needs molar mass
        (1, "%", "ratio", "INR", "does not fit INR"),  # a ratio is not a percent
        (1, "copies/mL", "10^9/L", "PLT", "does not fit PLT"),
        (1, "mg/dL", "10^9/L", "PLT", "does not fit PLT"),
        (1, "U/L", "g/L", "ALB", "does not fit ALB"),
        (1, "furlongs", "g/L", None, "cannot convert"),
        (1, "bananas/L", "g/L", None, "unknown unit"),
        (1, "K", "g/L", None, "not a clinical unit"),  # kelvin, not thousands
        (1, "mg/dL", "umol/L", "XYZ", "unknown lab test code"),
        (1, "", "10^9/L", "PLT", "does not fit PLT"),  # a missing unit is never assumed
        (1, "mg/dL", "mmol/L", "ALT", "does not fit ALT"),
    ],
)
def test_09_errors_name_the_problem(
    value: float, src: str, dst: str, analyte: str | None, pattern: str
) -> None:
    with pytest.raises(UnitError, match=pattern):
        convert(value, src, dst, analyte)


def test_10_unit_error_is_input_error_and_value_checked() -> None:
    assert issubclass(UnitError, InputError)
    with pytest.raises(InputError, match="not a number"):
        convert("1.2", "mg/dL", "umol/L", "BILI")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not finite"):
        convert(math.nan, "mg/dL", "umol/L", "BILI")
    with pytest.raises(InputError, match="log10"):
        convert(0, "IU/mL", "log10 IU/mL", "HBVDNA")


def test_11_canonical_units_cover_the_criteria_language() -> None:
    """Every lab code of docs/criteria-language.md has a canonical unit that converts to itself."""
    codes = [
        "WBC",
        "PLT",
        "HGB",
        "LYM",
        "NEUT",
        "ALB",
        "BILI",
        "ALT",
        "AST",
        "ALP",
        "GGT",
        "CREAT",
        "LIPASE",
        "AMYLASE",
        "INR",
        "PT",
        "PTPROL",
        "HBVDNA",
        "HBA1C",
        "AFP",
        "INKTPBMC",
        "SODIUM",
        "K",
        "CA",
        "GLUC",
        "MG",
    ]
    for code in codes:
        unit = canonical_unit(code)
        assert convert(1.5, unit, unit, code) == 1.5
    assert canonical_unit("PLT") == "10^9/L"
    assert canonical_unit("BILI") == "umol/L"
    assert canonical_unit("plt") == "10^9/L"


def test_12_check_unit_and_formula() -> None:
    assert check_unit("x10^9/L", "PLT") == "10^9/L"
    with pytest.raises(UnitError):
        check_unit("mg/dL", "PLT")
    assert conversion("mg/dL", "umol/L", "BILI").formula() == "umol/L = mg/dL x 17.104"


def _lab_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "LBTESTCD": ["PLT", "PLT", "BILI", "BILI", "CREAT", "INR", "ALB", None],
            "LBORRES": [150.0, 250000.0, 1.2, 20.0, 1.0, 1.1, 3.5, None],
            "LBORRESU": ["x10^9/L", "/mm3", "mg/dL", "umol/L", "mg/dL", None, "g/dL", None],
        }
    )


def test_13_convert_expr_mixed_units_to_canonical() -> None:
    out = _lab_table().with_columns(
        convert_expr("LBORRES", "LBORRESU", None, pl.col("LBTESTCD")).alias("LBSTRESN")
    )
    expected = [150.0, 250.0, 1.2 * 17.104, 20.0, 88.40, 1.1, 35.0, None]
    got = out["LBSTRESN"].to_list()
    for g, e in zip(got, expected, strict=True):
        assert (g is None and e is None) or g == pytest.approx(e, rel=1e-3)
    # same result lazily and equal to the scalar function row by row
    lazy = _lab_table().lazy().select(convert_expr("LBORRES", "LBORRESU", None, pl.col("LBTESTCD")))
    assert lazy.collect()["LBORRES"].to_list() == got


def test_14_convert_expr_single_analyte_and_target() -> None:
    df = pl.DataFrame({"v": [1.0, 2.0, 17.104], "u": ["mg/dL", "mg/dL", "umol/L"]})
    out = df.select(convert_expr("v", "u", "mg/dL", "BILI"))["v"].to_list()
    assert out == pytest.approx([1.0, 2.0, 1.0], rel=1e-4)


def test_15_convert_expr_bad_units_raise_naming_unit_rows() -> None:
    df = _lab_table().with_columns(
        pl.when(pl.col("LBTESTCD") == "PLT")
        .then(pl.lit("mg/dL"))
        .otherwise(pl.col("LBORRESU"))
        .alias("LBORRESU")
    )
    with pytest.raises(UnitError, match=r"'mg/dL' for PLT.*2 row\(s\), first at row 1"):
        df.select(convert_expr("LBORRES", "LBORRESU", None, pl.col("LBTESTCD")))


def test_16_unit_problems_table() -> None:
    df = _lab_table().with_columns(
        pl.when(pl.col("LBTESTCD") == "ALB")
        .then(pl.lit("mmol/L"))
        .otherwise(pl.col("LBORRESU"))
        .alias("LBORRESU")
    )
    problems = unit_problems(df, "LBORRESU", "LBTESTCD", value_col="LBORRES")
    assert problems["row"].to_list() == [7]
    assert problems["LBTESTCD"].to_list() == ["ALB"]
    assert "does not fit ALB" in problems["message"][0]
    assert unit_problems(_lab_table(), "LBORRESU", "LBTESTCD", value_col="LBORRES").height == 0


# --- properties ----------------------------------------------------------------------------------

# unit pairs per analyte that must round-trip
_PAIRS = [
    ("BILI", "mg/dL", "umol/L"),
    ("CREAT", "mg/dL", "umol/L"),
    ("GLUC", "mg/dL", "mmol/L"),
    ("CA", "mg/dL", "mEq/L"),
    ("MG", "mEq/L", "mg/dL"),
    ("HGB", "g/dL", "mmol/L"),
    ("ALB", "g/dL", "g/L"),
    ("PLT", "/mm3", "10^9/L"),
    ("WBC", "10^3/uL", "G/L"),
    ("ALT", "ukat/L", "IU/L"),
    ("HBVDNA", "copies/mL", "IU/mL"),
    ("HBVDNA", "log10 copies/mL", "IU/mL"),
    ("AFP", "IU/mL", "ug/L"),
    ("HBA1C", "%", "mmol/mol"),
    ("BUN", "mg/dL", "mmol/L"),
]


@settings(max_examples=200, deadline=None)
@given(
    pair=st.sampled_from(_PAIRS),
    value=st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_17_round_trip(pair: tuple[str, str, str], value: float) -> None:
    analyte, a, b = pair
    if a.startswith("log10"):
        value = math.log10(value)
    there = convert(value, a, b, analyte)
    back = convert(there, b, a, analyte)
    assert back == pytest.approx(value, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    code=st.sampled_from(sorted(ANALYTES)),
    value=st.floats(min_value=0.001, max_value=1e5, allow_nan=False, allow_infinity=False),
)
def test_18_canonical_is_identity(code: str, value: float) -> None:
    unit = canonical_unit(code)
    assert convert(value, unit, unit, code) == pytest.approx(value, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from(["x10^9/L", "/mm3", "10^3/uL", "G/L", "cells/uL"]),
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_19_vectorised_equals_scalar(values: list[tuple[str, float]]) -> None:
    df = pl.DataFrame({"u": [u for u, _ in values], "v": [v for _, v in values]})
    got = df.select(convert_expr("v", "u", "10^9/L", "PLT"))["v"].to_list()
    want = [convert(v, u, "10^9/L", "PLT") for u, v in values]
    assert got == pytest.approx(want, rel=1e-12)


def test_20_numbers_inside_units() -> None:
    """'×109/L' (superscript lost, as in the seed records) is 10^9/L; '109/L' alone is refused."""
    assert normalise_unit("×109/L") == "10^9/L"
    assert normalise_unit("x1012/L") == "10^12/L"
    for text in ["109/L", "1000/uL", "5 mg/dL"]:
        with pytest.raises(UnitError, match="number"):
            normalise_unit(text)


def test_21_convert_expr_text_values() -> None:
    """Text values are parsed; text that is not a number is an error naming row and column."""
    df = pl.DataFrame({"LBORRES": ["1.2", " 20 "], "LBORRESU": ["mg/dL", "umol/L"]})
    out = df.select(convert_expr("LBORRES", "LBORRESU", "umol/L", "BILI"))["LBORRES"].to_list()
    assert out == pytest.approx([1.2 * 17.104, 20.0], rel=1e-4)
    bad = pl.DataFrame({"LBORRES": ["1.2", "<0.5"], "LBORRESU": ["mg/dL", "mg/dL"]})
    with pytest.raises(
        UnitError, match=r"column LBORRES: value is not a number in 1 row\(s\), first at row 2"
    ):
        bad.select(convert_expr("LBORRES", "LBORRESU", "umol/L", "BILI"))
