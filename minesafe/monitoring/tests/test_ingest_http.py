"""POST /api/v1/telemetry: a gateway pushes readings with its bearer token; each bad row is reported."""

import datetime as dt
import json
import math

import pytest
from django.utils import timezone

from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Alarm, Gateway, Reading, Sensor

URL = "/api/v1/telemetry"


def stamp(seconds_ago: float = 0.0) -> str:
    return (timezone.now() - dt.timedelta(seconds=seconds_ago)).isoformat()


def row(sensor: str = "CO-01", value=5.0, seconds_ago: float = 60.0, **extra) -> dict:
    return {"sensor": sensor, "ts": stamp(seconds_ago), "value": value, **extra}


def post(client, token, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return client.post(URL, data=data, content_type="application/json", **headers)


def readings(sensor: Sensor | None = None) -> int:
    qs = Reading.objects.all() if sensor is None else Reading.objects.filter(sensor_id=sensor.pk)
    return qs.count()


def fresh(sensor: Sensor) -> Sensor:
    return Sensor.objects.get(pk=sensor.pk)


# Accepted batches ---------------------------------------------------------------------------------
def test_a_valid_batch_is_stored_and_moves_the_sensors_live_state(client, monitored):
    m = monitored
    body = {"readings": [row("CO-01", 3.5, 80, unit="ppm"), row("CO-01", 4.0, 60), row("O2-01", 20.8, 60)]}
    response = post(client, m.token, body)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "stored": 3, "duplicates": 0, "rejected": []}
    assert readings(m.co) == 2 and readings(m.o2) == 1
    co = fresh(m.co)
    assert co.last_value == 4.0 and co.last_received_at is not None and co.level == 0
    assert co.last_ts == dt.datetime.fromisoformat(body["readings"][1]["ts"])
    assert Gateway.objects.get(pk=m.gateway.pk).last_seen_at is not None
    stored = Reading.objects.filter(sensor_id=m.o2.pk).get()
    assert stored.value == 20.8 and stored.ts == dt.datetime.fromisoformat(body["readings"][2]["ts"])


