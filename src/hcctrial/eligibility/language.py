"""The criterion language: parse and check an eligibility expression (``ast``, never ``eval``).

The language is specified in ``docs/criteria-language.md``: a small subset of Python expression
syntax (literals, vocabulary names, comparisons including chains, ``in`` with a literal list,
``and``/``or``/``not``, ``+ - * /`` and a fixed set of functions). :func:`parse_expression`
parses the text with :func:`ast.parse` in ``eval`` mode, walks the tree and rejects every node
that is not in that subset, so an expression can never run code. It also infers a type for every
sub-expression (number, text, bool) so that a protocol that compares a lab value with a string,
or combines numbers with ``and``, is rejected when the protocol is loaded rather than when a
patient is screened.

Names, functions, lab codes, therapy/event categories and conditions come from the protocol
package's vocabulary (:mod:`hcctrial.protocol.vocabulary`), the one list of the language.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from hcctrial.errors import InputError
from hcctrial.protocol import vocabulary as _vocab

__all__ = [
    "NAME_TYPES",
    "ParsedExpression",
    "ValueType",
    "call_label",
    "parse_expression",
]

ValueType = Literal["number", "text", "bool", "any"]

# The type each vocabulary name yields (docs/criteria-language.md, "Patient vocabulary").
_BOOL_NAMES = frozenset(
    {
        "hbsag_positive",
        "hbcab_positive",
        "hcv_ab_positive",
        "hiv_positive",
        "vascular_invasion_occlusive",
        "main_portal_vein_invasion",
        "extrahepatic_spread",
        "pregnant",
        "lactating",
        "consent_signed",
        "donor_available",
        "tace_failure_jsh",
        "stable_vital_signs",
    }
)
_TEXT_NAMES = frozenset(
    {"sex", "diagnosis", "diagnosis_basis", "bclc_stage", "child_pugh_class", "gpc3_ihc"}
)


def _name_type(name: str) -> ValueType:
    if name in _BOOL_NAMES:
        return "bool"
    if name in _TEXT_NAMES:
        return "text"
    return "number"


NAME_TYPES: dict[str, ValueType] = {name: _name_type(name) for name in _vocab.NAMES}

# function -> (argument kinds, return type). Argument kinds: "lab" (a lab code), "unit" (a unit
# text), "category", "condition", "int" (a non-negative whole number literal).
_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], ValueType]] = {
    # name: (required args, optional args, return type)
    "lab": (("lab",), ("unit",), "number"),
    "uln": (("lab",), (), "number"),
    "lln": (("lab",), (), "number"),
    "xuln": (("lab",), (), "number"),
    "crcl": ((), (), "number"),
    "days_since": (("category",), (), "number"),
    "within_days": (("category", "int"), (), "bool"),
    "within_months": (("category", "int"), (), "bool"),
    "history": (("condition",), (), "bool"),
    "active": (("condition",), (), "bool"),
}


@dataclass(frozen=True)
class ParsedExpression:
    """A checked criterion expression.

    Attributes
    ----------
    text : the expression as written in the protocol.
    tree : the checked :mod:`ast` expression node (only the allowed subset).
    names : vocabulary names it reads.
    labs : lab codes it reads (through ``lab``, ``uln``, ``lln``, ``xuln``, ``crcl``).
    categories : therapy/event categories it reads.
    conditions : conditions it reads.
    """

    text: str
    tree: ast.expr
    names: frozenset[str] = field(default_factory=frozenset)
    labs: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)
    conditions: frozenset[str] = field(default_factory=frozenset)


def call_label(node: ast.Call) -> str:
    """The call as a clinician reads it in an explanation, e.g. ``lab("PLT", "10^9/L")``."""
    func = node.func.id if isinstance(node.func, ast.Name) else "?"
    args = ", ".join(
        f'"{a.value}"'
        if isinstance(a, ast.Constant) and isinstance(a.value, str)
        else ast.unparse(a)
        for a in node.args
    )
    return f"{func}({args})"


class _Checker:
    """Walks an :mod:`ast` tree, rejects what the language does not allow, infers types."""

    def __init__(self, text: str, where: str | None) -> None:
        self.text = text
        self.where = where
        self.names: set[str] = set()
        self.labs: set[str] = set()
        self.categories: set[str] = set()
        self.conditions: set[str] = set()
        self.current_lab = ""

    def fail(self, message: str, node: ast.AST | None = None, expected: str | None = None) -> None:
        part = ast.unparse(node) if isinstance(node, ast.expr) else None
        prefix = f"{self.where}: " if self.where else ""
        raise InputError(
            f"{prefix}criterion expression {self.text!r}: {message}"
            + (f" at {part!r}" if part and part != self.text else ""),
            expected=expected,
        )

    def check(self, node: ast.expr) -> ValueType:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return "bool"
            if isinstance(value, int | float):
                return "number"
            if isinstance(value, str):
                return "text"
            if value is None:
                self.fail(
                    "None is not a value of the language", node, "a number, text or True/False"
                )
            self.fail("unsupported literal", node, "a number, text or True/False")
        if isinstance(node, ast.Name):
            if node.id in ("True", "False"):
                return "bool"
            if node.id not in NAME_TYPES:
                self.fail(
                    f"unknown name {node.id!r}",
                    node,
                    "a name of the patient vocabulary (docs/criteria-language.md)",
                )
            self.names.add(node.id)
            return NAME_TYPES[node.id]
        if isinstance(node, ast.BoolOp):
            for item in node.values:
                if self.check(item) not in ("bool", "any"):
                    self.fail("'and'/'or' needs true/false operands", item, "a comparison")
            return "bool"
        if isinstance(node, ast.UnaryOp):
            operand = self.check(node.operand)
            if isinstance(node.op, ast.Not):
                if operand != "bool":
                    self.fail("'not' needs a true/false operand", node.operand, "a comparison")
                return "bool"
            if isinstance(node.op, ast.USub | ast.UAdd):
                if operand != "number":
                    self.fail("a sign needs a number", node.operand)
                return "number"
            self.fail("operator not allowed", node, "and, or, not, + - * /")
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
                self.fail("operator not allowed", node, "+ - * /")
            for side in (node.left, node.right):
                if self.check(side) != "number":
                    self.fail("arithmetic needs numbers", side)
            return "number"
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        self.fail(f"{type(node).__name__} is not part of the criterion language", node)
        raise AssertionError("unreachable")  # pragma: no cover

    def _compare(self, node: ast.Compare) -> ValueType:
        left_type = self.check(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple) or not right.elts:
                    self.fail("'in' needs a non-empty list literal", right, '["B", "C"]')
                assert isinstance(right, ast.List | ast.Tuple)
                for elt in right.elts:
                    if not isinstance(elt, ast.Constant):
                        self.fail("'in' lists hold literals only", elt)
                    if self.check(elt) != left_type:
                        self.fail(f"list item is not {left_type}", elt)
                if len(node.ops) > 1:
                    self.fail("'in' cannot be chained", node)
                continue
            if not isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.Eq | ast.NotEq):
                self.fail("comparison not allowed", node, "< <= > >= == != in")
            right_type = self.check(right)
            if left_type != right_type:
                self.fail(f"compares {left_type} with {right_type}", node)
            if left_type in ("text", "bool") and not isinstance(op, ast.Eq | ast.NotEq):
                self.fail(f"{left_type} values can only be compared with == or !=", node)
            left_type = right_type
        return "bool"

    def _call(self, node: ast.Call) -> ValueType:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            self.fail(
                "unknown function",
                node,
                "one of " + ", ".join(sorted(_FUNCTIONS)),
            )
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if name not in _vocab.FUNCTIONS:
            self.fail(f"function {name!r} is not in the vocabulary", node)
        if node.keywords:
            self.fail("keyword arguments are not allowed", node)
        required, optional, result = _FUNCTIONS[name]
        if not len(required) <= len(node.args) <= len(required) + len(optional):
            self.fail(f"{name}() takes {len(required)} argument(s)", node)
        for kind, arg in zip(required + optional, node.args, strict=False):
            self._argument(name, kind, arg)
        if name == "crcl":
            self.labs.add("CREAT")
        return result

    def _argument(self, func: str, kind: str, arg: ast.expr) -> None:
        if kind == "int":
            if (
                not isinstance(arg, ast.Constant)
                or isinstance(arg.value, bool)
                or not isinstance(arg.value, int)
                or arg.value < 0
            ):
                self.fail(f"{func}() needs a whole number of days/months", arg, "e.g. 14")
            return
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
            self.fail(f"{func}() needs a quoted text argument", arg)
        assert isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        value = arg.value
        if kind == "lab":
            if value not in _vocab.LAB_CODES:
                self.fail(f"unknown lab code {value!r}", arg, "an SDTM LBTESTCD of the vocabulary")
            self.labs.add(value)
            self.current_lab = value
        elif kind == "unit":
            from hcctrial.clinical.units import UnitError, check_unit

            try:
                check_unit(value, self.current_lab)
            except UnitError as exc:
                self.fail(
                    f"unit {value!r} does not fit {self.current_lab}: {exc.problem.message}",
                    arg,
                    exc.problem.expected or "a unit such as 10^9/L, g/L, umol/L",
                )
        elif kind == "category":
            if value not in _vocab.CATEGORIES:
                self.fail(f"unknown therapy/event category {value!r}", arg)
            self.categories.add(value)
        elif kind == "condition":
            if value not in _vocab.CONDITIONS:
                self.fail(f"unknown condition {value!r}", arg)
            self.conditions.add(value)


def parse_expression(text: str, *, where: str | None = None) -> ParsedExpression:
    """Parse and check a criterion expression.

    Parameters
    ----------
    text : the expression, e.g. ``'lab("PLT", "10^9/L") >= 60'``.
    where : where it comes from (e.g. ``"SZ003 IN-LAB-PLT"``), used in error messages.

    Returns
    -------
    ParsedExpression
        The checked tree and what it reads.

    Raises
    ------
    InputError
        Syntax errors, names or functions outside the vocabulary, wrong argument kinds, and
        type errors (e.g. ``ecog == "A"``, ``lab("PLT") and 3``). The whole expression must be a
        condition (type bool).
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{prefix}empty criterion expression", expected="an expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InputError(
            f"{prefix}criterion expression {text!r} is not valid syntax: {exc.msg}",
            expected='e.g. \'lab("PLT", "10^9/L") >= 60\'',
        ) from None
    checker = _Checker(text, where)
    result = checker.check(tree.body)
    if result != "bool":
        checker.fail("the expression must be a condition (true/false)", None, "a comparison")
    return ParsedExpression(
        text=text,
        tree=tree.body,
        names=frozenset(checker.names),
        labs=frozenset(checker.labs),
        categories=frozenset(checker.categories),
        conditions=frozenset(checker.conditions),
    )
