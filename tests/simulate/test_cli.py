"""``hcctrial simulate``: SDTM CSVs that ``hcctrial data validate`` accepts, operating
characteristics with --trials, clear errors with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main

MINIMAL = str(Path(__file__).parent.parent / "protocol" / "minimal.yaml")


def test_simulate_writes_sdtm_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--protocol", MINIMAL, "--seed", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "screened" in text and "screen failures" in text
    names = sorted(p.name for p in out.glob("*.csv"))
    assert names == sorted(
        f"{d}.csv" for d in ("ae", "dm", "ds", "ex", "ie", "lb", "suppdm", "tr", "tu", "vs")
    )
    assert main(["data", "validate", str(out)]) == 0
    assert "no problems" in capsys.readouterr().out
    dm = pl.read_csv(out / "dm.csv")
    assert dm.filter(pl.col("ARMCD") != "SCRNFAIL").height == 20


def test_simulate_subjects_and_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    code = main(["simulate", "-p", MINIMAL, "-n", "5", "-o", str(out), "--format", "json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    dm = next(r for r in rows if r["DOMAIN"] == "DM")
    assert dm["ROWS"] >= 5


def test_operating_characteristics_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oc"
    code = main(
        ["simulate", "-p", MINIMAL, "--trials", "50", "--effect", "HR=0.6", "--out", str(out)]
    )
    assert code == 0
    assert "50 replicates" in capsys.readouterr().out
    per_trial = pl.read_csv(out / "replicates.csv")
    assert per_trial.height == 50
    meta = json.loads((out / "oc.json").read_text())
    assert meta["trials"] == 50 and meta["power"] is None  # single arm: no comparison


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--effect", "HR=abc", "--out", "x"], "not a number"),
        (["--effect", "HR=0", "--out", "x"], "HR"),
        (["--out", "x", "--subjects", "0"], "number of subjects"),
        (["--trials", "0"], "trials"),
        ([], "--out"),
        (["--out", "x", "--start", "2025-13-01"], "not a date"),
    ],
)
def test_bad_input_exits_1_with_a_message(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(tmp_path / a) if a == "x" else a for a in args]
    assert main(["simulate", "-p", MINIMAL, *args]) == 1
    assert message in capsys.readouterr().err


def test_unknown_protocol_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "-p", "no-such-trial", "--out", "x"]) == 1
    assert "error" in capsys.readouterr().err


def test_referral_option_changes_who_is_screened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NCT04011033 asks for HCC relapsed after TACE (IN-RELAPSED): referring fewer patients
    whose TACE failed (tace_failure 0.2 instead of 0.95) makes more of them fail that criterion;
    meta and summary say nothing else changed (same seed, same target)."""
    from hcctrial.simulate.oc import parse_referral

    changed = parse_referral("tace_failure=0.2,ecog=0.6/0.35/0.05", "NCT04011033")
    assert (changed.tace_failure, changed.ecog) == (0.2, (0.6, 0.35, 0.05))
    relapsed_failures = {}
    for share in ("0.95", "0.2"):
        out = tmp_path / share
        args = ["simulate", "-p", "NCT04011033", "-n", "20", "--seed", "3", "-o", str(out)]
        assert main([*args, "--referral", f"tace_failure={share}"]) == 0
        assert "screened" in capsys.readouterr().out
        ie = pl.read_csv(out / "ie.csv")
        relapsed_failures[share] = ie.filter(pl.col("IETESTCD") == "IN-RELAPSED").height
        assert pl.read_csv(out / "dm.csv").filter(pl.col("ARMCD") != "SCRNFAIL").height == 20
    assert relapsed_failures["0.2"] > 3 * max(relapsed_failures["0.95"], 1)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("tace_fail=0.9", "cannot read the referral setting"),
        ("ecog=0.5/0.5", "not a number triple"),
        ("tace_failure=1.5", "tace_failure is not a share"),
        ("ecog=0.5/0.5/0.5", "3 shares adding up to 1"),
        ("age_median=abc", "age_median is not a number"),
    ],
)
def test_bad_referral_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    code = main(["simulate", "-p", "NCT04011033", "-o", str(tmp_path / "s"), "--referral", setting])
    assert code == 1
    assert message in capsys.readouterr().err
