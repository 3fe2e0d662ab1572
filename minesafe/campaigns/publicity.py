"""Publicity and education (安全宣传, task 28): dated events with their reach, recorded by the city bureau or a
county, with evidence files checked by content; and the totals of events and reach per county and per quarter
that the task reports."""

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Region, User
from minesafe.core.scoping import is_city
from minesafe.core.uploads import check_photos_or_pdfs

from .models import PublicityEvent, PublicityEvidence
from .services import own_body

EVIDENCE_MAX_COUNT = 5
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
# Accepted evidence, recognised by its first bytes (never by the name or the browser's claim).
TEXT_MAX = 4000


def may_record(user) -> bool:
    """The city bureau and the counties record their publicity events."""
    return own_body(user) is not None


def may_manage(user, event: PublicityEvent) -> bool:
    return may_record(user) and (is_city(user) or user.organisation_id == event.organiser_id)


def counties_for(user):
    """The counties a user may record an event in: any for the city, its own for a county."""
    regions = Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")
    if is_city(user):
        return regions
    if may_record(user):
        return regions.filter(pk=user.organisation.region_id)
    return regions.none()


def check_evidence(files) -> list[tuple[str, bytes, str, str]]:
    return check_photos_or_pdfs(files, field="evidence", max_count=EVIDENCE_MAX_COUNT, max_bytes=EVIDENCE_MAX_BYTES)


def _count(errors: dict, field: str, value, *, required: bool) -> int | None:
    if value in (None, ""):
        if required:
            errors[field] = _("give the number of people reached")
        return None
    if isinstance(value, bool):
        errors[field] = _("a whole number, 0 or more")
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[field] = _("a whole number, 0 or more")
        return None
    if number != value and str(number) != str(value).strip():
        errors[field] = _("a whole number, 0 or more")
    elif number < 0:
        errors[field] = _("cannot be negative")
    elif number > 100_000_000:
        errors[field] = _("too large")
    return number


