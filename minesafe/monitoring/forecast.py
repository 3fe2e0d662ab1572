"""Failure-time forecasting on displacement series (inverse-velocity method, Fukuzono 1985), as plain functions.

A series is a sequence of (epoch seconds, cumulative displacement mm), the displacement growing in the direction of
movement. At every reading (`replay`) the forecaster uses only the readings so far:

1. Velocity (mm/day): least-squares slope of displacement over the last `velocity_points` readings, so gaps are
   handled with the real time steps. Each velocity is dated at the mean time of its readings (a least-squares slope
   estimates the velocity at the centre of its window), which removes most of the lag of the estimate.
2. Smoothing: short and long moving averages of those velocities (dated at the mean of their dates too).
3. Onset of acceleration: the accelerating segment starts at the lowest long-smoothed velocity of the last
   `max_fit_points` readings; the series is accelerating when the long-smoothed velocity rose over the last
   `trend_points` readings, is at least `accel_ratio` times the onset velocity and at least `min_velocity`.
4. Inverse velocity: on the accelerating segment only, a least-squares line of 1/v against t for both smoothings;
   the failure time is where the line reaches 0 (the short smoothing gives the published time). The line is then
   refitted over the last `fit_span_factor` × (time to failure) of the segment only (at least `min_fit_points`
   readings): the power law is scale-free, so the window follows the time scale of the collapse rather than the
   sampling, and curvature of 1/v (exponents other than 2) biases the fit less. The band is the
   span of the two smoothings' failure times widened by `band_sigmas` standard errors of the line's zero
   crossing (delta method from the residual standard error); the fit quality is the R² of the published fit.
5. A forecast is published only when the trend is clear: accelerating, at least `min_fit_points` readings in the
   segment, a negative 1/v slope, R² ≥ `min_r2`, failure after the reading and within `max_lead_days`. While a
   forecast stands, a refit that qualifies replaces it. It is withdrawn when the movement decelerates (the
   long-smoothed velocity fell by more than `decel_tolerance` over the last `trend_points` readings, or the 1/v
   slope is no longer negative), or when the whole band has passed without the series ending.

The velocity-threshold check (short-smoothed velocity ≥ `velocity_alarm_mm_per_day`) is reported per reading beside
the forecast, and so is the improved tangent angle (改进切线角, Xu Qiang et al. 2008, `tangent_angles`): with v0 the
mean velocity of the constant-velocity (creep) stage, the displacement is normalised to a time scale, T = S / v0, and
the angle of the T–t curve is α = arctan(dT/dt) = arctan(v / v0): 45° while the slope creeps steadily, rising
towards 90° as it accelerates. Nothing here imports Django.
"""

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

DAY = 86400.0


class SeriesError(ValueError):
    """The series cannot be forecast (too short, unsorted, duplicate times, non-finite values). `index` is the
    first offending reading (0-based), or None when the problem is the series as a whole."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Config:
    min_points: int = 8
    velocity_points: int = 5
    short_points: int = 3
    long_points: int = 9
    trend_points: int = 3
    min_velocity: float = 1.0  # mm/day, below this no acceleration is considered
    accel_ratio: float = 2.0  # current / onset long-smoothed velocity
    min_fit_points: int = 8
    max_fit_points: int = 200
    fit_span_factor: float = 2.0  # >0: refit over the last factor × (time to failure) only (scale-free)
    min_r2: float = 0.8
    max_lead_days: float = 30.0
    decel_tolerance: float = 0.1
    band_sigmas: float = 2.0
    velocity_alarm_mm_per_day: float = 10.0  # open-pit slope reference value (monitoring defaults)
    # Improved tangent angle: stage thresholds after Xu Qiang et al. (2008); the other settings are project
    # defaults. All unverified against local slopes.
    tangent_ref_h: float = 24.0  # the reference (creep) stage spans at least the first this many hours
    tangent_span_h: float = 24.0  # current velocity: least-squares slope over the last this many hours
    tangent_sigmas: float = 3.0  # a stage above "none" needs v − v0 above this many standard errors (0: off)
    tangent_initial_deg: float = 45.0  # above: initial acceleration (初加速)
    tangent_medium_deg: float = 80.0  # at or above: medium acceleration (中加速)
    tangent_imminent_deg: float = 85.0  # at or above: imminent sliding (临滑, 加加速)


@dataclass(frozen=True)
class Fit:
    slope: float  # d(1/v)/dt, day/mm per day
    intercept_at: float  # epoch seconds where the line reaches zero
    r2: float
    zero_se_s: float  # standard error of the zero crossing, seconds
    points: int
    start_at: float = math.nan  # epoch seconds of the first velocity the line was fitted to


@dataclass(frozen=True)
class Forecast:
    issued_at: float
    failure_at: float
    band_from: float
    band_to: float
    fit_quality: float
    velocity_mm_per_day: float


@dataclass(frozen=True)
class Withdrawal:
    withdrawn_at: float
    reason: str


@dataclass(frozen=True)
class ReadingState:
    """The forecaster's view after one reading."""

    index: int
    time: float
    displacement: float
    velocity_mm_per_day: float  # short-smoothed (nan until enough readings)
    velocity_long_mm_per_day: float
    velocity_alarm: bool
    accelerating: bool
    fit: Fit | None
    standing: Forecast | None  # the forecast standing after this reading
    event: Forecast | Withdrawal | None = field(default=None)  # what was published at this reading
    tangent_angle_deg: float = math.nan  # improved tangent angle (nan while undefined, see `tangent_angles`)
    tangent_stage: str = "undefined"  # one of TANGENT_STAGES
    reference_velocity_mm_per_day: float = math.nan  # v0, the creep-stage velocity the angle is measured against


