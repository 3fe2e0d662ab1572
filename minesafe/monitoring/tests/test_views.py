"""Monitoring pages: the alarm board and its live part, 叫应回应 on the alarm page, gateways and sensors
on the mine page, rules and the chart on the sensor page, online rate, quarantine, exports. Every
change goes through the services (checked by their audit events and alarm events)."""

import csv
import datetime as dt
import io
import json
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from minesafe.core.models import AuditEvent
from minesafe.monitoring import charts, ingest, services
from minesafe.monitoring.forms import RespondForm
from minesafe.monitoring.models import Alarm, AlarmEvent, Gateway, QuarantinedMessage, Rule, Sensor


def push(token: str, readings: list[tuple[str, float, float]]) -> ingest.Outcome:
    """Telemetry through the real ingest path: (sensor code, seconds ago, value)."""
    now = time.time()
    body = {"readings": [{"sensor": code, "ts": now - ago, "value": value} for code, ago, value in readings]}
    return ingest.commit([ingest.decode("http", json.dumps(body), token=token)], quarantine=False)


def raise_level(sensor: Sensor, level: int, *, value: float = 30.0, at: dt.datetime | None = None) -> Alarm:
    """An alarm on the sensor's threshold rule at `level`, opened `at` (default now)."""
    rule = sensor.rules.get(kind=Rule.Kind.THRESHOLD)
    with transaction.atomic():
        return services.apply_level(f"r{rule.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk, rule_id=rule.pk,
                                    source=Alarm.Source.THRESHOLD, kind=sensor.kind, level=level, value=value,
                                    now=at)


@pytest.fixture
def alarms(monitored, personas):
    """A red CO alarm and an orange O2 alarm at mine A, a red CO alarm at mine B."""
    return {"red_a": raise_level(monitored.co, 4, value=30.0),
            "orange_a": raise_level(monitored.o2, 3, value=19.9),
            "red_b": raise_level(monitored.co_b, 4, value=40.0)}


def logged_in(client, user):
    client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


# Alarm board -------------------------------------------------------------------------------------------
def test_board_shows_the_open_alarms_of_the_users_mines_most_severe_first(client, personas, alarms):
    response = logged_in(client, personas.ent_a).get("/monitoring/")
    assert response.status_code == 200
    html = html_of(response)
    red, orange = f'data-alarm="{alarms["red_a"].pk}"', f'data-alarm="{alarms["orange_a"].pk}"'
    assert red in html and orange in html
    assert html.index(red) < html.index(orange)
    assert f'data-alarm="{alarms["red_b"].pk}"' not in html
    assert personas.mine_b.name not in html
    levels = {level: n for level, _label, n in response.context["levels"]}
    assert levels == {4: 1, 3: 1, 2: 0, 1: 0}
    assert 'data-url="/monitoring/live/"' in html  # the page polls its live part


def test_board_live_part_is_the_table_alone_and_keeps_the_filters(client, personas, alarms):
    response = logged_in(client, personas.city).get("/monitoring/live/?level=4")
    html = html_of(response)
    assert response.status_code == 200 and "<html" not in html
    assert response["Cache-Control"] == "no-store"
    assert f'data-alarm="{alarms["red_a"].pk}"' in html and f'data-alarm="{alarms["red_b"].pk}"' in html
    assert f'data-alarm="{alarms["orange_a"].pk}"' not in html


def test_board_shows_a_new_alarm_on_its_next_poll(client, monitored, personas):
    client = logged_in(client, personas.ent_a)
    assert "data-alarm=" not in html_of(client.get("/monitoring/live/"))
    outcome = push(monitored.token, [("CO-01", 60, 30.0), ("CO-01", 0, 31.0)])  # 60 s above red (24 ppm)
    assert outcome.stored == 2 and outcome.alarms_changed
    alarm = Alarm.objects.get(sensor=monitored.co, closed_at__isnull=True, source="threshold")
    html = html_of(client.get("/monitoring/live/"))
    assert f'data-alarm="{alarm.pk}"' in html and "lvl-4" in html


@pytest.mark.parametrize("query, expected", [
    ("county=130822", {"red_b"}),
    ("county=130827", {"red_a", "orange_a"}),
    ("level=3", {"orange_a"}),
    ("status=unacknowledged", {"red_a", "orange_a", "red_b"}),
    ("status=acknowledged", set()),
    ("mine=999999", set()),
])
def test_board_filters_by_county_level_status_and_mine_id(client, personas, alarms, query, expected):
    html = html_of(logged_in(client, personas.city).get(f"/monitoring/?{query}"))
    assert {name for name, a in alarms.items() if f'data-alarm="{a.pk}"' in html} == expected


