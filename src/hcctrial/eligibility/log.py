"""Screening many patients: the screening log and per-patient decisions as polars tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import polars as pl

from hcctrial.eligibility.evaluate import (
    PatientDecision,
    criteria_from_protocol,
    screen_patient,
)
from hcctrial.eligibility.record import PatientRecord

__all__ = [
    "decisions_table",
    "explain",
    "screen_patients",
    "screening_log",
    "value_text",
]

LOG_SCHEMA = {
    "USUBJID": pl.Utf8,
    "PROTOCOL": pl.Utf8,
    "ASOFDT": pl.Date,
    "CRITID": pl.Utf8,
    "CRITKIND": pl.Utf8,
    "STATUS": pl.Utf8,
    "EFFECT": pl.Utf8,
    "VALUES": pl.Utf8,
    "COMPARISONS": pl.Utf8,
    "REASON": pl.Utf8,
    "DECISION": pl.Utf8,
    "PROBLEMS": pl.Utf8,
}


def screen_patients(
    protocol: Any, records: Iterable[PatientRecord], as_of: date
) -> list[PatientDecision]:
    """Screen every record against one protocol (criteria are parsed once)."""
    criteria, lookback = criteria_from_protocol(protocol)
    return [
        screen_patient(protocol, r, as_of, criteria=criteria, lookback_days=lookback)
        for r in records
    ]


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def value_text(decision: PatientDecision, index: int) -> str:
    """The values criterion ``index`` used, as one line: value, unit, date, what it was
    converted from and how; for a washout the event found and the window.

    A value that is unknown for the reason the criterion itself gives (its ``reason``) is
    written ``= unknown`` here, so the reason is not shown twice.
    """
    result = decision.results[index]
    parts = []
    for used in result.values:
        if used.reason:
            if result.status == "unknown" and used.reason in (result.reason or ""):
                parts.append(f"{used.item} = unknown")
            else:
                parts.append(f"{used.item} = unknown ({used.reason})")
            continue
        is_event = used.item.startswith(("days_since(", "within_"))
        shown = "never" if used.value is None else _number(used.value)
        text = f"{used.item} = {shown}"
        if used.unit and used.value is not None:
            text += f" {used.unit}"
        if used.date and not is_event:
            text += f" on {used.date}"
        original = used.original
        if original == "never" or original == f"{_number(used.value)} {used.unit}":
            original = None  # nothing to add: no conversion, same spelling
        if original and used.conversion:
            text += f" (from {original}; {used.conversion})"
        elif original:
            text += f" ({original})"
        elif used.conversion:
            text += f" ({used.conversion})"
        parts.append(text)
    return "; ".join(parts)


def screening_log(decisions: Sequence[PatientDecision]) -> pl.DataFrame:
    """One row per patient and criterion: status, effect, values used, comparisons, reason.

    Columns: ``USUBJID, PROTOCOL, ASOFDT, CRITID, CRITKIND, STATUS, EFFECT, VALUES,
    COMPARISONS, REASON, DECISION, PROBLEMS`` (the patient's input problems, each with where
    it is and what was expected, joined by " | "; empty when there is none).
    """
    rows = []
    for d in decisions:
        problems = " | ".join(d.problems)
        for i, r in enumerate(d.results):
            rows.append(
                {
                    "USUBJID": d.patient_id,
                    "PROTOCOL": d.protocol_id,
                    "ASOFDT": d.as_of,
                    "CRITID": r.criterion.id,
                    "CRITKIND": r.criterion.kind,
                    "STATUS": r.status,
                    "EFFECT": r.effect,
                    "VALUES": value_text(d, i),
                    "COMPARISONS": "; ".join(r.comparisons),
                    "REASON": r.reason or "",
                    "DECISION": d.decision,
                    "PROBLEMS": problems,
                }
            )
    return pl.DataFrame(rows, schema=LOG_SCHEMA)


def decisions_table(decisions: Sequence[PatientDecision]) -> pl.DataFrame:
    """One row per patient: ``USUBJID, PROTOCOL, ASOFDT, DECISION, DETAIL``, the counts of
    failed, unknown and pending criteria, and ``PROBLEMS`` (input problems, " | "-joined)."""
    return pl.DataFrame(
        [
            {
                "USUBJID": d.patient_id,
                "PROTOCOL": d.protocol_id,
                "ASOFDT": d.as_of,
                "DECISION": d.decision,
                "DETAIL": d.detail,
                "N_FAILS": sum(r.effect == "fails" for r in d.results),
                "N_UNKNOWN": sum(r.effect == "unknown" for r in d.results),
                "N_PENDING": sum(r.effect == "pending" for r in d.results),
                "PROBLEMS": " | ".join(d.problems),
            }
            for d in decisions
        ],
        schema={
            "USUBJID": pl.Utf8,
            "PROTOCOL": pl.Utf8,
            "ASOFDT": pl.Date,
            "DECISION": pl.Utf8,
            "DETAIL": pl.Utf8,
            "N_FAILS": pl.Int64,
            "N_UNKNOWN": pl.Int64,
            "N_PENDING": pl.Int64,
            "PROBLEMS": pl.Utf8,
        },
    )


def explain(decision: PatientDecision) -> str:
    """A plain-text explanation of one decision (for logs and e-mails)."""
    lines = [
        f"{decision.patient_id} / {decision.protocol_id} as of {decision.as_of}: "
        f"{decision.decision.upper()} - {decision.detail}"
    ]
    for i, r in enumerate(decision.results):
        lines.append(f"  [{r.effect:>7}] {r.criterion.id} ({r.criterion.kind}): {r.status}")
        values = value_text(decision, i)
        if values:
            lines.append(f"            values: {values}")
        for c in r.comparisons:
            lines.append(f"            {c}")
        if r.reason and r.status != "unknown":
            lines.append(f"            note: {r.reason}")
        elif r.reason:
            lines.append(f"            why unknown: {r.reason}")
    for p in decision.problems:
        lines.append(f"  input problem: {p}")
    return "\n".join(lines)
