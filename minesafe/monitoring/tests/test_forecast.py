"""The failure-time forecaster (inverse velocity) and `minesafe forecast`."""

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from minesafe.monitoring import forecast as fc

H, D = 3600.0, 86400.0
TF = 1_800_000_000.0  # the true failure time of the synthetic series
LANDSLIDES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "landslides"


def accelerating(seed=1, noise=0.3, days=20, step=H, alpha=2.0):
    return fc.voight_series(TF, alpha, 50.0, TF - days * D, step, noise, creep=0.5, rng=np.random.default_rng(seed))


def events(series):
    return [s.event for s in fc.replay(series) if s.event is not None]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forecast_standing_a_day_before_failure_is_within_six_hours(seed):
    states = list(fc.replay(accelerating(seed)))
    standing = fc.standing_at(states, TF - 24 * H)
    assert standing is not None
    assert abs(standing.failure_at - TF) < 6 * H
    assert standing.band_from <= standing.failure_at <= standing.band_to
    assert standing.band_from >= standing.issued_at
    assert 0.8 <= standing.fit_quality <= 1.0
    assert standing.velocity_mm_per_day > 20


def test_forecast_tightens_as_failure_nears():
    states = list(fc.replay(accelerating(4)))
    early, late = fc.standing_at(states, TF - 24 * H), fc.standing_at(states, TF - 6 * H)
    assert early and late
    assert abs(late.failure_at - TF) <= abs(early.failure_at - TF) + H
    assert late.band_to - late.band_from < early.band_to - early.band_from


def test_linear_creep_publishes_nothing():
    rng = np.random.default_rng(5)
    t = TF - 30 * D + np.arange(720) * H
    series = list(zip(t, 2.0 * (t - t[0]) / D + rng.normal(0, 0.3, len(t)), strict=True))
    states = list(fc.replay(series))
    assert not any(s.event for s in states)
    assert not any(s.velocity_alarm for s in states[20:])


def test_decelerating_series_publishes_nothing():
    # the mirror image of an acceleration: velocity 1/(A(t - t0)) decaying after a step
    rng = np.random.default_rng(6)
    t = TF + np.arange(1, 721) * H
    x = 50.0 * np.log((t - TF) / D + 0.05) + rng.normal(0, 0.3, len(t))
    assert events(list(zip(t, x, strict=True))) == []


def test_acceleration_then_deceleration_is_withdrawn():
    series = accelerating(7, days=20)
    cut = [p for p in series if p[0] <= TF - 30 * H]
    t_last, x_last = cut[-1]
    v = (cut[-1][1] - cut[-25][1]) / (cut[-1][0] - cut[-25][0])  # mm/s over the last day
    rng = np.random.default_rng(8)
    for k in range(1, 97):  # velocity halves every ~12 h
        v *= 0.945
        x_last += v * H
        cut.append((t_last + k * H, x_last + rng.normal(0, 0.3)))
    found = events(cut)
    assert any(isinstance(e, fc.Forecast) for e in found)
    withdrawal = next(e for e in found if isinstance(e, fc.Withdrawal))
    assert withdrawal.withdrawn_at > t_last
    assert withdrawal.withdrawn_at - t_last < 24 * H
    assert "velocity" in withdrawal.reason or "slope" in withdrawal.reason
    assert isinstance(found[-1], fc.Withdrawal)


def test_velocity_alarm_follows_the_threshold():
    states = list(fc.replay(accelerating(9)))
    first = next(s for s in states if s.velocity_alarm)
    assert first.velocity_mm_per_day > 8 and first.time < TF - 2 * D
    assert all(s.velocity_alarm for s in states if s.time > TF - D)


