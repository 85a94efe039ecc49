"""Reported adverse events: collection window, treatment-emergent flag, incidence, SAEs.

The pipeline is three derivations over SDTM tables (admiral naming):

1. :func:`derive_subject_anchors` -- per subject the dates a protocol's AE window counts from
   (consent, enrolment, PBMC collection, first TACE, first and last infusion, last dose,
   randomization, withdrawal), from DM, DS, EX and PR.
2. :func:`derive_ae_window` -- per subject the window ``[AEWSTDT, AEWENDT]`` of a protocol's
   :class:`~hcctrial.protocol.AEWindow`: from the ``start`` anchor to ``end_days_after`` days
   after the ``end_after`` anchor; ended at withdrawal when ``ends_at_withdrawal``; for a
   participant withdrawn before the ``end_after`` anchor happened (never infused), to
   ``untreated_days`` days after the start anchor (the IL1RAP CAR-T record: "12 months after
   infusion ... 28 days after the procedure for those withdrawn").
3. :func:`derive_treatment_emergent` -- ``TRTEMFL`` (onset within the window), numeric
   ``AETOXGR``, the relatedness group ``AERELGR``, and a problems table (grades outside 1-5,
   onset before consent, end before onset, unknown relatedness, missing onset).

:func:`ae_incidence` then counts subjects (not events) by SOC and preferred term and worst
grade, per arm, with the arm's subjects as the denominator (ICH E3 section 12.2.2; FDA
"Premarketing risk assessment", 2005: incidence is subjects with at least one event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from hcctrial.dates import derive_date
from hcctrial.errors import InputError
from hcctrial.io import PROBLEM_SCHEMA
from hcctrial.protocol import AEWindow

__all__ = [
    "ANCHOR_COLUMNS",
    "AeDerivation",
    "ae_incidence",
    "derive_ae_window",
    "derive_subject_anchors",
    "derive_treatment_emergent",
    "serious_adverse_events",
    "worst_grade_per_subject",
]

#: protocol anchor name -> anchor date column of :func:`derive_subject_anchors`
ANCHOR_COLUMNS = {
    "consent": "CONSDT",
    "enrolment": "ENRLDT",
    "pbmc-collection": "PBMCDT",
    "first-tace": "TACEDT",
    "first-infusion": "TRTSDT",
    "last-infusion": "TRTEDT",
    "last-dose": "LSTDOSDT",
    "randomization": "RANDDT",
}
_CELL = r"(?i)CELL|CAR[- ]?T|CAR[- ]?NK|\bNK\b|\bCIK\b|\bTIL\b|INKT"
_TACE = r"(?i)\bTACE\b|CHEMOEMBOLI"
_PBMC = r"(?i)PBMC|APHERESIS|LEUKAPHERESIS"
# Relatedness as the usual two groups: "possibly or more" is related (the convention of the
# protocol DLT attribution "possibly-related-or-more" and of CDISC AEREL examples).
_RELATED = {"RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED",
            "POSSIBLE", "PROBABLE", "DEFINITE", "Y", "YES"}  # fmt: skip
_NOT_RELATED = {"NOT RELATED", "UNLIKELY RELATED", "UNRELATED", "UNLIKELY", "N", "NO", "NONE"}


@dataclass(frozen=True)
class AeDerivation:
    """The AE table with derived columns, and the problems found (rows are never dropped)."""

    ae: pl.DataFrame
    problems: pl.DataFrame


def _frame(df: Any, name: str) -> pl.DataFrame:
    if isinstance(df, pl.DataFrame):
        return df
    try:
        return pl.from_pandas(df)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a polars or pandas DataFrame") from None


def _dates(df: pl.DataFrame, dtc: str) -> pl.DataFrame:
    """Ensure the ``--DT`` date of a ``--DTC`` column (first-day imputation, hcctrial.dates)."""
    dt = dtc[:-1]
    if dtc in df.columns and (dt not in df.columns or df.schema[dt] != pl.Date):
        df = derive_date(df.with_columns(pl.col(dtc).cast(pl.String)), dtc)
    return df


def _first(df: pl.DataFrame | None, pattern: str, text_cols: tuple[str, ...], dtc: str, name: str,
           last: bool = False) -> pl.DataFrame:  # fmt: skip
    """Per subject the first (or last) date of rows whose text columns match ``pattern``."""
    empty = pl.DataFrame(schema={"USUBJID": pl.String, name: pl.Date})
    if df is None or dtc not in df.columns:
        return empty
    cols = [c for c in text_cols if c in df.columns]
    if not cols:
        return empty
    df = _dates(df, dtc)
    hit = pl.any_horizontal([pl.col(c).cast(pl.String).str.contains(pattern) for c in cols])
    agg = pl.col(dtc[:-1]).max() if last else pl.col(dtc[:-1]).min()
    return df.filter(hit.fill_null(False)).group_by("USUBJID").agg(agg.alias(name))


def derive_subject_anchors(
    dm: Any, *, ds: Any = None, ex: Any = None, pr: Any = None
) -> pl.DataFrame:
    """Per subject the dates an AE window can count from.

    ``CONSDT`` DM.RFICDTC (else DS "INFORMED CONSENT OBTAINED"); ``ENRLDT`` DS "ENROLLED"
    (else DM.RFSTDTC, the SDTM reference start); ``PBMCDT`` first EX/PR/DS record naming PBMC
    or apheresis; ``TACEDT`` first EX/PR record naming TACE or chemoembolisation; ``TRTSDT``/
    ``TRTEDT`` first/last cell-therapy EX record (EXCAT or EXTRT naming cells, CAR-T, NK, CIK,
    TIL, iNKT; else DM.RFXSTDTC/RFXENDTC); ``FSTDOSDT`` first study treatment of any kind
    (the earliest of the first EX record, the first TACE and ``TRTSDT``); ``LSTDOSDT`` last EX
    record of any treatment;
    ``RANDDT`` DS "RANDOMIZED"; ``WDDT`` DS disposition event other than COMPLETED or DEATH.
    """
    dm = _frame(dm, "DM")
    for c in ("RFICDTC", "RFSTDTC", "RFXSTDTC", "RFXENDTC"):
        dm = _dates(dm, c)
    ds = None if ds is None else _dates(_frame(ds, "DS"), "DSSTDTC")
    ex = None if ex is None else _frame(ex, "EX")
    pr = None if pr is None else _frame(pr, "PR")

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in dm.columns else pl.lit(None, pl.Date)

    out = dm.select(
        "USUBJID",
        col("RFICDT").alias("_cons"),
        col("RFSTDT").alias("_rfst"),
        col("RFXSTDT").alias("_rfxs"),
        col("RFXENDT").alias("_rfxe"),
    ).unique("USUBJID", keep="first", maintain_order=True)
    dsd = ("DSDECOD", "DSTERM")
    parts = {
        "_dscons": _first(ds, r"(?i)INFORMED CONSENT", dsd, "DSSTDTC", "_dscons"),
        "_enrl": _first(ds, r"(?i)ENROLL?ED|ENROLMENT|ENROLLMENT", dsd, "DSSTDTC", "_enrl"),
        "RANDDT": _first(ds, r"(?i)RANDOMI[SZ]ED", dsd, "DSSTDTC", "RANDDT"),
        "PBMCDT": pl.concat(
            [
                _first(ex, _PBMC, ("EXTRT", "EXCAT"), "EXSTDTC", "PBMCDT"),
                _first(pr, _PBMC, ("PRTRT", "PRCAT", "PRDECOD"), "PRSTDTC", "PBMCDT"),
                _first(ds, _PBMC, dsd, "DSSTDTC", "PBMCDT"),
            ]
        ),
        "TACEDT": pl.concat(
            [
                _first(ex, _TACE, ("EXTRT", "EXCAT"), "EXSTDTC", "TACEDT"),
                _first(pr, _TACE, ("PRTRT", "PRCAT", "PRDECOD"), "PRSTDTC", "TACEDT"),
            ]
        ),
        "_trts": _first(ex, _CELL, ("EXTRT", "EXCAT"), "EXSTDTC", "_trts"),
        "_trte": _first(ex, _CELL, ("EXTRT", "EXCAT"), "EXSTDTC", "_trte", last=True),
        "_fstdos": _first(ex, r".", ("EXTRT",), "EXSTDTC", "_fstdos"),
        "LSTDOSDT": _first(
            ex,
            r".",
            ("EXTRT",),
            "EXENDTC" if ex is not None and "EXENDTC" in ex.columns else "EXSTDTC",
            "LSTDOSDT",
            last=True,
        ),
    }
    for name, part in parts.items():
        part = part.group_by("USUBJID").agg(pl.col(name).min())
        out = out.join(part, on="USUBJID", how="left", maintain_order="left")
    withdrawn = pl.DataFrame(schema={"USUBJID": pl.String, "WDDT": pl.Date})
    if ds is not None and {"DSCAT", "DSDECOD"} <= set(ds.columns):
        withdrawn = (
            ds.filter(
                pl.col("DSCAT").str.to_uppercase().eq("DISPOSITION EVENT")
                & ~pl.col("DSDECOD").str.to_uppercase().is_in(["COMPLETED", "DEATH"])
            )
            .group_by("USUBJID")
            .agg(pl.col("DSSTDT").min().alias("WDDT"))
        )
    out = out.join(withdrawn, on="USUBJID", how="left", maintain_order="left")
    return out.select(
        "USUBJID",
        pl.coalesce("_cons", "_dscons").alias("CONSDT"),
        pl.coalesce("_enrl", "_rfst").alias("ENRLDT"),
        "PBMCDT",
        "TACEDT",
        pl.coalesce("_trts", "_rfxs").alias("TRTSDT"),
        pl.coalesce("_trte", "_rfxe").alias("TRTEDT"),
        pl.min_horizontal("_fstdos", "TACEDT", pl.coalesce("_trts", "_rfxs")).alias("FSTDOSDT"),
        pl.coalesce("LSTDOSDT", "_trte", "_rfxe").alias("LSTDOSDT"),
        "RANDDT",
        "WDDT",
    )


def derive_ae_window(anchors: pl.DataFrame, window: AEWindow | None) -> pl.DataFrame:
    """Per subject ``AEWSTDT`` and ``AEWENDT`` of the protocol's AE collection window.

    ``AEWENDT = end_after anchor + end_days_after`` (days); if the end anchor never happened
    (withdrawn before infusion) ``AEWENDT = start + untreated_days``; with
    ``ends_at_withdrawal``, ``AEWENDT = min(AEWENDT, WDDT)``. ``AEWENDT`` is null (window
    open) when the end anchor is missing and the protocol gives no ``untreated_days``.
    Without a protocol window (``None``) the window opens at first infusion and has no end
    (onset on or after the first dose: the usual treatment-emergent reading).
    """
    if window is None:
        return anchors.select(
            "USUBJID",
            pl.col("TRTSDT").alias("AEWSTDT"),
            pl.lit(None, pl.Date).alias("AEWENDT"),
            pl.lit("first-infusion").alias("AEWSTART"),
            pl.col("CONSDT"),
        )
    start = pl.col(ANCHOR_COLUMNS[window.start])
    end_anchor = pl.col(ANCHOR_COLUMNS[window.end_after])
    end = end_anchor + pl.duration(days=window.end_days_after)
    if window.untreated_days is not None:
        untreated = start + pl.duration(days=window.untreated_days)
        end = pl.when(end_anchor.is_null()).then(untreated).otherwise(end)
    if window.ends_at_withdrawal:
        end = pl.when(pl.col("WDDT") < end).then(pl.col("WDDT")).otherwise(end)
    return anchors.select(
        "USUBJID",
        start.alias("AEWSTDT"),
        end.alias("AEWENDT"),
        pl.lit(window.start).alias("AEWSTART"),
        pl.col("CONSDT"),
    )


def _problem(rows: pl.DataFrame, column: str, message: str, expected: str, value: pl.Expr,
             action: str) -> pl.DataFrame:  # fmt: skip
    return rows.select(
        pl.lit("AE").alias("DOMAIN"),
        pl.lit(None, pl.String).alias("FILE"),
        pl.col("_srcrow").cast(pl.Int64).alias("ROW"),
        pl.lit(column).alias("COLUMN"),
        pl.col("USUBJID").cast(pl.String),
        value.cast(pl.String).alias("VALUE"),
        pl.lit(expected).alias("EXPECTED"),
        (
            pl.format(f"{message} (AESEQ {{}})", pl.col("AESEQ"))
            if "AESEQ" in rows.columns
            else pl.lit(message)
        ).alias("MESSAGE"),
        pl.lit(action).alias("ACTION"),
    )


def derive_treatment_emergent(
    ae: Any, windows: pl.DataFrame, *, row_col: str | None = None
) -> AeDerivation:
    """Add ``TRTEMFL``, numeric ``AETOXGR``, ``AERELGR`` and the window to each AE row.

    ``TRTEMFL = "Y"`` when ``AEWSTDT <= AESTDT <= AEWENDT`` (an open end counts as no end);
    a missing onset is counted as treatment-emergent (the conservative convention) and
    reported. Nothing is dropped: problems are returned beside the table, each naming the AE
    row (1-based in the table as given, or the value of ``row_col``, e.g. the file row when
    a reader dropped rows), column, subject, value and ``AESEQ`` when present.
    """
    ae = _frame(ae, "AE")
    need = [c for c in ("USUBJID", "AESTDTC", "AETOXGR") if c not in ae.columns]
    if need:
        raise InputError("AE lacks column(s) " + ", ".join(need), column=need[0])
    ae = (
        _dates(_dates(ae, "AESTDTC"), "AEENDTC")
        if "AEENDTC" in ae.columns
        else _dates(ae, "AESTDTC")
    )
    drop = [c for c in ("AEWSTDT", "AEWENDT", "AEWSTART", "CONSDT") if c in ae.columns]
    raw_grade = pl.col("AETOXGR").cast(pl.String).str.strip_chars()
    grade = raw_grade.cast(pl.Float64, strict=False)
    rel = (
        pl.col("AEREL").cast(pl.String).str.strip_chars().str.to_uppercase()
        if "AEREL" in ae.columns
        else pl.lit(None, pl.String)
    )
    work = (
        ae.drop(drop)
        .with_row_index("_row")
        .with_columns(
            (pl.col(row_col) if row_col else pl.col("_row") + 1).cast(pl.Int64).alias("_srcrow")
        )
        .join(windows, on="USUBJID", how="left", maintain_order="left")
        .with_columns(
            raw_grade.alias("_rawgr"),
            pl.when(grade.is_between(1, 5) & (grade == grade.floor()))
            .then(grade)
            .otherwise(None)
            .cast(pl.Int8)
            .alias("_grade"),
            rel.alias("_rel"),
        )
    )
    onset = pl.col("AESTDT")
    inside = (onset >= pl.col("AEWSTDT")) & (
        pl.col("AEWENDT").is_null() | (onset <= pl.col("AEWENDT"))
    )
    work = work.with_columns(
        pl.when(pl.col("AEWSTDT").is_null())
        .then(None)
        .when(onset.is_null())
        .then(pl.lit("Y"))
        .when(inside)
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N"))
        .alias("TRTEMFL"),
        pl.when(pl.col("_rel").is_in(sorted(_RELATED)))
        .then(pl.lit("RELATED"))
        .when(pl.col("_rel").is_in(sorted(_NOT_RELATED)))
        .then(pl.lit("NOT RELATED"))
        .otherwise(None)
        .alias("AERELGR"),
    )
    problems = [
        _problem(
            work.filter(pl.col("_rawgr").is_not_null() & pl.col("_grade").is_null()),
            "AETOXGR",
            "AE grade out of range",
            "a CTCAE grade 1, 2, 3, 4 or 5",
            pl.col("_rawgr"),
            "grade set to missing",
        ),
        _problem(
            work.filter(pl.col("_rawgr").is_null()),
            "AETOXGR",
            "AE grade missing",
            "a CTCAE grade 1-5",
            pl.lit(None),
            "counted under grade unknown",
        ),
        _problem(
            work.filter(onset < pl.col("CONSDT")),
            "AESTDTC",
            "AE starts before informed consent",
            "an onset on or after consent (DM.RFICDTC)",
            pl.col("AESTDTC"),
            "kept; not treatment-emergent",
        ),
        _problem(
            work.filter(onset.is_null()),
            "AESTDTC",
            "AE onset date missing",
            "an ISO 8601 onset date",
            pl.lit(None),
            "counted as treatment-emergent (conservative)",
        ),
        _problem(
            work.filter(pl.col("AEWSTDT").is_null()),
            "USUBJID",
            "no AE window: the window's start anchor date is missing for this subject",
            "the anchor date (DM, DS, EX or PR)",
            pl.col("AEWSTART"),
            "TRTEMFL missing",
        ),
        _problem(
            work.filter(pl.col("_rel").is_not_null() & pl.col("AERELGR").is_null()),
            "AEREL",
            "relatedness not recognised",
            "RELATED, POSSIBLY/PROBABLY/DEFINITELY RELATED, UNLIKELY RELATED or NOT RELATED",
            pl.col("_rel"),
            "relatedness missing",
        ),
    ]
    if "AEENDT" in work.columns:
        problems.append(
            _problem(
                work.filter(pl.col("AEENDT") < onset),
                "AEENDTC",
                "AE ends before it starts",
                "AEENDTC on or after AESTDTC",
                pl.col("AEENDTC"),
                "kept as recorded",
            )
        )
    table = pl.concat(problems).with_columns(pl.col("ROW").cast(pl.Int64)).sort("ROW")
    out = work.with_columns(pl.col("_grade").alias("AETOXGR")).drop(
        "_row", "_srcrow", "_rawgr", "_grade", "_rel", "CONSDT"
    )
    return AeDerivation(ae=out, problems=table.select(list(PROBLEM_SCHEMA)))


def _subjects(subjects: Any, arm: str) -> pl.DataFrame:
    df = _frame(subjects, "subjects")
    if "USUBJID" not in df.columns or arm not in df.columns:
        raise InputError(f"subjects table needs USUBJID and {arm}", column=arm)
    return df.select("USUBJID", pl.col(arm).cast(pl.String).alias("ARM")).unique("USUBJID")


def worst_grade_per_subject(ae: pl.DataFrame, by: tuple[str, ...] = ("AEDECOD",)) -> pl.DataFrame:
    """Per subject and ``by`` group the worst ``AETOXGR`` (null if no grade is known)."""
    return ae.group_by("USUBJID", *by).agg(pl.col("AETOXGR").max().alias("WORSTGR"))


def ae_incidence(
    ae: pl.DataFrame,
    subjects: Any,
    *,
    arm: str = "ARM",
    treatment_emergent_only: bool = True,
    related_only: bool = False,
    serious_only: bool = False,
) -> pl.DataFrame:
    """Subjects with at least one AE, by arm, overall / SOC / preferred term, by worst grade.

    Returns one row per ``ARM`` and level (``ANY``, ``SOC``, ``TERM``) with ``AEBODSYS``,
    ``AEDECOD``, ``N`` (subjects in the arm), ``n`` and ``PCT`` (100 n / N) of subjects with
    the event, and ``GR1`` ... ``GR5``, ``GRUNK`` (subjects by their worst grade) and
    ``GR3PL`` (worst grade >= 3). A subject counts once per row whatever the number of events.
    """
    subj = _subjects(subjects, arm)
    rows = ae
    if treatment_emergent_only:
        rows = rows.filter(pl.col("TRTEMFL") == "Y")
    if related_only:
        rows = rows.filter(pl.col("AERELGR") == "RELATED")
    if serious_only:
        rows = rows.filter(pl.col("AESER").cast(pl.String).str.to_uppercase() == "Y")
    rows = rows.join(subj, on="USUBJID", how="inner").with_columns(
        pl.col("AEBODSYS").fill_null("(SOC missing)"), pl.col("AEDECOD").fill_null("(term missing)")
    )
    denominators = subj.group_by("ARM").agg(pl.len().alias("N"))
    levels = {
        "ANY": (pl.lit("ANY").alias("AEBODSYS"), pl.lit("ANY").alias("AEDECOD")),
        "SOC": (pl.col("AEBODSYS"), pl.lit("ANY").alias("AEDECOD")),
        "TERM": (pl.col("AEBODSYS"), pl.col("AEDECOD")),
    }
    tables = []
    for level, (soc, term) in levels.items():
        worst = (
            rows.select("ARM", "USUBJID", soc, term, "AETOXGR")
            .group_by("ARM", "USUBJID", "AEBODSYS", "AEDECOD")
            .agg(pl.col("AETOXGR").max().alias("W"))
        )
        counts = worst.group_by("ARM", "AEBODSYS", "AEDECOD").agg(
            pl.len().alias("n"),
            *[(pl.col("W") == g).sum().alias(f"GR{g}") for g in range(1, 6)],
            pl.col("W").is_null().sum().alias("GRUNK"),
            (pl.col("W") >= 3).sum().alias("GR3PL"),
        )
        tables.append(counts.with_columns(pl.lit(level).alias("LEVEL")))
    out = pl.concat(tables).join(denominators, on="ARM", how="left")
    cols = ["GR1", "GR2", "GR3", "GR4", "GR5", "GRUNK", "GR3PL", "n"]
    out = out.with_columns([pl.col(c).cast(pl.Int64) for c in cols]).with_columns(
        (100.0 * pl.col("n") / pl.col("N")).round(1).alias("PCT")
    )
    order = pl.col("LEVEL").replace_strict({"ANY": 0, "SOC": 1, "TERM": 2}, return_dtype=pl.Int8)
    return out.sort(
        ["ARM", order, "AEBODSYS", pl.col("n")], descending=[False, False, False, True]
    ).select("ARM", "LEVEL", "AEBODSYS", "AEDECOD", "N", "n", "PCT", *cols[:-1])


def serious_adverse_events(ae: pl.DataFrame) -> pl.DataFrame:
    """The serious AEs (``AESER = Y``), treatment-emergent first, with grade and relatedness."""
    wanted = ("USUBJID", "AESEQ", "AEDECOD", "AEBODSYS", "AESTDTC", "AEENDTC", "AETOXGR",
              "AEREL", "AERELGR", "AEOUT", "TRTEMFL")  # fmt: skip
    keep = [c for c in wanted if c in ae.columns]
    if "AESER" not in ae.columns:
        return ae.select(keep).head(0)
    serious = ae.filter(pl.col("AESER").cast(pl.String).str.strip_chars().str.to_uppercase() == "Y")
    return serious.sort("TRTEMFL", "USUBJID", descending=[True, False], nulls_last=True).select(
        keep
    )
