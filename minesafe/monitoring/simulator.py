"""Telemetry simulator: realistic readings for the demo city's sensors, sent the way gateways send them.

Every stream is a pure function of (plan, scenario, time) plus deterministic noise, so a stream can be
evaluated at any instant: the demo seed writes seven days of history with the same functions the live
simulator continues from, and a run is reproducible for a given seed. The plan (the demo tokens file,
written by `monitoring.demo`) lists each gateway's token and its sensors with their model parameters;
the simulator needs no database, only the plan and an endpoint.

The streams:
- tailings pond: water level responds to rain (a linear reservoir: inflow is the rain delayed by a lag,
  outflow proportional to storage), so it rises some time after rain starts and drains over a day or
  two; dry beach shrinks and phreatic depth falls as the level rises; seepage follows later; freeboard
  is derived by the server (crest elevation − water level). Rainfall is the gauge's 24 h total.
- GNSS and radar: cumulative displacement with slow creep; one GNSS point (the plan's `creep` role)
  accelerates through the blue and yellow rate thresholds and later stabilises.
- underground: CO and NOx with blasting fumes at the end of shifts, O2, wind speed, main fan state,
  people underground following the shifts; electricity follows production shifts.
- live scenario, timed from the start of a run: a CO excursion at one mine that holds above 24 ppm for
  minutes (red alarm) then recovers; one sensor that goes silent (the no-data check raises an alarm);
  a rainstorm at one tailings pond.

Transports: HTTP (POST /api/v1/telemetry with the gateway's bearer token) and MQTT (QoS 1 to
minesafe/<mine pk>/telemetry with the token in the body). A refused or failed batch is logged and kept
for a retry with backoff; the simulator never stops on a bad answer.
"""

import datetime as dt
import functools
import json
import logging
import math
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger("minesafe.monitoring.simulator")

PLAN_VERSION = 1
DAY = 86400
HOUR = 3600
CST = dt.timezone(dt.timedelta(hours=8))  # gateways stamp local time with its offset
M64 = (1 << 64) - 1
MAX_ROWS_PER_MESSAGE = 1000
MAX_BUFFERED_ROWS = 20000  # per gateway, while its endpoint is unreachable


# Plan: what the simulator knows about the gateways (the demo tokens file) ------------------------
@dataclass(frozen=True)
class Rain:
    """A rain event: `amount_mm` falls evenly over `duration_s`. City-wide events are scaled by each
    site's `rain_factor`; an event with a `mine` code falls on that site only, unscaled."""

    start: float
    duration_s: float
    amount_mm: float
    mine: str = ""

    def fallen(self, t: float) -> float:
        if t <= self.start:
            return 0.0
        if t >= self.start + self.duration_s:
            return self.amount_mm
        return self.amount_mm * (t - self.start) / self.duration_s

    def storage(self, t: float, lag_s: float, tau_s: float) -> float:
        """Water (mm of rain) held at t by a linear reservoir fed with this rain delayed by `lag_s`."""
        begin = self.start + lag_s
        if t <= begin:
            return 0.0
        rate = self.amount_mm / self.duration_s
        filling = min(t - begin, self.duration_s)
        held = rate * tau_s * (1 - math.exp(-filling / tau_s))
        after = t - begin - self.duration_s
        return held * math.exp(-after / tau_s) if after > 0 else held


@dataclass(frozen=True)
class SensorProfile:
    code: str
    kind: str
    interval_s: int
    params: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class GatewayProfile:
    mine_id: int
    mine_code: str
    token: str
    phase_s: int  # the gateway's readings are stamped at phase_s (mod interval): gateways are not in step
    sensors: tuple[SensorProfile, ...]
    site: dict = field(default_factory=dict, hash=False, compare=False)
    mine_name: str = ""
    mine_type: str = ""
    gateway_id: int | None = None


