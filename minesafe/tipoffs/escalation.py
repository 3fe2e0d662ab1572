"""Lateness of whistleblower reports: the daily reminder to the handling county and, once a step is
`city_after_days` late, one report to the city for that step (通报). The run is idempotent within a day."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.models import AuditEvent, Notification
from minesafe.core.rows import locked_row

from . import services
from .models import Tipoff


@dataclass(frozen=True)
class EscalationRun:
    overdue: int
    reminded: int
    escalated: int


def city_after_days() -> int:
    return int(services.catalogue().get("escalation", {}).get("city_after_days", 3))


def _step_label(tipoff: Tipoff) -> str:
    return {"accept": _("acceptance"), "verify": _("verification"), "feedback": _("feedback")}.get(
        services.STEP_OF.get(tipoff.status), "")


def _reminded_today(link: str, now: dt.datetime) -> bool:
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return Notification.objects.filter(link=link, created_at__gte=start,
                                       created_at__lt=start + dt.timedelta(days=1)).exists()


def escalate_overdue(now: dt.datetime | None = None) -> EscalationRun:
    now = now or timezone.now()
    overdue = reminded = escalated = 0
    for tipoff in Tipoff.objects.overdue(now).select_related("handling_county").order_by("due_at", "pk"):
        overdue += 1
        late_days = (now - tipoff.due_at).days
        link = services.link(tipoff) + "#late"
        subject = _("Overdue: the %(step)s of whistleblower report %(n)s was due on %(d)s") % {
            "step": _step_label(tipoff), "n": tipoff.number, "d": timezone.localtime(tipoff.due_at).date().isoformat()}
        if not _reminded_today(link, now):
            with transaction.atomic():
                notify.send(subject, str(tipoff.handling_county), link,
                            organisations=services.handler_organisations(tipoff))
            reminded += 1
        if late_days >= city_after_days() and tipoff.escalated_at is None:
            with transaction.atomic():
                current = locked_row(Tipoff, tipoff)
                if current.escalated_at is not None or current.due_at != tipoff.due_at:
                    continue  # a transition or another run got there first
                current.escalated_at = now
                current.save(update_fields=["escalated_at"])
                audit.record(None, AuditEvent.Action.UPDATE, current, before={"escalated_at": None},
                             after={"escalated_at": now.isoformat(), "days_late": late_days})
                notify.send(_("%(subject)s (%(days)d days late; handled by %(c)s)") % {
                    "subject": subject, "days": late_days, "c": tipoff.handling_county},
                    str(tipoff.handling_county), link, organisations=services.city_organisations())
            escalated += 1
    return EscalationRun(overdue=overdue, reminded=reminded, escalated=escalated)
