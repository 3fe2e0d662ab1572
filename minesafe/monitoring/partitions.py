"""The readings table: WITHOUT ROWID on SQLite; on PostgreSQL partitioned by month (UTC), with a
default partition for readings older than the partitions kept. Partitions are created ahead by a
daily job, never on the ingest path (creating one takes a strong lock on the parent table).

No foreign key to the sensor: only ingest writes readings, for sensor ids it has just validated, and
sensors are deactivated, never deleted; a per-row key check would cost the hot path for nothing."""

import datetime as dt

from django.db import connection, transaction

MONTHS_BACK, MONTHS_AHEAD = 12, 3

SQLITE_TABLE = """
CREATE TABLE monitoring_reading (
    sensor_id bigint NOT NULL,
    ts datetime NOT NULL,
    value real NOT NULL,
    PRIMARY KEY (sensor_id, ts)
) WITHOUT ROWID"""

PG_TABLE = """
CREATE TABLE monitoring_reading (
    sensor_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (sensor_id, ts)
) PARTITION BY RANGE (ts)"""


def month_start(day: dt.date, offset: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + offset
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"monitoring_reading_p{month:%Y%m}"


def ensure_partitions(today: dt.date | None = None, schema_editor=None) -> list[str]:
    """Create the monthly partitions from MONTHS_BACK before to MONTHS_AHEAD after this month."""
    conn = schema_editor.connection if schema_editor else connection
    if conn.vendor != "postgresql":
        return []
    today = today or dt.datetime.now(dt.UTC).date()
    created = []
    with conn.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'monitoring_reading'")
        existing = {row[0] for row in cursor.fetchall()}
        for offset in range(-MONTHS_BACK, MONTHS_AHEAD + 1):
            start = month_start(today, offset)
            name = partition_name(start)
            if name in existing:
                continue
            end = month_start(start, 1)
            with transaction.atomic(using=conn.alias):
                _create_partition(cursor, name, start, end)
            created.append(name)
    return created


def _create_partition(cursor, name: str, start: dt.date, end: dt.date) -> None:
    """Create one month's partition. Rows of that month already in the default partition (the job did not
    run for a while) would make PostgreSQL refuse the partition, so they move over with it."""
    lower = dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)
    upper = dt.datetime(end.year, end.month, 1, tzinfo=dt.UTC)
    cursor.execute("SELECT EXISTS (SELECT 1 FROM monitoring_reading_default WHERE ts >= %s AND ts < %s)",
                   [lower, upper])
    stray = cursor.fetchone()[0]
    if stray:
        cursor.execute("CREATE TEMPORARY TABLE monitoring_reading_moving (LIKE monitoring_reading)")
        cursor.execute("WITH moved AS (DELETE FROM monitoring_reading_default WHERE ts >= %s AND ts < %s "
                       "RETURNING sensor_id, ts, value) INSERT INTO monitoring_reading_moving SELECT * FROM moved",
                       [lower, upper])
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF monitoring_reading "
                   f"FOR VALUES FROM ('{start:%Y-%m-%d} 00:00+00') TO ('{end:%Y-%m-%d} 00:00+00')")
    if stray:
        cursor.execute("INSERT INTO monitoring_reading SELECT sensor_id, ts, value FROM monitoring_reading_moving")
        cursor.execute("DROP TABLE monitoring_reading_moving")


def create_table(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(PG_TABLE)
            cursor.execute("CREATE TABLE monitoring_reading_default PARTITION OF monitoring_reading DEFAULT")
        else:
            cursor.execute(SQLITE_TABLE)
    ensure_partitions(schema_editor=schema_editor)


def drop_table(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TABLE monitoring_reading")
