"""The MQTT ingest worker behind `minesafe ingest`.

No acknowledged reading may be lost and none duplicated, so:
- a persistent session (clean start off, a session expiry): while the worker is away the broker keeps
  its subscription and queues its messages (the shipped broker config lifts the queue limit);
- QoS 1 with manual acknowledgement: a message is acknowledged (PUBACK) only after the transaction
  holding its readings has committed, so a crash before the commit means the broker sends it again;
- re-sent messages are harmless: readings are keyed by (sensor, ts).
- a batch meets a busy or lost database by waiting and trying again (decoding too: it reads gateways and
  sensors); a message that makes decoding fail otherwise is quarantined, never left to come back forever.
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
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from django.utils.translation import gettext as _
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
        self.subscribed = threading.Event()  # the broker granted the subscription on this connection
        self.stopping = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client_id, self.credentials = client_id, (username, password)
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

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        refused = [code for code in reason_codes if code.is_failure]
        if refused:  # e.g. the broker's ACL: the worker would sit connected and receive nothing
            logger.error("broker refused the subscription to %s: %s", self.subscription, refused)
            return
        logger.info("subscribed to %s", self.subscription)
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        self.subscribed.clear()
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

    def forget_session(self, timeout: float = 10.0) -> None:
        """End this client id's session at the broker (a worker taken out of service: otherwise the
        shared subscription keeps handing it a share of the messages to hold until it returns).

        A bare client without the worker's callbacks: the worker's would subscribe on connect, and a
        session that joins the group only to expire would take messages with it."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if self.credentials[0]:
            client.username_pw_set(*self.credentials)
        acknowledged = threading.Event()
        client.on_connect = lambda *args: acknowledged.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        client.connect(self.host, self.port, keepalive=10, clean_start=True, properties=props)
        client.loop_start()
        try:
            if not acknowledged.wait(timeout):
                raise TimeoutError(f"the broker at {self.host}:{self.port} did not answer within {timeout} s")
        finally:
            client.disconnect()
            client.loop_stop()

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

    @staticmethod
    def decode(r: Received) -> ingest.Message:
        topic_mine = mine_from_topic(r.topic)
        try:
            m = ingest.decode("mqtt", r.payload, topic=r.topic, topic_mine=topic_mine)
        except DatabaseError:
            raise  # the database, not the message: `process` retries
        except Exception as exc:
            # A message that breaks validation must not stop the worker: unacknowledged, the broker would
            # send it again after every restart, and no telemetry would get through any more.
            logger.exception("could not decode a message on %s; quarantined", r.topic)
            m = ingest.Message(channel="mqtt", payload=r.payload.decode("utf-8", errors="replace"), topic=r.topic)
            m.errors.append({"index": None, "field": "", "code": "invalid",
                             "reason": _("the message could not be processed (%(e)s)") % {"e": type(exc).__name__}})
            return m
        if topic_mine is None and not m.errors:
            m.errors.append({"index": None, "field": "topic", "code": "wrong_mine",
                             "reason": _("the topic is not minesafe/<mine>/telemetry")})
            m.parsed = ingest.Parsed()
        return m

    def process(self, batch: list[Received]) -> None:
        """Decode, commit (retrying while the database is busy or away), then acknowledge."""
        delay = 0.1
        while True:
            try:  # decoding reads gateways and sensors, so it is retried with the commit
                outcome = ingest.commit([self.decode(r) for r in batch])
                break
            except (OperationalError, InterfaceError) as exc:  # locked or unreachable database: nothing acked
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
