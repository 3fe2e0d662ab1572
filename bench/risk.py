"""Risk ranking at city scale: the demo city grown to about 1,000 mines, scored in bulk.

The registry, people, hazards, operations and accidents come from the demo (`seed_demo(scale=…,
until="accidents")`); alarms, production flags, inspections with findings and penalty decisions are added in
bulk for a share of the mines, so every factor of the score has rows to count. Measures, on SQLite and
PostgreSQL (one process each): `score_mines` over every mine (median, p95, queries), the dashboard's
`risk_summary`, the city's ranking page and one mine's explanation through the full Django stack, the API's
first page, and a county plan's proposal (which scores the county's mines).

Usage: python bench/risk.py [--mines 1000] [--repeats 15] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import datetime as dt
import json
import os
import random
import time

from _setup import django_on, figures_per_database, percentile


def seed(mines: int) -> None:
    from django.utils import timezone

    from minesafe.core.models import Organisation, User
    from minesafe.inspections.models import Finding, Inspection, Method
    from minesafe.monitoring.models import Alarm, Level, ProductionFlag
    from minesafe.penalties.models import PenaltyCase
    from minesafe.registry.models import Mine
    from minesafe.web.demo import seed_demo

    seed_demo(scale=mines / 300, months=2, monitoring=False, until="accidents")
    rng = random.Random(9)
    now, today = timezone.now(), timezone.localdate()
    city = User.objects.get(username="city")
    counties = {o.region_id: o for o in Organisation.objects.filter(kind=Organisation.Kind.COUNTY)}
    working = list(Mine.objects.exclude(status="closed"))
    alarms, flags, inspections, cases = [], [], [], []
    for mine in working:
        for i in range(rng.choice([0, 0, 0, 1, 2, 4])):
            opened = now - dt.timedelta(hours=rng.randint(1, 120 * 24))
            alarms.append(Alarm(key=f"bench-{mine.pk}-{i}", mine=mine, source=Alarm.Source.THRESHOLD,
                                level=rng.choice(list(Level)[1:]), max_level=rng.choice(list(Level)[1:]),
                                opened_at=opened, ack_due_at=opened + dt.timedelta(minutes=30),
                                response_due_at=opened + dt.timedelta(hours=2), closed_at=opened + dt.timedelta(days=1),
                                tier=rng.choice(["enterprise", "enterprise", "county"])))
        if mine.status in ("suspended", "construction_halted") and rng.random() < 0.2:
            detected = now - dt.timedelta(days=rng.randint(1, 60))
            flags.append(ProductionFlag(mine=mine, signal="electricity", episode=f"bench-{mine.pk}",
                                        detected_at=detected, began_on=detected.date(), summary="基准",
                                        inspect_by=detected.date()))
        for _i in range(rng.choice([0, 1, 2])):
            inspections.append(Inspection(mine=mine, organisation=counties[mine.county_id], method=Method.ROUTINE,
                                          inspected_on=today - dt.timedelta(days=rng.randint(1, 400)),
                                          status=Inspection.Status.COMPLETED, lead_inspector=city))
        if rng.random() < 0.1:
            decided = today - dt.timedelta(days=rng.randint(1, 400))
            cases.append(PenaltyCase(mine=mine, organisation=counties[mine.county_id], status="decided",
                                     opened_on=decided - dt.timedelta(days=20), decided_on=decided,
                                     enterprise_fine=rng.choice([10000, 50000]), created_by=city,
                                     violation_type="基准", facts="基准", payment_due=decided + dt.timedelta(days=15)))
    Alarm.objects.bulk_create(alarms, batch_size=1000)
    ProductionFlag.objects.bulk_create(flags, batch_size=1000)
    Inspection.objects.bulk_create(inspections, batch_size=1000)
    findings = [Finding(inspection=insp, description="基准", major=rng.random() < 0.2, created_by=city,
                        deadline=insp.inspected_on + dt.timedelta(days=30))
                for insp in Inspection.objects.all() for _i in range(rng.randint(0, 4))]
    Finding.objects.bulk_create(findings, batch_size=1000)
    PenaltyCase.objects.bulk_create(cases, batch_size=1000)


def timed(call, repeats: int) -> list[float]:
    call()  # warm caches, translations, the URL resolver
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def worker(mines: int, repeats: int, database_url: str | None) -> dict:
    django_on(database_url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from minesafe.core.models import Organisation, User
    from minesafe.enforcement import plans, risk
    from minesafe.enforcement.models import InspectionPlan
    from minesafe.registry.models import Mine

    seed(mines)
    everything = list(Mine.objects.select_related("county"))
    figures = {"mines": len(everything)}
    today = timezone.localdate()
    with CaptureQueriesContext(connection) as queries:
        scores = risk.score_mines(everything, today)
    figures["score_queries"] = len(queries.captured_queries)
    bands = [s.band for s in scores.values()]
    figures.update({f"band_{b}": bands.count(b) for b in risk.RiskBand.values})
    times = timed(lambda: risk.score_mines(everything, today), repeats)
    figures[f"score_{mines}_mines_ms"] = round(percentile(times, 0.5), 1)
    figures[f"score_{mines}_mines_p95_ms"] = round(percentile(times, 0.95), 1)
    times = timed(lambda: risk.risk_summary(Mine.objects.all(), today), repeats)
    figures["risk_summary_ms"] = round(percentile(times, 0.5), 1)

    city = User.objects.get(username="city")
    client = Client()
    client.force_login(city)
    top = max(scores.values(), key=lambda s: s.total).mine_id
    pages = (("ranking_page", "/enforcement/risk/"), ("ranking_page_county", "/enforcement/risk/?county=130827"),
             ("detail_page", f"/enforcement/risk/{top}/"), ("api_first_page", "/api/v1/mine-risk/"))
    for name, url in pages:
        def get(url=url):
            assert client.get(url).status_code == 200
        figures[f"{name}_ms"] = round(percentile(timed(get, max(3, repeats // 3)), 0.5), 1)

    county = Organisation.objects.get(kind=Organisation.Kind.COUNTY, region__code="130827")
    actor = User.objects.get(username="kuancheng")
    start = time.perf_counter()
    plan = plans.create_plan(actor, county, today.year + 1)
    figures["county_proposal_ms"] = round((time.perf_counter() - start) * 1000, 1)
    figures["county_proposal_entries"] = plan.entries.count()
    InspectionPlan.objects.filter(pk=plan.pk).delete()
    figures["score_per_mine_ms"] = round(figures[f"score_{mines}_mines_ms"] / len(everything), 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mines", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.worker:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        print(json.dumps(worker(args.mines, args.repeats, url)))
        return

    result = {"benchmark": "risk"}
    per_database = figures_per_database(__file__, ["--mines", str(args.mines), "--repeats", str(args.repeats)],
                                        "minesafe_bench_risk", args.sqlite_only)
    for name, figures in per_database.items():
        result.update({f"{name}_{k}": v for k, v in figures.items()})
    key = f"score_{args.mines}_mines_ms"
    if f"postgresql_{key}" in result:
        result["postgresql_to_sqlite_score_ratio"] = round(result[f"postgresql_{key}"] / result[f"sqlite_{key}"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
