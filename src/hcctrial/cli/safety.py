"""``hcctrial safety``: CTCAE lab grades, treatment-emergent AEs, incidence, lab shifts,
CRS/ICANS (ASTCT 2019) and DLTs.

Reads a study folder (:func:`hcctrial.io.read_study`), grades LB by CTCAE v5.0 or v4.03 (the
protocol's version unless ``--ctcae`` says otherwise), flags AEs against the protocol's AE
window, grades CRS and ICANS day by day from the FA domain (or wide ``crs.csv``/``icans.csv``),
evaluates the protocol's DLT rules over its DLT window, and writes ``lab_graded.csv``,
``lab_shift.csv``, ``ae.csv``, ``ae_incidence.csv``, ``sae.csv``, ``crs_daily.csv``,
``icans_daily.csv``, ``crs_icans_episodes.csv``, ``crs_icans_subjects.csv``,
``dlt_subjects.csv``, ``dlt_events.csv``, ``dlt_counts.csv``, ``problems.csv`` and
``meta.json`` into ``--out``; prints short summaries.
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


def _crs_icans(
    study: Any, ae: pl.DataFrame | None, on_error: str, tables: dict[str, pl.DataFrame]
) -> tuple[list[pl.DataFrame], dict[str, Any], Any]:
    """CRS/ICANS daily grades and episodes from FA (long) or CRS/ICANS (wide) domains."""
    from hcctrial.safety.syndromes import (
        crs_icans_from_fa,
        grade_crs_icans,
        recorded_episode_problems,
        recorded_vs_derived_problems,
    )

    problems: list[pl.DataFrame] = []
    summary: dict[str, Any] = {}
    obs: dict[str, pl.DataFrame] = {}
    files: dict[str, str | None] = {}
    if "FA" in study:
        wide, fa_problems, n_other = crs_icans_from_fa(
            study["FA"],
            file=study.sources.get("FA"),
            on_error="collect" if on_error == "collect" else "raise",
        )
        problems.append(fa_problems)
        summary["fa_rows_other_objects"] = n_other
        for syn, df in wide.items():
            obs[syn], files[syn] = df, study.sources.get("FA")
    for syn in ("CRS", "ICANS"):
        if syn in study:
            if syn in obs:
                raise InputError(
                    f"{syn} observations in both the FA domain and {syn.lower()}.csv",
                    file=study.sources.get(syn),
                    expected="one source per syndrome",
                )
            obs[syn], files[syn] = study[syn], study.sources.get(syn)
    result = None
    if obs:
        result = grade_crs_icans(
            obs.get("CRS"),
            obs.get("ICANS"),
            crs_file=files.get("CRS"),
            icans_file=files.get("ICANS"),
        )
        if result.crs is not None:
            tables["crs_daily"] = result.crs
        if result.icans is not None:
            tables["icans_daily"] = result.icans
        tables["crs_icans_episodes"] = result.episodes
        tables["crs_icans_subjects"] = result.subjects
        for syn in ("CRS", "ICANS"):
            eps = result.episodes.filter(pl.col("SYNDROME") == syn)
            summary[f"{syn.lower()}_subjects"] = eps["USUBJID"].n_unique()
            summary[f"{syn.lower()}_episodes"] = eps.height
            summary[f"{syn.lower()}_grade_3_plus_subjects"] = eps.filter(pl.col("MAXGR") >= 3)[
                "USUBJID"
            ].n_unique()
        summary["crs_days_fever_masked"] = int(result.episodes["MASKDAYS"].fill_null(0).sum())
    if ae is not None:
        problems.append(recorded_episode_problems(ae, file=study.sources.get("AE")))
        if result is not None:
            problems.append(
                recorded_vs_derived_problems(ae, result.episodes, file=study.sources.get("AE"))
            )
    return problems, summary, result


def _dlt(
    study: Any,
    protocol: Any,
    ae: pl.DataFrame | None,
    crs: Any,
    cutoff: Any,
    tables: dict[str, pl.DataFrame],
    on_error: str = "raise",
) -> tuple[list[pl.DataFrame], dict[str, Any]]:
    """The protocol's DLT rules over its DLT window per subject; counts per dose level."""
    from hcctrial.io.adsl import derive_adsl
    from hcctrial.safety.dlt import dlt_counts, evaluate_dlt
    from hcctrial.safety.dose_levels import derive_dose_level
    from hcctrial.safety.syndromes import problems_frame

    spec = protocol.safety.dlt
    adsl = derive_adsl(study)
    problems: list[pl.DataFrame] = []
    levels = [lv.id for lv in protocol.dose_levels]
    if protocol.dose_levels:
        adsl, level_problems = derive_dose_level(
            adsl, protocol.dose_levels, dm=study["DM"], ex=study.get("EX")
        )
        problems.append(level_problems)
    ae_file = study.sources.get("AE")
    if ae is None:
        ae_in = pl.DataFrame(
            schema={"USUBJID": pl.Utf8, "AEDECOD": pl.Utf8, "AETOXGR": pl.Int64, "AESTDTC": pl.Utf8}
        )
    else:
        ungraded = ae.filter(pl.col("AETOXGR").is_null())
        from hcctrial.errors import Problem

        problems.append(
            problems_frame(
                [
                    Problem(
                        "AE without a valid grade: not evaluated against the DLT rules",
                        file=ae_file,
                        row=r,
                        column="AETOXGR",
                        subject=u,
                    )
                    for r, u in ungraded.select("_FILEROW", "USUBJID").iter_rows()
                ],
                "AE",
                "not evaluated for DLT",
            )
        )
        ae_in = ae.filter(pl.col("AETOXGR").is_not_null())
    res = evaluate_dlt(
        spec,
        adsl,
        ae_in,
        crs=crs.crs if crs is not None else None,
        icans=crs.icans if crs is not None else None,
        data_cutoff=cutoff,
        file=ae_file,
        row_col="_FILEROW" if ae is not None else None,
        strict_causality=on_error != "collect",
    )
    subjects = res.subjects
    tables["dlt_subjects"] = subjects
    tables["dlt_events"] = res.events
    if "DOSELVL" in subjects.columns and levels:
        tables["dlt_counts"] = dlt_counts(subjects, levels=levels)
    prob = res.problems.with_columns(
        pl.lit("AE").alias("DOMAIN"),
        pl.lit(None, pl.Utf8).alias("VALUE"),
        pl.lit(None, pl.Utf8).alias("EXPECTED"),
        pl.lit("see the message").alias("ACTION"),
    )
    problems.append(prob)
    summary = {
        "dlt_window": f"{spec.window_days} days from {spec.window_start.replace('-', ' ')}",
        "dlt_definition": spec.definition,
        "dlt_subjects_evaluable": int((subjects["DLTEVLFL"] == "Y").sum()),
        "dlt_subjects_with_dlt": int((subjects["DLTFL"] == "Y").sum()),
    }
    return problems, summary


