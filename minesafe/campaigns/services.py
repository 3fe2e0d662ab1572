"""Special campaigns (专项整治): create a campaign with its checklist, add sites, start, visit a site (an inspection
with the campaign's checklist), exempt a site, close. Each function checks permission, validates (a refusal changes
nothing), changes state, audits and notifies in one transaction.

The campaign's lifecycle is one table (TRANSITIONS). Who does what:
- organise (create, edit, add or remove sites, start, exempt a site, close): the city bureau for any campaign; a
  county government for its own campaigns, which cover its county only.
- visit a site: an officer of the organisation the site is assigned to (or the city), within the inspections app's
  own rules (a county inspects its county's mines, an inspector the mines assigned to them).
- everyone else reads what models.site_scope / campaign_scope let them (enterprises their own sites).

A site follows its inspections (refresh_site, called after a visit starts and by the signal receivers whenever a
linked inspection, finding or hazard is saved): pending → inspected (a visit under way) → rectifying (a completed
visit left findings open) → done (every finding of the completed visits rectified, or its hazard closed).
"""

import datetime as dt
import re
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import read_reference_yaml
from minesafe.hazards.models import Hazard
from minesafe.inspections import checklists
from minesafe.inspections import services as inspections
from minesafe.inspections.models import ChecklistTemplate, Finding, Inspection, Method
from minesafe.registry.models import Mine

from .models import OPEN_SITE_STATUSES, Campaign, CampaignSite, SiteVisit

R = User.Role
CS = Campaign.Status
SS = CampaignSite.Status
IS = Inspection.Status

# The campaign's lifecycle: (from, to) -> the function that makes it (both for the organiser).
TRANSITIONS = {
    (CS.DRAFT, CS.RUNNING): "start_campaign",
    (CS.RUNNING, CS.CLOSED): "close_campaign",
}
# What may change while a campaign runs (the rest is settled when it starts).
RUNNING_EDITABLE = {"title", "description", "deadline"}
EDITABLE = ["code", "title", "plan_task", "scope", "mine_types", "description", "starts_on", "deadline", "checklist"]
REFERENCE = Path(__file__).resolve().parent / "reference"
DEFAULT_CHECKLIST = "processing_plant_2026.yaml"
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$")
TEXT_MAX = 4000
REASON_MAX = 500
PLAN_TASK_MAX = 99


# Permissions -------------------------------------------------------------------------------------
def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def city_bureau() -> Organisation:
    return Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)


def own_body(user) -> Organisation | None:
    """The body a user organises for: the city bureau for city staff, the county government for county staff."""
    if not _active(user):
        return None
    if is_city(user):
        if user.organisation_id and user.organisation.kind == Organisation.Kind.CITY_BUREAU:
            return user.organisation
        return city_bureau()
    if user.role == R.COUNTY and user.organisation_id and user.organisation.kind == Organisation.Kind.COUNTY:
        return user.organisation
    return None


def may_organise(user) -> bool:
    return own_body(user) is not None


def may_manage(user, campaign: Campaign) -> bool:
    """The city for every campaign; a county's staff for the campaigns their county organises."""
    if not _active(user):
        return False
    return is_city(user) or (user.role == R.COUNTY and user.organisation_id == campaign.organiser_id)


def require_manage(user, campaign: Campaign) -> None:
    if not may_manage(user, campaign):
        raise PermissionDenied(_("only the campaign's organiser or the city may do this"))


def may_visit(user, site: CampaignSite) -> bool:
    """An officer of the body the site is assigned to, or the city, who may inspect the mine."""
    if not _active(user) or not inspections.is_officer(user):
        return False
    if not (is_city(user) or user.organisation_id == site.assigned_organisation_id):
        return False
    return inspections.may_start(user, site.mine)


def link(campaign: Campaign) -> str:
    return reverse("campaigns:detail", args=[campaign.pk])


def site_link(site: CampaignSite) -> str:
    return reverse("campaigns:site", args=[site.pk])


def county_government(region_id: int) -> Organisation | None:
    return Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=region_id).order_by("pk").first()


