"""`minesafe load_accident_cases [--dir PATH]`: seed the accident case library from the shared real records."""

from django.core.management.base import BaseCommand, CommandError

from minesafe.enforcement.case_library import load_accident_cases
from minesafe.enforcement.case_sources import SourceError


class Command(BaseCommand):
    help = "Load the accident case library (警示教育) from ../shared/data/accidents (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="the accident data folder (default: ../shared/data/accidents)")
        parser.add_argument("--quiet-problems", action="store_true", help="count row problems without listing them")

    def handle(self, *args, **options):
        try:
            reports = load_accident_cases(options.get("dir"))
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        for report in reports:
            self.stdout.write(f"{report.source}: {report.rows} rows, {report.parsed} cases "
                              f"({report.created} new, {report.updated} updated, {report.unchanged} unchanged), "
                              f"{report.skipped} rows skipped, {len(report.problems)} problems")
            if not options["quiet_problems"]:
                for problem in report.problems:
                    what = "skipped" if problem.skipped else "kept"
                    self.stdout.write(f"  {problem.source} line {problem.line} ({what}): {problem.message}")