@dataclass
class Plan:
    seed: int
    base: float  # epoch seconds: the seeded history ends here; absolute trends are timed from it
    gateways: list[GatewayProfile]
    rain: list[Rain] = field(default_factory=list)  # city-wide rain in the seeded history
    roles: dict = field(default_factory=dict)  # scenario roles: co, silent, storm, creep, failure, replay
    version: int = PLAN_VERSION

    def to_json(self) -> dict:
        return {"version": self.version, "seed": self.seed, "base": self.base, "roles": self.roles,
                "rain": [asdict(r) for r in self.rain],
                "gateways": [{**asdict(g), "sensors": [asdict(s) for s in g.sensors]} for g in self.gateways]}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"unsupported simulator plan version {data.get('version')!r}")
        gateways = []
        for g in data["gateways"]:
            sensors = tuple(SensorProfile(**s) for s in g.pop("sensors"))
            gateways.append(GatewayProfile(sensors=sensors, **g))
        return cls(seed=data["seed"], base=data["base"], gateways=gateways,
                   rain=[Rain(**r) for r in data.get("rain", [])], roles=data.get("roles", {}))

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def save(self, path: str | Path) -> None:
        """Write atomically, readable by the owner only (the file holds gateway tokens)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".demo-gateways-", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def sensor_count(self) -> int:
        return sum(len(g.sensors) for g in self.gateways)


# Deterministic noise -------------------------------------------------------------------------------
def _mix(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


@functools.lru_cache(maxsize=8192)
def stream_key(*parts) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def uniform(seed: int, key: int, t: float, salt: int = 0) -> float:
    """A number in [0, 1) fixed by (seed, key, t, salt)."""
    h = _mix(_mix(_mix(seed & M64) ^ key) ^ (int(t) & M64) ^ (salt << 40))
    return (h >> 11) / 9007199254740992.0


@functools.lru_cache(maxsize=8192)
def _stream_seed(seed: int, key: int) -> int:
    return _mix(_mix(seed & M64) ^ key)


def gauss(seed: int, key: int, t: float) -> float:
    """A standard normal number fixed by (seed, key, t): Box-Muller on the two halves of one hash."""
    h = _mix(_stream_seed(seed, key) ^ (int(t) & M64))
    u1 = ((h >> 32) + 1) / 4294967296.0  # (0, 1]
    u2 = (h & 0xFFFFFFFF) / 4294967296.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


# The world a stream lives in: plan, live scenario, weather --------------------------------------
@dataclass(frozen=True)
class Scenario:
    """Live events, timed from the start of a run (simulated seconds after `start`)."""

    start: float
    co: tuple[str, str] | None = None  # (mine code, sensor code) of the CO excursion
    co_begin_s: float = 30.0
    co_rise_s: float = 0.0  # a step: between two 20 s readings the sensor goes from clean air to fumes
    co_hold_s: float = 240.0
    co_peak_ppm: float = 28.0
    co_decay_s: float = 90.0
    silent: tuple[str, str] | None = None  # (mine code, sensor code) that stops sending
    silent_from_s: float = 20.0
    silent_for_s: float = 1200.0
    storm: str | None = None  # mine code of the tailings pond under a rainstorm
    storm_begin_s: float = 120.0
    storm_duration_s: float = 3 * HOUR
    storm_mm: float = 70.0

    @classmethod
    def for_plan(cls, plan: Plan, start: float, **overrides) -> "Scenario":
        roles = plan.roles or default_roles(plan.gateways)
        co, silent = roles.get("co"), roles.get("silent")
        return cls(start=start, co=tuple(co) if co else None, silent=tuple(silent) if silent else None,
                   storm=roles.get("storm"), **overrides)

    def co_excursion(self, t: float) -> float:
        """Fraction (0..1) of the CO excursion present at t."""
        x = t - (self.start + self.co_begin_s)
        if x <= 0:
            return 0.0
        if x < self.co_rise_s:
            return x / self.co_rise_s
        x -= self.co_rise_s + self.co_hold_s
        return 1.0 if x <= 0 else math.exp(-x / self.co_decay_s)

    def is_silent(self, mine_code: str, code: str, t: float) -> bool:
        if self.silent != (mine_code, code):
            return False
        x = t - (self.start + self.silent_from_s)
        return 0 <= x < self.silent_for_s

    def storm_rain(self) -> Rain | None:
        if not self.storm:
            return None
        return Rain(self.start + self.storm_begin_s, self.storm_duration_s, self.storm_mm, mine=self.storm)


def default_roles(gateways: list[GatewayProfile]) -> dict:
    """Scenario roles when a plan names none: the first underground mine's CO-01 has the excursion,
    the next underground mine's (or the same one's) wind speed goes silent, the first pond gets the storm."""
    by_type: dict[str, list[GatewayProfile]] = {}
    for g in sorted(gateways, key=lambda g: g.mine_code):
        by_type.setdefault(g.mine_type, []).append(g)
    roles: dict = {}
    underground = [g for g in by_type.get("underground", []) if any(s.kind == "co" for s in g.sensors)]
    if underground:
        co_sensor = next(s.code for s in underground[0].sensors if s.kind == "co")
        roles["co"] = [underground[0].mine_code, co_sensor]
        other = underground[1] if len(underground) > 1 else underground[0]
        quiet = next((s.code for s in other.sensors if s.kind == "wind_speed"), None)
        if quiet:
            roles["silent"] = [other.mine_code, quiet]
    ponds = [g for g in by_type.get("tailings_pond", []) if any(s.kind == "water_level" for s in g.sensors)]
    if ponds:
        roles["storm"] = ponds[0].mine_code
    return roles


class World:
    """A plan under a scenario (None: the seeded history, with no live events)."""

    def __init__(self, plan: Plan, scenario: Scenario | None = None):
        self.plan, self.scenario, self.seed = plan, scenario, plan.seed
        self.first_generated_day = math.floor(plan.base / DAY) + 1
        self._days: dict[int, Rain | None] = {}

    def daily_rain(self, day: int) -> Rain | None:
        """Weather after the seeded history: on about one day in four, a shower of 4–24 mm."""
        if day not in self._days:
            key = stream_key("weather")
            event = None
            if uniform(self.seed, key, day, 1) < 0.25:
                start = day * DAY + uniform(self.seed, key, day, 2) * DAY
                event = Rain(start, (2 + 8 * uniform(self.seed, key, day, 3)) * HOUR,
                             round(4 + 20 * uniform(self.seed, key, day, 4), 1))
            self._days[day] = event
        return self._days[day]

    def rain_at(self, gw: GatewayProfile, t_from: float, t_to: float) -> list[tuple[Rain, float]]:
        """Rain events touching [t_from, t_to] at this site, each with its factor there."""
        factor = gw.site.get("rain_factor", 1.0)
        events = [(r, factor) for r in self.plan.rain if r.start <= t_to and r.start + r.duration_s >= t_from]
        for day in range(max(self.first_generated_day, math.floor(t_from / DAY) - 1), math.floor(t_to / DAY) + 1):
            r = self.daily_rain(day)
            if r and r.start <= t_to and r.start + r.duration_s >= t_from:
                events.append((r, factor))
        storm = self.scenario.storm_rain() if self.scenario else None
        if storm and storm.mine == gw.mine_code and storm.start <= t_to:
            events.append((storm, 1.0))
        return events

    def rise(self, gw: GatewayProfile, t: float) -> float:
        """The pond's water level above its operating level at t (m), from the rain it has caught."""
        site = gw.site
        tau, lag = site["tau_s"], site["lag_s"]
        stored = sum(r.storage(t, lag, tau) * f for r, f in self.rain_at(gw, t - 12 * tau, t))
        return site["gain"] * stored

    def operating(self, gw: GatewayProfile, t: float) -> float:
        """Slow change of the operating level from tailings discharge and water reclaim (m)."""
        site = gw.site
        return site.get("op_amp", 0.05) * math.sin(2 * math.pi * t / site.get("op_period_s", 3 * DAY)
                                                   + site.get("op_phase", 0.0))


