"""`minesafe ingest`: consume telemetry from the MQTT broker (run N of these to share the load)."""

import logging
import os
import signal
import socket

from django.core.management.base import BaseCommand

from minesafe.monitoring.mqtt import IngestWorker


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


class Command(BaseCommand):
    help = "Consume telemetry from MQTT (QoS 1, persistent session, acknowledged after commit)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("MINESAFE_MQTT_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("MINESAFE_MQTT_PORT", "1883")))
        parser.add_argument("--client-id", default=os.environ.get("MINESAFE_MQTT_CLIENT_ID")
                            or f"minesafe-ingest-{socket.gethostname()}",
                            help="stable per worker: the broker keeps this worker's session under it")
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
        stats = worker.run()
        self.stdout.write(f"stopped: {stats.messages} messages, {stats.stored} readings stored, "
                          f"{stats.quarantined} quarantined")
