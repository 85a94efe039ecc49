"""Every ``$ hcctrial`` example in README.md and docs/readme/{data,protocol,screening}.md
is run, in order, and its output compared with what the page shows: documentation that cannot
go stale.

Examples of one page run in order in one scratch folder (with ``docs/``, ``src/`` and
``tests/`` of the repository linked into it), so one example can read what an earlier one wrote
and the paths in the text are the short relative paths a user types. A block ends with
``[exit code N]`` when the command is meant to fail. A fenced block under
``<!-- file: NAME -->`` is written to NAME first. Pages are refreshed with
``docs/refresh_examples.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hcctrial.cli import main

#: the pages show a 100-column terminal (docs/refresh_examples.py writes them so)
WIDTH = 100
FILE_BLOCK = re.compile(r"<!-- file: ([^ ]+) -->\n```[a-z]*\n(.*?)```", re.S)
ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    *(ROOT / "docs" / "readme" / f"{n}.md" for n in ("data", "protocol", "screening")),
]


def examples(page: Path) -> list[tuple[str, str, int]]:
    """(command, expected output, exit code) of each ```console block of ``page``."""
    out: list[tuple[str, str, int]] = []
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        lines = block.rstrip("\n").splitlines()
        if not lines or not lines[0].startswith("$ hcctrial "):
            continue
        command, expected = lines[0][2:], lines[1:]
        code = 0
        if expected and (m := re.fullmatch(r"\[exit code (\d+)\]", expected[-1])):
            code, expected = int(m.group(1)), expected[:-1]
        out.append((command, "\n".join(expected), code))
    return out


def _normal(text: str) -> str:
    """Line ends, trailing blanks, a progress bar's elapsed time and today's date (the limit of
    'a date in the future') do not count."""
    text = re.sub(r" \d+:\d\d:\d\d$", " <elapsed>", text.replace("\r\n", "\n"), flags=re.M)
    text = re.sub(r"on or before \d{4}-\d\d-\d\d", "on or before <today>", text)
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def test_pages_have_examples() -> None:
    assert len(examples(PAGES[1])) >= 4


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_give_the_output_shown(
    page: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ("docs", "src", "tests"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    for name, body in FILE_BLOCK.findall(page.read_text(encoding="utf-8")):
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    from hcctrial.cli import _common

    for console in (_common.console, _common.err_console):
        monkeypatch.setattr(console, "width", WIDTH)
    found = examples(page)
    if page.name == "README.md":
        assert found, "README.md shows no CLI example"
    for command, expected, code in found:
        got_code = main(shlex.split(command)[1:])
        captured = capsys.readouterr()
        got = captured.out + captured.err
        assert (command, got_code) == (command, code)
        assert _normal(got) == _normal(expected), command
