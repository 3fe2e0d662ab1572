"""Data-quality alarms: what quality.py finds in a sensor's recent readings keeps an alarm open with the
evidence, through the same handling as any alarm, and clears when the data is sound again."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from minesafe.monitoring import integrity
from minesafe.monitoring import quality as q
from minesafe.monitoring.models import Alarm, Level, Reading, Sensor

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(dt.datetime(2026, 11, 30, 12, 0))


def store(sensor: Sensor, ts, values) -> None:
    Reading.objects.filter(sensor_id=sensor.pk).delete()
    Reading.objects.bulk_create([Reading(sensor_id=sensor.pk, ts=dt.datetime.fromtimestamp(t, dt.UTC), value=float(v))
                                 for t, v in zip(ts, values, strict=True)])
    Sensor.objects.filter(pk=sensor.pk).update(last_received_at=NOW, last_ts=NOW)


def generated(seed: int, kind: str, fault: str | None, hours: float = 30):
    """A generated series moved to end just before NOW, after a clean day of the same kind: the sensor's
    own reference, against which "too smooth" is judged."""
    interval = q.KIND_PROFILES[kind].interval_s
    g = q.generate(seed, kind, n=int(hours * 3600 / interval), fault=fault)
    shift = NOW.timestamp() - 60 - float(g.ts[-1])
    reference = q.generate(seed + 1000, kind, n=int(24 * 3600 / interval))
    before = g.ts[0] + shift - interval - float(reference.ts[-1])
    ts = np.concatenate((reference.ts + before, g.ts + shift))
    values = np.concatenate((reference.values, g.values))
    return ts, values, (g.span[0] + shift, g.span[1] + shift) if g.span else None


def quality_alarms():
    return Alarm.objects.filter(source=Alarm.Source.DATA_QUALITY)


def test_a_replayed_segment_raises_an_alarm_with_the_evidence_and_clears_when_sound(monitored):
    ts, values, span = generated(7, "co", "replay")
    store(monitored.co, ts, values)
    run = integrity.run_quality_checks(NOW)
    alarm = quality_alarms().get()
    assert run.alarms == 1 and (alarm.sensor, alarm.level, alarm.mine) == (monitored.co, Level.ORANGE,
                                                                            monitored.co.mine)
    assert alarm.key == f"q{monitored.co.pk}:replay" and alarm.evidence["check"] == "replay"
    assert alarm.evidence["start"] <= span[1] and span[0] <= alarm.evidence["end"]
    assert alarm.events.get().note == alarm.evidence["summary"]
    assert integrity.run_quality_checks(NOW).alarms == 1 and quality_alarms().count() == 1  # the same alarm
    clean_ts, clean_values, _ = generated(8, "co", None)
    store(monitored.co, clean_ts, clean_values)
    integrity.run_quality_checks(NOW)
    alarm.refresh_from_db()
    assert not alarm.active and alarm.cleared_at == NOW


@pytest.mark.parametrize("fault", ["flat", "jump", "smooth"])
def test_each_kind_of_bad_data_is_its_own_alarm(monitored, fault):
    ts, values, _span = generated(11, "co", fault)
    store(monitored.co, ts, values)
    integrity.run_quality_checks(NOW)
    assert fault in {a.evidence["check"] for a in quality_alarms()}


def test_clean_data_and_flat_state_sensors_raise_nothing(monitored):
    ts, values, _ = generated(3, "co", None)
    store(monitored.co, ts, values)
    o2_ts, o2_values, _ = generated(4, "o2", None)
    store(monitored.o2, o2_ts, o2_values)
    assert integrity.run_quality_checks(NOW).alarms == 0
    monitored.o2.kind = "fan_state"  # a fan that runs all day holds 1
    Sensor.objects.filter(pk=monitored.o2.pk).update(kind="fan_state")
    store(monitored.o2, o2_ts, np.ones(len(o2_ts)))
    assert integrity.run_quality_checks(NOW).alarms == 0 and not quality_alarms().exists()


def test_clock_drift_against_the_server_from_hourly_samples(monitored):
    sensor = monitored.co
    ts, values, _ = generated(5, "co", None)
    store(sensor, ts, values)
    for hour in range(48):  # the gateway's clock loses 10 minutes a day against the server
        received = NOW - dt.timedelta(hours=47 - hour)
        lag = dt.timedelta(seconds=2 + 600 * hour / 24)
        Sensor.objects.filter(pk=sensor.pk).update(last_received_at=received, last_ts=received - lag)
        integrity.sample_clock(Sensor.objects.get(pk=sensor.pk))
    assert len(Sensor.objects.get(pk=sensor.pk).clock_samples) == 48
    Sensor.objects.filter(pk=sensor.pk).update(last_received_at=NOW)
    integrity.run_quality_checks(NOW)
    drift = quality_alarms().get(key=f"q{sensor.pk}:clock_drift")
    assert abs(drift.evidence["evidence"]["drift_s_per_day"]) == pytest.approx(600, rel=0.2)


def test_the_alarm_page_shows_the_evidence_to_those_who_see_the_alarm(client, personas, monitored):
    ts, values, _span = generated(7, "co", "replay")
    store(monitored.co, ts, values)
    integrity.run_quality_checks(NOW)
    alarm = quality_alarms().get()
    for user, status in ((personas.ent_a, 200), (personas.county_a, 200), (personas.city, 200),
                         (personas.ent_b, 404), (personas.county_b, 404)):
        client.force_login(user)
        page = client.get(f"/monitoring/alarms/{alarm.pk}/")
        assert page.status_code == status
        if status == 200:
            assert 'id="evidence"' in page.content.decode() and "<svg" in page.content.decode()
