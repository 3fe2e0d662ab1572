"""Pages of the enforcement equipment ledger: the items in scope with each body's kit against the minimum,
adding an item, one item with its steps (edit, check, status) and audit trail, and the CSV. Thin: every change
goes through equipment.py. Only the city and the counties have these pages (403 for others); an item outside
the reader's scope is 404."""

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
from minesafe.core.webutil import submit_on_form
from minesafe.monitoring.exports import csv_response

from . import equipment as services
from .models import EquipmentItem
from .views_common import audit_trail, query_without_page, step_forms
from .views_plans import BodyChoice

K = EquipmentItem.Kind
ST = EquipmentItem.Status


def require_keeper_role(user) -> None:
    if not (is_city(user) or (user.role == User.Role.COUNTY and user.organisation_id)):
        raise PermissionDenied


class DateInput(forms.DateInput):
    input_type = "date"


class ItemFields(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=K.choices)
    model = forms.CharField(label=gettext_lazy("model"), max_length=100)
    serial_number = forms.CharField(label=gettext_lazy("serial number"), max_length=64)
    acquired_on = forms.DateField(label=gettext_lazy("acquired on"), widget=DateInput())
    assigned_to = forms.CharField(label=gettext_lazy("assigned to (person)"), required=False, max_length=64)
    note = forms.CharField(label=gettext_lazy("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class NewItemForm(ItemFields):
    organisation = BodyChoice(label=gettext_lazy("organisation"), queryset=EquipmentItem.objects.none())
    last_checked_on = forms.DateField(label=gettext_lazy("last checked"), required=False, widget=DateInput())
    field_order = ["organisation", "kind", "model", "serial_number", "acquired_on", "last_checked_on",
                   "assigned_to", "note"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        bodies = services.managed_bodies(user)
        self.fields["organisation"].queryset = bodies
        if bodies.count() == 1:
            self.fields["organisation"].initial = bodies.first().pk


class CheckForm(forms.Form):
    checked_on = forms.DateField(label=gettext_lazy("checked on"), widget=DateInput())
    note = forms.CharField(label=gettext_lazy("note"), required=False, max_length=500)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("new status"), choices=())
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=500)

    def __init__(self, *args, item, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, ST(s).label) for s in services.allowed_statuses(item)]


def scoped_items(user):
    return EquipmentItem.objects.visible_to(user).select_related("organisation__region")


def filtered_items(request):
    items = scoped_items(request.user)
    kind, status, org, due = (request.GET.get(k, "") for k in ("kind", "status", "organisation", "due"))
    if kind in K.values:
        items = items.filter(kind=kind)
    if status in ST.values:
        items = items.filter(status=status)
    if org.isdigit():
        items = items.filter(organisation_id=int(org))
    if due == "overdue":
        items = items.exclude(status=ST.RETIRED).filter(next_check_due__lt=timezone.localdate())
    return items.order_by("organisation__kind", "organisation__region__code", "kind", "serial_number"), {
        "kind": kind, "status": status, "organisation": org, "due": due}


@login_required
def equipment_list(request):
    require_keeper_role(request.user)
    items, filters = filtered_items(request)
    page = Paginator(items, 100).get_page(request.GET.get("page"))
    return render(request, "enforcement/equipment/list.html", {
        "page": page, "query": query_without_page(request), "filters": filters, "kinds": K.choices,
        "statuses": ST.choices, "bodies": services.managed_bodies(request.user) if is_city(request.user) else [],
        "kit": services.kit_summary(request.user), "may_add": services.managed_bodies(request.user).exists()})


@login_required
def equipment_new(request):
    require_keeper_role(request.user)
    if not services.managed_bodies(request.user).exists():
        raise PermissionDenied
    form = NewItemForm(request.POST or None, user=request.user)
    if request.method == "POST":
        def add(data):
            return services.add_item(request.user, data["organisation"], kind=data["kind"], model=data["model"],
                                     serial_number=data["serial_number"], acquired_on=data["acquired_on"],
                                     assigned_to=data["assigned_to"], last_checked_on=data["last_checked_on"],
                                     note=data["note"])

        item = submit_on_form(request, form, add, _("Item added."))
        if item:
            return redirect("enforcement:equipment-detail", pk=item.pk)
    return render(request, "enforcement/equipment/new.html", {"form": form})


@login_required
def equipment_detail(request, pk: int):
    require_keeper_role(request.user)
    item = get_object_or_404(scoped_items(request.user), pk=pk)
    user = request.user
    steps, kwargs = {}, {}
    if services.may_manage(user, item.organisation) and item.status != ST.RETIRED:
        steps["edit"] = (ItemFields, lambda d: services.update_item(user, item, **d), _("Item changed."))
        kwargs["edit"] = {"initial": {f: getattr(item, f) for f in services.EDITABLE}}
        steps["check"] = (CheckForm, lambda d: services.record_check(user, item, checked_on=d["checked_on"],
                                                                     note=d["note"]), _("Check recorded."))
        kwargs["check"] = {"initial": {"checked_on": timezone.localdate()}}
        steps["status"] = (StatusForm, lambda d: services.change_status(user, item, d["status"], reason=d["reason"]),
                           _("Status changed."))
        kwargs["status"] = {"item": item}
    done, forms_by_name = step_forms(request, steps, request.path, form_kwargs=kwargs)
    if done:
        return done
    return render(request, "enforcement/equipment/detail.html", {
        "item": item, "forms": forms_by_name, "interval": services.check_interval(item.kind),
        "events": audit_trail(item)})


@login_required
def equipment_csv(request):
    require_keeper_role(request.user)
    items, _filters = filtered_items(request)
    return csv_response(services.export_header(), services.export_rows(items), "enforcement-equipment.csv")
