"""CRS and ICANS from study data: the SDTM FA domain to daily ASTCT grades, episodes, checks.

SDTM has no CRS or ICANS domain; the findings behind an ASTCT grade are *findings about* the
syndrome, so they go in FA (SDTM IG v3.4, section 6.4 "Findings About Events or Interventions"),
one row per finding, ``FAOBJ`` naming the syndrome:

=========  ===============================================================================
column     content
=========  ===============================================================================
USUBJID    subject
FAOBJ      ``CYTOKINE RELEASE SYNDROME`` (or ``CRS``) or ``IMMUNE EFFECTOR CELL-ASSOCIATED
           NEUROTOXICITY SYNDROME`` (or ``ICANS``), case-insensitive; rows about other
           objects are counted and left alone
FATESTCD   one of the field names of :data:`~hcctrial.safety.crs.CRS_FIELDS` (``TEMP``,
           ``HYPOTN``, ``VASOPN``, ``O2DEV``, ``O2FLOW`` ...) or
           :data:`~hcctrial.safety.icans.ICANS_FIELDS` (``ICE``, ``LOC``, ``SEIZURE`` ...)
FASTRESC   the value (else ``FAORRES``; numbers may be in ``FASTRESN``): Y/N flags, numbers,
           or the category names of the CRS/ICANS modules
FASTRESU   unit of ``TEMP``: ``C`` (default) or ``F`` (converted, C = (F - 32) x 5 / 9)
FADTC      date (time optional) of the finding; the grade is per calendar day
FAGRPID    optional: findings of one assessment (``O2DEV`` with its ``O2FLOW``)
=========  ===============================================================================

The findings of one subject and syndrome with the same ``FAGRPID`` on one day, or without
``FAGRPID`` the same ``FADTC``, are one assessment (the device and flow of one reading stay
together); a test repeated there starts a further assessment.
Hospital teams may instead give one wide row per subject and day in ``crs.csv`` / ``icans.csv``
with the same names as columns (``USUBJID, ADT, TEMP, ...``), read by
:func:`~hcctrial.safety.crs.grade_crs_daily` directly.

Bad rows (unknown ``FATESTCD``, with the nearest code suggested; a value that does not fit the
test; a partial date; a temperature outside 30-45 C) are listed with their file row; with
``on_error="raise"`` they stop the pass, with ``"collect"`` the row is left out of the grading
and listed. Recorded CRS/ICANS AEs are checked for overlapping episodes of one subject
(:func:`recorded_episode_problems`) and against the grade derived from FA
(:func:`recorded_vs_derived_problems`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from hcctrial.errors import InputErrors, Problem
from hcctrial.io import PROBLEM_SCHEMA
from hcctrial.safety.crs import (
    _TEMP_PLAUSIBLE_C,
    CRS_FIELDS,
    Field,
    episode_overlaps,
    grade_crs_daily,
    summarise_episodes,
    summarise_subjects,
)
from hcctrial.safety.dlt import CRS_TERM, ICANS_TERM
from hcctrial.safety.icans import ICANS_FIELDS, grade_icans_daily

__all__ = [
    "SYNDROME_OBJECTS",
    "CrsIcans",
    "crs_icans_from_fa",
    "grade_crs_icans",
    "problems_frame",
    "recorded_episode_problems",
    "recorded_vs_derived_problems",
]

Syndrome = Literal["CRS", "ICANS"]
#: FAOBJ spellings (upper case) -> syndrome.
SYNDROME_OBJECTS: dict[str, Syndrome] = {
    CRS_TERM: "CRS",
    "CRS": "CRS",
    ICANS_TERM: "ICANS",
    "ICANS": "ICANS",
    "NEUROTOXICITY": "ICANS",
}
_FIELDS: dict[Syndrome, dict[str, Field]] = {"CRS": CRS_FIELDS, "ICANS": ICANS_FIELDS}
_TRUE = {"Y", "YES", "TRUE", "T", "1"}
_FALSE = {"N", "NO", "FALSE", "F", "0"}
_FAHRENHEIT = {"F", "DEGF", "[DEGF]", "°F", "DEG F"}
_CELSIUS = {"C", "CEL", "DEGC", "[DEGC]", "°C", "DEG C"}


@dataclass(frozen=True)
class CrsIcans:
    """Daily ASTCT grades, episodes, per-subject summary and the problems found.

    ``crs`` / ``icans``: the daily tables of :func:`~hcctrial.safety.crs.grade_crs_daily` and
    :func:`~hcctrial.safety.icans.grade_icans_daily` (None when the study has no findings of
    that syndrome); ``episodes``: one row per episode of either syndrome with ``MASKDAYS``
    (CRS days graded with fever masked by antipyretic/anti-cytokine therapy);
    ``subjects``: per subject and syndrome; ``problems``: the problems table
    (:data:`hcctrial.io.PROBLEM_SCHEMA`).
    """

    crs: pl.DataFrame | None
    icans: pl.DataFrame | None
    episodes: pl.DataFrame
    subjects: pl.DataFrame
    problems: pl.DataFrame


def problems_frame(problems: list[Problem], domain: str, action: str) -> pl.DataFrame:
    """Problems as rows of the problems table (:data:`hcctrial.io.PROBLEM_SCHEMA`)."""
    return pl.DataFrame(
        {
            "DOMAIN": [domain] * len(problems),
            "FILE": [p.file for p in problems],
            "ROW": [p.row for p in problems],
            "COLUMN": [p.column for p in problems],
            "USUBJID": [p.subject for p in problems],
            "VALUE": [None if p.value is None else str(p.value) for p in problems],
            "EXPECTED": [p.expected for p in problems],
            "MESSAGE": [p.message for p in problems],
            "ACTION": [action] * len(problems),
        },
        schema=PROBLEM_SCHEMA,
    )


def _text(df: pl.DataFrame, name: str) -> pl.Expr:
    if name not in df.columns:
        return pl.lit(None, pl.Utf8)
    col = pl.col(name).cast(pl.Utf8).str.strip_chars()
    return pl.when(col == "").then(None).otherwise(col)


def _parse(
    rows: pl.DataFrame, spec: Field, code: str, file: str | None
) -> tuple[pl.DataFrame, list[Problem]]:
    """Typed values (``_B`` bool, ``_N`` number, ``_C`` category) of the rows of one test."""
    v = pl.col("_V")
    if spec.kind == "bool":
        up = v.str.to_uppercase()
        typed = rows.with_columns(
            pl.when(up.is_in(sorted(_TRUE)))
            .then(True)
            .when(up.is_in(sorted(_FALSE)))
            .then(False)
            .alias("_B")
        )
        bad = typed.filter(v.is_not_null() & pl.col("_B").is_null())
        expected = "Y/N (or true/false, 1/0)"
    elif spec.kind == "cat":
        norm = v.str.to_lowercase().str.replace_all(r"[\s_]+", "-")
        typed = rows.with_columns(
            pl.when(norm.is_in(list(spec.values))).then(norm).otherwise(None).alias("_C")
        )
        bad = typed.filter(v.is_not_null() & pl.col("_C").is_null())
        expected = "one of " + ", ".join(spec.values)
    else:
        num = v.cast(pl.Float64, strict=False)
        if code == "TEMP":
            unit = pl.col("_U").str.to_uppercase()
            num = pl.when(unit.is_in(sorted(_FAHRENHEIT))).then((num - 32) * 5 / 9).otherwise(num)
        ok = num.is_not_null()
        if spec.kind == "int":
            ok = ok & (num == num.round(0))
        if spec.low is not None:
            ok = ok & (num >= spec.low)
        if spec.high is not None:
            ok = ok & (num <= spec.high)
        if code == "TEMP":
            ok = ok & num.is_between(*_TEMP_PLAUSIBLE_C)
            ok = ok & (pl.col("_U").is_null() | unit.is_in(sorted(_FAHRENHEIT | _CELSIUS)))
        typed = rows.with_columns(pl.when(ok).then(num).otherwise(None).alias("_N"))
        bad = typed.filter(v.is_not_null() & pl.col("_N").is_null())
        lo = "" if spec.low is None else f" >= {spec.low:g}"
        hi = "" if spec.high is None else f" <= {spec.high:g}"
        expected = f"a{'n integer' if spec.kind == 'int' else ' number'}{lo}{hi} ({spec.meaning})"
        if code == "TEMP":
            expected = "a temperature of 30-45 C (FASTRESU C or F)"
    problems = [
        Problem(
            f"{code}: value not understood",
            file=file,
            row=r,
            column="FASTRESC",
            value=val,
            expected=expected,
            subject=s,
        )
        for r, val, s in bad.select("_ROW", "_V", "USUBJID").iter_rows()
    ]
    return typed, problems


def crs_icans_from_fa(
    fa: Any, *, file: str | None = None, on_error: Literal["raise", "collect"] = "raise"
) -> tuple[dict[Syndrome, pl.DataFrame], pl.DataFrame, int]:
    """Wide daily observation tables (one per syndrome) from a long FA domain.

    Returns ``({"CRS": wide, "ICANS": wide}, problems, n_other)``: each wide table has
    ``USUBJID, ADT`` and one column per test found, one row per assessment, ready for
    :func:`~hcctrial.safety.crs.grade_crs_daily` / :func:`~hcctrial.safety.icans.grade_icans_daily`;
    ``problems`` lists bad rows (left out with ``on_error="collect"``); ``n_other`` counts FA
    rows about other objects (not used). Raises :class:`InputErrors` for missing columns, and
    for bad rows with ``on_error="raise"``.
    """
    df = fa if isinstance(fa, pl.DataFrame) else pl.from_pandas(fa)
    need = ["USUBJID", "FAOBJ", "FATESTCD", "FADTC"]
    missing = [c for c in need if c not in df.columns]
    if not {"FASTRESC", "FAORRES", "FASTRESN"} & set(df.columns):
        missing.append("FASTRESC")
    if missing:
        raise InputErrors(
            [Problem("required column missing", file=file, column=c) for c in missing],
            context=file or "FA",
        )
    value = pl.coalesce(
        _text(df, "FASTRESC"),
        _text(df, "FAORRES"),
        pl.col("FASTRESN").cast(pl.Utf8) if "FASTRESN" in df.columns else pl.lit(None, pl.Utf8),
    )
    unit = pl.coalesce(_text(df, "FASTRESU"), _text(df, "FAORRESU"))
    long = df.with_row_index("_ROW", offset=1).select(
        pl.col("_ROW").cast(pl.Int64),
        _text(df, "USUBJID").alias("USUBJID"),
        _text(df, "FAOBJ").str.to_uppercase().alias("_OBJ"),
        _text(df, "FATESTCD").str.to_uppercase().alias("_CODE"),
        value.alias("_V"),
        unit.alias("_U"),
        _text(df, "FADTC").alias("_DTC"),
        _text(df, "FAGRPID").alias("_GRP"),
    )
    long = long.with_columns(
        pl.col("_OBJ").replace_strict(SYNDROME_OBJECTS, default=None).alias("_SYN"),
        pl.col("_DTC")
        .str.slice(0, 10)
        .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        .alias("ADT"),
    )
    n_other = int(long["_SYN"].is_null().sum())
    long = long.filter(pl.col("_SYN").is_not_null())
    problems: list[Problem] = []
    for (r,) in long.filter(pl.col("USUBJID").is_null()).select("_ROW").iter_rows():
        problems.append(Problem("subject id missing", file=file, row=r, column="USUBJID"))
    for r, t, s in (
        long.filter(pl.col("ADT").is_null()).select("_ROW", "_DTC", "USUBJID").iter_rows()
    ):
        problems.append(
            Problem(
                "finding date not a full date",
                file=file,
                row=r,
                column="FADTC",
                value=t,
                expected="YYYY-MM-DD (a time may follow)",
                subject=s,
            )
        )
    typed_parts: list[pl.DataFrame] = []
    for syn, fields in _FIELDS.items():
        other = _FIELDS["ICANS" if syn == "CRS" else "CRS"]
        sub = long.filter(pl.col("_SYN") == syn)
        for r, code, s in (
            sub.filter(~pl.col("_CODE").is_in(list(fields)))
            .select("_ROW", "_CODE", "USUBJID")
            .iter_rows()
        ):
            if code in other:
                hint = f"{code} is an {'ICANS' if syn == 'CRS' else 'CRS'} finding"
            else:
                near = difflib.get_close_matches(str(code), list(fields), n=2, cutoff=0.5)
                hint = f"did you mean {' or '.join(near)}?" if near else "not a known test"
            problems.append(
                Problem(
                    f"unknown {syn} test code: {hint}",
                    file=file,
                    row=r,
                    column="FATESTCD",
                    value=code,
                    expected="one of " + ", ".join(fields),
                    subject=s,
                )
            )
        for code, spec in fields.items():
            rows = sub.filter(pl.col("_CODE") == code)
            if rows.height:
                typed, bad = _parse(rows, spec, code, file)
                problems += bad
                typed_parts.append(typed)
    bad_rows = {p.row for p in problems}
    if problems and on_error == "raise":
        raise InputErrors(problems, context=file or "FA")
    schema = {"_B": pl.Boolean, "_N": pl.Float64, "_C": pl.Utf8}
    typed_all = (
        pl.concat(typed_parts, how="diagonal_relaxed")
        if typed_parts
        else long.head(0).with_columns(pl.lit(None, t).alias(c) for c, t in schema.items())
    )
    for c, t in schema.items():
        if c not in typed_all.columns:
            typed_all = typed_all.with_columns(pl.lit(None, t).alias(c))
    typed_all = typed_all.filter(
        ~pl.col("_ROW").is_in(sorted(bad_rows)) & pl.col("_V").is_not_null()
    )
    # One assessment: the findings of a subject's FAGRPID on one day, else of one FADTC.
    typed_all = typed_all.with_columns(
        pl.coalesce(pl.col("ADT").cast(pl.Utf8) + "|" + pl.col("_GRP"), pl.col("_DTC")).alias(
            "_KEY"
        )
    )
    keys = ["USUBJID", "_SYN", "ADT", "_KEY"]
    typed_all = typed_all.sort("_ROW").with_columns(
        pl.col("_ROW").rank("ordinal").over([*keys, "_CODE"]).alias("_OCC")
    )
    out: dict[Syndrome, pl.DataFrame] = {}
    for syn, fields in _FIELDS.items():
        sub = typed_all.filter(pl.col("_SYN") == syn)
        if not sub.height:
            continue
        wide = sub.select(*keys, "_OCC").unique(maintain_order=True)
        for code, spec in fields.items():
            part = sub.filter(pl.col("_CODE") == code)
            if not part.height:
                continue
            src = {"bool": "_B", "cat": "_C"}.get(spec.kind, "_N")
            cast = pl.Int64 if spec.kind == "int" else None
            val = pl.col(src).cast(cast) if cast else pl.col(src)
            wide = wide.join(
                part.select(*keys, "_OCC", val.alias(code)),
                on=[*keys, "_OCC"],
                how="left",
                nulls_equal=True,
            )
        out[syn] = wide.sort("USUBJID", "ADT", "_KEY").drop("_SYN", "_KEY", "_OCC")
    return out, problems_frame(problems, "FA", "row not graded"), n_other


def grade_crs_icans(
    crs_obs: pl.DataFrame | None,
    icans_obs: pl.DataFrame | None,
    *,
    crs_file: str | None = None,
    icans_file: str | None = None,
) -> CrsIcans:
    """Daily ASTCT grades, episodes (with fever-masked days) and the per-subject summary."""
    crs = grade_crs_daily(crs_obs, file=crs_file) if crs_obs is not None else None
    icans = grade_icans_daily(icans_obs, file=icans_file) if icans_obs is not None else None
    # Sorted as evaluate_dlt numbers them: a CRS/ICANS event's SRCROW is a row of this table.
    crs = crs.sort("USUBJID", "ADT") if crs is not None else None
    icans = icans.sort("USUBJID", "ADT") if icans is not None else None
    parts = []
    if crs is not None:
        masked = (
            crs.filter(pl.col("CRSEPI").is_not_null())
            .group_by("USUBJID", "CRSEPI")
            .agg(pl.col("FEVMASK").sum().cast(pl.Int64).alias("MASKDAYS"))
            .rename({"CRSEPI": "EPISODE"})
        )
        eps = summarise_episodes(crs).join(masked, on=["USUBJID", "EPISODE"], how="left")
        parts.append(eps)
    if icans is not None:
        eps = summarise_episodes(
            icans, grade="ICANSGR", episode="ICANSEPI", syndrome="ICANS"
        ).with_columns(pl.lit(None, pl.Int64).alias("MASKDAYS"))
        parts.append(eps)
    schema = pl.Schema(
        {
            "USUBJID": pl.Utf8,
            "SYNDROME": pl.Utf8,
            "EPISODE": pl.Int64,
            "ASTDT": pl.Date,
            "AENDT": pl.Date,
            "ADURN": pl.Int64,
            "NDAYS": pl.Int64,
            "MAXGR": pl.Int64,
            "MAXGRDT": pl.Date,
            "ONGOING": pl.Boolean,
            "MASKDAYS": pl.Int64,
        }
    )
    episodes = (
        pl.concat([p.select(schema.names()).cast(schema) for p in parts]).sort(
            "USUBJID", "SYNDROME", "ASTDT"
        )
        if parts
        else pl.DataFrame(schema=schema)
    )
    subjects = summarise_subjects(episodes)
    return CrsIcans(crs, icans, episodes, subjects, problems_frame([], "FA", ""))


def recorded_episode_problems(ae: pl.DataFrame, *, file: str | None = None) -> pl.DataFrame:
    """Overlapping recorded CRS (or ICANS) AEs of one subject, as problems with both rows.

    Each recorded AE of the MedDRA preferred term "Cytokine release syndrome" (or "Immune
    effector cell-associated neurotoxicity syndrome") is one episode from ``AESTDT`` to
    ``AEENDT`` (open when the end is missing); two episodes of one subject and syndrome whose
    date ranges overlap are one episode recorded twice, or a second one recorded before the
    first ended. ``ae`` needs ``USUBJID, AEDECOD, AESTDT`` (dates) and optionally ``AEENDT``;
    ``ROW`` is the AE row (``_FILEROW`` when present, else the 1-based row).
    """
    if not {"USUBJID", "AEDECOD", "AESTDT"} <= set(ae.columns):
        return problems_frame([], "AE", "")
    rows = pl.col("_FILEROW") if "_FILEROW" in ae.columns else pl.int_range(1, pl.len() + 1)
    df = ae.with_columns(rows.cast(pl.Int64).alias("_R"))
    term = pl.col("AEDECOD").cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    df = df.with_columns(
        pl.when(term == CRS_TERM)
        .then(pl.lit("CRS"))
        .when(term == ICANS_TERM)
        .then(pl.lit("ICANS"))
        .alias("SYNDROME")
    ).filter(pl.col("SYNDROME").is_not_null() & pl.col("AESTDT").is_not_null())
    if "AEENDT" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Date).alias("AEENDT"))
    rec = df.select("USUBJID", "SYNDROME", "AESTDT", "AEENDT", "_R")
    pairs = episode_overlaps(rec, start="AESTDT", end="AEENDT", file=file)
    index = rec["_R"].to_list()
    problems = []
    for s, syn, r1, r2, a1, e1, a2, e2 in pairs.iter_rows():
        first, second = index[r1 - 1], index[r2 - 1]
        span1 = f"{a1}..{e1 or 'ongoing'}"
        span2 = f"{a2}..{e2 or 'ongoing'}"
        problems.append(
            Problem(
                f"overlapping {syn} episodes: AE rows {first} ({span1}) and {second} ({span2})",
                file=file,
                row=second,
                column="AESTDTC",
                subject=s,
                expected=f"one {syn} AE per episode, the next starting after the last ended",
            )
        )
    return problems_frame(problems, "AE", "kept; check the record")


def recorded_vs_derived_problems(
    ae: pl.DataFrame, episodes: pl.DataFrame, *, file: str | None = None
) -> pl.DataFrame:
    """Recorded CRS/ICANS AEs whose grade differs from the ASTCT grade derived from FA.

    For each recorded CRS (ICANS) AE of a subject with derived episodes of that syndrome, the
    derived episodes overlapping ``AESTDT..AEENDT`` give the worst derived grade; a different
    ``AETOXGR``, or no overlapping derived episode, is a problem naming the AE row. Subjects
    without any derived episode of the syndrome are not compared (their findings may simply
    not be in FA).
    """
    need = {"USUBJID", "AEDECOD", "AESTDT", "AETOXGR"}
    if not need <= set(ae.columns) or episodes.height == 0:
        return problems_frame([], "AE", "")
    rows = pl.col("_FILEROW") if "_FILEROW" in ae.columns else pl.int_range(1, pl.len() + 1)
    term = pl.col("AEDECOD").cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    rec = ae.with_columns(
        rows.cast(pl.Int64).alias("_R"),
        pl.when(term == CRS_TERM)
        .then(pl.lit("CRS"))
        .when(term == ICANS_TERM)
        .then(pl.lit("ICANS"))
        .alias("SYNDROME"),
        (pl.col("AEENDT") if "AEENDT" in ae.columns else pl.lit(None, pl.Date)).alias("_END"),
        pl.col("AETOXGR").cast(pl.Int64, strict=False).alias("_GR"),
    ).filter(pl.col("SYNDROME").is_not_null() & pl.col("AESTDT").is_not_null())
    known = episodes.select("USUBJID", "SYNDROME").unique()
    rec = rec.join(known, on=["USUBJID", "SYNDROME"], how="semi")
    pairs = rec.select("_R", "USUBJID", "SYNDROME", "AESTDT", "_END", "_GR").join(
        episodes.select("USUBJID", "SYNDROME", "ASTDT", "AENDT", "MAXGR"),
        on=["USUBJID", "SYNDROME"],
        how="left",
    )
    overlap = (pl.col("ASTDT") <= pl.col("_END").fill_null(pl.date(9999, 12, 31))) & (
        pl.col("AESTDT") <= pl.col("AENDT")
    )
    worst = pairs.group_by("_R", "USUBJID", "SYNDROME", "_GR", maintain_order=True).agg(
        pl.col("MAXGR").filter(overlap).max().alias("_DER")
    )
    problems = []
    for r, s, syn, gr, der in worst.sort("_R").iter_rows():
        if der is None:
            msg = f"recorded {syn} grade {gr} has no derived ASTCT {syn} episode in its dates"
        elif gr != der:
            msg = f"recorded {syn} grade {gr}, ASTCT grade derived from FA in its dates {der}"
        else:
            continue
        problems.append(
            Problem(
                msg,
                file=file,
                row=r,
                column="AETOXGR",
                subject=s,
                value=gr,
                expected=f"the ASTCT 2019 grade of the FA findings ({der})",
            )
        )
    return problems_frame(problems, "AE", "kept as recorded; check the record")
