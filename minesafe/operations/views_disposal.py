"""Pages for the disposal of unsafe mines (分类处置), tailings-pond closure plans (闭库) and upgrade and
consolidation projects. Thin: every change goes through disposal.py; lists are scoped by visible_to and an
object outside the reader's scope is 404."""


from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import audit_trail, query_without_page, step_forms, submit_on_form
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from . import common, disposal
from .models import DisposalDecision, PondClosurePlan, UpgradeProject

D = DisposalDecision.Status
P = PondClosurePlan.Status
U = UpgradeProject.Status


# Shared page plumbing ----------------------------------------------------------------------------
def is_regulator_user(user) -> bool:
    """May create records at all (the city, a county); the service still checks the particular mine."""
    return is_city(user) or user.role == User.Role.COUNTY


def overdue_param(request) -> bool | None:
    return {"1": True, "0": False}.get(request.GET.get("overdue", ""))


def visible_mines(user, **filters):
    return Mine.objects.visible_to(user).exclude(status=Mine.Status.CLOSED).filter(**filters) \
        .select_related("county").order_by("county__code", "name")


# Forms -------------------------------------------------------------------------------------------
class MineField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.county})"


class ProposeForm(forms.Form):
    mine = MineField(label=gettext_lazy("mine"), queryset=Mine.objects.none())
    category = forms.ChoiceField(label=gettext_lazy("category"), choices=DisposalDecision.Category.choices)
    ground = forms.ChoiceField(label=gettext_lazy("legal ground"))
    ground_detail = forms.CharField(label=gettext_lazy("facts and legal basis"),
                                    widget=forms.Textarea(attrs={"rows": 3}))
    deadline = forms.DateField(label=gettext_lazy("due by"), widget=DateInput())

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        self.fields["ground"].choices = [(g["code"], common.label(g)) for g in disposal.grounds()]


class DecideForm(forms.Form):
    decided_on = forms.DateField(label=gettext_lazy("decided on"), widget=DateInput())
    decision_ref = forms.CharField(label=gettext_lazy("decision document"), max_length=100)


class CompleteDecisionForm(forms.Form):
    completed_on = forms.DateField(label=gettext_lazy("completed on"), widget=DateInput())
    follow_up = forms.CharField(label=gettext_lazy("follow-up"), widget=forms.Textarea(attrs={"rows": 3}))
    close_mine = forms.BooleanField(label=gettext_lazy("close the mine in the registry"), required=False)

    def __init__(self, *args, closure: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if closure:
            self.fields["close_mine"].initial = True
        else:
            del self.fields["close_mine"]


class RevokeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("reason for revoking"), widget=forms.Textarea(attrs={"rows": 2}))


