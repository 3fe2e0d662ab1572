"""Pages of the plan's KPIs (issue 9): every indicator with its live value against the plan's target, the key
county's figures, every goal and dated target of the plan with what measures it, and one indicator's page with
its definition, targets, monthly trend (an inline SVG drawn on the server: no JavaScript, works offline), the
mines holding it back and what was counted. Read-only; the city reads the city and any county, a county its own
figures only, nobody else any (kpis.readable_county)."""

import math
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import Region
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue

from . import kpis
from .models import TaskUnit

STATUS_LABELS = {
    kpis.MET: ("status status-producing", gettext_lazy("Met")),
    kpis.BEHIND: ("status status-suspended", gettext_lazy("Not met yet")),
    kpis.MISSED: ("badge red", gettext_lazy("Missed")),
    kpis.NO_DATA: ("status status-closed", gettext_lazy("No data")),
    kpis.NO_TARGET: ("status status-closed", gettext_lazy("No target")),
}


OPERATORS = {">=": "≥", "<=": "≤", "reduce_at_least": "≤"}


# Formatting --------------------------------------------------------------------------------------
def format_value(unit: str, value: float | None) -> str:
    if value is None:
        return "—"
    if unit == kpis.SHARE:
        return f"{value * 100:.1f}%"
    if unit == kpis.CHANGE:
        return f"{value * 100:+.1f}%"
    return f"{value:g}"


def format_target(unit: str, direction: str, value: float | None) -> str:
    if value is None:
        return "—"
    return ("≤ " if direction == kpis.DOWN else "≥ ") + format_value(unit, value)


def status_label(status: str) -> tuple[str, str]:
    css, text = STATUS_LABELS[status]
    return css, str(text)


def target_met_text(target: kpis.TargetValue) -> str:
    if target.met is True:
        return _("met")
    if target.met is False:
        return _("missed")
    return _("not due yet")


@dataclass
class Row:
    """A KPI as a page shows it."""

    kpi: kpis.KpiValue
    value: str
    target: str
    status_css: str
    status: str
    targets: list[dict] = field(default_factory=list)


def present(value: kpis.KpiValue) -> Row:
    css, text = status_label(value.status)
    targets = [{"target": t, "value": format_target(value.unit, value.direction, t.value),
                "then": format_value(value.unit, t.value_then), "met": target_met_text(t)} for t in value.targets]
    return Row(kpi=value, value=format_value(value.unit, value.value),
               target=format_target(value.unit, value.direction, value.target), status_css=css, status=text,
               targets=targets)


# The trend chart ---------------------------------------------------------------------------------
@dataclass
class Chart:
    width: int = 720
    height: int = 260
    left: int = 64
    right: int = 150
    top: int = 16
    bottom: int = 34
    lines: list[str] = field(default_factory=list)
    dots: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, month, value
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def _step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 5, 10) if raw <= f * power)


def trend_chart(value: kpis.KpiValue) -> Chart | None:
    """The monthly trend as SVG geometry, with the targets as dashed lines (the dated ones to their date)."""
    points = value.trend
    known = [v for _, v in points if v is not None]
    if not known:
        return None
    chart = Chart()
    targets = [t for t in value.targets if t.value is not None]
    span_values = known + [t.value for t in targets]
    if value.unit == kpis.SHARE:
        low, high = 0.0, max(1.0, max(span_values))
    elif value.unit == kpis.COUNT:
        low, high = 0.0, max(span_values) * 1.1 or 1.0
    else:
        low, high = min(span_values + [0.0]), max(span_values + [0.0])
        pad = (high - low) * 0.1 or 0.05
        low, high = low - pad, high + pad
    step = _step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    width = chart.plot_right - chart.left
    height = chart.plot_bottom - chart.top

    def x(index: int) -> float:
        return round(chart.left + (width * index / (len(points) - 1) if len(points) > 1 else width / 2), 1)

    def y(v: float) -> float:
        return round(chart.plot_bottom - (v - low) / (high - low) * height, 1)

    for index in range(round((high - low) / step) + 1):
        tick = low + index * step
        chart.y_ticks.append((y(tick), format_value(value.unit, tick) if value.unit != kpis.COUNT else f"{tick:g}"))
    run: list[str] = []
    for index, (month, v) in enumerate(points):
        if month.month in (1, 7) or len(points) <= 12:
            chart.x_ticks.append((x(index), f"{month:%Y-%m}"))
        if v is None:
            if run:
                chart.lines.append(" ".join(run))
            run = []
            continue
        run.append(f"{x(index)},{y(v)}")
        chart.dots.append((x(index), y(v), f"{month:%Y-%m}", format_value(value.unit, v)))
    if run:
        chart.lines.append(" ".join(run))
    months = [m for m, _ in points]
    for t in targets:
        end = chart.plot_right
        if t.date is not None:
            later = [i for i, m in enumerate(months) if m.year * 12 + m.month >= t.date.year * 12 + t.date.month]
            end = x(later[0]) if later else chart.plot_right
        label = format_target(value.unit, value.direction, t.value) + (f" {t.date:%Y-%m}" if t.date else "")
        chart.targets.append({"x1": chart.left, "x2": end, "y": y(t.value), "label": label,
                              "colour": "#2e7d32" if t.met else "#c62828" if t.met is False else "#ef6c00"})
    return chart


