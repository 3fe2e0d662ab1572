"""Checklist templates: one per mine type, built from the active major-hazard standard (the items that fit
the type) plus free items from the catalogue; the city edits them.

Versioning is copy-on-edit: a version that no inspection has used yet is edited in place; editing a version
that an inspection has used first copies it to a new version (the old one is kept, inactive), so an
inspection's `checklist_template` always names what it was started with. Inspections also snapshot the
items themselves (InspectionItem), so even the text they were asked about never changes under them.

Campaign checklists (专项整治, purpose "campaign") are versioned and edited the same way, but never picked for a
routine inspection: a visit uses one only by naming it, for a mine a registered campaign check accepts.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import translation
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.hazards.models import HazardCatalogue, HazardItem
from minesafe.registry.models import Mine

from .models import ChecklistTemplate, ChecklistTemplateItem, Inspection

TEXT_MAX = 300
GUIDANCE_MAX = 2000
OFFSET = 100000  # positions are renumbered through this offset: (template, position) is unique at every step


def catalogue() -> dict:
    return active_catalogue("inspections")


def may_edit(user) -> bool:
    return is_city(user)


def require_editor(user) -> None:
    if not may_edit(user):
        raise PermissionDenied(_("only the city edits the checklists"))


def hazard_items_for(mine_type: str):
    """The active standard's items that may be cited for a mine of this type."""
    facilities = [f for f, types in HazardItem.MINE_TYPES.items() if mine_type in types]
    return (HazardItem.objects.filter(catalogue__active=True, facility_type__in=facilities)
            .select_related("catalogue").order_by("code"))


def free_items_for(mine_type: str, data: dict | None = None) -> list[dict]:
    checklist = (data or catalogue())["checklist"]
    return [*checklist.get("common", []), *checklist.get(mine_type, [])]


def active_template(mine_type: str) -> ChecklistTemplate | None:
    """The routine checklist in use for a mine type (never a campaign checklist)."""
    return ChecklistTemplate.objects.filter(code=mine_type, active=True,
                                            purpose=ChecklistTemplate.Purpose.ROUTINE).first()


def ensure_default_templates(actor: User | None = None) -> int:
    """Create the first version of each mine type's checklist that has none (idempotent); returns how many."""
    created = 0
    data = catalogue()
    standard = HazardCatalogue.objects.filter(active=True).order_by("-effective").first()
    for mine_type in Mine.Type.values:
        if ChecklistTemplate.objects.filter(code=mine_type, purpose=ChecklistTemplate.Purpose.ROUTINE).exists():
            continue
        with translation.override("zh-hans"):  # stored data, named in the UI's default language
            name = f"{Mine.Type(mine_type).label}检查表"
        with transaction.atomic():
            template = ChecklistTemplate.objects.create(
                code=mine_type, version=1, name=name, mine_type=mine_type, hazard_catalogue=standard,
                created_by=actor, note="依据重大事故隐患判定标准生成")
            rows = [ChecklistTemplateItem(template=template, position=0, hazard_item=item, code=item.code,
                                          text=item.title_zh[:TEXT_MAX], guidance=item.summary_en)
                    for item in hazard_items_for(mine_type)]
            rows += [ChecklistTemplateItem(template=template, position=0, code=str(free["code"])[:16],
                                           text=str(free["text"])[:TEXT_MAX], guidance=str(free.get("guidance", "")))
                     for free in free_items_for(mine_type, data)]
            for position, row in enumerate(rows, 1):
                row.position = position
            ChecklistTemplateItem.objects.bulk_create(rows)
            audit.record(actor, AuditEvent.Action.CREATE, template, after={
                "code": template.code, "version": template.version, "items": len(rows)})
        created += 1
    return created


def template_for(mine_type: str) -> ChecklistTemplate:
    """The checklist a new inspection of this mine type uses (the defaults are built if missing)."""
    template = active_template(mine_type)
    if template is None:
        ensure_default_templates()
        template = active_template(mine_type)
    if template is None:
        raise DomainError(_("there is no checklist for this mine type"), field="checklist", code="no_checklist")
    return template


# Campaign checklists ------------------------------------------------------------------------------
# Checks that a higher app (campaigns) registers at start-up: (template, mine) -> whether this campaign checklist
# may be used for this mine now. With none registered, or none accepting, a campaign checklist is refused.
CampaignCheck = Callable[[ChecklistTemplate, Mine], bool]
_campaign_checks: list[CampaignCheck] = []


def register_campaign_check(check: CampaignCheck) -> None:
    if check not in _campaign_checks:
        _campaign_checks.append(check)


def campaign_template_allowed(template: ChecklistTemplate, mine: Mine) -> bool:
    return any(check(template, mine) for check in list(_campaign_checks))


