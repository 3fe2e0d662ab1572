"""Annual inspection plans: the frequency rules on hand-checked mines, the proposal, every transition and its
refusals, amendments of an approved plan, the cross-county rule, experts, progress against real Inspection rows
with frozen dates, who sees what on the pages, the CSV and the API, and the demo."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation, User
from minesafe.enforcement import plans as services
from minesafe.enforcement.models import Accident, InspectionPlan, PlanAmendment, PlanEntry, PlanExpert
from minesafe.hazards import services as hazard_services
from minesafe.hazards.models import HazardItem
from minesafe.inspections.models import Inspection, Method
from minesafe.monitoring.models import Gateway
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)
NOW = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
S = InspectionPlan.Status
U, R, C, X, RM = Method.UNANNOUNCED, Method.ROUTINE, Method.COVERT, Method.CROSS_COUNTY, Method.REMOTE

# Rules written out here, so the expectations below are checked by hand against them (not against the catalogue).
RULES = {
    "base": {"underground": {"producing": 4, "suspended": 2, "closed": 0}, "open_pit": {"producing": 3},
             "quarry": {"suspended": 1}, "tailings_pond": {"producing": 2, "suspended": 2}},
    "tailings_grade_extra": {"1": 2, "2": 2, "3": 1, "4": 0},
    "head_pond_extra": 2,
    "open_major_hazards": {"min_count": 1, "extra": 1},
    "recent_accident": {"months": 12, "extra": 2},
    "max_visits": 12,
}
METHOD_RULES = {"unannounced_min_share": 0.5, "covert_for_suspended": 1,
                "remote": {"visits": 1, "min_total_visits": 2, "seen_within_days": 7}}


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


def mine_like(facts=None, **fields) -> Mine:
    """An unsaved mine with the given facts (no database needed by the rules)."""
    mine = Mine(**{"mine_type": "underground", "status": "producing", **fields})
    mine.plan_facts = facts or services.MineFacts(TODAY)
    return mine


def state() -> tuple:
    return (list(InspectionPlan.objects.values_list("status", "return_reason").order_by("pk")),
            list(PlanEntry.objects.values_list("mine_id", "visits_per_year", "method_minimums").order_by("pk")),
            PlanExpert.objects.count(), PlanAmendment.objects.count(), AuditEvent.objects.count())


def empty_plan(actor, org, year=2026) -> InspectionPlan:
    return services.create_plan(actor, org, year, propose=False)


def approved(personas, orgs, entries=None) -> InspectionPlan:
    """County A's 2026 plan, approved: mine_a 4 (2 unannounced), mine_a2 2, pond_a 2 (1 unannounced) by default."""
    plan = empty_plan(personas.county_a, orgs.a)
    for mine, visits, minimums in entries or [(personas.mine_a, 4, {U: 2}), (personas.mine_a2, 2, {}),
                                              (personas.pond_a, 2, {U: 1})]:
        services.set_entry(personas.county_a, plan, mine, visits_per_year=visits, method_minimums=minimums)
    services.submit_plan(personas.county_a, plan)
    services.approve_plan(personas.city, plan)
    return plan


def visit(mine, org, day, method=R, status=Inspection.Status.COMPLETED, lead=None) -> Inspection:
    lead = lead or User.objects.filter(role="county").first()
    return Inspection.objects.create(mine=mine, organisation=org, method=method, inspected_on=day, status=status,
                                     lead_inspector=lead)


# Frequency rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "visits"), [
    ({"mine_type": "underground", "status": "producing"}, 4),
    ({"mine_type": "underground", "status": "suspended"}, 2),
    ({"mine_type": "open_pit", "status": "producing"}, 3),
    ({"mine_type": "quarry", "status": "suspended"}, 1),
    ({"mine_type": "quarry", "status": "producing"}, 0),  # not in the rules: nothing
])
def test_the_base_frequency_follows_type_and_status(reference, fields, visits):
    got, reasons = services.visits_for(mine_like(**fields), RULES)
    assert got == visits
    assert [r["rule"] for r in reasons] == (["base"] if visits else [])


def test_a_closed_mine_gets_no_visits_whatever_its_risk(reference):
    facts = services.MineFacts(TODAY, open_hazards=3, accident_days=(TODAY,))
    assert services.visits_for(mine_like(facts, status="closed"), RULES) == (0, [{"rule": "closed", "add": 0}])


def test_tailings_grade_and_head_pond_add_visits_item_by_item(reference):
    pond = mine_like(mine_type="tailings_pond", pond_grade=3, is_head_pond=True)
    visits, reasons = services.visits_for(pond, RULES)
    assert visits == 2 + 1 + 2
    assert [(r["rule"], r["add"]) for r in reasons] == [("base", 2), ("pond_grade", 1), ("head_pond", 2)]
    texts = [services.describe_reason(r) for r in reasons]
    assert texts == ["Tailings pond, Producing: 2 visits a year", "Tailings pond of grade 3: +1",
                     "Head pond (头顶库), people or facilities downstream: +2"]
    grade_4 = mine_like(mine_type="tailings_pond", pond_grade=4)
    assert services.visits_for(grade_4, RULES)[0] == 2


def test_open_hazards_and_a_recent_accident_add_and_the_cap_holds(reference):
    facts = services.MineFacts(TODAY, open_hazards=2, accident_days=(dt.date(2026, 8, 1),))
    visits, reasons = services.visits_for(mine_like(facts), RULES)
    assert visits == 4 + 1 + 2
    assert reasons[1] == {"rule": "open_hazards", "add": 1, "count": 2}
    assert reasons[2]["rule"] == "recent_accident" and reasons[2]["last"] == "2026-08-01"
    assert services.describe_reason(reasons[2]) == "1 accident(s) in the last 12 months (latest 2026-08-01): +2"
    capped, reasons = services.visits_for(mine_like(facts), {**RULES, "max_visits": 6})
    assert capped == 6 and reasons[-1] == {"rule": "cap", "add": -1, "max": 6}


