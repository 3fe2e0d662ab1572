"""Mine list page with 5,000 mines: server time per request (median, p95) on SQLite and PostgreSQL.

Each database runs in its own process (Django settings are per process). Requests go through the
full Django stack (middleware, session, scoping, filters, template) with the test client; the
ratio compares a filtered county view against the unfiltered city-wide first page in the same run.

Usage: python bench/mine_list.py [--mines 5000] [--requests 60] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import json
import os
import time

from _setup import django_on, figures_per_database, percentile

PAGES = {
    "all": "/mines/",
    "county_filtered": "/mines/?county=130827&mine_type=tailings_pond&status=producing",
    "search": "/mines/?q=%E7%9F%BF",  # 矿
    "overdue_page3": "/mines/?overdue=false&page=3",
}


def worker(mines: int, requests: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.test import Client

    from minesafe.core.models import User
    from minesafe.registry.models import Mine
    from minesafe.web.demo import seed_demo

    seed_demo(scale=mines / 300, months=2, until="accidents")
    count = Mine.objects.count()
    city = User.objects.get(username="city")
    county = User.objects.get(username="kuancheng")
    figures = {"mines": count}
    for persona in (city, county):
        client = Client()
        client.force_login(persona)
        for name, url in PAGES.items():
            client.get(url)  # warm caches and translations
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            key = f"{persona.username}_{name}"
            figures[f"{key}_median_ms"] = round(percentile(times, 0.5), 2)
            figures[f"{key}_p95_ms"] = round(percentile(times, 0.95), 2)
    figures["county_filtered_to_all_median_ratio"] = round(
        figures["city_county_filtered_median_ms"] / figures["city_all_median_ms"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mines", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        print(json.dumps(worker(args.mines, args.requests, url)))
        return

    result = {"benchmark": "mine_list"}
    per_database = figures_per_database(__file__, ["--mines", str(args.mines), "--requests", str(args.requests)],
                                        "minesafe_bench_list", args.sqlite_only)
    for name, figures in per_database.items():
        result.update({f"{name}_{k}": v for k, v in figures.items()})
    if "postgresql_city_all_median_ms" in result:
        result["postgresql_to_sqlite_all_median_ratio"] = round(
            result["postgresql_city_all_median_ms"] / result["sqlite_city_all_median_ms"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
