"""The escalation ladder: the daily job climbs one rung per run, and only once a rung's days-late threshold is met."""

import datetime as dt

import pytest

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Notification
from minesafe.hazards import services
from minesafe.hazards.models import EscalationStep, Hazard, HazardAttachment

H = Hazard.Status
DAY = dt.timedelta(days=1)


@pytest.fixture
def rules(reference) -> dict:
    return services.ladder()


@pytest.fixture
def late(rectifying, today):
    """A rectifying hazard found `found_days_ago` and whose deadline passed `days_late` days ago."""

    def make(days_late: int, found_days_ago: int | None = None) -> Hazard:
        found_days_ago = days_late + 20 if found_days_ago is None else found_days_ago
        return rectifying(days=-days_late, found_on=today - dt.timedelta(days=found_days_ago))

    return make


def steps(hazard: Hazard) -> list[tuple[int, str]]:
    return list(EscalationStep.objects.filter(hazard=hazard).order_by("level").values_list("level", "rung"))


def fresh(hazard: Hazard) -> Hazard:
    return Hazard.objects.get(pk=hazard.pk)


def test_the_ladder_is_the_shipped_one(rules):
    assert (rules["plan_due_days"], rules["verification_due_days"], rules["repeat_window_days"]) == (5, 10, 365)
    assert [(r["code"], r["after_days"]) for r in rules["rungs"]] == [
        ("reminder", 0), ("letter", 7), ("notice", 15), ("summons", 30), ("exposure", 60)]


def test_overdue_hazard_climbs_one_rung_per_run(late, today):
    hazard = late(days_late=100)
    codes = ["reminder", "letter", "notice", "summons", "exposure"]
    for run, code in enumerate(codes):
        result = services.escalate_due(today + run * DAY)
        assert result.escalated == 1
        assert steps(hazard)[-1] == (run + 1, code)
        assert steps(hazard) == list(enumerate(codes[:run + 1], start=1))
        assert fresh(hazard).escalation_level == run + 1
    last = EscalationStep.objects.get(hazard=hazard, level=5)
    assert last.days_overdue == 104


def test_running_twice_on_the_same_day_adds_no_step(late, today):
    hazard = late(days_late=100)
    assert services.escalate_due(today).escalated == 1
    second = services.escalate_due(today)
    assert second.escalated == 0
    assert steps(hazard) == [(1, "reminder")]
    assert fresh(hazard).escalation_level == 1


def test_after_the_last_rung_the_hazard_is_no_longer_checked(late, today):
    hazard = late(days_late=100)
    for run in range(5):
        services.escalate_due(today + run * DAY)
    assert fresh(hazard).escalate_on is None
    for run in range(5, 40, 7):
        assert services.escalate_due(today + run * DAY).escalated == 0
    assert len(steps(hazard)) == 5


def test_hazard_whose_check_day_has_not_come_is_untouched(rectifying, today):
    hazard = rectifying(days=3)
    check_on = fresh(hazard).escalate_on
    assert check_on == today + 4 * DAY
    result = services.escalate_due(today)
    assert (result.checked, result.escalated) == (0, 0)
    stored = fresh(hazard)
    assert (stored.escalation_level, stored.escalate_on) == (0, check_on)
    assert steps(hazard) == []


def test_on_the_deadline_itself_nothing_escalates(rectifying, today):
    hazard = rectifying(days=0)
    services.escalate_due(today)
    assert steps(hazard) == []
    services.escalate_due(today + DAY)
    assert steps(hazard) == [(1, "reminder")]
    assert EscalationStep.objects.get(hazard=hazard).days_overdue == 1


def test_a_rung_waits_for_its_days_late_threshold(late, today):
    hazard = late(days_late=3)
    for _ in range(5):
        services.escalate_due(today)
    assert steps(hazard) == [(1, "reminder")]
    assert fresh(hazard).escalate_on == today + 4 * DAY  # letter is due at 7 days late

    for day in range(1, 4):  # 4, 5 and 6 days late: still below the letter's 7 days
        services.escalate_due(today + day * DAY)
    assert steps(hazard) == [(1, "reminder")]

    services.escalate_due(today + 4 * DAY)  # 7 days late
    assert steps(hazard) == [(1, "reminder"), (2, "letter")]
    assert EscalationStep.objects.get(hazard=hazard, level=2).days_overdue == 7
    services.escalate_due(today + 11 * DAY)  # 14 days late: notice needs 15
    assert len(steps(hazard)) == 2
    services.escalate_due(today + 12 * DAY)
    assert steps(hazard)[-1] == (3, "notice")


