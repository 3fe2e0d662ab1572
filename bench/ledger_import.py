"""Ledger import of 10,000 rows: all-or-nothing import rate, against reading the same workbook alone.

Usage: python bench/ledger_import.py [--rows 10000] [--postgres]
Last line: JSON with import_rows_per_s, import_ms, read_ms and import_to_read_ratio.
"""

import argparse
import io
import json
import random
import time

from _setup import DEFAULT_PG, django_on, fresh_postgres_url


def build_workbook(rows: int) -> bytes:
    from openpyxl import Workbook

    from minesafe.core.validators import CREDIT_ALPHABET, credit_code_check_char
    from minesafe.registry.excel import COLUMNS

    rng = random.Random(7)
    columns = [c for c in COLUMNS if c.importable]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("矿山台账")
    ws.append([c.zh for c in columns])
    counties = ["130821", "130822", "130824", "130825", "130826", "130827", "130828", "130881"]
    enterprises = []
    for i in range(rows // 3):
        first17 = "91" + rng.choice(counties) + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
        enterprises.append((f"基准测试矿业有限公司{i:05d}", first17 + credit_code_check_char(first17)))
    for i in range(rows):
        name, code = enterprises[i % len(enterprises)]
        mine_type = rng.choice(["underground", "open_pit", "tailings_pond", "quarry"])
        values = {
            "code": f"B-{i:06d}", "name": f"基准矿山{i:06d}", "enterprise_name": name, "credit_code": code,
            "county": code[2:8], "mine_type": mine_type, "status": "producing", "status_since": "2024-01-01",
            "mineral": {"underground": "铁矿", "open_pit": "石灰岩", "quarry": "建筑石料"}.get(mine_type, ""),
            "address": f"测试地址{i}",
            "longitude": round(118 + rng.random(), 6), "latitude": round(40.5 + rng.random(), 6),
            "licence_no": f"（冀）FM安许证字〔2024〕{i:05d}号",
            "licence_expiry": "2027-06-30",
        }
        if mine_type == "tailings_pond":
            values.update(design_pond_capacity=rng.choice([50, 300, 2000]), design_dam_height=rng.choice([25, 45, 80]),
                          current_pond_capacity=20, current_dam_height=20, dam_method="upstream")
        else:
            values["design_capacity"] = rng.choice([5, 30, 120])
        if mine_type in ("open_pit", "quarry"):
            values["slope_height"] = rng.randint(30, 200)
        if mine_type == "underground":
            values["people_underground"] = rng.randint(10, 150)
        ws.append([values.get(c.key) for c in columns])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    url = fresh_postgres_url("minesafe_bench_import", DEFAULT_PG) if args.postgres else None
    if args.postgres and url is None:
        raise SystemExit("PostgreSQL is not reachable")
    django_on(url)
    from minesafe.core.models import Organisation, User
    from minesafe.registry import excel
    from minesafe.registry.models import Mine

    city = User.objects.create(username="bench", role="city",
                               organisation=Organisation.objects.get(kind="city_bureau"))
    data = build_workbook(args.rows)

    start = time.perf_counter()
    excel.read_rows(data)
    read_s = time.perf_counter() - start

    start = time.perf_counter()
    result = excel.import_ledger(city, "bench.xlsx", data)
    import_s = time.perf_counter() - start
    assert result.ok, (result.file_error, result.errors[:3])
    assert Mine.objects.count() == args.rows

    start = time.perf_counter()
    again = excel.import_ledger(city, "bench.xlsx", data)
    reimport_s = time.perf_counter() - start
    assert again.ok and again.unchanged == args.rows

    figures = {
        "benchmark": "ledger_import",
        "database": "postgresql" if args.postgres else "sqlite",
        "rows": args.rows,
        "file_bytes": len(data),
        "import_ms": round(import_s * 1000, 1),
        "import_rows_per_s": round(args.rows / import_s, 1),
        "reimport_unchanged_rows_per_s": round(args.rows / reimport_s, 1),
        "read_ms": round(read_s * 1000, 1),
        "import_to_read_ratio": round(import_s / read_s, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