# Stream models, one per sensor kind ------------------------------------------------------------------
def local_seconds(t: float) -> float:
    return (t + 8 * HOUR) % DAY


def _ramp(x: float, width: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= width else x / width


def shift_presence(t: float, start_h: float, end_h: float, ramp_s: float = 40 * 60, lead_s: float = 0) -> float:
    """0..1: how fully a shift from start_h to end_h (local hours, may pass midnight) is on at t."""
    lt = local_seconds(t)
    start, end = start_h * HOUR - lead_s, end_h * HOUR - lead_s
    if end <= start:
        end += DAY
    total = 0.0
    for shift in (-DAY, 0, DAY):
        x = lt + shift
        total += _ramp(x - start, ramp_s) - _ramp(x - end, ramp_s)
    return max(0.0, min(1.0, total))


SHIFTS = ((8, 16, 1.0), (16, 24, 0.75), (0, 8, 0.1))  # day, middle, night (maintenance) shift: production share
BLASTS_H = (11.5, 19.5)  # blasting at the end of the day and middle shifts (local time)


def blast_fumes(t: float, decay_s: float = 1800.0) -> float:
    """0..1: blasting fumes reaching a return-air sensor (a few minutes to arrive, then ventilated away)."""
    lt = local_seconds(t)
    level = 0.0
    for hour in BLASTS_H:
        x = (lt - hour * HOUR) % DAY
        if x < 4 * HOUR:
            level = max(level, _ramp(x, 300) * math.exp(-x / decay_s))
    return level


def _creep(params: dict, t: float) -> float:
    """Accelerating then stabilising creep (mm): the integral of a rate that rises smoothly to `rmax`
    mm/day around `t1` and falls back around `t2`."""
    c = params.get("creep")
    if not c:
        return 0.0
    tau = c["tau_s"]

    def softplus(x: float) -> float:
        return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))

    return c["rmax"] / DAY * tau * (softplus((t - c["t1"]) / tau) - softplus((t - c["t2"]) / tau))


