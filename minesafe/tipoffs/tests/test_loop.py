"""The closed loop 受理 → 核实 → 办理 → 反馈: every transition and refusal, deadlines with frozen time,
reassignment, hazards opened from a substantiated report, rewards, and the reporter's identity kept out of
the audit log and masked for everyone but the handlers."""

import datetime as dt
import decimal
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.tipoffs import services
from minesafe.tipoffs.models import Reward, Tipoff

from .conftest import START

pytestmark = pytest.mark.django_db
S = Tipoff.Status
RS = Reward.Status
NAME, PHONE = "张举报", "13812345678"


def report(personas, **overrides) -> Tipoff:
    data = {"county": personas.county_a_region, "mine": personas.mine_a, "category": "illegal_production",
            "description": "夜间有矿车出入，停产矿山仍在生产", "anonymous": False, "contact_name": NAME,
            "contact_phone": PHONE, **overrides}
    return services.submit(**data)[0]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def item_for(mine):
    return HazardItem.objects.filter(catalogue__active=True, facility_type="underground").order_by("code").first() \
        if mine.mine_type == "underground" else None


def run(personas, tipoff, actor=None, upto=S.CLOSED, substantiated=True):
    actor = actor or personas.county_a
    steps = [
        (S.ACCEPTED, lambda: services.accept(actor, tipoff)),
        (S.VERIFIED, lambda: services.verify(actor, tipoff, substantiated=substantiated, findings="现场核实属实")),
        (S.HANDLED, lambda: services.handle(actor, tipoff, action_taken="责令停产，立案处罚")),
        (S.FEEDBACK_GIVEN, lambda: services.give_feedback(actor, tipoff, "已查处，感谢监督")),
        (S.CLOSED, lambda: services.close(actor, tipoff)),
    ]
    for status, step in steps:
        step()
        if status == upto:
            break
    return tipoff


# Intake and codes --------------------------------------------------------------------------------
def test_a_report_keeps_only_the_hash_of_its_random_tracking_code(personas, clock):
    tipoff, code = services.submit(county=personas.county_a_region, mine=None, place="宽城某山沟",
                                   category="beyond_bounds", description="越界开采")
    assert len(code) == services.CODE_LENGTH and set(code) <= set(services.CODE_ALPHABET)
    stored = fresh(tipoff)
    assert code not in json.dumps(list(Tipoff.objects.values()), default=str)
    assert stored.tracking_hash == services.code_hash(code)
    assert (stored.status, stored.handling_county, stored.anonymous) == (S.RECEIVED, personas.county_a_region, True)
    assert stored.number == "JB2026-00001"
    assert services.find_by_code(code) == stored
    assert services.find_by_code(services.display_code(code).lower()) == stored  # as typed from the slip
    other = services.submit(county=personas.county_a_region, place="x", category="other", description="y")[1]
    assert other != code


def test_wrong_forged_and_malformed_codes_find_nothing(personas, clock):
    _tipoff, code = services.submit(county=personas.county_a_region, place="x", category="other", description="y")
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    forged = services.new_tracking_code()
    for attempt in (flipped, forged, code[:-1], code + "A", "", "' OR 1=1 --", services.code_hash(code),
                    "0" * services.CODE_LENGTH):
        assert services.find_by_code(attempt) is None, attempt


def test_anonymous_reports_drop_any_contact_given(personas, clock):
    tipoff = report(personas, anonymous=True)
    assert (tipoff.contact_name, tipoff.contact_phone) == ("", "")


@pytest.mark.parametrize("overrides, field", [
    ({"description": "  "}, "description"),
    ({"description": "长" * (services.DESCRIPTION_MAX + 1)}, "description"),
    ({"category": "gossip"}, "category"),
    ({"county": None, "mine": None, "place": "x"}, "county"),
    ({"mine": None, "place": ""}, "place"),
    ({"anonymous": False, "contact_name": "", "contact_phone": ""}, "contact_name"),
    ({"contact_phone": "<script>"}, "contact_phone"),
])
def test_bad_reports_are_refused_naming_the_field(personas, clock, overrides, field):
    with pytest.raises(ValidationError) as info:
        report(personas, **overrides)
    assert field in info.value.message_dict
    assert not Tipoff.objects.exists()


