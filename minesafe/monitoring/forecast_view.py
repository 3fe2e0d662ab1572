"""The failure-time forecast of one displacement sensor, as its page shows it: the same replay as
`services.run_forecasts` (the series of `services.forecast_series` over the catalogue's lookback window up to now:
readings averaged per `bucket_s`), read back as a panel — the standing
forecast with its band and fit, the improved tangent angle and its stage, the velocity against the velocity
alarm, the inverse-velocity points with the fitted line, and the forecast history. Read-only: nothing here
raises or clears alarms."""

import datetime as dt
import math
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import charts, services
from . import forecast as fc
from .models import Sensor

HOUR = 3600.0

STAGE_LABELS = {
    fc.UNDEFINED: _("undefined (no measurable creep to compare with yet)"),
    fc.NO_ACCELERATION: _("no acceleration"),
    fc.INITIAL: _("initial acceleration"),
    fc.MEDIUM: _("medium acceleration"),
    fc.IMMINENT: _("imminent sliding"),
}
# The forecaster's withdrawal reasons (plain English in the pure module), as people read them.
WITHDRAWAL_REASONS = {
    "velocity decreasing": _("velocity decreasing"),
    "inverse-velocity slope no longer negative": _("inverse-velocity slope no longer negative"),
    "forecast failure time passed": _("forecast failure time passed"),
}


@dataclass(frozen=True)
class StandingForecast:
    issued_at: dt.datetime
    failure_at: dt.datetime
    band_from: dt.datetime
    band_to: dt.datetime
    iso: dict  # the forecast as published (fc.as_json): ISO 8601 UTC times, fit quality, velocity
    hours_to_failure: float  # from `now` (negative once the time has passed with no newer reading)
    band_hours: tuple[float, float]  # band from and to, hours from `now`
    fit_quality: float  # R² of the inverse-velocity fit
    within_horizon: bool  # the failure falls within the alarm horizon from now (what run_forecasts alarms on)


@dataclass(frozen=True)
class HistoryPoint:
    at: dt.datetime  # the reading a forecast stood at
    hours: float  # hours from that reading to the forecast failure
    low_hours: float
    high_hours: float
    run: int  # readings a forecast stood through without a break share a run


@dataclass(frozen=True)
class WithdrawalPoint:
    at: dt.datetime
    reason: str  # as published by the forecaster
    label: str  # as people read it, in the active language


@dataclass(frozen=True)
class ForecastPanel:
    since: dt.datetime
    now: dt.datetime
    lookback_days: float
    horizon_h: float
    readings: int  # points replayed: the lookback window's readings averaged per `bucket_s`
    bucket_s: int
    min_points: int
    reason: str = ""  # why the series cannot be forecast (the SeriesError message); "" when it was replayed
    last_at: dt.datetime | None = None  # the newest reading the panel is as of
    standing: StandingForecast | None = None
    velocity_mm_per_day: float | None = None  # short-smoothed, at the newest reading
    velocity_alarm_mm_per_day: float = fc.Config.velocity_alarm_mm_per_day
    velocity_alarm: bool = False
    accelerating: bool = False
    tangent_angle_deg: float | None = None
    tangent_stage: str = fc.UNDEFINED
    reference_velocity_mm_per_day: float | None = None
    tangent_thresholds: tuple[float, float, float] = (fc.Config.tangent_initial_deg, fc.Config.tangent_medium_deg,
                                                      fc.Config.tangent_imminent_deg)
    inverse_points: list[tuple[dt.datetime, float]] = field(default_factory=list)  # (time, 1/v short) in day/mm
    fit_line: tuple[tuple[dt.datetime, float], tuple[dt.datetime, float]] | None = None  # start → zero crossing
    history: list[HistoryPoint] = field(default_factory=list)
    withdrawals: list[WithdrawalPoint] = field(default_factory=list)
    inverse_chart: charts.ForecastChart | None = None
    history_chart: charts.ForecastChart | None = None

    @property
    def too_short(self) -> bool:
        return bool(self.reason) and self.readings < self.min_points

    @property
    def tangent_stage_label(self) -> str:
        return STAGE_LABELS[self.tangent_stage]


