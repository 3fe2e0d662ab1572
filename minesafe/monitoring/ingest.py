"""Telemetry ingest, shared by the HTTP endpoint and the MQTT worker.

    validate (per row, with reasons) → one transaction: batch-write readings (idempotent on
    (sensor, ts)) → lock and update the sensors' live state → evaluate rules → open/raise/clear alarms

The hot path avoids the ORM per reading: rows are plain tuples, readings go in with one statement
per batch, and the sensors' state with one `executemany`. Configuration (gateways, sensors, rules)
is cached per process for `MINESAFE_MONITORING_CONFIG_TTL` seconds and dropped at once when this
process changes it.
"""

import datetime as dt
import hashlib
import json
import math
import re
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core.services import active_catalogue

from . import rules as R
from .models import Gateway, QuarantinedMessage, Rule, Sensor

UTC = dt.UTC
CONFIG_TTL_S = float(getattr(settings, "MINESAFE_MONITORING_CONFIG_TTL", 10))


_catalogue: dict = {}


def kinds_catalogue() -> dict:
    """The sensor-kinds catalogue, cached like the rest of the configuration (read on every message)."""
    now = time.monotonic()
    if not _catalogue or now - _catalogue["loaded"] >= CONFIG_TTL_S:
        _catalogue.update(loaded=now, data=active_catalogue("sensor_kinds"))
    return _catalogue["data"]


