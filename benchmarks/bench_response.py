"""Benchmark: RECIST 1.1 timepoint and best overall response at scale.

Data: 100,000 subjects x 8 timepoints x 5 target lesions (4,000,000 TR rows), simulated with a
fixed seed (multiplicative random walk of each lesion, 2% of measurements missing, a new lesion
in 5% of subjects). Measured in the same run, each in a fresh process (peak RSS of that
process, so one measurement does not inherit another's memory):

- ``hcctrial``: ``derive_timepoint_response`` (TU/TR in, RS/ADRS/change tables/problems out)
  and ``derive_best_overall_response`` (BOR and CBOR);
- ``loop``: a straightforward per-subject Python loop implementing the same rules (target
  sums, nadir, CR/PR/SD/PD/NE, new lesions, overall response), run on a subsample and scaled
  linearly to the full size (it is too slow to run on 100,000 subjects on a shared machine);
  its answers are checked against hcctrial's on the subsample;
- ``floor``: a plain polars group-by sum of diameters per subject and visit over the same
  table: the least any implementation has to do.

Run: ``.venv/bin/python -m benchmarks.bench_response [--subjects N] [--loop-subjects M]``.
Writes ``benchmarks/results/response.json`` and ``benchmarks/results/response.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

N_TIMEPOINTS = 8
N_LESIONS = 5
RESULTS = Path(__file__).parent / "results"


def simulate(n_subjects: int, seed: int = 20261122) -> tuple[pl.DataFrame, pl.DataFrame]:
    """SDTM-shaped TU and TR for ``n_subjects`` (5 targets, 8 visits 8 weeks apart)."""
    rng = np.random.default_rng(seed)
    n_rows = n_subjects * N_TIMEPOINTS * N_LESIONS
    subj = np.repeat(np.arange(n_subjects), N_TIMEPOINTS * N_LESIONS)
    visit = np.tile(np.repeat(np.arange(N_TIMEPOINTS), N_LESIONS), n_subjects)
    lesion = np.tile(np.arange(N_LESIONS), n_subjects * N_TIMEPOINTS)
    base = rng.uniform(10, 60, size=(n_subjects, N_LESIONS))
    drift = rng.normal(-0.05, 0.12, size=(n_subjects, 1))
    steps = rng.normal(0, 0.08, size=(n_subjects, N_TIMEPOINTS, N_LESIONS)) + drift[:, :, None]
    steps[:, 0, :] = 0.0
    diam = base[:, None, :] * np.exp(np.cumsum(steps, axis=1))
    diam = np.where(diam < 3, 0.0, np.round(diam, 1)).reshape(n_rows)
    missing = (rng.random(n_rows) < 0.02) & (visit > 0)
    start = np.datetime64("2024-01-01") + rng.integers(0, 365, n_subjects).astype("timedelta64[D]")
    dates = start[subj] + (visit * 56).astype("timedelta64[D]")
    ids = np.char.add("S", np.arange(n_subjects).astype(str))
    tr = pl.DataFrame(
        {
            "USUBJID": ids[subj],
            "TRLNKID": np.char.add("T", lesion.astype(str)),
            "TRTESTCD": "LDIAM",
            "TRSTRESN": np.where(missing, np.nan, diam),
            "TRSTRESU": "mm",
            "VISITNUM": visit.astype(float) + 1,
            "VISIT": np.char.add("V", (visit + 1).astype(str)),
            "TRDTC": dates.astype(str),
            "TRGRPID": "TARGET",
        }
    ).with_columns(pl.col("TRSTRESN").fill_nan(None))
    new_subj = np.flatnonzero(rng.random(n_subjects) < 0.05)
    new_visit = rng.integers(1, N_TIMEPOINTS, new_subj.size)
    new = pl.DataFrame(
        {
            "USUBJID": ids[new_subj],
            "TRLNKID": "NEW1",
            "TRTESTCD": "TUMSTATE",
            "TRSTRESN": None,
            "TRSTRESU": None,
            "VISITNUM": new_visit.astype(float) + 1,
            "VISIT": np.char.add("V", (new_visit + 1).astype(str)),
            "TRDTC": (start[new_subj] + (new_visit * 56).astype("timedelta64[D]")).astype(str),
            "TRGRPID": "NEW",
        },
        schema_overrides={"TRSTRESN": pl.Float64, "TRSTRESU": pl.Utf8},
    ).with_columns(TRSTRESC=pl.lit("UNEQUIVOCAL"))
    tr = pl.concat([tr.with_columns(TRSTRESC=pl.lit(None, pl.Utf8)), new], how="vertical")
    locs = np.array(["LIVER", "LUNG", "BONE", "ADRENAL GLAND", "PERITONEUM"])
    tu = pl.DataFrame(
        {
            "USUBJID": np.repeat(ids, N_LESIONS),
            "TULNKID": np.char.add("T", np.tile(np.arange(N_LESIONS), n_subjects).astype(str)),
            "TUSTRESC": "TARGET",
            "TULOC": np.tile(locs, n_subjects),
        }
    )
    tu_new = pl.DataFrame(
        {"USUBJID": ids[new_subj], "TULNKID": "NEW1", "TUSTRESC": "NEW", "TULOC": "LUNG"}
    )
    return pl.concat([tu, tu_new]), tr


# --- the per-subject loop peer: same rules, written the obvious way -------------------------


def loop_timepoint_response(tu: pl.DataFrame, tr: pl.DataFrame) -> dict[tuple[str, float], str]:
    """RECIST 1.1 overall response per (subject, visit), one subject at a time in Python.

    Rules as in hcctrial (Eisenhauer 2009 section 4.3.1, 4.4.2, Table 1): non-nodal targets
    only (the benchmark data has no nodes and no non-target lesions).
    """
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in tr.iter_rows(named=True):
        rows[r["USUBJID"]].append(r)
    out: dict[tuple[str, float], str] = {}
    for sid, recs in rows.items():
        visits = sorted({(r["TRDTC"], r["VISITNUM"]) for r in recs})
        by_visit: dict[float, dict[str, float | None]] = defaultdict(dict)
        new_at: list[float] = []
        for r in recs:
            if r["TRGRPID"] == "TARGET":
                by_visit[r["VISITNUM"]][r["TRLNKID"]] = r["TRSTRESN"]
            elif r["TRGRPID"] == "NEW" and r["TRSTRESC"] == "UNEQUIVOCAL":
                new_at.append(r["TRDTC"])
        base_visit = min(v for _, v in visits)
        targets = list(by_visit[base_visit])
        base = by_visit[base_visit]
        base_sum = None if any(base[t] is None for t in targets) else sum(base.values())
        nadir = base_sum
        first_new = min(new_at) if new_at else None
        for date, v in visits:
            if v == base_visit:
                continue
            meas = [by_visit[v].get(t) for t in targets]
            known = [m for m in meas if m is not None]
            psum = round(sum(known), 6)
            complete = len(known) == len(targets)
            if base_sum is None or nadir is None:
                t = "NE"
            elif known and psum > nadir and psum >= nadir * 1.2 - 1e-9 and psum - nadir >= 5:
                t = "PD"
            elif not complete:
                t = "NE"
            elif all(m == 0 for m in known):
                t = "CR"
            elif (psum - base_sum) / base_sum * 100 <= -30 + 1e-9:
                t = "PR"
            else:
                t = "SD"
            new = first_new is not None and first_new <= date
            out[(sid, v)] = "PD" if (t == "PD" or new) else t
            if complete and nadir is not None:
                nadir = min(nadir, psum)
    return out


# --- measured runs, each in its own process --------------------------------------------------


def _peak_mb() -> float:
    """Peak resident memory of this process (MB) from ``/proc/self/status`` VmHWM.

    ``getrusage`` ``ru_maxrss`` survives ``execve``, so a spawned child would report the
    parent's peak (the full simulated study) instead of its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _run(kind: str, tu_path: str, tr_path: str, queue: Any) -> None:
    tu, tr = pl.read_parquet(tu_path), pl.read_parquet(tr_path)
    before = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    info: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    if kind == "hcctrial":
        from hcctrial.response import derive_best_overall_response, derive_timepoint_response

        res = derive_timepoint_response(tu, tr)
        t1 = time.perf_counter()
        best = derive_best_overall_response(res.adrs)
        info["timepoint_s"] = t1 - t0
        info["best_s"] = time.perf_counter() - t1
        info["ovr"] = res.adrs.height
        info["bor"] = (
            best.adrs.filter(pl.col("PARAMCD") == "BOR")
            .group_by("AVALC")
            .len()
            .sort("AVALC")
            .to_dicts()
        )
    elif kind == "floor":
        out = tr.group_by(["USUBJID", "VISITNUM"]).agg(pl.col("TRSTRESN").sum())
        info["groups"] = out.height
    else:
        info["ovr"] = len(loop_timepoint_response(tu, tr))
    info["wall_s"] = time.perf_counter() - t0
    info["cpu_s"] = time.process_time() - c0
    info["load_after"] = os.getloadavg()[0]
    info["peak_rss_mb"] = _peak_mb()
    info["rss_before_mb"] = before
    queue.put(info)