def test_an_accident_outside_the_window_adds_nothing(reference):
    old = services.MineFacts(TODAY, accident_days=(dt.date(2025, 11, 29),))
    assert services.visits_for(mine_like(old), RULES)[0] == 4
    edge = services.MineFacts(TODAY, accident_days=(dt.date(2025, 11, 30),))
    assert services.visits_for(mine_like(edge), RULES)[0] == 6


@pytest.mark.parametrize(("status", "visits", "seen_days_ago", "expected"), [
    ("producing", 4, None, {U: 2}),
    ("producing", 3, None, {U: 2}),  # half of 3 rounds up
    ("producing", 1, None, {U: 1}),
    ("suspended", 2, None, {C: 1}),  # the covert visit counts toward the unannounced share
    ("suspended", 4, None, {C: 1, U: 1}),
    ("producing", 4, 2, {U: 2, RM: 1}),  # sends data: one visit may be remote
    ("producing", 4, 8, {U: 2}),  # silent longer than the window: not connected
    ("producing", 1, 0, {U: 1}),  # never instead of the only on-site visit
    ("producing", 0, None, {}),
])
def test_methods_follow_the_share_suspension_and_connection(reference, status, visits, seen_days_ago, expected):
    seen = None if seen_days_ago is None else NOW - dt.timedelta(days=seen_days_ago)
    mine = mine_like(services.MineFacts(TODAY, last_data_at=seen), status=status)
    minimums, reasons = services.methods_for(mine, visits, METHOD_RULES)
    assert minimums == expected
    assert {r["method"] for r in reasons} == set(expected)


def test_facts_come_from_hazards_accidents_and_gateways(personas):
    item = next(i for i in HazardItem.objects.filter(catalogue__active=True) if i.fits("underground"))
    hazard_services.report_hazard(personas.county_a, personas.mine_a, item, source="county_inspection",
                                  found_on=TODAY, description="安全出口堵塞")
    Accident.objects.create(mine=personas.mine_a, occurred_at=NOW - dt.timedelta(days=30), place="x", kind="other",
                            summary="x", reporter="regulator", reported_by=personas.city)
    Accident.objects.create(mine=personas.mine_a2, occurred_at=NOW, place="x", kind="other", summary="x",
                            reporter="regulator", reported_by=personas.city, is_near_miss=True)
    Gateway.objects.create(mine=personas.mine_a, name="gw", token_hash="a" * 64, token_prefix="a", last_seen_at=NOW)
    Gateway.objects.create(mine=personas.mine_a2, name="gw", token_hash="b" * 64, token_prefix="b", active=False,
                           last_seen_at=NOW)
    facts = services.collect_facts([personas.mine_a, personas.mine_a2])
    assert facts[personas.mine_a.pk] == services.MineFacts(TODAY, 1, (TODAY - dt.timedelta(days=30),), NOW)
    assert facts[personas.mine_a2.pk] == services.MineFacts(TODAY)  # a near miss and a switched-off gateway
    rules = services.catalogue()
    visits, _reasons = services.visits_for(personas.mine_a, rules["frequency"]["county"])
    assert visits == 4 + 1 + 2
    assert services.methods_for(personas.mine_a, visits, rules["methods"])[0] == {U: 4, RM: 1}


# Proposal ----------------------------------------------------------------------------------------
def test_a_county_proposal_covers_its_own_mines_with_reasons(personas, orgs):
    registry.update_mine(personas.city, personas.pond_a, {"is_head_pond": True,
                                                          "downstream_within_1km": "下游村庄 200 人"})
    registry.create_mine(personas.city, code="KC-099", name="已关闭矿", enterprise=personas.enterprise_a,
                         county=personas.county_a_region, mine_type="underground", status="closed",
                         status_since=dt.date(2020, 1, 1))
    plan = services.create_plan(personas.county_a, orgs.a, 2027)
    entries = {e.mine.code: e for e in plan.entries.select_related("mine")}
    assert set(entries) == {"KC-001", "KC-002", "KC-T01"}  # no closed mine, no other county's
    pond = entries["KC-T01"]
    assert fresh(personas.pond_a).pond_grade == 4
    assert (pond.visits_per_year, pond.proposed_visits, pond.method_minimums, pond.methods) == (4, 4, {U: 2}, [U])
    assert [r["rule"] for r in pond.reasons] == ["base", "head_pond", "risk", "unannounced"]  # risk: +0 here
    assert (entries["KC-001"].visits_per_year, entries["KC-001"].method_minimums) == (4, {U: 2})
    assert fresh(plan).rules_version == services.catalogue()["version"]
    created = AuditEvent.objects.filter(object_type="enforcement.planentry", action="create").count()
    assert created == 3


def test_the_city_proposal_selects_by_risk_across_counties(personas, orgs):
    registry.update_mine(personas.city, personas.pond_a, {"is_head_pond": True,
                                                          "downstream_within_1km": "下游村庄 200 人"})
    plan = services.create_plan(personas.city, orgs.city, 2026)
    entry = plan.entries.get()
    assert (entry.mine, entry.visits_per_year, entry.method_minimums) == (personas.pond_a, 1, {U: 1})


def test_proposing_again_keeps_the_officers_numbers_and_adds_new_mines(personas, orgs):
    plan = services.create_plan(personas.county_a, orgs.a, 2026)
    services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=6, method_minimums={U: 3})
    registry.create_mine(personas.city, code="KC-050", name="新矿", enterprise=personas.enterprise_a,
                         county=personas.county_a_region, mine_type="open_pit", status_since=dt.date(2024, 1, 1))
    result = services.propose_entries(personas.county_a, plan)
    assert (result.added, result.refreshed) == (1, 0)
    entry = plan.entries.get(mine=personas.mine_a)
    assert (entry.visits_per_year, entry.proposed_visits) == (6, 4)
    assert plan.entries.get(mine__code="KC-050").visits_per_year == 3
    services.submit_plan(personas.county_a, plan)
    with pytest.raises(InvalidTransition):
        services.propose_entries(personas.county_a, plan)


