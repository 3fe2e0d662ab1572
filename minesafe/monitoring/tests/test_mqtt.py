"""MQTT ingest against a real Mosquitto started from the shipped configuration.

In-process tests run `IngestWorker` in a thread (transactional tests, so the worker's own database
connection sees the fixtures and the test sees what the worker committed). The acceptance test at the
end drives the real CLI: `minesafe ingest` killed with SIGKILL mid-stream and the broker restarted, and
still every acknowledged reading is stored exactly once.
"""

import datetime as dt
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import paho.mqtt.client as mqtt
import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import translation
from django.utils.translation import gettext as _
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from minesafe.core.services import bootstrap_reference_data
from minesafe.monitoring import ingest
from minesafe.monitoring.models import Alarm, Level, QuarantinedMessage, Reading, Sensor
from minesafe.monitoring.mqtt import IngestWorker, topic_for
from minesafe.settings import parse_database_url

from . import broker as mosquitto
from .broker import REPO, Publisher, shipped_settings, wait_for_count, wait_until

broker, fresh_broker = mosquitto.broker, mosquitto.fresh_broker  # fixtures
# Committed data, so the worker's own connection sees the fixtures. `available_apps` makes the flush after
# each test cascade: the readings table is not a Django-managed table and would block it otherwise.
transactional = pytest.mark.django_db(transaction=True, available_apps=list(settings.INSTALLED_APPS))


@pytest.fixture(scope="module", autouse=True)
def reference_data_back(django_db_blocker):
    """The transactional tests flush the reference data; put it back for the modules after this one."""
    flushed = []
    yield flushed
    if flushed:
        with django_db_blocker.unblock():
            bootstrap_reference_data()


@pytest.fixture(autouse=True)
def _flushes(request, reference_data_back):
    if request.node.get_closest_marker("django_db"):
        reference_data_back.append(request.node.name)


def body(token: str, readings: list[dict]) -> bytes:
    return json.dumps({"token": token, "readings": readings}).encode()


def row(sensor: Sensor, ts, value, **extra) -> dict:
    return {"sensor": sensor.code, "ts": ts, "value": value, **extra}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def running_worker(mqtt_broker, client_id: str, group: str, forget: bool = True, **options):
    """An IngestWorker in a thread, yielded once its subscription is granted; stopped (and its broker
    session ended unless `forget` is false) afterwards. `options` go to IngestWorker."""
    worker = IngestWorker("127.0.0.1", mqtt_broker.port, client_id=client_id, group=group, **options)
    failures = []

    def run():
        try:
            worker.run()
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=f"worker {client_id}", daemon=True)
    thread.start()
    try:
        assert worker.subscribed.wait(10), f"worker {client_id} did not subscribe"
        yield worker
    finally:
        worker.stopping.set()
        thread.join(10)
        assert not thread.is_alive(), f"worker {client_id} did not stop"
        if forget:
            IngestWorker("127.0.0.1", mqtt_broker.port, client_id=client_id, group=group).forget_session()
    assert not failures, failures


def processed(worker: IngestWorker, messages: int) -> None:
    done = wait_for_count(lambda: worker.stats.messages, messages)
    assert done >= messages, f"the worker processed {done} of {messages} messages, then nothing more"


def readings_of(*sensors: Sensor) -> list[tuple[int, dt.datetime, float]]:
    return list(Reading.objects.filter(sensor__in=sensors).order_by("sensor_id", "ts")
                .values_list("sensor_id", "ts", "value"))


@pytest.fixture
def publisher(broker):
    p = Publisher(broker)
    yield p
    p.close()


@pytest.fixture
def now() -> int:
    return int(time.time())


# The shipped broker configuration -------------------------------------------------------------------
def test_shipped_broker_config_keeps_sessions_and_lifts_the_queue_limit():
    conf = shipped_settings()
    assert conf["persistence"] == "true"
    assert conf["max_queued_messages"] == "0"  # Mosquitto's default (1000) drops QoS 1 messages for an absent worker
    assert conf["max_queued_bytes"] == "0"
    assert "persistence_location" in conf and conf["listener"].startswith("1883")


