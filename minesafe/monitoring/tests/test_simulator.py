"""The telemetry simulator: its streams (pure and deterministic), its transports against a real server and
a real broker, and the `minesafe simulate` command end to end."""

import datetime as dt
import io
import json
import socket
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from minesafe.core.services import bootstrap_reference_data
from minesafe.monitoring import ingest, rules, services
from minesafe.monitoring import simulator as sim
from minesafe.monitoring.demo import layout, seed_monitoring
from minesafe.monitoring.models import Alarm, Gateway, Level, QuarantinedMessage, Reading, Sensor
from minesafe.monitoring.mqtt import IngestWorker
from minesafe.registry.models import Mine

from . import broker as mosquitto
from .broker import wait_until

broker = mosquitto.broker  # fixture

CATALOGUE = yaml.safe_load((Path(sim.__file__).parent / "reference" / "sensor_kinds.yaml").read_text())["kinds"]
BASE = 1_790_000_000.0  # the end of the seeded history in these plans
START = BASE + 3 * sim.HOUR  # a live run begins three hours later
HOUR, DAY = sim.HOUR, sim.DAY
# Committed data, so the server's and the worker's own connections see the fixtures (`available_apps`: the
# flush after each test must cascade past the readings table, which Django does not manage).
transactional = pytest.mark.django_db(transaction=True, available_apps=list(settings.INSTALLED_APPS))


@pytest.fixture(scope="module", autouse=True)
def reference_data_back(django_db_blocker):
    """The transactional tests flush the reference data; put it back for the modules after this one."""
    yield
    with django_db_blocker.unblock():
        bootstrap_reference_data()


def catalogue_rule(kind: str, rule_kind: str, rule_id: int = 1) -> rules.RuleSpec:
    d = next(r for r in CATALOGUE[kind]["rules"] if r["kind"] == rule_kind)
    thresholds = tuple((lvl, d[name]) for lvl, name in ((1, "blue"), (2, "yellow"), (3, "orange"), (4, "red"))
                       if d.get(name) is not None)
    return rules.RuleSpec(id=rule_id, kind=rule_kind, upper=d.get("direction", "upper") == "upper",
                          thresholds=thresholds, hysteresis=d.get("hysteresis", 0),
                          min_duration_s=d.get("min_duration_s", 0), window_s=d.get("window_s", 0),
                          per_s=d.get("per_s", 0))


def gateway(code: str, mine_type: str, roles: dict, seed: int = 2026, **mine_fields) -> sim.GatewayProfile:
    """A gateway with the demo layout of an (unsaved) mine."""
    mine = Mine(code=code, mine_type=mine_type, status=Mine.Status.PRODUCING, **mine_fields)
    site, planned = layout(mine, seed, roles, BASE)
    sensors = tuple(sim.SensorProfile(p.code, p.kind, CATALOGUE[p.kind]["interval_s"], p.params)
                    for p in planned if not p.derived_from)
    return sim.GatewayProfile(mine_id=abs(hash(code)) % 1000, mine_code=code, token=f"tok-{code}", phase_s=7,
                              sensors=sensors, site=site, mine_type=mine_type)


ROLES = {"co": ["UG-1", "CO-01"], "silent": ["UG-2", "FS-01"], "storm": "TP-1", "creep": ["OP-1", "GNSS-02"]}


@pytest.fixture(scope="module")
def plan() -> sim.Plan:
    gateways = [gateway("UG-1", "underground", ROLES, people_underground=80),
                gateway("UG-2", "underground", ROLES, people_underground=40),
                gateway("TP-1", "tailings_pond", ROLES, current_dam_height=40),
                gateway("OP-1", "open_pit", ROLES)]
    return sim.Plan(seed=2026, base=BASE, gateways=gateways, roles=ROLES,
                    rain=[sim.Rain(BASE - 2 * DAY, 8 * HOUR, 30.0)])


