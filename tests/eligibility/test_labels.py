"""The per-person texts of the population screen (``DETAIL``, ``PROBLEMS``) against a plain
per-row construction: every set flag's label, in order, joined by the separator."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.eligibility.omop.checks import flag_labels
from hcctrial.eligibility.omop.population import detail_text

# up to 130 flags: three 62-bit words, the last byte of a word partly used
_rows = st.integers(min_value=1, max_value=130).flatmap(
    lambda width: st.lists(
        st.lists(st.one_of(st.none(), st.booleans()), min_size=width, max_size=width),
        min_size=1,
        max_size=25,
    )
)


@settings(max_examples=60, deadline=None)
@given(_rows)
def test_flag_labels_name_the_set_flags_in_order(rows: list[list[bool | None]]) -> None:
    width = len(rows[0])
    table = pl.DataFrame(
        {f"f{j}": [row[j] for row in rows] for j in range(width)},
        schema={f"f{j}": pl.Boolean for j in range(width)},
    )
    flags = [(pl.col(f"f{j}"), f"L{j}") for j in range(width)]
    expected = [", ".join(f"L{j}" for j, v in enumerate(row) if v) for row in rows]
    assert flag_labels(table, flags, ", ").to_list() == expected


def test_flag_labels_without_flags_are_empty() -> None:
    assert flag_labels(pl.DataFrame({"a": [1, 2]}), [], "; ").to_list() == ["", ""]


_details = st.sampled_from(
    [
        "fails a criterion",
        "unknown criteria",
        "input problems",
        "eligible pending investigator judgement",
        "meets every criterion",
        "record problem: duplicate person id",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_details, st.lists(st.one_of(st.none(), st.booleans()), min_size=4, max_size=4)),
        min_size=1,
        max_size=30,
    )
)
def test_detail_names_the_failed_or_unknown_criteria(
    rows: list[tuple[str, list[bool | None]]],
) -> None:
    """IN-A/IN-B are inclusions (fail when false), EX-C an exclusion (fails when true), EX-J
    is left to the investigator (its column is always null)."""
    criteria = [
        SimpleNamespace(id="IN-A", kind="inclusion", expression=object()),
        SimpleNamespace(id="EX-C", kind="exclusion", expression=object()),
        SimpleNamespace(id="IN-B", kind="inclusion", expression=object()),
        SimpleNamespace(id="EX-J", kind="exclusion", expression=None),
    ]
    columns = {c.id: f"c{i}" for i, c in enumerate(criteria)}
    table = pl.DataFrame(
        {
            "DETAIL": [d for d, _ in rows],
            **{f"c{i}": [v[i] if i < 3 else None for _, v in rows] for i in range(4)},
        },
        schema={"DETAIL": pl.Utf8, **{f"c{i}": pl.Boolean for i in range(4)}},
    )
    expected = []
    for detail, values in rows:
        decided = list(zip(criteria[:3], values[:3], strict=True))
        if detail == "fails a criterion":
            failed = [c.id for c, v in decided if v is not None and v == (c.kind == "exclusion")]
            expected.append("fails " + ", ".join(failed))
        elif detail == "unknown criteria":
            expected.append("unknown: " + ", ".join(c.id for c, v in decided if v is None))
        elif detail == "eligible pending investigator judgement":
            expected.append("eligible pending investigator judgement (EX-J)")
        else:
            expected.append(detail)
    assert detail_text(table, criteria, columns).to_list() == expected
