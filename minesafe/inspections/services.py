"""Inspections: start → record the checklist, findings, photos, exams → sign → complete (or cancel).

Every function checks permission, validates (bad input changes nothing), changes state, audits and notifies
in one transaction. The lifecycle is one table (TRANSITIONS); a completed inspection is immutable and only
takes addenda.

Who does what:
- start: the city for any mine, a county for its county's mines, an inspector for the mines assigned to them.
  Cross-county enforcement (交叉执法) is the city's assignment: the city starts the inspection with another
  county's government as the inspecting body (method cross_county), naming a lead inspector of that county;
  from then on that county's team works on it and sees it. A county cannot start one on its own.
- work on an open inspection (results, findings, photos, signatures, documents, completion): the city, the
  lead inspector, the staff of the inspecting county, and inspectors of the inspecting body assigned to the mine.
- enterprises see the completed inspections of their own mines (findings, documents); never one in progress.

A checklist item marked "hazard found" or a free finding becomes a Finding. A major one (an item of the hazard
standard) also opens a hazard in the hazards app through its report_hazard, once; the finding keeps it. The
signatures attest a fingerprint of the record (`record_hash`): completion needs both, made on the record as it
is, so nothing can change between signing and completion unnoticed.
"""

import base64
import binascii
import datetime as dt
import hashlib
import json
import struct
import zlib
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.registry.models import Mine, MineAssignment
from minesafe.registry.services import can_manage_mine

from . import checklists
from .models import (
    Addendum,
    ChecklistTemplate,
    Finding,
    Inspection,
    InspectionItem,
    Method,
    Photo,
    Signature,
)

R = User.Role
S = Inspection.Status
RES = InspectionItem.Result
F = Finding.Status

# The inspection's lifecycle: (from, to) -> the function that makes it. Both are for the team (may_work).
TRANSITIONS = {
    (S.IN_PROGRESS, S.COMPLETED): "complete",
    (S.IN_PROGRESS, S.CANCELLED): "cancel",
}
# An ordinary finding's follow-up (a major one is followed in the hazards app).
FINDING_TRANSITIONS = {(F.OPEN, F.RECTIFIED): "confirm_rectified"}
OFFICER_ROLES = (R.CITY, R.COUNTY, R.INSPECTOR)
TEXT_MAX = 4000
NOTE_MAX = 2000
# Photos are recognised by their first bytes, never by the name: (magic, content type, suffix).
IMAGE_TYPES = [
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def catalogue() -> dict:
    return active_catalogue("inspections")


# Permissions -------------------------------------------------------------------------------------
def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_officer(user) -> bool:
    """May start inspections at all: the city, county staff, inspectors (each within their remit)."""
    return _active(user) and (is_city(user) or (user.role in (R.COUNTY, R.INSPECTOR) and bool(user.organisation_id)))


def may_start(user, mine: Mine) -> bool:
    if not is_officer(user):
        return False
    if can_manage_mine(user, mine):
        return True
    return user.role == R.INSPECTOR and MineAssignment.objects.filter(user=user, mine=mine).exists()


def may_work(user, inspection: Inspection) -> bool:
    """The team of an inspection: the city, the lead inspector, the inspecting county's staff, the inspecting
    body's inspectors assigned to the mine."""
    if not _active(user):
        return False
    if is_city(user) or user.pk == inspection.lead_inspector_id:
        return True
    if not user.organisation_id or user.organisation_id != inspection.organisation_id:
        return False
    if user.role == R.COUNTY:
        return True
    return user.role == R.INSPECTOR and MineAssignment.objects.filter(user=user, mine_id=inspection.mine_id).exists()


def require_work(user, inspection: Inspection) -> None:
    if not may_work(user, inspection):
        raise PermissionDenied(_("only the inspection team (the inspecting body, its lead inspector) or the city "
                                 "may do this"))


def require_open(inspection: Inspection) -> None:
    if inspection.status == S.COMPLETED:
        raise DomainError(_("the inspection is completed and signed; add an addendum to correct it"),
                          field="status", code="immutable")
    if inspection.status != S.IN_PROGRESS:
        raise DomainError(_("the inspection is %(s)s") % {"s": S(inspection.status).label}, field="status",
                          code="not_open")


def may_confirm_rectification(user, inspection: Inspection) -> bool:
    """Confirming ordinary findings rectified: the team, or the mine's own county (it follows up at its mines)."""
    return may_work(user, inspection) or (_active(user) and can_manage_mine(user, inspection.mine))


# Helpers -----------------------------------------------------------------------------------------
def link(inspection: Inspection) -> str:
    return reverse("inspections:detail", args=[inspection.pk])


def county_organisations(mine: Mine) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))


