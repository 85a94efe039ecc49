"""The main job: simulate every built-in seed trial, analyse it, and link the reports.

``run_demo(out, seed)`` writes, per trial, ``<id>/data/*.csv`` (simulated SDTM, read back
through the same validating reader real data goes through), ``<id>/report.html`` and
``<id>/tables/*.csv``; and ``index.html`` linking the five reports with key figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import polars as pl
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

import hcctrial
from hcctrial.io import read_study, write_study
from hcctrial.protocol import Protocol, builtin_protocols
from hcctrial.report.build import ReportResult, build_report
from hcctrial.report.document import Section
from hcctrial.report.write import write_report

__all__ = ["run_demo", "run_trial", "write_index"]

StepCallback = Callable[[int, int, str], None]


def run_trial(protocol: Protocol, out: Path, *, seed: int) -> ReportResult:
    """Simulate one trial, write its SDTM, read it back, build and write its report."""
    from hcctrial.simulate import simulate_trial

    simulated = simulate_trial(protocol, seed=seed)
    folder = out / protocol.id
    write_study(simulated, folder / "data")
    study = read_study(folder / "data", on_error="collect")
    result = build_report(
        protocol,
        study,
        subtitle=[f"Virtual trial simulated by hcctrial with seed {seed}: not real patients."],
        extra_sections=[simulation_section(seed)],
    )
    write_report(result, study, folder)
    return result


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return ", ".join(_value(v) for v in value)
    return str(value)


def simulation_section(seed: int) -> Section:
    """How the virtual trial was made: seed, effect, the simulator's assumptions and its
    parameter values (each parameter's source is cited in hcctrial.simulate.parameters)."""
    from dataclasses import asdict

    from hcctrial.simulate import ASSUMPTIONS, Effect
    from hcctrial.simulate.parameters import BASELINE, CELL_KINETICS, TOXICITY, TUMOUR

    effect = Effect()
    section = Section("simulation", "Simulation model (virtual trial)")
    section.add_text(
        f"Seed {seed}; experimental-arm effect HR {effect.hr:g} on the hazards of death and "
        f"new-lesion progression and on the tumour growth constant, cell-product regression "
        f"x {effect.regression:g} (a design scenario, not evidence of efficacy). Patients are "
        "screened by the protocol's own criteria; the screen-failure rate is an output. Every "
        "parameter below cites its source in hcctrial.simulate.parameters."
    )
    section.add_table(
        pl.DataFrame(
            [{"Id": a, "Topic": b, "Chosen": c} for a, b, c in ASSUMPTIONS],
            schema=["Id", "Topic", "Chosen"],
        ),
        f"{len(ASSUMPTIONS)} assumptions of the simulator",
    )
    rows = [
        {"Model": group, "Parameter": name, "Value": _value(value)}
        for group, params in (
            ("baseline", BASELINE),
            ("tumour", TUMOUR),
            ("cellular kinetics", CELL_KINETICS),
            ("toxicity", TOXICITY),
        )
        for name, value in asdict(params).items()
    ]
    section.add_table(pl.DataFrame(rows), "Parameter values")
    return section


def _orr(result: ReportResult) -> str:
    if result.efficacy is None:
        return "not computed"
    rows = result.efficacy.endpoints.by_arm.filter(
        (pl.col("PARAMCD") == "RESPONSE") & (pl.col("STATISTIC") == "ORR")
    )
    parts = [
        f"{arm}: {x}/{n} = {100 * est:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})"
        for arm, x, n, est, lo, hi in rows.select(
            "ARM", "X", "N", "ESTIMATE", "LOWER", "UPPER"
        ).iter_rows()
    ]
    return "; ".join(parts) or "no responders assessed"


def _median_os(result: ReportResult) -> str:
    if result.efficacy is None:
        return "not computed"
    rows = result.efficacy.endpoints.by_arm.filter(
        (pl.col("PARAMCD") == "OS") & (pl.col("STATISTIC") == "MEDIAN")
    )
    parts = []
    for arm, est in rows.select("ARM", "ESTIMATE").iter_rows():
        parts.append(f"{arm}: {'not reached' if est is None else f'{est:.1f}'}")
    return "; ".join(parts) or "not computed"


def _row(protocol: Protocol, result: ReportResult) -> dict[str, object]:
    enrolled = result.adsl.filter(pl.col("ENRLFL") == "Y").height
    missing = [s.title for s in result.report.sections if s.unavailable]
    screened = result.adsl.height
    return {
        "id": protocol.id,
        "href": f"{protocol.id}/report.html",
        "title": protocol.title,
        "design": protocol.design.allocation
        + (
            f" ({protocol.design.dose_escalation.design} escalation)"
            if protocol.design.dose_escalation is not None
            else ""
        ),
        "target": protocol.design.enrolment_target or "-",
        "screened": screened,
        "enrolled": enrolled,
        "screen_fail": f"{100 * (screened - enrolled) / screened:.0f}%" if screened else "-",
        "orr": _orr(result),
        "median_os": _median_os(result),
        "not_computed": ", ".join(missing) or "none",
    }


def write_index(out: Path, results: list[tuple[Protocol, ReportResult]], *, seed: int) -> Path:
    """Write ``out/index.html`` linking each trial's report with its key figures."""
    env = Environment(autoescape=select_autoescape(["html"]))
    files = resources.files("hcctrial.report")
    template = env.from_string(files.joinpath("templates/index.html").read_text("utf-8"))
    css = files.joinpath("templates/report.css").read_text("utf-8")
    index = out / "index.html"
    index.write_text(
        template.render(
            trials=[_row(p, r) for p, r in results],
            seed=seed,
            css=Markup(css),
            version=hcctrial.__version__,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        ),
        encoding="utf-8",
    )
    return index


def run_demo(out: Path, *, seed: int = 20261122, on_step: StepCallback | None = None) -> Path:
    """Simulate, analyse and report all built-in protocols; returns the index page path."""
    out.mkdir(parents=True, exist_ok=True)
    protocols = builtin_protocols()
    results = []
    for done, (pid, protocol) in enumerate(sorted(protocols.items())):
        if on_step is not None:
            on_step(done, len(protocols), f"simulating and analysing {pid}")
        results.append((protocol, run_trial(protocol, out, seed=seed)))
    if on_step is not None:
        on_step(len(protocols), len(protocols), "done")
    return write_index(out, results, seed=seed)
