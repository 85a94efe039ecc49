"""The patient record that the one-patient evaluator reads, and its JSON form.

One patient is one JSON object (a batch is one object per line, JSON Lines)::

    {"id": "P001", "sex": "M", "birth_date": "1961-04-02", "weight_kg": 68,
     "findings": {"diagnosis": "HCC", "diagnosis_basis": "histology", "bclc_stage": "C",
                  "kps": 90, "gpc3_ihc": "positive", "measurable_lesions": 2,
                  "ascites": "none", "encephalopathy": "none"},
     "labs": [{"code": "PLT", "value": 132, "unit": "10^9/L", "lln": 125, "uln": 350,
               "date": "2026-11-10"}],
     "therapies": [{"category": "targeted_therapy", "name": "sorafenib",
                    "start": "2026-01-05", "end": "2026-09-30"}],
     "conditions": [{"name": "hbv_active", "onset": "2009-06", "ongoing": true}],
     "judgements": {"EX-JUDGEMENT": false}}

- ``findings`` holds the vocabulary names of ``docs/criteria-language.md`` (and ``ascites``
  ``none|mild|moderate-severe`` and ``encephalopathy`` ``none|grade 1-2|grade 3-4``, the two
  clinical findings of the Child-Pugh score). A name that is absent is *unknown*.
- ``labs``: SDTM LBTESTCD ``code``, ``value``, ``unit``, optional ``uln``/``lln`` in the same
  unit as the value, ``date`` (ISO 8601).
- ``therapies`` and ``conditions``: a *present* list (even empty) is the complete history as
  collected, so a category that is not listed never happened; an *absent* list means the
  history was not collected, and every criterion that needs it is unknown.
- ``judgements``: investigator decisions keyed by criterion id (true = the criterion applies:
  an inclusion is met, an exclusion excludes).

:func:`record_from_dict` never raises on bad content: every impossible value is returned as a
:class:`~hcctrial.errors.Problem` naming the line, the field and what was expected, the value
is kept out of evaluation (criteria reading it become unknown with that reason) and the record
carries the problem so the patient can never be 'eligible' on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from hcctrial.errors import InputError, Problem, UnitError

__all__ = [
    "Condition",
    "LabResult",
    "PatientRecord",
    "Therapy",
    "mark_duplicates",
    "read_patients",
    "record_from_dict",
]

# Plausible ranges of findings; a value outside is impossible, not just abnormal.
_RANGES: dict[str, tuple[float, float, str]] = {
    "age": (0, 120, "an age in years between 0 and 120"),
    "weight_kg": (1, 400, "a body weight in kg between 1 and 400"),
    "height_cm": (30, 260, "a height in cm between 30 and 260"),
    "ecog": (0, 5, "ECOG 0..5 (Oken 1982)"),
    "kps": (0, 100, "Karnofsky 0..100 in steps of 10 (Karnofsky 1949)"),
    "child_pugh_score": (5, 15, "Child-Pugh points 5..15 (Pugh 1973)"),
    "life_expectancy_weeks": (0, 5200, "weeks, not negative"),
    "measurable_lesions": (0, 100, "a count, not negative"),
    "mrecist_measurable_lesions": (0, 100, "a count, not negative"),
    "antiviral_days": (0, 36500, "days, not negative"),
    "ascites_depth_cm": (0, 40, "cm, not negative"),
    "tumour_liver_fraction": (0, 100, "a percent 0..100"),
    "lvef_percent": (0, 100, "a percent 0..100"),
    "fev1_percent_predicted": (0, 200, "a percent of predicted 0..200"),
    "prior_lines_systemic": (0, 50, "a count, not negative"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "sex": ("M", "F"),
    "diagnosis_basis": ("histology", "cytology", "imaging", "clinical"),
    "bclc_stage": ("0", "A", "B", "C", "D"),
    "child_pugh_class": ("A", "B", "C"),
    "gpc3_ihc": ("positive", "negative"),
    "ascites": ("none", "mild", "moderate-severe"),
    "encephalopathy": ("none", "grade 1-2", "grade 3-4"),
}
_INTEGER_FINDINGS = frozenset(
    {
        "ecog",
        "kps",
        "child_pugh_score",
        "measurable_lesions",
        "mrecist_measurable_lesions",
        "prior_lines_systemic",
    }
)
_RECORD_KEYS = frozenset(
    {
        "id",
        "sex",
        "birth_date",
        "age",
        "weight_kg",
        "height_cm",
        "findings",
        "labs",
        "therapies",
        "conditions",
        "judgements",
    }
)


@dataclass(frozen=True)
class LabResult:
    """One lab result as recorded (value and limits in ``unit``)."""

    code: str
    value: float
    unit: str
    date: date
    uln: float | None = None
    lln: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Therapy:
    """A prior or current therapy (or other dated event) of a vocabulary category."""

    category: str
    start: date | None
    end: date | None = None
    ongoing: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Condition:
    """A medical-history condition or event (vocabulary condition or category name)."""

    name: str
    onset: date | None = None
    end: date | None = None
    ongoing: bool | None = None


@dataclass
class PatientRecord:
    """Everything the evaluator knows about one patient.

    ``invalid`` maps a field (``age``, ``findings.ecog``) to why its value was refused;
    ``problems`` lists every problem found in the input (record-level ones included, such as a
    duplicate person id). ``therapies``/``conditions`` are ``None`` when not collected.
    """

    id: str
    sex: str | None = None
    birth_date: date | None = None
    age: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    findings: dict[str, Any] = field(default_factory=dict)
    labs: list[LabResult] = field(default_factory=list)
    therapies: list[Therapy] | None = None
    conditions: list[Condition] | None = None
    judgements: dict[str, bool] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _Reader:
    """Collects problems while reading one JSON object."""

    def __init__(self, file: str | None, row: int | None, subject: str | None, today: date):
        self.file, self.row, self.subject, self.today = file, row, subject, today
        self.problems: list[Problem] = []
        self.invalid: dict[str, str] = {}

    def problem(self, column: str, message: str, value: object, expected: str) -> None:
        self.problems.append(
            Problem(
                message,
                file=self.file,
                row=self.row,
                column=column,
                value=value,
                expected=expected,
                subject=self.subject,
            )
        )
        self.invalid[column] = f"{message} ({value!r}); expected {expected}"

    def number(
        self,
        column: str,
        value: object,
        bounds: tuple[float, float, str] | None = None,
        integer: bool = False,
    ) -> float | None:
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.problem(column, "not a number", value, bounds[2] if bounds else "a number")
            return None
        if bounds and not bounds[0] <= value <= bounds[1]:
            self.problem(column, "impossible value", value, bounds[2])
            return None
        if integer and value != int(value):
            self.problem(column, "not a whole number", value, bounds[2] if bounds else "an integer")
            return None
        return float(value)

    def day(self, column: str, value: object, required: bool = False) -> date | None:
        if value is None:
            if required:
                self.problem(column, "date missing", value, "an ISO 8601 date YYYY-MM-DD")
            return None
        text = str(value).strip()
        try:
            if len(text) == 4:
                parsed = date(int(text), 1, 1)  # partial year: 1 January (dates.py 'first')
            elif len(text) == 7:
                parsed = date(int(text[:4]), int(text[5:7]), 1)  # partial month: 1st
            else:
                parsed = date.fromisoformat(text[:10])
        except ValueError:
            self.problem(column, "not an ISO 8601 date", value, "YYYY-MM-DD (or YYYY-MM, YYYY)")
            return None
        if parsed > self.today:
            self.problem(column, "date in the future", value, f"a date on or before {self.today}")
            return None
        return parsed


def _finding(reader: _Reader, name: str, value: object) -> object:
    column = name if name == "sex" else f"findings.{name}"
    if value is None:
        return None
    if name in _CHOICES:
        text = str(value).strip()
        match = {c.lower(): c for c in _CHOICES[name]}.get(text.lower())
        if match is None:
            reader.problem(column, "not an allowed value", value, " or ".join(_CHOICES[name]))
        return match
    if name in _RANGES:
        return reader.number(column, value, _RANGES[name], integer=name in _INTEGER_FINDINGS)
    from hcctrial.eligibility.language import NAME_TYPES

    kind = NAME_TYPES.get(name)
    if kind == "bool":
        if not isinstance(value, bool):
            reader.problem(column, "not true/false", value, "true or false")
            return None
        return value
    if kind == "number":
        return reader.number(column, value)
    if kind == "text":
        return str(value)
    reader.problem(column, "unknown finding", name, "a name of docs/criteria-language.md")
    return None


@lru_cache(maxsize=4096)
def _unit_problem(unit: str, code: str) -> str | None:
    """Why ``unit`` does not fit lab ``code`` (None if it does); cached, units repeat a lot."""
    from hcctrial.clinical.units import check_unit

    try:
        check_unit(unit, code)
    except UnitError as exc:
        return exc.problem.message
    return None


def _labs(reader: _Reader, raw: object) -> list[LabResult]:
    from hcctrial.protocol.vocabulary import LAB_CODES

    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.problem("labs", "not a list", type(raw).__name__, "a list of lab objects")
        return []
    labs = []
    for i, item in enumerate(raw):
        where = f"labs[{i}]"
        if not isinstance(item, dict):
            reader.problem(where, "not an object", item, "{code, value, unit, date, uln, lln}")
            continue
        code = str(item.get("code", "")).strip().upper()
        if code not in LAB_CODES:
            reader.problem(
                f"{where}.code",
                "unknown lab code",
                item.get("code"),
                "an SDTM LBTESTCD of docs/criteria-language.md",
            )
            continue
        when = reader.day(f"{where}.date", item.get("date"), required=True)
        value = reader.number(f"{where}.value", item.get("value"))
        if item.get("value") is None:
            reader.problem(f"{where}.value", "value missing", None, "a number")
        problem = None
        if value is not None and value < 0:
            reader.problem(f"{where}.value", "negative lab value", value, "a value >= 0")
            problem = "negative value"
        unit = str(item.get("unit") or "").strip()
        unit_problem = _unit_problem(unit, code) if unit else None
        if unit_problem:
            problem = f"unit {unit!r}: {unit_problem}"
            reader.problems.append(
                Problem(
                    f"{code}: {unit_problem}",
                    file=reader.file,
                    row=reader.row,
                    column=f"{where}.unit",
                    value=unit,
                    expected="a unit that fits the test",
                    subject=reader.subject,
                )
            )
        if not unit and code not in ("INR",):
            problem = "no unit"
            reader.problem(f"{where}.unit", "unit missing", None, "a unit such as 10^9/L")
        if when is None or value is None:
            bad = [k for k in reader.invalid if k.startswith(where)]
            if bad:
                reader.invalid[f"lab.{code}"] = f"{bad[0]}: {reader.invalid[bad[0]]}"
            continue
        labs.append(
            LabResult(
                code=code,
                value=value,
                unit=unit,
                date=when,
                uln=reader.number(f"{where}.uln", item.get("uln")),
                lln=reader.number(f"{where}.lln", item.get("lln")),
                problem=problem,
            )
        )
    return labs


def _history(reader: _Reader, raw: object, key: str) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        reader.problem(key, "not a list of objects", raw, f"a list of {key} objects")
        return None
    return list(raw)


def record_from_dict(
    obj: object, *, file: str | None = None, row: int | None = None, today: date | None = None
) -> PatientRecord:
    """Read one patient JSON object, reporting every impossible value (never raising on content).

    Parameters
    ----------
    obj : the decoded JSON object.
    file, row : where it came from, for problem messages (row = line number for JSON Lines).
    today : dates after this are impossible ("in the future"); defaults to today's date.
    """
    from hcctrial.protocol.vocabulary import CATEGORIES, CONDITIONS

    today = today or date.today()
    if not isinstance(obj, dict):
        record = PatientRecord(id=f"line {row}" if row else "?")
        record.invalid["record"] = "not a JSON object"
        record.problems.append(
            Problem(
                "not a JSON object",
                file=file,
                row=row,
                value=obj,
                expected="a patient object {id, ...}",
            )
        )
        return record
    pid = obj.get("id")
    reader = _Reader(file, row, str(pid) if pid is not None else None, today)
    if pid is None or str(pid).strip() == "":
        reader.problem("id", "patient id missing", pid, "a non-empty id")
        reader.invalid["record"] = "patient id missing"
        pid = f"line {row}" if row else "?"
    for key in sorted(set(obj) - _RECORD_KEYS):
        reader.problems.append(
            Problem(
                "unknown field",
                file=file,
                row=row,
                column=key,
                subject=str(pid),
                expected=", ".join(sorted(_RECORD_KEYS)),
            )
        )
    record = PatientRecord(id=str(pid))
    record.sex = _finding(reader, "sex", obj.get("sex"))  # type: ignore[assignment]
    record.birth_date = reader.day("birth_date", obj.get("birth_date"))
    record.age = reader.number("age", obj.get("age"), _RANGES["age"])
    if record.birth_date and (today - record.birth_date).days / 365.25 > _RANGES["age"][1]:
        reader.problem(
            "birth_date",
            "impossible birth date",
            obj.get("birth_date"),
            "an age between 0 and 120 years",
        )
        record.birth_date = None
    record.weight_kg = reader.number("weight_kg", obj.get("weight_kg"), _RANGES["weight_kg"])
    record.height_cm = reader.number("height_cm", obj.get("height_cm"), _RANGES["height_cm"])
    findings = obj.get("findings") or {}
    if not isinstance(findings, dict):
        reader.problem("findings", "not an object", findings, "an object of name: value")
        findings = {}
    for name, value in findings.items():
        value = _finding(reader, name, value)
        if value is not None:
            record.findings[name] = value
    record.labs = _labs(reader, obj.get("labs"))
    therapies = _history(reader, obj.get("therapies"), "therapies")
    if therapies is not None:
        record.therapies = []
        for i, t in enumerate(therapies):
            category = str(t.get("category", ""))
            if category not in CATEGORIES:
                reader.problem(
                    f"therapies[{i}].category",
                    "unknown category",
                    category,
                    "a category of docs/criteria-language.md",
                )
                continue
            start = reader.day(f"therapies[{i}].start", t.get("start"), required=True)
            end = reader.day(f"therapies[{i}].end", t.get("end"))
            ongoing = bool(t.get("ongoing", False))
            if end is None and t.get("end") is not None:
                ongoing = True  # unreadable or future end date: assume it runs (conservative)
            if start and end and end < start:
                reader.problem(
                    f"therapies[{i}].end",
                    "end before start",
                    t.get("end"),
                    f"a date on or after {start}",
                )
                end, ongoing = None, True
            if start is None:
                record.invalid[f"category.{category}"] = reader.invalid[f"therapies[{i}].start"]
                continue
            record.therapies.append(Therapy(category, start, end, ongoing, t.get("name")))
    conditions = _history(reader, obj.get("conditions"), "conditions")
    if conditions is not None:
        record.conditions = []
        for i, c in enumerate(conditions):
            name = str(c.get("name", ""))
            if name not in CONDITIONS and name not in CATEGORIES:
                reader.problem(
                    f"conditions[{i}].name",
                    "unknown condition",
                    name,
                    "a condition or event of docs/criteria-language.md",
                )
                continue
            onset = reader.day(f"conditions[{i}].onset", c.get("onset"))
            end = reader.day(f"conditions[{i}].end", c.get("end"))
            still = c.get("ongoing")
            record.conditions.append(
                Condition(name, onset, end, None if still is None else bool(still))
            )
    judgements = obj.get("judgements") or {}
    if isinstance(judgements, dict):
        for key, value in judgements.items():
            if isinstance(value, bool):
                record.judgements[str(key)] = value
            else:
                reader.problem(f"judgements.{key}", "not true/false", value, "true or false")
    else:
        reader.problem("judgements", "not an object", judgements, "{criterion id: true/false}")
    record.invalid.update(reader.invalid)
    record.problems.extend(reader.problems)
    return record


def mark_duplicates(records: list[PatientRecord], *, file: str | None = None) -> None:
    """Add a problem to every record whose id occurs more than once (in place)."""
    seen: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        seen.setdefault(record.id, []).append(i)
    for pid, positions in seen.items():
        if len(positions) > 1:
            for i in positions:
                if records[i].invalid.get("record") == "duplicate person id":
                    continue
                records[i].invalid["record"] = "duplicate person id"
                records[i].problems.append(
                    Problem(
                        f"duplicate person id (records {', '.join(str(p + 1) for p in positions)})",
                        file=file,
                        row=i + 1,
                        column="id",
                        subject=pid,
                        expected="one record per person",
                    )
                )


def read_patients(path: str | Path, *, today: date | None = None) -> list[PatientRecord]:
    """Read patient records from a JSON file (one object or a list) or JSON Lines (one a line).

    A line that is not valid JSON becomes a record named ``line N`` carrying the problem, so it
    is reported as 'incomplete' and never dropped. Raises :class:`InputError` only when the file
    cannot be read at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read patient file: {exc.strerror}", file=str(path)) from None
    stripped = text.lstrip()
    records: list[PatientRecord] = []
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(path), row=exc.lineno) from None
        for i, item in enumerate(items, start=1):
            records.append(record_from_dict(item, file=str(path), row=i, today=today))
    else:
        lines = text.splitlines()
        try:  # a single pretty-printed object
            single = json.loads(text) if stripped.startswith("{") and len(lines) > 1 else None
        except json.JSONDecodeError:
            single = None
        if isinstance(single, dict):
            records.append(record_from_dict(single, file=str(path), row=1, today=today))
        else:
            for lineno, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    record = PatientRecord(id=f"line {lineno}")
                    record.invalid["record"] = f"not valid JSON: {exc.msg}"
                    record.problems.append(
                        Problem(
                            f"not valid JSON: {exc.msg}",
                            file=str(path),
                            row=lineno,
                            expected="one JSON object a line",
                        )
                    )
                    records.append(record)
                    continue
                records.append(record_from_dict(item, file=str(path), row=lineno, today=today))
    if not records:
        raise InputError("no patient records", file=str(path), expected="JSON Lines, one a line")
    mark_duplicates(records, file=str(path))
    return records
