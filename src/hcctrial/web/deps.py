"""Request plumbing shared by the JSON API and the pages: the database session of a request,
the authenticated user, CSRF checks, and site-scoped loading of subjects and records."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from hcctrial.web.auth import Principal, principal_from_session, principal_from_token
from hcctrial.web.db import Query, Record, Subject

__all__ = [
    "COOKIE",
    "SAFE_METHODS",
    "current_principal",
    "db_session",
    "load_record",
    "load_subject",
    "require",
]

COOKIE = "hcctrial_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session(request: Request) -> Iterator[Session]:
    """One database session per request: committed on success, rolled back on any error."""
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    for the audit trail.
    """
    principal, by_cookie = _authenticate(request, session)
    if principal is None:
        raise HTTPException(401, "not logged in", headers={"WWW-Authenticate": "Bearer"})
    if by_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token") or form_csrf or ""
        if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
            raise HTTPException(403, "missing or wrong CSRF token")
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
