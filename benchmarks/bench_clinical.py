"""Benchmark: lab unit conversion and liver scores over large tables.

Data (fixed seed): an SDTM-shaped LB table of 1,000,000 rows over 8 analytes (PLT, WBC, NEUT,
BILI, CREAT, ALB, HGB, ALT) in 17 unit spellings (``x10^9/L``, ``/mm3``, ``10^3/uL``, ``G/L``,
``mg/dL``, ``umol/L``, ``g/dL``, ``IU/L``, ``ukat/L`` ...), converted to each analyte's
canonical unit; and 1,000,000 patients' Child-Pugh and ALBI inputs.

Measured in the same run, each in a fresh process (peak RSS of that process):

- ``hcctrial convert_expr``: one pint conversion per distinct (unit, analyte), joined back;
- ``pint per row``: the same conversion logic with pint called for every row (the uncached
  ``conversion``), on a 20,000-row subsample scaled linearly; answers checked equal;
- ``map_elements``: polars ``map_elements`` calling the scalar (cached) ``convert`` per row,
  on a 200,000-row subsample scaled; answers checked equal;
- ``floor``: one multiplication by a literal, the least any conversion has to do;
- ``child_pugh_expr`` + ``albi_expr`` vs a Python loop of the scalar functions (subsample).

Run: ``.venv/bin/python -m benchmarks.bench_clinical [--rows N]``.
Writes ``benchmarks/results/clinical.json`` and ``benchmarks/results/clinical.md``.
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

# analyte -> (unit spellings, typical value in the canonical unit, factor canonical->unit)
_LAB = {
    "PLT": (["x10^9/L", "/mm3", "10^3/uL", "G/L"], 200.0, [1, 1000, 1, 1]),
    "WBC": (["10^9/L", "/uL"], 6.0, [1, 1000]),
    "NEUT": (["10*9/L", "cells/uL"], 3.5, [1, 1000]),
    "BILI": (["umol/L", "mg/dL"], 15.0, [1, 1 / 17.104]),
    "CREAT": (["umol/L", "mg/dL"], 80.0, [1, 1 / 88.40]),
    "ALB": (["g/L", "g/dL"], 40.0, [1, 0.1]),
    "HGB": (["g/L", "g/dL"], 130.0, [1, 0.1]),
    "ALT": (["U/L", "IU/L", "ukat/L"], 30.0, [1, 1, 1 / 60]),
}


def simulate_lb(n_rows: int, seed: int = 20261122) -> pl.DataFrame:
    """An LB table with mixed analytes and unit spellings."""
    rng = np.random.default_rng(seed)
    codes = np.array(list(_LAB))
    which = rng.integers(0, len(codes), n_rows)
    values = np.empty(n_rows)
    units = np.empty(n_rows, dtype=object)
    for i, code in enumerate(codes):
        idx = np.flatnonzero(which == i)
        spellings, typical, factors = _LAB[str(code)]
        pick = rng.integers(0, len(spellings), idx.size)
        canonical = typical * rng.lognormal(0, 0.3, idx.size)
        values[idx] = canonical * np.asarray(factors)[pick]
        units[idx] = np.asarray(spellings, dtype=object)[pick]
    return pl.DataFrame({"LBTESTCD": codes[which], "LBORRES": values, "LBORRESU": units})


def simulate_liver(n: int, seed: int = 7) -> pl.DataFrame:
    """Child-Pugh/ALBI inputs for ``n`` patients."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "BILI": rng.lognormal(np.log(20), 0.6, n),
            "ALB": rng.normal(36, 6, n).clip(10, 60),
            "INR": rng.lognormal(np.log(1.2), 0.2, n),
            "ASCITES": rng.choice(["none", "mild", "moderate"], n, p=[0.7, 0.2, 0.1]),
            "ENCEPH": rng.choice(["none", "grade1-2", "grade3-4"], n, p=[0.85, 0.12, 0.03]),
        }
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _job(name: str, n_rows: int, sub: int, queue: Any) -> None:
    from hcctrial.clinical import (
        albi,
        albi_expr,
        child_pugh,
        child_pugh_expr,
        convert,
        convert_expr,
    )
    from hcctrial.clinical.units import conversion

    out: dict[str, Any] = {"name": name}
    df = simulate_liver(n_rows) if name.startswith("liver") else simulate_lb(n_rows)
    out["input_mb"] = _peak_mb()
    t0 = time.perf_counter()
    if name == "convert_expr":
        res = df.select(convert_expr("LBORRES", "LBORRESU", None, pl.col("LBTESTCD")))
        out["checksum"] = float(res["LBORRES"].sum())
        out["sample"] = res["LBORRES"].head(sub).to_list()
    elif name == "pint_per_row":
        part = df.head(sub)
        fn = conversion.__wrapped__  # type: ignore[attr-defined]
        vals = [
            fn(u, _canonical(c), c).apply(v)
            for c, v, u in part.select("LBTESTCD", "LBORRES", "LBORRESU").iter_rows()
        ]
        out["sample"] = vals
    elif name == "map_elements":
        part = df.head(sub)
        res = part.select(
            pl.struct("LBTESTCD", "LBORRES", "LBORRESU").map_elements(
                lambda r: convert(
                    r["LBORRES"], r["LBORRESU"], _canonical(r["LBTESTCD"]), r["LBTESTCD"]
                ),
                return_dtype=pl.Float64,
            )
        )
        out["sample"] = res.to_series().to_list()
    elif name == "floor":
        res = df.select(pl.col("LBORRES") * 1.5)
        out["checksum"] = float(res["LBORRES"].sum())
    elif name == "liver_expr":
        res = df.select(
            child_pugh_expr("BILI", "ALB", "INR", "ASCITES", "ENCEPH"), albi_expr("BILI", "ALB")
        )
        out["sample"] = list(zip(*(res[c].head(sub).to_list() for c in res.columns), strict=True))
    elif name == "liver_loop":
        part = df.head(sub)
        out["sample"] = [
            (child_pugh(b, a, i, asc, enc).score, albi(b, a).score)
            for b, a, i, asc, enc in part.iter_rows()
        ]
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = _peak_mb()
    out["rows"] = n_rows if name in ("convert_expr", "floor", "liver_expr") else sub
    out.pop("sample", None) if name in ("floor",) else None
    queue.put(out)


