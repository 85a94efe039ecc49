"""The examples of the Markdown docs, run for real: one place for parsing, the scratch folder,
masking, running and rewriting (used by tests/core/test_docs_pages.py and
docs/refresh_examples.py).

What a page may hold, and what is done with it:

- A ```console block whose first line is ``$ hcctrial ...``: every ``$ hcctrial`` line in it is
  one example, the lines under it are what it prints (stdout then stderr), and a last line
  ``[exit code N]`` says it is meant to exit N. Blocks that start with another command
  (``$ make demo``) are not run.
- ``<!-- file: NAME -->`` right above a fenced block: the block is written to NAME (a path
  relative to the scratch folder) before any example runs.
- A ```python block followed by a blank line and a ```text block: the code is run and must print
  the text exactly.
- ``<!-- console width: N -->`` anywhere: the page's examples are shown at N columns (default
  100).

All examples of a page run in document order in one scratch folder holding links to the
repository's ``docs/``, ``src/`` and ``tests/``, so one example can read what an earlier one wrote
and the paths in the text are the short relative paths a user types. A path ``/tmp/hcctrial-NAME``
in a command stands for a folder inside the scratch folder (and is shown so in the output).
What may differ from run to run is masked before comparing: a progress bar's elapsed time, today's
date in "on or before <date>", and an ICS file's DTSTAMP.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WIDTH = 100

_CONSOLE = re.compile(r"```console\n(\$ hcctrial [^\n]*\n.*?)```", re.S)
_FILE = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```", re.S)
_PYTHON = re.compile(r"```python\n((?:(?!```).)*)```\n\n```text\n(.*?)```", re.S)
_WIDTH = re.compile(r"<!-- console width: (\d+) -->")
_EXIT = re.compile(r"\[exit code (\d+)\]")
_TMP = re.compile(r"/tmp/hcctrial-[A-Za-z0-9_-]+")

#: pages whose examples are not run here, and why
NOT_RUN: dict[str, str] = {}


@dataclass(frozen=True)
class Example:
    """One runnable example of a page: a CLI line or a Python block, and what it shows."""

    kind: str  # "console" or "python"
    source: str  # the command line without "$ ", or the Python code
    expected: str  # the output the page shows (without the exit-code line)
    code: int  # the exit code the page shows (0 for Python)
    start: int  # where the example sits in the page (for document order)


def pages() -> list[Path]:
    """README.md and every page under docs/readme/ that has examples and is run here."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs" / "readme").glob("*.md"))]
    return [p for p in found if p.name not in NOT_RUN and examples(p.read_text("utf-8"))]


def width(text: str) -> int:
    """The console width the page's output was made at."""
    m = _WIDTH.search(text)
    return int(m.group(1)) if m else DEFAULT_WIDTH


def _split(block: str) -> Iterator[tuple[str, str, int]]:
    """(command, shown output, exit code) of each ``$ hcctrial`` line of one console block."""
    for chunk in re.split(r"^(?=\$ hcctrial )", block, flags=re.M):
        if not chunk.startswith("$ hcctrial "):
            continue
        command, _, rest = chunk.partition("\n")
        lines = rest.rstrip("\n").split("\n") if rest.strip("\n") else []
        code = 0
        if lines and (m := _EXIT.fullmatch(lines[-1])):
            code, lines = int(m.group(1)), lines[:-1]
        yield command[2:], "\n".join(lines), code


def examples(text: str) -> list[Example]:
    """Every runnable example of a page's text, in document order."""
    found = [
        Example("console", command, shown, code, m.start())
        for m in _CONSOLE.finditer(text)
        for command, shown, code in _split(m.group(1))
    ]
    found += [
        Example("python", m.group(1), m.group(2).rstrip("\n"), 0, m.start())
        for m in _PYTHON.finditer(text)
    ]
    return sorted(found, key=lambda e: e.start)


def normal(text: str) -> str:
    """The output as compared: line ends, trailing blanks and the masked run-to-run parts do
    not count."""
    text = text.replace("\r\n", "\n")
    text = re.sub(r" \d+:\d\d:\d\d$", " <elapsed>", text, flags=re.M)
    text = re.sub(r"on or before \d{4}-\d\d-\d\d", "on or before <today>", text)
    text = re.sub(r"(?m)^DTSTAMP:\d{8}T\d{6}Z$", "DTSTAMP:<now>", text)
    # web.md: generated one-time passwords, and the UTC time of an audit entry
    text = re.sub(r"(?i)(one-time password:? )[A-Za-z0-9_-]{16,}", r"\1<password>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00", "<UTC time>", text)
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def _bad_safety_folders(folder: Path) -> None:
    """docs/readme/safety.md describes two broken folders: ``crs_bad`` is its ``crs_study``
    with fa.csv row 1 testing ``TEMPR`` and row 3 ``HYPOTN`` = ``maybe``; ``bad_study`` is the
    demo study with AE row 1 graded 7 and AE row 2 starting before consent."""
    import polars as pl

    shutil.copytree(folder / "crs_study", folder / "crs_bad")
    fa = (folder / "crs_bad" / "fa.csv").read_text(encoding="utf-8").splitlines()
    fa[1] = fa[1].replace(",TEMP,", ",TEMPR,")
    fa[3] = fa[3].replace(",HYPOTN,Y,", ",HYPOTN,maybe,")
    (folder / "crs_bad" / "fa.csv").write_text("\n".join(fa) + "\n", encoding="utf-8")
    shutil.copytree(
        ROOT / "src" / "hcctrial" / "io" / "examples" / "hcc_demo", folder / "bad_study"
    )
    ae = pl.read_csv(folder / "bad_study" / "ae.csv", infer_schema_length=0)
    first, second = pl.int_range(pl.len()) == 0, pl.int_range(pl.len()) == 1
    ae = ae.with_columns(
        pl.when(first).then(pl.lit("7")).otherwise("AETOXGR").alias("AETOXGR"),
        pl.when(second).then(pl.lit("2024-01-01")).otherwise("AESTDTC").alias("AESTDTC"),
    )
    ae.write_csv(folder / "bad_study" / "ae.csv")


