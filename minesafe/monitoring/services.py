"""Monitoring services: gateways, sensors and rules; alarms with 叫应回应 and escalation; silence
detection; online rate. Telemetry itself goes through `ingest.py`.

Alarm handling is a state machine (Alarm.Status) beside the condition (`active`):
    unacknowledged --叫应--> acknowledged --回应--> responded --review--> accepted
                                  ^----------- returned ---------------'
A rise in level sends a handled alarm back to unacknowledged (the new level must be answered too).
An alarm closes when its condition has cleared and its response is accepted. A missed deadline
moves it one tier up (enterprise → county → city); reminders repeat while it is unanswered.
"""

import datetime as dt
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.scoping import is_city
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from . import ingest
from . import rules as R
from .models import LEVEL_CODES, Alarm, AlarmEvent, Gateway, Level, Rule, Sensor

A = Alarm.Status
T = Alarm.Tier
PROCESS_STARTED = timezone.now()
E = AlarmEvent.Kind
ROLE = User.Role
TIER_ORDER = [T.ENTERPRISE, T.COUNTY, T.CITY]


def catalogue() -> dict:
    return ingest.kinds_catalogue()


def kind_label(code: str) -> str:
    """A monitored quantity as people read it, in the active language (the code if unknown)."""
    kind = catalogue()["kinds"].get(code)
    if not kind:
        return code or "—"
    return kind["zh"] if (get_language() or "zh-hans").startswith("zh") else kind["en"]


def kind_choices() -> list[tuple[str, str]]:
    return [(code, f"{k['zh']} · {k['en']}") for code, k in catalogue()["kinds"].items()]


# Permissions -------------------------------------------------------------------------------------
def may_configure(user: User, mine: Mine) -> bool:
    """Gateways, sensors and rules: the mine's enterprise, its county and the city."""
    return is_mine_owner(user, mine) or (user.role == ROLE.COUNTY and can_manage_mine(user, mine)) or is_city(user)


def require_configure(user: User, mine: Mine) -> None:
    if not may_configure(user, mine):
        raise PermissionDenied(_("you may not configure monitoring for this mine"))


def acting_tier(user: User, alarm: Alarm) -> str | None:
    """The tier a user answers an alarm for: the enterprise always; county and city at any time
    (they may step in before the alarm reaches them)."""
    if is_city(user):
        return T.CITY
    if user.role == ROLE.COUNTY and can_manage_mine(user, alarm.mine):
        return T.COUNTY
    if is_mine_owner(user, alarm.mine):
        return T.ENTERPRISE
    return None


def may_review(user: User, alarm: Alarm) -> bool:
    return acting_tier(user, alarm) in (T.COUNTY, T.CITY)


# Gateways ----------------------------------------------------------------------------------------
def new_token() -> str:
    return "gw_" + secrets.token_urlsafe(32)


def create_gateway(actor: User, mine: Mine, name: str) -> tuple[Gateway, str]:
    """A gateway and its token; the token is returned once and only its hash is kept."""
    require_configure(actor, mine)
    if not name.strip():
        raise ValidationError({"name": _("a gateway needs a name")})
    token = new_token()
    with transaction.atomic():
        gateway = Gateway.objects.create(mine=mine, name=name.strip(), token_hash=ingest.token_hash(token),
                                         token_prefix=token[:10], rotated_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, gateway,
                     after=audit.snapshot(gateway, ["mine", "name", "token_prefix", "active"]))
    return gateway, token


def rotate_token(actor: User, gateway: Gateway) -> str:
    require_configure(actor, gateway.mine)
    token = new_token()
    with transaction.atomic():
        before = {"token_prefix": gateway.token_prefix}
        gateway.token_hash, gateway.token_prefix = ingest.token_hash(token), token[:10]
        gateway.rotated_at = timezone.now()
        gateway.save(update_fields=["token_hash", "token_prefix", "rotated_at"])
        transaction.on_commit(lambda: ingest.invalidate(gateway.mine_id))
        audit.record(actor, AuditEvent.Action.UPDATE, gateway, before=before,
                     after={"token_prefix": gateway.token_prefix})
    return token


def set_gateway_active(actor: User, gateway: Gateway, active: bool) -> Gateway:
    require_configure(actor, gateway.mine)
    if gateway.active != active:
        with transaction.atomic():
            gateway.active = active
            gateway.save(update_fields=["active"])
            transaction.on_commit(lambda: ingest.invalidate(gateway.mine_id))
            audit.record(actor, AuditEvent.Action.UPDATE, gateway, before={"active": not active},
                         after={"active": active})
    return gateway


