"""SAS transport (XPT) studies and the ``hcctrial data`` commands, end to end.

XPT files are written two ways: by :func:`hcctrial.io.write_study` and directly by pyreadstat
(an independent writer, as a sponsor's SAS export would arrive), and read back with
:func:`hcctrial.io.read_study`. The CLI checks cover the exit codes the README promises:
0 for a clean folder, 1 for bad input with every problem named by file, row and column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from tests.io.conftest import DM, LB, write

from hcctrial.cli import main
from hcctrial.io import example_study, read_study, write_study


def _key(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return df.select(cols).sort(cols)


def test_example_study_round_trips_through_xpt(tmp_path: Path) -> None:
    study = example_study()
    write_study(study, tmp_path / "xpt", format="xpt")
    back = read_study(tmp_path / "xpt", format="xpt")
    assert set(back.domains) == set(study.domains)
    for name in study.domains:
        assert back[name].height == study[name].height, name
    cols = ["USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBDT"]
    assert _key(back.lb, cols).equals(_key(study.lb, cols))


def test_xpt_written_by_pyreadstat_is_read_and_validated(tmp_path: Path) -> None:
    folder = tmp_path / "sponsor"
    folder.mkdir()
    dm = pd.DataFrame({"USUBJID": ["S-001", "S-002"], "SEX": ["M", "F"], "AGE": [61.0, 54.0]})
    lb = pd.DataFrame(
        {
            "USUBJID": ["S-001", "S-002", "S-002"],
            "LBTESTCD": ["PLT", "ALB", "BILI"],
            "LBSTRESN": [142.0, 4.2, 1.1],
            "LBSTRESU": ["10^9/L", "g/dL", "mg/dL"],
            "LBDTC": ["2024-03-05", "2024-04-01", "2024-04"],
        }
    )
    pyreadstat.write_xport(dm, str(folder / "dm.xpt"), file_format_version=5, table_name="DM")
    pyreadstat.write_xport(lb, str(folder / "lb.xpt"), file_format_version=5, table_name="LB")
    study = read_study(folder)
    assert study.lb.height == 3
    assert study.problems.height == 0
    # the partial date '2024-04' is imputed and flagged (hcctrial.dates), not dropped
    partial = study.lb.filter(pl.col("LBTESTCD") == "BILI")
    assert partial["LBDT"].to_list()[0] is not None
    assert partial["LBDTF"].to_list()[0] == "D"


def test_cli_validate_clean_folder_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write(tmp_path / "study", dm=DM, lb=LB)
    assert main(["data", "validate", str(folder)]) == 0
    assert "no problems: 2 domain(s), 2 subject(s)" in capsys.readouterr().out


def test_cli_validate_bad_folder_exits_1_and_names_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad_lb = LB.replace("2024-04-01\nS-002,ALB", "2024-13-40\nS-002,ALB")
    folder = write(tmp_path / "study", dm=DM, lb=bad_lb)
    problems = tmp_path / "problems.csv"
    assert main(["data", "validate", str(folder), "--problems", str(problems)]) == 1
    captured = capsys.readouterr()
    assert "1 problem(s)" in captured.err
    table = pl.read_csv(problems)
    row = table.row(0, named=True)
    # the third data row of lb.csv holds the impossible date
    assert (Path(row["FILE"]).name, row["ROW"], row["COLUMN"]) == ("lb.csv", 3, "LBDTC")
    assert row["VALUE"] == "2024-13-40"


def test_cli_templates_write_every_domain(tmp_path: Path) -> None:
    assert main(["data", "templates", str(tmp_path / "tpl")]) == 0
    names = sorted(p.name for p in (tmp_path / "tpl").iterdir())
    for domain in ("dm", "lb", "vs", "tu", "tr", "rs", "ae", "ex", "ds", "cm", "mh", "qs"):
        assert f"{domain}.csv" in names
    assert "README.md" in names
    header = (tmp_path / "tpl" / "lb.csv").read_text(encoding="utf-8").splitlines()[0]
    assert {"USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBDTC"} <= set(header.split(","))
