"""Every console example of docs/readme/safety.md is run and its output compared (the docs
cannot go stale), in a folder holding the doc's file blocks (``crs_study/``), the demo study,
and the two bad folders the doc describes. The doc shows a terminal 120 columns wide."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import polars as pl
import pytest

import hcctrial.cli._common as common
from hcctrial.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "readme" / "safety.md"
DEMO = ROOT / "src" / "hcctrial" / "io" / "examples" / "hcc_demo"
WIDTH = 120


def _examples() -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        for chunk in re.split(r"^(?=\$ hcctrial )", block, flags=re.M):
            if not chunk.startswith("$ hcctrial "):
                continue
            command, _, rest = chunk.partition("\n")
            lines = rest.rstrip("\n").split("\n")
            code = 0
            if lines and (m := re.fullmatch(r"\[exit code (\d+)\]", lines[-1])):
                code, lines = int(m.group(1)), lines[:-1]
            out.append((command[2:], "\n".join(lines).rstrip("\n"), code))
    return out


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("safety_doc")
    text = DOC.read_text(encoding="utf-8")
    for name, content in re.findall(r"<!-- file: (\S+) -->\n```csv\n(.*?)```", text, re.S):
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(content)
    shutil.copytree(DEMO, tmp / "src" / "hcctrial" / "io" / "examples" / "hcc_demo")
    # crs_bad: crs_study with fa.csv row 1 TEMPR and row 3 HYPOTN,maybe (as the doc says)
    shutil.copytree(tmp / "crs_study", tmp / "crs_bad")
    fa = (tmp / "crs_bad" / "fa.csv").read_text().splitlines()
    fa[1] = fa[1].replace(",TEMP,", ",TEMPR,")
    fa[3] = fa[3].replace(",HYPOTN,Y,", ",HYPOTN,maybe,")
    (tmp / "crs_bad" / "fa.csv").write_text("\n".join(fa) + "\n")
    # bad_study: the demo with AE row 1 graded 7 and AE row 2 starting before consent
    shutil.copytree(DEMO, tmp / "bad_study")
    ae = pl.read_csv(tmp / "bad_study" / "ae.csv", infer_schema_length=0)
    first, second = pl.int_range(pl.len()) == 0, pl.int_range(pl.len()) == 1
    ae = ae.with_columns(
        pl.when(first).then(pl.lit("7")).otherwise("AETOXGR").alias("AETOXGR"),
        pl.when(second).then(pl.lit("2024-01-01")).otherwise("AESTDTC").alias("AESTDTC"),
    )
    ae.write_csv(tmp / "bad_study" / "ae.csv")
    return tmp


def test_doc_has_the_crs_and_dlt_examples() -> None:
    commands = [c for c, _, _ in EXAMPLES]
    assert any("--data crs_study" in c for c in commands)
    assert any(c.startswith("hcctrial escalate") for c in commands)


@pytest.mark.parametrize(("command", "expected", "code"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example_output(
    command: str,
    expected: str,
    code: int,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(folder)
    monkeypatch.setattr(common.console, "_width", WIDTH)
    monkeypatch.setattr(common.err_console, "_width", WIDTH)
    if "dlt_subjects.csv" in command:  # written by the crs_study example
        assert main(shlex.split("hcctrial safety --data crs_study --out out/crs "
                                "--protocol il1rap-car-t")[1:]) == 0  # fmt: skip
        capsys.readouterr()
    assert main(shlex.split(command)[1:]) == code
    captured = capsys.readouterr()
    assert (captured.out + captured.err).rstrip("\n") == expected


def test_checked_python_example(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The python block marked ``checked python`` prints the text block after it."""
    text = DOC.read_text(encoding="utf-8")
    code, shown = re.search(
        r"<!-- checked python -->\n```python\n(.*?)```\n\n```text\n(.*?)```", text, re.S
    ).groups()  # type: ignore[union-attr]
    monkeypatch.chdir(folder)
    exec(compile(code, "safety.md", "exec"), {})
    assert capsys.readouterr().out == shown
