"""Registry pages. Thin: scope through visible_to, validate with forms, change state through services."""

import time
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minesafe.core.audit import history
from minesafe.core.errors import DomainError
from minesafe.core.webutil import submit

from . import excel, services
from .api import xlsx_response
from .filters import MineFilterSet, county_choices
from .forms import ImportForm, LedgerForm, MineCreateForm, MineForm, StatusChangeForm, fields_for
from .models import Mine, ResponsibleLeader

SORTS = {"code": "code", "name": "name", "status": "status", "due": "ledger_due_date", "-due": "-ledger_due_date"}
REPORT_DIR = Path(settings.VAR_DIR) / "import-reports"
REPORT_MAX_AGE_S = 24 * 3600


def visible_mine(request, pk: int) -> Mine:
    return get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"), pk=pk)


def apply_errors(form, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form fields it names."""
    for field, msgs in (exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]):
        form.add_error(field if field in form.fields else None, msgs)


def can_create(user) -> bool:
    return excel.may_import(user)


@login_required
def mine_list(request):
    base = Mine.objects.visible_to(request.user).select_related("county", "enterprise")
    filterset = MineFilterSet(request.GET, queryset=base)
    mines = filterset.qs.order_by(SORTS.get(request.GET.get("sort", ""), "county__code"), "code")
    page = Paginator(mines, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "registry/mine_list.html", {
        "filter": filterset, "page": page, "query": query.urlencode(), "can_create": can_create(request.user),
    })


@login_required
def mine_export(request):
    base = Mine.objects.visible_to(request.user).select_related("county", "enterprise")
    filterset = MineFilterSet(request.GET, queryset=base)
    return xlsx_response(excel.build_export(filterset.qs.order_by("county__code", "code")), "mines.xlsx")


@login_required
def mine_detail(request, pk: int):
    mine = visible_mine(request, pk)
    user = request.user
    allowed = services.allowed_transitions(user, mine)
    return render(request, "registry/mine_detail.html", {
        "mine": mine,
        "can_edit": services.can_edit_mine(user, mine),
        "status_form": StatusChangeForm(allowed=allowed) if allowed else None,
        "ledger_form": LedgerForm(mine=mine) if services.can_edit_mine(user, mine) and mine.status != "closed"
        else None,
        "status_changes": mine.status_changes.select_related("changed_by")[:50],
        "ledger": mine.ledger_submissions.all()[:24],
        "leaders": mine.leaders.all(),
        "events": history(mine)[:100],
    })


@login_required
def mine_edit(request, pk: int):
    mine = visible_mine(request, pk)
    if not services.can_edit_mine(request.user, mine):
        raise PermissionDenied
    names = fields_for(mine.mine_type, request.user, mine)
    form = MineForm(request.POST or None, instance=Mine.objects.get(pk=mine.pk), field_names=names)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_mine(request.user, mine, {n: form.cleaned_data[n] for n in names})
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("registry:mine-detail", pk=mine.pk)
    return render(request, "registry/mine_form.html", {"form": form, "mine": mine})


@login_required
def mine_create(request):
    if not can_create(request.user):
        raise PermissionDenied
    form = MineCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        relevant = set(fields_for(data["mine_type"], request.user)) | {"name", "mine_type"}
        fields = {k: v for k, v in data.items() if k in relevant and v not in (None, "")}
        try:
            mine = services.register_mine(
                request.user, enterprise_name=data["enterprise_name"], credit_code=data["credit_code"],
                county=data["county"], code=data["code"], status=data["status"],
                status_since=data.get("status_since"), **fields)
        except ValidationError as exc:
            apply_errors(form, exc)
        except (PermissionDenied, DomainError) as exc:
            form.add_error(getattr(exc, "field", None) if getattr(exc, "field", None) in form.fields else None,
                           str(exc))
        else:
            messages.success(request, _("Mine registered."))
            return redirect("registry:mine-detail", pk=mine.pk)
    return render(request, "registry/mine_form.html", {"form": form, "mine": None})


@login_required
@require_POST
def mine_status(request, pk: int):
    mine = visible_mine(request, pk)
    form = StatusChangeForm(request.POST, allowed=services.allowed_transitions(request.user, mine))
    submit(request, form, lambda data: services.change_status(
        request.user, mine, data["status"], reason=data["reason"], effective_date=data["effective_date"]),
        _("Status changed."))
    return redirect("registry:mine-detail", pk=mine.pk)


@login_required
@require_POST
def mine_ledger(request, pk: int):
    mine = visible_mine(request, pk)
    form = LedgerForm(request.POST, mine=mine)
    submit(request, form, lambda data: services.submit_monthly_ledger(
        request.user, mine, data["period"], people_underground=data.get("people_underground"),
        output=data.get("output"), note=data.get("note", "")), _("Monthly ledger submitted."))
    return redirect("registry:mine-detail", pk=mine.pk)


@login_required
def ledger_import(request):
    if not can_create(request.user):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    report_token = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = excel.import_ledger(request.user, upload.name, upload.read(settings.IMPORT_MAX_BYTES + 1))
        if result.ok:
            messages.success(request, _("Imported %(rows)d rows: %(c)d new, %(u)d changed, %(n)d unchanged.") % {
                "rows": result.rows, "c": result.created, "u": result.updated, "n": result.unchanged})
            return redirect("registry:ledger-import")
        if result.errors:
            report_token = save_error_report(excel.build_error_report(result))
            request.session["import_reports"] = [*request.session.get("import_reports", [])[-9:], report_token]
    return render(request, "registry/ledger_import.html", {"form": form, "result": result,
                                                           "report_token": report_token})


def save_error_report(content: bytes) -> str:
    """Keep a report for its uploader to download; reports older than a day are removed."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - REPORT_MAX_AGE_S
    for old in REPORT_DIR.glob("*.xlsx"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    (REPORT_DIR / f"{token}.xlsx").write_bytes(content)
    return token


@login_required
def ledger_import_report(request, token: str):
    if token not in request.session.get("import_reports", []):
        raise Http404
    path = REPORT_DIR / f"{token}.xlsx"
    if not path.exists():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename="import-errors.xlsx",
                        content_type=excel.XLSX_CONTENT_TYPE)


@login_required
def ledger_template(request):
    return xlsx_response(excel.build_template(), "mine-ledger-template.xlsx")


def public_leaders(request):
    """包保 leaders list: public, no login, no phone numbers."""
    leaders = (ResponsibleLeader.objects.published_current().exclude(mine__status=Mine.Status.CLOSED)
               .select_related("mine__county").order_by("mine__county__code", "mine__name", "level"))
    county = request.GET.get("county", "")
    if county:
        leaders = leaders.filter(mine__county__code=county)
    page = Paginator(leaders, 100).get_page(request.GET.get("page"))
    return render(request, "registry/public_leaders.html", {"page": page, "counties": county_choices(),
                                                            "county": county})
