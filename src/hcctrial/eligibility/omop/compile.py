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
from hcctrial.errors import InputError

__all__ = ["CompiledProtocol", "build_features", "compile_protocol", "unit_factors"]

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
    """One query per protocol: ``person_id``, one column per criterion, ``DECISION``."""

    protocol_id: str
    criteria: list[Criterion]
    query: ir.Table
    columns: dict[str, str]  # criterion id -> column name


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


def unit_factors(con: Any, labs: set[str], cmap: ir.Table) -> ir.Table:
    """``(item, unit_concept_id, scale, offset)`` to the canonical unit, for the units in use.

    Reads the distinct units of the labs' measurements (one small query) and asks
    :func:`hcctrial.clinical.units.conversion` for each; units it cannot convert are left out,
    so their values are NULL (unknown).
    """
    from hcctrial.clinical.units import canonical_unit, conversion

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
    for row in pairs.to_pyarrow().to_pylist():
        item, unit_id, code = row["item"], row["unit_concept_id"], row["unit_code"]
        if item not in labs:
            continue
        text = code or ("ratio" if item == "INR" else "")
        try:
            conv = conversion(text, canonical_unit(item), item)
        except InputError:
            continue
        if conv.log_in or conv.log_out:
            continue
        rows.append((item, int(unit_id), float(conv.scale), float(conv.offset)))
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


def _latest_wide(
    con: Any,
    t: ir.Table,
    date_col: str,
    id_col: str,
    item_col: str,
    columns: dict[str, tuple[Any, ir.Value]],
) -> ir.Table:
    """One row per person: for each output column ``name -> (item, value)``, ``value`` on the
    most recent row of ``item`` (latest date, ties to the highest row id), NULL when the
    person has no row of it (and when that row's value is NULL: it is not replaced by an
    older one).

    DuckDB and Spark do it in ONE hash aggregate by person (``arg_max_null`` / ``max_by``
    over :func:`_row_key`, filtered by item); other backends (PostgreSQL) take the latest key
    per (person, item), join it back and pivot with filtered ``max``: the same rows.
    """
    key = _row_key(t, date_col, id_col)
    funcs = _LAST_BY.get(getattr(con, "name", ""))
    if funcs is not None:
        number, text = funcs
        aggs = {}
        for name, (item, value) in columns.items():
            pick = text if value.type().is_string() else number
            aggs[name] = pick(value, key, where=t[item_col] == item)
        return t.group_by("person_id").aggregate(**aggs)
    values = {f"_v{i}": value for i, (_, value) in enumerate(columns.values())}
    keyed = t.select("person_id", item_col, _key=key, **values)
    best = keyed.group_by("person_id", item_col).aggregate(_best=keyed._key.max())
    joined = keyed.join(
        best,
        [
            keyed.person_id == best.person_id,
            keyed[item_col] == best[item_col],
            keyed._key == best._best,
        ],
    )
    aggs = {
        name: joined[f"_v{i}"].max(where=joined[item_col] == item)
        for i, (name, (item, _)) in enumerate(columns.items())
    }
    return joined.group_by("person_id").aggregate(**aggs)


