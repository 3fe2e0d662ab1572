"""Pages of the key-positions ledger (履职台账): the mines in scope, one mine's ledger (posts, holders with their
qualification status, history, people), one person, and the compliance list with flags and its exports.
Thin: every change goes through people.py. ID and phone numbers are shown in full only to those who may see
them (common.may_see_personal); the exports always mask them."""

import csv
import io

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from minesafe.core.models import AuditEvent, Region
from minesafe.core.webutil import query_without_page, step_forms
from minesafe.registry.excel import XLSX_CONTENT_TYPE, safe_cell
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from . import common
from . import people as services
from .models import Education, Person


# Forms -------------------------------------------------------------------------------------------
class PersonForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=64)
    id_number = forms.CharField(label=gettext_lazy("resident ID number"), max_length=18)
    phone = forms.CharField(label=gettext_lazy("phone"), max_length=32, required=False)
    education = forms.ChoiceField(label=gettext_lazy("education"), choices=Education.choices)
    specialty = forms.CharField(label=gettext_lazy("specialty"), max_length=64, required=False)
    core_specialty = forms.BooleanField(label=gettext_lazy("core mining specialty"), required=False)
    frontline_years = forms.DecimalField(label=gettext_lazy("years of front-line experience"), max_digits=4,
                                         decimal_places=1, min_value=0)
    assigned_operations = forms.MultipleChoiceField(label=gettext_lazy("special operations assigned"),
                                                    required=False, widget=forms.CheckboxSelectMultiple)
    own_employee = forms.BooleanField(label=gettext_lazy("employed by the mine's enterprise"), required=False,
                                      initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_operations"].choices = [(code, common.label(item))
                                                      for code, item in common.operation_categories().items()]


class AppointForm(forms.Form):
    person = forms.ModelChoiceField(label=gettext_lazy("person"), queryset=Person.objects.none())
    post = forms.ChoiceField(label=gettext_lazy("post"))
    specialty = forms.CharField(label=gettext_lazy("specialty (technical staff)"), max_length=32, required=False)
    start_date = forms.DateField(label=gettext_lazy("appointed on"), widget=DateInput())

    def __init__(self, *args, mine: Mine, rule_set: services.Rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.filter(mine=mine, active=True).order_by("name")
        self.fields["post"].choices = [(code, rule_set.post_label(code)) for code in rule_set.posts]
        suggestions = services.specialty_suggestions()
        if suggestions:
            self.fields["specialty"].help_text = _("e.g. %(s)s") % {"s": ", ".join(suggestions)}


class EndForm(forms.Form):
    end_date = forms.DateField(label=gettext_lazy("left the post on"), widget=DateInput())
    reason = forms.CharField(label=gettext_lazy("reason for leaving"), max_length=200)


class DeactivateForm(forms.Form):
    left_on = forms.DateField(label=gettext_lazy("left the mine on"), widget=DateInput())
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=200)


class ConfirmForm(forms.Form):
    pass


# Page plumbing -----------------------------------------------------------------------------------
def show_personal(person: Person, full: bool) -> Person:
    """Set `id_shown` and `phone_shown` on the person: in full, or masked."""
    person.id_shown = person.id_number if full else common.mask_id(person.id_number)
    person.phone_shown = person.phone if full else common.mask_phone(person.phone) if person.phone else ""
    return person


def visible_mine(user, pk: int) -> Mine:
    return get_object_or_404(Mine.objects.visible_to(user).select_related("county", "enterprise"), pk=pk)


def audit_events(person: Person):
    q = Q(object_type="personnel.person", object_id=str(person.pk)) | Q(
        object_type="personnel.appointment", object_id__in=[str(pk) for pk in person.appointments.values_list(
            "pk", flat=True)])
    return AuditEvent.objects.filter(q).order_by("-seq")[:100]


