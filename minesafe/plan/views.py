"""Pages of the action plan: the 32 tasks with their units, a task's page (its units' parts, reports and the
counties' own tasks), the units' periodic reports with their review, and what is overdue. Thin: every change
goes through services.py; the plan pages are for officials (city, counties, departments)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core.models import Organisation, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form

from . import forms, services
from .models import CountyTask, PlanTask, ProgressReport, ReportEntry, TaskUnit


def require_official(user) -> None:
    if not (is_city(user) or user.role in (User.Role.COUNTY, User.Role.DEPARTMENT)):
        raise PermissionDenied


def _own_units(user):
    return TaskUnit.objects.filter(organisation_id=user.organisation_id)


@login_required
def plan_index(request):
    require_official(request.user)
    today = timezone.localdate()
    tasks = list(PlanTask.objects.prefetch_related("units__organisation"))
    own = set(_own_units(request.user).values_list("task_id", flat=True))
    missed = {}
    for unit in services.missed_deadlines(TaskUnit.objects.visible_to(request.user), today):
        missed[unit.task_id] = missed.get(unit.task_id, 0) + 1
    groups: dict[int, dict] = {}
    for task in tasks:
        group = groups.setdefault(task.group, {"number": task.group, "title": task.group_title, "tasks": []})
        units = list(task.units.all())
        group["tasks"].append({"task": task, "units": units, "lead": next((u for u in units if u.lead), None),
                               "mine": task.pk in own, "missed": missed.get(task.pk, 0),
                               "completed": sum(u.status == TaskUnit.Status.COMPLETED for u in units)})
    plan = services.active_catalogue("action_plan")
    return render(request, "plan/index.html", {
        "groups": list(groups.values()), "document": plan.get("document", {}), "phases": plan.get("phases", []),
        "today": today, "may_report": services.may_report(request.user, request.user.organisation)
        if request.user.organisation_id else False})


@login_required
def task_detail(request, number: int):
    require_official(request.user)
    task = get_object_or_404(PlanTask, number=number)
    user = request.user
    units = list(task.units.select_related("organisation", "organisation__region"))
    visible_units = set(TaskUnit.objects.visible_to(user).filter(task=task).values_list("pk", flat=True))
    own_unit = next((u for u in units if u.organisation_id == user.organisation_id), None)
    county_tasks = CountyTask.objects.filter(task=task).select_related("organisation")
    if not is_city(user):
        county_tasks = county_tasks.filter(organisation_id=user.organisation_id)
    complete = forms.CompleteForm(prefix="complete", initial={"completed_on": timezone.localdate()})
    add = forms.CountyTaskForm(prefix="add")
    done = forms.CountyTaskDoneForm(prefix="done", initial={"done_on": timezone.localdate()})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "complete" and own_unit is not None:
            complete = forms.CompleteForm(request.POST, prefix="complete")
            if submit_on_form(request, complete, lambda d: services.complete_part(
                    user, own_unit, completed_on=d["completed_on"], note=d["note"]), _("Recorded.")):
                return redirect("plan:task", number)
        elif action == "add":
            add = forms.CountyTaskForm(request.POST, prefix="add")
            if submit_on_form(request, add, lambda d: services.add_county_task(user, task, **d),
                              _("County task added.")):
                return redirect("plan:task", number)
        elif action == "done":
            done = forms.CountyTaskDoneForm(request.POST, prefix="done")
            if done.is_valid():
                county_task = get_object_or_404(county_tasks, pk=done.cleaned_data["county_task"])
                if submit_on_form(request, done, lambda d: services.complete_county_task(
                        user, county_task, done_on=d["done_on"], note=d["note"]), _("Recorded.")):
                    return redirect("plan:task", number)
        else:
            raise PermissionDenied
    entries = ReportEntry.objects.filter(task=task, report__in=ProgressReport.objects.visible_to(user)) \
        .select_related("report__organisation").order_by("-report__period_start", "report__organisation__name")
    return render(request, "plan/task.html", {
        "task": task, "units": units, "visible_units": visible_units, "own_unit": own_unit,
        "entries": entries[:200], "county_tasks": county_tasks, "complete": complete, "add": add, "done": done,
        "may_add_county_task": user.role == User.Role.COUNTY and own_unit is not None,
        "today": timezone.localdate()})


@login_required
def report_list(request):
    require_official(request.user)
    reports = ProgressReport.objects.visible_to(request.user).select_related("organisation")
    status = request.GET.get("status", "")
    if status in ProgressReport.Status.values:
        reports = reports.filter(status=status)
    return render(request, "plan/reports.html", {
        "reports": reports[:300], "status": status, "statuses": ProgressReport.Status.choices,
        "may_report": bool(request.user.organisation_id) and services.may_report(request.user,
                                                                                  request.user.organisation)})


@login_required
def report_new(request):
    user = request.user
    if not user.organisation_id or not services.may_report(user, user.organisation):
        raise PermissionDenied
    today = timezone.localdate()
    done = dict(ProgressReport.objects.filter(organisation=user.organisation).values_list("period_start", "status"))
    periods = [p for p in services.periods_due(today) + [services.period_of(today)]
               if services.reportable(p, today) and done.get(p.start) in (None, ProgressReport.Status.RETURNED)]
    periods.reverse()
    tasks = PlanTask.objects.filter(units__organisation=user.organisation).distinct()
    form = forms.ReportForm(request.POST or None, periods=periods, tasks=tasks,
                            initial={"period_start": request.GET.get("period", "")})
    if request.method == "POST" and form.is_valid():
        files = [(f.name, f.read(services.EVIDENCE_MAX_BYTES + 1)) for f in request.FILES.getlist("evidence")]
        report = submit_on_form(request, form, lambda d: services.submit_report(
            user, d["period_start"], summary=d["summary"], entries=form.entries(), evidence=files),
            _("Report submitted."))
        if report:
            return redirect("plan:report", report.pk)
    return render(request, "plan/report_new.html", {"form": form, "periods": periods})


@login_required
def report_detail(request, pk: int):
    require_official(request.user)
    report = get_object_or_404(ProgressReport.objects.visible_to(request.user).select_related("organisation"),
                               pk=pk)
    review = forms.ReviewForm(prefix="review")
    if request.method == "POST":
        services.require_city(request.user)
        review = forms.ReviewForm(request.POST, prefix="review")
        if submit_on_form(request, review, lambda d: services.review_report(
                request.user, report, accept=d["decision"] == "accept", note=d["note"]), _("Review recorded.")):
            return redirect("plan:report", pk)
    return render(request, "plan/report.html", {
        "report": report, "entries": report.entries.select_related("task"), "evidence": report.evidence.all(),
        "review": review if is_city(request.user) and report.status == ProgressReport.Status.SUBMITTED else None,
        "period": services.period_of(report.period_start),
        "may_resubmit": report.status == ProgressReport.Status.RETURNED
        and services.may_report(request.user, report.organisation)})


@login_required
def evidence_download(request, pk: int, evidence_id: int):
    require_official(request.user)
    report = get_object_or_404(ProgressReport.objects.visible_to(request.user), pk=pk)
    item = get_object_or_404(report.evidence, pk=evidence_id)
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.original_name,
                        content_type=item.content_type)


@login_required
def overdue(request):
    require_official(request.user)
    user = request.user
    today = timezone.localdate()
    organisations = Organisation.objects.all() if is_city(user) else Organisation.objects.filter(
        pk=user.organisation_id)
    county_tasks = services.overdue_county_tasks(today).select_related("task", "organisation")
    if not is_city(user):
        county_tasks = county_tasks.filter(organisation_id=user.organisation_id)
    return render(request, "plan/overdue.html", {
        "reports": services.overdue_reports(organisations, today),
        "missed": services.missed_deadlines(TaskUnit.objects.visible_to(user), today),
        "county_tasks": county_tasks, "today": today})
