"""Protocol censoring options applied to ADTTE: data cut-off, OS at last known alive or last
adequate assessment, ``no_post_baseline_at_origin``, PFS at last known alive.

Every subject starts on 2024-01-01 (origin day 1); AVAL = ADT - STARTDT + 1. Day counts in
2024 (a leap year) from 2024-01-01: 02-10 is +40, 02-26 +56, 04-22 +112, 05-01 +121,
06-01 +152, 07-19 +200, 08-01 +213, 08-19 +231. Imaging every 56 days with a 7-day window:
an event more than 2 * 56 + 7 = 119 days after the last adequate assessment (or the origin)
counts as after two or more missed assessments (FDA 2018 guidance, Table 1).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from hcctrial.endpoints.adtte import EndpointOptions, derive_adtte
from hcctrial.endpoints.protocol_options import efficacy_settings
from hcctrial.errors import InputError
from hcctrial.protocol import load_protocol
from hcctrial.protocol.outcomes import Censoring

D = date.fromisoformat
PROTOCOL = "tests/endpoints/data/two_arm_protocol.yaml"
PROTOCOLS = Path(__file__).parents[2] / "src" / "hcctrial" / "protocol" / "builtin"


def _adsl() -> pl.DataFrame:
    rows = [
        # USUBJID, TRTSDT, DTHDT, LSTALVDT, NACTDT
        ("S1", "2024-01-01", None, "2024-06-01", None),  # PD 04-22, alive
        ("S2", "2024-01-01", "2024-08-01", "2024-08-01", None),  # PR, PR, SD 06-17, dies 08-01
        ("S3", "2024-01-01", None, "2024-09-01", None),  # SD 02-26, PD 08-19
        ("S5", "2024-01-01", "2024-02-10", "2024-02-10", None),  # dies day 41, never assessed
        ("S6", "2024-01-01", None, "2024-05-01", None),  # never assessed, alive
        ("S8", "2024-01-01", "2024-07-19", "2024-07-19", None),  # never assessed, dies day 201
        ("S9", "2024-01-01", None, "2024-06-01", None),  # SD 02-26 only, alive
    ]
    df = pl.DataFrame(
        rows,
        schema=dict.fromkeys(["USUBJID", "TRTSDT", "DTHDT", "LSTALVDT", "NACTDT"], pl.Utf8),
        orient="row",
    )
    return df.with_columns(
        pl.lit("A").alias("ARM"),
        pl.lit("Y").alias("BLASMTFL"),
        *(pl.col(c).str.to_date() for c in ("TRTSDT", "DTHDT", "LSTALVDT", "NACTDT")),
    )


def _adrs() -> pl.DataFrame:
    ovr = [
        ("S1", "SD", "2024-02-26"), ("S1", "PD", "2024-04-22"),
        ("S2", "PR", "2024-02-26"), ("S2", "PR", "2024-04-22"), ("S2", "SD", "2024-06-17"),
        ("S3", "SD", "2024-02-26"), ("S3", "PD", "2024-08-19"),
        ("S9", "SD", "2024-02-26"),
    ]  # fmt: skip
    bor = [("S1", "SD"), ("S2", "PR"), ("S3", "SD"), ("S5", "NE"), ("S6", "NE"), ("S8", "NE"),
           ("S9", "SD")]  # fmt: skip
    rows = [(s, "OVR", a, d) for s, a, d in ovr] + [(s, "BOR", a, None) for s, a in bor]
    df = pl.DataFrame(rows, schema=["USUBJID", "PARAMCD", "AVALC", "ADT"], orient="row")
    return df.with_columns(pl.col("ADT").str.to_date())


def _get(adtte: pl.DataFrame, param: str, subject: str) -> tuple[float, int, str]:
    row = adtte.filter((pl.col("PARAMCD") == param) & (pl.col("USUBJID") == subject))
    assert row.height == 1, (param, subject)
    r = row.row(0, named=True)
    return r["AVAL"], r["CNSR"], str(r["EVNTDESC"] if r["CNSR"] == 0 else r["CNSDTDSC"])


CUTOFF = [
    # data cut-off 2024-05-01 (day 122 = 121 + 1):
    # 1. S1 alive past the cut-off: OS censored at the cut-off, AVAL 122; PD 04-22 is before it
    ("OS", "S1", 122, 1, "ALIVE AT DATA CUT-OFF"),
    ("PFS", "S1", 113, 0, "DISEASE PROGRESSION"),
    # 2. S2 dies 08-01, after the cut-off: alive at the cut-off (OS censored, AVAL 122); PFS
    #    censored at the last adequate assessment on or before it, PR 04-22 (AVAL 113); DOR
    #    from the first PR 02-26 to 04-22: 56 days + 1 = 57
    ("OS", "S2", 122, 1, "ALIVE AT DATA CUT-OFF"),
    ("PFS", "S2", 113, 1, "EVENT AFTER DATA CUT-OFF"),
    ("DOR", "S2", 57, 1, "EVENT AFTER DATA CUT-OFF"),
    # 3. S3's PD 08-19 is after the cut-off: censored at SD 02-26 (AVAL 57), not as a missed-
    #    assessment event (without the cut-off it is: tests/endpoints/test_adtte.py)
    ("PFS", "S3", 57, 1, "EVENT AFTER DATA CUT-OFF"),
    # 4. S5's death on day 41 is before the cut-off: an event for OS and PFS
    ("OS", "S5", 41, 0, "DEATH"),
    ("PFS", "S5", 41, 0, "DEATH"),
    # 5. S6 last known alive on the cut-off day itself: unchanged, AVAL 122
    ("OS", "S6", 122, 1, "LAST KNOWN ALIVE"),
]


@pytest.mark.parametrize(("param", "subject", "aval", "cnsr", "desc"), CUTOFF)
def test_data_cutoff(param: str, subject: str, aval: int, cnsr: int, desc: str) -> None:
    adtte = derive_adtte(_adsl(), _adrs(), EndpointOptions(data_cutoff=D("2024-05-01")))
    got = _get(adtte, param, subject)
    assert got[:2] == (aval, cnsr) and desc in got[2], got


def test_data_cutoff_months_from_last_origin() -> None:
    # every origin is 2024-01-01; 4 months = floor(4 * 30.4375) = floor(121.75) = 121 days
    # -> cut-off 2024-05-01, the same ADTTE as the explicit date above
    opts = EndpointOptions(data_cutoff_months=4)
    assert opts.cutoff_date(_adsl()["TRTSDT"]) == D("2024-05-01")
    by_months = derive_adtte(_adsl(), _adrs(), opts)
    by_date = derive_adtte(_adsl(), _adrs(), EndpointOptions(data_cutoff=D("2024-05-01")))
    assert by_months.equals(by_date)


def test_origin_after_cutoff_names_subject() -> None:
    adsl = _adsl().with_columns(
        pl.when(pl.col("USUBJID") == "S9")
        .then(pl.lit(D("2024-06-01")))
        .otherwise(pl.col("TRTSDT"))
        .alias("TRTSDT")
    )
    with pytest.raises(InputError, match=r"(?s)S9.*origin after the data cut-off"):
        derive_adtte(adsl, _adrs(), EndpointOptions(data_cutoff=D("2024-05-01")))


def test_os_at_last_adequate_assessment() -> None:
    adtte = derive_adtte(_adsl(), _adrs(), EndpointOptions(os_at_last_known_alive=False))
    # S1 alive; its last adequate assessment is the PD on 04-22: AVAL 113 (not 153 at 06-01)
    assert _get(adtte, "OS", "S1") == (113, 1, "LAST ADEQUATE ASSESSMENT")
    # S6 never assessed: censored at the origin, AVAL 1
    assert _get(adtte, "OS", "S6") == (1, 1, "NO ADEQUATE ASSESSMENT: ORIGIN")
    # deaths are events either way: S2 on 08-01, AVAL 214
    assert _get(adtte, "OS", "S2") == (214, 0, "DEATH")
    default = derive_adtte(_adsl(), _adrs())
    assert _get(default, "OS", "S1") == (153, 1, "LAST KNOWN ALIVE")


def test_no_post_baseline_at_origin() -> None:
    # S8: no assessment, death on day 201, 200 days after the origin > 119: under the FDA rule
    # (no_post_baseline_at_origin: true) censored at the origin, AVAL 1; with false the death
    # is the event, AVAL 201. S5's death on day 41 (within 119 days) is an event either way.
    fda = derive_adtte(_adsl(), _adrs())
    assert _get(fda, "PFS", "S8")[:2] == (1, 1)
    assert _get(fda, "PFS", "S5") == (41, 0, "DEATH")
    off = derive_adtte(_adsl(), _adrs(), EndpointOptions(no_post_baseline_censors_at_origin=False))
    assert _get(off, "PFS", "S8") == (201, 0, "DEATH")
    assert _get(off, "PFS", "S5") == (41, 0, "DEATH")
    # S6 (never assessed, alive): nothing documents progression-free time: origin either way
    assert _get(off, "PFS", "S6")[:2] == (1, 1)
    # the missed-assessment rule still applies to subjects who were assessed: S3's PD 175 days
    # after its SD on 02-26 is censored at 02-26 (AVAL 57)
    assert _get(off, "PFS", "S3")[:2] == (57, 1)


def test_pfs_at_last_known_alive() -> None:
    # S9: SD 02-26 only, alive 06-01: FDA default censors PFS at 02-26 (AVAL 57); with
    # at_last_known_alive at 06-01 (AVAL 153). S6 (never assessed) stays at the origin.
    default = derive_adtte(_adsl(), _adrs())
    assert _get(default, "PFS", "S9") == (57, 1, "LAST ADEQUATE ASSESSMENT")
    lka = derive_adtte(_adsl(), _adrs(), EndpointOptions(pfs_at_last_known_alive=True))
    assert _get(lka, "PFS", "S9") == (153, 1, "LAST KNOWN ALIVE")
    assert _get(lka, "PFS", "S6")[:2] == (1, 1)


def _with_censoring(pfs: Censoring | None, os_: Censoring | None) -> object:
    protocol = load_protocol(PROTOCOL)
    endpoints = []
    for e in protocol.endpoints:
        if e.kind == "pfs" and pfs is not None:
            e = e.model_copy(update={"censoring": pfs})
        if e.kind == "os" and os_ is not None:
            e = e.model_copy(update={"censoring": os_})
        endpoints.append(e)
    return protocol.model_copy(update={"endpoints": endpoints})


def test_protocol_censoring_keys_reach_the_derivation() -> None:
    base = efficacy_settings(load_protocol(PROTOCOL)).endpoint_options
    assert base.no_post_baseline_censors_at_origin and base.os_at_last_known_alive
    assert base.data_cutoff_months is None and not base.pfs_at_last_known_alive
    protocol = _with_censoring(
        Censoring(no_post_baseline_at_origin=False, at_last_known_alive=True,
                  data_cutoff_months=12),
        Censoring(at_last_known_alive=False, data_cutoff_months=12),
    )  # fmt: skip
    opts = efficacy_settings(protocol).endpoint_options  # type: ignore[arg-type]
    assert not opts.no_post_baseline_censors_at_origin
    assert opts.pfs_at_last_known_alive
    assert not opts.os_at_last_known_alive  # at_last_adequate_assessment defaults to true
    assert opts.data_cutoff_months == 12
    # NCT04011033's OS: at_last_adequate_assessment false, at_last_known_alive true
    nct = efficacy_settings(load_protocol("NCT04011033")).endpoint_options
    assert nct.os_at_last_known_alive


def test_different_cutoffs_are_a_protocol_error() -> None:
    protocol = _with_censoring(Censoring(data_cutoff_months=12), Censoring(data_cutoff_months=6))
    with pytest.raises(InputError, match="different data cut-offs"):
        efficacy_settings(protocol)  # type: ignore[arg-type]


def test_cutoff_after_every_date_changes_nothing() -> None:
    # the latest date in the data is 2024-08-19 (S3's PD): a cut-off after it keeps every
    # AVAL, CNSR and date; only a cut-off inside the follow-up can change an endpoint
    base = derive_adtte(_adsl(), _adrs())
    late = derive_adtte(_adsl(), _adrs(), EndpointOptions(data_cutoff=D("2024-09-02")))
    cols = ["USUBJID", "PARAMCD", "AVAL", "CNSR", "ADT"]
    # S3 was last known alive on 2024-09-01, before the cut-off: nothing moves
    assert base.select(cols).equals(late.select(cols))
    early = derive_adtte(_adsl(), _adrs(), EndpointOptions(data_cutoff=D("2024-08-18")))
    assert not base.select(cols).equals(early.select(cols))


def test_no_censoring_date_is_refused_when_the_protocol_loads(tmp_path: Path) -> None:
    """Both censoring dates turned off leaves a censored subject without a date: the protocol
    file is refused, naming the endpoint's censoring and both keys."""
    text = (PROTOCOLS / "NCT04011033.yaml").read_text()
    bad = text.replace("      at_last_known_alive: true", "      at_last_known_alive: false", 1)
    assert bad != text
    path = tmp_path / "no-date.yaml"
    path.write_text(bad)
    with pytest.raises(InputError) as err:
        load_protocol(path)
    message = str(err.value)
    assert "censoring" in message and "at_last_adequate_assessment" in message
    assert "at_last_known_alive" in message
    Censoring(at_last_adequate_assessment=False, at_last_known_alive=True)  # the seed's OS
