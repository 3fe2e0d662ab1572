"""The rule engine as pure functions: four-colour thresholds, hysteresis, minimum duration, rates, aggregation.

No database: rules.py works on plain data (the ingest hot path calls it per reading).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minesafe.monitoring import rules as R
from minesafe.monitoring.rules import RATE, THRESHOLD, RuleSpec

# The shipped defaults (reference/sensor_kinds.yaml) the examples below are built on.
CO = ((1, 10.0), (2, 16.0), (3, 20.0), (4, 24.0))  # upper, ppm
FREEBOARD = ((2, 1.0), (3, 0.7), (4, 0.5))  # lower, m
GB39496 = [(4, 1, 2), (3, 2, 3), (2, 3, 4)]  # 4 blue → yellow, 3 yellow → orange, 2 orange → red


def rule(kind: str = THRESHOLD, upper: bool = True, thresholds=CO, **extra) -> RuleSpec:
    return RuleSpec(id=1, kind=kind, upper=upper, thresholds=thresholds, **extra)


def levels(spec: RuleSpec, readings, state: dict | None = None) -> list[int]:
    """The committed level after each reading, fed in order through `step`."""
    state = {} if state is None else state
    return [R.step(spec, state, t, value) for t, value in readings]


def every(seconds: float, values, start: float = 0.0) -> list[tuple[float, float]]:
    return [(start + i * seconds, v) for i, v in enumerate(values)]


def flips(sequence: list[int]) -> int:
    return sum(1 for a, b in zip(sequence, sequence[1:], strict=False) if a != b)


# Four-colour thresholds ---------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "level"), [
    (0, 0), (9.99, 0), (10, 1), (15.99, 1), (16, 2), (19.99, 2), (20, 3), (23.99, 3), (24, 4), (1500, 4)])
def test_upper_threshold_level_is_the_highest_threshold_reached(value, level):
    assert R.raw_level(rule(), value) == level


@pytest.mark.parametrize(("value", "level"), [
    (5.0, 0), (1.01, 0), (1.0, 2), (0.71, 2), (0.7, 3), (0.51, 3), (0.5, 4), (-3.0, 4)])
def test_lower_threshold_level_is_reached_at_or_below_the_value(value, level):
    assert R.raw_level(rule(upper=False, thresholds=FREEBOARD), value) == level


def test_a_rule_with_only_some_colours_skips_the_missing_ones():
    nox = rule(thresholds=((3, 2.0), (4, 2.5)))
    assert [R.raw_level(nox, v) for v in (0.5, 1.99, 2.0, 2.49, 2.5)] == [0, 0, 3, 3, 4]


def test_without_duration_or_hysteresis_the_level_follows_each_reading():
    assert levels(rule(), every(20, [5, 12, 30, 17, 0])) == [0, 1, 4, 2, 0]


def test_lower_rule_without_duration_follows_each_reading():
    spec = rule(upper=False, thresholds=FREEBOARD)
    assert levels(spec, every(600, [3.0, 0.9, 0.45, 0.65, 2.0])) == [0, 2, 4, 3, 0]


def test_rule_from_model_keeps_levels_in_order_and_maps_direction():
    class FakeRule:
        pk, kind, direction = 7, "threshold", "lower"
        hysteresis, min_duration_s, window_s, per_s = 0.02, 0, None, None

        def thresholds(self):
            return [(2, 1.0), (3, 0.7), (4, 0.5)]

    spec = RuleSpec.from_rule(FakeRule())
    assert (spec.id, spec.upper, spec.thresholds, spec.window_s, spec.per_s) == (7, False, FREEBOARD, 0, 0)


# Hysteresis ---------------------------------------------------------------------------------------
def test_hysteresis_rises_at_the_threshold_and_falls_only_after_clearing_the_margin():
    spec = rule(hysteresis=1.0)
    # 16 is yellow at once; 15.5 and exactly 15.0 are inside the 1 ppm margin; 14.99 clears it.
    assert levels(spec, every(20, [16.0, 15.5, 15.0, 14.99])) == [2, 2, 2, 1]
    # blue holds down to 9 ppm, then clears.
    assert levels(spec, every(20, [9.5, 9.0, 8.99], start=100), {"l": 1}) == [1, 1, 0]


def test_hysteresis_does_not_hold_a_level_the_value_fell_well_below():
    spec = rule(hysteresis=1.0)
    assert levels(spec, every(20, [30, 5])) == [4, 0]
    assert levels(spec, every(20, [30, 17])) == [4, 2]


def test_hysteresis_on_a_lower_rule_moves_the_threshold_up():
    spec = rule(upper=False, thresholds=FREEBOARD, hysteresis=0.02)
    assert levels(spec, every(600, [0.5, 0.51, 0.515, 0.53, 0.715, 0.75, 1.015, 1.03])) == [4, 4, 4, 3, 3, 2, 2, 0]


def test_values_oscillating_around_a_threshold_do_not_flap_with_hysteresis():
    wobble = [15.8, 16.2, 15.6, 16.4, 15.3, 16.1, 15.7, 16.0, 15.2]
    steady = levels(rule(hysteresis=1.0), every(20, wobble))
    assert steady == [1] + [2] * 8
    assert flips(steady) == 1
    assert flips(levels(rule(), every(20, wobble))) == 8  # the same series flaps on every reading without it


# Minimum duration ---------------------------------------------------------------------------------
def test_a_single_spike_does_not_raise_a_rule_with_a_minimum_duration():
    spec = rule(min_duration_s=40)
    assert levels(spec, every(20, [5, 300, 5, 5, 5])) == [0, 0, 0, 0, 0]


def test_a_sustained_excursion_raises_once_the_minimum_duration_has_passed():
    spec = rule(min_duration_s=40)
    assert levels(spec, every(20, [30, 30, 30, 30])) == [0, 0, 4, 4]


def test_the_minimum_duration_is_measured_from_the_first_reading_over_the_threshold():
    spec = rule(min_duration_s=40)
    assert levels(spec, [(0, 30), (39.9, 30), (40, 30)]) == [0, 0, 4]


def test_an_interruption_restarts_the_minimum_duration():
    spec = rule(min_duration_s=40)
    assert levels(spec, every(20, [30, 30, 5, 30, 30, 30])) == [0, 0, 0, 0, 0, 4]


def test_the_pending_level_is_the_lowest_one_sustained_for_the_whole_duration():
    spec = rule(min_duration_s=40)
    state: dict = {}
    # red, yellow, red: only yellow held for 40 s, so yellow is committed; red must hold 40 s on its own.
    assert levels(spec, every(20, [30, 18, 30]), state) == [0, 0, 2]
    assert levels(spec, every(20, [30, 30, 30], start=60), state) == [2, 2, 4]


def test_a_falling_value_lowers_the_level_without_waiting():
    spec = rule(min_duration_s=40)
    assert levels(spec, every(20, [30, 30, 30, 18, 2])) == [0, 0, 4, 2, 0]


def test_run_feeds_readings_in_order_and_returns_the_final_level():
    spec = rule(min_duration_s=40)
    state: dict = {}
    assert R.run(spec, state, every(20, [30, 30, 30])) == 4
    assert state["l"] == 4 and "p" not in state and "ps" not in state
    assert R.run(spec, state, []) == 4


# Rates ----------------------------------------------------------------------------------------------
GNSS = ((1, 2.0), (2, 5.0), (3, 8.0), (4, 10.0))  # mm per day
RADAR = ((2, 2.0), (3, 3.5), (4, 5.0))  # mm per hour


def test_rate_per_day_is_the_change_over_the_window_scaled_to_a_day():
    spec = rule(RATE, thresholds=GNSS, window_s=21600, per_s=86400)
    state: dict = {}
    # 2.6 mm in 6 h is 10.4 mm/d: red once the window is complete; nothing before.
    assert levels(spec, [(0, 100.0), (3600, 102.5), (21600, 102.6)], state) == [0, 0, 4]
    assert state["r"] == pytest.approx(10.4)


def test_rate_per_hour_is_measured_from_the_oldest_point_of_the_window():
    spec = rule(RATE, thresholds=RADAR, window_s=3600, per_s=3600)
    state: dict = {}
    # A gap longer than the window leaves nothing to measure from; the next hour does.
    assert levels(spec, [(0, 0.0), (7200, 6.0)], state) == [0, 0]
    assert levels(spec, [(10800, 9.6)], state) == [3]  # 3.6 mm in the hour: orange
    assert state["r"] == pytest.approx(3.6)


def test_a_per_time_rate_needs_most_of_a_window_and_never_divides_by_zero():
    spec = rule(RATE, thresholds=RADAR, window_s=3600, per_s=3600)
    assert levels(spec, [(0, 0.0), (1800, 50.0)]) == [0, 0]  # half a window: too short to call a rate
    assert levels(rule(RATE, thresholds=RADAR, window_s=0, per_s=3600), [(100, 1.0), (100, 50.0)]) == [0, 0]


def test_plain_change_is_measured_from_the_lowest_point_of_the_sliding_window():
    spec = rule(RATE, thresholds=((4, 5.0),), window_s=600)
    state: dict = {}
    assert levels(spec, [(0, 2.0), (300, 9.0), (600, 8.0)], state) == [0, 4, 4]
    assert state["r"] == pytest.approx(7.0)


def test_a_rise_spread_across_two_fixed_windows_is_still_caught():
    # CO climbs from 2 to 8 ppm between 450 s and 750 s: no fixed 600 s window sees more than about
    # 3 ppm, but a rise of 6 ppm happened within ten minutes (a 2023 report trigger).
    spec = rule(RATE, thresholds=((4, 5.0),), window_s=600)
    values = [2.0] * 10 + [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]  # every 50 s: 0 … 450 flat, then +1 per 50 s
    assert levels(spec, every(50, values))[-1] == 4


def test_once_the_window_has_slid_past_the_rise_the_level_falls_back():
    spec = rule(RATE, thresholds=((4, 5.0),), window_s=600)
    state: dict = {}
    assert levels(spec, [(0, 2.0), (60, 9.0)], state) == [0, 4]
    held = levels(spec, every(60, [9.0] * 12, start=120), state)
    assert held[0] == 4 and held[-1] == 0  # the low point left the window: no rise any more


def test_a_rising_rate_rule_ignores_a_fall():
    spec = rule(RATE, thresholds=((4, 5.0),), window_s=600)
    assert levels(spec, [(0, 20.0), (600, 2.0)]) == [0, 0]


def test_a_falling_rate_rule_fires_on_a_fall_and_ignores_a_rise():
    spec = rule(RATE, upper=False, thresholds=GNSS, window_s=21600, per_s=86400)
    state: dict = {}
    assert levels(spec, [(0, 50.0), (21600, 47.9)], state) == [0, 3]  # settled 2.1 mm in 6 h: 8.4 mm/d
    assert state["r"] == pytest.approx(-8.4)
    assert levels(spec, [(0, 50.0), (21600, 60.0)]) == [0, 0]


def test_anchors_are_kept_a_quarter_window_apart_and_only_within_the_window():
    spec = rule(RATE, thresholds=((4, 50.0),), window_s=600)
    state: dict = {}
    levels(spec, every(50, [1.0] * 30), state)  # 0 … 1450 s
    times = [t for t, _v in state["a"]]
    assert all(b - a >= 150 for a, b in zip(times, times[1:], strict=False))
    assert 1450 - times[0] <= 600 and len(times) <= 5


def test_rate_rules_honour_the_minimum_duration_too():
    spec = rule(RATE, thresholds=((4, 5.0),), window_s=60, min_duration_s=120)
    assert levels(spec, every(60, [0, 10, 20, 30, 40])) == [0, 0, 0, 4, 4]


# Aggregation (GB 39496) -----------------------------------------------------------------------------
@pytest.mark.parametrize(("points", "item"), [
    ([1, 1, 1, 1], 2),
    ([1, 1, 1], 0),
    ([1, 1, 1, 0, 0], 0),
    ([2, 2, 2], 3),
    ([2, 2, 1, 1], 2),
    ([2, 2], 0),
    ([3, 3], 4),
    ([3], 0),
    ([4, 3], 4),
    ([4, 0, 0, 0], 0),
    ([3, 2, 2], 3),  # orange counts as yellow or above
    ([4, 2, 1, 1], 2),  # red, yellow and blue all count as blue or above
    ([], 0),
])
def test_aggregation_counts_points_at_a_level_or_above(points, item):
    assert R.aggregate_level(points, GB39496) == item


def test_aggregation_gives_the_highest_level_any_step_reaches():
    assert R.aggregate_level([3, 3, 3, 1], GB39496) == 4
    assert R.aggregate_level(iter([2, 2, 2, 2]), GB39496) == 3


# Properties ---------------------------------------------------------------------------------------------
values = st.floats(min_value=-100, max_value=100, allow_nan=False)
ascending = st.lists(st.floats(min_value=-50, max_value=50, allow_nan=False), min_size=1, max_size=4, unique=True) \
    .map(sorted)


def upper_spec(ts, hysteresis=0.0, min_duration_s=0.0) -> RuleSpec:
    return rule(thresholds=tuple(zip(range(5 - len(ts), 5), ts, strict=True)), hysteresis=hysteresis,
                min_duration_s=min_duration_s)


@given(ascending, values, values)
def test_upper_level_is_monotonic_in_the_value(ts, a, b):
    spec = upper_spec(ts)
    low, high = sorted((a, b))
    assert R.raw_level(spec, low) <= R.raw_level(spec, high)


@given(ascending, values, values)
def test_lower_level_is_antitonic_in_the_value(ts, a, b):
    spec = rule(upper=False, thresholds=tuple(zip(range(5 - len(ts), 5), reversed(ts), strict=True)))
    low, high = sorted((a, b))
    assert R.raw_level(spec, low) >= R.raw_level(spec, high)


@given(ascending, st.lists(values, max_size=30))
def test_without_hysteresis_or_duration_the_level_is_the_raw_level(ts, series):
    spec = upper_spec(ts)
    assert levels(spec, every(20, series)) == [R.raw_level(spec, v) for v in series]


@given(ascending, st.floats(min_value=0.01, max_value=10), st.lists(values, max_size=30))
def test_hysteresis_keeps_the_level_between_the_raw_and_the_relaxed_level(ts, h, series):
    spec = upper_spec(ts, hysteresis=h)
    state: dict = {}
    for t, v in every(20, series):
        before = state.get("l", 0)
        level = R.step(spec, state, t, v)
        assert R.raw_level(spec, v) <= level <= max(R.raw_level(spec, v, shift=h), R.raw_level(spec, v))
        if R.raw_level(spec, v) >= before:
            assert level == R.raw_level(spec, v)  # rising (or holding) happens exactly at the threshold


@settings(max_examples=200)
@given(ascending, st.lists(st.tuples(st.floats(min_value=0.5, max_value=60), values), max_size=40))
def test_a_level_is_only_committed_after_every_reading_of_the_minimum_duration_reached_it(ts, steps):
    duration = 40.0
    spec = upper_spec(ts, min_duration_s=duration)
    state: dict = {}
    t, history = 0.0, []
    previous = 0
    for gap, value in steps:
        t += gap
        history.append((t, R.raw_level(spec, value)))
        level = R.step(spec, state, t, value)
        assert level <= R.raw_level(spec, value)  # never above what the newest reading shows
        if level > previous:
            # a run of readings all at `level` or above, spanning the minimum duration, ends here
            start = len(history) - 1
            while start > 0 and history[start - 1][1] >= level:
                start -= 1
            assert t - history[start][0] >= duration
        previous = level
