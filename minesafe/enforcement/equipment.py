"""The enforcement equipment ledger (执法装备, plan task 31): each inspecting body's drones, body cameras,
terminals, detectors and vehicles, with status, the person holding it and its periodic check; and each body's
kit against the minimum the catalogue sets (reference/plans.yaml, `equipment`).

Status: in service <-> under repair, either -> retired (final); every move is audited with its reason. The
next check is a column (`next_check_due`), recomputed whenever the item is checked or changes kind. The city
keeps every ledger; a county its own; nobody else sees any.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.registry.excel import safe_cell

from . import plans
from .models import EquipmentItem

K = EquipmentItem.Kind
ST = EquipmentItem.Status
OLDEST = dt.date(1990, 1, 1)
EDITABLE = ["kind", "model", "serial_number", "acquired_on", "assigned_to", "note"]

# (from, to): the moves an item's status may make. Retired is final.
TRANSITIONS: set[tuple[str, str]] = {
    (ST.IN_SERVICE, ST.UNDER_REPAIR),
    (ST.UNDER_REPAIR, ST.IN_SERVICE),
    (ST.IN_SERVICE, ST.RETIRED),
    (ST.UNDER_REPAIR, ST.RETIRED),
}


def rules() -> dict:
    return plans.catalogue()["equipment"]


def check_interval(kind: str, cat: dict | None = None) -> int | None:
    days = (cat or rules()).get("check_interval_days", {}).get(kind)
    return int(days) if days else None


def next_check(item: EquipmentItem, cat: dict | None = None) -> dt.date | None:
    """The last check (or the acquisition) plus the kind's interval; None for a retired item or no interval."""
    days = check_interval(item.kind, cat)
    if item.status == ST.RETIRED or not days:
        return None
    return (item.last_checked_on or item.acquired_on) + dt.timedelta(days=days)


# Permissions -------------------------------------------------------------------------------------
def may_manage(user, organisation: Organisation) -> bool:
    """The body's own staff keep its ledger; the city keeps any body's."""
    return plans.may_plan_for(user, organisation)


def require_manager(user, organisation: Organisation) -> None:
    if not may_manage(user, organisation):
        raise PermissionDenied(_("only the body's own staff or the city keep its equipment ledger"))


def managed_bodies(user):
    """The bodies whose ledger the user may add to."""
    bodies = plans.inspecting_bodies()
    if is_city(user):
        return bodies
    return bodies.filter(pk=user.organisation_id) if user.is_authenticated and user.role == User.Role.COUNTY \
        else bodies.none()


# Validation --------------------------------------------------------------------------------------
def _date(errors: dict, name: str, value, required: bool = True, not_before: dt.date | None = None):
    if value is None and not required:
        return None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        errors[name] = _("give a date")
        return None
    if value > timezone.localdate():
        errors[name] = _("cannot be in the future")
    elif value < OLDEST:
        errors[name] = _("is too far in the past")
    elif not_before and value < not_before:
        errors[name] = _("cannot be before the item was acquired (%(d)s)") % {"d": not_before.isoformat()}
    return value


def _clean(organisation: Organisation, values: dict, item: EquipmentItem | None = None) -> dict:
    errors: dict[str, str] = {}
    if values["kind"] not in K.values:
        errors["kind"] = _("unknown kind of equipment")
    for name, required in (("model", _("give the model")), ("serial_number", _("give the serial number")),
                           ("assigned_to", None), ("note", None)):
        max_length = EquipmentItem._meta.get_field(name).max_length
        values[name] = plans.clean_text(errors, name, values.get(name), required, max_length)
    values["acquired_on"] = _date(errors, "acquired_on", values.get("acquired_on"))
    if "last_checked_on" in values:
        values["last_checked_on"] = _date(errors, "last_checked_on", values["last_checked_on"], required=False,
                                          not_before=values["acquired_on"] if "acquired_on" not in errors else None)
    elif item is not None and item.last_checked_on and values["acquired_on"] and "acquired_on" not in errors \
            and item.last_checked_on < values["acquired_on"]:
        errors["acquired_on"] = _("cannot be after the last check (%(d)s)") % {"d": item.last_checked_on.isoformat()}
    serial = values.get("serial_number")
    if serial and "serial_number" not in errors:
        clash = EquipmentItem.objects.filter(organisation=organisation, serial_number__iexact=serial)
        if item is not None:
            clash = clash.exclude(pk=item.pk)
        if clash.exists():
            errors["serial_number"] = _("%(o)s already has an item with this serial number") % {"o": organisation}
    if errors:
        raise ValidationError(errors)
    return values


