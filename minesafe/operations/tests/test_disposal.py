"""Disposal of unsafe mines (分类处置, 三个一批), tailings-pond closure plans (闭库) against the plan's yearly
targets, and upgrade and consolidation projects: every transition and refusal, overdue flags, counts, and who
sees and does what on the pages and the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.operations import disposal
from minesafe.operations.models import DisposalDecision, PondClosurePlan, UpgradeProject
from minesafe.registry import services as registry
from minesafe.registry.models import Mine, MineStatusChange
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
LATER = TODAY + dt.timedelta(days=90)
D = DisposalDecision.Status
CAT = DisposalDecision.Category
P = PondClosurePlan.Status
U = UpgradeProject.Status
K = UpgradeProject.Kind
NOT_REGULATORS_OF_MINE_A = ("county_b", "ent_a", "ent_b", "department", "inspector")


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    moment = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def counts() -> tuple:
    return (AuditEvent.objects.count(), MineStatusChange.objects.count(),
            list(DisposalDecision.objects.values_list("status", "decided_on", "decision_ref", "completed_on",
                                                      "follow_up").order_by("pk")),
            list(PondClosurePlan.objects.values_list("status", "works_started_on", "closed_on").order_by("pk")),
            list(UpgradeProject.objects.values_list("status", "progress", "unifications", "completed_on")
                 .order_by("pk")),
            list(Mine.objects.values_list("status").order_by("pk")))


def events(obj, action=None):
    qs = AuditEvent.objects.filter(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


def propose(personas, actor=None, mine=None, **overrides) -> DisposalDecision:
    data = {"category": CAT.CLOSE, "ground": "no_licence", "ground_detail": "安全生产许可证 2025 年过期仍在开采",
            "deadline": LATER, **overrides}
    return disposal.propose_decision(actor or personas.county_a, mine or personas.mine_a, **data)


def decided(personas, category=CAT.CLOSE, mine=None, **overrides) -> DisposalDecision:
    decision = propose(personas, category=category, mine=mine, **overrides)
    return disposal.decide(personas.county_a, decision, decided_on=TODAY, decision_ref="宽应急〔2026〕3号")


def make_pond(personas, code: str, county=None) -> Mine:
    return registry.create_mine(personas.city, code=code, name=f"尾矿库{code}", enterprise=personas.enterprise_a,
                                county=county or personas.county_a_region, mine_type=Mine.Type.TAILINGS_POND,
                                design_pond_capacity=100, design_dam_height=20, status_since=dt.date(2024, 1, 1))


# Disposal decisions ------------------------------------------------------------------------------
def test_the_county_proposes_a_disposal_on_a_catalogue_ground(personas):
    decision = fresh(propose(personas))
    assert (decision.status, decision.category, decision.ground, decision.deadline) == (
        D.PROPOSED, CAT.CLOSE, "no_licence", LATER)
    assert events(decision, AuditEvent.Action.CREATE).get().actor_id == personas.county_a.pk
    assert disposal.ground_label("no_licence") in ("无证或证照过期开采", "Mining without a valid licence")


@pytest.mark.parametrize("persona", NOT_REGULATORS_OF_MINE_A)
def test_only_the_county_or_the_city_proposes(personas, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        propose(personas, getattr(personas, persona))
    assert counts() == before
    assert propose(personas, personas.city, personas.mine_b).status == D.PROPOSED


@pytest.mark.parametrize(("overrides", "field"), [
    ({"ground": "bad_luck"}, "ground"), ({"ground": ""}, "ground"), ({"category": "sell"}, "category"),
    ({"ground_detail": "  "}, "ground_detail"), ({"deadline": None}, "deadline"),
    ({"deadline": TODAY - dt.timedelta(days=1)}, "deadline"),
])
def test_bad_disposal_input_is_refused_naming_the_field(personas, overrides, field):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        propose(personas, **overrides)
    assert field in exc.value.message_dict
    assert counts() == before


def test_one_open_decision_per_mine_and_none_for_a_closed_mine(personas):
    propose(personas)
    with pytest.raises(DomainError):
        propose(personas, category=CAT.UPGRADE, ground="upgrade_required")
    registry.change_status(personas.city, personas.mine_a2, Mine.Status.CLOSED, reason="关闭", effective_date=TODAY)
    with pytest.raises(DomainError):
        propose(personas, mine=fresh(personas.mine_a2))


def test_deciding_starts_the_follow_up_and_tells_the_enterprise(personas):
    decision = decided(personas)
    decision = fresh(decision)
    assert (decision.status, decision.decided_on, decision.decision_ref) == (D.IN_PROGRESS, TODAY, "宽应急〔2026〕3号")
    event = events(decision, AuditEvent.Action.TRANSITION).get()
    assert (event.before["status"], event.after["status"]) == (D.PROPOSED, D.IN_PROGRESS)
    assert Notification.objects.filter(recipient=personas.ent_a, link=f"/operations/disposal/{decision.pk}/").exists()


@pytest.mark.parametrize(("decided_on", "ref", "field"), [
    (None, "文号", "decided_on"), (TODAY + dt.timedelta(days=1), "文号", "decided_on"),
    (TODAY - dt.timedelta(days=1), "文号", "decided_on"), (TODAY, " ", "decision_ref")])
def test_bad_decision_input_is_refused(personas, decided_on, ref, field):
    decision = propose(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        disposal.decide(personas.county_a, decision, decided_on=decided_on, decision_ref=ref)
    assert field in exc.value.message_dict
    assert counts() == before


def test_a_decision_is_taken_once_and_by_a_regulator(personas):
    decision = propose(personas)
    with pytest.raises(PermissionDenied):
        disposal.decide(personas.ent_a, decision, decided_on=TODAY, decision_ref="x")
    disposal.decide(personas.city, decision, decided_on=TODAY, decision_ref="x")
    with pytest.raises(InvalidTransition):
        disposal.decide(personas.city, decision, decided_on=TODAY, decision_ref="y")


def test_a_completed_closure_closes_the_mine_in_the_registry(personas):
    decision = decided(personas)
    disposal.complete_decision(personas.county_a, decision, completed_on=TODAY, follow_up="设备拆除、井口封闭",
                               close_mine=True)
    decision, mine = fresh(decision), fresh(personas.mine_a)
    assert (decision.status, decision.completed_on, decision.follow_up) == (D.COMPLETED, TODAY, "设备拆除、井口封闭")
    assert (mine.status, mine.status_since) == (Mine.Status.CLOSED, TODAY)
    change = MineStatusChange.objects.filter(mine=mine).latest("pk")
    assert change.new_status == Mine.Status.CLOSED and "宽应急〔2026〕3号" in change.reason
    assert events(mine, AuditEvent.Action.TRANSITION).exists()


def test_a_completion_without_closing_leaves_the_mine_as_it_is(personas):
    decision = decided(personas)
    disposal.complete_decision(personas.county_a, decision, completed_on=TODAY, follow_up="已停产待关闭")
    assert fresh(personas.mine_a).status == Mine.Status.PRODUCING


@pytest.mark.parametrize(("category", "completed_on", "follow_up", "close_mine", "field"), [
    (CAT.CLOSE, None, "完成", False, "completed_on"),
    (CAT.CLOSE, TODAY + dt.timedelta(days=1), "完成", True, "completed_on"),
    (CAT.CLOSE, TODAY - dt.timedelta(days=1), "完成", True, "completed_on"),  # before the decision
    (CAT.CLOSE, TODAY, "", True, "follow_up"),
    (CAT.UPGRADE, TODAY, "完成", True, "close_mine"),
])
def test_bad_completion_is_refused_and_the_mine_stays_open(personas, category, completed_on, follow_up, close_mine,
                                                             field):
    decision = decided(personas, category=category, ground="upgrade_required" if category == CAT.UPGRADE
                       else "no_licence")
    before = counts()
    with pytest.raises(ValidationError) as exc:
        disposal.complete_decision(personas.county_a, decision, completed_on=completed_on, follow_up=follow_up,
                                   close_mine=close_mine)
    assert field in exc.value.message_dict
    assert counts() == before


def test_a_registry_refusal_of_the_closure_rolls_everything_back(personas):
    decision = decided(personas)
    DisposalDecision.objects.filter(pk=decision.pk).update(decided_on=dt.date(2023, 6, 1))
    decision = fresh(decision)
    before = counts()
    with pytest.raises(ValidationError) as exc:  # before the mine's current status began (2024-01-01)
        disposal.complete_decision(personas.county_a, decision, completed_on=dt.date(2023, 7, 1), follow_up="关闭",
                                   close_mine=True)
    assert "completed_on" in exc.value.message_dict
    assert counts() == before


def test_only_a_decided_disposal_is_completed(personas):
    decision = propose(personas)
    with pytest.raises(InvalidTransition):
        disposal.complete_decision(personas.county_a, decision, completed_on=TODAY, follow_up="x")


@pytest.mark.parametrize("stage", ["proposed", "in_progress"])
def test_an_open_decision_is_revoked_with_a_reason(personas, stage):
    decision = propose(personas) if stage == "proposed" else decided(personas)
    with pytest.raises(ValidationError) as exc:
        disposal.revoke_decision(personas.county_a, decision, reason=" ")
    assert "reason" in exc.value.message_dict
    disposal.revoke_decision(personas.county_a, decision, reason="已补办许可证")
    decision = fresh(decision)
    assert (decision.status, decision.follow_up) == (D.REVOKED, "已补办许可证")
    assert events(decision, AuditEvent.Action.TRANSITION).filter(after__status=D.REVOKED).exists()
    with pytest.raises(InvalidTransition):
        disposal.revoke_decision(personas.county_a, decision, reason="again")


def test_a_completed_decision_is_not_revoked(personas):
    decision = decided(personas)
    disposal.complete_decision(personas.county_a, decision, completed_on=TODAY, follow_up="完成")
    with pytest.raises(InvalidTransition):
        disposal.revoke_decision(personas.county_a, decision, reason="x")


def test_overdue_decisions_are_flagged_filtered_and_counted(personas, monkeypatch):
    late = decided(personas, deadline=TODAY)  # mine_a, close
    on_time = propose(personas, personas.city, personas.mine_b, category=CAT.CONSOLIDATE, ground="split_ore_body")
    done = decided(personas, category=CAT.UPGRADE, mine=personas.mine_a2, ground="upgrade_required", deadline=TODAY)
    disposal.complete_decision(personas.county_a, done, completed_on=TODAY, follow_up="完成")
    later = TODAY + dt.timedelta(days=1)
    assert disposal.decision_overdue(late, later) and not disposal.decision_overdue(late, TODAY)
    assert not disposal.decision_overdue(fresh(done), later) and not disposal.decision_overdue(on_time, later)
    all_decisions = DisposalDecision.objects.all()
    assert list(disposal.filter_decisions(all_decisions, overdue=True, today=later)) == [late]
    assert set(disposal.filter_decisions(all_decisions, overdue=False, today=later)) == {on_time, fresh(done)}
    assert list(disposal.filter_decisions(all_decisions, county=personas.county_b_region.code)) == [on_time]
    assert list(disposal.filter_decisions(all_decisions, category=CAT.UPGRADE)) == [done]
    assert list(disposal.filter_decisions(all_decisions, status=D.IN_PROGRESS)) == [late]
    rows = {r.county_code: r for r in disposal.county_counts(all_decisions, later)}
    a, b = rows[personas.county_a_region.code], rows[personas.county_b_region.code]
    assert (a.total, a.close, a.upgrade, a.consolidate, a.open, a.completed, a.overdue) == (2, 1, 1, 0, 1, 1, 1)
    assert (b.total, b.consolidate, b.open, b.overdue) == (1, 1, 1, 0)


# Tailings-pond closure ---------------------------------------------------------------------------
def test_a_pond_closure_runs_from_plan_to_closed_pond(personas):
    plan = disposal.plan_pond_closure(personas.county_a, personas.pond_a, target_year=2026, design_ref="闭库设计 2025")
    assert (fresh(plan).status, events(plan, AuditEvent.Action.CREATE).count()) == (P.PLANNED, 1)
    with pytest.raises(InvalidTransition):  # planned -> closed skips the works
        disposal.close_pond(personas.county_a, plan, closed_on=TODAY)
    disposal.start_pond_works(personas.county_a, plan, works_started_on=dt.date(2025, 10, 8))
    assert (fresh(plan).status, fresh(plan).works_started_on) == (P.IN_PROGRESS, dt.date(2025, 10, 8))
    disposal.close_pond(personas.county_a, plan, closed_on=TODAY, note="闭库验收通过")
    plan, pond = fresh(plan), fresh(personas.pond_a)
    assert (plan.status, plan.closed_on, plan.note) == (P.CLOSED, TODAY, "闭库验收通过")
    assert (pond.status, pond.status_since) == (Mine.Status.CLOSED, TODAY)
    assert [e.after["status"] for e in events(plan, AuditEvent.Action.TRANSITION).order_by("seq")] == [
        P.IN_PROGRESS, P.CLOSED]
    with pytest.raises(InvalidTransition):
        disposal.start_pond_works(personas.county_a, plan, works_started_on=TODAY)


def test_only_a_tailings_pond_gets_a_closure_plan(personas):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        disposal.plan_pond_closure(personas.county_a, personas.mine_a, target_year=2026)
    assert "pond" in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("persona", NOT_REGULATORS_OF_MINE_A)
def test_only_the_county_or_the_city_plans_a_closure(personas, persona):
    with pytest.raises(PermissionDenied):
        disposal.plan_pond_closure(getattr(personas, persona), personas.pond_a, target_year=2026)
    assert not PondClosurePlan.objects.exists()


@pytest.mark.parametrize("year", [1999, 2037, None])
def test_a_target_year_out_of_range_is_refused(personas, year):
    with pytest.raises(ValidationError) as exc:
        disposal.plan_pond_closure(personas.county_a, personas.pond_a, target_year=year)
    assert "target_year" in exc.value.message_dict


def test_one_plan_per_pond(personas):
    disposal.plan_pond_closure(personas.county_a, personas.pond_a, target_year=2026)
    with pytest.raises(DomainError):
        disposal.plan_pond_closure(personas.city, personas.pond_a, target_year=2027)


@pytest.mark.parametrize(("works", "closed", "field"), [
    (dt.date(2025, 10, 8), dt.date(2025, 10, 7), "closed_on"), (dt.date(2025, 10, 8), None, "closed_on"),
    (dt.date(2025, 10, 8), TODAY + dt.timedelta(days=1), "closed_on")])
def test_bad_closure_dates_are_refused_and_the_pond_stays_open(personas, works, closed, field):
    plan = disposal.plan_pond_closure(personas.county_a, personas.pond_a, target_year=2026)
    with pytest.raises(ValidationError) as exc:
        disposal.start_pond_works(personas.county_a, plan, works_started_on=TODAY + dt.timedelta(days=1))
    assert "works_started_on" in exc.value.message_dict
    disposal.start_pond_works(personas.county_a, plan, works_started_on=works)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        disposal.close_pond(personas.county_a, plan, closed_on=closed)
    assert field in exc.value.message_dict
    assert counts() == before


def test_pond_progress_against_the_yearly_targets_and_per_county(personas):
    a_ponds = [personas.pond_a] + [make_pond(personas, f"KC-T{i:02d}") for i in range(2, 5)]
    b_ponds = [make_pond(personas, f"XL-T{i:02d}", personas.county_b_region) for i in range(1, 3)]
    closures = {0: (2024, dt.date(2024, 5, 1), dt.date(2024, 9, 1)), 1: (2024, dt.date(2024, 6, 1),
                                                                       dt.date(2025, 4, 1)),
                4: (2025, dt.date(2025, 3, 1), dt.date(2025, 8, 1))}
    for i, pond in enumerate(a_ponds + b_ponds):
        year = closures[i][0] if i in closures else (2026 if i != 5 else 2027)
        plan = disposal.plan_pond_closure(personas.city, pond, target_year=year)
        if i in closures:
            disposal.start_pond_works(personas.city, plan, works_started_on=closures[i][1])
            disposal.close_pond(personas.city, plan, closed_on=closures[i][2])
    progress = disposal.pond_progress(PondClosurePlan.objects.all())
    assert (progress.eligible, progress.target_total, progress.plans, progress.closed) == (26, 26, 6, 3)
    years = {y.year: y for y in progress.years}
    assert [(y.year, y.target, y.planned, y.closed, y.cumulative_target, y.cumulative_closed)
            for y in progress.years] == [(2024, 10, 2, 1, 10, 1), (2025, 9, 1, 2, 19, 3), (2026, 7, 2, 0, 26, 3),
                                         (2027, None, 1, 0, 26, 3)]
    assert years[2027].target is None
    counties = {c.county_code: c for c in progress.counties}
    a, b = counties[personas.county_a_region.code], counties[personas.county_b_region.code]
    assert (a.total_plans, a.total_closed, a.planned, a.closed) == (4, 2, {2024: 2, 2026: 2}, {2024: 1, 2025: 1})
    assert (b.total_plans, b.total_closed, b.planned, b.closed) == (2, 1, {2025: 1, 2027: 1}, {2025: 1})
    # A county sees its own ponds against the city's targets.
    scoped = disposal.pond_progress(PondClosurePlan.objects.visible_to(personas.county_b))
    assert (scoped.plans, scoped.closed, [c.county_code for c in scoped.counties]) == (
        2, 1, [personas.county_b_region.code])
    assert [(y.year, y.target, y.planned, y.closed) for y in scoped.years][:3] == [
        (2024, 10, 0, 0), (2025, 9, 1, 1), (2026, 7, 0, 0)]


# Upgrade and consolidation projects --------------------------------------------------------------
def test_a_consolidation_runs_to_completion_with_its_unifications(personas):
    project = disposal.create_project(personas.county_a, personas.mine_a, kind=K.CONSOLIDATION,
                                      description="整合宽城乙金矿", deadline=LATER, partners="宽城乙金矿",
                                      unifications=["safety", "planning", "planning"])
    project = fresh(project)
    assert (project.status, project.unifications, project.partners) == (U.PLANNED, ["planning", "safety"], "宽城乙金矿")
    assert Notification.objects.filter(recipient=personas.ent_a, link=f"/operations/upgrades/{project.pk}/").exists()
    with pytest.raises(InvalidTransition):
        disposal.complete_project(personas.county_a, project, completed_on=TODAY, progress="完成")
    disposal.start_project(personas.county_a, project, progress="签订整合协议")
    disposal.record_progress(personas.county_a, project, progress="统一设计完成", unifications=["planning", "design"])
    assert fresh(project).unifications == ["planning", "design"]
    disposal.complete_project(personas.county_a, project, completed_on=TODAY, progress="整合完成",
                              unifications=disposal.unification_codes())
    project = fresh(project)
    assert (project.status, project.completed_on, project.progress) == (U.COMPLETED, TODAY, "整合完成")
    assert project.unifications == ["planning", "design", "mining", "management", "safety"]
    assert [e.after.get("status") for e in events(project).order_by("seq")][1:] == [U.IN_PROGRESS, None,
                                                                                     U.COMPLETED]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"unifications": ["planning", "harmony"]}, "unifications"), ({"partners": ""}, "partners"),
    ({"kind": K.FILLING, "partners": "", "unifications": ["planning"]}, "unifications"),
    ({"kind": K.FILLING, "partners": "乙矿", "unifications": []}, "partners"),
    ({"kind": "paint"}, "kind"), ({"description": ""}, "description"), ({"deadline": None}, "deadline"),
    ({"deadline": TODAY - dt.timedelta(days=1)}, "deadline"),
])
def test_bad_project_input_is_refused_naming_the_field(personas, overrides, field):
    data = {"kind": K.CONSOLIDATION, "description": "整合", "deadline": LATER, "partners": "乙矿",
            "unifications": ["planning"], **overrides}
    before = counts()
    with pytest.raises(ValidationError) as exc:
        disposal.create_project(personas.county_a, personas.mine_a, **data)
    assert field in exc.value.message_dict
    assert counts() == before


def test_project_steps_refuse_bad_input_and_others(personas):
    project = disposal.create_project(personas.county_a, personas.mine_a, kind=K.FILLING, description="充填采矿",
                                      deadline=LATER)
    for persona in NOT_REGULATORS_OF_MINE_A:
        with pytest.raises(PermissionDenied):
            disposal.start_project(getattr(personas, persona), project)
    disposal.start_project(personas.county_a, project)
    before = counts()
    for kwargs, field in (({"completed_on": TODAY, "progress": ""}, "progress"),
                          ({"completed_on": None, "progress": "完成"}, "completed_on"),
                          ({"completed_on": TODAY + dt.timedelta(days=1), "progress": "完成"}, "completed_on"),
                          ({"completed_on": TODAY, "progress": "完成", "unifications": ["planning"]},
                           "unifications")):
        with pytest.raises(ValidationError) as exc:
            disposal.complete_project(personas.county_a, project, **kwargs)
        assert field in exc.value.message_dict
    assert counts() == before


def test_overdue_projects_are_flagged(personas):
    project = disposal.create_project(personas.county_a, personas.mine_a, kind=K.FILLING, description="充填",
                                      deadline=TODAY)
    later = TODAY + dt.timedelta(days=1)
    assert disposal.project_overdue(project, later) and not disposal.project_overdue(project, TODAY)
    assert list(disposal.filter_projects(UpgradeProject.objects.all(), overdue=True, today=later)) == [project]
    disposal.start_project(personas.county_a, project)
    disposal.complete_project(personas.county_a, project, completed_on=TODAY, progress="完成")
    assert not disposal.project_overdue(fresh(project), later)
    assert not disposal.filter_projects(UpgradeProject.objects.all(), overdue=True, today=later).exists()


def test_the_mechanised_scaling_threshold_reads_the_design_capacity(personas):
    above, below, unknown = (disposal.threshold_check(m) for m in (personas.mine_a, personas.mine_a2,
                                                                   personas.pond_a))
    assert (above.capacity_10k_t, above.capacity_threshold, above.above_capacity) == (Decimal("40"), Decimal("30"),
                                                                                      True)
    assert below.above_capacity is False and unknown.above_capacity is None
    assert not above.depth_known and above.depth_threshold_m == 800
    assert "800" in above.text and "not recorded" in unknown.text


# Pages and API: who sees what --------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """A decision and an upgrade project on every fixture mine; a closure plan on the pond."""
    for name in MINES:
        mine = getattr(personas, name)
        disposal.propose_decision(personas.city, mine, category=CAT.UPGRADE, ground="upgrade_required",
                                  ground_detail="需提升改造", deadline=LATER)
        disposal.create_project(personas.city, mine, kind=K.OTHER, description="提升改造", deadline=LATER)
    disposal.plan_pond_closure(personas.city, personas.pond_a, target_year=2026)
    return personas


PAGES = [("/operations/disposal/", "/operations/disposal/{pk}/", DisposalDecision, "mine"),
         ("/operations/upgrades/", "/operations/upgrades/{pk}/", UpgradeProject, "mine"),
         ("/operations/ponds/", "/operations/ponds/{pk}/", PondClosurePlan, "pond")]
ENDPOINTS = [("disposal-decisions", DisposalDecision, "mine"), ("upgrade-projects", UpgradeProject, "mine"),
             ("pond-closure-plans", PondClosurePlan, "pond")]


@pytest.mark.parametrize("persona", PERSONAS)
def test_disposal_pages_show_exactly_the_personas_mines(client, world, persona):
    web = web_client(client, world, persona)
    for list_url, detail_url, model, mine_field in PAGES:
        response = web.get(list_url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
            continue
        html = response.content.decode()
        records = model.objects.select_related(mine_field)
        shown = {n for n in MINES if f'data-mine="{getattr(world, n).pk}"' in html}
        assert shown == {n for n in SCOPE[persona] if records.filter(**{mine_field: getattr(world, n)}).exists()}
        for record in records:
            name = next(n for n in MINES if getattr(world, n).pk == getattr(record, f"{mine_field}_id"))
            expected = 200 if name in SCOPE[persona] else 404
            assert web.get(detail_url.format(pk=record.pk)).status_code == expected, (list_url, name)


@pytest.mark.parametrize("persona", PERSONAS)
def test_disposal_api_is_scoped(world, persona):
    api = api_client(world, persona)
    for endpoint, model, mine_field in ENDPOINTS:
        response = api.get(f"/api/v1/{endpoint}/?limit=500")
        if persona == "anonymous":
            assert response.status_code == 403
            continue
        visible = {getattr(world, n).pk for n in SCOPE[persona]}
        expected = set(model.objects.filter(**{f"{mine_field}__in": visible}).values_list(mine_field, flat=True))
        assert {row[mine_field] for row in response.json()["results"]} == expected
        for record in model.objects.all():
            code = 200 if getattr(record, f"{mine_field}_id") in visible else 404
            assert api.get(f"/api/v1/{endpoint}/{record.pk}/").status_code == code
    progress = api.get("/api/v1/pond-closure-plans/progress/")
    counties = api.get("/api/v1/disposal-decisions/counties/")
    if persona == "anonymous":
        assert progress.status_code == 403 and counties.status_code == 403
        return
    assert progress.json()["plans"] == (1 if "pond_a" in SCOPE[persona] else 0)
    assert sum(row["total"] for row in counties.json()) == len(SCOPE[persona])


def test_the_county_works_a_disposal_through_the_pages(client, personas):
    web = web_client(client, personas, "county_a")
    assert 'id="propose"' in web.get("/operations/disposal/").content.decode()
    before = counts()
    response = web.post("/operations/disposal/", {"propose-mine": personas.mine_a.pk, "propose-category": "close",
                                                  "propose-ground": "no_licence", "propose-ground_detail": "",
                                                  "propose-deadline": LATER.isoformat()})
    assert response.status_code == 200 and counts() == before
    response = web.post("/operations/disposal/", {"propose-mine": personas.mine_a.pk, "propose-category": "close",
                                                  "propose-ground": "no_licence", "propose-ground_detail": "无证开采",
                                                  "propose-deadline": LATER.isoformat()})
    decision = DisposalDecision.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/operations/disposal/{decision.pk}/"
    detail = response["Location"]
    response = web.post(detail, {"action": "complete", "complete-completed_on": TODAY.isoformat(),
                                 "complete-follow_up": "x"})
    assert response.status_code == 302 and fresh(decision).status == D.PROPOSED  # not available yet: refused
    web.post(detail, {"action": "decide", "decide-decided_on": TODAY.isoformat(), "decide-decision_ref": "文号"})
    assert fresh(decision).status == D.IN_PROGRESS
    web.post(detail, {"action": "complete", "complete-completed_on": TODAY.isoformat(),
                      "complete-follow_up": "封闭井口", "complete-close_mine": "on"})
    assert fresh(decision).status == D.COMPLETED and fresh(personas.mine_a).status == Mine.Status.CLOSED


def test_the_enterprise_reads_but_does_not_act_on_decisions_about_its_mine(client, personas):
    decision = propose(personas)
    web = web_client(client, personas, "ent_a")
    html = web.get(f"/operations/disposal/{decision.pk}/").content.decode()
    assert 'id="decision-facts"' in html and 'name="action"' not in html
    assert 'id="propose"' not in web.get("/operations/disposal/").content.decode()
    assert web.post(f"/operations/disposal/{decision.pk}/", {"action": "revoke", "revoke-reason": "x"}
                    ).status_code == 403
    assert web.post("/operations/disposal/", {"propose-mine": personas.mine_a.pk}).status_code == 403
    assert fresh(decision).status == D.PROPOSED


def test_the_county_closes_a_pond_and_runs_a_project_on_the_pages(client, personas):
    web = web_client(client, personas, "county_a")
    response = web.post("/operations/ponds/", {"plan-pond": personas.pond_a.pk, "plan-target_year": "2026"})
    plan = PondClosurePlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/operations/ponds/{plan.pk}/"
    web.post(response["Location"], {"action": "start", "start-works_started_on": "2025-11-01"})
    web.post(response["Location"], {"action": "close", "close-closed_on": TODAY.isoformat()})
    assert fresh(plan).status == P.CLOSED and fresh(personas.pond_a).status == Mine.Status.CLOSED
    assert 'data-year="2026"' in web.get("/operations/ponds/").content.decode()
    response = web.post("/operations/upgrades/", {"project-mine": personas.mine_a.pk, "project-kind": "consolidation",
                                                  "project-description": "整合", "project-partners": "乙矿",
                                                  "project-unifications": ["planning", "design"],
                                                  "project-deadline": LATER.isoformat()})
    project = UpgradeProject.objects.get()
    assert response.status_code == 302 and project.unifications == ["planning", "design"]
    html = web.get(response["Location"]).content.decode()
    assert 'id="unifications"' in html
    web.post(response["Location"], {"action": "start", "start-progress": "签约", "start-unifications": ["planning"]})
    assert fresh(project).status == U.IN_PROGRESS and fresh(project).unifications == ["planning"]


def test_the_pond_plan_form_refuses_a_mine_that_is_not_a_pond(client, personas):
    web = web_client(client, personas, "county_a")
    response = web.post("/operations/ponds/", {"plan-pond": personas.mine_a.pk, "plan-target_year": "2026"})
    assert response.status_code == 200 and not PondClosurePlan.objects.exists()


# API ---------------------------------------------------------------------------------------------
def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def test_the_disposal_lifecycle_through_the_api(personas):
    county = api(personas.county_a)
    body = {"mine": personas.mine_a.pk, "category": "close", "ground": "beyond_bounds",
            "ground_detail": "越界开采 200 m", "deadline": LATER.isoformat()}
    response = county.post("/api/v1/disposal-decisions/", {**body, "ground": "bad_luck"}, format="json")
    assert response.status_code == 400 and "ground" in response.json()
    assert api(personas.ent_a).post("/api/v1/disposal-decisions/", body, format="json").status_code == 403
    response = county.post("/api/v1/disposal-decisions/", body, format="json")
    assert response.status_code == 201, response.json()
    decision_id = response.json()["id"]
    assert county.post("/api/v1/disposal-decisions/", body, format="json").status_code == 409
    url = f"/api/v1/disposal-decisions/{decision_id}/"
    assert county.post(url + "complete/", {"completed_on": TODAY.isoformat(), "follow_up": "x"},
                       format="json").status_code == 409
    response = county.post(url + "decide/", {"decided_on": TODAY.isoformat(), "decision_ref": "文号"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == D.IN_PROGRESS
    response = county.post(url + "complete/", {"completed_on": TODAY.isoformat(), "follow_up": "关闭",
                                               "close_mine": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == D.COMPLETED
    assert fresh(personas.mine_a).status == Mine.Status.CLOSED
    assert county.get("/api/v1/disposal-decisions/?status=completed&county=" + personas.county_a_region.code
                      ).json()["count"] == 1
    assert county.get("/api/v1/disposal-decisions/?overdue=true").json()["count"] == 0


def test_pond_and_project_lifecycles_through_the_api(personas):
    county = api(personas.county_a)
    response = county.post("/api/v1/pond-closure-plans/", {"pond": personas.mine_a.pk, "target_year": 2026},
                           format="json")
    assert response.status_code == 400 and "pond" in response.json()
    response = county.post("/api/v1/pond-closure-plans/", {"pond": personas.pond_a.pk, "target_year": 2026},
                           format="json")
    assert response.status_code == 201
    url = f"/api/v1/pond-closure-plans/{response.json()['id']}/"
    assert county.post(url + "start/", {"works_started_on": "2025-12-01"}, format="json").status_code == 200
    response = county.post(url + "close/", {"closed_on": TODAY.isoformat()}, format="json")
    assert response.status_code == 200 and response.json()["status"] == P.CLOSED
    progress = county.get("/api/v1/pond-closure-plans/progress/").json()
    assert progress["eligible"] == 26 and progress["years"][2] == {
        "year": 2026, "target": 7, "planned": 1, "closed": 1, "cumulative_target": 26, "cumulative_closed": 1}
    response = county.post("/api/v1/upgrade-projects/", {
        "mine": personas.mine_a.pk, "kind": "consolidation", "description": "整合", "partners": "乙矿",
        "unifications": ["planning", "harmony"], "deadline": LATER.isoformat()}, format="json")
    assert response.status_code == 400 and "unifications" in response.json()
    response = county.post("/api/v1/upgrade-projects/", {
        "mine": personas.mine_a.pk, "kind": "mechanised_scaling", "description": "机械化撬毛",
        "deadline": LATER.isoformat()}, format="json")
    assert response.status_code == 201 and response.json()["above_capacity_threshold"] is True
    url = f"/api/v1/upgrade-projects/{response.json()['id']}/"
    assert county.post(url + "start/", {}, format="json").json()["status"] == U.IN_PROGRESS
    assert county.post(url + "record-progress/", {"progress": "设备到货"}, format="json").status_code == 200
    response = county.post(url + "complete/", {"completed_on": TODAY.isoformat(), "progress": "投用"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == U.COMPLETED
    assert api(personas.department).post(url + "start/", {}, format="json").status_code == 403


@pytest.mark.parametrize("endpoint", ["disposal-decisions", "upgrade-projects", "pond-closure-plans"])
def test_api_lists_read_in_a_fixed_number_of_queries(world, endpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(world.city)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/{endpoint}/?limit=500").status_code == 200
        return len(ctx.captured_queries)

    first = queries()
    for i in range(3):  # more rows of each kind
        pond = make_pond(world, f"KC-Q{i}")
        disposal.plan_pond_closure(world.city, pond, target_year=2026)
        disposal.create_project(world.city, pond, kind=K.OTHER, description="x", deadline=LATER)
        disposal.propose_decision(world.city, pond, category=CAT.CLOSE, ground="depleted", ground_detail="x",
                                  deadline=LATER)
    assert queries() == first
