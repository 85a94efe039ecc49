"""``hcctrial safety`` over a study with FA findings: CRS/ICANS daily grades, episodes,
problems and DLTs per subject and dose level (the crs_study of docs/readme/safety.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "readme" / "safety.md"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    text = DOC.read_text(encoding="utf-8")
    for name, content in re.findall(r"<!-- file: (\S+) -->\n```csv\n(.*?)```", text, re.S):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    return tmp_path / "crs_study"


def test_outputs(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["safety", "--data", str(study), "--out", str(out), "--protocol",
                 "il1rap-car-t"]) == 0  # fmt: skip
    daily = pl.read_csv(out / "crs_daily.csv", try_parse_dates=True)
    s101 = daily.filter(pl.col("USUBJID") == 101)
    # Lee 2019: 38.6 C alone 1; fever + hypotension without vasopressor 2; masked after
    # tocilizumab: one vasopressor 3, low-flow cannula 2; nothing 0.
    assert s101["CRSGR"].to_list() == [1, 2, 3, 2, 0]
    assert s101["FEVMASK"].to_list() == [False, False, True, True, False]
    eps = pl.read_csv(out / "crs_icans_episodes.csv")
    assert eps.filter(pl.col("USUBJID") == 104)["MAXGR"].to_list() == [3]
    counts = pl.read_csv(out / "dlt_counts.csv")
    assert counts.rows() == [("dl1", 3, 3, 0, 0), ("dl2", 1, 1, 1, 0), ("dl3", 0, 0, 0, 0)]
    events = pl.read_csv(out / "dlt_events.csv")
    assert events.select("USUBJID", "DLTRULE", "DURATION").rows() == [(104, "DLT-CRS-3-72H", 3)]
    # the event's SRCROW is its row of crs_daily.csv
    row = daily.row(events["SRCROW"][0] - 1, named=True)
    assert (row["USUBJID"], str(row["ADT"]), row["CRSGR"]) == (104, "2025-04-12", 3)
    subjects = pl.read_csv(out / "dlt_subjects.csv")
    assert subjects["DOSELVLS"].to_list() == ["EX.EXDOSE"] * 4
    problems = pl.read_csv(out / "problems.csv")
    assert problems.select("ROW", "COLUMN").rows() == [(2, "AESTDTC"), (2, "AETOXGR")]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["crs_days_fever_masked"] == 2 and meta["dlt_subjects_with_dlt"] == 1


def test_bad_fa_rows_stop_or_are_collected(study: Path, tmp_path: Path) -> None:
    fa = study / "fa.csv"
    lines = fa.read_text().splitlines()
    lines[1] = lines[1].replace(",TEMP,", ",TEMPR,")
    fa.write_text("\n".join(lines) + "\n")
    args = ["safety", "--data", str(study), "--out", str(tmp_path / "o"), "--protocol",
            "il1rap-car-t"]  # fmt: skip
    assert main(args) == 1
    assert main([*args, "--on-error", "collect"]) == 0
    problems = pl.read_csv(tmp_path / "o" / "problems.csv")
    fa_rows = problems.filter(pl.col("DOMAIN") == "FA")
    assert fa_rows.select("ROW", "COLUMN", "VALUE").rows() == [(1, "FATESTCD", "TEMPR")]
    daily = pl.read_csv(tmp_path / "o" / "crs_daily.csv")
    # without the 38.6 C of 03-02 subject 101's first CRS day is 03-03
    assert daily.filter(pl.col("USUBJID") == 101)["CRSGR"].to_list() == [2, 3, 2, 0]


def test_dose_level_unknown_is_reported(study: Path, tmp_path: Path) -> None:
    ex = study / "ex.csv"
    ex.write_text(ex.read_text().replace("2.5E8", "3.0E8"))
    dm = study / "dm.csv"
    dm.write_text(dm.read_text().replace("Second dose group", "Cohort B"))
    out = tmp_path / "o"
    assert main(["safety", "--data", str(study), "--out", str(out), "--protocol",
                 "il1rap-car-t", "--dlt-cutoff", "2025-05-31"]) == 0  # fmt: skip
    problems = pl.read_csv(out / "problems.csv")
    assert "dose level not known" in problems.filter(pl.col("USUBJID") == 104)["MESSAGE"][0]
    counts = pl.read_csv(out / "dlt_counts.csv")
    assert counts["SUBJECTS"].to_list() == [3, 0, 0]
    assert main(["safety", "--data", str(study), "--out", str(out), "--protocol",
                 "il1rap-car-t", "--dlt-cutoff", "May"]) == 1  # fmt: skip


def test_wide_crs_file_instead_of_fa(study: Path, tmp_path: Path) -> None:
    """A hospital team's crs.csv (one row per subject and day) grades as FA does; FA and
    crs.csv for the same syndrome is refused."""
    (study / "crs.csv").write_text(
        "USUBJID,ADT,TEMP,VASOPN,O2DEV\n"
        "104,2025-04-12,39.0,1,\n104,2025-04-13,38.8,1,\n104,2025-04-14,38.5,1,\n"
        "104,2025-04-15,38.1,0,nasal-cannula\n104,2025-04-16,37.0,0,\n"
    )
    out = tmp_path / "o"
    args = ["safety", "--data", str(study), "--out", str(out), "--protocol", "il1rap-car-t"]
    assert main(args) == 1  # CRS in both fa.csv and crs.csv
    (study / "fa.csv").unlink()
    assert main(args) == 0
    daily = pl.read_csv(out / "crs_daily.csv")
    assert daily["CRSGR"].to_list() == [3, 3, 3, 2, 0]  # Lee 2019: 1 vasopressor 3; cannula 2
    counts = pl.read_csv(out / "dlt_counts.csv")
    assert counts.filter(pl.col("LEVEL") == "dl2")["NDLT"].to_list() == [1]
    assert not (out / "icans_daily.csv").exists()


def test_unknown_causality_stops_or_counts_as_related(study: Path, tmp_path: Path) -> None:
    ae = study / "ae.csv"
    ae.write_text(ae.read_text().replace("4,N,PROBABLE,2025-03-08,2025-03-12",
                                         "4,N,PERHAPS,2025-03-05,2025-03-12"))  # fmt: skip
    args = ["safety", "--data", str(study), "--out", str(tmp_path / "o"), "--protocol",
            "il1rap-car-t"]  # fmt: skip
    assert main(args) == 1
    assert main([*args, "--on-error", "collect"]) == 0
    problems = pl.read_csv(tmp_path / "o" / "problems.csv")
    msgs = problems.filter(pl.col("COLUMN") == "AEREL")["MESSAGE"].to_list()
    assert "causality not understood: counted as related" in msgs
    # 8 days of grade 4 neutropenia (>= 7), counted as related: DLT-HAEM-4 for subject 102
    subjects = pl.read_csv(tmp_path / "o" / "dlt_subjects.csv")
    assert subjects.filter(pl.col("USUBJID") == 102)["DLTRULE"].to_list() == ["DLT-HAEM-4"]
