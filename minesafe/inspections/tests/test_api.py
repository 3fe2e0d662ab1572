"""The inspections API: scoped reads per role, the team's transitions as POSTs, 400 for bad input (nothing
changes), 404 outside scope, 409 for changing a completed inspection."""

import datetime as dt
import io

import pytest

from minesafe.core.models import AuditEvent, Organisation
from minesafe.hazards.models import Hazard
from minesafe.inspections import checklists
from minesafe.inspections.models import Finding, Inspection, Photo, Signature
from minesafe.web.tests.test_scoping import PERSONAS, api_client

from .conftest import data_url, png
from .test_pages import NAMES, SCOPE, world  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.django_db


def ids(personas, names) -> set[int]:
    return {personas.world[n].pk for n in names}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_lists_exactly_the_personas_inspections(world, persona):  # noqa: F811
    response = api_client(world, persona).get("/api/v1/inspections/?limit=100")
    if persona in ("anonymous", "department"):
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert {r["id"] for r in response.json()["results"]} == ids(world, SCOPE[persona])


@pytest.mark.parametrize("persona", ["city", "county_a", "county_b", "ent_a", "ent_b", "inspector"])
def test_api_detail_is_404_outside_scope(world, persona):  # noqa: F811
    api = api_client(world, persona)
    for name in NAMES:
        inspection = world.world[name]
        response = api.get(f"/api/v1/inspections/{inspection.pk}/")
        assert response.status_code == (200 if name in SCOPE[persona] else 404), name
        if response.status_code == 200:
            body = response.json()
            assert len(body["items"]) == inspection.items.count() and body["number"] == inspection.number


@pytest.mark.parametrize("persona", ["city", "county_a", "county_b", "ent_a", "ent_b", "inspector"])
def test_findings_api_is_scoped(world, persona):  # noqa: F811
    response = api_client(world, persona).get("/api/v1/inspection-findings/")
    expected = {f.pk for f in Finding.objects.filter(inspection__in=[world.world[n] for n in SCOPE[persona]])}
    assert {r["id"] for r in response.json()["results"]} == expected


