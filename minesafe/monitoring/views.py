"""Monitoring pages: the alarm board, alarm handling (叫应回应), mines' sensors and gateways, sensor charts,
online rate, quarantine. Scoped through visible_to (404 outside scope); every change through services."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.scoping import is_city
from minesafe.core.webutil import attempt, query_without_page, submit_on_form
from minesafe.registry.api import xlsx_response
from minesafe.registry.models import Mine

from . import charts, exports, queries, services
from .forms import (
    RANGES,
    AcknowledgeForm,
    AlarmListFilterSet,
    BoardFilterSet,
    GatewayForm,
    RespondForm,
    ReviewForm,
    RuleCreateForm,
    RuleForm,
    SensorForm,
    chosen_range,
)
from .integrity import evidence_view
from .models import Alarm, Gateway, Level, QuarantinedMessage, Rule, Sensor

BOARD_LIMIT = 300
POLL_SECONDS = 5
MAX_ID = 2**63 - 1  # a bigint primary key


def posted_id(request, name: str) -> int:
    """The id of an object a form post names: anything but a whole number in a primary key's range is
    "no such object" (404), as an unknown id is, never a server error."""
    value = request.POST.get(name, "")
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
        raise Http404
    return int(value)


# Alarm board ---------------------------------------------------------------------------------------
def board_context(request) -> dict:
    filterset = BoardFilterSet(request.GET, queryset=queries.open_alarms(request.user))
    alarms = filterset.qs
    now = timezone.now()
    return {"filter": filterset, "alarms": queries.with_deadlines(alarms[:BOARD_LIMIT], now),
            "total": alarms.count(), "limit": BOARD_LIMIT, "levels": queries.level_counts(alarms),
            "now": now, "query": request.GET.urlencode(), "poll_seconds": POLL_SECONDS}


@login_required
def board(request):
    return render(request, "monitoring/board.html", board_context(request))


@login_required
def board_live(request):
    """The board's live part (counts and table), fetched every few seconds by the board page."""
    response = render(request, "monitoring/_board.html", board_context(request))
    response["Cache-Control"] = "no-store"
    return response


# Alarm list and exports ------------------------------------------------------------------------------
def filtered_alarms(request):
    filterset = AlarmListFilterSet(request.GET, queryset=queries.scoped_alarms(request.user))
    return filterset, filterset.qs.order_by("-opened_at", "-pk")


@login_required
def alarm_list(request):
    filterset, alarms = filtered_alarms(request)
    page = Paginator(alarms, 50).get_page(request.GET.get("page"))
    page.object_list = queries.with_deadlines(page.object_list)
    return render(request, "monitoring/alarm_list.html", {"filter": filterset, "page": page,
                                                          "query": query_without_page(request)})


@login_required
def alarm_export_xlsx(request):
    _filterset, alarms = filtered_alarms(request)
    return xlsx_response(exports.alarms_workbook(alarms), "alarms.xlsx")


@login_required
def alarm_export_csv(request):
    _filterset, alarms = filtered_alarms(request)
    return exports.alarms_csv(alarms)


# One alarm: facts, timeline, 叫应 / 回应 / review ------------------------------------------------------
ALARM_ACTIONS = {
    "acknowledge": (AcknowledgeForm, Alarm.Status.UNACKNOWLEDGED,
                    lambda user, alarm, d: services.acknowledge(user, alarm, note=d["note"]),
                    gettext_lazy("Alarm acknowledged (叫应).")),
    "respond": (RespondForm, Alarm.Status.ACKNOWLEDGED,
                lambda user, alarm, d: services.respond(user, alarm, measures=d["measures"],
                                                        people_withdrawn=d["people_withdrawn"],
                                                        withdrawn_count=d["withdrawn_count"]),
                gettext_lazy("Response recorded (回应).")),
    "review": (ReviewForm, Alarm.Status.RESPONDED,
               lambda user, alarm, d: services.review(user, alarm, accept=d["accept"], note=d["note"]),
               gettext_lazy("Review recorded.")),
}


