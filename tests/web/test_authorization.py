"""The authorization matrix: every role against every endpoint (JSON API and pages), on a
subject, record or query of the user's own site and of the other site, and without logging in.

The expected answer is computed from the permission table (:data:`hcctrial.web.auth.PERMISSIONS`)
and each user's memberships, not written out by hand:

- another site's subject, record or query does not exist for the user: 404, the same answer
  as for an id that exists nowhere (nothing leaks, not even existence);
- a role that may read the subject but lacks the endpoint's permission: 403;
- otherwise the request succeeds (2xx, or a page's 303 redirect after a form).

Lists (subjects, studies' sites, dashboard counts, exports, the home page) hold only what the
user may read. Every route of both routers must have a row here (a new endpoint without one
fails the test), so the matrix cannot go stale.

Runs on SQLite only: authorization is decided in Python, the same on both databases (the
database tests run on both).
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hcctrial.web.api import router as api_router
from hcctrial.web.app import create_app
from hcctrial.web.auth import PERMISSIONS
from hcctrial.web.forms import router as forms_router
from hcctrial.web.pages import router as pages_router

from .conftest import PASSWORD, ROLE_SCOPE, SITE_B_USERS, Template, build_study

#: The users of the matrix: every role at site A (sponsor roles at every site), the site-B
#: staff, and nobody logged in.
USERS = [*ROLE_SCOPE, *SITE_B_USERS, "anonymous"]

#: user -> (role, site code or None for every site).
MEMBERSHIP: dict[str, tuple[str, str | None]] = {
    **{role: (role, None if scope == "all" else "A") for role, scope in ROLE_SCOPE.items()},
    **{name: (role, "B") for name, (role, _) in SITE_B_USERS.items()},
}


def can(user: str, permission: str, site: str | None = None) -> bool:
    """Does ``user`` hold ``permission`` (at ``site``, or anywhere)?"""
    if user == "anonymous":
        return False
    role, at = MEMBERSHIP[user]
    if role not in PERMISSIONS[permission]:
        return False
    return at is None or site is None or at == site


@dataclass(frozen=True)
class Case:
    """One endpoint: how to call it on site ``X``'s objects and what it needs."""

    method: str
    route: str  # the route's path template, as the router has it
    path: str  # with {site} standing for A or B in the object ids
    permission: str | None  # None: any logged-in user
    scope: str  # subject (site-scoped object), site, study, global, self, public
    body: Callable[[dict[str, Any], str], Any] | None = None
    form: bool = False  # an HTML form post (else JSON)
    audit: bool = False  # needs audit.read at every site


def _lab(_: dict[str, Any], __: str) -> dict[str, Any]:
    return {"LBTESTCD": "PLT", "LBORRES": "150", "LBORRESU": "10^9/L", "LBDTC": "2026-01-06"}


FORM_BODIES: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "FINDINGS": lambda ids, site: {"FINDINGS": {"ecog": 1}, "DTC": "2026-01-06"},
    "LB": _lab,
    "VS": lambda ids, site: {"VSTESTCD": "TEMP", "VSSTRESN": 37.0, "VSDTC": "2026-01-06"},
    "TU": lambda ids, site: {"TULNKID": "T09", "TUSTRESC": "TARGET", "TUDTC": "2026-01-06"},
    "TR": lambda ids, site: {
        "TRLNKID": "T01",
        "TRTESTCD": "LDIAM",
        "TRSTRESN": 30,
        "TRDTC": "2026-01-06",
    },
    "AE": lambda ids, site: {"AETERM": "Fever", "AETOXGR": "1", "AESTDTC": "2026-01-06"},
    "EX": lambda ids, site: {"EXTRT": "TACE", "EXSTDTC": "2026-01-06"},
    "CRSICANS": lambda ids, site: {"FADTC": "2026-01-06", "TEMP": 38.5, "ICE": 9},
}