def limits() -> dict:
    return kinds_catalogue()["defaults"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Cached configuration --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GatewayInfo:
    id: int
    mine_id: int


@dataclass(frozen=True, slots=True)
class SensorSpec:
    id: int
    mine_id: int
    gateway_id: int | None
    code: str
    kind: str
    unit: str
    lo: float
    hi: float
    active: bool
    is_derived: bool
    derived: tuple[tuple[int, float, float], ...]  # (sensor id, offset, scale) computed from this one
    rules: tuple[R.RuleSpec, ...]  # threshold and rate rules, evaluated per reading
    no_data_rule: int | None


@dataclass
class _MineConfig:
    loaded: float
    by_code: dict[str, SensorSpec]


_mines: dict[int, _MineConfig] = {}
_by_id: dict[int, SensorSpec] = {}
_gateways: dict[str, tuple[float, GatewayInfo]] = {}  # token hash -> (loaded, gateway); known tokens only


def invalidate(mine_id: int | None = None) -> None:
    """Forget cached configuration (all of it, or one mine's) after gateways, sensors or rules change.
    Other processes notice within CONFIG_TTL_S seconds."""
    _gateways.clear()
    _catalogue.clear()
    if mine_id is None:
        _mines.clear()
        _by_id.clear()
    else:
        _mines.pop(mine_id, None)


def mine_sensors(mine_id: int) -> dict[str, SensorSpec]:
    cached = _mines.get(mine_id)
    now = time.monotonic()
    if cached and now - cached.loaded < CONFIG_TTL_S:
        return cached.by_code
    kinds = kinds_catalogue()["kinds"]
    sensors = list(Sensor.objects.filter(mine_id=mine_id))
    rules_by_sensor = defaultdict(list)
    for rule in Rule.objects.filter(sensor__mine_id=mine_id, active=True).order_by("pk"):
        rules_by_sensor[rule.sensor_id].append(rule)
    children = defaultdict(list)
    for s in sensors:
        if s.source_id and s.active:
            children[s.source_id].append((s.pk, s.derive_offset, s.derive_scale))
    by_code = {}
    for s in sensors:
        lo, hi = kinds.get(s.kind, {}).get("range", [-math.inf, math.inf])
        own = rules_by_sensor[s.pk]
        spec = SensorSpec(
            id=s.pk, mine_id=mine_id, gateway_id=s.gateway_id, code=s.code, kind=s.kind, unit=s.unit,
            lo=float(lo), hi=float(hi),
            active=s.active, is_derived=s.source_id is not None, derived=tuple(children[s.pk]),
            rules=tuple(R.RuleSpec.from_rule(r) for r in own if r.kind != Rule.Kind.NO_DATA),
            no_data_rule=next((r.pk for r in own if r.kind == Rule.Kind.NO_DATA), None))
        by_code[s.code] = spec
        _by_id[s.pk] = spec
    _mines[mine_id] = _MineConfig(now, by_code)
    return by_code


def spec_by_id(sensor_id: int, mine_id: int) -> SensorSpec:
    spec = _by_id.get(sensor_id)
    if spec is None:
        mine_sensors(mine_id)
        spec = _by_id[sensor_id]
    return spec


def authenticate(token: str) -> GatewayInfo | None:
    if not isinstance(token, str) or not token or len(token) > 200:  # MQTT bodies carry any JSON here
        return None
    digest = token_hash(token)
    cached = _gateways.get(digest)
    now = time.monotonic()
    if cached and now - cached[0] < CONFIG_TTL_S:
        return cached[1]
    row = Gateway.objects.filter(token_hash=digest, active=True).values_list("pk", "mine_id").first()
    if row is None:
        _gateways.pop(digest, None)
        return None
    _gateways[digest] = (now, GatewayInfo(*row))
    return _gateways[digest][1]


# Validation -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Parsed:
    rows: list[tuple[SensorSpec, float, float, dt.datetime]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


def _error(index, field_name: str, reason: str, code: str = "invalid") -> dict:
    return {"index": index, "field": field_name, "reason": reason, "code": code}


def parse_ts(raw, now: float, max_future: float, min_t: float) -> tuple[dt.datetime | None, float, str]:
    """ISO 8601 with a UTC offset, or epoch seconds. Returns (utc datetime, epoch, error)."""
    if isinstance(raw, str):
        try:
            stamp = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None, 0.0, _("not an ISO 8601 timestamp")
        if stamp.tzinfo is None:
            return None, 0.0, _("timestamp needs a UTC offset (e.g. +08:00 or Z)")
        try:
            stamp = stamp.astimezone(UTC)  # year 1 or 9999 with an offset falls off the calendar
        except OverflowError:
            return None, 0.0, _("timestamp out of range")
        t = stamp.timestamp()
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        try:  # an integer too long for a float, NaN and infinity all end here
            t = float(raw)
            stamp = dt.datetime.fromtimestamp(t, UTC)
        except (OverflowError, OSError, ValueError):
            return None, 0.0, _("timestamp out of range")
    else:
        return None, 0.0, _("required: an ISO 8601 string with offset or epoch seconds")
    if t > now + max_future:
        return None, 0.0, _("timestamp is in the future (check the gateway clock)")
    if t < min_t:
        return None, 0.0, _("timestamp is older than the accepted history")
    return stamp, t, ""


def validate(gateway: GatewayInfo, rows, now: float | None = None) -> Parsed:
    """Check each row against the gateway's own mine's sensors; bad rows get a reason, good rows go on."""
    now = time.time() if now is None else now
    lim = limits()
    max_future, min_t = float(lim["max_future_s"]), now - float(lim["max_age_days"]) * 86400
    sensors = mine_sensors(gateway.mine_id)
    out = Parsed()
    seen = set()
    stamps = {}  # parsed timestamps of this message (readings of one scan share one)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            out.errors.append(_error(i, "", _("each reading must be an object")))
            continue
        code = row.get("sensor")
        spec = sensors.get(code) if isinstance(code, str) else None
        if spec is None:
            out.errors.append(_error(i, "sensor", _("unknown sensor %(c)r for this gateway's mine") % {"c": code}))
            continue
        if not spec.active:
            out.errors.append(_error(i, "sensor", _("sensor %(c)s is deactivated") % {"c": code}))
            continue
        if spec.gateway_id is not None and spec.gateway_id != gateway.id:
            out.errors.append(_error(i, "sensor", _("sensor %(c)s is connected through another gateway") % {"c": code}))
            continue
        if spec.is_derived:
            out.errors.append(_error(i, "sensor", _("sensor %(c)s is derived; send its source") % {"c": code}))
            continue
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.errors.append(_error(i, "value", _("must be a number")))
            continue
        try:
            value = float(value)
        except OverflowError:  # an integer literal too long for a float
            value = math.inf
        if not math.isfinite(value):
            out.errors.append(_error(i, "value", _("must be a finite number (not NaN or infinity)")))
            continue
        unit = row.get("unit")
        if unit is not None and unit != spec.unit:
            out.errors.append(_error(i, "unit", _("wrong unit %(u)r: sensor %(c)s measures %(e)s")
                                     % {"u": unit, "c": code, "e": spec.unit}))
            continue
        if not spec.lo <= value <= spec.hi:
            out.errors.append(_error(i, "value", _("%(v)s %(u)s is outside the plausible range %(lo)s to %(hi)s")
                                     % {"v": value, "u": spec.unit, "lo": spec.lo, "hi": spec.hi}))
            continue
        raw_ts = row.get("ts")
        try:
            stamp, t, problem = stamps[raw_ts]
        except (KeyError, TypeError):  # TypeError: an unhashable value, which parse_ts reports
            stamp, t, problem = parse_ts(raw_ts, now, max_future, min_t)
            if isinstance(raw_ts, str | int | float) and not isinstance(raw_ts, bool):
                stamps[raw_ts] = (stamp, t, problem)
        if problem:
            out.errors.append(_error(i, "ts", problem))
            continue
        if (spec.id, t) in seen:  # the same reading twice in one message: idempotent, keep the first
            continue
        seen.add((spec.id, t))
        out.rows.append((spec, t, value, stamp))
        for child_id, offset, scale in spec.derived:  # rounded: 100 - 98.572 is not 1.4280000000000115
            out.rows.append((spec_by_id(child_id, spec.mine_id), t, round(offset + scale * value, 9), stamp))
    return out


# Storage --------------------------------------------------------------------------------------
PG_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS monitoring_reading_in "
              "(sensor_id bigint, ts timestamptz, value float8) ON COMMIT DELETE ROWS")
PG_COPY = "COPY monitoring_reading_in (sensor_id, ts, value) FROM STDIN (FORMAT BINARY)"
PG_INSERT = ("INSERT INTO monitoring_reading (sensor_id, ts, value) SELECT sensor_id, ts, value "
             "FROM monitoring_reading_in ON CONFLICT DO NOTHING")
SQLITE_INSERT = "INSERT INTO monitoring_reading (sensor_id, ts, value) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"


@contextmanager
def _pg_cursor():
    """A server-side-binding cursor on Django's connection, in its transaction (Django's default
    client-side binding would quote every element of the batch arrays in Python). Errors are
    Django's, so callers and connection health checks treat them as usual."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def write_readings(rows) -> int:
    """Insert (spec, t, value, utc datetime) rows in one statement; returns how many were new."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        # COPY into a session-local staging table (rows formatted in C), then one idempotent insert.
        with _pg_cursor() as cursor:
            cursor.execute(PG_STAGING)
            with cursor.copy(PG_COPY) as copy:
                copy.set_types(["int8", "timestamptz", "float8"])
                for r in rows:
                    copy.write_row((r[0].id, r[3], r[2]))
            cursor.execute(PG_INSERT)
            return cursor.rowcount
    text = {}  # a message's readings usually share one timestamp: format each once
    for r in rows:
        if r[3] not in text:
            text[r[3]] = str(r[3].replace(tzinfo=None))
    with connection.cursor() as cursor:
        cursor.executemany(SQLITE_INSERT, [(r[0].id, text[r[3]], r[2]) for r in rows])
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class LevelChange:
    spec: SensorSpec
    rule_id: int
    source: str  # Alarm.Source value
    old: int
    new: int
    value: float | None
    at: float  # the reading's time (epoch seconds)


@dataclass
class Evaluation:
    changes: list[LevelChange] = field(default_factory=list)
    resumed: list[SensorSpec] = field(default_factory=list)  # silent sensors that report again
    items: set[tuple[int, str]] = field(default_factory=set)  # (mine, kind) whose point levels changed


def _load_states(ids: list[int]) -> dict[int, tuple[int, dict, bool, float]]:
    """The sensors' live state, locked on PostgreSQL (in id order, so concurrent workers cannot deadlock;
    SQLite's write transaction already serialises them)."""
    columns = "SELECT id, level, state, silent, last_epoch FROM monitoring_sensor"
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor:
            cursor.execute(f"{columns} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids], binary=True)
            fetched = cursor.fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"{columns} WHERE id IN ({','.join(['%s'] * len(ids))})", ids)
            fetched = cursor.fetchall()
    result = {}
    for sid, level, state, silent, last_epoch in fetched:
        state = json.loads(state) if isinstance(state, str) else (state or {})
        result[sid] = (level, state, bool(silent), -math.inf if last_epoch is None else last_epoch)
    return result


def _save_states(live: list[tuple], heard_late: list[int], states: list[tuple], received: dt.datetime) -> None:
    """live: (id, value, ts, epoch); heard_late: ids; states: (id, level, state json)."""
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor:
            if live:
                ids, values, stamps, epochs = (list(c) for c in zip(*live, strict=True))
                cursor.execute(
                    "UPDATE monitoring_sensor AS s SET last_value = v.value, last_ts = v.ts, last_epoch = v.epoch, "
                    "last_received_at = %s FROM unnest(%s::bigint[], %s::float8[], %s::timestamptz[], "
                    "%s::float8[]) AS v(id, value, ts, epoch) WHERE s.id = v.id",
                    [received, ids, values, stamps, epochs], binary=True)
            if heard_late:
                cursor.execute("UPDATE monitoring_sensor SET last_received_at = %s WHERE id = ANY(%s)",
                               [received, heard_late], binary=True)
            if states:
                ids, levels, texts = (list(c) for c in zip(*states, strict=True))
                cursor.execute(
                    "UPDATE monitoring_sensor AS s SET level = v.level, state = v.state::jsonb, silent = FALSE "
                    "FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS v(id, level, state) WHERE s.id = v.id",
                    [ids, levels, texts], binary=True)
        return
    stamp = str(received.replace(tzinfo=None))
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE monitoring_sensor SET last_value = %s, last_ts = %s, last_epoch = %s, "
                           "last_received_at = %s WHERE id = %s",
                           [(value, str(ts.replace(tzinfo=None)), epoch, stamp, sid) for sid, value, ts, epoch in live])
        cursor.executemany("UPDATE monitoring_sensor SET last_received_at = %s WHERE id = %s",
                           [(stamp, sid) for sid in heard_late])
        cursor.executemany("UPDATE monitoring_sensor SET level = %s, state = %s, silent = FALSE WHERE id = %s",
                           [(level, text, sid) for sid, level, text in states])