# Transitions and permissions ---------------------------------------------------------------------
def test_draft_submitted_approved_with_audit_and_notifications(personas, orgs):
    plan = services.create_plan(personas.county_a, orgs.a, 2026)
    assert plan.status == S.DRAFT and services.allowed_moves(personas.county_a, plan) == [S.SUBMITTED]
    services.submit_plan(personas.county_a, plan)
    assert (fresh(plan).status, fresh(plan).submitted_by) == (S.SUBMITTED, personas.county_a)
    assert Notification.objects.filter(recipient=personas.city, subject__contains="submitted").exists()
    assert services.allowed_moves(personas.county_a, plan) == []
    assert set(services.allowed_moves(personas.city, plan)) == {S.APPROVED, S.RETURNED}
    services.approve_plan(personas.city, plan)
    assert (fresh(plan).status, fresh(plan).approved_by) == (S.APPROVED, personas.city)
    assert Notification.objects.filter(recipient=personas.county_a, subject__contains="approved").exists()
    moves = AuditEvent.objects.filter(object_type="enforcement.inspectionplan", action="transition").order_by("seq")
    assert [(e.before["status"], e.after["status"]) for e in moves] == [("draft", "submitted"),
                                                                        ("submitted", "approved")]


def test_the_city_returns_with_a_reason_and_the_county_resubmits(personas, orgs):
    plan = services.create_plan(personas.county_a, orgs.a, 2026)
    services.submit_plan(personas.county_a, plan)
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.return_plan(personas.city, plan, reason="  ")
    assert "reason" in exc.value.message_dict and state() == before
    services.return_plan(personas.city, plan, reason="尾矿库频次偏低")
    assert (fresh(plan).status, fresh(plan).return_reason) == (S.RETURNED, "尾矿库频次偏低")
    note = Notification.objects.get(recipient=personas.county_a, subject__contains="returned")
    assert note.body == "尾矿库频次偏低"
    services.set_entry(personas.county_a, plan, personas.pond_a, visits_per_year=6, method_minimums={U: 3})
    services.submit_plan(personas.county_a, plan)
    services.approve_plan(personas.city, plan)
    assert fresh(plan).status == S.APPROVED


@pytest.mark.parametrize(("move", "actor"), [
    ("submit", "county_b"), ("submit", "ent_a"), ("submit", "department"), ("submit", "inspector"),
    ("approve", "county_a"), ("return", "county_a"), ("approve", "county_b"),
])
def test_only_the_right_people_move_a_plan(personas, orgs, move, actor):
    plan = services.create_plan(personas.county_a, orgs.a, 2026)
    if move != "submit":
        services.submit_plan(personas.county_a, plan)
    before = state()
    call = {"submit": lambda u: services.submit_plan(u, plan), "approve": lambda u: services.approve_plan(u, plan),
            "return": lambda u: services.return_plan(u, plan, reason="x")}[move]
    with pytest.raises(PermissionDenied):
        call(getattr(personas, actor))
    assert state() == before


@pytest.mark.parametrize(("status", "move"), [
    (S.DRAFT, "approve"), (S.DRAFT, "return"), (S.SUBMITTED, "submit"), (S.APPROVED, "submit"),
    (S.APPROVED, "approve"), (S.APPROVED, "return"), (S.RETURNED, "approve"),
])
def test_moves_outside_the_table_are_refused(personas, orgs, status, move):
    plan = services.create_plan(personas.county_a, orgs.a, 2026)
    if status != S.DRAFT:
        services.submit_plan(personas.county_a, plan)
    if status == S.APPROVED:
        services.approve_plan(personas.city, plan)
    if status == S.RETURNED:
        services.return_plan(personas.city, plan, reason="x")
    before = state()
    call = {"submit": lambda: services.submit_plan(personas.county_a, plan),
            "approve": lambda: services.approve_plan(personas.city, plan),
            "return": lambda: services.return_plan(personas.city, plan, reason="x")}[move]
    with pytest.raises(InvalidTransition):
        call()
    assert state() == before


def test_an_empty_plan_is_not_submitted(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    with pytest.raises(DomainError) as exc:
        services.submit_plan(personas.county_a, plan)
    assert exc.value.field == "entries" and fresh(plan).status == S.DRAFT


@pytest.mark.parametrize("actor", ["county_b", "ent_a", "department", "inspector"])
def test_only_the_bodys_staff_or_the_city_make_its_plan(personas, orgs, actor):
    with pytest.raises(PermissionDenied):
        services.create_plan(getattr(personas, actor), orgs.a, 2026)
    assert not InspectionPlan.objects.exists()


def test_the_city_plans_for_any_body_once_a_year(personas, orgs):
    services.create_plan(personas.city, orgs.b, 2026, propose=False)
    with pytest.raises(DomainError) as exc:
        services.create_plan(personas.county_b, orgs.b, 2026)
    assert exc.value.field == "year"
    with pytest.raises(ValidationError) as exc:
        services.create_plan(personas.city, personas.enterprise_a.organisation, 2026)
    assert "organisation" in exc.value.message_dict


@pytest.mark.parametrize("year", [1999, 2028, "2026", 2026.0, None, True])
def test_a_bad_year_is_refused(personas, orgs, year):
    with pytest.raises(ValidationError) as exc:
        services.create_plan(personas.county_a, orgs.a, year)
    assert "year" in exc.value.message_dict and not InspectionPlan.objects.exists()


# Entries and amendments --------------------------------------------------------------------------
@pytest.mark.parametrize(("visits", "minimums", "note", "field"), [
    (0, {}, "", "visits_per_year"), (-1, {}, "", "visits_per_year"), (53, {}, "", "visits_per_year"),
    ("3", {}, "", "visits_per_year"), (True, {}, "", "visits_per_year"), (2.5, {}, "", "visits_per_year"),
    (4, {"teleport": 1}, "", "method_minimums"), (4, {U: -1}, "", "method_minimums"),
    (4, {U: "2"}, "", "method_minimums"), (4, {U: 3, RM: 2}, "", "method_minimums"),
    (4, "unannounced", "", "method_minimums"), (4, {}, "x" * 201, "note"),
])
def test_bad_entries_are_refused_naming_the_field(personas, orgs, visits, minimums, note, field):
    plan = empty_plan(personas.county_a, orgs.a)
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=visits, method_minimums=minimums,
                           note=note)
    assert field in exc.value.message_dict
    assert state() == before


