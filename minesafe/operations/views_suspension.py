"""Pages for suspension reports and the control of suspended mines. Thin: every change goes through
suspension.py; every object is looked up through visible_to (404 outside the user's scope)."""

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.forms.models import fields_for_model
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from minesafe.core.audit import history
from minesafe.core.models import User
from minesafe.core.webutil import submit_on_form
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine
from minesafe.registry.services import is_mine_owner

from . import suspension
from .common import is_regulator
from .models import ControlAssignment, ControlRecord, Offence, SuspensionReport

RS = SuspensionReport.Status
ELECTRICITY_DAYS = 30
RECENT_FLAG_DAYS = 90

# The report's parts in the order the form asks for them.
REPORT_FORM_FIELDS = ["reason", "planned_start", "planned_end", "engineering_measures", "management_measures",
                      "watch_arrangements", "watch_headcount", "emergency_arrangements", "power_arrangements"]
TEXTAREA = forms.Textarea(attrs={"rows": 3})


# Forms ---------------------------------------------------------------------------------------------
class ReportForm(forms.Form):
    """Every part of the written report; `mines` adds the choice of the mine (a new report)."""

    def __init__(self, *args, mines=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mines is not None:
            self.fields["mine"] = forms.ModelChoiceField(label=_lazy("mine"), queryset=mines)
        widgets = {name: TEXTAREA for name in suspension.TEXT_PARTS}
        widgets.update(planned_start=DateInput(), planned_end=DateInput())
        self.fields.update(fields_for_model(SuspensionReport, fields=REPORT_FORM_FIELDS, widgets=widgets))
        self.fields["planned_end"].help_text = _lazy("empty: until further notice")


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_lazy("decision"), choices=[
        ("accept", _lazy("accept the report")), ("return", _lazy("return it for completion"))])
    reason = forms.CharField(label=_lazy("note (required when returning: what must be completed)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class StopForm(forms.Form):
    stopped_on = forms.DateField(label=_lazy("the mine stopped on"), widget=DateInput())


class CityReportForm(forms.Form):
    """A confirmation only: the county has reported the mine to the city."""


class AssignmentForm(forms.Form):
    role = forms.ChoiceField(label=_lazy("role"), choices=ControlAssignment.Role.choices)
    name = forms.CharField(label=_lazy("name"), max_length=64)
    post = forms.CharField(label=_lazy("post"), max_length=100)
    phone = forms.CharField(label=_lazy("phone"), max_length=32, required=False)
    start_date = forms.DateField(label=_lazy("from"), widget=DateInput())


class EndAssignmentForm(forms.Form):
    assignment = forms.ModelChoiceField(label=_lazy("assignment"), queryset=ControlAssignment.objects.none())
    end_date = forms.DateField(label=_lazy("until"), widget=DateInput())

    def __init__(self, *args, assignments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignment"].queryset = assignments


class ControlRecordForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("kind"))
    done_on = forms.DateField(label=_lazy("date"), widget=DateInput())
    outcome = forms.ChoiceField(label=_lazy("outcome"), choices=ControlRecord.Outcome.choices)
    notes = forms.CharField(label=_lazy("notes"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, kinds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, ControlRecord.Kind(k).label) for k in kinds]


# Reports -------------------------------------------------------------------------------------------
def scoped_reports(request):
    return SuspensionReport.objects.visible_to(request.user).select_related("mine__county", "mine__enterprise")


@login_required
def report_list(request):
    today = timezone.localdate()
    reports = scoped_reports(request)
    status = request.GET.get("status", "")
    if status in RS.values:
        reports = reports.filter(status=status)
    elif status == "overdue":
        reports = reports.filter(suspension.overdue_q(today))
    elif status == "open":
        reports = reports.filter(suspension.open_q())
    page = Paginator(reports.order_by("-submitted_at", "-pk"), 50).get_page(request.GET.get("page"))
    for report in page.object_list:
        report.overdue = suspension.is_overdue(report, today)
    return render(request, "operations/suspension_list.html", {
        "page": page, "status": status, "statuses": RS.choices, "query": f"status={status}" if status else "",
        "may_file": request.user.role == User.Role.ENTERPRISE,
        "overdue_count": scoped_reports(request).filter(suspension.overdue_q(today)).count()})


@login_required
def report_new(request):
    """The enterprise files a report for one of its producing mines or mines under construction."""
    if request.user.role != User.Role.ENTERPRISE:
        raise PermissionDenied
    mines = Mine.objects.visible_to(request.user).filter(status__in=list(suspension.KIND_FOR_STATUS)) \
        .order_by("name")
    initial = {"mine": request.GET.get("mine")} if request.GET.get("mine") else None
    form = ReportForm(request.POST or None, mines=mines, initial=initial)
    if request.method == "POST":
        def submit(data):
            data = dict(data)
            return suspension.submit_report(request.user, data.pop("mine"), **data)

        report = submit_on_form(request, form, submit, _("Suspension report submitted to the county."))
        if report:
            return redirect("operations:suspension-report", pk=report.pk)
    return render(request, "operations/suspension_form.html", {"form": form, "mines": mines})


def _report_forms(request, report: SuspensionReport, posted: str | None) -> dict:
    """The forms this user may use on this report now; the posted one is bound."""
    user = request.user
    today = timezone.localdate()

    def data(action):
        return request.POST if posted == action else None

    out = {}
    if report.status == RS.SUBMITTED and is_regulator(user, report.mine):
        out["review"] = ReviewForm(data("review"))
    if report.status == RS.RETURNED and is_mine_owner(user, report.mine):
        initial = {name: getattr(report, name) for name in REPORT_FORM_FIELDS}
        out["resubmit"] = ReportForm(data("resubmit"), initial=initial)
    if suspension.may_record_stop(user, report):
        start = report.planned_start
        out["stop"] = StopForm(data("stop"), initial={"stopped_on": start if start <= today else today})
    if suspension.may_report_to_city(user, report):
        out["city"] = CityReportForm(data("city"))
    return out


@login_required
def report_detail(request, pk: int):
    report = get_object_or_404(scoped_reports(request).select_related(
        "submitted_by", "reviewed_by", "reported_by", "mine__enterprise__organisation"), pk=pk)
    posted = request.POST.get("action") if request.method == "POST" else None
    forms_ = _report_forms(request, report, posted)
    if posted is not None:
        form = forms_.get(posted)
        if form is None:
            raise PermissionDenied
        user = request.user
        actions = {
            "review": lambda d: (suspension.accept_report(user, report, note=d["reason"]) if d["decision"] == "accept"
                                 else suspension.return_report(user, report, reason=d["reason"])),
            "resubmit": lambda d: suspension.resubmit_report(user, report, dict(d)),
            "stop": lambda d: suspension.record_stop(user, report, d["stopped_on"]),
            "city": lambda d: suspension.report_to_city(user, report),
        }
        done = {"review": _("Decision recorded."), "resubmit": _("Report resubmitted."),
                "stop": _("Stop recorded; the mine's status has changed."), "city": _("Reported to the city.")}
        if submit_on_form(request, form, actions[posted], done[posted]):
            return redirect("operations:suspension-report", pk=report.pk)
    return render(request, "operations/suspension_detail.html", {
        "report": report, "mine": report.mine, "forms": forms_, "overdue": suspension.is_overdue(report),
        "awaiting_stop": suspension.awaiting_stop(report), "events": history(report)[:100],
        "others": scoped_reports(request).filter(mine=report.mine).exclude(pk=report.pk)[:20]})


# Control of suspended mines --------------------------------------------------------------------------
@login_required
def suspended_list(request):
    rows = suspension.control_overview(request.user)
    return render(request, "operations/control_list.html", {
        "rows": rows, "show_flags": suspension.may_see_flags(request.user),
        "overdue": sum(1 for r in rows if r.report_overdue), "today": timezone.localdate()})


def electricity(mine: Mine, today: dt.date) -> dict | None:
    """The last 30 days of daily electricity use (power company data) as a table and a chart."""
    from minesafe.monitoring import charts, power
    from minesafe.monitoring.suspension import daily_use

    since = today - dt.timedelta(days=ELECTRICITY_DAYS - 1)
    try:
        days = daily_use(mine, since, today)
    except power.MeterSeriesError:  # readings that do not add up to days: show none rather than wrong ones
        return None
    if not days:
        return None
    series = [(timezone.make_aware(dt.datetime.combine(day, dt.time())), kwh) for day, kwh in days if kwh is not None]
    chart = None
    if series:
        start = timezone.make_aware(dt.datetime.combine(since, dt.time()))
        chart = charts.build(series, start, start + dt.timedelta(days=ELECTRICITY_DAYS), [], gap_s=1.5 * 86400)
    return {"days": days, "chart": chart}


def _control_forms(request, mine: Mine, posted: str | None) -> dict:
    user = request.user

    def data(action):
        return request.POST if posted == action else None

    out = {}
    kinds = suspension.record_kinds(user, mine)
    if kinds:
        out["record"] = ControlRecordForm(data("record"), kinds=kinds, initial={"done_on": timezone.localdate()})
    if mine.status in suspension.SUSPENDED_STATUSES and is_regulator(user, mine):
        out["assign"] = AssignmentForm(data("assign"), initial={"start_date": timezone.localdate()})
        current = ControlAssignment.objects.filter(mine=mine, end_date__isnull=True)
        if current.exists():
            out["end"] = EndAssignmentForm(data("end"), assignments=current,
                                           initial={"end_date": timezone.localdate()})
    return out


@login_required
def control(request, mine_id: int):
    """One suspended mine: its report, who answers for it, the control records, offences and, for regulators,
    monitoring's signs of production."""
    from minesafe.monitoring.models import ProductionFlag

    mine = get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"),
                             pk=mine_id)
    user = request.user
    posted = request.POST.get("action") if request.method == "POST" else None
    forms_ = _control_forms(request, mine, posted)
    if posted is not None:
        form = forms_.get(posted)
        if form is None:
            raise PermissionDenied
        actions = {
            "record": lambda d: suspension.record_control(user, mine, **d),
            "assign": lambda d: suspension.add_assignment(user, mine, **d),
            "end": lambda d: suspension.end_assignment(user, d["assignment"], d["end_date"]),
        }
        done = {"record": _("Control recorded."), "assign": _("Assignment added."), "end": _("Assignment ended.")}
        if submit_on_form(request, form, actions[posted], done[posted]):
            return redirect("operations:control", mine_id=mine.pk)
    today = timezone.localdate()
    show_signals = suspension.may_see_flags(user)
    flags = None
    if show_signals:
        since = timezone.now() - dt.timedelta(days=RECENT_FLAG_DAYS)
        flags = ProductionFlag.objects.visible_to(user).filter(
            Q(status=ProductionFlag.Status.OPEN) | Q(detected_at__gte=since), mine=mine,
        ).order_by("-detected_at", "-pk")[:50]
    report = suspension.current_report(mine)
    return render(request, "operations/control_detail.html", {
        "mine": mine, "forms": forms_, "today": today,
        "suspended": mine.status in suspension.SUSPENDED_STATUSES,
        "report": report, "report_overdue": bool(report and suspension.is_overdue(report, today)),
        "reports": SuspensionReport.objects.visible_to(user).filter(mine=mine)[:10],
        "assignments": ControlAssignment.objects.visible_to(user).filter(mine=mine)
        .order_by(F("end_date").desc(nulls_first=True), "role", "-start_date"),
        "records": ControlRecord.objects.visible_to(user).filter(mine=mine).select_related("recorded_by")[:200],
        "offences": Offence.objects.visible_to(user).filter(mine=mine)[:50],
        "show_signals": show_signals, "flags": flags,
        "electricity": electricity(mine, today) if show_signals else None,
    })