def template_problem(template: ChecklistTemplate, mine: Mine) -> str | None:
    """Why an inspection of `mine` may not use this checklist, or None. The rule: the version must be in use,
    and be either the routine checklist of the mine's type or a campaign checklist that a campaign accepts for
    this mine (deny by default: the campaign, not the checklist, knows its sites)."""
    if not template.active:
        return _("this version of the checklist is no longer in use")
    if template.purpose == ChecklistTemplate.Purpose.CAMPAIGN:
        if not campaign_template_allowed(template, mine):
            return _("%(m)s is not a site of a running campaign that uses this checklist") % {"m": mine.name}
        return None
    if template.mine_type != mine.mine_type:
        return _("this checklist is for a %(t)s") % {"t": Mine.Type(template.mine_type).label}
    return None


def campaign_templates():
    """The campaign checklists in use."""
    return ChecklistTemplate.objects.filter(purpose=ChecklistTemplate.Purpose.CAMPAIGN, active=True).order_by("name")


def ensure_campaign_template(actor: User | None, data: dict) -> ChecklistTemplate:
    """The version in use of the campaign checklist described by `data` (code, name, mine_type, note, items:
    [{code, text, guidance}]), created as version 1 from the data if no version of that code exists
    (idempotent; shipped defaults, like ensure_default_templates). Later versions come from the city's edits."""
    code = str(data["code"])[:32]
    existing = ChecklistTemplate.objects.filter(code=code)
    if existing.exists():
        template = existing.filter(active=True).first()
        if template is None or template.purpose != ChecklistTemplate.Purpose.CAMPAIGN:
            raise DomainError(_("checklist %(c)s exists and is not a campaign checklist in use") % {"c": code},
                              field="checklist", code="not_campaign")
        return template
    mine_type = str(data["mine_type"])
    if mine_type not in Mine.Type.values or not data.get("items"):
        raise ValidationError({"checklist": _("a campaign checklist names a mine type and has items")})
    with transaction.atomic():
        audit.lock_chain()
        template = ChecklistTemplate.objects.create(
            code=code, version=1, name=str(data["name"])[:128], mine_type=mine_type,
            purpose=ChecklistTemplate.Purpose.CAMPAIGN, created_by=actor, note=str(data.get("note", ""))[:300],
            hazard_catalogue=HazardCatalogue.objects.filter(active=True).order_by("-effective").first())
        ChecklistTemplateItem.objects.bulk_create([
            ChecklistTemplateItem(template=template, position=position, code=str(item["code"])[:16],
                                  text=str(item["text"])[:TEXT_MAX],
                                  guidance=str(item.get("guidance", ""))[:GUIDANCE_MAX])
            for position, item in enumerate(data["items"], 1)])
        audit.record(actor, AuditEvent.Action.CREATE, template, after={
            "code": code, "version": 1, "purpose": template.purpose, "item_count": len(data["items"])})
    return template


def is_used(template: ChecklistTemplate) -> bool:
    return Inspection.objects.filter(checklist_template=template).exists()


def _copy(actor: User, template: ChecklistTemplate, note: str) -> ChecklistTemplate:
    """A new version with the same items; the old one stays, inactive (its inspections still name it)."""
    last = ChecklistTemplate.objects.filter(code=template.code).aggregate(v=Max("version"))["v"] or 0
    ChecklistTemplate.objects.filter(pk=template.pk).update(active=False)
    new = ChecklistTemplate.objects.create(code=template.code, version=last + 1, name=template.name,
                                           mine_type=template.mine_type, purpose=template.purpose,
                                           hazard_catalogue=template.hazard_catalogue, created_by=actor,
                                           note=note[:300])
    ChecklistTemplateItem.objects.bulk_create([
        ChecklistTemplateItem(template=new, position=i.position, hazard_item_id=i.hazard_item_id, code=i.code,
                              text=i.text, guidance=i.guidance) for i in template.items.order_by("position")])
    audit.record(actor, AuditEvent.Action.CREATE, new, after={
        "code": new.code, "version": new.version, "copied_from": template.version, "note": new.note})
    return new


def _editable(actor: User, template: ChecklistTemplate, note: str) -> ChecklistTemplate:
    """The version to change: this one if unused, else a fresh copy (under the caller's transaction)."""
    require_editor(actor)
    current = ChecklistTemplate.objects.select_for_update().get(pk=template.pk)
    if not current.active:
        raise DomainError(_("this is an old version; edit the version in use"), field="version", code="old_version")
    return _copy(actor, current, note) if is_used(current) else current


def _renumber(template: ChecklistTemplate, ordered: list[ChecklistTemplateItem]) -> None:
    for i, item in enumerate(ordered, 1):
        item.position = OFFSET + i
    ChecklistTemplateItem.objects.bulk_update(ordered, ["position"])
    for i, item in enumerate(ordered, 1):
        item.position = i
    ChecklistTemplateItem.objects.bulk_update(ordered, ["position"])


