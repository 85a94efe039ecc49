"""``hcctrial escalation``: dose-escalation operating characteristics, decision tables and the
next-cohort decision (3+3 and BOIN)."""

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
    str | None, typer.Option("--design", "-d", help="boin or 3+3 (default: the protocol's).")
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
    chosen = (design or (esc.design if esc else "")).strip().lower()
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


def _oc(s: _Setup, true_dlt: str, trials: int, seed: int, deescalate: bool) -> dict[str, Any]:
    from hcctrial.safety.escalation import parse_true_rates

    rates = parse_true_rates(true_dlt)
    if rates.size != len(s.levels):
        raise InputError(
            f"{rates.size} true DLT rates for {len(s.levels)} dose levels", value=true_dlt
        )
    if s.design == "3+3":
        from hcctrial.safety.three_plus_three import three_plus_three_oc

        ex = three_plus_three_oc(rates, start=s.start, deescalate=deescalate)
        table = ex.table.select(
            pl.Series("LEVEL", s.levels),
            pl.Series("DOSE", s.labels),
            "TRUEP",
            (100 * pl.col("PSELECT")).alias("PSELECT"),
            pl.col("EN").alias("MEAN_N"),
            pl.col("EDLT").alias("MEAN_DLT"),
        )
        overall = {"p_none": 100 * ex.p_none, "mean_n": ex.expected_n, "mean_dlt": ex.expected_dlt}
        method = "exact enumeration (no Monte Carlo error)"
        variant = "with" if deescalate else "without"
        rule = f"3+3 {variant} de-escalation (Storer 1989; Lin and Shih 2001)"
    else:
        from hcctrial.safety.boin import boin_boundaries, operating_characteristics, simulate_boin

        assert s.target is not None
        if trials < 1:
            raise InputError("number of trials must be >= 1", value=trials)
        sim = simulate_boin(
            rates,
            s.target,
            n_trials=trials,
            cohort_size=s.cohort_size,
            max_n=s.max_n,
            start=s.start,
            seed=seed,
            p_saf=s.p_saf,
            p_tox=s.p_tox,
            cutoff=s.cutoff,
        )
        tab, overall = operating_characteristics(sim)
        table = tab.select(
            pl.Series("LEVEL", s.levels),
            pl.Series("DOSE", s.labels),
            *[c for c in tab.columns if c != "LEVEL"],
        )
        lam_e, lam_d = boin_boundaries(s.target, s.p_saf, s.p_tox)
        method = f"{trials} simulated trials (seed {seed}); SE = Monte Carlo standard error"
        rule = (
            f"BOIN (Liu and Yuan 2015), target {s.target:g}, lambda_e {lam_e:.4f}, "
            f"lambda_d {lam_d:.4f}, elimination Pr(p > target) > {s.cutoff:g} with n >= 3"
        )
    return {"design": rule, "method": method, "table": table, "overall": overall}


