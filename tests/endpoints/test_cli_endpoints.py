"""``hcctrial endpoints`` end to end: protocol YAML + SDTM study folder -> ADTTE and endpoints.

The two-arm study (``two_arm_study.py``, outcomes tabulated by hand in its docstring) is run
through the CLI; its ADTTE must equal the hand table (``data/two_arm_adtte.csv``) and every
statistic must equal what R survival 3.5.3 computes from that ADTTE
(``data/make_two_arm_reference.R`` -> ``data/two_arm_r.json``) to 1e-6 relative.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from two_arm_study import CONTROL, EXPERIMENTAL, write_study

from hcctrial.cli import main
from hcctrial.endpoints.summary import DAYS_PER_MONTH
from hcctrial.io import example_study_folder

DATA = Path(__file__).parent / "data"
PROTOCOL = DATA / "two_arm_protocol.yaml"
R = json.loads((DATA / "two_arm_r.json").read_text())
REL = 1e-6


def _na(v: Any) -> float | None:
    return None if v == "NA" else float(v)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study(tmp_path_factory.mktemp("twoarm"))


def _run(study: Path, out: Path, *extra: str) -> dict[str, Any]:
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(out), "-f", "json",
                 *extra])  # fmt: skip
    assert code == 0
    return json.loads((out / "meta.json").read_text())


_RUNS: dict[tuple[str, ...], Path] = {}


@pytest.fixture(scope="module")
def run_once(study: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The CLI output folder for these extra options, computed once per module."""

    def get(*extra: str) -> Path:
        if extra not in _RUNS:
            out = tmp_path_factory.mktemp("run")
            _run(study, out, *extra)
            _RUNS[extra] = out
        return _RUNS[extra]

    return get


@pytest.fixture(scope="module")
def log_run(run_once) -> Path:  # type: ignore[no-untyped-def]
    return run_once()


def _stat(out: Path, arm: str, param: str, stat: str, table: str = "endpoints_by_arm") -> dict:
    df = pl.read_csv(out / f"{table}.csv")
    rows = df.filter(
        (pl.col("ARM") == arm) & (pl.col("PARAMCD") == param) & (pl.col("STATISTIC") == stat)
    )
    assert rows.height == 1, (arm, param, stat)
    return rows.row(0, named=True)


def test_adtte_matches_hand_table(log_run: Path) -> None:
    got = pl.read_csv(log_run / "adtte.csv").select("USUBJID", "PARAMCD", "AVAL", "CNSR")
    want = pl.read_csv(DATA / "two_arm_adtte.csv").select("USUBJID", "PARAMCD", "AVAL", "CNSR")
    assert got.sort("PARAMCD", "USUBJID").equals(want.sort("PARAMCD", "USUBJID"))
    pfs = {u: (a, c) for u, p, a, c in got.iter_rows() if p == "PFS"}
    # hand table (two_arm_study.py), AVAL = days + 1 (admiral derive_param_tte)
    assert pfs["TWOARM-E5"] == (101.0, 0)  # death on day 100 before PD
    assert pfs["TWOARM-C5"] == (41.0, 0)  # death before the first scan is an event (FDA 2018)
    assert pfs["TWOARM-E1"] == (225.0, 1)  # censored at the last adequate assessment
    assert pfs["TWOARM-C2"] == (57.0, 0)  # PD at the first scan


def test_meta_states_protocol_choices(log_run: Path) -> None:
    meta = json.loads((log_run / "meta.json").read_text())
    assert meta["origin"] == "randomization"
    assert meta["control_arm"] == CONTROL
    assert meta["landmarks_months"]["PFS"] == [3.0, 6.0, 12.0]
    assert meta["dcr_months"] == [3.0, 6.0]
    assert meta["conventions"]["ci_transform"] == "log"
    assert meta["conventions"]["censoring"]["max_gap_days"] == 2 * 56 + 7


@pytest.mark.parametrize("param", ["OS", "PFS"])
@pytest.mark.parametrize("conf", ["log", "log-log"])
def test_quantiles_against_r(run_once, param: str, conf: str) -> None:  # type: ignore[no-untyped-def]
    """R: quantile(survfit(Surv(AVAL, status) ~ ARM, conf.type = conf), c(.25, .5, .75))."""
    out = run_once() if conf == "log" else run_once("--conf-type", conf)
    ref = R[param][f"quantiles_{conf}"]
    for i, arm in enumerate(ref["strata"]):
        for j, stat in enumerate(("Q1", "MEDIAN", "Q3")):
            row = _stat(out, arm, param, stat)
            assert conf in row["METHOD"]
            for col, key in (("ESTIMATE", "quantile"), ("LOWER", "lower"), ("UPPER", "upper")):
                want = _na(ref[key][i][j])
                got = row[col]
                if want is None:
                    assert got is None, (arm, stat, col)
                    assert row["NOTE"], "a missing limit is explained"
                else:
                    assert got * DAYS_PER_MONTH == pytest.approx(want, rel=REL), (arm, stat, col)


