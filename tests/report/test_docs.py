"""Every ``$ hcctrial`` example in docs/readme/simulate.md and docs/readme/report.md is run and
its output compared: documentation that cannot go stale."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hcctrial.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "readme" / "simulate.md", ROOT / "docs" / "readme" / "report.md"]
PLACEHOLDER = "/tmp/hcctrial-docs"


def _examples() -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for doc in DOCS:
        for block in re.findall(r"```console\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            lines = block.rstrip("\n").splitlines()
            command, expected = lines[0][2:], lines[1:]
            code = 0
            if expected and (m := re.fullmatch(r"\[exit code (\d+)\]", expected[-1])):
                code, expected = int(m.group(1)), expected[:-1]
            out.append((command, "\n".join(expected), code))
    return out


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").rstrip().splitlines())


EXAMPLES = _examples()


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize(("command", "expected", "code"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example_output(
    command: str,
    expected: str,
    code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(ROOT)
    argv = [a.replace(PLACEHOLDER, str(tmp_path)) for a in shlex.split(command)[1:]]
    assert main(argv) == code
    captured = capsys.readouterr()
    got = (captured.out + captured.err).replace(str(tmp_path), PLACEHOLDER)
    assert _normal(got) == _normal(expected)
