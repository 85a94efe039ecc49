"""A small structural check of criterion expressions when a protocol is loaded.

The full checker (types, units, three-valued evaluation) is the eligibility engine's
(:mod:`hcctrial.eligibility.language`); this one only makes sure that a protocol file holds a
Python expression of the allowed shape that uses names, functions, lab codes, categories and
conditions of :mod:`hcctrial.protocol.vocabulary`, so a typo fails at load time with the
criterion's YAML path.
"""

from __future__ import annotations

import ast

from hcctrial.protocol import vocabulary as vocab

__all__ = ["expression_problems"]

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Compare,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
    ast.In,
    ast.NotIn,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
)


def _first_text_arg(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _call_problems(node: ast.Call) -> list[str]:
    if not isinstance(node.func, ast.Name):
        return ["only plain function calls are allowed"]
    name = node.func.id
    if name not in vocab.FUNCTIONS:
        return [f"unknown function {name!r} (known: {', '.join(sorted(vocab.FUNCTIONS))})"]
    if node.keywords:
        return [f"{name}() takes no keyword arguments"]
    if name == "crcl":
        return [] if not node.args else ["crcl() takes no arguments"]
    arg = _first_text_arg(node)
    if arg is None:
        return [f"{name}() needs a quoted first argument"]
    if name in vocab.LAB_FUNCTIONS and arg not in vocab.LAB_CODES:
        return [f"unknown lab code {arg!r} in {name}() (known: {', '.join(vocab.LAB_CODES)})"]
    if name in vocab.CATEGORY_FUNCTIONS and arg not in vocab.CATEGORIES:
        return [f"unknown therapy/event category {arg!r} in {name}()"]
    if name in vocab.CONDITION_FUNCTIONS and arg not in vocab.CONDITIONS:
        return [f"unknown condition {arg!r} in {name}()"]
    return []


def expression_problems(text: str) -> list[str]:
    """What is wrong with a criterion expression (empty list when it is acceptable).

    Examples
    --------
    >>> expression_problems('lab("PLT", "10^9/L") >= 60')
    []
    >>> expression_problems("weight > 40")
    ["unknown name 'weight'"]
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        return [f"not a valid expression: {exc.msg} at column {exc.offset}"]
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            problems.append(f"{type(node).__name__} is not allowed in a criterion expression")
        elif isinstance(node, ast.Name) and node.id not in vocab.NAMES:
            if not any(
                isinstance(parent, ast.Call) and parent.func is node for parent in ast.walk(tree)
            ):
                problems.append(f"unknown name {node.id!r}")
        elif isinstance(node, ast.Call):
            problems.extend(_call_problems(node))
    return problems
