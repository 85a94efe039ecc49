"""Three-valued (Kleene) logic and the values the evaluator passes around.

A value is a number, a text, a bool, ``None`` (only from ``days_since``: the event never
happened, which compares as "long ago") or :class:`Unknown` carrying why it is unknown
(missing, older than the look-back window, unknown unit, invalid input). Kleene's strong
three-valued logic (Kleene 1952, *Introduction to Metamathematics*, section 64) decides
``and``/``or``/``not``: ``False and unknown`` is False, ``True or unknown`` is True, anything
else with an unknown operand is unknown. SQL's NULL logic is the same, which is why the OMOP
compilation agrees with this evaluator.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Unknown", "Value", "arithmetic", "compare", "kleene_and", "kleene_not", "kleene_or"]


@dataclass(frozen=True)
class Unknown:
    """A value that data cannot give, with the reason (shown to the coordinator)."""

    reason: str

    def __str__(self) -> str:
        return f"unknown ({self.reason})"


Value = float | int | str | bool | None | Unknown


def _merge(unknowns: Sequence[Unknown]) -> Unknown:
    reasons: list[str] = []
    for u in unknowns:
        for part in u.reason.split("; "):
            if part not in reasons:
                reasons.append(part)
    return Unknown("; ".join(reasons))


def kleene_and(values: Sequence[Value]) -> bool | Unknown:
    """Kleene conjunction: False if any operand is False, else unknown if any is unknown."""
    if any(v is False for v in values):
        return False
    unknowns = [v for v in values if isinstance(v, Unknown)]
    return _merge(unknowns) if unknowns else True


def kleene_or(values: Sequence[Value]) -> bool | Unknown:
    """Kleene disjunction: True if any operand is True, else unknown if any is unknown."""
    if any(v is True for v in values):
        return True
    unknowns = [v for v in values if isinstance(v, Unknown)]
    return _merge(unknowns) if unknowns else False


def kleene_not(value: Value) -> bool | Unknown:
    """Kleene negation: unknown stays unknown."""
    return value if isinstance(value, Unknown) else not value


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def compare(left: Value, op: str, right: Value) -> bool | Unknown:
    """Compare two values; unknown if either is unknown.

    ``None`` (an event that never happened, from ``days_since``) compares as +infinity: a
    washout such as ``days_since("chemotherapy") > 28`` is met, ``== n`` is False.
    """
    if isinstance(left, Unknown) or isinstance(right, Unknown):
        return _merge([v for v in (left, right) if isinstance(v, Unknown)])
    lhs = float("inf") if left is None else left
    rhs = float("inf") if right is None else right
    return bool(_COMPARE[op](lhs, rhs))


def arithmetic(left: Value, op: str, right: Value) -> Value:
    """``+ - * /`` on numbers; unknown if either is unknown or on division by zero."""
    if isinstance(left, Unknown) or isinstance(right, Unknown):
        return _merge([v for v in (left, right) if isinstance(v, Unknown)])
    if left is None or right is None:
        return None
    assert isinstance(left, int | float) and isinstance(right, int | float)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return Unknown("division by zero")
    return left / right
