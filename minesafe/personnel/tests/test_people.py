"""The key-positions ledger (履职台账): person records and their refusals, appointments (overlaps, single posts,
ending), qualification rules as data (new appointments refused, incumbents listed with a deadline), the flags
(frequent chief changes, appointed but absent), masking of ID and phone numbers per role (never in the audit
log), and the role x page / export / API matrix."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from openpyxl import load_workbook
from rest_framework.test import APIClient

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, ReferenceCatalogue
from minesafe.core.validators import resident_id_check_char
from minesafe.personnel import common
from minesafe.personnel import people as services
from minesafe.personnel.models import Appointment, Exam, Person, TrainingRecord
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
RULES_FROM = dt.date(2024, 8, 5)
FIX_BY = dt.date(2025, 12, 31)
WRITERS_OF_MINE_A = ("city", "county_a", "ent_a")
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")
FULL_VIEW = {"city", "county_a", "county_b", "ent_a", "ent_b"}  # of the mines they see at all
PHONE = "13912345678"


def freeze(monkeypatch, day: dt.date) -> None:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    freeze(monkeypatch, TODAY)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):  # the services' refusals read in English
        yield


def rid(birth: str = "19750301", seq: str = "123", region: str = "130827") -> str:
    first = region + birth + seq
    return first + resident_id_check_char(first)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def counts() -> tuple:
    return (Person.objects.count(), Appointment.objects.count(), AuditEvent.objects.count(),
            list(Person.objects.values_list("name", "id_number", "phone", "frontline_years", "active").order_by("pk")),
            list(Appointment.objects.values_list("end_date", "end_reason").order_by("pk")))


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("before", "after", "object_repr")), ensure_ascii=False)


def chief_data(**overrides) -> dict:
    """Meets the five-chief rule: bachelor, core specialty, 20 front-line years, born 1975."""
    return {"name": "张建国", "id_number": rid(), "education": "bachelor", "frontline_years": Decimal(20),
            "specialty": "采矿工程", "core_specialty": True, "phone": PHONE, **overrides}


def weak_data(**overrides) -> dict:
    """Falls short of every rule: senior high school, no core specialty, 4 front-line years."""
    return {"name": "李四", "id_number": rid("19900505", "456"), "education": "high", "frontline_years": Decimal(4),
            "specialty": "会计", "core_specialty": False, **overrides}


def person(personas, actor=None, mine=None, **overrides) -> Person:
    data = chief_data(**overrides)
    return services.create_person(actor or personas.ent_a, mine or personas.mine_a, **data)


def weak(personas, actor=None, mine=None, **overrides) -> Person:
    return services.create_person(actor or personas.ent_a, mine or personas.mine_a, **weak_data(**overrides))


# Person records ----------------------------------------------------------------------------------
def test_the_enterprise_records_a_person_and_the_audit_log_holds_the_numbers_masked(personas):
    p = fresh(person(personas, assigned_operations=["nm_blasting", "electrical", "nm_blasting"]))
    assert (p.name, p.id_number, p.phone, p.education, p.frontline_years) == (
        "张建国", rid(), PHONE, "bachelor", Decimal("20.0"))
    assert p.assigned_operations == ["nm_blasting", "electrical"]  # catalogue order, each once
    assert p.active and p.own_employee and p.created_by == personas.ent_a
    event = AuditEvent.objects.get(object_type="personnel.person", object_id=str(p.pk))
    assert event.after["id_number"] == common.mask_id(rid()) == "130827" + "*" * 8 + rid()[-4:]
    assert event.after["phone"] == "139****5678"
    assert rid() not in audit_text() and PHONE not in audit_text()


@pytest.mark.parametrize("persona", ["city", "county_a"])
def test_the_county_and_the_city_record_people(personas, persona):
    assert person(personas, getattr(personas, persona)).mine == personas.mine_a


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_people(personas, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        person(personas, getattr(personas, persona))
    assert counts() == before


@pytest.mark.parametrize(("overrides", "field", "reason"), [
    ({"id_number": rid()[:17] + ("0" if rid()[-1] != "0" else "1")}, "id_number", "check character should be"),
    ({"id_number": "13082719750301"}, "id_number", "must be 18 characters"),
    ({"id_number": "130827197502301234"}, "id_number", "not a real date"),
    ({"id_number": rid("20120101")}, "id_number", "under 16"),
    ({"name": "  "}, "name", "name"),
    ({"education": "phd"}, "education", "unknown education"),
    ({"frontline_years": Decimal(61)}, "frontline_years", "between 0 and 60"),
    ({"frontline_years": Decimal(-1)}, "frontline_years", "between 0 and 60"),
    ({"frontline_years": Decimal("3.25")}, "frontline_years", "one decimal place"),
    ({"frontline_years": "many"}, "frontline_years", "not a number"),
    ({"frontline_years": None}, "frontline_years", "give the years"),
    # Born 1990-05-05: 35 at TODAY, so at most 19 years since turning 16.
    ({"id_number": rid("19900505"), "frontline_years": Decimal("19.5")}, "frontline_years", "impossible experience"),
    ({"phone": "call me"}, "phone", "not a phone number"),
    ({"phone": "12345"}, "phone", "not a phone number"),
    ({"assigned_operations": ["nm_blasting", "juggling"]}, "assigned_operations",
     "unknown special operation: juggling"),
    ({"core_specialty": True, "specialty": ""}, "specialty", "name the core specialty"),
])
def test_bad_person_input_is_refused_with_the_reason_and_changes_nothing(personas, overrides, field, reason):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        person(personas, **overrides)
    assert field in exc.value.message_dict
    assert reason in " ".join(exc.value.message_dict[field])
    assert counts() == before


def test_experience_up_to_age_minus_sixteen_is_accepted(personas):
    p = person(personas, id_number=rid("19900505"), frontline_years=Decimal(19))  # 35 years old
    assert p.frontline_years == Decimal(19)


def test_an_id_number_is_recorded_once_per_mine(personas):
    person(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        person(personas, name="张建国二")
    assert "already recorded at this mine" in exc.value.message_dict["id_number"][0]
    assert rid() not in str(exc.value)
    assert counts() == before
    assert person(personas, personas.city, personas.mine_b).mine == personas.mine_b  # another mine: fine


def test_a_closed_mine_records_no_one(personas):
    registry.change_status(personas.city, personas.mine_a, Mine.Status.CLOSED, reason="关闭", effective_date=TODAY)
    with pytest.raises(DomainError):
        person(personas, personas.city, fresh(personas.mine_a))


def test_a_correction_is_checked_again_and_audited_masked_even_for_a_changed_middle(personas):
    p = person(personas)
    new_id = rid("19750302", "123")  # same region and (likely) a different last four; middle differs anyway
    services.update_person(personas.county_a, p, {"id_number": new_id, "phone": "13800001111", "frontline_years": 21})
    p = fresh(p)
    assert (p.id_number, p.phone, p.frontline_years) == (new_id, "13800001111", Decimal(21))
    event = AuditEvent.objects.filter(object_type="personnel.person", action=AuditEvent.Action.UPDATE).get()
    assert set(event.after) == {"id_number", "phone", "frontline_years"}
    assert event.after["id_number"] == common.mask_id(new_id) and event.before["phone"] == "139****5678"
    for clear in (rid(), new_id, PHONE, "13800001111"):
        assert clear not in audit_text()


def test_a_correction_that_changes_nothing_is_not_audited(personas):
    p = person(personas)
    before = AuditEvent.objects.count()
    services.update_person(personas.ent_a, p, {"name": "张建国", "frontline_years": "20.0"})
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("changes", "field"), [
    ({"frontline_years": 40}, "frontline_years"),  # born 1975: 51 years old, at most 35
    ({"id_number": "123"}, "id_number"), ({"mine": 3}, "mine"), ({"active": False}, "active"),
])
def test_bad_corrections_are_refused(personas, changes, field):
    p = person(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.update_person(personas.ent_a, p, changes)
    assert field in exc.value.message_dict
    assert counts() == before


def test_a_correction_may_not_take_another_persons_id_number(personas):
    person(personas)
    other = weak(personas)
    with pytest.raises(ValidationError):
        services.update_person(personas.ent_a, other, {"id_number": rid()})


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_corrects_a_record(personas, persona):
    p = person(personas)
    with pytest.raises(PermissionDenied):
        services.update_person(getattr(personas, persona), p, {"name": "x"})


def test_leaving_the_mine_ends_open_appointments_and_returning_keeps_them_ended(personas):
    p = person(personas)
    manager = services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 1, 1))
    staff = services.appoint(personas.ent_a, p, "safety_staff", dt.date(2025, 2, 1))
    services.deactivate_person(personas.ent_a, p, reason="辞职", left_on=dt.date(2026, 3, 1))
    assert not fresh(p).active
    for appointment in (manager, staff):
        a = fresh(appointment)
        assert (a.end_date, a.end_reason) == (dt.date(2026, 3, 1), "辞职")
    assert services.current_holders(personas.mine_a, ["mine_manager"]) == {"mine_manager": []}
    with pytest.raises(InvalidTransition):
        services.deactivate_person(personas.ent_a, p, reason="again")
    with pytest.raises(DomainError):
        services.appoint(personas.ent_a, p, "chief_engineer", TODAY)
    services.reactivate_person(personas.county_a, p)
    assert fresh(p).active and fresh(manager).end_date == dt.date(2026, 3, 1)
    with pytest.raises(InvalidTransition):
        services.reactivate_person(personas.county_a, p)


@pytest.mark.parametrize(("reason", "left_on", "field"), [
    ("", None, "reason"), ("辞职", TODAY + dt.timedelta(days=1), "left_on"), ("辞职", dt.date(2024, 12, 31), "left_on"),
])
def test_bad_leaving_is_refused(personas, reason, left_on, field):
    p = person(personas)
    services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 1, 1))
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.deactivate_person(personas.ent_a, p, reason=reason, left_on=left_on)
    assert field in exc.value.message_dict
    assert counts() == before


# Appointments ------------------------------------------------------------------------------------
def test_a_qualified_person_is_appointed_chief(personas):
    p = person(personas)
    a = services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 5, 1))
    assert (a.mine, a.post, a.start_date, a.end_date, a.created_by) == (
        personas.mine_a, "mine_manager", dt.date(2025, 5, 1), None, personas.ent_a)
    assert AuditEvent.objects.filter(object_type="personnel.appointment", object_id=str(a.pk)).exists()
    assert services.current_holders(personas.mine_a, ["mine_manager", "chief_engineer"]) == {
        "mine_manager": [p], "chief_engineer": []}


def test_a_new_unqualified_chief_is_refused_with_every_reason(personas):
    p = weak(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.appoint(personas.ent_a, p, "chief_engineer", RULES_FROM)
    text = exc.value.message_dict["person"][0]
    assert "does not meet the rule for new appointments as Chief engineer" in text
    assert "education Senior high school is below the required College (大专)" in text
    assert "specialty 会计 is not a core mining specialty" in text
    assert "4.0 years of front-line experience, 10 required" in text
    assert counts() == before


def test_an_unqualified_incumbent_is_allowed(personas):
    a = services.appoint(personas.ent_a, weak(personas), "mine_manager", RULES_FROM - dt.timedelta(days=1))
    assert services.is_incumbent(a)


@pytest.mark.parametrize(("overrides", "gaps"), [
    ({}, []),
    ({"education": "college", "frontline_years": Decimal(5)}, []),
    ({"education": "secondary_tech"}, ["education"]),
    ({"core_specialty": False}, ["specialty"]),
    ({"frontline_years": Decimal("4.9")}, ["years"]),
])
def test_technical_staff_need_a_core_specialty_college_and_five_years(personas, overrides, gaps):
    p = person(personas, **overrides)
    found = services.qualification_gaps(p, "technical_staff")
    assert len(found) == len(gaps) and all(g in f for g, f in zip(gaps, found, strict=True))
    # Five chiefs need ten years: five is not enough.
    assert (services.qualification_gaps(p, "mine_manager") == []) == (not gaps and p.frontline_years >= 10)


def test_posts_without_a_rule_have_no_gaps(personas):
    p = weak(personas)
    assert services.qualification_gaps(p, "safety_staff") == []
    assert services.qualification_gaps(p, "principal") == []
    assert services.appoint(personas.ent_a, p, "safety_staff", TODAY).post == "safety_staff"


def test_the_rules_are_data(personas):
    p = person(personas, frontline_years=Decimal(12))
    assert services.qualification_gaps(p, "mine_manager") == []
    catalogue = ReferenceCatalogue.objects.get(kind="personnel", active=True)
    catalogue.data["qualification"]["five_posts"]["frontline_years_min"] = 15
    catalogue.data["qualification"]["five_posts"]["education_min"] = "master"
    catalogue.save()
    gaps = services.qualification_gaps(p, "mine_manager")
    assert len(gaps) == 2 and "15 required" in gaps[1] and "Master or higher" in gaps[0]


@pytest.mark.parametrize(("post", "specialty", "start", "field"), [
    ("ghost_post", "", TODAY, "post"),
    ("technical_staff", "", TODAY, "specialty"),
    ("mine_manager", "采矿", TODAY, "specialty"),
    ("technical_staff", "x" * 33, TODAY, "specialty"),
    ("mine_manager", "", TODAY + dt.timedelta(days=1), "start_date"),
    ("mine_manager", "", None, "start_date"),
])
def test_bad_appointments_are_refused_naming_the_field(personas, post, specialty, start, field):
    p = person(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.appoint(personas.ent_a, p, post, start, specialty=specialty)
    assert field in exc.value.message_dict
    assert counts() == before


def test_technical_staff_are_appointed_for_a_specialty(personas):
    a = services.appoint(personas.ent_a, person(personas), "technical_staff", TODAY, specialty="地质")
    assert a.specialty == "地质"


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_appoints(personas, persona):
    p = person(personas)
    with pytest.raises(PermissionDenied):
        services.appoint(getattr(personas, persona), p, "mine_manager", TODAY)


def test_the_same_persons_overlapping_appointment_to_the_same_post_is_refused(personas):
    p = person(personas)
    first = services.appoint(personas.ent_a, p, "safety_staff", dt.date(2025, 1, 1))
    before = counts()
    for start in (dt.date(2025, 6, 1), dt.date(2024, 1, 1)):  # during it, and an open period reaching into it
        with pytest.raises(DomainError) as exc:
            services.appoint(personas.ent_a, p, "safety_staff", start)
        assert "already holds Full-time safety staff from 2025-01-01" in exc.value.message
    assert counts() == before
    services.end_appointment(personas.ent_a, first, dt.date(2025, 12, 31), "调岗")
    again = services.appoint(personas.ent_a, p, "safety_staff", dt.date(2025, 12, 31))
    assert again.start_date == dt.date(2025, 12, 31)


def test_a_single_post_has_one_holder_and_the_successor_starts_when_the_predecessor_leaves(personas):
    first = services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2024, 9, 1))
    second = person(personas, name="王五", id_number=rid("19760101", "789"))
    with pytest.raises(DomainError) as exc:
        services.appoint(personas.ent_a, second, "mine_manager", dt.date(2025, 9, 1))
    assert "end that appointment first" in exc.value.message and "张建国" in exc.value.message
    services.end_appointment(personas.ent_a, first, dt.date(2025, 9, 1), "调离")
    with pytest.raises(DomainError):  # would overlap the first holder's period
        services.appoint(personas.ent_a, second, "mine_manager", dt.date(2025, 8, 31))
    successor = services.appoint(personas.ent_a, second, "mine_manager", dt.date(2025, 9, 1))
    assert services.current_holders(personas.mine_a, ["mine_manager"])["mine_manager"] == [second]
    assert services.appointment_history(personas.mine_a, "mine_manager") == [successor, fresh(first)]
    # Another mine's manager is no business of this one.
    other = person(personas, personas.city, personas.mine_a2, id_number=rid("19770101", "321"))
    assert services.appoint(personas.city, other, "mine_manager", dt.date(2025, 9, 1)).mine == personas.mine_a2


def test_a_post_for_many_takes_several_holders(personas):
    services.appoint(personas.ent_a, person(personas), "safety_staff", TODAY)
    second = weak(personas)
    services.appoint(personas.ent_a, second, "safety_staff", TODAY)
    assert len(services.current_holders(personas.mine_a, ["safety_staff"])["safety_staff"]) == 2


def test_ending_an_appointment(personas):
    a = services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2025, 1, 1))
    services.end_appointment(personas.county_a, a, dt.date(2025, 1, 1), "任命有误")  # same day: allowed
    a = fresh(a)
    assert (a.end_date, a.end_reason) == (dt.date(2025, 1, 1), "任命有误")
    event = AuditEvent.objects.get(object_type="personnel.appointment", action=AuditEvent.Action.TRANSITION)
    assert event.after == {"end_date": "2025-01-01", "end_reason": "任命有误"}
    with pytest.raises(InvalidTransition):
        services.end_appointment(personas.county_a, a, TODAY, "again")


@pytest.mark.parametrize(("end_date", "reason", "field"), [
    (dt.date(2024, 12, 31), "调离", "end_date"), (TODAY + dt.timedelta(days=1), "调离", "end_date"),
    (None, "调离", "end_date"), (TODAY, " ", "reason"), (TODAY, "x" * 201, "reason"),
])
def test_bad_endings_are_refused(personas, end_date, reason, field):
    a = services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2025, 1, 1))
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.end_appointment(personas.ent_a, a, end_date, reason)
    assert field in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_ends_an_appointment(personas, persona):
    a = services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2025, 1, 1))
    with pytest.raises(PermissionDenied):
        services.end_appointment(getattr(personas, persona), a, TODAY, "x")


def test_the_ledger_lists_every_post_with_holders_status_and_history(personas):
    chief = services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2025, 1, 1))
    old = services.appoint(personas.ent_a, weak(personas), "deputy_safety", dt.date(2020, 1, 1))
    rows = {row.post: row for row in services.mine_ledger(personas.mine_a)}
    assert list(rows) == [p["code"] for p in common.catalogue()["posts"]]
    assert [h.appointment for h in rows["mine_manager"].holders] == [chief]
    assert rows["mine_manager"].holders[0].qualified and rows["mine_manager"].five
    holder = rows["deputy_safety"].holders[0]
    assert (holder.incumbent, holder.deadline, holder.overdue, len(holder.gaps)) == (True, FIX_BY, True, 3)
    assert rows["chief_engineer"].holders == [] and rows["technical_staff"].technical
    services.end_appointment(personas.ent_a, old, TODAY, "调整")
    rows = {row.post: row for row in services.mine_ledger(personas.mine_a)}
    assert rows["deputy_safety"].holders == [] and rows["deputy_safety"].history == [fresh(old)]


# Compliance --------------------------------------------------------------------------------------
def incumbents(personas):
    """An unqualified incumbent deputy at mine A and at mine B, and a qualified chief at mine A."""
    services.appoint(personas.ent_a, weak(personas), "deputy_production", dt.date(2023, 3, 1))
    services.appoint(personas.ent_a, person(personas), "mine_manager", dt.date(2023, 3, 1))
    services.appoint(personas.ent_b, weak(personas, personas.ent_b, personas.mine_b), "technical_staff",
                     dt.date(2022, 1, 1), specialty="测量")


def test_unqualified_incumbents_are_listed_with_the_deadline_and_overdue_after_it(personas, monkeypatch):
    incumbents(personas)
    freeze(monkeypatch, dt.date(2025, 6, 1))
    rows = services.compliance_list(personas.city)
    assert [(r.mine, r.post, r.deadline, r.overdue, r.incumbent) for r in rows] == [
        (personas.mine_b, "technical_staff", FIX_BY, False, True),  # county 130822 before 130827
        (personas.mine_a, "deputy_production", FIX_BY, False, True)]
    assert rows[1].county == personas.county_a_region and rows[1].person.name == "李四" and len(rows[1].gaps) == 3
    freeze(monkeypatch, FIX_BY)
    assert not any(r.overdue for r in services.compliance_list(personas.city))
    freeze(monkeypatch, FIX_BY + dt.timedelta(days=1))
    assert all(r.overdue for r in services.compliance_list(personas.city))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_compliance_list_is_scoped(personas, persona):
    incumbents(personas)
    rows = services.compliance_list(getattr(personas, persona), TODAY)
    expected = {n for n in ("mine_a", "mine_b") if n in SCOPE[persona]}
    assert {r.mine.pk for r in rows} == {getattr(personas, n).pk for n in expected}


def test_an_adjusted_incumbent_leaves_the_list(personas):
    services.appoint(personas.ent_a, weak(personas), "deputy_production", dt.date(2023, 3, 1))
    holder = Person.objects.get(name="李四")
    services.update_person(personas.ent_a, holder, {"education": "college", "specialty": "采矿",
                                                    "core_specialty": True, "frontline_years": 10})
    assert services.compliance_list(personas.city) == []


def test_a_new_holder_found_unqualified_later_is_overdue_at_once(personas):
    p = person(personas)
    services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 1, 1))
    services.update_person(personas.county_a, p, {"frontline_years": 8})  # the record was inflated
    [row] = services.compliance_list(personas.county_a)
    assert (row.incumbent, row.deadline, row.overdue) == (False, dt.date(2025, 1, 1), True)


def test_closed_mines_and_people_who_left_are_not_listed(personas):
    incumbents(personas)
    services.deactivate_person(personas.ent_a, Person.objects.get(mine=personas.mine_a, name="李四"), reason="离职")
    registry.change_status(personas.city, personas.mine_b, Mine.Status.CLOSED, reason="关闭", effective_date=TODAY)
    assert services.compliance_list(personas.city) == []


# Flags -------------------------------------------------------------------------------------------
def chiefs(personas, n: int) -> list[Person]:
    return [person(personas, name=f"矿长{i}", id_number=rid("19700101", f"{i:03d}")) for i in range(n)]


def change_managers(personas, people: list[Person], starts: list[dt.date]) -> None:
    """The mine manager post held in turn by each person from each start date."""
    previous = Appointment.objects.filter(mine=personas.mine_a, post="mine_manager", end_date=None).first()
    for p, start in zip(people, starts, strict=True):
        if previous is not None:
            services.end_appointment(personas.ent_a, previous, start, "调整")
        previous = services.appoint(personas.ent_a, p, "mine_manager", start)


def test_three_changes_of_chief_within_twelve_months_are_flagged_and_the_county_told(personas):
    people = chiefs(personas, 4)
    change_managers(personas, people[:3], [dt.date(2020, 1, 1), dt.date(2025, 5, 1), dt.date(2025, 9, 1)])
    assert not [f for f in services.flags(personas.city) if f.kind == services.FREQUENT_CHANGES]
    assert not Notification.objects.filter(recipient=personas.county_a).exists()
    change_managers(personas, people[3:], [dt.date(2026, 1, 1)])
    [flag] = [f for f in services.flags(personas.city) if f.kind == services.FREQUENT_CHANGES]
    assert (flag.mine, flag.count) == (personas.mine_a, 3)
    assert "3 changes of five mine chiefs in the last 12 months" in flag.detail
    note = Notification.objects.get(recipient=personas.county_a)
    assert note.link == f"/personnel/mines/{personas.mine_a.pk}/people/"
    assert not Notification.objects.filter(recipient=personas.county_b).exists()
    assert [f.mine for f in services.flags(personas.county_b) if f.kind == services.FREQUENT_CHANGES] == []


def test_changes_older_than_the_window_and_first_holders_are_not_counted(personas):
    # First holders of four posts recorded at once, plus changes older than twelve months: no flag.
    people = chiefs(personas, 8)
    for p, post in zip(people[:4], ["mine_manager", "chief_engineer", "deputy_electromech",
                                             "deputy_production"], strict=True):
        services.appoint(personas.ent_a, p, post, dt.date(2026, 1, 1))
    assert services.chief_changes([personas.mine_a.pk], TODAY, services.rules()) == {}
    # Three changes of the deputy for safety in 2024: outside the window today, one of them inside it in mid-2025.
    previous = None
    starts = [dt.date(2020, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 6, 1), dt.date(2024, 12, 1)]
    for p, start in zip(people[4:], starts, strict=True):
        if previous is not None:
            services.end_appointment(personas.ent_a, previous, start, "调整")
        previous = services.appoint(personas.ent_a, p, "deputy_safety", start)
    assert services.chief_changes([personas.mine_a.pk], TODAY, services.rules()) == {}
    assert services.chief_changes([personas.mine_a.pk], dt.date(2025, 6, 1), services.rules()) == {
        personas.mine_a.pk: 1}
    assert services.chief_changes([personas.mine_a.pk], dt.date(2024, 12, 31), services.rules()) == {
        personas.mine_a.pk: 3}


def test_a_holder_without_attendance_evidence_is_flagged_nominal_only(personas):
    p = person(personas)
    services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 1, 1))
    owner = weak(personas)
    services.appoint(personas.ent_a, owner, "legal_representative", dt.date(2025, 1, 1))  # not expected on site
    [flag] = [f for f in services.flags(personas.county_a) if f.kind == services.NOMINAL_ONLY]
    assert (flag.person, flag.post, flag.last_seen) == (p, "mine_manager", dt.date(2025, 1, 1))
    assert services.last_seen(p) == dt.date(2025, 1, 1)
    # Training 30 days ago is evidence enough (the window is the last 30 days).
    TrainingRecord.objects.create(kind=TrainingRecord.Kind.CHIEF_ANNUAL, person=p, held_on=TODAY - dt.timedelta(30),
                                  hours=Decimal(24), created_by=personas.city)
    assert services.last_seen(p) == TODAY - dt.timedelta(30)
    assert not [f for f in services.flags(personas.county_a) if f.kind == services.NOMINAL_ONLY]


def test_an_exam_counts_as_attendance_and_a_future_record_does_not(personas):
    p = person(personas)
    services.appoint(personas.ent_a, p, "mine_manager", dt.date(2025, 1, 1))
    TrainingRecord.objects.create(kind=TrainingRecord.Kind.CHIEF_ANNUAL, person=p, held_on=TODAY + dt.timedelta(5),
                                  hours=Decimal(24), created_by=personas.city)
    assert services.last_seen(p) == dt.date(2025, 1, 1)
    Exam.objects.create(person=p, mine=personas.mine_a, post="mine_manager", examiner=personas.inspector,
                        held_on=TODAY - dt.timedelta(3), score=Decimal(90), passed=True)
    assert services.last_seen(p) == TODAY - dt.timedelta(3)
    assert services.flags(personas.city) == []


def test_a_recent_appointment_is_not_yet_absent(personas):
    services.appoint(personas.ent_a, person(personas), "mine_manager", TODAY - dt.timedelta(10))
    assert services.flags(personas.ent_a) == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_flags_are_scoped(personas, persona):
    for name, actor in (("mine_a", personas.ent_a), ("mine_a2", personas.city), ("mine_b", personas.ent_b)):
        mine = getattr(personas, name)
        p = person(personas, actor, mine)
        services.appoint(actor, p, "mine_manager", dt.date(2025, 1, 1))
    shown = {f.mine.pk for f in services.flags(getattr(personas, persona))}
    assert shown == {getattr(personas, n).pk for n in ("mine_a", "mine_a2", "mine_b") if n in SCOPE[persona]}


# Pages -------------------------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """On every fixture mine an unqualified incumbent deputy, with phone, absent since 2023."""
    for i, name in enumerate(MINES):
        mine = getattr(personas, name)
        p = services.create_person(personas.city, mine, **weak_data(name=f"{name}-副矿长", phone=PHONE,
                                                                    id_number=rid("19800101", f"{i:03d}")))
        services.appoint(personas.city, p, "deputy_production", dt.date(2023, 1, 1))
    return personas


def person_of(world, name) -> Person:
    return Person.objects.get(mine=getattr(world, name))


@pytest.mark.parametrize("persona", PERSONAS)
def test_people_pages_show_exactly_the_personas_mines(client, world, persona):
    web = web_client(client, world, persona)
    pages = ["/personnel/people/", "/personnel/people/compliance/"]
    if persona == "anonymous":
        for page in pages + [f"/personnel/people/{person_of(world, 'mine_a').pk}/"]:
            response = web.get(page)
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    for page in pages:
        html = web.get(page).content.decode()
        shown = {n for n in MINES if f'data-mine="{getattr(world, n).pk}"' in html}
        assert shown == SCOPE[persona], page
    for name in MINES:
        expected = 200 if name in SCOPE[persona] else 404
        assert web.get(f"/personnel/people/{person_of(world, name).pk}/").status_code == expected
        assert web.get(f"/personnel/mines/{getattr(world, name).pk}/people/").status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_mask_numbers_for_departments_and_inspectors(client, world, persona):
    if persona == "anonymous":
        return
    web = web_client(client, world, persona)
    for i, name in enumerate(MINES):
        if name not in SCOPE[persona]:
            continue
        number = rid("19800101", f"{i:03d}")
        for page in (f"/personnel/people/{person_of(world, name).pk}/",
                     f"/personnel/mines/{getattr(world, name).pk}/people/"):
            html = web.get(page).content.decode()
            if persona in FULL_VIEW:
                assert number in html and PHONE in html
            else:
                assert number not in html and PHONE not in html
                assert common.mask_id(number) in html and common.mask_phone(PHONE) in html


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_scoped_and_always_masked(client, world, persona, fmt):
    response = web_client(client, world, persona).get(f"/personnel/people/compliance.{fmt}")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    if fmt == "csv":
        text = response.content.decode("utf-8-sig")
        lines = text.strip().splitlines()[1:]
        codes = {line.split(",")[2] for line in lines}
    else:
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        codes = {row[2] for row in rows}
        text = json.dumps(rows, ensure_ascii=False, default=str)
    assert codes == {getattr(world, n).code for n in SCOPE[persona]}
    assert PHONE not in text
    for i in range(len(MINES)):
        assert rid("19800101", f"{i:03d}") not in text
    if codes:
        assert common.mask_id(rid("19800101", "000"))[:6] in text and "2025-12-31" in text


def test_the_compliance_page_and_export_filter_by_county_and_overdue(client, world, monkeypatch):
    web = web_client(client, world, "city")
    response = web.get(f"/personnel/people/compliance/?county={world.county_b_region.code}")
    assert [r.mine for r in response.context["rows"]] == [world.mine_b]
    assert {c["county"] for c in response.context["per_county"]} == {world.county_b_region}
    assert len(web.get("/personnel/people/compliance/?overdue=1").context["rows"]) == 4
    assert web.get("/personnel/people/compliance/?overdue=0").context["rows"] == []
    freeze(monkeypatch, dt.date(2025, 6, 1))
    assert web.get("/personnel/people/compliance/?overdue=1").context["rows"] == []
    sheet = load_workbook(io.BytesIO(web.get(
        f"/personnel/people/compliance.xlsx?county={world.county_a_region.code}").content)).worksheets[1]
    flagged = {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert flagged == {world.mine_a.code, world.mine_a2.code, world.pond_a.code}  # absent deputies, county A


def test_the_enterprise_keeps_its_ledger_on_the_pages(client, personas, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the refusals are read in English
    web = web_client(client, personas, "ent_a")
    page = f"/personnel/mines/{personas.mine_a.pk}/people/"
    html = web.get(page).content.decode()
    assert 'id="step-person"' in html and 'id="step-appoint"' in html
    form = {"action": "person", "person-name": "赵六", "person-id_number": rid(), "person-education": "college",
            "person-specialty": "采矿", "person-core_specialty": "on", "person-frontline_years": "12",
            "person-phone": PHONE, "person-assigned_operations": ["nm_hoist"], "person-own_employee": "on"}
    before = counts()
    response = web.post(page, {**form, "person-frontline_years": "45"})  # 51 years old: impossible
    assert response.status_code == 200 and counts() == before
    assert "impossible experience" in str(response.context["forms"]["person"].errors["frontline_years"])
    assert web.post(page, form).status_code == 302
    p = Person.objects.get(name="赵六")
    assert p.assigned_operations == ["nm_hoist"] and p.core_specialty
    response = web.post(page, {"action": "appoint", "appoint-person": p.pk, "appoint-post": "technical_staff",
                               "appoint-specialty": "", "appoint-start_date": "2026-03-01"})
    assert response.status_code == 200 and not Appointment.objects.exists()
    assert "specialty" in response.context["forms"]["appoint"].errors
    web.post(page, {"action": "appoint", "appoint-person": p.pk, "appoint-post": "mine_manager",
                    "appoint-start_date": "2026-03-01"})
    a = Appointment.objects.get()
    html = web.get(page).content.decode()
    assert f'data-holder="{p.pk}"' in html
    detail = f"/personnel/people/{p.pk}/"
    assert web.post(detail, {"action": f"end{a.pk}", f"end{a.pk}-end_date": "2026-03-05",
                             f"end{a.pk}-reason": "调离"}).status_code == 302
    assert fresh(a).end_date == dt.date(2026, 3, 5)
    web.post(detail, {"action": "edit", "edit-name": "赵六", "edit-id_number": rid(), "edit-education": "master",
                      "edit-specialty": "采矿", "edit-core_specialty": "on", "edit-frontline_years": "12",
                      "edit-phone": "", "edit-own_employee": "on"})
    p = fresh(p)
    assert (p.education, p.phone, p.assigned_operations) == ("master", "", [])
    web.post(detail, {"action": "deactivate", "deactivate-left_on": "2026-03-06", "deactivate-reason": "离职"})
    assert not fresh(p).active
    html = web.get(detail).content.decode()
    assert 'id="step-reactivate"' in html and rid() not in json.dumps(
        list(AuditEvent.objects.values("before", "after")), ensure_ascii=False)


def test_a_refused_appointment_shows_the_qualification_reasons_on_the_form(client, personas, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the reasons are read in English
    p = weak(personas)
    web = web_client(client, personas, "county_a")
    response = web.post(f"/personnel/mines/{personas.mine_a.pk}/people/", {
        "action": "appoint", "appoint-person": p.pk, "appoint-post": "mine_manager",
        "appoint-start_date": "2026-03-01"})
    assert response.status_code == 200 and not Appointment.objects.exists()
    assert "does not meet the rule" in str(response.context["forms"]["appoint"].errors["person"])


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_readers_and_outsiders_cannot_post_on_the_pages(client, personas, persona):
    p = person(personas, personas.city, personas.mine_a2)
    web = web_client(client, personas, persona)
    before = counts()
    response = web.post(f"/personnel/mines/{personas.mine_a2.pk}/people/", {
        "action": "appoint", "appoint-person": p.pk, "appoint-post": "mine_manager",
        "appoint-start_date": "2026-03-01"})
    expected = 403 if persona in ("department", "inspector") else 404
    assert response.status_code == expected
    assert web.post(f"/personnel/people/{p.pk}/", {"action": "deactivate", "deactivate-left_on": "2026-03-01",
                                                   "deactivate-reason": "x"}).status_code == expected
    assert counts() == before
    if persona in ("department", "inspector"):
        html = web.get(f"/personnel/people/{p.pk}/").content.decode()
        assert 'id="step-edit"' not in html and rid() not in html  # no form carrying the number in full


# API ---------------------------------------------------------------------------------------------
def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("persona", PERSONAS)
def test_people_api_is_scoped_and_masked_per_role(world, persona):
    client = api_client(world, persona)
    response = client.get("/api/v1/people/?limit=500")
    appointments = client.get("/api/v1/appointments/?limit=500")
    compliance = client.get("/api/v1/people-compliance/")
    flagged = client.get("/api/v1/people-compliance/flags/")
    if persona == "anonymous":
        assert {r.status_code for r in (response, appointments, compliance, flagged)} == {403}
        return
    expected = {getattr(world, n).pk for n in SCOPE[persona]}
    rows = response.json()["results"]
    assert {row["mine"] for row in rows} == expected
    assert {row["mine"] for row in appointments.json()["results"]} == expected
    assert {row["mine"] for row in compliance.json()} == expected
    assert {row["mine"] for row in flagged.json()} == expected
    for row in rows:
        full = Person.objects.get(pk=row["id"])
        if persona in FULL_VIEW:
            assert (row["id_number"], row["phone"], row["personal_masked"]) == (full.id_number, PHONE, False)
        else:
            assert (row["id_number"], row["phone"], row["personal_masked"]) == (
                common.mask_id(full.id_number), common.mask_phone(PHONE), True)
    body = response.content.decode() + compliance.content.decode() + flagged.content.decode()
    if persona not in FULL_VIEW:
        assert PHONE not in body and all(rid("19800101", f"{i:03d}") not in body for i in range(len(MINES)))
    for name in MINES:
        code = 200 if name in SCOPE[persona] else 404
        p = person_of(world, name)
        assert client.get(f"/api/v1/people/{p.pk}/").status_code == code
        assert client.get(f"/api/v1/appointments/{p.appointments.get().pk}/").status_code == code


def test_masked_readers_cannot_probe_numbers_by_search_or_ordering(world):
    client = api(world.department)
    number = person_of(world, "mine_a").id_number
    assert client.get(f"/api/v1/people/?search={number}").json()["results"] == []
    assert client.get(f"/api/v1/people/?id_number={number}").json()["count"] == len(MINES)  # not a filter
    ordered = client.get("/api/v1/people/?ordering=id_number").json()["results"]
    assert [r["id"] for r in ordered] == [r["id"] for r in client.get("/api/v1/people/").json()["results"]]


def test_the_ledger_through_the_api(personas):
    ent = api(personas.ent_a)
    body = {"mine": personas.mine_a.pk, "name": "张建国", "id_number": rid(), "education": "bachelor",
            "specialty": "采矿", "core_specialty": True, "frontline_years": "20.0", "phone": PHONE,
            "assigned_operations": ["nm_ventilation"]}
    response = ent.post("/api/v1/people/", {**body, "id_number": rid()[:17] + "0"}, format="json")
    assert response.status_code == 400 and "check character" in response.json()["id_number"][0]
    response = ent.post("/api/v1/people/", {**body, "frontline_years": "40.0"}, format="json")
    assert response.status_code == 400 and "impossible experience" in response.json()["frontline_years"][0]
    response = ent.post("/api/v1/people/", body, format="json")
    assert response.status_code == 201, response.json()
    person_id = response.json()["id"]
    assert response.json()["id_number"] == rid() and response.json()["assigned_operations"] == ["nm_ventilation"]
    response = ent.patch(f"/api/v1/people/{person_id}/", {"frontline_years": "21.0"}, format="json")
    assert response.status_code == 200 and response.json()["frontline_years"] == "21.0"
    assert fresh(Person.objects.get(pk=person_id)).phone == PHONE  # a partial correction keeps the rest
    assert ent.post("/api/v1/appointments/", {"person": person_id, "post": "ghost", "start_date": "2026-01-01"},
                    format="json").status_code == 400
    response = ent.post("/api/v1/appointments/", {"person": person_id, "post": "mine_manager",
                                                  "start_date": "2026-01-01"}, format="json")
    assert response.status_code == 201 and response.json()["current"] and not response.json()["incumbent"]
    appointment_id = response.json()["id"]
    response = ent.post("/api/v1/appointments/", {"person": person_id, "post": "mine_manager",
                                                  "start_date": "2026-02-01"}, format="json")
    assert response.status_code == 409
    assert ent.get("/api/v1/appointments/?current=true").json()["count"] == 1
    response = ent.post(f"/api/v1/appointments/{appointment_id}/end/", {"end_date": "2025-12-01", "reason": "x"},
                        format="json")
    assert response.status_code == 400 and "end_date" in response.json()
    response = ent.post(f"/api/v1/appointments/{appointment_id}/end/", {"end_date": "2026-03-01", "reason": "调离"},
                        format="json")
    assert response.status_code == 200 and not response.json()["current"]
    assert ent.get("/api/v1/appointments/?current=true").json()["count"] == 0
    response = ent.post(f"/api/v1/people/{person_id}/deactivate/", {"reason": "离职"}, format="json")
    assert response.status_code == 200 and not response.json()["active"]
    assert ent.post(f"/api/v1/people/{person_id}/deactivate/", {"reason": "离职"}, format="json").status_code == 409
    assert ent.post(f"/api/v1/people/{person_id}/reactivate/").json()["active"]
    text = audit_text()
    assert rid() not in text and PHONE not in text


def test_the_api_refuses_unqualified_new_appointments_and_invisible_mines(personas):
    p = weak(personas)
    response = api(personas.county_a).post("/api/v1/appointments/", {"person": p.pk, "post": "chief_engineer",
                                                                     "start_date": "2026-01-01"}, format="json")
    assert response.status_code == 400 and "does not meet the rule" in response.json()["person"][0]
    before = counts()
    body = {"mine": personas.mine_a.pk, **{k: str(v) for k, v in chief_data().items()}, "core_specialty": True}
    response = api(personas.ent_b).post("/api/v1/people/", body, format="json")
    assert response.status_code == 400 and "mine" in response.json()
    assert api(personas.department).post("/api/v1/people/", body, format="json").status_code == 403
    assert api(personas.department).patch(f"/api/v1/people/{p.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api(personas.ent_b).post("/api/v1/appointments/", {"person": p.pk, "post": "safety_staff",
                                                              "start_date": "2026-01-01"},
                                    format="json").status_code == 400
    assert counts() == before


def test_the_compliance_api_filters_by_county_and_overdue(world, monkeypatch):
    client = api(world.city)
    rows = client.get(f"/api/v1/people-compliance/?county={world.county_a_region.code}").json()
    assert {r["mine"] for r in rows} == {world.mine_a.pk, world.mine_a2.pk, world.pond_a.pk}
    assert all(r["deadline"] == "2025-12-31" and r["overdue"] and r["incumbent"] for r in rows)
    freeze(monkeypatch, dt.date(2025, 6, 1))
    assert client.get("/api/v1/people-compliance/?overdue=true").json() == []
    assert len(client.get("/api/v1/people-compliance/?overdue=false").json()) == 4
    flagged = client.get(f"/api/v1/people-compliance/flags/?county={world.county_b_region.code}").json()
    assert [(f["mine"], f["kind"], f["last_seen"]) for f in flagged] == [
        (world.mine_b.pk, "nominal_only", "2023-01-01")]


@pytest.mark.parametrize("endpoint", ["people", "appointments"])
def test_api_lists_read_in_a_fixed_number_of_queries(world, endpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(world.county_a)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/{endpoint}/?limit=500").status_code == 200
        return len(ctx.captured_queries)

    first = queries()
    for i in range(3):
        p = services.create_person(world.city, world.mine_a2, **weak_data(id_number=rid("19810101", f"{i:03d}")))
        services.appoint(world.city, p, "safety_staff", TODAY)
    assert queries() == first