def test_a_list_of_methods_means_one_visit_each(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    entry = services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=3,
                               method_minimums=[RM, U])
    assert (entry.method_minimums, entry.methods) == ({U: 1, RM: 1}, [U, RM])


def test_a_submitted_plan_takes_no_edits(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    entry = services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=4)
    services.submit_plan(personas.county_a, plan)
    before = state()
    with pytest.raises(InvalidTransition):
        services.set_entry(personas.county_a, plan, personas.mine_a2, visits_per_year=2)
    with pytest.raises(InvalidTransition):
        services.remove_entry(personas.county_a, entry)
    assert state() == before


def test_an_approved_plan_changes_only_by_an_amendment_with_a_reason(personas, orgs):
    plan = approved(personas, orgs)
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=6, method_minimums={U: 3})
    assert "reason" in exc.value.message_dict and state() == before
    services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=6, method_minimums={U: 3},
                       reason="发现重大隐患")
    amendment = PlanAmendment.objects.get()
    assert (amendment.action, amendment.reason, amendment.made_by) == ("change", "发现重大隐患", personas.county_a)
    assert amendment.before == {"visits_per_year": 4, "method_minimums": {U: 2}, "note": ""}
    assert amendment.after["visits_per_year"] == 6
    assert fresh(plan).status == S.APPROVED
    update = AuditEvent.objects.filter(object_type="enforcement.planentry", action="update").latest("seq")
    assert update.before == {"visits_per_year": 4, "method_minimums": {U: 2}}
    assert update.after["reason"] == "发现重大隐患"
    assert Notification.objects.filter(recipient=personas.city, subject__contains="amended").exists()
    entry = plan.entries.get(mine=personas.mine_a2)
    with pytest.raises(ValidationError):
        services.remove_entry(personas.county_a, entry)
    services.remove_entry(personas.county_a, entry, reason="已闭坑")
    assert not plan.entries.filter(mine=personas.mine_a2).exists()
    assert list(plan.amendments.values_list("action", flat=True)) == ["remove", "change"]
    deleted = AuditEvent.objects.get(object_type="enforcement.planentry", action="delete")
    assert deleted.before["mine_id"] == personas.mine_a2.pk and deleted.after == {"reason": "已闭坑"}


def test_the_same_values_change_nothing(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=4, method_minimums={U: 2})
    before = state()
    services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=4, method_minimums={U: 2, RM: 0})
    assert state() == before


# Cross-county enforcement ------------------------------------------------------------------------
def test_a_county_cannot_put_another_countys_mine_in_its_plan(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    with pytest.raises(PermissionDenied):
        services.set_entry(personas.county_a, plan, personas.mine_b, visits_per_year=1, method_minimums={X: 1})
    assert not PlanEntry.objects.exists()


def test_the_city_assigns_cross_county_visits_only_as_such(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    with pytest.raises(ValidationError) as exc:
        services.set_entry(personas.city, plan, personas.mine_b, visits_per_year=2, method_minimums={U: 1})
    assert "cross-county" in exc.value.message_dict["method_minimums"][0]
    entry = services.set_entry(personas.city, plan, personas.mine_b, visits_per_year=2, method_minimums={X: 1, U: 1})
    assert (entry.added_by, entry.methods) == (personas.city, [U, X])
    assert Notification.objects.filter(recipient=personas.county_a, subject__contains="Cross-county").exists()
    before = state()
    with pytest.raises(PermissionDenied):  # the county cannot alter or drop the city's assignment
        services.set_entry(personas.county_a, plan, personas.mine_b, visits_per_year=1, method_minimums={X: 1})
    with pytest.raises(PermissionDenied):
        services.remove_entry(personas.county_a, entry)
    with pytest.raises(ValidationError):  # nor may the city strip its cross-county visits
        services.set_entry(personas.city, plan, personas.mine_b, visits_per_year=2, method_minimums={U: 2})
    assert state() == before
    services.set_entry(personas.county_a, plan, personas.mine_a, visits_per_year=1)
    services.submit_plan(personas.county_a, plan)
    services.approve_plan(personas.city, plan)


@pytest.mark.parametrize("body", ["a", "city"])
def test_cross_county_visits_are_for_another_countys_mines_only(personas, orgs, body):
    actor = personas.county_a if body == "a" else personas.city
    plan = empty_plan(actor, getattr(orgs, body))
    with pytest.raises(ValidationError) as exc:
        services.set_entry(actor, plan, personas.mine_a, visits_per_year=2, method_minimums={X: 1})
    assert "method_minimums" in exc.value.message_dict


# Experts -----------------------------------------------------------------------------------------
def test_experts_join_an_entry_or_a_quarter_and_the_named_inspector_sees_the_plan(personas, orgs):
    plan = approved(personas, orgs)
    entry = plan.entries.get(mine=personas.mine_a2)
    assert not InspectionPlan.objects.visible_to(personas.inspector).exists()
    expert = services.add_expert(personas.county_a, plan, user=personas.inspector, speciality="采矿", entry=entry)
    assert (expert.name, expert.kind) == ("inspector", PlanExpert.Kind.EXPERT)
    assert Notification.objects.filter(recipient=personas.inspector, subject__contains="join").exists()
    services.add_expert(personas.county_a, plan, kind=PlanExpert.Kind.TECHNICAL_INSPECTOR, name="刘振军",
                        speciality="机电", quarter=2)
    assert list(InspectionPlan.objects.visible_to(personas.inspector)) == [plan]
    assert PlanEntry.objects.visible_to(personas.inspector).count() == 3
    assert AuditEvent.objects.filter(object_type="enforcement.planexpert", action="create").count() == 2
    services.remove_expert(personas.county_a, expert)
    assert not InspectionPlan.objects.visible_to(personas.inspector).exists()
    assert AuditEvent.objects.filter(object_type="enforcement.planexpert", action="delete").count() == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "王", "quarter": None}, "quarter"), ({"name": "王", "quarter": 5}, "quarter"),
    ({"name": "王", "quarter": 0}, "quarter"), ({"name": " ", "quarter": 1}, "name"),
    ({"name": "王", "quarter": 1, "kind": "wizard"}, "kind"), ({"user": "county_b", "quarter": 1}, "user"),
    ({"name": "王" * 65, "quarter": 1}, "name"), ({"name": "王", "quarter": 1, "speciality": "x" * 101}, "speciality"),
])
def test_bad_expert_assignments_are_refused(personas, orgs, kwargs, field):
    plan = approved(personas, orgs)
    if "user" in kwargs:
        kwargs["user"] = getattr(personas, kwargs["user"])
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.add_expert(personas.county_a, plan, **kwargs)
    assert field in exc.value.message_dict and state() == before


