"""NCT04011033 (iNKT cells + TAE/TACE, randomized phase 2): the built-in protocol vs its record.

The record's sentences are quoted here verbatim from the seed record
(``../shared/seeds/003_c8c720e66ba823de.txt``, ClinicalTrials.gov, last updated 2024-10-08),
including the registry's markdown escapes (``\\>``, ``10\\^9``). Every sentence must be covered
by the ``source`` fragments of criteria of the same kind; every source must come from one of
these sentences; every expression must parse in the eligibility language; the doses, calendar
and outcomes must be the record's numbers; screening a reference patient must behave as the
thresholds say (strict ``>`` vs ``>=``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import hcctrial
from hcctrial.clinical import bsa_mosteller
from hcctrial.clinical.dose import calculate_dose
from hcctrial.eligibility import (
    criteria_from_protocol,
    evaluate_criterion,
    parse_expression,
    record_from_dict,
    screen_patient,
)
from hcctrial.protocol import Protocol, builtin_protocols
from hcctrial.schedule import build_calendar

ID = "NCT04011033"
AS_OF = date(2019, 6, 3)

# --- the record, verbatim -----------------------------------------------------------------
INCLUSION = [
    "Age 18-80 years.",
    "Patients with hepatocellular carcinoma (BCLC, stageB/C) proved by histopathology or proved "
    "by CT or MRI imaging system, relapsed after previous therapy and no effective therapies "
    "known at this time.",
    "Life expectancy of ≥ 12 weeks.",
    "WBC\\>3.0×10\\^9/L, LYMPH\\> 0.8×10\\^9/L, Hb\\>85g/L, PLT\\>50×10\\^9/L, "
    "Cre\\<1.5×the upper limit of normal value.",
    "iNKT\\>10 cell/mL in peripheral blood mononuclear cell (PBMC).",
    "Able to understand and sign the informed consent.",
    # Detailed description: the population is unresectable HCC.
    "Patients with unresectable HCC will be enrolled and divided into two groups.",
]
EXCLUSION = [
    "Any uncontrolled systematic disease: hypertension, heart disease, and et al.;",
    "Portal vein tumor thrombus, central nervous system tumor metastasis, or combined with other "
    "tumors;",
    "Receiving radiochemotherapy, local therapy, or targeting drugs within 4 weeks prior to this "
    "treatment;",
    "Unstable immune systematic diseases or infectious diseases;",
    "Combined with AIDS or syphilis;",
    "Patients with history of stem cell or organ transplantation;",
    "Patients with allergic history to related drugs and immunotherapy;",
    "Patients with complications associated with liver diseases: moderate or severe pleural "
    "effusion, pericardial effusion, ascites, or gastrointestinal hemorrhage;",
    "Pregnant or lactating subjects;",
    "Unsuitable subjects considered by clinicians.",
]
OUTCOMES = (
    "Overall survival (OS) time, progression-free survival (PFS) time, objective response "
    "rate(ORR), disease control rate(DCR) will be monitored."
)
TACE_SENTENCE = "TAE/TACE will be conducted to all patients at 0th week and 4th week."
INKT_SENTENCE = (
    "5×10\\^8-10\\^9/m2 iNKT cells will be infused to patients at 1st, 3rd, 5th, 7th, 9th, "
    "11th week after first TAE/TACE therapy."
)
IL2_SENTENCE = (
    "IL-2 will be given at a dose of 25,000 IU/kg/day for 5-14 days after iNKT cells infusion."
)
# Study groups and detailed description paragraphs, and the results notice.
EXPERIMENTAL_GROUP = (
    "TAE/TACE combined with autologous iNKT cells infusion will be applied for patients in "
    "experimental group. TAE/TACE will be performed at 0th and 4th week. " + INKT_SENTENCE
)
CONTROL_GROUP = "TAE/TACE will be conducted at 0th week and 4th week."
CALENDAR = (
    "TAE/TACE will be performed at 0th and 4th week. iNKT cells will be infused at 1st, 3rd, "
    "5th, 7th, 9th, 11th week after first TAE/TACE therapy."
)
RESULTS_NOTICE = (
    "Outcome measurements, participant flow, baseline characteristics, and adverse events have "
    "been published for this study."
)
PASSAGES = [
    *INCLUSION,
    *EXCLUSION,
    OUTCOMES,
    TACE_SENTENCE,
    IL2_SENTENCE,
    EXPERIMENTAL_GROUP,
    CONTROL_GROUP,
    CALENDAR,
    RESULTS_NOTICE,
]


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return hcctrial.load_protocol(ID)


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
    assert hcctrial.load_protocol("inkt-tace") == protocol
    assert hcctrial.load_protocol("nct04011033") == protocol
    assert protocol.phase == "Phase 2"


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
    # Only connectives may be left between fragments.
    assert leftover in ("", "and", "or"), f"not encoded from {sentence!r}: {leftover!r}"


def test_every_criterion_quotes_the_record(protocol: Protocol) -> None:
    sentences = {"inclusion": INCLUSION, "exclusion": EXCLUSION}
    for c in protocol.eligibility.criteria:
        assert any(c.source in s for s in sentences[c.kind]), (c.id, c.source)
    assert len(protocol.eligibility.inclusion) == 13
    assert len(protocol.eligibility.exclusion) == 16


def test_expressions_parse_and_judgements_have_reasons(protocol: Protocol) -> None:
    for c in protocol.eligibility.criteria:
        if c.expression is not None:
            parsed = parse_expression(c.expression, where=c.id)
            assert parsed.tree is not None
        else:
            assert c.judgement == "investigator" and c.reason and len(c.reason) > 20, c.id
    criteria, lookback = criteria_from_protocol(protocol)
    assert len(criteria) == len(protocol.eligibility.criteria)
    assert lookback == 14


@pytest.mark.parametrize(
    ("cid", "labs", "names"),
    [
        ("IN-AGE", set(), {"age"}),
        ("IN-LAB-WBC", {"WBC"}, set()),
        ("IN-LAB-LYM", {"LYM"}, set()),
        ("IN-LAB-HGB", {"HGB"}, set()),
        ("IN-LAB-PLT", {"PLT"}, set()),
        ("IN-LAB-CREAT", {"CREAT"}, set()),
        ("IN-HCC-BCLC", set(), {"diagnosis", "bclc_stage", "diagnosis_basis"}),
        ("IN-RELAPSED", set(), {"tace_failure_jsh"}),
        ("IN-LIFE-EXPECTANCY", set(), {"life_expectancy_weeks"}),
        ("EX-PREGNANT", set(), {"pregnant", "lactating"}),
    ],
)
def test_expressions_read_what_the_sentence_names(
    protocol: Protocol, cid: str, labs: set[str], names: set[str]
) -> None:
    [criterion] = [c for c in protocol.eligibility.criteria if c.id == cid]
    assert criterion.expression is not None
    parsed = parse_expression(criterion.expression)
    assert parsed.labs == labs
    assert parsed.names == names


def test_age_limits_match_record(protocol: Protocol) -> None:
    # "Minimum Eligible Age 18 Years", "Maximum Eligible Age 80 Years", "Eligible Sex ALL",
    # "Accepts Healthy Volunteers No".
    e = protocol.eligibility
    assert (e.min_age, e.max_age, e.sex, e.healthy_volunteers) == (18, 80, "all", False)


# --- screening behaviour of the encoded thresholds -----------------------------------------
def _patient(**change: Any) -> dict[str, Any]:
    labs = {"WBC": 4.5, "LYM": 1.2, "HGB": 120.0, "PLT": 110.0}
    labs.update(change.pop("labs", {}))
    units = {"WBC": "10^9/L", "LYM": "10^9/L", "HGB": "g/L", "PLT": "10^9/L"}
    lab_rows: list[dict[str, Any]] = [
        {"code": k, "value": v, "unit": units[k], "date": "2019-05-30"} for k, v in labs.items()
    ]
    creat = change.pop("creat_xuln", 0.8)
    lab_rows.append(
        {
            "code": "CREAT",
            "value": 80.0 * creat,
            "unit": "umol/L",
            "uln": 80.0,
            "date": "2019-05-30",
        }
    )
    findings = {
        "diagnosis": "HCC",
        "diagnosis_basis": "imaging",
        "bclc_stage": "B",
        "life_expectancy_weeks": 24,
        "tace_failure_jsh": True,
        "consent_signed": True,
        "main_portal_vein_invasion": False,
        "vascular_invasion_occlusive": False,
        "pregnant": False,
        "lactating": False,
    }
    findings.update(change.pop("findings", {}))
    patient = {
        "id": "P1",
        "sex": "M",
        "age": change.pop("age", 58),
        "weight_kg": 70,
        "height_cm": 172,
        "findings": findings,
        "labs": lab_rows,
        "therapies": change.pop(
            "therapies",
            [{"category": "interventional_therapy", "start": "2019-03-01", "end": "2019-03-01"}],
        ),
        "conditions": [{"name": "hbv_active", "onset": "2001", "ongoing": True}],
        "judgements": change.pop("judgements", None),
    }
    assert not change, change
    return patient


def _all_judgements(protocol: Protocol) -> dict[str, bool]:
    # Investigator decisions of a suitable patient: inclusions met, exclusions do not apply.
    return {
        c.id: c.kind == "inclusion" for c in protocol.eligibility.criteria if c.expression is None
    }


def _decision(protocol: Protocol, **change: Any) -> str:
    change.setdefault("judgements", _all_judgements(protocol))
    record = record_from_dict(_patient(**change), today=AS_OF)
    return screen_patient(protocol, record, AS_OF).decision


def test_reference_patient_is_eligible(protocol: Protocol) -> None:
    assert _decision(protocol) == "eligible"


def test_open_judgements_leave_the_decision_pending(protocol: Protocol) -> None:
    record = record_from_dict(_patient(judgements={}), today=AS_OF)
    result = screen_patient(protocol, record, AS_OF)
    assert result.decision == "incomplete"
    assert result.detail.startswith("eligible pending investigator judgement")
    assert "IN-INKT-PBMC" in result.detail


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"age": 80}, "eligible"),  # "Age 18-80 years." is inclusive
        ({"age": 81}, "ineligible"),
        ({"age": 17}, "ineligible"),
        ({"labs": {"PLT": 50.0}}, "ineligible"),  # "PLT\>50": 50 is not above 50
        ({"labs": {"PLT": 51.0}}, "eligible"),
        ({"labs": {"WBC": 3.0}}, "ineligible"),  # "WBC\>3.0"
        ({"labs": {"LYM": 0.8}}, "ineligible"),  # "LYMPH\> 0.8"
        ({"labs": {"HGB": 85.0}}, "ineligible"),  # "Hb\>85g/L"
        ({"creat_xuln": 1.5}, "ineligible"),  # "Cre\<1.5×the upper limit of normal value."
        ({"creat_xuln": 1.49}, "eligible"),
        ({"findings": {"bclc_stage": "A"}}, "ineligible"),  # "(BCLC, stageB/C)"
        ({"findings": {"bclc_stage": "C"}}, "eligible"),
        ({"findings": {"tace_failure_jsh": False}}, "ineligible"),
        ({"findings": {"life_expectancy_weeks": 11}}, "ineligible"),  # "≥ 12 weeks"
        ({"findings": {"main_portal_vein_invasion": True}}, "ineligible"),
        ({"findings": {"lactating": True}}, "ineligible"),
        # "within 4 weeks prior": TACE 27 days before screening excludes, 29 days does not.
        (
            {"therapies": [{"category": "interventional_therapy", "start": "2019-05-07"}]},
            "ineligible",
        ),
        (
            {"therapies": [{"category": "interventional_therapy", "start": "2019-05-05"}]},
            "eligible",
        ),
        ({"therapies": [{"category": "targeted_therapy", "start": "2019-05-20"}]}, "ineligible"),
    ],
)
def test_thresholds_decide_as_the_record_says(
    protocol: Protocol, change: dict[str, Any], expected: str
) -> None:
    assert _decision(protocol, **change) == expected


@given(plt=st.floats(min_value=0, max_value=1000, allow_nan=False))
@example(plt=50.0)
def test_platelet_criterion_is_strictly_above_50(plt: float) -> None:
    protocol = hcctrial.load_protocol(ID)
    criteria, lookback = criteria_from_protocol(protocol)
    [criterion] = [c for c in criteria if c.id == "IN-LAB-PLT"]
    record = record_from_dict(_patient(labs={"PLT": plt}), today=AS_OF)
    status = evaluate_criterion(criterion, record, AS_OF, lookback).status
    assert status == ("met" if plt > 50 else "not met")


# --- arms, interventions, doses, calendar --------------------------------------------------
def test_arms_and_randomization(protocol: Protocol) -> None:
    # "Allocation Method RANDOMIZED", "Intervention Model PARALLEL", "Blinding Strategy NONE",
    # "Total Enrollment 60 participants"; two groups (experimental, OTHER).
    d = protocol.design
    assert (d.allocation, d.model, d.masking, d.enrolment_target) == (
        "randomized",
        "parallel",
        "none",
        60,
    )
    assert [(a.id, a.type) for a in protocol.arms] == [
        ("inkt-tace", "experimental"),
        ("tace", "other"),
    ]
    assert protocol.arm("inkt-tace").interventions == ["tae-tace", "inkt", "il2"]
    assert protocol.arm("tace").interventions == ["tae-tace"]
    assert d.randomization is not None and d.randomization.ratio == {"inkt-tace": 1, "tace": 1}
    assert sum(a.planned_size or 0 for a in protocol.arms) == 60
    assert protocol.arm("tace").source == "TAE/TACE will be conducted at 0th week and 4th week."


def test_inkt_dose_is_per_m2_range(protocol: Protocol) -> None:
    inkt = protocol.intervention("inkt")
    assert inkt.source is not None and " ".join(inkt.source.split()) == INKT_SENTENCE
    assert inkt.dose is not None
    assert (inkt.dose.low, inkt.dose.high, inkt.dose.unit, inkt.dose.basis) == (
        5e8,
        1e9,
        "cells/m2",
        "per-m2",
    )
    assert (inkt.origin, inkt.kind, inkt.cycles, inkt.cycle_length_days) == (
        "autologous",
        "biological",
        6,
        14,
    )
    # Hand check: 180 cm, 80 kg -> Mosteller sqrt(180*80/3600) = 2.0 m2 -> 1e9..2e9 cells.
    assert bsa_mosteller(180, 80) == pytest.approx(2.0)
    low = calculate_dose(inkt.dose.low, inkt.dose.unit, height_cm=180, weight_kg=80)
    high = calculate_dose(inkt.dose.high, inkt.dose.unit, height_cm=180, weight_kg=80)
    assert (low.amount, high.amount) == (pytest.approx(1e9), pytest.approx(2e9))


def test_il2_dose_is_per_kg_per_day_after_each_infusion(protocol: Protocol) -> None:
    il2 = protocol.intervention("il2")
    assert il2.source == IL2_SENTENCE
    assert il2.dose is not None
    assert (il2.dose.value, il2.dose.unit, il2.dose.basis, il2.dose.per) == (
        25000,
        "IU/kg/day",
        "per-kg",
        "day",
    )
    assert il2.duration_days is not None
    assert (il2.duration_days.low, il2.duration_days.high) == (5, 14)
    assert il2.follows == "inkt"
    # 25,000 IU/kg/day x 70 kg = 1,750,000 IU per day.
    assert calculate_dose(25000, "IU/kg/day", weight_kg=70).amount == pytest.approx(1.75e6)


def test_calendar_weeks(protocol: Protocol) -> None:
    schedule = protocol.schedule
    assert schedule.anchor.event == "first-tace"
    events = {e.id: e for e in schedule.events}
    assert events["tae-tace"].weeks == [0, 4]
    assert events["tae-tace"].source == TACE_SENTENCE
    assert events["inkt-infusion"].weeks == [1, 3, 5, 7, 9, 11]
    assert events["il2-course"].after == "inkt-infusion"
    assert events["il2-course"].intervention == "il2"
    tace = protocol.intervention("tae-tace")
    assert (tace.kind, tace.route, tace.cycles, tace.cycle_length_days) == (
        "procedure",
        "intra-arterial",
        2,
        28,
    )


# --- outcomes, safety, follow-up ------------------------------------------------------------
def test_every_outcome_named_in_the_record_is_an_endpoint(protocol: Protocol) -> None:
    named = {"OS": "os", "PFS": "pfs", "ORR": "orr", "DCR": "dcr"}
    for abbreviation, kind in named.items():
        assert f"({abbreviation})" in OUTCOMES
        [endpoint] = [e for e in protocol.endpoints if e.kind == kind]
        assert " ".join(endpoint.source.split()) == OUTCOMES
        assert endpoint.compare_arms
    pfs = protocol.endpoint("pfs")
    assert pfs.role == "primary" and pfs.origin == "enrolment"
    assert pfs.event == ["progression", "death"]
    assert pfs.response is not None and pfs.response.criteria == "mrecist"
    assert protocol.endpoint("os").event == ["death"]
    assert protocol.endpoint("orr").responses == ["CR", "PR"]
    assert protocol.endpoint("dcr").responses == ["CR", "PR", "SD"]
    for e in protocol.endpoints:
        if e.response is not None:
            assert e.response.criteria == "mrecist"


def test_safety_and_follow_up(protocol: Protocol) -> None:
    assert protocol.safety.ctcae_version == "5.0"
    assert protocol.safety.ae_window is not None
    assert protocol.safety.ae_window.start == "first-tace"
    assert protocol.follow_up.duration_months == 24


def test_silences_and_contradictions_are_assumptions(protocol: Protocol) -> None:
    ids = {a.id for a in protocol.assumptions}
    needed = {
        "A-RANDOMIZATION",  # ratio and strata not in the record
        "A-TACE-FAILURE",  # JSH definition
        "A-INKT-COUNT",  # cells/mL vs % of PBMC
        "A-OUTCOMES",  # no outcome section in the record
        "A-CTCAE",
        "A-AE-WINDOW",
        "A-FOLLOW-UP",
        "A-IL2-START",
    }
    assert needed <= ids
    jsh = next(a for a in protocol.assumptions if a.id == "A-TACE-FAILURE")
    assert "≧2 consecutive TAE/TACE procedures" in jsh.record_says
    assert "Kudo" in jsh.reason


def test_every_source_in_the_file_is_record_text(protocol: Protocol) -> None:
    found = _sources(protocol.model_dump())
    assert len(found) > 40
    for where, text in found:
        flat = " ".join(text.split())
        assert any(flat in passage for passage in PASSAGES), (where, text)
    assert " ".join((protocol.arm("inkt-tace").source or "").split()) == EXPERIMENTAL_GROUP
    assert " ".join((protocol.schedule.source or "").split()) == CALENDAR


def test_items_resting_on_assumptions_name_them(protocol: Protocol) -> None:
    [relapsed] = [c for c in protocol.eligibility.criteria if c.id == "IN-RELAPSED"]
    assert relapsed.assumption == "A-TACE-FAILURE"
    assert protocol.intervention("il2").assumption == "A-IL2-START"
    assert {e.assumption for e in protocol.endpoints} <= {"A-OUTCOMES", "A-ASSESSMENTS", "A-CTCAE"}
    for event in protocol.schedule.events:
        # Only the record's three treatment events stand without an assumption.
        if event.assumption is None:
            assert event.id in {"tae-tace", "inkt-infusion"}, event.id


# --- the calendar the schedule engine builds from this file --------------------------------
def test_calendar_of_the_experimental_arm() -> None:
    cal = build_calendar(ID, "inkt-tace", date(2019, 6, 10), height_cm=180, weight_kg=80)
    by_event = {
        k[0]: v for k, v in cal.partition_by("EVENTID", as_dict=True, include_key=True).items()
    }
    # TAE/TACE at weeks 0 and 4; iNKT at weeks 1, 3, 5, 7, 9, 11; IL-2 from the next day.
    assert by_event["tae-tace"]["DAY"].to_list() == [0, 28]
    assert by_event["inkt-infusion"]["DAY"].to_list() == [7, 21, 35, 49, 63, 77]
    il2 = by_event["il2-course"]
    assert il2["DAY"].to_list() == [8, 22, 36, 50, 64, 78]
    assert set(il2["DURMIN"].to_list()) == {5} and set(il2["DURMAX"].to_list()) == {14}
    # 180 cm, 80 kg: BSA 2.0 m2 -> 1e9..2e9 iNKT cells; IL-2 25,000 x 80 = 2,000,000 IU/day.
    inkt = by_event["inkt-infusion"].row(0, named=True)
    assert (inkt["EXDOSE"], inkt["EXDOSEHI"], inkt["EXDOSU"]) == (
        pytest.approx(1e9),
        pytest.approx(2e9),
        "cells",
    )
    assert il2.row(0, named=True)["EXDOSE"] == pytest.approx(2e6)


def test_calendar_of_the_control_arm_has_no_cells_or_il2() -> None:
    cal = build_calendar(ID, "tace", date(2019, 6, 10), height_cm=180, weight_kg=80)
    events = set(cal["EVENTID"].to_list())
    assert {"inkt-infusion", "il2-course", "labs-infusion"}.isdisjoint(events)
    assert cal.filter(cal["EVENTID"] == "tae-tace")["DAY"].to_list() == [0, 28]
