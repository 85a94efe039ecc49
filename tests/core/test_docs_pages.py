"""Every example of README.md and docs/readme/*.md is run and gives the output the page shows:
documentation that cannot go stale (how pages are run: tests/docs_examples.py; rewrite a page
from a real run with ``.venv/bin/python docs/refresh_examples.py PAGE``)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from tests.docs_examples import NOT_RUN, ROOT, examples, normal, pages, run_page, shown

PAGES = pages()

#: pages that must keep at least this many examples (a page losing them is a doc regression)
AT_LEAST = {
    "README.md": 8,
    "clinical.md": 20,
    "data.md": 4,
    "endpoints.md": 2,
    "escalation.md": 9,
    "kinetics.md": 1,
    "protocol.md": 2,
    "report.md": 2,
    "response.md": 4,
    "safety.md": 6,
    "schedule.md": 6,
    "screening.md": 3,
    "simulate.md": 4,
    "web.md": 9,
}


def test_every_documented_page_is_run() -> None:
    names = {p.name for p in PAGES}
    assert names == set(AT_LEAST), "a page with examples is missing from AT_LEAST or not run"
    assert not set(NOT_RUN) & names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_keeps_its_examples(page: Path) -> None:
    found = examples(page.read_text(encoding="utf-8"))
    assert len(found) >= AT_LEAST[page.name]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_print_what_the_page_shows(page: Path) -> None:
    wrong = []
    for example, got in run_page(page):
        if normal(got) != normal(shown(example)):
            diff = difflib.unified_diff(
                normal(shown(example)).splitlines(),
                normal(got).splitlines(),
                "page",
                "run",
                lineterm="",
            )
            wrong.append(f"{example.source.splitlines()[0]}\n" + "\n".join(diff))
    where = page.relative_to(ROOT)
    assert not wrong, f"{where}: {len(wrong)} example(s) differ\n\n" + "\n\n".join(wrong)