def _duplicate(exc: IntegrityError, organisation) -> DomainError:
    return DomainError(_("%(o)s already has an item with this serial number") % {"o": organisation},
                       field="serial_number", code="duplicate")


# Operations --------------------------------------------------------------------------------------
def add_item(actor: User, organisation: Organisation, *, kind: str, model: str, serial_number: str,
             acquired_on: dt.date, assigned_to: str = "", last_checked_on: dt.date | None = None,
             note: str = "") -> EquipmentItem:
    if organisation is None or organisation.kind not in plans.BODY_KINDS:
        raise ValidationError({"organisation": _("equipment belongs to the city bureau or a county government")})
    require_manager(actor, organisation)
    values = _clean(organisation, {"kind": kind, "model": model, "serial_number": serial_number,
                                   "acquired_on": acquired_on, "assigned_to": assigned_to,
                                   "last_checked_on": last_checked_on, "note": note})
    with transaction.atomic():
        audit.lock_chain()
        item = EquipmentItem(organisation=organisation, status_since=values["acquired_on"], **values)
        item.next_check_due = next_check(item)
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError as exc:  # a parallel request registered the same serial number
            raise _duplicate(exc, organisation) from exc
        audit.record(actor, AuditEvent.Action.CREATE, item, after=audit.snapshot(item))
    return item


def update_item(actor: User, item: EquipmentItem, **changes) -> EquipmentItem:
    """Change the item's particulars (kind, model, serial number, acquisition date, holder, note)."""
    require_manager(actor, item.organisation)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("cannot be changed here")})
    if item.status == ST.RETIRED:
        raise InvalidTransition(_("a retired item is kept as it was"))
    values = _clean(item.organisation, {name: changes.get(name, getattr(item, name)) for name in EDITABLE}, item)
    with transaction.atomic():
        current = locked_row(EquipmentItem, item)
        if current.status == ST.RETIRED:
            raise InvalidTransition(_("the item changed meanwhile; reload and try again"))
        fields = [*EDITABLE, "next_check_due"]
        before = audit.snapshot(current, fields)
        for name, value in values.items():
            setattr(current, name, value)
        current.next_check_due = next_check(current)
        try:
            with transaction.atomic():
                current.save(update_fields=fields)
        except IntegrityError as exc:
            raise _duplicate(exc, item.organisation) from exc
        old, new = audit.diff(before, audit.snapshot(current, fields))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    copy_back(current, item)
    return item


def record_check(actor: User, item: EquipmentItem, *, checked_on: dt.date, note: str = "") -> EquipmentItem:
    """The item was checked (calibrated, inspected) on that day: the next check falls due an interval later."""
    require_manager(actor, item.organisation)
    if item.status == ST.RETIRED:
        raise InvalidTransition(_("a retired item is not checked"))
    errors: dict[str, str] = {}
    checked_on = _date(errors, "checked_on", checked_on, not_before=item.acquired_on)
    note = plans.clean_text(errors, "note", note, None, 500)
    if not errors and item.last_checked_on and checked_on < item.last_checked_on:
        errors["checked_on"] = _("is before the last check (%(d)s)") % {"d": item.last_checked_on.isoformat()}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(EquipmentItem, item)
        if current.status == ST.RETIRED:
            raise InvalidTransition(_("the item changed meanwhile; reload and try again"))
        before = audit.snapshot(current, ["last_checked_on", "next_check_due"])
        current.last_checked_on = checked_on
        current.next_check_due = next_check(current)
        current.save(update_fields=["last_checked_on", "next_check_due"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before, after={
            **audit.snapshot(current, ["last_checked_on", "next_check_due"]), "check_note": note})
    copy_back(current, item)
    return item


def allowed_statuses(item: EquipmentItem) -> list[str]:
    return [to for frm, to in sorted(TRANSITIONS) if frm == item.status]


def change_status(actor: User, item: EquipmentItem, to: str, *, reason: str,
                  on: dt.date | None = None) -> EquipmentItem:
    """Move the item along TRANSITIONS (to repair, back in service, retired) with the reason."""
    require_manager(actor, item.organisation)
    if to not in ST.values:
        raise ValidationError({"status": _("unknown status")})
    if (item.status, to) not in TRANSITIONS:
        raise InvalidTransition(_("an item that is %(s)s cannot become %(t)s") % {
            "s": ST(item.status).label, "t": ST(to).label})
    errors: dict[str, str] = {}
    reason = plans.clean_text(errors, "reason", reason, _("give the reason"), 500)
    on = _date(errors, "on", on or timezone.localdate(), not_before=item.status_since)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(EquipmentItem, item)
        if current.status != item.status:
            raise InvalidTransition(_("the item changed meanwhile; reload and try again"))
        fields = ["status", "status_since", "next_check_due"]
        before = audit.snapshot(current, fields)
        current.status, current.status_since = to, on
        current.next_check_due = next_check(current)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after={**audit.snapshot(current, fields), "reason": reason})
    copy_back(current, item)
    return item


