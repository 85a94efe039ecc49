"""ADTTE derivations: OS, PFS, TTR and DOR from ADSL, ADRS and new anticancer therapy dates.

Censoring follows the FDA guidance *Clinical Trial Endpoints for the Approval of Cancer Drugs
and Biologics* (December 2018), Table 1 ("PFS date of progression or censoring"), each rule an
:class:`EndpointOptions` switch:

* no baseline tumour assessment (ADSL ``BLASMTFL = "N"``): censored at the origin
  (``no_baseline_censors_at_origin``, default on);
* no adequate post-baseline assessment: censored at the origin; a death within the
  missed-assessment window is still an event (FDA: "death before first PD assessment:
  progressed"), unless ``no_assessment_censors_at_origin`` is set, which censors it too;
* progression or death documented after two or more missed assessments: censored at the last
  adequate assessment (``missed_assessments_censor``; "missed" means the gap from the last
  adequate assessment, or the origin, to the event exceeds
  ``(allowed_missed + 1) * assessment_interval_days + assessment_window_days``);
* new anticancer therapy started before the event: censored at the last adequate assessment on
  or before the start of that therapy (``new_therapy_censors``);
* otherwise no event: censored at the last adequate assessment.

An adequate assessment is an overall timepoint response (ADRS ``PARAMCD = "OVR"``) of CR, PR,
SD, NON-CR/NON-PD or PD (NE is not adequate). ``AVAL = ADT - STARTDT + 1`` days (admiral
``derive_param_tte`` / ``derive_vars_duration(add_one = TRUE)``; ``add_one=False`` gives the
plain difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from hcctrial.errors import InputError, InputErrors, Problem

__all__ = [
    "ADTTE_COLUMNS",
    "EndpointOptions",
    "assessments_until",
    "derive_adtte",
    "prepare_adsl",
    "to_polars",
]

ADTTE_COLUMNS = (
    "USUBJID", "ARM", "PARAMCD", "PARAM", "AVAL", "CNSR", "STARTDT", "ADT", "EVNTDESC",
    "CNSDTDSC", "SRCDOM",
)  # fmt: skip

ADEQUATE = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD")
RESPONDED = ("CR", "PR")

# Average Gregorian month, 365.25 / 12 days (as R's lubridate and most SAP month conversions).
DAYS_PER_MONTH = 365.25 / 12

PARAMS = {
    "OS": "Overall Survival (days)",
    "PFS": "Progression-Free Survival (days)",
    "TTR": "Time to Response (days)",
    "DOR": "Duration of Response (days)",
}


@dataclass(frozen=True)
class EndpointOptions:
    """How time-to-event endpoints are derived; the defaults follow the FDA 2018 guidance.

    ``origin``: ADSL date column of day 1 (``TRTSDT`` first infusion for single-arm studies,
    ``RANDDT`` randomization for randomized ones). ``assessment_interval_days``: the protocol's
    imaging interval (e.g. 56 for every 8 weeks) used by the missed-assessment rule.
    """

    origin: str = "TRTSDT"
    new_therapy_censors: bool = True
    missed_assessments_censor: bool = True
    allowed_missed: int = 1
    assessment_interval_days: int = 56
    assessment_window_days: int = 7
    no_assessment_censors_at_origin: bool = False
    no_baseline_censors_at_origin: bool = True
    no_post_baseline_censors_at_origin: bool = True
    os_at_last_known_alive: bool = True
    pfs_at_last_known_alive: bool = False
    data_cutoff: date | None = None
    data_cutoff_months: float | None = None
    response_param: str = "BOR"
    add_one: bool = True

    def cutoff_date(self, origins: pl.Series) -> date | None:
        """The data cut-off date: ``data_cutoff``, else the last subject's origin plus
        ``data_cutoff_months`` (whole days, ``floor(months * 30.4375)``), else ``None``."""
        if self.data_cutoff is not None:
            return self.data_cutoff
        if self.data_cutoff_months is None or origins.is_empty():
            return None
        last = origins.max()
        if not isinstance(last, date):
            return None
        return last + timedelta(days=math.floor(self.data_cutoff_months * DAYS_PER_MONTH))

    @property
    def max_gap_days(self) -> int:
        """Largest gap (days) between assessments before an event counts as after missed visits."""
        return (self.allowed_missed + 1) * self.assessment_interval_days + (
            self.assessment_window_days
        )


def _as_date(df: pl.DataFrame, column: str) -> pl.DataFrame:
    if column not in df.columns:
        return df.with_columns(pl.lit(None, dtype=pl.Date).alias(column))
    dtype = df.schema[column]
    if dtype == pl.Date:
        return df
    if dtype == pl.Datetime:
        return df.with_columns(pl.col(column).dt.date())
    parsed = df.with_columns(
        pl.col(column).cast(pl.Utf8).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    )
    bad = parsed[column].is_null() & df[column].is_not_null() & (df[column].cast(pl.Utf8) != "")
    if bad.any():
        idx = int(bad.arg_max() or 0)
        raise InputError(
            "not a complete ISO 8601 date (impute partial dates first with hcctrial.dates)",
            row=idx + 1,
            column=column,
            value=df[column][idx],
            subject=str(df["USUBJID"][idx]) if "USUBJID" in df.columns else None,
            expected="YYYY-MM-DD",
        )
    return parsed


def prepare_adsl(adsl: pl.DataFrame, options: EndpointOptions) -> pl.DataFrame:
    """Check ADSL and return one row per subject with ``ORIGINDT`` and dates as ``pl.Date``.

    Raises :class:`InputErrors` naming each subject that breaks a rule: missing origin, subject
    in two arms, death before the origin, last-known-alive before the origin.
    """
    for col in ("USUBJID", "ARM"):
        if col not in adsl.columns:
            raise InputError("ADSL column missing", column=col, expected="USUBJID, ARM, dates")
    if options.origin not in adsl.columns:
        raise InputError(
            "ADSL has no origin date column for the time-to-event endpoints",
            column=options.origin,
            expected="TRTSDT (first infusion) or RANDDT (randomization)",
        )
    df = adsl
    for col in (options.origin, "DTHDT", "LSTALVDT", "NACTDT"):
        df = _as_date(df, col)
    problems: list[Problem] = []
    arms = df.group_by("USUBJID").agg(pl.col("ARM").unique().alias("_ARMS"))
    for row in arms.filter(pl.col("_ARMS").list.len() > 1).iter_rows(named=True):
        problems.append(
            Problem(
                "subject is in two arms (rule: one arm per subject)",
                column="ARM",
                subject=str(row["USUBJID"]),
                value=sorted(map(str, row["_ARMS"])),
            )
        )
    df = df.unique("USUBJID", keep="first", maintain_order=True)
    df = df.with_columns(pl.col(options.origin).alias("ORIGINDT"))
    checks = [
        (pl.col("ORIGINDT").is_null(), "missing origin date", options.origin),
        (pl.col("DTHDT") < pl.col("ORIGINDT"), "death before the origin date", "DTHDT"),
        (pl.col("LSTALVDT") < pl.col("ORIGINDT"), "last known alive before the origin",
         "LSTALVDT"),
        (pl.col("DTHDT").is_null() & pl.col("LSTALVDT").is_null(),
         "neither a death date nor a last-known-alive date", "LSTALVDT"),
    ]  # fmt: skip
    for cond, message, col in checks:
        for row in df.filter(cond).iter_rows(named=True):
            problems.append(
                Problem(
                    f"{message} (rule: {message} is not allowed)",
                    column=col,
                    subject=str(row["USUBJID"]),
                    value=row.get(col),
                )
            )
    if problems:
        raise InputErrors(problems, context="ADSL")
    return df


def _assessments(adrs: pl.DataFrame, adsl: pl.DataFrame) -> pl.DataFrame:
    """OVR rows after the origin, with checks (known subject, not after death)."""
    for col in ("USUBJID", "PARAMCD", "AVALC", "ADT"):
        if col not in adrs.columns:
            raise InputError(
                "ADRS column missing", column=col, expected="USUBJID, PARAMCD, AVALC, ADT"
            )
    ovr = _as_date(adrs.filter(pl.col("PARAMCD") == "OVR"), "ADT")
    if "RSEVAL" in ovr.columns and ovr["RSEVAL"].n_unique() > 1:
        raise InputError(
            "ADRS holds responses from several evaluators; filter to one (e.g. INVESTIGATOR)",
            column="RSEVAL",
            value=sorted(map(str, ovr["RSEVAL"].unique().to_list())),
        )
    j = ovr.join(adsl.select("USUBJID", "ORIGINDT", "DTHDT"), on="USUBJID", how="left")
    problems = [
        Problem("ADRS subject not in ADSL", column="USUBJID", subject=str(s))
        for s in j.filter(pl.col("ORIGINDT").is_null())["USUBJID"].unique().to_list()
        if s not in set(adsl["USUBJID"].to_list())
    ]
    for row in j.filter(pl.col("ADT") > pl.col("DTHDT")).iter_rows(named=True):
        problems.append(
            Problem(
                "assessment after death (rule: no assessment after DTHDT)",
                column="ADT",
                subject=str(row["USUBJID"]),
                value=str(row["ADT"]),
            )
        )
    for row in j.filter(pl.col("ADT").is_null()).iter_rows(named=True):
        problems.append(
            Problem("missing assessment date", column="ADT", subject=str(row["USUBJID"]))
        )
    if problems:
        raise InputErrors(problems, context="ADRS")
    return j.filter(pl.col("ADT") > pl.col("ORIGINDT")).select("USUBJID", "AVALC", "ADT")


def _finish(df: pl.DataFrame, paramcd: str, srcdom: str, options: EndpointOptions) -> pl.DataFrame:
    one = 1 if options.add_one else 0
    return df.with_columns(
        pl.lit(paramcd).alias("PARAMCD"),
        pl.lit(PARAMS[paramcd]).alias("PARAM"),
        ((pl.col("ADT") - pl.col("STARTDT")).dt.total_days() + one).cast(pl.Float64).alias("AVAL"),
        pl.col("CNSR").cast(pl.Int8),
        pl.when(pl.col("CNSR") == 0).then(pl.col("DESC")).otherwise(None).alias("EVNTDESC"),
        pl.when(pl.col("CNSR") == 1).then(pl.col("DESC")).otherwise(None).alias("CNSDTDSC"),
        pl.col("SRC").fill_null(srcdom).alias("SRCDOM"),
    ).select(ADTTE_COLUMNS)


def _progression(
    subj: pl.DataFrame,
    ovr: pl.DataFrame,
    start: str,
    include_death: bool,
    options: EndpointOptions,
) -> pl.DataFrame:
    """Event (PD or death) or censoring from ``start`` under the FDA rules; one row per subject."""
    o = ovr.join(subj.select("USUBJID", start, "NACTDT"), on="USUBJID").filter(
        pl.col("ADT") > pl.col(start)
    )
    if options.new_therapy_censors:
        o = o.filter(pl.col("NACTDT").is_null() | (pl.col("ADT") <= pl.col("NACTDT")))
    first_pd = (
        o.filter(pl.col("AVALC") == "PD").group_by("USUBJID").agg(pl.col("ADT").min().alias("PDDT"))
    )
    s = subj.join(first_pd, on="USUBJID", how="left")
    death = pl.col("DTHDT") if include_death else pl.lit(None, dtype=pl.Date)
    if options.new_therapy_censors:
        death = pl.when(pl.col("NACTDT").is_null() | (death <= pl.col("NACTDT"))).then(death)
    s = s.with_columns(death.alias("_DTH"))
    s = s.with_columns(pl.min_horizontal("PDDT", "_DTH").alias("EVDT"))
    laa = (
        o.join(s.select("USUBJID", "EVDT"), on="USUBJID")
        .filter(pl.col("AVALC").is_in(ADEQUATE) & (pl.col("AVALC") != "PD"))
        .filter(pl.col("EVDT").is_null() | (pl.col("ADT") < pl.col("EVDT")))
        .group_by("USUBJID")
        .agg(pl.col("ADT").max().alias("LAADT"))
    )
    s = s.join(laa, on="USUBJID", how="left")
    gap = (pl.col("EVDT") - pl.coalesce("LAADT", start)).dt.total_days()
    missed = (gap > options.max_gap_days) if options.missed_assessments_censor else pl.lit(False)
    no_assess = pl.col("LAADT").is_null()
    if not options.no_post_baseline_censors_at_origin:
        # protocol no_post_baseline_at_origin: false: a first PD or death is an event whatever
        # its distance from the origin when nothing was assessed before it
        missed = missed & ~no_assess
    nact = pl.col("NACTDT").is_not_null() if options.new_therapy_censors else pl.lit(False)
    no_base = (
        (pl.col("BLASMTFL") == "N")
        if options.no_baseline_censors_at_origin and "BLASMTFL" in s.columns
        else pl.lit(False)
    )
    drop_event = no_assess & pl.lit(options.no_assessment_censors_at_origin)
    has = pl.col("EVDT").is_not_null()
    event = has & ~missed & ~drop_event & ~no_base
    return s.with_columns(
        pl.when(event).then(0).otherwise(1).alias("CNSR"),
        pl.when(event)
        .then(pl.col("EVDT"))
        .when(no_base)
        .then(pl.col(start))
        .when(no_assess | pl.col("_CUTEV") | ~pl.lit(options.pfs_at_last_known_alive))
        .then(pl.coalesce("LAADT", start))
        .otherwise(pl.max_horizontal("LAADT", "LSTALVDT"))
        .alias("ADT"),
        pl.when(event)
        .then(
            pl.when(pl.col("PDDT").is_not_null() & (pl.col("PDDT") <= pl.col("EVDT")))
            .then(pl.lit("DISEASE PROGRESSION"))
            .otherwise(pl.lit("DEATH"))
        )
        .when(no_base)
        .then(pl.lit("NO BASELINE ASSESSMENT: ORIGIN"))
        .when(has & missed)
        .then(pl.lit("EVENT AFTER TWO OR MORE MISSED ASSESSMENTS: LAST ADEQUATE ASSESSMENT"))
        .when(nact)
        .then(pl.lit("NEW ANTICANCER THERAPY: LAST ADEQUATE ASSESSMENT BEFORE IT"))
        .when(no_assess)
        .then(pl.lit("NO ADEQUATE ASSESSMENT AFTER START: START DATE"))
        .when(pl.col("_CUTEV"))
        .then(pl.lit("EVENT AFTER DATA CUT-OFF: LAST ADEQUATE ASSESSMENT BEFORE IT"))
        .when(pl.lit(options.pfs_at_last_known_alive))
        .then(pl.lit("LAST KNOWN ALIVE"))
        .otherwise(pl.lit("LAST ADEQUATE ASSESSMENT"))
        .alias("DESC"),
        pl.when(event & (pl.col("PDDT").is_null() | (pl.col("PDDT") > pl.col("EVDT"))))
        .then(pl.lit("ADSL"))
        .otherwise(pl.lit("ADRS"))
        .alias("SRC"),
        pl.col(start).alias("STARTDT"),
    )


def _apply_cutoff(subj: pl.DataFrame, ovr: pl.DataFrame | None, cut: date | None) -> pl.DataFrame:
    """What was known at the data cut-off ``cut`` (FDA 2018 guidance; ADaM DCUTDT practice).

    A death after the cut-off is not an event: the subject was alive at the cut-off, so OS is
    censored there (``LSTALVDT`` = the cut-off) and PFS/DOR censored at the last adequate
    assessment on or before it; a last-known-alive date after the cut-off becomes the cut-off;
    new anticancer therapy started after the cut-off is ignored; the caller drops assessments
    after the cut-off. Adds ``_CUT`` (the OS date was moved to the cut-off) and ``_CUTEV`` (a PD
    or death after the cut-off was set aside). A subject whose origin is after the cut-off is an
    error naming the subject.
    """
    if cut is None:
        return subj.with_columns(pl.lit(False).alias("_CUT"), pl.lit(False).alias("_CUTEV"))
    late = subj.filter(pl.col("ORIGINDT") > cut)
    if late.height:
        raise InputErrors(
            [
                Problem(
                    "origin after the data cut-off (rule: every analysed subject starts on or "
                    f"before the cut-off {cut.isoformat()})",
                    column="ORIGINDT",
                    subject=str(r["USUBJID"]),
                    value=str(r["ORIGINDT"]),
                )
                for r in late.iter_rows(named=True)
            ],
            context="ADSL",
        )
    cut_lit = pl.lit(cut, dtype=pl.Date)
    died_after = (pl.col("DTHDT") > cut_lit).fill_null(False)
    lka_after = (pl.col("LSTALVDT") > cut_lit).fill_null(False)
    pd_after = (
        pl.lit(False)
        if ovr is None
        else pl.col("USUBJID").is_in(
            ovr.filter((pl.col("AVALC") == "PD") & (pl.col("ADT") > cut))["USUBJID"].to_list()
        )
    )
    return subj.with_columns(
        (died_after | lka_after).alias("_CUT"),
        (died_after | pd_after).alias("_CUTEV"),
        pl.when(died_after | lka_after)
        .then(cut_lit)
        .otherwise(pl.col("LSTALVDT"))
        .alias("LSTALVDT"),
        pl.when(died_after).then(None).otherwise(pl.col("DTHDT")).alias("DTHDT"),
        pl.when(pl.col("NACTDT") > cut_lit).then(None).otherwise(pl.col("NACTDT")).alias("NACTDT"),
    )


def assessments_until(adrs: pl.DataFrame, cut: date | None) -> pl.DataFrame:
    """ADRS without the timepoint (``OVR``) rows dated after the data cut-off ``cut``.

    Other rows (BOR, CBOR) are kept as given: derive them from the rows this returns (the
    ``hcctrial endpoints`` command does) so that best responses, too, are what was known at
    the cut-off.
    """
    if cut is None or "ADT" not in adrs.columns or "PARAMCD" not in adrs.columns:
        return adrs
    day = (
        pl.col("ADT")
        if adrs.schema["ADT"] == pl.Date
        else pl.col("ADT").cast(pl.Utf8).str.slice(0, 10).str.to_date(strict=False)
    )
    late = (pl.col("PARAMCD") == "OVR") & (day > pl.lit(cut, dtype=pl.Date)).fill_null(False)
    return adrs.filter(~late)


def _overall_survival(
    subj: pl.DataFrame, ovr: pl.DataFrame | None, options: EndpointOptions
) -> pl.DataFrame:
    """OS: death from any cause; else censored at the last known alive date (protocol
    ``at_last_known_alive: true``, the default) or, with ``os_at_last_known_alive=False``, at the
    last adequate tumour assessment (the origin when there is none). Without tumour assessments
    the last-known-alive rule is the only one that can be applied."""
    by_assessment = not options.os_at_last_known_alive and ovr is not None
    s = subj
    if by_assessment and ovr is not None:
        laa = (
            ovr.filter(pl.col("AVALC").is_in(ADEQUATE))
            .group_by("USUBJID")
            .agg(pl.col("ADT").max().alias("_LAADT"))
        )
        s = s.join(laa, on="USUBJID", how="left")
        censor_at = pl.coalesce("_LAADT", "ORIGINDT")
        censor_desc = (
            pl.when(pl.col("_LAADT").is_null())
            .then(pl.lit("NO ADEQUATE ASSESSMENT: ORIGIN"))
            .otherwise(pl.lit("LAST ADEQUATE ASSESSMENT"))
        )
    else:
        censor_at = pl.col("LSTALVDT")
        censor_desc = (
            pl.when(pl.col("_CUT"))
            .then(pl.lit("ALIVE AT DATA CUT-OFF"))
            .otherwise(pl.lit("LAST KNOWN ALIVE"))
        )
    dead = pl.col("DTHDT").is_not_null()
    return s.with_columns(
        pl.when(dead).then(0).otherwise(1).alias("CNSR"),
        pl.when(dead).then(pl.col("DTHDT")).otherwise(censor_at).alias("ADT"),
        pl.when(dead).then(pl.lit("DEATH")).otherwise(censor_desc).alias("DESC"),
        pl.when(dead | pl.lit(not by_assessment))
        .then(pl.lit("ADSL"))
        .otherwise(pl.lit("ADRS"))
        .alias("SRC"),
    )


def to_polars(df: object, name: str) -> pl.DataFrame:
    """Accept a polars or pandas frame at the API boundary."""
    if isinstance(df, pl.DataFrame):
        return df
    if hasattr(df, "to_dict") and hasattr(df, "columns"):
        return pl.from_pandas(df)
    raise InputError(f"{name} must be a polars or pandas DataFrame", value=type(df).__name__)


def derive_adtte(
    adsl: pl.DataFrame | Any,
    adrs: pl.DataFrame | Any | None = None,
    options: EndpointOptions | None = None,
    new_therapy: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Derive ADTTE rows for OS (always) and PFS, TTR, DOR (when ADRS is given).

    Parameters
    ----------
    adsl : ``USUBJID, ARM``, the origin column, ``DTHDT``, ``LSTALVDT`` (+ optional ``NACTDT``)
    adrs : ``USUBJID, PARAMCD, AVALC, ADT``; OVR rows are timepoint responses, ``BOR``/``CBOR``
        rows the best overall response used to select responders for DOR
    new_therapy : optional ``USUBJID, NACTDT`` (start of new anticancer therapy; earliest used)

    Returns
    -------
    ADTTE with :data:`ADTTE_COLUMNS`; ``CNSR`` 0 = event, 1 = censored.
    """
    options = options or EndpointOptions()
    adsl = to_polars(adsl, "ADSL")
    adrs = None if adrs is None else to_polars(adrs, "ADRS")
    if new_therapy is not None:
        nt = _as_date(new_therapy, "NACTDT").group_by("USUBJID").agg(pl.col("NACTDT").min())
        adsl = adsl.drop("NACTDT", strict=False).join(nt, on="USUBJID", how="left")
    subj = prepare_adsl(adsl, options)
    subj = subj.with_columns(pl.col("ORIGINDT").alias("STARTDT"))
    cut = options.cutoff_date(subj["ORIGINDT"])
    ovr = None if adrs is None else _assessments(adrs, subj)  # checks use the real death dates
    subj = _apply_cutoff(subj, ovr, cut)
    ovr_all = ovr
    if ovr is not None and cut is not None:
        ovr = ovr.filter(pl.col("ADT") <= cut)
    os_ = _overall_survival(subj, ovr, options)
    out = [_finish(os_, "OS", "ADSL", options)]
    if adrs is None or ovr is None:
        return out[0]
    pfs = _progression(subj, ovr, "ORIGINDT", True, options)
    out.append(_finish(pfs, "PFS", "ADRS", options))
    # TTR: first CR/PR; no response -> censored at last adequate assessment (deaths censored)
    first_resp = (
        ovr.filter(pl.col("AVALC").is_in(RESPONDED))
        .group_by("USUBJID")
        .agg(pl.col("ADT").min().alias("RESPDT"))
    )
    laa_all = (
        ovr.filter(pl.col("AVALC").is_in(ADEQUATE))
        .group_by("USUBJID")
        .agg(pl.col("ADT").max().alias("LAADT"))
    )
    ttr = subj.join(first_resp, on="USUBJID", how="left").join(laa_all, on="USUBJID", how="left")
    if options.new_therapy_censors:
        ttr = ttr.with_columns(
            pl.when(pl.col("NACTDT").is_null() | (pl.col("RESPDT") <= pl.col("NACTDT")))
            .then(pl.col("RESPDT"))
            .alias("RESPDT")
        )
    ttr = ttr.with_columns(
        pl.when(pl.col("RESPDT").is_not_null()).then(0).otherwise(1).alias("CNSR"),
        pl.coalesce("RESPDT", "LAADT", "ORIGINDT").alias("ADT"),
        pl.when(pl.col("RESPDT").is_not_null())
        .then(pl.lit("FIRST RESPONSE (CR OR PR)"))
        .when(pl.col("LAADT").is_null())
        .then(pl.lit("NO ADEQUATE POST-BASELINE ASSESSMENT: ORIGIN"))
        .otherwise(pl.lit("NO RESPONSE: LAST ADEQUATE ASSESSMENT"))
        .alias("DESC"),
        pl.lit("ADRS").alias("SRC"),
    )
    out.append(_finish(ttr, "TTR", "ADRS", options))
    # DOR: responders only (BOR/CBOR in CR, PR), from first response to PD or death
    param = options.response_param
    best = adrs.filter(pl.col("PARAMCD") == param)
    if best.height:
        responders = best.filter(pl.col("AVALC").is_in(RESPONDED))["USUBJID"].unique()
    else:
        responders = first_resp["USUBJID"]
    resp = subj.join(first_resp, on="USUBJID", how="inner").filter(
        pl.col("USUBJID").is_in(responders.to_list())
    )
    assert ovr_all is not None
    ever = set(ovr_all.filter(pl.col("AVALC").is_in(RESPONDED))["USUBJID"].to_list())
    missing = set(responders.to_list()) - ever  # responses after a data cut-off still count here
    if missing:
        raise InputErrors(
            [
                Problem(
                    f"{param} is CR/PR but no OVR CR/PR timepoint after the origin",
                    subject=str(s),
                    column="AVALC",
                )
                for s in sorted(missing)
            ],
            context="ADRS",
        )
    if resp.height:
        dor = _progression(resp, ovr, "RESPDT", True, options)
        out.append(_finish(dor, "DOR", "ADRS", options))
    return pl.concat(out, how="vertical_relaxed").sort("PARAMCD", "USUBJID")
