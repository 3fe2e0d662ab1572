"""Evaluate the failure-time forecaster (minesafe.monitoring.forecast); no Django or database needed.

(a) Synthetic series accelerating to failure (Voight power law, exponent α in 1.5–2.2, velocity one day before
    failure 20–100 mm/day, background creep 0.2–1 mm/day, Gaussian displacement noise 0.3 mm hourly / 1 mm daily),
    sampled hourly (20 days) and daily (90 days), many seeds: for the forecast standing 48 h, 24 h and 6 h before
    the true failure, the median and 90th percentile of |error| in hours, the median signed error (negative =
    early), and the share of runs with a forecast standing.
(b) The real series in shared/data/landslides (none of them failed): failure forecasts published (target 0) and
    readings over the velocity threshold.
The last line printed is one JSON object: *_h in hours, *_ratio shares, counts plain.
    python bench/forecast.py [--seeds 100] [--set NAME=VALUE ...]
"""

import argparse
import csv
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _setup import with_overrides  # noqa: E402

from minesafe.monitoring import forecast as fc  # noqa: E402

H, D = 3600.0, 86400.0
LEADS = (48, 24, 6)
DATA = ROOT.parent / "shared" / "data" / "landslides"
SAMPLING = {"hourly": (H, 20, 0.3), "daily": (D, 90, 1.0)}


def percentile(values, q):
    return round(float(np.percentile(values, q)), 1) if values else None


def synthetic(seeds: int, config: fc.Config) -> dict:
    figures = {}
    for name, (step, days, noise) in SAMPLING.items():
        errors = {lead: [] for lead in LEADS}
        runs = 0
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            alpha = rng.uniform(1.5, 2.2)
            tf = 1_800_000_000.0 + rng.uniform(0, step)  # failure between two readings
            series = fc.voight_series(tf, alpha, rng.uniform(20, 100), tf - days * D, step, noise,
                                      creep=rng.uniform(0.2, 1.0), rng=rng)
            states = list(fc.replay(series, config))
            runs += 1
            for lead in LEADS:
                standing = fc.standing_at(states, tf - lead * H)
                if standing is not None:
                    errors[lead].append((standing.failure_at - tf) / H)
        for lead in LEADS:
            e = errors[lead]
            absolute = [abs(x) for x in e]
            figures[f"{name}_{lead}h_median_abs_error_h"] = percentile(absolute, 50)
            figures[f"{name}_{lead}h_p90_abs_error_h"] = percentile(absolute, 90)
            figures[f"{name}_{lead}h_median_signed_error_h"] = percentile(e, 50)
            figures[f"{name}_{lead}h_standing_ratio"] = round(len(e) / runs, 3)
        figures[f"{name}_runs"] = runs
    return figures


def monthly_gps(folder: str) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list] = {}
    with open(DATA / folder / "gps_displacement_monthly.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["dF_mm"]:  # the blanked duplicate month (2011-03) is dropped
                month = dt.datetime.strptime(row["month"] + "-15", "%Y-%m-%d").replace(tzinfo=dt.UTC)
                out.setdefault(f"{folder}/{row['station']}", []).append((month.timestamp(), float(row["dF_mm"])))
    return out


def real() -> dict:
    series = {}
    for folder in ("baishuihe", "bazimen"):
        if (DATA / folder).is_dir():
            series.update(monthly_gps(folder))
    if (DATA / "lamosano").is_dir():
        with open(DATA / "lamosano" / "H_lamo.csv", newline="") as handle:
            series["lamosano/p5"] = [  # the sensor's sign convention: movement is negative
                (dt.datetime.fromisoformat(r["date"]).replace(tzinfo=dt.UTC).timestamp(), -float(r["p5"]))
                for r in csv.DictReader(handle)]
    forecasts = alarms = readings = used = 0
    for name, points in sorted(series.items()):
        if len(points) < fc.Config().min_points:
            continue
        states = list(fc.replay(points))
        used += 1
        readings += len(states)
        published = sum(isinstance(s.event, fc.Forecast) for s in states)
        alarmed = sum(s.velocity_alarm for s in states)
        forecasts += published
        alarms += alarmed
        print(f"  {name}: {len(states)} readings, {published} forecasts, {alarmed} readings over "
              f"{fc.Config().velocity_alarm_mm_per_day:g} mm/day")
    return {"real_series": used, "real_readings": readings, "real_forecasts_published": forecasts,
            "real_velocity_alarm_readings": alarms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a forecaster setting (fc.Config field) for the synthetic runs")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = synthetic(args.seeds, with_overrides(fc.Config, args.set))
    for key, value in figures.items():
        print(f"  {key}: {value}")
    figures.update(real())
    figures["seeds"] = args.seeds
    figures["runtime_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
