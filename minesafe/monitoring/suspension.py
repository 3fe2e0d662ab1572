"""Watching suspended mines for hidden production (issue 5, part 2).

For every suspended or construction-halted mine, three signals from other bodies' data:
  electricity  - daily use against the mine's own suspension baseline and its producing profile
                 (change-point detection in `power.py`; a one-day spike does not flag);
  headcount    - people underground (positioning system) above the approved watch headcount;
  explosives   - explosives issued to the mine while it is suspended (police data).
A signal becomes a ProductionFlag: a task for the county to check by surprise (暗查暗访) within a deadline.
The outcome closes it: confirmed (may open a hazard; an enforcement case is due) or dismissed with the
reason; a dismissed electricity flag makes the detector relearn the baseline from the flagged day, so the
same legitimate level (a new pump, heating) is not flagged again.
Flags are covert: the enterprise never sees them (models.CovertQuerySet).
"""

import datetime as dt
import math
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.scoping import is_city
from minesafe.registry.models import Mine

from . import power
from .models import ExplosivesIssue, MeterReading, ProductionFlag, Reading, Sensor
from .signals import production_confirmed

F = ProductionFlag.Status
SIGNAL = ProductionFlag.Signal
WATCHED_STATUSES = (Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED)
EVIDENCE_DAYS = 120  # days of daily use kept with an electricity flag for its chart
DUPLICATE_DAYS = 3  # a re-detection this close to a flagged episode is the same episode


def config() -> dict:
    from .services import catalogue

    return catalogue()["suspension_watch"]


@dataclass
class WatchRun:
    mines: int = 0
    flags: int = 0


def watched_mines():
    return Mine.objects.filter(status__in=WATCHED_STATUSES, status_since__isnull=False)


def scan(today: dt.date | None = None, mine_ids=None) -> WatchRun:
    """Look at every watched mine (or those of `mine_ids`) and flag new signs of production."""
    today = today or timezone.localdate()
    run = WatchRun()
    mines = watched_mines().select_related("county")
    if mine_ids is not None:
        mines = mines.filter(pk__in=mine_ids)
    for mine in mines:
        run.mines += 1
        for flag in [*electricity_flags(mine, today), *headcount_flags(mine, today), *explosives_flags(mine)]:
            run.flags += _raise(flag)
    return run


