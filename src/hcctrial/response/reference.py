"""Per-subject dates that best overall response needs: the reference start and new therapy.

RECIST 1.1 (Eisenhauer et al. 2009, section 4.4.3) measures the minimum duration of stable
disease "from the start of treatment" and leaves the exact reference to the protocol; hcctrial
takes it from the SDTM domains as the protocol names it:

========================  ==================================================================
reference                 date (first non-null wins)
========================  ==================================================================
``first-infusion``        ``DM.RFXSTDT`` (first exposure), else the earliest ``EX.EXSTDT``
``first-dose``            same as ``first-infusion``
``randomization``         earliest ``DS.DSSTDT`` with ``DSDECOD = "RANDOMIZED"``
``first-tace``            earliest ``EX.EXSTDT`` whose ``EXTRT`` names a chemoembolization /
                          embolization (``TACE``, ``TAE``, ``CHEMOEMBOLI``, ``EMBOLI``)
``enrolment``             ``DM.RFSTDT`` (SDTM reference start), else ``DS`` ``ENROLLED``
``baseline-scan``         none: the baseline tumour assessment date is used (``BASEDT``)
========================  ==================================================================

New anticancer therapy (RECIST 1.1 section 4.4.3; FDA 2018 guidance, Table 1): the earliest
``CM.CMSTDT`` of a record whose ``CMCAT`` or ``CMSCAT`` says ``ANTICANCER`` / ``ANTI-CANCER`` /
``ANTINEOPLASTIC`` and that starts after the reference start; assessments after it are not used.
"""

from __future__ import annotations

import polars as pl

from hcctrial.errors import InputError

__all__ = ["REFERENCES", "derive_anticancer_start", "derive_reference_start"]

REFERENCES = (
    "first-infusion",
    "first-dose",
    "randomization",
    "first-tace",
    "enrolment",
    "baseline-scan",
)

_TACE = r"\bTACE\b|\bTAE\b|CHEMOEMBOLI|EMBOLI"
_ANTICANCER = r"ANTI-?CANCER|ANTINEOPLASTIC"

_EMPTY = pl.Schema({"USUBJID": pl.Utf8, "REFDT": pl.Date})


def _date(df: pl.DataFrame, dt: str, dtc: str) -> pl.Expr:
    """The ``--DT`` date column when :func:`hcctrial.io.read_study` made it, else ``--DTC``."""
    if dt in df.columns and df.schema[dt] == pl.Date:
        return pl.col(dt)
    if dtc in df.columns:
        return pl.col(dtc).cast(pl.Utf8).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return pl.lit(None, pl.Date)


def _first(df: pl.DataFrame | None, dt: str, dtc: str, where: pl.Expr | None) -> pl.DataFrame:
    if df is None or "USUBJID" not in df.columns:
        return pl.DataFrame(schema=_EMPTY)
    d = df if where is None else df.filter(where)
    return (
        d.select(pl.col("USUBJID").cast(pl.Utf8), _date(d, dt, dtc).alias("REFDT"))
        .group_by("USUBJID")
        .agg(pl.col("REFDT").min())
    )


def _text(df: pl.DataFrame | None, column: str) -> pl.Expr:
    if df is None or column not in df.columns:
        return pl.lit("", pl.Utf8)
    return pl.col(column).cast(pl.Utf8).fill_null("").str.to_uppercase()


def derive_reference_start(
    reference: str,
    dm: pl.DataFrame | None = None,
    ex: pl.DataFrame | None = None,
    ds: pl.DataFrame | None = None,
) -> pl.DataFrame | None:
    """``USUBJID, REFDT``: the reference start of each subject (see the module table).

    Returns ``None`` for ``baseline-scan`` (the response engine then uses the baseline
    assessment date). Subjects without the date are listed with a null ``REFDT`` when they are
    in DM, so that the best-response step reports them instead of silently using another date.

    Raises
    ------
    InputError
        Unknown reference, or the domain the reference needs is absent.
    """
    ref = reference.strip().lower()
    if ref not in REFERENCES:
        raise InputError(
            "unknown reference start for the minimum SD duration",
            value=reference,
            expected=" | ".join(REFERENCES),
        )
    if ref == "baseline-scan":
        return None
    need = {
        "first-infusion": ("DM or EX", dm is not None or ex is not None),
        "first-dose": ("DM or EX", dm is not None or ex is not None),
        "randomization": ("DS", ds is not None),
        "first-tace": ("EX", ex is not None),
        "enrolment": ("DM or DS", dm is not None or ds is not None),
    }
    domain, present = need[ref]
    if not present:
        raise InputError(
            f"reference start {ref!r} needs the {domain} domain, which the study lacks",
            value=ref,
            expected=f"{domain} in the study folder, or --reference baseline-scan",
        )
    if ref in ("first-infusion", "first-dose"):
        parts = [_first(dm, "RFXSTDT", "RFXSTDTC", None), _first(ex, "EXSTDT", "EXSTDTC", None)]
    elif ref == "randomization":
        parts = [_first(ds, "DSSTDT", "DSSTDTC", _text(ds, "DSDECOD") == "RANDOMIZED")]
    elif ref == "first-tace":
        parts = [_first(ex, "EXSTDT", "EXSTDTC", _text(ex, "EXTRT").str.contains(_TACE))]
    else:
        parts = [
            _first(dm, "RFSTDT", "RFSTDTC", None),
            _first(ds, "DSSTDT", "DSSTDTC", _text(ds, "DSDECOD") == "ENROLLED"),
        ]
    subjects = [p.select("USUBJID") for p in parts]
    if dm is not None and "USUBJID" in dm.columns:
        subjects.append(dm.select(pl.col("USUBJID").cast(pl.Utf8)))
    out = pl.concat(subjects).unique()
    for i, part in enumerate(parts):
        out = out.join(part.rename({"REFDT": f"_R{i}"}), on="USUBJID", how="left")
    return out.select(
        "USUBJID", pl.coalesce([f"_R{i}" for i in range(len(parts))]).alias("REFDT")
    ).sort("USUBJID")


def derive_anticancer_start(
    cm: pl.DataFrame | None, reference_start: pl.DataFrame | None = None
) -> pl.DataFrame | None:
    """``USUBJID, NACTDT``: the first new anticancer therapy after the reference start.

    ``None`` when there is no CM domain or no anticancer record in it.
    """
    if cm is None or "USUBJID" not in cm.columns:
        return None
    is_anticancer = _text(cm, "CMCAT").str.contains(_ANTICANCER) | _text(cm, "CMSCAT").str.contains(
        _ANTICANCER
    )
    starts = cm.filter(is_anticancer).select(
        pl.col("USUBJID").cast(pl.Utf8), _date(cm, "CMSTDT", "CMSTDTC").alias("NACTDT")
    )
    if reference_start is not None:
        starts = starts.join(reference_start, on="USUBJID", how="left").filter(
            pl.col("REFDT").is_null() | (pl.col("NACTDT") > pl.col("REFDT"))
        )
    starts = starts.filter(pl.col("NACTDT").is_not_null())
    if starts.is_empty():
        return None
    return starts.group_by("USUBJID").agg(pl.col("NACTDT").min()).sort("USUBJID")
