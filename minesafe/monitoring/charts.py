"""Charts drawn on the server as plain SVG geometry: the reading chart (the line, broken where data is missing,
the rule thresholds as coloured horizontal lines, and axis ticks with times and values) and the two charts of a
displacement sensor's failure-time forecast (inverse velocity with the fitted line, and the forecast history).
The template only places what this computes; no JavaScript charting library is needed."""

import datetime as dt
import math
from dataclasses import dataclass, field

from django.utils import timezone

LEVEL_COLOURS = {1: "#1565c0", 2: "#f9a825", 3: "#ef6c00", 4: "#c62828"}
TIME_STEPS_S = [60, 300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 4 * 3600, 6 * 3600, 12 * 3600, 86400,
                2 * 86400, 5 * 86400, 7 * 86400, 14 * 86400]


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class Threshold:
    level: int
    label: str
    value: float
    y: float
    colour: str


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lines: list[str] = field(default_factory=list)  # "x,y x,y …" per unbroken run of readings
    dots: list[tuple[float, float]] = field(default_factory=list)  # lone readings (a run of one point)
    thresholds: list[Threshold] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    points: int = 0
    minimum: float | None = None
    maximum: float | None = None
    time_marks: list[tuple[float, str]] = field(default_factory=list)  # (x, label): moments marked on the plot

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 step giving about `target` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def value_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def time_ticks(since: dt.datetime, until: dt.datetime, target: int = 7) -> list[dt.datetime]:
    """Tick times on round local boundaries (multiples of the step from local midnight) giving about
    `target` ticks."""
    span = (until - since).total_seconds()
    step = next((s for s in TIME_STEPS_S if span / s <= target), TIME_STEPS_S[-1])
    local = timezone.localtime(since)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if step < 86400:
        t = midnight + dt.timedelta(seconds=step * math.ceil((local - midnight).total_seconds() / step))
    else:
        t = midnight if local == midnight else midnight + dt.timedelta(days=1)
    ticks = []
    while t <= until:
        ticks.append(t)
        t += dt.timedelta(seconds=step)
    return ticks


def build(series: list[tuple[dt.datetime, float]], since: dt.datetime, until: dt.datetime,
          thresholds: list[tuple[int, str, float]], *, gap_s: float, width: int = 900, height: int = 300) -> Chart:
    """Geometry for `series` (ts, value) over [since, until]; `thresholds` are (level, label, value).
    Consecutive readings further apart than `gap_s` are not joined (the sensor was silent)."""
    chart = Chart(width=width, height=height, left=64, right=76, top=12, bottom=36, points=len(series))
    values = [v for _t, v in series]
    if values:
        chart.minimum, chart.maximum = min(values), max(values)
    scale_values = values + [t for _lvl, _label, t in thresholds]
    if not scale_values:
        return chart
    lo, hi, step = value_scale(min(scale_values), max(scale_values))
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    total_s = max((until - since).total_seconds(), 1.0)

    def x_of(ts: dt.datetime) -> float:
        return round(chart.left + plot_w * (ts - since).total_seconds() / total_s, 1)

    def y_of(value: float) -> float:
        return round(chart.plot_bottom - plot_h * (value - lo) / (hi - lo), 1)

    run: list[tuple[float, float]] = []
    previous = None
    for ts, value in series:
        if previous is not None and (ts - previous).total_seconds() > gap_s:
            _flush(chart, run)
            run = []
        run.append((x_of(ts), y_of(value)))
        previous = ts
    _flush(chart, run)
    for level, label, value in sorted(thresholds):
        chart.thresholds.append(Threshold(level, label, value, y_of(value), LEVEL_COLOURS.get(level, "#757575")))
    _add_ticks(chart, lo, hi, step, y_of, since, until, x_of)
    return chart


def mark_times(chart: Chart, since: dt.datetime, until: dt.datetime, marks: list[tuple[dt.datetime, str]]) -> Chart:
    """Vertical marks at moments of a chart `build` drew over [since, until] (e.g. where a rise began)."""
    total = max((until - since).total_seconds(), 1.0)
    chart.time_marks = [(round(chart.left + (chart.plot_right - chart.left) * (at - since).total_seconds() / total, 1),
                         label) for at, label in marks]
    return chart


