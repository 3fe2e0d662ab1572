"""The role × endpoint matrix: every list, detail, export and API endpoint shows each persona exactly
the mines in its scope, and nothing else (objects outside scope are 404, never 403)."""

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from minesafe.registry import services
from minesafe.registry.models import Mine

# Which of the fixture mines each persona sees.
SCOPE = {
    "city": {"mine_a", "mine_a2", "pond_a", "mine_b"},
    "department": {"mine_a", "mine_a2", "pond_a", "mine_b"},
    "county_a": {"mine_a", "mine_a2", "pond_a"},
    "county_b": {"mine_b"},
    "ent_a": {"mine_a", "pond_a"},
    "ent_b": {"mine_b"},
    "inspector": {"mine_a2"},
    "anonymous": set(),
}
MINES = ["mine_a", "mine_a2", "pond_a", "mine_b"]
PERSONAS = list(SCOPE)


@pytest.fixture
def world(personas):
    """Every fixture mine gets a leader, a monthly ledger and a status change, so child lists have rows."""
    for name in MINES:
        mine = getattr(personas, name)
        services.assign_leader(personas.city, mine, name=f"{name}-leader", post="副县长", level="county",
                               start_date=mine.status_since, phone="13900000000")
        services.submit_monthly_ledger(personas.city, mine, services.add_months(mine.status_since, 1))
    return personas


def web_client(client, personas, persona):
    if persona != "anonymous":
        client.force_login(getattr(personas, persona))
    return client


def api_client(personas, persona):
    api = APIClient()
    if persona != "anonymous":
        api.force_login(getattr(personas, persona))
    return api


def codes(personas, names):
    return {getattr(personas, n).code for n in names}


@pytest.mark.parametrize("persona", PERSONAS)
def test_mine_list_page_shows_exactly_the_personas_mines(client, world, persona):
    response = web_client(client, world, persona).get("/mines/")
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    html = response.content.decode()
    shown = {n for n in MINES if f">{getattr(world, n).code}<" in html}
    assert shown == SCOPE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_mine_detail_page_is_404_outside_scope(client, world, persona, mine_name):
    mine = getattr(world, mine_name)
    response = web_client(client, world, persona).get(f"/mines/{mine.pk}/")
    if persona == "anonymous":
        assert response.status_code == 302
    else:
        assert response.status_code == (200 if mine_name in SCOPE[persona] else 404)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", ["/mines/export.xlsx", "/api/v1/mines/export/"])
def test_export_contains_exactly_the_personas_mines(client, world, persona, path):
    if path.startswith("/api/"):
        response = api_client(world, persona).get(path)
    else:
        response = web_client(client, world, persona).get(path)
    if persona == "anonymous":
        assert response.status_code in (302, 403)
        return
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    exported = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert exported == codes(world, SCOPE[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_mine_list_and_detail_are_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/mines/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        assert api.get(f"/api/v1/mines/{world.mine_a.pk}/").status_code == 403
        return
    assert {m["code"] for m in response.json()["results"]} == codes(world, SCOPE[persona])
    for name in MINES:
        mine = getattr(world, name)
        expected = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/mines/{mine.pk}/").status_code == expected
        assert api.get(f"/api/v1/mines/{mine.pk}/history/").status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ["ledger-submissions", "status-changes", "leaders"])
def test_api_child_lists_are_scoped_through_their_mine(world, persona, endpoint):
    response = api_client(world, persona).get(f"/api/v1/{endpoint}/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    mine_ids = {row["mine"] for row in response.json()["results"]}
    assert mine_ids == {getattr(world, n).pk for n in SCOPE[persona]}


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_enterprises_are_scoped(world, persona):
    response = api_client(world, persona).get("/api/v1/enterprises/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    seen = {row["credit_code"] for row in response.json()["results"]}
    expected = {getattr(world, n).enterprise.credit_code for n in SCOPE[persona]}
    assert expected <= seen
    # An enterprise never sees another enterprise; county B never sees county A's enterprises.
    if persona in ("ent_a", "ent_b", "county_b", "inspector"):
        assert seen == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_dashboard_counts_only_the_personas_mines(client, world, persona):
    response = web_client(client, world, persona).get("/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.context["totals"]["total"] == len(SCOPE[persona])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_edit_page_needs_rights_over_the_mine(client, world, persona, mine_name):
    mine = getattr(world, mine_name)
    response = web_client(client, world, persona).get(f"/mines/{mine.pk}/edit/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if mine_name not in SCOPE[persona]:
        assert response.status_code == 404
        return
    may_edit = persona in ("city", "county_a", "county_b") or (
        persona in ("ent_a", "ent_b") and mine.enterprise.organisation_id == getattr(world, persona).organisation_id)
    assert response.status_code == (200 if may_edit else 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_read_only_roles_cannot_change_a_visible_mine(world, persona):
    """Departments and inspectors read; a transition attempt is refused and changes nothing."""
    if persona not in ("department", "inspector"):
        return
    mine = world.mine_a2
    response = api_client(world, persona).post(f"/api/v1/mines/{mine.pk}/transition/",
                                               {"status": "suspended", "reason": "test"}, format="json")
    assert response.status_code == 403
    assert Mine.objects.get(pk=mine.pk).status == Mine.Status.PRODUCING


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", ["/ledger/import/", "/mines/new/"])
def test_import_and_registration_are_for_regulators(client, world, persona, path):
    response = web_client(client, world, persona).get(path)
    if persona == "anonymous":
        assert response.status_code == 302
    else:
        assert response.status_code == (200 if persona in ("city", "county_a", "county_b") else 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_public_leader_list_is_open_to_all_and_hides_phones(client, world, persona):
    page = web_client(client, world, persona).get("/public/leaders/")
    api = api_client(world, persona).get("/api/v1/public/leaders/?limit=500")
    assert page.status_code == 200 and api.status_code == 200
    assert "13900000000" not in page.content.decode()
    assert "13900000000" not in api.content.decode()
    assert len(api.json()["results"]) == len(MINES)


def test_unpublished_and_ended_leaders_are_not_public(client, world):
    leader = world.mine_a.leaders.first()
    services.end_leader(world.city, leader, leader.start_date)
    hidden = services.assign_leader(world.city, world.mine_b, name="未公开领导", post="副县长", level="county",
                                    start_date=world.mine_b.status_since, published=False)
    html = client.get("/public/leaders/").content.decode()
    assert leader.name not in html
    assert hidden.name not in html
