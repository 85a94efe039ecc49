"""The study-data specification (``domains.yaml``) as typed objects.

One table, kept as data beside this module, says for every SDTM domain hcctrial reads which
columns are required, their types, the natural key used to find duplicates, the date columns
and their default imputation rule, and the controlled terminology checked. Variable names and
labels follow the CDISC SDTM Implementation Guide v3.4 (:data:`SDTM_IG_VERSION`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

__all__ = [
    "DOMAIN_ORDER",
    "SDTM_IG_VERSION",
    "Codelist",
    "ColumnSpec",
    "DomainSpec",
    "TermCheck",
    "codelists",
    "domain_spec",
    "known_domains",
]

ColumnType = Literal["char", "num", "int", "date"]
Role = Literal["required", "common", "optional"]

_DOMAIN_NAME = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")


@dataclass(frozen=True)
class Codelist:
    """Allowed values of a column (compared stripped and upper-case) and where they come from."""

    name: str
    values: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class TermCheck:
    """A controlled-terminology check: ``column`` must be in ``codelist`` where ``when`` holds."""

    column: str
    codelist: str
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ColumnSpec:
    """One SDTM variable: its role for hcctrial, type, label and default date imputation."""

    name: str
    role: Role = "optional"
    type: ColumnType = "char"
    label: str = ""
    impute: str = "first"
    codelist: str | None = None


@dataclass(frozen=True)
class DomainSpec:
    """One domain of the specification.

    ``generic`` is true for a domain hcctrial has no model of (kept as read: only ``--DTC``
    dates, empty ``USUBJID`` and subjects missing from DM are checked).
    """

    name: str
    label: str
    columns: tuple[ColumnSpec, ...]
    keys: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    checks: tuple[TermCheck, ...] = ()
    generic: bool = False
    parent: str | None = None
    _by_name: dict[str, ColumnSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> ColumnSpec | None:
        """The specification of a column, or None when the domain does not define it."""
        return self._by_name.get(name)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a file must have."""
        return tuple(c.name for c in self.columns if c.role == "required")

    @property
    def template_columns(self) -> tuple[ColumnSpec, ...]:
        """Required and common columns: the header of the CSV template."""
        return tuple(c for c in self.columns if c.role in ("required", "common"))

    def date_columns(self, present: list[str]) -> dict[str, str]:
        """Date (``--DTC``) columns among ``present`` with their default imputation rule."""
        out: dict[str, str] = {}
        for name in present:
            spec = self.column(name)
            if spec is not None and spec.type == "date":
                out[name] = spec.impute
            elif spec is None and name.endswith("DTC"):
                out[name] = "first"
        return out


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    text = resources.files("hcctrial.io").joinpath("domains.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


SDTM_IG_VERSION: str = str(_raw()["sdtm_ig"])
"""The SDTM Implementation Guide version the variable names and labels follow."""

DOMAIN_ORDER: tuple[str, ...] = tuple(d for d in _raw()["domains"] if d != "SUPP")
"""The modelled domains, in the order hcctrial lists them."""


@lru_cache(maxsize=1)
def codelists() -> dict[str, Codelist]:
    """Every codelist of the specification by name."""
    return {
        name: Codelist(name, tuple(str(v).upper() for v in entry["values"]), entry["source"])
        for name, entry in _raw()["codelists"].items()
    }


def _when(raw: dict[str, list[str]] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not raw:
        return ()
    return tuple((col, tuple(str(v).upper() for v in values)) for col, values in raw.items())


def _build(name: str, raw: dict[str, Any], parent: str | None = None) -> DomainSpec:
    columns = []
    checks = []
    for col, attrs in raw["columns"].items():
        spec = ColumnSpec(
            name=col,
            role=attrs.get("role", "optional"),
            type=attrs.get("type", "char"),
            label=attrs.get("label", ""),
            impute=attrs.get("impute", "first"),
            codelist=attrs.get("codelist"),
        )
        columns.append(spec)
        if spec.codelist:
            checks.append(TermCheck(col, spec.codelist, _when(attrs.get("when"))))
    for extra in raw.get("extra_checks", []):
        checks.append(TermCheck(extra["column"], extra["codelist"], _when(extra.get("when"))))
    return DomainSpec(
        name=name,
        label=raw["label"] if parent is None else f"Supplemental Qualifiers for {parent}",
        columns=tuple(columns),
        keys=tuple(raw.get("keys", ())),
        not_null=tuple(raw.get("not_null", ())),
        checks=tuple(checks),
        parent=parent,
    )


def known_domains() -> tuple[str, ...]:
    """Domains with a model in the specification (SUPP-- excluded)."""
    return DOMAIN_ORDER


@lru_cache(maxsize=256)
def domain_spec(name: str) -> DomainSpec:
    """The specification of a domain (``"LB"``, ``"SUPPTR"``, or any other name, kept as read).

    Raises
    ------
    ValueError : the name is not a possible SDTM dataset name (1-8 letters or digits,
        starting with a letter).
    """
    key = name.strip().upper()
    if not _DOMAIN_NAME.match(key):
        raise ValueError(f"not a domain name: {name!r}")
    domains = _raw()["domains"]
    if key in domains and key != "SUPP":
        return _build(key, domains[key])
    if key.startswith("SUPP") and len(key) > 4:
        return _build(key, domains["SUPP"], parent=key[4:])
    return DomainSpec(
        name=key,
        label=f"{key} (no hcctrial model; kept as read)",
        columns=(ColumnSpec("USUBJID", role="optional", label="Unique Subject Identifier"),),
        not_null=(),
        generic=True,
    )
