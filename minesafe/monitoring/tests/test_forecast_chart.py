"""The failure-time forecast on a displacement sensor's page: the improved tangent angle (pure), the chart geometry,
the forecast panel replayed from the database, and the page section (shown for forecast kinds only, scoped)."""

import datetime as dt
import json
import math

import numpy as np
import pytest
from django.utils import timezone

from minesafe.monitoring import charts, ingest, services
from minesafe.monitoring import forecast as fc
from minesafe.monitoring import forecast_view as fv
from minesafe.monitoring.models import Alarm

H, D = 3600.0, 86400.0
TF = 1_800_000_000.0


def accelerating(seed, days=20, step=H, noise=0.3):
    return fc.voight_series(TF, 2.0, 50.0, TF - days * D, step, noise, creep=0.5, rng=np.random.default_rng(seed))


def creeping(mm_per_day, noise, seed=5, hours=720):
    t = TF - 30 * D + np.arange(hours) * H
    x = mm_per_day * (t - t[0]) / D + np.random.default_rng(seed).normal(0, noise, len(t))
    return list(zip(t.tolist(), x.tolist(), strict=True))


def at(states, moment):
    return next(s for s in reversed(states) if s.time <= moment)


# The improved tangent angle (pure) --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tangent_angle_climbs_through_the_stages_as_the_slope_accelerates_to_failure(seed):
    states = list(fc.replay(accelerating(seed)))
    order = [fc.NO_ACCELERATION, fc.INITIAL, fc.MEDIUM, fc.IMMINENT]
    first = {}
    for s in states:
        first.setdefault(s.tangent_stage, s.time)
    assert set(order) <= set(first)
    assert [first[stage] for stage in order] == sorted(first[stage] for stage in order)
    assert first[fc.IMMINENT] > TF - 2 * D  # imminent only in the last two days
    angles = [at(states, TF - h * H).tangent_angle_deg for h in (240, 72, 24, 2)]
    assert angles == sorted(angles)
    assert 45 < angles[0] < 80 and angles[-1] >= 85
    assert at(states, TF - 2 * H).tangent_stage == fc.IMMINENT
    assert at(states, TF - 240 * H).tangent_stage == fc.INITIAL


def test_steady_creep_reads_as_no_acceleration_around_45_degrees():
    # α = arctan(v / v0) is 45° by construction while the velocity stays at the creep velocity: noise scatters it
    # both sides, and a rise within the noise is not counted as acceleration.
    states = list(fc.replay(creeping(2.0, 0.3)))
    angles = np.array([s.tangent_angle_deg for s in states])
    defined = angles[np.isfinite(angles)]
    assert len(defined) > 0.9 * len(states)
    assert abs(np.median(defined) - 45) < 2 and defined.max() < 60
    assert {s.tangent_stage for s in states} == {fc.UNDEFINED, fc.NO_ACCELERATION}
    exact = list(fc.replay(creeping(2.0, 0.0)))
    assert all(s.tangent_angle_deg == pytest.approx(45.0) for s in exact[30:])
    assert {s.tangent_stage for s in exact[30:]} == {fc.NO_ACCELERATION}


def test_slowing_movement_reads_below_45_degrees():
    t = TF + np.arange(1, 481) * H
    x = 50.0 * np.log((t - TF) / D + 0.05) + np.random.default_rng(6).normal(0, 0.3, len(t))
    states = list(fc.replay(list(zip(t, x, strict=True))))
    late = [s.tangent_angle_deg for s in states[-100:]]
    assert all(a < 45 for a in late)
    assert {s.tangent_stage for s in states[-100:]} == {fc.NO_ACCELERATION}


def test_tangent_angle_is_undefined_before_a_day_of_creep_and_without_forward_movement():
    states = list(fc.replay(creeping(2.0, 0.3, hours=60)))
    assert all(math.isnan(s.tangent_angle_deg) and s.tangent_stage == fc.UNDEFINED for s in states[:24])
    assert not math.isnan(states[30].tangent_angle_deg)
    still = list(fc.replay(creeping(0.0, 0.3, hours=200)))  # noise only: no creep velocity to compare with
    assert sum(s.tangent_stage == fc.UNDEFINED for s in still) > 0.9 * len(still)


