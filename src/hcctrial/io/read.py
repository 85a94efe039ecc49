"""Reading and writing a study folder: one ``<domain>.csv`` or ``<domain>.xpt`` per domain.

File names are matched to domains case-insensitively: ``lb.csv``, ``LB.CSV`` and ``lb.xpt`` are
LB; a name with a suffix after an underscore (``tr_onco.csv``, ``supptr_onco.csv``) is read as
the domain before the first underscore when that is an SDTM domain name. Any other file is kept
as a domain of its own name. An explicit ``mapping`` (file name -> domain, or None to skip the
file) overrides the rule, e.g. ``{"tr_onco_recist.csv": "TR", "tr_onco.csv": None}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from hcctrial.errors import InputError, InputErrors, Problem
from hcctrial.io.spec import domain_spec, known_domains
from hcctrial.io.study import StudyData
from hcctrial.io.validate import Imputation, OnError, validate_study

__all__ = ["domain_for_file", "read_domain_file", "read_study", "study_files", "write_study"]

Format = Literal["auto", "csv", "xpt"]
_EXTENSIONS = {"csv": (".csv",), "xpt": (".xpt",), "auto": (".csv", ".xpt")}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,7}$")


def domain_for_file(path: str | Path) -> str | None:
    """The domain a file name stands for (``lb.csv`` -> ``LB``, ``supptr_onco.csv`` ->
    ``SUPPTR``), or None when the name is not a possible SDTM dataset name."""
    stem = Path(path).stem.strip()
    if _NAME.match(stem):
        return stem.upper()
    head = stem.split("_", 1)[0]
    if _NAME.match(head):
        upper = head.upper()
        if upper in known_domains() or (upper.startswith("SUPP") and len(upper) > 4):
            return upper
    return None


def study_files(
    folder: str | Path,
    *,
    format: Format = "auto",
    mapping: Mapping[str, str | None] | None = None,
) -> dict[str, Path]:
    """Domain -> file of a study folder.

    Raises
    ------
    InputError : the folder does not exist or has no data file.
    InputErrors : two files would be read as the same domain, or a file name cannot be read
        as a domain; the message says how to map them.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("study folder not found", file=str(root), expected="a folder of files")
    if format not in _EXTENSIONS:
        raise InputError("unknown format", value=format, expected="auto, csv or xpt")
    explicit = {k.lower(): v for k, v in (mapping or {}).items()}
    files = sorted(
        p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _EXTENSIONS[format]
    )
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for path in files:
        key = path.name.lower()
        if key in explicit or path.stem.lower() in explicit:
            target = explicit.get(key, explicit.get(path.stem.lower()))
            if target is None:
                continue
            domain: str | None = target.strip().upper()
        else:
            domain = domain_for_file(path)
        if domain is None:
            problems.append(
                Problem(
                    "file name is not a domain name",
                    file=str(path),
                    expected="<domain>.csv or <domain>.xpt (e.g. lb.csv), or a mapping "
                    f"{{'{path.name}': 'LB'}}",
                )
            )
            continue
        if domain in found:
            problems.append(
                Problem(
                    f"two files for domain {domain}: {found[domain].name} and {path.name}",
                    file=str(path),
                    expected=f"one file per domain; map the other to None, e.g. "
                    f"{{'{path.name}': None}}",
                )
            )
            continue
        found[domain] = path
    if problems:
        raise InputErrors(problems, context=str(root))
    if not found:
        raise InputError(
            "no study data files in folder",
            file=str(root),
            expected="files such as dm.csv, lb.csv, tr.csv (or .xpt)",
        )
    return found


