"""Run every benchmark module (``benchmarks/bench_*.py``), each in its own process.

``make bench`` calls this. Each module writes ``benchmarks/results/<area>.md`` and ``.json``;
``BENCHMARKS.md`` at the top of the repository is then assembled from those sections (each
keeps the machine and date it was measured on). A benchmark that fails is reported and the
others still run; the exit code is 1 if any failed.

``python -m benchmarks.run_all --collect`` only re-assembles ``BENCHMARKS.md`` from the
results already recorded (after running one module by hand).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
OUTPUT = HERE.parent / "BENCHMARKS.md"

#: sections in the order of the pipeline; any other result file follows in name order
ORDER = (
    "protocol",
    "clinical",
    "eligibility",
    "schedule",
    "response",
    "safety_grading",
    "escalation",
    "endpoints",
    "simulate",
    "report",
    "web",
)

HEADER = """# hcctrial benchmarks

Measured with `make bench` (every `benchmarks/bench_*.py`, each in its own process; a single
module: `.venv/bin/python -m benchmarks.bench_<area>`, then
`.venv/bin/python -m benchmarks.run_all --collect`). Each section below is written by its
module into `benchmarks/results/<area>.md` (figures also in `.json`) and states the data size,
the machine, the date, and the peer or floor measured in the same run; ratios compare within
one run, so they hold better than the absolute times on a shared 2-core machine.
Performance is never asserted in the tests.
"""


def collect() -> Path:
    """Assemble BENCHMARKS.md from ``benchmarks/results/*.md`` (pipeline order)."""
    found = {p.stem: p for p in RESULTS.glob("*.md")}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    parts = [HEADER]
    parts.append("## Contents\n\n" + "\n".join(f"- `{n}`" for n in names) + "\n")
    for name in names:
        text = found[name].read_text(encoding="utf-8").strip()
        parts.append(text + "\n")
    OUTPUT.write_text("\n".join(parts), encoding="utf-8")
    return OUTPUT


def main() -> int:
    """Run each ``bench_*`` module with this interpreter; print its wall time and status."""
    if "--collect" in sys.argv[1:]:
        print(f"wrote {collect()}")
        return 0
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = f"benchmarks.{path.stem}"
        print(f"== {module}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", module], check=False)
        took = time.perf_counter() - start
        status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
        print(f"== {module}: {status} in {took:.0f} s", flush=True)
        if done.returncode != 0:
            failed.append(module)
    print(f"wrote {collect()}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