def test_median_offers_the_other_transform(log_run: Path) -> None:
    """The log run also gives the log-log median CI (lifelines' and SAS's), R log-log values."""
    ref = R["OS"]["quantiles_log-log"]
    i = ref["strata"].index(CONTROL)
    row = _stat(log_run, CONTROL, "OS", "MEDIAN_CI_LOGLOG")
    assert "log-log transform" in row["METHOD"]
    assert row["LOWER"] * DAYS_PER_MONTH == pytest.approx(float(ref["lower"][i][1]), rel=REL)


@pytest.mark.parametrize("param", ["OS", "PFS"])
def test_landmark_rates_against_r(log_run: Path, param: str) -> None:
    """R: summary(survfit(...), times = c(3, 6, 12) * 365.25 / 12, extend = TRUE)."""
    ref = R[param]["landmarks"]
    months = (3, 6, 12) * 2
    wanted = dict.fromkeys({"OS": (6, 12), "PFS": (3, 6, 12)}[param])  # the protocol's landmarks
    df = pl.read_csv(log_run / "adtte.csv").filter(pl.col("PARAMCD") == param)
    for k, arm in enumerate(ref["strata"]):
        month = months[k]
        if month not in wanted:
            continue
        row = _stat(log_run, arm, param, f"RATE_{month}M")
        assert row["N"] == ref["n_risk"][k]
        last = df.filter(pl.col("ARM") == arm)["AVAL"].max()
        if month * DAYS_PER_MONTH > last and ref["surv"][k] > 0:
            # beyond follow-up: R's extend = TRUE carries the last value; hcctrial says NE
            assert row["ESTIMATE"] is None and "not estimable" in row["NOTE"]
            continue
        assert row["ESTIMATE"] == pytest.approx(ref["surv"][k], rel=REL)
        for col, key in (("LOWER", "lower"), ("UPPER", "upper")):
            want = _na(ref[key][k])
            if want is None:
                assert row[col] is None and row["NOTE"]
            else:
                assert row[col] == pytest.approx(want, rel=REL)


