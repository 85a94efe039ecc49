"""Administration from the command line: accounts, study set-up and the audit check, each in
its own audited transaction (the user of the audit trail is ``cli:<operating-system user>``).

These are the functions behind ``hcctrial users``, ``hcctrial studies`` and
``hcctrial audit verify``; they open the database, do one thing and close it.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hcctrial.errors import InputError
from hcctrial.web.audit import ChainCheck, canonical_json, verify_chain
from hcctrial.web.auth import add_user
from hcctrial.web.db import (
    ROLES,
    AuditHead,
    Membership,
    RandomizationList,
    RandomizationSlot,
    Site,
    Study,
    User,
    begin_write,
    make_engine,
    make_sessionmaker,
    normalize_url,
    upgrade_database,
)
from hcctrial.web.service import protocol_source, setup_study

__all__ = [
    "AuditReport",
    "cli_user",
    "create_user",
    "list_users",
    "new_study",
    "parse_role",
    "verify_audit",
]


def cli_user() -> str:
    """The audit trail's user for a command run at the console."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or password database
        name = "unknown"
    return f"cli:{name}"


@contextmanager
def _write_session(url: str) -> Iterator[Session]:
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            begin_write(session)
            session.info["user"] = cli_user()
            yield session
            session.commit()
    finally:
        engine.dispose()


def parse_role(spec: str) -> tuple[str, str | None]:
    """``coordinator:A`` -> (``coordinator``, ``A``); ``monitor`` -> (``monitor``, None: every
    site)."""
    role, _, site = spec.partition(":")
    role = role.strip().lower()
    if role not in ROLES:
        raise InputError("unknown role", value=role, expected=", ".join(ROLES))
    site = site.strip()
    if site in ("", "*", "all"):
        return role, None
    return role, site


def _site_id(session: Session, code: str, study: str | None) -> int:
    query = select(Site, Study).join(Study, Study.id == Site.study_id).where(Site.code == code)
    if study:
        query = query.where(Study.protocol_id == study)
    rows = session.execute(query).all()
    if not rows:
        raise InputError("no such site", value=code, expected="the code of a set-up site")
    if len(rows) > 1:
        studies = ", ".join(str(r.Study.protocol_id) for r in rows)
        raise InputError(
            "site code is used by several studies", value=code, expected=f"--study {studies}"
        )
    return int(rows[0].Site.id)


def create_user(
    url: str,
    username: str,
    full_name: str,
    roles: list[str],
    *,
    password: str | None = None,
    study: str | None = None,
) -> str | None:
    """Add a user with roles (``role`` or ``role:SITE``); returns the generated one-time
    password when ``password`` is not given (the user must replace it at the first login)."""
    if not roles:
        raise InputError("a user needs at least one role", expected="--role ROLE[:SITE]")
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(15)
    with _write_session(url) as session:
        memberships: list[tuple[str, int | None]] = []
        for spec in roles:
            role, code = parse_role(spec)
            memberships.append((role, None if code is None else _site_id(session, code, study)))
        add_user(session, username, full_name, password, memberships, one_time=bool(generated))
    return generated


def _existing_engine(url: str) -> Engine:
    """An engine over an existing study database (never creates one: a command that only reads
    must not leave an empty database behind a typo)."""
    url = normalize_url(url)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        raise InputError(
            "no study database here", value=url, expected="--db of an existing database"
        )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(select(AuditHead.seq).limit(1)).first()
    except DBAPIError:
        engine.dispose()
        raise InputError(
            "not an hcctrial study database (or it cannot be reached)",
            value=url,
            expected="a database made by hcctrial serve",
        ) from None
    return engine


def list_users(url: str) -> list[dict[str, Any]]:
    """Every account with its roles (``role:SITE`` or ``role`` for every site)."""
    engine = _existing_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            sites = {s.id: s.code for s in session.scalars(select(Site))}
            out = []
            for user in session.scalars(select(User).order_by(User.username)):
                roles = [
                    m.role if m.site_id is None else f"{m.role}:{sites.get(m.site_id, '?')}"
                    for m in session.scalars(
                        select(Membership)
                        .where(Membership.user_id == user.id)
                        .order_by(Membership.role, Membership.site_id)
                    )
                ]
                out.append(
                    {
                        "username": user.username,
                        "full_name": user.full_name,
                        "roles": ", ".join(roles),
                        "active": user.active,
                        "must_change_password": user.must_change_password,
                    }
                )
            return out
    finally:
        engine.dispose()


def new_study(
    url: str,
    protocol: str,
    sites: list[tuple[str, str]],
    *,
    seed: int | None = None,
    strata: dict[str, list[str]] | None = None,
    per_stratum: int | None = None,
) -> dict[str, Any]:
    """Set up a study (or a new protocol version) from a protocol id or YAML file."""
    with _write_session(url) as session:
        study = setup_study(
            session,
            protocol_source(protocol),
            sites,
            seed=seed,
            strata=strata,
            per_stratum=per_stratum,
        )
        codes = list(session.scalars(select(Site.code).where(Site.study_id == study.id)))
        return {"id": study.id, "protocol_id": study.protocol_id, "sites": sorted(codes)}


@dataclass
class AuditReport:
    """What ``hcctrial audit verify`` found."""

    chain: ChainCheck
    lists: list[str]

    @property
    def ok(self) -> bool:
        """True when the chain holds and every randomization list matches its digest."""
        return self.chain.ok and not self.lists

    @property
    def problems(self) -> list[str]:
        """Every problem, the first broken record first."""
        return [*self.chain.problems, *self.lists]


def _list_problems(session: Session) -> list[str]:
    """Randomization lists whose stored slots no longer match the digest taken at set-up."""
    problems = []
    for rlist in session.scalars(select(RandomizationList).order_by(RandomizationList.id)):
        slots = session.scalars(
            select(RandomizationSlot)
            .where(RandomizationSlot.list_id == rlist.id)
            .order_by(RandomizationSlot.id)
        )
        rows = [[s.stratum, s.seq, s.block, s.block_size, s.arm_code] for s in slots]
        digest = hashlib.sha256(canonical_json(rows).encode("utf-8")).hexdigest()
        if digest != rlist.list_sha256:
            problems.append(
                f"randomization list {rlist.id} (study {rlist.study_id}): the stored allocations "
                "do not match the SHA-256 taken when the list was generated"
            )
    return problems


def verify_audit(url: str) -> AuditReport:
    """Recompute the audit trail's hash chain and the randomization lists' digests."""
    engine = _existing_engine(url)
    try:
        chain = verify_chain(engine)
        with make_sessionmaker(engine)() as session:
            lists = _list_problems(session)
        return AuditReport(chain, lists)
    finally:
        engine.dispose()
