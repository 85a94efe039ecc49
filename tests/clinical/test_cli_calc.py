"""``hcctrial calc``: JSON output and exit codes (the examples of docs/readme/clinical.md are
run by tests/core/test_docs_pages.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.docs_examples import examples

from hcctrial.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "readme" / "clinical.md"


def test_01_doc_shows_every_calculator() -> None:
    """The page's examples (run by tests/core/test_docs_pages.py) cover every subcommand."""
    commands = [e.source for e in examples(DOC.read_text(encoding="utf-8"))]
    assert {c.split()[2] for c in commands} >= {
        "bsa",
        "crcl",
        "child-pugh",
        "albi",
        "bclc",
        "ecog",
        "kps",
        "convert",
        "dose",
    }


def test_03_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calc", "child-pugh", "--bilirubin", "25", "--albumin", "38", "--inr", "1.2",
                 "--ascites", "none", "--encephalopathy", "none", "--json"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 5 and data["class"] == "A"
    assert main(["calc", "dose", "--protocol-free", "--dose", "5e8", "--basis", "cells/m2",
                 "--height", "180", "--weight", "80", "--json"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["amount"] == pytest.approx(1e9) and data["bsa_m2"] == 2.0


def test_04_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calc", "bsa", "--height", "180"]) == 2  # --weight missing
    capsys.readouterr()


def test_05_bad_input_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calc", "crcl", "--age", "60", "--weight", "72", "--sex", "U",
                 "--creatinine", "1"]) == 1  # fmt: skip
    assert "unknown sex" in capsys.readouterr().err
    assert main(["calc", "bclc", "--nodules", "2", "--largest-cm", "2", "--ecog", "0",
                 "--child-pugh-class", "B"]) == 1  # fmt: skip
    assert "Child-Pugh B" in capsys.readouterr().err
