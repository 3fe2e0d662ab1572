"""The public list of suspended mines (no login): the page, the CSV and the RSS feed show exactly the
catalogue's public fields of exactly the suspended and construction-halted mines; a request for any other
field is refused with the reason and nothing else."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.utils import translation

from minesafe.operations.common import catalogue
from minesafe.registry import services as registry
from minesafe.registry.models import Enterprise, Mine
from minesafe.web.tests.test_scoping import PERSONAS, web_client

from .. import suspension
from ..resumption import VIA_ACCEPTANCE
from .test_suspension_reports import TODAY, frozen, parts

PUBLIC = ["mine", "enterprise", "county", "mine_type", "mineral", "status", "since", "reported_to_city"]


@pytest.fixture(autouse=True)
def today(monkeypatch):
    frozen(monkeypatch)


@pytest.fixture
def public(personas):
    """mine_a suspended through its report (reported to the city), mine_b suspended by the city, a construction
    site halted; mine_a2 producing and pond_a closed are not on the list. Every mine and enterprise carries
    private details that must never be published."""
    secrets = []
    for i, mine in enumerate([personas.mine_a, personas.mine_a2, personas.mine_b, personas.pond_a]):
        changes = {"address": f"私密地址-{i}号", "longitude": Decimal(f"118.12345{i}"),
                   "latitude": Decimal(f"40.65432{i}"), "licence_no": f"（冀）FM安许证字〔2024〕PRIV{i}",
                   "licence_expiry": dt.date(2027, 5, 5)}
        if mine.mine_type == Mine.Type.UNDERGROUND:
            changes["people_underground"] = 140 + i
        registry.update_mine(personas.city, mine, changes)
        Enterprise.objects.filter(pk=mine.enterprise_id).update(
            phone=f"0314-88{i}7{i}", legal_representative=f"法人代表{i}", address=f"企业私密地址{i}")
        secrets += [changes["address"], str(changes["longitude"]), str(changes["latitude"]), changes["licence_no"],
                    "2027-05-05", f"0314-88{i}7{i}", f"法人代表{i}", f"企业私密地址{i}", mine.code,
                    mine.enterprise.credit_code]
    registry.assign_leader(personas.city, personas.mine_a, name="包保领导甲", post="副县长", level="county",
                           start_date=dt.date(2024, 1, 1), phone="13900001111")
    report = suspension.submit_report(personas.ent_a, personas.mine_a,
                                      **parts(planned_start=TODAY - dt.timedelta(days=8), watch_headcount=17))
    suspension.accept_report(personas.county_a, report)
    suspension.report_to_city(personas.county_a, report)
    suspension.add_assignment(personas.county_a, personas.mine_a, role="on_site", name="驻矿干部乙", post="干部",
                              phone="13922223333", start_date=TODAY)
    registry.change_status(personas.city, personas.mine_b, Mine.Status.SUSPENDED, reason="停产整顿",
                           effective_date=TODAY - dt.timedelta(days=20))
    site = registry.create_mine(personas.city, code="KC-009", name="宽城丁在建矿", enterprise=personas.enterprise_a,
                                county=personas.county_a_region, mine_type=Mine.Type.OPEN_PIT, mineral="铁矿",
                                status=Mine.Status.CONSTRUCTION, status_since=dt.date(2025, 6, 1),
                                address="在建矿私密地址")
    suspension.accept_report(personas.county_a, suspension.submit_report(
        personas.ent_a, site, **parts(planned_start=TODAY - dt.timedelta(days=2), planned_end=None)))
    registry.change_status(personas.city, personas.pond_a, Mine.Status.SUSPENDED, reason="停用")
    registry.change_status(personas.city, personas.pond_a, Mine.Status.CLOSED, reason="闭库")
    secrets += ["13900001111", "13922223333", "包保领导甲", "驻矿干部乙", "在建矿私密地址", "KC-009", "ent_a",
                "county_a", "市场原因停产检修", "仅保留排水"]
    with translation.override("zh-hans"):  # pages and files are Chinese by default
        underground, pit = str(Mine.Type.UNDERGROUND.label), str(Mine.Type.OPEN_PIT.label)
        suspended, halted = str(Mine.Status.SUSPENDED.label), str(Mine.Status.CONSTRUCTION_HALTED.label)
    a, b = personas.county_a_region.name_zh, personas.county_b_region.name_zh  # the official names
    expected = {
        personas.mine_a.name: [personas.mine_a.name, personas.enterprise_a.name, a, underground, "铁矿", suspended,
                               (TODAY - dt.timedelta(days=8)).isoformat(), TODAY.isoformat()],
        personas.mine_b.name: [personas.mine_b.name, personas.enterprise_b.name, b, pit, "石灰岩", suspended,
                               (TODAY - dt.timedelta(days=20)).isoformat(), ""],
        site.name: [site.name, personas.enterprise_a.name, a, pit, "铁矿", halted,
                    (TODAY - dt.timedelta(days=2)).isoformat(), ""],
    }
    return {"expected": expected, "secrets": secrets, "personas": personas}


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def no_secrets(text: str, secrets: list[str]) -> None:
    leaked = [s for s in secrets if s in text]
    assert not leaked, leaked


def test_the_catalogue_publishes_the_agreed_fields(reference):
    assert catalogue()["public_list"]["fields"] == PUBLIC


def test_the_csv_has_exactly_the_public_fields_of_exactly_the_suspended_mines(client, public):
    response = client.get("/public/suspended.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header, *rows = read_csv(response)
    assert header == PUBLIC
    assert len(rows) == len(public["expected"])
    assert {row[0]: row for row in rows} == public["expected"]
    no_secrets("\n".join(",".join(r) for r in rows), public["secrets"])


def test_a_subset_of_public_fields_comes_in_the_order_asked(client, public):
    header, *rows = read_csv(client.get("/public/suspended.csv?fields=county,mine,reported_to_city"))
    assert header == ["county", "mine", "reported_to_city"]
    assert sorted(rows) == sorted([v[2], v[0], v[7]] for v in public["expected"].values())


@pytest.mark.parametrize("fields, named", [
    ("address", "address"), ("mine,watch_headcount", "watch_headcount"), ("mine,longitude", "longitude"),
    ("licence_no", "licence_no"), ("phone,mine", "phone"), ("id", "id"), ("mine,,status", ""), ("", ""),
    ("mine,mine", "mine"), ("submitted_by", "submitted_by"),
])
def test_a_request_for_a_non_public_field_is_refused_with_the_reason_only(client, public, fields, named):
    response = client.get("/public/suspended.csv", {"fields": fields})
    assert response.status_code == 400
    body = response.content.decode()
    assert named in body
    assert not any(name in body for name in public["expected"])
    no_secrets(body, public["secrets"])


def test_the_page_shows_the_public_fields_and_nothing_else(client, public):
    response = client.get("/public/suspended/")
    assert response.status_code == 200
    html = response.content.decode()
    for values in public["expected"].values():
        for value in values:
            if value:
                assert value in html
    assert html.count('<tr id="') == len(public["expected"])
    personas = public["personas"]
    assert personas.mine_a2.name not in html and personas.pond_a.name not in html
    no_secrets(html, public["secrets"])
    county = client.get("/public/suspended/", {"county": personas.county_b_region.code}).content.decode()
    assert personas.mine_b.name in county and personas.mine_a.name not in county


def test_the_feed_lists_each_stop_with_public_fields_only(client, public):
    response = client.get("/public/suspended.rss")
    assert response.status_code == 200 and "rss" in response["Content-Type"]
    text = response.content.decode()
    items = ET.fromstring(response.content).findall("./channel/item")
    assert sorted(i.findtext("title").split(" · ")[0] for i in items) == sorted(public["expected"])
    for item in items:
        name = item.findtext("title").split(" · ")[0]
        description = item.findtext("description")
        for value in public["expected"][name]:
            if value:
                assert value in description
    no_secrets(text, public["secrets"])


@pytest.mark.parametrize("persona", PERSONAS)
def test_everyone_sees_the_same_public_list(client, public, persona):
    web = web_client(client, public["personas"], persona)
    assert web.get("/public/suspended/").status_code == 200
    header, *rows = read_csv(web.get("/public/suspended.csv"))
    assert header == PUBLIC and {r[0] for r in rows} == set(public["expected"])
    assert web.get("/public/suspended.rss").status_code == 200


def test_a_report_of_an_earlier_stop_is_not_shown_for_a_later_one(client, public):
    personas = public["personas"]
    registry.change_status(personas.city, Mine.objects.get(pk=personas.mine_a.pk), Mine.Status.PRODUCING,
                           reason="复产验收通过", effective_date=TODAY - dt.timedelta(days=3), via=VIA_ACCEPTANCE)
    registry.change_status(personas.city, Mine.objects.get(pk=personas.mine_a.pk), Mine.Status.SUSPENDED,
                           reason="责令停产", effective_date=TODAY - dt.timedelta(days=1))
    header, *rows = read_csv(client.get("/public/suspended.csv?fields=mine,since,reported_to_city"))
    assert [personas.mine_a.name, (TODAY - dt.timedelta(days=1)).isoformat(), ""] in rows
    overview = {r.mine.pk: r for r in suspension.control_overview(personas.city)}
    assert overview[personas.mine_a.pk].report_id is None
    assert suspension.current_report(Mine.objects.get(pk=personas.mine_a.pk)) is None
