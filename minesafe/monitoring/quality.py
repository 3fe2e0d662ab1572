"""Detectors of falsified or broken sensor data, as pure functions (numpy only, nothing here imports Django).

Switched-off monitoring and falsified data (弄虚作假) are major hazards in the mine-safety standards. Given one
sensor's recent readings — reading times `ts` (epoch seconds, as stamped by the sensor or its gateway), `values`,
and optionally `received` (when the server received each reading) — five checks look for what a broken or
tampered data path leaves behind:

- ``flat``: the same value (within `flat_tolerance`) for at least `flat_min_duration_s` and `flat_min_readings`.
  A frozen sensor or a gateway repeating its last value. Kinds that legitimately stay constant (fan on/off, people
  counters, 24 h rainfall between storms) set `allow_flat`, or list the values at which a flat line is normal.
- ``replay``: a run of readings whose values repeat, exactly or within a constant offset (near-exact copies
  tolerated), a run recorded earlier in the window — a gateway sending old data again with new timestamps. The
  first differences quantised to the resolution are hashed in short windows (a polynomial rolling hash, all in
  numpy), equal hashes at the same lag are chained and the run is extended on the values. Only windows carrying
  enough information count: a quantised difference of 0 carries none, any other carries -log2 of its frequency
  in the series, and windows that match themselves at a lag shorter than their length (constant, stair-step or
  short-period patterns) are ignored. So a constant or a noisy periodic signal does not match; a noise-free
  periodic one does, reported once as "a copied or synthetic periodic pattern".
- ``jump``: a change between consecutive readings larger than `max_rate_per_s` × the time step plus a noise and
  resolution allowance. A jump that returns to the previous level within `spike_max_readings` readings is a
  spike (one finding spanning the spiked readings), otherwise a level shift (one finding spanning the step).
- ``clock_drift``: the delay `received - ts` drifts (a hinge line, flat then sloped, is fitted to the lowest
  delay of each bin, which is the clock offset plus the shortest transmission time; buffered uploads only add
  delay and are dropped as outliers), or the delay is off by more than `clock_max_offset_s` as a whole, or the
  timestamps advance at a step different from the expected interval.
- ``smooth``: the residual noise (second differences, robust scale) is below `smooth_ratio` × the kind's expected
  noise over at least `smooth_min_readings` readings: values on a line or a synthetic curve, i.e. fabricated.
  A single flat run is left to ``flat``; a curve moving slower than the resolution (a staircase of flat runs, or
  flat runs inside a smooth stretch) is reported as ``smooth`` and its steps are not repeated as ``flat``.
  The expected noise is the kind's default or, better, `estimate_noise` over the sensor's trusted history.

`check_series` validates the series once and runs all checks; each check also has its own public function.
`generate` makes labelled synthetic series per kind (clean or with one fault) for tests and the benchmark.

The per-kind resolutions, noise levels and rate limits in `KIND_PROFILES` are project defaults (unverified); the
upload intervals mirror reference/sensor_kinds.yaml. Slow sensors (10 min) need a window of several days for the
replay and smooth checks to have enough readings.
"""

import math
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from numbers import Integral, Real
from statistics import NormalDist

import numpy as np

DAY = 86400.0
HOUR = 3600.0
CHECKS = ("flat", "replay", "jump", "clock_drift", "smooth")
LOCAL_OFFSET_S = 8 * HOUR  # China Standard Time, for the daily cycles of the generator


