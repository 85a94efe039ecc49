"""``hcctrial serve``, ``hcctrial users``, ``hcctrial studies``, ``hcctrial audit``: the study
database and its web application.

- ``serve``: migrate the database, create the first admin (its one-time password is printed
  once) and serve the pages and the JSON API on 127.0.0.1:8000.
- ``users add`` / ``users list``: accounts with roles at sites.
- ``studies add``: set up a study from a protocol (the concealed randomization list included).
- ``audit verify``: recompute the audit trail's hash chain; exit 1 naming the first broken
  record.

The database is ``--db`` (a SQLAlchemy URL such as ``postgresql://user@host/db``, or a file
path for SQLite), else ``$HCCTRIAL_DB``, else ``hcctrial.db`` in the current folder.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hcctrial.cli._common import console, err_console

DEFAULT_DB = "hcctrial.db"

_DB_HELP = "Database: SQLAlchemy URL or SQLite file (default $HCCTRIAL_DB, else hcctrial.db)."
DbOption = Annotated[str | None, typer.Option("--db", help=_DB_HELP)]


def database_url(db: str | None) -> str:
    """The database of a command: ``--db``, ``$HCCTRIAL_DB`` or ``hcctrial.db``."""
    from hcctrial.web.db import normalize_url

    return normalize_url(db or os.environ.get("HCCTRIAL_DB") or DEFAULT_DB)


def shown_url(url: str) -> str:
    """The URL without its password (for printing)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _serve(db: str | None, host: str, port: int, secure_cookies: bool) -> None:
    import uvicorn

    from hcctrial.web.app import create_app, ensure_admin

    url = database_url(db)
    created = ensure_admin(url)
    console.print(f"Study database: {escape(shown_url(url))}", highlight=False)
    if created is not None:
        name, password = created
        console.print(
            f"Created the admin account: user [bold]{escape(name)}[/bold], one-time password "
            f"[bold]{escape(password)}[/bold]\n"
            "It is shown only this once; it must be replaced at the first login.",
            highlight=False,
        )
    if host not in ("127.0.0.1", "localhost", "::1") and not secure_cookies:
        err_console.print(
            f"warning: serving on {host} without --secure-cookies: put the server behind "
            "HTTPS and pass --secure-cookies, or keep it on 127.0.0.1",
            highlight=False,
        )
    app = create_app(url, migrate=False, secure_cookies=secure_cookies)
    console.print(f"Serving on http://{host}:{port}/ (Ctrl+C stops)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


def _users_table(rows: list[dict[str, object]]) -> Table:
    table = Table(title="Users", title_justify="left")
    for name in ("user", "name", "roles", "active", "password"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["username"]),
            str(row["full_name"]),
            str(row["roles"]),
            "yes" if row["active"] else "no",
            "one-time (not yet replaced)" if row["must_change_password"] else "set",
        )
    return table