def new_late_readings(rows, states: dict) -> dict[int, list[tuple[float, float]]]:
    """Per sensor, the readings older than its newest one that are not stored yet (a gateway's backlog
    after an outage, or messages committed out of order by two workers); re-sent duplicates are left
    out. Call before `write_readings`. One lookup for the whole batch, and none without late rows."""
    late = [(spec.id, t, value, stamp) for spec, t, value, stamp in rows if t <= states[spec.id][3]]
    if not late:
        return {}
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor:
            cursor.execute("SELECT r.sensor_id, r.ts FROM monitoring_reading r JOIN unnest(%s::bigint[], "
                           "%s::timestamptz[]) AS v(sensor_id, ts) ON r.sensor_id = v.sensor_id AND r.ts = v.ts",
                           [[r[0] for r in late], [r[3] for r in late]], binary=True)
            stored = {(sid, ts.timestamp()) for sid, ts in cursor.fetchall()}
    else:
        stored = set()
        with connection.cursor() as cursor:
            for i in range(0, len(late), 2000):  # SQLite's limit on bound parameters
                chunk = late[i:i + 2000]
                pairs = ",".join(["(%s, %s)"] * len(chunk))
                cursor.execute(f"SELECT r.sensor_id, r.ts FROM monitoring_reading r JOIN (VALUES {pairs}) AS v "
                               "ON r.sensor_id = v.column1 AND r.ts = v.column2",
                               [x for r in chunk for x in (r[0], str(r[3].replace(tzinfo=None)))])
                stored |= {(sid, ts.replace(tzinfo=dt.UTC).timestamp()) for sid, ts in cursor.fetchall()}
    result: dict[int, set] = defaultdict(set)
    for sid, t, value, stamp in late:
        if (sid, stamp.timestamp()) not in stored:
            result[sid].add((t, value))
    return {sid: sorted(found) for sid, found in result.items()}


