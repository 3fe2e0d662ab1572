"""Suspension reports (停产停建报告) and the control of suspended mines (停产停建管控). Plan task 8.

A report:  submitted --county accepts--> accepted --county reports to the city--> reported
           submitted --county returns (reason)--> returned --enterprise resubmits (edited)--> submitted
The stop itself is a separate fact of an accepted report: at acceptance when the planned start has come, or
later by `record_stop`. It moves the mine's registry status (suspended / construction halted) from that day,
sets the approved watch headcount that monitoring compares people underground with, and starts the county's
deadline to report the mine to the city (`city_report_days`, 5). An accepted, stopped report that is not
reported by then is overdue: shown on the lists and reminded daily (`remind_overdue`).

Control: who answers for the suspended mine (包联包保, 驻矿盯守) and the append-only record of patrols, surprise
inspections, the power company's power limitation and the police's explosives control. Production found by a
control is recorded as an offence (未经验收擅自复产).

Every function checks permission, validates, changes state, audits and notifies in one transaction.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation, User
from minesafe.core.scoping import is_city
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from .common import catalogue, is_regulator, require_department, require_owner, require_regulator
from .models import ControlAssignment, ControlRecord, Offence, SuspensionReport
from .resumption import record_offence

R = User.Role
RS = SuspensionReport.Status
KIND = SuspensionReport.Kind
MS = Mine.Status
CK = ControlRecord.Kind

SUSPENDED_STATUSES = (MS.SUSPENDED, MS.CONSTRUCTION_HALTED)
# A producing mine reports a suspension, a mine under construction a construction halt.
KIND_FOR_STATUS = {MS.PRODUCING: KIND.SUSPENSION, MS.CONSTRUCTION: KIND.CONSTRUCTION_HALT}
STOPS_FROM = {KIND.SUSPENSION: MS.PRODUCING, KIND.CONSTRUCTION_HALT: MS.CONSTRUCTION}
STOPS_TO = {KIND.SUSPENSION: MS.SUSPENDED, KIND.CONSTRUCTION_HALT: MS.CONSTRUCTION_HALTED}
TEXT_PARTS = ["reason", "engineering_measures", "management_measures", "watch_arrangements",
              "emergency_arrangements", "power_arrangements"]
REPORT_FIELDS = [*TEXT_PARTS, "planned_start", "planned_end", "watch_headcount"]
WATCH_HEADCOUNT_MAX = 32767  # the column is a positive small integer
# Inspections by the regulators (and inspectors assigned to the mine); the other kinds are departments' acts.
INSPECTION_KINDS = (CK.PATROL, CK.COVERT, CK.SURPRISE, CK.CROSS)
DEPARTMENT_KINDS = {CK.POWER_LIMIT: "GD", CK.EXPLOSIVES: "GA"}  # the power company, the police
FLAG_ROLES = (R.COUNTY, R.INSPECTOR)  # with the city: who may see monitoring's covert production flags


def rules() -> dict:
    return catalogue()["suspension"]


# Queries -------------------------------------------------------------------------------------------
def open_q() -> Q:
    """Reports still in play before the stop: one per mine at a time."""
    return Q(status__in=[RS.SUBMITTED, RS.RETURNED]) | Q(status=RS.ACCEPTED, stopped_on__isnull=True)


def overdue_q(today: dt.date) -> Q:
    """Stopped, not reported to the city, and the due date (inclusive) has passed."""
    return Q(status=RS.ACCEPTED, stopped_on__isnull=False, city_report_due__lt=today)


def is_overdue(report: SuspensionReport, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return bool(report.status == RS.ACCEPTED and report.stopped_on and report.city_report_due
                and report.city_report_due < today)


def awaiting_stop(report: SuspensionReport) -> bool:
    return report.status == RS.ACCEPTED and report.stopped_on is None


def current_report(mine: Mine) -> SuspensionReport | None:
    """The report of the mine's current stop (the last one that stopped it), if it is stopped."""
    if mine.status not in SUSPENDED_STATUSES:
        return None
    reports = SuspensionReport.objects.filter(mine=mine, stopped_on__isnull=False)
    if mine.status_since:  # the stop moved status_since to its day: an older report belongs to an earlier stop
        reports = reports.filter(stopped_on__gte=mine.status_since)
    return reports.order_by("-stopped_on", "-pk").first()


