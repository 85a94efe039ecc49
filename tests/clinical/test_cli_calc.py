"""``hcctrial calc``: every example in docs/readme/clinical.md is run and its output checked
(documentation that cannot go stale), plus JSON output and exit codes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from hcctrial.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "readme" / "clinical.md"


def _examples() -> list[tuple[str, str, int]]:
    """(command line, expected output, expected exit code) for each '$ hcctrial' line."""
    text = DOC.read_text(encoding="utf-8")
    out: list[tuple[str, str, int]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        current: list[str] | None = None
        command = ""
        for line in block.splitlines():
            if line.startswith("$ hcctrial "):
                if current is not None:
                    out.append(_finish(command, current))
                command, current = line[2:], []
            elif current is not None:
                current.append(line)
        if current is not None:
            out.append(_finish(command, current))
    return out


def _finish(command: str, lines: list[str]) -> tuple[str, str, int]:
    code = 0
    if lines and (m := re.fullmatch(r"\[exit code (\d+)\]", lines[-1])):
        code = int(m.group(1))
        lines = lines[:-1]
    return command, "\n".join(lines), code


EXAMPLES = _examples()


def test_01_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 20
    assert {c.split()[2] for c, _, _ in EXAMPLES} >= {
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


@pytest.mark.parametrize(("command", "expected", "code"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_02_doc_example_output(
    command: str, expected: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = shlex.split(command)[1:]
    assert main(argv) == code
    captured = capsys.readouterr()
    got = (captured.out + captured.err).rstrip("\n")
    assert got == expected


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
