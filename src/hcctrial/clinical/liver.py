"""Liver function scores: Child-Pugh (Pugh 1973) and ALBI (Johnson 2015).

Inputs are SI: bilirubin in umol/L, albumin in g/L (convert first with
:func:`hcctrial.clinical.units.convert`, or use :func:`child_pugh_from_units`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from hcctrial.clinical._check import category, category_expr, col, number, strict
from hcctrial.clinical.units import convert, normalise_unit
from hcctrial.errors import InputError

__all__ = [
    "ASCITES",
    "ENCEPHALOPATHY",
    "Albi",
    "ChildPugh",
    "albi",
    "albi_expr",
    "albi_grade",
    "albi_grade_expr",
    "child_pugh",
    "child_pugh_class",
    "child_pugh_class_expr",
    "child_pugh_expr",
    "child_pugh_from_units",
]

# --- Child-Pugh ---------------------------------------------------------------------------------
# Pugh RNH, Murray-Lyon IM, Dawson JL, Pietroni MC, Williams R. Transection of the oesophagus
# for bleeding oesophageal varices. Br J Surg 1973;60:646-649, Table 1 (points 1/2/3):
#   bilirubin (mg/100 ml)      1-2 | 2-3 | >3        SI convention: <34 | 34-50 | >50 umol/L
#   albumin (g/100 ml)         >3.5 | 2.8-3.5 | <2.8   SI: >35 | 28-35 | <28 g/L
#   prothrombin time (s prolonged)  1-4 | 4-6 | >6     INR convention: <1.7 | 1.7-2.3 | >2.3
#   ascites                    none | slight | moderate (to severe)
#   encephalopathy (grade)     none | 1 and 2 | 3 and 4
# Class A 5-6, B 7-9, C 10-15. Edges used here, exactly: a value ON an edge of the middle band
# scores 2 (bilirubin 34 and 50 umol/L -> 2; albumin 28 and 35 g/L -> 2; INR 1.7 and 2.3 -> 2;
# PT prolongation 4 and 6 s -> 2). With mg/dL input (child_pugh_from_units) the original edges
# 2 and 3 mg/dL are used, so 3.0 mg/dL (51.3 umol/L) scores 2 there but 3 on the SI edges.
BILIRUBIN_UMOL_L = (34.0, 50.0)
BILIRUBIN_MG_DL = (2.0, 3.0)
ALBUMIN_G_L = (28.0, 35.0)
INR_EDGES = (1.7, 2.3)
PT_PROLONGATION_S = (4.0, 6.0)
# Plausible serum albumin, g/L: below 5 g/L the value is almost surely in g/dL (3.5 g/dL =
# 35 g/L), which would otherwise score 3 points silently; the lowest values reported in
# severe nephrotic syndrome are about 10 g/L.
ALBUMIN_G_L_PLAUSIBLE = (5.0, 100.0)
_ALB_HINT = "albumin is in g/L: 3.5 g/dL = 35 g/L"

# Numeric ascites grades are those of the International Ascites Club (Moore KP et al.,
# Hepatology 2003;38:258-266): 1 mild (ultrasound only) -> 'slight'; 2 moderate and 3 gross
# -> 'moderate'. Numeric encephalopathy grades are West Haven grades 0-4 (Conn 1977).
ASCITES: dict[str, int] = {
    "none": 1,
    "absent": 1,
    "no": 1,
    "0": 1,
    "mild": 2,
    "slight": 2,
    "controlled": 2,
    "1": 2,
    "moderate": 3,
    "severe": 3,
    "moderate-severe": 3,
    "moderate-to-severe": 3,
    "tense": 3,
    "refractory": 3,
    "2": 3,
    "3": 3,
}
ENCEPHALOPATHY: dict[str, int] = {
    "none": 1,
    "absent": 1,
    "no": 1,
    "0": 1,
    "grade0": 1,
    "grade-0": 1,
    "grade1-2": 2,
    "grade-1-2": 2,
    "grade1": 2,
    "grade2": 2,
    "grade-1": 2,
    "grade-2": 2,
    "1-2": 2,
    "1": 2,
    "2": 2,
    "mild": 2,
    "controlled": 2,
    "grade3-4": 3,
    "grade-3-4": 3,
    "grade3": 3,
    "grade4": 3,
    "grade-3": 3,
    "grade-4": 3,
    "3-4": 3,
    "3": 3,
    "4": 3,
    "severe": 3,
    "refractory": 3,
}


@dataclass(frozen=True)
class ChildPugh:
    """A Child-Pugh result: ``score`` (5-15), ``klass`` (A/B/C) and the points of each item."""

    score: int
    klass: str
    bilirubin_points: int
    albumin_points: int
    coagulation_points: int
    ascites_points: int
    encephalopathy_points: int


def _band(value: float, edges: tuple[float, float], higher_is_worse: bool = True) -> int:
    low, high = edges
    if higher_is_worse:
        return 1 if value < low else (2 if value <= high else 3)
    return 1 if value > high else (2 if value >= low else 3)


def child_pugh_class(score: int) -> str:
    """Class from the score: A 5-6, B 7-9, C 10-15 (Pugh 1973)."""
    points = int(number("Child-Pugh score", score, low=5, high=15))
    if points != score:
        raise InputError("Child-Pugh score is not a whole number", value=score, expected="5..15")
    return "A" if points <= 6 else ("B" if points <= 9 else "C")


def child_pugh(
    bilirubin_umol_l: float,
    albumin_g_l: float,
    inr: float | None,
    ascites: str,
    encephalopathy: str,
    *,
    pt_prolongation_s: float | None = None,
    bilirubin_edges: tuple[float, float] = BILIRUBIN_UMOL_L,
) -> ChildPugh:
    """Child-Pugh score and class (Pugh et al., Br J Surg 1973;60:646-649).

    Points 1/2/3 per item; the band edges are in the module constants (a value on an edge of the
    middle band scores 2). Coagulation is the INR (<1.7 | 1.7-2.3 | >2.3) or, when ``inr`` is
    None, the prothrombin time prolongation over control as in the original paper
    (<4 | 4-6 | >6 s).

    Parameters
    ----------
    bilirubin_umol_l : total bilirubin, umol/L (<34 | 34-50 | >50).
    albumin_g_l : albumin, g/L (>35 | 28-35 | <28).
    inr : INR, or None to use ``pt_prolongation_s``.
    ascites : none | mild (slight, controlled by diuretics) | moderate (moderate-severe, tense).
    encephalopathy : none | grade1-2 | grade3-4 (West Haven grades; ``1``..``4`` accepted).
    bilirubin_edges : the bilirubin band edges in umol/L (for the mg/dL table use
        :func:`child_pugh_from_units`).

    Examples
    --------
    Bilirubin 25 umol/L, albumin 38 g/L, INR 1.2, no ascites, no encephalopathy: 5 points, A.
    Bilirubin 40, albumin 30, INR 1.8, mild ascites, grade 1-2 encephalopathy: 10 points, C.
    """
    bili = number("bilirubin", bilirubin_umol_l, unit="umol/L", low=0)
    alb = number(
        "albumin",
        albumin_g_l,
        unit="g/L",
        low=ALBUMIN_G_L_PLAUSIBLE[0],
        high=ALBUMIN_G_L_PLAUSIBLE[1],
        hint=_ALB_HINT,
    )
    if inr is not None:
        coag = _band(number("INR", inr, low=0, low_open=True, high=20), INR_EDGES)
    elif pt_prolongation_s is not None:
        pt = number("prothrombin time prolongation", pt_prolongation_s, unit="s", low=0)
        coag = _band(pt, PT_PROLONGATION_S)
    else:
        raise InputError("Child-Pugh needs INR or prothrombin time prolongation", expected="one")
    points = (
        _band(bili, bilirubin_edges),
        _band(alb, ALBUMIN_G_L, higher_is_worse=False),
        coag,
        int(category("ascites grade", ascites, ASCITES)),
        int(category("encephalopathy grade", encephalopathy, ENCEPHALOPATHY)),
    )
    score = sum(points)
    return ChildPugh(score, child_pugh_class(score), *points)


def child_pugh_from_units(
    bilirubin: float,
    bilirubin_unit: str,
    albumin: float,
    albumin_unit: str,
    inr: float | None,
    ascites: str,
    encephalopathy: str,
    *,
    pt_prolongation_s: float | None = None,
) -> ChildPugh:
    """:func:`child_pugh` from values in any unit: mg/dL bilirubin uses Pugh's 2 and 3 mg/dL edges
    (converted exactly, 34.2 and 51.3 umol/L); any other bilirubin unit is converted to umol/L
    and scored on the SI edges 34 and 50."""
    unit = normalise_unit(bilirubin_unit)
    edges = BILIRUBIN_UMOL_L
    if unit == "mg/dL":
        edges = (
            convert(BILIRUBIN_MG_DL[0], "mg/dL", "umol/L", "BILI"),
            convert(BILIRUBIN_MG_DL[1], "mg/dL", "umol/L", "BILI"),
        )
    bili = number("bilirubin", bilirubin, unit=bilirubin_unit, low=0)
    alb = number("albumin", albumin, unit=albumin_unit, low=0)
    return child_pugh(
        convert(bili, unit, "umol/L", "BILI"),
        convert(alb, albumin_unit, "g/L", "ALB"),
        inr,
        ascites,
        encephalopathy,
        pt_prolongation_s=pt_prolongation_s,
        bilirubin_edges=edges,
    )


def _band_expr(x: pl.Expr, edges: tuple[float, float], higher_is_worse: bool = True) -> pl.Expr:
    low, high = edges
    if higher_is_worse:
        return pl.when(x < low).then(1).when(x <= high).then(2).when(x > high).then(3)
    return pl.when(x > high).then(1).when(x >= low).then(2).when(x < low).then(3)


def child_pugh_expr(
    bilirubin_umol_l: str | pl.Expr,
    albumin_g_l: str | pl.Expr,
    inr: str | pl.Expr,
    ascites: str | pl.Expr,
    encephalopathy: str | pl.Expr,
) -> pl.Expr:
    """Vectorised Child-Pugh score (Int32, 5-15); null when any item is missing.

    Unknown ascites or encephalopathy categories, negative values or NaN raise
    :class:`InputError` when evaluated. Use :func:`child_pugh_class_expr` for the class.
    """
    bili = col(bilirubin_umol_l).cast(pl.Float64)
    alb = col(albumin_g_l).cast(pl.Float64)
    coag = col(inr).cast(pl.Float64)
    asc = category_expr(col(ascites), ASCITES, pl.Int32)
    enc = category_expr(col(encephalopathy), ENCEPHALOPATHY, pl.Int32)
    score = (
        _band_expr(bili, BILIRUBIN_UMOL_L)
        + _band_expr(alb, ALBUMIN_G_L, higher_is_worse=False)
        + _band_expr(coag, INR_EDGES)
        + asc
        + enc
    ).cast(pl.Int32)
    checks = [
        ((bili < 0) | bili.is_nan(), "bilirubin negative or NaN", ">= 0 umol/L"),
        (
            (alb < ALBUMIN_G_L_PLAUSIBLE[0]) | (alb > ALBUMIN_G_L_PLAUSIBLE[1]) | alb.is_nan(),
            "albumin out of range (g/dL given as g/L?)",
            "5 to 100 g/L",
        ),
        ((coag <= 0) | coag.is_nan(), "INR not positive", "> 0"),
        (col(ascites).is_not_null() & asc.is_null(), "unknown ascites grade", "none|mild|moderate"),
        (
            col(encephalopathy).is_not_null() & enc.is_null(),
            "unknown encephalopathy grade",
            "none|grade1-2|grade3-4",
        ),
    ]
    return strict(score.alias("CHILD_PUGH_SCORE"), checks, pl.Int32)


def child_pugh_class_expr(score: str | pl.Expr) -> pl.Expr:
    """Class A (5-6), B (7-9), C (10-15) from a score column; null for null."""
    s = col(score)
    return (
        pl.when(s.is_between(5, 6))
        .then(pl.lit("A"))
        .when(s.is_between(7, 9))
        .then(pl.lit("B"))
        .when(s.is_between(10, 15))
        .then(pl.lit("C"))
        .alias("CHILD_PUGH_CLASS")
    )


# --- ALBI ---------------------------------------------------------------------------------------
# Johnson PJ, Berhane S, Kagebayashi C, et al. Assessment of liver function in patients with
# hepatocellular carcinoma: a new evidence-based approach - the ALBI grade. J Clin Oncol
# 2015;33:550-558. Linear predictor = 0.66 x log10(bilirubin umol/L) - 0.085 x albumin g/L.
# Grades: 1 <= -2.60; 2 > -2.60 and <= -1.39; 3 > -1.39.
ALBI_EDGES = (-2.60, -1.39)
# Modified ALBI (mALBI): grade 2 split at -2.270 into 2a (<= -2.270) and 2b (> -2.270)
# (Hiraoka A, Kumada T, Tsuji K, et al. Liver Cancer 2017;6:325-336).
MALBI_2A_2B = -2.270


@dataclass(frozen=True)
class Albi:
    """An ALBI result: the linear predictor ``score`` and ``grade`` ("1", "2", "3"; or mALBI
    "1", "2a", "2b", "3")."""

    score: float
    grade: str


def albi_grade(score: float, modified: bool = False) -> str:
    """ALBI grade from the score (Johnson 2015); ``modified`` gives mALBI 2a/2b (Hiraoka 2017)."""
    s = number("ALBI score", score)
    if s <= ALBI_EDGES[0]:
        return "1"
    if s <= ALBI_EDGES[1]:
        if modified:
            return "2a" if s <= MALBI_2A_2B else "2b"
        return "2"
    return "3"


def albi(bilirubin_umol_l: float, albumin_g_l: float, modified: bool = False) -> Albi:
    r"""ALBI score and grade (Johnson et al., J Clin Oncol 2015;33:550-558).

    .. math:: \mathrm{ALBI} = 0.66 \log_{10}(\text{bilirubin}_{\mu mol/L})
              - 0.085\,\text{albumin}_{g/L}

    Grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3.

    Example: bilirubin 10 umol/L, albumin 45 g/L: 0.66 x 1 - 0.085 x 45 = -3.165, grade 1.
    """
    bili = number("bilirubin", bilirubin_umol_l, unit="umol/L", low=0, low_open=True)
    alb = number(
        "albumin",
        albumin_g_l,
        unit="g/L",
        low=ALBUMIN_G_L_PLAUSIBLE[0],
        high=ALBUMIN_G_L_PLAUSIBLE[1],
        hint=_ALB_HINT,
    )
    score = 0.66 * math.log10(bili) - 0.085 * alb
    return Albi(score, albi_grade(score, modified))


def albi_expr(bilirubin_umol_l: str | pl.Expr, albumin_g_l: str | pl.Expr) -> pl.Expr:
    """Vectorised ALBI score (Float64); bilirubin <= 0 or albumin outside 0-100 g/L raise."""
    bili = col(bilirubin_umol_l).cast(pl.Float64)
    alb = col(albumin_g_l).cast(pl.Float64)
    score = 0.66 * bili.log10() - 0.085 * alb
    checks = [
        ((bili <= 0) | bili.is_nan(), "bilirubin not positive", "> 0 umol/L"),
        (
            (alb < ALBUMIN_G_L_PLAUSIBLE[0]) | (alb > ALBUMIN_G_L_PLAUSIBLE[1]) | alb.is_nan(),
            "albumin out of range (g/dL given as g/L?)",
            "5 to 100 g/L",
        ),
    ]
    return strict(score.alias("ALBI"), checks, pl.Float64)


def albi_grade_expr(score: str | pl.Expr) -> pl.Expr:
    """ALBI grade ("1", "2", "3") from a score column; null for null."""
    s = col(score)
    return (
        pl.when(s <= ALBI_EDGES[0])
        .then(pl.lit("1"))
        .when(s <= ALBI_EDGES[1])
        .then(pl.lit("2"))
        .when(s > ALBI_EDGES[1])
        .then(pl.lit("3"))
        .alias("ALBI_GRADE")
    )
