"""``hcctrial escalate`` (the issue's spelling), decision tables (exported, re-read, user
supplied), backfill in the BOIN simulation, dose-transition pathways, and the rule that an
eliminated dose is never recommended again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.cli import main
from hcctrial.errors import InputError, InputErrors
from hcctrial.safety.boin import boin_decision, boin_decision_table
from hcctrial.safety.boin_simulation import simulate_boin, simulate_boin_loop
from hcctrial.safety.decision_table import boin_table, read_decision_table
from hcctrial.safety.escalation import CohortCounts, counts_from_table, transition_pathways
from hcctrial.safety.three_plus_three import three_plus_three_decision


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_escalate_needs_exactly_one_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escalate"]) == 2  # usage error
    assert "give one of --cohorts FILE, --simulate or --table" in capsys.readouterr().err
    assert main(["escalate", "--simulate", "--table"]) == 2
    assert "--simulate and --table" in capsys.readouterr().err
    assert main(["escalate", "--simulate"]) == 1  # bad input: the rates are missing
    assert "--true-tox" in capsys.readouterr().err


def test_both_spellings_give_the_same_operating_characteristics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    new = _json(capsys, ["escalate", "--simulate", "--true-tox", "0.05,0.15,0.35",
                         "--trials", "300", "--format", "json"])  # fmt: skip
    old = _json(capsys, ["escalation", "--true-dlt", "0.05,0.15,0.35", "--trials", "300",
                         "--format", "json"])  # fmt: skip
    assert new == old
    assert new["design"].startswith("BOIN")  # the default design without a protocol
    exact = _json(capsys, ["escalate", "--simulate", "--true-tox", "0.05,0.15,0.35",
                           "--design", "3+3", "--format", "json"])  # fmt: skip
    assert "next lower level is the MTD once it has 6 patients" in exact["variant"]


def test_exported_table_read_back_drives_the_same_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CSV ``--table --out`` writes, given back as ``--decision-table``, reproduces BOIN:
    same seed, same trials, same operating characteristics."""
    path = tmp_path / "table.csv"
    assert main(["escalate", "--table", "--target", "0.3", "--max-n", "30", "--out",
                 str(path)]) == 0  # fmt: skip
    capsys.readouterr()
    exported = pl.read_csv(path)
    assert exported.equals(boin_decision_table(0.3, 30))
    base = ["escalate", "--simulate", "--true-tox", "0.05,0.15,0.35", "--trials", "500",
            "--format", "json"]  # fmt: skip
    builtin = _json(capsys, base)
    user = _json(capsys, [*base, "--decision-table", str(path)])
    assert user["levels"] == builtin["levels"] and user["overall"] == builtin["overall"]
    assert str(path) in user["design"]


def test_user_table_changes_the_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committee's stricter table (escalate only with 0 DLT at N = 6) decides 1/6 as stay,
    where BOIN's own (1/6 = 0.167 <= lambda_e 0.236) escalates."""
    table = tmp_path / "strict.csv"
    table.write_text("N,ESCALATE_LE,DEESCALATE_GE,ELIMINATE_GE\n3,0,2,3\n6,0,3,4\n")
    counts = tmp_path / "counts.csv"
    counts.write_text("LEVEL,N,NDLT\nA,6,1\nB,0,0\n")
    base = ["escalate", "--levels", "A,B", "--cohorts", str(counts), "--current", "A",
            "--format", "json"]  # fmt: skip
    assert _json(capsys, base)["decision"] == "escalate"
    strict = _json(capsys, [*base, "--decision-table", str(table)])
    assert strict["decision"] == "stay"
    assert strict["rule"] == f"1 DLT between the boundaries ({table}, N = 6): stay"


