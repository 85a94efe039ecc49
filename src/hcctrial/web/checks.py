"""Entry forms as SDTM rows and the edit checks that run when they are saved.

Each form is a pydantic model whose fields are the SDTM variables of one domain (so a saved
record exports unchanged). Type and required-field checks come from the model (FastAPI answers
422 with one message per field); :func:`edit_check` adds the checks that need more than one
field or outside knowledge, in the same 422 shape:

- units: the unit must fit the analyte (:func:`hcctrial.clinical.units.check_unit`); the value
  and its normal range are converted to the standard unit (``LBSTRESN``, ``LBSTNRLO/HI``);
- ranges: a lower limit below the upper one; a count, concentration, diameter or dose is never
  negative; vital signs inside the entry limits of :data:`VITAL_LIMITS`;
- dates: ISO 8601 (partial allowed), not in the future, not before birth, not after death,
  start on or before end;
- controlled terms: CTCAE grade 1-5, Y/N flags, RECIST lesion roles and test codes;
- daily CRS/ICANS observations (:class:`CrsIcansForm`): the highest temperature inside
  30-45 C (86-113 F) with its unit, ICE 0-10, the oxygen device and the ICANS categories from
  the safety engine's lists, a full date not before consent nor after death; one observation
  per subject and day (checked against the database by the service).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hcctrial.clinical.units import canonical_unit, check_unit, convert, known_analytes
from hcctrial.errors import HcctrialError
from hcctrial.safety.crs import _TEMP_PLAUSIBLE_C, CRS_FIELDS
from hcctrial.safety.icans import ICANS_FIELDS

__all__ = [
    "CRS_ICANS_DOMAIN",
    "CRS_ICANS_FINDINGS",
    "FORMS",
    "MAX_ID",
    "VITAL_LIMITS",
    "CrsIcansForm",
    "FieldProblem",
    "StrictModel",
    "edit_check",
    "fahrenheit_to_celsius",
    "is_iso_date",
    "lab_number",
    "model_problems",
    "validate_form",
]

_ISO = re.compile(
    r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?)?)?$"
)

#: The largest row id (PostgreSQL ``integer``); a larger number in a request names no row.
MAX_ID = 2_147_483_647

#: Bound of entered numbers: beyond any measurement (cell doses reach 1e10 cells), so unit
#: conversions stay finite.
BIG = 1e15

#: Entry limits of vital signs in standard units. They catch typing and unit errors (a weight
#: in pounds, a temperature in Fahrenheit), not clinical abnormality: each is beyond values
#: recorded in adults (Guinness records for weight/height; Wilkinson et al., "Oxford Handbook
#: of Clinical Medicine" 10th ed. for survivable vital-sign extremes).
VITAL_LIMITS: dict[str, tuple[float, float, str]] = {
    "WEIGHT": (20.0, 350.0, "kg"),
    "HEIGHT": (100.0, 250.0, "cm"),
    "SYSBP": (40.0, 300.0, "mmHg"),
    "DIABP": (20.0, 200.0, "mmHg"),
    "PULSE": (20.0, 250.0, "beats/min"),
    "RESP": (4.0, 70.0, "breaths/min"),
    "TEMP": (30.0, 45.0, "C"),
    "OXYSAT": (50.0, 100.0, "%"),
}


class FieldProblem(BaseModel):
    """One failed check: the field, what is expected, and the kind of check (``edit_check``,
    or pydantic's error type for a type or required-field error)."""

    field: str
    message: str
    kind: str = "edit_check"


def is_iso_date(text: str) -> bool:
    """True for ISO 8601 calendar dates and date-times to the minute or second, partial allowed
    (``2026``, ``2026-02``); a full date must exist on the calendar (no 30 February)."""
    if not _ISO.match(text):
        return False
    if len(text) >= 10:
        try:
            date.fromisoformat(text[:10])
        except ValueError:
            return False
    return True


def _bad_text(value: Any) -> str | None:
    """Why ``value`` (or text inside it) cannot be stored, or ``None``: NUL characters (which
    PostgreSQL text refuses) and lone UTF-16 surrogates (not encodable as UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            return "text must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (no lone surrogates)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            why = _bad_text(key) or _bad_text(item)
            if why:
                return why
    elif isinstance(value, list | tuple):
        for item in value:
            why = _bad_text(item)
            if why:
                return why
    return None


class StrictModel(BaseModel):
    """Base of every request body: unknown fields refused, text stripped, no NaN/infinity, no
    text the database cannot store."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        why = _bad_text(data)
        if why:
            raise ValueError(why)
        return data


class _Form(StrictModel):
    VISIT: str | None = Field(default=None, max_length=40)
    VISITNUM: float | None = Field(default=None, ge=0, le=1e6)


class LabForm(_Form):
    """A lab result (SDTM LB) in the unit it was reported in."""

    LBTESTCD: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z][A-Z0-9_]*$")
    LBTEST: str | None = Field(default=None, max_length=40)
    LBCAT: str | None = Field(default=None, max_length=40)
    LBORRES: str = Field(
        min_length=1,
        max_length=20,
        description="the result as reported (SDTM keeps it as text: 1.0 stays 1.0); a number",
    )
    LBORRESU: str | None = Field(default=None, max_length=20)
    LBORNRLO: float | None = Field(default=None, ge=-BIG, le=BIG)
    LBORNRHI: float | None = Field(default=None, ge=-BIG, le=BIG)
    LBSTRESU: str | None = Field(default=None, max_length=20)
    LBDTC: str = Field(min_length=4, max_length=19)

    @field_validator("LBORRES", mode="before")
    @classmethod
    def _result_text(cls, value: Any) -> Any:
        # A JSON number is kept as written by Python (142 -> "142", 1.0 -> "1.0").
        if isinstance(value, bool):
            return value  # refused as not a string
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, int):
            return str(value)
        return value


