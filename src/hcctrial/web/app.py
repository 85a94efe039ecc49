"""The web application: :func:`create_app` for a database URL, and the first-start admin."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
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

__all__ = ["create_app", "ensure_admin"]


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
    refuses it in text, so it never reaches a query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
            query = scope.get("query_string", b"")
            path = scope.get("path", "")
            if b"%00" in raw or b"%00" in query or "\x00" in path:
                detail = [{"loc": ["path"], "msg": "NUL character in the URL", "type": "value"}]
                response = JSONResponse({"detail": detail}, status_code=422)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(EditCheckFailed)
    def _edit_check(request: Request, exc: EditCheckFailed) -> JSONResponse:
        detail = [
            {"loc": ["body", *p.field.split(".")], "msg": p.message, "type": p.kind}
            for p in exc.problems
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(ValidationError)
    def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        detail = [
            {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(HcctrialError)
    def _input(request: Request, exc: HcctrialError) -> JSONResponse:
        return JSONResponse({"detail": _problems_json(exc)}, status_code=422)

    @app.exception_handler(StaleVersionError)
    def _stale(request: Request, exc: StaleVersionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "version": exc.current}, status_code=409)

    @app.exception_handler(StaleDataError)
    def _stale_row(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse({"detail": "changed by someone else; reload"}, status_code=409)

    @app.exception_handler(OperationalError)
    def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is busy (a lock not granted in time) or unreachable: try again later.
        return JSONResponse(
            {"detail": "the database is busy; try again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(IntegrityError)
    def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "conflicts with saved data; reload"}, status_code=409)

    @app.exception_handler(RequestValidationError)
    def _request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "loc": list(map(str, e.get("loc", ()))),
                "msg": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)


def create_app(url: str, *, migrate: bool = True, secure_cookies: bool = False) -> FastAPI:
    """The FastAPI application over the database at ``url`` (migrated to the newest schema).

    ``secure_cookies``: mark the session cookie ``Secure`` (behind HTTPS).
    """
    if migrate:
        upgrade_database(url)
    from hcctrial.web.api import router
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