@pytest.mark.parametrize(("series", "message", "index"), [
    ([(i * H, float(i)) for i in range(5)], "too short", None),
    ([(i * H, float(i)) for i in range(5)] + [(4 * H, 5.0)] + [(i * H, float(i)) for i in range(6, 12)],
     "reading 5: duplicate timestamp", 5),
    ([(i * H, float(i)) for i in range(7)] + [(2 * H, 5.0)] + [(i * H, float(i)) for i in range(8, 12)],
     "reading 7: timestamps not sorted", 7),
    ([(i * H, float(i)) for i in range(3)] + [(3 * H, math.nan)] + [(i * H, float(i)) for i in range(4, 12)],
     "reading 3: displacement is not a finite", 3),
    ([(i * H, float(i)) for i in range(3)] + [(math.inf, 1.0)] + [(i * H, float(i)) for i in range(4, 12)],
     "reading 3: time is not a finite", 3),
    ([(i * H, float(i)) for i in range(3)] + [("x", 1.0)] + [(i * H, float(i)) for i in range(4, 12)],
     "reading 3: not a (time, displacement) pair", 3),
])
def test_bad_series_is_refused_before_anything_is_yielded(series, message, index):
    with pytest.raises(fc.SeriesError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        next(fc.replay(series))
    assert caught.value.index == index


def test_gaps_use_the_real_time_step():
    t = [i * H for i in range(10)] + [i * H for i in range(40, 50)]
    series = [(x, 2.0 * x / D) for x in t]
    states = list(fc.replay(series))
    assert states[-1].velocity_mm_per_day == pytest.approx(2.0)
    assert states[12].velocity_mm_per_day == pytest.approx(2.0)


def test_announcements_skip_small_moves():
    f1 = fc.Forecast(issued_at=0, failure_at=100 * H, band_from=90 * H, band_to=110 * H, fit_quality=0.9,
                     velocity_mm_per_day=5)
    assert fc.changed_meaningfully(None, f1)
    assert not fc.changed_meaningfully(f1, fc.Forecast(H, 104 * H, 90 * H, 110 * H, 0.9, 5))
    assert fc.changed_meaningfully(f1, fc.Forecast(H, 106 * H, 90 * H, 110 * H, 0.9, 5))


# --- real series that never failed --------------------------------------------------------------------------------

def monthly_gps(folder: str, station: str) -> list[tuple[float, float]]:
    out = []
    with open(LANDSLIDES / folder / "gps_displacement_monthly.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["station"] == station and row["dF_mm"]:
                month = dt.datetime.strptime(row["month"] + "-15", "%Y-%m-%d").replace(tzinfo=dt.UTC)
                out.append((month.timestamp(), float(row["dF_mm"])))
    return out


def lamosano() -> list[tuple[float, float]]:
    with open(LANDSLIDES / "lamosano" / "H_lamo.csv", newline="") as handle:
        return [(dt.datetime.fromisoformat(r["date"]).replace(tzinfo=dt.UTC).timestamp(), -float(r["p5"]))
                for r in csv.DictReader(handle)]


needs_data = pytest.mark.skipif(not LANDSLIDES.is_dir(), reason="shared landslide data not present")


@needs_data
@pytest.mark.parametrize(("folder", "station"), [("baishuihe", "ZG118"), ("baishuihe", "DX01"),
                                                 ("baishuihe", "ZG93"), ("bazimen", "ZG111")])
def test_seasonal_steps_of_real_landslides_forecast_no_failure(folder, station):
    series = monthly_gps(folder, station)
    assert len(series) > 50
    assert not any(isinstance(e, fc.Forecast) for e in events(series))


@needs_data
def test_slow_creep_at_lamosano_forecasts_no_failure():
    states = list(fc.replay(lamosano()))
    assert len(states) > 150
    assert not any(s.event for s in states)
    assert not any(s.velocity_alarm for s in states)


# --- the command --------------------------------------------------------------------------------------------------

def write_csv(path, rows, header="time,displacement_mm"):
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return str(path)


def iso_rows(series, offset=True):
    out = []
    for t, x in series:
        moment = dt.datetime.fromtimestamp(t, tz=dt.UTC)
        out.append((moment.isoformat() if offset else moment.replace(tzinfo=None).isoformat(), f"{x:.3f}"))
    return out


def run(path):
    out = io.StringIO()
    call_command("forecast", path, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def when(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_command_replays_a_csv_and_prints_forecasts(tmp_path):
    lines = run(write_csv(tmp_path / "a.csv", iso_rows(accelerating(1), offset=False)))
    assert lines
    assert all({"issued_at", "failure_at", "band_from", "band_to", "fit_quality"} <= set(x) for x in lines)
    issued = [when(x["issued_at"]) for x in lines]
    assert issued == sorted(issued)
    standing = [x for x in lines if when(x["issued_at"]) <= TF - 24 * H][-1]
    assert abs(when(standing["failure_at"]) - TF) < 6 * H
    assert all(x["failure_at"].endswith("Z") for x in lines)
    # the same series with explicit offsets (+08:00) gives the same forecasts
    shifted = [(dt.datetime.fromisoformat(a).replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
                .isoformat(), b) for a, b in iso_rows(accelerating(1), offset=False)]
    assert run(write_csv(tmp_path / "b.csv", shifted)) == lines
    # the announcement rule leaves out refits that barely move
    assert len(lines) < sum(isinstance(s.event, fc.Forecast) for s in fc.replay(accelerating(1)))


def test_command_prints_nothing_for_linear_creep(tmp_path):
    series = [(TF + i * H, 0.1 * i) for i in range(100)]
    assert run(write_csv(tmp_path / "c.csv", iso_rows(series))) == []


def test_command_prints_withdrawals(tmp_path):
    series = accelerating(7, days=20)
    cut = [p for p in series if p[0] <= TF - 30 * H]
    t_last, x_last = cut[-1]
    v = (cut[-1][1] - cut[-25][1]) / (cut[-1][0] - cut[-25][0])
    for k in range(1, 97):
        v *= 0.945
        x_last += v * H
        cut.append((t_last + k * H, x_last))
    lines = run(write_csv(tmp_path / "w.csv", iso_rows(cut)))
    assert "withdrawn_at" in lines[-1] and lines[-1]["reason"]
    assert any("failure_at" in x for x in lines)


GOOD = [(f"2026-01-01T{h:02d}:00:00", f"{h * 0.1:.1f}") for h in range(12)]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty file"),
    ("when,displacement_mm\n2026-01-01T00:00,1\n", "line 1: header must contain"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:3]) + "2026-01-01T03:00:00\n",
     "line 5: missing"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:3]) + "yesterday,1\n",
     "line 5: unparseable time"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:3]) + "2026-01-01T03:00,x\n",
     "line 5: unparseable displacement"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:4]), "series too short"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:6] + GOOD[5:]), "line 8: .*duplicate"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:6] + GOOD[2:3] + GOOD[6:]),
     "line 8: .*not sorted"),
    ("time,displacement_mm\n" + "".join(f"{a},{b}\n" for a, b in GOOD[:3]) + "2026-01-01T03:00,nan\n" +
     "".join(f"{a},{b}\n" for a, b in GOOD[4:]), "line 5: .*not a finite"),
])
def test_command_refuses_bad_csv_naming_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("forecast", str(path), stdout=out)
    assert out.getvalue() == ""