def test_timestamps_with_any_offset_and_epoch_seconds_are_accepted(client, monitored):
    now = timezone.now().replace(microsecond=0)
    beijing = dt.timezone(dt.timedelta(hours=8))
    body = {"readings": [
        {"sensor": "CO-01", "ts": (now - dt.timedelta(seconds=90)).astimezone(beijing).isoformat(), "value": 1},
        {"sensor": "CO-01", "ts": (now - dt.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"), "value": 2},
        {"sensor": "CO-01", "ts": (now - dt.timedelta(seconds=30)).timestamp(), "value": 3},
    ]}
    response = post(client, monitored.token, body)
    assert response.status_code == 200, response.content
    stored = list(Reading.objects.filter(sensor_id=monitored.co.pk).order_by("ts").values_list("ts", "value"))
    assert stored == [(now - dt.timedelta(seconds=90), 1.0), (now - dt.timedelta(seconds=60), 2.0),
                      (now - dt.timedelta(seconds=30), 3.0)]


def test_the_same_instant_written_in_two_offsets_is_one_reading(client, monitored):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=30)
    beijing = dt.timezone(dt.timedelta(hours=8))
    body = {"readings": [{"sensor": "CO-01", "ts": now.isoformat(), "value": 1},
                         {"sensor": "CO-01", "ts": now.astimezone(beijing).isoformat(), "value": 1}]}
    response = post(client, monitored.token, body)
    assert response.status_code == 200
    assert readings(monitored.co) == 1


# Rows rejected with a reason ---------------------------------------------------------------------------
BAD_ROWS = {
    "unknown sensor": ({"sensor": "NOPE-99"}, "sensor"),
    "sensor code not a string": ({"sensor": 17}, "sensor"),
    "wrong unit": ({"unit": "mg/m3"}, "unit"),
    "value as a string": ({"value": "12.5"}, "value"),
    "value as a boolean": ({"value": True}, "value"),
    "value missing": ({"value": None}, "value"),
    "value out of the plausible range": ({"value": 5000.0}, "value"),
    "negative value below the range": ({"value": -1.0}, "value"),
    "timestamp missing": ({"ts": None}, "ts"),
    "naive timestamp": ({"ts": "2026-11-30T10:00:00"}, "ts"),
    "unparseable timestamp": ({"ts": "yesterday at ten"}, "ts"),
    "timestamp far in the future": ({"ts": "FUTURE"}, "ts"),
    "timestamp too old": ({"ts": "OLD"}, "ts"),
    "epoch seconds too old": ({"ts": 1_000_000.0}, "ts"),
    "epoch seconds beyond any date": ({"ts": 1e20}, "ts"),
    "epoch seconds too long for a float": ({"ts": 10 ** 400}, "ts"),
    "timestamp at the end of time": ({"ts": "9999-12-31T23:59:59-12:00"}, "ts"),
    "timestamp at the start of time": ({"ts": "0001-01-01T00:00:00+01:00"}, "ts"),
    "integer too large for a float": ({"value": 10 ** 400}, "value"),
}


def bad_row(overrides: dict) -> dict:
    r = row("CO-01", 5.0, 30)
    r.update(overrides)
    if r["ts"] == "FUTURE":
        r["ts"] = stamp(-3600)
    elif r["ts"] == "OLD":
        r["ts"] = stamp(500 * 86400)
    return r


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_row_is_reported_and_the_good_rows_of_the_batch_are_stored(client, monitored, case):
    overrides, field = BAD_ROWS[case]
    body = {"readings": [row("O2-01", 20.5, 60), bad_row(overrides), row("O2-01", 20.4, 40)]}
    response = post(client, monitored.token, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["accepted"], data["stored"], data["duplicates"]) == (2, 2, 0)
    assert [(e["index"], e["field"]) for e in data["rejected"]] == [(1, field)]
    assert data["rejected"][0]["reason"]
    assert readings(monitored.o2) == 2 and readings(monitored.co) == 0
    assert fresh(monitored.co).last_ts is None


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_batch_of_only_bad_rows_is_refused_and_stores_nothing(client, monitored, case):
    overrides, field = BAD_ROWS[case]
    response = post(client, monitored.token, {"readings": [bad_row(overrides)]})
    assert response.status_code == 400
    data = response.json()
    assert data["stored"] == 0 and data["detail"]
    assert [(e["index"], e["field"]) for e in data["rejected"]] == [(0, field)]
    assert readings() == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_timestamps_are_rejected(client, monitored, literal):
    first = f'{{"sensor": "CO-01", "ts": {literal}, "value": 1.0}}'
    response = post(client, monitored.token, f'{{"readings": [{first}, {json.dumps(row("CO-01", 2.0, 30))}]}}')
    assert response.status_code == 200, response.content
    assert [(e["index"], e["field"]) for e in response.json()["rejected"]] == [(0, "ts")]
    assert readings(monitored.co) == 1


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected_although_python_json_parses_them(client, monitored, literal):
    assert not math.isfinite(json.loads(literal))
    first = f'{{"sensor": "CO-01", "ts": "{stamp(60)}", "value": {literal}}}'
    text = f'{{"readings": [{first}, {json.dumps(row("CO-01", 2.0, 30))}]}}'
    response = post(client, monitored.token, text)
    assert response.status_code == 200, response.content
    assert [(e["index"], e["field"]) for e in response.json()["rejected"]] == [(0, "value")]
    assert list(Reading.objects.filter(sensor_id=monitored.co.pk).values_list("value", flat=True)) == [2.0]


def test_a_row_that_is_not_an_object_is_rejected(client, monitored):
    response = post(client, monitored.token, {"readings": ["CO-01", 5, row("CO-01", 2.0)]})
    assert response.status_code == 200
    assert [e["index"] for e in response.json()["rejected"]] == [0, 1]
    assert readings(monitored.co) == 1


def test_a_gateway_cannot_write_another_mines_sensor_even_if_the_code_exists_there(client, monitored):
    m = monitored
    # O2-01 exists only at mine A: mine B's gateway may not write it.
    response = post(client, m.token_b, {"readings": [row("O2-01", 20.0)]})
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["rejected"]] == [(0, "sensor")]
    assert readings() == 0
    # The pond's gateway (same enterprise, another mine) cannot write mine A's sensors either.
    response = post(client, m.pond_token, {"readings": [row("CO-01", 3.0)]})
    assert response.status_code == 400
    assert readings() == 0


def test_a_code_used_at_two_mines_reaches_the_sending_gateways_own_mine(client, monitored):
    m = monitored
    response = post(client, m.token_b, {"readings": [row("CO-01", 7.0)]})
    assert response.status_code == 200
    assert readings(m.co_b) == 1 and readings(m.co) == 0
    assert fresh(m.co_b).last_value == 7.0 and fresh(m.co).last_value is None


def test_a_derived_sensor_cannot_be_written_directly(client, monitored):
    response = post(client, monitored.pond_token, {"readings": [row("AQCG-01", 3.0)]})
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["rejected"]] == [(0, "sensor")]
    assert readings() == 0


