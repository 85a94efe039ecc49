"""Where the bad input of an OMOP database is: one row per problem row (table, row id, column).

The screening query flags each person with a problem (:mod:`.checks`, :mod:`.compile`); this
module lists the database rows behind the flags so that a data team can find and fix them:

========================= ============================================= =====================
table                     problem                                       row id
========================= ============================================= =====================
person                    ``person_id`` on more than one row;           ``person_id``
                          impossible birth date (no such day, after
                          today, or an age over 120 years)
measurement (labs)        no value, a negative value, a unit that       ``measurement_id``
                          cannot be converted for the test, a date
                          after today
measurement, observation  a mapped finding outside its plausible        ``measurement_id``,
(findings)                range or allowed values (every row; the       ``observation_id``
                          screen itself judges only the most recent
                          one on or before the screening date); a
                          date after today
drug_exposure,            a start or end date after today               the table's ``*_id``
procedure_occurrence,
condition_occurrence
========================= ============================================= =====================
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl

from hcctrial.eligibility.omop.checks import birth_date, clean_findings
from hcctrial.eligibility.omop.fetch import fetch_frame

__all__ = ["PROBLEM_SCHEMA", "problem_rows"]

PROBLEM_SCHEMA = {
    "TABLE": pl.Utf8,
    "ROW_ID": pl.Int64,
    "person_id": pl.Int64,
    "COLUMN": pl.Utf8,
    "VALUE": pl.Utf8,
    "PROBLEM": pl.Utf8,
    "EXPECTED": pl.Utf8,
}


def _rows(
    t: ir.Table, table: str, row_id: ir.Value, column: str, value: ir.Value, problem: Any, exp: str
) -> ir.Table:
    return t.select(
        TABLE=ibis.literal(table),
        ROW_ID=row_id.cast("int64"),
        person_id=t.person_id.cast("int64"),
        COLUMN=ibis.literal(column),
        VALUE=value.cast("string"),
        PROBLEM=problem if isinstance(problem, ir.Value) else ibis.literal(problem),
        EXPECTED=ibis.literal(exp),
    )


def problem_rows(
    con: Any, today: date, concept_map: pl.DataFrame | None = None, limit: int | None = None
) -> pl.DataFrame:
    """The problem rows of an OMOP database (columns :data:`PROBLEM_SCHEMA`), sorted by table,
    person and row id; at most ``limit`` rows when given."""
    from hcctrial.eligibility.omop.compile import unit_factors
    from hcctrial.eligibility.omop.concepts import concept_map as default_map
    from hcctrial.protocol.vocabulary import LAB_CODES

    cmap = ibis.memtable((concept_map if concept_map is not None else default_map()).to_arrow())
    concept = con.table("concept")
    late = ibis.literal(today)

    def mapped(domain: str) -> ir.Table:
        return (
            cmap.filter(cmap.domain == domain)
            .join(concept, ["vocabulary_id", "concept_code"])
            .select("concept_id", "item")
        )

    parts: list[ir.Table] = []
    person = con.table("person")
    dup = person.group_by("person_id").aggregate(n=person.count()).filter(lambda t: t.n > 1)
    parts.append(
        _rows(
            dup,
            "person",
            dup.person_id,
            "person_id",
            dup.n,
            "person_id occurs on more than one row (VALUE = rows)",
            "one row per person",
        )
    )
    birth, valid = birth_date(person)
    p = person.mutate(_bd=birth, _ok=valid)
    too_old = (late.delta(p._bd, unit="day").cast("float64") / 365.25) > 120
    bad = p.filter((~p._ok | (p._bd > late) | too_old).fill_null(True))
    ymd = (
        bad.year_of_birth.cast("string").fill_null("?")
        + "-"
        + bad.month_of_birth.cast("string").fill_null("?")
        + "-"
        + bad.day_of_birth.cast("string").fill_null("?")
    )
    parts.append(
        _rows(
            bad,
            "person",
            bad.person_id,
            "year_of_birth/month_of_birth/day_of_birth",
            ymd,
            "impossible birth date",
            "a real date giving an age of 0-120 years on or before today",
        )
    )
    meas = con.table("measurement")
    labs = mapped("lab")
    factors = unit_factors(con, set(LAB_CODES), cmap)
    m = meas.join(labs, meas.measurement_concept_id == labs.concept_id)
    m = m.mutate(unit_concept_id=m.unit_concept_id.fill_null(0)).left_join(
        factors, ["item", "unit_concept_id"]
    )
    units = concept.select(u_id="concept_id", u_code="concept_code")
    m = m.left_join(units, m.unit_concept_id == units.u_id)
    unit_text = m.u_code.fill_null(m.unit_concept_id.cast("string"))
    checks = [
        (
            m.scale.isnull() & m.value_as_number.notnull(),
            "unit_concept_id",
            unit_text,
            "unit cannot be converted for " + m.item,
            "a UCUM unit of the test (e.g. 10*9/L, g/L, umol/L, mg/dL, U/L)",
        ),
        (
            m.value_as_number.isnull(),
            "value_as_number",
            m.item,
            "lab value missing (VALUE = test)",
            "a number",
        ),
        (
            m.value_as_number < 0,
            "value_as_number",
            m.value_as_number,
            "negative lab value of " + m.item,
            "a value >= 0",
        ),
        (
            m.measurement_date > late,
            "measurement_date",
            m.measurement_date,
            "date after today",
            f"a date on or before {today}",
        ),
    ]
    for cond, column, value, problem, expected in checks:
        hit = m.filter(cond)
        parts.append(
            _rows(hit, "measurement", hit.measurement_id, column, value, problem, expected)
        )
    findings = mapped("finding")
    obs = con.table("observation")
    o = obs.join(findings, obs.observation_concept_id == findings.concept_id).select(
        "person_id",
        "item",
        _table=ibis.literal("observation"),
        _id=obs.observation_id,
        d=obs.observation_date,
        num=obs.value_as_number,
        txt=obs.value_as_string,
    )
    mf = meas.join(findings, meas.measurement_concept_id == findings.concept_id).select(
        "person_id",
        "item",
        _table=ibis.literal("measurement"),
        _id=meas.measurement_id,
        d=meas.measurement_date,
        num=meas.value_as_number,
        txt=ibis.null("string"),
    )
    both = o.union(mf)
    raw = both.mutate(_raw=both.txt.fill_null(both.num.cast("string")))
    cleaned = clean_findings(raw)
    wrong = cleaned.filter(cleaned._bad)
    parts.append(
        wrong.select(
            TABLE=wrong._table,
            ROW_ID=wrong._id.cast("int64"),
            person_id=wrong.person_id.cast("int64"),
            COLUMN=ibis.literal("value_as_number/value_as_string"),
            VALUE=wrong._raw,
            PROBLEM="implausible value of " + wrong.item,
            EXPECTED=ibis.literal("the range or values of docs/criteria-language.md"),
        )
    )
    future = both.filter(both.d > late)
    parts.append(
        future.select(
            TABLE=future._table,
            ROW_ID=future._id.cast("int64"),
            person_id=future.person_id.cast("int64"),
            COLUMN=ibis.literal("date"),
            VALUE=future.d.cast("string"),
            PROBLEM="finding " + future.item + " dated after today",
            EXPECTED=ibis.literal(f"a date on or before {today}"),
        )
    )
    for table, id_col, date_cols in (
        (
            "drug_exposure",
            "drug_exposure_id",
            ("drug_exposure_start_date", "drug_exposure_end_date"),
        ),
        (
            "procedure_occurrence",
            "procedure_occurrence_id",
            ("procedure_date", "procedure_end_date"),
        ),
        (
            "condition_occurrence",
            "condition_occurrence_id",
            ("condition_start_date", "condition_end_date"),
        ),
    ):
        t = con.table(table)
        for col in date_cols:
            hit = t.filter(t[col] > late)
            parts.append(
                _rows(
                    hit,
                    table,
                    hit[id_col],
                    col,
                    hit[col],
                    "date after today",
                    f"a date on or before {today}",
                )
            )
    query = parts[0]
    for part in parts[1:]:
        query = query.union(part)
    query = query.order_by("TABLE", "person_id", "ROW_ID", "COLUMN")
    if limit is not None:
        query = query.limit(limit)
    frame = fetch_frame(query)
    return frame.cast(PROBLEM_SCHEMA)  # type: ignore[arg-type]