def _features(
    con: Any, criteria: list[Criterion], as_of: date, lookback: int, today: date, cmap: ir.Table
) -> ir.Table:
    _, labs, cats, conds = _needs(criteria)
    concept = con.table("concept")
    feats = person_table(con.table("person"), as_of, today)

    def mapped(domain: str) -> ir.Table:
        return (
            cmap.filter(cmap.domain == domain)
            .join(concept, ["vocabulary_id", "concept_code"])
            .select("concept_id", "item")
        )

    meas = con.table("measurement")
    lab_concepts = mapped("lab")
    all_labs = meas.join(lab_concepts, meas.measurement_concept_id == lab_concepts.concept_id)
    from hcctrial.protocol.vocabulary import LAB_CODES

    factors = unit_factors(con, set(LAB_CODES), cmap)
    joined = all_labs.mutate(unit_concept_id=all_labs.unit_concept_id.fill_null(0)).left_join(
        factors, ["item", "unit_concept_id"]
    )
    # data problems (evaluator: record problems -> never 'eligible'); see .checks
    late = ibis.literal(today)
    lab_problem = joined.filter(
        joined.scale.isnull()
        | joined.value_as_number.isnull()
        | (joined.value_as_number < 0)
        | (joined.measurement_date > late)
    ).select("person_id")
    drug, proc = con.table("drug_exposure"), con.table("procedure_occurrence")
    cond, obs = con.table("condition_occurrence"), con.table("observation")
    fc = mapped("finding")
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
            meas.join(fc, meas.measurement_concept_id == fc.concept_id)
            .filter(meas.measurement_date > late)
            .select("person_id")
        )
    )
    for flag, rows in (("_lab", lab_problem), ("_event", event_problem)):
        flagged = rows.distinct().mutate(**{flag: ibis.literal(True)})
        feats = feats.left_join(flagged, "person_id").drop("person_id_right")
    if labs:
        start = as_of - timedelta(days=lookback)
        window = joined.filter(
            joined.item.isin(sorted(labs)),
            joined.measurement_date.between(ibis.literal(start), ibis.literal(as_of)),
        )
        # evaluator (record.py, lookup.latest): the latest row is unusable with a negative
        # value or a unit that cannot be converted; a row of the test with no value or dated
        # after today makes the test unknown whatever its date (it might be the latest)
        w = window
        ok = w.scale.notnull() & (w.value_as_number >= 0)
        none = ibis.null("float64")
        value = ibis.ifelse(ok, w.value_as_number * w.scale + w.offset, none)
        high = ibis.ifelse(ok, w.range_high * w.scale + w.offset, none)
        low = ibis.ifelse(ok, w.range_low * w.scale + w.offset, none)
        ratio = ibis.ifelse(ok & (w.range_high > 0), w.value_as_number / w.range_high, none)
        exprs = {"lab": value, "uln": high, "lln": low, "xuln": ratio}
        read = {  # only the columns the criteria read
            f"{kind}__{lab}": (lab, exprs[kind])
            for lab in sorted(labs)
            for kind in sorted(labs[lab])
        }
        wide = _latest_wide(con, w, "measurement_date", "measurement_id", "item", read)
        poisoned = joined.filter(
            joined.item.isin(sorted(labs)),
            joined.value_as_number.isnull() | (joined.measurement_date > late),
        )
        bad = poisoned.group_by("person_id").aggregate(
            **{f"bad__{lab}": (poisoned.item == lab).any() for lab in sorted(labs)}
        )
        wide = wide.outer_join(bad, "person_id")
        wide = wide.select(
            person_id=wide.person_id.fill_null(wide.person_id_right),
            **{
                f"{kind}__{lab}": ibis.ifelse(
                    wide[f"bad__{lab}"].fill_null(False), none, wide[f"{kind}__{lab}"]
                )
                for lab in sorted(labs)
                for kind in sorted(labs[lab])
            },
        )
        feats = feats.left_join(wide, "person_id").drop("person_id_right")
    # every mapped finding is checked (the evaluator's record holds them all); the criteria's
    # findings are then spread into columns
    o = obs.join(fc, obs.observation_concept_id == fc.concept_id).select(
        "person_id",
        "item",
        d=obs.observation_date,
        i=obs.observation_id,
        num=obs.value_as_number,
        txt=obs.value_as_string,
    )
    m = meas.join(fc, meas.measurement_concept_id == fc.concept_id).select(
        "person_id",
        "item",
        d=meas.measurement_date,
        i=meas.measurement_id,
        num=meas.value_as_number,
        txt=ibis.null("string"),
    )
    both = o.union(m)
    dated = both.filter(both.d <= ibis.literal(as_of))
    # one column per mapped finding (numbers in num__, texts in txt__), then the plausibility
    # checks per column (.checks.clean_wide), cheaper than per row. Numbers and texts are two
    # aggregates over their own rows: a text state is costly, and each row then feeds only
    # the aggregates of its kind
    texts = [n for n in finding_names() if n in TEXT_FINDINGS]
    numbers = [n for n in finding_names() if n not in TEXT_FINDINGS]
    t_rows = dated.filter(dated.item.isin(texts))
    n_rows = dated.filter(dated.item.isin(numbers))
    t_wide = _latest_wide(
        con, t_rows, "d", "i", "item", {f"txt__{n}": (n, t_rows.txt) for n in texts}
    )
    n_wide = _latest_wide(
        con, n_rows, "d", "i", "item", {f"num__{n}": (n, n_rows.num) for n in numbers}
    )
    wide = n_wide.outer_join(t_wide, "person_id")
    wide = wide.mutate(person_id=wide.person_id.fill_null(wide.person_id_right)).drop(
        "person_id_right"
    )
    wide = clean_wide(wide)
    feats = feats.left_join(wide, "person_id").drop("person_id_right")
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
            f"last__{c}": capped.max(where=events.item.isin(sorted(m))) for c, m in members.items()
        }
        wide = events.group_by("person_id").aggregate(**aggs)
        feats = feats.left_join(wide, "person_id").drop("person_id_right")
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
        wide = c.group_by("person_id").aggregate(**aggs)
        feats = feats.left_join(wide, "person_id").drop("person_id_right")
    return feats


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


