"""Build the trial report from a protocol and its study data (real or simulated).

Each section is computed on its own: a section the data cannot support (no tumour
assessments yet, one arm for a comparison) is kept with the reason instead of failing the
whole report (:class:`~hcctrial.report.document.Section.unavailable`).

Usage (a study folder ``data/``)::

    from hcctrial.io import read_study
    from hcctrial.protocol import load_protocol
    from hcctrial.report.build import build_report

    report = build_report(load_protocol("NCT04011033"), read_study("data/"))
    Path("report.html").write_text(render_html(report))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from hcctrial.io import StudyData
from hcctrial.io.adsl import derive_adsl
from hcctrial.protocol import Protocol
from hcctrial.report.document import Report, Section, guarded
from hcctrial.report.efficacy import (
    EfficacyResults,
    efficacy_results,
    response_section,
    survival_section,
)
from hcctrial.report.tables import ConsortFlow, baseline_characteristics, consort_html

__all__ = ["ReportResult", "build_report", "consort_flow"]

BASELINE_LABS = (
    ("AFP", "Alpha-fetoprotein (ng/mL)"),
    ("ALB", "Albumin (g/L)"),
    ("BILI", "Total bilirubin (umol/L)"),
    ("PLT", "Platelets (10^9/L)"),
    ("ALT", "ALT (U/L)"),
)


#: Baseline disease characteristics read from SUPPDM (QNAM, label), as hcctrial.simulate
#: writes them; a study without SUPPDM shows only what DM, LB and TR hold.
BASELINE_QUALIFIERS = (
    ("AETIOL", "Aetiology"),
    ("BCLC", "BCLC stage"),
    ("CPCLASS", "Child-Pugh class"),
    ("ECOG", "ECOG performance status"),
    ("MVI", "Macrovascular invasion"),
    ("EHS", "Extrahepatic spread"),
)


@dataclass
class ReportResult:
    """The report and the tables behind it (kept for the index page and for tests)."""

    report: Report
    adsl: pl.DataFrame
    efficacy: EfficacyResults | None = None
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def protocol_section(protocol: Protocol) -> Section:
    """Design, arms with their interventions and doses, endpoints, calendar."""
    p = protocol
    section = Section("protocol", "Protocol")
    design = p.design
    facts = [
        ("Protocol id", p.id),
        ("Registry", p.registry_id or "not registered (descriptive id)"),
        ("Title", p.official_title or p.title),
        ("Phase", str(p.phase)),
        ("Allocation", design.allocation),
        ("Enrolment target", str(design.enrolment_target or "not stated")),
        ("Sites", str(design.site_count or len(design.sites) or "not stated")),
        ("CTCAE version", str(p.safety.ctcae_version)),
        ("Follow-up", f"{p.follow_up.duration_months:g} months"),
    ]
    if design.randomization is not None:
        ratio = ":".join(str(v) for v in design.randomization.ratio.values())
        strata = ", ".join(design.randomization.strata) or "none"
        facts.append(("Randomization", f"{ratio}; strata: {strata}"))
    if design.dose_escalation is not None:
        esc = design.dose_escalation
        facts.append(("Dose escalation", f"{esc.design}, cohorts of {esc.cohort_size}"))
    section.add_table(pl.DataFrame(facts, schema=["Item", "Value"], orient="row"), "Design")
    rows = []
    for arm in p.arms:
        for iid in arm.interventions:
            iv = p.intervention(iid)
            dose = iv.dose
            rows.append(
                {
                    "Arm": arm.label,
                    "Intervention": iv.name,
                    "Kind": iv.kind,
                    "Dose": _dose_text(dose)
                    if dose
                    else ("by dose level" if iv.dose_from_levels else ""),
                    "Cycles": "" if iv.cycles is None else str(iv.cycles),
                    "Route": iv.route or "",
                }
            )
    section.add_table(pl.DataFrame(rows), "Arms and interventions")
    if p.dose_levels:
        section.add_table(
            pl.DataFrame(
                [
                    {"Level": d.id, "Label": d.label, "Dose": _dose_text(d.dose)}
                    for d in p.dose_levels
                ]
            ),
            "Dose levels",
        )
    section.add_table(
        pl.DataFrame(
            [
                {
                    "Endpoint": e.name,
                    "Role": e.role,
                    "Kind": e.kind,
                    "Time frame": e.time_frame or "",
                }
                for e in p.endpoints
            ]
        ),
        "Outcome measures",
    )
    return section


def _dose_text(dose: object) -> str:
    value = getattr(dose, "value", None)
    low, high = getattr(dose, "low", None), getattr(dose, "high", None)
    amount = f"{value:g}" if value else f"{low:g} to {high:g}" if low and high else ""
    basis = getattr(dose, "basis", None)
    per = getattr(dose, "per", "")
    return f"{amount} {getattr(dose, 'unit', '')} ({basis or 'flat'}, per {per})".strip()


def _plain(text: str) -> str:
    """Registry text without its Markdown escapes (``LYMPH\\> 0.8`` -> ``LYMPH> 0.8``)."""
    return re.sub(r"\\([^\w\s])", r"\1", text)


def consort_flow(data: StudyData, adsl: pl.DataFrame) -> ConsortFlow:
    """CONSORT counts from DM/ADSL, screen failures (ENRLFL = N) with reasons from IE or DS.

    With IE, the failed criteria are ``excluded_reasons`` and the failures with no IE row
    (consent withdrawn during screening ...) ``other_reasons`` by DS term (CONSORT 2010 figure
    1: not meeting inclusion criteria / declined / other reasons); without IE, the DS terms.
    """
    screened = adsl.height
    failed = adsl.filter(pl.col("ENRLFL") == "N")
    reasons: list[tuple[str, int]] = []
    other: list[tuple[str, int]] = []
    # screen failures without a failed criterion in IE (e.g. consent withdrawn during screening)
    # are listed by their DS term
    no_ie = failed.get_column("USUBJID").to_list()
    if "IE" in data and failed.height:
        ie = data["IE"].filter(pl.col("USUBJID").is_in(failed.get_column("USUBJID").to_list()))
        text = "IETEST" if "IETEST" in ie.columns else "IETESTCD"
        counts = (
            ie.group_by(text)
            .agg(pl.col("USUBJID").n_unique().alias("n"))
            .sort("n", descending=True)
        )
        reasons = [(_plain(str(t)), int(n)) for t, n in counts.iter_rows()]
        no_ie = sorted(set(no_ie) - set(ie.get_column("USUBJID").to_list()))
    if "DS" in data and no_ie:
        ds = data["DS"].filter(
            pl.col("USUBJID").is_in(no_ie)
            & (pl.col("DSDECOD").str.to_uppercase() == "SCREEN FAILURE")
        )
        counts = ds.group_by("DSTERM").agg(pl.len().alias("n")).sort("n", descending=True)
        by_term = [(str(t), int(n)) for t, n in counts.iter_rows()]
        if "IE" in data:
            other = by_term  # failures with a failed criterion are all in IE
        else:
            reasons = by_term  # no IE: the DS terms are the only reasons given
    enrolled = adsl.filter(pl.col("ENRLFL") == "Y")

    def per_arm(df: pl.DataFrame) -> list[tuple[str, int]]:
        counts = df.group_by("ARM").agg(pl.len().alias("n")).sort("ARM")
        return [(str(a), int(n)) for a, n in counts.iter_rows()]

    completed = enrolled
    if "DS" in data:
        done = data["DS"].filter(pl.col("DSDECOD").str.to_uppercase() == "COMPLETED")
        completed = enrolled.filter(pl.col("USUBJID").is_in(done.get_column("USUBJID").to_list()))
    return ConsortFlow(
        screened=screened,
        excluded=failed.height,
        excluded_reasons=reasons,
        other_reasons=other,
        enrolled=enrolled.height,
        allocated=per_arm(enrolled),
        treated=per_arm(enrolled.filter(pl.col("SAFFL") == "Y")),
        completed=per_arm(completed),
        analysed=per_arm(adsl.filter(pl.col("ITTFL") == "Y")),
    )


def consort_section(
    data: StudyData, adsl: pl.DataFrame, protocol: Protocol | None = None
) -> Section:
    """The CONSORT flow diagram (screened, failed per criterion, allocated, treated, analysed)."""
    section = Section("consort", "Participant flow (CONSORT)")
    from hcctrial.report.document import Block

    randomized = protocol is not None and protocol.design.randomization is not None
    section.blocks.append(
        Block("html", consort_html(consort_flow(data, adsl), randomized=randomized))
    )
    return section


def baseline_section(data: StudyData, adsl: pl.DataFrame) -> Section:
    """Baseline characteristics by arm: demographics and baseline labs (last before day 1)."""
    subjects = adsl.filter(pl.col("ENRLFL") == "Y")
    table = subjects.select(
        "USUBJID", "ARM", *(c for c in ("AGE", "SEX", "RACE") if c in subjects.columns)
    )
    if "LB" in data and "LBDT" in data["LB"].columns:
        start = subjects.select("USUBJID", pl.coalesce("TRTSDT", "RANDDT").alias("_D1"))
        lb = (
            data["LB"]
            .filter(pl.col("LBTESTCD").is_in([code for code, _ in BASELINE_LABS]))
            .join(start, on="USUBJID")
            .filter(pl.col("_D1").is_null() | (pl.col("LBDT") <= pl.col("_D1")))
            .sort("LBDT")
            .group_by("USUBJID", "LBTESTCD")
            .agg(pl.col("LBSTRESN").last())
        )
        if lb.height:
            wide = lb.pivot(on="LBTESTCD", index="USUBJID", values="LBSTRESN")
            table = table.join(wide, on="USUBJID", how="left")
    supp = data.get("SUPPDM")
    if supp is not None and {"USUBJID", "QNAM", "QVAL"} <= set(supp.columns) and supp.height:
        wide = (
            supp.filter(pl.col("QNAM").is_in([q for q, _ in BASELINE_QUALIFIERS]))
            .unique(["USUBJID", "QNAM"], keep="first")
            .pivot(on="QNAM", index="USUBJID", values="QVAL")
        )
        table = table.join(wide, on="USUBJID", how="left")
    if "TR" in data and {"TRGRPID", "TRTESTCD", "TRSTRESN", "TRDT"} <= set(data["TR"].columns):
        first = (
            data["TR"]
            .filter((pl.col("TRGRPID") == "TARGET") & (pl.col("TRTESTCD") == "LDIAM"))
            .with_columns(pl.col("TRDT").min().over("USUBJID").alias("_FIRST"))
            .filter(pl.col("TRDT") == pl.col("_FIRST"))
            .group_by("USUBJID")
            .agg(
                pl.col("TRSTRESN").sum().alias("SLD0"),
                pl.len().cast(pl.Float64).alias("NTARGET"),
            )
        )
        table = table.join(first, on="USUBJID", how="left")
    labels = [
        ("AGE", "Age (years)"),
        ("SEX", "Sex"),
        ("RACE", "Race"),
        *BASELINE_QUALIFIERS,
        ("SLD0", "Sum of target lesion diameters (mm)"),
        ("NTARGET", "Target lesions"),
        *BASELINE_LABS,
    ]
    section = Section("baseline", "Baseline characteristics")
    section.add_table(
        baseline_characteristics(table, labels),
        "By arm (enrolled subjects): median (Q1-Q3), range; n (%)",
    )
    return section


def assumptions_section(protocol: Protocol) -> Section:
    """Every assumption the protocol file made where the record is silent or contradictory."""
    section = Section("assumptions", "Assumptions made by the protocol file")
    if not protocol.assumptions:
        section.add_text(
            "The protocol file records no assumptions: the record specified everything used."
        )
        return section
    section.add_table(
        pl.DataFrame(
            [
                {
                    "Topic": a.topic,
                    "Record says": a.record_says,
                    "Chosen": a.chosen,
                    "Why": a.reason,
                }
                for a in protocol.assumptions
            ]
        ),
        f"{len(protocol.assumptions)} assumptions",
    )
    return section


def build_report(
    protocol: Protocol,
    data: StudyData,
    *,
    subtitle: list[str] | None = None,
    extra_sections: list[Section] | None = None,
) -> ReportResult:
    """Every section of the report for ``protocol`` over ``data``.

    Sections: protocol, CONSORT flow, baseline characteristics, tumour response, time-to-event
    endpoints, safety, cellular kinetics, assumptions. Sections that cannot be computed carry
    the reason (:attr:`Section.unavailable`).
    """
    adsl = derive_adsl(data)
    result = ReportResult(report=Report(protocol.title, subtitle or [], []), adsl=adsl)
    sections: list[Section] = []
    sections += guarded("protocol", "Protocol", lambda: protocol_section(protocol))
    sections += guarded(
        "consort", "Participant flow (CONSORT)", lambda: consort_section(data, adsl, protocol)
    )
    sections += guarded(
        "baseline", "Baseline characteristics", lambda: baseline_section(data, adsl)
    )

    def efficacy() -> list[Section]:
        result.efficacy = efficacy_results(protocol, data, adsl)
        return [response_section(result.efficacy, adsl), survival_section(result.efficacy)]

    sections += guarded("efficacy", "Efficacy", efficacy)
    from hcctrial.report.kinetics import kinetics_sections
    from hcctrial.report.safety import safety_sections

    sections += safety_sections(protocol, data, adsl)
    sections += guarded(
        "kinetics",
        "Cellular kinetics and biomarkers",
        lambda: kinetics_sections(protocol, data, adsl),
    )
    sections += guarded("assumptions", "Assumptions", lambda: assumptions_section(protocol))
    sections += extra_sections or []
    result.report.sections = sections
    if data.problems.height:
        result.report.provenance.append(
            f"{data.problems.height} data problems were reported when reading the study; "
            "see tables/data_problems.csv."
        )
    return result
