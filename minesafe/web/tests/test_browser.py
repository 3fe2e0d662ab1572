"""A county official in a real headless Chromium: log in, filter the ledger, see only county A."""

import os
import shutil
from pathlib import Path

import pytest

from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it when run as root)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_county_user_logs_in_filters_the_ledger_and_sees_only_their_county(live_server, personas, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/mines/")
    assert "/accounts/login/" in page.url  # deny by default

    page.fill("#id_username", personas.county_a.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/mines/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    table = page.locator("#mine-table tbody")
    listed = set(table.locator("tr td:first-child").all_inner_texts())
    assert listed == {personas.mine_a.code, personas.mine_a2.code, personas.pond_a.code}
    assert personas.mine_b.code not in page.content()

    page.select_option("#id_mine_type", "tailings_pond")
    page.click("#mine-filters button[type=submit]")
    page.wait_for_url("**mine_type=tailings_pond**")
    rows = table.locator("tr td:first-child").all_inner_texts()
    assert rows == [personas.pond_a.code]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ledger-county-a-filtered.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.click(f"text={personas.pond_a.name}")
    page.wait_for_url(f"**/mines/{personas.pond_a.pk}/")
    assert page.locator("h2", has_text="审计").count() + page.locator("h2", has_text="Audit").count() >= 1
