"""Rule evaluation as plain functions over plain data (the ingest hot path calls these per reading).

A rule's state is a small dict kept in the sensor's `state` JSON under the rule id:
  l  committed level          p/ps  pending higher level and since when (minimum duration)
  a  rate anchors: [t, value] samples kept a quarter window apart over the last window
  r  the rate or change when the committed level last changed (shown on the alarm)
The state changes only when a level, a pending level or an anchor does, so ingest rarely rewrites it.
Times are epoch seconds (floats). Levels: 0 none, 1 blue, 2 yellow, 3 orange, 4 red.
"""

from collections.abc import Iterable
from dataclasses import dataclass

THRESHOLD, RATE, NO_DATA = "threshold", "rate", "no_data"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: int
    kind: str
    upper: bool
    thresholds: tuple[tuple[int, float], ...]  # ascending level order
    hysteresis: float = 0.0
    min_duration_s: float = 0.0
    window_s: float = 0.0
    per_s: float = 0.0  # 0: plain change over the window

    @classmethod
    def from_rule(cls, rule) -> "RuleSpec":
        return cls(id=rule.pk, kind=rule.kind, upper=rule.direction == "upper", thresholds=tuple(rule.thresholds()),
                   hysteresis=rule.hysteresis or 0.0, min_duration_s=rule.min_duration_s or 0,
                   window_s=rule.window_s or 0, per_s=rule.per_s or 0)


def rises(spec: RuleSpec) -> bool:
    """Whether higher quantities are worse. A rate is always compared as a rise (`measure` folds the sign)."""
    return spec.upper or spec.kind == RATE


def raw_level(spec: RuleSpec, value: float, shift: float = 0.0) -> int:
    """The highest level whose threshold the value reaches; `shift` moves thresholds to the safe side."""
    level = 0
    if rises(spec):
        for lvl, t in spec.thresholds:
            if value >= t - shift:
                level = lvl
    else:
        for lvl, t in spec.thresholds:
            if value <= t + shift:
                level = lvl
    return level


def with_hysteresis(spec: RuleSpec, value: float, current: int) -> int:
    """Rise at the threshold; fall back only once the value clears it by the hysteresis margin."""
    level = raw_level(spec, value)
    if level >= current or not spec.hysteresis:
        return level
    return max(level, min(current, raw_level(spec, value, shift=spec.hysteresis)))


ANCHORS_PER_WINDOW = 4


def measure(spec: RuleSpec, st: dict, t: float, value: float) -> float | None:
    """The quantity a rule compares: the value itself; for a rate rule, over a sliding window kept as
    anchors a quarter window apart, either the rate from the oldest anchor (once it is at least
    three quarters of a window old) or, without `per_s`, the change from the window's lowest point
    (highest for a falling rule). Returned as a rise; None while the window is still filling."""
    if spec.kind != RATE:
        return value
    anchors = st.setdefault("a", [])
    while anchors and t - anchors[0][0] > spec.window_s:
        anchors.pop(0)
    quantity = None
    if anchors:
        if spec.per_s:
            t0, v0 = anchors[0]
            if t > t0 and t - t0 >= spec.window_s * (1 - 1 / ANCHORS_PER_WINDOW):
                quantity = (value - v0) / (t - t0) * spec.per_s
                quantity = quantity if spec.upper else -quantity
        elif spec.upper:
            quantity = value - min(v for _t, v in anchors)
        else:
            quantity = max(v for _t, v in anchors) - value
    if not anchors or t - anchors[-1][0] >= spec.window_s / ANCHORS_PER_WINDOW:
        anchors.append([t, value])
    return quantity


def step(spec: RuleSpec, st: dict, t: float, value: float) -> int:
    """Feed one reading (in time order) to a rule; returns its committed level afterwards."""
    committed = st.get("l", 0)
    quantity = measure(spec, st, t, value)
    if quantity is None:
        return committed
    candidate = with_hysteresis(spec, quantity, committed)
    shown = -quantity if spec.kind == RATE and not spec.upper else quantity  # a fall is shown as negative
    if candidate <= committed:
        st.pop("p", None)
        st.pop("ps", None)
        return _commit(st, committed, candidate, shown)
    # Rising: the new level must hold for the minimum duration (against flapping and single spikes).
    if spec.min_duration_s <= 0:
        return _commit(st, committed, candidate, shown)
    if "p" not in st:
        st["p"], st["ps"] = candidate, t
    else:
        st["p"] = min(st["p"], candidate)
    if t - st["ps"] >= spec.min_duration_s:
        st.pop("ps")
        return _commit(st, committed, st.pop("p"), shown)
    return committed


def _commit(st: dict, old: int, new: int, quantity: float) -> int:
    if new != old:
        st["l"], st["r"] = new, quantity
    return new


def run(spec: RuleSpec, st: dict, readings: Iterable[tuple[float, float]]) -> int:
    level = st.get("l", 0)
    for t, value in readings:
        level = step(spec, st, t, value)
    return level


def aggregate_level(levels: Iterable[int], steps: list[tuple[int, int, int]]) -> int:
    """GB 39496 aggregation within an item: `count` points at level `of` or above give level `gives`.
    Returns the level the aggregation alone reaches (0 when it adds nothing)."""
    levels = list(levels)
    result = 0
    for count, of, gives in steps:
        if sum(1 for lv in levels if lv >= of) >= count:
            result = max(result, gives)
    return result
