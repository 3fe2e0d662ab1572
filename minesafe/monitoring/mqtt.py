"""The MQTT ingest worker behind `minesafe ingest`.

No acknowledged reading may be lost and none duplicated, so:
- a persistent session (clean start off, a session expiry): while the worker is away the broker keeps
  its subscription and queues its messages (the shipped broker config lifts the queue limit);
- QoS 1 with manual acknowledgement: a message is acknowledged (PUBACK) only after the transaction
  holding its readings has committed, so a crash before the commit means the broker sends it again;
- re-sent messages are harmless: readings are keyed by (sensor, ts).
- acknowledgements are tied to the connection they arrived on; after a reconnect the broker re-sends
  what was not acknowledged, so stale message ids are never acknowledged (the broker may reuse them).

Several workers share the load through the shared subscription `$share/<group>/minesafe/+/telemetry`.
The network loop runs in paho's thread; batches are written in the worker's main thread.
"""

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from django.db import OperationalError, close_old_connections
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import ingest

logger = logging.getLogger("minesafe.monitoring.mqtt")
TOPIC_FILTER = "minesafe/+/telemetry"
TOPIC = re.compile(r"^minesafe/(\d+)/telemetry$")
SESSION_EXPIRY_S = 7 * 24 * 3600  # queued messages wait up to a week for a worker to return


def topic_for(mine_id: int) -> str:
    return f"minesafe/{mine_id}/telemetry"


def mine_from_topic(topic: str) -> int | None:
    match = TOPIC.match(topic)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    connection: int  # which connection it arrived on (see module docstring)


@dataclass
class Stats:
    messages: int = 0
    readings: int = 0
    stored: int = 0
    quarantined: int = 0
    batches: int = 0


class IngestWorker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, client_id: str = "minesafe-ingest-1",
                 group: str | None = "minesafe", username: str | None = None, password: str | None = None,
                 batch_messages: int = 200, max_wait_s: float = 0.05, receive_maximum: int = 1000):
        self.host, self.port = host, port
        self.subscription = f"$share/{group}/{TOPIC_FILTER}" if group else TOPIC_FILTER
        self.batch_messages, self.max_wait_s = batch_messages, max_wait_s
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.stats = Stats()
        self.connection = 0
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.connect_properties = Properties(PacketTypes.CONNECT)
        self.connect_properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self.connect_properties.ReceiveMaximum = receive_maximum

    # paho's network thread -------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.error("broker refused the connection: %s", reason_code)
            return
        self.connection += 1
        client.subscribe(self.subscription, qos=1)
        logger.info("connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        self.connection += 1  # what arrived on the old connection must not be acknowledged on a new one
        if not self.stopping.is_set():
            logger.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg):
        self.inbox.put(Received(msg.mid, msg.qos, msg.topic, msg.payload, self.connection))

    # the worker's thread ------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                  properties=self.connect_properties)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def forget_session(self) -> None:
        """End this client id's session at the broker (a worker taken out of service: otherwise the
        shared subscription keeps handing it a share of the messages to hold until it returns)."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        self.client.connect(self.host, self.port, keepalive=10, clean_start=True, properties=props)
        self.client.loop_start()
        self.client.disconnect()
        self.client.loop_stop()

    def next_batch(self) -> list[Received]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.batch_messages:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[Received]) -> None:
        """Decode, commit (retrying while the database is busy or away), then acknowledge."""
        messages = [ingest.decode("mqtt", r.payload, topic=r.topic, topic_mine=mine_from_topic(r.topic))
                    for r in batch]
        for m, r in zip(messages, batch, strict=True):
            if mine_from_topic(r.topic) is None and not m.errors:
                m.errors.append({"index": None, "field": "topic", "reason": "topic is not minesafe/<mine>/telemetry",
                                 "code": "wrong_mine"})
                m.parsed = ingest.Parsed()
        delay = 0.1
        while True:
            try:
                outcome = ingest.commit(messages)
                break
            except OperationalError as exc:  # locked or unreachable database: nothing committed, nothing acked
                if self.stopping.is_set():
                    return
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                close_old_connections()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        for r in batch:
            if r.connection == self.connection and self.connected.is_set():
                self.client.ack(r.mid, r.qos)
        self.stats.messages += len(batch)
        self.stats.readings += outcome.accepted + outcome.rejected
        self.stats.stored += outcome.stored
        self.stats.quarantined += outcome.quarantined
        self.stats.batches += 1

    def run(self, until: float | None = None) -> Stats:
        """Process batches until stopped (or `until`, a monotonic deadline, for tests and benchmarks)."""
        self.start()
        try:
            while not self.stopping.is_set() and (until is None or time.monotonic() < until):
                batch = self.next_batch()
                if batch:
                    self.process(batch)
        finally:
            self.stop()
        return self.stats
