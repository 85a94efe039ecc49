"""CRS by the ASTCT consensus (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638).

Expected grades are read off the table "ASTCT CRS Consensus Grading" and its footnotes
(fever >= 38 C; low-flow nasal cannula <= 6 L/min, high-flow > 6 L/min; "a febrile patient on a
single vasopressor and low-flow nasal cannula" is grade 3; fever no longer required once CRS is
established and antipyretic or anti-cytokine therapy is given).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.errors import InputErrors
from hcctrial.safety.crs import (
    O2_DEVICES,
    episode_overlaps,
    grade_crs_daily,
    summarise_episodes,
    summarise_subjects,
)


def _one_day(**fields: object) -> int:
    row = {"USUBJID": "S1", "ADT": "2025-03-01", "TEMP": 38.5} | fields
    out = grade_crs_daily(pl.DataFrame([row]))
    return int(out["CRSGR"][0])


@pytest.mark.parametrize(
    ("case", "fields", "grade"),
    [
        ("1: fever, no hypotension, no hypoxia", {}, 1),
        ("2: hypotension not requiring vasopressors", {"HYPOTN": True}, 2),
        (
            "2: low-flow nasal cannula 6 L/min (<= 6 is low)",
            {"O2DEV": "nasal-cannula", "O2FLOW": 6.0},
            2,
        ),
        ("2: blow-by oxygen", {"O2DEV": "blow-by"}, 2),
        ("2: nasal cannula, flow not recorded", {"O2DEV": "nasal-cannula"}, 2),
        ("3: one vasopressor", {"HYPOTN": True, "VASOPN": 1}, 3),
        ("3: one vasopressor with vasopressin", {"HYPOTN": True, "VASOPN": 1, "VASOPRSN": True}, 3),
        ("3: vasopressin alone is 'a vasopressor'", {"HYPOTN": True, "VASOPRSN": True}, 3),
        (
            "3: nasal cannula 6.5 L/min (> 6 is high flow)",
            {"O2DEV": "nasal-cannula", "O2FLOW": 6.5},
            3,
        ),
        ("3: high-flow nasal cannula", {"O2DEV": "high-flow-nasal-cannula"}, 3),
        ("3: facemask", {"O2DEV": "facemask"}, 3),
        ("3: nonrebreather mask", {"O2DEV": "nonrebreather"}, 3),
        ("3: Venturi mask", {"O2DEV": "venturi"}, 3),
        (
            "3: footnote example, one pressor and low-flow NC",
            {"VASOPN": 1, "O2DEV": "nasal-cannula", "O2FLOW": 2.0},
            3,
        ),
        ("4: two vasopressors", {"HYPOTN": True, "VASOPN": 2}, 4),
        ("4: CPAP", {"O2DEV": "cpap"}, 4),
        ("4: BiPAP", {"O2DEV": "bipap"}, 4),
        ("4: mechanical ventilation", {"O2DEV": "mechanical-ventilation"}, 4),
        ("4: more severe of the two domains", {"HYPOTN": True, "O2DEV": "cpap"}, 4),
        ("5: death due to CRS", {"DTHCRS": True}, 5),
        ("high-dose flag does not change the ASTCT grade", {"VASOPN": 1, "VASOHD": True}, 3),
        (
            "hypoxia attributable to another cause is ignored",
            {"O2DEV": "cpap", "HYPOXOTH": True},
            1,
        ),
        ("hypotension attributable to another cause", {"VASOPN": 2, "HYPOTOTH": True}, 1),
        ("fever attributable to another cause: no CRS", {"FEVOTH": True, "HYPOTN": True}, 0),
    ],
)
def test_astct_crs_table(case: str, fields: dict[str, object], grade: int) -> None:
    assert _one_day(**fields) == grade, case


@pytest.mark.parametrize(("temp", "grade"), [(37.9, 0), (37.99, 0), (38.0, 1), (40.5, 1)])
def test_fever_edge_38(temp: float, grade: int) -> None:
    """Lee 2019 footnote: fever is temperature >= 38 C (38.0 counts, 37.9 does not)."""
    assert _one_day(TEMP=temp) == grade


def test_high_flow_device_with_low_flow_is_low_flow() -> None:
    """Lee 2019 defines high flow by rate (> 6 L/min), so 5 L/min through an HFNC is low flow."""
    assert _one_day(O2DEV="high-flow-nasal-cannula", O2FLOW=5.0) == 2


def test_no_fever_no_crs_even_with_hypotension() -> None:
    assert _one_day(TEMP=37.0, VASOPN=2) == 0


def _days(rows: list[dict[str, object]]) -> pl.DataFrame:
    start = dt.date(2025, 3, 1)
    return pl.DataFrame(
        [{"USUBJID": "S1", "ADT": start + dt.timedelta(days=i)} | r for i, r in enumerate(rows)]
    )


def test_fever_masked_by_tocilizumab_does_not_downgrade() -> None:
    """Day 1 fever (G1), day 2 fever + hypotension + tocilizumab (G2), day 3 afebrile on one
    vasopressor: masked, grade 3 (not 0); day 4 afebrile without hypotension/hypoxia: resolved."""
    daily = grade_crs_daily(
        _days(
            [
                {"TEMP": 38.6},
                {"TEMP": 39.1, "HYPOTN": True, "ANTICYT": True},
                {"TEMP": 37.2, "HYPOTN": True, "VASOPN": 1},
                {"TEMP": 36.9},
            ]
        )
    )
    assert daily["CRSGR"].to_list() == [1, 2, 3, 0]
    assert daily["FEVMASK"].to_list() == [False, False, True, False]
    assert daily["CRSEPI"].to_list() == [1, 1, 1, None]


def test_antipyretic_before_any_crs_does_not_mask() -> None:
    """Masking applies to 'patients who have CRS then receive' therapy (Lee 2019 footnote)."""
    daily = grade_crs_daily(
        _days([{"TEMP": 37.0, "ANTIPYR": True}, {"TEMP": 37.1, "HYPOTN": True, "VASOPN": 1}])
    )
    assert daily["CRSGR"].to_list() == [0, 0]


def test_masking_ends_with_the_episode() -> None:
    daily = grade_crs_daily(
        _days(
            [
                {"TEMP": 38.5, "ANTIPYR": True},
                {"TEMP": 37.0},  # resolved: episode 1 ends, masking with it
                {"TEMP": 37.0, "HYPOTN": True},  # no fever, not masked: not CRS
                {"TEMP": 38.2, "O2DEV": "facemask"},  # episode 2
            ]
        )
    )
    assert daily["CRSGR"].to_list() == [1, 0, 0, 3]
    assert daily["CRSEPI"].to_list() == [1, None, None, 2]


def test_episodes_onset_duration_max_and_subject_summary() -> None:
    rows = [
        {"TEMP": 37.0},
        {"TEMP": 38.3},
        {"TEMP": 38.9, "O2DEV": "nasal-cannula", "O2FLOW": 8},
        {"TEMP": 38.1},
        {"TEMP": 36.8},
        {"TEMP": 38.4},
    ]
    eps = summarise_episodes(grade_crs_daily(_days(rows)))
    assert eps.height == 2
    first, second = eps.row(0, named=True), eps.row(1, named=True)
    assert first["ASTDT"] == dt.date(2025, 3, 2) and first["AENDT"] == dt.date(2025, 3, 4)
    assert (first["ADURN"], first["MAXGR"], first["ONGOING"]) == (3, 3, False)
    assert first["MAXGRDT"] == dt.date(2025, 3, 3)
    assert (second["ADURN"], second["MAXGR"], second["ONGOING"]) == (1, 1, True)
    subj = summarise_subjects(eps).row(0, named=True)
    assert (subj["NEPISODES"], subj["MAXGR"], subj["NDAYS"]) == (2, 3, 4)
    assert subj["FIRSTONSET"] == dt.date(2025, 3, 2)


def test_several_rows_of_one_day_take_the_worst() -> None:
    df = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S1"],
            "ADT": ["2025-03-01", "2025-03-01", "2025-03-01"],
            "TEMP": [37.5, 38.4, None],
            "O2DEV": [None, "nasal-cannula", "cpap"],
            "HYPOTN": ["N", "Y", None],
        }
    )
    out = grade_crs_daily(df)
    assert out.height == 1 and out["CRSGR"][0] == 4 and out["TEMP"][0] == 38.4


def test_bad_input_names_rows_and_columns() -> None:
    df = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S2"],
            "ADT": ["2025-03-01", "2025-03", "2025-03-01"],
            "TEMP": ["38.2", "abc", "38.0"],
            "O2DEV": ["mask?", None, None],
            "HYPOTN": ["Y", "maybe", "N"],
        }
    )
    with pytest.raises(InputErrors) as err:
        grade_crs_daily(df, file="crs.csv")
    text = str(err.value)
    assert "crs.csv, row 2, column ADT" in text
    assert "row 2, column TEMP" in text and "row 1, column O2DEV" in text
    assert "row 2, column HYPOTN" in text


def test_fahrenheit_temperature_is_refused() -> None:
    with pytest.raises(InputErrors, match="Fahrenheit"):
        _one_day(TEMP=101.3)


def test_missing_required_column() -> None:
    with pytest.raises(InputErrors, match="column TEMP"):
        grade_crs_daily(pl.DataFrame({"USUBJID": ["S1"], "ADT": ["2025-03-01"]}))


def test_pandas_input_accepted() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"USUBJID": ["S1"], "ADT": ["2025-03-01"], "TEMP": [38.0]})
    assert grade_crs_daily(df)["CRSGR"].to_list() == [1]


def test_recorded_episode_overlaps_are_reported() -> None:
    eps = pl.DataFrame(
        {
            "USUBJID": ["S1", "S1", "S1", "S2"],
            "ASTDT": [
                dt.date(2025, 3, 1),
                dt.date(2025, 3, 4),
                dt.date(2025, 3, 10),
                dt.date(2025, 3, 1),
            ],
            "AENDT": [dt.date(2025, 3, 5), dt.date(2025, 3, 6), None, dt.date(2025, 3, 2)],
        }
    )
    out = episode_overlaps(eps)
    assert out.select("USUBJID", "ROW1", "ROW2").rows() == [("S1", 1, 2)]


_DEVICE_ORDER = sorted(O2_DEVICES, key=O2_DEVICES.__getitem__)


@settings(max_examples=60, deadline=None)
@given(
    temp=st.floats(35.0, 41.0),
    dtemp=st.floats(0.0, 3.0),
    pressors=st.integers(0, 3),
    dpressors=st.integers(0, 2),
    device=st.integers(0, len(_DEVICE_ORDER) - 1),
    ddevice=st.integers(0, len(_DEVICE_ORDER) - 1),
    hypotn=st.booleans(),
)
def test_more_severe_findings_never_lower_the_grade(
    temp: float,
    dtemp: float,
    pressors: int,
    dpressors: int,
    device: int,
    ddevice: int,
    hypotn: bool,
) -> None:
    """Monotonicity: a hotter day, more vasopressors or more oxygen support never lowers CRS."""
    worse_device = max(device, min(device + ddevice, len(_DEVICE_ORDER) - 1))
    base = _one_day(TEMP=temp, VASOPN=pressors, HYPOTN=hypotn, O2DEV=_DEVICE_ORDER[device])
    worse = _one_day(
        TEMP=min(temp + dtemp, 44.9),
        VASOPN=pressors + dpressors,
        HYPOTN=hypotn,
        O2DEV=_DEVICE_ORDER[worse_device],
    )
    assert worse >= base
