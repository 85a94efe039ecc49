"""CSV templates for hospital teams: one header-only CSV per domain and a guide to each column.

The templates use the SDTM variable names of ``domains.yaml`` (SDTM IG 3.4), so a spreadsheet
filled in from them is read by :func:`~hcctrial.io.read_study` like industry SDTM.
"""

from __future__ import annotations

from pathlib import Path

from hcctrial.io.spec import SDTM_IG_VERSION, codelists, domain_spec, known_domains

__all__ = ["template_guide", "write_templates"]

_TYPE_TEXT = {
    "char": "text",
    "num": "number (decimal point '.', no units or '<' in the cell)",
    "int": "whole number",
    "date": "ISO 8601 date (YYYY-MM-DD, YYYY-MM, YYYY; optional THH:MM)",
}


def template_guide(domains: tuple[str, ...] | None = None) -> str:
    """The column guide (markdown) of the templates: role, type, meaning, allowed values."""
    lists = codelists()
    lines = [
        "# hcctrial study-data templates",
        "",
        f"One CSV file per domain, named `<domain>.csv` (e.g. `lb.csv`), with SDTM IG "
        f"{SDTM_IG_VERSION} column names. Keep the header line; add one row per record. "
        "Required columns must be present (their cells may be empty only where stated); "
        "common columns may be left out or empty. Dates are ISO 8601; a partial date "
        "(`2024-03`, `2024`) is accepted and imputed by the rule shown (first: 1st of the "
        "month / January; last: last day of the month / December; mid: 15th / 1 July), and the "
        "imputation is flagged in the derived `--DTF` column.",
        "",
        "Validate a folder with `hcctrial data validate FOLDER`.",
        "",
    ]
    for name in domains or known_domains():
        spec = domain_spec(name)
        lines += [f"## {name.lower()}.csv: {spec.label}", ""]
        if spec.keys:
            lines += [f"One row per {', '.join(spec.keys)} (duplicates are reported).", ""]
        lines += [
            "| column | required | type | meaning | allowed values |",
            "|---|---|---|---|---|",
        ]
        for col in spec.template_columns:
            kind = _TYPE_TEXT[col.type]
            if col.type == "date":
                kind += f", partial imputed '{col.impute}'"
            allowed = ""
            if col.codelist:
                cl = lists[col.codelist]
                allowed = ", ".join(cl.values) + f" ({cl.source})"
            if name == "LB" and col.name == "LBSTRESU":
                allowed = "a unit fitting LBTESTCD (e.g. 10^9/L, g/L, umol/L, U/L, IU/mL)"
            required = "yes" if col.role == "required" else ""
            lines.append(f"| {col.name} | {required} | {kind} | {col.label} | {allowed} |")
        lines.append("")
    return "\n".join(lines)


def write_templates(folder: str | Path, domains: tuple[str, ...] | None = None) -> list[Path]:
    """Write ``<domain>.csv`` (header only: required and common columns) for each domain and
    ``README.md`` (the column guide) into ``folder``; returns the paths written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in domains or known_domains():
        spec = domain_spec(name)
        path = out / f"{name.lower()}.csv"
        path.write_text(",".join(c.name for c in spec.template_columns) + "\n", encoding="utf-8")
        written.append(path)
    readme = out / "README.md"
    readme.write_text(template_guide(domains), encoding="utf-8")
    written.append(readme)
    return written
