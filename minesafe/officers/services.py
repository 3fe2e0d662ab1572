"""Enforcement staff, experts and their training: who may manage whom, the ledger's changes (audited), and
the training status task 30 asks for — every officer trained within the window (three years by default)."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue

from .models import Officer, OfficerTraining

BODY_KINDS = (Organisation.Kind.CITY_BUREAU, Organisation.Kind.COUNTY, Organisation.Kind.INSPECTION_BODY)
EDITABLE = ("name", "post", "speciality", "certificate_no", "certificate_expiry", "registered_safety_engineer",
            "user")
MAX_HOURS = Decimal("500")


def catalogue() -> dict:
    return active_catalogue("officers")


def specialities() -> dict[str, str]:
    return dict(catalogue().get("specialities", {}))


def window_years() -> int:
    return int(catalogue().get("training_window_years", 3))


def target_date() -> dt.date:
    return dt.date.fromisoformat(str(catalogue().get("training_target_date", "2026-12-31")))


# Who may do what ---------------------------------------------------------------------------------
def may_manage(user, organisation: Organisation) -> bool:
    """The city manages every body's ledger; a county manages its own officers."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_city(user):
        return True
    return user.role == User.Role.COUNTY and user.organisation_id == organisation.pk


def require_manage(user, organisation: Organisation) -> None:
    if not may_manage(user, organisation):
        raise PermissionDenied(_("only the city or the officer's own county may change this ledger"))


def manageable_bodies(user):
    bodies = Organisation.objects.filter(kind__in=BODY_KINDS)
    if is_city(user):
        return bodies
    if user.is_authenticated and user.role == User.Role.COUNTY:
        return bodies.filter(pk=user.organisation_id)
    return bodies.none()


# Validation --------------------------------------------------------------------------------------
def _clean(errors: dict, organisation: Organisation, data: dict, today: dt.date) -> dict:
    clean = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("required")
    elif len(name) > 64:
        errors["name"] = _("at most 64 characters")
    clean["name"] = name
    clean["post"] = (data.get("post") or "").strip()[:64]
    kind = data.get("kind", Officer.Kind.STAFF)
    if kind not in Officer.Kind.values:
        errors["kind"] = _("choose officer, expert or technical inspector")
    clean["kind"] = kind
    speciality = (data.get("speciality") or "").strip()
    if speciality and speciality not in specialities():
        errors["speciality"] = _("unknown speciality; choose one of %(s)s") % {"s": ", ".join(specialities())}
    elif kind in (Officer.Kind.EXPERT, Officer.Kind.TECHNICAL) and not speciality:
        errors["speciality"] = _("an expert or technical inspector needs a speciality")
    clean["speciality"] = speciality
    number = (data.get("certificate_no") or "").strip()
    expiry = data.get("certificate_expiry")
    if len(number) > 32:
        errors["certificate_no"] = _("at most 32 characters")
    if expiry and not number:
        errors["certificate_no"] = _("a validity date needs the certificate number")
    clean["certificate_no"], clean["certificate_expiry"] = number, expiry or None
    clean["registered_safety_engineer"] = bool(data.get("registered_safety_engineer"))
    user = data.get("user")
    if user is not None and user.organisation_id != organisation.pk:
        errors["user"] = _("the login belongs to another body")
    clean["user"] = user
    if "joined_on" in data:
        joined = data.get("joined_on")
        if joined is None:
            errors["joined_on"] = _("required")
        elif joined > today:
            errors["joined_on"] = _("cannot be in the future")
        clean["joined_on"] = joined
    return clean


def _save(officer: Officer, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            officer.save(update_fields=fields)
    except IntegrityError as exc:
        if "certificate" in str(exc).lower() or "officer_certificate_unique" in str(exc):
            raise ValidationError({"certificate_no": _("another officer holds this certificate number")}) from exc
        if "user" in str(exc).lower():
            raise ValidationError({"user": _("this login is already linked to another officer")}) from exc
        raise


# The ledger --------------------------------------------------------------------------------------
def add_officer(actor: User, organisation: Organisation, **data) -> Officer:
    require_manage(actor, organisation)
    errors: dict[str, str] = {}
    if organisation.kind not in BODY_KINDS:
        errors["organisation"] = _("officers belong to the city bureau, a county or an inspection body")
    clean = _clean(errors, organisation, {"joined_on": data.get("joined_on"), **data}, timezone.localdate())
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        officer = Officer(organisation=organisation, **clean)
        _save(officer)
        audit.record(actor, AuditEvent.Action.CREATE, officer, after=audit.snapshot(officer))
    return officer


def update_officer(actor: User, officer: Officer, **changes) -> Officer:
    require_manage(actor, officer.organisation)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: _("cannot be changed here") for name in sorted(unknown)})
    data = {name: getattr(officer, name) for name in EDITABLE} | {"kind": officer.kind} | changes
    errors: dict[str, str] = {}
    clean = _clean(errors, officer.organisation, data, timezone.localdate())
    if errors:
        raise ValidationError(errors)
    fields = [name for name in EDITABLE if clean[name] != getattr(officer, name)]
    if not fields:
        return officer
    with transaction.atomic():
        current = locked_row(Officer, officer)
        before = audit.snapshot(current, fields)
        for name in fields:
            setattr(current, name, clean[name])
        _save(current, fields)
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before, after=audit.snapshot(current, fields))
    copy_back(current, officer)
    return officer


