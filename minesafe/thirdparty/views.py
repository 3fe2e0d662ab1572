"""Pages of the third-party oversight: firms (list, detail with qualifications, footprint and status
history, forms), the qualification expiry lists, engagements, checks, falsification cases, and the public
blacklist (no login). Lists filter and export (CSV or Excel) exactly what the reader sees.

Thin: every change goes through services.py. Rows outside the reader's scope are 404; a page the reader's
role has no use for is 403."""

from collections import Counter
from collections.abc import Callable

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from minesafe.core.models import AuditEvent, Region, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import query_without_page, submit_on_form
from minesafe.registry.models import Mine

from . import exports, forms, services
from .models import (
    Check,
    Engagement,
    FalsificationCase,
    Firm,
    FirmStatusChange,
    Qualification,
    ServiceKind,
    active_user,
    is_official,
    sees_all_firms,
)

FS = Firm.Status
CS = FalsificationCase.Status
PAGE_SIZE = 50


# Plumbing ----------------------------------------------------------------------------------------
def uses_oversight(user) -> bool:
    """Engagements, checks and cases are for the officials, the enterprises and the inspectors (each in their
    scope); the city departments have no use for them."""
    return active_user(user) and (is_city(user) or user.role in (User.Role.COUNTY, User.Role.ENTERPRISE,
                                                                 User.Role.INSPECTOR))


def show(request, template: str, context: dict):
    """Render a signed-in page; the tabs show what the reader's role uses."""
    user = request.user
    return render(request, template, {"tabs_all_firms": sees_all_firms(user), "tabs_oversight": uses_oversight(user),
                                      **context})


def require(condition: bool) -> None:
    if not condition:
        raise PermissionDenied


