"""The deadline with frozen time: sites not done by the deadline of a running campaign are overdue; the daily job
reminds each assigned body once a day and reports each overdue site to the organiser once (again only after the
deadline moves); done, exempt and closed-campaign sites are left alone."""

import pytest

from minesafe.campaigns import deadlines, services
from minesafe.campaigns.models import CampaignSite
from minesafe.core.models import AuditEvent, Notification

from .conftest import days, site_of, visit, work_through

pytestmark = pytest.mark.django_db


def reminders(user):
    return Notification.objects.filter(recipient=user, subject__contains="past its deadline")


def reports(user):
    return Notification.objects.filter(recipient=user, subject__contains="missed the deadline")


def test_nothing_is_overdue_before_the_deadline(running):
    run = deadlines.remind_overdue()
    assert run == deadlines.OverdueRun(overdue=0, reminded=0, reported=0)
    assert not CampaignSite.objects.overdue().exists()


def test_after_the_deadline_each_body_is_reminded_daily_and_the_organiser_told_once_per_site(running, clock):
    p, campaign = running.p, running.campaign
    work_through(visit(p.county_b, site_of(campaign, running.plant_b)))  # done in time
    clock.advance(days=31)  # the deadline (+30 days) has passed
    assert set(CampaignSite.objects.overdue().values_list("mine_id", flat=True)) == {
        running.plant_a.pk, running.plant_a2.pk}
    run = deadlines.remind_overdue()
    assert run == deadlines.OverdueRun(overdue=2, reminded=1, reported=2)
    assert reminders(p.county_a).count() == 1 and "宽城甲选矿厂" in reminders(p.county_a).get().body
    assert not reminders(p.county_b).exists()  # its site is done
    assert reports(p.city).count() == 1 and "宽城乙选矿厂" in reports(p.city).get().body
    assert AuditEvent.objects.filter(object_type="campaigns.campaignsite", actor__isnull=True,
                                     after__has_key="overdue_reported_at").count() == 2
    # The same day again: nothing new.
    assert deadlines.remind_overdue() == deadlines.OverdueRun(overdue=2, reminded=0, reported=0)
    # The next day: reminded again, never reported twice.
    clock.advance(days=1)
    assert deadlines.remind_overdue() == deadlines.OverdueRun(overdue=2, reminded=1, reported=0)
    assert reminders(p.county_a).count() == 2 and reports(p.city).count() == 1


def test_a_site_done_or_exempt_after_the_deadline_is_no_longer_overdue(running, clock):
    p, campaign = running.p, running.campaign
    clock.advance(days=31)
    deadlines.remind_overdue()
    work_through(visit(p.county_a, site_of(campaign, running.plant_a)))
    services.exempt_site(p.city, site_of(campaign, running.plant_a2), "已停产")
    clock.advance(days=1)
    run = deadlines.remind_overdue()
    assert run.overdue == 1 and set(CampaignSite.objects.overdue().values_list("mine_id", flat=True)) == {
        running.plant_b.pk}
    assert reminders(p.county_a).count() == 1  # not reminded again


def test_a_new_deadline_lets_the_organiser_be_told_again(running, clock):
    p, campaign = running.p, running.campaign
    clock.advance(days=31)
    deadlines.remind_overdue()
    services.update_campaign(p.city, campaign, deadline=days(40))
    assert deadlines.remind_overdue().overdue == 0
    clock.advance(days=10)
    assert deadlines.remind_overdue().reported == 3
    assert reports(p.city).count() == 2


def test_a_closed_campaign_has_nothing_overdue(running, clock):
    p, campaign = running.p, running.campaign
    reasons = {s.pk: "企业停产" for s in campaign.sites.all()}
    services.close_campaign(p.city, campaign, reasons=reasons)
    clock.advance(days=31)
    assert deadlines.remind_overdue().overdue == 0


def test_the_periodic_task_runs_the_job(running, clock):
    from minesafe.campaigns.tasks import remind_overdue_campaign_sites_daily

    clock.advance(days=31)
    assert remind_overdue_campaign_sites_daily.call_local() == 3
    assert reports(running.p.city).exists()
