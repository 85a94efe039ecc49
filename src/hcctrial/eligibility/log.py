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


def value_text(decision: PatientDecision, index: int) -> str:
    """The values criterion ``index`` used, as one line (value, unit, date, source, conversion)."""
    parts = []
    for used in decision.results[index].values:
        if used.reason:
            parts.append(f"{used.item}: unknown ({used.reason})")
            continue
        shown = (
            "never"
            if used.value is None
            else (f"{used.value:.4g}" if isinstance(used.value, float) else used.value)
        )
        text = f"{used.item} = {shown}"
        if used.unit:
            text += f" {used.unit}"
        if used.date:
            text += f" on {used.date}"
        if used.original == "never":
            pass
        elif used.original and used.conversion:
            text += f" (from {used.original}; {used.conversion})"
        elif used.original:
            text += f" ({used.original})"
        elif used.conversion:
            text += f" ({used.conversion})"
        parts.append(text)
    return "; ".join(parts)


def screening_log(decisions: Sequence[PatientDecision]) -> pl.DataFrame:
    """One row per patient and criterion: status, effect, values used, comparisons, reason.

    Columns: ``USUBJID, PROTOCOL, ASOFDT, CRITID, CRITKIND, STATUS, EFFECT, VALUES,
    COMPARISONS, REASON, DECISION``.
    """
    rows = []
    for d in decisions:
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
                }
            )
    return pl.DataFrame(rows, schema=LOG_SCHEMA)


def decisions_table(decisions: Sequence[PatientDecision]) -> pl.DataFrame:
    """One row per patient: ``USUBJID, PROTOCOL, ASOFDT, DECISION, DETAIL`` and counts."""
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
