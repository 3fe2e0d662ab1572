"""Periodic jobs of the penalties app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .zero import run_monthly

logger = logging.getLogger("minesafe.penalties")


@db_periodic_task(crontab(day="1", hour="7", minute="20"))
def flag_zero_penalty_counties_monthly():
    """On the first of the month: counties that inspected but decided no penalty last month (and last quarter,
    when a quarter ended) are reported to the city, once per period."""
    runs = run_monthly()
    for run in runs:
        if run.flagged:
            logger.warning("zero-penalty check %s–%s: %d counties flagged", run.period_start, run.period_end,
                           len(run.flagged))
    return len(runs)
