"""Accidents: the report with its computed grade and refusals, every transition of the 四不放过 investigation and
its refusals, the consequences raised as tasks, suspension through the registry, the case library entry,
and who sees and does what on the pages and the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.enforcement import accidents as services
from minesafe.enforcement.models import Accident, AccidentCase, FollowUpTask, InvestigationFinding
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
NOW = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
WHEN = NOW - dt.timedelta(hours=3)
S = Accident.Status
A = InvestigationFinding.Aspect
K = FollowUpTask.Kind
REGULATORS_OF_MINE_A = ("city", "county_a")
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def state() -> tuple:
    return (list(Accident.objects.values_list("status", "grade", "deaths", "serious_injuries").order_by("pk")),
            list(InvestigationFinding.objects.values_list("aspect", "text").order_by("pk")),
            list(FollowUpTask.objects.values_list("kind", "done_at").order_by("pk")),
            AccidentCase.objects.count(), AuditEvent.objects.count())


def report(personas, actor=None, mine=None, **overrides) -> Accident:
    data = {"occurred_at": WHEN, "place": "-180 m 中段 5 号采场", "kind": "roof_fall", "summary": "冒顶, 一人被埋",
            **overrides}
    return services.report_accident(actor or personas.ent_a, mine or personas.mine_a, **data)


def investigated(personas, aspects=A.values, **overrides) -> Accident:
    accident = report(personas, **overrides)
    services.start_investigation(personas.county_a, accident)
    for aspect in aspects:
        services.record_finding(personas.county_a, accident, aspect, f"{aspect} 已查明")
    return accident


# Report and grade --------------------------------------------------------------------------------
def test_the_enterprise_reports_an_accident_graded_and_audited(personas):
    accident = fresh(report(personas, deaths=1, serious_injuries=2, minor_injuries=3, direct_loss=Decimal("850000")))
    assert (accident.status, accident.grade, accident.reporter, accident.reported_by) == (
        S.REPORTED, "general", Accident.Reporter.ENTERPRISE, personas.ent_a)
    event = AuditEvent.objects.get(object_type="enforcement.accident", object_id=str(accident.pk))
    assert event.action == AuditEvent.Action.CREATE and event.after["deaths"] == 1
    county_org = Organisation.objects.get(kind="county", region=personas.county_a_region)
    assert Notification.objects.filter(recipient=personas.county_a, link__contains=f"/{accident.pk}/").exists()
    assert Notification.objects.filter(recipient=personas.city).exists()
    assert county_org == personas.county_a.organisation


@pytest.mark.parametrize(("figures", "grade"), [
    ({"deaths": 3}, "larger"), ({"serious_injuries": 50}, "major"), ({"direct_loss": Decimal("100000000")},
                                                                      "especially_major"),
    ({"deaths": 2, "serious_injuries": 9, "direct_loss": Decimal("9999999.99")}, "general"),
    ({"minor_injuries": 4}, "general"), ({"deaths": 30}, "especially_major")])
def test_the_grade_is_computed_from_the_figures(personas, figures, grade):
    assert report(personas, personas.city, **figures).grade == grade


def test_a_near_miss_has_no_grade_and_no_casualties(personas):
    accident = report(personas, is_near_miss=True, kind="flooding", direct_loss=Decimal("20000"))
    assert (accident.grade, accident.is_near_miss) == ("", True)
    assert not FollowUpTask.objects.exists()
    with pytest.raises(ValidationError) as exc:
        report(personas, is_near_miss=True, minor_injuries=1)
    assert "is_near_miss" in exc.value.message_dict


@pytest.mark.parametrize("persona", REGULATORS_OF_MINE_A)
def test_a_regulator_reports_too(personas, persona):
    assert report(personas, getattr(personas, persona)).reporter == Accident.Reporter.REGULATOR


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_reports_for_the_mine(personas, persona):
    before = state()
    with pytest.raises(PermissionDenied):
        report(personas, getattr(personas, persona))
    assert state() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"occurred_at": NOW + dt.timedelta(minutes=1)}, "occurred_at"), ({"occurred_at": None}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"), ({"deaths": -1}, "deaths"),
    ({"serious_injuries": -2}, "serious_injuries"), ({"minor_injuries": 1.5}, "minor_injuries"),
    ({"deaths": True}, "deaths"), ({"deaths": 10001}, "deaths"), ({"direct_loss": Decimal("-1")}, "direct_loss"),
    ({"direct_loss": "NaN"}, "direct_loss"), ({"direct_loss": "abc"}, "direct_loss"),
    ({"direct_loss": Decimal("1.234")}, "direct_loss"), ({"place": " "}, "place"), ({"place": "x" * 201}, "place"),
    ({"kind": "meteor"}, "kind"), ({"summary": ""}, "summary"), ({"parent_company": "x" * 129}, "parent_company"),
])
def test_bad_report_input_is_refused_naming_the_field(personas, overrides, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        report(personas, **overrides)
    assert field in exc.value.message_dict
    assert state() == before


# Consequences ------------------------------------------------------------------------------------
def test_a_fatal_accident_raises_a_suspension_task_for_the_county(personas):
    accident = report(personas, deaths=1)
    task = FollowUpTask.objects.get()
    assert (task.kind, task.level, task.assignee, task.mine, task.accident) == (
        K.SUSPEND_MINE, "county", personas.county_a.organisation, personas.mine_a, accident)
    assert task.due_on == TODAY + dt.timedelta(days=1) and not task.is_done
    assert Notification.objects.filter(recipient=personas.county_a, subject__startswith="Task:").exists()


def test_a_larger_accident_raises_a_summons_of_the_company_and_its_parent_for_the_city(personas):
    report(personas, deaths=3, parent_company="承德某集团")
    tasks = {t.kind: t for t in FollowUpTask.objects.all()}
    assert set(tasks) == {K.SUSPEND_MINE, K.SUMMONS}
    summons = tasks[K.SUMMONS]
    assert (summons.level, summons.assignee.kind) == ("city", Organisation.Kind.CITY_BUREAU)
    assert personas.enterprise_a.name in summons.title and "承德某集团" in summons.detail
    assert summons.due_on == TODAY + dt.timedelta(days=15)


def test_a_larger_accident_without_deaths_brings_the_summons_only(personas):
    report(personas, serious_injuries=10)
    assert list(FollowUpTask.objects.values_list("kind", flat=True)) == [K.SUMMONS]


def test_a_general_accident_without_deaths_raises_no_task(personas):
    report(personas, serious_injuries=9, direct_loss=Decimal("9999999"))
    assert not FollowUpTask.objects.exists()


def test_amended_figures_regrade_and_raise_what_is_now_due_once(personas):
    accident = report(personas, serious_injuries=2)
    services.amend_casualties(personas.ent_a, accident, deaths=1, serious_injuries=1, minor_injuries=0,
                              direct_loss=0, reason="一名重伤者经抢救无效死亡")
    assert list(FollowUpTask.objects.values_list("kind", flat=True)) == [K.SUSPEND_MINE]
    services.amend_casualties(personas.county_a, accident, deaths=3, serious_injuries=1, minor_injuries=0,
                              direct_loss=0, reason="又有两人死亡")
    assert fresh(accident).grade == "larger"
    assert sorted(FollowUpTask.objects.values_list("kind", flat=True)) == sorted([K.SUSPEND_MINE, K.SUMMONS])
    event = AuditEvent.objects.filter(object_type="enforcement.accident", action="update").order_by("seq").last()
    assert event.before == {"deaths": 1, "grade": "general"} and event.after["grade"] == "larger"
    with pytest.raises(ValidationError) as exc:
        services.amend_casualties(personas.ent_a, accident, deaths=-3, serious_injuries=0, minor_injuries=0,
                                  direct_loss=0, reason="")
    assert {"deaths", "reason"} <= set(exc.value.message_dict)


def test_the_suspension_task_suspends_the_mine_through_the_registry(personas):
    report(personas, deaths=1)
    task = FollowUpTask.objects.get()
    with pytest.raises(PermissionDenied):
        services.suspend_mine_for_task(personas.ent_a, task, reason="x")
    with pytest.raises(PermissionDenied):
        services.suspend_mine_for_task(personas.county_b, task, reason="x")
    with pytest.raises(ValidationError):
        services.suspend_mine_for_task(personas.county_a, task, reason=" ")
    services.suspend_mine_for_task(personas.county_a, task, reason="死亡事故停产整顿")
    mine, task = fresh(personas.mine_a), fresh(task)
    assert mine.status == Mine.Status.SUSPENDED
    assert mine.status_changes.order_by("pk").last().reason == "死亡事故停产整顿"
    assert task.is_done and task.done_by == personas.county_a and "死亡事故停产整顿" in task.done_note
    with pytest.raises(InvalidTransition):
        services.complete_task(personas.county_a, task, note="again")


def test_a_task_on_a_mine_no_longer_working_is_completed_by_note(personas):
    report(personas, deaths=1)
    task = FollowUpTask.objects.get()
    registry.change_status(personas.city, personas.mine_a, Mine.Status.SUSPENDED, reason="已停产")
    with pytest.raises(InvalidTransition):
        services.suspend_mine_for_task(personas.county_a, task, reason="x")
    with pytest.raises(ValidationError):
        services.complete_task(personas.county_a, task, note="")
    services.complete_task(personas.county_a, task, note="事故前已停产, 保持停产")
    assert fresh(task).is_done


def test_only_the_city_completes_a_summons(personas):
    report(personas, deaths=0, serious_injuries=10)
    task = FollowUpTask.objects.get()
    with pytest.raises(PermissionDenied):
        services.complete_task(personas.county_a, task, note="约谈")
    services.complete_task(personas.city, task, note="2026-03-12 约谈企业及其上级公司")
    assert fresh(task).is_done


# Investigation -----------------------------------------------------------------------------------
def test_the_whole_investigation_reported_to_closed(personas):
    accident = investigated(personas, deaths=1)
    assert fresh(accident).status == S.INVESTIGATING
    services.conclude_investigation(personas.county_a, accident)
    assert (fresh(accident).status, fresh(accident).concluded_at) == (S.CONCLUDED, NOW)
    services.close_accident(personas.city, accident, note="结案")
    accident = fresh(accident)
    assert (accident.status, accident.closed_at, accident.closure_note) == (S.CLOSED, NOW, "结案")
    trail = AuditEvent.objects.filter(object_type="enforcement.accident", object_id=str(accident.pk),
                                      action="transition").order_by("seq")
    assert [e.after["status"] for e in trail] == [S.INVESTIGATING, S.CONCLUDED, S.CLOSED]
    assert Notification.objects.filter(recipient=personas.ent_a, subject__contains="concluded").exists()


def test_closing_or_concluding_without_all_four_names_the_missing(personas):
    accident = investigated(personas, aspects=[A.CAUSE, A.RESPONSIBILITY])
    before = state()
    for attempt in (lambda: services.close_accident(personas.county_a, accident),
                    lambda: services.conclude_investigation(personas.county_a, accident)):
        with pytest.raises(DomainError) as exc:
            attempt()
        assert "Corrective measures" in exc.value.message and "educated" in exc.value.message
        assert "Cause" not in exc.value.message and exc.value.code == "findings_missing"
    assert state() == before
    with pytest.raises(DomainError) as exc:
        services.close_accident(personas.county_a, report(personas))
    assert all(str(label) in exc.value.message for label in A.labels)


def test_with_all_four_the_case_still_closes_only_after_concluding(personas):
    accident = investigated(personas)
    with pytest.raises(InvalidTransition):
        services.close_accident(personas.county_a, accident)
    services.conclude_investigation(personas.county_a, accident)
    services.close_accident(personas.county_a, accident)
    with pytest.raises(InvalidTransition):
        services.close_accident(personas.county_a, accident)


def test_wrong_state_transitions_are_refused(personas):
    accident = report(personas)
    for call in (lambda: services.record_finding(personas.county_a, accident, A.CAUSE, "x"),
                 lambda: services.conclude_investigation(personas.county_a, accident),
                 lambda: services.add_to_library(personas.county_a, accident, title="t", lessons="l")):
        with pytest.raises(InvalidTransition):
            call()
    services.start_investigation(personas.county_a, accident)
    with pytest.raises(InvalidTransition):
        services.start_investigation(personas.county_a, accident)
    for aspect in A.values:
        services.record_finding(personas.county_a, accident, aspect, "done")
    services.conclude_investigation(personas.county_a, accident)
    with pytest.raises(InvalidTransition):
        services.record_finding(personas.county_a, accident, A.CAUSE, "later")
    with pytest.raises(InvalidTransition):
        services.amend_casualties(personas.county_a, accident, deaths=1, serious_injuries=0, minor_injuries=0,
                                  direct_loss=0, reason="x")


def test_a_finding_is_revised_in_place_and_audited(personas):
    accident = investigated(personas, aspects=[A.CAUSE])
    services.record_finding(personas.city, accident, A.CAUSE, "顶板离层未及时支护")
    finding = InvestigationFinding.objects.get()
    assert (finding.text, finding.recorded_by) == ("顶板离层未及时支护", personas.city)
    event = AuditEvent.objects.filter(object_type="enforcement.investigationfinding").order_by("seq").last()
    assert event.action == "update" and event.after["text"] == "顶板离层未及时支护"


@pytest.mark.parametrize(("aspect", "text", "field"), [("luck", "x", "aspect"), (A.CAUSE, "  ", "text")])
def test_bad_findings_are_refused(personas, aspect, text, field):
    accident = investigated(personas, aspects=[])
    with pytest.raises(ValidationError) as exc:
        services.record_finding(personas.county_a, accident, aspect, text)
    assert field in exc.value.message_dict


@pytest.mark.parametrize("persona", ["ent_a", *OTHERS_OF_MINE_A])
def test_only_the_county_or_the_city_investigates(personas, persona):
    accident = report(personas)
    user = getattr(personas, persona)
    with pytest.raises(PermissionDenied):
        services.start_investigation(user, accident)
    services.start_investigation(personas.county_a, accident)
    for call in (lambda: services.record_finding(user, accident, A.CAUSE, "x"),
                 lambda: services.conclude_investigation(user, accident),
                 lambda: services.close_accident(user, accident)):
        with pytest.raises(PermissionDenied):
            call()


def test_a_concluded_accident_joins_the_case_library_once(personas):
    accident = investigated(personas, deaths=1)
    services.conclude_investigation(personas.county_a, accident)
    with pytest.raises(ValidationError):
        services.add_to_library(personas.county_a, accident, title="", lessons="")
    case = services.add_to_library(personas.county_a, accident, title="宽城甲铁矿冒顶事故", lessons="敲帮问顶")
    assert (case.source, case.deaths, case.kind, case.accident) == ("local", 1, "roof_fall", accident)
    assert "冒顶, 一人被埋" in case.narrative and "cause 已查明" in case.narrative
    with pytest.raises(DomainError):
        services.add_to_library(personas.city, accident, title="again", lessons="x")


# Pages -------------------------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """One fatal accident at each fixture mine (so each has a suspension task)."""
    for name in MINES:
        report(personas, personas.city, getattr(personas, name), deaths=1, place=f"place-{name}")
    return personas


@pytest.mark.parametrize("persona", PERSONAS)
def test_accident_pages_show_exactly_the_personas_mines(client, world, persona):
    web = web_client(client, world, persona)
    accidents = {a.mine_id: a for a in Accident.objects.all()}
    response = web.get("/enforcement/accidents/")
    tasks = web.get("/enforcement/tasks/")
    if persona == "anonymous":
        assert response.status_code == 302 and tasks.status_code == 302
        return
    html, task_html = response.content.decode(), tasks.content.decode()
    expected = {getattr(world, n).pk for n in SCOPE[persona]}
    assert {m for m, a in accidents.items() if f'data-accident="{a.pk}"' in html} == expected
    assert {t.mine_id for t in FollowUpTask.objects.all() if f'data-task="{t.pk}"' in task_html} == expected
    for name in MINES:
        mine = getattr(world, name)
        code = 200 if name in SCOPE[persona] else 404
        assert web.get(f"/enforcement/accidents/{accidents[mine.pk].pk}/").status_code == code


@pytest.mark.parametrize(("persona", "code"), [("city", 200), ("county_a", 200), ("ent_a", 200),
                                               ("department", 403), ("inspector", 403), ("anonymous", 302)])
def test_the_report_page_is_for_those_who_may_report(client, personas, persona, code):
    assert web_client(client, personas, persona).get("/enforcement/accidents/report/").status_code == code


def test_the_enterprise_reports_and_the_county_investigates_on_the_pages(client, personas):
    web = web_client(client, personas, "ent_a")
    response = web.post("/enforcement/accidents/report/", {
        "mine": personas.pond_a.pk, "occurred_at": "2026-03-10T05:30", "place": "初期坝下游坡", "kind": "tailings_dam",
        "deaths": "1", "serious_injuries": "0", "minor_injuries": "0", "direct_loss": "0", "summary": "坝坡局部滑塌"})
    accident = Accident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/enforcement/accidents/{accident.pk}/"
    future = web.post("/enforcement/accidents/report/", {
        "mine": personas.pond_a.pk, "occurred_at": "2026-03-11T05:30", "place": "x", "kind": "other",
        "deaths": "0", "serious_injuries": "0", "minor_injuries": "0", "direct_loss": "0", "summary": "x"})
    assert future.status_code == 200 and "cannot be in the future" in future.content.decode()
    outsider = web.post("/enforcement/accidents/report/", {
        "mine": personas.mine_b.pk, "occurred_at": "2026-03-10T05:30", "place": "x", "kind": "other",
        "deaths": "0", "serious_injuries": "0", "minor_injuries": "0", "direct_loss": "0", "summary": "x"})
    assert outsider.status_code == 200 and Accident.objects.count() == 1  # not a choice: another's mine
    page = web.get(f"/enforcement/accidents/{accident.pk}/").content.decode()
    assert 'name="action" value="amend"' in page and 'value="investigate"' not in page
    assert web.post(f"/enforcement/accidents/{accident.pk}/", {"action": "investigate"}).status_code == 302
    assert fresh(accident).status == S.REPORTED  # not offered to the enterprise: refused with a message

    county = web_client(client, personas, "county_a")
    url = f"/enforcement/accidents/{accident.pk}/"
    county.post(url, {"action": "investigate"})
    assert fresh(accident).status == S.INVESTIGATING
    county.post(url, {"action": "finding", "finding-aspect": "cause", "finding-text": "浸润线抬高"})
    response = county.post(url, {"action": "conclude"})
    assert fresh(accident).status == S.INVESTIGATING
    page = county.get(url).content.decode()
    assert "not yet recorded" in page
    for aspect in ("responsibility", "rectification", "education"):
        county.post(url, {"action": "finding", "finding-aspect": aspect, "finding-text": f"{aspect} ok"})
    county.post(url, {"action": "conclude"})
    assert fresh(accident).status == S.CONCLUDED
    task = FollowUpTask.objects.get()
    county.post(url, {"action": f"suspend{task.pk}", f"suspend{task.pk}-reason": "死亡事故"})
    assert fresh(personas.pond_a).status == Mine.Status.SUSPENDED and fresh(task).is_done
    county.post(url, {"action": "close", "close-note": "结案"})
    county.post(url, {"action": "library", "library-title": "尾矿库坝坡滑塌", "library-lessons": "控制浸润线"})
    assert fresh(accident).status == S.CLOSED and AccidentCase.objects.get().accident == accident
    assert response.status_code == 200


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_readers_and_outsiders_cannot_post_steps(client, world, persona):
    accident = Accident.objects.get(mine=world.mine_a2)
    web = web_client(client, world, persona)
    response = web.post(f"/enforcement/accidents/{accident.pk}/", {"action": "investigate"})
    assert response.status_code == (403 if "mine_a2" in SCOPE[persona] else 404)
    assert fresh(accident).status == S.REPORTED


# API ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_accident_and_task_api_is_scoped(world, persona):
    api = api_client(world, persona)
    accidents, tasks = api.get("/api/v1/accidents/?limit=500"), api.get("/api/v1/follow-up-tasks/?limit=500")
    if persona == "anonymous":
        assert accidents.status_code == 403 and tasks.status_code == 403
        return
    expected = {getattr(world, n).pk for n in SCOPE[persona]}
    assert {row["mine"] for row in accidents.json()["results"]} == expected
    assert {row["mine"] for row in tasks.json()["results"]} == expected
    for name in MINES:
        accident = Accident.objects.get(mine=getattr(world, name))
        code = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/accidents/{accident.pk}/").status_code == code
        assert api.get(f"/api/v1/follow-up-tasks/{accident.tasks.get().pk}/").status_code == code


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_accident_lifecycle_through_the_api(personas):
    ent = api(personas.ent_a)
    response = ent.post("/api/v1/accidents/", {
        "mine": personas.mine_a.pk, "occurred_at": "2026-03-10T02:00:00+08:00", "place": "主井", "kind": "hoisting",
        "deaths": 3, "summary": "罐笼坠落", "parent_company": "某集团"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["grade"], body["status"], body["reporter"]) == ("larger", "reported", "enterprise")
    assert {t["kind"] for t in body["tasks"]} == {"suspend_mine", "summons"}
    assert body["missing_findings"] == list(A.values)
    pk = body["id"]
    assert ent.post(f"/api/v1/accidents/{pk}/investigate/").status_code == 403
    county = api(personas.county_a)
    assert county.post(f"/api/v1/accidents/{pk}/investigate/").json()["status"] == "investigating"
    assert county.post(f"/api/v1/accidents/{pk}/investigate/").status_code == 409
    county.post(f"/api/v1/accidents/{pk}/findings/", {"aspect": "cause", "text": "钢丝绳断裂"}, format="json")
    refused = county.post(f"/api/v1/accidents/{pk}/close/", {}, format="json")
    assert refused.status_code == 409 and refused.json()["field"] == "findings"
    assert "educated" in refused.json()["detail"]
    for aspect in ("responsibility", "rectification", "education"):
        county.post(f"/api/v1/accidents/{pk}/findings/", {"aspect": aspect, "text": "ok"}, format="json")
    assert county.post(f"/api/v1/accidents/{pk}/conclude/").json()["status"] == "concluded"
    assert county.post(f"/api/v1/accidents/{pk}/close/", {"note": "结案"}, format="json").json()["status"] == "closed"
    case = county.post(f"/api/v1/accidents/{pk}/add-to-library/", {"title": "罐笼坠落", "lessons": "钢丝绳检测"},
                       format="json")
    assert case.status_code == 201 and case.json()["source"] == "local"
    suspend = FollowUpTask.objects.get(kind=K.SUSPEND_MINE)
    assert ent.post(f"/api/v1/follow-up-tasks/{suspend.pk}/suspend-mine/", {"reason": "x"},
                    format="json").status_code == 403
    done = county.post(f"/api/v1/follow-up-tasks/{suspend.pk}/suspend-mine/", {"reason": "停产整顿"}, format="json")
    assert done.status_code == 200 and done.json()["done_at"] is not None
    assert fresh(personas.mine_a).status == Mine.Status.SUSPENDED
    summons = FollowUpTask.objects.get(kind=K.SUMMONS)
    assert county.post(f"/api/v1/follow-up-tasks/{summons.pk}/done/", {"note": "x"}, format="json").status_code == 403
    assert api(personas.city).post(f"/api/v1/follow-up-tasks/{summons.pk}/done/", {"note": "已约谈"},
                                   format="json").status_code == 200


def test_the_api_refuses_bad_reports_and_invisible_mines(personas):
    base = {"mine": personas.mine_a.pk, "occurred_at": "2026-03-10T02:00:00+08:00", "place": "x", "kind": "other",
            "summary": "x"}
    bad = api(personas.ent_a).post("/api/v1/accidents/", {**base, "deaths": -1, "direct_loss": "-5"}, format="json")
    assert bad.status_code == 400 and {"deaths", "direct_loss"} <= set(bad.json())
    future = api(personas.ent_a).post("/api/v1/accidents/", {**base, "occurred_at": "2026-03-11T02:00:00+08:00"},
                                      format="json")
    assert future.status_code == 400 and "occurred_at" in future.json()
    other = api(personas.ent_b).post("/api/v1/accidents/", base, format="json")
    assert other.status_code == 400 and "mine" in other.json()
    reader = api(personas.department).post("/api/v1/accidents/", base, format="json")
    assert reader.status_code == 403
    assert not Accident.objects.exists()


# Demo --------------------------------------------------------------------------------------------
def test_the_demo_accidents_are_seeded_once(personas, settings, tmp_path):
    from minesafe.enforcement.demo_accidents import seed_accidents

    settings.ACCIDENT_DATA_DIR = str(tmp_path / "none")  # the library's loader is tested on its own
    for code in ("KC-101", "KC-102"):
        registry.create_mine(personas.city, code=code, name=code, enterprise=personas.enterprise_a,
                             county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND,
                             status_since=dt.date(2024, 1, 1))
    summary = seed_accidents()
    assert summary.accidents == 3 and "does not exist" in summary.problems[0]
    statuses = sorted(Accident.objects.values_list("status", flat=True))
    assert statuses == sorted([S.CLOSED, S.INVESTIGATING, S.REPORTED])
    assert AccidentCase.objects.filter(source="local").count() == 1
    assert set(FollowUpTask.objects.values_list("kind", flat=True)) == {K.SUSPEND_MINE, K.SUMMONS}
    assert seed_accidents().accidents == 0 and Accident.objects.count() == 3


def test_overdue_tasks_are_reminded_once_a_day_to_the_unit_and_the_city(personas, monkeypatch):
    report(personas, deaths=1)  # the county's suspension task, due tomorrow
    task = FollowUpTask.objects.get()
    assert services.remind_overdue_tasks(TODAY + dt.timedelta(days=1)) == (0, 0)
    late = TODAY + dt.timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: NOW + dt.timedelta(days=3))
    county_before = Notification.objects.filter(recipient=personas.county_a).count()
    assert services.remind_overdue_tasks(late) == (1, 1)
    assert services.remind_overdue_tasks(late) == (1, 0)  # once a day
    note = Notification.objects.filter(recipient=personas.county_a).order_by("pk").last()
    assert Notification.objects.filter(recipient=personas.county_a).count() == county_before + 1
    assert "2 days late" in note.subject and note.link.endswith(f"#task-{task.pk}")
    assert Notification.objects.filter(recipient=personas.city, link=note.link).exists()
    assert not Notification.objects.filter(recipient=personas.county_b, link=note.link).exists()
    services.complete_task(personas.county_a, task, note="已下达停产整顿指令")
    assert services.remind_overdue_tasks(late + dt.timedelta(days=1)) == (0, 0)
