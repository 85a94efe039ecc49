"""Every grade edge of every listed analyte, on both sides, for CTCAE v5.0 and v4.03.

Expected grades are written by hand from the documents, not read from the package data files:
NCI Common Terminology Criteria for Adverse Events v5.0 (27 November 2017) and v4.03
(14 June 2010), the SOC named in each block (Investigations; Metabolism and nutrition
disorders; Blood and lymphatic system disorders). Each edge ``e`` is given as
``(e, grade at e, grade just beyond e)``, where "beyond" is ``e + step`` for a high term and
``e - step`` for a low term, so that ``>`` versus ``>=`` is checked on both sides.
"""

from __future__ import annotations

import polars as pl
import pytest

from hcctrial.safety import find_ctcae_term, grade_lab, grade_labs

V5, V4 = "5.0", "4.03"
BOTH = (V5, V4)

# (versions, term, lln, uln, baseline, step, [(edge, grade at edge, grade beyond edge)])
EDGES: list[tuple[tuple[str, ...], str, float | None, float | None, float | None, float, list]] = [
    # Investigations, "Alanine aminotransferase increased": v5.0 >ULN - 3.0; >3.0 - 5.0;
    # >5.0 - 20.0; >20.0 x ULN if baseline was normal; v4.03 the same without the clause.
    (
        BOTH,
        "Alanine aminotransferase increased",
        0,
        40,
        None,
        0.1,
        [(40, 0, 1), (120, 1, 2), (200, 2, 3), (800, 3, 4)],
    ),
    # v5.0 only: "1.5 - 3.0 x baseline; >3.0 - 5.0; >5.0 - 20.0; >20.0 x baseline if baseline
    # was abnormal" (baseline 50 > ULN 40). 1.5 x baseline is included in grade 1.
    (
        (V5,),
        "Alanine aminotransferase increased",
        0,
        40,
        50,
        0.1,
        [(150, 1, 2), (250, 2, 3), (1000, 3, 4)],
    ),
    ((V5,), "Alanine aminotransferase increased", 0, 40, 50, -0.1, [(75, 1, 0)]),
    (
        BOTH,
        "Aspartate aminotransferase increased",
        0,
        40,
        None,
        0.1,
        [(40, 0, 1), (120, 1, 2), (200, 2, 3), (800, 3, 4)],
    ),
    (
        (V5,),
        "Aspartate aminotransferase increased",
        0,
        40,
        50,
        0.1,
        [(150, 1, 2), (250, 2, 3), (1000, 3, 4)],
    ),
    ((V5,), "Aspartate aminotransferase increased", 0, 40, 50, -0.1, [(75, 1, 0)]),
    # "Alkaline phosphatase increased": >ULN - 2.5; >2.5 - 5.0; >5.0 - 20.0; >20.0 x ULN;
    # v5.0 abnormal baseline: 2.0 - 2.5; >2.5 - 5.0; >5.0 - 20.0; >20.0 x baseline.
    (
        BOTH,
        "Alkaline phosphatase increased",
        0,
        120,
        None,
        0.1,
        [(120, 0, 1), (300, 1, 2), (600, 2, 3), (2400, 3, 4)],
    ),
    (
        (V5,),
        "Alkaline phosphatase increased",
        0,
        120,
        150,
        0.1,
        [(375, 1, 2), (750, 2, 3), (3000, 3, 4)],
    ),
    ((V5,), "Alkaline phosphatase increased", 0, 120, 150, -0.1, [(300, 1, 0)]),
    # "GGT increased": as alkaline phosphatase.
    (BOTH, "GGT increased", 0, 60, None, 0.1, [(60, 0, 1), (150, 1, 2), (300, 2, 3), (1200, 3, 4)]),
    ((V5,), "GGT increased", 0, 60, 80, 0.1, [(200, 1, 2), (400, 2, 3), (1600, 3, 4)]),
    ((V5,), "GGT increased", 0, 60, 80, -0.1, [(160, 1, 0)]),
    # "Blood bilirubin increased": >ULN - 1.5; >1.5 - 3.0; >3.0 - 10.0; >10.0 x ULN;
    # v5.0 abnormal baseline: >1.0 - 1.5; >1.5 - 3.0; >3.0 - 10.0; >10.0 x baseline.
    (
        BOTH,
        "Blood bilirubin increased",
        0,
        20,
        None,
        0.1,
        [(20, 0, 1), (30, 1, 2), (60, 2, 3), (200, 3, 4)],
    ),
    (
        (V5,),
        "Blood bilirubin increased",
        0,
        20,
        30,
        0.1,
        [(30, 0, 1), (45, 1, 2), (90, 2, 3), (300, 3, 4)],
    ),
    # "Creatinine increased": >ULN - 1.5 x ULN; >1.5 - 3.0 x ULN; >3.0 - 6.0 x ULN; >6.0 x ULN
    (
        BOTH,
        "Creatinine increased",
        0,
        100,
        None,
        0.1,
        [(100, 0, 1), (150, 1, 2), (300, 2, 3), (600, 3, 4)],
    ),
    # ... and >1.5 - 3.0 x baseline (grade 2), >3.0 x baseline (grade 3), both versions.
    (BOTH, "Creatinine increased", 0, 100, 90, 0.1, [(135, 1, 2), (270, 2, 3)]),
    # Metabolism and nutrition disorders, "Hypoalbuminemia": <LLN - 30 g/L; <30 - 20; <20 g/L
    (BOTH, "Hypoalbuminemia", 35, 50, None, 0.1, [(35, 0, 1), (30, 1, 2), (20, 2, 3)]),
    # Investigations, "Platelet count decreased": <LLN - 75.0; <75.0 - 50.0; <50.0 - 25.0;
    # <25.0 x 10e9/L
    (
        BOTH,
        "Platelet count decreased",
        150,
        400,
        None,
        0.1,
        [(150, 0, 1), (75, 1, 2), (50, 2, 3), (25, 3, 4)],
    ),
    # "Neutrophil count decreased": <LLN - 1.5; <1.5 - 1.0; <1.0 - 0.5; <0.5 x 10e9/L
    (
        BOTH,
        "Neutrophil count decreased",
        2.0,
        7.5,
        None,
        0.01,
        [(2.0, 0, 1), (1.5, 1, 2), (1.0, 2, 3), (0.5, 3, 4)],
    ),
    # "Lymphocyte count decreased": <LLN - 0.8; <0.8 - 0.5; <0.5 - 0.2; <0.2 x 10e9/L
    (
        BOTH,
        "Lymphocyte count decreased",
        1.0,
        3.5,
        None,
        0.01,
        [(1.0, 0, 1), (0.8, 1, 2), (0.5, 2, 3), (0.2, 3, 4)],
    ),
    # "Lymphocyte count increased": >4000/mm3 - 20,000/mm3 (grade 2); >20,000/mm3 (grade 3)
    (
        BOTH,
        "Lymphocyte count increased",
        1.0,
        3.5,
        None,
        0.01,
        [(3.5, 0, 0), (4.0, 0, 2), (20.0, 2, 3)],
    ),
    # "White blood cell decreased": <LLN - 3.0; <3.0 - 2.0; <2.0 - 1.0; <1.0 x 10e9/L
    (
        BOTH,
        "White blood cell decreased",
        4.0,
        10.0,
        None,
        0.01,
        [(4.0, 0, 1), (3.0, 1, 2), (2.0, 2, 3), (1.0, 3, 4)],
    ),
    # Blood and lymphatic system disorders, "Leukocytosis": >100,000/mm3 (grade 3)
    (BOTH, "Leukocytosis", 4.0, 10.0, None, 0.01, [(10.0, 0, 0), (100.0, 0, 3)]),
    # "Anemia": Hgb <LLN - 100 g/L; <100 - 80 g/L; <80 g/L
    (BOTH, "Anemia", 130, 170, None, 0.1, [(130, 0, 1), (100, 1, 2), (80, 2, 3)]),
    # Investigations, "Hemoglobin increased": increase in >0 - 2; >2 - 4; >4 g/dL above ULN
    (BOTH, "Hemoglobin increased", 130, 170, None, 0.1, [(170, 0, 1), (190, 1, 2), (210, 2, 3)]),
    # ... above baseline if baseline is above ULN (v4.03 wording, read into v5.0)
    (BOTH, "Hemoglobin increased", 130, 170, 180, 0.1, [(180, 0, 1), (200, 1, 2), (220, 2, 3)]),
    # "INR increased": v5.0 >1.2 - 1.5; >1.5 - 2.5; >2.5 x ULN. v4.03 >1 - 1.5 x ULN ...
    (
        (V5,),
        "INR increased",
        0.8,
        1.0,
        None,
        0.01,
        [(1.0, 0, 0), (1.2, 0, 1), (1.5, 1, 2), (2.5, 2, 3)],
    ),
    ((V4,), "INR increased", 0.8, 1.0, None, 0.01, [(1.0, 0, 1), (1.5, 1, 2), (2.5, 2, 3)]),
    # "Lipase increased": v5.0 >ULN - 1.5; >1.5 - 2.0 and >2.0 - 5.0 x ULN asymptomatic (2);
    # >5.0 x ULN asymptomatic (3). v4.03 >ULN - 1.5; >1.5 - 2.0; >2.0 - 5.0; >5.0 x ULN.
    (
        (V5,),
        "Lipase increased",
        0,
        60,
        None,
        0.1,
        [(60, 0, 1), (90, 1, 2), (120, 2, 2), (300, 2, 3)],
    ),
    (
        (V4,),
        "Lipase increased",
        0,
        60,
        None,
        0.1,
        [(60, 0, 1), (90, 1, 2), (120, 2, 3), (300, 3, 4)],
    ),
    (
        (V5,),
        "Serum amylase increased",
        0,
        100,
        None,
        0.1,
        [(100, 0, 1), (150, 1, 2), (200, 2, 2), (500, 2, 3)],
    ),
    (
        (V4,),
        "Serum amylase increased",
        0,
        100,
        None,
        0.1,
        [(100, 0, 1), (150, 1, 2), (200, 2, 3), (500, 3, 4)],
    ),
    # Metabolism and nutrition disorders, "Hyponatremia": v5.0 <LLN - 130; 125-129
    # (asymptomatic); 120-124; <120 mmol/L. v4.03 <LLN - 130; <130 - 120; <120 mmol/L.
    (
        (V5,),
        "Hyponatremia",
        135,
        145,
        None,
        0.1,
        [(135, 0, 1), (130, 1, 2), (125, 2, 3), (120, 3, 4)],
    ),
    ((V4,), "Hyponatremia", 135, 145, None, 0.1, [(135, 0, 1), (130, 1, 3), (120, 3, 4)]),
    # "Hypernatremia": >ULN - 150; >150 - 155; >155 - 160; >160 mmol/L
    (
        BOTH,
        "Hypernatremia",
        135,
        145,
        None,
        0.1,
        [(145, 0, 1), (150, 1, 2), (155, 2, 3), (160, 3, 4)],
    ),
    # "Hypokalemia": <LLN - 3.0 (grade 1; grade 2 needs symptoms); <3.0 - 2.5; <2.5 mmol/L
    (BOTH, "Hypokalemia", 3.5, 5.1, None, 0.01, [(3.5, 0, 1), (3.0, 1, 3), (2.5, 3, 4)]),
    # "Hyperkalemia": >ULN - 5.5; >5.5 - 6.0; >6.0 - 7.0; >7.0 mmol/L
    (
        BOTH,
        "Hyperkalemia",
        3.5,
        5.1,
        None,
        0.01,
        [(5.1, 0, 1), (5.5, 1, 2), (6.0, 2, 3), (7.0, 3, 4)],
    ),
    # "Hypocalcemia": <LLN - 2.0; <2.0 - 1.75; <1.75 - 1.5; <1.5 mmol/L
    (
        BOTH,
        "Hypocalcemia",
        2.15,
        2.55,
        None,
        0.01,
        [(2.15, 0, 1), (2.0, 1, 2), (1.75, 2, 3), (1.5, 3, 4)],
    ),
    # "Hypercalcemia": >ULN - 2.9; >2.9 - 3.1; >3.1 - 3.4; >3.4 mmol/L
    (
        BOTH,
        "Hypercalcemia",
        2.15,
        2.55,
        None,
        0.01,
        [(2.55, 0, 1), (2.9, 1, 2), (3.1, 2, 3), (3.4, 3, 4)],
    ),
    # "Hypoglycemia": <LLN - 3.0; <3.0 - 2.2; <2.2 - 1.7; <1.7 mmol/L
    (
        BOTH,
        "Hypoglycemia",
        3.9,
        6.1,
        None,
        0.01,
        [(3.9, 0, 1), (3.0, 1, 2), (2.2, 2, 3), (1.7, 3, 4)],
    ),
    # v4.03 "Hyperglycemia": fasting >ULN - 8.9; >8.9 - 13.9; >13.9 - 27.8; >27.8 mmol/L
    (
        (V4,),
        "Hyperglycemia",
        3.9,
        6.1,
        None,
        0.01,
        [(6.1, 0, 1), (8.9, 1, 2), (13.9, 2, 3), (27.8, 3, 4)],
    ),
    # "Hypomagnesemia": <LLN - 0.5; <0.5 - 0.4; <0.4 - 0.3; <0.3 mmol/L
    (
        BOTH,
        "Hypomagnesemia",
        0.7,
        1.0,
        None,
        0.01,
        [(0.7, 0, 1), (0.5, 1, 2), (0.4, 2, 3), (0.3, 3, 4)],
    ),
    # "Hypermagnesemia": >ULN - 1.23 (1); no grade 2; >1.23 - 3.30 (3); >3.30 mmol/L (4)
    (BOTH, "Hypermagnesemia", 0.7, 1.0, None, 0.01, [(1.0, 0, 1), (1.23, 1, 3), (3.30, 3, 4)]),
]