# One worker ---------------------------------------------------------------------------------------
@transactional
def test_worker_stores_readings_and_updates_live_state(broker, publisher, monitored, now):
    m = monitored
    iso = dt.datetime.fromtimestamp(now - 40, dt.timezone(dt.timedelta(hours=8))).isoformat()
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic_for(m.gateway.mine_id),
                          body(m.token, [row(m.co, iso, 3.0, unit="ppm"), row(m.co, now - 20, 4.5),
                                         row(m.o2, now - 20, 20.6, unit="%")]))
        publisher.publish(topic_for(m.pond_gateway.mine_id), body(m.pond_token, [row(m.water, now - 10, 96.0)]))
        processed(worker, 2)
    assert worker.stats.stored == 5 and worker.stats.quarantined == 0  # water level and its derived freeboard

    stamp = dt.datetime.fromtimestamp
    assert readings_of(m.co, m.o2) == [(m.co.pk, stamp(now - 40, dt.UTC), 3.0), (m.co.pk, stamp(now - 20, dt.UTC), 4.5),
                                       (m.o2.pk, stamp(now - 20, dt.UTC), 20.6)]
    assert [v for _s, _t, v in readings_of(m.water, m.freeboard)] == [96.0, 4.0]
    co = Sensor.objects.get(pk=m.co.pk)
    assert (co.last_value, co.last_ts, co.level) == (4.5, stamp(now - 20, dt.UTC), Level.NONE)
    assert co.last_received_at is not None
    assert Sensor.objects.get(pk=m.freeboard.pk).last_value == 4.0
    assert not QuarantinedMessage.objects.exists()


@transactional
def test_red_co_held_for_the_minimum_duration_opens_an_alarm(broker, publisher, monitored, now):
    m = monitored
    topic = topic_for(m.gateway.mine_id)
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic, body(m.token, [row(m.co, now - 60, 30.0)]))
        processed(worker, 1)
        assert not Alarm.objects.exists()  # a single spike does not alarm (minimum duration 40 s)
        publisher.publish(topic, body(m.token, [row(m.co, now - 40, 31.0)]))
        publisher.publish(topic, body(m.token, [row(m.co, now - 20, 32.0)]))
        processed(worker, 3)
    alarm = Alarm.objects.get(sensor=m.co, source=Alarm.Source.THRESHOLD)
    assert (alarm.level, alarm.value, alarm.mine_id, alarm.status) == (Level.RED, 32.0, m.gateway.mine_id,
                                                                        Alarm.Status.UNACKNOWLEDGED)
    assert Sensor.objects.get(pk=m.co.pk).level == Level.RED
    assert len(readings_of(m.co)) == 3


# Bad messages -------------------------------------------------------------------------------------
def errors_of(q: QuarantinedMessage) -> list[tuple]:
    return [(e["index"], e["field"], e["code"]) for e in q.errors]


