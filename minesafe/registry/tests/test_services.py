"""Registry operations: who may change a mine, the status machine, the monthly ledger and 包保 leaders."""

import calendar
import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conftest import credit_code
from minesafe.core import audit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent
from minesafe.registry import services
from minesafe.registry.models import Enterprise, LedgerSubmission, Mine, MineStatusChange, ResponsibleLeader

S = Mine.Status


def fresh(mine: Mine) -> Mine:
    return Mine.objects.get(pk=mine.pk)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return (month_start(day) - dt.timedelta(days=1)).replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (month_start(day) + dt.timedelta(days=31)).replace(day=1)


def end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def events_for(obj, action: str | None = None):
    qs = audit.history(obj)
    return qs.filter(action=action) if action else qs


# Permissions ------------------------------------------------------------------------------------
def test_city_manages_every_mine_and_a_county_only_its_own(personas):
    p = personas
    assert services.can_manage_mine(p.city, p.mine_a) and services.can_manage_mine(p.city, p.mine_b)
    assert services.can_manage_mine(p.county_a, p.mine_a)
    assert not services.can_manage_mine(p.county_a, p.mine_b)
    assert not services.can_manage_mine(p.county_b, p.mine_a)


def test_only_the_owning_enterprise_edits_its_mine(personas):
    p = personas
    assert services.can_edit_mine(p.ent_a, p.mine_a) and services.can_edit_mine(p.ent_a, p.pond_a)
    assert not services.can_edit_mine(p.ent_a, p.mine_a2)
    assert not services.can_edit_mine(p.ent_b, p.mine_a)
    assert not services.can_manage_mine(p.ent_a, p.mine_a)


@pytest.mark.parametrize("persona", ["department", "inspector"])
def test_departments_and_inspectors_cannot_edit_mines(personas, persona):
    user = getattr(personas, persona)
    for mine in (personas.mine_a, personas.mine_a2, personas.mine_b):
        assert not services.can_edit_mine(user, mine)
        assert services.allowed_transitions(user, mine) == []


# Creating enterprises and mines ------------------------------------------------------------------
def test_creating_a_mine_records_its_first_status_and_an_audit_event(personas):
    mine = personas.mine_a
    change = MineStatusChange.objects.get(mine=mine)
    assert (change.old_status, change.new_status, change.effective_date) == ("", S.PRODUCING, dt.date(2024, 1, 1))
    created = events_for(mine, AuditEvent.Action.CREATE).get()
    assert created.actor_id == personas.city.pk
    assert created.after["code"] == "KC-001"


def test_new_mine_gets_its_scale_class_and_pond_grade_from_the_catalogues(personas):
    mine_a, mine_b, pond = fresh(personas.mine_a), fresh(personas.mine_b), fresh(personas.pond_a)
    assert (mine_a.scale_class, mine_a.scale_source) == ("medium", "computed")  # 铁矿(地下) 40
    assert (mine_b.scale_class, mine_b.scale_source) == ("large", "computed")  # 石灰岩 120
    assert pond.pond_grade == 4  # 500 万m³, 45 m
    assert mine_a.pond_grade is None


def test_new_mine_is_due_its_first_ledger_after_the_current_month(personas):
    today = timezone.localdate()
    due = end_of_month(today) + dt.timedelta(days=settings.LEDGER_GRACE_DAYS)
    assert fresh(personas.mine_a).ledger_due_date == due


def test_mine_registry_number_must_be_unique(personas):
    with pytest.raises(DomainError) as excinfo:
        services.create_mine(personas.city, code="KC-001", name="重复", enterprise=personas.enterprise_a,
                             county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND, mineral="铁矿")
    assert excinfo.value.code == "duplicate"


def test_county_cannot_register_a_mine_in_another_county(personas):
    with pytest.raises(PermissionDenied):
        services.create_mine(personas.county_b, code="KC-009", name="越界矿", enterprise=personas.enterprise_a,
                             county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND, mineral="铁矿")
    assert not Mine.objects.filter(code="KC-009").exists()


def test_enterprise_cannot_register_mines(personas):
    with pytest.raises(PermissionDenied):
        services.create_mine(personas.ent_a, code="KC-010", name="自报矿", enterprise=personas.enterprise_a,
                             county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND, mineral="铁矿")


