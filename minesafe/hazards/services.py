"""Major-accident hazards: report → rectify under 五落实 → submit → verify and close (销号).

Every function checks permission, validates, changes state, audits and notifies in one transaction.
The daily escalation job (`escalate_due`) climbs the configured ladder one rung per run.
"""

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue, read_reference_yaml
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from .models import (
    DeadlineExtension,
    EscalationStep,
    Hazard,
    HazardAttachment,
    HazardCatalogue,
    HazardItem,
    HazardTransition,
    Investigation,
    SelfCheck,
)

logger = logging.getLogger("minesafe.hazards")
H = Hazard.Status
R = User.Role
REFERENCE = Path(__file__).resolve().parent / "reference"
OPEN_STATUSES = (H.REPORTED, H.RECTIFYING, H.SUBMITTED)

# The closed loop: (from, to) -> roles allowed. "enterprise" means the mine's own enterprise.
TRANSITIONS: dict[tuple[str, str], set[str]] = {
    (H.REPORTED, H.RECTIFYING): {R.CITY, R.COUNTY, R.ENTERPRISE},
    (H.RECTIFYING, H.SUBMITTED): {R.CITY, R.COUNTY, R.ENTERPRISE},
    (H.SUBMITTED, H.CLOSED): {R.CITY, R.COUNTY},
    (H.SUBMITTED, H.RECTIFYING): {R.CITY, R.COUNTY},  # verification rejected
    (H.CLOSED, H.RECTIFYING): {R.CITY, R.COUNTY},  # reopened after closure: a repeat offence
    (H.REPORTED, H.CANCELLED): {R.CITY, R.COUNTY},
    (H.RECTIFYING, H.CANCELLED): {R.CITY, R.COUNTY},
    (H.SUBMITTED, H.CANCELLED): {R.CITY, R.COUNTY},
}
PLAN_FIELDS = ["responsible_person", "measures", "funds", "deadline", "emergency_plan"]
ENTERPRISE_SOURCES = {Hazard.Source.SELF_CHECK}
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# Accepted uploads: extension -> (content type, magic bytes at the start of the file).
UPLOAD_TYPES = {
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"), ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"), ".pdf": ("application/pdf", b"%PDF-"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
}


# Reference data --------------------------------------------------------------------------------
def load_catalogue(filename: str = "hazard_standard_2022.yaml") -> HazardCatalogue:
    """Load a shipped version of the standard (idempotent: an existing version is left as it is)."""
    data = read_reference_yaml(REFERENCE / filename)
    meta = data["catalogue"]
    existing = HazardCatalogue.objects.filter(code=meta["id"]).first()
    if existing:
        return existing
    with transaction.atomic():
        catalogue = HazardCatalogue.objects.create(code=meta["id"], doc_no=meta["doc_no"], title=meta["title_zh"],
                                                   effective=dt.date.fromisoformat(meta["effective"]))
        HazardItem.objects.bulk_create([
            HazardItem(catalogue=catalogue, code=item["id"], facility_type=item["facility_type"],
                       title_zh=item["title_zh"], summary_en=item.get("summary_en", ""),
                       detectable_by=item.get("detectable_by", []), verified=item.get("confidence") == "verified",
                       evidence=item.get("evidence", ""))
            for item in data["items"]
        ])
        audit.record(None, AuditEvent.Action.CREATE, catalogue, after={"code": catalogue.code,
                                                                       "items": len(data["items"])})
    return catalogue


def ladder() -> dict:
    return active_catalogue("hazard_escalation")


# Permissions -------------------------------------------------------------------------------------
def role_for(user: User, mine: Mine) -> str | None:
    """The role a user acts in for this mine's hazards, or None when they may not act on it."""
    if is_city(user):
        return R.CITY
    if user.role == R.COUNTY and can_manage_mine(user, mine):
        return R.COUNTY
    if is_mine_owner(user, mine):
        return R.ENTERPRISE
    if user.role == R.INSPECTOR and user.mine_assignments.filter(mine=mine).exists():
        return R.INSPECTOR
    return None


