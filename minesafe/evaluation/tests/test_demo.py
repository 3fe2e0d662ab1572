"""The demo: every county's ended quarters of this year published, one objection answered, the running quarter a
live draft, a ranking that is not a tie; a second run adds nothing."""


import pytest
from django.utils import timezone

from minesafe.evaluation import services
from minesafe.evaluation.demo import SHOWCASE_COUNTY, seed_evaluation
from minesafe.evaluation.models import Objection, ScoreSheet
from minesafe.evaluation.scoring import Quarter
from minesafe.web.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_the_demo_publishes_the_ended_quarters_and_leaves_the_running_one_a_draft(reference):
    seed_demo(months=12, scale=0.25, monitoring=False, until="thirdparty")
    summary = seed_evaluation(2026)
    running = Quarter.of(timezone.localdate())
    ended = running.number - 1
    counties = services.evaluated_counties().count()
    assert summary.problems == [] and summary.published == ended * counties == 12 * ended
    assert ScoreSheet.objects.published().count() == summary.published
    assert not ScoreSheet.objects.filter(year=running.year, quarter=running.number).published().exists()
    assert summary.drafts == ScoreSheet.objects.filter(year=running.year, quarter=running.number).count() > 0
    objection = Objection.objects.get()
    assert objection.sheet.county.code == SHOWCASE_COUNTY and objection.status != Objection.Status.PENDING
    latest = services.ranking(running.previous())
    totals = [r.total for r in latest]
    assert all(r.rank for r in latest) and len(set(totals)) >= 8 and summary.spread > 5
    assert seed_evaluation(2026).published == 0 and ScoreSheet.objects.published().count() == summary.published
