"""Periodic jobs of the monitoring app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .partitions import ensure_partitions
from .services import check_silence, escalate_alarms, run_forecasts

logger = logging.getLogger("minesafe.monitoring")


@db_periodic_task(crontab(minute="*"))
def watch_alarms_every_minute():
    """Silent sensors and dark mines raise no-data alarms; unanswered alarms are reminded and escalated."""
    silence = check_silence()
    escalation = escalate_alarms()
    if silence.silent or escalation.escalated or escalation.reminded:
        logger.info("monitoring: %d silent sensors, %d dark mines, %d escalated, %d reminded",
                    silence.silent, silence.dark_mines, escalation.escalated, escalation.reminded)
    return escalation.escalated


@db_periodic_task(crontab(minute="*/10"))
def forecast_failures_every_ten_minutes():
    """Inverse-velocity failure-time forecasts on displacement sensors; failure within the horizon is red."""
    run = run_forecasts()
    if run.alarms:
        logger.warning("monitoring: %d displacement sensors forecast to fail within the horizon", run.alarms)
    return run.alarms


@db_periodic_task(crontab(hour="2", minute="15"))
def create_reading_partitions_daily():
    """PostgreSQL: keep the next months' reading partitions ready (never created on the ingest path)."""
    return ensure_partitions()


@db_periodic_task(crontab(minute="40"))
def watch_suspended_mines_hourly():
    """Suspended mines: electricity, people underground and explosives; a sign of production is a county task.
    Hourly because positioning data arrives all the time; meter uploads also trigger a scan of their mines."""
    from .suspension import scan

    run = scan()
    if run.flags:
        logger.warning("monitoring: %d new signs of production in %d suspended mines", run.flags, run.mines)
    return run.flags


@db_periodic_task(crontab(minute="20"))
def check_data_quality_hourly():
    """Stuck, replayed, jumping, drifting or too-smooth data: a data-quality alarm with the evidence."""
    from .integrity import run_quality_checks

    run = run_quality_checks()
    if run.alarms:
        logger.warning("monitoring: %d data-quality alarms over %d sensors", run.alarms, run.checked)
    return run.alarms