def test_tangent_angle_uses_no_later_readings():
    series = accelerating(4, days=10)
    full = list(fc.replay(series))
    for cut in (30, 100, 180, len(series) - 5):
        prefix = list(fc.replay(series[:cut]))
        got = [(s.tangent_angle_deg, s.tangent_stage, s.reference_velocity_mm_per_day) for s in prefix]
        want = [(s.tangent_angle_deg, s.tangent_stage, s.reference_velocity_mm_per_day) for s in full[:cut]]
        assert np.allclose([g[0] for g in got], [w[0] for w in want], equal_nan=True)
        assert [g[1] for g in got] == [w[1] for w in want]
        assert np.allclose([g[2] for g in got], [w[2] for w in want], equal_nan=True)


def test_tangent_stage_thresholds_come_from_the_config():
    config = fc.Config()
    assert [fc.tangent_stage(a, config) for a in (30.0, 45.0, 45.5, 79.9, 80.0, 84.9, 85.0, 89.0)] == [
        "none", "none", "initial", "initial", "medium", "medium", "imminent", "imminent"]
    assert fc.tangent_stage(math.nan) == fc.UNDEFINED
    assert fc.tangent_stage(88.0, significant=False) == fc.NO_ACCELERATION
    stricter = fc.Config(tangent_initial_deg=50, tangent_medium_deg=70, tangent_imminent_deg=75)
    assert [fc.tangent_stage(a, stricter) for a in (48.0, 60.0, 72.0, 76.0)] == [
        "none", "initial", "medium", "imminent"]


def test_the_forecasts_are_unchanged_by_the_tangent_angle():
    # the angle is reported beside the forecast: switching its noise test off changes no forecast
    series = accelerating(2)
    plain = [(s.standing, s.event) for s in fc.replay(series)]
    other = [(s.standing, s.event) for s in fc.replay(series, fc.Config(tangent_sigmas=0.0, tangent_span_h=6))]
    assert plain == other


# Chart geometry ----------------------------------------------------------------------------------------------
def when(seconds):
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def test_inverse_velocity_chart_reaches_the_failure_time_with_the_fitted_line():
    since, now, failure = when(TF - 5 * D), when(TF - D), when(TF)
    points = [(when(TF - (5 - k / 10) * D), 0.02 * (5 - k / 10)) for k in range(40)] + [(when(TF - 4.9 * D), 50.0)]
    chart = charts.inverse_velocity_chart(points, since, now, fit=((when(TF - 4 * D), 0.08), (failure, 0.0)),
                                          failure=failure, band=(when(TF - 0.5 * D), when(TF + 0.5 * D)))
    marks = {m.kind: m for m in chart.markers}
    end = chart.fit_line.split()[-1].split(",")
    assert float(end[0]) == marks["failure"].x and float(end[1]) == chart.plot_bottom  # zero at the failure
    assert chart.left < marks["now"].x < marks["failure"].x <= chart.plot_right
    assert chart.until >= failure and chart.x_band[0] < marks["failure"].x < chart.x_band[0] + chart.x_band[1]
    assert chart.clipped == 1 and min(y for _x, y in chart.dots) == chart.top  # the outlier sits on the top edge
    assert float(chart.y_ticks[0].label) == 0 and chart.y_ticks[0].pos == chart.plot_bottom
    assert len(chart.dots) == 41 and chart.x_ticks


def test_history_chart_draws_one_line_and_band_per_run_of_a_standing_forecast():
    since, now = when(TF - 3 * D), when(TF)
    first = [(when(TF - (60 - k) * H), 40.0 - k, 30.0 - k, 50.0 - k, 0) for k in range(10)]
    second = [(when(TF - (30 - k) * H), 20.0 - k, 15.0 - k, 26.0 - k, 1) for k in range(10)]
    chart = charts.forecast_history_chart(first + second, since, now, withdrawals=[when(TF - 45 * H)])
    assert len(chart.lines) == 2 and len(chart.areas) == 2
    assert [len(area.split()) for area in chart.areas] == [20, 20]
    assert [m.kind for m in chart.markers] == ["withdrawn"]
    assert chart.y_ticks[0].label == "0" and float(chart.y_ticks[-1].label) >= 50
    ys = [float(p.split(",")[1]) for p in chart.lines[0].split()]
    assert ys == sorted(ys)  # fewer hours left: drawn lower


