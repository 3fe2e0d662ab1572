"""Hazard services: reporting, the 五落实 closed loop, the plan, evidence uploads and deadline extensions."""

import contextlib
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core import audit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.hazards import services
from minesafe.hazards.models import DeadlineExtension, Hazard, HazardAttachment, HazardTransition, Investigation

H = Hazard.Status
K = HazardAttachment.Kind


def fresh(hazard: Hazard) -> Hazard:
    return Hazard.objects.get(pk=hazard.pk)


def label(field: str) -> str:
    return str(Hazard._meta.get_field(field).verbose_name)


def notified(user) -> int:
    return Notification.objects.filter(recipient=user).count()


# Reporting ---------------------------------------------------------------------------------------
def test_enterprise_reports_a_self_check_hazard_on_its_own_mine(personas, report):
    hazard = report(personas.ent_a, personas.mine_a, source=Hazard.Source.SELF_CHECK)
    hazard = fresh(hazard)
    assert (hazard.status, hazard.source, hazard.found_by_id) == (H.REPORTED, "self_check", personas.ent_a.pk)
    assert hazard.mine == personas.mine_a and hazard.item.code == "UG-01"


def test_enterprise_cannot_report_a_hazard_as_a_county_inspection(personas, report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(personas.ent_a, personas.mine_a, source=Hazard.Source.COUNTY_INSPECTION)
    assert "source" in exc.value.message_dict
    assert counts() == before


def test_unknown_source_is_refused(personas, report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(source="rumour")
    assert "source" in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("persona", ["ent_b", "county_b", "department", "inspector"])
def test_users_without_rights_over_mine_a_cannot_report_on_it(personas, report, counts, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        report(getattr(personas, persona), personas.mine_a, source=Hazard.Source.SELF_CHECK)
    assert counts() == before


def test_inspector_reports_on_the_mine_assigned_to_it(personas, report):
    hazard = report(personas.inspector, personas.mine_a2, source=Hazard.Source.CITY_INSPECTION)
    assert fresh(hazard).mine == personas.mine_a2


def test_city_reports_on_any_mine(personas, report):
    hazard = report(personas.city, personas.mine_b, "OP-04", source=Hazard.Source.CITY_INSPECTION)
    assert fresh(hazard).number.startswith("YH130822")


def test_item_for_another_kind_of_facility_is_refused(personas, report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(personas.county_a, personas.mine_a, "TP-01")
    assert "item" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        report(personas.county_b, personas.mine_b, "UG-01")
    assert "item" in exc.value.message_dict
    assert counts() == before


def test_items_fit_their_own_facility_types(personas, report):
    assert report(personas.county_a, personas.pond_a, "TP-01").item.code == "TP-01"
    assert report(personas.county_b, personas.mine_b, "OP-01").item.code == "OP-01"


def test_hazard_found_in_the_future_is_refused(report, counts, today):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(found_on=today + dt.timedelta(days=1))
    assert "found_on" in exc.value.message_dict
    assert counts() == before


def test_deadline_before_the_day_found_is_refused(report, counts, full_plan, today):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(found_on=today - dt.timedelta(days=3), **full_plan(days=-4))
    assert "deadline" in exc.value.message_dict
    assert counts() == before


def test_negative_funds_are_refused(report, counts, full_plan):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(**full_plan(funds=Decimal("-1")))
    assert "funds" in exc.value.message_dict
    assert counts() == before


def test_blank_description_is_refused(report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(description="   ")
    assert "description" in exc.value.message_dict
    assert counts() == before


def test_fields_outside_the_plan_are_refused(report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(status=H.CLOSED)
    assert "status" in exc.value.message_dict
    assert counts() == before


def test_only_the_city_places_a_hazard_under_city_supervision(personas, report, counts):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        report(personas.county_a, city_supervised=True)
    assert "city_supervised" in exc.value.message_dict
    assert counts() == before
    assert fresh(report(personas.city, city_supervised=True)).city_supervised is True


def test_numbers_carry_county_and_month_and_increase(personas, report, today):
    first = report()
    second = report(code="UG-02")
    month = f"{today:%Y%m}"
    assert re.fullmatch(r"YH\d{6}\d{6}\d{4}", first.number)
    assert first.number == f"YH130827{month}0001"
    assert second.number == f"YH130827{month}0002"
    assert report(personas.county_b, personas.mine_b, "OP-01").number == f"YH130822{month}0001"


def test_numbers_follow_the_month_the_hazard_was_found(report, today):
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    report()
    earlier = report(code="UG-02", found_on=last_month)
    assert earlier.number == f"YH130827{last_month:%Y%m}0001"


def test_report_writes_an_audit_event_a_transition_and_notifications(personas, report):
    watchers = {p: notified(getattr(personas, p)) for p in ("ent_a", "county_a", "county_b", "ent_b", "city")}
    hazard = report()
    created = audit.history(hazard).filter(action=AuditEvent.Action.CREATE).get()
    assert created.actor_id == personas.county_a.pk
    assert created.after["number"] == hazard.number
    transition = HazardTransition.objects.get(hazard=hazard)
    assert (transition.old_status, transition.new_status, transition.actor_id) == ("", H.REPORTED,
                                                                                   personas.county_a.pk)
    after = {p: notified(getattr(personas, p)) for p in watchers}
    assert after["ent_a"] == watchers["ent_a"] + 1
    assert after["county_a"] == watchers["county_a"] + 1
    assert (after["county_b"], after["ent_b"]) == (watchers["county_b"], watchers["ent_b"])
    note = Notification.objects.filter(recipient=personas.ent_a).latest("id")
    assert hazard.number in note.subject and note.link == f"/hazards/{hazard.pk}/"


def test_report_without_a_plan_is_checked_after_the_plan_due_days(report, today):
    hazard = fresh(report())
    # First looked at the day after the plan was due, as a deadline is looked at the day after it passes.
    assert hazard.escalate_on == today + dt.timedelta(days=services.ladder()["plan_due_days"] + 1)


def test_report_with_a_plan_is_checked_the_day_after_its_deadline(report, full_plan, today):
    hazard = fresh(report(**full_plan(days=20)))
    assert hazard.escalate_on == today + dt.timedelta(days=21)


# The closed loop ---------------------------------------------------------------------------------
def test_rectifying_needs_the_whole_plan_and_names_what_is_missing(personas, report, counts):
    hazard = report(responsible_person="张矿长", funds=Decimal("3"))
    before = counts()
    with pytest.raises(DomainError) as exc:
        services.transition(personas.ent_a, hazard, H.RECTIFYING, reason="开始整改")
    message = str(exc.value)
    assert exc.value.field == "plan"
    for missing in ("measures", "deadline", "emergency_plan"):
        assert label(missing) in message
    for given in ("responsible_person", "funds"):
        assert label(given) not in message
    assert counts() == before
    assert fresh(hazard).status == H.REPORTED


def test_enterprise_starts_rectifying_once_the_plan_is_complete(personas, report, full_plan):
    hazard = report(**full_plan())
    hazard = services.transition(personas.ent_a, hazard, H.RECTIFYING, reason="五落实到位")
    assert fresh(hazard).status == H.RECTIFYING
    step = HazardTransition.objects.filter(hazard=hazard).latest("id")
    assert (step.old_status, step.new_status, step.reason, step.actor_id) == (H.REPORTED, H.RECTIFYING, "五落实到位",
                                                                               personas.ent_a.pk)
    event = audit.history(hazard).filter(action=AuditEvent.Action.TRANSITION).first()
    assert event.before == {"status": "reported"} and event.after["status"] == "rectifying"


def test_plan_completed_with_set_plan_allows_rectifying(personas, report, full_plan):
    hazard = report()
    services.set_plan(personas.ent_a, hazard, full_plan())
    services.transition(personas.ent_a, hazard, H.RECTIFYING, reason="五落实到位")
    assert fresh(hazard).status == H.RECTIFYING


def test_submitting_needs_rectification_evidence(personas, rectifying, counts, png):
    hazard = rectifying()
    services.add_attachment(personas.ent_a, hazard, K.PHOTO, "before.png", png)
    before = counts()
    with pytest.raises(DomainError):
        services.transition(personas.ent_a, hazard, H.SUBMITTED, reason="整改完成")
    assert counts() == before and fresh(hazard).status == H.RECTIFYING
    services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, "evidence.png", png)
    services.transition(personas.ent_a, hazard, H.SUBMITTED, reason="整改完成")
    assert fresh(hazard).status == H.SUBMITTED


def test_enterprise_cannot_close_its_own_hazard(personas, submitted, counts, png):
    hazard = submitted()
    services.add_attachment(personas.county_a, hazard, K.VERIFICATION, "verify.png", png)
    before = counts()
    with pytest.raises(PermissionDenied):
        services.transition(personas.ent_a, hazard, H.CLOSED, reason="自行销号")
    assert counts() == before and fresh(hazard).status == H.SUBMITTED


def test_closing_needs_a_verification_record(personas, submitted, counts, png):
    hazard = submitted()
    before = counts()
    with pytest.raises(DomainError):
        services.transition(personas.county_a, hazard, H.CLOSED, reason="验收合格")
    assert counts() == before and fresh(hazard).status == H.SUBMITTED
    services.add_attachment(personas.county_a, hazard, K.VERIFICATION, "verify.png", png)
    services.transition(personas.county_a, hazard, H.CLOSED, reason="验收合格")
    hazard = fresh(hazard)
    assert hazard.status == H.CLOSED and hazard.closed_at is not None and hazard.escalate_on is None


def test_city_may_close_a_hazard_too(personas, submitted, png):
    hazard = submitted()
    services.add_attachment(personas.city, hazard, K.VERIFICATION, "verify.png", png)
    services.transition(personas.city, hazard, H.CLOSED, reason="市局验收合格")
    assert fresh(hazard).status == H.CLOSED


def test_county_of_another_county_cannot_close(personas, submitted, png, counts):
    hazard = submitted()
    services.add_attachment(personas.county_a, hazard, K.VERIFICATION, "verify.png", png)
    before = counts()
    with pytest.raises(PermissionDenied):
        services.transition(personas.county_b, hazard, H.CLOSED, reason="验收合格")
    assert counts() == before


def test_closure_notifies_the_enterprise_and_the_county(personas, closed):
    before = notified(personas.ent_a), notified(personas.county_a)
    hazard = closed()
    assert fresh(hazard).closed_at is not None
    after = notified(personas.ent_a), notified(personas.county_a)
    assert after[0] > before[0] and after[1] > before[1]


def test_county_rejects_the_rectification_back_to_rectifying(personas, submitted):
    hazard = submitted()
    services.transition(personas.county_a, hazard, H.RECTIFYING, reason="整改不到位")
    hazard = fresh(hazard)
    assert hazard.status == H.RECTIFYING and hazard.closed_at is None
    assert hazard.transitions.latest("id").reason == "整改不到位"


def test_enterprise_cannot_reject_its_own_submission(personas, submitted, counts):
    hazard = submitted()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.transition(personas.ent_a, hazard, H.RECTIFYING, reason="撤回")
    assert counts() == before


def test_reopening_a_closed_hazard_flags_a_repeat_and_opens_an_investigation(personas, closed):
    hazard = closed()
    assert not Investigation.objects.filter(mine=personas.mine_a).exists()
    services.transition(personas.county_a, hazard, H.RECTIFYING, reason="复查发现隐患复现")
    hazard = fresh(hazard)
    assert hazard.status == H.RECTIFYING and hazard.is_repeat and hazard.closed_at is None
    investigation = Investigation.objects.get(mine=personas.mine_a)
    assert investigation.status == Investigation.Status.OPEN
    assert list(investigation.hazards.all()) == [hazard]


def test_enterprise_cannot_reopen_a_closed_hazard(personas, closed, counts):
    hazard = closed()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.transition(personas.ent_a, hazard, H.RECTIFYING, reason="重新整改")
    assert counts() == before and not fresh(hazard).is_repeat


@pytest.mark.parametrize("stage", ["report", "rectifying", "submitted"])
def test_county_cancels_an_open_hazard_with_a_reason(personas, report, rectifying, submitted, stage):
    hazard = {"report": report, "rectifying": rectifying, "submitted": submitted}[stage]()
    services.transition(personas.county_a, hazard, H.CANCELLED, reason="误报，经核实不构成重大隐患")
    hazard = fresh(hazard)
    assert hazard.status == H.CANCELLED and hazard.escalate_on is None and hazard.closed_at is None
    assert hazard.transitions.latest("id").reason == "误报，经核实不构成重大隐患"


def test_enterprise_cannot_cancel(personas, report, counts):
    hazard = report()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.transition(personas.ent_a, hazard, H.CANCELLED, reason="不认可")
    assert counts() == before and fresh(hazard).status == H.REPORTED


@pytest.mark.parametrize("target", [H.CLOSED, H.SUBMITTED, H.REPORTED])
def test_out_of_order_transition_is_invalid(personas, report, full_plan, counts, target):
    hazard = report(**full_plan())
    before = counts()
    with pytest.raises(InvalidTransition):
        services.transition(personas.city, hazard, target, reason="跳过流程")
    assert counts() == before and fresh(hazard).status == H.REPORTED


def test_nothing_leaves_a_cancelled_or_closed_hazard_except_a_reopening(personas, report, closed):
    cancelled = report()
    services.transition(personas.county_a, cancelled, H.CANCELLED, reason="误报")
    for target in (H.REPORTED, H.RECTIFYING, H.SUBMITTED, H.CLOSED):
        with pytest.raises(InvalidTransition):
            services.transition(personas.city, cancelled, target, reason="恢复")
    with pytest.raises(InvalidTransition):
        services.transition(personas.city, closed(), H.CANCELLED, reason="撤销")


def test_unknown_status_is_a_validation_error(personas, report):
    with pytest.raises(ValidationError) as exc:
        services.transition(personas.county_a, report(), "archived", reason="归档")
    assert "status" in exc.value.message_dict


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_transition_needs_a_reason(personas, report, full_plan, counts, reason):
    hazard = report(**full_plan())
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.transition(personas.ent_a, hazard, H.RECTIFYING, reason=reason)
    assert "reason" in exc.value.message_dict
    assert counts() == before and fresh(hazard).status == H.REPORTED


def test_a_stale_copy_cannot_move_a_hazard_twice(personas, submitted, png):
    hazard = submitted()
    services.add_attachment(personas.county_a, hazard, K.VERIFICATION, "verify.png", png)
    stale = fresh(hazard)
    services.transition(personas.county_a, hazard, H.CLOSED, reason="验收合格")
    with pytest.raises(DomainError):
        services.transition(personas.county_a, stale, H.RECTIFYING, reason="退回")
    assert fresh(hazard).status == H.CLOSED


def test_allowed_transitions_per_role_and_status(personas, report, full_plan, png):
    p = personas
    hazard = report(**full_plan())
    assert services.allowed_transitions(p.ent_a, hazard) == [H.RECTIFYING]
    assert sorted(services.allowed_transitions(p.county_a, hazard)) == sorted([H.RECTIFYING, H.CANCELLED])
    assert sorted(services.allowed_transitions(p.city, hazard)) == sorted([H.RECTIFYING, H.CANCELLED])
    for outsider in (p.ent_b, p.county_b, p.department, p.inspector):
        assert services.allowed_transitions(outsider, hazard) == []

    services.transition(p.ent_a, hazard, H.RECTIFYING, reason="整改")
    assert services.allowed_transitions(p.ent_a, hazard) == [H.SUBMITTED]
    assert sorted(services.allowed_transitions(p.county_a, hazard)) == sorted([H.SUBMITTED, H.CANCELLED])

    services.add_attachment(p.ent_a, hazard, K.RECTIFICATION, "evidence.png", png)
    services.transition(p.ent_a, hazard, H.SUBMITTED, reason="整改完成")
    assert services.allowed_transitions(p.ent_a, hazard) == []
    assert sorted(services.allowed_transitions(p.county_a, hazard)) == sorted([H.CLOSED, H.RECTIFYING, H.CANCELLED])

    services.add_attachment(p.county_a, hazard, K.VERIFICATION, "verify.png", png)
    services.transition(p.county_a, hazard, H.CLOSED, reason="验收合格")
    assert services.allowed_transitions(p.ent_a, hazard) == []
    assert services.allowed_transitions(p.county_a, hazard) == [H.RECTIFYING]
    assert services.allowed_transitions(p.county_b, hazard) == []


def test_inspector_on_an_assigned_mine_may_report_but_not_move_the_hazard(personas, report, full_plan):
    hazard = report(personas.inspector, personas.mine_a2, source=Hazard.Source.CITY_INSPECTION, **full_plan())
    assert services.allowed_transitions(personas.inspector, hazard) == []
    with pytest.raises(PermissionDenied):
        services.transition(personas.inspector, hazard, H.RECTIFYING, reason="整改")


# The plan ----------------------------------------------------------------------------------------
def test_deadline_cannot_be_edited_while_rectifying(personas, rectifying, counts, today):
    hazard = rectifying(days=30)
    before = counts()
    with pytest.raises(DomainError) as exc:
        services.set_plan(personas.ent_a, hazard, {"deadline": today + dt.timedelta(days=60)})
    assert exc.value.field == "deadline"
    assert counts() == before
    assert fresh(hazard).deadline == today + dt.timedelta(days=30)


def test_other_plan_fields_change_while_rectifying_and_are_audited(personas, rectifying, today):
    hazard = rectifying(days=30)
    services.set_plan(personas.ent_a, hazard, {"measures": "改为充填处理", "funds": Decimal("20"),
                                               "deadline": today + dt.timedelta(days=30)})
    stored = fresh(hazard)
    assert (stored.measures, stored.funds) == ("改为充填处理", Decimal("20.00"))
    event = audit.history(hazard).filter(action=AuditEvent.Action.UPDATE).first()
    assert event.actor_id == personas.ent_a.pk
    assert event.before == {"measures": "增设第二安全出口并清理巷道", "funds": "12.50"}
    assert event.after == {"measures": "改为充填处理", "funds": "20.00"}


def test_setting_the_same_plan_again_writes_no_audit_event(personas, rectifying):
    hazard = rectifying()
    before = audit.history(hazard).count()
    services.set_plan(personas.ent_a, hazard, {"measures": hazard.measures})
    assert audit.history(hazard).count() == before


def test_deadline_may_change_before_rectifying_starts(personas, report, full_plan, today):
    hazard = report(**full_plan(days=10))
    services.set_plan(personas.county_a, hazard, {"deadline": today + dt.timedelta(days=40)})
    stored = fresh(hazard)
    assert stored.deadline == today + dt.timedelta(days=40)
    assert stored.escalate_on == today + dt.timedelta(days=41)


def test_plan_deadline_before_the_day_found_is_refused(personas, report, today, counts):
    hazard = report(found_on=today - dt.timedelta(days=5))
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.set_plan(personas.ent_a, hazard, {"deadline": today - dt.timedelta(days=6)})
    assert "deadline" in exc.value.message_dict
    assert counts() == before and fresh(hazard).deadline is None


def test_plan_cannot_change_once_submitted(personas, submitted, counts):
    hazard = submitted()
    before = counts()
    with pytest.raises(DomainError):
        services.set_plan(personas.ent_a, hazard, {"measures": "事后补充"})
    assert counts() == before


def test_editing_the_plan_from_a_stale_copy_does_not_undo_a_submission(personas, rectifying, png):
    """The enterprise's plan form was opened before the hazard was submitted; saving it must not reopen it."""
    hazard = rectifying()
    form_copy = fresh(hazard)
    services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, "evidence.png", png)
    services.transition(personas.ent_a, hazard, H.SUBMITTED, reason="整改完成")
    with contextlib.suppress(DomainError):
        services.set_plan(personas.ent_a, form_copy, {"measures": "补充措施"})
    assert fresh(hazard).status == H.SUBMITTED


def test_set_plan_refuses_unknown_fields_and_other_enterprises(personas, report, counts):
    hazard = report()
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.set_plan(personas.ent_a, hazard, {"status": H.CLOSED})
    assert "status" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.set_plan(personas.ent_b, hazard, {"measures": "代为整改"})
    assert counts() == before and fresh(hazard).measures == ""


# Evidence uploads --------------------------------------------------------------------------------
def test_upload_stores_the_file_with_its_hash_and_type(personas, rectifying, png, stored_files):
    hazard = rectifying()
    attachment = services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, "evidence.png", png)
    attachment.refresh_from_db()
    assert (attachment.kind, attachment.original_name, attachment.content_type, attachment.size) == (
        K.RECTIFICATION, "evidence.png", "image/png", len(png))
    files = stored_files()
    assert len(files) == 1 and files[0].read_bytes() == png
    assert attachment.file.read() == png
    event = audit.history(attachment).get()
    assert event.after["sha256"] == attachment.sha256 and len(attachment.sha256) == 64


def test_upload_keeps_only_the_base_name(personas, rectifying, png, stored_files, media_root):
    hazard = rectifying()
    attachment = services.add_attachment(personas.ent_a, hazard, K.PHOTO, "../../etc/EVIL.PNG", png)
    assert attachment.original_name == "EVIL.PNG"
    (path,) = stored_files()
    assert path.is_relative_to(media_root / "hazards" / str(hazard.pk))


@pytest.mark.parametrize(("name", "content"), [
    ("evidence.exe", b"MZ\x90\x00" + b"0" * 100),
    ("evidence.png", b"MZ\x90\x00" + b"0" * 100),
    ("evidence.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 100),
    ("evidence.png", b""),
    ("evidence", b"\x89PNG\r\n\x1a\n" + b"0" * 100),
], ids=["exe", "disguised-exe", "png-named-pdf", "empty", "no-extension"])
def test_bad_uploads_are_refused_and_store_nothing(personas, rectifying, counts, stored_files, name, content):
    hazard = rectifying()
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, name, content)
    assert "file" in exc.value.message_dict
    assert counts() == before and stored_files() == []


def test_oversized_upload_is_refused_and_one_at_the_limit_is_accepted(personas, rectifying, counts, stored_files,
                                                                      png):
    hazard = rectifying()
    before = counts()
    too_big = png[:8] + b"0" * (services.UPLOAD_MAX_BYTES + 1 - 8)
    with pytest.raises(ValidationError) as exc:
        services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, "evidence.png", too_big)
    assert "file" in exc.value.message_dict
    assert counts() == before and stored_files() == []
    services.add_attachment(personas.ent_a, hazard, K.RECTIFICATION, "evidence.png", too_big[:-1])
    assert len(stored_files()) == 1


def test_only_regulators_upload_verification_records(personas, submitted, png, counts, stored_files):
    hazard = submitted()
    files = stored_files()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.add_attachment(personas.ent_a, hazard, K.VERIFICATION, "verify.png", png)
    with pytest.raises(PermissionDenied):
        services.add_attachment(personas.county_b, hazard, K.VERIFICATION, "verify.png", png)
    assert counts() == before and stored_files() == files
    services.add_attachment(personas.county_a, hazard, K.VERIFICATION, "verify.png", png)
    assert hazard.attachments.filter(kind=K.VERIFICATION).count() == 1


def test_outsiders_cannot_upload(personas, rectifying, png, counts):
    hazard = rectifying()
    before = counts()
    for outsider in (personas.ent_b, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            services.add_attachment(outsider, hazard, K.PHOTO, "photo.png", png)
    assert counts() == before


def test_closed_hazard_takes_only_documents(personas, closed, counts, png):
    hazard = closed()
    before = counts()
    with pytest.raises(DomainError):
        services.add_attachment(personas.county_a, hazard, K.PHOTO, "late.png", png)
    assert counts() == before
    services.add_attachment(personas.county_a, hazard, K.DOCUMENT, "report.pdf", b"%PDF-1.7\n" + b"0" * 50)
    assert hazard.attachments.filter(kind=K.DOCUMENT).count() == 1


def test_unknown_attachment_kind_is_refused(personas, rectifying, png, counts):
    hazard = rectifying()
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.add_attachment(personas.ent_a, hazard, "selfie", "photo.png", png)
    assert "kind" in exc.value.message_dict
    assert counts() == before


# Deadline extensions -----------------------------------------------------------------------------
def test_enterprise_requests_an_extension(personas, rectifying, today):
    hazard = rectifying(days=10)
    extension = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=40), "设备到货延迟")
    extension.refresh_from_db()
    assert (extension.status, extension.old_deadline, extension.new_deadline) == (
        DeadlineExtension.Status.PENDING, today + dt.timedelta(days=10), today + dt.timedelta(days=40))
    assert fresh(hazard).deadline == today + dt.timedelta(days=10)


@pytest.mark.parametrize("days", [10, 9, -1])
def test_requested_deadline_must_be_after_the_current_one(personas, rectifying, counts, today, days):
    hazard = rectifying(days=10)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=days), "延期")
    assert "new_deadline" in exc.value.message_dict
    assert counts() == before


