"""Population screening: every person of an OMOP database against one or more protocols.

:func:`screen_population` runs one compiled query per protocol (:mod:`.compile`) and returns
per-person decisions and CONSORT-style counts per criterion:

- ``N_FAILED``: persons the criterion excludes (inclusion false / exclusion true),
- ``N_UNKNOWN``: persons for whom it is unknown (or pending investigator judgement),
- ``N_REMAINING``: persons still in the funnel after this criterion and all before it
  (the protocol's order), i.e. the CONSORT "assessed for eligibility -> excluded" flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from hcctrial.eligibility.evaluate import criteria_from_protocol
from hcctrial.eligibility.omop.checks import problem_text
from hcctrial.eligibility.omop.compile import compile_protocol
from hcctrial.errors import InputError

__all__ = ["PopulationResult", "connect_omop", "screen_population"]

OMOP_TABLES = (
    "person",
    "measurement",
    "observation",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "concept",
)


@dataclass
class PopulationResult:
    """Decisions (``person_id, PROTOCOL, DECISION, DETAIL, PROBLEMS``), per-criterion results
    (one column per criterion id, NULL = unknown) and CONSORT-style counts."""

    decisions: pl.DataFrame
    criteria: dict[str, pl.DataFrame]
    counts: pl.DataFrame


def _has_table(con: Any, name: str) -> bool:
    # con.list_tables() of ibis 12 fails on duckdb 2 (fetch_arrow_table); ask for the table
    try:
        con.table(name)
    except Exception:  # each backend raises its own "table not found"
        return False
    return True


def connect_omop(url: str) -> Any:
    """An Ibis connection to an OMOP CDM database, checked for the OMOP tables.

    ``url`` is a DuckDB file path or ``duckdb:///path.db``, a PostgreSQL URL
    (``postgres://user:password@host:5432/database``), or ``spark:///path/to/folder`` for
    Parquet files screened with a local PySpark session (:mod:`.spark`).
    """
    import ibis

    if url.startswith(("spark:", "pyspark:")):
        from hcctrial.eligibility.omop.spark import connect_spark

        folder = url.split(":", 1)[1]
        folder = folder[2:] if folder.startswith("//") else folder
        return connect_spark(folder, OMOP_TABLES)
    if "://" not in url and not Path(url).exists():
        raise InputError("OMOP database file not found", file=url, expected="a DuckDB file")
    try:
        con = ibis.duckdb.connect(url, read_only=True) if "://" not in url else ibis.connect(url)
    except Exception as exc:  # driver errors vary by backend
        raise InputError(f"cannot connect to the OMOP database: {exc}", file=url) from None
    missing = [t for t in OMOP_TABLES if not _has_table(con, t)]
    if missing:
        raise InputError(
            "OMOP CDM tables missing: " + ", ".join(missing),
            file=url,
            expected="OMOP CDM v5.4 tables " + ", ".join(OMOP_TABLES),
        )
    return con


def _counts(
    protocol_id: str, criteria: Sequence[Any], table: pl.DataFrame, columns: dict[str, str]
) -> pl.DataFrame:
    rows = []
    remaining = pl.Series([True] * table.height)
    for c in criteria:
        col = table[columns[c.id]]
        if c.expression is None:
            failed = pl.Series([False] * table.height)
            unknown = pl.Series([True] * table.height)
        else:
            failed = (col == (c.kind == "exclusion")).fill_null(False)
            unknown = col.is_null()
        remaining = remaining & ~failed
        rows.append(
            {
                "PROTOCOL": protocol_id,
                "CRITID": c.id,
                "CRITKIND": c.kind,
                "JUDGEMENT": c.expression is None,
                "N_FAILED": int(failed.sum()),
                "N_UNKNOWN": int(unknown.sum()),
                "N_REMAINING": int(remaining.sum()),
            }
        )
    return pl.DataFrame(rows)


def screen_population(
    con: Any,
    protocols: Sequence[Any],
    as_of: date,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
    on_protocol: Callable[[str], None] | None = None,
) -> PopulationResult:
    """Screen every person in the OMOP database against each protocol (one query each).

    Parameters
    ----------
    con : Ibis connection (:func:`connect_omop`, or an Ibis DuckDB/PostgreSQL/PySpark backend).
    protocols : :class:`hcctrial.protocol.Protocol` objects.
    as_of : screening date; ``today`` (default: today) dates later lab rows as problems.
    on_protocol : called with each protocol id when it is done (progress bars).
    """
    decisions, per_criterion, counts = [], {}, []
    for protocol in protocols:
        criteria, lookback = criteria_from_protocol(protocol)
        compiled = compile_protocol(
            con, protocol.id, criteria, as_of, lookback, today=today, concept_map=concept_map
        )
        table = pl.from_arrow(compiled.query.to_pyarrow())
        assert isinstance(table, pl.DataFrame)
        table = table.sort("person_id")
        decisions.append(
            table.select(
                "person_id",
                pl.lit(protocol.id).alias("PROTOCOL"),
                "DECISION",
                "DETAIL",
                problem_text().alias("PROBLEMS"),
            )
        )
        per_criterion[protocol.id] = table.select(
            "person_id",
            *[pl.col(col).alias(cid) for cid, col in compiled.columns.items()],
            "DECISION",
        )
        counts.append(_counts(protocol.id, criteria, table, compiled.columns))
        if on_protocol is not None:
            on_protocol(protocol.id)
    return PopulationResult(pl.concat(decisions), per_criterion, pl.concat(counts))
