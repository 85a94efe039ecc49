"""Request plumbing shared by the JSON API and the pages: the database session of a request,
the authenticated user, CSRF checks, and site-scoped loading of subjects and records."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hcctrial.web.auth import Principal, principal_from_session, principal_from_token
from hcctrial.web.checks import MAX_ID
from hcctrial.web.db import Query, Record, Subject, begin_write

__all__ = [
    "COOKIE",
    "PASSWORD_PATHS",
    "SAFE_METHODS",
    "RowId",
    "TransactionRoute",
    "current_principal",
    "db_session",
    "load_record",
    "load_subject",
    "require",
]

COOKIE = "hcctrial_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a user whose password is a one-time password may still reach: choosing a new one.
PASSWORD_PATHS = frozenset({"/api/password", "/api/logout", "/api/me", "/password", "/logout"})


#: A row id in a path, of the API and the pages (a 32-bit positive integer: larger numbers are
#: no row of any table, and one beyond 64 bits cannot even be sent to SQLite): else a 422.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def db_session(request: Request) -> Session:
    """The database session of the request (one per request, shared by its dependencies).

    A state-changing request (not GET/HEAD/OPTIONS) starts as a writer
    (:func:`~hcctrial.web.db.begin_write`). The session is committed or rolled back by
    :class:`TransactionRoute` before the response leaves, so a client never sees a success
    for a change that was not committed.
    """
    session: Session | None = getattr(request.state, "db", None)
    if session is None:
        session = request.app.state.sessions()
        request.state.db = session
        if request.method not in SAFE_METHODS:
            begin_write(session)
    return session


def _finish(request: Request, commit: bool) -> None:
    session: Session | None = getattr(request.state, "db", None)
    if session is None:
        return
    request.state.db = None
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


class TransactionRoute(APIRoute):
    """A route whose database session is committed when the answer is a success (status below
    400) and rolled back otherwise, before the response is sent; a failed commit (a conflict)
    becomes the error answer instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except BaseException:
                await run_in_threadpool(_finish, request, False)
                raise
            await run_in_threadpool(_finish, request, response.status_code < 400)
            return response

        return run


def _authenticate(request: Request, session: Session) -> tuple[Principal | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return principal_from_token(session, header[7:].strip()), False
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return principal_from_session(session, cookie), True
    return None, False


def current_principal(
    request: Request, session: Session, form_csrf: str | None = None
) -> Principal:
    """The user of the request (API token or session cookie); 401 when there is none.

    A state-changing request authenticated by the cookie must carry the session's CSRF token
    (header ``X-CSRF-Token`` or the form field), else 403. The user name is put on the session
    for the audit trail. A user still holding a one-time password may only change it (403).
    """
    principal, by_cookie = _authenticate(request, session)
    if principal is None:
        raise HTTPException(401, "not logged in", headers={"WWW-Authenticate": "Bearer"})
    if by_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token") or form_csrf or ""
        if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
            raise HTTPException(403, "missing or wrong CSRF token")
    if principal.must_change_password and request.url.path not in PASSWORD_PATHS:
        raise HTTPException(403, "choose a new password first (POST /api/password)")
    session.info["user"] = principal.username
    return principal


def require(principal: Principal, permission: str, site_id: int | None = None) -> None:
    """403 unless ``principal`` holds ``permission`` (at ``site_id``)."""
    if not principal.can(permission, site_id):
        raise HTTPException(403, f"your roles do not allow {permission}")


def load_subject(
    session: Session, principal: Principal, subject_id: int, permission: str = "subject.read"
) -> Subject:
    """The subject if the user may read it, else 404 (another site's subject does not exist for
    the user); then 403 unless the user also holds ``permission`` at its site."""
    subject = session.get(Subject, subject_id)
    if subject is None or not principal.can("subject.read", subject.site_id):
        raise HTTPException(404, "subject not found")
    require(principal, permission, subject.site_id)
    return subject


def load_record(
    session: Session, principal: Principal, record_id: int, permission: str = "subject.read"
) -> tuple[Record, Subject]:
    """A record and its subject, with the subject's access rules."""
    record = session.get(Record, record_id)
    if record is None:
        raise HTTPException(404, "record not found")
    subject = session.get(Subject, record.subject_id)
    if subject is None or not principal.can("subject.read", subject.site_id):
        raise HTTPException(404, "record not found")
    require(principal, permission, subject.site_id)
    return record, subject


def load_query(
    session: Session, principal: Principal, query_id: int, permission: str
) -> tuple[Query, Subject]:
    """A query and its subject, with the subject's access rules."""
    query = session.get(Query, query_id)
    subject = None if query is None else session.get(Subject, query.subject_id)
    if query is None or subject is None or not principal.can("subject.read", subject.site_id):
        raise HTTPException(404, "query not found")
    require(principal, permission, subject.site_id)
    return query, subject


def subject_json(subject: Subject) -> dict[str, Any]:
    """The subject as the API shows it (the arm only once allocated)."""
    return {
        "id": subject.id,
        "usubjid": subject.usubjid,
        "subjid": subject.subjid,
        "site_id": subject.site_id,
        "study_id": subject.study_id,
        "study_version_id": subject.study_version_id,
        "sex": subject.sex,
        "birth_dtc": subject.birth_dtc,
        "state": subject.state,
        "screened_dtc": subject.screened_dtc,
        "consented_dtc": subject.consented_dtc,
        "eligibility": subject.eligibility,
        "eligibility_dtc": subject.eligibility_dtc,
        "eligibility_signed_by": subject.eligibility_signed_by,
        "enrolled_dtc": subject.enrolled_dtc,
        "randomized_dtc": subject.randomized_dtc,
        "arm_code": subject.arm_code,
        "dose_level": subject.dose_level,
        "first_treatment_dtc": subject.first_treatment_dtc,
        "off_treatment_dtc": subject.off_treatment_dtc,
        "off_study_dtc": subject.off_study_dtc,
        "death_dtc": subject.death_dtc,
        "version": subject.version,
    }
