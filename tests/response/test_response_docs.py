"""Every ``$ hcctrial`` example in docs/readme/response.md is run and its output compared.

The examples run in order in one temporary folder (the first copies the example study into
``hcc-demo``), so paths in the doc are relative and the output does not depend on where the
test runs. ``HCCTRIAL_WRITE_DOCS=1 pytest tests/response/test_response_docs.py``
rewrites the outputs in
the doc from a real run (review the diff before committing).
"""

from __future__ import annotations

import os
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

from hcctrial.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "readme" / "response.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
WIDTH = 100


def _commands(text: str) -> list[tuple[str, str]]:
    """(command, expected output) of each ``$ hcctrial`` line of every console block."""
    out: list[tuple[str, str]] = []
    for block in BLOCK.findall(text):
        cmd: str | None = None
        lines: list[str] = []
        for line in block.rstrip("\n").splitlines():
            if line.startswith("$ hcctrial "):
                if cmd is not None:
                    out.append((cmd, "\n".join(lines)))
                cmd, lines = line[2:], []
            else:
                lines.append(line)
        if cmd is not None:
            out.append((cmd, "\n".join(lines)))
    return out


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").rstrip("\n").split("\n"))


@cache
def _run_all(workdir: str) -> tuple[tuple[str, str], ...]:
    """Run every example in order in ``workdir``; the output with ``[exit code N]`` if not 0."""
    import contextlib
    import io

    from hcctrial.cli import _common

    results = []
    old = os.getcwd()
    widths = (_common.console.width, _common.err_console.width)
    # a 100-column terminal, whatever COLUMNS the test runner has
    _common.console.width = _common.err_console.width = WIDTH
    os.chdir(workdir)
    try:
        for cmd, _ in _commands(DOC.read_text(encoding="utf-8")):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                code = main(shlex.split(cmd)[1:])
            text = _normal(buf.getvalue())
            if code:
                text = (text + "\n" if text else "") + f"[exit code {code}]"
            results.append((cmd, text))
    finally:
        os.chdir(old)
        _common.console.width, _common.err_console.width = widths
    return tuple(results)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[str, str], ...]:
    results = _run_all(str(tmp_path_factory.mktemp("docs")))
    if os.environ.get("HCCTRIAL_WRITE_DOCS"):
        text = DOC.read_text(encoding="utf-8")
        for (cmd, expected), (_, got) in zip(_commands(text), results, strict=True):
            old_block = f"$ {cmd}\n{expected}"
            new_block = f"$ {cmd}\n{got}"
            text = text.replace(old_block.rstrip("\n"), new_block.rstrip("\n"), 1)
        DOC.write_text(text, encoding="utf-8")
    return results


EXAMPLES = _commands(DOC.read_text(encoding="utf-8")) if DOC.exists() else []


def test_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[c for c, _ in EXAMPLES])
def test_doc_example_output(index: int, ran: tuple[tuple[str, str], ...]) -> None:
    cmd, expected = EXAMPLES[index]
    got_cmd, got = ran[index]
    assert got_cmd == cmd
    assert got == _normal(expected), f"{cmd}\n--- doc\n{expected}\n--- run\n{got}"
