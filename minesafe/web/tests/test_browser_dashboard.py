"""The city dashboard in a real headless Chromium: the map draws the county outlines and the mines offline
(no basemap), the figures match the records, the city switches to a county, a county official sees only their
own county, and the large-screen mode refreshes its panels. Screenshots go to test-artifacts/."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.evaluation.tests.factories import hazard
from minesafe.hazards.models import Hazard
from minesafe.monitoring.models import Level

from .conftest import ARTIFACTS, log_in
from .test_dashboard import alarm, place_mines

pytestmark = pytest.mark.browser


def test_city_dashboard_map_figures_county_switch_and_large_screen(live_server, personas, browser_page):
    p, page = personas, browser_page
    today = timezone.localdate()
    place_mines(p)
    hazard(p.mine_a, "UG-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=today - dt.timedelta(days=30),
           by=p.county_a, deadline=today - dt.timedelta(days=2))
    hazard(p.mine_b, "OP-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=today, by=p.county_b,
           deadline=today + dt.timedelta(days=10))
    alarm(p.mine_b, Level.RED, "b-red")
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)

    log_in(page, live_server.url, p.city)
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.wait_for_selector("#dash-map[data-outlines-drawn='11']")
    page.wait_for_selector("#dash-map[data-points-drawn]")
    assert page.locator("#dash-map").get_attribute("data-points-drawn") == "4"
    assert page.locator("#dash-hazards-open").inner_text() == "2"
    assert page.locator("#dash-hazards-overdue").inner_text() == "1"
    assert page.locator("#dash-alarms-open").inner_text() == "1"
    assert page.locator(f"#dash-counties tr[data-county='{p.county_a_region.code}']").count() == 1
    assert outside == []  # vendored scripts, local outlines, no basemap: nothing leaves the server
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-city.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000

    page.select_option("#dash-scope select", p.county_b_region.code)
    page.wait_for_url(f"**county={p.county_b_region.code}**")
    assert page.locator("#dash-hazards-open").inner_text() == "1"
    assert page.locator("#dash-counties").count() == 0

    page.clock.install()  # the page's timers under the test's control: a minute passes in an instant
    page.click("#dash-screen-link")
    page.wait_for_url("**/dashboard/screen/**")
    assert page.locator(".mainnav").count() == 0
    page.wait_for_selector("#dash-map[data-points-drawn]")
    clock = page.locator("#screen-clock").inner_text()
    assert len(clock) == 19 and clock.startswith(str(today.year))
    # a new alarm reaches the wall without a reload: the panels refresh themselves every minute
    alarm(p.mine_b, Level.ORANGE, "b-orange")
    assert page.locator("#dash-alarms-open").inner_text() == "1"
    page.clock.fast_forward(61_000)
    page.wait_for_function("document.getElementById('dash-alarms-open').textContent.trim() === '2'")
    page.screenshot(path=str(ARTIFACTS / "dashboard-screen-county.png"), full_page=False)

    log_in(page, live_server.url, p.county_a)
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#dash-map[data-points-drawn]")
    assert page.locator("#dash-hazards-open").inner_text() == "1"
    assert page.locator("#dash-scope").count() == 0
    assert p.mine_b.name not in page.content()
    response = page.goto(f"{live_server.url}/dashboard/?county={p.county_b_region.code}")
    assert response.status == 404
