"""Stratified log-rank from ``hcctrial endpoints`` (``--strata`` or the protocol's strata).

The two-arm study (``two_arm_study.py``) with a hospital per subject written into DM
(``SITEID``: subjects 1-4 of each arm at H1, 5-8 at H2). Reference: R 4.2.2, survival 3.5.3,
``survdiff(Surv(AVAL, status) ~ ARM + strata(SITEID), data = x)`` on the same ADTTE
(``data/make_stratified_reference.R`` -> ``data/two_arm_stratified_r.json``), to 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from two_arm_study import write_study

from hcctrial.cli import main
from hcctrial.endpoints import logrank_test

DATA = Path(__file__).parent / "data"
PROTOCOL = DATA / "two_arm_protocol.yaml"
R = json.loads((DATA / "two_arm_stratified_r.json").read_text())
REL = 1e-6


def _site(usubjid: str) -> str:
    return "H1" if int(usubjid.rsplit("-", 1)[1][1:]) <= 4 else "H2"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_study(tmp_path_factory.mktemp("strata"))
    dm = pl.read_csv(folder / "dm.csv", infer_schema_length=0)
    dm = dm.with_columns(
        pl.col("USUBJID").map_elements(_site, return_dtype=pl.Utf8).alias("SITEID")
    )
    dm.write_csv(folder / "dm.csv")
    return folder


@pytest.fixture(scope="module")
def out(study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("out")
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(folder),
                 "-f", "csv", "--strata", "SITEID"])  # fmt: skip
    assert code == 0
    return folder


@pytest.mark.parametrize("param", ["OS", "PFS", "TTR", "DOR"])
def test_stratified_logrank_against_r(out: Path, param: str) -> None:
    comp = pl.read_csv(out / "endpoints_comparison.csv")
    row = comp.filter(
        (pl.col("PARAMCD") == param) & (pl.col("STATISTIC") == "LOGRANK_STRATIFIED_P")
    )
    assert row.height == 1
    r = row.row(0, named=True)
    assert r["ESTIMATE"] == pytest.approx(R[param]["p"], rel=REL)
    assert "strata(SITEID), 2 strata" in r["METHOD"]
    assert f"chi-square = {R[param]['chisq']:.4f}" in r["METHOD"]
    # the same test from the Python API on the ADTTE the command wrote, every number
    adtte = pl.read_csv(out / "adtte.csv").filter(pl.col("PARAMCD") == param)
    site = np.array([_site(u) for u in adtte["USUBJID"].to_list()])
    lr = logrank_test(adtte["AVAL"].to_numpy(), 1 - adtte["CNSR"].to_numpy(),
                      adtte["ARM"].to_numpy(), strata=site)  # fmt: skip
    assert lr.chisq == pytest.approx(R[param]["chisq"], rel=REL)
    np.testing.assert_allclose(lr.obs, R[param]["obs"], rtol=REL)
    np.testing.assert_allclose(lr.exp, R[param]["exp"], rtol=REL)
    assert lr.strata == ("H1", "H2")
    # and the unstratified row is still there, different from the stratified one
    plain = comp.filter((pl.col("PARAMCD") == param) & (pl.col("STATISTIC") == "LOGRANK_P"))
    assert f"chi-square = {R[param]['unstratified_chisq']:.4f}" in plain["METHOD"][0]


def test_protocol_strata_used_when_present(study: Path, tmp_path: Path) -> None:
    text = PROTOCOL.read_text().replace("strata: []", "strata: [SITEID, BCLC]")
    proto = tmp_path / "p.yaml"
    proto.write_text(text)
    code = main(["endpoints", "-p", str(proto), "-d", str(study), "-o", str(tmp_path / "o"),
                 "-f", "csv"])  # fmt: skip
    assert code == 0
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    # SITEID is in DM and used; BCLC is not in the data and is listed, not silently dropped
    assert meta["conventions"]["logrank_strata"] == ["SITEID"]
    assert meta["protocol_strata_not_in_data"] == ["BCLC"]
    comp = pl.read_csv(tmp_path / "o" / "endpoints_comparison.csv")
    os_p = comp.filter(
        (pl.col("PARAMCD") == "OS") & (pl.col("STATISTIC") == "LOGRANK_STRATIFIED_P")
    )
    assert os_p["ESTIMATE"][0] == pytest.approx(R["OS"]["p"], rel=REL)


def test_unknown_strata_column_is_an_input_error(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "--strata", "REGION"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "REGION" in err and "stratification factor not in the subject-level data" in err