def require_role(user: User, mine: Mine, allowed: set[str]) -> str:
    role = role_for(user, mine)
    if role is None or role not in allowed:
        raise PermissionDenied(_("your role may not do this for this mine"))
    return role


# Helpers -----------------------------------------------------------------------------------------
def next_number(mine: Mine, found_on: dt.date) -> str:
    prefix = f"YH{mine.county.code}{found_on:%Y%m}"
    last = Hazard.objects.filter(number__startswith=prefix).aggregate(m=Max("number"))["m"]
    serial = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{serial:04d}"


def organisations_for(hazard: Hazard, who: list[str]) -> list[Organisation]:
    orgs = []
    if "enterprise" in who:
        orgs.append(hazard.mine.enterprise.organisation)
    if "county" in who:
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=hazard.mine.county_id))
    if "city" in who:
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))
    return orgs


def hazard_link(hazard: Hazard) -> str:
    return f"/hazards/{hazard.pk}/"


def _notify(hazard: Hazard, subject: str, who: list[str]) -> None:
    notify.send(subject, f"{hazard.mine.name} · {hazard.item}", hazard_link(hazard),
                organisations=organisations_for(hazard, who))


def _validate_plan(hazard: Hazard) -> None:
    errors = {}
    if hazard.deadline and hazard.deadline < hazard.found_on:
        errors["deadline"] = _("cannot be before the date the hazard was found (%(d)s)") % {"d": hazard.found_on}
    if hazard.funds is not None and hazard.funds < 0:
        errors["funds"] = _("cannot be negative")
    if errors:
        raise ValidationError(errors)


def _record_transition(actor, hazard: Hazard, old: str, new: str, reason: str) -> None:
    HazardTransition.objects.create(hazard=hazard, old_status=old, new_status=new, reason=reason, actor=actor)
    audit.record(actor, AuditEvent.Action.TRANSITION, hazard, before={"status": old},
                 after={"status": new, "reason": reason})


def schedule_escalation(hazard: Hazard, today: dt.date | None = None, rules: dict | None = None) -> None:
    """Set `escalate_on`: the day the daily job should look at this hazard next."""
    today = today or timezone.localdate()
    rules = rules or ladder()
    if hazard.status == H.REPORTED and not hazard.plan_complete:  # first check the day after the plan was due
        hazard.escalate_on = hazard.found_on + dt.timedelta(days=rules["plan_due_days"] + 1)
    elif hazard.status in (H.REPORTED, H.RECTIFYING) and hazard.deadline:
        hazard.escalate_on = hazard.deadline + dt.timedelta(days=1)
    elif hazard.status == H.SUBMITTED:
        hazard.escalate_on = today + dt.timedelta(days=rules["verification_due_days"])
    else:
        hazard.escalate_on = None