def profile(plan: sim.Plan, mine: str, code: str) -> tuple[sim.GatewayProfile, sim.SensorProfile]:
    gw = next(g for g in plan.gateways if g.mine_code == mine)
    return gw, next(s for s in gw.sensors if s.code == code)


def live(plan: sim.Plan) -> sim.World:
    return sim.World(plan, sim.Scenario.for_plan(plan, START))


def values(world, gw, s, t0, t1, step=None) -> list[tuple[int, float]]:
    return sim.series(world, gw, s, t0, t1, step)


# Streams ---------------------------------------------------------------------------------------------
def test_co_excursion_stays_above_the_red_line_longer_than_the_rule_asks_then_recovers(plan):
    world = live(plan)
    gw, co = profile(plan, "UG-1", "CO-01")
    red = catalogue_rule("co", "threshold")
    readings = values(world, gw, co, START - 600, START + 1800)
    before = [v for t, v in readings if t < START + world.scenario.co_begin_s]
    assert max(before) < 10, "clean air before the excursion"
    longest, run_start = 0, None
    for t, v in readings:
        if v >= red.thresholds[-1][1]:
            run_start = t if run_start is None else run_start
            longest = max(longest, t - run_start)
        else:
            run_start = None
    assert longest > red.min_duration_s
    assert readings[-1][1] < 10, "recovered by the end"
    # The catalogue's rule, fed the stream, reaches red within two minutes of the start and clears again.
    state, levels = {}, []
    for t, v in readings:
        levels.append((t, rules.step(red, state, t, v)))
    first_red = next(t for t, level in levels if level == Level.RED)
    assert first_red - START <= 120
    assert levels[-1][1] == Level.NONE
    # The other CO points of that mine see a little of it; another mine sees none of it.
    _, co2 = profile(plan, "UG-1", "CO-02")
    assert 8 < max(v for _t, v in values(world, gw, co2, START, START + 600)) < 16
    gw2, other = profile(plan, "UG-2", "CO-01")
    assert max(v for _t, v in values(world, gw2, other, START, START + 1800)) < 10


def test_silent_sensor_stops_sending_for_its_window_then_resumes(plan):
    world = live(plan)
    gw, fan_air = profile(plan, "UG-2", "FS-01")
    sc = world.scenario
    quiet_from, quiet_until = START + sc.silent_from_s, START + sc.silent_from_s + sc.silent_for_s
    times = [t for t, _v in values(world, gw, fan_air, START - 300, quiet_until + 300)]
    assert not [t for t in times if quiet_from <= t < quiet_until]
    assert [t for t in times if t < quiet_from] and [t for t in times if t >= quiet_until]
    # Only that sensor: the same kind at the other mine keeps reporting every 20 s.
    gw1, other = profile(plan, "UG-1", "FS-01")
    assert len(values(world, gw1, other, quiet_from, quiet_until)) == sc.silent_for_s // 20
    # In the seeded history nobody is silent.
    assert len(values(sim.World(plan), gw, fan_air, quiet_from, quiet_until)) == sc.silent_for_s // 20


def test_water_level_rises_after_the_rain_with_a_lag_then_drains_and_the_beach_shrinks(plan):
    world = live(plan)
    gw, water = profile(plan, "TP-1", "SW-01")
    _, beach = profile(plan, "TP-1", "GT-01")
    _, gauge = profile(plan, "TP-1", "YL-01")
    storm_start = START + world.scenario.storm_begin_s
    level = dict(values(world, gw, water, START - HOUR, START + 4 * DAY))
    beach_m = dict(values(world, gw, beach, START - HOUR, START + 4 * DAY))

    def at(series, t):
        return series[min(series, key=lambda k: abs(k - t))]

    before = at(level, storm_start)
    lag = gw.site["lag_s"]
    assert abs(at(level, storm_start + 0.8 * lag) - before) < 0.1, "the pond answers the rain with a lag"
    peak_t = max((t for t in level if t > storm_start), key=level.get)
    assert storm_start + lag < peak_t < storm_start + DAY
    assert level[peak_t] - before > 0.8
    crest = gw.site["crest"]
    assert 0.7 < crest - level[peak_t] < 1.0, "freeboard (derived by the server) comes down to yellow"
    assert level[peak_t] - at(level, peak_t + 3 * DAY) > 0.5, "then it drains"
    assert at(beach_m, peak_t) < at(beach_m, storm_start) - 25, "the dry beach shrinks as the level rises"
    assert 55 < at(beach_m, peak_t) <= 65
    # The gauge's 24 h total passes the 50 mm rainstorm line during the storm, and is back to 0 two days on.
    rain = dict(values(world, gw, gauge, START, START + 3 * DAY))
    assert max(rain.values()) >= 50
    assert at(rain, storm_start + 2 * DAY) <= 30, "the storm has left the 24 h window"
    # The storm made the difference: the same pond without it is over 0.8 m lower at that moment.
    assert level[peak_t] - sim.value(sim.World(plan), gw, water, peak_t) > 0.8


