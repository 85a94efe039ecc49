"""``hcctrial escalate``: the next-cohort decision, the decision table and the operating
characteristics of a dose-escalation design (3+3 and BOIN).

``hcctrial escalate --protocol ID --cohorts FILE`` gives the decision for the next cohort with
the rule that produced it (``--pathways 2``: every outcome of the next two cohorts);
``hcctrial escalate --simulate --true-tox 0.05,0.15,0.35`` the operating characteristics;
``hcctrial escalate --table`` the full decision table, printed and (``--out``) exported.
``--decision-table FILE`` makes a user's table drive the decision and the simulation. The
older spelling ``hcctrial escalation [table|next]`` still works (hidden, same engine).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import polars.selectors as cs
import typer

from hcctrial.cli._common import OutputFormat, console, emit
from hcctrial.errors import InputError

_FORMAT = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv.", case_sensitive=False)
]
_PROTOCOL = Annotated[
    str | None, typer.Option("--protocol", "-p", help="Protocol id or YAML file (dose levels).")
]
_LEVELS = Annotated[
    str | None, typer.Option("--levels", help="Dose level names, comma-separated (no protocol).")
]
_DESIGN = Annotated[
    str | None,
    typer.Option("--design", "-d", help="boin or 3+3 (default: the protocol's, else boin)."),
]
_TARGET = Annotated[float | None, typer.Option("--target", help="BOIN target DLT rate.")]
_COHORT = Annotated[int | None, typer.Option("--cohort-size", help="Patients per cohort.")]
_MAXN = Annotated[int | None, typer.Option("--max-n", help="Maximum sample size (BOIN).")]


# Column names shown by the CLI (the Python API keeps the short ones).
_SHOWN = {
    "TRUEP": "TRUE_DLT",
    "PSELECT": "MTD_%",
    "PSELECT_SE": "SE",
    "MEAN_N": "PATIENTS",
    "PCT_PATIENTS": "PATIENTS_%",
    "MEAN_DLT": "DLTS",
    "MEAN_BACKFILL": "BACKFILL",
}


@dataclass(frozen=True)
class _Setup:
    design: str
    levels: list[str]
    labels: list[str]
    start: int
    target: float | None
    cohort_size: int
    max_n: int
    p_saf: float | None
    p_tox: float | None
    cutoff: float


def _setup(
    protocol: str | None,
    levels: str | None,
    design: str | None,
    target: float | None,
    cohort_size: int | None,
    max_n: int | None,
    n_levels: int | None = None,
) -> _Setup:
    """Resolve the design from the protocol, explicit options overriding it."""
    names: list[str] = []
    labels: list[str] = []
    esc = None
    if protocol is not None:
        from hcctrial.protocol import load_protocol

        proto = load_protocol(protocol)
        esc = proto.design.dose_escalation
        if esc is None:
            raise InputError(f"protocol {proto.id} has no dose-escalation design")
        names = list(esc.levels)
        labels = [proto.dose_level(i).label if proto.dose_levels else i for i in names]
    if levels is not None:
        names = [x.strip() for x in levels.split(",") if x.strip()]
        labels = list(names)
    if not names and n_levels is not None:
        names = [str(i) for i in range(1, n_levels + 1)]
        labels = list(names)
    if not names:
        raise InputError("dose levels not known", expected="--protocol ID or --levels A,B,C")
    if len(set(names)) != len(names):
        raise InputError("dose level names repeat", value=",".join(names))
    # Without a protocol or --design: BOIN (the issue's `--design boin|3+3` is optional).
    chosen = (design or (esc.design if esc else "boin")).strip().lower()
    if chosen not in ("boin", "3+3"):
        raise InputError("design not given or unknown", value=design, expected="boin or 3+3")
    tgt = target if target is not None else (esc.target_dlt_rate if esc else None)
    if chosen == "boin" and tgt is None:
        tgt = 0.3
    if tgt is not None and not 0 < tgt < 1:
        raise InputError("target DLT rate must lie strictly between 0 and 1", value=tgt)
    size = cohort_size or (esc.cohort_size if esc else 3)
    if chosen == "3+3" and size != 3:
        raise InputError("the 3+3 design treats cohorts of 3", value=size)
    total = max_n or (esc.max_patients if esc and esc.max_patients else 30)
    if size < 1 or total < size:
        raise InputError("need 1 <= cohort size <= maximum sample size", value=(size, total))
    start = names.index(esc.start_level) if esc and esc.start_level in names else 0
    return _Setup(
        chosen,
        names,
        labels,
        start,
        tgt,
        size,
        total,
        esc.p_saf if esc else None,
        esc.p_tox if esc else None,
        esc.elimination_cutoff if esc else 0.95,
    )


def _print_lines(lines: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        console.print(f"{key.ljust(width)}  {value}", highlight=False, soft_wrap=True)


def _variant(deescalate: bool) -> str:
    """The 3+3 variant in words (imported late: the CLI starts without SciPy)."""
    from hcctrial.safety.escalation_oc import VARIANT_33

    return VARIANT_33[deescalate]


def _read_csv(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(f"{what} file not found", file=str(path))
    try:
        return pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from exc


def _user_table(path: Path | None) -> Any:
    if path is None:
        return None
    from hcctrial.safety.decision_table import read_decision_table

    return read_decision_table(_read_csv(path, "decision table").cast(pl.Utf8), file=str(path))


def _oc(
    s: _Setup,
    true_dlt: str,
    trials: int,
    seed: int,
    deescalate: bool,
    table: Any = None,
    backfill: int = 0,
    backfill_cap: int | None = None,
) -> dict[str, Any]:
    from hcctrial.safety.escalation import parse_true_rates
    from hcctrial.safety.escalation_oc import design_operating_characteristics

    rates = parse_true_rates(true_dlt)
    if rates.size != len(s.levels):
        raise InputError(
            f"{rates.size} true DLT rates for {len(s.levels)} dose levels", value=true_dlt
        )
    oc = design_operating_characteristics(
        s.design,
        rates,
        target=s.target,
        start=s.start,
        cohort_size=s.cohort_size,
        max_n=s.max_n,
        trials=trials,
        seed=seed,
        deescalate=deescalate,
        p_saf=s.p_saf,
        p_tox=s.p_tox,
        cutoff=s.cutoff,
        table=table,
        backfill_size=backfill,
        backfill_cap=backfill_cap,
    )
    out_table = oc.table.select(
        pl.Series("LEVEL", s.levels),
        pl.Series("DOSE", s.labels),
        *[c for c in oc.table.columns if c != "LEVEL"],
    )
    return {
        "design": oc.design,
        "method": oc.method,
        "table": out_table,
        "overall": oc.overall,
        "extra": oc.notes,
    }


def _overall_lines(design: str, o: dict[str, float]) -> list[tuple[str, str]]:
    def se(key: str) -> str:
        return f" (SE {o[key + '_se']:.2f})" if key + "_se" in o else ""

    lines = [("no MTD selected", f"{o['p_none']:.2f}%{se('p_none')}")]
    if design == "boin":
        lines.append(("early stop", f"{o['p_early_stop']:.2f}%{se('p_early_stop')}"))
    else:  # 3+3 stops early only when the lowest level exceeds the MTD: no dose selected
        lines.append(("early stop", f"{o['p_none']:.2f}% (the lowest level exceeds the MTD)"))
    lines.append(("mean patients", f"{o['mean_n']:.2f}{se('mean_n')}"))
    lines.append(("mean DLTs", f"{o['mean_dlt']:.2f}{se('mean_dlt')}"))
    if "dlt_rate" in o:
        lines.append(("DLT rate", f"{o['dlt_rate']:.2f}% of treated patients{se('dlt_rate')}"))
    return lines


_TRUE_TOX = Annotated[
    str | None,
    typer.Option("--true-tox", "--true-dlt", help="True DLT rate per level, e.g. 0.05,0.15,0.35."),
]
_TRIALS = Annotated[int, typer.Option("--trials", help="Simulated trials (BOIN).")]
_SEED = Annotated[int, typer.Option("--seed", help="Random seed (BOIN).")]
_DEESC = Annotated[
    bool, typer.Option("--deescalate/--no-deescalate", help="3+3 variant (see the docs).")
]
_PATHWAYS = Annotated[
    int, typer.Option("--pathways", help="Also show dose-transition pathways for N cohorts.")
]
_CURRENT = Annotated[str | None, typer.Option("--current", help="Level of the last cohort.")]
_USER_TABLE = Annotated[
    Path | None,
    typer.Option(
        "--decision-table",
        help="CSV decision table (N, ESCALATE_LE, DEESCALATE_GE, ELIMINATE_GE) to use "
        "instead of BOIN's own boundaries.",
    ),
]
_BACKFILL = Annotated[
    int, typer.Option("--backfill", help="Backfill patients after each cohort (BOIN simulation).")
]
_BACKFILL_CAP = Annotated[
    int | None, typer.Option("--backfill-cap", help="Patients per level beyond which no backfill.")
]
_OUT = Annotated[Path | None, typer.Option("--out", help="Also write the table as CSV.")]


def _show_oc(s: _Setup, res: dict[str, Any], fmt: OutputFormat, out: Path | None) -> None:
    if out is not None:
        res["table"].write_csv(out)
    if fmt is OutputFormat.json:
        payload = {k: v for k, v in res.items() if k not in ("table", "extra")}
        payload |= dict(res["extra"])
        payload["levels"] = res["table"].to_dicts()
        console.print_json(json.dumps(payload, default=float))
        return
    if fmt is OutputFormat.csv:
        emit(res["table"], fmt)
        return
    _print_lines([("design", res["design"]), *res["extra"], ("method", res["method"])])
    shown = res["table"].with_columns(cs.float().round(3)).rename(_SHOWN, strict=False)
    if s.labels == s.levels:
        shown = shown.drop("DOSE")
    emit(shown, fmt)
    _print_lines(_overall_lines(s.design, res["overall"]))


def _show_table(s: _Setup, user: Any, fmt: OutputFormat, out: Path | None) -> None:
    from hcctrial.safety.boin import boin_boundaries
    from hcctrial.safety.decision_table import boin_table

    assert s.target is not None
    table = user or boin_table(
        s.target,
        s.max_n,
        cohort_size=s.cohort_size,
        p_saf=s.p_saf,
        p_tox=s.p_tox,
        cutoff=s.cutoff,
    )
    frame = table.frame()
    if out is not None:
        frame.write_csv(out)
    if fmt is OutputFormat.table:
        if user is not None:
            lines = [("decision table", f"{user.source} (checked)")]
        else:
            lam_e, lam_d = boin_boundaries(s.target, s.p_saf, s.p_tox)
            lines = [
                ("design", f"BOIN (Liu and Yuan 2015), target {s.target:g}"),
                ("rule", f"escalate if DLT/N <= {lam_e:.4f}, de-escalate if >= {lam_d:.4f}"),
                ("eliminate", f"Pr(p > {s.target:g} | Beta(1 + DLT, 1 + N - DLT)) > {s.cutoff:g}"),
            ]
        if out is not None:
            lines.append(("written to", str(out)))
        _print_lines(lines)
    emit(frame, fmt)


def _show_table_33(deescalate: bool, fmt: OutputFormat, out: Path | None) -> None:
    from hcctrial.safety.three_plus_three import three_plus_three_table

    frame = three_plus_three_table().frame()
    if out is not None:
        frame.write_csv(out)
    if fmt is OutputFormat.table:
        lines = [
            ("design", "3+3 (Storer 1989; Lin and Shih 2001)"),
            ("variant", _variant(deescalate)),
            ("eliminate", "a level with >= 2 DLT exceeds the MTD and is never used again"),
        ]
        if out is not None:
            lines.append(("written to", str(out)))
        _print_lines(lines)
    emit(frame, fmt)


def _show_next(
    s: _Setup,
    data: Path,
    current: str | None,
    deescalate: bool,
    pathways: int,
    user: Any,
    fmt: OutputFormat,
    out: Path | None,
) -> None:
    from hcctrial.safety.escalation import counts_from_table, next_decision, transition_pathways

    df = _read_csv(data, "cohort data")
    if pathways < 0 or pathways > 4:
        raise InputError("--pathways takes 0 to 4 cohorts", value=pathways)
    counts = counts_from_table(df, s.levels, current=current, file=str(data))
    opts: dict[str, Any] = {
        "target": s.target,
        "max_n": s.max_n if s.design == "boin" else None,
        "deescalate": deescalate,
        "table": user,
    }
    dec = next_decision(s.design, counts, **opts)
    name = dict(enumerate(s.levels))
    summary = pl.DataFrame(
        {
            "LEVEL": s.levels,
            "DOSE": s.labels,
            "N": counts.n,
            "NDLT": counts.ndlt,
            "ELIMINATED": [i in dec.eliminated for i in range(len(s.levels))],
        }
    )
    result = {
        "design": s.design if user is None else f"boin with the decision table {user.source}",
        "current": name[counts.current] if counts.current is not None else None,
        "decision": dec.action,
        "next_level": None if dec.level is None else name[dec.level],
        "mtd": None if dec.mtd is None else name[dec.mtd],
        "rule": dec.rule,
    }
    if s.design == "3+3":
        result["variant"] = _variant(deescalate)
    paths = None
    if pathways:
        paths = transition_pathways(
            s.design, counts, cohorts=pathways, cohort_size=s.cohort_size, **opts
        )
    flat = summary.with_columns(*[pl.lit(v).alias(k.upper()) for k, v in result.items()])
    if out is not None:
        flat.write_csv(out)
    if fmt is OutputFormat.csv:  # one table: the levels with the decision on every row
        emit(flat, fmt)
        if paths is not None:
            emit(paths, fmt)
        return
    if fmt is OutputFormat.json:
        extra: dict[str, Any] = {"levels": summary.to_dicts()}
        if paths is not None:
            extra["pathways"] = paths.to_dicts()
        console.print_json(json.dumps(result | extra))
        return
    emit(summary.drop("DOSE") if s.labels == s.levels else summary, fmt)
    if fmt is OutputFormat.table:
        lines = [(k.replace("_", " "), "-" if v is None else str(v)) for k, v in result.items()]
        _print_lines(lines)
    if paths is not None:
        emit(paths, fmt)


def _n_levels(true_dlt: str | None) -> int | None:
    return None if true_dlt is None else len([t for t in true_dlt.split(",") if t.strip()])


def register(app: typer.Typer) -> None:
    """Add the ``escalate`` command (and the older ``escalation`` group, hidden)."""

    @app.command("escalate")
    def escalate_cmd(
        protocol: _PROTOCOL = None,
        cohorts: Annotated[
            Path | None,
            typer.Option(
                "--cohorts",
                help="Cohort data CSV (LEVEL, N, NDLT or one row per patient; dlt_subjects.csv "
                "of 'hcctrial safety'): the decision for the next cohort.",
            ),
        ] = None,
        simulate: Annotated[
            bool, typer.Option("--simulate", help="Operating characteristics (needs --true-tox).")
        ] = False,
        table: Annotated[
            bool, typer.Option("--table", help="The full decision table (BOIN), --out for CSV.")
        ] = False,
        true_tox: _TRUE_TOX = None,
        design: _DESIGN = None,
        target: _TARGET = None,
        trials: _TRIALS = 10_000,
        levels: _LEVELS = None,
        cohort_size: _COHORT = None,
        max_n: _MAXN = None,
        current: _CURRENT = None,
        pathways: _PATHWAYS = 0,
        decision_table: _USER_TABLE = None,
        backfill: _BACKFILL = 0,
        backfill_cap: _BACKFILL_CAP = None,
        seed: _SEED = 20150101,
        deescalate: _DEESC = True,
        out: _OUT = None,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """Dose escalation (3+3, BOIN): the next-cohort decision (--cohorts), operating
        characteristics (--simulate) or the decision table (--table)."""
        modes = [m for m, on in (("--cohorts", cohorts is not None), ("--simulate", simulate),
                                 ("--table", table)) if on]  # fmt: skip
        if len(modes) != 1:  # a usage error (exit code 2), not bad input
            got = f" (got {' and '.join(modes)})" if modes else ""
            raise typer.BadParameter(
                f"give one of --cohorts FILE, --simulate or --table{got}; e.g. "
                "hcctrial escalate --protocol ID --cohorts cohorts.csv"
            )
        user = _user_table(decision_table)
        if user is not None and design is None:
            design = "boin"
        if table:
            s = _setup(protocol, None if protocol else "1", design, target, cohort_size, max_n)
            if s.design == "3+3" and user is None:
                _show_table_33(deescalate, fmt, out)
                return
            s = _setup(protocol, None if protocol else "1", "boin", target, cohort_size, max_n)
            _show_table(s, user, fmt, out)
            return
        if simulate:
            if true_tox is None:
                raise InputError("--simulate needs --true-tox", expected="e.g. 0.05,0.15,0.35")
            s = _setup(protocol, levels, design, target, cohort_size, max_n, _n_levels(true_tox))
            res = _oc(s, true_tox, trials, seed, deescalate, user, backfill, backfill_cap)
            _show_oc(s, res, fmt, out)
            return
        assert cohorts is not None
        s = _setup(protocol, levels, design, target, cohort_size, max_n)
        _show_next(s, cohorts, current, deescalate, pathways, user, fmt, out)

    group = typer.Typer(
        help="Older spelling of 'hcctrial escalate' (operating characteristics by default, "
        "'table', 'next').",
    )
    app.add_typer(group, name="escalation", hidden=True)

    @group.callback(invoke_without_command=True)
    def oc_cmd(
        ctx: typer.Context,
        protocol: _PROTOCOL = None,
        levels: _LEVELS = None,
        design: _DESIGN = None,
        target: _TARGET = None,
        true_dlt: _TRUE_TOX = None,
        trials: _TRIALS = 10_000,
        cohort_size: _COHORT = None,
        max_n: _MAXN = None,
        seed: _SEED = 20150101,
        deescalate: _DEESC = True,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """Operating characteristics (as 'hcctrial escalate --simulate')."""
        if ctx.invoked_subcommand is not None:
            return
        if true_dlt is None:
            raise InputError(
                "operating characteristics need --true-dlt", expected="e.g. 0.05,0.15,0.3"
            )
        s = _setup(protocol, levels, design, target, cohort_size, max_n, _n_levels(true_dlt))
        _show_oc(s, _oc(s, true_dlt, trials, seed, deescalate), fmt, None)

    @group.command("table")
    def table_cmd(
        protocol: _PROTOCOL = None,
        target: _TARGET = None,
        cohort_size: _COHORT = None,
        max_n: _MAXN = None,
        out: _OUT = None,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """The BOIN decision table (as 'hcctrial escalate --table')."""
        s = _setup(protocol, None if protocol else "1", "boin", target, cohort_size, max_n)
        _show_table(s, None, fmt, out)

    @group.command("next")
    def next_cmd(
        data: Annotated[Path, typer.Option("--data", help="Cohort data CSV (see docs).")],
        protocol: _PROTOCOL = None,
        levels: _LEVELS = None,
        design: _DESIGN = None,
        target: _TARGET = None,
        max_n: _MAXN = None,
        current: _CURRENT = None,
        deescalate: _DEESC = True,
        cohort_size: _COHORT = None,
        pathways: _PATHWAYS = 0,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """The next-cohort decision (as 'hcctrial escalate --cohorts FILE')."""
        s = _setup(protocol, levels, design, target, cohort_size, max_n)
        _show_next(s, data, current, deescalate, pathways, None, fmt, None)