# Sensors and rules ---------------------------------------------------------------------------------
SENSOR_FIELDS = ["code", "name", "kind", "unit", "interval_s", "location", "latitude", "longitude", "active",
                 "gateway", "source", "derive_offset", "derive_scale"]
RULE_FIELDS = ["kind", "direction", "blue", "yellow", "orange", "red", "hysteresis", "min_duration_s", "window_s",
               "per_s", "silent_intervals", "level", "active", "note"]


def _validate_sensor(sensor: Sensor) -> None:
    kinds = catalogue()["kinds"]
    errors = {}
    if sensor.kind not in kinds:
        errors["kind"] = _("unknown sensor kind %(k)r") % {"k": sensor.kind}
    if sensor.gateway_id and sensor.gateway.mine_id != sensor.mine_id:
        errors["gateway"] = _("the gateway belongs to another mine")
    if sensor.source_id:
        if sensor.source.mine_id != sensor.mine_id:
            errors["source"] = _("a derived sensor takes its source from the same mine")
        elif sensor.source.source_id:
            errors["source"] = _("the source of a derived sensor must be a measured sensor")
        elif sensor.pk and sensor.source_id == sensor.pk:
            errors["source"] = _("a sensor cannot derive from itself")
        if sensor.gateway_id:
            errors["gateway"] = _("a derived sensor has no gateway of its own")
    if not sensor.interval_s or sensor.interval_s < 1:
        errors["interval_s"] = _("the expected interval must be at least 1 second")
    if sensor.code and Sensor.objects.filter(mine_id=sensor.mine_id, code=sensor.code).exclude(pk=sensor.pk).exists():
        errors["code"] = _("this mine already has a sensor with this code")
    if errors:
        raise ValidationError(errors)


def create_sensor(actor: User, mine: Mine, *, code: str, name: str, kind: str, default_rules: bool = True,
                  **fields) -> Sensor:
    """A sensor with its kind's unit and interval unless given, and the kind's default rules plus a no-data rule."""
    require_configure(actor, mine)
    spec = catalogue()["kinds"].get(kind, {})
    fields.setdefault("unit", spec.get("unit", ""))
    fields.setdefault("interval_s", spec.get("interval_s", 600))
    sensor = Sensor(mine=mine, code=code.strip(), name=name.strip() or code.strip(), kind=kind, **fields)
    _validate_sensor(sensor)
    with transaction.atomic():
        sensor.save()
        audit.record(actor, AuditEvent.Action.CREATE, sensor, after=audit.snapshot(sensor, SENSOR_FIELDS))
        if default_rules:
            for rule in default_rules_for(sensor):
                rule.save()
                audit.record(actor, AuditEvent.Action.CREATE, rule, after=audit.snapshot(rule, RULE_FIELDS))
    ingest.invalidate(mine.pk)
    return sensor


def default_rules_for(sensor: Sensor) -> list[Rule]:
    data = catalogue()
    spec = data["kinds"].get(sensor.kind, {})
    made = []
    for d in spec.get("rules", []):
        made.append(Rule(sensor=sensor, kind=d["kind"], direction=d.get("direction", "upper"),
                         blue=d.get("blue"), yellow=d.get("yellow"), orange=d.get("orange"), red=d.get("red"),
                         hysteresis=d.get("hysteresis", 0), min_duration_s=d.get("min_duration_s", 0),
                         window_s=d.get("window_s"), per_s=d.get("per_s"),
                         note=f"{d.get('confidence', '')}: {d.get('note', '')}".strip(": ")[:300]))
    if not sensor.source_id:
        defaults = data["defaults"]
        made.append(Rule(sensor=sensor, kind=Rule.Kind.NO_DATA, silent_intervals=defaults["no_data_intervals"],
                         level=LEVEL_CODES[defaults["no_data_level"]]))
    return made


def update_sensor(actor: User, sensor: Sensor, changes: dict) -> Sensor:
    require_configure(actor, sensor.mine)
    with transaction.atomic():
        current = Sensor.objects.select_for_update().get(pk=sensor.pk)
        before = audit.snapshot(current, SENSOR_FIELDS)
        for name, value in changes.items():
            if name not in SENSOR_FIELDS:
                raise ValidationError({name: _("this field cannot be changed here")})
            setattr(current, name, value)
        _validate_sensor(current)
        current.save()
        old, new = audit.diff(before, audit.snapshot(current, SENSOR_FIELDS))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
        if not current.active and before["active"]:
            clear_alarms(Alarm.objects.filter(sensor=current))
            refresh_item(current.mine_id, current.kind)
    ingest.invalidate(sensor.mine_id)
    return current


