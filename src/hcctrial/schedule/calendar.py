"""Calendars with dates, windows and doses, for one subject or for many at once (vectorised).

The arm's planned events (:func:`hcctrial.schedule.template.arm_template`, computed once per
arm and dose level) are crossed with the subjects and turned into dates and amounts with
polars expressions, so 100,000 subjects cost one join, not 100,000 Python loops.

Dose formulas (:mod:`hcctrial.clinical.dose`): per m2, amount = dose x BSA (Mosteller:
sqrt(height cm x weight kg / 3600), Mosteller RD, N Engl J Med 1987;317:1098, computed by
:func:`hcctrial.clinical.body.bsa_expr`); per kg, amount = dose x weight; flat, amount = dose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from hcctrial.clinical.body import HEIGHT_CM, WEIGHT_KG, bsa_expr
from hcctrial.clinical.dose import format_amount, parse_basis
from hcctrial.errors import InputError, InputErrors, Problem
from hcctrial.protocol import Protocol, load_protocol
from hcctrial.schedule.template import (
    PlannedEvent,
    arm_template,
    default_horizon_days,
    resolve_arm,
)

__all__ = ["CALENDAR_COLUMNS", "build_calendar", "build_calendars", "template_frame"]

#: Columns of a calendar, in order (the API the simulator relies on).
CALENDAR_COLUMNS = (
    "USUBJID",
    "ARMCD",
    "VISITNUM",
    "VISIT",
    "EVENTID",
    "EVENT",
    "KIND",
    "WHAT",
    "INTERVENTION",
    "EXTRT",
    "OCCURRENCE",
    "CYCLE",
    "CYCLEDAY",
    "DAY",
    "VISITDY",
    "PLANDT",
    "WINLODT",
    "WINHIDT",
    "DURMIN",
    "DURMAX",
    "ENDLODT",
    "ENDHIDT",
    "DOSE",
    "DOSEHI",
    "DOSEU",
    "DOSEBASIS",
    "BSA",
    "EXDOSE",
    "EXDOSEHI",
    "EXDOSU",
    "DOSECALC",
)


def _visit_name(day: int, offset: int, day1: bool) -> str:
    if offset != 0 and offset % 7 == 0:
        return f"Week {offset // 7}"
    return f"Day {day}" if not day1 or offset != 0 else "Day 1"


def template_frame(
    protocol: Protocol,
    arm_id: str,
    horizon_days: int,
    dose_level: str | None = None,
    choices: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The arm's planned events as a frame (one row per occurrence, offsets in days)."""
    rows: list[PlannedEvent] = arm_template(protocol, arm_id, horizon_days, dose_level, choices)
    day1 = protocol.schedule.anchor.day_numbering == "day1"
    offsets = sorted({r.offset for r in rows})
    visitnum = {d: i for i, d in enumerate(offsets, start=1)}
    records = []
    for order, r in enumerate(rows):
        sdtm_day = r.offset + 1 if r.offset >= 0 else r.offset  # SDTMIG 3.4 4.4.4: no day 0
        day = sdtm_day if day1 else r.offset
        dose = r.dose
        basis = parse_basis(dose.unit) if dose is not None else None
        low = None if dose is None else (dose.value if dose.value is not None else dose.low)
        high = None if dose is None or dose.value is not None else dose.high
        text = None
        if dose is not None and low is not None:
            text = format_amount(low) + (f"-{format_amount(high)}" if high else "")
            text += f" {dose.unit}"
        records.append(
            {
                "ARMCD": arm_id,
                "ORDER": order,
                "VISITNUM": visitnum[r.offset],
                "VISIT": _visit_name(day, r.offset, day1),
                "EVENTID": r.event_id,
                "EVENT": r.label,
                "KIND": r.kind,
                "WHAT": r.what,
                "INTERVENTION": r.intervention,
                "EXTRT": r.treatment,
                "OCCURRENCE": r.occurrence,
                "CYCLE": r.cycle,
                "CYCLEDAY": r.cycle_day,
                "DAY": day,
                "VISITDY": sdtm_day,
                "OFFSET": r.offset,
                "WINBEFORE": r.window_before,
                "WINAFTER": r.window_after,
                "DURMIN": r.duration_min,
                "DURMAX": r.duration_max,
                "DOSE": low,
                "DOSEHI": high,
                "DOSEU": None if dose is None else dose.unit,
                "DOSEBASIS": None if dose is None else dose.basis,
                "EXDOSU": None if basis is None else basis.amount_unit,
                "DOSETEXT": text,
            }
        )
    schema = {
        "ARMCD": pl.String,
        "ORDER": pl.Int64,
        "VISITNUM": pl.Int64,
        "VISIT": pl.String,
        "EVENTID": pl.String,
        "EVENT": pl.String,
        "KIND": pl.String,
        "WHAT": pl.String,
        "INTERVENTION": pl.String,
        "EXTRT": pl.String,
        "OCCURRENCE": pl.Int64,
        "CYCLE": pl.Int64,
        "CYCLEDAY": pl.Int64,
        "DAY": pl.Int64,
        "VISITDY": pl.Int64,
        "OFFSET": pl.Int64,
        "WINBEFORE": pl.Int64,
        "WINAFTER": pl.Int64,
        "DURMIN": pl.Int64,
        "DURMAX": pl.Int64,
        "DOSE": pl.Float64,
        "DOSEHI": pl.Float64,
        "DOSEU": pl.String,
        "DOSEBASIS": pl.String,
        "EXDOSU": pl.String,
        "DOSETEXT": pl.String,
    }
    return pl.DataFrame(records, schema=schema, orient="row")


