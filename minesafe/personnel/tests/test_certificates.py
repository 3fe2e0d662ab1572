"""Special-operation certificates (特种作业操作证): issue rules, states with frozen time (review, renewal window,
expiry), review, renewal and revocation, the underground first-certificate education rule, unlicensed work
(任职无证), the expiry dashboard and its export, the Excel ledger import with bad rows, masking of ID numbers
per role, and the role x page/API matrix."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook
from rest_framework.test import APIClient

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.core.validators import resident_id_check_char
from minesafe.personnel import certificates as services
from minesafe.personnel import common
from minesafe.personnel.models import Certificate, Person
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
ST = services.State
WRITERS_OF_MINE_A = ("city", "county_a", "ent_a")
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")
SEES_PERSONAL = {"city": set(MINES), "county_a": {"mine_a", "mine_a2", "pond_a"}, "county_b": {"mine_b"},
                 "ent_a": {"mine_a", "pond_a"}, "ent_b": {"mine_b"}, "department": set(), "inspector": set()}


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    moment = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def rid(seq: int, region: str = "130827", birth: str = "19850101") -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def person(personas, mine=None, seq=1, name="张三", education="high", operations=(), active=True) -> Person:
    return Person.objects.create(mine=mine or personas.mine_a, name=name, id_number=rid(seq), education=education,
                                 frontline_years=Decimal(5), assigned_operations=list(operations), active=active,
                                 created_by=personas.city)


def issue(personas, holder, actor=None, **overrides) -> Certificate:
    data = {"category": "nm_blasting", "number": f"T{holder.id_number}", "issued_on": dt.date(2024, 5, 1),
            **overrides}
    return services.issue_certificate(actor or personas.ent_a, holder, **data)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def counts() -> tuple:
    return (Certificate.objects.count(), AuditEvent.objects.count(),
            list(Certificate.objects.values_list("number", "issued_on", "expires_on", "last_review_on", "revoked",
                                                 "extended_review", "issuer").order_by("pk")))


def cert_obj(**values) -> Certificate:
    base = {"issued_on": dt.date(2021, 1, 10), "expires_on": dt.date(2027, 1, 10), "last_review_on": None,
            "extended_review": False, "revoked": False}
    return Certificate(**{**base, **values})


# States (pure: no database) -----------------------------------------------------------------------
def test_the_catalogue_rules_are_read_as_data(personas):
    limits = services.rules()
    assert (limits.validity_years, limits.review_interval_years, limits.extended_interval_years,
            limits.renewal_window_days, limits.underground_education_min) == (6, 3, 6, 60, "high")
    assert "10 or more years" in limits.extended_condition


@pytest.mark.parametrize(("today", "state", "due", "window"), [
    (dt.date(2023, 1, 10), ST.VALID, dt.date(2024, 1, 10), False),
    (dt.date(2024, 1, 10), ST.VALID, dt.date(2024, 1, 10), False),  # the due day itself is still on time
    (dt.date(2024, 1, 11), ST.REVIEW_OVERDUE, dt.date(2024, 1, 10), False),
    (dt.date(2026, 11, 11), ST.REVIEW_OVERDUE, dt.date(2024, 1, 10), True),  # overdue outranks expiring
    (dt.date(2027, 1, 11), ST.EXPIRED, None, False),
])
def test_an_unreviewed_certificate_falls_review_overdue_three_years_after_issue(personas, today, state, due,
                                                                              window):
    assert services.certificate_state(cert_obj(), today) == (state, due, window)


@pytest.mark.parametrize(("today", "state", "window"), [
    (dt.date(2026, 11, 10), ST.VALID, False),
    (dt.date(2026, 11, 11), ST.EXPIRING, True),  # 60 days before expiry: the renewal window opens
    (dt.date(2027, 1, 10), ST.EXPIRING, True),  # valid through its expiry day
    (dt.date(2027, 1, 11), ST.EXPIRED, False),
])
def test_a_reviewed_certificate_enters_the_renewal_window_sixty_days_before_expiry(personas, today, state, window):
    # reviewed 2024-01-05: the next review (2027-01-05) falls in the renewal window, so the renewal is the review
    status = services.certificate_state(cert_obj(last_review_on=dt.date(2024, 1, 5)), today)
    assert (status.state, status.next_review_due, status.in_renewal_window) == (state, None, window)


def test_an_extended_review_interval_is_six_years(personas):
    day = dt.date(2024, 6, 1)
    plain = cert_obj(issued_on=dt.date(2020, 6, 1), expires_on=dt.date(2026, 6, 1))
    extended = cert_obj(issued_on=dt.date(2020, 6, 1), expires_on=dt.date(2026, 6, 1), extended_review=True)
    assert services.certificate_state(plain, day) == (ST.REVIEW_OVERDUE, dt.date(2023, 6, 1), False)
    assert services.certificate_state(extended, day) == (ST.VALID, None, False)
    # a renewed certificate expiring in 12 years: an extended review falls due 6 years after the last review
    renewed = cert_obj(issued_on=dt.date(2014, 6, 1), expires_on=dt.date(2032, 6, 1),
                       last_review_on=dt.date(2020, 6, 1), extended_review=True)
    assert services.certificate_state(renewed, day).next_review_due == dt.date(2026, 6, 1)


def test_a_revoked_certificate_is_revoked_whatever_its_dates(personas):
    assert services.certificate_state(cert_obj(revoked=True), dt.date(2022, 1, 1)) == (ST.REVOKED, None, False)


def test_a_leap_day_issue_reviews_on_28_february(personas):
    leap = cert_obj(issued_on=dt.date(2024, 2, 29), expires_on=dt.date(2030, 2, 28))
    assert services.certificate_state(leap, dt.date(2025, 1, 1)).next_review_due == dt.date(2027, 2, 28)


# Issuing -----------------------------------------------------------------------------------------
def test_the_enterprise_records_a_certificate_with_the_default_six_year_expiry(personas):
    holder = person(personas)
    cert = fresh(issue(personas, holder, issuer="承德市应急管理局"))
    assert (cert.person, cert.category, cert.issued_on, cert.expires_on, cert.issuer, cert.created_by) == (
        holder, "nm_blasting", dt.date(2024, 5, 1), dt.date(2030, 5, 1), "承德市应急管理局", personas.ent_a)
    assert services.certificate_state(cert) == (ST.VALID, dt.date(2027, 5, 1), False)


@pytest.mark.parametrize("persona", ["city", "county_a"])
def test_the_county_and_the_city_record_certificates(personas, persona):
    assert issue(personas, person(personas), getattr(personas, persona)).pk


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_a_certificate(personas, persona):
    holder = person(personas)
    before = counts()
    with pytest.raises(PermissionDenied):
        issue(personas, holder, getattr(personas, persona))
    assert counts() == before


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"issued_on": TODAY + dt.timedelta(days=1)}, "issued_on", "future"),
    ({"issued_on": None}, "issued_on", "issue date"),
    ({"expires_on": dt.date(2024, 4, 30)}, "expires_on", "must be after the issue date"),
    ({"expires_on": dt.date(2024, 5, 1)}, "expires_on", "must be after the issue date"),
    ({"category": "juggling"}, "category", "unknown special-operation category"),
    ({"number": "  "}, "number", "certificate number"),
    ({"number": "x" * 65}, "number", "at most 64"),
    ({"last_review_on": dt.date(2024, 4, 1)}, "last_review_on", "before the issue date"),
    ({"last_review_on": TODAY + dt.timedelta(days=1)}, "last_review_on", "future"),
])
def test_bad_certificate_input_is_refused_with_a_reason(personas, overrides, field, words):
    holder = person(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(personas, holder, **overrides)
    assert words in " ".join(exc.value.message_dict[field])
    assert counts() == before


def test_a_number_is_unique_per_category(personas):
    first, second = person(personas, seq=1), person(personas, seq=2, name="李四")
    issue(personas, first, number="C-001")
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(personas, second, number="C-001")
    assert "already recorded" in exc.value.message_dict["number"][0]
    assert counts() == before
    assert issue(personas, second, number="C-001", category="electrical").category == "electrical"


@pytest.mark.parametrize(("education", "allowed"), [
    ("primary", False), ("junior", False), ("high", True), ("secondary_tech", True), ("college", True)])
def test_a_first_certificate_underground_needs_senior_high_school(personas, education, allowed):
    holder = person(personas, education=education)  # mine_a is an underground mine
    if allowed:
        assert issue(personas, holder).pk
        return
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(personas, holder)
    assert "needs Senior high school education or higher" in exc.value.message_dict["person"][0]
    assert counts() == before


def test_the_education_rule_spares_holders_with_an_earlier_certificate_and_surface_mines(personas):
    veteran = person(personas, education="junior")
    Certificate.objects.create(person=veteran, category="electrical", number="OLD-1", issued_on=dt.date(2015, 1, 1),
                               expires_on=dt.date(2021, 1, 1), created_by=personas.city)  # held before the rule
    assert issue(personas, veteran).pk  # not a first-time holder
    open_pit = person(personas, mine=personas.mine_b, seq=7, education="junior")
    assert issue(personas, open_pit, personas.ent_b).pk
    # an earlier certificate under the same ID number at another mine counts too
    moved = person(personas, mine=personas.mine_b, seq=8, education="junior")
    Certificate.objects.create(person=moved, category="welding", number="OLD-2", issued_on=dt.date(2016, 1, 1),
                               expires_on=dt.date(2022, 1, 1), created_by=personas.city)
    again = Person.objects.create(mine=personas.mine_a, name="王五", id_number=moved.id_number, education="junior",
                                  frontline_years=Decimal(9), created_by=personas.city)
    assert issue(personas, again).pk


def test_the_audit_log_never_holds_the_id_number(personas):
    holder = person(personas)
    cert = issue(personas, holder, extended_review=True)
    services.record_review(personas.ent_a, cert, reviewed_on=dt.date(2025, 5, 1))
    services.revoke_certificate(personas.county_a, cert, reason="违章作业")
    logged = json.dumps([[e.before, e.after, e.object_repr] for e in AuditEvent.objects.all()], ensure_ascii=False)
    assert holder.id_number not in logged
    assert common.mask_id(holder.id_number) in logged
    created = AuditEvent.objects.get(object_type="personnel.certificate", action=AuditEvent.Action.CREATE)
    assert created.after["extended_review"] is True and "10 or more years" in created.after[
        "extended_review_condition"]


# Review, renewal, revocation --------------------------------------------------------------------
def test_a_review_moves_the_next_review_on(personas):
    cert = issue(personas, person(personas), issued_on=dt.date(2022, 3, 1))
    assert services.certificate_state(cert) == (ST.REVIEW_OVERDUE, dt.date(2025, 3, 1), False)
    services.record_review(personas.ent_a, cert, reviewed_on=dt.date(2026, 3, 1))
    cert = fresh(cert)
    assert cert.last_review_on == dt.date(2026, 3, 1)
    assert services.certificate_state(cert).state == ST.VALID  # the next due (2029-03-01) is in the renewal window
    event = AuditEvent.objects.filter(object_type="personnel.certificate", action=AuditEvent.Action.TRANSITION).get()
    assert event.before == {"last_review_on": None, "extended_review": False}
    assert event.after["last_review_on"] == "2026-03-01"


def test_a_review_records_the_issuers_extension_decision(personas):
    cert = issue(personas, person(personas), issued_on=dt.date(2020, 4, 1), expires_on=dt.date(2032, 4, 1))
    services.record_review(personas.ent_a, cert, reviewed_on=dt.date(2023, 3, 20), extended_review=True)
    assert fresh(cert).extended_review is True
    assert services.certificate_state(fresh(cert)).next_review_due == dt.date(2029, 3, 20)
    services.record_review(personas.ent_a, cert, reviewed_on=dt.date(2023, 3, 21))  # None keeps the decision
    assert fresh(cert).extended_review is True


@pytest.mark.parametrize(("day", "words"), [
    (TODAY + dt.timedelta(days=1), "future"), (dt.date(2024, 4, 30), "before the issue date"), (None, "review date")])
def test_a_bad_review_date_is_refused(personas, day, words):
    cert = issue(personas, person(personas))
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.record_review(personas.ent_a, cert, reviewed_on=day)
    assert words in exc.value.message_dict["reviewed_on"][0]
    assert counts() == before


def test_a_review_cannot_go_before_the_last_one(personas):
    cert = issue(personas, person(personas), last_review_on=dt.date(2025, 6, 1))
    with pytest.raises(ValidationError) as exc:
        services.record_review(personas.ent_a, cert, reviewed_on=dt.date(2025, 5, 1))
    assert "before the last review" in exc.value.message_dict["reviewed_on"][0]


def test_expired_and_revoked_certificates_are_not_reviewed(personas):
    old = issue(personas, person(personas), issued_on=dt.date(2019, 1, 1))  # expired 2025-01-01
    with pytest.raises(InvalidTransition):
        services.record_review(personas.ent_a, old, reviewed_on=dt.date(2024, 12, 1))
    revoked = issue(personas, person(personas, seq=2, name="李四"))
    services.revoke_certificate(personas.city, revoked, reason="伪造")
    before = counts()
    with pytest.raises(InvalidTransition):
        services.record_review(personas.ent_a, revoked, reviewed_on=TODAY)
    assert counts() == before


def test_renewal_only_inside_the_window_and_it_extends_by_six_years(personas):
    cert = issue(personas, person(personas), issued_on=dt.date(2020, 4, 20))  # expires 2026-04-20, window 02-19
    with pytest.raises(ValidationError) as exc:
        services.renew_certificate(personas.ent_a, cert, renewed_on=dt.date(2026, 2, 18))
    assert "2026-02-19" in exc.value.message_dict["renewed_on"][0]
    services.renew_certificate(personas.ent_a, cert, renewed_on=dt.date(2026, 3, 1))
    cert = fresh(cert)
    assert (cert.expires_on, cert.last_review_on) == (dt.date(2032, 4, 20), dt.date(2026, 3, 1))
    with pytest.raises(ValidationError) as exc:
        services.renew_certificate(personas.ent_a, issue(personas, person(personas, seq=3, name="赵六"),
                                                         issued_on=dt.date(2020, 4, 20), category="electrical",
                                                         number="E-1"),
                                   renewed_on=dt.date(2026, 3, 1), expires_on=dt.date(2026, 1, 1))
    assert "after the current expiry" in exc.value.message_dict["expires_on"][0]


def test_only_the_regulator_revokes_and_the_enterprise_is_told(personas):
    cert = issue(personas, person(personas))
    with pytest.raises(PermissionDenied):
        services.revoke_certificate(personas.ent_a, cert, reason="x")
    with pytest.raises(ValidationError):
        services.revoke_certificate(personas.county_a, cert, reason=" ")
    services.revoke_certificate(personas.county_a, cert, reason="考核造假")
    cert = fresh(cert)
    assert (cert.revoked, cert.revoked_reason) == (True, "考核造假")
    assert Notification.objects.filter(recipient=personas.ent_a, subject__contains="revoked").exists()
    with pytest.raises(InvalidTransition):
        services.revoke_certificate(personas.city, cert, reason="again")


# Unlicensed work (任职无证) ----------------------------------------------------------------------
def test_people_assigned_without_a_valid_certificate_are_flagged(personas):
    ok = person(personas, seq=1, name="甲", operations=["nm_blasting"])
    issue(personas, ok)
    none = person(personas, seq=2, name="乙", operations=["nm_hoist", "electrical"])
    issue(personas, none, category="electrical", number="E-2")
    expired = person(personas, seq=3, name="丙", operations=["nm_blasting"])
    issue(personas, expired, issued_on=dt.date(2019, 6, 1))
    overdue = person(personas, seq=4, name="丁", operations=["nm_blasting"])
    issue(personas, overdue, issued_on=dt.date(2022, 6, 1))  # review due 2025-06-01
    revoked = person(personas, seq=5, name="戊", operations=["nm_blasting"])
    services.revoke_certificate(personas.city, issue(personas, revoked), reason="违章")
    expiring = person(personas, seq=6, name="己", operations=["nm_blasting"])
    issue(personas, expiring, issued_on=dt.date(2020, 4, 20), last_review_on=dt.date(2023, 4, 1))
    person(personas, seq=7, name="庚", operations=["nm_blasting"], active=False)  # left the mine
    renewed = person(personas, seq=8, name="辛", operations=["nm_blasting"])
    issue(personas, renewed, issued_on=dt.date(2019, 1, 1), number="OLD")
    issue(personas, renewed, issued_on=dt.date(2025, 1, 1), number="NEW")  # a newer certificate licenses
    flags = {(f.person.name, f.operation): f for f in services.unlicensed_work(personas.city)}
    assert set(flags) == {("乙", "nm_hoist"), ("丙", "nm_blasting"), ("丁", "nm_blasting"), ("戊", "nm_blasting")}
    assert flags[("乙", "nm_hoist")].reason == "no certificate of this category"
    assert flags[("丙", "nm_blasting")].reason == "certificate expired on 2025-06-01"
    assert flags[("丁", "nm_blasting")].reason == "certificate review overdue since 2025-06-01"
    assert flags[("戊", "nm_blasting")].reason == "certificate revoked: 违章"
    assert flags[("乙", "nm_hoist")].operation_label == "金属非金属矿山提升机操作作业"  # the catalogue's name


@pytest.mark.parametrize("persona", PERSONAS)
def test_unlicensed_flags_are_scoped(personas, persona):
    for i, name in enumerate(MINES):
        person(personas, mine=getattr(personas, name), seq=i + 1, name=name, operations=["nm_drainage"])
    user = getattr(personas, persona)
    assert {f.person.name for f in services.unlicensed_work(user)} == SCOPE[persona]


# Dashboard and export ----------------------------------------------------------------------------
@pytest.fixture
def board_data(personas):
    """mine_a: expiring, overdue, expired (+ one superseded); mine_b: expiring; mine_a2: an unlicensed worker."""
    a1, a2, a3 = (person(personas, seq=i, name=n) for i, n in ((1, "甲"), (2, "乙"), (3, "丙")))
    issue(personas, a1, issued_on=dt.date(2020, 4, 20), last_review_on=dt.date(2023, 4, 1))  # expiring 04-20
    issue(personas, a2, issued_on=dt.date(2022, 6, 1))  # review overdue
    issue(personas, a3, issued_on=dt.date(2019, 6, 1))  # expired 2025-06-01
    issue(personas, a1, issued_on=dt.date(2012, 1, 1), category="electrical", number="E-OLD")  # superseded
    issue(personas, a1, issued_on=dt.date(2025, 1, 1), category="electrical", number="E-NEW")
    b1 = person(personas, mine=personas.mine_b, seq=4, name="丁")
    issue(personas, b1, personas.ent_b, issued_on=dt.date(2020, 4, 1), last_review_on=dt.date(2023, 4, 1))
    person(personas, mine=personas.mine_a2, seq=5, name="戊", operations=["nm_ug_electrical"])
    return personas


def test_the_dashboard_lists_what_to_act_on_per_county(board_data):
    board = services.expiry_dashboard(board_data.city)
    assert [r.certificate.person.name for r in board.expiring] == ["丁", "甲"]  # soonest first
    assert [r.certificate.person.name for r in board.review_overdue] == ["乙"]
    assert [(r.certificate.person.name, r.certificate.number) for r in board.expired] == [
        ("丙", f"T{rid(3)}")]  # E-OLD is superseded by E-NEW
    assert [f.person.name for f in board.unlicensed] == ["戊"]
    assert [(c.county_code, c.expiring, c.review_overdue, c.expired, c.unlicensed) for c in board.counties] == [
        ("130822", 1, 0, 0, 0), ("130827", 1, 1, 1, 1)]
    only_b = services.expiry_dashboard(board_data.city, county="130822")
    assert [c.county_code for c in only_b.counties] == ["130822"] and not only_b.unlicensed


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_dashboard_page_and_export_are_scoped_and_masked(client, board_data, persona):
    web = web_client(client, board_data, persona)
    page = web.get("/personnel/certificates/dashboard/")
    export = web.get("/personnel/certificates/dashboard/export.xlsx")
    if persona == "anonymous":
        assert page.status_code == 302 and export.status_code == 302
        return
    mine_names = {getattr(board_data, n).pk: n for n in MINES}
    board = page.context["board"]
    shown = {mine_names[r.certificate.person.mine_id] for g in (board.expiring, board.review_overdue, board.expired)
             for r in g} | {mine_names[f.person.mine_id] for f in board.unlicensed}
    assert shown == SCOPE[persona] & {"mine_a", "mine_b", "mine_a2"}
    html = page.content.decode()
    wb = load_workbook(io.BytesIO(export.content))
    assert wb.sheetnames == ["汇总", "即将到期", "复审逾期", "已过期", "任职无证"]
    exported = {row[1]: row[3] for sheet in wb.worksheets[1:] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(exported) == {getattr(board_data, n).name for n in shown}
    for name in shown:
        mine = getattr(board_data, name)
        holder = Person.objects.filter(mine=mine).first()
        full = name in SEES_PERSONAL[persona]
        assert (holder.id_number in html) == full
        assert exported[mine.name] == (holder.id_number if full else common.mask_id(holder.id_number))


# Import ------------------------------------------------------------------------------------------
HEADER = ["证书编号", "作业类别", "姓名", "身份证号", "初领日期", "有效期至", "复审日期", "发证机关"]


def workbook(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def ledger(personas):
    return [person(personas, seq=1, name="甲"), person(personas, seq=2, name="乙"),
            person(personas, seq=3, name="丙", education="junior")]


def good_rows(people):
    a, b, _c = people
    return [
        ["T" + a.id_number, "nm_blasting", "甲", a.id_number, dt.date(2024, 5, 1), None, None, "承德市应急管理局"],
        ["E-100", "电工作业", "乙", b.id_number, "2023-02-01", "2029-02-01", "2026-01-15", ""],
        ["W-100", "焊接与热切割作业", "乙", b.id_number.lower(), dt.datetime(2025, 7, 1), None, None, None],
    ]


def test_a_good_ledger_imports_and_a_repeat_is_unchanged(personas, ledger):
    result = services.import_certificates(personas.ent_a, personas.mine_a, "ledger.xlsx",
                                          workbook(good_rows(ledger)))
    assert result.ok, result.errors
    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 3, 0, 0)
    blasting = Certificate.objects.get(number="T" + ledger[0].id_number)
    assert (blasting.person, blasting.expires_on, blasting.issuer) == (
        ledger[0], dt.date(2030, 5, 1), "承德市应急管理局")
    electrical = Certificate.objects.get(number="E-100")
    assert (electrical.category, electrical.expires_on, electrical.last_review_on) == (
        "electrical", dt.date(2029, 2, 1), dt.date(2026, 1, 15))
    imported = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="personnel.certificate")
    assert imported.count() == 3 and ledger[0].id_number not in json.dumps(
        [[e.after, e.object_repr] for e in imported], ensure_ascii=False)
    before = counts()
    again = services.import_certificates(personas.ent_a, personas.mine_a, "ledger.xlsx", workbook(good_rows(ledger)))
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert counts() == before
    rows = good_rows(ledger)
    rows[1][6] = "2026-02-01"  # a later review
    changed = services.import_certificates(personas.ent_a, personas.mine_a, "ledger.xlsx", workbook(rows))
    assert changed.ok and (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert fresh(electrical).last_review_on == dt.date(2026, 2, 1)


def test_bad_rows_store_nothing_and_each_problem_is_named(personas, ledger):
    a, b, c = ledger
    bad_id = a.id_number[:17] + ("0" if a.id_number[17] != "0" else "1")
    stranger = rid(9)
    rows = [
        *good_rows(ledger),
        ["X-1", "nm_blasting", "甲", bad_id, "2024-05-01", None, None, None],  # row 5: invalid ID
        ["X-2", "nm_blasting", "乙", b.id_number, "2024-05-01", "2024-04-01", None, None],  # row 6: expiry < issue
        ["X-3", "杂技作业", "乙", b.id_number, "2024-05-01", None, None, None],  # row 7: unknown category
        ["E-100", "electrical", "乙", b.id_number, "2023-02-01", None, None, None],  # row 8: repeats row 3
        ["X-4", "nm_hoist", "乙", b.id_number, "2026-04-01", None, None, None],  # row 9: future issue
        ["X-5", "nm_hoist", "某人", stranger, "2024-05-01", None, None, None],  # row 10: not in the ledger
        ["X-6", "nm_hoist", "丁", a.id_number, "2024-05-01", None, None, None],  # row 11: name differs
        ["X-7", "nm_hoist", "丙", c.id_number, "2024-05-01", None, None, None],  # row 12: junior, first, underground
        ["X-8", "nm_hoist", "乙", b.id_number, "2024-13-01", None, None, None],  # row 13: not a date
    ]
    before = counts()
    result = services.import_certificates(personas.ent_a, personas.mine_a, "ledger.xlsx", workbook(rows))
    assert not result.ok and counts() == before
    problems = {(e.row, e.column): e.message for e in result.errors}
    assert set(problems) == {(5, "身份证号"), (6, "有效期至"), (7, "作业类别"), (8, "证书编号"), (9, "初领日期"),
                             (10, "身份证号"), (11, "姓名"), (12, "身份证号"), (13, "初领日期")}
    assert problems[(5, "身份证号")].startswith("invalid resident ID number: check character")
    assert "must be after the issue date" in problems[(6, "有效期至")]
    assert "unknown special-operation category" in problems[(7, "作业类别")]
    assert problems[(8, "证书编号")] == "repeats row 3 of this file"
    assert problems[(9, "初领日期")] == "cannot be in the future"
    assert "record the person first" in problems[(10, "身份证号")]
    assert problems[(11, "姓名")] == "the person with this ID number is recorded as 甲"
    assert "Senior high school" in problems[(12, "身份证号")]
    assert "not a real date" in problems[(13, "初领日期")]
    bad = next(e for e in result.errors if e.row == 6)
    assert bad.value == "2024-04-01"


@pytest.mark.parametrize(("name", "data", "words"), [
    ("ledger.csv", b"a,b", "only .xlsx"),
    ("ledger.xlsx", b"not a zip", "corrupted"),
])
def test_unusable_files_are_refused_whole(personas, name, data, words):
    result = services.import_certificates(personas.ent_a, personas.mine_a, name, data)
    assert not result.ok and words in result.file_error


def test_wrong_columns_are_refused_whole(personas, ledger):
    missing = services.import_certificates(personas.ent_a, personas.mine_a, "l.xlsx",
                                           workbook([["1"]], header=["证书编号", "姓名"]))
    assert "missing required columns" in missing.file_error and "作业类别" in missing.file_error
    unknown = services.import_certificates(personas.ent_a, personas.mine_a, "l.xlsx",
                                           workbook([["1"]], header=[*HEADER, "备注"]))
    assert "unknown column 备注" in unknown.file_error
    english = services.import_certificates(personas.ent_a, personas.mine_a, "l.xlsx", workbook(
        [["N-1", "tailings", "甲", ledger[0].id_number, "2024-01-01"]],
        header=["number", "category", "name", "id_number", "issued_on"]))
    assert english.ok and english.created == 1


def test_a_number_held_by_another_person_or_revoked_is_not_imported(personas, ledger):
    a, b, _c = ledger
    services.revoke_certificate(personas.city, issue(personas, a, number="R-1"), reason="违章")
    issue(personas, b, number="B-1")
    result = services.import_certificates(personas.ent_a, personas.mine_a, "l.xlsx", workbook([
        ["R-1", "nm_blasting", "甲", a.id_number, "2024-05-01"],
        ["B-1", "nm_blasting", "甲", a.id_number, "2024-05-01"]], header=HEADER[:5]))
    assert [e.message for e in result.errors] == ["this certificate is revoked; it cannot be changed by import",
                                                  "this number is already recorded for another holder"]


def test_a_first_time_underground_holder_with_an_earlier_row_in_the_file_passes(personas, ledger):
    c = ledger[2]  # junior high school
    result = services.import_certificates(personas.ent_a, personas.mine_a, "l.xlsx", workbook([
        ["J-2", "nm_hoist", "丙", c.id_number, "2024-05-01"],
        ["J-1", "electrical", "丙", c.id_number, "2010-05-01"]], header=HEADER[:5]))
    assert [(e.row, e.column) for e in result.errors] == [(3, "身份证号")]  # only the earliest one is first


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_only_the_mines_writers_import(personas, persona, ledger):
    with pytest.raises(PermissionDenied):
        services.import_certificates(getattr(personas, persona), personas.mine_a, "l.xlsx",
                                     workbook(good_rows(ledger)))


def test_the_import_page_reports_rows_and_offers_the_error_report(client, personas, ledger):
    web = web_client(client, personas, "ent_a")
    url = f"/personnel/mines/{personas.mine_a.pk}/certificates/import/"
    assert web.get(url).status_code == 200
    template = web.get("/personnel/certificates/import/template.xlsx")
    assert load_workbook(io.BytesIO(template.content)).active[1][0].value == "证书编号"
    rows = [*good_rows(ledger), ["X-2", "nm_blasting", "乙", ledger[1].id_number, "2024-05-01", "2024-04-01"]]
    upload = io.BytesIO(workbook(rows))
    upload.name = "ledger.xlsx"
    response = web.post(url, {"file": upload})
    assert response.status_code == 200 and not Certificate.objects.exists()
    html = response.content.decode()
    assert 'id="import-errors"' in html and "有效期至" in html
    token = response.context["report_token"]
    report = web.get(f"/personnel/certificates/import/report/{token}.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert body[0][0] == 5 and "有效期至" in body[0][1]
    assert web_client(client.__class__(), personas, "county_a").get(
        f"/personnel/certificates/import/report/{token}.xlsx").status_code == 404  # only its uploader
    upload = io.BytesIO(workbook(good_rows(ledger)))
    upload.name = "ledger.xlsx"
    response = web.post(url, {"file": upload})
    assert response.status_code == 302 and Certificate.objects.count() == 3


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_others_cannot_open_the_import_page(client, personas, persona):
    response = web_client(client, personas, persona).get(f"/personnel/mines/{personas.mine_a.pk}/certificates/import/")
    assert response.status_code == (403 if persona == "department" else 404)  # the inspector sees mine_a2 only


# Pages -------------------------------------------------------------------------------------------
def test_the_enterprise_records_and_reviews_on_the_pages(client, personas):
    holder = person(personas)
    web = web_client(client, personas, "ent_a")
    page = f"/personnel/mines/{personas.mine_a.pk}/certificates/"
    assert 'id="add-certificate"' in web.get(page).content.decode()
    response = web.post(page, {"add-person": holder.pk, "add-category": "nm_blasting", "add-number": "B-7",
                               "add-issued_on": "2024-05-01", "add-expires_on": "2024-04-01"})
    assert response.status_code == 200 and not Certificate.objects.exists()
    assert "expires_on" in response.context["form"].errors
    response = web.post(page, {"add-person": holder.pk, "add-category": "nm_blasting", "add-number": "B-7",
                               "add-issued_on": "2022-05-01"})
    cert = Certificate.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/personnel/certificates/{cert.pk}/"
    detail = web.get(response["Location"]).content.decode()
    assert 'id="step-review"' in detail and 'id="step-revoke"' not in detail
    assert 'data-state="review_overdue"' in detail
    web.post(f"/personnel/certificates/{cert.pk}/", {"action": "review", "review-reviewed_on": "2026-03-01"})
    assert fresh(cert).last_review_on == dt.date(2026, 3, 1)
    assert web.post(f"/personnel/certificates/{cert.pk}/", {"action": "revoke", "revoke-reason": "x"}
                    ).status_code == 403
    county = web_client(client.__class__(), personas, "county_a")
    county.post(f"/personnel/certificates/{cert.pk}/", {"action": "revoke", "revoke-reason": "违章作业"})
    assert fresh(cert).revoked


def test_the_certificate_list_filters_by_computed_state_and_category(client, board_data):
    web = web_client(client, board_data, "county_a")
    overdue = web.get("/personnel/certificates/?state=review_overdue").content.decode()
    assert overdue.count("data-cert=") == 1 and 'data-state="review_overdue"' in overdue
    expired = web.get("/personnel/certificates/?state=expired").content.decode()
    assert expired.count("data-cert=") == 2  # the list shows history too: E-OLD and 丙's certificate
    electrical = web.get("/personnel/certificates/?category=electrical").content.decode()
    assert electrical.count("data-cert=") == 2 and "E-NEW" in electrical


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_readers_and_outsiders_cannot_post_on_certificate_pages(client, personas, persona):
    cert = issue(personas, person(personas, mine=personas.mine_a2), personas.city)
    web = web_client(client, personas, persona)
    expected = 403 if persona in ("department", "inspector") else 404
    assert web.post(f"/personnel/certificates/{cert.pk}/", {"action": "revoke", "revoke-reason": "x"}
                    ).status_code == expected
    assert web.post(f"/personnel/mines/{personas.mine_a2.pk}/certificates/", {"add-number": "x"}
                    ).status_code == expected
    assert not fresh(cert).revoked and Certificate.objects.count() == 1


# The role x page/API matrix ------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """One certificate per fixture mine, its number embedding the holder's ID number."""
    for i, name in enumerate(MINES):
        mine = getattr(personas, name)
        holder = person(personas, mine=mine, seq=i + 1, name=f"{name}-holder")
        issue(personas, holder, personas.city, issued_on=dt.date(2024, 1, 1))
    return personas


