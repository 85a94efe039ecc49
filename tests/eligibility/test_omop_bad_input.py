"""Bad input in an OMOP database: each kind is flagged in the screen (the person is never
'eligible' on it), located by :func:`problem_rows` (table, row id, column, what was expected),
and the compiled query and the one-patient evaluator agree on every person.

Hand-built persons (screening date 2026-06-30, today 2026-11-22):

1. clean: met on every criterion -> eligible (the reference person);
2. two ``person`` rows with the same ``person_id`` -> incomplete, record problem;
3. ``year_of_birth`` 1726: age 300 on today -> age unknown, incomplete;
4. the only PLT is negative -> PLT unknown, incomplete;
5. the most recent ECOG is 7 (ECOG is 0-5, Oken 1982) -> ECOG unknown, incomplete;
6. a targeted-therapy drug exposure starting after today -> input problem, incomplete;
7. the latest PLT has the unit code ``mg/dLL`` (a typo: no converter knows it) -> unknown;
8. PLT 40 x10^9/L < 60 and age 300 -> ineligible: one failed criterion decides, the age
   problem is still listed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from hcctrial.eligibility import screen_patient
from hcctrial.eligibility.omop import (
    connect_omop,
    records_from_omop,
    screen_population,
    synthetic_omop,
    write_duckdb,
)
from hcctrial.eligibility.omop.problems import problem_rows

from .conftest import AS_OF, TODAY, make_criteria

SPEC: list[tuple[str, str, str | None]] = [
    ("IN-AGE", "inclusion", "18 <= age <= 80"),
    ("IN-PLT", "inclusion", 'lab("PLT", "10^9/L") >= 60'),
    ("IN-ECOG", "inclusion", "ecog <= 1"),
    ("EX-WASH", "exclusion", 'within_days("anti_tumour_therapy", 14)'),
]
N = 8


def _protocol() -> Any:
    items = [
        SimpleNamespace(id=cid, kind=kind, source=cid, expression=expr, reason=None)
        for cid, kind, expr in SPEC
    ]
    return SimpleNamespace(
        id="BAD", eligibility=SimpleNamespace(lab_lookback_days=14, criteria=items)
    )


def _tables() -> dict[str, pl.DataFrame]:
    tables = synthetic_omop(N, seed=3, anchor=AS_OF)
    concept = tables["concept"]
    ids = dict(
        zip(concept["concept_code"].to_list(), concept["concept_id"].to_list(), strict=False)
    )
    pid = list(range(1, N + 1))
    person = pl.DataFrame(
        {
            "person_id": [*pid, 2],
            "gender_concept_id": [8507] * (N + 1),
            "year_of_birth": [1960, 1960, 1726, 1960, 1960, 1960, 1960, 1726, 1961],
            "month_of_birth": [5] * (N + 1),
            "day_of_birth": [17] * (N + 1),
        }
    )
    day = date(2026, 6, 25)
    plt, k_ul, typo = ids["777-3"], ids["10*3/uL"], ids["mg/dLL"]
    values = [120.0, 120.0, 120.0, -5.0, 120.0, 120.0, 130.0, 40.0]
    units = [k_ul] * 6 + [typo, k_ul]
    meas = pl.DataFrame(
        {
            "measurement_id": pid,
            "person_id": pid,
            "measurement_concept_id": [plt] * N,
            "measurement_date": [day] * N,
            "value_as_number": values,
            "range_low": [None] * N,
            "range_high": [None] * N,
            "unit_concept_id": units,
        },
        schema_overrides={"range_low": pl.Float64, "range_high": pl.Float64},
    )
    ecog = pl.DataFrame(
        {
            "observation_id": pid,
            "person_id": pid,
            "observation_concept_id": [ids["89247-1"]] * N,
            "observation_date": [day] * N,
            "value_as_number": [1.0, 1.0, 1.0, 1.0, 7.0, 1.0, 1.0, 1.0],
            "value_as_string": [None] * N,
        },
        schema_overrides={"value_as_string": pl.Utf8},
    )
    future = max(TODAY, date.today()) + timedelta(days=30)  # after 'today' in every run
    drug = pl.DataFrame(
        {
            "drug_exposure_id": [1],
            "person_id": [6],
            "drug_concept_id": [ids["targeted_therapy"]],
            "drug_exposure_start_date": [future],
            "drug_exposure_end_date": [future],
        }
    )
    empty = {
        name: tables[name].clear() for name in ("condition_occurrence", "procedure_occurrence")
    }
    return {
        **tables,
        **empty,
        "person": person,
        "measurement": meas,
        "observation": ecog,
        "drug_exposure": drug,
    }


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("bad") / "bad.duckdb"
    write_duckdb(_tables(), str(path))
    return connect_omop(str(path))


EXPECTED = {
    1: "eligible",
    2: "incomplete",
    3: "incomplete",
    4: "incomplete",
    5: "incomplete",
    6: "incomplete",
    7: "incomplete",
    8: "ineligible",
}


def test_population_flags_every_kind(con: Any) -> None:
    result = screen_population(con, [_protocol()], AS_OF, today=TODAY)
    rows = {r["person_id"]: r for r in result.decisions.iter_rows(named=True)}
    assert {pid: r["DECISION"] for pid, r in rows.items()} == EXPECTED
    assert rows[1]["PROBLEMS"] is None
    assert rows[2]["DETAIL"] == "record problem: duplicate person id"
    assert "person: person_id occurs more than once" in rows[2]["PROBLEMS"]
    assert "person: impossible birth date" in rows[3]["PROBLEMS"]
    assert rows[3]["DETAIL"] == "unknown: IN-AGE"
    assert "measurement: a lab row" in rows[4]["PROBLEMS"]
    assert "observation/measurement: a finding outside" in rows[5]["PROBLEMS"]
    assert "drug_exposure" in rows[6]["PROBLEMS"] and rows[6]["DETAIL"] == "input problems"
    assert rows[7]["DETAIL"] == "unknown: IN-PLT"
    assert rows[8]["DETAIL"] == "fails IN-PLT" and "impossible birth date" in rows[8]["PROBLEMS"]


def test_problem_rows_say_where(con: Any) -> None:
    rows = problem_rows(con, TODAY)
    found = {(r["TABLE"], r["ROW_ID"], r["COLUMN"]): r for r in rows.iter_rows(named=True)}
    assert set(found) == {
        ("person", 2, "person_id"),
        ("person", 3, "year_of_birth/month_of_birth/day_of_birth"),
        ("person", 8, "year_of_birth/month_of_birth/day_of_birth"),
        ("measurement", 4, "value_as_number"),
        ("observation", 5, "value_as_number/value_as_string"),
        ("drug_exposure", 1, "drug_exposure_start_date"),
        ("drug_exposure", 1, "drug_exposure_end_date"),
        ("measurement", 7, "unit_concept_id"),
    }
    assert found[("person", 2, "person_id")]["VALUE"] == "2"  # two rows
    assert found[("person", 3, "year_of_birth/month_of_birth/day_of_birth")]["VALUE"] == "1726-5-17"
    assert found[("measurement", 4, "value_as_number")]["PROBLEM"] == "negative lab value of PLT"
    assert found[("measurement", 7, "unit_concept_id")]["VALUE"] == "mg/dLL"
    assert found[("observation", 5, "value_as_number/value_as_string")]["VALUE"].startswith("7")
    assert found[("drug_exposure", 1, "drug_exposure_start_date")]["person_id"] == 6


def test_evaluator_agrees_on_bad_input(con: Any) -> None:
    criteria = make_criteria(SPEC)
    got = {}
    for rec in records_from_omop(con, list(EXPECTED), AS_OF, today=TODAY):
        d = screen_patient("BAD", rec, AS_OF, criteria=criteria, lookback_days=14)
        got[int(rec.id)] = d.decision
        if int(rec.id) in (2, 3, 8):
            assert d.problems, f"person {rec.id}: the evaluator lists the problem too"
    assert got == EXPECTED


def test_cli_writes_problem_rows(
    con: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hcctrial.cli import main

    path = tmp_path / "bad.duckdb"
    write_duckdb(_tables(), str(path))
    out = tmp_path / "decisions.csv"
    code = main(
        [
            "screen",
            "-p",
            "NCT04162158",
            "--omop",
            str(path),
            "--as-of",
            "2026-06-30",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    problems = pl.read_csv(tmp_path / "decisions_problems.csv")
    assert {"TABLE", "ROW_ID", "person_id", "COLUMN", "VALUE", "PROBLEM", "EXPECTED"} <= set(
        problems.columns
    )
    assert "decisions_problems.csv" in capsys.readouterr().err
