"""Monitoring for the demo city: a gateway and realistic sensors at every mine that must connect, seven
days of history written through the real ingest path, and the plan the simulator runs from.

Gateway tokens are kept only hashed in the database, so the plan with the demo tokens goes to a file
under VAR_DIR (owner-only). Seeding is idempotent: a second run creates nothing and writes no readings;
a gateway whose token is not in the file gets a fresh one (rotated through the service, audited).
"""

import datetime as dt
import logging
import math
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from minesafe.core.models import User
from minesafe.registry.models import Enterprise, Mine

from . import ingest, services
from . import simulator as sim
from .integrity import run_quality_checks
from .models import Alarm, Gateway, Sensor

logger = logging.getLogger("minesafe.monitoring.demo")

TOKENS_FILENAME = "demo-gateways.json"
GATEWAY_NAME = "在线监测网关"
DEMO_ACTOR = "city"
SHOWCASE_LOGIN = "qiye_kc"  # the demo enterprise login: its mines get the live scenario when they can
SHOWCASE_COUNTY = "130827"  # 宽城, the plan's key county
BACKFILL_MIN_STEP_S = 300  # 20 s and 30 s sensors are backfilled every 5 minutes
CHUNK_S = 6 * sim.HOUR  # readings committed per transaction in the backfill
CAP_ABOVE_MINES = 200  # with more mines to connect than this, each gets its core points only
CAPPED_SENSORS = 6


def tokens_path() -> Path:
    return Path(settings.VAR_DIR) / TOKENS_FILENAME


@dataclass
class MonitoringSummary:
    mines: int = 0
    gateways: int = 0
    gateways_created: int = 0
    tokens_rotated: int = 0
    sensors: int = 0
    sensors_created: int = 0
    readings: int = 0
    alarms_opened: int = 0
    watch_flags: int = 0
    seconds: float = 0.0
    path: str = ""


@dataclass
class PlannedSensor:
    code: str
    name: str
    kind: str
    location: str
    priority: int  # lower first; capped layouts keep the lowest
    params: dict = field(default_factory=dict)
    derived_from: str = ""
    derive_offset: float = 0.0
    derive_scale: float = 1.0


# Layouts per mine type ----------------------------------------------------------------------------
def _peak_storage(amount_mm: float, duration_s: float, tau_s: float) -> float:
    return amount_mm / duration_s * tau_s * (1 - math.exp(-duration_s / tau_s))