def test_reported_hazard_without_a_plan_escalates_after_the_plan_due_days(report, today, rules):
    due = rules["plan_due_days"]
    waiting = report(found_on=today - (due - 1) * DAY)
    overdue = report(code="UG-02", found_on=today - (due + 1) * DAY)
    services.escalate_due(today)
    assert steps(waiting) == []
    assert steps(overdue) == [(1, "reminder")]
    assert EscalationStep.objects.get(hazard=overdue).days_overdue == 1
    services.escalate_due(today + 2 * DAY)
    assert steps(waiting) == [(1, "reminder")]


def test_completing_the_plan_stops_the_plan_escalation(personas, report, full_plan, today, rules):
    hazard = report(found_on=today - (rules["plan_due_days"] + 1) * DAY)
    services.set_plan(personas.ent_a, hazard, full_plan(days=20))
    services.escalate_due(today)
    assert steps(hazard) == []
    assert fresh(hazard).escalate_on == today + 21 * DAY


def test_slow_verification_escalates_after_the_verification_due_days(submitted, today, rules):
    hazard = submitted()
    due = rules["verification_due_days"]
    assert fresh(hazard).escalate_on == today + due * DAY
    services.escalate_due(today + (due - 1) * DAY)
    assert steps(hazard) == []
    services.escalate_due(today + due * DAY)
    assert steps(hazard) == [(1, "reminder")]


def test_closed_and_cancelled_hazards_never_escalate(personas, late, closed, today):
    cancelled = late(days_late=100)
    services.transition(personas.county_a, cancelled, H.CANCELLED, reason="误报")
    done = closed(days=-100, found_on=today - 120 * DAY)
    assert fresh(done).status == H.CLOSED
    # Even a check day left behind by mistake must not wake them.
    Hazard.objects.filter(pk__in=[cancelled.pk, done.pk]).update(escalate_on=today - DAY)
    for run in range(10):
        assert services.escalate_due(today + run * DAY).escalated == 0
    assert steps(cancelled) == [] and steps(done) == []


def test_letter_goes_to_the_enterprise_and_the_county(personas, late, today):
    hazard = late(days_late=100)
    services.escalate_due(today)
    services.escalate_due(today + DAY)
    reminder = EscalationStep.objects.get(hazard=hazard, rung="reminder")
    letter = EscalationStep.objects.get(hazard=hazard, rung="letter")
    enterprise = personas.enterprise_a.organisation.name
    county = personas.county_a.organisation.name
    assert reminder.recipients == [enterprise]
    assert enterprise in letter.recipients and county in letter.recipients
    assert personas.county_b.organisation.name not in letter.recipients


def test_notice_also_goes_to_the_city(personas, late, today):
    hazard = late(days_late=100)
    for run in range(3):
        services.escalate_due(today + run * DAY)
    notice = EscalationStep.objects.get(hazard=hazard, rung="notice")
    assert personas.city.organisation.name in notice.recipients


def test_each_step_writes_an_audit_event_and_notifications(personas, late, today):
    hazard = late(days_late=100)
    inbox = {name: Notification.objects.filter(recipient=getattr(personas, name)).count()
             for name in ("ent_a", "county_a", "city", "ent_b")}

    services.escalate_due(today)
    events = [e for e in audit.history(hazard).filter(action=AuditEvent.Action.TRANSITION)
              if (e.after or {}).get("rung")]
    assert len(events) == 1
    assert events[0].after == {"escalation": 1, "rung": "reminder", "days_late": 100}
    assert events[0].actor_id is None and events[0].actor_repr == "system"
    assert Notification.objects.filter(recipient=personas.ent_a).count() == inbox["ent_a"] + 1
    assert Notification.objects.filter(recipient=personas.county_a).count() == inbox["county_a"]
    latest = Notification.objects.filter(recipient=personas.ent_a).latest("id")
    assert hazard.number in latest.subject

    services.escalate_due(today + DAY)
    events = [e for e in audit.history(hazard).filter(action=AuditEvent.Action.TRANSITION)
              if (e.after or {}).get("rung")]
    assert [e.after["rung"] for e in events] == ["letter", "reminder"]
    assert Notification.objects.filter(recipient=personas.ent_a).count() == inbox["ent_a"] + 2
    assert Notification.objects.filter(recipient=personas.county_a).count() == inbox["county_a"] + 1
    assert Notification.objects.filter(recipient=personas.ent_b).count() == inbox["ent_b"]


