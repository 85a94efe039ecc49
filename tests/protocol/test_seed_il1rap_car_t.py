"""il1rap-car-t (IL1RAP CAR-T, phase 1 dose escalation): the built-in protocol against its record.

The record (seed ``002_508249728ebd2e62.txt``, copied to ``records/``) is quoted here verbatim.
Each of its outcome measures must be the ``source`` of exactly one endpoint, with the record's
time frame turned into the right origin, timepoints and horizon; the three dose groups must be
the record's flat cell numbers; the AE window must open at PBMC collection and close 12 months
after the infusion (28 days for participants never infused); the DLT window must be 28 days;
the DLT rules (not in the record) must be flagged as assumed and behave as the assumption says
when the safety engine applies them; every ``source`` must be record text.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from seedcheck import record_lines, record_text, sources, squash

import hcctrial
from hcctrial.eligibility import parse_expression
from hcctrial.protocol import Protocol, builtin_protocols
from hcctrial.safety.dlt import evaluate_dlt

ID = "il1rap-car-t"
RECORD = "002_508249728ebd2e62.txt"

# --- the record, verbatim ---------------------------------------------------------------------
TITLE = (
    "IL1RAP-targeting Chimeric Antigen Receptor T Cells in the Treatment of Relapsed/Refractory "
    "Hepatocellular Carcinoma"
)
OFFICIAL_TITLE = (
    "A Phase 1 Study of IL1RAP-targeting Chimeric Antigen Receptor T cells in the Treatment of "
    "Relapsed/Refractory Hepatocellular Carcinoma"
)
PRODUCT = "BIOLOGICAL: Gene modified anti-IL1RAP Chimeric Antigen Receptor T Cells"
DOSE_GROUPS = [
    f"{PRODUCT} :1.0×10^8(First dose group)",
    f"{PRODUCT} :2.5×10^8(Second dose group)",
    f"{PRODUCT} :5.0×10^8（Third dose group）",
]
WITHDRAWN = (
    "participants who withdraw without cell infusion will be only collected for AEs within 28 "
    "days after the study-related procedure or other treatment begins"
)
AE_FRAME = (
    "From the start of PBMC collection until subject withdrawal or 12 months after cell infusion"
)
PRIMARY = [
    "Number of participants with Dose Limited Toxicity, Within 28 days after the cell infusion",
    "Number of participants with treatment associated adverse events (AE) and serious adverse "
    f"events (SAE) according to CTCAE v5.0, {AE_FRAME}, {WITHDRAWN}",
    "Number of participants with cytokine release syndrome (CRS) and immune effector "
    f"cell-associated neurotoxicity syndrome (ICANS), {AE_FRAME}, {WITHDRAWN}",
    "Number of participants with treatment associated changes in clinically significant "
    f"laboratory safety test values, {AE_FRAME}, {WITHDRAWN}",
]
T4 = "3 months, 6 months, 1 year, 2years after cell infusion"
T3 = "6 months, 1 year, 2years after cell infusion"
SECONDARY = [
    "Curative effect evaluation, 3-month objective response rate (ORR); 、, 3 months after cell "
    "infusion",
    f"Disease control rate (DCR), {T4}",
    f"Changes of serum IL1RAP level, {T4}",
    f"Changes of copy number and absolute value of CAR-T cells targeting IL1RAP in peripheral "
    f"blood, {T4}",
    f"Progression-free survival (PFS), {T4}",
    f"Median PFS, {T4}",
    f"Time to remission (TTR), {T4}",
    f"Duration of response after administration (DOR), {T4}",
    f"Survival time: Median overall survival (mOS), {T3}",
    f"OS rate, {T3}",
    f"PFS rate, {T4}",
]
# endpoint kind and the timepoints (months) each measure's time frame gives.
EXPECTED: dict[str, tuple[str, list[float]]] = {
    PRIMARY[0]: ("dlt", []),
    PRIMARY[1]: ("safety-incidence", []),
    PRIMARY[2]: ("safety-incidence", []),
    PRIMARY[3]: ("lab-shift", []),
    SECONDARY[0]: ("orr", [3]),
    SECONDARY[1]: ("dcr", [3, 6, 12, 24]),
    SECONDARY[2]: ("biomarker-change", [3, 6, 12, 24]),
    SECONDARY[3]: ("kinetics", [3, 6, 12, 24]),
    SECONDARY[4]: ("pfs", [3, 6, 12, 24]),
    SECONDARY[5]: ("median-pfs", [3, 6, 12, 24]),
    SECONDARY[6]: ("ttr", [3, 6, 12, 24]),
    SECONDARY[7]: ("dor", [3, 6, 12, 24]),
    SECONDARY[8]: ("median-os", [6, 12, 24]),
    SECONDARY[9]: ("rate", [6, 12, 24]),
    SECONDARY[10]: ("rate", [3, 6, 12, 24]),
}


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return hcctrial.load_protocol(ID)


def test_quotes_are_the_record() -> None:
    lines = record_lines(RECORD)
    assert lines[0] == TITLE and lines[1] == OFFICIAL_TITLE and lines[2] == "HCC"
    assert lines[3].split("|") == DOSE_GROUPS
    assert lines[4].split("|") == PRIMARY
    assert lines[5].split("|") == SECONDARY


def test_loads_by_id_alias_and_builtins(protocol: Protocol) -> None:
    assert builtin_protocols()[ID] == protocol
    assert hcctrial.load_protocol("IL1RAP") == protocol
    assert protocol.phase == "Phase 1"  # "A Phase 1 Study"
    assert protocol.official_title == OFFICIAL_TITLE and protocol.conditions == ["HCC"]


# --- outcomes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", PRIMARY + SECONDARY)
def test_every_outcome_measure_is_an_endpoint(protocol: Protocol, measure: str) -> None:
    matches = [e for e in protocol.endpoints if squash(e.source) == measure]
    assert len(matches) == 1, f"no single endpoint encodes: {measure[:70]}"
    [endpoint] = matches
    kind, timepoints = EXPECTED[measure]
    assert endpoint.kind == kind
    assert endpoint.timepoints_months == timepoints
    assert endpoint.role == ("primary" if measure in PRIMARY else "secondary")
    if measure in PRIMARY:
        assert endpoint.ctcae_version == "5.0"  # "according to CTCAE v5.0"
    if measure in PRIMARY[1:]:
        assert endpoint.origin == "pbmc-collection"  # "From the start of PBMC collection"
        assert endpoint.horizon_months == 12  # "12 months after cell infusion"
    if kind in ("pfs", "median-pfs", "ttr", "median-os", "rate"):
        assert endpoint.origin == "first-infusion"  # "after cell infusion"
    if kind == "dor":
        assert endpoint.origin == "first-response"


def test_no_endpoint_outside_the_record(protocol: Protocol) -> None:
    assert sorted(squash(e.source) for e in protocol.endpoints) == sorted(PRIMARY + SECONDARY)


def test_response_sets(protocol: Protocol) -> None:
    assert protocol.endpoint("orr-3m").responses == ["CR", "PR"]  # ORR = CR + PR
    assert protocol.endpoint("dcr").responses == ["CR", "PR", "SD"]  # DCR = CR + PR + SD
    assert protocol.endpoint("os-rate").event == ["death"]
    assert protocol.endpoint("pfs-rate").event == ["progression", "death"]


# --- doses and escalation ---------------------------------------------------------------------
def test_dose_groups_are_the_records_flat_cell_numbers(protocol: Protocol) -> None:
    doses = [(d.dose.value, d.dose.unit, d.dose.basis) for d in protocol.dose_levels]
    assert doses == [(1.0e8, "cells", "flat"), (2.5e8, "cells", "flat"), (5.0e8, "cells", "flat")]
    assert [squash(d.source or "") for d in protocol.dose_levels] == DOSE_GROUPS
    item = protocol.intervention("il1rap-car-t")
    assert item.dose_from_levels and item.dose is None
    assert squash(item.source or "") == PRODUCT
    [arm] = protocol.arms
    assert arm.dose_levels == ["dl1", "dl2", "dl3"]


def test_escalation_is_an_assumed_3_plus_3(protocol: Protocol) -> None:
    esc = protocol.design.dose_escalation
    assert esc is not None
    assert (esc.design, esc.levels, esc.start_level) == ("3+3", ["dl1", "dl2", "dl3"], "dl1")
    assert (esc.cohort_size, esc.max_per_level, esc.max_patients) == (3, 6, 18)
    assert not esc.allow_skipping
    assert "A-ESCALATION" in {a.id for a in protocol.assumptions}


# --- safety windows ---------------------------------------------------------------------------
def test_ae_window_matches_record(protocol: Protocol) -> None:
    w = protocol.safety.ae_window
    assert w is not None
    assert (w.start, w.end_after) == ("pbmc-collection", "first-infusion")
    assert w.end_days_after == 365  # 12 months x 30.4375 days, rounded
    assert w.ends_at_withdrawal  # "until subject withdrawal"
    assert w.untreated_days == 28  # "within 28 days after the study-related procedure"
    assert squash(w.source or "") == f"{AE_FRAME}, {WITHDRAWN}"
    assert protocol.safety.ctcae_version == "5.0"
    assert protocol.safety.crs_icans_grading == "ASTCT 2019"


def test_dlt_window_and_flag(protocol: Protocol) -> None:
    dlt = protocol.safety.dlt
    assert dlt is not None
    assert (dlt.window_days, dlt.window_start) == (28, "first-infusion")  # "Within 28 days"
    assert dlt.definition == "assumed"  # the record gives no DLT criteria
    assert protocol.endpoint("dlt").assumption == "A-DLT-RULES"
    [a] = [a for a in protocol.assumptions if a.id == "A-DLT-RULES"]
    assert a.references, "the assumed DLT definition names its sources"


def _dlt(protocol: Protocol, rows: list[dict[str, object]]) -> pl.DataFrame:
    dlt = protocol.safety.dlt
    assert dlt is not None
    adsl = pl.DataFrame(
        {"USUBJID": ["S1"], "TRTSDT": [dt.date(2026, 1, 1)], "LSTALVDT": [dt.date(2026, 3, 1)]}
    )
    ae = pl.DataFrame(
        [{"USUBJID": "S1", "AEREL": "POSSIBLE", **row} for row in rows],
        schema={
            "USUBJID": pl.Utf8,
            "AEREL": pl.Utf8,
            "AEDECOD": pl.Utf8,
            "AETOXGR": pl.Int64,
            "AESTDTC": pl.Utf8,
            "AEENDTC": pl.Utf8,
        },
    )
    return evaluate_dlt(dlt, adsl, ae).subjects


@pytest.mark.parametrize(
    ("term", "grade", "start", "end", "dlt"),
    [
        ("Cytokine release syndrome", 4, "2026-01-03", "2026-01-04", "Y"),  # grade 4 CRS
        ("Cytokine release syndrome", 3, "2026-01-03", "2026-01-07", "Y"),  # >= 72 hours
        ("Cytokine release syndrome", 3, "2026-01-03", "2026-01-04", "N"),  # resolved < 72 h
        (
            "Immune effector cell-associated neurotoxicity syndrome",
            3,
            "2026-01-05",
            "2026-01-05",
            "Y",
        ),
        ("Alanine aminotransferase increased", 3, "2026-01-10", "2026-01-20", "Y"),
        ("Nausea", 3, "2026-01-10", "2026-01-11", "N"),  # grade 3 < 72 h
        ("Fever", 3, "2026-01-02", "2026-01-10", "N"),  # graded as CRS, not on its own
        ("Platelet count decreased", 4, "2026-01-05", "2026-01-15", "Y"),  # >= 7 days
        ("Platelet count decreased", 4, "2026-01-05", "2026-01-08", "N"),
        ("Lymphocyte count decreased", 4, "2026-01-02", "2026-01-27", "N"),  # excepted
        ("Febrile neutropenia", 3, "2026-01-09", "2026-01-10", "Y"),
        ("Alanine aminotransferase increased", 4, "2026-02-01", "2026-02-10", "N"),  # day 31
    ],
)
def test_assumed_dlt_rules_behave_as_stated(
    protocol: Protocol, term: str, grade: int, start: str, end: str, dlt: str
) -> None:
    rows: list[dict[str, object]] = [
        {"AEDECOD": term, "AETOXGR": grade, "AESTDTC": start, "AEENDTC": end}
    ]
    subjects = _dlt(protocol, rows)
    assert subjects["DLTFL"].to_list() == [dlt]


# --- calendar ---------------------------------------------------------------------------------
def test_calendar(protocol: Protocol) -> None:
    events = {e.id: e for e in protocol.schedule.events}
    assert protocol.schedule.anchor.event == "first-infusion"
    assert events["infusion"].days == [0]
    assert events["pbmc-collection"].days[0] < 0  # PBMC collection precedes the infusion
    assert events["response-assessment"].months == [3, 6, 12, 24]
    assert events["biomarker-sample"].months == [3, 6, 12, 24]
    assert events["survival-follow-up"].months == [6, 12, 24]
    assert all(d <= 28 for d in events["dlt-visit"].days)  # inside the DLT window
    assert protocol.follow_up.duration_months == 24  # "2years after cell infusion"


# --- eligibility and provenance ---------------------------------------------------------------
def test_criteria(protocol: Protocol) -> None:
    by_id = {c.id: c for c in protocol.eligibility.criteria}
    assert set(by_id) == {"IN-HCC", "IN-RELAPSED-REFRACTORY"}
    hcc = by_id["IN-HCC"]
    assert hcc.expression is not None
    assert parse_expression(hcc.expression).names == {"diagnosis"}
    assert by_id["IN-RELAPSED-REFRACTORY"].judgement == "investigator"
    for c in protocol.eligibility.criteria:
        assert c.source in TITLE and c.assumption == "A-NO-ELIGIBILITY"


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
            protocol.biomarkers,
        )
        for item in group
        if item.assumption
    }
    assert referenced <= ids
    # Design-level choices are not tied to one item.
    assert ids - referenced == {"A-ESCALATION", "A-ENROLMENT"}