def test_board_filter_by_mine_id_narrows_to_that_mine(client, personas, alarms):
    html = html_of(logged_in(client, personas.city).get(f"/monitoring/?mine={personas.mine_b.pk}"))
    assert f'data-alarm="{alarms["red_b"].pk}"' in html and f'data-alarm="{alarms["red_a"].pk}"' not in html


def test_the_pages_offer_their_filters_in_order_with_an_any_level_choice(client, personas, alarms):
    client = logged_in(client, personas.city)
    board = client.get("/monitoring/").context["filter"].form
    history = client.get("/monitoring/alarms/").context["filter"].form
    assert list(board.fields) == ["county", "mine", "level", "status"]
    assert list(history.fields) == ["county", "mine", "level", "status", "state", "opened_from", "opened_to"]
    for form in (board, history):
        assert '<option value="" selected>' in str(form["level"])  # an untouched form filters on no level
    html = html_of(client.get("/monitoring/?county=&mine=&level=&status="))  # the untouched form, submitted
    assert all(f'data-alarm="{a.pk}"' in html for a in alarms.values())


def test_board_highlights_a_missed_acknowledgement_deadline(client, monitored, personas):
    late = raise_level(monitored.co, 4, at=timezone.now() - dt.timedelta(hours=1))  # red: 5 minutes to 叫应
    fresh = raise_level(monitored.co_b, 4)
    html = html_of(logged_in(client, personas.city).get("/monitoring/live/"))
    rows = {pk: html[html.index(f'data-alarm="{pk}"'):].split("</tr>")[0] for pk in (late.pk, fresh.pk)}
    assert 'class="overdue"' in rows[late.pk]
    assert 'class="overdue"' not in rows[fresh.pk]


# Alarm page: 叫应, 回应, review ----------------------------------------------------------------------
def test_alarm_is_acknowledged_responded_and_accepted_through_the_page(client, personas, alarms):
    alarm = alarms["red_a"]
    url = f"/monitoring/alarms/{alarm.pk}/"
    client = logged_in(client, personas.ent_a)
    page = client.get(url)
    assert 'id="acknowledge-form"' in html_of(page) and 'id="review-form"' not in html_of(page)
    response = client.post(url, {"action": "acknowledge", "acknowledge-note": "值班员已收到"})
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged" and alarm.acknowledged_by == personas.ent_a
    assert alarm.events.filter(kind=AlarmEvent.Kind.ACKNOWLEDGED, actor=personas.ent_a, note="值班员已收到").exists()

    response = client.post(url, {"action": "respond", "respond-measures": "已撤出井下人员，加强通风",
                                 "respond-people_withdrawn": "yes", "respond-withdrawn_count": "12"})
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert alarm.status == "responded" and alarm.people_withdrawn is True and alarm.withdrawn_count == 12

    assert 'id="review-form"' not in html_of(client.get(url))  # the enterprise does not review itself
    assert client.post(url, {"action": "review", "review-accept": "1"}).status_code == 403

    county = logged_in(client, personas.county_a)
    assert 'id="review-form"' in html_of(county.get(url))
    assert county.post(url, {"action": "review", "review-accept": "1", "review-note": "措施得当"}).status_code == 302
    alarm.refresh_from_db()
    assert alarm.status == "accepted" and alarm.reviewed_by == personas.county_a
    assert list(alarm.events.values_list("kind", flat=True)) == ["opened", "acknowledged", "responded", "accepted"]


def test_a_response_the_service_refuses_is_shown_on_the_form_and_changes_nothing(client, personas, alarms):
    alarm = alarms["red_a"]
    services.acknowledge(personas.ent_a, alarm)
    url = f"/monitoring/alarms/{alarm.pk}/"
    response = logged_in(client, personas.ent_a).post(url, {"action": "respond", "respond-measures": "x"})
    assert response.status_code == 200
    form = response.context["forms"]["respond"]
    assert "measures" in form.errors and "people_withdrawn" in form.errors  # red: say whether people left
    assert 'id="respond-form"' in html_of(response) and "errorlist" in html_of(response)
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged" and alarm.responded_at is None

    response = client.post(url, {"action": "respond", "respond-measures": "已撤人并通风",
                                 "respond-people_withdrawn": "yes", "respond-withdrawn_count": ""})
    assert "withdrawn_count" in response.context["forms"]["respond"].errors
    assert Alarm.objects.get(pk=alarm.pk).status == "acknowledged"


