"""City and county dashboards on the demo city grown to about 1,000 mines with three years of data: server time
per request (median, p95) on SQLite and PostgreSQL.

The demo is seeded through its stages up to the KPI history (36 months of ledgers and hazards, a year of plans,
inspections, penalties, tip-offs and evaluation sheets, status history back to 2023). Online monitoring is not
seeded at this scale (a week of readings for 1,000 mines would make the seed the benchmark); instead one open
alarm is raised at every twentieth mine so the alarm panel has work to do.

Each request goes through the whole Django stack with the test client. "cold" is the first request of a scope
(the KPIs computed: they are cached ten minutes per scope and day), "warm" the requests after it. The ratio
compares a county's warm page with the city's in the same run.

Usage: python bench/dashboard.py [--mines 1000] [--months 36] [--requests 15] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import datetime as dt
import json
import os
import time

from _setup import compare_databases, django_on, percentile


def raise_alarms(every: int) -> int:
    from django.utils import timezone

    from minesafe.monitoring.models import Alarm, Level
    from minesafe.registry.models import Mine

    LEVELS = [Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED]
    now = timezone.now()
    mines = list(Mine.objects.exclude(status=Mine.Status.CLOSED).order_by("pk"))[::every]
    Alarm.objects.bulk_create([
        Alarm(key=f"bench-{m.pk}", mine=m, source=Alarm.Source.THRESHOLD, kind="co", level=level, max_level=level,
              value=30.0, opened_at=now - dt.timedelta(minutes=i), ack_due_at=now + dt.timedelta(minutes=10 - i),
              response_due_at=now + dt.timedelta(minutes=30))
        for i, m in enumerate(mines) for level in [LEVELS[i % len(LEVELS)]]])
    return len(mines)


def timed(client, url: str, requests: int) -> tuple[float, list[float]]:
    from django.core.cache import cache

    cache.clear()
    start = time.perf_counter()
    assert client.get(url).status_code == 200
    cold = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return cold, times


def worker(mines: int, months: int, requests: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.test import Client

    from minesafe.core.models import User
    from minesafe.registry.models import Mine
    from minesafe.web.demo import seed_demo

    started = time.perf_counter()
    seed_demo(scale=mines / 300, months=months, monitoring=False, until="kpi_history")
    figures = {"mines": Mine.objects.count(), "alarms": raise_alarms(20),
               "seed_s": round(time.perf_counter() - started, 1)}
    pages = {"city": ("city", "/dashboard/"), "county": ("kuancheng", "/dashboard/"),
             "city_screen_panels": ("city", "/dashboard/panels/?screen=1"),
             "city_map_points": ("city", "/dashboard/mines.geojson")}
    for name, (username, url) in pages.items():
        client = Client()
        client.force_login(User.objects.get(username=username))
        cold, times = timed(client, url, requests)
        figures[f"{name}_cold_ms"] = round(cold, 1)
        figures[f"{name}_median_ms"] = round(percentile(times, 0.5), 1)
        figures[f"{name}_p95_ms"] = round(percentile(times, 0.95), 1)
    figures["county_to_city_median_ratio"] = round(figures["county_median_ms"] / figures["city_median_ms"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mines", type=int, default=1000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        print(json.dumps(worker(args.mines, args.months, args.requests, url)))
        return

    result = compare_databases(
        __file__, "dashboard", ["--mines", str(args.mines), "--months", str(args.months), "--requests",
                                str(args.requests)], "minesafe_bench_dashboard", args.sqlite_only, "city_median_ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
