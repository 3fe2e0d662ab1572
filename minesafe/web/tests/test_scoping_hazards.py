"""The role × endpoint matrix for the hazards app: lists, details, exports, analysis and the API show
each persona exactly the hazards of the mines in its scope (404 outside it)."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from minesafe.hazards import services
from minesafe.hazards.models import Hazard, HazardItem

from .test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

ITEM_FOR = {"mine_a": "UG-01", "mine_a2": "UG-02", "pond_a": "TP-01", "mine_b": "OP-01"}
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


@pytest.fixture
def hazards(personas):
    """One hazard per fixture mine, each with evidence, a pending extension, an escalation step,
    a self-check and (for mine_a) a repeat offence with its investigation."""
    today = timezone.localdate()
    made = {}
    for name in MINES:
        mine = getattr(personas, name)
        hazard = services.report_hazard(
            personas.city, mine, HazardItem.objects.get(code=ITEM_FOR[name]), source="city_inspection",
            found_on=today - dt.timedelta(days=40), description=f"{name} hazard", responsible_person="张三",
            measures="整改", funds=1, deadline=today - dt.timedelta(days=10), emergency_plan="停止作业")
        services.transition(personas.city, hazard, "rectifying", reason="plan in place")
        services.add_attachment(personas.city, hazard, "photo", "photo.png", PNG)
        services.request_extension(personas.city, hazard, today + dt.timedelta(days=30), "weather")
        services.submit_self_check(personas.city, mine, today.replace(day=1), hazards_found=1, led_by="李四")
        made[name] = hazard
    services.escalate_due(today)
    services.report_hazard(personas.city, personas.mine_a, HazardItem.objects.get(code="UG-01"),
                           source="county_inspection", found_on=today, description="again")
    return personas, made


def hazard_ids(made, names):
    return {made[n].pk for n in names}


@pytest.mark.parametrize("persona", PERSONAS)
def test_hazard_list_page_and_export_are_scoped(client, hazards, persona):
    personas, made = hazards
    client = web_client(client, personas, persona)
    page = client.get("/hazards/")
    export = client.get("/hazards/export.xlsx")
    if persona == "anonymous":
        assert page.status_code == 302 and export.status_code == 302
        return
    html = page.content.decode()
    assert {n for n in MINES if made[n].number in html} == SCOPE[persona]
    sheet = load_workbook(io.BytesIO(export.content)).active
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {n for n in MINES if made[n].number in numbers} == SCOPE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_hazard_detail_and_attachment_are_404_outside_scope(client, hazards, persona, mine_name):
    personas, made = hazards
    hazard = made[mine_name]
    attachment = hazard.attachments.first()
    client = web_client(client, personas, persona)
    detail = client.get(f"/hazards/{hazard.pk}/")
    download = client.get(f"/hazards/{hazard.pk}/attachments/{attachment.pk}/")
    if persona == "anonymous":
        assert detail.status_code == 302 and download.status_code == 302
        return
    expected = 200 if mine_name in SCOPE[persona] else 404
    assert detail.status_code == expected
    assert download.status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_hazard_list_detail_history_are_scoped(hazards, persona):
    personas, made = hazards
    api = api_client(personas, persona)
    response = api.get("/api/v1/hazards/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    listed = {row["id"] for row in response.json()["results"]}
    assert hazard_ids(made, SCOPE[persona]) <= listed
    assert listed.isdisjoint(hazard_ids(made, set(MINES) - SCOPE[persona]))
    for name in MINES:
        expected = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/hazards/{made[name].pk}/").status_code == expected
        assert api.get(f"/api/v1/hazards/{made[name].pk}/history/").status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_export_analysis_and_work_list_cover_only_the_scope(hazards, persona):
    personas, made = hazards
    api = api_client(personas, persona)
    export = api.get("/api/v1/hazards/export/")
    analysis = api.get("/api/v1/hazards/analysis/")
    work = api.get("/api/v1/hazards/work-list/")
    if persona == "anonymous":
        assert {export.status_code, analysis.status_code, work.status_code} == {403}
        return
    numbers = {row[0] for row in load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2,
                                                                                           values_only=True)}
    assert {n for n in MINES if made[n].number in numbers} == SCOPE[persona]
    extra = 1 if "mine_a" in SCOPE[persona] else 0  # mine_a's repeat hazard
    assert analysis.json()["totals"]["total"] == len(SCOPE[persona]) + extra
    overdue = {row["id"] for row in work.json()["overdue"]}
    assert overdue == hazard_ids(made, SCOPE[persona])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ["hazard-transitions", "escalation-steps", "hazard-extensions"])
def test_api_hazard_child_lists_are_scoped(hazards, persona, endpoint):
    personas, made = hazards
    response = api_client(personas, persona).get(f"/api/v1/{endpoint}/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    seen = {row["hazard"] for row in response.json()["results"]}
    assert hazard_ids(made, SCOPE[persona]) <= seen
    visible_mines = [getattr(personas, n) for n in SCOPE[persona]]
    assert seen <= set(Hazard.objects.filter(mine__in=visible_mines).values_list("pk", flat=True))


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_self_checks_and_investigations_are_scoped(hazards, persona):
    personas, made = hazards
    api = api_client(personas, persona)
    checks = api.get("/api/v1/self-checks/?limit=500")
    investigations = api.get("/api/v1/investigations/?limit=500")
    if persona == "anonymous":
        assert checks.status_code == 403 and investigations.status_code == 403
        return
    assert {row["mine"] for row in checks.json()["results"]} == {getattr(personas, n).pk for n in SCOPE[persona]}
    expected = {personas.mine_a.pk} if "mine_a" in SCOPE[persona] else set()
    assert {row["mine"] for row in investigations.json()["results"]} == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", ["/hazards/work/", "/hazards/analysis/", "/hazards/self-checks/",
                                  "/hazards/investigations/"])
def test_hazard_pages_show_only_the_scope(client, hazards, persona, path):
    personas, made = hazards
    response = web_client(client, personas, persona).get(path)
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    html = response.content.decode()
    for name in set(MINES) - SCOPE[persona]:
        assert made[name].number not in html
        assert getattr(personas, name).name not in html


@pytest.mark.parametrize("persona", ["county_b", "ent_b", "inspector", "department"])
def test_reporting_on_an_invisible_mine_is_refused_and_changes_nothing(hazards, persona):
    personas, made = hazards
    api: APIClient = api_client(personas, persona)
    before = made["mine_a"].mine.hazards.count()
    response = api.post("/api/v1/hazards/", {"mine": personas.mine_a.pk, "item": "UG-03", "source": "self_check",
                                             "found_on": str(timezone.localdate()), "description": "x"},
                        format="json")
    assert response.status_code in (400, 403)
    assert made["mine_a"].mine.hazards.count() == before
