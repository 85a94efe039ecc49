"""Population screening: every person of an OMOP database against one or more protocols.

:func:`screen_population` runs one compiled query per protocol (:mod:`.compile`) and returns
per-person decisions and CONSORT-style counts per criterion:

- ``N_FAILED``: persons the criterion excludes (inclusion false / exclusion true),
- ``N_UNKNOWN``: persons for whom data cannot decide it (missing, stale, unusable),
- ``N_PENDING``: persons waiting for the investigator (criteria no data can decide),
- ``N_EXCLUDED_HERE``: persons this criterion excludes who passed every criterion before it
  (the protocol's order), and ``N_REMAINING``: persons still in the funnel after it, i.e. the
  CONSORT "assessed for eligibility -> excluded (reasons)" flow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from hcctrial.eligibility.evaluate import criteria_from_protocol
from hcctrial.eligibility.omop.checks import flag_labels, problem_text
from hcctrial.eligibility.omop.compile import build_features, compile_protocol
from hcctrial.eligibility.omop.problems import PROBLEM_SCHEMA, problem_rows
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
    (one column per criterion id, NULL = unknown), CONSORT-style counts, and the database rows
    behind the input problems (:func:`.problems.problem_rows`: table, row id, column, value,
    what was expected)."""

    decisions: pl.DataFrame
    criteria: dict[str, pl.DataFrame]
    counts: pl.DataFrame
    problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEM_SCHEMA))


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


def materialize(con: Any, table: Any) -> tuple[Any, Callable[[], None]]:
    """``table`` computed once into a temporary table of the backend, and how to drop it.

    DuckDB and PostgreSQL get a ``TEMP`` table, PySpark a cached DataFrame (Ibis ``cache``);
    a backend that refuses gets the unmaterialized expression back (correct, only slower).
    """
    import uuid

    if getattr(con, "name", "") == "pyspark":
        # Ibis' pyspark cache() compiles the SQL without registering the in-memory tables
        # (the concept map, the unit factors) first: register them, as execute() does
        con._run_pre_execute_hooks(table)
        cached = table.cache()
        return cached, cached.release
    name = f"_hcctrial_features_{uuid.uuid4().hex[:12]}"
    try:
        con.create_table(name, table, temp=True)
    except Exception:  # backend-specific: no temporary tables
        return table, lambda: None

    def release() -> None:
        # the session may be gone: temporary tables end with it anyway
        with contextlib.suppress(Exception):
            con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')

    return con.table(name), release


def _counts(
    protocol_id: str, criteria: Sequence[Any], table: pl.DataFrame, columns: dict[str, str]
) -> pl.DataFrame:
    rows = []
    remaining = pl.Series([True] * table.height)
    for c in criteria:
        col = table[columns[c.id]]
        if c.expression is None:
            failed = pl.Series([False] * table.height)
            unknown = pl.Series([False] * table.height)
        else:
            failed = (col == (c.kind == "exclusion")).fill_null(False)
            unknown = col.is_null()
        before = int(remaining.sum())
        remaining = remaining & ~failed
        rows.append(
            {
                "PROTOCOL": protocol_id,
                "CRITID": c.id,
                "CRITKIND": c.kind,
                "JUDGEMENT": c.expression is None,
                "N_FAILED": int(failed.sum()),
                "N_UNKNOWN": int(unknown.sum()),
                "N_PENDING": table.height if c.expression is None else 0,
                "N_EXCLUDED_HERE": before - int(remaining.sum()),
                "N_REMAINING": int(remaining.sum()),
            }
        )
    return pl.DataFrame(rows)


def detail_text(table: pl.DataFrame, criteria: Sequence[Any], columns: dict[str, str]) -> pl.Series:
    """The ``DETAIL`` of each person, naming the criteria as the one-patient evaluator does:
    ``fails IN-A, EX-B``, ``unknown: IN-C``, ``eligible pending investigator judgement (EX-J)``.
    """
    fails, unknown = [], []
    for c in criteria:
        if c.expression is None:
            continue
        col = pl.col(columns[c.id])
        fails.append(((col == (c.kind == "exclusion")).fill_null(False), c.id))
        unknown.append((col.is_null(), c.id))
    pending = ", ".join(c.id for c in criteria if c.expression is None)
    texts = table.select(
        "DETAIL",
        flag_labels(table, fails, ", ").alias("_fails"),
        flag_labels(table, unknown, ", ").alias("_unknown"),
    )
    detail = pl.col("DETAIL")
    return texts.select(
        pl.when(detail == "fails a criterion")
        .then(pl.lit("fails ") + pl.col("_fails"))
        .when(detail == "unknown criteria")
        .then(pl.lit("unknown: ") + pl.col("_unknown"))
        .when(detail == "eligible pending investigator judgement")
        .then(pl.lit(f"eligible pending investigator judgement ({pending})"))
        .otherwise(detail)
        .alias("DETAIL")
    )["DETAIL"]


def screen_population(
    con: Any,
    protocols: Sequence[Any],
    as_of: date,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
    on_protocol: Callable[[str], None] | None = None,
    find_problems: bool = True,
) -> PopulationResult:
    """Screen every person in the OMOP database against each protocol (one query each).

    Parameters
    ----------
    con : Ibis connection (:func:`connect_omop`, or an Ibis DuckDB/PostgreSQL/PySpark backend).
    protocols : :class:`hcctrial.protocol.Protocol` objects.
    as_of : screening date; ``today`` (default: today) dates later lab rows as problems.
    on_protocol : called with each protocol id when it is done (progress bars).
    find_problems : also list the problem rows of the database (one more query).
    """
    decisions, per_criterion, counts = [], {}, []
    parsed = [(p, *criteria_from_protocol(p)) for p in protocols]
    # protocols with the same look-back share one feature table, built once (materialized)
    groups: dict[int, list[Any]] = {}
    for _, criteria, lookback in parsed:
        groups.setdefault(lookback, []).extend(criteria)
    shared: dict[int, Any] = {}
    releases: list[Callable[[], None]] = []
    try:
        for lookback, criteria in groups.items():
            feats = build_features(
                con, criteria, as_of, lookback, today=today, concept_map=concept_map
            )
            if len(parsed) > 1:
                feats, release = materialize(con, feats)
                releases.append(release)
            shared[lookback] = feats
        for protocol, criteria, lookback in parsed:
            compiled = compile_protocol(
                con, protocol.id, criteria, as_of, lookback, features=shared[lookback]
            )
            table = pl.from_arrow(compiled.query.to_pyarrow())
            assert isinstance(table, pl.DataFrame)
            table = table.sort("person_id")
            decisions.append(
                table.select(
                    "person_id",
                    pl.lit(protocol.id).alias("PROTOCOL"),
                    "DECISION",
                    detail_text(table, criteria, compiled.columns),
                    problem_text(table),
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
    finally:
        for release in releases:
            release()
    result = PopulationResult(pl.concat(decisions), per_criterion, pl.concat(counts))
    if find_problems:
        result.problems = problem_rows(con, today or date.today(), concept_map)
    return result
