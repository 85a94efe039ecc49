"""The web application: :func:`create_app` for a database URL, and the first-start admin.

Errors: the JSON API (``/api/...``) answers ``{"detail": ...}``; a page asked for by a browser
(any other path, ``Accept: text/html``) gets the error page ``error.html`` in the site's layout:
404 and 403 with the reason, 422 with one message per field, 500 with an error reference
(the traceback goes to the server log, never to the page)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hcctrial.errors import HcctrialError, InputError, InputErrors
from hcctrial.web.auth import add_user
from hcctrial.web.db import (
    Membership,
    User,
    begin_write,
    make_engine,
    make_sessionmaker,
    upgrade_database,
)
from hcctrial.web.service import EditCheckFailed, StaleVersionError

__all__ = ["create_app", "ensure_admin", "wants_html"]

log = logging.getLogger("hcctrial.web")

#: Title of the error page by HTTP status.
ERROR_TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    409: "Changed by someone else",
    422: "Not saved: check the fields",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "The database is busy",
}


def wants_html(request: Request) -> bool:
    """True for a browser asking for a page: not the JSON API nor a static file, and
    ``text/html`` in the ``Accept`` header."""
    path = request.url.path
    if path == "/api" or path.startswith(("/api/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def _field_of(loc: Any) -> str:
    """A pydantic/FastAPI location as a field name (``["body", "LBDTC"]`` -> ``LBDTC``)."""
    if not isinstance(loc, list | tuple):
        return str(loc or "")
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def _error_page(
    request: Request,
    status: int,
    detail: Any,
    *,
    headers: dict[str, str] | None = None,
    reference: str | None = None,
) -> Response:
    """The HTML error page of ``status``: the message, or one line per field of a list of
    ``{loc, msg}`` problems."""
    from hcctrial.web.pages import templates

    problems: list[tuple[str, str]] = []
    message = ""
    if isinstance(detail, list):
        for item in detail:
            if isinstance(item, dict):
                problems.append((_field_of(item.get("loc")), str(item.get("msg", ""))))
            else:
                problems.append(("", str(item)))
        message = "The request was refused:" if problems else ""
    else:
        message = str(detail)
    context = {
        "principal": None,
        "status": status,
        "title": ERROR_TITLES.get(status, "Error"),
        "message": message,
        "problems": problems,
        "reference": reference,
    }
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers
    )


def _answer(
    request: Request, status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """An error as the caller wants it: the HTML page for a browser's page request, else
    ``{"detail": ...}`` JSON."""
    if wants_html(request):
        return _error_page(request, status, detail, headers=headers)
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _problems_json(exc: HcctrialError) -> list[dict[str, object]]:
    """One ``{loc, msg, type}`` per problem, the column as the field when known."""
    if isinstance(exc, InputErrors):
        problems = exc.problems
    elif isinstance(exc, InputError):
        problems = [exc.problem]
    else:
        return [{"loc": ["body"], "msg": str(exc), "type": "input"}]
    out: list[dict[str, object]] = []
    for p in problems:
        text = p.message
        if p.value is not None:
            text += f" (got {p.value!r})"
        if p.expected:
            text += f"; expected {p.expected}"
        loc = ["body", p.column] if p.column else ["body"]
        out.append({"loc": loc, "msg": text, "type": "input"})
    return out


#: Headers of every answer: nothing is loaded from outside the machine (CSP), no framing, no
#: MIME sniffing, no referrer (OWASP Secure Headers Project).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNulMiddleware:
    """422 for a URL holding a NUL character (``%00``): no row is named by one, and PostgreSQL
    refuses it in text, so it never reaches a query. The answer is the one of every other bad
    input: the HTML error page for a browser's page request, else JSON (:func:`_answer`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
            query = scope.get("query_string", b"")
            path = scope.get("path", "")
            if b"%00" in raw or b"%00" in query or "\x00" in path:
                where = "query" if b"%00" in query and b"%00" not in raw else "path"
                detail = [{"loc": [where], "msg": "NUL character in the URL", "type": "value"}]
                response = _answer(Request(scope, receive), 422, detail)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code >= 400 and wants_html(request):
            return _error_page(
                request, exc.status_code, exc.detail, headers=getattr(exc, "headers", None)
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(EditCheckFailed)
    def _edit_check(request: Request, exc: EditCheckFailed) -> Response:
        detail = [
            {"loc": ["body", *p.field.split(".")], "msg": p.message, "type": p.kind}
            for p in exc.problems
        ]
        return _answer(request, 422, detail)

    @app.exception_handler(ValidationError)
    def _validation(request: Request, exc: ValidationError) -> Response:
        detail = [
            {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return _answer(request, 422, detail)

    @app.exception_handler(HcctrialError)
    def _input(request: Request, exc: HcctrialError) -> Response:
        return _answer(request, 422, _problems_json(exc))

    @app.exception_handler(StaleVersionError)
    def _stale(request: Request, exc: StaleVersionError) -> Response:
        return _answer(request, 409, str(exc), version=exc.current)

    @app.exception_handler(StaleDataError)
    def _stale_row(request: Request, exc: StaleDataError) -> Response:
        return _answer(request, 409, "changed by someone else; reload")

    @app.exception_handler(OperationalError)
    def _busy(request: Request, exc: OperationalError) -> Response:
        # The database is busy (a lock not granted in time) or unreachable: try again later.
        return _answer(request, 503, "the database is busy; try again", {"Retry-After": "1"})

    @app.exception_handler(IntegrityError)
    def _integrity(request: Request, exc: IntegrityError) -> Response:
        return _answer(request, 409, "conflicts with saved data; reload")

    @app.exception_handler(RequestValidationError)
    def _request(request: Request, exc: RequestValidationError) -> Response:
        detail = [
            {
                "loc": list(map(str, e.get("loc", ()))),
                "msg": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        return _answer(request, 422, detail)

    @app.exception_handler(Exception)
    def _server_error(request: Request, exc: Exception) -> Response:
        # The traceback goes to the server log under a reference the user can quote; the
        # answer names no code, file or value.
        reference = secrets.token_hex(4)
        log.error("error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
        detail = "an internal error stopped this request; try again or tell the administrator"
        if wants_html(request):
            return _error_page(request, 500, detail, reference=reference)
        return JSONResponse({"detail": detail, "reference": reference}, status_code=500)


def create_app(url: str, *, migrate: bool = True, secure_cookies: bool = False) -> FastAPI:
    """The FastAPI application over the database at ``url`` (migrated to the newest schema).

    ``secure_cookies``: mark the session cookie ``Secure`` (behind HTTPS).
    """
    if migrate:
        upgrade_database(url)
    from hcctrial.web.api import install_openapi, router
    from hcctrial.web.forms import router as forms_router
    from hcctrial.web.pages import router as pages_router

    app = FastAPI(
        title="hcctrial study database",
        summary="Data capture for cell-therapy trials in HCC: roles, edit checks, queries, audit",
        version="1",
        docs_url=None,
        redoc_url=None,
    )
    engine = make_engine(url)
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.secure_cookies = secure_cookies
    _install_handlers(app)
    app.include_router(router)
    app.include_router(forms_router)  # before the pages: /subjects/new is not a subject id
    app.include_router(pages_router)
    install_openapi(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(RefuseNulMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def ensure_admin(url: str, username: str = "admin") -> tuple[str, str] | None:
    """Create an admin account when the database has none (the first start); returns its user
    name and one-time password (to print once), or ``None`` when an admin exists. The account is
    ``admin`` (``admin2``, ... when that name is taken by a user without the role)."""
    upgrade_database(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            begin_write(session)
            admins = select(func.count()).select_from(Membership).where(Membership.role == "admin")
            if (session.scalar(admins) or 0) > 0:
                return None
            taken = set(session.scalars(select(User.username)))
            name, n = username, 1
            while name in taken:
                n += 1
                name = f"{username}{n}"
            password = secrets.token_urlsafe(15)
            session.info["user"] = "system"
            add_user(session, name, "Administrator", password, [("admin", None)], one_time=True)
            session.commit()
            return name, password
    finally:
        engine.dispose()
