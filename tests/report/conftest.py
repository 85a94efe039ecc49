"""Fixtures of the report tests: headless Chromium, installed by the fixture when absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt (the CI machine is like this one: root, apt works)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env, capture_output=True
    )
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; installed from Debian packages when absent."""
    path = shutil.which("chromium") or shutil.which("chromium-browser") or _install_chromium()
    if path is None:
        pytest.skip("Chromium is not installed and cannot be installed here (needs root + apt)")
    return path


def _render(chromium: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after load, as headless Chromium rendered it."""
    done = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def render_dom(chromium: str, tmp_path: Path) -> Callable[[Path], str]:
    """``render_dom(page) -> DOM text`` after load, in a fresh Chromium profile."""
    return lambda page: _render(chromium, page, tmp_path / "profile")