def test_enterprise_with_a_known_credit_code_is_reused(personas):
    again, created = services.get_or_create_enterprise(personas.county_a, "宽城测试矿业有限公司",
                                                        credit_code("91130827MA000000A").lower(),
                                                        personas.county_a_region)
    assert (again, created) == (personas.enterprise_a, False)


def test_enterprise_credit_code_is_checked(personas):
    good = credit_code("91130827MA000000D")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationError) as excinfo:
        services.get_or_create_enterprise(personas.city, "新矿业", bad, personas.county_a_region)
    assert "credit_code" in excinfo.value.message_dict
    assert not Enterprise.objects.filter(credit_code=bad).exists()


def test_known_credit_code_under_another_name_is_refused(personas):
    with pytest.raises(ValidationError):
        services.get_or_create_enterprise(personas.city, "别的名字有限公司", credit_code("91130827MA000000A"),
                                          personas.county_a_region)


def test_county_cannot_register_an_enterprise_in_another_county(personas):
    with pytest.raises(PermissionDenied):
        services.get_or_create_enterprise(personas.county_b, "越界矿业", credit_code("91130827MA000000E"),
                                          personas.county_a_region)


# Status machine ---------------------------------------------------------------------------------
def test_enterprise_may_suspend_its_own_producing_mine(personas):
    change = services.change_status(personas.ent_a, personas.mine_a, S.SUSPENDED, reason="设备检修")
    mine = fresh(personas.mine_a)
    assert mine.status == S.SUSPENDED
    assert mine.status_since == timezone.localdate()
    assert (change.old_status, change.new_status, change.reason, change.changed_by_id) == (
        S.PRODUCING, S.SUSPENDED, "设备检修", personas.ent_a.pk)
    event = events_for(mine, AuditEvent.Action.TRANSITION).get()
    assert event.actor_id == personas.ent_a.pk
    assert event.before == {"status": "producing", "status_since": "2024-01-01"}
    assert event.after == {"status": "suspended", "status_since": timezone.localdate().isoformat(),
                           "reason": "设备检修"}


def test_enterprise_may_not_resume_its_suspended_mine(personas):
    services.change_status(personas.ent_a, personas.mine_a, S.SUSPENDED, reason="设备检修")
    mine = fresh(personas.mine_a)
    with pytest.raises(PermissionDenied):
        services.change_status(personas.ent_a, mine, S.PRODUCING, reason="检修完毕")
    assert fresh(mine).status == S.SUSPENDED
    assert services.allowed_transitions(personas.ent_a, mine) == []
    # Resumption goes through acceptance (the operations app's guard), not a plain status change.
    assert services.allowed_transitions(personas.county_a, mine) == [S.CLOSED]


def test_county_resumes_a_suspended_mine_in_its_county_only_through_acceptance(personas):
    services.change_status(personas.ent_a, personas.mine_a, S.SUSPENDED, reason="设备检修")
    with pytest.raises(InvalidTransition):
        services.change_status(personas.county_a, fresh(personas.mine_a), S.PRODUCING, reason="验收合格")
    services.change_status(personas.county_a, fresh(personas.mine_a), S.PRODUCING, reason="验收合格",
                           via="resumption_acceptance")
    assert fresh(personas.mine_a).status == S.PRODUCING
    history = list(MineStatusChange.objects.filter(mine=personas.mine_a).order_by("id")
                   .values_list("old_status", "new_status"))
    assert history == [("", S.PRODUCING), (S.PRODUCING, S.SUSPENDED), (S.SUSPENDED, S.PRODUCING)]
    assert events_for(personas.mine_a, AuditEvent.Action.TRANSITION).count() == 2


def test_enterprise_may_only_suspend_a_producing_mine(personas):
    assert services.allowed_transitions(personas.ent_a, personas.mine_a) == [S.SUSPENDED]
    with pytest.raises(PermissionDenied):
        services.change_status(personas.ent_a, personas.mine_a, S.CLOSED, reason="不干了")


@pytest.mark.parametrize("target", [S.PRODUCING, S.CONSTRUCTION, S.SUSPENDED, S.CONSTRUCTION_HALTED])
def test_closed_is_final(personas, target):
    services.change_status(personas.city, personas.mine_a, S.CLOSED, reason="关闭退出")
    mine = fresh(personas.mine_a)
    with pytest.raises(InvalidTransition):
        services.change_status(personas.city, mine, target, reason="重新开张")
    assert fresh(mine).status == S.CLOSED
    assert services.allowed_transitions(personas.city, mine) == []