def test_extension_needs_a_reason(personas, rectifying, counts, today):
    hazard = rectifying(days=10)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=20), "  ")
    assert "reason" in exc.value.message_dict
    assert counts() == before


def test_only_one_extension_request_waits_at_a_time(personas, rectifying, counts, today):
    hazard = rectifying(days=10)
    services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=20), "设备到货延迟")
    before = counts()
    with pytest.raises(DomainError):
        services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=30), "再次延期")
    assert counts() == before


def test_extension_needs_an_open_hazard_with_a_deadline(personas, report, submitted, counts, today):
    without_deadline = report()
    waiting = submitted()
    before = counts()
    for hazard in (without_deadline, waiting):
        with pytest.raises(DomainError):
            services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=90), "延期")
    assert counts() == before


def test_county_approval_moves_the_deadline_and_the_escalation_check(personas, rectifying, today):
    hazard = rectifying(days=10)
    assert fresh(hazard).escalate_on == today + dt.timedelta(days=11)
    extension = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=40), "设备到货延迟")
    notes = notified(personas.ent_a)
    services.decide_extension(personas.county_a, extension, approve=True, note="同意")
    stored = fresh(hazard)
    assert stored.deadline == today + dt.timedelta(days=40)
    assert stored.escalate_on == today + dt.timedelta(days=41)
    extension.refresh_from_db()
    assert (extension.status, extension.decided_by_id, extension.decision_note) == (
        DeadlineExtension.Status.APPROVED, personas.county_a.pk, "同意")
    assert extension.decided_at is not None
    moved = audit.history(hazard).filter(action=AuditEvent.Action.UPDATE).first()
    assert moved.after == {"deadline": (today + dt.timedelta(days=40)).isoformat()}
    assert notified(personas.ent_a) == notes + 1


