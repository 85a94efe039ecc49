"""DLT rule terms: CTCAE/MedDRA spelling aliases and rule terms that nearly match the data."""

from __future__ import annotations

import difflib

from hcctrial.errors import Problem
from hcctrial.protocol import DLTSpec

__all__ = ["TERM_ALIASES", "rule_term_problems"]

# CTCAE terms whose MedDRA preferred term (AEDECOD) is spelled otherwise: CTCAE v5.0 "Fever"
# is MedDRA LLT 10016558, whose PT is "Pyrexia" (10037660). A rule naming either matches both.
TERM_ALIASES: dict[str, frozenset[str]] = {
    "FEVER": frozenset({"FEVER", "PYREXIA"}),
    "PYREXIA": frozenset({"FEVER", "PYREXIA"}),
}


def _aliases(term: str) -> frozenset[str]:
    key = term.strip().upper()
    return TERM_ALIASES.get(key, frozenset({key}))


def rule_term_problems(spec: DLTSpec, terms: list[str], file: str | None = None) -> list[Problem]:
    """Rule terms and exceptions that match no AE term of the data but are close to one.

    A term the data lack is normal (no febrile neutropenia occurred); one that is *nearly* an
    AE term ("Neutrophil count decrease") is likely misspelt, and then the rule silently
    misses or fails to except that AE. Each such term is a problem naming the nearest terms.
    """
    present = {t.strip().upper(): t for t in terms if t}
    problems = []
    for rule in spec.rules:
        for kind, names in (
            ("term", [rule.term] if rule.term else []),
            ("exception", rule.exceptions),
        ):
            for name in names:
                if _aliases(name) & set(present):
                    continue
                near = difflib.get_close_matches(
                    name.strip().upper(), list(present), n=2, cutoff=0.75
                )
                if near:
                    problems.append(
                        Problem(
                            f"DLT rule {rule.id}: {kind} {name!r} matches no AE term; did you mean "
                            + " or ".join(repr(present[n]) for n in near)
                            + "?",
                            file=file,
                            column="AEDECOD",
                            value=name,
                            expected="the AEDECOD spelling of the data",
                        )
                    )
    return problems
