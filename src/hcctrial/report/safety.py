"""Safety and kinetics sections of the report (wired to hcctrial.safety / hcctrial.kinetics)."""

from __future__ import annotations

import polars as pl

from hcctrial.io import StudyData
from hcctrial.protocol import Protocol
from hcctrial.report.document import Section

__all__ = ["kinetics_sections", "safety_sections"]


def safety_sections(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> list[Section]:
    """AE tables, CRS/ICANS, lab shifts, DLTs and the escalation path."""
    return [Section("safety", "Safety", unavailable="interim")]


def kinetics_sections(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> list[Section]:
    """Cellular kinetics and biomarker summaries with figures."""
    return [Section("kinetics", "Cellular kinetics", unavailable="interim")]