@login_required
def alarm_detail(request, pk: int):
    alarm = get_object_or_404(queries.scoped_alarms(request.user).select_related(
        "mine__enterprise", "acknowledged_by", "responded_by", "reviewed_by"), pk=pk)
    user = request.user
    tier = services.acting_tier(user, alarm)
    allowed = {"acknowledge", "respond"} if tier else set()
    if services.may_review(user, alarm):
        allowed.add("review")
    action = request.POST.get("action") if request.method == "POST" else None
    if request.method == "POST" and action not in allowed:
        raise PermissionDenied
    forms = {}
    for name, (form_class, status, _run, _success) in ALARM_ACTIONS.items():
        if name == action:
            forms[name] = form_class(request.POST, prefix=name)
        elif name in allowed and alarm.is_open and alarm.status == status:
            forms[name] = form_class(prefix=name)
    if action:
        form_class, status, run, success = ALARM_ACTIONS[action]
        if submit_on_form(request, forms[action], lambda data: run(user, alarm, data), success):
            return redirect("monitoring:alarm", pk=alarm.pk)
    return render(request, "monitoring/alarm_detail.html", {
        "alarm": alarm, "deadline": queries.deadline(alarm, timezone.now()), "tier": tier, "forms": forms,
        "events": alarm.events.select_related("actor"), "evidence": evidence_view(alarm),
    })


# Mines: sensors, gateways, alarm history, configuration ---------------------------------------------
@login_required
def mine_index(request):
    page = Paginator(queries.mines_with_counts(request.user), 100).get_page(request.GET.get("page"))
    return render(request, "monitoring/mine_index.html", {"page": page, "query": ""})


def _gateway(mine: Mine, request) -> Gateway:
    return get_object_or_404(Gateway, pk=posted_id(request, "gateway"), mine=mine)


@login_required
def mine_monitoring(request, pk: int):
    mine = get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"), pk=pk)
    user = request.user
    can_configure = services.may_configure(user, mine)
    gateway_form = GatewayForm(prefix="gateway") if can_configure else None
    sensor_form = SensorForm(prefix="sensor", mine=mine) if can_configure else None
    new_token = None
    if request.method == "POST":
        if not can_configure:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "gateway-create":
            gateway_form = GatewayForm(request.POST, prefix="gateway")
            made = submit_on_form(request, gateway_form, lambda d: services.create_gateway(user, mine, d["name"]),
                           _("Gateway created. Copy its token now: it is shown only once."))
            if made:
                gateway, token = made
                new_token = {"gateway": gateway, "token": token}
                gateway_form = GatewayForm(prefix="gateway")
        elif action == "gateway-rotate":
            gateway = _gateway(mine, request)
            token = attempt(request, lambda: services.rotate_token(user, gateway),
                            _("New token issued; the old one no longer works. Copy it now: it is shown only once."))
            if token:
                new_token = {"gateway": Gateway.objects.get(pk=gateway.pk), "token": token}
        elif action in ("gateway-deactivate", "gateway-activate"):
            gateway = _gateway(mine, request)
            active = action == "gateway-activate"
            attempt(request, lambda: services.set_gateway_active(user, gateway, active),
                    _("Gateway activated.") if active else _("Gateway deactivated: its token is refused."))
            return redirect("monitoring:mine", pk=mine.pk)
        elif action == "sensor-create":
            sensor_form = SensorForm(request.POST, prefix="sensor", mine=mine)
            sensor = submit_on_form(request, sensor_form,
                             lambda d: services.create_sensor(user, mine, **sensor_form.service_fields()),
                             _("Sensor created with its kind's default rules."))
            if sensor:
                return redirect("monitoring:sensor", pk=sensor.pk)
        else:
            raise PermissionDenied
    alarms = Alarm.objects.filter(mine=mine).select_related("mine__county", "sensor").order_by("-opened_at", "-pk")
    page = Paginator(alarms, 25).get_page(request.GET.get("page"))
    page.object_list = queries.with_deadlines(page.object_list)
    intervals = services.catalogue()["defaults"]["no_data_intervals"]
    now = timezone.now()
    sensors = list(mine.sensors.select_related("gateway", "source").order_by("kind", "code"))
    kinds = dict(services.kind_choices())
    for sensor in sensors:
        sensor.kind_label = kinds.get(sensor.kind, sensor.kind)
        sensor.online = services.is_online(sensor, now, intervals) if not sensor.source_id else None
    response = render(request, "monitoring/mine.html", {
        "mine": mine, "sensors": sensors,
        "gateways": mine.gateways.annotate(sensor_count=Count("sensors")).order_by("name"),
        "page": page, "query": "", "can_configure": can_configure, "gateway_form": gateway_form,
        "sensor_form": sensor_form, "new_token": new_token,
    })
    if new_token:
        response["Cache-Control"] = "no-store"
    return response


