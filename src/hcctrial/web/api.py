"""The JSON API (OpenAPI at ``/openapi.json``, interactive docs switched off: no outside
resources). Every endpoint checks the user's role and site; another site's subject answers 404.
Bad input answers 422 with one message per field (``detail: [{loc, msg, type}]``)."""

# No ``from __future__ import annotations`` here: the per-domain routes are made in a loop and
# FastAPI must see each form class itself, not its name.

import io
import json
import tempfile
import zipfile
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi import Query as QueryParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hcctrial.io import write_study
from hcctrial.web import service
from hcctrial.web.audit import verify_chain
from hcctrial.web.auth import (
    MAX_FAILURES,
    Principal,
    TooManyAttemptsError,
    add_user,
    authenticate,
    change_password,
    create_api_token,
    create_web_session,
    end_web_session,
    failures_of,
    record_failed_attempt,
    verify_password,
)
from hcctrial.web.checks import FORMS, MAX_ID, StrictModel, model_problems
from hcctrial.web.db import (
    ApiToken,
    AuditEntry,
    Query,
    QueryMessage,
    Record,
    Site,
    Study,
    Subject,
    User,
    begin_write,
    utcnow,
)
from hcctrial.web.deps import (
    COOKIE,
    RowId,
    TransactionRoute,
    current_principal,
    db_session,
    load_query,
    load_record,
    load_subject,
    require,
    subject_json,
)
from hcctrial.web.derived import calendar_status, subject_calendar, subject_eligibility
from hcctrial.web.export import export_study

router = APIRouter(prefix="/api", route_class=TransactionRoute)


def principal_dep(request: Request, session: Session = Depends(db_session)) -> Principal:
    """FastAPI dependency: the authenticated user (see :func:`current_principal`)."""
    return current_principal(request, session)


async def json_body(request: Request) -> Any:
    """The request's JSON body as sent, for the routes that type-check it together with their
    edit checks (:func:`hcctrial.web.checks.model_problems`), so that every field's problem
    comes in one 422; a body that is not JSON, or sent as another content type, is a 422 as
    FastAPI's own."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not (kind == "application/json" or kind.endswith("+json")):
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("header", "content-type"),
                    "msg": f"the body must be JSON (application/json), not {kind}",
                }
            ]
        )
    raw = await request.body()
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        where = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", where), "msg": "JSON decode error"}]
        ) from None


#: Models of the bodies read by :func:`json_body`, for the OpenAPI components.
RAW_BODY_MODELS: list[type[BaseModel]] = []


def _body_of(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route reading :func:`json_body`: ``model``'s schema
    (added to the document's components by :func:`install_openapi`)."""
    if model not in RAW_BODY_MODELS:
        RAW_BODY_MODELS.append(model)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def install_openapi(app: FastAPI) -> None:
    """Add the schemas of :data:`RAW_BODY_MODELS` (and the models they use) to the app's
    OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in RAW_BODY_MODELS:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in schema.pop("$defs", {}).items():
                    schemas.setdefault(name, sub)
                schemas[model.__name__] = schema
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _Body(StrictModel):
    pass


class LoginBody(_Body):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class MembershipBody(_Body):
    role: Literal["admin", "investigator", "coordinator", "monitor", "statistician", "auditor"]
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class UserBody(_Body):
    username: str = Field(min_length=1, max_length=80)
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=200)
    roles: list[MembershipBody] = Field(min_length=1)


class TokenBody(_Body):
    name: str = Field(min_length=1, max_length=80)


class PasswordBody(_Body):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200)


class SiteBody(_Body):
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$")
    name: str = Field(min_length=1, max_length=200)


class StudyBody(_Body):
    protocol: str = Field(min_length=1, description="built-in protocol id, or protocol YAML text")
    sites: list[SiteBody] = Field(min_length=1)
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    strata: dict[str, list[str]] | None = None
    per_stratum: int | None = Field(default=None, ge=1, le=100_000)


class SubjectBody(_Body):
    site_id: int = Field(ge=1, le=MAX_ID)
    subjid: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    sex: Literal["M", "F", "U", "UNDIFFERENTIATED"]
    birth_dtc: str | None = Field(default=None, max_length=10)
    race: str | None = Field(default=None, max_length=80)
    ethnic: str | None = Field(default=None, max_length=80)
    country: str | None = Field(default=None, max_length=3)
    screened_dtc: str = Field(min_length=10, max_length=10)
    usubjid: str | None = Field(default=None, max_length=80, pattern=r"^[A-Za-z0-9-]+$")


class TransitionDetail(_Body):
    arm: str | None = Field(default=None, max_length=40, description="assigned: the arm id")
    dose_level: str | None = Field(default=None, max_length=40, description="assigned")
    strata: dict[str, str] | None = Field(
        default=None, max_length=20, description="randomized: factor -> level"
    )
    dsdecod: str | None = Field(
        default=None, max_length=60, description="off_study: CDISC NCOMPLT term"
    )
    dsterm: str | None = Field(default=None, max_length=200, description="off_study, died")


class TransitionBody(_Body):
    to: Literal[
        "consented",
        "eligible",
        "ineligible",
        "enrolled",
        "randomized",
        "assigned",
        "treated",
        "off_treatment",
        "off_study",
        "died",
    ]
    date: str = Field(min_length=4, max_length=19)
    detail: TransitionDetail | None = None
    reason: str | None = Field(default=None, max_length=500)


class RecordChangeBody(_Body):
    data: dict[str, Any]
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="why the saved data change (required: 21 CFR 11.10(e); a missing reason "
        "is reported with the data's problems)",
    )
    version: int = Field(ge=1, le=MAX_ID)


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=500)


class SignBody(_Body):
    password: str = Field(min_length=1, max_length=200)
    meaning: Literal["review", "approval", "responsibility", "authorship"]


class QueryBody(_Body):
    text: str = Field(min_length=1, max_length=2000)
    record_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    field: str | None = Field(default=None, max_length=40)


class QueryActionBody(_Body):
    text: str = Field(min_length=1, max_length=2000)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's
    page sends it), ``Secure`` behind HTTPS (``hcctrial serve --secure-cookies``)."""
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.secure_cookies),
        path="/",
    )


