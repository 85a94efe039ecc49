"""Benchmark: operating characteristics of the NCT04011033 design, and ``hcctrial demo``.

Operating characteristics: 10,000 replicates of the 60-patient randomized NCT04011033 design
(TAE/TACE + iNKT vs TAE/TACE, 1:1, effect HR 0.6), each with a two-sided log-rank test of PFS
(the primary endpoint) and of OS, KM medians and ORR with exact CIs per arm. Measured in the
same run, each in a fresh process (peak RSS of that process):

- ``vectorised``: :func:`hcctrial.simulate.oc.operating_characteristics` (arrays of trials x
  subjects; no Python loop over trials);
- ``loop``: the same simulation with the per-replicate statistics computed one replicate at a
  time by :mod:`hcctrial.endpoints` (``logrank_test``, ``kaplan_meier``, ``clopper_pearson``),
  ``statistics="loop"``, run on a subsample of replicates and scaled linearly; its answers are
  checked equal to the vectorised path's on the same replicates;
- ``simulate_trial``: one whole virtual trial at a time (:func:`hcctrial.simulate.simulate_trial`,
  SDTM out) followed by the endpoints log-rank on its PFS, the most straightforward way to get
  the same numbers, on a few replicates and scaled.

Then ``hcctrial demo`` end to end (five trials simulated, analysed, reported), as a subprocess.

Run: ``.venv/bin/python -m benchmarks.bench_simulate [--trials N] [--loop-trials M]``.
Writes ``benchmarks/results/simulate.json`` and ``benchmarks/results/simulate.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
PROTOCOL = "NCT04011033"
SEED = 20261122
HR = 0.6


def _peak_mb() -> float:
    """Peak resident memory of this process (MB), ``/proc/self/status`` VmHWM."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(kind: str, trials: int, queue: Any) -> None:
    from hcctrial.protocol import load_protocol

    protocol = load_protocol(PROTOCOL)
    info: dict[str, Any] = {"trials": trials}
    if kind in ("vectorised", "loop"):
        from hcctrial.simulate.oc import operating_characteristics

        # the fixed part (screening the pool of virtual patients, calendar): a 1-replicate run,
        # the second of two so that imports and caches are warm
        for _ in range(2):
            t0 = time.perf_counter()
            operating_characteristics(protocol, trials=1, seed=SEED, effect=HR, statistics=kind)
            info["setup_s"] = time.perf_counter() - t0
    before = _peak_mb()
    t0 = time.perf_counter()
    if kind in ("vectorised", "loop"):
        oc = operating_characteristics(
            protocol, trials=trials, seed=SEED, effect=HR, statistics=kind
        )
        info["power"] = oc.power
        info["power_mcse"] = oc.power_mcse
        info["endpoint"] = oc.endpoint
        info["eligible_pool"] = oc.eligible_pool
        info["screened_pool"] = oc.screened_pool
    else:
        from hcctrial.endpoints import logrank_test
        from hcctrial.endpoints.adtte import EndpointOptions
        from hcctrial.endpoints.analysis import analyse_endpoints
        from hcctrial.io.adsl import derive_adsl
        from hcctrial.response import derive_best_overall_response, derive_timepoint_response
        from hcctrial.simulate import simulate_trial

        ps = []
        for k in range(trials):
            data = simulate_trial(protocol, seed=SEED + k, effect=HR)
            adsl = derive_adsl(data)
            itt = adsl.filter(adsl["ITTFL"] == "Y")
            tp = derive_timepoint_response(data["TU"], data["TR"], "mrecist")
            best = derive_best_overall_response(
                tp.adrs, itt.select("USUBJID", itt["RANDDT"].alias("REFDT"))
            )
            ep = analyse_endpoints(itt, best.adrs, EndpointOptions(origin="RANDDT"))
            pfs = ep.adtte.filter(ep.adtte["PARAMCD"] == "PFS")
            test = logrank_test(pfs["AVAL"], 1 - pfs["CNSR"], pfs["ARM"])
            ps.append(test.p)
        info["p_values"] = ps
    info["wall_s"] = time.perf_counter() - t0
    info["peak_rss_mb"] = _peak_mb()
    info["rss_before_mb"] = before
    queue.put(info)


