"""The same population screen on PostgreSQL and PySpark as on DuckDB, and as the evaluator.

The fixtures install what is missing (``apt-get install postgresql`` / ``default-jre-headless``),
start a throw-away PostgreSQL cluster and a ``local[2]`` Spark session, load one small synthetic
OMOP population into each, and skip with the reason only when the service cannot be started.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import polars as pl
import pytest

from hcctrial.eligibility.omop import (
    compile_protocol,
    connect_omop,
    screen_population,
    spark_session,
    synthetic_omop,
    write_duckdb,
    write_parquet,
)
from hcctrial.protocol import load_protocol

from .conftest import make_criteria
from .services import ServiceUnavailable, ensure_java, load_postgres, postgres
from .test_population import AS_OF, PROTOCOL, TODAY, assert_agree, evaluator_table

pytestmark = pytest.mark.service

N = 150


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return synthetic_omop(N, seed=23, anchor=date(2026, 11, 18))


@pytest.fixture(scope="module")
def duck(tables: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("svc") / "omop.duckdb"
    write_duckdb(tables, str(path))
    return connect_omop(str(path))


@pytest.fixture(scope="module")
def pg(tables: dict[str, pl.DataFrame]) -> Iterator[Any]:
    try:
        with postgres() as server:
            yield load_postgres(server.url, tables), server.url
    except ServiceUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")


@pytest.fixture(scope="module")
def spark(
    tables: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    try:
        ensure_java()
    except ServiceUnavailable as exc:
        pytest.skip(f"Spark cannot be started here: {exc}")
    folder = write_parquet(tables, tmp_path_factory.mktemp("svc") / "parquet")
    yield connect_omop(f"spark://{folder}")  # the URL form the CLI uses
    spark_session().stop()  # frees the JVM's memory for the rest of the worker's tests


def _protocol(con: Any) -> pl.DataFrame:
    """The protocol file's per-criterion result, sorted by person."""
    protocol = load_protocol(PROTOCOL)
    return screen_population(con, [protocol], AS_OF, today=TODAY).criteria[protocol.id]


def _sink(con: Any) -> pl.DataFrame:
    """The kitchen-sink criteria (every function and name kind of the language)."""
    sink = compile_protocol(con, "SINK", make_criteria(), AS_OF, 14, today=TODAY)
    table = pl.from_arrow(sink.query.to_pyarrow())
    assert isinstance(table, pl.DataFrame)
    return table.rename({v: k for k, v in sink.columns.items()}).sort("person_id")


def test_postgres_agrees_with_duckdb_and_evaluator(pg: tuple[Any, str], duck: Any) -> None:
    con, url = pg
    result = _protocol(con)
    assert result.equals(_protocol(duck))
    sink = _sink(duck)
    assert _sink(con).select(sink.columns).equals(sink)
    protocol = load_protocol(PROTOCOL)
    criteria = [c.id for c in protocol.eligibility.criteria]
    assert_agree(result, evaluator_table(duck, protocol, list(range(1, N + 1))), criteria)
    # the URL form the CLI uses
    again = screen_population(connect_omop(url), [protocol], AS_OF, today=TODAY).decisions
    assert again.height == N
    # two protocols share one feature table (a TEMP table on PostgreSQL): same answers
    both = screen_population(con, [protocol, load_protocol("NCT04162158")], AS_OF, today=TODAY)
    assert both.criteria[protocol.id].equals(result)


def test_spark_agrees_with_duckdb(spark: Any, duck: Any) -> None:
    """One query (the kitchen sink, a superset of the protocol's functions) keeps Spark's
    planning time, most of this test, under a minute; DuckDB = evaluator is in test_omop."""
    sink = _sink(duck)
    assert _sink(spark).select(sink.columns).equals(sink)


def test_spark_all_protocols_share_one_feature_table(
    spark: Any, duck: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All five built-in protocols on Spark in ONE query over one feature table (what the
    benchmark runs): the same decisions, details, per-criterion values and CONSORT counts as
    DuckDB, and the same per-criterion values and decisions as the one-patient evaluator."""
    from hcctrial.eligibility.omop import population
    from hcctrial.protocol import builtin_protocols

    built: list[tuple[str, int]] = []
    real = population.compile_protocols

    def spy(con: Any, protocols: Any, *args: Any, **kwargs: Any) -> Any:
        built.append((getattr(con, "name", ""), len(protocols)))
        return real(con, protocols, *args, **kwargs)

    monkeypatch.setattr(population, "compile_protocols", spy)
    protocols = list(builtin_protocols().values())
    assert len(protocols) == 5
    on_spark = screen_population(spark, protocols, AS_OF, today=TODAY, find_problems=False)
    assert built == [("pyspark", 5)]  # one query (all five protocols have one look-back)
    on_duck = screen_population(duck, protocols, AS_OF, today=TODAY, find_problems=False)
    assert on_spark.decisions.equals(on_duck.decisions)
    assert on_spark.counts.equals(on_duck.counts)
    ids = list(range(1, N + 1))
    for protocol in protocols:
        result = on_spark.criteria[protocol.id]
        assert result.equals(on_duck.criteria[protocol.id])
        criteria = [c.id for c in protocol.eligibility.criteria]
        assert_agree(result, evaluator_table(duck, protocol, ids), criteria)
    assert on_spark.decisions["DECISION"].n_unique() > 1  # not a degenerate population


def test_cli_on_postgres(
    pg: tuple[Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hcctrial.cli import main

    out = tmp_path / "decisions.csv"
    code = main(
        ["screen", "-p", str(PROTOCOL), "--omop", pg[1], "--as-of", "2026-11-20", "--out", str(out)]
    )
    capsys.readouterr()
    assert code == 0
    assert pl.read_csv(out).height == N


def test_duckdb_connection_is_ibis(duck: Any) -> None:
    assert isinstance(duck, ibis.BaseBackend)
