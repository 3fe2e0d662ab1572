"""Illegal production in suspended mines, detected from the power company's meter readings (numpy only, no Django).

A suspended mine (停产) still draws power: drainage pumps, main ventilation, lighting, and in winter heating. Hidden
production shows as a *sustained* rise of the daily consumption above that suspension baseline; a pump running
hard for a day or two after rain must not count. The analysis works on one mine's daily series:

1. `daily_totals` turns meter readings (daily, or hourly kWh) into one value per calendar day. A day whose hours
   cover less than `min_coverage` of the day is missing (None), never a low value: a partial day must not look
   like a drop (or, scaled up from a few hours, a rise). Days with enough coverage are scaled to 24 h.
2. `producing_profile` is the robust producing level (median of the last `window_days` days before suspension).
3. `detect` replays the suspension day by day, as the data would have arrived (a detection on day d uses only
   days <= d):
   - *settling*: the first `settle_days` after the suspension date are skipped (equipment running down);
   - *learning*: the first `learn_days` valid days form the baseline history;
   - *watching*: the baseline for a day is a robust line (Theil-Sen) through the last `baseline_days` days of
     history, extrapolated at most `trend_horizon_days` past its last day, so slow seasonal drift (heating as
     the weather cools) is followed instead of accumulating as evidence. The noise is the relative MAD of the
     line's residuals, never below `noise_floor`. Each day's standardized excess z is capped at `spike_cap`
     and fed to a one-sided CUSUM  S = max(0, S + min(z, cap) - k).  While S > 0 the days are a *candidate*
     and are kept out of the history (hidden production must not teach the baseline). A detection needs
     S >= h (with the cap, at least ceil(h / (cap - k)) days: a one- or two-day spike cannot reach it) *and* a
     material rise: at least `min_days` material candidate days and the median of the candidate days from the first
     material one (the change day) at least `min_rise` above the baseline, where `min_rise` is `min_gap_share`
     of the producing-minus-baseline gap when the producing level is known (else `min_rise_ratio` of the
     baseline), and never below `min_rise_kwh`. When S falls back to 0 the candidate days join the history,
     winsorized to the baseline +- `admit_clip_z` noise, and so does a candidate whose next valid day is more
     than `max_gap_days` later (two spikes either side of a meter outage are not one rise). When S >= h but the
     rise is not material, the candidate days up to its last immaterial day are a small legitimate shift: they
     join the history (capped at the material rise) so the baseline follows it, and only the trailing run of
     material days stays as evidence;
   - *alarm*: after a detection the detector re-arms once `rearm_days` consecutive valid days are back near the
     baseline (below baseline + max(`rearm_z` noise, half the detected rise)); then it watches again and a second
     episode can be found. The alarm days never join the history.
   `accepted_from`: a flag was judged legitimate (a new pump, a camp moved in): the baseline is relearned from
   that day, so the same level does not flag again; the days before it are ignored.

`trace` gives the same replay as per-day states (baseline, band, CUSUM, phase) for a chart. `generate` builds
labelled synthetic mines (producing period, suspension with pumps/ventilation, seasonal heating, noise, gaps,
rain spikes, hidden production episodes) for the benchmark, the tests and demo data; `generate(..., hourly=True)`
also produces hourly readings with production at night, aggregated through `daily_totals`.
"""

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

PHASES = ("settling", "learning", "watching", "alarm")
SPIKE_SPACING_DAYS = 3  # generator: days without rain spikes after one (a spike stays a 1-2 day event)


