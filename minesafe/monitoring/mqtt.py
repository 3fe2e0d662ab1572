"""The MQTT ingest worker behind `minesafe ingest`.

No acknowledged reading may be lost and none duplicated, so:
- a persistent session (clean start off, a session expiry): while the worker is away the broker keeps
  its subscription and queues its messages (the shipped broker config lifts the queue limit);
- QoS 1 with manual acknowledgement: a message is acknowledged (PUBACK) only after the transaction
  holding its readings has committed, so a crash before the commit means the broker sends it again;
- re-sent messages are harmless: readings are keyed by (sensor, ts).
- a batch meets a busy or lost database by waiting and trying again (decoding too: it reads gateways and
  sensors); a message that makes decoding fail otherwise is quarantined, never left to come back forever;
- a batch whose commit fails for any other reason (a constraint, a value the database refuses, a bug a
  message triggers) is committed again one message at a time, and a message that still fails on its own is
  quarantined with the error and acknowledged: unacknowledged, it would come back after every restart and
  stop the worker again.
- acknowledgements are tied to the connection they arrived on; after a reconnect the broker re-sends
  what was not acknowledged, so stale message ids are never acknowledged (the broker may reuse them).

Several workers share the load through the shared subscription `$share/<group>/minesafe/+/telemetry`.
Each needs its own client id: the broker keeps a session per client id, and a second connection with the
same id takes the session over. A worker whose session is taken over stops (`SessionTakenOver`) instead of
reconnecting, which would take it back and start a loop of takeovers, each re-sending unacknowledged batches.
The broker must say so (MQTT v5 reason "Session taken over": Mosquitto from 2.0.15 on; older ones just close
the connection), so `minesafe ingest` also refuses to start a second worker with the same id on one host.
The network loop runs in paho's thread; batches are written in the worker's main thread.
"""

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import ingest
from .models import QuarantinedMessage

logger = logging.getLogger("minesafe.monitoring.mqtt")
TOPIC_FILTER = "minesafe/+/telemetry"
TOPIC = re.compile(r"^minesafe/(\d+)/telemetry$")
SESSION_EXPIRY_S = 7 * 24 * 3600  # queued messages wait up to a week for a worker to return
SESSION_TAKEN_OVER = 0x8E  # MQTT v5 DISCONNECT reason: another connection with this client id took the session
TRANSIENT = (OperationalError, InterfaceError)  # a locked or unreachable database: wait and try again


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


class SessionTakenOver(RuntimeError):
    """Another worker connected with this worker's client id; this one stopped."""


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
        self.taken_over: str | None = None  # why the worker stopped on its own (see `_on_disconnect`)
        self.connected_at = 0.0
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
        self.connected_at = time.monotonic()
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
        if getattr(reason_code, "value", reason_code) == SESSION_TAKEN_OVER:
            # Reconnecting would take the session back from the other worker, which would do the same: a
            # loop of takeovers, each re-sending the unacknowledged batches. Stop, and say why.
            self.taken_over = (f"another worker connected to {self.host}:{self.port} with this worker's client id "
                               f"{self.client_id!r} and took over its session; this worker stopped. Give each "
                               f"worker its own stable --client-id.")
            logger.error("%s", self.taken_over)
            self.stopping.set()
            client.disconnect()  # paho's loop does not reconnect after this
            return
        if not self.stopping.is_set():
            # A broker that does not say "Session taken over" (Mosquitto before 2.0.15) just closes the connection.
            short = self.connected_at and time.monotonic() - self.connected_at < 10
            hint = " soon after connecting (if it repeats, another worker may use this client id)" if short else ""
            logger.warning("disconnected from the broker (%s)%s; reconnecting", reason_code, hint)

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

    def _retrying(self, work):
        """`work()`, waited for and tried again while the database is busy or away (nothing is acknowledged
        meanwhile); None if the worker is stopped while waiting. Any other exception is the caller's."""
        delay = 0.1
        while True:
            try:
                return work()
            except TRANSIENT as exc:
                if self.stopping.is_set():
                    return None
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                close_old_connections()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _ack(self, received: list[Received]) -> None:
        for r in received:
            if r.connection == self.connection and self.connected.is_set():
                self.client.ack(r.mid, r.qos)

    def _count(self, outcome: ingest.Outcome, messages: int) -> None:
        self.stats.messages += messages
        self.stats.readings += outcome.accepted + outcome.rejected
        self.stats.stored += outcome.stored
        self.stats.quarantined += outcome.quarantined

    def process(self, batch: list[Received]) -> None:
        """Decode, commit (retrying while the database is busy or away), then acknowledge. A batch that
        fails otherwise is committed one message at a time (see `process_one_by_one`)."""
        try:  # decoding reads gateways and sensors, so it is retried with the commit
            outcome = self._retrying(lambda: ingest.commit([self.decode(r) for r in batch]))
        except Exception:
            logger.exception("a batch of %d messages could not be committed; committing them one at a time",
                             len(batch))
            self.process_one_by_one(batch)
        else:
            if outcome is None:  # stopped while the database was away: the broker sends the batch again
                return
            self._ack(batch)
            self._count(outcome, len(batch))
        self.stats.batches += 1

    def process_one_by_one(self, batch: list[Received]) -> None:
        """Each message in its own transaction, acknowledged once committed; a message that fails on its
        own is quarantined with the error and acknowledged, so it cannot stop the worker after every restart."""
        for r in batch:
            decoded: list[ingest.Message] = []

            def commit_one(r=r, decoded=decoded):
                decoded[:] = [self.decode(r)]
                return ingest.commit(decoded)

            try:
                outcome = self._retrying(commit_one)
            except Exception as exc:
                # If even the quarantine record cannot be written, the database itself is broken: that
                # exception stops the worker, and the message stays unacknowledged.
                logger.exception("could not store a message on %s; quarantined", r.topic)
                outcome = self._retrying(lambda r=r, d=decoded, e=exc: self.quarantine(r, d[0] if d else None, e))
            if outcome is None:  # stopped while the database was away: the rest comes again
                return
            self._ack([r])
            self._count(outcome, 1)

    @staticmethod
    def quarantine(r: Received, decoded: ingest.Message | None, exc: BaseException) -> ingest.Outcome:
        """Keep a message that could not be stored, with the error (the traceback is in the log) and, if it
        was decoded, its gateway and mine (so the people who see that mine's quarantine see it)."""
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        error = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        # PostgreSQL text and jsonb cannot hold NUL characters (a NUL in the payload may be why we are here).
        payload = r.payload.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        m = ingest.Message(channel="mqtt", payload=payload, topic=r.topic)
        if decoded is not None:
            m.gateway, m.rows_total = decoded.gateway, decoded.rows_total
        m.errors.append({"index": None, "field": "", "code": "ingest_failed",
                         "reason": _("the message could not be stored (%(e)s)") % {"e": error.replace("\x00", "")}})
        with transaction.atomic():
            QuarantinedMessage.objects.bulk_create([ingest.quarantine_record(m, timezone.now())])
        return ingest.Outcome(rejected=m.rows_total, quarantined=1)

    def run(self, until: float | None = None) -> Stats:
        """Process batches until stopped (or `until`, a monotonic deadline, for tests and benchmarks).
        Raises SessionTakenOver if another worker connected with this worker's client id."""
        self.start()
        try:
            while not self.stopping.is_set() and (until is None or time.monotonic() < until):
                batch = self.next_batch()
                if batch:
                    self.process(batch)
        finally:
            self.stop()
        if self.taken_over:
            raise SessionTakenOver(self.taken_over)
        return self.stats
