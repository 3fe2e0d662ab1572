"""The enforcement hub: officials and inspectors only, counts in the reader's scope."""

import pytest
from django.utils import timezone

from minesafe.inspections.models import Inspection

from .test_scoping import PERSONAS, web_client

pytestmark = pytest.mark.django_db
ALLOWED = {"city": 2, "county_a": 1, "county_b": 1, "inspector": 0}


@pytest.mark.parametrize("persona", PERSONAS)
def test_hub_is_scoped(client, personas, persona):
    for mine, county in ((personas.mine_a, personas.county_a), (personas.mine_b, personas.county_b)):
        Inspection.objects.create(mine=mine, organisation=county.organisation, inspected_on=timezone.localdate(),
                                  lead_inspector=county, status=Inspection.Status.COMPLETED)
    response = web_client(client, personas, persona).get("/enforcement/")
    if persona == "anonymous":
        assert response.status_code == 302
    elif persona not in ALLOWED:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert response.context["counts"]["inspections"] == ALLOWED[persona]
        assert ("/evaluation/" in response.content.decode()) == (persona != "inspector")