def test_returning_a_response_needs_a_reason_on_the_form(client, personas, alarms):
    alarm = alarms["red_a"]
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="加强通风", people_withdrawn=False)
    url = f"/monitoring/alarms/{alarm.pk}/"
    client = logged_in(client, personas.city)
    response = client.post(url, {"action": "review", "review-accept": "0", "review-note": ""})
    assert response.status_code == 200 and "note" in response.context["forms"]["review"].errors
    assert Alarm.objects.get(pk=alarm.pk).status == "responded"
    returned = client.post(url, {"action": "review", "review-accept": "0", "review-note": "措施不具体，请补充"})
    assert returned.status_code == 302
    assert Alarm.objects.get(pk=alarm.pk).status == "acknowledged"


def test_acknowledging_twice_shows_the_refusal_on_the_form(client, personas, alarms):
    alarm = alarms["red_a"]
    services.acknowledge(personas.county_a, alarm)
    response = logged_in(client, personas.ent_a).post(f"/monitoring/alarms/{alarm.pk}/", {"action": "acknowledge"})
    assert response.status_code == 200
    assert response.context["forms"]["acknowledge"].non_field_errors()
    assert alarm.events.filter(kind="acknowledged").count() == 1


@pytest.mark.parametrize("persona", ["department", "county_b", "ent_b", "inspector"])
def test_who_may_not_answer_an_alarm_gets_no_form_and_cannot_post(client, personas, alarms, persona):
    alarm = alarms["red_a"]
    url = f"/monitoring/alarms/{alarm.pk}/"
    client = logged_in(client, getattr(personas, persona))
    page = client.get(url)
    if persona == "department":  # reads everything, answers nothing
        assert page.status_code == 200 and "forms" in page.context and not page.context["forms"]
        assert client.post(url, {"action": "acknowledge"}).status_code == 403
    else:
        assert page.status_code == 404
        assert client.post(url, {"action": "acknowledge"}).status_code == 404
    alarm.refresh_from_db()
    assert alarm.status == "unacknowledged" and not alarm.events.filter(kind="acknowledged").exists()


def test_alarm_page_shows_the_timeline(client, personas, alarms):
    alarm = alarms["red_a"]
    services.acknowledge(personas.ent_a, alarm, note="收到")
    html = html_of(logged_in(client, personas.city).get(f"/monitoring/alarms/{alarm.pk}/"))
    assert 'data-kind="opened"' in html and 'data-kind="acknowledged"' in html and "收到" in html


def test_the_withdrawal_answer_is_yes_no_or_unanswered():
    def answer(value):
        form = RespondForm({"measures": "加强通风", "people_withdrawn": value})
        assert form.is_valid(), form.errors
        return form.cleaned_data["people_withdrawn"]

    assert (answer("yes"), answer("no"), answer("")) == (True, False, None)


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_pages_do_not_query_per_alarm_or_sensor(client, personas, monitored):
    client = logged_in(client, personas.city)
    raise_level(monitored.co, 4)
    pages = ["/monitoring/", "/monitoring/live/", "/monitoring/alarms/", f"/monitoring/mines/{personas.mine_a.pk}/",
             "/", "/monitoring/quarantine/"]
    before = {url: queries_for(client, url) for url in pages}
    raise_level(monitored.o2, 3)
    extra = services.create_sensor(personas.city, personas.mine_a, code="NOX-01", name="氮氧化物", kind="nox",
                                   gateway=monitored.gateway)
    raise_level(extra, 2)
    raise_level(monitored.co_b, 4)
    assert {url: queries_for(client, url) for url in pages} == before


# Mine page: sensors, gateways, configuration ----------------------------------------------------------
def test_mine_page_lists_sensors_gateways_and_alarm_history(client, monitored, personas, alarms):
    push(monitored.token, [("CO-01", 0, 3.0)])
    response = logged_in(client, personas.ent_a).get(f"/monitoring/mines/{personas.mine_a.pk}/")
    html = html_of(response)
    assert response.status_code == 200
    assert "CO-01" in html and "O2-01" in html and "井下监控分站" in html and monitored.gateway.token_prefix in html
    assert monitored.token not in html  # the token itself never appears again
    assert f'data-alarm="{alarms["red_a"].pk}"' in html and f'data-alarm="{alarms["red_b"].pk}"' not in html
    co = next(s for s in response.context["sensors"] if s.pk == monitored.co.pk)
    o2 = next(s for s in response.context["sensors"] if s.pk == monitored.o2.pk)
    assert co.online is True and o2.online is False
    assert 'id="gateway-form"' in html and 'id="sensor-form"' in html