def measure(kind: str, trials: int, repeat: int = 1) -> dict[str, Any]:
    """The fastest of ``repeat`` runs, each in a fresh process (the machine is shared: the
    minimum is the least disturbed run); all wall times are kept."""
    runs = []
    for _ in range(repeat):
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(kind, trials, queue))
        proc.start()
        runs.append(queue.get())
        proc.join()
    best: dict[str, Any] = min(runs, key=lambda r: r["wall_s"])
    best["all_wall_s"] = [round(r["wall_s"], 2) for r in runs]
    return best


def check_agreement(trials: int) -> dict[str, Any]:
    """Largest difference between the vectorised and the loop statistics on the same
    replicates (expected 0 up to rounding), and whether power agrees exactly."""
    from hcctrial.simulate.oc import operating_characteristics

    fast = operating_characteristics(PROTOCOL, trials=trials, seed=SEED, effect=HR)
    slow = operating_characteristics(
        PROTOCOL, trials=trials, seed=SEED, effect=HR, statistics="loop"
    )
    worst = 0.0
    nan_mismatch = 0
    for col in fast.per_trial.columns:
        x, y = fast.per_trial[col].to_numpy(), slow.per_trial[col].to_numpy()
        nan_mismatch += int((np.isnan(x) != np.isnan(y)).sum())
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(1, np.abs(y[ok])))))
    return {
        "trials": trials,
        "max_rel_difference": worst,
        "nan_mismatches": nan_mismatch,
        "power_equal": fast.power == slow.power,
    }


def time_demo() -> dict[str, Any]:
    """``hcctrial demo`` end to end in a subprocess: wall time and the child's peak RSS."""
    exe = Path(sys.executable).with_name("hcctrial")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(exe), "demo", "--out", tmp], capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - t0
        ok = done.returncode == 0 and (Path(tmp) / "index.html").is_file()
        reports = len(list(Path(tmp).glob("*/report.html")))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"wall_s": wall, "peak_rss_mb": peak, "ok": ok, "reports": reports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--loop-trials", type=int, default=1_000)
    parser.add_argument("--trial-replicates", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_start = os.getloadavg()
    agreement = check_agreement(200)
    vec = measure("vectorised", args.trials, args.repeat)
    loop = measure("loop", args.loop_trials, args.repeat)
    whole = measure("simulate_trial", args.trial_replicates)
    demo = time_demo()
    load_end = os.getloadavg()
    # the fixed setup once, the per-replicate part scaled linearly
    per_rep = max(loop["wall_s"] - loop["setup_s"], 0.0) / args.loop_trials
    loop_scaled = loop["setup_s"] + per_rep * args.trials
    whole_scaled = whole["wall_s"] * args.trials / args.trial_replicates
    import polars as pl

    result = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, polars {pl.__version__}",
        "protocol": PROTOCOL,
        "subjects": 60,
        "effect_hr": HR,
        "vectorised": vec,
        "loop_subsample": loop,
        "loop_scaled_s": loop_scaled,
        "simulate_trial_subsample": whole,
        "simulate_trial_scaled_s": whole_scaled,
        "ratio_loop_over_vectorised": loop_scaled / vec["wall_s"],
        "vectorised_replicates_s": max(vec["wall_s"] - vec["setup_s"], 1e-9),
        "loop_replicates_scaled_s": per_rep * args.trials,
        "ratio_replicates_loop_over_vectorised": per_rep
        * args.trials
        / max(vec["wall_s"] - vec["setup_s"], 1e-9),
        "ratio_simulate_trial_over_vectorised": whole_scaled / vec["wall_s"],
        "agreement": agreement,
        "demo": demo,
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in load_end],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulate.json").write_text(json.dumps(result, indent=2, default=str))
    md = render(result)
    (RESULTS / "simulate.md").write_text(md)
    print(md)


