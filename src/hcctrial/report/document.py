"""The report as data: sections of tables, figures and notes, rendered to one HTML file.

A section that cannot be computed from the data at hand (no tumour assessments yet, a single
arm for a comparison) is kept with the reason instead of failing the whole report, so a report
over partial data says what it could not compute and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import polars as pl
from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

__all__ = ["Block", "Report", "Section", "guarded", "render_html", "table_block"]


@dataclass
class Block:
    """One piece of a section: a heading-less table, a figure (inline SVG) or a paragraph."""

    kind: str  # "table" | "figure" | "text" | "html"
    content: str
    caption: str | None = None


@dataclass
class Section:
    """A titled part of the report; ``unavailable`` holds the reason when it could not be made."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    unavailable: str | None = None

    def add_table(self, df: pl.DataFrame, caption: str | None = None, max_rows: int = 500) -> None:
        """Append a table block."""
        self.blocks.append(table_block(df, caption, max_rows))

    def add_figure(self, svg: str, caption: str | None = None) -> None:
        """Append an inline SVG figure."""
        self.blocks.append(Block("figure", svg, caption))

    def add_text(self, text: str) -> None:
        """Append a paragraph of plain text (escaped)."""
        self.blocks.append(Block("text", text))

    @property
    def empty(self) -> bool:
        """True when the section has neither content nor a reason for having none."""
        return not self.blocks and not self.unavailable


@dataclass
class Report:
    """A whole report: title, subtitle lines, sections, provenance."""

    title: str
    subtitle: list[str]
    sections: list[Section]
    generated: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    provenance: list[str] = field(default_factory=list)


def guarded(key: str, title: str, make: Callable[[], Section | list[Section]]) -> list[Section]:
    """Run one section builder; on bad or missing data keep the section with the reason."""
    from hcctrial.errors import HcctrialError

    try:
        made = make()
    except HcctrialError as exc:
        return [Section(key, title, unavailable=str(exc))]
    except Exception as exc:  # a bug must not take the whole report down; it is shown
        return [Section(key, title, unavailable=f"internal error {type(exc).__name__}: {exc}")]
    return made if isinstance(made, list) else [made]


def _format_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def table_block(df: pl.DataFrame, caption: str | None = None, max_rows: int = 500) -> Block:
    """An HTML table of a polars frame (first ``max_rows`` rows, with a note of the rest)."""
    head = "".join(f"<th scope='col'>{escape(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        cells = "".join(f"<td>{escape(_format_cell(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if df.height > max_rows:
        note = f"<p class='note'>{df.height - max_rows} more rows in the CSV outputs.</p>"
    html = (
        f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{note}"
    )
    return Block("html", html, caption)


def render_html(report: Report) -> str:
    """Render the report as one self-contained HTML page (CSS inline, figures inline SVG)."""
    env = Environment(autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    template_text = (
        resources.files("hcctrial.report").joinpath("templates/report.html").read_text("utf-8")
    )
    css = resources.files("hcctrial.report").joinpath("templates/report.css").read_text("utf-8")
    template = env.from_string(template_text)
    sections = []
    for section in report.sections:
        blocks = []
        for block in section.blocks:
            if block.kind == "text":
                body = Markup("<p>") + escape(block.content) + Markup("</p>")
            else:  # figure SVG and table HTML are produced by our own code, not user text
                body = Markup(block.content)
            blocks.append({"kind": block.kind, "body": body, "caption": block.caption})
        sections.append(
            {
                "key": section.key,
                "title": section.title,
                "blocks": blocks,
                "unavailable": section.unavailable,
            }
        )
    return template.render(report=report, sections=sections, css=Markup(css))