class MeterSeriesError(ValueError):
    """Meter readings or a daily series that cannot be analysed. `index` is the first offending element (0-based),
    or None when the problem is the series as a whole (empty)."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


# -- aggregation -----------------------------------------------------------------------------------------------------


def daily_totals(readings: Iterable[tuple[dt.datetime, float, float]],
                 min_coverage: float = 0.75) -> list[tuple[dt.date, float | None]]:
    """One (date, kWh or None) per calendar day from the first reading's day to the last one's, in order.

    Each reading is (period start, hours covered: 1 or 24, kWh). Give the period starts in the mine's local time
    (naive, or all aware): the calendar day is the start's own date. A daily reading must start at midnight, an
    hourly one on the hour; readings must be sorted and must not overlap. A day with less than `min_coverage` of
    its 24 hours covered is None; a day with enough is scaled to 24 hours (a missing hour is assumed to draw the
    mean of the others)."""
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError("min_coverage must be in (0, 1]")
    energy: dict[dt.date, float] = {}
    hours: dict[dt.date, float] = {}
    previous_start: dt.datetime | None = None
    previous_end: dt.datetime | None = None
    aware: bool | None = None
    for i, reading in enumerate(readings):
        try:
            start, covered, kwh = reading
        except (TypeError, ValueError):
            raise MeterSeriesError(f"reading {i}: not a (period start, hours, kWh) triple", i) from None
        if not isinstance(start, dt.datetime):
            raise MeterSeriesError(f"reading {i}: period start is not a datetime", i)
        this_aware = start.utcoffset() is not None
        if aware is None:
            aware = this_aware
        elif this_aware != aware:
            raise MeterSeriesError(f"reading {i}: mixes timezone-aware and naive period starts", i)
        if covered not in (1, 24):
            raise MeterSeriesError(f"reading {i}: hours covered must be 1 or 24, got {covered!r}", i)
        kwh = _kwh(kwh, f"reading {i}", i)
        if kwh is None:
            raise MeterSeriesError(f"reading {i}: kWh is missing", i)
        if covered == 24 and start.time() != dt.time(0):
            raise MeterSeriesError(f"reading {i}: a daily reading must start at midnight", i)
        if covered == 1 and (start.minute, start.second, start.microsecond) != (0, 0, 0):
            raise MeterSeriesError(f"reading {i}: an hourly reading must start on the hour", i)
        if previous_start is not None:
            if start == previous_start:
                raise MeterSeriesError(f"reading {i}: duplicate period start (same as reading {i - 1})", i)
            if start < previous_start:
                raise MeterSeriesError(f"reading {i}: readings not sorted (starts before reading {i - 1})", i)
            if start < previous_end:
                raise MeterSeriesError(f"reading {i}: overlaps the period of reading {i - 1}", i)
        previous_start, previous_end = start, start + dt.timedelta(hours=covered)
        day = start.date()
        energy[day] = energy.get(day, 0.0) + kwh
        hours[day] = hours.get(day, 0.0) + covered
    if not energy:
        raise MeterSeriesError("no readings")
    first, last = min(energy), max(energy)
    out: list[tuple[dt.date, float | None]] = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        covered = hours.get(day, 0.0)
        if covered >= 24:
            out.append((day, energy[day]))
        elif covered >= min_coverage * 24 - 1e-9:
            out.append((day, energy[day] * 24.0 / covered))
        else:
            out.append((day, None))
    return out


def _kwh(value: object, where: str, index: int) -> float | None:
    if value is None:
        return None
    try:
        kwh = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MeterSeriesError(f"{where}: kWh is not a number", index) from None
    if not math.isfinite(kwh):
        raise MeterSeriesError(f"{where}: kWh is not finite", index)
    if kwh < 0:
        raise MeterSeriesError(f"{where}: negative kWh ({kwh:g})", index)
    return kwh


def validate_days(days: Iterable[tuple[dt.date, float | None]]) -> tuple[dt.date, np.ndarray]:
    """(first date, contiguous float array of kWh with NaN for missing days) from a sorted daily series. Dates
    absent from the series count as missing. Raises MeterSeriesError naming the first bad element."""
    dates: list[dt.date] = []
    values: list[float] = []
    for i, item in enumerate(days):
        try:
            day, raw = item
        except (TypeError, ValueError):
            raise MeterSeriesError(f"day {i}: not a (date, kWh) pair", i) from None
        if isinstance(day, dt.datetime):
            day = day.date()
        if not isinstance(day, dt.date):
            raise MeterSeriesError(f"day {i}: not a date", i)
        if dates:
            if day == dates[-1]:
                raise MeterSeriesError(f"day {i}: duplicate date {day} (same as day {i - 1})", i)
            if day < dates[-1]:
                raise MeterSeriesError(f"day {i}: dates not sorted ({day} after {dates[-1]})", i)
        kwh = _kwh(raw, f"day {i}", i)
        dates.append(day)
        values.append(math.nan if kwh is None else kwh)
    if not dates:
        raise MeterSeriesError("empty series")
    first = dates[0]
    out = np.full((dates[-1] - first).days + 1, np.nan)
    out[[(d - first).days for d in dates]] = values
    return first, out


def producing_profile(days: Sequence[tuple[dt.date, float | None]], suspended_from: dt.date,
                      window_days: int = 90, min_days: int = 14) -> float | None:
    """The producing level (kWh/day): median of the valid days in the `window_days` before `suspended_from`; the
    median ignores maintenance and holiday days as long as they are fewer than half. None with fewer than
    `min_days` valid days."""
    first, values = validate_days(days)
    end = (suspended_from - first).days
    window = values[max(0, end - window_days):max(0, end)]
    window = window[np.isfinite(window)]
    if len(window) < min_days:
        return None
    return float(np.median(window))


# -- detection -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of `detect`. Defaults tuned with bench/illegal_production.py on other seeds than those it reports.
    Rejecting two-day spikes needs three days of evidence (cap, h and min_days agree on it), so a clear rise is
    detected on its third day: a delay of 2 days is the floor, not a tuning artefact."""

    settle_days: int = 3  # days after the suspension date skipped (equipment running down)
    learn_days: int = 14  # valid days forming the first baseline
    baseline_days: int = 28  # history days (most recent) in the baseline line
    trend_min_span_days: int = 14  # a trend is fitted only when the history spans this many days (else flat)
    trend_horizon_days: int = 14  # the line is extrapolated at most this far past its last history day
    max_trend_ratio: float = 0.03  # |slope| at most this share of the baseline per day
    noise_floor: float = 0.05  # relative noise (1 sigma) never assumed below this
    k: float = 2.0  # CUSUM reference, in noise sigmas: a day counts as evidence only above baseline + k sigma
    h: float = 6.0  # CUSUM decision threshold, in noise sigmas
    spike_cap: float = 4.0  # a day's standardized excess counts at most this much: h / (cap - k) days minimum
    min_days: int = 3  # material days needed in a candidate before it is a detection
    min_gap_share: float = 0.12  # material rise: this share of (producing - baseline), when producing is known
    min_rise_ratio: float = 0.50  # material rise without a producing level: this share of the baseline
    min_rise_kwh: float = 50.0  # material rise never below this (kWh/day, about 2 kW around the clock)
    admit_clip_z: float = 3.0  # candidate days rejoining the history are winsorized to baseline +- this sigma
    max_gap_days: int = 3  # a candidate is closed when its next valid day is more than this many days later
    rearm_days: int = 5  # consecutive days back near the baseline before the detector re-arms
    rearm_z: float = 2.5  # "near the baseline": below baseline + max(this sigma, half the detected rise)
    band_z: float = 2.0  # the chart's baseline band: baseline +- this sigma

    def __post_init__(self):
        if self.learn_days < 3 or self.baseline_days < self.learn_days:
            raise ValueError("learn_days must be >= 3 and baseline_days >= learn_days")
        if self.k < 0 or self.h <= 0 or self.spike_cap <= self.k:
            raise ValueError("CUSUM needs k >= 0, h > 0 and spike_cap > k")
        if self.noise_floor <= 0 or self.min_days < 1 or self.rearm_days < 1:
            raise ValueError("noise_floor must be > 0, min_days and rearm_days >= 1")