def _register_users(app: typer.Typer) -> None:
    users = typer.Typer(help="Accounts of the study database.", no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("add")
    def users_add(
        username: Annotated[str, typer.Argument(help="Login name (letters, digits, . - _).")],
        name: Annotated[str, typer.Option("--name", help="Full (printed) name.")],
        role: Annotated[
            list[str],
            typer.Option(
                "--role",
                help="ROLE or ROLE:SITE (repeatable); ROLE alone is every site. Roles: admin, "
                "investigator, coordinator, monitor, statistician, auditor.",
            ),
        ],
        study: Annotated[
            str | None, typer.Option("--study", help="Protocol id, when site codes repeat.")
        ] = None,
        password_stdin: Annotated[
            bool,
            typer.Option(
                "--password-stdin", help="Read the password from standard input (else generate)."
            ),
        ] = False,
        db: DbOption = None,
    ) -> None:
        """Add a user; without --password-stdin a one-time password is generated and printed
        once (the user replaces it at the first login)."""
        from hcctrial.web.admin import create_user

        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        generated = create_user(
            database_url(db), username, name, role, password=password, study=study
        )
        console.print(
            f"Added user {escape(username)} ({escape(', '.join(role))}).", highlight=False
        )
        if generated:
            console.print(
                f"One-time password: [bold]{escape(generated)}[/bold] (shown only this once)",
                highlight=False,
            )

    @users.command("list")
    def users_list(db: DbOption = None) -> None:
        """Every account with its roles."""
        from hcctrial.web.admin import list_users

        console.print(_users_table(list_users(database_url(db))))


def _parse_site(spec: str) -> tuple[str, str]:
    from hcctrial.errors import InputError

    code, sep, name = spec.partition("=")
    if not sep or not code.strip() or not name.strip():
        raise InputError("site must be CODE=NAME", value=spec, expected='--site A="Hospital A"')
    return code.strip(), name.strip()


def _parse_strata(specs: list[str]) -> dict[str, list[str]]:
    from hcctrial.errors import InputError

    out: dict[str, list[str]] = {}
    for spec in specs:
        factor, sep, levels = spec.partition("=")
        values = [v.strip() for v in levels.split(",") if v.strip()]
        if not sep or not factor.strip() or not values:
            raise InputError("stratum must be FACTOR=LEVEL,LEVEL", value=spec)
        out[factor.strip()] = values
    return out


def _register_studies(app: typer.Typer) -> None:
    studies = typer.Typer(help="Studies of the study database.", no_args_is_help=True)
    app.add_typer(studies, name="studies")

    @studies.command("add")
    def studies_add(
        protocol: Annotated[str, typer.Option("--protocol", "-p", help="Protocol id or YAML.")],
        site: Annotated[
            list[str], typer.Option("--site", help='Site as CODE=NAME (repeatable), e.g. A="X".')
        ],
        seed: Annotated[
            int | None, typer.Option("--seed", help="Seed of the randomization list.", min=0)
        ] = None,
        stratum: Annotated[
            list[str] | None,
            typer.Option("--stratum", help="FACTOR=LEVEL,LEVEL for each stratification factor."),
        ] = None,
        per_stratum: Annotated[
            int | None,
            typer.Option("--per-stratum", help="Allocations per stratum (default: target).", min=1),
        ] = None,
        db: DbOption = None,
    ) -> None:
        """Set up a study from a protocol (an amended protocol becomes a new version); a
        randomized protocol gets its concealed, seeded, stratified permuted-block list."""
        from hcctrial.web.admin import new_study

        made = new_study(
            database_url(db),
            protocol,
            [_parse_site(s) for s in site],
            seed=seed,
            strata=_parse_strata(stratum or []),
            per_stratum=per_stratum,
        )
        console.print(
            f"Study {made['protocol_id']} (id {made['id']}), sites {', '.join(made['sites'])}.",
            highlight=False,
        )


def _register_audit(app: typer.Typer) -> None:
    audit = typer.Typer(help="The audit trail of the study database.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def audit_verify(db: DbOption = None) -> None:
        """Recompute the audit trail's hash chain (and the randomization lists' digests); exit
        1 naming the first broken record."""
        from hcctrial.web.admin import verify_audit

        url = database_url(db)
        report = verify_audit(url)
        if report.ok:
            console.print(
                f"Audit trail intact: {report.chain.entries} entries, every hash and link "
                "verified; randomization lists unchanged.",
                highlight=False,
                soft_wrap=True,
            )
            return
        err_console.print(
            f"[bold red]Audit trail broken[/bold red] ({len(report.problems)} problem(s)); "
            f"first: {escape(report.problems[0])}",
            highlight=False,
            soft_wrap=True,
        )
        for problem in report.problems[1:20]:
            err_console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
        if len(report.problems) > 20:
            err_console.print(f"  ... and {len(report.problems) - 20} more", highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``users``, ``studies`` and ``audit`` to the main app."""

    @app.command("serve")
    def serve(
        db: DbOption = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8000,
        secure_cookies: Annotated[
            bool,
            typer.Option("--secure-cookies", help="Mark the session cookie Secure (HTTPS)."),
        ] = False,
    ) -> None:
        """Serve the study database's pages and JSON API (the first start creates the admin
        account and prints its one-time password once)."""
        _serve(db, host, port, secure_cookies)

    _register_users(app)
    _register_studies(app)
    _register_audit(app)
