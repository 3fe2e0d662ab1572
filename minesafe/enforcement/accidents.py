"""Accidents (plan task 26): the report with its grade, the investigation under 四不放过, the consequences the
plan prescribes raised as follow-up tasks, and adding a concluded accident to the case library.

States: reported -> investigating -> concluded (all four findings) -> closed. The enterprise or a regulator
reports; only the mine's county or the city investigates, concludes and closes. Every function checks
permission, validates, changes state, audits and notifies in one transaction.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from . import grading
from .models import GRADE_ORDER, Accident, AccidentCase, AccidentGrade, AccidentKind, FollowUpTask, InvestigationFinding

S = Accident.Status
A = InvestigationFinding.Aspect
K = FollowUpTask.Kind
CATALOGUE = "enforcement_accidents"
MAX_PEOPLE = 10000  # more casualties than this in one accident is a typing error
MAX_LOSS = Decimal("999999999999.99")  # the column's limit
CASUALTY_FIELDS = ["deaths", "serious_injuries", "minor_injuries", "direct_loss", "grade"]


def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


def grade_levels() -> tuple[grading.GradeLevel, ...]:
    return grading.parse_levels(catalogue()["grades"]["levels"])


# Permissions -------------------------------------------------------------------------------------
def may_report(user: User, mine: Mine) -> bool:
    return can_manage_mine(user, mine) or is_mine_owner(user, mine)


def may_investigate(user: User, mine: Mine) -> bool:
    """The mine's county or the city (the investigating authorities)."""
    return can_manage_mine(user, mine)


def require_investigator(user: User, mine: Mine) -> None:
    if not may_investigate(user, mine):
        raise PermissionDenied(_("only the mine's county or the city may investigate its accidents"))


def may_complete_task(user: User, task: FollowUpTask) -> bool:
    """The city, or a member of the unit the task is assigned to."""
    if is_city(user):
        return True
    return bool(user.is_authenticated and user.organisation_id and user.organisation_id == task.assignee_id
                and can_manage_mine(user, task.mine))


# Helpers -----------------------------------------------------------------------------------------
def accident_link(accident: Accident) -> str:
    return reverse("enforcement:accident-detail", args=[accident.pk])


def county_organisation(mine: Mine) -> Organisation:
    org = Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id).first()
    if org is None:
        raise DomainError(_("the mine's county has no organisation on the platform"), field="mine")
    return org


def city_organisation() -> Organisation:
    org = Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU).order_by("pk").first()
    if org is None:
        raise DomainError(_("the city bureau has no organisation on the platform"))
    return org


