"""Shared pieces of the CLI: consoles, error printing, output formats, writing tables."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    """How a command prints its result."""

    table = "table"
    json = "json"
    csv = "csv"


def print_error(message: str) -> None:
    """Print a user-facing error (no traceback) to standard error."""
    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)


def rich_table(df: pl.DataFrame, title: str | None = None, max_rows: int = 200) -> Table:
    """A rich table of a polars frame (first ``max_rows`` rows)."""
    table = Table(title=title, show_lines=False)
    for name in df.columns:
        table.add_column(name, overflow="fold")
    for row in df.head(max_rows).iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    if df.height > max_rows:
        table.caption = f"{df.height - max_rows} more rows not shown"
    return table


def emit(df: pl.DataFrame, fmt: OutputFormat, title: str | None = None) -> None:
    """Print a table in the chosen format to standard output."""
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(df.to_dicts(), default=str))
    elif fmt is OutputFormat.csv:
        print(df.write_csv(), end="")
    else:
        console.print(rich_table(df, title=title))


def write_outputs(
    tables: dict[str, pl.DataFrame], out: Path, meta: dict[str, Any] | None = None
) -> list[Path]:
    """Write each table as CSV into ``out`` (created if needed); optional ``meta`` as JSON."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        path = out / f"{name}.csv"
        df.write_csv(path)
        written.append(path)
    if meta is not None:
        path = out / "meta.json"
        path.write_text(json.dumps(meta, indent=2, default=str))
        written.append(path)
    return written
