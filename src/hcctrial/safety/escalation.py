"""Dose escalation: shared types, cohort data, and the next-cohort decision of either design.

The designs live in :mod:`hcctrial.safety.three_plus_three` (3+3, exact operating
characteristics by enumeration) and :mod:`hcctrial.safety.boin` (BOIN, Liu and Yuan 2015,
operating characteristics by vectorised simulation). Dose levels are numbered 0..K-1 from the
lowest inside the engines; :func:`counts_from_table` maps a user's level names to them.

Cohort data tables (CSV) take one of two shapes:

- per level: ``LEVEL, N, NDLT`` (patients evaluable for DLT, patients with a DLT);
- per patient: ``LEVEL, DLTFL`` (``Y``/``N``), optionally ``COHORT`` (cohort number; the
  level of the highest cohort is the current level). The output of
  :func:`hcctrial.safety.dlt.evaluate_dlt` (``DOSELVL, DLTFL, DLTEVLFL``; ``dlt_subjects.csv``
  of ``hcctrial safety``) is accepted too: only evaluable patients (``DLTEVLFL = Y``) are
  counted, and without ``COHORT`` the level of the latest ``DLTSTDT`` (infusion) is current.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from hcctrial.errors import InputError, InputErrors, Problem

if TYPE_CHECKING:
    from hcctrial.safety.decision_table import DecisionTable

Action = Literal["escalate", "stay", "de-escalate", "stop"]


@dataclass(frozen=True)
class Decision:
    """The decision for the next cohort.

    ``level`` is the level (0-based) at which to treat the next cohort (None when the trial
    stops); ``mtd`` the selected MTD when the trial stops (None: no dose selected);
    ``rule`` the rule that produced the decision, in words; ``eliminated`` the levels
    excluded as too toxic (BOIN).
    """

    action: Action
    level: int | None
    mtd: int | None
    rule: str
    eliminated: tuple[int, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class CohortCounts:
    """Patients and DLTs per level, and the level the last cohort was treated at."""

    levels: tuple[str, ...]
    n: tuple[int, ...]
    ndlt: tuple[int, ...]
    current: int | None


def parse_true_rates(text: str) -> np.ndarray:
    """``"0.05,0.15,0.3"`` -> array; each rate in (0, 1), non-decreasing."""
    try:
        rates = np.array([float(t) for t in text.split(",") if t.strip()], dtype=float)
    except ValueError as exc:
        raise InputError(
            "true DLT rates not understood", value=text, expected="comma-separated numbers"
        ) from exc
    if rates.size == 0 or np.any((rates <= 0) | (rates >= 1)):
        raise InputError("true DLT rates must lie strictly between 0 and 1", value=text)
    if np.any(np.diff(rates) < 0):
        raise InputError("true DLT rates must not decrease with dose", value=text)
    return rates


def counts_from_table(
    table: Any, levels: list[str], *, current: str | None = None, file: str | None = None
) -> CohortCounts:
    """Per-level patients and DLTs from a cohort data table (per level or per patient).

    Raises :class:`InputErrors` for an unknown level, a negative count, more DLTs than
    patients, or a ``DLTFL`` other than Y/N, each with its row.
    """
    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if "LEVEL" not in df.columns and "DOSELVL" in df.columns:
        df = df.rename({"DOSELVL": "LEVEL"})
    if "LEVEL" not in df.columns:
        raise InputError("cohort data need a LEVEL column", file=file, column="LEVEL")
    df = df.with_row_index("_ROW", offset=1).with_columns(pl.col("LEVEL").cast(pl.Utf8))
    index = {name: i for i, name in enumerate(levels)}
    problems = [
        Problem(
            "unknown dose level",
            file=file,
            row=r,
            column="LEVEL",
            value=v,
            expected="one of " + ", ".join(levels),
        )
        for r, v in df.select("_ROW", "LEVEL").iter_rows()
        if v not in index
    ]
    n = [0] * len(levels)
    y = [0] * len(levels)
    last: int | None = None
    if {"N", "NDLT"} <= set(df.columns):
        for r, lev, nn, yy in df.select("_ROW", "LEVEL", "N", "NDLT").iter_rows():
            ok_n = isinstance(nn, int) and nn >= 0
            ok_y = isinstance(yy, int) and 0 <= yy <= (nn if ok_n else yy)
            if not ok_n:
                problems.append(
                    Problem("N must be a whole number >= 0", file=file, row=r, column="N", value=nn)
                )
            if not ok_y:
                problems.append(
                    Problem(
                        "NDLT must be a whole number between 0 and N",
                        file=file,
                        row=r,
                        column="NDLT",
                        value=yy,
                    )
                )
            if lev in index and ok_n and ok_y:
                n[index[lev]] += nn
                y[index[lev]] += yy
    elif "DLTFL" in df.columns:
        if "DLTEVLFL" in df.columns:
            df = df.filter(pl.col("DLTEVLFL") == "Y")
        for r, lev, flag in df.select("_ROW", "LEVEL", "DLTFL").iter_rows():
            f = str(flag).strip().upper() if flag is not None else ""
            if f not in ("Y", "N"):
                problems.append(
                    Problem("DLTFL must be Y or N", file=file, row=r, column="DLTFL", value=flag)
                )
            elif lev in index:
                n[index[lev]] += 1
                y[index[lev]] += f == "Y"
        order = next((c for c in ("COHORT", "DLTSTDT", "TRTSDT") if c in df.columns), None)
        dated = df.filter(pl.col(order).is_not_null()) if order else df.head(0)
        if order and dated.height:
            row = dated.sort(order, maintain_order=True).tail(1)
            last = index.get(str(row["LEVEL"][0]))
    else:
        raise InputError(
            "cohort data not understood",
            file=file,
            expected="columns LEVEL, N, NDLT (per level) or LEVEL, DLTFL (per patient)",
        )
    if problems:
        raise InputErrors(problems, context=file or "cohort data")
    if current is not None:
        if current not in index:
            raise InputError("unknown current level", value=current, expected=", ".join(levels))
        last = index[current]
    if last is None:
        raise InputError(
            "the level of the last cohort is not known",
            file=file,
            expected="--current LEVEL, or a COHORT (or DLTSTDT) column in per-patient data",
        )
    if n[last] == 0:
        raise InputError("no patients at the current level", value=levels[last])
    return CohortCounts(tuple(levels), tuple(n), tuple(y), last)


def next_decision(
    design: str,
    counts: CohortCounts,
    *,
    target: float | None = None,
    max_n: int | None = None,
    deescalate: bool = True,
    table: DecisionTable | None = None,
) -> Decision:
    """The next-cohort decision of ``design`` (``"3+3"`` or ``"boin"``) from current data.

    ``table``: a decision table (:mod:`hcctrial.safety.decision_table`) replacing BOIN's
    boundaries and elimination rule.
    """
    decide = _decider(design, target, max_n, deescalate, table)
    return decide(counts.n, counts.ndlt, _current(counts))


def _current(counts: CohortCounts) -> int:
    if counts.current is None:
        raise InputError("the level of the last cohort is not known")
    return counts.current


def _decider(
    design: str,
    target: float | None,
    max_n: int | None,
    deescalate: bool,
    table: DecisionTable | None = None,
) -> Callable[[Sequence[int], Sequence[int], int], Decision]:
    key = design.strip().lower()
    if key == "3+3":
        from hcctrial.safety.three_plus_three import three_plus_three_decision

        if table is not None:
            raise InputError(
                "a decision table drives an interval design (BOIN), not 3+3",
                expected="--design boin with --decision-table",
            )
        return lambda n, y, cur: three_plus_three_decision(n, y, cur, deescalate=deescalate)
    if key == "boin":
        from hcctrial.safety.boin import boin_decision

        if target is None:
            raise InputError("BOIN needs a target DLT rate", expected="--target, e.g. 0.3")
        return lambda n, y, cur: boin_decision(n, y, cur, target, max_n=max_n, table=table)
    raise InputError("unknown design", value=design, expected="3+3 or boin")


def transition_pathways(
    design: str,
    counts: CohortCounts,
    *,
    cohorts: int = 2,
    cohort_size: int = 3,
    target: float | None = None,
    max_n: int | None = None,
    deescalate: bool = True,
    table: DecisionTable | None = None,
) -> pl.DataFrame:
    """Dose-transition pathways: every DLT outcome of the next ``cohorts`` cohorts and the
    decision each leads to, starting from the current decision.

    One row per pathway: for cohort ``c`` (1-based) ``C{c}_AT`` (the level it is treated at),
    ``C{c}_DLT`` (DLTs among its ``cohort_size`` patients; for 3+3 a cohort left incomplete
    is completed first, so its size is what it lacks) and ``C{c}_THEN`` (the decision
    after it: "up to L", "stay at L", "down to L" or "stop, MTD L"); a pathway ends early
    (nulls) when the trial stops.
    """
    decide = _decider(design, target, max_n, deescalate, table)
    three_plus_three = design.strip().lower() == "3+3"
    size = 3 if three_plus_three else cohort_size
    names = counts.levels
    start = decide(counts.n, counts.ndlt, _current(counts))
    rows: list[dict[str, object]] = []

    def describe(dec: Decision) -> str:
        if dec.action == "stop":
            return "stop, MTD " + (names[dec.mtd] if dec.mtd is not None else "none")
        assert dec.level is not None
        verb = {"escalate": "up to", "de-escalate": "down to", "stay": "stay at"}[dec.action]
        return f"{verb} {names[dec.level]}"

    def walk(n: list[int], y: list[int], dec: Decision, depth: int, row: dict[str, object]) -> None:
        if depth == cohorts or dec.action == "stop" or dec.level is None:
            rows.append(row)
            return
        level = dec.level
        # 3+3: an incomplete cohort is completed first (3 - N mod 3 patients).
        m = size - n[level] % size if three_plus_three and n[level] % size else size
        for x in range(m + 1):
            n2, y2 = list(n), list(y)
            n2[level] += m
            y2[level] += x
            nxt = decide(n2, y2, level)
            walk(
                n2,
                y2,
                nxt,
                depth + 1,
                row
                | {
                    f"C{depth + 1}_AT": names[level],
                    f"C{depth + 1}_DLT": x,
                    f"C{depth + 1}_THEN": describe(nxt),
                },
            )

    walk(list(counts.n), list(counts.ndlt), start, 0, {})
    columns = [f"C{c}_{part}" for c in range(1, cohorts + 1) for part in ("AT", "DLT", "THEN")]
    return pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows],
        schema={c: (pl.Int64 if c.endswith("_DLT") else pl.Utf8) for c in columns},
    )