def evaluate(rows, states: dict, late: dict, received: dt.datetime) -> Evaluation:
    """Update each touched sensor's live state and run its rules over readings newer than its last one.
    New late readings (`late`, from new_late_readings) are checked on their own: if they reach a level
    above what the rule stood at, the alarm opens at that level and falls back at once, so the missed
    excursion is still answered (叫应回应) even though it is over."""
    per_sensor: dict[int, list] = defaultdict(list)
    specs = {}
    for spec, t, value, stamp in rows:
        per_sensor[spec.id].append((t, value, stamp))
        specs[spec.id] = spec
    ids = sorted(per_sensor)
    result = Evaluation()
    live_updates, heard_late, state_updates = [], [], []
    for sid in ids:
        spec = specs[sid]
        level, state, silent, last_t = states[sid]
        before = {key: dict(value) for key, value in state.items()}
        fresh = sorted(r for r in per_sensor[sid] if r[0] > last_t)
        if sid in late:
            result.changes.extend(retrospective_changes(spec, state, late[sid]))
        if silent:
            result.resumed.append(spec)
        if fresh:
            readings = [(t, v) for t, v, _s in fresh]
            new_level = 0
            for rule in spec.rules:
                st = state.setdefault(str(rule.id), {})
                source = "rate" if rule.kind == R.RATE else "threshold"
                current = st.get("l", 0)
                # Every change in order, not just first against last: an excursion that starts and ends
                # inside one batch (a gateway catching up after an outage) still opens and clears its alarm.
                for t, v in readings:
                    now_level = R.step(rule, st, t, v)
                    if now_level != current:
                        quantity = st.get("r") if rule.kind == R.RATE else v
                        result.changes.append(LevelChange(spec, rule.id, source, current, now_level, quantity, t))
                        current = now_level
                new_level = max(new_level, current)
            t, value, stamp = fresh[-1]
            if new_level != level:
                result.items.add((spec.mine_id, spec.kind))
            live_updates.append((sid, value, stamp, t))
            level = new_level
        else:
            heard_late.append(sid)  # only late data: keep the newest value, still mark the sensor heard
        if state != before or silent:
            state_updates.append((sid, level, json.dumps(state)))
    _save_states(live_updates, heard_late, state_updates, received)
    return result


