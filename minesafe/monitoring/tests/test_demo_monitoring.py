"""The demo city's monitoring: a gateway and realistic sensors at every mine that must connect, the
tokens file the simulator uses, history written through ingest, and seeding again changes nothing."""

import datetime as dt
import json
from collections import Counter

import pytest

from minesafe.core.models import AuditEvent
from minesafe.monitoring import ingest, services
from minesafe.monitoring import simulator as sim
from minesafe.monitoring.demo import GATEWAY_NAME, backfill_step, layout, seed_monitoring
from minesafe.monitoring.models import Alarm, Gateway, Level, Reading, Rule, Sensor
from minesafe.registry.models import Mine
from minesafe.web.demo import ensure_demo_monitoring, seed_demo

HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def fresh_ingest_cache():
    ingest.invalidate()
    yield
    ingest.invalidate()


@pytest.fixture
def demo_city(reference):
    """The demo registry as an older version seeded it: no monitoring (one month of ledgers, for speed)."""
    seed_demo(months=1, monitoring=False, until="accidents")


def kinds_at(mine: Mine) -> Counter:
    return Counter(Sensor.objects.filter(mine=mine).values_list("kind", flat=True))


def post(client, token: str, readings: list[dict]):
    return client.post("/api/v1/telemetry", data=json.dumps({"readings": readings}), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_every_mine_that_must_connect_gets_a_gateway_and_the_sensors_of_its_type(demo_city, tmp_path, client):
    path = tmp_path / "demo-gateways.json"
    summary = ensure_demo_monitoring(path=path, history=HOUR)
    required = services.must_connect(Mine.objects.all())
    assert summary.mines == summary.gateways == summary.gateways_created == required.count() > 50
    assert set(Gateway.objects.values_list("mine", flat=True)) == set(required.values_list("pk", flat=True))
    assert not Sensor.objects.exclude(mine__in=required).exists()
    assert summary.sensors == summary.sensors_created == Sensor.objects.count()
    types = Counter()
    for mine in required:
        kinds = kinds_at(mine)
        types[mine.mine_type] += 1
        if mine.mine_type == Mine.Type.TAILINGS_POND:
            assert kinds["water_level"] == kinds["freeboard"] == kinds["dry_beach"] == 1
            assert 2 <= kinds["phreatic_depth"] <= 4 and kinds["surface_displacement"] == 4
            assert kinds["rainfall"] == kinds["seepage"] == 1
        elif mine.mine_type == Mine.Type.UNDERGROUND:
            assert 2 <= kinds["co"] <= 3
            for kind in ("nox", "o2", "wind_speed", "fan_state", "people_underground", "electricity"):
                assert kinds[kind] == 1, (mine, kind)
        else:
            assert mine.slope_height >= 150
            assert kinds["surface_displacement"] >= 3
            assert kinds["radar_displacement"] == kinds["rainfall"] == kinds["electricity"] == 1
    assert set(types) == {"tailings_pond", "underground", "open_pit"}
    # Freeboard is derived on the server: crest elevation − water level.
    freeboard = Sensor.objects.filter(kind="freeboard").select_related("source").first()
    assert freeboard.gateway_id is None and freeboard.source.code == "SW-01" and freeboard.derive_scale == -1
    assert freeboard.last_value == pytest.approx(freeboard.derive_offset - freeboard.source.last_value)
    assert 1.0 < freeboard.last_value < 4
    assert Sensor.objects.filter(code="GNSS-03", name__contains="位移").exists()

    # An hour of history for every measured sensor at its interval (every 5 minutes for the fast ones),
    # ending when seeding began (the plan's base); an hour of normal operation raises no alarm.
    measured = Sensor.objects.filter(source__isnull=True)
    ended = dt.datetime.fromtimestamp(sim.Plan.load(path).base, dt.UTC)
    for sensor in measured.filter(mine=required.first()):
        count = Reading.objects.filter(sensor_id=sensor.pk).count()
        assert count >= HOUR.total_seconds() // backfill_step(sensor.interval_s) - 1, sensor
        assert dt.timedelta(0) <= ended - sensor.last_ts < dt.timedelta(seconds=backfill_step(sensor.interval_s))
    assert not measured.filter(last_ts__isnull=True).exists()
    assert summary.readings > 5 * measured.count() and not Alarm.objects.exists()

    # The tokens file (owner-only) holds a working token for each gateway.
    assert path.stat().st_mode & 0o777 == 0o600
    plan = sim.Plan.load(path)
    assert {g.gateway_id for g in plan.gateways} == set(Gateway.objects.values_list("pk", flat=True))
    assert plan.sensor_count() == measured.count()
    for g in plan.gateways:
        assert ingest.authenticate(g.token).id == g.gateway_id
    pond = next(g for g in plan.gateways if g.mine_type == "tailings_pond")
    answer = post(client, pond.token, [{"sensor": "SW-01", "ts": dt.datetime.now(sim.CST).isoformat(),
                                        "value": pond.site["crest"] - 2.5, "unit": "m"}])
    assert answer.status_code == 200, answer.content
    assert answer.json()["stored"] == 2  # the water level and the freeboard derived from it
    assert post(client, pond.token + "x", [{"sensor": "SW-01", "ts": 1, "value": 1}]).status_code == 401

    # Seeding again creates nothing, writes no readings, keeps the tokens, and audits nothing.
    counts = (Gateway.objects.count(), Sensor.objects.count(), Rule.objects.count(), Reading.objects.count(),
              AuditEvent.objects.count())
    text = path.read_text()
    again = seed_monitoring(path=path, history=HOUR)
    assert (again.gateways_created, again.sensors_created, again.tokens_rotated, again.readings) == (0, 0, 0, 0)
    assert again.gateways == summary.gateways and again.sensors == summary.sensors
    assert (Gateway.objects.count(), Sensor.objects.count(), Rule.objects.count(), Reading.objects.count(),
            AuditEvent.objects.count()) == counts
    assert path.read_text() == text
    assert ensure_demo_monitoring(path=path, history=HOUR) is None, "sensors exist: nothing to add"


def test_the_history_runs_the_rules_so_the_creeping_point_is_blue_at_the_end(personas, tmp_path):
    summary = seed_monitoring(path=tmp_path / "gw.json", history=dt.timedelta(days=1))
    assert summary.gateways == 3, "mine A, mine A2 and pond A; mine B is an open pit without a high slope"
    assert not Gateway.objects.filter(mine=personas.mine_b).exists()
    assert [g.name for g in Gateway.objects.all()] == [GATEWAY_NAME] * 3
    alarm = Alarm.objects.get()
    assert (alarm.mine, alarm.sensor.code, alarm.source, alarm.level) == \
        (personas.pond_a, "GNSS-02", Alarm.Source.RATE, Level.BLUE)
    water = Sensor.objects.get(mine=personas.pond_a, code="SW-01")
    freeboard = Sensor.objects.get(mine=personas.pond_a, code="AQCG-01")
    pairs = dict(Reading.objects.filter(sensor_id=water.pk).values_list("ts", "value"))
    derived = dict(Reading.objects.filter(sensor_id=freeboard.pk).values_list("ts", "value"))
    assert len(pairs) == 144 and pairs.keys() == derived.keys()
    assert all(derived[ts] == pytest.approx(freeboard.derive_offset - v) for ts, v in pairs.items())
    assert min(derived.values()) > 1.0


def test_a_lost_tokens_file_gets_the_existing_gateways_fresh_tokens(personas, tmp_path):
    path = tmp_path / "gw.json"
    seed_monitoring(path=path, history=dt.timedelta(0))
    old = {g.gateway_id: g.token for g in sim.Plan.load(path).gateways}
    path.unlink()
    again = seed_monitoring(path=path, history=dt.timedelta(0))
    assert (again.gateways_created, again.sensors_created, again.tokens_rotated) == (0, 0, 3)
    new = {g.gateway_id: g.token for g in sim.Plan.load(path).gateways}
    assert new.keys() == old.keys()
    for gateway_id, token in new.items():
        assert ingest.authenticate(token).id == gateway_id
        assert ingest.authenticate(old[gateway_id]) is None
    assert AuditEvent.objects.filter(object_type="monitoring.gateway", action=AuditEvent.Action.UPDATE).count() == 3


def test_a_database_that_is_not_the_demo_gets_no_demo_monitoring(personas, tmp_path):
    assert ensure_demo_monitoring(path=tmp_path / "gw.json", history=HOUR) is None
    assert not Gateway.objects.exists() and not (tmp_path / "gw.json").exists()


def test_a_capped_layout_keeps_the_most_important_points_and_the_source_of_a_derived_one():
    pond = Mine(code="T-9", mine_type=Mine.Type.TAILINGS_POND, status=Mine.Status.PRODUCING, current_dam_height=40)
    _site, full = layout(pond, 2026, {}, 1_790_000_000.0)
    _site, capped = layout(pond, 2026, {}, 1_790_000_000.0, cap=4)
    assert len(full) >= 12
    assert [s.code for s in capped] == ["GT-01", "JRX-01", "SW-01", "AQCG-01"], "derived sensors come last"
    underground = Mine(code="U-9", mine_type=Mine.Type.UNDERGROUND, status=Mine.Status.PRODUCING)
    assert {s.kind for s in layout(underground, 2026, {}, 0, cap=3)[1]} == {"co", "fan_state", "o2"}


def test_seeding_with_a_cap_limits_the_sensors_per_mine(personas, tmp_path):
    summary = seed_monitoring(path=tmp_path / "gw.json", history=dt.timedelta(0), cap=5)
    assert summary.sensors == Sensor.objects.count() <= 3 * 5
    assert max(Counter(Sensor.objects.values_list("mine", flat=True)).values()) == 5
