"""`minesafe run`: the whole platform in one process on the embedded default.

Migrates, loads reference data, seeds the demo city into an empty database, starts the background
job consumer in-process and serves HTTP with static files. Production runs gunicorn and huey workers
instead (see README).
"""

import signal
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run
from django.utils.module_loading import autodiscover_modules

from minesafe.core.models import User
from minesafe.core.services import bootstrap_reference_data
from minesafe.registry.models import Mine
from minesafe.web.demo import DEMO_PASSWORD, demo_logins, seed_demo


class Command(BaseCommand):
    help = "Run MineSafe: migrate, seed the demo when empty, background jobs in-process, serve HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="do not seed the demo city")
        parser.add_argument("--no-jobs", action="store_true", help="do not start the in-process job consumer")

    def handle(self, *args, host: str, port: int, no_demo: bool, no_jobs: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        bootstrap_reference_data()
        if not no_demo and not Mine.objects.exists():
            self.stdout.write("seeding the demo city (empty database) …")
            summary = seed_demo()
            self.stdout.write(f"  {summary.mines} mines, {summary.enterprises} enterprises, "
                              f"{summary.ledger_rows} monthly ledger rows")
        call_command("collectstatic", interactive=False, verbosity=0)
        consumer = None if no_jobs else self.start_jobs()

        db = settings.DATABASES["default"]
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"MineSafe is running at http://{host}:{port}/"))
        self.stdout.write(f"  database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        self.stdout.write(f"  background jobs: {'in-process' if consumer else 'off'}")
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
            run(host, port, get_internal_wsgi_application(), threading=True, server_cls=WSGIServer)
        except KeyboardInterrupt:
            pass
        finally:
            if consumer:
                consumer.stop(graceful=True)
            self.stdout.write("stopped")

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