def run_safety(
    data_dir: Path,
    out: Path,
    protocol_id: str | None = None,
    ctcae: str | None = None,
    default_ranges: Path | None = None,
    on_error: str = "raise",
    dlt_cutoff: str | None = None,
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
    ae_rows: pl.DataFrame | None = None
    if "AE" in study:
        ae = _with_file_rows(study["AE"], study.problems, "AE")
        windows = derive_ae_window(anchors, window)
        derived = derive_treatment_emergent(ae, windows, row_col="_FILEROW")
        ae_rows = derived.ae
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
    crs_problems, crs_summary, crs = _crs_icans(study, ae_rows, on_error, tables)
    problems += crs_problems
    summary |= crs_summary
    if "crs_icans_episodes" in tables:  # onset as days after the first infusion (day 0)
        eps = tables["crs_icans_episodes"].join(
            anchors.select(pl.col("USUBJID").cast(pl.Utf8), "TRTSDT"), on="USUBJID", how="left"
        )
        onset = (pl.col("ASTDT") - pl.col("TRTSDT")).dt.total_days().alias("ONSETDY")
        tables["crs_icans_episodes"] = eps.with_columns(onset).drop("TRTSDT")
    if protocol is not None and protocol.safety.dlt is not None:
        cutoff = None
        if dlt_cutoff is not None:
            import datetime as dt

            try:
                cutoff = dt.date.fromisoformat(dlt_cutoff)
            except ValueError as exc:
                raise InputError(
                    "data cut-off not a date", value=dlt_cutoff, expected="YYYY-MM-DD"
                ) from exc
        dlt_problems, dlt_summary = _dlt(study, protocol, ae_rows, crs, cutoff, tables, on_error)
        problems += dlt_problems
        summary |= dlt_summary
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
    if "crs_icans_episodes" in t:
        console.print(
            f"CRS (ASTCT 2019): {s['crs_episodes']} episode(s) in {s['crs_subjects']} subject(s), "
            f"{s['crs_grade_3_plus_subjects']} with grade 3 or more, {s['crs_days_fever_masked']} "
            f"day(s) graded with fever masked by antipyretic/anti-cytokine therapy; ICANS: "
            f"{s['icans_episodes']} episode(s) in {s['icans_subjects']} subject(s), "
            f"{s['icans_grade_3_plus_subjects']} with grade 3 or more",
            highlight=False,
            soft_wrap=True,
        )
        eps = t["crs_icans_episodes"].select(
            "USUBJID", "SYNDROME", "ASTDT", "ONSETDY", "AENDT", "ADURN", "MAXGR", "MAXGRDT",
            "MASKDAYS",
        )  # fmt: skip
        console.print(rich_table(eps, title="CRS and ICANS episodes"))
    if "dlt_subjects" in t:
        console.print(
            f"DLT: window {s['dlt_window']} (definition {s['dlt_definition']} in the protocol); "
            f"{s['dlt_subjects_evaluable']} evaluable subject(s), {s['dlt_subjects_with_dlt']} "
            "with a DLT",
            highlight=False,
            soft_wrap=True,
        )
        subj = t["dlt_subjects"]
        cols = ["USUBJID", "DOSELVL", "DLTFL", "DLTEVLFL", "DLTRULE", "DLTGR", "DLTDT", "NDLTEV"]
        shown = subj.select([c for c in cols if c in subj.columns])
        console.print(rich_table(shown, title="DLT per subject (first qualifying event)"))
        ev = t["dlt_events"].select(
            "USUBJID", "DLTRULE", "SOURCE", "SRCROW", "TERM", "GRADE", "DLTDAY", "DURATION"
        )
        console.print(rich_table(ev, title="Qualifying events"))
        if "dlt_counts" in t:
            console.print(rich_table(t["dlt_counts"], title="DLT per dose level"))
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
        dlt_cutoff: Annotated[
            str | None,
            typer.Option(
                "--dlt-cutoff",
                help="Data cut-off (YYYY-MM-DD) for DLT evaluability; default: the latest "
                "date in the data.",
            ),
        ] = None,
    ) -> None:
        """CTCAE lab grading, treatment-emergent AEs, incidence, SAEs, lab shift tables,
        CRS/ICANS daily grades and episodes (ASTCT 2019), and DLTs per subject and dose level."""
        version = ctcae.value if ctcae is not None else None
        result = run_safety(
            data, out, protocol, version, default_ranges, on_error.value, dlt_cutoff
        )
        _print(result, out)
        if strict and result["summary"]["problems"]:
            raise InputError(
                f"{result['summary']['problems']} input problem(s); see {out / 'problems.csv'}"
            )
