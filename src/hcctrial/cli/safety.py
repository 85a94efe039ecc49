"""``hcctrial safety``: CTCAE lab grades, treatment-emergent AEs, incidence and lab shifts.

Reads a study folder (:func:`hcctrial.io.read_study`), grades LB by CTCAE v5.0 or v4.03 (the
protocol's version unless ``--ctcae`` says otherwise), flags AEs against the protocol's AE
window, and writes ``lab_graded.csv``, ``lab_shift.csv``, ``ae.csv``, ``ae_incidence.csv``,
``sae.csv``, ``problems.csv`` and ``meta.json`` into ``--out``; prints short summaries.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from hcctrial.cli._common import console, rich_table, write_outputs
from hcctrial.errors import InputError


class _Ctcae(StrEnum):
    v5 = "5.0"
    v403 = "4.03"


class _OnError(StrEnum):
    raise_ = "raise"
    collect = "collect"


def _window_text(window: Any) -> str:
    if window is None:
        return "no protocol AE window: from first infusion, no end"
    text = f"from {window.start} to {window.end_days_after} days after {window.end_after}"
    if window.untreated_days is not None:
        text += f" ({window.untreated_days} days after {window.start} if never reached)"
    if window.ends_at_withdrawal:
        text += ", ends at withdrawal"
    return text


def _with_file_rows(df: pl.DataFrame, problems: pl.DataFrame, domain: str) -> pl.DataFrame:
    """Add ``_FILEROW``: the data row of the file each kept row came from (the reader drops
    rejected rows, listed in ``problems``; kept rows keep their order)."""
    gone = problems.filter((pl.col("DOMAIN") == domain) & (pl.col("ACTION") == "row rejected"))[
        "ROW"
    ].drop_nulls()
    rejected = sorted(set(gone.to_list()))
    rows, skip, r = [], iter(rejected), 0
    nxt = next(skip, None)
    for _ in range(df.height):
        r += 1
        while nxt is not None and r == nxt:
            r += 1
            nxt = next(skip, None)
        rows.append(r)
    return df.with_columns(pl.Series("_FILEROW", rows, dtype=pl.Int64))


def run_safety(
    data_dir: Path,
    out: Path,
    protocol_id: str | None = None,
    ctcae: str | None = None,
    default_ranges: Path | None = None,
    on_error: str = "raise",
) -> dict[str, Any]:
    """The whole safety pass over a study folder; returns the tables and a summary dict."""
    from hcctrial.io import read_study
    from hcctrial.io.study import empty_problems
    from hcctrial.protocol import load_protocol
    from hcctrial.safety import (
        ae_incidence,
        derive_ae_window,
        derive_lab_baseline_flag,
        derive_subject_anchors,
        derive_treatment_emergent,
        grade_labs,
        lab_grading_problems,
        lab_shift_table,
        normalise_ctcae_version,
        serious_adverse_events,
    )

    study = read_study(data_dir, on_error="collect" if on_error == "collect" else "raise")
    protocol = load_protocol(protocol_id) if protocol_id else None
    if ctcae is not None:
        version = normalise_ctcae_version(ctcae)
    elif protocol is not None:
        version = protocol.safety.ctcae_version
    else:
        version = "5.0"
    window = protocol.safety.ae_window if protocol is not None else None
    if "DM" not in study:
        raise InputError("the study has no DM domain", file=str(data_dir), expected="dm.csv")
    dm = study["DM"]
    anchors = derive_subject_anchors(
        dm,
        ds=study.get("DS"),
        ex=study.get("EX"),
        pr=study.get("PR"),
    )
    tables: dict[str, pl.DataFrame] = {}
    problems = [study.problems]
    summary: dict[str, Any] = {
        "ctcae_version": version,
        "protocol": protocol.id if protocol is not None else None,
        "ae_window": _window_text(window),
        "subjects": dm["USUBJID"].n_unique(),
    }
    ranges = None
    if default_ranges is not None:
        if not default_ranges.is_file():
            raise InputError("default ranges file not found", file=str(default_ranges))
        ranges = pl.read_csv(default_ranges, infer_schema_length=None)
    if "LB" in study:
        lb = _with_file_rows(study["LB"], study.problems, "LB")
        graded = grade_labs(derive_lab_baseline_flag(lb, anchors), version, default_ranges=ranges)
        lab_problems = lab_grading_problems(graded, row_col="_FILEROW")
        graded = graded.drop("_FILEROW")
        tables["lab_graded"] = graded
        tables["lab_shift"] = lab_shift_table(graded, dm)
        problems.append(lab_problems)
        summary["lab_rows"] = graded.height
        summary["lab_rows_graded"] = int(graded["ATOXGR"].is_not_null().sum())
        summary["lab_rows_not_graded"] = lab_problems.height
        summary["lab_rows_grade_3_plus"] = int((graded["ATOXGR"] >= 3).sum())
    if "AE" in study:
        ae = _with_file_rows(study["AE"], study.problems, "AE")
        windows = derive_ae_window(anchors, window)
        derived = derive_treatment_emergent(ae, windows, row_col="_FILEROW")
        derived_ae = derived.ae.drop("_FILEROW")
        tables["ae"] = derived_ae
        tables["ae_incidence"] = ae_incidence(derived_ae, dm)
        tables["sae"] = serious_adverse_events(derived_ae)
        problems.append(derived.problems)
        te = derived_ae.filter(pl.col("TRTEMFL") == "Y")
        summary["ae_rows"] = derived_ae.height
        summary["teae_rows"] = te.height
        summary["subjects_with_teae"] = te["USUBJID"].n_unique()
        summary["serious_ae_rows"] = tables["sae"].height
    all_problems = pl.concat([empty_problems(), *problems], how="diagonal_relaxed")
    tables["problems"] = all_problems
    summary["problems"] = all_problems.height
    write_outputs(tables, out, meta=summary)
    return {"tables": tables, "summary": summary}


def _print(result: dict[str, Any], out: Path) -> None:
    s, t = result["summary"], result["tables"]
    console.print(
        f"CTCAE v{s['ctcae_version']}; protocol {s['protocol'] or '-'}; "
        f"AE window: {s['ae_window']}; {s['subjects']} subjects",
        highlight=False,
        soft_wrap=True,
    )
    if "lab_graded" in t:
        console.print(
            f"labs: {s['lab_rows']} rows, {s['lab_rows_graded']} graded, "
            f"{s['lab_rows_not_graded']} CTCAE tests not gradable (see problems.csv), "
            f"{s['lab_rows_grade_3_plus']} at grade 3 or more",
            highlight=False,
            soft_wrap=True,
        )
        worse = t["lab_shift"].filter(
            (pl.col("WTOXGR") != "MISSING") & (pl.col("WTOXGR") > pl.col("BTOXGR"))
        )
        console.print(rich_table(worse, title="Lab shifts to a worse CTCAE grade (subjects)"))
    if "ae" in t:
        console.print(
            f"AEs: {s['ae_rows']} rows, {s['teae_rows']} treatment-emergent in "
            f"{s['subjects_with_teae']} subjects, {s['serious_ae_rows']} serious",
            highlight=False,
            soft_wrap=True,
        )
        terms = t["ae_incidence"].filter(pl.col("LEVEL") == "TERM")
        cols = ["ARM", "AEBODSYS", "AEDECOD", "N", "n", "PCT", "GR1", "GR2", "GR3", "GR4", "GR5"]
        console.print(rich_table(terms.select(cols), title="Treatment-emergent AEs (subjects)"))
    if s["problems"]:
        shown = t["problems"].select("DOMAIN", "ROW", "USUBJID", "COLUMN", "MESSAGE")
        console.print(rich_table(shown, title=f"{s['problems']} problem(s)", max_rows=10))
    console.print(f"written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``safety`` command to the main app."""

    @app.command("safety")
    def safety_cmd(
        data: Annotated[Path, typer.Option("--data", help="Study folder (SDTM CSV/XPT files).")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the output tables.")],
        protocol: Annotated[
            str | None, typer.Option("--protocol", help="Protocol id or YAML (AE window, CTCAE).")
        ] = None,
        ctcae: Annotated[
            _Ctcae | None, typer.Option("--ctcae", help="CTCAE version (default: the protocol's).")
        ] = None,
        default_ranges: Annotated[
            Path | None,
            typer.Option(
                "--default-ranges",
                help="CSV of documented normal ranges (LBTESTCD, LBSTNRLO, LBSTNRHI, LBSTRESU, "
                "SOURCE) for labs without one; otherwise such labs are not graded.",
            ),
        ] = None,
        on_error: Annotated[
            _OnError,
            typer.Option(
                "--on-error",
                help="raise: stop at rows the study reader rejects (exit 1); collect: go on "
                "with the valid rows and list the rejected ones in problems.csv.",
            ),
        ] = _OnError.raise_,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit 1 when any input problem was found.")
        ] = False,
    ) -> None:
        """CTCAE lab grading, treatment-emergent AEs, incidence, SAEs and lab shift tables."""
        version = ctcae.value if ctcae is not None else None
        result = run_safety(data, out, protocol, version, default_ranges, on_error.value)
        _print(result, out)
        if strict and result["summary"]["problems"]:
            raise InputError(
                f"{result['summary']['problems']} input problem(s); see {out / 'problems.csv'}"
            )