def may_see_flags(user: User) -> bool:
    """Monitoring's production flags are covert: the city, counties and inspectors (never the enterprise or
    a department). Their scope within that is ProductionFlag.objects.visible_to."""
    return bool(user and user.is_authenticated and (is_city(user) or user.role in FLAG_ROLES))


# Helpers -------------------------------------------------------------------------------------------
def report_link(report: SuspensionReport) -> str:
    return f"/operations/suspension-reports/{report.pk}/"


def control_link(mine: Mine) -> str:
    return f"/operations/suspended/{mine.pk}/"


def organisations(mine: Mine, who: list[str]) -> list[Organisation]:
    orgs = []
    if "enterprise" in who:
        orgs.append(mine.enterprise.organisation)
    if "county" in who:
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))
    if "city" in who:
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))
    return orgs


def _notify(report: SuspensionReport, subject: str, who: list[str], link: str = "") -> None:
    notify.send(subject, f"{report.mine.name} · {report.get_kind_display()}", link or report_link(report),
                organisations=organisations(report.mine, who))


def _refresh(target, source) -> None:
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _clean_report(mine: Mine, fields: dict) -> dict:
    """Every part of the report, validated; raises ValidationError naming each bad part."""
    errors: dict[str, str] = {}
    unknown = set(fields) - set(REPORT_FIELDS)
    errors.update({name: _("not part of a suspension report") for name in unknown})
    data = {}
    for name in TEXT_PARTS:
        value = fields.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if not value:
            errors[name] = _("this part of the report is required")
        data[name] = value
    start, end = fields.get("planned_start"), fields.get("planned_end")
    if not isinstance(start, dt.date):
        errors["planned_start"] = _("this part of the report is required")
    elif mine.status_since and start < mine.status_since:
        errors["planned_start"] = _("is before the mine's current status began (%(d)s)") % {"d": mine.status_since}
    if end is not None and not isinstance(end, dt.date):
        errors["planned_end"] = _("must be a date, or empty for until further notice")
    elif isinstance(start, dt.date) and end is not None:
        months = rules()["report_from_months"]
        if end < start:
            errors["planned_end"] = _("cannot be before the planned start (%(d)s)") % {"d": start}
        elif end < registry.add_months(start, months):
            errors["planned_end"] = _(
                "a stop of %(days)d days is shorter than %(m)d month(s): shorter stops need no written report"
            ) % {"days": (end - start).days, "m": months}
    headcount = fields.get("watch_headcount")
    if headcount is None or headcount == "":
        errors["watch_headcount"] = _("this part of the report is required")
    elif isinstance(headcount, bool) or not isinstance(headcount, int) or not 0 <= headcount <= WATCH_HEADCOUNT_MAX:
        errors["watch_headcount"] = _("must be a whole number of people, 0 or more")
    if errors:
        raise ValidationError(errors)
    data.update(planned_start=start, planned_end=end, watch_headcount=headcount)
    return data


def _current_status(mine: Mine) -> None:
    """The mine's status as stored now (the caller's object may predate a stop made meanwhile)."""
    mine.refresh_from_db(fields=["status", "status_since"])


def _require_stoppable(mine: Mine, kind: str) -> None:
    if mine.status != STOPS_FROM[kind]:
        raise DomainError(_("a %(k)s needs a mine that is %(s)s; this mine is %(now)s") % {
            "k": KIND(kind).label, "s": MS(STOPS_FROM[kind]).label, "now": MS(mine.status).label}, field="mine")


