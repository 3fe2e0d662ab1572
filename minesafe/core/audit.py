"""Append-only audit events chained by HMAC-SHA256.

Each event stores the hash of the previous event and its own hash over its content plus that link,
so editing, deleting or inserting a row anywhere breaks the chain from that point on. The hash is
keyed with a secret kept outside the database (settings.AUDIT_KEY), so someone who can only write
to the database cannot recompute a consistent chain; and the head of the chain is anchored outside
the database every night (`anchor_head`), so cutting events off the end is detected too. `seq` is
unique, so two writers racing for the same link fail loudly instead of forking the chain.
"""

import datetime as dt
import decimal
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from .context import current_request_id
from .models import AuditEvent

GENESIS_HASH = "0" * 64
NEVER_LOGGED = {"password"}  # secrets stay out of the log, even hashed


def json_safe(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return value


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict:
    """The instance's concrete field values, JSON-safe (foreign keys as ids)."""
    names = set(fields) if fields is not None else None
    data = {}
    for field in instance._meta.concrete_fields:
        if (names is not None and field.name not in names) or field.name in NEVER_LOGGED:
            continue
        value = getattr(instance, field.attname)
        if isinstance(value, decimal.Decimal) and getattr(field, "decimal_places", None) is not None:
            value = value.quantize(decimal.Decimal(1).scaleb(-field.decimal_places))  # 40 and 40.00 are one value
        data[field.attname if field.is_relation else field.name] = json_safe(value)
    return data


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def compute_hash(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "at": json_safe(event.at),
        "actor": event.actor_id,
        "actor_repr": event.actor_repr,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(settings.AUDIT_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()


@dataclass
class Change:
    action: str
    obj: models.Model | None = None
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    before: dict | None = None
    after: dict | None = None


def _object_type(obj: models.Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def lock_chain() -> None:
    """Take the chain's lock now (held to the end of the transaction). Code that locks rows and then
    audits calls this first, so every writer takes the chain lock before its row locks: no deadlocks.
    SQLite runs every transaction BEGIN IMMEDIATE (see settings), which already serialises writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(72116501)")


def record_many(actor, changes: list[Change]) -> list[AuditEvent]:
    """Append one event per change, in order, in the caller's transaction."""
    if not changes:
        return []
    with transaction.atomic():
        lock_chain()
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        seq, prev = (last["seq"], last["hash"]) if last else (0, GENESIS_HASH)
        now = timezone.now()
        request_id = current_request_id()
        actor_id = getattr(actor, "pk", None)
        actor_repr = str(actor)[:150] if actor_id else (str(actor) if isinstance(actor, str) else "system")
        events = []
        for change in changes:
            seq += 1
            obj = change.obj
            event = AuditEvent(
                seq=seq,
                at=now,
                actor_id=actor_id,
                actor_repr=actor_repr,
                action=change.action,
                object_type=change.object_type or (_object_type(obj) if obj is not None else ""),
                object_id=change.object_id or (str(obj.pk) if obj is not None else ""),
                object_repr=(change.object_repr or (str(obj) if obj is not None else ""))[:200],
                before=json_safe(change.before) if change.before is not None else None,
                after=json_safe(change.after) if change.after is not None else None,
                request_id=request_id,
                prev_hash=prev,
            )
            event.hash = compute_hash(event)
            prev = event.hash
            events.append(event)
        AuditEvent.objects.bulk_create(events, batch_size=2000)
    return events


def record(actor, action: str, obj: models.Model | None = None, before: dict | None = None,
           after: dict | None = None, **kwargs) -> AuditEvent:
    return record_many(actor, [Change(action=action, obj=obj, before=before, after=after, **kwargs)])[0]


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def verify_chain() -> VerifyResult:
    """Recompute every hash in order; report the first event whose content or link does not match,
    then check that every anchored head is still there unchanged (nothing cut off the end)."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=5000):
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.seq, "link to the previous event does not match")
        if compute_hash(event) != event.hash:
            return VerifyResult(False, checked, event.seq, "content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    for anchor in read_anchors():
        stored = AuditEvent.objects.filter(seq=anchor["seq"]).values_list("hash", flat=True).first()
        if stored != anchor["hash"]:
            return VerifyResult(False, checked, anchor["seq"],
                                f"event #{anchor['seq']} anchored on {anchor['at']} is missing or changed")
    return VerifyResult(True, checked)


def anchors_path():
    return settings.AUDIT_ANCHOR_FILE


def read_anchors() -> list[dict]:
    path = anchors_path()
    if not path.exists():
        return []
    database = settings.DATABASES["default"]["NAME"]
    with open(path, encoding="utf-8") as fh:
        return [a for a in map(json.loads, filter(str.strip, fh)) if a.get("database") == str(database)]


def anchor_head() -> dict | None:
    """Append the chain's head to the anchor file (outside the database); None for an empty log."""
    head = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    if head is None:
        return None
    anchor = {"seq": head["seq"], "hash": head["hash"], "at": json_safe(timezone.now()),
              "database": str(settings.DATABASES["default"]["NAME"])}
    path = anchors_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(anchor) + "\n")
    return anchor


def history(obj: models.Model):
    return AuditEvent.objects.filter(object_type=_object_type(obj), object_id=str(obj.pk)).order_by("-seq")
