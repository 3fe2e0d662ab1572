"""Progress on the action plan: the reporting periods, who reports what, the report's review, the dated parts
completed, the counties' own tasks, and what is overdue (reports past due, deadlines missed).

Report states: submitted → accepted | returned; returned → submitted (resubmitted in place). Each change is
permission-checked, audited and notified in one transaction."""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue

from .models import CountyTask, PlanTask, ProgressReport, ReportEntry, ReportEvidence, TaskUnit

RS = ProgressReport.Status
REPORT_TRANSITIONS = {(RS.SUBMITTED, RS.ACCEPTED), (RS.SUBMITTED, RS.RETURNED), (RS.RETURNED, RS.SUBMITTED)}
TEXT_MAX = 8000
MAX_FIGURES = 20
EVIDENCE_MAX_COUNT = 5
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
MAGIC_TYPES = [(b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
               (b"%PDF-", "application/pdf", ".pdf"),
               (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument", ".zip")]


def rules() -> dict:
    return active_catalogue("plan_reporting")


# Periods -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.end.month - self.start.month == 2:
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start:%Y-%m}"


def _months(kind: str) -> int:
    return 3 if kind == "quarter" else 1


def period_of(day: dt.date, kind: str | None = None) -> Period:
    months = _months(kind or rules().get("period", "quarter"))
    first_month = (day.month - 1) // months * months + 1
    start = day.replace(month=first_month, day=1)
    next_month = first_month + months
    following = dt.date(start.year + (next_month - 1) // 12, (next_month - 1) % 12 + 1, 1)
    return Period(start, following - dt.timedelta(days=1))


def due_date(period: Period) -> dt.date:
    return period.end + dt.timedelta(days=int(rules().get("due_days", 10)))


def periods_due(today: dt.date) -> list[Period]:
    """Every period from the first one whose report is due by `today` (oldest first)."""
    period = period_of(dt.date.fromisoformat(str(rules().get("first_period", "2024-07-01"))))
    found = []
    while due_date(period) < today:
        found.append(period)
        period = period_of(period.end + dt.timedelta(days=1))
    return found


def reportable(period: Period, today: dt.date) -> bool:
    """A period is reported from its last two weeks on (never a period still far from its end)."""
    return today >= period.end - dt.timedelta(days=14)


# Who may do what ---------------------------------------------------------------------------------
def reporting_units() -> "list[int]":
    """Organisations that answer for at least one task (and so report every period)."""
    return list(TaskUnit.objects.values_list("organisation_id", flat=True).distinct())


def may_report(user, organisation: Organisation) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.organisation_id == organisation.pk
                and user.role in (User.Role.CITY, User.Role.COUNTY, User.Role.DEPARTMENT)
                and TaskUnit.objects.filter(organisation=organisation).exists())


def require_reporter(user, organisation: Organisation) -> None:
    if not may_report(user, organisation):
        raise PermissionDenied(_("only a responsible unit reports on its own tasks"))


def require_city(user) -> None:
    if not is_city(user):
        raise PermissionDenied(_("only the city bureau reviews progress"))


def report_link(report: ProgressReport) -> str:
    return reverse("plan:report", args=[report.pk])


def city_organisations() -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


# Reports -----------------------------------------------------------------------------------------
def _sniff(content: bytes) -> tuple[str, str] | None:
    for magic, content_type, suffix in MAGIC_TYPES:
        if content.startswith(magic):
            return content_type, suffix
    return None


def _clean_figures(errors: dict, field: str, figures) -> list[dict]:
    clean = []
    for row in figures or []:
        label, value = str(row.get("label", "")).strip(), row.get("value")
        if not label and value in (None, ""):
            continue
        if not label or len(label) > 100:
            errors[field] = _("each figure needs a label of at most 100 characters")
            return []
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            errors[field] = _("%(l)s: the value must be a number") % {"l": label}
            return []
        clean.append({"label": label, "value": number})
    if len(clean) > MAX_FIGURES:
        errors[field] = _("at most %(n)d figures") % {"n": MAX_FIGURES}
    return clean


def _clean_report(organisation: Organisation, summary: str, entries: dict, files) -> tuple:
    """entries: {task number: {"text": ..., "figures": [...]}} for tasks the unit answers for."""
    errors: dict[str, str] = {}
    summary = (summary or "").strip()
    if not summary:
        errors["summary"] = _("summarise the period's work")
    elif len(summary) > TEXT_MAX:
        errors["summary"] = _("at most %(n)d characters") % {"n": TEXT_MAX}
    own = {u.task.number: u.task for u in TaskUnit.objects.filter(organisation=organisation).select_related("task")}
    clean_entries = []
    for number, entry in sorted((entries or {}).items()):
        field = f"task_{number}"
        text = (entry.get("text") or "").strip()
        if number not in own:
            errors[field] = _("your unit is not responsible for task %(n)s") % {"n": number}
            continue
        if not text and not entry.get("figures"):
            continue
        if not text:
            errors[field] = _("describe the work done on this task")
        elif len(text) > TEXT_MAX:
            errors[field] = _("at most %(n)d characters") % {"n": TEXT_MAX}
        clean_entries.append((own[number], text, _clean_figures(errors, field, entry.get("figures"))))
    if not clean_entries and not errors:
        errors["entries"] = _("report on at least one of your tasks")
    checked = []
    if len(files) > EVIDENCE_MAX_COUNT:
        errors["evidence"] = _("at most %(n)d files") % {"n": EVIDENCE_MAX_COUNT}
    for name, content in files:
        kind = _sniff(content)
        if len(content) > EVIDENCE_MAX_BYTES:
            errors["evidence"] = _("%(f)s is larger than 10 MB") % {"f": name[:100]}
        elif kind is None:
            errors["evidence"] = _("%(f)s is not a JPEG, PNG, PDF or Office file") % {"f": name[:100]}
        else:
            checked.append((name[:200], content, *kind))
    return summary, clean_entries, checked, errors


def _store_evidence(report: ProgressReport, files) -> list[str]:
    digests = []
    for name, content, content_type, suffix in files:
        digest = hashlib.sha256(content).hexdigest()
        evidence = ReportEvidence(report=report, original_name=name, content_type=content_type, size=len(content),
                                  sha256=digest)
        evidence.file.save(f"{digest[:16]}{suffix}", ContentFile(content), save=False)
        evidence.save()
        digests.append(digest)
    return digests


def submit_report(actor: User, period_start: dt.date, *, summary: str, entries: dict,
                  evidence: list[tuple[str, bytes]] = ()) -> ProgressReport:
    """The actor's unit's report for a period, or its resubmission after the city returned it."""
    organisation = actor.organisation
    require_reporter(actor, organisation)
    today = timezone.localdate()
    period = period_of(period_start)
    errors: dict[str, str] = {}
    first = period_of(dt.date.fromisoformat(str(rules().get("first_period", "2024-07-01"))))
    if period.start != period_start:
        errors["period_start"] = _("not the first day of a reporting period")
    elif not reportable(period, today):
        errors["period_start"] = _("this period cannot be reported before its last two weeks")
    elif period.start < first.start:
        errors["period_start"] = _("before the plan's first reporting period")
    summary, entries, files, more = _clean_report(organisation, summary, entries, list(evidence))
    errors.update(more)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        report = ProgressReport.objects.select_for_update().filter(organisation=organisation,
                                                                   period_start=period.start).first()
        if report is None:
            report = ProgressReport.objects.create(organisation=organisation, period_start=period.start,
                                                   period_end=period.end, summary=summary, submitted_by=actor,
                                                   submitted_at=timezone.now())
            action, before = AuditEvent.Action.CREATE, None
        elif report.status != RS.RETURNED:
            raise InvalidTransition(_("the report for %(p)s is already %(s)s") % {
                "p": period.label, "s": RS(report.status).label})
        else:
            before = {**audit.snapshot(report, ["status", "summary", "submitted_at"]), "entries": [
                {"task": e.task.number, "text": e.text, "figures": e.figures} for e in report.entries.all()]}
            report.status, report.summary = RS.SUBMITTED, summary
            report.submitted_by, report.submitted_at = actor, timezone.now()
            report.save(update_fields=["status", "summary", "submitted_by", "submitted_at"])
            report.entries.all().delete()  # replaced by the resubmitted ones; the audit event keeps the old
            action = AuditEvent.Action.TRANSITION
        ReportEntry.objects.bulk_create([ReportEntry(report=report, task=task, text=text, figures=figures)
                                         for task, text, figures in entries])
        digests = _store_evidence(report, files)
        audit.record(actor, action, report, before=before, after={
            **audit.snapshot(report, ["status", "summary", "period_start"]),
            "entries": [{"task": t.number, "text": text, "figures": f} for t, text, f in entries],
            "evidence": digests})
        notify.send(_("Progress report for %(p)s: %(u)s") % {"p": period.label, "u": organisation.name},
                    summary[:200], report_link(report), organisations=city_organisations())
    return report


def review_report(actor: User, report: ProgressReport, *, accept: bool, note: str = "") -> ProgressReport:
    require_city(actor)
    to = RS.ACCEPTED if accept else RS.RETURNED
    if (report.status, to) not in REPORT_TRANSITIONS:
        raise InvalidTransition(_("a report that is %(s)s cannot become %(t)s") % {
            "s": RS(report.status).label, "t": RS(to).label})
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError({"note": _("say what the unit must revise")})
    with transaction.atomic():
        current = locked_row(ProgressReport, report)
        if current.status != report.status:
            raise InvalidTransition(_("the report changed meanwhile; reload and try again"))
        fields = ["status", "reviewed_by", "reviewed_at", "review_note"]
        before = audit.snapshot(current, fields)
        current.status, current.reviewed_by, current.reviewed_at, current.review_note = (
            to, actor, timezone.now(), note)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
        if not accept:
            notify.send(_("Progress report returned for revision: %(p)s") % {
                "p": period_of(current.period_start).label}, note, report_link(current),
                organisations=[current.organisation])
    copy_back(current, report)
    return report


def complete_part(actor: User, unit: TaskUnit, *, completed_on: dt.date, note: str) -> TaskUnit:
    """The unit declares the dated part of its task done (e.g. "database of all major hazards by end-2024")."""
    require_reporter(actor, unit.organisation)
    errors = {}
    if unit.task.deadline is None:
        errors["completed_on"] = _("this task has no dated part; it is reported on each period")
    elif completed_on is None or completed_on > timezone.localdate():
        errors["completed_on"] = _("a date not in the future")
    if not (note or "").strip():
        errors["note"] = _("say what was completed")
    if errors:
        raise ValidationError(errors)
    if unit.status == TaskUnit.Status.COMPLETED:
        raise InvalidTransition(_("already recorded as completed"))
    with transaction.atomic():
        current = locked_row(TaskUnit, unit)
        fields = ["status", "completed_on", "completion_note"]
        before = audit.snapshot(current, fields)
        current.status, current.completed_on, current.completion_note = (
            TaskUnit.Status.COMPLETED, completed_on, note.strip())
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
    copy_back(current, unit)
    return unit


# County tasks ------------------------------------------------------------------------------------
def add_county_task(actor: User, task: PlanTask, *, title: str, deadline: dt.date, description: str = "") -> CountyTask:
    if actor.role != User.Role.COUNTY or not actor.organisation_id:
        raise PermissionDenied(_("a county adds its own implementation tasks"))
    if not TaskUnit.objects.filter(task=task, organisation_id=actor.organisation_id).exists():
        raise ValidationError({"task": _("your county is not a responsible unit of task %(n)d") % {"n": task.number}})
    errors = {}
    title = (title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = _("a title of at most 200 characters")
    if deadline is None:
        errors["deadline"] = _("required")
    elif task.deadline and deadline > task.deadline:
        errors["deadline"] = _("after the city's deadline for this task (%(d)s)") % {"d": task.deadline.isoformat()}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        county_task = CountyTask.objects.create(task=task, organisation_id=actor.organisation_id, title=title,
                                                description=(description or "").strip(), deadline=deadline,
                                                created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, county_task, after=audit.snapshot(county_task))
    return county_task


def complete_county_task(actor: User, county_task: CountyTask, *, done_on: dt.date, note: str) -> CountyTask:
    own = actor.role == User.Role.COUNTY and actor.organisation_id == county_task.organisation_id
    if not (is_city(actor) or own):
        raise PermissionDenied(_("only the county or the city records this"))
    if county_task.status == CountyTask.Status.DONE:
        raise InvalidTransition(_("already done"))
    errors = {}
    if done_on is None or done_on > timezone.localdate():
        errors["done_on"] = _("a date not in the future")
    if not (note or "").strip():
        errors["note"] = _("say what was done")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(CountyTask, county_task)
        fields = ["status", "done_on", "done_note"]
        before = audit.snapshot(current, fields)
        current.status, current.done_on, current.done_note = CountyTask.Status.DONE, done_on, note.strip()
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
    copy_back(current, county_task)
    return county_task


# What is overdue ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OverdueReport:
    organisation: Organisation
    period: Period
    due: dt.date
    days_late: int
    returned: ProgressReport | None  # returned by the city and not yet resubmitted


def overdue_reports(organisations, today: dt.date | None = None) -> list[OverdueReport]:
    """Each responsible unit's periods whose report is past due and not submitted (or returned and not
    resubmitted). `organisations`: a queryset of the units to look at."""
    today = today or timezone.localdate()
    periods = periods_due(today)
    if not periods:
        return []
    units = list(organisations.filter(pk__in=reporting_units()).select_related("region"))
    reports = {(r.organisation_id, r.period_start): r for r in ProgressReport.objects.filter(
        organisation__in=units, period_start__gte=periods[0].start)}
    found = []
    for organisation in units:
        for period in periods:
            report = reports.get((organisation.pk, period.start))
            if report is not None and report.status != RS.RETURNED:
                continue
            due = due_date(period)
            found.append(OverdueReport(organisation, period, due, (today - due).days, report))
    return sorted(found, key=lambda o: (-o.days_late, o.organisation.region.code, o.organisation.name))


def missed_deadlines(units, today: dt.date | None = None):
    """Units whose task's dated part is past its deadline and not completed."""
    today = today or timezone.localdate()
    return units.filter(task__deadline__lt=today).exclude(status=TaskUnit.Status.COMPLETED) \
        .select_related("task", "organisation")


def overdue_county_tasks(today: dt.date | None = None):
    return CountyTask.objects.filter(status=CountyTask.Status.OPEN, deadline__lt=today or timezone.localdate())


@dataclass(frozen=True)
class ReminderRun:
    overdue: int
    reminded: int
    escalated: int


def remind_overdue(today: dt.date | None = None) -> ReminderRun:
    """Once a day, each unit with overdue reports gets one reminder listing the periods; a report
    `city_after_days` late is also reported to the city bureau, once."""
    today = today or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    late = overdue_reports(Organisation.objects.all(), today)
    by_unit: dict[int, list[OverdueReport]] = {}
    for item in late:
        by_unit.setdefault(item.organisation.pk, []).append(item)
    reminded = escalated = 0
    overdue_page = reverse("plan:overdue")
    for organisation_id, items in by_unit.items():
        link = f"{overdue_page}#unit-{organisation_id}"
        if Notification.objects.filter(link=link, created_at__gte=start).exists():
            continue
        with transaction.atomic():
            notes = notify.send(_("%(n)d progress reports on the action plan are overdue") % {"n": len(items)},
                                ", ".join(i.period.label for i in items), link,
                                organisations=[items[0].organisation])
        reminded += bool(notes)  # a unit without users on the platform hears nothing (and is listed)
    city = city_organisations()
    for item in late:
        if item.days_late < int(rules().get("city_after_days", 5)) or \
                item.organisation.kind == Organisation.Kind.CITY_BUREAU:
            continue
        link = f"{overdue_page}#late-{item.organisation.pk}-{item.period.start:%Y%m}"
        if Notification.objects.filter(link=link).exists():
            continue
        with transaction.atomic():
            notify.send(_("%(u)s is %(d)d days late with its progress report for %(p)s") % {
                "u": item.organisation.name, "d": item.days_late, "p": item.period.label}, "", link,
                organisations=city)
        escalated += 1
    return ReminderRun(len(late), reminded, escalated)