def test_each_hazard_climbs_on_its_own(personas, late, report, today):
    far = late(days_late=100)
    near = late(days_late=2)
    other = report(personas.county_b, personas.mine_b, "OP-04", found_on=today - 30 * DAY,
                   responsible_person="李", measures="削坡", funds=1, deadline=today - 10 * DAY, emergency_plan="撤人")
    result = services.escalate_due(today)
    assert (result.checked, result.escalated) == (3, 3)
    assert services.escalate_due(today + DAY).escalated == 2
    assert steps(far) == [(1, "reminder"), (2, "letter")]
    assert steps(other) == [(1, "reminder"), (2, "letter")]  # 11 days late: past the letter's 7
    assert steps(near) == [(1, "reminder")]  # 3 days late: the letter waits


def test_an_approved_extension_postpones_escalation(personas, late, today):
    hazard = late(days_late=3)
    services.escalate_due(today)
    extension = services.request_extension(personas.ent_a, hazard, today + 30 * DAY, "设备到货延迟")
    services.decide_extension(personas.county_a, extension, approve=True)
    for run in range(1, 31):
        services.escalate_due(today + run * DAY)
    assert steps(hazard) == [(1, "reminder")]
    assert fresh(hazard).escalate_on == today + 31 * DAY
    for run in range(31, 37):  # 1 to 6 days past the new deadline: the letter needs 7
        services.escalate_due(today + run * DAY)
    assert steps(hazard) == [(1, "reminder")]
    services.escalate_due(today + 37 * DAY)
    assert steps(hazard) == [(1, "reminder"), (2, "letter")]
    assert EscalationStep.objects.get(hazard=hazard, level=2).days_overdue == 7


def test_rectification_submitted_in_time_stops_the_deadline_escalation(personas, late, today, png):
    hazard = late(days_late=3)
    services.escalate_due(today)
    services.add_attachment(personas.ent_a, hazard, HazardAttachment.Kind.RECTIFICATION, "evidence.png", png)
    services.transition(personas.ent_a, hazard, H.SUBMITTED, reason="整改完成")
    for run in range(1, 17):  # verification has 10 days, and the next rung (letter) needs 7 more
        services.escalate_due(today + run * DAY)
    assert steps(hazard) == [(1, "reminder")]
    services.escalate_due(today + 17 * DAY)
    assert steps(hazard) == [(1, "reminder"), (2, "letter")]


def test_a_plan_reminder_is_followed_by_the_letter_only_once_the_deadline_is_a_week_past(
        personas, report, full_plan, today, rules):
    hazard = report(found_on=today - (rules["plan_due_days"] + 1) * DAY)
    services.escalate_due(today)
    assert steps(hazard) == [(1, "reminder")]
    services.set_plan(personas.ent_a, fresh(hazard), full_plan(days=2))
    for run in range(1, 10):  # up to 7 days past the deadline
        services.escalate_due(today + run * DAY)
        assert len(steps(hazard)) == (1 if run < 9 else 2)
    assert steps(hazard)[-1] == (2, "letter")


def test_editing_the_plan_does_not_undo_an_escalation_recorded_meanwhile(personas, report, full_plan, today,
                                                                         rules):
    """The enterprise opens the hazard, the daily job escalates it, then the enterprise saves its plan."""
    hazard = report(found_on=today - (rules["plan_due_days"] + 1) * DAY)
    opened_before_the_job = fresh(hazard)
    services.escalate_due(today)
    services.set_plan(personas.ent_a, opened_before_the_job, full_plan(days=2))
    assert fresh(hazard).escalation_level == 1
    for run in range(1, 10):  # the daily job keeps running without error
        services.escalate_due(today + run * DAY)
    assert steps(hazard) == [(1, "reminder"), (2, "letter")]