def pond_layout(rng: random.Random, mine: Mine, roles: dict, base: float) -> tuple[dict, list[PlannedSensor]]:
    storm = roles.get("storm") == mine.code
    dam = float(mine.current_dam_height or mine.design_dam_height or 30)
    crest = round(rng.uniform(380, 720) + dam, 2)
    tau = rng.uniform(24, 40) * sim.HOUR
    site = {"crest": crest, "freeboard": 2.0 if storm else round(rng.uniform(2.2, 3.5), 2),
            "gain": round(rng.uniform(0.010, 0.020), 4), "lag_s": round(rng.uniform(1, 2.5) * sim.HOUR),
            "tau_s": round(tau), "rain_factor": round(rng.uniform(0.6, 1.25), 2), "op_amp": 0.05,
            "op_period_s": round(rng.uniform(2.5, 4) * sim.DAY), "op_phase": round(rng.uniform(0, 6.28), 2)}
    if storm:  # the scenario's rainstorm brings the freeboard down to about 0.85 m (yellow)
        scenario = sim.Scenario(start=0)
        site["gain"] = round(1.1 / _peak_storage(scenario.storm_mm, scenario.storm_duration_s, tau), 4)
    sensors = [
        PlannedSensor("SW-01", "库水位", "water_level", "库区 排水井旁", 0),
        PlannedSensor("AQCG-01", "安全超高", "freeboard", "坝顶（坝顶高程 − 库水位）", 1, derived_from="SW-01",
                      derive_offset=crest, derive_scale=-1.0),
        PlannedSensor("GT-01", "干滩长度", "dry_beach", "坝前干滩 激光测距", 2, {
            "beach_m": 100.0 if storm else round(rng.uniform(105, 170), 1),
            "per_m_rise": 35.0 if storm else round(rng.uniform(20, 35), 1)}),
        PlannedSensor("YL-01", "降雨量", "rainfall", "坝顶 雨量站", 4),
        PlannedSensor("SL-01", "渗流量", "seepage", "坝下游 量水堰", 9, {
            "flow_l_s": round(rng.uniform(2, 12), 2), "per_m_rise": round(rng.uniform(0.5, 1.5), 2)}),
    ]
    depth = rng.uniform(7, 10)
    for n in range(1, rng.randint(2, 4) + 1):
        sensors.append(PlannedSensor(f"JRX-{n:02d}", f"浸润线埋深 {n}#断面", "phreatic_depth",
                                     f"堆积坝 {n}# 监测断面", 3 if n == 1 else 8, {
                                         "depth_m": round(depth + 1.3 * (n - 1) + rng.uniform(0, 1.5), 2),
                                         "per_m_rise": round(rng.uniform(0.6, 1.2), 2)}))
    for n, place in enumerate(["坝顶左岸", "坝顶中部", "坝顶右岸", "下游坡 子坝平台"], start=1):
        sensors.append(PlannedSensor(f"GNSS-{n:02d}", f"坝体表面位移 {place}", "surface_displacement", place,
                                     5 if n == 2 else 10, _gnss_params(rng, mine, f"GNSS-{n:02d}", roles, base)))
    return site, sensors


def underground_layout(rng: random.Random, mine: Mine, roles: dict, base: float) -> tuple[dict, list[PlannedSensor]]:
    level = f"-{rng.choice([120, 180, 230, 290, 350, 410, 470])}m 中段"
    producing = mine.status == Mine.Status.PRODUCING
    site = {"headcount": int(mine.people_underground or rng.randint(20, 120)),
            "rain_factor": round(rng.uniform(0.6, 1.25), 2)}
    sensors = []
    for n in range(1, rng.randint(2, 3) + 1):
        sensors.append(PlannedSensor(f"CO-{n:02d}", f"一氧化碳 {level} {n}#采场", "co", f"{level} {n}# 采场回风巷",
                                     0 if n == 1 else 7, {
                                         "base": round(rng.uniform(1.5, 4.0), 1),
                                         "blast": round(rng.uniform(1.2, 2.4), 1),
                                         "excursion_share": 0.3 if n == 2 else 0.12}))
    base_kw = rng.uniform(150, 600)
    sensors += [
        PlannedSensor("NOX-01", f"氮氧化物 {level}", "nox", f"{level} 爆破作业面回风", 6, {
            "base": round(rng.uniform(0.1, 0.5), 2), "blast": round(rng.uniform(0.2, 0.4), 2)}),
        PlannedSensor("O2-01", f"氧气 {level}", "o2", f"{level} 进风巷", 2,
                      {"base": round(rng.uniform(20.72, 20.9), 2)}),
        PlannedSensor("FS-01", "风速 总回风巷", "wind_speed", "总回风巷", 3, {"mean": round(rng.uniform(1.5, 4.0), 2)}),
        PlannedSensor("ZS-01", "主扇运行状态", "fan_state", "主扇风机房", 1),
        PlannedSensor("RY-01", "井下人数", "people_underground", "人员定位系统 井口分站", 4),
        PlannedSensor("DL-01", "用电功率", "electricity", "总降压变电所", 5, {
            "base_kw": round(base_kw, 1),
            "production_kw": round(rng.uniform(1.2, 4.0) * base_kw * (1 if producing else 0.35), 1)}),
    ]
    return site, sensors