@transactional
def test_bad_messages_are_quarantined_with_the_reason_and_good_rows_are_kept(broker, publisher, monitored, now):
    m = monitored
    topic = topic_for(m.gateway.mine_id)
    mixed = body(m.token, [row(m.co, now - 30, 2.0), {"sensor": "NOPE-9", "ts": now - 30, "value": 1.0},
                           row(m.o2, now - 30, "20.9"), row(m.co, now + 3600, 2.0), row(m.o2, now - 30, 20.9)])
    sent = [
        (topic, b"{not json"),
        (topic, json.dumps({"token": m.token, "data": []}).encode()),
        (topic, body("gw_not-a-token", [row(m.co, now - 30, 2.0)])),
        (topic_for(m.gateway_b.mine_id), body(m.token, [row(m.co, now - 25, 2.0)])),  # mine A's gateway, mine B's topic
        ("minesafe/mine-a/telemetry", body(m.token, [row(m.co, now - 25, 2.0)])),
        (topic, mixed),
    ]
    with running_worker(broker, unique("w"), unique("g")) as worker:
        for t, payload in sent:
            publisher.publish(t, payload)
        processed(worker, len(sent))

    assert readings_of(m.co, m.o2) == [(m.co.pk, dt.datetime.fromtimestamp(now - 30, dt.UTC), 2.0),
                                       (m.o2.pk, dt.datetime.fromtimestamp(now - 30, dt.UTC), 20.9)]
    quarantined = QuarantinedMessage.objects.all()
    assert all(q.channel == "mqtt" and m.token not in q.payload for q in quarantined)  # tokens are redacted
    by_payload = {q.payload: q for q in quarantined}
    by_payload = {payload: by_payload[ingest.redact(payload.decode())] for _t, payload in sent}
    assert len(quarantined) == len(sent)

    not_json = by_payload[b"{not json"]
    assert errors_of(not_json) == [(None, "", "invalid")] and not_json.gateway is None and not_json.topic == topic
    assert errors_of(by_payload[sent[1][1]]) == [(None, "readings", "invalid")]
    bad_token = by_payload[sent[2][1]]
    assert errors_of(bad_token) == [(None, "token", "bad_token")] and bad_token.gateway is None
    with translation.override(settings.LANGUAGE_CODE):  # the worker writes reasons in the default language
        assert bad_token.errors[0]["reason"] == _("unknown or deactivated gateway token")
    for other_mine in (by_payload[sent[3][1]], by_payload[sent[4][1]]):
        assert errors_of(other_mine) == [(None, "topic", "wrong_mine")]
        assert (other_mine.gateway_id, other_mine.rows_total, other_mine.rows_rejected) == (m.gateway.pk, 1, 1)

    partial = by_payload[mixed]
    assert errors_of(partial) == [(1, "sensor", "invalid"), (2, "value", "invalid"), (3, "ts", "invalid")]
    assert all(e["reason"] for e in partial.errors)
    assert (partial.mine_id, partial.gateway_id, partial.rows_total, partial.rows_rejected) == \
        (m.gateway.mine_id, m.gateway.pk, 5, 3)
    assert worker.stats.quarantined == len(sent)


# Redelivery and sharing ---------------------------------------------------------------------------
@transactional
def test_a_message_received_again_is_stored_once(broker, publisher, monitored, now):
    m = monitored
    message = body(m.token, [row(m.co, now - 100 + i, 1.0 + i / 10) for i in range(20)])
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic_for(m.gateway.mine_id), message)
        processed(worker, 1)
        first = readings_of(m.co)
        live = Sensor.objects.values_list("last_value", "last_ts", "level", "state").get(pk=m.co.pk)
        for _ in range(2):
            publisher.publish(topic_for(m.gateway.mine_id), message)
        processed(worker, 3)
    assert len(first) == 20
    assert readings_of(m.co) == first
    assert Sensor.objects.values_list("last_value", "last_ts", "level", "state").get(pk=m.co.pk) == live
    assert (worker.stats.stored, worker.stats.readings) == (20, 60)
    assert not QuarantinedMessage.objects.exists()


@transactional
def test_two_workers_in_one_group_share_the_stream_and_store_each_reading_once(broker, publisher, monitored, now):
    m = monitored
    group, count = unique("g"), 200
    start = now - 2 * 3600
    messages = [(topic_for(m.gateway.mine_id),
                 body(m.token, [row(s, start + 5 * i, 1.0 + (i % 7) / 10) for s in (m.co, m.o2)]))
                for i in range(count)]
    with running_worker(broker, unique("w1"), group) as one, running_worker(broker, unique("w2"), group) as two:
        publisher.publish_many(messages)
        wait_for_count(lambda: one.stats.messages + two.stats.messages, count)
        time.sleep(0.3)  # a duplicate delivery, if any, would arrive now
    assert one.stats.messages > 0 and two.stats.messages > 0, "the group did not share the stream"
    assert one.stats.messages + two.stats.messages == count
    rows = readings_of(m.co, m.o2)
    assert len(rows) == 2 * count == len({(s, t) for s, t, _v in rows})
    assert {(s, int(t.timestamp())) for s, t, _v in rows} == \
        {(s.pk, start + 5 * i) for i in range(count) for s in (m.co, m.o2)}