def test_user_table_problems_name_row_and_column() -> None:
    bad = pl.DataFrame(
        {
            "N": ["3", "3", "x", "6"],
            "ESCALATE_LE": ["0", "0", "0", "4"],
            "DEESCALATE_GE": ["2", "2", "1", "3"],
            "ELIMINATE_GE": ["3", "", "", "2"],
        }
    )
    with pytest.raises(InputErrors) as err:
        read_decision_table(bad, file="t.csv")
    text = str(err.value)
    assert "t.csv, row 2, column N: N = 3 repeats row 1" in text
    assert "row 3, column N" in text
    assert "row 4, column DEESCALATE_GE: ESCALATE_LE must be below DEESCALATE_GE" in text
    assert "row 4, column ELIMINATE_GE" in text
    table = read_decision_table(bad.head(1), file="t.csv")
    with pytest.raises(InputError, match="no row for N = 6"):
        table.arrays(6, {3, 6})


def test_boin_table_every_n_matches_the_rate_rule() -> None:
    """floor(lambda_e N) / ceil(lambda_d N) give the decisions of DLT/N <= lambda_e and
    DLT/N >= lambda_d (Liu and Yuan 2015) for every N and DLT count up to 30."""
    t = boin_table(0.3, 30)
    for n in range(1, 31):
        esc, de, _ = t.row(n)
        for y in range(n + 1):
            dec = boin_decision([3, n, 0], [0, y, 0], 1, 0.3)
            want = "stay"
            if esc is not None and y <= esc:
                want = "escalate"
            elif de is not None and y >= de:
                want = "de-escalate"  # elimination (ELIMINATE_GE >= DEESCALATE_GE) too
            assert dec.action == want, (n, y, dec.rule)


@pytest.mark.parametrize(
    ("p", "cohort", "max_n", "backfill", "cap"),
    [
        ([0.05, 0.15, 0.3], 3, 30, 3, 12),
        ([0.1, 0.25, 0.45, 0.6], 3, 24, 2, None),
        ([0.4, 0.55, 0.7], 3, 30, 3, 9),
        ([0.02, 0.1, 0.2, 0.3, 0.5], 2, 21, 3, None),
    ],
)
def test_backfill_vectorised_equals_loop(
    p: list[float], cohort: int, max_n: int, backfill: int, cap: int | None
) -> None:
    u = np.random.default_rng(11).random((300, max_n))
    kw = {"cohort_size": cohort, "max_n": max_n, "uniforms": u, "backfill_size": backfill,
          "backfill_cap": cap}  # fmt: skip
    for table in (None, boin_table(0.3, max_n)):
        vec = simulate_boin(p, 0.3, table=table, **kw)  # type: ignore[arg-type]
        loop = simulate_boin_loop(p, 0.3, table=table, **kw)  # type: ignore[arg-type]
        for a, b in (
            (vec.selected, loop.selected),
            (vec.n, loop.n),
            (vec.ndlt, loop.ndlt),
            (vec.early_stop, loop.early_stop),
            (vec.eliminated_from, loop.eliminated_from),
            (vec.backfilled, loop.backfilled),
        ):
            np.testing.assert_array_equal(a, b)
        assert vec.backfilled is not None and vec.eliminated_from is not None
        assert (vec.n.sum(axis=1) <= max_n).all()
        # backfill never reaches the highest level (it needs a cleared level above it)
        assert (vec.backfilled[:, -1] == 0).all()
        if cap is not None:
            assert (vec.n - vec.backfilled <= max_n).all()


def test_backfill_moves_patients_to_cleared_levels() -> None:
    p = [0.05, 0.15, 0.35]
    plain = simulate_boin(p, 0.3, n_trials=4000, seed=5)
    filled = simulate_boin(p, 0.3, n_trials=4000, seed=5, backfill_size=3, backfill_cap=12)
    assert filled.backfilled is not None
    assert filled.n[:, 0].mean() > plain.n[:, 0].mean()
    assert filled.backfilled[:, 0].mean() > 0 and filled.backfilled[:, 1].mean() > 0
    assert (filled.n[:, 0] <= np.maximum(12, plain.n.max())).all()


@st.composite
def _trial(draw: st.DrawFn) -> tuple[int, list[int], list[float]]:
    k = draw(st.integers(2, 5))
    outcomes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=12))
    p = sorted(draw(st.lists(st.floats(0.01, 0.9), min_size=k, max_size=k)))
    return k, outcomes, p


