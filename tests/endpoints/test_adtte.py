"""ADTTE derivations on hand-built subjects with hand-computed days (origin 2024-01-01).

Options: assessment every 56 days, window 7 -> an event more than 2 * 56 + 7 = 119 days after
the last adequate assessment counts as after two or more missed assessments (FDA 2018 guidance,
Table 1). AVAL = ADT - STARTDT + 1 (admiral convention).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from hcctrial.endpoints.adtte import EndpointOptions, derive_adtte
from hcctrial.errors import InputError

D = date.fromisoformat


def _adsl() -> pl.DataFrame:
    rows = [
        # USUBJID, ARM, TRTSDT, DTHDT, LSTALVDT, NACTDT, BLASMTFL
        ("S1", "A", "2024-01-01", None, "2024-06-01", None, "Y"),
        ("S2", "A", "2024-01-01", "2024-08-01", "2024-08-01", None, "Y"),
        ("S3", "A", "2024-01-01", None, "2024-09-01", None, "Y"),
        ("S4", "B", "2024-01-01", None, "2024-09-01", "2024-03-15", "Y"),
        ("S5", "B", "2024-01-01", "2024-02-10", "2024-02-10", None, "Y"),
        ("S6", "B", "2024-01-01", None, "2024-05-01", None, "Y"),
        ("S7", "B", "2024-01-01", None, "2024-09-01", None, "N"),
    ]
    cols = ["USUBJID", "ARM", "TRTSDT", "DTHDT", "LSTALVDT", "NACTDT", "BLASMTFL"]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    return df.with_columns(
        pl.col(c).str.to_date() for c in ("TRTSDT", "DTHDT", "LSTALVDT", "NACTDT")
    )


def _adrs() -> pl.DataFrame:
    ovr = [
        ("S1", "SD", "2024-02-26"), ("S1", "PD", "2024-04-22"),
        ("S2", "PR", "2024-02-26"), ("S2", "PR", "2024-04-22"), ("S2", "SD", "2024-06-17"),
        ("S3", "SD", "2024-02-26"), ("S3", "PD", "2024-08-19"),
        ("S4", "SD", "2024-02-26"), ("S4", "PD", "2024-04-22"),
        ("S7", "SD", "2024-02-26"), ("S7", "PD", "2024-04-22"),
    ]  # fmt: skip
    bor = [
        ("S1", "SD"),
        ("S2", "PR"),
        ("S3", "SD"),
        ("S4", "SD"),
        ("S5", "NE"),
        ("S6", "NE"),
        ("S7", "SD"),
    ]
    rows = [(s, "OVR", a, d) for s, a, d in ovr] + [(s, "BOR", a, None) for s, a in bor]
    df = pl.DataFrame(rows, schema=["USUBJID", "PARAMCD", "AVALC", "ADT"], orient="row")
    return df.with_columns(pl.col("ADT").str.to_date())


def _get(adtte: pl.DataFrame, param: str, subject: str) -> dict[str, object]:
    row = adtte.filter((pl.col("PARAMCD") == param) & (pl.col("USUBJID") == subject))
    assert row.height == 1, (param, subject, row)
    return row.row(0, named=True)


EXPECTED = [
    # (param, subject, AVAL, CNSR, ADT, description contains)
    ("OS", "S1", 153, 1, "2024-06-01", "LAST KNOWN ALIVE"),
    ("OS", "S2", 214, 0, "2024-08-01", "DEATH"),
    ("PFS", "S1", 113, 0, "2024-04-22", "DISEASE PROGRESSION"),
    ("PFS", "S2", 214, 0, "2024-08-01", "DEATH"),
    ("PFS", "S3", 57, 1, "2024-02-26", "MISSED ASSESSMENTS"),  # PD 175 days after last SD
    ("PFS", "S4", 57, 1, "2024-02-26", "NEW ANTICANCER THERAPY"),
    ("PFS", "S5", 41, 0, "2024-02-10", "DEATH"),  # death 40 days in, before first assessment
    ("PFS", "S6", 1, 1, "2024-01-01", "NO ADEQUATE ASSESSMENT"),
    ("PFS", "S7", 1, 1, "2024-01-01", "NO BASELINE"),
    ("TTR", "S2", 57, 0, "2024-02-26", "FIRST RESPONSE"),
    ("TTR", "S1", 113, 1, "2024-04-22", "NO RESPONSE"),
    ("TTR", "S5", 1, 1, "2024-01-01", "NO ADEQUATE"),
    ("DOR", "S2", 158, 0, "2024-08-01", "DEATH"),  # 2024-02-26 -> 2024-08-01 is 157 days
]


@pytest.mark.parametrize(("param", "subject", "aval", "cnsr", "adt", "desc"), EXPECTED)
def test_hand_computed_adtte(
    param: str, subject: str, aval: int, cnsr: int, adt: str, desc: str
) -> None:
    adtte = derive_adtte(_adsl(), _adrs())
    row = _get(adtte, param, subject)
    assert row["AVAL"] == aval and row["CNSR"] == cnsr and row["ADT"] == D(adt)
    text = row["EVNTDESC"] if cnsr == 0 else row["CNSDTDSC"]
    assert desc in str(text)


def test_dor_only_for_responders_and_shape() -> None:
    adtte = derive_adtte(_adsl(), _adrs())
    assert adtte.filter(pl.col("PARAMCD") == "DOR")["USUBJID"].to_list() == ["S2"]
    assert adtte.columns[:4] == ["USUBJID", "ARM", "PARAMCD", "PARAM"]
    assert adtte.filter(pl.col("PARAMCD") == "OS").height == 7


def test_rules_can_be_switched_off() -> None:
    opts = EndpointOptions(
        missed_assessments_censor=False,
        new_therapy_censors=False,
        no_baseline_censors_at_origin=False,
    )
    adtte = derive_adtte(_adsl(), _adrs(), opts)
    assert _get(adtte, "PFS", "S3")["CNSR"] == 0 and _get(adtte, "PFS", "S3")["AVAL"] == 232
    assert _get(adtte, "PFS", "S4")["CNSR"] == 0 and _get(adtte, "PFS", "S4")["AVAL"] == 113
    assert _get(adtte, "PFS", "S7")["CNSR"] == 0
    strict = derive_adtte(_adsl(), _adrs(), EndpointOptions(no_assessment_censors_at_origin=True))
    assert _get(strict, "PFS", "S5")["CNSR"] == 1 and _get(strict, "PFS", "S5")["AVAL"] == 1
    plain = derive_adtte(_adsl(), _adrs(), EndpointOptions(add_one=False))
    assert _get(plain, "OS", "S2")["AVAL"] == 213


def test_new_therapy_table_overrides_adsl_column() -> None:
    nt = pl.DataFrame({"USUBJID": ["S1", "S1"], "NACTDT": ["2024-03-01", "2024-05-01"]})
    adtte = derive_adtte(_adsl().drop("NACTDT"), _adrs(), new_therapy=nt)
    assert _get(adtte, "PFS", "S1")["CNSR"] == 1 and _get(adtte, "PFS", "S1")["AVAL"] == 57


def test_pandas_input_accepted() -> None:
    adtte = derive_adtte(_adsl().to_pandas(), _adrs().to_pandas())
    assert _get(adtte, "OS", "S2")["AVAL"] == 214


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            pl.when(pl.col("USUBJID") == "S2")
            .then(pl.lit(D("2023-12-01")))
            .otherwise(pl.col("DTHDT"))
            .alias("DTHDT"),
            "S2.*death before the origin",
        ),
        (
            pl.when(pl.col("USUBJID") == "S1")
            .then(None)
            .otherwise(pl.col("TRTSDT"))
            .alias("TRTSDT"),
            "S1.*missing origin",
        ),
        (
            pl.when(pl.col("USUBJID") == "S1")
            .then(pl.lit(D("2023-06-01")))
            .otherwise(pl.col("LSTALVDT"))
            .alias("LSTALVDT"),
            "S1.*last known alive before the origin",
        ),
    ],
)
def test_bad_adsl_names_subject_and_rule(change: pl.Expr, message: str) -> None:
    with pytest.raises(InputError, match=f"(?s){message}"):
        derive_adtte(_adsl().with_columns(change), _adrs())


def test_subject_in_two_arms() -> None:
    adsl = pl.concat(
        [_adsl(), _adsl().filter(pl.col("USUBJID") == "S3").with_columns(pl.lit("B").alias("ARM"))]
    )
    with pytest.raises(InputError, match=r"(?s)S3.*two arms"):
        derive_adtte(adsl, _adrs())


def test_assessment_after_death() -> None:
    late = pl.DataFrame(
        {"USUBJID": ["S5"], "PARAMCD": ["OVR"], "AVALC": ["SD"], "ADT": [D("2024-03-01")]}
    )
    with pytest.raises(InputError, match=r"(?s)S5.*assessment after death"):
        derive_adtte(_adsl(), pl.concat([_adrs(), late]))


def test_missing_origin_column() -> None:
    with pytest.raises(InputError, match="RANDDT"):
        derive_adtte(_adsl(), _adrs(), EndpointOptions(origin="RANDDT"))