def test_the_mine_must_lie_in_the_county_chosen(personas, clock):
    with pytest.raises(ValidationError) as info:
        report(personas, county=personas.county_b_region, mine=personas.mine_a)
    assert "mine" in info.value.message_dict


# The loop ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["city", "county_a"])
def test_handlers_run_the_whole_loop(personas, clock, persona):
    tipoff = report(personas)
    actor = getattr(personas, persona)
    run(personas, tipoff, actor)
    stored = fresh(tipoff)
    assert stored.status == S.CLOSED and stored.substantiated is True
    assert all([stored.accepted_at, stored.verified_at, stored.handled_at, stored.feedback_at, stored.closed_at])
    assert stored.due_at is None
    moves = [(e.before["status"], e.after["status"]) for e in AuditEvent.objects.filter(
        object_type="tipoffs.tipoff", object_id=str(tipoff.pk), action="transition").order_by("seq")]
    assert moves == [("received", "accepted"), ("accepted", "verified"), ("verified", "handled"),
                     ("handled", "feedback_given"), ("feedback_given", "closed")]


def test_a_rejected_report_gets_feedback_and_closes(personas, clock):
    tipoff = report(personas)
    with pytest.raises(ValidationError):
        services.reject(personas.county_a, tipoff, " ")
    services.reject(personas.county_a, tipoff, "不属于非煤矿山安全监管范围")
    assert fresh(tipoff).status == S.REJECTED and fresh(tipoff).reject_reason
    with pytest.raises(InvalidTransition):
        services.verify(personas.county_a, tipoff, substantiated=True, findings="x")
    services.give_feedback(personas.county_a, tipoff, "已转交有关部门")
    services.close(personas.county_a, tipoff)
    assert fresh(tipoff).status == S.CLOSED


STEP_CALLS = {
    "accept": lambda a, t: services.accept(a, t),
    "reject": lambda a, t: services.reject(a, t, "原因"),
    "verify": lambda a, t: services.verify(a, t, substantiated=False, findings="未发现"),
    "handle": lambda a, t: services.handle(a, t, action_taken="无需处理"),
    "feedback": lambda a, t: services.give_feedback(a, t, "反馈"),
    "close": lambda a, t: services.close(a, t),
}
ALLOWED = {(S.RECEIVED, "accept"), (S.RECEIVED, "reject"), (S.ACCEPTED, "verify"), (S.VERIFIED, "handle"),
           (S.HANDLED, "feedback"), (S.REJECTED, "feedback"), (S.FEEDBACK_GIVEN, "close")}


def bring_to(personas, status):
    tipoff = report(personas)
    actor = personas.county_a
    if status == S.REJECTED:
        return services.reject(actor, tipoff, "原因")
    path = [S.RECEIVED, S.ACCEPTED, S.VERIFIED, S.HANDLED, S.FEEDBACK_GIVEN, S.CLOSED]
    if status != S.RECEIVED:
        run(personas, tipoff, actor, upto=status, substantiated=False)
    assert path.index(status) >= 0
    return tipoff


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("step", list(STEP_CALLS))
def test_every_step_outside_the_table_is_refused_as_an_invalid_transition(personas, clock, status, step):
    tipoff = bring_to(personas, status)
    if (status, step) in ALLOWED:
        STEP_CALLS[step](personas.county_a, tipoff)
        assert fresh(tipoff).status != status
        return
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition):
        STEP_CALLS[step](personas.county_a, tipoff)
    assert fresh(tipoff).status == status and AuditEvent.objects.count() == before


@pytest.mark.parametrize("persona", ["county_b", "ent_a", "ent_b", "department", "inspector"])
def test_only_the_handlers_act(personas, clock, persona):
    tipoff = report(personas)
    for step in ("accept", "reject"):
        with pytest.raises(PermissionDenied):
            STEP_CALLS[step](getattr(personas, persona), tipoff)
    assert fresh(tipoff).status == S.RECEIVED


def test_verification_needs_findings(personas, clock):
    tipoff = run(personas, report(personas), upto=S.ACCEPTED)
    with pytest.raises(ValidationError) as info:
        services.verify(personas.county_a, tipoff, substantiated=True, findings="")
    assert "findings" in info.value.message_dict


