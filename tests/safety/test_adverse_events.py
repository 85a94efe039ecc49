"""AE window, treatment-emergent flag, problems, incidence and SAEs on hand-built tables.

The window cases follow the IL1RAP CAR-T record (issue 7): AEs collected from PBMC collection
to 12 months after infusion, or 28 days after the procedure for those withdrawn before it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hcctrial.errors import InputError
from hcctrial.protocol import AEWindow
from hcctrial.safety.adverse_events import (
    ae_incidence,
    derive_ae_window,
    derive_subject_anchors,
    derive_treatment_emergent,
    serious_adverse_events,
)

D = dt.date

DM = pl.DataFrame(
    {
        "USUBJID": ["A", "B"],
        "RFICDTC": ["2024-01-02", "2024-01-05"],
        "ARM": ["CAR-T", "CAR-T"],
    }
)
PR = pl.DataFrame(
    {
        "USUBJID": ["A", "B"],
        "PRTRT": ["LEUKAPHERESIS FOR PBMC", "LEUKAPHERESIS FOR PBMC"],
        "PRSTDTC": ["2024-01-10", "2024-01-15"],
    }
)
EX = pl.DataFrame(
    {
        "USUBJID": ["A", "A"],
        "EXTRT": ["CYCLOPHOSPHAMIDE", "IL1RAP CAR-T CELLS"],
        "EXCAT": ["LYMPHODEPLETION", "CELL THERAPY"],
        "EXSTDTC": ["2024-01-28", "2024-02-01"],
    }
)
DS = pl.DataFrame(
    {
        "USUBJID": ["A", "B", "B"],
        "DSDECOD": [
            "INFORMED CONSENT OBTAINED",
            "INFORMED CONSENT OBTAINED",
            "WITHDRAWAL BY SUBJECT",
        ],
        "DSCAT": ["PROTOCOL MILESTONE", "PROTOCOL MILESTONE", "DISPOSITION EVENT"],
        "DSSTDTC": ["2024-01-02", "2024-01-05", "2024-01-30"],
    }
)
IL1RAP = AEWindow(
    start="pbmc-collection", end_after="first-infusion", end_days_after=365, untreated_days=28
)


def _anchors() -> pl.DataFrame:
    return derive_subject_anchors(DM, ds=DS, ex=EX, pr=PR)


def test_anchors() -> None:
    a = _anchors().sort("USUBJID")
    assert a["PBMCDT"].to_list() == [D(2024, 1, 10), D(2024, 1, 15)]
    assert a["TRTSDT"].to_list() == [D(2024, 2, 1), None]  # the cell-therapy record, not LD
    assert a["LSTDOSDT"].to_list() == [D(2024, 2, 1), None]
    assert a["CONSDT"].to_list() == [D(2024, 1, 2), D(2024, 1, 5)]
    assert a["WDDT"].to_list() == [None, D(2024, 1, 30)]


def test_window_infused_and_withdrawn_before_infusion() -> None:
    w = derive_ae_window(_anchors(), IL1RAP).sort("USUBJID")
    # A: 2024-02-01 + 365 days = 2025-01-31; B: never infused, 2024-01-15 + 28 = 2024-02-12,
    # ended at withdrawal 2024-01-30.
    assert w["AEWSTDT"].to_list() == [D(2024, 1, 10), D(2024, 1, 15)]
    assert w["AEWENDT"].to_list() == [D(2025, 1, 31), D(2024, 1, 30)]
    keep = IL1RAP.model_copy(update={"ends_at_withdrawal": False})
    assert derive_ae_window(_anchors(), keep).sort("USUBJID")["AEWENDT"][1] == D(2024, 2, 12)


def _ae(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    cols = ("USUBJID", "AEDECOD", "AEBODSYS", "AETOXGR", "AESTDTC", "AESER", "AEREL")
    return pl.DataFrame(
        {c: [r[i] for r in rows] for i, c in enumerate(cols)},
        schema={c: pl.String for c in cols},
    )


def test_treatment_emergent_edges() -> None:
    ae = _ae(
        [
            ("A", "Fever", "General", "1", "2024-01-09", "N", "NOT RELATED"),  # day before start
            ("A", "Fever", "General", "1", "2024-01-10", "N", "NOT RELATED"),  # start day
            ("A", "Fever", "General", "2", "2025-01-31", "N", "RELATED"),  # last day
            ("A", "Fever", "General", "2", "2025-02-01", "N", "RELATED"),  # day after end
            ("B", "Nausea", "GI", "1", "2024-01-29", "N", "UNLIKELY RELATED"),
            ("B", "Nausea", "GI", "1", "2024-01-31", "N", "POSSIBLY RELATED"),  # after withdrawal
        ]
    )
    res = derive_treatment_emergent(ae, derive_ae_window(_anchors(), IL1RAP))
    assert res.ae["TRTEMFL"].to_list() == ["N", "Y", "Y", "N", "Y", "N"]
    assert res.ae["AETOXGR"].dtype == pl.Int8
    assert res.ae["AERELGR"].to_list() == [
        "NOT RELATED", "NOT RELATED", "RELATED", "RELATED", "NOT RELATED", "RELATED",
    ]  # fmt: skip
    assert res.ae.height == ae.height and res.problems.height == 0


def test_bad_ae_rows_are_reported_with_where() -> None:
    ae = _ae(
        [
            ("A", "Fever", "General", "6", "2024-01-12", "N", "RELATED"),  # grade out of range
            ("A", "Fever", "General", "2.5", "2024-01-12", "N", "RELATED"),  # not a grade
            ("A", "Rash", "Skin", "1", "2023-12-30", "N", "RELATED"),  # before consent
            ("A", "Rash", "Skin", "1", None, "N", "MAYBE"),  # no onset, unknown relatedness
        ]
    )
    res = derive_treatment_emergent(ae, derive_ae_window(_anchors(), IL1RAP))
    assert res.ae.height == 4
    assert res.ae["AETOXGR"].to_list() == [None, None, 1, 1]
    assert res.ae["TRTEMFL"].to_list() == ["Y", "Y", "N", "Y"]
    p = res.problems
    got = set(zip(p["ROW"].to_list(), p["COLUMN"].to_list(), p["MESSAGE"].to_list(), strict=True))
    assert (1, "AETOXGR", "AE grade out of range") in got
    assert (2, "AETOXGR", "AE grade out of range") in got
    assert (3, "AESTDTC", "AE starts before informed consent") in got
    assert (4, "AESTDTC", "AE onset date missing") in got
    assert (4, "AEREL", "relatedness not recognised") in got
    assert set(p["USUBJID"]) == {"A"}
    assert p.filter(pl.col("ROW") == 1)["VALUE"].to_list() == ["6"]


def test_missing_columns() -> None:
    with pytest.raises(InputError, match="AE lacks column"):
        derive_treatment_emergent(
            pl.DataFrame({"USUBJID": ["A"]}), derive_ae_window(_anchors(), IL1RAP)
        )


def test_incidence_counts_subjects_by_worst_grade() -> None:
    """Arm X: S1 (Fever grades 1 and 3, Rash 2), S2 (Fever 1), S3 (none); arm Y: S4 (Fever 4).
    Fever in X: 2 of 3 subjects (66.7 %), worst grades 3 and 1; any AE in X: 2 of 3."""
    subjects = pl.DataFrame({"USUBJID": ["S1", "S2", "S3", "S4"], "ARM": ["X", "X", "X", "Y"]})
    ae = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S1", "S2", "S4", "S2"],
            "AEBODSYS": ["General", "General", "Skin", "General", "General", "General"],
            "AEDECOD": ["Fever", "Fever", "Rash", "Fever", "Fever", "Fever"],
            "AETOXGR": pl.Series([1, 3, 2, 1, 4, 5], dtype=pl.Int8),
            "TRTEMFL": ["Y", "Y", "Y", "Y", "Y", "N"],  # the grade 5 is not treatment-emergent
            "AERELGR": ["RELATED", "NOT RELATED", "RELATED", "RELATED", "RELATED", "RELATED"],
            "AESER": ["N", "Y", "N", "N", "Y", "Y"],
        }
    )
    inc = ae_incidence(ae, subjects)
    fever_x = inc.filter((pl.col("ARM") == "X") & (pl.col("AEDECOD") == "Fever")).row(0, named=True)
    assert (fever_x["N"], fever_x["n"], fever_x["PCT"]) == (3, 2, 66.7)
    assert (fever_x["GR1"], fever_x["GR3"], fever_x["GR5"], fever_x["GR3PL"]) == (1, 1, 0, 1)
    any_x = inc.filter((pl.col("ARM") == "X") & (pl.col("LEVEL") == "ANY")).row(0, named=True)
    assert (any_x["n"], any_x["GR3"], any_x["GR1"]) == (2, 1, 1)
    fever_y = inc.filter((pl.col("ARM") == "Y") & (pl.col("AEDECOD") == "Fever")).row(0, named=True)
    assert (fever_y["N"], fever_y["n"], fever_y["GR4"], fever_y["PCT"]) == (1, 1, 1, 100.0)
    related = ae_incidence(ae, subjects, related_only=True)
    rel_fever = related.filter((pl.col("ARM") == "X") & (pl.col("AEDECOD") == "Fever"))
    assert rel_fever["GR1"].to_list() == [2]  # S1's grade 3 fever was not related
    sae = serious_adverse_events(ae)
    assert sae["USUBJID"].to_list() == ["S1", "S4", "S2"]  # treatment-emergent first