def _text(errors: dict, field: str, value, *, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required and not value:
        errors[field] = required
    elif len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _check_transition(campaign: Campaign, to: str) -> None:
    if (campaign.status, to) not in TRANSITIONS:
        raise InvalidTransition(_("a campaign that is %(s)s cannot become %(t)s") % {
            "s": CS(campaign.status).label, "t": CS(to).label})


def snapshot(campaign: Campaign) -> dict:
    return audit.snapshot(campaign, ["code", "title", "plan_task", "organiser", "scope", "mine_types", "checklist",
                                     "description", "starts_on", "deadline", "status", "started_at", "closed_at",
                                     "close_note"])


def site_snapshot(site: CampaignSite) -> dict:
    return audit.snapshot(site, ["campaign", "mine", "assigned_organisation", "status", "findings_count",
                                 "open_findings", "exempt_reason", "unfinished_reason", "closed_at"])


# Checklists --------------------------------------------------------------------------------------
def reference_checklist(name: str = DEFAULT_CHECKLIST) -> dict:
    """A shipped campaign checklist (unverified defaults; see the file's header)."""
    return read_reference_yaml(REFERENCE / name)


def ensure_checklist(actor: User, name: str = DEFAULT_CHECKLIST) -> ChecklistTemplate:
    """The campaign checklist in use for a shipped reference file, created from it the first time."""
    if not may_organise(actor):
        raise PermissionDenied(_("only the city or a county organises campaigns"))
    return checklists.ensure_campaign_template(actor, reference_checklist(name))


def current_checklist(campaign: Campaign) -> ChecklistTemplate:
    """The version of the campaign's checklist in use now (the city's edits make new versions)."""
    template = ChecklistTemplate.objects.filter(code=campaign.checklist.code, active=True,
                                                purpose=ChecklistTemplate.Purpose.CAMPAIGN).first()
    if template is None:
        raise DomainError(_("the campaign's checklist is no longer in use"), field="checklist", code="no_checklist")
    return template


def accepts(template: ChecklistTemplate, mine: Mine) -> bool:
    """The check registered with the inspections app: a campaign checklist may be used for a mine that is a site,
    still to be visited or being rectified, of a running campaign using that checklist."""
    return CampaignSite.objects.filter(
        mine=mine, status__in=[SS.PENDING, SS.RECTIFYING], campaign__status=CS.RUNNING,
        campaign__checklist__code=template.code).exists()


# Creating and editing ----------------------------------------------------------------------------
def _clean(actor: User, data: dict, campaign: Campaign | None) -> tuple[dict, dict]:
    """Validate the campaign's fields (only those in `data`); returns (clean values, errors)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    if "code" in data:
        code = _text(errors, "code", data["code"], required=_("give the campaign a number"), max_length=32)
        if code and not CODE_RE.match(code):
            errors["code"] = _("letters, digits and hyphens only (e.g. ZX-2026-01)")
        elif code and Campaign.objects.filter(code=code).exclude(pk=getattr(campaign, "pk", None)).exists():
            errors["code"] = _("campaign %(c)s exists already") % {"c": code}
        clean["code"] = code
    if "title" in data:
        clean["title"] = _text(errors, "title", data["title"], required=_("give the title"), max_length=200)
    if "description" in data:
        clean["description"] = _text(errors, "description", data["description"])
    if "plan_task" in data:
        task = data["plan_task"]
        if task in (None, ""):
            clean["plan_task"] = None
        elif isinstance(task, bool) or not isinstance(task, int) or not 1 <= task <= PLAN_TASK_MAX:
            errors["plan_task"] = _("the number of a task of the action plan")
        else:
            clean["plan_task"] = task
    if "scope" in data:
        scope = data["scope"]
        if not is_city(actor):
            own = actor.organisation.region
            if scope is not None and scope.pk != own.pk:
                errors["scope"] = _("a county's campaign covers its own county only")
            clean["scope"] = own
        elif scope is not None and not scope.is_county_level:
            errors["scope"] = _("the whole city, or one county")
        else:
            clean["scope"] = scope
    if "mine_types" in data:
        types = list(dict.fromkeys(data["mine_types"] or []))
        if not types:
            errors["mine_types"] = _("choose the mine types the campaign targets")
        elif any(t not in Mine.Type.values for t in types):
            errors["mine_types"] = _("unknown mine type")
        clean["mine_types"] = types
    if "checklist" in data:
        checklist = data["checklist"]
        if checklist is None or checklist.purpose != ChecklistTemplate.Purpose.CAMPAIGN:
            errors["checklist"] = _("choose a campaign checklist")
        elif not checklist.active:
            errors["checklist"] = _("this version of the checklist is no longer in use")
        clean["checklist"] = checklist
    for field in ("starts_on", "deadline"):
        if field in data:
            if not isinstance(data[field], dt.date):
                errors[field] = _("give the date")
            clean[field] = data[field]
    starts_on = clean.get("starts_on", getattr(campaign, "starts_on", None))
    deadline = clean.get("deadline", getattr(campaign, "deadline", None))
    if isinstance(starts_on, dt.date) and isinstance(deadline, dt.date) and deadline < starts_on \
            and "deadline" not in errors:
        errors["deadline"] = _("cannot be before the start (%(d)s)") % {"d": starts_on}
    types = clean.get("mine_types", getattr(campaign, "mine_types", None))
    checklist = clean.get("checklist") or (campaign.checklist if campaign else None)
    if checklist is not None and types and "checklist" not in errors and "mine_types" not in errors \
            and checklist.mine_type not in types:
        errors["checklist"] = _("this checklist is for a %(t)s, which the campaign does not target") % {
            "t": Mine.Type(checklist.mine_type).label}
    return clean, errors


def create_campaign(actor: User, *, code: str, title: str, starts_on: dt.date, deadline: dt.date,
                    mine_types: list[str] | None = None, scope: Region | None = None, plan_task: int | None = None,
                    checklist: ChecklistTemplate | None = None, description: str = "") -> Campaign:
    """A draft campaign organised by the actor's body. Without a checklist, the shipped processing-plant checklist
    (task 20) is used, created from its reference file the first time."""
    organiser = own_body(actor)
    if organiser is None:
        raise PermissionDenied(_("only the city or a county organises campaigns"))
    if checklist is None:
        checklist = ensure_checklist(actor)
    if mine_types is None:
        mine_types = [checklist.mine_type]
    clean, errors = _clean(actor, {"code": code, "title": title, "starts_on": starts_on, "deadline": deadline,
                                   "mine_types": mine_types, "scope": scope, "plan_task": plan_task,
                                   "checklist": checklist, "description": description}, None)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        campaign = Campaign.objects.create(organiser=organiser, created_by=actor, created_at=timezone.now(), **clean)
        audit.record(actor, AuditEvent.Action.CREATE, campaign, after=snapshot(campaign))
    return campaign


def update_campaign(actor: User, campaign: Campaign, **changes) -> Campaign:
    """Change a draft's fields; while running only the title, description and deadline; a closed one never. A new
    deadline lets the organiser be told again about sites that miss it."""
    require_manage(actor, campaign)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("not a field of the campaign")})
    if campaign.status == CS.CLOSED:
        raise DomainError(_("the campaign is closed"), field="status", code="closed")
    checklist = changes.get("checklist", campaign.checklist)
    if checklist is None or checklist.code == campaign.checklist.code:  # kept (the city's edits make versions)
        changes.pop("checklist", None)
    if campaign.status == CS.RUNNING:
        locked = sorted(f for f in changes if f not in RUNNING_EDITABLE
                        and changes[f] != getattr(campaign, f))
        if locked:
            raise DomainError(_("a running campaign changes only its title, description and deadline"),
                              field=locked[0], code="running")
        changes = {k: v for k, v in changes.items() if k in RUNNING_EDITABLE}
    clean, errors = _clean(actor, changes, campaign)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Campaign, campaign)
        if current.status != campaign.status:
            raise InvalidTransition(_("the campaign changed meanwhile; reload and try again"))
        before = snapshot(current)
        for field, value in clean.items():
            setattr(current, field, value)
        current.save()
        old, new = audit.diff(before, snapshot(current))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
        if "deadline" in new:
            current.sites.unfinished().update(overdue_reported_at=None)
    copy_back(current, campaign)
    return campaign


# Sites -------------------------------------------------------------------------------------------
def candidate_mines(actor: User, campaign: Campaign, *, counties=None, mine_types=None):
    """Mines the actor may add: in the actor's scope and the campaign's county, of a targeted type, not closed,
    not yet a site; optionally only of some counties (Region ids) and types."""
    types = [t for t in (mine_types or campaign.mine_types) if t in campaign.mine_types]
    mines = Mine.objects.visible_to(actor).filter(mine_type__in=types).exclude(status=Mine.Status.CLOSED) \
        .exclude(pk__in=CampaignSite.objects.filter(campaign=campaign).values("mine_id"))
    if campaign.scope_id:
        mines = mines.filter(county_id=campaign.scope_id)
    if counties:
        mines = mines.filter(county_id__in=list(counties))
    return mines.select_related("county", "enterprise").order_by("county__code", "code")


def assignable_organisations(campaign: Campaign):
    """Who a site may be assigned to besides its county: the city bureau and the inspection bodies."""
    return Organisation.objects.filter(kind__in=[Organisation.Kind.CITY_BUREAU, Organisation.Kind.INSPECTION_BODY]) \
        .order_by("kind", "name")


def add_sites(actor: User, campaign: Campaign, mines, assigned_organisation: Organisation | None = None
              ) -> list[CampaignSite]:
    """Add mines as sites (while a draft or running). Each site is assigned to its mine's county government unless
    another body is named (the city bureau or an inspection body, or a county for the mines of that county)."""
    require_manage(actor, campaign)
    if campaign.status == CS.CLOSED:
        raise DomainError(_("the campaign is closed"), field="status", code="closed")
    mines = list(mines)
    if not mines:
        raise ValidationError({"mines": _("choose at least one mine")})
    allowed = {m.pk: m for m in candidate_mines(actor, campaign).filter(pk__in=[m.pk for m in mines])}
    refused = [m for m in mines if m.pk not in allowed]
    if refused:
        raise ValidationError({"mines": _("%(m)s cannot be added: outside the campaign's county or your scope, of a "
                                          "type it does not target, closed, or already a site") % {
            "m": ", ".join(m.name for m in refused[:5])}})
    assignees: dict[int, Organisation] = {}
    for mine in allowed.values():
        if assigned_organisation is None:
            body = county_government(mine.county_id)
            if body is None:
                raise ValidationError({"assigned_organisation": _("%(c)s has no county government on the platform")
                                       % {"c": mine.county}})
        else:
            body = assigned_organisation
            if body.kind == Organisation.Kind.COUNTY and body.region_id != mine.county_id:
                raise ValidationError({"assigned_organisation": _("a county visits the mines of its own county")})
            if body.kind not in (Organisation.Kind.COUNTY, Organisation.Kind.CITY_BUREAU,
                                 Organisation.Kind.INSPECTION_BODY):
                raise ValidationError({"assigned_organisation": _("%(o)s does not inspect") % {"o": body}})
        assignees[mine.pk] = body
    now = timezone.now()
    with transaction.atomic():
        current = locked_row(Campaign, campaign)
        if current.status == CS.CLOSED:
            raise DomainError(_("the campaign is closed"), field="status", code="closed")
        sites = CampaignSite.objects.bulk_create([
            CampaignSite(campaign=current, mine=mine, assigned_organisation=assignees[mine.pk], added_at=now)
            for mine in sorted(allowed.values(), key=lambda m: (m.county_id, m.code))])
        sites = list(CampaignSite.objects.filter(campaign=current, mine__in=list(allowed)).select_related("mine"))
        audit.record_many(actor, [audit.Change(AuditEvent.Action.CREATE, s, after=site_snapshot(s)) for s in sites])
        if current.status == CS.RUNNING:
            _tell_assignees(current, sites)
    return sites


def _tell_assignees(campaign: Campaign, sites: list[CampaignSite]) -> None:
    by_body: dict[int, list[CampaignSite]] = {}
    for site in sites:
        by_body.setdefault(site.assigned_organisation_id, []).append(site)
    bodies = Organisation.objects.in_bulk(list(by_body))
    for body_id, assigned in by_body.items():
        notify.send(_("Campaign %(c)s: %(n)d sites to visit by %(d)s") % {
            "c": campaign.title, "n": len(assigned), "d": campaign.deadline},
            "、".join(s.mine.name for s in assigned[:30]), link(campaign), organisations=[bodies[body_id]])


def remove_site(actor: User, site: CampaignSite) -> None:
    """Take a site out of the campaign: only before anyone visited it (a visited site stays; exempt it instead)."""
    campaign = Campaign.objects.get(pk=site.campaign_id)
    require_manage(actor, campaign)
    if campaign.status == CS.CLOSED:
        raise DomainError(_("the campaign is closed"), field="status", code="closed")
    with transaction.atomic():
        current = locked_row(CampaignSite, site)
        if current.visits.exists() or current.status != SS.PENDING:
            raise DomainError(_("the site was visited or settled; it stays in the campaign"), field="site",
                              code="visited")
        audit.record(actor, AuditEvent.Action.DELETE, current, before=site_snapshot(current))
        current.delete()


def exempt_site(actor: User, site: CampaignSite, reason: str) -> CampaignSite:
    """Excuse a site not yet visited (suspended, being closed, visited in another campaign …) with the reason."""
    require_manage(actor, site.campaign)
    if Campaign.objects.filter(pk=site.campaign_id, status=CS.CLOSED).exists():
        raise DomainError(_("the campaign is closed"), field="status", code="closed")
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, required=_("give the reason for the exemption"), max_length=REASON_MAX)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(CampaignSite, site)
        if current.status != SS.PENDING or current.visits.exclude(inspection__status=IS.CANCELLED).exists():
            raise InvalidTransition(_("only a site not yet visited is exempted (this one is %(s)s)") % {
                "s": SS(current.status).label})
        before = site_snapshot(current)
        current.status, current.exempt_reason, current.closed_at = SS.EXEMPT, reason, timezone.now()
        current.save(update_fields=["status", "exempt_reason", "closed_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after=site_snapshot(current))
    copy_back(current, site)
    return site


# The campaign's lifecycle ------------------------------------------------------------------------
def start_campaign(actor: User, campaign: Campaign) -> Campaign:
    """Draft → running: the sites' bodies are told what to visit by when."""
    require_manage(actor, campaign)
    _check_transition(campaign, CS.RUNNING)
    if not campaign.sites.exists():
        raise DomainError(_("add the sites before starting the campaign"), field="sites", code="no_sites")
    current_checklist(campaign)
    with transaction.atomic():
        current = locked_row(Campaign, campaign)
        _check_transition(current, CS.RUNNING)
        before = audit.snapshot(current, ["status", "started_at"])
        current.status, current.started_at = CS.RUNNING, timezone.now()
        current.save(update_fields=["status", "started_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after={**audit.snapshot(current, ["status", "started_at"]), "site_count": current.sites.count()})
        _tell_assignees(current, list(current.sites.select_related("mine")))
    copy_back(current, campaign)
    return campaign


def close_campaign(actor: User, campaign: Campaign, *, reasons: dict[int, str] | None = None,
                   note: str = "") -> Campaign:
    """Running → closed: every site done or exempt, or a written reason for each site still open (kept on it)."""
    require_manage(actor, campaign)
    _check_transition(campaign, CS.CLOSED)
    errors: dict[str, str] = {}
    note = _text(errors, "note", note)
    reasons = {int(k): (v or "").strip() for k, v in (reasons or {}).items()}
    open_sites = list(campaign.sites.unfinished().select_related("mine"))
    for site in open_sites:
        reason = reasons.get(site.pk, "")
        if not reason:
            errors[f"reason_{site.pk}"] = _("%(m)s is %(s)s: say why the campaign closes without it") % {
                "m": site.mine.name, "s": SS(site.status).label}
        elif len(reason) > REASON_MAX:
            errors[f"reason_{site.pk}"] = _("at most %(n)d characters") % {"n": REASON_MAX}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Campaign, campaign)
        _check_transition(current, CS.CLOSED)
        still_open = list(current.sites.unfinished().select_related("mine"))
        if {s.pk for s in still_open} - {s.pk for s in open_sites}:
            raise InvalidTransition(_("a site reopened meanwhile; reload and try again"))
        changes = []
        for site in still_open:
            site.unfinished_reason = reasons[site.pk]
            site.save(update_fields=["unfinished_reason"])
            changes.append(audit.Change(AuditEvent.Action.UPDATE, site, after={"unfinished_reason": reasons[site.pk]}))
        before = audit.snapshot(current, ["status", "closed_at", "close_note"])
        current.status, current.closed_at, current.close_note = CS.CLOSED, timezone.now(), note
        current.save(update_fields=["status", "closed_at", "close_note"])
        changes.append(audit.Change(AuditEvent.Action.TRANSITION, current, before=before, after={
            **audit.snapshot(current, ["status", "closed_at", "close_note"]), "left_open": len(still_open)}))
        audit.record_many(actor, changes)
        bodies = Organisation.objects.filter(pk__in=current.sites.values("assigned_organisation_id"))
        notify.send(_("Campaign closed: %(c)s") % {"c": current.title},
                    _("%(n)d sites left open") % {"n": len(still_open)} if still_open else "", link(current),
                    organisations=list(bodies))
    copy_back(current, campaign)
    return campaign


# Visits ------------------------------------------------------------------------------------------
def visit_site(actor: User, site: CampaignSite, *, inspected_on: dt.date, method: str = Method.ROUTINE,
               lead_inspector: User | None = None, team: str = "",
               organisation: Organisation | None = None) -> Inspection:
    """Start the inspection of a site with the campaign's checklist (a follow-up visit while rectifying too); it is
    an ordinary inspection from then on, and the site follows it."""
    if not may_visit(actor, site):
        raise PermissionDenied(_("only an officer of the body the site is assigned to, or the city, visits it"))
    site.refresh_from_db(fields=["status"])  # it follows its inspections: the caller's copy may be behind
    campaign = Campaign.objects.get(pk=site.campaign_id)
    if campaign.status != CS.RUNNING:
        raise DomainError(_("the campaign is %(s)s; sites are visited while it runs") % {
            "s": CS(campaign.status).label}, field="status", code="not_running")
    if site.status not in (SS.PENDING, SS.RECTIFYING):
        raise InvalidTransition(_("the site is %(s)s") % {"s": SS(site.status).label})
    if site.visits.filter(inspection__status=IS.IN_PROGRESS).exists():
        raise DomainError(_("a visit of this site is under way; complete or cancel it first"), field="site",
                          code="visit_open")
    template = current_checklist(campaign)
    with transaction.atomic():
        current = locked_row(CampaignSite, site)
        if current.status not in (SS.PENDING, SS.RECTIFYING) or \
                current.visits.filter(inspection__status=IS.IN_PROGRESS).exists():
            raise InvalidTransition(_("the site changed meanwhile; reload and try again"))
        inspection = inspections.start_inspection(actor, current.mine, inspected_on=inspected_on, method=method,
                                                  organisation=organisation, lead_inspector=lead_inspector,
                                                  team=team, template=template)
        visit = SiteVisit.objects.create(site=current, inspection=inspection, created_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, visit, after={
            "site": current.pk, "campaign": campaign.pk, "inspection": inspection.pk, "number": inspection.number})
        refresh_site(current, actor)
    site.refresh_from_db()
    return inspection


def _open_finding_q() -> Q:
    """Findings still to be rectified: an ordinary one open, a major one whose hazard is not closed (or missing)."""
    settled = [Hazard.Status.CLOSED, Hazard.Status.CANCELLED]
    return Q(major=False, status=Finding.Status.OPEN) | (Q(major=True) & (Q(hazard__isnull=True)
                                                                         | ~Q(hazard__status__in=settled)))


def derive(site: CampaignSite) -> tuple[str, int, int]:
    """(status, findings, open findings) the site's inspections give it now."""
    if site.status == SS.EXEMPT:
        return SS.EXEMPT, site.findings_count, site.open_findings
    statuses = set(Inspection.objects.filter(campaign_visit__site=site).values_list("status", flat=True))
    if IS.COMPLETED not in statuses:
        return (SS.INSPECTED if IS.IN_PROGRESS in statuses else SS.PENDING), 0, 0
    findings = Finding.objects.filter(inspection__campaign_visit__site=site, inspection__status=IS.COMPLETED)
    total = findings.count()
    still_open = findings.filter(_open_finding_q()).count() if total else 0
    return (SS.RECTIFYING if still_open else SS.DONE), total, still_open


def refresh_site(site: CampaignSite, actor: User | None = None) -> CampaignSite:
    """Bring the site's status and counts in line with its inspections (audited when they change)."""
    with transaction.atomic():
        current = locked_row(CampaignSite, site)
        status, total, still_open = derive(current)
        if (status, total, still_open) == (current.status, current.findings_count, current.open_findings):
            return current
        before = site_snapshot(current)
        current.status, current.findings_count, current.open_findings = status, total, still_open
        if status == SS.DONE and current.closed_at is None:
            current.closed_at = timezone.now()
        elif status in OPEN_SITE_STATUSES:
            current.closed_at = None
        current.save(update_fields=["status", "findings_count", "open_findings", "closed_at"])
        old, new = audit.diff(before, site_snapshot(current))
        audit.record(actor, AuditEvent.Action.TRANSITION if "status" in new else AuditEvent.Action.UPDATE, current,
                     before=old, after=new)
    return current


def refresh_for_inspections(inspection_ids) -> int:
    """Refresh the sites visited by these inspections (the signal receivers' entry); returns how many changed."""
    changed = 0
    for site in CampaignSite.objects.filter(visits__inspection_id__in=list(inspection_ids)).distinct():
        before = (site.status, site.findings_count, site.open_findings)
        after = refresh_site(site)
        changed += before != (after.status, after.findings_count, after.open_findings)
    return changed
