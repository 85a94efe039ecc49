"""``hcctrial simulate``: one virtual trial as SDTM CSVs, or operating characteristics over many
replicates (``--trials N``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from hcctrial.cli._common import OutputFormat, console, emit, err_console
from hcctrial.errors import InputError


def _trial_summary(data: object) -> pl.DataFrame:
    from hcctrial.io import StudyData

    assert isinstance(data, StudyData)
    return pl.DataFrame(
        {
            "DOMAIN": list(data.domains),
            "ROWS": [data[d].height for d in data.domains],
            "SUBJECTS": [data[d]["USUBJID"].n_unique() for d in data.domains],
        }
    )


def _flow(data: object) -> tuple[str, pl.DataFrame]:
    from hcctrial.io import StudyData

    assert isinstance(data, StudyData)
    dm = data["DM"]
    screened = dm.height
    failed = dm.filter(pl.col("ARMCD") == "SCRNFAIL").height
    arms = (
        dm.filter(~pl.col("ARMCD").is_in(["SCRNFAIL", "NOTASSGN"]))
        .group_by("ARM")
        .agg(pl.len().alias("ENROLLED"), (pl.col("DTHFL") == "Y").sum().alias("DIED"))
        .sort("ARM")
    )
    rate = failed / screened if screened else 0.0
    line = f"screened {screened}, screen failures {failed} ({100 * rate:.1f}%)"
    return line, arms


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to the main app."""

    @app.command("simulate")
    def simulate(
        protocol: Annotated[str, typer.Option("--protocol", "-p", help="Protocol id or YAML.")],
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Folder for the SDTM CSVs (or the OC tables)."),
        ] = None,
        seed: Annotated[
            int, typer.Option("--seed", help="Random seed (same seed, same trial).")
        ] = 1,
        subjects: Annotated[
            int | None,
            typer.Option("--subjects", "-n", help="Subjects to enrol (default: the record's)."),
        ] = None,
        effect: Annotated[
            str,
            typer.Option(
                "--effect",
                help="Experimental-arm effect: HR=0.75 (hazards and growth x HR), "
                "optionally regression=1.5 (cell-product tumour regression x 1.5).",
            ),
        ] = "HR=0.75",
        referral: Annotated[
            str | None,
            typer.Option(
                "--referral",
                help="Change who is referred for screening, e.g. tace_failure=0.6,ecog=0.6/0.35/"
                "0.05 (prior_tace, tace_failure, gpc3_positive, withdrawal, age_median, "
                "prior_systemic, ecog; default: the protocol's referral profile).",
            ),
        ] = None,
        trials: Annotated[
            int | None,
            typer.Option("--trials", help="Replicates for operating characteristics."),
        ] = None,
        alpha: Annotated[
            float, typer.Option("--alpha", help="Two-sided level of the log-rank test.")
        ] = 0.05,
        start: Annotated[
            str | None, typer.Option("--start", help="First screening date, YYYY-MM-DD.")
        ] = None,
        fmt: Annotated[
            OutputFormat, typer.Option("--format", "-f", help="How to print the summary.")
        ] = OutputFormat.table,
    ) -> None:
        """Simulate a virtual trial of a protocol (SDTM CSVs), or its operating characteristics.

        Without --trials: virtual patients are screened by the protocol's criteria, allocated by
        its design and followed on its calendar; the DM, IE, DS, EX, LB, VS, AE, TU and TR
        domains are written to --out (readable by 'hcctrial data validate'). With --trials N:
        N replicates, vectorised, giving power of the primary log-rank comparison and the
        distributions of ORR and median PFS/OS.
        """
        from hcctrial.protocol import load_protocol
        from hcctrial.simulate.oc import operating_characteristics, parse_effect, parse_referral

        spec = load_protocol(protocol)
        chosen = parse_effect(effect)
        referred = parse_referral(referral, spec.id) if referral is not None else None
        if trials is not None:
            oc = operating_characteristics(
                spec,
                trials=trials,
                seed=seed,
                effect=chosen,
                n_subjects=subjects,
                alpha=alpha,
                referral=referred,
            )
            head = (
                f"{oc.protocol_id}: {oc.trials} replicates of {oc.n_subjects} subjects, "
                f"effect HR={chosen.hr:g} regression={chosen.regression:g}; pool of "
                f"{oc.eligible_pool} eligible of {oc.screened_pool} screened virtual patients"
            )
            if oc.power is not None:
                head += (
                    f"\npower of the {oc.endpoint} log-rank test (two-sided alpha {alpha:g}, "
                    f"favouring {oc.experimental_arm}): {oc.power:.3f} "
                    f"(Monte Carlo SE {oc.power_mcse:.3f})"
                )
            if fmt is OutputFormat.table:
                console.print(head, highlight=False)
            emit(oc.summary, fmt, title="Across replicates")
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                oc.per_trial.write_csv(out / "replicates.csv")
                oc.summary.write_csv(out / "summary.csv")
                meta = {
                    "protocol": oc.protocol_id,
                    "trials": oc.trials,
                    "seed": seed,
                    "subjects": oc.n_subjects,
                    "effect": effect,
                    "referral": referral,
                    "alpha": alpha,
                    "endpoint": oc.endpoint,
                    "power": oc.power,
                    "power_mcse": oc.power_mcse,
                }
                (out / "oc.json").write_text(json.dumps(meta, indent=2))
                err_console.print(
                    f"wrote {out}/replicates.csv, summary.csv, oc.json", soft_wrap=True
                )
            return
        if out is None:
            raise InputError("--out is needed to write the simulated SDTM", expected="a folder")
        from hcctrial.io import write_study
        from hcctrial.simulate import DEFAULT_START, simulate_trial

        first = DEFAULT_START
        if start is not None:
            try:
                first = dt.date.fromisoformat(start)
            except ValueError:
                raise InputError(
                    "--start is not a date", value=start, expected="YYYY-MM-DD"
                ) from None
        data = simulate_trial(
            spec,
            seed=seed,
            n_subjects=subjects,
            effect=chosen,
            start_date=first,
            referral=referred,
        )
        written = write_study(data, out)
        line, arms = _flow(data)
        if fmt is OutputFormat.table:
            console.print(f"{spec.id} (seed {seed}): {line}", highlight=False)
            emit(arms, fmt, title="Enrolled by arm")
        emit(_trial_summary(data), fmt, title="SDTM domains written")
        err_console.print(f"wrote {len(written)} files to {out}", soft_wrap=True)
