"""End to end in a browser: Playwright drives Debian's Chromium (headless; apt-get installs it
when missing, no browser is downloaded) against ``hcctrial serve`` on 127.0.0.1. A coordinator
logs in, screens a patient, the investigator signs eligibility, the coordinator randomizes and
enters a visit with lesions and labs, the monitor raises a query that the coordinator answers,
and the investigator locks and signs a record; the day's CRS/ICANS observations are entered
(a second one for the same day refused), and a missing subject shows the HTML error page.
Screenshots go to ``test-artifacts/web/``.
Every request the pages make stays on 127.0.0.1 (anything else is blocked and fails the test).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from .conftest import (
    FINDINGS,
    JUDGEMENTS,
    LABS,
    PASSWORD,
    Template,
    copy_database,
    services,
)
from .serve import serve

pytestmark = pytest.mark.service

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000  # the page answers within this, even on a loaded CI machine
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "web"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        try:
            services._apt_install("chromium")
        except services.ServiceUnavailable as exc:
            pytest.skip(f"Chromium cannot be installed here: {exc}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Person:
    """One user's browser window."""

    def __init__(self, browser: Any, base: str, user: str, outside: list[str]) -> None:
        self.base, self.user = base, user
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()

        def guard(route: Any) -> None:
            if urlparse(route.request.url).hostname != "127.0.0.1":
                outside.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        self.page.route("**/*", guard)
        self.page.goto(f"{base}/")
        self.page.get_by_label("User name").fill(user)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.submit(self.page.get_by_role("button", name="Log in"))
        assert self.page.url == f"{base}/"

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def subject(self, sid: int) -> None:
        self.page.goto(f"{self.base}/subjects/{sid}")

    def submit(self, button: Any) -> None:
        """Click a form's button (or a link) and wait until the next page has loaded: under
        load, reading the page straight after the click could read the blank page between."""
        with self.page.expect_navigation(wait_until="load", timeout=WAIT_MS):
            button.click()

    def sees(self, text: str) -> None:
        """The page shows ``text`` (Playwright retries until it does or WAIT_MS passes)."""
        expect(self.page.locator("body")).to_contain_text(text, timeout=WAIT_MS)

    def step(self, sid: int, to: str, day: str, **extra: str) -> None:
        self.subject(sid)
        self.page.select_option("#to", to)
        self.page.fill("#date", day)
        for field, value in extra.items():
            self.page.fill(f"#{field}", value)
        self.submit(self.page.get_by_role("button", name="Record the step"))
        self.sees("Done:")

    def form(self, sid: int, domain: str, values: dict[str, str]) -> None:
        self.page.goto(f"{self.base}/subjects/{sid}/forms/{domain}")
        for name, value in values.items():
            if self.page.locator(f"select#{name}").count():
                self.page.select_option(f"#{name}", value)
            else:
                self.page.fill(f"#{name}", value)
        self.submit(self.page.get_by_role("button", name="Save"))
        self.sees("Saved.")


