"""``hcctrial kinetics``: Cmax, Tmax, AUC0-28d, Tlast, persistence and change from baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from hcctrial.cli._common import console, err_console


def _number(x: object) -> str:
    if not isinstance(x, float | int):
        return ""
    from hcctrial.clinical.dose import format_amount

    return format_amount(float(x)) if abs(x) >= 1000 else f"{x:.3g}"


def _summary_table(summary: pl.DataFrame, end: float) -> Table:
    table = Table(title=f"Kinetics per test (AUC 0-{end:g} days)", title_justify="left")
    for name in (
        "Test",
        "N",
        "Cmax geo. mean (CV%)",
        "Tmax median (range)",
        "AUC geo. mean",
        "Tlast median",
        "Persisting",
    ):
        table.add_column(name, no_wrap=name in ("Test", "N"))
    for r in summary.iter_rows(named=True):
        cv = r["CMAX_GEOCV"]
        table.add_row(
            r["PARAMCD"],
            str(r["N"]),
            f"{_number(r['CMAX_GEOMEAN'])} {r['AVALU'] or ''}"
            + (f" ({cv:.0f}%)" if isinstance(cv, float) else ""),
            f"{_number(r['TMAX_MEDIAN'])} ({_number(r['TMAX_MIN'])}-{_number(r['TMAX_MAX'])})",
            f"{_number(r['AUCEND_GEOMEAN'])} {r['AUCU'] or ''}",
            _number(r["TLAST_MEDIAN"]),
            f"{r['N_PERSIST']}/{r['N']}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``kinetics`` command to the main app."""

    @app.command("kinetics")
    def kinetics(
        data: Annotated[Path, typer.Option("--data", help="Study folder (LB and EX).")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the result tables.")],
        test: Annotated[
            list[str] | None,
            typer.Option("--test", help="LBTESTCD to analyse (repeat); default all kinetic."),
        ] = None,
        auc_end: Annotated[
            float, typer.Option("--auc-end", help="End of the AUC interval, days.")
        ] = 28.0,
        timepoints: Annotated[
            str | None,
            typer.Option("--timepoints", help="Days for change from baseline, e.g. 7,14,28."),
        ] = None,
        window: Annotated[int, typer.Option("--window", help="Timepoint window, +/- days.")] = 3,
    ) -> None:
        """Cellular kinetics and biomarkers from LB-shaped data: NCA per subject and test,
        change from baseline at timepoints, a summary and concentration-time figures."""
        from hcctrial.errors import InputError
        from hcctrial.io import read_study
        from hcctrial.kinetics import (
            DEFAULT_TIMEPOINTS_DAYS,
            change_from_baseline,
            first_infusion_dates,
            nca,
            prepare_samples,
            summarise,
        )

        if not data.is_dir():
            raise InputError("study folder not found", file=str(data), expected="a folder")
        study = read_study(data, on_error="collect")
        for domain in ("LB", "EX"):
            if domain not in study:
                raise InputError(
                    f"no {domain} file in the study folder",
                    file=str(data),
                    expected=f"{domain.lower()}.csv or {domain.lower()}.xpt",
                )
        days: list[int] = list(DEFAULT_TIMEPOINTS_DAYS)
        if timepoints:
            try:
                days = [int(x) for x in timepoints.split(",") if x.strip()]
            except ValueError:
                raise InputError(
                    "--timepoints must be whole days", value=timepoints, expected="e.g. 7,14,28"
                ) from None
        samples = prepare_samples(study.lb, first_infusion_dates(study.ex), tests=test)
        if samples.table.is_empty():
            raise InputError(
                "no kinetic samples found",
                file=str(data),
                value=test,
                expected="LB rows of CARDNA, CARTCNT, NKCNT, TCELLCNT, INKTPBMC, IL1RAP or --test",
            )
        params = nca(samples.table, auc_end_days=auc_end)
        changes = change_from_baseline(samples.table, days, window_days=window)
        summary = summarise(params)
        out.mkdir(parents=True, exist_ok=True)
        params.write_csv(out / "nca.csv")
        changes.write_csv(out / "change_from_baseline.csv")
        summary.write_csv(out / "summary.csv")
        samples.problems.write_csv(out / "problems.csv")
        from hcctrial.report.figures import kinetics_figure

        for (code,), group in samples.table.group_by("PARAMCD", maintain_order=True):
            unit = group["AVALU"].drop_nulls().first()
            svg = kinetics_figure(
                group.filter(pl.col("ADY") >= 0).rename({"ADY": "DY"}),
                title=f"{code}: individual profiles and median",
                unit=str(unit or ""),
            )
            (out / f"{code}_profiles.svg").write_text(svg, encoding="utf-8")
        console.print(_summary_table(summary, auc_end))
        err_console.print(
            f"wrote nca.csv ({params.height} rows), change_from_baseline.csv, summary.csv, "
            f"problems.csv ({samples.problems.height} LB rows not used) and figures to {out}",
            soft_wrap=True,
        )
