"""Re-run the ``$ hcctrial ...`` examples of Markdown pages and write their real output back.

Usage (from the repository root):
``.venv/bin/python docs/refresh_examples.py README.md docs/readme/data.md``.
Each ```console block whose first line is ``$ hcctrial ...`` is run, in order, in one scratch
folder per page with the repository's ``docs/``, ``src/`` and ``tests/`` linked into it (as
tests/core/test_docs_readme.py runs them), and the lines under the command are replaced by
what it printed, with ``[exit code N]`` when it did not exit 0. A fenced block under
``<!-- file: NAME -->`` is written to NAME in the scratch folder first.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

#: the width of the terminal the pages show (tests/core/test_docs_readme.py uses the same)
WIDTH = 100
FILE_BLOCK = re.compile(r"<!-- file: ([^ ]+) -->\n```[a-z]*\n(.*?)```", re.S)
ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```console\n(\$ hcctrial [^\n]*)\n.*?```", re.S)


def run(command: str) -> str:
    """The output (stdout then stderr) of one ``hcctrial`` command line, and its exit code."""
    from hcctrial.cli import main

    out, err = io.StringIO(), io.StringIO()
    from hcctrial.cli import _common

    keep = (_common.console.file, _common.err_console.file)
    _common.console.file, _common.err_console.file = out, err
    _common.console.width = _common.err_console.width = WIDTH
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(shlex.split(command)[1:])
    finally:
        _common.console.file, _common.err_console.file = keep
    text = "\n".join(line.rstrip() for line in (out.getvalue() + err.getvalue()).splitlines())
    return text + (f"\n[exit code {code}]" if code else "")


def refresh(page: Path) -> int:
    """Rewrite the examples of ``page``; returns how many were run."""
    text = page.read_text(encoding="utf-8")
    count = 0
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("docs", "src", "tests"):
            (Path(scratch) / name).symlink_to(ROOT / name, target_is_directory=True)
        for name, body in FILE_BLOCK.findall(text):
            (Path(scratch) / name).write_text(body, encoding="utf-8")
        os.chdir(scratch)
        try:

            def replace(m: re.Match[str]) -> str:
                nonlocal count
                count += 1
                return f"```console\n{m.group(1)}\n{run(m.group(1)[2:])}\n```"

            text = BLOCK.sub(replace, text)
        finally:
            os.chdir(here)
    page.write_text(text, encoding="utf-8")
    return count


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(ROOT / name)} example(s)")