# Reports -------------------------------------------------------------------------------------------
def submit_report(actor: User, mine: Mine, *, kind: str | None = None, **fields) -> SuspensionReport:
    """The enterprise files the written report of a stop of a month or longer for its own mine."""
    require_owner(actor, mine)
    _current_status(mine)
    expected = KIND_FOR_STATUS.get(mine.status)
    if expected is None:
        raise DomainError(_("only a producing mine reports a suspension, and a mine under construction a "
                            "construction halt; this mine is %(s)s") % {"s": MS(mine.status).label}, field="mine")
    kind = kind or expected
    if kind not in KIND.values:
        raise ValidationError({"kind": _("unknown kind %(k)s") % {"k": kind}})
    if kind != expected:
        raise ValidationError({"kind": _("a mine that is %(s)s reports a %(k)s") % {
            "s": MS(mine.status).label, "k": KIND(expected).label}})
    data = _clean_report(mine, fields)
    with transaction.atomic():
        audit.lock_chain()
        # Lock the mine's row: two submissions racing for one mine are serialised, so one open report per mine.
        list(Mine.objects.select_for_update().filter(pk=mine.pk).values_list("pk", flat=True))
        if SuspensionReport.objects.filter(open_q(), mine=mine).exists():
            raise DomainError(_("this mine already has a suspension report in progress"), field="mine",
                              code="duplicate")
        report = SuspensionReport.objects.create(mine=mine, kind=kind, submitted_by=actor,
                                                 submitted_at=timezone.now(), **data)
        audit.record(actor, AuditEvent.Action.CREATE, report, after=audit.snapshot(report))
        _notify(report, _("Suspension report to review: %(m)s") % {"m": mine.name}, ["county"])
    return report


def _locked(report: SuspensionReport) -> SuspensionReport:
    return SuspensionReport.objects.select_for_update(of=("self",)).select_related(
        "mine__county", "mine__enterprise__organisation").get(pk=report.pk)


def accept_report(actor: User, report: SuspensionReport, *, note: str = "") -> SuspensionReport:
    """The county (or the city) accepts the report; the stop is recorded now if its planned start has come."""
    require_regulator(actor, report.mine)
    with transaction.atomic():
        audit.lock_chain()
        current = _locked(report)
        if current.status != RS.SUBMITTED:
            raise InvalidTransition(_("only a submitted report can be accepted; this one is %(s)s") % {
                "s": RS(current.status).label})
        _require_stoppable(current.mine, current.kind)
        today = timezone.localdate()
        current.status, current.reviewed_by, current.reviewed_at = RS.ACCEPTED, actor, timezone.now()
        current.review_note = (note or "").strip()
        current.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": RS.SUBMITTED},
                     after={"status": RS.ACCEPTED, "review_note": current.review_note})
        if current.planned_start <= today:
            _stop(actor, current, current.planned_start)
        _notify(current, _("Suspension report accepted: %(m)s") % {"m": current.mine.name}, ["enterprise"])
    _refresh(report, current)
    return report


def return_report(actor: User, report: SuspensionReport, *, reason: str) -> SuspensionReport:
    """The county (or the city) returns the report for completion, saying what is missing."""
    require_regulator(actor, report.mine)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("say what the enterprise must complete or correct")})
    with transaction.atomic():
        audit.lock_chain()
        current = _locked(report)
        if current.status != RS.SUBMITTED:
            raise InvalidTransition(_("only a submitted report can be returned; this one is %(s)s") % {
                "s": RS(current.status).label})
        current.status, current.reviewed_by, current.reviewed_at = RS.RETURNED, actor, timezone.now()
        current.review_note = reason
        current.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": RS.SUBMITTED},
                     after={"status": RS.RETURNED, "review_note": reason})
        _notify(current, _("Suspension report returned: %(m)s") % {"m": current.mine.name}, ["enterprise"])
    _refresh(report, current)
    return report


