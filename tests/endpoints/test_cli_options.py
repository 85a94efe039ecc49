"""``hcctrial endpoints --data-cutoff`` and ``--at-risk-months`` end to end on the two-arm study.

Dates by hand (``two_arm_study.py``): subjects are randomized a week apart from 2024-01-01 in
table order (E1 on 2024-01-01, E2 on 2024-01-08), AVAL = ADT - origin + 1. Cut-off
2024-09-01 is 244 days after 2024-01-01 (31 + 29 + 31 + 30 + 31 + 30 + 31 + 31, 2024 is leap).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from two_arm_study import write_study

from hcctrial.cli import main

PROTOCOL = Path(__file__).parent / "data" / "two_arm_protocol.yaml"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study(tmp_path_factory.mktemp("opts"))


def _row(out: Path, param: str, subject: str) -> dict[str, object]:
    adtte = pl.read_csv(out / "adtte.csv")
    return adtte.filter(
        (pl.col("PARAMCD") == param) & (pl.col("USUBJID") == f"TWOARM-{subject}")
    ).row(0, named=True)


def test_data_cutoff(study: Path, tmp_path: Path) -> None:
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "-f", "csv", "--data-cutoff", "2024-09-01"])  # fmt: skip
    assert code == 0
    # E1 alive at last contact day 400 (2025-02-04): OS censored at the cut-off, 244 + 1 = 245
    e1 = _row(tmp_path, "OS", "E1")
    assert (e1["AVAL"], e1["CNSR"], e1["CNSDTDSC"]) == (245, 1, "ALIVE AT DATA CUT-OFF")
    # E1 PFS: last scan day 224 (2024-08-12) is before the cut-off: unchanged, 225 censored
    assert (_row(tmp_path, "PFS", "E1")["AVAL"], _row(tmp_path, "PFS", "E1")["CNSR"]) == (225, 1)
    # E2 (origin 2024-01-08) dies on day 300 (2024-11-03), after the cut-off: OS censored at
    # 2024-09-01 = origin + 237 days -> 238; its PD on day 168 (2024-06-24) stays an event, 169
    e2 = _row(tmp_path, "OS", "E2")
    assert (e2["AVAL"], e2["CNSR"]) == (238, 1)
    assert (_row(tmp_path, "PFS", "E2")["AVAL"], _row(tmp_path, "PFS", "E2")["CNSR"]) == (169, 0)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["conventions"]["censoring"]["data_cutoff"] == "2024-09-01"
    assert meta["conventions"]["censoring"]["data_cutoff_rule"] == "given date"


def test_bad_cutoff_is_a_usage_error(study: Path, tmp_path: Path) -> None:
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "--data-cutoff", "1 Sept 2024"])  # fmt: skip
    assert code == 2


def test_numbers_at_risk_at_chosen_months(study: Path, tmp_path: Path) -> None:
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "-f", "csv", "--at-risk-months", "0,6"])  # fmt: skip
    assert code == 0
    nar = pl.read_csv(tmp_path / "numbers_at_risk.csv")
    assert sorted(set(nar["MONTH"].to_list())) == [0.0, 6.0]
    # OS at 6 months (day 182.6): the hand table's OS times >= 182.6 days, AVAL = day + 1:
    # experimental E1 401, E2 301, E3 351, E4 251, E6 381, E7 201, E8 201 -> 7 (E5 died day
    # 100); control C3 321, C4 261, C6 211, C7 221 -> 4
    os6 = nar.filter((pl.col("PARAMCD") == "OS") & (pl.col("MONTH") == 6.0))
    got = dict(zip(os6["ARM"].to_list(), os6["N_RISK"].to_list(), strict=True))
    assert got == {"TACE + iNKT": 7, "TACE alone": 4}


def test_best_response_judged_at_the_cutoff(study: Path, tmp_path: Path) -> None:
    # Confirmed responses without a cut-off: E1, E3, E6 (3/8) and C3 (1/8), each confirmed at
    # day 112. Cut-off 2024-05-01 (last randomization 2024-04-15): E1's confirmation on
    # 2024-04-22 (2024-01-01 + 112) is before it; E3's (2024-01-15 + 112 = 2024-05-06), E6's
    # (2024-02-05 + 112 = 2024-05-27) and C3's first PR (2024-03-11 + 56 = 2024-05-06) are
    # after it -> ORR 1/8 and 0/8.
    code = main(["endpoints", "-p", str(PROTOCOL), "-d", str(study), "-o", str(tmp_path),
                 "-f", "csv", "--data-cutoff", "2024-05-01"])  # fmt: skip
    assert code == 0
    by_arm = pl.read_csv(tmp_path / "endpoints_by_arm.csv")
    orr = by_arm.filter(pl.col("STATISTIC") == "ORR").sort("ARM")
    assert orr["X"].to_list() == [1, 0]  # "TACE + iNKT" sorts before "TACE alone"
    adrs = pl.read_csv(tmp_path / "ADRS.csv")
    assert adrs.filter(pl.col("PARAMCD") == "OVR")["ADT"].str.to_date().max() <= dt.date(2024, 5, 1)