def paged(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def export_format(fmt: str) -> str:
    if fmt not in exports.FORMATS:
        raise Http404
    return fmt


def audit_trail(*objects, limit: int = 100):
    q = Q(pk__in=[])
    for obj in objects:
        q |= Q(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    return AuditEvent.objects.filter(q).order_by("-seq")[:limit]


Steps = dict[str, tuple[type[django_forms.Form], Callable[[dict], object], str, dict]]


def run_steps(request, steps: Steps, done_url: str):
    """The page's step forms (`name -> (form class, service call, success message, form kwargs)`), one prefix
    each; a POST names its step in `action`. Returns (redirect or None, forms by name). A POST when no step is
    offered is refused (403); a step not offered now is refused with a message."""
    bound = {}
    if request.method == "POST":
        if not steps:
            raise PermissionDenied
        name = request.POST.get("action", "")
        if name not in steps:
            messages.error(request, _("This step is not available now."))
            return redirect(done_url), {}
        form_class, call, success, kwargs = steps[name]
        form = form_class(request.POST, prefix=name, **kwargs)
        if submit_on_form(request, form, call, success):
            return redirect(done_url), {}
        bound[name] = form
    return None, {name: bound.get(name) or cls(prefix=name, **kwargs) for name, (cls, _c, _m, kwargs) in steps.items()}


def counties_in(queryset, path: str) -> list[Region]:
    ids = queryset.order_by().values_list(path, flat=True).distinct()
    return list(Region.objects.filter(pk__in=ids).order_by("code"))


def visible_mine_names(case: FalsificationCase, visible_ids: set[int]) -> list[str]:
    return [m.name for m in case.mines.all() if m.pk in visible_ids]


# Firms -------------------------------------------------------------------------------------------
def visible_firms(user):
    return Firm.objects.visible_to(user).prefetch_related("kind_rows")


def with_engagement_counts(firms, user):
    """Each firm's number of engagements the reader sees (its footprint in the reader's scope)."""
    counts = (Engagement.objects.visible_to(user).filter(firm=OuterRef("pk")).order_by().values("firm")
              .annotate(n=Count("pk")).values("n"))
    return firms.annotate(engagement_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0))


def filtered_firms(request):
    user = request.user
    firms = visible_firms(user)
    q, kind, status = (request.GET.get(k, "").strip() for k in ("q", "kind", "status"))
    if q:
        firms = firms.filter(Q(name__icontains=q) | Q(credit_code__icontains=q.upper()))
    if kind in ServiceKind.values:
        firms = firms.filter(kind_rows__kind=kind)
    if status in FS.values and sees_all_firms(user):
        firms = firms.filter(status=status)
    if uses_oversight(user) and sees_all_firms(user):
        firms = with_engagement_counts(firms, user)
    return firms.order_by("name"), {"q": q, "kind": kind, "status": status}


@login_required
def index(request):
    return redirect("thirdparty:firm-list")


@login_required
def firm_list(request):
    firms, filters = filtered_firms(request)
    return show(request, "thirdparty/firm_list.html", {
        "page": paged(request, firms), "query": query_without_page(request), **filters,
        "kinds": ServiceKind.choices, "statuses": FS.choices, "full": sees_all_firms(request.user),
        "counts": uses_oversight(request.user) and sees_all_firms(request.user),
        "may_add": is_official(request.user), "export_query": request.GET.urlencode()})


@login_required
def firm_export(request, fmt: str):
    firms, _filters = filtered_firms(request)
    user = request.user
    columns = exports.FIRM_FULL if sees_all_firms(user) else exports.FIRM_PUBLIC
    if uses_oversight(user) and sees_all_firms(user):
        columns = columns + exports.FIRM_COUNT
    return exports.export(export_format(fmt), str(_("Service firms")), columns, firms, "service-firms")


def firm_form_call(user, firm=None):
    def call(data):
        fields = {k: data[k] for k in ("name", "credit_code", "kinds", "address", "contact_person", "contact_phone",
                                       "note")}
        if firm is None:
            return services.create_firm(user, **fields)
        return services.update_firm(user, firm, **fields)
    return call


@login_required
def firm_new(request):
    require(is_official(request.user))
    form = forms.FirmForm(request.POST or None)
    if request.method == "POST":
        created = submit_on_form(request, form, firm_form_call(request.user), _("Firm registered."))
        if created:
            return redirect("thirdparty:firm-detail", pk=created.pk)
    return show(request, "thirdparty/firm_form.html", {"form": form, "firm": None})


@login_required
def firm_edit(request, pk: int):
    firm = get_object_or_404(visible_firms(request.user), pk=pk)
    require(is_official(request.user))
    initial = {f: getattr(firm, f) for f in services.FIRM_FIELDS} | {"kinds": firm.kinds}
    form = forms.FirmForm(request.POST or None, initial=initial)
    if request.method == "POST" and submit_on_form(request, form, firm_form_call(request.user, firm),
                                                   _("Firm updated.")):
        return redirect("thirdparty:firm-detail", pk=firm.pk)
    return show(request, "thirdparty/firm_form.html", {"form": form, "firm": firm})


def firm_steps(user, firm: Firm) -> Steps:
    steps: Steps = {}
    if is_official(user):
        if firm.kinds:
            steps["qualification"] = (forms.QualificationForm, lambda d: services.add_qualification(
                user, firm, kind=d["kind"], certificate_number=d["certificate_number"],
                issuing_authority=d["issuing_authority"], scope=d["scope"], valid_from=d["valid_from"],
                valid_to=d["valid_to"], replaces=d["replaces"]), _("Qualification recorded."), {"firm": firm})
        for q in firm.qualifications.filter(revoked_on__isnull=True):
            steps[f"revoke{q.pk}"] = (forms.RevokeForm, lambda d, q=q: services.revoke_qualification(
                user, q, revoked_on=d["revoked_on"], reason=d["reason"]), _("Qualification revoked."), {})
    if active_user(user) and is_city(user):
        options = {
            FS.SUSPENDED: ("suspend", forms.ReasonForm, lambda d: services.suspend_firm(user, firm, reason=d["reason"]),
                           _("Firm suspended.")),
            FS.BLACKLISTED: ("blacklist", forms.BlacklistForm, lambda d: services.blacklist_firm(
                user, firm, reason=d["reason"], notice=d["notice"]), _("Firm blacklisted.")),
            FS.ACTIVE: ("reinstate" if firm.status == FS.SUSPENDED else "unblacklist", forms.ReasonForm,
                        lambda d: (services.reinstate_firm if firm.status == FS.SUSPENDED
                                   else services.remove_from_blacklist)(user, firm, reason=d["reason"]),
                        _("Firm status changed.")),
        }
        for (frm, to), _name in services.FIRM_TRANSITIONS.items():
            if frm == firm.status:
                name, form_class, call, success = options[to]
                steps[name] = (form_class, call, success, {})
    return steps


@login_required
def firm_detail(request, pk: int):
    user = request.user
    firm = get_object_or_404(visible_firms(user), pk=pk)
    done, step_forms = run_steps(request, firm_steps(user, firm), request.path)
    if done:
        return done
    today, days = timezone.localdate(), services.expiring_within_days()
    qualifications = list(firm.qualifications.select_related("replaces").order_by("kind", "-valid_to"))
    for q in qualifications:
        q.state_value = q.state(today, days)
        q.state_label = Qualification.State(q.state_value).label
        q.revoke_form = step_forms.get(f"revoke{q.pk}")
    full = sees_all_firms(user)
    context = {"firm": firm, "full": full, "qualifications": qualifications, "forms": step_forms,
               "may_edit": is_official(user), "days": days}
    if uses_oversight(user):
        footprint = Engagement.objects.visible_to(user).filter(firm=firm).select_related("mine__county")
        context.update({
            "engagements": footprint.order_by("-engaged_on", "-pk")[:100], "engagement_count": footprint.count(),
            "by_county": sorted(Counter(e.mine.county for e in footprint).items(), key=lambda kv: kv[0].code),
            "checks": Check.objects.visible_to(user).filter(engagement__firm=firm)
            .select_related("engagement__mine").order_by("-checked_on")[:50],
            "cases": FalsificationCase.objects.visible_to(user).filter(firm=firm).order_by("-opened_on")})
    if full:
        changes = list(firm.status_changes.select_related("changed_by", "case"))
        context.update({"history": changes, "events": audit_trail(firm, *qualifications, *changes)})
    return show(request, "thirdparty/firm_detail.html", context)


# Qualifications ----------------------------------------------------------------------------------
def expiry_rows(user):
    expiring, expired, days = services.expiry_lists(user)
    for q in expiring:
        q.list_label = _("expiring")
    for q in expired:
        q.list_label = _("expired")
    return expiring, expired, days


@login_required
def qualification_list(request):
    require(sees_all_firms(request.user))
    expiring, expired, days = expiry_rows(request.user)
    kind = request.GET.get("kind", "")
    if kind in ServiceKind.values:
        expiring, expired = [q for q in expiring if q.kind == kind], [q for q in expired if q.kind == kind]
    return show(request, "thirdparty/qualification_list.html", {
        "expiring": expiring, "expired": expired, "days": days, "kind": kind, "kinds": ServiceKind.choices,
        "today": timezone.localdate(), "export_query": request.GET.urlencode()})


@login_required
def qualification_export(request, fmt: str):
    require(sees_all_firms(request.user))
    expiring, expired, _days = expiry_rows(request.user)
    kind = request.GET.get("kind", "")
    rows = [q for q in expiring + expired if kind not in ServiceKind.values or q.kind == kind]
    return exports.export(export_format(fmt), str(_("Qualifications")), exports.QUALIFICATION, rows,
                          "qualifications-expiry")


# Engagements -------------------------------------------------------------------------------------
def scoped_engagements(user):
    return Engagement.objects.visible_to(user).select_related("mine__county", "firm", "qualification")


def filtered_engagements(request):
    base = scoped_engagements(request.user)
    items = base
    county, kind, firm, year, q = (request.GET.get(k, "").strip() for k in ("county", "kind", "firm", "year", "q"))
    if county:
        items = items.filter(mine__county__code=county)
    if kind in ServiceKind.values:
        items = items.filter(kind=kind)
    if firm.isdigit():
        items = items.filter(firm_id=int(firm))
    if year.isdigit():
        items = items.filter(engaged_on__year=int(year))
    if q:
        items = items.filter(Q(report_title__icontains=q) | Q(report_number__icontains=q) | Q(mine__name__icontains=q)
                             | Q(firm__name__icontains=q))
    return base, items.order_by("-engaged_on", "-pk"), {"county": county, "kind": kind, "firm": firm, "year": year,
                                                         "q": q}


def recordable_mines(user):
    """Mines the user may record engagements for: a regulator's mines, an enterprise's own."""
    if active_user(user) and (is_city(user) or user.role in (User.Role.COUNTY, User.Role.ENTERPRISE)):
        return Mine.objects.visible_to(user).select_related("county").order_by("county__code", "name")
    return Mine.objects.none()


@login_required
def engagement_list(request):
    require(uses_oversight(request.user))
    base, items, filters = filtered_engagements(request)
    return show(request, "thirdparty/engagement_list.html", {
        "page": paged(request, items), "query": query_without_page(request), **filters,
        "kinds": ServiceKind.choices, "counties": counties_in(base, "mine__county"),
        "may_record": recordable_mines(request.user).exists(), "export_query": request.GET.urlencode()})


@login_required
def engagement_export(request, fmt: str):
    require(uses_oversight(request.user))
    _base, items, _filters = filtered_engagements(request)
    return exports.export(export_format(fmt), str(_("Engagements")), exports.ENGAGEMENT, items, "engagements")


@login_required
def engagement_new(request):
    user = request.user
    mines = recordable_mines(user)
    require(mines.exists())
    firms = Firm.objects.visible_to(user).filter(status=FS.ACTIVE).order_by("name")
    initial = {"firm": request.GET.get("firm")} if request.GET.get("firm", "").isdigit() else None
    form = forms.EngagementForm(request.POST or None, mines=mines, firms=firms, initial=initial)
    if request.method == "POST":
        def record(d):
            return services.record_engagement(
                user, d["mine"], firm=d["firm"], kind=d["kind"], engaged_on=d["engaged_on"],
                report_title=d["report_title"], report_number=d["report_number"], report_date=d["report_date"],
                note=d["note"])

        created = submit_on_form(request, form, record, _("Engagement recorded."))
        if created:
            return redirect("thirdparty:engagement-detail", pk=created.pk)
    return show(request, "thirdparty/engagement_form.html", {"form": form})


@login_required
def engagement_detail(request, pk: int):
    user = request.user
    engagement = get_object_or_404(scoped_engagements(user).select_related("mine__enterprise"), pk=pk)
    steps: Steps = {}
    if services.may_check(user, engagement.mine):
        steps["check"] = (forms.CheckForm, lambda d: services.record_check(
            user, engagement, checked_on=d["checked_on"], checkers=d["checkers"], result=d["result"],
            findings=d["findings"], follow_up_due=d["follow_up_due"]), _("Check recorded."), {})
    done, step_forms = run_steps(request, steps, request.path)
    if done:
        return done
    checks = Check.objects.visible_to(user).filter(engagement=engagement).order_by("-checked_on", "-pk")
    return show(request, "thirdparty/engagement_detail.html", {
        "engagement": engagement, "mine": engagement.mine, "checks": checks, "forms": step_forms,
        "firm_visible": Firm.objects.visible_to(user).filter(pk=engagement.firm_id).exists(),
        "events": audit_trail(engagement, *checks) if is_official(user) else []})


# Checks ------------------------------------------------------------------------------------------
def scoped_checks(user):
    return Check.objects.visible_to(user).select_related("engagement__mine__county", "engagement__firm")


def filtered_checks(request):
    base = scoped_checks(request.user)
    items = base
    result, status, county, firm = (request.GET.get(k, "").strip() for k in ("result", "status", "county", "firm"))
    if result in Check.Result.values:
        items = items.filter(result=result)
    if status in Check.Status.values:
        items = items.filter(status=status)
    if county:
        items = items.filter(engagement__mine__county__code=county)
    if firm.isdigit():
        items = items.filter(engagement__firm_id=int(firm))
    overdue = request.GET.get("overdue") == "1"
    if overdue:
        items = items.follow_up_overdue()
    return base, items.order_by("-checked_on", "-pk"), {"result": result, "status": status, "county": county,
                                                         "firm": firm, "overdue": overdue}


@login_required
def check_list(request):
    require(uses_oversight(request.user))
    base, items, filters = filtered_checks(request)
    return show(request, "thirdparty/check_list.html", {
        "page": paged(request, items), "query": query_without_page(request), **filters,
        "results": Check.Result.choices, "statuses": Check.Status.choices,
        "counties": counties_in(base, "engagement__mine__county"), "overdue_count": base.follow_up_overdue().count(),
        "export_query": request.GET.urlencode()})


@login_required
def check_export(request, fmt: str):
    require(uses_oversight(request.user))
    _base, items, _filters = filtered_checks(request)
    return exports.export(export_format(fmt), str(_("Checks")), exports.CHECK, items, "checks")


@login_required
def check_detail(request, pk: int):
    user = request.user
    check = get_object_or_404(scoped_checks(user).select_related("engagement__mine__enterprise", "recorded_by"),
                              pk=pk)
    mine = check.engagement.mine
    steps: Steps = {}
    if services.may_check(user, mine):
        if check.status == Check.Status.OPEN:
            steps["followup"] = (forms.FollowUpForm, lambda d: services.close_follow_up(
                user, check, followed_up_on=d["followed_up_on"], note=d["note"]), _("Follow-up recorded."), {})
        if check.published_at is None:
            steps["publish"] = (forms.EmptyForm, lambda d: services.publish_check(user, check),
                                _("Check published to the enterprise."), {})
        if check.result != Check.Result.COMPLIANT and not check.cases.exists():
            steps["case"] = (forms.CaseFromCheckForm, lambda d: services.open_case(
                user, source=FalsificationCase.Source.CHECK, source_check=check, falsified=d["falsified"],
                description=d["description"]), _("Falsification case opened."), {})
    done, step_forms = run_steps(request, steps, request.path)
    if done:
        return done
    return show(request, "thirdparty/check_detail.html", {
        "check": check, "engagement": check.engagement, "mine": mine, "forms": step_forms,
        "cases": FalsificationCase.objects.visible_to(user).filter(source_check=check),
        "events": audit_trail(check) if is_official(user) else []})


# Falsification cases -----------------------------------------------------------------------------
def scoped_cases(user):
    return FalsificationCase.objects.visible_to(user).select_related("firm").prefetch_related("mines")


def decorate_cases(cases, user):
    visible = set(Mine.objects.visible_to(user).values_list("pk", flat=True))
    for case in cases:
        case.shown_mines = visible_mine_names(case, visible)
    return cases


def filtered_cases(request):
    items = scoped_cases(request.user)
    status, firm, year = (request.GET.get(k, "").strip() for k in ("status", "firm", "year"))
    if status in CS.values:
        items = items.filter(status=status)
    if firm.isdigit():
        items = items.filter(firm_id=int(firm))
    if year.isdigit():
        items = items.filter(opened_on__year=int(year))
    return items.order_by("-opened_on", "-pk"), {"status": status, "firm": firm, "year": year}


@login_required
def case_list(request):
    require(uses_oversight(request.user))
    items, filters = filtered_cases(request)
    page = paged(request, items)
    decorate_cases(page.object_list, request.user)
    return show(request, "thirdparty/case_list.html", {
        "page": page, "query": query_without_page(request), **filters, "statuses": CS.choices,
        "may_open": is_official(request.user), "export_query": request.GET.urlencode()})


@login_required
def case_export(request, fmt: str):
    require(uses_oversight(request.user))
    items, _filters = filtered_cases(request)
    return exports.export(export_format(fmt), str(_("Falsification cases")), exports.CASE,
                          decorate_cases(list(items), request.user), "falsification-cases")


def remit_mines(user):
    """The mines an official may name in a case: the city all, a county its own."""
    return Mine.objects.visible_to(user).select_related("county").order_by("county__code", "name") \
        if is_official(user) else Mine.objects.none()


@login_required
def case_new(request):
    user = request.user
    require(is_official(user))
    firms = Firm.objects.visible_to(user).order_by("name")
    form = forms.CaseForm(request.POST or None, firms=firms, mines=remit_mines(user),
                          initial={"opened_on": timezone.localdate()})
    if request.method == "POST":
        def open_(d):
            return services.open_case(
                user, firm=d["firm"], source=FalsificationCase.Source.REPORT, source_reference=d["source_reference"],
                falsified=d["falsified"], description=d["description"], mines=d["mines"], opened_on=d["opened_on"])

        created = submit_on_form(request, form, open_, _("Falsification case opened."))
        if created:
            return redirect("thirdparty:case-detail", pk=created.pk)
    return show(request, "thirdparty/case_form.html", {"form": form})


def case_steps(user, case: FalsificationCase) -> Steps:
    if not services.may_handle_case(user, case):
        return {}
    steps: Steps = {}
    today = timezone.localdate()
    if case.status in (CS.UNDER_INVESTIGATION, CS.CONFIRMED):
        candidates = remit_mines(user).filter(thirdparty_engagements__firm=case.firm).exclude(
            pk__in=case.mines.values("pk")).distinct()
        if candidates.exists():
            steps["mines"] = (forms.AddMinesForm, lambda d: services.add_affected_mines(user, case, d["mines"]),
                              _("Mines added."), {"mines": candidates})
    if case.status == CS.UNDER_INVESTIGATION:
        steps["confirm"] = (forms.ConfirmForm, lambda d: services.confirm_case(
            user, case, findings=d["findings"], confirmed_on=d["confirmed_on"]), _("Case confirmed."),
            {"initial": {"confirmed_on": today}})
        steps["dismiss"] = (forms.ReasonForm, lambda d: services.dismiss_case(user, case, reason=d["reason"]),
                            _("Case dismissed."), {})
    if case.status == CS.CONFIRMED:
        steps["close"] = (forms.CloseCaseForm, lambda d: services.close_case(
            user, case, actions=d["actions"], decision=d["decision"], decided_on=d["decided_on"],
            public_summary=d.get("public_summary", "")), _("Case closed."),
            {"city": is_city(user), "initial": {"decided_on": today}})
    if case.status == CS.CLOSED and case.published_at is None:
        steps["publish"] = (forms.EmptyForm, lambda d: services.publish_case(user, case),
                            _("Case published to the enterprises concerned."), {})
    return steps


@login_required
def case_detail(request, pk: int):
    user = request.user
    case = get_object_or_404(scoped_cases(user).select_related("source_check__engagement", "opened_by_org"), pk=pk)
    done, step_forms = run_steps(request, case_steps(user, case), request.path)
    if done:
        return done
    decorate_cases([case], user)
    official = is_official(user)
    firm_changes = list(FirmStatusChange.objects.filter(case=case)) if official else []
    return show(request, "thirdparty/case_detail.html", {
        "case": case, "forms": step_forms, "official": official,
        "firm_visible": Firm.objects.visible_to(user).filter(pk=case.firm_id).exists(),
        "check_visible": case.source_check_id and Check.objects.visible_to(user).filter(
            pk=case.source_check_id).exists(),
        "firm_changes": firm_changes, "events": audit_trail(case, *firm_changes) if official else []})


# The public blacklist (no login) -----------------------------------------------------------------
def _case_number(firm: Firm) -> str:
    case = services.listing_case(firm)
    return case.number if case is not None and case.published_at is not None else ""


# field code -> (heading, value of one blacklisted firm). A catalogue field not listed here is never shown.
PUBLIC_COLUMNS = {
    "name": (_lazy("Firm"), lambda f: f.name),
    "credit_code": (_lazy("Unified social credit code"), lambda f: f.credit_code),
    "kinds": (_lazy("Kinds of service"), lambda f: "、".join(f.kind_labels)),
    "listed_on": (_lazy("Listed on"), lambda f: f.status_since.isoformat()),
    "listed_until": (_lazy("Listed until"), lambda f: f.blacklisted_until.isoformat() if f.blacklisted_until else ""),
    "notice": (_lazy("Dishonest conduct (失信行为)"), lambda f: f.blacklist_notice),
    "case_number": (_lazy("Case number"), _case_number),
}


def public_fields() -> list[str]:
    return [name for name in services.catalogue()["public_blacklist"]["fields"] if name in PUBLIC_COLUMNS]


def public_rows(firms, fields: list[str]) -> list[list[str]]:
    return [[PUBLIC_COLUMNS[name][1](firm) for name in fields] for firm in firms]


def public_blacklist(request):
    fields = public_fields()
    page = Paginator(services.blacklisted_firms(), 200).get_page(request.GET.get("page"))
    return render(request, "thirdparty/public_blacklist.html", {
        "headings": [PUBLIC_COLUMNS[name][0] for name in fields], "rows": public_rows(page.object_list, fields),
        "page": page, "count": page.paginator.count, "query": "", "today": timezone.localdate(),
        "term_years": services.blacklist_term_years()})


def public_blacklist_csv(request) -> HttpResponse:
    fields = public_fields()
    columns = [(PUBLIC_COLUMNS[name][0], lambda f, name=name: PUBLIC_COLUMNS[name][1](f)) for name in fields]
    return exports.csv_response(columns, services.blacklisted_firms(), "blacklisted-service-firms")
