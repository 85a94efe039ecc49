"""Errors that users see.

Every problem with a user's input is an :class:`InputError` that names where it is (file, row,
column or YAML path) and what was expected. The CLI turns it into a message and exit code 1;
it never shows a traceback for bad input. Several problems found in one pass are collected into
one :class:`InputErrors` so the user can fix them all at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a user's input, located as precisely as the input allows.

    ``row`` is 1-based and counts data rows (the header is row 0) so it matches what a user
    sees in a spreadsheet below the header line.
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None
    value: object = None
    subject: str | None = None

    def location(self) -> str:
        """Where the problem is, as ``file, row N, column C, subject S``."""
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        if self.subject:
            parts.append(f"subject {self.subject}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class HcctrialError(Exception):
    """Base class of all errors raised on purpose by hcctrial."""


class InputError(HcctrialError, ValueError):
    """A user's input is wrong; the message says where and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        value: object = None,
        subject: str | None = None,
    ) -> None:
        self.problem = Problem(
            message=message,
            file=file,
            row=row,
            column=column,
            expected=expected,
            value=value,
            subject=subject,
        )
        super().__init__(str(self.problem))


class InputErrors(InputError):
    """Several input problems found in one pass (reported together, first ten in the text)."""

    def __init__(self, problems: Iterable[Problem], *, context: str | None = None) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("InputErrors needs at least one problem")
        head = f"{len(self.problems)} problem(s)" + (f" in {context}" if context else "")
        lines = [head + ":"] + [f"  - {p}" for p in self.problems[:10]]
        if len(self.problems) > 10:
            lines.append(f"  ... and {len(self.problems) - 10} more")
        HcctrialError.__init__(self, "\n".join(lines))
        self.problem = self.problems[0]


class UnitError(InputError):
    """A unit is unknown, or does not fit the analyte it is attached to."""
