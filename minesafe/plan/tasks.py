"""Periodic jobs of the plan app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import remind_overdue

logger = logging.getLogger("minesafe.plan")


@db_periodic_task(crontab(hour="6", minute="40"))
def remind_overdue_progress_reports_daily():
    """Every morning: units with overdue progress reports are reminded; reports `city_after_days` late are
    reported to the city bureau once."""
    run = remind_overdue()
    if run.overdue:
        logger.warning("plan: %d progress reports overdue, %d units reminded, %d reported to the city",
                       run.overdue, run.reminded, run.escalated)
    return run.reminded
