"""Periodic jobs of the hazards app."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import escalate_due

logger = logging.getLogger("minesafe.hazards")


@db_periodic_task(crontab(hour="6", minute="5"))
def escalate_hazards_daily():
    """Every morning, before offices open: overdue and slow hazards climb the escalation ladder."""
    run = escalate_due()
    logger.info("escalation: %d hazards checked, %d escalated", run.checked, run.escalated)
    return run.escalated
