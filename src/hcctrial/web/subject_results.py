"""Tumour response and safety results of one subject, computed by the engines from the
subject's records (nothing here grades or judges: it shapes records into the SDTM tables the
engines read and their answers into rows for the subject page).

- response: :func:`hcctrial.response.derive_timepoint_response` (RECIST 1.1, Eisenhauer et
  al., Eur J Cancer 2009;45:228-247; mRECIST, Lencioni & Llovet, Semin Liver Dis
  2010;30:52-60) and :func:`hcctrial.response.derive_best_overall_response` with the
  confirmation interval and minimum SD duration of the protocol's primary response endpoint;
- labs: :func:`hcctrial.safety.grade_labs` by the protocol's CTCAE version, baseline = the
  last result on or before the first treatment (:func:`hcctrial.safety.derive_lab_baseline_flag`);
- AEs: the investigator's CTCAE grade as recorded (the CTCAE criteria shipped as data cover
  the lab-graded terms only, so an AE's grade is not re-derived);
- CRS/ICANS: ASTCT 2019 grades (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638) by
  day and episode from the daily observations (:func:`hcctrial.safety.grade_crs_icans`), and
  as recorded on the AEs of those MedDRA terms;
- DLT: :func:`hcctrial.safety.evaluate_dlt` over the protocol's DLT window (escalation study).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from hcctrial.errors import HcctrialError
from hcctrial.io import StudyData, validate_study
from hcctrial.protocol import Protocol
from hcctrial.report.efficacy import response_criteria
from hcctrial.response import derive_best_overall_response, derive_timepoint_response
from hcctrial.safety import (
    crs_icans_from_fa,
    derive_lab_baseline_flag,
    evaluate_dlt,
    grade_crs_icans,
    grade_labs,
)
from hcctrial.safety.dlt import CRS_TERM, ICANS_TERM
from hcctrial.web.checks import CRS_ICANS_DOMAIN
from hcctrial.web.db import Record, Subject
from hcctrial.web.export import fa_rows

__all__ = [
    "AeRow",
    "CrsIcansResult",
    "DltStatus",
    "LabGradeRow",
    "ResponseResult",
    "SafetyResults",
    "domain_problems",
    "subject_adverse_events",
    "subject_crs_icans",
    "subject_dlt",
    "subject_domains",
    "subject_labs",
    "subject_response",
]

#: Criteria the subject page shows, with their engine codes and references.
RESPONSE_RULES = (
    ("recist1.1", "RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247)"),
    ("mrecist", "mRECIST (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60)"),
)


def subject_domains(subject: Subject, records: list[Record]) -> StudyData:
    """The subject's active LB, TU, TR, AE and EX records as validated SDTM tables (dates
    derived; a row the validation refuses is left out and listed in ``.problems``)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.domain not in ("LB", "TU", "TR", "AE", "EX"):
            continue
        seq = len(rows.setdefault(record.domain, [])) + 1
        rows[record.domain].append(
            {
                "DOMAIN": record.domain,
                "USUBJID": subject.usubjid,
                f"{record.domain}SEQ": seq,
                "_RECORD": record.id,
                **record.data,
            }
        )
    frames = {d: pl.DataFrame(r, infer_schema_length=None) for d, r in rows.items()}
    return validate_study(StudyData(frames), on_error="collect") if frames else StudyData({})


def domain_problems(data: StudyData, domains: tuple[str, ...]) -> list[str]:
    """The validation messages of ``domains`` (row number = the n-th record of the domain)."""
    problems = data.problems
    if problems is None or problems.is_empty():
        return []
    return [
        f"{r['DOMAIN']}{'' if r['ROW'] is None else ' record ' + str(r['ROW'])}: {r['MESSAGE']}"
        for r in problems.filter(pl.col("DOMAIN").is_in(domains)).to_dicts()
    ]


def _date(dtc: str | None) -> date | None:
    return date.fromisoformat(dtc[:10]) if dtc and len(dtc) >= 10 else None


@dataclass(frozen=True)
class ResponseResult:
    """Timepoint and best overall response by one set of criteria.

    ``timepoints``: one dict per post-baseline assessment (``VISIT, ADT, TRGRESP, NTRGRESP,
    NEWLPROG, OVRLRESP, SUMDIAM, PCHG``); ``best``: ``BOR`` and ``CBOR``; ``problems``: the
    engines' messages; ``error``: why nothing could be derived.
    """

    criteria: str
    rule: str
    timepoints: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    error: str = ""