def read_domain_file(path: str | Path) -> pl.DataFrame:
    """One file as read, before validation: CSV as text columns, XPT as stored.

    CSV is read with every column as text so that identifiers keep their leading zeros and a
    numeric column holding text can be reported row by row. XPT is read with pyreadstat.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".xpt":
            import pyreadstat

            frame, _meta = pyreadstat.read_xport(str(p))
            return pl.from_pandas(frame)
        return pl.read_csv(
            p, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=False
        )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"cannot read file: {exc}".splitlines()[0][:300],
            file=str(p),
            expected="a CSV file with a header line, or a SAS transport (XPT v5/v8) file",
        ) from None


def read_study(
    folder: str | Path,
    *,
    format: Format = "auto",
    imputation: Imputation = None,
    mapping: Mapping[str, str | None] | None = None,
    on_error: OnError = "raise",
) -> StudyData:
    """Read and validate every domain file of a study folder.

    Parameters
    ----------
    folder : a folder of ``<domain>.csv`` or ``<domain>.xpt`` files.
    format : ``auto`` (both), ``csv`` or ``xpt``.
    imputation : date imputation; one rule for every date or a mapping column -> rule
        (see :func:`~hcctrial.io.validate_study` and :mod:`hcctrial.dates`).
    mapping : file name -> domain (or None to skip the file) where the name is not the domain.
    on_error : ``"raise"`` (default) or ``"collect"`` (valid rows loaded; every rejected row
        listed in ``.problems``).

    Returns
    -------
    StudyData : the domains with ``--DT``/``--DTF`` dates added, ``sources`` and ``problems``.

    Raises
    ------
    InputErrors : every problem found (``on_error="raise"``), each naming file, row, column,
        subject, value and the expected form.
    """
    files = study_files(folder, format=format, mapping=mapping)
    frames: dict[str, pl.DataFrame] = {}
    unreadable: list[Problem] = []
    for domain, path in files.items():
        domain_spec(domain)  # a valid name, checked by study_files
        try:
            frames[domain] = read_domain_file(path)
        except InputError as exc:
            unreadable.append(exc.problem)
    if unreadable and on_error == "raise":
        raise InputErrors(unreadable, context=str(folder))
    data = StudyData(frames, sources={d: str(p) for d, p in files.items()})
    study = validate_study(data, imputation=imputation, on_error=on_error, context=str(folder))
    if unreadable:
        from hcctrial.io.validate import NOT_LOADED, Finding, findings_table

        extra = findings_table(
            [Finding(domain_for_file(p.file or "") or "", p, NOT_LOADED) for p in unreadable]
        )
        study.problems = pl.concat([study.problems, extra])
    return study


def _derived_columns(df: pl.DataFrame) -> list[str]:
    """``--DT``/``--DTF`` columns that read_study derived from a ``--DTC`` column."""
    out = []
    for col in df.columns:
        if col.endswith("DTC"):
            base = col[:-1]
            if base in df.columns and df.schema[base] == pl.Date:
                out.append(base)
                if base + "F" in df.columns:
                    out.append(base + "F")
    return out


def write_study(
    data: StudyData | Mapping[str, pl.DataFrame],
    folder: str | Path,
    *,
    format: Literal["csv", "xpt"] = "csv",
    include_derived: bool = False,
) -> list[Path]:
    """Write each domain as ``<domain>.csv`` or ``<domain>.xpt`` (SAS transport v5).

    The ``--DT``/``--DTF`` columns derived by :func:`read_study` are left out unless
    ``include_derived``: the files hold the SDTM as read, so reading them back gives the same
    study. XPT v5 limits names to 8 characters and text to 200; longer ones raise InputError.
    """
    frames = data if isinstance(data, StudyData) else StudyData.from_frames(data)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in frames.items():
        table = df if include_derived else df.drop(_derived_columns(df))
        if format == "xpt":
            path = out / f"{name.lower()}.xpt"
            _write_xpt(table, name, path)
        elif format == "csv":
            path = out / f"{name.lower()}.csv"
            table.write_csv(path)
        else:
            raise InputError("unknown format", value=format, expected="csv or xpt")
        written.append(path)
    return written


def _write_xpt(df: pl.DataFrame, name: str, path: Path) -> None:
    import pyreadstat

    long = [c for c in df.columns if len(c) > 8]
    if long:
        raise InputError(
            "column name longer than 8 characters cannot go into XPT v5",
            file=str(path),
            column=long[0],
            expected="SDTM names of at most 8 characters",
        )
    labels = {}
    spec = domain_spec(name)
    for col in df.columns:
        cspec = spec.column(col)
        if cspec is not None and cspec.label:
            labels[col] = cspec.label[:40]
    pandas = df.to_pandas()
    pyreadstat.write_xport(
        pandas,
        str(path),
        file_format_version=5,
        table_name=name[:8],
        column_labels=[labels.get(c, "") for c in df.columns],
    )