def _overall_lines(design: str, o: dict[str, float]) -> list[tuple[str, str]]:
    def se(key: str) -> str:
        return f" (SE {o[key + '_se']:.2f})" if key + "_se" in o else ""

    lines = [("no MTD selected", f"{o['p_none']:.2f}%{se('p_none')}")]
    if design == "boin":
        lines.append(("early stop", f"{o['p_early_stop']:.2f}%{se('p_early_stop')}"))
    lines.append(("mean patients", f"{o['mean_n']:.2f}{se('mean_n')}"))
    lines.append(("mean DLTs", f"{o['mean_dlt']:.2f}{se('mean_dlt')}"))
    if "dlt_rate" in o:
        lines.append(("DLT rate", f"{o['dlt_rate']:.2f}% of treated patients{se('dlt_rate')}"))
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``escalation`` command group to the main app."""
    group = typer.Typer(
        help="Dose escalation (3+3, BOIN): operating characteristics (default), the decision "
        "table, and the next-cohort decision from current data.",
    )
    app.add_typer(group, name="escalation")

    @group.callback(invoke_without_command=True)
    def oc_cmd(
        ctx: typer.Context,
        protocol: _PROTOCOL = None,
        levels: _LEVELS = None,
        design: _DESIGN = None,
        target: _TARGET = None,
        true_dlt: Annotated[
            str | None,
            typer.Option("--true-dlt", help="True DLT rate per level, e.g. 0.05,0.15,0.3."),
        ] = None,
        trials: Annotated[int, typer.Option("--trials", help="Simulated trials (BOIN).")] = 10_000,
        cohort_size: _COHORT = None,
        max_n: _MAXN = None,
        seed: Annotated[int, typer.Option("--seed", help="Random seed (BOIN).")] = 20150101,
        deescalate: Annotated[
            bool, typer.Option("--deescalate/--no-deescalate", help="3+3 variant.")
        ] = True,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """Operating characteristics: probability of selecting each level as MTD, patients and
        DLTs per level, early stopping (3+3 exact; BOIN simulated with Monte Carlo error)."""
        if ctx.invoked_subcommand is not None:
            return
        if true_dlt is None:
            raise InputError(
                "operating characteristics need --true-dlt", expected="e.g. 0.05,0.15,0.3"
            )
        n_levels = len([t for t in true_dlt.split(",") if t.strip()])
        s = _setup(protocol, levels, design, target, cohort_size, max_n, n_levels)
        res = _oc(s, true_dlt, trials, seed, deescalate)
        if fmt is OutputFormat.json:
            payload = {k: v for k, v in res.items() if k != "table"}
            payload["levels"] = res["table"].to_dicts()
            console.print_json(json.dumps(payload, default=float))
            return
        if fmt is OutputFormat.csv:
            emit(res["table"], fmt)
            return
        _print_lines([("design", res["design"]), ("method", res["method"])])
        shown = res["table"].with_columns(cs.float().round(3)).rename(_SHOWN, strict=False)
        if s.labels == s.levels:
            shown = shown.drop("DOSE")
        emit(shown, fmt)
        _print_lines(_overall_lines(s.design, res["overall"]))

    @group.command("table")
    def table_cmd(
        protocol: _PROTOCOL = None,
        target: _TARGET = None,
        cohort_size: _COHORT = None,
        max_n: _MAXN = None,
        out: Annotated[Path | None, typer.Option("--out", help="Also write it as CSV.")] = None,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """The BOIN decision table for the whole trial (escalate / de-escalate / eliminate)."""
        from hcctrial.safety.boin import boin_boundaries, boin_decision_table

        s = _setup(protocol, None if protocol else "1", "boin", target, cohort_size, max_n)
        assert s.target is not None
        table = boin_decision_table(
            s.target,
            s.max_n,
            cohort_size=s.cohort_size,
            p_saf=s.p_saf,
            p_tox=s.p_tox,
            cutoff=s.cutoff,
        )
        if out is not None:
            table.write_csv(out)
        if fmt is OutputFormat.table:
            lam_e, lam_d = boin_boundaries(s.target, s.p_saf, s.p_tox)
            _print_lines(
                [
                    ("design", f"BOIN (Liu and Yuan 2015), target {s.target:g}"),
                    ("rule", f"escalate if DLT/N <= {lam_e:.4f}, de-escalate if >= {lam_d:.4f}"),
                    (
                        "eliminate",
                        f"Pr(p > {s.target:g} | Beta(1 + DLT, 1 + N - DLT)) > {s.cutoff:g}",
                    ),
                ]
            )
        emit(table, fmt)

    @group.command("next")
    def next_cmd(
        data: Annotated[Path, typer.Option("--data", help="Cohort data CSV (see docs).")],
        protocol: _PROTOCOL = None,
        levels: _LEVELS = None,
        design: _DESIGN = None,
        target: _TARGET = None,
        max_n: _MAXN = None,
        current: Annotated[
            str | None, typer.Option("--current", help="Level of the last cohort.")
        ] = None,
        deescalate: Annotated[
            bool, typer.Option("--deescalate/--no-deescalate", help="3+3 variant.")
        ] = True,
        cohort_size: _COHORT = None,
        pathways: Annotated[
            int,
            typer.Option("--pathways", help="Also show dose-transition pathways for N cohorts."),
        ] = 0,
        fmt: _FORMAT = OutputFormat.table,
    ) -> None:
        """The decision for the next cohort from the data so far, with the rule that made it."""
        from hcctrial.safety.escalation import counts_from_table, next_decision

        if not data.is_file():
            raise InputError("cohort data file not found", file=str(data))
        try:
            df = pl.read_csv(data, infer_schema_length=10_000)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
            raise InputError(f"cannot read CSV: {exc}", file=str(data)) from exc
        s = _setup(protocol, levels, design, target, cohort_size, max_n)
        counts = counts_from_table(df, s.levels, current=current, file=str(data))
        dec = next_decision(
            s.design,
            counts,
            target=s.target,
            max_n=s.max_n if s.design == "boin" else None,
            deescalate=deescalate,
        )
        name = {i: n for i, n in enumerate(s.levels)}
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
            "design": s.design,
            "current": name[counts.current] if counts.current is not None else None,
            "decision": dec.action,
            "next_level": None if dec.level is None else name[dec.level],
            "mtd": None if dec.mtd is None else name[dec.mtd],
            "rule": dec.rule,
        }
        paths = None
        if pathways < 0 or pathways > 4:
            raise InputError("--pathways takes 0 to 4 cohorts", value=pathways)
        if pathways:
            from hcctrial.safety.escalation import transition_pathways

            paths = transition_pathways(
                s.design,
                counts,
                cohorts=pathways,
                cohort_size=s.cohort_size,
                target=s.target,
                max_n=s.max_n if s.design == "boin" else None,
                deescalate=deescalate,
            )
        if fmt is OutputFormat.json:
            extra = {"levels": summary.to_dicts()}
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
