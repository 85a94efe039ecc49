"""SDTM tables from the simulator's rows: fixed column order and types, STUDYID, DOMAIN and
``--SEQ`` added (SDTM IG v3.4 section 4.1.2), every domain present even when empty."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["SCHEMAS", "frames_from_rows"]

S: pl.DataType = pl.Utf8()
F: pl.DataType = pl.Float64()
INT: pl.DataType = pl.Int64()

#: Column order and types of each simulated domain (SDTM IG v3.4 variable names).
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "DM": {
        "USUBJID": S,
        "SUBJID": S,
        "RFSTDTC": S,
        "RFENDTC": S,
        "RFXSTDTC": S,
        "RFXENDTC": S,
        "RFICDTC": S,
        "DTHDTC": S,
        "DTHFL": S,
        "SITEID": S,
        "AGE": F,
        "AGEU": S,
        "SEX": S,
        "RACE": S,
        "ARMCD": S,
        "ARM": S,
        "ACTARMCD": S,
        "ACTARM": S,
        "COUNTRY": S,
    },
    "IE": {
        "USUBJID": S,
        "IETESTCD": S,
        "IETEST": S,
        "IECAT": S,
        "IEORRES": S,
        "IESTRESC": S,
        "IEDTC": S,
    },
    "DS": {"USUBJID": S, "DSTERM": S, "DSDECOD": S, "DSCAT": S, "DSSTDTC": S},
    "EX": {
        "USUBJID": S,
        "EXTRT": S,
        "EXCAT": S,
        "EXDOSE": F,
        "EXDOSU": S,
        "EXROUTE": S,
        "VISIT": S,
        "EXSTDTC": S,
        "EXENDTC": S,
    },
    "LB": {
        "USUBJID": S,
        "LBTESTCD": S,
        "LBTEST": S,
        "LBCAT": S,
        "LBORRES": S,
        "LBORRESU": S,
        "LBSTRESN": F,
        "LBSTRESU": S,
        "LBSTNRLO": F,
        "LBSTNRHI": F,
        "VISIT": S,
        "LBDTC": S,
    },
    "VS": {
        "USUBJID": S,
        "VSTESTCD": S,
        "VSTEST": S,
        "VSSTRESN": F,
        "VSSTRESU": S,
        "VISIT": S,
        "VSTPTNUM": F,
        "VSDTC": S,
    },
    "AE": {
        "USUBJID": S,
        "AESEQ": INT,
        "AETERM": S,
        "AEDECOD": S,
        "AEBODSYS": S,
        "AECAT": S,
        "AETOXGR": S,
        "AESER": S,
        "AEREL": S,
        "AEOUT": S,
        "AEDLT": S,
        "AESTDTC": S,
        "AEENDTC": S,
    },
    "TU": {
        "USUBJID": S,
        "TULNKID": S,
        "TUSTRESC": S,
        "TULOC": S,
        "TUMETHOD": S,
        "VISITNUM": F,
        "VISIT": S,
        "TUDTC": S,
    },
    "TR": {
        "USUBJID": S,
        "TRGRPID": S,
        "TRLNKID": S,
        "TRTESTCD": S,
        "TRTEST": S,
        "TRSTRESC": S,
        "TRSTRESN": F,
        "TRSTRESU": S,
        "VISITNUM": F,
        "VISIT": S,
        "TRDTC": S,
    },
    # baseline disease characteristics as supplemental qualifiers of DM (SDTM IG v3.4 8.4)
    "SUPPDM": {
        "USUBJID": S,
        "RDOMAIN": S,
        "IDVAR": S,
        "IDVARVAL": S,
        "QNAM": S,
        "QLABEL": S,
        "QVAL": S,
        "QORIG": S,
    },
}


def frames_from_rows(rows: dict[str, list[dict[str, Any]]], study: str) -> dict[str, pl.DataFrame]:
    """One polars table per domain: ``STUDYID``, ``DOMAIN``, the columns of :data:`SCHEMAS`, and
    ``--SEQ`` numbered per subject in date order (AE keeps its own AESEQ)."""
    out: dict[str, pl.DataFrame] = {}
    for name, schema in SCHEMAS.items():
        df = (
            pl.DataFrame(rows.get(name, []), schema=schema, orient="row")
            if rows.get(name)
            else pl.DataFrame(schema=schema)
        )
        if name.startswith("SUPP"):
            out[name] = df.select(pl.lit(study).alias("STUDYID"), *df.columns)
            continue
        df = df.with_columns(pl.lit(study).alias("STUDYID"), pl.lit(name).alias("DOMAIN"))
        date_col = next((c for c in df.columns if c.endswith("DTC")), None)
        if name not in ("DM", "AE") and date_col is not None:
            df = df.sort("USUBJID", date_col, maintain_order=True).with_columns(
                pl.int_range(1, pl.len() + 1).over("USUBJID").cast(pl.Int64).alias(f"{name}SEQ")
            )
        lead = ["STUDYID", "DOMAIN", "USUBJID"]
        if f"{name}SEQ" in df.columns:
            lead.append(f"{name}SEQ")
        out[name] = df.select(*lead, *(c for c in df.columns if c not in lead))
    return out
