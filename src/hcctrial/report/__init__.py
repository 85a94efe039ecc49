"""The trial report: figures, tables and one self-contained HTML page per trial."""

from hcctrial.report.build import ReportResult, build_report
from hcctrial.report.document import Report, Section, render_html

__all__ = ["Report", "ReportResult", "Section", "build_report", "render_html"]
