"""Best overall response, unconfirmed (BOR) and confirmed (CBOR), vectorized over subjects.

Rules (Eisenhauer et al. 2009, section 4.4.3 and Table 3, section 4.6; restated as in the
documented derivation of pharmaverse admiralonco ``derive_param_bor`` /
``derive_param_confirmed_bor``):

1. Assessments are used up to and including the first PD, and not after the start of a new
   anticancer therapy (an assessment on that day is kept: it precedes the therapy).
2. Unconfirmed BOR, best first: CR; PR; SD (CR, PR or SD at least ``sd_min_days`` after the
   reference start); NON-CR/NON-PD (same window); PD; NE (NE, or a response too early for
   the SD window). Ties: the earliest assessment.
3. Confirmed BOR: CR needs a later CR at least ``confirm_days`` after it with only CR or NE
   between (at most ``max_ne_between`` NE); PR needs a later CR or PR at least
   ``confirm_days`` after it with only CR, PR, NE (and, if ``accept_sd``, one SD) between, at
   most ``max_ne_between`` NE, and no PR after a CR in that interval. An unconfirmed CR or PR
   late enough counts as SD (RECIST 1.1 Table 3: "PR then SD -> SD"). Then as in 2.
4. A subject with no usable assessment gets NE with the reason (RECIST 1.1 section 4.4.3:
   inevaluable), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hcctrial.errors import InputError
from hcctrial.response.prepare import PROBLEM_SCHEMA, SUBJECT_KEYS, empty_problems, problems_frame

KEYS = SUBJECT_KEYS

__all__ = ["BestOverallResponse", "derive_best_overall_response", "summarise_best_response"]

RESPONSES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
_RANK = {r: i for i, r in enumerate(RESPONSES)}


@dataclass(frozen=True)
class BestOverallResponse:
    """ADRS with OVR (used rows flagged ``ANL01FL``), BOR and CBOR; and the problems found."""

    adrs: pl.DataFrame
    problems: pl.DataFrame


def _subject_dates(df: pl.DataFrame | None, name: str, out: str) -> pl.DataFrame | None:
    """``USUBJID`` and one date column (the first non-USUBJID column) renamed to ``out``."""
    if df is None:
        return None
    if not isinstance(df, pl.DataFrame):
        df = pl.from_pandas(df)
    if "USUBJID" not in df.columns or df.width < 2:
        raise InputError(
            f"{name} needs USUBJID and a date column",
            column="USUBJID",
            expected="columns USUBJID, <date>",
        )
    col = next(c for c in df.columns if c != "USUBJID")
    values = df.get_column(col)
    if values.dtype != pl.Date:
        values = values.cast(pl.Utf8).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    res = pl.DataFrame({"USUBJID": df.get_column("USUBJID").cast(pl.Utf8), out: values})
    return res.group_by("USUBJID").agg(pl.col(out).min())


def derive_best_overall_response(
    adrs: object,
    reference_start: pl.DataFrame | None = None,
    *,
    confirm_days: int = 28,
    sd_min_days: int = 42,
    max_ne_between: int = 1,
    accept_sd: bool = False,
    anticancer_start: pl.DataFrame | None = None,
    criteria_label: str = "RECIST 1.1",
) -> BestOverallResponse:
    """Add BOR and CBOR parameters to an ADRS holding OVR (timepoint overall response) rows.

    Parameters
    ----------
    adrs : polars or pandas DataFrame
        ``USUBJID, PARAMCD, AVALC, ADT`` (+ optional ``RSEVAL, RSEVALID, VISIT, VISITNUM``,
        ``BASEDT``), e.g. ``derive_timepoint_response(...).adrs``.
    reference_start : DataFrame, optional
        ``USUBJID`` and the reference date (first infusion, randomization, first TACE: as the
        protocol says). Missing: the baseline scan date (``BASEDT``) is used.
    confirm_days : int
        Minimum days between a response and its confirmation (RECIST 1.1 section 4.6: "no
        less than 4 weeks"; default 28).
    sd_min_days : int
        Minimum days from the reference start for SD (RECIST 1.1 section 4.4.3 leaves it to the
        protocol, "in general not less than 6-8 weeks"; default 42).
    max_ne_between : int
        NE assessments accepted between a response and its confirmation (admiralonco default 1).
    accept_sd : bool
        Accept one SD between a PR and its confirmation (admiralonco ``accept_sd``).
    anticancer_start : DataFrame, optional
        ``USUBJID`` and the start date of new anticancer therapy; later assessments not used.

    Returns
    -------
    BestOverallResponse
        ``adrs`` with the OVR rows (``ANL01FL = "Y"`` where used) and one BOR and one CBOR row
        per subject-evaluator; ``problems``.
    """
    for name, value in (
        ("confirm_days", confirm_days),
        ("sd_min_days", sd_min_days),
        ("max_ne_between", max_ne_between),
    ):
        if int(value) < 0:
            raise InputError(f"{name} must be >= 0", value=value, column=name)
    df = adrs if isinstance(adrs, pl.DataFrame) else pl.from_pandas(adrs)
    missing = [c for c in ("USUBJID", "PARAMCD", "AVALC", "ADT") if c not in df.columns]
    if missing:
        raise InputError(
            f"ADRS lacks column(s) {', '.join(missing)}",
            file="ADRS",
            expected="USUBJID, PARAMCD, AVALC, ADT",
        )
    for k in ("RSEVAL", "RSEVALID"):
        df = df.with_columns(
            (pl.col(k) if k in df.columns else pl.lit(None, pl.Utf8))
            .cast(pl.Utf8)
            .fill_null("")
            .alias(k)
        )
    for c, t in (
        ("VISIT", pl.Utf8),
        ("VISITNUM", pl.Float64),
        ("BASEDT", pl.Date),
        ("RSREASND", pl.Utf8),
    ):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, t).alias(c))
    df = df.with_columns(pl.col("ADT").cast(pl.Date, strict=False))
    ovr = df.filter(pl.col("PARAMCD") == "OVR").with_row_index("_ROW", offset=1)
    bad = ovr.filter(~pl.col("AVALC").is_in(RESPONSES) | pl.col("ADT").is_null())
    problems = [
        empty_problems(),
        problems_frame(
            bad,
            "ADRS",
            "overall response",
            "OVR row without a date or with an unknown response; not used",
            "AVALC",
            pl.col("AVALC"),
        ),
    ]
    o = ovr.join(bad.select("_ROW"), on="_ROW", how="anti")

    ref = _subject_dates(reference_start, "reference_start", "REFDT")
    o = (
        o.join(ref, on="USUBJID", how="left")
        if ref is not None
        else o.with_columns(pl.col("BASEDT").alias("REFDT"))
    )
    nact = _subject_dates(anticancer_start, "anticancer_start", "NACTDT")
    o = (
        o.join(nact, on="USUBJID", how="left")
        if nact is not None
        else o.with_columns(pl.lit(None, pl.Date).alias("NACTDT"))
    )
    no_ref = o.filter(pl.col("REFDT").is_null()).unique(KEYS, keep="first")
    problems.append(
        problems_frame(
            no_ref,
            "ADRS",
            "reference start",
            "no reference start date: SD cannot meet its minimum duration",
            "REFDT",
        )
    )

    pd_dt = pl.col("ADT").filter(pl.col("AVALC") == "PD").min().over(KEYS)
    used = (pl.col("ADT") <= pd_dt).fill_null(True) & (pl.col("ADT") <= pl.col("NACTDT")).fill_null(
        True
    )
    o = o.with_columns(used.alias("_USED"))
    u = (
        o.filter("_USED")
        .sort([*KEYS, "ADT"])
        .with_columns(
            pl.int_range(pl.len()).over(KEYS).alias("_IDX"),
            (pl.col("ADT") >= pl.col("REFDT") + pl.duration(days=sd_min_days))
            .fill_null(False)
            .alias("_SDOK"),
        )
    )
    late_enough = pl.col("AVALC").is_in(["CR", "PR", "SD", "NON-CR/NON-PD"]) & pl.col("_SDOK")
    window_sd = (
        pl.when(pl.col("AVALC").is_in(["CR", "PR", "SD"]) & late_enough)
        .then(pl.lit("SD"))
        .when((pl.col("AVALC") == "NON-CR/NON-PD") & late_enough)
        .then(pl.lit("NON-CR/NON-PD"))
        .when(pl.col("AVALC") == "PD")
        .then(pl.lit("PD"))
        .otherwise(pl.lit("NE"))
    )
    bor_cand = (
        pl.when(pl.col("AVALC").is_in(["CR", "PR"])).then(pl.col("AVALC")).otherwise(window_sd)
    )
    confirmed = _confirmed(u, confirm_days, max_ne_between, accept_sd)
    u = u.join(confirmed, on=[*KEYS, "_IDX"], how="left").with_columns(
        bor_cand.alias("_BOR"),
        pl.when(pl.col("_CONF").fill_null(False))
        .then(pl.col("AVALC"))
        .otherwise(window_sd)
        .alias("_CBOR"),
    )
    subjects = ovr.select(KEYS).unique()
    if ref is not None:
        subjects = pl.concat(
            [
                subjects,
                ref.select(
                    "USUBJID", pl.lit("").alias("RSEVAL"), pl.lit("").alias("RSEVALID")
                ).join(subjects.select("USUBJID"), on="USUBJID", how="anti"),
            ]
        )
    label = criteria_label
    rows = [
        _pick(u, subjects, "_BOR", "BOR", f"Best Overall Response by {label}", sd_min_days),
        _pick(
            u, subjects, "_CBOR", "CBOR", f"Confirmed Best Overall Response by {label}", sd_min_days
        ),
    ]
    rows = [r.with_columns(pl.lit(label).alias("PARCAT1")) for r in rows]
    ovr_out = o.select(
        *[c for c in df.columns if c in o.columns],
        pl.when(pl.col("_USED")).then(pl.lit("Y")).alias("ANL01FL"),
    )
    out = (
        pl.concat([ovr_out, *rows], how="diagonal_relaxed")
        .with_columns(pl.col(k).replace("", None) for k in ("RSEVAL", "RSEVALID"))
        .sort(["USUBJID", "RSEVAL", "RSEVALID", "PARAMCD", "ADT"], nulls_last=True)
    )
    return BestOverallResponse(
        adrs=out,
        problems=pl.concat(problems, how="diagonal_relaxed")
        .select(list(PROBLEM_SCHEMA))
        .cast(PROBLEM_SCHEMA),
    )


def _confirmed(u: pl.DataFrame, confirm_days: int, max_ne: int, accept_sd: bool) -> pl.DataFrame:
    """``(KEYS, _IDX, _CONF)`` for CR/PR rows: confirmed per the rules in the module doc."""
    a = u.filter(pl.col("AVALC").is_in(["CR", "PR"])).select(
        *KEYS, "_IDX", pl.col("AVALC").alias("_A"), pl.col("ADT").alias("_ADT")
    )
    b = u.select(*KEYS, pl.col("_IDX").alias("_J"), "AVALC", "ADT")
    pairs = a.join(b, on=KEYS, how="inner").filter(pl.col("_J") > pl.col("_IDX"))
    confirms = (pl.col("ADT") >= pl.col("_ADT") + pl.duration(days=confirm_days)) & (
        pl.when(pl.col("_A") == "CR")
        .then(pl.col("AVALC") == "CR")
        .otherwise(pl.col("AVALC").is_in(["CR", "PR"]))
    )
    pairs = pairs.with_columns(
        pl.col("_J").filter(confirms).min().over([*KEYS, "_IDX"]).alias("_JC")
    )
    win = pairs.filter(pl.col("_J") <= pl.col("_JC"))
    allowed = (
        pl.when(pl.col("_A") == "CR")
        .then(pl.col("AVALC").is_in(["CR", "NE"]))
        .otherwise(pl.col("AVALC").is_in(["CR", "PR", "SD", "NE"]))
    )
    agg = win.group_by([*KEYS, "_IDX"]).agg(
        pl.col("_A").first(),
        allowed.all().alias("_OK"),
        (pl.col("AVALC") == "NE").sum().alias("_NNE"),
        (pl.col("AVALC") == "SD").sum().alias("_NSD"),
        pl.col("ADT").filter(pl.col("AVALC") == "CR").min().alias("_FIRSTCR"),
        pl.col("ADT").filter(pl.col("AVALC") == "PR").max().alias("_LASTPR"),
    )
    cr_then_pr = (pl.col("_FIRSTCR") < pl.col("_LASTPR")).fill_null(False)
    conf = (
        pl.col("_OK")
        & (pl.col("_NNE") <= max_ne)
        & ((pl.col("_A") == "CR") | ((pl.col("_NSD") <= (1 if accept_sd else 0)) & ~cr_then_pr))
    )
    return agg.select(*KEYS, "_IDX", conf.alias("_CONF"))


def _pick(
    u: pl.DataFrame, subjects: pl.DataFrame, cand: str, paramcd: str, param: str, sd_min_days: int
) -> pl.DataFrame:
    """One row per subject: the best candidate response, earliest on ties; NE if none."""
    best = (
        u.with_columns(pl.col(cand).replace_strict(_RANK, return_dtype=pl.Int32).alias("_R"))
        .sort([*KEYS, "_R", "ADT"])
        .group_by(KEYS, maintain_order=True)
        .first()
    )
    reason = (
        pl.when(pl.col("AVALC").is_null())
        .then(pl.lit("no evaluable post-baseline assessment"))
        .when(pl.col("AVALC") != "NE")
        .then(pl.lit(None, pl.Utf8))
        .when(pl.col("_ORIG").is_in(["CR", "PR", "SD", "NON-CR/NON-PD"]))
        .then(
            pl.lit(
                f"response before the minimum SD duration ({sd_min_days} days) and not confirmed"
            )
        )
        .otherwise(pl.col("RSREASND").fill_null("all assessments NE"))
    )
    out = (
        subjects.join(
            best.select(
                *KEYS,
                pl.col(cand).alias("AVALC"),
                pl.col("AVALC").alias("_ORIG"),
                "ADT",
                "VISIT",
                "VISITNUM",
                "RSREASND",
            ),
            on=KEYS,
            how="left",
        )
        .with_columns(reason.alias("RSREASND"))
        .with_columns(
            pl.col("AVALC").fill_null("NE"),
            pl.lit(paramcd).alias("PARAMCD"),
            pl.lit(param).alias("PARAM"),
        )
    )
    return out.drop("_ORIG")


def summarise_best_response(adrs: pl.DataFrame) -> pl.DataFrame:
    """Counts of BOR and CBOR per evaluator: ``RSEVAL, PARAMCD, AVALC, N, PCT``.

    Every response category of RECIST 1.1 (CR, PR, SD, NON-CR/NON-PD, PD, NE) gets a row, zero
    included, in that order; ``PCT`` is ``100 N / subjects`` of that evaluator and parameter.
    """
    best = adrs.filter(pl.col("PARAMCD").is_in(["BOR", "CBOR"])).with_columns(
        pl.col("RSEVAL").cast(pl.Utf8).fill_null("")
    )
    if best.is_empty():
        return pl.DataFrame(
            schema={
                "RSEVAL": pl.Utf8,
                "PARAMCD": pl.Utf8,
                "AVALC": pl.Utf8,
                "N": pl.UInt32,
                "PCT": pl.Float64,
            }
        )
    grid = (
        best.select("RSEVAL", "PARAMCD")
        .unique()
        .join(pl.DataFrame({"AVALC": list(RESPONSES)}), how="cross")
    )
    counts = best.group_by("RSEVAL", "PARAMCD", "AVALC").agg(pl.len().alias("N"))
    out = (
        grid.join(counts, on=["RSEVAL", "PARAMCD", "AVALC"], how="left")
        .with_columns(pl.col("N").fill_null(0).cast(pl.UInt32))
        .with_columns(
            (100 * pl.col("N") / pl.col("N").sum().over("RSEVAL", "PARAMCD")).alias("PCT")
        )
        .with_columns(pl.col("AVALC").replace_strict(_RANK, return_dtype=pl.Int32).alias("_R"))
        .sort("RSEVAL", "PARAMCD", "_R")
        .drop("_R")
    )
    return out.with_columns(pl.col("RSEVAL").replace("", None))