@pytest.mark.parametrize("param", ["OS", "PFS"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_comparison_against_r(run_once, param: str, ties: str) -> None:  # type: ignore[no-untyped-def]
    """R: survdiff(Surv(AVAL, status) ~ ARM); coxph(Surv(AVAL, status) ~ exp, ties = ties)."""
    tmp_path = run_once() if ties == "efron" else run_once("--ties", ties)
    label = f"{EXPERIMENTAL} vs {CONTROL}"
    cox = R[param][f"cox_{ties}"]
    hr = _stat(tmp_path, label, param, "HR", "endpoints_comparison")
    assert hr["ESTIMATE"] == pytest.approx(cox["hr"], rel=REL)
    assert hr["LOWER"] == pytest.approx(cox["lower"], rel=REL)
    assert hr["UPPER"] == pytest.approx(cox["upper"], rel=REL)
    assert f"p (Wald) = {cox['p_wald']:.4g}" in hr["METHOD"]
    assert ties in hr["METHOD"]
    lr = _stat(tmp_path, label, param, "LOGRANK_P", "endpoints_comparison")
    assert lr["ESTIMATE"] == pytest.approx(R[param]["logrank"]["p"], rel=REL)
    assert f"chi-square = {R[param]['logrank']['chisq']:.4f}" in lr["METHOD"]


def test_orr_against_binom_test(log_run: Path) -> None:
    """Confirmed ORR 3/8 vs 1/8; R binom.test(x, 8)$conf.int; difference by Newcombe."""
    for arm, x, key in ((EXPERIMENTAL, 3, "exp"), (CONTROL, 1, "ctl")):
        row = _stat(log_run, arm, "RESPONSE", "ORR")
        assert (row["X"], row["N"]) == (x, 8)
        assert "CBOR" in row["METHOD"]  # the protocol asks for confirmation
        assert row["LOWER"] == pytest.approx(R["orr"][key][0], rel=REL)
        assert row["UPPER"] == pytest.approx(R["orr"][key][1], rel=REL)
    diff = _stat(log_run, f"{EXPERIMENTAL} vs {CONTROL}", "RESPONSE", "ORR_DIFF",
                 "endpoints_comparison")  # fmt: skip
    assert diff["ESTIMATE"] == pytest.approx(0.25)
    assert diff["LOWER"] < 0 < diff["UPPER"]


def test_dcr_at_months_uses_the_scheduled_scans(log_run: Path) -> None:
    """Scans every 8 weeks (days 56, 112, 168, ...), window 7 days (two_arm_protocol.yaml).

    3 months (day 91.3): nearest scan day 112 -> from day 105. Non-PD at day 112 before any PD
    (two_arm_study.py table): E1, E2, E3, E6, E8 (5/8); C3, C4, C6 (3/8).
    6 months (day 182.6): nearest scan day 168 -> from day 161. Non-PD at day 168 or later
    before any PD: E1, E6, E8 (E2, E3 progress at 168) = 3/8; C6 = 1/8 (C3, C4 progress at 168).
    """
    for arm, x3, x6 in ((EXPERIMENTAL, 5, 3), (CONTROL, 3, 1)):
        r3 = _stat(log_run, arm, "RESPONSE", "DCR_3M")
        r6 = _stat(log_run, arm, "RESPONSE", "DCR_6M")
        assert (r3["X"], r6["X"]) == (x3, x6)
        assert "on/after day 105 of the visit plan (scheduled assessment day 112" in r3["METHOD"]
        assert "on/after day 161 of the visit plan (scheduled assessment day 168" in r6["METHOD"]


def test_text_and_csv_output(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Endpoints by arm" in text and EXPERIMENTAL in text and "Comparison" in text
    assert main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "-f", "csv"]) == 0  # fmt: skip
    csv = capsys.readouterr().out
    assert csv.startswith("ARM,PARAMCD,STATISTIC,N,X,ESTIMATE,LOWER,UPPER,UNIT,METHOD,NOTE")


def test_single_arm_gives_defined_comparison(tmp_path: Path) -> None:
    proto = Path(__file__).resolve().parents[1] / "protocol" / "minimal.yaml"
    code = main(["endpoints", "-p", str(proto), "-d", str(example_study_folder()),
                 "-o", str(tmp_path), "-f", "json"])  # fmt: skip
    assert code == 0
    comp = pl.read_csv(tmp_path / "endpoints_comparison.csv")
    assert set(comp["STATISTIC"]) == {"HR"}
    assert comp["ESTIMATE"].null_count() == comp.height
    assert all("not estimable: 1 arm(s)" in n for n in comp["NOTE"])


def test_death_before_origin_names_the_subject(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(study, data)
    dm = pl.read_csv(data / "dm.csv", infer_schema_length=0)
    dm.with_columns(
        pl.when(pl.col("USUBJID") == "TWOARM-E2")
        .then(pl.lit("2023-12-01"))
        .otherwise(pl.col("DTHDTC"))
        .alias("DTHDTC")
    ).write_csv(data / "dm.csv")
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(data), "-o", str(tmp_path / "o")])
    assert code == 1
    err = capsys.readouterr().err
    assert "TWOARM-E2" in err and "death before the origin" in err


def test_subject_outside_itt_is_not_analysed(study: Path, tmp_path: Path) -> None:
    # ITT of a randomized trial = randomized subjects (io.adsl ITTFL): without its DS
    # RANDOMIZED record, C4 is not in the ITT and not in ADTTE.
    data = tmp_path / "data"
    shutil.copytree(study, data)
    ds = pl.read_csv(data / "ds.csv")
    is_c4_rand = (pl.col("USUBJID") == "TWOARM-C4") & (pl.col("DSDECOD") == "RANDOMIZED")
    ds.filter(~is_c4_rand).write_csv(data / "ds.csv")
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(data), "-o", str(tmp_path / "o")])
    assert code == 0
    adtte = pl.read_csv(tmp_path / "o" / "adtte.csv")
    assert "TWOARM-C4" not in set(adtte["USUBJID"])
    assert adtte.filter(pl.col("PARAMCD") == "OS").height == 15
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["response_subjects_outside_itt"] == ["TWOARM-C4"]


def test_unknown_protocol_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["endpoints", "-p", str(tmp_path / "nope.yaml"), "-d", str(tmp_path),
                 "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    assert "protocol file not found" in capsys.readouterr().err
