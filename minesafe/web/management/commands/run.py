"""`minesafe run`: the whole platform in one process on the embedded default.

Migrates, loads reference data, seeds the demo city into an empty database (and adds its monitoring
to a demo database seeded before monitoring existed), starts the background job consumer in-process,
serves HTTP with static files and, once the server listens, runs the telemetry simulator in a thread
posting the demo gateways' readings to the server itself. Production runs gunicorn and huey workers
instead (see README).
"""

import logging
import signal
import socketserver
import sys
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer, get_internal_wsgi_application
from django.utils.module_loading import autodiscover_modules

from minesafe.core.models import User
from minesafe.core.services import bootstrap_reference_data
from minesafe.monitoring import simulator as sim
from minesafe.monitoring.demo import tokens_path
from minesafe.monitoring.models import Sensor
from minesafe.registry.models import Mine
from minesafe.web.demo import DEMO_PASSWORD, demo_logins, ensure_demo_monitoring, is_demo_database, seed_demo


class QuietTelemetry(logging.Filter):
    """Keep the simulator's stream of successful telemetry posts out of the request log."""

    def filter(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.levelno < logging.WARNING and args and str(args[0]).startswith("POST /api/v1/telemetry"))


def local_url(host: str, port: int) -> str:
    """How a client on this machine reaches the server (a wildcard address is not a destination)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Run MineSafe: migrate, seed the demo when empty, background jobs in-process, serve HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="do not seed the demo city")
        parser.add_argument("--no-jobs", action="store_true", help="do not start the in-process job consumer")
        parser.add_argument("--no-simulator", action="store_true",
                            help="do not run the telemetry simulator for the demo gateways")

    def handle(self, *args, host: str, port: int, no_demo: bool, no_jobs: bool, no_simulator: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        bootstrap_reference_data()
        if not no_demo and not Mine.objects.exists():
            self.stdout.write("seeding the demo city (empty database) …")
            sys.stdout.flush()
            summary = seed_demo()
            self.stdout.write(f"  {summary.mines} mines, {summary.enterprises} enterprises, "
                              f"{summary.ledger_rows} monthly ledger rows")
            if summary.monitoring:
                self.report_monitoring(summary.monitoring)
        elif not no_demo and is_demo_database() and not Sensor.objects.exists():
            self.stdout.write("adding online monitoring to the demo city (gateways, sensors, 7 days of readings) …")
            sys.stdout.flush()
            self.report_monitoring(ensure_demo_monitoring())
        call_command("collectstatic", interactive=False, verbosity=0)
        plan = None if no_simulator else self.demo_plan()

        # Serve first, then let every simulated gateway report once, then start the jobs: the no-data
        # check runs as the job consumer starts and must not take the pause since the last run for
        # sensors gone silent.
        server_cls = type("WSGIServer", (socketserver.ThreadingMixIn, WSGIServer), {"daemon_threads": True})
        httpd = server_cls((host, port), WSGIRequestHandler, ipv6=":" in host)
        httpd.set_app(get_internal_wsgi_application())
        logging.getLogger("django.server").addFilter(QuietTelemetry())
        serving = threading.Thread(target=httpd.serve_forever, name="minesafe-http", daemon=True)
        serving.start()
        simulator = None
        if plan:
            simulator = sim.Simulator(plan, sim.HttpTransport(local_url(host, httpd.server_port)))
            simulator.start_thread()
            simulator.first_round.wait(30)
        consumer = None if no_jobs else self.start_jobs()

        db = settings.DATABASES["default"]
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"MineSafe is running at http://{host}:{httpd.server_port}/"))
        self.stdout.write(f"  database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        self.stdout.write(f"  background jobs: {'in-process' if consumer else 'off'}")
        if simulator:
            self.stdout.write(f"  telemetry simulator: running, {len(plan.gateways)} demo gateways post "
                              f"{plan.sensor_count()} sensors' readings to {simulator.transport.endpoint}")
            if self.co_mine(plan):
                self.stdout.write(f"    live scenario: a CO alarm at {self.co_mine(plan)} within about 2 minutes "
                                  f"(`--no-simulator` turns the simulator off)")
        else:
            self.stdout.write("  telemetry simulator: off")
        self.stdout.write(f"  alarm board: http://{host}:{httpd.server_port}/monitoring/")
        logins = demo_logins()
        if logins:
            self.stdout.write(f"  demo logins (password {DEMO_PASSWORD}):")
            for login in logins:
                self.stdout.write(f"    {login.username:<12} {login.role:<22} {login.organisation}")
        elif not User.objects.exists():
            self.stdout.write("  no users yet: create one with `minesafe createsuperuser`")
        self.stdout.write("  stop with Ctrl-C")
        sys.stdout.flush()

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            while serving.is_alive():
                serving.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            if simulator:
                simulator.stop()
            httpd.shutdown()
            httpd.server_close()
            if consumer:
                consumer.stop(graceful=True)
            self.stdout.write("stopped")

    def report_monitoring(self, m) -> None:
        self.stdout.write(f"  monitoring: {m.gateways} gateways, {m.sensors} sensors at {m.mines} mines, "
                          f"{m.readings} readings of history ({m.seconds} s)")

    def demo_plan(self) -> sim.Plan | None:
        """The demo gateways' plan and tokens (written by the demo seed), if this database has them."""
        path = tokens_path()
        if not path.exists() or not Sensor.objects.exists():
            return None
        try:
            plan = sim.Plan.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.stderr.write(f"  cannot read the demo gateways from {path} ({exc}); simulator off")
            return None
        return plan if plan.gateways else None

    @staticmethod
    def co_mine(plan: sim.Plan) -> str:
        """The mine whose CO excursion the live scenario plays ('' when the plan has none)."""
        roles = plan.roles or sim.default_roles(plan.gateways)
        code = (roles.get("co") or [""])[0]
        return next((g.mine_name or g.mine_code for g in plan.gateways if g.mine_code == code), "")

    def start_jobs(self):
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:
            return None
        autodiscover_modules("tasks")  # registers every app's periodic jobs
        consumer = HUEY.create_consumer(workers=2, worker_type="thread", periodic=True)
        consumer.start()
        # The consumer installs its own signal handlers; the web server owns the main thread's signals.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return consumer