def test_long_series_are_thinned_evenly_keeping_the_ends_of_each_run():
    since, now = when(TF - 8 * D), when(TF)
    points = [(when(TF - 7 * D + k * 60), 0.1) for k in range(7 * 1440)]  # a week of one-minute velocities
    chart = charts.inverse_velocity_chart(points, since, now, max_points=600)
    assert chart.thinned_from == len(points) and 500 <= chart.points <= 601 and len(chart.dots) == chart.points
    history = [(when(TF - 3 * D + k * 60), 50.0, 40.0, 60.0, 0 if k < 1000 else 1) for k in range(3000)]
    hist = charts.forecast_history_chart(history, since, now, max_points=300)
    assert hist.thinned_from == 3000 and hist.points <= 305 and len(hist.lines) == 2
    run_starts = [line.split()[0] for line in hist.lines]
    assert run_starts[1].split(",")[0] == str(round(hist.left + (hist.plot_right - hist.left)
                                                  * (5 * D + 1000 * 60) / (8 * D), 1))  # run 1 starts at its row


# The panel and the page -------------------------------------------------------------------------------------
@pytest.fixture
def slope(personas, monitored):
    """A GNSS surface-displacement point at mine A (county A), on mine A's gateway."""
    ingest.invalidate()
    sensor = services.create_sensor(personas.city, personas.mine_a, code="GNSS-01", name="边坡 GNSS 1",
                                    kind="surface_displacement", gateway=monitored.gateway, interval_s=3600)
    yield sensor
    ingest.invalidate()


def send(token, code, series):
    rows = [{"sensor": code, "ts": t, "value": round(x, 3)} for t, x in series]
    message = ingest.decode("http", json.dumps({"readings": rows}), token=token)
    assert not message.errors and not message.parsed.errors
    ingest.commit([message], quarantine=False)


def failing(now, hours_left=20.0, seed=3, step=H):
    """Ten days of readings every `step` seconds of a slope accelerating to fail `hours_left` after `now`."""
    failure = now.timestamp() + hours_left * H
    series = fc.voight_series(failure, 2.0, 50.0, failure - 10 * D, step, 0.3, creep=0.5,
                              rng=np.random.default_rng(seed))
    return failure, [(t, x) for t, x in series if t <= now.timestamp()]


@pytest.mark.django_db
def test_panel_shows_the_standing_forecast_its_band_history_and_tangent_angle(slope, monitored):
    now = timezone.now()
    failure, series = failing(now, step=600)  # ten-minute GNSS solutions
    send(monitored.token, "GNSS-01", series)
    panel = fv.sensor_forecast(slope, now)
    assert panel is not None and panel.reason == ""
    assert panel.bucket_s == 3600 and 7 * 24 <= panel.readings <= 7 * 24 + 1  # hourly means of the catalogue's week
    f = panel.standing
    assert f is not None and f.within_horizon
    assert abs(f.failure_at.timestamp() - failure) < 8 * H
    assert f.band_from <= f.failure_at <= f.band_to and f.band_hours[0] <= f.hours_to_failure <= f.band_hours[1]
    assert 0.8 <= f.fit_quality <= 1 and f.iso["failure_at"].endswith("Z")
    # the same forecast the periodic job alarms on
    services.run_forecasts(now=now)
    alarm = Alarm.objects.get(sensor=slope, source=Alarm.Source.FORECAST, closed_at__isnull=True)
    assert alarm.value == pytest.approx(f.hours_to_failure, abs=0.06)
    # the line of the standing forecast reaches zero at its failure time
    (start, y0), (end, y1) = panel.fit_line
    assert end == f.failure_at and y1 == 0 and y0 > 0 and start < f.issued_at
    assert len(panel.inverse_points) > 100 and all(v > 0 for _t, v in panel.inverse_points)
    assert panel.history[-1].at == panel.last_at >= f.issued_at  # the forecast stands at the newest reading
    assert all(h.low_hours <= h.hours <= h.high_hours for h in panel.history)
    assert panel.history[-1].hours < panel.history[0].hours  # the forecast failure nears as readings come
    assert panel.velocity_mm_per_day > panel.velocity_alarm_mm_per_day and panel.velocity_alarm
    # v0 is the creep of the window's first day, which is already accelerating: about 80° here, not more
    assert panel.tangent_angle_deg > 70 and panel.tangent_stage in (fc.INITIAL, fc.MEDIUM, fc.IMMINENT)
    assert panel.inverse_chart.fit_line and panel.history_chart.areas