def render(r: dict[str, Any]) -> str:
    v, lp, w, a, d = (
        r["vectorised"],
        r["loop_subsample"],
        r["simulate_trial_subsample"],
        r["agreement"],
        r["demo"],
    )
    return f"""### Virtual trials and operating characteristics: `benchmarks/bench_simulate.py`

{r["date"]}, {r["machine"]}; other engineers were running jobs on the same 2 cores (load
average 1/5/15 min {r["load_start"]} at the start, {r["load_end"]} at the end), so times are
upper bounds. Design: {r["protocol"]}, {r["subjects"]} patients randomized 1:1,
effect HR {r["effect_hr"]:g}; each replicate draws patients from the screened eligible pool
({v["eligible_pool"]} eligible of {v["screened_pool"]} screened from the trial's referral
profile),
simulates tumour assessments on the protocol calendar, PFS and OS, and runs a two-sided
log-rank test of PFS and of OS, KM medians and ORR with exact CIs per arm. Each measurement
runs in its own process (peak RSS of that process); the vectorised and loop rows are the
fastest of {len(v["all_wall_s"])} runs (all: {v["all_wall_s"]} s and {lp["all_wall_s"]} s).

| implementation | replicates | wall time | peak RSS | ratio |
|---|---|---|---|---|
| vectorised `operating_characteristics` | {v["trials"]:,} | {v["wall_s"]:.1f} s (of which {v["setup_s"]:.1f} s fixed setup: screening the pool) | {v["peak_rss_mb"]:,.0f} MB | 1 |
| same simulation, statistics one replicate at a time (`hcctrial.endpoints`) | {lp["trials"]:,} run, scaled to {v["trials"]:,} | {r["loop_scaled_s"]:.1f} s (measured {lp["wall_s"]:.1f} s; setup counted once) | {lp["peak_rss_mb"]:,.0f} MB | {r["ratio_loop_over_vectorised"]:.1f}x |
| one `simulate_trial` (SDTM) + response + endpoints + log-rank per replicate | {w["trials"]} run, scaled to {v["trials"]:,} | {r["simulate_trial_scaled_s"]:,.0f} s (measured {w["wall_s"]:.1f} s) | {w["peak_rss_mb"]:,.0f} MB | {r["ratio_simulate_trial_over_vectorised"]:,.0f}x |

Without the fixed setup (screening the pool of virtual patients and building the calendar,
the same work in both, timed as a 1-replicate run in each process): the replicates take
{r["vectorised_replicates_s"]:.2f} s vectorised and {r["loop_replicates_scaled_s"]:.1f} s (scaled)
one at a time, {r["ratio_replicates_loop_over_vectorised"]:.0f}x.

Power of the PFS log-rank test at HR {r["effect_hr"]:g} (two-sided alpha 0.05, favouring the
experimental arm): {v["power"]:.3f} (Monte Carlo SE {v["power_mcse"]:.3f}) over
{v["trials"]:,} replicates.

Agreement: on {a["trials"]} replicates (same seed) the vectorised and the per-replicate
statistics differ by at most {a["max_rel_difference"]:.1e} (relative), with
{a["nan_mismatches"]} mismatched not-estimable values (KM medians where S(t) equals 0.5
exactly from its last drop to the last follow-up: the vectorised path takes the midpoint of that
plateau, `kaplan_meier().median()` reports not reached); power equal: {a["power_equal"]}.

`hcctrial demo` end to end (five seed trials simulated, written as SDTM, read back,
analysed and reported, {d["reports"]} reports + index): {d["wall_s"]:.1f} s wall, peak RSS
{d["peak_rss_mb"]:,.0f} MB (goal: under 2 minutes on 2 cores); ok: {d["ok"]}.
"""


if __name__ == "__main__":
    main()
