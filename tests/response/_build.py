"""Build small SDTM TU/TR tables from a compact description of lesions and visits.

``study({"S1": subject(lesions, visits)})`` where ``lesions`` maps a lesion id to
``(role, location)`` and each visit is ``(visitnum, date, {lesion: result})``. A result is a
number (mm; TRTESTCD LDIAM, or SAXIS for a lymph node), a ``(value, unit)`` pair, a dict of
``{TRTESTCD: value}``, or text (TUMSTATE: PRESENT, ABSENT, UNEQUIVOCAL, EQUIVOCAL).
"""

from __future__ import annotations

from typing import Any

import polars as pl

Visit = tuple[int, str, dict[str, Any]]


def subject(lesions: dict[str, tuple[str, str]], visits: list[Visit]) -> dict[str, Any]:
    return {"lesions": lesions, "visits": visits}


def study(subjects: dict[str, dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    tu_rows: list[dict[str, Any]] = []
    tr_rows: list[dict[str, Any]] = []
    for usubjid, spec in subjects.items():
        for lid, (role, loc) in spec["lesions"].items():
            tu_rows.append({"USUBJID": usubjid, "TULNKID": lid, "TUSTRESC": role, "TULOC": loc})
        for visitnum, date, results in spec["visits"]:
            for lid, res in results.items():
                role, loc = spec["lesions"][lid]
                base = {
                    "USUBJID": usubjid,
                    "TRLNKID": lid,
                    "TRGRPID": role,
                    "VISITNUM": float(visitnum),
                    "VISIT": f"V{visitnum}",
                    "TRDTC": date,
                }
                tests: dict[str, Any]
                if isinstance(res, dict):
                    tests = res
                elif isinstance(res, str):
                    tests = {"TUMSTATE": res}
                else:
                    tests = {("SAXIS" if "LYMPH" in loc else "LDIAM"): res}
                for code, value in tests.items():
                    row = dict(base, TRTESTCD=code, TRSTRESN=None, TRSTRESU=None, TRSTRESC=None)
                    if isinstance(value, tuple):
                        row.update(TRSTRESN=value[0], TRSTRESU=value[1])
                    elif isinstance(value, str):
                        row.update(TRSTRESC=value)
                    elif value is None:
                        row.update(TRSTRESU="mm")
                    else:
                        row.update(TRSTRESN=float(value), TRSTRESU="mm", TRSTRESC=str(value))
                    tr_rows.append(row)
    tu = pl.DataFrame(
        tu_rows,
        schema={"USUBJID": pl.Utf8, "TULNKID": pl.Utf8, "TUSTRESC": pl.Utf8, "TULOC": pl.Utf8},
    )
    tr = pl.DataFrame(
        tr_rows,
        schema={
            "USUBJID": pl.Utf8,
            "TRLNKID": pl.Utf8,
            "TRGRPID": pl.Utf8,
            "VISITNUM": pl.Float64,
            "VISIT": pl.Utf8,
            "TRDTC": pl.Utf8,
            "TRTESTCD": pl.Utf8,
            "TRSTRESN": pl.Float64,
            "TRSTRESU": pl.Utf8,
            "TRSTRESC": pl.Utf8,
        },
    )
    return tu, tr


def dates(n: int, start: str = "2024-01-01", every_days: int = 56) -> list[str]:
    """ISO dates of n assessments, every ``every_days`` days (default 8 weeks)."""
    d0 = pl.Series([start]).str.to_date()[0]
    return [str(d0 + __import__("datetime").timedelta(days=every_days * i)) for i in range(n)]


def timepoints(tu: pl.DataFrame, tr: pl.DataFrame, criteria: str = "recist1.1") -> pl.DataFrame:
    from hcctrial.response import derive_timepoint_response

    return derive_timepoint_response(tu, tr, criteria=criteria).timepoint_changes


def overall(
    tu: pl.DataFrame, tr: pl.DataFrame, criteria: str = "recist1.1", subject_id: str = "S1"
) -> list[str | None]:
    """OVRLRESP of each post-baseline visit of one subject, in visit order."""
    tp = (
        timepoints(tu, tr, criteria)
        .filter((pl.col("USUBJID") == subject_id) & pl.col("ABLFL").is_null())
        .sort("VISITNUM")
    )
    return tp.get_column("OVRLRESP").to_list()
