"""Campaign deadlines: a site not done (or exempt) by the deadline of a running campaign is overdue. Every day
each body with overdue sites is reminded once (one message per campaign), and the organiser is told once per site
that it missed the deadline (the claim on `overdue_reported_at` is a conditional update, so two runs never both
report a site). A new deadline lets the organiser be told again (services.update_campaign)."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.models import AuditEvent, Notification

from . import services
from .models import CampaignSite


@dataclass(frozen=True)
class OverdueRun:
    overdue: int  # sites overdue today
    reminded: int  # bodies reminded (one message per body and campaign)
    reported: int  # sites newly reported to their organiser


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def remind_overdue(today: dt.date | None = None) -> OverdueRun:
    today = today or timezone.localdate()
    now = timezone.now()
    sites = list(CampaignSite.objects.overdue(today).select_related("campaign", "campaign__organiser", "mine",
                                                                      "assigned_organisation")
                 .order_by("campaign_id", "assigned_organisation_id", "mine__code"))
    groups: dict[tuple[int, int], list[CampaignSite]] = {}
    for site in sites:
        groups.setdefault((site.campaign_id, site.assigned_organisation_id), []).append(site)
    reminded = 0
    for (_campaign_id, body_id), late in groups.items():
        campaign = late[0].campaign
        link = f"{services.link(campaign)}#overdue-{body_id}"
        if Notification.objects.filter(link=link, created_at__gte=_start_of(today)).exists():
            continue
        with transaction.atomic():
            notes = notify.send(
                _("%(n)d sites of campaign %(c)s are past its deadline (%(d)s)") % {
                    "n": len(late), "c": campaign.title, "d": campaign.deadline},
                "、".join(s.mine.name for s in late[:30]), link, organisations=[late[0].assigned_organisation])
        reminded += bool(notes)
    reported = 0
    by_campaign: dict[int, list[CampaignSite]] = {}
    for site in sites:
        if site.overdue_reported_at is None:
            by_campaign.setdefault(site.campaign_id, []).append(site)
    for late in by_campaign.values():
        campaign = late[0].campaign
        with transaction.atomic():
            audit.lock_chain()
            claimed = [s for s in late if CampaignSite.objects.filter(
                pk=s.pk, overdue_reported_at__isnull=True).update(overdue_reported_at=now) == 1]
            if not claimed:
                continue
            audit.record_many(None, [audit.Change(AuditEvent.Action.UPDATE, s, before={"overdue_reported_at": None},
                                                  after={"overdue_reported_at": now, "status": s.status,
                                                         "deadline": campaign.deadline}) for s in claimed])
            notify.send(_("Campaign %(c)s: %(n)d sites missed the deadline of %(d)s") % {
                "c": campaign.title, "n": len(claimed), "d": campaign.deadline},
                "\n".join(f"{s.mine.county} · {s.mine.name} · {s.get_status_display()} · {s.assigned_organisation}"
                          for s in claimed[:50]),
                f"{services.link(campaign)}#overdue", organisations=[campaign.organiser])
        reported += len(claimed)
    return OverdueRun(overdue=len(sites), reminded=reminded, reported=reported)