class VitalForm(_Form):
    """A vital sign (SDTM VS) in standard units."""

    VSTESTCD: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z][A-Z0-9_]*$")
    VSTEST: str | None = Field(default=None, max_length=40)
    VSSTRESN: float = Field(ge=-BIG, le=BIG)
    VSSTRESU: str | None = Field(default=None, max_length=20)
    VSDTC: str = Field(min_length=4, max_length=19)


class LesionForm(_Form):
    """A lesion identified at baseline or later (SDTM TU)."""

    TULNKID: str = Field(min_length=1, max_length=20)
    TUTESTCD: str = "TUMIDENT"
    TUTEST: str | None = "Tumor Identification"
    TUORRES: str | None = None
    TUSTRESC: Literal["TARGET", "NON-TARGET", "NEW"]
    TULOC: str | None = Field(default=None, max_length=60)
    TUMETHOD: str | None = Field(default=None, max_length=40)
    TUEVAL: str | None = Field(default=None, max_length=40)
    TUDTC: str = Field(min_length=4, max_length=19)


class MeasurementForm(_Form):
    """A lesion measurement or state (SDTM TR)."""

    TRGRPID: Literal["TARGET", "NON-TARGET", "NEW"] | None = None
    TRLNKID: str = Field(min_length=1, max_length=20)
    TRTESTCD: Literal[
        "LDIAM", "SAXIS", "DIAMETER", "SUMDIAM", "LPERP", "TUMSTATE", "VIABLDIAM", "ENHPATT"
    ]
    TRTEST: str | None = Field(default=None, max_length=40)
    TRORRES: str | None = Field(default=None, max_length=40)
    TRORRESU: Literal["mm", "cm"] | None = None
    TRSTRESC: str | None = Field(default=None, max_length=40)
    TRSTRESN: float | None = Field(default=None, ge=-BIG, le=BIG)
    TRSTRESU: Literal["mm", "cm"] | None = None
    TRMETHOD: str | None = Field(default=None, max_length=40)
    TREVAL: str | None = Field(default=None, max_length=40)
    TRDTC: str = Field(min_length=4, max_length=19)

    @field_validator("TRORRESU", "TRSTRESU", mode="before")
    @classmethod
    def _unit_case(cls, value: Any) -> Any:
        # "MM" (as some SDTM readers write units) is the millimetre of UCUM's "mm".
        return value.lower() if isinstance(value, str) else value