def test_a_new_gateways_token_is_shown_once(client, personas, monitored, django_capture_on_commit_callbacks):
    client = logged_in(client, personas.ent_a)
    url = f"/monitoring/mines/{personas.mine_a.pk}/"
    response = client.post(url, {"action": "gateway-create", "gateway-name": "二号分站"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = response.context["new_token"]["token"]
    gateway = Gateway.objects.get(mine=personas.mine_a, name="二号分站")
    assert token in html_of(response) and ingest.authenticate(token).id == gateway.pk
    assert AuditEvent.objects.filter(object_type="monitoring.gateway", object_id=str(gateway.pk)).exists()
    assert token not in html_of(client.get(url))

    with django_capture_on_commit_callbacks(execute=True):  # the request's commit drops the cached token
        rotated = client.post(url, {"action": "gateway-rotate", "gateway": gateway.pk})
    new_token = rotated.context["new_token"]["token"]
    assert new_token != token and new_token in html_of(rotated)
    assert ingest.authenticate(token) is None and ingest.authenticate(new_token).id == gateway.pk


def test_a_gateway_without_a_name_is_refused_on_the_form(client, personas, monitored):
    response = logged_in(client, personas.ent_a).post(f"/monitoring/mines/{personas.mine_a.pk}/",
                                                      {"action": "gateway-create", "gateway-name": "  "})
    assert response.status_code == 200 and response.context["gateway_form"].errors
    assert response.context["new_token"] is None
    assert Gateway.objects.filter(mine=personas.mine_a).count() == 1


def test_a_deactivated_gateway_is_refused_and_can_be_activated_again(client, personas, monitored,
                                                                    django_capture_on_commit_callbacks):
    client = logged_in(client, personas.county_a)
    url = f"/monitoring/mines/{personas.mine_a.pk}/"
    assert ingest.authenticate(monitored.token).id == monitored.gateway.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "gateway-deactivate", "gateway": monitored.gateway.pk}).status_code == 302
    assert ingest.authenticate(monitored.token) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "gateway-activate", "gateway": monitored.gateway.pk}).status_code == 302
    assert ingest.authenticate(monitored.token).id == monitored.gateway.pk
    # another mine's gateway is not this page's to touch
    assert client.post(url, {"action": "gateway-deactivate", "gateway": monitored.gateway_b.pk}).status_code == 404
    assert Gateway.objects.get(pk=monitored.gateway_b.pk).active


@pytest.mark.parametrize("gateway", ["abc", "1x", "", " ", "-1", "0", "1.0", "²", "99999999999999999999", None])
@pytest.mark.parametrize("action", ["gateway-rotate", "gateway-deactivate", "gateway-activate"])
def test_a_malformed_or_missing_gateway_id_is_not_found(client, personas, monitored, action, gateway):
    data = {"action": action} if gateway is None else {"action": action, "gateway": gateway}
    audited = AuditEvent.objects.count()
    response = logged_in(client, personas.ent_a).post(f"/monitoring/mines/{personas.mine_a.pk}/", data)
    assert response.status_code == 404
    assert Gateway.objects.get(pk=monitored.gateway.pk).active and AuditEvent.objects.count() == audited


def test_an_unknown_gateway_id_is_not_found(client, personas, monitored):
    unknown = Gateway.objects.order_by("-pk").first().pk + 1000
    response = logged_in(client, personas.ent_a).post(f"/monitoring/mines/{personas.mine_a.pk}/",
                                                      {"action": "gateway-rotate", "gateway": unknown})
    assert response.status_code == 404