def _validate_rule(rule: Rule) -> None:
    errors = {}
    levels = rule.thresholds()
    if rule.kind in (Rule.Kind.THRESHOLD, Rule.Kind.RATE):
        if not levels:
            errors["red"] = _("give at least one threshold")
        values = [t for _lvl, t in levels]
        ordered = sorted(values) if (rule.direction == Rule.Direction.UPPER or rule.kind == Rule.Kind.RATE) \
            else sorted(values, reverse=True)
        if values != ordered:
            errors["red"] = _("thresholds must grow more severe from blue to red")
        if rule.hysteresis < 0:
            errors["hysteresis"] = _("must not be negative")
    if rule.kind == Rule.Kind.RATE and not rule.window_s:
        errors["window_s"] = _("a rate rule needs a window")
    if rule.kind == Rule.Kind.NO_DATA:
        if rule.active and Rule.objects.filter(sensor=rule.sensor, kind=Rule.Kind.NO_DATA, active=True) \
                .exclude(pk=rule.pk).exists():
            errors["kind"] = _("a sensor has one no-data rule; change its intervals or level instead")
        if rule.sensor.source_id:
            errors["kind"] = _("a derived sensor has no data of its own to miss")
        if rule.silent_intervals < 1:
            errors["silent_intervals"] = _("at least one interval")
        if rule.level not in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
            errors["level"] = _("choose the alarm level")
    if errors:
        raise ValidationError(errors)


def create_rule(actor: User, sensor: Sensor, **fields) -> Rule:
    require_configure(actor, sensor.mine)
    rule = Rule(sensor=sensor, **fields)
    _validate_rule(rule)
    with transaction.atomic():
        rule.save()
        audit.record(actor, AuditEvent.Action.CREATE, rule, after=audit.snapshot(rule, RULE_FIELDS))
    ingest.invalidate(sensor.mine_id)
    return rule


def update_rule(actor: User, rule: Rule, changes: dict) -> Rule:
    """Threshold changes are audited field by field (a quietly raised threshold hides a danger)."""
    require_configure(actor, rule.sensor.mine)
    with transaction.atomic():
        current = Rule.objects.select_for_update().select_related("sensor").get(pk=rule.pk)
        before = audit.snapshot(current, RULE_FIELDS)
        for name, value in changes.items():
            if name not in RULE_FIELDS or name == "kind":
                raise ValidationError({name: _("this field cannot be changed here")})
            setattr(current, name, value)
        _validate_rule(current)
        current.save()
        old, new = audit.diff(before, audit.snapshot(current, RULE_FIELDS))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
        if not current.active:
            clear_alarms(Alarm.objects.filter(rule=current))
    ingest.invalidate(rule.sensor.mine_id)
    return current


# Alarms: opening, level changes, clearing (driven by ingest and the silence check) -----------------
def response_times(level: int) -> dict:
    code = {v: k for k, v in LEVEL_CODES.items()}.get(level, "blue")
    return catalogue()["response"]["levels"][code]


def _deadlines(alarm: Alarm, now: dt.datetime) -> None:
    times = response_times(alarm.level)
    alarm.ack_due_at = now + dt.timedelta(minutes=times["ack_minutes"])
    alarm.response_due_at = alarm.ack_due_at + dt.timedelta(minutes=times["response_minutes"])
    alarm.next_reminder_at = now + dt.timedelta(minutes=times["reminder_minutes"])


def organisations_for(mine: Mine, tier: str) -> list[Organisation]:
    """The enterprise always; the county from tier county; the city bureau at tier city."""
    orgs = [mine.enterprise.organisation]
    if tier in (T.COUNTY, T.CITY):
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))
    if tier == T.CITY:
        orgs += list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))
    return orgs


def alarm_link(alarm: Alarm) -> str:
    return f"/monitoring/alarms/{alarm.pk}/"


def describe(alarm: Alarm) -> str:
    if alarm.sensor_id:
        what = alarm.sensor.name
    else:
        what = kind_label(alarm.kind) if alarm.kind else alarm.get_source_display()
    return f"{alarm.mine.name} · {what} · {alarm.get_source_display()}"


def _notify(alarm: Alarm, subject: str) -> None:
    notify.send(subject, describe(alarm), alarm_link(alarm), organisations=organisations_for(alarm.mine, alarm.tier))


def _event(alarm: Alarm, kind: str, now: dt.datetime, actor: User | None = None, note: str = "") -> AlarmEvent:
    return AlarmEvent.objects.create(alarm=alarm, at=now, kind=kind, level=alarm.level, value=alarm.value,
                                     actor=actor, note=note)


