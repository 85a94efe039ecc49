"""``hcctrial kinetics`` end to end on a small synthetic study (tests/kinetics/data/study:
6 subjects, CAR transgene copies/ug on days -3..183 and serum IL1RAP; generated once from
closed-form profiles, values below 20 copies/ug written as <LLOQ)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main

STUDY = Path(__file__).parent / "data" / "study"


def test_kinetics_writes_tables_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["kinetics", "--data", str(STUDY), "--out", str(tmp_path), "--timepoints", "7,28"])
    assert code == 0
    out = capsys.readouterr().out
    assert "CARDNA" in out and "IL1RAP" in out
    params = pl.read_csv(tmp_path / "nca.csv")
    first = params.filter((pl.col("USUBJID") == "HCC-001") & (pl.col("PARAMCD") == "CARDNA"))
    row = first.row(0, named=True)
    # HCC-001: 24000 x (d/7)^2 up to day 7, so Cmax 24000 on day 7
    assert (row["CMAX"], row["TMAX"]) == (24000.0, 7.0)
    # AUC 0-1-4-7 rises linearly between samples: the trapezoids by hand
    c = {1: float(f"{24000 / 49:.4g}"), 4: float(f"{24000 * 16 / 49:.4g}"), 7: 24000.0}
    rising = c[1] / 2 + (c[1] + c[4]) / 2 * 3 + (c[4] + c[7]) / 2 * 3
    assert row["AUCEND"] > rising
    assert row["PERSISTFL"] == "Y"
    none = params.filter(pl.col("USUBJID") == "HCC-006").filter(pl.col("PARAMCD") == "CARDNA")
    assert none["CMAX"][0] == 0 and none["REASON"][0].startswith("no measurable")
    change = pl.read_csv(tmp_path / "change_from_baseline.csv")
    il1rap = change.filter((pl.col("PARAMCD") == "IL1RAP") & (pl.col("AVISITN") == 28))
    assert il1rap.height == 6
    base = il1rap.filter(pl.col("USUBJID") == "HCC-001").row(0, named=True)
    assert base["PCHG"] == pytest.approx(100 * (base["AVAL"] - base["BASE"]) / base["BASE"])
    assert math.isclose(base["BASE"], 225.0)
    assert (tmp_path / "CARDNA_profiles.svg").read_text().lstrip().startswith("<")
    assert pl.read_csv(tmp_path / "problems.csv").height == 0


def test_kinetics_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kinetics", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 1
    assert "study folder not found" in capsys.readouterr().err
    args = ["kinetics", "--data", str(STUDY), "--out", str(tmp_path), "--test", "NOPE"]
    assert main(args) == 1
    assert "no kinetic samples found" in capsys.readouterr().err
    args = ["kinetics", "--data", str(STUDY), "--out", str(tmp_path), "--timepoints", "a,b"]
    assert main(args) == 1
