"""``sort_rows`` (one integer key) orders rows exactly as ``DataFrame.sort``."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hcctrial.response.prepare import attach_names, group_rows, sort_rows


def _frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    text = pl.Series(rng.choice(["T10", "T2", "", "NEW1", "t1"], n)).replace("", None)
    return pl.DataFrame(
        {
            "sid": rng.integers(0, 7, n).astype(np.uint32),
            "lesion": text.cast(pl.Categorical),
            "text": text,
            "visit": rng.choice([1.0, 2.0, 10.0, 2.5], n),
            "row": np.arange(n),
        }
    ).with_columns(pl.when(pl.col("sid") == 3).then(None).otherwise(pl.col("visit")).alias("visit"))


@pytest.mark.parametrize("nulls_last", [False, True])
@pytest.mark.parametrize(
    "by", [["sid", "lesion", "visit"], ["text", "visit"], ["visit", "sid"], ["lesion"]]
)
def test_sort_rows_matches_dataframe_sort(by: list[str], nulls_last: bool) -> None:
    df = _frame(2000, 7)
    expected = df.sort(by, nulls_last=nulls_last, maintain_order=True)
    assert sort_rows(df, by, nulls_last=nulls_last).equals(expected)


def test_sort_rows_falls_back_when_the_key_overflows() -> None:
    n = 3000
    df = pl.DataFrame({"a": np.arange(n)[::-1], "b": np.arange(n), "c": np.arange(n)})
    wide = df.with_columns(
        (pl.col("a") * 7).alias("d"), (pl.col("b") * 3).alias("e"), (pl.col("c") + 1).alias("f")
    )
    by = ["a", "b", "c", "d", "e", "f"]  # 3002**6 > 2**63
    assert sort_rows(wide, by).equals(wide.sort(by))


def test_attach_names_gathers_by_sid() -> None:
    subjects = pl.DataFrame(
        {"USUBJID": ["A", "B"], "RSEVAL": ["", "R1"], "RSEVALID": ["", ""]}
    ).with_row_index("_SID")
    out = attach_names(pl.DataFrame({"_SID": [1, 0, 1]}, schema={"_SID": pl.UInt32}), subjects)
    assert out["USUBJID"].to_list() == ["B", "A", "B"]
    assert out["RSEVAL"].to_list() == ["R1", "", "R1"]


def test_group_rows_keeps_the_order_of_first_rows() -> None:
    df = pl.DataFrame({"sid": [3, 1, 3, 2, 1], "v": [1.0, 1.0, 1.0, 2.0, 1.0]})
    got = group_rows(df, ["sid", "v"], pl.len().alias("n"))
    assert got.rows() == [(3, 1.0, 2), (1, 1.0, 2), (2, 2.0, 1)]
