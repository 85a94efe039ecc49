"""``hcctrial screen``: eligibility screening of patients (JSON, FHIR, SDTM) or an OMOP database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.table import Table

from hcctrial.cli._common import OutputFormat, console, emit, err_console
from hcctrial.errors import InputError

_STYLE = {"passes": "green", "fails": "bold red", "unknown": "yellow", "pending": "cyan"}
_MAX_TABLES = 20  # patient tables printed in table format; the rest is in the log
_DECISION_STYLE = {"eligible": "bold green", "ineligible": "bold red", "incomplete": "bold yellow"}


def _as_of(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            "--as-of is not a date", column="--as-of", value=text, expected="YYYY-MM-DD"
        ) from None


def _protocols(spec: str) -> list[Any]:
    from hcctrial.protocol import builtin_protocols, load_protocol

    if spec == "all":
        return list(builtin_protocols().values())
    return [load_protocol(spec)]


def _read_patients(path: Path) -> list[Any]:
    from hcctrial.eligibility import read_fhir, read_patients, records_from_sdtm

    if path.is_dir():
        from hcctrial.io import read_study

        return records_from_sdtm(read_study(path))
    if not path.exists():
        raise InputError("patient file not found", file=str(path))
    head = path.read_text(encoding="utf-8")[:4096]
    if '"resourceType"' in head and '"Bundle"' in head:
        return read_fhir(path)
    return read_patients(path)


def _patient_table(decision: Any) -> Table:
    from hcctrial.eligibility.log import value_text

    style = _DECISION_STYLE[decision.decision]
    table = Table(
        title=f"{decision.patient_id} - {decision.protocol_id} as of {decision.as_of}: "
        f"[{style}]{decision.decision.upper()}[/{style}]",
        caption=_caption(decision),
        show_lines=True,
    )
    for name in ("criterion", "kind", "result", "values used", "comparison / reason"):
        table.add_column(name, overflow="fold")
    for i, r in enumerate(decision.results):
        effect = r.effect
        why = "; ".join(r.comparisons) if r.status in ("met", "not met") else (r.reason or "")
        # 'met' of an exclusion excludes: say what the result does, not only what it is
        shown = f"{r.status} ({effect})" if effect in ("passes", "fails") else r.status
        table.add_row(
            r.criterion.id,
            r.criterion.kind,
            f"[{_STYLE[effect]}]{shown}[/{_STYLE[effect]}]",
            value_text(decision, i),
            why,
        )
    return table


def _caption(decision: Any) -> str:
    """The decision's detail, with the input problems counted (they are listed below)."""
    detail = str(decision.detail)
    if "input problems: " in detail:
        head = detail.split("input problems: ")[0].rstrip(" |")
        tail = f"input problems: {len(decision.problems)} (listed below the table)"
        return f"{head} | {tail}" if head else tail
    return detail


def _short_reason(decision: Any) -> str:
    """The criteria behind a decision, by id only (the patient's table has the detail)."""
    ids = {e: [r.criterion.id for r in decision.results if r.effect == e] for e in _STYLE}
    if (
        decision.problems
        and decision.decision == "incomplete"
        and "record problem" in (decision.detail)
    ):
        return decision.detail.split(";")[0]
    if ids["fails"]:
        return "fails " + ", ".join(ids["fails"])
    if ids["unknown"]:
        return "unknown " + ", ".join(ids["unknown"])
    if decision.problems:
        return "input problems"
    if ids["pending"]:
        return "investigator judgement " + ", ".join(ids["pending"])
    return "meets every criterion"