def apply_level(key: str, *, mine_id: int, level: int, source: str, sensor_id: int | None = None,
                rule_id: int | None = None, kind: str = "", value: float | None = None,
                now: dt.datetime | None = None, note: str = "", evidence: dict | None = None) -> Alarm | None:
    """Move the open alarm of `key` to `level`: open it, raise, lower, clear or bring it back. `evidence`
    (what an analysis found) replaces the alarm's evidence when given."""
    now = now or timezone.now()
    audit.lock_chain()  # the chain lock before any alarm row lock, in every writer (see audit.lock_chain)
    alarm = Alarm.objects.select_for_update().select_related("mine__enterprise__organisation") \
        .filter(key=key, closed_at__isnull=True).first()
    if alarm is None:
        if level <= 0:
            return None
        alarm = Alarm(key=key, mine_id=mine_id, sensor_id=sensor_id, rule_id=rule_id, source=source, kind=kind,
                      level=level, max_level=level, value=value, opened_at=now, evidence=evidence or {})
        _deadlines(alarm, now)
        alarm.save()
        _event(alarm, E.OPENED, now, note=note)
        audit.record("system", AuditEvent.Action.CREATE, alarm,
                     after=audit.snapshot(alarm, ["mine", "sensor", "source", "level", "value"]))
        _notify(alarm, _("%(level)s alarm: %(what)s") % {"level": alarm.get_level_display(), "what": describe(alarm)})
        return alarm
    before = {"level": alarm.level, "active": alarm.active, "status": alarm.status}
    alarm.value = value
    if evidence is not None and evidence != alarm.evidence:
        alarm.evidence = evidence
        alarm.save(update_fields=["evidence"])
    if level <= 0:
        if not alarm.active:
            return alarm
        alarm.active, alarm.cleared_at = False, now
        _event(alarm, E.CLEARED, now)
        if alarm.status == A.ACCEPTED:
            alarm.closed_at = now
            _event(alarm, E.CLOSED, now)
    elif not alarm.active or level > alarm.level:
        rising = level > alarm.level or not alarm.active
        kind_of_change = E.REACTIVATED if not alarm.active else E.RAISED
        alarm.active, alarm.cleared_at, alarm.level = True, None, level
        alarm.max_level = max(alarm.max_level, level)
        if rising and alarm.status != A.UNACKNOWLEDGED:  # the new level must be answered again
            alarm.status = A.UNACKNOWLEDGED
        _deadlines(alarm, now)
        _event(alarm, kind_of_change, now, note=note)
        _notify(alarm, _("%(level)s alarm: %(what)s") % {"level": alarm.get_level_display(), "what": describe(alarm)})
    elif level < alarm.level:
        alarm.level = level
        _event(alarm, E.LOWERED, now)
    else:
        return alarm
    alarm.save()
    audit.record("system", AuditEvent.Action.TRANSITION, alarm, before=before,
                 after={"level": alarm.level, "active": alarm.active, "status": alarm.status})
    return alarm


def clear_alarms(alarms) -> None:
    """The condition of these alarms ends (their rule or sensor was switched off); their handling goes on."""
    for alarm in alarms.filter(closed_at__isnull=True, active=True):
        apply_level(alarm.key, mine_id=alarm.mine_id, level=0, source=alarm.source)


def apply_evaluation(evaluation, replay: bool = False) -> int:
    """Alarms for what one ingest batch changed: per-rule levels, resumed sensors, item aggregation.
    A replay of history dates each change at its reading's time."""
    if evaluation.changes or evaluation.resumed or evaluation.items:
        audit.lock_chain()  # before refresh_item reads the points' levels: concurrent batches take turns
    changed = 0
    for c in evaluation.changes:
        at = dt.datetime.fromtimestamp(c.at, dt.UTC) if replay else None
        apply_level(f"r{c.rule_id}", mine_id=c.spec.mine_id, sensor_id=c.spec.id, rule_id=c.rule_id,
                    source=c.source, kind=c.spec.kind, level=c.new, value=c.value, now=at)
        changed += 1
    for spec in evaluation.resumed:
        if spec.no_data_rule:
            apply_level(f"r{spec.no_data_rule}", mine_id=spec.mine_id, level=0, source=Alarm.Source.NO_DATA)
        apply_level(f"m{spec.mine_id}", mine_id=spec.mine_id, level=0, source=Alarm.Source.MINE_DARK)
        changed += 1
    for mine_id, kind in sorted(evaluation.items):
        changed += refresh_item(mine_id, kind)
    return changed


def aggregation_steps() -> list[tuple[int, int, int]]:
    return [(s["count"], LEVEL_CODES[s["of"]], LEVEL_CODES[s["gives"]]) for s in catalogue()["aggregation"]["steps"]]


