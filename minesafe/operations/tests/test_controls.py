"""Control of suspended mines: who answers for the mine, the append-only control records (each kind by the
body that may record it), production found as an offence, monitoring's covert signals on the control page,
the list of suspended mines with their control status, the API and the role × page/API matrix."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conftest import make_user
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.monitoring import uploads
from minesafe.monitoring.models import DataUpload, ProductionFlag
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

from .. import suspension
from ..models import ControlAssignment, ControlRecord, Offence
from .test_suspension_reports import TODAY, frozen, parts

CK = ControlRecord.Kind
OK = ControlRecord.Outcome.COMPLIANT
SUSPENDED = {"mine_a", "mine_a2", "mine_b"}  # pond_a keeps producing


@pytest.fixture(autouse=True)
def today(monkeypatch):
    frozen(monkeypatch)


@pytest.fixture
def gd(personas):
    return make_user("gongdian", "department", Organisation.objects.get(unit_code="GD"))


@pytest.fixture
def ga(personas):
    return make_user("gongan", "department", Organisation.objects.get(unit_code="GA"))


@pytest.fixture
def world(personas):
    """mine_a stopped through its report ten days ago (so overdue to the city); mine_a2 and mine_b suspended
    by the city directly; pond_a producing."""
    report = suspension.submit_report(personas.ent_a, personas.mine_a,
                                      **parts(planned_start=TODAY - dt.timedelta(days=10)))
    suspension.accept_report(personas.county_a, report)
    for name in ("mine_a2", "mine_b"):
        registry.change_status(personas.city, getattr(personas, name), Mine.Status.SUSPENDED, reason="停产整顿",
                               effective_date=TODAY - dt.timedelta(days=20))
    for name in MINES:
        getattr(personas, name).refresh_from_db()
    personas.report = report
    return personas


def record(user, mine, kind=CK.PATROL, **overrides):
    data = {"kind": kind, "done_on": TODAY, "outcome": OK, "notes": "井口封闭完好，值守人员在岗"} | overrides
    return suspension.record_control(user, mine, **data)


# Assignments --------------------------------------------------------------------------------------
def test_the_county_or_the_city_names_who_answers_for_a_suspended_mine(world):
    liaison = suspension.add_assignment(world.county_a, world.mine_a, role="liaison", name="张三", post="副县长",
                                        phone="13800000001", start_date=TODAY - dt.timedelta(days=9))
    on_site = suspension.add_assignment(world.city, world.mine_a, role="on_site", name="李四", post="应急局干部",
                                        start_date=TODAY)
    assert set(suspension.current_assignments(world.mine_a)) == {liaison, on_site}
    assert AuditEvent.objects.filter(object_type="operations.controlassignment",
                                     action=AuditEvent.Action.CREATE).count() == 2
    for user in (world.ent_a, world.county_b, world.department, world.inspector):
        with pytest.raises(PermissionDenied):
            suspension.add_assignment(user, world.mine_a, role="liaison", name="王五", post="x", start_date=TODAY)
    with pytest.raises(DomainError):
        suspension.add_assignment(world.county_a, world.pond_a, role="liaison", name="王五", post="x",
                                  start_date=TODAY)
    with pytest.raises(ValidationError) as exc:
        suspension.add_assignment(world.county_a, world.mine_a, role="boss", name=" ", post="", start_date=None)
    assert set(exc.value.message_dict) == {"role", "name", "post", "start_date"}
    with pytest.raises(DomainError) as exc:
        suspension.add_assignment(world.county_a, world.mine_a, role="liaison", name="张三", post="副县长",
                                  start_date=TODAY)
    assert exc.value.code == "duplicate"
    assert ControlAssignment.objects.count() == 2


def test_an_assignment_ends_once_and_not_before_it_began(world):
    assignment = suspension.add_assignment(world.county_a, world.mine_a, role="on_site", name="李四", post="干部",
                                           start_date=TODAY - dt.timedelta(days=5))
    with pytest.raises(ValidationError):
        suspension.end_assignment(world.county_a, assignment, TODAY - dt.timedelta(days=6))
    with pytest.raises(ValidationError):
        suspension.end_assignment(world.county_a, assignment, TODAY + dt.timedelta(days=1))
    with pytest.raises(PermissionDenied):
        suspension.end_assignment(world.ent_a, assignment, TODAY)
    assert ControlAssignment.objects.get().end_date is None
    suspension.end_assignment(world.county_a, assignment, TODAY - dt.timedelta(days=1))
    assert ControlAssignment.objects.get().end_date == TODAY - dt.timedelta(days=1)
    assert not suspension.current_assignments(world.mine_a).exists()
    with pytest.raises(InvalidTransition):
        suspension.end_assignment(world.city, assignment, TODAY)


# Control records ----------------------------------------------------------------------------------
def test_inspections_are_recorded_by_the_county_the_city_or_an_assigned_inspector(world):
    for kind in suspension.INSPECTION_KINDS:
        record(world.county_a, world.mine_a, kind)
    record(world.city, world.mine_b, CK.SURPRISE)
    record(world.inspector, world.mine_a2, CK.CROSS)
    refused = [(world.inspector, world.mine_a), (world.ent_a, world.mine_a), (world.county_b, world.mine_a),
               (world.department, world.mine_a)]
    for user, mine in refused:
        with pytest.raises(PermissionDenied):
            record(user, mine)
    assert ControlRecord.objects.count() == len(suspension.INSPECTION_KINDS) + 2
    assert AuditEvent.objects.filter(object_type="operations.controlrecord").count() == ControlRecord.objects.count()


def test_power_limits_are_the_power_companys_and_explosives_the_polices(world, gd, ga):
    record(gd, world.mine_b, CK.POWER_LIMIT, notes="已限电至排水负荷")
    record(world.city, world.mine_b, CK.POWER_LIMIT, notes="市局确认限电")
    record(ga, world.mine_b, CK.EXPLOSIVES, notes="民爆物品已清退")
    record(world.city, world.mine_b, CK.EXPLOSIVES, notes="市局确认")
    for user, kind in ((world.county_b, CK.POWER_LIMIT), (ga, CK.POWER_LIMIT), (world.department, CK.POWER_LIMIT),
                       (world.county_b, CK.EXPLOSIVES), (gd, CK.EXPLOSIVES), (world.ent_b, CK.EXPLOSIVES),
                       (gd, CK.PATROL), (ga, CK.SURPRISE)):
        with pytest.raises(PermissionDenied):
            record(user, world.mine_b, kind)
    assert ControlRecord.objects.count() == 4
    assert suspension.record_kinds(gd, world.mine_b) == [CK.POWER_LIMIT]
    assert suspension.record_kinds(world.county_b, world.mine_b) == list(suspension.INSPECTION_KINDS)
    assert suspension.record_kinds(world.county_a, world.pond_a) == []  # producing: nothing to control


def test_bad_control_records_are_refused_and_change_nothing(world):
    bad = [({"done_on": TODAY + dt.timedelta(days=1)}, "done_on"),
           ({"done_on": world.mine_a.status_since - dt.timedelta(days=1)}, "done_on"),
           ({"done_on": None}, "done_on"), ({"outcome": "fine"}, "outcome"), ({"notes": "  "}, "notes"),
           ({"kind": "visit"}, "kind")]
    before = AuditEvent.objects.count()
    for overrides, field in bad:
        with pytest.raises(ValidationError) as exc:
            record(world.county_a, world.mine_a, **overrides)
        assert field in exc.value.message_dict
    with pytest.raises(DomainError):
        record(world.county_a, world.pond_a)
    assert not ControlRecord.objects.exists() and AuditEvent.objects.count() == before


def test_production_found_by_a_control_is_an_offence(world):
    found = record(world.county_a, world.mine_a, CK.COVERT, outcome=ControlRecord.Outcome.PRODUCING,
                   notes="夜间井下有采掘作业，12人在井下")
    offence = Offence.objects.get()
    assert offence.kind == Offence.Kind.UNACCEPTED_RESUMPTION and offence.mine == world.mine_a
    assert offence.source == f"operations.controlrecord:{found.pk}" and offence.found_on == TODAY
    assert "12人在井下" in offence.description
    link = f"/operations/suspended/{world.mine_a.pk}/"
    assert Notification.objects.filter(recipient=world.city, link=link).count() == 1
    assert Notification.objects.filter(recipient=world.county_a, link=link).count() == 1
    assert not Notification.objects.filter(recipient=world.ent_a, link=link).exists()
    record(world.county_a, world.mine_a, CK.PATROL, outcome=ControlRecord.Outcome.ISSUES, notes="值守人员脱岗")
    assert Offence.objects.count() == 1


# Pages --------------------------------------------------------------------------------------------
@pytest.fixture
def signals(world, gd):
    """An open production flag on mine_a and 30 days of its meter readings."""
    flag = ProductionFlag.objects.create(
        mine=world.mine_a, signal=ProductionFlag.Signal.HEADCOUNT, episode="h1", began_on=TODAY,
        summary="secret-summary: 9 people underground", evidence={"sensor": 1, "limit": 3, "peak": 9},
        detected_at=timezone.now(), inspect_by=TODAY + dt.timedelta(days=3))
    rows = [{"mine_code": world.mine_a.code, "period_start": (TODAY - dt.timedelta(days=i)).isoformat(), "hours": 24,
             "kwh": 4321 + i} for i in range(1, 31)]
    assert uploads.upload(gd, DataUpload.Kind.METER, list(enumerate(rows, start=1)), channel="api").ok
    return flag


def test_the_control_page_shows_monitoring_signals_only_to_regulators(client, signals, world):
    url = f"/operations/suspended/{world.mine_a.pk}/"
    for persona in ("county_a", "city"):
        html = web_client(client, world, persona).get(url).content.decode()
        assert 'id="signals"' in html and "secret-summary" in html and f'data-flag="{signals.pk}"' in html
        assert "4,322" in html or "4322" in html  # yesterday's daily use
    for persona in ("ent_a", "department"):
        page = web_client(client, world, persona).get(url)
        html = page.content.decode()
        assert page.status_code == 200 and world.mine_a.name in html
        assert 'id="signals"' not in html and "secret-summary" not in html and "4322" not in html


def test_the_list_of_suspended_mines_shows_the_control_status(client, signals, world):
    suspension.add_assignment(world.county_a, world.mine_a, role="liaison", name="张三", post="副县长",
                              start_date=TODAY - dt.timedelta(days=9))
    record(world.county_a, world.mine_a, CK.PATROL, done_on=TODAY - dt.timedelta(days=4))
    rows = {r.mine.pk: r for r in suspension.control_overview(world.county_a)}
    assert set(rows) == {world.mine_a.pk, world.mine_a2.pk}
    mine_a = rows[world.mine_a.pk]
    assert mine_a.liaison and not mine_a.on_site
    assert mine_a.last_inspection == TODAY - dt.timedelta(days=4) and mine_a.days_since_inspection == 4
    assert mine_a.open_flags == 1 and mine_a.report_overdue and mine_a.report_id == world.report.pk
    mine_a2 = rows[world.mine_a2.pk]
    assert not mine_a2.liaison and mine_a2.last_inspection is None and mine_a2.open_flags == 0
    assert mine_a2.report_id is None and not mine_a2.report_overdue
    # The enterprise sees its mine's control status but never the count of covert flags.
    own = suspension.control_overview(world.ent_a)
    assert [r.mine.pk for r in own] == [world.mine_a.pk] and own[0].open_flags is None
    html = web_client(client, world, "ent_a").get("/operations/suspended/").content.decode()
    assert "data-open-flags" not in html
    html = web_client(client, world, "county_a").get("/operations/suspended/").content.decode()
    assert 'data-open-flags="1"' in html


def test_controls_are_recorded_and_assigned_through_the_control_page(client, world, gd):
    url = f"/operations/suspended/{world.mine_b.pk}/"
    web = web_client(client, world, "county_b")
    html = web.get(url).content.decode()
    assert 'id="record-form"' in html and 'id="assign-form"' in html
    future = web.post(url, {"action": "record", "kind": "patrol", "done_on": "2026-03-11", "outcome": "compliant",
                            "notes": "巡查"})
    assert future.status_code == 200 and not ControlRecord.objects.exists()
    assert web.post(url, {"action": "record", "kind": "patrol", "done_on": TODAY.isoformat(), "outcome": "compliant",
                          "notes": "巡查正常"}).status_code == 302
    assert web.post(url, {"action": "assign", "role": "on_site", "name": "赵六", "post": "驻矿干部", "phone": "",
                          "start_date": TODAY.isoformat()}).status_code == 302
    assignment = ControlAssignment.objects.get()
    assert web.post(url, {"action": "end", "assignment": assignment.pk,
                          "end_date": TODAY.isoformat()}).status_code == 302
    assert ControlAssignment.objects.get().end_date == TODAY
    # The power company records its power limit on the same page; the enterprise records nothing.
    power = web_client(client, world, "anonymous")
    power.force_login(gd)
    assert 'id="assign-form"' not in power.get(url).content.decode()
    assert power.post(url, {"action": "record", "kind": "power_limit", "done_on": TODAY.isoformat(),
                            "outcome": "compliant", "notes": "限电"}).status_code == 302
    owner = web_client(client, world, "ent_b")
    assert owner.post(url, {"action": "record", "kind": "patrol", "done_on": TODAY.isoformat(),
                            "outcome": "compliant", "notes": "x"}).status_code == 403
    assert list(ControlRecord.objects.values_list("kind", flat=True).order_by("pk")) == ["patrol", "power_limit"]


# API ----------------------------------------------------------------------------------------------
def test_the_api_records_controls_and_assignments(world, gd):
    power = api_client(world, "anonymous")
    power.force_login(gd)
    body = {"mine": world.mine_b.pk, "kind": "power_limit", "done_on": TODAY.isoformat(), "outcome": "compliant",
            "notes": "限电"}
    assert power.post("/api/v1/control-records/", body, format="json").status_code == 201
    county = api_client(world, "county_b")
    assert county.post("/api/v1/control-records/", body, format="json").status_code == 403
    assert county.post("/api/v1/control-records/", {**body, "kind": "patrol", "done_on": "2026-03-11"},
                       format="json").status_code == 400
    assert county.post("/api/v1/control-records/", {**body, "kind": "patrol", "mine": world.mine_a.pk},
                       format="json").status_code == 400  # not its mine: "does not exist"
    registry.change_status(world.city, world.pond_a, Mine.Status.CLOSED, reason="闭库")
    assert api_client(world, "county_a").post("/api/v1/control-records/", {**body, "kind": "patrol",
                                                                           "mine": world.pond_a.pk},
                                              format="json").status_code == 409
    assert ControlRecord.objects.count() == 1
    assignment = {"mine": world.mine_b.pk, "role": "liaison", "name": "钱七", "post": "副县长",
                  "start_date": TODAY.isoformat()}
    assert api_client(world, "ent_b").post("/api/v1/control-assignments/", assignment,
                                           format="json").status_code == 403
    created = county.post("/api/v1/control-assignments/", assignment, format="json")
    assert created.status_code == 201
    end = f"/api/v1/control-assignments/{created.json()['id']}/end/"
    assert county.post(end, {"end_date": "2026-03-01"}, format="json").status_code == 400
    assert county.post(end, {"end_date": TODAY.isoformat()}, format="json").json()["end_date"] == TODAY.isoformat()
    assert county.post(end, {"end_date": TODAY.isoformat()}, format="json").status_code == 409
    assert api_client(world, "county_a").post(end, {"end_date": TODAY.isoformat()}, format="json").status_code == 404


# The role × page/API matrix ------------------------------------------------------------------------
@pytest.fixture
def controlled(world):
    """Every fixture mine suspended, with one assignment and one record each."""
    registry.change_status(world.city, world.pond_a, Mine.Status.SUSPENDED, reason="停产",
                           effective_date=TODAY - dt.timedelta(days=3))
    world.pond_a.refresh_from_db()
    for name in MINES:
        mine = getattr(world, name)
        suspension.add_assignment(world.city, mine, role="liaison", name=f"{name}-official", post="x",
                                  start_date=TODAY)
        record(world.city, mine, notes=f"{name}-patrol")
    return world


@pytest.mark.parametrize("persona", PERSONAS)
def test_control_pages_and_api_are_scoped(client, controlled, persona):
    web = web_client(client, controlled, persona)
    api = api_client(controlled, persona)
    listing = web.get("/operations/suspended/")
    records = api.get("/api/v1/control-records/?limit=100")
    assignments = api.get("/api/v1/control-assignments/?limit=100")
    if persona == "anonymous":
        assert listing.status_code == 302 and records.status_code == 403 and assignments.status_code == 403
        assert web.get(f"/operations/suspended/{controlled.mine_a.pk}/").status_code == 302
        return
    html = listing.content.decode()
    ids = {getattr(controlled, n).pk: n for n in MINES}
    assert {n for pk, n in ids.items() if f'data-mine="{pk}"' in html} == SCOPE[persona]
    assert {ids[r["mine"]] for r in records.json()["results"]} == SCOPE[persona]
    assert {ids[a["mine"]] for a in assignments.json()["results"]} == SCOPE[persona]
    for name in MINES:
        mine = getattr(controlled, name)
        expected = 200 if name in SCOPE[persona] else 404
        page = web.get(f"/operations/suspended/{mine.pk}/")
        assert page.status_code == expected
        if expected == 200:
            assert f"{name}-patrol" in page.content.decode()
        one = ControlRecord.objects.get(mine=mine)
        assert api.get(f"/api/v1/control-records/{one.pk}/").status_code == expected
        two = ControlAssignment.objects.get(mine=mine)
        assert api.get(f"/api/v1/control-assignments/{two.pk}/").status_code == expected
