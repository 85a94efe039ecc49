"""``hcctrial safety`` end to end over the demo study (src/hcctrial/io/examples/hcc_demo).

Expected grades are computed by hand from the demo rows and CTCAE v5.0 (Investigations).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main

DEMO = Path(__file__).parents[2] / "src" / "hcctrial" / "io" / "examples" / "hcc_demo"
S1 = "HCCDEMO01-001-001"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(DEMO, folder)
    return folder


def test_demo_end_to_end(study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["safety", "--data", str(study), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CTCAE v5.0" in printed and "treatment-emergent" in printed
    for name in ("lab_graded", "lab_shift", "ae", "ae_incidence", "sae", "problems"):
        assert (out / f"{name}.csv").is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["ctcae_version"] == "5.0" and meta["problems"] == 0
    lb = pl.read_csv(out / "lab_graded.csv", infer_schema_length=None)
    s1 = lb.filter((pl.col("USUBJID") == S1) & (pl.col("LBDTC").str.starts_with("2024-03-30")))
    got = dict(zip(s1["LBTESTCD"], s1["ATOXGR"], strict=True))
    # NEUT 0.8 (<1.0 - 0.5 x 10e9/L) 3; PLT 61 (<75.0 - 50.0) 2; ALB 32 (<LLN - 30 g/L) 1;
    # ALT 88 with abnormal baseline 45 > ULN 40: 1.96 x baseline (1.5 - 3.0) 1.
    assert (got["NEUT"], got["PLT"], got["ALB"], got["ALT"]) == (3, 2, 1, 1)
    ae = pl.read_csv(out / "ae.csv", infer_schema_length=None)
    # the neutropenia of S1 started 2024-03-21, before the infusion on 2024-03-23
    neut = ae.filter(
        (pl.col("USUBJID") == S1) & (pl.col("AEDECOD") == "Neutrophil count decreased")
    )
    assert neut["TRTEMFL"].to_list() == ["N"]


def test_protocol_and_version(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["safety", "--data", str(study), "--out", str(out), "--protocol", "NCT04162158"]
    assert main([*args, "--ctcae", "4.03"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["ctcae_version"] == "4.03" and meta["protocol"] == "NCT04162158"
    assert "730 days after enrolment" in meta["ae_window"]


def test_bad_rows_are_reported_not_dropped(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = pl.read_csv(study / "ae.csv", infer_schema_length=0)
    ae = ae.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("7"))
        .otherwise("AETOXGR")
        .alias("AETOXGR"),
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("2024-01-01"))
        .otherwise("AESTDTC")
        .alias("AESTDTC"),
    )
    ae.write_csv(study / "ae.csv")
    lb = pl.read_csv(study / "lb.csv", infer_schema_length=0)
    lb = lb.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("LBSTNRLO").alias("LBSTNRLO")
    )
    lb.write_csv(study / "lb.csv")
    out = tmp_path / "out"
    # the study reader rejects the grade 7 (CDISC CT TOXGR): exit 1 naming file, row, column
    assert main(["safety", "--data", str(study), "--out", str(out)]) == 1
    assert "ae.csv, row 1, column AETOXGR" in capsys.readouterr().err
    collect = ["safety", "--data", str(study), "--out", str(out), "--on-error", "collect"]
    assert main(collect) == 0
    problems = pl.read_csv(out / "problems.csv", infer_schema_length=None)
    found = set(zip(problems["DOMAIN"], problems["ROW"], problems["COLUMN"], strict=True))
    assert ("AE", 1, "AETOXGR") in found  # rejected by the reader, listed
    assert ("AE", 2, "AESTDTC") in found  # 2024-01-01 is before consent (file row 2)
    lab = problems.filter(pl.col("DOMAIN") == "LB")
    assert lab["ROW"].to_list() == [1] and "no LLN" in lab["MESSAGE"][0]
    assert pl.read_csv(out / "ae.csv").height == ae.height - 1
    assert main([*collect, "--strict"]) == 1
    ranges = tmp_path / "ranges.csv"
    ranges.write_text(
        "LBTESTCD,LBSTNRLO,LBSTNRHI,LBSTRESU,SOURCE\nPLT,150,400,10^9/L,site manual\n"
    )
    assert main([*collect, "--default-ranges", str(ranges)]) == 0
    graded = pl.read_csv(out / "lab_graded.csv", infer_schema_length=None)
    assert graded["ATOXRNGF"][0] == "DEFAULT (site manual)"
    assert graded["ATOXGR"][0] == 1  # PLT 142 with the default LLN 150: <LLN - 75.0, grade 1


def test_missing_folder_exits_1(tmp_path: Path) -> None:
    assert main(["safety", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1


def test_readme_example_matches_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary lines shown in docs/readme/safety.md are what the command prints."""
    readme = (Path(__file__).parents[2] / "docs" / "readme" / "safety.md").read_text()
    args = [
        "safety",
        "--data",
        str(DEMO),
        "--out",
        str(tmp_path / "o"),
        "--protocol",
        "NCT04162158",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for line in printed.splitlines():
        if line.startswith(("CTCAE v", "labs:", "AEs:")):
            assert line in readme, line
