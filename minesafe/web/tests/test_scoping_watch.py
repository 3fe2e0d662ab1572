"""The role × page matrix for watching suspended mines: the flag list, the flag page and the flags API show
each persona exactly the flags of the mines in its covert scope (the city, the county, assigned inspectors;
never the enterprise watched, never a department), and only those may record an outcome. Uploads are the
owner department's and the city's."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.monitoring.models import DataUpload, ProductionFlag
from minesafe.registry.models import Mine

from .test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

COVERT = {**SCOPE, "department": set(), "ent_a": set(), "ent_b": set()}
PAGES_DENIED = {"department", "ent_a", "ent_b"}  # the pages themselves are refused (403), not only empty


@pytest.fixture
def flags(personas):
    out = {}
    for name in MINES:
        mine = getattr(personas, name)
        Mine.objects.filter(pk=mine.pk).update(status=Mine.Status.SUSPENDED)
        out[name] = ProductionFlag.objects.create(
            mine=mine, signal=ProductionFlag.Signal.EXPLOSIVES, episode=f"x{name}", began_on=mine.status_since,
            summary=f"summary-{name}", evidence={"permit_no": name, "issued_on": "2026-11-01", "explosive_kg": "1",
                                                 "detonators": 1},
            detected_at=timezone.now(), inspect_by=timezone.localdate() + dt.timedelta(days=7))
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_flag_list_and_pages(client, personas, flags, persona):
    client = web_client(client, personas, persona)
    page = client.get("/monitoring/suspended/?status=all")
    if persona == "anonymous":
        assert page.status_code == 302
    elif persona in PAGES_DENIED:
        assert page.status_code == 403
    else:
        shown = {name for name, flag in flags.items() if f'data-flag="{flag.pk}"' in page.content.decode()}
        assert shown == COVERT[persona]
    for name, flag in flags.items():
        detail = client.get(f"/monitoring/suspended/flags/{flag.pk}/")
        expected = 302 if persona == "anonymous" else 403 if persona in PAGES_DENIED else \
            200 if name in COVERT[persona] else 404
        assert detail.status_code == expected, (persona, name)
        if expected == 200:
            assert ('id="outcome"' in detail.content.decode()) == (persona != "department")


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_flags_api(personas, flags, persona):
    api = api_client(personas, persona)
    listed = api.get("/api/v1/production-flags/?page_size=100")
    if persona == "anonymous":
        assert listed.status_code in (401, 403)
        return
    body = listed.json()
    ids = {f["id"] for f in (body["results"] if isinstance(body, dict) else body)}
    assert ids == {flags[name].pk for name in COVERT[persona]}
    for name, flag in flags.items():
        assert api.get(f"/api/v1/production-flags/{flag.pk}/").status_code == (200 if name in COVERT[persona]
                                                                                else 404)
        closing = api.post(f"/api/v1/production-flags/{flag.pk}/dismiss/", {
            "inspected_on": timezone.localdate().isoformat(), "method": "covert", "reason": "核查为排水泵"},
            format="json")
        assert closing.status_code == (200 if name in COVERT[persona] else 404), (persona, name)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_uploads_page_and_history(client, personas, persona):
    page = web_client(client, personas, persona).get("/monitoring/uploads/")
    assert page.status_code == {"anonymous": 302, "city": 200}.get(persona, 403)
    # The departments in the persona set (自然资源) own no upload: the power company and the police do.
    assert not DataUpload.objects.exists()