def _failure(params: dict, t: float) -> float:
    """Movement accelerating towards failure at `tf` (mm): the Voight law with exponent 2, v = v1 / tau (tau in
    days to `tf`, v1 the velocity one day before), integrated; it stops `stop_s` before `tf` (the point is lost
    with the slope), so a demo left running past the failure time does not move without bound."""
    f = params.get("failure")
    if not f:
        return 0.0
    start_tau = f["lead_s"] / DAY
    tau = max(f["tf"] - t, f["stop_s"]) / DAY
    return f["v1"] * (math.log(start_tau) - math.log(min(tau, start_tau)))


def creep_rate(params: dict, t: float) -> float:
    """The creep's rate at t in mm/day (for tests and the demo's description)."""
    c = params.get("creep")
    if not c:
        return params.get("rate_mm_d", 0.0)

    def logistic(x: float) -> float:
        return 1 / (1 + math.exp(-x)) if x > -700 else 0.0

    return params.get("rate_mm_d", 0.0) + c["rmax"] * (logistic((t - c["t1"]) / c["tau_s"])
                                                      - logistic((t - c["t2"]) / c["tau_s"]))


def _noise(world: World, gw: GatewayProfile, s: SensorProfile, t: float, sigma: float) -> float:
    return sigma * gauss(world.seed, stream_key(gw.mine_code, s.code), t) if sigma else 0.0


def water_level(world, gw, s, t):
    site = gw.site
    return site["crest"] - site["freeboard"] + world.operating(gw, t) + world.rise(gw, t) + _noise(world, gw, s, t,
                                                                                                    0.004)


def dry_beach(world, gw, s, t):
    p = s.params
    change = world.operating(gw, t) + world.rise(gw, t)
    return max(0.0, p["beach_m"] - p["per_m_rise"] * change + _noise(world, gw, s, t, 0.25))