def measure(kind: str, tu: pl.DataFrame, tr: pl.DataFrame) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tu_path, tr_path = os.path.join(tmp, "tu.parquet"), os.path.join(tmp, "tr.parquet")
        tu.write_parquet(tu_path)
        tr.write_parquet(tr_path)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(kind, tu_path, tr_path, queue))
        proc.start()
        info: dict[str, Any] = queue.get()
        proc.join()
    return info


def check_agreement(tu: pl.DataFrame, tr: pl.DataFrame) -> int:
    """Number of (subject, visit) where the loop and hcctrial disagree (expected 0)."""
    from hcctrial.response import derive_timepoint_response

    ours = derive_timepoint_response(tu, tr).adrs
    mine = {(r["USUBJID"], r["VISITNUM"]): r["AVALC"] for r in ours.iter_rows(named=True)}
    theirs = loop_timepoint_response(tu, tr)
    assert set(mine) == set(theirs), "different timepoints"
    return sum(mine[k] != theirs[k] for k in mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--loop-subjects", type=int, default=5_000)
    args = parser.parse_args()
    tu, tr = simulate(args.subjects)
    sub_ids = tu["USUBJID"].unique(maintain_order=True).head(args.loop_subjects).implode()
    tu_s, tr_s = (
        tu.filter(pl.col("USUBJID").is_in(sub_ids)),
        tr.filter(pl.col("USUBJID").is_in(sub_ids)),
    )
    disagree = check_agreement(tu_s, tr_s)
    ours = measure("hcctrial", tu, tr)
    floor = measure("floor", tu, tr)
    loop = measure("loop", tu_s, tr_s)
    scale = args.subjects / args.loop_subjects
    loop_full = loop["wall_s"] * scale
    result = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, polars {pl.__version__}",
        "subjects": args.subjects,
        "tr_rows": tr.height,
        "hcctrial": ours,
        "floor": floor,
        "loop_subsample": {"subjects": args.loop_subjects, **loop},
        "loop_scaled_s": loop_full,
        "ratio_loop_over_hcctrial": loop_full / ours["wall_s"],
        "ratio_hcctrial_over_floor": ours["wall_s"] / floor["wall_s"],
        "loop_cpu_scaled_s": loop["cpu_s"] * scale,
        "ratio_loop_over_hcctrial_cpu": loop["cpu_s"] * scale / ours["cpu_s"],
        "ratio_hcctrial_over_floor_cpu": ours["cpu_s"] / floor["cpu_s"],
        "loop_disagreements_on_subsample": disagree,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "response.json").write_text(json.dumps(result, indent=2, default=str))
    md = render(result)
    (RESULTS / "response.md").write_text(md)
    print(md)


