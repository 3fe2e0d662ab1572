"""Notifications: one interface, one module per channel (in-app always; e-mail where people have one).

Callers name organisations or users; the function resolves them to active people and sends.
"""

from collections.abc import Iterable

from django.db import transaction

from minesafe.core.models import Notification, Organisation, User

from . import email


def recipients(organisations: Iterable[Organisation] = (), users: Iterable[User] = ()) -> list[User]:
    people = {u.pk: u for u in users if u.is_active}
    org_ids = [o.pk for o in organisations if o is not None]
    if org_ids:
        people.update({u.pk: u for u in User.objects.filter(organisation_id__in=org_ids, is_active=True)})
    return list(people.values())


def send(subject: str, body: str = "", link: str = "", *, organisations: Iterable[Organisation] = (),
         users: Iterable[User] = ()) -> list[Notification]:
    """In-app notifications now; other channels after the transaction commits (never for a rollback)."""
    people = recipients(organisations, users)
    notes = Notification.objects.bulk_create(
        [Notification(recipient=p, subject=subject[:200], body=body, link=link) for p in people])
    transaction.on_commit(lambda: email.deliver(people, subject, body, link))
    return notes