def _problems(df: pl.DataFrame) -> list[str]:
    if df.is_empty() or "MESSAGE" not in df.columns:
        return []
    return [str(m) for m in df.get_column("MESSAGE").to_list()][:20]


def subject_response(protocol: Protocol, subject: Subject, data: StudyData) -> list[ResponseResult]:
    """RECIST 1.1 and mRECIST timepoint responses and BOR/CBOR of the subject.

    The reference start of SD duration is randomization in a randomized design, else the first
    treatment; confirmation interval and minimum SD duration come from the protocol's primary
    response endpoint (:func:`hcctrial.report.efficacy.response_criteria`).
    """
    settings = response_criteria(protocol)
    start = subject.randomized_dtc if protocol.design.allocation == "randomized" else None
    reference_day = _date(start or subject.first_treatment_dtc)
    out = []
    for code, reference in RESPONSE_RULES:
        primary = " (the protocol's primary criteria)" if code == settings.criteria else ""
        needs = "requires" if settings.confirmation_required else "does not require"
        rule = (
            f"{reference}{primary}; CBOR: CR/PR confirmed >= {settings.confirmation_days} "
            f"days later (the protocol {needs} confirmation); "
            f"SD >= {settings.sd_min_days} days from "
            f"{'randomization' if start else 'first treatment'}"
        )
        label = "mRECIST" if code == "mrecist" else "RECIST 1.1"
        if "TU" not in data or "TR" not in data:
            why = "; ".join(domain_problems(data, ("TU", "TR"))) or (
                "no lesions (TU) or measurements (TR) recorded"
            )
            out.append(ResponseResult(label, rule, error=why))
            continue
        try:
            tp = derive_timepoint_response(data["TU"], data["TR"], code)
            ref = (
                pl.DataFrame({"USUBJID": [subject.usubjid], "REFDT": [reference_day]})
                if reference_day
                else None
            )
            best = derive_best_overall_response(
                tp.adrs,
                ref,
                confirm_days=settings.confirmation_days,
                sd_min_days=settings.sd_min_days,
                criteria_label=label,
            )
        except HcctrialError as exc:
            out.append(ResponseResult(label, rule, error=str(exc)))
            continue
        wide = _timepoints(tp.rs, tp.timepoint_changes)
        bests = {
            str(p): str(v)
            for p, v in best.adrs.filter(pl.col("PARAMCD").is_in(["BOR", "CBOR"]))
            .select("PARAMCD", "AVALC")
            .iter_rows()
        }
        problems = (
            domain_problems(data, ("TU", "TR")) + _problems(tp.problems) + _problems(best.problems)
        )
        out.append(ResponseResult(label, rule, wide, bests, problems))
    return out


def _timepoints(rs: pl.DataFrame, changes: pl.DataFrame) -> list[dict[str, Any]]:
    if rs.is_empty():
        return []
    wide = (
        rs.select("VISIT", "RSDTC", "RSTESTCD", "RSSTRESC")
        .pivot(on="RSTESTCD", index=["VISIT", "RSDTC"], values="RSSTRESC")
        .sort("RSDTC")
    )
    sums = {}
    if not changes.is_empty() and "SUMDIAM" in changes.columns:
        for visit, total, pchg in changes.select("VISIT", "SUMDIAM", "PCHG").iter_rows():
            sums[visit] = (total, pchg)
    rows = []
    for row in wide.to_dicts():
        total, pchg = sums.get(row["VISIT"], (None, None))
        rows.append({**row, "SUMDIAM": total, "PCHG": pchg})
    return rows


@dataclass(frozen=True)
class LabGradeRow:
    """One lab result with its CTCAE grade (``grade`` None: not graded, ``why`` says why)."""

    date: str
    test: str
    value: str
    unit: str
    baseline: bool
    term: str
    grade: int | None
    why: str


