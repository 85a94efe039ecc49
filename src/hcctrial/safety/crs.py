"""Cytokine release syndrome (CRS) graded by the ASTCT consensus, day by day and by episode.

Source: Lee DW, Santomasso BD, Locke FL, et al. ASTCT consensus grading for cytokine release
syndrome and neurologic toxicity associated with immune effector cells. Biol Blood Marrow
Transplant 2019;25:625-638, table "ASTCT CRS Consensus Grading" and its footnotes:

=========  ==============  ===================================  ===================================
grade      fever           hypotension                          hypoxia
=========  ==============  ===================================  ===================================
1          >= 38.0 C       none                                 none
2          >= 38.0 C       not requiring vasopressors           low-flow nasal cannula (<= 6 L/min)
                                                                or blow-by
3          >= 38.0 C       a vasopressor with or without        high-flow nasal cannula (> 6 L/min),
                           vasopressin                          facemask, nonrebreather or Venturi
4          >= 38.0 C       multiple vasopressors (excluding     positive pressure (CPAP, BiPAP,
                           vasopressin)                         intubation, mechanical ventilation)
5          death due to CRS in which another cause is not the principal factor (Lee 2019, text)
=========  ==============  ===================================  ===================================

- Grade is the more severe of hypotension and hypoxia, each "not attributable to any other
  cause"; fever is required (and must not be attributable to another cause).
- "In patients who have CRS then receive antipyretic or anticytokine therapy such as
  tocilizumab or steroids, fever is no longer required to grade subsequent CRS severity. In
  this case, CRS grading is driven by hypotension and/or hypoxia." (footnote). Here: once a
  CRS episode has begun (a day with attributable fever), an antipyretic or anti-cytokine given
  in that episode masks fever for the rest of the episode; on masked days the grade is the
  hypotension/hypoxia grade (2-4), and a masked day with neither ends the episode.
- Vasopressor *dose* is not an ASTCT criterion (the "high-dose vasopressor" criterion of
  Lee et al., Blood 2014;124:188-195, Table 2, was dropped); ``VASOHD`` is carried to the
  output for review but does not change the grade.

Input: one row per subject per day (several rows of one day are combined by taking the most
severe value of each field), columns:

``USUBJID``; ``ADT`` (date or ISO ``YYYY-MM-DD``); ``TEMP`` (highest temperature of the day,
C); ``FEVOTH`` (fever attributable to another cause, e.g. documented infection); ``ANTIPYR``
(antipyretic given), ``ANTICYT`` (anti-cytokine therapy: tocilizumab, steroids, anakinra);
``HYPOTN`` (hypotension); ``VASOPN`` (number of vasopressors other than vasopressin);
``VASOPRSN`` (vasopressin given); ``VASOHD`` (high-dose vasopressor, informational);
``HYPOTOTH`` (hypotension attributable to another cause); ``O2DEV`` (see :data:`O2_DEVICES`);
``O2FLOW`` (L/min); ``HYPOXOTH`` (hypoxia attributable to another cause); ``DTHCRS`` (death
due to CRS). Only ``USUBJID``, ``ADT`` and ``TEMP`` are required; an absent optional column
means "not present" on every day, a null value means "not recorded" that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from hcctrial.errors import InputError, InputErrors, Problem

FEVER_C = 38.0  # Lee 2019, CRS table footnote: "Fever is defined as temperature >= 38 C".
LOW_FLOW_MAX_L_MIN = 6.0  # Lee 2019, CRS table footnote: low-flow nasal cannula <= 6 L/min.
_TEMP_PLAUSIBLE_C = (30.0, 45.0)  # outside this a value is a unit slip (F) or a typo.

# Oxygen delivery -> hypoxia grade (Lee 2019, ASTCT CRS Consensus Grading, hypoxia row).
# Nasal cannula of either kind is graded by flow when O2FLOW is given (<= 6 low, > 6 high).
O2_DEVICES: dict[str, int] = {
    "none": 0,
    "room-air": 0,
    "blow-by": 2,
    "nasal-cannula": 2,
    "high-flow-nasal-cannula": 3,
    "facemask": 3,
    "nonrebreather": 3,
    "venturi": 3,
    "cpap": 4,
    "bipap": 4,
    "mechanical-ventilation": 4,
}
_NASAL = ("nasal-cannula", "high-flow-nasal-cannula")

ColumnKind = Literal["bool", "int", "float", "cat"]


@dataclass(frozen=True)
class Field:
    """An input column: its kind, allowed values (categories) or range, and its meaning."""

    kind: ColumnKind
    meaning: str
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


CRS_FIELDS: dict[str, Field] = {
    "TEMP": Field("float", "highest temperature of the day, C", low=0.0),
    "FEVOTH": Field("bool", "fever attributable to another cause"),
    "ANTIPYR": Field("bool", "antipyretic given"),
    "ANTICYT": Field("bool", "anti-cytokine therapy given (tocilizumab, steroids)"),
    "HYPOTN": Field("bool", "hypotension"),
    "VASOPN": Field("int", "number of vasopressors other than vasopressin", low=0, high=10),
    "VASOPRSN": Field("bool", "vasopressin given"),
    "VASOHD": Field("bool", "high-dose vasopressor (informational)"),
    "HYPOTOTH": Field("bool", "hypotension attributable to another cause"),
    "O2DEV": Field("cat", "oxygen delivery", values=tuple(O2_DEVICES)),
    "O2FLOW": Field("float", "oxygen flow, L/min", low=0.0, high=80.0),
    "HYPOXOTH": Field("bool", "hypoxia attributable to another cause"),
    "DTHCRS": Field("bool", "death due to CRS"),
}

_TRUE = {"Y", "YES", "TRUE", "T", "1"}
_FALSE = {"N", "NO", "FALSE", "F", "0"}


def _to_polars(df: Any) -> pl.DataFrame:
    if isinstance(df, pl.DataFrame):
        return df
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(df, pd.DataFrame):
        return pl.from_pandas(df)
    raise InputError("expected a polars or pandas DataFrame", value=type(df).__name__)


def _coerce(
    df: pl.DataFrame, name: str, spec: Field, file: str | None, problems: list[Problem]
) -> pl.Series:
    """The column as a typed series (bool/int/float/lower-case text); bad values -> problems."""
    raw = df[name]
    rows = pl.Series(range(1, df.height + 1))
    text = raw.cast(pl.Utf8, strict=False).str.strip_chars()
    text = pl.Series(name, [None if t in (None, "") else t for t in text.to_list()], pl.Utf8)
    expected: str
    if spec.kind == "bool":
        if raw.dtype == pl.Boolean:
            return raw
        upper = text.str.to_uppercase()
        out = pl.Series(
            name, [None if u is None else (u in _TRUE) for u in upper.to_list()], pl.Boolean
        )
        bad = upper.is_not_null() & ~upper.is_in(sorted(_TRUE | _FALSE))
        expected = "Y/N (or true/false, 1/0)"
    elif spec.kind == "cat":
        out = text.str.to_lowercase().str.replace_all(r"[\s_]+", "-")
        bad = out.is_not_null() & ~out.is_in(list(spec.values))
        expected = "one of " + ", ".join(spec.values)
    else:
        dtype = pl.Int64 if spec.kind == "int" else pl.Float64
        num = text.cast(pl.Float64, strict=False)
        bad = text.is_not_null() & num.is_null()
        if spec.kind == "int":
            bad = bad | (num.is_not_null() & (num != num.round(0)))
        in_range = pl.Series([True] * df.height)
        if spec.low is not None:
            in_range = in_range & (num.fill_null(spec.low) >= spec.low)
        if spec.high is not None:
            in_range = in_range & (num.fill_null(spec.high) <= spec.high)
        bad = bad | ~in_range
        out = num.cast(dtype, strict=False)
        lo = "" if spec.low is None else f" >= {spec.low:g}"
        hi = "" if spec.high is None else f" <= {spec.high:g}"
        expected = f"a{'n integer' if spec.kind == 'int' else ' number'}{lo}{hi} ({spec.meaning})"
    for row, value in zip(rows.filter(bad), raw.filter(bad), strict=True):
        problems.append(
            Problem(
                "value not understood",
                file=file,
                row=row,
                column=name,
                value=value,
                expected=expected,
            )
        )
    return out.alias(name)


def prepare_daily(
    obs: Any, fields: dict[str, Field], *, required: tuple[str, ...], file: str | None = None
) -> pl.DataFrame:
    """Check and type a daily observation table; one row per ``USUBJID`` and ``ADT``.

    Several rows of one subject-day are combined by the most severe value of each field
    (maximum for numbers and flags, the highest-graded category for ``cat`` fields is chosen
    by the caller's grading, so categories are kept as a list). Raises :class:`InputErrors`
    listing every bad cell.
    """
    df = _to_polars(obs)
    problems: list[Problem] = []
    for col in ("USUBJID", "ADT", *required):
        if col not in df.columns:
            problems.append(Problem("required column missing", file=file, column=col))
    if problems:
        raise InputErrors(problems, context=file or "daily observations")
    if df.height == 0:
        raise InputError("no observations", file=file)
    subj = df["USUBJID"].cast(pl.Utf8)
    for i, s in enumerate(subj.to_list(), start=1):
        if s is None or not s.strip():
            problems.append(Problem("subject id missing", file=file, row=i, column="USUBJID"))
    adt = df["ADT"]
    if adt.dtype != pl.Date:
        if adt.dtype == pl.Datetime:
            adt = adt.dt.date()
        else:
            txt = adt.cast(pl.Utf8)
            adt = txt.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            for i, (t, d) in enumerate(zip(txt.to_list(), adt.to_list(), strict=True), 1):
                if d is None:
                    problems.append(
                        Problem(
                            "observation date not a full date",
                            file=file,
                            row=i,
                            column="ADT",
                            value=t,
                            expected="YYYY-MM-DD",
                        )
                    )
    cols: dict[str, pl.Series] = {"USUBJID": subj, "ADT": adt.alias("ADT")}
    for name, spec in fields.items():
        if name in df.columns:
            cols[name] = _coerce(df, name, spec, file, problems)
        else:
            dtype = {"bool": pl.Boolean, "int": pl.Int64, "float": pl.Float64, "cat": pl.Utf8}
            default: object = {"bool": False, "int": 0, "float": None, "cat": None}[spec.kind]
            cols[name] = pl.Series(name, [default] * df.height, dtype[spec.kind])
    if problems:
        raise InputErrors(problems, context=file or "daily observations")
    return pl.DataFrame(cols).with_row_index("_ROW", offset=1)


def _hypoxia_grade(device: str | None, flow: float | None) -> int:
    if device is None:
        return 0
    if device in _NASAL and flow is not None:
        return 2 if flow <= LOW_FLOW_MAX_L_MIN else 3  # Lee 2019 footnote: <= 6 low, > 6 high
    return O2_DEVICES[device]


def _hypotension_grade(
    hypotn: bool | None, n_pressors: int | None, vasopressin: bool | None
) -> int:
    n = n_pressors or 0
    if n >= 2:
        return 4  # multiple vasopressors, vasopressin excluded from the count
    if n == 1 or vasopressin:
        return 3  # a vasopressor with or without vasopressin
    return 2 if hypotn else 0  # hypotension not requiring vasopressors


def grade_crs_daily(obs: Any, *, file: str | None = None) -> pl.DataFrame:
    """Daily ASTCT CRS grade per subject, with the episode each day belongs to.

    Parameters
    ----------
    obs
        Daily observations (see the module docstring for the columns).
    file
        Name used in error messages.

    Returns
    -------
    polars.DataFrame
        One row per ``USUBJID`` and ``ADT``: ``FEVER`` (attributable fever >= 38.0 C),
        ``FEVMASK`` (fever masked by antipyretic/anti-cytokine therapy within an established
        episode), ``HYPOTGR``, ``HYPOXGR`` (0, 2, 3, 4; 0 when attributable to another cause),
        ``VASOHD``, ``CRSGR`` (0-5), ``CRSEPI`` (episode number, null on grade 0 days) and
        ``CRSRSN`` (how the grade was reached).

    Notes
    -----
    ``CRSGR = max(1, HYPOTGR, HYPOXGR)`` on a day with attributable fever; ``max(HYPOTGR,
    HYPOXGR)`` on a masked day; 5 with ``DTHCRS``; otherwise 0 (Lee et al. 2019, ASTCT CRS
    Consensus Grading and footnotes).
    """
    df = prepare_daily(obs, CRS_FIELDS, required=("TEMP",), file=file)
    problems = [
        Problem(
            "temperature outside 30-45 C (a Fahrenheit value?)",
            file=file,
            row=r,
            column="TEMP",
            value=t,
            expected="degrees Celsius",
        )
        for r, t in df.filter(
            pl.col("TEMP").is_not_null() & ~pl.col("TEMP").is_between(*_TEMP_PLAUSIBLE_C)
        )
        .select("_ROW", "TEMP")
        .iter_rows()
    ]
    if problems:
        raise InputErrors(problems, context=file or "CRS observations")
    day = df.group_by("USUBJID", "ADT", maintain_order=True).agg(
        pl.col("TEMP").max(),
        *[pl.col(c).any() for c in ("FEVOTH", "ANTIPYR", "ANTICYT", "VASOPRSN", "VASOHD")],
        *[pl.col(c).any() for c in ("HYPOTN", "HYPOTOTH", "HYPOXOTH", "DTHCRS")],
        pl.col("VASOPN").max(),
        pl.struct("O2DEV", "O2FLOW")
        .map_elements(lambda s: _hypoxia_grade(s["O2DEV"], s["O2FLOW"]), return_dtype=pl.Int64)
        .max()
        .alias("_O2GR"),
    )
    day = day.with_columns(
        pl.when(pl.col("HYPOTOTH").fill_null(False))
        .then(0)
        .otherwise(
            pl.struct("HYPOTN", "VASOPN", "VASOPRSN").map_elements(
                lambda s: _hypotension_grade(s["HYPOTN"], s["VASOPN"], s["VASOPRSN"]),
                return_dtype=pl.Int64,
            )
        )
        .alias("HYPOTGR"),
        pl.when(pl.col("HYPOXOTH").fill_null(False))
        .then(0)
        .otherwise(pl.col("_O2GR").fill_null(0))
        .alias("HYPOXGR"),
        (pl.col("ANTIPYR").fill_null(False) | pl.col("ANTICYT").fill_null(False)).alias("_THER"),
    )
    day = day.with_columns(pl.col("TEMP").fill_null(0.0).ge(FEVER_C).alias("_HOT"))
    day = day.with_columns(
        (pl.col("_HOT") & ~pl.col("FEVOTH").fill_null(False)).alias("FEVER")
    ).sort("USUBJID", "ADT")
    grades, episodes, masks, reasons = _walk_episodes(day)
    out = day.with_columns(
        pl.Series("FEVMASK", masks, pl.Boolean),
        pl.Series("CRSGR", grades, pl.Int64),
        pl.Series("CRSEPI", episodes, pl.Int64),
        pl.Series("CRSRSN", reasons, pl.Utf8),
    )
    return out.select(
        "USUBJID",
        "ADT",
        "TEMP",
        "FEVER",
        "FEVMASK",
        "HYPOTGR",
        "HYPOXGR",
        "VASOHD",
        "CRSGR",
        "CRSEPI",
        "CRSRSN",
    )


def _walk_episodes(
    day: pl.DataFrame,
) -> tuple[list[int], list[int | None], list[bool], list[str]]:
    """Walk each subject's days in date order, applying the fever-masking rule by episode."""
    grades: list[int] = []
    episodes: list[int | None] = []
    masks: list[bool] = []
    reasons: list[str] = []
    subject: str | None = None
    in_episode, masked, n_episodes = False, False, 0
    for r in day.iter_rows(named=True):
        if r["USUBJID"] != subject:
            subject, in_episode, masked, n_episodes = r["USUBJID"], False, False, 0
        organ = max(r["HYPOTGR"], r["HYPOXGR"])
        is_masked = in_episode and masked and not r["FEVER"]
        if r["DTHCRS"]:
            grade, why = 5, "death due to CRS (grade 5)"
        elif r["FEVER"]:
            grade, why = max(1, organ), "fever >= 38.0 C" + _organ_text(r)
        elif is_masked and organ > 0:
            grade, why = organ, "fever masked by antipyretic/anti-cytokine therapy" + _organ_text(r)
        elif r["_HOT"]:
            grade, why = 0, "fever attributed to another cause"
        elif organ > 0:
            grade, why = 0, "hypotension/hypoxia without fever (not CRS unless masked)"
        else:
            grade, why = 0, "no fever, hypotension or hypoxia"
        if grade > 0 and not in_episode:
            n_episodes += 1
            in_episode, masked = True, False
        elif grade == 0:
            in_episode, masked = False, False
        if in_episode and r["_THER"]:
            masked = True
        grades.append(grade)
        episodes.append(n_episodes if grade > 0 else None)
        masks.append(bool(is_masked and organ > 0))
        reasons.append(why)
        if grade == 5:
            in_episode, masked = False, False
    return grades, episodes, masks, reasons


def _organ_text(r: dict[str, Any]) -> str:
    parts = []
    if r["HYPOTGR"]:
        parts.append(f"hypotension grade {r['HYPOTGR']}")
    if r["HYPOXGR"]:
        parts.append(f"hypoxia grade {r['HYPOXGR']}")
    return (" with " + " and ".join(parts)) if parts else " without hypotension or hypoxia"


def summarise_episodes(
    daily: pl.DataFrame, *, grade: str = "CRSGR", episode: str = "CRSEPI", syndrome: str = "CRS"
) -> pl.DataFrame:
    """One row per episode: onset, last day, duration, maximum grade and the day it was reached.

    ``ADURN = AENDT - ASTDT + 1`` days (onset and last graded day both counted); ``ONGOING``
    is true when the subject's last observation still has a grade >= 1 (duration then is a
    lower bound). Works for CRS (``CRSGR``/``CRSEPI``) and ICANS (``ICANSGR``/``ICANSEPI``).
    """
    last = daily.group_by("USUBJID").agg(pl.col("ADT").max().alias("_LAST"))
    eps = (
        daily.filter(pl.col(episode).is_not_null())
        .sort("USUBJID", "ADT")
        .group_by("USUBJID", episode, maintain_order=True)
        .agg(
            pl.col("ADT").min().alias("ASTDT"),
            pl.col("ADT").max().alias("AENDT"),
            pl.col(grade).max().alias("MAXGR"),
            pl.col("ADT").sort_by(pl.col(grade), descending=True).first().alias("MAXGRDT"),
            pl.len().alias("NDAYS"),
        )
        .join(last, on="USUBJID", how="left")
    )
    return eps.select(
        "USUBJID",
        pl.lit(syndrome).alias("SYNDROME"),
        pl.col(episode).alias("EPISODE"),
        "ASTDT",
        "AENDT",
        ((pl.col("AENDT") - pl.col("ASTDT")).dt.total_days() + 1).alias("ADURN"),
        "NDAYS",
        "MAXGR",
        "MAXGRDT",
        (pl.col("AENDT") == pl.col("_LAST")).alias("ONGOING"),
    )


def summarise_subjects(episodes: pl.DataFrame) -> pl.DataFrame:
    """Per subject and syndrome: number of episodes, first onset, maximum grade, days affected."""
    return (
        episodes.group_by("USUBJID", "SYNDROME", maintain_order=True)
        .agg(
            pl.len().alias("NEPISODES"),
            pl.col("ASTDT").min().alias("FIRSTONSET"),
            pl.col("MAXGR").max().alias("MAXGR"),
            pl.col("NDAYS").sum().alias("NDAYS"),
            pl.col("ONGOING").any().alias("ONGOING"),
        )
        .sort("USUBJID", "SYNDROME")
    )


def episode_overlaps(
    episodes: Any, *, start: str = "ASTDT", end: str = "AENDT", file: str | None = None
) -> pl.DataFrame:
    """Pairs of episodes of one subject and syndrome whose date ranges overlap.

    For episode tables recorded by sites (e.g. CE/FA domains) rather than derived here: the
    derived episodes cannot overlap, recorded ones can (a second CRS recorded before the first
    ended). Returns ``USUBJID, SYNDROME, ROW1, ROW2, ASTDT1, AENDT1, ASTDT2, AENDT2`` (rows
    1-based); an empty table when none overlap. A null end is treated as ongoing.
    """
    df = _to_polars(episodes)
    missing = [c for c in ("USUBJID", start) if c not in df.columns]
    if missing:
        raise InputErrors(
            [Problem("required column missing", file=file, column=c) for c in missing],
            context=file or "episodes",
        )
    if "SYNDROME" not in df.columns:
        df = df.with_columns(pl.lit("CRS").alias("SYNDROME"))
    if end not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Date).alias(end))
    df = df.with_row_index("ROW", offset=1).select(
        "ROW", "USUBJID", "SYNDROME", pl.col(start).alias("S"), pl.col(end).alias("E")
    )
    pairs = df.join(df, on=["USUBJID", "SYNDROME"], suffix="2").filter(
        (pl.col("ROW") < pl.col("ROW2"))
        & (pl.col("S") <= pl.col("E2").fill_null(pl.date(9999, 12, 31)))
        & (pl.col("S2") <= pl.col("E").fill_null(pl.date(9999, 12, 31)))
    )
    return pairs.select(
        "USUBJID",
        "SYNDROME",
        pl.col("ROW").alias("ROW1"),
        "ROW2",
        pl.col("S").alias("ASTDT1"),
        pl.col("E").alias("AENDT1"),
        pl.col("S2").alias("ASTDT2"),
        pl.col("E2").alias("AENDT2"),
    )
