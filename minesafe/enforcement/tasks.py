"""Periodic jobs of the enforcement app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .accidents import remind_overdue_tasks

logger = logging.getLogger("minesafe.enforcement")


@db_periodic_task(crontab(hour="6", minute="30"))
def remind_overdue_follow_up_tasks_daily():
    """Every morning: consequences of accidents (suspension, summons) past their due date are reminded to
    the responsible unit, and a county's to the city too (once a day while overdue)."""
    overdue, reminded = remind_overdue_tasks()
    if overdue:
        logger.warning("enforcement: %d follow-up tasks overdue, %d reminded", overdue, reminded)
    return reminded