def password_login(request: Request, username: str, password: str) -> tuple[User, str, str]:
    """Check a password login in its own transaction (the attempt is kept even when the login
    fails); returns the user, the session cookie token and the CSRF token. 401 wrong, 429
    rate-limited."""
    with request.app.state.sessions() as session:
        begin_write(session)
        try:
            user = authenticate(session, username, password, _client(request))
        except TooManyAttemptsError:
            session.rollback()
            raise HTTPException(429, "too many failed logins; try again later") from None
        if user is None:
            session.commit()
            raise HTTPException(401, "wrong user name or password")
        session.info["user"] = user.username
        token, csrf = create_web_session(session, user)
        session.commit()
    return user, token, csrf


@router.post("/login", tags=["auth"])
def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    """Password login; sets the session cookie and returns the CSRF token (send it back in the
    ``X-CSRF-Token`` header of every state-changing request made with the cookie)."""
    user, token, csrf = password_login(request, body.username, body.password)
    set_session_cookie(request, response, token)
    return {
        "csrf_token": csrf,
        "username": user.username,
        "must_change_password": bool(user.must_change_password),
    }


@router.post("/password", tags=["auth"])
def new_password(
    body: PasswordBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, str]:
    """Change the password (required first after a one-time password)."""
    user = session.get(User, principal.user_id)
    assert user is not None
    change_password(session, user, body.current_password, body.new_password)
    return {"status": "password changed"}