def _as_protocol(protocol: Protocol | str | Path) -> Protocol:
    return protocol if isinstance(protocol, Protocol) else load_protocol(protocol)


def _subject_frame(protocol: Protocol, subjects: pl.DataFrame) -> pl.DataFrame:
    """Checked subjects: USUBJID, ARMCD, ANCHORDT (Date), HEIGHTBL, WEIGHTBL, DOSELEVEL."""
    for name in ("USUBJID", "ANCHORDT"):
        if name not in subjects.columns:
            raise InputError(
                "subjects table lacks a column",
                column=name,
                expected="USUBJID, ANCHORDT (date of day 0) and optional ARM, HEIGHTBL, "
                "WEIGHTBL, DOSELEVEL",
            )
    df = subjects.with_row_index("ROW", offset=1)
    df = df.with_columns(pl.col("ANCHORDT").cast(pl.String).alias("_RAW"))
    if df.schema["ANCHORDT"] != pl.Date:
        df = df.with_columns(pl.col("_RAW").str.to_date("%Y-%m-%d", strict=False).alias("ANCHORDT"))
    bad = df.filter(pl.col("ANCHORDT").is_null())
    problems = [
        Problem(
            "no anchor (day 0) date",
            row=r["ROW"],
            column="ANCHORDT",
            subject=str(r["USUBJID"]),
            value=r["_RAW"],
            expected="an ISO 8601 date YYYY-MM-DD",
        )
        for r in bad.iter_rows(named=True)
    ]
    arms = {a.id: a.id for a in protocol.arms} | {a.label.casefold(): a.id for a in protocol.arms}
    if "ARM" in df.columns:
        raw = df["ARM"].cast(pl.String)
        armcd = [
            None if v is None else arms.get(v, arms.get(v.strip().casefold()))
            for v in raw.to_list()
        ]
        for row, value, code, usubjid in zip(
            df["ROW"], raw, armcd, df["USUBJID"].cast(pl.String), strict=True
        ):
            if code is None:
                problems.append(
                    Problem(
                        "unknown arm",
                        row=row,
                        column="ARM",
                        subject=usubjid,
                        value=value,
                        expected="one of " + ", ".join(a.id for a in protocol.arms),
                    )
                )
        df = df.with_columns(pl.Series("ARMCD", armcd, dtype=pl.String))
    else:
        df = df.with_columns(pl.lit(resolve_arm(protocol, None)).alias("ARMCD"))
    for name, (low, high), unit in (
        ("HEIGHTBL", HEIGHT_CM, "cm"),
        ("WEIGHTBL", WEIGHT_KG, "kg"),
    ):
        if name not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
            continue
        values = df[name].cast(pl.Float64, strict=False)
        out = df.filter(
            (values.is_not_null() & ((values < low) | (values > high) | values.is_nan()))
            | (df[name].is_not_null() & values.is_null())
        )
        problems += [
            Problem(
                f"{name} out of range",
                row=r["ROW"],
                column=name,
                subject=str(r["USUBJID"]),
                value=r[name],
                expected=f"{low:g} to {high:g} {unit}",
            )
            for r in out.iter_rows(named=True)
        ]
        df = df.with_columns(values.alias(name))
    if "DOSELEVEL" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("DOSELEVEL"))
    levels = [d.id for d in protocol.dose_levels]
    for r in df.filter(
        pl.col("DOSELEVEL").is_not_null() & ~pl.col("DOSELEVEL").cast(pl.String).is_in(levels)
    ).iter_rows(named=True):
        problems.append(
            Problem(
                "unknown dose level",
                row=r["ROW"],
                column="DOSELEVEL",
                subject=str(r["USUBJID"]),
                value=r["DOSELEVEL"],
                expected="one of " + ", ".join(levels) if levels else "none (no dose levels)",
            )
        )
    if problems:
        raise InputErrors(problems, context="subjects")
    return df.select(
        pl.col("USUBJID").cast(pl.String),
        "ROW",
        "ARMCD",
        "ANCHORDT",
        "HEIGHTBL",
        "WEIGHTBL",
        pl.col("DOSELEVEL").cast(pl.String),
    )