def test_transition_outside_the_machine_is_invalid(personas):
    with pytest.raises(InvalidTransition) as excinfo:
        services.change_status(personas.city, personas.mine_a, S.CONSTRUCTION_HALTED, reason="x")
    assert (excinfo.value.code, excinfo.value.field) == ("invalid_transition", "status")


def test_unknown_status_is_a_validation_error(personas):
    with pytest.raises(ValidationError):
        services.change_status(personas.city, personas.mine_a, "flooded", reason="x")


def test_county_cannot_change_the_status_of_another_countys_mine(personas):
    with pytest.raises(PermissionDenied):
        services.change_status(personas.county_b, personas.mine_a, S.SUSPENDED, reason="越权")
    assert fresh(personas.mine_a).status == S.PRODUCING
    assert not events_for(personas.mine_a, AuditEvent.Action.TRANSITION).exists()


@pytest.mark.parametrize("persona", ["ent_b", "department", "inspector"])
def test_others_cannot_change_a_mines_status(personas, persona):
    with pytest.raises(PermissionDenied):
        services.change_status(getattr(personas, persona), personas.mine_a, S.SUSPENDED, reason="越权")


@pytest.mark.parametrize("reason", ["", "   "])
def test_status_change_requires_a_reason(personas, reason):
    with pytest.raises(ValidationError) as excinfo:
        services.change_status(personas.county_a, personas.mine_a, S.SUSPENDED, reason=reason)
    assert "reason" in excinfo.value.message_dict
    assert MineStatusChange.objects.filter(mine=personas.mine_a).count() == 1


def test_status_change_cannot_take_effect_in_the_future(personas):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        services.change_status(personas.county_a, personas.mine_a, S.SUSPENDED, reason="x", effective_date=tomorrow)
    assert "effective_date" in excinfo.value.message_dict


def test_status_change_cannot_predate_the_current_status(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.change_status(personas.county_a, personas.mine_a, S.SUSPENDED, reason="x",
                               effective_date=dt.date(2023, 12, 31))
    assert "effective_date" in excinfo.value.message_dict


def test_backdated_status_change_keeps_its_effective_date(personas):
    services.change_status(personas.county_a, personas.mine_a, S.SUSPENDED, reason="补录",
                           effective_date=dt.date(2024, 6, 1))
    mine = fresh(personas.mine_a)
    assert (mine.status, mine.status_since) == (S.SUSPENDED, dt.date(2024, 6, 1))


def test_stale_mine_object_cannot_overwrite_a_newer_status(personas):
    stale = fresh(personas.mine_a)
    services.change_status(personas.county_a, fresh(personas.mine_a), S.SUSPENDED, reason="停产整顿")
    with pytest.raises(DomainError):
        services.change_status(personas.ent_a, stale, S.SUSPENDED, reason="设备检修")
    assert MineStatusChange.objects.filter(mine=personas.mine_a).count() == 2


def test_closing_a_mine_clears_its_ledger_due_date(personas):
    assert fresh(personas.mine_a).ledger_due_date is not None
    services.change_status(personas.county_a, personas.mine_a, S.CLOSED, reason="关闭退出")
    assert fresh(personas.mine_a).ledger_due_date is None
    assert personas.mine_a in Mine.objects.filter(ledger_due_date__isnull=True)
    assert personas.mine_a not in Mine.objects.ledger_overdue(today=dt.date(2100, 1, 1))


def test_status_change_does_not_clear_an_overdue_ledger(personas):
    # A mine that never reported and whose first update is overdue stays overdue when its status changes:
    # only a ledger submission (or closure) moves the due date.
    overdue_since = timezone.localdate() - dt.timedelta(days=40)
    Mine.objects.filter(pk=personas.mine_a.pk).update(ledger_due_date=overdue_since)
    services.change_status(personas.ent_a, fresh(personas.mine_a), S.SUSPENDED, reason="设备检修")
    mine = fresh(personas.mine_a)
    assert mine.ledger_due_date == overdue_since
    assert mine.ledger_overdue


def test_status_change_keeps_the_due_date_of_a_mine_that_reports(personas):
    period = previous_month(timezone.localdate())
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, period)
    due = fresh(personas.mine_a).ledger_due_date
    services.change_status(personas.ent_a, fresh(personas.mine_a), S.SUSPENDED, reason="设备检修")
    assert fresh(personas.mine_a).ledger_due_date == due


