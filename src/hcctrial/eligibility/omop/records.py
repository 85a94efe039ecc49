"""OMOP CDM v5.4 persons -> patient records, for the one-patient evaluator.

Used to explain a population result person by person, and by the tests that check the compiled
query against the evaluator. The mapping is the one of :mod:`.concepts`; findings are the most
recent on or before ``as_of`` (the record holds one value per finding), labs, therapies and
conditions are all rows (the evaluator applies the look-back window itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from hcctrial.eligibility.language import NAME_TYPES
from hcctrial.eligibility.omop.concepts import GENDER_FEMALE, GENDER_MALE, concept_map
from hcctrial.eligibility.omop.fetch import fetch_frame
from hcctrial.eligibility.record import PatientRecord, record_from_dict
from hcctrial.errors import Problem

__all__ = ["records_from_omop"]

_INTEGER = {
    "ecog",
    "kps",
    "child_pugh_score",
    "measurable_lesions",
    "mrecist_measurable_lesions",
    "prior_lines_systemic",
}


def _fetch(con: Any, table: str, ids: Sequence[int]) -> pl.DataFrame:
    t = con.table(table)
    return fetch_frame(t.filter(t.person_id.isin(list(ids))))


def records_from_omop(
    con: Any,
    person_ids: Sequence[int],
    as_of: date,
    *,
    today: date | None = None,
    cmap: pl.DataFrame | None = None,
) -> list[PatientRecord]:
    """Patient records of the given persons (a missing person is a record with a problem)."""
    cmap = cmap if cmap is not None else concept_map()
    concepts = con.table("concept").select("concept_id", "vocabulary_id", "concept_code")
    concept = fetch_frame(concepts)
    mapped = cmap.join(concept, on=["vocabulary_id", "concept_code"])
    units = dict(
        zip(concept["concept_id"].to_list(), concept["concept_code"].to_list(), strict=True)
    )

    def by_domain(domain: str) -> dict[int, str]:
        sub = mapped.filter(pl.col("domain") == domain)
        return dict(zip(sub["concept_id"].to_list(), sub["item"].to_list(), strict=True))

    labs, findings, conds, cats = (
        by_domain(d) for d in ("lab", "finding", "condition", "category")
    )
    drafts: dict[int, dict[str, Any]] = {}
    persons = _fetch(con, "person", person_ids)
    counts = persons.group_by("person_id").len()
    duplicated = set(counts.filter(pl.col("len") > 1)["person_id"].to_list())
    # duplicated ids: the smallest value of each column, as the compiled query (.checks)
    persons = persons.group_by("person_id").agg(
        pl.col(c).min()
        for c in ("gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth")
    )
    bad_birth: dict[int, str] = {}
    for p in persons.iter_rows(named=True):
        y, m, d = p["year_of_birth"], p["month_of_birth"], p["day_of_birth"]
        # hcctrial.dates 'mid' rule: missing month -> 1 July, missing day -> 15th
        try:
            birth: date | None = (
                date(y, 7, 1) if m is None else date(y, m, d if d is not None else 15)
            )
        except (TypeError, ValueError):
            birth, bad_birth[p["person_id"]] = None, f"{y}-{m}-{d}"
        sex = {GENDER_MALE: "M", GENDER_FEMALE: "F"}.get(p["gender_concept_id"])
        drafts[p["person_id"]] = {
            "id": str(p["person_id"]),
            "sex": sex,
            "birth_date": birth.isoformat() if birth else None,
            "findings": {},
            "labs": [],
            "therapies": [],
            "conditions": [],
        }
    late: dict[int, list[str]] = {}
    last_day = today or date.today()
    meas = _fetch(con, "measurement", person_ids).sort("measurement_id")
    latest: dict[tuple[int, str], tuple[date, int]] = {}

    def finding(pid: int, item: str, when: date, rid: int, num: object, txt: object) -> None:
        if pid in drafts and when > last_day:
            late.setdefault(pid, []).append(f"{item} dated {when}")
        if (
            pid not in drafts
            or when > as_of
            or latest.get((pid, item), (date.min, -1)) > (when, rid)
        ):
            return
        latest[(pid, item)] = (when, rid)
        kind = NAME_TYPES.get(item)
        if kind == "bool":
            value: object = None if num is None else bool(num != 0)
        elif kind == "text" or item in ("ascites", "encephalopathy"):
            value = txt
        elif item in _INTEGER and isinstance(num, float) and num.is_integer():
            value = int(num)
        else:
            value = num
        if item in ("weight_kg", "height_cm"):
            drafts[pid][item] = value
        else:
            drafts[pid]["findings"][item] = value

    for r in meas.iter_rows(named=True):
        pid, cid = r["person_id"], r["measurement_concept_id"]
        if pid not in drafts:
            continue
        if cid in labs:
            unit = units.get(r["unit_concept_id"] or 0, "")
            drafts[pid]["labs"].append(
                {
                    "code": labs[cid],
                    "value": r["value_as_number"],
                    "unit": unit or None,
                    "date": r["measurement_date"].isoformat(),
                    "uln": r["range_high"],
                    "lln": r["range_low"],
                }
            )
        elif cid in findings:
            finding(
                pid,
                findings[cid],
                r["measurement_date"],
                r["measurement_id"],
                r["value_as_number"],
                None,
            )
    for r in _fetch(con, "observation", person_ids).iter_rows(named=True):
        cid = r["observation_concept_id"]
        if cid in findings:
            finding(
                r["person_id"],
                findings[cid],
                r["observation_date"],
                r["observation_id"],
                r["value_as_number"],
                r["value_as_string"],
            )
    for r in _fetch(con, "condition_occurrence", person_ids).iter_rows(named=True):
        if r["condition_concept_id"] in conds and r["person_id"] in drafts:
            end = r["condition_end_date"]
            drafts[r["person_id"]]["conditions"].append(
                {
                    "name": conds[r["condition_concept_id"]],
                    "onset": r["condition_start_date"].isoformat(),
                    "end": end.isoformat() if end else None,
                }
            )
    for table, cid_col, start_col, end_col in (
        ("drug_exposure", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date"),
        ("procedure_occurrence", "procedure_concept_id", "procedure_date", "procedure_end_date"),
    ):
        for r in _fetch(con, table, person_ids).iter_rows(named=True):
            if r[cid_col] in cats and r["person_id"] in drafts:
                end = r[end_col]
                drafts[r["person_id"]]["therapies"].append(
                    {
                        "category": cats[r[cid_col]],
                        "start": r[start_col].isoformat(),
                        "end": end.isoformat() if end else None,
                    }
                )
    records = []
    for i, pid in enumerate(person_ids, start=1):
        if pid not in drafts:
            records.append(
                record_from_dict({"id": str(pid)}, file="OMOP person", row=i, today=today)
            )
            records[-1].invalid["record"] = "person not found"
            continue
        record = record_from_dict(drafts[pid], file="OMOP", row=i, today=today)
        if pid in duplicated:
            record.invalid["record"] = "duplicate person id"
            record.problems.append(
                Problem(
                    "duplicate person id",
                    file="OMOP person",
                    column="person_id",
                    subject=str(pid),
                    expected="one row per person",
                )
            )
        if pid in bad_birth:
            record.problems.append(
                Problem(
                    "impossible birth date",
                    file="OMOP person",
                    column="year_of_birth/month_of_birth/day_of_birth",
                    value=bad_birth[pid],
                    subject=str(pid),
                    expected="a real calendar date",
                )
            )
        for what in late.get(pid, []):
            record.problems.append(
                Problem(
                    "finding dated in the future",
                    file="OMOP observation/measurement",
                    value=what,
                    subject=str(pid),
                    expected=f"a date on or before {last_day}",
                )
            )
        records.append(record)
    return records