def test_sensors_are_created_measured_and_derived_through_the_page(client, personas, monitored):
    client = logged_in(client, personas.ent_a)
    url = f"/monitoring/mines/{personas.pond_a.pk}/"
    response = client.post(url, {"action": "sensor-create", "sensor-code": "GT-01", "sensor-name": "干滩长度",
                                 "sensor-kind": "dry_beach", "sensor-gateway": monitored.pond_gateway.pk})
    sensor = Sensor.objects.get(mine=personas.pond_a, code="GT-01")
    assert response.status_code == 302 and response["Location"] == f"/monitoring/sensors/{sensor.pk}/"
    assert sensor.unit == "m" and sensor.interval_s == 600 and sensor.gateway == monitored.pond_gateway
    assert set(sensor.rules.values_list("kind", flat=True)) == {"threshold", "no_data"}  # the kind's defaults

    client.post(url, {"action": "sensor-create", "sensor-code": "AQCG-02", "sensor-kind": "freeboard",
                      "sensor-source": monitored.water.pk, "sensor-derive_offset": "120.5",
                      "sensor-derive_scale": "-1"})
    derived = Sensor.objects.get(mine=personas.pond_a, code="AQCG-02")
    assert derived.source == monitored.water and derived.derive_offset == 120.5 and derived.derive_scale == -1
    assert derived.gateway is None


def test_a_sensor_the_service_refuses_shows_why_on_the_form(client, personas, monitored):
    response = logged_in(client, personas.ent_a).post(
        f"/monitoring/mines/{personas.mine_a.pk}/",
        {"action": "sensor-create", "sensor-code": "CO-01", "sensor-kind": "co",
         "sensor-gateway": monitored.gateway.pk})
    assert response.status_code == 200
    assert "code" in response.context["sensor_form"].errors
    assert Sensor.objects.filter(mine=personas.mine_a, code="CO-01").count() == 1


def test_a_gateway_from_another_mine_is_not_offered_for_a_new_sensor(client, personas, monitored):
    response = logged_in(client, personas.city).post(
        f"/monitoring/mines/{personas.mine_a.pk}/",
        {"action": "sensor-create", "sensor-code": "CO-09", "sensor-kind": "co",
         "sensor-gateway": monitored.gateway_b.pk})
    assert "gateway" in response.context["sensor_form"].errors
    assert not Sensor.objects.filter(code="CO-09").exists()


def test_only_configurers_get_the_forms_and_others_cannot_post(client, personas, monitored):
    client = logged_in(client, personas.department)
    url = f"/monitoring/mines/{personas.mine_a.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and 'id="gateway-form"' not in html_of(page)
    assert client.post(url, {"action": "gateway-create", "gateway-name": "x"}).status_code == 403
    assert client.post(url, {"action": "gateway-deactivate", "gateway": monitored.gateway.pk}).status_code == 403
    assert Gateway.objects.filter(mine=personas.mine_a).count() == 1 and Gateway.objects.get(
        pk=monitored.gateway.pk).active
    client = logged_in(client, personas.ent_b)
    assert client.post(url, {"action": "gateway-create", "gateway-name": "x"}).status_code == 404


# Sensor page: chart, readings, rules -------------------------------------------------------------------
def test_sensor_page_draws_the_readings_and_the_thresholds(client, personas, monitored):
    push(monitored.token, [("CO-01", 3600 - 60 * i, 2.0 + i) for i in range(30)])
    response = logged_in(client, personas.ent_a).get(f"/monitoring/sensors/{monitored.co.pk}/")
    html = html_of(response)
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart.points == 30 and len(chart.lines) == 1 and len(chart.lines[0].split()) == 30
    assert [t.value for t in chart.thresholds] == [10, 16, 20, 24]  # blue, yellow, orange, red
    assert html.count('class="threshold"') == 4 and "<polyline" in html
    assert chart.y_ticks and chart.x_ticks
    ys = [float(p.split(",")[1]) for p in chart.lines[0].split()]
    assert ys == sorted(ys, reverse=True)  # rising values are drawn upwards


def test_the_chart_range_can_be_chosen(client, personas, monitored):
    push(monitored.token, [("CO-01", 3 * 86400, 5.0), ("CO-01", 60, 6.0)])
    client = logged_in(client, personas.ent_a)
    assert client.get(f"/monitoring/sensors/{monitored.co.pk}/").context["chart"].points == 1
    assert client.get(f"/monitoring/sensors/{monitored.co.pk}/?range=7d").context["chart"].points == 2
    assert client.get(f"/monitoring/sensors/{monitored.co.pk}/?range=bogus").context["range_key"] == "24h"