class QualitySeriesError(ValueError):
    """The series cannot be checked (different lengths, unsorted or duplicate times, non-finite numbers).
    `index` is the first offending reading (0-based), or None when the problem is the series as a whole."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class KindProfile:
    """What a sensor kind normally looks like: the defaults `QualityConfig.for_kind` copies."""

    unit: str
    interval_s: float
    resolution: float  # smallest step the sensor reports
    noise: float | None  # short-term noise standard deviation; None: not a noisy analogue signal
    max_rate_per_s: float | None  # physical limit of change per second; None: any change is possible
    allow_flat: bool = False
    flat_allowed_values: tuple[float, ...] = ()


# Intervals from reference/sensor_kinds.yaml; resolution, noise and rate limits are project defaults (unverified).
KIND_PROFILES: dict[str, KindProfile] = {
    "water_level": KindProfile("m", 600, 0.001, 0.003, 1.0 / HOUR),
    "dry_beach": KindProfile("m", 600, 0.1, 0.3, 20.0 / HOUR),
    "freeboard": KindProfile("m", 600, 0.001, 0.003, 1.0 / HOUR),
    "phreatic_depth": KindProfile("m", 600, 0.01, 0.03, 0.5 / HOUR),
    "surface_displacement": KindProfile("mm", 600, 0.1, 1.5, 500.0 / HOUR),
    "radar_displacement": KindProfile("mm", 300, 0.01, 0.2, 500.0 / HOUR),
    "internal_displacement": KindProfile("mm", 600, 0.01, 0.05, 200.0 / HOUR),
    "rainfall": KindProfile("mm", 600, 0.1, None, 150.0 / HOUR, allow_flat=True),
    "seepage": KindProfile("L/s", 600, 0.01, 0.05, 20.0 / HOUR),
    "pore_pressure": KindProfile("kPa", 600, 0.1, 0.5, 100.0 / HOUR),
    "co": KindProfile("ppm", 20, 0.1, 0.3, 2.0, flat_allowed_values=(0.0,)),  # 0 ppm in fresh air
    "nox": KindProfile("ppm", 20, 0.01, 0.03, 0.5, flat_allowed_values=(0.0,)),
    "o2": KindProfile("%", 20, 0.01, 0.03, 0.05),
    "wind_speed": KindProfile("m/s", 20, 0.01, 0.08, 0.5),
    "fan_state": KindProfile("state", 20, 1.0, None, None, allow_flat=True),
    "people_underground": KindProfile("persons", 30, 1.0, None, 3.0, allow_flat=True),
    "electricity": KindProfile("kW", 300, 0.1, 2.0, 10.0),  # low: a meter is quiet at night
}


@dataclass(frozen=True)
class QualityConfig:
    """Settings of the five checks. Build one per sensor kind with `QualityConfig.for_kind(kind, **overrides)`."""

    # The sensor.
    interval_s: float | None = None  # expected upload interval; None skips the interval part of clock_drift
    resolution: float = 0.01  # smallest step the sensor reports, in value units
    noise: float | None = None  # expected short-term noise (standard deviation); None disables "smooth"
    max_rate_per_s: float | None = None  # physical limit of change per second; None disables "jump"
    allow_flat: bool = False  # True: this kind legitimately stays constant (states, counters); disables "flat"
    flat_allowed_values: tuple[float, ...] = ()  # values at which a flat line is normal (e.g. 0 mm of rain)
    unit: str = ""  # for the summaries only
    checks: tuple[str, ...] = CHECKS  # the checks check_series runs
    # flat: a run of readings all within flat_tolerance of each other (0: exactly equal, up to float rounding)
    flat_tolerance: float = 0.0
    flat_min_duration_s: float = HOUR
    flat_min_readings: int = 12
    # replay: runs of at least replay_min_readings readings carrying at least replay_min_bits of information
    replay_min_readings: int = 24
    replay_min_bits: float = 128.0
    replay_seed_bits: float = 32.0  # information of one hashed window (the seed of a match, verified after)
    replay_tolerance: float | None = None  # |copy - original - offset| that still counts as equal; None: resolution/2
    replay_min_agreement: float = 0.8  # share of equal readings in a reported run (near-exact copies)
    # jump: allowance = max_rate_per_s * dt + jump_noise_sigmas * noise * sqrt(2) + resolution
    jump_noise_sigmas: float = 8.0
    spike_max_readings: int = 3  # a jump returning within this many readings is a spike
    # clock_drift
    clock_drift_tolerance_s_per_day: float = 60.0
    clock_min_span_s: float = 3 * HOUR  # the drifting part must last at least this long
    clock_bin_s: float = 1800.0  # the lowest delay of each bin is fitted (at least 4 readings per bin)
    clock_min_t: float = 5.0  # the drift must be this many standard errors from 0
    clock_max_offset_s: float | None = 600.0  # |typical delay| above this is a clock offset; None: not checked
    clock_interval_tolerance: float = 0.05  # relative error of the median time step against interval_s
    # smooth: noise estimated per block of smooth_block_readings second differences
    smooth_ratio: float = 0.25
    smooth_block_readings: int = 24
    smooth_min_readings: int = 48
    smooth_min_duration_s: float = HOUR

    def __post_init__(self):
        positive = ["resolution", "flat_min_duration_s", "replay_min_bits", "replay_seed_bits", "jump_noise_sigmas",
                    "clock_drift_tolerance_s_per_day", "clock_min_span_s", "clock_bin_s", "clock_min_t",
                    "clock_interval_tolerance", "smooth_min_duration_s"]
        optional_positive = ["interval_s", "noise", "max_rate_per_s", "replay_tolerance", "clock_max_offset_s"]
        for name in positive + optional_positive:
            value = getattr(self, name)
            if value is None and name in optional_positive:
                continue
            if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"QualityConfig.{name} must be a positive number, not {value!r}")
        if not (isinstance(self.flat_tolerance, Real) and 0 <= self.flat_tolerance < math.inf):
            raise ValueError(f"QualityConfig.flat_tolerance must be >= 0, not {self.flat_tolerance!r}")
        for name, least in (("flat_min_readings", 2), ("replay_min_readings", 4), ("spike_max_readings", 1),
                            ("smooth_block_readings", 8), ("smooth_min_readings", 8)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < least:
                raise ValueError(f"QualityConfig.{name} must be an integer >= {least}, not {value!r}")
        for name in ("replay_min_agreement", "smooth_ratio"):
            value = getattr(self, name)
            if not (isinstance(value, Real) and 0 < value <= 1):
                raise ValueError(f"QualityConfig.{name} must be in (0, 1], not {value!r}")
        object.__setattr__(self, "flat_allowed_values", tuple(float(x) for x in self.flat_allowed_values))
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown or isinstance(self.checks, str):
            raise ValueError(f"QualityConfig.checks must list some of {', '.join(CHECKS)}, not {self.checks!r}")
        object.__setattr__(self, "checks", tuple(self.checks))

    @classmethod
    def for_kind(cls, kind: str, **overrides) -> "QualityConfig":
        """The defaults of a sensor kind of reference/sensor_kinds.yaml (see `KIND_PROFILES`), then `overrides`."""
        try:
            profile = KIND_PROFILES[kind]
        except KeyError:
            raise ValueError(f"unknown sensor kind {kind!r}; known: {', '.join(sorted(KIND_PROFILES))}") from None
        base = cls(**{f.name: getattr(profile, f.name) for f in fields(KindProfile)})
        if profile.noise is not None and profile.noise >= 2.99 * profile.resolution:
            # a noisy sensor hardly ever repeats within one step for long: a frozen one toggling between two
            # neighbouring values is flat too
            base = replace(base, flat_tolerance=profile.resolution)
        return replace(base, **overrides)


@dataclass(frozen=True)
class Finding:
    """One suspicious span of one series. `score` is how far past its threshold the check's measure is (>= 1:
    duration over the minimum, information over the minimum, jump over the allowance, drift over the tolerance,
    threshold noise over the measured noise). `evidence` is a small JSON-serialisable dict for drawing."""

    check: str
    start: float  # epoch seconds
    end: float
    score: float
    summary: str
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"check": self.check, "start": self.start, "end": self.end, "score": self.score,
                "summary": self.summary, "evidence": self.evidence}


# ---------------------------------------------------------------------------------------------------- validation


def _float_array(data, name: str) -> np.ndarray:
    try:
        array = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        try:
            items = list(data)
        except TypeError:
            raise QualitySeriesError(f"{name} is not a sequence of numbers") from None
        for i, item in enumerate(items):
            try:
                float(item)
            except (TypeError, ValueError):
                raise QualitySeriesError(f"{name}[{i}] = {item!r} is not a number", i) from None
        raise QualitySeriesError(f"{name} is not a sequence of numbers") from None
    if array.ndim != 1:
        raise QualitySeriesError(f"{name} must be one-dimensional, not of shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        i = int(bad[0])
        raise QualitySeriesError(f"{name}[{i}] is not a finite number", i)
    return array


def validate(ts, values, received=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return (ts, values, received) as float arrays, or raise QualitySeriesError naming the first bad reading:
    same lengths, finite numbers, times strictly increasing."""
    t = _float_array(ts, "ts")
    v = _float_array(values, "values")
    if len(v) != len(t):
        raise QualitySeriesError(f"values has {len(v)} readings but ts has {len(t)}", min(len(t), len(v)))
    r = None
    if received is not None:
        r = _float_array(received, "received")
        if len(r) != len(t):
            raise QualitySeriesError(f"received has {len(r)} readings but ts has {len(t)}", min(len(t), len(r)))
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise QualitySeriesError(f"ts[{i}] = {t[i]:.3f} is not after ts[{i - 1}] = {t[i - 1]:.3f}; readings must be "
                                 "sorted by time without duplicates", i)
    return t, v, r


# ---------------------------------------------------------------------------------------------------- formatting


def _decimals(resolution: float) -> int:
    return 0 if resolution >= 1 else min(6, math.ceil(-math.log10(resolution) - 1e-9))


def _value(x: float, config: QualityConfig) -> str:
    text = f"{x:.{_decimals(config.resolution)}f}"
    return f"{text} {config.unit}" if config.unit and config.unit != "state" else text


def _signed(x: float, config: QualityConfig) -> str:
    text = f"{x:+.{_decimals(config.resolution)}f}"
    return f"{text} {config.unit}" if config.unit and config.unit != "state" else text


def duration_text(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * HOUR:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds / DAY:.1f} d"


def _num(x: float) -> float:
    """A JSON-friendly float (numpy scalars and needless digits removed)."""
    return round(float(x), 6)


def _points(t: np.ndarray, v: np.ndarray, limit: int = 200) -> list[list[float]]:
    step = max(1, math.ceil(len(t) / limit))
    return [[_num(a), _num(b)] for a, b in zip(t[::step], v[::step], strict=True)]


