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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from hcctrial.eligibility.evaluate import criteria_from_protocol
from hcctrial.eligibility.omop.checks import (
    flag_words,
    problem_text,
    text_by_combination,
)
from hcctrial.eligibility.omop.compile import compile_protocols
from hcctrial.eligibility.omop.fetch import fetch_frame
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


def _counts(
    protocol_id: str, criteria: Sequence[Any], table: pl.DataFrame, columns: dict[str, str]
) -> pl.DataFrame:
    """The CONSORT counts of one protocol (module docstring) in two passes over ``table``: the
    sums of failed and unknown per criterion, and each person's first failed criterion
    (``N_EXCLUDED_HERE`` counts the persons whose first failure it is)."""
    sums: list[pl.Expr] = []
    first: list[pl.Expr] = []
    for i, c in enumerate(criteria):
        if c.expression is None:
            continue
        col = pl.col(columns[c.id])
        failed = (col == (c.kind == "exclusion")).fill_null(False)
        sums += [failed.sum().alias(f"f{i}"), col.is_null().sum().alias(f"u{i}")]
        first.append(pl.when(failed).then(pl.lit(i, pl.Int32)))
    total = table.height
    n = table.select(sums).row(0, named=True) if sums else {}
    excluded: dict[int, int] = {}
    if first:
        firsts = table.select(pl.min_horizontal(first).alias("first"))["first"].drop_nulls()
        excluded = dict(firsts.value_counts().iter_rows())
    rows = []
    remaining = total
    for i, c in enumerate(criteria):
        here = excluded.get(i, 0)
        remaining -= here
        judgement = c.expression is None
        rows.append(
            {
                "PROTOCOL": protocol_id,
                "CRITID": c.id,
                "CRITKIND": c.kind,
                "JUDGEMENT": judgement,
                "N_FAILED": 0 if judgement else int(n[f"f{i}"]),
                "N_UNKNOWN": 0 if judgement else int(n[f"u{i}"]),
                "N_PENDING": total if judgement else 0,
                "N_EXCLUDED_HERE": here,
                "N_REMAINING": remaining,
            }
        )
    return pl.DataFrame(rows)


def detail_text(table: pl.DataFrame, criteria: Sequence[Any], columns: dict[str, str]) -> pl.Series:
    """The ``DETAIL`` of each person, naming the criteria as the one-patient evaluator does:
    ``fails IN-A, EX-B``, ``unknown: IN-C``, ``eligible pending investigator judgement (EX-J)``.
    """
    # one bit per criterion: failed on the rows whose DETAIL lists the failures, unknown on
    # those that list the unknowns (rows that list neither share one combination); the whole
    # text is built once per distinct (DETAIL, bits): string building over 1,000,000 rows
    # took 0.1-0.35 s a protocol. The two DETAIL tests are columns computed once: inside
    # each of 55 flags they cost 1.9 s
    marked = table.select(
        "DETAIL",
        *[pl.col(col) for col in columns.values()],
        _nf=pl.col("DETAIL") == "fails a criterion",
        _nu=pl.col("DETAIL") == "unknown criteria",
    )
    listed = []
    for c in criteria:
        if c.expression is None:
            continue
        col = pl.col(columns[c.id])
        failed = col == (c.kind == "exclusion")
        listed.append(((failed & pl.col("_nf")) | (col.is_null() & pl.col("_nu")), c.id))
    pending = ", ".join(c.id for c in criteria if c.expression is None)
    words, names = flag_words(listed, ", ")
    detail = pl.col("DETAIL")
    text = (
        pl.when(detail == "fails a criterion")
        .then(pl.lit("fails ") + names)
        .when(detail == "unknown criteria")
        .then(pl.lit("unknown: ") + names)
        .when(detail == "eligible pending investigator judgement")
        .then(pl.lit(f"eligible pending investigator judgement ({pending})"))
        .otherwise(detail)
    )
    return text_by_combination(marked, [detail, *words], text).alias("DETAIL")


def screen_population(
    con: Any,
    protocols: Sequence[Any],
    as_of: date,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
    on_protocol: Callable[[str], None] | None = None,
    find_problems: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> PopulationResult:
    """Screen every person in the OMOP database against each protocol: one query per group of
    protocols with the same look-back (:func:`compile_protocols`; the five built-in ones are
    one group), which reads the OMOP tables once for all of them.

    Parameters
    ----------
    con : Ibis connection (:func:`connect_omop`, or an Ibis DuckDB/PostgreSQL/PySpark backend).
    protocols : :class:`hcctrial.protocol.Protocol` objects.
    as_of : screening date; ``today`` (default: today) dates later lab rows as problems.
    on_protocol : called with each protocol id when it is done (progress bars).
    find_problems : also list the problem rows of the database (one more query).
    on_stage : called with a description of each long step before it starts (the query of a
        group of protocols, the problem-rows query), for progress displays.
    """
    decisions, per_criterion, counts = [], {}, []
    parsed = [(p, *criteria_from_protocol(p)) for p in protocols]
    # protocols with the same look-back share one feature table and one query, which reads
    # the tables once and returns every protocol's columns (prefixed p0_, p1_, ...)
    groups: dict[int, list[tuple[Any, list[Any]]]] = {}
    for protocol, criteria, lookback in parsed:
        groups.setdefault(lookback, []).append((protocol, criteria))
    done: dict[str, tuple[pl.DataFrame, Any, pl.Series]] = {}
    for lookback, members in groups.items():
        if on_stage is not None:  # before compiling: it runs the small concept/unit queries
            names = ", ".join(protocol.id for protocol, _ in members)
            on_stage(f"querying {names} (one pass over the tables)")
        query, compiled = compile_protocols(
            con,
            [(protocol.id, criteria) for protocol, criteria in members],
            as_of,
            lookback,
            today=today,
            concept_map=concept_map,
        )
        table = fetch_frame(query)
        table = table.sort("person_id")
        problems = problem_text(table)  # the flags are the group's, shared by its protocols
        for one in compiled:
            mine = table.select(
                "person_id",
                *one.columns.values(),
                pl.col(f"{one.prefix}DECISION").alias("DECISION"),
                pl.col(f"{one.prefix}DETAIL").alias("DETAIL"),
            )
            done[one.protocol_id] = (mine, one, problems)
    for protocol, criteria, _ in parsed:
        table, one, problems = done[protocol.id]
        decisions.append(
            table.select(
                "person_id",
                pl.lit(protocol.id).alias("PROTOCOL"),
                "DECISION",
                detail_text(table, criteria, one.columns),
                problems,
            )
        )
        per_criterion[protocol.id] = table.select(
            "person_id",
            *[pl.col(col).alias(cid) for cid, col in one.columns.items()],
            "DECISION",
        )
        counts.append(_counts(protocol.id, criteria, table, one.columns))
        if on_protocol is not None:
            on_protocol(protocol.id)
    result = PopulationResult(pl.concat(decisions), per_criterion, pl.concat(counts))
    if find_problems:
        if on_stage is not None:
            on_stage("listing the problem rows")
        result.problems = problem_rows(con, today or date.today(), concept_map)
    return result