def mark_left(actor: User, officer: Officer, left_on: dt.date, reason: str) -> Officer:
    require_manage(actor, officer.organisation)
    errors = {}
    if officer.status == Officer.Status.LEFT:
        raise DomainError(_("this officer has already left"), field="status")
    if left_on is None or left_on > timezone.localdate():
        errors["left_on"] = _("a date not in the future")
    elif left_on < officer.joined_on:
        errors["left_on"] = _("cannot be before the officer joined")
    if not (reason or "").strip():
        errors["reason"] = _("give the reason")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Officer, officer)
        before = audit.snapshot(current, ["status", "left_on"])
        current.status, current.left_on = Officer.Status.LEFT, left_on
        current.save(update_fields=["status", "left_on"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after={**audit.snapshot(current, ["status", "left_on"]), "reason": reason.strip()})
    copy_back(current, officer)
    return officer


def record_training(actor: User, officers: list[Officer], *, course: str, kind: str, provider: str,
                    start_on: dt.date, end_on: dt.date, hours, failed: tuple[int, ...] = ()) -> list[OfficerTraining]:
    """One course attended by several officers: a row each (those in `failed` did not pass its assessment).
    All or nothing: one officer outside the actor's remit or already recorded refuses the whole record."""
    errors: dict[str, str] = {}
    if not officers:
        errors["officers"] = _("choose the officers who attended")
    for officer in officers:
        if not may_manage(actor, officer.organisation):
            raise PermissionDenied(_("%(n)s is not in your ledger") % {"n": officer.name})
        if officer.status != Officer.Status.ACTIVE:
            errors["officers"] = _("%(n)s has left") % {"n": officer.name}
    course, provider = (course or "").strip(), (provider or "").strip()
    if not course:
        errors["course"] = _("required")
    if not provider:
        errors["provider"] = _("required")
    if kind not in OfficerTraining.Kind.values:
        errors["kind"] = _("unknown kind of training")
    today = timezone.localdate()
    if start_on is None or end_on is None:
        errors["start_on"] = _("give the dates")
    elif end_on < start_on:
        errors["end_on"] = _("cannot be before the start")
    elif end_on > today:
        errors["end_on"] = _("record a training once it has ended")
    try:
        hours = Decimal(str(hours))
        if not (Decimal("0") < hours <= MAX_HOURS):
            errors["hours"] = _("between 0 and %(m)s") % {"m": MAX_HOURS}
    except (InvalidOperation, ValueError):
        errors["hours"] = _("a number of hours")
    if not errors and OfficerTraining.objects.filter(officer__in=officers, course=course, start_on=start_on).exists():
        errors["officers"] = _("this course on this date is already recorded for some of these officers")
    if errors:
        raise ValidationError(errors)
    rows = [OfficerTraining(officer=o, course=course, kind=kind, provider=provider, start_on=start_on, end_on=end_on,
                            hours=hours, passed=o.pk not in failed, recorded_by=actor) for o in officers]
    with transaction.atomic():
        OfficerTraining.objects.bulk_create(rows)
        audit.record_many(actor, [audit.Change(AuditEvent.Action.CREATE, row, after=audit.snapshot(row))
                                  for row in rows])
    return rows


# Training status (task 30) -----------------------------------------------------------------------
@dataclass(frozen=True)
class OfficerStatus:
    officer: Officer
    last_trained: dt.date | None
    trained: bool  # a passed training ended within the window
    certificate: str  # "none", "valid", "expiring", "expired"


def window_start(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - window_years())
    except ValueError:  # 29 February
        return today.replace(year=today.year - window_years(), day=28)


def certificate_state(officer: Officer, today: dt.date) -> str:
    if not officer.certificate_no or officer.certificate_expiry is None:
        return "none" if not officer.certificate_no else "valid"
    if officer.certificate_expiry < today:
        return "expired"
    warning = int(catalogue().get("certificate_warning_days", 60))
    return "expiring" if officer.certificate_expiry <= today + dt.timedelta(days=warning) else "valid"


def statuses(officers, today: dt.date | None = None) -> list[OfficerStatus]:
    today = today or timezone.localdate()
    since = window_start(today)
    officers = list(officers)
    last: dict[int, dt.date] = {}
    for officer_id, end_on in OfficerTraining.objects.filter(
            officer__in=officers, passed=True, end_on__lte=today).values_list("officer_id", "end_on"):
        if officer_id not in last or end_on > last[officer_id]:
            last[officer_id] = end_on
    return [OfficerStatus(o, last.get(o.pk), last.get(o.pk) is not None and last[o.pk] >= since,
                          certificate_state(o, today)) for o in officers]


@dataclass
class BodySummary:
    organisation: Organisation
    staff: int = 0
    trained: int = 0
    experts: int = 0
    technical: int = 0
    engineers: int = 0
    certificates_expired: int = 0
    certificates_expiring: int = 0
    untrained: list[Officer] = field(default_factory=list)

    @property
    def trained_ratio(self) -> float | None:
        return self.trained / self.staff if self.staff else None


def summary(officers, today: dt.date | None = None) -> list[BodySummary]:
    """Per body, active officers only: enforcement staff trained within the window (the task-30 share), experts
    and technical inspectors, registered safety engineers, certificates to renew."""
    active = officers.filter(status=Officer.Status.ACTIVE).select_related("organisation")
    bodies: dict[int, BodySummary] = {}
    for state in statuses(active, today):
        officer = state.officer
        body = bodies.setdefault(officer.organisation_id, BodySummary(officer.organisation))
        if officer.kind == Officer.Kind.STAFF:
            body.staff += 1
            body.trained += state.trained
            if not state.trained:
                body.untrained.append(officer)
        elif officer.kind == Officer.Kind.EXPERT:
            body.experts += 1
        else:
            body.technical += 1
        body.engineers += officer.registered_safety_engineer
        body.certificates_expired += state.certificate == "expired"
        body.certificates_expiring += state.certificate == "expiring"
    return sorted(bodies.values(), key=lambda b: (b.organisation.kind != Organisation.Kind.CITY_BUREAU,
                                                  b.organisation.region.code, b.organisation.name))
