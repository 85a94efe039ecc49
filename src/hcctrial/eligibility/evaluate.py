"""Three-valued evaluation of a protocol's criteria for one patient, with explanations.

For each criterion the result is ``met``, ``not met``, ``unknown`` (with the reason) or
``investigator judgement`` (pending unless the record carries the investigator's decision).
``met`` means the expression is true: an inclusion is satisfied, an exclusion applies.

The patient's decision (:func:`screen_patient`):

- ``ineligible`` if any inclusion is not met or any exclusion is met (this holds even when
  other criteria are unknown: one failed criterion is enough);
- otherwise ``incomplete`` if any criterion is unknown or the record has input problems
  (an impossible value, a duplicate person), with the reasons;
- otherwise ``incomplete`` with the detail ``eligible pending investigator judgement`` if only
  investigator-judgement criteria remain open;
- otherwise ``eligible``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from hcctrial.eligibility.language import ParsedExpression, call_label, parse_expression
from hcctrial.eligibility.logic import (
    Unknown,
    Value,
    arithmetic,
    compare,
    kleene_and,
    kleene_not,
    kleene_or,
)
from hcctrial.eligibility.lookup import Lookup, UsedValue
from hcctrial.eligibility.record import PatientRecord
from hcctrial.errors import InputError

__all__ = [
    "Criterion",
    "CriterionResult",
    "PatientDecision",
    "criteria_from_protocol",
    "evaluate_criterion",
    "screen_patient",
]

DEFAULT_LOOKBACK_DAYS = 14  # docs/criteria-language.md: default look-back of lab()
_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

Status = Literal["met", "not met", "unknown", "investigator judgement"]


@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion: an expression, or a criterion left to the investigator."""

    id: str
    kind: Literal["inclusion", "exclusion"]
    source: str
    expression: ParsedExpression | None = None
    judgement_reason: str | None = None


@dataclass
class CriterionResult:
    """The result of one criterion for one patient, with the values used."""

    criterion: Criterion
    status: Status
    reason: str | None = None
    values: list[UsedValue] = field(default_factory=list)
    comparisons: list[str] = field(default_factory=list)

    @property
    def effect(self) -> Literal["passes", "fails", "unknown", "pending"]:
        """What the result does to eligibility."""
        if self.status == "unknown":
            return "unknown"
        if self.status == "investigator judgement":
            return "pending"
        excluded = self.status == "met"
        ok = not excluded if self.criterion.kind == "exclusion" else excluded
        return "passes" if ok else "fails"


@dataclass
class PatientDecision:
    """The screening decision for one patient and one protocol."""

    patient_id: str
    protocol_id: str
    as_of: date
    decision: Literal["eligible", "ineligible", "incomplete"]
    detail: str
    results: list[CriterionResult]
    problems: list[str] = field(default_factory=list)


def criteria_from_protocol(protocol: Any) -> tuple[list[Criterion], int]:
    """The criteria of a :class:`hcctrial.protocol.Protocol` (parsed) and its lab look-back days.

    Raises :class:`InputError` naming the protocol and criterion for an expression outside the
    language.
    """
    eligibility = protocol.eligibility
    lookback = getattr(eligibility, "lab_lookback_days", None) or DEFAULT_LOOKBACK_DAYS
    pid = getattr(protocol, "id", "?")
    criteria = []
    for item in eligibility.criteria:
        expression = getattr(item, "expression", None)
        parsed = (
            parse_expression(expression, where=f"protocol {pid}, criterion {item.id}")
            if expression
            else None
        )
        criteria.append(
            Criterion(
                id=item.id,
                kind=item.kind,
                source=item.source,
                expression=parsed,
                judgement_reason=None if parsed else (getattr(item, "reason", None) or ""),
            )
        )
    return criteria, int(lookback)


def _fmt(value: Value) -> str:
    if isinstance(value, Unknown):
        return "unknown"
    if value is None:
        return "never"
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value) if isinstance(value, str) else str(value)