def test_a_deactivated_sensor_is_rejected(client, monitored, personas):
    services.update_sensor(personas.city, monitored.o2, {"active": False})
    response = post(client, monitored.token, {"readings": [row("O2-01", 20.0), row("CO-01", 1.0)]})
    assert response.status_code == 200
    assert [(e["index"], e["field"]) for e in response.json()["rejected"]] == [(0, "sensor")]
    assert readings(monitored.o2) == 0 and readings(monitored.co) == 1


# Whole-message failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Token {token}", "Basic {token}",
                                           "Bearer gw_not-a-real-token", "Bearer " + "x" * 300])
def test_a_missing_or_bad_token_is_unauthorised_and_stores_nothing(client, monitored, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization.format(token=monitored.token)}
    response = post(client, None, {"readings": [row()]}, **headers)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert readings() == 0
    assert Gateway.objects.get(pk=monitored.gateway.pk).last_seen_at is None


def test_the_token_scheme_is_case_insensitive(client, monitored):
    response = post(client, None, {"readings": [row()]}, HTTP_AUTHORIZATION=f"bearer {monitored.token}")
    assert response.status_code == 200


def test_a_deactivated_gateways_token_is_unauthorised(client, monitored, personas,
                                                      django_capture_on_commit_callbacks):
    assert post(client, monitored.token, {"readings": [row(seconds_ago=60)]}).status_code == 200  # token in use
    with django_capture_on_commit_callbacks(execute=True):
        services.set_gateway_active(personas.ent_a, monitored.gateway, False)
    response = post(client, monitored.token, {"readings": [row(seconds_ago=30)]})
    assert response.status_code == 401
    assert readings() == 1


def test_a_rotated_token_stops_working_and_the_new_one_works(client, monitored, personas,
                                                             django_capture_on_commit_callbacks):
    assert post(client, monitored.token, {"readings": [row(seconds_ago=60)]}).status_code == 200  # token in use
    with django_capture_on_commit_callbacks(execute=True):
        new = services.rotate_token(personas.ent_a, monitored.gateway)
    assert post(client, monitored.token, {"readings": [row(seconds_ago=50)]}).status_code == 401
    assert readings() == 1
    assert post(client, new, {"readings": [row(seconds_ago=40)]}).status_code == 200
    assert readings(monitored.co) == 2


def test_an_oversized_body_is_refused_with_413(client, monitored):
    limit = int(ingest.limits()["max_body_bytes"])
    filler = "x" * limit
    response = post(client, monitored.token, json.dumps({"readings": [row()], "filler": filler}))
    assert response.status_code == 413
    assert readings() == 0


def test_the_decoder_refuses_an_oversized_message_on_its_own(monitored):
    """The endpoint stops at Content-Length; the decoder (also used by MQTT) checks the body again."""
    limit = int(ingest.limits()["max_body_bytes"])
    message = ingest.decode("http", b" " * (limit + 1), token=monitored.token)
    assert [e["code"] for e in message.errors] == ["too_large"] and message.gateway is None


@pytest.mark.parametrize("token", [12345, ["gw_x"], {"t": 1}, None, ""])
def test_the_decoder_treats_a_token_that_is_not_a_string_as_unknown(monitored, token):
    """MQTT carries the token in the body, where it can be any JSON value."""
    body = json.dumps({"token": token, "readings": [row()]})
    message = ingest.decode("mqtt", body, topic_mine=monitored.gateway.mine_id)
    assert [e["code"] for e in message.errors] == ["bad_token"] and message.gateway is None


def test_the_decoder_keeps_a_gateway_to_its_own_mines_topic(monitored, personas):
    body = json.dumps({"token": monitored.token, "readings": [row()]})
    assert ingest.decode("mqtt", body, topic_mine=personas.mine_a.pk).parsed.rows
    wrong = ingest.decode("mqtt", body, topic_mine=personas.mine_b.pk)
    assert [e["code"] for e in wrong.errors] == ["wrong_mine"] and not wrong.parsed.rows


def test_too_many_rows_in_one_batch_is_refused_with_413(client, monitored):
    limit = int(ingest.limits()["max_batch_rows"])
    response = post(client, monitored.token, {"readings": [row()] * (limit + 1)})
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too_large"
    assert readings() == 0


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"readings": {"sensor": "CO-01"}}', '{"rows": []}',
                                  b"\xff\xfe\x00garbage"])
def test_a_body_that_is_not_a_readings_object_is_a_bad_request(client, monitored, text):
    response = post(client, monitored.token, text)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert readings() == 0


def test_a_malformed_content_length_is_a_bad_request_not_a_crash(client, monitored):
    response = post(client, monitored.token, {"readings": [row()]}, CONTENT_LENGTH="many")
    assert response.status_code == 400
    assert readings() == 0


def test_get_is_not_allowed(client, monitored):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {monitored.token}").status_code == 405


