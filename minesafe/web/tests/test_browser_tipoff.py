"""A whistleblower report in a real headless Chromium, from the public form to the feedback the reporter reads
with the tracking code: the county accepts, verifies, handles it by opening a major hazard, and answers.
Script typed into the report stays text on every page that shows it."""

import re

import pytest
from django.conf import settings

from minesafe.hazards.models import Hazard, HazardItem
from minesafe.tipoffs.models import Tipoff

from .conftest import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, available_apps=settings.INSTALLED_APPS)]
SCRIPT = "<script>window.__pwned = 1; alert('x')</script>"


def step(page, name: str, fields: dict) -> None:
    form = page.locator(f"#step-{name} form")
    for field, value in fields.items():  # the step forms prefix their fields with the step's name
        target = form.locator(f'[name="{name}-{field}"]')
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_tipoff_from_submission_to_feedback(live_server, personas, browser_page, settings):
    settings.TIPOFF_MIN_FILL_SECONDS = 0  # a person takes longer; the test need not wait
    page = browser_page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    mine = personas.mine_a

    # The public: no login, anonymous by default.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/public/tipoffs/new/")
    page.select_option("#id_county", str(mine.county_id))
    page.select_option("#id_mine", str(mine.pk))
    page.select_option("#id_category", "illegal_production")
    page.fill("#id_description", f"停产矿山夜间有矿车出入，井口有灯光。{SCRIPT}")
    page.click("#tipoff-form button[type=submit]")
    page.wait_for_load_state()
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9-]{20,}", code), code
    tipoff = Tipoff.objects.get()
    assert tipoff.status == Tipoff.Status.RECEIVED and tipoff.anonymous and tipoff.handling_county_id == mine.county_id

    # The county handles it; the reporter stays anonymous on the officers' page; the script is text.
    log_in(page, live_server.url, personas.county_a)
    page.goto(f"{live_server.url}/tipoffs/{tipoff.pk}/")
    assert SCRIPT in page.locator("#tipoff-description").inner_text()
    step(page, "accept", {})
    step(page, "verify", {"substantiated": "yes", "findings": "夜查发现井下有人作业"})
    item = next(i for i in HazardItem.objects.filter(catalogue__active=True).order_by("code") if i.fits(mine.mine_type))
    step(page, "handle", {"action_taken": "责令停止作业，立案调查", "hazard_item": str(item.pk),
                          "hazard_description": "停产期间擅自组织生产"})
    step(page, "feedback", {"feedback": "经核实情况属实，已责令停止作业并立案调查。感谢您的举报。"})
    tipoff.refresh_from_db()
    assert tipoff.status == Tipoff.Status.FEEDBACK_GIVEN
    hazard = Hazard.objects.get(pk=tipoff.hazard_id)
    assert hazard.source == Hazard.Source.TIPOFF and hazard.mine_id == mine.pk
    assert page.locator("#tipoff-status").inner_text().strip()

    # Another county cannot open it.
    log_in(page, live_server.url, personas.county_b)
    response = page.goto(f"{live_server.url}/tipoffs/{tipoff.pk}/")
    assert response.status == 404

    # The reporter checks with the code (typed in lower case with spaces: it still matches).
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/public/tipoffs/track/")
    page.fill("#id_code", " ".join(code.lower().replace("-", "")[i:i + 5] for i in range(0, 20, 5)))
    page.click("#track-form button[type=submit]")
    page.wait_for_load_state()
    assert "经核实情况属实" in page.locator("#report-feedback").inner_text()
    assert SCRIPT not in page.content()  # the public page shows only the progress, never the report's text

    # A forged code finds nothing and says nothing about other reports.
    page.fill("#id_code", "ABCDE-FGHJK-MNPQR-STUVW")
    page.click("#track-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#not-found").is_visible() and page.locator("#report").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tipoff-tracked.png"), full_page=True)
    assert dialogs == [] and page.evaluate("window.__pwned") is None
