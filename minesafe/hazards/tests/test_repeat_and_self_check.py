"""Repeat offences (屡改屡犯) and their investigations; the monthly major-hazard self-check."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core import audit
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Notification
from minesafe.hazards import services
from minesafe.hazards.models import Hazard, Investigation, SelfCheck
from minesafe.registry.models import Mine
from minesafe.registry.services import add_months, ledger_due_for_period

H = Hazard.Status
DAY = dt.timedelta(days=1)
CONCLUSION = {"team": "县应急局牵头调查组", "cause": "整改流于形式，未按设计施工",
              "responsibility": "矿长未履行整改职责", "accountability_proposal": "对矿长约谈并罚款"}


def fresh(hazard: Hazard) -> Hazard:
    return Hazard.objects.get(pk=hazard.pk)


def hazard_ids(investigation: Investigation) -> set[int]:
    return set(investigation.hazards.values_list("pk", flat=True))


# Repeat detection --------------------------------------------------------------------------------
def test_same_item_at_the_same_mine_within_the_window_is_a_repeat(personas, report, today):
    first = report(found_on=today - 100 * DAY)
    second = report(found_on=today)
    first, second = fresh(first), fresh(second)
    assert second.is_repeat and second.repeat_of == first
    assert not first.is_repeat and first.repeat_of is None
    investigation = Investigation.objects.get(mine=personas.mine_a)
    assert investigation.status == Investigation.Status.OPEN
    assert hazard_ids(investigation) == {first.pk, second.pk}
    assert investigation.parent_company_note == personas.enterprise_a.name


def test_a_repeat_found_the_same_day_counts(report, today):
    first = report(found_on=today)
    second = report(found_on=today, description="另一处安全出口堵塞")
    assert fresh(second).repeat_of == first


def test_the_window_is_365_days_inclusive(personas, report, today):
    edge = report(found_on=today - 365 * DAY)
    inside = report(personas.county_a, personas.mine_a, found_on=today)
    assert fresh(inside).repeat_of == edge


def test_outside_the_window_is_not_a_repeat(personas, report, today):
    report(found_on=today - 366 * DAY)
    later = report(found_on=today)
    assert not fresh(later).is_repeat and fresh(later).repeat_of is None
    assert not Investigation.objects.filter(mine=personas.mine_a).exists()


def test_another_item_or_another_mine_is_not_a_repeat(personas, report, today):
    report(found_on=today - 10 * DAY)
    other_item = report(code="UG-02", found_on=today)
    other_mine = report(personas.county_a, personas.mine_a2, found_on=today)
    assert not fresh(other_item).is_repeat and not fresh(other_mine).is_repeat
    assert not Investigation.objects.exists()


def test_a_cancelled_earlier_hazard_does_not_count(personas, report, today):
    earlier = report(found_on=today - 30 * DAY)
    services.transition(personas.county_a, earlier, H.CANCELLED, reason="误报")
    later = report(found_on=today)
    assert not fresh(later).is_repeat
    assert not Investigation.objects.exists()


def test_a_second_repeat_joins_the_open_investigation(personas, report, today):
    first = report(found_on=today - 200 * DAY)
    second = report(found_on=today - 100 * DAY)
    third = report(found_on=today)
    assert fresh(third).repeat_of == fresh(second)
    investigation = Investigation.objects.get(mine=personas.mine_a)
    assert hazard_ids(investigation) == {first.pk, second.pk, third.pk}


def test_opening_an_investigation_tells_the_county_and_the_city(personas, report, today):
    report(found_on=today - 10 * DAY)
    city, county, enterprise = (Notification.objects.filter(recipient=u).count()
                                for u in (personas.city, personas.county_a, personas.ent_a))
    report(found_on=today)
    assert Notification.objects.filter(recipient=personas.city).count() == city + 1
    # county A: the report itself and the investigation; the enterprise only the report.
    assert Notification.objects.filter(recipient=personas.county_a).count() == county + 2
    assert Notification.objects.filter(recipient=personas.ent_a).count() == enterprise + 1
    investigation = Investigation.objects.get(mine=personas.mine_a)
    assert audit.history(investigation).filter(action=AuditEvent.Action.CREATE).count() == 1


def test_a_backdated_report_still_pairs_with_a_later_hazard_of_the_same_item(personas, report, today):
    """Hazards are often entered days after they were found: the pair must be caught whichever is entered first."""
    later = report(found_on=today)
    backdated = report(found_on=today - 10 * DAY)
    later, backdated = fresh(later), fresh(backdated)
    assert later.is_repeat or backdated.is_repeat
    investigation = Investigation.objects.get(mine=personas.mine_a)
    assert hazard_ids(investigation) == {later.pk, backdated.pk}


def test_a_repeat_after_the_investigation_was_concluded_opens_a_new_one(personas, report, today):
    report(found_on=today - 50 * DAY)
    report(found_on=today - 40 * DAY)
    concluded = Investigation.objects.get(mine=personas.mine_a)
    services.conclude_investigation(personas.county_a, concluded, propose_closure=False, **CONCLUSION)
    third = report(found_on=today)
    reopened = Investigation.objects.get(mine=personas.mine_a, status=Investigation.Status.OPEN)
    assert reopened.pk != concluded.pk
    assert third.pk in hazard_ids(reopened)


# Concluding an investigation ---------------------------------------------------------------------
@pytest.fixture
def investigation(personas, report, today) -> Investigation:
    report(found_on=today - 60 * DAY)
    report(found_on=today)
    return Investigation.objects.get(mine=personas.mine_a)


def test_county_concludes_an_investigation_proposing_closure(personas, investigation):
    services.conclude_investigation(personas.county_a, investigation, propose_closure=True,
                                    parent_company_note="集团公司督促不力", **CONCLUSION)
    investigation.refresh_from_db()
    assert investigation.status == Investigation.Status.CONCLUDED
    assert investigation.concluded_at is not None
    assert investigation.propose_closure is True
    assert (investigation.team, investigation.cause, investigation.responsibility,
            investigation.accountability_proposal) == tuple(CONCLUSION.values())
    assert investigation.parent_company_note == "集团公司督促不力"
    event = audit.history(investigation).filter(action=AuditEvent.Action.TRANSITION).get()
    assert event.actor_id == personas.county_a.pk
    assert event.after["propose_closure"] is True and event.after["status"] == "concluded"


def test_city_may_conclude_without_proposing_closure(personas, investigation):
    services.conclude_investigation(personas.city, investigation, propose_closure=False, **CONCLUSION)
    investigation.refresh_from_db()
    assert investigation.status == Investigation.Status.CONCLUDED and investigation.propose_closure is False
    assert investigation.parent_company_note == personas.enterprise_a.name


@pytest.mark.parametrize("missing", list(CONCLUSION))
def test_conclusion_requires_each_finding(personas, investigation, counts, missing):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.conclude_investigation(personas.county_a, investigation, propose_closure=True,
                                        **{**CONCLUSION, missing: "  "})
    assert set(exc.value.message_dict) == {missing}
    assert counts() == before
    investigation.refresh_from_db()
    assert investigation.status == Investigation.Status.OPEN and not investigation.propose_closure


@pytest.mark.parametrize("persona", ["ent_a", "county_b", "inspector", "department"])
def test_only_the_county_or_city_concludes(personas, investigation, counts, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        services.conclude_investigation(getattr(personas, persona), investigation, propose_closure=False,
                                        **CONCLUSION)
    assert counts() == before
    investigation.refresh_from_db()
    assert investigation.status == Investigation.Status.OPEN


def test_an_investigation_is_concluded_once(personas, investigation, counts):
    services.conclude_investigation(personas.county_a, investigation, propose_closure=False, **CONCLUSION)
    before = counts()
    with pytest.raises(DomainError):
        services.conclude_investigation(personas.city, investigation, propose_closure=True, **CONCLUSION)
    assert counts() == before
    investigation.refresh_from_db()
    assert investigation.propose_closure is False


# Monthly self-checks -----------------------------------------------------------------------------
@pytest.fixture
def last_month(today) -> dt.date:
    return add_months(today.replace(day=1), -1)


def test_enterprise_files_last_months_self_check_with_no_hazards(personas, last_month):
    check = services.submit_self_check(personas.ent_a, personas.mine_a, last_month + 9 * DAY, hazards_found=0,
                                       led_by=" 王总 ")
    check.refresh_from_db()
    assert (check.period, check.hazards_found, check.led_by, check.submitted_by_id) == (
        last_month, 0, "王总", personas.ent_a.pk)
    assert audit.history(check).filter(action=AuditEvent.Action.CREATE).count() == 1


def test_a_month_is_filed_only_once(personas, last_month, counts):
    services.submit_self_check(personas.ent_a, personas.mine_a, last_month, hazards_found=0, led_by="王总")
    before = counts()
    with pytest.raises(DomainError) as exc:
        services.submit_self_check(personas.county_a, personas.mine_a, last_month + 3 * DAY, hazards_found=2,
                                   led_by="王总")
    assert exc.value.code == "duplicate"
    assert counts() == before


def test_a_month_that_has_not_begun_is_refused(personas, today, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.submit_self_check(personas.ent_a, personas.mine_a, add_months(today.replace(day=1), 1),
                                   hazards_found=0, led_by="王总")
    assert "period" in exc.value.message_dict
    assert counts() == before


def test_the_current_month_may_be_filed(personas, today):
    check = services.submit_self_check(personas.ent_a, personas.mine_a, today, hazards_found=1, led_by="王总")
    assert check.period == today.replace(day=1)


@pytest.mark.parametrize(("field", "kwargs"), [
    ("hazards_found", {"hazards_found": -1, "led_by": "王总"}),
    ("led_by", {"hazards_found": 0, "led_by": "   "}),
])
def test_invalid_self_checks_are_refused(personas, last_month, counts, field, kwargs):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.submit_self_check(personas.ent_a, personas.mine_a, last_month, **kwargs)
    assert field in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("persona", ["ent_b", "county_b", "inspector", "department"])
def test_others_cannot_file_a_mines_self_check(personas, last_month, counts, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        services.submit_self_check(getattr(personas, persona), personas.mine_a, last_month, hazards_found=0,
                                   led_by="王总")
    assert counts() == before


def test_a_closed_mine_files_no_self_check(personas, last_month, counts):
    Mine.objects.filter(pk=personas.mine_a.pk).update(status=Mine.Status.CLOSED)
    mine = Mine.objects.get(pk=personas.mine_a.pk)
    before = counts()
    with pytest.raises(DomainError):
        services.submit_self_check(personas.ent_a, mine, last_month, hazards_found=0, led_by="王总")
    assert counts() == before


def test_producing_mines_without_last_months_check_are_overdue_after_the_grace_days(personas, last_month):
    due = ledger_due_for_period(last_month)
    overdue, period = services.self_check_overdue(Mine.objects.all(), due + DAY)
    assert period == last_month
    assert set(overdue) == {personas.mine_a, personas.mine_a2, personas.mine_b, personas.pond_a}

    services.submit_self_check(personas.ent_a, personas.mine_a, last_month, hazards_found=0, led_by="王总")
    overdue, _ = services.self_check_overdue(Mine.objects.all(), due + DAY)
    assert personas.mine_a not in set(overdue)
    assert personas.mine_a2 in set(overdue)


def test_until_the_due_date_the_month_before_is_the_one_checked(personas, last_month):
    due = ledger_due_for_period(last_month)
    month_before = add_months(last_month, -1)
    services.submit_self_check(personas.ent_a, personas.mine_a, month_before, hazards_found=0, led_by="王总")
    overdue, period = services.self_check_overdue(Mine.objects.all(), due)
    assert period == month_before
    assert personas.mine_a not in set(overdue) and personas.mine_b in set(overdue)


def test_the_due_date_follows_the_ledger_grace_days(personas, last_month, settings):
    settings.LEDGER_GRACE_DAYS = 10
    end_of_last_month = add_months(last_month, 1) - DAY
    _, period = services.self_check_overdue(Mine.objects.all(), end_of_last_month + 10 * DAY)
    assert period == add_months(last_month, -1)
    _, period = services.self_check_overdue(Mine.objects.all(), end_of_last_month + 11 * DAY)
    assert period == last_month


def test_mines_that_are_not_producing_are_not_overdue(personas, last_month):
    Mine.objects.filter(pk=personas.mine_b.pk).update(status=Mine.Status.SUSPENDED)
    overdue, _ = services.self_check_overdue(Mine.objects.all(), ledger_due_for_period(last_month) + DAY)
    assert personas.mine_b not in set(overdue) and personas.mine_a in set(overdue)


def test_self_checks_count_per_mine(personas, last_month):
    services.submit_self_check(personas.ent_a, personas.mine_a, last_month, hazards_found=0, led_by="王总")
    services.submit_self_check(personas.ent_a, personas.pond_a, last_month, hazards_found=3, led_by="王总")
    assert SelfCheck.objects.filter(period=last_month).count() == 2
