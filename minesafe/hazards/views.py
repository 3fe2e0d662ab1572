"""Hazard pages: scoped through visible_to, every change through services."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minesafe.core.audit import history
from minesafe.core.scoping import is_city
from minesafe.core.webutil import attempt, form_errors_message, submit
from minesafe.registry.api import xlsx_response
from minesafe.registry.models import Mine

from . import exports, services
from .filters import HazardFilterSet
from .forms import (
    AttachmentForm,
    ConcludeForm,
    DecisionForm,
    ExtensionForm,
    PlanForm,
    ReportForm,
    SelfCheckForm,
    TransitionForm,
)
from .models import DeadlineExtension, Hazard, HazardAttachment, Investigation, SelfCheck


def scoped_hazards(request):
    return Hazard.objects.visible_to(request.user).select_related("mine__county", "item__catalogue")


def visible_hazard(request, pk: int) -> Hazard:
    return get_object_or_404(scoped_hazards(request).select_related("mine__enterprise"), pk=pk)


@login_required
def hazard_list(request):
    filterset = HazardFilterSet(request.GET, queryset=scoped_hazards(request))
    page = Paginator(filterset.qs.order_by("-found_on", "-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "hazards/hazard_list.html", {"filter": filterset, "page": page,
                                                        "query": query.urlencode()})


@login_required
def hazard_export(request):
    filterset = HazardFilterSet(request.GET, queryset=scoped_hazards(request))
    return xlsx_response(exports.hazards_workbook(filterset.qs.order_by("-found_on", "-id")), "hazards.xlsx")


@login_required
def work_list(request):
    return render(request, "hazards/work_list.html", {"lists": services.work_list(scoped_hazards(request))})


@login_required
def analysis(request):
    filterset = HazardFilterSet(request.GET, queryset=scoped_hazards(request))
    data = services.analysis(filterset.qs)
    return render(request, "hazards/analysis.html", {"filter": filterset, "data": data, "labels": {
        "mine_type": dict(Mine.Type.choices), "source": dict(Hazard.Source.choices),
        "status": dict(Hazard.Status.choices)}})


@login_required
def hazard_report(request):
    mines = Mine.objects.visible_to(request.user)
    initial = {"mine": request.GET.get("mine")} if request.GET.get("mine") else None
    form = ReportForm(request.POST or None, initial=initial, mines=mines)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        mine, item = data.pop("mine"), data.pop("item")
        plan = {k: data.pop(k) for k in services.PLAN_FIELDS if data.get(k) not in (None, "")}
        for key in services.PLAN_FIELDS:
            data.pop(key, None)
        hazard = attempt(request, lambda: services.report_hazard(request.user, mine, item, **data, **plan),
                         _("Hazard reported."))
        if hazard:
            return redirect("hazards:detail", pk=hazard.pk)
    return render(request, "hazards/report.html", {"form": form})


@login_required
def hazard_detail(request, pk: int):
    hazard = visible_hazard(request, pk)
    user = request.user
    role = services.role_for(user, hazard.mine)
    allowed = services.allowed_transitions(user, hazard)
    can_plan = role in ("city", "county", "enterprise") and hazard.status in ("reported", "rectifying")
    pending = hazard.extensions.filter(status=DeadlineExtension.Status.PENDING).first()
    return render(request, "hazards/detail.html", {
        "hazard": hazard,
        "role": role,
        "plan_form": PlanForm(instance=hazard) if can_plan else None,
        "transition_form": TransitionForm(allowed=allowed) if allowed else None,
        "attachment_form": AttachmentForm() if role and hazard.is_open else None,
        "extension_form": ExtensionForm() if can_plan and hazard.deadline and not pending else None,
        "pending_extension": pending,
        "decision_form": DecisionForm() if pending and role in ("city", "county") else None,
        "can_supervise": is_city(user),
        "transitions": hazard.transitions.select_related("actor"),
        "attachments": hazard.attachments.all(),
        "escalations": hazard.escalations.all(),
        "extensions": hazard.extensions.all(),
        "events": history(hazard)[:100],
    })


@login_required
@require_POST
def hazard_plan(request, pk: int):
    hazard = visible_hazard(request, pk)
    form = PlanForm(request.POST, instance=Hazard.objects.get(pk=hazard.pk))
    submit(request, form, lambda data: services.set_plan(request.user, hazard, data), _("Plan saved."))
    return redirect("hazards:detail", pk=pk)


@login_required
@require_POST
def hazard_transition(request, pk: int):
    hazard = visible_hazard(request, pk)
    form = TransitionForm(request.POST, allowed=services.allowed_transitions(request.user, hazard))
    submit(request, form, lambda data: services.transition(request.user, hazard, data["status"],
                                                           reason=data["reason"]), _("Status changed."))
    return redirect("hazards:detail", pk=pk)


@login_required
@require_POST
def hazard_attachment(request, pk: int):
    hazard = visible_hazard(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        attempt(request, lambda: services.add_attachment(
            request.user, hazard, form.cleaned_data["kind"], upload.name, upload.read(services.UPLOAD_MAX_BYTES + 1)),
            _("File attached."))
    else:
        form_errors_message(request, form)
    return redirect("hazards:detail", pk=pk)


@login_required
def attachment_download(request, pk: int, attachment_id: int):
    hazard = visible_hazard(request, pk)
    attachment = get_object_or_404(HazardAttachment, pk=attachment_id, hazard=hazard)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                        content_type=attachment.content_type)


@login_required
@require_POST
def hazard_extension(request, pk: int):
    hazard = visible_hazard(request, pk)
    form = ExtensionForm(request.POST)
    submit(request, form, lambda data: services.request_extension(request.user, hazard, data["new_deadline"],
                                                                  data["reason"]), _("Extension requested."))
    return redirect("hazards:detail", pk=pk)


@login_required
@require_POST
def extension_decide(request, pk: int):
    hazard = visible_hazard(request, pk)
    extension = get_object_or_404(DeadlineExtension, hazard=hazard, status=DeadlineExtension.Status.PENDING)
    form = DecisionForm(request.POST)
    if form.is_valid():
        attempt(request, lambda: services.decide_extension(request.user, extension,
                                                           approve=form.cleaned_data["approve"],
                                                           note=form.cleaned_data["note"]), _("Decision recorded."))
    return redirect("hazards:detail", pk=pk)


@login_required
@require_POST
def hazard_supervise(request, pk: int):
    hazard = visible_hazard(request, pk)
    attempt(request, lambda: services.set_city_supervision(request.user, hazard, request.POST.get("on") == "1"),
            _("Supervision updated."))
    return redirect("hazards:detail", pk=pk)


@login_required
def self_checks(request):
    mines = Mine.objects.visible_to(request.user)
    form = SelfCheckForm(request.POST or None, mines=mines)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            done = attempt(request, lambda: services.submit_self_check(
                request.user, data["mine"], data["period"], hazards_found=data["hazards_found"],
                led_by=data["led_by"], note=data["note"]), _("Self-check filed."))
            if done:
                return redirect("hazards:self-checks")
        else:
            form_errors_message(request, form)
    overdue, period = services.self_check_overdue(mines)
    recent = SelfCheck.objects.visible_to(request.user).select_related("mine__county")[:50]
    return render(request, "hazards/self_checks.html", {
        "form": form, "overdue": overdue.select_related("county").order_by("county__code", "name"),
        "period": period, "recent": recent})


@login_required
def investigations(request):
    items = Investigation.objects.visible_to(request.user).select_related("mine__county").prefetch_related("hazards")
    return render(request, "hazards/investigations.html", {"investigations": items[:200]})


@login_required
def investigation_detail(request, pk: int):
    investigation = get_object_or_404(Investigation.objects.visible_to(request.user).select_related("mine"), pk=pk)
    may_conclude = services.role_for(request.user, investigation.mine) in ("city", "county")
    form = ConcludeForm(request.POST or None) if may_conclude and investigation.status == "open" else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            if attempt(request, lambda: services.conclude_investigation(request.user, investigation,
                                                                        **form.cleaned_data),
                       _("Investigation concluded.")):
                return redirect("hazards:investigation", pk=pk)
        else:
            form_errors_message(request, form)
    return render(request, "hazards/investigation.html", {"investigation": investigation, "form": form,
                                                          "hazards": investigation.hazards.select_related("item")})