def phreatic_depth(world, gw, s, t):
    p = s.params
    return p["depth_m"] - p["per_m_rise"] * world.rise(gw, t - 3 * HOUR) + _noise(world, gw, s, t, 0.015)


def seepage(world, gw, s, t):
    p = s.params
    return max(0.0, p["flow_l_s"] + p["per_m_rise"] * world.rise(gw, t - 6 * HOUR) + _noise(world, gw, s, t, 0.05))


def rainfall(world, gw, s, t):
    """The gauge's total of the last 24 h (a tipping bucket: 0.2 mm steps)."""
    total = sum((r.fallen(t) - r.fallen(t - DAY)) * f for r, f in world.rain_at(gw, t - DAY, t))
    return round(total / 0.2) * 0.2


def displacement(world, gw, s, t):
    p = s.params
    unit = HOUR if s.kind == "radar_displacement" else DAY
    rate = p.get("rate_mm_h", 0.0) if unit == HOUR else p.get("rate_mm_d", 0.0)
    return p.get("offset_mm", 0.0) + rate * (t - world.plan.base) / unit + _creep(p, t) + _failure(p, t) \
        + _noise(world, gw, s, t, p.get("noise_mm", 0.05))


def carbon_monoxide(world, gw, s, t):
    p = s.params
    value = p["base"] + p["blast"] * blast_fumes(t)
    sc = world.scenario
    if sc and sc.co and sc.co[0] == gw.mine_code:
        share = 1.0 if sc.co[1] == s.code else p.get("excursion_share", 0.3)
        value += share * max(0.0, sc.co_peak_ppm - p["base"]) * sc.co_excursion(t)
    return max(0.0, value + _noise(world, gw, s, t, 0.2))


def nitrogen_oxides(world, gw, s, t):
    p = s.params
    return max(0.0, p["base"] + p["blast"] * blast_fumes(t, 1200) + _noise(world, gw, s, t, 0.03))


def oxygen(world, gw, s, t):
    return min(20.95, s.params["base"] + _noise(world, gw, s, t, 0.03))


def wind_speed(world, gw, s, t):
    p = s.params
    return max(0.0, p["mean"] * (1 + 0.04 * math.sin(2 * math.pi * t / DAY)) + _noise(world, gw, s, t, 0.06))


def fan_state(world, gw, s, t):
    return 1.0


def people_underground(world, gw, s, t):
    headcount = gw.site.get("headcount", 40)
    share = {0: 0.5, 1: 0.35, 2: 0.08}
    people = sum(share[i] * headcount * shift_presence(t, a, b, lead_s=30 * 60) for i, (a, b, _p) in enumerate(SHIFTS))
    return max(0.0, round(people + 1.2 * gauss(world.seed, stream_key(gw.mine_code, s.code), t)))


def electricity(world, gw, s, t):
    p = s.params
    production = sum(weight * shift_presence(t, a, b, ramp_s=20 * 60) for a, b, weight in SHIFTS)
    load = p["base_kw"] + p["production_kw"] * min(1.0, production)
    return max(0.0, load * (1 + _noise(world, gw, s, t, 0.02)))


MODELS: dict[str, Callable] = {
    "water_level": water_level, "dry_beach": dry_beach, "phreatic_depth": phreatic_depth, "seepage": seepage,
    "rainfall": rainfall, "surface_displacement": displacement, "radar_displacement": displacement,
    "internal_displacement": displacement, "co": carbon_monoxide, "nox": nitrogen_oxides, "o2": oxygen,
    "wind_speed": wind_speed, "fan_state": fan_state, "people_underground": people_underground,
    "electricity": electricity,
}
DECIMALS = {"water_level": 3, "dry_beach": 1, "phreatic_depth": 2, "seepage": 2, "rainfall": 1,
            "surface_displacement": 2, "radar_displacement": 2, "internal_displacement": 2, "co": 1, "nox": 2,
            "o2": 2, "wind_speed": 2, "fan_state": 0, "people_underground": 0, "electricity": 1}


