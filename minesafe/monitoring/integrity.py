"""Falsified or broken sensor data (issue 5, part 3): each finding of `quality.py` over a sensor's recent
readings keeps a data-quality alarm open on the mine, with the finding as the alarm's evidence.

Standards treat switched-off monitoring and falsified data (弄虚作假) as major hazards, so the alarm goes
through the same 叫应回应 handling and escalation as any other. One alarm per sensor and check (stuck value,
replayed segment, impossible jump, clock drift, too smooth); it clears when the check no longer finds it.
"""

import datetime as dt
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone

from . import quality
from .models import LEVEL_CODES, Alarm, Reading, Sensor

CLOCK_SAMPLES_KEPT = 96  # four days of hourly samples
MIN_REFERENCE_READINGS = 48  # readings before the window needed to know a sensor's own noise
QUALITY_SOURCE = Alarm.Source.DATA_QUALITY


def config() -> dict:
    from .services import catalogue

    return catalogue()["data_quality"]


@dataclass
class QualityRun:
    checked: int = 0
    findings: int = 0
    alarms: int = 0


def sensor_config(sensor: Sensor, cfg: dict, own_noise: float | None) -> quality.QualityConfig | None:
    """The kind's defaults, except: the time step is not judged (a gateway sending 5-minute statistics of a
    20-second sensor is allowed by the access specification; silence has its own no-data alarm), and "too
    smooth" is judged against the sensor's own noise before the window, never against a kind-wide guess (a
    good instrument is quieter than a poor one); without that history the check is not made."""
    try:
        base = quality.QualityConfig.for_kind(sensor.kind)
    except ValueError:
        return None  # a kind the checks have no profile for: nothing is claimed about it
    base = replace(base, interval_s=None, allow_flat=base.allow_flat or sensor.kind in cfg.get("allow_flat", []))
    if own_noise is None or own_noise <= 0 or sensor.kind in cfg.get("not_smooth_checked", []):
        # Unknown noise: only exact repeats count as stuck, and smoothness is not judged.
        return replace(base, flat_tolerance=0.0, checks=tuple(c for c in base.checks if c != "smooth"))
    # A sensor noisier than a few resolution steps hardly ever holds within one step for long (a frozen one
    # flickering between neighbouring values is stuck too); a quieter one may, so only exact repeats count.
    tolerance = base.resolution if own_noise >= 3 * base.resolution else 0.0
    return replace(base, noise=own_noise, flat_tolerance=tolerance)


def own_noise(sensor: Sensor, before: dt.datetime, hours: float) -> float | None:
    """The sensor's short-term noise over the `hours` before `before` (its own reference), or None."""
    values = list(Reading.objects.filter(sensor_id=sensor.pk, ts__gte=before - dt.timedelta(hours=hours),
                                         ts__lt=before).order_by("ts").values_list("value", flat=True))
    if len(values) < MIN_REFERENCE_READINGS:
        return None
    return quality.estimate_noise(values)


def sample_clock(sensor: Sensor) -> list[list[float]]:
    """Append [received, reading time] of the sensor's newest reading when it is new; kept on the sensor."""
    samples = list(sensor.clock_samples or [])
    if sensor.last_received_at and sensor.last_ts:
        sample = [sensor.last_received_at.timestamp(), sensor.last_ts.timestamp()]
        if not samples or samples[-1][0] < sample[0]:
            samples = (samples + [sample])[-CLOCK_SAMPLES_KEPT:]
            Sensor.objects.filter(pk=sensor.pk).update(clock_samples=samples)
    return samples


def findings_for(sensor: Sensor, since: dt.datetime, until: dt.datetime, cfg: dict) -> list[quality.Finding]:
    qc = sensor_config(sensor, cfg, own_noise(sensor, since, cfg["reference_h"]))
    if qc is None:
        return []
    rows = list(Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since, ts__lte=until).order_by("ts")
                .values_list("ts", "value"))
    found = []
    if len(rows) >= 2:
        ts = [r[0].timestamp() for r in rows]
        values = [r[1] for r in rows]
        found = quality.check_series(ts, values, None, qc)  # clock_drift here: the step against the interval
    samples = sample_clock(sensor)
    if len(samples) >= 8:
        # The newest reading's time against the server's receive time, sampled hourly.
        received = [s[0] for s in samples]
        stamped = [s[1] for s in samples]
        order = sorted(range(len(samples)), key=lambda i: stamped[i])
        stamped = [stamped[i] for i in order]
        received = [received[i] for i in order]
        if len(set(stamped)) == len(stamped):
            found += quality.find_clock_drift(stamped, received, replace(
                qc, interval_s=None, clock_bin_s=4 * 3600, clock_min_span_s=12 * 3600))
    return found


