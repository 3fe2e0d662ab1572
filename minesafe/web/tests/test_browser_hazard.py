"""A major hazard followed from report to closure (销号) in a real headless Chromium by three accounts:
the enterprise reports and rectifies, the city puts it under supervision, the county verifies and closes."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.hazards.models import Hazard, HazardItem

from .conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200


def step(page, status, reason):
    page.select_option("#transition-form select[name=status]", status)
    page.fill("#transition-form input[name=reason]", reason)
    page.click("#transition-form button[type=submit]")
    page.wait_for_load_state()


def attach(page, kind, tmp_path):
    path = tmp_path / f"{kind}.png"
    path.write_bytes(PNG)
    page.select_option("#attachment-form select[name=kind]", kind)
    page.set_input_files("#attachment-form input[name=file]", str(path))
    page.click("#attachment-form button[type=submit]")
    page.wait_for_load_state()


def test_hazard_goes_from_report_to_closure_across_three_accounts(live_server, personas, browser_page, tmp_path):
    page = browser_page
    today = timezone.localdate()
    item = HazardItem.objects.get(code="UG-01", catalogue__active=True)

    # The enterprise reports what its monthly self-check found, with the five fulfilments.
    log_in(page, live_server.url, personas.ent_a)
    page.goto(f"{live_server.url}/hazards/new/")
    page.select_option("#id_mine", str(personas.mine_a.pk))
    page.select_option("#id_item", str(item.pk))
    page.select_option("#id_source", "self_check")
    page.fill("#id_found_on", today.isoformat())
    page.fill("#id_description", "二号安全出口被废石堵塞")
    page.fill("#id_responsible_person", "王建国")
    page.fill("#id_measures", "清理废石，恢复安全出口畅通")
    page.fill("#id_funds", "2.5")
    page.fill("#id_deadline", (today + dt.timedelta(days=15)).isoformat())
    page.fill("#id_emergency_plan", "整改期间停止该区域作业")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/hazards/*/")
    hazard = Hazard.objects.get(mine=personas.mine_a)
    assert hazard.status == "reported" and hazard.plan_complete
    detail = f"{live_server.url}/hazards/{hazard.pk}/"

    # The city takes it under direct supervision (挂牌督办).
    log_in(page, live_server.url, personas.city)
    page.goto(detail)
    page.click("form[action$='/supervise/'] button")
    page.wait_for_load_state()
    assert Hazard.objects.get(pk=hazard.pk).city_supervised

    # The enterprise rectifies, attaches evidence and asks for verification.
    log_in(page, live_server.url, personas.ent_a)
    page.goto(detail)
    step(page, "rectifying", "五落实已落实，开始整改")
    attach(page, "rectification", tmp_path)
    step(page, "submitted", "整改完成，申请验收")
    assert Hazard.objects.get(pk=hazard.pk).status == "submitted"
    assert page.locator("#transition-form").count() == 0  # closing is not the enterprise's to do

    # The county verifies on site, attaches its record and closes the hazard (销号).
    log_in(page, live_server.url, personas.county_a)
    page.goto(detail)
    attach(page, "verification", tmp_path)
    step(page, "closed", "现场核查合格，同意销号")
    hazard.refresh_from_db()
    assert hazard.status == "closed" and hazard.closed_at is not None
    assert list(hazard.transitions.values_list("new_status", flat=True)) == [
        "reported", "rectifying", "submitted", "closed"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hazard-closed-by-county.png"), full_page=True)
    assert "已销号" in page.locator("#hazard-status").inner_text() or "Closed" in page.locator(
        "#hazard-status").inner_text()

    # County B never sees it.
    log_in(page, live_server.url, personas.county_b)
    assert page.goto(detail).status == 404