# Reporting ---------------------------------------------------------------------------------------
def report_hazard(actor: User, mine: Mine, item: HazardItem, *, source: str, found_on: dt.date, description: str,
                  finder_name: str = "", city_supervised: bool = False, **plan) -> Hazard:
    role = require_role(actor, mine, {R.CITY, R.COUNTY, R.ENTERPRISE, R.INSPECTOR})
    errors = {}
    if source not in Hazard.Source.values:
        errors["source"] = _("unknown source")
    elif role == R.ENTERPRISE and source not in ENTERPRISE_SOURCES:
        errors["source"] = _("an enterprise reports hazards from its own self-check")
    if not item.catalogue.active:
        errors["item"] = _("this version of the standard is no longer in use")
    elif not item.fits(mine.mine_type):
        errors["item"] = _("item %(i)s does not apply to a %(t)s") % {"i": item.code,
                                                                      "t": Mine.Type(mine.mine_type).label}
    if found_on > timezone.localdate():
        errors["found_on"] = _("cannot be in the future")
    if not description.strip():
        errors["description"] = _("describe what was found")
    if city_supervised and role != R.CITY:
        errors["city_supervised"] = _("only the city places a hazard under its direct supervision")
    unknown = set(plan) - set(PLAN_FIELDS)
    if unknown:
        errors.update({k: _("unknown field") for k in unknown})
    if errors:
        raise ValidationError(errors)
    hazard = Hazard(mine=mine, item=item, source=source, found_by=actor, finder_name=finder_name or str(actor),
                    found_on=found_on, description=description.strip(), city_supervised=city_supervised,
                    **{k: (v.strip() if isinstance(v, str) else v) for k, v in plan.items()})
    _validate_plan(hazard)
    with transaction.atomic():
        hazard.number = next_number(mine, found_on)
        schedule_escalation(hazard)
        hazard.save()
        HazardTransition.objects.create(hazard=hazard, old_status="", new_status=H.REPORTED,
                                        reason=_("reported"), actor=actor)
        audit.record(actor, AuditEvent.Action.CREATE, hazard, after=audit.snapshot(hazard))
        detect_repeat(actor, hazard)
        _notify(hazard, _("Major hazard reported: %(n)s") % {"n": hazard.number}, ["enterprise", "county"])
    return hazard


def set_plan(actor: User, hazard: Hazard, changes: dict) -> Hazard:
    """Fill or change the 五落实 plan. Once rectifying, the deadline moves only by an approved extension."""
    require_role(actor, hazard.mine, {R.CITY, R.COUNTY, R.ENTERPRISE})
    if hazard.status not in (H.REPORTED, H.RECTIFYING):
        raise DomainError(_("the plan can change only before verification is requested"), field="status")
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError({k: _("not part of the 五落实 plan") for k in unknown})
    if hazard.status == H.RECTIFYING and "deadline" in changes and changes["deadline"] != hazard.deadline:
        raise DomainError(_("request a deadline extension instead of editing the deadline"), field="deadline")
    with transaction.atomic():
        # Work on the row as it is now (locked): a submission or escalation made meanwhile stands.
        current = Hazard.objects.select_for_update(of=("self",)).get(pk=hazard.pk)
        if current.status not in (H.REPORTED, H.RECTIFYING):
            raise DomainError(_("the hazard changed meanwhile; reload and try again"), field="status")
        if current.status == H.RECTIFYING and "deadline" in changes and changes["deadline"] != current.deadline:
            raise DomainError(_("request a deadline extension instead of editing the deadline"), field="deadline")
        before = audit.snapshot(current, PLAN_FIELDS)
        for key, value in changes.items():
            setattr(current, key, value.strip() if isinstance(value, str) else value)
        _validate_plan(current)
        old, new = audit.diff(before, audit.snapshot(current, PLAN_FIELDS))
        if new:
            schedule_escalation(current)
            current.save(update_fields=[*PLAN_FIELDS, "escalate_on"])
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    for field in Hazard._meta.concrete_fields:
        setattr(hazard, field.attname, getattr(current, field.attname))
    return hazard


# The closed loop ---------------------------------------------------------------------------------
def allowed_transitions(user: User, hazard: Hazard) -> list[str]:
    role = role_for(user, hazard.mine)
    return [to for (frm, to), roles in TRANSITIONS.items() if frm == hazard.status and role in roles]


