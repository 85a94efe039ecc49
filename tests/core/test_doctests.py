"""Every example in a docstring of the package runs and prints what it shows (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hcctrial

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(hcctrial.__path__, "hcctrial.")
    if ".migrations" not in m.name  # Alembic's env.py runs only inside Alembic
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} fail"


def test_the_package_has_docstring_examples() -> None:
    """Guard against collecting nothing: the package holds at least this many examples."""
    finder = doctest.DocTestFinder()
    examples = sum(
        len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n))
    )
    assert examples >= 30