def _count(errors: dict, field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = _("must be a whole number")
        return 0
    if value < 0:
        errors[field] = _("cannot be negative")
    elif value > MAX_PEOPLE:
        errors[field] = _("at most %(n)d") % {"n": MAX_PEOPLE}
    return value


def _loss(errors: dict, value) -> Decimal:
    try:
        loss = Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        errors["direct_loss"] = _("must be an amount in CNY")
        return Decimal(0)
    if not loss.is_finite():
        errors["direct_loss"] = _("must be an amount in CNY")
    elif loss < 0:
        errors["direct_loss"] = _("cannot be negative")
    elif loss > MAX_LOSS:
        errors["direct_loss"] = _("is too large")
    elif loss != loss.quantize(Decimal("0.01")):
        errors["direct_loss"] = _("at most two decimal places")
    return loss


def _text(errors: dict, field: str, value: str, required: str | None, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if not value and required:
        errors[field] = required
    elif max_length and len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def check_casualties(errors: dict, *, is_near_miss: bool, deaths, serious_injuries, minor_injuries,
                     direct_loss) -> dict:
    figures = {"deaths": _count(errors, "deaths", deaths),
               "serious_injuries": _count(errors, "serious_injuries", serious_injuries),
               "minor_injuries": _count(errors, "minor_injuries", minor_injuries),
               "direct_loss": _loss(errors, direct_loss)}
    if is_near_miss and not errors and (figures["deaths"] or figures["serious_injuries"] or figures["minor_injuries"]):
        errors["is_near_miss"] = _("a near miss has no deaths or injuries; report it as an accident")
    return figures


def compute_grade(is_near_miss: bool, deaths: int, serious_injuries: int, direct_loss) -> str:
    """The accident's grade by the catalogue's thresholds; blank for a near miss."""
    if is_near_miss:
        return ""
    return grading.grade(deaths, serious_injuries, direct_loss, grade_levels()).code


def grade_at_least(grade: str, minimum: str) -> bool:
    return bool(grade) and GRADE_ORDER.index(grade) >= GRADE_ORDER.index(minimum)


def missing_findings(accident: Accident) -> list[str]:
    recorded = set(accident.findings.values_list("aspect", flat=True))
    return [a for a in A.values if a not in recorded]


def missing_text(missing: list[str]) -> str:
    return "; ".join(str(A(a).label) for a in missing)


# Consequences ------------------------------------------------------------------------------------
def due_consequences(accident: Accident) -> list[str]:
    """The task kinds the plan prescribes for this accident (fatal -> suspension; larger -> summons)."""
    rules = catalogue()["consequences"]
    kinds = []
    if accident.deaths >= int(rules["suspend_mine"]["min_deaths"]):
        kinds.append(K.SUSPEND_MINE)
    if grade_at_least(accident.grade, rules["summons"]["min_grade"]):
        kinds.append(K.SUMMONS)
    return kinds


def raise_consequences(actor: User | None, accident: Accident) -> list[FollowUpTask]:
    """Create the prescribed tasks not yet raised (idempotent) and tell their units. In the caller's transaction."""
    rules = catalogue()["consequences"]
    existing = set(accident.tasks.values_list("kind", flat=True))
    mine = accident.mine
    today = timezone.localdate()
    made = []
    for kind in due_consequences(accident):
        if kind in existing:
            continue
        rule = rules[kind]
        level = FollowUpTask.Level(rule["assignee"])
        assignee = county_organisation(mine) if level == FollowUpTask.Level.COUNTY else city_organisation()
        when = timezone.localtime(accident.occurred_at).strftime("%Y-%m-%d")
        if kind == K.SUSPEND_MINE:
            title = _("Suspend %(m)s for rectification after the fatal accident of %(d)s") % {"m": mine.name, "d": when}
            detail = _("%(n)d killed. The mine stops production until rectification is accepted.") % {
                "n": accident.deaths}
        else:
            parent = accident.parent_company or _("(parent company not yet identified)")
            title = _("Summon %(e)s and its parent company after the %(g)s accident of %(d)s") % {
                "e": mine.enterprise.name, "g": AccidentGrade(accident.grade).label, "d": when}
            detail = _("Company: %(e)s. Parent company: %(p)s.") % {"e": mine.enterprise.name, "p": parent}
        task = FollowUpTask.objects.create(mine=mine, accident=accident, kind=kind, level=level, assignee=assignee,
                                           title=title[:200], detail=detail,
                                           due_on=today + dt.timedelta(days=int(rule["due_days"])))
        audit.record(actor, AuditEvent.Action.CREATE, task, after=audit.snapshot(task))
        notify.send(_("Task: %(t)s (due %(d)s)") % {"t": task.title, "d": task.due_on}, task.detail,
                    accident_link(accident), organisations=[assignee])
        made.append(task)
    return made


# Report ------------------------------------------------------------------------------------------
def report_accident(actor: User, mine: Mine, *, occurred_at: dt.datetime, place: str, kind: str, summary: str,
                    deaths=0, serious_injuries=0, minor_injuries=0, direct_loss=0, is_near_miss: bool = False,
                    parent_company: str = "") -> Accident:
    """Report an accident or near miss; the grade is computed and the prescribed tasks raised."""
    if not may_report(actor, mine):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may report its accidents"))
    errors: dict[str, str] = {}
    if not isinstance(occurred_at, dt.datetime):
        errors["occurred_at"] = _("give the date and time of the accident")
    else:
        if timezone.is_naive(occurred_at):
            occurred_at = timezone.make_aware(occurred_at)
        if occurred_at > timezone.now():
            errors["occurred_at"] = _("cannot be in the future")
        elif occurred_at.year < 1950:
            errors["occurred_at"] = _("is too far in the past")
    place = _text(errors, "place", place, _("say where it happened"), Accident._meta.get_field("place").max_length)
    if kind not in AccidentKind.values:
        errors["kind"] = _("unknown kind of accident")
    summary = _text(errors, "summary", summary, _("summarise what happened"))
    parent_company = _text(errors, "parent_company", parent_company, None,
                           Accident._meta.get_field("parent_company").max_length)
    figures = check_casualties(errors, is_near_miss=bool(is_near_miss), deaths=deaths,
                               serious_injuries=serious_injuries, minor_injuries=minor_injuries,
                               direct_loss=direct_loss)
    if errors:
        raise ValidationError(errors)
    grade = compute_grade(bool(is_near_miss), figures["deaths"], figures["serious_injuries"], figures["direct_loss"])
    reporter = Accident.Reporter.ENTERPRISE if is_mine_owner(actor, mine) else Accident.Reporter.REGULATOR
    with transaction.atomic():
        audit.lock_chain()
        accident = Accident.objects.create(mine=mine, occurred_at=occurred_at, place=place, kind=kind,
                                           is_near_miss=bool(is_near_miss), summary=summary,
                                           parent_company=parent_company, grade=grade, reporter=reporter,
                                           reported_by=actor, **figures)
        audit.record(actor, AuditEvent.Action.CREATE, accident, after=audit.snapshot(accident))
        what = _("Near miss") if accident.is_near_miss else AccidentGrade(grade).label
        notify.send(_("%(w)s reported at %(m)s: %(d)d dead, %(s)d seriously injured") % {
            "w": what, "m": mine.name, "d": accident.deaths, "s": accident.serious_injuries},
            summary, accident_link(accident), organisations=[county_organisation(mine), city_organisation()])
        raise_consequences(actor, accident)
    return accident


def amend_casualties(actor: User, accident: Accident, *, deaths, serious_injuries, minor_injuries, direct_loss,
                     reason: str) -> Accident:
    """Correct the figures before the investigation concludes (a casualty may die later); regrade and raise
    any consequence now due. Tasks already raised stay."""
    if not may_report(actor, accident.mine):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may amend its accidents"))
    if accident.status not in (S.REPORTED, S.INVESTIGATING):
        raise InvalidTransition(_("the figures are fixed once the investigation concludes"))
    errors: dict[str, str] = {}
    figures = check_casualties(errors, is_near_miss=accident.is_near_miss, deaths=deaths,
                               serious_injuries=serious_injuries, minor_injuries=minor_injuries,
                               direct_loss=direct_loss)
    reason = _text(errors, "reason", reason, _("say why the figures change"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Accident, accident)
        if current.status not in (S.REPORTED, S.INVESTIGATING):
            raise InvalidTransition(_("the accident changed meanwhile; reload and try again"))
        before = audit.snapshot(current, CASUALTY_FIELDS)
        for field, value in figures.items():
            setattr(current, field, value)
        current.grade = compute_grade(current.is_near_miss, current.deaths, current.serious_injuries,
                                      current.direct_loss)
        current.save(update_fields=CASUALTY_FIELDS)
        old, new = audit.diff(before, audit.snapshot(current, CASUALTY_FIELDS))
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after={**new, "reason": reason})
        raise_consequences(actor, current)
    copy_back(current, accident)
    return accident


# Investigation -----------------------------------------------------------------------------------
def start_investigation(actor: User, accident: Accident) -> Accident:
    """reported -> investigating."""
    require_investigator(actor, accident.mine)
    if accident.status != S.REPORTED:
        raise InvalidTransition(_("only a reported accident can be taken under investigation"))
    with transaction.atomic():
        current = locked_row(Accident, accident)
        if current.status != S.REPORTED:
            raise InvalidTransition(_("the accident changed meanwhile; reload and try again"))
        current.status, current.investigation_started_at = S.INVESTIGATING, timezone.now()
        current.save(update_fields=["status", "investigation_started_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": S.REPORTED},
                     after={"status": S.INVESTIGATING})
    copy_back(current, accident)
    return accident


def record_finding(actor: User, accident: Accident, aspect: str, text: str) -> InvestigationFinding:
    """Record (or revise) one 四不放过 finding while the investigation runs."""
    require_investigator(actor, accident.mine)
    if accident.status != S.INVESTIGATING:
        raise InvalidTransition(_("findings are recorded only while the accident is under investigation"))
    errors: dict[str, str] = {}
    if aspect not in A.values:
        errors["aspect"] = _("unknown aspect of 四不放过")
    text = _text(errors, "text", text, _("write the finding"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Accident, accident)
        if current.status != S.INVESTIGATING:
            raise InvalidTransition(_("the accident changed meanwhile; reload and try again"))
        finding = InvestigationFinding.objects.filter(accident=current, aspect=aspect).first()
        if finding is None:
            finding = InvestigationFinding.objects.create(accident=current, aspect=aspect, text=text,
                                                          recorded_by=actor)
            audit.record(actor, AuditEvent.Action.CREATE, finding, after=audit.snapshot(finding))
        else:
            before = audit.snapshot(finding, ["text", "recorded_by", "recorded_at"])
            finding.text, finding.recorded_by, finding.recorded_at = text, actor, timezone.now()
            finding.save(update_fields=["text", "recorded_by", "recorded_at"])
            old, new = audit.diff(before, audit.snapshot(finding, ["text", "recorded_by", "recorded_at"]))
            audit.record(actor, AuditEvent.Action.UPDATE, finding, before=old, after=new)
    return finding


def conclude_investigation(actor: User, accident: Accident) -> Accident:
    """investigating -> concluded, only with all four findings recorded (the missing ones are named)."""
    require_investigator(actor, accident.mine)
    if accident.status != S.INVESTIGATING:
        raise InvalidTransition(_("only an accident under investigation can be concluded"))
    with transaction.atomic():
        current = locked_row(Accident, accident)
        if current.status != S.INVESTIGATING:
            raise InvalidTransition(_("the accident changed meanwhile; reload and try again"))
        missing = missing_findings(current)
        if missing:
            raise DomainError(_("四不放过: not yet recorded: %(m)s") % {"m": missing_text(missing)},
                              field="findings", code="findings_missing")
        current.status, current.concluded_at = S.CONCLUDED, timezone.now()
        current.save(update_fields=["status", "concluded_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": S.INVESTIGATING},
                     after={"status": S.CONCLUDED})
        notify.send(_("Accident investigation concluded: %(m)s") % {"m": current.mine.name}, "",
                    accident_link(current), organisations=[current.mine.enterprise.organisation,
                                                           county_organisation(current.mine)])
    copy_back(current, accident)
    return accident


def close_accident(actor: User, accident: Accident, *, note: str = "") -> Accident:
    """concluded -> closed. Closing before all four findings are recorded is refused naming the missing ones."""
    require_investigator(actor, accident.mine)
    if accident.status == S.CLOSED:
        raise InvalidTransition(_("the accident is already closed"))
    with transaction.atomic():
        current = locked_row(Accident, accident)
        missing = missing_findings(current)
        if missing:
            raise DomainError(_("四不放过: the case cannot be closed; not yet recorded: %(m)s") % {
                "m": missing_text(missing)}, field="findings", code="findings_missing")
        if current.status != S.CONCLUDED:
            raise InvalidTransition(_("conclude the investigation before closing the case"))
        current.status, current.closed_at, current.closure_note = S.CLOSED, timezone.now(), (note or "").strip()
        current.save(update_fields=["status", "closed_at", "closure_note"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": S.CONCLUDED},
                     after={"status": S.CLOSED, "closure_note": current.closure_note})
    copy_back(current, accident)
    return accident


# Tasks -------------------------------------------------------------------------------------------
def complete_task(actor: User, task: FollowUpTask, *, note: str) -> FollowUpTask:
    if not may_complete_task(actor, task):
        raise PermissionDenied(_("only the responsible unit or the city may complete this task"))
    if task.done_at is not None:
        raise InvalidTransition(_("the task is already done"))
    errors: dict[str, str] = {}
    note = _text(errors, "note", note, _("say what was done"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(FollowUpTask, task)
        if current.done_at is not None:
            raise InvalidTransition(_("the task changed meanwhile; reload and try again"))
        current.done_at, current.done_by, current.done_note = timezone.now(), actor, note
        current.save(update_fields=["done_at", "done_by", "done_note"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"done_at": None},
                     after={"done_at": current.done_at, "done_note": note})
    copy_back(current, task)
    return task


def suspension_target(mine: Mine) -> str | None:
    """The registry status a suspension order puts the mine in, or None when it is not working."""
    return {Mine.Status.PRODUCING: Mine.Status.SUSPENDED,
            Mine.Status.CONSTRUCTION: Mine.Status.CONSTRUCTION_HALTED}.get(mine.status)


def suspend_mine_for_task(actor: User, task: FollowUpTask, *, reason: str) -> FollowUpTask:
    """Carry out a suspension task: the mine's registry status changes (registry.change_status) and the task
    is done, in one transaction."""
    if task.kind != K.SUSPEND_MINE:
        raise InvalidTransition(_("only a suspension task suspends the mine"))
    if not may_complete_task(actor, task):
        raise PermissionDenied(_("only the responsible unit or the city may complete this task"))
    if task.done_at is not None:
        raise InvalidTransition(_("the task is already done"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("give the reason for the suspension")})
    mine = Mine.objects.get(pk=task.mine_id)
    target = suspension_target(mine)
    if target is None:
        raise InvalidTransition(_("the mine is %(s)s, not working; record what was done instead") % {
            "s": Mine.Status(mine.status).label})
    with transaction.atomic():
        audit.lock_chain()
        registry.change_status(actor, mine, target, reason=reason)
        return complete_task(actor, task, note=_("Mine status set to %(s)s: %(r)s") % {
            "s": Mine.Status(target).label, "r": reason})


# The case library --------------------------------------------------------------------------------
def add_to_library(actor: User, accident: Accident, *, title: str, lessons: str) -> AccidentCase:
    """A concluded (or closed) local accident becomes a case for warning education."""
    require_investigator(actor, accident.mine)
    if accident.status not in (S.CONCLUDED, S.CLOSED):
        raise InvalidTransition(_("only an accident whose investigation concluded joins the case library"))
    errors: dict[str, str] = {}
    title = _text(errors, "title", title, _("give the case a title"), AccidentCase._meta.get_field("title").max_length)
    lessons = _text(errors, "lessons", lessons, _("state the lessons"))
    if errors:
        raise ValidationError(errors)
    findings = {f.aspect: f.text for f in accident.findings.all()}
    mine = accident.mine
    narrative = "\n\n".join([accident.summary, *(f"{A(a).label}: {findings[a]}" for a in A.values if a in findings)])
    with transaction.atomic():
        current = locked_row(Accident, accident)
        if AccidentCase.objects.filter(accident=current).exists():
            raise DomainError(_("this accident is already in the case library"), code="duplicate")
        case = AccidentCase.objects.create(
            key=f"local:{current.pk}", source=AccidentCase.Source.LOCAL, title=title,
            occurred_on=timezone.localtime(current.occurred_at).date(), place=f"{mine.county} {mine.name}, "
            f"{current.place}"[:300], kind=current.kind, source_type=current.get_kind_display(),
            deaths=current.deaths, narrative=narrative, lessons=lessons, accident=current)
        audit.record(actor, AuditEvent.Action.CREATE, case, after=audit.snapshot(case))
    return case


# Overdue consequences ----------------------------------------------------------------------------
def remind_overdue_tasks(today: dt.date | None = None) -> tuple[int, int]:
    """Each open task past its due date: one reminder a day to its responsible unit, and to the city when
    the unit is a county. Returns (overdue, reminded)."""
    from minesafe.core.models import Notification

    today = today or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    overdue = reminded = 0
    for task in FollowUpTask.objects.overdue(today).select_related("mine", "assignee", "accident").order_by("pk"):
        overdue += 1
        link = (accident_link(task.accident) if task.accident_id else "") + f"#task-{task.pk}"
        if Notification.objects.filter(link=link, created_at__gte=start,
                                       created_at__lt=start + dt.timedelta(days=1)).exists():
            continue
        units = [task.assignee]
        if task.level == FollowUpTask.Level.COUNTY:
            units.append(city_organisation())
        with transaction.atomic():
            notify.send(_("Overdue: %(t)s was due on %(d)s (%(n)d days late)") % {
                "t": task.title, "d": task.due_on.isoformat(), "n": (today - task.due_on).days},
                task.mine.name, link, organisations=units)
        reminded += 1
    return overdue, reminded
