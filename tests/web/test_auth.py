"""Logins, session cookies, CSRF, login rate limiting, one-time passwords and API tokens."""

from __future__ import annotations

import re

from sqlalchemy import select

from hcctrial.web import auth
from hcctrial.web.db import LoginAttempt, User

from .conftest import PASSWORD, Env


def test_passwords_are_argon2id_hashes(env: Env) -> None:
    with env.session() as session:
        user = session.scalar(select(User).where(User.username == "coordinator"))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$v=19$")  # PHC string of RFC 9106
        assert PASSWORD not in user.password_hash
        assert auth.verify_password(user.password_hash, PASSWORD)
        assert not auth.verify_password(user.password_hash, PASSWORD + "x")


def test_production_hashes_use_the_rfc_9106_parameters() -> None:
    from argon2 import extract_parameters

    from .conftest import PRODUCTION_HASHER

    params = extract_parameters(PRODUCTION_HASHER.hash(PASSWORD))
    # RFC 9106 section 4, second recommended option: t=3, m=64 MiB, p=4.
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == (
        "ID",
        3,
        65536,
        4,
    )


def test_login_sets_an_httponly_samesite_cookie(env: Env) -> None:
    client = env.new_client()
    r = client.post("/api/login", json={"username": "coordinator", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("hcctrial_session=")
    assert "HttpOnly" in cookie
    assert re.search(r"SameSite=strict", cookie, re.IGNORECASE)
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on 127.0.0.1; --secure-cookies behind HTTPS
    token = client.cookies["hcctrial_session"]
    assert r.json()["csrf_token"] and r.json()["csrf_token"] != token
    assert client.get("/api/me").json()["username"] == "coordinator"


def test_secure_cookie_behind_https(env: Env) -> None:
    env.app.state.secure_cookies = True
    r = env.new_client().post("/api/login", json={"username": "monitor", "password": PASSWORD})
    assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_and_unknown_user_are_refused_alike(env: Env) -> None:
    client = env.new_client()
    a = client.post("/api/login", json={"username": "coordinator", "password": "wrong one!!"})
    b = client.post("/api/login", json={"username": "nobody", "password": "wrong one!!"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert "set-cookie" not in a.headers
    assert client.get("/api/me").status_code == 401


def test_unauthenticated_requests_get_401(env: Env) -> None:
    client = env.new_client()
    assert client.get("/api/subjects").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer hct_nope"}).status_code == 401
    # Pages send the user to the login form instead.
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_cookie_requests_that_change_data_need_the_csrf_token(env: Env) -> None:
    client, csrf = env.login("coordinator")
    subject = env.ids["subject_A"]
    body = {"to": "consented", "date": "2026-01-06"}
    url = f"/api/subjects/{subject}/transitions"
    assert client.post(url, json=body).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    # Reading needs no token; a write with the session's token goes through.
    assert client.get(f"/api/subjects/{subject}").status_code == 200
    r = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    # A bearer token is not sent by browsers on their own: no CSRF token needed.
    r = env.client.post(
        f"/api/subjects/{subject}/transitions",
        json={"to": "off_study", "date": "2026-01-07", "detail": {"dsdecod": "OTHER"}},
        headers=env.headers("coordinator"),
    )
    assert r.status_code == 200, r.text


def test_the_csrf_token_belongs_to_its_session(env: Env) -> None:
    alice, _ = env.login("coordinator")
    _, other_csrf = env.login("investigator")
    r = alice.post(
        f"/api/subjects/{env.ids['subject_A']}/transitions",
        json={"to": "consented", "date": "2026-01-06"},
        headers={"X-CSRF-Token": other_csrf},
    )
    assert r.status_code == 403


def test_form_posts_need_the_csrf_field(env: Env) -> None:
    client, csrf = env.login("coordinator")
    url = f"/subjects/{env.ids['subject_A']}/lab"
    form = {
        "LBTESTCD": "PLT",
        "LBORRES": "150",
        "LBORRESU": "10^9/L",
        "LBDTC": "2026-01-06",
    }
    assert client.post(url, data=form).status_code == 403
    assert client.post(url, data={**form, "csrf_token": "forged"}).status_code == 403
    r = client.post(url, data={**form, "csrf_token": csrf})
    assert r.status_code == 200 and "Saved" in r.text
    page = client.get(url).text
    assert f'name="csrf_token" value="{csrf}"' in page


def test_failed_logins_are_rate_limited(env: Env) -> None:
    client = env.new_client()
    wrong = {"username": "monitor", "password": "not the password"}
    for _ in range(auth.MAX_FAILURES):
        assert client.post("/api/login", json=wrong).status_code == 401
    # Locked now, even with the right password; another user is not affected.
    r = client.post("/api/login", json={"username": "monitor", "password": PASSWORD})
    assert r.status_code == 429
    ok = client.post("/api/login", json={"username": "auditor", "password": PASSWORD})
    assert ok.status_code == 200
    with env.session() as session:
        attempts = session.scalars(
            select(LoginAttempt).where(LoginAttempt.username == "monitor")
        ).all()
        assert [a.success for a in attempts] == [False] * auth.MAX_FAILURES
        # The window passes: the lock is released.
        for a in attempts:
            a.at = a.at - auth.FAILURE_WINDOW
        session.commit()
    r = client.post("/api/login", json={"username": "monitor", "password": PASSWORD})
    assert r.status_code == 200


def test_a_success_resets_the_count_of_failures(env: Env) -> None:
    client = env.new_client()
    wrong = {"username": "monitor", "password": "not the password"}
    for _ in range(auth.MAX_FAILURES - 1):
        assert client.post("/api/login", json=wrong).status_code == 401
    assert (
        client.post("/api/login", json={"username": "monitor", "password": PASSWORD}).status_code
        == 200
    )
    for _ in range(auth.MAX_FAILURES - 1):
        assert client.post("/api/login", json=wrong).status_code == 401
    r = client.post("/api/login", json={"username": "monitor", "password": PASSWORD})
    assert r.status_code == 200


def test_the_login_page_shows_the_rate_limit(env: Env) -> None:
    client = env.new_client()
    for _ in range(auth.MAX_FAILURES):
        r = client.post("/login", data={"username": "auditor", "password": "wrong password"})
        assert r.status_code == 401 and "Wrong user name or password" in r.text
    r = client.post("/login", data={"username": "auditor", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed logins" in r.text


def test_logout_ends_the_session(env: Env) -> None:
    client, csrf = env.login("coordinator")
    token = client.cookies["hcctrial_session"]
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.set("hcctrial_session", token)  # a stolen copy of the cookie stops working
    assert client.get("/api/me").status_code == 401


def test_api_tokens_for_scripts(env: Env) -> None:
    h = env.headers("statistician")
    r = env.client.post("/api/tokens", json={"name": "nightly export"}, headers=h)
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    assert token.startswith("hct_")
    bearer = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/api/me", headers=bearer).json()["username"] == "statistician"
    listed = env.client.get("/api/tokens", headers=h).json()
    assert {t["name"] for t in listed} == {"tests", "nightly export"}
    assert all("token" not in t for t in listed)  # never shown again
    # Another user cannot revoke it; its owner can, and it stops working at once.
    other = env.client.post(f"/api/tokens/{token_id}/revoke", headers=env.headers("monitor"))
    assert other.status_code == 404
    assert env.client.post(f"/api/tokens/{token_id}/revoke", headers=h).status_code == 200
    assert env.client.get("/api/me", headers=bearer).status_code == 401
    with env.session() as session:
        stored = session.execute(select(auth.ApiToken.token_sha256)).scalars().all()
        assert token not in stored and auth._sha256(token) in stored


def test_one_time_password_must_be_replaced_first(env: Env) -> None:
    from hcctrial.web.app import ensure_admin

    created = ensure_admin(env.url)
    assert created is None  # the fixture already has an admin
    with env.session() as session:
        session.info["user"] = "tests"
        auth.add_user(
            session,
            "newcomer",
            "New Comer",
            "generated-once-123",
            [("auditor", None)],
            one_time=True,
        )
        session.commit()
    client = env.new_client()
    r = client.post("/api/login", json={"username": "newcomer", "password": "generated-once-123"})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    csrf = r.json()["csrf_token"]
    assert client.get("/api/audit").status_code == 403
    bad = client.post(
        "/api/password",
        json={"current_password": "generated-once-123", "new_password": "short"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "new_password"
    ok = client.post(
        "/api/password",
        json={"current_password": "generated-once-123", "new_password": "a much longer secret"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 200, ok.text
    assert client.get("/api/audit").status_code == 200


def test_first_start_creates_an_admin_with_a_one_time_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from hcctrial.web.app import create_app, ensure_admin

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    created = ensure_admin(url)
    assert created is not None
    name, password = created
    assert name == "admin" and len(password) >= 20
    assert ensure_admin(url) is None  # the second start creates nothing
    app = create_app(url, migrate=False)
    with TestClient(app) as client:
        r = client.post("/api/login", json={"username": "admin", "password": password})
        assert r.status_code == 200 and r.json()["must_change_password"]
        # The page login sends the admin to the password form.
        page = TestClient(app).post(
            "/login", data={"username": "admin", "password": password}, follow_redirects=False
        )
        assert page.status_code == 303 and page.headers["location"] == "/password"
    app.state.engine.dispose()
