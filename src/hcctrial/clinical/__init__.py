"""Clinical scores, formulas and lab units (pure functions, no I/O)."""

from __future__ import annotations

from hcctrial.clinical.units import canonical_unit, convert, convert_expr, normalise_unit

__all__ = ["canonical_unit", "convert", "convert_expr", "normalise_unit"]
