"""The role × page matrix for the monitoring pages: the alarm board and its live part, the alarm list,
the mine index, online rate, quarantine, the alarm, mine and sensor pages, and every export show each
persona exactly the mines in its scope (404 outside it, the login page for the anonymous); only those
allowed configure monitoring or answer alarms."""

import csv
import io
import json

import pytest
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook

from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Alarm, Gateway, QuarantinedMessage, Rule
from minesafe.monitoring.tests import conftest as monitoring_fixtures

from .test_scoping import MINES, PERSONAS, SCOPE, web_client

monitored = monitoring_fixtures.monitored  # the monitoring tests' fixture, shared here

# Who may configure monitoring and answer alarms at each fixture mine (a subset of SCOPE).
ACTS = {**SCOPE, "department": set(), "inspector": set()}


def push(token: str, code: str, value: float) -> None:
    body = {"readings": [{"sensor": code, "value": value, "ts": timezone.now().isoformat()}]}
    outcome = ingest.commit([ingest.decode("http", json.dumps(body), token=token)], quarantine=False)
    assert outcome.accepted == 1 and not outcome.rejected


class World:
    """Every fixture mine has a gateway, a sensor that reported, an open alarm and a quarantined message."""

    def __init__(self, personas, m):
        self.personas = personas
        gateway_a2, token_a2 = services.create_gateway(personas.city, personas.mine_a2, "乙矿分站")
        sensor_a2 = services.create_sensor(personas.city, personas.mine_a2, code="CO-01", name="一氧化碳",
                                           kind="co", gateway=gateway_a2)
        self.gateway = {"mine_a": m.gateway, "mine_a2": gateway_a2, "pond_a": m.pond_gateway, "mine_b": m.gateway_b}
        self.token = {"mine_a": m.token, "mine_a2": token_a2, "pond_a": m.pond_token, "mine_b": m.token_b}
        self.sensor = {"mine_a": m.co, "mine_a2": sensor_a2, "pond_a": m.water, "mine_b": m.co_b}
        self.alarm, self.quarantined = {}, {}
        for name in MINES:
            sensor = self.sensor[name]
            push(self.token[name], sensor.code, 1.0)
            rule = sensor.rules.get(kind=Rule.Kind.NO_DATA)
            with transaction.atomic():
                self.alarm[name] = services.apply_level(
                    f"r{rule.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk, rule_id=rule.pk,
                    source=Alarm.Source.NO_DATA, kind=sensor.kind, level=rule.level)
            raw = json.dumps({"token": self.token[name], "readings": [{"sensor": f"BAD-{name}", "ts": 1, "value": 1}]})
            ingest.commit([ingest.decode("mqtt", raw, topic="minesafe/x/telemetry")])
            self.quarantined[name] = QuarantinedMessage.objects.order_by("-pk").first()

    def mine(self, name):
        return getattr(self.personas, name)


@pytest.fixture
def world(personas, monitored) -> World:
    return World(personas, monitored)


def alarms_in(html: str, world: World) -> set:
    return {n for n in MINES if f'data-alarm="{world.alarm[n].pk}"' in html}


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", ["/monitoring/", "/monitoring/live/", "/monitoring/alarms/"])
def test_alarm_lists_show_exactly_the_personas_alarms(client, world, persona, path):
    response = web_client(client, world.personas, persona).get(path)
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    assert response.status_code == 200
    html = body(response)
    assert alarms_in(html, world) == SCOPE[persona]
    for name in set(MINES) - SCOPE[persona]:
        assert world.mine(name).name not in html


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("path", ["/monitoring/mines/", "/monitoring/online/", "/monitoring/quarantine/", "/"])
def test_monitoring_overviews_show_only_the_personas_mines(client, world, persona, path):
    response = web_client(client, world.personas, persona).get(path)
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    html = body(response)
    linked = {n for n in MINES if f'href="/monitoring/mines/{world.mine(n).pk}/"' in html}
    assert linked == SCOPE[persona]
    if path == "/monitoring/quarantine/":
        assert {n for n in MINES if f'data-quarantine="{world.quarantined[n].pk}"' in html} == SCOPE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_alarm_mine_and_sensor_pages_are_404_outside_scope(client, world, persona, mine_name):
    client = web_client(client, world.personas, persona)
    sensor = world.sensor[mine_name]
    paths = [f"/monitoring/alarms/{world.alarm[mine_name].pk}/", f"/monitoring/mines/{world.mine(mine_name).pk}/",
             f"/monitoring/sensors/{sensor.pk}/", f"/monitoring/sensors/{sensor.pk}/readings.csv"]
    for path in paths:
        response = client.get(path)
        if persona == "anonymous":
            assert response.status_code == 302, path
        else:
            assert response.status_code == (200 if mine_name in SCOPE[persona] else 404), path


@pytest.mark.parametrize("persona", PERSONAS)
def test_alarm_exports_hold_exactly_the_personas_alarms(client, world, persona):
    client = web_client(client, world.personas, persona)
    xlsx = client.get("/monitoring/alarms/export.xlsx")
    text = client.get("/monitoring/alarms/export.csv")
    if persona == "anonymous":
        assert xlsx.status_code == 302 and text.status_code == 302
        return
    ids = {row[0] for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(min_row=2, values_only=True)}
    assert ids == {world.alarm[n].pk for n in SCOPE[persona]}
    rows = list(csv.reader(io.StringIO(body(text))))[1:]
    assert {int(r[0]) for r in rows} == {world.alarm[n].pk for n in SCOPE[persona]}


@pytest.mark.parametrize("persona", PERSONAS)
def test_online_export_holds_exactly_the_personas_mines(client, world, persona):
    response = web_client(client, world.personas, persona).get("/monitoring/online/export.xlsx")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    book = load_workbook(io.BytesIO(response.content))
    codes = {row[2] for row in book["各矿山在线率"].iter_rows(min_row=2, values_only=True)}
    assert codes == {world.mine(n).code for n in SCOPE[persona]}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("mine_name", MINES)
def test_only_who_may_act_answers_alarms_and_configures_mines(client, world, persona, mine_name):
    client = web_client(client, world.personas, persona)
    alarm, gateway = world.alarm[mine_name], world.gateway[mine_name]
    ack = client.post(f"/monitoring/alarms/{alarm.pk}/", {"action": "acknowledge"})
    off = client.post(f"/monitoring/mines/{world.mine(mine_name).pk}/",
                      {"action": "gateway-deactivate", "gateway": gateway.pk})
    alarm.refresh_from_db()
    active = Gateway.objects.get(pk=gateway.pk).active
    if persona == "anonymous":
        assert ack.status_code == 302 and off.status_code == 302
    elif mine_name in ACTS[persona]:
        assert ack.status_code == 302 and off.status_code == 302
        assert alarm.status == "acknowledged" and not active
        return
    else:
        expected = 403 if mine_name in SCOPE[persona] else 404
        assert ack.status_code == expected and off.status_code == expected
    assert alarm.status == "unacknowledged" and active