# Monthly ledger ----------------------------------------------------------------------------------
def test_ledger_for_a_future_month_is_refused(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.submit_monthly_ledger(personas.ent_a, personas.mine_a, next_month(timezone.localdate()))
    assert "period" in excinfo.value.message_dict
    assert not LedgerSubmission.objects.exists()


def test_ledger_for_the_current_unfinished_month_is_refused(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.submit_monthly_ledger(personas.ent_a, personas.mine_a, timezone.localdate())
    assert "period" in excinfo.value.message_dict
    assert not LedgerSubmission.objects.exists()


def test_ledger_for_a_month_before_registration_is_refused(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.submit_monthly_ledger(personas.ent_a, personas.mine_a, dt.date(1900, 1, 1))
    assert "period" in excinfo.value.message_dict


def test_a_skipped_month_stays_overdue_until_it_is_filed(personas, settings):
    last = previous_month(timezone.localdate())
    skipped = previous_month(last)
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, previous_month(skipped))
    services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), last)
    expected = end_of_month(skipped) + dt.timedelta(days=settings.LEDGER_GRACE_DAYS)
    assert fresh(personas.mine_a).ledger_due_date == expected
    services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), skipped)
    assert fresh(personas.mine_a).ledger_due_date == end_of_month(next_month(last)) + dt.timedelta(
        days=settings.LEDGER_GRACE_DAYS)


def test_duplicate_month_ledger_is_a_domain_error(personas):
    period = previous_month(timezone.localdate())
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, period)
    with pytest.raises(DomainError) as excinfo:
        services.submit_monthly_ledger(personas.county_a, fresh(personas.mine_a), period.replace(day=15))
    assert excinfo.value.code == "duplicate"
    assert LedgerSubmission.objects.filter(mine=personas.mine_a).count() == 1


def test_submitting_a_ledger_moves_the_due_date_to_after_the_next_month(personas):
    period = previous_month(timezone.localdate())
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, period, people_underground=12)
    mine = fresh(personas.mine_a)
    assert mine.last_ledger_period == period
    assert mine.ledger_due_date == end_of_month(next_month(period)) + dt.timedelta(days=settings.LEDGER_GRACE_DAYS)


def test_ledger_due_date_uses_the_configured_grace_days(personas, settings):
    settings.LEDGER_GRACE_DAYS = 10
    today = timezone.localdate()
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, previous_month(today))
    assert fresh(personas.mine_a).ledger_due_date == end_of_month(today) + dt.timedelta(days=10)


def test_submitting_an_older_month_does_not_move_the_due_date_back(personas):
    last = previous_month(timezone.localdate())
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, last)
    due = fresh(personas.mine_a).ledger_due_date
    services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), previous_month(last))
    mine = fresh(personas.mine_a)
    assert mine.last_ledger_period == last
    assert mine.ledger_due_date == due


def test_ledger_with_a_due_date_in_the_past_is_overdue(personas):
    today = timezone.localdate()
    Mine.objects.filter(pk=personas.mine_a.pk).update(ledger_due_date=today - dt.timedelta(days=1))
    assert fresh(personas.mine_a).ledger_overdue
    assert personas.mine_a in Mine.objects.ledger_overdue()
    services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), previous_month(today))
    assert not fresh(personas.mine_a).ledger_overdue
    assert personas.mine_a not in Mine.objects.ledger_overdue()


def test_closed_mine_has_no_monthly_ledger(personas):
    services.change_status(personas.city, personas.mine_a, S.CLOSED, reason="关闭退出")
    with pytest.raises(DomainError):
        services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), previous_month(timezone.localdate()))
    assert fresh(personas.mine_a).ledger_due_date is None


def test_ledger_updates_people_underground_and_is_audited(personas):
    period = previous_month(timezone.localdate())
    submission = services.submit_monthly_ledger(personas.ent_a, personas.mine_a, period, people_underground=12,
                                                output=Decimal("3.5"), note=" 正常生产 ")
    assert fresh(personas.mine_a).people_underground == 12
    assert (submission.status, submission.note, submission.submitted_by_id) == (
        S.PRODUCING, "正常生产", personas.ent_a.pk)
    event = events_for(submission, AuditEvent.Action.CREATE).get()
    assert event.after["people_underground"] == 12
    assert Decimal(event.after["output"]) == Decimal("3.5")