@pytest.mark.django_db
def test_steady_creep_shows_points_but_no_forecast(client, personas, slope, monitored):
    now = timezone.now().timestamp()
    rng = np.random.default_rng(11)
    send(monitored.token, "GNSS-01", [(now - (150 - i) * H, 2.0 * i / 24 + rng.normal(0, 0.3)) for i in range(150)])
    panel = fv.sensor_forecast(slope)
    assert panel.standing is None and panel.fit_line is None and panel.history == [] and panel.history_chart is None
    assert panel.inverse_points and panel.inverse_chart.fit_line == "" and panel.tangent_stage == fc.NO_ACCELERATION
    assert 30 < panel.tangent_angle_deg < 60 and panel.reference_velocity_mm_per_day == pytest.approx(2.0, rel=0.1)
    client.force_login(personas.ent_a)
    html = client.get(f"/monitoring/sensors/{slope.pk}/").content.decode()
    section = html[html.index('id="forecast"'):html.index('id="rules"')]
    assert 'class="inverse-velocity"' in section and 'class="fit"' not in section
    assert 'class="forecast-history"' not in section and 'data-stage="none"' in section


@pytest.mark.django_db
def test_a_withdrawn_forecast_breaks_the_history(slope, monitored):
    now = timezone.now()
    _failure, series = failing(now, hours_left=10.0, seed=7)
    series = series[:-30]  # the acceleration stops 30 h before now (40 h before failure), then slows
    t_last, x_last = series[-1]
    v = (series[-1][1] - series[-25][1]) / (series[-1][0] - series[-25][0])
    rng = np.random.default_rng(8)
    for k in range(1, 30):
        v *= 0.9
        x_last += v * H
        series.append((t_last + k * H, x_last + rng.normal(0, 0.3)))
    send(monitored.token, "GNSS-01", series)
    panel = fv.sensor_forecast(slope, now)
    assert panel.withdrawals and panel.withdrawals[-1].at.timestamp() > t_last
    assert panel.withdrawals[-1].reason in fv.WITHDRAWAL_REASONS
    assert panel.standing is None and panel.fit_line is None
    assert panel.history and all(h.at.timestamp() <= panel.withdrawals[-1].at.timestamp() for h in panel.history)
    assert [m.kind for m in panel.history_chart.markers] == ["withdrawn"] * len(panel.withdrawals)


@pytest.mark.django_db
def test_a_series_too_short_says_why_and_forecasts_nothing(client, personas, slope, monitored):
    now = timezone.now()
    send(monitored.token, "GNSS-01", [(now.timestamp() - k * H, 10.0 + k) for k in range(3)])
    panel = fv.sensor_forecast(slope, now)
    assert panel.readings == 3 and panel.too_short and "series too short" in panel.reason
    assert panel.standing is None and panel.inverse_chart is None and panel.history == []
    client.force_login(personas.ent_a)
    html = client.get(f"/monitoring/sensors/{slope.pk}/").content.decode()
    assert 'id="forecast"' in html and "series too short: 3 readings, at least 8 needed" in html
    assert 'class="inverse-velocity"' not in html


@pytest.mark.django_db
def test_sensor_page_shows_the_forecast_section_for_displacement_only(client, personas, slope, monitored):
    now = timezone.now()
    _failure, series = failing(now)
    send(monitored.token, "GNSS-01", series)
    client.force_login(personas.ent_a)
    response = client.get(f"/monitoring/sensors/{slope.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and response.context["forecast"].standing is not None
    section = html[html.index('id="forecast"'):html.index('id="rules"')]
    assert 'class="inverse-velocity"' in section and '<polyline class="fit"' in section
    assert 'class="forecast-history"' in section and '<polygon class="band"' in section
    assert 'data-marker="failure"' in section and "°" in section
    assert f'data-stage="{response.context["forecast"].tangent_stage}"' in section
    assert response.context["forecast"].standing.iso["failure_at"] in section
    co = client.get(f"/monitoring/sensors/{monitored.co.pk}/")
    assert co.status_code == 200 and co.context["forecast"] is None and 'id="forecast"' not in co.content.decode()


@pytest.mark.django_db
def test_another_countys_users_cannot_see_the_sensor_or_its_forecast(client, personas, slope, monitored):
    _failure, series = failing(timezone.now())
    send(monitored.token, "GNSS-01", series)
    for user in (personas.county_b, personas.ent_b):
        client.force_login(user)
        assert client.get(f"/monitoring/sensors/{slope.pk}/").status_code == 404
    client.force_login(personas.county_a)
    assert client.get(f"/monitoring/sensors/{slope.pk}/").status_code == 200