def refresh_item(mine_id: int, kind: str) -> int:
    """GB 39496 item level from its points' levels (4 blue → yellow, 3 yellow → orange, 2 orange → red)."""
    levels = Sensor.objects.filter(mine_id=mine_id, kind=kind, active=True).values_list("level", flat=True)
    level = R.aggregate_level(levels, aggregation_steps())
    alarm = apply_level(f"i{mine_id}:{kind}", mine_id=mine_id, level=level, source=Alarm.Source.AGGREGATE, kind=kind)
    return int(alarm is not None)


# Silence: sensors and whole mines that stopped reporting ------------------------------------------------
@dataclass
class SilenceRun:
    checked: int = 0
    silent: int = 0
    dark_mines: int = 0


def check_silence(now: dt.datetime | None = None) -> SilenceRun:
    """Open no-data alarms for sensors silent longer than their rule allows, and a mine-dark alarm for a
    mine whose every active measured sensor is silent. Reports clear them again (ingest)."""
    now = now or timezone.now()
    # Silence measured from this process's start at the earliest: after the platform itself was down,
    # sensors get their full window to be heard again before they count as silent.
    since_start = PROCESS_STARTED if now >= PROCESS_STARTED else None
    run = SilenceRun()
    rules = Rule.objects.filter(kind=Rule.Kind.NO_DATA, active=True, sensor__active=True,
                                sensor__source__isnull=True).select_related("sensor")
    newly_silent = []
    for rule in rules.iterator(chunk_size=2000):
        sensor = rule.sensor
        run.checked += 1
        heard = sensor.last_received_at or sensor.created_at
        if since_start:
            heard = max(heard, since_start)
        if now - heard <= dt.timedelta(seconds=sensor.interval_s * rule.silent_intervals):
            continue
        run.silent += 1
        if not sensor.silent:
            newly_silent.append((rule, sensor))
    for rule, sensor in newly_silent:
        with transaction.atomic():
            if Sensor.objects.filter(pk=sensor.pk, silent=False, last_received_at=sensor.last_received_at) \
                    .update(silent=True):
                apply_level(f"r{rule.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk, rule_id=rule.pk,
                            source=Alarm.Source.NO_DATA, kind=sensor.kind, level=rule.level,
                            value=None, now=now)
    dark_level = LEVEL_CODES[catalogue()["defaults"]["mine_dark_level"]]
    measured = Sensor.objects.filter(active=True, source__isnull=True)
    counts = measured.values("mine_id").annotate(total=Count("pk"), quiet=Count("pk", filter=Q(silent=True)))
    looks_dark = {row["mine_id"] for row in counts if row["total"] and row["quiet"] == row["total"]}
    marked_dark = set(Alarm.objects.filter(source=Alarm.Source.MINE_DARK, closed_at__isnull=True, active=True)
                      .values_list("mine_id", flat=True))
    for mine_id in sorted(looks_dark | marked_dark):
        with transaction.atomic():
            audit.lock_chain()  # ingest clears a dark mine under this lock: count again once holding it
            sensors = measured.filter(mine_id=mine_id)
            dark = sensors.exists() and not sensors.filter(silent=False).exists()
            apply_level(f"m{mine_id}", mine_id=mine_id, level=dark_level if dark else 0,
                        source=Alarm.Source.MINE_DARK, now=now)
            run.dark_mines += dark
    return run


# Failure-time forecasts on displacement sensors (every 10 minutes) ------------------------------------
@dataclass
class ForecastRun:
    checked: int = 0
    published: int = 0
    alarms: int = 0