def open_pit_layout(rng: random.Random, mine: Mine, roles: dict, base: float) -> tuple[dict, list[PlannedSensor]]:
    producing = mine.status == Mine.Status.PRODUCING
    site = {"rain_factor": round(rng.uniform(0.6, 1.25), 2)}
    top = rng.randint(420, 760)
    base_kw = rng.uniform(60, 200)
    sensors = []
    for n in range(1, rng.randint(3, 4) + 1):
        bench = top - 15 * (n * 2 - 1)
        sensors.append(PlannedSensor(f"GNSS-{n:02d}", f"边坡表面位移 +{bench}m台阶", "surface_displacement",
                                     f"+{bench}m 台阶", 0 if n <= 2 else 6,
                                     _gnss_params(rng, mine, f"GNSS-{n:02d}", roles, base)))
    sensors += [
        PlannedSensor("LD-01", "边坡雷达位移 A区", "radar_displacement", "边坡雷达 A 区", 1, {
            "offset_mm": round(rng.uniform(0, 5), 2), "rate_mm_h": round(rng.uniform(0.001, 0.01), 4),
            "noise_mm": 0.04}),
        PlannedSensor("YL-01", "降雨量", "rainfall", "采场 雨量站", 2),
        PlannedSensor("DL-01", "用电功率", "electricity", "采场变电所", 3, {
            "base_kw": round(base_kw, 1),
            "production_kw": round(rng.uniform(3, 8) * base_kw * (1 if producing else 0.35), 1)}),
    ]
    return site, sensors


def _gnss_params(rng: random.Random, mine: Mine, code: str, roles: dict, base: float) -> dict:
    params = {"offset_mm": round(rng.uniform(2, 25), 2), "rate_mm_d": round(rng.uniform(0.01, 0.12), 3),
              "noise_mm": 0.06}
    if roles.get("creep") == [mine.code, code]:
        # Creep that has been accelerating slowly since yesterday (blue at the end of the history), reaches
        # yellow about a day later and stabilises after about four days. Slow enough (a ramp over days) that the
        # failure-time forecaster sees no failure within its horizon: that is the `failure` point's role.
        params["creep"] = {"t1": base - 12 * sim.HOUR, "t2": base + 4 * sim.DAY, "rmax": 6.5, "tau_s": 24 * sim.HOUR}
    if roles.get("failure") == [mine.code, code]:
        # A slope accelerating towards failure 30 hours after the seed: over the week of history the
        # failure-time forecast appears and tightens, and at the seed it stands within the 48 h horizon
        # (a red alarm) while the velocity, about 8 mm/day, is still under the 10 mm/day red line.
        params.update(rate_mm_d=0.5, failure={"tf": base + 30 * sim.HOUR, "v1": 10.0, "lead_s": 20 * sim.DAY,
                                              "stop_s": 2 * sim.HOUR})
    return params


LAYOUTS = {Mine.Type.TAILINGS_POND: pond_layout, Mine.Type.UNDERGROUND: underground_layout,
           Mine.Type.OPEN_PIT: open_pit_layout}


def layout(mine: Mine, seed: int, roles: dict, base: float, cap: int | None = None) -> tuple[dict, list[PlannedSensor]]:
    """The mine's site parameters and sensors, the same for the same seed (a derived sensor comes after
    its source; a capped layout keeps the most important points)."""
    rng = random.Random(f"{seed}:{mine.code}")
    site, sensors = LAYOUTS[mine.mine_type](rng, mine, roles, base)
    if cap is not None:
        kept = sorted(sensors, key=lambda s: s.priority)[:cap]
        codes = {s.code for s in kept} | {s.derived_from for s in kept if s.derived_from}
        sensors = [s for s in sensors if s.code in codes]
    sensors.sort(key=lambda s: (bool(s.derived_from), s.code))
    return site, sensors


