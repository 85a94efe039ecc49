"""``hcctrial response`` on the example study and on pharmaversesdtm, plus the reference dates.

Expected best responses of the example study (``hcctrial.io`` example ``hcc_demo``, TR rows
summed by hand, RECIST 1.1 Eisenhauer 2009 section 4.3.1 and Table 3; reference start =
first infusion ``DM.RFXSTDTC``; confirmation >= 28 days, SD >= 42 days):

- 001: sums 52+31 = 83 -> week 6 38+22 = 60 (-27.7%, SD) -> week 12 33+20 = 53 (-36.1%, PR),
  non-target present: overall SD, PR. BOR PR; the PR has no later scan to confirm it, and it is
  84 days after the infusion (2024-03-23): CBOR SD.
- 002: 46+18 = 64 -> 62 (-3.1%) -> 61 (-4.7%): SD, SD (week 6 is day 42 after 2024-04-09).
- 003: 61+17 = 78 -> 72+19 = 91 (+16.7%, SD) and a new lung lesion: PD (section 4.3.4).
- 004: 24 -> 0 -> 0: CR, confirmed 42 days later: BOR CR, CBOR CR.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main
from hcctrial.errors import InputError
from hcctrial.io import example_study_folder
from hcctrial.response.reference import derive_anticancer_start, derive_reference_start

IO_DATA = Path(__file__).resolve().parents[1] / "io" / "data"


def _best(out: Path, paramcd: str) -> dict[str, str]:
    adrs = pl.read_csv(out / "ADRS.csv", infer_schema_length=0)
    rows = adrs.filter(pl.col("PARAMCD") == paramcd)
    return dict(zip(rows["USUBJID"].str.slice(-3).to_list(), rows["AVALC"].to_list(), strict=True))


def test_example_study_recist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["response", "--data", str(example_study_folder()), "--out", str(out)])
    assert code == 0
    for name in ("RS", "ADRS", "lesion_changes", "timepoint_changes", "problems", "bor_summary"):
        assert (out / f"{name}.csv").exists(), name
    assert _best(out, "BOR") == {"001": "PR", "002": "SD", "003": "PD", "004": "CR"}
    assert _best(out, "CBOR") == {"001": "SD", "002": "SD", "003": "PD", "004": "CR"}
    text = capsys.readouterr().out
    assert "Best overall response" in text and "0 problem(s)" in text
    rs = pl.read_csv(out / "RS.csv", infer_schema_length=0)
    # 4 RSTESTCD per post-baseline scan where the disease exists: subject 001 has target and
    # non-target disease at 2 scans (8 rows); 002 and 004 target only (3 x 2 rows each); 003
    # target only at 1 scan (3 rows).
    assert rs.height == 8 + 6 + 6 + 3
    assert set(rs["RSTESTCD"]) == {"TRGRESP", "NTRGRESP", "NEWLPROG", "OVRLRESP"}
    tp = pl.read_csv(out / "timepoint_changes.csv", infer_schema_length=0)
    s1 = tp.filter(pl.col("USUBJID").str.ends_with("001")).sort("VISITNUM")
    assert s1["SUMDIAM"].cast(pl.Float64).to_list() == [83.0, 60.0, 53.0]
    pchg = s1["PCHG"].cast(pl.Float64).to_list()
    assert pchg[2] == pytest.approx(100 * (53 - 83) / 83)
    lesions = pl.read_csv(out / "lesion_changes.csv", infer_schema_length=0)
    # one row per baseline target lesion and scan: 2x3 + 2x3 + 2x2 + 1x3
    assert lesions.height == 6 + 6 + 4 + 3


def test_example_study_mrecist_reports_missing_viable_diameter(tmp_path: Path) -> None:
    # The example data have no VIABLDIAM: under mRECIST every intrahepatic target lacks its
    # viable diameter (Lencioni & Llovet 2010), so the baseline sums are incomplete and each
    # subject with a liver target is NE with the reason, reported per lesion.
    out = tmp_path / "m"
    code = main(
        ["response", "-d", str(example_study_folder()), "-o", str(out), "--criteria", "mrecist"]
    )
    assert code == 0
    problems = pl.read_csv(out / "problems.csv", infer_schema_length=0)
    viable = problems.filter(pl.col("CHECK") == "mRECIST viable diameter")
    # liver targets: 001 T01 T02, 002 T01, 003 T01, 004 T01
    assert viable.height == 5
    bor = _best(out, "BOR")
    assert bor["004"] == "NE" and bor["001"] == "NE"
    # 003 still progresses: a new lesion is PD whatever the sums (RECIST 1.1 Table 1)
    assert bor["003"] == "PD"


def test_strict_exits_1_on_problems(tmp_path: Path) -> None:
    code = main(
        [
            "response",
            "-d",
            str(example_study_folder()),
            "-o",
            str(tmp_path),
            "--criteria",
            "mrecist",
            "--strict",
        ]
    )
    assert code == 1


def test_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["response", "-d", str(example_study_folder()), "-o", str(tmp_path), "--format", "json"]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["subjects"] == 4
    counts = {(r["PARAMCD"], r["AVALC"]): r["N"] for r in payload["best_response"]}
    assert counts[("CBOR", "SD")] == 2 and counts[("BOR", "PR")] == 1
    assert counts[("BOR", "NE")] == 0


def test_missing_tr_domain_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(example_study_folder() / "dm.csv", data / "dm.csv")
    shutil.copy(example_study_folder() / "tu.csv", data / "tu.csv")
    code = main(["response", "-d", str(data), "-o", str(tmp_path / "o")])
    assert code == 1
    assert "no TR domain" in capsys.readouterr().err


def test_unknown_criteria_is_usage_error(tmp_path: Path) -> None:
    code = main(["response", "-d", str(example_study_folder()), "-o", str(tmp_path), "-c", "who"])
    assert code == 2


@pytest.fixture(scope="module")
def pharmaverse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("pv")
    shutil.copy(IO_DATA / "dm.csv", data / "dm.csv")
    shutil.copy(IO_DATA / "tu_onco_recist.csv", data / "tu.csv")
    shutil.copy(IO_DATA / "tr_onco_recist.csv", data / "tr.csv")
    return data


def test_pharmaverse_rejected_rows_are_reported(pharmaverse: Path, tmp_path: Path) -> None:
    # tests/io/data/README.md: 39 TR records repeated with a new TRSEQ (01-701-1034) and 12
    # partial dates. The reader rejects the repeats; the response problems list each of them.
    code = main(
        ["response", "-d", str(pharmaverse), "-o", str(tmp_path), "--evaluator", "investigator"]
    )
    assert code == 0
    problems = pl.read_csv(tmp_path / "problems.csv", infer_schema_length=0)
    assert problems.filter(pl.col("CHECK") == "study data").height == 39
    adrs = pl.read_csv(tmp_path / "ADRS.csv", infer_schema_length=0)
    assert set(adrs.drop_nulls("RSEVAL")["RSEVAL"]) == {"INVESTIGATOR"}
    # 01-701-1015, investigator (tr_onco_recist rows): baseline T01 21 + T02 (node, LPERP) 32
    # + T03 24 + T04 19 = 96 mm; week 3 the same 96 (SD); week 6 only T01 and T04 measured
    # (NE, section 4.4.2); week 9 non-nodal 0 and the node 7 mm < 10 mm: CR. BOR CR.
    ovr = adrs.filter((pl.col("PARAMCD") == "OVR") & (pl.col("USUBJID") == "01-701-1015"))
    assert ovr.sort("ADT")["AVALC"].to_list() == ["SD", "NE", "CR"]
    bor = adrs.filter((pl.col("PARAMCD") == "BOR") & (pl.col("USUBJID") == "01-701-1015"))
    assert bor["AVALC"].to_list() == ["CR"]
    # DM subjects without any tumour data are kept, NE with the reason (never dropped)
    no_data = adrs.filter((pl.col("PARAMCD") == "BOR") & pl.col("RSEVAL").is_null())
    assert no_data.height > 0
    assert set(no_data["AVALC"]) == {"NE"}
    assert set(no_data["RSREASND"]) == {"no evaluable post-baseline assessment"}


DM = pl.DataFrame(
    {
        "USUBJID": ["A", "B", "C"],
        "RFXSTDTC": ["2024-01-10", None, None],
        "RFSTDTC": ["2024-01-05", "2024-02-01", None],
    }
)
EX = pl.DataFrame(
    {
        "USUBJID": ["A", "B", "B", "C"],
        "EXTRT": ["CAR-T CELLS", "TACE (EPIRUBICIN)", "CAR-T CELLS", "LIPIODOL"],
        "EXSTDTC": ["2024-01-10", "2024-02-03", "2024-02-20", "2024-03-01"],
    }
)
DS = pl.DataFrame(
    {
        "USUBJID": ["A", "B", "C"],
        "DSDECOD": ["RANDOMIZED", "RANDOMIZED", "INFORMED CONSENT OBTAINED"],
        "DSSTDTC": ["2024-01-02", "2024-01-30", "2024-02-25"],
    }
)


def _refs(df: pl.DataFrame | None) -> dict[str, str | None]:
    assert df is not None
    return {
        u: (None if d is None else d.isoformat())
        for u, d in df.select("USUBJID", "REFDT").iter_rows()
    }


def test_reference_start_rules() -> None:
    # first infusion: DM.RFXSTDTC, else the earliest EX start (B: TACE on 02-03)
    assert _refs(derive_reference_start("first-infusion", DM, EX, DS)) == {
        "A": "2024-01-10",
        "B": "2024-02-03",
        "C": "2024-03-01",
    }
    # randomization: DS RANDOMIZED only; C was never randomized -> null, reported later
    assert _refs(derive_reference_start("randomization", DM, EX, DS)) == {
        "A": "2024-01-02",
        "B": "2024-01-30",
        "C": None,
    }
    # first TACE: EXTRT naming TACE; LIPIODOL alone is not a TACE record
    assert _refs(derive_reference_start("first-tace", DM, EX, DS)) == {
        "A": None,
        "B": "2024-02-03",
        "C": None,
    }
    assert derive_reference_start("baseline-scan", DM, EX, DS) is None


def test_reference_start_errors() -> None:
    with pytest.raises(InputError, match="unknown reference"):
        derive_reference_start("first-visit", DM, EX, DS)
    with pytest.raises(InputError, match="needs the DS domain"):
        derive_reference_start("randomization", DM, EX, None)


def test_anticancer_start_after_reference_only() -> None:
    cm = pl.DataFrame(
        {
            "USUBJID": ["A", "A", "B", "C"],
            "CMCAT": ["PRIOR ANTICANCER THERAPY", "ANTI-CANCER THERAPY", "CONCOMITANT", None],
            "CMSCAT": [None, None, None, "ANTINEOPLASTIC"],
            "CMSTDTC": ["2023-11-01", "2024-05-01", "2024-03-01", "2024-04-02"],
        }
    )
    ref = derive_reference_start("first-infusion", DM, EX, DS)
    got = derive_anticancer_start(cm, ref)
    assert got is not None
    # A: the 2023 therapy precedes the infusion (prior therapy), the 2024-05-01 one counts;
    # B: a concomitant medication is not anticancer therapy; C: CMSCAT says antineoplastic.
    assert {u: d.isoformat() for u, d in got.iter_rows()} == {
        "A": "2024-05-01",
        "C": "2024-04-02",
    }
    assert derive_anticancer_start(None) is None


def test_waterfall_written_with_best_change(tmp_path: Path) -> None:
    # best % change per subject of the example study (sums in the module docstring):
    # 001 -36.1% (week 12), 002 -4.7%, 003 +16.7% (the PD scan counts), 004 -100%
    assert main(["response", "-d", str(example_study_folder()), "-o", str(tmp_path)]) == 0
    wf = pl.read_csv(tmp_path / "waterfall.csv", infer_schema_length=0)
    got = {u[-3:]: round(float(v), 1) for u, v in wf.select("USUBJID", "BESTPCHG").iter_rows()}
    assert got == {"001": -36.1, "002": -4.7, "003": 16.7, "004": -100.0}
    assert wf["USUBJID"].str.slice(-3).to_list() == ["003", "002", "001", "004"]
    assert wf.filter(pl.col("USUBJID").str.ends_with("004"))["CBOR"].to_list() == ["CR"]


TWO_ARM_PROTOCOL = (
    Path(__file__).resolve().parents[1] / "endpoints" / "data" / "two_arm_protocol.yaml"
)


def test_settings_from_protocol_and_options_override() -> None:
    from hcctrial.cli.response import DEFAULTS, response_settings

    # two_arm_protocol.yaml: PFS origin randomization, response criteria recist1.1, no
    # confirmation_days / sd_min_days given (schema defaults 28 / 42).
    st = response_settings(str(TWO_ARM_PROTOCOL))
    assert (st["criteria"], st["reference"]) == ("recist1.1", "randomization")
    assert (st["confirm_days"], st["sd_min_days"]) == (28, 42)
    assert st["source"]["reference"] == "protocol two-arm-test"
    st = response_settings(str(TWO_ARM_PROTOCOL), criteria="mrecist", sd_min_days=56)
    assert (st["criteria"], st["sd_min_days"], st["reference"]) == ("mrecist", 56, "randomization")
    assert st["source"]["criteria"] == "option" and st["source"]["sd_min_days"] == "option"
    plain = response_settings()
    assert {k: plain[k] for k in DEFAULTS} == DEFAULTS
    assert set(plain["source"].values()) == {"default"}


def test_protocol_option_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "response",
            "--data",
            str(example_study_folder()),
            "--out",
            str(tmp_path),
            "--protocol",
            str(TWO_ARM_PROTOCOL),
            "--format",
            "json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    # the example study has no DS randomization records: every subject lacks the reference
    # start, which is reported (never silently replaced by another date)
    assert payload["reference"] == "randomization"
    assert payload["settings_from"]["reference"] == "protocol two-arm-test"
    assert any(p["CHECK"] == "reference start" for p in payload["problems"])
