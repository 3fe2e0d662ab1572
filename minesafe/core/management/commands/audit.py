from django.core.management.base import BaseCommand, CommandError

from minesafe.core.audit import anchor_head, verify_chain


class Command(BaseCommand):
    help = "Audit log tools. `audit verify` recomputes the hash chain and names the first broken link."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="recompute every event's hash and link, and check the anchored heads")
        sub.add_parser("anchor", help="verify, then record the chain's head outside the database")

    def handle(self, *args, action: str, **options):
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                f"BROKEN at event #{result.broken_seq}: {result.reason} "
                f"({result.checked} events before it verified)"
            )
        self.stdout.write(f"OK: {result.checked} events verified")
        if action == "anchor" and (anchor := anchor_head()):
            self.stdout.write(f"anchored event #{anchor['seq']} {anchor['hash']}")
