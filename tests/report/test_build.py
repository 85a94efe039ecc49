"""The report over the example study: every section computed, tables written, CLI behaviour."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from hcctrial.cli import main
from hcctrial.io import example_study, example_study_folder
from hcctrial.io.adsl import derive_adsl
from hcctrial.protocol import load_protocol
from hcctrial.report import build_report, render_html
from hcctrial.report.build import consort_flow

MINIMAL = Path(__file__).parents[1] / "protocol" / "minimal.yaml"


@pytest.fixture(scope="module")
def built():  # type: ignore[no-untyped-def]
    study = example_study()
    return study, build_report(load_protocol(MINIMAL), study)


def test_efficacy_sections_are_computed_from_the_engines(built) -> None:  # type: ignore[no-untyped-def]
    _, result = built
    keys = {s.key: s for s in result.report.sections}
    for key in ("protocol", "consort", "baseline", "response", "survival", "assumptions"):
        assert key in keys and keys[key].unavailable is None, (key, keys[key].unavailable)
    # The example study's subject 1 has a confirmed PR: 49% decrease at weeks 8 and 12
    # (hand-derived in tests/response); ORR is therefore at least 1/4.
    orr = result.efficacy.endpoints.by_arm.filter(
        (pl.col("PARAMCD") == "RESPONSE") & (pl.col("STATISTIC") == "ORR")
    )
    assert orr["N"].to_list() == [4]
    assert orr["X"].item() >= 1


def test_consort_counts_add_up(built) -> None:  # type: ignore[no-untyped-def]
    study, result = built
    flow = consort_flow(study, result.adsl)
    assert flow.screened == flow.excluded + flow.enrolled
    assert sum(n for _, n in flow.allocated) == flow.enrolled


def test_screen_failures_are_counted_with_their_reason() -> None:
    study = example_study()
    dm = study["DM"].with_columns(
        pl.when(pl.col("USUBJID").str.ends_with("004"))
        .then(pl.lit("SCRNFAIL"))
        .otherwise(pl.col("ARMCD"))
        .alias("ARMCD")
    )
    ds_row = (
        study["DS"]
        .head(1)
        .with_columns(
            pl.lit("HCCDEMO01-002-004").alias("USUBJID"),
            pl.lit("PLATELETS BELOW 60 X10^9/L").alias("DSTERM"),
            pl.lit("SCREEN FAILURE").alias("DSDECOD"),
        )
    )
    study = study.with_domain("DM", dm).with_domain("DS", pl.concat([study["DS"], ds_row]))
    adsl = derive_adsl(study)
    flow = consort_flow(study, adsl)
    assert (flow.screened, flow.excluded, flow.enrolled) == (4, 1, 3)
    assert flow.excluded_reasons == [("PLATELETS BELOW 60 X10^9/L", 1)]


def test_missing_tumour_data_keeps_the_section_with_the_reason() -> None:
    study = example_study()
    partial = type(study)({k: v for k, v in study.items() if k not in ("TU", "TR")})
    result = build_report(load_protocol(MINIMAL), partial)
    sections = {s.key: s for s in result.report.sections}
    assert "no TU domain" in (sections["efficacy"].unavailable or "")
    assert sections["baseline"].unavailable is None
    html = render_html(result.report)
    assert "Not computed:" in html


def test_report_command_writes_html_and_tables(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        [
            "report",
            "--protocol",
            str(MINIMAL),
            "--data",
            str(example_study_folder()),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 5  # waterfall, spider, swimmer, KM OS, KM PFS
    for name in ("adsl", "adrs", "adtte", "endpoints_by_arm", "numbers_at_risk"):
        assert (tmp_path / "tables" / f"{name}.csv").exists(), name
    assert "report:" in capsys.readouterr().out


def test_report_command_bad_protocol_is_a_clear_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        ["report", "--protocol", "no-such-trial", "--data", str(tmp_path), "--out", str(tmp_path)]
    )
    assert code == 1
    assert "no-such-trial" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [1, 20261122])
def test_simulated_escalation_follows_the_protocol_rule_on_its_own_data(seed: int) -> None:
    # the IL1RAP CAR-T study (3+3): the report evaluates the protocol's DLT rules over the
    # simulated AEs and replays the 3+3 rule of hcctrial.safety cohort by cohort; the cohorts the
    # simulator actually treated must be those the rule asked for (each cohort at the level the
    # previous decision named, the last decision stop or the maximum reached)
    from hcctrial.report.safety import dose_levels_of, escalation_path
    from hcctrial.safety.dlt import evaluate_dlt
    from hcctrial.simulate import simulate_trial

    protocol = load_protocol("il1rap-car-t")
    study = simulate_trial(protocol, seed=seed)
    adsl = derive_adsl(study)
    treated = adsl.filter(pl.col("SAFFL") == "Y").join(
        dose_levels_of(protocol, adsl), on="USUBJID", how="left"
    )
    dlt = evaluate_dlt(protocol.safety.dlt, treated, study["AE"])  # type: ignore[arg-type]
    path = escalation_path(protocol, adsl, dlt.subjects)
    levels = list(protocol.design.dose_escalation.levels)  # type: ignore[union-attr]
    assert path["N"].to_list() == [3] * path.height
    assert path["LEVEL"][0] == protocol.design.dose_escalation.start_level  # type: ignore[union-attr]
    for prev, nxt in zip(path.iter_rows(named=True), path[1:].iter_rows(named=True), strict=False):
        assert prev["DECISION"] != "stop"
        step = {"escalate": 1, "stay": 0, "de-escalate": -1}[prev["DECISION"]]
        assert levels.index(nxt["LEVEL"]) == levels.index(prev["LEVEL"]) + step, (prev, nxt)
    last = path.row(-1, named=True)
    assert last["DECISION"] == "stop" or path["N"].sum() + 3 > 18  # max_patients 18


def test_partial_data_names_each_section_not_computed_and_why() -> None:
    # the example study without AE, LB and EX: safety and kinetics cannot be computed; the
    # efficacy sections still are, and each missing one says which domain it lacked
    study = example_study()
    partial = type(study)({k: v for k, v in study.items() if k not in ("AE", "LB", "EX")})
    result = build_report(load_protocol("NCT04162158"), partial)
    sections = {s.key: s for s in result.report.sections}
    assert sections["response"].unavailable is None
    assert sections["survival"].unavailable is None
    assert "no AE domain" in (sections["ae"].unavailable or "")
    assert "no LB domain" in (sections["labs"].unavailable or "")
    assert "no LB domain" in (sections["kinetics"].unavailable or "")
    html = render_html(result.report)
    assert html.count("Not computed:") == sum(1 for s in sections.values() if s.unavailable)


@pytest.mark.parametrize(
    ("protocol", "data"),
    [
        ("NCT04162158", example_study_folder()),
        (
            str(Path(__file__).parents[1] / "endpoints" / "data" / "two_arm_protocol.yaml"),
            Path(__file__).parents[1] / "endpoints" / "data" / "two_arm_study",
        ),
    ],
    ids=["NCT04162158-demo", "two-arm"],
)
def test_report_and_endpoints_command_give_the_same_numbers(protocol: str, data: Path) -> None:
    """The report and ``hcctrial endpoints`` read the protocol's efficacy settings the same way
    (origin, censoring, cut-off, DCR visits, strata): their ADTTE and endpoint tables agree."""
    from hcctrial.cli.endpoints import run_endpoints
    from hcctrial.io import read_study

    run = run_endpoints(protocol, data)
    result = build_report(load_protocol(protocol), read_study(data, on_error="collect"))
    assert result.efficacy is not None
    ours, theirs = result.efficacy.endpoints, run.result
    keys = ["PARAMCD", "USUBJID"]
    assert ours.adtte.sort(keys).equals(theirs.adtte.sort(keys))
    assert ours.by_arm.equals(theirs.by_arm)
    assert ours.comparison.equals(theirs.comparison)
