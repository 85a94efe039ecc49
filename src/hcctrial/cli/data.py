"""``hcctrial data``: study-data templates, validation and the example study."""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from hcctrial.cli._common import console, print_error, rich_table
from hcctrial.errors import InputError


class _Format(StrEnum):
    auto = "auto"
    csv = "csv"
    xpt = "xpt"


def _mapping(pairs: list[str] | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(
                "bad --map value",
                value=pair,
                expected="FILE=DOMAIN (e.g. tr_onco.csv=TR or tr_onco.csv=skip)",
            )
        name, domain = (x.strip() for x in pair.split("=", 1))
        out[name] = None if domain.lower() in ("", "skip", "none") else domain
    return out


def _print_problems(problems: pl.DataFrame, *, limit: int, saved: Path | None) -> None:
    """One line per problem, as a compiler prints them: where, what, what was expected."""
    from hcctrial.errors import Problem

    console.print("Problems:", highlight=False)
    for r in problems.head(limit).iter_rows(named=True):
        problem = Problem(
            message=r["MESSAGE"],
            file=Path(r["FILE"]).name if r["FILE"] else None,
            row=r["ROW"],
            column=r["COLUMN"],
            expected=r["EXPECTED"],
            value=r["VALUE"],
            subject=r["USUBJID"],
        )
        console.print(f"  {problem} [{r['ACTION']}]", highlight=False, markup=False, soft_wrap=True)
    if problems.height > limit:
        rest = f"{problems.height - limit} more"
        hint = f" (all in {saved})" if saved else " (write them all with --problems FILE)"
        console.print(f"  ... {rest}{hint}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the main app."""
    group = typer.Typer(
        help="Study data: CSV templates for hospital teams, validation of a folder of "
        "CSV/XPT domains, the example study.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="data")

    @group.command("templates")
    def templates_cmd(
        out_dir: Annotated[Path, typer.Argument(help="Folder to write the templates into.")],
        domain: Annotated[
            list[str] | None,
            typer.Option("--domain", "-d", help="Only these domains (repeatable)."),
        ] = None,
    ) -> None:
        """Write one header-only CSV per domain and a README describing every column."""
        from hcctrial.io import domain_spec, write_templates

        chosen = tuple(domain_spec(d).name for d in domain) if domain else None
        written = write_templates(out_dir, chosen)
        for path in written:
            console.print(str(path), highlight=False)
        console.print(f"{len(written) - 1} templates and README.md written to {out_dir}")

    @group.command("validate")
    def validate_cmd(
        folder: Annotated[Path, typer.Argument(help="Folder of <domain>.csv / <domain>.xpt.")],
        fmt: Annotated[_Format, typer.Option("--format", help="File format.")] = _Format.auto,
        imputation: Annotated[
            str | None,
            typer.Option(
                "--imputation",
                help="Partial-date rule for every date: first, mid, last or none "
                "(default: per column, see docs).",
            ),
        ] = None,
        mapping: Annotated[
            list[str] | None,
            typer.Option("--map", help="FILE=DOMAIN or FILE=skip (repeatable)."),
        ] = None,
        problems_out: Annotated[
            Path | None, typer.Option("--problems", help="Write the problems table to this CSV.")
        ] = None,
    ) -> None:
        """Check a study folder; print a per-domain summary, or the problems and exit 1."""
        from hcctrial.io import read_study

        study = read_study(
            folder,
            format=fmt.value,
            imputation=imputation,
            mapping=_mapping(mapping),
            on_error="collect",
        )
        summary = study.summary().with_columns(
            pl.col("FILE").map_elements(lambda f: Path(f).name, return_dtype=pl.Utf8)
        )
        console.print(rich_table(summary, title=f"Study data in {folder}"))
        if problems_out is not None:
            study.problems.write_csv(problems_out)
        if study.problems.height:
            _print_problems(study.problems, limit=50, saved=problems_out)
            print_error(
                f"{study.problems.height} problem(s) in {folder}; rows with a problem are not used"
            )
            raise typer.Exit(1)
        console.print(f"no problems: {len(study)} domain(s), {len(study.subjects())} subject(s)")

    @group.command("example")
    def example_cmd(
        out_dir: Annotated[Path, typer.Argument(help="Folder to copy the example study into.")],
    ) -> None:
        """Copy the built-in example study (CSV files) into a folder."""
        from hcctrial.io import example_study_folder

        out_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(example_study_folder().glob("*.csv")):
            shutil.copy(path, out_dir / path.name)
            console.print(str(out_dir / path.name), highlight=False)