# Electricity ------------------------------------------------------------------------------------
def daily_use(mine: Mine, since: dt.date, until: dt.date) -> list[tuple[dt.date, float | None]]:
    start = timezone.make_aware(dt.datetime.combine(since, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(until + dt.timedelta(days=1), dt.time()))
    rows = MeterReading.objects.filter(mine=mine, period_start__gte=start, period_start__lt=end) \
        .order_by("period_start").values_list("period_start", "hours", "kwh")
    readings = [(timezone.localtime(ts).replace(tzinfo=None), hours, kwh) for ts, hours, kwh in rows]
    return power.daily_totals(readings) if readings else []


def accepted_from(mine: Mine) -> dt.date | None:
    """The start of the last electricity episode judged legitimate in this suspension: relearn from there."""
    return ProductionFlag.objects.filter(mine=mine, signal=SIGNAL.ELECTRICITY, status=F.DISMISSED,
                                         began_on__gte=mine.status_since) \
        .order_by("-began_on").values_list("began_on", flat=True).first()


def electricity_flags(mine: Mine, today: dt.date) -> list[ProductionFlag]:
    since = mine.status_since - dt.timedelta(days=config()["meter_history_days"])
    days = daily_use(mine, since, today)
    if not days:
        return []
    producing = power.producing_profile(days, mine.status_since)
    try:
        found = power.detect(days, mine.status_since, producing_kwh=producing, accepted_from=accepted_from(mine))
    except power.MeterSeriesError:
        return []  # nothing usable to compare: no flag, never a fabricated one
    flags = []
    for d in found:
        shown = [(day.isoformat(), kwh) for day, kwh in days
                 if d.change_day - dt.timedelta(days=EVIDENCE_DAYS - 30) <= day <= d.detected_day + dt.timedelta(30)]
        ratio = d.rise_ratio if math.isfinite(d.rise_ratio) else None  # a zero baseline: no ratio (JSON-safe)
        summary = _("daily use %(level).0f kWh from %(day)s against a suspension baseline of %(base).0f kWh") % {
            "level": d.level_kwh, "day": d.change_day.isoformat(), "base": d.baseline_kwh}
        if ratio is not None:
            summary += _(" (%(ratio).1f×)") % {"ratio": ratio}
        if d.producing_share is not None:
            summary += _(", %(share).0f%% of the way to its producing level") % {"share": 100 * d.producing_share}
        flags.append(ProductionFlag(
            mine=mine, signal=SIGNAL.ELECTRICITY, episode=f"e{d.change_day.isoformat()}", began_on=d.change_day,
            summary=summary[:300], evidence={
                "days": shown, "baseline_kwh": d.baseline_kwh, "band_high_kwh": d.band_high_kwh,
                "level_kwh": d.level_kwh, "producing_kwh": producing, "change_day": d.change_day.isoformat(),
                "detected_day": d.detected_day.isoformat(), "rise_ratio": ratio,
                "producing_share": d.producing_share, "suspended_from": mine.status_since.isoformat(),
                "relearned_from": (accepted_from(mine) or mine.status_since).isoformat()}))
    return flags


# People underground -----------------------------------------------------------------------------
def watch_headcount(mine: Mine) -> int:
    return mine.watch_headcount if mine.watch_headcount is not None else config()["default_watch_headcount"]


def headcount_flags(mine: Mine, today: dt.date) -> list[ProductionFlag]:
    """Runs of readings above the watch headcount lasting `headcount_min_minutes`, per day they began."""
    cfg = config()
    limit = watch_headcount(mine)
    start = max(mine.status_since, today - dt.timedelta(days=cfg["headcount_lookback_days"]))
    since = timezone.make_aware(dt.datetime.combine(start, dt.time()))
    sensors = list(Sensor.objects.filter(mine=mine, kind="people_underground", active=True))
    flags = []
    for sensor in sensors:
        series = Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since).order_by("ts").values_list("ts", "value")
        for began, ended, peak in runs_above(series, limit, dt.timedelta(minutes=cfg["headcount_min_minutes"]),
                                             dt.timedelta(seconds=3 * sensor.interval_s)):
            day = timezone.localtime(began).date()
            flags.append(ProductionFlag(
                mine=mine, signal=SIGNAL.HEADCOUNT, episode=f"h{sensor.pk}-{day.isoformat()}", began_on=day,
                summary=(_("up to %(n)d people underground from %(a)s to %(b)s; the watch headcount is %(l)d") % {
                    "n": peak, "a": timezone.localtime(began).strftime("%Y-%m-%d %H:%M"),
                    "b": timezone.localtime(ended).strftime("%H:%M"), "l": limit})[:300],
                evidence={"sensor": sensor.pk, "limit": limit, "peak": peak, "from": began.isoformat(),
                          "to": ended.isoformat()}))
    # Several runs on one day are one episode (the first one stands for the day).
    unique = {}
    for flag in flags:
        unique.setdefault(flag.episode, flag)
    return list(unique.values())


def runs_above(series, limit: float, min_duration: dt.timedelta, max_gap: dt.timedelta):
    """(start, end, peak) of each run of readings above `limit` lasting at least `min_duration`; a gap in the
    data longer than `max_gap` ends a run (no reading is not evidence of people)."""
    began = last = None
    peak = 0.0
    for ts, value in series:
        if value > limit and began is not None and ts - last <= max_gap:
            last, peak = ts, max(peak, value)
            continue
        if began is not None and last - began >= min_duration:
            yield began, last, int(peak)
        began, last, peak = (ts, ts, value) if value > limit else (None, None, 0.0)
    if began is not None and last - began >= min_duration:
        yield began, last, int(peak)


# Explosives -------------------------------------------------------------------------------------
def explosives_flags(mine: Mine) -> list[ProductionFlag]:
    issues = ExplosivesIssue.objects.filter(mine=mine, issued_on__gte=mine.status_since)
    return [ProductionFlag(
        mine=mine, signal=SIGNAL.EXPLOSIVES, episode=f"x{issue.permit_no}"[:64], began_on=issue.issued_on,
        summary=(_("%(kg)s kg of explosive and %(d)d detonators issued on %(day)s (permit %(p)s) while suspended") % {
            "kg": issue.explosive_kg, "d": issue.detonators, "day": issue.issued_on.isoformat(),
            "p": issue.permit_no})[:300],
        evidence={"permit_no": issue.permit_no, "issued_on": issue.issued_on.isoformat(),
                  "explosive_kg": str(issue.explosive_kg), "detonators": issue.detonators,
                  "suspended_from": mine.status_since.isoformat()}) for issue in issues]


# Raising and closing flags ----------------------------------------------------------------------
def _already_flagged(flag: ProductionFlag) -> bool:
    same = ProductionFlag.objects.filter(mine=flag.mine, signal=flag.signal)
    if flag.signal == SIGNAL.ELECTRICITY:
        near = dt.timedelta(days=DUPLICATE_DAYS)
        return same.filter(began_on__gte=flag.began_on - near, began_on__lte=flag.began_on + near).exists()
    return same.filter(episode=flag.episode).exists()


