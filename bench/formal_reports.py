"""Formal reports on the demo city grown to about 1,000 mines with three years of data: server time to generate
each report (compute, render, store with its SHA-256 and audit) on SQLite and PostgreSQL.

The demo is seeded through its stages up to the KPI history (36 months of ledgers and hazards, a year of plans,
inspections, penalties, tip-offs and published evaluation sheets, status history back to 2023); monitoring is not
seeded at this scale, so one alarm is opened at every twentieth mine in the month reported. Reports, for the whole
city: the monthly statistics of last month (xlsx), the assessment of the last ended quarter, the half-year notice
of this year's first half and the year-end summary of this year (docx); and the monthly statistics of one county.
Each is generated `--repeat` times; the figure is the median.

Usage: python bench/formal_reports.py [--mines 1000] [--months 36] [--repeat 3] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import datetime as dt
import json
import os
import time

from _setup import compare_databases, django_on, percentile


def open_alarms(month_start: dt.date, every: int) -> int:
    from django.utils import timezone

    from minesafe.monitoring.models import Alarm, Level
    from minesafe.registry.models import Mine

    levels = [Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED]
    mines = list(Mine.objects.exclude(status=Mine.Status.CLOSED).order_by("pk"))[::every]
    alarms = []
    for i, mine in enumerate(mines):
        opened = timezone.make_aware(dt.datetime.combine(month_start + dt.timedelta(days=i % 28), dt.time(8)))
        level = levels[i % len(levels)]
        alarms.append(Alarm(key=f"bench-{mine.pk}", mine=mine, source=Alarm.Source.THRESHOLD, kind="co", level=level,
                            max_level=level, value=30.0, opened_at=opened, active=False, cleared_at=opened,
                            closed_at=opened + dt.timedelta(hours=2), ack_due_at=opened + dt.timedelta(minutes=10),
                            response_due_at=opened + dt.timedelta(minutes=30),
                            acknowledged_at=opened + dt.timedelta(minutes=5 + i % 10)))
    Alarm.objects.bulk_create(alarms)
    return len(alarms)


def worker(mines: int, months: int, repeat: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.utils import timezone

    from minesafe.core.models import User
    from minesafe.plan import formal
    from minesafe.plan import formal_service as service
    from minesafe.plan.models import FormalReport
    from minesafe.registry.models import Mine
    from minesafe.web.demo import seed_demo

    started = time.perf_counter()
    seed_demo(scale=mines / 300, months=months, monitoring=False, until="kpi_history")
    today = timezone.localdate()
    last_month = formal.Period.of(formal.MONTH, today.replace(day=1) - dt.timedelta(days=1))
    figures = {"mines": Mine.objects.count(), "alarms": open_alarms(last_month.start, 20),
               "seed_s": round(time.perf_counter() - started, 1)}
    last_quarter = formal.Period.of(formal.QUARTER, formal.Period.of(formal.QUARTER, today).start
                                    - dt.timedelta(days=1))
    K = FormalReport.Kind
    reports = {"monthly": (K.MONTHLY, last_month.label, ""), "quarterly": (K.QUARTERLY, last_quarter.label, ""),
               "half_year": (K.HALF_YEAR, f"{today.year}-H1", ""), "year_end": (K.YEAR_END, str(today.year), ""),
               "county_monthly": (K.MONTHLY, last_month.label, "130827")}
    city = User.objects.get(username="city")
    for name, (kind, period, county) in reports.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            record = service.generate(city, kind, period, county)
            times.append((time.perf_counter() - start) * 1000)
        figures[f"{name}_ms"] = round(percentile(times, 0.5), 1)
        figures[f"{name}_kb"] = round(record.size / 1024, 1)
    figures["year_end_to_monthly_ratio"] = round(figures["year_end_ms"] / figures["monthly_ms"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mines", type=int, default=1000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        print(json.dumps(worker(args.mines, args.months, args.repeat, url)))
        return

    result = compare_databases(
        __file__, "formal_reports", ["--mines", str(args.mines), "--months", str(args.months), "--repeat",
                                     str(args.repeat)], "minesafe_bench_formal", args.sqlite_only, "monthly_ms")
    result["mines"] = result.get("sqlite_mines")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