# Idempotence and order -------------------------------------------------------------------------------------
def test_resending_a_batch_stores_nothing_new_and_counts_duplicates(client, monitored):
    body = {"readings": [row("CO-01", 2.0, 60), row("CO-01", 3.0, 40), row("O2-01", 20.9, 40)]}
    first = post(client, monitored.token, body).json()
    assert (first["stored"], first["duplicates"]) == (3, 0)
    again = post(client, monitored.token, body)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["stored"], again.json()["duplicates"]) == (3, 0, 3)
    assert readings() == 3
    assert fresh(monitored.co).last_value == 3.0


def test_a_reading_repeated_inside_one_batch_is_stored_once(client, monitored):
    same = row("CO-01", 2.0, 60)
    response = post(client, monitored.token, {"readings": [same, dict(same, value=9.0)]})
    assert response.status_code == 200
    assert list(Reading.objects.filter(sensor_id=monitored.co.pk).values_list("value", flat=True)) == [2.0]


def test_late_readings_are_stored_but_do_not_move_the_live_state_backwards(client, monitored):
    m = monitored
    post(client, m.token, {"readings": [row("CO-01", 4.0, 30)]})
    newest = fresh(m.co)
    # an older reading arrives afterwards, and a batch that is out of order in itself
    response = post(client, m.token, {"readings": [row("CO-01", 9.0, 300)]})
    assert response.status_code == 200 and response.json()["stored"] == 1
    late = fresh(m.co)
    assert (late.last_value, late.last_ts) == (4.0, newest.last_ts)
    assert late.last_received_at >= newest.last_received_at
    post(client, m.token, {"readings": [row("CO-01", 6.0, 10), row("CO-01", 7.0, 20)]})
    assert fresh(m.co).last_value == 6.0
    assert readings(m.co) == 4


def test_late_readings_raise_the_missed_alarm_without_moving_the_live_level(client, monitored):
    m = monitored
    post(client, m.token, {"readings": [row("CO-01", 2.0, 10)]})
    late_red = [row("CO-01", 300.0, 200 - 20 * i) for i in range(5)]  # 80 s of red, all before the last reading
    response = post(client, m.token, {"readings": late_red})
    assert response.json()["stored"] == 5
    missed = Alarm.objects.get(sensor=m.co, source=Alarm.Source.THRESHOLD)
    assert (missed.max_level, missed.active) == (4, False)  # over, but still to be acknowledged and answered
    assert fresh(m.co).level == 0


# Derived sensors ---------------------------------------------------------------------------------------
def test_a_derived_sensor_gets_its_own_readings_and_rule_evaluation(client, monitored):
    m = monitored
    response = post(client, m.pond_token, {"readings": [row("SW-01", 98.0, 120), row("SW-01", 99.6, 60)]})
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    assert readings(m.water) == 2
    derived = sorted(Reading.objects.filter(sensor_id=m.freeboard.pk).values_list("ts", "value"))
    assert [round(v, 6) for _ts, v in derived] == [2.0, 0.4]  # freeboard = 100 - water level
    assert [ts for ts, _v in derived] == sorted(Reading.objects.filter(sensor_id=m.water.pk)
                                                .values_list("ts", flat=True))
    freeboard = fresh(m.freeboard)
    assert freeboard.last_value == pytest.approx(0.4) and freeboard.level == 4
    alarm = Alarm.objects.get(sensor=m.freeboard)
    assert (alarm.level, alarm.source, alarm.kind) == (4, Alarm.Source.THRESHOLD, "freeboard")
    assert fresh(m.water).level == 0 and not Alarm.objects.filter(sensor=m.water).exists()


def test_a_deactivated_derived_sensor_is_no_longer_computed(client, monitored, personas):
    services.update_sensor(personas.city, monitored.freeboard, {"active": False})
    response = post(client, monitored.pond_token, {"readings": [row("SW-01", 99.6, 60)]})
    assert response.status_code == 200
    assert readings(monitored.water) == 1 and readings(monitored.freeboard) == 0


def test_a_gateway_writes_only_the_sensors_connected_through_it(client, monitored, personas):
    m = monitored
    other, other_token = services.create_gateway(personas.city, personas.mine_a, "second station")
    response = post(client, other_token, {"readings": [row("CO-01", 1.0, 30)]})
    assert response.status_code == 400
    assert response.json()["rejected"][0]["field"] == "sensor"
    assert not Reading.objects.filter(sensor_id=m.co.pk).exists()


def test_a_busy_database_answers_503_so_the_gateway_sends_again(client, monitored, monkeypatch):
    from django.db import OperationalError

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(ingest, "write_readings", busy)
    response = post(client, monitored.token, {"readings": [row("CO-01", 1.0, 30)]})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert not Reading.objects.exists()
