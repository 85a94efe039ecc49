"""Summaries of kinetic parameters across subjects, as CAR-T kinetics are reported.

Cmax and AUC are log-normally distributed across patients, so they are summarised by the
geometric mean and geometric CV% = 100 x sqrt(exp(s^2) - 1), s the SD of the log values
(Mueller KT et al., Blood 2017;130:2317, Table 2, for tisagenlecleucel); Tmax and Tlast by the
median and range. Values of 0 (no measurable sample) are left out of the geometric statistics
and counted in ``N0``.
"""

from __future__ import annotations

import polars as pl

__all__ = ["summarise"]


def _geo(name: str) -> list[pl.Expr]:
    x = pl.col(name).filter(pl.col(name) > 0)
    s = x.log().std(ddof=1)
    return [
        x.log().mean().exp().alias(f"{name}_GEOMEAN"),
        (100 * ((s**2).exp() - 1).sqrt()).alias(f"{name}_GEOCV"),
        pl.col(name).median().alias(f"{name}_MEDIAN"),
        pl.col(name).min().alias(f"{name}_MIN"),
        pl.col(name).max().alias(f"{name}_MAX"),
    ]


def summarise(table: pl.DataFrame) -> pl.DataFrame:
    """Per ``PARAMCD``: N, N0 (Cmax 0), geometric mean and CV% and median (range) of CMAX and
    AUCEND, median (range) of TMAX and TLAST, and the number still persisting."""
    return (
        table.group_by("PARAMCD", "AVALU", "AUCU")
        .agg(
            pl.len().alias("N"),
            (pl.col("CMAX") == 0).sum().alias("N0"),
            *_geo("CMAX"),
            *_geo("AUCEND"),
            pl.col("TMAX").median().alias("TMAX_MEDIAN"),
            pl.col("TMAX").min().alias("TMAX_MIN"),
            pl.col("TMAX").max().alias("TMAX_MAX"),
            pl.col("TLAST").median().alias("TLAST_MEDIAN"),
            pl.col("TLAST").max().alias("TLAST_MAX"),
            (pl.col("PERSISTFL") == "Y").sum().alias("N_PERSIST"),
        )
        .sort("PARAMCD")
    )