# Deadlines ---------------------------------------------------------------------------------------
def test_each_step_has_its_deadline_from_receipt_and_is_overdue_after_it(personas, clock):
    tipoff = report(personas)
    assert fresh(tipoff).due_at == START + dt.timedelta(days=3)
    clock.advance(days=3, seconds=1)
    assert fresh(tipoff).is_overdue and list(Tipoff.objects.overdue()) == [tipoff]
    services.accept(personas.county_a, tipoff)
    assert fresh(tipoff).due_at == START + dt.timedelta(days=15) and not fresh(tipoff).is_overdue
    clock.advance(days=12)
    assert fresh(tipoff).is_overdue
    services.verify(personas.county_a, tipoff, substantiated=True, findings="属实")
    assert fresh(tipoff).due_at == START + dt.timedelta(days=30)
    services.handle(personas.county_a, tipoff, action_taken="处罚")
    assert fresh(tipoff).due_at == START + dt.timedelta(days=30)
    clock.advance(days=15)
    assert list(Tipoff.objects.overdue()) == [tipoff]
    services.give_feedback(personas.county_a, tipoff, "已查处")
    assert fresh(tipoff).due_at is None and not Tipoff.objects.overdue().exists()


def test_deadlines_come_from_the_catalogue(personas, clock, monkeypatch):
    base = services.catalogue()
    monkeypatch.setattr(services, "catalogue", lambda: {**base, "deadlines_days": {
        "accept": 1, "verify": 7, "feedback": 20}})
    tipoff = report(personas)
    assert fresh(tipoff).due_at == START + dt.timedelta(days=1)
    assert services.deadlines(tipoff)["feedback"] == START + dt.timedelta(days=20)


# Reassignment ------------------------------------------------------------------------------------
def test_the_city_reassigns_a_report_to_another_county(personas, clock):
    tipoff = report(personas, mine=None, place="两县交界处")
    with pytest.raises(PermissionDenied):
        services.reassign(personas.county_a, tipoff, personas.county_b_region)
    services.reassign(personas.city, tipoff, personas.county_b_region, "位于兴隆境内")
    assert not Tipoff.objects.visible_to(personas.county_a).exists()
    assert list(Tipoff.objects.visible_to(personas.county_b)) == [tipoff]
    with pytest.raises(PermissionDenied):
        services.accept(personas.county_a, tipoff)
    services.accept(personas.county_b, tipoff)
    with pytest.raises(ValidationError):
        services.reassign(personas.city, tipoff, personas.county_b_region)


# Hazards -----------------------------------------------------------------------------------------
def test_a_substantiated_report_opens_a_major_hazard_with_source_tipoff(personas, clock):
    tipoff = run(personas, report(personas), upto=S.VERIFIED)
    item = item_for(personas.mine_a)
    services.handle(personas.county_a, tipoff, action_taken="列为重大隐患", hazard_item=item,
                    hazard_description="停产期间违法组织生产")
    hazard = fresh(tipoff).hazard
    assert hazard is not None and (hazard.source, hazard.mine, hazard.item) == (
        Hazard.Source.TIPOFF, personas.mine_a, item)
    assert NAME not in hazard.finder_name and tipoff.number in hazard.finder_name


def test_an_unsubstantiated_report_opens_no_hazard(personas, clock):
    tipoff = run(personas, report(personas), upto=S.VERIFIED, substantiated=False)
    with pytest.raises(ValidationError) as info:
        services.handle(personas.county_a, tipoff, action_taken="x", hazard_item=item_for(personas.mine_a))
    assert "hazard_item" in info.value.message_dict
    assert fresh(tipoff).status == S.VERIFIED and not Hazard.objects.exists()


def test_a_hazard_item_that_does_not_fit_the_mine_rolls_everything_back(personas, clock):
    tipoff = run(personas, report(personas), upto=S.VERIFIED)
    pond_item = HazardItem.objects.filter(catalogue__active=True, facility_type="tailings").first()
    with pytest.raises(ValidationError):
        services.handle(personas.county_a, tipoff, action_taken="x", hazard_item=pond_item)
    assert fresh(tipoff).status == S.VERIFIED and not Hazard.objects.exists()


