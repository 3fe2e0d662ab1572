"""Who sees what (the role matrix over every page, download and API endpoint), the pages' step forms, and the
xlsx downloads opening in openpyxl."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from minesafe.evaluation import services
from minesafe.evaluation.models import Objection, ScoreSheet
from minesafe.evaluation.scoring import Quarter
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

from . import factories as f

pytestmark = pytest.mark.django_db
Q3 = Quarter(2026, 3)
OFFICERS = {"city", "county_a", "county_b"}
A, B = "130827", "130822"


@pytest.fixture
def world(personas):
    """County A's Q3 sheet published; county B's Q3 a draft with a manual item; some data for the statistics."""
    p = personas
    for item, value in (("documents", 4), ("case_files", 4), ("satisfaction", 4)):
        services.set_manual_score(p.city, p.county_a_region, Q3, item, value, "评查")
    services.publish(p.city, p.county_a_region, Q3)
    services.set_manual_score(p.city, p.county_b_region, Q3, "documents", 2, "文书不全")
    f.inspection(p.mine_b, f.county_org(p.county_b_region), dt.date(2026, 8, 3), p.county_b)
    return p


def sheet_of(code: str) -> ScoreSheet:
    return ScoreSheet.objects.get(county__code=code, year=2026, quarter=3)


PAGES = ["/evaluation/", "/evaluation/2026/q3/", "/evaluation/2026/q3/ranking.xlsx", "/evaluation/statistics/",
         "/evaluation/statistics.xlsx?year=2026", "/evaluation/2026/h1/", "/evaluation/2026/year/"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", PAGES)
def test_pages_are_for_the_city_and_counties_only(client, world, persona, path):
    response = web_client(client, world, persona).get(path)
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == (200 if persona in OFFICERS else 403)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("code", [A, B])
def test_a_sheet_page_is_404_for_another_county(client, world, persona, code):
    response = web_client(client, world, persona).get(f"/evaluation/2026/q3/{code}/")
    if persona == "anonymous":
        assert response.status_code == 302
    elif persona not in OFFICERS:
        assert response.status_code == 403
    else:
        own = {"county_a": A, "county_b": B}.get(persona)
        assert response.status_code == (200 if persona == "city" or own == code else 404)


def test_a_county_sees_its_own_live_draft_but_not_other_drafts_in_the_ranking(client, world):
    page = web_client(client, world, "county_b").get("/evaluation/2026/q3/").content.decode()
    assert f'data-county="{A}" data-status="published"' in page
    assert f'data-county="{B}" data-status="none"' in page  # its own draft is not ranked for it either
    assert f'href="/evaluation/2026/q3/{A}/"' not in page and f'href="/evaluation/2026/q3/{B}/"' in page
    own = client.get(f"/evaluation/2026/q3/{B}/").content.decode()
    assert "Draft (computed live)" in own and "文书不全" in own
    city = web_client(client, world, "city").get("/evaluation/2026/q3/").content.decode()
    assert f'data-county="{B}" data-status="draft"' in city


def test_the_statistics_of_a_county_show_only_its_own_county(client, world):
    page = web_client(client, world, "county_a").get("/evaluation/statistics/?year=2026").content.decode()
    assert f'data-county="{A}"' in page and f'data-county="{B}"' not in page
    city = web_client(client, world, "city").get("/evaluation/statistics/?year=2026").content.decode()
    assert city.count('data-county="') == 12


# API ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_sheet_list_and_detail_are_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/evaluation/sheets/")
    if persona not in OFFICERS:
        assert response.status_code == 403
        return
    codes = {row["county"] for row in response.json()["results"]}
    assert codes == {"city": {A, B}, "county_a": {A}, "county_b": {B}}[persona]
    for code in (A, B):
        detail = api.get(f"/api/v1/evaluation/sheets/{sheet_of(code).pk}/")
        assert detail.status_code == (200 if code in codes else 404)
        live = api.get(f"/api/v1/evaluation/sheets/live/?county={code}&year=2026&quarter=3")
        assert live.status_code == (200 if code in codes else 404)


def test_api_detail_returns_the_frozen_result_of_a_published_sheet_and_the_live_draft_otherwise(world):
    api = api_client(world, "city")
    published = api.get(f"/api/v1/evaluation/sheets/{sheet_of(A).pk}/").json()
    assert published["status"] == "published" and published["result"] == sheet_of(A).snapshot
    draft = api.get(f"/api/v1/evaluation/sheets/{sheet_of(B).pk}/").json()
    assert draft["status"] == "draft" and draft["result"]["pending_manual"] == ["case_files", "satisfaction"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_ranking_and_statistics_are_for_officers(world, persona):
    api = api_client(world, persona)
    ranking = api.get("/api/v1/evaluation/ranking/?year=2026&quarter=3&live=true")
    statistics = api.get("/api/v1/evaluation/statistics/?year=2026")
    if persona not in OFFICERS:
        assert ranking.status_code == statistics.status_code == 403
        return
    rows = {r["county"]: r for r in ranking.json()}
    assert rows[A]["status"] == "published"
    if persona == "city":  # drafts ranked live with the published sheets
        assert rows[B]["status"] == "draft" and sorted(r["rank"] for r in rows.values())[0] == 1
        assert all(r["rank"] for r in rows.values())
    else:  # live=true is the city's only: a county sees the published ranking
        assert rows[B]["status"] == "none" and rows[B]["rank"] is None and rows[A]["rank"] == 1
    counties = [s["county"] for s in statistics.json()]
    assert counties == ([*counties] if persona == "city" else [{"county_a": A, "county_b": B}[persona]])
    assert len(counties) == (12 if persona == "city" else 1)


def test_api_actions_go_through_the_services_with_clear_errors(world):
    p = world
    city, county_a, county_b = api_client(p, "city"), api_client(p, "county_a"), api_client(p, "county_b")
    bad = city.post("/api/v1/evaluation/sheets/manual-score/", {"county": B, "year": 2026, "quarter": 3,
                                                                 "item": "documents", "score": "7", "reason": "x"})
    assert bad.status_code == 400 and "score" in bad.json()
    own = county_b.post("/api/v1/evaluation/sheets/manual-score/", {
        "county": B, "year": 2026, "quarter": 3, "item": "documents", "score": "5", "reason": "自评"})
    assert own.status_code == 403
    unknown = city.post("/api/v1/evaluation/sheets/publish/", {"county": "999999", "year": 2026, "quarter": 3})
    assert unknown.status_code == 400 and "county" in unknown.json()
    incomplete = city.post("/api/v1/evaluation/sheets/publish/", {"county": B, "year": 2026, "quarter": 3})
    assert incomplete.status_code == 400 and "manual" in incomplete.json()
    again = city.post("/api/v1/evaluation/sheets/publish/", {"county": A, "year": 2026, "quarter": 3})
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    sheet_a = sheet_of(A)
    assert county_b.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/objection/", {"reason": "越权"}).status_code == 404
    filed = county_a.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/objection/", {"reason": "满意度有误"})
    assert filed.status_code == 201 and filed.json()["status"] == "pending"
    assert county_a.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/objection/", {"reason": "再次"}).status_code == 409
    assert county_a.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/answer/", {
        "decision": "reject", "reason": "自答"}).status_code == 403
    answered = city.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/answer/", {
        "decision": "adjust", "item": "satisfaction", "score": "5", "reason": "复核"})
    assert answered.status_code == 200 and answered.json()["status"] == "adjusted"
    assert city.post(f"/api/v1/evaluation/sheets/{sheet_a.pk}/answer/", {
        "decision": "reject", "reason": "再答"}).status_code == 409
    detail = city.get(f"/api/v1/evaluation/sheets/{sheet_a.pk}/").json()
    assert detail["objection"]["new_score"] == "5.00" and float(detail["total"]) == detail["result"]["total"]


# Pages: the step forms ---------------------------------------------------------------------------
def test_the_city_scores_and_publishes_on_the_page_and_the_county_objects(client, world):
    p = world
    url = f"/evaluation/2026/q3/{B}/"
    city = web_client(client, p, "city")
    refused = city.post(url, {"action": "manual", "manual-item": "case_files", "manual-score": "9",
                              "manual-reason": "过高"})
    assert refused.status_code == 200 and "between 0 and 5" in refused.content.decode()
    for item in ("case_files", "satisfaction"):
        assert city.post(url, {"action": "manual", "manual-item": item, "manual-score": "3.5",
                               "manual-reason": "评查"}).status_code == 302
    assert city.post(url, {"action": "publish"}).status_code == 302
    assert sheet_of(B).is_published
    page = city.get(url).content.decode()
    assert 'id="step-manual"' not in page and 'id="step-publish"' not in page
    client.logout()
    county = web_client(client, p, "county_b")
    assert 'id="step-object"' in county.get(url).content.decode()
    assert county.post(url, {"action": "object", "object-reason": "文书评分偏低"}).status_code == 302
    assert Objection.objects.get(sheet=sheet_of(B)).reason == "文书评分偏低"
    assert county.post(url, {"action": "publish"}).status_code == 403  # no step is offered to it any more
    assert county.post(f"/evaluation/2026/q3/{A}/", {"action": "object", "object-reason": "x"}).status_code == 404
    client.logout()
    city = web_client(client, p, "city")
    assert city.post(url, {"action": "answer", "answer-decision": "adjust", "answer-item": "documents",
                           "answer-score": "3", "answer-reason": "补充材料后调整"}).status_code == 302
    assert Objection.objects.get(sheet=sheet_of(B)).status == Objection.Status.ADJUSTED


def test_a_county_cannot_post_steps_on_its_draft(client, world):
    response = web_client(client, world, "county_b").post(f"/evaluation/2026/q3/{B}/", {
        "action": "manual", "manual-item": "documents", "manual-score": "5", "manual-reason": "自评"})
    assert response.status_code == 403
    assert sheet_of(B).manual_scores.get().score == 2


# Downloads ---------------------------------------------------------------------------------------
def test_the_ranking_and_statistics_downloads_open_in_openpyxl(client, world):
    web = web_client(client, world, "city")
    ranking = load_workbook(io.BytesIO(web.get("/evaluation/2026/q3/ranking.xlsx").content))
    rows = list(ranking.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("名次", "县区代码", "县区", "状态") and "总分" in rows[0]
    assert len(rows) == 13
    by_code = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_code[A]["状态"] == "已发布" and by_code[A]["总分"] == float(sheet_of(A).total)
    assert by_code[B]["状态"] == "草稿(实时计算)" and [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    stats = load_workbook(io.BytesIO(web.get("/evaluation/statistics.xlsx?year=2026").content))
    srows = list(stats.active.iter_rows(values_only=True))
    assert srows[0][0] == "县区代码" and any(r[0] == B and r[2] == "2026-08" and r[3] == 1 for r in srows)
    client.logout()
    county = web_client(client, world, "county_a")
    own = list(load_workbook(io.BytesIO(county.get("/evaluation/statistics.xlsx?year=2026").content))
               .active.iter_rows(values_only=True))
    assert {r[0] for r in own[1:]} == {A}


def test_the_sheet_page_shows_each_item_with_its_inputs_and_records(client, world):
    p = world
    f.hazard(p.mine_b, "OP-01", source="county_inspection", found_on=dt.date(2026, 7, 1), by=p.county_b,
             deadline=dt.date(2026, 7, 20), closed_at=f.at(dt.date(2026, 7, 25)))
    page = web_client(client, p, "county_b").get(f"/evaluation/2026/q3/{B}/").content.decode()
    assert 'data-item="hazards_on_time"' in page and 'id="item-hazards_on_time"' in page
    assert "OP-01" in page and "2026-07-25" in page  # the record counted, late
    assert 'data-flag="no_plan"' in page and 'data-item="penalties" data-status="zero_penalty"' in page
    assert 'id="step-' not in page  # a county has no step on its draft


def test_the_overview_lists_pending_objections_for_the_city_and_the_notice_ranks_published_quarters(client, world):
    p = world
    services.file_objection(p.county_a, sheet_of(A), "申诉理由")
    city = web_client(client, p, "city")
    assert 'id="pending-objections"' in city.get("/evaluation/").content.decode()
    notice = city.get("/evaluation/2026/h2/").content.decode()
    assert f'<tr data-county="{A}"><td class="num">1</td>' in notice
    assert "Q3: 1 of 12 published." in notice
    client.logout()
    county = web_client(client, p, "county_b")
    assert 'id="pending-objections"' not in county.get("/evaluation/").content.decode()
    assert f'<tr data-county="{A}"><td class="num">1</td>' in county.get("/evaluation/2026/h2/").content.decode()
    assert client.get("/evaluation/2026/h3/").status_code == 404
    assert client.get("/evaluation/2027/q1/").status_code == 404  # not begun


def test_the_pages_render_in_chinese_with_the_catalogue_names(client, world, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    web = web_client(client, world, "city")
    for path in ("/evaluation/", "/evaluation/2026/q3/", f"/evaluation/2026/q3/{A}/", "/evaluation/2026/year/",
                 "/evaluation/statistics/"):
        response = web.get(path)
        assert response.status_code == 200 and response["Content-Language"] == "zh-hans"
    assert "执法检查计划完成率" in web.get(f"/evaluation/2026/q3/{A}/").content.decode()
