"""The demo seed on a small hand-built city (nine processing plants of the personas' two counties, not the demo
city): the task-20 campaign run through the real services on a replayed clock — visits with findings, most
rectified, some still open, visits under way, plants never visited, the suspended plant exempt, the deadline passed
and the overdue job replayed — and about forty publicity events; seeding again adds nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.campaigns.demo import seed_campaigns
from minesafe.campaigns.models import Campaign, CampaignSite, PublicityEvent, PublicityEvidence, SiteVisit
from minesafe.core.audit import verify_chain
from minesafe.core.models import Notification
from minesafe.inspections import services as inspections
from minesafe.inspections.models import Inspection
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from .conftest import TODAY

pytestmark = pytest.mark.django_db
S = CampaignSite.Status


@pytest.fixture
def small_city(personas):
    p = personas
    made = []
    for n in range(9):
        county, enterprise = ((p.county_a_region, p.enterprise_a) if n < 6 else (p.county_b_region, p.enterprise_b))
        made.append(registry.create_mine(
            p.city, code=f"PP-{n:02d}", name=f"测试选矿厂{n}", enterprise=enterprise, county=county,
            mine_type=Mine.Type.PROCESSING_PLANT, scale_class="small", status_since=dt.date(2023, 1, 1),
            status=Mine.Status.SUSPENDED if n == 8 else Mine.Status.PRODUCING))
    return made


def test_the_demo_runs_the_processing_plant_campaign_and_a_year_of_publicity(small_city, personas):
    summary = seed_campaigns(2026, TODAY)
    assert summary.problems == [] and summary.campaigns == 1 and summary.sites == 9
    campaign = Campaign.objects.get(code="ZX-2026-20")
    assert campaign.status == "running" and campaign.plan_task == 20 and campaign.deadline < TODAY
    assert campaign.checklist.code == "PP-2026"
    by_status = summary.by_status
    assert by_status[S.EXEMPT] == 1 and CampaignSite.objects.get(mine=small_city[8]).status == S.EXEMPT
    assert by_status[S.DONE] >= 2 and by_status[S.RECTIFYING] >= 2
    assert by_status[S.INSPECTED] == 2 and by_status[S.PENDING] == 1
    assert summary.overdue == by_status[S.PENDING] + by_status[S.INSPECTED] + by_status[S.RECTIFYING]
    # Visits are real inspections with the campaign checklist, dated on the replayed clock and signed as they are.
    visits = Inspection.objects.filter(campaign_visit__isnull=False)
    assert visits.count() == summary.visits == SiteVisit.objects.count() == 7
    assert not visits.exclude(checklist_template__code="PP-2026").exists()
    for inspection in visits.filter(status=Inspection.Status.COMPLETED):
        assert timezone.localtime(inspection.started_at).date() == inspection.inspected_on
        assert timezone.localtime(inspection.completed_at).date() == inspection.inspected_on
        assert all(s.record_hash == inspections.record_hash(inspection) for s in inspection.signatures.all())
        assert inspection.signatures.count() == 2
    assert visits.filter(status=Inspection.Status.IN_PROGRESS).count() == 2
    assert summary.findings > 0 and CampaignSite.objects.filter(status=S.DONE, findings_count__gt=0).exists()
    # The deadline passed: the organiser was told once per overdue site, the counties reminded daily.
    assert CampaignSite.objects.overdue(TODAY).filter(overdue_reported_at__isnull=True).count() == 0
    assert Notification.objects.filter(recipient=personas.city, subject__contains="missed the deadline").count() == 1
    assert Notification.objects.filter(recipient=personas.county_a, subject__contains="past its deadline").count() \
        == (TODAY - campaign.deadline).days
    # About forty events over the twelve months to today, a June cluster, evidence on some.
    events = PublicityEvent.objects.all()
    assert summary.events == events.count() and 30 <= events.count() <= 40
    assert not events.filter(held_on__gt=TODAY).exists()
    assert not events.filter(held_on__lt=TODAY - dt.timedelta(days=365)).exists()
    assert events.filter(kind="safety_month", held_on__month=6).exists()
    assert events.filter(county=personas.county_a_region).exists() and events.filter(county__isnull=True).exists()
    assert PublicityEvidence.objects.exists() and summary.reach == sum(e.reach for e in events)
    assert verify_chain().ok
    # Seeding again adds nothing.
    again = seed_campaigns(2026, TODAY)
    assert again.campaigns == 0 and Campaign.objects.count() == 1 and PublicityEvent.objects.count() == events.count()