def _eps(v: np.ndarray) -> float:
    return 1e-9 * max(1.0, float(np.max(np.abs(v)))) if v.size else 1e-9


# ---------------------------------------------------------------------------------------------------- flat


def find_flat(ts, values, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Runs of unchanged values at least `flat_min_duration_s` long and `flat_min_readings` readings."""
    t, v, _ = validate(ts, values)
    return _flat(t, v, config)


def _constant_runs(t: np.ndarray, v: np.ndarray, config: QualityConfig) -> list[tuple[int, int]]:
    """(first, last) readings of the runs within a band of `flat_tolerance` long enough to be reported as flat.
    Candidates are runs of steps within the tolerance; one whose values creep beyond the band is split greedily
    into bands (a frozen sensor toggling between two neighbouring values stays one run)."""
    if len(v) < 2:
        return []
    tol = config.flat_tolerance + _eps(v)
    same = (np.abs(np.diff(v)) <= tol).astype(np.int8)
    edges = np.diff(np.concatenate(([0], same, [0])))
    firsts, lasts = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)

    def long_enough(first: int, last: int) -> bool:
        return last - first + 1 >= config.flat_min_readings and t[last] - t[first] >= config.flat_min_duration_s

    runs = []
    for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True):
        if not long_enough(first, last):
            continue
        if v[first:last + 1].max() - v[first:last + 1].min() <= tol:
            runs.append((first, last))
            continue
        values = v[first:last + 1].tolist()
        i = 0
        while i < len(values):
            low = high = values[i]
            j = i
            while j + 1 < len(values) and max(high, values[j + 1]) - min(low, values[j + 1]) <= tol:
                j += 1
                low, high = min(low, values[j]), max(high, values[j])
            if long_enough(first + i, first + j):
                runs.append((first + i, first + j))
            i = j + 1
    return runs


def _flat(t: np.ndarray, v: np.ndarray, config: QualityConfig) -> list[Finding]:
    if config.allow_flat:
        return []
    tol = config.flat_tolerance + _eps(v)
    out = []
    for first, last in _constant_runs(t, v, config):
        run = v[first:last + 1]
        value = float(np.median(run))
        if any(abs(value - allowed) <= tol for allowed in config.flat_allowed_values):
            continue
        count, duration = last - first + 1, float(t[last] - t[first])
        low, high = float(run.min()), float(run.max())
        if high - low > _eps(v):
            what = f"value stuck between {_value(low, config)} and {_value(high, config)}"
        else:
            what = f"value {_value(value, config)} unchanged"
        evidence = {"value": _num(value), "low": _num(low), "high": _num(high), "readings": count,
                    "duration_s": _num(duration),
                    "first_t": _num(t[first]), "last_t": _num(t[last]),
                    "before": [_num(t[first - 1]), _num(v[first - 1])] if first > 0 else None,
                    "after": [_num(t[last + 1]), _num(v[last + 1])] if last + 1 < len(v) else None}
        score = min(duration / config.flat_min_duration_s, count / config.flat_min_readings)
        out.append(Finding("flat", float(t[first]), float(t[last]), _num(score),
                           f"{what} for {duration_text(duration)} ({count} readings)",
                           evidence))
    return out


# ---------------------------------------------------------------------------------------------------- replay

_HASH_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_HASH_MUL = np.uint64(0xBF58476D1CE4E5B9)
_HASH_ADD = np.uint64(0x94D049BB133111EB)
_BREAK_RUN = 4  # this many consecutive unequal readings end a copied run


def window_hashes(symbols: np.ndarray, width: int) -> np.ndarray:
    """Polynomial hash (mod 2**64) of every window of `width` consecutive integer symbols, in O(n): prefix sums of
    x_j * B**-j, each window's difference scaled by B**(k + width - 1), so equal windows hash equal anywhere."""
    n = len(symbols)
    x = symbols.astype(np.int64).view(np.uint64) * _HASH_MUL + _HASH_ADD
    powers = np.full(n, np.uint64(_HASH_BASE))
    powers[0] = 1
    powers = np.multiply.accumulate(powers)
    inverse = np.full(n, np.uint64(pow(_HASH_BASE, -1, 1 << 64)))
    inverse[0] = 1
    inverse = np.multiply.accumulate(inverse)
    prefix = np.concatenate((np.zeros(1, np.uint64), np.cumsum(x * inverse, dtype=np.uint64)))
    return (prefix[width:] - prefix[:-width]) * powers[width - 1:]


def find_replays(ts, values, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Runs of readings that repeat (exactly, or within a constant offset) a run recorded earlier in the series."""
    t, v, _ = validate(ts, values)
    return _replays(t, v, config)


def _replays(t: np.ndarray, v: np.ndarray, config: QualityConfig) -> list[Finding]:
    n = len(v)
    min_readings = config.replay_min_readings
    if n < 2 * min_readings:
        return []
    symbols = np.rint(np.diff(v) / config.resolution).astype(np.int64)
    unique, inverse, counts = np.unique(symbols, return_inverse=True, return_counts=True)
    info = -np.log2(counts / len(symbols))
    info[unique == 0] = 0.0  # an unchanged reading says nothing: flat lines never match
    bits = info[inverse]
    if bits.mean() <= 0:
        return []
    width = math.ceil(1.25 * config.replay_seed_bits / bits.mean())
    width = int(min(max(width, 6), 512, len(symbols) // 3))
    if width < 2:
        return []
    cum_bits = np.concatenate(([0.0], np.cumsum(bits)))
    seeds = np.flatnonzero(cum_bits[width:] - cum_bits[:-width] >= config.replay_seed_bits)
    if seeds.size < 2:
        return []
    hashes = window_hashes(symbols, width)[seeds]
    order = np.lexsort((seeds, hashes))
    h, pos = hashes[order], seeds[order]
    same = h[1:] == h[:-1]
    gap = pos[1:] - pos[:-1]
    group = np.concatenate(([0], np.cumsum(~same)))
    periodic = np.zeros(group[-1] + 1, bool)  # a window equal to itself a few readings on: a pattern, not a copy
    periodic[group[1:][same & (gap < width)]] = True
    pair = same & ~periodic[group[1:]] & (gap >= min_readings)
    first, lag = pos[:-1][pair], gap[pair]
    if not first.size:
        return []
    order = np.lexsort((first, lag))
    first, lag = first[order], lag[order]
    new = np.concatenate(([True], (lag[1:] != lag[:-1]) | (first[1:] - first[:-1] > 2 * width)))
    starts = np.flatnonzero(new)
    stops = np.concatenate((starts[1:], [len(first)]))
    clusters = sorted(zip(stops - starts, lag[starts], first[starts], first[stops - 1], strict=True), reverse=True)
    tol = (config.replay_tolerance if config.replay_tolerance is not None else config.resolution / 2) + _eps(v)
    segments: list[tuple[int, int, int]] = []  # (lag, first, last) of the original
    covered: list[tuple[int, int]] = []  # readings of the reported findings, original to copy
    out = []
    for _, k, lo, hi in clusters[:64]:
        k, core_lo, core_hi = int(k), int(lo), int(hi) + width
        if any(s_lag == k and s_lo <= core_lo and core_hi <= s_hi for s_lag, s_lo, s_hi in segments):
            continue
        if any(c_lo <= core_lo + k and core_hi + k <= c_hi for c_lo, c_hi in covered):
            continue  # the same copy at another lag (a multiple of a period)
        delta = v[k:] - v[:-k]  # delta[i]: reading i + k (the copy) minus reading i (the original)
        offset = float(np.median(delta[core_lo:core_hi + 1]))
        agree = np.abs(delta - offset) <= tol
        mismatches = np.concatenate(([0], np.cumsum(~agree)))
        breaks = np.flatnonzero(mismatches[_BREAK_RUN:] - mismatches[:-_BREAK_RUN] == _BREAK_RUN)
        after = int(np.searchsorted(breaks, core_lo, side="right"))  # the first break after the core's start
        last = int(breaks[after]) - 1 if after < len(breaks) else len(delta) - 1
        begin = int(breaks[after - 1]) + _BREAK_RUN if after > 0 else 0
        inside = np.flatnonzero(agree[begin:last + 1])
        if not inside.size:
            continue
        begin, last = begin + int(inside[0]), begin + int(inside[-1])
        segments.append((k, begin, last))
        readings = last - begin + 1
        agreement = float(agree[begin:last + 1].mean())
        matched = agree[begin:last] & agree[begin + 1:last + 1]  # symbols whose two readings both agree
        information = float(bits[begin:last][matched].sum())
        if (readings < min_readings or agreement < config.replay_min_agreement
                or information < config.replay_min_bits):
            continue
        if any(c_lo <= begin + k and last + k <= c_hi for c_lo, c_hi in covered):
            continue
        covered.append((begin, last + k))
        lag_s = float(t[begin + k] - t[begin])
        duration = float(t[last + k] - t[begin + k])
        overlapping = last >= begin + k  # the copy overlaps its original: the values repeat period after period
        if overlapping:
            text = (f"the values repeat every {duration_text(lag_s)} ({k} readings) for "
                    f"{duration_text(t[last + k] - t[begin])}: a copied or synthetic periodic pattern")
        else:
            text = (f"{readings} readings over {duration_text(duration)} repeat the values recorded "
                    f"{duration_text(lag_s)} earlier")
        if abs(offset) > tol:
            text += f", shifted by {_signed(offset, config)}"
        if agreement < 1:
            text += f" ({agreement:.0%} identical)"
        evidence = {"original_start": _num(t[begin]), "original_end": _num(t[last]),
                    "copy_start": _num(t[begin + k]), "copy_end": _num(t[last + k]), "matched_readings": readings,
                    "lag_s": _num(lag_s), "offset": _num(offset), "agreement": _num(agreement),
                    "information_bits": _num(information), "periodic": overlapping}
        out.append(Finding("replay", float(t[begin + k]), float(t[last + k]),
                           _num(information / config.replay_min_bits), text, evidence))
    return sorted(out, key=lambda f: f.start)


# ---------------------------------------------------------------------------------------------------- jump


def find_jumps(ts, values, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Changes faster than `max_rate_per_s` (plus noise and resolution), each a spike or a level shift."""
    t, v, _ = validate(ts, values)
    return _jumps(t, v, config)


def _jumps(t: np.ndarray, v: np.ndarray, config: QualityConfig) -> list[Finding]:
    if config.max_rate_per_s is None or len(v) < 2:
        return []
    rate = config.max_rate_per_s
    slack = config.resolution + (config.jump_noise_sigmas * config.noise * math.sqrt(2) if config.noise else 0.0)
    dt, dv = np.diff(t), np.diff(v)
    candidates = np.flatnonzero(np.abs(dv) > rate * dt + slack)
    out: list[Finding] = []
    consumed = -1
    n = len(v)
    for k in candidates.tolist():
        if k < consumed:
            continue
        base = v[k]
        # a spike comes back: near the level before, well within the jump and the rate allowance
        back = next((m for m in range(k + 2, min(n, k + 2 + config.spike_max_readings))
                     if abs(v[m] - base) <= min(rate * (t[m] - t[k]) + slack, abs(dv[k]) / 2)), None)
        context = slice(max(0, k - 3), min(n, (back if back is not None else k + 1) + 3))
        allowed = rate * dt[k] + slack
        if back is not None:
            inner = np.arange(k + 1, back)
            peak = int(inner[np.argmax(np.abs(v[inner] - base))])
            width = back - k - 1
            text = (f"spike to {_value(v[peak], config)} from {_value(base, config)} for {width} "
                    f"reading{'s' if width > 1 else ''} ({duration_text(t[back] - t[k])}): "
                    f"{abs(dv[k]) / dt[k]:.3g} per s against a limit of {rate:.3g} per s")
            evidence = {"type": "spike", "before": [_num(t[k]), _num(base)], "peak": [_num(t[peak]), _num(v[peak])],
                        "return": [_num(t[back]), _num(v[back])], "readings": width,
                        "change": _num(v[peak] - base), "rate_per_s": _num(abs(dv[k]) / dt[k]),
                        "max_rate_per_s": _num(rate), "allowed_change": _num(allowed),
                        "context": _points(t[context], v[context])}
            out.append(Finding("jump", float(t[k + 1]), float(t[back - 1]), _num(abs(dv[k]) / allowed), text,
                               evidence))
            consumed = back
        else:
            change = float(dv[k])
            text = (f"level shift of {_signed(change, config)} ({_value(base, config)} to "
                    f"{_value(v[k + 1], config)}) in {duration_text(dt[k])}: {abs(change) / dt[k]:.3g} per s "
                    f"against a limit of {rate:.3g} per s")
            evidence = {"type": "shift", "before": [_num(t[k]), _num(base)], "after": [_num(t[k + 1]), _num(v[k + 1])],
                        "change": _num(change), "rate_per_s": _num(abs(change) / dt[k]), "max_rate_per_s": _num(rate),
                        "allowed_change": _num(allowed), "context": _points(t[context], v[context])}
            out.append(Finding("jump", float(t[k]), float(t[k + 1]), _num(abs(change) / allowed), text, evidence))
    return out


# ---------------------------------------------------------------------------------------------------- clock


def find_clock_drift(ts, received=None, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Drift or offset of the reading times against the server's receive times, and a time step different from
    `interval_s`. Without `received` only the time step is checked."""
    t, _, r = validate(ts, ts, received)
    return _clock(t, r, config)


def _hinge_candidates(x: np.ndarray, y: np.ndarray, w: np.ndarray, breaks: np.ndarray):
    """Least-squares y = a + s * max(0, x - b) for every b in `breaks` (weights w): (sse, a, s, sxx, h)."""
    h = np.maximum(0.0, x[None, :] - breaks[:, None])
    sw, sy = w.sum(), (w * y).sum()
    sh, shh, shy = (h * w).sum(axis=1), (h * h * w).sum(axis=1), (h * (w * y)).sum(axis=1)
    sxx = shh - sh * sh / sw
    ok = sxx > 0
    slope = np.where(ok, (shy - sh * sy / sw) / np.where(ok, sxx, 1.0), 0.0)
    level = (sy - slope * sh) / sw
    sse = ((y[None, :] - level[:, None] - slope[:, None] * h) ** 2 * w).sum(axis=1)
    sse[~ok] = np.inf
    return sse, level, slope, sxx, h


def _hinge_fit(x: np.ndarray, y: np.ndarray, use: np.ndarray, min_tail: float):
    """Least-squares y = a + s * max(0, x - b) over the `use` points, b leaving a tail of at least `min_tail`: first
    among the points, then on a fine grid between the best point's neighbours. Returns (b, a, s, slope standard
    error, fitted values) or None."""
    xs = x[use]
    if use.sum() < 5:
        return None
    w = use.astype(float)
    coarse = xs[xs <= xs[-1] - min_tail]
    if coarse.size == 0:
        return None
    sse = _hinge_candidates(x, y, w, coarse)[0]
    best = int(np.argmin(sse))
    if not math.isfinite(sse[best]):
        return None
    lo, hi = coarse[max(0, best - 1)], coarse[min(len(coarse) - 1, best + 1)]
    breaks = np.concatenate((coarse, np.linspace(lo, hi, 41)))
    sse, level, slope, sxx, h = _hinge_candidates(x, y, w, breaks)
    best = int(np.argmin(sse))
    se = math.sqrt(sse[best] / max(1.0, w.sum() - 3) / sxx[best])
    return float(breaks[best]), float(level[best]), float(slope[best]), se, level[best] + slope[best] * h[best]


def _clock(t: np.ndarray, r: np.ndarray | None, config: QualityConfig) -> list[Finding]:
    out: list[Finding] = []
    n = len(t)
    if n < 10:
        return out
    step = float(np.median(np.diff(t)))
    if config.interval_s is not None and abs(step / config.interval_s - 1) > config.clock_interval_tolerance:
        error = step / config.interval_s - 1
        out.append(Finding(
            "clock_drift", float(t[0]), float(t[-1]), _num(abs(error) / config.clock_interval_tolerance),
            f"readings are stamped every {step:.4g} s, expected every {config.interval_s:.4g} s ({error:+.1%})",
            {"mode": "interval", "median_step_s": _num(step), "expected_interval_s": _num(config.interval_s)}))
    if r is None:
        return out
    delay = r - t
    width = max(config.clock_bin_s, 4 * step, (t[-1] - t[0]) / 300)  # at most about 300 bins to fit
    bins = ((t - t[0]) // width).astype(np.int64)
    order = np.lexsort((delay, bins))
    lowest = order[np.concatenate(([True], bins[order][1:] != bins[order][:-1]))]
    x, y = t[lowest], delay[lowest]
    if x.size < 6 or x[-1] - x[0] < config.clock_min_span_s:
        return out
    use = np.ones(x.size, bool)
    fit = None
    for _ in range(5):  # refit without outliers: bins whose every reading was buffered, clock steps
        fit = _hinge_fit(x, y, use, config.clock_min_span_s)
        if fit is None:
            return out
        residual = y - fit[4]
        centre = float(np.median(residual[use]))
        scale = 1.4826 * float(np.median(np.abs(residual[use] - centre)))
        keep = np.abs(residual - centre) <= max(5 * scale, 5.0)
        if (keep == use).all():
            break
        use = keep
    start, level, slope, se, fitted = fit
    drift = -slope * DAY  # seconds per day the sensor clock gains on the server clock
    tail = float(x[-1] - start)
    if (abs(drift) > config.clock_drift_tolerance_s_per_day and abs(slope) > config.clock_min_t * se
            and (use & (x > start)).sum() >= 4):
        end_delay = level + slope * tail
        text = (f"reading times drift {duration_text(abs(drift))} per day against the server clock (sensor clock "
                f"{'fast' if drift > 0 else 'slow'}) over {duration_text(tail)}: the receive delay went from "
                f"{level:.0f} s to {end_delay:.0f} s")
        evidence = {"mode": "drift", "drift_s_per_day": _num(drift), "drift_se_s_per_day": _num(se * DAY),
                    "tolerance_s_per_day": _num(config.clock_drift_tolerance_s_per_day), "break_t": _num(start),
                    "delay_at_break_s": _num(level), "delay_at_end_s": _num(end_delay),
                    "lowest_delays": _points(x, y), "outlier_bins": int((~use).sum())}
        out.append(Finding("clock_drift", start, float(t[-1]),
                           _num(abs(drift) / config.clock_drift_tolerance_s_per_day), text, evidence))
        return out
    typical = float(np.median(y[use]))
    if config.clock_max_offset_s is not None and abs(typical) > config.clock_max_offset_s:
        side = "behind" if typical > 0 else "ahead of"
        out.append(Finding(
            "clock_drift", float(t[0]), float(t[-1]), _num(abs(typical) / config.clock_max_offset_s),
            f"reading times are {duration_text(typical)} {side} the server clock (lowest receive delay "
            f"{typical:.0f} s, limit {config.clock_max_offset_s:.0f} s)",
            {"mode": "offset", "offset_s": _num(typical), "max_offset_s": _num(config.clock_max_offset_s),
             "lowest_delays": _points(x, y)}))
    return out


# ---------------------------------------------------------------------------------------------------- smooth

_TRIM = 0.1  # share of the largest |second differences| dropped per block (spikes, steps, events)


@lru_cache(maxsize=256)
def _trimmed_abs_mean_factor(keep: float) -> float:
    """E|Z| over the lowest `keep` share of |Z| for a standard normal Z (to turn a trimmed mean into a sigma)."""
    if keep >= 1:
        return math.sqrt(2 / math.pi)
    z = NormalDist().inv_cdf((1 + keep) / 2)
    return 2 * (1 - math.exp(-z * z / 2)) / math.sqrt(2 * math.pi) / keep


def _noise_of(second_differences: np.ndarray) -> float:
    """Robust noise standard deviation from second differences (sigma * sqrt(6) for white noise)."""
    a = np.sort(np.abs(second_differences))
    keep = max(1, len(a) - max(1, round(_TRIM * len(a))))
    return float(a[:keep].mean()) / _trimmed_abs_mean_factor(keep / len(a)) / math.sqrt(6)


def estimate_noise(values) -> float:
    """The short-term noise (standard deviation) of a series, robust to trends, cycles, spikes and steps: what to
    pass as `QualityConfig.noise` when calibrating a sensor from its own trusted history. Gaps are not handled:
    pass regularly sampled values."""
    v = _float_array(values, "values")
    if len(v) < 12:
        raise QualitySeriesError(f"at least 12 values are needed to estimate the noise, not {len(v)}")
    return _noise_of(np.diff(v, 2))


def find_smooth(ts, values, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Spans whose residual noise is below `smooth_ratio` × the expected noise (fabricated, too-smooth data)."""
    t, v, _ = validate(ts, values)
    return _smooth(t, v, config)


def _best_edge(good: np.ndarray, lo: int, hi: int, left: bool) -> int:
    """The cut in [lo, hi] that keeps the most smooth minus rough second differences on the span's side."""
    score = np.where(good[lo:hi + 1], 1, -1)
    gain = np.cumsum(score[::-1])[::-1] if left else np.cumsum(score)  # left: sum over [c, hi]; right: [lo, c]
    best = np.flatnonzero(gain == gain.max())
    return lo + int(best[-1] if left else best[0])  # ties: the narrower span


def _smooth(t: np.ndarray, v: np.ndarray, config: QualityConfig) -> list[Finding]:
    size = config.smooth_block_readings
    n = len(v)
    if config.noise is None or n < size + 2:
        return []
    d1 = np.diff(v)
    d2 = d1[1:] - d1[:-1]  # d2[k] uses readings k, k+1, k+2
    dt = np.diff(t)
    usable = np.maximum(dt[1:], dt[:-1]) <= 1.5 * float(np.median(dt))  # no gap inside the three readings
    for allowed in config.flat_allowed_values:  # e.g. 0 ppm in fresh air: a floor, not a smooth curve
        at = np.flatnonzero(np.abs(v - allowed) <= config.flat_tolerance + _eps(v))
        for shift in (0, 1, 2):  # the second differences that use such a reading
            touched = at - shift
            usable[touched[(touched >= 0) & (touched < len(usable))]] = False
    blocks = len(d2) // size
    magnitude = np.sort(np.where(usable, np.abs(d2), np.nan)[:blocks * size].reshape(blocks, size), axis=1)
    valid = usable[:blocks * size].reshape(blocks, size).sum(axis=1)
    keep = np.maximum(1, valid - np.maximum(1, np.rint(_TRIM * valid))).astype(int)
    sums = np.cumsum(np.nan_to_num(magnitude), axis=1)[np.arange(blocks), keep - 1]
    factors = np.array([1.0] + [_trimmed_abs_mean_factor(max(1, c - max(1, round(_TRIM * c))) / c)
                                for c in range(1, size + 1)])
    sigma = np.where(valid >= size // 2, sums / keep / factors[valid] / math.sqrt(6), np.nan)
    threshold = config.smooth_ratio * config.noise
    flagged = (sigma < threshold).astype(np.int8)
    runs = _constant_runs(t, v, config)
    good = usable & (np.abs(d2) <= threshold * math.sqrt(6))
    edges = np.diff(np.concatenate(([0], flagged, [0])))
    out = []
    for b0, b1 in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True):
        k0, k1 = b0 * size, b1 * size - 1  # the second differences of the flagged blocks
        k0 = _best_edge(good, max(0, k0 - size), min(k0 + size, k1), left=True)
        k1 = _best_edge(good, max(k0, k1 - size), min(len(d2) - 1, k1 + size), left=False)
        first, last = k0, k1 + 2
        readings, duration = last - first + 1, float(t[last] - t[first])
        inside = d2[k0:k1 + 1][usable[k0:k1 + 1]]
        if readings < config.smooth_min_readings or duration < config.smooth_min_duration_s or inside.size < size:
            continue
        # One flat run with little around it is the flat check's (a frozen sensor, or a kind allowed to be flat);
        # several, or a smooth stretch around them, make a smooth curve (its extremes and slow parts stay within
        # the resolution for a while: the steps of a staircase).
        flat = [(a, b) for a, b in runs if a <= last and b >= first]
        if len(flat) == 1:
            around = usable.copy()
            around[max(0, flat[0][0] - 2):flat[0][1] + 1] = False
            around = d2[k0:k1 + 1][around[k0:k1 + 1]]
            if around.size < size or _noise_of(around) >= threshold:
                continue
        measured = _noise_of(inside)
        if measured >= threshold:  # the widened span as a whole is not too smooth
            continue
        ratio = measured / config.noise
        if measured < config.resolution / 10:
            text = (f"values follow a smooth curve with no noise for {duration_text(duration)} ({readings} readings), "
                    f"where about {_value(config.noise, config)} of noise is expected")
        else:
            text = (f"noise of {_value(measured, config)} over {duration_text(duration)} ({readings} readings) is "
                    f"{ratio:.0%} of the {_value(config.noise, config)} expected: too smooth for a real sensor")
        evidence = {"noise": _num(measured), "expected_noise": _num(config.noise), "ratio": _num(ratio),
                    "readings": readings, "duration_s": _num(duration),
                    "blocks": [[_num(t[b * size]), _num(t[b * size + size + 1]), _num(sigma[b])]
                               for b in range(b0, b1)][:100]}
        out.append(Finding("smooth", float(t[first]), float(t[last]), _num(threshold / max(measured, threshold / 1000)),
                           text, evidence))
    return out


# ---------------------------------------------------------------------------------------------------- all checks


def check_series(ts, values, received=None, config: QualityConfig = QualityConfig()) -> list[Finding]:
    """Validate the series once and run all five checks; findings sorted by start time."""
    t, v, r = validate(ts, values, received)
    run = {"flat": lambda: _flat(t, v, config), "replay": lambda: _replays(t, v, config),
           "jump": lambda: _jumps(t, v, config), "clock_drift": lambda: _clock(t, r, config),
           "smooth": lambda: _smooth(t, v, config)}
    found = {check: run[check]() for check in CHECKS if check in config.checks}
    smooth = found.get("smooth", [])
    if smooth and "flat" in found:  # the steps of a staircase (a quantised smooth line) are reported as smooth
        found["flat"] = [f for f in found["flat"] if not any(s.start <= f.start and f.end <= s.end for s in smooth)]
    findings = [f for check in CHECKS for f in found.get(check, [])]
    return sorted(findings, key=lambda f: (f.start, CHECKS.index(f.check)))


# ---------------------------------------------------------------------------------------------------- generator

RANGES = {  # from reference/sensor_kinds.yaml
    "water_level": (-500, 9000), "dry_beach": (0, 5000), "freeboard": (-50, 100), "phreatic_depth": (-10, 300),
    "surface_displacement": (-1e5, 1e5), "radar_displacement": (-1e5, 1e5), "internal_displacement": (-1e5, 1e5),
    "rainfall": (0, 1500), "seepage": (0, 10000), "pore_pressure": (-100, 10000), "co": (0, 2000), "nox": (0, 500),
    "o2": (0, 30), "wind_speed": (0, 40), "fan_state": (0, 1), "people_underground": (0, 5000),
    "electricity": (0, 100000),
}

# Analogue shapes: level range, daily amplitude, slow wander per sqrt(day), trend range per day.
_SHAPES = {
    "water_level": ((300.0, 800.0), 0.01, 0.03, (-0.05, 0.05)),
    "dry_beach": ((80.0, 300.0), 0.5, 1.0, (-0.5, 0.5)),
    "freeboard": ((1.5, 4.0), 0.01, 0.03, (-0.05, 0.05)),
    "phreatic_depth": ((5.0, 30.0), 0.02, 0.05, (-0.05, 0.05)),
    "surface_displacement": ((-50.0, 50.0), 1.5, 0.5, (0.1, 1.5)),
    "radar_displacement": ((-20.0, 20.0), 0.5, 0.3, (0.1, 1.0)),
    "internal_displacement": ((-20.0, 20.0), 0.05, 0.1, (0.05, 0.5)),
    "seepage": ((1.0, 20.0), 0.1, 0.3, (-0.2, 0.2)),
    "pore_pressure": ((50.0, 400.0), 1.0, 2.0, (-1.0, 1.0)),
    "co": ((1.0, 6.0), 0.5, 0.5, (0.0, 0.0)),
    "nox": ((0.1, 0.5), 0.05, 0.05, (0.0, 0.0)),
    "o2": ((20.6, 20.9), 0.03, 0.03, (0.0, 0.0)),
    "wind_speed": ((2.0, 6.0), 0.3, 0.4, (0.0, 0.0)),
    "electricity": ((80.0, 200.0), 0.0, 10.0, (0.0, 0.0)),
}


@dataclass(frozen=True)
class Generated:
    """A labelled synthetic series: `span` is the true (start, end) of the fault in epoch seconds, None if clean."""

    kind: str
    ts: np.ndarray
    values: np.ndarray
    received: np.ndarray
    fault: str | None
    span: tuple[float, float] | None
    config: QualityConfig
    detail: dict


def _local_hours(t: np.ndarray) -> np.ndarray:
    return ((t + LOCAL_OFFSET_S) % DAY) / HOUR


def _wander(t: np.ndarray, per_sqrt_day: float, rng: np.random.Generator, tau_days: float = 2.0) -> np.ndarray:
    """A slow mean-reverting random walk (Ornstein-Uhlenbeck, bounded over long series) on hourly knots, linearly
    interpolated (smooth at the sensor's time scale)."""
    knots = np.arange(t[0] - HOUR, t[-1] + 2 * HOUR, HOUR)
    keep = math.exp(-HOUR / (tau_days * DAY))
    shocks = rng.normal(0.0, per_sqrt_day * math.sqrt(HOUR / DAY), len(knots))
    walk = np.empty(len(knots))
    level = 0.0
    for i, shock in enumerate(shocks.tolist()):
        level = level * keep + shock
        walk[i] = level
    return np.interp(t, knots, walk)


def _pulses(t: np.ndarray, onsets: list[float], amplitudes: list[float], rise_s: float, decay_s: float) -> np.ndarray:
    out = np.zeros_like(t)
    for onset, amplitude in zip(onsets, amplitudes, strict=True):
        after = np.clip(t - onset, 0.0, None)
        out += amplitude * (1 - np.exp(-after / rise_s)) * np.exp(-after / decay_s)
    return out


def _daily_times(t: np.ndarray, local_hour: float, rng: np.random.Generator, spread_h: float) -> list[float]:
    first_day = math.floor((t[0] + LOCAL_OFFSET_S) / DAY)
    last_day = math.floor((t[-1] + LOCAL_OFFSET_S) / DAY)
    return [d * DAY - LOCAL_OFFSET_S + (local_hour + rng.uniform(-spread_h, spread_h)) * HOUR
            for d in range(first_day - 1, last_day + 1)]


def _signal(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The noise-free physical signal of a kind at times t."""
    hours = _local_hours(t)
    if kind == "fan_state":
        out = np.ones_like(t)
        for _ in range(rng.poisson(0.5 * (t[-1] - t[0]) / DAY)):
            stop = rng.uniform(t[0], t[-1])
            out[(t >= stop) & (t < stop + rng.uniform(5, 40) * 60)] = 0.0
        return out
    if kind == "people_underground":
        moves = []  # (time, +1 arrival / -1 departure)
        for shift_start in (0.0, 8.0, 16.0):
            for s in _daily_times(t, shift_start, rng, 0.0):
                crew = rng.integers(30, 120)
                moves += [(a, 1) for a in s - rng.uniform(0, 40 * 60, crew)]
                moves += [(d, -1) for d in s + 8 * HOUR + rng.uniform(0, 40 * 60, crew)]
        moves.sort()
        times = np.array([m[0] for m in moves])
        steps = np.cumsum([m[1] for m in moves])
        index = np.searchsorted(times, t, side="right") - 1
        return rng.integers(2, 12) + np.where(index >= 0, steps[np.maximum(index, 0)], 0).clip(0, None).astype(float)
    if kind == "rainfall":
        knots = np.arange(t[0] - DAY - HOUR, t[-1] + HOUR, 60.0)
        rate = np.zeros_like(knots)
        for _ in range(rng.poisson(0.6 * ((t[-1] - t[0]) / DAY + 1))):
            begin, length = rng.uniform(knots[0], knots[-1]), rng.uniform(1, 8) * HOUR
            rate[(knots >= begin) & (knots < begin + length)] += rng.uniform(2, 80) / (length / 60)
        fallen = np.cumsum(rate)
        return np.interp(t, knots, fallen) - np.interp(t - DAY, knots, fallen)
    (lo, hi), daily, wander, (trend_lo, trend_hi) = _SHAPES.get(kind, ((10.0, 100.0), 0.5, 1.0, (0.0, 0.0)))
    phase = rng.uniform(0, 24)
    out = (rng.uniform(lo, hi) + daily * rng.uniform(0.5, 1.5) * np.sin(2 * math.pi * (hours - phase) / 24)
           + _wander(t, wander, rng) + rng.uniform(trend_lo, trend_hi) * (t - t[0]) / DAY)
    if kind in ("co", "nox"):  # blasting at the end of the morning and evening shifts
        scale = 1.0 if kind == "co" else 0.05
        onsets = [s for h in (11.5, 19.5) for s in _daily_times(t, h, rng, 1.0) if rng.random() < 0.7]
        out += _pulses(t, onsets, [scale * rng.uniform(5, 40) for _ in onsets], 180.0, 1500.0)
    if kind == "electricity":  # production shifts with 20-minute ramps, plus machines switching
        production = rng.uniform(400, 900)
        ramp = lambda x: np.clip(x / (20 / 60), 0, 1)  # noqa: E731
        on = np.minimum(ramp(hours - 8.0), ramp(24.0 - hours))
        out += production * on
        for _ in range(rng.poisson(4 * (t[-1] - t[0]) / DAY)):
            begin = rng.uniform(t[0], t[-1])
            out[(t >= begin) & (t < begin + rng.uniform(0.5, 3) * HOUR)] += rng.uniform(50, 150)
    return out


def _quantise(x: np.ndarray, kind: str) -> np.ndarray:
    profile = KIND_PROFILES[kind]
    lo, hi = RANGES[kind]
    q = profile.resolution
    return np.round(np.round(np.clip(x, lo, hi) / q) * q, _decimals(q))


def _length(rng: np.random.Generator, low: int, high: int, n: int) -> int:
    high = min(high, n - 4)
    if low > high:
        raise ValueError(f"n = {n} readings are too few for this fault (need about {low + 4})")
    return int(rng.integers(low, high + 1))


def generate(seed: int, kind: str = "co", n: int | None = None, fault: str | None = None,
             start: float = 1_717_200_000.0) -> Generated:
    """A realistic synthetic series of `kind` (daily cycles, wander, trends, events, noise, quantisation, outages,
    transmission delays and buffered uploads, a slightly imperfect sensor clock), with one `fault` or none.
    `n` readings; by default one day, at least 720 (slow sensors: several days)."""
    if fault is not None and fault not in CHECKS:
        raise ValueError(f"fault must be None or one of {', '.join(CHECKS)}, not {fault!r}")
    config = QualityConfig.for_kind(kind)
    profile = KIND_PROFILES[kind]
    rng = np.random.default_rng([seed, sorted(KIND_PROFILES).index(kind)])
    interval = float(profile.interval_s)
    n = n or max(int(DAY // interval), 720)
    # The sensor's own schedule, minus outages (silent spans) and single lost readings.
    slots = int(n * 1.5) + 100
    keep = rng.random(slots) > 0.003
    for _ in range(rng.poisson(slots * interval / DAY)):
        at = int(rng.integers(0, slots))
        keep[at:at + int(rng.integers(3, 30))] = False
    index = np.flatnonzero(keep)[:n]
    if len(index) < n:
        raise ValueError(f"could not lay out {n} readings")
    jitter = rng.uniform(-0.4, 0.4, n) if interval < 60 else np.zeros(n)
    ts = np.round(start + index * interval + jitter, 1)
    # The true times of the readings (a small clock offset and a natural drift of a few seconds per day).
    clock_offset, natural_drift = rng.uniform(-5, 5), rng.uniform(-3, 3) / DAY
    true_t = ts - clock_offset - natural_drift * (ts - ts[0])
    signal = _signal(kind, true_t, rng)
    noise = profile.noise * rng.uniform(0.7, 1.3) if profile.noise else 0.0
    values = _quantise(signal + rng.normal(0.0, noise, n), kind)
    delay = rng.uniform(0.3, 3.0) + rng.exponential(rng.uniform(0.3, 2.0), n)
    received = true_t + delay
    for _ in range(rng.poisson(0.7 * n * interval / DAY)):  # network down, sensor buffering, burst on reconnect
        at = int(rng.integers(0, n))
        stop = min(n, at + max(2, int(rng.uniform(600, 7200) / interval)))
        received[at:stop] = np.maximum(received[at:stop], true_t[stop - 1] + 1.0 + 0.05 * np.arange(stop - at))
    span, detail = None, {}
    if fault == "flat":
        need = max(config.flat_min_readings, math.ceil(config.flat_min_duration_s / interval))
        m = _length(rng, math.ceil(1.2 * need), max(math.ceil(1.2 * need), n // 2), n)
        a = int(rng.integers(1, n - m))
        values[a:a + m] = values[a]
        span, detail = (ts[a], ts[a + m - 1]), {"value": float(values[a]), "readings": m}
    elif fault == "replay":
        m = _length(rng, max(2 * config.replay_min_readings, math.ceil(HOUR / 2 / interval)), n // 3, n)
        a = int(rng.integers(0, n - 2 * m + 1))
        b = int(rng.integers(a + m, n - m + 1))
        copy = values[a:a + m].copy()
        variant = str(rng.choice(["exact", "offset", "near"], p=[0.5, 0.25, 0.25]))
        if variant == "offset":  # within the range, so that nothing is clipped
            lo, hi = RANGES[kind]
            offset = rng.integers(5, 100) * profile.resolution
            up = copy.min() - offset < lo or (copy.max() + offset <= hi and rng.random() < 0.5)
            copy += offset if up else -offset
        elif variant == "near":
            flips = rng.random(m) < 0.05
            copy[flips] += rng.choice([-1, 1], flips.sum()) * profile.resolution
        values[b:b + m] = _quantise(copy, kind)
        span = (ts[b], ts[b + m - 1])
        detail = {"variant": variant, "original": (float(ts[a]), float(ts[a + m - 1])), "readings": m}
    elif fault == "jump":
        slack = profile.resolution + config.jump_noise_sigmas * (profile.noise or 0) * math.sqrt(2)
        allowance = (profile.max_rate_per_s or 0) * interval + slack
        lo, hi = RANGES[kind]
        i = int(rng.integers(n // 10, 9 * n // 10))
        while ts[i] - ts[i - 1] > 1.5 * interval:  # not across an outage, where the physical limit allows more
            i += 1
        spike = rng.random() < 0.5
        stop = i + int(rng.integers(1, config.spike_max_readings + 1)) if spike else n
        amplitude = rng.uniform(2, 20) * allowance
        room_up, room_down = hi - values[i:stop].max(), values[i:stop].min() - lo
        if max(room_up, room_down) < amplitude:
            amplitude = 0.9 * max(room_up, room_down)
        sign = rng.choice([-1, 1]) if min(room_up, room_down) >= amplitude else (1 if room_up >= amplitude else -1)
        values[i:stop] = _quantise(values[i:stop] + sign * amplitude, kind)
        span = (ts[i], ts[stop - 1]) if spike else (ts[i - 1], ts[i])
        detail = {"type": "spike" if spike else "shift", "change": float(sign * amplitude)}
    elif fault == "clock_drift":
        i = int(rng.integers(0, n // 2))
        rate = rng.choice([-1, 1]) * rng.uniform(1.5, 30) * 60 / DAY  # sensor clock gain, seconds per second
        received[i:] -= (ts[i:] - ts[i]) * rate / (1 + rate)
        span, detail = (ts[i], ts[-1]), {"drift_s_per_day": float(rate * DAY)}
    elif fault == "smooth":
        need = max(config.smooth_min_readings, math.ceil(config.smooth_min_duration_s / interval))
        m = _length(rng, math.ceil(1.5 * need) + 2 * config.smooth_block_readings,
                    max(math.ceil(1.5 * need) + 2 * config.smooth_block_readings, n // 2), n)
        a = int(rng.integers(1, n - m))
        seg = slice(a, a + m)
        variant = str(rng.choice(["line", "model", "sine"]))
        if variant == "line":  # interpolated between two real readings
            fake = np.interp(ts[seg], [ts[a], ts[a + m - 1]], [values[a], values[a + m - 1]])
        elif variant == "model":  # the noise-free physics, as a simulator would produce it
            fake = signal[seg]
        else:
            period = rng.uniform(m / 3, 2 * m) * interval
            fake = values[a] + rng.uniform(2, 10) * (profile.noise or 1) * np.sin(2 * math.pi * (ts[seg] - ts[a])
                                                                                  / period)
        # a fabricated curve still moves (a nearly constant one would be a flat fault): at least 8 noise levels
        least = 8 * (profile.noise or 0)
        if np.ptp(fake) < least:
            fake = fake + rng.choice([-1, 1]) * (least - np.ptp(fake)) * (ts[seg] - ts[a]) / (ts[a + m - 1] - ts[a])
        fake = fake + rng.normal(0.0, rng.uniform(0, 0.15) * (profile.noise or 0), m)
        values[seg] = _quantise(fake, kind)
        span, detail = (ts[a], ts[a + m - 1]), {"variant": variant, "readings": m}
    return Generated(kind, ts, values, received, fault,
                     None if span is None else (float(span[0]), float(span[1])), config, detail)