def cert_of(world, name) -> Certificate:
    return Certificate.objects.get(person__mine=getattr(world, name))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_certificate_pages_show_exactly_the_personas_mines(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/personnel/certificates/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    html = response.content.decode()
    assert {n for n in MINES if f'data-cert="{cert_of(world, n).pk}"' in html} == SCOPE[persona]
    for name in MINES:
        cert, mine = cert_of(world, name), getattr(world, name)
        visible = name in SCOPE[persona]
        detail = web.get(f"/personnel/certificates/{cert.pk}/")
        assert detail.status_code == (200 if visible else 404)
        assert web.get(f"/personnel/mines/{mine.pk}/certificates/").status_code == (200 if visible else 404)
        if visible:
            full = name in SEES_PERSONAL[persona]
            body = detail.content.decode()
            assert (cert.person.id_number in body) == full
            assert common.mask_id(cert.person.id_number) in body or full
            assert (cert.person.id_number in html) == full


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_certificate_api_is_scoped_and_masked(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/certificates/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    rows = {row["mine"]: row for row in response.json()["results"]}
    assert set(rows) == {getattr(world, n).pk for n in SCOPE[persona]}
    for name in MINES:
        cert = cert_of(world, name)
        detail = api.get(f"/api/v1/certificates/{cert.pk}/")
        assert detail.status_code == (200 if name in SCOPE[persona] else 404)
        if name in SCOPE[persona]:
            full = name in SEES_PERSONAL[persona]
            data = detail.json()
            assert data["id_number"] == (cert.person.id_number if full else common.mask_id(cert.person.id_number))
            assert data["number"] == ("T" + data["id_number"])
            assert data["state"] == ST.VALID and data["next_review_due"] == "2027-01-01"
    dashboard = api.get("/api/v1/certificates/dashboard/")
    assert dashboard.status_code == 200


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def test_the_certificate_lifecycle_through_the_api(personas):
    holder = person(personas, operations=["nm_blasting"])
    ent = api(personas.ent_a)
    flags = ent.get("/api/v1/certificates/unlicensed/").json()
    assert [(f["person"], f["operation"]) for f in flags] == [(holder.pk, "nm_blasting")]
    response = ent.post("/api/v1/certificates/", {"person": holder.pk, "category": "nm_blasting", "number": "A-1",
                                                  "issued_on": "2024-05-01", "expires_on": "2024-01-01"},
                        format="json")
    assert response.status_code == 400 and "expires_on" in response.json()
    response = ent.post("/api/v1/certificates/", {"person": holder.pk, "category": "nm_blasting", "number": "A-1",
                                                  "issued_on": "2023-01-05"}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["expires_on"], data["state"], data["next_review_due"], data["in_renewal_window"]) == (
        "2029-01-05", "review_overdue", "2026-01-05", False)
    flags = ent.get("/api/v1/certificates/unlicensed/").json()
    assert [f["reason"] for f in flags] == ["certificate review overdue since 2026-01-05"]
    cert_id = data["id"]
    response = ent.post(f"/api/v1/certificates/{cert_id}/review/", {"reviewed_on": "2026-03-01"}, format="json")
    assert response.status_code == 200 and response.json()["last_review_on"] == "2026-03-01"
    assert response.json()["state"] == "valid"
    assert ent.get("/api/v1/certificates/unlicensed/").json() == []
    assert ent.post(f"/api/v1/certificates/{cert_id}/revoke/", {"reason": "x"}, format="json").status_code == 403
    response = api(personas.county_a).post(f"/api/v1/certificates/{cert_id}/revoke/", {"reason": "违章"},
                                           format="json")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert ent.post(f"/api/v1/certificates/{cert_id}/review/", {"reviewed_on": "2026-03-02"},
                    format="json").status_code == 409
    other = api(personas.ent_b).post("/api/v1/certificates/", {"person": holder.pk, "category": "nm_blasting",
                                                               "number": "A-2", "issued_on": "2024-05-01"},
                                     format="json")
    assert other.status_code == 400 and "person" in other.json()
    readers = api(personas.department).post("/api/v1/certificates/", {
        "person": holder.pk, "category": "nm_blasting", "number": "A-3", "issued_on": "2024-05-01"}, format="json")
    assert readers.status_code == 403


def test_certificate_api_list_reads_in_a_fixed_number_of_queries(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(world.city)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/certificates/?limit=500").status_code == 200
        return len(ctx.captured_queries)

    first = queries()
    for i in range(3):
        issue(world, person(world, seq=20 + i, name=f"more{i}"), world.city, category="electrical", number=f"M{i}")
    assert queries() == first