def _print_problems(decision: Any) -> None:
    if decision.problems:
        console.print(f"[bold yellow]input problems of {decision.patient_id}:[/bold yellow]")
        for problem in decision.problems:
            console.print(f"  - {problem}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``screen`` command to the main app."""

    @app.command("screen")
    def screen(
        protocol: str = typer.Option(..., "--protocol", "-p", help="Protocol id, file, or 'all'."),
        patients: Path | None = typer.Option(
            None, "--patients", help="Patient JSON/JSON Lines, FHIR R4 Bundle, or SDTM folder."
        ),
        omop: str | None = typer.Option(
            None,
            "--omop",
            help="OMOP CDM database: DuckDB file, postgres://user@host/db, or "
            "spark:///folder (Parquet, local PySpark).",
        ),
        as_of: str | None = typer.Option(None, "--as-of", help="Screening date (default today)."),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table|json|csv"),
        out: Path | None = typer.Option(None, "--out", help="Write results to this file (.csv)."),
    ) -> None:
        """Screen patients against a protocol's eligibility criteria, with explanations."""
        day = _as_of(as_of)
        if (patients is None) == (omop is None):
            raise InputError(
                "give exactly one of --patients FILE or --omop URL", column="--patients/--omop"
            )
        if omop is not None:
            _screen_omop(protocol, omop, day, out, fmt)
            return
        assert patients is not None
        _screen_patients(protocol, patients, day, fmt, out)

    @app.command("synthetic-omop")
    def synthetic(
        persons: int = typer.Option(1000, "--persons", "-n", help="Number of persons."),
        out: Path = typer.Option(..., "--out", help="A .duckdb file, or a folder for Parquet."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same data)."),
        anchor: str | None = typer.Option(
            None, "--anchor", help="Latest data date, YYYY-MM-DD (default today)."
        ),
    ) -> None:
        """Write a seeded synthetic OMOP CDM population of advanced-HCC patients."""
        from hcctrial.eligibility.omop import synthetic_omop, write_duckdb, write_parquet

        if persons < 1:
            raise InputError(
                "--persons must be at least 1", column="--persons", value=persons, expected=">= 1"
            )
        tables = synthetic_omop(persons, seed=seed, anchor=_as_of(anchor))
        if out.suffix in (".duckdb", ".db"):
            out.parent.mkdir(parents=True, exist_ok=True)
            write_duckdb(tables, str(out))
        else:
            write_parquet(tables, out)
        rows = {name: df.height for name, df in tables.items()}
        err_console.print(f"wrote {out}: " + ", ".join(f"{name} {n:,}" for name, n in rows.items()))


def _screen_patients(spec: str, path: Path, day: date, fmt: OutputFormat, out: Path | None) -> None:
    from hcctrial.eligibility import decisions_table, screen_patients, screening_log

    records = _read_patients(path)
    decisions = [d for p in _protocols(spec) for d in screen_patients(p, records, day)]
    log = screening_log(decisions)
    if out is not None:
        log.write_csv(out)
    if fmt is OutputFormat.table:
        for d in decisions[:_MAX_TABLES]:
            console.print(_patient_table(d))
            _print_problems(d)
        if len(decisions) > _MAX_TABLES:
            console.print(
                f"{len(decisions) - _MAX_TABLES} more patient tables not shown: the screening "
                "log (one row per patient and criterion) is written by --out FILE.csv or "
                "printed by --format csv|json"
            )
        if len(decisions) > 1:
            summary = decisions_table(decisions).select(
                pl.col("USUBJID").alias("patient"),
                pl.col("PROTOCOL").alias("protocol"),
                pl.col("DECISION").alias("decision"),
                pl.Series("why", [_short_reason(d) for d in decisions]),
                pl.col("N_FAILS").alias("fails"),
                pl.col("N_UNKNOWN").alias("unknown"),
                pl.col("N_PENDING").alias("pending"),
                pl.Series("problems", [len(d.problems) for d in decisions]),
            )
            title = "Screening decisions"
            if summary["protocol"].n_unique() == 1:
                title += f" ({decisions[0].protocol_id})"
                summary = summary.drop("protocol")
            emit(summary, fmt, title=title)
    else:
        emit(log, fmt)


def _screen_omop(spec: str, url: str, day: date, out: Path | None, fmt: OutputFormat) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hcctrial.eligibility.omop import connect_omop, screen_population

    if out is None:
        raise InputError(
            "--out FILE is required with --omop",
            column="--out",
            expected="a .csv path for the per-patient decisions",
        )
    protocols = _protocols(spec)
    con = connect_omop(url)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,  # stdout stays clean for --format json/csv
        transient=False,
    ) as progress:
        task = progress.add_task("screening", total=len(protocols))
        result = screen_population(
            con,
            protocols,
            day,
            on_protocol=lambda pid: progress.update(task, advance=1, description=f"screened {pid}"),
            on_stage=lambda text: progress.update(task, description=text),
        )
        names = ", ".join(p.id for p in protocols)
        done = names if len(protocols) <= 3 else f"{len(protocols)} protocols"
        progress.update(task, description=f"screened {done}")
    out.parent.mkdir(parents=True, exist_ok=True)
    result.decisions.write_csv(out)
    counts_path = out.with_name(out.stem + "_counts.csv")
    result.counts.write_csv(counts_path)
    summary = _omop_summary(result.decisions)
    if fmt is OutputFormat.json:
        console.print_json(
            json.dumps(
                {"decisions": summary.to_dicts(), "counts": result.counts.to_dicts()}, default=str
            )
        )
        return
    counts = result.counts.drop("JUDGEMENT")
    if fmt is OutputFormat.table:  # words that wrap in a narrow terminal; files keep the names
        summary = summary.rename(_SUMMARY_HEADERS)
    emit(
        summary,
        fmt,
        title=f"Decisions as of {day} ({result.decisions['person_id'].n_unique()} persons)",
    )
    if fmt is OutputFormat.table:
        # one table per protocol, its id in the title: a PROTOCOL column squeezed every other
        # column of an 80-column terminal into three lines per criterion
        for protocol in protocols:
            mine = counts.filter(counts["PROTOCOL"] == protocol.id).drop("PROTOCOL")
            emit(
                mine.rename(_COUNT_HEADERS, strict=False),
                fmt,
                title=f"CONSORT-style counts per criterion of {protocol.id}",
            )
    else:
        emit(counts, fmt, title="CONSORT-style counts per criterion")
    if result.problems.height:
        problems_path = out.with_name(out.stem + "_problems.csv")
        result.problems.write_csv(problems_path)
        err_console.print(
            f"{result.problems.height:,} problem rows in the database (table, row id, column, "
            f"value, what was expected): {problems_path}",
            soft_wrap=True,
        )
    err_console.print(f"wrote {out} and {counts_path}", soft_wrap=True)