@settings(max_examples=200, deadline=None)
@given(_trial(), st.sampled_from([None, "table"]))
def test_eliminated_level_is_never_recommended_again(
    trial: tuple[int, list[int], list[float]], use_table: str | None
) -> None:
    """Whatever DLTs follow, once BOIN eliminates a level it and every level above stay
    eliminated, no later cohort is sent there, and it is never the MTD (Liu and Yuan 2015,
    section 2.3)."""
    k, outcomes, _ = trial
    table = boin_table(0.3, 3 * len(outcomes)) if use_table else None
    n, y, d = [0] * k, [0] * k, 0
    banned = k
    for x in outcomes:
        n[d] += 3
        y[d] += x
        dec = boin_decision(n, y, d, 0.3, table=table)
        if dec.eliminated:
            assert dec.eliminated[0] <= banned  # the eliminated set only grows
            assert dec.eliminated == tuple(range(dec.eliminated[0], k))
            banned = dec.eliminated[0]
        if dec.action == "stop":
            assert dec.mtd is None or dec.mtd < banned
            break
        assert dec.level is not None and dec.level < banned
        d = dec.level


@settings(max_examples=60, deadline=None)
@given(_trial(), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_simulated_mtd_is_never_an_eliminated_level(
    trial: tuple[int, list[int], list[float]], backfill: int, seed: int
) -> None:
    _, _, p = trial
    sim = simulate_boin(p, 0.3, n_trials=200, max_n=24, seed=seed, backfill_size=backfill)
    assert sim.eliminated_from is not None
    chosen = sim.selected >= 0
    assert (sim.selected[chosen] < sim.eliminated_from[chosen]).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=10), st.booleans())
def test_three_plus_three_never_returns_to_a_level_that_exceeded_the_mtd(
    outcomes: list[int], deescalate: bool
) -> None:
    k = 4
    n, y, d = [0] * k, [0] * k, 0
    for x in outcomes:
        n[d] += 3
        y[d] += x
        dec = three_plus_three_decision(n, y, d, deescalate=deescalate)
        exceeded = [j for j in range(k) if y[j] >= 2]
        if dec.action == "stop":
            assert dec.mtd is None or all(dec.mtd < j for j in exceeded)
            break
        assert dec.level is not None and all(dec.level < j for j in exceeded)
        d = dec.level


def test_pathways_complete_an_open_3_plus_3_cohort() -> None:
    """1 patient (with a DLT) at B: the cohort of B is completed with 2 patients (0-2 DLT);
    with no further DLT, 1/3 means 3 more at B (Storer 1989)."""
    counts = CohortCounts(("A", "B", "C"), (3, 1, 0), (0, 1, 0), 1)
    paths = transition_pathways("3+3", counts, cohorts=2)
    assert paths["C1_AT"].unique().to_list() == ["B"]
    assert sorted(paths["C1_DLT"].unique().to_list()) == [0, 1, 2]
    first = paths.filter(pl.col("C1_DLT") == 0).row(0, named=True)
    assert first["C1_THEN"] == "stay at B" and first["C2_AT"] == "B"
    assert paths.filter(pl.col("C1_DLT") == 1)["C1_THEN"].unique().to_list() == ["down to A"]


def test_pathways_boin_each_row_is_the_decision_function() -> None:
    counts = CohortCounts(("A", "B", "C"), (3, 6, 3), (0, 1, 1), 2)
    paths = transition_pathways("boin", counts, cohorts=2, target=0.3)
    assert paths.height == 16  # 4 outcomes x 4 outcomes, none stops
    for row in paths.iter_rows(named=True):
        n, y = [3, 6, 6], [0, 1, 1 + row["C1_DLT"]]
        dec = boin_decision(n, y, 2, 0.3)
        assert dec.level is not None
        expect = {"escalate": "up to", "de-escalate": "down to", "stay": "stay at"}
        assert row["C1_THEN"] == f"{expect[dec.action]} {'ABC'[dec.level]}"
        assert row["C2_AT"] == "ABC"[dec.level]


