"""ICANS by the ASTCT consensus for adults (Lee et al., Biol Blood Marrow Transplant
2019;25:625-638, table "ASTCT ICANS Consensus Grading for Adults" and its footnotes; ICE score
from the table "Encephalopathy Assessment Tools for Grading of ICANS")."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputError, InputErrors
from hcctrial.safety.crs import summarise_episodes
from hcctrial.safety.icans import (
    ICP_GRADES,
    LOC_GRADES,
    SEIZURE_GRADES,
    grade_icans_daily,
)


def _grade(**fields: object) -> int:
    row = {"USUBJID": "S1", "ADT": "2025-03-01", "ICE": 10} | fields
    return int(grade_icans_daily(pl.DataFrame([row]))["ICANSGR"][0])


@pytest.mark.parametrize(
    ("ice", "grade"),
    [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (1, 3), (0, 3)],
)
def test_ice_score_edges(ice: int, grade: int) -> None:
    """ICE 7-9 grade 1, 3-6 grade 2, 0-2 grade 3; 10 is no impairment (Lee 2019 ICANS table)."""
    assert _grade(ICE=ice) == grade


@pytest.mark.parametrize(
    ("fields", "grade"),
    [
        ({"LOC": "awakens-spontaneously"}, 1),
        ({"LOC": "awakens-to-voice"}, 2),
        ({"LOC": "awakens-to-tactile"}, 3),
        ({"LOC": "unarousable"}, 4),
        ({"SEIZURE": "resolves-rapidly"}, 3),
        ({"SEIZURE": "prolonged-or-repetitive"}, 4),
        ({"MOTOR": "deep-focal-weakness"}, 4),
        ({"ICP": "focal-edema"}, 3),
        ({"ICP": "diffuse-edema"}, 4),
        # Footnote: "a patient with an ICE score of 3 who has a generalized seizure is grade 3".
        ({"ICE": 3, "SEIZURE": "resolves-rapidly"}, 3),
        # Footnote: ICE 0 is grade 3 if awake with global aphasia, grade 4 if unarousable.
        ({"ICE": 0, "LOC": "alert"}, 3),
        ({"ICE": 0, "LOC": "unarousable"}, 4),
        # Footnote: depressed consciousness must not be due to another cause (sedation).
        ({"LOC": "unarousable", "LOCOTH": True}, 0),
        # Footnote: intracranial haemorrhage with oedema is excluded from ICANS grading.
        ({"ICP": "diffuse-edema", "ICPOTH": True, "ICE": 8}, 1),
        ({"DTHICANS": True}, 5),
    ],
)
def test_astct_icans_table(fields: dict[str, object], grade: int) -> None:
    assert _grade(**fields) == grade


def test_reason_names_the_deciding_domains() -> None:
    out = grade_icans_daily(
        pl.DataFrame([{"USUBJID": "S1", "ADT": "2025-03-01", "ICE": 5, "LOC": "awakens-to-voice"}])
    )
    assert out["ICANSRSN"][0] == "ICE, consciousness"


def test_episodes() -> None:
    start = dt.date(2025, 3, 1)
    ice = [10, 8, 4, 8, 10, 10, 6]
    df = pl.DataFrame(
        {"USUBJID": "S1", "ADT": [start + dt.timedelta(days=i) for i in range(7)], "ICE": ice}
    )
    daily = grade_icans_daily(df)
    assert daily["ICANSGR"].to_list() == [0, 1, 2, 1, 0, 0, 2]
    assert daily["ICANSEPI"].to_list() == [None, 1, 1, 1, None, None, 2]
    eps = summarise_episodes(daily, grade="ICANSGR", episode="ICANSEPI", syndrome="ICANS")
    assert eps.select("EPISODE", "ADURN", "MAXGR", "ONGOING").rows() == [
        (1, 3, 2, False),
        (2, 1, 2, True),
    ]


def test_bad_ice_and_category_are_reported() -> None:
    df = pl.DataFrame(
        {"USUBJID": ["S1", "S1"], "ADT": ["2025-03-01", "2025-03-02"], "ICE": [11, 4],
         "LOC": ["alert", "drowsy"]}
    )  # fmt: skip
    with pytest.raises(InputErrors) as err:
        grade_icans_daily(df, file="icans.csv")
    assert "row 1, column ICE" in str(err.value) and "row 2, column LOC" in str(err.value)


def test_no_domain_column() -> None:
    with pytest.raises(InputError, match="no ICANS domain"):
        grade_icans_daily(pl.DataFrame({"USUBJID": ["S1"], "ADT": ["2025-03-01"]}))


_LOC = sorted(LOC_GRADES, key=LOC_GRADES.__getitem__)
_SEIZ = sorted(SEIZURE_GRADES, key=SEIZURE_GRADES.__getitem__)
_ICP = sorted(ICP_GRADES, key=ICP_GRADES.__getitem__)


@settings(max_examples=60, deadline=None)
@given(
    ice=st.integers(0, 10),
    dice=st.integers(0, 10),
    loc=st.integers(0, 4),
    dloc=st.integers(0, 4),
    seiz=st.integers(0, 2),
    icp=st.integers(0, 2),
)
def test_worse_findings_never_lower_the_grade(
    ice: int, dice: int, loc: int, dloc: int, seiz: int, icp: int
) -> None:
    """Monotonicity: a lower ICE score or deeper depression of consciousness never lowers ICANS."""
    base = _grade(ICE=ice, LOC=_LOC[loc], SEIZURE=_SEIZ[seiz], ICP=_ICP[icp])
    worse = _grade(
        ICE=max(ice - dice, 0), LOC=_LOC[min(loc + dloc, 4)], SEIZURE=_SEIZ[seiz], ICP=_ICP[icp]
    )
    assert worse >= base
