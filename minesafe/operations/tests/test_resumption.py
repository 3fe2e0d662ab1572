"""Resumption acceptance: apply, open the check (computed items judged from the data), the team's items with
evidence, the precondition, refusal on any failed item, acceptance changing the mine's status (the only way a
suspended mine resumes), withdrawal; refusals change nothing; who may do what and see what."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.hazards.services import report_hazard
from minesafe.monitoring.models import ProductionFlag
from minesafe.operations import resumption
from minesafe.operations.models import AcceptanceItem, Census, HiddenFactor, Offence, ResumptionApplication
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

pytestmark = pytest.mark.django_db
NOW = timezone.now()
TODAY = timezone.localdate(NOW)


@pytest.fixture(autouse=True)
def clock_at_import(monkeypatch):
    """The clock stays where TODAY was read (at import, and in parametrize lists): a run that crosses midnight in
    Asia/Shanghai would otherwise see yesterday's dates as the past."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
MANUAL = ["technical_examined", "rectified", "equipment_tested", "training"]


@pytest.fixture
def suspended(personas):
    """Mine A: suspended, licensed, not required to connect monitoring? (underground: it is; see below)."""
    mine = personas.mine_a
    registry.change_status(personas.ent_a, mine, Mine.Status.SUSPENDED, reason="停产整顿",
                           effective_date=TODAY - dt.timedelta(days=60))
    Mine.objects.filter(pk=mine.pk).update(licence_no="（冀）FM安许证字〔2024〕001号",
                                           licence_expiry=TODAY + dt.timedelta(days=365))
    mine.refresh_from_db()
    return mine


def census(mine, actor, *, treated=True, status=Census.Status.COMPLETED) -> Census:
    c = Census.objects.create(mine=mine, provider="河北某地质勘查院", scope_years=3,
                              started_on=TODAY - dt.timedelta(30), completed_on=TODAY - dt.timedelta(5),
                              status=status, report_summary="普查报告", created_by=actor)
    HiddenFactor.objects.create(census=c, kind="void", location="-150m 中段", description="采空区",
                                treatment="treated" if treated else "treating",
                                treated_on=TODAY - dt.timedelta(3) if treated else None)
    return c


def examined_chief(mine, personas, *, passed=True):
    """The mine manager, examined at an inspection (逢查必考): the personnel app judges that item."""
    from decimal import Decimal

    from minesafe.personnel.models import Appointment, Exam, Person

    chief = Person.objects.create(mine=mine, name="王建国", id_number="130827197001010011", education="bachelor",
                                  specialty="采矿工程", core_specialty=True, frontline_years=Decimal(20),
                                  created_by=personas.city)
    Appointment.objects.create(person=chief, mine=mine, post="mine_manager", start_date=TODAY - dt.timedelta(400),
                               created_by=personas.city)
    Exam.objects.create(person=chief, mine=mine, post="mine_manager", examiner=personas.inspector,
                        held_on=TODAY - dt.timedelta(10), score=Decimal(90 if passed else 50), passed=passed)
    return chief


def connect(mine, personas):
    """A reporting sensor, so the monitoring item passes."""
    from minesafe.monitoring import services

    gateway, _token = services.create_gateway(personas.city, mine, "网关")
    sensor = services.create_sensor(personas.city, mine, code="CO-01", name="一氧化碳", kind="co", gateway=gateway)
    type(sensor).objects.filter(pk=sensor.pk).update(last_received_at=timezone.now())


def item(application, code) -> AcceptanceItem:
    return application.items.get(code=code)


def test_apply_refusals_change_nothing(personas, suspended):
    with pytest.raises(PermissionDenied):
        resumption.apply(personas.county_a, suspended, planned_resumption=TODAY, statement="准备就绪")
    with pytest.raises(PermissionDenied):
        resumption.apply(personas.ent_b, suspended, planned_resumption=TODAY, statement="准备就绪")
    with pytest.raises(ValidationError) as bad:
        resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY - dt.timedelta(1), statement=" ")
    assert set(bad.value.message_dict) == {"planned_resumption", "statement"}
    with pytest.raises(InvalidTransition) as producing:
        resumption.apply(personas.ent_a, personas.pond_a, planned_resumption=TODAY, statement="准备就绪")
    assert "only a suspended" in str(producing.value)
    assert not ResumptionApplication.objects.exists()
    resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY, statement="准备就绪")
    with pytest.raises(InvalidTransition):
        resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY, statement="再次申请")
    assert ResumptionApplication.objects.count() == 1


