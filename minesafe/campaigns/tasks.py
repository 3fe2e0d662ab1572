"""Periodic jobs of the campaigns app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .deadlines import remind_overdue

logger = logging.getLogger("minesafe.campaigns")


@db_periodic_task(crontab(hour="6", minute="50"))
def remind_overdue_campaign_sites_daily():
    """Every morning: bodies with campaign sites past the deadline are reminded; each overdue site is reported to
    the campaign's organiser once."""
    run = remind_overdue()
    if run.overdue:
        logger.warning("campaigns: %d sites overdue, %d bodies reminded, %d sites reported to the organisers",
                       run.overdue, run.reminded, run.reported)
    return run.reported
