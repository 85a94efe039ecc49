"""``hcctrial protocols list|show|validate`` through :func:`hcctrial.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import hcctrial
from hcctrial.cli import main
from hcctrial.cli._common import console
from hcctrial.protocol import builtin_protocols, line_of, parse_protocol

MINIMAL = Path(__file__).with_name("minimal.yaml")


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tables wrap at the 80 columns of a captured stream; a wide console keeps cells whole.
    monkeypatch.setattr(console, "_width", 200)


SEEDS = ["NCT04011033", "NCT04162158", "il1rap-car-t", "pd1-ko-t-tace", "sz003-car-nk"]


def test_list_table_names_every_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "list"]) == 0
    out = capsys.readouterr().out
    for pid in SEEDS:
        assert pid in out
    assert "not stated" in out  # enrolment target of the records that give none
    assert "dose-escalation" in out and "3+3" in out


def test_list_json_matches_the_protocols(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == sorted(SEEDS)
    protocols = builtin_protocols()
    for row in rows:
        p = protocols[row["id"]]
        assert row["title"] == p.title and row["phase"] == p.phase
        assert row["arms"] == [a.label for a in p.arms]
        assert row["enrolment_target"] == p.design.enrolment_target
        assert row["criteria"] == len(p.eligibility.criteria)
    il1rap = next(r for r in rows if r["id"] == "il1rap-car-t")
    assert il1rap["design"] == "single-arm, dose-escalation, 3+3, open label"


def test_show_text_summarises_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "show", "il1rap"]) == 0
    out = capsys.readouterr().out
    for heading in ("Arms", "Interventions and doses", "Calendar", "Eligibility", "Outcome"):
        assert heading in out
    for text in ("1.0e8 cells", "2.5e8 cells", "5.0e8 cells", "DLT window: 28 days"):
        assert text in out
    assert "ASSUMED" in out  # the DLT rules are not from the record
    assert "A-DLT-RULES" in out


def test_show_text_of_sz003_lists_criteria(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "show", "SZ003"]) == 0
    out = capsys.readouterr().out
    assert "25 inclusion, 30 exclusion" in out
    assert "IN-LAB-PLT" in out and "investigator judgement" in out


@pytest.mark.parametrize("pid", SEEDS)
def test_show_yaml_round_trips(capsys: pytest.CaptureFixture[str], pid: str) -> None:
    assert main(["protocols", "show", pid, "--format", "yaml"]) == 0
    text = capsys.readouterr().out
    assert parse_protocol(text, file="shown.yaml") == hcctrial.load_protocol(pid)


def test_show_json_is_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "show", "pd1-ko-t-tace", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    p = hcctrial.load_protocol("pd1-ko-t-tace")
    assert data["id"] == p.id
    assert data["safety"]["ctcae_version"] == "4.03"
    assert [e["id"] for e in data["endpoints"]] == [e.id for e in p.endpoints]


def test_show_a_file_and_an_unknown_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["protocols", "show", str(MINIMAL)]) == 0
    assert "my-trial" in capsys.readouterr().out
    assert main(["protocols", "show", "NO-SUCH-TRIAL"]) == 1
    err = capsys.readouterr().err
    assert "no protocol file or built-in protocol" in err and "sz003-car-nk" in err


def test_validate_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "validate", str(MINIMAL)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_names_path_line_and_expected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = MINIMAL.read_text()
    text = text.replace("cycles: 3", "cycles: three").replace("unit: cells}", "unit: cells/lb}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["protocols", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    cycles_line = 1 + text.splitlines().index("    cycles: three")
    unit_line = next(i for i, x in enumerate(text.splitlines(), 1) if "cells/lb" in x)
    assert f"bad.yaml line {cycles_line}: interventions[1].cycles" in err
    assert f"bad.yaml line {unit_line}: interventions[1].dose.unit" in err
    assert "'cells/m2'" in err  # what was expected
    assert "2 problem(s)" in err


def test_validate_type_checks_expressions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Structurally fine (known name), but a number compared with text: the eligibility
    # language rejects it, so validate must too.
    text = MINIMAL.read_text().replace(
        'expression: "18 <= age <= 80"', "expression: 'age == \"old\"'"
    )
    bad = tmp_path / "types.yaml"
    bad.write_text(text)
    assert main(["protocols", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    line = line_of(text, ("eligibility", "criteria", 0, "expression"))
    assert f"types.yaml line {line}: eligibility.criteria[0].expression" in err
    assert "compares number with text" in err


def test_validate_reports_every_problem_beyond_ten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(MINIMAL.read_text())
    for i in range(12):
        data["eligibility"]["criteria"].append(
            {"id": f"X{i}", "kind": "inclusion", "source": "s", "expression": f"nonsense{i} > 1"}
        )
    bad = tmp_path / "many.yaml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["protocols", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert all(f"unknown name 'nonsense{i}'" in err for i in range(12))
    assert "12 problem(s)" in err


def test_validate_yaml_syntax_and_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "syntax.yaml"
    bad.write_text("id: x\ntitle: [unclosed\nphase: Phase 1\n")
    assert main(["protocols", "validate", str(bad)]) == 1
    assert "syntax.yaml line" in capsys.readouterr().err
    assert main(["protocols", "validate", str(tmp_path / "absent.yaml")]) == 1
    assert "protocol file not found" in capsys.readouterr().err


def test_python_api() -> None:
    assert sorted(hcctrial.builtin_protocols()) == sorted(SEEDS)
    assert hcctrial.load_protocol("sz003").id == "sz003-car-nk"
    assert hcctrial.load_protocol(MINIMAL).id == "my-trial"


def test_validate_reports_schema_and_expression_problems_together(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = MINIMAL.read_text().replace("cycles: 3", "cycles: three")
    text = text.replace(">= 60'", '>= "sixty"\'')
    bad = tmp_path / "both.yaml"
    bad.write_text(text)
    assert main(["protocols", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "interventions[1].cycles" in err
    assert "eligibility.criteria[1].expression" in err and "compares number with text" in err
    assert "2 problem(s)" in err