def value_scale(lo: float, hi: float, pad_ratio: float = 0.06) -> tuple[float, float, float]:
    """(low, high, step) of a value axis covering [lo, hi] with a margin, on round steps."""
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * pad_ratio
    lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _add_ticks(chart: Chart, lo: float, hi: float, step: float, y_of, since: dt.datetime, until: dt.datetime,
               x_of) -> None:
    tick = lo
    while tick <= hi + step / 2:
        chart.y_ticks.append(Tick(y_of(tick), value_label(tick, step)))
        tick += step
    total_s = max((until - since).total_seconds(), 1.0)
    day_format = "%m-%d" if total_s > 2 * 86400 else "%H:%M"
    for t in time_ticks(since, until):  # local times
        label = t.strftime("%m-%d %H:%M") if day_format == "%H:%M" and t.hour == 0 and t.minute == 0 \
            else t.strftime(day_format)
        chart.x_ticks.append(Tick(x_of(t), label))


def _flush(chart: Chart, run: list[tuple[float, float]]) -> None:
    if len(run) == 1:
        chart.dots.append(run[0])
    elif run:
        chart.lines.append(" ".join(f"{x},{y}" for x, y in run))


# Failure-time forecast charts -----------------------------------------------------------------------------
FORECAST_COLOURS = {"fit": "#c62828", "failure": "#c62828", "band": "#ef9a9a", "now": "#757575",
                    "withdrawn": "#2e7d32"}


@dataclass
class Marker:
    """A vertical line across the plot at `x`; `kind` says what it marks (the template words it)."""

    kind: str  # "now", "failure" or "withdrawn"
    x: float
    at: dt.datetime
    colour: str


@dataclass
class ForecastChart(Chart):
    fit_line: str = ""  # "x,y x,y": the fitted inverse-velocity line, from the start of the fit to its zero
    areas: list[str] = field(default_factory=list)  # polygon points of the band around the forecast, per run
    x_band: tuple[float, float] | None = None  # (x, width): the forecast band along the time axis
    markers: list[Marker] = field(default_factory=list)
    clipped: int = 0  # points above the plot, drawn on its top edge
    thinned_from: int = 0  # when more points were given than drawn (every k-th is drawn), how many were given
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _forecast_frame(since: dt.datetime, until: dt.datetime, lo: float, hi: float, width: int,
                    height: int) -> tuple[ForecastChart, object, object]:
    chart = ForecastChart(width=width, height=height, left=64, right=24, top=14, bottom=36, since=since, until=until)
    plot_w, plot_h = chart.plot_right - chart.left, chart.plot_bottom - chart.top
    total_s = max((until - since).total_seconds(), 1.0)

    def x_of(ts: dt.datetime) -> float:
        return round(chart.left + plot_w * (ts - since).total_seconds() / total_s, 1)

    def y_of(value: float) -> float:
        return round(chart.plot_bottom - plot_h * (value - lo) / (hi - lo), 1)

    return chart, x_of, y_of


def _thin(rows: list, max_points: int, keep=lambda i: False) -> list:
    """Every k-th row (k the smallest that leaves at most about `max_points`), the last row, and rows `keep`
    asks for (index → bool), in order; all rows when there are few."""
    if len(rows) <= max_points:
        return rows
    k = math.ceil(len(rows) / max_points)
    return [row for i, row in enumerate(rows) if i % k == 0 or i == len(rows) - 1 or keep(i)]