def subject_labs(
    protocol: Protocol, subject: Subject, data: StudyData
) -> tuple[list[LabGradeRow], str]:
    """The subject's lab results graded by CTCAE (the protocol's version); the rule used."""
    version = str(protocol.safety.ctcae_version)
    rule = (
        f"CTCAE v{version} (NCI), criteria as data in hcctrial.safety; baseline: the last "
        "result on or before the first treatment"
    )
    if "LB" not in data:
        return [], rule
    lb = data["LB"]
    reference = pl.DataFrame(
        {"USUBJID": [subject.usubjid], "TRTSDT": [_date(subject.first_treatment_dtc)]},
        schema={"USUBJID": pl.Utf8, "TRTSDT": pl.Date},
    )
    # A lab entered without a normal range has no LBSTNR* value (and none of them, no column):
    # the grader then says per row that the range is missing.
    lb = lb.with_columns(
        pl.lit(None, pl.Float64).alias(c)
        for c in ("LBSTNRLO", "LBSTNRHI", "LBSTRESN")
        if c not in lb.columns
    ).with_columns(
        (pl.col("LBSTRESU") if "LBSTRESU" in lb.columns else pl.lit(None, pl.Utf8)).alias(
            "LBSTRESU"
        )
    )
    try:
        graded = grade_labs(derive_lab_baseline_flag(lb, reference), version)
    except HcctrialError as exc:
        return [], f"{rule} (not graded: {exc})"
    rows = []
    for r in graded.sort("LBDTC", "LBTESTCD", maintain_order=True).to_dicts():
        terms = [t for t in (r.get("ATOXDSCL"), r.get("ATOXDSCH")) if t]
        grade = r.get("ATOXGR")
        rows.append(
            LabGradeRow(
                date=str(r["LBDTC"])[:10],
                test=str(r["LBTESTCD"]),
                value=str(r.get("LBORRES") or ""),
                unit=str(r.get("LBORRESU") or ""),
                baseline=r.get("LBBLFL") == "Y",
                term=" / ".join(str(t) for t in terms),
                grade=None if grade is None else int(grade),
                why=str(r.get("ATOXGRRSN") or ""),
            )
        )
    return rows, rule


@dataclass(frozen=True)
class AeRow:
    """An adverse event with its recorded grade; ``ongoing`` when no end date is recorded."""

    record_id: int
    term: str
    grade: int
    start: str
    end: str
    ongoing: bool
    serious: bool
    syndrome: str  # "CRS", "ICANS" or ""


def subject_adverse_events(records: list[Record]) -> list[AeRow]:
    """AE records, grade >= 3 first, then the ongoing ones, then by onset."""
    rows = []
    for r in records:
        if r.domain != "AE":
            continue
        d = r.data
        name = str(d.get("AEDECOD") or d["AETERM"])
        syndrome = {CRS_TERM.casefold(): "CRS", ICANS_TERM.casefold(): "ICANS"}.get(
            name.casefold(), ""
        )
        rows.append(
            AeRow(
                record_id=r.id,
                term=str(d["AETERM"]),
                grade=int(d["AETOXGR"]),
                start=str(d["AESTDTC"]),
                end=str(d.get("AEENDTC") or ""),
                ongoing=not d.get("AEENDTC"),
                serious=d.get("AESER") == "Y",
                syndrome=syndrome,
            )
        )
    return sorted(rows, key=lambda a: (a.grade < 3, not a.ongoing, a.start, a.record_id))


@dataclass(frozen=True)
class CrsIcansResult:
    """ASTCT grades of the daily CRS/ICANS observations (domain ``CRSICANS``).

    ``days``: one dict per observed day (``ADT``, ``CRSGR``, ``ICANSGR``); ``episodes``: one
    per episode (``SYNDROME, EPISODE, ASTDT, AENDT, MAXGR, ONGOING``); ``crs``/``icans``: the
    engine's daily tables (for the DLT rules); ``problems``: rows not graded and why.
    """

    days: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    crs: pl.DataFrame | None = None
    icans: pl.DataFrame | None = None
    problems: list[str] = field(default_factory=list)