def test_dlt_subjects_table_gives_the_current_level_by_date() -> None:
    df = pl.DataFrame(
        {
            "USUBJID": ["1", "2", "3", "4"],
            "DOSELVL": ["dl1", "dl1", "dl2", "dl1"],
            "DLTSTDT": ["2025-03-01", "2025-03-03", "2025-04-10", "2025-03-08"],
            "DLTFL": ["N", "N", "Y", "N"],
            "DLTEVLFL": ["Y", "Y", "Y", "N"],
        }
    )
    c = counts_from_table(df, ["dl1", "dl2", "dl3"])
    assert (c.n, c.ndlt, c.current) == ((2, 1, 0), (0, 1, 0), 1)


def _boin_exact(p: list[float], cohorts: int) -> np.ndarray:
    """Exact P(select each level) of BOIN with cohorts of 3 (every DLT sequence enumerated
    with its binomial probability, decisions by ``boin_decision``); last entry: no MTD."""
    from math import comb

    k = len(p)
    out = np.zeros(k + 1)

    def walk(n: list[int], y: list[int], d: int, left: int, prob: float) -> None:
        for x in range(4):
            px = comb(3, x) * p[d] ** x * (1 - p[d]) ** (3 - x)
            n2, y2 = list(n), list(y)
            n2[d] += 3
            y2[d] += x
            dec = boin_decision(n2, y2, d, 0.3, max_n=3 * cohorts)
            if dec.action == "stop":
                out[k if dec.mtd is None else dec.mtd] += prob * px
            else:
                assert dec.level is not None and left > 1
                walk(n2, y2, dec.level, left - 1, prob * px)

    walk([0] * k, [0] * k, 0, cohorts, 1.0)
    return out


@pytest.mark.parametrize("p", [[0.1, 0.3, 0.5], [0.3, 0.45, 0.6], [0.05, 0.1, 0.2]])
def test_simulated_selection_is_within_its_monte_carlo_error_of_the_exact(p: list[float]) -> None:
    """With 4 cohorts the exact selection probabilities can be enumerated; the simulated ones
    (20,000 trials) lie within 4 of their Monte Carlo standard errors of them."""
    from hcctrial.safety.boin_simulation import operating_characteristics

    exact = _boin_exact(p, cohorts=4)
    assert exact.sum() == pytest.approx(1.0)
    sim = simulate_boin(p, 0.3, n_trials=20_000, max_n=12, seed=3)
    table, overall = operating_characteristics(sim)
    got = table["PSELECT"].to_numpy() / 100
    se = table["PSELECT_SE"].to_numpy() / 100
    se_ok = np.sqrt(exact[:-1] * (1 - exact[:-1]) / 20_000)
    assert np.all(np.abs(got - exact[:-1]) <= 4 * np.maximum(se, 1e-4))
    np.testing.assert_allclose(se, se_ok, rtol=0.2, atol=2e-4)
    none_se = max(overall["p_none_se"] / 100, 1e-4)
    assert abs(overall["p_none"] / 100 - exact[-1]) <= 4 * none_se


def test_three_plus_three_table_is_the_decision_rule() -> None:
    """Each row of the printed 3+3 table gives the decision of ``three_plus_three_decision``
    at a middle level (the level below with 6 patients, the one above untreated)."""
    from hcctrial.safety.three_plus_three import three_plus_three_table

    t = three_plus_three_table()
    for n in t.n:
        esc, _, elim = t.row(n)
        assert esc is not None and elim is not None
        for y in range(n + 1):
            dec = three_plus_three_decision([6, n, 0], [0, y, 0], 1)
            if y <= esc:
                assert dec.action == "escalate"
            elif y >= elim:  # exceeds the MTD: the level below (6 patients, 0 DLT) is the MTD
                assert dec.action == "stop" and dec.mtd == 0
            else:
                assert (n, y, dec.action) == (3, 1, "stay")