# One sensor: rules, chart, readings ------------------------------------------------------------------
@login_required
def sensor_detail(request, pk: int):
    from . import forecast_view  # the failure-time forecast panel (displacement kinds only)

    sensor = get_object_or_404(Sensor.objects.visible_to(request.user).select_related(
        "mine__county", "mine__enterprise", "gateway", "source"), pk=pk)
    user = request.user
    can_configure = services.may_configure(user, sensor.mine)
    rules = list(sensor.rules.order_by("kind", "pk"))
    rule_forms = {r.pk: RuleForm(instance=r, prefix=f"rule-{r.pk}") for r in rules} if can_configure else {}
    create_form = RuleCreateForm(prefix="new-rule") if can_configure else None
    if request.method == "POST":
        if not can_configure:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "rule-update":
            rule = get_object_or_404(Rule, pk=posted_id(request, "rule"), sensor=sensor)
            form = RuleForm(request.POST, instance=Rule.objects.get(pk=rule.pk), prefix=f"rule-{rule.pk}")
            rule_forms[rule.pk] = form
            if submit_on_form(request, form, lambda d: services.update_rule(user, rule, form.changes()),
                       _("Rule saved.")):
                return redirect("monitoring:sensor", pk=sensor.pk)
        elif action == "rule-create":
            create_form = RuleCreateForm(request.POST, prefix="new-rule")
            if submit_on_form(request, create_form,
                       lambda d: services.create_rule(user, sensor, **create_form.create_fields()), _("Rule added.")):
                return redirect("monitoring:sensor", pk=sensor.pk)
        else:
            raise PermissionDenied
    range_key = chosen_range(request.GET.get("range"))
    until = timezone.now()
    since = until - RANGES[range_key][0]
    series = services.sensor_series(sensor, since, until)
    thresholds = [(lvl, Level(lvl).label, value) for r in rules if r.kind == Rule.Kind.THRESHOLD and r.active
                  for lvl, value in r.thresholds()]
    chart = charts.build(series, since, until, thresholds,
                         gap_s=max(3 * sensor.interval_s, 2.5 * (until - since).total_seconds() / 300))
    return render(request, "monitoring/sensor.html", {
        "sensor": sensor, "mine": sensor.mine, "rules": [(r, rule_forms.get(r.pk)) for r in rules],
        "create_form": create_form, "can_configure": can_configure, "chart": chart, "range_key": range_key,
        "ranges": [(key, label) for key, (_delta, label) in RANGES.items()], "since": since, "until": until,
        "alarms": queries.with_deadlines(sensor.alarms.order_by("-opened_at", "-pk")[:20]),
        "kind_label": dict(services.kind_choices()).get(sensor.kind, sensor.kind),
        "forecast": forecast_view.sensor_forecast(sensor, until),
    })


@login_required
def sensor_readings_csv(request, pk: int):
    sensor = get_object_or_404(Sensor.objects.visible_to(request.user), pk=pk)
    range_key = chosen_range(request.GET.get("range"))
    until = timezone.now()
    since = until - RANGES[range_key][0]
    return exports.readings_csv(sensor, since, until, f"readings-{sensor.pk}-{range_key}.csv")


# Online rate and quarantine ----------------------------------------------------------------------------
def shows_counties(user) -> bool:
    return is_city(user) or user.role == user.Role.DEPARTMENT


@login_required
def online(request):
    rates = services.online_rates(Mine.objects.visible_to(request.user))
    return render(request, "monitoring/online.html", {"rates": rates, "counties": shows_counties(request.user)})


@login_required
def online_export(request):
    rates = services.online_rates(Mine.objects.visible_to(request.user))
    return xlsx_response(exports.online_workbook(rates, counties=shows_counties(request.user)), "online-rate.xlsx")


@login_required
def quarantine(request):
    messages_qs = QuarantinedMessage.objects.visible_to(request.user).select_related("mine", "gateway")
    page = Paginator(messages_qs.order_by("-received_at", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "monitoring/quarantine.html", {"page": page, "query": ""})
