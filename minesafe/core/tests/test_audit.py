"""The audit log is append-only and chained by SHA-256: any edit, deletion or insertion is detected."""

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from minesafe.core import audit
from minesafe.core.context import request_id_var
from minesafe.core.models import AuditEvent, Region, User


@pytest.fixture
def actor(db) -> User:
    return User.objects.create_user(username="auditor", password="Audit#2026x", display_name="审计员")


@pytest.fixture
def region(db) -> Region:
    return Region.objects.create(code="139901", name_zh="测试市", kind=Region.Kind.CITY)


@pytest.fixture
def fresh_chain(db) -> None:
    """An empty audit log: the test database's reference-data events are removed inside the test's
    transaction (rolled back afterwards), so sequence numbers in these tests start at 1."""
    raw("DELETE FROM core_auditevent")


@pytest.fixture
def five_events(fresh_chain, actor, region) -> list[AuditEvent]:
    events = [audit.record(actor, AuditEvent.Action.CREATE, region, after=audit.snapshot(region))]
    for name in ["测试", "测试市区", "测试市"]:
        before = audit.snapshot(region)
        region.name_zh = name
        region.save()
        old, new = audit.diff(before, audit.snapshot(region))
        events.append(audit.record(actor, AuditEvent.Action.UPDATE, region, before=old, after=new))
    events.append(audit.record(None, AuditEvent.Action.LOGIN_FAILED, object_type="core.user", object_repr="nobody"))
    return events


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def json_param() -> str:
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


# Recording ----------------------------------------------------------------------------------------
def test_recorded_events_are_numbered_from_one_and_linked_by_hash(five_events):
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == audit.GENESIS_HASH == "0" * 64
    for earlier, later in zip(stored, stored[1:], strict=False):
        assert later.prev_hash == earlier.hash
    assert len({e.hash for e in stored}) == 5
    assert all(len(e.hash) == 64 for e in stored)


def test_event_hash_is_keyed_sha256_of_its_canonical_content(five_events):
    event = AuditEvent.objects.get(seq=2)
    payload = {
        "seq": 2, "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"), "actor": event.actor_id,
        "actor_repr": event.actor_repr, "action": "update", "object_type": "core.region",
        "object_id": event.object_id, "object_repr": event.object_repr, "before": event.before,
        "after": event.after, "request_id": event.request_id, "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert event.hash == hmac.new(settings.AUDIT_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert event.hash != hashlib.sha256(canonical.encode()).hexdigest()  # the key matters


def test_recorded_event_names_actor_object_and_change(five_events, actor, region):
    event = AuditEvent.objects.get(seq=2)
    assert event.actor_id == actor.pk
    assert event.actor_repr == "审计员"
    assert event.action == AuditEvent.Action.UPDATE
    assert (event.object_type, event.object_id) == ("core.region", str(region.pk))
    assert event.before == {"name_zh": "测试市"}
    assert event.after == {"name_zh": "测试"}


def test_event_without_actor_is_recorded_as_system(five_events):
    event = AuditEvent.objects.get(seq=5)
    assert event.actor_id is None
    assert event.actor_repr == "system"
    assert event.object_repr == "nobody"


def test_record_many_appends_events_in_order_after_the_existing_chain(five_events, actor, region):
    events = audit.record_many(actor, [
        audit.Change(action=AuditEvent.Action.IMPORT, obj=region, after={"row": 1}),
        audit.Change(action=AuditEvent.Action.IMPORT, object_type="registry.mine", object_id="7",
                     object_repr="x" * 300, after={"row": 2}),
    ])
    assert [e.seq for e in events] == [6, 7]
    assert events[0].prev_hash == five_events[-1].hash
    assert events[1].prev_hash == events[0].hash
    assert events[1].object_repr == "x" * 200
    assert audit.record_many(actor, []) == []
    assert audit.verify_chain().ok


def test_events_carry_the_current_request_id(fresh_chain, actor, region):
    token = request_id_var.set("req-abc123")
    try:
        event = audit.record(actor, AuditEvent.Action.UPDATE, region)
    finally:
        request_id_var.reset(token)
    assert AuditEvent.objects.get(pk=event.pk).request_id == "req-abc123"


def test_chain_continues_from_the_events_already_in_the_database(actor, region):
    existing = AuditEvent.objects.count()
    last = AuditEvent.objects.order_by("-seq").first()
    event = audit.record(actor, AuditEvent.Action.UPDATE, region)
    assert event.seq == existing + 1
    assert event.prev_hash == (last.hash if last else audit.GENESIS_HASH)
    result = audit.verify_chain()
    assert result.ok and result.checked == existing + 1


def test_history_lists_an_objects_events_newest_first(five_events, region):
    assert [e.seq for e in audit.history(region)] == [4, 3, 2, 1]


# snapshot / diff / json_safe ----------------------------------------------------------------------
def test_snapshot_is_json_safe_with_foreign_keys_as_ids(actor, region):
    county = Region.objects.create(code="139902", name_zh="测试自治县", kind=Region.Kind.AUTONOMOUS_COUNTY,
                                   parent=region)
    data = audit.snapshot(county)
    assert data["parent_id"] == region.pk
    assert "parent" not in data
    assert data["code"] == "139902"
    json.dumps(data)
    assert audit.snapshot(county, ["code", "kind"]) == {"code": "139902", "kind": "autonomous_county"}


