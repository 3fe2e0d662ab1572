"""The enforcement equipment ledger: adding items with their next check, the serial number unique per body,
every status move and its refusals, checks, the kit against the minimum, bad input, and who sees and does what
on the pages, the CSV and the API."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation
from minesafe.enforcement import equipment as services
from minesafe.enforcement.models import EquipmentItem
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)
NOW = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
K = EquipmentItem.Kind
ST = EquipmentItem.Status


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def orgs(personas):
    class Orgs:
        city = Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)
        a = personas.county_a.organisation
        b = personas.county_b.organisation

    return Orgs


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def add(actor, org, **overrides) -> EquipmentItem:
    data = {"kind": K.DRONE, "model": "大疆 M350", "serial_number": "UAV-001", "acquired_on": dt.date(2025, 1, 10),
            **overrides}
    return services.add_item(actor, org, **data)


def state() -> tuple:
    return (list(EquipmentItem.objects.values_list("serial_number", "status", "last_checked_on", "next_check_due",
                                                   "model").order_by("pk")), AuditEvent.objects.count())


# Adding and the next check -----------------------------------------------------------------------
def test_an_item_is_added_with_its_next_check_and_audited(personas, orgs):
    drone = add(personas.county_a, orgs.a, assigned_to="执法一组")
    assert (drone.status, drone.status_since, drone.next_check_due) == (ST.IN_SERVICE, dt.date(2025, 1, 10),
                                                                         dt.date(2026, 1, 10))
    assert drone.check_overdue
    detector = add(personas.county_a, orgs.a, kind=K.DETECTOR, serial_number="GT-9",
                   last_checked_on=dt.date(2026, 9, 1))
    assert detector.next_check_due == dt.date(2026, 9, 1) + dt.timedelta(days=180) and not detector.check_overdue
    event = AuditEvent.objects.get(object_type="enforcement.equipmentitem", object_id=str(drone.pk))
    assert event.action == "create" and event.after["serial_number"] == "UAV-001"


@pytest.mark.parametrize("actor", ["county_b", "ent_a", "department", "inspector"])
def test_only_the_bodys_staff_or_the_city_add_to_its_ledger(personas, orgs, actor):
    with pytest.raises(PermissionDenied):
        add(getattr(personas, actor), orgs.a)
    assert not EquipmentItem.objects.exists()


def test_the_city_keeps_any_ledger_but_not_an_enterprises(personas, orgs):
    add(personas.city, orgs.b)
    add(personas.city, orgs.city)
    with pytest.raises(ValidationError) as exc:
        add(personas.city, personas.enterprise_a.organisation)
    assert "organisation" in exc.value.message_dict


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": "tank"}, "kind"), ({"model": " "}, "model"), ({"serial_number": ""}, "serial_number"),
    ({"serial_number": "x" * 65}, "serial_number"), ({"model": "x" * 101}, "model"),
    ({"assigned_to": "x" * 65}, "assigned_to"), ({"acquired_on": dt.date(2026, 12, 1)}, "acquired_on"),
    ({"acquired_on": dt.date(1989, 12, 31)}, "acquired_on"), ({"acquired_on": "2025-01-01"}, "acquired_on"),
    ({"acquired_on": None}, "acquired_on"), ({"last_checked_on": dt.date(2024, 1, 1)}, "last_checked_on"),
    ({"last_checked_on": dt.date(2026, 12, 1)}, "last_checked_on"),
])
def test_bad_input_is_refused_naming_the_field(personas, orgs, overrides, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        add(personas.county_a, orgs.a, **overrides)
    assert field in exc.value.message_dict
    assert state() == before


# Serial numbers ----------------------------------------------------------------------------------
def test_the_serial_number_is_unique_within_a_body_whatever_the_case(personas, orgs):
    add(personas.county_a, orgs.a, serial_number="uav-001")
    before = state()
    with pytest.raises(ValidationError) as exc:
        add(personas.county_a, orgs.a, serial_number=" UAV-001 ")
    assert "serial_number" in exc.value.message_dict and state() == before
    add(personas.county_b, orgs.b, serial_number="UAV-001")  # another body's ledger
    other = add(personas.county_a, orgs.a, serial_number="UAV-002")
    with pytest.raises(ValidationError):
        services.update_item(personas.county_a, other, serial_number="Uav-001")
    assert fresh(other).serial_number == "UAV-002"


def test_the_database_refuses_a_duplicate_serial_too(personas, orgs):
    item = add(personas.county_a, orgs.a)
    with pytest.raises(IntegrityError), transaction.atomic():
        EquipmentItem.objects.create(organisation=orgs.a, kind=K.OTHER, model="x", serial_number="uav-001",
                                     acquired_on=item.acquired_on, status_since=item.acquired_on)


# Status ------------------------------------------------------------------------------------------
ALLOWED = {(ST.IN_SERVICE, ST.UNDER_REPAIR), (ST.UNDER_REPAIR, ST.IN_SERVICE), (ST.IN_SERVICE, ST.RETIRED),
           (ST.UNDER_REPAIR, ST.RETIRED)}


def item_in(personas, orgs, status) -> EquipmentItem:
    item = add(personas.county_a, orgs.a)
    if status in (ST.UNDER_REPAIR, ST.RETIRED):
        services.change_status(personas.county_a, item, ST.UNDER_REPAIR, reason="坏了", on=dt.date(2026, 3, 1))
    if status == ST.RETIRED:
        services.change_status(personas.county_a, item, ST.RETIRED, reason="报废", on=dt.date(2026, 4, 1))
    return item


@pytest.mark.parametrize("frm", ST.values)
@pytest.mark.parametrize("to", ST.values)
def test_status_moves_follow_the_table(personas, orgs, frm, to):
    item = item_in(personas, orgs, frm)
    before = state()
    if (frm, to) not in ALLOWED:
        with pytest.raises(InvalidTransition):
            services.change_status(personas.county_a, item, to, reason="x")
        assert state() == before
        return
    services.change_status(personas.county_a, item, to, reason="原因")
    item = fresh(item)
    assert (item.status, item.status_since) == (to, TODAY)
    assert item.next_check_due == (None if to == ST.RETIRED else dt.date(2026, 1, 10))
    event = AuditEvent.objects.filter(object_type="enforcement.equipmentitem", action="transition").latest("seq")
    assert (event.before["status"], event.after["status"], event.after["reason"]) == (frm, to, "原因")


@pytest.mark.parametrize(("kwargs", "field"), [({"reason": " "}, "reason"), ({"reason": "x", "on": dt.date(2026, 2, 1)},
                                                                              "on"),
                                               ({"reason": "x", "on": dt.date(2026, 12, 1)}, "on")])
def test_a_status_move_needs_a_reason_and_a_sensible_date(personas, orgs, kwargs, field):
    item = item_in(personas, orgs, ST.UNDER_REPAIR)  # since 2026-03-01
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.change_status(personas.county_a, item, ST.IN_SERVICE, **kwargs)
    assert field in exc.value.message_dict and state() == before


def test_others_cannot_move_or_change_an_item(personas, orgs):
    item = add(personas.county_a, orgs.a)
    before = state()
    for actor in (personas.county_b, personas.ent_a, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            services.change_status(actor, item, ST.UNDER_REPAIR, reason="x")
        with pytest.raises(PermissionDenied):
            services.record_check(actor, item, checked_on=TODAY)
        with pytest.raises(PermissionDenied):
            services.update_item(actor, item, model="y")
    assert state() == before
    services.change_status(personas.city, item, ST.UNDER_REPAIR, reason="市局抽查发现故障")


# Checks and changes ------------------------------------------------------------------------------
def test_a_check_moves_the_next_due_date(personas, orgs):
    item = add(personas.county_a, orgs.a, kind=K.DETECTOR)
    services.record_check(personas.county_a, item, checked_on=dt.date(2026, 11, 1), note="计量检定合格")
    assert (fresh(item).last_checked_on, fresh(item).next_check_due) == (dt.date(2026, 11, 1),
                                                                        dt.date(2027, 4, 30))
    event = AuditEvent.objects.filter(object_type="enforcement.equipmentitem", action="update").latest("seq")
    assert event.after["check_note"] == "计量检定合格"
    for bad in (dt.date(2026, 10, 1), dt.date(2026, 12, 1), dt.date(2024, 1, 1)):
        with pytest.raises(ValidationError):
            services.record_check(personas.county_a, item, checked_on=bad)
    services.change_status(personas.county_a, item, ST.RETIRED, reason="报废")
    with pytest.raises(InvalidTransition):
        services.record_check(personas.county_a, item, checked_on=TODAY)
    with pytest.raises(InvalidTransition):
        services.update_item(personas.county_a, item, model="y")


def test_changing_the_kind_recomputes_the_next_check(personas, orgs):
    item = add(personas.county_a, orgs.a, kind=K.DRONE)
    services.update_item(personas.county_a, item, kind=K.DETECTOR, assigned_to="张三")
    assert (fresh(item).next_check_due, fresh(item).assigned_to) == (dt.date(2025, 7, 9), "张三")
    with pytest.raises(ValidationError):
        services.update_item(personas.county_a, item, status=ST.RETIRED)


# Kit against the minimum -------------------------------------------------------------------------
def test_the_kit_counts_items_in_service_against_the_minimum(personas, orgs):
    serial = iter(range(100))
    for kind, count in {K.DRONE: 1, K.BODY_CAMERA: 4, K.TERMINAL: 2, K.DETECTOR: 2}.items():
        for _i in range(count):
            add(personas.county_a, orgs.a, kind=kind, serial_number=f"A-{next(serial)}")
    kit = {k.organisation: k for k in services.kit_summary(personas.city)}
    assert len(kit) == Organisation.objects.filter(kind__in=["city_bureau", "county"]).count()
    assert not kit[orgs.a].below_minimum
    assert kit[orgs.b].below_minimum and "Drone" in kit[orgs.b].shortfall_text
    camera = EquipmentItem.objects.filter(kind=K.BODY_CAMERA).first()
    services.change_status(personas.county_a, camera, ST.UNDER_REPAIR, reason="维修")
    mine = services.kit_summary(personas.county_a)
    assert [k.organisation for k in mine] == [orgs.a] and mine[0].below_minimum
    line = next(line for line in mine[0].lines if line.kind == K.BODY_CAMERA)
    assert (line.minimum, line.in_service, line.under_repair, line.short) == (4, 3, 1, 1)
    assert services.kit_summary(personas.ent_a) == services.kit_summary(personas.inspector) == []


# Pages, CSV and API: who sees what ---------------------------------------------------------------
ITEM_SCOPE = {"city": {"city", "a", "b"}, "county_a": {"a"}, "county_b": {"b"}}


@pytest.fixture
def world(personas, orgs):
    personas.items = {"city": add(personas.city, orgs.city, serial_number="=HYPERLINK(1)"),
                      "a": add(personas.county_a, orgs.a, serial_number="A-1"),
                      "b": add(personas.county_b, orgs.b, serial_number="B-1")}
    return personas


@pytest.mark.parametrize("persona", PERSONAS)
def test_equipment_pages_and_csv_are_scoped(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/enforcement/equipment/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    scope = ITEM_SCOPE.get(persona)
    if scope is None:
        assert response.status_code == 403
        for path in ("export.csv", "new/", *(f"{i.pk}/" for i in world.items.values())):
            assert web.get(f"/enforcement/equipment/{path}").status_code == 403
        return
    html = response.content.decode()
    assert {k for k, i in world.items.items() if f'data-item="{i.pk}"' in html} == scope
    exported = web.get("/enforcement/equipment/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert {r[3] for r in rows[1:]} == {("'" if k == "city" else "") + i.serial_number for k, i in
                                        world.items.items() if k in scope}
    for key, item in world.items.items():
        assert web.get(f"/enforcement/equipment/{item.pk}/").status_code == (200 if key in scope else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_equipment_api_is_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/enforcement-equipment/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    scope = ITEM_SCOPE.get(persona, set())
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {i.pk for k, i in world.items.items() if k in scope}
    for key, item in world.items.items():
        assert api.get(f"/api/v1/enforcement-equipment/{item.pk}/").status_code == (200 if key in scope else 404)
    exported = api.get("/api/v1/enforcement-equipment/export/")
    assert exported.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))) == 1 + len(
        scope)
    summary = api.get("/api/v1/enforcement-equipment/summary/").json()
    assert len(summary) == (13 if persona == "city" else 1 if scope else 0)


def test_the_county_keeps_its_ledger_on_the_pages(client, personas, orgs):
    web = web_client(client, personas, "county_a")
    form = web.get("/enforcement/equipment/new/")
    assert form.status_code == 200 and orgs.b.name not in form.content.decode()
    response = web.post("/enforcement/equipment/new/", {
        "organisation": orgs.a.pk, "kind": K.BODY_CAMERA, "model": "DSJ-V9", "serial_number": "CAM-1",
        "acquired_on": "2025-06-01", "assigned_to": "李四"})
    item = EquipmentItem.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/enforcement/equipment/{item.pk}/"
    again = web.post("/enforcement/equipment/new/", {
        "organisation": orgs.a.pk, "kind": K.BODY_CAMERA, "model": "DSJ-V9", "serial_number": "cam-1",
        "acquired_on": "2025-06-01"})
    assert again.status_code == 200 and "already has an item with this serial number" in again.content.decode()
    url = f"/enforcement/equipment/{item.pk}/"
    web.post(url, {"action": "status", "status-status": ST.UNDER_REPAIR, "status-reason": "镜头损坏"})
    assert fresh(item).status == ST.UNDER_REPAIR
    web.post(url, {"action": "check", "check-checked_on": "2026-11-20"})
    assert fresh(item).next_check_due == dt.date(2027, 11, 20)
    page = web.get(url).content.decode()
    assert "镜头损坏" in page and "2027-11-20" in page
    outsider = web_client(client, personas, "county_b").post(url, {"action": "status", "status-status": "retired",
                                                                   "status-reason": "x"})
    assert outsider.status_code == 404 and fresh(item).status == ST.UNDER_REPAIR


def test_the_equipment_api_adds_moves_and_refuses(personas, orgs):
    api = APIClient()
    api.force_login(personas.county_a)
    base = {"organisation": orgs.a.pk, "kind": "drone", "model": "M350", "serial_number": "UAV-9",
            "acquired_on": "2025-02-01"}
    created = api.post("/api/v1/enforcement-equipment/", base, format="json")
    assert created.status_code == 201 and created.json()["next_check_due"] == "2026-02-01"
    pk = created.json()["id"]
    duplicate = api.post("/api/v1/enforcement-equipment/", {**base, "serial_number": "uav-9"}, format="json")
    assert duplicate.status_code == 400 and "serial_number" in duplicate.json()
    blank = api.post("/api/v1/enforcement-equipment/", {**base, "serial_number": " ", "model": ""}, format="json")
    assert blank.status_code == 400 and {"serial_number", "model"} <= set(blank.json())
    other = api.post("/api/v1/enforcement-equipment/", {**base, "organisation": orgs.b.pk}, format="json")
    assert other.status_code == 403
    moved = api.post(f"/api/v1/enforcement-equipment/{pk}/status/", {"status": "retired", "reason": "坠毁"},
                     format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "retired"
    again = api.post(f"/api/v1/enforcement-equipment/{pk}/status/", {"status": "in_service", "reason": "x"},
                     format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    checked = api.post(f"/api/v1/enforcement-equipment/{pk}/check/", {"checked_on": "2026-11-01"}, format="json")
    assert checked.status_code == 409
    reader = APIClient()
    reader.force_login(personas.department)
    assert reader.post("/api/v1/enforcement-equipment/", base, format="json").status_code == 403
    assert EquipmentItem.objects.count() == 1