def _text(errors: dict, field: str, value, *, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[field] = required
    elif len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _store(event: PublicityEvent, actor: User, files) -> list[PublicityEvidence]:
    stored = []
    for name, content, content_type, suffix in files:
        digest = hashlib.sha256(content).hexdigest()
        evidence = PublicityEvidence(event=event, original_name=name, content_type=content_type, size=len(content),
                                     sha256=digest, uploaded_by=actor, uploaded_at=timezone.now())
        evidence.file.save(f"{digest[:16]}{suffix}", ContentFile(content), save=False)
        evidence.save()
        stored.append(evidence)
    return stored


def snapshot(event: PublicityEvent) -> dict:
    return audit.snapshot(event, ["held_on", "organiser", "county", "kind", "title", "place", "audience", "reach",
                                  "online_views", "note"])


def record_event(actor: User, *, held_on: dt.date, kind: str, title: str, audience: str, reach,
                 county: Region | None = None, place: str = "", online_views=None, note: str = "",
                 evidence=()) -> PublicityEvent:
    """Record an event held by the actor's body. A county records events in its own county; the city in any county
    or city-wide (no county). Reach is required (people, 0 or more); online views only where it was online."""
    organiser = own_body(actor)
    if organiser is None:
        raise PermissionDenied(_("only the city bureau or a county records publicity events"))
    errors: dict[str, str] = {}
    if not isinstance(held_on, dt.date):
        errors["held_on"] = _("give the date")
    elif held_on > timezone.localdate():
        errors["held_on"] = _("cannot be in the future")
    if kind not in PublicityEvent.Kind.values:
        errors["kind"] = _("unknown kind of event")
    if audience not in PublicityEvent.Audience.values:
        errors["audience"] = _("unknown audience")
    title = _text(errors, "title", title, required=_("give the title"), max_length=200)
    place = _text(errors, "place", place, max_length=200)
    note = _text(errors, "note", note)
    reach = _count(errors, "reach", reach, required=True)
    online_views = _count(errors, "online_views", online_views, required=False)
    if not is_city(actor):
        if county is not None and county.pk != actor.organisation.region_id:
            errors["county"] = _("a county records the events held in its own county")
        county = actor.organisation.region
    elif county is not None and not county.is_county_level:
        errors["county"] = _("a county, or none for a city-wide event")
    try:
        files = check_evidence(evidence)
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        event = PublicityEvent.objects.create(
            held_on=held_on, organiser=organiser, county=county, kind=kind, title=title, place=place,
            audience=audience, reach=reach, online_views=online_views, note=note, created_by=actor,
            created_at=timezone.now())
        stored = _store(event, actor, files)
        audit.record(actor, AuditEvent.Action.CREATE, event, after={
            **snapshot(event), "evidence_sha256": [e.sha256 for e in stored]})
    return event


def add_evidence(actor: User, event: PublicityEvent, files) -> list[PublicityEvidence]:
    if not may_manage(actor, event):
        raise PermissionDenied(_("only the organiser or the city adds evidence"))
    checked = check_evidence(files)
    if not checked:
        raise ValidationError({"evidence": _("choose a file")})
    if event.evidence.count() + len(checked) > EVIDENCE_MAX_COUNT:
        raise ValidationError({"evidence": _("at most %(n)d files per event") % {"n": EVIDENCE_MAX_COUNT}})
    with transaction.atomic():
        audit.lock_chain()
        stored = _store(event, actor, checked)
        audit.record_many(actor, [audit.Change(AuditEvent.Action.CREATE, e, after={
            "event": event.pk, "name": e.original_name, "sha256": e.sha256, "size": e.size}) for e in stored])
    return stored


# Totals (what task 28 reports) -------------------------------------------------------------------
@dataclass
class Totals:
    events: int = 0
    reach: int = 0
    online_views: int = 0


@dataclass
class PublicityReport:
    total: Totals
    by_county: list[tuple[str, Totals]]  # (county name or "city-wide", totals), in division-code order
    by_quarter: list[tuple[str, Totals]]  # ("2026 Q2", totals), oldest first
    by_kind: list[tuple[str, Totals]] = field(default_factory=list)


def _totals(row: dict) -> Totals:
    return Totals(events=row["events"], reach=row["reach"] or 0, online_views=row["views"] or 0)


def report(events) -> PublicityReport:
    """Events, reach and online views in total, per county, per quarter and per kind (the caller scopes `events`)."""
    sums = {"events": Count("pk"), "reach": Sum("reach"), "views": Sum("online_views")}
    plain = events.order_by()
    total = plain.aggregate(**sums)
    by_county = [((str(r["county__short_zh"] or r["county__name_zh"]) if r["county"] else _("city-wide")),
                  _totals(r)) for r in plain.values("county", "county__code", "county__short_zh", "county__name_zh")
                 .annotate(**sums).order_by("county__code")]
    quarters: dict[tuple[int, int], Totals] = {}
    for row in plain.annotate(y=ExtractYear("held_on"), m=ExtractMonth("held_on")).values("y", "m").annotate(**sums):
        key = (row["y"], (row["m"] - 1) // 3 + 1)
        acc = quarters.setdefault(key, Totals())
        acc.events += row["events"]
        acc.reach += row["reach"] or 0
        acc.online_views += row["views"] or 0
    labels = dict(PublicityEvent.Kind.choices)
    by_kind = sorted(((str(labels.get(r["kind"], r["kind"])), _totals(r))
                      for r in plain.values("kind").annotate(**sums)), key=lambda x: -x[1].reach)
    return PublicityReport(total=Totals(events=total["events"] or 0, reach=total["reach"] or 0,
                                        online_views=total["views"] or 0),
                           by_county=by_county,
                           by_quarter=[(f"{y} Q{q}", t) for (y, q), t in sorted(quarters.items())],
                           by_kind=by_kind)
