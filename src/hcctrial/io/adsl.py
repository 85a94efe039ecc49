"""ADSL: one row per subject, derived from the SDTM domains of a :class:`StudyData`.

The subject-level dates every later stage needs (CDISC ADaM IG v1.3, section 3.2, and the
ADaM "ADSL" variable names):

- ``TRTSDT`` / ``TRTEDT``: first / last exposure date (``DM.RFXSTDTC``/``RFXENDTC``, else the
  earliest / latest ``EX`` start / end);
- ``RANDDT``: randomization date (``DS`` row with ``DSDECOD = "RANDOMIZED"``);
- ``RFICDT``: informed consent (``DM.RFICDTC``);
- ``DTHDT``: death (``DM.DTHDTC``, else a ``DS`` row with ``DSDECOD = "DEATH"``);
- ``LSTALVDT``: last date known alive, the latest date of any record of the subject
  (DM, DS, EX, LB, VS, TR, TU, AE, RS), never after death;
- flags ``ENRLFL`` (in DM and not a screen failure), ``RANDFL``, ``SAFFL`` (any exposure),
  ``ITTFL`` (randomized, or enrolled where nothing is randomized).

Screen failures (``DM.ARMCD`` of ``SCRNFAIL`` / ``NOTASSGN``, SDTM IG v3.4 section 5.2) keep
their row with ``ENRLFL = "N"`` so the CONSORT flow can count them.
"""

from __future__ import annotations

import polars as pl

from hcctrial.errors import InputError
from hcctrial.io.study import StudyData

__all__ = ["NOT_ENROLLED_ARMCD", "derive_adsl"]

#: ARMCD values of subjects never assigned (SDTM IG v3.4, DM assumptions 4 and 5).
NOT_ENROLLED_ARMCD = ("SCRNFAIL", "NOTASSGN", "NOTTRT")

_DATE_COLUMNS = {
    "DS": ("DSSTDT",),
    "EX": ("EXSTDT", "EXENDT"),
    "LB": ("LBDT",),
    "VS": ("VSDT",),
    "TR": ("TRDT",),
    "TU": ("TUDT",),
    "AE": ("AESTDT", "AEENDT"),
    "RS": ("RSDT",),
    "DM": ("RFSTDT", "RFENDT", "RFXSTDT", "RFXENDT", "RFICDT"),
}


def _per_subject(df: pl.DataFrame, columns: tuple[str, ...], how: str, name: str) -> pl.DataFrame:
    present = [c for c in columns if c in df.columns and df.schema[c] == pl.Date]
    if not present:
        return pl.DataFrame(schema={"USUBJID": pl.Utf8, name: pl.Date})
    value = pl.min_horizontal(present) if how == "min" else pl.max_horizontal(present)
    agg = value.min() if how == "min" else value.max()
    return df.group_by("USUBJID").agg(agg.alias(name))


def _ds_date(data: StudyData, decod: str, name: str) -> pl.DataFrame:
    if "DS" not in data or "DSSTDT" not in data["DS"].columns:
        return pl.DataFrame(schema={"USUBJID": pl.Utf8, name: pl.Date})
    ds = data["DS"].filter(pl.col("DSDECOD").str.to_uppercase() == decod)
    return ds.group_by("USUBJID").agg(pl.col("DSSTDT").min().alias(name))


