"""The alarm board in a real headless Chromium: a gas reading over the red threshold arrives through the
ingest path while the enterprise's duty person watches the board; the alarm appears without a reload,
and the duty person acknowledges it (叫应) from the alarm page."""

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings

from conftest import PASSWORD
from minesafe.monitoring import ingest, views
from minesafe.monitoring.models import Alarm
from minesafe.monitoring.tests import conftest as monitoring_fixtures

from .conftest import ARTIFACTS, log_in

# The flush that ends each test cascades over every app's tables (the readings too).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, available_apps=settings.INSTALLED_APPS)]
monitored = monitoring_fixtures.monitored  # the monitoring tests' fixture, shared here


def test_a_new_alarm_appears_on_the_board_without_reload_and_is_acknowledged(live_server, personas, monitored,
                                                                              browser_page):
    page = browser_page
    log_in(page, live_server.url, personas.ent_a)
    page.goto(f"{live_server.url}/monitoring/")
    assert page.locator("#alarm-table tr[data-alarm]").count() == 0
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # CO above the red threshold (24 ppm) for a minute, pushed by mine A's gateway.
    now = time.time()
    body = {"readings": [{"sensor": "CO-01", "ts": now - 60, "value": 30.0},
                         {"sensor": "CO-01", "ts": now, "value": 31.5}]}
    outcome = ingest.commit([ingest.decode("http", json.dumps(body), token=monitored.token)], quarantine=False)
    assert outcome.stored == 2 and outcome.alarms_changed
    alarm = Alarm.objects.get(sensor=monitored.co, source=Alarm.Source.THRESHOLD, closed_at__isnull=True)
    assert alarm.level == 4

    row = page.wait_for_selector(f'#alarm-table tr[data-alarm="{alarm.pk}"]', timeout=15000)
    assert page.evaluate("window.__sameDocument") is True
    assert "lvl-4" in row.inner_html() and "一氧化碳" in row.inner_text()
    assert page.locator('#level-counts [data-level="4"] b').inner_text() == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "monitoring-board-new-alarm.png"), full_page=True)

    page.click(f'#alarm-table tr[data-alarm="{alarm.pk}"] a.lvl')
    page.wait_for_url(f"**/monitoring/alarms/{alarm.pk}/")
    page.fill("#acknowledge-form input[name=acknowledge-note]", "值班员已收到，正在核查")
    page.click("#acknowledge-form button[type=submit]")
    page.wait_for_load_state()
    alarm.refresh_from_db()
    assert alarm.status == Alarm.Status.ACKNOWLEDGED and alarm.acknowledged_by == personas.ent_a
    assert page.locator("#acknowledge-form").count() == 0 and page.locator("#respond-form").count() == 1
    assert "值班员已收到" in page.locator("#alarm-events").inner_text()


def test_an_unattended_board_times_out_and_shows_the_login_page(live_server, personas, monitored, browser_page,
                                                               settings, monkeypatch):
    settings.SESSION_IDLE_TIMEOUT_S = 3
    monkeypatch.setattr(views, "POLL_SECONDS", 1)
    page = browser_page
    log_in(page, live_server.url, personas.ent_a)
    page.goto(f"{live_server.url}/monitoring/?level=4")
    assert page.locator("#board-live").count() == 1
    page.wait_for_url("**/accounts/login/**", timeout=15000)  # the polls alone did not keep the session
    query = parse_qs(urlparse(page.url).query)
    assert query == {"next": ["/monitoring/?level=4"], "timeout": ["1"]}
    assert page.locator("ul.messages li").count() == 1  # why: logged out after 30 minutes without activity
    page.fill("#id_username", personas.ent_a.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/monitoring/?level=4")