def value(world: World, gw: GatewayProfile, s: SensorProfile, t: float) -> float | None:
    """The sensor's reading at t, or None when it sends nothing (the scenario's silent sensor)."""
    if world.scenario and world.scenario.is_silent(gw.mine_code, s.code, t):
        return None
    replay = world.plan.roles.get("replay")  # [mine code, sensor code, hours before the base]
    if replay and replay[:2] == [gw.mine_code, s.code] and t >= world.plan.base - replay[2] * HOUR:
        t -= DAY  # falsified data: the gateway sends yesterday's values again under today's times
    return round(MODELS[s.kind](world, gw, s, t), DECIMALS.get(s.kind, 3))


def grid(t0: float, t1: float, step: int, phase: int) -> range:
    """Reading times in (t0, t1] on the gateway's grid (t ≡ phase mod step), whole seconds."""
    first = math.floor((t0 - phase) / step) * step + phase + step
    last = math.floor((t1 - phase) / step) * step + phase
    return range(first, last + 1, step)


def series(world: World, gw: GatewayProfile, s: SensorProfile, t0: float, t1: float,
           step: int | None = None) -> list[tuple[int, float]]:
    """(t, value) of one sensor in (t0, t1], every `step` seconds (its interval unless given)."""
    out = []
    for t in grid(t0, t1, step or s.interval_s, gw.phase_s % (step or s.interval_s)):
        v = value(world, gw, s, t)
        if v is not None:
            out.append((t, v))
    return out


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, CST).isoformat(timespec="seconds")


# Transports ---------------------------------------------------------------------------------------------
OK, RETRY, DROP, DOWN = "ok", "retry", "drop", "down"  # DOWN: the endpoint is unreachable for every gateway


class Throttled:
    """Warnings of one kind at most every `every_s` seconds, with a count of those held back (a server
    that is down would otherwise get one warning per gateway per retry)."""

    def __init__(self, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, kind: str, message: str, *args, exc_info: bool = False) -> None:
        with self._lock:
            now = self.clock()
            if now - self._last.get(kind, -math.inf) < self.every_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return
            held = self._held.pop(kind, 0)
            self._last[kind] = now
        suffix = f" (and {held} more like it in the last {self.every_s:g} s)" if held else ""
        logger.warning(message + suffix, *args, exc_info=exc_info)


def _short(text: bytes) -> str:
    """The first line of an error body, without markup."""
    line = text[:500].decode("utf-8", "replace").strip()
    if line.startswith("<"):
        return ""
    return line.splitlines()[0][:200] if line else ""