def derive_adsl(data: StudyData) -> pl.DataFrame:
    """Subject-level analysis table (see the module docstring for each variable's source).

    Raises :class:`InputError` when the study has no DM domain (ADSL's one row per subject
    comes from DM).
    """
    if "DM" not in data:
        raise InputError(
            "the study has no DM (demographics) domain",
            expected="dm.csv or dm.xpt: one row per subject with USUBJID and ARM",
        )
    dm = data["DM"]
    keep = [
        c
        for c in ("STUDYID", "USUBJID", "SITEID", "AGE", "SEX", "RACE", "ARMCD", "ARM", "ACTARM")
        if c in dm.columns
    ]
    dm_dates = {
        "RFXSTDT": "DM_TRTSDT",
        "RFXENDT": "DM_TRTEDT",
        "RFICDT": "RFICDT",
        "DTHDT": "DM_DTHDT",
    }
    adsl = dm.select(
        *keep,
        *(
            (pl.col(src) if src in dm.columns else pl.lit(None, dtype=pl.Date)).alias(target)
            for src, target in dm_dates.items()
        ),
    )
    if "ARM" not in adsl.columns:
        adsl = adsl.with_columns(pl.lit("All subjects").alias("ARM"))
    if "ARMCD" not in adsl.columns:
        adsl = adsl.with_columns(pl.lit(None, dtype=pl.Utf8).alias("ARMCD"))
    ex_first = (
        _per_subject(data["EX"], ("EXSTDT",), "min", "EX_TRTSDT")
        if "EX" in data
        else pl.DataFrame(schema={"USUBJID": pl.Utf8, "EX_TRTSDT": pl.Date})
    )
    ex_last = (
        _per_subject(data["EX"], ("EXSTDT", "EXENDT"), "max", "EX_TRTEDT")
        if "EX" in data
        else pl.DataFrame(schema={"USUBJID": pl.Utf8, "EX_TRTEDT": pl.Date})
    )
    last_dates = [
        _per_subject(data[d], cols, "max", "LAST")
        for d, cols in _DATE_COLUMNS.items()
        if d in data and "USUBJID" in data[d].columns
    ]
    last = (
        pl.concat(last_dates).group_by("USUBJID").agg(pl.col("LAST").max())
        if last_dates
        else pl.DataFrame(schema={"USUBJID": pl.Utf8, "LAST": pl.Date})
    )
    adsl = (
        adsl.join(ex_first, on="USUBJID", how="left")
        .join(ex_last, on="USUBJID", how="left")
        .join(_ds_date(data, "RANDOMIZED", "RANDDT"), on="USUBJID", how="left")
        .join(_ds_date(data, "DEATH", "DS_DTHDT"), on="USUBJID", how="left")
        .join(last, on="USUBJID", how="left")
        .with_columns(
            pl.coalesce("DM_TRTSDT", "EX_TRTSDT").alias("TRTSDT"),
            pl.coalesce("DM_TRTEDT", "EX_TRTEDT").alias("TRTEDT"),
            pl.coalesce("DM_DTHDT", "DS_DTHDT").alias("DTHDT"),
        )
        .with_columns(
            pl.when(pl.col("DTHDT").is_not_null())
            .then(pl.min_horizontal("LAST", "DTHDT"))
            .otherwise(pl.col("LAST"))
            .alias("LSTALVDT"),
            pl.when(pl.col("ARMCD").is_in(NOT_ENROLLED_ARMCD))
            .then(pl.lit("N"))
            .otherwise(pl.lit("Y"))
            .alias("ENRLFL"),
            pl.when(pl.col("RANDDT").is_not_null())
            .then(pl.lit("Y"))
            .otherwise(pl.lit("N"))
            .alias("RANDFL"),
            pl.when(pl.col("TRTSDT").is_not_null())
            .then(pl.lit("Y"))
            .otherwise(pl.lit("N"))
            .alias("SAFFL"),
        )
    )
    any_randomized = adsl.get_column("RANDFL").eq("Y").any()
    itt = pl.col("RANDFL") == "Y" if any_randomized else pl.col("ENRLFL") == "Y"
    adsl = adsl.with_columns(pl.when(itt).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("ITTFL"))
    helpers = ["DM_TRTSDT", "DM_TRTEDT", "EX_TRTSDT", "EX_TRTEDT", "DM_DTHDT", "DS_DTHDT", "LAST"]
    return adsl.drop(helpers).sort("USUBJID")
