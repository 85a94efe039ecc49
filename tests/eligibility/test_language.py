"""The criterion language: what it accepts (the examples of docs/criteria-language.md) and
what it refuses (anything that could run code, names outside the vocabulary, type errors)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.eligibility import parse_expression
from hcctrial.errors import InputError

# 1-4: the examples printed in docs/criteria-language.md
DOC_EXAMPLES = [
    ('lab("PLT", "10^9/L") >= 60', {"PLT"}),
    ('xuln("ALT") <= 5', {"ALT"}),
    ('within_days("anti_tumour_therapy", 14)', set()),
    ("18 <= age <= 80", set()),
]


@pytest.mark.parametrize(("text", "labs"), DOC_EXAMPLES)
def test_documented_examples_parse(text: str, labs: set[str]) -> None:
    parsed = parse_expression(text)
    assert parsed.labs == labs
    assert parsed.text == text


def test_parse_collects_what_the_expression_reads() -> None:
    parsed = parse_expression(
        'ecog <= 1 and not history("hepatic_encephalopathy") and crcl() >= 40 '
        'and days_since("cell_therapy") > 180'
    )
    assert parsed.names == {"ecog"}
    assert parsed.labs == {"CREAT"}  # crcl() reads serum creatinine
    assert parsed.conditions == {"hepatic_encephalopathy"}
    assert parsed.categories == {"cell_therapy"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('__import__("os").system("true")', "unknown function"),
        ("age.real > 1", "Attribute"),
        ("(lambda: 1)() == 1", "unknown function"),
        ("(lambda: 1) == 1", "Lambda is not part of the criterion language"),
        ("[x for x in [1]] == [1]", "not part of"),
        ('open("/etc/passwd") == 1', "unknown function"),
        ("foo > 1", "unknown name 'foo'"),
        ('lab("XYZ") > 1', "unknown lab code 'XYZ'"),
        ('lab("PLT", "mg/dLL") > 1', "does not fit PLT"),
        ('lab("PLT", "g/L") > 1', "does not fit PLT"),
        ('ecog == "A"', "compares number with text"),
        ('lab("PLT") and 3', "'and'/'or' needs true/false"),
        ('bclc_stage < "C"', "can only be compared with == or !="),
        ("age", "must be a condition"),
        ('within_days("anti_tumour_therapy", -1)', "whole number"),
        ('within_days("anti_tumour_therapy", 1.5)', "whole number"),
        ('days_since("holiday") > 1', "unknown therapy/event category"),
        ('history("gout")', "unknown condition"),
        ('lab(code="PLT") > 1', "keyword arguments are not allowed"),
        ('lab("PLT", "10^9/L", "x") > 1', "takes 1 argument"),
        ("age ** 2 > 1", "operator not allowed"),
        ('bclc_stage in "BC"', "non-empty list"),
        ("age >", "not valid syntax"),
        ("", "empty"),
    ],
)
def test_refused_with_a_message(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_expression(text, where="TEST IN-1")
    assert message in str(info.value)


def test_error_names_where_the_expression_is() -> None:
    with pytest.raises(InputError) as info:
        parse_expression("foo > 1", where="protocol SZ003, criterion IN-LAB-PLT")
    assert "protocol SZ003, criterion IN-LAB-PLT" in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='abcdefghlnorstuxy_()[]<>=!"., 0123456789+-*/', max_size=40))
def test_any_text_parses_or_raises_input_error(text: str) -> None:
    """Property: parsing never fails with anything but a user-facing InputError."""
    with contextlib.suppress(InputError):
        parse_expression(text)
