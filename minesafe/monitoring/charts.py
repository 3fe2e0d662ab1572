"""A reading chart drawn on the server as plain SVG geometry: the line (broken where data is missing),
the rule thresholds as coloured horizontal lines, and axis ticks with times and values. The template
only places what this computes; no JavaScript charting library is needed."""

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
    lo, hi = min(scale_values), max(scale_values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
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
    tick = lo
    while tick <= hi + step / 2:
        chart.y_ticks.append(Tick(y_of(tick), value_label(tick, step)))
        tick += step
    day_format = "%m-%d" if total_s > 2 * 86400 else "%H:%M"
    for t in time_ticks(since, until):
        label = t.strftime("%m-%d %H:%M") if day_format == "%H:%M" and t.hour == 0 and t.minute == 0 \
            else t.strftime(day_format)
        chart.x_ticks.append(Tick(x_of(t), label))
    return chart


def _flush(chart: Chart, run: list[tuple[float, float]]) -> None:
    if len(run) == 1:
        chart.dots.append(run[0])
    elif run:
        chart.lines.append(" ".join(f"{x},{y}" for x, y in run))
