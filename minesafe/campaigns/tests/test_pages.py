"""Who sees what: the role × endpoint matrix over every campaign and publicity page, export and API endpoint
(outside scope 404, wrong role 403, no login to the login page); then the page flows: creating a campaign, adding
sites, starting, visiting (to the inspection page), exempting, closing with reasons, recording an event with its
evidence, and their refusals (400 naming the field)."""

import csv
import io
import re
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from minesafe.campaigns import publicity, services
from minesafe.campaigns.models import Campaign, CampaignSite, PublicityEvent
from minesafe.inspections.demo import signature_png
from minesafe.inspections.models import Inspection
from minesafe.web.tests.test_scoping import api_client, web_client

from .conftest import days, new_campaign, site_of, visit, work_through

pytestmark = pytest.mark.django_db
PERSONAS = ["city", "county_a", "county_b", "ent_a", "ent_b", "department", "inspector", "anonymous"]
CAMPAIGNS = {"city": {"c1", "c2"}, "county_a": {"c1", "c2"}, "county_b": {"c1"}, "ent_a": {"c1"}, "ent_b": {"c1"},
             "inspector": {"c1"}, "department": set(), "anonymous": set()}
SITES = {"city": {"a", "a2", "b", "s"}, "county_a": {"a", "a2", "s"}, "county_b": {"b"}, "ent_a": {"a"},
         "ent_b": {"b"}, "inspector": {"a2"}, "department": set(), "anonymous": set()}
EVENTS = {"city": {"e_city", "e_a", "e_b"}, "county_a": {"e_a"}, "county_b": {"e_b"}}
PNG = signature_png(5)


@pytest.fixture
def world(running):
    """c1: the city's running campaign (a: visited and completed with a finding; a2: pending; b: a visit under
    way); c2: county A's draft with the suspended plant s; events of the city (city-wide), county A and county B."""
    p, c1 = running.p, running.campaign
    done = work_through(visit(p.county_a, site_of(c1, running.plant_a)), found=1, checked=2)
    under_way = visit(p.county_b, site_of(c1, running.plant_b))
    c2 = new_campaign(p.county_a, code="ZX-KC-01")
    services.add_sites(p.county_a, c2, [running.plant_s])
    sites = {"a": site_of(c1, running.plant_a), "a2": site_of(c1, running.plant_a2), "b": site_of(c1, running.plant_b),
             "s": site_of(c2, running.plant_s)}
    event = {"held_on": days(-5), "kind": "lecture", "title": "宣讲", "audience": "enterprises", "reach": 80}
    events = {"e_city": publicity.record_event(p.city, **{**event, "reach": 500}),
              "e_a": publicity.record_event(p.county_a, **event, evidence=[("照片.png", PNG)]),
              "e_b": publicity.record_event(p.county_b, **event)}
    return SimpleNamespace(p=p, campaigns={"c1": c1, "c2": c2}, sites=sites, events=events, done=done,
                           under_way=under_way, plants=running)


def marked(response, attr: str) -> set[int]:
    return {int(v) for v in re.findall(rf'data-{attr}="(\d+)"', response.content.decode())}


def pks(objects: dict, names) -> set[int]:
    return {objects[n].pk for n in names}


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[tuple]:
    return list(load_workbook(io.BytesIO(response.content), read_only=True).active.iter_rows(values_only=True))


