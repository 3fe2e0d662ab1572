"""`minesafe ingest`: consume telemetry from the MQTT broker (run N of these to share the load, each with
its own client id)."""

import fcntl
import hashlib
import logging
import os
import re
import signal
import socket
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from minesafe.monitoring.mqtt import IngestWorker, SessionTakenOver


def worker_logging() -> None:
    """The worker's own log (connections, sessions, database retries) at INFO with timestamps. The
    settings give the root logger a handler at WARNING, so `logging.basicConfig` would change nothing."""
    log = logging.getLogger("minesafe.monitoring.mqtt")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    log.propagate = False


def hold_client_id(host: str, port: int, client_id: str) -> int | None:
    """Lock this client id (for this broker) on this host for the life of the process; None if another
    process holds it. A second worker with the same id would take the first one's session over, and the
    first would reconnect and take it back, in a loop. Brokers that tell the first worker (MQTT v5
    "Session taken over") make it stop, but Mosquitto sends that only from 2.0.15 on: on older brokers
    the first worker sees a plain lost connection. The lock catches the usual case, two workers on one
    host left with the default id, on any broker. The kernel releases it when the process ends, however."""
    key = f"{host}:{port}/{client_id}"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", client_id)[:80] + "-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = Path(settings.VAR_DIR) / "ingest"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {key}\n".encode())
    return fd


class Command(BaseCommand):
    help = ("Consume telemetry from MQTT (QoS 1, persistent session, acknowledged after commit). Run several "
            "to share the load, but give each worker its own --client-id, the same one every time it starts: the "
            "broker keeps the worker's session (its subscription and the messages waiting for it) under that id. "
            "The default, minesafe-ingest-<hostname>, suits one worker per host. A second worker with the same id "
            "on the same host refuses to start; one on another host takes the session over, and the first then "
            "stops with an error if the broker says so (MQTT v5 'Session taken over'; Mosquitto 2.0.15 and later).")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("MINESAFE_MQTT_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("MINESAFE_MQTT_PORT", "1883")))
        parser.add_argument("--client-id", default=os.environ.get("MINESAFE_MQTT_CLIENT_ID")
                            or f"minesafe-ingest-{socket.gethostname()}",
                            help="unique per worker and stable across its restarts: the broker keeps this worker's "
                                 "session under it (default minesafe-ingest-<hostname>: one worker per host; "
                                 "or MINESAFE_MQTT_CLIENT_ID)")
        parser.add_argument("--group", default="minesafe", help="shared-subscription group ('' for none)")
        parser.add_argument("--batch", type=int, default=200, help="messages per transaction at most")
        parser.add_argument("--max-wait-ms", type=int, default=50, help="wait this long to fill a batch")
        parser.add_argument("--forget", action="store_true",
                            help="end this client id's broker session and exit (a worker taken out of service)")

    def handle(self, *args, host, port, client_id, group, batch, max_wait_ms, forget, **options):
        worker_logging()
        worker = IngestWorker(host, port, client_id=client_id, group=group or None,
                              username=os.environ.get("MINESAFE_MQTT_USERNAME"),
                              password=os.environ.get("MINESAFE_MQTT_PASSWORD"),
                              batch_messages=batch, max_wait_s=max_wait_ms / 1000)

        if hold_client_id(host, port, client_id) is None:
            raise CommandError(f"another `minesafe ingest` on this host already uses client id {client_id!r} "
                               f"with the broker {host}:{port}. Give each worker its own stable --client-id.")
        if forget:
            worker.forget_session()
            self.stdout.write(f"session of {client_id} ended")
            return

        def stop(signum, frame):
            worker.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"ingesting from mqtt://{host}:{port} as {client_id} ({worker.subscription})", ending="\n")
        self.stdout.flush()
        try:
            worker.run()
        except SessionTakenOver as exc:  # a second worker uses this client id: exit non-zero, do not fight it
            self.report(worker)
            raise CommandError(str(exc)) from exc
        self.report(worker)

    def report(self, worker: IngestWorker) -> None:
        stats = worker.stats
        self.stdout.write(f"stopped: {stats.messages} messages, {stats.stored} readings stored, "
                          f"{stats.quarantined} quarantined")
