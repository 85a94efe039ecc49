"""Server-rendered pages (Jinja2, plain HTML forms, no scripts, no outside resources): login,
studies dashboard, subject page (eligibility, calendar, labs, queries) and the lab entry form
with inline validation messages. The same rules as the API apply (roles, sites, CSRF, audit)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hcctrial.web import service
from hcctrial.web.auth import Principal, end_web_session
from hcctrial.web.dashboard import LIST_LIMIT, study_dashboard
from hcctrial.web.db import Query, QueryMessage, Record, Study, Subject
from hcctrial.web.deps import (
    COOKIE,
    RowId,
    TransactionRoute,
    current_principal,
    db_session,
    load_subject,
)
from hcctrial.web.derived import subject_derived

router = APIRouter(include_in_schema=False, route_class=TransactionRoute)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: The lab form's fields: (SDTM name, label, input type).
LAB_FIELDS = (
    ("LBTESTCD", "Test code (e.g. PLT, BILI, ALB)", "text"),
    ("LBORRES", "Result", "text"),
    ("LBORRESU", "Unit (as reported)", "text"),
    ("LBORNRLO", "Normal range, lower limit", "text"),
    ("LBORNRHI", "Normal range, upper limit", "text"),
    ("LBDTC", "Date of collection (YYYY-MM-DD)", "text"),
    ("VISIT", "Visit", "text"),
)


def page_principal(request: Request, session: Session, csrf: str | None = None) -> Principal:
    try:
        return current_principal(request, session, form_csrf=csrf)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise _LoginRedirect() from None
        raise


class _LoginRedirect(HTTPException):
    def __init__(self) -> None:
        super().__init__(303, "log in first", headers={"Location": "/login"})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The login form."""
    return templates.TemplateResponse(request, "login.html", {"principal": None})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    """Check the password; on success set the session cookie and go to the studies page."""
    from hcctrial.web.api import password_login, set_session_cookie

    form = await request.form()
    username = str(form.get("username", "")).replace("\x00", "")[:80]
    password = str(form.get("password", ""))[:200]
    try:
        user, token, _ = await run_in_threadpool(password_login, request, username, password)
    except HTTPException as exc:
        error = {
            429: "Too many failed logins; try again later.",
            401: "Wrong user name or password.",
        }.get(exc.status_code, str(exc.detail))
        context = {"principal": None, "error": error, "username": username}
        return templates.TemplateResponse(
            request, "login.html", context, status_code=exc.status_code
        )
    response = RedirectResponse("/password" if user.must_change_password else "/", status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
async def logout_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    """End the session (CSRF-checked)."""
    form = await request.form()
    page_principal(request, session, str(form.get("csrf_token", "")))
    cookie = request.cookies.get(COOKIE)
    if cookie:
        end_web_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Session = Depends(db_session)) -> Response:
    """The study dashboard: per study, over the user's sites, enrolment against target per
    study and site, CONSORT counts, overdue and upcoming visits, open queries, unresolved AEs
    and CRS/ICANS (:func:`hcctrial.web.dashboard.study_dashboard`), and the subjects."""
    principal = page_principal(request, session)
    studies = []
    sites = principal.sites("subject.read")
    today = datetime.now(UTC).date()
    for study in session.scalars(select(Study).order_by(Study.id)):
        item: dict[str, Any] = {"id": study.id, "protocol_id": study.protocol_id}
        item["title"] = study.title
        if principal.can("subject.read"):
            item["dashboard"] = study_dashboard(session, study, sites, today)
        studies.append(item)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "principal": principal,
            "studies": studies,
            "today": today,
            "list_limit": LIST_LIMIT,
            "can_register": principal.can("subject.write"),
        },
    )


#: state -> the states a subject may move to next, in the order the page offers them.
NEXT_STATES = {
    state: [to for to, sources in service.TRANSITIONS.items() if state in sources]
    for state in (
        "screened",
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
    )
}


def render_subject(
    request: Request,
    session: Session,
    principal: Principal,
    subject: Subject,
    *,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    """The subject page: state and next steps, the derived results (eligibility, calendar,
    response, CTCAE grades, CRS/ICANS, DLT; cached by the subject's data version), records
    and queries."""
    derived = subject_derived(session, subject, datetime.now(UTC).date())
    records = list(
        session.scalars(
            select(Record)
            .where(Record.subject_id == subject.id, Record.status == "active")
            .order_by(Record.id)
        )
    )
    queries = list(
        session.scalars(select(Query).where(Query.subject_id == subject.id).order_by(Query.id))
    )
    history = {
        q.id: list(
            session.scalars(
                select(QueryMessage).where(QueryMessage.query_id == q.id).order_by(QueryMessage.id)
            )
        )
        for q in queries
    }
    site = subject.site_id
    context = {
        "principal": principal,
        "subject": subject,
        "derived": derived,
        "eligibility": derived.eligibility,
        "calendar": derived.calendar,
        "calendar_reason": derived.calendar_reason,
        "records": records,
        "queries": queries,
        "history": history,
        "next_states": NEXT_STATES.get(subject.state, []),
        "today": datetime.now(UTC).date().isoformat(),
        "can_write": principal.can("subject.write", site),
        "can_sign": principal.can("record.sign", site),
        "can_open_query": principal.can("query.open", site),
        "can_answer": principal.can("query.answer", site),
        "can_close": principal.can("query.close", site),
        "can_eligibility": principal.can("eligibility.sign", site),
        "error": error,
        "done": done,
        "dispositions": service.DISPOSITION_TERMS,
        "form_titles": {
            "FINDINGS": "Screening findings",
            "LB": "Lab result",
            "TU": "Lesion",
            "TR": "Lesion measurement",
            "AE": "Adverse event",
            "VS": "Vital sign",
            "EX": "Dose given",
        },
    }
    return templates.TemplateResponse(request, "subject.html", context, status_code=status)


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(
    subject_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """One subject: state, eligibility, calendar, records and queries, with the forms."""
    principal = page_principal(request, session)
    subject = load_subject(session, principal, subject_id)
    done = request.query_params.get("done")
    return render_subject(request, session, principal, subject, done=done[:40] if done else None)


def _lab_page(
    request: Request,
    principal: Principal,
    subject: Subject,
    values: dict[str, str],
    errors: dict[str, str],
    saved: bool = False,
) -> Response:
    context = {
        "principal": principal,
        "subject": subject,
        "fields": LAB_FIELDS,
        "values": values,
        "errors": errors,
        "saved": saved,
    }
    return templates.TemplateResponse(
        request, "lab_form.html", context, status_code=422 if errors else 200
    )


@router.get("/subjects/{subject_id}/lab", response_class=HTMLResponse)
def lab_form(
    subject_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """The empty lab entry form."""
    principal = page_principal(request, session)
    subject = load_subject(session, principal, subject_id, "subject.write")
    return _lab_page(request, principal, subject, {}, {})


@router.post("/subjects/{subject_id}/lab", response_class=HTMLResponse)
async def lab_submit(
    subject_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Save a lab result, or show the form again with a message beside each wrong field."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    subject = load_subject(session, principal, subject_id, "subject.write")
    values = {name: str(form.get(name, "")).strip() for name, _, _ in LAB_FIELDS}
    payload: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    try:
        service.save_record(session, subject, "LB", payload, principal.username)
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "form": e["msg"] for e in exc.errors()}
        return _lab_page(request, principal, subject, values, errors)
    except service.EditCheckFailed as exc:
        return _lab_page(
            request, principal, subject, values, {p.field: p.message for p in exc.problems}
        )
    return _lab_page(request, principal, subject, {}, {}, saved=True)
