"""Resumption pages: the applications in the user's scope, applying, and the acceptance check."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from minesafe.core.webutil import submit_on_form
from minesafe.registry.models import Mine
from minesafe.registry.services import is_mine_owner

from . import resumption
from .common import is_regulator
from .forms_resumption import ApplyForm, DecideForm, ItemForm, StartCheckForm
from .models import AcceptanceItem, ResumptionApplication


@login_required
def application_list(request):
    applications = ResumptionApplication.objects.visible_to(request.user).select_related("mine__county")
    status = request.GET.get("status", "")
    if status in ResumptionApplication.Status.values:
        applications = applications.filter(status=status)
    page = Paginator(applications.order_by("-applied_at", "-pk"), 50).get_page(request.GET.get("page"))
    may_apply = Mine.objects.visible_to(request.user).filter(
        status__in=list(resumption.RESUMES), enterprise__organisation_id=request.user.organisation_id) \
        if request.user.role == "enterprise" else Mine.objects.none()
    return render(request, "operations/resumption_list.html", {
        "page": page, "status": status, "statuses": ResumptionApplication.Status.choices, "may_apply": may_apply,
        "query": ""})


@login_required
def apply(request, mine_pk: int):
    mine = get_object_or_404(Mine.objects.visible_to(request.user), pk=mine_pk)
    if not is_mine_owner(request.user, mine):
        raise PermissionDenied
    form = ApplyForm(request.POST or None)
    if request.method == "POST":
        created = submit_on_form(request, form, lambda d: resumption.apply(
            request.user, mine, planned_resumption=d["planned_resumption"], statement=d["statement"]),
            _("Application submitted."))
        if created:
            return redirect("operations:resumption", pk=created.pk)
    return render(request, "operations/resumption_apply.html", {"mine": mine, "form": form})


@login_required
def application_detail(request, pk: int):
    application = get_object_or_404(ResumptionApplication.objects.visible_to(request.user).select_related(
        "mine__county", "mine__enterprise", "applied_by", "decided_by"), pk=pk)
    user = request.user
    regulator = is_regulator(user, application.mine)
    owner = is_mine_owner(user, application.mine)
    checking = application.status == ResumptionApplication.Status.CHECKING
    forms = {
        "start": StartCheckForm(prefix="start") if regulator and application.status == "applied" else None,
        "decide": DecideForm(prefix="decide") if regulator and checking else None,
    }
    item_forms = {}
    if request.method == "POST":
        action = request.POST.get("action")
        done = None
        if action == "start" and forms["start"]:
            forms["start"] = StartCheckForm(request.POST, prefix="start")
            done = submit_on_form(request, forms["start"], lambda d: resumption.start_check(
                user, application, team=d["team"]), _("Acceptance check opened."))
        elif action == "item" and regulator and checking:
            form = ItemForm(request.POST, prefix="item")
            item = get_object_or_404(AcceptanceItem, pk=request.POST.get("item-item"), application=application)
            item_forms[item.pk] = form
            done = submit_on_form(request, form, lambda d: resumption.record_item(
                user, item, passed=d["result"] == "passed", evidence=d["evidence"], reason=d["reason"]),
                _("Item recorded."))
        elif action == "refresh" and regulator and checking:
            resumption.refresh_computed(application)
            done = True
        elif action == "decide" and forms["decide"]:
            forms["decide"] = DecideForm(request.POST, prefix="decide")
            done = submit_on_form(request, forms["decide"], lambda d: resumption.decide(
                user, application, note=d["note"]), _("Decision recorded."))
        elif action == "withdraw" and owner and application.status == "applied":
            form = DecideForm(request.POST, prefix="withdraw")
            done = submit_on_form(request, form, lambda d: resumption.withdraw(user, application),
                                  _("Application withdrawn."))
        else:
            raise PermissionDenied
        if done:
            return redirect("operations:resumption", pk=application.pk)
    items = list(application.items.select_related("checked_by"))
    blocking = resumption.failing_precondition(application) if checking else None
    rows = []
    for item in items:
        form = None
        if regulator and checking and not item.computed and (blocking is None or blocking.pk == item.pk):
            form = item_forms.get(item.pk) or ItemForm(prefix="item", initial={"item": item.pk})
        hidden = owner and item.code in resumption.COVERT_ITEMS
        rows.append((item, form, hidden))
    return render(request, "operations/resumption_detail.html", {
        "application": application, "mine": application.mine, "rows": rows, "forms": forms,
        "blocking": blocking, "regulator": regulator, "owner": owner,
        "may_withdraw": owner and application.status == "applied"})