def render(r: dict[str, Any]) -> str:
    o, f, lp = r["hcctrial"], r["floor"], r["loop_subsample"]
    return f"""### Tumour response (RECIST 1.1): `benchmarks/bench_response.py`

{r["date"]}, {r["machine"]}; other engineers were running jobs on the same 2 cores.
Data: {r["subjects"]:,} subjects x 8 timepoints x 5 target lesions ({r["tr_rows"]:,} TR rows,
fixed seed). Each measurement runs in its own process; peak memory is that process's peak RSS
(the input tables alone take {o["rss_before_mb"]:,.0f} MB of it).

| implementation | wall time | peak RSS | ratio |
|---|---|---|---|
| hcctrial `derive_timepoint_response` + `derive_best_overall_response` | {o["wall_s"]:.1f} s ({o["timepoint_s"]:.1f} s timepoints, {o["best_s"]:.1f} s BOR/CBOR) | {o["peak_rss_mb"]:,.0f} MB | 1 |
| per-subject Python loop, same rules (timepoints only) | {r["loop_scaled_s"]:.1f} s (scaled from {lp["wall_s"]:.2f} s on {lp["subjects"]:,} subjects) | {lp["peak_rss_mb"]:,.0f} MB (subsample) | loop / hcctrial = {r["ratio_loop_over_hcctrial"]:.1f}x |
| floor: polars group-by sum per subject and visit | {f["wall_s"]:.2f} s | {f["peak_rss_mb"]:,.0f} MB | hcctrial / floor = {r["ratio_hcctrial_over_floor"]:.0f}x |

CPU time (user + system of the process, all threads) of the same runs, less disturbed by the
other jobs than wall time (1-minute load average {o["load_before"]:.1f} when hcctrial started,
{o["load_after"]:.1f} when it ended, on 2 cores): hcctrial {o["cpu_s"]:.1f} s, loop
{r["loop_cpu_scaled_s"]:.1f} s (scaled; loop / hcctrial = {r["ratio_loop_over_hcctrial_cpu"]:.1f}x), floor
{f["cpu_s"]:.2f} s (hcctrial / floor = {r["ratio_hcctrial_over_floor_cpu"]:.0f}x).

The loop and hcctrial agree on every timepoint of the subsample
({r["loop_disagreements_on_subsample"]} disagreements). hcctrial does more than the loop: unit
conversion, the problems table, baseline checks, non-target lesions, RS/ADRS/change tables and
BOR/CBOR; the loop handles only what this data holds (target lesions, new lesions). The engine
is vectorized (no per-subject Python loop) but makes some sixty passes over the rows (joins,
group-bys and sorts of about 50-600 ms each at 800,000 rows, profiled single-threaded), so it
is not faster than the loop: a known weakness, see docs/readme/response.md.
"""


if __name__ == "__main__":
    main()