def resubmit_report(actor: User, report: SuspensionReport, changes: dict) -> SuspensionReport:
    """The enterprise completes a returned report and submits it again."""
    require_owner(actor, report.mine)
    unknown = set(changes) - set(REPORT_FIELDS)
    if unknown:
        raise ValidationError({name: _("not part of a suspension report") for name in unknown})
    if report.status != RS.RETURNED:
        raise InvalidTransition(_("only a returned report can be resubmitted; this one is %(s)s") % {
            "s": RS(report.status).label})
    merged = {name: getattr(report, name) for name in REPORT_FIELDS} | changes
    data = _clean_report(report.mine, merged)
    with transaction.atomic():
        audit.lock_chain()
        current = _locked(report)
        if current.status != RS.RETURNED:
            raise InvalidTransition(_("the report changed meanwhile; reload and try again"))
        _require_stoppable(current.mine, current.kind)
        before = audit.snapshot(current, REPORT_FIELDS)
        for name, value in data.items():
            setattr(current, name, value)
        old, new = audit.diff(before, audit.snapshot(current, REPORT_FIELDS))
        current.status, current.submitted_by, current.submitted_at = RS.SUBMITTED, actor, timezone.now()
        current.save(update_fields=[*REPORT_FIELDS, "status", "submitted_by", "submitted_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": RS.RETURNED, **old},
                     after={"status": RS.SUBMITTED, **new})
        _notify(current, _("Suspension report resubmitted: %(m)s") % {"m": current.mine.name}, ["county"])
    _refresh(report, current)
    return report


def may_record_stop(user: User, report: SuspensionReport) -> bool:
    return awaiting_stop(report) and (is_regulator(user, report.mine) or registry.is_mine_owner(user, report.mine))


def record_stop(actor: User, report: SuspensionReport, stopped_on: dt.date) -> SuspensionReport:
    """The mine of an accepted report has stopped (the county, the city or the enterprise says when)."""
    mine = report.mine
    if not (is_regulator(actor, mine) or registry.is_mine_owner(actor, mine)):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may record the stop"))
    if not isinstance(stopped_on, dt.date):
        raise ValidationError({"stopped_on": _("required")})
    if stopped_on > timezone.localdate():
        raise ValidationError({"stopped_on": _("cannot be in the future")})
    if mine.status_since and stopped_on < mine.status_since:
        raise ValidationError({"stopped_on": _("is before the mine's current status began (%(d)s)") % {
            "d": mine.status_since}})
    with transaction.atomic():
        audit.lock_chain()
        current = _locked(report)
        if not awaiting_stop(current):
            if current.stopped_on:
                raise InvalidTransition(_("the stop of this report is already recorded (%(d)s)") % {
                    "d": current.stopped_on})
            raise InvalidTransition(_("a stop is recorded for an accepted report; this one is %(s)s") % {
                "s": RS(current.status).label})
        _stop(actor, current, stopped_on)
    _refresh(report, current)
    return report


def _stop(actor: User, report: SuspensionReport, stopped_on: dt.date) -> None:
    """The stop, inside the caller's transaction (chain lock and report row lock already held)."""
    mine = Mine.objects.select_related("county", "enterprise__organisation").get(pk=report.mine_id)
    _require_stoppable(mine, report.kind)
    if mine.status_since and stopped_on < mine.status_since:
        raise DomainError(_("the stop (%(s)s) would be before the mine's current status began (%(d)s); return "
                            "the report for a corrected planned start") % {"s": stopped_on, "d": mine.status_since},
                          field="planned_start")
    reason = f"{KIND(report.kind).label}: {report.reason}"[:200]  # the status history's reason column
    registry.change_status(actor, mine, STOPS_TO[report.kind], reason=reason, effective_date=stopped_on)
    if mine.watch_headcount != report.watch_headcount:
        before = {"watch_headcount": mine.watch_headcount}
        Mine.objects.filter(pk=mine.pk).update(watch_headcount=report.watch_headcount, updated_at=timezone.now())
        audit.record(actor, AuditEvent.Action.UPDATE, mine, before=before,
                     after={"watch_headcount": report.watch_headcount})
    report.stopped_on = stopped_on
    report.city_report_due = stopped_on + dt.timedelta(days=rules()["city_report_days"])
    report.save(update_fields=["stopped_on", "city_report_due"])
    audit.record(actor, AuditEvent.Action.TRANSITION, report, before={"stopped_on": None},
                 after={"stopped_on": stopped_on, "city_report_due": report.city_report_due,
                        "mine_status": STOPS_TO[report.kind]})
    _notify(report, _("%(m)s stopped on %(s)s: report it to the city by %(d)s") % {
        "m": mine.name, "s": stopped_on.isoformat(), "d": report.city_report_due.isoformat()}, ["county"])


