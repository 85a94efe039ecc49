"""Helpers for the seed-protocol tests: the registry records and sentence coverage.

``records/`` holds verbatim copies of the seed records of ``../shared/seeds/`` (public registry
records, the project's specification) so that the tests run on a fresh clone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORDS = Path(__file__).with_name("records")


def record_text(name: str) -> str:
    """The record file ``records/<name>`` as text."""
    return (RECORDS / name).read_text(encoding="utf-8")


def record_lines(name: str) -> list[str]:
    """The record's lines (the registry export puts one field on each line)."""
    return record_text(name).splitlines()


def squash(text: str) -> str:
    """Whitespace runs to one space (YAML folded scalars join lines with one space)."""
    return " ".join(text.split())


def uncovered(sentence: str, fragments: list[str]) -> str:
    """The letters and digits of ``sentence`` that no fragment covers."""
    covered = [False] * len(sentence)
    for fragment in fragments:
        start = sentence.find(fragment)
        while start >= 0 and fragment:
            for i in range(start, start + len(fragment)):
                covered[i] = True
            start = sentence.find(fragment, start + 1)
    return "".join(c for c, ok in zip(sentence, covered, strict=True) if not ok and c.isalnum())


def sources(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``source`` string of a dumped protocol, with its YAML path."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "source" and isinstance(value, str):
                yield where, value
            else:
                yield from sources(value, where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from sources(item, f"{path}[{i}]")
