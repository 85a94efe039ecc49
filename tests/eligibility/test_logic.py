"""Kleene's strong three-valued logic against its published truth tables, and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcctrial.eligibility.logic import (
    Unknown,
    arithmetic,
    compare,
    kleene_and,
    kleene_not,
    kleene_or,
)

U = Unknown("missing")
T, F = True, False

# Kleene 1952, Introduction to Metamathematics, section 64 (strong tables); 'u' = unknown.
AND_TABLE = {
    (T, T): T, (T, F): F, (T, U): U,
    (F, T): F, (F, F): F, (F, U): F,
    (U, T): U, (U, F): F, (U, U): U,
}  # fmt: skip
OR_TABLE = {
    (T, T): T, (T, F): T, (T, U): T,
    (F, T): T, (F, F): F, (F, U): U,
    (U, T): T, (U, F): U, (U, U): U,
}  # fmt: skip


def _same(a: object, b: object) -> bool:
    return isinstance(a, Unknown) == isinstance(b, Unknown) and (isinstance(a, Unknown) or a == b)


@pytest.mark.parametrize(("pair", "expected"), AND_TABLE.items())
def test_and_truth_table(pair: tuple[object, object], expected: object) -> None:
    assert _same(kleene_and(list(pair)), expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(("pair", "expected"), OR_TABLE.items())
def test_or_truth_table(pair: tuple[object, object], expected: object) -> None:
    assert _same(kleene_or(list(pair)), expected)  # type: ignore[arg-type]


def test_not_keeps_unknown() -> None:
    assert kleene_not(T) is False and kleene_not(F) is True
    assert isinstance(kleene_not(U), Unknown)


def test_unknown_reasons_are_kept_once() -> None:
    merged = kleene_and([Unknown("no PLT result"), Unknown("no PLT result"), Unknown("stale")])
    assert isinstance(merged, Unknown)
    assert merged.reason == "no PLT result; stale"


def test_never_compares_as_long_ago() -> None:
    """days_since() gives None for 'never': a washout is met, 'within' is not."""
    assert compare(None, ">", 28) is True
    assert compare(None, "<", 180) is False
    assert compare(None, "==", 5) is False
    assert isinstance(compare(U, ">", 1), Unknown)


def test_arithmetic() -> None:
    assert arithmetic(3, "*", 1.5) == 4.5
    assert isinstance(arithmetic(1, "/", 0), Unknown)
    assert isinstance(arithmetic(U, "+", 1), Unknown)


values = st.sampled_from([T, F, U])


@given(values, values)
def test_de_morgan(a: object, b: object) -> None:
    assert _same(kleene_not(kleene_and([a, b])), kleene_or([kleene_not(a), kleene_not(b)]))  # type: ignore[list-item]


@given(values, values, values)
def test_and_or_commute_and_associate(a: object, b: object, c: object) -> None:
    assert _same(kleene_and([a, b]), kleene_and([b, a]))  # type: ignore[list-item]
    assert _same(kleene_or([a, b, c]), kleene_or([kleene_or([a, b]), c]))  # type: ignore[list-item]


@given(values)
def test_unknown_never_becomes_true_through_not_not(a: object) -> None:
    assert _same(kleene_not(kleene_not(a)), a)  # type: ignore[arg-type]