def may_report_to_city(user: User, report: SuspensionReport) -> bool:
    return (report.status == RS.ACCEPTED and report.stopped_on is not None and user.role == R.COUNTY
            and registry.can_manage_mine(user, report.mine))


def report_to_city(actor: User, report: SuspensionReport) -> SuspensionReport:
    """The county reports the stopped mine to the city (due within `city_report_days` of the stop)."""
    if not (actor.role == R.COUNTY and registry.can_manage_mine(actor, report.mine)):
        raise PermissionDenied(_("only the mine's county reports it to the city"))
    with transaction.atomic():
        audit.lock_chain()
        current = _locked(report)
        if current.status != RS.ACCEPTED or current.stopped_on is None:
            raise InvalidTransition(_("a mine is reported to the city once its accepted stop is recorded; this "
                                      "report is %(s)s") % {"s": RS(current.status).label})
        today = timezone.localdate()
        late_days = max((today - current.city_report_due).days, 0)
        current.status, current.reported_to_city_at, current.reported_by = RS.REPORTED, timezone.now(), actor
        current.save(update_fields=["status", "reported_to_city_at", "reported_by"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": RS.ACCEPTED},
                     after={"status": RS.REPORTED, "city_report_due": current.city_report_due,
                            "days_late": late_days})
        _notify(current, _("Suspended mine reported by the county: %(m)s") % {"m": current.mine.name}, ["city"])
    _refresh(report, current)
    return report


# The daily check of the 5-day rule ------------------------------------------------------------------
@dataclass(frozen=True)
class ReminderRun:
    overdue: int
    reminded: int


def overdue_reports(today: dt.date | None = None):
    return SuspensionReport.objects.filter(overdue_q(today or timezone.localdate()))


def remind_overdue(today: dt.date | None = None) -> ReminderRun:
    """Each overdue report: one reminder a day to its county and the city (a second run that day sends none)."""
    today = today or timezone.localdate()
    overdue = reminded = 0
    for report in overdue_reports(today).select_related("mine__county", "mine__enterprise").order_by("pk"):
        overdue += 1
        link = report_link(report) + "#city-report"
        start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
        if Notification.objects.filter(link=link, created_at__gte=start,
                                       created_at__lt=start + dt.timedelta(days=1)).exists():
            continue
        with transaction.atomic():
            notify.send(_("Overdue: %(m)s stopped on %(s)s and was to be reported to the city by %(d)s") % {
                "m": report.mine.name, "s": report.stopped_on.isoformat(), "d": report.city_report_due.isoformat()},
                f"{report.mine.county} · {report.mine.name}", link, organisations=organisations(report.mine,
                                                                                                ["county", "city"]))
        reminded += 1
    return ReminderRun(overdue=overdue, reminded=reminded)


# Control assignments (包联包保, 驻矿盯守) -------------------------------------------------------------
def _require_suspended(mine: Mine) -> None:
    _current_status(mine)
    if mine.status not in SUSPENDED_STATUSES:
        raise DomainError(_("controls apply to suspended or construction-halted mines; this mine is %(s)s") % {
            "s": MS(mine.status).label}, field="mine")


def add_assignment(actor: User, mine: Mine, *, role: str, name: str, post: str, start_date: dt.date,
                   phone: str = "") -> ControlAssignment:
    """The county (or the city) names who answers for a suspended mine."""
    require_regulator(actor, mine)
    _require_suspended(mine)
    errors = {}
    if role not in ControlAssignment.Role.values:
        errors["role"] = _("choose the responsible official or the on-site watch")
    name, post, phone = (name or "").strip(), (post or "").strip(), (phone or "").strip()
    for field, value, limit in (("name", name, 64), ("post", post, 100), ("phone", phone, 32)):
        if field != "phone" and not value:
            errors[field] = _("required")
        elif len(value) > limit:
            errors[field] = _("at most %(n)d characters") % {"n": limit}
    if not isinstance(start_date, dt.date):
        errors["start_date"] = _("required")
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        audit.lock_chain()
        if ControlAssignment.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=today), mine=mine, role=role,
                                            name=name).exists():
            raise DomainError(_("%(n)s is already assigned to this mine in this role") % {"n": name}, field="name",
                              code="duplicate")
        assignment = ControlAssignment.objects.create(mine=mine, role=role, name=name, post=post, phone=phone,
                                                      start_date=start_date, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, assignment, after=audit.snapshot(assignment))
    return assignment