@dataclass(frozen=True)
class Detection:
    """One sustained rise above the suspension baseline, fixed on the day it was detected (no later knowledge)."""

    change_day: dt.date  # estimated start of the rise (first material day of the candidate)
    detected_day: dt.date  # the day the evidence became sufficient
    baseline_kwh: float  # expected suspension consumption on the change day
    band_low_kwh: float  # baseline -+ band_z noise, for the chart
    band_high_kwh: float
    level_kwh: float  # median consumption from the change day to the detection
    rise_ratio: float  # level / baseline (inf when the baseline is 0)
    producing_share: float | None  # (level - baseline) / (producing - baseline); None without a producing level
    cusum: float  # CUSUM at detection (noise sigmas)
    cusum_threshold: float  # h
    min_rise_kwh: float  # the material rise that applied
    noise_ratio: float  # relative noise (1 sigma) of the baseline
    evidence_days: int  # valid days from the change day to the detection

    @property
    def delay_days(self) -> int:
        return (self.detected_day - self.change_day).days


@dataclass(frozen=True)
class DayState:
    """The detector's view after one day, for a chart."""

    day: dt.date
    kwh: float | None
    phase: str  # one of PHASES
    baseline_kwh: float | None  # None while settling or learning
    band_low_kwh: float | None
    band_high_kwh: float | None
    material_kwh: float | None  # baseline + material rise
    cusum: float
    detection: Detection | None = field(default=None)  # the detection made on this day