def _canonical(code: str) -> str:
    from hcctrial.clinical import canonical_unit

    return canonical_unit(code)


def _run(name: str, n_rows: int, sub: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_job, args=(name, n_rows, sub, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pint-rows", type=int, default=20_000)
    parser.add_argument("--map-rows", type=int, default=200_000)
    args = parser.parse_args()
    n = args.rows
    runs = {
        "convert_expr": _run("convert_expr", n, args.pint_rows),
        "pint_per_row": _run("pint_per_row", n, args.pint_rows),
        "map_elements": _run("map_elements", n, args.map_rows),
        "floor": _run("floor", n, 0),
        "liver_expr": _run("liver_expr", n, args.pint_rows),
        "liver_loop": _run("liver_loop", n, args.pint_rows),
    }
    ours = runs["convert_expr"]
    agree_pint = np.allclose(ours["sample"], runs["pint_per_row"]["sample"], rtol=1e-12)
    agree_map = np.allclose(
        ours["sample"], runs["map_elements"]["sample"][: args.pint_rows], rtol=1e-12
    )
    loop_s = [(int(a), float(b)) for a, b in runs["liver_loop"]["sample"]]
    expr_s = [(int(a), float(b)) for a, b in runs["liver_expr"]["sample"]]
    agree_liver = [a for a, _ in loop_s] == [a for a, _ in expr_s] and np.allclose(
        [b for _, b in loop_s], [b for _, b in expr_s], rtol=1e-12
    )
    scale_pint = n / runs["pint_per_row"]["rows"]
    scale_map = n / runs["map_elements"]["rows"]
    scale_liver = n / runs["liver_loop"]["rows"]
    pint_full = runs["pint_per_row"]["seconds"] * scale_pint
    map_full = runs["map_elements"]["seconds"] * scale_map
    liver_loop_full = runs["liver_loop"]["seconds"] * scale_liver
    for r in runs.values():
        r.pop("sample", None)
    summary = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, 2 cores, Python {platform.python_version()}, "
        f"polars {pl.__version__}",
        "rows": n,
        "runs": runs,
        "agree": {"pint_per_row": agree_pint, "map_elements": agree_map, "liver": agree_liver},
        "scaled_seconds": {
            "pint_per_row": pint_full,
            "map_elements": map_full,
            "liver_loop": liver_loop_full,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clinical.json").write_text(json.dumps(summary, indent=2))
    f = runs

    def scaled(key: str, total: float) -> str:
        r = f[key]
        return f"{total:.1f} s (scaled from {r['seconds']:.2f} s on {r['rows']:,} rows)"

    table = [
        (
            "hcctrial `convert_expr` (pint once per distinct unit and analyte)",
            f"{ours['seconds']:.2f} s",
            ours["peak_mb"],
            "1",
        ),
        (
            "pint per row, same logic uncached",
            scaled("pint_per_row", pint_full),
            f["pint_per_row"]["peak_mb"],
            f"{pint_full / ours['seconds']:.0f}x slower",
        ),
        (
            "polars `map_elements` over scalar `convert` (cached)",
            scaled("map_elements", map_full),
            f["map_elements"]["peak_mb"],
            f"{map_full / ours['seconds']:.1f}x slower",
        ),
        (
            "floor: one multiplication by a literal",
            f"{f['floor']['seconds']:.3f} s",
            f["floor"]["peak_mb"],
            f"hcctrial / floor = {ours['seconds'] / max(f['floor']['seconds'], 1e-9):.0f}x",
        ),
        (
            "hcctrial `child_pugh_expr` + `albi_expr`",
            f"{f['liver_expr']['seconds']:.2f} s",
            f["liver_expr"]["peak_mb"],
            "1",
        ),
        (
            "Python loop over scalar `child_pugh` + `albi`",
            scaled("liver_loop", liver_loop_full),
            f["liver_loop"]["peak_mb"],
            f"{liver_loop_full / f['liver_expr']['seconds']:.0f}x slower",
        ),
    ]
    lines = [f"| {a} | {b} | {c:.0f} MB | {d} |" for a, b, c, d in table]
    md = (
        "### Clinical calculators and lab units: `benchmarks/bench_clinical.py`\n\n"
        f"{summary['date']}, {summary['machine']}; other engineers were running jobs on the "
        "same 2 cores.\n"
        f"Data: an LB table of {n:,} rows, 8 analytes in 17 unit spellings, converted to each "
        f"analyte's canonical unit; {n:,} patients' Child-Pugh and ALBI (fixed seeds). Each "
        "measurement runs in its own process; peak RSS includes the input table and libraries "
        f"(about {ours['input_mb']:.0f} MB before the measured step).\n\n"
        "| implementation | wall time | peak RSS | ratio |\n|---|---|---|---|\n"
        + "\n".join(lines)
        + f"\n\nAnswers agree on the subsamples: pint per row {agree_pint}, map_elements "
        f"{agree_map}, Child-Pugh/ALBI loop {agree_liver}.\n"
    )
    (RESULTS / "clinical.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