def run_quality_checks(now: dt.datetime | None = None) -> QualityRun:
    """Check every live measured sensor's last `window_h` hours; keep one alarm per sensor and check open
    while the check finds something, and clear it when it no longer does."""
    from .services import apply_level

    now = now or timezone.now()
    cfg = config()
    since = now - dt.timedelta(hours=cfg["window_h"])
    level = LEVEL_CODES[cfg["level"]]
    run = QualityRun()
    open_keys = set(Alarm.objects.filter(source=QUALITY_SOURCE, closed_at__isnull=True, active=True)
                    .values_list("key", flat=True))
    sensors = Sensor.objects.filter(active=True, source__isnull=True, last_received_at__gte=since)
    for sensor in sensors.iterator():
        run.checked += 1
        try:
            found = findings_for(sensor, since, now, cfg)
        except quality.QualitySeriesError:
            found = []  # readings are unique per (sensor, ts) and finite: cannot happen; never a guess
        by_check: dict[str, quality.Finding] = {}
        for f in found:
            if f.check not in by_check or f.score > by_check[f.check].score:
                by_check[f.check] = f  # the strongest finding of each check stands for it
        run.findings += len(found)
        for check in quality.CHECKS:
            key = f"q{sensor.pk}:{check}"
            finding = by_check.get(check)
            if finding is None and key not in open_keys:
                continue
            with transaction.atomic():
                alarm = apply_level(
                    key, mine_id=sensor.mine_id, sensor_id=sensor.pk, source=QUALITY_SOURCE, kind=sensor.kind,
                    level=level if finding else 0, value=round(finding.score, 2) if finding else None, now=now,
                    note=finding.summary if finding else "",
                    evidence=finding.to_json() if finding else None)
            run.alarms += bool(finding and alarm)
    return run


# Evidence for people --------------------------------------------------------------------------------
SPAN_KEYS = (("original_start", "original_end"), ("copy_start", "copy_end"))


@dataclass
class EvidenceView:
    summary: str
    spans: list[tuple[str, dt.datetime, dt.datetime]]  # (what, from, to)
    chart: object | None


def evidence_view(alarm: Alarm) -> EvidenceView | None:
    """What a data-quality alarm found, with the sensor's readings around it and the suspicious spans marked."""
    from django.utils.translation import gettext as _

    from . import charts
    from .services import sensor_series

    finding = alarm.evidence or {}
    if alarm.source != QUALITY_SOURCE or "start" not in finding:
        return None
    detail = finding.get("evidence", {})
    when = [(_("suspicious span"), finding["start"], finding["end"])]
    when += [(_("original") if a.startswith("original") else _("copy"), detail[a], detail[b])
             for a, b in SPAN_KEYS if a in detail and b in detail]
    spans = [(label, dt.datetime.fromtimestamp(a, dt.UTC), dt.datetime.fromtimestamp(b, dt.UTC))
             for label, a, b in when]
    chart = None
    if alarm.sensor_id:
        first, last = min(s[1] for s in spans), max(s[2] for s in spans)
        margin = max((last - first) * 0.15, dt.timedelta(hours=1))
        since, until = first - margin, last + margin
        series = sensor_series(alarm.sensor, since, until)
        if series:
            chart = charts.build(series, since, until, [], gap_s=3 * alarm.sensor.interval_s)
            charts.mark_times(chart, since, until, [(a, f"{label} ▸") for label, a, _b in spans]
                              + [(b, f"◂ {label}") for label, _a, b in spans[1:]])
    return EvidenceView(summary=finding.get("summary", ""), spans=spans, chart=chart)