def validate(series: Iterable[tuple[float, float]], min_points: int = Config.min_points) -> tuple[np.ndarray, ...]:
    """Return (times, displacements) as float arrays, or raise SeriesError naming the first bad reading."""
    rows = list(series)
    times = np.empty(len(rows))
    values = np.empty(len(rows))
    for i, row in enumerate(rows):
        try:
            t, x = float(row[0]), float(row[1])
        except (TypeError, ValueError, IndexError):
            raise SeriesError(f"reading {i}: not a (time, displacement) pair of numbers", i) from None
        if not math.isfinite(t):
            raise SeriesError(f"reading {i}: time is not a finite number", i)
        if not math.isfinite(x):
            raise SeriesError(f"reading {i}: displacement is not a finite number", i)
        if i:
            dt = t - times[i - 1]
            if dt == 0:
                raise SeriesError(f"reading {i}: duplicate timestamp (same time as reading {i - 1})", i)
            if dt < 0:
                raise SeriesError(f"reading {i}: timestamps not sorted (negative interval of {dt:g} s after "
                                  f"reading {i - 1})", i)
        times[i], values[i] = t, x
    if len(rows) < min_points:
        raise SeriesError(f"series too short: {len(rows)} readings, at least {min_points} needed")
    return times, values


def _rolling_slope(t: np.ndarray, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope of x over t in each window of k readings ending at i, and the window's mean time.
    NaN for the first k-1 readings."""
    n = len(t)
    slope = np.full(n, np.nan)
    centre = np.full(n, np.nan)
    if n < k:
        return slope, centre
    windows_t = np.lib.stride_tricks.sliding_window_view(t, k)
    windows_x = np.lib.stride_tricks.sliding_window_view(x, k)
    mt = windows_t.mean(axis=1, keepdims=True)
    mx = windows_x.mean(axis=1, keepdims=True)
    dt = windows_t - mt
    slope[k - 1:] = (dt * (windows_x - mx)).sum(axis=1) / (dt * dt).sum(axis=1)
    centre[k - 1:] = mt[:, 0]
    return slope, centre


def _rolling_mean(v: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last k values ending at i (NaN while any of them is NaN)."""
    out = np.full(len(v), np.nan)
    if len(v) >= k:
        out[k - 1:] = np.lib.stride_tricks.sliding_window_view(v, k).mean(axis=1)
    return out


def velocities(times: np.ndarray, values: np.ndarray, config: Config = Config()) -> dict[str, np.ndarray]:
    """Causal velocity estimates (mm/day) and their dates (epoch seconds) at every reading."""
    raw, centre = _rolling_slope(times, values, config.velocity_points)
    raw = raw * DAY
    return {
        "raw": raw, "raw_t": centre,
        "short": _rolling_mean(raw, config.short_points), "short_t": _rolling_mean(centre, config.short_points),
        "long": _rolling_mean(raw, config.long_points), "long_t": _rolling_mean(centre, config.long_points),
    }


def fit_inverse_velocity(t: np.ndarray, v: np.ndarray) -> Fit | None:
    """Least-squares line of 1/v (day/mm) against t; None when fewer than 3 positive velocities."""
    keep = np.isfinite(v) & (v > 0) & np.isfinite(t)
    if keep.sum() < 3:
        return None
    t0 = t[keep][0]
    td = (t[keep] - t0) / DAY
    y = 1.0 / v[keep]
    n = len(td)
    tm, ym = td.mean(), y.mean()
    sxx = ((td - tm) ** 2).sum()
    if sxx <= 0:
        return None
    b = ((td - tm) * (y - ym)).sum() / sxx
    a = ym - b * tm
    resid = y - (a + b * td)
    sst = ((y - ym) ** 2).sum()
    r2 = 1.0 - (resid ** 2).sum() / sst if sst > 0 else 0.0
    if b == 0:
        return Fit(slope=0.0, intercept_at=math.inf, r2=r2, zero_se_s=math.inf, points=n, start_at=float(t0))
    zero = -a / b
    s = math.sqrt((resid ** 2).sum() / (n - 2)) if n > 2 else 0.0
    se = (s / abs(b)) * math.sqrt(1.0 / n + (zero - tm) ** 2 / sxx)
    return Fit(slope=b, intercept_at=t0 + zero * DAY, r2=r2, zero_se_s=se * DAY, points=n, start_at=float(t0))


UNDEFINED, NO_ACCELERATION, INITIAL, MEDIUM, IMMINENT = "undefined", "none", "initial", "medium", "imminent"
TANGENT_STAGES = (UNDEFINED, NO_ACCELERATION, INITIAL, MEDIUM, IMMINENT)


class _SegmentFits:
    """Least-squares slopes (mm/day) and their standard errors over runs of readings, from prefix sums (times in
    days and displacements shifted to the first reading, which keeps the sums' rounding far below the noise)."""

    def __init__(self, times: np.ndarray, values: np.ndarray):
        td, xd = (times - times[0]) / DAY, values - values[0]

        def prefix(a):
            return np.concatenate(([0.0], np.cumsum(a)))

        self.n, self.t, self.x = prefix(np.ones_like(td)), prefix(td), prefix(xd)
        self.tt, self.tx, self.xx = prefix(td * td), prefix(td * xd), prefix(xd * xd)

    def slope(self, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slope, standard error) over readings first[j]..last[j] inclusive; nan where fewer than 3 readings."""
        a, b = first, last + 1
        n = self.n[b] - self.n[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            st, sx = self.t[b] - self.t[a], self.x[b] - self.x[a]
            stt = self.tt[b] - self.tt[a] - st * st / n
            stx = self.tx[b] - self.tx[a] - st * sx / n
            sxx = self.xx[b] - self.xx[a] - sx * sx / n
            ok = (n >= 3) & (stt > 0)
            slope = np.where(ok, stx / stt, np.nan)
            residual = np.maximum(sxx - slope * stx, 0.0)
            se = np.where(ok, np.sqrt(residual / (n - 2) / stt), np.nan)
        return slope, se


def tangent_stage(angle_deg: float, config: Config = Config(), significant: bool = True) -> str:
    """The deformation stage an improved tangent angle reads as (one of TANGENT_STAGES); `significant` says whether
    the velocity rose above the reference by more than its noise (an angle within the noise reads as "none")."""
    if not math.isfinite(angle_deg):
        return UNDEFINED
    if not significant or angle_deg <= config.tangent_initial_deg:
        return NO_ACCELERATION
    if angle_deg < config.tangent_medium_deg:
        return INITIAL
    return MEDIUM if angle_deg < config.tangent_imminent_deg else IMMINENT


def tangent_angles(times: np.ndarray, values: np.ndarray, config: Config = Config(),
                   long: np.ndarray | None = None, long_t: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The improved tangent angle at every reading, from the readings up to it only.

    - v0, the reference velocity: least-squares slope of displacement over the creep stage. The onset of
      acceleration is the lowest long-smoothed velocity of the last `max_fit_points` readings (as in `replay`); once
      that is positive and the velocity has risen to `accel_ratio` times it, the creep stage runs from the first
      reading to the date of that lowest velocity, and at least over the first `tangent_ref_h` hours; until then
      all readings so far are the creep stage. Undefined until `tangent_ref_h` hours have passed, and when the
      creep stage shows no measurable forward movement (v0 not positive, or not above `tangent_sigmas` standard
      errors): the angle is then meaningless.
    - v: least-squares slope over the last `tangent_span_h` hours (at least `velocity_points` readings), longer than
      the forecaster's velocity because v/v0 amplifies noise.
    - α = arctan(v / v0) in degrees (negative when the displacement recedes); the stage counts acceleration only when
      v − v0 exceeds `tangent_sigmas` combined standard errors.
    Returns arrays "angle_deg", "v", "v0" (mm/day) and "significant" (bool), and the list "stage"."""
    n = len(times)
    if long is None or long_t is None:
        vel = velocities(times, values, config)
        long, long_t = vel["long"], vel["long_t"]
    angle, v, v0 = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    significant = np.zeros(n, dtype=bool)
    if n == 0:
        return {"angle_deg": angle, "v": v, "v0": v0, "significant": significant, "stage": []}
    index = np.arange(n)
    # the onset of acceleration seen at reading i: the lowest long-smoothed velocity of the last max_fit_points
    k = config.max_fit_points
    filled = np.concatenate((np.full(k - 1, np.inf), np.where(np.isfinite(long), long, np.inf)))
    onset = index - (k - 1) + np.lib.stride_tricks.sliding_window_view(filled, k).argmin(axis=1)
    onset_v = filled[onset + k - 1]
    with np.errstate(invalid="ignore"):
        risen = np.isfinite(onset_v) & (onset_v > 0) & (long >= config.accel_ratio * onset_v)
    onset_end = np.searchsorted(times, long_t[np.where(risen, onset, 0)], side="right") - 1
    ref_end = int(np.searchsorted(times, times[0] + config.tangent_ref_h * 3600.0))
    end = np.where(risen, np.maximum(onset_end, ref_end), index)
    first = np.minimum(np.searchsorted(times, times - config.tangent_span_h * 3600.0),
                       index - config.velocity_points + 1)
    usable = (index >= ref_end) & (first >= 0)
    fits = _SegmentFits(times, values)
    ref, ref_se = fits.slope(np.zeros(n, dtype=int), np.minimum(end, index))
    now, now_se = fits.slope(np.maximum(first, 0), index)
    with np.errstate(invalid="ignore"):
        defined = usable & np.isfinite(ref) & np.isfinite(now) & (ref > 0) & (ref > config.tangent_sigmas * ref_se)
    v[defined], v0[defined] = now[defined], ref[defined]
    angle[defined] = np.degrees(np.arctan(now[defined] / ref[defined]))
    # the relative margin keeps an exactly steady series (zero residuals) out of "initial" by rounding alone
    margin = np.maximum(config.tangent_sigmas * np.hypot(now_se, ref_se), 1e-9 * ref)
    significant[defined] = (now - ref)[defined] > margin[defined]
    stage = [tangent_stage(float(a), config, bool(s)) for a, s in zip(angle, significant, strict=True)]
    return {"angle_deg": angle, "v": v, "v0": v0, "significant": significant, "stage": stage}


def replay(series: Iterable[tuple[float, float]], config: Config = Config()) -> Iterator[ReadingState]:
    """Validate the whole series (SeriesError before anything is yielded), then yield the forecaster's state
    after each reading, using only the readings up to it."""
    times, values = validate(series, config.min_points)
    vel = velocities(times, values, config)
    short, long_, short_t, long_t = vel["short"], vel["long"], vel["short_t"], vel["long_t"]
    tangent = tangent_angles(times, values, config, long_, long_t)
    standing: Forecast | None = None
    for i in range(len(times)):
        now = float(times[i])
        vs, vl = float(short[i]), float(long_[i])
        alarm = bool(math.isfinite(vs) and vs >= config.velocity_alarm_mm_per_day)
        accelerating, fit, candidate, decelerating = False, None, None, False
        reason = ""
        if math.isfinite(vl) and i >= config.trend_points and math.isfinite(long_[i - config.trend_points]):
            lo = max(0, i - config.max_fit_points + 1)
            window = long_[lo:i + 1]
            onset = lo + int(np.nanargmin(window))
            before = float(long_[i - config.trend_points])
            accelerating = (vl > before and vl >= config.min_velocity
                            and vl >= config.accel_ratio * max(float(long_[onset]), 1e-9))
            decelerating = vl < (1.0 - config.decel_tolerance) * before
            if decelerating:
                reason = "velocity decreasing"
            if i - onset + 1 >= config.min_fit_points:
                fit = fit_inverse_velocity(short_t[onset:i + 1], short[onset:i + 1])
                if config.fit_span_factor > 0 and fit is not None and fit.slope < 0 and fit.intercept_at > now:
                    since = now - config.fit_span_factor * (fit.intercept_at - now)
                    recent = onset + int(np.searchsorted(short_t[onset:i + 1], since))
                    start = min(i + 1 - config.min_fit_points, recent)
                    if start > onset:
                        onset = start
                        fit = fit_inverse_velocity(short_t[onset:i + 1], short[onset:i + 1])
                if standing is not None and fit is not None and fit.slope >= 0 and not decelerating:
                    decelerating, reason = True, "inverse-velocity slope no longer negative"
            if accelerating and fit is not None:
                fit_long = fit_inverse_velocity(long_t[onset:i + 1], long_[onset:i + 1])
                if (fit.slope < 0 and fit.r2 >= config.min_r2 and now < fit.intercept_at
                        <= now + config.max_lead_days * DAY):
                    candidates = [fit.intercept_at]
                    spread = fit.zero_se_s
                    if fit_long is not None and fit_long.slope < 0:
                        candidates.append(fit_long.intercept_at)
                    width = config.band_sigmas * spread
                    candidate = Forecast(issued_at=now, failure_at=fit.intercept_at,
                                         band_from=max(now, min(candidates) - width),
                                         band_to=max(candidates) + width, fit_quality=round(fit.r2, 4),
                                         velocity_mm_per_day=vs)
        event: Forecast | Withdrawal | None = None
        if standing is not None and (decelerating or now > standing.band_to):
            event = Withdrawal(withdrawn_at=now, reason=reason or "forecast failure time passed")
            standing = None
        elif candidate is not None:
            standing = event = candidate
        yield ReadingState(index=i, time=now, displacement=float(values[i]), velocity_mm_per_day=vs,
                           velocity_long_mm_per_day=vl, velocity_alarm=alarm, accelerating=accelerating,
                           fit=fit, standing=standing, event=event,
                           tangent_angle_deg=float(tangent["angle_deg"][i]), tangent_stage=tangent["stage"][i],
                           reference_velocity_mm_per_day=float(tangent["v0"][i]))


def changed_meaningfully(previous: Forecast | None, new: Forecast, tolerance_s: float = 3600.0,
                         relative: float = 0.05) -> bool:
    """Whether `new` is worth announcing after `previous` (the last announced forecast, None if none stands):
    always when none stands; otherwise when the failure time moved by more than the larger of `tolerance_s`
    and `relative` × the time to failure that was announced."""
    if previous is None:
        return True
    lead = max(0.0, previous.failure_at - new.issued_at)
    return abs(new.failure_at - previous.failure_at) > max(tolerance_s, relative * lead)


def announcements(states: Iterable[ReadingState], tolerance_s: float = 3600.0,
                  relative: float = 0.05) -> Iterator[Forecast | Withdrawal]:
    """The events worth printing: meaningful forecast changes (see `changed_meaningfully`) and withdrawals."""
    last: Forecast | None = None
    for state in states:
        if isinstance(state.event, Withdrawal):
            last = None
            yield state.event
        elif isinstance(state.event, Forecast) and changed_meaningfully(last, state.event, tolerance_s, relative):
            last = state.event
            yield state.event


def iso(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC (whole seconds, with Z)."""
    return dt.datetime.fromtimestamp(round(seconds), tz=dt.UTC).isoformat().replace("+00:00", "Z")


def as_json(event: Forecast | Withdrawal) -> dict:
    """One announcement as published (CLI lines and the API): times in ISO 8601 UTC."""
    if isinstance(event, Withdrawal):
        return {"withdrawn_at": iso(event.withdrawn_at), "reason": event.reason}
    return {"issued_at": iso(event.issued_at), "failure_at": iso(event.failure_at), "band_from": iso(event.band_from),
            "band_to": iso(event.band_to), "fit_quality": event.fit_quality,
            "velocity_mm_per_day": round(event.velocity_mm_per_day, 3)}


def standing_at(states: Sequence[ReadingState], moment: float) -> Forecast | None:
    """The forecast standing at `moment` (after the last reading at or before it)."""
    found = None
    for state in states:
        if state.time > moment:
            break
        found = state.standing
    return found


def voight_series(tf: float, alpha: float, v1: float, start: float, step: float, noise_mm: float = 0.0,
                  creep: float = 0.0, rng: np.random.Generator | None = None) -> list[tuple[float, float]]:
    """A synthetic accelerating series for tests and the bench: velocity (mm/day) following the Voight power law
    v = (A(α−1)(tf − t))^(−1/(α−1)) with v = v1 one day before failure, plus a constant creep (mm/day), integrated
    to cumulative displacement and sampled every `step` seconds from `start` until before `tf`, with Gaussian
    noise of `noise_mm`. Times in epoch seconds."""
    t = np.arange(start, tf, step, dtype=float)
    tau = (tf - t) / DAY
    p = 1.0 / (alpha - 1.0)
    c = v1 ** (-(alpha - 1.0))  # A(α−1) so that v(1 day) = v1
    x = -np.log(tau) / c if abs(p - 1.0) < 1e-09 else c ** (-p) * tau ** (1.0 - p) / (p - 1.0)
    x = x - x[0] + creep * (t - t[0]) / DAY
    if noise_mm and rng is not None:
        x = x + rng.normal(0.0, noise_mm, len(x))
    return list(zip(t.tolist(), x.tolist(), strict=True))