# Rewards -----------------------------------------------------------------------------------------
def test_the_reward_rule_multiplies_the_category_base_and_caps_it():
    rules = {"cap": 12000, "base_by_category": {"hidden_hazard": 3000, "other": 500},
             "severity_multiplier": {"general": 1, "major": 4.5}}
    assert services.quote_reward("hidden_hazard", "general", rules).amount == decimal.Decimal("3000.00")
    capped = services.quote_reward("hidden_hazard", "major", rules)
    assert capped.amount == decimal.Decimal("12000.00") and "capped" in capped.rule
    assert services.quote_reward("other", "major", rules).amount == decimal.Decimal("2250.00")
    with pytest.raises(ValidationError):
        services.quote_reward("other", "catastrophic", rules)


def test_a_reward_is_proposed_approved_by_the_city_and_paid(personas, clock):
    tipoff = run(personas, report(personas), upto=S.HANDLED)
    reward = services.propose_reward(personas.county_a, tipoff, "major")
    expected = services.quote_reward("illegal_production", "major")
    assert (reward.amount, reward.status) == (expected.amount, RS.PROPOSED)
    with pytest.raises(InvalidTransition):
        services.propose_reward(personas.county_a, tipoff, "general")
    with pytest.raises(PermissionDenied):
        services.approve_reward(personas.county_a, reward)
    with pytest.raises(InvalidTransition):
        services.pay_reward(personas.city, reward, paid_on=clock.now.date(), payment_ref="ZF-1")
    services.approve_reward(personas.city, reward)
    services.give_feedback(personas.county_a, tipoff, "属实，已奖励")
    with pytest.raises(InvalidTransition):  # an approved reward not yet paid keeps the report open
        services.close(personas.county_a, tipoff)
    assert services.public_view(tipoff)["claimable"] is True
    clock.advance(days=2)
    with pytest.raises(ValidationError) as info:
        services.pay_reward(personas.city, reward, paid_on=clock.now.date() + dt.timedelta(days=1), payment_ref="x")
    assert "paid_on" in info.value.message_dict
    services.pay_reward(personas.city, reward, paid_on=clock.now.date(), payment_ref="ZF-2026-001")
    assert fresh(reward).status == RS.PAID and fresh(reward).payment_ref == "ZF-2026-001"
    services.close(personas.county_a, tipoff)
    view = services.public_view(fresh(tipoff))
    assert view["reward_amount"] == expected.amount and view["reward_paid_on"] == clock.now.date()


def test_no_reward_for_an_unsubstantiated_report(personas, clock):
    tipoff = run(personas, report(personas), upto=S.HANDLED, substantiated=False)
    with pytest.raises(InvalidTransition):
        services.propose_reward(personas.county_a, tipoff, "general")


def test_the_city_may_refuse_a_reward_with_a_reason(personas, clock):
    tipoff = run(personas, report(personas), upto=S.HANDLED)
    reward = services.propose_reward(personas.county_a, tipoff, "general")
    with pytest.raises(ValidationError):
        services.refuse_reward(personas.city, reward, "")
    services.refuse_reward(personas.city, reward, "举报人系涉事企业员工，按规定不予奖励")
    assert fresh(reward).status == RS.REFUSED
    with pytest.raises(InvalidTransition):
        services.approve_reward(personas.city, reward)


# Identity ----------------------------------------------------------------------------------------
def test_the_identity_never_reaches_the_audit_log(personas, clock):
    tipoff = run(personas, report(personas), upto=S.HANDLED)
    services.reassign(personas.city, tipoff, personas.county_b_region)
    log = json.dumps(list(AuditEvent.objects.values("before", "after", "object_repr")), ensure_ascii=False)
    assert NAME not in log and PHONE not in log and tipoff.tracking_hash not in log
    created = AuditEvent.objects.get(object_type="tipoffs.tipoff", object_id=str(tipoff.pk), action="create")
    assert created.after["contact_name"] == services.MASK and created.after["contact_phone"] == services.MASK


@pytest.mark.parametrize("persona, shown", [("city", True), ("county_a", True), ("county_b", False),
                                            ("ent_a", False), ("ent_b", False), ("department", False),
                                            ("inspector", False), ("anonymous", False)])
def test_only_the_handlers_see_who_reported(personas, clock, persona, shown):
    tipoff = report(personas)
    seen = services.identity(getattr(personas, persona), tipoff)
    assert seen == ({"contact_name": NAME, "contact_phone": PHONE} if shown else
                    {"contact_name": services.MASK, "contact_phone": services.MASK})
