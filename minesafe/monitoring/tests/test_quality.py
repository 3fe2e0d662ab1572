"""Detectors of falsified or broken sensor data (minesafe.monitoring.quality): pure, no database."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from minesafe.monitoring import quality as q

H, D = 3600.0, 86400.0
T0 = 1_717_200_000.0
REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "sensor_kinds.yaml"


def checks(findings):
    return [f.check for f in findings]


def run(g: q.Generated, **overrides):
    config = q.QualityConfig.for_kind(g.kind, **overrides) if overrides else g.config
    return q.check_series(g.ts, g.values, g.received, config)


def quiet_series(n=4320, step=20.0, noise=0.3, level=5.0, resolution=0.1, daily=1.0, seed=0):
    """A noisy analogue series with a daily cycle, quantised to the resolution."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(n) * step
    v = level + daily * np.sin(2 * math.pi * (t - T0) / D) + rng.normal(0, noise, n)
    return t, np.round(np.round(v / resolution) * resolution, 6)


# ---------------------------------------------------------------------------------------------------- flat


@pytest.mark.parametrize("kind", ["co", "water_level", "electricity"])
def test_frozen_sensor_is_reported_flat_with_its_span_and_a_useful_summary(kind):
    g = q.generate(3, kind, fault="flat")
    found = run(g)
    assert checks(found) == ["flat"]
    f = found[0]
    step = q.KIND_PROFILES[kind].interval_s
    assert abs(f.start - g.span[0]) <= 1.5 * step and abs(f.end - g.span[1]) <= 1.5 * step
    assert re.fullmatch(r"value [\d.-]+ \S+ unchanged for [\d.]+ (min|h|d) \(\d+ readings\)", f.summary), f.summary
    assert f"{g.detail['value']:.{q._decimals(g.config.resolution)}f}" in f.summary
    assert f.evidence["readings"] >= g.detail["readings"] and f.score >= 1


def test_flat_needs_both_the_minimum_duration_and_the_minimum_readings():
    t, v = quiet_series()
    config = q.QualityConfig.for_kind("co")
    frozen = v.copy()
    frozen[1000:1000 + 170] = frozen[1000]  # 169 steps of 20 s = 56 min: under the hour
    assert q.find_flat(t, frozen, config) == []
    frozen[1000:1000 + 200] = frozen[1000]  # 66 min
    (f,) = q.find_flat(t, frozen, config)
    assert (f.start, f.end) == (t[1000], t[1199]) and f.evidence["readings"] == 200
    assert q.find_flat(t, frozen, q.QualityConfig.for_kind("co", flat_min_readings=300)) == []


def test_a_frozen_sensor_toggling_between_two_neighbouring_values_is_flat():
    t, v = quiet_series()
    v[2000:2600] = 4.0 + 0.1 * (np.arange(600) % 2)
    (f,) = q.find_flat(t, v, q.QualityConfig.for_kind("co"))
    assert f.start == pytest.approx(t[2000], abs=40) and f.end == pytest.approx(t[2599], abs=40)
    assert "stuck between 4.0 ppm and 4.1 ppm" in f.summary


def test_kinds_allowed_to_be_flat_are_not_reported():
    t = T0 + np.arange(4320) * 20.0
    fan_on = np.ones(4320)
    assert q.check_series(t, fan_on, t + 2.0, q.QualityConfig.for_kind("fan_state")) == []
    # the same data from a kind that must move is a frozen sensor
    assert checks(q.check_series(t, fan_on, t + 2.0, q.QualityConfig(resolution=1.0))) == ["flat"]
    # 0 ppm of CO in fresh air is normal; a CO reading frozen at 3.2 ppm is not
    assert q.find_flat(t, np.zeros(4320), q.QualityConfig.for_kind("co")) == []
    assert checks(q.find_flat(t, np.full(4320, 3.2), q.QualityConfig.for_kind("co"))) == ["flat"]


# ---------------------------------------------------------------------------------------------------- replay


def test_exact_replay_names_the_original_and_the_copy():
    g = q.generate(11, "co")
    values = g.values.copy()
    values[3000:3300] = values[1200:1500]  # a gateway re-sends 100 minutes of readings with new timestamps
    (f,) = q.find_replays(g.ts, values, g.config)
    assert f.check == "replay"
    ev = f.evidence
    assert ev["copy_start"] == pytest.approx(g.ts[3000], abs=60) and ev["copy_end"] == pytest.approx(g.ts[3299], abs=60)
    assert ev["original_start"] == pytest.approx(g.ts[1200], abs=60)
    assert ev["original_end"] == pytest.approx(g.ts[1499], abs=60)
    assert 295 <= ev["matched_readings"] <= 305 and ev["offset"] == 0 and ev["agreement"] >= 0.95
    assert (f.start, f.end) == (ev["copy_start"], ev["copy_end"])
    assert ev["lag_s"] == pytest.approx(g.ts[3000] - g.ts[1200], abs=60) and not ev["periodic"]
    assert re.match(r"\d+ readings over [\d.]+ (min|h) repeat the values recorded [\d.]+ (min|h) earlier", f.summary)