def test_history_rain_raises_every_pond_a_little_without_a_rainstorm(plan):
    world = sim.World(plan)
    gw, water = profile(plan, "TP-1", "SW-01")
    _, gauge = profile(plan, "TP-1", "YL-01")
    level = dict(values(world, gw, water, BASE - 3 * DAY, BASE))
    rain = dict(values(world, gw, gauge, BASE - 3 * DAY, BASE))
    assert 10 < max(rain.values()) < 50
    assert 0.2 < max(level.values()) - level[min(level)] < 1.0
    assert gw.site["crest"] - max(level.values()) > 1.0, "freeboard stays above yellow in the history"


def test_one_gnss_point_creeps_faster_through_blue_and_yellow_while_the_others_stay_quiet(plan):
    world = sim.World(plan)
    gw = next(g for g in plan.gateways if g.mine_code == "OP-1")
    rate_rule = catalogue_rule("surface_displacement", "rate")
    highest = {}
    for s in (s for s in gw.sensors if s.kind == "surface_displacement"):
        state, reached = {}, []
        for t, v in values(world, gw, s, BASE - 3 * DAY, BASE + 2 * DAY):
            level = rules.step(rate_rule, state, t, v)
            if not reached or level != reached[-1][1]:
                reached.append((t, level))
        highest[s.code] = reached
    creeping = highest.pop("GNSS-02")
    assert [level for _t, level in creeping][:3] == [Level.NONE, Level.BLUE, Level.YELLOW]
    blue_at, yellow_at = creeping[1][0], creeping[2][0]
    assert blue_at < BASE < yellow_at < BASE + DAY, "blue in the seeded history, yellow within a day of it"
    assert all(levels == [(levels[0][0], Level.NONE)] for levels in highest.values()), highest
    assert sim.creep_rate(profile(plan, "OP-1", "GNSS-02")[1].params, BASE) > 2


def test_electricity_follows_the_production_shifts(plan):
    world = sim.World(plan)
    gw, power = profile(plan, "UG-1", "DL-01")
    _, people = profile(plan, "UG-1", "RY-01")
    day = dt.datetime(2026, 7, 1, tzinfo=sim.CST).timestamp()

    def reading(s, hour):
        return sim.value(world, gw, s, day + hour * HOUR)

    assert reading(power, 10) > 1.5 * reading(power, 4)
    assert reading(power, 10) > reading(power, 20) > reading(power, 4)
    assert reading(people, 10) > reading(people, 20) > reading(people, 4)


def test_streams_are_reproducible_for_a_seed_and_differ_between_seeds(plan):
    gw, co = profile(plan, "UG-1", "CO-01")
    first = values(live(plan), gw, co, START, START + 3600)
    assert first == values(live(plan), gw, co, START, START + 3600)
    other = sim.Plan(seed=7, base=plan.base, gateways=plan.gateways, rain=plan.rain, roles=plan.roles)
    assert values(live(other), gw, co, START, START + 3600) != first


