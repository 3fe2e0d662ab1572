"""Pages of the county evaluation: the overview, a quarter's ranking, one county's sheet (the live draft or the
published snapshot, with its step forms), the half-year notice and annual summary, and the monthly statistics;
two xlsx downloads. Thin: every change goes through services.py. Enterprises, departments and inspectors are
refused (403); another county's sheet is 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import AuditEvent
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.hazards.models import Hazard

from . import exports, forms, scoring, services
from .models import ManualScore, Objection, ScoreSheet
from .scoring import Quarter
from .statistics import monthly_statistics

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FLAG_LABELS = {
    "no_plan": gettext_lazy("No approved inspection plan"),
    "zero_penalty": gettext_lazy("Zero penalties despite inspections (零处罚)"),
    "reverse_accountability": gettext_lazy("Reverse accountability (倒查): found by others after a county visit"),
    "fatal_accident": gettext_lazy("Fatal accident in the quarter"),
}
STATUS_LABELS = {
    "ok": "", "empty": gettext_lazy("nothing due: scored by the catalogue's rule"),
    "no_plan": gettext_lazy("no plan: scored 0"), "zero_penalty": gettext_lazy("zero penalties: scored 0"),
    "pending": gettext_lazy("not yet scored"),
}
# The columns of each item's records (key in the record, heading).
RECORD_COLUMNS = {
    "inspections": [("mine_code", gettext_lazy("Code")), ("mine", gettext_lazy("Mine")),
                    ("visits_per_year", gettext_lazy("Visits a year")), ("due", gettext_lazy("Due to date")),
                    ("completed", gettext_lazy("Completed")), ("counted", gettext_lazy("Counted"))],
    "penalties": [("mine", gettext_lazy("Mine")), ("opened_on", gettext_lazy("Opened")),
                  ("decided_on", gettext_lazy("Decided")), ("enterprise_fine", gettext_lazy("Fine on the enterprise")),
                  ("person_fine", gettext_lazy("Fine on the person"))],
    "hazards_on_time": [("number", gettext_lazy("Hazard")), ("mine", gettext_lazy("Mine")),
                        ("item", gettext_lazy("Item")), ("deadline", gettext_lazy("Deadline")),
                        ("closed_on", gettext_lazy("Closed")), ("counted", gettext_lazy("On time"))],
    "ledger_on_time": [("mine_code", gettext_lazy("Code")), ("mine", gettext_lazy("Mine")),
                       ("month", gettext_lazy("Month")), ("due", gettext_lazy("Due")),
                       ("submitted_on", gettext_lazy("Submitted"))],
    "self_check": [("mine_code", gettext_lazy("Code")), ("mine", gettext_lazy("Mine")),
                   ("month", gettext_lazy("Month missing"))],
    "tipoffs_on_time": [("number", gettext_lazy("Report")), ("received_at", gettext_lazy("Received")),
                        ("late_steps", gettext_lazy("Steps late")), ("counted", gettext_lazy("On time"))],
}
FLAG_COLUMNS = {
    "reverse_accountability": [("record", gettext_lazy("Hazard or accident")), ("mine", gettext_lazy("Mine")),
                               ("item", gettext_lazy("Item")), ("source", gettext_lazy("Found by")),
                               ("found_on", gettext_lazy("Found")),
                               ("inspected_on", gettext_lazy("County inspection")),
                               ("days", gettext_lazy("Days between"))],
    "fatal_accident": [("record", gettext_lazy("Accident")), ("mine", gettext_lazy("Mine")),
                       ("deaths", gettext_lazy("Deaths"))],
}
INPUT_LABELS = {
    "plan": gettext_lazy("Plan id"), "planned_year": gettext_lazy("Visits planned for the year"),
    "done_year": gettext_lazy("Visits completed in the year"), "entries_behind": gettext_lazy("Mines behind plan"),
    "enterprise_fines": gettext_lazy("Fines on enterprises (CNY)"),
    "person_fines": gettext_lazy("Fines on persons (CNY)"),
    "inspections": gettext_lazy("Completed inspections in the quarter"),
    "overdue_mine_months": gettext_lazy("Mine-months overdue"), "missing": gettext_lazy("Self-checks missing"),
    "entered_by": gettext_lazy("Scored by"), "entered_at": gettext_lazy("Scored at"),
    "adjusted_on_objection": gettext_lazy("Adjusted on objection"),
}
PERIOD_TITLES = {"h1": gettext_lazy("First half-year notice (上半年通报)"),
                 "h2": gettext_lazy("Second half-year notice (下半年通报)"),
                 "year": gettext_lazy("Annual summary (年度总结)")}


def officer(request) -> None:
    services.require_officer(request.user)


def quarter_or_404(year: int, number: int) -> Quarter:
    try:
        quarter = Quarter(year, number)
    except ValueError:
        raise Http404 from None
    if quarter.start > timezone.localdate():
        raise Http404
    return quarter


def year_param(request) -> int:
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year", today.year))
    except ValueError:
        return today.year
    return year if 2000 <= year <= today.year else today.year


def display_cell(value):
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    return "—" if value in (None, "") else value


def present_items(result: dict) -> list[dict]:
    items = []
    for item in result["items"]:
        columns = RECORD_COLUMNS.get(item["code"], [])
        items.append({**item, "label": scoring.label(item), "status_label": STATUS_LABELS.get(item["status"], ""),
                      "input_rows": [(INPUT_LABELS.get(k, k), display_cell(v)) for k, v in item["inputs"].items()],
                      "columns": [c[1] for c in columns],
                      "rows": [[display_cell(r.get(k)) for k, _h in columns] for r in item["records"]]})
    return items


def source_label(value: str) -> str:
    if value == "accident":
        return _("Accident")
    return str(Hazard.Source(value).label) if value in Hazard.Source.values else value


def present_flags(result: dict) -> list[dict]:
    flags = []
    for f in result["flags"]:
        columns = FLAG_COLUMNS.get(f["code"], [("record", gettext_lazy("Record"))])
        rows = [[display_cell(source_label(r.get(k)) if k == "source" else r.get(k)) for k, _h in columns]
                for r in f["records"]]
        flags.append({**f, "label": FLAG_LABELS.get(f["code"], f["code"]), "columns": [c[1] for c in columns],
                      "rows": rows})
    return flags


# Overview ----------------------------------------------------------------------------------------
@login_required
def index(request):
    officer(request)
    user = request.user
    today = timezone.localdate()
    quarters = [Quarter.of(today)]
    for _i in range(7):
        quarters.append(quarters[-1].previous())
    counties = list(services.visible_counties(user))
    sheets = {(s.county_id, s.year, s.quarter): s for s in ScoreSheet.objects.visible_to(user).filter(
        year__gte=quarters[-1].year)}
    total = services.evaluated_counties().count()
    rows = []
    for q in quarters:
        own = [sheets.get((c.pk, q.year, q.number)) for c in counties]
        published = ScoreSheet.objects.published().filter(year=q.year, quarter=q.number).count()
        rows.append({"quarter": q, "published": published, "total": total, "running": q.end >= today,
                     "own": own[0] if not is_city(user) and own else None})
    objections = Objection.objects.visible_to(user).filter(status=Objection.Status.PENDING).select_related(
        "sheet__county")
    years = sorted({q.year for q in quarters}, reverse=True)
    return render(request, "evaluation/index.html", {
        "rows": rows, "is_city": is_city(user),
        "county": None if is_city(user) or not counties else counties[0],
        "objections": objections, "years": years})


# A quarter's ranking -----------------------------------------------------------------------------
@login_required
def quarter_view(request, year: int, quarter: int):
    officer(request)
    q = quarter_or_404(year, quarter)
    city = is_city(request.user)
    rows = services.ranking(q, live=city)
    items = services.ranking_items(q)
    own = services.county_of(request.user)
    return render(request, "evaluation/quarter.html", {
        "quarter": q, "rows": rows, "items": [{**i, "label": scoring.label(i)} for i in items], "is_city": city,
        "own_county": own, "flag_labels": FLAG_LABELS, "running": q.end >= timezone.localdate()})


@login_required
def ranking_xlsx(request, year: int, quarter: int):
    officer(request)
    q = quarter_or_404(year, quarter)
    rows = services.ranking(q, live=is_city(request.user))
    response = HttpResponse(exports.ranking_workbook(q, rows, services.ranking_items(q)), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="evaluation-{q.year}-q{q.number}.xlsx"'
    return response


# One county's sheet ------------------------------------------------------------------------------
def sheet_steps(request, county, q: Quarter, sheet: ScoreSheet | None) -> dict:
    """The step forms open to this user now: name -> (form class, service call, success message)."""
    user = request.user
    steps = {}
    published = sheet is not None and sheet.is_published
    if is_city(user) and not published:
        steps["manual"] = (forms.ManualScoreForm, lambda d: services.set_manual_score(
            user, county, q, d["item"], d["score"], d["reason"]), _("Score recorded."))
        if q.end < timezone.localdate():
            steps["publish"] = (forms.EmptyForm, lambda d: services.publish(user, county, q),
                                _("Sheet published: its figures are now frozen."))
    if published and services.may_object(user, sheet):
        steps["object"] = (forms.ObjectionForm, lambda d: services.file_objection(user, sheet, d["reason"]),
                           _("Objection filed."))
    objection = Objection.objects.filter(sheet=sheet).first() if published else None
    if objection is not None and objection.status == Objection.Status.PENDING and is_city(user):
        steps["answer"] = (forms.AnswerForm, lambda d: services.answer_objection(
            user, objection, decision=d["decision"], reason=d["reason"], item=d.get("item") or "",
            score=d.get("score")), _("Objection answered."))
    return steps


@login_required
def sheet_view(request, year: int, quarter: int, code: str):
    officer(request)
    q = quarter_or_404(year, quarter)
    county = get_object_or_404(services.evaluated_counties(), code=code)
    if not services.may_see_county(request.user, county):
        raise Http404
    sheet = services.sheet_for(county, q)
    steps = sheet_steps(request, county, q, sheet)
    bound = {}
    if request.method == "POST":
        if not steps:
            raise PermissionDenied
        name = request.POST.get("action", "")
        if name not in steps:
            messages.error(request, _("This step is not available now."))
            return redirect(request.path)
        form_class, call, success = steps[name]
        form = form_class(request.POST, prefix=name)
        if submit_on_form(request, form, call, success):
            return redirect(request.path)
        bound[name] = form
    step_forms = {name: bound.get(name) or cls(prefix=name) for name, (cls, _c, _m) in steps.items()}
    result = services.result_of(county, q, sheet)
    objection = Objection.objects.filter(sheet=sheet).select_related("filed_by", "answered_by").first() \
        if sheet else None
    events_q = Q(pk__in=[])
    if sheet is not None:
        events_q = Q(object_type="evaluation.scoresheet", object_id=str(sheet.pk))
        events_q |= Q(object_type="evaluation.manualscore", object_id__in=[
            str(pk) for pk in ManualScore.objects.filter(sheet=sheet).values_list("pk", flat=True)])
        if objection is not None:
            events_q |= Q(object_type="evaluation.objection", object_id=str(objection.pk))
    return render(request, "evaluation/sheet.html", {
        "county": county, "quarter": q, "sheet": sheet, "result": result, "items": present_items(result),
        "flags": present_flags(result), "forms": step_forms, "objection": objection,
        "objection_deadline": services.objection_deadline(sheet) if sheet else None,
        "published": sheet is not None and sheet.is_published,
        "events": AuditEvent.objects.filter(events_q).order_by("-seq")[:100]})


# Half-year notice and annual summary -------------------------------------------------------------
@login_required
def period_view(request, year: int, period: str):
    officer(request)
    if period not in services.PERIODS or not 2000 <= year <= timezone.localdate().year:
        raise Http404
    data = services.aggregate(year, period)
    for item in data["items"]:
        item["label"] = scoring.label(item)
    for row in data["rows"]:
        for key in ("best_item", "worst_item"):
            if getattr(row, key):
                getattr(row, key)["label"] = scoring.label(getattr(row, key))
    return render(request, "evaluation/period.html", {
        **data, "title": PERIOD_TITLES[period], "quarter_list": [Quarter(year, n) for n in data["quarters"]
                                                                 if Quarter(year, n).start <= timezone.localdate()],
        "flag_labels": FLAG_LABELS, "own_county": services.county_of(request.user)})


# Monthly statistics ------------------------------------------------------------------------------
@login_required
def statistics_view(request):
    officer(request)
    year = year_param(request)
    stats = monthly_statistics(year, services.visible_counties(request.user))
    years = list(range(timezone.localdate().year, timezone.localdate().year - 3, -1))
    return render(request, "evaluation/statistics.html", {"year": year, "stats": stats, "years": years})


@login_required
def statistics_xlsx(request):
    officer(request)
    year = year_param(request)
    stats = monthly_statistics(year, services.visible_counties(request.user))
    response = HttpResponse(exports.statistics_workbook(year, stats), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="evaluation-statistics-{year}.xlsx"'
    return response