@dataclass(frozen=True)
class _Line:
    last_t: int  # index of the last history day; the line is anchored there
    level: float
    slope: float  # kWh/day per day
    noise: float  # relative, floored

    def at(self, t: int, horizon: int) -> float:
        return max(0.0, self.level + self.slope * min(t - self.last_t, horizon))


def _fit_line(ts: list[int], xs: list[float], config: DetectorConfig) -> _Line:
    t = np.asarray(ts[-config.baseline_days:], dtype=float)
    x = np.asarray(xs[-config.baseline_days:], dtype=float)
    centre = float(np.median(x))
    slope = 0.0
    if t[-1] - t[0] >= config.trend_min_span_days and len(t) >= 5:
        i, j = np.triu_indices(len(t), 1)
        slope = float(np.median((x[j] - x[i]) / (t[j] - t[i])))  # Theil-Sen: robust to spikes
        limit = config.max_trend_ratio * centre
        slope = min(max(slope, -limit), limit)
    tc = t - t[-1]
    level = float(np.median(x - slope * tc))
    fitted = np.maximum(level + slope * tc, 1e-9)
    rel = (x - fitted) / fitted
    mad = 1.4826 * float(np.median(np.abs(rel - np.median(rel))))
    noise = max(mad, config.noise_floor)
    return _Line(last_t=int(t[-1]), level=level, slope=slope, noise=noise)


def _cusum(rows, config: DetectorConfig) -> list[float]:
    """The CUSUM after each candidate row (t, kWh, baseline, sigma, material rise), starting from 0."""
    out, value = [], 0.0
    for _, x, b, s, _ in rows:
        value = max(0.0, value + min((x - b) / s, config.spike_cap) - config.k)
        out.append(value)
    return out


def _replay(days: Sequence[tuple[dt.date, float | None]], suspended_from: dt.date, producing_kwh: float | None,
            accepted_from: dt.date | None, config: DetectorConfig) -> Iterator[DayState]:
    first, values = validate_days(days)
    if not isinstance(suspended_from, dt.date):
        raise TypeError("suspended_from must be a date")
    if producing_kwh is not None and not (math.isfinite(producing_kwh) and producing_kwh >= 0):
        raise ValueError("producing_kwh must be a finite non-negative number or None")
    begin = max((suspended_from - first).days, 0)
    watch_from = begin + config.settle_days
    if accepted_from is not None:
        watch_from = max(watch_from, (accepted_from - first).days)
    hist_t: list[int] = []
    hist_x: list[float] = []
    line: _Line | None = None
    phase = "settling"
    cusum = 0.0
    candidate: list[tuple[int, float, float, float, float]] = []  # (t, kWh, baseline, sigma, material rise)
    returned: list[tuple[int, float, float, float, float]] = []  # alarm days back near the baseline
    rise = 0.0  # the detected rise, while in alarm

    def material(baseline: float) -> float:
        if producing_kwh is not None and producing_kwh > baseline:
            floor = config.min_gap_share * (producing_kwh - baseline)
        else:
            floor = config.min_rise_ratio * baseline
        return max(floor, config.min_rise_kwh)

    def admit(rows, immaterial: bool = False) -> None:
        """Add days to the baseline history: winsorized to +- admit_clip_z sigma, or (days judged immaterial, a
        small step the baseline should follow) capped at the material rise only."""
        nonlocal line
        for t, x, b, s, floor in rows:
            low, high = b - config.admit_clip_z * s, (b + floor) if immaterial else (b + config.admit_clip_z * s)
            hist_t.append(t)
            hist_x.append(min(max(x, low), high))
        if rows:
            line = _fit_line(hist_t, hist_x, config)

    for t in range(begin, len(values)):
        day = first + dt.timedelta(days=t)
        x = float(values[t])
        valid = math.isfinite(x)
        kwh = x if valid else None
        if t < watch_from:
            yield DayState(day, kwh, "settling", None, None, None, None, 0.0)
            continue
        if phase in ("settling", "learning"):
            phase = "learning"
            if valid:
                hist_t.append(t)
                hist_x.append(x)
            if len(hist_t) < config.learn_days:
                yield DayState(day, kwh, "learning", None, None, None, None, 0.0)
                continue
            line = _fit_line(hist_t, hist_x, config)
            phase = "watching"
            b = line.at(t, config.trend_horizon_days)
            s = max(line.noise * b, 1e-9)
            yield DayState(day, kwh, "learning", b, b - config.band_z * s, b + config.band_z * s,
                           b + material(b), 0.0)
            continue
        assert line is not None
        b = line.at(t, config.trend_horizon_days)
        s = max(line.noise * b, 1e-9)
        mr = material(b)
        row = (t, x, b, s, mr)
        found: Detection | None = None
        if valid and phase == "watching":
            if candidate and t - candidate[-1][0] > config.max_gap_days:
                # the evidence does not bridge a long meter gap (two spikes either side are not one rise)
                admit(candidate)
                candidate, cusum = [], 0.0
            cusum = max(0.0, cusum + min((x - b) / s, config.spike_cap) - config.k)
            candidate.append(row)
            if cusum >= config.h:
                found = _judge(candidate, cusum, producing_kwh, first, day, config)
                if found is not None:
                    phase, rise, returned = "alarm", found.level_kwh - found.baseline_kwh, []
                    candidate, cusum = [], 0.0
                else:
                    # significant but not (yet) material: the days up to the last immaterial one are a small
                    # legitimate shift (with perhaps a spike on it) the baseline should follow; only the trailing
                    # run of material days stays as evidence
                    cut = len(candidate)
                    while cut and candidate[cut - 1][1] - candidate[cut - 1][2] >= candidate[cut - 1][4]:
                        cut -= 1
                    admit([r for r in candidate[:cut] if r[1] - r[2] < r[4]], immaterial=True)
                    admit([r for r in candidate[:cut] if r[1] - r[2] >= r[4]])
                    candidate = candidate[cut:]
                    cusum = _cusum(candidate, config)[-1] if candidate else 0.0
            if cusum == 0.0 and candidate:
                admit(candidate)
                candidate = []
        elif valid and phase == "alarm":
            if x <= b + max(config.rearm_z * s, 0.5 * rise):
                returned.append(row)
                if len(returned) >= config.rearm_days:
                    admit(returned)
                    phase, returned = "watching", []
            else:
                returned = []
        yield DayState(day, kwh, phase, b, b - config.band_z * s, b + config.band_z * s, b + mr,
                       cusum if found is None else found.cusum, found)


