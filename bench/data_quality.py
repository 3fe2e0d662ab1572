"""Evaluate the falsified/broken-data detectors (minesafe.monitoring.quality); no Django or database needed.

For each fault type (flat, replay, jump, clock_drift, smooth) and many seeds, over several analogue kinds (gas at
20 s, displacement and water level at 10 min, radar at 5 min, electric power at 5 min...), a labelled series from
`quality.generate` (one day, at least 720 readings) is checked with `check_series`:
- recall: the share of faulted series with a finding of the fault's check overlapping the true span;
- span overlap: the median share of the true span covered by the matching finding;
- cross findings: findings of another check, or off the fault span, per faulted sensor-day (a flat segment ending
  in a level shift is such a finding, and a real one);
- false findings on clean series of every kind (also fan state, people underground, 24 h rainfall, which are
  allowed to be flat), per sensor-day, plus week-long series (30000 readings) of the 20-30 s kinds;
- throughput of check_series on a 24 h window of a 20 s gas sensor (4320 readings) and on 10^5 readings.
The last line printed is one JSON object.
    python bench/data_quality.py [--seeds 30]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minesafe.monitoring import quality as q  # noqa: E402

FAULT_KINDS = ["co", "o2", "wind_speed", "water_level", "surface_displacement", "radar_displacement",
               "pore_pressure", "electricity"]
LONG_KINDS = ["co", "o2", "nox", "wind_speed", "fan_state", "people_underground"]
CLEAN_KINDS = FAULT_KINDS + ["nox", "internal_displacement", "seepage", "phreatic_depth", "fan_state",
                             "people_underground", "rainfall"]


def sensor_days(g: q.Generated) -> float:
    return (g.ts[-1] - g.ts[0] + q.KIND_PROFILES[g.kind].interval_s) / q.DAY


def overlap(finding: q.Finding, span: tuple[float, float]) -> float:
    """Share of the true span covered by the finding (a single-reading span counts as covered)."""
    length = span[1] - span[0]
    return 1.0 if length <= 0 else min(1.0, (min(finding.end, span[1]) - max(finding.start, span[0])) / length)


def faults(seeds: int) -> dict:
    figures = {}
    for fault in q.CHECKS:
        hits = runs = 0
        covered, cross, days = [], 0, 0.0
        misses = []
        for seed in range(seeds):
            for kind in FAULT_KINDS:
                g = q.generate(seed, kind, fault=fault)
                found = q.check_series(g.ts, g.values, g.received, g.config)
                slack = q.KIND_PROFILES[kind].interval_s
                matching = [f for f in found
                            if f.check == fault and f.start <= g.span[1] + slack and f.end >= g.span[0] - slack]
                runs += 1
                days += sensor_days(g)
                cross += len(found) - len(matching)
                if matching:
                    hits += 1
                    covered.append(max(overlap(f, g.span) for f in matching))
                else:
                    misses.append(f"{kind}/{seed}/{g.detail.get('variant', g.detail.get('type', ''))}")
        figures[f"{fault}_recall_ratio"] = round(hits / runs, 3)
        figures[f"{fault}_span_overlap_median_ratio"] = round(float(np.median(covered)), 3) if covered else None
        figures[f"{fault}_cross_findings_per_sensor_day"] = round(cross / days, 3)
        if misses:
            print(f"  {fault} missed: {', '.join(misses[:12])}{' ...' if len(misses) > 12 else ''}")
    return figures


def clean(seeds: int) -> dict:
    findings, days, runs = 0, 0.0, 0
    by_check = dict.fromkeys(q.CHECKS, 0)
    for seed in range(seeds):
        for kind in CLEAN_KINDS:
            g = q.generate(10_000 + seed, kind)
            found = q.check_series(g.ts, g.values, g.received, g.config)
            runs += 1
            days += sensor_days(g)
            findings += len(found)
            for f in found:
                by_check[f.check] += 1
                print(f"  clean {kind}/{10_000 + seed}: {f.check}: {f.summary}")
    for seed in range(max(1, seeds // 10)):  # a week of the 20-30 s kinds: more room for chance repeats
        for kind in LONG_KINDS:
            g = q.generate(20_000 + seed, kind, n=30_000)
            found = q.check_series(g.ts, g.values, g.received, g.config)
            runs += 1
            days += sensor_days(g)
            findings += len(found)
            for f in found:
                by_check[f.check] += 1
                print(f"  clean {kind}/{20_000 + seed} (30000 readings): {f.check}: {f.summary}")
    figures = {"clean_series": runs, "clean_sensor_days": round(days, 1),
               "clean_false_findings_per_sensor_day": round(findings / days, 4)}
    figures.update({f"clean_{check}_findings": count for check, count in by_check.items()})
    return figures


def throughput() -> dict:
    figures = {}
    for name, n in (("day", 4320), ("100k", 100_000)):
        g = q.generate(7, "co", n=n, fault="replay")
        repeats = 20 if n < 10_000 else 3
        q.check_series(g.ts, g.values, g.received, g.config)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            q.check_series(g.ts, g.values, g.received, g.config)
        elapsed = (time.perf_counter() - started) / repeats
        figures[f"check_{name}_ms"] = round(elapsed * 1000, 2)
        figures[f"check_{name}_readings_per_s"] = round(n / elapsed)
    figures["check_readings_per_s"] = figures["check_day_readings_per_s"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = faults(args.seeds)
    figures.update(clean(args.seeds))
    figures.update(throughput())
    for key, value in figures.items():
        print(f"  {key}: {value}")
    figures["seeds"] = args.seeds
    figures["runtime_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
