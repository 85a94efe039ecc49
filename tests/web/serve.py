"""``hcctrial serve`` in its own process on a free port of 127.0.0.1, for the concurrency tests
and the web benchmark (``benchmarks/bench_web.py`` imports it from here: one helper), and the
data both seed a treated subject with (:func:`treated_subject_records`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Server", "free_port", "serve", "treated_subject_records"]


def treated_subject_records() -> list[tuple[str, dict[str, Any]]]:
    """(domain, form data) of the records of an NCT04011033 subject treated on 2026-02-07, in
    entry order: one liver target lesion (T01) with its longest and viable (enhancing) diameters
    50 and 40 mm at baseline (2026-02-01), 45 and 10 mm at the response assessment of
    2026-04-10; platelets 60 x 10^9/L (normal range 150-400) on 2026-03-01; a CRS adverse event
    of grade 2 from 2026-02-08 with no end date. The expected results (RECIST 1.1 SD, mRECIST
    PR, CTCAE platelet grade 2, ongoing CRS grade 2) are derived in
    ``tests/web/test_subject_results.py``; the web benchmark's subject page shows them."""
    records: list[tuple[str, dict[str, Any]]] = [
        (
            "TU",
            {
                "TULNKID": "T01",
                "TUSTRESC": "TARGET",
                "TULOC": "LIVER",
                "TUDTC": "2026-02-01",
                "VISITNUM": 1,
            },
        )
    ]
    for visitnum, visit, day, ldiam, viable in (
        (1, "Baseline", "2026-02-01", 50, 40),
        (2, "Response assessment", "2026-04-10", 45, 10),
    ):
        for code, value in (("LDIAM", ldiam), ("VIABLDIAM", viable)):
            records.append(
                (
                    "TR",
                    {
                        "TRGRPID": "TARGET",
                        "TRLNKID": "T01",
                        "TRTESTCD": code,
                        "TRSTRESN": value,
                        "TRSTRESU": "mm",
                        "TRDTC": day,
                        "VISITNUM": visitnum,
                        "VISIT": visit,
                    },
                )
            )
    records.append(
        (
            "LB",
            {
                "LBTESTCD": "PLT",
                "LBORRES": "60",
                "LBORRESU": "10^9/L",
                "LBORNRLO": 150,
                "LBORNRHI": 400,
                "LBDTC": "2026-03-01",
            },
        )
    )
    records.append(
        (
            "AE",
            {"AETERM": "Cytokine release syndrome", "AETOXGR": "2", "AESTDTC": "2026-02-08"},
        )
    )
    return records


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running server: its base URL and process id."""

    base: str
    pid: int

    def peak_rss_mb(self) -> float | None:
        """The process's peak resident memory (``VmHWM`` of ``/proc``), in MiB (Linux)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None


@contextmanager
def serve(url: str, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[Server]:
    """``hcctrial serve --db URL`` (with ``env`` added to the environment) until the block ends;
    waits until ``/login`` answers, raises with the server's output if it exits first."""
    port = free_port()
    exe = Path(sys.executable).parent / "hcctrial"
    base = f"http://127.0.0.1:{port}"
    # The output goes to a file, not a pipe: a pipe nobody reads fills up under load (access
    # logs) and then blocks the server.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [str(exe), "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read()}")
                try:
                    if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start in {timeout:.0f} s")
                time.sleep(0.2)
            yield Server(base, proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
