"""Pages of publicity and education (task 28): the event list with filters (county, year, kind) and the totals of
events and reach per county and per quarter, exports, recording an event with its evidence, an event with its
evidence files. For the city bureau and the counties only (403 for other roles); an event outside scope is 404."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.models import Region, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import query_without_page, submit_on_form

from . import exports, forms, publicity
from .models import PublicityEvent, PublicityEvidence


def require_official(user) -> None:
    if not (is_city(user) or (user.role == User.Role.COUNTY and user.organisation_id)):
        raise PermissionDenied


def visible_events(user):
    return PublicityEvent.objects.visible_to(user).select_related("county", "organiser")


def filtered(request, events):
    """County (division code, or "city" for city-wide events), year and kind; unknown values are ignored."""
    get = request.GET
    county = get.get("county", "")
    if county == "city":
        events = events.filter(county__isnull=True)
    elif county:
        events = events.filter(county__code=county)
    if get.get("year", "").isdigit():
        events = events.filter(held_on__year=int(get["year"]))
    if get.get("kind") in PublicityEvent.Kind.values:
        events = events.filter(kind=get["kind"])
    return events


@login_required
def event_list(request):
    user = request.user
    require_official(user)
    base = visible_events(user)
    events = filtered(request, base).annotate(evidence_count=Count("evidence")).order_by("-held_on", "-pk")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    years = sorted({d.year for d in base.dates("held_on", "year")}, reverse=True) or [timezone.localdate().year]
    county_ids = base.order_by().values_list("county_id", flat=True).distinct()
    return render(request, "campaigns/publicity_list.html", {
        "page": page, "report": publicity.report(filtered(request, base)), "get": request.GET,
        "query": query_without_page(request), "years": years, "kinds": PublicityEvent.Kind.choices,
        "counties": Region.objects.filter(pk__in=[c for c in county_ids if c]).order_by("code"),
        "may_record": publicity.may_record(user)})


@login_required
def event_export(request, fmt: str):
    user = request.user
    require_official(user)
    events = filtered(request, visible_events(user)).annotate(evidence_count=Count("evidence")) \
        .order_by("-held_on", "-pk")
    table = exports.event_table(events)
    if fmt == "csv":
        response = HttpResponse(exports.as_csv(table), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.as_xlsx(table, _("Publicity events")), content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="publicity-events.{fmt}"'
    return response


def _files(request) -> list[tuple[str, bytes]]:
    return [(f.name, f.read(publicity.EVIDENCE_MAX_BYTES + 1)) for f in request.FILES.getlist("evidence")]


@login_required
def event_new(request):
    user = request.user
    if not publicity.may_record(user):
        raise PermissionDenied
    form = forms.EventForm(request.POST or None, counties=publicity.counties_for(user), city=is_city(user),
                           initial={"held_on": timezone.localdate()})
    if request.method == "POST":
        files = _files(request)
        event = submit_on_form(request, form, lambda d: publicity.record_event(user, **d, evidence=files),
                               _("Event recorded."))
        if event:
            return redirect("campaigns:event", event.pk)
        return render(request, "campaigns/publicity_new.html", {"form": form}, status=400)
    return render(request, "campaigns/publicity_new.html", {"form": form})


@login_required
def event_detail(request, pk: int):
    user = request.user
    require_official(user)
    event = get_object_or_404(visible_events(user), pk=pk)
    may_manage = publicity.may_manage(user, event)
    error = ""
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        form = forms.EvidenceForm(request.POST)
        if submit_on_form(request, form, lambda d: publicity.add_evidence(user, event, _files(request)),
                          _("Evidence added.")):
            return redirect("campaigns:event", event.pk)
        error = " ".join(form.non_field_errors())
    return render(request, "campaigns/publicity_detail.html", {
        "event": event, "evidence": event.evidence.all(), "may_manage": may_manage, "error": error,
        "events": audit.history(event)[:30]},
        status=400 if error else 200)


@login_required
def evidence_download(request, pk: int, evidence_pk: int):
    user = request.user
    require_official(user)
    event = get_object_or_404(visible_events(user), pk=pk)
    evidence = get_object_or_404(PublicityEvidence, pk=evidence_pk, event=event)
    try:
        handle = evidence.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(handle, as_attachment=evidence.content_type == "application/pdf",
                            filename=evidence.original_name, content_type=evidence.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
