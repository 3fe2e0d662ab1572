"""`minesafe simulate`: send the demo gateways' telemetry over HTTP or MQTT, live or time-accelerated."""

import datetime as dt
import logging
import os
import signal

from django.core.management.base import BaseCommand, CommandError

from minesafe.monitoring import simulator as sim
from minesafe.monitoring.demo import tokens_path


class Command(BaseCommand):
    help = ("Simulate the demo gateways: realistic readings (and a live scenario: a CO excursion, a silent "
            "sensor, a rainstorm at a tailings pond) posted over HTTP or published over MQTT.")

    def add_arguments(self, parser):
        parser.add_argument("--via", choices=["http", "mqtt"], default="http")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the MineSafe server (HTTP)")
        parser.add_argument("--mqtt-host", default=os.environ.get("MINESAFE_MQTT_HOST", "127.0.0.1"))
        parser.add_argument("--mqtt-port", type=int, default=int(os.environ.get("MINESAFE_MQTT_PORT", "1883")))
        parser.add_argument("--speed", type=float, default=1.0,
                            help="time acceleration; above 1 the run starts in the past and ends at the present")
        parser.add_argument("--duration", type=float, default=None, help="wall-clock seconds (default: forever)")
        parser.add_argument("--tokens", default=None,
                            help=f"the demo gateways file written by the demo seed (default {tokens_path()})")
        parser.add_argument("--seed", type=int, default=None, help="noise seed (default: the demo's)")

    def handle(self, *args, via, url, mqtt_host, mqtt_port, speed, duration, tokens, seed, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        if speed <= 0:
            raise CommandError("--speed must be positive")
        if duration is not None and duration <= 0:
            raise CommandError("--duration must be positive")
        path = tokens or tokens_path()
        try:
            plan = sim.Plan.load(path)
        except FileNotFoundError:
            raise CommandError(f"no demo gateways file at {path}: seed the demo first (`minesafe demo`)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot read the demo gateways file {path}: {exc}") from exc
        if not plan.gateways:
            raise CommandError(f"{path} lists no gateways")
        if via == "http":
            transport = sim.HttpTransport(url)
            target = transport.endpoint
        else:
            transport = sim.MqttTransport(mqtt_host, mqtt_port, username=os.environ.get("MINESAFE_MQTT_USERNAME"),
                                          password=os.environ.get("MINESAFE_MQTT_PASSWORD"))
            target = f"mqtt://{mqtt_host}:{mqtt_port} minesafe/<mine>/telemetry"
        start = sim.default_start(speed, duration)
        simulator = sim.Simulator(plan, transport, speed=speed, start=start, seed=seed)

        def stop(signum, frame):
            simulator.stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        began = dt.datetime.fromtimestamp(start).astimezone()
        self.stdout.write(f"simulating {len(plan.gateways)} gateways, {plan.sensor_count()} sensors → {target} "
                          f"(×{speed:g}, simulated time from {began:%Y-%m-%d %H:%M:%S %z})")
        self.stdout.flush()
        try:
            simulator.run(duration=duration, report=self.report)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.report(simulator)

    def report(self, simulator: sim.Simulator) -> None:
        s = simulator.stats
        now = dt.datetime.fromtimestamp(simulator.now).astimezone()
        self.stdout.write(f"{now:%H:%M:%S} sent {s.readings} readings in {s.batches} batches; "
                          f"{s.buffered} waiting, {s.retries} retries, {s.dropped} refused")
        self.stdout.flush()