def test_a_failed_item_refuses_then_a_new_application_passes(personas, suspended):
    connect(suspended, personas)
    census(suspended, personas.ent_a)
    examined_chief(suspended, personas)
    application = resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY, statement="已整改完毕")
    with pytest.raises(PermissionDenied):
        resumption.start_check(personas.county_b, application, team="兴隆县验收组")
    with pytest.raises(ValidationError):
        resumption.start_check(personas.county_a, application, team=" ")
    application = resumption.start_check(personas.county_a, application, team="宽城县应急管理局验收组")
    assert application.status == "checking"
    computed = {i.code: i.result for i in application.items.filter(computed=True)}
    assert computed == {"census": "passed", "no_major_hazard": "passed", "licence": "passed",
                        "monitoring": "passed", "no_production_signal": "passed", "chiefs_examined": "passed"}
    # The team: a pass needs evidence, a failure its reason; computed items are not judged by hand.
    with pytest.raises(ValidationError):
        resumption.record_item(personas.county_a, item(application, "training"), passed=True, evidence=" ")
    with pytest.raises(ValidationError):
        resumption.record_item(personas.county_a, item(application, "training"), passed=False, reason="")
    with pytest.raises(InvalidTransition):
        resumption.record_item(personas.county_a, item(application, "licence"), passed=True, evidence="见证照")
    with pytest.raises(PermissionDenied):
        resumption.record_item(personas.ent_a, item(application, "training"), passed=True, evidence="培训记录")
    assert item(application, "training").result == "pending"
    with pytest.raises(InvalidTransition) as unchecked:
        resumption.decide(personas.county_a, application)
    assert "not yet checked" in str(unchecked.value)
    for code in MANUAL[:-1]:
        resumption.record_item(personas.county_a, item(application, code), passed=True, evidence=f"{code} 记录齐全")
    resumption.record_item(personas.county_a, item(application, "training"), passed=False,
                           reason="三名井下工人未参加培训")
    refused = resumption.decide(personas.county_a, application)
    assert refused.status == "refused" and "三名井下工人未参加培训" in refused.decision_note
    assert Mine.objects.get(pk=suspended.pk).status == "suspended"
    # A new application after the training: accepted, and the mine produces again.
    again = resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY, statement="培训已补")
    again = resumption.start_check(personas.county_a, again, team="宽城县应急管理局验收组")
    for code in MANUAL:
        resumption.record_item(personas.county_a, item(again, code), passed=True, evidence=f"{code} 记录齐全")
    accepted = resumption.decide(personas.county_a, again, note="同意复产")
    mine = Mine.objects.get(pk=suspended.pk)
    assert accepted.status == "accepted" and mine.status == "producing" and mine.status_since == TODAY
    assert mine.status_changes.order_by("-pk").first().reason.startswith("resumption accepted") or \
        "复产" in mine.status_changes.order_by("-pk").first().reason
    assert AuditEvent.objects.filter(object_type="operations.resumptionapplication").count() >= 6


def test_the_census_is_a_precondition_and_data_items_follow_the_data(personas, suspended):
    connect(suspended, personas)
    census(suspended, personas.ent_a, treated=False)
    item_ = HazardItem.objects.filter(catalogue__active=True).first()
    hazard = report_hazard(personas.county_a, suspended, next(i for i in HazardItem.objects.filter(
        catalogue__active=True) if i.fits(suspended.mine_type)), source="county_inspection", found_on=TODAY,
        description="安全出口不畅")
    assert item_ is not None
    ProductionFlag.objects.create(mine=suspended, signal="electricity", episode="e1", began_on=TODAY,
                                  summary="用电上升", evidence={}, detected_at=timezone.now(), inspect_by=TODAY)
    application = resumption.start_check(personas.county_a, resumption.apply(
        personas.ent_a, suspended, planned_resumption=TODAY, statement="申请复产"), team="验收组")
    results = {i.code: (i.result, i.reason) for i in application.items.filter(computed=True)}
    assert results["census"][0] == "failed" and "not treated" in results["census"][1]
    assert results["no_major_hazard"] == ("failed", f"major hazards still open: {hazard.number}")
    assert results["no_production_signal"][0] == "failed"
    with pytest.raises(InvalidTransition) as blocked:
        resumption.record_item(personas.county_a, item(application, "training"), passed=True, evidence="记录")
    assert "precondition" in str(blocked.value)
    # The data changes: the factor is treated, the hazard closed, the flag examined.
    assert results["chiefs_examined"][0] == "failed"  # nobody examined yet
    HiddenFactor.objects.update(treatment="treated", treated_on=TODAY)
    examined_chief(suspended, personas)
    Hazard.objects.filter(pk=hazard.pk).update(status=Hazard.Status.CLOSED)
    ProductionFlag.objects.update(status="dismissed")
    resumption.refresh_computed(application)
    assert set(application.items.filter(computed=True).values_list("result", flat=True)) == {"passed"}