def test_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("forecast", str(tmp_path / "nope.csv"))


# POST /api/v1/forecast ---------------------------------------------------------------------------------------
def posted(series):
    return {"series": [{"time": fc.iso(t), "displacement_mm": round(x, 4)} for t, x in series]}


@pytest.mark.django_db
def test_the_api_replays_a_posted_series_like_the_cli(personas, client):
    client.force_login(personas.county_a)
    series = accelerating(seed=2)
    response = client.post("/api/v1/forecast", posted(series), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["readings"] == len(series)
    forecasts = [e for e in body["events"] if "failure_at" in e]
    assert forecasts and {"issued_at", "failure_at", "band_from", "band_to", "fit_quality"} <= set(forecasts[0])
    last = dt.datetime.fromisoformat(forecasts[-1]["failure_at"].replace("Z", "+00:00")).timestamp()
    assert abs(last - TF) < 12 * H


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field", "index"), [
    ({"series": "x"}, "series", None),
    ({"series": [{"time": "yesterday", "displacement_mm": 1}]}, "time", 0),
    ({"series": [{"time": "2026-11-01T00:00:00Z", "displacement_mm": "1"}]}, "displacement_mm", 0),
    ({"series": [{"time": f"2026-11-01T0{i}:00:00Z", "displacement_mm": i} for i in range(3)]}, "series", None),
])
def test_the_api_refuses_bad_series_with_the_field_and_reading(personas, client, body, field, index):
    client.force_login(personas.county_a)
    response = client.post("/api/v1/forecast", body, content_type="application/json")
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["index"]) == (field, index)


