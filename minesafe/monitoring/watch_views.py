"""Pages for watching suspended mines: the flags and watched mines, one flag with its evidence and the
outcome form, and the departments' upload page. Thin: services in suspension.py and uploads.py."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.registry.excel import ImportFileError
from minesafe.registry.models import Mine

from . import charts, suspension, uploads
from .forms import DataUploadForm, FlagOutcomeForm
from .models import DataUpload, Level, MeterReading, ProductionFlag

WATCHERS = (User.Role.COUNTY, User.Role.INSPECTOR)


def require_watcher(user) -> None:
    """Regulators only: the enterprise must not learn it is watched; departments upload, they do not judge."""
    if not (is_city(user) or user.role in WATCHERS):
        raise PermissionDenied


@login_required
def watch(request):
    require_watcher(request.user)
    flags = ProductionFlag.objects.visible_to(request.user).select_related("mine__county")
    status = request.GET.get("status", "open")
    if status in ProductionFlag.Status.values:
        flags = flags.filter(status=status)
    signal = request.GET.get("signal", "")
    if signal in ProductionFlag.Signal.values:
        flags = flags.filter(signal=signal)
    page = Paginator(flags.order_by("inspect_by", "-detected_at", "-pk"), 50).get_page(request.GET.get("page"))
    mines = Mine.objects.visible_to(request.user).filter(status__in=suspension.WATCHED_STATUSES) \
        .select_related("county").annotate(open_flags=Count("production_flags", filter=Q(
            production_flags__status=ProductionFlag.Status.OPEN))).order_by("-open_flags", "county__code", "code")
    return render(request, "monitoring/watch.html", {
        "page": page, "mines": mines, "status": status, "signal": signal, "today": timezone.localdate(),
        "statuses": ProductionFlag.Status.choices, "signals": ProductionFlag.Signal.choices, "query": ""})


def day_start(iso_day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(iso_day))


def electricity_chart(flag: ProductionFlag):
    evidence = flag.evidence
    series = [(day_start(day), kwh) for day, kwh in evidence.get("days", []) if kwh is not None]
    if not series:
        return None
    lines = [(int(Level.YELLOW), _("baseline"), evidence["baseline_kwh"])]
    if evidence.get("band_high_kwh") is not None:
        lines.append((int(Level.ORANGE), _("baseline band"), evidence["band_high_kwh"]))
    if evidence.get("producing_kwh"):
        lines.append((int(Level.RED), _("producing"), evidence["producing_kwh"]))
    since, until = series[0][0], series[-1][0] + dt.timedelta(days=1)
    chart = charts.build(series, since, until, lines, gap_s=1.5 * 86400)
    charts.mark_times(chart, since, until, [(day_start(evidence["change_day"]), _("rise began")),
                                            (day_start(evidence["detected_day"]), _("flagged"))])
    return chart


@login_required
def flag_detail(request, pk: int):
    require_watcher(request.user)
    flag = get_object_or_404(ProductionFlag.objects.visible_to(request.user).select_related(
        "mine__county", "hazard", "closed_by"), pk=pk)
    may_handle = flag.status == ProductionFlag.Status.OPEN and suspension.may_handle(request.user, flag)
    form = FlagOutcomeForm(request.POST or None, mine=flag.mine) if may_handle else None
    if request.method == "POST":
        if not may_handle:
            raise PermissionDenied

        def close(data):
            if data["outcome"] == "confirmed":
                return suspension.confirm(request.user, flag, inspected_on=data["inspected_on"],
                                          method=data["method"], findings=data["findings"],
                                          case_required=data["case_required"], hazard_item=data["hazard_item"])
            return suspension.dismiss(request.user, flag, inspected_on=data["inspected_on"], method=data["method"],
                                      reason=data["dismissal_reason"])

        if submit_on_form(request, form, close, _("Outcome recorded.")):
            return redirect("monitoring:flag", pk=flag.pk)
    return render(request, "monitoring/flag.html", {
        "flag": flag, "mine": flag.mine, "form": form,
        "chart": electricity_chart(flag) if flag.signal == ProductionFlag.Signal.ELECTRICITY else None,
        "others": ProductionFlag.objects.visible_to(request.user).filter(mine=flag.mine).exclude(pk=flag.pk)[:20]})


@login_required
def upload(request):
    kinds = [k for k in DataUpload.Kind.values if uploads.may_upload(request.user, k)]
    if not kinds:
        raise PermissionDenied
    form = DataUploadForm(request.POST or None, request.FILES or None, kinds=kinds)
    report = None
    if request.method == "POST" and form.is_valid():
        kind, file = form.cleaned_data["kind"], form.cleaned_data["file"]
        try:
            rows = uploads.read_table(kind, file.name, file.read())
        except ImportFileError as exc:
            report = uploads.UploadReport(ok=False, kind=kind, file_error=str(exc))
        else:
            report = uploads.upload(request.user, kind, rows, channel="file", filename=file.name,
                                    replace=form.cleaned_data["replace"])
        if report.ok:
            run = suspension.scan(mine_ids=report.mine_ids)
            messages.success(request, _("%(n)d rows stored (%(c)d new, %(r)d corrected, %(u)d unchanged); "
                                        "%(f)d new flags.") % {"n": report.rows, "c": report.created,
                                                               "r": report.replaced, "u": report.unchanged,
                                                               "f": run.flags})
            return redirect("monitoring:upload")
    history = DataUpload.objects.select_related("uploaded_by", "organisation")
    if not is_city(request.user):
        history = history.filter(organisation_id=request.user.organisation_id)
    return render(request, "monitoring/upload.html", {
        "form": form, "report": report, "history": history[:30],
        "templates": [(DataUpload.Kind(k).label, uploads.template_csv(k)) for k in kinds],
        "readings": MeterReading.objects.visible_to(request.user).count()})
