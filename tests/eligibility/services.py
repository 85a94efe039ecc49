"""Start the services the population tests need: a throw-away PostgreSQL cluster and a local
Spark session. Both are installed from Debian with apt-get when missing (the tests run as root).

The PostgreSQL cluster lives in a temporary folder owned by the ``postgres`` user, listens on
127.0.0.1 at a free port with ``trust`` authentication, and is stopped at the end; the system
cluster is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl


class ServiceUnavailable(RuntimeError):
    """The service cannot be installed or started here (the reason is the message)."""


_APT_UPDATED = False


def _apt_install(*packages: str) -> None:
    global _APT_UPDATED
    if shutil.which("apt-get") is None:
        raise ServiceUnavailable(f"apt-get not found; cannot install {' '.join(packages)}")
    if os.geteuid() != 0:
        raise ServiceUnavailable(f"not root; cannot apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _APT_UPDATED:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        _APT_UPDATED = True
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceUnavailable(
            f"apt-get install {' '.join(packages)} failed: {done.stderr[-500:]}"
        )


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    """A running throw-away cluster."""

    port: int
    url: str


def _as_postgres(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)],
        capture_output=True,
        text=True,
        check=False,
    )


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """Install (if needed) and start a PostgreSQL cluster; yields its connection URL."""
    if _pg_bin() is None:
        _apt_install("postgresql")
    bindir = _pg_bin()
    if bindir is None:
        raise ServiceUnavailable("PostgreSQL binaries not found after apt-get install")
    workdir = Path(tempfile.mkdtemp(prefix="hcctrial-pg-"))
    shutil.chown(workdir, "postgres", "postgres")
    data = workdir / "data"
    init = _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    if init.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServiceUnavailable(f"initdb failed: {init.stderr[-500:]}")
    port = _free_port()
    options = f"'-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off'"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options]
    start = _as_postgres([*pg_ctl, "-l", str(workdir / "log"), "-w", "start"])
    if start.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServiceUnavailable(f"pg_ctl start failed: {start.stderr[-500:]}")
    try:
        yield Postgres(port, f"postgres://postgres@127.0.0.1:{port}/postgres")
    finally:
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)


def load_postgres(url: str, tables: dict[str, pl.DataFrame]) -> Any:
    """Copy the OMOP tables into PostgreSQL; returns an Ibis connection."""
    import ibis

    con = ibis.connect(url)
    for name, df in tables.items():
        con.create_table(name, df.to_arrow())  # a fresh cluster: nothing to replace
    return con


def ensure_java() -> None:
    """Install a headless Java runtime for Spark when none is on the PATH."""
    if shutil.which("java") is None:
        _apt_install("default-jre-headless")
    if shutil.which("java") is None:
        raise ServiceUnavailable("java not found after apt-get install default-jre-headless")