def forecast_series(sensor: Sensor, since: dt.datetime, until: dt.datetime, config: dict | None = None) \
        -> list[tuple[float, float]]:
    """The displacement series the forecaster reads: (epoch, mm) averaged over `bucket_s` (an hour by default).
    Ten-minute GNSS solutions scatter by a few hundredths of a millimetre, which over a short velocity window
    is as large as the creep itself; hourly means are what the method (and the bench) assume."""
    from .models import Reading

    bucket = (config or catalogue()["forecast"]).get("bucket_s", 3600)
    sums: dict[int, list[float]] = {}
    for ts, value in Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since, ts__lte=until) \
            .order_by("ts").values_list("ts", "value").iterator(chunk_size=5000):
        epoch = ts.timestamp()
        acc = sums.setdefault(int(epoch // bucket), [0.0, 0.0, 0])
        acc[0] += epoch
        acc[1] += value
        acc[2] += 1
    return [(t / n, v / n) for _key, (t, v, n) in sorted(sums.items())]


def run_forecasts(now: dt.datetime | None = None) -> ForecastRun:
    """Replay each live displacement sensor's recent readings through the forecaster; a published forecast
    of failure within the horizon keeps a red alarm open that says when (and the band), anything else
    clears it. The value of the alarm is the hours left to the forecast failure."""
    from . import forecast as fc

    now = now or timezone.now()
    config = catalogue()["forecast"]
    since = now - dt.timedelta(days=config["lookback_days"])
    horizon_s = config["horizon_h"] * 3600
    run = ForecastRun()
    sensors = Sensor.objects.filter(kind__in=config["kinds"], active=True, last_received_at__gte=since)
    for sensor in sensors.iterator():
        run.checked += 1
        series = forecast_series(sensor, since, now, config)
        standing = None
        try:
            states = list(fc.replay(series))
            standing = states[-1].standing if states else None
        except fc.SeriesError:
            pass  # too short (or otherwise unfit) to forecast: no forecast, never a fabricated one
        due = standing is not None and 0 <= standing.failure_at - now.timestamp() <= horizon_s
        run.published += standing is not None
        note = ""
        if due:
            event = fc.as_json(standing)
            note = _("failure forecast at %(at)s (band %(a)s to %(b)s, fit R² %(q).2f)") % {
                "at": event["failure_at"], "a": event["band_from"], "b": event["band_to"], "q": standing.fit_quality}
        with transaction.atomic():
            alarm = apply_level(f"f{sensor.pk}", mine_id=sensor.mine_id, sensor_id=sensor.pk,
                                source=Alarm.Source.FORECAST, kind=sensor.kind, level=Level.RED if due else 0,
                                value=round((standing.failure_at - now.timestamp()) / 3600, 1) if due else None,
                                now=now, note=note, evidence=fc.as_json(standing) if due else None)
        run.alarms += bool(due and alarm)
    return run


# 叫应回应: people answer alarms ------------------------------------------------------------------------
def _locked(alarm: Alarm) -> Alarm:
    audit.lock_chain()
    return Alarm.objects.select_for_update().select_related("mine__enterprise__organisation").get(pk=alarm.pk)


def acknowledge(actor: User, alarm: Alarm, note: str = "") -> Alarm:
    """叫应: the duty person confirms they have the alarm (the enterprise; county or city may step in)."""
    if acting_tier(actor, alarm) is None:
        raise PermissionDenied(_("you may not answer this alarm"))
    with transaction.atomic():
        current = _locked(alarm)
        if current.closed_at or current.status != A.UNACKNOWLEDGED:
            raise InvalidTransition(_("this alarm is not waiting for acknowledgement"))
        now = timezone.now()
        current.status, current.acknowledged_at, current.acknowledged_by = A.ACKNOWLEDGED, now, actor
        times = response_times(current.level)
        current.response_due_at = max(current.response_due_at, now + dt.timedelta(minutes=times["response_minutes"]))
        current.save()
        _event(current, E.ACKNOWLEDGED, now, actor, note)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": A.UNACKNOWLEDGED},
                     after={"status": A.ACKNOWLEDGED, "note": note})
    return current


def respond(actor: User, alarm: Alarm, *, measures: str, people_withdrawn: bool | None = None,
            withdrawn_count: int | None = None) -> Alarm:
    """回应: what was done. From the configured level up, the response must say whether people were
    withdrawn (and how many); a response without measures is refused."""
    if acting_tier(actor, alarm) is None:
        raise PermissionDenied(_("you may not answer this alarm"))
    with transaction.atomic():
        current = _locked(alarm)
        if current.closed_at or current.status != A.ACKNOWLEDGED:
            raise InvalidTransition(_("acknowledge the alarm before recording the response"))
        errors = {}
        if len((measures or "").strip()) < 2:
            errors["measures"] = _("describe the measures taken")
        # The highest level the alarm reached decides (a red alarm lowered since still asks about withdrawal).
        required_from = LEVEL_CODES[catalogue()["response"]["withdrawal_required_from"]]
        if current.max_level >= required_from and people_withdrawn is None:
            errors["people_withdrawn"] = _("at this level, say whether people were withdrawn")
        if people_withdrawn and (withdrawn_count is None or withdrawn_count < 1):
            errors["withdrawn_count"] = _("give how many people were withdrawn")
        if people_withdrawn is False and withdrawn_count:
            errors["withdrawn_count"] = _("no one was withdrawn, so leave the count empty")
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        current.status, current.responded_at, current.responded_by = A.RESPONDED, now, actor
        current.measures, current.people_withdrawn = measures.strip(), people_withdrawn
        current.withdrawn_count = withdrawn_count if people_withdrawn else None
        current.save()
        _event(current, E.RESPONDED, now, actor, current.measures)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": A.ACKNOWLEDGED},
                     after={"status": A.RESPONDED, **audit.snapshot(current, ["measures", "people_withdrawn",
                                                                               "withdrawn_count"])})
    return current