def transition(actor: User, hazard: Hazard, new_status: str, *, reason: str) -> Hazard:
    if new_status not in H.values:
        raise ValidationError({"status": _("unknown status %(s)s") % {"s": new_status}})
    roles = TRANSITIONS.get((hazard.status, new_status))
    if roles is None:
        raise InvalidTransition(_("a hazard cannot go from %(a)s to %(b)s") % {
            "a": H(hazard.status).label, "b": H(new_status).label})
    require_role(actor, hazard.mine, roles)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("a reason is required")})
    if new_status == H.RECTIFYING and hazard.status == H.REPORTED and not hazard.plan_complete:
        missing = [str(Hazard._meta.get_field(f).verbose_name) for f in PLAN_FIELDS
                   if getattr(hazard, f) in (None, "") or (isinstance(getattr(hazard, f), str)
                                                           and not getattr(hazard, f).strip())]
        raise DomainError(_("the 五落实 plan is incomplete: %(f)s") % {"f": "、".join(missing)}, field="plan")
    if new_status == H.SUBMITTED and not hazard.attachments.filter(kind=HazardAttachment.Kind.RECTIFICATION).exists():
        raise DomainError(_("attach the rectification evidence before requesting verification"), field="evidence")
    if new_status == H.CLOSED and not hazard.attachments.filter(kind=HazardAttachment.Kind.VERIFICATION).exists():
        raise DomainError(_("attach the verification record before closing (销号)"), field="evidence")
    old = hazard.status
    with transaction.atomic():
        if Hazard.objects.filter(pk=hazard.pk, status=old).update(status=new_status) != 1:
            raise DomainError(_("the hazard changed meanwhile; reload and try again"), field="status")
        hazard.status = new_status
        hazard.closed_at = timezone.now() if new_status == H.CLOSED else None
        if old == H.CLOSED:  # reopened after closure
            hazard.is_repeat = True
        schedule_escalation(hazard)
        hazard.save(update_fields=["status", "closed_at", "is_repeat", "escalate_on"])
        _record_transition(actor, hazard, old, new_status, reason.strip())
        if old == H.CLOSED:
            open_investigation(actor, hazard)
        who = {H.RECTIFYING: ["enterprise", "county"], H.SUBMITTED: ["county"], H.CLOSED: ["enterprise", "county"],
               H.CANCELLED: ["enterprise", "county"]}[new_status]
        _notify(hazard, _("Hazard %(n)s: %(s)s") % {"n": hazard.number, "s": H(new_status).label}, who)
    return hazard


