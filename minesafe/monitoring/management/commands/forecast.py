"""`minesafe forecast FILE.csv`: replay a displacement series through the failure-time forecaster."""

import csv
import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from minesafe.monitoring import forecast as fc


def parse_time(text: str) -> float:
    """ISO 8601 time to epoch seconds; a time without offset is taken as UTC."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def read_series(path: str) -> tuple[list[tuple[float, float]], list[int]]:
    """The (time, displacement) readings and the file line of each; CommandError naming the line otherwise."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CommandError(f"{path}: empty file, expected a header 'time,displacement_mm'")
        names = [h.strip().lower() for h in header]
        if "time" not in names or "displacement_mm" not in names:
            raise CommandError(f"{path} line 1: header must contain the columns time and displacement_mm, "
                               f"found {','.join(header)!r}")
        it, ix = names.index("time"), names.index("displacement_mm")
        series, lines = [], []
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(it, ix):
                raise CommandError(f"{path} line {line}: missing columns (expected time and displacement_mm)")
            try:
                t = parse_time(row[it])
            except ValueError:
                raise CommandError(f"{path} line {line}: unparseable time {row[it]!r} (ISO 8601 expected)") from None
            try:
                x = float(row[ix])
            except ValueError:
                raise CommandError(f"{path} line {line}: unparseable displacement {row[ix]!r}") from None
            series.append((t, x))
            lines.append(line)
    return series, lines


class Command(BaseCommand):
    help = ("Replay a displacement series (CSV with header time,displacement_mm: ISO 8601 times, cumulative "
            "displacement in mm; times without a UTC offset are taken as UTC) through the inverse-velocity "
            "failure-time forecaster, reading by reading. Prints one JSON object per line: a forecast "
            "(issued_at, failure_at, band_from, band_to in ISO 8601 UTC, fit_quality, velocity_mm_per_day) when "
            "it is first published and whenever its failure time moves by more than the larger of 1 hour and 5% "
            "of the time to failure announced before; and {withdrawn_at, reason} when a standing forecast is "
            "withdrawn. Exits non-zero with the offending line on bad input.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with header time,displacement_mm")
        parser.add_argument("--negative", action="store_true",
                            help="the displacement decreases in the direction of movement (sensor sign convention)")

    def handle(self, *args, file, negative, **options):
        series, lines = read_series(file)
        if negative:
            series = [(t, -x) for t, x in series]
        try:
            states = list(fc.replay(series))
        except fc.SeriesError as exc:
            where = f" line {lines[exc.index]}" if exc.index is not None else ""
            raise CommandError(f"{file}{where}: {exc}") from None
        for event in fc.announcements(states):
            self.stdout.write(json.dumps(fc.as_json(event)))
