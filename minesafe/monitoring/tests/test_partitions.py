"""The readings table: partitioned by month on PostgreSQL, WITHOUT ROWID keyed by (sensor, ts) on SQLite."""

import datetime as dt
import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from minesafe.monitoring import ingest, partitions
from minesafe.monitoring.models import Reading

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="monthly partitions exist only on PostgreSQL (SQLite has one table)")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the WITHOUT ROWID layout is SQLite's")


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def children() -> set[str]:
    return {name for (name,) in fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'monitoring_reading'")}


def push(monitored, *rows) -> None:
    body = {"readings": [{"sensor": "CO-01", "ts": ts.isoformat(), "value": v} for ts, v in rows]}
    message = ingest.decode("http", json.dumps(body), token=monitored.token)
    assert not message.errors and not message.parsed.errors, message.parsed.errors
    ingest.commit([message], quarantine=False)


def partition_of(sensor_id: int, ts: dt.datetime) -> str:
    [(name,)] = fetch("SELECT tableoid::regclass::text FROM monitoring_reading WHERE sensor_id = %s AND ts = %s",
                      [sensor_id, ts])
    return name


# Month arithmetic (pure) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("day", "offset", "start"), [
    (dt.date(2026, 11, 30), 0, dt.date(2026, 11, 1)),
    (dt.date(2026, 11, 30), 1, dt.date(2026, 12, 1)),
    (dt.date(2026, 11, 30), 2, dt.date(2027, 1, 1)),
    (dt.date(2026, 1, 15), -1, dt.date(2025, 12, 1)),
    (dt.date(2026, 3, 1), -12, dt.date(2025, 3, 1)),
    (dt.date(2026, 12, 31), 3, dt.date(2027, 3, 1)),
])
def test_month_start_moves_by_whole_months(day, offset, start):
    assert partitions.month_start(day, offset) == start


def test_partition_names_carry_the_month():
    assert partitions.partition_name(dt.date(2027, 1, 1)) == "monitoring_reading_p202701"


# PostgreSQL ---------------------------------------------------------------------------------------------
@postgres_only
@pytest.mark.django_db
def test_readings_are_partitioned_by_range_of_ts():
    [(strategy, key)] = fetch(
        "SELECT pt.partstrat, pg_get_partkeydef(pt.partrelid) FROM pg_partitioned_table pt "
        "JOIN pg_class c ON c.oid = pt.partrelid WHERE c.relname = 'monitoring_reading'")
    assert strategy == "r" and key == "RANGE (ts)"
    today = dt.datetime.now(dt.UTC).date()
    expected = {partitions.partition_name(partitions.month_start(today, k))
                for k in range(-partitions.MONTHS_BACK, partitions.MONTHS_AHEAD + 1)}
    assert expected | {"monitoring_reading_default"} <= children()
    [(default_bound,)] = fetch("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                               "WHERE c.relname = 'monitoring_reading_default'")
    assert default_bound == "DEFAULT"


@postgres_only
def test_a_reading_of_this_month_lands_in_this_months_partition(monitored):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=30)
    push(monitored, (now, 3.0))
    start = partitions.month_start(now.astimezone(dt.UTC).date())
    assert partition_of(monitored.co.pk, now) == partitions.partition_name(start)
    assert Reading.objects.filter(sensor_id=monitored.co.pk).get().value == 3.0  # the parent sees every partition


@postgres_only
def test_a_very_old_reading_lands_in_the_default_partition(monitored):
    now = timezone.now().replace(microsecond=0)
    old = now - dt.timedelta(days=399)  # accepted by ingest (400 days) but older than the partitions kept
    assert old.date() < partitions.month_start(now.astimezone(dt.UTC).date(), -partitions.MONTHS_BACK)
    push(monitored, (old, 1.0), (now - dt.timedelta(seconds=10), 2.0))
    assert partition_of(monitored.co.pk, old) == "monitoring_reading_default"
    assert partition_of(monitored.co.pk, now - dt.timedelta(seconds=10)) != "monitoring_reading_default"