# Parameters --------------------------------------------------------------------------------------
def _parameters(request):
    """(county, as_of, errors) from the query string; bad input keeps today and the reader's default scope."""
    user = request.user
    errors: dict[str, str] = {}
    try:
        county = kpis.readable_county(user, request.GET.get("county", ""))
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
        county = kpis.readable_county(user, "")
    try:
        as_of = kpis.parse_as_of(request.GET.get("as_of", ""))
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
        as_of = timezone.localdate()
    return county, as_of, errors


def _counties(user) -> list[Region]:
    if not is_city(user):
        return []
    return list(Region.objects.exclude(kind=Region.Kind.CITY).order_by("code"))


# Every goal and dated target of the plan ----------------------------------------------------------
def plan_targets(values: list[kpis.KpiValue], user) -> list[dict]:
    """Each goal target and task target of the plan's catalogue with the KPI that measures it (its value, and
    on its date whether it was met), or else the responsible units' completion of the task's dated part."""
    plan = active_catalogue("action_plan")
    by_metric = {("goal" if "goal" in v.plan else "task", v.plan.get("goal") or v.plan.get("task"), v.plan["metric"]): v
                 for v in values if v.plan.get("metric")}
    # Tasks with a dated part: how many of the reader's visible units completed it.
    units = {row["task__number"]: row for row in TaskUnit.objects.visible_to(user).filter(
        task__deadline__isnull=False).values("task__number").annotate(
        total=Count("pk"), done=Count("pk", filter=Q(status=TaskUnit.Status.COMPLETED)))}
    rows = []
    entries = [("goal", g["number"], t) for g in plan.get("goals", [])
               for t in g.get("targets") or [{"metric": g.get("summary_en", ""), "qualitative": True}]]
    entries += [("task", t["task"], t) for t in plan.get("targets", [])]
    for kind, number, target in entries:
        due = target.get("by") or target.get("due")
        kpi = by_metric.get((kind, number, target.get("metric")))
        row = {"kind": kind, "number": number, "metric": target["metric"], "due": due,
               "when": target.get("recurrence") or target.get("trigger") or "", "plan_value": _plan_value(target),
               "kpi": None, "units": units.get(number) if kind == "task" else None,
               "qualitative": bool(target.get("qualitative"))}
        if kpi is not None:
            shown = present(kpi)
            dated = next((t for t in shown.targets if due and t["target"].date
                          and t["target"].date.isoformat() == str(due)), None)
            row["kpi"] = {"row": shown, "dated": dated}
        rows.append(row)
    return rows


def _plan_value(target: dict) -> str:
    if target.get("qualitative"):
        return "—"
    value = target.get("value", target.get("change"))
    if value is True:
        text = _("in place")
    elif value == "all":
        text = _("all")
    elif isinstance(value, float) and abs(value) <= 1 and "change" in target:
        text = f"{value * 100:+.0f}%"
    elif isinstance(value, float) and value <= 1:
        text = f"{value * 100:.0f}%"
    else:
        text = str(value)
    if target.get("of"):
        text += " / " + str(target["of"])
    if target.get("op"):
        text = f"{OPERATORS.get(target['op'], target['op'])} {text}"
    return text + (f" ({target['wording']})" if target.get("wording") else "")


# Views -------------------------------------------------------------------------------------------
@login_required
def kpi_list(request):
    user = request.user
    county, as_of, errors = _parameters(request)
    values = kpis.all_kpis(as_of, county, with_trend=False)
    key_code = kpis.key_county_code()
    key_region = Region.objects.filter(code=key_code).first()
    key_rows = None
    if key_region is not None and county is not None and county.pk == key_region.pk:
        key_rows = [present(v) for v in values]
    elif key_region is not None and is_city(user):
        key_rows = [present(v) for v in kpis.all_kpis(as_of, key_region, with_trend=False)]
    return render(request, "plan/kpis.html", {
        "rows": [present(v) for v in values], "county": county, "as_of": as_of, "errors": errors,
        "counties": _counties(user), "key_region": key_region, "key_rows": key_rows,
        "plan_targets": plan_targets(values, user), "today": timezone.localdate(),
    }, status=400 if errors else 200)


@login_required
def kpi_detail(request, code: str):
    county, as_of, errors = _parameters(request)
    if code not in kpis.definitions():
        raise Http404
    value = kpis.compute(code, as_of, county)
    return render(request, "plan/kpi.html", {
        "row": present(value), "kpi": value, "chart": trend_chart(value), "county": county, "as_of": as_of,
        "errors": errors, "counties": _counties(request.user), "today": timezone.localdate(),
        "trend": [(m, format_value(value.unit, v)) for m, v in value.trend],
    }, status=400 if errors else 200)
