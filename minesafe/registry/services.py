"""Registry operations. Each function checks permission, validates, changes state and audits, in one
transaction. Views, the API and the Excel import call these; they never save models themselves."""

import calendar
import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.core.validators import credit_code_error

from . import classification
from .models import Enterprise, LedgerSubmission, Mine, MineStatusChange, ResponsibleLeader

S = Mine.Status
R = User.Role

# The mine status machine: (from, to) -> roles allowed. Closed is final.
STATUS_TRANSITIONS: dict[tuple[str, str], set[str]] = {
    (S.PRODUCING, S.SUSPENDED): {R.CITY, R.COUNTY, R.ENTERPRISE},
    (S.SUSPENDED, S.PRODUCING): {R.CITY, R.COUNTY},  # resumption needs the regulator's acceptance
    (S.CONSTRUCTION, S.PRODUCING): {R.CITY, R.COUNTY},
    (S.CONSTRUCTION, S.CONSTRUCTION_HALTED): {R.CITY, R.COUNTY, R.ENTERPRISE},
    (S.CONSTRUCTION_HALTED, S.CONSTRUCTION): {R.CITY, R.COUNTY},
    (S.PRODUCING, S.CONSTRUCTION): {R.CITY, R.COUNTY},  # expansion or rebuilding project
    (S.PRODUCING, S.CLOSED): {R.CITY, R.COUNTY},
    (S.SUSPENDED, S.CLOSED): {R.CITY, R.COUNTY},
    (S.CONSTRUCTION, S.CLOSED): {R.CITY, R.COUNTY},
    (S.CONSTRUCTION_HALTED, S.CLOSED): {R.CITY, R.COUNTY},
}

# Fields a mine's own enterprise may change; licences, grades and classes are the regulator's.
ENTERPRISE_EDITABLE = {
    "address", "longitude", "latitude", "people_underground", "current_pond_capacity", "current_dam_height",
    "slope_height", "downstream_within_1km",
}
MINE_FIELDS = [
    "name", "mine_type", "mineral", "address", "longitude", "latitude", "design_capacity", "scale_class",
    "licence_no", "licence_expiry", "standard_grade", "standard_date", "people_underground", "watch_headcount",
    "intelligent_level", "slope_height", "design_pond_capacity", "current_pond_capacity", "design_dam_height",
    "current_dam_height", "dam_method", "pond_grade_raised", "pond_grade_raise_reason", "is_head_pond",
    "downstream_within_1km",
]
TAILINGS_ONLY = {
    "design_pond_capacity", "current_pond_capacity", "design_dam_height", "current_dam_height", "dam_method",
    "pond_grade_raised", "pond_grade_raise_reason", "is_head_pond", "downstream_within_1km",
}
PIT_TYPES = {Mine.Type.OPEN_PIT, Mine.Type.QUARRY}


# Permissions -------------------------------------------------------------------------------------
def user_county_id(user: User) -> int | None:
    return user.organisation.region_id if user.role == R.COUNTY and user.organisation_id else None


def can_manage_mine(user: User, mine: Mine) -> bool:
    """Regulator rights over a mine: the city everywhere, a county over its own mines."""
    if is_city(user):
        return True
    return user.role == R.COUNTY and user_county_id(user) == mine.county_id


def is_mine_owner(user: User, mine: Mine) -> bool:
    return user.role == R.ENTERPRISE and bool(user.organisation_id) and (
        mine.enterprise.organisation_id == user.organisation_id
    )


def can_edit_mine(user: User, mine: Mine) -> bool:
    return can_manage_mine(user, mine) or is_mine_owner(user, mine)


def can_create_in_county(user: User, county: Region) -> bool:
    return is_city(user) or (user.role == R.COUNTY and user_county_id(user) == county.pk)


# Dates -------------------------------------------------------------------------------------------
def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def ledger_due_for_period(period: dt.date) -> dt.date:
    """The update for month M is due LEDGER_GRACE_DAYS after M ends."""
    last_day = period.replace(day=calendar.monthrange(period.year, period.month)[1])
    return last_day + dt.timedelta(days=settings.LEDGER_GRACE_DAYS)


