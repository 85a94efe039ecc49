"""Labels and error messages on the entry forms: every input has a ``<label for>``, and a
refused form ties each message to its input (``aria-invalid`` + ``aria-describedby``), so that
screen-reader and keyboard users hear which field is wrong and why (WCAG 2.1 success criteria
1.3.1 "Info and Relationships" and 3.3.1 "Error Identification")."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from hcctrial.web.checks import FORMS

from .conftest import Env

BROWSER = {"Accept": "text/html"}


class _Form(HTMLParser):
    """The inputs, labels and element ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.label_for.append(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.inputs.append(a)


def _parse(text: str) -> _Form:
    form = _Form()
    form.feed(text)
    return form


def _check(form: _Form, *, refused: bool) -> int:
    """Assert the page's inputs are labelled and its messages tied; returns the number tied."""
    assert form.inputs
    assert len(form.ids) == len(set(form.ids)), "duplicate element ids"
    tied = 0
    for box in form.inputs:
        assert box.get("id") in form.label_for, f"no <label for> of {box}"
        if box.get("aria-invalid") == "true":
            assert box.get("aria-describedby") in form.ids, box
            tied += 1
    if refused:
        assert tied > 0
    return tied


@pytest.mark.parametrize("domain", sorted(FORMS))
def test_every_form_input_is_labelled_and_every_message_tied(env: Env, domain: str) -> None:
    path = f"/subjects/{env.ids['subject_A']}/forms/{domain}"
    headers = {**BROWSER, **env.headers("coordinator")}
    page = env.client.get(path, headers=headers)
    assert page.status_code == 200
    _check(_parse(page.text), refused=False)
    # An empty form: every required field is refused, each message beside its input.
    refused = env.client.post(path, headers=headers, data={})
    assert refused.status_code == 422, refused.text[:300]
    form = _parse(refused.text)
    required = [b for b in form.inputs if b.get("aria-required") == "true"]
    assert _check(form, refused=True) == len(required)


def test_the_screening_form_ties_its_messages(env: Env) -> None:
    headers = {**BROWSER, **env.headers("coordinator")}
    page = env.client.get("/subjects/new", headers=headers)
    assert page.status_code == 200
    _check(_parse(page.text), refused=False)
    site = str(env.ids["site_A"])
    for data, wrong in (
        ({"site_id": site, "subjid": "", "sex": "F"}, {"subjid", "screened_dtc"}),
        (
            {"site_id": site, "subjid": "A7", "sex": "F", "birth_dtc": "1960-13"}
            | {"screened_dtc": "2026-01-05"},
            {"birth_dtc"},
        ),
    ):
        refused = env.client.post("/subjects/new", headers=headers, data=data)
        assert refused.status_code == 422, refused.text[:300]
        form = _parse(refused.text)
        assert {b["id"] for b in form.inputs if b.get("aria-invalid") == "true"} == wrong
        _check(form, refused=True)
