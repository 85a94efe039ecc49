"""The demo's index page and one trial report rendered by headless Chromium: every figure drew
with a size, no section is empty, every report link resolves (issue 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hcctrial.protocol import load_protocol
from hcctrial.report.demo import run_trial, write_index

pytestmark = pytest.mark.service


def _body_attrs(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(1)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trial of the demo (the randomized one: two arms, every section) and the index."""
    out = tmp_path_factory.mktemp("demo")
    protocol = load_protocol("NCT04011033")
    result = run_trial(protocol, out, seed=20261122)
    write_index(out, [(protocol, result)], seed=20261122)
    return out


def test_report_draws_every_figure_and_no_section_is_empty(
    chromium: str, demo: Path, render_dom: object
) -> None:
    page = demo / "NCT04011033" / "report.html"
    dom = render_dom(page)  # type: ignore[operator]
    attrs = _body_attrs(dom)
    # waterfall, spider, swimmer, KM OS and PFS, one kinetics profile at least
    assert int(attrs["data-figures"]) >= 6
    assert attrs["data-figures-drawn"] == attrs["data-figures"]
    assert attrs["data-empty-sections"] == ""
    for key in ("protocol", "consort", "baseline", "response", "survival", "ae", "labs"):
        assert f'id="{key}"' in dom, key
    assert "Not computed:" not in dom


def test_index_links_the_reports_and_no_section_is_empty(
    chromium: str, demo: Path, render_dom: object
) -> None:
    dom = render_dom(demo / "index.html")  # type: ignore[operator]
    attrs = _body_attrs(dom)
    assert attrs["data-empty-sections"] == ""
    links = re.findall(r'href="([^"]+/report\.html)"', dom)
    assert links == ["NCT04011033/report.html"]
    assert all((demo / link).is_file() for link in links)
