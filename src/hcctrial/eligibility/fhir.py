"""FHIR R4 Bundles -> patient records (validated with ``fhir.resources``, R4B models).

Mapping (documented in ``docs/readme/screening.md``):

- ``Patient``: ``id`` -> record id, ``gender`` male/female -> ``sex`` M/F, ``birthDate``.
- ``Observation`` with a LOINC code in :data:`LOINC_TO_LAB` -> a lab result (``valueQuantity``
  value and unit: UCUM ``code`` preferred over ``unit``; ``referenceRange[0].low/high`` ->
  LLN/ULN; ``effectiveDateTime`` or ``effectivePeriod.start`` -> date). LOINC codes in
  :data:`LOINC_TO_FINDING` (ECOG, KPS, weight, height, LVEF, serology) -> findings. Any other
  vocabulary finding uses the code system :data:`HCCTRIAL_SYSTEM` with the vocabulary name as
  the code (``valueBoolean``, ``valueInteger``, ``valueQuantity``, ``valueString`` or
  ``valueCodeableConcept.text``). Lab codes may also come as SDTM LBTESTCD under
  :data:`LBTESTCD_SYSTEM` (for tests without a LOINC code: PTPROL, INKTPBMC).
- ``Condition``: code under :data:`HCCTRIAL_SYSTEM` (a condition or event name of the
  vocabulary) or a SNOMED CT code in :data:`SNOMED_TO_CONDITION`; ``onsetDateTime``,
  ``abatementDateTime``; ``clinicalStatus`` active/recurrence/relapse -> ongoing,
  inactive/remission/resolved -> not ongoing.
- ``MedicationStatement`` / ``Procedure``: the therapy category is a coding under
  :data:`CATEGORY_SYSTEM` in ``category``; dates from ``effective[x]`` / ``performed[x]``;
  ``MedicationStatement.status`` active -> ongoing.

A resource that cannot be mapped is reported as a problem on the patient (never dropped
silently); a Bundle that is not valid FHIR raises :class:`~hcctrial.errors.InputError`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hcctrial.eligibility.codes import (
    CATEGORY_SYSTEM,
    HCCTRIAL_SYSTEM,
    LBTESTCD_SYSTEM,
    LOINC,
    LOINC_TO_FINDING,
    LOINC_TO_LAB,
    SNOMED,
    SNOMED_TO_CONDITION,
)
from hcctrial.eligibility.record import PatientRecord, mark_duplicates, record_from_dict
from hcctrial.errors import InputError, Problem

__all__ = [
    "CATEGORY_SYSTEM",
    "HCCTRIAL_SYSTEM",
    "LBTESTCD_SYSTEM",
    "LOINC_TO_FINDING",
    "LOINC_TO_LAB",
    "SNOMED_TO_CONDITION",
    "read_fhir",
    "records_from_bundle",
]

_POSITIVE = {"positive", "pos", "detected", "reactive", "true", "yes"}
_NEGATIVE = {"negative", "neg", "not detected", "non-reactive", "nonreactive", "false", "no"}
_RECORD_FIELDS = {"weight_kg", "height_cm"}


def _day(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _codings(concept: Any) -> list[tuple[str, str]]:
    if concept is None:
        return []
    concepts = concept if isinstance(concept, list) else [concept]
    return [(c.system or "", c.code or "") for cc in concepts for c in (cc.coding or [])]


def _subject(resource: Any) -> str | None:
    ref = getattr(resource, "subject", None) or getattr(resource, "patient", None)
    if ref is None or not ref.reference:
        return None
    return str(ref.reference).split("/")[-1]


def _observation_value(obs: Any) -> object:
    if obs.valueQuantity is not None:
        value = obs.valueQuantity.value
        return float(value) if value is not None else None
    if obs.valueBoolean is not None:
        return obs.valueBoolean
    if obs.valueInteger is not None:
        return obs.valueInteger
    if obs.valueString is not None:
        return obs.valueString
    if obs.valueCodeableConcept is not None:
        text = obs.valueCodeableConcept.text or next(
            (c.display or c.code for c in obs.valueCodeableConcept.coding or []), None
        )
        return text
    return None


def _as_bool(value: object) -> object:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _POSITIVE:
            return True
        if low in _NEGATIVE:
            return False
    return value


def _observation(obs: Any, draft: dict[str, Any], problems: list[str]) -> None:
    codings = _codings(obs.code)
    when = _day(
        obs.effectiveDateTime or (obs.effectivePeriod.start if obs.effectivePeriod else None)
    )
    for system, code in codings:
        lab = (
            LOINC_TO_LAB.get(code)
            if system == LOINC
            else (code if system == LBTESTCD_SYSTEM else None)
        )
        if lab:
            quantity = obs.valueQuantity
            ranges = obs.referenceRange or []
            low = ranges[0].low.value if ranges and ranges[0].low else None
            high = ranges[0].high.value if ranges and ranges[0].high else None
            draft["labs"].append(
                {
                    "code": lab,
                    "value": float(quantity.value)
                    if quantity and quantity.value is not None
                    else None,
                    "unit": (quantity.code or quantity.unit) if quantity else None,
                    "date": when,
                    "uln": float(high) if high is not None else None,
                    "lln": float(low) if low is not None else None,
                }
            )
            return
        name = (
            LOINC_TO_FINDING.get(code)
            if system == LOINC
            else (code if system == HCCTRIAL_SYSTEM else None)
        )
        if name:
            value = _observation_value(obs)
            if isinstance(value, float) and value.is_integer() and name in ("ecog", "kps"):
                value = int(value)
            if name.endswith("_positive") or name in (
                "pregnant",
                "lactating",
                "consent_signed",
                "donor_available",
                "stable_vital_signs",
            ):
                value = _as_bool(value)
            if name in _RECORD_FIELDS:
                draft[name] = float(value) if isinstance(value, int | float) else value
            else:
                draft["findings"][name] = (
                    float(value) if type(value) is int and name not in ("ecog", "kps") else value
                )
            return
    problems.append(f"Observation {obs.id or '?'}: no mapped code in {codings}")


def _category(resource: Any, field: str) -> str | None:
    for system, code in _codings(getattr(resource, field, None)):
        if system == CATEGORY_SYSTEM:
            return code
    return None


def records_from_bundle(
    bundle: dict[str, Any] | str, *, file: str | None = None, today: date | None = None
) -> list[PatientRecord]:
    """Patient records from one FHIR R4 Bundle (JSON object or text).

    Raises :class:`InputError` if the Bundle is not valid FHIR; unmappable resources become
    problems on their patient's record (so that patient is 'incomplete', never silently
    'eligible').
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        parsed = (
            Bundle.model_validate_json(bundle)
            if isinstance(bundle, str)
            else (Bundle.model_validate(bundle))
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InputError(
            f"not a valid FHIR R4 Bundle: {first.get('msg')}",
            file=file,
            column=where,
            expected="a FHIR R4 Bundle (resourceType Bundle)",
        ) from None
    drafts: dict[str, dict[str, Any]] = {}
    problems: dict[str, list[str]] = {}

    def draft_for(pid: str) -> dict[str, Any]:
        return drafts.setdefault(
            pid, {"id": pid, "findings": {}, "labs": [], "therapies": [], "conditions": []}
        )

    orphans: list[str] = []
    seen_patients: set[str] = set()
    for entry in parsed.entry or []:
        res: Any = entry.resource
        kind = res.get_resource_type()
        if kind == "Patient":
            if str(res.id) in seen_patients:
                problems.setdefault(str(res.id), []).append(
                    f"duplicate person: Patient/{res.id} appears more than once"
                )
            seen_patients.add(str(res.id))
            d = draft_for(str(res.id))
            d["sex"] = {"male": "M", "female": "F"}.get(res.gender or "")
            d["birth_date"] = _day(res.birthDate)
            continue
        pid = _subject(res)
        if pid is None:
            orphans.append(f"{kind} {res.id or '?'} has no subject")
            continue
        d = draft_for(pid)
        notes = problems.setdefault(pid, [])
        if kind == "Observation":
            _observation(res, d, notes)
        elif kind == "Condition":
            names = [
                SNOMED_TO_CONDITION.get(c) if s == SNOMED else (c if s == HCCTRIAL_SYSTEM else None)
                for s, c in _codings(res.code)
            ]
            name = next((n for n in names if n), None)
            if name is None:
                notes.append(f"Condition {res.id or '?'}: no mapped code")
                continue
            status = next((c for _, c in _codings(res.clinicalStatus)), None)
            ongoing = None if status is None else status in ("active", "recurrence", "relapse")
            d["conditions"].append(
                {
                    "name": name,
                    "onset": _day(res.onsetDateTime),
                    "end": _day(res.abatementDateTime),
                    "ongoing": ongoing,
                }
            )
        elif kind in ("MedicationStatement", "Procedure"):
            category = _category(res, "category")
            if category is None:
                notes.append(f"{kind} {res.id or '?'}: no category under {CATEGORY_SYSTEM}")
                continue
            if kind == "MedicationStatement":
                period, single = res.effectivePeriod, res.effectiveDateTime
            else:
                period, single = res.performedPeriod, res.performedDateTime
            start = _day(period.start if period else single)
            end = _day(period.end if period else None)
            d["therapies"].append(
                {
                    "category": category,
                    "start": start,
                    "end": end,
                    "ongoing": kind == "MedicationStatement" and res.status == "active",
                }
            )
        else:
            notes.append(f"{kind} {res.id or '?'} is not used for screening")
    records = []
    for i, (pid, draft) in enumerate(drafts.items(), start=1):
        record = record_from_dict(draft, file=file, row=i, today=today)
        for note in problems.get(pid, []):
            if "not used for screening" not in note:
                record.problems.append(Problem(note, file=file, subject=pid))
            if note.startswith("duplicate person"):
                record.invalid["record"] = note
        records.append(record)
    if orphans:
        raise InputError("; ".join(orphans), file=file, expected="subject: Patient/<id>")
    return records


def read_fhir(path: str | Path, *, today: date | None = None) -> list[PatientRecord]:
    """Read a FHIR R4 Bundle JSON file (or a JSON Lines file of Bundles) into patient records."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read FHIR file: {exc.strerror}", file=str(path)) from None
    try:
        bundles = [json.loads(text)]
    except json.JSONDecodeError:
        bundles = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    bundles.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"not valid JSON: {exc.msg}", file=str(path), row=lineno
                    ) from None
    records: list[PatientRecord] = []
    for bundle in bundles:
        records.extend(records_from_bundle(bundle, file=str(path), today=today))
    mark_duplicates(records, file=str(path))
    return records
