"""Dose-limiting toxicities: the protocol's DLT rules (data) evaluated over the DLT window.

A DLT rule (:class:`hcctrial.protocol.DLTRule`) says: an adverse event of ``category`` (and
``term`` when given) at CTCAE grade >= ``min_grade``, lasting >= ``min_duration_days`` when
given, except the terms in ``exceptions``. The window (:class:`hcctrial.protocol.DLTSpec`)
opens on the first (or last) infusion date and closes ``window_days`` days later; an event
counts when its onset ``AESTDT`` satisfies ``start <= AESTDT <= start + window_days``.

Sources of events:

- ``AE`` (graded adverse events): ``USUBJID, AEDECOD, AETOXGR, AESTDTC`` and optionally
  ``AEENDTC``, ``AEBODSYS`` (system organ class), ``AEREL`` (causality), ``AEOUT``.
- CRS and ICANS daily grades from :func:`hcctrial.safety.crs.grade_crs_daily` and
  :func:`hcctrial.safety.icans.grade_icans_daily` (``USUBJID, ADT, CRSGR`` / ``ICANSGR``).
  With these tables, rules of category ``crs``/``icans`` use them (duration = longest run of
  consecutive observed days at >= ``min_grade``); without them, AE rows with the MedDRA
  preferred terms "Cytokine release syndrome" / "Immune effector cell-associated
  neurotoxicity syndrome" are used.

Categories: ``haematological`` is system organ class "Blood and lymphatic system disorders"
(CTCAE v5.0 SOC) or one of the haematology terms of the CTCAE v5.0 "Investigations" SOC
(:data:`HAEM_INVESTIGATIONS`); ``non-haematological`` is every other term (CRS/ICANS terms
excluded when the protocol has a ``crs``/``icans`` rule of its own); ``death`` is a grade 5
AE (or ``AEOUT`` "FATAL"); ``any`` is every AE.

Attribution (``DLTSpec.attribution``) reads ``AEREL``: "related" accepts RELATED, Y, YES,
PROBABLE, PROBABLY RELATED, DEFINITE, DEFINITELY RELATED; "possibly-related-or-more" adds
POSSIBLE and POSSIBLY RELATED (the five-point CTCAE attribution scale: unrelated, unlikely,
possible, probable, definite). A missing ``AEREL`` counts as related (the conservative
convention for safety analyses) and is listed in the problems table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from hcctrial.dates import derive_date
from hcctrial.errors import InputError, InputErrors, Problem
from hcctrial.protocol import DLTRule, DLTSpec
from hcctrial.safety.crs import _to_polars
from hcctrial.safety.dlt_terms import _aliases, rule_term_problems

BLOOD_SOC = "BLOOD AND LYMPHATIC SYSTEM DISORDERS"  # MedDRA / CTCAE v5.0 SOC name.
# CTCAE v5.0 SOC "Blood and lymphatic system disorders" terms, for AEs without AEBODSYS.
BLOOD_SOC_TERMS = frozenset(
    {
        "ANEMIA",
        "BONE MARROW HYPOCELLULAR",
        "DISSEMINATED INTRAVASCULAR COAGULATION",
        "EOSINOPHILIA",
        "FEBRILE NEUTROPENIA",
        "HEMOLYSIS",
        "HEMOLYTIC UREMIC SYNDROME",
        "LEUKOCYTOSIS",
        "LYMPH NODE PAIN",
        "METHEMOGLOBINEMIA",
        "THROMBOTIC THROMBOCYTOPENIC PURPURA",
        "BLOOD AND LYMPHATIC SYSTEM DISORDERS - OTHER",
    }
)
# CTCAE v5.0 SOC "Investigations": the haematology terms.
HAEM_INVESTIGATIONS = frozenset(
    {
        "NEUTROPHIL COUNT DECREASED",
        "PLATELET COUNT DECREASED",
        "WHITE BLOOD CELL DECREASED",
        "LYMPHOCYTE COUNT DECREASED",
        "LYMPHOCYTE COUNT INCREASED",
        "CD4 LYMPHOCYTES DECREASED",
        "HEMOGLOBIN INCREASED",
    }
)
CRS_TERM = "CYTOKINE RELEASE SYNDROME"  # MedDRA PT 10052015; CTCAE v5.0 term.
ICANS_TERM = "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME"  # MedDRA PT 10082160.

_RELATED = {"RELATED", "Y", "YES", "PROBABLE", "PROBABLY RELATED", "DEFINITE"}
_RELATED |= {"DEFINITELY RELATED", "DEFINITELY"}
_POSSIBLE = {"POSSIBLE", "POSSIBLY RELATED", "POSSIBLY"}
_UNRELATED = {"NOT RELATED", "UNRELATED", "N", "NO", "UNLIKELY", "UNLIKELY RELATED"}
_UNRELATED |= {"NONE", "DOUBTFUL"}


@dataclass(frozen=True)
class DLTResult:
    """Per-subject DLT status, every qualifying event, and non-fatal input problems."""

    subjects: pl.DataFrame
    events: pl.DataFrame
    problems: pl.DataFrame


def _window(adsl: pl.DataFrame, spec: DLTSpec, file: str | None) -> pl.DataFrame:
    anchor = "TRTSDT" if spec.window_start == "first-infusion" else "TRTEDT"
    if "USUBJID" not in adsl.columns or anchor not in adsl.columns:
        raise InputError(
            "subject table lacks the DLT window anchor",
            file=file,
            column=anchor if "USUBJID" in adsl.columns else "USUBJID",
            expected=f"USUBJID and {anchor} ({spec.window_start.replace('-', ' ')} date)",
        )
    cols = [pl.col("USUBJID").cast(pl.Utf8)]
    for c in (anchor, "LSTALVDT", "DTHDT"):
        if c in adsl.columns:
            src = pl.col(c)
            if adsl[c].dtype == pl.Utf8:
                src = src.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            cols.append(src.cast(pl.Date).alias(c))
    keep = [c for c in ("DOSELVL", "DOSELVLS", "ARM") if c in adsl.columns]
    out = adsl.select(*cols, *keep).rename({anchor: "DLTSTDT"})
    return out.with_columns(
        (pl.col("DLTSTDT") + pl.duration(days=spec.window_days)).alias("DLTENDT")
    )


def _prepare_ae(
    ae: pl.DataFrame, file: str | None, row_col: str | None = None, strict_causality: bool = True
) -> tuple[pl.DataFrame, list[Problem]]:
    need = ["USUBJID", "AEDECOD", "AETOXGR", "AESTDTC"]
    missing = [c for c in need if c not in ae.columns]
    if missing:
        raise InputErrors(
            [Problem("required column missing", file=file, column=c) for c in missing],
            context=file or "AE",
        )
    if row_col is not None and row_col in ae.columns:
        ae = ae.with_columns(pl.col(row_col).cast(pl.Int64).alias("AEROW"))
    else:
        ae = ae.with_row_index("AEROW", offset=1)
    grade = ae["AETOXGR"].cast(pl.Utf8).str.strip_chars().cast(pl.Int64, strict=False)
    bad = ae.filter(grade.is_null() | ~grade.is_between(1, 5))
    if bad.height:
        raise InputErrors(
            [
                Problem(
                    "CTCAE grade out of range",
                    file=file,
                    row=r,
                    column="AETOXGR",
                    value=v,
                    expected="an integer 1-5",
                    subject=s,
                )
                for r, v, s in bad.select("AEROW", "AETOXGR", "USUBJID").iter_rows()
            ],
            context=file or "AE",
        )
    ae = ae.with_columns(grade.alias("AETOXGR"), pl.col("USUBJID").cast(pl.Utf8))
    ae = derive_date(ae.with_columns(pl.col("AESTDTC").cast(pl.Utf8)), "AESTDTC", file=file)
    if "AEENDTC" in ae.columns:
        ae = derive_date(
            ae.with_columns(pl.col("AEENDTC").cast(pl.Utf8)), "AEENDTC", rule="last", file=file
        )
    else:
        ae = ae.with_columns(pl.lit(None, pl.Date).alias("AEENDT"))
    problems: list[Problem] = [
        Problem(
            "AE onset date missing: cannot be placed in the DLT window",
            file=file,
            row=r,
            column="AESTDTC",
            subject=s,
        )
        for r, s in ae.filter(pl.col("AESTDT").is_null()).select("AEROW", "USUBJID").iter_rows()
    ]
    for c in ("AEBODSYS", "AEREL", "AEOUT"):
        if c not in ae.columns:
            ae = ae.with_columns(pl.lit(None, pl.Utf8).alias(c))
    ae = ae.with_columns(
        pl.col("AEDECOD").cast(pl.Utf8).str.strip_chars().str.to_uppercase().alias("_TERM"),
        pl.col("AEBODSYS").cast(pl.Utf8).str.strip_chars().str.to_uppercase().alias("_SOC"),
        pl.col("AEREL").cast(pl.Utf8).str.strip_chars().str.to_uppercase().alias("_REL"),
    )
    known = _RELATED | _POSSIBLE | _UNRELATED
    unknown = ae.filter(pl.col("_REL").is_not_null() & ~pl.col("_REL").is_in(sorted(known)))
    found = [
        Problem(
            "causality not understood" + (": counted as related" if not strict_causality else ""),
            file=file,
            row=r,
            column="AEREL",
            value=v,
            subject=s,
            expected="RELATED/NOT RELATED or UNRELATED/UNLIKELY/POSSIBLE/PROBABLE/DEFINITE",
        )
        for r, v, s in unknown.select("AEROW", "AEREL", "USUBJID").iter_rows()
    ]
    if found and strict_causality:
        raise InputErrors(found, context=file or "AE")
    problems += found
    # Not understood and not strict: treated as missing, i.e. related (conservative).
    ae = ae.with_columns(
        pl.when(pl.col("_REL").is_in(sorted(known))).then(pl.col("_REL")).alias("_REL")
    )
    problems += [
        Problem(
            "causality missing: counted as related", file=file, row=r, column="AEREL", subject=s
        )
        for r, s in ae.filter(pl.col("_REL").is_null()).select("AEROW", "USUBJID").iter_rows()
    ]
    return ae, problems


def _attribution_ok(attribution: str) -> pl.Expr:
    if attribution == "any":
        return pl.lit(True)
    accepted = _RELATED | (_POSSIBLE if attribution == "possibly-related-or-more" else set())
    return pl.col("_REL").is_null() | pl.col("_REL").is_in(sorted(accepted))


def _category_expr(rule: DLTRule, spec: DLTSpec) -> pl.Expr:
    haem = (pl.col("_SOC") == BLOOD_SOC) | pl.col("_TERM").is_in(
        sorted(BLOOD_SOC_TERMS | HAEM_INVESTIGATIONS)
    )
    own = {r.category for r in spec.rules}
    if rule.category == "haematological":
        return haem.fill_null(False)
    if rule.category == "non-haematological":
        excluded = [t for c, t in (("crs", CRS_TERM), ("icans", ICANS_TERM)) if c in own]
        return ~haem.fill_null(False) & ~pl.col("_TERM").is_in(excluded)
    if rule.category == "death":
        return (pl.col("AETOXGR") == 5) | (
            pl.col("AEOUT").cast(pl.Utf8).str.to_uppercase() == "FATAL"
        ).fill_null(False)
    if rule.category == "crs":
        return pl.col("_TERM") == CRS_TERM
    if rule.category == "icans":
        return pl.col("_TERM") == ICANS_TERM
    return pl.lit(True)


def _ae_events(ae: pl.DataFrame, rule: DLTRule, spec: DLTSpec, cutoff: dt.date) -> pl.DataFrame:
    sel = _category_expr(rule, spec) & _attribution_ok(spec.attribution)
    if rule.category != "death":
        sel = sel & (pl.col("AETOXGR") >= rule.min_grade)
    if rule.term:
        sel = sel & pl.col("_TERM").is_in(sorted(_aliases(rule.term)))
    if rule.exceptions:
        excepted = set().union(*(_aliases(e) for e in rule.exceptions))
        sel = sel & ~pl.col("_TERM").is_in(sorted(excepted))
    hits = ae.filter(sel & pl.col("AESTDT").is_not_null())
    hits = hits.with_columns(
        ((pl.col("AEENDT").fill_null(pl.lit(cutoff)) - pl.col("AESTDT")).dt.total_days() + 1).alias(
            "DURATION"
        ),
        pl.col("AEENDT").is_null().alias("ONGOING"),
    )
    return hits.select(
        "USUBJID",
        pl.lit("AE").alias("SOURCE"),
        pl.col("AEROW").cast(pl.Int64).alias("SRCROW"),
        pl.col("AEDECOD").cast(pl.Utf8).alias("TERM"),
        pl.col("AETOXGR").alias("GRADE"),
        pl.col("AESTDT").alias("ONSETDT"),
        "DURATION",
        "ONGOING",
    )


def _syndrome_events(daily: pl.DataFrame, col: str, term: str, rule: DLTRule) -> pl.DataFrame:
    """Runs of consecutive observed days at grade >= min_grade, one event per run."""
    need = {"USUBJID", "ADT", col}
    if not need <= set(daily.columns):
        raise InputError(f"{term.capitalize()} table lacks columns", expected=", ".join(need))
    d = daily.sort("USUBJID", "ADT").with_row_index("SRCROW", offset=1)
    d = d.with_columns((pl.col(col) >= rule.min_grade).alias("_HIT"))
    gap = (pl.col("ADT") - pl.col("ADT").shift(1).over("USUBJID")).dt.total_days()
    new_run = pl.col("_HIT") & ~(
        pl.col("_HIT").shift(1).over("USUBJID").fill_null(False) & (gap == 1)
    )
    d = d.with_columns(new_run.cast(pl.Int64).cum_sum().over("USUBJID").alias("_RUN"))
    runs = (
        d.filter(pl.col("_HIT"))
        .group_by("USUBJID", "_RUN", maintain_order=True)
        .agg(
            pl.col("SRCROW").first().cast(pl.Int64),
            pl.col(col).max().alias("GRADE"),
            pl.col("ADT").min().alias("ONSETDT"),
            pl.len().cast(pl.Int64).alias("DURATION"),
            pl.col("ADT").max().alias("_END"),
        )
    )
    last = daily.group_by("USUBJID").agg(pl.col("ADT").max().alias("_LAST"))
    runs = runs.join(last, on="USUBJID", how="left")
    return runs.select(
        pl.col("USUBJID").cast(pl.Utf8),
        pl.lit(col[:-2]).alias("SOURCE"),
        "SRCROW",
        pl.lit(term.capitalize()).alias("TERM"),
        pl.col("GRADE").cast(pl.Int64),
        "ONSETDT",
        "DURATION",
        (pl.col("_END") == pl.col("_LAST")).alias("ONGOING"),
    )


def evaluate_dlt(
    spec: DLTSpec,
    adsl: Any,
    ae: Any,
    *,
    crs: pl.DataFrame | None = None,
    icans: pl.DataFrame | None = None,
    data_cutoff: dt.date | None = None,
    file: str | None = None,
    row_col: str | None = None,
    strict_causality: bool = True,
) -> DLTResult:
    """Evaluate the protocol's DLT rules per subject over the DLT window.

    Parameters
    ----------
    spec
        The protocol's :class:`~hcctrial.protocol.DLTSpec` (``protocol.safety.dlt``).
    adsl
        One row per subject: ``USUBJID``, ``TRTSDT`` (first infusion; ``TRTEDT`` for a window
        from the last infusion), optionally ``LSTALVDT``, ``DTHDT``, ``DOSELVL``, ``ARM``.
    ae
        Graded adverse events (see the module docstring).
    crs, icans
        Daily ASTCT grades (``grade_crs_daily`` / ``grade_icans_daily`` output).
    data_cutoff
        Data cut-off date: ongoing AE durations run to it, and a window not yet complete at
        it makes a subject without DLT not evaluable. Default: the latest date in the data.
    row_col
        A column of ``ae`` holding each row's number in its file (for events and problems);
        default: the 1-based row of ``ae``.
    strict_causality
        True: an ``AEREL`` not understood raises :class:`InputErrors`; False: it counts as
        related (as a missing one does) and is listed in ``problems``.

    Returns
    -------
    DLTResult
        ``subjects``: ``USUBJID, DLTSTDT, DLTENDT, DLTFL (Y/N), DLTEVLFL (Y/N), DLTEVLRS,
        DLTRULE, DLTTERM, DLTGR, DLTDT, NDLTEV`` (the first qualifying event by onset);
        ``events``: every qualifying event with its rule, source and source row;
        ``problems``: non-fatal input issues (missing causality, missing onset).

    Notes
    -----
    Evaluable (``DLTEVLFL = Y``): a DLT occurred, or follow-up (``LSTALVDT``, else the
    cut-off) reaches ``DLTENDT``. Not infused (no anchor date): not evaluable.
    """
    adsl_df, ae_df = _to_polars(adsl), _to_polars(ae)
    win = _window(adsl_df, spec, file)
    aes, problems = _prepare_ae(ae_df, file, row_col, strict_causality)
    dates = [d for d in (aes["AESTDT"].max(), win["DLTSTDT"].max()) if isinstance(d, dt.date)]
    for daily in (crs, icans):
        if daily is not None and daily.height and isinstance(daily["ADT"].max(), dt.date):
            dates.append(daily["ADT"].max())  # type: ignore[arg-type]
    cutoff = data_cutoff or (max(dates) if dates else dt.date.today())
    problems += rule_term_problems(spec, aes["AEDECOD"].cast(pl.Utf8).unique().to_list(), file)
    known = set(win["USUBJID"].to_list())
    problems += [
        Problem("AE of a subject not in the subject table", file=file, row=r, subject=s)
        for r, s in aes.filter(~pl.col("USUBJID").is_in(sorted(known)))
        .select("AEROW", "USUBJID")
        .iter_rows()
    ]
    frames = []
    for rule in spec.rules:
        if rule.category == "crs" and crs is not None:
            ev = _syndrome_events(crs, "CRSGR", CRS_TERM.lower(), rule)
        elif rule.category == "icans" and icans is not None:
            ev = _syndrome_events(icans, "ICANSGR", ICANS_TERM.lower(), rule)
        else:
            ev = _ae_events(aes, rule, spec, cutoff)
        if rule.min_duration_days is not None:
            ev = ev.filter(pl.col("DURATION") >= rule.min_duration_days)
        frames.append(
            ev.with_columns(
                pl.lit(rule.id).alias("DLTRULE"), pl.lit(rule.description).alias("RULEDESC")
            )
        )
    events = (
        pl.concat(frames, how="vertical_relaxed")
        .join(win.select("USUBJID", "DLTSTDT", "DLTENDT"), on="USUBJID", how="inner")
        .filter(pl.col("ONSETDT").is_between(pl.col("DLTSTDT"), pl.col("DLTENDT")))
        .with_columns((pl.col("ONSETDT") - pl.col("DLTSTDT")).dt.total_days().alias("DLTDAY"))
        .sort("USUBJID", "ONSETDT", "DLTRULE")
    )
    first = events.group_by("USUBJID", maintain_order=True).agg(
        pl.col("DLTRULE").first(),
        pl.col("TERM").first().alias("DLTTERM"),
        pl.col("GRADE").first().alias("DLTGR"),
        pl.col("ONSETDT").first().alias("DLTDT"),
        pl.len().cast(pl.Int64).alias("NDLTEV"),
    )
    follow = pl.col("LSTALVDT") if "LSTALVDT" in win.columns else pl.lit(None, pl.Date)
    follow = pl.min_horizontal(follow.fill_null(pl.lit(cutoff)), pl.lit(cutoff))
    subjects = win.join(first, on="USUBJID", how="left").with_columns(
        pl.when(pl.col("DLTRULE").is_not_null())
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N"))
        .alias("DLTFL"),
        pl.col("NDLTEV").fill_null(0),
    )
    evaluable = (
        pl.when(pl.col("DLTSTDT").is_null())
        .then(pl.lit("N|not infused (no window anchor date)"))
        .when(pl.col("DLTFL") == "Y")
        .then(pl.lit("Y|DLT observed in the window"))
        .when(follow >= pl.col("DLTENDT"))
        .then(pl.lit("Y|window completed without DLT"))
        .otherwise(pl.lit("N|window not completed (follow-up ends before DLTENDT)"))
    )
    subjects = subjects.with_columns(evaluable.str.split_exact("|", 1).alias("_E")).unnest("_E")
    subjects = subjects.rename({"field_0": "DLTEVLFL", "field_1": "DLTEVLRS"})
    order = ["USUBJID", *[c for c in ("DOSELVL", "DOSELVLS", "ARM") if c in subjects.columns]]
    subjects = subjects.select(
        *order,
        "DLTSTDT",
        "DLTENDT",
        "DLTFL",
        "DLTEVLFL",
        "DLTEVLRS",
        "DLTRULE",
        "DLTTERM",
        "DLTGR",
        "DLTDT",
        "NDLTEV",
    ).sort("USUBJID")
    events = events.select(
        "USUBJID",
        "DLTRULE",
        "RULEDESC",
        "SOURCE",
        "SRCROW",
        "TERM",
        "GRADE",
        "ONSETDT",
        "DLTDAY",
        "DURATION",
        "ONGOING",
    )
    prob = pl.DataFrame(
        {
            "FILE": [p.file for p in problems],
            "ROW": [p.row for p in problems],
            "COLUMN": [p.column for p in problems],
            "USUBJID": [p.subject for p in problems],
            "MESSAGE": [p.message for p in problems],
        },
        schema={
            "FILE": pl.Utf8,
            "ROW": pl.Int64,
            "COLUMN": pl.Utf8,
            "USUBJID": pl.Utf8,
            "MESSAGE": pl.Utf8,
        },
    )
    return DLTResult(subjects=subjects, events=events, problems=prob)


def dlt_counts(
    subjects: pl.DataFrame, level: str = "DOSELVL", levels: list[str] | None = None
) -> pl.DataFrame:
    """Per dose level: subjects, the evaluable ones, those with a DLT, those not evaluable.

    Returns ``LEVEL, SUBJECTS, N, NDLT, NOTEVAL`` (``SUBJECTS`` includes subjects never
    infused, who are not evaluable): ``N`` evaluable subjects (``DLTEVLFL = Y``),
    ``NDLT`` of them with a DLT (the escalation input). ``levels``: every level of the
    protocol in its order (levels nobody was treated at get zeros); default: the levels as
    they first appear. Subjects without a level are not counted.
    """
    if level not in subjects.columns:
        raise InputError("subject table has no dose level column", column=level)
    evaluable = pl.col("DLTEVLFL") == "Y"
    per = (
        subjects.filter(pl.col(level).is_not_null())
        .group_by(level, maintain_order=True)
        .agg(
            pl.len().alias("SUBJECTS"),
            evaluable.sum().alias("N"),
            (evaluable & (pl.col("DLTFL") == "Y")).sum().alias("NDLT"),
            (~evaluable).sum().alias("NOTEVAL"),
        )
        .rename({level: "LEVEL"})
        .with_columns(pl.col("LEVEL").cast(pl.Utf8))
    )
    if levels is not None:
        per = pl.DataFrame({"LEVEL": levels}, schema={"LEVEL": pl.Utf8}).join(
            per, on="LEVEL", how="left"
        )
    return per.with_columns(pl.exclude("LEVEL").fill_null(0).cast(pl.Int64))