def next_ledger_due(mine: Mine, registered_on: dt.date | None = None,
                    submitted: set[dt.date] | None = None) -> dt.date | None:
    """The due date of the first month, from the first one reported, that has no ledger yet.

    A skipped month therefore stays overdue until it is filled in; reporting later months does not
    hide it. A mine with no ledger yet owes one from the month it was registered.
    """
    if mine.status == S.CLOSED:
        return None
    if submitted is None:
        submitted = set(mine.ledger_submissions.values_list("period", flat=True)) if mine.pk else set()
    month = min(submitted) if submitted else month_start(registered_on or timezone.localdate())
    while month in submitted:
        month = add_months(month, 1)
    return ledger_due_for_period(month)


def registered_on(mine: Mine) -> dt.date | None:
    first = mine.status_changes.order_by("effective_date").values_list("effective_date", flat=True).first()
    return first or (timezone.localdate(mine.created_at) if mine.created_at else None)


# Validation and derived fields -------------------------------------------------------------------
def validate_mine(mine: Mine) -> None:
    """Cross-field rules that a single form field cannot check; raises ValidationError by field."""
    errors: dict[str, str] = {}
    today = timezone.localdate()
    for name in MINE_FIELDS:  # each column's own limits (digits, lengths, choices), whatever the input path
        value = getattr(mine, name)
        if value in (None, ""):
            continue
        try:
            Mine._meta.get_field(name).clean(value, mine)
        except ValidationError as exc:
            errors[name] = " ".join(exc.messages)
    if mine.county_id and mine.county.kind == Region.Kind.CITY:
        errors["county"] = _("choose a county-level unit, not the city")
    if mine.standard_date and mine.standard_date > today:
        errors["standard_date"] = _("cannot be in the future")
    if mine.standard_grade and not mine.standard_date:
        errors["standard_date"] = _("required when a standardisation grade is given")
    if mine.licence_expiry and mine.licence_expiry.year < 1990:
        errors["licence_expiry"] = _("is not a plausible date")
    if mine.longitude is not None and not Decimal("73") <= mine.longitude <= Decimal("136"):
        errors["longitude"] = _("must lie within China (73-136° E)")
    if mine.latitude is not None and not Decimal("3") <= mine.latitude <= Decimal("54"):
        errors["latitude"] = _("must lie within China (3-54° N)")
    if mine.people_underground and mine.mine_type != Mine.Type.UNDERGROUND:
        errors["people_underground"] = _("only underground mines have people underground")
    if not mine.is_tailings_pond:
        for name in TAILINGS_ONLY:
            value = getattr(mine, name)
            if value is not None and value != "" and value is not False:  # 0 is a value too
                errors[name] = _("applies to tailings ponds only")
    else:
        for design, current in (("design_dam_height", "current_dam_height"),
                                ("design_pond_capacity", "current_pond_capacity")):
            d, c = getattr(mine, design), getattr(mine, current)
            if d is not None and c is not None and c > d:
                errors[current] = _("exceeds the design value %(d)s") % {"d": d}
        if mine.pond_grade_raised and not mine.pond_grade_raise_reason:
            errors["pond_grade_raise_reason"] = _("give the review that raised the grade")
    if mine.slope_height is not None and mine.mine_type not in PIT_TYPES:
        errors["slope_height"] = _("applies to open pits and quarries only")
    if errors:
        raise ValidationError(errors)


def classification_catalogues() -> dict:
    """The active catalogues classification reads; load once when classifying many mines."""
    return {"scale": active_catalogue("scale"), "tailings": active_catalogue("tailings")}


