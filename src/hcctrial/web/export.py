"""The live study as :class:`~hcctrial.io.StudyData`: SDTM DM, DS and the entered domains.

- ``DM`` from the subjects: ``RFICDTC`` consent, ``RFSTDTC``/``RFXSTDTC`` first treatment,
  ``RFXENDTC`` off treatment, ``RFENDTC`` end of participation (off study or death), ``DTHDTC``
  and ``DTHFL``, ``AGE`` in whole years at consent (SDTMIG 3.4 DM assumption 6; a partial birth
  date is imputed to the middle of its month or year, ADaM IG 1.3 section 3.1.3), ``ARMCD`` /
  ``ARM`` from the allocation (``SCRNFAIL`` never enrolled, ``NOTASSGN`` enrolled but not
  assigned, as :func:`hcctrial.io.adsl.derive_adsl` expects).
- ``DS`` from the state changes: informed consent and randomization as protocol milestones,
  leaving the study and death as disposition events (CDISC CT NCOMPLT terms).
- ``LB``, ``VS``, ``TU``, ``TR``, ``AE``, ``EX``: the active records as entered (edit-checked,
  standard units added), with ``STUDYID``, ``DOMAIN``, ``USUBJID`` and ``--SEQ``.
- ``FA`` from the daily CRS/ICANS observations: one row per finding (SDTMIG 3.4 section 6.4,
  Findings About), ``FAOBJ`` the syndrome's MedDRA term, ``FATESTCD`` the safety engine's input
  name, ``FAGRPID`` one per observation, the temperature in ``FASTRESC``/``FASTRESN`` in C
  (``FAORRES``/``FAORRESU`` as entered): what :func:`hcctrial.safety.syndromes.crs_icans_from_fa`
  reads (:func:`fa_rows`).

The result is what :func:`hcctrial.io.write_study` writes and every CLI command reads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from hcctrial.errors import InputError
from hcctrial.io import StudyData, domain_spec, validate_study
from hcctrial.safety.crs import CRS_FIELDS
from hcctrial.safety.dlt import CRS_TERM, ICANS_TERM
from hcctrial.safety.icans import ICANS_FIELDS
from hcctrial.web.checks import CRS_ICANS_DOMAIN, fahrenheit_to_celsius
from hcctrial.web.db import Record, Site, Study, Subject, SubjectEvent
from hcctrial.web.service import protocol_of

__all__ = ["SDTM_DOMAINS", "age_at", "export_study", "fa_rows"]

#: Entered domains that are SDTM (screening findings stay in the database).
SDTM_DOMAINS = ("LB", "VS", "TU", "TR", "AE", "EX")


def fa_rows(study_id: str, usubjid: str, data: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """The SDTM FA rows of one day's CRS/ICANS observations (``data`` as saved), one per
    finding entered, CRS findings first, in the engine's field order; ``group`` is the
    ``FAGRPID`` that keeps them one assessment (the oxygen device with its flow)."""
    rows: list[dict[str, Any]] = []
    for term, fields in ((CRS_TERM, CRS_FIELDS), (ICANS_TERM, ICANS_FIELDS)):
        for code, spec in fields.items():
            value = data.get(code)
            if value is None:
                continue
            row: dict[str, Any] = {
                "STUDYID": study_id,
                "DOMAIN": "FA",
                "USUBJID": usubjid,
                "FAGRPID": group,
                "FATESTCD": code,
                "FATEST": spec.meaning[:40],
                "FAOBJ": term,
                "FAORRES": str(value),
                "FAORRESU": None,
                "FASTRESC": str(value),
                "FASTRESN": None,
                "FASTRESU": None,
                "VISIT": data.get("VISIT"),
                "FADTC": data["FADTC"],
            }
            if spec.kind in ("int", "float"):
                number = float(value)
                if code == "TEMP":
                    unit = data.get("TEMPU", "C")
                    row["FAORRESU"] = unit
                    number = round(fahrenheit_to_celsius(number), 2) if unit == "F" else number
                    row["FASTRESU"] = "C"
                row["FASTRESN"] = number
                row["FASTRESC"] = str(int(number)) if spec.kind == "int" else str(number)
            rows.append(row)
    return rows


def _impute_mid(dtc: str) -> date:
    year = int(dtc[:4])
    if len(dtc) < 7:
        return date(year, 7, 1)
    month = int(dtc[5:7])
    if len(dtc) < 10:
        return date(year, month, 15)
    return date(year, month, int(dtc[8:10]))


def age_at(birth_dtc: str | None, on_dtc: str | None) -> int | None:
    """Completed years from birth (partial dates imputed to mid-period) to ``on_dtc``."""
    if not birth_dtc or not on_dtc or len(on_dtc) < 10:
        return None
    born, on = _impute_mid(birth_dtc), date.fromisoformat(on_dtc[:10])
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _armcd(subject: Subject) -> str:
    if subject.arm_code:
        return subject.arm_code
    if subject.enrolled_dtc is None:
        return "SCRNFAIL"
    return "NOTASSGN"


def _ds_rows(study_id: str, subject: Subject, events: list[SubjectEvent]) -> list[dict[str, Any]]:
    rows = []
    left = False
    for event in events:
        detail = event.detail or {}
        if event.to_state in ("consented", "randomized"):
            term = "INFORMED CONSENT OBTAINED" if event.to_state == "consented" else "RANDOMIZED"
            rows.append((term, term, "PROTOCOL MILESTONE", event.event_dtc))
        elif event.to_state == "off_study":
            decod = str(detail["dsdecod"])
            rows.append(
                (detail.get("dsterm") or decod, decod, "DISPOSITION EVENT", event.event_dtc)
            )
            left = True
        elif event.to_state == "died":
            category = "OTHER EVENT" if left else "DISPOSITION EVENT"
            rows.append((detail.get("dsterm") or "DEATH", "DEATH", category, event.event_dtc))
    return [
        {
            "STUDYID": study_id,
            "DOMAIN": "DS",
            "USUBJID": subject.usubjid,
            "DSSEQ": seq,
            "DSTERM": term,
            "DSDECOD": decod,
            "DSCAT": cat,
            "DSSTDTC": dtc,
        }
        for seq, (term, decod, cat, dtc) in enumerate(rows, start=1)
    ]


def _frame(domain: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    order = [c.name for c in domain_spec(domain).columns]
    ordered = [c for c in order if c in columns] + [c for c in columns if c not in order]
    return pl.DataFrame(
        [{c: row.get(c) for c in ordered} for row in rows], infer_schema_length=None
    ).select(ordered)


def export_study(
    session: Session, study_id: int, *, site_ids: set[int] | None = None, validate: bool = True
) -> StudyData:
    """The study's data as SDTM domains (all sites, or those in ``site_ids``).

    With ``validate`` the tables pass through :func:`hcctrial.io.validate_study` (dates derived,
    every problem raised), as :func:`hcctrial.io.read_study` would do with the files.
    """
    study = session.get(Study, study_id)
    if study is None:
        raise InputError("unknown study", value=study_id)
    query = select(Subject).where(Subject.study_id == study_id).order_by(Subject.usubjid)
    if site_ids is not None:
        query = query.where(Subject.site_id.in_(site_ids))
    subjects = list(session.scalars(query))
    sites = {s.id: s.code for s in session.scalars(select(Site).where(Site.study_id == study_id))}
    dm, ds = [], []
    records: dict[str, list[dict[str, Any]]] = {}
    arm_labels: dict[int, dict[str, str]] = {}
    for subject in subjects:
        if subject.study_version_id not in arm_labels:
            protocol = protocol_of(session, subject.study_version_id)
            arm_labels[subject.study_version_id] = {a.id: a.label for a in protocol.arms}
        armcd = _armcd(subject)
        labels = arm_labels[subject.study_version_id]
        fallback = {"SCRNFAIL": "Screen Failure", "NOTASSGN": "Not Assigned"}.get(armcd, armcd)
        arm = labels.get(armcd, fallback)
        dm.append(
            {
                "STUDYID": study.protocol_id,
                "DOMAIN": "DM",
                "USUBJID": subject.usubjid,
                "SUBJID": subject.subjid,
                "RFSTDTC": subject.first_treatment_dtc,
                "RFENDTC": subject.off_study_dtc or subject.death_dtc,
                "RFXSTDTC": subject.first_treatment_dtc,
                "RFXENDTC": subject.off_treatment_dtc,
                "RFICDTC": subject.consented_dtc,
                "DTHDTC": subject.death_dtc,
                "DTHFL": "Y" if subject.death_dtc else None,
                "SITEID": sites[subject.site_id],
                "BRTHDTC": subject.birth_dtc,
                "AGE": age_at(subject.birth_dtc, subject.consented_dtc or subject.screened_dtc),
                "AGEU": "YEARS",
                "SEX": subject.sex,
                "RACE": subject.race,
                "ETHNIC": subject.ethnic,
                "ARMCD": armcd,
                "ARM": arm,
                "COUNTRY": subject.country,
            }
        )
        events = list(
            session.scalars(
                select(SubjectEvent)
                .where(SubjectEvent.subject_id == subject.id)
                .order_by(SubjectEvent.id)
            )
        )
        ds += _ds_rows(study.protocol_id, subject, events)
        seq: dict[str, int] = {}
        for record in session.scalars(
            select(Record)
            .where(Record.subject_id == subject.id, Record.status == "active")
            .order_by(Record.id)
        ):
            if record.domain == CRS_ICANS_DOMAIN:
                group = f"CRSICANS-{record.id}"
                for row in fa_rows(study.protocol_id, subject.usubjid, record.data, group):
                    seq["FA"] = seq.get("FA", 0) + 1
                    records.setdefault("FA", []).append({**row, "FASEQ": seq["FA"]})
                continue
            if record.domain not in SDTM_DOMAINS:
                continue
            seq[record.domain] = seq.get(record.domain, 0) + 1
            row = {
                "STUDYID": study.protocol_id,
                "DOMAIN": record.domain,
                "USUBJID": subject.usubjid,
                f"{record.domain}SEQ": seq[record.domain],
                **record.data,
            }
            records.setdefault(record.domain, []).append(row)
    frames: dict[str, pl.DataFrame] = {}
    if dm:
        frames["DM"] = _frame("DM", dm)
    if ds:
        frames["DS"] = _frame("DS", ds)
    for domain, rows in sorted(records.items()):
        frames[domain] = _frame(domain, rows)
    data = StudyData(frames)
    return validate_study(data) if validate and frames else data