_SUMMARY_HEADERS = {
    "PROTOCOL": "protocol",
    "PERSONS": "persons",
    "ELIGIBLE": "eligible",
    "PENDING_JUDGEMENT": "pending judgement",
    "INCOMPLETE_DATA": "incomplete (data)",
    "INELIGIBLE": "ineligible",
    "WITH_PROBLEMS": "with input problems",
}
_COUNT_HEADERS = {
    "PROTOCOL": "protocol",
    "CRITID": "criterion",
    "CRITKIND": "kind",
    "N_FAILED": "failed",
    "N_UNKNOWN": "unknown",
    "N_PENDING": "pending",
    "N_EXCLUDED_HERE": "excluded here",
    "N_REMAINING": "remaining",
}


def _omop_summary(decisions: pl.DataFrame) -> pl.DataFrame:
    """Persons per protocol and decision; 'incomplete' split into waiting for the investigator
    only (every data criterion met) and data missing/unusable."""
    pending = (pl.col("DECISION") == "incomplete") & pl.col("DETAIL").str.starts_with(
        "eligible pending"
    )
    return (
        decisions.group_by("PROTOCOL", maintain_order=True)
        .agg(
            PERSONS=pl.len(),
            ELIGIBLE=(pl.col("DECISION") == "eligible").sum(),
            PENDING_JUDGEMENT=pending.sum(),
            INCOMPLETE_DATA=((pl.col("DECISION") == "incomplete") & ~pending).sum(),
            INELIGIBLE=(pl.col("DECISION") == "ineligible").sum(),
            WITH_PROBLEMS=pl.col("PROBLEMS").is_not_null().sum(),
        )
        .sort("PROTOCOL")
    )
