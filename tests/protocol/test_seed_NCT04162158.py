"""NCT04162158 (allogeneic NK cells + targeted drug): the built-in protocol vs its record.

The record's sentences are quoted verbatim from the seed record
(``../shared/seeds/004_44ab8ce73e9f5626.txt``, the MedPath copy of the registry entry), with its
spellings ("regolfinib", "10'9", "μmol/L"). Every inclusion/exclusion sentence must be covered by
the ``source`` fragments of criteria of the same kind; every source must come from the record;
every expression must parse; the three contradictory follow-up statements, the paired control,
the OS origin and the phase must each be an assumption; screening a reference patient must
follow the record's thresholds (``≥`` inclusive, ``<``/``>`` strict).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import hcctrial
from hcctrial.clinical import creatinine_clearance_cockcroft_gault
from hcctrial.eligibility import (
    criteria_from_protocol,
    evaluate_criterion,
    parse_expression,
    record_from_dict,
    screen_patient,
)
from hcctrial.protocol import Protocol, builtin_protocols
from hcctrial.schedule import build_calendar

ID = "NCT04162158"
AS_OF = date(2021, 3, 15)

# --- the record, verbatim -----------------------------------------------------------------
INCLUSION = [
    "According to the 2010 edition of the diagnostic criteria for primary liver cancer BCLC, the "
    "patient was diagnosed as advanced hepatocellular carcinoma by pathology and imaging (BCLC C "
    "phase);",
    "Child-Pugh A/B (5-9), Eastern Cooperative Oncology Group (ECOG) PS score less than 2 points;",
    "Liver function: Child A/B, ALT < 200 U/L, AST < 200 U/L, Tbil <51μmol/L",
    "Renal function: Creatinine clearance ≥ 60ml/minute",
    "Hematologic function: PLT ≥40×10'9/L, WBC ≥2×10'9/L, HGB>80 g/L",
    "Cardiac function: No abnormality in cardiac enzyme and ECG",
    "Survival expectation is greater than 6 months;",
    "Patients with active hepatitis B or C were treated with the appropriate NA or DAA "
    "medication, and all patients enrolled in the group were treated with targeted drugs.",
    "The patient has a donor who meets the donor enrollment criteria and all patients and donors "
    "sign the Informed Consent Form;",
]
# "Laboratory criteria:" is a heading of the four numbered items above, not a criterion.
EXCLUSION = [
    "Women who are pregnant or breast-feeding.",
    "Co-infected with hepatitis A, hepatitis E, AIDS or other infectious diseases.",
    "Patients with serious complications such as acute infection and gastrointestinal bleeding "
    "within 30 days.",
    "Patients with other serious systemic and psychiatric diseases.",
    "Exposure to any cell therapy such as, but not limited to CIK, DC, CTL , PD-1 and stem cells "
    "therapy 6 months prior to study drug administration.",
    "Other conditions that researchers believe may increase the risk of subjects or lead to "
    "affected study results, such as the presence of mental illness in subjects.",
]
TIME_FRAME = "From the date of enrollment to the end of two years of follow-up."
OUTCOMES = {
    # name in the record -> (its description, verbatim; kind; role)
    "Incidence of Adverse Events": (
        "Incidence of Treatment-Emergent Adverse Events as assessed by \\[National Cancer "
        "Institute Common Terminology Criteria for Adverse Events version 5.0\\]",
        "safety-incidence",
        "primary",
    ),
    "Overall survival": (
        "Overall Survival (OS) defined as the time from randomisation until death by any cause. "
        "Participants will be followed up for survival follow up for at least five years.",
        "os",
        "primary",
    ),
    "Disease control rate": (
        "According to the RECIST criteria, patients with complete response (CR), partial response "
        "(PR), and stable disease (SD) were imaged.",
        "dcr",
        "secondary",
    ),
}
ARM_SENTENCE = (
    "In addition to traditional symptomatic supportive treatment, Sorafenib, regolfinib or "
    "levabinib will be administered in combination with allogeneic NK cells (3 cycles)."
)
NK_SENTENCE = (
    "Peripheral blood mononuclear cells (PBMCs) were isolated from patient-related donor and "
    "cultured in vitro for 15 days and infused to the patient in two consecutive days."
)
BRIEF_SUMMARY = (
    "This is a multicenter, open-label, paired control study to evaluate the safety and clinical "
    "efficacy of allogeneic NK cells combined with targeted drug in the treatment for advanced "
    "HCC."
)
LAB_DATA = (
    "Clinical data and laboratory data were collected and analyzed, including survival, impact "
    "indicators, hematology, biochemical indicators, and immunological indicators to evaluate "
    "the safety and efficacy of the treatment."
)
PASSAGES = [
    *INCLUSION,
    *EXCLUSION,
    *(description for description, _, _ in OUTCOMES.values()),
    TIME_FRAME,
    ARM_SENTENCE,
    NK_SENTENCE,
    BRIEF_SUMMARY,
    LAB_DATA,
]


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return hcctrial.load_protocol(ID)


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


def _sources(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every ``source`` string of a dumped protocol, with its YAML path."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "source" and isinstance(value, str):
                found.append((where, value))
            else:
                found += _sources(value, where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += _sources(item, f"{path}[{i}]")
    return found


def _uncovered(sentence: str, fragments: list[str]) -> str:
    """The letters and digits of ``sentence`` that no fragment covers (joined)."""
    covered = [False] * len(sentence)
    for fragment in fragments:
        start = sentence.find(fragment)
        while start >= 0:
            for i in range(start, start + len(fragment)):
                covered[i] = True
            start = sentence.find(fragment, start + 1)
    return "".join(c for c, ok in zip(sentence, covered, strict=True) if not ok and c.isalnum())


# --- loading ------------------------------------------------------------------------------
def test_loads_by_id_alias_and_from_builtins(protocol: Protocol) -> None:
    assert protocol.id == ID and protocol.registry_id == ID
    assert builtin_protocols()[ID] == protocol
    assert hcctrial.load_protocol("allo-nk-tki") == protocol
    assert protocol.phase == "Phase 1"  # as registered (assumption A-PHASE)


# --- eligibility: sentence-level coverage ---------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "sentence"),
    [("inclusion", s) for s in INCLUSION] + [("exclusion", s) for s in EXCLUSION],
)
def test_every_record_sentence_is_encoded(protocol: Protocol, kind: str, sentence: str) -> None:
    criteria = [c for c in protocol.eligibility.criteria if c.kind == kind]
    fragments = [c.source for c in criteria if c.source in sentence]
    assert fragments, f"no {kind} criterion encodes: {sentence}"
    leftover = _uncovered(sentence, fragments)
    assert leftover in ("", "and", "or"), f"not encoded from {sentence!r}: {leftover!r}"


def test_every_criterion_quotes_the_record(protocol: Protocol) -> None:
    sentences = {"inclusion": INCLUSION, "exclusion": EXCLUSION}
    for c in protocol.eligibility.criteria:
        assert any(c.source in s for s in sentences[c.kind]), (c.id, c.source)
    assert len(protocol.eligibility.inclusion) == 18
    assert len(protocol.eligibility.exclusion) == 11


def test_expressions_parse_and_judgements_have_reasons(protocol: Protocol) -> None:
    donor_criteria = protocol.donors.criteria if protocol.donors else []
    for c in [*protocol.eligibility.criteria, *donor_criteria]:
        if c.expression is not None:
            assert parse_expression(c.expression, where=c.id).tree is not None
        else:
            assert c.judgement == "investigator" and c.reason and len(c.reason) > 20, c.id
    criteria, lookback = criteria_from_protocol(protocol)
    assert len(criteria) == 29 and lookback == 14


@pytest.mark.parametrize(
    ("cid", "labs", "names"),
    [
        ("IN-CHILD-PUGH", set(), {"child_pugh_score"}),
        ("IN-ECOG", set(), {"ecog"}),
        ("IN-LAB-ALT", {"ALT"}, set()),
        ("IN-LAB-AST", {"AST"}, set()),
        ("IN-LAB-BILI", {"BILI"}, set()),
        ("IN-LAB-CRCL", {"CREAT"}, set()),
        ("IN-LAB-PLT", {"PLT"}, set()),
        ("IN-LAB-WBC", {"WBC"}, set()),
        ("IN-LAB-HGB", {"HGB"}, set()),
        ("IN-LIFE-EXPECTANCY", set(), {"life_expectancy_weeks"}),
        ("IN-DONOR", set(), {"donor_available"}),
        ("EX-PREGNANT", set(), {"pregnant", "lactating"}),
    ],
)
def test_expressions_read_what_the_sentence_names(
    protocol: Protocol, cid: str, labs: set[str], names: set[str]
) -> None:
    [criterion] = [c for c in protocol.eligibility.criteria if c.id == cid]
    assert criterion.expression is not None
    parsed = parse_expression(criterion.expression)
    assert (parsed.labs, parsed.names) == (labs, names)


def test_donor_criteria(protocol: Protocol) -> None:
    # "The patient has a donor who meets the donor enrollment criteria and all patients and
    # donors sign the Informed Consent Form;" / "isolated from patient-related donor".
    assert protocol.donors is not None
    assert protocol.donors.relation == "patient-related donor"
    by_id = {c.id: c for c in protocol.donors.criteria}
    assert by_id["DONOR-CONSENT"].expression == "consent_signed"
    assert by_id["DONOR-CRITERIA"].judgement == "investigator"
    for c in protocol.donors.criteria:
        assert c.source in INCLUSION[-1]


# --- screening behaviour -------------------------------------------------------------------
def _patient(**change: Any) -> dict[str, Any]:
    labs: dict[str, tuple[float, str]] = {
        "ALT": (45.0, "U/L"),
        "AST": (60.0, "U/L"),
        "BILI": (20.0, "umol/L"),
        "PLT": (120.0, "10^9/L"),
        "WBC": (4.8, "10^9/L"),
        "HGB": (125.0, "g/L"),
        "CREAT": (0.9, "mg/dL"),
    }
    labs.update(change.pop("labs", {}))
    findings = {
        "diagnosis": "HCC",
        "diagnosis_basis": "histology",
        "bclc_stage": "C",
        "child_pugh_score": 6,
        "child_pugh_class": "A",
        "ecog": 1,
        "life_expectancy_weeks": 40,
        "antiviral_days": 400,
        "donor_available": True,
        "consent_signed": True,
        "pregnant": False,
        "lactating": False,
    }
    findings.update(change.pop("findings", {}))
    patient = {
        "id": "P1",
        "sex": "M",
        "age": 55,
        "weight_kg": 70,
        "height_cm": 170,
        "findings": findings,
        "labs": [
            {"code": k, "value": v, "unit": u, "date": "2021-03-10"} for k, (v, u) in labs.items()
        ],
        "therapies": change.pop(
            "therapies",
            [{"category": "targeted_therapy", "start": "2021-01-04", "ongoing": True}],
        ),
        "conditions": change.pop(
            "conditions", [{"name": "hbv_active", "onset": "2005", "ongoing": True}]
        ),
        "judgements": change.pop("judgements", None),
    }
    assert not change, change
    return patient


def _decision(protocol: Protocol, **change: Any) -> str:
    judged = {
        c.id: c.kind == "inclusion" for c in protocol.eligibility.criteria if c.expression is None
    }
    change.setdefault("judgements", judged)
    record = record_from_dict(_patient(**change), today=AS_OF)
    return screen_patient(protocol, record, AS_OF).decision


def test_reference_patient_is_eligible(protocol: Protocol) -> None:
    assert _decision(protocol) == "eligible"


def test_open_judgements_leave_the_decision_pending(protocol: Protocol) -> None:
    record = record_from_dict(_patient(judgements={}), today=AS_OF)
    result = screen_patient(protocol, record, AS_OF)
    assert result.decision == "incomplete"
    assert result.detail.startswith("eligible pending investigator judgement")
    assert "IN-CARDIAC" in result.detail


def test_creatinine_clearance_boundary_hand_computed() -> None:
    # Cockcroft-Gault, male: (140 - 55) x 70 / (72 x Scr mg/dL). Scr 1.35 -> 5950 / 97.2 =
    # 61.2 mL/min (eligible); Scr 1.41 -> 5950 / 101.52 = 58.6 mL/min (not eligible).
    assert creatinine_clearance_cockcroft_gault(
        age=55, weight_kg=70, sex="M", creatinine=1.35, unit="mg/dL"
    ) == pytest.approx(5950 / 97.2)
    assert creatinine_clearance_cockcroft_gault(
        age=55, weight_kg=70, sex="M", creatinine=1.41, unit="mg/dL"
    ) == pytest.approx(5950 / 101.52)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"labs": {"PLT": (40.0, "10^9/L")}}, "eligible"),  # "PLT ≥40" is inclusive
        ({"labs": {"PLT": (39.9, "10^9/L")}}, "ineligible"),
        ({"labs": {"WBC": (2.0, "10^9/L")}}, "eligible"),  # "WBC ≥2"
        ({"labs": {"WBC": (1.9, "10^9/L")}}, "ineligible"),
        ({"labs": {"HGB": (80.0, "g/L")}}, "ineligible"),  # "HGB>80 g/L" is strict
        ({"labs": {"HGB": (8.1, "g/dL")}}, "eligible"),  # 8.1 g/dL = 81 g/L
        ({"labs": {"ALT": (200.0, "U/L")}}, "ineligible"),  # "ALT < 200 U/L"
        ({"labs": {"AST": (199.0, "U/L")}}, "eligible"),
        ({"labs": {"BILI": (51.0, "umol/L")}}, "ineligible"),  # "Tbil <51μmol/L"
        # mg/dL x 17.1 = umol/L: 3.0 mg/dL = 51.3 umol/L (not < 51); 2.9 mg/dL = 49.6 umol/L.
        ({"labs": {"BILI": (3.0, "mg/dL")}}, "ineligible"),
        ({"labs": {"BILI": (2.9, "mg/dL")}}, "eligible"),
        ({"labs": {"CREAT": (1.35, "mg/dL")}}, "eligible"),  # CrCl 61.2
        ({"labs": {"CREAT": (1.41, "mg/dL")}}, "ineligible"),  # CrCl 58.6
        ({"findings": {"child_pugh_score": 9, "child_pugh_class": "B"}}, "eligible"),
        ({"findings": {"child_pugh_score": 10, "child_pugh_class": "C"}}, "ineligible"),
        ({"findings": {"ecog": 2}}, "ineligible"),  # "less than 2 points"
        ({"findings": {"bclc_stage": "B"}}, "ineligible"),  # "(BCLC C phase)"
        ({"findings": {"diagnosis_basis": "imaging"}}, "ineligible"),  # "by pathology"
        ({"findings": {"life_expectancy_weeks": 26}}, "ineligible"),  # "greater than 6 months"
        ({"findings": {"antiviral_days": 0}}, "ineligible"),  # active HBV, no NA
        ({"findings": {"antiviral_days": 0}, "conditions": []}, "eligible"),  # no active HBV
        ({"findings": {"donor_available": False}}, "ineligible"),
        ({"findings": {"pregnant": True}}, "ineligible"),
        ({"conditions": [{"name": "hiv", "onset": "2015", "ongoing": True}]}, "ineligible"),
        ({"conditions": [{"name": "gi_bleeding", "onset": "2021-02-20"}]}, "ineligible"),
        ({"conditions": [{"name": "gi_bleeding", "onset": "2021-01-20"}]}, "eligible"),
        # "cell therapy ... 6 months prior": CIK ending 2020-10-01 (5.5 months) excludes,
        # ending 2020-09-01 (6.5 months) does not.
        (
            {
                "therapies": [
                    {"category": "cell_therapy", "start": "2020-09-20", "end": "2020-10-01"}
                ]
            },
            "ineligible",
        ),
        (
            {
                "therapies": [
                    {"category": "cell_therapy", "start": "2020-08-20", "end": "2020-09-01"}
                ]
            },
            "eligible",
        ),
    ],
)
def test_thresholds_decide_as_the_record_says(
    protocol: Protocol, change: dict[str, Any], expected: str
) -> None:
    assert _decision(protocol, **change) == expected


@given(plt=st.floats(min_value=0, max_value=1000, allow_nan=False))
@example(plt=40.0)
def test_platelet_criterion_is_at_least_40(plt: float) -> None:
    protocol = hcctrial.load_protocol(ID)
    criteria, lookback = criteria_from_protocol(protocol)
    [criterion] = [c for c in criteria if c.id == "IN-LAB-PLT"]
    record = record_from_dict(_patient(labs={"PLT": (plt, "10^9/L")}), today=AS_OF)
    status = evaluate_criterion(criterion, record, AS_OF, lookback).status
    assert status == ("met" if plt >= 40 else "not met")


@given(score=st.integers(min_value=5, max_value=15))
def test_child_pugh_range_is_5_to_9(score: int) -> None:
    protocol = hcctrial.load_protocol(ID)
    criteria, lookback = criteria_from_protocol(protocol)
    [criterion] = [c for c in criteria if c.id == "IN-CHILD-PUGH"]
    record = record_from_dict(_patient(findings={"child_pugh_score": score}), today=AS_OF)
    status = evaluate_criterion(criterion, record, AS_OF, lookback).status
    assert status == ("met" if 5 <= score <= 9 else "not met")


# --- design, arms, interventions, calendar -------------------------------------------------
def test_design_and_arms(protocol: Protocol) -> None:
    # "multicenter, open-label, paired control study"; "200 patients from three hospitals";
    # "Target Recruitment 200"; one location listed.
    d = protocol.design
    assert (d.allocation, d.model, d.masking, d.enrolment_target, d.site_count) == (
        "non-randomized",
        "paired-control",
        "none",
        200,
        3,
    )
    assert d.randomization is None
    assert [s.name for s in d.sites] == ["The Fifth Medical Center of PLA General Hospital"]
    assert [(a.id, a.type) for a in protocol.arms] == [
        ("nk-targeted", "experimental"),
        ("targeted", "active-comparator"),
    ]
    assert sum(a.planned_size or 0 for a in protocol.arms) == 200
    nk_arm = protocol.arm("nk-targeted")
    assert ARM_SENTENCE in _flat(nk_arm.source)
    assert "nk" in nk_arm.interventions and "nk" not in protocol.arm("targeted").interventions


def test_nk_cells_two_consecutive_days_three_cycles(protocol: Protocol) -> None:
    nk = protocol.intervention("nk")
    assert _flat(nk.source) == NK_SENTENCE
    assert (nk.origin, nk.consecutive_days, nk.cycles) == ("allogeneic", 2, 3)
    assert nk.dose is None  # the record gives no cell dose (assumption A-NK-CYCLES)
    assert nk.assumption == "A-NK-CYCLES"


def _events(arm: str, **options: Any) -> dict[str, Any]:
    cal = build_calendar(ID, arm, date(2021, 3, 15), height_cm=170, weight_kg=70, **options)
    return {k[0]: v for k, v in cal.partition_by("EVENTID", as_dict=True, include_key=True).items()}


def test_calendar_of_the_nk_arm() -> None:
    events = _events("nk-targeted")
    infusions = events["nk-infusion"]
    # "infused to the patient in two consecutive days", "(3 cycles)", cycles 28 days apart.
    assert infusions["DAY"].to_list() == [15, 16, 43, 44, 71, 72]
    assert infusions["CYCLE"].to_list() == [1, 1, 2, 2, 3, 3]
    assert infusions["CYCLEDAY"].to_list() == [1, 2, 1, 2, 1, 2]
    # "cultured in vitro for 15 days": donor PBMC 15 days before each cycle's first infusion.
    donor = events["donor-pbmc"]["DAY"].to_list()
    assert [first - collected for first, collected in zip([15, 43, 71], donor, strict=True)] == [
        15
    ] * 3
    # One targeted drug per patient (the first alternative unless chosen).
    assert "sorafenib" in events and "regorafenib" not in events and "lenvatinib" not in events


def test_calendar_of_the_control_arm_has_no_donor_or_cells() -> None:
    events = _events("targeted")
    assert {"nk-infusion", "donor-pbmc"}.isdisjoint(events)
    assert "sorafenib" in events and "imaging" in events


def test_regorafenib_is_21_of_28_days() -> None:
    regorafenib = _events("targeted", choices=["regorafenib"], horizon_days=100)["regorafenib"]
    assert regorafenib["DAY"].to_list() == [0, 28, 56, 84]
    assert set(regorafenib["DURMIN"].to_list()) == {21} == set(regorafenib["DURMAX"].to_list())
    assert set(regorafenib["EXDOSE"].to_list()) == {160.0}


def test_targeted_drugs_are_alternatives(protocol: Protocol) -> None:
    drugs = [i for i in protocol.interventions if i.choice_group == "targeted-drug"]
    assert [d.id for d in drugs] == ["sorafenib", "regorafenib", "lenvatinib"]
    for drug in drugs:
        assert _flat(drug.source) == ARM_SENTENCE
        assert drug.dose is not None and drug.dose.basis == "flat" and drug.route == "oral"
    sorafenib = protocol.intervention("sorafenib").dose
    assert sorafenib is not None and sorafenib.value == 800  # 400 mg twice daily (label)


# --- outcomes, safety, follow-up ------------------------------------------------------------
@pytest.mark.parametrize("name", list(OUTCOMES))
def test_every_outcome_measure_is_an_endpoint(protocol: Protocol, name: str) -> None:
    description, kind, role = OUTCOMES[name]
    [endpoint] = [e for e in protocol.endpoints if e.name == name]
    assert (endpoint.kind, endpoint.role) == (kind, role)
    assert _flat(endpoint.source) == description
    assert endpoint.time_frame == TIME_FRAME


def test_outcome_details(protocol: Protocol) -> None:
    teae = protocol.endpoint("teae")
    assert teae.ctcae_version == "5.0"
    os_ = protocol.endpoint("os")
    assert (os_.origin, os_.event) == ("enrolment", ["death"])
    assert os_.censoring is not None and os_.censoring.at_last_known_alive
    assert os_.horizon_months == 24 and 12 in os_.timepoints_months
    dcr = protocol.endpoint("dcr")
    assert dcr.responses == ["CR", "PR", "SD"]
    assert dcr.response is not None and dcr.response.criteria == "recist1.1"


def test_safety_window_is_the_time_frame(protocol: Protocol) -> None:
    window = protocol.safety.ae_window
    assert protocol.safety.ctcae_version == "5.0"
    assert window is not None
    assert (window.start, window.end_after, window.end_days_after) == (
        "enrolment",
        "enrolment",
        730,
    )


def test_follow_up_contradiction_is_kept_visible(protocol: Protocol) -> None:
    assert protocol.follow_up.duration_months == 24
    assert protocol.follow_up.survival_follow_up_months == 60
    follow = next(a for a in protocol.assumptions if a.id == "A-FOLLOW-UP")
    text = _flat(follow.record_says)
    assert "followed up for 1 year" in text
    assert TIME_FRAME in text
    assert "at least five years" in text


def test_silences_and_contradictions_are_assumptions(protocol: Protocol) -> None:
    ids = {a.id for a in protocol.assumptions}
    assert {
        "A-FOLLOW-UP",
        "A-PAIRED-CONTROL",
        "A-OS-ORIGIN",
        "A-PHASE",
        "A-NK-CYCLES",
        "A-TARGETED-DOSES",
        "A-DONOR",
        "A-SPELLINGS",
    } <= ids
    paired = next(a for a in protocol.assumptions if a.id == "A-PAIRED-CONTROL")
    assert "paired control study" in paired.record_says


def test_every_source_in_the_file_is_record_text(protocol: Protocol) -> None:
    found = _sources(protocol.model_dump())
    assert len(found) > 40
    for where, text in found:
        assert any(_flat(text) in passage for passage in PASSAGES), (where, text)
    # The control arm is not described: its source is the 'paired control' sentence.
    assert _flat(protocol.arm("targeted").source) == BRIEF_SUMMARY


def test_items_resting_on_assumptions_name_them(protocol: Protocol) -> None:
    for drug in ("sorafenib", "regorafenib", "lenvatinib"):
        assert protocol.intervention(drug).assumption == "A-TARGETED-DOSES"
    assert protocol.endpoint("os").assumption == "A-OS-ORIGIN"
    [cell_therapy] = [c for c in protocol.eligibility.criteria if c.id == "EX-CELL-THERAPY"]
    assert cell_therapy.assumption == "A-PD1"
    for event in protocol.schedule.events:
        assert event.assumption is not None, event.id  # the record gives no calendar