class AdverseEventForm(_Form):
    """An adverse event (SDTM AE) with its CTCAE term and grade."""

    AETERM: str = Field(min_length=1, max_length=200)
    AEDECOD: str | None = Field(default=None, max_length=200)
    AEBODSYS: str | None = Field(default=None, max_length=200)
    AECAT: str | None = Field(default=None, max_length=40)
    AETOXGR: Literal["1", "2", "3", "4", "5"]
    AESER: Literal["Y", "N"] | None = None
    AEREL: str | None = Field(default=None, max_length=40)
    AEOUT: str | None = Field(default=None, max_length=60)
    AESTDTC: str = Field(min_length=4, max_length=19)
    AEENDTC: str | None = Field(default=None, min_length=4, max_length=19)


class DoseForm(_Form):
    """A dose given (SDTM EX)."""

    EXTRT: str = Field(min_length=1, max_length=200)
    EXCAT: str | None = Field(default=None, max_length=40)
    EXDOSE: float | None = Field(default=None, ge=0, le=BIG)
    EXDOSU: str | None = Field(default=None, max_length=40)
    EXROUTE: str | None = Field(default=None, max_length=40)
    EXSTDTC: str = Field(min_length=4, max_length=19)
    EXENDTC: str | None = Field(default=None, min_length=4, max_length=19)


class TherapyItem(StrictModel):
    """A prior or current therapy of a vocabulary category (``docs/criteria-language.md``)."""

    category: str = Field(min_length=1, max_length=60)
    name: str | None = Field(default=None, max_length=200)
    start: str = Field(min_length=4, max_length=10)
    end: str | None = Field(default=None, min_length=4, max_length=10)
    ongoing: bool = False


class ConditionItem(StrictModel):
    """A medical-history condition (vocabulary name)."""

    name: str = Field(min_length=1, max_length=60)
    onset: str | None = Field(default=None, min_length=4, max_length=10)
    end: str | None = Field(default=None, min_length=4, max_length=10)
    ongoing: bool | None = None


class FindingsForm(_Form):
    """Screening data the eligibility criteria read: ``FINDINGS`` (``ecog``, ``bclc_stage``, ...:
    the names of :mod:`hcctrial.protocol.vocabulary`), the therapy and medical history
    (``THERAPIES``, ``CONDITIONS``: a list given, even empty, is the complete history; absent
    means not collected) and the investigator's judgements by criterion id (``JUDGEMENTS``,
    true = the criterion applies). Kept for screening, not exported as SDTM."""

    FINDINGS: dict[str, bool | int | float | str] = Field(default_factory=dict, max_length=200)
    THERAPIES: list[TherapyItem] | None = Field(default=None, max_length=200)
    CONDITIONS: list[ConditionItem] | None = Field(default=None, max_length=200)
    JUDGEMENTS: dict[str, bool] | None = Field(default=None, max_length=200)
    DTC: str = Field(min_length=10, max_length=19)
    WEIGHT_KG: float | None = Field(default=None, gt=0, le=BIG)
    HEIGHT_CM: float | None = Field(default=None, gt=0, le=BIG)


YesNo = Literal["Y", "N"]

#: The record domain of one subject-day of CRS/ICANS observations (exported as SDTM FA rows).
CRS_ICANS_DOMAIN = "CRSICANS"


