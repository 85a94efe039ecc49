"""Run every benchmark module (``benchmarks/bench_*.py``), each in its own process.

``make bench`` calls this. Each module writes ``benchmarks/results/<area>.md`` and ``.json``;
``BENCHMARKS.md`` collects those sections with the machine and date they were measured on.
A benchmark that fails is reported and the others still run; the exit code is 1 if any
failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    """Run each ``bench_*`` module with this interpreter; print its wall time and status."""
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
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