def test_vectorised_equals_loop_with_a_stricter_user_table() -> None:
    """A table other than BOIN's own (escalation one DLT stricter, elimination one earlier)
    gives identical trials vectorised and one at a time, with and without backfill."""
    base = boin_table(0.3, 30)
    frame = base.frame().with_columns(
        (pl.col("ESCALATE_LE") - 1).clip(lower_bound=0).alias("ESCALATE_LE"),
        (pl.col("ELIMINATE_GE") - 1)
        .clip(lower_bound=pl.col("DEESCALATE_GE"))
        .alias("ELIMINATE_GE"),
    )
    table = read_decision_table(frame.cast(pl.Utf8), file="strict.csv")
    u = np.random.default_rng(5).random((300, 30))
    for backfill in (0, 3):
        kw = {"cohort_size": 3, "max_n": 30, "uniforms": u, "table": table,
              "backfill_size": backfill}  # fmt: skip
        vec = simulate_boin([0.05, 0.2, 0.35, 0.5], 0.3, **kw)  # type: ignore[arg-type]
        loop = simulate_boin_loop([0.05, 0.2, 0.35, 0.5], 0.3, **kw)  # type: ignore[arg-type]
        np.testing.assert_array_equal(vec.selected, loop.selected)
        np.testing.assert_array_equal(vec.n, loop.n)
        np.testing.assert_array_equal(vec.eliminated_from, loop.eliminated_from)
    plain = simulate_boin([0.05, 0.2, 0.35, 0.5], 0.3, cohort_size=3, max_n=30, uniforms=u)
    assert not np.array_equal(plain.n, vec.n)  # the table did change the trials


def test_design_operating_characteristics_api() -> None:
    """The engine behind ``escalate --simulate``: 3+3 is the exact enumeration; BOIN's
    selection plus no-MTD sums to 100%; bad combinations are refused."""
    from hcctrial.safety.escalation_oc import design_operating_characteristics
    from hcctrial.safety.three_plus_three import three_plus_three_oc

    p = [0.05, 0.15, 0.35]
    exact = design_operating_characteristics("3+3", p)
    ref = three_plus_three_oc(p)
    np.testing.assert_allclose(exact.table["PSELECT"], 100 * ref.table["PSELECT"], atol=1e-12)
    assert exact.overall["p_early_stop"] == pytest.approx(100 * ref.p_none)
    boin = design_operating_characteristics("boin", p, target=0.3, trials=500)
    assert boin.table["PSELECT"].sum() + boin.overall["p_none"] == pytest.approx(100.0)
    with pytest.raises(InputError, match="not 3\\+3"):
        design_operating_characteristics("3+3", p, backfill_size=3)
    with pytest.raises(InputError, match="unknown design"):
        design_operating_characteristics("crm", p)
    with pytest.raises(InputError, match="target"):
        design_operating_characteristics("boin", p)


@settings(max_examples=40, deadline=None)
@given(_trial(), st.integers(0, 3), st.integers(0, 2**32 - 1), st.sampled_from([None, 12]))
def test_no_cohort_is_ever_treated_at_an_eliminated_level(
    trial: tuple[int, list[int], list[float]], backfill: int, seed: int, cap: int | None
) -> None:
    """Every cohort of every simulated trial, main or backfill, goes below the lowest level
    eliminated before it (the per-trial reference, identical to the vectorised run)."""
    _, _, p = trial
    trace: list[tuple[int, str, int, int]] = []
    u = np.random.default_rng(seed).random((60, 24))
    loop = simulate_boin_loop(p, 0.3, max_n=24, uniforms=u, backfill_size=backfill,
                              backfill_cap=cap, trace=trace)  # fmt: skip
    assert trace and all(level < banned for _, _, level, banned in trace)
    vec = simulate_boin(p, 0.3, max_n=24, uniforms=u, backfill_size=backfill, backfill_cap=cap)
    np.testing.assert_array_equal(vec.n, loop.n)
    np.testing.assert_array_equal(vec.selected, loop.selected)