def test_readings_csv_holds_the_readings_of_the_range(client, personas, monitored):
    push(monitored.token, [("CO-01", 3 * 86400, 5.0), ("CO-01", 60, 6.5)])
    client = logged_in(client, personas.ent_a)

    def rows(url):
        response = client.get(url)
        assert response["Content-Type"].startswith("text/csv")
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    day = rows(f"/monitoring/sensors/{monitored.co.pk}/readings.csv")
    week = rows(f"/monitoring/sensors/{monitored.co.pk}/readings.csv?range=7d")
    assert day[0] == ["ts", "value (ppm)"] and [r[1] for r in day[1:]] == ["6.5"]
    assert [r[1] for r in week[1:]] == ["5.0", "6.5"]
    assert "+08:00" in week[1][0]
    assert logged_in(client, personas.ent_b).get(f"/monitoring/sensors/{monitored.co.pk}/readings.csv") \
        .status_code == 404


def test_a_rule_is_edited_through_the_service_and_audited(client, personas, monitored):
    rule = monitored.co.rules.get(kind="threshold")
    url = f"/monitoring/sensors/{monitored.co.pk}/"
    client = logged_in(client, personas.ent_a)
    form = client.get(url).context["rules"]
    assert any(f is not None for _r, f in form)
    p = f"rule-{rule.pk}-"
    data = {"action": "rule-update", "rule": rule.pk, p + "direction": "upper", p + "blue": "8", p + "yellow": "16",
            p + "orange": "20", p + "red": "24", p + "hysteresis": "1", p + "min_duration_s": "40", p + "active": "on",
            p + "note": "设计单位给定"}
    assert client.post(url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.blue == 8 and rule.note == "设计单位给定"
    change = AuditEvent.objects.filter(object_type="monitoring.rule", object_id=str(rule.pk), action="update").get()
    assert change.before["blue"] == 10 and change.after["blue"] == 8


def test_thresholds_out_of_order_are_refused_on_the_rules_form(client, personas, monitored):
    rule = monitored.co.rules.get(kind="threshold")
    p = f"rule-{rule.pk}-"
    response = logged_in(client, personas.ent_a).post(f"/monitoring/sensors/{monitored.co.pk}/", {
        "action": "rule-update", "rule": rule.pk, p + "direction": "upper", p + "blue": "10", p + "yellow": "16",
        p + "orange": "30", p + "red": "24", p + "hysteresis": "1", p + "min_duration_s": "40", p + "active": "on"})
    assert response.status_code == 200
    bound = next(f for r, f in response.context["rules"] if r.pk == rule.pk)
    assert "red" in bound.errors
    assert Rule.objects.get(pk=rule.pk).orange == 20


def test_a_rule_is_added_to_a_sensor(client, personas, monitored):
    url = f"/monitoring/sensors/{monitored.water.pk}/"
    client = logged_in(client, personas.county_a)
    response = client.post(url, {"action": "rule-create", "new-rule-kind": "threshold", "new-rule-direction": "upper",
                                 "new-rule-orange": "95.5", "new-rule-red": "97", "new-rule-active": "on"})
    assert response.status_code == 302
    rule = monitored.water.rules.get(kind="threshold")
    assert (rule.orange, rule.red, rule.yellow) == (95.5, 97, None)
    response = client.post(url, {"action": "rule-create", "new-rule-kind": "rate", "new-rule-direction": "upper",
                                 "new-rule-red": "1", "new-rule-active": "on"})
    assert "window_s" in response.context["create_form"].errors  # a rate rule needs a window
    assert not monitored.water.rules.filter(kind="rate").exists()


@pytest.mark.parametrize("rule_id", ["1x", "abc", "", "-3", "0", "1e3", "99999999999999999999", None])
def test_a_malformed_or_missing_rule_id_is_not_found(client, personas, monitored, rule_id):
    rule = monitored.co.rules.get(kind="threshold")
    p = f"rule-{rule.pk}-"
    data = {"action": "rule-update", p + "direction": "upper", p + "red": "99", p + "hysteresis": "0",
            p + "min_duration_s": "0"}
    if rule_id is not None:
        data["rule"] = rule_id
    response = logged_in(client, personas.ent_a).post(f"/monitoring/sensors/{monitored.co.pk}/", data)
    assert response.status_code == 404
    assert Rule.objects.get(pk=rule.pk).red == 24


def test_an_unknown_rule_id_is_not_found(client, personas, monitored):
    unknown = Rule.objects.order_by("-pk").first().pk + 1000
    response = logged_in(client, personas.ent_a).post(f"/monitoring/sensors/{monitored.co.pk}/",
                                                      {"action": "rule-update", "rule": unknown})
    assert response.status_code == 404


@pytest.mark.parametrize("url", [
    "/monitoring/?mine=abc&level=x&status=nope&county=zz",
    "/monitoring/live/?mine=1x&level=99",
    "/monitoring/?mine=99999999999999999999",
    "/monitoring/alarms/?mine=abc&opened_from=2024-13-45&opened_to=x&state=maybe&page=x",
    "/monitoring/alarms/export.csv?mine=-1&opened_from=yesterday",
    "/monitoring/alarms/export.xlsx?mine=1.5.5",
    "/monitoring/mines/?page=abc",
    "/monitoring/quarantine/?page=-1",
])
def test_malformed_filters_and_pages_are_ignored_not_a_server_error(client, personas, alarms, url):
    response = logged_in(client, personas.city).get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["alarms", "mines", "sensors"])
