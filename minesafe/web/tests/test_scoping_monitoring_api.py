"""The role × endpoint matrix for the monitoring API: every list, detail and export shows each persona
exactly the gateways, sensors, rules, readings, alarms, alarm events, quarantined messages and online
rates of the mines in its scope (404 outside it); departments and inspectors only read."""

import io
import json

import pytest
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook

from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Alarm, Gateway, QuarantinedMessage, Rule, Sensor
from minesafe.monitoring.tests import conftest as monitoring_fixtures

from .test_scoping import MINES, PERSONAS, SCOPE, api_client

monitored = monitoring_fixtures.monitored  # the monitoring tests' fixture, shared here

# Who may configure monitoring and answer alarms at each fixture mine (a subset of SCOPE).
ANSWER = {**SCOPE, "department": set(), "inspector": set()}


def push(token: str, code: str, value: float) -> None:
    body = {"readings": [{"sensor": code, "value": value, "ts": timezone.now().isoformat()}]}
    response = api_client(None, "anonymous").post("/api/v1/telemetry", data=json.dumps(body),
                                                  content_type="application/json",
                                                  HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content


def quarantine(token: str) -> QuarantinedMessage:
    raw = json.dumps({"token": token, "readings": [{"sensor": "NOPE", "ts": timezone.now().isoformat(), "value": 1}]})
    ingest.commit([ingest.decode("mqtt", raw, topic="minesafe/x/telemetry")])
    return QuarantinedMessage.objects.order_by("-pk").first()


class World:
    def __init__(self, personas, monitored):
        self.personas = personas
        m = monitored
        gateway_a2, token_a2 = services.create_gateway(personas.city, personas.mine_a2, "乙矿分站")
        sensor_a2 = services.create_sensor(personas.city, personas.mine_a2, code="CO-01", name="一氧化碳",
                                           kind="co", gateway=gateway_a2)
        self.gateway = {"mine_a": m.gateway, "mine_a2": gateway_a2, "pond_a": m.pond_gateway, "mine_b": m.gateway_b}
        token = {"mine_a": m.token, "mine_a2": token_a2, "pond_a": m.pond_token, "mine_b": m.token_b}
        self.sensor = {"mine_a": m.co, "mine_a2": sensor_a2, "pond_a": m.water, "mine_b": m.co_b}
        self.rule, self.alarm, self.quarantined = {}, {}, {}
        for name in MINES:
            sensor = self.sensor[name]
            push(token[name], sensor.code, 1.0)
            rule = sensor.rules.get(kind=Rule.Kind.NO_DATA)
            self.rule[name] = rule
            with transaction.atomic():
                alarm = services.apply_level(f"r{rule.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk,
                                             rule_id=rule.pk, source=Alarm.Source.NO_DATA, kind=sensor.kind,
                                             level=rule.level)
            self.alarm[name] = services.acknowledge(personas.city, alarm, "收到")
            self.quarantined[name] = quarantine(token[name])
        self.unidentified = quarantine("gw_no-such-gateway")
        assert self.unidentified.mine_id is None

    def mine_id(self, name: str) -> int:
        return getattr(self.personas, name).pk

    def mine_ids(self, names) -> set:
        return {self.mine_id(n) for n in names}


@pytest.fixture
def world(personas, monitored) -> World:
    return World(personas, monitored)


def rows_of(response) -> list:
    assert response.status_code == 200, response.content
    return response.json()["results"]


LISTS = {
    "gateways": lambda w, row: row["mine"],
    "sensors": lambda w, row: row["mine"],
    "rules": lambda w, row: row["mine"],
    "alarms": lambda w, row: row["mine"],
    "alarm-events": lambda w, row: Alarm.objects.get(pk=row["alarm"]).mine_id,
    "quarantine": lambda w, row: row["mine"],
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", list(LISTS))
def test_api_monitoring_lists_show_exactly_the_scope(world, persona, endpoint):
    response = api_client(world.personas, persona).get(f"/api/v1/{endpoint}/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    seen = {LISTS[endpoint](world, row) for row in rows_of(response)}
    expected = world.mine_ids(SCOPE[persona])
    if endpoint == "quarantine" and persona == "city":
        expected.add(None)  # a message from an unknown gateway belongs to no mine: the city's
    assert seen == expected


def detail_urls(world: World, name: str) -> list[str]:
    sensor, alarm = world.sensor[name], world.alarm[name]
    return [f"/api/v1/gateways/{world.gateway[name].pk}/", f"/api/v1/sensors/{sensor.pk}/",
            f"/api/v1/sensors/{sensor.pk}/readings/", f"/api/v1/sensors/{sensor.pk}/readings/?format=csv",
            f"/api/v1/rules/{world.rule[name].pk}/", f"/api/v1/alarms/{alarm.pk}/",
            f"/api/v1/alarms/{alarm.pk}/events/", f"/api/v1/alarm-events/{alarm.events.first().pk}/",
            f"/api/v1/quarantine/{world.quarantined[name].pk}/"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_api_monitoring_details_are_404_outside_scope(world, persona, mine_name):
    api = api_client(world.personas, persona)
    expected = 403 if persona == "anonymous" else 200 if mine_name in SCOPE[persona] else 404
    for url in detail_urls(world, mine_name):
        response = api.get(url)
        assert response.status_code == expected, url
    if expected == 200:
        readings = api.get(f"/api/v1/sensors/{world.sensor[mine_name].pk}/readings/").json()
        assert [r["value"] for r in readings["readings"]] == [1.0]


@pytest.mark.parametrize("persona", PERSONAS)
def test_unidentified_quarantined_messages_are_for_the_city_only(world, persona):
    response = api_client(world.personas, persona).get(f"/api/v1/quarantine/{world.unidentified.pk}/")
    assert response.status_code == {"city": 200, "anonymous": 403}.get(persona, 404)
    assert QuarantinedMessage.objects.visible_to(getattr(world.personas, persona)).filter(
        pk=world.unidentified.pk).exists() == (persona == "city")


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_alarm_export_covers_only_the_scope(world, persona):
    response = api_client(world.personas, persona).get("/api/v1/alarms/export/")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    ids = {row[0] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=2,
                                                                                         values_only=True)}
    assert ids == {world.alarm[n].pk for n in SCOPE[persona]}


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_online_rate_and_its_workbook_cover_only_the_scope(world, persona):
    api = api_client(world.personas, persona)
    response = api.get("/api/v1/online-rate/")
    workbook = api.get("/api/v1/online-rate/?format=xlsx")
    if persona == "anonymous":
        assert response.status_code == 403 and workbook.status_code == 403
        return
    body = response.json()
    mines = [getattr(world.personas, n) for n in SCOPE[persona]]
    assert {row["mine"] for row in body["mines"]} == {m.pk for m in mines}
    assert {row["county"] for row in body["counties"]} == {m.county.code for m in mines}
    measured = Sensor.objects.filter(mine__in=mines, active=True, source__isnull=True).count()
    assert body["city"]["sensors"] == measured and body["city"]["online"] == len(mines)  # one reported per mine
    sheet = load_workbook(io.BytesIO(workbook.content))["各矿山在线率"]
    assert {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)} == {m.name for m in mines}


def expected_write(persona: str, mine_name: str, allowed: int) -> int:
    if persona == "anonymous":
        return 403
    if mine_name not in SCOPE[persona]:
        return 404
    return allowed if mine_name in ANSWER[persona] else 403


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_api_changes_need_rights_over_the_mine(world, persona, mine_name):
    """Configure and answer: the enterprise, its county and the city; departments and inspectors read."""
    api = api_client(world.personas, persona)
    gateway, sensor, rule = world.gateway[mine_name], world.sensor[mine_name], world.rule[mine_name]
    alarm = world.alarm[mine_name]
    before = (Gateway.objects.get(pk=gateway.pk).token_hash, Sensor.objects.get(pk=sensor.pk).name)

    assert api.post(f"/api/v1/gateways/{gateway.pk}/rotate/").status_code == expected_write(persona, mine_name, 200)
    assert api.post(f"/api/v1/gateways/{gateway.pk}/deactivate/").status_code \
        == expected_write(persona, mine_name, 200)
    assert api.patch(f"/api/v1/sensors/{sensor.pk}/", {"name": "改名"}, format="json").status_code \
        == expected_write(persona, mine_name, 200)
    assert api.patch(f"/api/v1/rules/{rule.pk}/", {"silent_intervals": 5}, format="json").status_code \
        == expected_write(persona, mine_name, 200)
    assert api.post(f"/api/v1/alarms/{alarm.pk}/respond/", {"measures": "已派人检修分站"},
                    format="json").status_code == expected_write(persona, mine_name, 200)
    # Creating on a mine outside the scope: that mine "does not exist" (400 on the field).
    created = {404: 400}.get(expected_write(persona, mine_name, 201), expected_write(persona, mine_name, 201))
    mine_id = world.mine_id(mine_name)
    assert api.post("/api/v1/gateways/", {"mine": mine_id, "name": "新分站"}, format="json").status_code == created
    assert api.post("/api/v1/sensors/", {"mine": mine_id, "code": "NEW-01", "kind": "co"},
                    format="json").status_code == created

    if expected_write(persona, mine_name, 200) != 200:
        assert (Gateway.objects.get(pk=gateway.pk).token_hash, Sensor.objects.get(pk=sensor.pk).name) == before
        assert Gateway.objects.get(pk=gateway.pk).active
        assert Rule.objects.get(pk=rule.pk).silent_intervals == rule.silent_intervals
        assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.ACKNOWLEDGED
        assert not Sensor.objects.filter(mine_id=mine_id, code="NEW-01").exists()
        assert Gateway.objects.filter(mine_id=mine_id).count() == 1
