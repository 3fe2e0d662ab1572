"""The demo's year of reports: real transitions on a replayed clock, dates in order, hazards and rewards."""

import pytest
from django.utils import timezone

from minesafe.core.audit import verify_chain
from minesafe.hazards.models import Hazard
from minesafe.tipoffs.demo import seed_tipoffs
from minesafe.tipoffs.models import Reward, Tipoff


@pytest.mark.django_db
def test_demo_year_of_reports(personas):
    summary = seed_tipoffs(seed=7, count=30)
    assert summary.reports == Tipoff.objects.count() == 30
    assert summary.closed >= 10 and summary.open >= 1
    today = timezone.localdate()
    for tipoff in Tipoff.objects.all():
        assert (today - timezone.localdate(tipoff.received_at)).days <= 360
        if tipoff.accepted_at:
            assert tipoff.accepted_at >= tipoff.received_at
        if tipoff.feedback_at:
            assert tipoff.feedback_at >= (tipoff.handled_at or tipoff.rejected_at)
        if tipoff.hazard_id:
            hazard = Hazard.objects.get(pk=tipoff.hazard_id)
            assert hazard.source == "tipoff" and hazard.found_on == timezone.localdate(tipoff.handled_at)
    assert Reward.objects.filter(status=Reward.Status.PAID).count() == summary.rewards_paid
    assert seed_tipoffs(seed=7).reports == 0  # idempotent
    assert verify_chain().ok
