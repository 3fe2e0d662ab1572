"""Pages of the special campaigns: the list, a campaign with its progress (sites by status and county, findings by
checklist item), its sites (with their inspections) and exports, creating and editing, adding sites from the
registry, a site with its visits, closing. Thin: every change goes through services.py. A campaign or site outside
the reader's scope is 404; a page the reader has nothing to do on is 403."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minesafe.core import audit
from minesafe.core.errors import DomainError
from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import attempt, query_without_page, submit_on_form
from minesafe.inspections.models import Inspection
from minesafe.inspections.services import is_officer

from . import exports, forms, services
from .models import Campaign, CampaignSite
from .progress import progress

READER_ROLES = (User.Role.CITY, User.Role.COUNTY, User.Role.INSPECTOR, User.Role.ENTERPRISE)
SS = CampaignSite.Status
AUDIT_ROWS = 30


def require_reader(user) -> None:
    """Campaign pages are for officers and enterprises (their own sites); departments have nothing here."""
    if not (is_city(user) or (user.role in READER_ROLES and user.organisation_id)):
        raise PermissionDenied


def visible_campaign(request, pk: int) -> Campaign:
    require_reader(request.user)
    return get_object_or_404(Campaign.objects.visible_to(request.user).select_related(
        "organiser", "scope", "checklist", "created_by"), pk=pk)


def visible_sites(user, campaign: Campaign):
    return CampaignSite.objects.visible_to(user).filter(campaign=campaign).select_related(
        "campaign", "mine__county", "mine__enterprise", "assigned_organisation")


# Campaigns ---------------------------------------------------------------------------------------
@login_required
def campaign_list(request):
    user = request.user
    require_reader(user)
    campaigns = list(Campaign.objects.visible_to(user).select_related("organiser", "scope"))
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, status, n in CampaignSite.objects.visible_to(user).filter(
            campaign__in=[c.pk for c in campaigns]).values_list("campaign_id", "status").annotate(n=Count("pk")):
        counts.setdefault(campaign_id, {})[status] = n
    today = timezone.localdate()
    rows = []
    for campaign in campaigns:
        by_status = counts.get(campaign.pk, {})
        total = sum(by_status.values())
        settled = by_status.get(SS.DONE, 0) + by_status.get(SS.EXEMPT, 0)
        rows.append({"campaign": campaign, "sites": total, "settled": settled,
                     "overdue": total - settled if campaign.is_past_deadline(today) else 0})
    return render(request, "campaigns/list.html", {"rows": rows, "may_create": services.may_organise(user)})


@login_required
def campaign_new(request):
    user = request.user
    if not services.may_organise(user):
        raise PermissionDenied
    form = forms.CampaignForm(request.POST or None, user=user, initial={
        "starts_on": timezone.localdate(), "mine_types": ["processing_plant"], "plan_task": 20})
    if request.method == "POST":
        campaign = submit_on_form(request, form, lambda d: services.create_campaign(user, **d), _("Campaign created."))
        if campaign:
            return redirect("campaigns:detail", campaign.pk)
        return render(request, "campaigns/form.html", {"form": form, "campaign": None}, status=400)
    return render(request, "campaigns/form.html", {"form": form, "campaign": None})


@login_required
def campaign_edit(request, pk: int):
    campaign = visible_campaign(request, pk)
    user = request.user
    if not services.may_manage(user, campaign) or campaign.status == Campaign.Status.CLOSED:
        raise PermissionDenied
    running = campaign.status == Campaign.Status.RUNNING
    initial = {f: getattr(campaign, f) for f in services.EDITABLE}
    form = forms.CampaignForm(request.POST or None, user=user, running=running, initial=initial)
    if request.method == "POST":
        done = submit_on_form(request, form, lambda d: services.update_campaign(user, campaign, **d),
                              _("Campaign changed."))
        if done:
            return redirect("campaigns:detail", campaign.pk)
        return render(request, "campaigns/form.html", {"form": form, "campaign": campaign}, status=400)
    return render(request, "campaigns/form.html", {"form": form, "campaign": campaign})


@login_required
def campaign_detail(request, pk: int):
    campaign = visible_campaign(request, pk)
    user = request.user
    sites = visible_sites(user, campaign)
    try:
        checklist = services.current_checklist(campaign)
    except DomainError:
        checklist = None
    return render(request, "campaigns/detail.html", {
        "campaign": campaign, "progress": progress(campaign, sites, Inspection.objects.visible_to(user)),
        "may_manage": services.may_manage(user, campaign),
        "checklist": checklist, "checklist_items": checklist.items.order_by("position") if checklist else [],
        "officer": is_officer(user), "today": timezone.localdate(),
        "events": audit.history(campaign)[:AUDIT_ROWS] if is_officer(user) else None})


@login_required
@require_POST
def campaign_start(request, pk: int):
    campaign = visible_campaign(request, pk)
    if not services.may_manage(request.user, campaign):
        raise PermissionDenied
    attempt(request, lambda: services.start_campaign(request.user, campaign), _("Campaign started."))
    return redirect("campaigns:detail", campaign.pk)


@login_required
def campaign_close(request, pk: int):
    campaign = visible_campaign(request, pk)
    user = request.user
    if not services.may_manage(user, campaign) or campaign.status != Campaign.Status.RUNNING:
        raise PermissionDenied
    open_sites = campaign.sites.unfinished().select_related("mine__county")
    form = forms.CloseForm(request.POST or None, open_sites=open_sites)
    if request.method == "POST":
        done = submit_on_form(request, form, lambda d: services.close_campaign(
            user, campaign, reasons=form.reasons(), note=d["note"]), _("Campaign closed."))
        if done:
            return redirect("campaigns:detail", campaign.pk)
        return render(request, "campaigns/close.html", {"campaign": campaign, "form": form}, status=400)
    return render(request, "campaigns/close.html", {"campaign": campaign, "form": form})


# Sites -------------------------------------------------------------------------------------------
def filtered_sites(request, sites):
    get = request.GET
    if get.get("county"):
        sites = sites.filter(mine__county__code=get["county"])
    if get.get("status") in SS.values:
        sites = sites.filter(status=get["status"])
    if get.get("overdue") == "1":
        sites = sites.overdue()
    return sites


def visible_visits(user, sites):
    return Inspection.objects.visible_to(user).filter(campaign_visit__site__in=sites).order_by("inspected_on", "pk")


@login_required
def site_list(request, pk: int):
    campaign = visible_campaign(request, pk)
    user = request.user
    sites = filtered_sites(request, visible_sites(user, campaign))
    page = Paginator(sites, 100).get_page(request.GET.get("page"))
    visits: dict[int, list[Inspection]] = {}
    for inspection in visible_visits(user, page.object_list).select_related("campaign_visit"):
        visits.setdefault(inspection.campaign_visit.site_id, []).append(inspection)
    today = timezone.localdate()
    rows = [{"site": s, "visits": visits.get(s.pk, []), "overdue": s.is_overdue(today)} for s in page.object_list]
    counties = visible_sites(user, campaign).order_by("mine__county__code").values_list(
        "mine__county__code", "mine__county__name_zh").distinct()
    return render(request, "campaigns/sites.html", {
        "campaign": campaign, "rows": rows, "page": page, "query": query_without_page(request), "get": request.GET,
        "statuses": SS.choices, "counties": counties, "may_manage": services.may_manage(user, campaign)})


@login_required
def site_export(request, pk: int, fmt: str):
    campaign = visible_campaign(request, pk)
    user = request.user
    sites = filtered_sites(request, visible_sites(user, campaign))
    table = exports.site_table(sites, visible_visits(user, sites))
    if fmt == "csv":
        response = HttpResponse(exports.as_csv(table), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.as_xlsx(table, _("Campaign sites")), content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.code}-sites.{fmt}"'
    return response


@login_required
def site_add(request, pk: int):
    campaign = visible_campaign(request, pk)
    user = request.user
    if not services.may_manage(user, campaign) or campaign.status == Campaign.Status.CLOSED:
        raise PermissionDenied
    select = forms.SiteSelectForm(request.GET or None, campaign=campaign)
    counties = mine_types = None
    if select.is_valid():
        counties = [r.pk for r in select.cleaned_data["counties"]]
        mine_types = select.cleaned_data["mine_types"]
    candidates = services.candidate_mines(user, campaign, counties=counties, mine_types=mine_types)
    form = forms.AddSitesForm(request.POST or None, mines=candidates,
                              organisations=services.assignable_organisations(campaign))
    status = 200
    if request.method == "POST":
        added = submit_on_form(request, form, lambda d: services.add_sites(
            user, campaign, d["mines"], assigned_organisation=d["assigned_organisation"]), _("Sites added."))
        if added:
            return redirect("campaigns:sites", campaign.pk)
        status = 400
    return render(request, "campaigns/site_add.html", {
        "campaign": campaign, "select": select, "form": form, "candidates": candidates}, status=status)


@login_required
def site_detail(request, pk: int):
    user = request.user
    require_reader(user)
    site = get_object_or_404(CampaignSite.objects.visible_to(user).select_related(
        "campaign__organiser", "campaign__checklist", "mine__county", "mine__enterprise", "assigned_organisation"),
        pk=pk)
    campaign = site.campaign
    may_manage = services.may_manage(user, campaign)
    may_visit = (services.may_visit(user, site) and campaign.status == Campaign.Status.RUNNING
                 and site.status in (SS.PENDING, SS.RECTIFYING))
    visit_form = forms.VisitForm(prefix="visit", initial={"inspected_on": timezone.localdate()})
    exempt_form = forms.ReasonForm(prefix="exempt")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "visit" and may_visit:
            visit_form = forms.VisitForm(request.POST, prefix="visit")
            inspection = submit_on_form(request, visit_form, lambda d: services.visit_site(
                user, site, inspected_on=d["inspected_on"], method=d["method"], team=d["team"]),
                _("Visit started: work through the campaign checklist."))
            if inspection:
                return redirect("inspections:detail", inspection.pk)
        elif action == "exempt" and may_manage:
            exempt_form = forms.ReasonForm(request.POST, prefix="exempt")
            if submit_on_form(request, exempt_form, lambda d: services.exempt_site(user, site, d["reason"]),
                              _("Site exempted.")):
                return redirect("campaigns:site", site.pk)
        elif action == "remove" and may_manage:
            if attempt(request, lambda: services.remove_site(user, site), _("Site removed.")):
                return redirect("campaigns:sites", campaign.pk)
            return redirect("campaigns:site", site.pk)
        else:
            raise PermissionDenied
        status = 400
    visits = visible_visits(user, CampaignSite.objects.filter(pk=site.pk)).select_related(
        "organisation", "lead_inspector").annotate(finding_count=Count("findings"))
    return render(request, "campaigns/site.html", {
        "site": site, "campaign": campaign, "visits": visits, "may_manage": may_manage, "may_visit": may_visit,
        "visit_form": visit_form, "exempt_form": exempt_form, "overdue": site.is_overdue(),
        "events": audit.history(site)[:AUDIT_ROWS] if is_officer(user) else None}, status=status)