def retrospective_changes(spec: SensorSpec, state: dict, readings: list[tuple[float, float]]) -> list[LevelChange]:
    """Each rule run over the late readings alone (from a blank state): a peak above the rule's current
    level becomes a rise to the peak and a fall back to the current level."""
    changes = []
    for rule in spec.rules:
        current = state.get(str(rule.id), {}).get("l", 0)
        replay: dict = {}
        peak, peak_at, shown = 0, 0.0, None
        for t, v in readings:
            level = R.step(rule, replay, t, v)
            if level > peak:
                peak, peak_at, shown = level, t, replay.get("r") if rule.kind == R.RATE else v
        if peak > current:
            source = "rate" if rule.kind == R.RATE else "threshold"
            changes.append(LevelChange(spec, rule.id, source, current, peak, shown, peak_at))
            changes.append(LevelChange(spec, rule.id, source, peak, current, None, readings[-1][0]))
    return changes


@dataclass
class Message:
    """One unit of telemetry as received: a gateway (if authenticated) and its parsed rows or errors."""

    channel: str
    payload: str
    topic: str = ""
    gateway: GatewayInfo | None = None
    parsed: Parsed = field(default_factory=Parsed)
    errors: list[dict] = field(default_factory=list)  # message-level errors (bad JSON, bad token …)
    rows_total: int = 0


@dataclass
class Outcome:
    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    quarantined: int = 0
    alarms_changed: int = 0


