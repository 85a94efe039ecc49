"""Input checks shared by the calculators: numbers in range, categories, strict expressions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from hcctrial.errors import InputError, Problem, UnitError

# polars re-raises an exception from inside an expression as ``type(exc)(message + note)``,
# which would lose the location fields and add a dump of the expression. These subclasses
# recover the original problem from the message head, so callers see the clean error.
_POLARS_NOTE = "\n\nThis error occurred"
_PENDING: dict[str, Problem] = {}


class _ExprErrorMixin:
    def __init__(self, message: str, **fields: Any) -> None:
        if not fields and _POLARS_NOTE in message:
            head = message.split(_POLARS_NOTE, 1)[0]
            problem = _PENDING.get(head)
            message = head
            if problem is not None:
                message = problem.message
                fields = {
                    "file": problem.file,
                    "row": problem.row,
                    "column": problem.column,
                    "expected": problem.expected,
                    "value": problem.value,
                    "subject": problem.subject,
                }
        super().__init__(message, **fields)  # type: ignore[call-arg]
        problem = self.problem  # type: ignore[attr-defined]
        if len(_PENDING) > 256:
            _PENDING.clear()
        _PENDING[str(problem)] = problem


class ExprInputError(_ExprErrorMixin, InputError):
    """An :class:`InputError` raised inside a polars expression."""


class ExprUnitError(_ExprErrorMixin, UnitError):
    """A :class:`UnitError` raised inside a polars expression."""


def number(
    name: str,
    value: object,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a float, or :class:`InputError` naming it, its unit and the range expected.

    ``low_open``: the lower bound is excluded (``> low``), e.g. a weight must be > 0.
    """
    unit_text = f" {unit}" if unit else ""
    expected = _range_text(low, high, low_open, unit_text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            import numpy as np

            if isinstance(value, np.number) and not isinstance(value, np.bool_):
                value = float(value)
            else:
                raise TypeError
        except TypeError:
            raise InputError(f"{name} is not a number", value=value, expected=expected) from None
    x = float(value)
    if not math.isfinite(x):
        raise InputError(f"{name} is not finite", value=value, expected=expected)
    too_low = low is not None and (x <= low if low_open else x < low)
    too_high = high is not None and x > high
    if too_low or too_high:
        message = f"{name} is out of range"
        if hint:
            message += f" ({hint})"
        raise InputError(message, value=value, expected=expected)
    return x


def _range_text(low: float | None, high: float | None, low_open: bool, unit: str) -> str:
    if low is not None and high is not None:
        return f"{'>' if low_open else '>='} {low:g} and <= {high:g}{unit}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}{unit}"
    if high is not None:
        return f"<= {high:g}{unit}"
    return f"a number{unit}"


def category(name: str, value: object, choices: Mapping[str, Any]) -> Any:
    """Look a category up case- and space-insensitively; :class:`InputError` lists the choices."""
    key = _category_key(value)
    if key in choices:
        return choices[key]
    raise InputError(
        f"unknown {name}",
        value=value,
        expected="one of " + ", ".join(sorted({str(k) for k in choices if k})),
    )


def _category_key(value: object) -> str:
    text = str(value).strip().lower()
    for sep in (" ", "_", "–", "—"):
        text = text.replace(sep, "-")
    while "--" in text:
        text = text.replace("--", "-")
    return text


def category_expr(
    col: pl.Expr, choices: Mapping[str, Any], dtype: pl.DataType | type[pl.DataType]
) -> pl.Expr:
    """Map a text column through ``choices`` (same normalisation as :func:`category`).

    Unknown non-null values map to null; pair with :func:`strict` to refuse them.
    """
    key = (
        col.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[ _–—]+", "-")
        .str.replace_all(r"-+", "-")
    )
    return key.replace_strict(dict(choices), default=None, return_dtype=dtype)


def strict(
    result: pl.Expr, checks: list[tuple[pl.Expr, str, str]], dtype: pl.DataType | type[pl.DataType]
) -> pl.Expr:
    """``result``, but evaluation raises :class:`InputError` when any check's ``bad`` is true.

    ``checks``: (bad-row expression, what is wrong, what was expected). Rows where ``bad`` is
    null are not flagged (missing input gives a null result, as three-valued logic wants).
    The error names the count of rows and the first one (1-based, within the frame evaluated).
    """
    fields = [result.alias("_result")] + [
        bad.fill_null(False).alias(f"_bad{i}") for i, (bad, _, _) in enumerate(checks)
    ]

    def _apply(batch: pl.Series) -> pl.Series:
        df = batch.struct.unnest()
        for i, (_, what, expected) in enumerate(checks):
            flags = df[f"_bad{i}"]
            if flags.any():
                rows = flags.arg_true()
                raise ExprInputError(
                    f"{what} in {len(rows)} row(s), first at row {int(rows[0]) + 1}",
                    expected=expected,
                )
        return df["_result"].alias(batch.name)

    try:
        name = result.meta.output_name()
    except pl.exceptions.ComputeError:
        name = "result"
    return pl.struct(fields).map_batches(_apply, return_dtype=dtype).alias(name)


def col(c: str | pl.Expr) -> pl.Expr:
    """A column name or an expression, as an expression."""
    return pl.col(c) if isinstance(c, str) else c
