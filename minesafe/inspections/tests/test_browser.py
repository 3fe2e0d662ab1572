"""An inspection on a phone (375 px wide) in a real headless Chromium: start it, record results with big tap
targets, sign on the canvas with a finger (the lead inspector and the enterprise's representative), complete it.
Nothing on the way is wider than the screen."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Inspection, Signature

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, available_apps=settings.INSTALLED_APPS)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def phone():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                      locale="zh-CN")
        yield context.new_page()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def fits_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


def sign(page, section: str) -> None:
    pad = page.locator(f"#{section} canvas.sign-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(x + step * 22, y + (15 if step % 2 else -15))
    page.mouse.up()


def test_an_inspection_on_a_phone(live_server, personas, phone):
    from conftest import PASSWORD

    page = phone
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", personas.county_a.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/inspections/new/?mine={personas.mine_a.pk}")
    fits_the_screen(page)
    page.select_option("#id_method", "unannounced")
    page.click("#start button[type=submit]")
    page.wait_for_load_state()
    inspection = Inspection.objects.get()
    assert page.url.endswith(f"/inspections/{inspection.pk}/")
    fits_the_screen(page)

    # Results: one tap on a big segment and Save, per item.
    first = inspection.items.order_by("position").first()
    card = page.locator(f"#item-{first.pk}")
    segment = card.locator("label:has(input[value=compliant])")
    assert segment.bounding_box()["height"] >= 44 and card.locator("button").bounding_box()["height"] >= 44
    segment.click()
    card.locator("button[type=submit]").click()
    page.wait_for_load_state()
    first.refresh_from_db()
    assert first.result == "compliant"
    major = inspection.items.filter(hazard_item__isnull=False).order_by("position")[1]
    card = page.locator(f"#item-{major.pk}")
    card.locator("label:has(input[value=hazard_found])").click()
    card.locator("textarea[name=note]").fill("主排水泵仅两台可用")
    card.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert Hazard.objects.get().inspection_finding.item_id == major.pk

    # Signatures drawn with a finger on the canvas, then completion.
    sign(page, "sign_lead")
    page.click("#sign_lead button[type=submit].primary")
    page.wait_for_load_state()
    page.fill("#id_sign_enterprise-signer_name", "王矿长")
    sign(page, "sign_enterprise")
    page.click("#sign_enterprise button[type=submit].primary")
    page.wait_for_load_state()
    signatures = {s.role: s for s in Signature.objects.filter(inspection=inspection)}
    assert set(signatures) == set(Signature.Role.values), page.locator(".messages").all_inner_texts()
    assert set(signatures) == set(Signature.Role.values)
    assert all(s.file and s.size > 500 and not s.refused for s in signatures.values())
    fits_the_screen(page)
    page.click("#complete button[type=submit]")
    page.wait_for_load_state()
    inspection.refresh_from_db()
    assert inspection.status == Inspection.Status.COMPLETED
    assert page.locator("#signature-enterprise img").count() == 1
    fits_the_screen(page)
    page.goto(f"{live_server.url}/inspections/")
    fits_the_screen(page)
