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
