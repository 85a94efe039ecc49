"""Errors as each caller wants them: a browser asking for a page gets the HTML error page in
the site's layout (404, 403, 422 with one line per field, 500 without a traceback); the JSON
API, and any caller that does not ask for HTML, keeps ``{"detail": ...}``."""

from __future__ import annotations

import html
import logging

import pytest
from fastapi.testclient import TestClient

from .conftest import Env

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _page(env: Env, path: str, user: str = "coordinator") -> tuple[int, str, str]:
    r = env.client.get(path, headers={**BROWSER, **env.headers(user)}, follow_redirects=False)
    return r.status_code, r.headers.get("content-type", ""), r.text


def _is_error_page(text: str, title: str) -> None:
    assert '<link rel="stylesheet" href="/static/style.css">' in text  # base.html's layout
    assert f"<h1>{title}</h1>" in text
    assert 'role="alert"' in text
    assert "Traceback" not in text


def test_a_missing_subject_is_a_404_page(env: Env) -> None:
    status, kind, text = _page(env, "/subjects/999999")
    assert status == 404 and kind.startswith("text/html")
    _is_error_page(text, "Not found")
    assert "subject not found" in text


def test_another_sites_subject_is_the_same_404_page(env: Env) -> None:
    other = _page(env, f"/subjects/{env.ids['subject_B']}")
    missing = _page(env, "/subjects/999999")
    assert other == missing


def test_an_unknown_page_is_a_404_page(env: Env) -> None:
    status, kind, text = _page(env, "/no/such/page")
    assert status == 404 and kind.startswith("text/html")
    _is_error_page(text, "Not found")


def test_a_forbidden_form_is_a_403_page(env: Env) -> None:
    status, kind, text = _page(env, f"/subjects/{env.ids['subject_A']}/forms/LB", "monitor")
    assert status == 403 and kind.startswith("text/html")
    _is_error_page(text, "Not allowed")
    assert "subject.write" in text


@pytest.mark.parametrize(
    "path,field",
    [
        ("/subjects/1%00", "path"),  # a NUL byte (refused before routing)
        ("/subjects/1?done=%00", "query"),
        ("/subjects/%FF", "subject_id"),  # not UTF-8: not a number either
        ("/subjects/99999999999999999999", "subject_id"),  # beyond any row id (and 64 bits)
        ("/subjects/0/forms/LB", "subject_id"),
        ("/records/99999999999999999999/sign", "record_id"),
    ],
)
def test_undecodable_or_impossible_page_addresses_are_422_pages(
    env: Env, path: str, field: str
) -> None:
    """Page routes answer a bad address with the HTML page, as the API answers it with JSON,
    never a 500."""
    method = "POST" if path.endswith("/sign") else "GET"
    headers = {**BROWSER, **env.headers("coordinator")}
    r = env.client.request(method, path, headers=headers, follow_redirects=False)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.text
    _is_error_page(r.text, "Not saved: check the fields")
    assert f"<strong>{field}</strong>" in r.text
    api = env.client.request(method, "/api" + path, headers=env.headers("coordinator"))
    assert api.status_code in (404, 405, 422)
    if api.status_code == 422:
        assert api.headers["content-type"] == "application/json"
        assert all("loc" in d and "msg" in d for d in api.json()["detail"])


def test_a_bad_address_is_a_422_page_naming_each_field(env: Env) -> None:
    status, kind, text = _page(env, "/subjects/abc")
    assert status == 422 and kind.startswith("text/html")
    _is_error_page(text, "Not saved: check the fields")
    assert "<strong>subject_id</strong>" in text
    assert "valid integer" in html.unescape(text)


def test_the_login_redirect_is_kept(env: Env) -> None:
    r = env.client.get("/", headers=BROWSER, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


@pytest.mark.parametrize(
    "path,status",
    [("/api/subjects/999999", 404), ("/api/subjects/abc", 422), ("/api/no/such", 404)],
)
def test_the_api_keeps_json_errors_even_for_a_browser(env: Env, path: str, status: int) -> None:
    r = env.client.get(path, headers={**BROWSER, **env.headers("coordinator")})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert "detail" in r.json()


def test_a_page_asked_for_without_html_gets_json(env: Env) -> None:
    r = env.client.get("/subjects/999999", headers=env.headers("coordinator"))
    assert r.status_code == 404
    assert r.json() == {"detail": "subject not found"}


def test_an_edit_check_refusal_keeps_its_json_shape(env: Env) -> None:
    r = env.client.post(
        f"/api/subjects/{env.ids['subject_A']}/records/CRSICANS",
        headers={**BROWSER, **env.headers("coordinator")},
        json={"FADTC": "2026-01-08", "TEMP": 101.3},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "TEMP"]


def _boom() -> None:
    raise RuntimeError("secret internals: /srv/db password=hunter2")


@pytest.fixture
def failing(env: Env) -> TestClient:
    """A client of the app with a route that fails, answering instead of raising."""
    env.app.add_api_route("/boom", _boom)
    env.app.add_api_route("/api/boom", _boom)
    return TestClient(env.app, raise_server_exceptions=False)


def test_a_server_error_page_leaks_nothing(
    failing: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hcctrial.web"):
        r = failing.get("/boom", headers=BROWSER)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    _is_error_page(r.text, "Something went wrong")
    assert "hunter2" not in r.text and "RuntimeError" not in r.text and ".py" not in r.text
    # The page's reference finds the traceback in the server log.
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert len(logged) == 1
    reference = logged[0].getMessage().split()[1]
    assert f"error reference {reference}" in r.text


def test_a_server_error_in_the_api_is_json(failing: TestClient) -> None:
    r = failing.get("/api/boom", headers=BROWSER)
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"detail", "reference"} and "hunter2" not in r.text
