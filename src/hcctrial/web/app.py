"""The web application: :func:`create_app` for a database URL, and the first-start admin."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from hcctrial.errors import HcctrialError, InputError, InputErrors
from hcctrial.web.auth import add_user
from hcctrial.web.db import User, make_engine, make_sessionmaker, upgrade_database
from hcctrial.web.service import EditCheckFailed, StaleVersionError

__all__ = ["create_app", "ensure_admin"]


def _problems_json(exc: HcctrialError) -> list[dict[str, object]]:
    problems = exc.problems if isinstance(exc, InputErrors) else [exc]
    out: list[dict[str, object]] = []
    for p in problems:
        column = getattr(p, "column", None)
        message = getattr(p, "message", None) or str(p)
        value = getattr(p, "value", None)
        expected = getattr(p, "expected", None)
        text = str(message)
        if value is not None:
            text += f" (got {value!r})"
        if expected:
            text += f"; expected {expected}"
        out.append({"loc": ["body", column] if column else ["body"], "msg": text, "type": "input"})
    return out


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(EditCheckFailed)
    def _edit_check(request: Request, exc: EditCheckFailed) -> JSONResponse:
        detail = [
            {"loc": ["body", p.field], "msg": p.message, "type": "edit_check"} for p in exc.problems
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
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app


def ensure_admin(url: str, username: str = "admin") -> str | None:
    """Create the first admin account if the database has no user; returns its one-time
    password (to print once), or ``None`` when users exist."""
    upgrade_database(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            if (session.scalar(select(func.count()).select_from(User)) or 0) > 0:
                return None
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise InputError("admin user exists", value=username)
            password = secrets.token_urlsafe(15)
            session.info["user"] = "system"
            add_user(session, username, "Administrator", password, [("admin", None)])
            session.commit()
            return password
    finally:
        engine.dispose()