PAGE_FORMS = [
    Case(
        "GET",
        "/subjects/{subject_id}/forms/{domain}",
        "/subjects/{subject}/forms/TU",
        "subject.write",
        "subject",
    ),
    Case(
        "POST",
        "/subjects/{subject_id}/forms/{domain}",
        "/subjects/{subject}/forms/LB",
        "subject.write",
        "subject",
        _lab,
        form=True,
    ),
    Case(
        "POST",
        "/subjects/{subject_id}/transition",
        "/subjects/{subject}/transition",
        "subject.write",
        "subject",
        lambda ids, site: {"to": "consented", "date": "2026-01-06"},
        form=True,
    ),
    Case(
        "POST",
        "/subjects/{subject_id}/queries",
        "/subjects/{subject}/queries",
        "query.open",
        "subject",
        lambda ids, site: {"text": "check"},
        form=True,
    ),
    Case(
        "POST",
        "/queries/{query_id}/{action}",
        "/queries/{query}/answer",
        "query.answer",
        "subject",
        lambda ids, site: {"text": "done"},
        form=True,
    ),
    Case(
        "POST",
        "/queries/{query_id}/{action}",
        "/queries/{query}/close",
        "query.close",
        "subject",
        lambda ids, site: {"text": "closed"},
        form=True,
    ),
    Case(
        "POST",
        "/records/{record_id}/sign",
        "/records/{record}/sign",
        "record.sign",
        "subject",
        lambda ids, site: {"password": PASSWORD, "meaning": "approval"},
        form=True,
    ),
    Case("GET", "/subjects/new", "/subjects/new", "subject.write", "global"),
    Case(
        "POST",
        "/subjects/new",
        "/subjects/new",
        "subject.write",
        "site",
        lambda ids, site: {
            "site_id": ids[f"site_{site}"],
            "subjid": "P1",
            "sex": "F",
            "screened_dtc": "2026-01-05",
        },
        form=True,
    ),
    Case("GET", "/password", "/password", None, "self"),
    Case(
        "POST",
        "/password",
        "/password",
        None,
        "self",
        lambda ids, site: {
            "current_password": PASSWORD,
            "new_password": "another long one",
            "new_password_again": "another long one",
        },
        form=True,
    ),
]

