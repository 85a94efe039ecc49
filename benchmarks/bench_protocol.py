"""Benchmark: loading and validating a large protocol YAML file.

Data: the built-in SZ003 protocol scaled up to a large user-written protocol (default 2,000
eligibility criteria, 500 schedule events, 200 endpoints, 200 assumptions; every id unique),
plus the same file with 200 broken expressions (the error path, which must locate each
problem's line).

Measured in the same run, each in a fresh process (peak RSS of that process), best of 3:

- ``hcctrial parse_protocol``: one libyaml pass gives both the node tree (lines, duplicate
  keys) and the data; pydantic validation; cross-reference and expression checks;
- peer ``two-pass pure-Python``: ``yaml.compose`` + ``yaml.safe_load`` with PyYAML's pure
  Python loader, then the same ``Protocol.model_validate`` (the loader before this benchmark,
  and what a straightforward PyYAML + pydantic loader does); answers checked equal;
- floor ``libyaml load only``: ``yaml.load(CSafeLoader)`` with no validation at all.

Run: ``.venv/bin/python -m benchmarks.bench_protocol [--criteria N]``.
Writes ``benchmarks/results/protocol.json`` and ``benchmarks/results/protocol.md``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path
from typing import Any

import yaml

RESULTS = Path(__file__).parent / "results"
REPEATS = 3


def build_text(criteria: int, events: int, endpoints: int, assumptions: int) -> str:
    """A large valid protocol: SZ003's items repeated with fresh ids."""
    from hcctrial.protocol import load_protocol

    base = load_protocol("sz003-car-nk").model_dump(mode="json", exclude_defaults=True)
    data = copy.deepcopy(base)
    crit, ev, ep, asm = (
        base["eligibility"]["criteria"],
        base["schedule"]["events"],
        base["endpoints"],
        base["assumptions"],
    )
    data["eligibility"]["criteria"] = [
        {**crit[i % len(crit)], "id": f"C{i}"} for i in range(criteria)
    ]
    for c in data["eligibility"]["criteria"]:
        c.pop("assumption", None)
    data["schedule"]["events"] = [
        {**ev[i % len(ev)], "id": f"E{i}", "intervention": "sz003"}
        if ev[i % len(ev)].get("what") == "intervention"
        else {**ev[i % len(ev)], "id": f"E{i}"}
        for i in range(events)
    ]
    for e in data["schedule"]["events"]:
        e.pop("assumption", None)
    data["endpoints"] = [{**ep[i % len(ep)], "id": f"P{i}"} for i in range(endpoints)]
    for e in data["endpoints"]:
        e.pop("assumption", None)
    data["interventions"][0].pop("assumption", None)
    data["assumptions"] = [{**asm[i % len(asm)], "id": f"A{i}"} for i in range(assumptions)]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def break_expressions(text: str, count: int) -> str:
    """The same file with ``count`` expressions that use an unknown name."""
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    broken = 0
    for c in data["eligibility"]["criteria"]:
        if "expression" in c and broken < count:
            c["expression"] = f"unknown_{broken} > 1"
            broken += 1
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(kind: str, text: str) -> dict[str, Any]:
    from hcctrial.errors import InputErrors
    from hcctrial.protocol import Protocol, parse_protocol

    best = float("inf")
    result: Any = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        if kind == "hcctrial":
            result = parse_protocol(text, file="big.yaml")
        elif kind == "two-pass":
            yaml.compose(text, Loader=yaml.SafeLoader)
            result = Protocol.model_validate(yaml.safe_load(text))
        elif kind == "floor":
            result = yaml.load(text, Loader=yaml.CSafeLoader)
        elif kind == "errors":
            try:
                parse_protocol(text, file="bad.yaml")
            except InputErrors as exc:
                result = len(exc.problems)
        best = min(best, time.perf_counter() - start)
    summary = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
    return {"seconds": best, "peak_mb": _peak_mb(), "answer": json.dumps(summary, default=str)}


def _child(kind: str, text: str, queue: Any) -> None:
    queue.put(_run(kind, text))


def measure(kind: str, text: str) -> dict[str, Any]:
    """Run one measurement in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, text, queue))
    proc.start()
    out: dict[str, Any] = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", type=int, default=2000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--assumptions", type=int, default=200)
    parser.add_argument("--broken", type=int, default=200)
    args = parser.parse_args()
    text = build_text(args.criteria, args.events, args.endpoints, args.assumptions)
    bad = break_expressions(text, args.broken)
    runs = {
        kind: measure(kind, bad if kind == "errors" else text)
        for kind in ("hcctrial", "two-pass", "floor", "errors")
    }
    same = runs["hcctrial"]["answer"] == runs["two-pass"]["answer"]
    errors_found = int(runs["errors"]["answer"])
    import polars as pl  # only for the version line

    summary = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, 2 cores, Python {platform.python_version()}, "
        f"PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__}), polars {pl.__version__}",
        "size": {
            "criteria": args.criteria,
            "events": args.events,
            "endpoints": args.endpoints,
            "assumptions": args.assumptions,
            "kilobytes": round(len(text.encode()) / 1024),
            "broken_expressions": args.broken,
        },
        "seconds": {k: v["seconds"] for k, v in runs.items()},
        "peak_mb": {k: v["peak_mb"] for k, v in runs.items()},
        "answers_equal": same,
        "errors_found": errors_found,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "protocol.json").write_text(json.dumps(summary, indent=2))
    s, m = summary["seconds"], summary["peak_mb"]
    size = summary["size"]
    md = [
        "### Protocol loading and validation: `benchmarks/bench_protocol.py`",
        "",
        f"{summary['date']}, {summary['machine']}; other engineers were running jobs on the "
        "same 2 cores.",
        f"Data: one protocol YAML of {size['kilobytes']} KB ({size['criteria']:,} eligibility "
        f"criteria, {size['events']} schedule events, {size['endpoints']} endpoints, "
        f"{size['assumptions']} assumptions), and the same file with {size['broken_expressions']}"
        " broken expressions. Each measurement runs in its own process (best of 3).",
        "",
        "| implementation | wall time | peak RSS | ratio |",
        "|---|---|---|---|",
        f"| hcctrial `parse_protocol` (one libyaml pass, schema, references, expressions) | "
        f"{s['hcctrial']:.2f} s | {m['hcctrial']:.0f} MB | 1 |",
        f"| two-pass pure-Python PyYAML (`compose` + `safe_load`) + same pydantic model | "
        f"{s['two-pass']:.2f} s | {m['two-pass']:.0f} MB | "
        f"{s['two-pass'] / s['hcctrial']:.1f}x slower |",
        f"| floor: libyaml load only, no validation | {s['floor']:.2f} s | {m['floor']:.0f} MB | "
        f"hcctrial / floor = {s['hcctrial'] / s['floor']:.1f}x |",
        f"| hcctrial error path: {errors_found} problems, each with its YAML path and line | "
        f"{s['errors']:.2f} s | {m['errors']:.0f} MB | "
        f"{s['errors'] / s['hcctrial']:.1f}x the valid file |",
        "",
        f"Answers agree (same validated protocol from both loaders): {same}.",
        "",
    ]
    (RESULTS / "protocol.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
