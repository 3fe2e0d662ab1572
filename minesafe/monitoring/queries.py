"""Read-only helpers for the monitoring pages: scoped alarm lists, deadline state, level counts, the
overview panel. Nothing here changes state (that is services.py)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from minesafe.registry.models import Mine

from . import services
from .models import Alarm, Level

A = Alarm.Status
ALARM_LEVELS = [lvl for lvl in Level if lvl != Level.NONE]


def scoped_alarms(user):
    return Alarm.objects.visible_to(user).select_related("mine__county", "sensor")


def open_alarms(user):
    return scoped_alarms(user).filter(closed_at__isnull=True).order_by("-level", "-opened_at", "-pk")


@dataclass(frozen=True)
class Deadline:
    label: str  # "ack" (叫应) or "response" (回应)
    due: dt.datetime
    overdue: bool


def deadline(alarm: Alarm, now: dt.datetime) -> Deadline | None:
    """The deadline the alarm waits on now: acknowledgement, then the response; none once responded."""
    if alarm.closed_at:
        return None
    if alarm.status == A.UNACKNOWLEDGED:
        return Deadline("ack", alarm.ack_due_at, alarm.ack_due_at <= now)
    if alarm.status == A.ACKNOWLEDGED:
        return Deadline("response", alarm.response_due_at, alarm.response_due_at <= now)
    return None


def with_deadlines(alarms, now: dt.datetime | None = None) -> list[Alarm]:
    """The alarms as a list, each with `.deadline` (a Deadline or None) for the templates."""
    now = now or timezone.now()
    rows = list(alarms)
    for alarm in rows:
        alarm.deadline = deadline(alarm, now)
    return rows


def level_counts(alarms) -> list[tuple[int, str, int]]:
    """(level, label, count) for blue to red, zero included, highest first."""
    counts = dict(alarms.order_by().values_list("level").annotate(n=Count("pk")))
    return [(int(lvl), lvl.label, counts.get(int(lvl), 0)) for lvl in reversed(ALARM_LEVELS)]


def overdue_q(now: dt.datetime) -> Q:
    return Q(status=A.UNACKNOWLEDGED, ack_due_at__lte=now) | Q(status=A.ACKNOWLEDGED, response_due_at__lte=now)


@dataclass
class Summary:
    levels: list
    open_total: int
    overdue: int
    unacknowledged: int
    top: list
    rates: dict


def summary(user, now: dt.datetime | None = None, top: int = 6) -> Summary:
    """The overview panel: open alarms by level, how many are overdue or unanswered, the most severe
    ones, and the online rate of the user's mines."""
    now = now or timezone.now()
    alarms = open_alarms(user)
    totals = alarms.order_by().aggregate(open=Count("pk"), overdue=Count("pk", filter=overdue_q(now)),
                                         unack=Count("pk", filter=Q(status=A.UNACKNOWLEDGED)))
    return Summary(levels=level_counts(alarms), open_total=totals["open"], overdue=totals["overdue"],
                   unacknowledged=totals["unack"], top=with_deadlines(alarms[:top], now),
                   rates=services.online_rates(Mine.objects.visible_to(user), now))


def mines_with_counts(user):
    """The user's mines with their active sensors and open alarms counted (for the monitoring index)."""
    return (Mine.objects.visible_to(user).select_related("county")
            .annotate(sensor_count=Count("sensors", filter=Q(sensors__active=True), distinct=True),
                      open_alarm_count=Count("alarms", filter=Q(alarms__closed_at__isnull=True), distinct=True))
            .order_by("county__code", "name"))
