"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and a
staff member signing in to the running service's pages with a second factor.

Every page a browser test opens (``new_page``) is checked with axe-core
(tests/e2e/web/vendor/, not served by the service) each time a document
loads; what it finds collects in ``AXE_FINDINGS``, which the browser tests'
conftest asserts empty after each test."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.support.consentry_run import PASSWORD, RunningService, consentry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes advise: without the background-networking flags
# Chromium keeps trying to reach Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parents[1] / "e2e" / "web" / "vendor" / "axe-4.14.1.min.js"
# The whole rule set of WCAG 2.x A and AA, and axe's best practices.
AXE_RUN = """() => axe.run(document, {
  resultTypes: ["violations"],
  runOnly: {type: "tag", values: [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
}).then(r => r.violations.map(v => `${v.id} (${v.impact}): ${v.help}: `
  + v.nodes.slice(0, 3).map(n => `${n.target.join(" ")} (${n.failureSummary})`).join(", ")))"""
# Pages not ours: the API's docs are Swagger UI's own page.
AXE_SKIPS = ("/schema",)
AXE_FINDINGS: list[str] = []
AXE_CHECKED: list[str] = []
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


@dataclass
class Staff:
    """A staff account of the running service and its authenticator app."""

    email: str
    role: str
    secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int = -1

    def code(self) -> str:
        """The app's code, never one already used (a step ahead if need be)."""
        assert self.secret is not None
        totp = pyotp.TOTP(self.secret)
        step = max(int(time.time()) // 30, self.last_step + 1)
        while step > int(time.time()) // 30 + 1:  # two sign-ins in one step: wait
            time.sleep(1)
        self.last_step = step
        return totp.generate_otp(step)


def add_staff(service: RunningService, email: str, role: str) -> Staff:
    done = consentry(
        service.env, "user", "add", email, "--role", role, "--language", "en", stdin=PASSWORD + "\n"
    )
    assert done.returncode == 0, done.stderr
    return Staff(email=email, role=role)


def sign_in(page: Page, service: RunningService, staff: Staff) -> None:
    """Password, then the second factor — enrolling it on the first sign-in."""
    page.goto(f"{service.base_url}/app/login")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    if staff.secret is None:
        expect(page.locator("svg").first).to_be_visible()  # the QR code
        staff.secret = page.locator("#secret").inner_text().replace(" ", "")
        page.get_by_label("The six-digit code the app shows now").fill(staff.code())
        page.get_by_role("button", name="Turn on the second factor").click()
        staff.recovery_codes = page.locator("#recovery-codes code").all_inner_texts()
        page.get_by_role("link", name="I have saved them").click()
    else:
        page.get_by_label("The six-digit code from your authenticator app").fill(staff.code())
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def new_page(browser: Browser, *, phone: bool = False) -> Page:
    context = browser.new_context(viewport=PHONE if phone else {"width": 1280, "height": 900})
    page = context.new_page()
    page.on("load", lambda loaded: check_accessibility(loaded))
    return page


def check_accessibility(page: Page) -> None:
    """axe-core over the document just loaded; its violations go to
    ``AXE_FINDINGS`` with the page's path. A page the test leaves before axe
    ends (the document is gone) goes unchecked."""
    path = page.url.split("://", 1)[-1].partition("/")[2]
    if not page.url.startswith("http") or f"/{path}".startswith(AXE_SKIPS):
        return
    try:
        if not page.evaluate("() => typeof axe === 'object'"):
            # Evaluated by the driver, not a <script>: the pages' policy stays as it is.
            page.evaluate(AXE.read_text(encoding="utf-8"))
        found: list[str] = page.evaluate(AXE_RUN)
    except PlaywrightError:
        return
    AXE_CHECKED.append(f"/{path}")
    AXE_FINDINGS.extend(f"/{path}: {finding}" for finding in found)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
