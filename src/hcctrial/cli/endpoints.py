"""``hcctrial endpoints``: ADTTE, the endpoint table per arm and the two-arm comparison."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console

from hcctrial.cli._common import console, rich_table
from hcctrial.errors import InputError


class _Format(StrEnum):
    text = "text"
    csv = "csv"
    json = "json"


class _Conf(StrEnum):
    log = "log"
    loglog = "log-log"
    plain = "plain"


class _Ties(StrEnum):
    efron = "efron"
    breslow = "breslow"


@dataclass(frozen=True)
class EndpointsRun:
    """What :func:`run_endpoints` computed, with where the response data came from."""

    result: Any  # hcctrial.endpoints.analysis.EndpointsResult
    settings: Any  # hcctrial.endpoints.protocol_options.EfficacySettings
    adrs: pl.DataFrame | None
    response_source: str
    problems: pl.DataFrame
    outside_population: list[str]
    strata_not_in_data: list[str] = field(default_factory=list)


def _adrs_from_rs(rs: pl.DataFrame) -> pl.DataFrame:
    """SDTM RS overall responses (``RSTESTCD = OVRLRESP``) as ADRS ``OVR`` rows."""
    missing = [c for c in ("USUBJID", "RSTESTCD", "RSSTRESC") if c not in rs.columns]
    if missing:
        raise InputError("RS lacks columns", file="RS", column=", ".join(missing))
    date = (
        pl.col("RSDT")
        if "RSDT" in rs.columns and rs.schema["RSDT"] == pl.Date
        else pl.col("RSDTC").cast(pl.Utf8).str.slice(0, 10).str.to_date(strict=False)
    )
    return rs.filter(pl.col("RSTESTCD") == "OVRLRESP").select(
        "USUBJID",
        (pl.col("RSEVAL") if "RSEVAL" in rs.columns else pl.lit(None, pl.Utf8)).alias("RSEVAL"),
        pl.lit("OVR").alias("PARAMCD"),
        pl.col("RSSTRESC").cast(pl.Utf8).str.to_uppercase().alias("AVALC"),
        date.alias("ADT"),
        (pl.col("VISIT") if "VISIT" in rs.columns else pl.lit(None, pl.Utf8)).alias("VISIT"),
    )


def run_endpoints(
    protocol: str,
    data: Path,
    adrs_file: Path | None = None,
    evaluator: str | None = None,
    conf_type: str | None = None,
    ties: str | None = None,
    strata: list[str] | None = None,
    data_cutoff: dt.date | None = None,
    at_risk_months: tuple[float, ...] | None = None,
) -> EndpointsRun:
    """Protocol + study folder -> ADTTE and every endpoint (the CLI's Python twin).

    Response data, first found: ``adrs_file`` (e.g. ``hcctrial response`` output); the
    response engine over TU/TR; the study's RS overall responses. Without any, OS only.
    ``strata``: ADSL or DM columns for the stratified log-rank test (default: the protocol's
    randomization strata that the data hold). ``data_cutoff``: the analysis cut-off date
    (default: the protocol's ``data_cutoff_months`` after the last origin, else none).
    ``at_risk_months``: the months of the numbers-at-risk table (default 0, 3, 6, 9, 12, 18, 24).
    """
    from hcctrial.endpoints.adtte import assessments_until
    from hcctrial.endpoints.analysis import analyse_endpoints
    from hcctrial.endpoints.protocol_options import efficacy_settings, with_origin_date
    from hcctrial.io import read_study
    from hcctrial.io.adsl import derive_adsl
    from hcctrial.protocol import load_protocol
    from hcctrial.response import derive_best_overall_response, derive_timepoint_response
    from hcctrial.response.reference import derive_anticancer_start

    settings = efficacy_settings(load_protocol(protocol))
    a_opts = settings.analysis_options
    if conf_type is not None:
        a_opts = replace(a_opts, conf_type=conf_type)
    if ties is not None:
        a_opts = replace(a_opts, ties=ties)
    if at_risk_months is not None:
        a_opts = replace(a_opts, at_risk_months=at_risk_months)
    study = read_study(data, on_error="collect")
    adsl = derive_adsl(study)
    adsl = adsl.filter(pl.col("ITTFL") == "Y")
    adsl = with_origin_date(adsl, settings.origin, study, settings.schedule_anchor)
    wanted = list(strata) if strata else list(a_opts.strata)
    adsl = _with_strata_columns(adsl, study, wanted)
    strata_not_found: list[str] = []
    if not strata:
        # the protocol's factors: used when the data hold them, listed in meta.json otherwise
        strata_not_found = [c for c in wanted if c not in adsl.columns]
        wanted = [c for c in wanted if c in adsl.columns]
    a_opts = replace(a_opts, strata=tuple(wanted))
    settings = replace(settings, analysis_options=a_opts)
    if data_cutoff is not None:
        settings = replace(
            settings,
            endpoint_options=replace(settings.endpoint_options, data_cutoff=data_cutoff),
        )
    # best responses too are judged on what was known at the data cut-off (assessments after
    # it are not used); the cut-off of the time-to-event derivation, same rule
    cut = settings.endpoint_options.cutoff_date(adsl.get_column("ORIGINDT"))
    reference = adsl.select("USUBJID", pl.col("ORIGINDT").alias("REFDT"))
    nact = derive_anticancer_start(study.get("CM"), reference)
    label = "mRECIST" if settings.criteria == "mrecist" else "RECIST 1.1"
    problems = study.problems
    adrs: pl.DataFrame | None
    if adrs_file is not None:
        if not adrs_file.is_file():
            raise InputError("ADRS file not found", file=str(adrs_file), expected="a CSV file")
        adrs = assessments_until(pl.read_csv(adrs_file, infer_schema_length=0), cut)
        source = f"ADRS file {adrs_file}"
        if cut is not None:
            source += " (OVR rows up to the cut-off; BOR/CBOR rows as the file gives them)"
    elif "TU" in study and "TR" in study:
        tp = derive_timepoint_response(study["TU"], study["TR"], settings.criteria)
        ovr = assessments_until(tp.adrs, cut)
        if evaluator is not None:
            ovr = ovr.filter(pl.col("RSEVAL").str.to_uppercase() == evaluator.upper())
        best = derive_best_overall_response(
            ovr,
            reference,
            confirm_days=settings.confirm_days,
            sd_min_days=settings.sd_min_days,
            anticancer_start=nact,
            criteria_label=label,
        )
        adrs = best.adrs
        source = f"TU/TR by {label} (hcctrial.response)"
    elif "RS" in study:
        best = derive_best_overall_response(
            assessments_until(_adrs_from_rs(study["RS"]), cut),
            reference,
            confirm_days=settings.confirm_days,
            sd_min_days=settings.sd_min_days,
            anticancer_start=nact,
            criteria_label=label,
        )
        adrs = best.adrs
        source = "RS overall responses (RSTESTCD OVRLRESP)"
    else:
        adrs, source = None, "none: no ADRS, TU/TR or RS; overall survival only"
    if adrs is not None and evaluator is not None and "RSEVAL" in adrs.columns:
        adrs = adrs.filter(
            pl.col("RSEVAL").is_null() | (pl.col("RSEVAL").str.to_uppercase() == evaluator.upper())
        )
    excluded: list[str] = []
    if adrs is not None:
        # the analysis population is the ITT (io.adsl ITTFL); response records of anyone else
        # (screen failures, not randomized) are set aside and listed in meta.json
        itt_ids = adsl.get_column("USUBJID").to_list()
        excluded = sorted(
            set(adrs.filter(~pl.col("USUBJID").is_in(itt_ids)).get_column("USUBJID").to_list())
        )
        adrs = adrs.filter(pl.col("USUBJID").is_in(itt_ids))
    result = analyse_endpoints(
        adsl, adrs, settings.endpoint_options, settings.analysis_options, nact
    )
    return EndpointsRun(result, settings, adrs, source, problems, excluded, strata_not_found)


def _with_strata_columns(adsl: pl.DataFrame, study: Any, columns: list[str]) -> pl.DataFrame:
    """ADSL with each stratification column that only DM holds joined on (one row per subject)."""
    dm = study.get("DM") if hasattr(study, "get") else None
    extra = [c for c in columns if c not in adsl.columns and dm is not None and c in dm.columns]
    if not extra or dm is None:
        return adsl
    return adsl.join(
        dm.select("USUBJID", *extra).unique("USUBJID", keep="first"), on="USUBJID", how="left"
    )


def _ci(est: float | None, low: float | None, upp: float | None, unit: str | None) -> str:
    if est is None:
        return "NE"
    scale, digits = (100.0, 1) if unit == "proportion" else (1.0, 2)
    if unit == "difference in proportions":
        scale, digits = 100.0, 1
    if unit is None and est > 0.0 and est < 1e-3:
        return f"{est:.2e}"

    def f(v: float | None) -> str:
        return "NE" if v is None else f"{v * scale:.{digits}f}"

    text = f(est)
    if low is not None or upp is not None:
        text += f" ({f(low)}, {f(upp)})"
    return text


_UNIT_LABEL = {"proportion": "%", "difference in proportions": "% points", "months": "months"}


def _display(df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """One row per endpoint statistic, one column per arm: ``estimate (lower, upper) [k]``.

    Notes are numbered once (``[k]``) and returned to print under the table.
    """
    notes: list[str] = []
    cells: dict[tuple[str, str], dict[str, str]] = {}
    arms: list[str] = []
    for r in df.iter_rows(named=True):
        arm, key = str(r["ARM"]), (str(r["PARAMCD"]), str(r["STATISTIC"]))
        if arm not in arms:
            arms.append(arm)
        if key[1] == "SUBJECTS":
            continue
        if key[1] == "EVENTS":
            text = f"{r['X']}/{r['N']}"
        else:
            text = _ci(r["ESTIMATE"], r["LOWER"], r["UPPER"], r["UNIT"])
            if key[1].startswith("RATE_") and r["N"] is not None:
                text += f" n={r['N']}"
            elif key[0] == "RESPONSE" and r["X"] is not None:
                text = f"{r['X']}/{r['N']} {text}"
        note = r["NOTE"] or ""
        if note:
            if note not in notes:
                notes.append(note)
            text += f" [{notes.index(note) + 1}]"
        row = cells.setdefault(key, {})
        row["UNIT"] = _UNIT_LABEL.get(r["UNIT"] or "", r["UNIT"] or "")
        row[arm] = text
    rows = [
        {
            "ENDPOINT": p,
            "STATISTIC": st,
            "UNIT": v.get("UNIT", ""),
            **{a: v.get(a, "") for a in arms},
        }
        for (p, st), v in cells.items()
    ]
    schema = dict.fromkeys(["ENDPOINT", "STATISTIC", "UNIT", *arms], pl.Utf8)
    return pl.DataFrame(rows, schema=schema), [f"[{i + 1}] {n}" for i, n in enumerate(notes)]


def register(app: typer.Typer) -> None:
    """Add the ``endpoints`` command to the main app."""

    @app.command("endpoints")
    def endpoints_cmd(
        protocol: Annotated[
            str, typer.Option("--protocol", "-p", help="Built-in protocol id or YAML path.")
        ],
        data: Annotated[Path, typer.Option("--data", "-d", help="Study folder (SDTM CSV/XPT).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output tables.")],
        fmt: Annotated[
            _Format, typer.Option("--format", "-f", help="How to print the results.")
        ] = _Format.text,
        adrs_file: Annotated[
            Path | None,
            typer.Option("--adrs", help="ADRS CSV (e.g. from hcctrial response) to use."),
        ] = None,
        evaluator: Annotated[
            str | None, typer.Option("--evaluator", help="Only this RSEVAL (e.g. INVESTIGATOR).")
        ] = None,
        conf_type: Annotated[
            _Conf | None,
            typer.Option("--conf-type", help="CI transform of S(t) (default log, as R)."),
        ] = None,
        ties: Annotated[
            _Ties | None, typer.Option("--ties", help="Cox ties (default efron, as R).")
        ] = None,
        strata: Annotated[
            list[str] | None,
            typer.Option(
                "--strata",
                help="ADSL/DM column for the stratified log-rank test (repeatable; default: "
                "the protocol's randomization strata).",
            ),
        ] = None,
        at_risk: Annotated[
            str | None,
            typer.Option(
                "--at-risk-months",
                help="Months of the numbers-at-risk table, comma-separated "
                "(default 0,3,6,9,12,18,24).",
            ),
        ] = None,
        data_cutoff: Annotated[
            str | None,
            typer.Option(
                "--data-cutoff",
                help="Data cut-off date YYYY-MM-DD (default: the protocol's "
                "data_cutoff_months after the last origin, else none).",
            ),
        ] = None,
    ) -> None:
        """Derive ADTTE (OS, PFS, TTR, DOR) and the efficacy endpoints of a study.

        Writes adtte.csv, endpoints_by_arm.csv, endpoints_comparison.csv, numbers_at_risk.csv,
        ADRS.csv and meta.json (every convention used) into OUT.
        """
        cutoff: dt.date | None = None
        if data_cutoff is not None:
            try:
                cutoff = dt.date.fromisoformat(data_cutoff)
            except ValueError:
                raise typer.BadParameter(
                    f"{data_cutoff!r} is not a date; expected YYYY-MM-DD",
                    param_hint="--data-cutoff",
                ) from None
        months: tuple[float, ...] | None = None
        if at_risk is not None:
            try:
                months = tuple(float(v) for v in at_risk.split(",") if v.strip())
            except ValueError:
                raise typer.BadParameter(
                    f"{at_risk!r}: expected months as numbers separated by commas, e.g. 0,6,12",
                    param_hint="--at-risk-months",
                ) from None
            if not months or min(months) < 0:
                raise typer.BadParameter(
                    f"{at_risk!r}: expected months >= 0", param_hint="--at-risk-months"
                )
        run = run_endpoints(
            protocol,
            data,
            adrs_file=adrs_file,
            evaluator=evaluator,
            conf_type=None if conf_type is None else conf_type.value,
            ties=None if ties is None else ties.value,
            strata=strata,
            data_cutoff=cutoff,
            at_risk_months=months,
        )
        res, st = run.result, run.settings
        meta: dict[str, Any] = {
            "protocol": st.protocol_id,
            "origin": st.origin,
            "response_criteria": st.criteria,
            "response_source": run.response_source,
            "confirm_days": st.confirm_days,
            "sd_min_days": st.sd_min_days,
            "control_arm": st.control_arm,
            "landmarks_months": res.analysis_options.landmarks_months,
            "dcr_months": res.analysis_options.dcr_months,
            "conventions": res.conventions(),
            "study_data_problems": run.problems.height,
            "response_subjects_outside_itt": run.outside_population,
            "protocol_strata_not_in_data": run.strata_not_in_data,
        }
        out.mkdir(parents=True, exist_ok=True)
        for name, df in res.tables().items():
            df.write_csv(out / f"{name}.csv")
        if run.adrs is not None:
            run.adrs.write_csv(out / "ADRS.csv")
        if run.problems.height:
            run.problems.write_csv(out / "data_problems.csv")
        (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        if fmt is _Format.json:
            payload = {
                **meta,
                "by_arm": res.by_arm.to_dicts(),
                "comparison": res.comparison.to_dicts(),
                "numbers_at_risk": res.at_risk.to_dicts(),
            }
            print(json.dumps(payload, indent=2, default=str))
            return
        if fmt is _Format.csv:
            print(pl.concat([res.by_arm, res.comparison]).write_csv(), end="")
            return
        conv = res.conventions()
        st_ = res.analysis_options
        console.print(
            f"{st.protocol_id}: origin {st.origin}; response {st.criteria} from "
            f"{run.response_source}; {conv['ci_transform']} CI transform, Cox {conv['cox_ties']} "
            "ties; medians in months"
            + (f"; log-rank also stratified by {', '.join(st_.strata)}" if st_.strata else "")
            + (f"; data cut-off {res.data_cutoff.isoformat()}" if res.data_cutoff else ""),
            highlight=False,
        )
        wide = Console(width=160)
        for df, title in ((res.by_arm, "Endpoints by arm"), (res.comparison, "Comparison")):
            if df.is_empty():
                continue
            table, notes = _display(df)
            wide.print(rich_table(table, title=title, max_rows=500))
            for note in notes:
                wide.print(note, highlight=False, soft_wrap=True)
        if run.problems.height:
            console.print(
                f"{run.problems.height} study data problem(s): {out / 'data_problems.csv'}",
                highlight=False,
            )
        console.print(f"tables written to {out}", highlight=False)
