"""Pages of the annual inspection plans: the plans in scope, a new plan (proposed from the ledger), one plan with
its entries, reasons, experts, amendments and the steps the reader may take, its progress, the entries as CSV,
and every body's progress side by side. Thin: every change goes through plans.py; a plan outside the reader's
scope is 404; enterprises and departments have no plan pages (403)."""

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import Organisation, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.inspections.models import Method
from minesafe.monitoring.exports import csv_response
from minesafe.registry.excel import safe_cell
from minesafe.registry.models import Mine

from . import plans as services
from .models import InspectionPlan, PlanEntry, PlanExpert
from .views_common import audit_trail, step_forms

S = InspectionPlan.Status
# The methods an entry form asks minimums for (routine is whatever is left).
FORM_METHODS = [Method.UNANNOUNCED, Method.COVERT, Method.REMOTE, Method.CROSS_COUNTY]


def require_plan_reader(user) -> None:
    """The plan pages are for the city, the counties and the inspectors named in plans."""
    if not (is_city(user) or user.role in (User.Role.COUNTY, User.Role.INSPECTOR)):
        raise PermissionDenied


def plannable_bodies(user):
    return [b for b in services.inspecting_bodies() if services.may_plan_for(user, b)]


def parse_until(request, year: int) -> dt.date:
    """?until=YYYY-MM-DD, else today; kept within the plan year."""
    value = request.GET.get("until", "")
    try:
        until = dt.date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        until = timezone.localdate()
    return min(max(until, dt.date(year, 1, 1)), dt.date(year, 12, 31))


def parse_year(request) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year
    return year if 2000 <= year <= timezone.localdate().year + 1 else timezone.localdate().year


# Forms -------------------------------------------------------------------------------------------
class BodyChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class NewPlanForm(forms.Form):
    organisation = BodyChoice(label=gettext_lazy("inspecting body"), queryset=services.inspecting_bodies())
    year = forms.IntegerField(label=gettext_lazy("year"), min_value=2000, max_value=2100)
    propose = forms.BooleanField(label=gettext_lazy("propose entries from the ledger by the frequency rules"),
                                 required=False, initial=True)
    note = forms.CharField(label=gettext_lazy("note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        bodies = plannable_bodies(user)
        self.fields["organisation"].queryset = services.inspecting_bodies().filter(pk__in=[b.pk for b in bodies])
        if len(bodies) == 1:
            self.fields["organisation"].initial = bodies[0].pk


class MineChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} {obj.name} ({obj.county}, {obj.get_status_display()})"


class EntryForm(forms.Form):
    mine = MineChoice(label=gettext_lazy("mine"), queryset=Mine.objects.none())
    visits_per_year = forms.IntegerField(label=gettext_lazy("visits a year"), min_value=1,
                                         max_value=services.MAX_VISITS)
    note = forms.CharField(label=gettext_lazy("note"), required=False, max_length=200)
    reason = forms.CharField(label=gettext_lazy("reason for the amendment"), required=False, max_length=2000)

    def __init__(self, *args, mines, amendment: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        for method in FORM_METHODS:
            self.fields[f"min_{method}"] = forms.IntegerField(
                label=_("of which at least: %(m)s") % {"m": Method(method).label}, min_value=0, initial=0,
                required=False)
        self.order_fields(["mine", "visits_per_year", *(f"min_{m}" for m in FORM_METHODS), "note", "reason"])
        if amendment:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]


class EntryChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.mine.code} {obj.mine.name}"


class RemoveEntryForm(forms.Form):
    entry = EntryChoice(label=gettext_lazy("entry"), queryset=PlanEntry.objects.none())
    reason = forms.CharField(label=gettext_lazy("reason"), required=False, max_length=2000)

    def __init__(self, *args, plan, user, **kwargs):
        super().__init__(*args, **kwargs)
        entries = plan.entries.select_related("mine").order_by("mine__code")
        if not is_city(user) and plan.organisation.kind == Organisation.Kind.COUNTY:
            entries = entries.filter(mine__county_id=plan.organisation.region_id)  # cross-county ones are the city's
        self.fields["entry"].queryset = entries
        if plan.status == S.APPROVED:
            self.fields["reason"].required = True
            self.fields["reason"].label = _("reason for the amendment")


class ReturnForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("what must change"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class EmptyForm(forms.Form):
    pass


class ExpertUserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj} ({obj.organisation})" if obj.organisation_id else str(obj)


class ExpertForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("role"), choices=PlanExpert.Kind.choices)
    user = ExpertUserChoice(label=gettext_lazy("platform account (inspector or expert)"), required=False,
                            queryset=User.objects.none())
    name = forms.CharField(label=gettext_lazy("name (when without an account)"), required=False, max_length=64)
    speciality = forms.CharField(label=gettext_lazy("speciality"), required=False, max_length=100)
    entry = EntryChoice(label=gettext_lazy("for the mine"), required=False, queryset=PlanEntry.objects.none())
    quarter = forms.TypedChoiceField(label=gettext_lazy("or for the quarter"), required=False, coerce=int,
                                     empty_value=None, choices=[("", "—"), (1, "Q1"), (2, "Q2"), (3, "Q3"),
                                                                (4, "Q4")])

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(role=User.Role.INSPECTOR, is_active=True).select_related(
            "organisation").order_by("display_name", "username")
        self.fields["entry"].queryset = plan.entries.select_related("mine").order_by("mine__code")


class RemoveExpertForm(forms.Form):
    expert = forms.ModelChoiceField(label=gettext_lazy("expert"), queryset=PlanExpert.objects.none())

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expert"].queryset = plan.experts.all()


def minimums_of(data: dict) -> dict[str, int]:
    return {m: data.get(f"min_{m}") or 0 for m in FORM_METHODS}


# Pages -------------------------------------------------------------------------------------------
def scoped_plans(user):
    return InspectionPlan.objects.visible_to(user).select_related("organisation__region")


def plan_mines(user, plan: InspectionPlan):
    """The mines the user may put into this plan: a county its own; the city any (others' as cross-county)."""
    mines = Mine.objects.visible_to(user).select_related("county")
    if not is_city(user):
        mines = mines.filter(county_id=plan.organisation.region_id)
    return mines.order_by("code")


@login_required
def plan_list(request):
    require_plan_reader(request.user)
    year = request.GET.get("year", "")
    status = request.GET.get("status", "")
    plans = scoped_plans(request.user).annotate(entry_count=Count("entries"),
                                                visits=Sum("entries__visits_per_year"))
    if year.isdigit():
        plans = plans.filter(year=int(year))
    if status in S.values:
        plans = plans.filter(status=status)
    return render(request, "enforcement/plans/list.html", {
        "plans": plans.order_by("-year", "organisation__kind", "organisation__region__code"), "year": year,
        "status": status, "statuses": S.choices, "may_create": bool(plannable_bodies(request.user)),
        "this_year": timezone.localdate().year})


@login_required
def plan_new(request):
    if not plannable_bodies(request.user):
        raise PermissionDenied
    form = NewPlanForm(request.POST or None, user=request.user,
                       initial={"year": timezone.localdate().year + 1, "propose": True})
    if request.method == "POST":
        def create(data):
            return services.create_plan(request.user, data["organisation"], data["year"], propose=data["propose"],
                                        note=data["note"])

        plan = submit_on_form(request, form, create, _("Plan created."))
        if plan:
            return redirect("enforcement:plan-detail", pk=plan.pk)
    return render(request, "enforcement/plans/new.html", {"form": form})