def _clean_text(text: str, guidance: str) -> tuple[str, str]:
    errors = {}
    text, guidance = (text or "").strip(), (guidance or "").strip()
    if not text:
        errors["text"] = _("say what to check")
    elif len(text) > TEXT_MAX:
        errors["text"] = _("at most %(n)d characters") % {"n": TEXT_MAX}
    if len(guidance) > GUIDANCE_MAX:
        errors["guidance"] = _("at most %(n)d characters") % {"n": GUIDANCE_MAX}
    if errors:
        raise ValidationError(errors)
    return text, guidance


def _item_of(template: ChecklistTemplate, item_id: int) -> ChecklistTemplateItem:
    item = template.items.filter(pk=item_id).first()
    if item is None:
        raise ValidationError({"item": _("not an item of this checklist")})
    return item


def _counterpart(version: ChecklistTemplate, item: ChecklistTemplateItem) -> ChecklistTemplateItem:
    """The same item in `version` (a copy keeps positions)."""
    return version.items.get(position=item.position) if version.pk != item.template_id else item


def add_item(actor: User, template: ChecklistTemplate, *, text: str, guidance: str = "",
             hazard_item: HazardItem | None = None, code: str = "") -> ChecklistTemplate:
    """Add an item at the end: a major-hazard item of the active standard that fits the type, or a free one."""
    require_editor(actor)
    text, guidance = _clean_text(text, guidance)
    if hazard_item is not None:
        if not hazard_item.catalogue.active:
            raise ValidationError({"hazard_item": _("this version of the standard is no longer in use")})
        if not hazard_item.fits(template.mine_type):
            raise ValidationError({"hazard_item": _("item %(i)s does not apply to a %(t)s") % {
                "i": hazard_item.code, "t": Mine.Type(template.mine_type).label}})
        code = hazard_item.code
    code = (code or "").strip()[:16] or "X"
    with transaction.atomic():
        audit.lock_chain()
        version = _editable(actor, template, _("item added: %(t)s") % {"t": text})
        if hazard_item is not None and version.items.filter(hazard_item=hazard_item).exists():
            raise ValidationError({"hazard_item": _("the checklist already has item %(i)s") % {"i": hazard_item.code}})
        last = version.items.aggregate(p=Max("position"))["p"] or 0
        item = ChecklistTemplateItem.objects.create(template=version, position=last + 1, hazard_item=hazard_item,
                                                    code=code, text=text, guidance=guidance)
        audit.record(actor, AuditEvent.Action.UPDATE, version, after={"added": {"code": code, "text": text,
                                                                               "position": item.position}})
    return version


def update_item(actor: User, template: ChecklistTemplate, item_id: int, *, text: str,
                guidance: str = "") -> ChecklistTemplate:
    require_editor(actor)
    item = _item_of(template, item_id)
    text, guidance = _clean_text(text, guidance)
    with transaction.atomic():
        audit.lock_chain()
        version = _editable(actor, template, _("item %(c)s changed") % {"c": item.code})
        target = _counterpart(version, item)
        before = {"text": target.text, "guidance": target.guidance}
        target.text, target.guidance = text, guidance
        target.save(update_fields=["text", "guidance"])
        audit.record(actor, AuditEvent.Action.UPDATE, version, before={"item": target.code, **before},
                     after={"item": target.code, "text": text, "guidance": guidance})
    return version


def remove_item(actor: User, template: ChecklistTemplate, item_id: int) -> ChecklistTemplate:
    require_editor(actor)
    item = _item_of(template, item_id)
    if template.items.count() <= 1:
        raise ValidationError({"item": _("a checklist keeps at least one item")})
    with transaction.atomic():
        audit.lock_chain()
        version = _editable(actor, template, _("item %(c)s removed") % {"c": item.code})
        target = _counterpart(version, item)
        removed = {"code": target.code, "text": target.text, "position": target.position}
        target.delete()
        _renumber(version, list(version.items.order_by("position")))
        audit.record(actor, AuditEvent.Action.UPDATE, version, after={"removed": removed})
    return version


def move_item(actor: User, template: ChecklistTemplate, item_id: int, direction: str) -> ChecklistTemplate:
    """Move an item one place up or down."""
    require_editor(actor)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("up or down")})
    item = _item_of(template, item_id)
    ordered = list(template.items.order_by("position"))
    index = next(i for i, x in enumerate(ordered) if x.pk == item.pk)
    swap = index - 1 if direction == "up" else index + 1
    if not 0 <= swap < len(ordered):
        raise DomainError(_("the item is already at the %(end)s") % {
            "end": _("top") if direction == "up" else _("bottom")}, field="direction", code="at_end")
    with transaction.atomic():
        audit.lock_chain()
        version = _editable(actor, template, _("item %(c)s moved") % {"c": item.code})
        items = list(version.items.order_by("position"))
        items[index], items[swap] = items[swap], items[index]
        _renumber(version, items)
        audit.record(actor, AuditEvent.Action.UPDATE, version, after={
            "moved": items[swap].code, "direction": direction, "position": swap + 1})
    return version