_LOW = {
    "Hypoalbuminemia", "Platelet count decreased", "Neutrophil count decreased",
    "Lymphocyte count decreased", "White blood cell decreased", "Anemia", "Hyponatremia",
    "Hypokalemia", "Hypocalcemia", "Hypoglycemia", "Hypomagnesemia",
}  # fmt: skip


def _cases() -> list[object]:
    out = []
    for versions, term, lln, uln, base, step, edges in EDGES:
        for version in versions:
            for edge, at, beyond in edges:
                sign = -1 if term in _LOW else 1
                past = round(edge + sign * abs(step), 6) if step > 0 else round(edge + step, 6)
                tag = f"v{version}-{term}-base{base}"
                out.append(
                    pytest.param(version, term, lln, uln, base, edge, at, id=f"{tag}-{edge}")
                )
                out.append(
                    pytest.param(version, term, lln, uln, base, past, beyond, id=f"{tag}-{past}")
                )
    return out


_CASES = _cases()


@pytest.fixture(scope="module")
def graded() -> dict[tuple[object, ...], int | None]:
    """All edge cases graded in one :func:`grade_labs` call per version (one LB row each)."""
    out: dict[tuple[object, ...], int | None] = {}
    for version in BOTH:
        rows = [c.values for c in _CASES if c.values[0] == version]
        terms = [find_ctcae_term(str(r[1]), version)[0] for r in rows]
        lb = pl.DataFrame(
            {
                "USUBJID": [str(i) for i in range(len(rows))],
                "LBTESTCD": [t.lbtestcd for t in terms],
                "LBSTRESN": [float(r[5]) for r in rows],  # type: ignore[arg-type]
                "LBSTRESU": [t.unit for t in terms],
                "LBSTNRLO": [r[2] for r in rows],
                "LBSTNRHI": [r[3] for r in rows],
                "BASE": [r[4] for r in rows],
            },
            schema_overrides={c: pl.Float64 for c in ("LBSTNRLO", "LBSTNRHI", "BASE")},
        )
        res = grade_labs(lb, version)
        for r, t, lo, hi in zip(rows, terms, res["ATOXGRL"], res["ATOXGRH"], strict=True):
            out[tuple(r[:6])] = lo if t.direction == "low" else hi
    return out


