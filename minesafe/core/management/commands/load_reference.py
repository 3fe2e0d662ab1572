from django.core.management.base import BaseCommand

from minesafe.core.services import bootstrap_reference_data


class Command(BaseCommand):
    help = "Load regions, organisations and the shipped reference catalogues (idempotent)."

    def handle(self, *args, **options):
        bootstrap_reference_data()
        self.stdout.write("reference data loaded")