def forecast_kind(sensor: Sensor) -> bool:
    return sensor.kind in services.catalogue()["forecast"]["kinds"]


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sensor_forecast(sensor: Sensor, now: dt.datetime | None = None,
                    config: fc.Config | None = None) -> ForecastPanel | None:
    """The forecast panel of `sensor` as of `now`, or None when its kind is not forecast (the catalogue's
    `forecast: kinds`). A series that cannot be forecast gives a panel with `reason` and nothing forecast."""
    if not forecast_kind(sensor):
        return None
    now = now or timezone.now()
    config = config or fc.Config()  # the forecaster's defaults, as run_forecasts uses them
    catalogue = services.catalogue()["forecast"]
    since = now - dt.timedelta(days=catalogue["lookback_days"])
    horizon_h = float(catalogue["horizon_h"])
    series = services.forecast_series(sensor, since, now, catalogue)  # what run_forecasts replays
    base = {"since": since, "now": now, "lookback_days": catalogue["lookback_days"], "horizon_h": horizon_h,
            "readings": len(series), "bucket_s": int(catalogue.get("bucket_s", 3600)), "min_points": config.min_points,
            "velocity_alarm_mm_per_day": config.velocity_alarm_mm_per_day,
            "tangent_thresholds": (config.tangent_initial_deg, config.tangent_medium_deg,
                                   config.tangent_imminent_deg)}
    try:
        times, values = fc.validate(series, config.min_points)
        states = list(fc.replay(series, config))
    except fc.SeriesError as error:
        return ForecastPanel(**base, reason=str(error), last_at=_at(series[-1][0]) if series else None)
    last = states[-1]
    vel = fc.velocities(times, values, config)
    inverse_points = [(_at(t), 1.0 / v) for t, v in zip(vel["short_t"], vel["short"], strict=True)
                      if math.isfinite(v) and v > 0]
    standing, fit_line = None, None
    if last.standing is not None:
        s = last.standing
        hours = (s.failure_at - now.timestamp()) / HOUR
        standing = StandingForecast(
            issued_at=_at(s.issued_at), failure_at=_at(s.failure_at), band_from=_at(s.band_from),
            band_to=_at(s.band_to), iso=fc.as_json(s), hours_to_failure=hours,
            band_hours=((s.band_from - now.timestamp()) / HOUR, (s.band_to - now.timestamp()) / HOUR),
            fit_quality=s.fit_quality, within_horizon=0 <= hours <= horizon_h)
        # the line the standing forecast came from: the fit at the reading that issued it
        fit = next((st.fit for st in reversed(states) if st.time == s.issued_at), None)
        if fit is not None and math.isfinite(fit.start_at):
            fit_line = ((_at(fit.start_at), fit.slope * (fit.start_at - fit.intercept_at) / fc.DAY),
                        (_at(fit.intercept_at), 0.0))
    history, withdrawals, run, previous = [], [], 0, None
    for st in states:
        if isinstance(st.event, fc.Withdrawal):
            withdrawals.append(WithdrawalPoint(_at(st.time), st.event.reason,
                                               str(WITHDRAWAL_REASONS.get(st.event.reason, st.event.reason))))
        if st.standing is None:
            if previous is not None:
                run += 1
        else:
            s = st.standing
            history.append(HistoryPoint(at=_at(st.time), hours=(s.failure_at - st.time) / HOUR,
                                        low_hours=(s.band_from - st.time) / HOUR,
                                        high_hours=(s.band_to - st.time) / HOUR, run=run))
        previous = st.standing
    panel_since = _at(float(times[0]))
    inverse_chart = charts.inverse_velocity_chart(
        inverse_points, panel_since, now, fit=fit_line, failure=standing.failure_at if standing else None,
        band=(standing.band_from, standing.band_to) if standing else None)
    history_chart = None
    if history or withdrawals:
        # the history chart starts shortly before the first forecast (the window before it has nothing to draw)
        first = min([h.at for h in history] + [w.at for w in withdrawals])
        history_since = max(panel_since, first - (now - first) * 0.05 - dt.timedelta(hours=1))
        history_chart = charts.forecast_history_chart(
            [(h.at, h.hours, h.low_hours, h.high_hours, h.run) for h in history], history_since, now,
            withdrawals=[w.at for w in withdrawals])
    return ForecastPanel(
        **base, last_at=_at(last.time), standing=standing, velocity_mm_per_day=_finite(last.velocity_mm_per_day),
        velocity_alarm=last.velocity_alarm, accelerating=last.accelerating,
        tangent_angle_deg=_finite(last.tangent_angle_deg), tangent_stage=last.tangent_stage,
        reference_velocity_mm_per_day=_finite(last.reference_velocity_mm_per_day), inverse_points=inverse_points,
        fit_line=fit_line, history=history, withdrawals=withdrawals, inverse_chart=inverse_chart,
        history_chart=history_chart)