# Kit against the minimum -------------------------------------------------------------------------
@dataclass
class KitLine:
    kind: str
    label: str
    minimum: int = 0
    in_service: int = 0
    under_repair: int = 0

    @property
    def short(self) -> int:
        return max(0, self.minimum - self.in_service)


@dataclass
class BodyKit:
    organisation: Organisation
    lines: list[KitLine] = field(default_factory=list)
    checks_overdue: int = 0
    total_in_service: int = 0

    @property
    def shortfalls(self) -> list[KitLine]:
        return [line for line in self.lines if line.short]

    @property
    def below_minimum(self) -> bool:
        return bool(self.shortfalls)

    @property
    def shortfall_text(self) -> str:
        return "; ".join(f"{line.label} −{line.short}" for line in self.shortfalls)


def minimum_kit(organisation: Organisation, cat: dict | None = None) -> dict[str, int]:
    kit = (cat or rules()).get("minimum_kit", {}).get(organisation.kind) or {}
    return {k: int(v) for k, v in kit.items() if k in K.values}


def kit_summary(user, today: dt.date | None = None) -> list[BodyKit]:
    """Each body the user sees (the city: every body, with or without items) against its minimum kit. Only items
    in service count toward the minimum."""
    today = today or timezone.localdate()
    cat = rules()
    items = EquipmentItem.objects.visible_to(user)
    if is_city(user):
        bodies = list(plans.inspecting_bodies())
    elif user.is_authenticated and user.role == User.Role.COUNTY and user.organisation_id:
        bodies = list(plans.inspecting_bodies().filter(pk=user.organisation_id))
    else:
        return []
    counts: dict[tuple[int, str, str], int] = {}
    overdue: dict[int, int] = {}
    for org_id, kind, status, due in items.values_list("organisation_id", "kind", "status", "next_check_due"):
        counts[(org_id, kind, status)] = counts.get((org_id, kind, status), 0) + 1
        if status != ST.RETIRED and due and due < today:
            overdue[org_id] = overdue.get(org_id, 0) + 1
    summary = []
    for body in bodies:
        kit = minimum_kit(body, cat)
        row = BodyKit(body, checks_overdue=overdue.get(body.pk, 0))
        for kind, label in K.choices:
            line = KitLine(kind, str(label), kit.get(kind, 0), counts.get((body.pk, kind, ST.IN_SERVICE), 0),
                           counts.get((body.pk, kind, ST.UNDER_REPAIR), 0))
            row.total_in_service += line.in_service
            if line.minimum or line.in_service or line.under_repair:
                row.lines.append(line)
        summary.append(row)
    return summary


# Export ------------------------------------------------------------------------------------------
def export_header() -> list[str]:
    return [_("Organisation"), _("Kind"), _("Model"), _("Serial number"), _("Acquired on"), _("Status"),
            _("Status since"), _("Assigned to"), _("Last checked"), _("Next check due"), _("Check overdue"),
            _("Note")]


def export_rows(items) -> list[list]:
    """Built now, not while streaming: the labels are translated in the request's language."""
    return [[safe_cell(str(v)) for v in (
        item.organisation.name, item.get_kind_display(), item.model, item.serial_number,
        item.acquired_on.isoformat(), item.get_status_display(), item.status_since.isoformat(),
        item.assigned_to, item.last_checked_on.isoformat() if item.last_checked_on else "",
        item.next_check_due.isoformat() if item.next_check_due else "",
        _("yes") if item.check_overdue else "", item.note)] for item in items]
