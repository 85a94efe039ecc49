"""Each subject's dose level in a dose-escalation study, from the study data and the protocol.

The level comes from the first source that names it, in this order:

1. a ``DOSELVL`` column of the subject table (a level id or label, case-insensitive);
2. the subject's exposure (``EX``): the first ``EXDOSE``/``EXDOSU`` (by ``EXSTDTC``) equal to
   one level's dose (``Dose.value`` and unit; relative difference below 1e-6), when every
   level has a distinct fixed dose;
3. the actual arm, else the planned arm (``DM.ACTARM``/``ARM``): the one level whose label or
   id the arm text contains.

A subject no source places gets a null ``DOSELVL`` and a problem row (the subject is kept: its
DLT status is still listed, but it cannot be counted at a level).
"""

from __future__ import annotations

import polars as pl

from hcctrial.errors import Problem
from hcctrial.protocol import DoseLevel
from hcctrial.safety.syndromes import problems_frame

__all__ = ["derive_dose_level"]

_REL_TOL = 1e-6  # doses such as 1.0e8 cells written as 100000000.0 or 1E8 compare equal.


def _norm(text: object) -> str:
    return " ".join(str(text).casefold().split())


def _by_name(values: pl.Series, levels: list[DoseLevel]) -> list[str | None]:
    names = {_norm(lv.id): lv.id for lv in levels} | {_norm(lv.label): lv.id for lv in levels}
    return [None if v is None else names.get(_norm(v)) for v in values.to_list()]


def _by_arm(values: pl.Series, levels: list[DoseLevel]) -> list[str | None]:
    out: list[str | None] = []
    for v in values.to_list():
        if v is None:
            out.append(None)
            continue
        text = _norm(v)
        hits = {lv.id for lv in levels if _norm(lv.label) in text}
        if not hits:
            hits = {lv.id for lv in levels if f"({_norm(lv.id)})" in text or text == _norm(lv.id)}
        out.append(hits.pop() if len(hits) == 1 else None)
    return out


def _by_exposure(ex: pl.DataFrame, levels: list[DoseLevel]) -> pl.DataFrame:
    empty = pl.DataFrame(schema={"USUBJID": pl.Utf8, "_EXLVL": pl.Utf8})
    doses = [(lv.id, lv.dose.value, _norm(lv.dose.unit)) for lv in levels]
    if any(v is None for _, v, _ in doses) or len({(v, u) for _, v, u in doses}) < len(doses):
        return empty
    if not {"USUBJID", "EXDOSE"} <= set(ex.columns):
        return empty
    unit = pl.col("EXDOSU").cast(pl.Utf8) if "EXDOSU" in ex.columns else pl.lit(None, pl.Utf8)
    order = "EXSTDTC" if "EXSTDTC" in ex.columns else None
    df = ex.select(
        pl.col("USUBJID").cast(pl.Utf8),
        pl.col("EXDOSE").cast(pl.Float64, strict=False).alias("_D"),
        unit.alias("_U"),
        (pl.col(order).cast(pl.Utf8) if order else pl.lit("")).alias("_T"),
    )
    rows = []
    for s, d, u, t in df.iter_rows():
        for lid, value, lunit in doses:
            assert value is not None
            same_unit = u is None or _norm(u) == lunit
            if d is not None and same_unit and abs(d - value) <= _REL_TOL * value:
                rows.append((s, t or "", lid))
    if not rows:
        return empty
    found = pl.DataFrame(rows, schema=["USUBJID", "_T", "_EXLVL"], orient="row")
    return found.sort("USUBJID", "_T").group_by("USUBJID", maintain_order=True).first().drop("_T")


def derive_dose_level(
    subjects: pl.DataFrame,
    levels: list[DoseLevel],
    *,
    dm: pl.DataFrame | None = None,
    ex: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add ``DOSELVL`` (level id) and ``DOSELVLS`` (its source) to a one-row-per-subject table.

    Parameters
    ----------
    subjects
        One row per ``USUBJID`` (ADSL, or DM).
    levels
        The protocol's dose levels (``protocol.dose_levels``).
    dm, ex
        DM (for ``ACTARM``/``ARM``/``DOSELVL`` when ``subjects`` lacks them) and EX.

    Returns
    -------
    (subjects with ``DOSELVL``, ``DOSELVLS``), problems table (subjects without a level).
    """
    df = subjects.with_columns(pl.col("USUBJID").cast(pl.Utf8))
    if dm is not None:
        extra = [c for c in ("DOSELVL", "ACTARM", "ARM") if c in dm.columns and c not in df.columns]
        if extra:
            df = df.join(
                dm.select(pl.col("USUBJID").cast(pl.Utf8), *extra).unique("USUBJID", keep="first"),
                on="USUBJID",
                how="left",
            )
    n = df.height
    level: list[str | None] = [None] * n
    source: list[str | None] = [None] * n

    def fill(candidates: list[str | None], name: str) -> None:
        for i, c in enumerate(candidates):
            if level[i] is None and c is not None:
                level[i], source[i] = c, name

    if "DOSELVL" in df.columns:
        fill(_by_name(df["DOSELVL"].cast(pl.Utf8), levels), "DOSELVL")
    if ex is not None:
        found = df.select("USUBJID").join(_by_exposure(ex, levels), on="USUBJID", how="left")
        fill(found["_EXLVL"].to_list(), "EX.EXDOSE")
    for arm in ("ACTARM", "ARM"):
        if arm in df.columns:
            fill(_by_arm(df[arm].cast(pl.Utf8), levels), f"DM.{arm}")
    drop = [
        c for c in ("ACTARM", "ARM", "DOSELVL") if c in df.columns and c not in subjects.columns
    ]
    out = df.drop(drop, strict=False).with_columns(
        pl.Series("DOSELVL", level, pl.Utf8), pl.Series("DOSELVLS", source, pl.Utf8)
    )
    problems = [
        Problem(
            "dose level not known: subject not counted at any level",
            subject=s,
            expected="a DOSELVL column, an EXDOSE equal to a level's dose, or an arm naming "
            "one of " + ", ".join(lv.id for lv in levels),
        )
        for s, lv in zip(out["USUBJID"].to_list(), level, strict=True)
        if lv is None
    ]
    return out, problems_frame(problems, "DM", "kept without a dose level")
