"""Periodic jobs of the core app (huey: in-process in `minesafe run`, Redis workers when scaled out)."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .audit import anchor_head, verify_chain

logger = logging.getLogger("minesafe.audit")


@db_periodic_task(crontab(hour="2", minute="17"))
def verify_audit_chain_nightly():
    """Recompute the audit chain every night so a silent edit is found within a day, then anchor its
    head outside the database so that cutting events off the end is found as well."""
    result = verify_chain()
    if result.ok:
        anchor_head()
        logger.info("audit chain verified: %d events", result.checked)
    else:
        logger.error("AUDIT CHAIN BROKEN at event #%s: %s", result.broken_seq, result.reason)
    return result.ok
