"""SDTM domains (``StudyData``) -> patient records.

Mapping (documented in ``docs/readme/screening.md``):

========  ======================================================================================
domain    what it gives
========  ======================================================================================
DM        ``USUBJID``; ``SEX`` (M/F); ``BRTHDTC``; ``AGE`` (years, used when BRTHDTC is empty)
LB        ``LBTESTCD``, ``LBSTRESN``/``LBSTRESU`` (else ``LBORRES``/``LBORRESU``),
          ``LBSTNRLO``/``LBSTNRHI`` (else ``LBORNRLO``/``LBORNRHI``), ``LBDTC``
VS        ``VSTESTCD`` WEIGHT (kg) and HEIGHT (cm), the most recent ``VSSTRESN``
QS        ``QSTESTCD`` ECOG101 / KPS101 (CDISC QRS ECOG and Karnofsky), or ECOG / KPS, ``QSSTRESN``
SC        hcctrial convention: ``SCTESTCD`` = a vocabulary name (``bclc_stage``, ``gpc3_ihc``,
          ``measurable_lesions`` ...), ``SCSTRESC``/``SCSTRESN``
MH        ``MHDECOD`` (else ``MHTERM``) matched to a vocabulary condition by name or by the
          MedDRA preferred terms in :data:`MEDDRA_TO_CONDITION`; ``MHSTDTC``, ``MHENDTC``,
          ``MHENRF``/``MHENRTPT`` ONGOING
CM        ``CMCAT`` if it is a vocabulary category, else ``CMDECOD``/``CMTRT`` via
          :data:`DRUG_CATEGORY`; ``CMSTDTC``, ``CMENDTC``, ``CMENRF`` ONGOING
PR, EX    ``PRCAT``/``EXCAT`` if a vocabulary category, else ``PRDECOD``/``PRTRT`` via
          :data:`PROCEDURE_CATEGORY`; ``--STDTC``, ``--ENDTC``
========  ======================================================================================

A subject with MH, CM or PR rows has a collected history (absent categories never happened);
a subject in DM with none of them has an uncollected history (unknown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from hcctrial.eligibility.record import PatientRecord, mark_duplicates, record_from_dict
from hcctrial.errors import InputError

__all__ = ["DRUG_CATEGORY", "MEDDRA_TO_CONDITION", "PROCEDURE_CATEGORY", "records_from_sdtm"]

# MedDRA preferred terms (MedDRA v26, lower case) -> vocabulary conditions/events.
MEDDRA_TO_CONDITION: dict[str, str] = {
    "hepatic encephalopathy": "hepatic_encephalopathy",
    "hiv infection": "hiv",
    "chronic hepatitis b": "hbv_active",
    "hepatitis b": "hbv_active",
    "chronic hepatitis c": "hcv_active",
    "hepatitis c": "hcv_active",
    "chronic obstructive pulmonary disease": "copd",
    "interstitial lung disease": "interstitial_lung_disease",
    "pulmonary embolism": "pulmonary_embolism",
    "gastric ulcer": "gastric_ulcer",
    "gastrointestinal haemorrhage": "gi_bleeding",
    "gastrointestinal hemorrhage": "gi_bleeding",
    "myocardial infarction": "myocardial_infarction",
    "angina unstable": "unstable_angina",
    "cardiac failure": "heart_failure_severe",
    "liver transplant": "organ_transplant",
}
# Drugs met in advanced HCC (generic names, lower case) -> therapy category.
DRUG_CATEGORY: dict[str, str] = {
    **dict.fromkeys(
        [
            "sorafenib",
            "lenvatinib",
            "regorafenib",
            "cabozantinib",
            "ramucirumab",
            "bevacizumab",
            "apatinib",
            "donafenib",
        ],
        "targeted_therapy",
    ),
    **dict.fromkeys(
        [
            "atezolizumab",
            "nivolumab",
            "pembrolizumab",
            "durvalumab",
            "tremelimumab",
            "ipilimumab",
            "camrelizumab",
            "sintilimab",
            "tislelizumab",
            "toripalimab",
        ],
        "immunotherapy",
    ),
    **dict.fromkeys(
        [
            "doxorubicin",
            "epirubicin",
            "oxaliplatin",
            "cisplatin",
            "fluorouracil",
            "capecitabine",
            "gemcitabine",
            "mitomycin",
            "folfox",
        ],
        "chemotherapy",
    ),
    **dict.fromkeys(
        ["prednisone", "prednisolone", "methylprednisolone", "dexamethasone", "hydrocortisone"],
        "systemic_steroid",
    ),
}
PROCEDURE_CATEGORY: dict[str, str] = {
    **dict.fromkeys(
        [
            "tace",
            "tae",
            "transarterial chemoembolisation",
            "transarterial chemoembolization",
            "transarterial embolization",
            "radiofrequency ablation",
            "microwave ablation",
            "haic",
            "hepatic arterial infusion chemotherapy",
            "ablation",
            "tare",
        ],
        "interventional_therapy",
    ),
    **dict.fromkeys(["hepatectomy", "liver resection", "resection"], "surgery"),
    **dict.fromkeys(["radiotherapy", "sbrt", "stereotactic body radiotherapy"], "radiotherapy"),
}
_QS = {"ECOG101": "ecog", "ECOG": "ecog", "KPS101": "kps", "KPS": "kps"}


def _get(data: Any, name: str) -> pl.DataFrame | None:
    try:
        df = data[name] if isinstance(data, Mapping) else getattr(data, name.lower(), None)
    except KeyError:
        return None
    if df is None:
        return None
    if not isinstance(df, pl.DataFrame):
        df = pl.from_pandas(df)
    return df


def _col(df: pl.DataFrame, *names: str) -> pl.Expr:
    present = [n for n in names if n in df.columns]
    if not present:
        return pl.lit(None)
    return pl.coalesce([pl.col(n) for n in present])


def _rows(df: pl.DataFrame | None, **cols: tuple[str, ...]) -> list[dict[str, Any]]:
    if df is None or df.is_empty():
        return []
    return df.select(
        pl.col("USUBJID").cast(pl.Utf8), *[_col(df, *names).alias(k) for k, names in cols.items()]
    ).to_dicts()


def _ongoing(flag: object) -> bool:
    return str(flag or "").upper() in ("ONGOING", "CONTINUING")


def records_from_sdtm(data: Any, *, today: date | None = None) -> list[PatientRecord]:
    """Patient records from SDTM domains (a ``StudyData`` or a dict of domain -> DataFrame).

    Raises :class:`InputError` when DM is missing or has no ``USUBJID``; everything else is
    reported per subject as record problems.
    """
    from hcctrial.protocol.vocabulary import CATEGORIES, CONDITIONS

    dm = _get(data, "DM")
    if dm is None or "USUBJID" not in dm.columns:
        raise InputError(
            "SDTM DM domain with USUBJID is required",
            column="USUBJID",
            expected="DM with one row per subject",
        )
    drafts: dict[str, dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    for row in _rows(dm, SEX=("SEX",), BRTHDTC=("BRTHDTC",), AGE=("AGE",)):
        draft = {
            "id": row["USUBJID"],
            "sex": row["SEX"],
            "birth_date": row["BRTHDTC"] or None,
            "age": row["AGE"] if not row["BRTHDTC"] else None,
            "findings": {},
            "labs": [],
        }
        order.append(draft)
        drafts.setdefault(row["USUBJID"], draft)

    def draft_of(pid: str) -> dict[str, Any]:
        if pid not in drafts:
            drafts[pid] = {"id": pid, "findings": {}, "labs": []}
            order.append(drafts[pid])
        return drafts[pid]

    for r in _rows(
        _get(data, "LB"),
        CODE=("LBTESTCD",),
        VALUE=("LBSTRESN", "LBORRES"),
        UNIT=("LBSTRESU", "LBORRESU"),
        HI=("LBSTNRHI", "LBORNRHI"),
        LO=("LBSTNRLO", "LBORNRLO"),
        DTC=("LBDTC",),
    ):
        value = r["VALUE"]
        if isinstance(value, str):  # text that is not a number is reported by record_from_dict
            with contextlib.suppress(ValueError):
                value = float(value)
        draft_of(r["USUBJID"])["labs"].append(
            {
                "code": r["CODE"],
                "value": value,
                "unit": r["UNIT"],
                "date": r["DTC"],
                "uln": _num(r["HI"]),
                "lln": _num(r["LO"]),
            }
        )
    latest: dict[tuple[str, str], str] = {}
    for r in _rows(_get(data, "VS"), CODE=("VSTESTCD",), VALUE=("VSSTRESN",), DTC=("VSDTC",)):
        key = {"WEIGHT": "weight_kg", "HEIGHT": "height_cm"}.get(str(r["CODE"]).upper())
        if key and str(r["DTC"] or "") >= latest.get((r["USUBJID"], key), ""):
            latest[(r["USUBJID"], key)] = str(r["DTC"] or "")
            draft_of(r["USUBJID"])[key] = r["VALUE"]
    for r in _rows(_get(data, "QS"), CODE=("QSTESTCD",), VALUE=("QSSTRESN",), DTC=("QSDTC",)):
        key = _QS.get(str(r["CODE"]).upper())
        if key and str(r["DTC"] or "") >= latest.get((r["USUBJID"], key), ""):
            latest[(r["USUBJID"], key)] = str(r["DTC"] or "")
            value = r["VALUE"]
            draft_of(r["USUBJID"])["findings"][key] = (
                int(value) if isinstance(value, float) and value.is_integer() else value
            )
    for r in _rows(_get(data, "SC"), CODE=("SCTESTCD",), C=("SCSTRESC",), N=("SCSTRESN",)):
        finding = str(r["CODE"]).lower()
        value = r["N"] if r["N"] is not None else r["C"]
        if isinstance(value, str) and value.upper() in ("Y", "N", "TRUE", "FALSE"):
            value = value.upper() in ("Y", "TRUE")
        draft_of(r["USUBJID"])["findings"][finding] = value
    for r in _rows(
        _get(data, "MH"),
        TERM=("MHDECOD", "MHTERM"),
        ST=("MHSTDTC",),
        EN=("MHENDTC",),
        ENRF=("MHENRF", "MHENRTPT"),
    ):
        d = draft_of(r["USUBJID"])
        d.setdefault("conditions", [])
        d.setdefault("therapies", [])
        term = str(r["TERM"] or "").strip().lower()
        name: str | None = (
            term.replace(" ", "_")
            if term.replace(" ", "_") in set(CONDITIONS) | set(CATEGORIES)
            else (MEDDRA_TO_CONDITION.get(term))
        )
        if name:
            d["conditions"].append(
                {
                    "name": name,
                    "onset": r["ST"] or None,
                    "end": r["EN"] or None,
                    "ongoing": True if _ongoing(r["ENRF"]) else None,
                }
            )
    for domain, table in (
        ("CM", DRUG_CATEGORY),
        ("PR", PROCEDURE_CATEGORY),
        ("EX", PROCEDURE_CATEGORY),
    ):
        p = domain
        for r in _rows(
            _get(data, domain),
            CAT=(f"{p}CAT",),
            TRT=(f"{p}DECOD", f"{p}TRT"),
            ST=(f"{p}STDTC",),
            EN=(f"{p}ENDTC",),
            ENRF=(f"{p}ENRF",),
        ):
            d = draft_of(r["USUBJID"])
            d.setdefault("conditions", [])
            d.setdefault("therapies", [])
            cat = str(r["CAT"] or "").strip().lower()
            category = cat if cat in CATEGORIES else table.get(str(r["TRT"] or "").strip().lower())
            if category:
                d["therapies"].append(
                    {
                        "category": category,
                        "start": r["ST"] or None,
                        "end": r["EN"] or None,
                        "ongoing": _ongoing(r["ENRF"]),
                        "name": r["TRT"],
                    }
                )
    records = [
        record_from_dict(d, file="SDTM", row=i, today=today) for i, d in enumerate(order, start=1)
    ]
    mark_duplicates(records, file="SDTM DM")
    return records


def _num(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
