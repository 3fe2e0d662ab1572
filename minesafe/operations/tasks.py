"""Periodic jobs of the operations app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .suspension import remind_overdue

logger = logging.getLogger("minesafe.operations")


@db_periodic_task(crontab(hour="6", minute="10"))
def remind_overdue_city_reports_daily():
    """Every morning: stopped mines the county has not reported to the city within 5 days of the stop are
    reminded to the county and the city (once a day while overdue)."""
    run = remind_overdue()
    if run.overdue:
        logger.warning("suspension: %d stopped mines not reported to the city in time, %d reminded",
                       run.overdue, run.reminded)
    return run.reminded