def _text(expr: pl.Expr) -> pl.Expr:
    """A number as short text: 170.0 -> '170'."""
    return expr.cast(pl.String).str.replace(r"\.0$", "")


def _grouped(expr: pl.Expr) -> pl.Expr:
    """A whole number below 10^7 with thousands separators: 1750000 -> '1,750,000'."""
    digits = expr.round(0).cast(pl.Int64).cast(pl.String)
    n = digits.str.len_chars()
    return (
        pl.when(n <= 3)
        .then(digits)
        .when(n <= 6)
        .then(pl.concat_str(digits.str.slice(0, n - 3), pl.lit(","), digits.str.slice(n - 3)))
        .otherwise(
            pl.concat_str(
                digits.str.slice(0, n - 6),
                pl.lit(","),
                digits.str.slice(n - 6, 3),
                pl.lit(","),
                digits.str.slice(n - 3),
            )
        )
    )


def _amount_text(expr: pl.Expr) -> pl.Expr:
    """As :func:`hcctrial.clinical.dose.format_amount`: ``9.0906e8`` from 10^7 up,
    ``1,750,000`` from 1,000 up, else the number rounded to 3 decimals (``12.5``)."""
    exponent = expr.log10().floor()
    mantissa = (expr / pl.lit(10.0).pow(exponent)).round(4)
    scientific = pl.concat_str(
        _text(mantissa), pl.lit("e"), exponent.cast(pl.Int64).cast(pl.String)
    )
    return (
        pl.when(expr >= 1e7)
        .then(scientific)
        .when(expr >= 1e3)
        .then(_grouped(expr))
        .otherwise(_text(expr.round(3)))
    )


def _dose_columns() -> list[pl.Expr]:
    basis = pl.col("DOSEBASIS")
    size = (
        pl.when(basis == "per-m2")
        .then(pl.col("BSA"))
        .when(basis == "per-kg")
        .then(pl.col("WEIGHTBL"))
        .when(basis == "flat")
        .then(pl.lit(1.0))
    )
    return [
        (pl.col("DOSE") * size).alias("EXDOSE"),
        (pl.col("DOSEHI") * size).alias("EXDOSEHI"),
    ]


