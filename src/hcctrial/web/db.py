"""The study database: SQLAlchemy 2 models, engine set-up (SQLite WAL or PostgreSQL), migrations.

Tables
------
studies, study_versions (one row per protocol version; data keeps the version it was collected
under), sites, users, memberships (role at a site, or at every site when ``site_id`` is null),
api_tokens, web_sessions, login_attempts, subjects (with the state machine's dates),
subject_events (every state change), records (generic clinical records, one SDTM row each:
LB, VS, TU, TR, AE, EX, DS, CM, MH, QS), queries and query_messages, randomization_lists and
randomization_slots, audit_trail and audit_head (see :mod:`hcctrial.web.audit`).

Clinical dates are ISO 8601 text as in SDTM ``--DTC`` (partial dates allowed); system
timestamps are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "LoginAttempt",
    "Membership",
    "Query",
    "QueryMessage",
    "RandomizationList",
    "RandomizationSlot",
    "Record",
    "Site",
    "Study",
    "StudyVersion",
    "Subject",
    "SubjectEvent",
    "User",
    "WebSession",
    "begin_write",
    "make_engine",
    "make_sessionmaker",
    "normalize_url",
    "upgrade_database",
    "utcnow",
]

#: The roles of ICH E6(R3) trial staff that the application knows.
ROLES = ("admin", "investigator", "coordinator", "monitor", "statistician", "auditor")


def utcnow() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (SQLite has no time zones) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(Text)
    enrolment_target: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StudyVersion(Base):
    __tablename__ = "study_versions"
    __table_args__ = (UniqueConstraint("study_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    version: Mapped[int] = mapped_column(Integer)
    protocol_yaml: Mapped[str] = mapped_column(Text)
    protocol_sha256: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    #: Set for a generated one-time password: the user must choose a new one at first login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "role", "site_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(Text)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    client: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class Subject(Base):
    __tablename__ = "subjects"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    study_version_id: Mapped[int] = mapped_column(ForeignKey("study_versions.id"))
    usubjid: Mapped[str] = mapped_column(String(80), unique=True)
    subjid: Mapped[str] = mapped_column(String(40))
    sex: Mapped[str] = mapped_column(String(20))
    birth_dtc: Mapped[str | None] = mapped_column(String(20))
    race: Mapped[str | None] = mapped_column(Text)
    ethnic: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(20), default="screened")
    screened_dtc: Mapped[str] = mapped_column(String(20))
    consented_dtc: Mapped[str | None] = mapped_column(String(20))
    eligibility: Mapped[str | None] = mapped_column(String(20))
    eligibility_dtc: Mapped[str | None] = mapped_column(String(20))
    eligibility_signed_by: Mapped[str | None] = mapped_column(String(80))
    enrolled_dtc: Mapped[str | None] = mapped_column(String(20))
    randomized_dtc: Mapped[str | None] = mapped_column(String(20))
    arm_code: Mapped[str | None] = mapped_column(String(40))
    dose_level: Mapped[str | None] = mapped_column(String(40))
    strata: Mapped[dict[str, str] | None] = mapped_column(JSON)
    first_treatment_dtc: Mapped[str | None] = mapped_column(String(20))
    off_treatment_dtc: Mapped[str | None] = mapped_column(String(20))
    off_study_dtc: Mapped[str | None] = mapped_column(String(20))
    death_dtc: Mapped[str | None] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own idiom


class SubjectEvent(Base):
    __tablename__ = "subject_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    event_dtc: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    by_user: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Record(Base):
    __tablename__ = "records"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    study_version_id: Mapped[int] = mapped_column(ForeignKey("study_versions.id"))
    domain: Mapped[str] = mapped_column(String(8), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="active")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_by: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature_meaning: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own idiom


class Query(Base):
    __tablename__ = "queries"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    field: Mapped[str | None] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    text: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(80))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueryMessage(Base):
    __tablename__ = "query_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("queries.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    by_user: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RandomizationList(Base):
    __tablename__ = "randomization_lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    ratio: Mapped[dict[str, int]] = mapped_column(JSON)
    strata: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    block_sizes: Mapped[list[int]] = mapped_column(JSON)
    list_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RandomizationSlot(Base):
    __tablename__ = "randomization_slots"
    __table_args__ = (UniqueConstraint("list_id", "stratum", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("randomization_lists.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(Integer)
    block_size: Mapped[int] = mapped_column(Integer)
    arm_code: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), unique=True)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revealed_by: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own idiom


class AuditEntry(Base):
    __tablename__ = "audit_trail"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    user: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(10))
    table_name: Mapped[str] = mapped_column(String(40))
    row_id: Mapped[str] = mapped_column(String(40))
    changes: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


#: Connection execution option that marks a write transaction (see :func:`make_engine`).
WRITE_OPTION = "hcctrial_write"


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL journal (readers never block the writer), foreign keys on, wait for locks.

    The driver's own transaction handling is switched off (``isolation_level = None``) so that
    :func:`_sqlite_begin` decides how each transaction begins.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    """``BEGIN IMMEDIATE`` for a write transaction (takes the single write lock up front, so
    a transaction that has read never has to upgrade its lock: SQLite would refuse the upgrade
    at once with "database is locked" after another writer's commit), plain ``BEGIN`` for a
    read (a consistent WAL snapshot that never blocks)."""
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``).

    SQLite connections use the WAL journal, enforce foreign keys and wait up to 30 s for the
    write lock; the audit hooks are attached to every session made by :func:`make_sessionmaker`.
    ``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for ``url``: a file path becomes ``sqlite:///<absolute path>``, and
    ``postgres://`` / ``postgresql://`` select the psycopg 3 driver."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def begin_write(session: Any) -> None:
    """Start ``session``'s transaction as a writer, before it reads anything.

    Every write ends by appending to the audit chain, which admits one writer at a time; the
    writer's place is taken here, first: SQLite ``BEGIN IMMEDIATE``, PostgreSQL a row lock on
    the chain head (``SELECT ... FOR UPDATE``). Taking it first rather than at the first flush
    means two writers can never hold row locks the other one waits for (no deadlock).
    """
    conn = session.connection(execution_options={WRITE_OPTION: True})
    if conn.dialect.name != "sqlite":
        conn.execute(select(AuditHead.seq).where(AuditHead.id == 1).with_for_update())


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    """A session factory whose sessions write every change to the audit trail."""
    from hcctrial.web.audit import install_audit_hooks

    factory = sessionmaker(bind=engine, expire_on_commit=False)
    install_audit_hooks(factory)
    return factory


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Create or migrate the database at ``url`` to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")
