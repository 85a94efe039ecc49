"""Write a built report and the tables behind it to a folder."""

from __future__ import annotations

from pathlib import Path

from hcctrial.io import StudyData
from hcctrial.report.build import ReportResult
from hcctrial.report.document import render_html

__all__ = ["write_report"]


def write_report(result: ReportResult, data: StudyData, out: Path) -> Path:
    """Write ``report.html`` and ``tables/*.csv`` (ADSL, ADRS, ADTTE, endpoints, problems).

    Returns the path of the HTML report.
    """
    out.mkdir(parents=True, exist_ok=True)
    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    result.adsl.write_csv(tables / "adsl.csv")
    if result.efficacy is not None:
        result.efficacy.adrs.write_csv(tables / "adrs.csv")
        for name, df in result.efficacy.endpoints.tables().items():
            df.write_csv(tables / f"{name}.csv")
        result.efficacy.response_problems.write_csv(tables / "response_problems.csv")
    for name, df in result.tables.items():
        df.write_csv(tables / f"{name}.csv")
    data.problems.write_csv(tables / "data_problems.csv")
    path = out / "report.html"
    path.write_text(render_html(result.report), encoding="utf-8")
    return path
