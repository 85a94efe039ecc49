"""Load protocol YAML files with errors a protocol author can act on.

A YAML syntax error names the file and line; a schema error names the YAML path of the bad
field (``arms[1].interventions[0].dose.unit``), its line, the value and what was expected.
Every problem of a file is reported at once as :class:`hcctrial.errors.InputErrors`; a raw
pydantic traceback never reaches the user.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hcctrial.errors import InputError, InputErrors, Problem
from hcctrial.protocol.models import Protocol

__all__ = ["builtin_protocols", "line_of", "load_protocol", "parse_protocol", "yaml_path"]


#: libyaml's parser when PyYAML was built with it (same constructor, same marks, ~15x faster).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once: the node tree (for line numbers and duplicate keys) and the Python data."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def yaml_path(loc: tuple[str | int, ...]) -> str:
    """A pydantic error location as a YAML path: ``('arms', 1, 'id')`` -> ``arms[1].id``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _node_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """The YAML node at ``loc`` (or the deepest existing ancestor), for its line number."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            if not match:
                return node
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    r"""The 1-based line of the YAML node at ``loc`` in ``text`` (or of its deepest ancestor).

    ``None`` when the text is not YAML.

    >>> line_of("id: x\narms:\n  - id: a\n  - id: b\n", ("arms", 1, "id"))
    4
    """
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None
    node = _node_at(root, loc)
    return None if node is None else node.start_mark.line + 1


def _duplicate_keys(
    node: yaml.Node | None, path: tuple[str | int, ...], out: list[Problem], file: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                out.append(
                    Problem(
                        f"{yaml_path((*path, name))}: key given twice",
                        file=f"{file} line {key.start_mark.line + 1}",
                        expected="each key once",
                    )
                )
            seen.add(name)
            _duplicate_keys(value, (*path, name), out, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(item, (*path, i), out, file)


def _expected(error: Any) -> str | None:
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "this field"
    if kind == "extra_forbidden":
        return "only the fields of the protocol format (docs/readme/protocol.md)"
    if msg.startswith("Input should be "):
        return msg[len("Input should be ") :]
    return None


def _problems_from(exc: ValidationError, root: yaml.Node | None, file: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        entries: list[tuple[tuple[str | int, ...], str, object, str | None]]
        if error["type"] == "protocol_references":
            entries = [(loc + tuple(p[0]), p[1], p[2], p[3]) for p in error["ctx"]["problems"]]
        else:
            msg = error["msg"]
            for prefix in ("Value error, ", "Assertion failed, "):
                msg = msg.removeprefix(prefix)
            if msg.startswith("Input should be "):
                msg = "invalid value"  # what was expected goes to `expected`
            if error["type"] == "missing":
                msg = "required field is missing"
            elif error["type"] == "extra_forbidden":
                msg = f"unknown field {loc[-1]!r}"
            value = error.get("input")
            shown = value if isinstance(value, str | int | float | bool) else None
            if error["type"] in ("missing",):
                shown = None
            entries = [(loc, msg, shown, _expected(error))]
        for where, message, value, expected in entries:
            node = _node_at(root, where)
            line = f" line {node.start_mark.line + 1}" if node is not None else ""
            problems.append(
                Problem(
                    f"{yaml_path(where)}: {message}",
                    file=f"{file}{line}",
                    value=value,
                    expected=expected,
                )
            )
    return problems


def parse_protocol(text: str, file: str = "<text>") -> Protocol:
    """Validate protocol YAML text; ``file`` names it in error messages.

    Raises
    ------
    InputErrors
        YAML syntax errors (with line), duplicate keys, and schema errors (with YAML path).
    """
    try:
        root, data = _compose_and_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = Problem(
            f"YAML syntax error: {exc.problem or exc}",
            file=f"{file}{line}",
            expected="valid YAML (check indentation, colons and quotes)",
        )
        raise InputErrors([problem], context=file) from None
    except yaml.YAMLError as exc:
        raise InputErrors([Problem(f"YAML error: {exc}", file=file)], context=file) from None
    if not isinstance(data, dict):
        raise InputErrors(
            [
                Problem(
                    "a protocol file must be a mapping", file=file, expected="id: ..., title: ..."
                )
            ],
            context=file,
        )
    duplicates: list[Problem] = []
    _duplicate_keys(root, (), duplicates, file)
    if duplicates:
        raise InputErrors(duplicates, context=file)
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InputErrors(_problems_from(exc, root, file), context=file) from None


def _builtin_dir() -> Path:
    return Path(str(resources.files("hcctrial.protocol") / "builtin"))


@functools.lru_cache(maxsize=1)
def _builtins() -> tuple[Protocol, ...]:
    found = []
    for path in sorted(_builtin_dir().glob("*.yaml")):
        found.append(parse_protocol(path.read_text(encoding="utf-8"), file=str(path)))
    return tuple(found)


def builtin_protocols() -> dict[str, Protocol]:
    """The built-in protocols (the five seed trials), id -> :class:`Protocol`."""
    return {p.id: p for p in _builtins()}


def load_protocol(path_or_id: str | Path) -> Protocol:
    """Load a protocol from a YAML file path, or a built-in one by id or alias.

    Ids match case-insensitively (``nct04011033``) and aliases are accepted (``SZ003``).

    Raises
    ------
    InputError
        The file does not exist and no built-in protocol has that id.
    InputErrors
        The file is not a valid protocol (see :func:`parse_protocol`).
    """
    text = str(path_or_id)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputError("protocol file not found", file=text, expected="a YAML file")
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read protocol file: {exc}", file=text) from None
        return parse_protocol(content, file=text)
    wanted = text.casefold()
    for protocol in _builtins():
        names = [protocol.id, *(protocol.aliases)]
        if protocol.registry_id:
            names.append(protocol.registry_id)
        if wanted in (n.casefold() for n in names):
            return protocol
    known = ", ".join(p.id for p in _builtins())
    raise InputError(
        "no protocol file or built-in protocol with this name",
        value=text,
        expected=f"a YAML file path or one of {known}",
    )