CASES: list[Case] = [
    # Sign-in and the user's own account.
    Case(
        "POST",
        "/api/login",
        "/api/login",
        None,
        "public",
        lambda ids, site: {"username": "monitor", "password": PASSWORD},
    ),
    Case("POST", "/api/logout", "/api/logout", None, "self"),
    Case(
        "POST",
        "/api/password",
        "/api/password",
        None,
        "self",
        lambda ids, site: {"current_password": PASSWORD, "new_password": "another long one"},
    ),
    Case("GET", "/api/me", "/api/me", None, "self"),
    Case("POST", "/api/tokens", "/api/tokens", None, "self", lambda ids, site: {"name": "t"}),
    Case("GET", "/api/tokens", "/api/tokens", None, "self"),
    Case("POST", "/api/tokens/{token_id}/revoke", "/api/tokens/{own_token}/revoke", None, "self"),
    # Administration.
    Case(
        "POST",
        "/api/users",
        "/api/users",
        "users.manage",
        "global",
        lambda ids, site: {
            "username": "u_new",
            "full_name": "U",
            "password": PASSWORD,
            "roles": [{"role": "monitor", "site_id": ids["site_A"]}],
        },
    ),
    Case(
        "POST",
        "/api/studies",
        "/api/studies",
        "study.setup",
        "global",
        lambda ids, site: {"protocol": "pd1-ko-t-tace", "sites": [{"code": "X", "name": "X"}]},
    ),
    # Studies.
    Case("GET", "/api/studies", "/api/studies", None, "self"),
    Case(
        "GET",
        "/api/studies/{study_id}/dashboard",
        "/api/studies/{study}/dashboard",
        "subject.read",
        "study",
    ),
    Case("GET", "/api/studies/{study_id}/export", "/api/studies/{study}/export", "export", "study"),
    # Subjects.
    Case("GET", "/api/subjects", "/api/subjects", "subject.read", "study"),
    Case(
        "POST",
        "/api/subjects",
        "/api/subjects",
        "subject.write",
        "site",
        lambda ids, site: {
            "site_id": ids[f"site_{site}"],
            "subjid": "N1",
            "sex": "F",
            "screened_dtc": "2026-01-05",
        },
    ),
    Case("GET", "/api/subjects/{subject_id}", "/api/subjects/{subject}", "subject.read", "subject"),
    Case(
        "POST",
        "/api/subjects/{subject_id}/transitions",
        "/api/subjects/{subject}/transitions",
        "subject.write",
        "subject",
        lambda ids, site: {"to": "consented", "date": "2026-01-06"},
    ),
    Case(
        "GET",
        "/api/subjects/{subject_id}/eligibility",
        "/api/subjects/{subject}/eligibility",
        "subject.read",
        "subject",
    ),
    Case(
        "GET",
        "/api/subjects/{subject_id}/calendar",
        "/api/subjects/{subject}/calendar",
        "subject.read",
        "subject",
    ),
    Case(
        "GET",
        "/api/subjects/{subject_id}/records",
        "/api/subjects/{subject}/records",
        "subject.read",
        "subject",
    ),
    *[
        Case(
            "POST",
            f"/api/subjects/{{subject_id}}/records/{d}",
            f"/api/subjects/{{subject}}/records/{d}",
            "subject.write",
            "subject",
            body,
        )
        for d, body in FORM_BODIES.items()
    ],
    # Records.
    Case("GET", "/api/records/{record_id}", "/api/records/{record}", "subject.read", "subject"),
    Case(
        "PUT",
        "/api/records/{record_id}",
        "/api/records/{record}",
        "subject.write",
        "subject",
        lambda ids, site: {"data": _lab(ids, site), "reason": "correction", "version": 1},
    ),
    Case(
        "POST",
        "/api/records/{record_id}/delete",
        "/api/records/{record}/delete",
        "subject.write",
        "subject",
        lambda ids, site: {"reason": "duplicate"},
    ),
    Case(
        "POST",
        "/api/records/{record_id}/sign",
        "/api/records/{record}/sign",
        "record.sign",
        "subject",
        lambda ids, site: {"password": PASSWORD, "meaning": "approval"},
    ),
    # Queries.
    Case(
        "POST",
        "/api/subjects/{subject_id}/queries",
        "/api/subjects/{subject}/queries",
        "query.open",
        "subject",
        lambda ids, site: {"text": "please check"},
    ),
    Case(
        "GET",
        "/api/subjects/{subject_id}/queries",
        "/api/subjects/{subject}/queries",
        "subject.read",
        "subject",
    ),
    Case(
        "POST",
        "/api/queries/{query_id}/{action}",
        "/api/queries/{query}/answer",
        "query.answer",
        "subject",
        lambda ids, site: {"text": "done"},
    ),
    Case(
        "POST",
        "/api/queries/{query_id}/{action}",
        "/api/queries/{query}/close",
        "query.close",
        "subject",
        lambda ids, site: {"text": "closed"},
    ),
    Case(
        "POST",
        "/api/queries/{query_id}/{action}",
        "/api/queries/{answered}/reopen",
        "query.close",
        "subject",
        lambda ids, site: {"text": "again"},
    ),
    # Audit trail.
    Case("GET", "/api/audit", "/api/audit", "audit.read", "global", audit=True),
    Case("GET", "/api/audit/verify", "/api/audit/verify", "audit.read", "global", audit=True),
    # Pages.
    Case("GET", "/login", "/login", None, "public"),
    Case(
        "POST",
        "/login",
        "/login",
        None,
        "public",
        lambda ids, site: {"username": "monitor", "password": PASSWORD},
        form=True,
    ),
    # Logging out answers with the login form, logged in or not.
    Case("POST", "/logout", "/logout", None, "public", lambda ids, site: {}, form=True),
    Case("GET", "/", "/", None, "self"),
    Case("GET", "/subjects/{subject_id}", "/subjects/{subject}", "subject.read", "subject"),
    Case(
        "GET", "/subjects/{subject_id}/lab", "/subjects/{subject}/lab", "subject.write", "subject"
    ),
    Case(
        "POST",
        "/subjects/{subject_id}/lab",
        "/subjects/{subject}/lab",
        "subject.write",
        "subject",
        lambda ids, site: {**_lab(ids, site)},
        form=True,
    ),
    *PAGE_FORMS,
]


def _route_keys() -> set[tuple[str, str]]:
    keys = set()
    for route in [*api_router.routes, *forms_router.routes, *pages_router.routes]:
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            keys.add((method, route.path))  # type: ignore[attr-defined]
    return keys


def test_every_route_is_in_the_matrix() -> None:
    covered = {(c.method, c.route) for c in CASES}
    assert _route_keys() - covered == set()
    assert covered - _route_keys() == set()


