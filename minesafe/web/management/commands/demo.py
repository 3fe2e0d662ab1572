from django.core.management.base import BaseCommand, CommandError

from minesafe.web.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Seed a realistic demo Chengde (about 300 mines, users for every role, 24 months of ledgers)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--months", type=int, default=24)

    def handle(self, *args, seed: int, months: int, **options):
        try:
            summary = seed_demo(seed=seed, months=months)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"demo city: {summary.mines} mines, {summary.enterprises} enterprises, "
                          f"{summary.ledger_rows} monthly ledger rows, {summary.hazards} major hazards")
        if summary.monitoring:
            m = summary.monitoring
            self.stdout.write(f"monitoring: {m.gateways} gateways, {m.sensors} sensors, {m.readings} readings, "
                              f"{m.alarms_opened} alarms; gateway tokens in var/demo-gateways.json")
        self.stdout.write(f"demo logins (password {DEMO_PASSWORD}):")
        for login in summary.logins:
            self.stdout.write(f"  {login.username:<12} {login.role:<22} {login.organisation}")