def test_backfill_steps_land_on_the_live_grid(plan):
    gw, co = profile(plan, "UG-1", "CO-01")
    coarse = {t for t, _v in values(sim.World(plan), gw, co, BASE - DAY, BASE, step=300)}
    fine = {t for t, _v in values(sim.World(plan), gw, co, BASE - DAY, BASE)}
    assert coarse and coarse <= fine and all(t % 20 == gw.phase_s for t in fine)


def test_plan_round_trips_through_its_file_readable_by_the_owner_only(plan, tmp_path):
    path = tmp_path / "demo-gateways.json"
    plan.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = sim.Plan.load(path)
    assert again.to_json() == plan.to_json()
    gw, co = profile(again, "UG-1", "CO-01")
    assert values(live(again), gw, co, START, START + 600) == values(live(plan), *profile(plan, "UG-1", "CO-01"),
                                                                     START, START + 600)


def test_simulated_clock_runs_at_speed_but_never_into_the_future(plan):
    wall = [1000.0]
    real = [START]
    simulator = sim.Simulator(plan, sim.HttpTransport("http://127.0.0.1:9"), speed=60, start=START - 600,
                              clock=lambda: real[0], monotonic=lambda: wall[0])
    assert simulator.sim_now() == START - 600
    wall[0] += 5
    assert simulator.sim_now() == START - 300
    wall[0] += 60
    assert simulator.sim_now() == START, "capped at real time"
    assert sim.default_start(1, None, now=START) == START
    assert sim.default_start(60, 10, now=START) == START - 600


# Transports ------------------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_kept_for_a_retry_with_backoff_and_never_raises(plan):
    wall = [0.0]
    simulator = sim.Simulator(plan, sim.HttpTransport(f"http://127.0.0.1:{closed_port()}", timeout=2),
                              start=START, clock=lambda: START, monotonic=lambda: wall[0])
    simulator.step()
    stats = simulator.stats
    assert stats.readings == 0 and stats.retries == 1, "an unreachable server ends the round at the first failure"
    assert stats.buffered == plan.sensor_count(), "every sensor's first reading waits"
    first, second = simulator._outbox[:2]
    assert first.next_try == 1
    simulator.step()  # the first gateway waits out its backoff; the next one tries
    assert stats.retries == 2 and second.next_try == 1
    wall[0] += 1.5
    simulator.step()
    assert stats.retries == 3 and first.next_try - wall[0] == 2, "the first gateway's wait doubled"
    assert stats.readings == 0 and stats.buffered == plan.sensor_count()


def small_city(personas, tmp_path, history=dt.timedelta(0)) -> tuple[sim.Plan, Path]:
    """The personas' mines that must connect (mine A and A2 underground, pond A) with demo monitoring."""
    ingest.invalidate()
    path = tmp_path / "demo-gateways.json"
    seed_monitoring(path=path, history=history)
    return sim.Plan.load(path), path


@transactional
def test_simulate_command_over_http_stores_readings_and_raises_the_co_alarm_and_the_silence(
        personas, live_server, tmp_path):
    plan, path = small_city(personas, tmp_path)
    out = io.StringIO()
    call_command("simulate", "--url", live_server.url, "--speed", "60", "--duration", "6", "--tokens", str(path),
                 stdout=out)
    measured = Sensor.objects.filter(source__isnull=True)
    assert measured.count() == plan.sensor_count()
    heard = set(Reading.objects.values_list("sensor_id", flat=True).distinct())
    assert set(measured.values_list("pk", flat=True)) <= heard
    # Six minutes of simulated time: the CO excursion at mine A went red; no other threshold alarm.
    co = Sensor.objects.get(mine=personas.mine_a, code="CO-01")
    alarm = Alarm.objects.get(sensor=co, source=Alarm.Source.THRESHOLD)
    assert alarm.max_level == Level.RED
    assert not Alarm.objects.filter(source=Alarm.Source.THRESHOLD).exclude(mine=personas.mine_a).exists()
    # Mine A2's wind speed went silent at +20 s: the no-data check flags it (and only it) once three
    # intervals have passed since it was last heard.
    quiet = Sensor.objects.get(mine=personas.mine_a2, code="FS-01")
    assert Reading.objects.filter(sensor_id=quiet.pk).count() < Reading.objects.filter(sensor_id=co.pk).count() / 5
    earliest_other = Sensor.objects.exclude(pk=quiet.pk).filter(interval_s=quiet.interval_s) \
        .order_by("last_received_at").first().last_received_at
    check_at = quiet.last_received_at + dt.timedelta(seconds=quiet.interval_s * 3 + 0.5)
    assert earliest_other > check_at - dt.timedelta(seconds=60), "the run was long enough to tell them apart"
    services.check_silence(now=check_at)
    assert list(Alarm.objects.filter(source=Alarm.Source.NO_DATA).values_list("sensor", flat=True)) == [quiet.pk]
    assert "sent" in out.getvalue()