def apply_classification(mine: Mine, catalogues: dict | None = None) -> None:
    """Scale class from the scale table where it decides, else keep an entered class; pond grade."""
    catalogues = catalogues or classification_catalogues()
    computed = None
    if mine.mine_type in {Mine.Type.UNDERGROUND, Mine.Type.OPEN_PIT, Mine.Type.QUARRY}:
        computed = classification.scale_class(catalogues["scale"], mine.mineral, mine.mine_type,
                                              mine.design_capacity)
    if computed:
        mine.scale_class, mine.scale_source = computed, Mine.ScaleSource.COMPUTED
    elif mine.scale_class:
        mine.scale_source = Mine.ScaleSource.ENTERED
    else:
        mine.scale_source = ""
    if mine.is_tailings_pond:
        mine.pond_grade = classification.pond_grade(
            catalogues["tailings"], mine.design_pond_capacity, mine.design_dam_height,
            raised=mine.pond_grade_raised, damless=mine.dam_method == Mine.DamMethod.DAMLESS,
        )
    else:
        mine.pond_grade = None


# Enterprises -------------------------------------------------------------------------------------
def get_or_create_enterprise(actor: User, name: str, credit_code: str, county: Region,
                             **details) -> tuple[Enterprise, bool]:
    """The enterprise with this credit code, created (with its organisation) if new.

    Permission comes first, and a conflict with a registration the actor cannot see is reported
    without naming it, so the registry cannot be probed through error messages.
    """
    if not can_create_in_county(actor, county):
        raise PermissionDenied(_("you may not register enterprises in %(c)s") % {"c": county})
    credit_code, name = credit_code.strip().upper(), name.strip()
    if reason := credit_code_error(credit_code):
        raise ValidationError({"credit_code": _("Invalid unified social credit code: %(r)s") % {"r": reason}})
    existing = Enterprise.objects.filter(credit_code=credit_code).first()
    if existing:
        if existing.name != name:
            visible = Enterprise.objects.visible_to(actor).filter(pk=existing.pk).exists()
            message = (_("belongs to %(n)s, not %(m)s") % {"n": existing.name, "m": name} if visible
                       else _("conflicts with an existing registration"))
            raise ValidationError({"credit_code": message})
        return existing, False
    if Organisation.objects.filter(kind=Organisation.Kind.ENTERPRISE, name=name).exists():
        raise ValidationError({"enterprise_name": _("an enterprise of this name is registered under another "
                                                    "credit code")})
    with transaction.atomic():
        org = Organisation.objects.create(kind=Organisation.Kind.ENTERPRISE, name=name, region=county)
        enterprise = Enterprise(name=name, credit_code=credit_code, organisation=org, county=county, **details)
        enterprise.full_clean(exclude=["organisation"])
        enterprise.save()
        audit.record(actor, AuditEvent.Action.CREATE, enterprise, after=audit.snapshot(enterprise))
    return enterprise, True


# Mines -------------------------------------------------------------------------------------------
def create_mine(actor: User, *, code: str, enterprise: Enterprise, county: Region, status: str = S.PRODUCING,
                status_since: dt.date | None = None, **fields) -> Mine:
    if not can_create_in_county(actor, county):
        raise PermissionDenied(_("you may not register mines in %(c)s") % {"c": county})
    if Mine.objects.filter(code=code).exists():
        raise DomainError(_("registry number %(c)s is already used") % {"c": code}, field="code", code="duplicate")
    mine = Mine(code=code, enterprise=enterprise, county=county, status=status,
                status_since=status_since or timezone.localdate(), **fields)
    validate_mine(mine)
    apply_classification(mine)
    mine.ledger_due_date = next_ledger_due(mine)
    with transaction.atomic():
        mine.save()
        MineStatusChange.objects.create(mine=mine, old_status="", new_status=status,
                                        effective_date=mine.status_since, reason=_("registered"), changed_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, mine, after=audit.snapshot(mine))
    return mine


def register_mine(actor: User, *, enterprise_name: str, credit_code: str, county: Region, code: str,
                  **fields) -> Mine:
    """A new mine and, if its credit code is new, its enterprise: both or neither."""
    with transaction.atomic():
        enterprise, _ = get_or_create_enterprise(actor, enterprise_name, credit_code, county)
        return create_mine(actor, code=code, enterprise=enterprise, county=county, **fields)


