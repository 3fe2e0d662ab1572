import datetime as dt

from django.core.management.base import BaseCommand

from minesafe.hazards.services import escalate_due


class Command(BaseCommand):
    help = "Run the hazard escalation job now (it also runs daily in the background)."

    def add_arguments(self, parser):
        parser.add_argument("--today", type=dt.date.fromisoformat, help="run as if it were this date (YYYY-MM-DD)")

    def handle(self, *args, today=None, **options):
        run = escalate_due(today)
        self.stdout.write(f"{run.checked} hazards checked, {run.escalated} escalated")
