"""REST API for monitoring at /api/v1/: gateways (token shown once), sensors and their readings, rules,
alarms with 叫应回应, alarm events, quarantine, online rate; bad input, wrong state, permissions."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from minesafe.core.audit import history
from minesafe.monitoring import api as monitoring_api
from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Alarm, AlarmEvent, Gateway, Level, QuarantinedMessage, Rule, Sensor
from minesafe.registry.excel import XLSX_CONTENT_TYPE

TELEMETRY = "/api/v1/telemetry"


def api(user=None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def push(token: str, *rows: tuple[str, float, float]):
    """POST telemetry with a gateway token: rows of (sensor code, value, seconds ago)."""
    now = timezone.now()
    body = {"readings": [{"sensor": code, "value": value, "ts": (now - dt.timedelta(seconds=ago)).isoformat()}
                         for code, value, ago in rows]}
    return APIClient().post(TELEMETRY, data=json.dumps(body), content_type="application/json",
                            HTTP_AUTHORIZATION=f"Bearer {token}")


def open_alarm(sensor: Sensor, level: int = Level.RED, now: dt.datetime | None = None) -> Alarm:
    rule = sensor.rules.exclude(kind=Rule.Kind.NO_DATA).first() or sensor.rules.first()
    with transaction.atomic():
        return services.apply_level(f"r{rule.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk, rule_id=rule.pk,
                                    source=Alarm.Source.THRESHOLD, kind=sensor.kind, level=level, value=30.0,
                                    now=now)


def fields_of(response) -> set:
    assert response.status_code == 400, response.content
    return set(response.json())


# Gateways --------------------------------------------------------------------------------------------
def test_a_new_gateways_token_is_shown_once_and_works_for_telemetry(personas, monitored):
    client = api(personas.ent_a)
    response = client.post("/api/v1/gateways/", {"mine": personas.pond_a.pk, "name": "库区分站"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith("gw_") and body["token_prefix"] == token[:10] and body["active"] is True
    assert response["Cache-Control"] == "no-store"
    gateway = Gateway.objects.get(pk=body["id"])
    assert gateway.token_hash == ingest.token_hash(token) and token not in gateway.token_hash
    for later in (client.get(f"/api/v1/gateways/{gateway.pk}/"), client.get("/api/v1/gateways/")):
        assert later.status_code == 200
        text = later.content.decode()
        assert token not in text and gateway.token_hash not in text and '"token"' not in text
    assert "token_prefix" in client.get(f"/api/v1/gateways/{gateway.pk}/").json()
    services.create_sensor(personas.ent_a, personas.pond_a, code="GT-01", name="干滩", kind="dry_beach",
                           gateway=gateway)
    assert push(token, ("GT-01", 80.0, 60)).status_code == 200


def test_creating_a_gateway_needs_a_visible_mine_and_a_name(personas, monitored):
    before = Gateway.objects.count()
    assert fields_of(api(personas.city).post("/api/v1/gateways/", {"mine": personas.mine_a.pk}, format="json")) \
        == {"name"}
    assert fields_of(api(personas.city).post("/api/v1/gateways/", {"mine": personas.mine_a.pk, "name": "   "},
                                             format="json")) == {"name"}
    assert fields_of(api(personas.ent_b).post("/api/v1/gateways/", {"mine": personas.mine_a.pk, "name": "x"},
                                              format="json")) == {"mine"}
    assert fields_of(api(personas.city).post("/api/v1/gateways/", {"mine": "abc", "name": "x"}, format="json")) \
        == {"mine"}
    assert Gateway.objects.count() == before


def test_rotating_the_token_shows_the_new_one_once_and_the_old_one_stops_working(
        personas, monitored, django_capture_on_commit_callbacks):
    m = monitored
    assert push(m.token, ("CO-01", 1.0, 120)).status_code == 200
    client = api(personas.county_a)
    with django_capture_on_commit_callbacks(execute=True):  # the token cache is dropped after the commit
        response = client.post(f"/api/v1/gateways/{m.gateway.pk}/rotate/")
    assert response.status_code == 200, response.content
    new = response.json()["token"]
    assert new != m.token and response.json()["token_prefix"] == new[:10]
    assert response["Cache-Control"] == "no-store"
    assert push(m.token, ("CO-01", 1.0, 60)).status_code == 401
    assert push(new, ("CO-01", 1.0, 60)).status_code == 200
    assert new not in client.get(f"/api/v1/gateways/{m.gateway.pk}/").content.decode()
    assert history(Gateway.objects.get(pk=m.gateway.pk)).filter(action="update").exists()


def test_a_deactivated_gateway_is_refused_until_activated(personas, monitored, django_capture_on_commit_callbacks):
    m = monitored
    client = api(personas.ent_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/gateways/{m.gateway.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["active"] is False
    assert "token" not in response.json()
    assert push(m.token, ("CO-01", 1.0, 60)).status_code == 401
    assert api(personas.ent_a).get("/api/v1/gateways/?active=false").json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/gateways/{m.gateway.pk}/activate/")
    assert response.status_code == 200 and response.json()["active"] is True
    assert push(m.token, ("CO-01", 1.0, 60)).status_code == 200


@pytest.mark.parametrize(("persona", "expected"), [("department", 403), ("inspector", 404), ("ent_b", 404),
                                                   ("county_b", 404), ("anonymous", 403)])
def test_gateway_actions_are_refused_to_those_who_may_not_configure_the_mine(personas, monitored, persona,
                                                                             expected):
    m = monitored
    client = api(None if persona == "anonymous" else getattr(personas, persona))
    for verb in ("rotate", "deactivate"):
        assert client.post(f"/api/v1/gateways/{m.gateway.pk}/{verb}/").status_code == expected
    gateway = Gateway.objects.get(pk=m.gateway.pk)
    assert gateway.active and gateway.token_hash == ingest.token_hash(m.token)


def test_a_read_only_role_cannot_create_a_gateway_on_a_visible_mine(personas, monitored):
    before = Gateway.objects.count()
    response = api(personas.department).post("/api/v1/gateways/", {"mine": personas.mine_a.pk, "name": "x"},
                                             format="json")
    assert response.status_code == 403
    response = api(personas.inspector).post("/api/v1/gateways/", {"mine": personas.mine_a2.pk, "name": "x"},
                                            format="json")
    assert response.status_code == 403
    assert Gateway.objects.count() == before


# Sensors -----------------------------------------------------------------------------------------------
def test_a_sensor_gets_its_kinds_unit_interval_and_default_rules(personas, monitored):
    response = api(personas.ent_a).post("/api/v1/sensors/", {
        "mine": personas.mine_a.pk, "code": "CO-02", "name": "一氧化碳 -400", "kind": "co",
        "gateway": monitored.gateway.pk, "location": "-400 中段"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    spec = services.catalogue()["kinds"]["co"]
    assert body["unit"] == spec["unit"] and body["interval_s"] == spec["interval_s"]
    assert body["mine"] == personas.mine_a.pk and body["gateway"] == monitored.gateway.pk
    kinds = set(Rule.objects.filter(sensor_id=body["id"]).values_list("kind", flat=True))
    assert Rule.Kind.NO_DATA in kinds and Rule.Kind.THRESHOLD in kinds
    bare = api(personas.ent_a).post("/api/v1/sensors/", {
        "mine": personas.mine_a.pk, "code": "CO-03", "kind": "co", "default_rules": False}, format="json")
    assert bare.status_code == 201 and bare.json()["name"] == "CO-03"
    assert not Rule.objects.filter(sensor_id=bare.json()["id"]).exists()


def test_bad_sensor_input_is_400_on_the_field(personas, monitored):
    m = monitored
    client = api(personas.city)
    before = Sensor.objects.count()

    def create(**fields):
        return client.post("/api/v1/sensors/", {"mine": personas.mine_a.pk, "code": "NEW-1", "kind": "co",
                                                **fields}, format="json")

    assert fields_of(create(kind="unobtainium")) == {"kind"}
    assert fields_of(create(code="CO-01")) == {"code"}
    assert fields_of(create(gateway=m.pond_gateway.pk)) == {"gateway"}
    assert fields_of(create(interval_s=0)) == {"interval_s"}
    assert fields_of(create(source=m.freeboard.pk)) == {"source"}  # derived from a derived sensor
    assert fields_of(create(latitude="north")) == {"latitude"}
    assert fields_of(client.post("/api/v1/sensors/", {"mine": personas.mine_a.pk}, format="json")) \
        == {"code", "kind"}
    # A gateway the caller cannot see "does not exist".
    assert fields_of(api(personas.ent_a).post("/api/v1/sensors/", {
        "mine": personas.mine_a.pk, "code": "NEW-1", "kind": "co", "gateway": m.gateway_b.pk},
        format="json")) == {"gateway"}
    assert Sensor.objects.count() == before


def test_changing_a_sensor_is_audited_and_checked(personas, monitored):
    m = monitored
    client = api(personas.county_a)
    response = client.patch(f"/api/v1/sensors/{m.co.pk}/", {"location": "-350 中段 3 号穿脉", "active": False},
                            format="json")
    assert response.status_code == 200, response.content
    assert response.json()["location"] == "-350 中段 3 号穿脉" and response.json()["active"] is False
    change = history(Sensor.objects.get(pk=m.co.pk)).filter(action="update").first()
    assert change.after == {"location": "-350 中段 3 号穿脉", "active": False}
    assert fields_of(client.patch(f"/api/v1/sensors/{m.co.pk}/", {"code": "O2-01"}, format="json")) == {"code"}
    assert fields_of(client.patch(f"/api/v1/sensors/{m.co.pk}/", {"interval_s": -5}, format="json")) \
        == {"interval_s"}
    assert api(personas.department).patch(f"/api/v1/sensors/{m.co.pk}/", {"name": "x"},
                                          format="json").status_code == 403
    assert api(personas.ent_b).patch(f"/api/v1/sensors/{m.co.pk}/", {"name": "x"}, format="json").status_code == 404
    assert api(personas.city).put(f"/api/v1/sensors/{m.co.pk}/", {"name": "x"}, format="json").status_code == 405
    assert Sensor.objects.get(pk=m.co.pk).code == "CO-01"


def test_sensor_list_filters(personas, monitored):
    m = monitored
    client = api(personas.city)

    def ids(query):
        response = client.get(f"/api/v1/sensors/?{query}&limit=500")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"mine={personas.mine_a.pk}") == {m.co.pk, m.o2.pk}
    assert ids("kind=co") == {m.co.pk, m.co_b.pk}
    services.update_sensor(personas.city, m.o2, {"active": False})
    assert ids("active=false") == {m.o2.pk}
    services.check_silence(now=timezone.now() + dt.timedelta(days=1))  # every active measured sensor
    assert push(m.token, ("CO-01", 5.0, 30)).status_code == 200  # CO reports again
    assert ids("silent=false") == {m.co.pk, m.o2.pk, m.freeboard.pk}
    assert m.water.pk in ids("silent=true")
    open_alarm(m.co, Level.ORANGE)
    assert ids("level=0") >= {m.o2.pk}
    assert client.get("/api/v1/sensors/?level=9").status_code == 400
    assert client.get("/api/v1/sensors/?mine=abc").status_code == 400


# Readings ----------------------------------------------------------------------------------------------
def test_readings_are_returned_oldest_first_within_the_range(personas, monitored):
    m = monitored
    assert push(m.token, ("CO-01", 1.0, 300), ("CO-01", 2.0, 200), ("CO-01", 3.0, 100)).status_code == 200
    client = api(personas.ent_a)
    response = client.get(f"/api/v1/sensors/{m.co.pk}/readings/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["value"] for r in body["readings"]] == [1.0, 2.0, 3.0]
    assert body["count"] == 3 and body["truncated"] is False and body["next"] is None
    assert body["limit"] == monitoring_api.READINGS_LIMIT and body["unit"] == "ppm"
    stamps = [dt.datetime.fromisoformat(r["ts"]) for r in body["readings"]]
    until = stamps[1] + dt.timedelta(seconds=1)
    response = client.get(f"/api/v1/sensors/{m.co.pk}/readings/",
                          {"since": stamps[1].isoformat(), "until": until.isoformat()})
    assert [r["value"] for r in response.json()["readings"]] == [2.0]
    # The default range is the last 24 hours.
    response = client.get(f"/api/v1/sensors/{m.co.pk}/readings/",
                          {"until": (timezone.now() - dt.timedelta(days=2)).isoformat()})
    assert response.json()["readings"] == []


def test_readings_are_capped_and_say_where_to_continue(personas, monitored, monkeypatch):
    m = monitored
    monkeypatch.setattr(monitoring_api, "READINGS_LIMIT", 2)
    assert push(m.token, *[("CO-01", float(i), 500 - 60 * i) for i in range(5)]).status_code == 200
    client = api(personas.city)
    first = client.get(f"/api/v1/sensors/{m.co.pk}/readings/").json()
    assert [r["value"] for r in first["readings"]] == [0.0, 1.0]
    assert first["truncated"] is True and first["count"] == 2 and first["limit"] == 2
    rest = client.get(f"/api/v1/sensors/{m.co.pk}/readings/", {"since": first["next"]}).json()
    assert [r["value"] for r in rest["readings"]] == [2.0, 3.0] and rest["truncated"] is True
    csv_answer = client.get(f"/api/v1/sensors/{m.co.pk}/readings/", {"format": "csv"})
    assert csv_answer["X-Readings-Truncated"] == "true"
    assert dt.datetime.fromisoformat(csv_answer["X-Readings-Next"]) == dt.datetime.fromisoformat(first["next"])


def test_readings_as_csv(personas, monitored):
    m = monitored
    assert push(m.token, ("CO-01", 1.5, 200), ("CO-01", 2.5, 100)).status_code == 200
    response = api(personas.county_a).get(f"/api/v1/sensors/{m.co.pk}/readings/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["X-Readings-Truncated"] == "false"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["ts", "value (ppm)"]
    assert [float(r[1]) for r in rows[1:]] == [1.5, 2.5]
    assert dt.datetime.fromisoformat(rows[1][0]).utcoffset() == dt.timedelta(hours=8)


def test_bad_reading_ranges_are_400_also_when_csv_is_asked(personas, monitored):
    m = monitored
    client = api(personas.city)
    url = f"/api/v1/sensors/{m.co.pk}/readings/"
    assert fields_of(client.get(url, {"since": "yesterday"})) == {"since"}
    now = timezone.now()
    assert fields_of(client.get(url, {"since": now.isoformat(), "until": (now - dt.timedelta(hours=1)).isoformat()})) \
        == {"since"}
    response = client.get(url, {"until": "soon", "format": "csv"})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert set(response.json()) == {"until"}
    assert client.get(url, {"format": "pdf"}).status_code == 404
    assert api(personas.ent_b).get(url).status_code == 404


# Rules ---------------------------------------------------------------------------------------------------
def test_rules_are_listed_per_sensor_created_and_changed_through_services(personas, monitored):
    m = monitored
    client = api(personas.ent_a)
    listed = client.get(f"/api/v1/rules/?sensor={m.co.pk}").json()["results"]
    assert listed and {r["sensor"] for r in listed} == {m.co.pk}
    assert {r["mine"] for r in listed} == {personas.mine_a.pk}
    response = client.post("/api/v1/rules/", {"sensor": m.water.pk, "kind": "threshold", "direction": "upper",
                                              "yellow": 95.0, "orange": 96.5, "red": 98.0, "hysteresis": 0.1},
                           format="json")
    assert response.status_code == 201, response.content
    rule = Rule.objects.get(pk=response.json()["id"])
    assert (rule.sensor_id, rule.red, rule.blue) == (m.water.pk, 98.0, None)
    response = client.patch(f"/api/v1/rules/{rule.pk}/", {"red": 97.5}, format="json")
    assert response.status_code == 200 and response.json()["red"] == 97.5
    change = history(rule).filter(action="update").first()
    assert change.before == {"red": 98.0} and change.after == {"red": 97.5}


def test_bad_rules_are_400_on_the_field(personas, monitored):
    m = monitored
    client = api(personas.city)
    before = Rule.objects.count()

    def create(**fields):
        return client.post("/api/v1/rules/", {"sensor": m.water.pk, "kind": "threshold", **fields}, format="json")

    assert fields_of(create(yellow=98.0, red=95.0)) == {"red"}
    assert fields_of(create()) == {"red"}
    assert fields_of(create(kind="rate", red=1.0)) == {"window_s"}
    assert fields_of(create(kind="sometimes", red=1.0)) == {"kind"}
    assert fields_of(client.post("/api/v1/rules/", {"sensor": m.freeboard.pk, "kind": "no_data"},
                                 format="json")) == {"kind"}
    assert fields_of(api(personas.ent_b).post("/api/v1/rules/", {"sensor": m.water.pk, "kind": "threshold",
                                                                 "red": 1.0}, format="json")) == {"sensor"}
    rule = m.co.rules.get(kind=Rule.Kind.THRESHOLD)
    assert fields_of(client.patch(f"/api/v1/rules/{rule.pk}/", {"yellow": 99.0}, format="json")) == {"red"}
    assert Rule.objects.count() == before


def test_rule_changes_need_configuration_rights(personas, monitored):
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    assert api(personas.department).patch(f"/api/v1/rules/{rule.pk}/", {"red": 50}, format="json").status_code == 403
    assert api(personas.county_b).patch(f"/api/v1/rules/{rule.pk}/", {"red": 50}, format="json").status_code == 404
    assert api(personas.inspector).get(f"/api/v1/rules/{rule.pk}/").status_code == 404
    assert api(personas.department).post("/api/v1/rules/", {"sensor": monitored.co.pk, "kind": "threshold",
                                                             "red": 50}, format="json").status_code == 403
    assert Rule.objects.get(pk=rule.pk).red == rule.red


# Alarms ------------------------------------------------------------------------------------------------
def test_an_alarm_is_acknowledged_responded_and_reviewed(personas, monitored):
    alarm = open_alarm(monitored.co, Level.RED)
    url = f"/api/v1/alarms/{alarm.pk}"
    ent = api(personas.ent_a)
    detail = ent.get(f"{url}/").json()
    assert detail["status"] == "unacknowledged" and detail["level"] == Level.RED and detail["is_open"] is True
    assert detail["sensor_code"] == "CO-01" and detail["county"] == personas.mine_a.county.code

    response = ent.post(f"{url}/acknowledge/", {"note": "值班员已收到"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == personas.ent_a.pk

    assert fields_of(ent.post(f"{url}/respond/", {"measures": ""}, format="json")) == {"measures"}
    assert fields_of(ent.post(f"{url}/respond/", {"measures": "加强通风，停止作业"}, format="json")) \
        == {"people_withdrawn"}
    assert fields_of(ent.post(f"{url}/respond/", {"measures": "加强通风，停止作业", "people_withdrawn": True},
                              format="json")) == {"withdrawn_count"}
    response = ent.post(f"{url}/respond/", {"measures": "加强通风，停止作业", "people_withdrawn": True,
                                            "withdrawn_count": 12}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "responded" and response.json()["withdrawn_count"] == 12

    assert ent.post(f"{url}/review/", {"accept": True}, format="json").status_code == 403
    county = api(personas.county_a)
    assert fields_of(county.post(f"{url}/review/", {"accept": False}, format="json")) == {"note"}
    assert fields_of(county.post(f"{url}/review/", {"note": "ok"}, format="json")) == {"accept"}
    response = county.post(f"{url}/review/", {"accept": True, "note": "措施得当"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert response.json()["is_open"] is True  # the condition is still present

    events = ent.get(f"{url}/events/").json()
    assert [e["kind"] for e in events] == ["opened", "acknowledged", "responded", "accepted"]
    assert events[1]["note"] == "值班员已收到" and events[1]["actor"] == personas.ent_a.pk
    listed = ent.get(f"/api/v1/alarm-events/?alarm={alarm.pk}").json()["results"]
    assert [e["id"] for e in listed] == [e["id"] for e in events]


def test_a_returned_response_goes_back_to_acknowledged(personas, monitored):
    alarm = open_alarm(monitored.co, Level.YELLOW)
    ent, county = api(personas.ent_a), api(personas.county_a)
    ent.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json")
    assert ent.post(f"/api/v1/alarms/{alarm.pk}/respond/", {"measures": "已处理完毕"},
                    format="json").status_code == 200
    response = county.post(f"/api/v1/alarms/{alarm.pk}/review/", {"accept": False, "note": "措施不具体，重新回应"},
                           format="json")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"


def test_invalid_alarm_transitions_are_409(personas, monitored):
    alarm = open_alarm(monitored.co, Level.YELLOW)
    client = api(personas.city)
    url = f"/api/v1/alarms/{alarm.pk}"
    for path, data in (("respond", {"measures": "已处理完毕"}), ("review", {"accept": True})):
        response = client.post(f"{url}/{path}/", data, format="json")
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "invalid_transition"
    assert client.post(f"{url}/acknowledge/", {}, format="json").status_code == 200
    response = client.post(f"{url}/acknowledge/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.ACKNOWLEDGED


@pytest.mark.parametrize(("persona", "expected"), [("department", 403), ("inspector", 404), ("ent_b", 404),
                                                   ("county_b", 404), ("anonymous", 403)])
def test_answering_an_alarm_is_refused_outside_the_answering_roles(personas, monitored, persona, expected):
    alarm = open_alarm(monitored.co)
    client = api(None if persona == "anonymous" else getattr(personas, persona))
    assert client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json").status_code == expected
    assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.UNACKNOWLEDGED
    assert not AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.ACKNOWLEDGED).exists()


def test_alarm_list_filters(personas, monitored):
    m = monitored
    now = timezone.now()
    old = open_alarm(m.co, Level.BLUE, now=now - dt.timedelta(days=3))
    red = open_alarm(m.co_b, Level.RED, now=now - dt.timedelta(hours=1))
    water_rule = services.create_rule(personas.city, m.water, kind="threshold", yellow=95.0)
    with transaction.atomic():
        closed = services.apply_level(f"r{water_rule.pk}", mine_id=personas.pond_a.pk, sensor_id=m.water.pk,
                                      rule_id=water_rule.pk, source="threshold", kind="water_level", level=2,
                                      value=96.0, now=now - dt.timedelta(hours=2))
    services.acknowledge(personas.city, closed)
    services.respond(personas.ent_a, closed, measures="降低水位")
    services.review(personas.city, closed, accept=True)
    with transaction.atomic():
        services.apply_level(f"r{water_rule.pk}", mine_id=personas.pond_a.pk, level=0, source="threshold",
                             now=now - dt.timedelta(minutes=30))
    client = api(personas.city)

    def ids(query):
        response = client.get(f"/api/v1/alarms/?{query}&limit=500")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("open=true") == {old.pk, red.pk}
    assert ids("open=false") == {closed.pk}
    assert ids(f"level={Level.RED}") == {red.pk}
    assert ids(f"mine={personas.mine_a.pk}") == {old.pk}
    assert ids(f"county={personas.county_a_region.code}") == {old.pk, closed.pk}
    assert ids("status=accepted") == {closed.pk}
    assert ids("source=threshold") == {old.pk, red.pk, closed.pk}
    assert ids("source=no_data") == set()
    since = (now - dt.timedelta(days=1)).isoformat()
    assert ids(f"opened_after={since.replace('+', '%2B')}") == {red.pk, closed.pk}
    assert ids(f"opened_before={since.replace('+', '%2B')}") == {old.pk}
    assert client.get("/api/v1/alarms/?opened_after=last-week").status_code == 400
    assert client.get("/api/v1/alarms/?status=panicking").status_code == 400


def test_alarm_export_is_the_filtered_list(personas, monitored):
    a = open_alarm(monitored.co, Level.RED)
    b = open_alarm(monitored.co_b, Level.YELLOW)
    response = api(personas.city).get(f"/api/v1/alarms/export/?level={Level.RED}")
    assert response.status_code == 200 and response["Content-Type"] == XLSX_CONTENT_TYPE
    ids = {row[0] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=2,
                                                                                         values_only=True)}
    assert ids == {a.pk}
    everything = api(personas.city).get("/api/v1/alarms/export/")
    ids = {row[0] for row in load_workbook(io.BytesIO(everything.content)).active.iter_rows(min_row=2,
                                                                                           values_only=True)}
    assert ids == {a.pk, b.pk}


# Quarantine ----------------------------------------------------------------------------------------------
def quarantine(token: str, code: str = "NOPE-01") -> QuarantinedMessage:
    raw = json.dumps({"token": token, "readings": [{"sensor": code, "ts": timezone.now().isoformat(), "value": 1}]})
    message = ingest.decode("mqtt", raw, topic="minesafe/x/telemetry")
    ingest.commit([message])
    return QuarantinedMessage.objects.order_by("-pk").first()


def test_quarantined_messages_are_listed_with_the_token_masked(personas, monitored):
    known = quarantine(monitored.token)
    unknown = quarantine("gw_not-a-real-token")
    assert known.mine_id == personas.mine_a.pk and unknown.mine_id is None
    response = api(personas.city).get("/api/v1/quarantine/")
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {known.pk, unknown.pk}
    assert monitored.token not in response.content.decode()
    assert '"token": "***"' in rows[known.pk]["payload"]
    assert rows[known.pk]["errors"] and rows[known.pk]["rows_rejected"] == 1
    assert api(personas.city).get(f"/api/v1/quarantine/?mine={personas.mine_a.pk}").json()["count"] == 1
    assert api(personas.ent_a).post("/api/v1/quarantine/", {}, format="json").status_code == 405


# Online rate ------------------------------------------------------------------------------------------
def test_online_rate_per_mine_county_and_city(personas, monitored):
    m = monitored
    assert push(m.token, ("CO-01", 1.0, 30), ("O2-01", 20.9, 30)).status_code == 200
    response = api(personas.city).get("/api/v1/online-rate/")
    assert response.status_code == 200, response.content
    body = response.json()
    mines = {row["mine"]: row for row in body["mines"]}
    assert mines[personas.mine_a.pk]["sensors"] == 2 and mines[personas.mine_a.pk]["online"] == 2
    assert mines[personas.mine_a.pk]["online_ratio"] == 1.0
    assert mines[personas.pond_a.pk]["sensors"] == 1 and mines[personas.pond_a.pk]["online"] == 0
    assert mines[personas.mine_a2.pk]["required_mines"] == 1 and mines[personas.mine_a2.pk]["connected_mines"] == 0
    assert mines[personas.mine_a2.pk]["online_ratio"] is None
    counties = {row["county"]: row for row in body["counties"]}
    county_a = counties[personas.county_a_region.code]
    assert (county_a["sensors"], county_a["online"]) == (3, 2)
    assert (county_a["required_mines"], county_a["connected_mines"]) == (3, 1)  # pond A has not reported yet
    assert body["city"]["sensors"] == 4 and body["city"]["online"] == 2 and body["city"]["online_ratio"] == 0.5
    only_b = api(personas.city).get(f"/api/v1/online-rate/?county={personas.county_b_region.code}").json()
    assert [row["mine"] for row in only_b["mines"]] == [personas.mine_b.pk]


def test_online_rate_as_a_workbook(personas, monitored):
    response = api(personas.county_a).get("/api/v1/online-rate/?format=xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX_CONTENT_TYPE
    book = load_workbook(io.BytesIO(response.content))
    names = {row[1] for row in book["各矿山在线率"].iter_rows(min_row=2, values_only=True)}
    assert names == {personas.mine_a.name, personas.mine_a2.name, personas.pond_a.name}
    assert api().get("/api/v1/online-rate/?format=xlsx").status_code == 403


# Schema ------------------------------------------------------------------------------------------------
def test_schema_documents_every_monitoring_endpoint_without_warnings(personas, tmp_path):
    """drf-spectacular fails on any warning (an undocumented response, an enum name collision)."""
    out = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    schema = json.loads(out.read_text())
    paths, components = schema["paths"], schema["components"]["schemas"]
    for path in ("/api/v1/gateways/", "/api/v1/gateways/{id}/rotate/", "/api/v1/gateways/{id}/deactivate/",
                 "/api/v1/gateways/{id}/activate/", "/api/v1/sensors/{id}/", "/api/v1/sensors/{id}/readings/",
                 "/api/v1/rules/", "/api/v1/alarms/{id}/acknowledge/", "/api/v1/alarms/{id}/respond/",
                 "/api/v1/alarms/{id}/review/", "/api/v1/alarms/{id}/events/", "/api/v1/alarms/export/",
                 "/api/v1/alarm-events/", "/api/v1/quarantine/{id}/", "/api/v1/online-rate/"):
        assert path in paths, path
    created = paths["/api/v1/gateways/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert "token" in components[created["$ref"].rsplit("/", 1)[1]]["properties"]
    listed = paths["/api/v1/gateways/{id}/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "token" not in components[listed["$ref"].rsplit("/", 1)[1]]["properties"]
