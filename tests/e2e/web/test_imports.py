"""The import in a real browser: a marketer uploads a CSV, reads the dry
run's table (one row per line, the refused with why), commits, and finds the
new people among the contacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.consentry_run import RunningService
from tests.support.web import Staff, new_page, sign_in

pytestmark = pytest.mark.slow

FILE = (
    "full_name,email,legal_basis,source,consent_email_direct_marketing,consent_evidence_text\n"
    "Ilona Importoitu,ilona@example.fi,consent,employer,grant,Messulomake 2026\n"
    "Jussi Jonossa,jussi@example.fi,consent,employer,,\n"
    "Rikki Rivi,rikki-ei-osoite,consent,employer,,\n"
)


def test_upload_see_the_dry_run_commit_and_see_the_contacts(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff], tmp_path: Path
) -> None:
    marketer = staff("marketer")
    page = new_page(browser)
    sign_in(page, service, marketer)
    path = tmp_path / "messut.csv"
    path.write_text(FILE, encoding="utf-8")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import contacts", level=1)).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_role("heading", name="Import: dry run", level=1)).to_be_visible()
    table = page.locator("#import-rows")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("#line-2")).to_contain_text("will be created")
    expect(table.locator("#line-2")).to_contain_text("Ilona Importoitu")
    expect(table.locator("#line-4")).to_contain_text("refused")
    expect(table.locator("#line-4")).to_contain_text("email")
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-refused")).to_have_text("1")
    assert page.url.endswith("/app/imports/dry-run")  # nothing of the file in the URL

    page.get_by_role("button", name="Import messut.csv").click()
    expect(page.get_by_role("heading", name="Import: done", level=1)).to_be_visible()
    expect(page.locator("#import-status")).to_contain_text("messut.csv was imported.")
    expect(page.locator("#line-3")).to_contain_text("created")

    page.get_by_role("link", name="See the contacts").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Ilona Importoitu")).to_be_visible()
    expect(page.get_by_role("link", name="Jussi Jonossa")).to_be_visible()
    expect(page.get_by_text("Rikki Rivi")).to_have_count(0)