@contextlib.contextmanager
def _serve_answers_once() -> Iterator[None]:
    """web.md's ``hcctrial serve`` runs for real (the first-start admin account, the messages)
    but does not keep serving: ``uvicorn.run`` is replaced, while the page runs, by one request
    for the login page through the app in-process, which must answer 200."""
    import uvicorn
    from fastapi.testclient import TestClient

    def answer_once(app: object, **_: object) -> None:
        with TestClient(app) as client:  # type: ignore[arg-type]
            status = client.get("/login").status_code
        if status != 200:
            raise RuntimeError(f"the served app answered /login with {status}")

    run = uvicorn.run
    uvicorn.run = answer_once  # type: ignore[assignment]
    try:
        yield
    finally:
        uvicorn.run = run


#: what a page needs in its scratch folder beyond its file blocks
SETUP: dict[str, Callable[[Path], None]] = {"safety.md": _bad_safety_folders}
#: what a page's examples need around them while they run (undone afterwards)
AROUND: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "web.md": _serve_answers_once
}


def prepare(page: Path, folder: Path) -> None:
    """Fill a scratch folder for ``page``: repository links, the page's file blocks, and its
    own set-up."""
    for name in ("docs", "src", "tests"):
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    for name, body in _FILE.findall(page.read_text(encoding="utf-8")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
    if page.name in SETUP:
        SETUP[page.name](folder)


def _run_console(command: str, folder: Path, columns: int) -> str:
    """What one ``hcctrial ...`` line prints (stdout, then stderr), with ``[exit code N]``."""
    from hcctrial.cli import _common, main

    def real(arg: str) -> str:
        return _TMP.sub(lambda m: str(folder / "tmp" / m.group(0)[5:]), arg)

    out, err = io.StringIO(), io.StringIO()
    consoles = (_common.console, _common.err_console)
    # rich keeps None in _file/_width to mean "follow sys.stdout / the terminal": restore that
    kept = [(c._file, c._width) for c in consoles]
    _common.console.file, _common.err_console.file = out, err
    for c in consoles:
        c.width = columns
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([real(a) for a in shlex.split(command)[1:]])
    finally:
        for c, (file, columns_before) in zip(consoles, kept, strict=True):
            c._file, c._width = file, columns_before
    text = (out.getvalue() + err.getvalue()).replace(str(folder / "tmp") + "/", "/tmp/")
    text = text.replace(str(folder) + "/", "")  # a file of the scratch folder: its own name
    lines = [line.rstrip() for line in text.rstrip("\n").splitlines()]
    return "\n".join(lines + ([f"[exit code {code}]"] if code else []))


def _run_python(code: str, name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {"__name__": "__docs__"})
    return out.getvalue().rstrip("\n")


def run_page(page: Path) -> list[tuple[Example, str]]:
    """Run every example of ``page`` in order in a fresh scratch folder: (example, what it
    printed, with ``[exit code N]`` for a console example that exited N)."""
    text = page.read_text(encoding="utf-8")
    columns = width(text)
    here = Path.cwd()
    results: list[tuple[Example, str]] = []
    with tempfile.TemporaryDirectory(prefix="hcctrial-docs-") as scratch:
        folder = Path(scratch)
        prepare(page, folder)
        (folder / "tmp").mkdir()
        os.chdir(folder)
        try:
            with AROUND.get(page.name, contextlib.nullcontext)():
                for n, example in enumerate(examples(text), 1):
                    if example.kind == "console":
                        got = _run_console(example.source, folder, columns)
                    else:
                        got = _run_python(example.source, f"{page.name} python example {n}")
                    results.append((example, got))
        finally:
            os.chdir(here)
    return results


def shown(example: Example) -> str:
    """What the page shows for an example, with the exit-code line as the run gives it."""
    if example.code:
        return (example.expected + "\n" if example.expected else "") + f"[exit code {example.code}]"
    return example.expected


def rewrite(page: Path) -> int:
    """Rewrite ``page`` with what its examples print now; returns how many were run."""
    text = page.read_text(encoding="utf-8")
    results = run_page(page)
    got = iter(output for example, output in results if example.kind == "console")

    def console(m: re.Match[str]) -> str:
        lines: list[str] = []
        for command, _, _ in _split(m.group(1)):
            lines += [f"$ {command}", *([output] if (output := next(got)) else [])]
        return "```console\n" + "\n".join(lines) + "\n```"

    text = _CONSOLE.sub(console, text)
    python = iter(output for example, output in results if example.kind == "python")
    text = _PYTHON.sub(
        lambda m: f"```python\n{m.group(1)}```\n\n```text\n{next(python)}\n```", text
    )
    page.write_text(text, encoding="utf-8")
    return len(results)
