"""Compile a protocol's criteria into one Ibis query over an OMOP CDM v5.4 database.

The query builds one row per person with the features the criteria read, then one boolean
column per criterion (SQL NULL = unknown: SQL's AND/OR/NOT on NULL are Kleene's, see
:mod:`hcctrial.eligibility.logic`) and the decision. It follows the one-patient evaluator's
rules exactly (:mod:`hcctrial.eligibility.lookup`):

- ``lab(CODE)``: the most recent ``measurement`` of the code's concepts dated in
  ``[as_of - look-back, as_of]`` (ties: the highest ``measurement_id``), multiplied by the unit
  factor that :func:`hcctrial.clinical.units.conversion` gives for its ``unit_concept_id``'s
  UCUM code (a unit it cannot convert gives NULL = unknown). ``xuln`` is value / range_high.
- findings: the most recent ``observation`` or ``measurement`` on or before ``as_of``.
- ``age``: whole years from the birth date (missing month/day imputed by the ``mid`` rule of
  :mod:`hcctrial.dates`: 1 July / 15th) to ``as_of``.
- ``ecog`` falls back to ECOG from KPS, Child-Pugh to the score from BILI, ALB, INR, ascites
  and encephalopathy (Pugh 1973, edges of :mod:`hcctrial.clinical.liver`), ``crcl()`` is
  Cockcroft-Gault (Cockcroft & Gault, Nephron 1976;16:31-41) with creatinine in mg/dL; tests
  check each against the :mod:`hcctrial.clinical` functions.
- therapies (``drug_exposure``, ``procedure_occurrence``): last day = min(end or start, as_of)
  for those started by ``as_of``; events in ``condition_occurrence`` are dated by their start.
  OMOP has no 'not collected' flag: no record means never.
- A person with a lab row that cannot be used (unknown unit, negative or missing value, date
  after today) is 'incomplete' unless ineligible, as in the evaluator.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import polars as pl

from hcctrial.eligibility.evaluate import Criterion
from hcctrial.eligibility.language import NAME_TYPES, ParsedExpression
from hcctrial.eligibility.lookup import CATEGORY_MEMBERS, months_before
from hcctrial.eligibility.omop.checks import PROBLEM_FLAGS, TEXT_FINDINGS, clean_wide, person_table
from hcctrial.eligibility.omop.concepts import finding_names
from hcctrial.eligibility.omop.fetch import fetch_frame
from hcctrial.errors import InputError

__all__ = [
    "CompiledProtocol",
    "compile_protocol",
    "compile_protocols",
    "unit_factors",
]

_NEVER_DAYS = 10**9  # days_since() of an event that never happened compares as "long ago"
_CMP = {
    ast.Lt: "__lt__",
    ast.LtE: "__le__",
    ast.Gt: "__gt__",
    ast.GtE: "__ge__",
    ast.Eq: "__eq__",
    ast.NotEq: "__ne__",
}


@dataclass
class CompiledProtocol:
    """A protocol's screening query: ``person_id``, one column per criterion (``columns``),
    ``DECISION`` and ``DETAIL`` (named ``{prefix}DECISION`` in a multi-protocol query of
    :func:`compile_protocols`)."""

    protocol_id: str
    criteria: list[Criterion]
    query: ir.Table
    columns: dict[str, str]  # criterion id -> column name
    prefix: str = ""  # of its DECISION and DETAIL columns in a multi-protocol query


def _needs(
    criteria: list[Criterion],
) -> tuple[set[str], dict[str, set[str]], set[str], set[str]]:
    """Names, labs (with the columns each needs: lab, uln, lln, xuln), categories, conditions."""
    names: set[str] = set()
    labs: dict[str, set[str]] = {}
    cats: set[str] = set()
    conds: set[str] = set()
    for c in criteria:
        e: ParsedExpression | None = c.expression
        if e is None:
            continue
        names |= e.names
        cats |= e.categories
        conds |= e.conditions
        for node in ast.walk(e.tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            func = node.func.id
            if func == "crcl":
                names |= {"age", "sex", "weight_kg"}
                labs.setdefault("CREAT", set()).add("lab")
            elif func in ("lab", "uln", "lln", "xuln"):
                first = node.args[0]
                assert isinstance(first, ast.Constant)
                labs.setdefault(str(first.value), set()).add(func)
    if names & {"child_pugh_score", "child_pugh_class"}:
        for lab in ("BILI", "ALB", "INR"):
            labs.setdefault(lab, set()).add("lab")
        names |= {"ascites", "encephalopathy", "child_pugh_score", "child_pugh_class"}
    if "ecog" in names:
        names.add("kps")
    return names, labs, cats, conds


def _convert(item: str, unit_code: str | None) -> tuple[float, float] | None:
    """``(scale, offset)`` from the UCUM code of a lab row's unit to the lab's canonical unit
    (:func:`hcctrial.clinical.units.conversion`; no code: INR is a ratio), None when it
    cannot be converted (unknown or logarithmic unit)."""
    from hcctrial.clinical.units import canonical_unit, conversion

    text = unit_code or ("ratio" if item == "INR" else "")
    try:
        conv = conversion(text, canonical_unit(item), item)
    except InputError:
        return None
    if conv.log_in or conv.log_out:
        return None
    return float(conv.scale), float(conv.offset)


def _unit_conversions(
    con: Any, ids: dict[tuple[str, str], list[int]]
) -> tuple[list[tuple[int, int, float, float]], dict[int, list[int]]]:
    """The (lab concept, unit) pairs of the database's lab rows (one small query):
    ``(concept id, unit_concept_id, scale, offset)`` of those :func:`_convert` converts, and
    ``unit_concept_id -> concept ids`` of those it cannot (the same rules as
    :func:`unit_factors`; a missing unit is unit 0)."""
    from hcctrial.protocol.vocabulary import LAB_CODES

    item_of = {i: item for (domain, item), found in ids.items() if domain == "lab" for i in found}
    if not item_of:
        return [], {}
    meas, concept = con.table("measurement"), con.table("concept")
    used = (
        meas.filter(_in(meas.measurement_concept_id, sorted(item_of)))
        .select(
            c=meas.measurement_concept_id.cast("int64"),
            u=meas.unit_concept_id.fill_null(0).cast("int64"),
        )
        .distinct()
    )
    units = concept.select(u=concept.concept_id.cast("int64"), unit_code=concept.concept_code)
    pairs = used.left_join(units, "u").select("c", "u", "unit_code")
    rows: list[tuple[int, int, float, float]] = []
    bad: dict[int, set[int]] = {}
    for row in fetch_frame(pairs).to_dicts():
        item = item_of[int(row["c"])]
        conv = _convert(item, row["unit_code"]) if item in LAB_CODES else None
        if conv is None:
            bad.setdefault(int(row["u"]), set()).add(int(row["c"]))
        else:
            rows.append((int(row["c"]), int(row["u"]), *conv))
    return rows, {unit: sorted(found) for unit, found in sorted(bad.items())}


def unit_factors(con: Any, labs: set[str], cmap: ir.Table) -> ir.Table:
    """``(item, unit_concept_id, scale, offset)`` to the canonical unit, for the units in use.

    Reads the distinct units of the labs' measurements (one small query) and asks
    :func:`hcctrial.clinical.units.conversion` for each; units it cannot convert are left out,
    so their values are NULL (unknown).
    """
    concept = con.table("concept")
    meas = con.table("measurement")
    lab_concepts = (
        cmap.filter(cmap.domain == "lab")
        .join(concept, ["vocabulary_id", "concept_code"])
        .select("concept_id", "item")
    )
    used = (
        meas.join(lab_concepts, meas.measurement_concept_id == lab_concepts.concept_id)
        .select("item", unit_concept_id=meas.unit_concept_id.fill_null(0))
        .distinct()
    )
    units = concept.select(unit_concept_id="concept_id", unit_code="concept_code")
    pairs = used.left_join(units, "unit_concept_id").select("item", "unit_concept_id", "unit_code")
    rows = []
    for row in fetch_frame(pairs).to_dicts():
        item, unit_id, code = row["item"], row["unit_concept_id"], row["unit_code"]
        conv = _convert(item, code) if item in labs else None
        if conv is not None:
            rows.append((item, int(unit_id), *conv))
    frame = pl.DataFrame(
        rows,
        schema={
            "item": pl.Utf8,
            "unit_concept_id": pl.Int64,
            "scale": pl.Float64,
            "offset": pl.Float64,
        },
        orient="row",
    )
    return ibis.memtable(frame.to_arrow())


@ibis.udf.agg.builtin(name="arg_max_null")
def _duckdb_last_number(arg: dt.float64, key: dt.int64) -> dt.float64:
    """DuckDB ``arg_max_null(arg, key)``: ``arg`` of the row with the largest ``key``, NULL kept."""


@ibis.udf.agg.builtin(name="arg_max_null")
def _duckdb_last_text(arg: dt.string, key: dt.int64) -> dt.string:
    """DuckDB ``arg_max_null`` for texts."""


@ibis.udf.agg.builtin(name="max_by")
def _spark_last_number(arg: dt.float64, key: dt.int64) -> dt.float64:
    """Spark SQL ``max_by(arg, key)``: ``arg`` of the row with the largest ``key``."""


@ibis.udf.agg.builtin(name="max_by")
def _spark_last_text(arg: dt.string, key: dt.int64) -> dt.string:
    """Spark SQL ``max_by`` for texts."""


_LAST_BY = {
    "duckdb": (_duckdb_last_number, _duckdb_last_text),
    "pyspark": (_spark_last_number, _spark_last_text),
}


def _row_key(t: ir.Table, date_col: str, id_col: str) -> ir.IntegerValue:
    """One int64 ordering the rows of a person by date, then row id (the evaluator's order:
    latest date, ties to the highest row id): days since 1970 x 2^40 + row id."""
    days = t[date_col].delta(ibis.date(1970, 1, 1), unit="day").cast("int64")
    return days * (2**40) + t[id_col].cast("int64")


_CHUNK_ITEMS = {"duckdb": 7}  # items per latest-value aggregate (see _latest_wide)


def concept_ids(con: Any, cmap: ir.Table) -> dict[tuple[str, str], list[int]]:
    """``(domain, item) -> concept ids`` of the database's ``concept`` rows that the concept
    map names (one small query), so that the big tables are filtered by integer ids."""
    concept = con.table("concept")
    mapped = cmap.join(concept, ["vocabulary_id", "concept_code"]).select(
        "domain", "item", "concept_id"
    )
    rows = fetch_frame(mapped).to_dicts()
    ids: dict[tuple[str, str], set[int]] = {}
    for row in rows:
        ids.setdefault((row["domain"], row["item"]), set()).add(int(row["concept_id"]))
    return {key: sorted(found) for key, found in ids.items()}


def _in(column: ir.Value, ids: list[int]) -> ir.BooleanValue:
    """``column IN ids`` (false for no id: an item the database has no concept for)."""
    if not ids:
        return ibis.literal(False)
    return column == ids[0] if len(ids) == 1 else column.isin(ids)


def _latest_wide(
    con: Any,
    source: Callable[[list[int]], ir.Table],
    code_col: str,
    columns: dict[str, tuple[tuple[int, ...], str]],
) -> list[ir.Table]:
    """Person-level tables (``person_id`` + columns): for each output column
    ``name -> (concept ids of its item, value column)``, the value on the most recent row of
    the item
    (latest date ``d``, ties to the highest row id ``i``), NULL when the person has no row of
    it (and when that row's value is NULL: it is not replaced by an older one).

    ``source(ids)`` gives the rows (``person_id``, ``code_col``, ``d``, ``i`` and the value
    columns) of those concept ids, filtered at the base tables; the row key and the values are
    columns computed once per row, not once per output (Spark evaluated the key's date
    difference 27 times a row). DuckDB gets one aggregate
    per few items over only their own rows (a hash aggregate costs about rows x filtered
    outputs: 27 outputs over 20M rows cost 11 CPU-s, four aggregates of 7 over their own rows
    about 5), the others one aggregate over every item. DuckDB and Spark take ``arg_max_null`` /
    ``max_by`` over :func:`_row_key` masked to NULL off the item; other backends (PostgreSQL)
    the latest key per (person, item), joined back and pivoted with filtered ``max``: the
    same rows.
    """
    items = list(dict.fromkeys(ids for ids, _ in columns.values()))
    size = _CHUNK_ITEMS.get(getattr(con, "name", ""), len(items) or 1)
    funcs = _LAST_BY.get(getattr(con, "name", ""))
    out = []
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        rows = source(sorted({i for ids in chunk for i in ids}))
        t = rows.mutate(_key=_row_key(rows, "d", "i"))
        mine = {name: spec for name, spec in columns.items() if spec[0] in chunk}
        if funcs is not None:
            number, text = funcs
            aggs = {}
            for name, (ids, column) in mine.items():
                value = t[column]
                pick = text if value.type().is_string() else number
                # the key masked to NULL off the item (arg_max_null / max_by skip NULL keys)
                # rather than FILTER (WHERE ...), the same values: alone, 28 outputs over
                # 8.7M lab rows took 4.1 s filtered and 1.1 s masked on DuckDB; in the whole
                # feature query only ~4% (14.3 -> 13.7 CPU-s at 1,000,000 persons)
                key = ibis.ifelse(_in(t[code_col], list(ids)), t._key, ibis.null("int64"))
                aggs[name] = pick(value, key)
            out.append(t.group_by("person_id").aggregate(**aggs))
            continue
        item = ibis.cases(
            *((_in(t[code_col], list(ids)), n) for n, ids in enumerate(chunk)),
            else_=ibis.null("int64"),
        )
        used = sorted({column for _, column in mine.values()})
        keyed = t.select("person_id", "_key", *used, _item=item)
        best = keyed.group_by("person_id", "_item").aggregate(_best=keyed._key.max())
        joined = keyed.join(
            best,
            [
                keyed.person_id == best.person_id,
                keyed._item == best._item,
                keyed._key == best._best,
            ],
        )
        aggs = {
            name: joined[column].max(where=joined._item == chunk.index(ids))
            for name, (ids, column) in mine.items()
        }
        out.append(joined.group_by("person_id").aggregate(**aggs))
    return out


def _join_person(feats: ir.Table, tables: list[ir.Table]) -> ir.Table:
    """``feats`` left-joined with person-level tables (``person_id`` + columns) in one join
    chain: one projection at the end, not one per join (Ibis' SQL rewriting walks every
    nested projection)."""
    if not tables:
        return feats
    joined = feats
    for k, table in enumerate(tables):
        keyed = table.rename({f"_pid{k}": "person_id"})
        joined = joined.left_join(keyed, feats.person_id == keyed[f"_pid{k}"])
    return joined.drop(*[f"_pid{k}" for k in range(len(tables))])


def _features(
    con: Any, criteria: list[Criterion], as_of: date, lookback: int, today: date, cmap: ir.Table
) -> ir.Table:
    """One row per person with every feature ``criteria`` read (labs in the look-back window,
    the latest findings, last therapy/event dates, conditions) and the problem flags; the
    criteria of several protocols share it (:func:`compile_protocols`)."""
    _, labs, cats, conds = _needs(criteria)
    concept = con.table("concept")
    feats = person_table(con.table("person"), as_of, today)
    ids = concept_ids(con, cmap)

    def of(domain: str, names: list[str] | None = None) -> list[int]:
        """The concept ids of ``names`` (default: every item) of a domain of the map."""
        return sorted(
            {
                i
                for (d, n), found in ids.items()
                if d == domain and (names is None or n in names)
                for i in found
            }
        )

    def mapped(domain: str) -> ir.Table:
        return (
            cmap.filter(cmap.domain == domain)
            .join(concept, ["vocabulary_id", "concept_code"])
            .select("concept_id", "item")
        )

    meas = con.table("measurement")
    late = ibis.literal(today)
    code = meas.measurement_concept_id
    # data problems (evaluator: record problems -> never 'eligible'); see .checks. A lab unit
    # that cannot be converted is one of the (test, unit) pairs the data holds that
    # _unit_conversions could not convert: compared by id, no join over every lab row
    factor_rows, unconvertible = _unit_conversions(con, ids)
    bad_unit: ir.BooleanValue = ibis.literal(False)
    for unit, concepts in unconvertible.items():
        bad_unit = bad_unit | ((meas.unit_concept_id.fill_null(0) == unit) & _in(code, concepts))
    lab_problem = meas.filter(
        _in(code, of("lab")),
        bad_unit
        | meas.value_as_number.isnull()
        | (meas.value_as_number < 0)
        | (meas.measurement_date > late),
    ).select("person_id")
    drug, proc = con.table("drug_exposure"), con.table("procedure_occurrence")
    cond, obs = con.table("condition_occurrence"), con.table("observation")
    event_problem = (
        drug.filter((drug.drug_exposure_start_date > late) | (drug.drug_exposure_end_date > late))
        .select("person_id")
        .union(
            proc.filter((proc.procedure_date > late) | (proc.procedure_end_date > late)).select(
                "person_id"
            )
        )
        .union(
            cond.filter(
                (cond.condition_start_date > late) | (cond.condition_end_date > late)
            ).select("person_id")
        )
        .union(obs.filter(obs.observation_date > late).select("person_id"))
        .union(
            meas.filter(_in(code, of("finding")), meas.measurement_date > late).select("person_id")
        )
    )
    person_tables = [
        rows.distinct().mutate(**{flag: ibis.literal(True)})
        for flag, rows in (("_lab", lab_problem), ("_event", event_problem))
    ]
    if labs:
        start = as_of - timedelta(days=lookback)

        def lab_rows(cids: list[int]) -> ir.Table:
            """Lab rows of ``cids`` in the look-back window with the factor of their unit."""
            w = meas.filter(
                _in(meas.measurement_concept_id, cids),
                meas.measurement_date.between(ibis.literal(start), ibis.literal(as_of)),
            )
            # the factor of the row's (test, unit) pair as an expression, not a join with a
            # table of factors (Spark sorted every lab row for that join: it does not know
            # the in-memory table is small)
            unit = w.unit_concept_id.fill_null(0)
            mine = [f for f in factor_rows if f[0] in cids]
            none = ibis.null("float64")
            w = w.mutate(
                scale=ibis.cases(
                    *(((w.measurement_concept_id == c) & (unit == u), f) for c, u, f, _ in mine),
                    else_=none,
                )
                if mine
                else none,
                offset=ibis.cases(
                    *(((w.measurement_concept_id == c) & (unit == u), o) for c, u, _, o in mine),
                    else_=none,
                )
                if mine
                else none,
            )
            # evaluator (record.py, lookup.latest): the latest row is unusable with a negative
            # value or a unit that cannot be converted
            ok = w.scale.notnull() & (w.value_as_number >= 0)
            return w.select(
                "person_id",
                code=w.measurement_concept_id,
                d=w.measurement_date,
                i=w.measurement_id,
                lab=ibis.ifelse(ok, w.value_as_number * w.scale + w.offset, none),
                uln=ibis.ifelse(ok, w.range_high * w.scale + w.offset, none),
                lln=ibis.ifelse(ok, w.range_low * w.scale + w.offset, none),
                xuln=ibis.ifelse(ok & (w.range_high > 0), w.value_as_number / w.range_high, none),
            )

        read = {  # only the columns the criteria read
            f"{kind}__{lab}": (tuple(ids.get(("lab", lab), [])), kind)
            for lab in sorted(labs)
            for kind in sorted(labs[lab])
        }
        person_tables += _latest_wide(con, lab_rows, "code", read)
        # a row of the test with no value or dated after today makes the test unknown
        # whatever its date (it might be the latest)
        poisoned = meas.filter(
            _in(code, of("lab", sorted(labs))),
            meas.value_as_number.isnull() | (meas.measurement_date > late),
        )
        bad = poisoned.group_by("person_id").aggregate(
            **{
                f"bad__{lab}": _in(poisoned.measurement_concept_id, ids.get(("lab", lab), [])).any()
                for lab in sorted(labs)
            }
        )
        feats = _join_person(feats, [*person_tables, bad])
        person_tables = []
        none = ibis.null("float64")
        feats = feats.mutate(
            **{
                f"{kind}__{lab}": ibis.ifelse(
                    feats[f"bad__{lab}"].fill_null(False), none, feats[f"{kind}__{lab}"]
                )
                for lab in sorted(labs)
                for kind in sorted(labs[lab])
            }
        ).drop(*[f"bad__{lab}" for lab in sorted(labs)])

    # every mapped finding is checked (the evaluator's record holds them all); the criteria's
    # findings are then spread into columns: numbers (value_as_number) and texts
    # (value_as_string of observation; a measurement row of a text finding has no text) in
    # aggregates of their own, each row feeding only the aggregate of its items
    def finding_rows(text: bool) -> Callable[[list[int]], ir.Table]:
        def rows(table: ir.Table, kind: str, cids: list[int], value: ir.Value) -> ir.Table:
            """``person_id, code, d, i, v`` of ``table`` (OMOP observation or measurement)."""
            concept, day = table[f"{kind}_concept_id"], table[f"{kind}_date"]
            return table.filter(_in(concept, cids), day <= ibis.literal(as_of)).select(
                "person_id",
                code=concept.cast("int64"),
                d=day,
                i=table[f"{kind}_id"].cast("int64"),
                v=value,
            )

        def source(cids: list[int]) -> ir.Table:
            o_value = obs.value_as_string if text else obs.value_as_number.cast("float64")
            m_value = ibis.null("string") if text else meas.value_as_number.cast("float64")
            return rows(obs, "observation", cids, o_value).union(
                rows(meas, "measurement", cids, m_value)
            )

        return source

    for text, prefix in ((False, "num"), (True, "txt")):
        names = [n for n in finding_names() if (n in TEXT_FINDINGS) == text]
        spec = {f"{prefix}__{n}": (tuple(ids.get(("finding", n), [])), "v") for n in names}
        person_tables += _latest_wide(con, finding_rows(text), "code", spec)
    # the plausibility checks per column (.checks.clean_wide), cheaper than per row
    feats = clean_wide(_join_person(feats, person_tables))
    person_tables = []
    if cats:
        members = {c: CATEGORY_MEMBERS.get(c, frozenset({c})) for c in cats}
        wanted = sorted(set().union(*members.values()))
        cc, tc = mapped("condition"), mapped("category")
        ev = [
            drug.join(tc, drug.drug_concept_id == tc.concept_id).select(
                "person_id",
                "item",
                s=drug.drug_exposure_start_date,
                last=drug.drug_exposure_end_date.fill_null(drug.drug_exposure_start_date),
            ),
            proc.join(tc, proc.procedure_concept_id == tc.concept_id).select(
                "person_id",
                "item",
                s=proc.procedure_date,
                last=proc.procedure_end_date.fill_null(proc.procedure_date),
            ),
            cond.join(cc, cond.condition_concept_id == cc.concept_id).select(
                "person_id", "item", s=cond.condition_start_date, last=cond.condition_start_date
            ),
        ]
        events = ev[0].union(ev[1]).union(ev[2])
        events = events.filter(events.item.isin(wanted), events.s <= ibis.literal(as_of))
        capped = ibis.least(events["last"], ibis.literal(as_of))
        aggs = {
            f"last__{c}": ibis.ifelse(events.item.isin(sorted(m)), capped, ibis.null("date")).max()
            for c, m in members.items()
        }
        person_tables.append(events.group_by("person_id").aggregate(**aggs))
    if conds:
        cc = mapped("condition")
        cond = con.table("condition_occurrence")
        c = cond.join(cc, cond.condition_concept_id == cc.concept_id)
        c = c.filter(c.item.isin(sorted(conds)), c.condition_start_date <= ibis.literal(as_of))
        active = c.condition_end_date.isnull() | (c.condition_end_date >= ibis.literal(as_of))
        aggs = {}
        for name in sorted(conds):
            aggs[f"hist__{name}"] = (c.item == name).any()
            aggs[f"act__{name}"] = ((c.item == name) & active).any()
        person_tables.append(c.group_by("person_id").aggregate(**aggs))
    return _join_person(feats, person_tables)


class _Compiler:
    def __init__(self, t: ir.Table, as_of: date) -> None:
        self.t = t
        self.as_of = as_of

    def name(self, name: str) -> ir.Value:
        t = self.t
        if name in ("age", "sex"):
            return t[name]
        kind = NAME_TYPES.get(name, "number")
        if name == "ecog":
            k = t["num__kps"]
            from_kps = ibis.cases(
                (k >= 90, 0), (k >= 70, 1), (k >= 50, 2), (k >= 30, 3), (k >= 10, 4), (k == 0, 5)
            ).cast("float64")
            valid_kps = (k >= 0) & (k <= 100) & ((k % 10) == 0)
            return t["num__ecog"].fill_null(ibis.ifelse(valid_kps, from_kps, ibis.null("float64")))
        if name in ("child_pugh_score", "child_pugh_class"):
            score = self._child_pugh_score()
            if name == "child_pugh_score":
                return t["num__child_pugh_score"].fill_null(score)
            klass = ibis.cases((score <= 6, "A"), (score <= 9, "B"), else_="C")
            return t["txt__child_pugh_class"].fill_null(
                ibis.ifelse(score.isnull(), ibis.null("string"), klass)
            )
        if kind == "bool":
            return t[f"num__{name}"] != 0
        if kind == "text":
            return t[f"txt__{name}"]
        return t[f"num__{name}"]

    def _child_pugh_score(self) -> ir.NumericValue:
        # Pugh 1973 bands with the edges of hcctrial.clinical.liver (value on an edge -> 2)
        from hcctrial.clinical.liver import ALBUMIN_G_L, BILIRUBIN_UMOL_L, INR_EDGES

        t = self.t
        bili, alb, inr = t["lab__BILI"], t["lab__ALB"], t["lab__INR"]
        b = ibis.cases(
            (bili < BILIRUBIN_UMOL_L[0], 1),
            (bili <= BILIRUBIN_UMOL_L[1], 2),
            (bili > BILIRUBIN_UMOL_L[1], 3),
        )
        a = ibis.cases(
            (alb > ALBUMIN_G_L[1], 1), (alb >= ALBUMIN_G_L[0], 2), (alb < ALBUMIN_G_L[0], 3)
        )
        i = ibis.cases((inr < INR_EDGES[0], 1), (inr <= INR_EDGES[1], 2), (inr > INR_EDGES[1], 3))
        asc = t["txt__ascites"].cases(
            ("none", 1), ("mild", 2), ("moderate-severe", 3), else_=ibis.null("int64")
        )
        enc = t["txt__encephalopathy"].cases(
            ("none", 1), ("grade 1-2", 2), ("grade 3-4", 3), else_=ibis.null("int64")
        )
        return (b + a + i + asc + enc).cast("float64")

    def lab(self, code: str, unit: str | None) -> ir.NumericValue:
        col = self.t[f"lab__{code}"]
        if unit is None:
            return col
        from hcctrial.clinical.units import canonical_unit, conversion

        conv = conversion(canonical_unit(code), unit, code)
        return col * conv.scale + conv.offset

    def crcl(self) -> ir.NumericValue:
        # Cockcroft-Gault: (140 - age) x weight / (72 x SCr mg/dL) x 0.85 if female
        from hcctrial.clinical.units import canonical_unit, conversion

        t = self.t
        conv = conversion(canonical_unit("CREAT"), "mg/dL", "CREAT")
        scr = t["lab__CREAT"] * conv.scale + conv.offset
        weight = t["num__weight_kg"]
        value = (140.0 - t.age) * weight / (72.0 * scr)
        value = ibis.ifelse(
            t.sex == "F", value * 0.85, ibis.ifelse(t.sex == "M", value, ibis.null("float64"))
        )
        ok = (t.age >= 18) & (t.age <= 120) & (scr > 0)
        return ibis.ifelse(ok, value, ibis.null("float64"))

    def compile(self, node: ast.expr) -> ir.Value:
        if isinstance(node, ast.Constant):
            return ibis.literal(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.BoolOp):
            parts: list[Any] = [self.compile(v) for v in node.values]
            combined = parts[0]
            for p in parts[1:]:
                combined = (combined & p) if isinstance(node.op, ast.And) else (combined | p)
            return combined
        if isinstance(node, ast.UnaryOp):
            v: Any = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return ~v
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            lhs: Any = self.compile(node.left)
            rhs = self.compile(node.right)
            ops = {
                ast.Add: "__add__",
                ast.Sub: "__sub__",
                ast.Mult: "__mul__",
                ast.Div: "__truediv__",
            }
            return getattr(lhs, ops[type(node.op)])(rhs)
        if isinstance(node, ast.Compare):
            left: Any = self.compile(node.left)
            out: Any = None
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    assert isinstance(right_node, ast.List | ast.Tuple)
                    options = [e.value for e in right_node.elts if isinstance(e, ast.Constant)]
                    part = left.isin(options) if isinstance(op, ast.In) else left.notin(options)
                else:
                    right = self.compile(right_node)
                    part = getattr(left, _CMP[type(op)])(right)
                    left = right
                out = part if out is None else (out & part)
            assert out is not None
            return out
        if isinstance(node, ast.Call):
            return self.call(node)
        raise InputError(f"not part of the criterion language: {ast.unparse(node)}")

    def call(self, node: ast.Call) -> ir.Value:
        assert isinstance(node.func, ast.Name)
        func = node.func.id
        args: list[Any] = [a.value for a in node.args if isinstance(a, ast.Constant)]
        t = self.t
        if func == "lab":
            return self.lab(args[0], args[1] if len(args) > 1 else None)
        if func in ("uln", "lln", "xuln"):
            return t[f"{func}__{args[0]}"]
        if func == "crcl":
            return self.crcl()
        if func == "days_since":
            last = t[f"last__{args[0]}"]
            return ibis.literal(self.as_of).delta(last, unit="day").fill_null(_NEVER_DAYS)
        if func in ("within_days", "within_months"):
            n = int(args[1])
            start = (
                (self.as_of - timedelta(days=n))
                if func == "within_days"
                else months_before(self.as_of, n)
            )
            return (t[f"last__{args[0]}"] >= ibis.literal(start)).fill_null(False)
        if func == "history":
            return t[f"hist__{args[0]}"].fill_null(False)
        if func == "active":
            return t[f"act__{args[0]}"].fill_null(False)
        raise InputError(f"unknown function {func}()")


def _criterion_columns(
    feats: ir.Table, criteria: list[Criterion], as_of: date, prefix: str
) -> tuple[dict[str, ir.Value], dict[str, str], bool]:
    """One boolean column per criterion over the feature table (NULL = unknown; criteria
    left to investigator judgement are NULL): ``(column -> expression, criterion id ->
    column, any left to judgement)``."""
    compiler = _Compiler(feats, as_of)
    columns: dict[str, str] = {}
    results: dict[str, ir.Value] = {}
    pending = False
    for i, c in enumerate(criteria):
        col = f"{prefix}c{i:02d}"
        columns[c.id] = col
        if c.expression is None:
            results[col] = ibis.null("boolean")
            pending = True
            continue
        results[col] = compiler.compile(c.expression.tree)
    return results, columns, pending


def _decision_columns(
    q: ir.Table, criteria: list[Criterion], columns: dict[str, str], pending: bool, prefix: str
) -> dict[str, ir.Value]:
    """``DECISION`` and ``DETAIL`` from the criterion columns, ``_dup`` and ``_problem`` (any
    other problem flag) of ``q`` (the rules of ``evaluate._decide``): a duplicate person is
    'incomplete' before anything, then a failed criterion makes 'ineligible', an unknown one
    or an input problem 'incomplete', one left to judgement 'incomplete' (pending), else
    'eligible'."""
    problem = q._problem
    decided = [(c, q[columns[c.id]]) for c in criteria if c.expression is not None]
    any_fail = ibis.literal(False)
    any_unknown = ibis.literal(False)
    for c, col in decided:
        any_fail = any_fail | (col == (c.kind == "exclusion")).fill_null(False)
        any_unknown = any_unknown | col.isnull()
    decision = ibis.cases(
        (q._dup, "incomplete"),
        (any_fail, "ineligible"),
        (any_unknown | problem, "incomplete"),
        (ibis.literal(pending), "incomplete"),
        else_="eligible",
    )
    detail = ibis.cases(
        (q._dup, "record problem: duplicate person id"),
        (any_fail, "fails a criterion"),
        (any_unknown, "unknown criteria"),
        (problem, "input problems"),
        (ibis.literal(pending), "eligible pending investigator judgement"),
        else_="meets every criterion",
    )
    return {f"{prefix}DECISION": decision, f"{prefix}DETAIL": detail}


def compile_protocol(
    con: Any,
    protocol_id: str,
    criteria: list[Criterion],
    as_of: date,
    lookback_days: int,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
) -> CompiledProtocol:
    """The screening query of one protocol on an Ibis connection to an OMOP CDM v5.4 database.

    Parameters
    ----------
    con : an Ibis backend (DuckDB, PostgreSQL, PySpark) with the OMOP tables and ``concept``.
    criteria, lookback_days : from :func:`hcctrial.eligibility.criteria_from_protocol`.
    as_of : the screening date; ``today``: lab rows dated later are data problems.
    concept_map : the vocabulary -> code map (default :func:`..concepts.concept_map`).
    """
    query, (compiled,) = compile_protocols(
        con,
        [(protocol_id, criteria)],
        as_of,
        lookback_days,
        today=today,
        concept_map=concept_map,
        prefixes=[""],
    )
    compiled.query = query
    return compiled


def compile_protocols(
    con: Any,
    protocols: list[tuple[str, list[Criterion]]],
    as_of: date,
    lookback_days: int,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
    prefixes: list[str] | None = None,
) -> tuple[ir.Table, list[CompiledProtocol]]:
    """One query screening several protocols with the same look-back over one feature table:
    ``person_id``, the problem flags, ``_problem`` (any flag but ``_dup``) and, per protocol,
    its criterion columns, ``DECISION`` and ``DETAIL``, named with the protocol's prefix
    (default ``p0_``, ``p1_``, ...).

    The features are computed once inside the query (not stored in a temporary table and
    read back once per protocol). Each :class:`CompiledProtocol` returned names its columns
    in this query; its ``query`` is the same table.
    """
    from hcctrial.eligibility.omop.concepts import concept_map as default_map

    cmap = ibis.memtable((concept_map if concept_map is not None else default_map()).to_arrow())
    every = [c for _, criteria in protocols for c in criteria]
    feats = _features(con, every, as_of, lookback_days, today or date.today(), cmap)
    prefixes = prefixes if prefixes is not None else [f"p{k}_" for k in range(len(protocols))]
    flags = {flag: feats[flag].fill_null(False) for flag in PROBLEM_FLAGS}
    results: dict[str, ir.Value] = {}
    parts = []
    for (protocol_id, criteria), prefix in zip(protocols, prefixes, strict=True):
        cols, columns, pending = _criterion_columns(feats, criteria, as_of, prefix)
        results |= cols
        parts.append((protocol_id, criteria, columns, pending, prefix))
    problem = ibis.literal(False)
    for flag in PROBLEM_FLAGS:
        if flag != "_dup":
            problem = problem | flags[flag]
    q = feats.select("person_id", **flags, _problem=problem, **results)
    decisions: dict[str, ir.Value] = {}
    for _, criteria, columns, pending, prefix in parts:
        decisions |= _decision_columns(q, criteria, columns, pending, prefix)
    query = q.mutate(**decisions)
    compiled = [
        CompiledProtocol(protocol_id, list(criteria), query, columns, prefix)
        for protocol_id, criteria, columns, _, prefix in parts
    ]
    return query, compiled
