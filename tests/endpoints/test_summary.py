"""Endpoint tables: the lung data run through the table layer still give R's numbers."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from endpoints_ref import close, read
from test_adtte import _adrs, _adsl

from hcctrial.endpoints.analysis import analyse_endpoints
from hcctrial.endpoints.summary import (
    DAYS_PER_MONTH,
    AnalysisOptions,
    compare_arms,
    summarise_time_to_event,
)


def _lung_adtte() -> pl.DataFrame:
    df = read("lung.csv")
    return df.select(
        pl.int_range(pl.len()).cast(pl.Utf8).alias("USUBJID"),
        pl.col("sex").cast(pl.Utf8).alias("ARM"),
        pl.lit("OS").alias("PARAMCD"),
        pl.col("time").cast(pl.Float64).alias("AVAL"),
        (1 - pl.col("status")).alias("CNSR"),
    )


def _stat(df: pl.DataFrame, arm: str, stat: str) -> dict[str, Any]:
    return df.filter((pl.col("ARM") == arm) & (pl.col("STATISTIC") == stat)).row(0, named=True)


@pytest.mark.parametrize(
    ("conf_type", "key"), [("log", "survfit_conf_log"), ("log-log", "survfit_conf_loglog")]
)
def test_lung_medians_and_landmarks_in_months(
    lung_ref: dict[str, Any], conf_type: str, key: str
) -> None:
    """R: survfit(Surv(time, status) ~ sex, lung, conf.type); medians 270 / 426 days."""
    months = tuple(t / DAYS_PER_MONTH for t in lung_ref["landmark_times"])
    opts = AnalysisOptions(conf_type=conf_type, landmarks_months={"OS": months})
    table = summarise_time_to_event(_lung_adtte(), opts)
    ref = lung_ref[key]["by_group"]
    for i, arm in enumerate(("1", "2")):
        med = _stat(table, arm, "MEDIAN")
        close(
            [
                med["ESTIMATE"] * DAYS_PER_MONTH,
                med["LOWER"] * DAYS_PER_MONTH,
                med["UPPER"] * DAYS_PER_MONTH,
            ],
            [ref["median"][i], ref["median_lower"][i], ref["median_upper"][i]],
        )
        assert conf_type in med["METHOD"]
        rate = _stat(table, arm, f"RATE_{months[0]:g}M")
        close(
            [rate["ESTIMATE"], rate["LOWER"], rate["UPPER"]],
            [
                ref["landmarks"]["surv"][3 * i],
                ref["landmarks"]["lower"][3 * i],
                ref["landmarks"]["upper"][3 * i],
            ],
        )
        assert rate["N"] == ref["landmarks"]["n_risk"][3 * i]


def test_lung_comparison_against_R(lung_ref: dict[str, Any]) -> None:
    """HR female (2) vs male (1), control = "1": R coxph efron HR 0.588 (0.424, 0.816)."""
    comp = compare_arms(_lung_adtte(), AnalysisOptions(control_arm="1"))
    hr = _stat(comp, "2 vs 1", "HR")
    cox = lung_ref["cox"]["efron"]
    close(
        [hr["ESTIMATE"], hr["LOWER"], hr["UPPER"]],
        [cox["hr"], cox["hr_lower95"], cox["hr_upper95"]],
    )
    close(_stat(comp, "2 vs 1", "LOGRANK_P")["ESTIMATE"], lung_ref["survdiff"]["p"])


def test_whole_pipeline_tables_and_conventions() -> None:
    res = analyse_endpoints(_adsl(), _adrs())
    assert set(res.tables()) == {
        "adtte",
        "endpoints_by_arm",
        "endpoints_comparison",
        "numbers_at_risk",
    }
    orr = _stat(res.by_arm, "A", "ORR")
    assert (orr["X"], orr["N"]) == (1, 3)  # S2 PR of S1-S3
    dcr = _stat(res.by_arm, "B", "DCR")
    assert (dcr["X"], dcr["N"]) == (2, 4)  # S4, S7 SD; S5, S6 NE
    # DCR at 3 months: from day floor(91.3) - 7 = 84 (no schedule given); S2 SD on day 168
    # before any PD -> 1 of 3
    assert _stat(res.by_arm, "A", "DCR_3M")["X"] == 1
    diff = _stat(res.comparison, "A vs B", "ORR_DIFF")
    assert diff["ESTIMATE"] == pytest.approx(1 / 3)
    assert "Newcombe" in diff["METHOD"]
    # DOR exists in arm A only: a comparison is not estimable and says why
    assert "not estimable" in _stat(res.comparison, "A", "HR")["NOTE"]
    # PFS: arm B has no progression events -> monotone likelihood, reason given
    pfs = res.comparison.filter((pl.col("PARAMCD") == "PFS") & (pl.col("STATISTIC") == "HR"))
    assert pfs["ESTIMATE"][0] is None and "not estimable" in pfs["NOTE"][0]
    assert res.conventions()["ci_transform"] == "log"
    # no NaN anywhere: undefined values are nulls with a note
    for df in res.tables().values():
        for col, dtype in df.schema.items():
            if dtype == pl.Float64:
                assert not df[col].is_nan().any(), col