@login_required
def plan_detail(request, pk: int):
    require_plan_reader(request.user)
    plan = get_object_or_404(scoped_plans(request.user), pk=pk)
    user = request.user
    editor = services.may_edit(user, plan)
    moves = services.allowed_moves(user, plan)
    steps, kwargs = {}, {}
    if editor and plan.status != S.SUBMITTED:
        amendment = plan.status == S.APPROVED
        mines = plan_mines(user, plan)
        initial = {}
        edit = request.GET.get("mine", "")
        if edit.isdigit() and (entry := plan.entries.filter(mine_id=int(edit)).first()):
            initial = {"mine": entry.mine_id, "visits_per_year": entry.visits_per_year, "note": entry.note,
                       **{f"min_{m}": entry.method_minimums.get(m, 0) for m in FORM_METHODS}}
        steps["entry"] = (EntryForm, lambda d: services.set_entry(
            user, plan, d["mine"], visits_per_year=d["visits_per_year"], method_minimums=minimums_of(d),
            note=d["note"], reason=d.get("reason", "")), _("Entry saved."))
        kwargs["entry"] = {"mines": mines, "amendment": amendment, "initial": initial}
        steps["remove"] = (RemoveEntryForm, lambda d: services.remove_entry(user, d["entry"], reason=d["reason"]),
                           _("Entry removed."))
        kwargs["remove"] = {"plan": plan, "user": user}
    if editor:
        steps["expert"] = (ExpertForm, lambda d: services.add_expert(
            user, plan, kind=d["kind"], user=d["user"], name=d["name"], speciality=d["speciality"], entry=d["entry"],
            quarter=d["quarter"]), _("Expert named."))
        kwargs["expert"] = {"plan": plan}
        if plan.experts.exists():
            steps["unexpert"] = (RemoveExpertForm, lambda d: services.remove_expert(user, d["expert"]),
                                 _("Expert removed."))
            kwargs["unexpert"] = {"plan": plan}
    if editor and plan.is_editable:
        steps["propose"] = (EmptyForm, lambda d: services.propose_entries(user, plan), _("Proposal taken."))
    if S.SUBMITTED in moves:
        steps["submit"] = (EmptyForm, lambda d: services.submit_plan(user, plan), _("Plan submitted."))
    if S.APPROVED in moves:
        steps["approve"] = (EmptyForm, lambda d: services.approve_plan(user, plan), _("Plan approved."))
    if S.RETURNED in moves:
        steps["return"] = (ReturnForm, lambda d: services.return_plan(user, plan, reason=d["reason"]),
                           _("Plan returned."))
    done, forms_by_name = step_forms(request, steps, request.path, form_kwargs=kwargs)
    if done:
        return done
    entries = list(plan.entries.select_related("mine__county").prefetch_related("experts").order_by("mine__code"))
    for entry in entries:
        entry.foreign = services.is_foreign(plan, entry.mine)
        entry.reason_texts = [services.describe_reason(r) for r in entry.reasons]
        entry.methods_display = services.methods_text(entry.method_minimums)
        entry.changed = entry.proposed_visits is not None and entry.proposed_visits != entry.visits_per_year
        entry.editable = is_city(user) or not entry.foreign
        entry.risk_score = services.entry_risk(entry)
    entries.sort(key=lambda e: (-(e.risk_score or 0), e.mine.code))  # riskiest first: the order to visit in
    experts = list(plan.experts.select_related("entry__mine", "user"))
    amendments = list(plan.amendments.select_related("mine", "made_by"))
    for amendment in amendments:
        amendment.before_text, amendment.after_text = (
            f"{state['visits_per_year']} · {services.methods_text(state['method_minimums']) or '—'}" if state else "—"
            for state in (amendment.before, amendment.after))
    # The plan's parts: those there now by id, removed ones by the plan id their snapshot carries.
    parts = ["enforcement.planentry", "enforcement.planexpert", "enforcement.planamendment"]
    extra = (Q(object_type="enforcement.planentry", object_id__in=[str(e.pk) for e in entries])
             | Q(object_type__in=parts) & (Q(after__plan_id=plan.pk) | Q(before__plan_id=plan.pk)))
    return render(request, "enforcement/plans/detail.html", {
        "plan": plan, "entries": entries, "experts": experts, "forms": forms_by_name, "editor": editor,
        "total_visits": sum(e.visits_per_year for e in entries),
        "amendments": amendments,
        "quarter_experts": [e for e in experts if e.entry_id is None],
        "events": audit_trail(plan, extra=extra, limit=60)})


@login_required
def plan_progress(request, pk: int):
    require_plan_reader(request.user)
    plan = get_object_or_404(scoped_plans(request.user), pk=pk)
    until = parse_until(request, plan.year)
    progress = services.progress_for_plan(plan, until)
    show = request.GET.get("show", "behind")
    rows = progress.entries_behind if show == "behind" else progress.entries
    return render(request, "enforcement/plans/progress.html", {
        "plan": plan, "progress": progress, "until": until, "rows": rows, "show": show})


@login_required
def plan_entries_csv(request, pk: int):
    require_plan_reader(request.user)
    plan = get_object_or_404(scoped_plans(request.user), pk=pk)
    until = parse_until(request, plan.year)
    progress = services.progress_for_plan(plan, until)
    header = [_("County"), _("Mine code"), _("Mine"), _("Type"), _("Status"), _("Visits a year"),
              _("Proposed"), _("Methods (at least)"), _("Due to date"), _("Done to date"), _("Behind"), _("Reasons"),
              _("Note")]

    # Built now, not while streaming: the labels and reasons are translated in the request's language.
    rows = [[safe_cell(v) for v in (
        str(row.mine.county), row.mine.code, row.mine.name, row.mine.get_mine_type_display(),
        row.mine.get_status_display(), row.entry.visits_per_year, row.entry.proposed_visits,
        services.methods_text(row.entry.method_minimums), row.due_to_date, row.done_to_date,
        _("yes") if row.behind else "", " | ".join(services.describe_reason(r) for r in row.entry.reasons),
        row.entry.note)] for row in progress.entries]
    return csv_response(header, rows, f"inspection-plan-{plan.organisation.region.code}-{plan.year}.csv")


@login_required
def plan_overview(request):
    """Every plan's progress side by side (the city: every body)."""
    require_plan_reader(request.user)
    year = parse_year(request)
    until = parse_until(request, year)
    return render(request, "enforcement/plans/overview.html", {
        "rows": services.progress_overview(request.user, year, until), "year": year, "until": until,
        "years": range(timezone.localdate().year + 1, 2023, -1)})
