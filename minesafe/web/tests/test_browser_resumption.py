"""Resumption acceptance in a real headless Chromium: the county's team opens the check, the computed items
are judged from the data, one manual item fails and the application is refused; a new application passes
every item and the mine produces again."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from minesafe.operations import resumption
from minesafe.operations.models import Census, HiddenFactor, ResumptionApplication
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from .conftest import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, available_apps=settings.INSTALLED_APPS)]
MANUAL = ["technical_examined", "rectified", "equipment_tested", "training"]


def ready_suspended_mine(personas) -> Mine:
    """Mine A: suspended, licensed, its census done and treated, and (underground: it must connect) a sensor
    that reported."""
    from minesafe.monitoring import services as monitoring

    today = timezone.localdate()
    mine = personas.mine_a
    registry.change_status(personas.ent_a, mine, Mine.Status.SUSPENDED, reason="停产整顿",
                           effective_date=today - dt.timedelta(days=60))
    Mine.objects.filter(pk=mine.pk).update(licence_no="（冀）FM安许证字〔2024〕001号",
                                           licence_expiry=today + dt.timedelta(days=365))
    census = Census.objects.create(mine=mine, provider="河北某地质勘查院", scope_years=3,
                                   started_on=today - dt.timedelta(30), completed_on=today - dt.timedelta(5),
                                   status="completed", report_summary="普查报告", created_by=personas.ent_a)
    HiddenFactor.objects.create(census=census, kind="void", location="-150m 中段", description="采空区",
                                treatment="treated", treated_on=today - dt.timedelta(3))
    gateway, _token = monitoring.create_gateway(personas.city, mine, "网关")
    sensor = monitoring.create_sensor(personas.city, mine, code="CO-01", name="一氧化碳", kind="co", gateway=gateway)
    type(sensor).objects.filter(pk=sensor.pk).update(last_received_at=timezone.now())
    from minesafe.operations.tests.test_resumption import examined_chief

    examined_chief(mine, personas)
    mine.refresh_from_db()
    return mine


def judge(page, code: str, passed: bool, text: str) -> None:
    row = page.locator(f'tr[data-item="{code}"]')
    row.locator(f'input[name="item-result"][value="{"passed" if passed else "failed"}"]').check()
    row.locator('textarea[name="item-evidence"]' if passed else 'textarea[name="item-reason"]').fill(text)
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(f'tr[data-item="{code}"]').get_attribute("data-result") == ("passed" if passed else "failed")


def test_acceptance_fails_on_one_item_then_passes(live_server, personas, browser_page):
    page = browser_page
    mine = ready_suspended_mine(personas)
    first = resumption.apply(personas.ent_a, mine, planned_resumption=timezone.localdate(), statement="已整改完毕")
    log_in(page, live_server.url, personas.county_a)
    page.goto(f"{live_server.url}/operations/resumption/{first.pk}/")
    page.fill("#start input[name=start-team]", "宽城县应急管理局验收组")
    page.click("#start button[type=submit]")
    page.wait_for_load_state()
    assert page.locator('tr[data-item="census"]').get_attribute("data-result") == "passed"
    for code in MANUAL[:-1]:
        judge(page, code, True, f"{code}：资料齐全，现场核实")
    judge(page, "training", False, "三名井下工人未参加复产前培训")
    page.click("#decide button[type=submit]")
    page.wait_for_load_state()
    assert ResumptionApplication.objects.get(pk=first.pk).status == "refused"
    assert "三名井下工人未参加复产前培训" in page.locator("#decision").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "resumption-refused.png"), full_page=True)

    # The enterprise applies again in the browser; the team passes every item and accepts.
    log_in(page, live_server.url, personas.ent_a)
    page.goto(f"{live_server.url}/operations/resumption/apply/{mine.pk}/")
    page.fill("input[name=planned_resumption]", timezone.localdate().isoformat())
    page.fill("textarea[name=statement]", "培训已补，申请复产")
    page.click("#apply-form button[type=submit]")
    page.wait_for_load_state()
    second = ResumptionApplication.objects.exclude(pk=first.pk).get()
    log_in(page, live_server.url, personas.county_a)
    page.goto(f"{live_server.url}/operations/resumption/{second.pk}/")
    page.fill("#start input[name=start-team]", "宽城县应急管理局验收组")
    page.click("#start button[type=submit]")
    page.wait_for_load_state()
    for code in MANUAL:
        judge(page, code, True, f"{code}：资料齐全，现场核实")
    page.click("#decide button[type=submit]")
    page.wait_for_load_state()
    assert ResumptionApplication.objects.get(pk=second.pk).status == "accepted"
    assert Mine.objects.get(pk=mine.pk).status == "producing"
    assert page.locator("#mine-status").inner_text() == "正常生产"
    page.screenshot(path=str(ARTIFACTS / "resumption-accepted.png"), full_page=True)