def test_an_expert_is_named_once_per_place_and_only_on_the_plans_own_entries(personas, orgs):
    plan = approved(personas, orgs)
    other = services.create_plan(personas.county_b, orgs.b, 2026)
    services.add_expert(personas.county_a, plan, name="王建国", quarter=1)
    with pytest.raises(ValidationError):
        services.add_expert(personas.county_a, plan, name="王建国", quarter=1)
    with pytest.raises(ValidationError) as exc:
        services.add_expert(personas.county_a, plan, name="王建国", entry=other.entries.first())
    assert "entry" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.add_expert(personas.county_b, plan, name="王建国", quarter=2)


# Progress ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("year", "until", "months"), [
    (2026, dt.date(2026, 3, 31), 3), (2026, dt.date(2026, 3, 30), 2), (2026, dt.date(2026, 1, 1), 0),
    (2026, dt.date(2026, 12, 31), 12), (2026, dt.date(2025, 12, 31), 0), (2026, dt.date(2027, 2, 1), 12),
    (2024, dt.date(2024, 2, 29), 2),
])
def test_months_elapsed(year, until, months):
    assert services.months_elapsed(year, until) == months


@pytest.mark.parametrize(("visits", "due"), [(4, [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4]), (3, [0, 0, 0, 1, 1, 1, 1,
                                                                                               2, 2, 2, 2, 3]),
                                             (1, [0] * 11 + [1]), (12, list(range(1, 13)))])
def test_visits_fall_due_evenly(visits, due):
    assert [services.due_by(visits, m) for m in range(1, 13)] == due


def test_progress_counts_completed_visits_by_the_body_method_aware(personas, orgs):
    plan = approved(personas, orgs)
    a, b = orgs.a, orgs.b
    visit(personas.mine_a, a, dt.date(2026, 2, 10))  # routine, Q1
    visit(personas.mine_a, a, dt.date(2026, 5, 1), U)  # Q2
    visit(personas.mine_a, a, dt.date(2026, 6, 1), U, status=Inspection.Status.IN_PROGRESS)  # not done
    visit(personas.mine_a, a, dt.date(2026, 6, 2), U, status=Inspection.Status.CANCELLED)
    visit(personas.mine_a, b, dt.date(2026, 6, 3), U)  # another body's visit
    visit(personas.mine_a, a, dt.date(2025, 12, 31), U)  # last year
    visit(personas.pond_a, a, dt.date(2026, 4, 20))  # routine: the unannounced minimum is still open
    visit(personas.mine_b, a, dt.date(2026, 3, 3))  # not in the plan
    visit(personas.mine_a, a, dt.date(2026, 8, 8), U)  # after the date
    progress = services.plan_progress(a, 2026, dt.date(2026, 6, 30))
    assert progress.plan == plan and progress.status == S.APPROVED
    assert (progress.planned_year, progress.planned_to_date, progress.done_to_date, progress.done_year) == (
        8, 2 + 1 + 1, 2 + 0 + 1, 3 + 0 + 1)
    rows = {r.mine.code: r for r in progress.entries}
    assert (rows["KC-001"].due_to_date, rows["KC-001"].done_to_date, rows["KC-001"].by_method) == (2, 2, {R: 1, U: 1})
    assert rows["KC-001"].method_due == {U: 1} and not rows["KC-001"].behind
    assert rows["KC-002"].behind and rows["KC-002"].missing == 1
    assert not rows["KC-T01"].behind  # 1 unannounced a year: due only by the end of the year
    assert [r.mine.code for r in progress.entries_behind] == ["KC-002"]
    assert progress.unplanned == 1
    methods = {m.method: m for m in progress.by_method}
    assert (methods[U].planned_year, methods[U].due_to_date, methods[U].done_to_date) == (3, 1, 1)
    assert methods[R].done_total == 2 and methods[R].planned_year == 0
    assert [(q.planned, q.done, q.ended) for q in progress.by_quarter] == [
        (1, 1, True), (3, 2, True), (1, 0, False), (3, 0, False)]
    assert progress.share == pytest.approx(3 / 4) and progress.percent == 75

    late = services.plan_progress(a, 2026, dt.date(2026, 12, 31))
    rows = {r.mine.code: r for r in late.entries}
    assert rows["KC-T01"].behind_methods == [U] and "Unannounced" in rows["KC-T01"].behind_method_labels
    assert rows["KC-001"].behind  # 3 of 4 done, 2 of them unannounced


