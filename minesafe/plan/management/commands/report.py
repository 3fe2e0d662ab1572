"""`minesafe report KIND PERIOD [--county CODE] [--output FILE] [--user NAME]`: generate a formal report, store it
(as the page does: a new record with its SHA-256, audited) and write the file."""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from minesafe.core.models import User
from minesafe.plan import formal_service
from minesafe.plan.models import FormalReport

KINDS = {"monthly": FormalReport.Kind.MONTHLY, "quarterly": FormalReport.Kind.QUARTERLY,
         "half-year": FormalReport.Kind.HALF_YEAR, "half_year": FormalReport.Kind.HALF_YEAR,
         "year-end": FormalReport.Kind.YEAR_END, "year_end": FormalReport.Kind.YEAR_END}


class Command(BaseCommand):
    help = ("Generate a formal report: monthly YYYY-MM (Excel), quarterly YYYY-Qn, half-year YYYY-H1|H2 or year-end "
            "YYYY (Word), for the whole city or one county; the file is stored with its SHA-256 and written out.")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("period", help="2026-10, 2026-Q3, 2026-H1 or 2026, as the report needs")
        parser.add_argument("--county", default="", help="a county's division code (default: the whole city)")
        parser.add_argument("--output", help="where to write the file (default: its name in this directory)")
        parser.add_argument("--user", help="generate as this user (default: the system)")
        parser.add_argument("--language", help="the report's language (default: the site's)")

    def handle(self, *args, kind, period, county, output=None, user=None, language=None, **options):
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {user!r}")
        try:
            with translation.override(language or translation.get_language()):
                record = formal_service.generate(actor, KINDS[kind], period, county)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        path = Path(output) if output else Path(record.file_name)
        path.write_bytes(formal_service.stored_bytes(record))
        self.stdout.write(f"report {record.pk}: {path} ({record.size} bytes, sha256 {record.sha256})")