def expected(case: Case, user: str, site: str) -> str:
    """``ok``, ``401``, ``403`` or ``404`` for ``user`` calling ``case`` on ``site``."""
    if case.scope == "public":
        return "ok"
    if user == "anonymous":
        return "401"
    if case.scope == "self":
        return "ok"
    if case.audit:
        return "ok" if MEMBERSHIP[user] == ("auditor", None) else "403"
    assert case.permission is not None
    if case.scope == "subject":
        if not can(user, "subject.read", site):
            return "404"
        return "ok" if can(user, case.permission, site) else "403"
    if case.scope == "site":
        return "ok" if can(user, case.permission, site) else "403"
    return "ok" if can(user, case.permission) else "403"  # study, global


@pytest.fixture(scope="module")
def matrix_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The study with, per site, a record, an open query and an answered query, and one API
    token per user to revoke."""
    path = tmp_path_factory.mktemp("matrix") / "study.db"
    data = build_study(f"sqlite:///{path}")
    app = create_app(f"sqlite:///{path}", migrate=False)
    with TestClient(app) as client:
        for site in ("A", "B"):
            sid = data.ids[f"subject_{site}"]
            coord = {
                "Authorization": f"Bearer {data.tokens['coordinator' + ('_b' * (site == 'B'))]}"
            }
            mon = {"Authorization": f"Bearer {data.tokens['monitor' + ('_b' * (site == 'B'))]}"}
            r = client.post(f"/api/subjects/{sid}/records/LB", headers=coord, json=_lab({}, site))
            data.ids[f"record_{site}"] = r.json()["id"]
            # An unresolved AE and CRS per site: the dashboard lists them (site-scoped).
            for ae in (
                {"AETERM": f"Fatigue at site {site}", "AETOXGR": "3", "AESTDTC": "2026-01-06"},
                {"AETERM": "Cytokine release syndrome", "AETOXGR": "2", "AESTDTC": "2026-01-06"},
            ):
                r = client.post(f"/api/subjects/{sid}/records/AE", headers=coord, json=ae)
                assert r.status_code == 201, r.text
            for name in ("query", "answered"):
                r = client.post(f"/api/subjects/{sid}/queries", headers=mon, json={"text": name})
                data.ids[f"{name}_{site}"] = r.json()["id"]
            r = client.post(
                f"/api/queries/{data.ids['answered_' + site]}/answer",
                headers=coord,
                json={"text": "answered"},
            )
            assert r.status_code == 200
        for user in MEMBERSHIP:
            bearer = {"Authorization": f"Bearer {data.tokens[user]}"}
            r = client.post("/api/tokens", headers=bearer, json={"name": "to revoke"})
            data.ids[f"token_{user}"] = r.json()["id"]
    app.state.engine.dispose()
    return Template("sqlite", str(path), data)


@pytest.fixture
def matrix_client(
    matrix_template: Template, tmp_path: Path
) -> Iterator[tuple[TestClient, Template]]:
    target = tmp_path / "study.db"
    shutil.copyfile(matrix_template.source, target)
    app = create_app(f"sqlite:///{target}", migrate=False)
    with TestClient(app) as client:
        yield client, matrix_template
    app.state.engine.dispose()


def _url(case: Case, ids: dict[str, Any], user: str, site: str) -> str:
    return case.path.format(
        subject=ids[f"subject_{site}"],
        record=ids[f"record_{site}"],
        query=ids[f"query_{site}"],
        answered=ids[f"answered_{site}"],
        study=ids["study"],
        own_token=ids.get(f"token_{user}", 1),
    )


def _call(client: TestClient, case: Case, template: Template, user: str, site: str) -> Any:
    ids = template.data.ids
    headers = (
        {} if user == "anonymous" else {"Authorization": f"Bearer {template.data.tokens[user]}"}
    )
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if case.body is not None:
        body = case.body(ids, site)
        kwargs["data" if case.form else "json"] = body
    return client.request(case.method, _url(case, ids, user, site), **kwargs)


def _outcome(r: Any) -> str:
    if r.status_code < 300 or (r.status_code == 303 and r.headers["location"] != "/login"):
        return "ok"
    if r.status_code == 303 and r.request.url.path == "/logout":
        return "ok"
    if r.status_code == 303:
        return "401"  # a page sends the anonymous user to the login form
    return str(r.status_code)


MATRIX = [
    pytest.param(case, user, site, id=f"{case.method} {case.path} {user} site-{site}")
    for case in CASES
    for user in USERS
    for site in ("A", "B")
    if not (case.scope in ("public", "self", "global") and site == "B")
]


@pytest.fixture(scope="module")
def shared_client(
    matrix_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Template]]:
    """One app for the requests that change nothing (GET)."""
    target = tmp_path_factory.mktemp("shared") / "study.db"
    shutil.copyfile(matrix_template.source, target)
    app = create_app(f"sqlite:///{target}", migrate=False)
    with TestClient(app) as client:
        yield client, matrix_template
    app.state.engine.dispose()


@pytest.mark.parametrize("case,user,site", MATRIX)
def test_authorization_matrix(
    request: pytest.FixtureRequest, case: Case, user: str, site: str
) -> None:
    # A request that may change data gets its own copy of the database.
    fixture = "shared_client" if case.method == "GET" else "matrix_client"
    client, template = request.getfixturevalue(fixture)
    r = _call(client, case, template, user, site)
    want = expected(case, user, site)
    assert _outcome(r) == want, (r.status_code, r.text[:300])
    if want == "404":
        # The same answer as for an id that exists nowhere.
        ids = {**template.data.ids}
        for key in ("subject", "record", "query", "answered"):
            ids[f"{key}_{site}"] = 2_000_000_000
        missing = client.request(
            case.method,
            _url(case, ids, user, site),
            headers={"Authorization": f"Bearer {template.data.tokens[user]}"},
            **({"json": case.body(ids, site)} if case.body and not case.form else {}),
            **({"data": case.body(ids, site)} if case.body and case.form else {}),
        )
        assert (missing.status_code, missing.text) == (r.status_code, r.text)


def _readable(user: str) -> set[str]:
    return {s for s in ("A", "B") if can(user, "subject.read", s)}


@pytest.mark.parametrize("user", [u for u in USERS if u != "anonymous"])
def test_lists_hold_only_what_the_user_may_read(
    matrix_client: tuple[TestClient, Template], user: str
) -> None:
    client, template = matrix_client
    ids = template.data.ids
    h = {"Authorization": f"Bearer {template.data.tokens[user]}"}
    sites = _readable(user)
    subjects = client.get("/api/subjects", headers=h)
    if not sites:
        assert subjects.status_code == 403
    else:
        assert {s["usubjid"] for s in subjects.json()} == {ids[f"usubjid_{s}"] for s in sites}
        dash = client.get(f"/api/studies/{ids['study']}/dashboard", headers=h).json()
        assert sum(dash["subjects_by_state"].values()) == len(sites)
        assert dash["open_queries"] == 2 * len(sites)
    studies = client.get("/api/studies", headers=h).json()
    shown = {s["code"] for s in studies[0]["sites"]}
    assert shown == ({"A", "B"} if can(user, "study.setup") else sites)
    home = client.get("/", headers=h).text
    for site in ("A", "B"):
        assert (ids[f"usubjid_{site}"] in home) == (site in sites)
        assert (f"Fatigue at site {site}" in home) == (site in sites)
    if sites:  # the dashboard's counts and lists hold the user's sites only
        consort = home.split(f'id="consort-{ids["study"]}"', 1)[1].split("</table>", 1)[0]
        assert f'<th scope="row">Screened</th><td>{len(sites)}</td>' in consort
        assert f"Open queries: <strong>{2 * len(sites)}</strong>" in home
        aes = home.split(f'id="aes-{ids["study"]}"', 1)[1].split("</caption>", 1)[0]
        assert aes.endswith(f"grade 3 or more first: {2 * len(sites)}")
        crs = home.split(f'id="syndromes-{ids["study"]}"', 1)[1].split("</table>", 1)[0]
        assert f"<td>CRS</td><td>{len(sites)}</td><td>2</td><td>{len(sites)}:" in crs
    else:
        assert "Your roles do not include reading subject data." in home
    if can(user, "export"):
        r = client.get(f"/api/studies/{ids['study']}/export", headers=h)
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            dm = archive.read("dm.csv").decode()
        for site in ("A", "B"):
            assert (ids[f"usubjid_{site}"] in dm) == can(user, "export", site)