def test_a_visit_beyond_the_plan_does_not_make_up_for_another_mine(personas, orgs):
    approved(personas, orgs, entries=[(personas.mine_a, 1, {}), (personas.mine_a2, 1, {})])
    for day in (dt.date(2026, 1, 5), dt.date(2026, 2, 5), dt.date(2026, 3, 5)):
        visit(personas.mine_a, orgs.a, day)
    progress = services.plan_progress(orgs.a, 2026, dt.date(2026, 12, 31))
    assert (progress.planned_to_date, progress.done_to_date) == (2, 1)
    assert [r.mine.code for r in progress.entries_behind] == ["KC-002"]


def test_cross_county_visits_count_for_the_visiting_body(personas, orgs):
    plan = empty_plan(personas.county_a, orgs.a)
    services.set_entry(personas.city, plan, personas.mine_b, visits_per_year=1, method_minimums={X: 1})
    visit(personas.mine_b, orgs.a, dt.date(2026, 9, 9), X)
    visit(personas.mine_b, orgs.b, dt.date(2026, 9, 10), X)
    progress = services.plan_progress(orgs.a, 2026, dt.date(2026, 12, 31))
    assert progress.status == S.DRAFT
    assert (progress.done_to_date, progress.entries_behind) == (1, [])
    assert services.plan_progress(orgs.b, 2026, dt.date(2026, 12, 31)).plan is None


def test_a_body_without_a_plan_has_zero_progress(personas, orgs):
    progress = services.plan_progress(orgs.b, 2026, TODAY)
    assert (progress.plan, progress.planned_to_date, progress.share, progress.entries) == (None, 0, None, [])
    assert progress.status_label == "No plan"


def test_the_overview_shows_the_city_every_body_and_a_county_its_own(personas, orgs):
    approved(personas, orgs)
    city = services.progress_overview(personas.city, 2026, TODAY)
    assert len(city) == Organisation.objects.filter(kind__in=["city_bureau", "county"]).count()
    assert [p.organisation for p in city if p.plan] == [orgs.a]
    assert [p.organisation for p in services.progress_overview(personas.county_a, 2026, TODAY)] == [orgs.a]
    assert services.progress_overview(personas.county_b, 2026, TODAY) == []
    assert services.progress_overview(personas.ent_a, 2026, TODAY) == []


# Pages, CSV and API: who sees what ---------------------------------------------------------------
# Which plans each persona sees: county A's (with a cross-county entry at mine_b and the inspector named),
# county B's and the city's.
PLAN_SCOPE = {"city": {"a", "b", "city"}, "county_a": {"a"}, "county_b": {"b"}, "inspector": {"a"},
              "ent_a": set(), "ent_b": set(), "department": set(), "anonymous": set()}
READERS = {"city", "county_a", "county_b", "inspector"}


@pytest.fixture
def world(personas, orgs):
    plan_a = approved(personas, orgs)
    services.set_entry(personas.city, plan_a, personas.mine_b, visits_per_year=1, method_minimums={X: 1},
                       reason="交叉执法")
    services.add_expert(personas.county_a, plan_a, user=personas.inspector, entry=plan_a.entries.get(
        mine=personas.mine_a2))
    plan_b = empty_plan(personas.county_b, orgs.b)
    services.set_entry(personas.county_b, plan_b, personas.mine_b, visits_per_year=3)
    plan_city = empty_plan(personas.city, orgs.city)
    for mine in (personas.mine_a, personas.mine_b):
        services.set_entry(personas.city, plan_city, mine, visits_per_year=1)
    personas.plans = {"a": plan_a, "b": plan_b, "city": plan_city}
    return personas


