"""OMOP population screening on DuckDB agrees with the one-patient evaluator, person by person."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import polars as pl
import pytest

from hcctrial.eligibility import screen_patient
from hcctrial.eligibility.omop import (
    compile_protocol,
    connect_omop,
    records_from_omop,
    synthetic_omop,
    write_duckdb,
)
from hcctrial.eligibility.omop.population import _counts
from hcctrial.errors import InputError

from .conftest import AS_OF, TODAY, make_criteria

N = 400


@pytest.fixture(scope="module")
def omop_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("omop") / "synthetic.duckdb"
    write_duckdb(synthetic_omop(N, seed=7, anchor=AS_OF), str(path))
    return str(path)


def population(con: Any, criteria: Any, lookback: int = 14) -> pl.DataFrame:
    compiled = compile_protocol(con, "TEST", criteria, AS_OF, lookback, today=TODAY)
    table = pl.from_arrow(compiled.query.to_pyarrow())
    assert isinstance(table, pl.DataFrame)
    return table.rename({v: k for k, v in compiled.columns.items()}).sort("person_id")


def evaluator(con: Any, criteria: Any, ids: list[int], lookback: int = 14) -> pl.DataFrame:
    rows = []
    for rec in records_from_omop(con, ids, AS_OF, today=TODAY):
        d = screen_patient("TEST", rec, AS_OF, criteria=criteria, lookback_days=lookback)
        row: dict[str, Any] = {"person_id": int(rec.id), "DECISION": d.decision}
        for r in d.results:
            row[r.criterion.id] = (
                None if r.status in ("unknown", "investigator judgement") else r.status == "met"
            )
        rows.append(row)
    return pl.DataFrame(rows).sort("person_id")


def test_duckdb_agrees_with_evaluator_on_every_criterion(omop_db: str) -> None:
    con = ibis.duckdb.connect(omop_db, read_only=True)
    criteria = make_criteria()
    sql = population(con, criteria)
    ev = evaluator(con, criteria, list(range(1, N + 1)))
    assert sql.height == N
    for c in criteria:
        diff = sql.select("person_id", c.id).join(ev.select("person_id", c.id), on="person_id")
        bad = diff.filter(pl.col(c.id).ne_missing(pl.col(f"{c.id}_right")))
        assert bad.height == 0, f"{c.id}: {bad.head(5)}"
    assert sql["DECISION"].to_list() == ev["DECISION"].to_list()
    # the synthetic population exercises every outcome
    decisions = set(sql["DECISION"].to_list())
    assert {"ineligible", "incomplete"} <= decisions


def test_longer_lookback_changes_unknowns_consistently(omop_db: str) -> None:
    con = ibis.duckdb.connect(omop_db, read_only=True)
    criteria = make_criteria()[:14]
    sql14, sql90 = population(con, criteria, 14), population(con, criteria, 90)
    assert sql90["IN-PLT"].null_count() < sql14["IN-PLT"].null_count()
    ev = evaluator(con, criteria, list(range(1, 101)), 90)
    assert sql90.head(100)["DECISION"].to_list() == ev["DECISION"].to_list()


def test_consort_counts(omop_db: str) -> None:
    con = ibis.duckdb.connect(omop_db, read_only=True)
    criteria = make_criteria()
    compiled = compile_protocol(con, "TEST", criteria, AS_OF, 14, today=TODAY)
    table = pl.from_arrow(compiled.query.to_pyarrow())
    assert isinstance(table, pl.DataFrame)
    counts = _counts("TEST", criteria, table, compiled.columns)
    remaining = counts["N_REMAINING"].to_list()
    assert remaining == sorted(remaining, reverse=True)
    ineligible = int((table["DECISION"] == "ineligible").sum())
    assert remaining[-1] == N - ineligible
    judgement = counts.filter(pl.col("CRITID") == "EX-J").row(0, named=True)
    assert judgement["N_PENDING"] == N and judgement["N_FAILED"] == judgement["N_UNKNOWN"] == 0
    # CONSORT flow: each step removes exactly the persons it newly excludes
    steps = counts["N_EXCLUDED_HERE"].to_list()
    assert [N - sum(steps[: i + 1]) for i in range(len(steps))] == remaining


def _hand_built(offset: int = 0) -> dict[str, pl.DataFrame]:
    """Three persons with hand-set rows; ``offset`` shifts every concept id."""
    tables = synthetic_omop(3, seed=1, anchor=AS_OF)
    concept = tables["concept"]
    ids = dict(
        zip(concept["concept_code"].to_list(), concept["concept_id"].to_list(), strict=False)
    )
    plt, unit_k, unit_typo = ids["777-3"], ids["10*3/uL"], ids["mg/dLL"]
    m = pl.DataFrame(
        {
            "measurement_id": [1, 2, 3, 4],
            "person_id": [1, 2, 3, 3],
            "measurement_concept_id": [plt] * 4,
            "measurement_date": [
                date(2026, 6, 29),
                date(2026, 5, 1),
                date(2026, 6, 28),
                date(2026, 6, 1),
            ],
            "value_as_number": [75.0, 200.0, 90.0, 100.0],
            "range_low": [None, None, None, None],
            "range_high": [None, None, None, None],
            "unit_concept_id": [unit_k, unit_k, unit_typo, unit_k],
        },
        schema_overrides={"range_low": pl.Float64, "range_high": pl.Float64},
    )
    tables["measurement"] = m
    for name, df in tables.items():
        for col in df.columns:
            if col.endswith("concept_id") and col != "gender_concept_id":
                tables[name] = tables[name].with_columns(pl.col(col) + offset)
        _ = name
    return tables


@pytest.mark.parametrize("offset", [0, 17])
def test_hand_built_population(tmp_path: Path, offset: int) -> None:
    """Person 1: PLT 75 x10^3/uL = 75 x10^9/L (met); person 2: only a 60-day-old PLT (unknown);
    person 3: latest PLT in a unit no converter knows (unknown, and an input problem).
    Shifting every concept id changes nothing: the query matches codes, not ids."""
    path = str(tmp_path / "hand.duckdb")
    write_duckdb(_hand_built(offset), path)
    con = connect_omop(path)
    criteria = make_criteria([("IN-PLT", "inclusion", 'lab("PLT", "10^9/L") >= 60')])
    sql = population(con, criteria)
    assert sql["IN-PLT"].to_list() == [True, None, None]
    assert sql["DECISION"].to_list() == ["eligible", "incomplete", "incomplete"]
    assert sql["_problem"].to_list() == [False, False, True]


def test_connect_reports_missing_tables(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    write_duckdb({"person": pl.DataFrame({"person_id": [1]})}, str(path))
    with pytest.raises(InputError, match="OMOP CDM tables missing: measurement"):
        connect_omop(str(path))


def test_synthetic_matches_published_distributions() -> None:
    """Biselli M et al., Cancers 2024;16:1080, Table 1: bilirubin median 1.02 mg/dL, platelets
    129 x10^9/L, albumin 3.5 g/dL, AFP 36 ng/mL, 85% male, BCLC C 81.9% (tolerances ~5%)."""
    t = synthetic_omop(20_000, seed=3, anchor=AS_OF)
    concept = t["concept"]
    code = dict(
        zip(concept["concept_id"].to_list(), concept["concept_code"].to_list(), strict=True)
    )
    m = t["measurement"].with_columns(
        pl.col("measurement_concept_id").replace_strict(code, default=None).alias("loinc"),
        pl.col("unit_concept_id").replace_strict(code, default="").alias("unit"),
    )

    def median(loinc: str, convert: dict[str, float]) -> float:
        sub = m.filter(pl.col("loinc") == loinc, pl.col("unit").is_in(list(convert)))
        values = sub["value_as_number"] * sub["unit"].replace_strict(convert)
        return float(values.median())  # type: ignore[arg-type]

    assert median("1975-2", {"mg/dL": 1.0, "umol/L": 1 / 17.104}) == pytest.approx(1.02, rel=0.05)
    assert median("777-3", {"10*9/L": 1.0, "10*3/uL": 1.0}) == pytest.approx(129, rel=0.05)
    assert median("1751-7", {"g/dL": 1.0, "g/L": 0.1}) == pytest.approx(3.5, rel=0.03)
    assert median("1834-1", {"ng/mL": 1.0}) == pytest.approx(36, rel=0.1)
    assert (t["person"]["gender_concept_id"] == 8507).mean() == pytest.approx(0.85, abs=0.01)
    rows_per_person = t["measurement"].height / 20_000
    assert 28 <= rows_per_person <= 33  # ~30 measurement rows per person (benchmark target)
    again = synthetic_omop(50, seed=3, anchor=AS_OF)
    assert again["measurement"].equals(synthetic_omop(50, seed=3, anchor=AS_OF)["measurement"])