def update_mine(actor: User, mine: Mine, changes: dict) -> Mine:
    """Change ledger fields (not status: see change_status). Enterprises may change only their own fields."""
    unknown = set(changes) - set(MINE_FIELDS)
    if unknown:
        raise ValidationError({name: _("cannot be changed here") for name in unknown})
    if not can_manage_mine(actor, mine):
        if not is_mine_owner(actor, mine):
            raise PermissionDenied(_("you may not change this mine"))
        forbidden = {k for k, v in changes.items() if k not in ENTERPRISE_EDITABLE and getattr(mine, k) != v}
        if forbidden:
            raise PermissionDenied(_("an enterprise may not change: %(f)s") % {"f": ", ".join(sorted(forbidden))})
    with transaction.atomic():
        # Apply the changes to the row as it is now (locked), so a concurrent change is never undone.
        current = Mine.objects.select_for_update(of=("self",)).select_related("county").get(pk=mine.pk)
        before = audit.snapshot(current)
        for name, value in changes.items():
            setattr(current, name, value)
        validate_mine(current)
        apply_classification(current)
        after = audit.snapshot(current)
        old, new = audit.diff(before, after)
        if new:
            current.save(update_fields=[*[f.name for f in Mine._meta.concrete_fields
                                          if f.attname in new or f.name in new], "updated_at"])
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    for field in Mine._meta.concrete_fields:
        setattr(mine, field.attname, getattr(current, field.attname))
    return mine


# Later apps may bar a status change unless it comes through their own procedure: a guard takes
# (mine, new status, via) and returns the reason it is barred, or None. The operations app bars resumption
# of a suspended mine except through resumption acceptance (via="resumption_acceptance").
STATUS_GUARDS: list = []


def status_barred(mine: Mine, new_status: str, via: str | None = None) -> str | None:
    for guard in STATUS_GUARDS:
        reason = guard(mine, new_status, via)
        if reason:
            return reason
    return None


def allowed_transitions(user: User, mine: Mine) -> list[str]:
    if not can_edit_mine(user, mine):
        return []
    role = R.CITY if is_city(user) else user.role
    return [to for (frm, to), roles in STATUS_TRANSITIONS.items()
            if frm == mine.status and role in roles and not status_barred(mine, to)]


def change_status(actor: User, mine: Mine, new_status: str, *, reason: str,
                  effective_date: dt.date | None = None, via: str | None = None) -> MineStatusChange:
    if not can_edit_mine(actor, mine):
        raise PermissionDenied(_("you may not change this mine"))
    if new_status not in S.values:
        raise ValidationError({"status": _("unknown status %(s)s") % {"s": new_status}})
    roles = STATUS_TRANSITIONS.get((mine.status, new_status))
    if roles is None:
        raise InvalidTransition(_("a mine cannot go from %(a)s to %(b)s") % {
            "a": S(mine.status).label, "b": S(new_status).label})
    if (R.CITY if is_city(actor) else actor.role) not in roles:
        raise PermissionDenied(_("your role may not make this change"))
    barred = status_barred(mine, new_status, via)
    if barred:
        raise InvalidTransition(barred)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("a reason is required")})
    today = timezone.localdate()
    effective_date = effective_date or today
    if effective_date > today:
        raise ValidationError({"effective_date": _("cannot be in the future")})
    if mine.status_since and effective_date < mine.status_since:
        raise ValidationError({"effective_date": _("is before the current status began (%(d)s)") % {
            "d": mine.status_since}})
    with transaction.atomic():
        locked = Mine.objects.select_for_update().get(pk=mine.pk)
        if locked.status != mine.status:
            raise DomainError(_("the mine's status changed meanwhile; reload and try again"), field="status")
        change = MineStatusChange.objects.create(mine=mine, old_status=mine.status, new_status=new_status,
                                                 effective_date=effective_date, reason=reason.strip(),
                                                 changed_by=actor)
        before = {"status": locked.status, "status_since": locked.status_since}
        after = {"status": new_status, "status_since": effective_date, "reason": reason.strip()}
        fields = ["status", "status_since", "updated_at"]
        mine.status, mine.status_since = new_status, effective_date
        if new_status == S.CLOSED:  # other changes keep the deadline: an overdue ledger stays overdue
            before["ledger_due_date"], after["ledger_due_date"] = locked.ledger_due_date, None
            mine.ledger_due_date = None
            fields.append("ledger_due_date")
        mine.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, mine, before=before, after=after)
    return change


