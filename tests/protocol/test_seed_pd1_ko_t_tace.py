"""pd1-ko-t-tace (TACE + PD-1 knockout T cells): the built-in protocol against its record.

The record (seed ``000_bab5206727507751.txt``, copied to ``records/``) is quoted here verbatim,
typos included. Each outcome measure of the record must be the ``source`` of exactly one
endpoint with the record's CTCAE version, response criteria, origin, event and time frame; the
record's only statements of who enters must be criteria whose expressions parse in the
eligibility language; the calendar must be one TACE then three infusions four weeks apart with
the record's assessment weeks; every ``source`` in the file must be text of the record; and
what the record leaves open must be an assumption that the dependent items name.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seedcheck import record_lines, record_text, sources, squash

import hcctrial
from hcctrial.eligibility import parse_expression, record_from_dict, screen_patient
from hcctrial.protocol import Protocol, builtin_protocols

ID = "pd1-ko-t-tace"
RECORD = "000_bab5206727507751.txt"

# --- the record, verbatim ----------------------------------------------------------------------
TITLE = "TACE Combined With PD-1 Knockout Engineered T Cell in Advanced Hepatocellular Carcinoma."
CONDITION = "Advanced Hepatocellular Carcinoma"
POPULATION = "the Paitents with advanced hepatocellular carcinoma(HCC)"
INTERVENTIONS = (
    "PROCEDURE: Transcatheter arterial chemoembolization"
    "|BIOLOGICAL: PD-1 knockout engineered T cells"
)
PRIMARY = [
    "Incidence of Adverse Events, Number of participants with Adverse Events using Common "
    "Terminology Criteria for Adverse Events (CTCAE v4.03) in patients., up to 2 years",
]
SECONDARY = [
    "Response Rate, To evaluate the objective response rate (ORR) ,refers to the proportion of "
    "patients whose tumors shrink to a certain extent and remain unchanged for a certain period "
    "of time, including patients with CR+PR.Tumors are assessed at baseline, the 8th week, the "
    "16th week,the 24th week, and once every 12 weeks during the treatment and follow-up period "
    "per RECIST1.1., up to 12 months",
    "Time to First Response, To evaluate time to first response, defined as the time from the "
    "first cell infusion to the first observed complete response (CR) or partial response (PR)., "
    "up to 2 years",
    "Duration of Response, To evaluate the duration of response (DOR), defined as the time from "
    "the first observed CR or PR to the first observed PD or death from any cause., up to 2 years",
    "Progression Free Survival, To evaluate the progression free survival (PFS), defined as the "
    "time from the first cell infusion to the first observed PD or death from any cause., up to "
    "2 years",
    "Overall Survival, To evaluate the overall survival (OS), defined as the time from the first "
    "cell infusion to death., up to 2 years",
]
SCHEDULE_SENTENCE = (
    "The patients performed one TACE treatment followed by 3 cycles of PD-1 edited T cells by "
    "percutaneous infusion in the peripheral of tumor under the guide of CT every four weeks."
)
MANUFACTURE_SENTENCE = (
    "The PD-1 knockout engineered T cells were also prepared from autologous origin using CRISPR "
    "Cas9 technology."
)
SAMPLES_SENTENCE = "Blood and tissue samples will also be collected for research purposes."

# (endpoint kind, origin, events, months of follow-up) the record defines for each outcome.
EXPECTED = {
    PRIMARY[0]: ("safety-incidence", None, ["adverse-event"], 24),
    SECONDARY[0]: ("orr", "first-infusion", [], 12),
    SECONDARY[1]: ("ttr", "first-infusion", ["response"], 24),
    SECONDARY[2]: ("dor", "first-response", ["progression", "death"], 24),
    SECONDARY[3]: ("pfs", "first-infusion", ["progression", "death"], 24),
    SECONDARY[4]: ("os", "first-infusion", ["death"], 24),
}


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return hcctrial.load_protocol(ID)


def test_quotes_are_the_record() -> None:
    lines = record_lines(RECORD)
    assert lines[0] == TITLE
    assert lines[2] == CONDITION
    assert lines[3] == INTERVENTIONS
    # The registry export: one line of primary and one of secondary outcomes, '|'-separated.
    assert lines[4].split("|") == PRIMARY
    assert lines[5].split("|") == SECONDARY
    text = record_text(RECORD)
    for sentence in (POPULATION, SCHEDULE_SENTENCE, MANUFACTURE_SENTENCE, SAMPLES_SENTENCE):
        assert sentence in text


def test_loads_by_id_alias_and_builtins(protocol: Protocol) -> None:
    assert protocol.id == ID and protocol.registry_id is None
    assert builtin_protocols()[ID] == protocol
    assert hcctrial.builtin_protocols()[ID] == protocol
    assert hcctrial.load_protocol("PD1-KO-T") == protocol
    assert protocol.official_title == TITLE
    assert protocol.conditions == [CONDITION]
    assert protocol.phase == "not stated" and protocol.design.enrolment_target is None


# --- outcomes: one endpoint per outcome measure ---------------------------------------------
@pytest.mark.parametrize("measure", PRIMARY + SECONDARY)
def test_every_outcome_measure_is_an_endpoint(protocol: Protocol, measure: str) -> None:
    matches = [e for e in protocol.endpoints if squash(e.source) == measure]
    assert len(matches) == 1, f"no single endpoint encodes: {measure[:60]}"
    [endpoint] = matches
    kind, origin, events, months = EXPECTED[measure]
    assert endpoint.kind == kind
    assert endpoint.origin == origin
    assert endpoint.event == events
    assert endpoint.horizon_months == months
    assert endpoint.role == ("primary" if measure in PRIMARY else "secondary")
    if kind in ("orr", "ttr", "dor", "pfs"):  # "per RECIST1.1"
        assert endpoint.response is not None and endpoint.response.criteria == "recist1.1"
    if kind in ("orr", "ttr"):
        assert endpoint.responses == ["CR", "PR"]  # "including patients with CR+PR"


def test_no_endpoint_outside_the_record(protocol: Protocol) -> None:
    assert sorted(squash(e.source) for e in protocol.endpoints) == sorted(PRIMARY + SECONDARY)


def test_ctcae_version_is_4_03_everywhere(protocol: Protocol) -> None:
    assert protocol.safety.ctcae_version == "4.03"
    assert protocol.endpoint("ae").ctcae_version == "4.03"
    window = protocol.safety.ae_window
    assert window is not None and window.end_days_after == 730  # "up to 2 years"
    assert protocol.follow_up.duration_months == 24


def test_orr_needs_confirmation(protocol: Protocol) -> None:
    # "remain unchanged for a certain period of time": RECIST 1.1 section 4.4, >= 4 weeks.
    response = protocol.endpoint("orr").response
    assert response is not None
    assert response.confirmation_required and response.confirmation_days == 28
    assert protocol.endpoint("orr").assumption == "A-ORR-CONFIRMATION"


# --- treatment and calendar -------------------------------------------------------------------
def test_interventions_and_route(protocol: Protocol) -> None:
    tace, cells = protocol.intervention("tace"), protocol.intervention("pd1-ko-t")
    assert (tace.kind, tace.cycles, tace.route) == ("procedure", 1, "intra-arterial")
    assert cells.kind == "biological" and cells.origin == "autologous"
    assert cells.route == "percutaneous-peritumoral"  # "in the peripheral of tumor"
    assert (cells.cycles, cells.cycle_length_days) == (3, 28)  # "3 cycles ... every four weeks"
    assert cells.manufacturing is not None and "CRISPR" in cells.manufacturing
    assert cells.dose is None and cells.assumption == "A-CELL-DOSE"  # the record gives no dose
    [arm] = protocol.arms
    assert arm.interventions == ["tace", "pd1-ko-t"] and arm.source == INTERVENTIONS


def _days(protocol: Protocol, event_id: str) -> list[int]:
    [event] = [e for e in protocol.schedule.events if e.id == event_id]
    return sorted([*event.days, *(round(7 * w) for w in event.weeks)])


def test_calendar_one_tace_then_three_infusions(protocol: Protocol) -> None:
    assert protocol.schedule.anchor.event == "first-infusion"
    assert protocol.schedule.source is not None
    assert squash(protocol.schedule.source) == SCHEDULE_SENTENCE
    infusions = _days(protocol, "infusion")
    assert infusions == [0, 28, 56]
    tace = _days(protocol, "tace")
    assert len(tace) == 1 and tace[0] < infusions[0]  # "one TACE treatment followed by"


def test_assessment_calendar(protocol: Protocol) -> None:
    # "at baseline, the 8th week, the 16th week,the 24th week, and once every 12 weeks"
    assert _days(protocol, "tumour-assessment") == [56, 112, 168]
    [event] = [e for e in protocol.schedule.events if e.id == "tumour-assessment"]
    assert event.repeat is not None
    assert (event.repeat.every_weeks, event.repeat.start_week) == (12, 36)
    assert event.repeat.until == "end-of-follow-up"
    baseline = _days(protocol, "baseline-imaging")
    assert baseline[0] <= _days(protocol, "tace")[0]  # before the first study treatment


# --- eligibility ------------------------------------------------------------------------------
def test_criteria_are_the_records_words_and_parse(protocol: Protocol) -> None:
    assert {c.source for c in protocol.eligibility.criteria} == {CONDITION, POPULATION}
    for c in protocol.eligibility.criteria:
        assert c.kind == "inclusion" and c.expression is not None
        parse_expression(c.expression, where=c.id)
        assert c.assumption is not None  # the record has no eligibility section


AS_OF = date(2026, 11, 20)


def _decision(protocol: Protocol, findings: dict[str, Any]) -> str:
    record = record_from_dict({"id": "P1", "sex": "F", "age": 61, "findings": findings})
    return screen_patient(protocol, record, AS_OF).decision


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({"diagnosis": "HCC", "bclc_stage": "C"}, "eligible"),
        ({"diagnosis": "HCC", "bclc_stage": "B"}, "ineligible"),  # intermediate, not advanced
        ({"diagnosis": "cholangiocarcinoma", "bclc_stage": "C"}, "ineligible"),
        ({"diagnosis": "HCC"}, "incomplete"),  # stage unknown is never eligible
    ],
)
def test_screening(protocol: Protocol, findings: dict[str, Any], expected: str) -> None:
    assert _decision(protocol, findings) == expected


@given(st.sampled_from(["0", "A", "B", "C", "D"]))
def test_only_bclc_c_enters(stage: str) -> None:
    protocol = hcctrial.load_protocol(ID)
    decision = _decision(protocol, {"diagnosis": "HCC", "bclc_stage": stage})
    assert (decision == "eligible") == (stage == "C")


# --- provenance -------------------------------------------------------------------------------
def test_every_source_is_record_text(protocol: Protocol) -> None:
    text = squash(record_text(RECORD))
    for where, source in sources(protocol.model_dump()):
        assert squash(source) in text, f"{where} does not quote the record: {source[:60]}"


def test_assumptions_cover_what_the_record_leaves_open(protocol: Protocol) -> None:
    ids = {a.id for a in protocol.assumptions}
    for needed in ("A-NO-ELIGIBILITY", "A-CELL-DOSE", "A-TACE-TO-INFUSION", "A-PHASE-SIZE"):
        assert needed in ids
    for a in protocol.assumptions:
        assert a.record_says and a.chosen and len(a.reason) > 30, a.id
    referenced = {
        item.assumption
        for group in (
            protocol.interventions,
            protocol.schedule.events,
            protocol.eligibility.criteria,
            protocol.endpoints,
            protocol.biomarkers,
        )
        for item in group
        if item.assumption
    }
    assert referenced <= ids
    assert ids - referenced <= {"A-PHASE-SIZE"}  # the only file-level choice