def commit(messages: list[Message], quarantine: bool = True, replay: bool = False) -> Outcome:
    """Store every valid row of these messages in one transaction, quarantine the bad ones (MQTT),
    evaluate rules and move alarms. Raises (and stores nothing) only if the database fails.
    `replay` (loading history) dates alarm changes at their readings' times instead of now."""
    from . import services  # alarms: notify and audit; imported late to keep the hot path's imports light

    rows = [row for m in messages for row in m.parsed.rows]
    received = timezone.now()
    out = Outcome(accepted=sum(1 for r in rows if not r[0].is_derived))
    out.rejected = sum(len(m.parsed.errors) for m in messages)
    with transaction.atomic():
        states = _load_states(sorted({r[0].id for r in rows})) if rows else {}  # locks the sensors first
        late = new_late_readings(rows, states) if rows else {}
        stored = write_readings(rows)
        out.stored, out.duplicates = stored, len(rows) - stored
        if rows:
            evaluation = evaluate(rows, states, late, received)
            out.alarms_changed = services.apply_evaluation(evaluation, replay=replay)
        gateways = {m.gateway.id for m in messages if m.gateway and m.parsed.rows}
        if gateways:
            Gateway.objects.filter(pk__in=gateways).update(last_seen_at=received)
        if quarantine:
            bad = [quarantine_record(m, received) for m in messages if m.errors or m.parsed.errors]
            QuarantinedMessage.objects.bulk_create(bad)
            out.quarantined = len(bad)
    return out


QUARANTINE_PAYLOAD_MAX = 256 * 1024


TOKEN_IN_BODY = re.compile(r'("token"\s*:\s*)"(?:[^"\\]|\\.)*"')


def redact(payload: str) -> str:
    """Quarantined payloads are read by people: a gateway token in the body is replaced."""
    return TOKEN_IN_BODY.sub(r'\1"***"', payload)


def quarantine_record(m: Message, received: dt.datetime) -> QuarantinedMessage:
    errors = m.errors + m.parsed.errors
    return QuarantinedMessage(
        received_at=received, channel=m.channel, topic=m.topic[:200],
        payload=redact(m.payload[:QUARANTINE_PAYLOAD_MAX]).replace("\x00", "\ufffd"),  # PostgreSQL text has no NUL
        truncated=len(m.payload) > QUARANTINE_PAYLOAD_MAX, errors=errors,
        mine_id=m.gateway.mine_id if m.gateway else None, gateway_id=m.gateway.id if m.gateway else None,
        rows_total=m.rows_total, rows_rejected=len(m.parsed.errors) if not m.errors else m.rows_total)


def decode(channel: str, raw: bytes | str, *, token: str | None = None, topic: str = "",
           topic_mine: int | None = None, now: float | None = None) -> Message:
    """Parse one message body: {"token": …, "readings": [{"sensor", "ts", "value", "unit"?}, …]}.
    HTTP passes the token from its header; MQTT carries it in the body and the mine in the topic."""
    lim = limits()
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    m = Message(channel=channel, payload=text, topic=topic)
    if token is not None and (gateway := authenticate(token)) is None:  # HTTP: refuse strangers before parsing
        m.errors.append(_error(None, "token", _("unknown or deactivated gateway token"), "bad_token"))
        return m
    if len(raw) > int(lim["max_body_bytes"]):
        m.errors.append(_error(None, "", _("message larger than %(n)d bytes") % {"n": lim["max_body_bytes"]},
                               "too_large"))
        return m
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        m.errors.append(_error(None, "", _("not valid JSON: %(e)s") % {"e": exc}))
        return m
    if not isinstance(body, dict) or not isinstance(body.get("readings"), list):
        m.errors.append(_error(None, "readings", _("expected an object with a list \"readings\"")))
        return m
    readings = body["readings"]
    m.rows_total = len(readings)
    if len(readings) > int(lim["max_batch_rows"]):
        m.errors.append(_error(None, "readings", _("too many readings in one message (at most %(n)d)")
                               % {"n": lim["max_batch_rows"]}, "too_large"))
        return m
    if token is None:
        gateway = authenticate(body.get("token"))
        if gateway is None:
            m.errors.append(_error(None, "token", _("unknown or deactivated gateway token"), "bad_token"))
            return m
    m.gateway = gateway
    if topic_mine is not None and topic_mine != gateway.mine_id:
        m.errors.append(_error(None, "topic", _("this gateway may publish only to its own mine's topic"),
                               "wrong_mine"))
        return m
    m.parsed = validate(gateway, readings, now)
    return m