# Monthly ledger ----------------------------------------------------------------------------------
def submit_monthly_ledger(actor: User, mine: Mine, period: dt.date, *, people_underground: int | None = None,
                          output: Decimal | None = None, note: str = "") -> LedgerSubmission:
    if not can_edit_mine(actor, mine):
        raise PermissionDenied(_("you may not report for this mine"))
    period = month_start(period)
    if period >= month_start(timezone.localdate()):
        raise ValidationError({"period": _("report a month once it has ended")})
    registered = registered_on(mine)
    if registered and period < month_start(registered):
        raise ValidationError({"period": _("is before the mine was registered (%(d)s)") % {"d": registered}})
    if mine.status == S.CLOSED:
        raise DomainError(_("a closed mine has no monthly ledger"), field="mine")
    if LedgerSubmission.objects.filter(mine=mine, period=period).exists():
        raise DomainError(_("%(m)s already has a ledger for %(p)s") % {"m": mine, "p": f"{period:%Y-%m}"},
                          field="period", code="duplicate")
    if people_underground is not None and mine.mine_type != Mine.Type.UNDERGROUND and people_underground > 0:
        raise ValidationError({"people_underground": _("only underground mines have people underground")})
    if output is not None and output < 0:
        raise ValidationError({"output": _("cannot be negative")})
    previous = mine.ledger_submissions.filter(period__lt=period).order_by("-period").first()
    changes = {}
    if previous:
        for name, value in (("status", mine.status), ("people_underground", people_underground)):
            if getattr(previous, name) != value:
                changes[name] = [getattr(previous, name), value]
    with transaction.atomic():
        submission = LedgerSubmission.objects.create(
            mine=mine, period=period, status=mine.status, people_underground=people_underground, output=output,
            changes=changes, note=note.strip(), submitted_by=actor,
        )
        tracked = ["last_ledger_period", "ledger_due_date", "people_underground"]
        before = audit.snapshot(mine, tracked)
        if mine.last_ledger_period is None or period > mine.last_ledger_period:
            mine.last_ledger_period = period
        mine.ledger_due_date = next_ledger_due(mine)
        if people_underground is not None and mine.mine_type == Mine.Type.UNDERGROUND:
            mine.people_underground = people_underground
        old, new = audit.diff(before, audit.snapshot(mine, tracked))
        mine.save(update_fields=[*new, "updated_at"])
        audit.record(actor, AuditEvent.Action.CREATE, submission, after=audit.snapshot(submission))
        if new:  # the mine's own fields that the ledger moved are part of its history too
            audit.record(actor, AuditEvent.Action.UPDATE, mine, before=old, after=new)
    return submission


# 包保 leaders ------------------------------------------------------------------------------------
def assign_leader(actor: User, mine: Mine, *, name: str, post: str, level: str, start_date: dt.date,
                  phone: str = "", published: bool = True) -> ResponsibleLeader:
    if not can_manage_mine(actor, mine):
        raise PermissionDenied(_("you may not assign leaders to this mine"))
    leader = ResponsibleLeader(mine=mine, name=name.strip(), post=post.strip(), level=level, phone=phone,
                               start_date=start_date, published=published)
    leader.full_clean()
    with transaction.atomic():
        leader.save()
        audit.record(actor, AuditEvent.Action.CREATE, leader, after=audit.snapshot(leader))
    return leader


def end_leader(actor: User, leader: ResponsibleLeader, end_date: dt.date) -> ResponsibleLeader:
    if not can_manage_mine(actor, leader.mine):
        raise PermissionDenied(_("you may not change this assignment"))
    if end_date < leader.start_date:
        raise ValidationError({"end_date": _("is before the assignment began")})
    with transaction.atomic():
        before = {"end_date": leader.end_date}
        leader.end_date = end_date
        leader.save(update_fields=["end_date"])
        audit.record(actor, AuditEvent.Action.UPDATE, leader, before=before, after={"end_date": end_date})
    return leader
