"""The case's state machine: each transition of the table allowed to the deciding authority only (by role), the
refused ones (409), opening with its legal basis and source, the notice and the right to be heard, the decision
under the benchmark (ranges, legal maximum, 一案双罚), numbering, payments, reconsideration, closing, withdrawing,
and the audit and notifications every step leaves."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.penalties import benchmark, services
from minesafe.penalties.models import Challenge, Payment, PenaltyCase

from .conftest import BASIS, DECIDED, NOTIFIED, OPENED, PERSON, SERVED, D, decide, inspect, notify, open_case

pytestmark = pytest.mark.django_db
S = PenaltyCase.Status
PAID_ON = D(2026, 10, 20)
ACTORS = ["city", "county_a", "county_b", "ent_a", "inspector", "department"]


def case_in(personas, status: str) -> PenaltyCase:
    case = open_case(personas)
    if status == S.OPENED:
        return case
    notify(personas, case)
    if status == S.NOTIFIED:
        return case
    decide(personas, case)
    if status == S.DECIDED:
        return case
    pay_all(personas, case)
    assert case.status == S.PAID
    return case


def pay_all(personas, case, on=PAID_ON):
    for target, fine in (("enterprise", case.enterprise_fine), ("person", case.person_fine)):
        if fine:
            services.record_payment(personas.county_a, case, target=target, amount=fine, paid_on=on,
                                    receipt_ref=f"R-{target}")


def revoke(personas, case):
    challenge = services.file_challenge(personas.county_a, case, kind="reconsideration", filed_on=D(2026, 10, 20))
    services.conclude_challenge(personas.county_a, challenge, concluded_on=D(2026, 11, 10), outcome="revoked")


def attempt(personas, case, to: str, actor):
    if to == S.NOTIFIED:
        return notify(personas, case, actor=actor)
    if to == S.WITHDRAWN:
        return services.withdraw(actor, case, reason="违法事实不清")
    if to == S.DECIDED:
        return decide(personas, case, actor=actor)
    if to == S.PAID:
        return services.record_payment(actor, case, target="enterprise", amount=case.enterprise_fine,
                                       paid_on=D(2026, 10, 20), receipt_ref="R1")
    if to == S.CLOSED:
        return services.close_case(actor, case, note="结案")
    raise AssertionError(to)


@pytest.mark.parametrize("transition", list(services.TRANSITIONS))
def test_each_transition_is_allowed_to_the_deciding_authority_only(personas, transition):
    frm, to = transition
    case = case_in(personas, frm)
    if to == S.PAID:  # the payment that settles the case: the person's fine is paid first
        services.record_payment(personas.county_a, case, target="person", amount=case.person_fine,
                                paid_on=D(2026, 10, 20), receipt_ref="R0")
    if transition == (S.DECIDED, S.CLOSED):
        revoke(personas, case)
    for who in ACTORS:
        if who == "county_a":
            continue
        with pytest.raises(PermissionDenied):
            attempt(personas, case, to, getattr(personas, who))
        assert PenaltyCase.objects.get(pk=case.pk).status == frm, who
    attempt(personas, case, to, personas.county_a)
    assert PenaltyCase.objects.get(pk=case.pk).status == to
    event = AuditEvent.objects.filter(object_type="penalties.penaltycase", object_id=str(case.pk),
                                      action=AuditEvent.Action.TRANSITION).first()
    assert event.before["status"] == frm and event.after["status"] == to
    assert {r for _step, r in services.TRANSITIONS.values()} == {services.AUTHORITY}


@pytest.mark.parametrize("frm,targets", [(S.OPENED, [S.DECIDED, S.CLOSED, S.PAID]),
                                         (S.NOTIFIED, [S.CLOSED, S.NOTIFIED]),
                                         (S.DECIDED, [S.WITHDRAWN, S.NOTIFIED, S.CLOSED]),
                                         (S.PAID, [S.WITHDRAWN, S.DECIDED])])
def test_a_transition_outside_the_table_is_a_conflict(personas, frm, targets):
    case = case_in(personas, frm)
    for to in targets:
        with pytest.raises(InvalidTransition):
            attempt(personas, case, to, personas.county_a)
        assert PenaltyCase.objects.get(pk=case.pk).status == frm, to


def test_the_city_decides_its_own_cases_and_a_county_may_not(personas):
    case = open_case(personas, actor=personas.city, mine=personas.mine_b)
    assert case.organisation.kind == Organisation.Kind.CITY_BUREAU
    with pytest.raises(PermissionDenied):
        notify(personas, case, actor=personas.county_b)
    notify(personas, case, actor=personas.city)
    decide(personas, case, actor=personas.city)
    assert case.decision_no == "承市应急罚〔2026〕1号"


# Opening -----------------------------------------------------------------------------------------
def test_a_case_without_a_legal_basis_is_refused(personas):
    for basis in ([], None, ["aqsf-41"], ["aqsf-102"], "aqsf-41"):
        with pytest.raises(ValidationError) as exc:
            open_case(personas, legal_basis=basis)
        assert "legal_basis" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        open_case(personas, legal_basis=["aqsf-41", "aqsf-102", "no-such-article"])
    assert "no-such-article" in exc.value.message_dict["legal_basis"][0]
    assert not PenaltyCase.objects.exists()


def test_opening_snapshots_the_provisions_cited(opened):
    cited = {p["key"]: p for p in opened.legal_basis}
    assert set(cited) == set(BASIS)
    assert cited["aqsf-102"]["citation"] == "《安全生产法》第一百零二条"
    assert "penalty" in cited["aqsf-102"]["roles"] and "violated" in cited["aqsf-41"]["roles"]


def test_only_the_mines_county_or_the_city_opens_a_case(personas):
    for who in ("county_b", "ent_a", "inspector", "department"):
        with pytest.raises(PermissionDenied):
            open_case(personas, actor=getattr(personas, who))
    assert open_case(personas, actor=personas.city).organisation.kind == Organisation.Kind.CITY_BUREAU


def test_bad_input_is_refused_field_by_field(personas, inspection_a):
    with pytest.raises(ValidationError) as exc:
        open_case(personas, violation_type="nonsense", facts=" ", opened_on=dt.date(2099, 1, 1), source="rumour")
    errors = exc.value.message_dict
    assert {"violation_type", "facts", "opened_on", "source"} <= set(errors)
    other = inspect(personas.mine_b, personas.county_b.organisation, D(2026, 9, 1), personas.county_b)
    with pytest.raises(ValidationError) as exc:
        open_case(personas, source="inspection", inspection=other)
    assert "inspection" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        open_case(personas, source="inspection", inspection=inspection_a, opened_on=D(2026, 9, 1))
    assert "opened_on" in exc.value.message_dict
    case = open_case(personas, source="inspection", inspection=inspection_a)
    assert case.inspection == inspection_a and case.source == "inspection"


def test_a_case_from_a_whistleblower_report_or_an_accident_must_be_about_the_mine(personas):
    from minesafe.enforcement import accidents
    from minesafe.tipoffs import services as tipoffs

    report, _code = tipoffs.submit(county=personas.county_a_region, mine=personas.mine_a, category="hidden_hazard",
                                   description="隐患未整改")
    case = open_case(personas, source="tipoff", tipoff=report)
    assert case.tipoff == report
    with pytest.raises(ValidationError) as exc:
        open_case(personas, mine=personas.mine_a2, source="tipoff", tipoff=report)
    assert "tipoff" in exc.value.message_dict
    accident = accidents.report_accident(
        personas.county_a, personas.mine_a, occurred_at=dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC), place="-100 m",
        kind="roof_fall", serious_injuries=1, summary="冒顶")
    assert open_case(personas, source="accident", accident=accident).accident == accident
    with pytest.raises(ValidationError):
        open_case(personas, source="accident", accident=None)


# The notice and the right to be heard ----------------------------------------------------------------
def test_the_notice_states_the_hearing_right_for_larger_fines_and_the_reply_period(personas, opened):
    notify(personas, opened, proposed_enterprise_fine=Decimal("20000"), proposed_person_fine=Decimal("10000"))
    assert opened.status == S.NOTIFIED and not opened.hearing_right
    assert opened.reply_due == NOTIFIED + dt.timedelta(days=5)
    with pytest.raises(ValidationError) as exc:
        services.record_reply(personas.ent_a, opened, request_hearing=True, replied_on=D(2026, 10, 6))
    assert "request_hearing" in exc.value.message_dict
    big = open_case(personas)
    notify(personas, big, proposed_enterprise_fine=Decimal("50000"))
    assert big.hearing_right


def test_the_party_may_request_a_hearing_within_the_period_and_no_decision_comes_before_it(personas, opened):
    notify(personas, opened, proposed_enterprise_fine=Decimal("50000"))
    with pytest.raises(DomainError):
        services.record_reply(personas.ent_a, opened, request_hearing=True, replied_on=D(2026, 10, 11))
    with pytest.raises(PermissionDenied):
        services.record_reply(personas.ent_b, opened, request_hearing=True, replied_on=D(2026, 10, 7))
    services.record_reply(personas.ent_a, opened, request_hearing=True, statement="申请听证", replied_on=D(2026, 10, 7))
    assert opened.hearing_requested_on == D(2026, 10, 7)
    assert Notification.objects.filter(recipient=personas.county_a, subject__startswith="Hearing requested").exists()
    with pytest.raises(DomainError) as exc:
        decide(personas, opened, enterprise_fine=Decimal("50000"), circumstance="severe",
               person_fine=Decimal("45000"))
    assert exc.value.code == "hearing_pending"
    with pytest.raises(PermissionDenied):
        services.record_hearing(personas.ent_a, opened, held_on=D(2026, 10, 12), note="x")
    services.record_hearing(personas.county_a, opened, held_on=D(2026, 10, 12), note="听证维持原意见")
    decide(personas, opened, enterprise_fine=Decimal("45000"), circumstance="severe", person_fine=Decimal("45000"))
    assert opened.status == S.DECIDED


def test_without_a_reply_the_decision_waits_for_the_end_of_the_period(personas, notified):
    with pytest.raises(DomainError) as exc:
        decide(personas, notified, decided_on=D(2026, 10, 10), served_on=None)
    assert exc.value.code == "reply_pending"
    decide(personas, notified, decided_on=D(2026, 10, 11), served_on=None)
    assert notified.status == S.DECIDED and notified.payment_due is None


# The decision ------------------------------------------------------------------------------------
def test_a_fine_inside_the_level_range_needs_no_reason(personas, notified):
    decide(personas, notified, enterprise_fine=Decimal("20000"), person_fine=Decimal("30000"))
    assert notified.status == S.DECIDED and notified.fine_reason == ""
    applied = notified.benchmark_applied
    assert applied["level"] == "general" and applied["enterprise_range"] == ["20000.00", "30000.00"]
    assert notified.benchmark.version == benchmark.active().version


@pytest.mark.parametrize("enterprise,person", [("19999", "28000"), ("30000.01", "28000"), ("25000", "24999"),
                                               ("25000", "30001")])
def test_a_fine_outside_the_range_needs_a_written_reason(personas, notified, enterprise, person):
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, enterprise_fine=Decimal(enterprise), person_fine=Decimal(person))
    assert "fine" in exc.value.message_dict and "reason" in exc.value.message_dict["fine"][0]
    assert PenaltyCase.objects.get(pk=notified.pk).status == S.NOTIFIED
    decide(personas, notified, enterprise_fine=Decimal(enterprise), person_fine=Decimal(person),
           fine_reason="当事人积极整改并主动消除危害后果")
    assert notified.status == S.DECIDED


@pytest.mark.parametrize("field,amount", [("enterprise_fine", "50000.01"), ("person_fine", "50001")])
def test_a_fine_beyond_the_legal_maximum_is_refused_even_with_a_reason(personas, notified, field, amount):
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, circumstance="severe", **{field: Decimal(amount)}, fine_reason="情节特别严重")
    assert "legal maximum" in exc.value.message_dict["fine"][0]


def test_one_case_two_penalties_requires_the_person_fined(personas, notified):
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, person_fine=None)
    assert "一案双罚" in exc.value.message_dict["person"][0]
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, person_name="", person_role="")
    assert "person" in exc.value.message_dict


def test_the_person_goes_unfined_only_on_an_exemption_provision_with_a_reason(personas, notified):
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, person_fine=None, person_exemption="aqsf-102", person_exemption_note="x")
    assert "person_exemption" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        decide(personas, notified, person_fine=None, person_exemption="xzcff-33")
    assert "person_exemption_note" in exc.value.message_dict
    decide(personas, notified, person_fine=None, person_exemption="xzcff-33",
           person_exemption_note="该矿长于违法行为发生后到任，有证据证明没有主观过错")
    assert notified.person_fine == 0 and notified.person_exemption == "xzcff-33"
    assert "xzcff-33" in {p["key"] for p in notified.legal_basis}


def test_a_violation_without_double_penalty_needs_no_person(personas):
    case = open_case(personas, violation_type="hazard_not_eliminated", legal_basis=["aqsf-41", "aqsf-102"])
    notify(personas, case, proposed_enterprise_fine=Decimal("8000"), proposed_person_fine=None)
    decide(personas, case, enterprise_fine=Decimal("8000"), person_fine=None)
    assert case.status == S.DECIDED and case.person_fine == 0


def test_the_person_fine_of_an_accident_is_a_share_of_last_years_income(personas):
    case = open_case(personas, violation_type="accident_responsibility", legal_basis=["aqsf-21", "aqsf-114", "aqsf-95"])
    notify(personas, case, circumstance="general_accident", proposed_enterprise_fine=Decimal("500000"),
           proposed_person_fine=Decimal("0"))
    with pytest.raises(ValidationError) as exc:
        decide(personas, case, circumstance="general_accident", enterprise_fine=Decimal("500000"),
               person_fine=Decimal("80000"))
    assert "person_annual_income" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        decide(personas, case, circumstance="general_accident", enterprise_fine=Decimal("500000"),
               person_fine=Decimal("80000"), person_annual_income=Decimal("250000"))
    assert "outside 100000.00–100000.00" in exc.value.message_dict["fine"][0]
    decide(personas, case, circumstance="general_accident", enterprise_fine=Decimal("500000"),
           person_fine=Decimal("100000"), person_annual_income=Decimal("250000"))
    assert case.benchmark_applied["person_range"] == ["100000.00", "100000.00"]


def test_unknown_level_factor_or_amount_is_refused(personas, notified):
    for kwargs, field in [({"circumstance": "apocalyptic"}, "circumstance"), ({"factors": ["bribe"]}, "factors"),
                          ({"enterprise_fine": "lots"}, "enterprise_fine"), ({"enterprise_fine": "-5"},
                                                                             "enterprise_fine"),
                          ({"enterprise_fine": "1.005"}, "enterprise_fine"),
                          ({"person_id_number": "110105194912310021"}, "person_id_number"),
                          ({"decided_on": D(2099, 1, 1)}, "decided_on"), ({"served_on": D(2026, 10, 14)}, "served_on")]:
        with pytest.raises(ValidationError) as exc:
            decide(personas, notified, **kwargs)
        assert field in exc.value.message_dict, kwargs
    assert PenaltyCase.objects.get(pk=notified.pk).status == S.NOTIFIED


def test_decisions_are_numbered_per_authority_and_year(personas):
    first = decide(personas, notify(personas, open_case(personas)))
    second = decide(personas, notify(personas, open_case(personas, mine=personas.mine_a2)))
    other = decide(personas, notify(personas, open_case(personas, actor=personas.county_b, mine=personas.mine_b),
                                    actor=personas.county_b), actor=personas.county_b)
    assert first.decision_no == "宽城应急罚〔2026〕1号" and second.decision_no == "宽城应急罚〔2026〕2号"
    assert other.decision_no == "兴隆应急罚〔2026〕1号"


def test_a_decided_case_keeps_its_benchmark_version_when_the_city_edits_the_benchmark(personas, decided):
    old = decided.benchmark
    with pytest.raises(PermissionDenied):
        benchmark.edit_level(personas.county_a, "major_hazard", "general", enterprise_min=1, enterprise_max=2,
                             note="x")
    with pytest.raises(ValidationError) as exc:
        benchmark.edit_level(personas.city, "major_hazard", "general", enterprise_min=30000, enterprise_max=60000,
                             note="")
    assert {"note", "enterprise_max"} <= set(exc.value.message_dict)
    new = benchmark.edit_level(personas.city, "major_hazard", "general", enterprise_min=22000, enterprise_max=32000,
                               person_min=26000, person_max=31000, note="按省裁量基准调整")
    assert new.version != old.version and new.row.active
    assert new.violation("major_hazard").levels["general"].enterprise == benchmark.Range(Decimal("22000"),
                                                                                         Decimal("32000"))
    decided.refresh_from_db()
    assert decided.benchmark == old and decided.benchmark_applied["enterprise_range"] == ["20000.00", "30000.00"]
    case = notify(personas, open_case(personas))
    with pytest.raises(ValidationError):
        decide(personas, case, enterprise_fine=Decimal("21000"))
    decide(personas, case, enterprise_fine=Decimal("31000"), person_fine=Decimal("30000"))
    assert case.benchmark == new.row


# Payments, reconsideration, closing --------------------------------------------------------------
def test_partial_payments_then_paid_in_full(personas, decided):
    services.record_payment(personas.county_a, decided, target="enterprise", amount=Decimal("10000"),
                            paid_on=D(2026, 10, 20), receipt_ref="R1")
    assert decided.status == S.DECIDED
    with pytest.raises(ValidationError) as exc:
        services.record_payment(personas.county_a, decided, target="enterprise", amount=Decimal("15000.01"),
                                paid_on=D(2026, 10, 21), receipt_ref="R2")
    assert "amount" in exc.value.message_dict
    for bad, field in [({"amount": "0"}, "amount"), ({"target": "mine"}, "target"), ({"receipt_ref": ""},
                                                                                     "receipt_ref"),
                       ({"paid_on": D(2026, 10, 1)}, "paid_on")]:
        with pytest.raises(ValidationError) as exc:
            services.record_payment(personas.county_a, decided, **{"target": "enterprise", "amount": "100",
                                                                   "paid_on": D(2026, 10, 21), "receipt_ref": "R",
                                                                   **bad})
        assert field in exc.value.message_dict
    services.record_payment(personas.county_a, decided, target="enterprise", amount=Decimal("15000"),
                            paid_on=D(2026, 10, 22), receipt_ref="R2")
    services.record_payment(personas.county_a, decided, target="person", amount=Decimal("28000"),
                            paid_on=D(2026, 10, 25), receipt_ref="R3")
    assert decided.status == S.PAID and decided.paid_on == D(2026, 10, 25)
    assert Payment.objects.filter(case=decided).count() == 3
    with pytest.raises(InvalidTransition):
        services.record_payment(personas.county_a, decided, target="person", amount="1", paid_on=D(2026, 10, 26),
                                receipt_ref="R4")
    services.close_case(personas.county_a, decided, note="结案")
    assert decided.status == S.CLOSED


def test_a_late_payment_owes_the_late_fee_before_the_case_is_paid(personas, decided):
    # Due 10-31; the enterprise pays on 11-05: five days late, 5 × 3% × 25000 = 3750.
    services.record_payment(personas.county_a, decided, target="person", amount=Decimal("28000"),
                            paid_on=D(2026, 10, 30), receipt_ref="P")
    services.record_payment(personas.county_a, decided, target="enterprise", amount=Decimal("25000"),
                            paid_on=D(2026, 11, 5), receipt_ref="E")
    assert decided.status == S.DECIDED
    state = {s.target: s for s in services.fine_states(decided, as_of=D(2026, 11, 30))}
    assert state["enterprise"].late_fee.amount == Decimal("3750.00") and state["person"].late_fee.amount == 0
    with pytest.raises(ValidationError):
        services.record_payment(personas.county_a, decided, target="enterprise", kind="late_fee",
                                amount=Decimal("3750.01"), paid_on=D(2026, 11, 6), receipt_ref="L")
    services.record_payment(personas.county_a, decided, target="enterprise", kind="late_fee", amount=Decimal("3750"),
                            paid_on=D(2026, 11, 6), receipt_ref="L")
    assert decided.status == S.PAID


def test_reconsideration_pauses_the_late_fee(personas, decided):
    services.record_payment(personas.county_a, decided, target="person", amount=Decimal("28000"),
                            paid_on=D(2026, 10, 30), receipt_ref="P")
    challenge = services.file_challenge(personas.county_a, decided, kind="reconsideration", filed_on=D(2026, 11, 3),
                                        body="承德市人民政府")
    with pytest.raises(DomainError):
        services.file_challenge(personas.county_a, decided, kind="lawsuit", filed_on=D(2026, 11, 4))
    state = services.fine_states(decided, as_of=D(2026, 11, 30))[0]
    assert state.late_fee.days == 2 and state.late_fee.paused  # 11-01 and 11-02, then paused
    with pytest.raises(DomainError):
        services.close_case(personas.county_a, decided)
    services.conclude_challenge(personas.county_a, challenge, concluded_on=D(2026, 11, 20), outcome="upheld")
    state = services.fine_states(decided, as_of=D(2026, 11, 25))[0]
    assert state.late_fee.days == 2 + 5 and state.late_fee.amount == Decimal("5250.00")
    assert Challenge.objects.get(pk=challenge.pk).outcome == "upheld"


def test_a_decision_revoked_on_review_is_closed_without_payment(personas, decided):
    with pytest.raises(InvalidTransition):
        services.close_case(personas.county_a, decided)
    revoke(personas, decided)
    services.close_case(personas.county_a, decided, note="复议撤销")
    assert decided.status == S.CLOSED


def test_withdrawing_needs_a_reason(personas, notified):
    with pytest.raises(ValidationError) as exc:
        services.withdraw(personas.county_a, notified, reason=" ")
    assert "reason" in exc.value.message_dict
    services.withdraw(personas.county_a, notified, reason="证据不足")
    assert notified.status == S.WITHDRAWN and notified.withdraw_reason == "证据不足"
    assert Notification.objects.filter(recipient=personas.ent_a, subject__startswith="Penalty case withdrawn").exists()


# Audit and notifications -------------------------------------------------------------------------
def test_the_audit_log_never_holds_the_persons_id_number(personas, decided):
    events = AuditEvent.objects.filter(object_type="penalties.penaltycase", object_id=str(decided.pk))
    assert events.count() == 3  # opened, notified, decided
    dumped = str([(e.before, e.after) for e in events])
    assert PERSON["person_id_number"] not in dumped and "110105********002X" in dumped


def test_the_party_is_notified_and_the_city_told_of_decisions(personas, decided):
    subjects = set(Notification.objects.filter(recipient=personas.ent_a).values_list("subject", flat=True))
    assert any(s.startswith("Notice of an intended administrative penalty") for s in subjects)
    assert any(s.startswith("Administrative penalty decided: 宽城应急罚〔2026〕1号") for s in subjects)
    assert Notification.objects.filter(recipient=personas.city, subject__contains="宽城应急罚").exists()
    assert not Notification.objects.filter(recipient=personas.ent_b).exists()


def test_the_timeline_lists_the_steps_in_order(personas, decided):
    pay_all(personas, decided)
    labels = [e.label for e in services.timeline(decided)]
    assert labels[:3] == ["Case opened (立案)", "Notified (告知)", "Decided (决定)"]
    assert "Fines paid in full" in labels
    assert [e.on for e in services.timeline(decided)] == sorted(e.on for e in services.timeline(decided))


def test_dates_used_by_the_fixtures_are_in_order():
    assert OPENED < NOTIFIED < DECIDED < SERVED


def test_facts_and_legal_basis_are_corrected_only_before_the_decision(personas, notified):
    services.edit_case(personas.county_a, notified, facts="更正后的违法事实", legal_basis=["aqsf-41", "aqsf-102"])
    assert notified.facts == "更正后的违法事实" and {p["key"] for p in notified.legal_basis} == {"aqsf-41", "aqsf-102"}
    with pytest.raises(ValidationError) as exc:
        services.edit_case(personas.county_a, notified, legal_basis=["aqsf-41"])
    assert "legal_basis" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.edit_case(personas.ent_a, notified, facts="企业改写")
    decide(personas, notified, person_fine=Decimal("28000"))
    with pytest.raises(InvalidTransition):
        services.edit_case(personas.county_a, notified, facts="决定后不得修改")
    event = AuditEvent.objects.filter(object_type="penalties.penaltycase", object_id=str(notified.pk),
                                      action=AuditEvent.Action.UPDATE).get()
    assert event.after["facts"] == "更正后的违法事实"