@router.post("/logout", tags=["auth"])
def logout(
    request: Request,
    response: Response,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, str]:
    """End the browser session."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        end_web_session(session, cookie)
    response.delete_cookie(COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/me", tags=["auth"])
def me(principal: Principal = Depends(principal_dep)) -> dict[str, Any]:
    """Who is logged in, with roles and sites."""
    return {
        "username": principal.username,
        "full_name": principal.full_name,
        "memberships": [{"role": r, "site_id": s} for r, s in principal.memberships],
    }


@router.post("/tokens", tags=["auth"], status_code=201)
def new_token(
    body: TokenBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """A new API token for scripts (shown once; only its SHA-256 is kept)."""
    user = session.get(User, principal.user_id)
    assert user is not None
    token = create_api_token(session, user, body.name)
    row = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).first()
    return {"id": row.id if row else None, "token": token}


@router.get("/tokens", tags=["auth"])
def list_tokens(
    principal: Principal = Depends(principal_dep), session: Session = Depends(db_session)
) -> list[dict[str, Any]]:
    """The user's own API tokens (names and dates, never the tokens)."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id)
    )
    return [
        {
            "id": t.id,
            "name": t.name,
            "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in rows
    ]


@router.post("/tokens/{token_id}/revoke", tags=["auth"])
def revoke_token(
    token_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Revoke one of the user's own API tokens (it stops working at once)."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.user_id:
        raise HTTPException(404, "token not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return {"id": row.id, "revoked": True}


@router.post("/users", tags=["admin"], status_code=201)
def new_user(
    body: UserBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Create a user with roles at sites (admin)."""
    require(principal, "users.manage")
    for m in body.roles:
        if m.site_id is not None and session.get(Site, m.site_id) is None:
            raise HTTPException(422, [{"loc": ["body", "roles"], "msg": "unknown site"}])
    user = add_user(
        session,
        body.username,
        body.full_name,
        body.password,
        [(m.role, m.site_id) for m in body.roles],
    )
    return {"id": user.id, "username": user.username}


@router.post("/studies", tags=["admin"], status_code=201)
def new_study(
    body: StudyBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Set up a study (or a new protocol version) from a protocol; makes the randomization list."""
    require(principal, "study.setup")
    text = body.protocol if "\n" in body.protocol else service.protocol_source(body.protocol)
    study = service.setup_study(
        session,
        text,
        [(s.code, s.name) for s in body.sites],
        seed=body.seed,
        strata=body.strata,
        per_stratum=body.per_stratum,
    )
    return {"id": study.id, "protocol_id": study.protocol_id}


@router.get("/studies", tags=["studies"])
def list_studies(
    principal: Principal = Depends(principal_dep), session: Session = Depends(db_session)
) -> list[dict[str, Any]]:
    """Studies with the sites the user may see (admins: every site, to manage accounts)."""
    visible = None if principal.can("study.setup") else principal.sites("subject.read")
    out = []
    for study in session.scalars(select(Study).order_by(Study.id)):
        sites = session.scalars(select(Site).where(Site.study_id == study.id).order_by(Site.code))
        out.append(
            {
                "id": study.id,
                "protocol_id": study.protocol_id,
                "title": study.title,
                "enrolment_target": study.enrolment_target,
                "sites": [
                    {"id": s.id, "code": s.code, "name": s.name}
                    for s in sites
                    if visible is None or s.id in visible
                ],
            }
        )
    return out


def dashboard_counts(session: Session, principal: Principal, study_id: int) -> dict[str, Any]:
    """Enrolment against target and subjects by state, open queries (the user's sites)."""
    study = session.get(Study, study_id)
    if study is None:
        raise HTTPException(404, "study not found")
    require(principal, "subject.read")
    sites = principal.sites("subject.read")
    base = select(Subject.state, func.count()).where(Subject.study_id == study_id)
    if sites is not None:
        base = base.where(Subject.site_id.in_(sites))
    by_state = {state: n for state, n in session.execute(base.group_by(Subject.state)).all()}
    queries = (
        select(func.count())
        .select_from(Query)
        .join(Subject, Subject.id == Query.subject_id)
        .where(Subject.study_id == study_id, Query.status != "closed")
    )
    if sites is not None:
        queries = queries.where(Subject.site_id.in_(sites))
    # enrolled = has an enrolment date, the rule of the dashboard page (web/dashboard.py): a
    # subject who left or died before enrolment is a screen failure, whatever the state
    enrolled_q = select(func.count()).where(
        Subject.study_id == study_id, Subject.enrolled_dtc.is_not(None)
    )
    if sites is not None:
        enrolled_q = enrolled_q.where(Subject.site_id.in_(sites))
    enrolled = session.scalar(enrolled_q) or 0
    return {
        "study": study.protocol_id,
        "title": study.title,
        "enrolment_target": study.enrolment_target,
        "enrolled": enrolled,
        "subjects_by_state": by_state,
        "open_queries": session.scalar(queries) or 0,
    }


@router.get("/studies/{study_id}/dashboard", tags=["studies"])
def dashboard(
    study_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Study dashboard counts for the user's sites."""
    return dashboard_counts(session, principal, study_id)


@router.get("/studies/{study_id}/export", tags=["studies"])
def export(
    study_id: RowId,
    format: Literal["csv", "xpt"] = "csv",
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> Response:
    """The study as SDTM domains (CSV, or SAS transport XPT v5) in a zip, the files every
    ``hcctrial`` command reads (statistician; the sites the user may see)."""
    require(principal, "export")
    if session.get(Study, study_id) is None:
        raise HTTPException(404, "study not found")
    data = export_study(session, study_id, site_ids=principal.sites("export"))
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="hcctrial-export-") as folder:
        written = write_study(data, folder, format=format)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, path.name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="study-{study_id}-{stamp}.zip"'}
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)


@router.get("/subjects", tags=["subjects"])
def list_subjects(
    study_id: Annotated[int | None, QueryParam(ge=1, le=MAX_ID)] = None,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    """Subjects of the user's sites."""
    require(principal, "subject.read")
    sites = principal.sites("subject.read")
    query = select(Subject).order_by(Subject.usubjid)
    if study_id is not None:
        query = query.where(Subject.study_id == study_id)
    if sites is not None:
        query = query.where(Subject.site_id.in_(sites))
    return [subject_json(s) for s in session.scalars(query)]


@router.post("/subjects", tags=["subjects"], status_code=201, openapi_extra=_body_of(SubjectBody))
def new_subject(
    principal: Principal = Depends(principal_dep),
    body: Any = Depends(json_body),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Register a screened subject at a site of the user (a 422 lists every field's problem:
    types, dates, a subject number already taken)."""
    data, problems = model_problems(SubjectBody, body)
    site = session.get(Site, data["site_id"]) if "site_id" in data else None
    if "site_id" in data and (site is None or not principal.can("subject.write", site.id)):
        raise HTTPException(403, "you cannot register subjects at this site")
    taken = {p.field.split(".")[0] for p in problems}
    problems += [p for p in service.subject_problems(session, site, data) if p.field not in taken]
    if problems:
        raise service.EditCheckFailed(problems)
    assert site is not None
    subject = service.create_subject(session, site, data, principal.username)
    return subject_json(subject)


@router.get("/subjects/{subject_id}", tags=["subjects"])
def get_subject(
    subject_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """One subject (404 for another site's subject)."""
    return subject_json(load_subject(session, principal, subject_id))


@router.post(
    "/subjects/{subject_id}/transitions",
    tags=["subjects"],
    openapi_extra=_body_of(TransitionBody),
)
def subject_transition(
    subject_id: RowId,
    principal: Principal = Depends(principal_dep),
    body: Any = Depends(json_body),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Move the subject through the state machine (eligibility: investigators only). A 422
    lists every problem: the body's types, the state machine, the date, the details."""
    data, problems = model_problems(TransitionBody, body)
    to = data.get("to") if isinstance(data.get("to"), str) else None
    permission = "eligibility.sign" if to in ("eligible", "ineligible") else "subject.write"
    subject = load_subject(session, principal, subject_id, permission)
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    if problems:
        date = data.get("date") if isinstance(data.get("date"), str) else None
        taken = {p.field.split(".")[0] for p in problems}
        found = service.transition_problems(session, subject, to, date, dict(detail or {}))
        raise service.EditCheckFailed(problems + [p for p in found if p.field not in taken])
    if data.get("reason"):
        session.info["reason"] = data["reason"]
    service.transition(session, subject, data["to"], data["date"], principal.username, detail)
    return subject_json(subject)


@router.get("/subjects/{subject_id}/eligibility", tags=["subjects"])
def eligibility(
    subject_id: RowId,
    as_of: str | None = None,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """The screening engine's decision, criterion by criterion."""
    subject = load_subject(session, principal, subject_id)
    try:
        day = datetime.fromisoformat(as_of).date() if as_of else datetime.now(UTC).date()
    except ValueError:
        raise HTTPException(422, [{"loc": ["query", "as_of"], "msg": "not a date"}]) from None
    decision = subject_eligibility(session, subject, day)
    return {
        "decision": decision.decision,
        "detail": decision.detail,
        "criteria": [
            {
                "id": r.criterion.id,
                "kind": r.criterion.kind,
                "status": r.status,
                "effect": r.effect,
                "why": r.reason,
            }
            for r in decision.results
        ],
    }


@router.get("/subjects/{subject_id}/calendar", tags=["subjects"])
def calendar(
    subject_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Planned visits from the protocol schedule (from the first treatment), each with its
    status today: done (a record names the visit, or is dated in its window), overdue,
    window open or planned."""
    subject = load_subject(session, principal, subject_id)
    table, why = subject_calendar(session, subject)
    if table is None:
        return {"visits": [], "reason": why}
    records = list(
        session.scalars(
            select(Record)
            .where(Record.subject_id == subject.id, Record.status == "active")
            .order_by(Record.id)
        )
    )
    today = datetime.now(UTC).date()
    cols = ("VISIT", "EVENT", "PLANDT", "WINLODT", "WINHIDT", "STATUS")
    return {
        "visits": [
            {k: str(row[k]) for k in cols if k in row}
            for row in calendar_status(table, subject, records, today, limit=None)
        ]
    }


def _record_json(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "domain": record.domain,
        "data": record.data,
        "status": record.status,
        "version": record.version,
        "locked": record.locked,
        "signed_by": record.signed_by,
        "signed_at": record.signed_at.isoformat() if record.signed_at else None,
        "signature_meaning": record.signature_meaning,
        "created_by": record.created_by,
    }


@router.get("/subjects/{subject_id}/records", tags=["records"])
def list_records(
    subject_id: RowId,
    domain: str | None = None,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    """The subject's records (optionally one domain)."""
    subject = load_subject(session, principal, subject_id)
    query = select(Record).where(Record.subject_id == subject.id).order_by(Record.id)
    if domain:
        query = query.where(Record.domain == domain.upper())
    return [_record_json(r) for r in session.scalars(query)]


def _make_entry_route(domain: str, form: type[BaseModel]) -> None:
    def enter(
        subject_id: RowId,
        principal: Principal = Depends(principal_dep),
        body: Any = Depends(json_body),
        session: Session = Depends(db_session),
    ) -> dict[str, Any]:
        subject = load_subject(session, principal, subject_id, "subject.write")
        record = service.save_record(session, subject, domain, body, principal.username)
        return _record_json(record)

    enter.__doc__ = (
        f"Enter one {domain} record ({form.__doc__ or ''}). The body is checked field by field "
        "and by the edit checks at once: a 422 lists every problem."
    )
    router.add_api_route(
        f"/subjects/{{subject_id}}/records/{domain}",
        enter,
        methods=["POST"],
        status_code=201,
        tags=["records"],
        name=f"enter_{domain.lower()}",
        openapi_extra=_body_of(form),
    )


for _domain, _form in FORMS.items():
    _make_entry_route(_domain, _form)


@router.get("/records/{record_id}", tags=["records"])
def get_record(
    record_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """One record with its version (send the version back with a change)."""
    record, _ = load_record(session, principal, record_id)
    return _record_json(record)


@router.put("/records/{record_id}", tags=["records"])
def change_record(
    record_id: RowId,
    body: RecordChangeBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Change saved data: needs the reason and the version read (409 when stale)."""
    record, subject = load_record(session, principal, record_id, "subject.write")
    if body.reason:
        session.info["reason"] = body.reason
    service.save_record(
        session,
        subject,
        record.domain,
        body.data,
        principal.username,
        record=record,
        expected_version=body.version,
    )
    return _record_json(record)


@router.post("/records/{record_id}/delete", tags=["records"])
def delete_record(
    record_id: RowId,
    body: ReasonBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Mark a record deleted (kept with its history)."""
    record, _ = load_record(session, principal, record_id, "subject.write")
    session.info["reason"] = body.reason
    service.delete_record(session, record)
    return _record_json(record)


@router.post("/records/{record_id}/sign", tags=["records"])
def sign_record(
    record_id: RowId,
    body: SignBody,
    request: Request,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Lock and sign a record: the investigator re-enters the password (21 CFR 11.200); the
    signature shows the printed name, date and time and meaning (21 CFR 11.50). A wrong
    password counts as a failed login."""
    record, _ = load_record(session, principal, record_id, "record.sign")
    user = session.get(User, principal.user_id)
    assert user is not None
    if failures_of(session, user.username) >= MAX_FAILURES:
        raise HTTPException(429, "too many wrong passwords; try again later")
    if not verify_password(user.password_hash, body.password):
        session.rollback()  # give up the writer's place before recording the attempt
        with request.app.state.sessions() as attempts:
            begin_write(attempts)
            record_failed_attempt(attempts, user.username, f"signature:{_client(request)}")
            attempts.commit()
        raise HTTPException(401, "wrong password; the record was not signed")
    session.info["reason"] = f"signature: {body.meaning}"
    service.sign_record(session, record, user.full_name, body.meaning)
    return _record_json(record)


def _query_json(session: Session, query: Query) -> dict[str, Any]:
    messages = session.scalars(
        select(QueryMessage).where(QueryMessage.query_id == query.id).order_by(QueryMessage.id)
    )
    return {
        "id": query.id,
        "subject_id": query.subject_id,
        "record_id": query.record_id,
        "field": query.field,
        "status": query.status,
        "origin": query.origin,
        "text": query.text,
        "history": [
            {"action": m.action, "text": m.text, "by": m.by_user, "at": m.at.isoformat()}
            for m in messages
        ],
    }


@router.post("/subjects/{subject_id}/queries", tags=["queries"], status_code=201)
def new_query(
    subject_id: RowId,
    body: QueryBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Open a query (monitor)."""
    subject = load_subject(session, principal, subject_id, "query.open")
    query = service.open_query(
        session, subject, body.text, principal.username, record_id=body.record_id, field=body.field
    )
    return _query_json(session, query)


@router.get("/subjects/{subject_id}/queries", tags=["queries"])
def list_queries(
    subject_id: RowId,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    """The subject's queries with their history."""
    subject = load_subject(session, principal, subject_id)
    queries = session.scalars(
        select(Query).where(Query.subject_id == subject.id).order_by(Query.id)
    )
    return [_query_json(session, q) for q in queries]


@router.post("/queries/{query_id}/{action}", tags=["queries"])
def query_action(
    query_id: RowId,
    action: Literal["answer", "close", "reopen"],
    body: QueryActionBody,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    """Answer (site staff), close or reopen (monitor) a query."""
    permission = "query.answer" if action == "answer" else "query.close"
    query, _ = load_query(session, principal, query_id, permission)
    service.act_on_query(session, query, action, body.text, principal.username)
    return _query_json(session, query)


@router.get("/audit", tags=["audit"])
def audit_trail(
    after: Annotated[int, QueryParam(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, QueryParam(ge=1, le=1000)] = 100,
    principal: Principal = Depends(principal_dep),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    """Audit entries after sequence number ``after`` (auditors with access to every site)."""
    if principal.sites("audit.read") is not None:
        raise HTTPException(403, "the audit trail is open to auditors of every site")
    limit = max(1, min(limit, 1000))
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
    )
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "user": e.user,
            "action": e.action,
            "table": e.table_name,
            "row_id": e.row_id,
            "changes": e.changes,
            "reason": e.reason,
            "hash": e.hash,
        }
        for e in rows
    ]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(
    request: Request,
    principal: Principal = Depends(principal_dep),
) -> dict[str, Any]:
    """Recompute the audit trail's hash chain (as ``hcctrial audit verify``; auditors)."""
    if principal.sites("audit.read") is not None:
        raise HTTPException(403, "the audit trail is open to auditors of every site")
    check = verify_chain(request.app.state.engine)
    return {"ok": check.ok, "entries": check.entries, "problems": check.problems}
