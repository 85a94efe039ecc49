"""Helpers for the endpoints tests: reading reference CSVs and a 1e-6 relative comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DATA = Path(__file__).parent / "data"
REL = 1e-6


def read(name: str) -> pl.DataFrame:
    return pl.read_csv(DATA / name, null_values=["NA", ""])


def close(actual: Any, expected: Any, rel: float = REL) -> None:
    """Assert arrays agree to ``rel`` relative (R's NA/null == our NaN/None)."""
    a = np.atleast_1d(
        np.asarray([np.nan if v is None else v for v in np.atleast_1d(actual)], float)
    )
    e = np.atleast_1d(
        np.asarray([np.nan if v is None else v for v in np.atleast_1d(expected)], float)
    )
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.array_equal(np.isnan(a), np.isnan(e)), f"NA pattern differs:\n{a}\n{e}"
    ok = ~np.isnan(e)
    np.testing.assert_allclose(a[ok], e[ok], rtol=rel, atol=1e-300)
