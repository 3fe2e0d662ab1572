"""Shared set-up for benchmarks: a fresh database (SQLite file or PostgreSQL) migrated and loaded."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


def fresh_postgres_url(name: str, admin_url: str = DEFAULT_PG) -> str | None:
    """Drop and create database `name`; None when PostgreSQL is not reachable."""
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        return None
    return admin_url.rsplit("/", 1)[0] + "/" + name


def django_on(database_url: str | None) -> None:
    """Configure Django for this process on a fresh database and migrate it."""
    var = tempfile.mkdtemp(prefix="minesafe-bench-")
    os.environ["MINESAFE_VAR_DIR"] = var
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{var}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minesafe.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from minesafe.core.services import bootstrap_reference_data

    bootstrap_reference_data()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def figures_per_database(script: str, args: list[str], database: str, sqlite_only: bool = False,
                         postgres_name: str = "postgresql") -> dict[str, dict]:
    """Run `script --worker <name> args…` in a fresh process on SQLite, then on a fresh PostgreSQL
    database `database` (when reachable), each reading BENCH_DATABASE_URL. Returns each run's figures
    (the JSON object its worker prints last) by database name."""
    import json
    import subprocess

    runs = [("sqlite", None)]
    if not sqlite_only:
        url = fresh_postgres_url(database, DEFAULT_PG)
        if url:
            runs.append((postgres_name, url))
        else:
            print("PostgreSQL not reachable: SQLite only", file=sys.stderr)
    figures = {}
    for name, url in runs:
        env = {**os.environ, "BENCH_DATABASE_URL": url or ""}
        out = subprocess.run([sys.executable, script, "--worker", name, *args], env=env, check=True,
                             stdout=subprocess.PIPE, text=True)
        figures[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, figures[name], file=sys.stderr)
    return figures


def with_overrides(config_class, items: list[str]):
    """A frozen settings dataclass from `--set NAME=VALUE` items, each value of the default's type."""
    defaults = config_class()
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        overrides[name] = type(getattr(defaults, name))(value)
    return config_class(**overrides)


def compare_databases(script: str, benchmark: str, args: list[str], database: str, sqlite_only: bool,
                      ratio_of: str) -> dict:
    """The worker's figures on each database, each key prefixed with the database's name, and PostgreSQL's
    `ratio_of` figure over SQLite's as `postgresql_to_sqlite_<ratio_of>_ratio` (both measured in this run)."""
    result = {"benchmark": benchmark}
    for name, figures in figures_per_database(script, args, database, sqlite_only).items():
        result.update({f"{name}_{k}": v for k, v in figures.items()})
    if f"postgresql_{ratio_of}" in result:
        result[f"postgresql_to_sqlite_{ratio_of.removesuffix('_ms')}_ratio"] = round(
            result[f"postgresql_{ratio_of}"] / result[f"sqlite_{ratio_of}"], 3)
    return result