def choose_roles(mines: list[Mine]) -> dict:
    """Who plays the live scenario: the demo enterprise's mines first, then 宽城's, then any."""
    showcase = set(Enterprise.objects.filter(organisation__users__username=SHOWCASE_LOGIN).values_list("pk", flat=True))

    def preference(m: Mine):
        return (m.enterprise_id not in showcase, m.county.code != SHOWCASE_COUNTY, m.code)

    ordered = sorted(mines, key=preference)
    underground = [m for m in ordered if m.mine_type == Mine.Type.UNDERGROUND]
    ponds = [m for m in ordered if m.mine_type == Mine.Type.TAILINGS_POND]
    pits = [m for m in ordered if m.mine_type == Mine.Type.OPEN_PIT]
    roles: dict = {}
    if underground:
        roles["co"] = [underground[0].code, "CO-01"]
        roles["silent"] = [underground[1 if len(underground) > 1 else 0].code, "FS-01"]
    if len(underground) > 2:  # a third mine's gateway replays yesterday's CO from 8 hours before the seed on
        roles["replay"] = [underground[2].code, "CO-01", 8]
    if ponds:
        roles["storm"] = ponds[0].code
    creep_site = pits[0] if pits else (ponds[1] if len(ponds) > 1 else ponds[0] if ponds else None)
    if creep_site:
        roles["creep"] = [creep_site.code, "GNSS-02"]
    failure_site = pits[1] if len(pits) > 1 else pits[0] if pits else None  # a slope, not a dam
    if failure_site:
        roles["failure"] = [failure_site.code, "GNSS-01"]
    return roles


def history_rain(seed: int, base: float) -> list[sim.Rain]:
    """Two moderate rains in the week before the seed (below the 50 mm rainstorm line everywhere)."""
    rng = random.Random(f"{seed}:rain")
    return [sim.Rain(round(base - rng.uniform(5.0, 5.6) * sim.DAY), round(rng.uniform(5, 8) * sim.HOUR), 24.0),
            sim.Rain(round(base - rng.uniform(2.2, 2.8) * sim.DAY), round(rng.uniform(7, 10) * sim.HOUR), 36.0)]


# Seeding ------------------------------------------------------------------------------------------
def demo_actor() -> User:
    user = User.objects.filter(username=DEMO_ACTOR, role=User.Role.CITY, is_active=True).first() \
        or User.objects.filter(Q(is_superuser=True) | Q(role=User.Role.CITY), is_active=True).order_by("pk").first()
    if user is None:
        raise RuntimeError("no city user to configure the demo monitoring as")
    return user


def _offset(rng: random.Random, value, spread: float = 0.004) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(float(value) + rng.uniform(-spread, spread), 6)))


