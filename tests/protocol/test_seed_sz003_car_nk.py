"""sz003-car-nk (SZ003 GPC3 CAR-NK, single arm): the built-in protocol against its record.

The record (seed ``001_ecef0c5295709b0e.txt``, copied to ``records/``) is quoted here
verbatim. Its eligibility text is split into the record's own items; each item must be covered,
letter for letter, by the ``source`` fragments of criteria of the same kind (only the record's
headings and connectives may be left over), every criterion must quote its section, every
expression must parse in the eligibility language and read what its sentence names, and a
reference patient must move across each threshold exactly where the record puts it. The record
has no dose, schedule or outcome: every such item must name an assumption.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seedcheck import record_lines, record_text, sources, squash, uncovered

import hcctrial
from hcctrial.eligibility import parse_expression, record_from_dict, screen_patient
from hcctrial.protocol import Protocol, builtin_protocols

ID = "sz003-car-nk"
RECORD = "001_ecef0c5295709b0e.txt"
AS_OF = date(2026, 11, 20)

# --- the record, verbatim: its eligibility items (separated by ';' or '. ' in the record) -------
INCLUSION = [
    "With advanced hepatocellular carcinoma (HCC) confirmed by histopathology",
    "With stage C according to the Barcelona liver cancer grading criteria (BCLC) or with stage "
    "B who are ineligible for locoregional/locoregional therapy progression",
    "Unsuitable for surgery or local therapy (including ablation, interventional and "
    "radiotherapy) and who have experienced progression or intolerance after previous standard "
    "therapy",
    "Through immune tissues chemistry, confirmation of tumor cells positive expression of "
    "relevant molecular targets (GPC3)",
    "With at least one stable evaluable target lesion according to RECIST 1.1 criteria, which "
    "was defined as: non-nodal lesion longest diameter ≥10 mm, or nodal lesion short diameter "
    "≥15 mm",
    "Age 18-80, male or female",
    "Karnofsky Performance Status (KPS)≥80",
    "Stable vital signs and expected survival at least 12 weeks.",
    "If HBsAg or HBcAb is positive, HBV-DNA < 200 IU/ml and to receive anti-HBV therapy "
    "((Entecavir or tenofovirdisoproxil) for at least 14 days prior to the start of study "
    "treatment",
    "Blood Routine: WBC≥2.5×109/L, PLT≥60×109/L, Hb≥9.0g/dL, LY≥0.4×109/L",
    "Blood biochemistry: Alb≥30g/L, Lipase and Amylase ≤1.5 ULN, Serum creatinine ≤1.5 ULN, "
    "creatinine clearance ≥40mL/min, ALT≤5 ULN, AST≤5 ULN, Total Serum bilirubin ≤2.5 ULN, "
    "prothrombin time ≤6s",
    "Be able to understand and sign an informed consent form",
]
EXCLUSION = [
    "With uncontrolled active infections",
    "No other prior malignancy except nonmelanoma skin cancer or carcinoma in situ of the cervix "
    "within 5 years before study treatment initiation.",
    "With previous history of encephalopathy.",
    "With active acute or chronic virus, germ infection",
    "Diagnosed with HIV infection or active hepatitis, HBV, HCV infection or other serious "
    "infectious diseases",
    "Other serious medical conditions that may limit participation in the trial (such as poorly "
    "controlled diabetes (treated Glycated hemoglobin HbA1c > 7%) , severe heart failure (left "
    "ventricular ejection fraction (LVEF) < 45%) , myocardial infarction or unstable arrhythmia "
    "or unstable angina in the last 6 months, pulmonary embolism, chronic obstructive pulmonary "
    "disease, Interstitial lung disease, pulmonary function test FEV1 < 60% predicted, gastric "
    "ulcer, history of gastrointestinal bleeding, or definite gastrointestinal bleeding tendency) ",
    "Ascites more than 5cm",
    "The proportion of liver replaced by tumor≥70%, or with tumor infiltration in the portal "
    "vein, hepatic veins or inferior vena cava that completely blocks circulation in liver",
    "Prior solid organ transplantation or waiting for organ transplantation (including liver "
    "transplantation)",
    "Prior anti-tumor therapies within 14 days before study treatment initiation, such as "
    "surgery, interventional therapy, radiotherapy, chemotherapy, immunotherapy.",
    "Long-term systemic steroid therapy or patients with autoimmune diseases",
    "With a history of allergic reactions attributed to compounds of similar chemical or "
    "biological composition used in the study",
    "Have participation in clinical trials of any other investigational agents within 3 months "
    "before study treatment initiation.",
    "Had received cell therapy previously but ineffective,after physical examination not "
    "allowed to received CAR-NK therapy by investigator's judgement",
    "Pregnant or lactating women",
    "Inappropriate to participate in this clinical trial by investigator's judgement.",
]
# Words that may stay uncovered: the record's headings and connectives.
CONNECTIVES = {"and", "or", "such", "as", "Blood", "Routine", "biochemistry"}


def _sections() -> tuple[str, str]:
    line = next(x for x in record_lines(RECORD) if x.startswith("Inclusion Criteria: "))
    inclusion, exclusion = line.split(" Exclusion Criteria: ")
    return inclusion.removeprefix("Inclusion Criteria: "), exclusion


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return hcctrial.load_protocol(ID)


def test_quotes_are_the_record_and_complete() -> None:
    inclusion, exclusion = _sections()
    # The items, rejoined with the record's separators, are the record's sections exactly.
    pattern = r"\s*;\s*|(?<=\.)\s+"
    assert [s.strip() for s in re.split(pattern, inclusion) if s.strip()] == [
        s.strip() for s in INCLUSION
    ]
    assert [s.strip() for s in re.split(pattern, exclusion) if s.strip()] == [
        s.strip() for s in EXCLUSION
    ]


def test_loads_by_id_alias_and_builtins(protocol: Protocol) -> None:
    assert builtin_protocols()[ID] == protocol
    assert hcctrial.load_protocol("SZ003") == protocol
    assert protocol.official_title == record_lines(RECORD)[0]
    assert protocol.design.allocation == "single-arm" and protocol.design.masking == "none"
    [arm] = protocol.arms
    assert arm.label == "SZ003 CAR-NK" and arm.type == "experimental"  # "Arm 1 Experimental"
    assert protocol.intervention("sz003").target is not None
    assert "GPC3" in (protocol.intervention("sz003").target or "")


# --- eligibility: sentence-level coverage ------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "sentence"),
    [("inclusion", s) for s in INCLUSION] + [("exclusion", s) for s in EXCLUSION],
)
def test_every_record_sentence_is_encoded(protocol: Protocol, kind: str, sentence: str) -> None:
    fragments = [c.source for c in protocol.eligibility.criteria if c.kind == kind]
    fragments = [f for f in fragments if f in sentence]
    assert fragments, f"no {kind} criterion encodes: {sentence}"
    words = set(re.findall(r"[A-Za-z0-9]+", _uncovered_text(sentence, fragments)))
    assert words <= CONNECTIVES, f"not encoded from {sentence!r}: {words}"
    # Every letter of the sentence outside those words is covered.
    assert set(uncovered(sentence, fragments)) <= set("".join(CONNECTIVES))


def _uncovered_text(sentence: str, fragments: list[str]) -> str:
    keep = list(sentence)
    for fragment in fragments:
        start = sentence.find(fragment)
        while start >= 0:
            keep[start : start + len(fragment)] = [" "] * len(fragment)
            start = sentence.find(fragment, start + 1)
    return "".join(keep)


def test_every_criterion_quotes_its_section(protocol: Protocol) -> None:
    inclusion, exclusion = _sections()
    text = {"inclusion": inclusion, "exclusion": exclusion}
    for c in protocol.eligibility.criteria:
        assert c.source in text[c.kind], (c.id, c.source)
    assert len(protocol.eligibility.inclusion) == 25
    assert len(protocol.eligibility.exclusion) == 30


def test_expressions_parse_and_judgements_have_reasons(protocol: Protocol) -> None:
    judged = set()
    for c in protocol.eligibility.criteria:
        if c.expression is not None:
            parse_expression(c.expression, where=f"{ID} {c.id}")
        else:
            assert c.judgement == "investigator" and c.reason and len(c.reason) > 20, c.id
            judged.add(c.id)
    # Only what the record leaves to judgement (or to no data item) is judged.
    assert judged == {
        "IN-BCLC-B-LOCOREGIONAL",
        "IN-UNSUITABLE-LOCAL",
        "EX-ACTIVE-INFECTION",
        "EX-SERIOUS-INFECTION",
        "EX-SERIOUS-CONDITION",
        "EX-PRIOR-CELL-THERAPY",
        "EX-JUDGEMENT",
    }


@pytest.mark.parametrize(
    ("cid", "labs", "names"),
    [
        ("IN-HCC-HISTOLOGY", set(), {"diagnosis", "diagnosis_basis"}),
        ("IN-BCLC", set(), {"bclc_stage"}),
        ("IN-GPC3", set(), {"gpc3_ihc"}),
        ("IN-MEASURABLE", set(), {"measurable_lesions"}),
        ("IN-AGE", set(), {"age"}),
        ("IN-KPS", set(), {"kps"}),
        ("IN-HBV", {"HBVDNA"}, {"hbsag_positive", "hbcab_positive", "antiviral_days"}),
        ("IN-LAB-WBC", {"WBC"}, set()),
        ("IN-LAB-PLT", {"PLT"}, set()),
        ("IN-LAB-HGB", {"HGB"}, set()),
        ("IN-LAB-LYM", {"LYM"}, set()),
        ("IN-LAB-ALB", {"ALB"}, set()),
        ("IN-LAB-LIPASE-AMYLASE", {"LIPASE", "AMYLASE"}, set()),
        ("IN-LAB-CREAT", {"CREAT"}, set()),
        ("IN-LAB-ALT", {"ALT"}, set()),
        ("IN-LAB-AST", {"AST"}, set()),
        ("IN-LAB-BILI", {"BILI"}, set()),
        ("IN-LAB-PT", {"PTPROL"}, set()),
        ("EX-DIABETES", {"HBA1C"}, set()),
        ("EX-HEART-FAILURE", set(), {"lvef_percent"}),
        ("EX-FEV1", set(), {"fev1_percent_predicted"}),
        ("EX-ASCITES", set(), {"ascites_depth_cm"}),
        ("EX-TUMOUR-BURDEN", set(), {"tumour_liver_fraction"}),
        ("EX-VASCULAR-OCCLUSION", set(), {"vascular_invasion_occlusive"}),
        ("EX-PREGNANT-LACTATING", set(), {"pregnant", "lactating"}),
    ],
)
def test_expressions_read_what_the_sentence_names(
    protocol: Protocol, cid: str, labs: set[str], names: set[str]
) -> None:
    [criterion] = [c for c in protocol.eligibility.criteria if c.id == cid]
    assert criterion.expression is not None
    parsed = parse_expression(criterion.expression)
    assert parsed.labs == labs and parsed.names == names


# --- screening behaviour at the record's thresholds ---------------------------------------------
LAB_DATE = "2026-11-16"


def _patient(**change: Any) -> dict[str, Any]:
    labs: dict[str, tuple[float, str, float | None]] = {
        "WBC": (5.0, "10^9/L", None),
        "PLT": (150.0, "10^9/L", None),
        "HGB": (120.0, "g/L", None),
        "LYM": (1.2, "10^9/L", None),
        "ALB": (38.0, "g/L", None),
        "LIPASE": (40.0, "U/L", 60.0),
        "AMYLASE": (70.0, "U/L", 100.0),
        "CREAT": (80.0, "umol/L", 100.0),
        "ALT": (60.0, "U/L", 40.0),
        "AST": (70.0, "U/L", 40.0),
        "BILI": (20.0, "umol/L", 20.0),
        "PTPROL": (2.0, "s", None),
        "HBVDNA": (20.0, "IU/mL", None),
        "HBA1C": (5.8, "%", None),
    }
    for code, value in change.pop("labs", {}).items():
        labs[code] = (value, *labs[code][1:])
    rows: list[dict[str, Any]] = []
    for code, (value, unit, uln) in labs.items():
        row: dict[str, Any] = {"code": code, "value": value, "unit": unit, "date": LAB_DATE}
        if uln is not None:
            row["uln"] = uln
        rows.append(row)
    findings: dict[str, Any] = {
        "diagnosis": "HCC",
        "diagnosis_basis": "histology",
        "bclc_stage": "C",
        "prior_lines_systemic": 1,
        "gpc3_ihc": "positive",
        "measurable_lesions": 2,
        "kps": 90,
        "stable_vital_signs": True,
        "life_expectancy_weeks": 24,
        "hbsag_positive": True,
        "hbcab_positive": True,
        "hiv_positive": False,
        "antiviral_days": 400,
        "lvef_percent": 60,
        "fev1_percent_predicted": 85,
        "ascites_depth_cm": 0,
        "tumour_liver_fraction": 30,
        "vascular_invasion_occlusive": False,
        "pregnant": False,
        "lactating": False,
        "consent_signed": True,
    }
    findings.update(change.pop("findings", {}))
    patient = {
        "id": "P1",
        "sex": "M",
        "age": change.pop("age", 58),
        "weight_kg": 70,
        "height_cm": 172,
        "findings": findings,
        "labs": rows,
        "therapies": change.pop(
            "therapies",
            [
                {
                    "category": "targeted_therapy",
                    "name": "lenvatinib",
                    "start": "2026-03-01",
                    "end": "2026-10-01",
                }
            ],
        ),
        "conditions": change.pop("conditions", []),
        "judgements": change.pop("judgements", None),
    }
    assert not change, change
    return patient


def _judgements(protocol: Protocol) -> dict[str, bool]:
    # A suitable patient: judged inclusions met, judged exclusions do not apply.
    return {
        c.id: c.kind == "inclusion" for c in protocol.eligibility.criteria if c.expression is None
    }


def _decision(protocol: Protocol, **change: Any) -> str:
    change.setdefault("judgements", _judgements(protocol))
    record = record_from_dict(_patient(**change), today=AS_OF)
    return screen_patient(protocol, record, AS_OF).decision


def test_reference_patient_is_eligible(protocol: Protocol) -> None:
    # CrCl (Cockcroft-Gault): (140 - 58) x 70 / (0.8136 x 80 umol/L) = 88 mL/min (>= 40).
    assert _decision(protocol) == "eligible"


def test_open_judgements_leave_the_decision_pending(protocol: Protocol) -> None:
    record = record_from_dict(_patient(judgements={}), today=AS_OF)
    result = screen_patient(protocol, record, AS_OF)
    assert result.decision == "incomplete"
    assert "IN-UNSUITABLE-LOCAL" in result.detail


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"age": 80}, "eligible"),  # "Age 18-80"
        ({"age": 81}, "ineligible"),
        ({"age": 17}, "ineligible"),
        ({"findings": {"kps": 80}}, "eligible"),  # "(KPS)≥80"
        ({"findings": {"kps": 70}}, "ineligible"),
        ({"findings": {"bclc_stage": "B"}}, "eligible"),  # "or with stage B" (judged met)
        ({"findings": {"bclc_stage": "A"}}, "ineligible"),
        ({"findings": {"diagnosis_basis": "imaging"}}, "ineligible"),  # "by histopathology"
        ({"findings": {"gpc3_ihc": "negative"}}, "ineligible"),
        ({"findings": {"measurable_lesions": 0}}, "ineligible"),
        ({"findings": {"life_expectancy_weeks": 12}}, "eligible"),  # "at least 12 weeks"
        ({"findings": {"life_expectancy_weeks": 11}}, "ineligible"),
        ({"findings": {"prior_lines_systemic": 0}}, "ineligible"),
        ({"labs": {"WBC": 2.5}}, "eligible"),  # "WBC≥2.5×109/L"
        ({"labs": {"WBC": 2.4}}, "ineligible"),
        ({"labs": {"PLT": 60.0}}, "eligible"),  # "PLT≥60×109/L"
        ({"labs": {"PLT": 59.0}}, "ineligible"),
        ({"labs": {"HGB": 90.0}}, "eligible"),  # "Hb≥9.0g/dL" = 90 g/L
        ({"labs": {"HGB": 89.0}}, "ineligible"),
        ({"labs": {"LYM": 0.4}}, "eligible"),  # "LY≥0.4×109/L"
        ({"labs": {"LYM": 0.3}}, "ineligible"),
        ({"labs": {"ALB": 30.0}}, "eligible"),  # "Alb≥30g/L"
        ({"labs": {"ALB": 29.0}}, "ineligible"),
        ({"labs": {"LIPASE": 90.0}}, "eligible"),  # "≤1.5 ULN" (ULN 60)
        ({"labs": {"LIPASE": 91.0}}, "ineligible"),
        ({"labs": {"AMYLASE": 151.0}}, "ineligible"),  # ULN 100
        ({"labs": {"CREAT": 150.0}}, "eligible"),  # "Serum creatinine ≤1.5 ULN" (ULN 100)
        ({"labs": {"CREAT": 151.0}}, "ineligible"),
        ({"labs": {"ALT": 200.0}}, "eligible"),  # "ALT≤5 ULN" (ULN 40)
        ({"labs": {"ALT": 201.0}}, "ineligible"),
        ({"labs": {"AST": 201.0}}, "ineligible"),
        ({"labs": {"BILI": 50.0}}, "eligible"),  # "≤2.5 ULN" (ULN 20 umol/L)
        ({"labs": {"BILI": 51.0}}, "ineligible"),
        ({"labs": {"PTPROL": 6.0}}, "eligible"),  # "prothrombin time ≤6s" (prolongation)
        ({"labs": {"PTPROL": 6.5}}, "ineligible"),
        ({"labs": {"HBVDNA": 199.0}}, "eligible"),  # "HBV-DNA < 200 IU/ml"
        ({"labs": {"HBVDNA": 200.0}}, "ineligible"),
        ({"findings": {"antiviral_days": 14}}, "eligible"),  # "at least 14 days"
        ({"findings": {"antiviral_days": 13}}, "ineligible"),
        # HBsAg and anti-HBc negative: no HBV condition to meet.
        (
            {
                "findings": {"hbsag_positive": False, "hbcab_positive": False},
                "labs": {"HBVDNA": 5000.0},
            },
            "eligible",
        ),
        ({"labs": {"HBA1C": 7.0}}, "eligible"),  # "HbA1c > 7%" excludes
        ({"labs": {"HBA1C": 7.1}}, "ineligible"),
        ({"findings": {"lvef_percent": 45}}, "eligible"),  # "(LVEF) < 45%" excludes
        ({"findings": {"lvef_percent": 44}}, "ineligible"),
        ({"findings": {"fev1_percent_predicted": 60}}, "eligible"),  # "FEV1 < 60% predicted"
        ({"findings": {"fev1_percent_predicted": 59}}, "ineligible"),
        ({"findings": {"ascites_depth_cm": 5}}, "eligible"),  # "Ascites more than 5cm"
        ({"findings": {"ascites_depth_cm": 5.5}}, "ineligible"),
        ({"findings": {"tumour_liver_fraction": 69}}, "eligible"),  # "tumor≥70%" excludes
        ({"findings": {"tumour_liver_fraction": 70}}, "ineligible"),
        ({"findings": {"vascular_invasion_occlusive": True}}, "ineligible"),
        ({"findings": {"pregnant": True}}, "ineligible"),
        ({"findings": {"hiv_positive": True}}, "ineligible"),
        # "within 14 days before": therapy ended 14 days before screening excludes, 15 does not.
        (
            {"therapies": [{"category": "chemotherapy", "start": "2026-11-06"}]},
            "ineligible",
        ),
        ({"therapies": [{"category": "chemotherapy", "start": "2026-11-05"}]}, "eligible"),
        # "within 3 months before": 2026-08-20 is 3 calendar months before 2026-11-20.
        (
            {"therapies": [{"category": "investigational_agent", "start": "2026-08-20"}]},
            "ineligible",
        ),
        (
            {"therapies": [{"category": "investigational_agent", "start": "2026-08-19"}]},
            "eligible",
        ),
        (
            {
                "therapies": [
                    {"category": "systemic_steroid", "start": "2026-01-01", "ongoing": True}
                ]
            },
            "ineligible",
        ),
        ({"conditions": [{"name": "hepatic_encephalopathy", "onset": "2019"}]}, "ineligible"),
        ({"conditions": [{"name": "gi_bleeding", "onset": "2015"}]}, "ineligible"),
        ({"conditions": [{"name": "copd", "onset": "2015", "ongoing": True}]}, "ineligible"),
        ({"conditions": [{"name": "organ_transplant", "onset": "2012"}]}, "ineligible"),
        # MI 5 months ago excludes ("in the last 6 months"); 7 months ago does not.
        ({"conditions": [{"name": "myocardial_infarction", "onset": "2026-06-20"}]}, "ineligible"),
        ({"conditions": [{"name": "myocardial_infarction", "onset": "2026-04-19"}]}, "eligible"),
        # Another malignancy within 5 years excludes; 6 years ago does not.
        ({"conditions": [{"name": "other_malignancy", "onset": "2023-01"}]}, "ineligible"),
        ({"conditions": [{"name": "other_malignancy", "onset": "2020-01"}]}, "eligible"),
    ],
)
def test_thresholds(protocol: Protocol, change: dict[str, Any], expected: str) -> None:
    assert _decision(protocol, **change) == expected


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=1.0, max_value=400.0, allow_nan=False))
def test_platelet_threshold_property(platelets: float) -> None:
    protocol = hcctrial.load_protocol(ID)
    decision = _decision(protocol, labs={"PLT": platelets})
    assert decision == ("eligible" if platelets >= 60 else "ineligible")


# --- what the record does not say -------------------------------------------------------------
def test_no_outcome_in_record_so_every_endpoint_is_assumed(protocol: Protocol) -> None:
    assert all(e.assumption == "A-ENDPOINTS" for e in protocol.endpoints)
    assert protocol.intervention("sz003").dose is None
    assert protocol.intervention("sz003").assumption == "A-TREATMENT"
    assert all(e.assumption for e in protocol.schedule.events)
    assert protocol.safety.ctcae_version == "5.0"


def test_every_source_is_record_text(protocol: Protocol) -> None:
    text = squash(record_text(RECORD))
    for where, source in sources(protocol.model_dump()):
        assert squash(source) in text, f"{where} does not quote the record: {source[:60]}"


def test_assumptions_are_complete_and_used(protocol: Protocol) -> None:
    ids = {a.id for a in protocol.assumptions}
    for a in protocol.assumptions:
        assert a.record_says and a.chosen and len(a.reason) > 30, a.id
    referenced = {
        item.assumption
        for group in (
            protocol.interventions,
            protocol.schedule.events,
            protocol.eligibility.criteria,
            protocol.endpoints,
        )
        for item in group
        if item.assumption
    }
    assert referenced <= ids
    assert ids - referenced == {"A-PHASE-SIZE"}  # the only file-level choice