@transactional
def test_messages_published_while_the_worker_is_away_arrive_when_it_returns(broker, publisher, monitored, now):
    """More than Mosquitto's default queue limit (1000 messages) waits in the worker's session."""
    m = monitored
    client_id, group, count = unique("w"), unique("g"), 1500
    with running_worker(broker, client_id, group, forget=False):
        pass  # the session and its subscription now exist at the broker
    start = now - 3 * 3600
    publisher.publish_many((topic_for(m.gateway.mine_id), body(m.token, [row(m.co, start + i, 2.0)]))
                           for i in range(count))
    assert not Reading.objects.filter(sensor=m.co).exists()
    with running_worker(broker, client_id, group) as worker:
        processed(worker, count)
    assert worker.stats.messages == count
    rows = readings_of(m.co)
    assert [int(t.timestamp()) for _s, t, _v in rows] == [start + i for i in range(count)]


@transactional
def test_a_message_that_breaks_validation_is_quarantined_and_the_worker_goes_on(broker, publisher, monitored, now):
    """JSON nested deeper than the parser's recursion limit raises RecursionError, not ValueError. A message
    that makes decoding raise must not stop the worker: unacknowledged, it would come back after every
    restart and no telemetry would get through any more."""
    m = monitored
    topic = topic_for(m.gateway.mine_id)
    poison = b'{"token": "%s", "readings": %s%s}' % (m.token.encode(), b"[" * 100_000, b"]" * 100_000)
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic, poison)
        publisher.publish(topic, body(m.token, [row(m.co, now - 5, 1.5)]))
        processed(worker, 2)
    quarantined = QuarantinedMessage.objects.get()
    assert quarantined.payload == ingest.redact(poison.decode()) and errors_of(quarantined) == [(None, "", "invalid")]
    assert readings_of(m.co) == [(m.co.pk, dt.datetime.fromtimestamp(now - 5, dt.UTC), 1.5)]


POISON = 13.25  # a CO value that makes the commit fail in the test below


@transactional
def test_a_message_whose_commit_fails_is_quarantined_alone_and_the_rest_of_its_batch_is_stored(
        broker, publisher, monitored, now, monkeypatch, caplog):
    """Any failure of a batch's commit other than a busy or lost database (a constraint, a value the database
    refuses, a bug a message triggers) must not stop the worker: unacknowledged, the batch would come back
    after every restart and stop it again. The batch is committed again one message at a time; the message
    that fails on its own is quarantined with the error and acknowledged."""
    m = monitored
    evaluate = ingest.evaluate

    def failing_evaluate(rows, *args, **kwargs):  # the hot path's rule evaluation, failing on one marked value
        if any(POISON in r for r in rows):
            raise KeyError("rule state")
        return evaluate(rows, *args, **kwargs)

    monkeypatch.setattr(ingest, "evaluate", failing_evaluate)
    topic, client_id, group = topic_for(m.gateway.mine_id), unique("w"), unique("g")
    poison = body(m.token, [row(m.o2, now - 29, 20.8), row(m.co, now - 29, POISON)])
    batch = [(topic, body(m.token, [row(m.co, now - 30, 1.0)])), (topic, poison),
             (topic, body(m.token, [row(m.co, now - 28, 1.2), row(m.o2, now - 28, 20.9)]))]
    caplog.set_level(logging.ERROR, logger="minesafe.monitoring.mqtt")
    # One batch of exactly these three messages: it closes when the third arrives.
    with running_worker(broker, client_id, group, forget=False, batch_messages=3, max_wait_s=5) as worker:
        publisher.publish_many(batch)
        processed(worker, 3)
        assert worker.stats.batches == 1
        worker.max_wait_s = 0.05
        publisher.publish(topic, body(m.token, [row(m.co, now - 10, 1.5)]))  # and the worker goes on
        processed(worker, 4)
    assert (worker.stats.messages, worker.stats.stored, worker.stats.quarantined) == (4, 4, 1)

    stamp = dt.datetime.fromtimestamp
    assert readings_of(m.co, m.o2) == [  # nothing of the failing message, all of the others
        (m.co.pk, stamp(now - 30, dt.UTC), 1.0), (m.co.pk, stamp(now - 28, dt.UTC), 1.2),
        (m.co.pk, stamp(now - 10, dt.UTC), 1.5), (m.o2.pk, stamp(now - 28, dt.UTC), 20.9)]
    assert Sensor.objects.get(pk=m.co.pk).last_value == 1.5
    quarantined = QuarantinedMessage.objects.get()
    assert errors_of(quarantined) == [(None, "", "ingest_failed")]
    with translation.override(settings.LANGUAGE_CODE):
        assert quarantined.errors[0]["reason"] == _("the message could not be stored (%(e)s)") % {
            "e": "KeyError: 'rule state'"}
    assert (quarantined.payload, quarantined.topic, quarantined.channel) == (ingest.redact(poison.decode()), topic,
                                                                             "mqtt")
    assert (quarantined.mine_id, quarantined.gateway_id, quarantined.rows_total, quarantined.rows_rejected) == \
        (m.gateway.mine_id, m.gateway.pk, 2, 2)
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert any("quarantined" in r.getMessage() for r in failures), caplog.text

    # Every message was acknowledged: back under the same client id, the broker has nothing to send again.
    with running_worker(broker, client_id, group) as again:
        time.sleep(0.5)  # unacknowledged messages are sent again as soon as the session resumes
    assert again.stats.messages == 0
    assert QuarantinedMessage.objects.count() == 1