def test_the_team_works_through_the_api(world, today):  # noqa: F811
    api = api_client(world, "county_a")
    response = api.post("/api/v1/inspections/", {"mine": world.mine_a2.pk, "inspected_on": today.isoformat(),
                                                 "method": "unannounced"}, format="json")
    assert response.status_code == 201
    body = response.json()
    pk = body["id"]
    major = next(i for i in body["items"] if i["major"])
    url = f"/api/v1/inspections/{pk}/"
    response = api.post(url + "result/", {"item": major["id"], "result": "hazard_found"}, format="json")
    assert response.status_code == 400 and {"note", "deadline"} <= set(response.json())
    response = api.post(url + "result/", {"item": major["id"], "result": "hazard_found", "note": "保安矿柱被破坏",
                                          "deadline": (today + dt.timedelta(days=30)).isoformat()}, format="json")
    assert response.status_code == 200
    finding = next(f for f in response.json()["findings"] if f["item"] == major["id"])
    assert finding["major"] and finding["hazard_number"] == Hazard.objects.get().number
    response = api.post(url + "photos/", {"file": io.BytesIO(b"<svg onload=alert(1)>"), "caption": "x"},
                        format="multipart")
    assert response.status_code == 400 and "file" in response.json() and not Photo.objects.filter(inspection_id=pk)
    upload = io.BytesIO(png())
    upload.name = "p.png"
    assert api.post(url + "photos/", {"file": upload, "finding": finding["id"]}, format="multipart").status_code == 201
    assert api.post(url + "complete/").status_code == 409
    assert api.post(url + "sign/", {"role": "lead_inspector", "image": "nope"}, format="json").status_code == 400
    assert api.post(url + "sign/", {"role": "lead_inspector", "image": data_url()}, format="json").status_code == 200
    assert api.post(url + "sign/", {"role": "enterprise", "signer_name": "王矿长", "image": data_url(png(seed=5))},
                    format="json").status_code == 200
    response = api.post(url + "documents/", {"kind": "rectification_order"}, format="json")
    assert response.status_code == 201 and response.json()["number"].startswith("宽城应急责改")
    response = api.post(url + "complete/")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert {s["role"] for s in response.json()["signatures"]} == set(Signature.Role.values)
    # Completed: a change is a conflict; an addendum is the way.
    response = api.post(url + "result/", {"item": major["id"], "result": "compliant"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "immutable"
    assert api.post(url + "addenda/", {"text": "补记"}, format="json").status_code == 201
    assert api.post(url + "cancel/", {"reason": "x"}, format="json").status_code == 409


@pytest.mark.parametrize("payload, field", [
    ({"inspected_on": "2099-01-01"}, "inspected_on"),
    ({"mine": "MINE_B"}, "mine"),  # another county's mine: "does not exist" for this caller
    ({"method": "cross_county"}, "method"),
    ({"inspected_on": "yesterday"}, "inspected_on"),
])
def test_bad_input_to_start_is_400_and_changes_nothing(world, today, payload, field):  # noqa: F811
    data = {"mine": world.mine_a2.pk, "inspected_on": today.isoformat(), "method": "routine", **payload}
    if data["mine"] == "MINE_B":
        data["mine"] = world.mine_b.pk
    count, events = Inspection.objects.count(), AuditEvent.objects.count()
    response = api_client(world, "county_a").post("/api/v1/inspections/", data, format="json")
    assert response.status_code == 400 and field in response.json()
    assert Inspection.objects.count() == count and AuditEvent.objects.count() == events


@pytest.mark.parametrize("persona, code", [("ent_a", 403), ("inspector", 403), ("department", 403)])
def test_those_outside_the_remit_cannot_start_or_change(world, today, persona, code):  # noqa: F811
    api = api_client(world, persona)
    mine = world.mine_a
    response = api.post("/api/v1/inspections/", {"mine": mine.pk, "inspected_on": today.isoformat()}, format="json")
    assert response.status_code in (400, code)  # a mine outside the caller's scope "does not exist"
    assert not Inspection.objects.filter(mine=mine, created_by__username=persona).exists()
    completed = world.world["a_done"]
    item = completed.items.first()
    response = api.post(f"/api/v1/inspections/{completed.pk}/result/", {"item": item.pk, "result": "compliant"},
                        format="json")
    assert response.status_code in (403, 404)


def test_the_city_assigns_cross_county_enforcement_through_the_api(world, today):  # noqa: F811
    team_b = Organisation.objects.get(kind="county", region__code="130822")
    response = api_client(world, "city").post("/api/v1/inspections/", {
        "mine": world.mine_a2.pk, "inspected_on": today.isoformat(), "method": "cross_county",
        "organisation": team_b.pk, "lead_inspector": world.county_b.pk}, format="json")
    assert response.status_code == 201
    inspection = Inspection.objects.get(pk=response.json()["id"])
    assert inspection.organisation == team_b and inspection.lead_inspector == world.county_b
    api_b = api_client(world, "county_b")
    assert api_b.get(f"/api/v1/inspections/{inspection.pk}/").status_code == 200
    item = inspection.items.first()
    assert api_b.post(f"/api/v1/inspections/{inspection.pk}/result/", {"item": item.pk, "result": "compliant"},
                      format="json").status_code == 200


def test_rectification_is_confirmed_through_the_findings_api(world):  # noqa: F811
    finding = Finding.objects.get(inspection=world.world["a_done"])
    assert api_client(world, "ent_a").post(f"/api/v1/inspection-findings/{finding.pk}/rectified/",
                                           {"note": "改好了"}, format="json").status_code == 403
    response = api_client(world, "county_a").post(f"/api/v1/inspection-findings/{finding.pk}/rectified/",
                                                  {"note": "复查已整改"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rectified"
    assert api_client(world, "county_b").post(f"/api/v1/inspection-findings/{finding.pk}/rectified/",
                                              {"note": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("persona, count", [("city", 5), ("county_a", 5), ("inspector", 5), ("ent_a", 0)])
def test_checklists_are_read_by_officers(world, persona, count):  # noqa: F811
    response = api_client(world, persona).get("/api/v1/inspection-checklists/?active=true")
    assert response.status_code == 200 and response.json()["count"] == count
    if count:
        first = response.json()["results"][0]
        assert first["items"] and first["version"] == checklists.active_template(first["mine_type"]).version
