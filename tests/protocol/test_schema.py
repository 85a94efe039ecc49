"""Schema and loader: a minimal protocol validates; bad input gives path-precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hcctrial.errors import InputErrors
from hcctrial.protocol import (
    Dose,
    Protocol,
    Randomization,
    line_of,
    load_protocol,
    parse_protocol,
    yaml_path,
)
from hcctrial.protocol.expressions import expression_problems

MINIMAL = Path(__file__).with_name("minimal.yaml")


def _minimal() -> dict:
    return yaml.safe_load(MINIMAL.read_text())


def _errors(data: dict) -> str:
    with pytest.raises(InputErrors) as info:
        parse_protocol(yaml.safe_dump(data, sort_keys=False), file="t.yaml")
    return str(info.value)


def test_minimal_protocol_loads() -> None:
    p = load_protocol(MINIMAL)
    assert isinstance(p, Protocol)
    assert p.intervention("car-t").dose is not None
    assert p.intervention("car-t").dose.basis == "flat"
    assert p.endpoint("pfs").censoring is not None
    assert p.endpoint("pfs").censoring.missed_assessments == 2
    assert p.eligibility.lab_lookback_days == 14
    assert [c.id for c in p.eligibility.inclusion] == ["IN-AGE", "IN-PLT"]


def test_bad_unit_names_yaml_path_value_and_expected() -> None:
    data = _minimal()
    data["interventions"][1]["dose"]["unit"] = "cells/lb"
    text = _errors(data)
    assert "interventions[1].dose.unit" in text
    assert "'cells/lb'" in text
    assert "'cells/m2'" in text  # what was expected


def test_yaml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(InputErrors) as info:
        parse_protocol("id: x\ntitle: [unclosed\nphase: Phase 1\n", file="bad.yaml")
    assert "bad.yaml line" in str(info.value)
    assert "YAML syntax error" in str(info.value)


def test_schema_error_gives_line_number() -> None:
    text = MINIMAL.read_text().replace("cycles: 3", "cycles: three")
    with pytest.raises(InputErrors) as info:
        parse_protocol(text, file="m.yaml")
    line = 1 + text.splitlines().index("    cycles: three")
    assert f"m.yaml line {line}" in str(info.value)
    assert "interventions[1].cycles" in str(info.value)


def test_criterion_needs_expression_or_judgement() -> None:
    data = _minimal()
    del data["eligibility"]["criteria"][1]["expression"]
    assert "eligibility.criteria[1]" in _errors(data)
    data = _minimal()
    data["eligibility"]["criteria"][2]["expression"] = "age > 1"
    assert "exactly one" in _errors(data)
    data = _minimal()
    del data["eligibility"]["criteria"][2]["reason"]
    assert "needs a 'reason'" in _errors(data)


def test_unknown_vocabulary_name_is_rejected() -> None:
    data = _minimal()
    data["eligibility"]["criteria"][0]["expression"] = "weight > 40"
    text = _errors(data)
    assert "eligibility.criteria[0].expression" in text
    assert "unknown name 'weight'" in text


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ('lab("PLTS") > 1', "unknown lab code 'PLTS'"),
        ('within_days("holiday", 3)', "unknown therapy/event category"),
        ('history("flu")', "unknown condition"),
        ("__import__('os')", "unknown function"),
        ("age.real > 1", "Attribute is not allowed"),
        ("age >", "not a valid expression"),
        ("[x for x in ecog]", "ListComp is not allowed"),
    ],
)
def test_expression_check(expression: str, fragment: str) -> None:
    assert any(fragment in p for p in expression_problems(expression))


def test_unknown_reference_names_path() -> None:
    data = _minimal()
    data["arms"][0]["interventions"][1] = "car-nk"
    text = _errors(data)
    assert "arms[0].interventions[1]: unknown intervention" in text
    assert "'car-nk'" in text


def test_unknown_field_and_missing_field() -> None:
    data = _minimal()
    data["design"]["blinding"] = "none"
    del data["title"]
    text = _errors(data)
    assert "design.blinding: unknown field" in text
    assert "title: required field is missing" in text


def test_duplicate_key_is_an_error() -> None:
    text = MINIMAL.read_text() + "phase: Phase 2\n"
    with pytest.raises(InputErrors, match="phase: key given twice"):
        parse_protocol(text, file="d.yaml")


def test_dose_range_and_basis() -> None:
    data = _minimal()
    data["interventions"][1]["dose"] = {"low": 5e8, "high": 1e9, "unit": "cells/m2"}
    p = parse_protocol(yaml.safe_dump(data))
    dose = p.intervention("car-t").dose
    assert dose is not None and dose.basis == "per-m2" and dose.low == 5e8
    data["interventions"][1]["dose"] = {"low": 1e9, "high": 5e8, "unit": "cells/m2"}
    assert "above high" in _errors(data)
    data["interventions"][1]["dose"] = {"value": 1e9, "unit": "cells/m2", "basis": "flat"}
    assert "does not fit unit" in _errors(data)


def test_missing_file_and_unknown_id() -> None:
    with pytest.raises(Exception, match="not found"):
        load_protocol("/nonexistent/x.yaml")
    with pytest.raises(Exception, match="no protocol file or built-in"):
        load_protocol("NOT-A-TRIAL")


# --- properties ---------------------------------------------------------------------------------
_BASIS_OF_UNIT = {  # the dose basis each unit implies (flat, per body-surface area, per weight)
    "cells": "flat",
    "cells/m2": "per-m2",
    "cells/kg": "per-kg",
    "IU": "flat",
    "IU/kg": "per-kg",
    "IU/kg/day": "per-kg",
    "IU/m2/day": "per-m2",
    "mg": "flat",
    "mg/day": "flat",
    "mg/m2": "per-m2",
    "mg/kg": "per-kg",
}


@given(
    st.sampled_from(sorted(_BASIS_OF_UNIT)),
    st.floats(min_value=1e-3, max_value=1e12, allow_nan=False),
    st.floats(min_value=1e-3, max_value=1e12, allow_nan=False),
)
def test_dose_basis_follows_unit_and_ranges_are_ordered(unit: str, a: float, b: float) -> None:
    dose = Dose(value=a, unit=unit)  # type: ignore[arg-type]
    assert dose.basis == _BASIS_OF_UNIT[unit]
    if a <= b:
        ranged = Dose(low=a, high=b, unit=unit)  # type: ignore[arg-type]
        assert ranged.basis == _BASIS_OF_UNIT[unit] and ranged.low == a
    else:
        with pytest.raises(ValidationError, match="above high"):
            Dose(low=a, high=b, unit=unit)  # type: ignore[arg-type]


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.integers(min_value=1, max_value=4), min_size=2
    ),
    st.integers(min_value=1, max_value=24),
)
def test_randomization_blocks_are_multiples_of_the_ratio(ratio: dict[str, int], size: int) -> None:
    total = sum(ratio.values())
    if size % total == 0:
        assert Randomization(ratio=ratio, block_sizes=[size]).block_sizes == [size]
    else:
        with pytest.raises(ValidationError, match="not a multiple"):
            Randomization(ratio=ratio, block_sizes=[size])


@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=6), min_size=1, max_size=8))
def test_line_of_finds_each_list_item(ids: list[str]) -> None:
    text = "title: t\narms:\n" + "".join(f"  - id: {i}\n    label: x\n" for i in ids)
    for k in range(len(ids)):
        # arms[k].id sits on line 3 + 2k (1-based): two header lines, two lines per arm
        assert line_of(text, ("arms", k, "id")) == 3 + 2 * k
    assert yaml_path(("arms", len(ids) - 1, "id")) == f"arms[{len(ids) - 1}].id"


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(["NCT04011033", "il1rap-car-t", "pd1-ko-t-tace", "sz003-car-nk"]))
def test_builtin_survives_a_yaml_round_trip(pid: str) -> None:
    p = load_protocol(pid)
    text = yaml.safe_dump(p.model_dump(mode="json", exclude_defaults=True), allow_unicode=True)
    assert parse_protocol(text) == p


def test_unknown_assumption_reference_is_an_error() -> None:
    data = _minimal()
    data["endpoints"][0]["assumption"] = "A-NOPE"
    text = _errors(data)
    assert "endpoints[0].assumption: unknown assumption" in text and "A1" in text
    data["endpoints"][0]["assumption"] = "A1"
    assert parse_protocol(yaml.safe_dump(data)).endpoint("ae").assumption == "A1"
