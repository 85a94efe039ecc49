"""Users, passwords, sessions, API tokens, login rate limiting and role/site permissions.

- Passwords: argon2id (RFC 9106) with argon2-cffi's defaults (the RFC's low-memory profile).
- Sessions: a random 256-bit token in an HttpOnly, SameSite=Strict cookie; only its SHA-256 is
  stored. Each session has a CSRF token that state-changing requests made with the cookie must
  send back (header ``X-CSRF-Token`` or form field ``csrf_token``): the synchronizer-token
  pattern of the OWASP CSRF Prevention Cheat Sheet.
- API tokens for scripts (``Authorization: Bearer hct_...``), stored as SHA-256, revocable.
- Login rate limiting: after :data:`MAX_FAILURES` consecutive failed logins of one user name
  within :data:`FAILURE_WINDOW` (a success resets the count), or :data:`MAX_CLIENT_FAILURES`
  failures from one client address over any user names (password spraying), further attempts
  are refused (HTTP 429) until the window passes; NIST SP 800-63B section 5.2.2 asks for at
  most 100 consecutive failures, OWASP's Authentication Cheat Sheet for a small threshold with
  a time-based release. A wrong password at a signature counts as a failed login.
- One-time passwords (the first admin's, ``hcctrial users add`` without a password) must be
  replaced at the first login before anything else is allowed.
- Permissions: a membership gives a role at one site or (``site_id`` null) at every site; a
  permission is granted by roles (:data:`PERMISSIONS`) and scoped to the sites of those
  memberships.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hcctrial.errors import InputError
from hcctrial.web.db import (
    ROLES,
    ApiToken,
    LoginAttempt,
    Membership,
    User,
    WebSession,
    utcnow,
)

__all__ = [
    "FAILURE_WINDOW",
    "MAX_CLIENT_FAILURES",
    "MAX_FAILURES",
    "PERMISSIONS",
    "Principal",
    "add_user",
    "authenticate",
    "change_password",
    "check_password_rules",
    "create_api_token",
    "create_web_session",
    "failures_of",
    "hash_password",
    "principal_from_session",
    "principal_from_token",
    "record_failed_attempt",
    "verify_password",
]

MAX_FAILURES = 5
MAX_CLIENT_FAILURES = 50
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)

#: Permission -> roles that hold it (ICH E6(R3) section 3 responsibilities: investigators and
#: their delegated coordinators enter data and sign eligibility, monitors raise and close
#: queries, statisticians export, auditors read the audit trail, admins manage accounts).
PERMISSIONS: dict[str, frozenset[str]] = {
    "subject.read": frozenset(
        {"investigator", "coordinator", "monitor", "statistician", "auditor"}
    ),
    "subject.write": frozenset({"investigator", "coordinator"}),
    "eligibility.sign": frozenset({"investigator"}),
    "record.sign": frozenset({"investigator"}),
    "query.open": frozenset({"monitor"}),
    "query.answer": frozenset({"investigator", "coordinator"}),
    "query.close": frozenset({"monitor"}),
    "audit.read": frozenset({"auditor"}),
    "export": frozenset({"statistician"}),
    "users.manage": frozenset({"admin"}),
    "study.setup": frozenset({"admin"}),
}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string format)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Principal:
    """The authenticated user and what they may do where."""

    user_id: int
    username: str
    full_name: str
    memberships: list[tuple[str, int | None]] = field(default_factory=list)
    csrf_token: str | None = None
    must_change_password: bool = False

    @property
    def roles(self) -> set[str]:
        """Every role the user holds."""
        return {role for role, _ in self.memberships}

    def sites(self, permission: str) -> set[int] | None:
        """Site ids where ``permission`` holds; ``None`` means every site."""
        allowed = PERMISSIONS[permission]
        sites: set[int] = set()
        for role, site in self.memberships:
            if role in allowed:
                if site is None:
                    return None
                sites.add(site)
        return sites

    def can(self, permission: str, site_id: int | None = None) -> bool:
        """True when the user has ``permission`` (at ``site_id`` when given)."""
        sites = self.sites(permission)
        if sites is None:
            return True
        if site_id is None:
            return bool(sites)
        return site_id in sites


def _principal(session: Session, user: User, csrf: str | None = None) -> Principal:
    rows = session.execute(
        select(Membership.role, Membership.site_id).where(Membership.user_id == user.id)
    ).all()
    return Principal(
        user.id,
        user.username,
        user.full_name,
        [(r, s) for r, s in rows],
        csrf,
        bool(user.must_change_password),
    )


def add_user(
    session: Session,
    username: str,
    full_name: str,
    password: str,
    roles: list[tuple[str, int | None]],
    *,
    one_time: bool = False,
) -> User:
    """Create a user with memberships ``(role, site_id or None)``; passwords need 12+ chars.

    ``one_time``: the password was generated and shown once; the user must replace it.
    """
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InputError("user name must be letters, digits, '.', '-' or '_'", value=username)
    check_password_rules(password, username)
    if not roles:
        raise InputError("a user needs at least one role", expected=", ".join(ROLES))
    for role, _ in roles:
        if role not in ROLES:
            raise InputError("unknown role", value=role, expected=", ".join(ROLES))
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise InputError("user already exists", value=username)
    user = User(
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
        must_change_password=one_time,
    )
    session.add(user)
    session.flush()
    session.add_all(Membership(user_id=user.id, role=r, site_id=s) for r, s in roles)
    session.flush()
    return user


class TooManyAttemptsError(Exception):
    """Login refused by the rate limit."""


def check_password_rules(password: str, username: str = "") -> None:
    """NIST SP 800-63B 5.1.1.2: at least 12 characters (the OWASP advice above the NIST floor
    of 8), at most 200, and not the user name."""
    if len(password) < 12:
        raise InputError("password too short", column="password", expected="at least 12 characters")
    if len(password) > 200:
        raise InputError("password too long", column="password", expected="at most 200 characters")
    if username and password.lower() == username.lower():
        raise InputError("password is the user name", column="password")


def _recent_failures(session: Session, username: str, client: str) -> tuple[int, int]:
    """(consecutive failures of ``username`` since its last success, failures from ``client``)
    within the window."""
    since = utcnow() - FAILURE_WINDOW
    last_ok = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True)
        )
    )
    # Failures after the last success (or the window's start, whichever is later).
    after = LoginAttempt.at >= since
    if last_ok is not None and last_ok >= since:
        after = LoginAttempt.at > last_ok
    by_user = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.success.is_(False), after)
    )
    by_client = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.client == client,
            LoginAttempt.success.is_(False),
            LoginAttempt.at >= since,
        )
    )
    return int(by_user or 0), int(by_client or 0)


def failures_of(session: Session, username: str) -> int:
    """Consecutive failed logins (and signatures) of ``username`` in the window."""
    return _recent_failures(session, username, "")[0]


def authenticate(session: Session, username: str, password: str, client: str) -> User | None:
    """Check a login; records the attempt. Raises :class:`TooManyAttemptsError` when limited."""
    username, client = username[:80], client[:80]
    by_user, by_client = _recent_failures(session, username, client)
    if by_user >= MAX_FAILURES or by_client >= MAX_CLIENT_FAILURES:
        raise TooManyAttemptsError(username)
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    ok = user is not None and verify_password(user.password_hash, password)
    if user is None:
        # Spend the same time as a real check so that user names cannot be probed by timing.
        verify_password(_DUMMY_HASH, password)
    session.add(LoginAttempt(username=username, client=client, success=ok))
    session.flush()
    return user if ok else None


def record_failed_attempt(session: Session, username: str, client: str) -> None:
    """Count a wrong password given elsewhere (a signature) as a failed login."""
    session.add(LoginAttempt(username=username[:80], client=client[:80], success=False))
    session.flush()


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Replace ``user``'s password after checking the current one (ends the one-time state)."""
    if not verify_password(user.password_hash, current):
        raise InputError("the current password is wrong", column="current_password")
    check_password_rules(new, user.username)
    if new == current:
        raise InputError("the new password is the current one", column="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.flush()


_DUMMY_HASH = hash_password("not a real password, only for constant-time refusals")


def create_web_session(session: Session, user: User) -> tuple[str, str]:
    """A new browser session for ``user``: returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            token_sha256=_sha256(token),
            csrf_token=csrf,
            expires_at=utcnow() + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token, csrf


def end_web_session(session: Session, token: str) -> None:
    """Log out: the session token stops working."""
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _sha256(token)))
    if row is not None:
        row.expires_at = utcnow()


def principal_from_session(session: Session, token: str) -> Principal | None:
    """The user of a live session cookie, or ``None``."""
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _sha256(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return _principal(session, user, row.csrf_token)


def create_api_token(session: Session, user: User, name: str) -> str:
    """A new API token for ``user`` (shown once; only its hash is kept)."""
    token = "hct_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_sha256=_sha256(token)))
    session.flush()
    return token


def principal_from_token(session: Session, token: str) -> Principal | None:
    """The user of an unrevoked API token, or ``None``."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return _principal(session, user)