def _raise(flag: ProductionFlag) -> bool:
    if _already_flagged(flag):
        return False
    now = timezone.now()
    flag.detected_at = now
    flag.inspect_by = timezone.localdate(now) + dt.timedelta(days=config()["inspect_within_days"])
    try:
        with transaction.atomic():
            flag.save()
            audit.record("system", AuditEvent.Action.CREATE, flag, after=audit.snapshot(
                flag, ["mine", "signal", "episode", "began_on", "summary", "inspect_by"]))
    except IntegrityError:
        return False  # a concurrent scan raised the same episode
    # Only regulators hear of it: the county that must inspect and the city.
    notify.send(_("Suspended mine %(m)s: %(s)s") % {"m": flag.mine.name, "s": flag.get_signal_display()},
                flag.summary, flag_link(flag), organisations=regulators(flag.mine))
    return True


def regulators(mine: Mine) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id)) + \
        list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


def flag_link(flag: ProductionFlag) -> str:
    return f"/monitoring/suspended/flags/{flag.pk}/"


def may_handle(user: User, flag: ProductionFlag) -> bool:
    """The city, the mine's county, or an inspector assigned to the mine (the covert scope)."""
    if not ProductionFlag.objects.visible_to(user).filter(pk=flag.pk).exists():
        return False
    return is_city(user) or user.role in (User.Role.COUNTY, User.Role.INSPECTOR)


def _check_outcome(actor: User, flag: ProductionFlag, inspected_on: dt.date | None, method: str,
                   errors: dict) -> None:
    if not may_handle(actor, flag):
        raise PermissionDenied(_("you may not handle this flag"))
    if method not in ProductionFlag.Method.values:
        errors["method"] = _("choose how the mine was checked")
    if inspected_on is None:
        errors["inspected_on"] = _("required")
    elif inspected_on > timezone.localdate():
        errors["inspected_on"] = _("cannot be in the future")
    elif inspected_on < timezone.localdate(flag.detected_at):
        errors["inspected_on"] = _("cannot be before the flag was raised (%(d)s)") % {
            "d": timezone.localdate(flag.detected_at).isoformat()}
    if errors:
        raise ValidationError(errors)


def _close(actor: User, flag: ProductionFlag, status: str, *, inspected_on: dt.date, method: str,
           **fields) -> ProductionFlag:
    with transaction.atomic():
        audit.lock_chain()
        current = ProductionFlag.objects.select_for_update().get(pk=flag.pk)
        if current.status != F.OPEN:
            raise InvalidTransition(_("this flag is already closed"))
        current.status, current.inspected_on, current.method = status, inspected_on, method
        current.closed_by, current.closed_at = actor, timezone.now()
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": F.OPEN}, after={
            "status": status, "inspected_on": inspected_on.isoformat(), "method": method,
            **{k: (v.pk if hasattr(v, "pk") else v) for k, v in fields.items()}})
    return current


def confirm(actor: User, flag: ProductionFlag, *, inspected_on: dt.date, method: str, findings: str,
            case_required: bool = True, hazard_item=None) -> ProductionFlag:
    """The inspection found production. With `hazard_item` the finding is also reported as a major hazard
    (in the same transaction: both or neither)."""
    findings = (findings or "").strip()
    _check_outcome(actor, flag, inspected_on, method,
                   {} if findings else {"findings": _("describe what the inspection found")})
    with transaction.atomic():
        hazard = None
        if hazard_item is not None:
            from minesafe.hazards import services as hazards
            from minesafe.hazards.models import Hazard

            source = Hazard.Source.CITY_INSPECTION if is_city(actor) else Hazard.Source.COUNTY_INSPECTION
            hazard = hazards.report_hazard(actor, flag.mine, hazard_item, source=source, found_on=inspected_on,
                                           description=findings)
        closed = _close(actor, flag, F.CONFIRMED, inspected_on=inspected_on, method=method, findings=findings,
                        case_required=case_required, hazard=hazard)
        production_confirmed.send(sender=ProductionFlag, flag=closed, actor=actor)
        return closed


def dismiss(actor: User, flag: ProductionFlag, *, inspected_on: dt.date, method: str, reason: str) -> ProductionFlag:
    """A false flag: the reason is kept, and for electricity the baseline is relearned from the flagged day."""
    reason = (reason or "").strip()
    _check_outcome(actor, flag, inspected_on, method,
                   {} if reason else {"dismissal_reason": _("say why the flag is false (e.g. a new drainage pump)")})
    return _close(actor, flag, F.DISMISSED, inspected_on=inspected_on, method=method, dismissal_reason=reason)
