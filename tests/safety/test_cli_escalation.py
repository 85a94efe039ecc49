"""``hcctrial escalation``: JSON output, cohort-table parsing and exit codes (the examples of
docs/readme/escalation.md are run by tests/core/test_docs_pages.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main
from hcctrial.errors import InputError, InputErrors
from hcctrial.safety.escalation import counts_from_table, next_decision

DOC = Path(__file__).resolve().parents[2] / "docs" / "readme" / "escalation.md"


def test_doc_has_examples() -> None:
    """The page (run by tests/core/test_docs_pages.py) keeps its cohort tables."""
    text = DOC.read_text(encoding="utf-8")
    files = dict(re.findall(r"<!-- file: (\S+) -->\n```csv\n(.*?)```", text, re.S))
    assert {"cohorts.csv", "counts.csv"} <= set(files)


def test_three_plus_three_oc_json_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    """P(select b of [0.1, 0.2]), no de-escalation: a(0.1) a(0.2), a(p) = (1-p)^3 + 3p(1-p)^5."""
    argv = ["escalation", "--levels", "a,b", "--design", "3+3", "--true-dlt", "0.1,0.2",
            "--no-deescalate", "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    pass_a = 0.9**3 + 0.3 * 0.9**5
    pass_b = 0.8**3 + 3 * 0.2 * 0.8**5
    assert data["levels"][1]["PSELECT"] == pytest.approx(100 * pass_a * pass_b, abs=1e-9)
    assert data["overall"]["p_none"] == pytest.approx(100 * (1 - pass_a), abs=1e-9)


def test_boin_oc_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["escalation", "--design", "boin", "--true-dlt", "0.05,0.15,0.3", "--trials", "500",
            "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    total = sum(r["PSELECT"] for r in data["levels"]) + data["overall"]["p_none"]
    assert total == pytest.approx(100.0)
    assert "lambda_e 0.2365" in data["design"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["escalation", "--design", "boin", "--true-dlt", "0.1,abc"], "not understood"),
        (["escalation", "--design", "boin", "--true-dlt", "0.1,1.2"], "between 0 and 1"),
        (["escalation", "--levels", "a,b", "--design", "3+3", "--true-dlt", "0.1,0.2,0.3"],
         "3 true DLT rates for 2"),
        (["escalation", "--levels", "a,b", "--design", "crm", "--true-dlt", "0.1,0.2"], "design"),
        (["escalation", "--levels", "a,b", "--design", "3+3", "--cohort-size", "4",
          "--true-dlt", "0.1,0.2"], "cohorts of 3"),
        (["escalation", "--levels", "a,b", "--design", "boin"], "--true-dlt"),
        (["escalation", "next", "--levels", "a,b", "--design", "3+3", "--data", "missing.csv"],
         "not found"),
    ],
)  # fmt: skip
def test_bad_input_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_counts_per_patient_with_evaluability() -> None:
    df = pl.DataFrame(
        {
            "DOSELVL": ["dl1", "dl1", "dl1", "dl2", "dl2"],
            "DLTFL": ["N", "Y", "N", "N", "N"],
            "DLTEVLFL": ["Y", "Y", "N", "Y", "Y"],
        }
    )
    c = counts_from_table(df, ["dl1", "dl2", "dl3"], current="dl2")
    assert (c.n, c.ndlt, c.current) == ((2, 2, 0), (1, 0, 0), 1)
    dec = next_decision("3+3", c)
    assert dec.action == "stay" and "incomplete" in dec.rule


def test_counts_bad_rows_are_all_reported() -> None:
    df = pl.DataFrame({"LEVEL": ["a", "b", "z"], "N": [3, 3, -1], "NDLT": [4, 0, 0]})
    with pytest.raises(InputErrors) as err:
        counts_from_table(df, ["a", "b"], current="b", file="c.csv")
    text = str(err.value)
    assert "row 1, column NDLT" in text and "row 3, column LEVEL" in text
    assert "row 3, column N:" in text


def test_current_level_required_for_per_level_counts() -> None:
    df = pl.DataFrame({"LEVEL": ["a"], "N": [3], "NDLT": [0]})
    with pytest.raises(InputError, match="--current"):
        counts_from_table(df, ["a", "b"])
    with pytest.raises(InputError, match="no patients at the current level"):
        counts_from_table(df, ["a", "b"], current="b")
