"""Evaluate the illegal-production detector (minesafe.monitoring.power) on labelled synthetic mines; no Django.

Each seed is one mine from `power.generate` (60-120 producing days, then a year of suspension with pumps and
ventilation, winter heating, 5-15 % noise, gaps and outages, rain spikes of 1-2 days, and 0-3 hidden production
episodes of 3-30 days at 15-100 % of the producing-minus-baseline gap). The detector gets the daily series, the
suspension date and the producing level from `producing_profile` (the labels are used only here, for scoring).

- precision: detections whose detected day falls inside a true episode (up to GRACE days after its end) / all
  detections; a second detection of the same episode counts as correct but is also reported as a duplicate;
- recall: episodes with at least one such detection / episodes, also by size (share of the gap) and duration;
- delay: detected day - true start of the episode (first detection), median and 90th percentile, in days;
- false flags per mine-year: detections on the series without any episode, per year of suspension.
The same on hourly-generated series (production at night only, aggregated by `daily_totals`), on the daily series
without a producing level (the material rise then falls back to a share of the baseline), and on the daily series
with review (`reviewed_*`): every false flag is judged legitimate by an inspector and fed back as `accepted_from`
(its change day), the way the platform uses the detector; a false flag counts once, before it was accepted.
Last, series with a legitimate lasting rise (a new pump: `generate(..., legit_step=True)`), without review
(`step_*`: it flags, and the detector stays in alarm, blind to later episodes) and with review (`step_reviewed_*`).
The last line printed is one JSON object.
    python bench/illegal_production.py [--seeds 300] [--hourly-seeds 100] [--set NAME=VALUE ...]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _setup import with_overrides  # noqa: E402

from minesafe.monitoring import power  # noqa: E402

GRACE = 3  # days after an episode's end a detection still counts as that episode's
SIZE_BUCKETS = ((0.15, 0.3), (0.3, 0.6), (0.6, 1.01))
LENGTH_BUCKETS = ((1, 6), (7, 14), (15, 31))  # hourly labels can spill one day


def within(flag: power.Detection, episode: power.Episode) -> bool:
    return episode.start <= flag.detected_day <= episode.end + power.dt.timedelta(days=GRACE)


def reviewed(mine: power.Synthetic, producing: float | None, config: power.DetectorConfig) -> list[power.Detection]:
    """The detections when an inspector reviews every flag: a false one is judged legitimate and accepted from its
    change day (detect relearns the baseline from there); the replay goes on from the day it was flagged."""
    accepted, kept = None, []
    while True:
        flags = [f for f in power.detect(mine.days, mine.suspended_from, producing, accepted, config)
                 if not kept or f.detected_day > kept[-1].detected_day]
        false = next((f for f in flags if not any(within(f, e) for e in mine.episodes)), None)
        if false is None:
            return kept + flags
        kept += [f for f in flags if f.detected_day <= false.detected_day]
        accepted = false.change_day


def score(mines: list[power.Synthetic], config: power.DetectorConfig, use_producing: bool = True,
          review: bool = False) -> dict:
    detections = correct = duplicates = 0
    episodes = found = 0
    delays: list[int] = []
    change_errors: list[int] = []
    clean_flags = clean_days = 0
    by_size = {bucket: [0, 0] for bucket in SIZE_BUCKETS}
    by_length = {bucket: [0, 0] for bucket in LENGTH_BUCKETS}
    for mine in mines:
        producing = power.producing_profile(mine.days, mine.suspended_from) if use_producing else None
        if review:
            flags = reviewed(mine, producing, config)
        else:
            flags = power.detect(mine.days, mine.suspended_from, producing, config=config)
        detections += len(flags)
        if not mine.episodes:
            clean_flags += len(flags)
            clean_days += mine.suspension_days
        hit_by: dict[int, list[power.Detection]] = {}
        for flag in flags:
            for i, ep in enumerate(mine.episodes):
                if within(flag, ep):
                    hit_by.setdefault(i, []).append(flag)
                    correct += 1
                    break
        for i, ep in enumerate(mine.episodes):
            episodes += 1
            hits = hit_by.get(i, [])
            duplicates += max(0, len(hits) - 1)
            size = next(b for b in SIZE_BUCKETS if b[0] <= ep.gap_share < b[1])
            length = next(b for b in LENGTH_BUCKETS if b[0] <= (ep.end - ep.start).days + 1 <= b[1])
            by_size[size][1] += 1
            by_length[length][1] += 1
            if hits:
                found += 1
                by_size[size][0] += 1
                by_length[length][0] += 1
                delays.append((hits[0].detected_day - ep.start).days)
                change_errors.append((hits[0].change_day - ep.start).days)
    out = {
        "precision_ratio": round(correct / detections, 3) if detections else None,
        "recall_ratio": round(found / episodes, 3) if episodes else None,
        "median_delay_days": round(float(np.median(delays)), 1) if delays else None,
        "p90_delay_days": round(float(np.percentile(delays, 90)), 1) if delays else None,
        "median_abs_change_day_error_days": float(np.median(np.abs(change_errors))) if change_errors else None,
        "false_flags_per_mine_year": round(clean_flags / (clean_days / 365.0), 3) if clean_days else None,
        "detections": detections, "false_detections": detections - correct, "duplicate_detections": duplicates,
        "episodes": episodes, "series": len(mines),
    }
    for (lo, hi), (hit, total) in by_size.items():
        out[f"recall_size_{round(lo * 100)}_{min(100, round(hi * 100))}pct_ratio"] = (
            round(hit / total, 3) if total else None)
    for (lo, hi), (hit, total) in by_length.items():
        out[f"recall_length_{lo}_{hi}d_ratio"] = round(hit / total, 3) if total else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=300, help="daily-generated series")
    parser.add_argument("--hourly-seeds", type=int, default=100, help="hourly-generated series")
    parser.add_argument("--step-seeds", type=int, default=100, help="daily series with a legitimate lasting rise")
    parser.add_argument("--first-seed", type=int, default=0, help="tune on other seeds than those reported")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a detector setting (power.DetectorConfig field)")
    args = parser.parse_args()
    config = with_overrides(power.DetectorConfig, args.set)
    started = time.perf_counter()
    first = args.first_seed
    daily = [power.generate(first + seed) for seed in range(args.seeds)]
    hourly = [power.generate_hourly(100_000 + first + seed) for seed in range(args.hourly_seeds)]
    stepped = [power.generate(200_000 + first + seed, legit_step=True) for seed in range(args.step_seeds)]
    generated = time.perf_counter()
    figures = score(daily, config)
    detect_s = time.perf_counter() - generated
    variants = (("hourly", hourly, True, False), ("no_producing", daily, False, False), ("reviewed", daily, True, True),
                ("step", stepped, True, False), ("step_reviewed", stepped, True, True))
    for name, mines, producing, review in variants:
        for key, value in score(mines, config, producing, review).items():
            figures[f"{name}_{key}"] = value
    for key, value in figures.items():
        print(f"  {key}: {value}")
    mine_days = sum(m.suspension_days for m in daily)
    figures["detect_days_per_s"] = round(mine_days / detect_s)
    figures["generate_s"] = round(generated - started, 1)
    figures["runtime_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