def _dose_calc() -> pl.Expr:
    basis = pl.col("DOSEBASIS")
    amount = pl.concat_str(
        _amount_text(pl.col("EXDOSE")),
        pl.when(pl.col("EXDOSEHI").is_not_null())
        .then(pl.lit("-") + _amount_text(pl.col("EXDOSEHI")))
        .otherwise(pl.lit("")),
        pl.lit(" "),
        pl.col("EXDOSU"),
    )
    per_m2 = pl.concat_str(
        pl.col("DOSETEXT"),
        pl.lit(" x BSA "),
        _text(pl.col("BSA").round(3)),
        pl.lit(" m2 (Mosteller: sqrt("),
        _text(pl.col("HEIGHTBL")),
        pl.lit(" cm x "),
        _text(pl.col("WEIGHTBL")),
        pl.lit(" kg / 3600)) = "),
        amount,
    )
    per_kg = pl.concat_str(
        pl.col("DOSETEXT"),
        pl.lit(" x weight "),
        _text(pl.col("WEIGHTBL")),
        pl.lit(" kg = "),
        amount,
    )
    flat = pl.concat_str(pl.lit("flat "), pl.col("DOSETEXT"))
    return (
        pl.when(basis == "per-m2")
        .then(per_m2)
        .when(basis == "per-kg")
        .then(per_kg)
        .when(basis == "flat")
        .then(flat)
        .alias("DOSECALC")
    )


def _missing_size(protocol: Protocol, df: pl.DataFrame) -> None:
    needs = df.filter(
        ((pl.col("DOSEBASIS") == "per-m2") & (pl.col("HEIGHTBL").is_null()))
        | (pl.col("DOSEBASIS").is_in(["per-m2", "per-kg"]) & pl.col("WEIGHTBL").is_null())
    ).unique(["USUBJID", "INTERVENTION"], keep="first", maintain_order=True)
    if needs.is_empty():
        return
    problems = [
        Problem(
            f"the dose of {r['EXTRT']} is in {r['DOSEU']} but "
            + ("height and weight are" if r["DOSEBASIS"] == "per-m2" else "the weight is")
            + " not given",
            file=f"protocol {protocol.id}",
            row=r["ROW"],
            column="HEIGHTBL, WEIGHTBL" if r["DOSEBASIS"] == "per-m2" else "WEIGHTBL",
            subject=None if r["USUBJID"] is None else str(r["USUBJID"]),
            expected="height (cm) and weight (kg)" if r["DOSEBASIS"] == "per-m2" else "weight (kg)",
        )
        for r in needs.iter_rows(named=True)
    ]
    raise InputErrors(problems, context="dose calculation")