def subject_crs_icans(subject: Subject, records: list[Record]) -> CrsIcansResult:
    """Daily CRS and ICANS grades and episodes from the subject's ``CRSICANS`` records: the
    records as SDTM FA (:func:`hcctrial.web.export.fa_rows`, as the export writes them), then
    :func:`hcctrial.safety.crs_icans_from_fa` and :func:`hcctrial.safety.grade_crs_icans`."""
    rows: list[dict[str, Any]] = []
    for r in records:
        if r.domain == CRS_ICANS_DOMAIN:
            rows += fa_rows("", subject.usubjid, r.data, f"{CRS_ICANS_DOMAIN}-{r.id}")
    if not rows:
        return CrsIcansResult()
    try:
        wide, problems, _ = crs_icans_from_fa(
            pl.DataFrame(rows, infer_schema_length=None), on_error="collect"
        )
        graded = grade_crs_icans(wide.get("CRS"), wide.get("ICANS"))
    except HcctrialError as exc:
        return CrsIcansResult(problems=[str(exc)])
    days: dict[Any, dict[str, Any]] = {}
    for table, column in ((graded.crs, "CRSGR"), (graded.icans, "ICANSGR")):
        if table is not None:
            for day, grade in table.select("ADT", column).iter_rows():
                days.setdefault(day, {"ADT": day, "CRSGR": None, "ICANSGR": None})[column] = grade
    episodes = graded.episodes.select(
        "SYNDROME", "EPISODE", "ASTDT", "AENDT", "MAXGR", "ONGOING"
    ).to_dicts()
    return CrsIcansResult(
        days=[days[d] for d in sorted(days)],
        episodes=episodes,
        crs=graded.crs,
        icans=graded.icans,
        problems=_problems(problems) + _problems(graded.problems),
    )


@dataclass(frozen=True)
class DltStatus:
    """The DLT evaluation of one subject of a dose-escalation study."""

    rule: str
    window: str
    status: str  # "DLT", "no DLT", "window open", "not treated"
    evaluable: str
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def subject_dlt(
    protocol: Protocol,
    subject: Subject,
    data: StudyData,
    today: date,
    syndromes: CrsIcansResult | None = None,
) -> DltStatus | None:
    """DLT status in the protocol's DLT window (``None`` when the protocol has no DLT rules)."""
    spec = protocol.safety.dlt
    if spec is None:
        return None
    rule = (
        f"protocol DLT rules ({spec.definition}): "
        + "; ".join(f"{r.id}: {r.description}" for r in spec.rules)
        + f"; attribution {spec.attribution}"
    )
    start = _date(subject.first_treatment_dtc)
    if start is None:
        return DltStatus(
            rule, f"{spec.window_days} days from the first infusion", "not treated", ""
        )
    adsl = pl.DataFrame(
        {"USUBJID": [subject.usubjid], "TRTSDT": [start], "DOSELVL": [subject.dose_level]},
        schema={"USUBJID": pl.Utf8, "TRTSDT": pl.Date, "DOSELVL": pl.Utf8},
    )
    ae = (
        data["AE"]
        if "AE" in data
        else pl.DataFrame(
            schema={"USUBJID": pl.Utf8, "AEDECOD": pl.Utf8, "AETOXGR": pl.Utf8, "AESTDTC": pl.Utf8}
        )
    )
    if "AEDECOD" not in ae.columns:
        ae = ae.with_columns(pl.col("AETERM").alias("AEDECOD"))
    try:
        result = evaluate_dlt(
            spec,
            adsl,
            ae,
            crs=syndromes.crs if syndromes else None,
            icans=syndromes.icans if syndromes else None,
            data_cutoff=today,
            strict_causality=False,
        )
    except HcctrialError as exc:
        return DltStatus(rule, "", "not evaluated", "", error=str(exc))
    row = result.subjects.row(0, named=True)
    window = f"{row['DLTSTDT']} to {row['DLTENDT']} ({spec.window_days} days)"
    if row["DLTFL"] == "Y":
        status = "DLT"
    elif row["DLTEVLFL"] == "Y":
        status = "no DLT"
    else:
        status = "window open"
    evaluable = "evaluable" if row["DLTEVLFL"] == "Y" else f"not evaluable: {row['DLTEVLRS']}"
    events = result.events.to_dicts() if result.events.height else []
    return DltStatus(rule, window, status, evaluable, events)


@dataclass(frozen=True)
class SafetyResults:
    """Labs graded, AEs, CRS/ICANS episodes and the DLT status of one subject."""

    labs: list[LabGradeRow]
    lab_rule: str
    adverse_events: list[AeRow]
    ae_rule: str
    syndromes: list[AeRow]
    syndrome_rule: str
    daily: CrsIcansResult
    dlt: DltStatus | None