def _judge(candidate, cusum: float, producing_kwh: float | None, first: dt.date, today: dt.date,
           config: DetectorConfig) -> Detection | None:
    """A detection when the candidate holds a material rise of at least `min_days` days, else None."""
    excess = np.array([r[1] - r[2] for r in candidate])
    floors = np.array([r[4] for r in candidate])
    material = excess >= floors
    if material.sum() < config.min_days:
        return None
    start = int(np.argmax(material))
    tail = candidate[start:]
    if np.median(excess[start:]) < np.median(floors[start:]):
        return None
    t0, _, baseline, sigma, floor = tail[0]
    level = float(np.median([r[1] for r in tail]))
    share = None
    if producing_kwh is not None and producing_kwh > baseline:
        share = (level - baseline) / (producing_kwh - baseline)
    return Detection(
        change_day=first + dt.timedelta(days=t0), detected_day=today, baseline_kwh=baseline,
        band_low_kwh=baseline - config.band_z * sigma, band_high_kwh=baseline + config.band_z * sigma,
        level_kwh=level, rise_ratio=level / baseline if baseline > 0 else math.inf, producing_share=share,
        cusum=cusum, cusum_threshold=config.h, min_rise_kwh=floor, noise_ratio=sigma / baseline if baseline else 0.0,
        evidence_days=len(tail))


def detect(days: Sequence[tuple[dt.date, float | None]], suspended_from: dt.date,
           producing_kwh: float | None = None, accepted_from: dt.date | None = None,
           config: DetectorConfig = DetectorConfig()) -> list[Detection]:
    """Every sustained rise during the suspension, in order of detection (see the module docstring). `days` is a
    sorted daily series (date, kWh or None), e.g. from `daily_totals`; days before `suspended_from` are ignored
    here (use `producing_profile` for them). Raises MeterSeriesError for a bad series."""
    return [s.detection for s in _replay(days, suspended_from, producing_kwh, accepted_from, config)
            if s.detection is not None]


def trace(days: Sequence[tuple[dt.date, float | None]], suspended_from: dt.date,
          producing_kwh: float | None = None, accepted_from: dt.date | None = None,
          config: DetectorConfig = DetectorConfig()) -> list[DayState]:
    """The detector's state on every day from `suspended_from` on (baseline, band, CUSUM, phase, detections)."""
    return list(_replay(days, suspended_from, producing_kwh, accepted_from, config))


