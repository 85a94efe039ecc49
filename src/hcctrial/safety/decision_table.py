"""Decision tables of interval designs: BOIN's own, or one a user supplies.

A decision table says, for ``N`` patients treated at the current level, with how many DLTs to
escalate (``DLT <= ESCALATE_LE``), to de-escalate (``DLT >= DEESCALATE_GE``) and to eliminate
the level and all higher ones for the rest of the trial (``DLT >= ELIMINATE_GE``); otherwise the
next cohort stays. It is the table a dose-escalation committee keeps beside the trial (BOIN R
package ``get.boundary``; Yan et al., J Stat Softw 2020;94(13), section 3.1). The same table
drives :func:`hcctrial.safety.boin.boin_decision` and the BOIN simulation when given, so a
protocol's printed table can be checked as it stands.

CSV shape (the one :func:`boin_table` exports): ``N, ESCALATE_LE, DEESCALATE_GE,
ELIMINATE_GE``, one row per ``N``; an empty ``ESCALATE_LE`` means never escalate at that ``N``,
an empty ``DEESCALATE_GE`` never de-escalate, an empty ``ELIMINATE_GE`` never eliminate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from hcctrial.errors import InputError, InputErrors, Problem

__all__ = ["DecisionTable", "boin_table", "read_decision_table"]

COLUMNS = ("N", "ESCALATE_LE", "DEESCALATE_GE", "ELIMINATE_GE")


@dataclass(frozen=True)
class DecisionTable:
    """Per ``N``: escalate if DLT <= ``escalate_le``; de-escalate if >= ``deescalate_ge``;
    eliminate if >= ``eliminate_ge`` (None: never). ``source`` says where it came from."""

    n: tuple[int, ...]
    escalate_le: tuple[int | None, ...]
    deescalate_ge: tuple[int | None, ...]
    eliminate_ge: tuple[int | None, ...]
    source: str

    def row(self, n: int) -> tuple[int | None, int | None, int | None]:
        """``(escalate_le, deescalate_ge, eliminate_ge)`` at ``n`` patients."""
        try:
            i = self.n.index(n)
        except ValueError:
            raise InputError(
                f"the decision table ({self.source}) has no row for N = {n}",
                column="N",
                value=n,
                expected="a row for every number of patients a level can have",
            ) from None
        return self.escalate_le[i], self.deescalate_ge[i], self.eliminate_ge[i]

    def arrays(self, max_n: int, needed: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boundaries indexed by ``n = 0..max_n`` (floats; ``-inf``/``inf`` where a rule never
        fires) for vectorised use; raises when a ``needed`` ``n`` has no row."""
        missing = sorted(needed - set(self.n))
        if missing:
            raise InputError(
                f"the decision table ({self.source}) has no row for N = "
                + ", ".join(map(str, missing)),
                column="N",
                expected="a row for every number of patients a level can reach in the trial",
            )
        esc = np.full(max_n + 1, -np.inf)
        de = np.full(max_n + 1, np.inf)
        el = np.full(max_n + 1, np.inf)
        for n, e, d, x in zip(
            self.n, self.escalate_le, self.deescalate_ge, self.eliminate_ge, strict=True
        ):
            if n <= max_n:
                esc[n] = -np.inf if e is None else e
                de[n] = np.inf if d is None else d
                el[n] = np.inf if x is None else x
        return esc, de, el

    def frame(self) -> pl.DataFrame:
        """The table as ``N, ESCALATE_LE, DEESCALATE_GE, ELIMINATE_GE``."""
        return pl.DataFrame(
            {
                "N": list(self.n),
                "ESCALATE_LE": list(self.escalate_le),
                "DEESCALATE_GE": list(self.deescalate_ge),
                "ELIMINATE_GE": list(self.eliminate_ge),
            },
            schema={c: pl.Int64 for c in COLUMNS},
        )


