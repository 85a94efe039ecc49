"""Shared fixtures of the io tests: small hand-built study folders."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

DM = """USUBJID,SEX,AGE,RFSTDTC
S-001,M,61,2024-03-23
S-002,F,54,2024-04-09
"""

LB = """USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBDTC
S-001,PLT,142,10^9/L,2024-03-05
S-001,BILI,18,umol/L,2024-03-05
S-002,PLT,201,x10^9/L,2024-04-01
S-002,ALB,4.2,g/dL,2024-04-01
"""


def write(folder: Path, **files: str) -> Path:
    """Write CSV texts as ``<name>.csv`` into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def good_folder(tmp_path: Path) -> Path:
    """DM and LB with no problem (two unit spellings of 10^9/L, albumin in g/dL)."""
    return write(tmp_path / "study", dm=DM, lb=LB)