def city_bureau() -> Organisation:
    return Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)


def _text(errors: dict, field: str, value, *, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required and not value:
        errors[field] = required
    elif len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def next_number(organisation: Organisation, day: dt.date) -> str:
    """JC + the inspecting body's division code + year + a 4-digit serial (caller holds the chain lock)."""
    prefix = f"JC{organisation.region.code}{day.year}"
    last = Inspection.objects.filter(number__startswith=prefix).aggregate(m=Max("number"))["m"]
    serial = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return f"{prefix}{serial:04d}"


def snapshot(inspection: Inspection) -> dict:
    return audit.snapshot(inspection, ["number", "mine", "organisation", "method", "inspected_on", "status",
                                       "lead_inspector", "team", "summary", "checklist_template", "completed_at",
                                       "cancelled_at", "cancel_reason"])


def record_hash(inspection: Inspection) -> str:
    """A fingerprint of what the signatures attest: the visit, every item's result, the findings and photos."""
    items = InspectionItem.objects.filter(inspection=inspection).order_by("position") \
        .values_list("position", "code", "result", "note")
    findings = Finding.objects.filter(inspection=inspection).order_by("pk") \
        .values_list("pk", "item_id", "description", "major", "hazard_item_id", "deadline")
    photos = Photo.objects.filter(inspection=inspection).values_list("sha256", "finding_id")
    return fingerprint(inspection, items, findings, photos)


def fingerprint(inspection: Inspection, items, findings, photos) -> str:
    """record_hash of given rows: items (position, code, result, note) by position, findings (pk, item id,
    description, major, hazard item id, deadline) by pk, photos (sha256, finding id)."""
    payload = {"inspection": [inspection.pk, inspection.mine_id, inspection.organisation_id, inspection.method,
                              inspection.inspected_on, inspection.lead_inspector_id, inspection.team,
                              inspection.summary],
               "items": [list(row) for row in items], "findings": [list(row) for row in findings],
               "photos": sorted((list(row) for row in photos), key=lambda r: (r[0], r[1] or 0))}
    canonical = json.dumps(audit.json_safe(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Starting ----------------------------------------------------------------------------------------
def default_organisation(user: User) -> Organisation | None:
    if is_city(user):
        if user.organisation_id and user.organisation.kind == Organisation.Kind.CITY_BUREAU:
            return user.organisation
        return city_bureau()
    return user.organisation if user.organisation_id else None


def may_lead(user, organisation: Organisation) -> bool:
    """A lead inspector is an active officer of the inspecting body (any city officer for the city bureau)."""
    if not _active(user) or user.role not in OFFICER_ROLES:
        return False
    if organisation.kind == Organisation.Kind.CITY_BUREAU and is_city(user):
        return True
    return user.organisation_id == organisation.pk


def lead_candidates(organisation: Organisation):
    users = User.objects.filter(is_active=True, role__in=OFFICER_ROLES)
    if organisation.kind == Organisation.Kind.CITY_BUREAU:
        return users.filter(role=R.CITY)
    return users.filter(organisation=organisation)


def organisations_for(user: User):
    """The inspecting bodies a user may name: the city any body that inspects; others only their own."""
    if is_city(user):
        return Organisation.objects.filter(kind__in=[Organisation.Kind.CITY_BUREAU, Organisation.Kind.COUNTY,
                                                     Organisation.Kind.INSPECTION_BODY]).order_by("kind", "name")
    return Organisation.objects.filter(pk=user.organisation_id)


def start_inspection(actor: User, mine: Mine, *, inspected_on: dt.date, method: str = Method.ROUTINE,
                     organisation: Organisation | None = None, lead_inspector: User | None = None,
                     team: str = "", template: ChecklistTemplate | None = None) -> Inspection:
    """Open an inspection of `mine` with a snapshot of its type's routine checklist, or of `template` when one is
    named: it must be in use and either the routine checklist of the mine's type or a campaign checklist a
    campaign accepts for this mine (checklists.template_problem)."""
    if not may_start(actor, mine):
        raise PermissionDenied(_("you may not inspect this mine"))
    errors: dict[str, str] = {}
    own = default_organisation(actor)
    organisation = organisation or own
    if organisation is None:
        errors["organisation"] = _("choose the inspecting body")
    elif not is_city(actor) and organisation.pk != getattr(own, "pk", None):
        errors["organisation"] = _("you inspect for your own body only; the city assigns cross-county enforcement")
    elif organisation.kind not in (Organisation.Kind.CITY_BUREAU, Organisation.Kind.COUNTY,
                                   Organisation.Kind.INSPECTION_BODY):
        errors["organisation"] = _("%(o)s is not an inspecting body") % {"o": organisation}
    if method not in Method.values:
        errors["method"] = _("unknown method")
    elif organisation is not None and "organisation" not in errors:
        other_county = organisation.kind == Organisation.Kind.COUNTY and organisation.region_id != mine.county_id
        if other_county and method != Method.CROSS_COUNTY:
            errors["method"] = _("another county's team inspects this mine only as cross-county enforcement")
        elif method == Method.CROSS_COUNTY and not other_county:
            errors["method"] = _("cross-county enforcement is made by another county's team, assigned by the city")
    today = timezone.localdate()
    if not isinstance(inspected_on, dt.date):
        errors["inspected_on"] = _("give the date of the visit")
    elif inspected_on > today:
        errors["inspected_on"] = _("cannot be in the future")
    elif inspected_on < today - dt.timedelta(days=int(catalogue()["backdate_days"])):
        errors["inspected_on"] = _("more than %(n)d days ago") % {"n": int(catalogue()["backdate_days"])}
    lead = lead_inspector or actor
    if organisation is not None and "organisation" not in errors and not may_lead(lead, organisation):
        errors["lead_inspector"] = _("the lead inspector must be an active officer of the inspecting body")
    team = _text(errors, "team", team, max_length=200)
    if template is not None:
        problem = checklists.template_problem(template, mine)
        if problem:
            errors["template"] = problem
    if errors:
        raise ValidationError(errors)
    template = template or checklists.template_for(mine.mine_type)
    with transaction.atomic():
        audit.lock_chain()  # also serialises the numbering
        if not ChecklistTemplate.objects.filter(pk=template.pk, active=True).exists():  # edited meanwhile
            raise ValidationError({"template": _("this version of the checklist is no longer in use")})
        inspection = Inspection.objects.create(
            mine=mine, organisation=organisation, method=method, inspected_on=inspected_on, lead_inspector=lead,
            team=team, created_by=actor, checklist_template=template, number=next_number(organisation, inspected_on),
            started_at=timezone.now())
        InspectionItem.objects.bulk_create([
            InspectionItem(inspection=inspection, position=i.position, hazard_item_id=i.hazard_item_id, code=i.code,
                           text=i.text, guidance=i.guidance) for i in template.items.order_by("position")])
        audit.record(actor, AuditEvent.Action.CREATE, inspection, after={
            **snapshot(inspection), "checklist_version": template.version, "items": template.items.count()})
        # Never the enterprise: an unannounced visit is not announced. A team the city assigned is told.
        if organisation.pk != getattr(own, "pk", None):
            notify.send(_("Inspection assigned to you: %(n)s") % {"n": inspection.number},
                        f"{mine.name} · {Method(method).label} · {inspected_on}", link(inspection),
                        organisations=[organisation], users=[lead])
    return inspection


def update_details(actor: User, inspection: Inspection, *, summary: str, team: str) -> Inspection:
    require_work(actor, inspection)
    require_open(inspection)
    errors: dict[str, str] = {}
    summary = _text(errors, "summary", summary)
    team = _text(errors, "team", team, max_length=200)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        require_open(current)
        before = audit.snapshot(current, ["summary", "team"])
        current.summary, current.team = summary, team
        current.save(update_fields=["summary", "team"])
        old, new = audit.diff(before, audit.snapshot(current, ["summary", "team"]))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    copy_back(current, inspection)
    return inspection


# Checklist results and findings ------------------------------------------------------------------
def default_deadline(inspection: Inspection, major: bool) -> dt.date:
    days = int(catalogue()["deadline_days"]["major" if major else "ordinary"])
    return inspection.inspected_on + dt.timedelta(days=days)


def _check_deadline(errors: dict, inspection: Inspection, deadline) -> None:
    if not isinstance(deadline, dt.date):
        errors["deadline"] = _("give the rectification deadline")
    elif deadline < inspection.inspected_on:
        errors["deadline"] = _("cannot be before the inspection (%(d)s)") % {"d": inspection.inspected_on}


def hazard_source(inspection: Inspection) -> str:
    if inspection.organisation.kind == Organisation.Kind.COUNTY:
        return Hazard.Source.COUNTY_INSPECTION
    return Hazard.Source.CITY_INSPECTION


def hazard_reporter(actor: User, inspection: Inspection) -> User:
    """Who reports the hazard in the hazards app: the acting officer when that app lets them report at this
    mine; for cross-county enforcement (the visiting county has no rights over the mine there) the city
    officer who assigned the inspection, whose assignment the visit acts under."""
    from minesafe.hazards import services as hazards

    allowed = (R.CITY, R.COUNTY, R.INSPECTOR)
    if hazards.role_for(actor, inspection.mine) in allowed:
        return actor
    assigner = inspection.created_by
    if assigner is not None and assigner.is_active and hazards.role_for(assigner, inspection.mine) in allowed:
        return assigner
    raise PermissionDenied(_("no one on this inspection may report hazards at this mine"))


def _open_hazard(actor: User, inspection: Inspection, finding: Finding) -> Hazard:
    from minesafe.hazards import services as hazards

    org = inspection.organisation
    return hazards.report_hazard(
        hazard_reporter(actor, inspection), inspection.mine, finding.hazard_item, source=hazard_source(inspection),
        found_on=inspection.inspected_on, deadline=finding.deadline,
        description=f"{finding.description}（{_('inspection')} {inspection.number}，{org}）",
        finder_name=f"{actor} · {org}"[:64])


def _finding_snapshot(finding: Finding) -> dict:
    return audit.snapshot(finding, ["inspection", "item", "description", "major", "hazard_item", "hazard",
                                    "deadline", "status"])


def record_result(actor: User, item: InspectionItem, result: str, *, note: str = "",
                  deadline: dt.date | None = None) -> InspectionItem:
    """Record a checklist item's result. "Hazard found" needs a description (the note) and a rectification
    deadline and makes the item's finding (a major hazard for an item of the standard, reported once)."""
    inspection = item.inspection
    require_work(actor, inspection)
    require_open(inspection)
    errors: dict[str, str] = {}
    if result not in RES.values:
        errors["result"] = _("unknown result")
    note = _text(errors, "note", note, max_length=NOTE_MAX,
                 required=_("describe what was found") if result == RES.HAZARD_FOUND else None)
    if result == RES.HAZARD_FOUND:
        _check_deadline(errors, inspection, deadline)
    if errors:
        raise ValidationError(errors)
    finding = Finding.objects.filter(item=item).first()
    if finding is not None and finding.hazard_id and result != RES.HAZARD_FOUND:
        raise DomainError(_("hazard %(n)s was reported from this item; it stays (cancel it in the hazards app if "
                            "it was a mistake)") % {"n": finding.hazard.number}, field="result", code="hazard_reported")
    with transaction.atomic():
        current_inspection = locked_row(Inspection, inspection)
        require_open(current_inspection)
        current = InspectionItem.objects.select_for_update().get(pk=item.pk)
        before = audit.snapshot(current, ["result", "note"])
        current.result, current.note = result, note
        current.checked_by, current.checked_at = actor, timezone.now()
        current.save(update_fields=["result", "note", "checked_by", "checked_at"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before,
                     after={**audit.snapshot(current, ["result", "note"]), "inspection": inspection.pk})
        finding = Finding.objects.select_for_update().filter(item=current).first()
        if result == RES.HAZARD_FOUND:
            if finding is None:
                finding = Finding.objects.create(inspection=inspection, item=current, description=note,
                                                 major=current.major, hazard_item_id=current.hazard_item_id,
                                                 deadline=deadline, created_by=actor, created_at=timezone.now())
                audit.record(actor, AuditEvent.Action.CREATE, finding, after=_finding_snapshot(finding))
            else:
                before = _finding_snapshot(finding)
                finding.description, finding.deadline = note, deadline
                finding.save(update_fields=["description", "deadline"])
                old, new = audit.diff(before, _finding_snapshot(finding))
                if new:
                    audit.record(actor, AuditEvent.Action.UPDATE, finding, before=old, after=new)
            if finding.major and finding.hazard_id is None:
                finding.hazard = _open_hazard(actor, inspection, finding)
                finding.save(update_fields=["hazard"])
                audit.record(actor, AuditEvent.Action.UPDATE, finding, after={"hazard": finding.hazard_id})
        elif finding is not None:
            _drop_finding(actor, finding)
    copy_back(current, item)
    return item


def _drop_finding(actor: User, finding: Finding) -> None:
    """A finding withdrawn before completion (no hazard was reported from it): its photos stay on the visit."""
    Photo.objects.filter(finding=finding).update(finding=None)
    before = _finding_snapshot(finding)
    audit.record(actor, AuditEvent.Action.DELETE, finding, before=before)
    finding.delete()


def add_finding(actor: User, inspection: Inspection, *, description: str, deadline: dt.date, major: bool = False,
                hazard_item: HazardItem | None = None) -> Finding:
    """A finding outside the checklist. A major one cites the item of the standard it meets and is reported as
    a hazard; an ordinary one only gets its rectification deadline."""
    require_work(actor, inspection)
    require_open(inspection)
    errors: dict[str, str] = {}
    description = _text(errors, "description", description, required=_("describe what was found"),
                        max_length=NOTE_MAX)
    _check_deadline(errors, inspection, deadline)
    if major:
        if hazard_item is None:
            errors["hazard_item"] = _("a major hazard cites the item of the standard it meets")
        elif not hazard_item.catalogue.active:
            errors["hazard_item"] = _("this version of the standard is no longer in use")
        elif not hazard_item.fits(inspection.mine.mine_type):
            errors["hazard_item"] = _("item %(i)s does not apply to a %(t)s") % {
                "i": hazard_item.code, "t": Mine.Type(inspection.mine.mine_type).label}
    elif hazard_item is not None:
        errors["hazard_item"] = _("only a major hazard cites an item of the standard")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        require_open(current)
        finding = Finding.objects.create(inspection=inspection, description=description, major=bool(major),
                                         hazard_item=hazard_item, deadline=deadline, created_by=actor,
                                         created_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, finding, after=_finding_snapshot(finding))
        if finding.major:
            finding.hazard = _open_hazard(actor, inspection, finding)
            finding.save(update_fields=["hazard"])
            audit.record(actor, AuditEvent.Action.UPDATE, finding, after={"hazard": finding.hazard_id})
    return finding


def withdraw_finding(actor: User, finding: Finding) -> None:
    """Withdraw a free finding recorded by mistake (before completion, and only if no hazard was reported)."""
    inspection = finding.inspection
    require_work(actor, inspection)
    require_open(inspection)
    if finding.item_id:
        raise DomainError(_("change the checklist item's result instead"), field="finding", code="item_finding")
    if finding.hazard_id:
        raise DomainError(_("hazard %(n)s was reported from this finding; it stays (cancel it in the hazards app "
                            "if it was a mistake)") % {"n": finding.hazard.number}, field="finding",
                          code="hazard_reported")
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        require_open(current)
        _drop_finding(actor, finding)


def confirm_rectified(actor: User, finding: Finding, note: str) -> Finding:
    """An ordinary finding's rectification checked and confirmed (after the inspection is completed)."""
    if not may_confirm_rectification(actor, finding.inspection):
        raise PermissionDenied(_("only the inspection team, the mine's county or the city may confirm this"))
    if finding.major:
        raise DomainError(_("a major hazard is closed in the hazards app (销号)"), field="finding", code="major")
    if finding.inspection.status != S.COMPLETED:
        raise DomainError(_("rectification is confirmed once the inspection is completed"), field="status",
                          code="not_completed")
    if (finding.status, F.RECTIFIED) not in FINDING_TRANSITIONS:
        raise InvalidTransition(_("a finding that is %(s)s cannot become %(t)s") % {
            "s": F(finding.status).label, "t": F.RECTIFIED.label})
    errors: dict[str, str] = {}
    note = _text(errors, "note", note, required=_("say how the rectification was checked"), max_length=500)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Finding, finding)
        if current.status != F.OPEN:
            raise InvalidTransition(_("the finding changed meanwhile; reload and try again"))
        current.status, current.rectified_at, current.rectified_note = F.RECTIFIED, timezone.now(), note
        current.save(update_fields=["status", "rectified_at", "rectified_note"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": F.OPEN},
                     after={"status": F.RECTIFIED, "note": note})
    copy_back(current, finding)
    return finding


# Photos ------------------------------------------------------------------------------------------
def sniff_image(content: bytes) -> tuple[str, str] | None:
    for magic, content_type, suffix in IMAGE_TYPES:
        if content.startswith(magic):
            return content_type, suffix
    if len(content) > 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def add_photo(actor: User, inspection: Inspection, name: str, content: bytes, *, caption: str = "",
              finding: Finding | None = None) -> Photo:
    """A photo of the visit or of one finding: JPEG, PNG or WebP judged by its content, within the size limit."""
    require_work(actor, inspection)
    require_open(inspection)
    limits = catalogue()["photos"]
    errors: dict[str, str] = {}
    caption = _text(errors, "caption", caption, max_length=200)
    if finding is not None and finding.inspection_id != inspection.pk:
        errors["finding"] = _("not a finding of this inspection")
    if not content:
        errors["file"] = _("the file is empty")
    elif len(content) > int(limits["max_bytes"]):
        errors["file"] = _("the photo is larger than %(n)d MB") % {"n": int(limits["max_bytes"]) // 2**20}
    elif sniff_image(content) is None:
        errors["file"] = _("not a photo: JPEG, PNG or WebP only")
    if errors:
        raise ValidationError(errors)
    content_type, suffix = sniff_image(content)
    digest = hashlib.sha256(content).hexdigest()
    safe_name = Path(name or "photo").name[-120:] or "photo"
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        require_open(current)
        if Photo.objects.filter(inspection=inspection).count() >= int(limits["max_per_inspection"]):
            raise DomainError(_("at most %(n)d photos per inspection") % {"n": int(limits["max_per_inspection"])},
                              field="file", code="too_many")
        photo = Photo(inspection=inspection, finding=finding, original_name=safe_name, content_type=content_type,
                      size=len(content), sha256=digest, caption=caption, uploaded_by=actor,
                      uploaded_at=timezone.now())
        photo.file.save(f"{digest[:16]}{suffix}", ContentFile(content), save=False)
        photo.save()
        audit.record(actor, AuditEvent.Action.CREATE, photo, after={
            "inspection": inspection.pk, "finding": getattr(finding, "pk", None), "name": safe_name,
            "sha256": digest, "size": len(content)})
    return photo


# Signatures --------------------------------------------------------------------------------------
def decode_signature(image) -> bytes:
    """The PNG a phone canvas posts (a `data:image/png;base64,…` URL, or the bytes), checked: a real PNG header
    with sane dimensions, within the size limit."""
    limits = catalogue()["signatures"]
    if isinstance(image, str):
        text = image.strip()
        prefix = "data:image/png;base64,"
        if not text.startswith(prefix):
            raise ValidationError({"image": _("draw the signature (a PNG image)")})
        if len(text) > int(limits["max_bytes"]) * 4 // 3 + len(prefix) + 4:
            raise ValidationError({"image": _("the signature image is too large")})
        try:
            content = base64.b64decode(text[len(prefix):], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({"image": _("the signature image is damaged")}) from None
    elif isinstance(image, bytes | bytearray):
        content = bytes(image)
    else:
        raise ValidationError({"image": _("draw the signature (a PNG image)")})
    if len(content) > int(limits["max_bytes"]):
        raise ValidationError({"image": _("the signature image is too large")})
    if len(content) < 33 or not content.startswith(PNG_MAGIC) or content[12:16] != b"IHDR":
        raise ValidationError({"image": _("the signature is not a PNG image")})
    width, height = struct.unpack(">II", content[16:24])
    if zlib.crc32(content[12:29]) != struct.unpack(">I", content[29:33])[0]:
        raise ValidationError({"image": _("the signature image is damaged")})
    if not (0 < width <= int(limits["max_side_px"]) and 0 < height <= int(limits["max_side_px"])):
        raise ValidationError({"image": _("the signature image has impossible dimensions")})
    return content


def sign(actor: User, inspection: Inspection, role: str, *, image=None, signer_name: str = "",
         refused: bool = False, refusal_reason: str = "", witness_name: str = "") -> Signature:
    """Sign the record as it is now. The lead inspector signs for themselves; the enterprise's representative
    signs on the officer's phone, or refuses, which is recorded with a witness (and the reason given)."""
    require_work(actor, inspection)
    require_open(inspection)
    errors: dict[str, str] = {}
    if role not in Signature.Role.values:
        raise ValidationError({"role": _("unknown signatory")})
    if role == Signature.Role.LEAD_INSPECTOR:
        if actor.pk != inspection.lead_inspector_id:
            raise PermissionDenied(_("only the lead inspector signs as lead inspector"))
        if refused:
            errors["refused"] = _("the lead inspector signs the record")
        signer_name = str(actor)[:64]
    else:
        signer_name = _text(errors, "signer_name", signer_name, required=_("give the representative's name"),
                            max_length=64)
    refusal_reason = _text(errors, "refusal_reason", refusal_reason, max_length=300)
    witness_name = _text(errors, "witness_name", witness_name, max_length=64)
    content = b""
    if refused and role == Signature.Role.ENTERPRISE:
        if not witness_name:
            errors["witness_name"] = _("a refusal to sign is recorded with a witness")
        if image:
            errors["image"] = _("either a signature or a refusal, not both")
    elif not errors:
        try:
            content = decode_signature(image)
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        require_open(current)
        old = Signature.objects.filter(inspection=inspection, role=role).first()
        before = None
        if old is not None:  # signed again (a spoiled drawing, or the record changed since)
            before = audit.snapshot(old, ["signer_name", "sha256", "refused", "witness_name", "record_hash"])
            old.delete()
        signature = Signature(inspection=inspection, role=role, signer_name=signer_name,
                              signer_user=actor if role == Signature.Role.LEAD_INSPECTOR else None,
                              refused=bool(refused and role == Signature.Role.ENTERPRISE),
                              refusal_reason=refusal_reason if refused else "",
                              witness_name=witness_name if refused else "", recorded_by=actor,
                              record_hash=record_hash(current), signed_at=timezone.now())
        if content:
            signature.sha256 = hashlib.sha256(content).hexdigest()
            signature.size = len(content)
            signature.file.save(f"{role}-{signature.sha256[:16]}.png", ContentFile(content), save=False)
        signature.save()
        audit.record(actor, AuditEvent.Action.CREATE, signature, before=before, after=audit.snapshot(
            signature, ["inspection", "role", "signer_name", "sha256", "refused", "refusal_reason", "witness_name",
                        "record_hash"]))
    return signature


def signature_state(inspection: Inspection) -> dict[str, dict]:
    """Per role: the signature (or None) and whether it attests the record as it is now."""
    current = record_hash(inspection)
    found = {s.role: s for s in Signature.objects.filter(inspection=inspection)}
    return {role: {"signature": found.get(role), "label": label,
                   "current": bool(found.get(role) and found[role].record_hash == current)}
            for role, label in Signature.Role.choices}


# The lifecycle -----------------------------------------------------------------------------------
def _check_transition(inspection: Inspection, to: str) -> None:
    if (inspection.status, to) not in TRANSITIONS:
        raise InvalidTransition(_("an inspection that is %(s)s cannot become %(t)s") % {
            "s": S(inspection.status).label, "t": S(to).label})


def complete(actor: User, inspection: Inspection) -> Inspection:
    """Close the record: both signatures must attest it as it is now. From then on it is immutable."""
    require_work(actor, inspection)
    _check_transition(inspection, S.COMPLETED)
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        _check_transition(current, S.COMPLETED)
        fingerprint = record_hash(current)
        signed = {s.role: s for s in Signature.objects.filter(inspection=current)}
        missing = [str(label) for role, label in Signature.Role.choices if role not in signed]
        if missing:
            raise DomainError(_("completion needs the signatures of: %(who)s") % {"who": ", ".join(missing)},
                              field="signatures", code="unsigned")
        stale = [str(label) for role, label in Signature.Role.choices if signed[role].record_hash != fingerprint]
        if stale:
            raise DomainError(_("the record changed after it was signed; sign again: %(who)s") % {
                "who": ", ".join(stale)}, field="signatures", code="stale_signature")
        before = audit.snapshot(current, ["status", "completed_at"])
        current.status, current.completed_at = S.COMPLETED, timezone.now()
        current.save(update_fields=["status", "completed_at"])
        findings = list(Finding.objects.filter(inspection=current))
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after={
            **audit.snapshot(current, ["status", "completed_at"]), "record_hash": fingerprint,
            "findings": len(findings), "major": sum(1 for f in findings if f.major)})
        body = _("%(n)d findings, %(m)d major hazards") % {"n": len(findings),
                                                            "m": sum(1 for f in findings if f.major)}
        notify.send(_("Inspection completed: %(n)s") % {"n": current.number or current.pk},
                    f"{current.mine.name} · {body}", link(current),
                    organisations=[current.mine.enterprise.organisation, *county_organisations(current.mine),
                                   current.organisation])
    copy_back(current, inspection)
    return inspection


def cancel(actor: User, inspection: Inspection, reason: str) -> Inspection:
    """Cancel a visit that did not take place or was started by mistake: not once a hazard was reported from it
    or a document issued (those stand and need the record)."""
    require_work(actor, inspection)
    _check_transition(inspection, S.CANCELLED)
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, required=_("give the reason"), max_length=500)
    if errors:
        raise ValidationError(errors)
    if Finding.objects.filter(inspection=inspection, hazard__isnull=False).exists():
        raise DomainError(_("a hazard was reported from this inspection; complete it instead"), field="status",
                          code="has_hazards")
    if inspection.documents.exists():
        raise DomainError(_("a document was issued from this inspection; complete it instead"), field="status",
                          code="has_documents")
    with transaction.atomic():
        current = locked_row(Inspection, inspection)
        _check_transition(current, S.CANCELLED)
        before = audit.snapshot(current, ["status", "cancelled_at", "cancel_reason"])
        current.status, current.cancelled_at, current.cancel_reason = S.CANCELLED, timezone.now(), reason
        current.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, ["status", "cancelled_at", "cancel_reason"]))
    copy_back(current, inspection)
    return inspection


def add_addendum(actor: User, inspection: Inspection, text: str) -> Addendum:
    """The only way to correct a completed inspection: an addendum, audited, shown with the record."""
    require_work(actor, inspection)
    if inspection.status != S.COMPLETED:
        raise DomainError(_("addenda are for completed inspections; change the record itself while it is open"),
                          field="status", code="not_completed")
    errors: dict[str, str] = {}
    text = _text(errors, "text", text, required=_("write the addendum"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        addendum = Addendum.objects.create(inspection=inspection, text=text, created_by=actor,
                                           created_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, addendum, after={"inspection": inspection.pk, "text": text})
        notify.send(_("Addendum to inspection %(n)s") % {"n": inspection.number or inspection.pk}, text[:200],
                    link(inspection), organisations=[inspection.mine.enterprise.organisation])
    return addendum


# Exams at the inspection (逢查必考) ----------------------------------------------------------------
def exam_ref(inspection: Inspection) -> str:
    """What an exam taken during the visit records as its inspection (personnel.Exam.inspection_ref)."""
    return inspection.number or f"inspection {inspection.pk}"


def exams_of(user, inspection: Inspection):
    """The exams taken during this visit that the user may see."""
    from minesafe.personnel import activities

    return activities.exam_history(user, mine=inspection.mine).filter(inspection_ref=exam_ref(inspection))


def may_examine_here(user, inspection: Inspection) -> bool:
    from minesafe.personnel import activities

    return inspection.is_open and may_work(user, inspection) and activities.may_examine(user, inspection.mine)


def examinable_people(inspection: Inspection):
    """The mine's current key-post holders (the people an inspection examines)."""
    from minesafe.personnel import activities

    return activities.current_holders(inspection.mine)


def draw_exam(actor: User, inspection: Inspection, person, post: str = ""):
    from minesafe.personnel import activities

    require_work(actor, inspection)
    require_open(inspection)
    if person.mine_id != inspection.mine_id:
        raise ValidationError({"person": _("not a person of the inspected mine")})
    return activities.draw_exam(actor, person, post)


def take_exam(actor: User, inspection: Inspection, token: str, answers: dict):
    """Score an exam drawn during the visit; it is recorded against this inspection."""
    from minesafe.personnel import activities

    require_work(actor, inspection)
    require_open(inspection)
    draw = activities.load_draw(actor, token)
    if draw.mine.pk != inspection.mine_id:
        raise ValidationError({"token": _("these questions were drawn for another mine")})
    return activities.take_exam(actor, token, answers, inspection_ref=exam_ref(inspection))
