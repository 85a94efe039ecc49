"""``hcctrial screen`` end to end: JSON Lines, FHIR Bundle, SDTM folder and OMOP, every format.

The protocol is ``data/nk_test.yaml``: the eligibility of seed record 004 (NCT04162158), so the
expectations below are hand-derived from its thresholds and the shipped example patients.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main
from hcctrial.eligibility.omop import synthetic_omop, write_duckdb

HERE = Path(__file__).parent
PROTOCOL = str(HERE / "data" / "nk_test.yaml")
EXAMPLES = Path(__file__).parents[2] / "src" / "hcctrial" / "eligibility" / "examples"
PATIENTS = EXAMPLES / "patients.jsonl"
AS_OF = "2026-11-20"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["screen", *args])
    out, err = capsys.readouterr()
    return code, out, err


def csv_log(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema=False)


def test_example_patients_csv_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "-p", PROTOCOL, "--patients", str(PATIENTS), "--as-of", AS_OF, "--format", "csv"
    )
    assert code == 0
    log = csv_log(out)
    decisions = dict(log.select("USUBJID", "DECISION").unique().iter_rows())
    # EX-001 meets every data criterion; only the investigator's judgement is open
    assert decisions == {
        "EX-001": "incomplete",
        "EX-002": "ineligible",
        "EX-003": "incomplete",
        "EX-004": "incomplete",
    }
    assert log.height == 4 * 17  # one row per patient and criterion
    row = log.filter(pl.col("USUBJID") == "EX-002", pl.col("CRITID") == "IN-TBIL").row(
        0, named=True
    )
    # 3.4 mg/dL x 17.104 umol/L per mg/dL (bilirubin 584.66 g/mol) = 58.15 umol/L >= 51
    assert "58.15 umol/L on 2026-11-16 (from 3.4 mg/dL; umol/L = mg/dL x 17.104)" in row["VALUES"]
    assert row["COMPARISONS"].endswith("< 51: false") and row["EFFECT"] == "fails"
    stale = log.filter(pl.col("USUBJID") == "EX-003", pl.col("CRITID") == "IN-PLT").row(
        0, named=True
    )
    assert stale["STATUS"] == "unknown"
    assert "74 days old (2026-09-07), older than the 14-day look-back window" in stale["REASON"]
    ecog = log.filter(pl.col("USUBJID") == "EX-003", pl.col("CRITID") == "IN-ECOG").row(
        0, named=True
    )
    assert "ecog = 0 (from KPS 90" in ecog["VALUES"]  # Oken 1982: KPS 90-100 -> ECOG 0
    bad = log.filter(pl.col("USUBJID") == "EX-004")
    reasons = " ".join(bad["REASON"].drop_nulls().to_list() + bad["VALUES"].to_list())
    assert "unit 'mg/dLL'" in reasons
    assert "impossible value (300)" in reasons
    assert "date in the future ('2027-01-05')" in reasons


def test_judgement_on_record_makes_eligible(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = json.loads(PATIENTS.read_text().splitlines()[0])
    first["judgements"] = {"EX-JUDGE": False}
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(first) + "\n")
    code, out, _ = run(capsys, "-p", PROTOCOL, "--patients", str(path), "--as-of", AS_OF)
    assert code == 0
    assert "EX-001 - nk-test as of 2026-11-20: ELIGIBLE" in out
    assert "meets every criterion" in out


def test_table_and_out_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "log.csv"
    code, out, _ = run(
        capsys,
        "-p",
        PROTOCOL,
        "--patients",
        str(PATIENTS),
        "--as-of",
        AS_OF,
        "--out",
        str(out_file),
    )
    assert code == 0
    assert "EX-002 - nk-test as of 2026-11-20: INELIGIBLE" in out
    assert "Screening decisions" in out
    written = pl.read_csv(out_file)
    assert written.height == 4 * 17 and "COMPARISONS" in written.columns


def test_fhir_bundle_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "-p",
        PROTOCOL,
        "--patients",
        str(EXAMPLES / "bundle.json"),
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    assert code == 0
    rows = {r["CRITID"]: r for r in json.loads(out)}
    assert rows["IN-HGB"]["STATUS"] == "met"
    assert "118 g/L on 2026-11-15 (from 11.8 g/dL; g/L = g/dL x 10)" in rows["IN-HGB"]["VALUES"]
    # Cockcroft-Gault: (140 - 60) x 72 / (72 x 1.0) x 0.85 = 68 mL/min (female)
    assert "crcl() = 68 mL/min" in rows["IN-CRCL"]["VALUES"]
    assert rows["IN-DX"]["DECISION"] == "incomplete"


def test_sdtm_folder(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(__file__).parents[2] / "src" / "hcctrial" / "io" / "examples" / "hcc_demo"
    code, out, _ = run(
        capsys,
        "-p",
        PROTOCOL,
        "--patients",
        str(folder),
        "--as-of",
        "2024-03-10",
        "--format",
        "csv",
    )
    assert code == 0
    log = csv_log(out)
    dm = pl.read_csv(folder / "dm.csv")
    assert sorted(log["USUBJID"].unique().to_list()) == sorted(dm["USUBJID"].to_list())
    plt = log.filter(pl.col("USUBJID") == "HCCDEMO01-001-001", pl.col("CRITID") == "IN-PLT")
    # dm/lb of the demo study: PLT 142 x10^9/L on 2024-03-05, inside the 14-day window
    assert "142 10^9/L on 2024-03-05" in plt["VALUES"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-13-01"], "--as-of is not a date"),
        (["--patients", "nowhere.jsonl"], "patient file not found"),
        (["--patients", str(PATIENTS), "--omop", "x.duckdb"], "give exactly one of"),
        (["--omop", "x.duckdb"], "--out FILE is required"),
    ],
)
def test_bad_arguments_exit_1(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    if "--patients" not in args and "--omop" not in args:
        args = [*args, "--patients", str(PATIENTS)]
    code, _, err = run(capsys, "-p", PROTOCOL, *args)
    assert code == 1
    assert message in " ".join(err.split())


def test_bad_protocol_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-p", "no-such-trial", "--patients", str(PATIENTS))
    assert code == 1 and "error" in err


def test_omop_population(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "omop.duckdb"
    write_duckdb(synthetic_omop(120, seed=11, anchor=date(2026, 11, 18)), str(db))
    out_file = tmp_path / "decisions.csv"
    code, out, _ = run(
        capsys,
        "-p",
        PROTOCOL,
        "--omop",
        str(db),
        "--as-of",
        AS_OF,
        "--out",
        str(out_file),
        "--format",
        "json",
    )
    assert code == 0
    decisions = pl.read_csv(out_file)
    assert decisions.height == 120 and decisions["person_id"].n_unique() == 120
    counts = pl.read_csv(tmp_path / "decisions_counts.csv")
    assert counts["CRITID"].to_list()[0] == "IN-DX"
    summary = json.loads(out)
    (row,) = summary["decisions"]
    assert row["PERSONS"] == 120
    parts = ("ELIGIBLE", "PENDING_JUDGEMENT", "INCOMPLETE_DATA", "INELIGIBLE")
    assert sum(row[k] for k in parts) == 120
    assert row["INELIGIBLE"] == (decisions["DECISION"] == "ineligible").sum()
    # every decision names its criteria, as the one-patient evaluator does
    failed = decisions.filter(pl.col("DECISION") == "ineligible")["DETAIL"]
    assert failed.str.contains(r"^fails (IN|EX)-[A-Z-]+(, (IN|EX)-[A-Z-]+)*$").all()


def test_omop_population_all_protocols(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``--protocol all --omop URL --out FILE``: every built-in protocol, one decision per
    person and protocol, CONSORT counts for each, and the progress bar's last state."""
    from hcctrial.protocol import builtin_protocols

    db = tmp_path / "omop.duckdb"
    write_duckdb(synthetic_omop(60, seed=12, anchor=date(2026, 11, 18)), str(db))
    out_file = tmp_path / "all.csv"
    code, out, err = run(
        capsys, "-p", "all", "--omop", f"duckdb:///{db}", "--as-of", AS_OF, "--out", str(out_file)
    )
    assert code == 0
    ids = sorted(builtin_protocols())
    decisions = pl.read_csv(out_file)
    assert sorted(decisions["PROTOCOL"].unique().to_list()) == ids
    assert decisions.group_by("PROTOCOL").len()["len"].to_list() == [60] * len(ids)
    counts = pl.read_csv(tmp_path / "all_counts.csv")
    for pid, protocol in builtin_protocols().items():
        mine = counts.filter(pl.col("PROTOCOL") == pid)
        assert mine["CRITID"].to_list() == [c.id for c in protocol.eligibility.criteria]
        # the funnel: what remains after the last criterion never exceeds the persons screened
        assert mine["N_REMAINING"].to_list()[-1] <= 60
        failed = decisions.filter(
            (pl.col("PROTOCOL") == pid) & (pl.col("DECISION") == "ineligible")
        ).height
        assert int(mine["N_EXCLUDED_HERE"].sum()) == failed
    assert f"{len(ids)}/{len(ids)}" in err and "wrote" in err
    assert f"screened {len(ids)} protocols" in err
    # one counts table per protocol, its id in the title (no PROTOCOL column to squeeze)
    for pid in ids:
        assert f"CONSORT-style counts per criterion of {pid}" in out
