"""Child-Pugh (Pugh et al., Br J Surg 1973;60:646-649) and ALBI (Johnson et al., J Clin Oncol
2015;33:550-558): hand-built cases from the published tables, every band edge, and properties."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.clinical import (
    albi,
    albi_expr,
    albi_grade,
    albi_grade_expr,
    child_pugh,
    child_pugh_class,
    child_pugh_class_expr,
    child_pugh_expr,
    child_pugh_from_units,
)
from hcctrial.errors import InputError

# (bilirubin umol/L, albumin g/L, INR, ascites, encephalopathy, score, class)
CASES = [
    (25, 38, 1.2, "none", "none", 5, "A"),  # 1 all: best possible
    (33.9, 35.1, 1.69, "none", "none", 5, "A"),  # 2 just inside the 1-point bands
    (34, 38, 1.2, "none", "none", 6, "A"),  # 3 bilirubin 34 -> 2 points
    (50, 35, 1.2, "none", "none", 7, "B"),  # 4 bilirubin 50 -> 2; albumin 35 -> 2
    (50.1, 38, 1.2, "none", "none", 7, "B"),  # 5 bilirubin > 50 -> 3
    (20, 28, 1.7, "none", "none", 7, "B"),  # 6 albumin 28 -> 2, INR 1.7 -> 2
    (20, 27.9, 2.3, "none", "none", 8, "B"),  # 7 albumin < 28 -> 3, INR 2.3 -> 2
    (20, 40, 2.31, "none", "none", 7, "B"),  # 8 INR > 2.3 -> 3
    (40, 30, 1.8, "mild", "grade1-2", 10, "C"),  # 9 all 2 points
    (60, 25, 2.5, "moderate", "grade3-4", 15, "C"),  # 10 worst possible
    (20, 40, 1.0, "slight", "none", 6, "A"),  # 11 synonyms
    (20, 40, 1.0, "tense", "Grade 3-4", 9, "B"),  # 12
    (20, 40, 1.0, "none", 2, 6, "A"),  # 13 West Haven grade 2 -> 2 points
]


@pytest.mark.parametrize(("bili", "alb", "inr", "asc", "enc", "score", "klass"), CASES)
def test_01_child_pugh_cases(
    bili: float, alb: float, inr: float, asc: str, enc: object, score: int, klass: str
) -> None:
    result = child_pugh(bili, alb, inr, asc, enc)  # type: ignore[arg-type]
    assert (result.score, result.klass) == (score, klass)


def test_02_class_edges() -> None:
    """Pugh 1973: A 5-6, B 7-9, C 10-15."""
    assert [child_pugh_class(s) for s in range(5, 16)] == ["A"] * 2 + ["B"] * 3 + ["C"] * 6
    for bad in (4, 16, 6.5):
        with pytest.raises(InputError):
            child_pugh_class(bad)  # type: ignore[arg-type]


def test_03_prothrombin_time_prolongation() -> None:
    """The original item: PT prolonged 1-4 s -> 1, 4-6 -> 2, > 6 -> 3."""
    assert child_pugh(20, 40, None, "none", "none", pt_prolongation_s=3.9).coagulation_points == 1
    assert child_pugh(20, 40, None, "none", "none", pt_prolongation_s=4).coagulation_points == 2
    assert child_pugh(20, 40, None, "none", "none", pt_prolongation_s=6).coagulation_points == 2
    assert child_pugh(20, 40, None, "none", "none", pt_prolongation_s=6.1).coagulation_points == 3
    with pytest.raises(InputError, match="INR or prothrombin"):
        child_pugh(20, 40, None, "none", "none")


def test_04_units_and_the_mg_dl_edges() -> None:
    """3.0 mg/dL is 2 points on Pugh's mg/100 ml table; its SI value 51.3 umol/L is 3 points on the
    SI edges (<34 | 34-50 | >50)."""
    assert child_pugh_from_units(3.0, "mg/dL", 3.6, "g/dL", 1.0, "none", "none").score == 6
    assert child_pugh_from_units(3.01, "mg/dL", 3.6, "g/dL", 1.0, "none", "none").score == 7
    assert child_pugh_from_units(51.3, "umol/L", 36, "g/L", 1.0, "none", "none").score == 7
    assert child_pugh_from_units(1.99, "mg/dL", 3.5, "g/dL", 1.0, "none", "none").score == 6


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((20, 40, 1.0, "lots", "none"), "unknown ascites"),
        ((20, 40, 1.0, "none", "grade 5"), "unknown encephalopathy"),
        ((-1, 40, 1.0, "none", "none"), "bilirubin"),
        ((20, 3.5, 1.0, "none", "none"), "3.5 g/dL = 35 g/L"),  # g/dL given as g/L
        ((20, 350, 1.0, "none", "none"), "albumin is in g/L"),
        ((20, 40, 0, "none", "none"), "INR"),
    ],
)
def test_05_invalid_inputs(args: tuple[object, ...], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        child_pugh(*args)  # type: ignore[arg-type]


def test_06_child_pugh_vectorised() -> None:
    df = pl.DataFrame(
        {
            "BILI": [float(c[0]) for c in CASES[:10]] + [None],
            "ALB": [float(c[1]) for c in CASES[:10]] + [40.0],
            "INR": [float(c[2]) for c in CASES[:10]] + [1.0],
            "ASC": [c[3] for c in CASES[:10]] + ["none"],
            "ENC": [str(c[4]) for c in CASES[:10]] + ["none"],
        }
    )
    out = df.select(child_pugh_expr("BILI", "ALB", "INR", "ASC", "ENC")).with_columns(
        child_pugh_class_expr("CHILD_PUGH_SCORE")
    )
    assert out["CHILD_PUGH_SCORE"].to_list() == [c[5] for c in CASES[:10]] + [None]
    assert out["CHILD_PUGH_CLASS"].to_list() == [c[6] for c in CASES[:10]] + [None]
    bad = df.with_columns(pl.lit("lots").alias("ASC"))
    with pytest.raises(InputError, match="unknown ascites"):
        bad.select(child_pugh_expr("BILI", "ALB", "INR", "ASC", "ENC"))


def test_07_albi_worked_examples() -> None:
    """Johnson 2015: ALBI = 0.66 log10(bili) - 0.085 alb; hand computations."""
    r = albi(10, 45)  # 0.66 x 1 - 3.825 = -3.165
    assert r.score == pytest.approx(-3.165, abs=1e-12) and r.grade == "1"
    r = albi(17.1, 35)  # 0.66 x 1.23300 - 2.975 = -2.16122
    assert r.score == pytest.approx(0.66 * math.log10(17.1) - 2.975) and r.grade == "2"
    r = albi(51, 25)  # 0.66 x 1.70757 - 2.125 = -0.99800
    assert r.score == pytest.approx(-0.998, abs=1e-4) and r.grade == "3"


def test_08_albi_grade_edges() -> None:
    """Grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3; mALBI 2a <= -2.270 < 2b (Hiraoka 2017)."""
    assert albi_grade(-2.60) == "1"
    assert albi_grade(-2.5999) == "2"
    assert albi_grade(-1.39) == "2"
    assert albi_grade(-1.3899) == "3"
    assert albi_grade(-2.27, modified=True) == "2a"
    assert albi_grade(-2.2699, modified=True) == "2b"
    assert albi(17, 40, modified=True).grade == "2a"
    with pytest.raises(InputError, match="bilirubin"):
        albi(0, 40)


def test_09_albi_vectorised() -> None:
    df = pl.DataFrame({"b": [10.0, 17.1, 51.0, None], "a": [45.0, 35.0, 25.0, 40.0]})
    out = df.select(albi_expr("b", "a")).with_columns(albi_grade_expr("ALBI"))
    assert out["ALBI"].to_list()[:3] == pytest.approx(
        [albi(10, 45).score, albi(17.1, 35).score, albi(51, 25).score]
    )
    assert out["ALBI_GRADE"].to_list() == ["1", "2", "3", None]
    with pytest.raises(InputError, match="bilirubin not positive"):
        pl.DataFrame({"b": [0.0], "a": [40.0]}).select(albi_expr("b", "a"))


_asc = st.sampled_from(["none", "mild", "moderate"])
_enc = st.sampled_from(["none", "grade1-2", "grade3-4"])


@settings(max_examples=300, deadline=None)
@given(
    b1=st.floats(0, 500),
    b2=st.floats(0, 500),
    alb=st.floats(10, 60),
    inr=st.floats(0.8, 5),
    asc=_asc,
    enc=_enc,
)
def test_10_child_pugh_monotone_in_bilirubin(
    b1: float, b2: float, alb: float, inr: float, asc: str, enc: str
) -> None:
    lo, hi = sorted((b1, b2))
    assert child_pugh(lo, alb, inr, asc, enc).score <= child_pugh(hi, alb, inr, asc, enc).score


@settings(max_examples=300, deadline=None)
@given(b=st.floats(1, 500), a1=st.floats(10, 60), a2=st.floats(10, 60), inr=st.floats(0.8, 5))
def test_11_scores_monotone_in_albumin(b: float, a1: float, a2: float, inr: float) -> None:
    lo, hi = sorted((a1, a2))
    assert (
        child_pugh(b, hi, inr, "none", "none").score <= child_pugh(b, lo, inr, "none", "none").score
    )
    assert albi(b, hi).score <= albi(b, lo).score
    assert 5 <= child_pugh(b, lo, inr, "none", "none").score <= 15
