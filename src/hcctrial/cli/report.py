"""``hcctrial report`` and ``hcctrial demo``: the trial report over real or simulated data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hcctrial.cli._common import console


def register(app: typer.Typer) -> None:
    """Add the ``report`` and ``demo`` commands to the main app."""

    @app.command("report")
    def report_cmd(
        protocol: Annotated[
            str, typer.Option("--protocol", "-p", help="Built-in id or YAML path.")
        ],
        data: Annotated[Path, typer.Option("--data", "-d", help="Folder of SDTM CSV/XPT files.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.html + tables.")],
    ) -> None:
        """Write the self-contained HTML trial report and the analysis tables behind it."""
        from hcctrial.io import read_study
        from hcctrial.protocol import load_protocol
        from hcctrial.report.build import build_report
        from hcctrial.report.write import write_report

        proto = load_protocol(protocol)
        study = read_study(data, on_error="collect")
        result = build_report(proto, study, subtitle=[f"Data: {data}"])
        path = write_report(result, study, out)
        for section in result.report.sections:
            tables = sum(b.kind == "html" for b in section.blocks)
            figures = sum(b.kind == "figure" for b in section.blocks)
            parts = [f"{tables} table{'s' * (tables != 1)}"] if tables else []
            parts += [f"{figures} figure{'s' * (figures != 1)}"] if figures else []
            state = (
                f"[yellow]not computed[/yellow]: {section.unavailable}"
                if section.unavailable
                else ", ".join(parts) or "text only"
            )
            console.print(f"  {section.title}: {state}", highlight=False)
        if study.problems.height:
            console.print(
                f"{study.problems.height} data problems (rows rejected or domains not loaded): "
                f"{out / 'tables' / 'data_problems.csv'}",
                highlight=False,
            )
        console.print(f"report: {path}", highlight=False, soft_wrap=True)

    @app.command("demo")
    def demo_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
        seed: Annotated[int, typer.Option(help="Seed of the virtual trials.")] = 20261122,
    ) -> None:
        """Simulate all five seed trials, analyse each and write out/index.html with the reports."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from hcctrial.report.demo import run_demo

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("virtual trials", total=None)

            def step(done: int, total: int, label: str) -> None:
                progress.update(task, completed=done, total=total, description=label)

            index = run_demo(out, seed=seed, on_step=step)
        console.print(f"index: {index}", highlight=False, soft_wrap=True)