class PondPlanForm(forms.Form):
    pond = MineField(label=gettext_lazy("tailings pond"), queryset=Mine.objects.none())
    target_year = forms.IntegerField(label=gettext_lazy("target year"))
    design_ref = forms.CharField(label=gettext_lazy("closure design"), max_length=200, required=False)
    note = forms.CharField(label=gettext_lazy("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, ponds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pond"].queryset = ponds


class WorksStartForm(forms.Form):
    works_started_on = forms.DateField(label=gettext_lazy("works started on"), widget=DateInput())


class PondCloseForm(forms.Form):
    closed_on = forms.DateField(label=gettext_lazy("closed on (闭库验收)"), widget=DateInput())
    note = forms.CharField(label=gettext_lazy("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


def unification_choices():
    return [(item["code"], common.label(item)) for item in common.catalogue()["disposal"]["five_unifications"]]


class ProjectForm(forms.Form):
    mine = MineField(label=gettext_lazy("mine"), queryset=Mine.objects.none())
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=UpgradeProject.Kind.choices)
    description = forms.CharField(label=gettext_lazy("project description"), widget=forms.Textarea(attrs={"rows": 3}))
    partners = forms.CharField(label=gettext_lazy("mines merged (consolidation)"), max_length=300, required=False)
    unifications = forms.MultipleChoiceField(label=gettext_lazy("五统一 achieved (consolidation)"), required=False,
                                             widget=forms.CheckboxSelectMultiple)
    deadline = forms.DateField(label=gettext_lazy("due by"), widget=DateInput())

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        self.fields["unifications"].choices = unification_choices()


class ProjectStepForm(forms.Form):
    progress = forms.CharField(label=gettext_lazy("progress"), required=False,
                               widget=forms.Textarea(attrs={"rows": 2}))
    unifications = forms.MultipleChoiceField(label=gettext_lazy("五统一 achieved"), required=False,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, consolidation: bool, achieved=(), completing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if completing:
            self.fields["completed_on"] = forms.DateField(label=gettext_lazy("completed on"), widget=DateInput())
        if consolidation:
            self.fields["unifications"].choices = unification_choices()
            self.fields["unifications"].initial = list(achieved)
        else:
            del self.fields["unifications"]


# Disposal decisions ------------------------------------------------------------------------------
def scoped_decisions(user):
    return DisposalDecision.objects.visible_to(user).select_related("mine__county", "mine__enterprise")


@login_required
def disposal_list(request):
    user = request.user
    base = scoped_decisions(user)
    county, category, status = (request.GET.get(k, "") for k in ("county", "category", "status"))
    overdue = overdue_param(request)
    decisions = disposal.filter_decisions(base, county=county, category=category, status=status, overdue=overdue)
    page = Paginator(decisions.order_by("deadline", "pk"), 50).get_page(request.GET.get("page"))
    today, labels = timezone.localdate(), disposal.ground_labels()
    for decision in page.object_list:
        decision.overdue = disposal.decision_overdue(decision, today)
        decision.ground_label = disposal.ground_label(decision.ground, labels)
    form = None
    if is_regulator_user(user):
        mines = visible_mines(user)
        form = ProposeForm(request.POST or None, mines=mines, prefix="propose")
        if request.method == "POST":
            def propose(data):
                return disposal.propose_decision(user, data["mine"], category=data["category"], ground=data["ground"],
                                                 ground_detail=data["ground_detail"], deadline=data["deadline"])

            decision = submit_on_form(request, form, propose, _("Disposal proposed."))
            if decision:
                return redirect("operations:disposal-detail", pk=decision.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "operations/disposal_list.html", {
        "page": page, "query": query_without_page(request), "form": form,
        "counts": disposal.county_counts(decisions, today),
        "counties": disposal.counties_in(base, "mine__county"), "county": county, "category": category,
        "status": status, "overdue": request.GET.get("overdue", ""),
        "categories": DisposalDecision.Category.choices, "statuses": D.choices})


@login_required
def disposal_detail(request, pk: int):
    decision = get_object_or_404(scoped_decisions(request.user), pk=pk)
    user = request.user
    regulator = common.is_regulator(user, decision.mine)
    steps = {}
    if decision.status == D.PROPOSED:
        steps["decide"] = (DecideForm, lambda d: disposal.decide(
            user, decision, decided_on=d["decided_on"], decision_ref=d["decision_ref"]), _("Decision recorded."))
    if decision.status == D.IN_PROGRESS:
        steps["complete"] = (CompleteDecisionForm, lambda d: disposal.complete_decision(
            user, decision, completed_on=d["completed_on"], follow_up=d["follow_up"],
            close_mine=d.get("close_mine", False)), _("Disposal completed."))
    if decision.status in disposal.OPEN_DECISIONS:
        steps["revoke"] = (RevokeForm, lambda d: disposal.revoke_decision(user, decision, reason=d["reason"]),
                           _("Decision revoked."))
    done, step_form = step_forms(request, steps if regulator else {}, request.path, allowed=regulator, form_kwargs={
        "complete": {"closure": decision.category == DisposalDecision.Category.CLOSE}})
    if done:
        return done
    return render(request, "operations/disposal_detail.html", {
        "decision": decision, "mine": decision.mine, "forms": step_form,
        "ground_label": disposal.ground_label(decision.ground), "overdue": disposal.decision_overdue(decision),
        "others": scoped_decisions(user).filter(mine=decision.mine).exclude(pk=decision.pk),
        "events": audit_trail(decision)})


# Tailings-pond closure ---------------------------------------------------------------------------
def scoped_plans(user):
    return PondClosurePlan.objects.visible_to(user).select_related("pond__county", "pond__enterprise")


@login_required
def pond_list(request):
    user = request.user
    plans = scoped_plans(user)
    status = request.GET.get("status", "")
    listed = plans.filter(status=status) if status in P.values else plans
    form = None
    if is_regulator_user(user):
        ponds = visible_mines(user, mine_type=Mine.Type.TAILINGS_POND, closure_plan__isnull=True)
        form = PondPlanForm(request.POST or None, ponds=ponds, prefix="plan")
        if request.method == "POST":
            def plan(data):
                return disposal.plan_pond_closure(user, data["pond"], target_year=data["target_year"],
                                                  design_ref=data["design_ref"], note=data["note"])

            created = submit_on_form(request, form, plan, _("Closure plan recorded."))
            if created:
                return redirect("operations:pond-detail", pk=created.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "operations/ponds_list.html", {
        "plans": listed.order_by("target_year", "pond__county__code", "pond__name"), "form": form,
        "progress": disposal.pond_progress(plans), "status": status, "statuses": P.choices,
        "city_wide": is_city(user) or user.role == User.Role.DEPARTMENT})


@login_required
def pond_detail(request, pk: int):
    plan = get_object_or_404(scoped_plans(request.user), pk=pk)
    user = request.user
    regulator = common.is_regulator(user, plan.pond)
    steps = {}
    if plan.status == P.PLANNED:
        steps["start"] = (WorksStartForm, lambda d: disposal.start_pond_works(
            user, plan, works_started_on=d["works_started_on"]), _("Closure works started."))
    if plan.status == P.IN_PROGRESS:
        steps["close"] = (PondCloseForm, lambda d: disposal.close_pond(
            user, plan, closed_on=d["closed_on"], note=d["note"]), _("Pond closed."))
    done, step_form = step_forms(request, steps if regulator else {}, request.path, allowed=regulator)
    if done:
        return done
    return render(request, "operations/ponds_detail.html", {
        "plan": plan, "mine": plan.pond, "forms": step_form, "events": audit_trail(plan)})


# Upgrade and consolidation projects --------------------------------------------------------------
def scoped_projects(user):
    return UpgradeProject.objects.visible_to(user).select_related("mine__county", "mine__enterprise")


@login_required
def upgrade_list(request):
    user = request.user
    base = scoped_projects(user)
    county, kind, status = (request.GET.get(k, "") for k in ("county", "kind", "status"))
    projects = disposal.filter_projects(base, county=county, kind=kind, status=status, overdue=overdue_param(request))
    page = Paginator(projects.order_by("deadline", "pk"), 50).get_page(request.GET.get("page"))
    today, limits = timezone.localdate(), disposal.upgrade_thresholds()
    for project in page.object_list:
        project.overdue = disposal.project_overdue(project, today)
        project.threshold = disposal.threshold_check(project.mine, limits)
    form = None
    if is_regulator_user(user):
        form = ProjectForm(request.POST or None, mines=visible_mines(user), prefix="project")
        if request.method == "POST":
            def create(data):
                return disposal.create_project(user, data["mine"], kind=data["kind"], description=data["description"],
                                               deadline=data["deadline"], partners=data["partners"],
                                               unifications=data["unifications"])

            created = submit_on_form(request, form, create, _("Project recorded."))
            if created:
                return redirect("operations:upgrade-detail", pk=created.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "operations/upgrades_list.html", {
        "page": page, "query": query_without_page(request), "form": form,
        "counties": disposal.counties_in(base, "mine__county"), "county": county, "kind": kind, "status": status,
        "overdue": request.GET.get("overdue", ""), "kinds": UpgradeProject.Kind.choices, "statuses": U.choices,
        "thresholds": limits})


@login_required
def upgrade_detail(request, pk: int):
    project = get_object_or_404(scoped_projects(request.user), pk=pk)
    user = request.user
    regulator = common.is_regulator(user, project.mine)
    consolidation = project.kind == UpgradeProject.Kind.CONSOLIDATION

    def unifications(d):
        return d["unifications"] if consolidation else None

    steps, kwargs = {}, {}
    if project.status == U.PLANNED:
        steps["start"] = (ProjectStepForm, lambda d: disposal.start_project(
            user, project, progress=d["progress"], unifications=unifications(d)), _("Project started."))
    if project.status == U.IN_PROGRESS:
        steps["progress"] = (ProjectStepForm, lambda d: disposal.record_progress(
            user, project, progress=d["progress"], unifications=unifications(d)), _("Progress recorded."))
        steps["complete"] = (ProjectStepForm, lambda d: disposal.complete_project(
            user, project, completed_on=d["completed_on"], progress=d["progress"], unifications=unifications(d)),
            _("Project completed."))
    for name in steps:
        kwargs[name] = {"consolidation": consolidation, "achieved": project.unifications,
                        "completing": name == "complete"}
    done, step_form = step_forms(request, steps if regulator else {}, request.path, allowed=regulator,
                                 form_kwargs=kwargs)
    if done:
        return done
    return render(request, "operations/upgrades_detail.html", {
        "project": project, "mine": project.mine, "forms": step_form, "overdue": disposal.project_overdue(project),
        "threshold": disposal.threshold_check(project.mine),
        "unifications": disposal.unification_labels(project.unifications),
        "missing_unifications": disposal.unification_labels(
            [c for c in disposal.unification_codes() if c not in project.unifications]),
        "events": audit_trail(project)})