@postgres_only
def test_a_reading_on_a_month_boundary_goes_to_the_month_it_starts(monitored):
    start = partitions.month_start(timezone.now().astimezone(dt.UTC).date())
    boundary = dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)
    spec = ingest.spec_by_id(monitored.co.pk, monitored.co.mine_id)
    before = boundary - dt.timedelta(microseconds=1)
    assert ingest.write_readings([(spec, boundary.timestamp(), 1.0, boundary),
                                  (spec, before.timestamp(), 2.0, before)]) == 2
    assert partition_of(monitored.co.pk, boundary) == partitions.partition_name(start)
    assert partition_of(monitored.co.pk, boundary - dt.timedelta(microseconds=1)) == \
        partitions.partition_name(partitions.month_start(start, -1))


@postgres_only
@pytest.mark.django_db
def test_ensure_partitions_is_idempotent_and_creates_months_ahead():
    today = dt.datetime.now(dt.UTC).date()
    assert partitions.ensure_partitions(today) == []  # the migration made this month's set already
    before = children()
    later = partitions.month_start(today, 5)
    created = partitions.ensure_partitions(later)
    ahead = [partitions.partition_name(partitions.month_start(later, k)) for k in range(1, partitions.MONTHS_AHEAD + 1)]
    assert set(ahead) <= set(created)
    assert set(created) == children() - before
    assert partitions.ensure_partitions(later) == []
    [(bound,)] = fetch("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = %s",
                       [ahead[-1]])
    last = partitions.month_start(later, partitions.MONTHS_AHEAD)
    after = partitions.month_start(last, 1)
    assert bound == f"FOR VALUES FROM ('{last:%Y-%m-%d} 00:00:00+00') TO ('{after:%Y-%m-%d} 00:00:00+00')"


@postgres_only
def test_a_partition_created_late_takes_over_its_months_rows_from_the_default_partition(monitored):
    """If the daily job did not run for months, readings of a month without a partition wait in the default
    partition; creating that month's partition must move them, not fail."""
    today = dt.datetime.now(dt.UTC).date()
    gap = partitions.month_start(today, partitions.MONTHS_AHEAD + 2)  # beyond every partition made so far
    inside = dt.datetime(gap.year, gap.month, 15, 12, tzinfo=dt.UTC)
    outside = dt.datetime(gap.year, gap.month, 1, tzinfo=dt.UTC) + dt.timedelta(days=40)  # the month after
    spec = ingest.spec_by_id(monitored.co.pk, monitored.co.mine_id)
    ingest.write_readings([(spec, inside.timestamp(), 7.0, inside), (spec, outside.timestamp(), 8.0, outside)])
    assert partition_of(monitored.co.pk, inside) == "monitoring_reading_default"
    created = partitions.ensure_partitions(partitions.month_start(gap, -partitions.MONTHS_AHEAD))
    assert partitions.partition_name(gap) in created
    assert partition_of(monitored.co.pk, inside) == partitions.partition_name(gap)
    assert partition_of(monitored.co.pk, outside) == "monitoring_reading_default"
    assert sorted(Reading.objects.filter(sensor_id=monitored.co.pk).values_list("value", flat=True)) == [7.0, 8.0]


@postgres_only
def test_duplicates_are_ignored_across_the_partitioned_table(monitored):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=30)
    push(monitored, (now, 3.0))
    push(monitored, (now, 9.0))
    assert list(Reading.objects.filter(sensor_id=monitored.co.pk).values_list("value", flat=True)) == [3.0]


# SQLite -------------------------------------------------------------------------------------------------------
@sqlite_only
@pytest.mark.django_db
def test_sqlite_table_is_without_rowid_keyed_by_sensor_and_ts():
    [(sql,)] = fetch("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'monitoring_reading'")
    assert "WITHOUT ROWID" in sql.upper()
    columns = fetch("PRAGMA table_info(monitoring_reading)")
    key = sorted((pk, name) for _cid, name, _type, _notnull, _default, pk in columns if pk)
    assert [name for _pk, name in key] == ["sensor_id", "ts"]
    with pytest.raises(DatabaseError), transaction.atomic():
        fetch("SELECT rowid FROM monitoring_reading")


@sqlite_only
def test_sqlite_keeps_one_reading_per_sensor_and_ts(monitored):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=30)
    push(monitored, (now, 3.0))
    push(monitored, (now, 9.0))
    assert list(Reading.objects.filter(sensor_id=monitored.co.pk).values_list("ts", "value")) == [(now, 3.0)]


@sqlite_only
@pytest.mark.django_db
def test_ensure_partitions_does_nothing_on_sqlite():
    assert partitions.ensure_partitions(dt.date(2030, 1, 1)) == []