@pytest.mark.parametrize(("version", "term", "lln", "uln", "base", "value", "expected"), _CASES)
def test_grade_edge(
    graded: dict[tuple[object, ...], int | None],
    version: str,
    term: str,
    lln: float,
    uln: float,
    base: float | None,
    value: float,
    expected: int,
) -> None:
    got = graded[(version, term, lln, uln, base, value)]
    assert got == expected, (term, version, value, got)


def test_one_row_helper_agrees_with_the_table() -> None:
    """:func:`grade_lab` is a one-row :func:`grade_labs` (spot check on both sides of edges)."""
    assert grade_lab("PLT", 75.0, lln=150, uln=400).grade == 1
    assert grade_lab("PLT", 74.9, lln=150, uln=400).grade == 2


def test_every_listed_analyte_has_edges_in_both_versions() -> None:
    covered = {(v, term) for versions, term, *_ in EDGES for v in versions}
    for term in (
        "Alanine aminotransferase increased", "Aspartate aminotransferase increased",
        "Alkaline phosphatase increased", "GGT increased", "Blood bilirubin increased",
        "Creatinine increased", "Hypoalbuminemia", "Platelet count decreased",
        "Neutrophil count decreased", "Lymphocyte count decreased", "Lymphocyte count increased",
        "White blood cell decreased", "Anemia", "Hemoglobin increased", "INR increased",
        "Lipase increased", "Serum amylase increased", "Hyponatremia", "Hypernatremia",
        "Hypokalemia", "Hyperkalemia", "Hypocalcemia", "Hypercalcemia", "Hypoglycemia",
        "Hypomagnesemia", "Hypermagnesemia",
    ):  # fmt: skip
        assert (V5, term) in covered and (V4, term) in covered, term
    assert (V4, "Hyperglycemia") in covered