def build_features(
    con: Any,
    criteria: list[Criterion],
    as_of: date,
    lookback_days: int,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
) -> ir.Table:
    """One row per person with every feature ``criteria`` read (labs in the look-back window,
    the latest findings, last therapy/event dates, conditions) and the problem flags.

    Several protocols with the same look-back can share one feature table: pass the criteria
    of all of them and give the result to :func:`compile_protocol` as ``features``.
    """
    from hcctrial.eligibility.omop.concepts import concept_map as default_map

    cmap = ibis.memtable((concept_map if concept_map is not None else default_map()).to_arrow())
    return _features(con, criteria, as_of, lookback_days, today or date.today(), cmap)


def compile_protocol(
    con: Any,
    protocol_id: str,
    criteria: list[Criterion],
    as_of: date,
    lookback_days: int,
    *,
    today: date | None = None,
    concept_map: pl.DataFrame | None = None,
    features: ir.Table | None = None,
) -> CompiledProtocol:
    """The screening query of one protocol on an Ibis connection to an OMOP CDM v5.4 database.

    Parameters
    ----------
    con : an Ibis backend (DuckDB, PostgreSQL, PySpark) with the OMOP tables and ``concept``.
    criteria, lookback_days : from :func:`hcctrial.eligibility.criteria_from_protocol`.
    as_of : the screening date; ``today``: lab rows dated later are data problems.
    concept_map : the vocabulary -> code map (default :func:`..concepts.concept_map`).
    features : the person-level features of :func:`build_features` for these criteria (or
        more), e.g. materialized once for several protocols; built here when not given.
    """
    feats = (
        features
        if features is not None
        else build_features(
            con, criteria, as_of, lookback_days, today=today, concept_map=concept_map
        )
    )
    compiler = _Compiler(feats, as_of)
    columns: dict[str, str] = {}
    results: dict[str, ir.Value] = {}
    pending = False
    for i, c in enumerate(criteria):
        col = f"c{i:02d}"
        columns[c.id] = col
        if c.expression is None:
            results[col] = ibis.null("boolean")
            pending = True
            continue
        results[col] = compiler.compile(c.expression.tree)
    flags = {flag: feats[flag].fill_null(False) for flag in PROBLEM_FLAGS}
    q = feats.select("person_id", **flags, **results)
    problem = ibis.literal(False)
    for flag in PROBLEM_FLAGS:
        if flag != "_dup":
            problem = problem | q[flag]
    q = q.mutate(_problem=problem)
    any_fail = ibis.literal(False)
    for i, c in enumerate(criteria):
        if c.expression is not None:
            any_fail = any_fail | (q[f"c{i:02d}"] == (c.kind == "exclusion")).fill_null(False)
    any_unknown = ibis.literal(False)
    for i, c in enumerate(criteria):
        if c.expression is not None:
            any_unknown = any_unknown | q[f"c{i:02d}"].isnull()
    # evaluate._decide: a record problem (duplicate person) makes 'incomplete' before anything
    decision = ibis.cases(
        (q._dup, "incomplete"),
        (any_fail, "ineligible"),
        (any_unknown | q._problem, "incomplete"),
        (ibis.literal(pending), "incomplete"),
        else_="eligible",
    )
    detail = ibis.cases(
        (q._dup, "record problem: duplicate person id"),
        (any_fail, "fails a criterion"),
        (any_unknown, "unknown criteria"),
        (q._problem, "input problems"),
        (ibis.literal(pending), "eligible pending investigator judgement"),
        else_="meets every criterion",
    )
    query = q.mutate(DECISION=decision, DETAIL=detail)
    return CompiledProtocol(protocol_id, list(criteria), query, columns)