def test_ledger_records_what_changed_since_the_previous_month(personas):
    today = timezone.localdate()
    last = previous_month(today)
    services.submit_monthly_ledger(personas.ent_a, personas.mine_a, previous_month(last), people_underground=12)
    services.change_status(personas.ent_a, fresh(personas.mine_a), S.SUSPENDED, reason="设备检修")
    submission = services.submit_monthly_ledger(personas.ent_a, fresh(personas.mine_a), last, people_underground=0)
    assert submission.changes == {"status": [S.PRODUCING, S.SUSPENDED], "people_underground": [12, 0]}
    assert submission.status == S.SUSPENDED


def test_people_underground_on_an_open_pit_ledger_is_refused(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.submit_monthly_ledger(personas.county_b, personas.mine_b, previous_month(timezone.localdate()),
                                       people_underground=3)
    assert "people_underground" in excinfo.value.message_dict


def test_negative_output_is_refused(personas):
    with pytest.raises(ValidationError):
        services.submit_monthly_ledger(personas.ent_a, personas.mine_a, previous_month(timezone.localdate()),
                                       output=Decimal(-1))


@pytest.mark.parametrize("persona", ["ent_b", "county_b", "inspector", "department"])
def test_only_the_owner_or_its_regulator_submits_a_mines_ledger(personas, persona):
    with pytest.raises(PermissionDenied):
        services.submit_monthly_ledger(getattr(personas, persona), personas.mine_a, timezone.localdate())


# Updating mines ---------------------------------------------------------------------------------
def test_enterprise_may_change_people_underground_of_its_underground_mine(personas):
    services.update_mine(personas.ent_a, fresh(personas.mine_a), {"people_underground": 25, "address": "宽城某村"})
    mine = fresh(personas.mine_a)
    assert (mine.people_underground, mine.address) == (25, "宽城某村")
    event = events_for(mine, AuditEvent.Action.UPDATE).get()
    assert event.actor_id == personas.ent_a.pk
    assert event.before == {"people_underground": None, "address": ""}
    assert event.after == {"people_underground": 25, "address": "宽城某村"}


def test_enterprise_may_not_change_the_licence_number(personas):
    with pytest.raises(PermissionDenied):
        services.update_mine(personas.ent_a, fresh(personas.mine_a), {"licence_no": "(冀)FM安许证字[2026]001"})
    assert fresh(personas.mine_a).licence_no == ""
    assert not events_for(personas.mine_a, AuditEvent.Action.UPDATE).exists()


def test_enterprise_may_resubmit_an_unchanged_regulator_field(personas):
    Mine.objects.filter(pk=personas.mine_a.pk).update(licence_no="L-1")
    services.update_mine(personas.ent_a, fresh(personas.mine_a), {"licence_no": "L-1", "people_underground": 8})
    assert fresh(personas.mine_a).people_underground == 8


@pytest.mark.parametrize("persona", ["ent_b", "county_b", "inspector", "department"])
def test_others_may_not_change_a_mine(personas, persona):
    with pytest.raises(PermissionDenied):
        services.update_mine(getattr(personas, persona), fresh(personas.mine_a), {"people_underground": 1})


def test_county_changes_the_licence_number_and_the_change_is_audited(personas):
    services.update_mine(personas.county_a, fresh(personas.mine_a), {"licence_no": "(冀)FM安许证字[2026]001"})
    mine = fresh(personas.mine_a)
    assert mine.licence_no == "(冀)FM安许证字[2026]001"
    event = events_for(mine, AuditEvent.Action.UPDATE).get()
    assert event.actor_id == personas.county_a.pk
    assert event.before == {"licence_no": ""}
    assert event.after == {"licence_no": "(冀)FM安许证字[2026]001"}
    assert audit.verify_chain().ok


def test_update_without_a_real_change_writes_nothing(personas):
    mine = fresh(personas.mine_a)
    services.update_mine(personas.county_a, mine, {"name": mine.name, "design_capacity": Decimal("40.00")})
    assert not events_for(mine, AuditEvent.Action.UPDATE).exists()


def test_status_cannot_be_changed_through_update(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.update_mine(personas.city, fresh(personas.mine_a), {"status": S.CLOSED})
    assert "status" in excinfo.value.message_dict
    assert fresh(personas.mine_a).status == S.PRODUCING


def test_changing_design_capacity_recomputes_the_scale_class(personas):
    services.update_mine(personas.county_a, fresh(personas.mine_a), {"design_capacity": Decimal("120")})
    mine = fresh(personas.mine_a)
    assert (mine.scale_class, mine.scale_source) == ("large", "computed")
    event = events_for(mine, AuditEvent.Action.UPDATE).get()
    assert event.before == {"design_capacity": "40.00", "scale_class": "medium"}
    assert event.after == {"design_capacity": "120.00", "scale_class": "large"}


def test_entered_scale_class_is_kept_where_the_table_cannot_decide(personas):
    mine = services.create_mine(personas.county_a, code="KC-S01", name="宽城砂场", enterprise=personas.enterprise_a,
                                county=personas.county_a_region, mine_type=Mine.Type.OPEN_PIT, mineral="建筑用砂",
                                design_capacity=Decimal(30), scale_class="small")
    mine = fresh(mine)
    assert (mine.scale_class, mine.scale_source) == ("small", "entered")


def test_regulator_raising_the_pond_grade_needs_a_reason(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.update_mine(personas.county_a, fresh(personas.pond_a), {"pond_grade_raised": True})
    assert "pond_grade_raise_reason" in excinfo.value.message_dict
    services.update_mine(personas.county_a, fresh(personas.pond_a),
                         {"pond_grade_raised": True, "pond_grade_raise_reason": "下游1公里内有村庄，经论证提等"})
    assert fresh(personas.pond_a).pond_grade == 3


def test_enterprise_may_not_raise_its_pond_grade(personas):
    with pytest.raises(PermissionDenied):
        services.update_mine(personas.ent_a, fresh(personas.pond_a),
                             {"pond_grade_raised": True, "pond_grade_raise_reason": "自行提等"})


def test_enterprise_may_report_the_current_dam_height_of_its_pond(personas):
    services.update_mine(personas.ent_a, fresh(personas.pond_a), {"current_dam_height": Decimal("38.5")})
    assert fresh(personas.pond_a).current_dam_height == Decimal("38.50")


def test_current_dam_height_above_design_is_refused_on_update(personas):
    with pytest.raises(ValidationError) as excinfo:
        services.update_mine(personas.ent_a, fresh(personas.pond_a), {"current_dam_height": Decimal("46")})
    assert "current_dam_height" in excinfo.value.message_dict
    assert fresh(personas.pond_a).current_dam_height is None


# validate_mine -----------------------------------------------------------------------------------
def unsaved(personas, **fields) -> Mine:
    defaults = {"code": "T", "name": "T", "enterprise": personas.enterprise_a, "county": personas.county_a_region,
                "mine_type": Mine.Type.UNDERGROUND, "mineral": "铁矿"}
    return Mine(**(defaults | fields))


def validation_errors(mine: Mine) -> dict:
    try:
        services.validate_mine(mine)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_valid_mines_pass_validation(personas):
    assert validation_errors(unsaved(personas, people_underground=30)) == {}
    assert validation_errors(unsaved(personas, mine_type=Mine.Type.TAILINGS_POND, mineral="",
                                     design_dam_height=Decimal(45), current_dam_height=Decimal(45),
                                     design_pond_capacity=Decimal(500), current_pond_capacity=Decimal(200))) == {}


@pytest.mark.parametrize("field, value", [
    ("design_dam_height", Decimal(45)), ("current_dam_height", Decimal(10)), ("design_pond_capacity", Decimal(500)),
    ("current_pond_capacity", Decimal(100)), ("dam_method", Mine.DamMethod.UPSTREAM), ("pond_grade_raised", True),
    ("is_head_pond", True), ("downstream_within_1km", "村庄"),
])
def test_tailings_only_fields_are_refused_on_a_non_pond(personas, field, value):
    assert field in validation_errors(unsaved(personas, **{field: value}))


def test_current_dam_height_above_design_is_refused(personas):
    errors = validation_errors(unsaved(personas, mine_type=Mine.Type.TAILINGS_POND, mineral="",
                                       design_dam_height=Decimal(45), current_dam_height=Decimal("45.01")))
    assert set(errors) == {"current_dam_height"}


def test_current_pond_capacity_above_design_is_refused(personas):
    errors = validation_errors(unsaved(personas, mine_type=Mine.Type.TAILINGS_POND, mineral="",
                                       design_pond_capacity=Decimal(500), current_pond_capacity=Decimal(501)))
    assert set(errors) == {"current_pond_capacity"}


def test_people_underground_only_for_underground_mines(personas):
    assert "people_underground" in validation_errors(unsaved(personas, mine_type=Mine.Type.OPEN_PIT,
                                                             people_underground=3))


def test_slope_height_only_for_pits_and_quarries(personas):
    assert "slope_height" in validation_errors(unsaved(personas, slope_height=Decimal(60)))
    assert validation_errors(unsaved(personas, mine_type=Mine.Type.QUARRY, slope_height=Decimal(60))) == {}


def test_standardisation_date_cannot_be_in_the_future_nor_missing(personas):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert "standard_date" in validation_errors(unsaved(personas, standard_grade=3, standard_date=tomorrow))
    assert "standard_date" in validation_errors(unsaved(personas, standard_grade=3))
    assert validation_errors(unsaved(personas, standard_grade=3, standard_date=timezone.localdate())) == {}


@pytest.mark.parametrize("field, value", [
    ("longitude", Decimal("72.9")), ("longitude", Decimal("136.1")),
    ("latitude", Decimal("2.9")), ("latitude", Decimal("54.1")),
])
def test_coordinates_outside_china_are_refused(personas, field, value):
    assert field in validation_errors(unsaved(personas, **{field: value}))


def test_mine_must_be_in_a_county_level_unit(personas):
    city = personas.county_a_region.parent
    assert "county" in validation_errors(unsaved(personas, county=city))


# 包保 leaders ------------------------------------------------------------------------------------
def test_county_assigns_a_leader_and_the_assignment_is_audited(personas):
    leader = services.assign_leader(personas.county_a, personas.mine_a, name=" 张三 ", post="副县长",
                                    level=ResponsibleLeader.Level.COUNTY, start_date=dt.date(2024, 1, 1))
    assert leader.name == "张三"
    assert events_for(leader, AuditEvent.Action.CREATE).exists()
    assert leader in ResponsibleLeader.objects.published_current()


@pytest.mark.parametrize("persona", ["ent_a", "county_b", "inspector"])
def test_only_regulators_of_the_mine_assign_leaders(personas, persona):
    with pytest.raises(PermissionDenied):
        services.assign_leader(getattr(personas, persona), personas.mine_a, name="李四", post="局长",
                               level=ResponsibleLeader.Level.COUNTY, start_date=dt.date(2024, 1, 1))


def test_ended_leader_is_no_longer_current(personas):
    leader = services.assign_leader(personas.county_a, personas.mine_a, name="张三", post="副县长",
                                    level=ResponsibleLeader.Level.COUNTY, start_date=dt.date(2024, 1, 1))
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    services.end_leader(personas.county_a, leader, yesterday)
    assert leader not in ResponsibleLeader.objects.published_current()
    assert events_for(leader, AuditEvent.Action.UPDATE).get().after == {"end_date": yesterday.isoformat()}


def test_leader_cannot_end_before_starting(personas):
    leader = services.assign_leader(personas.county_a, personas.mine_a, name="张三", post="副县长",
                                    level=ResponsibleLeader.Level.COUNTY, start_date=dt.date(2024, 6, 1))
    with pytest.raises(ValidationError):
        services.end_leader(personas.county_a, leader, dt.date(2024, 5, 31))
    with pytest.raises(PermissionDenied):
        services.end_leader(personas.county_b, leader, dt.date(2024, 7, 1))


def test_unpublished_or_future_leaders_are_not_current(personas):
    services.assign_leader(personas.county_a, personas.mine_a, name="王五", post="乡长",
                           level=ResponsibleLeader.Level.TOWNSHIP, start_date=dt.date(2024, 1, 1), published=False)
    services.assign_leader(personas.county_a, personas.mine_a, name="赵六", post="副乡长",
                           level=ResponsibleLeader.Level.TOWNSHIP,
                           start_date=timezone.localdate() + dt.timedelta(days=1))
    assert not ResponsibleLeader.objects.published_current().exists()