def test_v5_hyperglycemia_is_clinical_only() -> None:
    """v5.0 "Hyperglycemia" grades by management (no glucose bound): ungradable above ULN."""
    high = grade_lab("Hyperglycemia", 15.0, lln=3.9, uln=6.1, version=V5)
    assert high.grade is None and "clinical management" in (high.reason or "")
    assert grade_lab("Hyperglycemia", 6.1, lln=3.9, uln=6.1, version=V5).grade == 0


def test_v403_hyperglycemia_needs_fasting() -> None:
    """v4.03 "Hyperglycemia" grades a fasting glucose value; LBFAST = N is not graded."""
    got = grade_lab("Hyperglycemia", 15.0, lln=3.9, uln=6.1, version=V4, fasting=False)
    assert got.grade is None and "fasting" in (got.reason or "")
    assert grade_lab("Hyperglycemia", 15.0, lln=3.9, uln=6.1, version=V4, fasting=True).grade == 3


def test_v403_ignores_abnormal_baseline_for_liver_tests() -> None:
    """v4.03 ALT has no baseline clause: 60 U/L with ULN 40 is grade 1 whatever the baseline;
    v5.0 with baseline 50 (abnormal) gives 0 (60 < 1.5 x 50)."""
    assert grade_lab("ALT", 60, lln=0, uln=40, baseline=50, version=V4).grade == 1
    assert grade_lab("ALT", 60, lln=0, uln=40, baseline=50, version=V5).grade == 0