@transactional
def test_a_revoked_token_is_dropped_and_the_other_gateways_carry_on(personas, live_server, tmp_path):
    plan, _path = small_city(personas, tmp_path)
    pond = next(g for g in plan.gateways if g.mine_code == personas.pond_a.code)
    services.set_gateway_active(personas.city, Gateway.objects.get(pk=pond.gateway_id), False)
    simulator = sim.Simulator(plan, sim.HttpTransport(live_server.url), start=timezone.now().timestamp())
    simulator.step()
    pond_sensors = len(pond.sensors)
    assert simulator.stats.dropped == pond_sensors
    assert simulator.stats.readings == plan.sensor_count() - pond_sensors
    assert not Reading.objects.filter(sensor__mine=personas.pond_a).exists()
    assert Reading.objects.filter(sensor__mine=personas.mine_a).exists()


@transactional
def test_mqtt_transport_publishes_each_gateway_to_its_mine_topic_for_the_ingest_worker(personas, broker, tmp_path):
    plan, _path = small_city(personas, tmp_path)
    group, client_id = f"sim-{uuid.uuid4().hex[:6]}", f"sim-worker-{uuid.uuid4().hex[:6]}"
    worker = IngestWorker("127.0.0.1", broker.port, client_id=client_id, group=group)

    def work():
        try:
            worker.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        assert worker.subscribed.wait(10), "the ingest worker did not subscribe"
        transport = sim.MqttTransport("127.0.0.1", broker.port)
        simulator = sim.Simulator(plan, transport, speed=30, start=timezone.now().timestamp() - 120)
        stats = simulator.run(duration=4, tick_s=0.2)
        assert stats.readings > plan.sensor_count() and stats.retries == 0 and stats.buffered == 0
        wait_until(lambda: worker.stats.readings >= stats.readings, message="the worker to take every reading")
    finally:
        worker.stopping.set()
        thread.join(10)
        IngestWorker("127.0.0.1", broker.port, client_id=client_id, group=group).forget_session()
    assert worker.stats.quarantined == 0 and not QuarantinedMessage.objects.exists()
    assert Reading.objects.filter(sensor__source__isnull=True).count() == stats.readings
    mines = set(Reading.objects.values_list("sensor__mine", flat=True).distinct())
    assert mines == {g.mine_id for g in plan.gateways}


def test_mqtt_transport_keeps_readings_while_no_broker_answers(plan):
    transport = sim.MqttTransport("127.0.0.1", closed_port(), timeout=0.3)
    try:
        simulator = sim.Simulator(plan, transport, start=START, clock=lambda: START)
        simulator.collect(START)
        simulator.flush()
        assert simulator.stats.readings == 0 and simulator.stats.retries == 1
        assert simulator.stats.buffered == plan.sensor_count()
    finally:
        transport.close()


def test_plan_json_names_every_gateway_token_and_sensor(plan):
    data = json.loads(json.dumps(plan.to_json()))
    assert {g["token"] for g in data["gateways"]} == {g.token for g in plan.gateways}
    assert all(s["interval_s"] > 0 for g in data["gateways"] for s in g["sensors"])
