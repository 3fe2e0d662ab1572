"""Illegal production in suspended mines from meter readings (minesafe.monitoring.power): pure, no database."""

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from minesafe.monitoring import power

START = dt.date(2024, 3, 1)
SUSPENDED = START + dt.timedelta(days=60)  # 60 producing days, then the suspension
PRODUCING, BASELINE = 20_000.0, 2_000.0


def series(extra=None, days=240, noise=0.08, seed=1, missing=()):
    """Producing at PRODUCING, then suspended at BASELINE with multiplicative noise; `extra` maps a day offset
    from the suspension date to added kWh."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(60 + days):
        level = PRODUCING if i < 60 else BASELINE
        value = level * math.exp(rng.normal(0, noise)) + (extra or {}).get(i - 60, 0.0)
        out.append((START + dt.timedelta(days=i), None if i - 60 in missing else value))
    return out


def rise(first, last, kwh):
    return {i: kwh for i in range(first, last + 1)}


def on(offset):
    return SUSPENDED + dt.timedelta(days=offset)


def detect(days, **options):
    return power.detect(days, SUSPENDED, power.producing_profile(days, SUSPENDED), **options)


# -- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "index", "words"), [
    ([(START, 1.0), (START + dt.timedelta(days=2), 1.0), (START + dt.timedelta(days=1), 1.0)], 2, "not sorted"),
    ([(START, 1.0), (START, 2.0)], 1, "duplicate"),
    ([(START, 1.0), (START + dt.timedelta(days=1), -3.0)], 1, "negative"),
    ([(START, 1.0), (START + dt.timedelta(days=1), 2.0), (START + dt.timedelta(days=2), math.nan)], 2, "finite"),
    ([(START, math.inf)], 0, "finite"),
    ([(START, "lots")], 0, "not a number"),
    ([(START, 1.0), ("2024-03-02", 1.0)], 1, "not a date"),
    ([(START, 1.0), (START,)], 1, "pair"),
])
def test_a_bad_daily_series_names_the_first_bad_day(rows, index, words):
    with pytest.raises(power.MeterSeriesError, match=words) as caught:
        power.detect(rows, START)
    assert caught.value.index == index
    assert isinstance(caught.value, ValueError)


def test_an_empty_series_is_an_error_without_an_index():
    with pytest.raises(power.MeterSeriesError, match="empty") as caught:
        power.detect([], START)
    assert caught.value.index is None
    with pytest.raises(power.MeterSeriesError, match="no readings") as caught:
        power.daily_totals([])
    assert caught.value.index is None


H = dt.timedelta(hours=1)
T0 = dt.datetime(2024, 5, 1)


@pytest.mark.parametrize(("readings", "index", "words"), [
    ([(T0, 1, 1.0), (T0 + 2 * H, 1, 1.0), (T0 + H, 1, 1.0)], 2, "not sorted"),
    ([(T0, 1, 1.0), (T0 + H, 1, 1.0), (T0 + H, 1, 2.0)], 2, "duplicate"),
    ([(T0, 24, 10.0), (T0 + 5 * H, 1, 1.0)], 1, "overlaps"),
    ([(T0, 1, 1.0), (T0 + H, 1, -0.5)], 1, "negative"),
    ([(T0, 1, math.nan)], 0, "finite"),
    ([(T0, 1, 1.0), (T0 + H, 2, 1.0)], 1, "1 or 24"),
    ([(T0 + H, 24, 1.0)], 0, "midnight"),
    ([(T0 + dt.timedelta(minutes=30), 1, 1.0)], 0, "on the hour"),
    ([(T0, 1, 1.0), (dt.datetime(2024, 5, 1, 1, tzinfo=dt.UTC), 1, 1.0)], 1, "aware and naive"),
    ([(T0, 1, 1.0), (dt.date(2024, 5, 2), 24, 1.0)], 1, "not a datetime"),
    ([(T0, 1, None)], 0, "missing"),
])
def test_bad_meter_readings_name_the_first_bad_reading(readings, index, words):
    with pytest.raises(power.MeterSeriesError, match=words) as caught:
        power.daily_totals(readings)
    assert caught.value.index == index


# -- aggregation -----------------------------------------------------------------------------------------------------


def hourly_day(day, kwh_per_hour, hours=range(24)):
    midnight = dt.datetime.combine(day, dt.time(0))
    return [(midnight + dt.timedelta(hours=h), 1, kwh_per_hour) for h in hours]


def test_hourly_readings_add_up_to_calendar_days_and_a_partial_day_is_missing():
    d = dt.date(2024, 5, 1)
    readings = (hourly_day(d, 10.0)
                + hourly_day(d + dt.timedelta(days=1), 10.0, range(6))  # a 6-hour day: meter went offline
                + hourly_day(d + dt.timedelta(days=3), 10.0, [h for h in range(24) if h not in (3, 4, 5)])
                + [(dt.datetime.combine(d + dt.timedelta(days=4), dt.time(0)), 24, 250.0)])
    assert power.daily_totals(readings) == [
        (d, 240.0),
        (d + dt.timedelta(days=1), None),  # never a 60 kWh "drop"
        (d + dt.timedelta(days=2), None),  # no reading at all
        (d + dt.timedelta(days=3), 240.0),  # 21 of 24 hours: scaled to the whole day
        (d + dt.timedelta(days=4), 250.0),  # a daily reading
    ]


def test_the_coverage_needed_for_a_day_is_a_setting():
    d = dt.date(2024, 5, 1)
    readings = hourly_day(d, 10.0, range(12))
    assert power.daily_totals(readings) == [(d, None)]
    assert power.daily_totals(readings, min_coverage=0.5) == [(d, 240.0)]


def test_aware_readings_use_their_own_local_calendar_day():
    cst = dt.timezone(dt.timedelta(hours=8))
    readings = [(dt.datetime(2024, 5, 1, h, tzinfo=cst), 1, 5.0) for h in range(24)]
    assert power.daily_totals(readings) == [(dt.date(2024, 5, 1), 120.0)]


def test_a_partial_hourly_day_inside_a_suspension_neither_drops_nor_rises():
    days = series(days=120)
    readings = []
    for day, kwh in days:
        hours = range(5) if day in (on(50), on(51), on(52)) else range(24)  # three short days in a row
        readings += hourly_day(day, kwh / 24, hours)
    totals = power.daily_totals(readings)
    assert [kwh for day, kwh in totals if day in (on(50), on(51), on(52))] == [None, None, None]
    assert detect(totals) == []
    # had the short days been taken at face value they would have been a sustained *drop*, and scaled up to
    # 24 h from five hours they could just as well have been a rise: neither happens


# -- detection -------------------------------------------------------------------------------------------------------


def test_a_flat_suspension_does_not_flag():
    assert detect(series(days=300)) == []


@pytest.mark.parametrize("spike", [{90: 5_000.0}, {90: 5_000.0, 91: 4_000.0}, {90: 40_000.0, 91: 40_000.0}])
def test_a_one_or_two_day_dewatering_spike_does_not_flag(spike):
    days = series(spike)
    assert detect(days) == []
    # the CUSUM did see it, and let it go
    assert max(s.cusum for s in power.trace(days, SUSPENDED)) > 0


def test_the_spike_cap_alone_keeps_a_two_day_spike_under_the_cusum_threshold():
    days = series({90: 40_000.0, 91: 40_000.0})
    lenient = power.DetectorConfig(min_days=1)  # no material-days rule: only the capped CUSUM decides
    assert power.detect(days, SUSPENDED, config=lenient) == []
    uncapped = dataclasses.replace(lenient, spike_cap=1000.0)
    assert [f.change_day for f in power.detect(days, SUSPENDED, config=uncapped)] == [on(90)]


def test_a_two_day_spike_and_a_busy_but_immaterial_day_are_not_a_rise():
    # the third day is many sigmas up (enough for the CUSUM) but far below the material rise: only two
    # material days, so no detection
    days = series({90: 9_000.0, 91: 9_000.0, 92: 1_000.0})
    states = {s.day: s for s in power.trace(days, SUSPENDED, power.producing_profile(days, SUSPENDED))}
    assert states[on(92)].kwh < states[on(92)].material_kwh
    assert detect(days) == []


def test_two_spikes_either_side_of_a_meter_outage_are_not_one_rise():
    days = series({80: 9_000.0, 81: 9_000.0, 92: 9_000.0}, missing=range(82, 92))
    assert detect(days) == []


def test_a_sustained_rise_flags_within_three_days_with_evidence_for_a_chart():
    added = 0.3 * (PRODUCING - BASELINE)
    flags = detect(series(rise(100, 130, added)))
    assert len(flags) == 1
    flag = flags[0]
    assert abs((flag.change_day - on(100)).days) <= 1
    assert 0 <= (flag.detected_day - on(100)).days <= 3
    assert flag.delay_days == (flag.detected_day - flag.change_day).days
    assert flag.baseline_kwh == pytest.approx(BASELINE, rel=0.1)
    assert flag.band_low_kwh < flag.baseline_kwh < flag.band_high_kwh
    assert flag.level_kwh == pytest.approx(BASELINE + added, rel=0.15)
    assert flag.rise_ratio == pytest.approx(flag.level_kwh / flag.baseline_kwh)
    assert flag.producing_share == pytest.approx(0.3, abs=0.06)
    assert flag.cusum >= flag.cusum_threshold == power.DetectorConfig().h
    assert flag.evidence_days >= power.DetectorConfig().min_days


def test_a_rise_below_the_material_share_of_the_producing_gap_does_not_flag():
    small = 0.06 * (PRODUCING - BASELINE)  # half of min_gap_share: statistically clear, but not production
    days = series(rise(100, 160, small), noise=0.05)
    assert detect(days) == []
    # ... and the baseline follows the small step instead of staying in a candidate forever
    states = {s.day: s for s in power.trace(days, SUSPENDED, power.producing_profile(days, SUSPENDED))}
    assert states[on(155)].baseline_kwh > BASELINE + 0.5 * small


def test_without_a_producing_level_the_material_rise_is_a_share_of_the_baseline():
    days = series(rise(100, 130, 0.8 * BASELINE))
    flags = power.detect(days, SUSPENDED)
    assert len(flags) == 1 and flags[0].producing_share is None
    assert power.detect(series(rise(100, 130, 0.3 * BASELINE), noise=0.05), SUSPENDED) == []


def test_a_missing_day_inside_a_rise_delays_but_does_not_hide_it():
    added = 0.5 * (PRODUCING - BASELINE)
    flags = detect(series(rise(100, 120, added), missing={101}))
    assert len(flags) == 1
    assert flags[0].change_day == on(100)
    assert flags[0].detected_day == on(103)


def test_the_detector_rearms_and_finds_a_second_episode():
    added = 0.5 * (PRODUCING - BASELINE)
    flags = detect(series({**rise(60, 75, added), **rise(120, 140, added)}))
    assert [(f.change_day, f.detected_day) for f in flags] == [(on(60), on(62)), (on(120), on(122))]


def test_production_that_never_stops_does_not_raise_a_second_flag():
    flags = detect(series(rise(60, 200, 0.5 * (PRODUCING - BASELINE))))
    assert len(flags) == 1


def test_no_look_ahead_a_truncated_series_gives_the_prefix_of_the_detections():
    added = 0.4 * (PRODUCING - BASELINE)
    days = series({**rise(50, 60, added), 80: 8_000.0, **rise(110, 118, added), **rise(160, 200, added)})
    full = detect(days)
    assert len(full) == 3
    producing = power.producing_profile(days, SUSPENDED)
    for cut in range(70, len(days) + 1, 7):
        part = power.detect(days[:cut], SUSPENDED, producing)
        last = days[cut - 1][0]
        assert part == [f for f in full if f.detected_day <= last]
    # and the per-day states of a prefix are the prefix of the states
    states = power.trace(days, SUSPENDED, producing)
    assert power.trace(days[:200], SUSPENDED, producing) == states[:140]


def test_an_accepted_flag_relearns_the_baseline_so_the_same_level_does_not_flag_again():
    new_pump = 0.3 * (PRODUCING - BASELINE)  # a legitimate lasting rise from day 100
    days = series(rise(100, 239, new_pump))
    flags = detect(days)
    assert len(flags) == 1 and flags[0].change_day == on(100)
    assert detect(days, accepted_from=flags[0].change_day) == []
    # the relearned baseline is the new level, so hidden production on top of it is still found
    stacked = series({**rise(100, 239, new_pump), **rise(170, 190, 0.4 * (PRODUCING - BASELINE))})
    again = detect(stacked, accepted_from=flags[0].change_day)
    assert [f.change_day for f in again] == [on(170)]
    assert again[0].baseline_kwh == pytest.approx(BASELINE + new_pump, rel=0.1)


def test_a_slow_winter_heating_ramp_is_followed_not_flagged():
    # heating adds up to +80 % of the baseline over two months, then stays: the baseline line follows it
    ramp = {i: 0.8 * BASELINE * min(1.0, max(0.0, (i - 60) / 60)) for i in range(240)}
    days = series(ramp)
    assert detect(days) == []
    states = {s.day: s for s in power.trace(days, SUSPENDED)}
    # while it climbs, the robust trend line keeps the baseline on the ramp (a flat median would lag ~15 %)
    for offset in (90, 100, 110):
        assert states[on(offset)].baseline_kwh == pytest.approx(BASELINE + ramp[offset], rel=0.06)
    assert states[on(150)].baseline_kwh == pytest.approx(1.8 * BASELINE, rel=0.06)


def test_the_trace_shows_phases_and_the_detection_on_its_day():
    days = series(rise(100, 130, 0.5 * (PRODUCING - BASELINE)))
    producing = power.producing_profile(days, SUSPENDED)
    states = power.trace(days, SUSPENDED, producing)
    assert states[0].day == SUSPENDED
    assert [s.phase for s in states[:3]] == ["settling"] * 3
    assert {s.phase for s in states} == set(power.PHASES)
    assert all(s.baseline_kwh is None for s in states if s.phase == "settling")
    flagged = [s for s in states if s.detection is not None]
    assert [s.detection for s in flagged] == power.detect(days, SUSPENDED, producing)
    assert flagged[0].phase == "alarm" and flagged[0].day == flagged[0].detection.detected_day
    watching = [s for s in states if s.phase == "watching"]
    assert all(s.band_low_kwh < s.baseline_kwh < s.band_high_kwh < s.material_kwh for s in watching)


def test_producing_profile_is_the_median_of_the_days_before_suspension():
    days = series()
    days[10] = (days[10][0], 100.0)  # a maintenance day
    days[20] = (days[20][0], None)
    assert power.producing_profile(days, SUSPENDED) == pytest.approx(PRODUCING, rel=0.05)
    assert power.producing_profile(days, START + dt.timedelta(days=5)) is None  # too few days
    assert power.producing_profile(days, START) is None


@pytest.mark.parametrize("bad", [{"k": 3.0, "spike_cap": 2.0}, {"h": 0.0}, {"learn_days": 2},
                                 {"noise_floor": 0.0}, {"baseline_days": 5}])
def test_a_nonsensical_config_is_refused(bad):
    with pytest.raises(ValueError):
        power.DetectorConfig(**bad)


# -- the generator and a small evaluation ----------------------------------------------------------------------------


def test_the_generator_is_labelled_reproducible_and_realistic():
    mines = [power.generate(seed) for seed in range(40)]
    assert power.generate(7) == mines[7]
    assert any(not m.episodes for m in mines) and any(len(m.episodes) >= 2 for m in mines)
    for m in mines:
        assert 0.05 <= m.baseline_kwh / m.producing_kwh <= 0.25
        assert 0.05 <= m.noise_ratio <= 0.15
        assert len(m.days) == (m.suspended_from - m.days[0][0]).days + 365
        values = [v for _, v in m.days]
        assert any(v is None for v in values)
        for ep in m.episodes:
            assert m.suspended_from + dt.timedelta(days=30) <= ep.start <= ep.end
            assert 3 <= (ep.end - ep.start).days + 1 <= 30
            assert 0.15 <= ep.gap_share <= 1.0
        for a, b in zip(m.episodes, m.episodes[1:], strict=False):
            assert (b.start - a.end).days > 20
    assert sum(len(m.spikes) for m in mines) > 40


def test_the_hourly_generator_produces_at_night_and_aggregates_through_daily_totals():
    mine = power.generate_hourly(3, days=200, episodes=1)
    assert mine.readings is not None and mine.days == power.daily_totals(mine.readings)
    (episode,) = mine.episodes
    by_hour = {}
    for start, hours, kwh in mine.readings:
        assert hours == 1
        if episode.start <= start.date() <= episode.end:
            by_hour.setdefault(start.hour, []).append(kwh)
    day_hours = np.mean([np.median(by_hour[h]) for h in range(9, 17) if h in by_hour])
    night_hours = np.mean([np.median(by_hour[h]) for h in range(1, 5) if h in by_hour])
    assert night_hours > 2 * day_hours


def evaluate(mines):
    correct = detections = found = episodes = 0
    delays = []
    for mine in mines:
        flags = power.detect(mine.days, mine.suspended_from, power.producing_profile(mine.days, mine.suspended_from))
        detections += len(flags)
        for ep in mine.episodes:
            episodes += 1
            hits = [f for f in flags if ep.start <= f.detected_day <= ep.end + dt.timedelta(days=3)]
            found += bool(hits)
            correct += len(hits)
            if hits:
                delays.append((hits[0].detected_day - ep.start).days)
    return correct / detections, found / episodes, float(np.median(delays))


def test_a_small_generated_sample_is_detected_with_precision_and_recall():
    precision, recall, delay = evaluate([power.generate(seed) for seed in range(500, 530)])
    assert precision >= 0.85 and recall >= 0.85 and delay <= 3


def test_a_small_hourly_sample_is_detected_with_precision_and_recall():
    precision, recall, delay = evaluate([power.generate_hourly(seed, days=240) for seed in range(600, 608)])
    assert precision >= 0.85 and recall >= 0.85 and delay <= 3


def test_a_legitimate_step_flags_once_and_acceptance_restores_the_watch():
    mine = power.generate(11, legit_step=True, episodes=0)
    day, kwh = mine.step
    producing = power.producing_profile(mine.days, mine.suspended_from)
    flags = power.detect(mine.days, mine.suspended_from, producing)
    assert len(flags) == 1 and abs((flags[0].change_day - day).days) <= 2
    assert power.detect(mine.days, mine.suspended_from, producing, accepted_from=flags[0].change_day) == []


def test_detection_is_frozen():
    flag = detect(series(rise(100, 130, 0.5 * (PRODUCING - BASELINE))))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        flag.level_kwh = 0.0
