"""``hcctrial protocols``: list, show and validate trial protocol files."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``protocols`` command group to the main app."""
    group = typer.Typer(help="List, show and validate trial protocols.", no_args_is_help=True)
    app.add_typer(group, name="protocols")