def boin_table(
    target: float,
    max_n: int,
    *,
    cohort_size: int = 1,
    p_saf: float | None = None,
    p_tox: float | None = None,
    cutoff: float = 0.95,
) -> DecisionTable:
    """BOIN's decision table (Liu and Yuan 2015) for ``N`` = every multiple of ``cohort_size``
    up to ``max_n``, and ``max_n`` itself (``cohort_size = 1``: every ``N``).

    ``ESCALATE_LE = floor(lambda_e N)``, ``DEESCALATE_GE = ceil(lambda_d N)`` (the same
    decisions as ``DLT/N <= lambda_e`` and ``DLT/N >= lambda_d`` for irrational boundaries),
    ``ELIMINATE_GE`` from :func:`hcctrial.safety.boin.elimination_limits`.
    """
    from hcctrial.safety.boin import boin_boundaries, elimination_limits

    if cohort_size < 1 or max_n < 1:
        raise InputError("need cohort size >= 1 and maximum sample size >= 1")
    lam_e, lam_d = boin_boundaries(target, p_saf, p_tox)
    elim = elimination_limits(target, max_n, cutoff)
    ns = sorted(set(range(cohort_size, max_n + 1, cohort_size)) | {max_n})
    return DecisionTable(
        n=tuple(ns),
        escalate_le=tuple(int(np.floor(lam_e * n + 1e-12)) for n in ns),
        deescalate_ge=tuple(int(np.ceil(lam_d * n - 1e-12)) for n in ns),
        eliminate_ge=tuple(None if np.isinf(elim[n]) else int(elim[n]) for n in ns),
        source=f"BOIN, target {target:g}",
    )


def read_decision_table(table: Any, *, file: str | None = None) -> DecisionTable:
    """Check a user's decision table (CSV read as a frame) and return it.

    Raises :class:`InputErrors` naming every bad cell: ``N`` not a whole number >= 1 or
    repeated; a boundary outside ``0..N``; ``ESCALATE_LE >= DEESCALATE_GE`` (a DLT count that
    would both escalate and de-escalate); ``ELIMINATE_GE < DEESCALATE_GE`` (eliminating a
    level without leaving it).
    """
    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    df = df.rename({c: c.strip().upper() for c in df.columns})
    missing = [c for c in COLUMNS[:3] if c not in df.columns]
    if missing:
        raise InputErrors(
            [Problem("required column missing", file=file, column=c) for c in missing],
            context=file or "decision table",
        )
    if df.height == 0:
        raise InputError("the decision table has no rows", file=file)
    if "ELIMINATE_GE" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("ELIMINATE_GE"))
    problems: list[Problem] = []
    rows: list[tuple[int, int | None, int | None, int | None]] = []
    seen: dict[int, int] = {}
    for i, raw in enumerate(df.select(COLUMNS).iter_rows(), start=1):
        vals: list[int | None] = []
        for col, v in zip(COLUMNS, raw, strict=True):
            text = "" if v is None else str(v).strip()
            if text == "":
                vals.append(None)
                continue
            try:
                num = float(text)
            except ValueError:
                num = float("nan")
            if not float(num).is_integer():
                problems.append(
                    Problem("not a whole number", file=file, row=i, column=col, value=v)
                )
                vals.append(None)
            else:
                vals.append(int(num))
        n, e, d, x = vals
        if n is None or n < 1:
            problems.append(
                Problem("N must be a whole number >= 1", file=file, row=i, column="N", value=raw[0])
            )
            continue
        if n in seen:
            problems.append(
                Problem(f"N = {n} repeats row {seen[n]}", file=file, row=i, column="N", value=n)
            )
            continue
        seen[n] = i
        for col, v in (("ESCALATE_LE", e), ("DEESCALATE_GE", d), ("ELIMINATE_GE", x)):
            if v is not None and not 0 <= v <= n:
                problems.append(
                    Problem(
                        f"boundary outside 0..N (N = {n})", file=file, row=i, column=col, value=v
                    )
                )
        if e is not None and d is not None and e >= d:
            problems.append(
                Problem(
                    "ESCALATE_LE must be below DEESCALATE_GE",
                    file=file,
                    row=i,
                    column="DEESCALATE_GE",
                    value=(e, d),
                )
            )
        if x is not None and d is not None and x < d:
            problems.append(
                Problem(
                    "ELIMINATE_GE below DEESCALATE_GE: a level would be eliminated but not left",
                    file=file,
                    row=i,
                    column="ELIMINATE_GE",
                    value=(d, x),
                )
            )
        rows.append((n, e, d, x))
    if problems:
        raise InputErrors(problems, context=file or "decision table")
    rows.sort()
    return DecisionTable(
        n=tuple(r[0] for r in rows),
        escalate_le=tuple(r[1] for r in rows),
        deescalate_ge=tuple(r[2] for r in rows),
        eliminate_ge=tuple(r[3] for r in rows),
        source=file or "user table",
    )