@pytest.mark.django_db
def test_the_api_needs_a_signed_in_user(personas, client):
    assert client.post("/api/v1/forecast", posted(accelerating()), content_type="application/json").status_code == 403
    client.force_login(personas.ent_b)
    assert client.get("/api/v1/forecast").status_code == 405


# Live forecasts on displacement sensors ----------------------------------------------------------------------
@pytest.fixture
def gnss(personas):
    from minesafe.monitoring import ingest, services

    ingest.invalidate()
    gateway, token = services.create_gateway(personas.city, personas.mine_b, "边坡监测")
    sensor = services.create_sensor(personas.city, personas.mine_b, code="GNSS-01", name="GNSS 1",
                                    kind="surface_displacement", gateway=gateway, interval_s=3600)
    yield sensor, token
    ingest.invalidate()


def send(token, series):
    from minesafe.monitoring import ingest

    rows = [{"sensor": "GNSS-01", "ts": t, "value": round(x, 3)} for t, x in series]
    message = ingest.decode("http", json.dumps({"readings": rows}), token=token)
    assert not message.errors and not message.parsed.errors
    ingest.commit([message], quarantine=False)


@pytest.mark.django_db
def test_a_slope_forecast_to_fail_within_the_horizon_raises_a_red_alarm_that_says_when(gnss):
    from django.utils import timezone

    from minesafe.monitoring import services
    from minesafe.monitoring.models import Alarm

    sensor, token = gnss
    now = timezone.now()
    failure = now.timestamp() + 20 * H
    series = fc.voight_series(failure, 2.0, 50.0, failure - 10 * D, H, 0.3, creep=0.5, rng=np.random.default_rng(3))
    send(token, [(t, x) for t, x in series if t <= now.timestamp()])
    run = services.run_forecasts(now=now)
    assert (run.checked, run.published, run.alarms) == (1, 1, 1)
    alarm = Alarm.objects.get(sensor=sensor, source=Alarm.Source.FORECAST, closed_at__isnull=True)
    assert alarm.level == 4 and 8 <= alarm.value <= 32  # hours left: about 20
    assert "R²" in alarm.events.get(kind="opened").note  # when, the band and the fit, for the people answering
    # Two days on, with no new data, the forecast moment has passed: the condition clears.
    services.run_forecasts(now=now + dt.timedelta(days=2))
    assert Alarm.objects.get(pk=alarm.pk).active is False


@pytest.mark.django_db
def test_steady_creep_raises_no_forecast_alarm(gnss):
    from django.utils import timezone

    from minesafe.monitoring import services
    from minesafe.monitoring.models import Alarm

    sensor, token = gnss
    now = timezone.now().timestamp()
    send(token, [(now - (100 - i) * H, 0.5 * (i / 24)) for i in range(100)])  # 0.5 mm/day
    assert services.run_forecasts().alarms == 0
    assert not Alarm.objects.filter(source=Alarm.Source.FORECAST).exists()
