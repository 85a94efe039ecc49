"""Benchmark: CTCAE v5.0 lab grading of a whole LB table.

Data (fixed seed): an SDTM-shaped LB table of 10,000,000 rows: 50,000 subjects x 20 tests
(the 20 analytes of issue 7) x 10 visits, visit 1 flagged as baseline (``LBBLFL``), values
log-normal around each test's normal range so that every grade occurs, bilirubin in mg/dL for
half the rows and platelets in /uL for a third (converted through the unit layer).

Measured in the same run, each in a fresh process (peak RSS of that process):

- ``hcctrial grade_labs``: criteria from the data file, units converted, baseline derived from
  the flag, low and high terms, reasons for ungradable rows;
- ``floor``: a plain join-and-compare: the LB table joined to a per-test table of four cut
  points (multiples of ULN for the liver tests, absolute cuts below LLN for blood counts,
  albumin and haemoglobin) and the grade taken as the number of cut points passed; no units,
  no baseline, no second direction, no reasons: the least any grader has to do. Its grades
  are checked equal to ours (same direction) on the rows where its simplification is exact
  (canonical units, the baseline record, which is graded against ULN).

Run: ``.venv/bin/python -m benchmarks.bench_safety_grading [--rows N]``.
Writes ``benchmarks/results/safety_grading.json`` and ``benchmarks/results/safety_grading.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

RESULTS = Path(__file__).parent / "results"

# test -> (canonical unit, LLN, ULN, typical value): adult ranges of the kind a site lab gives
_TESTS = {
    "ALT": ("U/L", 0.0, 40.0, 35.0),
    "AST": ("U/L", 0.0, 40.0, 35.0),
    "ALP": ("U/L", 40.0, 120.0, 110.0),
    "GGT": ("U/L", 0.0, 60.0, 50.0),
    "BILI": ("umol/L", 0.0, 21.0, 17.0),
    "CREAT": ("umol/L", 57.0, 111.0, 90.0),
    "ALB": ("g/L", 35.0, 52.0, 36.0),
    "PLT": ("10^9/L", 150.0, 400.0, 150.0),
    "NEUT": ("10^9/L", 1.8, 7.5, 2.0),
    "LYM": ("10^9/L", 1.0, 3.5, 1.2),
    "WBC": ("10^9/L", 4.0, 10.0, 4.5),
    "HGB": ("g/L", 130.0, 170.0, 120.0),
    "INR": ("ratio", 0.8, 1.2, 1.2),
    "LIPASE": ("U/L", 0.0, 60.0, 55.0),
    "AMYLASE": ("U/L", 0.0, 100.0, 90.0),
    "SODIUM": ("mmol/L", 135.0, 145.0, 138.0),
    "K": ("mmol/L", 3.5, 5.1, 4.3),
    "CA": ("mmol/L", 2.15, 2.55, 2.3),
    "GLUC": ("mmol/L", 3.9, 6.1, 5.5),
    "MG": ("mmol/L", 0.7, 1.0, 0.85),
}
# floor cut points: ("uln", multiples of ULN) or ("low", LLN then absolute cuts below it)
_FLOOR = {
    "ALT": ("uln", [1.0, 3.0, 5.0, 20.0]),
    "AST": ("uln", [1.0, 3.0, 5.0, 20.0]),
    "ALP": ("uln", [1.0, 2.5, 5.0, 20.0]),
    "GGT": ("uln", [1.0, 2.5, 5.0, 20.0]),
    "BILI": ("uln", [1.0, 1.5, 3.0, 10.0]),
    "PLT": ("low", [75.0, 50.0, 25.0]),
    "NEUT": ("low", [1.5, 1.0, 0.5]),
    "WBC": ("low", [3.0, 2.0, 1.0]),
    "ALB": ("low", [30.0, 20.0, -1.0]),
    "HGB": ("low", [100.0, 80.0, -1.0]),
}


def simulate_lb(n_rows: int, seed: int = 20261122) -> pl.DataFrame:
    """The LB table: subjects x 20 tests x 10 visits (visit 1 the baseline)."""
    rng = np.random.default_rng(seed)
    codes = list(_TESTS)
    per_subject = len(codes) * 10
    n_subj = max(1, n_rows // per_subject)
    n = n_subj * per_subject
    subj = np.repeat(np.arange(n_subj), per_subject)
    test = np.tile(np.repeat(np.arange(len(codes)), 10), n_subj)
    visit = np.tile(np.arange(1, 11), n_subj * len(codes))
    units = np.array([_TESTS[c][0] for c in codes], dtype=object)[test]
    lln = np.array([_TESTS[c][1] for c in codes])[test]
    uln = np.array([_TESTS[c][2] for c in codes])[test]
    typical = np.array([_TESTS[c][3] for c in codes])[test]
    values = typical * rng.lognormal(0.0, 0.45, n)
    bili = (test == codes.index("BILI")) & (rng.random(n) < 0.5)
    values[bili] /= 17.104  # mg/dL (bilirubin 584.66 g/mol)
    lln[bili] /= 17.104
    uln[bili] /= 17.104
    units[bili] = "mg/dL"
    plt_rows = (test == codes.index("PLT")) & (rng.random(n) < 1 / 3)
    for arr in (values, lln, uln):
        arr[plt_rows] *= 1000.0  # /uL
    units[plt_rows] = "/uL"
    return pl.DataFrame(
        {
            "USUBJID": pl.Series([f"S{i:06d}" for i in range(n_subj)])[subj],
            "LBTESTCD": np.array(codes)[test],
            "LBSTRESN": np.round(values, 3),
            "LBSTRESU": units,
            "LBSTNRLO": lln,
            "LBSTNRHI": uln,
            "LBBLFL": np.where(visit == 1, "Y", None),
            "VISITNUM": visit,
        }
    )


def floor_grade(lb: pl.DataFrame) -> pl.DataFrame:
    """Join-and-compare: the number of cut points passed (see module docstring)."""
    cuts = pl.DataFrame(
        {
            "LBTESTCD": list(_FLOOR),
            "_kind": [k for k, _ in _FLOOR.values()],
            "_c1": [c[0] for _, c in _FLOOR.values()],
            "_c2": [c[1] for _, c in _FLOOR.values()],
            "_c3": [c[2] for _, c in _FLOOR.values()],
            "_c4": [c[3] if len(c) > 3 else 0.0 for _, c in _FLOOR.values()],
        }
    )
    v, lo, hi = pl.col("LBSTRESN"), pl.col("LBSTNRLO"), pl.col("LBSTNRHI")
    high = sum((v > hi * pl.col(c)).cast(pl.Int8) for c in ("_c1", "_c2", "_c3", "_c4"))
    low = (
        (v < lo).cast(pl.Int8)
        + (v < pl.col("_c1")).cast(pl.Int8)
        + (v < pl.col("_c2")).cast(pl.Int8)
        + (v < pl.col("_c3")).cast(pl.Int8)
    )
    grade = pl.when(pl.col("_kind") == "uln").then(high).when(pl.col("_kind") == "low").then(low)
    return lb.join(cuts, on="LBTESTCD", how="left", maintain_order="left").select(
        grade.cast(pl.Int8).alias("FLOORGR")
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _job(name: str, n_rows: int, queue: Any) -> None:
    lb = simulate_lb(n_rows)
    before = _peak_mb()
    start = time.perf_counter()
    if name == "grade_labs":
        from hcctrial.safety import grade_labs

        out = grade_labs(lb, "5.0")
        seconds = time.perf_counter() - start
        counts = out["ATOXGR"].value_counts().sort("ATOXGR").rows()
        high = [k for k, (kind, _) in _FLOOR.items() if kind == "uln"]
        grades = out.select(  # the floor's direction, to compare like with like
            pl.when(pl.col("LBTESTCD").is_in(high)).then("ATOXGRH").otherwise("ATOXGRL")
        ).to_series()
    else:
        grades = floor_grade(lb)["FLOORGR"]
        seconds = time.perf_counter() - start
        counts = grades.value_counts().sort(grades.name).rows()
    check = (
        pl.col("LBTESTCD").is_in(list(_FLOOR))
        & ~pl.col("LBSTRESU").is_in(["mg/dL", "/uL"])
        & (pl.col("VISITNUM") == 1)  # the baseline record is graded against ULN
    )
    sample = lb.with_columns(grades.alias("G")).filter(check).select("G")["G"].to_list()
    queue.put(
        {
            "name": name,
            "rows": lb.height,
            "seconds": seconds,
            "peak_mb": _peak_mb(),
            "peak_before_mb": before,
            "sample": sample,
            "checked": len(sample),
            "counts": [(None if g is None else int(g), int(c)) for g, c in counts],
        }
    )


def _run(name: str, n_rows: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_job, args=(name, n_rows, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    ours = _run("grade_labs", args.rows)
    floor = _run("floor", args.rows)
    agree = ours.pop("sample") == floor.pop("sample")
    ratio = ours["seconds"] / floor["seconds"]
    summary = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, 2 cores, Python {platform.python_version()}, "
        f"polars {pl.__version__}",
        "rows": ours["rows"],
        "runs": {"grade_labs": ours, "floor": floor},
        "ratio_to_floor": ratio,
        "agree_on_floor_rows": agree,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "safety_grading.json").write_text(json.dumps(summary, indent=2))
    grades = ", ".join(f"{g if g is not None else 'null'}: {c:,}" for g, c in ours["counts"])
    md = (
        "### CTCAE lab grading: `benchmarks/bench_safety_grading.py`\n\n"
        f"{summary['date']}, {summary['machine']}; other engineers were running jobs on the "
        "same 2 cores.\n"
        f"Data: an LB table of {ours['rows']:,} rows (50,000 subjects x 20 tests x 10 visits, "
        "baseline flagged, bilirubin half in mg/dL, platelets a third in /uL; fixed seed), "
        "graded by CTCAE v5.0. Each measurement runs in its own process; peak RSS includes the "
        f"input table (about {ours['peak_before_mb']:.0f} MB before the measured step).\n\n"
        "| implementation | wall time | peak RSS | ratio |\n|---|---|---|---|\n"
        f"| hcctrial `grade_labs` (criteria data file, units, baseline, both directions, "
        f"reasons) | {ours['seconds']:.1f} s | {ours['peak_mb']:.0f} MB | "
        f"{ratio:.1f}x the floor |\n"
        f"| floor: join to a cut-point table and count cut points passed (10 tests, one "
        f"direction, no units or baseline) | {floor['seconds']:.1f} s | "
        f"{floor['peak_mb']:.0f} MB | 1 |\n\n"
        "Grades (same direction) agree with the floor on the rows where its simplification is "
        f"exact (canonical units, baseline records; {ours['checked']:,} rows): {agree}.\n"
        f"Grade distribution (ATOXGR): {grades}.\n"
    )
    (RESULTS / "safety_grading.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
