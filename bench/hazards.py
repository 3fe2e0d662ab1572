"""Hazards at city scale: 300 mines and 200,000 historical hazards.

Measures, on SQLite and PostgreSQL (one process each), the county work list page and the city
analysis page (median and p95 server time through the full Django stack), and the nightly
escalation job's run time. The ratio compares the analysis page with the work list in the same run.

Usage: python bench/hazards.py [--hazards 200000] [--requests 30] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import datetime as dt
import json
import os
import random
import time
from decimal import Decimal

from _setup import django_on, figures_per_database, percentile


def seed(total: int) -> int:
    from django.utils import timezone

    from minesafe.core.models import User
    from minesafe.hazards import services
    from minesafe.hazards.models import Hazard, HazardItem
    from minesafe.web.demo import seed_demo

    seed_demo(months=2, monitoring=False, until="accidents")
    rng = random.Random(11)
    today = timezone.localdate()
    actor = User.objects.get(username="admin")
    items = {}
    for item in HazardItem.objects.all():
        items.setdefault(item.facility_type, []).append(item)
    facility = {"underground": "underground", "open_pit": "open_pit", "quarry": "open_pit",
                "tailings_pond": "tailings"}
    from minesafe.registry.models import Mine

    mines = [m for m in Mine.objects.select_related("county") if m.mine_type in facility]
    rules = services.ladder()
    batch, made, serial = [], 0, 0
    while made < total:
        mine = rng.choice(mines)
        found_on = today - dt.timedelta(days=rng.randint(0, 3 * 365))
        serial += 1
        status = "closed" if rng.random() < 0.97 else rng.choice(["reported", "rectifying", "submitted"])
        hazard = Hazard(
            number=f"B{serial:09d}", mine=mine, item=rng.choice(items[facility[mine.mine_type]]),
            source=rng.choice(Hazard.Source.values), found_by=actor, finder_name="基准", found_on=found_on,
            description="基准隐患", status=status, responsible_person="张三", measures="整改",
            funds=Decimal(rng.randint(1, 99)), deadline=found_on + dt.timedelta(days=rng.choice([15, 30, 60])),
            emergency_plan="停止作业", reported_at=timezone.make_aware(dt.datetime.combine(found_on, dt.time(9))),
        )
        if status == "closed":
            hazard.closed_at = hazard.reported_at + dt.timedelta(days=rng.randint(5, 90))
        services.schedule_escalation(hazard, today, rules)
        batch.append(hazard)
        made += 1
        if len(batch) == 5000:
            Hazard.objects.bulk_create(batch)
            batch = []
    Hazard.objects.bulk_create(batch)
    return Hazard.objects.count()


def timed(client, url: str, requests: int) -> tuple[float, float]:
    client.get(url)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return round(percentile(times, 0.5), 2), round(percentile(times, 0.95), 2)


def worker(total: int, requests: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.db import connection
    from django.test import Client

    from minesafe.core.models import User
    from minesafe.hazards import services
    from minesafe.hazards.models import Hazard

    start = time.perf_counter()
    count = seed(total)
    seed_s = time.perf_counter() - start
    connection.cursor().execute("ANALYZE")  # fresh statistics, as a production database would have
    figures = {"hazards": count, "open_hazards": Hazard.objects.open().count(), "seed_ms": round(seed_s * 1000)}
    county, city = Client(), Client()
    county.force_login(User.objects.get(username="kuancheng"))
    city.force_login(User.objects.get(username="city"))
    figures["county_work_list_median_ms"], figures["county_work_list_p95_ms"] = timed(
        county, "/hazards/work/", requests)
    figures["city_analysis_median_ms"], figures["city_analysis_p95_ms"] = timed(city, "/hazards/analysis/", requests)
    figures["county_hazard_list_median_ms"], figures["county_hazard_list_p95_ms"] = timed(
        county, "/hazards/?status=rectifying", requests)
    start = time.perf_counter()
    run = services.escalate_due()
    figures["escalation_job_ms"] = round((time.perf_counter() - start) * 1000, 1)
    figures["escalation_checked"], figures["escalation_escalated"] = run.checked, run.escalated
    start = time.perf_counter()
    services.escalate_due()
    figures["escalation_job_rerun_ms"] = round((time.perf_counter() - start) * 1000, 1)
    figures["analysis_to_work_list_median_ratio"] = round(
        figures["city_analysis_median_ms"] / figures["county_work_list_median_ms"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hazards", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.hazards, args.requests, os.environ.get("BENCH_DATABASE_URL") or None)))
        return
    result = {"benchmark": "hazards"}
    per_database = figures_per_database(__file__, ["--hazards", str(args.hazards), "--requests", str(args.requests)],
                                        "minesafe_bench_hazards", args.sqlite_only)
    for name, figures in per_database.items():
        result.update({f"{name}_{k}": v for k, v in figures.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
