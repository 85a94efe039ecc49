"""Invariants of calendars (hypothesis): the vectorised many-subject path equals one calendar
per subject, dates sit inside their windows, amounts equal the shared dose calculation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hcctrial import builtin_protocols
from hcctrial.clinical import calculate_dose
from hcctrial.protocol import Protocol
from hcctrial.schedule import build_calendar, build_calendars

subject = st.tuples(
    st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)),
    st.floats(140, 200),
    st.floats(35, 150),
    st.sampled_from(["inkt-tace", "tace"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(subject, min_size=1, max_size=6))
# found by hypothesis: polars divided the many-subject BSA column by 3600 as a product with
# its reciprocal, one unit in the last place off the one-subject calendar
@example(
    rows=[
        (dt.date(2000, 1, 1), 140.0, 35.0, "inkt-tace"),
        (dt.date(2000, 1, 1), 193.88676169012774, 143.02363040348123, "inkt-tace"),
    ]
)
def test_vectorised_equals_per_subject(
    inkt: Protocol, rows: list[tuple[dt.date, float, float, str]]
) -> None:
    subjects = pl.DataFrame(
        {
            "USUBJID": [f"S{i}" for i in range(len(rows))],
            "ANCHORDT": [r[0] for r in rows],
            "HEIGHTBL": [r[1] for r in rows],
            "WEIGHTBL": [r[2] for r in rows],
            "ARM": [r[3] for r in rows],
        }
    )
    many = build_calendars(inkt, subjects)
    one_by_one = pl.concat(
        [
            build_calendar(inkt, arm, start, h, w, usubjid=f"S{i}")
            for i, (start, h, w, arm) in enumerate(rows)
        ]
    )
    assert many.equals(one_by_one)
    assert (many["WINLODT"] <= many["PLANDT"]).all()
    assert (many["PLANDT"] <= many["WINHIDT"]).all()
    anchor = dict(zip(subjects["USUBJID"], subjects["ANCHORDT"], strict=True))
    for row in many.filter(pl.col("EXDOSE").is_not_null()).iter_rows(named=True):
        assert row["PLANDT"] - anchor[row["USUBJID"]] == dt.timedelta(days=row["DAY"])
        i = int(row["USUBJID"][1:])
        expected = calculate_dose(
            row["DOSE"], row["DOSEU"], height_cm=rows[i][1], weight_kg=rows[i][2]
        )
        assert row["EXDOSE"] == pytest.approx(expected.amount, rel=1e-12)


def test_builtin_seed_protocols_build() -> None:
    """Every built-in seed protocol that has landed gives a calendar for every arm."""
    protocols = builtin_protocols()
    if not protocols:
        pytest.skip("no built-in protocol files present yet")
    for protocol in protocols.values():
        levels = [d.id for d in protocol.dose_levels] or [None]
        for arm in protocol.arms:
            cal = build_calendar(protocol, arm.id, "2026-01-05", 170, 70, dose_level=levels[0])
            assert cal.height > 0
            assert cal.filter(pl.col("KIND") == "assessment").height > 0, protocol.id