# -- labelled synthetic mines ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """Hidden production: added consumption on every day from start to end (inclusive)."""

    start: dt.date
    end: dt.date
    added_kwh: float  # daily kWh added at full nights/days
    gap_share: float  # added / (producing - baseline)


@dataclass(frozen=True)
class Synthetic:
    days: list[tuple[dt.date, float | None]]
    suspended_from: dt.date
    producing_kwh: float  # the true producing level (before heating and noise)
    baseline_kwh: float  # the true suspension baseline without heating
    heating_kwh: float  # heating added at the coldest (about -8 °C daily mean)
    noise_ratio: float
    episodes: tuple[Episode, ...]
    spikes: tuple[dt.date, ...]  # days with a legitimate dewatering spike
    readings: tuple[tuple[dt.datetime, int, float], ...] | None = None  # hourly readings when hourly=True
    step: tuple[dt.date, float] | None = None  # a legitimate lasting rise (day, kWh/day) when legit_step=True

    @property
    def suspension_days(self) -> int:
        return (self.days[-1][0] - self.suspended_from).days + 1


def _temperatures(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    """Daily mean air temperature at Chengde (°C): climatology (about -8 °C mid-January, 25 °C mid-July) plus an
    AR(1) weather anomaly (a few days' memory, about 2 °C)."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    clim = 8.5 - 16.5 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    anomaly = np.empty(len(dates))
    a = rng.normal(0, 1.7)
    for i in range(len(dates)):
        a = 0.7 * a + rng.normal(0, 1.2)
        anomaly[i] = a
    return clim + anomaly


def generate(seed: int, days: int = 365, *, hourly: bool = False, episodes: int | None = None,
             start: dt.date | None = None, legit_step: bool = False) -> Synthetic:
    """A labelled synthetic mine: 60-120 producing days, then `days` of suspension.

    Producing level 3-40 MWh/day (with occasional maintenance days); suspension baseline 5-25 % of it (pumps,
    ventilation), plus electric heating proportional to the cold below 5 °C (20-80 % of the baseline at -8 °C);
    multiplicative day noise 5-15 %; a 0-2 day run-down after the suspension date; dewatering spikes after rain
    (2-8 a year, mostly June-September, 1 or 2 days, +50-250 % of the baseline, never within
    SPIKE_SPACING_DAYS of the previous one, which would make a longer event); missing days (2 %) and 0-3
    meter outages of 2-10 days; and `episodes` (random 0-3 when None) hidden production episodes of 3-30 days,
    15-100 % of the producing-minus-baseline gap, starting at least 30 days into the suspension and 20 days
    apart. With `hourly`, the readings are hourly (production at night only, missing hours and outages of 3-72
    hours) and `days` comes from `daily_totals`; an episode's start/end are its first/last calendar day with
    production hours. With `legit_step`, a legitimate lasting rise (a new pump, a camp moving in: 15-40 % of the
    gap, from a random day 30 days or more into the suspension) is added: the detector flags it once, and an
    inspector's acceptance (`detect(..., accepted_from=...)`) is what stops it flagging."""
    if days < 1 or (legit_step and days <= 30):
        raise ValueError("days must be >= 1 (> 30 with legit_step)")
    rng = np.random.default_rng(seed)
    if start is None:
        start = dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
    producing_days = int(rng.integers(60, 121))
    n = producing_days + days
    dates = [start + dt.timedelta(days=i) for i in range(n)]
    suspended_from = dates[producing_days]
    producing = float(rng.uniform(3000, 40000))
    baseline = producing * float(rng.uniform(0.05, 0.25))
    heating = baseline * float(rng.uniform(0.2, 0.8))
    noise = float(rng.uniform(0.05, 0.15))
    heat = heating * np.clip((5.0 - _temperatures(rng, dates)) / 13.0, 0.0, 1.5)

    base = np.full(n, baseline)
    base[:producing_days] = producing * np.where(rng.random(producing_days) < 0.05,
                                                 rng.uniform(0.3, 0.6, producing_days), 1.0)
    for i, share in enumerate((0.5, 0.2)[:int(rng.integers(0, 3))]):
        base[producing_days + i] = baseline + share * (producing - baseline)
    daily = (base + heat) * np.exp(rng.normal(0, noise, n))

    spike_days: list[int] = []
    rain_weight = np.array([3.0 if 6 <= d.month <= 9 else 0.5 for d in dates[producing_days:]])
    count = rng.poisson(rng.uniform(2, 8) * days / 365)
    for i in sorted(rng.choice(days, size=min(count, days), replace=False, p=rain_weight / rain_weight.sum())):
        t = producing_days + int(i)
        if spike_days and t <= spike_days[-1] + SPIKE_SPACING_DAYS:
            continue  # events closer than this would make one longer event, no longer a 1-2 day spike
        size = baseline * rng.uniform(0.5, 2.5)
        for j in range(int(rng.integers(1, 3))):
            if t + j < n:
                daily[t + j] += size * (1.0 if j == 0 else rng.uniform(0.5, 1.0))
                spike_days.append(t + j)

    wanted = int(rng.choice(4, p=[0.3, 0.35, 0.25, 0.1])) if episodes is None else episodes
    step = None
    if legit_step:  # drawn from a separate stream so the rest of the series is the same as without the step
        extra = np.random.default_rng([seed, 1])
        at = producing_days + int(extra.integers(30, days))
        step = (dates[at], float(extra.uniform(0.15, 0.4)) * (producing - baseline))
        daily[at:] += step[1] * np.exp(extra.normal(0, noise, n - at))
    truth: list[tuple[int, int, float, float]] = []  # (first, last index, added kWh, gap share)
    cursor = producing_days + 30
    for _ in range(wanted):
        length = int(rng.integers(3, 31))
        room = n - cursor - length
        if room < 0:
            break
        first = cursor + int(rng.integers(0, max(1, min(room, 120))))
        share = float(rng.uniform(0.15, 1.0))
        truth.append((first, first + length - 1, share * (producing - baseline), share))
        cursor = first + length + 20

    if not hourly:
        for first, last, added, _ in truth:
            daily[first:last + 1] += added * np.exp(rng.normal(0, 0.1, last - first + 1))
        missing = rng.random(n) < 0.02
        for _ in range(int(rng.integers(0, 4))):
            at = int(rng.integers(0, n))
            missing[at:at + int(rng.integers(2, 11))] = True
        series = [(d, None if missing[i] else float(daily[i])) for i, d in enumerate(dates)]
        episodes_out = tuple(Episode(dates[a], dates[b], added, share) for a, b, added, share in truth)
        return Synthetic(series, suspended_from, producing, baseline, heating, noise, episodes_out,
                         tuple(dates[i] for i in sorted(set(spike_days))), step=step)

    # hourly: a mild daily shape (heating and pumps draw a little more at night), hidden production at night
    hours = np.arange(24)
    shape = 1.0 + 0.1 * np.cos(2 * np.pi * (hours - 3) / 24)
    kwh = (daily[:, None] * (shape / shape.sum())[None, :]) * np.exp(rng.normal(0, 0.05, (n, 24)))
    flat = kwh.reshape(-1)
    produced = np.zeros(n * 24)
    labels = []
    for first, last, added, share in truth:
        night_start = int(rng.choice([20, 21, 22, 23, 24]))
        length = int(rng.integers(6, 11))
        for d in range(first, last + 1):
            a = d * 24 + night_start
            per_hour = added / length * float(np.exp(rng.normal(0, 0.1)))
            produced[a:min(a + length, n * 24)] += per_hour
        on = np.flatnonzero(produced[first * 24:(last + 2) * 24]) // 24 + first
        labels.append(Episode(dates[int(on[0])], dates[min(int(on[-1]), n - 1)], added, share))
    flat = flat + produced
    keep = rng.random(n * 24) >= 0.005
    for _ in range(int(rng.integers(0, 4))):
        at = int(rng.integers(0, n * 24))
        keep[at:at + int(rng.integers(3, 73))] = False
    midnight = dt.datetime.combine(start, dt.time(0))
    readings = tuple((midnight + dt.timedelta(hours=int(h)), 1, float(flat[h])) for h in np.flatnonzero(keep))
    series = daily_totals(readings)
    return Synthetic(series, suspended_from, producing, baseline, heating, noise, tuple(labels),
                     tuple(dates[i] for i in sorted(set(spike_days))), readings, step)


def generate_hourly(seed: int, days: int = 365, **options) -> Synthetic:
    """`generate` with hourly readings (hidden production at night)."""
    return generate(seed, days, hourly=True, **options)
