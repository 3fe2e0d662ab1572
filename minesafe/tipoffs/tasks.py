"""Periodic jobs of the whistleblower-report app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .escalation import escalate_overdue

logger = logging.getLogger("minesafe.tipoffs")


@db_periodic_task(crontab(hour="6", minute="20"))
def escalate_overdue_reports_daily():
    """Every morning: reports past their step's deadline are reminded to the handling county; those
    `city_after_days` late are reported to the city once per step."""
    run = escalate_overdue()
    if run.overdue:
        logger.warning("tipoffs: %d reports overdue, %d reminded, %d reported to the city",
                       run.overdue, run.reminded, run.escalated)
    return run.escalated
