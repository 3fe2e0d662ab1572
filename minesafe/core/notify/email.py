"""E-mail channel: Django's configured backend (console in the embedded default)."""

import logging

from django.conf import settings
from django.core.mail import send_mass_mail

logger = logging.getLogger("minesafe.notify")


def deliver(people, subject: str, body: str, link: str) -> int:
    messages = [(f"[MineSafe] {subject}", f"{body}\n\n{link}".strip(), settings.DEFAULT_FROM_EMAIL, [p.email])
                for p in people if p.email]
    if not messages:
        return 0
    try:
        return send_mass_mail(messages, fail_silently=False)
    except OSError:  # the in-app notification stands; a mail outage must not undo a state change
        logger.exception("e-mail delivery failed for %d recipients", len(messages))
        return 0