def review(actor: User, alarm: Alarm, *, accept: bool, note: str = "") -> Alarm:
    """The county or city checks the response: accept it, or return it with a reason."""
    if not may_review(actor, alarm):
        raise PermissionDenied(_("only the county or the city reviews a response"))
    if not accept and len(note.strip()) < 2:
        raise ValidationError({"note": _("say why the response is returned")})
    with transaction.atomic():
        current = _locked(alarm)
        if current.closed_at or current.status != A.RESPONDED:
            raise InvalidTransition(_("this alarm has no response waiting for review"))
        if current.responded_by_id == actor.pk:
            raise PermissionDenied(_("a response is reviewed by someone other than the person who gave it"))
        now = timezone.now()
        current.reviewed_at, current.reviewed_by = now, actor
        if accept:
            current.status = A.ACCEPTED
            _event(current, E.ACCEPTED, now, actor, note)
            if not current.active:
                current.closed_at = now
                _event(current, E.CLOSED, now, actor)
        else:
            current.status = A.ACKNOWLEDGED
            times = response_times(current.level)
            current.response_due_at = now + dt.timedelta(minutes=times["response_minutes"])
            _event(current, E.RETURNED, now, actor, note)
        current.save()
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": A.RESPONDED},
                     after={"status": current.status, "closed": bool(current.closed_at), "note": note})
    if not accept:
        _notify(current, _("Alarm response returned: %(what)s") % {"what": describe(current)})
    return current


# Escalation and reminders (every minute) -------------------------------------------------------------
@dataclass
class EscalationRun:
    escalated: int = 0
    reminded: int = 0


def escalate_alarms(now: dt.datetime | None = None) -> EscalationRun:
    """Missed 叫应 or 回应 deadline: one tier up and a fresh deadline there. Unanswered: remind."""
    now = now or timezone.now()
    run = EscalationRun()
    late = Alarm.objects.filter(closed_at__isnull=True).filter(
        Q(status=A.UNACKNOWLEDGED, ack_due_at__lte=now) | Q(status=A.ACKNOWLEDGED, response_due_at__lte=now))
    for alarm_id in late.exclude(tier=T.CITY).values_list("pk", flat=True):
        with transaction.atomic():
            alarm = _locked(Alarm(pk=alarm_id))
            missed = alarm.ack_due_at if alarm.status == A.UNACKNOWLEDGED else alarm.response_due_at
            if alarm.closed_at or alarm.tier == T.CITY or alarm.status not in (A.UNACKNOWLEDGED, A.ACKNOWLEDGED) \
                    or missed > now:
                continue
            old_tier = alarm.tier
            alarm.tier = TIER_ORDER[TIER_ORDER.index(alarm.tier) + 1]
            times = response_times(alarm.level)
            if alarm.status == A.UNACKNOWLEDGED:
                alarm.ack_due_at = now + dt.timedelta(minutes=times["ack_minutes"])
                alarm.response_due_at = alarm.ack_due_at + dt.timedelta(minutes=times["response_minutes"])
            else:
                alarm.response_due_at = now + dt.timedelta(minutes=times["response_minutes"])
            alarm.next_reminder_at = now + dt.timedelta(minutes=times["reminder_minutes"])
            alarm.save()
            what = _("not acknowledged") if alarm.status == A.UNACKNOWLEDGED else _("no response")
            _event(alarm, E.ESCALATED, now, note=f"{T(old_tier).label} → {T(alarm.tier).label}: {what}")
            audit.record("system", AuditEvent.Action.TRANSITION, alarm, before={"tier": old_tier},
                         after={"tier": alarm.tier, "reason": what})
            _notify(alarm, _("Escalated alarm (%(what)s): %(alarm)s") % {"what": what, "alarm": describe(alarm)})
            run.escalated += 1
    due = Alarm.objects.filter(closed_at__isnull=True, status__in=[A.UNACKNOWLEDGED, A.ACKNOWLEDGED],
                               next_reminder_at__lte=now)
    for alarm_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            alarm = _locked(Alarm(pk=alarm_id))
            if alarm.closed_at or alarm.next_reminder_at is None or alarm.next_reminder_at > now:
                continue
            alarm.next_reminder_at = now + dt.timedelta(minutes=response_times(alarm.level)["reminder_minutes"])
            alarm.save(update_fields=["next_reminder_at"])
            _event(alarm, E.REMINDED, now)
            _notify(alarm, _("Reminder: alarm still unanswered: %(alarm)s") % {"alarm": describe(alarm)})
            run.reminded += 1
    return run