class CrsIcansForm(_Form):
    """One subject-day of CRS and ICANS observations: the findings the ASTCT consensus grades
    read (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638), named as the safety
    engine's inputs (:data:`hcctrial.safety.crs.CRS_FIELDS`,
    :data:`hcctrial.safety.icans.ICANS_FIELDS`). Exported as SDTM FA, one row per finding.
    Flags are Y/N; the oxygen device and the ICANS categories are the engine's lists."""

    FADTC: str = Field(min_length=10, max_length=19, description="observation day (YYYY-MM-DD)")
    TEMP: float = Field(ge=-BIG, le=BIG, description="highest temperature of the day")
    TEMPU: Literal["C", "F"] = "C"
    FEVOTH: YesNo | None = None
    ANTIPYR: YesNo | None = None
    ANTICYT: YesNo | None = None
    HYPOTN: YesNo | None = None
    VASOPN: int | None = Field(default=None, ge=0, le=10)
    VASOPRSN: YesNo | None = None
    VASOHD: YesNo | None = None
    HYPOTOTH: YesNo | None = None
    O2DEV: (
        Literal[
            "none",
            "room-air",
            "blow-by",
            "nasal-cannula",
            "high-flow-nasal-cannula",
            "facemask",
            "nonrebreather",
            "venturi",
            "cpap",
            "bipap",
            "mechanical-ventilation",
        ]
        | None
    ) = None
    O2FLOW: float | None = Field(default=None, ge=0, le=80)
    HYPOXOTH: YesNo | None = None
    DTHCRS: YesNo | None = None
    ICE: int | None = Field(default=None, ge=0, le=10)
    ICEOTH: YesNo | None = None
    LOC: (
        Literal[
            "alert",
            "awakens-spontaneously",
            "awakens-to-voice",
            "awakens-to-tactile",
            "unarousable",
        ]
        | None
    ) = None
    LOCOTH: YesNo | None = None
    SEIZURE: Literal["none", "resolves-rapidly", "prolonged-or-repetitive"] | None = None
    SEIZOTH: YesNo | None = None
    MOTOR: Literal["none", "deep-focal-weakness"] | None = None
    MOTOROTH: YesNo | None = None
    ICP: Literal["none", "focal-edema", "diffuse-edema"] | None = None
    ICPOTH: YesNo | None = None
    DTHICANS: YesNo | None = None

    @field_validator("TEMPU", mode="before")
    @classmethod
    def _unit_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("O2DEV", "LOC", "SEIZURE", "MOTOR", "ICP", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        # "Nasal cannula" and "nasal_cannula" are the engine's "nasal-cannula".
        if isinstance(value, str):
            return re.sub(r"[\s_]+", "-", value.strip().lower())
        return value


#: CRS and ICANS findings of :class:`CrsIcansForm` -> syndrome (the engine's field lists).
CRS_ICANS_FINDINGS: dict[str, str] = {
    **{name: "CRS" for name in CRS_FIELDS},
    **{name: "ICANS" for name in ICANS_FIELDS},
}


def fahrenheit_to_celsius(value: float) -> float:
    """C = (F - 32) x 5 / 9 (the definition of the two scales: water freezes at 0 C = 32 F and
    boils at 100 C = 212 F)."""
    return (value - 32.0) * 5.0 / 9.0


def _crs_icans(data: dict[str, Any], consent: str | None) -> list[FieldProblem]:
    problems = []
    day = str(data.get("FADTC", ""))
    if day and len(day) < 10 and is_iso_date(day):
        problems.append(
            FieldProblem(field="FADTC", message="a full date is needed (YYYY-MM-DD): one day")
        )
    elif day and is_iso_date(day) and consent and is_iso_date(consent) and _before(day, consent):
        problems.append(FieldProblem(field="FADTC", message=f"before consent ({consent})"))
    if "TEMP" in data:
        unit = data.get("TEMPU", "C")
        celsius = fahrenheit_to_celsius(data["TEMP"]) if unit == "F" else data["TEMP"]
        lo, hi = _TEMP_PLAUSIBLE_C
        if not lo <= celsius <= hi:
            limits = f"{lo:g}-{hi:g} C" if unit == "C" else "86-113 F (30-45 C)"
            problems.append(
                FieldProblem(field="TEMP", message=f"outside {limits}: check the value and unit")
            )
    return problems


#: Domain -> its entry form.
FORMS: dict[str, type[_Form]] = {
    "FINDINGS": FindingsForm,
    "LB": LabForm,
    "VS": VitalForm,
    "TU": LesionForm,
    "TR": MeasurementForm,
    "AE": AdverseEventForm,
    "EX": DoseForm,
    CRS_ICANS_DOMAIN: CrsIcansForm,
}

_START_END = {"AE": ("AESTDTC", "AEENDTC"), "EX": ("EXSTDTC", "EXENDTC")}
_DATE_FIELDS = {
    "LB": ("LBDTC",),
    "VS": ("VSDTC",),
    "TU": ("TUDTC",),
    "TR": ("TRDTC",),
    "AE": ("AESTDTC", "AEENDTC"),
    "EX": ("EXSTDTC", "EXENDTC"),
    "FINDINGS": ("DTC",),
    CRS_ICANS_DOMAIN: ("FADTC",),
}


def _before(a: str, b: str) -> bool:
    """True when ISO 8601 (partial) date ``a`` is certainly before ``b`` (compared to the
    precision of the less precise one, so ``2024-03`` is not before ``2024-03-15``)."""
    n = min(len(a), len(b))
    return a[:n] < b[:n]


def _dates(
    domain: str, data: dict[str, Any], birth: str | None, death: str | None
) -> list[FieldProblem]:
    problems = []
    today = datetime.now(UTC).date().isoformat()
    for name in _DATE_FIELDS.get(domain, ()):
        value = data.get(name)
        if value is None:
            continue
        if not is_iso_date(str(value)):
            problems.append(FieldProblem(field=name, message="not an ISO 8601 date (YYYY-MM-DD)"))
            continue
        if _before(today, value):
            problems.append(FieldProblem(field=name, message=f"in the future (today is {today})"))
        if birth and is_iso_date(birth) and _before(value, birth):
            problems.append(FieldProblem(field=name, message=f"before birth ({birth})"))
        if death and is_iso_date(death) and _before(death, value) and domain != "AE":
            problems.append(FieldProblem(field=name, message=f"after death ({death})"))
    pair = _START_END.get(domain)
    if pair:
        start, end = data.get(pair[0]), data.get(pair[1])
        if start and end and is_iso_date(start) and is_iso_date(end) and _before(end, start):
            problems.append(FieldProblem(field=pair[1], message=f"before the start ({start})"))
    return problems


def lab_number(text: Any) -> float | None:
    """The numeric value of a reported lab result (``None`` when it is not a finite number)."""
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if abs(value) <= BIG else None


def _lab(data: dict[str, Any]) -> list[FieldProblem]:
    code, unit = data["LBTESTCD"], data.get("LBORRESU")
    lo, hi = data.get("LBORNRLO"), data.get("LBORNRHI")
    problems = []
    if lo is not None and hi is not None and lo > hi:
        problems.append(FieldProblem(field="LBORNRLO", message=f"lower limit above upper ({hi})"))
    value = lab_number(data["LBORRES"])
    if value is None:
        problems.append(
            FieldProblem(field="LBORRES", message="not a number (enter the result, e.g. 1.2)")
        )
        return problems
    if value < 0:
        problems.append(FieldProblem(field="LBORRES", message="a lab result cannot be negative"))
    if code not in known_analytes():
        data["LBSTRESN"], data["LBSTRESU"] = value, data.get("LBSTRESU") or unit
        data["LBSTNRLO"], data["LBSTNRHI"] = lo, hi
        return problems
    target = data.get("LBSTRESU") or canonical_unit(code)
    if not unit:
        if canonical_unit(code) in ("ratio", "1"):
            data["LBSTRESN"], data["LBSTRESU"] = value, data.get("LBSTRESU")
            data["LBSTNRLO"], data["LBSTNRHI"] = lo, hi
            return problems
        problems.append(FieldProblem(field="LBORRESU", message=f"unit required for {code}"))
        return problems
    unit_problems = []
    for field, name in (("LBORRESU", unit), ("LBSTRESU", target)):
        try:
            check_unit(name, code)
        except HcctrialError as exc:
            unit_problems.append(FieldProblem(field=field, message=str(exc)))
    if unit_problems:
        return problems + unit_problems
    try:
        data["LBSTRESN"] = round(convert(value, unit, target, code), 6)
        data["LBSTNRLO"] = None if lo is None else round(convert(lo, unit, target, code), 6)
        data["LBSTNRHI"] = None if hi is None else round(convert(hi, unit, target, code), 6)
        data["LBSTRESU"] = target
    except HcctrialError as exc:
        problems.append(FieldProblem(field="LBORRESU", message=str(exc)))
    return problems


def _vital(data: dict[str, Any]) -> list[FieldProblem]:
    limits = VITAL_LIMITS.get(data["VSTESTCD"])
    if limits is None:
        return []
    lo, hi, unit = limits
    if data.get("VSSTRESU") and data["VSSTRESU"].lower() != unit.lower():
        return [FieldProblem(field="VSSTRESU", message=f"expected {unit}")]
    data["VSSTRESU"] = data.get("VSSTRESU") or unit
    if not lo <= data["VSSTRESN"] <= hi:
        return [
            FieldProblem(field="VSSTRESN", message=f"outside the entry limits {lo}-{hi} {unit}")
        ]
    return []


def _measurement(data: dict[str, Any]) -> list[FieldProblem]:
    value, code = data.get("TRSTRESN"), data["TRTESTCD"]
    if code in ("TUMSTATE", "ENHPATT"):
        if not data.get("TRSTRESC"):
            return [FieldProblem(field="TRSTRESC", message=f"{code} needs a result text")]
        return []
    if value is None:
        return [FieldProblem(field="TRSTRESN", message=f"{code} needs a number")]
    if value < 0:
        return [FieldProblem(field="TRSTRESN", message="a diameter cannot be negative")]
    mm = value * 10 if data.get("TRSTRESU") == "cm" else value
    # 500 mm: larger than any liver (adult liver ~ 150-200 mm across; Gray's Anatomy, 42nd ed.).
    if mm > 500:
        return [FieldProblem(field="TRSTRESN", message="above 500 mm: check the unit")]
    data["TRSTRESU"] = data.get("TRSTRESU") or "mm"
    return []


def _findings(data: dict[str, Any], sex: str | None, birth: str | None) -> list[FieldProblem]:
    """The screening engine's own reading of the data (:func:`record_from_dict`): a value it
    would refuse (ECOG 7, an unknown BCLC stage, a therapy without a start) is refused here,
    with the engine's message."""
    from hcctrial.eligibility import record_from_dict

    patient: dict[str, Any] = {"id": "entry", "findings": data.get("FINDINGS", {}), "labs": []}
    if sex in ("M", "F"):
        patient["sex"] = sex
    if birth and len(birth) >= 10:
        patient["birth_date"] = birth[:10]
    for key, name in (("WEIGHT_KG", "weight_kg"), ("HEIGHT_CM", "height_cm")):
        if data.get(key) is not None:
            patient[name] = data[key]
    for key, name in (("THERAPIES", "therapies"), ("CONDITIONS", "conditions")):
        if data.get(key) is not None:
            patient[name] = data[key]
    if data.get("JUDGEMENTS") is not None:
        patient["judgements"] = data["JUDGEMENTS"]
    dtc = str(data.get("DTC", ""))[:10]
    today = datetime.fromisoformat(dtc).date() if is_iso_date(dtc) and len(dtc) == 10 else None
    record = record_from_dict(patient, today=today)
    names = {"weight_kg": "WEIGHT_KG", "height_cm": "HEIGHT_CM", "findings": "FINDINGS"}
    problems = []
    for problem in record.problems:
        column = problem.column or "FINDINGS"
        head, _, rest = column.partition(".")
        head = names.get(head, head.split("[")[0].upper())
        field = f"{head}.{rest}" if rest else head
        text = problem.message
        if problem.value is not None:
            text += f" (got {problem.value!r})"
        if problem.expected:
            text += f"; expected {problem.expected}"
        problems.append(FieldProblem(field=field, message=text))
    return problems


def edit_check(
    domain: str,
    data: dict[str, Any],
    *,
    birth: str | None = None,
    death: str | None = None,
    sex: str | None = None,
    consent: str | None = None,
    partial: bool = False,
) -> list[FieldProblem]:
    """Run the edit checks of ``domain`` on ``data`` (adds derived standard-unit columns).

    Returns every problem found (empty when the record may be saved). ``partial``: ``data``
    lacks fields that failed type validation; checks that need them are skipped (so that the
    user sees every problem of the form at once). ``consent``: the subject's consent date
    (a CRS/ICANS observation is not before it).
    """
    checks = [lambda: _dates(domain, data, birth, death)]
    if domain == "LB":
        checks.append(lambda: _lab(data))
    elif domain == "VS":
        checks.append(lambda: _vital(data))
    elif domain == "TR":
        checks.append(lambda: _measurement(data))
    elif domain == "FINDINGS":
        checks.append(lambda: _findings(data, sex, birth))
    elif domain == CRS_ICANS_DOMAIN:
        checks.append(lambda: _crs_icans(data, consent))
    problems: list[FieldProblem] = []
    for check in checks:
        try:
            problems += check()
        except (KeyError, TypeError, ValueError):
            if not partial:
                raise
    return problems


def model_problems(
    model: type[BaseModel], payload: Any
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """Type-check ``payload`` with ``model``: the valid data (JSON-ready) and one problem per
    failed field. When some fields fail, the data holds the fields that passed as sent, so that
    the checks that need more than one field can still run on them (every problem of a form in
    one answer, not one round of type errors and then one of range errors)."""
    try:
        data = model.model_validate(payload).model_dump(exclude_none=True, mode="json")
        return data, []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
    problems = [
        FieldProblem(
            field=".".join(str(part) for part in e["loc"]) or "body",
            message=e["msg"],
            kind=e["type"],
        )
        for e in errors
    ]
    if not isinstance(payload, dict):
        return {}, problems
    bad = {str(e["loc"][0]) for e in errors if e["loc"]}
    if any(not e["loc"] for e in errors):  # a whole-body problem (NUL characters): nothing passes
        return {}, problems
    data = {
        k: v
        for k, v in payload.items()
        if k in model.model_fields and k not in bad and v is not None
    }
    return data, problems


def validate_form(
    domain: str,
    payload: dict[str, Any],
    *,
    birth: str | None = None,
    death: str | None = None,
    sex: str | None = None,
    consent: str | None = None,
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """Type-check ``payload`` with the domain's form (:func:`model_problems`), then run the edit
    checks; returns the record data (with derived columns) and every problem found: type errors
    and edit checks together, one message per field, the type error first where a field has
    both."""
    data, problems = model_problems(FORMS[domain], payload)
    if not isinstance(payload, dict):
        return {}, problems
    partial = bool(problems)
    seen = {p.field.split(".")[0] for p in problems}
    found = edit_check(
        domain, data, birth=birth, death=death, sex=sex, consent=consent, partial=partial
    )
    for problem in found:
        if problem.field.split(".")[0] not in seen:
            problems.append(problem)
    return {k: v for k, v in data.items() if v is not None}, problems
