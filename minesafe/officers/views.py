"""Pages of the enforcement-staff ledger: the list (with export), an officer with their training, new officers,
a course recorded for many officers at once, and the summary per body against task 30."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import query_without_page, submit_on_form

from . import forms, services
from .models import Officer, OfficerTraining


def _officers(request):
    """The ledger is for the city, the counties and inspection bodies; enterprises, departments: 403."""
    user = request.user
    if not (is_city(user) or user.role in (User.Role.COUNTY, User.Role.INSPECTOR)):
        raise PermissionDenied
    return Officer.objects.visible_to(user)


def _filtered(request, officers):
    kind, body, status = request.GET.get("kind", ""), request.GET.get("body", ""), request.GET.get("status", "active")
    if kind in Officer.Kind.values:
        officers = officers.filter(kind=kind)
    if body.isdigit():
        officers = officers.filter(organisation_id=int(body))
    if status in Officer.Status.values:
        officers = officers.filter(status=status)
    return officers.select_related("organisation", "organisation__region"), {"kind": kind, "body": body,
                                                                           "status": status}


@login_required
def officer_list(request):
    officers, filters = _filtered(request, _officers(request))
    states = services.statuses(officers)
    if request.GET.get("untrained") == "1":
        states = [s for s in states if not s.trained]
        filters["untrained"] = "1"
    if request.GET.get("format") == "csv":
        return export_csv(states)
    bodies = sorted({s.officer.organisation for s in services.statuses(_officers(request))}, key=lambda o: o.name)
    page = Paginator(states, 50).get_page(request.GET.get("page"))
    return render(request, "officers/list.html", {
        "page": page, "filters": filters, "kinds": Officer.Kind.choices, "bodies": bodies,
        "may_add": services.manageable_bodies(request.user).exists(), "window": services.window_years(),
        "query": query_without_page(request)})


def export_csv(states) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="officers.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with a BOM
    writer = csv.writer(response)
    writer.writerow([_("body"), _("name"), _("kind"), _("post"), _("speciality"), _("certificate"),
                     _("valid until"), _("registered safety engineer"), _("last trained"), _("trained in window")])
    for state in states:
        o = state.officer
        writer.writerow([o.organisation.name, o.name, o.get_kind_display(), o.post,
                         services.specialities().get(o.speciality, o.speciality), o.certificate_no,
                         o.certificate_expiry or "", _("yes") if o.registered_safety_engineer else _("no"),
                         state.last_trained or "", _("yes") if state.trained else _("no")])
    return response


@login_required
def officer_new(request):
    bodies = services.manageable_bodies(request.user)
    if not bodies.exists():
        raise PermissionDenied
    form = forms.OfficerForm(request.POST or None, bodies=bodies,
                             initial={"joined_on": timezone.localdate()})
    if request.method == "POST":
        officer = submit_on_form(request, form, lambda d: services.add_officer(
            request.user, d["organisation"], **{k: v for k, v in d.items() if k != "organisation"}),
            _("Officer added."))
        if officer:
            return redirect("officers:detail", officer.pk)
    return render(request, "officers/new.html", {"form": form})


@login_required
def officer_detail(request, pk: int):
    officer = get_object_or_404(Officer.objects.visible_to(request.user).select_related("organisation"), pk=pk)
    may_manage = services.may_manage(request.user, officer.organisation)
    edit = forms.EditOfficerForm(initial={**{f: getattr(officer, f) for f in services.EDITABLE}},
                                 officer=officer, prefix="edit")
    left = forms.LeftForm(prefix="left", initial={"left_on": timezone.localdate()})
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "edit":
            edit = forms.EditOfficerForm(request.POST, officer=officer, prefix="edit")
            if submit_on_form(request, edit, lambda d: services.update_officer(request.user, officer, **d),
                              _("Officer updated.")):
                return redirect("officers:detail", officer.pk)
        elif action == "left":
            left = forms.LeftForm(request.POST, prefix="left")
            if submit_on_form(request, left, lambda d: services.mark_left(request.user, officer, d["left_on"],
                                                                          d["reason"]), _("Recorded.")):
                return redirect("officers:detail", officer.pk)
        else:
            raise PermissionDenied
    state = services.statuses([officer])[0]
    return render(request, "officers/detail.html", {
        "officer": officer, "state": state, "may_manage": may_manage, "edit": edit, "left": left,
        "trainings": officer.trainings.all(), "speciality": services.specialities().get(officer.speciality, ""),
        "window": services.window_years()})


@login_required
def training_new(request):
    bodies = services.manageable_bodies(request.user)
    if not bodies.exists():
        raise PermissionDenied
    officers = Officer.objects.filter(organisation__in=bodies, status=Officer.Status.ACTIVE) \
        .select_related("organisation").order_by("organisation__name", "name")
    form = forms.TrainingForm(request.POST or None, officers=officers)
    if request.method == "POST":
        rows = submit_on_form(request, form, lambda d: services.record_training(
            request.user, list(d["officers"]), course=d["course"], kind=d["kind"], provider=d["provider"],
            start_on=d["start_on"], end_on=d["end_on"], hours=d["hours"],
            failed=tuple(o.pk for o in d["failed"])), _("Training recorded."))
        if rows:
            return redirect("officers:list")
    return render(request, "officers/training_new.html", {"form": form})


@login_required
def officer_summary(request):
    officers = _officers(request)
    today = timezone.localdate()
    rows = services.summary(officers, today)
    staff = sum(r.staff for r in rows)
    trained = sum(r.trained for r in rows)
    return render(request, "officers/summary.html", {
        "rows": rows, "staff": staff, "trained": trained, "ratio": trained / staff if staff else None,
        "target_date": services.target_date(), "window": services.window_years(),
        "may_add": services.manageable_bodies(request.user).exists(),
        "recent": OfficerTraining.objects.filter(officer__in=officers).select_related("officer")[:20]})
