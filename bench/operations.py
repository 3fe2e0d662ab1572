"""Suspension and resumption pages on a demo city grown to 2,000 mines: server time per request (median,
p95) on SQLite and PostgreSQL — the public list of suspended mines (page, CSV, RSS, no login), the operations
overview and the control list for the city and a county, and opening a resumption check (the computed
checklist items judged from the data) as a service call.

Usage: python bench/operations.py [--mines 2000] [--requests 40] [--sqlite-only]
Last line: one JSON object with the figures of both databases; the ratio compares the public CSV with the
public page in the same run.
"""

import argparse
import json
import os
import time

from _setup import django_on, figures_per_database, percentile

PUBLIC = {"public_page": "/public/suspended/", "public_csv": "/public/suspended.csv",
          "public_rss": "/public/suspended.rss"}
SIGNED_IN = {"overview": "/operations/", "control_list": "/operations/suspended/",
             "reports": "/operations/suspension-reports/"}


def timed(client, url: str, requests: int) -> tuple[float, float]:
    client.get(url)  # warm caches and translations
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return round(percentile(times, 0.5), 2), round(percentile(times, 0.95), 2)


def worker(mines: int, requests: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.test import Client

    from minesafe.core.models import User
    from minesafe.operations import resumption
    from minesafe.operations.models import ResumptionApplication
    from minesafe.registry.models import Mine
    from minesafe.web.demo import seed_demo

    seed_demo(scale=mines / 300, months=2, until="accidents")
    figures = {"mines": Mine.objects.count(),
               "suspended": Mine.objects.filter(status__in=["suspended", "construction_halted"]).count()}
    anonymous = Client()
    for name, url in PUBLIC.items():
        figures[f"{name}_median_ms"], figures[f"{name}_p95_ms"] = timed(anonymous, url, requests)
    for username in ("city", "kuancheng"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        for name, url in SIGNED_IN.items():
            figures[f"{username}_{name}_median_ms"], figures[f"{username}_{name}_p95_ms"] = timed(
                client, url, requests)
    county = User.objects.get(username="kuancheng")
    times = []
    for application in ResumptionApplication.objects.filter(status="applied")[:5]:
        start = time.perf_counter()
        resumption.start_check(county, application, team="验收组")
        times.append((time.perf_counter() - start) * 1000)
    if times:
        figures["start_check_median_ms"] = round(percentile(times, 0.5), 2)
    figures["public_csv_to_page_median_ratio"] = round(figures["public_csv_median_ms"]
                                                       / figures["public_page_median_ms"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mines", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        print(json.dumps(worker(args.mines, args.requests, url)))
        return
    result = {"benchmark": "operations"}
    per_database = figures_per_database(__file__, ["--mines", str(args.mines), "--requests", str(args.requests)],
                                        "minesafe_bench_operations", args.sqlite_only)
    for name, figures in per_database.items():
        result.update({f"{name}_{k}": v for k, v in figures.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
