"""``hcctrial response``: RECIST 1.1 / mRECIST timepoint and best overall response of a study."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from hcctrial.cli._common import console, rich_table
from hcctrial.errors import InputError


class _Criteria(StrEnum):
    recist11 = "recist1.1"
    mrecist = "mrecist"


class _Reference(StrEnum):
    first_infusion = "first-infusion"
    first_dose = "first-dose"
    randomization = "randomization"
    first_tace = "first-tace"
    enrolment = "enrolment"
    baseline_scan = "baseline-scan"


class _Format(StrEnum):
    text = "text"
    csv = "csv"
    json = "json"


def _study_problems(problems: pl.DataFrame) -> pl.DataFrame:
    """Rows the study reader rejected (TU, TR, DM, EX, DS, CM), in the response problem shape."""
    from hcctrial.response.prepare import PROBLEM_SCHEMA

    p = problems.filter(pl.col("DOMAIN").is_in(["TU", "TR", "DM", "EX", "DS", "CM"]))
    return p.select(
        pl.col("DOMAIN").alias("SOURCE"),
        "ROW",
        "USUBJID",
        pl.lit(None, pl.Utf8).alias("RSEVAL"),
        pl.lit(None, pl.Utf8).alias("RSEVALID"),
        pl.lit(None, pl.Utf8).alias("LESIONID"),
        pl.lit(None, pl.Utf8).alias("VISIT"),
        "COLUMN",
        pl.lit("study data").alias("CHECK"),
        pl.format(
            "{} (expected {}; {})",
            pl.col("MESSAGE"),
            pl.col("EXPECTED").fill_null("-"),
            pl.col("ACTION").fill_null("-"),
        ).alias("MESSAGE"),
        "VALUE",
    ).cast(PROBLEM_SCHEMA)


DEFAULTS = {
    "criteria": "recist1.1",
    "confirm_days": 28,
    "sd_min_days": 42,
    "reference": "first-infusion",
}
"""Used when neither the command line nor the protocol says (RECIST 1.1 section 4.6: >= 4
weeks to confirm; SD minimum 6 weeks, section 4.4.3 "in general not less than 6-8 weeks")."""

# Protocol origins (hcctrial.endpoints.protocol_options.ORIGINS) that have an SDTM date rule
# in hcctrial.response.reference.
_PROTOCOL_REFERENCE = {
    "first-infusion": "first-infusion",
    "randomization": "randomization",
    "first-tace": "first-tace",
    "enrolment": "enrolment",
}


def response_settings(
    protocol: str | None = None,
    criteria: str | None = None,
    confirm_days: int | None = None,
    sd_min_days: int | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """The criteria, confirmation and SD days and reference start to use, and where each is from.

    An explicit value wins; then the protocol (its response endpoint's ``criteria``,
    ``confirmation_days``, ``sd_min_days`` and the time-to-event ``origin``, as
    :func:`hcctrial.endpoints.protocol_options.efficacy_settings` reads them); then
    :data:`DEFAULTS`. Returns ``{name: value}`` plus ``{"source": {name: "option" |
    "protocol <id>" | "default"}}``.
    """
    explicit = {
        "criteria": criteria,
        "confirm_days": confirm_days,
        "sd_min_days": sd_min_days,
        "reference": reference,
    }
    from_protocol: dict[str, Any] = {}
    label = ""
    if protocol is not None:
        from hcctrial.endpoints.protocol_options import efficacy_settings
        from hcctrial.protocol import load_protocol

        st = efficacy_settings(load_protocol(protocol))
        label = f"protocol {st.protocol_id}"
        from_protocol = {
            "criteria": st.criteria,
            "confirm_days": st.confirm_days,
            "sd_min_days": st.sd_min_days,
        }
        if st.origin in _PROTOCOL_REFERENCE:
            from_protocol["reference"] = _PROTOCOL_REFERENCE[st.origin]
        elif reference is None:
            raise InputError(
                f"the protocol's origin {st.origin!r} has no SDTM date rule for the reference "
                "start of the SD minimum duration",
                value=st.origin,
                expected="--reference " + " | ".join(r.value for r in _Reference),
            )
    out: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name, value in explicit.items():
        if value is not None:
            out[name], source[name] = value, "option"
        elif name in from_protocol:
            out[name], source[name] = from_protocol[name], label
        else:
            out[name], source[name] = DEFAULTS[name], "default"
    out["source"] = source
    return out


def run_response(
    data: Path,
    criteria: str = "recist1.1",
    confirm_days: int = 28,
    sd_min_days: int = 42,
    reference: str = "first-infusion",
    max_ne_between: int = 1,
    accept_sd: bool = False,
    evaluator: str | None = None,
) -> dict[str, pl.DataFrame]:
    """Read the study folder and derive every response table (the CLI's Python twin).

    Returns ``{"RS", "ADRS", "lesion_changes", "timepoint_changes", "problems", "waterfall",
    "summary"}``. :func:`response_settings` resolves the settings from a protocol.
    """
    from hcctrial.io import read_study
    from hcctrial.response import derive_best_overall_response, derive_timepoint_response
    from hcctrial.response.best import summarise_best_response
    from hcctrial.response.criteria import get_criteria
    from hcctrial.response.reference import derive_anticancer_start, derive_reference_start
    from hcctrial.response.waterfall import derive_best_change

    study = read_study(data, on_error="collect")
    for domain in ("TU", "TR"):
        if domain not in study:
            raise InputError(
                f"the study has no {domain} domain; tumour response needs TU and TR",
                file=str(data),
                expected=f"{domain.lower()}.csv or {domain.lower()}.xpt in the folder",
            )
    tu, tr = study["TU"], study["TR"]
    if evaluator is not None:
        for name, frame, col in (("TU", tu, "TUEVAL"), ("TR", tr, "TREVAL")):
            if col not in frame.columns:
                raise InputError(f"--evaluator given but {name} has no {col}", column=col)
        tu = tu.filter(pl.col("TUEVAL").str.to_uppercase() == evaluator.upper())
        tr = tr.filter(pl.col("TREVAL").str.to_uppercase() == evaluator.upper())
        if tr.is_empty():
            raise InputError("no TR record of this evaluator", column="TREVAL", value=evaluator)
    crit = get_criteria(criteria)
    tp = derive_timepoint_response(tu, tr, crit)

    ref = derive_reference_start(reference, study.get("DM"), study.get("EX"), study.get("DS"))
    nact = derive_anticancer_start(study.get("CM"), ref)
    label = "RECIST 1.1" if crit.name == "recist1.1" else "mRECIST"
    best = derive_best_overall_response(
        tp.adrs,
        ref,
        confirm_days=confirm_days,
        sd_min_days=sd_min_days,
        max_ne_between=max_ne_between,
        accept_sd=accept_sd,
        anticancer_start=nact,
        criteria_label=label,
    )
    problems = pl.concat(
        [_study_problems(study.problems), tp.problems, best.problems], how="vertical_relaxed"
    )
    return {
        "RS": tp.rs,
        "ADRS": best.adrs,
        "lesion_changes": tp.lesion_changes,
        "timepoint_changes": tp.timepoint_changes,
        "problems": problems,
        "waterfall": derive_best_change(tp.timepoint_changes, best.adrs),
        "summary": summarise_best_response(best.adrs),
    }


def _bor_counts(adrs: pl.DataFrame, summary: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """BOR and CBOR counts over subjects with a baseline tumour assessment (a ``BASEDT`` on any
    of their ADRS rows), one
    row per response in the order of ``summary``; the evaluator column only when there is
    one."""
    best = adrs.filter(pl.col("PARAMCD").is_in(["BOR", "CBOR"]))
    if "BASEDT" in adrs.columns:
        assessed = adrs.filter(pl.col("BASEDT").is_not_null()).select("USUBJID").unique()
        best = best.join(assessed, on="USUBJID", how="semi")
    keys = ["RSEVAL", "AVALC"] if best["RSEVAL"].drop_nulls().len() else ["AVALC"]
    order = summary.select("AVALC").unique(maintain_order=True)
    counts = best.group_by([*keys, "PARAMCD"]).agg(pl.len().alias("N"))
    grid = order if keys == ["AVALC"] else best.select("RSEVAL").unique().join(order, how="cross")
    wide = grid.join(
        counts.pivot(on="PARAMCD", index=keys, values="N", aggregate_function="first"),
        on=keys,
        how="left",
    )
    for col in ("BOR", "CBOR"):
        wide = wide.with_columns(
            (pl.col(col) if col in wide.columns else pl.lit(None)).fill_null(0).alias(col)
        )
    n_base = best.filter(pl.col("PARAMCD") == "BOR")["USUBJID"].n_unique()
    return wide.select(*keys, "BOR", "CBOR"), n_base


def register(app: typer.Typer) -> None:
    """Add the ``response`` command to the main app."""

    @app.command("response")
    def response_cmd(
        data: Annotated[
            Path, typer.Option("--data", "-d", help="Study folder with TU and TR (CSV/XPT).")
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output CSVs.")],
        protocol: Annotated[
            str | None,
            typer.Option(
                "--protocol",
                "-p",
                help="Built-in protocol id or YAML: criteria, confirmation, SD days and "
                "reference start from it (options below override).",
            ),
        ] = None,
        criteria: Annotated[
            _Criteria | None,
            typer.Option("--criteria", "-c", help="Response criteria (default recist1.1)."),
        ] = None,
        confirm_days: Annotated[
            int | None,
            typer.Option(
                "--confirm-days",
                min=0,
                help="Days between a CR/PR and its confirmation (RECIST 1.1 4.6: >= 4 weeks) "
                "(default 28).",
            ),
        ] = None,
        sd_min_days: Annotated[
            int | None,
            typer.Option(
                "--sd-min-days",
                min=0,
                help="Minimum days from the reference start for SD (default 42).",
            ),
        ] = None,
        reference: Annotated[
            _Reference | None,
            typer.Option(
                "--reference",
                help="Reference start of the SD minimum duration (default first-infusion).",
            ),
        ] = None,
        max_ne_between: Annotated[
            int, typer.Option("--max-ne-between", min=0, help="NE allowed before confirmation.")
        ] = 1,
        accept_sd: Annotated[
            bool, typer.Option("--accept-sd", help="Accept one SD between PR and confirmation.")
        ] = False,
        evaluator: Annotated[
            str | None, typer.Option("--evaluator", help="Only this TREVAL (e.g. INVESTIGATOR).")
        ] = None,
        fmt: Annotated[
            _Format, typer.Option("--format", "-f", help="How to print the summary.")
        ] = _Format.text,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit 1 when any data problem was found.")
        ] = False,
    ) -> None:
        """Timepoint response (RS), BOR/CBOR (ADRS), change tables and problems of a study.

        Writes RS.csv, ADRS.csv, lesion_changes.csv, timepoint_changes.csv (spider plots),
        waterfall.csv (best % change per subject), problems.csv and bor_summary.csv into OUT
        and prints the best-response counts and the problems.
        """
        st = response_settings(
            protocol,
            criteria=None if criteria is None else criteria.value,
            confirm_days=confirm_days,
            sd_min_days=sd_min_days,
            reference=None if reference is None else reference.value,
        )
        tables = run_response(
            data,
            criteria=st["criteria"],
            confirm_days=st["confirm_days"],
            sd_min_days=st["sd_min_days"],
            reference=st["reference"],
            max_ne_between=max_ne_between,
            accept_sd=accept_sd,
            evaluator=evaluator,
        )
        out.mkdir(parents=True, exist_ok=True)
        names = {"summary": "bor_summary"}
        for key, df in tables.items():
            df.write_csv(out / f"{names.get(key, key)}.csv")
        summary, problems = tables["summary"], tables["problems"]
        n_subj = tables["ADRS"].filter(pl.col("PARAMCD") == "BOR").height
        if fmt is _Format.json:
            payload: dict[str, Any] = {
                "criteria": st["criteria"],
                "confirm_days": st["confirm_days"],
                "sd_min_days": st["sd_min_days"],
                "reference": st["reference"],
                "settings_from": st["source"],
                "subjects": n_subj,
                "best_response": summary.to_dicts(),
                "problems": problems.to_dicts(),
                "out": str(out),
            }
            print(json.dumps(payload, indent=2, default=str))
        elif fmt is _Format.csv:
            print(summary.write_csv(), end="")
        else:
            wide, n_base = _bor_counts(tables["ADRS"], summary)
            title = (
                f"Best overall response ({st['criteria']}; confirmation >= "
                f"{st['confirm_days']} d, SD >= {st['sd_min_days']} d from {st['reference']}): "
                f"{n_base} subject(s) with a baseline tumour assessment"
            )
            if n_subj > n_base:
                title += (
                    f"; {n_subj - n_base} more without one (never assessed, e.g. screen "
                    "failures) are NE in ADRS.csv and not counted here"
                )
            if protocol is not None:
                used = ", ".join(
                    f"{k.replace('_', '-')} {st[k]} ({src})" for k, src in st["source"].items()
                )
                console.print(f"settings: {used}", highlight=False, soft_wrap=True)
            console.print(title, highlight=False, soft_wrap=True)
            console.print(rich_table(wide))
            if problems.height:
                shown = (
                    problems.group_by("SOURCE", "CHECK", maintain_order=True)
                    .agg(
                        pl.len().alias("N"),
                        pl.col("USUBJID").drop_nulls().first().alias("FIRST SUBJECT"),
                        pl.col("MESSAGE").first().str.slice(0, 90).alias("FIRST MESSAGE"),
                    )
                    .sort("SOURCE", "CHECK")
                )
                console.print(
                    rich_table(shown, title=f"Problems (every row in {out / 'problems.csv'})")
                )
            console.print(f"{problems.height} problem(s); tables written to {out}", highlight=False)
        if strict and problems.height:
            raise InputError(
                f"--strict: {problems.height} data problem(s)",
                file=str(out / "problems.csv"),
                expected="no problems",
            )
