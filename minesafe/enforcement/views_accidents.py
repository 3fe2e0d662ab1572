"""Pages of the accident part: the accidents in scope, reporting one, one accident with its investigation
steps and follow-up tasks, the task list, and the case library (every signed-in user). Thin: every change goes
through accidents.py; records outside the reader's scope are 404."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.registry.models import Mine

from . import accidents as services
from .models import Accident, AccidentCase, AccidentGrade, AccidentKind, FollowUpTask, InvestigationFinding
from .views_common import DateTimeInput, audit_trail, query_without_page, step_forms

S = Accident.Status
A = InvestigationFinding.Aspect


# Forms -------------------------------------------------------------------------------------------
class CasualtyFields(forms.Form):
    deaths = forms.IntegerField(label=gettext_lazy("deaths"), min_value=0, initial=0)
    serious_injuries = forms.IntegerField(label=gettext_lazy("serious injuries"), min_value=0, initial=0)
    minor_injuries = forms.IntegerField(label=gettext_lazy("minor injuries"), min_value=0, initial=0)
    direct_loss = forms.DecimalField(label=gettext_lazy("direct economic loss (CNY)"), min_value=0, initial=0,
                                     max_digits=14, decimal_places=2)


class ReportForm(CasualtyFields):
    mine = forms.ModelChoiceField(label=gettext_lazy("mine"), queryset=Mine.objects.none())
    occurred_at = forms.DateTimeField(label=gettext_lazy("occurred at"), widget=DateTimeInput())
    place = forms.CharField(label=gettext_lazy("place"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=AccidentKind.choices)
    is_near_miss = forms.BooleanField(label=gettext_lazy("near miss (涉险事故): no one killed or injured"),
                                      required=False)
    summary = forms.CharField(label=gettext_lazy("summary"), widget=forms.Textarea(attrs={"rows": 4}))
    parent_company = forms.CharField(label=gettext_lazy("parent company"), max_length=128, required=False)
    field_order = ["mine", "occurred_at", "place", "kind", "is_near_miss", "deaths", "serious_injuries",
                   "minor_injuries", "direct_loss", "summary", "parent_company"]

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines


class AmendForm(CasualtyFields):
    reason = forms.CharField(label=gettext_lazy("reason for the change"), max_length=500)


class EmptyForm(forms.Form):
    pass


class FindingForm(forms.Form):
    aspect = forms.ChoiceField(label=gettext_lazy("aspect"), choices=A.choices)
    text = forms.CharField(label=gettext_lazy("finding"), widget=forms.Textarea(attrs={"rows": 3}))


class CloseForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("closure note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LibraryForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("case title"), max_length=200)
    lessons = forms.CharField(label=gettext_lazy("lessons"), widget=forms.Textarea(attrs={"rows": 3}))


class TaskDoneForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("what was done"), widget=forms.Textarea(attrs={"rows": 2}))


class SuspendForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("reason for the suspension"), max_length=200)


# Accidents ---------------------------------------------------------------------------------------
def scoped_accidents(user):
    return Accident.objects.visible_to(user).select_related("mine__county", "mine__enterprise")


def reportable_mines(user):
    """Mines the user may report for: a regulator's mines, an enterprise's own."""
    if is_city(user) or user.role in (User.Role.COUNTY, User.Role.ENTERPRISE):
        return Mine.objects.visible_to(user).order_by("code")
    return Mine.objects.none()


@login_required
def accident_list(request):
    accidents = scoped_accidents(request.user)
    status, grade, county = (request.GET.get(k, "") for k in ("status", "grade", "county"))
    if status in S.values:
        accidents = accidents.filter(status=status)
    if grade == "near_miss":
        accidents = accidents.filter(is_near_miss=True)
    elif grade in AccidentGrade.values:
        accidents = accidents.filter(grade=grade)
    if county:
        accidents = accidents.filter(mine__county__code=county)
    page = Paginator(accidents.order_by("-occurred_at", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "enforcement/accident_list.html", {
        "page": page, "query": query_without_page(request), "status": status, "grade": grade, "county": county,
        "statuses": S.choices, "grades": AccidentGrade.choices,
        "may_report": reportable_mines(request.user).exists()})


@login_required
def accident_report(request):
    mines = reportable_mines(request.user)
    if not mines.exists():
        raise PermissionDenied
    form = ReportForm(request.POST or None, mines=mines)
    if request.method == "POST":
        def report(data):
            return services.report_accident(
                request.user, data["mine"], occurred_at=data["occurred_at"], place=data["place"], kind=data["kind"],
                summary=data["summary"], deaths=data["deaths"], serious_injuries=data["serious_injuries"],
                minor_injuries=data["minor_injuries"], direct_loss=data["direct_loss"],
                is_near_miss=data["is_near_miss"], parent_company=data["parent_company"])

        created = submit_on_form(request, form, report, _("Accident reported."))
        if created:
            return redirect("enforcement:accident-detail", pk=created.pk)
    return render(request, "enforcement/accident_report.html", {"form": form})


@login_required
def accident_detail(request, pk: int):
    accident = get_object_or_404(scoped_accidents(request.user), pk=pk)
    user, mine = request.user, accident.mine
    investigator, reporter = services.may_investigate(user, mine), services.may_report(user, mine)
    tasks = list(accident.tasks.select_related("assignee", "done_by"))
    steps, kwargs = {}, {}
    if reporter and accident.status in (S.REPORTED, S.INVESTIGATING):
        steps["amend"] = (AmendForm, lambda d: services.amend_casualties(
            user, accident, deaths=d["deaths"], serious_injuries=d["serious_injuries"],
            minor_injuries=d["minor_injuries"], direct_loss=d["direct_loss"], reason=d["reason"]),
            _("Figures amended."))
        kwargs["amend"] = {"initial": {f: getattr(accident, f) for f in
                                       ("deaths", "serious_injuries", "minor_injuries", "direct_loss")}}
    if investigator:
        if accident.status == S.REPORTED:
            steps["investigate"] = (EmptyForm, lambda d: services.start_investigation(user, accident),
                                    _("Investigation started."))
        if accident.status == S.INVESTIGATING:
            steps["finding"] = (FindingForm, lambda d: services.record_finding(user, accident, d["aspect"], d["text"]),
                                _("Finding recorded."))
            steps["conclude"] = (EmptyForm, lambda d: services.conclude_investigation(user, accident),
                                 _("Investigation concluded."))
        if accident.status in (S.INVESTIGATING, S.CONCLUDED):
            steps["close"] = (CloseForm, lambda d: services.close_accident(user, accident, note=d["note"]),
                              _("Case closed."))
        if accident.status in (S.CONCLUDED, S.CLOSED) and not AccidentCase.objects.filter(accident=accident).exists():
            steps["library"] = (LibraryForm, lambda d: services.add_to_library(
                user, accident, title=d["title"], lessons=d["lessons"]), _("Added to the case library."))
            kwargs["library"] = {"initial": {"title": _("%(m)s: %(k)s, %(d)s") % {
                "m": mine.name, "k": accident.get_kind_display(),
                "d": timezone.localtime(accident.occurred_at).strftime("%Y-%m-%d")}}}
    for task in tasks:
        if task.done_at is None and services.may_complete_task(user, task):
            steps[f"task{task.pk}"] = (TaskDoneForm, lambda d, t=task: services.complete_task(user, t, note=d["note"]),
                                       _("Task done."))
            if task.kind == FollowUpTask.Kind.SUSPEND_MINE and services.suspension_target(mine):
                steps[f"suspend{task.pk}"] = (SuspendForm, lambda d, t=task: services.suspend_mine_for_task(
                    user, t, reason=d["reason"]), _("Mine suspended; task done."))
                kwargs[f"suspend{task.pk}"] = {"initial": {"reason": _("Fatal accident of %(d)s") % {
                    "d": timezone.localtime(accident.occurred_at).strftime("%Y-%m-%d")}}}
    done, forms_by_name = step_forms(request, steps, request.path, form_kwargs=kwargs)
    if done:
        return done
    for task in tasks:
        task.form = forms_by_name.get(f"task{task.pk}")
        task.suspend_form = forms_by_name.get(f"suspend{task.pk}")
    findings = {f.aspect: f for f in accident.findings.select_related("recorded_by")}
    finding_events = Q(object_type="enforcement.investigationfinding",
                       object_id__in=[str(f.pk) for f in findings.values()])
    task_events = Q(object_type="enforcement.followuptask", object_id__in=[str(t.pk) for t in tasks])
    return render(request, "enforcement/accident_detail.html", {
        "accident": accident, "mine": mine, "tasks": tasks, "forms": forms_by_name,
        "aspects": [(value, label, findings.get(value)) for value, label in A.choices],
        "missing": services.missing_findings(accident),
        "case": AccidentCase.objects.filter(accident=accident).first(),
        "events": audit_trail(accident, extra=finding_events | task_events)})


@login_required
def task_list(request):
    tasks = FollowUpTask.objects.visible_to(request.user).select_related("mine__county", "assignee", "accident")
    state = request.GET.get("state", "open")
    if state == "open":
        tasks = tasks.open()
    elif state == "overdue":
        tasks = tasks.overdue()
    elif state == "done":
        tasks = tasks.filter(done_at__isnull=False)
    page = Paginator(tasks.order_by("due_on", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "enforcement/task_list.html", {
        "page": page, "query": query_without_page(request), "state": state})


# The case library --------------------------------------------------------------------------------
@login_required
def case_list(request):
    """Every signed-in user reads the library: search words, type, source, years."""
    cases = AccidentCase.objects.all()
    q, kind, source = request.GET.get("q", "").strip(), request.GET.get("kind", ""), request.GET.get("source", "")
    if q:
        for word in q.split()[:8]:
            cases = cases.filter(Q(title__icontains=word) | Q(place__icontains=word) | Q(narrative__icontains=word)
                                 | Q(lessons__icontains=word) | Q(source_type__icontains=word))
    if kind in AccidentKind.values:
        cases = cases.filter(kind=kind)
    if source in AccidentCase.Source.values:
        cases = cases.filter(source=source)
    page = Paginator(cases.order_by("-occurred_on", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "enforcement/case_list.html", {
        "page": page, "query": query_without_page(request), "q": q, "kind": kind, "source": source,
        "kinds": AccidentKind.choices, "sources": AccidentCase.Source.choices})


@login_required
def case_detail(request, pk: int):
    case = get_object_or_404(AccidentCase, pk=pk)
    return render(request, "enforcement/case_detail.html", {"case": case})