def _load_plan(path: Path) -> sim.Plan | None:
    try:
        return sim.Plan.load(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@transaction.atomic
def seed_monitoring(seed: int = 2026, history: dt.timedelta = dt.timedelta(days=7), path: Path | None = None,
                    cap: int | None = None) -> MonitoringSummary:
    """Gateways and sensors for every mine that must connect (services.must_connect), the simulator's
    plan with the gateway tokens at `path` (default var/demo-gateways.json), and `history` of readings
    for each sensor that has none yet, written through ingest so rules and alarms run as they would live."""
    began = time.monotonic()
    path = Path(path) if path else tokens_path()
    actor = demo_actor()
    summary = MonitoringSummary(path=str(path))
    alarms_before = Alarm.objects.count()
    mines = list(services.must_connect(Mine.objects.all()).select_related("county").order_by("code"))
    summary.mines = len(mines)
    if cap is None and len(mines) > CAP_ABOVE_MINES:
        cap = CAPPED_SENSORS

    existing = {g.mine_id: g for g in Gateway.objects.filter(mine__in=mines, name=GATEWAY_NAME).order_by("pk")}
    previous = _load_plan(path) if existing else None
    now = time.time()
    base = previous.base if previous else now
    roles = previous.roles if previous and previous.roles else choose_roles(mines)
    rain = previous.rain if previous else history_rain(seed, base)
    known_tokens = {g.gateway_id: g.token for g in previous.gateways} if previous else {}

    profiles, fill = [], set()
    for mine in mines:
        site, planned = layout(mine, seed, roles, base, cap)
        gateway = existing.get(mine.pk)
        if gateway is None:
            gateway, token = services.create_gateway(actor, mine, GATEWAY_NAME)
            summary.gateways_created += 1
        else:
            token = known_tokens.get(gateway.pk, "")
            if ingest.token_hash(token) != gateway.token_hash:
                token = services.rotate_token(actor, gateway)
                summary.tokens_rotated += 1
        have = {s.code: s for s in Sensor.objects.filter(mine=mine)}
        rng = random.Random(f"{seed}:{mine.code}:where")
        for p in planned:
            if p.code in have:
                continue
            extra = {"source": have[p.derived_from], "derive_offset": p.derive_offset,
                     "derive_scale": p.derive_scale} if p.derived_from else {"gateway": gateway}
            have[p.code] = services.create_sensor(
                actor, mine, code=p.code, name=p.name, kind=p.kind, location=p.location,
                latitude=_offset(rng, mine.latitude), longitude=_offset(rng, mine.longitude), **extra)
            summary.sensors_created += 1
        measured = []
        for p in planned:
            sensor = have[p.code]
            if p.derived_from or sensor.gateway_id != gateway.pk or not sensor.active:
                continue
            measured.append(sim.SensorProfile(p.code, p.kind, sensor.interval_s, p.params))
            if sensor.last_ts is None:
                fill.add((mine.code, p.code))
        summary.sensors += len(planned)
        profiles.append(sim.GatewayProfile(
            mine_id=mine.pk, mine_code=mine.code, token=token, phase_s=random.Random(f"{seed}:{mine.code}:phase")
            .randrange(20), sensors=tuple(measured), site=site, mine_name=mine.name, mine_type=mine.mine_type,
            gateway_id=gateway.pk))
    summary.gateways = len(profiles)
    plan = sim.Plan(seed=seed, base=base, gateways=profiles, rain=rain, roles=roles)
    if history.total_seconds() > 0 and fill:
        summary.readings = backfill(plan, fill, now - history.total_seconds(), now)
    plan.save(path)
    if fill:  # new history: the analyses run at once rather than at their next periodic slot
        services.run_forecasts()
        run_quality_checks()
        summary.watch_flags = seed_suspension_watch(seed).flags
    summary.alarms_opened = Alarm.objects.count() - alarms_before
    summary.seconds = round(time.monotonic() - began, 1)
    logger.info("demo monitoring: %s", summary)
    return summary


def backfill_step(interval_s: int) -> int:
    return max(interval_s, BACKFILL_MIN_STEP_S) if interval_s < BACKFILL_MIN_STEP_S else interval_s


def backfill(plan: sim.Plan, fill: set[tuple[str, str]], t_from: float, t_to: float) -> int:
    """Readings of the `fill` sensors for (t_from, t_to], committed through ingest in time order, one
    transaction per CHUNK_S of simulated time (all gateways together). Returns how many were stored."""
    world = sim.World(plan)
    stored = 0
    validated_at = time.time()
    chunk_start = t_from
    while chunk_start < t_to:
        chunk_end = min(chunk_start + CHUNK_S, t_to)
        messages = []
        for gw in plan.gateways:
            rows = []
            for s in gw.sensors:
                if (gw.mine_code, s.code) not in fill:
                    continue
                for t, v in sim.series(world, gw, s, chunk_start, chunk_end, backfill_step(s.interval_s)):
                    rows.append({"sensor": s.code, "ts": t, "value": v})
            if not rows:
                continue
            info = ingest.GatewayInfo(gw.gateway_id, gw.mine_id)
            parsed = ingest.validate(info, rows, now=validated_at)
            if parsed.errors:
                raise RuntimeError(f"demo history for {gw.mine_code} rejected by ingest: {parsed.errors[:3]}")
            messages.append(ingest.Message(channel="seed", payload="", gateway=info, parsed=parsed,
                                           rows_total=len(rows)))
        if messages:
            stored += ingest.commit(messages, quarantine=False, replay=True).stored
        chunk_start = chunk_end
    return stored


# Suspended mines: the power company's and the police's data ------------------------------------------
WATCHED_DEMO_MINES = 6
METER_HISTORY_DAYS = 400


@dataclass
class WatchSummary:
    mines: int = 0
    meter_rows: int = 0
    explosives_rows: int = 0
    flags: int = 0


def _uploader(unit: str) -> User:
    return User.objects.filter(role=User.Role.DEPARTMENT, organisation__unit_code=unit, is_active=True) \
        .order_by("pk").first() or demo_actor()


def demo_meter_days(seed: int, mine: Mine, today: dt.date, hidden_days: int = 0) -> list[tuple[dt.date, float]]:
    """Daily kWh of a suspended mine up to yesterday: its producing level before the suspension, then pumps
    and ventilation (8-20 % of it) with winter heating and day-to-day noise, and, with `hidden_days`, hidden
    production over the last days at 35-60 % of the way back to the producing level."""
    rng = random.Random(f"{seed}:{mine.code}:meter")
    producing = rng.uniform(6000, 30000)
    baseline = producing * rng.uniform(0.08, 0.2)
    hidden = rng.uniform(0.35, 0.6) * (producing - baseline)
    first = max(mine.status_since - dt.timedelta(days=90), today - dt.timedelta(days=METER_HISTORY_DAYS))
    days = []
    for n in range((today - first).days):
        day = first + dt.timedelta(days=n)
        cold = max(0.0, math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365))  # coldest mid-January
        level = producing if day < mine.status_since else baseline * (1 + 0.4 * cold)
        if (today - day).days <= hidden_days:
            level += hidden
        days.append((day, round(level * (1 + rng.gauss(0, 0.07)), 1)))
    return days