# Online rate (在线率) and connection (应联尽联) --------------------------------------------------------
def must_connect(mines):
    """Mines the plan requires to send sensing data (task 17): tailings ponds in use, underground mines,
    and open pits with a current slope of 150 m or more, while producing or building."""
    live = mines.filter(status__in=[Mine.Status.PRODUCING, Mine.Status.CONSTRUCTION])
    return live.filter(connection_q())


def connection_q() -> Q:
    """The kinds of mine that connect when producing or building (whatever their status now)."""
    threshold = catalogue().get("networking_slope_height_m", 150)
    return Q(mine_type__in=[Mine.Type.TAILINGS_POND, Mine.Type.UNDERGROUND]) \
        | Q(mine_type=Mine.Type.OPEN_PIT, slope_height__gte=threshold)


def is_online(sensor: Sensor, now: dt.datetime, intervals: int) -> bool:
    heard = sensor.last_received_at
    return bool(heard and now - heard <= dt.timedelta(seconds=sensor.interval_s * intervals))


@dataclass
class RateRow:
    key: object
    label: str
    sensors: int = 0
    online: int = 0
    required_mines: int = 0
    connected_mines: int = 0

    @property
    def online_ratio(self) -> float | None:
        return self.online / self.sensors if self.sensors else None

    @property
    def connection_ratio(self) -> float | None:
        return self.connected_mines / self.required_mines if self.required_mines else None


def online_rates(mines, now: dt.datetime | None = None) -> dict:
    """Share of active measured sensors heard within their no-data window, per mine, county and city;
    and the share of mines that must connect which have at least one active sensor."""
    now = now or timezone.now()
    intervals = catalogue()["defaults"]["no_data_intervals"]
    mines = list(mines.select_related("county"))
    required = set(must_connect(Mine.objects.filter(pk__in=[m.pk for m in mines])).values_list("pk", flat=True))
    per_mine = {m.pk: RateRow(m, m.name) for m in mines}
    sensors = Sensor.objects.filter(mine_id__in=per_mine, active=True, source__isnull=True) \
        .only("mine_id", "interval_s", "last_received_at")
    has_sensor = Counter()  # connected: at least one active sensor whose data has reached the platform
    for s in sensors.iterator(chunk_size=5000):
        row = per_mine[s.mine_id]
        row.sensors += 1
        row.online += is_online(s, now, intervals)
        has_sensor[s.mine_id] += s.last_received_at is not None
    counties: dict = defaultdict(lambda: None)
    city = RateRow("city", _("Whole city"))
    for m in mines:
        row = per_mine[m.pk]
        row.required_mines = int(m.pk in required)
        row.connected_mines = int(m.pk in required and has_sensor[m.pk] > 0)
        county = counties[m.county_id] or RateRow(m.county, m.county.name_zh)
        counties[m.county_id] = county
        for agg in (county, city):
            agg.sensors += row.sensors
            agg.online += row.online
            agg.required_mines += row.required_mines
            agg.connected_mines += row.connected_mines
    return {"mines": [r for r in per_mine.values() if r.sensors or r.required_mines],
            "counties": sorted(counties.values(), key=lambda r: r.key.code), "city": city}


def sensor_series(sensor: Sensor, since: dt.datetime, until: dt.datetime, max_points: int = 600) -> list:
    """(ts, value) for a chart: every reading when few, else the min and max of each time bucket
    (a spike survives the downsampling)."""
    from .models import Reading

    qs = Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since, ts__lte=until).order_by("ts")
    total = qs.count()
    if total <= max_points:
        return list(qs.values_list("ts", "value"))
    buckets = max_points // 2
    width = (until - since) / buckets
    out = []
    current, lo, hi = None, None, None
    for ts, value in qs.values_list("ts", "value").iterator(chunk_size=5000):
        index = int((ts - since) / width)
        if index != current:
            if current is not None:
                out.extend(sorted({lo, hi}))
            current, lo, hi = index, (ts, value), (ts, value)
        else:
            lo = lo if lo[1] <= value else (ts, value)
            hi = hi if hi[1] >= value else (ts, value)
    if current is not None:
        out.extend(sorted({lo, hi}))
    return out


def require_visible_mine(user: User, mine_id) -> Mine:
    mine = Mine.objects.visible_to(user).filter(pk=mine_id).first()
    if mine is None:
        raise DomainError(_("no such mine"), field="mine", code="not_found")
    return mine
