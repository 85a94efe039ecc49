"""Performance status: ECOG (Oken 1982) and Karnofsky (KPS) conversion.

The ECOG scale: Oken MM, Creech RH, Tormey DC, et al. Toxicity and response criteria of the
Eastern Cooperative Oncology Group. Am J Clin Oncol 1982;5:649-655. Karnofsky: Karnofsky DA,
Burchenal JH, in MacLeod CM (ed.), Evaluation of Chemotherapeutic Agents, 1949, pp. 191-205.

The correspondence used is the conventional side-by-side table (KPS 100-90 -> ECOG 0, 80-70 ->
1, 60-50 -> 2, 40-30 -> 3, 20-10 -> 4, 0 -> 5), as printed alongside the two scales in most
protocols. It is a convention, not an identity: an empirical study of 5844 paired assessments
(Prasad KT et al., World J Clin Oncol 2018;9:140-147) found KPS 80-90 ~ ECOG 1 and 70 ~ ECOG 2
fit better. Where a protocol states a different table, encode its criterion on the scale it
uses (``kps`` or ``ecog``) rather than converting.
"""

from __future__ import annotations

import polars as pl

from hcctrial.clinical._check import col, number, strict
from hcctrial.errors import InputError

__all__ = ["ECOG_TO_KPS", "ecog_from_kps", "ecog_from_kps_expr", "kps_range_from_ecog"]

# ECOG grade -> (lowest, highest) KPS of the conventional table
ECOG_TO_KPS: dict[int, tuple[int, int]] = {
    0: (90, 100),
    1: (70, 80),
    2: (50, 60),
    3: (30, 40),
    4: (10, 20),
    5: (0, 0),
}


def ecog_from_kps(kps: int) -> int:
    """ECOG grade for a Karnofsky score (0-100 in steps of 10) by the conventional table.

    ``100, 90 -> 0``; ``80, 70 -> 1``; ``60, 50 -> 2``; ``40, 30 -> 3``; ``20, 10 -> 4``;
    ``0 -> 5`` (dead).
    """
    value = number("Karnofsky performance status", kps, low=0, high=100)
    if value != round(value) or int(value) % 10:
        raise InputError(
            "Karnofsky performance status is not a multiple of 10", value=kps, expected="0..100"
        )
    score = int(value)
    for ecog, (low, high) in ECOG_TO_KPS.items():
        if low <= score <= high:
            return ecog
    raise AssertionError(f"KPS {score} not covered by ECOG_TO_KPS")  # pragma: no cover


def kps_range_from_ecog(ecog: int) -> tuple[int, int]:
    """The (lowest, highest) Karnofsky scores that correspond to an ECOG grade (0-5).

    ECOG 0 -> (90, 100); 1 -> (70, 80); 2 -> (50, 60); 3 -> (30, 40); 4 -> (10, 20); 5 -> (0, 0).
    """
    value = number("ECOG performance status", ecog, low=0, high=5)
    if value != round(value):
        raise InputError(
            "ECOG performance status is not a whole number", value=ecog, expected="0..5"
        )
    return ECOG_TO_KPS[int(value)]


def ecog_from_kps_expr(kps: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`ecog_from_kps`; values not in 0, 10, ..., 100 raise when evaluated."""
    k = col(kps).cast(pl.Float64)
    ecog = (
        pl.when(k >= 90)
        .then(0)
        .when(k >= 70)
        .then(1)
        .when(k >= 50)
        .then(2)
        .when(k >= 30)
        .then(3)
        .when(k >= 10)
        .then(4)
        .when(k == 0)
        .then(5)
        .cast(pl.Int32)
    )
    bad = (k < 0) | (k > 100) | (k % 10 != 0) | k.is_nan()
    return strict(ecog.alias("ECOG"), [(bad, "KPS not in 0, 10, ..., 100", "0..100")], pl.Int32)
