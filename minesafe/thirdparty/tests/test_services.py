"""The domain rules: firms and their status transitions, qualifications and their expiry on a frozen date,
engagements refused when no qualification covers them, checks and their follow-up, and falsification cases
from a check or a report through to the blacklist. Refusals name the field and change nothing."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Notification, ReferenceCatalogue
from minesafe.core.validators import credit_code_check_char
from minesafe.thirdparty import services
from minesafe.thirdparty.models import (
    CaseAction,
    Check,
    Engagement,
    FalsificationCase,
    FalsifiedItem,
    Firm,
    FirmKind,
    FirmStatusChange,
    Qualification,
)

from .factories import TODAY, K, code, days, engage, firm, qualify

pytestmark = pytest.mark.django_db
FS = Firm.Status
CS = FalsificationCase.Status
R = Check.Result
Q = Qualification.State


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def state() -> tuple:
    """Everything the app stores, to show a refusal changed nothing."""
    return (list(Firm.objects.values_list("name", "status", "status_since").order_by("pk")),
            list(FirmKind.objects.values_list("firm_id", "kind").order_by("pk")),
            list(Qualification.objects.values_list("certificate_number", "valid_to", "revoked_on").order_by("pk")),
            list(Engagement.objects.values_list("pk", flat=True)),
            list(Check.objects.values_list("status", "published_at").order_by("pk")),
            list(FalsificationCase.objects.values_list("status", "published_at").order_by("pk")),
            FirmStatusChange.objects.count(), AuditEvent.objects.count())


def refused(call, *fields: str) -> ValidationError:
    before = state()
    with pytest.raises(ValidationError) as info:
        call()
    assert set(fields) <= set(info.value.message_dict), info.value.message_dict
    assert state() == before
    return info.value


# Firms -------------------------------------------------------------------------------------------
def test_an_official_registers_a_firm_with_its_kinds_audited(personas):
    made = firm(personas.county_a, kinds=[K.TESTING, K.SAFETY_EVALUATION])
    assert made.kinds == [K.SAFETY_EVALUATION, K.TESTING] and made.status == FS.ACTIVE
    assert made.status_since == TODAY
    event = AuditEvent.objects.get(object_type="thirdparty.firm", object_id=str(made.pk))
    assert event.action == "create" and event.after["kinds"] == ["safety_evaluation", "testing"]
    assert event.after["credit_code"] == code(1)


@pytest.mark.parametrize(("value", "reason"), [
    (code(1)[:-1] + ("0" if code(1)[-1] != "0" else "1"), "check character should be"),
    ("91130802MA000000", "must be 18 characters"),
    ("91130802MA000000I" + "X", "contains a character outside"),
    ("91ABCDEFMA0000001" + credit_code_check_char("91ABCDEFMA0000001"), "division code"),
])
def test_an_invalid_credit_code_is_refused_with_the_reason(personas, value, reason):
    error = refused(lambda: services.create_firm(personas.city, name="某机构", credit_code=value,
                                                 kinds=[K.DESIGN]), "credit_code")
    assert reason in error.message_dict["credit_code"][0]


def test_duplicates_and_missing_fields_are_refused(personas):
    firm(personas.city)
    error = refused(lambda: services.create_firm(personas.city, name="承德测试安全评价有限公司", credit_code=code(1),
                                                 kinds=[]), "name", "credit_code", "kinds")
    assert "承德测试安全评价有限公司" in error.message_dict["credit_code"][0]
    refused(lambda: services.create_firm(personas.city, name=" ", credit_code=code(2), kinds=["mining"],
                                         contact_phone="call me"), "name", "kinds", "contact_phone")


@pytest.mark.parametrize("persona", ["ent_a", "inspector", "department"])
def test_only_officials_register_or_edit_firms(personas, persona):
    existing = firm(personas.city)
    with pytest.raises(PermissionDenied):
        services.create_firm(getattr(personas, persona), name="x", credit_code=code(9), kinds=[K.DESIGN])
    with pytest.raises(PermissionDenied):
        services.update_firm(getattr(personas, persona), existing, address="elsewhere")


def test_editing_a_firm_audits_only_what_changed(personas):
    made = firm(personas.city)
    services.update_firm(personas.county_b, made, address="承德市高新区", kinds=[K.SAFETY_EVALUATION, K.DESIGN])
    assert fresh(made).address == "承德市高新区" and fresh(made).kinds == [K.SAFETY_EVALUATION, K.DESIGN]
    event = AuditEvent.objects.filter(object_type="thirdparty.firm", action="update").get()
    assert set(event.after) == {"address", "kinds"} and event.before["kinds"] == ["safety_evaluation"]
    refused(lambda: services.update_firm(personas.city, made, status="blacklisted"), "status")


# Firm status transitions -------------------------------------------------------------------------
def test_the_city_moves_a_firm_through_its_statuses(personas):
    made = firm(personas.city)
    services.suspend_firm(personas.city, made, reason="抽查两次不合格")
    assert (made.status, fresh(made).status, made.status_since) == (FS.SUSPENDED, FS.SUSPENDED, TODAY)
    services.reinstate_firm(personas.city, made, reason="整改完成")
    services.blacklist_firm(personas.city, made, reason="内部: 出具虚假报告", notice="出具虚假报告")
    listed = fresh(made)
    assert listed.status == FS.BLACKLISTED and listed.blacklisted_until == dt.date(2029, 11, 30)
    assert listed.blacklist_notice == "出具虚假报告" and listed.status_reason == "内部: 出具虚假报告"
    services.remove_from_blacklist(personas.city, made, reason="信用修复")
    assert fresh(made).status == FS.ACTIVE and fresh(made).blacklisted_until is None
    history = list(FirmStatusChange.objects.filter(firm=made).order_by("pk").values_list("old_status", "new_status"))
    assert history == [(FS.ACTIVE, FS.SUSPENDED), (FS.SUSPENDED, FS.ACTIVE), (FS.ACTIVE, FS.BLACKLISTED),
                       (FS.BLACKLISTED, FS.ACTIVE)]
    assert AuditEvent.objects.filter(object_type="thirdparty.firm", action="transition").count() == 4


@pytest.mark.parametrize(("setup", "call"), [
    ([], lambda p, f: services.reinstate_firm(p.city, f, reason="x")),
    ([], lambda p, f: services.remove_from_blacklist(p.city, f, reason="x")),
    (["suspend"], lambda p, f: services.suspend_firm(p.city, f, reason="x")),
    (["blacklist"], lambda p, f: services.suspend_firm(p.city, f, reason="x")),
    (["blacklist"], lambda p, f: services.blacklist_firm(p.city, f, reason="x", notice="y")),
    (["blacklist"], lambda p, f: services.reinstate_firm(p.city, f, reason="x")),
])
def test_transitions_outside_the_table_are_refused(personas, setup, call):
    made = firm(personas.city)
    for step in setup:
        if step == "suspend":
            services.suspend_firm(personas.city, made, reason="r")
        else:
            services.blacklist_firm(personas.city, made, reason="r", notice="n")
    before = state()
    with pytest.raises(InvalidTransition):
        call(personas, made)
    assert state() == before


@pytest.mark.parametrize("persona", ["county_a", "ent_a", "department", "inspector"])
def test_only_the_city_changes_a_firm_status(personas, persona):
    made = firm(personas.city)
    with pytest.raises(PermissionDenied):
        services.suspend_firm(getattr(personas, persona), made, reason="x")
    with pytest.raises(PermissionDenied):
        services.blacklist_firm(getattr(personas, persona), made, reason="x", notice="y")
    assert fresh(made).status == FS.ACTIVE


def test_a_status_change_needs_a_reason_and_a_blacklist_a_public_notice(personas):
    made = firm(personas.city)
    refused(lambda: services.suspend_firm(personas.city, made, reason="  "), "reason")
    refused(lambda: services.blacklist_firm(personas.city, made, reason="x", notice=""), "notice")


def test_a_status_change_tells_the_counties_and_enterprises_that_used_the_firm(personas):
    made = firm(personas.city)
    qualify(personas.city, made)
    engage(personas.ent_a, personas.mine_a, made)
    services.suspend_firm(personas.city, made, reason="整改")
    told = set(Notification.objects.filter(subject__contains=made.name).values_list("recipient__username",
                                                                                    flat=True))
    assert told == {"county_a", "ent_a"}


# Qualifications ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("valid_from", "valid_to", "expected"), [
    (days(-100), days(500), Q.VALID),
    (days(-100), days(90), Q.EXPIRING),  # the catalogue's 90 days, inclusive
    (days(-100), days(91), Q.VALID),
    (days(-100), TODAY, Q.EXPIRING),
    (days(-100), days(-1), Q.EXPIRED),
    (days(10), days(900), Q.NOT_YET_VALID),
])
def test_the_state_of_a_qualification_on_a_frozen_date(personas, valid_from, valid_to, expected):
    made = firm(personas.city)
    qualification = qualify(personas.city, made, valid_from=min(valid_from, TODAY), valid_to=valid_to)
    qualification.valid_from = valid_from  # a future start cannot be recorded yet; the state still knows it
    assert qualification.state(TODAY, services.expiring_within_days()) == expected


def test_the_expiry_lists_show_each_firms_current_certificate(personas):
    a = firm(personas.city, "甲评价", 1)
    b = firm(personas.city, "乙评价", 2, kinds=[K.SAFETY_EVALUATION, K.TESTING])
    c = firm(personas.city, "丙评价", 3)
    d = firm(personas.city, "丁评价", 4)
    soon = qualify(personas.city, a, valid_to=days(30))
    lapsed = qualify(personas.city, b, valid_to=days(-10))
    qualify(personas.city, b, kind=K.TESTING, valid_to=days(120))  # outside the window
    old = qualify(personas.city, c, valid_from=days(-2000), valid_to=days(-5), number="C-1")
    qualify(personas.city, c, valid_from=days(-20), valid_to=days(1500), number="C-2", replaces=old)
    qualify(personas.city, d, valid_to=days(-3))
    services.blacklist_firm(personas.city, d, reason="x", notice="y")  # blacklisted firms are left out
    expiring, expired, window = services.expiry_lists(personas.city)
    assert window == 90 and expiring == [soon] and expired == [lapsed]

    catalogue = ReferenceCatalogue.objects.get(kind="thirdparty", active=True)
    catalogue.data["qualifications"]["expiring_within_days"] = 150
    catalogue.save()
    expiring, _expired, window = services.expiry_lists(personas.city)
    assert window == 150 and {q.firm for q in expiring} == {a, b}


def test_overlapping_certificates_are_refused_unless_one_renews_the_other(personas):
    made = firm(personas.city)
    first = qualify(personas.city, made, valid_from=days(-1000), valid_to=days(30), number="A-1")
    error = refused(lambda: qualify(personas.city, made, valid_from=days(-10), valid_to=days(1800), number="A-2"),
                    "valid_from")
    assert "A-1" in error.message_dict["valid_from"][0]
    refused(lambda: qualify(personas.city, made, valid_from=days(-10), valid_to=days(20), number="A-2",
                            replaces=first), "valid_to")  # a renewal must outlast what it renews
    renewal = qualify(personas.city, made, valid_from=days(-10), valid_to=days(1800), number="A-2", replaces=first)
    assert renewal.replaces == first
    assert list(Qualification.objects.latest_per_kind().filter(firm=made)) == [renewal]
    # Other services' certificates do not overlap these.
    services.update_firm(personas.city, made, kinds=[K.SAFETY_EVALUATION, K.TESTING])
    qualify(personas.city, made, kind=K.TESTING, valid_from=days(-10), valid_to=days(100), number="A-1")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"valid_from": days(-10), "valid_to": days(-20)}, "valid_to"),
    ({"valid_from": days(5)}, "valid_from"),
    ({"kind": K.DESIGN}, "kind"),
    ({"kind": "mining"}, "kind"),
    ({"number": " "}, "certificate_number"),
])
def test_bad_qualifications_are_refused_naming_the_field(personas, overrides, field):
    made = firm(personas.city)
    data = {"valid_from": days(-100), "valid_to": days(100), "number": "OK-1", **overrides}
    refused(lambda: qualify(personas.city, made, **data), field)


def test_a_revoked_certificate_stops_covering_from_its_date(personas):
    made = firm(personas.city)
    certificate = qualify(personas.city, made)
    services.revoke_qualification(personas.city, certificate, revoked_on=days(-30), reason="出借资质")
    engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-40), report_date=days(-35))
    error = refused(lambda: engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-20)), "firm")
    assert "revoked on 2026-10-31" in error.message_dict["firm"][0]
    with pytest.raises(InvalidTransition):
        services.revoke_qualification(personas.city, certificate, revoked_on=days(-1), reason="again")
    with pytest.raises(PermissionDenied):
        services.revoke_qualification(personas.ent_a, certificate, revoked_on=days(-1), reason="x")


# Engagements -------------------------------------------------------------------------------------
def test_the_enterprise_records_an_engagement_of_its_own_mine(personas):
    made = firm(personas.city)
    certificate = qualify(personas.city, made)
    engagement = engage(personas.ent_a, personas.pond_a, made, report_date=days(-30))
    assert engagement.qualification == certificate and engagement.recorded_by == personas.ent_a
    assert AuditEvent.objects.filter(object_type="thirdparty.engagement", action="create").count() == 1


def test_an_engagement_is_refused_when_the_qualification_expired(personas):
    made = firm(personas.city)
    qualify(personas.city, made, valid_from=days(-1500), valid_to=days(-61), number="OLD")
    error = refused(lambda: engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-10)), "firm")
    assert error.message_dict["firm"] == ["the firm's Safety evaluation (安全评价) qualification OLD expired on "
                                          "2026-09-30"]
    engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-100), report_date=days(-70))  # covered then
    refused(lambda: engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-100), report_date=days(-40)),
            "firm")  # the report came after the lapse


def test_an_engagement_without_any_qualification_for_the_service_is_refused(personas):
    made = firm(personas.city, kinds=[K.SAFETY_EVALUATION, K.TESTING])
    qualify(personas.city, made)
    error = refused(lambda: engage(personas.ent_a, personas.mine_a, made, kind=K.TESTING), "firm")
    assert "holds no qualification" in error.message_dict["firm"][0]
    refused(lambda: engage(personas.ent_a, personas.mine_a, made, kind=K.DESIGN), "kind")


def test_a_renewal_covers_work_after_the_old_certificate_ends(personas):
    made = firm(personas.city)
    old = qualify(personas.city, made, valid_from=days(-1500), valid_to=days(-50), number="OLD")
    renewal = qualify(personas.city, made, valid_from=days(-60), valid_to=days(1500), number="NEW", replaces=old)
    assert engage(personas.ent_a, personas.mine_a, made, engaged_on=days(-20)).qualification == renewal


def test_a_suspended_firm_is_not_engaged_after_its_suspension(personas):
    made = firm(personas.city)
    qualify(personas.city, made)
    services.suspend_firm(personas.city, made, reason="整改")
    error = refused(lambda: engage(personas.county_a, personas.mine_a, fresh(made), engaged_on=TODAY), "firm")
    assert "Suspended" in error.message_dict["firm"][0]
    engage(personas.county_a, personas.mine_a, fresh(made), engaged_on=days(-30))  # work from before: recorded


@pytest.mark.parametrize(("overrides", "field"), [
    ({"engaged_on": days(1)}, "engaged_on"),
    ({"engaged_on": days(-10), "report_date": days(-20)}, "report_date"),
    ({"report_date": days(2)}, "report_date"),
    ({"report_title": ""}, "report_title"),
    ({"kind": "mining"}, "kind"),
])
def test_bad_engagements_are_refused_naming_the_field(personas, overrides, field):
    made = firm(personas.city)
    qualify(personas.city, made)
    refused(lambda: engage(personas.ent_a, personas.mine_a, made, **overrides), field)


@pytest.mark.parametrize(("persona", "allowed"), [("city", True), ("county_a", True), ("ent_a", True),
                                                  ("county_b", False), ("ent_b", False), ("department", False),
                                                  ("inspector", False)])
def test_who_records_engagements_for_a_mine(personas, persona, allowed):
    made = firm(personas.city)
    qualify(personas.city, made)
    if allowed:
        engage(getattr(personas, persona), personas.mine_a, made)
    else:
        with pytest.raises(PermissionDenied):
            engage(getattr(personas, persona), personas.mine_a, made)


# Checks ------------------------------------------------------------------------------------------
@pytest.fixture
def engagement(personas):
    made = firm(personas.city)
    qualify(personas.city, made)
    return engage(personas.ent_a, personas.mine_a, made, report_date=days(-50))


def test_a_check_with_deficiencies_gets_the_default_follow_up_and_tells_the_county(personas, engagement):
    check = services.record_check(personas.city, engagement, checked_on=days(-10), checkers="执法一科",
                                  result=R.DEFICIENCIES, findings="缺少原始记录")
    assert check.status == Check.Status.OPEN and check.follow_up_due == days(20)
    assert Notification.objects.filter(recipient=personas.county_a).exists()
    assert not Notification.objects.filter(recipient=personas.ent_a).exists()  # not published yet
    assert not Check.objects.follow_up_overdue().exists()
    assert list(Check.objects.follow_up_overdue(days(21))) == [check]


def test_a_compliant_check_is_closed_at_once(personas, engagement):
    check = services.record_check(personas.county_a, engagement, checked_on=days(-1), checkers="县局",
                                  result=R.COMPLIANT)
    assert check.status == Check.Status.CLOSED and check.follow_up_due is None
    with pytest.raises(InvalidTransition):
        services.close_follow_up(personas.county_a, check, followed_up_on=TODAY, note="x")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"checked_on": days(1)}, "checked_on"),
    ({"checked_on": days(-90)}, "checked_on"),  # before the engagement
    ({"result": "fine"}, "result"),
    ({"findings": ""}, "findings"),
    ({"follow_up_due": days(-20)}, "follow_up_due"),
    ({"result": R.COMPLIANT, "follow_up_due": days(10)}, "follow_up_due"),
    ({"checkers": ""}, "checkers"),
])
def test_bad_checks_are_refused_naming_the_field(personas, engagement, overrides, field):
    data = {"checked_on": days(-10), "checkers": "执法一科", "result": R.DEFICIENCIES, "findings": "x", **overrides}
    refused(lambda: services.record_check(personas.city, engagement, **data), field)


def test_the_follow_up_closes_a_check_once_and_publishing_tells_the_enterprise(personas, engagement):
    check = services.record_check(personas.county_a, engagement, checked_on=days(-10), checkers="县局",
                                  result=R.DEFICIENCIES, findings="缺少原始记录", follow_up_due=days(5))
    refused(lambda: services.close_follow_up(personas.county_a, check, followed_up_on=days(-11), note="x"),
            "followed_up_on")
    services.close_follow_up(personas.county_a, check, followed_up_on=TODAY, note="已补正")
    assert fresh(check).status == Check.Status.CLOSED
    with pytest.raises(InvalidTransition):
        services.close_follow_up(personas.county_a, check, followed_up_on=TODAY, note="again")
    services.publish_check(personas.county_a, check)
    assert Notification.objects.filter(recipient=personas.ent_a, link=f"/thirdparty/checks/{check.pk}/").exists()
    with pytest.raises(InvalidTransition):
        services.publish_check(personas.county_a, check)


@pytest.mark.parametrize("persona", ["county_b", "ent_a", "department", "inspector"])
def test_only_the_mines_county_or_the_city_checks(personas, engagement, persona):
    with pytest.raises(PermissionDenied):
        services.record_check(getattr(personas, persona), engagement, checked_on=days(-1), checkers="x",
                              result=R.COMPLIANT)


# Falsification cases -----------------------------------------------------------------------------
def suspect_check(personas, engagement) -> Check:
    return services.record_check(personas.county_a, engagement, checked_on=days(-40), checkers="县局",
                                 result=R.FALSIFICATION_SUSPECTED, findings="数据与复测不符")


def test_a_case_from_a_check_ends_in_a_blacklist(personas, engagement):
    check = suspect_check(personas, engagement)
    case = services.open_case(personas.county_a, source="check", source_check=check, opened_on=days(-39),
                              falsified=[FalsifiedItem.SITE_WORK_NOT_DONE, FalsifiedItem.DATA],
                              description="未到现场, 编造数据")
    assert case.number == "TP-2026-001" and case.firm == engagement.firm
    assert case.falsified == ["data", "site_work_not_done"]  # in the catalogue's order
    assert list(case.mines.all()) == [personas.mine_a] and case.opened_by_org == personas.county_a.organisation
    services.add_affected_mines(personas.county_a, case, [personas.pond_a])
    services.confirm_case(personas.county_a, case, findings="门禁记录证实未到现场", confirmed_on=days(-20))
    with pytest.raises(PermissionDenied):  # the blacklist is the city's decision
        services.close_case(personas.county_a, case, actions=[CaseAction.BLACKLIST], decision="x",
                            public_summary="y")
    refused(lambda: services.close_case(personas.city, case, actions=[CaseAction.BLACKLIST], decision="列入失信名单",
                                        decided_on=days(-10)), "public_summary")
    refused(lambda: services.close_case(personas.city, case, actions=[CaseAction.WARNING], decision="x",
                                        decided_on=days(-25)), "decided_on")
    services.close_case(personas.city, case, decided_on=days(-10), decision="列入失信名单, 移送资质机关",
                        actions=[CaseAction.LICENSING_REFERRAL, CaseAction.BLACKLIST],
                        public_summary="出具虚假检测报告")
    firm_now = fresh(engagement.firm)
    assert fresh(case).status == CS.CLOSED and fresh(case).actions == ["blacklist", "licensing_referral"]
    assert (firm_now.status, firm_now.status_since, firm_now.blacklist_notice) == (
        FS.BLACKLISTED, days(-10), "出具虚假检测报告")
    assert firm_now.blacklisted_until == dt.date(2029, 11, 20)
    assert services.listing_case(firm_now) == case
    assert FirmStatusChange.objects.get(firm=firm_now).case == case
    services.publish_case(personas.county_a, case)
    assert Notification.objects.filter(recipient=personas.ent_a, subject__contains=case.number).exists()
    with pytest.raises(InvalidTransition):
        services.publish_case(personas.county_a, case)


def test_a_suspension_action_suspends_an_active_firm_only(personas, engagement):
    case = services.open_case(personas.city, firm=engagement.firm, source="report", source_reference="举报 2026-7",
                              falsified=[FalsifiedItem.SIGNATURES], description="代签", mines=[personas.mine_a])
    services.confirm_case(personas.city, case, findings="属实")
    services.close_case(personas.city, case, actions=[CaseAction.SUSPENSION, CaseAction.PENALTY_REFERRAL],
                        decision="暂停业务")
    assert fresh(engagement.firm).status == FS.SUSPENDED


def test_a_county_closes_with_a_warning_without_touching_the_firm(personas, engagement):
    case = services.open_case(personas.county_a, source="check", source_check=suspect_check(personas, engagement),
                              falsified=[FalsifiedItem.OTHER], description="x")
    services.confirm_case(personas.county_a, case, findings="情节轻微")
    services.close_case(personas.county_a, case, actions=[CaseAction.WARNING], decision="警示约谈")
    assert fresh(case).status == CS.CLOSED and fresh(engagement.firm).status == FS.ACTIVE
    assert not FirmStatusChange.objects.exists()


def test_case_transitions_outside_the_table_are_refused(personas, engagement):
    case = services.open_case(personas.city, firm=engagement.firm, source="report", source_reference="举报",
                              falsified=[FalsifiedItem.DATA], description="x")
    for call in (lambda: services.close_case(personas.city, case, actions=[CaseAction.WARNING], decision="x"),
                 lambda: services.publish_case(personas.city, case)):
        before = state()
        with pytest.raises(InvalidTransition):
            call()
        assert state() == before
    services.dismiss_case(personas.city, case, reason="举报不实")
    with pytest.raises(InvalidTransition):
        services.confirm_case(personas.city, case, findings="x")
    with pytest.raises(InvalidTransition):
        services.add_affected_mines(personas.city, case, [personas.mine_a])


def test_bad_cases_are_refused_naming_the_field(personas, engagement):
    compliant = services.record_check(personas.city, engagement, checked_on=days(-1), checkers="x",
                                      result=R.COMPLIANT)
    refused(lambda: services.open_case(personas.city, source="check", source_check=compliant, falsified=["data"],
                                       description="x"), "source_check")
    refused(lambda: services.open_case(personas.city, firm=engagement.firm, source="report", falsified=["data"],
                                       description="x"), "source_reference")
    suspected = suspect_check(personas, engagement)
    refused(lambda: services.open_case(personas.city, source="check", source_check=suspected, falsified=["data"],
                                       description="x", opened_on=days(-41)), "opened_on")
    refused(lambda: services.open_case(personas.city, firm=engagement.firm, source="rumour", falsified=["lies"],
                                       description=""), "source", "falsified", "description")
    refused(lambda: services.open_case(personas.county_a, firm=engagement.firm, source="report",
                                       source_reference="举报", falsified=["data"], description="x",
                                       mines=[personas.mine_b]), "mines")
    with pytest.raises(PermissionDenied):
        services.open_case(personas.ent_a, firm=engagement.firm, source="report", source_reference="举报",
                           falsified=["data"], description="x")


def test_a_county_handles_only_cases_it_opened_or_that_touch_its_mines(personas, engagement):
    case = services.open_case(personas.county_b, firm=engagement.firm, source="report", source_reference="举报",
                              falsified=["data"], description="x", mines=[personas.mine_b])
    with pytest.raises(PermissionDenied):
        services.confirm_case(personas.county_a, case, findings="x")
    services.add_affected_mines(personas.city, case, [personas.mine_a])
    services.confirm_case(personas.county_a, case, findings="属实")  # now it touches county A's mine
    assert fresh(case).status == CS.CONFIRMED
