"""``StudyData``: a study's SDTM domains as polars tables, keyed by domain name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

from hcctrial.errors import InputError
from hcctrial.io.spec import DOMAIN_ORDER

__all__ = ["PROBLEM_SCHEMA", "StudyData", "empty_problems"]

PROBLEM_SCHEMA = pl.Schema(
    {
        "DOMAIN": pl.Utf8,
        "FILE": pl.Utf8,
        "ROW": pl.Int64,
        "COLUMN": pl.Utf8,
        "USUBJID": pl.Utf8,
        "VALUE": pl.Utf8,
        "EXPECTED": pl.Utf8,
        "MESSAGE": pl.Utf8,
        "ACTION": pl.Utf8,
    }
)
"""Columns of the problems table: where (domain, file, 1-based data row, column, subject), the
value found, what was expected, the message, and what the reader did (``row rejected`` or
``domain not loaded``)."""


def empty_problems() -> pl.DataFrame:
    """A problems table with no rows."""
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


def _to_polars(name: str, frame: Any) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(frame, pd.DataFrame):
        return pl.from_pandas(frame)
    raise InputError(
        f"domain {name} is not a table",
        value=type(frame).__name__,
        expected="a polars or pandas DataFrame",
    )


def _order(names: list[str]) -> list[str]:
    known = [d for d in DOMAIN_ORDER if d in names]
    supp = sorted(n for n in names if n.startswith("SUPP") and n not in known)
    rest = sorted(n for n in names if n not in known and n not in supp)
    return known + supp + rest


class StudyData(Mapping[str, pl.DataFrame]):
    """A study's SDTM domains (DM, LB, VS, TU, TR, RS, AE, EX, DS, CM, MH, QS, SUPP--, others).

    Each domain is a polars DataFrame with SDTM variable names. Access by item or attribute,
    case-insensitively: ``data["TR"]``, ``data["tr"]``, ``data.lb``. A study read by
    :func:`~hcctrial.io.read_study` also carries ``problems`` (what validation found; empty when
    nothing) and ``sources`` (the file each domain came from).

    Examples
    --------
    >>> import polars as pl
    >>> data = StudyData.from_frames({"dm": pl.DataFrame({"USUBJID": ["S1", "S2"]})})
    >>> data.domains, "DM" in data, data.subjects()
    (('DM',), True, ['S1', 'S2'])
    """

    def __init__(
        self,
        domains: Mapping[str, pl.DataFrame] | None = None,
        *,
        problems: pl.DataFrame | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        tables = {str(k).strip().upper(): v for k, v in (domains or {}).items()}
        self._tables: dict[str, pl.DataFrame] = {k: tables[k] for k in _order(list(tables))}
        self.problems: pl.DataFrame = problems if problems is not None else empty_problems()
        self.sources: dict[str, str] = {k.upper(): v for k, v in (sources or {}).items()}

    @classmethod
    def from_frames(cls, frames: Mapping[str, Any]) -> StudyData:
        """Study data from a mapping of domain name -> polars or pandas DataFrame (no validation;
        use :func:`~hcctrial.io.validate_study` to check and derive dates)."""
        return cls({str(k).upper(): _to_polars(str(k).upper(), v) for k, v in frames.items()})

    # -- mapping protocol -------------------------------------------------------------------

    def __getitem__(self, name: str) -> pl.DataFrame:
        key = str(name).strip().upper()
        try:
            return self._tables[key]
        except KeyError:
            have = ", ".join(self._tables) or "none"
            raise KeyError(f"study data has no {key} domain (domains: {have})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().upper() in self._tables

    def __getattr__(self, name: str) -> pl.DataFrame:
        if name.startswith("_"):
            raise AttributeError(name)
        key = name.upper()
        tables = self.__dict__.get("_tables", {})
        if key in tables:
            frame: pl.DataFrame = tables[key]
            return frame
        have = ", ".join(tables) or "none"
        raise AttributeError(f"study data has no {key} domain (domains: {have})")

    def __repr__(self) -> str:
        parts = [f"{k}: {v.height} rows" for k, v in self._tables.items()]
        extra = f", {self.problems.height} problem(s)" if self.problems.height else ""
        return f"StudyData({'; '.join(parts)}{extra})"

    # -- conveniences --------------------------------------------------------------------------

    @property
    def domains(self) -> tuple[str, ...]:
        """Domain names, modelled domains first (DM, LB, VS, ...), then SUPP--, then others."""
        return tuple(self._tables)

    def subjects(self) -> list[str]:
        """Sorted USUBJIDs: those of DM when present, otherwise of every domain."""
        sources = [self._tables["DM"]] if "DM" in self._tables else list(self._tables.values())
        ids: set[str] = set()
        for df in sources:
            if "USUBJID" in df.columns:
                ids.update(str(v) for v in df["USUBJID"].drop_nulls().unique().to_list())
        return sorted(ids)

    def with_domain(self, name: str, frame: Any) -> StudyData:
        """A copy with one domain added or replaced."""
        tables = dict(self._tables)
        tables[name.strip().upper()] = _to_polars(name, frame)
        return StudyData(tables, problems=self.problems, sources=self.sources)

    def to_dict(self) -> dict[str, pl.DataFrame]:
        """The domains as a plain dict (domain -> DataFrame)."""
        return dict(self._tables)

    def summary(self) -> pl.DataFrame:
        """One row per domain: rows, subjects, first and last date, problems, source file.

        Dates come from the derived ``--DT`` columns (the earliest and latest over all of a
        domain's date columns, birth date aside); problems count this domain's rows in
        :attr:`problems`.
        """
        rows = []
        for name, df in self._tables.items():
            # the span of the study's events: birth dates are not events
            dates = [c for c in df.columns if df.schema[c] == pl.Date and c != "BRTHDT"]
            first = last = None
            if dates and df.height:
                both = df.select(
                    pl.min_horizontal([pl.col(c).min() for c in dates]).alias("a"),
                    pl.max_horizontal([pl.col(c).max() for c in dates]).alias("b"),
                )
                first, last = both["a"][0], both["b"][0]
            n_subj = df["USUBJID"].drop_nulls().n_unique() if "USUBJID" in df.columns else None
            n_prob = (
                self.problems.filter(pl.col("DOMAIN") == name).height if self.problems.height else 0
            )
            rows.append(
                {
                    "DOMAIN": name,
                    "ROWS": df.height,
                    "SUBJECTS": n_subj,
                    "FIRST_DATE": first,
                    "LAST_DATE": last,
                    "PROBLEMS": n_prob,
                    "FILE": self.sources.get(name),
                }
            )
        # domains that were not loaded at all still show up with their problems
        if self.problems.height:
            for name in self.problems["DOMAIN"].unique().drop_nulls().to_list():
                if name not in self._tables:
                    rows.append(
                        {
                            "DOMAIN": name,
                            "ROWS": 0,
                            "SUBJECTS": None,
                            "FIRST_DATE": None,
                            "LAST_DATE": None,
                            "PROBLEMS": self.problems.filter(pl.col("DOMAIN") == name).height,
                            "FILE": self.sources.get(name),
                        }
                    )
        schema = {
            "DOMAIN": pl.Utf8,
            "ROWS": pl.Int64,
            "SUBJECTS": pl.Int64,
            "FIRST_DATE": pl.Date,
            "LAST_DATE": pl.Date,
            "PROBLEMS": pl.Int64,
            "FILE": pl.Utf8,
        }
        return pl.DataFrame(rows, schema=schema)