def end_assignment(actor: User, assignment: ControlAssignment, end_date: dt.date) -> ControlAssignment:
    require_regulator(actor, assignment.mine)
    if not isinstance(end_date, dt.date):
        raise ValidationError({"end_date": _("required")})
    if end_date > timezone.localdate():
        raise ValidationError({"end_date": _("cannot be in the future")})
    if end_date < assignment.start_date:
        raise ValidationError({"end_date": _("is before the assignment began (%(d)s)") % {"d": assignment.start_date}})
    with transaction.atomic():
        audit.lock_chain()
        current = ControlAssignment.objects.select_for_update().get(pk=assignment.pk)
        if current.end_date is not None:
            raise InvalidTransition(_("this assignment already ended on %(d)s") % {"d": current.end_date})
        current.end_date = end_date
        current.save(update_fields=["end_date"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before={"end_date": None}, after={"end_date": end_date})
    _refresh(assignment, current)
    return assignment


def current_assignments(mine: Mine, today: dt.date | None = None):
    today = today or timezone.localdate()
    return ControlAssignment.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=today), mine=mine,
                                            start_date__lte=today)


# Control records ----------------------------------------------------------------------------------
def is_assigned_inspector(user: User, mine: Mine) -> bool:
    return user.role == R.INSPECTOR and user.mine_assignments.filter(mine=mine).exists()


def may_record(user: User, mine: Mine, kind: str) -> bool:
    if not (user and user.is_authenticated):
        return False
    if kind in DEPARTMENT_KINDS:
        try:
            require_department(user, DEPARTMENT_KINDS[kind])
        except PermissionDenied:
            return False
        return True
    return is_regulator(user, mine) or is_assigned_inspector(user, mine)


def record_kinds(user: User, mine: Mine) -> list[str]:
    """The kinds of control this user may record for this mine (empty when the mine is not suspended)."""
    if mine.status not in SUSPENDED_STATUSES:
        return []
    return [kind for kind in CK.values if may_record(user, mine, kind)]


def record_control(actor: User, mine: Mine, *, kind: str, done_on: dt.date, outcome: str,
                   notes: str) -> ControlRecord:
    """One dated act of control. Patrols and inspections: the county, the city, an inspector assigned to the
    mine; the power limit: the power company (GD) or the city; explosives control: the police (GA) or the city."""
    if kind not in CK.values:
        raise ValidationError({"kind": _("unknown kind of control %(k)s") % {"k": kind}})
    if not may_record(actor, mine, kind):
        raise PermissionDenied(_("you may not record a %(k)s for this mine") % {"k": CK(kind).label})
    _require_suspended(mine)
    errors = {}
    if not isinstance(done_on, dt.date):
        errors["done_on"] = _("required")
    elif done_on > timezone.localdate():
        errors["done_on"] = _("cannot be in the future")
    elif mine.status_since and done_on < mine.status_since:
        errors["done_on"] = _("is before the mine stopped (%(d)s)") % {"d": mine.status_since}
    if outcome not in ControlRecord.Outcome.values:
        errors["outcome"] = _("choose what the control found")
    notes = (notes or "").strip()
    if not notes:
        errors["notes"] = _("say what was checked and found")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        record = ControlRecord.objects.create(mine=mine, kind=kind, done_on=done_on, outcome=outcome, notes=notes,
                                              recorded_by=actor, recorded_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, record, after=audit.snapshot(record))
        if outcome == ControlRecord.Outcome.PRODUCING:
            record_offence(actor, mine, Offence.Kind.UNACCEPTED_RESUMPTION, found_on=done_on,
                           description=f"{CK(kind).label}: {notes}", source=f"operations.controlrecord:{record.pk}")
        if outcome != ControlRecord.Outcome.COMPLIANT:
            notify.send(_("%(k)s at suspended mine %(m)s: %(o)s") % {
                "k": CK(kind).label, "m": mine.name, "o": ControlRecord.Outcome(outcome).label}, notes,
                control_link(mine), organisations=organisations(mine, ["county", "city"]))
    return record