class _Evaluator:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.comparisons: list[str] = []

    def eval(self, node: ast.expr) -> Value:
        if isinstance(node, ast.Constant):
            constant: Any = node.value
            return constant
        if isinstance(node, ast.Name):
            return self.lookup.name(node.id)
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v) for v in node.values]  # no short cut: explain every value
            return kleene_and(values) if isinstance(node.op, ast.And) else kleene_or(values)
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return kleene_not(operand)
            if isinstance(operand, Unknown) or operand is None:
                return operand
            return -operand if isinstance(node.op, ast.USub) else operand  # type: ignore[operator]
        if isinstance(node, ast.BinOp):
            return arithmetic(self.eval(node.left), _ARITH[type(node.op)], self.eval(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise InputError(f"not part of the criterion language: {ast.unparse(node)}")

    def _compare(self, node: ast.Compare) -> Value:
        results: list[Value] = []
        left_node, left = node.left, self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(right_node, ast.List | ast.Tuple)
                options = [e.value for e in right_node.elts if isinstance(e, ast.Constant)]
                if isinstance(left, Unknown):
                    result: Value = left
                else:
                    result = (left in options) != isinstance(op, ast.NotIn)
                text = "not in" if isinstance(op, ast.NotIn) else "in"
                self._note(left_node, text, right_node, left, options, result)
                results.append(result)
                continue
            right = self.eval(right_node)
            symbol = _OPS[type(op)]
            result = compare(left, symbol, right)
            self._note(left_node, symbol, right_node, left, right, result)
            results.append(result)
            left_node, left = right_node, right
        return kleene_and(results)

    def _note(self, ln: ast.expr, op: str, rn: ast.expr, lv: Any, rv: Any, res: Value) -> None:
        def label(node: ast.expr, value: Any) -> str:
            if isinstance(node, ast.Constant | ast.List | ast.Tuple):
                return _fmt(value) if not isinstance(value, list) else str(value)
            shown = call_label(node) if isinstance(node, ast.Call) else ast.unparse(node)
            return f"{shown} = {_fmt(value)}"

        outcome = "unknown" if isinstance(res, Unknown) else str(res).lower()
        self.comparisons.append(f"{label(ln, lv)} {op} {label(rn, rv)}: {outcome}")

    def _call(self, node: ast.Call) -> Value:
        assert isinstance(node.func, ast.Name)
        func = node.func.id
        args: list[Any] = [a.value for a in node.args if isinstance(a, ast.Constant)]
        lookup = self.lookup
        if func == "lab":
            return lookup.lab(args[0], args[1] if len(args) > 1 else None)
        if func in ("uln", "lln"):
            return lookup.limit(args[0], func)
        if func == "xuln":
            return lookup.xuln(args[0])
        if func == "crcl":
            return lookup.crcl()
        if func == "days_since":
            return lookup.days_since(args[0])
        if func in ("within_days", "within_months"):
            return lookup.within(args[0], int(args[1]), func.removeprefix("within_"))
        if func in ("history", "active"):
            return lookup.condition(args[0], active=func == "active")
        raise InputError(f"unknown function {func}()")


def evaluate_criterion(
    criterion: Criterion, record: PatientRecord, as_of: date, lookback_days: int
) -> CriterionResult:
    """Evaluate one criterion for one patient on the screening date ``as_of``."""
    if criterion.expression is None:
        decided = record.judgements.get(criterion.id)
        if decided is None:
            return CriterionResult(criterion, "investigator judgement", criterion.judgement_reason)
        return CriterionResult(
            criterion, "met" if decided else "not met", "investigator's decision on the record"
        )
    lookup = Lookup(record, as_of, lookback_days)
    evaluator = _Evaluator(lookup)
    value = evaluator.eval(criterion.expression.tree)
    if isinstance(value, Unknown):
        status: Status = "unknown"
        reason: str | None = value.reason
    else:
        status, reason = ("met" if value else "not met"), None
    return CriterionResult(criterion, status, reason, lookup.used, evaluator.comparisons)


def _decide(
    results: Sequence[CriterionResult], problems: Sequence[str], record_problem: str | None
) -> tuple[Literal["eligible", "ineligible", "incomplete"], str]:
    if record_problem:  # the record cannot be trusted as a whole (duplicate, unreadable)
        return "incomplete", f"record problem: {record_problem}; " + "; ".join(problems)
    failed = [r.criterion.id for r in results if r.effect == "fails"]
    if failed:
        # one failed criterion is enough, but the input problems are still worth fixing
        noted = f" | input problems: {len(problems)} (see PROBLEMS)" if problems else ""
        return "ineligible", "fails " + ", ".join(failed) + noted
    unknown = [f"{r.criterion.id} ({r.reason})" for r in results if r.effect == "unknown"]
    pending = [r.criterion.id for r in results if r.effect == "pending"]
    if unknown or problems:
        parts = []
        if unknown:
            parts.append("unknown: " + "; ".join(unknown))
        if problems:
            parts.append("input problems: " + "; ".join(problems))
        return "incomplete", " | ".join(parts)
    if pending:
        return "incomplete", "eligible pending investigator judgement (" + ", ".join(pending) + ")"
    return "eligible", "meets every criterion"


def screen_patient(
    protocol: Any,
    record: PatientRecord,
    as_of: date,
    *,
    criteria: Iterable[Criterion] | None = None,
    lookback_days: int | None = None,
) -> PatientDecision:
    """Screen one patient against one protocol on the screening date ``as_of``.

    Parameters
    ----------
    protocol : a :class:`hcctrial.protocol.Protocol` (its id, criteria and look-back are used);
        may be a protocol id string when ``criteria`` is given.
    record : the patient (:func:`hcctrial.eligibility.read_patients` and friends make these).
    as_of : the screening date.
    criteria, lookback_days : pre-parsed criteria (from :func:`criteria_from_protocol`), to
        screen many patients without parsing again.
    """
    if criteria is None:
        criteria, parsed_lookback = criteria_from_protocol(protocol)
        lookback_days = lookback_days or parsed_lookback
    lookback = lookback_days or DEFAULT_LOOKBACK_DAYS
    results = [evaluate_criterion(c, record, as_of, lookback) for c in criteria]
    problems = [str(p) for p in record.problems]
    decision, detail = _decide(results, problems, record.invalid.get("record"))
    pid = protocol if isinstance(protocol, str) else getattr(protocol, "id", "?")
    return PatientDecision(record.id, str(pid), as_of, decision, detail, results, problems)