class HttpTransport:
    """POST {"readings": [...]} to /api/v1/telemetry with the gateway's bearer token."""

    name = "http"

    def __init__(self, base_url: str, timeout: float = 15.0):
        self.endpoint = base_url.rstrip("/") + "/api/v1/telemetry"
        self.timeout = timeout
        self.log = Throttled()

    def send(self, gw: GatewayProfile, readings: list[dict]) -> str:
        body = json.dumps({"readings": readings}).encode()
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {gw.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _short(exc.read())
            if exc.code in (408, 429) or exc.code >= 500:
                self.log.warning(f"http-{exc.code}", "%s: HTTP %s from %s, will retry %s", gw.mine_code, exc.code,
                                 self.endpoint, detail)
                return RETRY
            self.log.warning(f"http-{exc.code}", "%s: %d readings refused with HTTP %s: %s", gw.mine_code,
                             len(readings), exc.code, detail)
            return DROP
        except ValueError as exc:  # an answer that is not JSON
            self.log.warning("http-garbled", "%s: unreadable answer from %s (%s), will retry", gw.mine_code,
                             self.endpoint, exc)
            return RETRY
        except OSError as exc:  # refused, reset, timed out
            self.log.warning("http-unreachable", "cannot post to %s (%s), will retry", self.endpoint, exc)
            return DOWN
        if answer.get("rejected"):
            self.log.warning("http-rejected", "%s: %d readings rejected: %s", gw.mine_code, len(answer["rejected"]),
                             answer["rejected"][0].get("reason"))
        return OK

    def close(self) -> None:
        pass


class MqttTransport:
    """QoS 1 publishes to minesafe/<mine pk>/telemetry, the token in the body. One connection carries
    every simulated gateway (each message still authenticates with its own gateway's token)."""

    name = "mqtt"

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, client_id: str | None = None,
                 username: str | None = None, password: str | None = None, timeout: float = 15.0):
        import paho.mqtt.client as mqtt

        self.host, self.port, self.timeout = host, port, timeout
        self.log = Throttled()
        self.connected = threading.Event()
        self._started = time.monotonic()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"minesafe-simulator-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.log.warning("mqtt-refused", "broker %s:%s refused the simulator: %s", self.host, self.port,
                             reason_code)
            return
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        self.log.warning("mqtt-disconnected", "disconnected from the broker %s:%s (%s); reconnecting", self.host,
                         self.port, reason_code)

    def send(self, gw: GatewayProfile, readings: list[dict]) -> str:
        # Give the first connection a moment; later, an absent broker fails at once (no stalls per gateway).
        grace = max(0.0, min(self.timeout, 5.0) - (time.monotonic() - self._started))
        if not self.connected.wait(grace):
            self.log.warning("mqtt-offline", "no broker connection at %s:%s, will retry", self.host, self.port)
            return DOWN
        body = json.dumps({"token": gw.token, "readings": readings})
        try:
            info = self.client.publish(f"minesafe/{gw.mine_id}/telemetry", body, qos=1)
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            self.log.warning("mqtt-failed", "%s: publish failed (%s), will retry", gw.mine_code, exc)
            return RETRY
        if not info.is_published():
            self.log.warning("mqtt-timeout", "%s: the broker did not acknowledge within %s s, will retry",
                             gw.mine_code, self.timeout)
            return RETRY  # a late PUBACK may still come: a re-sent reading is idempotent at ingest
        return OK

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# The runner ---------------------------------------------------------------------------------------------
@dataclass
class Stats:
    readings: int = 0
    batches: int = 0
    retries: int = 0
    dropped: int = 0
    buffered: int = 0


@dataclass
class _Outbox:
    rows: list[dict] = field(default_factory=list)
    failures: int = 0
    next_try: float = 0.0  # monotonic