# Evidence ----------------------------------------------------------------------------------------
def add_attachment(actor: User, hazard: Hazard, kind: str, name: str, content: bytes) -> HazardAttachment:
    """Store a photo or document after checking its size and that its content matches its type."""
    from django.core.files.base import ContentFile

    allowed = {R.CITY, R.COUNTY} if kind == HazardAttachment.Kind.VERIFICATION else {
        R.CITY, R.COUNTY, R.ENTERPRISE, R.INSPECTOR}
    require_role(actor, hazard.mine, allowed)
    if kind not in HazardAttachment.Kind.values:
        raise ValidationError({"kind": _("unknown kind of attachment")})
    if not hazard.is_open and kind != HazardAttachment.Kind.DOCUMENT:
        raise DomainError(_("the hazard is %(s)s") % {"s": H(hazard.status).label}, field="status")
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ValidationError({"file": _("accepted types: %(t)s") % {"t": ", ".join(sorted(UPLOAD_TYPES))}})
    if len(content) > UPLOAD_MAX_BYTES:
        raise ValidationError({"file": _("the file is larger than %(n)d MB") % {"n": UPLOAD_MAX_BYTES // 2**20}})
    if not content:
        raise ValidationError({"file": _("the file is empty")})
    content_type, magic = UPLOAD_TYPES[suffix]
    if not content.startswith(magic):
        raise ValidationError({"file": _("the content is not a %(t)s file") % {"t": suffix}})
    safe_name = Path(name).name[-120:]
    with transaction.atomic():
        attachment = HazardAttachment(hazard=hazard, kind=kind, original_name=safe_name, content_type=content_type,
                                      size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                                      uploaded_by=actor)
        attachment.file.save(f"{attachment.sha256[:16]}{suffix}", ContentFile(content), save=False)
        attachment.save()
        audit.record(actor, AuditEvent.Action.CREATE, attachment, after={
            "hazard": hazard.pk, "kind": kind, "name": safe_name, "sha256": attachment.sha256})
    return attachment


# Deadline extensions -----------------------------------------------------------------------------
def request_extension(actor: User, hazard: Hazard, new_deadline: dt.date, reason: str) -> DeadlineExtension:
    require_role(actor, hazard.mine, {R.CITY, R.COUNTY, R.ENTERPRISE})
    if hazard.status not in (H.REPORTED, H.RECTIFYING) or hazard.deadline is None:
        raise DomainError(_("only a hazard being rectified, with a deadline, can have it extended"), field="status")
    if new_deadline <= hazard.deadline:
        raise ValidationError({"new_deadline": _("must be after the current deadline %(d)s") % {"d": hazard.deadline}})
    if not reason.strip():
        raise ValidationError({"reason": _("a reason is required")})
    if hazard.extensions.filter(status=DeadlineExtension.Status.PENDING).exists():
        raise DomainError(_("an extension request is already waiting for a decision"), field="extension")
    with transaction.atomic():
        extension = DeadlineExtension.objects.create(hazard=hazard, old_deadline=hazard.deadline,
                                                     new_deadline=new_deadline, reason=reason.strip(),
                                                     requested_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, extension, after=audit.snapshot(extension))
        _notify(hazard, _("Deadline extension requested: %(n)s") % {"n": hazard.number}, ["county"])
    return extension


def decide_extension(actor: User, extension: DeadlineExtension, *, approve: bool, note: str = "") -> DeadlineExtension:
    hazard = extension.hazard
    require_role(actor, hazard.mine, {R.CITY, R.COUNTY})
    if extension.status != DeadlineExtension.Status.PENDING:
        raise DomainError(_("this request was already decided"), field="status")
    if approve and hazard.status not in (H.REPORTED, H.RECTIFYING):
        raise DomainError(_("the hazard is %(s)s; a deadline no longer applies") % {"s": H(hazard.status).label},
                          field="status")
    with transaction.atomic():
        extension.status = DeadlineExtension.Status.APPROVED if approve else DeadlineExtension.Status.REJECTED
        extension.decided_by, extension.decided_at, extension.decision_note = actor, timezone.now(), note.strip()
        extension.save()
        audit.record(actor, AuditEvent.Action.TRANSITION, extension, before={"status": "pending"},
                     after={"status": extension.status, "note": extension.decision_note})
        if approve:
            before = {"deadline": hazard.deadline}
            hazard.deadline = extension.new_deadline
            schedule_escalation(hazard)
            hazard.save(update_fields=["deadline", "escalate_on"])
            audit.record(actor, AuditEvent.Action.UPDATE, hazard, before=before, after={"deadline": hazard.deadline})
        _notify(hazard, _("Deadline extension %(s)s: %(n)s") % {
            "s": DeadlineExtension.Status(extension.status).label, "n": hazard.number}, ["enterprise"])
    return extension


def set_city_supervision(actor: User, hazard: Hazard, supervised: bool) -> Hazard:
    """挂牌督办: the city takes a hazard under its direct supervision."""
    if not is_city(actor):
        raise PermissionDenied(_("only the city places a hazard under its direct supervision"))
    with transaction.atomic():
        before = {"city_supervised": hazard.city_supervised}
        hazard.city_supervised = supervised
        hazard.save(update_fields=["city_supervised"])
        audit.record(actor, AuditEvent.Action.UPDATE, hazard, before=before, after={"city_supervised": supervised})
        subject = (_("Hazard %(n)s is supervised by the city") if supervised
                   else _("City supervision of hazard %(n)s has ended")) % {"n": hazard.number}
        _notify(hazard, subject, ["enterprise", "county"])
    return hazard


# Escalation --------------------------------------------------------------------------------------
@dataclass
class EscalationRun:
    checked: int = 0
    escalated: int = 0
    failed: int = 0


def days_late(hazard: Hazard, today: dt.date, rules: dict) -> int:
    if hazard.status == H.REPORTED and not hazard.plan_complete:
        return (today - hazard.found_on).days - rules["plan_due_days"]
    if hazard.status == H.SUBMITTED:
        submitted = hazard.transitions.filter(new_status=H.SUBMITTED).order_by("-at").first()
        since = timezone.localdate(submitted.at) if submitted else today
        return (today - since).days - rules["verification_due_days"]
    if hazard.deadline:
        return (today - hazard.deadline).days
    return -1


def escalate_due(today: dt.date | None = None) -> EscalationRun:
    """The daily job: every open hazard whose check day has come climbs at most one rung.

    A rung is claimed with a conditional UPDATE on the hazard's level, so two workers never send one twice.
    """
    today = today or timezone.localdate()
    rules = ladder()
    rungs = rules["rungs"]
    run = EscalationRun()
    due = (Hazard.objects.filter(status__in=OPEN_STATUSES, escalate_on__lte=today)
           .select_related("mine__enterprise__organisation", "mine__county", "item"))
    for hazard in due.iterator(chunk_size=500):
        run.checked += 1
        late = days_late(hazard, today, rules)
        level = hazard.escalation_level
        if level >= len(rungs) or late < rungs[level]["after_days"]:
            _reschedule(hazard, today, rungs, late)
            continue
        rung = rungs[level]
        try:
            escalated = _climb(hazard, level, rung, late, today, rungs)
        except Exception:  # one bad row must not stop the morning run for every other hazard
            logger.exception("escalation of hazard %s failed", hazard.pk)
            run.failed += 1
            continue
        run.escalated += escalated
    return run


def _climb(hazard: Hazard, level: int, rung: dict, late: int, today: dt.date, rungs: list[dict]) -> int:
    """Record one rung for one hazard; 0 when another worker claimed it first."""
    with transaction.atomic():
        claimed = Hazard.objects.filter(pk=hazard.pk, escalation_level=level).update(escalation_level=level + 1)
        if claimed != 1:
            return 0
        hazard.escalation_level = level + 1
        orgs = organisations_for(hazard, rung["notify"])
        EscalationStep.objects.create(hazard=hazard, level=level + 1, rung=rung["code"], days_overdue=late,
                                      recipients=[o.name for o in orgs], at=_job_time(today))
        audit.record("system", AuditEvent.Action.TRANSITION, hazard, before={"escalation": level},
                     after={"escalation": level + 1, "rung": rung["code"], "days_late": late})
        notify.send(_("%(r)s: hazard %(n)s is %(d)d days late") % {
            "r": rung["zh"], "n": hazard.number, "d": max(late, 0)},
            f"{hazard.mine.name} · {hazard.item}", hazard_link(hazard), organisations=orgs)
        _reschedule(hazard, today, rungs, late)
    return 1


def _job_time(today: dt.date) -> dt.datetime:
    """When a step happened: now for today's run, the job's morning hour for a run on another day."""
    if today == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(dt.datetime.combine(today, dt.time(6, 5)))


def _reschedule(hazard: Hazard, today: dt.date, rungs: list[dict], late: int) -> None:
    """Next look: when the next rung becomes due (at least tomorrow), or never after the last rung."""
    level = hazard.escalation_level
    next_day = None if level >= len(rungs) else today + dt.timedelta(days=max(1, rungs[level]["after_days"] - late))
    Hazard.objects.filter(pk=hazard.pk).update(escalate_on=next_day)


# Repeat offenders --------------------------------------------------------------------------------
def detect_repeat(actor, hazard: Hazard) -> Hazard | None:
    """The same mine with the same standard item within the window: flag it and open an investigation."""
    window = dt.timedelta(days=ladder()["repeat_window_days"])
    # Both sides of the date: a backdated report pairs with a later hazard already on record.
    candidates = (Hazard.objects.filter(mine=hazard.mine, item__code=hazard.item.code,
                                        found_on__range=(hazard.found_on - window, hazard.found_on + window))
                  .exclude(pk=hazard.pk).exclude(status=H.CANCELLED))
    earlier = min(candidates, key=lambda h: abs((h.found_on - hazard.found_on).days), default=None)
    if earlier is None:
        return None
    Hazard.objects.filter(pk=hazard.pk).update(is_repeat=True, repeat_of=earlier)
    hazard.is_repeat, hazard.repeat_of = True, earlier
    open_investigation(actor, hazard, earlier)
    return earlier


def open_investigation(actor, hazard: Hazard, earlier: Hazard | None = None) -> Investigation:
    investigation = Investigation.objects.filter(mine=hazard.mine, status=Investigation.Status.OPEN).first()
    created = investigation is None
    if created:
        investigation = Investigation.objects.create(
            mine=hazard.mine, parent_company_note=hazard.mine.enterprise.name)
        audit.record(actor, AuditEvent.Action.CREATE, investigation, after={"mine": hazard.mine_id})
        notify.send(_("Repeat offence (屡改屡犯) at %(m)s: investigation opened") % {"m": hazard.mine.name},
                    str(hazard.item), hazard_link(hazard), organisations=organisations_for(hazard, ["county", "city"]))
    investigation.hazards.add(*(h for h in (hazard, earlier) if h is not None))
    return investigation


def conclude_investigation(actor: User, investigation: Investigation, *, team: str, cause: str, responsibility: str,
                           accountability_proposal: str, propose_closure: bool,
                           parent_company_note: str = "") -> Investigation:
    require_role(actor, investigation.mine, {R.CITY, R.COUNTY})
    if investigation.status != Investigation.Status.OPEN:
        raise DomainError(_("the investigation is already concluded"), field="status")
    fields = {"team": team, "cause": cause, "responsibility": responsibility,
              "accountability_proposal": accountability_proposal}
    missing = {k: _("required") for k, v in fields.items() if not v.strip()}
    if missing:
        raise ValidationError(missing)
    with transaction.atomic():
        for key, value in fields.items():
            setattr(investigation, key, value.strip())
        investigation.propose_closure = propose_closure
        investigation.parent_company_note = parent_company_note.strip() or investigation.parent_company_note
        investigation.status = Investigation.Status.CONCLUDED
        investigation.concluded_at = timezone.now()
        investigation.save()
        audit.record(actor, AuditEvent.Action.TRANSITION, investigation, before={"status": "open"},
                     after=audit.snapshot(investigation, [*fields, "propose_closure", "status"]))
    return investigation


# Monthly self-check ------------------------------------------------------------------------------
def submit_self_check(actor: User, mine: Mine, period: dt.date, *, hazards_found: int, led_by: str,
                      note: str = "") -> SelfCheck:
    require_role(actor, mine, {R.CITY, R.COUNTY, R.ENTERPRISE})
    period = period.replace(day=1)
    if period > timezone.localdate().replace(day=1):
        raise ValidationError({"period": _("cannot report a month that has not begun")})
    if hazards_found < 0:
        raise ValidationError({"hazards_found": _("cannot be negative")})
    if not led_by.strip():
        raise ValidationError({"led_by": _("name the principal head who led the check")})
    if mine.status == Mine.Status.CLOSED:
        raise DomainError(_("a closed mine files no self-checks"), field="mine")
    if SelfCheck.objects.filter(mine=mine, period=period).exists():
        raise DomainError(_("the self-check for %(p)s is already filed") % {"p": f"{period:%Y-%m}"},
                          field="period", code="duplicate")
    with transaction.atomic():
        check = SelfCheck.objects.create(mine=mine, period=period, hazards_found=hazards_found, led_by=led_by.strip(),
                                         note=note.strip(), submitted_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, check, after=audit.snapshot(check))
    return check


def self_check_overdue(mines, today: dt.date | None = None):
    """Producing mines without last month's self-check once its due date has passed."""
    from minesafe.registry.services import add_months, ledger_due_for_period

    today = today or timezone.localdate()
    period = add_months(today.replace(day=1), -1)
    if today <= ledger_due_for_period(period):
        period = add_months(period, -1)
    return (mines.filter(status=Mine.Status.PRODUCING)
            .exclude(self_checks__period=period)), period


def funds_total(hazards) -> Decimal:
    from django.db.models import Sum

    return hazards.aggregate(s=Sum("funds"))["s"] or Decimal(0)


# Analysis (动态分析) -------------------------------------------------------------------------------
def analysis(hazards, today: dt.date | None = None) -> dict:
    """Counts and trends over a (scoped, filtered) hazard queryset, all computed in the database."""
    from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
    from django.db.models.functions import TruncMonth

    from minesafe.registry.services import add_months

    today = today or timezone.localdate()
    open_q = Q(status__in=OPEN_STATUSES)
    overdue_q = Q(status__in=[H.REPORTED, H.RECTIFYING], deadline__lt=today)
    counts = dict(total=Count("id"), open=Count("id", filter=open_q), overdue=Count("id", filter=overdue_q),
                  closed=Count("id", filter=Q(status=H.CLOSED)))
    totals = hazards.aggregate(**counts, repeat=Count("id", filter=Q(is_repeat=True)),
                               supervised=Count("id", filter=Q(city_supervised=True) & open_q))
    to_close = hazards.filter(status=H.CLOSED, closed_at__isnull=False).aggregate(
        avg=Avg(ExpressionWrapper(F("closed_at") - F("reported_at"), output_field=DurationField())))["avg"]
    since = add_months(today.replace(day=1), -11)
    trend = {row["month"].strftime("%Y-%m") if hasattr(row["month"], "strftime") else str(row["month"])[:7]: row
             for row in hazards.filter(found_on__gte=since).annotate(month=TruncMonth("found_on"))
             .values("month").annotate(found=Count("id"), closed=Count("id", filter=Q(status=H.CLOSED)))
             .order_by("month")}
    months = [f"{add_months(since, i):%Y-%m}" for i in range(12)]
    return {
        "totals": totals,
        "avg_days_to_close": round(to_close.total_seconds() / 86400, 1) if to_close else None,
        "by_county": list(hazards.values("mine__county__code", "mine__county__name_zh").annotate(**counts)
                          .order_by("mine__county__code")),
        "by_mine_type": list(hazards.values("mine__mine_type").annotate(**counts).order_by("-total")),
        "by_item": list(hazards.values("item__code", "item__title_zh").annotate(**counts).order_by("-total")[:15]),
        "by_source": list(hazards.values("source").annotate(**counts).order_by("-total")),
        "by_status": list(hazards.values("status").annotate(total=Count("id")).order_by("status")),
        "trend": [{"month": m, "found": trend.get(m, {}).get("found", 0), "closed": trend.get(m, {}).get("closed", 0)}
                  for m in months],
    }


def work_list(hazards, today: dt.date | None = None) -> dict:
    """What a county works through each morning, most urgent first."""
    today = today or timezone.localdate()
    soon = today + dt.timedelta(days=7)
    base = hazards.select_related("mine__county", "item")
    return {
        "overdue": base.filter(status__in=[H.REPORTED, H.RECTIFYING], deadline__lt=today).order_by("deadline"),
        "awaiting_verification": base.filter(status=H.SUBMITTED).order_by("reported_at"),
        "plan_missing": base.filter(status=H.REPORTED).order_by("found_on"),
        "due_soon": base.filter(status=H.RECTIFYING, deadline__gte=today, deadline__lte=soon).order_by("deadline"),
        "extensions": DeadlineExtension.objects.filter(
            hazard__in=hazards, status=DeadlineExtension.Status.PENDING).select_related("hazard__mine"),
    }


def active_item(code: str) -> HazardItem:
    """The item with this code in the newest active version of the standard."""
    item = (HazardItem.objects.filter(code=code.strip().upper(), catalogue__active=True)
            .select_related("catalogue").order_by("-catalogue__effective").first())
    if item is None:
        raise ValidationError({"item": _("no standard item %(c)s in an active version") % {"c": code}})
    return item
