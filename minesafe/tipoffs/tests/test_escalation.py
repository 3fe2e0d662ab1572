"""Lateness of reports with frozen time: the daily reminder to the handling county (once a day), the one
report to the city once a step is `city_after_days` late, and a transition starting the next step afresh."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.core.models import AuditEvent, Notification
from minesafe.tipoffs import services
from minesafe.tipoffs.escalation import escalate_overdue
from minesafe.tipoffs.models import Tipoff

from .test_loop import fresh, report

pytestmark = pytest.mark.django_db


def notes_for(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("subject", flat=True))


def test_nothing_happens_before_the_deadline(personas, clock):
    tipoff = report(personas)
    clock.advance(days=2, hours=23)
    run = escalate_overdue()
    assert (run.overdue, run.reminded, run.escalated) == (0, 0, 0)
    assert fresh(tipoff).escalated_at is None


def test_county_reminded_daily_then_city_told_once(personas, clock):
    tipoff = report(personas)  # acceptance due in 3 days
    before_county, before_city = len(notes_for(personas.county_a)), len(notes_for(personas.city))
    clock.advance(days=3, hours=1)
    run = escalate_overdue()
    assert (run.overdue, run.reminded, run.escalated) == (1, 1, 0)
    assert len(notes_for(personas.county_a)) == before_county + 1
    assert "acceptance" in notes_for(personas.county_a)[-1] and tipoff.number in notes_for(personas.county_a)[-1]
    assert escalate_overdue().reminded == 0  # same day: no second reminder
    assert len(notes_for(personas.city)) == before_city
    assert len(notes_for(personas.county_b)) == 0  # another county hears nothing

    clock.advance(days=3)  # 3 days late
    run = escalate_overdue()
    assert (run.reminded, run.escalated) == (1, 1)
    tipoff = fresh(tipoff)
    assert tipoff.escalated_at == clock.now
    assert len(notes_for(personas.city)) == before_city + 1
    assert "3 days late" in notes_for(personas.city)[-1]
    event = AuditEvent.objects.filter(object_type="tipoffs.tipoff", object_id=str(tipoff.pk)).order_by("seq").last()
    assert event.after["days_late"] == 3 and event.actor_repr == "system"

    clock.advance(days=1)
    assert escalate_overdue().escalated == 0  # once per step
    assert len(notes_for(personas.city)) == before_city + 1


def test_a_transition_starts_the_next_step_afresh(personas, clock):
    tipoff = report(personas)
    clock.advance(days=7)
    escalate_overdue()
    assert fresh(tipoff).escalated_at is not None
    services.accept(personas.county_a, tipoff)
    tipoff = fresh(tipoff)
    assert tipoff.status == Tipoff.Status.ACCEPTED and tipoff.escalated_at is None
    assert tipoff.due_at == tipoff.received_at + dt.timedelta(days=15)
    clock.advance(days=8)  # 15 days after receipt: verification is due, not yet late
    assert escalate_overdue().overdue == 0
    clock.advance(days=4)  # 4 days late for verification
    run = escalate_overdue()
    assert run.escalated == 1
    assert "verification" in notes_for(personas.city)[-1]


def test_closed_reports_are_never_late(personas, clock):
    from .test_loop import run as run_loop

    tipoff = report(personas)
    run_loop(personas, tipoff)
    assert fresh(tipoff).due_at is None
    clock.advance(days=60)
    assert escalate_overdue().overdue == 0
    assert timezone.now() == clock.now