class Simulator:
    """Steps simulated time, collects each gateway's due readings and sends them in batches.

    The simulated clock starts at `start` and runs `speed` times faster than the wall clock, but never
    passes real time (ingest rejects readings from the future): with speed above 1 a run starts in the
    past and catches up. On its first step every sensor reports its current reading, as gateways do
    when they (re)connect. Readings that could not be sent wait, per gateway, for a retry with backoff.
    """

    def __init__(self, plan: Plan, transport, *, speed: float = 1.0, start: float | None = None,
                 seed: int | None = None, scenario: Scenario | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, max_backoff_s: float = 60.0):
        if speed <= 0:
            raise ValueError("speed must be positive")
        if seed is not None:
            plan = Plan(seed=seed, base=plan.base, gateways=plan.gateways, rain=plan.rain, roles=plan.roles)
        self.plan, self.transport, self.speed = plan, transport, speed
        self.clock, self.monotonic, self.max_backoff_s = clock, monotonic, max_backoff_s
        self.start = clock() if start is None else start
        self.world = World(plan, scenario or Scenario.for_plan(plan, self.start))
        self.stats = Stats()
        self.log = Throttled()
        self.stop_event = threading.Event()
        self.first_round = threading.Event()
        self._outbox = [_Outbox() for _g in plan.gateways]
        self._last = [[self.start - s.interval_s for s in g.sensors] for g in plan.gateways]
        self._wall_start: float | None = None
        self.now = self.start

    def sim_now(self) -> float:
        if self._wall_start is None:
            self._wall_start = self.monotonic()
        elapsed = (self.monotonic() - self._wall_start) * self.speed
        return min(self.start + elapsed, max(self.start, self.clock()))

    def collect(self, until: float) -> int:
        """Queue every reading due up to `until` (simulated epoch seconds); returns how many."""
        count = 0
        for gw, box, last in zip(self.plan.gateways, self._outbox, self._last, strict=True):
            for i, s in enumerate(gw.sensors):
                for t, v in series(self.world, gw, s, last[i], until):
                    box.rows.append({"sensor": s.code, "ts": stamp(t), "value": v})
                    count += 1
                last[i] = max(last[i], until)
            if len(box.rows) > MAX_BUFFERED_ROWS:
                lost = len(box.rows) - MAX_BUFFERED_ROWS
                del box.rows[:lost]
                self.stats.dropped += lost
                self.log.warning("buffer", "%s: buffer full, dropped the %d oldest readings", gw.mine_code, lost)
        self.now = max(self.now, until)
        return count

    def flush(self) -> None:
        """Send each gateway's waiting readings (in messages of at most MAX_ROWS_PER_MESSAGE)."""
        for gw, box in zip(self.plan.gateways, self._outbox, strict=True):
            while box.rows and self.monotonic() >= box.next_try and not self.stop_event.is_set():
                batch = box.rows[:MAX_ROWS_PER_MESSAGE]
                try:
                    result = self.transport.send(gw, batch)
                except Exception:  # a transport bug must not end the simulation
                    self.log.warning("send-bug", "%s: sending failed", gw.mine_code, exc_info=True)
                    result = RETRY
                if result in (RETRY, DOWN):
                    box.failures += 1
                    self.stats.retries += 1
                    box.next_try = self.monotonic() + min(self.max_backoff_s, 2 ** (box.failures - 1))
                    if result == DOWN:  # no use trying the other gateways in this round
                        self.stats.buffered = sum(len(b.rows) for b in self._outbox)
                        return
                    break
                del box.rows[:len(batch)]
                if result == DROP:
                    self.stats.dropped += len(batch)
                    box.failures += 1
                    box.next_try = self.monotonic() + min(self.max_backoff_s, 2 ** (box.failures - 1))
                    break
                if box.failures:
                    self.log.warning("recovered", "%s: sending again after %d failed attempts", gw.mine_code,
                                     box.failures)
                box.failures = 0
                self.stats.readings += len(batch)
                self.stats.batches += 1
        self.stats.buffered = sum(len(b.rows) for b in self._outbox)

    def step(self) -> None:
        self.collect(self.sim_now())
        self.flush()
        self.first_round.set()

    def run(self, duration: float | None = None, tick_s: float = 0.5,
            report: Callable[["Simulator"], None] | None = None, report_every_s: float = 60.0) -> Stats:
        """Step until stopped or `duration` wall-clock seconds have passed."""
        began = self.monotonic()
        next_report = began + report_every_s
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                except Exception:  # never end the run on an unexpected error; try again next tick
                    self.log.warning("step-bug", "simulator step failed", exc_info=True)
                now = self.monotonic()
                if report and now >= next_report:
                    report(self)
                    next_report = now + report_every_s
                if duration is not None and now - began >= duration:
                    break
                self.stop_event.wait(tick_s if duration is None else max(0.0, min(tick_s, began + duration - now)))
            if duration is not None and not self.stop_event.is_set():
                self.step()  # what fell due in the last tick
        finally:
            self.transport.close()
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()

    def start_thread(self, **run_kwargs) -> threading.Thread:
        thread = threading.Thread(target=self.run, kwargs=run_kwargs, name="minesafe-simulator", daemon=True)
        thread.start()
        return thread


def default_start(speed: float, duration: float | None, now: float | None = None) -> float:
    """Real time at speed 1; faster runs begin in the past (duration × speed ago, at most a day) so
    they end at the present."""
    now = time.time() if now is None else now
    if speed <= 1:
        return now
    return now - (duration * speed if duration else DAY)
