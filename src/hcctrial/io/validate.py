"""Validation of SDTM-shaped tables against the specification in ``domains.yaml``.

Checks, per domain (every problem names file, row, column, subject, value and expected form):

1. required columns present (a domain without one is not loaded),
2. ``DOMAIN`` / ``RDOMAIN`` agree with the domain the file is read as,
3. no empty value where the specification needs one (``USUBJID``, test codes),
4. types: numeric columns hold numbers (text such as ``"<0.5"`` or ``"NA"`` is reported per row),
   whole-number columns (``--SEQ``, ``--DY``) hold whole numbers,
5. controlled terminology (``SEX``, ``AESEV``, ``AETOXGR``, ``AESER``, ``TUSTRESC``,
   ``TRTESTCD``, ``RSSTRESC`` ...), compared stripped and upper-case,
6. units: ``LBSTRESU`` through :func:`hcctrial.clinical.units.check_unit` (known spelling and
   fitting the analyte ``LBTESTCD``), a numeric TR/VS result has a unit,
7. ISO 8601 dates (``--DTC``), then ``--DT`` and ``--DTF`` added by
   :func:`hcctrial.dates.derive_date` with the column's imputation rule,
8. duplicate natural keys (the ``keys`` of the domain),
9. subjects absent from DM (study level).

A row with any problem is rejected: :func:`validate_study` either raises
:class:`~hcctrial.errors.InputErrors` listing every problem (``on_error="raise"``) or returns the
valid rows and a problems table (``on_error="collect"``). Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from hcctrial.dates import IMPUTATION_RULES, check_iso_dates, derive_date
from hcctrial.errors import InputError, InputErrors, Problem, UnitError
from hcctrial.io.spec import DomainSpec, codelists, domain_spec
from hcctrial.io.study import PROBLEM_SCHEMA, StudyData, empty_problems

__all__ = ["Finding", "OnError", "findings_table", "validate_domain", "validate_study"]

OnError = Literal["raise", "collect"]
Imputation = str | Mapping[str, str] | None

ROW = "_ROW"
REJECTED = "row rejected"
NOT_LOADED = "domain not loaded"
# numeric result -> its unit column, where a number without a unit cannot be read
_RESULT_UNITS = {"TR": ("TRSTRESN", "TRSTRESU"), "VS": ("VSSTRESN", "VSSTRESU")}


@dataclass(frozen=True)
class Finding:
    """A problem found in one domain and what the reader did about it."""

    domain: str
    problem: Problem
    action: str = REJECTED


def findings_table(findings: list[Finding]) -> pl.DataFrame:
    """The problems table (:data:`~hcctrial.io.study.PROBLEM_SCHEMA`) of a list of findings."""
    if not findings:
        return empty_problems()
    rows = [
        {
            "DOMAIN": f.domain,
            "FILE": f.problem.file,
            "ROW": f.problem.row,
            "COLUMN": f.problem.column,
            "USUBJID": f.problem.subject,
            "VALUE": None if f.problem.value is None else str(f.problem.value),
            "EXPECTED": f.problem.expected,
            "MESSAGE": f.problem.message,
            "ACTION": f.action,
        }
        for f in findings
    ]
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA).sort(
        "DOMAIN", "ROW", "COLUMN", nulls_last=False, maintain_order=True
    )


def _rules(spec: DomainSpec, columns: list[str], imputation: Imputation) -> dict[str, str]:
    rules = spec.date_columns(columns)
    if isinstance(imputation, str):
        rules = dict.fromkeys(rules, imputation)
    elif imputation is not None:
        for col, rule in imputation.items():
            if col.upper() in rules:
                rules[col.upper()] = rule
    for col, rule in rules.items():
        if rule not in IMPUTATION_RULES:
            raise InputError(
                "unknown date imputation rule",
                column=col,
                value=rule,
                expected="one of " + ", ".join(IMPUTATION_RULES),
            )
    return rules


class _Checker:
    """Collects row problems of one domain."""

    def __init__(self, df: pl.DataFrame, domain: str, file: str) -> None:
        self.df = df
        self.domain = domain
        self.file = file
        self.findings: list[Finding] = []

    def rows(
        self,
        mask: pl.Expr,
        column: str,
        message: str,
        expected: str,
        value: pl.Expr | None = None,
    ) -> None:
        subject = pl.col("USUBJID") if "USUBJID" in self.df.columns else pl.lit(None)
        shown = value if value is not None else pl.col(column)
        hit = self.df.filter(mask).select(
            pl.col(ROW), shown.cast(pl.Utf8).alias("_v"), subject.cast(pl.Utf8).alias("_s")
        )
        for row, val, subj in hit.iter_rows():
            self.findings.append(
                Finding(
                    self.domain,
                    Problem(
                        message=message,
                        file=self.file,
                        row=int(row),
                        column=column,
                        expected=expected,
                        value=val,
                        subject=subj,
                    ),
                )
            )


def _text(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.strip_chars()


def _as_text(df: pl.DataFrame, col: str) -> pl.Expr:
    """A column as stripped text with empty -> null; numbers lose a trailing ``.0``."""
    dtype = df.schema[col]
    if dtype == pl.Utf8:
        expr = pl.col(col).str.strip_chars()
    elif dtype == pl.Date:
        expr = pl.col(col).dt.strftime("%Y-%m-%d")
    elif isinstance(dtype, pl.Datetime):
        expr = pl.col(col).dt.strftime("%Y-%m-%dT%H:%M:%S")
    elif dtype.is_float():
        c = pl.col(col).fill_nan(None)
        expr = (
            pl.when(c == c.round(0)).then(c.cast(pl.Int64).cast(pl.Utf8)).otherwise(c.cast(pl.Utf8))
        )
    else:
        expr = pl.col(col).cast(pl.Utf8)
    return pl.when(expr == "").then(None).otherwise(expr).alias(col)


def _check_types(chk: _Checker, spec: DomainSpec) -> None:
    df = chk.df
    casts: list[pl.Expr] = []
    for col in df.columns:
        if col == ROW:
            continue
        cspec = spec.column(col)
        kind = cspec.type if cspec is not None else "char"
        dtype = df.schema[col]
        if kind not in ("num", "int"):
            casts.append(_as_text(df, col))
            continue
        if dtype.is_numeric():
            number = pl.col(col).cast(pl.Float64).fill_nan(None)
            shown = pl.col(col).cast(pl.Utf8)
            given = number.is_not_null()
        else:
            text = _text(col)
            number = text.cast(pl.Float64, strict=False)
            shown = text
            given = text.is_not_null() & (text != "")
        bad = given & (number.is_null() | number.is_infinite())
        chk.rows(bad, col, "not a number", "a finite number, or empty when missing", shown)
        if kind == "int":
            frac = given & number.is_finite() & (number != number.round(0))
            chk.rows(frac, col, "not a whole number", "a whole number (integer)", shown)
            out = pl.when(bad | frac).then(None).otherwise(number).cast(pl.Int64)
        else:
            out = pl.when(bad).then(None).otherwise(number)
        casts.append(out.alias(col))
    chk.df = df.with_columns(casts)


def _check_terminology(chk: _Checker, spec: DomainSpec) -> None:
    lists = codelists()
    upper = [
        pl.col(c).str.to_uppercase().str.replace(r"^(\d)\.0+$", "$1")
        for c in dict.fromkeys(c.column for c in spec.checks)
        if c in chk.df.columns
    ]
    if upper:
        chk.df = chk.df.with_columns(upper)
    for check in spec.checks:
        if check.column not in chk.df.columns:
            continue
        codelist = lists[check.codelist]
        mask = pl.col(check.column).is_not_null() & ~pl.col(check.column).is_in(codelist.values)
        for col, values in check.when:
            if col not in chk.df.columns:
                mask = pl.lit(False)
                break
            mask = mask & pl.col(col).str.to_uppercase().is_in(values)
        where = ""
        if check.when:
            where = " for " + ", ".join(f"{c} in {'/'.join(v)}" for c, v in check.when)
        chk.rows(
            mask,
            check.column,
            f"not in controlled terminology {codelist.name}{where}",
            f"one of {', '.join(codelist.values)} ({codelist.source})",
        )


#: analytes whose result is a difference and so may be negative (PT prolongation over control)
_SIGNED_ANALYTES = frozenset({"PTPROL"})


def _check_lab_signs(chk: _Checker) -> None:
    """LBSTRESN: a count, concentration, activity or ratio of a known analyte is never < 0."""
    df = chk.df
    if not {"LBTESTCD", "LBSTRESN"} <= set(df.columns):
        return
    from hcctrial.clinical.analytes import ANALYTES

    codes = sorted(set(ANALYTES) - _SIGNED_ANALYTES)
    number = pl.col("LBSTRESN").cast(pl.Float64, strict=False)
    code = pl.col("LBTESTCD").cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    chk.rows(
        code.is_in(codes) & (number < 0),
        "LBSTRESN",
        "negative result",
        "a result >= 0",
    )


def _check_lab_units(chk: _Checker) -> None:
    """LBSTRESU: a known unit spelling that fits the analyte (rows with a numeric result)."""
    df = chk.df
    if not {"LBSTRESU", "LBTESTCD", "LBSTRESN"} <= set(df.columns):
        return
    from hcctrial.clinical import units  # lazily: io must load without the clinical layer
    from hcctrial.clinical.analytes import ANALYTES

    pairs = (
        df.filter(pl.col("LBSTRESN").is_not_null())
        .select(pl.col("LBSTRESU").fill_null(""), pl.col("LBTESTCD").fill_null(""))
        .unique()
    )
    bad: list[dict[str, str]] = []
    for unit, code in pairs.iter_rows():
        known = code.upper() in ANALYTES
        try:
            units.normalise_unit(unit)
            if known:
                units.check_unit(unit, code)
        except UnitError as exc:
            expected = exc.problem.expected or "a unit hcctrial knows"
            if known:
                expected = f"a unit of {code}, e.g. {units.canonical_unit(code)}"
            message = exc.problem.message
            if code and code not in message:
                message += f" for {code}"
            bad.append({"_u": unit, "_c": code, "_m": message, "_e": expected})
    if not bad:
        return
    hits = (
        df.filter(pl.col("LBSTRESN").is_not_null())
        .with_columns(
            pl.col("LBSTRESU").fill_null("").alias("_u"),
            pl.col("LBTESTCD").fill_null("").alias("_c"),
        )
        .join(pl.DataFrame(bad), on=["_u", "_c"], how="inner")
        .sort(ROW)
    )
    for row, unit, subject, message, expected in hits.select(
        ROW, "LBSTRESU", "USUBJID", "_m", "_e"
    ).iter_rows():
        chk.findings.append(
            Finding(
                chk.domain,
                Problem(
                    message=message,
                    file=chk.file,
                    row=int(row),
                    column="LBSTRESU",
                    expected=expected,
                    value=unit if unit is not None else "",
                    subject=subject,
                ),
            )
        )


def _check_dates(chk: _Checker, rules: dict[str, str]) -> None:
    for col in rules:
        problems = check_iso_dates(chk.df, col, file=chk.file)
        if not problems:
            continue
        rows = [p.row for p in problems]
        subj = dict(
            chk.df.filter(pl.col(ROW).is_in(rows))
            .select(ROW, pl.col("USUBJID") if "USUBJID" in chk.df.columns else pl.lit(None))
            .iter_rows()
        )
        for p in problems:
            sub = subj.get(p.row)
            chk.findings.append(
                Finding(
                    chk.domain,
                    Problem(
                        message=p.message,
                        file=p.file,
                        row=p.row,
                        column=p.column,
                        expected=p.expected,
                        value=p.value,
                        subject=None if sub is None else str(sub),
                    ),
                )
            )


def _check_duplicates(chk: _Checker, spec: DomainSpec, kept: pl.DataFrame) -> set[int]:
    keys = [k for k in spec.keys if k in kept.columns]
    if not keys or "USUBJID" not in keys or (len(keys) < 2 and spec.name != "DM"):
        return set()
    # --SEQ numbers records, so two records differing only in --SEQ are still duplicates
    others = [c for c in kept.columns if c != ROW and not c.endswith("SEQ")]
    marked = kept.with_columns(
        pl.len().over(keys).alias("_n"),
        pl.col(ROW).min().over(keys).alias("_first"),
        pl.struct(others).n_unique().over(keys).alias("_distinct"),
    ).filter(pl.col("_n") > 1)
    if marked.height == 0:
        return set()
    key_text = ", ".join(keys)
    sub = _Checker(marked, chk.domain, chk.file)
    same = (pl.col("_distinct") == 1) & (pl.col(ROW) != pl.col("_first"))
    sub.rows(
        same,
        keys[-1],
        f"duplicate record (same {key_text} and values as an earlier row, --SEQ aside)",
        "one record per key",
        pl.format("duplicate of row {}", pl.col("_first")),
    )
    sub.rows(
        pl.col("_distinct") > 1,
        keys[-1],
        f"duplicate key {key_text} with different values (rows cannot be told apart)",
        "one record per key; fix or remove the conflicting rows",
        pl.format("{} rows share this key, first at row {}", pl.col("_n"), pl.col("_first")),
    )
    chk.findings.extend(sub.findings)
    return {f.problem.row for f in sub.findings if f.problem.row is not None}


def _normalise_names(
    df: pl.DataFrame, domain: str, file: str
) -> tuple[pl.DataFrame, list[Finding]]:
    names = [str(c).replace("\ufeff", "").strip().upper() for c in df.columns]
    seen: dict[str, str] = {}
    findings = []
    for raw, name in zip(df.columns, names, strict=True):
        if name in seen:
            findings.append(
                Finding(
                    domain,
                    Problem(
                        message=f"column appears twice ({seen[name]!r} and {raw!r})",
                        file=file,
                        column=name,
                        expected="each column once",
                    ),
                    NOT_LOADED,
                )
            )
        seen[name] = raw
    if findings:
        return df, findings
    return df.rename(dict(zip(df.columns, names, strict=True))), []


def validate_domain(
    df: pl.DataFrame,
    domain: str,
    *,
    file: str | None = None,
    imputation: Imputation = None,
) -> tuple[pl.DataFrame | None, list[Finding]]:
    """Check one domain and derive its dates.

    Returns the valid rows (with ``--DT``/``--DTF`` added for every ``--DTC`` column) and the
    findings. The frame is None when the domain cannot be loaded at all (a required column is
    missing, a column appears twice). Rows with a problem are not in the frame; each is named
    in the findings.
    """
    spec = domain_spec(domain)
    where = file or f"{spec.name} table"
    df, findings = _normalise_names(df, spec.name, where)
    if findings:
        return None, findings
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        return None, [
            Finding(
                spec.name,
                Problem(
                    message=f"required column {c} is missing ({df.height} rows not loaded)",
                    file=where,
                    column=c,
                    expected=f"a column {c} ({(spec.column(c) or spec.columns[0]).label}); "
                    f"{spec.name} needs {', '.join(spec.required)}",
                ),
                NOT_LOADED,
            )
            for c in missing
        ]
    chk = _Checker(
        df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64)), spec.name, where
    )
    _check_types(chk, spec)
    if "DOMAIN" in chk.df.columns and not spec.generic and spec.parent is None:
        mask = pl.col("DOMAIN").is_not_null() & (pl.col("DOMAIN").str.to_uppercase() != spec.name)
        chk.rows(mask, "DOMAIN", f"record of another domain in the {spec.name} file", spec.name)
    if spec.parent is not None and "RDOMAIN" in chk.df.columns:
        mask = pl.col("RDOMAIN").is_not_null() & (
            pl.col("RDOMAIN").str.to_uppercase() != spec.parent
        )
        chk.rows(mask, "RDOMAIN", f"qualifier of another domain in {spec.name}", spec.parent)
    for col in spec.not_null:
        if col in chk.df.columns:
            chk.rows(pl.col(col).is_null(), col, f"{col} is empty", "a value in every row")
    _check_terminology(chk, spec)
    if spec.name == "LB":
        _check_lab_units(chk)
        _check_lab_signs(chk)
    if spec.name in _RESULT_UNITS:
        value, unit = _RESULT_UNITS[spec.name]
        if value in chk.df.columns and unit in chk.df.columns:
            mask = pl.col(value).is_not_null() & pl.col(unit).is_null()
            chk.rows(mask, unit, f"{value} has no unit", "a unit (e.g. mm for a diameter)")
    rules = _rules(spec, chk.df.columns, imputation)
    _check_dates(chk, rules)
    rejected = {f.problem.row for f in chk.findings if f.problem.row is not None}
    kept = chk.df.filter(~pl.col(ROW).is_in(sorted(rejected))) if rejected else chk.df
    _check_duplicates(chk, spec, kept)
    rejected = {f.problem.row for f in chk.findings if f.problem.row is not None}
    kept = chk.df.filter(~pl.col(ROW).is_in(sorted(rejected))) if rejected else chk.df
    for col, rule in rules.items():
        kept = derive_date(kept, col, rule=rule, file=where)  # type: ignore[arg-type]
    return kept, chk.findings


def _check_subjects(
    tables: dict[str, pl.DataFrame], sources: Mapping[str, str]
) -> tuple[dict[str, pl.DataFrame], list[Finding]]:
    if "DM" not in tables:
        return tables, []
    dm_ids = tables["DM"]["USUBJID"].drop_nulls().unique().implode()
    out = dict(tables)
    findings: list[Finding] = []
    for name, df in tables.items():
        if name == "DM" or "USUBJID" not in df.columns:
            continue
        chk = _Checker(df, name, sources.get(name, f"{name} table"))
        mask = pl.col("USUBJID").is_not_null() & ~pl.col("USUBJID").is_in(dm_ids)
        chk.rows(mask, "USUBJID", "subject is not in DM", "a USUBJID listed in DM")
        if chk.findings:
            findings.extend(chk.findings)
            out[name] = df.filter(~mask)
    return out, findings


def validate_study(
    data: StudyData | Mapping[str, pl.DataFrame],
    *,
    imputation: Imputation = None,
    on_error: OnError = "raise",
    sources: Mapping[str, str] | None = None,
    context: str | None = None,
) -> StudyData:
    """Validate every domain of a study and derive ``--DT``/``--DTF`` dates.

    Parameters
    ----------
    data : the domains (a :class:`StudyData` or a mapping of domain -> polars/pandas frame).
    imputation : one rule (``first``, ``mid``, ``last``, ``none``) for every date column, or a
        mapping column -> rule overriding the defaults of ``domains.yaml`` (start dates
        ``first``, end dates ``last``, birth date ``mid``), or None for the defaults.
    on_error : ``"raise"`` (default) raises :class:`~hcctrial.errors.InputErrors` listing every
        problem; ``"collect"`` returns the valid rows with the problems in ``.problems``.
    sources : domain -> file name, used in messages.
    context : where the data came from (a folder), used in the error's first line.
    """
    if on_error not in ("raise", "collect"):
        raise InputError("on_error must be 'raise' or 'collect'", value=on_error)
    frames = data if isinstance(data, StudyData) else StudyData.from_frames(data)
    names = dict(frames.sources)
    names.update({k.upper(): v for k, v in (sources or {}).items()})
    tables: dict[str, pl.DataFrame] = {}
    findings: list[Finding] = []
    for name, df in frames.items():
        kept, found = validate_domain(df, name, file=names.get(name), imputation=imputation)
        findings.extend(found)
        if kept is not None:
            tables[name] = kept
    tables, orphans = _check_subjects(tables, names)
    findings.extend(orphans)
    if findings and on_error == "raise":
        raise InputErrors([f.problem for f in findings], context=context)
    tables = {k: v.drop(ROW) for k, v in tables.items()}
    return StudyData(tables, problems=findings_table(findings), sources=names)