def refused_anonymously(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response["Location"]


# Campaigns and sites: pages, exports, API --------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_campaign_list_shows_exactly_the_personas_campaigns(client, world, persona):
    response = web_client(client, world.p, persona).get("/campaigns/")
    if persona == "anonymous":
        assert refused_anonymously(response)
    elif persona == "department":
        assert response.status_code == 403
    else:
        assert marked(response, "campaign") == pks(world.campaigns, CAMPAIGNS[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_campaign_and_site_pages_are_404_outside_scope(client, world, persona):
    web = web_client(client, world.p, persona)
    paths = {f"/campaigns/{c.pk}{suffix}": name in CAMPAIGNS[persona] for name, c in world.campaigns.items()
             for suffix in ("/", "/sites/", "/sites/export.csv", "/sites/export.xlsx")}
    paths.update({f"/campaigns/sites/{site.pk}/": name in SITES[persona] for name, site in world.sites.items()})
    for path, visible in paths.items():
        response = web.get(path)
        if persona == "anonymous":
            assert refused_anonymously(response), path
        elif persona == "department":
            assert response.status_code == 403, path
        else:
            assert response.status_code == (200 if visible else 404), path


@pytest.mark.parametrize("persona", [p for p in PERSONAS if CAMPAIGNS[p]])
def test_the_site_list_and_its_exports_show_exactly_the_personas_sites(client, world, persona):
    web = web_client(client, world.p, persona)
    c1 = world.campaigns["c1"]
    expected = SITES[persona] - {"s"}
    assert marked(web.get(f"/campaigns/{c1.pk}/sites/"), "site") == pks(world.sites, expected)
    codes = {world.sites[n].mine.code for n in expected}
    assert {row[3] for row in csv_rows(web.get(f"/campaigns/{c1.pk}/sites/export.csv"))[1:]} == codes
    assert {row[3] for row in xlsx_rows(web.get(f"/campaigns/{c1.pk}/sites/export.xlsx"))[1:]} == codes
    detail = web.get(f"/campaigns/{c1.pk}/")
    assert f"of {len(expected)} sites done or exempt" in detail.content.decode()


def test_an_enterprise_sees_its_sites_completed_inspections_only(client, world):
    c1 = world.campaigns["c1"]
    ent_a = marked(web_client(client, world.p, "ent_a").get(f"/campaigns/{c1.pk}/sites/"), "inspection")
    assert ent_a == {world.done.pk}
    client.logout()
    ent_b = web_client(client, world.p, "ent_b").get(f"/campaigns/{c1.pk}/sites/")
    assert marked(ent_b, "site") == {world.sites["b"].pk} and marked(ent_b, "inspection") == set()
    county_b = api_client(world.p, "county_b").get(f"/api/v1/campaign-sites/{world.sites['b'].pk}/").json()
    assert county_b["inspections"] == [world.under_way.pk] and county_b["status"] == "inspected"
    assert api_client(world.p, "ent_b").get(f"/api/v1/campaign-sites/{world.sites['b'].pk}/").json()[
        "inspections"] == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_campaign_api_is_scoped_like_the_pages(world, persona):
    api = api_client(world.p, persona)
    campaigns, sites = api.get("/api/v1/campaigns/?limit=500"), api.get("/api/v1/campaign-sites/?limit=500")
    if persona == "anonymous":
        assert campaigns.status_code == sites.status_code == 403
        return
    assert {r["id"] for r in campaigns.json()["results"]} == pks(world.campaigns, CAMPAIGNS[persona])
    assert {r["id"] for r in sites.json()["results"]} == pks(world.sites, SITES[persona])
    for name, site in world.sites.items():
        assert api.get(f"/api/v1/campaign-sites/{site.pk}/").status_code == (200 if name in SITES[persona] else 404)
    for name, campaign in world.campaigns.items():
        expected = 200 if name in CAMPAIGNS[persona] else 404
        assert api.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == expected


def test_the_campaign_api_counts_the_visible_sites_by_status(world):
    c1 = world.campaigns["c1"]
    city = api_client(world.p, "city").get(f"/api/v1/campaigns/{c1.pk}/").json()
    assert city["sites"] == {"pending": 1, "inspected": 1, "rectifying": 1, "done": 0, "exempt": 0}
    assert city["checklist_code"] == "PP-2026" and city["overdue"] == 0
    ent_a = api_client(world.p, "ent_a").get(f"/api/v1/campaigns/{c1.pk}/").json()
    assert sum(ent_a["sites"].values()) == 1


# Publicity -------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_publicity_pages_exports_and_api_show_exactly_the_personas_events(client, world, persona):
    web, api = web_client(client, world.p, persona), api_client(world.p, persona)
    listed = web.get("/publicity/")
    rows = api.get("/api/v1/publicity-events/?limit=500")
    if persona == "anonymous":
        assert refused_anonymously(listed) and rows.status_code == 403
        return
    seen = EVENTS.get(persona, set())
    assert {r["id"] for r in rows.json()["results"]} == pks(world.events, seen)
    if not seen:
        assert listed.status_code == 403 and web.get("/publicity/export.csv").status_code == 403
        assert web.get(f"/publicity/{world.events['e_a'].pk}/").status_code == 403
        return
    assert marked(listed, "event") == pks(world.events, seen)
    titles = csv_rows(web.get("/publicity/export.csv"))[1:]
    assert len(titles) == len(seen) and len(xlsx_rows(web.get("/publicity/export.xlsx"))) == len(seen) + 1
    for name, event in world.events.items():
        assert web.get(f"/publicity/{event.pk}/").status_code == (200 if name in seen else 404)
    evidence = world.events["e_a"].evidence.get()
    download = web.get(f"/publicity/{world.events['e_a'].pk}/evidence/{evidence.pk}/")
    if "e_a" in seen:
        assert download.status_code == 200 and download["Content-Type"] == "image/png"
        assert b"".join(download.streaming_content) == PNG
    else:
        assert download.status_code == 404


def test_the_publicity_list_filters_and_totals_per_county_and_quarter(client, world):
    web = web_client(client, world.p, "city")
    page = web.get("/publicity/").content.decode()
    assert "3 events, 660 people reached" in page
    assert "2026 Q3" in page
    only_a = web.get("/publicity/", {"county": world.p.county_a_region.code})
    assert marked(only_a, "event") == {world.events["e_a"].pk} and "1 events, 80 people reached" in \
        only_a.content.decode()
    assert marked(web.get("/publicity/", {"county": "city"}), "event") == {world.events["e_city"].pk}
    assert marked(web.get("/publicity/", {"year": "2025"}), "event") == set()
    assert marked(web.get("/publicity/", {"kind": "media"}), "event") == set()
    assert len(csv_rows(web.get("/publicity/export.csv", {"county": "city"}))) == 2


# Who may change what -----------------------------------------------------------------------------
@pytest.mark.parametrize("persona, expected", [("city", 200), ("county_a", 200), ("county_b", 200), ("ent_a", 403),
                                               ("department", 403), ("inspector", 403)])
def test_creating_a_campaign_or_an_event_is_for_the_city_and_counties(client, world, persona, expected):
    web = web_client(client, world.p, persona)
    assert web.get("/campaigns/new/").status_code == expected
    assert web.get("/publicity/new/").status_code == expected


@pytest.mark.parametrize("persona, c1, c2", [("city", 200, 200), ("county_a", 403, 200), ("county_b", 403, 404),
                                             ("ent_a", 403, 404), ("inspector", 403, 404)])
def test_editing_and_adding_sites_is_for_the_organiser_and_the_city(client, world, persona, c1, c2):
    web = web_client(client, world.p, persona)
    for name, expected in (("c1", c1), ("c2", c2)):
        pk = world.campaigns[name].pk
        assert web.get(f"/campaigns/{pk}/edit/").status_code == expected
        assert web.get(f"/campaigns/{pk}/sites/add/").status_code == expected
    close = web.get(f"/campaigns/{world.campaigns['c1'].pk}/close/").status_code
    assert close == c1  # only a running campaign closes (c2 is a draft)
    assert web.post(f"/campaigns/{world.campaigns['c1'].pk}/start/").status_code in (
        (302,) if c1 == 200 else (403,))


def test_only_the_assigned_body_is_offered_a_visit(client, world):
    site = world.sites["a2"]
    page = web_client(client, world.p, "county_a").get(f"/campaigns/sites/{site.pk}/").content.decode()
    assert 'id="visit-form"' in page
    client.logout()
    page = web_client(client, world.p, "inspector").get(f"/campaigns/sites/{site.pk}/").content.decode()
    assert 'id="visit-form"' not in page  # assigned to county A, not to the inspector's body
    answer = client.post(f"/campaigns/sites/{site.pk}/", {"action": "visit", "visit-inspected_on": "2026-09-15",
                                                          "visit-method": "routine"})
    assert answer.status_code == 403 and not Inspection.objects.filter(mine=site.mine).exists()


# Flows -------------------------------------------------------------------------------------------
def test_a_county_runs_its_campaign_through_the_pages(client, world):
    p = world.p
    web = web_client(client, p, "county_a")
    created = web.post("/campaigns/new/", {
        "code": "ZX-KC-02", "title": "宽城选矿厂夏季专项检查", "plan_task": "20", "scope": p.county_a_region.pk,
        "mine_types": ["processing_plant"], "starts_on": "2026-09-10", "deadline": "2026-10-31"})
    campaign = Campaign.objects.get(code="ZX-KC-02")
    assert created.status_code == 302 and created["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.organiser == p.county_a.organisation and campaign.checklist.code == "PP-2026"
    candidates = web.get(f"/campaigns/{campaign.pk}/sites/add/")
    assert marked(candidates, "mine") == {world.plants.plant_a.pk, world.plants.plant_a2.pk,
                                          world.plants.plant_s.pk}
    added = web.post(f"/campaigns/{campaign.pk}/sites/add/", {"mines": [world.plants.plant_a.pk,
                                                                        world.plants.plant_s.pk]})
    assert added.status_code == 302 and campaign.sites.count() == 2
    assert web.post(f"/campaigns/{campaign.pk}/start/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "running"
    plant_s = site_of(campaign, world.plants.plant_s)
    exempted = web.post(f"/campaigns/sites/{plant_s.pk}/", {"action": "exempt", "exempt-reason": "停产"})
    assert exempted.status_code == 302
    plant_a = site_of(campaign, world.plants.plant_a)
    visited = web.post(f"/campaigns/sites/{plant_a.pk}/", {"action": "visit", "visit-inspected_on": "2026-09-15",
                                                           "visit-method": "unannounced", "visit-team": "二组"})
    inspection = Inspection.objects.get(campaign_visit__site=plant_a)
    assert visited["Location"] == f"/inspections/{inspection.pk}/" and inspection.checklist_template.code == "PP-2026"
    progress = web.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "1 of 2 sites done or exempt" in progress
    refused = web.post(f"/campaigns/{campaign.pk}/close/", {"note": "总结"})
    assert refused.status_code == 400 and "say why the campaign closes without it" in refused.content.decode()
    closed = web.post(f"/campaigns/{campaign.pk}/close/", {"note": "总结",
                                                            f"reason_{plant_a.pk}": "整改中，转日常监管"})
    assert closed.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "closed"
    assert CampaignSite.objects.get(pk=plant_a.pk).unfinished_reason == "整改中，转日常监管"


def test_the_campaign_form_names_the_refused_field(client, world):
    web = web_client(client, world.p, "city")
    answer = web.post("/campaigns/new/", {"code": "ZX-2026-01", "title": "重复", "mine_types": ["processing_plant"],
                                          "starts_on": "2026-09-10", "deadline": "2026-09-01"})
    assert answer.status_code == 400
    form = answer.context["form"]
    assert "code" in form.errors and "deadline" in form.errors


def test_findings_by_checklist_item_show_which_items_found_most(client, world):
    page = web_client(client, world.p, "city").get(f"/campaigns/{world.campaigns['c1'].pk}/")
    items = page.context["progress"].items
    assert [(i.code, i.found, i.open) for i in items] == [("PP-B01", 1, 1)]
    by_county = {row.code: (row.sites, row.counts) for row in page.context["progress"].by_county}
    assert by_county == {"130822": (1, [0, 1, 0, 0, 0]), "130827": (2, [1, 0, 1, 0, 0])}


def test_an_event_is_recorded_with_evidence_through_the_page(client, world):
    web = web_client(client, world.p, "county_b")
    evidence = io.BytesIO(PNG)
    evidence.name = "现场.png"
    answer = web.post("/publicity/new/", {"held_on": "2026-09-14", "kind": "warning_education",
                                          "title": "事故案例警示教育", "county": world.p.county_b_region.pk,
                                          "audience": "enterprises", "reach": "45", "evidence": [evidence]})
    event = PublicityEvent.objects.get(title="事故案例警示教育")
    assert answer.status_code == 302 and answer["Location"] == f"/publicity/{event.pk}/"
    assert event.county == world.p.county_b_region and event.evidence.get().content_type == "image/png"


@pytest.mark.parametrize("fields, field, message", [
    ({"reach": "-3"}, "reach", "cannot be negative"),
    ({"reach": ""}, "reach", "required"),
    ({"online_views": "-1"}, "online_views", "cannot be negative"),
])
def test_a_bad_reach_is_refused_with_400_naming_the_field(client, world, fields, field, message):
    web = web_client(client, world.p, "county_a")
    data = {"held_on": "2026-09-14", "kind": "lecture", "title": "宣讲", "county": world.p.county_a_region.pk,
            "audience": "schools", "reach": "10", **fields}
    answer = web.post("/publicity/new/", data)
    assert answer.status_code == 400
    assert message in " ".join(answer.context["form"].errors[field])
    assert PublicityEvent.objects.count() == 3


def test_an_upload_that_is_not_a_photo_or_pdf_is_refused_with_400(client, world):
    web = web_client(client, world.p, "county_a")
    fake = io.BytesIO(b"MZ\x90\x00 this is an executable")
    fake.name = "photo.jpg"
    answer = web.post("/publicity/new/", {"held_on": "2026-09-14", "kind": "lecture", "title": "宣讲",
                                          "county": world.p.county_a_region.pk, "audience": "schools",
                                          "reach": "10", "evidence": [fake]})
    assert answer.status_code == 400 and "not a photo" in answer.content.decode()
    assert PublicityEvent.objects.count() == 3
    event = world.events["e_a"]
    fake.seek(0)
    added = web.post(f"/publicity/{event.pk}/", {"evidence": [fake]})
    assert added.status_code == 400 and event.evidence.count() == 1


def test_the_site_list_and_api_take_the_same_queries_for_few_or_many_sites(client, world,
                                                                        django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from minesafe.registry import services as registry
    from minesafe.registry.models import Mine

    c1 = world.campaigns["c1"]
    web, api = web_client(client, world.p, "city"), api_client(world.p, "city")
    with CaptureQueriesContext(connection) as page:
        web.get(f"/campaigns/{c1.pk}/sites/")
    with CaptureQueriesContext(connection) as listed:
        api.get("/api/v1/campaign-sites/")
    more = [registry.create_mine(world.p.city, code=f"KC-P1{n}", name=f"选矿厂{n}", enterprise=world.p.enterprise_a,
                                 county=world.p.county_a_region, mine_type=Mine.Type.PROCESSING_PLANT,
                                 scale_class="small") for n in range(6)]
    services.add_sites(world.p.city, c1, more)
    for site in c1.sites.filter(mine__in=more)[:3]:
        visit(world.p.county_a, site)
    with django_assert_max_num_queries(len(page.captured_queries)):
        assert len(marked(web.get(f"/campaigns/{c1.pk}/sites/"), "site")) == 9
    with django_assert_max_num_queries(len(listed.captured_queries)):
        assert api.get("/api/v1/campaign-sites/").json()["count"] == 10


def test_the_organiser_edits_a_draft_through_the_page(client, world):
    c2 = world.campaigns["c2"]
    web = web_client(client, world.p, "county_a")
    form = web.get(f"/campaigns/{c2.pk}/edit/").context["form"]
    assert set(form.fields) >= {"code", "scope", "mine_types", "checklist", "deadline"}
    answer = web.post(f"/campaigns/{c2.pk}/edit/", {
        "code": c2.code, "title": "宽城选矿厂专项整治（修订）", "plan_task": "20", "scope": world.p.county_a_region.pk,
        "mine_types": ["processing_plant"], "checklist": c2.checklist.pk, "starts_on": "2026-09-05",
        "deadline": "2026-11-30"})
    assert answer.status_code == 302
    c2.refresh_from_db()
    assert c2.title == "宽城选矿厂专项整治（修订）" and str(c2.deadline) == "2026-11-30"
    running = web_client(client, world.p, "city").get(f"/campaigns/{world.campaigns['c1'].pk}/edit/")
    assert set(running.context["form"].fields) == {"title", "description", "deadline"}


def test_an_enterprise_never_sees_the_findings_of_a_visit_still_under_way(client, world):
    from minesafe.inspections import services as inspections
    from minesafe.inspections.models import InspectionItem

    item = world.under_way.items.select_related("inspection").order_by("position").last()
    inspections.record_result(world.p.county_b, item, InspectionItem.Result.HAZARD_FOUND, note="无证驾驶",
                              deadline=days(30))
    c1 = world.campaigns["c1"].pk
    county_b = web_client(client, world.p, "county_b").get(f"/campaigns/{c1}/").context["progress"]
    assert [(i.code, i.found) for i in county_b.items] == [(item.code, 1)]
    client.logout()
    ent_b = web_client(client, world.p, "ent_b").get(f"/campaigns/{c1}/").context["progress"]
    assert ent_b.items == [] and ent_b.sites == 1
