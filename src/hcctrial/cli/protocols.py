"""``hcctrial protocols``: list, show and validate trial protocol files.

- ``list``: the built-in protocols (id, title, phase, design, arms, enrolment target).
- ``show ID|FILE``: a readable summary (arms, doses, calendar, criteria, outcomes, safety,
  assumptions) as text, or the whole protocol as JSON or YAML (the YAML loads back unchanged).
- ``validate FILE``: every problem of a user-written protocol with its YAML path, line, value
  and what was expected; criterion expressions are also type-checked by the eligibility
  language. Exit code 1 when there is any problem.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer
import yaml
from rich.table import Table

from hcctrial.cli._common import console, err_console
from hcctrial.errors import InputError, InputErrors, Problem


class ListFormat(StrEnum):
    """Output of ``protocols list``."""

    table = "table"
    json = "json"


class ShowFormat(StrEnum):
    """Output of ``protocols show``."""

    text = "text"
    json = "json"
    yaml = "yaml"


def _table(title: str, rows: list[dict[str, str]], columns: list[str] | None = None) -> Table:
    table = Table(title=title, show_lines=False, title_justify="left")
    names = columns or (list(rows[0]) if rows else [])
    for i, name in enumerate(names):
        table.add_column(name, overflow="fold", no_wrap=i == 0)
    for row in rows:
        table.add_row(*[str(row.get(name, "")) for name in names])
    return table


def _dump(protocol: Any) -> dict[str, Any]:
    # Defaults left out keep the output short; a None that overrides a default stays.
    data: dict[str, Any] = protocol.model_dump(mode="json", exclude_defaults=True)
    return data


def _list(fmt: ListFormat) -> None:
    from hcctrial.protocol import builtin_protocols
    from hcctrial.protocol.describe import overview

    rows = [overview(p) for _, p in sorted(builtin_protocols().items())]
    if fmt is ListFormat.json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="Built-in protocols", show_lines=True)
    table.add_column("id", no_wrap=True)
    # prose columns share the width; short values never break inside a word
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("phase", overflow="fold")
    table.add_column("design", overflow="fold", ratio=2)
    table.add_column("arms", overflow="fold", ratio=2)
    table.add_column("n", no_wrap=True, justify="right")
    table.add_column("assumptions", no_wrap=True, justify="right")
    for r in rows:
        target = r["enrolment_target"]
        table.add_row(
            r["id"],
            r["title"],
            r["phase"],
            r["design"],
            "\n".join(r["arms"]),
            "-" if target is None else str(target),
            str(r["assumptions"]),
        )
    console.print(table)


def _criteria_rows(protocol: Any) -> list[dict[str, str]]:
    rows = []
    for c in protocol.eligibility.criteria:
        rule = c.expression if c.expression is not None else f"investigator judgement: {c.reason}"
        rows.append(
            {
                "id": c.id,
                "kind": c.kind,
                "source (record)": c.source,
                "expression / judgement": rule,
                "assumption": c.assumption or "",
            }
        )
    return rows


def _safety_lines(protocol: Any) -> list[str]:
    s = protocol.safety
    lines = [f"CTCAE v{s.ctcae_version}"]
    if s.crs_icans_grading:
        lines[0] += f"; CRS/ICANS graded by {s.crs_icans_grading}"
    w = s.ae_window
    if w is not None:
        text = f"AE collection: from {w.start} to {w.end_days_after} days after {w.end_after}"
        if w.ends_at_withdrawal:
            text += " or withdrawal"
        if w.untreated_days is not None:
            text += f"; not treated: {w.untreated_days} days after the study procedure"
        lines.append(text)
    d = s.dlt
    if d is not None:
        lines.append(
            f"DLT window: {d.window_days} days from {d.window_start}; attribution "
            f"{d.attribution}; "
            + (
                "rules ASSUMED (the record gives none; see assumptions)"
                if d.definition == "assumed"
                else "rules from the record"
            )
        )
        for r in d.rules:
            duration = f", >= {r.min_duration_days} d" if r.min_duration_days is not None else ""
            term = f" {r.term}" if r.term else ""
            exceptions = f" (except {', '.join(r.exceptions)})" if r.exceptions else ""
            lines.append(
                f"  {r.id}: {r.category}{term} grade >= {r.min_grade}{duration}{exceptions}"
            )
    f = protocol.follow_up
    lines.append(
        f"Follow-up: {f.duration_months:g} months" + (f"; {f.visit_rule}" if f.visit_rule else "")
    )
    return lines


def _show_text(protocol: Any) -> None:
    from hcctrial.protocol.describe import (
        design_text,
        endpoint_rows,
        event_rows,
        intervention_rows,
    )

    p = protocol
    console.rule(f"[bold]{p.id}[/bold]: {p.title}")
    head = [
        ("Official title", p.official_title or ""),
        ("Registry id", p.registry_id or "none in the record"),
        ("Phase", p.phase),
        ("Design", design_text(p)),
        ("Enrolment target", "not stated" if p.design.enrolment_target is None else ""),
        ("Conditions", ", ".join(p.conditions)),
    ]
    if p.design.enrolment_target is not None:
        head[4] = ("Enrolment target", str(p.design.enrolment_target))
    if p.design.sites:
        head.append(("Sites", "; ".join(s.name for s in p.design.sites)))
    for label, value in head:
        console.print(f"[bold]{label}:[/bold] {value}", highlight=False)
    arms = [
        {
            "id": a.id,
            "label": a.label,
            "type": a.type,
            "interventions": ", ".join(a.interventions),
            "dose levels": ", ".join(a.dose_levels),
        }
        for a in p.arms
    ]
    console.print(_table("Arms", arms))
    console.print(_table("Interventions and doses", intervention_rows(p)))
    if p.design.dose_escalation is not None:
        e = p.design.dose_escalation
        console.print(
            f"[bold]Dose escalation:[/bold] {e.design} over {', '.join(e.levels)} from "
            f"{e.start_level}, cohorts of {e.cohort_size}"
            + (f", at most {e.max_patients} patients" if e.max_patients else ""),
            highlight=False,
        )
    console.print(
        _table(f"Calendar ({p.schedule.anchor.label})", event_rows(p)),
    )
    console.print(
        _table(
            f"Eligibility ({len(p.eligibility.inclusion)} inclusion, "
            f"{len(p.eligibility.exclusion)} exclusion; labs within "
            f"{p.eligibility.lab_lookback_days} days)",
            _criteria_rows(p),
        )
    )
    console.print(_table("Outcome measures", endpoint_rows(p)))
    console.print("[bold]Safety[/bold]")
    for line in _safety_lines(p):
        console.print("  " + line, highlight=False)
    assumptions = [
        {
            "id": a.id,
            "topic": a.topic,
            "record says": a.record_says,
            "chosen": a.chosen,
            "reason": a.reason,
        }
        for a in p.assumptions
    ]
    console.print(_table(f"Assumptions ({len(assumptions)})", assumptions))


def _show(spec: str, fmt: ShowFormat) -> None:
    from hcctrial.protocol import load_protocol

    protocol = load_protocol(spec)
    if fmt is ShowFormat.json:
        console.print_json(json.dumps(_dump(protocol), ensure_ascii=False))
    elif fmt is ShowFormat.yaml:
        text = yaml.safe_dump(_dump(protocol), sort_keys=False, allow_unicode=True, width=100)
        print(text, end="")
    else:
        _show_text(protocol)


def _raw_criteria(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(YAML path, expression) of every criterion expression in the raw YAML data."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(data, dict):
        return found
    for section in ("eligibility", "donors"):
        block = data.get(section)
        criteria = block.get("criteria") if isinstance(block, dict) else None
        if not isinstance(criteria, list):
            continue
        for i, item in enumerate(criteria):
            if isinstance(item, dict) and isinstance(item.get("expression"), str):
                found.append(((section, "criteria", i, "expression"), item["expression"]))
    return found


def expression_problems(text: str, file: str, skip: set[str] | None = None) -> list[Problem]:
    """Criterion expressions of protocol YAML ``text`` that the eligibility language rejects.

    The schema's load-time check is structural; this one is the screening engine's own
    (:func:`hcctrial.eligibility.parse_expression`: types, units, arguments), so a protocol
    that validates can be screened. It reads the raw YAML, so it runs even when other fields
    are wrong; ``skip`` holds YAML paths already reported.
    """
    from hcctrial.eligibility import parse_expression
    from hcctrial.protocol import line_of, yaml_path

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    problems = []
    for loc, expression in _raw_criteria(data):
        path = yaml_path(loc)
        if skip and path in skip:
            continue
        try:
            parse_expression(expression)
        except InputError as exc:
            line = line_of(text, loc)
            problems.append(
                Problem(
                    f"{path}: {exc.problem.message}",
                    file=f"{file} line {line}" if line else file,
                    value=expression,
                    expected=exc.problem.expected,
                )
            )
    return problems


def _validate(path: Path) -> None:
    from hcctrial.protocol import parse_protocol

    if not path.is_file():
        raise InputError("protocol file not found", file=str(path), expected="a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read protocol file: {exc}", file=str(path)) from None
    try:
        protocol = parse_protocol(text, file=str(path))
    except InputErrors as exc:
        reported = {p.message.split(": ", 1)[0] for p in exc.problems}
        _report(exc.problems + expression_problems(text, str(path), reported), path)
    problems = expression_problems(text, str(path))
    if problems:
        _report(problems, path)
    console.print(
        f"[green]valid[/green]: {path} is protocol {protocol.id} "
        f"({len(protocol.arms)} arm(s), {len(protocol.interventions)} intervention(s), "
        f"{len(protocol.schedule.events)} schedule event(s), "
        f"{len(protocol.eligibility.criteria)} criteria, {len(protocol.endpoints)} endpoint(s), "
        f"{len(protocol.assumptions)} assumption(s))",
        highlight=False,
    )


def _report(problems: list[Problem], path: Path) -> NoReturn:
    """Print every problem (not only the first ten) and fail with exit code 1."""
    for p in problems:
        err_console.print(f"  - {p}", highlight=False, soft_wrap=True)
    raise InputError(
        f"{len(problems)} problem(s) listed above; the protocol is not valid",
        file=str(path),
        expected="a protocol in the format of docs/readme/protocol.md",
    )


def register(app: typer.Typer) -> None:
    """Add the ``protocols`` command group to the main app."""
    group = typer.Typer(help="List, show and validate trial protocols.", no_args_is_help=True)

    @group.command("list")
    def list_(
        fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table|json"),
    ) -> None:
        """The built-in protocols: id, title, phase, design, arms, enrolment target."""
        _list(fmt)

    @group.command("show")
    def show(
        protocol: str = typer.Argument(..., help="Built-in id or alias, or a YAML file."),
        fmt: ShowFormat = typer.Option(ShowFormat.text, "--format", help="text|json|yaml"),
    ) -> None:
        """A protocol: arms, doses, calendar, criteria, outcomes, safety and assumptions."""
        _show(protocol, fmt)

    @group.command("validate")
    def validate(
        file: Path = typer.Argument(..., help="Protocol YAML file to check."),
    ) -> None:
        """Check a protocol file; every problem names its YAML path, line and expected value."""
        _validate(file)

    app.add_typer(group, name="protocols")