@transactional
def test_a_message_with_a_nul_character_is_quarantined_and_the_worker_goes_on(broker, publisher, monitored, now):
    """PostgreSQL cannot store a NUL character in text: the message's quarantine record itself fails there,
    and the message is quarantined again with the NUL replaced."""
    m = monitored
    topic = topic_for(m.gateway.mine_id)
    nul = b'{"token": "%s", "readings": [{"sensor": "\x00"}]}' % m.token.encode()
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic, nul)
        publisher.publish(topic, body(m.token, [row(m.co, now - 5, 1.5)]))
        processed(worker, 2)
    quarantined = QuarantinedMessage.objects.get()
    assert quarantined.payload.replace("\ufffd", "\x00") == ingest.redact(nul.decode())
    assert errors_of(quarantined)[0][2] in {"invalid", "ingest_failed"}
    assert readings_of(m.co) == [(m.co.pk, dt.datetime.fromtimestamp(now - 5, dt.UTC), 1.5)]


@pytest.mark.skipif(not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
                    reason="cuts the worker's connection to the PostgreSQL server")
@transactional
def test_worker_rides_out_a_lost_database_connection(broker, publisher, monitored, now):
    m = monitored
    topic = topic_for(m.gateway.mine_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        began = cursor.fetchone()[0]
    with running_worker(broker, unique("w"), unique("g")) as worker:
        publisher.publish(topic, body(m.token, [row(m.co, now - 20, 1.0)]))
        processed(worker, 1)
        # As a server restart would: the worker's session is gone. Only sessions opened during this test: an
        # older one (the live server of the browser tests, say) belongs to someone else.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND backend_start >= %s", [began])
            assert cursor.fetchall(), "no worker session to cut"
        publisher.publish(topic, body(m.token, [row(m.co, now - 10, 1.1)]))
        processed(worker, 2)
    assert [v for _s, _t, v in readings_of(m.co)] == [1.0, 1.1]


def session_present(port: int, client_id: str) -> bool:
    """Connect as `client_id` without starting clean (and keep the session): did the broker have one?"""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    answer = []
    client.on_connect = lambda c, userdata, flags, reason_code, props: answer.append(flags.session_present)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    try:
        wait_until(lambda: answer, 10, message="CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


@transactional
def test_forget_session_ends_the_workers_session_at_the_broker(broker, monitored):
    client_id = unique("w")
    with running_worker(broker, client_id, unique("g"), forget=False):
        pass
    assert session_present(broker.port, client_id)
    IngestWorker("127.0.0.1", broker.port, client_id=client_id).forget_session()
    assert not session_present(broker.port, client_id)
    IngestWorker("127.0.0.1", broker.port, client_id=client_id).forget_session()


def start_ingest(port: int, client_id: str, group: str, log: Path, var_dir: Path) -> subprocess.Popen:
    """`minesafe ingest` in a subprocess (it touches no database until a message arrives)."""
    env = {**os.environ, "MINESAFE_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        return subprocess.Popen([minesafe_command(), "ingest", "--port", str(port), "--client-id", client_id,
                                 "--group", group], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def test_a_second_ingest_with_the_same_client_id_on_one_host_refuses_to_start(broker, tmp_path):
    """Two `minesafe ingest` on one host with the default client id would take the session from each other
    and reconnect in a loop, each time re-sending the unacknowledged batches (the broker here, Mosquitto
    2.0.11, does not tell the first one why it lost its connection). The second one exits non-zero and says
    why; the first keeps its connection."""
    client_id, group = unique("w"), unique("g")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_ingest(broker.port, client_id, group, first_log, tmp_path)
    try:
        wait_until(lambda: "subscribed to" in text_of(first_log) or first.poll() is not None, 30,
                   message="the first worker to subscribe")
        assert first.poll() is None, text_of(first_log)
        second = start_ingest(broker.port, client_id, group, second_log, tmp_path)
        other = start_ingest(broker.port, unique("w"), group, tmp_path / "other.log", tmp_path)  # another id is fine
        assert second.wait(30) == 1, text_of(second_log)
        assert f"CommandError: another `minesafe ingest` on this host already uses client id '{client_id}' with " \
               f"the broker 127.0.0.1:{broker.port}. Give each worker its own stable --client-id." \
               in text_of(second_log)
        assert "connected to" not in text_of(second_log)  # it never reached the broker
        wait_until(lambda: "subscribed to" in text_of(tmp_path / "other.log") or other.poll() is not None, 30,
                   message="a worker with another client id to subscribe")
        other.send_signal(signal.SIGTERM)
        assert other.wait(30) == 0, text_of(tmp_path / "other.log")
        assert first.poll() is None and "disconnected" not in text_of(first_log), text_of(first_log)
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, text_of(first_log)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        IngestWorker("127.0.0.1", broker.port, client_id=client_id).forget_session()


def test_a_worker_told_its_session_was_taken_over_exits_instead_of_reconnecting(tmp_path):
    """A broker that says why it closes the connection (MQTT v5 "Session taken over", 0x8E: Mosquitto from
    2.0.15 on, EMQX, HiveMQ) stops the worker: reconnecting would take the session back from the other worker.
    The Mosquitto installed here (2.0.11) only closes the connection, so a minimal MQTT v5 server plays
    the broker that sends the reason."""
    client_id, log = unique("w"), tmp_path / "ingest.log"
    with mosquitto.TakeoverBroker() as server:
        worker = start_ingest(server.port, client_id, "g", log, tmp_path)
        try:
            assert worker.wait(30) == 1, text_of(log)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        output = text_of(log)
        assert f"CommandError: another worker connected to 127.0.0.1:{server.port} with this worker's client id " \
               f"'{client_id}' and took over its session; this worker stopped. Give each worker its own stable " \
               f"--client-id." in output
        assert "subscribed to" in output and "reconnecting" not in output and "stopped: 0 messages" in output
        assert server.connections == 1  # it did not come back


# The acceptance test: kill the real `minesafe ingest`, restart the broker, lose and duplicate nothing -------
SENSORS, STEPS = 10, 10  # each message: 10 sensors x 10 timestamps = 100 readings
SETUP = """
import datetime as dt, json
from minesafe.core.models import Organisation, Region, User
from minesafe.core.services import bootstrap_reference_data
from minesafe.core.validators import credit_code_check_char
from minesafe.monitoring import services
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

bootstrap_reference_data()
county = Region.objects.get(code="130827")
city = User.objects.create_user(username="city", password="Test@pass2026", role=User.Role.CITY, display_name="city",
                                organisation=Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU))
prefix = "91130827MA000000A"
enterprise, _ = registry.get_or_create_enterprise(city, "宽城测试矿业有限公司", prefix + credit_code_check_char(prefix),
                                                  county)
mine = registry.create_mine(city, code="KC-001", name="宽城甲铁矿", enterprise=enterprise, county=county,
                            mine_type=Mine.Type.UNDERGROUND, mineral="铁矿", design_capacity=40,
                            status_since=dt.date(2024, 1, 1))
gateway, token = services.create_gateway(city, mine, "井下监控分站")
sensors = [services.create_sensor(city, mine, code=f"CO-{i:02d}", name=f"CO {i}", kind="co", gateway=gateway)
           for i in range(%(sensors)d)]
print("SETUP " + json.dumps({"mine": mine.pk, "token": token, "sensors": [[s.code, s.pk] for s in sensors]}))
"""


class ReadingStore:
    """The subprocess's database, read directly (sqlite3 or psycopg), outside Django."""

    def __init__(self, url: str):
        self.url = url
        parts = urlparse(url)
        self.sqlite = parts.scheme == "sqlite"

    def query(self, sql: str) -> list[tuple]:
        if self.sqlite:
            db = sqlite3.connect(urlparse(self.url).path[1:], timeout=20)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        with psycopg.connect(self.url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
            return db.execute(sql).fetchall()

    def count(self) -> int:
        return self.query("SELECT count(*) FROM monitoring_reading")[0][0]

    def readings(self) -> dict[tuple[int, int], float]:
        out = {}
        for sensor_id, ts, value in self.query("SELECT sensor_id, ts, value FROM monitoring_reading"):
            if isinstance(ts, str):  # SQLite keeps naive UTC text
                ts = dt.datetime.fromisoformat(ts).replace(tzinfo=dt.UTC)
            out[(sensor_id, round(ts.timestamp()))] = value
        return out


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database for the subprocesses: a SQLite file, or a new PostgreSQL database when the suite
    runs on PostgreSQL (dropped afterwards)."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if urlparse(suite_url).scheme not in {"postgres", "postgresql"}:
        yield f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
        return
    name = f"test_ms_mqtt_{uuid.uuid4().hex[:10]}"
    server = parse_database_url(suite_url)
    admin = psycopg.connect(host=server["HOST"], port=server["PORT"] or None, user=server["USER"] or None,
                            password=server["PASSWORD"] or None, dbname=server["NAME"], autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(suite_url)._replace(path=f"/{name}"))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def minesafe_command() -> str:
    here = Path(sys.executable).with_name("minesafe")
    return str(here if here.exists() else REPO / ".venv" / "bin" / "minesafe")


def text_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_killed_worker_and_restarted_broker_lose_and_duplicate_nothing(fresh_broker, fresh_database, tmp_path):
    """The issue's acceptance test, black-box: `minesafe ingest` is killed with SIGKILL while the stream
    flows, messages keep coming while it is away, the broker restarts, the worker comes back under the same
    client id, and the readings table holds each acknowledged reading exactly once with its value."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {**os.environ, "DATABASE_URL": fresh_database, "MINESAFE_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("MINESAFE_TEST_DB_NAME", None)
    cli = minesafe_command()
    subprocess.run([cli, "migrate", "-v", "0"], env=env, check=True, timeout=120, cwd=REPO)
    setup = subprocess.run([cli, "shell", "-c", SETUP % {"sensors": SENSORS}], env=env, check=True, timeout=60,
                           capture_output=True, text=True, cwd=REPO)
    config = json.loads(next(line[6:] for line in setup.stdout.splitlines() if line.startswith("SETUP ")))
    sensors = [(code, pk) for code, pk in config["sensors"]]
    topic, token = topic_for(config["mine"]), config["token"]
    store = ReadingStore(fresh_database)

    base = int(time.time()) - 2 * 3600
    acknowledged: dict[tuple[int, int], float] = {}  # (sensor id, epoch second) -> value, once the broker has it

    def message(k: int) -> tuple[str, bytes, dict]:
        readings, values = [], {}
        for j in range(STEPS):
            t = base + k * STEPS + j
            stamp = t if k % 2 else dt.datetime.fromtimestamp(t, dt.timezone(dt.timedelta(hours=8))).isoformat()
            for i, (code, pk) in enumerate(sensors):
                value = 1.0 + (k * 7 + j * 3 + i) % 30 / 10  # below every CO threshold, no alarm work
                readings.append({"sensor": code, "ts": stamp, "value": value})
                values[(pk, t)] = value
        return topic, body(token, readings), values

    def publish(publisher: Publisher, first_k: int, last_k: int) -> None:
        for k in range(first_k, last_k + 1, 20):
            batch = [message(i) for i in range(k, min(k + 20, last_k + 1))]
            publisher.publish_many((t, payload) for t, payload, _v in batch)  # asserts every PUBACK
            for _t, _p, values in batch:
                acknowledged.update(values)

    client_id = unique("ingest")
    processes: list[subprocess.Popen] = []

    def start_ingest(n: int) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"ingest-{n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([cli, "ingest", "--port", str(fresh_broker.port), "--client-id", client_id],
                                    env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        processes.append(proc)
        wait_until(lambda: "subscribed to" in text_of(log) or proc.poll() is not None, 30,
                   message=f"ingest {n} to subscribe")
        assert proc.poll() is None, f"ingest exited with {proc.returncode}:\n{text_of(log)}"
        return proc, log

    publishers: list[Publisher] = []
    try:
        first, first_log = start_ingest(1)
        publisher = Publisher(fresh_broker)
        publishers.append(publisher)
        publish(publisher, 0, 0)
        wait_until(lambda: store.count() == STEPS * SENSORS, 30, message="the first message stored")

        # Stream messages 1-300 from another thread; kill the worker once it has stored some of them.
        failures = []

        def stream() -> None:
            try:
                publish(publisher, 1, 300)
            except BaseException as exc:
                failures.append(exc)

        streamer = threading.Thread(target=stream)
        streamer.start()
        wait_until(lambda: store.count() >= 21 * STEPS * SENSORS or not streamer.is_alive(), 30,
                   interval=0.01, message="the worker to store part of the stream")
        stored_at_kill = store.count()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        streamer.join(60)
        assert not failures, failures
        assert first.returncode == -signal.SIGKILL
        assert stored_at_kill < 301 * STEPS * SENSORS, "the worker was killed after the stream, not during it"

        publish(publisher, 301, 400)  # the worker is away: its session queues these
        publisher.close()
        publishers.clear()
        fresh_broker.restart()

        second, second_log = start_ingest(2)
        assert "session present: True" in text_of(second_log), text_of(second_log)  # it survived the restart
        publisher = Publisher(fresh_broker)
        publishers.append(publisher)
        publish(publisher, 401, 500)

        wait_for_count(store.count, len(acknowledged), interval=0.1)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, text_of(second_log)
    finally:
        for p in publishers:
            p.close()
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    print(f"killed with {stored_at_kill} readings stored; second worker: {text_of(second_log)}")
    assert len(acknowledged) == 501 * STEPS * SENSORS
    stored = store.readings()
    assert len(stored) == store.count() == len(acknowledged), (
        f"{len(acknowledged)} readings acknowledged by the broker, {store.count()} stored (missing "
        f"{len(acknowledged.keys() - stored.keys())}, unexpected {len(stored.keys() - acknowledged.keys())})")
    assert store.query("SELECT count(*) FROM (SELECT sensor_id, ts FROM monitoring_reading "
                       "GROUP BY sensor_id, ts HAVING count(*) > 1) AS d")[0][0] == 0
    assert stored == acknowledged
    assert store.query("SELECT count(*) FROM monitoring_quarantinedmessage")[0][0] == 0
    assert "stopped:" in text_of(second_log)
