"""What each vocabulary name and function gives for one patient on the screening date.

Every value read is recorded as a :class:`UsedValue` (what, value, unit, date, the original
value and the conversion applied, or why it is unknown) so a decision can be explained.

Rules (documented in ``docs/readme/screening.md``):

- ``lab(CODE)``: the most recent result of CODE dated on or before the screening date; if
  it is older than the look-back window the value is *unknown (stale)*, it is never replaced
  by an older one; a unit that cannot be converted makes it *unknown (unit)*.
- ``age``: whole years from ``birth_date`` to the screening date, else the recorded ``age``.
- ``ecog``: recorded, else :func:`hcctrial.clinical.ecog_from_kps` of the recorded KPS.
- ``child_pugh_score``/``child_pugh_class``: recorded, else :func:`hcctrial.clinical.child_pugh`
  of the most recent BILI, ALB and INR in the window and the ``ascites`` and ``encephalopathy``
  findings (Pugh RN et al., Br J Surg 1973;60:646-9).
- therapies: the last day of a therapy is the screening date if it is ongoing or ends later,
  else its end date, else its start date; therapies that start after the screening date are
  ignored. Events recorded as conditions (``myocardial_infarction``, ``gi_bleeding`` ...) are
  dated by their onset.
- ``active(C)``: onset on or before the screening date and no end before it (``ongoing: false``
  ends it); ``history(C)``: any record with onset on or before the screening date (or undated).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hcctrial.eligibility.logic import Unknown, Value
from hcctrial.eligibility.record import LabResult, PatientRecord
from hcctrial.errors import InputError

__all__ = ["CATEGORY_MEMBERS", "EVENT_CATEGORIES", "Lookup", "UsedValue", "months_before"]

# anti_tumour_therapy covers the therapies SZ003 lists ("such as surgery, interventional therapy,
# radiotherapy, chemotherapy, immunotherapy") plus targeted and cell therapy.
CATEGORY_MEMBERS: dict[str, frozenset[str]] = {
    "anti_tumour_therapy": frozenset(
        {
            "anti_tumour_therapy",
            "surgery",
            "interventional_therapy",
            "radiotherapy",
            "chemotherapy",
            "immunotherapy",
            "targeted_therapy",
            "cell_therapy",
        }
    ),
}
# categories that are clinical events (dated by onset) rather than treatments
EVENT_CATEGORIES = frozenset(
    {
        "myocardial_infarction",
        "unstable_angina",
        "arrhythmia_unstable",
        "gi_bleeding",
        "other_malignancy",
    }
)


@dataclass
class UsedValue:
    """One value read for a criterion (a row of the explanation)."""

    item: str
    value: Any
    unit: str | None = None
    date: date | None = None
    original: str | None = None
    conversion: str | None = None
    reason: str | None = None


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class Lookup:
    """Resolves names and functions for one record on one screening date."""

    def __init__(self, record: PatientRecord, as_of: date, lookback_days: int) -> None:
        self.record = record
        self.as_of = as_of
        self.lookback_days = lookback_days
        self.used: list[UsedValue] = []

    def _use(self, used: UsedValue) -> Value:
        self.used.append(used)
        return Unknown(used.reason) if used.reason else used.value

    # --- names ----------------------------------------------------------------------------
    def name(self, name: str) -> Value:
        """The value of a vocabulary name."""
        rec = self.record
        if name == "age":
            if rec.birth_date is not None:
                b, d = rec.birth_date, self.as_of
                years = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
                return self._use(UsedValue("age", years, "years", original=f"born {b}"))
            if rec.age is not None:
                return self._use(UsedValue("age", rec.age, "years", original="age as recorded"))
            return self._use(UsedValue("age", None, reason=self._missing("age", "birth_date")))
        if name == "sex":
            if rec.sex is None:
                return self._use(UsedValue("sex", None, reason=self._missing("sex")))
            return self._use(UsedValue("sex", rec.sex))
        if name in rec.findings:
            return self._use(UsedValue(name, rec.findings[name]))
        if name == "ecog" and "kps" in rec.findings:
            from hcctrial.clinical import ecog_from_kps

            kps = rec.findings["kps"]
            try:
                ecog = ecog_from_kps(kps)
            except InputError as exc:
                return self._use(UsedValue("ecog", None, reason=f"ECOG from KPS: {exc}"))
            return self._use(
                UsedValue(
                    "ecog",
                    ecog,
                    original=f"KPS {kps:g}",
                    conversion="ECOG from KPS (hcctrial.clinical.ecog_from_kps)",
                )
            )
        if name in ("child_pugh_score", "child_pugh_class"):
            return self._child_pugh(name)
        return self._use(UsedValue(name, None, reason=self._missing(f"findings.{name}")))

    def _missing(self, *fields: str) -> str:
        for f in fields:
            if f in self.record.invalid:
                return f"invalid {f}: {self.record.invalid[f]}"
        return f"{fields[0].removeprefix('findings.')} not recorded"

    def _child_pugh(self, name: str) -> Value:
        from hcctrial.clinical import child_pugh

        parts = {
            "bilirubin": self.lab("BILI", "umol/L"),
            "albumin": self.lab("ALB", "g/L"),
            "inr": self.lab("INR"),
            "ascites": self.name("ascites")
            if "ascites" in self.record.findings
            else Unknown(self._missing("findings.ascites")),
            "encephalopathy": self.name("encephalopathy")
            if "encephalopathy" in self.record.findings
            else Unknown(self._missing("findings.encephalopathy")),
        }
        unknown = [f"{k}: {v.reason}" for k, v in parts.items() if isinstance(v, Unknown)]
        if unknown:
            return self._use(
                UsedValue(name, None, reason="cannot derive Child-Pugh: " + "; ".join(unknown))
            )
        try:
            result = child_pugh(
                bilirubin_umol_l=float(parts["bilirubin"]),  # type: ignore[arg-type]
                albumin_g_l=float(parts["albumin"]),  # type: ignore[arg-type]
                inr=float(parts["inr"]),  # type: ignore[arg-type]
                ascites=str(parts["ascites"]),
                encephalopathy=str(parts["encephalopathy"]),
            )
        except InputError as exc:
            return self._use(UsedValue(name, None, reason=f"cannot derive Child-Pugh: {exc}"))
        value = result.score if name == "child_pugh_score" else result.klass
        return self._use(
            UsedValue(
                name,
                value,
                conversion="child_pugh(BILI, ALB, INR, ascites, encephalopathy) (Pugh 1973)",
            )
        )

    # --- labs -----------------------------------------------------------------------------
    def latest(self, code: str) -> LabResult | Unknown:
        """The most recent result of ``code`` on or before the screening date, within the window."""
        if f"lab.{code}" in self.record.invalid:
            # a result of this test could not be read: it might be the most recent one
            return Unknown(f"invalid {code} result: {self.record.invalid[f'lab.{code}']}")
        candidates = [
            lab for lab in self.record.labs if lab.code == code and lab.date <= self.as_of
        ]
        if not candidates:
            return Unknown(f"no {code} result")
        best = max(enumerate(candidates), key=lambda item: (item[1].date, item[0]))[1]
        start = self.as_of - timedelta(days=self.lookback_days)
        if best.date < start:
            age = (self.as_of - best.date).days
            return Unknown(
                f"most recent {code} is {age} days old ({best.date}), "
                f"older than the {self.lookback_days}-day look-back window"
            )
        if best.problem:
            return Unknown(f"{code} result of {best.date}: {best.problem}")
        return best

    def _convert(
        self, lab: LabResult, value: float, unit: str | None, code: str, label: str
    ) -> tuple[float | None, str | None, str | None]:
        from hcctrial.clinical.units import canonical_unit, conversion

        target = unit or canonical_unit(code)
        source_unit = lab.unit or ("ratio" if code == "INR" else "")
        try:
            conv = conversion(source_unit, target, code)
            converted = conv.apply(value)
        except InputError as exc:
            return None, target, f"{label}: unit {source_unit!r}: {exc.problem.message}"
        note = None if conv.scale == 1 and conv.offset == 0 else conv.formula()
        return converted, target, note

    def lab(self, code: str, unit: str | None = None) -> Value:
        """``lab(CODE[, UNIT])``: most recent value in the window, converted."""
        label = f'lab("{code}"' + (f', "{unit}")' if unit else ")")
        best = self.latest(code)
        if isinstance(best, Unknown):
            return self._use(UsedValue(label, None, reason=best.reason))
        value, target, note = self._convert(best, best.value, unit, code, label)
        original = f"{_fmt(best.value)} {best.unit}".strip()
        if value is None:
            return self._use(UsedValue(label, None, target, best.date, original, reason=note))
        return self._use(UsedValue(label, value, target, best.date, original, note))

    def limit(self, code: str, which: str) -> Value:
        """``uln(CODE)`` / ``lln(CODE)`` of the record ``lab(CODE)`` uses, in the canonical unit."""
        label = f'{which}("{code}")'
        best = self.latest(code)
        if isinstance(best, Unknown):
            return self._use(UsedValue(label, None, reason=best.reason))
        raw = best.uln if which == "uln" else best.lln
        if raw is None:
            reason = f"no {which.upper()} on the {code} result of {best.date}"
            return self._use(UsedValue(label, None, date=best.date, reason=reason))
        value, target, note = self._convert(best, raw, None, code, label)
        original = f"{_fmt(raw)} {best.unit}".strip()
        if value is None:
            return self._use(UsedValue(label, None, target, best.date, original, reason=note))
        return self._use(UsedValue(label, value, target, best.date, original, note))

    def xuln(self, code: str) -> Value:
        """``xuln(CODE)``: value / ULN of the same record (a ratio, no unit conversion needed)."""
        label = f'xuln("{code}")'
        best = self.latest(code)
        if isinstance(best, Unknown):
            return self._use(UsedValue(label, None, reason=best.reason))
        if best.uln is None or best.uln <= 0:
            reason = f"no ULN on the {code} result of {best.date}"
            return self._use(UsedValue(label, None, date=best.date, reason=reason))
        original = f"{_fmt(best.value)} {best.unit} / ULN {_fmt(best.uln)} {best.unit}"
        return self._use(UsedValue(label, best.value / best.uln, "x ULN", best.date, original))

    def crcl(self) -> Value:
        """``crcl()``: Cockcroft-Gault creatinine clearance (mL/min) via hcctrial.clinical."""
        from hcctrial.clinical import creatinine_clearance_cockcroft_gault

        age, sex = self.name("age"), self.name("sex")
        creat = self.lab("CREAT", "mg/dL")
        weight: Value = self.record.weight_kg
        if weight is None:
            weight = Unknown(self._missing("weight_kg"))
        parts = {"age": age, "sex": sex, "creatinine": creat, "weight_kg": weight}
        unknown = [f"{k}: {v.reason}" for k, v in parts.items() if isinstance(v, Unknown)]
        if unknown:
            return self._use(UsedValue("crcl()", None, "mL/min", reason="; ".join(unknown)))
        try:
            value = creatinine_clearance_cockcroft_gault(
                age=float(age),  # type: ignore[arg-type]
                weight_kg=float(weight),  # type: ignore[arg-type]
                sex=str(sex),
                creatinine=float(creat),  # type: ignore[arg-type]
                unit="mg/dL",
            )
        except InputError as exc:
            return self._use(UsedValue("crcl()", None, "mL/min", reason=f"Cockcroft-Gault: {exc}"))
        return self._use(
            UsedValue(
                "crcl()",
                float(value),
                "mL/min",
                original=f"weight {_fmt(float(weight))} kg",  # type: ignore[arg-type]
                conversion="Cockcroft-Gault (Cockcroft & Gault 1976)",
            )
        )

    # --- history --------------------------------------------------------------------------
    def _events(self, category: str) -> list[tuple[date, str]] | Unknown:
        """``(last day, what it was)`` of each event of the category up to the screening date."""
        rec, as_of = self.record, self.as_of
        members = CATEGORY_MEMBERS.get(category, frozenset({category}))
        if f"category.{category}" in rec.invalid:
            return Unknown(f"invalid {category} record: {rec.invalid[f'category.{category}']}")
        needs_conditions = category in EVENT_CATEGORIES
        if rec.therapies is None and (rec.conditions is None or not needs_conditions):
            return Unknown("therapy history not recorded")
        if needs_conditions and rec.conditions is None and rec.therapies is None:
            return Unknown("medical history not recorded")
        events: list[tuple[date, str]] = []
        for t in rec.therapies or []:
            if t.category in members and t.start is not None and t.start <= as_of:
                name = f"{t.name} ({t.category})" if t.name else t.category
                if t.ongoing or (t.end is not None and t.end >= as_of):
                    events.append((as_of, f"{name} started {t.start}, ongoing"))
                elif t.end is not None and t.end != t.start:
                    events.append((t.end, f"{name} {t.start} to {t.end}"))
                else:
                    events.append((t.start, f"{name} on {t.start}"))
        for c in rec.conditions or []:
            if c.name in members:
                if c.onset is None:
                    return Unknown(f"{c.name} recorded without a date")
                if c.onset <= as_of:
                    events.append((c.onset, f"{c.name} on {c.onset}"))
        if not events and needs_conditions and rec.conditions is None:
            return Unknown("medical history not recorded")
        return events

    def days_since(self, category: str) -> Value:
        """Days from the most recent event of the category to the screening date, None if never."""
        label = f'days_since("{category}")'
        events = self._events(category)
        if isinstance(events, Unknown):
            return self._use(UsedValue(label, None, reason=events.reason))
        if not events:
            return self._use(UsedValue(label, None, "days", original="never"))
        last, what = max(events)
        return self._use(UsedValue(label, (self.as_of - last).days, "days", last, original=what))

    def within(self, category: str, n: int, unit: str) -> Value:
        """``within_days``/``within_months``: an event of the category in the last n days/months.

        The explanation names the most recent event and the window (its first day is the
        threshold: an event on or after it is 'within').
        """
        label = f'within_{unit}("{category}", {n})'
        events = self._events(category)
        if isinstance(events, Unknown):
            return self._use(UsedValue(label, None, reason=events.reason))
        start = (self.as_of - timedelta(days=n)) if unit == "days" else months_before(self.as_of, n)
        window = f"window {start} to {self.as_of}"
        if not events:
            return self._use(UsedValue(label, False, original=f"never; {window}"))
        last, what = max(events)
        return self._use(UsedValue(label, last >= start, None, last, original=f"{what}; {window}"))

    def condition(self, name: str, active: bool) -> Value:
        """``history(C)`` / ``active(C)``."""
        label = f'{"active" if active else "history"}("{name}")'
        rec = self.record
        if rec.conditions is None:
            return self._use(UsedValue(label, None, reason="medical history not recorded"))
        found = False
        when: date | None = None
        for c in rec.conditions:
            if c.name != name or (c.onset is not None and c.onset > self.as_of):
                continue
            if active:
                ended = c.ongoing is False or (c.end is not None and c.end < self.as_of)
                if ended:
                    continue
            found, when = True, c.onset
        return self._use(UsedValue(label, found, date=when))
