"""``hcctrial schedule``: table, CSV, ICS, --out and --actual, on the fixture protocols."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from hcctrial.cli import schedule as schedule_cli
from hcctrial.errors import InputError

from .conftest import INKT, MINIMAL
from .test_ics import parse_ics

BASE = ["schedule", "--protocol", str(INKT), "--arm", "inkt-tace", "--start", "2026-01-05"]
SIZE = ["--height", "170", "--weight", "70"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    schedule_cli.register(app)

    @app.command("noop")
    def noop() -> None:
        """A second command so that typer keeps command names."""

    return app


def _run(app: typer.Typer, args: list[str]) -> str:
    result = CliRunner().invoke(app, args, terminal_width=200)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_table(app: typer.Typer) -> None:
    out = _run(app, [*BASE, *SIZE, "--horizon", "60"])
    assert "inkt-fixture, arm inkt-tace: day 0 (day 0 = first TACE) = 2026-01-05" in out
    assert "2026-01-13" in out and "ends 17-26 Jan" in out  # first IL-2 course
    assert "10-14 Jan" in out  # first infusion window
    assert "29 Dec-12 Jan" in out  # baseline CT window

    assert "IL-2: 25,000 IU/kg/day x weight 70 kg = 1,750,000 IU/day" in out


def test_csv_and_ics(app: typer.Typer, tmp_path: Path) -> None:
    csv = _run(app, [*BASE, *SIZE, "--format", "csv", "--subject", "HCC-001"])
    table = pl.read_csv(io.StringIO(csv))
    assert table["USUBJID"].unique().to_list() == ["HCC-001"]
    assert table.filter(pl.col("EVENTID") == "inkt")["PLANDT"].to_list()[:2] == [
        "2026-01-12",
        "2026-01-26",
    ]
    target = tmp_path / "cal.ics"
    _run(app, [*BASE, *SIZE, "--out", str(target)])  # format from the suffix
    data = target.read_bytes()
    assert data.count(b"\r\n") > 100 and b"\n" not in data.replace(b"\r\n", b"")
    events = parse_ics(data.decode("utf-8"))
    assert len(events) == table.height


def test_actual_visits(app: typer.Typer, tmp_path: Path) -> None:
    records = tmp_path / "sv.csv"
    records.write_text("USUBJID,VISITNUM,SVSTDTC\nS1,1,2026-01-05\nS1,2,2026-01-15\n")
    args = ["schedule", "--protocol", str(MINIMAL), "--start", "2026-01-05", "--subject", "S1"]
    out = _run(app, [*args, "--actual", str(records), "--as-of", "2026-03-20"])
    assert "OUT OF WINDOW" in out and "MISSED" in out and "NOT DUE" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-13-01"], "start date is not a date"),
        ([], "cells/m2 but height and weight are not given"),
        (["--arm", "x"], "unknown arm"),
    ],
)
def test_errors(app: typer.Typer, extra: list[str], message: str) -> None:
    args = ["schedule", "--protocol", str(INKT), "--arm", "inkt-tace", "--start", "2026-01-05"]
    with pytest.raises(InputError, match=message):
        _run(app, [*args, *extra])


def test_registered_command_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from hcctrial.cli import main

    assert main([*BASE, *SIZE, "--horizon", "10", "--format", "csv"]) == 0
    assert "PLANDT" in capsys.readouterr().out
    assert main([*BASE, "--format", "csv"]) == 1  # cells/m2 without height and weight
    assert "height and weight are not given" in capsys.readouterr().err