def test_a_trial_day_in_the_browser(
    browser: Any, sqlite_template: Template, tmp_path: Path
) -> None:
    (url,) = copy_database(sqlite_template, tmp_path)  # the pages are the same on PostgreSQL
    today = datetime.now(UTC).date()
    day = [(today - timedelta(days=12 - i)).isoformat() for i in range(12)]
    outside: list[str] = []
    with serve(url) as server:
        base = server.base
        coord = Person(browser, base, "coordinator", outside)
        coord.shot("01-studies")
        # Screen a patient.
        # wait for this page too: else the Register click's wait could catch its load event
        coord.submit(coord.page.get_by_role("link", name="Screen a patient"))
        coord.page.fill("#subjid", "P100")
        coord.page.select_option("#sex", "M")
        coord.page.fill("#birth_dtc", "1962-03-14")
        coord.page.fill("#screened_dtc", day[0])
        coord.shot("02-screen-a-patient")
        coord.submit(coord.page.get_by_role("button", name="Register"))
        coord.page.wait_for_url(re.compile(r".*/subjects/\d+$"), timeout=WAIT_MS)
        sid = int(coord.page.url.rsplit("/", 1)[1])
        coord.step(sid, "consented", day[0])
        # A wrong lab first: the form answers with a message beside the field.
        coord.page.goto(f"{base}/subjects/{sid}/forms/LB")
        coord.page.fill("#LBTESTCD", "PLT")
        coord.page.fill("#LBORRES", "-4")
        coord.page.fill("#LBORRESU", "mg")
        coord.page.fill("#LBDTC", day[0])
        coord.submit(coord.page.get_by_role("button", name="Save"))
        errors = coord.page.locator(".field-error").all_inner_texts()
        assert any("negative" in e for e in errors) and any("does not fit" in e for e in errors)
        # Each message is tied to its input (aria-describedby), so a screen reader reads it.
        for box in coord.page.locator("[aria-invalid='true']").all():
            described = box.get_attribute("aria-describedby")
            assert described and coord.page.locator(f"#{described}").count() == 1
            label = coord.page.locator(f"label[for='{box.get_attribute('id')}']")
            assert label.count() == 1
        coord.shot("03-lab-form-with-errors")
        coord.form(
            sid,
            "FINDINGS",
            {
                "FINDINGS": json.dumps(FINDINGS),
                "THERAPIES": json.dumps(
                    [
                        {
                            "category": "interventional_therapy",
                            "name": "TACE",
                            "start": "2025-02-10",
                            "end": "2025-02-10",
                        }
                    ]
                ),
                "CONDITIONS": json.dumps(
                    [{"name": "hbv_active", "onset": "2008-06", "ongoing": True}]
                ),
                "JUDGEMENTS": json.dumps(JUDGEMENTS),
                "DTC": day[0],
                "WEIGHT_KG": "70",
                "HEIGHT_CM": "170",
            },
        )
        for code, value, unit, lo, hi in LABS:
            values = {
                "LBTESTCD": code,
                "LBORRES": str(value),
                "LBDTC": day[0],
                "VISIT": "Screening",
            }
            if unit:
                values["LBORRESU"] = unit
            if lo is not None:
                values["LBORNRLO"] = str(lo)
            if hi is not None:
                values["LBORNRHI"] = str(hi)
            coord.form(sid, "LB", values)
        coord.subject(sid)
        expect(coord.page.locator(".decision-eligible").first).to_be_visible(timeout=WAIT_MS)
        # The investigator signs eligibility off.
        inv = Person(browser, base, "investigator", outside)
        inv.step(sid, "eligible", day[1])
        inv.shot("04-eligible")
        # Enrol and randomize: the arm is revealed now.
        coord.step(sid, "enrolled", day[2])
        coord.step(sid, "randomized", day[3])
        arm = coord.page.locator("dd strong").first.inner_text()
        assert arm in ("inkt-tace", "tace")
        coord.step(sid, "treated", day[4])
        coord.shot("05-randomized-and-treated")
        # The day's CRS/ICANS observations; a second form for the same day is refused and names
        # the record that holds it.
        crs = {
            "FADTC": day[5],
            "TEMP": "38.7",
            "TEMPU": "C",
            "HYPOTN": "Y",
            "VASOPN": "0",
            "O2DEV": "nasal-cannula",
            "O2FLOW": "2",
            "ICE": "8",
            "LOC": "alert",
        }
        coord.form(sid, "CRSICANS", crs)
        coord.page.goto(f"{base}/subjects/{sid}/forms/CRSICANS")
        coord.page.fill("#FADTC", day[5])
        coord.page.fill("#TEMP", "39.2")
        coord.submit(coord.page.get_by_role("button", name="Save"))
        refused = coord.page.locator("#FADTC-error").inner_text()
        assert "already holds the CRS/ICANS observations of " + day[5] in refused
        coord.shot("05b-crs-icans-same-day-refused")
        # A visit with lesions and labs.
        for lesion, role in (("T01", "TARGET"), ("T02", "TARGET"), ("NT01", "NON-TARGET")):
            coord.form(
                sid,
                "TU",
                {
                    "TULNKID": lesion,
                    "TUSTRESC": role,
                    "TULOC": "LIVER",
                    "TUMETHOD": "MRI",
                    "TUDTC": day[4],
                    "VISIT": "Day 0",
                },
            )
        for lesion, size in (("T01", "52"), ("T02", "31")):
            coord.form(
                sid,
                "TR",
                {
                    "TRGRPID": "TARGET",
                    "TRLNKID": lesion,
                    "TRTESTCD": "LDIAM",
                    "TRSTRESN": size,
                    "TRSTRESU": "mm",
                    "TRDTC": day[4],
                    "VISIT": "Day 0",
                },
            )
        coord.form(
            sid,
            "LB",
            {
                "LBTESTCD": "ALT",
                "LBORRES": "52",
                "LBORRESU": "U/L",
                "LBORNRHI": "40",
                "LBDTC": day[5],
                "VISIT": "Day 0",
            },
        )
        coord.page.goto(f"{base}/subjects/{sid}/forms/TR")
        coord.shot("06-measurement-form")
        coord.subject(sid)
        coord.shot("07-subject-with-visit")
        # The monitor raises a query on the ALT result; the coordinator answers it.
        mon = Person(browser, base, "monitor", outside)
        mon.subject(sid)
        alt = mon.page.locator("tr", has_text="ALT 52").locator("td").first.inner_text()
        mon.page.fill("#query-text", "ALT 52 U/L: is this the value of the source document?")
        mon.page.fill("#query-record", alt)
        mon.page.fill("#query-field", "LBORRES")
        mon.submit(mon.page.get_by_role("button", name="Raise the query"))
        mon.sees("Done: query")
        coord.subject(sid)
        box = coord.page.locator("input[id$='-answer']").first
        box.fill("Checked against the lab report: 52 U/L.")
        coord.submit(coord.page.get_by_role("button", name="Answer").first)
        coord.sees("answered")
        coord.shot("08-query-answered")
        # The investigator locks and signs the ALT record with the password re-entered.
        inv.subject(sid)
        inv.page.fill(f"#pw-{alt}", "not the password")
        inv.submit(inv.page.locator(f"#pw-{alt} ~ button"))
        inv.sees("wrong password")
        inv.page.fill(f"#pw-{alt}", PASSWORD)
        inv.page.select_option(f"#meaning-{alt}", "approval")
        inv.submit(inv.page.locator(f"#pw-{alt} ~ button"))
        inv.sees("Signed by Investigator")
        inv.shot("09-signed")
        # A missing subject is a page in the site's layout, not a JSON answer.
        coord.page.goto(f"{base}/subjects/999999")
        assert coord.page.get_by_role("heading", name="Not found").count() == 1
        assert "subject not found" in coord.page.get_by_role("alert").inner_text()
        coord.shot("10-not-found")
        # Keyboard: the login form works with Tab and Enter alone.
        anon = browser.new_context().new_page()
        anon.goto(f"{base}/login")
        anon.focus("#username")
        anon.keyboard.type("auditor")
        anon.keyboard.press("Tab")
        anon.keyboard.type(PASSWORD)
        anon.keyboard.press("Enter")
        anon.wait_for_url(f"{base}/")
    assert outside == []