def test_an_id_beyond_the_primary_key_range_in_the_address_is_not_found(client, personas, path):
    assert logged_in(client, personas.city).get(f"/monitoring/{path}/99999999999999999999/").status_code == 404


def test_rules_cannot_be_changed_by_readers_or_through_another_sensor(client, personas, monitored):
    rule = monitored.co.rules.get(kind="threshold")
    p = f"rule-{rule.pk}-"
    data = {"action": "rule-update", "rule": rule.pk, p + "direction": "upper", p + "red": "99",
            p + "hysteresis": "0", p + "min_duration_s": "0"}
    assert logged_in(client, personas.department).post(f"/monitoring/sensors/{monitored.co.pk}/", data) \
        .status_code == 403
    assert logged_in(client, personas.ent_a).post(f"/monitoring/sensors/{monitored.o2.pk}/", data).status_code == 404
    assert Rule.objects.get(pk=rule.pk).red == 24


# Online rate, quarantine, exports, home ------------------------------------------------------------------
def test_online_page_counts_sensors_heard_within_their_window(client, personas, monitored):
    push(monitored.token, [("CO-01", 0, 3.0)])
    response = logged_in(client, personas.city).get("/monitoring/online/")
    rates = response.context["rates"]
    mine_a = next(r for r in rates["mines"] if r.key == personas.mine_a)
    assert (mine_a.sensors, mine_a.online, mine_a.required_mines, mine_a.connected_mines) == (2, 1, 1, 1)
    html = html_of(response)
    assert 'id="county-rates"' in html and "50.0%" in html
    county = logged_in(client, personas.county_b).get("/monitoring/online/")
    assert {r.key for r in county.context["rates"]["mines"]} == {personas.mine_b}
    assert 'id="county-rates"' not in html_of(county)


def test_online_export_holds_only_the_users_mines(client, personas, monitored):
    push(monitored.token, [("CO-01", 0, 3.0)])
    response = logged_in(client, personas.ent_a).get("/monitoring/online/export.xlsx")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["各矿山在线率"]
    rows = list(book.active.iter_rows(min_row=2, values_only=True))
    assert {r[1] for r in rows} == {personas.mine_a.name, personas.pond_a.name}
    row = next(r for r in rows if r[1] == personas.mine_a.name)
    assert row[3:6] == (2, 1, 50.0)
    city = load_workbook(io.BytesIO(logged_in(client, personas.city).get("/monitoring/online/export.xlsx").content))
    assert city.sheetnames == ["各县区在线率", "各矿山在线率"]