def seed_suspension_watch(seed: int = 2026, today: dt.date | None = None) -> WatchSummary:
    """Meter readings for a few suspended mines (one of them producing in secret over the last nine days)
    and explosives issued to another, uploaded as the power company and the police would, then the scan
    that turns them into county tasks. Idempotent: mines that already have readings are left alone."""
    from . import suspension, uploads
    from .models import DataUpload, MeterReading

    today = today or timezone.localdate()
    summary = WatchSummary()
    mines = [m for m in suspension.watched_mines().select_related("county")
             .order_by("county__code", "code") if not MeterReading.objects.filter(mine=m).exists()]
    mines.sort(key=lambda m: (m.county.code != SHOWCASE_COUNTY, m.code))
    mines = mines[:WATCHED_DEMO_MINES]
    if not mines:
        return summary
    meter_rows = []
    for i, mine in enumerate(mines):
        for day, kwh in demo_meter_days(seed, mine, today, hidden_days=9 if i == 0 else 0):
            meter_rows.append({"mine_code": mine.code, "period_start": day.isoformat(), "hours": 24, "kwh": kwh})
    report = uploads.upload(_uploader("GD"), DataUpload.Kind.METER, enumerate(meter_rows, 1), channel="api",
                            filename="demo")
    if not report.ok:
        raise RuntimeError(f"demo meter readings rejected: {report.as_json()['errors'][:3]}")
    summary.mines, summary.meter_rows = len(mines), report.rows
    if len(mines) > 1:
        issue = {"mine_code": mines[1].code, "issued_on": (today - dt.timedelta(days=5)).isoformat(),
                 "permit_no": f"承公爆〔{today.year}〕{seed % 1000:03d}号", "explosive_kg": "240", "detonators": 360}
        report = uploads.upload(_uploader("GA"), DataUpload.Kind.EXPLOSIVES, [(1, issue)], channel="api",
                                filename="demo")
        summary.explosives_rows = report.rows if report.ok else 0
    summary.flags = suspension.scan(today).flags
    logger.info("demo suspension watch: %s", summary)
    return summary