# The list of suspended mines with their control status -----------------------------------------------
@dataclass(frozen=True)
class ControlStatus:
    mine: Mine
    liaison: bool  # a responsible official (包联包保) is assigned now
    on_site: bool  # an on-site watch (驻矿盯守) is assigned now
    last_inspection: dt.date | None  # the last patrol or inspection since the stop
    days_since_inspection: int | None
    open_flags: int | None  # None: not for this user (covert)
    report_id: int | None
    report_status: str
    city_report_due: dt.date | None
    report_overdue: bool


def control_overview(user: User, mines=None, today: dt.date | None = None) -> list[ControlStatus]:
    """Every suspended or construction-halted mine in the user's scope, computed in a handful of queries."""
    from minesafe.monitoring.models import ProductionFlag

    today = today or timezone.localdate()
    mines = mines if mines is not None else Mine.objects.visible_to(user)
    mines = mines.filter(status__in=SUSPENDED_STATUSES).select_related("county", "enterprise")
    current = ControlAssignment.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=today),
                                               mine=OuterRef("pk"), start_date__lte=today)
    report = SuspensionReport.objects.filter(mine=OuterRef("pk"), stopped_on__gte=OuterRef("status_since")) \
        .order_by("-stopped_on", "-pk")
    mines = mines.annotate(
        has_liaison=Exists(current.filter(role=ControlAssignment.Role.LIAISON)),
        has_on_site=Exists(current.filter(role=ControlAssignment.Role.ON_SITE)),
        last_inspection=Subquery(ControlRecord.objects.filter(
            mine=OuterRef("pk"), kind__in=INSPECTION_KINDS, done_on__gte=OuterRef("status_since"))
            .order_by("-done_on").values("done_on")[:1]),
        report_id=Subquery(report.values("pk")[:1]),
        report_status=Subquery(report.values("status")[:1]),
        city_report_due=Subquery(report.values("city_report_due")[:1]),
    )
    if may_see_flags(user):
        flags = ProductionFlag.objects.visible_to(user).filter(mine=OuterRef("pk"), status=ProductionFlag.Status.OPEN) \
            .order_by().values("mine").annotate(n=Count("pk")).values("n")
        mines = mines.annotate(open_flags=Coalesce(Subquery(flags, output_field=IntegerField()), Value(0)))
    rows = []
    for mine in mines.order_by("county__code", "status_since", "code"):
        last = mine.last_inspection
        rows.append(ControlStatus(
            mine=mine, liaison=mine.has_liaison, on_site=mine.has_on_site, last_inspection=last,
            days_since_inspection=(today - last).days if last else None,
            open_flags=getattr(mine, "open_flags", None), report_id=mine.report_id,
            report_status=mine.report_status or "", city_report_due=mine.city_report_due,
            report_overdue=bool(mine.report_status == RS.ACCEPTED and mine.city_report_due
                                and mine.city_report_due < today)))
    return rows


# The public list (no login) -------------------------------------------------------------------------
def public_mines(county_code: str = ""):
    """Suspended and construction-halted mines with the date the current stop was reported to the city."""
    reported = SuspensionReport.objects.filter(mine=OuterRef("pk"), stopped_on__gte=OuterRef("status_since")) \
        .order_by("-stopped_on", "-pk").values("reported_to_city_at")[:1]
    mines = Mine.objects.filter(status__in=SUSPENDED_STATUSES).select_related("county", "enterprise") \
        .annotate(reported_at=Subquery(reported))
    if county_code:
        mines = mines.filter(county__code=county_code)
    return mines.order_by("county__code", "-status_since", "name")