def test_alarm_exports_hold_the_visible_alarms_with_closed_ones_by_date(client, personas, monitored, alarms):
    old = raise_level(monitored.co, 0)  # red_a clears; accepted response closes it
    services.acknowledge(personas.ent_a, old)
    services.respond(personas.ent_a, old, measures="通风后恢复正常", people_withdrawn=False)
    services.review(personas.county_a, old, accept=True)
    old.refresh_from_db()
    assert old.closed_at is not None
    client = logged_in(client, personas.ent_a)
    book = load_workbook(io.BytesIO(client.get("/monitoring/alarms/export.xlsx").content))
    ids = {r[0] for r in book.active.iter_rows(min_row=2, values_only=True)}
    assert ids == {alarms["red_a"].pk, alarms["orange_a"].pk}
    open_only = load_workbook(io.BytesIO(client.get("/monitoring/alarms/export.xlsx?state=open").content))
    assert {r[0] for r in open_only.active.iter_rows(min_row=2, values_only=True)} == {alarms["orange_a"].pk}
    today = timezone.localdate()
    text = b"".join(client.get(f"/monitoring/alarms/export.csv?state=closed&opened_from={today}&opened_to={today}")
                    .streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "报警编号" and [int(r[0]) for r in rows[1:]] == [old.pk]
    assert "通风后恢复正常" in text and "否" in rows[1]
    yesterday = today - dt.timedelta(days=1)
    text = b"".join(client.get(f"/monitoring/alarms/export.csv?opened_to={yesterday}").streaming_content).decode()
    assert len(list(csv.reader(io.StringIO(text)))) == 1  # header only


def test_exports_neutralise_formula_like_text(client, personas, alarms):
    alarm = alarms["orange_a"]
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="=HYPERLINK(\"http://x\")", people_withdrawn=False)
    client = logged_in(client, personas.ent_a)
    book = load_workbook(io.BytesIO(client.get("/monitoring/alarms/export.xlsx").content))
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert "'=HYPERLINK(\"http://x\")" in cells
    text = b"".join(client.get("/monitoring/alarms/export.csv").streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_alarm_list_pages_through_open_and_closed_alarms(client, personas, alarms):
    response = logged_in(client, personas.county_b).get("/monitoring/alarms/")
    html = html_of(response)
    assert response.status_code == 200
    assert f'data-alarm="{alarms["red_b"].pk}"' in html and f'data-alarm="{alarms["red_a"].pk}"' not in html


def test_quarantine_page_shows_the_rejected_messages_of_the_users_mines(client, personas, monitored):
    for token in (monitored.token, monitored.token_b):
        body = {"token": token, "readings": [{"sensor": "NOPE", "ts": time.time(), "value": 1}]}
        message = ingest.decode("mqtt", json.dumps(body), topic="minesafe/x/telemetry")
        ingest.commit([message])
    ingest.commit([ingest.decode("mqtt", "not json", topic="minesafe/x/telemetry")])
    assert QuarantinedMessage.objects.count() == 3
    html = html_of(logged_in(client, personas.ent_a).get("/monitoring/quarantine/"))
    assert personas.mine_a.name in html and personas.mine_b.name not in html
    assert "NOPE" in html and "not valid JSON" not in html
    assert monitored.token not in html  # payloads (MQTT bodies carry the token) are not shown
    city = html_of(logged_in(client, personas.city).get("/monitoring/quarantine/"))
    assert personas.mine_b.name in city and city.count("data-quarantine=") == 3


def test_home_shows_open_alarms_and_the_online_rate(client, personas, monitored, alarms):
    push(monitored.token, [("CO-01", 0, 30.0)])
    response = logged_in(client, personas.ent_a).get("/")
    html = html_of(response)
    summary = response.context["monitoring"]
    assert summary.open_total == 2 and {lvl: n for lvl, _l, n in summary.levels}[4] == 1
    assert summary.rates["city"].sensors == 3  # CO and O2 at mine A, the pond's water level
    assert 'id="monitoring-panel"' in html and f'data-alarm="{alarms["red_a"].pk}"' in html
    assert f'data-alarm="{alarms["red_b"].pk}"' not in html
    assert 'href="/monitoring/"' in html  # the navigation entry


# The chart's geometry --------------------------------------------------------------------------------
def test_chart_breaks_the_line_where_the_sensor_was_silent():
    since = timezone.now() - dt.timedelta(hours=1)
    series = [(since + dt.timedelta(minutes=m), float(m)) for m in (1, 2, 3, 30, 31, 50)]
    chart = charts.build(series, since, since + dt.timedelta(hours=1), [(4, "red", 40.0)], gap_s=300)
    assert len(chart.lines) == 2 and len(chart.dots) == 1
    assert chart.thresholds[0].colour == charts.LEVEL_COLOURS[4]
    assert chart.y_ticks[0].pos > chart.y_ticks[-1].pos  # values grow upwards


def test_chart_ticks_fall_on_round_local_times():
    until = timezone.make_aware(dt.datetime(2026, 3, 10, 14, 37))
    ticks = charts.time_ticks(until - dt.timedelta(hours=24), until)
    assert all(timezone.localtime(t).minute == 0 and timezone.localtime(t).hour % 4 == 0 for t in ticks)
    week = charts.time_ticks(until - dt.timedelta(days=7), until)
    assert all(timezone.localtime(t).hour == 0 for t in week) and len(week) == 7
    assert charts.nice_step(7.3) in (1, 2) and charts.nice_step(0.37) == 0.1