# Pages -------------------------------------------------------------------------------------------
@login_required
def people_mines(request):
    """The mines in scope with their people and how many of the five chief posts are filled today."""
    today = timezone.localdate()
    five = services.rules().five_posts()
    mines = Mine.objects.visible_to(request.user).exclude(status=Mine.Status.CLOSED).select_related("county")
    county = request.GET.get("county", "")
    counties = Region.objects.filter(pk__in=mines.values("county_id")).order_by("code")
    if county:
        mines = mines.filter(county__code=county)
    current = services.current_q(today, "appointments__")
    mines = mines.annotate(
        people_count=Count("people", filter=Q(people__active=True), distinct=True),
        chiefs_filled=Count("appointments__post", filter=current & Q(appointments__post__in=five,
                                                                     appointments__person__active=True),
                            distinct=True)).order_by("county__code", "name")
    page = Paginator(mines, 50).get_page(request.GET.get("page"))
    return render(request, "personnel/people_mines.html", {
        "page": page, "query": query_without_page(request), "counties": counties, "county": county,
        "five_count": len(five)})


@login_required
def people_mine(request, mine_pk: int):
    """One mine's key-positions ledger: each post's holders with their qualification status and history, the
    people recorded, and the forms to add a person and to appoint."""
    user = request.user
    mine = visible_mine(user, mine_pk)
    today = timezone.localdate()
    rule_set = services.rules()
    may_write = common.may_write(user, mine)
    steps = {}
    if may_write and mine.status != Mine.Status.CLOSED:
        steps["person"] = (PersonForm, lambda d: services.create_person(user, mine, **d), _("Person recorded."), {})
        steps["appoint"] = (AppointForm, lambda d: services.appoint(
            user, d["person"], d["post"], d["start_date"], specialty=d["specialty"]), _("Appointment recorded."),
            {"mine": mine, "rule_set": rule_set})
    done, step_form = step_forms(request, steps, request.path, allowed=may_write)
    if done:
        return done
    full = common.may_see_personal(user, mine)
    people = [show_personal(p, full) for p in Person.objects.filter(mine=mine).order_by("-active", "name")]
    return render(request, "personnel/people_mine.html", {
        "mine": mine, "rows": services.mine_ledger(mine, today, rule_set), "people": people, "forms": step_form,
        "may_write": may_write, "today": today, "rules_from": rule_set.rules_from,
        "fix_by": rule_set.incumbents_fix_by})


@login_required
def person_detail(request, pk: int):
    """One person: facts (numbers masked for those who may not see them), qualification against each ruled post,
    attendance evidence, appointments (end an open one), corrections, leaving and returning, audit trail."""
    user = request.user
    person = get_object_or_404(Person.objects.visible_to(user).select_related("mine__county", "mine__enterprise"),
                               pk=pk)
    mine = person.mine
    today = timezone.localdate()
    rule_set = services.rules()
    may_write = common.may_write(user, mine)
    appointments = list(person.appointments.order_by("-start_date", "-pk"))
    steps = {}
    if may_write:
        initial = {name: getattr(person, name) for name in services.PERSON_FIELDS}
        steps["edit"] = (PersonForm, lambda d: services.update_person(user, person, d), _("Record corrected."),
                         {"initial": initial})
        for appointment in appointments:
            if appointment.end_date is None:
                steps[f"end{appointment.pk}"] = (EndForm, lambda d, a=appointment: services.end_appointment(
                    user, a, d["end_date"], d["reason"]), _("Appointment ended."), {})
        if person.active:
            steps["deactivate"] = (DeactivateForm, lambda d: services.deactivate_person(
                user, person, reason=d["reason"], left_on=d["left_on"]), _("Recorded as having left the mine."),
                {"initial": {"left_on": today}})
        elif mine.status != Mine.Status.CLOSED:
            steps["reactivate"] = (ConfirmForm, lambda d: services.reactivate_person(user, person),
                                   _("Recorded as working at the mine again."), {})
    done, step_form = step_forms(request, steps, request.path, allowed=may_write)
    if done:
        return done
    for appointment in appointments:
        appointment.person = person
        appointment.status = services.holder_status(appointment, today, rule_set)
        appointment.label = rule_set.post_label(appointment.post)
        appointment.form = step_form.get(f"end{appointment.pk}")
    ruled = [(rule_set.post_label(code), services.qualification_gaps(person, code, rule_set))
             for code in rule_set.posts if rule_set.rule_for(code) is not None]
    show_personal(person, common.may_see_personal(user, mine))
    operations = common.operation_categories()
    return render(request, "personnel/people_person.html", {
        "person": person, "mine": mine, "appointments": appointments, "forms": step_form, "may_write": may_write,
        "ruled": ruled, "last_seen": services.last_seen(person, today),
        "education": services.education_label(person.education),
        "operations": [common.label(operations[c]) if c in operations else c for c in person.assigned_operations],
        "events": audit_events(person)})


