"""A county official in a real headless Chromium: log in, filter the ledger, see only county A."""

import pytest

from conftest import PASSWORD

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser


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