def test_rejection_leaves_the_deadline_and_allows_a_new_request(personas, rectifying, today):
    hazard = rectifying(days=10)
    extension = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=40), "设备到货延迟")
    services.decide_extension(personas.county_a, extension, approve=False, note="理由不充分")
    stored = fresh(hazard)
    assert stored.deadline == today + dt.timedelta(days=10)
    assert stored.escalate_on == today + dt.timedelta(days=11)
    extension.refresh_from_db()
    assert extension.status == DeadlineExtension.Status.REJECTED
    again = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=20), "补充理由")
    assert again.status == DeadlineExtension.Status.PENDING


@pytest.mark.parametrize("persona", ["ent_a", "ent_b", "county_b", "inspector"])
def test_only_the_county_or_city_decides_an_extension(personas, rectifying, counts, today, persona):
    hazard = rectifying(days=10)
    extension = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=40), "设备到货延迟")
    before = counts()
    with pytest.raises(PermissionDenied):
        services.decide_extension(getattr(personas, persona), extension, approve=True)
    assert counts() == before
    extension.refresh_from_db()
    assert extension.status == DeadlineExtension.Status.PENDING
    assert fresh(hazard).deadline == today + dt.timedelta(days=10)


def test_an_extension_is_decided_only_once(personas, rectifying, counts, today):
    hazard = rectifying(days=10)
    extension = services.request_extension(personas.ent_a, hazard, today + dt.timedelta(days=40), "设备到货延迟")
    services.decide_extension(personas.city, extension, approve=False)
    before = counts()
    with pytest.raises(DomainError):
        services.decide_extension(personas.county_a, extension, approve=True)
    assert counts() == before and fresh(hazard).deadline == today + dt.timedelta(days=10)


# City supervision --------------------------------------------------------------------------------
def test_only_the_city_sets_city_supervision(personas, report, counts):
    hazard = report()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.set_city_supervision(personas.county_a, hazard, True)
    assert counts() == before
    services.set_city_supervision(personas.city, hazard, True)
    assert fresh(hazard).city_supervised is True
