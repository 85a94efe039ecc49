"""User-facing errors name where the problem is and what was expected."""

from __future__ import annotations

import pytest

from hcctrial.cli import main
from hcctrial.errors import InputError, InputErrors, Problem


def test_input_error_message_names_everything() -> None:
    err = InputError(
        "unknown unit", file="lb.csv", row=7, column="LBSTRESU", value="mg/dl/x", expected="g/L"
    )
    text = str(err)
    assert text.startswith("lb.csv, row 7, column LBSTRESU: unknown unit")
    assert "'mg/dl/x'" in text and "expected g/L" in text


def test_input_errors_lists_first_ten_and_counts_the_rest() -> None:
    problems = [Problem(f"bad {i}", file="ae.csv", row=i) for i in range(1, 14)]
    text = str(InputErrors(problems, context="ae.csv"))
    assert text.splitlines()[0] == "13 problem(s) in ae.csv:"
    assert "row 10" in text and "row 11" not in text
    assert "and 3 more" in text


def test_input_errors_needs_a_problem() -> None:
    with pytest.raises(ValueError):
        InputErrors([])


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
