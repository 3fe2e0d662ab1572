"""The city and county dashboards: who sees which scope, that every figure counts only that scope, the map's
points, the large-screen mode and the panels' refresh."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from minesafe.evaluation.tests.factories import hazard
from minesafe.hazards.models import Hazard
from minesafe.monitoring.models import Alarm, Level
from minesafe.registry.models import Mine

from .test_scoping import PERSONAS, web_client

pytestmark = pytest.mark.django_db
PAGES = ["/dashboard/", "/dashboard/screen/", "/dashboard/panels/", "/dashboard/mines.geojson"]
ALLOWED = {"city", "county_a", "county_b"}


def alarm(mine: Mine, level: int, key: str) -> Alarm:
    now = timezone.now()
    return Alarm.objects.create(key=key, mine=mine, source=Alarm.Source.THRESHOLD, kind="co", level=level,
                                max_level=level, value=30.0, opened_at=now - dt.timedelta(minutes=5),
                                ack_due_at=now + dt.timedelta(minutes=10),
                                response_due_at=now + dt.timedelta(minutes=30))


PLACES = {"mine_a": (118.45, 40.60), "mine_a2": (118.52, 40.63), "pond_a": (118.47, 40.58), "mine_b": (117.50, 40.42)}


def place_mines(p) -> None:
    """The fixture mines get coordinates inside their counties (宽城, 兴隆)."""
    for name, (lon, lat) in PLACES.items():
        mine = getattr(p, name)
        Mine.objects.filter(pk=mine.pk).update(longitude=Decimal(str(lon)), latitude=Decimal(str(lat)))
        mine.refresh_from_db()


@pytest.fixture
def city_data(personas):
    today = timezone.localdate()
    p = personas
    place_mines(p)
    hazard(p.mine_a, "UG-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=today - dt.timedelta(days=40),
           by=p.county_a, deadline=today - dt.timedelta(days=3))  # overdue, county A
    hazard(p.mine_a2, "UG-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=today, by=p.county_a,
           deadline=today + dt.timedelta(days=20))
    hazard(p.mine_b, "OP-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=today, by=p.county_b,
           deadline=today + dt.timedelta(days=20))
    alarm(p.mine_a, Level.RED, "a1")
    alarm(p.mine_b, Level.YELLOW, "b1")
    alarm(p.mine_b, Level.ORANGE, "b2")
    Mine.objects.filter(pk=p.mine_a2.pk).update(status=Mine.Status.SUSPENDED, status_since=today)
    return p


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", PAGES)
def test_only_the_city_and_counties_see_a_dashboard(client, personas, persona, page):
    response = web_client(client, personas, persona).get(page)
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif persona in ALLOWED:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_a_county_asking_for_another_county_gets_404(client, personas, page):
    c = web_client(client, personas, "county_a")
    assert c.get(page, {"county": personas.county_b_region.code}).status_code == 404
    assert c.get(page, {"county": personas.county_a_region.code}).status_code == 200
    assert web_client(client, personas, "city").get(page, {"county": "999999"}).status_code == 404


def test_the_city_dashboard_counts_the_whole_city_and_compares_the_counties(client, city_data):
    p = city_data
    d = web_client(client, p, "city").get("/dashboard/").context["d"]
    assert d.county is None
    assert (d.hazards["open"], d.hazards["overdue"], d.alarms.open_total) == (3, 1, 3)
    assert d.totals["stopped"] == 1 and [m.pk for m in d.stopped_mines] == [p.mine_a2.pk]
    rows = {row.code: row for row in d.counties}
    a, b = rows[p.county_a_region.code], rows[p.county_b_region.code]
    assert (a.open_hazards, a.overdue_hazards, a.open_alarms, a.red_orange_alarms, a.stopped) == (2, 1, 1, 1, 1)
    assert (b.open_hazards, b.overdue_hazards, b.open_alarms, b.red_orange_alarms, b.stopped) == (1, 0, 2, 1, 0)
    assert {k.code for k in d.kpis} >= {"people_underground", "standardisation"}


def test_a_county_dashboard_counts_its_own_county_only(client, city_data):
    p = city_data
    for persona, region, figures in (("county_a", p.county_a_region, (2, 1, 1)),
                                     ("county_b", p.county_b_region, (1, 0, 2))):
        response = web_client(client, p, persona).get("/dashboard/")
        d = response.context["d"]
        assert d.county == region and d.counties == []
        assert (d.hazards["open"], d.hazards["overdue"], d.alarms.open_total) == figures
        # the city looking at the same county sees the same figures
        city_view = web_client(client, p, "city").get("/dashboard/", {"county": region.code}).context["d"]
        assert (city_view.hazards["open"], city_view.hazards["overdue"], city_view.alarms.open_total) == figures


def test_the_map_points_are_the_scopes_mines_with_their_risk_band(client, city_data):
    p = city_data
    Mine.objects.filter(pk=p.mine_b.pk).update(longitude=None, latitude=None)
    city = web_client(client, p, "city").get("/dashboard/mines.geojson").json()
    county_a = web_client(client, p, "county_a").get("/dashboard/mines.geojson").json()
    ids = {f["properties"]["id"] for f in city["features"]}
    placed_a = {p.mine_a.pk, p.mine_a2.pk, p.pond_a.pk}
    assert ids == placed_a and city["unplaced"] == 1
    assert {f["properties"]["id"] for f in county_a["features"]} == placed_a
    assert all(f["properties"]["band"] for f in city["features"])
    lon, lat = city["features"][0]["geometry"]["coordinates"]
    assert 115 < lon < 120 and 39 < lat < 43


def test_the_map_works_without_a_basemap_and_uses_one_when_configured(client, personas, settings):
    c = web_client(client, personas, "city")
    page = c.get("/dashboard/").content.decode()
    assert 'data-basemap=""' in page and "chengde-counties.geojson" in page and "vendor/leaflet/leaflet.js" in page
    settings.MAP_BASEMAP_URL = "https://tiles.example.invalid/{z}/{x}/{y}.png"
    assert 'data-basemap="https://tiles.example.invalid/{z}/{x}/{y}.png"' in c.get("/dashboard/").content.decode()


def test_the_large_screen_mode_has_no_navigation_and_refreshes_its_panels(client, city_data):
    page = web_client(client, city_data, "city").get("/dashboard/screen/").content.decode()
    assert 'class="mainnav"' not in page and 'id="screen-clock"' in page
    assert 'data-url="/dashboard/panels/?screen=1"' in page
    panels = web_client(client, city_data, "city").get("/dashboard/panels/", {"screen": "1"}).content.decode()
    assert panels.startswith('<div id="dash-panels"') and "<html" not in panels


def test_the_county_outlines_are_the_twelve_units_less_the_statistical_zone(reference):
    import json
    from pathlib import Path

    from minesafe.core.models import Region

    path = Path(__file__).resolve().parents[1] / "static" / "web" / "chengde-counties.geojson"
    codes = {f["properties"]["code"] for f in json.loads(path.read_text(encoding="utf-8"))["features"]}
    counties = set(Region.objects.exclude(kind=Region.Kind.CITY).values_list("code", flat=True))
    assert codes == counties - {"130871"}
