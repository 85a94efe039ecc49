"""Fixtures of the schedule tests: protocols as files and as editable dicts."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hcctrial.protocol import Protocol, load_protocol, parse_protocol

HERE = Path(__file__).resolve().parent
MINIMAL = HERE.parent / "protocol" / "minimal.yaml"
INKT = HERE / "inkt_tace.yaml"


@pytest.fixture(scope="session")
def minimal() -> Protocol:
    return load_protocol(MINIMAL)


@pytest.fixture(scope="session")
def inkt() -> Protocol:
    return load_protocol(INKT)


@pytest.fixture
def variant() -> Callable[[Callable[[dict[str, Any]], None]], Protocol]:
    """A protocol made from minimal.yaml after an edit of its dict."""
    base = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))

    def make(edit: Callable[[dict[str, Any]], None]) -> Protocol:
        data = copy.deepcopy(base)
        edit(data)
        return parse_protocol(yaml.safe_dump(data), file="variant.yaml")

    return make