def compliance_data(request):
    """The compliance rows and flags in the reader's scope, filtered by county and overdue."""
    today = timezone.localdate()
    rule_set = services.rules()
    rows = services.compliance_list(request.user, today, rule_set)
    found = services.flags(request.user, today, rule_set)
    county = request.GET.get("county", "")
    if county:
        rows = [r for r in rows if r.county.code == county]
        found = [f for f in found if f.county.code == county]
    overdue = request.GET.get("overdue", "")
    if overdue in ("1", "0"):
        rows = [r for r in rows if r.overdue == (overdue == "1")]
    return today, rule_set, rows, found


@login_required
def compliance(request):
    """Unqualified holders with the deadline to adjust them (overdue after it), and the flags, per county."""
    today, rule_set, rows, found = compliance_data(request)
    counties = Region.objects.filter(pk__in=Mine.objects.visible_to(request.user).values("county_id")) \
        .order_by("code")
    per_county: dict = {}
    for row in rows:
        entry = per_county.setdefault(row.county, {"county": row.county, "rows": 0, "overdue": 0})
        entry["rows"] += 1
        entry["overdue"] += row.overdue
    return render(request, "personnel/people_compliance.html", {
        "rows": rows, "flags": found, "today": today, "fix_by": rule_set.incumbents_fix_by,
        "rules_from": rule_set.rules_from, "counties": counties, "county": request.GET.get("county", ""),
        "overdue": request.GET.get("overdue", ""), "per_county": list(per_county.values()),
        "query": request.GET.urlencode()})


# Exports (numbers always masked: files travel) ---------------------------------------------------
def yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def compliance_header() -> list[str]:
    return [_("County"), _("Mine"), _("Mine code"), _("Person"), _("Resident ID number"), _("Post"),
            _("Shortfalls"), _("Incumbent"), _("Deadline"), _("Overdue")]


def compliance_cells(row: services.ComplianceRow) -> list:
    return [row.county.name_zh, row.mine.name, row.mine.code, row.person.name, common.mask_id(row.person.id_number),
            row.post_label, "; ".join(row.gaps), yes_no(row.incumbent), row.deadline.isoformat(), yes_no(row.overdue)]


def flag_header() -> list[str]:
    return [_("County"), _("Mine"), _("Mine code"), _("Flag"), _("Person"), _("Post"),
            _("Latest attendance evidence"), _("Detail")]


def flag_cells(flag: services.Flag) -> list:
    return [flag.county.name_zh, flag.mine.name, flag.mine.code, flag.kind_label,
            flag.person.name if flag.person else "", flag.post_label,
            flag.last_seen.isoformat() if flag.last_seen else "", flag.detail]


@login_required
def compliance_csv(request):
    _today, _rules, rows, _flags = compliance_data(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(compliance_header())
    for row in rows:
        writer.writerow([safe_cell(v) for v in compliance_cells(row)])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="key-positions-compliance.csv"'
    return response


@login_required
def compliance_xlsx(request):
    _today, _rules, rows, found = compliance_data(request)
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(_("Compliance"))
    sheet.append(compliance_header())
    for row in rows:
        sheet.append([safe_cell(v) for v in compliance_cells(row)])
    sheet = wb.create_sheet(_("Flags"))
    sheet.append(flag_header())
    for flag in found:
        sheet.append([safe_cell(v) for v in flag_cells(flag)])
    buffer = io.BytesIO()
    wb.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="key-positions-compliance.xlsx"'
    return response