def inverse_velocity_chart(points: list[tuple[dt.datetime, float]], since: dt.datetime, now: dt.datetime, *,
                           fit: tuple[tuple[dt.datetime, float], tuple[dt.datetime, float]] | None = None,
                           failure: dt.datetime | None = None,
                           band: tuple[dt.datetime, dt.datetime] | None = None,
                           width: int = 900, height: int = 260, max_points: int = 600) -> ForecastChart:
    """Inverse velocity (1/v, day/mm) against time: the points, the fitted line from the start of the fit to where
    it reaches zero, and the time axis reaching the forecast failure time (marked, with the band along the axis).
    The value axis starts at zero; a few near-zero velocities would give huge 1/v and flatten everything, so the
    top is set by the 95th percentile of the points (and the fitted line); points above it sit on the top edge."""
    values = sorted(v for _t, v in points)
    top_candidates = [values[min(len(values) - 1, int(0.95 * len(values)))]] if values else []
    if fit is not None:
        top_candidates.append(max(fit[0][1], fit[1][1]))
    _lo, hi, step = value_scale(0.0, max(top_candidates, default=1.0) * 1.05, pad_ratio=0.0)
    lo = 0.0
    end = max([now, *(t for t, _v in points)] + ([failure] if failure else []))
    until = end + (end - since) * 0.03
    chart, x_of, y_of = _forecast_frame(since, until, lo, hi, width, height)
    drawn = _thin(points, max_points)
    chart.points, chart.thinned_from = len(drawn), len(points) if len(drawn) < len(points) else 0
    if values:
        chart.minimum, chart.maximum = values[0], values[-1]
    for t, v in drawn:
        if v > hi:
            chart.clipped += 1
        chart.dots.append((x_of(t), y_of(min(v, hi))))
    if fit is not None:
        (t0, y0), (t1, y1) = fit
        chart.fit_line = f"{x_of(t0)},{y_of(min(y0, hi))} {x_of(t1)},{y_of(y1)}"
    if band is not None:
        x_from, x_to = x_of(max(band[0], since)), x_of(min(band[1], until))
        chart.x_band = (x_from, round(max(x_to - x_from, 1.0), 1))
    chart.markers.append(Marker("now", x_of(now), now, FORECAST_COLOURS["now"]))
    if failure is not None:
        chart.markers.append(Marker("failure", x_of(failure), failure, FORECAST_COLOURS["failure"]))
    _add_ticks(chart, lo, hi, step, y_of, since, until, x_of)
    return chart


def forecast_history_chart(history: list[tuple[dt.datetime, float, float, float, int]], since: dt.datetime,
                           now: dt.datetime, *, withdrawals: list[dt.datetime] = (), width: int = 900,
                           height: int = 220, max_points: int = 600) -> ForecastChart:
    """Hours to the forecast failure against the time of each reading a forecast stood at, `history` being
    (time, hours, band low hours, band high hours, run): a line per run of readings one forecast chain stood
    through, the band as an area around it, and the withdrawals marked. (The ideal line, the actual time left,
    cannot be known before a failure, so only the forecast is drawn.)"""
    chart_values = [h for _t, *hours, _run in history for h in hours]
    lowest = min([0.0, *chart_values])  # below zero once a forecast time has passed while it still stands
    lo, hi, step = value_scale(lowest, max([1.0, *chart_values]), pad_ratio=0.04)
    lo = 0.0 if lowest >= 0 else lo
    chart, x_of, y_of = _forecast_frame(since, now, lo, hi, width, height)
    if history:
        hours = [h for _t, h, _a, _b, _r in history]
        chart.minimum, chart.maximum = min(hours), max(hours)

    def run_edge(i: int) -> bool:  # a run's first and last rows are always drawn
        return (i > 0 and history[i - 1][4] != history[i][4]) or (
            i + 1 < len(history) and history[i + 1][4] != history[i][4])

    drawn = _thin(history, max_points, run_edge)
    chart.points, chart.thinned_from = len(drawn), len(history) if len(drawn) < len(history) else 0
    runs: dict[int, list] = {}
    for row in drawn:
        runs.setdefault(row[4], []).append(row)
    for rows in runs.values():
        line = [(x_of(t), y_of(h)) for t, h, _a, _b, _r in rows]
        _flush(chart, line)
        if len(rows) < 2:
            continue
        upper = [f"{x_of(t)},{y_of(b)}" for t, _h, _a, b, _r in rows]
        lower = [f"{x_of(t)},{y_of(a)}" for t, _h, a, _b, _r in reversed(rows)]
        chart.areas.append(" ".join(upper + lower))
    for at in withdrawals:
        chart.markers.append(Marker("withdrawn", x_of(at), at, FORECAST_COLOURS["withdrawn"]))
    _add_ticks(chart, lo, hi, step, y_of, since, now, x_of)
    return chart