def test_replay_with_a_constant_offset_and_with_small_differences_is_found():
    g = q.generate(12, "water_level", n=1000)
    shifted = g.values.copy()
    shifted[700:800] = shifted[200:300] + 0.25  # the copy is shifted by 25 cm
    (f,) = q.find_replays(g.ts, shifted, g.config)
    assert f.evidence["offset"] == pytest.approx(0.25)
    assert "shifted by +0.250 m" in f.summary
    near = g.values.copy()
    near[700:800] = near[200:300]
    near[[710, 733, 760, 781]] += 0.001  # a few readings one resolution off
    (f,) = q.find_replays(g.ts, near, g.config)
    assert f.evidence["agreement"] < 1 and f.evidence["matched_readings"] >= 90
    assert "identical" in f.summary


@pytest.mark.parametrize("seed", [1, 2])
def test_a_noisy_periodic_signal_is_not_a_replay(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    t = T0 + np.arange(n) * 20.0
    phase = np.arange(n) % 180  # a strict one-hour cycle, sampled at the same phases every hour
    v = np.round(5 + 2 * np.sin(2 * math.pi * phase / 180) + rng.normal(0, 0.3, n), 1)
    assert q.find_replays(t, v, q.QualityConfig.for_kind("co")) == []


def test_constant_and_slowly_stepping_signals_are_not_replays():
    t = T0 + np.arange(5000) * 20.0
    config = q.QualityConfig.for_kind("co")
    assert q.find_replays(t, np.full(5000, 3.0), config) == []
    assert q.find_replays(t, 3.0 + 0.1 * (np.arange(5000) // 50), config) == []  # a staircase: every window alike
    assert q.find_replays(t, 3.0 + 0.1 * (np.arange(5000) % 2), config) == []


def test_replay_is_found_in_a_hundred_thousand_readings():
    g = q.generate(5, "co", n=100_000, fault="replay")
    found = [f for f in q.find_replays(g.ts, g.values, g.config) if f.check == "replay"]
    assert found and any(f.start <= g.span[1] and g.span[0] <= f.end for f in found)


def test_window_hashes_match_equal_windows_only():
    symbols = np.array([3, -1, 0, 2, 5, 3, -1, 0, 2, 7, 3, -1, 0, 2, 5])
    h = q.window_hashes(symbols, 5)
    assert h[0] == h[10] and h[0] != h[5] and len(set(h.tolist())) == len(h) - 1


# ---------------------------------------------------------------------------------------------------- jump


def test_spike_and_level_shift_are_told_apart_and_both_reported():
    t, v = quiet_series(n=2000, step=600, noise=0.003, level=350, resolution=0.001)
    config = q.QualityConfig.for_kind("water_level")
    v[500] += 2.5  # one reading 2.5 m off, then back
    v[1500:] -= 1.2  # re-zeroed: a level shift of 1.2 m in 10 minutes
    spike, shift = q.find_jumps(t, v, config)
    assert spike.evidence["type"] == "spike" and (spike.start, spike.end) == (t[500], t[500])
    assert spike.evidence["before"] == [t[499], pytest.approx(v[499])]
    assert spike.evidence["return"][0] == t[501]
    assert spike.summary.startswith("spike to ") and "for 1 reading" in spike.summary
    assert shift.evidence["type"] == "shift" and (shift.start, shift.end) == (t[1499], t[1500])
    assert shift.evidence["change"] == pytest.approx(v[1500] - v[1499])
    assert shift.summary.startswith("level shift of -1.2") and "against a limit of" in shift.summary
    assert spike.score > 1 and shift.score > 1


def test_a_change_within_the_physical_rate_is_not_a_jump_even_after_a_gap():
    t, v = quiet_series(n=400, step=600, noise=0.003, level=350, resolution=0.001)
    config = q.QualityConfig.for_kind("water_level")  # at most 1 m per hour
    t[200:] += 4 * H  # a 4-hour outage ...
    v[200:] += 3.0  # ... over which the pond rose 3 m: possible
    assert q.find_jumps(t, v, config) == []
    v[300:] += 0.9  # 0.9 m in ten minutes: not possible
    (f,) = q.find_jumps(t, v, config)
    assert (f.start, f.end) == (t[299], t[300])


@pytest.mark.parametrize("seed", range(4))
def test_generated_jumps_are_found_at_their_place(seed):
    g = q.generate(seed, "o2", fault="jump")
    (f,) = run(g)
    assert f.check == "jump" and f.evidence["type"] == g.detail["type"]
    assert (f.start, f.end) == pytest.approx(g.span)


# ---------------------------------------------------------------------------------------------------- clock


@pytest.mark.parametrize(("kind", "seed"), [("co", 1), ("co", 2), ("water_level", 3), ("electricity", 4)])
def test_clock_drift_is_measured_from_where_it_starts(kind, seed):
    g = q.generate(seed, kind, fault="clock_drift")
    (f,) = run(g)
    assert f.check == "clock_drift" and f.evidence["mode"] == "drift"
    assert f.evidence["drift_s_per_day"] == pytest.approx(g.detail["drift_s_per_day"], rel=0.15)
    assert abs(f.start - g.span[0]) <= 2 * H and f.end == g.span[1]
    assert re.match(r"reading times drift [\d.]+ (s|min|h) per day against the server clock \(sensor clock "
                    r"(fast|slow)\)", f.summary)
    assert len(f.evidence["lowest_delays"]) <= 200


def test_buffered_uploads_and_a_few_seconds_of_natural_drift_are_not_clock_faults():
    t = T0 + np.arange(4320) * 20.0
    received = t + 1.0 + 3.0 / D * (t - T0)  # 3 s/day: an ordinary quartz clock
    received[1000:1300] = t[1299] + 5  # an hour and a half buffered, then sent at once
    assert q.find_clock_drift(t, received, q.QualityConfig.for_kind("co")) == []


def test_clock_offset_and_wrong_interval_are_reported():
    t = T0 + np.arange(2000) * 20.0
    (f,) = q.find_clock_drift(t, t + 2 * H, q.QualityConfig.for_kind("co"))
    assert f.evidence["mode"] == "offset" and "2.0 h behind the server clock" in f.summary
    t30 = T0 + np.arange(2000) * 30.0
    (f,) = q.find_clock_drift(t30, None, q.QualityConfig.for_kind("co"))
    assert f.evidence["mode"] == "interval" and f.evidence["median_step_s"] == 30
    assert "every 30 s, expected every 20 s" in f.summary


# ---------------------------------------------------------------------------------------------------- smooth


def test_noise_is_estimated_through_trends_cycles_and_spikes():
    rng = np.random.default_rng(3)
    t = np.arange(5000) * 600.0
    v = 350 + 0.2 * np.sin(2 * math.pi * t / D) + 0.01 * t / D + rng.normal(0, 0.004, 5000)
    v[::250] += 1.0  # glitches
    assert q.estimate_noise(v) == pytest.approx(0.004, rel=0.1)
    with pytest.raises(q.QualitySeriesError):
        q.estimate_noise([1.0, 2.0])


def test_fabricated_straight_line_is_too_smooth():
    t, v = quiet_series()
    v[1000:2000] = np.round(np.linspace(v[1000], v[1000] + 3.0, 1000), 1)  # typed in as a straight line
    (f,) = q.find_smooth(t, v, q.QualityConfig.for_kind("co"))
    assert f.check == "smooth"
    assert abs(f.start - t[1000]) <= 5 * 20 and abs(f.end - t[1999]) <= 5 * 20
    assert f.evidence["noise"] < 0.25 * 0.3 and f.evidence["expected_noise"] == 0.3
    assert re.search(r"\(\d+ readings\)", f.summary) and ("too smooth" in f.summary or "no noise" in f.summary)


@pytest.mark.parametrize("seed", range(3))
def test_generated_fabrications_are_found(seed):
    g = q.generate(seed, "surface_displacement", fault="smooth")
    found = [f for f in run(g) if f.check == "smooth"]
    assert found and all(g.span[0] - 2 * H <= f.start and f.end <= g.span[1] + 2 * H for f in found)
    assert sum(f.end - f.start for f in found) >= 0.7 * (g.span[1] - g.span[0])


def test_a_frozen_stretch_is_flat_not_smooth_and_a_staircase_is_smooth_not_flat():
    t, v = quiet_series(n=2000, step=600, noise=0.003, level=350, resolution=0.001, daily=0.02)
    config = q.QualityConfig.for_kind("water_level")
    frozen = v.copy()
    frozen[500:700] = frozen[500]
    assert checks(q.check_series(t, frozen, None, config)) == ["flat"]
    stairs = v.copy()
    stairs[500:900] = np.round(stairs[500] + 0.001 * (np.arange(400) // 20), 3)  # 1 mm every 200 minutes
    assert checks(q.check_series(t, stairs, None, config)) == ["smooth"]


# ---------------------------------------------------------------------------------------------------- clean data


@pytest.mark.parametrize("kind", ["co", "o2", "nox", "wind_speed", "water_level", "surface_displacement",
                                  "radar_displacement", "pore_pressure", "seepage", "electricity", "fan_state",
                                  "people_underground", "rainfall"])
def test_clean_realistic_series_raise_nothing(kind):
    for seed in (101, 102):
        g = q.generate(seed, kind)
        assert run(g) == [], (kind, seed)


def test_a_noisy_periodic_series_over_days_raises_nothing():
    rng = np.random.default_rng(9)
    t = T0 + np.arange(30_000) * 20.0
    hours = (t - T0) / H
    v = np.round(20.8 + 0.05 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 0.03, len(t)), 2)
    assert q.check_series(t, v, t + rng.exponential(2, len(t)), q.QualityConfig.for_kind("o2")) == []


# ---------------------------------------------------------------------------------------------------- input, output


@pytest.mark.parametrize(("ts", "values", "received", "index", "words"), [
    ([0, 20, 20, 60], [1, 2, 3, 4], None, 2, "not after"),
    ([0, 20, 10, 60], [1, 2, 3, 4], None, 2, "not after"),
    ([0, 20, 40, 60], [1, 2, float("nan"), 4], None, 2, "values[2] is not a finite number"),
    ([0, 20, float("inf"), 60], [1, 2, 3, 4], None, 2, "ts[2] is not a finite number"),
    ([0, 20, 40, 60], [1, 2, 3], None, 3, "values has 3 readings but ts has 4"),
    ([0, 20, 40, 60], [1, 2, 3, 4], [1, 2, None, 4], 2, "received[2] is not a finite number"),
    ([0, 20, 40, 60], [1, 2, 3, 4], [1, 2, 3], 3, "received has 3 readings"),
    ([0, 20, 40, 60], [1, "x", 3, 4], None, 1, "values[1] = 'x' is not a number"),
])
def test_bad_input_names_the_first_bad_reading(ts, values, received, index, words):
    with pytest.raises(q.QualitySeriesError) as raised:
        q.check_series(ts, values, received, q.QualityConfig.for_kind("co"))
    assert raised.value.index == index and words in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_every_finding_is_json_serialisable():
    found = []
    for fault in q.CHECKS:
        g = q.generate(21, "co", fault=fault)
        found += run(g)
    assert sorted(set(checks(found))) == sorted(q.CHECKS)
    for f in found:
        text = json.dumps(f.to_json(), allow_nan=False)
        assert json.loads(text)["evidence"] == f.evidence
        assert f.end >= f.start and f.score >= 1 and f.summary


def test_config_is_validated_and_built_per_kind():
    config = q.QualityConfig.for_kind("co", flat_min_duration_s=7200)
    assert (config.interval_s, config.resolution, config.noise, config.unit) == (20, 0.1, 0.3, "ppm")
    assert config.flat_min_duration_s == 7200 and not config.allow_flat
    assert q.QualityConfig.for_kind("people_underground").allow_flat
    for bad in ({"resolution": 0}, {"noise": -1.0}, {"flat_min_readings": 1}, {"smooth_ratio": 1.5},
                {"checks": ("flat", "magic")}, {"replay_min_readings": 2.5}):
        with pytest.raises(ValueError):
            q.QualityConfig(**bad)
    with pytest.raises(ValueError, match="unknown sensor kind 'methane'"):
        q.QualityConfig.for_kind("methane")


def test_only_the_chosen_checks_run():
    g = q.generate(4, "co", fault="flat")
    assert checks(run(g, checks=("flat",))) == ["flat"]
    assert run(g, checks=("jump", "smooth")) == []


def test_kind_profiles_follow_the_reference_sensor_kinds():
    yaml = pytest.importorskip("yaml")
    kinds = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))["kinds"]
    assert set(q.KIND_PROFILES) <= set(kinds)
    for name, profile in q.KIND_PROFILES.items():
        assert profile.interval_s == kinds[name]["interval_s"], name
        assert profile.unit == kinds[name]["unit"], name
        assert tuple(q.RANGES[name]) == tuple(kinds[name]["range"]), name


def test_generator_labels_its_faults():
    for fault in q.CHECKS:
        g = q.generate(8, "radar_displacement", fault=fault)
        assert g.ts[0] <= g.span[0] <= g.span[1] <= g.ts[-1]
        assert len(g.ts) == len(g.values) == len(g.received) == 720
    clean = q.generate(8, "radar_displacement")
    assert clean.span is None and clean.fault is None
    assert np.all(np.diff(clean.ts) > 0)
    with pytest.raises(ValueError, match="fault must be None or one of"):
        q.generate(8, "co", fault="tamper")
