"""The command line of the study database: ``studies add``, ``users add/list``, ``audit
verify`` (``serve`` is started as a process by the concurrency and browser tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hcctrial.cli import main
from hcctrial.cli.web import database_url


def test_set_up_add_users_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "study.db")
    assert (
        main(
            [
                "studies",
                "add",
                "--db",
                db,
                "-p",
                "NCT04011033",
                "--site",
                "A=Hospital A",
                "--site",
                "B=Hospital B",
                "--seed",
                "7",
            ]
        )
        == 0
    )
    assert "Study NCT04011033 (id 1), sites A, B." in capsys.readouterr().out
    assert (
        main(["users", "add", "liwei", "--name", "Li Wei", "--role", "coordinator:A", "--db", db])
        == 0
    )
    out = capsys.readouterr().out
    password = re.search(r"One-time password: (\S+)", out)
    assert password and len(password.group(1)) >= 20
    # Unknown role and unknown site: exit 1 with the reason.
    assert main(["users", "add", "x1", "--name", "X", "--role", "nurse", "--db", db]) == 1
    assert "unknown role" in capsys.readouterr().err
    assert main(["users", "add", "x2", "--name", "X", "--role", "monitor:Z", "--db", db]) == 1
    assert "no such site" in capsys.readouterr().err
    assert main(["users", "list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert "liwei" in listed and "coordinator:A" in listed and "one-time" in listed
    assert main(["audit", "verify", "--db", db]) == 0
    assert "Audit trail intact" in capsys.readouterr().out


def test_a_study_needs_a_seed_for_its_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "study.db")
    assert main(["studies", "add", "--db", db, "-p", "NCT04011033", "--site", "A=X"]) == 1
    assert "needs a seed" in capsys.readouterr().err


def test_verify_refuses_what_is_not_a_study_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 1
    assert "no study database here" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()  # a typo never leaves an empty database


def test_database_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HCCTRIAL_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url(None) == f"sqlite:///{tmp_path / 'hcctrial.db'}"
    monkeypatch.setenv("HCCTRIAL_DB", "postgres://u@127.0.0.1/s")
    assert database_url(None) == "postgresql+psycopg://u@127.0.0.1/s"
    assert database_url("x.db") == f"sqlite:///{tmp_path / 'x.db'}"