def build_calendars(
    protocol: Protocol | str | Path,
    subjects: pl.DataFrame,
    *,
    horizon_days: int | None = None,
    choices: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Calendars of many subjects at once (vectorised); see :mod:`hcctrial.schedule`.

    Parameters
    ----------
    protocol : a :class:`~hcctrial.protocol.Protocol`, a built-in id or a YAML path.
    subjects : one row per subject: ``USUBJID``, ``ANCHORDT`` (date of day 0, ``pl.Date`` or
        ISO text), optional ``ARM`` (arm id or label; required for several arms),
        ``HEIGHTBL`` (cm), ``WEIGHTBL`` (kg), ``DOSELEVEL`` (dose-level id).
    horizon_days : last day planned, from the anchor; default the protocol's follow-up
        (``follow_up.duration_months`` x 30.4375 days).
    choices : the alternative given of each choice group (e.g. ``["lenvatinib"]`` of
        sorafenib/regorafenib/lenvatinib); default the first listed in the arm.

    Returns
    -------
    polars.DataFrame with :data:`CALENDAR_COLUMNS`, sorted by subject, date and visit.

    Raises
    ------
    InputError / InputErrors
        A schedule that cannot be built, unknown arm or dose level, a dose basis without the
        needed height/weight, out-of-range sizes, missing anchor dates (each subject named).
    """
    p = _as_protocol(protocol)
    if isinstance(subjects, pl.DataFrame) is False:
        import pandas as pd

        if isinstance(subjects, pd.DataFrame):
            subjects = pl.from_pandas(subjects)
        else:
            raise InputError("subjects must be a table", expected="a polars or pandas DataFrame")
    horizon = default_horizon_days(p) if horizon_days is None else horizon_days
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 0:
        raise InputError("horizon is not a whole number of days", value=horizon, expected=">= 0")
    subj = _subject_frame(p, subjects)
    if subj.is_empty():
        raise InputError("no subjects given", expected="at least one row in the subjects table")
    frames = []
    for (arm_id, level), group in subj.group_by(["ARMCD", "DOSELEVEL"], maintain_order=True):
        template = template_frame(
            p, str(arm_id), horizon, None if level is None else str(level), choices
        )
        frames.append(group.join(template.drop("ARMCD"), how="cross"))
    df = pl.concat(frames, how="vertical")
    _missing_size(p, df)
    needs_bsa = df.filter(pl.col("DOSEBASIS") == "per-m2").height > 0
    df = df.with_columns(
        (bsa_expr("HEIGHTBL", "WEIGHTBL") if needs_bsa else pl.lit(None, dtype=pl.Float64)).alias(
            "BSA"
        ),
    ).with_columns(
        pl.when(pl.col("DOSEBASIS") == "per-m2").then(pl.col("BSA")).alias("BSA"),
        (pl.col("ANCHORDT") + pl.duration(days=pl.col("OFFSET"))).alias("PLANDT"),
        (pl.col("ANCHORDT") + pl.duration(days=pl.col("OFFSET") - pl.col("WINBEFORE"))).alias(
            "WINLODT"
        ),
        (pl.col("ANCHORDT") + pl.duration(days=pl.col("OFFSET") + pl.col("WINAFTER"))).alias(
            "WINHIDT"
        ),
        (pl.col("ANCHORDT") + pl.duration(days=pl.col("OFFSET") + pl.col("DURMIN") - 1)).alias(
            "ENDLODT"
        ),
        (pl.col("ANCHORDT") + pl.duration(days=pl.col("OFFSET") + pl.col("DURMAX") - 1)).alias(
            "ENDHIDT"
        ),
    )
    df = df.with_columns(_dose_columns()).with_columns(_dose_calc())
    return df.sort(["ROW", "OFFSET", "ORDER"]).select(CALENDAR_COLUMNS)


def _size(name: str, value: object, unit: str) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} is not a number", value=value, expected=unit) from None


def build_calendar(
    protocol: Protocol | str | Path,
    arm: str | None,
    start_date: dt.date | str,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    *,
    horizon_days: int | None = None,
    dose_level: str | None = None,
    usubjid: str | None = None,
    choices: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One subject's calendar: every planned event with its date, window and dose.

    ``start_date`` is the date of the protocol's anchor (day 0, e.g. the first TACE). See
    :func:`build_calendars` for the columns, the horizon and the errors.

    Examples
    --------
    >>> from hcctrial.schedule import build_calendar
    >>> cal = build_calendar("tests/protocol/minimal.yaml", None, "2026-01-05", 170, 70)
    >>> cal.select("VISIT", "EVENT", "PLANDT").head(2).rows()  # doctest: +SKIP
    [('Day 0', 'TACE', datetime.date(2026, 1, 5)), ('Day 0', 'CT/MRI', ...)]
    """
    p = _as_protocol(protocol)
    arm_id = resolve_arm(p, arm)
    if isinstance(start_date, dt.datetime):
        start_date = start_date.date()
    if not isinstance(start_date, dt.date):
        try:
            start_date = dt.date.fromisoformat(str(start_date).strip())
        except ValueError:
            raise InputError(
                "start date is not a date", value=start_date, expected="YYYY-MM-DD"
            ) from None
    subjects = pl.DataFrame(
        {
            "USUBJID": [usubjid],
            "ARM": [arm_id],
            "ANCHORDT": [start_date],
            "HEIGHTBL": [_size("height", height_cm, "cm")],
            "WEIGHTBL": [_size("weight", weight_kg, "kg")],
            "DOSELEVEL": [dose_level],
        },
        schema={
            "USUBJID": pl.String,
            "ARM": pl.String,
            "ANCHORDT": pl.Date,
            "HEIGHTBL": pl.Float64,
            "WEIGHTBL": pl.Float64,
            "DOSELEVEL": pl.String,
        },
    )
    return build_calendars(p, subjects, horizon_days=horizon_days, choices=choices)