def test_no_resumption_without_acceptance_and_a_confirmed_flag_is_an_offence(personas, suspended):
    with pytest.raises(InvalidTransition):
        registry.change_status(personas.city, suspended, Mine.Status.PRODUCING, reason="直接复产")
    from minesafe.monitoring import suspension as watch

    flag = ProductionFlag.objects.create(mine=suspended, signal="headcount", episode="h1", began_on=TODAY,
                                         summary="井下人数超值守", evidence={}, detected_at=timezone.now(),
                                         inspect_by=TODAY)
    watch.confirm(personas.county_a, flag, inspected_on=TODAY, method="covert", findings="井下正在出矿")
    offence = Offence.objects.get()
    assert (offence.mine, offence.kind) == (suspended, "unaccepted_resumption")
    assert "井下正在出矿" in offence.description


def test_withdrawal_and_scope(client, personas, suspended):
    application = resumption.apply(personas.ent_a, suspended, planned_resumption=TODAY, statement="申请复产")
    for user, status in ((personas.ent_a, 200), (personas.county_a, 200), (personas.city, 200),
                         (personas.ent_b, 404), (personas.county_b, 404), (personas.inspector, 404),
                         (personas.department, 200)):
        client.force_login(user)
        assert client.get(f"/operations/resumption/{application.pk}/").status_code == status, user
        listed = client.get("/operations/resumption/").content.decode()
        assert (f'data-application="{application.pk}"' in listed) == (status == 200)
    client.force_login(personas.county_a)
    assert client.post(f"/operations/resumption/{application.pk}/", {"action": "withdraw"}).status_code == 403
    with pytest.raises(PermissionDenied):
        resumption.withdraw(personas.county_a, application)
    resumption.withdraw(personas.ent_a, application)
    assert ResumptionApplication.objects.get().status == "withdrawn"


def test_the_api_runs_the_same_procedure_and_is_scoped(personas, suspended):
    from rest_framework.test import APIClient

    def api(user):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(user)
        return client

    connect(suspended, personas)
    census(suspended, personas.ent_a)
    examined_chief(suspended, personas)
    bad = api(personas.ent_a).post("/api/v1/resumption-applications/", {
        "mine": suspended.pk, "planned_resumption": TODAY.isoformat(), "statement": ""}, format="json")
    assert bad.status_code == 400 and "statement" in bad.json()
    created = api(personas.ent_a).post("/api/v1/resumption-applications/", {
        "mine": suspended.pk, "planned_resumption": TODAY.isoformat(), "statement": "申请复产"}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert api(personas.ent_b).get(f"/api/v1/resumption-applications/{pk}/").status_code == 404
    assert api(personas.county_b).post(f"/api/v1/resumption-applications/{pk}/start/", {"team": "x"},
                                       format="json").status_code == 404
    assert api(personas.ent_a).post(f"/api/v1/resumption-applications/{pk}/start/", {"team": "x"},
                                    format="json").status_code == 403
    started = api(personas.county_a).post(f"/api/v1/resumption-applications/{pk}/start/", {"team": "验收组"},
                                          format="json").json()
    items = {i["code"]: i["id"] for i in started["items"]}
    no_evidence = api(personas.county_a).post(f"/api/v1/resumption-applications/{pk}/record/", {
        "item": items["training"], "passed": True, "evidence": ""}, format="json")
    assert no_evidence.status_code == 400 and "evidence" in no_evidence.json()
    for code in MANUAL:
        assert api(personas.county_a).post(f"/api/v1/resumption-applications/{pk}/record/", {
            "item": items[code], "passed": True, "evidence": "记录齐全"}, format="json").status_code == 200
    decided = api(personas.county_a).post(f"/api/v1/resumption-applications/{pk}/decide/", {}, format="json")
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"
    again = api(personas.county_a).post(f"/api/v1/resumption-applications/{pk}/decide/", {}, format="json")
    assert again.status_code == 409
    listed = api(personas.ent_a).get("/api/v1/resumption-applications/").json()
    assert [a["id"] for a in listed.get("results", listed)] == [pk]
    assert api(personas.ent_b).get("/api/v1/resumption-applications/").json().get("results", []) == []


def test_a_failed_chief_blocks_resumption(personas, suspended):
    connect(suspended, personas)
    census(suspended, personas.ent_a)
    examined_chief(suspended, personas, passed=False)
    application = resumption.start_check(personas.county_a, resumption.apply(
        personas.ent_a, suspended, planned_resumption=TODAY, statement="申请复产"), team="验收组")
    chiefs = item(application, "chiefs_examined")
    assert chiefs.result == "failed" and "王建国" in chiefs.reason
    for code in MANUAL:
        resumption.record_item(personas.county_a, item(application, code), passed=True, evidence="记录齐全")
    assert resumption.decide(personas.county_a, application).status == "refused"
    assert Mine.objects.get(pk=suspended.pk).status == "suspended"
