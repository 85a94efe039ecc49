"""Results derived for one subject by the engines: eligibility (screening engine) and the
protocol calendar (schedule engine)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from hcctrial.eligibility import PatientDecision, record_from_dict, screen_patient
from hcctrial.errors import HcctrialError
from hcctrial.schedule import build_calendar
from hcctrial.web.checks import lab_number
from hcctrial.web.db import Record, Subject
from hcctrial.web.export import _impute_mid
from hcctrial.web.service import protocol_of

__all__ = ["subject_calendar", "subject_eligibility"]


def _records(session: Session, subject: Subject, domain: str) -> list[Record]:
    return list(
        session.scalars(
            select(Record)
            .where(
                Record.subject_id == subject.id,
                Record.domain == domain,
                Record.status == "active",
            )
            .order_by(Record.id)
        )
    )


def patient_dict(session: Session, subject: Subject) -> dict[str, Any]:
    """The subject as a screening-engine patient object (``docs/criteria-language.md``)."""
    findings = _records(session, subject, "FINDINGS")
    latest = findings[-1].data if findings else {}
    labs = [
        {
            "code": r.data["LBTESTCD"],
            "value": lab_number(r.data["LBORRES"]),
            "unit": r.data.get("LBORRESU") or "",
            "date": str(r.data["LBDTC"])[:10],
            **({"lln": r.data["LBORNRLO"]} if r.data.get("LBORNRLO") is not None else {}),
            **({"uln": r.data["LBORNRHI"]} if r.data.get("LBORNRHI") is not None else {}),
        }
        for r in _records(session, subject, "LB")
        if len(str(r.data["LBDTC"])) >= 10 and lab_number(r.data["LBORRES"]) is not None
    ]
    patient: dict[str, Any] = {
        "id": subject.usubjid,
        "sex": subject.sex,
        "findings": dict(latest.get("FINDINGS", {})),
        "labs": labs,
    }
    if subject.birth_dtc:
        patient["birth_date"] = _impute_mid(subject.birth_dtc).isoformat()
    for key, name in (("WEIGHT_KG", "weight_kg"), ("HEIGHT_CM", "height_cm")):
        if latest.get(key) is not None:
            patient[name] = latest[key]
    for key, name in (
        ("THERAPIES", "therapies"),
        ("CONDITIONS", "conditions"),
        ("JUDGEMENTS", "judgements"),
    ):
        if latest.get(key) is not None:
            patient[name] = latest[key]
    return patient


def subject_eligibility(session: Session, subject: Subject, as_of: date) -> PatientDecision:
    """The screening engine's decision for the subject on ``as_of`` (three-valued, explained)."""
    protocol = protocol_of(session, subject.study_version_id)
    record = record_from_dict(patient_dict(session, subject), today=as_of)
    return screen_patient(protocol, record, as_of)


def subject_calendar(session: Session, subject: Subject) -> tuple[pl.DataFrame | None, str]:
    """The subject's planned visits from the first treatment (day 0), or why there are none."""
    if not subject.first_treatment_dtc:
        return None, "the calendar starts at the first treatment (day 0), not yet recorded"
    protocol = protocol_of(session, subject.study_version_id)
    findings = _records(session, subject, "FINDINGS")
    latest = findings[-1].data if findings else {}
    try:
        calendar = build_calendar(
            protocol,
            subject.arm_code,
            subject.first_treatment_dtc[:10],
            latest.get("HEIGHT_CM"),
            latest.get("WEIGHT_KG"),
            dose_level=subject.dose_level,
            usubjid=subject.usubjid,
        )
    except HcctrialError as exc:
        return None, str(exc)
    return calendar, ""