def test_json_safe_converts_dates_decimals_and_nested_values():
    moment = dt.datetime(2026, 1, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert audit.json_safe({"at": moment, "on": dt.date(2026, 1, 2), "v": Decimal("1.50"), "xs": (1, 2)}) == {
        "at": "2026-01-02T00:00:00.000000+00:00", "on": "2026-01-02", "v": "1.50", "xs": [1, 2],
    }


def test_diff_keeps_only_the_changed_keys():
    before = {"a": 1, "b": 2, "c": 3}
    after = {"a": 1, "b": 5, "c": 3, "d": 4}
    assert audit.diff(before, after) == ({"b": 2, "d": None}, {"b": 5, "d": 4})
    assert audit.diff(before, dict(before)) == ({}, {})


# Verification ------------------------------------------------------------------------------------
def test_untouched_chain_verifies(five_events):
    result = audit.verify_chain()
    assert result.ok
    assert result.checked == 5
    assert result.broken_seq is None


def test_empty_chain_verifies(fresh_chain):
    result = audit.verify_chain()
    assert result.ok and result.checked == 0


def test_edited_event_content_breaks_the_chain_at_that_event(five_events):
    raw(f"UPDATE core_auditevent SET after = {json_param()} WHERE seq = 2", [json.dumps({"name_zh": "篡改"})])
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 2
    assert result.checked == 1
    assert "content" in result.reason


def test_edited_event_with_recomputed_hash_breaks_the_link_of_the_next_event(five_events):
    raw(f"UPDATE core_auditevent SET after = {json_param()} WHERE seq = 2", [json.dumps({"name_zh": "篡改"})])
    forged = AuditEvent.objects.get(seq=2)
    raw("UPDATE core_auditevent SET hash = %s WHERE seq = 2", [audit.compute_hash(forged)])
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3
    assert "link" in result.reason


def test_edited_actor_breaks_the_chain(five_events):
    raw("UPDATE core_auditevent SET actor_repr = %s WHERE seq = 4", ["someone else"])
    result = audit.verify_chain()
    assert (result.ok, result.broken_seq) == (False, 4)


def test_deleted_middle_event_is_reported_as_missing(five_events):
    raw("DELETE FROM core_auditevent WHERE seq = 3")
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3
    assert result.reason == "event #3 is missing"


def test_deleted_first_event_is_reported_as_missing(five_events):
    raw("DELETE FROM core_auditevent WHERE seq = 1")
    result = audit.verify_chain()
    assert (result.ok, result.broken_seq, result.checked) == (False, 1, 0)


def test_deleted_and_renumbered_events_break_the_link(five_events):
    raw("DELETE FROM core_auditevent WHERE seq = 3")
    raw("UPDATE core_auditevent SET seq = seq - 1 WHERE seq = 4")
    raw("UPDATE core_auditevent SET seq = seq - 1 WHERE seq = 5")
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3


def test_saving_an_existing_event_is_refused(five_events):
    event = AuditEvent.objects.get(seq=2)
    event.after = {"name_zh": "篡改"}
    with pytest.raises(PermissionError):
        event.save()
    assert AuditEvent.objects.get(seq=2).after == {"name_zh": "测试"}


def test_deleting_an_event_is_refused(five_events):
    event = AuditEvent.objects.get(seq=2)
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.filter(seq=2).exists()
    assert audit.verify_chain().ok


def test_two_events_cannot_share_a_sequence_number(five_events):
    from django.db import IntegrityError, transaction

    clone = AuditEvent.objects.get(seq=5)
    clone.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


# CLI ---------------------------------------------------------------------------------------------
def test_audit_verify_command_reports_the_number_of_verified_events(five_events):
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "OK: 5 events verified" in out.getvalue()


def test_audit_verify_command_names_the_first_broken_event(five_events):
    raw(f"UPDATE core_auditevent SET after = {json_param()} WHERE seq = 2", [json.dumps({"name_zh": "篡改"})])
    raw("UPDATE core_auditevent SET actor_repr = %s WHERE seq = 4", ["someone else"])
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify", stdout=StringIO())
    message = str(excinfo.value)
    assert "#2" in message
    assert "#4" not in message


def test_audit_verify_command_names_a_deleted_event(five_events):
    raw("DELETE FROM core_auditevent WHERE seq = 4")
    with pytest.raises(CommandError, match="#4"):
        call_command("audit", "verify", stdout=StringIO())


def test_events_cut_off_the_end_are_found_through_the_anchor(five_events, settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    anchor = audit.anchor_head()
    assert anchor["seq"] == 5 and audit.verify_chain().ok
    raw("DELETE FROM core_auditevent WHERE seq >= 4")
    result = audit.verify_chain()
    assert (result.ok, result.broken_seq) == (False, 5)
    assert "anchored" in result.reason


def test_a_chain_rewritten_without_the_key_does_not_verify(five_events, settings):
    real_key = settings.AUDIT_KEY
    raw(f"UPDATE core_auditevent SET after = {json_param()} WHERE seq = 5", [json.dumps({"name_zh": "篡改"})])
    forged = AuditEvent.objects.get(seq=5)
    settings.AUDIT_KEY = "a key the forger guessed"
    raw("UPDATE core_auditevent SET hash = %s WHERE seq = 5", [audit.compute_hash(forged)])
    settings.AUDIT_KEY = real_key
    result = audit.verify_chain()
    assert (result.ok, result.broken_seq) == (False, 5)
