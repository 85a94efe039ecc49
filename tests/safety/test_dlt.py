"""DLT rules evaluated over the DLT window (hand-built cases, expectations derived by hand)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError, InputErrors
from hcctrial.protocol import DLTRule, DLTSpec
from hcctrial.safety.crs import grade_crs_daily
from hcctrial.safety.dlt import dlt_counts, evaluate_dlt

D = dt.date


def _spec(**kw: object) -> DLTSpec:
    rules = [
        DLTRule(id="haem4-7d", description="grade 4 haematological lasting >= 7 days",
                category="haematological", min_grade=4, min_duration_days=7,
                exceptions=["Lymphocyte count decreased"]),
        DLTRule(id="nonhaem3", description="grade >= 3 non-haematological",
                category="non-haematological", min_grade=3, exceptions=["Alopecia"]),
        DLTRule(id="crs3", description="grade >= 3 CRS", category="crs", min_grade=3),
        DLTRule(id="death", description="treatment-related death", category="death", min_grade=5),
    ]  # fmt: skip
    return DLTSpec(window_days=28, rules=rules, definition="assumed", **kw)  # type: ignore[arg-type]


ADSL = pl.DataFrame(
    {
        "USUBJID": ["S1", "S2", "S3", "S4", "S5", "S6"],
        "DOSELVL": ["DL1", "DL1", "DL1", "DL2", "DL2", "DL2"],
        "TRTSDT": [D(2025, 1, 1)] * 4 + [None, D(2025, 1, 1)],
        "LSTALVDT": [D(2025, 6, 1)] * 5 + [D(2025, 1, 15)],
    }
)
AE = pl.DataFrame(
    {
        "USUBJID": ["S1", "S2", "S2", "S2", "S3", "S3", "S4", "S4"],
        "AEDECOD": [
            "Neutrophil count decreased", "Neutrophil count decreased",
            "Lymphocyte count decreased", "Alanine aminotransferase increased",
            "Alanine aminotransferase increased", "Fatigue", "Fatigue", "Cytokine release syndrome",
        ],
        "AETOXGR": [4, 4, 4, 3, 3, 3, 3, 4],
        "AESTDTC": ["2025-01-05", "2025-01-05", "2025-01-03", "2025-01-30", "2025-01-29",
                    "2025-01-10", "2025-01-02", "2025-01-03"],
        "AEENDTC": ["2025-01-11", "2025-01-10", "2025-01-20", "2025-02-05", "2025-02-02",
                    "2025-01-12", "2025-01-04", "2025-01-05"],
        "AEREL": ["RELATED", "RELATED", "RELATED", "RELATED", "POSSIBLE", "UNLIKELY",
                  "NOT RELATED", "RELATED"],
    }
)  # fmt: skip


def _run(**kw: object) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    crs = grade_crs_daily(
        pl.DataFrame(
            {"USUBJID": ["S4"] * 3, "ADT": ["2025-01-02", "2025-01-03", "2025-01-04"],
             "TEMP": [38.4, 39.0, 38.2], "VASOPN": [0, 1, 0]}
        )
    )  # fmt: skip
    res = evaluate_dlt(_spec(), ADSL, AE, crs=crs, data_cutoff=D(2025, 3, 1), **kw)  # type: ignore[arg-type]
    return res.subjects, res.events, res.problems


def test_subject_status() -> None:
    subjects, _, _ = _run()
    got = {r["USUBJID"]: (r["DLTFL"], r["DLTEVLFL"], r["DLTRULE"]) for r in subjects.to_dicts()}
    assert got == {
        # 1: neutropenia grade 4 from day 4 to day 10 = 7 days (>= 7): haematological DLT.
        "S1": ("Y", "Y", "haem4-7d"),
        # 2: neutropenia 6 days (< 7); lymphopenia is an exception; ALT on day 29 > window 28.
        "S2": ("N", "Y", None),
        # 3: ALT grade 3 on day 28 (the window's last day, inclusive), possibly related.
        "S3": ("Y", "Y", "nonhaem3"),
        # 4: CRS grade 3 (one vasopressor) on 2025-01-03 from the CRS table.
        "S4": ("Y", "Y", "crs3"),
        # 5: not infused: no window, not evaluable (kept, not dropped).
        "S5": ("N", "N", None),
        # 6: last known alive on day 14 without DLT: window not completed.
        "S6": ("N", "N", None),
    }
    s1 = subjects.filter(pl.col("USUBJID") == "S1").row(0, named=True)
    assert s1["DLTENDT"] == D(2025, 1, 29) and s1["DLTDT"] == D(2025, 1, 5)
    assert s1["DLTTERM"] == "Neutrophil count decreased" and s1["DLTGR"] == 4


def test_events_list_the_qualifying_event() -> None:
    _, events, _ = _run()
    s4 = events.filter(pl.col("USUBJID") == "S4")
    # The CRS AE row is not a non-haematological DLT because the protocol has a CRS rule;
    # the CRS rule reads the CRS table (1 day at grade >= 3).
    assert s4.select("DLTRULE", "SOURCE", "GRADE", "DURATION").rows() == [("crs3", "CRS", 3, 1)]
    s3 = events.filter(pl.col("USUBJID") == "S3").row(0, named=True)
    assert (s3["DLTDAY"], s3["SRCROW"], s3["SOURCE"]) == (28, 5, "AE")


def test_related_only_attribution_excludes_possible() -> None:
    res = evaluate_dlt(_spec(attribution="related"), ADSL, AE, data_cutoff=D(2025, 3, 1))
    assert res.subjects.filter(pl.col("USUBJID") == "S3")["DLTFL"][0] == "N"


def test_without_crs_table_the_crs_ae_is_used() -> None:
    res = evaluate_dlt(_spec(), ADSL, AE, data_cutoff=D(2025, 3, 1))
    s4 = res.events.filter(pl.col("USUBJID") == "S4")
    assert s4.select("DLTRULE", "SOURCE", "GRADE").rows() == [("crs3", "AE", 4)]


def test_window_from_last_infusion() -> None:
    adsl = ADSL.with_columns(pl.lit(D(2025, 1, 10)).alias("TRTEDT"))
    res = evaluate_dlt(_spec(window_start="last-infusion"), adsl, AE, data_cutoff=D(2025, 3, 1))
    # Window 2025-01-10..2025-02-07: the ALT of S2 on 2025-01-30 is now inside it.
    assert res.subjects.filter(pl.col("USUBJID") == "S2")["DLTFL"][0] == "Y"


def test_ongoing_duration_runs_to_cutoff() -> None:
    ae = AE.with_columns(
        pl.when(pl.col("USUBJID") == "S2").then(None).otherwise(pl.col("AEENDTC")).alias("AEENDTC")
    )
    early = evaluate_dlt(_spec(), ADSL, ae, data_cutoff=D(2025, 1, 8))
    late = evaluate_dlt(_spec(), ADSL, ae, data_cutoff=D(2025, 1, 11))
    # Ongoing neutropenia from 2025-01-05: 4 days at 01-08 (< 7), 7 days at 01-11.
    assert early.subjects.filter(pl.col("USUBJID") == "S2")["DLTFL"][0] == "N"
    assert late.subjects.filter(pl.col("USUBJID") == "S2")["DLTFL"][0] == "Y"


def test_missing_causality_counts_as_related_and_is_listed() -> None:
    ae = AE.with_columns(pl.lit(None, pl.Utf8).alias("AEREL")).head(1)
    res = evaluate_dlt(_spec(attribution="related"), ADSL, ae, data_cutoff=D(2025, 3, 1))
    assert res.subjects.filter(pl.col("USUBJID") == "S1")["DLTFL"][0] == "Y"
    assert res.problems.select("ROW", "COLUMN", "USUBJID").rows() == [(1, "AEREL", "S1")]


def test_unknown_subject_is_listed() -> None:
    ae = pl.concat([AE, AE.head(1).with_columns(pl.lit("S9").alias("USUBJID"))])
    res = evaluate_dlt(_spec(), ADSL, ae, data_cutoff=D(2025, 3, 1))
    assert res.problems.filter(pl.col("USUBJID") == "S9")["ROW"].to_list() == [9]


def test_grade_out_of_range_and_bad_causality() -> None:
    bad = AE.with_columns(pl.Series("AETOXGR", [4, 6, 4, 3, 3, 3, 3, 4]))
    with pytest.raises(InputErrors, match="row 2, column AETOXGR"):
        evaluate_dlt(_spec(), ADSL, bad, file="ae.csv")
    bad = AE.with_columns(pl.Series("AEREL", ["RELATED"] * 7 + ["perhaps"]))
    with pytest.raises(InputErrors, match="row 8, column AEREL"):
        evaluate_dlt(_spec(), ADSL, bad)


def test_missing_columns() -> None:
    with pytest.raises(InputErrors, match="column AESTDTC"):
        evaluate_dlt(_spec(), ADSL, AE.drop("AESTDTC"))
    with pytest.raises(InputError, match="TRTSDT"):
        evaluate_dlt(_spec(), ADSL.drop("TRTSDT"), AE)


def test_counts_per_dose_level() -> None:
    subjects, _, _ = _run()
    # DL2: S4 evaluable with a DLT; S5 never infused and S6 followed too short: not evaluable
    assert dlt_counts(subjects).rows() == [("DL1", 3, 3, 2, 0), ("DL2", 3, 1, 1, 2)]
    full = dlt_counts(subjects, levels=["DL1", "DL2", "DL3"])
    assert full.rows()[-1] == ("DL3", 0, 0, 0, 0)