@pytest.mark.parametrize("persona", PERSONAS)
def test_plan_pages_and_csv_are_scoped(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/enforcement/plans/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona not in READERS:
        assert response.status_code == 403
        assert web.get("/enforcement/plans/progress/").status_code == 403
    else:
        html = response.content.decode()
        assert {k for k, p in world.plans.items() if f'data-plan="{p.pk}"' in html} == PLAN_SCOPE[persona]
        overview = web.get("/enforcement/plans/progress/?year=2026").content.decode()
        shown = {k for k, p in world.plans.items() if f'data-plan="{p.pk}"' in overview}
        assert shown == PLAN_SCOPE[persona]
    for key, plan in world.plans.items():
        expected = 200 if key in PLAN_SCOPE[persona] else (404 if persona in READERS else 403)
        for path in ("", "progress/?show=all", "entries.csv"):
            assert web.get(f"/enforcement/plans/{plan.pk}/{path}").status_code == expected, (key, path)


def test_the_entries_csv_holds_the_plan_with_reasons(client, world):
    response = web_client(client, world, "county_a").get(f"/enforcement/plans/{world.plans['a'].pk}/entries.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][1] == "Mine code" and {r[1] for r in rows[1:]} == {"KC-001", "KC-002", "KC-T01", "XL-001"}
    assert "Unannounced (四不两直) ≥ 2" in next(r for r in rows if r[1] == "KC-001")[7]


@pytest.mark.parametrize("persona", PERSONAS)
def test_plan_api_is_scoped(world, persona):
    api = api_client(world, persona)
    plans, entries = api.get("/api/v1/inspection-plans/?limit=500"), api.get("/api/v1/plan-entries/?limit=500")
    if persona == "anonymous":
        assert plans.status_code == entries.status_code == 403
        return
    keys = {k for k, p in world.plans.items() if p.pk in {row["id"] for row in plans.json()["results"]}}
    assert keys == PLAN_SCOPE[persona]
    assert {row["plan"] for row in entries.json()["results"]} == {world.plans[k].pk for k in PLAN_SCOPE[persona]}
    overview = api.get("/api/v1/inspection-plans/overview/?year=2026")
    assert {row["plan"] for row in overview.json() if row["plan"]} == {world.plans[k].pk for k in PLAN_SCOPE[persona]}
    for key, plan in world.plans.items():
        code = 200 if key in PLAN_SCOPE[persona] else 404
        assert api.get(f"/api/v1/inspection-plans/{plan.pk}/").status_code == code
        assert api.get(f"/api/v1/inspection-plans/{plan.pk}/progress/").status_code == code
        entry = plan.entries.first()
        assert api.get(f"/api/v1/plan-entries/{entry.pk}/").status_code == code


@pytest.mark.parametrize("persona", ["department", "ent_a", "inspector", "county_b"])
def test_readers_and_outsiders_cannot_post_plan_steps(client, world, persona):
    plan = world.plans["a"]
    before = state()
    web = web_client(client, world, persona)
    response = web.post(f"/enforcement/plans/{plan.pk}/", {"action": "remove", "remove-entry": plan.entries.first().pk,
                                                           "remove-reason": "x"})
    assert response.status_code == {"county_b": 404, "inspector": 403}.get(persona, 403)
    api = api_client(world, persona)
    answer = api.post(f"/api/v1/inspection-plans/{plan.pk}/remove-entry/",
                      {"entry": plan.entries.first().pk, "reason": "x"}, format="json")
    assert answer.status_code == (403 if persona == "inspector" else 404)
    assert state() == before


def test_the_county_is_not_offered_the_citys_cross_county_entry(client, world):
    plan, foreign = world.plans["a"], world.plans["a"].entries.get(mine=world.mine_b)
    for persona, offered in (("county_a", False), ("city", True)):
        page = web_client(client, world, persona).get(f"/enforcement/plans/{plan.pk}/").content.decode()
        removable = page.split('name="remove-entry"')[1].split("</select>")[0]
        assert (f'value="{foreign.pk}"' in removable) is offered
        assert (f"?mine={world.mine_b.pk}#" in page) is offered


def test_a_county_plans_on_the_pages_and_the_city_approves(client, personas, orgs):
    county = web_client(client, personas, "county_a")
    form = county.get("/enforcement/plans/new/")
    assert form.status_code == 200 and orgs.b.name not in form.content.decode()
    response = county.post("/enforcement/plans/new/", {"organisation": orgs.a.pk, "year": 2027, "propose": "on"})
    plan = InspectionPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/enforcement/plans/{plan.pk}/"
    assert plan.entries.count() == 3
    page = county.get(f"/enforcement/plans/{plan.pk}/").content.decode()
    assert "Underground mine, Producing: 4 visits a year" in page and 'value="submit"' in page
    county.post(f"/enforcement/plans/{plan.pk}/", {"action": "entry", "entry-mine": personas.mine_a.pk,
                                                   "entry-visits_per_year": 6, "entry-min_unannounced": 3,
                                                   "entry-note": "加密"})
    assert plan.entries.get(mine=personas.mine_a).visits_per_year == 6
    bad = county.post(f"/enforcement/plans/{plan.pk}/", {"action": "entry", "entry-mine": personas.mine_a.pk,
                                                         "entry-visits_per_year": 2, "entry-min_unannounced": 3})
    assert bad.status_code == 200 and "more than the 2 visits a year" in bad.content.decode()
    outsider = county.post(f"/enforcement/plans/{plan.pk}/", {"action": "entry", "entry-mine": personas.mine_b.pk,
                                                              "entry-visits_per_year": 1,
                                                              "entry-min_cross_county": 1})
    assert outsider.status_code == 200 and not plan.entries.filter(mine=personas.mine_b).exists()
    county.post(f"/enforcement/plans/{plan.pk}/", {"action": "submit"})
    assert fresh(plan).status == S.SUBMITTED
    assert 'value="entry"' not in county.get(f"/enforcement/plans/{plan.pk}/").content.decode()
    city = web_client(client, personas, "city")
    city.post(f"/enforcement/plans/{plan.pk}/", {"action": "approve"})
    assert fresh(plan).status == S.APPROVED
    county.post(f"/enforcement/plans/{plan.pk}/", {"action": "entry", "entry-mine": personas.mine_a2.pk,
                                                   "entry-visits_per_year": 5, "entry-reason": "新发现隐患"})
    assert plan.amendments.get().reason == "新发现隐患"
    page = county.get(f"/enforcement/plans/{plan.pk}/").content.decode()
    assert "新发现隐患" in page and 'id="amendments"' in page
    progress = county.get(f"/enforcement/plans/{plan.pk}/progress/?until=2027-06-30&show=all")
    assert progress.status_code == 200 and progress.context["progress"].planned_to_date == 3 + 2 + 1


def test_the_plan_lifecycle_through_the_api(personas, orgs):
    county, city = APIClient(), APIClient()
    county.force_login(personas.county_a)
    city.force_login(personas.city)
    created = county.post("/api/v1/inspection-plans/", {"organisation": orgs.a.pk, "year": 2027}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and len(body["entries"]) == 3
    assert body["entries"][0]["reasons"][0]["text"].startswith("Underground mine")
    pk = body["id"]
    again = county.post("/api/v1/inspection-plans/", {"organisation": orgs.a.pk, "year": 2027}, format="json")
    assert again.status_code == 409 and again.json()["field"] == "year"
    other = county.post("/api/v1/inspection-plans/", {"organisation": orgs.b.pk, "year": 2027}, format="json")
    assert other.status_code == 403
    hidden = county.post(f"/api/v1/inspection-plans/{pk}/entries/", {"mine": personas.mine_b.pk,
                                                                      "visits_per_year": 1}, format="json")
    assert hidden.status_code == 400 and "mine" in hidden.json()
    bad = county.post(f"/api/v1/inspection-plans/{pk}/entries/", {"mine": personas.mine_a.pk, "visits_per_year": 2,
                                                                   "method_minimums": {"unannounced": 3}},
                      format="json")
    assert bad.status_code == 400 and "method_minimums" in bad.json()
    entry = county.post(f"/api/v1/inspection-plans/{pk}/entries/", {
        "mine": personas.mine_a.pk, "visits_per_year": 5, "method_minimums": {"unannounced": 3}}, format="json")
    assert entry.status_code == 200 and entry.json()["methods"] == ["unannounced"]
    assert county.post(f"/api/v1/inspection-plans/{pk}/approve/").status_code == 409  # a draft: not in the table
    assert county.post(f"/api/v1/inspection-plans/{pk}/submit/").json()["status"] == "submitted"
    assert county.post(f"/api/v1/inspection-plans/{pk}/approve/").status_code == 403
    refused = county.post(f"/api/v1/inspection-plans/{pk}/entries/", {"mine": personas.mine_a.pk,
                                                                       "visits_per_year": 4}, format="json")
    assert refused.status_code == 409
    returned = city.post(f"/api/v1/inspection-plans/{pk}/return/", {"reason": "补充暗访"}, format="json")
    assert returned.json()["status"] == "returned" and returned.json()["return_reason"] == "补充暗访"
    county.post(f"/api/v1/inspection-plans/{pk}/submit/")
    assert city.post(f"/api/v1/inspection-plans/{pk}/approve/").json()["status"] == "approved"
    assert city.post(f"/api/v1/inspection-plans/{pk}/approve/").status_code == 409
    cross = city.post(f"/api/v1/inspection-plans/{pk}/entries/", {
        "mine": personas.mine_b.pk, "visits_per_year": 1, "method_minimums": {"cross_county": 1},
        "reason": "市局安排交叉执法"}, format="json")
    assert cross.status_code == 200 and cross.json()["cross_county"] is True
    expert = county.post(f"/api/v1/inspection-plans/{pk}/experts/", {"user": personas.inspector.pk, "quarter": 3},
                         format="json")
    assert expert.status_code == 201 and expert.json()["name"] == "inspector"
    assert county.post(f"/api/v1/inspection-plans/{pk}/experts/", {"name": "x", "entry": 10**9},
                       format="json").status_code == 400
    removed = county.post(f"/api/v1/inspection-plans/{pk}/remove-expert/", {"expert": expert.json()["id"]},
                          format="json")
    assert removed.status_code == 204
    entry_pk = PlanEntry.objects.get(plan_id=pk, mine=personas.mine_a2).pk
    no_reason = county.post(f"/api/v1/inspection-plans/{pk}/remove-entry/", {"entry": entry_pk}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    assert county.post(f"/api/v1/inspection-plans/{pk}/remove-entry/", {"entry": entry_pk, "reason": "关闭"},
                       format="json").status_code == 204
    detail = county.get(f"/api/v1/inspection-plans/{pk}/").json()
    assert [a["action"] for a in detail["amendments"]] == ["remove", "add"]
    visit(personas.mine_a, orgs.a, dt.date(2027, 2, 1), U)
    progress = county.get(f"/api/v1/inspection-plans/{pk}/progress/?until=2027-03-31").json()
    assert (progress["planned_to_date"], progress["done_to_date"]) == (1 + 0 + 0, 1)
    assert county.get(f"/api/v1/inspection-plans/{pk}/progress/?until=soon").status_code == 400
    assert county.get("/api/v1/inspection-plans/overview/?year=1900").status_code == 400


# Demo --------------------------------------------------------------------------------------------
def test_the_demo_plans_are_seeded_once(reference, settings, tmp_path):
    from minesafe.enforcement.demo_plans import all_plan_targets, plan_targets, seed_plans
    from minesafe.web.demo import seed_demo

    settings.ACCIDENT_DATA_DIR = str(tmp_path / "none")
    seed_demo(months=1, scale=0.3, monitoring=False, until="officers")  # a smaller city: the plans' rules are the same
    summary = seed_plans(2026)
    bodies = Organisation.objects.filter(kind__in=["city_bureau", "county"]).count()
    assert summary.problems == [] and summary.plans == 2 * bodies
    assert set(InspectionPlan.objects.values_list("status", flat=True)) == {S.APPROVED}
    kuancheng = InspectionPlan.objects.get(year=2026, organisation__region__code="130827")
    foreign = [e for e in kuancheng.entries.select_related("mine") if services.is_foreign(kuancheng, e.mine)]
    assert len(foreign) == summary.cross_county == 1 and foreign[0].method_minimums == {X: 1}
    assert kuancheng.amendments.count() == 1 and summary.experts > 0
    assert InspectionPlan.objects.get(year=2026, organisation__region__code="130822").return_reason
    assert summary.below_minimum_kit == [Organisation.objects.get(kind="county", region__code="130871").name]
    targets = plan_targets(2026)
    mine = kuancheng.entries.exclude(mine__in=[e.mine for e in foreign]).first()
    assert targets[mine.mine_id][:2] == (kuancheng.organisation_id, mine.visits_per_year)
    assert len(targets[mine.mine_id][2]) == mine.visits_per_year
    assert targets[foreign[0].mine_id][0] != kuancheng.organisation_id  # its own county's entry wins
    assert (foreign[0].mine_id, kuancheng.organisation_id, 1, [X]) in all_plan_targets(2026)
    again = seed_plans(2026)
    assert (again.plans, InspectionPlan.objects.count()) == (0, 2 * bodies)
