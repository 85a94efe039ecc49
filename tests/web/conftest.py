"""Fixtures of the web tests: a migrated SQLite database with a randomized study (NCT04011033)
at two sites, one user per role at site A (sponsor roles at every site), a subject per site."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hcctrial.web.app import create_app
from hcctrial.web.auth import add_user, create_api_token
from hcctrial.web.db import Site, User
from hcctrial.web.service import create_subject, protocol_source, setup_study

PASSWORD = "correct horse battery"

#: role -> does the role's membership cover every site (sponsor roles) or only site A.
ROLE_SCOPE = {
    "admin": "all",
    "investigator": "A",
    "coordinator": "A",
    "monitor": "A",
    "statistician": "all",
    "auditor": "all",
}


@dataclass
class Env:
    """A running app over a fresh database, with tokens per user."""

    url: str
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        """Bearer headers of ``user`` (a role name, or ``investigator_b`` for site B)."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def make_env(tmp_path: Path) -> Env:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    app = create_app(url)
    client = TestClient(app)
    env = Env(url, client)
    with app.state.sessions() as session:
        session.info["user"] = "setup"
        study = setup_study(
            session,
            protocol_source("NCT04011033"),
            [("A", "Beijing Youan Hospital"), ("B", "Beijing Ditan Hospital")],
            seed=20261122,
        )
        sites = {s.code: s for s in session.scalars(select(Site).where(Site.study_id == study.id))}
        users: dict[str, User] = {}
        for role, scope in ROLE_SCOPE.items():
            site_id = None if scope == "all" else sites["A"].id
            users[role] = add_user(session, role, role.title(), PASSWORD, [(role, site_id)])
        users["investigator_b"] = add_user(
            session,
            "investigator_b",
            "Site B Investigator",
            PASSWORD,
            [("investigator", sites["B"].id)],
        )
        users["monitor_b"] = add_user(
            session, "monitor_b", "Site B Monitor", PASSWORD, [("monitor", sites["B"].id)]
        )
        for name, user in users.items():
            env.tokens[name] = create_api_token(session, user, "tests")
        for code in ("A", "B"):
            subject = create_subject(
                session,
                sites[code],
                {
                    "subjid": f"{code}01",
                    "sex": "F",
                    "birth_dtc": "1960-04-02",
                    "screened_dtc": "2026-01-05",
                },
                "setup",
            )
            env.ids[f"subject_{code}"] = subject.id
            env.ids[f"usubjid_{code}"] = subject.usubjid
            env.ids[f"site_{code}"] = sites[code].id
        env.ids["study"] = study.id
        session.commit()
    return env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A fresh study database and app for one test."""
    made = make_env(tmp_path)
    with made.client:
        yield made
    made.client.app.state.engine.dispose()  # type: ignore[attr-defined]
