"""``hcctrial schedule``: a subject's calendar with windows and doses (table, CSV or ICS)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from hcctrial.cli._common import console, err_console


class CalendarFormat(StrEnum):
    """How ``hcctrial schedule`` writes the calendar."""

    table = "table"
    csv = "csv"
    ics = "ics"


def _dose_text(row: dict[str, object]) -> str:
    from hcctrial.clinical.dose import format_amount

    amount = row.get("EXDOSE")
    if not isinstance(amount, float):
        return ""
    text = format_amount(amount)
    high = row.get("EXDOSEHI")
    if isinstance(high, float):
        text += f"-{format_amount(high)}"
    text += f" {row['EXDOSU']}"
    if row.get("DURMIN") is not None:
        span = str(row["DURMIN"])
        if row.get("DURMAX") != row.get("DURMIN"):
            span += f"-{row['DURMAX']}"
        text += f" x {span} d"
    return text


def _span(lo: dt.date, hi: dt.date) -> str:
    """``10-14 Jan``, ``29 Dec-12 Jan``, ``26 Jan``."""
    if lo == hi:
        return f"{lo:%d %b}"
    if (lo.year, lo.month) == (hi.year, hi.month):
        return f"{lo:%d}-{hi:%d %b}"
    return f"{lo:%d %b}-{hi:%d %b}"


def _table(calendar: pl.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("Visit", "Date", "Window", "Event", "Dose"):
        table.add_column(name, overflow="fold", no_wrap=name in ("Visit", "Date"))
    for row in calendar.iter_rows(named=True):
        lo, hi = row["WINLODT"], row["WINHIDT"]
        window = "" if lo == hi else _span(lo, hi)
        if row.get("DURMIN") is not None:
            window = "ends " + _span(row["ENDLODT"], row["ENDHIDT"])
        table.add_row(
            row["VISIT"],
            f"{row['PLANDT']:%Y-%m-%d}",
            window,
            f"{escape(row['EVENT'])} [dim]({row['KIND']})[/dim]",
            _dose_text(row),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``schedule`` command to the main app."""

    @app.command("schedule")
    def schedule(
        protocol: Annotated[str, typer.Option("--protocol", "-p", help="Protocol id or YAML.")],
        start: Annotated[
            str, typer.Option("--start", help="Date of day 0 (the protocol's anchor), YYYY-MM-DD.")
        ],
        height: Annotated[
            float | None, typer.Option("--height", help="Height, cm (doses per m2).")
        ] = None,
        weight: Annotated[
            float | None, typer.Option("--weight", help="Weight, kg (doses per m2 or per kg).")
        ] = None,
        arm: Annotated[str | None, typer.Option("--arm", help="Arm id or label.")] = None,
        fmt: Annotated[
            CalendarFormat, typer.Option("--format", "-f", help="table, csv or ics.")
        ] = CalendarFormat.table,
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
        horizon: Annotated[
            int | None, typer.Option("--horizon", help="Days to plan (default: follow-up).")
        ] = None,
        dose_level: Annotated[
            str | None, typer.Option("--dose-level", help="Dose level id (escalation).")
        ] = None,
        choice: Annotated[
            list[str] | None,
            typer.Option("--choice", help="Alternative of a choice group (e.g. lenvatinib)."),
        ] = None,
        subject: Annotated[str | None, typer.Option("--subject", help="USUBJID.")] = None,
        actual: Annotated[
            Path | None,
            typer.Option("--actual", help="SV/EX-like CSV of actual visits: flag each visit."),
        ] = None,
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="Data cut-off for --actual, YYYY-MM-DD.")
        ] = None,
    ) -> None:
        """Each planned visit, window and dose of one subject, from the protocol's schedule."""
        from hcctrial.errors import InputError
        from hcctrial.protocol import load_protocol
        from hcctrial.schedule import (
            build_calendar,
            flag_visits,
            resolve_arm,
            to_ics,
            unscheduled_interventions,
        )

        p = load_protocol(protocol)
        arm_id = resolve_arm(p, arm)
        calendar = build_calendar(
            p,
            arm_id,
            start,
            height,
            weight,
            horizon_days=horizon,
            dose_level=dose_level,
            usubjid=subject,
            choices=choice,
        )
        if actual is not None:
            if not actual.is_file():
                raise InputError("file not found", file=str(actual), expected="a CSV file")
            records = pl.read_csv(actual, infer_schema=False)
            if subject is None:
                raise InputError("--actual needs --subject", expected="the USUBJID of the records")
            cutoff = None
            if as_of is not None:
                try:
                    cutoff = dt.date.fromisoformat(as_of)
                except ValueError:
                    raise InputError(
                        "--as-of is not a date", value=as_of, expected="YYYY-MM-DD"
                    ) from None
            if "VISITNUM" in records.columns:
                records = records.with_columns(pl.col("VISITNUM").cast(pl.Int64, strict=False))
            flagged = flag_visits(calendar, records, as_of=cutoff)
            if out is not None:
                flagged.write_csv(out)
                err_console.print(f"wrote {out}")
                return
            table = Table(title=f"{p.id}: visits of {subject}", title_justify="left")
            cols = ["VISIT", "EVENT", "ACTDTC", "VISITFL", "REASON"]
            heads = ["Visit", "Event", "Recorded", "Flag", "Reason"]
            for name in heads:
                table.add_column(name, overflow="fold", no_wrap=name not in ("Event", "Reason"))
            for values in flagged.select(cols).iter_rows():
                table.add_row(*["" if v is None else str(v) for v in values])
            console.print(table)
            return
        if out is not None and fmt is CalendarFormat.table:
            fmt = CalendarFormat.ics if out.suffix.lower() == ".ics" else CalendarFormat.csv
        if fmt is CalendarFormat.csv:
            text = calendar.write_csv()
        elif fmt is CalendarFormat.ics:
            text = to_ics(calendar, protocol_id=p.id, name=f"{p.id} {subject or arm_id}")
        else:
            text = ""
        if out is not None:
            out.write_bytes(text.encode("utf-8"))
            err_console.print(f"wrote {out} ({calendar.height} events)")
            return
        if fmt is not CalendarFormat.table:
            typer.echo(text, nl=False)
            return
        anchor = p.schedule.anchor.label
        title = f"{p.id}, arm {arm_id}: day 0 ({anchor}) = {start}"
        console.print(_table(calendar, title))
        doses = calendar.filter(pl.col("DOSECALC").is_not_null()).unique(
            "INTERVENTION", keep="first", maintain_order=True
        )
        for row in doses.iter_rows(named=True):
            console.print(f"{row['EXTRT']}: {row['DOSECALC']}", highlight=False, soft_wrap=True)
        for item in unscheduled_interventions(p, arm_id, choice):
            name = p.intervention(item).name
            console.print(
                f"not on the calendar (no schedule event in the protocol): {name}",
                highlight=False,
                soft_wrap=True,
            )
