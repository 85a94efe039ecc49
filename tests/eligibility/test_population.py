"""Population screening (``screen_population``) of a protocol file agrees with the one-patient
evaluator on the same synthetic persons, criterion by criterion and in the decision."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from hcctrial.eligibility import screen_patients
from hcctrial.eligibility.omop import (
    connect_omop,
    records_from_omop,
    screen_population,
    synthetic_omop,
    write_duckdb,
    write_parquet,
)
from hcctrial.errors import InputError
from hcctrial.protocol import load_protocol

PROTOCOL = Path(__file__).parent / "data" / "nk_test.yaml"
AS_OF = date(2026, 11, 20)
TODAY = date(2026, 11, 22)
N = 300


def evaluator_table(con: Any, protocol: Any, ids: list[int]) -> pl.DataFrame:
    """One row per person: the evaluator's result of every criterion (None = unknown/pending)."""
    records = records_from_omop(con, ids, AS_OF, today=TODAY)
    rows = []
    for d in screen_patients(protocol, records, AS_OF):
        row: dict[str, Any] = {"person_id": int(d.patient_id), "DECISION": d.decision}
        for r in d.results:
            row[r.criterion.id] = (
                None if r.status in ("unknown", "investigator judgement") else r.status == "met"
            )
        rows.append(row)
    return pl.DataFrame(rows).sort("person_id")


def assert_agree(population: pl.DataFrame, evaluator: pl.DataFrame, criteria: list[str]) -> None:
    """Same persons, same value (True/False/unknown) of each criterion, same decision."""
    assert population["person_id"].to_list() == evaluator["person_id"].to_list()
    for cid in [*criteria, "DECISION"]:
        left = population.select("person_id", cid)
        diff = left.join(evaluator.select("person_id", cid), on="person_id")
        bad = diff.filter(pl.col(cid).ne_missing(pl.col(f"{cid}_right")))
        assert bad.height == 0, f"{cid} differs: {bad.head(5)}"


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return synthetic_omop(N, seed=5, anchor=date(2026, 11, 18))


@pytest.fixture(scope="module")
def duckdb_path(tables: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("pop") / "omop.duckdb"
    write_duckdb(tables, str(path))
    return str(path)


def test_protocol_file_population_agrees_with_evaluator(duckdb_path: str) -> None:
    protocol = load_protocol(PROTOCOL)
    con = connect_omop(duckdb_path)
    result = screen_population(con, [protocol], AS_OF, today=TODAY)
    criteria = [c.id for c in protocol.eligibility.criteria]
    population = result.criteria[protocol.id]
    assert population.columns == ["person_id", *criteria, "DECISION"]
    evaluator = evaluator_table(con, protocol, list(range(1, N + 1)))
    assert_agree(population, evaluator, criteria)
    # the synthetic population reaches both decided outcomes and unknown labs
    assert {"ineligible", "incomplete"} <= set(population["DECISION"].to_list())
    assert population["IN-PLT"].null_count() > 0
    decisions = result.decisions
    assert decisions.columns == ["person_id", "PROTOCOL", "DECISION", "DETAIL", "PROBLEMS"]
    assert decisions.height == N


def test_counts_follow_the_funnel(duckdb_path: str) -> None:
    protocol = load_protocol(PROTOCOL)
    result = screen_population(connect_omop(duckdb_path), [protocol], AS_OF, today=TODAY)
    counts = result.counts
    per = result.criteria[protocol.id]
    for row in counts.iter_rows(named=True):
        if row["JUDGEMENT"]:
            assert row["N_PENDING"] == N and row["N_FAILED"] == row["N_UNKNOWN"] == 0
            continue
        col = per[row["CRITID"]]
        fails = (col == (row["CRITKIND"] == "exclusion")).fill_null(False).sum()
        assert row["N_FAILED"] == fails and row["N_UNKNOWN"] == col.null_count()
    ineligible = int((per["DECISION"] == "ineligible").sum())
    assert counts["N_REMAINING"].to_list()[-1] == N - ineligible


def test_parquet_folder_is_checked(tmp_path: Path, tables: dict[str, pl.DataFrame]) -> None:
    """A Parquet folder without the measurement table is refused before Spark starts."""
    partial = {k: v for k, v in tables.items() if k != "measurement"}
    write_parquet(partial, tmp_path / "omop")
    with pytest.raises(InputError, match="OMOP CDM tables missing: measurement"):
        connect_omop(f"spark://{tmp_path / 'omop'}")
    with pytest.raises(InputError, match="OMOP database file not found"):
        connect_omop(str(tmp_path / "nothing.duckdb"))


def test_shared_features_give_the_same_answers(duckdb_path: str) -> None:
    """Several protocols share one feature table in one query; each protocol's per-criterion
    results and decisions equal those of screening it alone."""
    con = connect_omop(duckdb_path)
    protocols = [load_protocol(PROTOCOL), load_protocol("NCT04162158"), load_protocol("SZ003")]
    together = screen_population(con, protocols, AS_OF, today=TODAY, find_problems=False)
    for protocol in protocols:
        alone = screen_population(con, [protocol], AS_OF, today=TODAY, find_problems=False)
        assert together.criteria[protocol.id].equals(alone.criteria[protocol.id])
        mine = together.decisions.filter(pl.col("PROTOCOL") == protocol.id)
        assert mine.equals(alone.decisions)


def test_progress_callbacks_name_each_stage_and_protocol(duckdb_path: str) -> None:
    """The CLI's progress bar: one stage for the query of the protocols screened together
    (it reads the tables once), one for the problem rows, then each protocol as it is done."""
    con = connect_omop(duckdb_path)
    protocols = [load_protocol(PROTOCOL), load_protocol("NCT04162158")]
    events: list[str] = []
    screen_population(
        con,
        protocols,
        AS_OF,
        today=TODAY,
        on_protocol=lambda pid: events.append(f"done {pid}"),
        on_stage=events.append,
    )
    ids = ", ".join(p.id for p in protocols)
    assert events == [
        f"querying {ids} (one pass over the tables)",
        *[f"done {p.id}" for p in protocols],
        "listing the problem rows",
    ]
