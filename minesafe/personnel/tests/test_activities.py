"""Drills and emergency plans, exams at inspection (逢查必考) and the question bank, contractors and own mining
teams: the rules with frozen time, every refusal, the resumption item, and who sees and does what on the pages
and the API."""

import datetime as dt
import random
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import override

from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Notification
from minesafe.core.validators import credit_code_check_char, resident_id_check_char
from minesafe.operations.resumption import COMPUTED_CHECKS
from minesafe.personnel import activities as services
from minesafe.personnel.models import (
    Appointment,
    Drill,
    Education,
    EmergencyPlan,
    Exam,
    ExamQuestion,
    MiningTeam,
    OutsourcedProject,
    Person,
)
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
REGISTERED = dt.date(2024, 1, 1)  # the fixture mines' registration
RECORDERS_OF_MINE_A = ("city", "county_a", "ent_a")
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")
K = Drill.Kind
M = MiningTeam.Mode


def freeze(monkeypatch, day: dt.date, hour: int = 9):
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    freeze(monkeypatch, TODAY)


@pytest.fixture(autouse=True)
def english():
    with override("en"):
        yield


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def events(obj, action=None):
    qs = AuditEvent.objects.filter(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


def state() -> tuple:
    """Everything this part writes: a refused call must leave it unchanged."""
    return (AuditEvent.objects.count(), Notification.objects.count(),
            list(Drill.objects.values_list("pk", flat=True)), list(EmergencyPlan.objects.values_list("pk", flat=True)),
            list(Exam.objects.values_list("pk", flat=True)),
            list(ExamQuestion.objects.values_list("pk", "post", "text", "answer", "active")),
            list(OutsourcedProject.objects.values_list("pk", "end_date")),
            list(MiningTeam.objects.values_list("pk", "mode", "firm", "since")))


def credit(prefix17: str = "91130827MA0000F7K") -> str:
    return prefix17 + credit_code_check_char(prefix17)


_serial = iter(range(100, 999))


def person(personas, mine, name="张三", post=None, start=dt.date(2024, 6, 1), end=None) -> Person:
    first17 = f"13082719800101{next(_serial):03d}"
    someone = Person.objects.create(mine=mine, name=name, id_number=first17 + resident_id_check_char(first17),
                                    phone="13912345678", education=Education.BACHELOR, specialty="采矿工程",
                                    core_specialty=True, frontline_years=12, created_by=personas.city)
    if post:
        appoint(personas, someone, post, start, end)
    return someone


def appoint(personas, someone, post, start=dt.date(2024, 6, 1), end=None) -> Appointment:
    return Appointment.objects.create(person=someone, mine=someone.mine, post=post, start_date=start, end_date=end,
                                      created_by=personas.city)


def bank(personas, n: int = 12, post: str = "mine_manager") -> list[ExamQuestion]:
    return [services.create_question(personas.city, post=post, text=f"{post} 题 {i}",
                                     options=[{"key": "A", "text": "对"}, {"key": "B", "text": "错"},
                                              {"key": "C", "text": "不确定"}], answer="AB"[i % 2])
            for i in range(n)]


def answers_for(draw, wrong: int = 0) -> dict[int, str]:
    """Right answers, except the first `wrong` ones."""
    out = {}
    for index, q in enumerate(draw.questions):
        out[q.pk] = q.answer if index >= wrong else ("C" if q.answer != "C" else "A")
    return out


def past_exam(personas, someone, post, held_on, score, passed=None, mine=None) -> Exam:
    """A recorded exam of an earlier inspection (history for the resumption item)."""
    return Exam.objects.create(person=someone, mine=mine or someone.mine, post=post, examiner=personas.county_a,
                               held_on=held_on, score=score,
                               passed=score >= services.pass_score() if passed is None else passed, answers=[])


def drill(personas, actor=None, mine=None, **overrides) -> Drill:
    data = {"kind": K.EVACUATION, "held_on": dt.date(2026, 1, 15), "scenario": "-200 m 中段透水, 全员撤离",
            "participants": 86, "evidence": "演练记录、照片 12 张、评估报告", **overrides}
    return services.record_drill(actor or personas.ent_a, mine or personas.mine_a, **data)


def plan(personas, actor=None, mine=None, **overrides) -> EmergencyPlan:
    data = {"title": "生产安全事故应急预案", "version": "2025版", "revised_on": dt.date(2025, 6, 1),
            "next_revision_due": dt.date(2028, 6, 1), "filed_with": "宽城县应急管理局", **overrides}
    return services.record_plan(actor or personas.ent_a, mine or personas.mine_a, **data)


def project(personas, actor=None, mine=None, **overrides) -> OutsourcedProject:
    data = {"contractor": "承德某建设工程有限公司", "contractor_credit_code": credit(),
            "qualification": "矿山工程施工总承包二级", "qualification_expires_on": dt.date(2027, 12, 31),
            "scope": "主井提升系统改造", "underground": True, "labour_dispatch": False, "blasting": False,
            "start_date": dt.date(2026, 1, 1), **overrides}
    return services.record_project(actor or personas.ent_a, mine or personas.mine_a, **data)


# Drills ------------------------------------------------------------------------------------------
def test_the_enterprise_records_a_drill_of_its_mine(personas):
    recorded = fresh(drill(personas))
    assert (recorded.kind, recorded.held_on, recorded.participants, recorded.created_by) == (
        K.EVACUATION, dt.date(2026, 1, 15), 86, personas.ent_a)
    event = events(recorded, AuditEvent.Action.CREATE).get()
    assert event.actor_id == personas.ent_a.pk and event.after["participants"] == 86


@pytest.mark.parametrize("persona", ["city", "county_a"])
def test_the_county_and_the_city_record_drills(personas, persona):
    assert drill(personas, getattr(personas, persona)).pk


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_a_drill(personas, persona):
    before = state()
    with pytest.raises(PermissionDenied):
        drill(personas, getattr(personas, persona))
    assert state() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"held_on": TODAY + dt.timedelta(days=1)}, "held_on"), ({"held_on": None}, "held_on"),
    ({"participants": 0}, "participants"), ({"participants": -3}, "participants"),
    ({"participants": "12"}, "participants"), ({"participants": True}, "participants"),
    ({"scenario": "  "}, "scenario"), ({"scenario": "x" * 201}, "scenario"), ({"evidence": ""}, "evidence"),
    ({"kind": "fire"}, "kind"),
])
def test_bad_drill_input_is_refused_naming_the_field(personas, overrides, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        drill(personas, **overrides)
    assert field in exc.value.message_dict
    assert state() == before


def test_a_drill_held_today_is_accepted(personas):
    assert drill(personas, held_on=TODAY).held_on == TODAY


def test_a_closed_mine_records_no_drill(personas):
    Mine.objects.filter(pk=personas.mine_a.pk).update(status=Mine.Status.CLOSED)
    with pytest.raises(DomainError):
        drill(personas, personas.city, fresh(personas.mine_a))


def test_a_mine_that_never_drilled_is_due_six_months_after_registration(personas):
    status = services.drill_status(personas.mine_a)
    assert (status.last_drill, status.due_on, status.overdue) == (None, dt.date(2024, 7, 1), True)
    assert status.days_overdue == (TODAY - dt.date(2024, 7, 1)).days


def test_a_new_mine_is_not_overdue_before_six_months(personas, monkeypatch):
    freeze(monkeypatch, dt.date(2024, 6, 30))
    status = services.drill_status(personas.mine_a)
    assert (status.due_on, status.overdue, status.days_overdue) == (dt.date(2024, 7, 1), False, 0)


@pytest.mark.parametrize(("held_on", "due", "overdue"), [
    (dt.date(2025, 10, 1), dt.date(2026, 4, 1), False),
    (dt.date(2025, 9, 10), dt.date(2026, 3, 10), False),  # due today: not yet late
    (dt.date(2025, 9, 9), dt.date(2026, 3, 9), True),
])
def test_the_next_drill_is_due_six_months_after_the_last(personas, held_on, due, overdue):
    drill(personas, held_on=dt.date(2024, 3, 1))
    drill(personas, held_on=held_on)
    status = services.drill_status(personas.mine_a)
    assert (status.last_drill, status.due_on, status.overdue) == (held_on, due, overdue)


def test_only_evacuation_drills_count(personas):
    drill(personas, kind=K.OTHER, held_on=dt.date(2026, 2, 1))
    assert services.drill_status(personas.mine_a).last_drill is None
    assert services.drill_status(personas.mine_a).overdue


def test_the_drill_interval_is_catalogue_data(personas, monkeypatch):
    original = services.common.catalogue

    def catalogue():
        data = dict(original())
        data["drills"] = {**data["drills"], "every_months": 3}
        return data

    monkeypatch.setattr(services.common, "catalogue", catalogue)
    drill(personas, held_on=dt.date(2026, 1, 1))
    assert services.drill_status(personas.mine_a).due_on == dt.date(2026, 4, 1)


def test_overdue_drills_per_county_cover_producing_and_construction_mines_of_every_type(personas):
    drill(personas, personas.city, personas.mine_a2, held_on=dt.date(2026, 2, 1))
    Mine.objects.filter(pk=personas.mine_a.pk).update(status=Mine.Status.SUSPENDED)
    Mine.objects.filter(pk=personas.pond_a.pk).update(status=Mine.Status.CONSTRUCTION)
    rows = {r.county_code: r for r in services.overdue_drills(personas.city)}
    county_a, county_b = rows[personas.county_a_region.code], rows[personas.county_b_region.code]
    assert county_a.mines == 2  # mine_a2 and the pond; the suspended mine_a is not counted
    assert [s.mine.pk for s in county_a.overdue] == [personas.pond_a.pk]
    assert county_b.mines == 1 and [s.mine.pk for s in county_b.overdue] == [personas.mine_b.pk]


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_overdue_drills_are_scoped(personas, persona):
    rows = services.overdue_drills(getattr(personas, persona))
    shown = {s.mine.pk for r in rows for s in r.overdue}
    assert shown == {getattr(personas, n).pk for n in SCOPE[persona]}


# Emergency plans ---------------------------------------------------------------------------------
def test_a_plan_revision_is_recorded_and_audited(personas):
    recorded = fresh(plan(personas))
    assert (recorded.version, recorded.next_revision_due, recorded.filed_with) == (
        "2025版", dt.date(2028, 6, 1), "宽城县应急管理局")
    assert events(recorded, AuditEvent.Action.CREATE).get().after["version"] == "2025版"


@pytest.mark.parametrize(("overrides", "field"), [
    ({"next_revision_due": dt.date(2025, 6, 1)}, "next_revision_due"),
    ({"next_revision_due": dt.date(2025, 5, 31)}, "next_revision_due"),
    ({"next_revision_due": None}, "next_revision_due"),
    ({"revised_on": TODAY + dt.timedelta(days=1)}, "revised_on"), ({"title": ""}, "title"),
    ({"version": " "}, "version"), ({"filed_with": "x" * 129}, "filed_with"),
])
def test_bad_plan_input_is_refused(personas, overrides, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        plan(personas, **overrides)
    assert field in exc.value.message_dict
    assert state() == before


def test_the_same_version_is_not_recorded_twice(personas):
    plan(personas)
    with pytest.raises(ValidationError) as exc:
        plan(personas, revised_on=dt.date(2025, 7, 1))
    assert "version" in exc.value.message_dict


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_a_plan(personas, persona):
    with pytest.raises(PermissionDenied):
        plan(personas, getattr(personas, persona))
    assert not EmergencyPlan.objects.exists()


def test_a_plan_past_its_revision_date_is_overdue_and_a_missing_plan_is_listed(personas):
    plan(personas, version="2022版", revised_on=dt.date(2022, 1, 1), next_revision_due=dt.date(2025, 1, 1))
    rows = {s.mine.pk: s for s in services.plan_statuses(personas.county_a)}
    assert rows[personas.mine_a.pk].overdue and not rows[personas.mine_a.pk].missing
    assert rows[personas.mine_a2.pk].missing and not rows[personas.mine_a2.pk].overdue
    plan(personas)  # the new revision replaces it
    rows = {s.mine.pk: s for s in services.plans_needing_action(personas.county_a)}
    assert personas.mine_a.pk not in rows and personas.mine_a2.pk in rows
    assert services.latest_plan(personas.mine_a).version == "2025版"


# Question bank -----------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["city", "county_a", "county_b"])
def test_the_city_and_the_counties_keep_the_bank(personas, persona):
    question = services.create_question(getattr(personas, persona), post="mine_manager", text="提升机保护有哪些?",
                                        options=[{"key": "A", "text": "过卷"}, {"key": "B", "text": "无"}],
                                        answer="A")
    assert fresh(question).options == [{"key": "A", "text": "过卷"}, {"key": "B", "text": "无"}]
    assert events(question, AuditEvent.Action.CREATE).exists()


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector"])
def test_others_do_not_keep_the_bank(personas, persona):
    question = bank(personas, 1)[0]
    before = state()
    with pytest.raises(PermissionDenied):
        services.create_question(getattr(personas, persona), post="", text="题", options=[
            {"key": "A", "text": "a"}, {"key": "B", "text": "b"}], answer="A")
    with pytest.raises(PermissionDenied):
        services.update_question(getattr(personas, persona), question, post="", text="改", options=question.options,
                                 answer="A")
    with pytest.raises(PermissionDenied):
        services.set_question_active(getattr(personas, persona), question, False)
    assert state() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"post": "cook"}, "post"), ({"text": " "}, "text"),
    ({"options": [{"key": "A", "text": "only one"}]}, "options"), ({"options": "A. yes"}, "options"),
    ({"options": [{"key": "A", "text": "a"}, {"key": "A", "text": "b"}]}, "options"),
    ({"options": [{"key": "A", "text": "a"}, {"key": "", "text": "b"}]}, "options"),
    ({"options": [{"key": "A", "text": "a"}, {"key": "B"}]}, "options"),
    ({"options": [{"key": "A", "text": "a"}, {"key": "TOOLONGKEY", "text": "b"}]}, "options"),
    ({"answer": "D"}, "answer"), ({"answer": ""}, "answer"),
])
def test_bad_questions_are_refused(personas, overrides, field):
    data = {"post": "", "text": "题", "options": [{"key": "A", "text": "a"}, {"key": "B", "text": "b"}],
            "answer": "B", **overrides}
    with pytest.raises(ValidationError) as exc:
        services.create_question(personas.city, **data)
    assert field in exc.value.message_dict
    assert not ExamQuestion.objects.exists()


def test_editing_and_deactivating_a_question_are_audited_and_leave_the_pool(personas):
    question = bank(personas, 1)[0]
    services.update_question(personas.county_a, question, post="mine_manager", text="新题干",
                             options=question.options, answer="C")
    changed = events(question, AuditEvent.Action.UPDATE).get()
    assert changed.after == {"text": "新题干", "answer": "C"} and changed.before["answer"] == "A"
    assert list(services.question_pool("mine_manager")) == [question]
    services.set_question_active(personas.city, question, False)
    assert not fresh(question).active and not services.question_pool("mine_manager").exists()
    services.set_question_active(personas.city, question, True)
    assert fresh(question).active


# Exams -------------------------------------------------------------------------------------------
def test_an_assigned_inspector_examines_a_current_chief(personas):
    chief = person(personas, personas.mine_a2, "李矿长", "mine_manager")
    bank(personas, 12)
    draw = services.draw_exam(personas.inspector, chief, rng=random.Random(1))
    assert draw.post == "mine_manager" and len(draw.questions) == 10
    assert len({q.pk for q in draw.questions}) == 10
    exam = services.take_exam(personas.inspector, draw.token, answers_for(draw, wrong=1), inspection_ref="2026-检-031")
    exam = fresh(exam)
    assert (exam.person, exam.mine, exam.post, exam.examiner, exam.held_on) == (
        chief, personas.mine_a2, "mine_manager", personas.inspector, TODAY)
    assert (exam.score, exam.passed, exam.inspection_ref) == (90, True, "2026-检-031")
    assert [a["question"] for a in exam.answers] == [q.pk for q in draw.questions]
    assert exam.answers[0]["correct"] is False and exam.answers[0]["right"] == draw.questions[0].answer
    assert exam.answers[0]["text"] == draw.questions[0].text
    assert events(exam, AuditEvent.Action.CREATE).get().after["score"] == "90.0"


@pytest.mark.parametrize(("wrong", "score", "passed"), [(0, 100, True), (2, 80, True), (3, 70, False),
                                                        (10, 0, False)])
def test_the_score_and_the_pass_mark(personas, wrong, score, passed):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 10)
    draw = services.draw_exam(personas.county_a, chief)
    exam = services.take_exam(personas.county_a, draw.token, answers_for(draw, wrong))
    assert (exam.score, exam.passed) == (score, passed)


def test_a_smaller_bank_gives_fewer_questions_and_unanswered_ones_count_wrong(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 3)
    draw = services.draw_exam(personas.city, chief)
    assert len(draw.questions) == 3
    right = answers_for(draw)
    exam = services.take_exam(personas.city, draw.token, {draw.questions[0].pk: right[draw.questions[0].pk],
                                                          draw.questions[1].pk: right[draw.questions[1].pk]})
    assert (str(exam.score), exam.passed) == ("66.7", False)
    assert exam.answers[2]["given"] == "" and exam.answers[2]["correct"] is False


def test_questions_are_drawn_from_the_post_and_those_for_every_post(personas):
    chief = person(personas, personas.mine_a, "王矿长", "deputy_safety")
    own = bank(personas, 2, "deputy_safety")
    general = bank(personas, 2, "")
    bank(personas, 5, "chief_engineer")
    services.set_question_active(personas.city, own[0], False)
    draw = services.draw_exam(personas.city, chief)
    assert {q.pk for q in draw.questions} == {own[1].pk, *(q.pk for q in general)}


def test_the_pass_score_and_the_count_are_catalogue_data(personas, monkeypatch):
    original = services.common.catalogue

    def catalogue():
        data = dict(original())
        data["exams"] = {**data["exams"], "pass_score": 60, "questions_per_exam": 5}
        return data

    monkeypatch.setattr(services.common, "catalogue", catalogue)
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 12)
    draw = services.draw_exam(personas.city, chief)
    assert len(draw.questions) == 5
    exam = services.take_exam(personas.city, draw.token, answers_for(draw, wrong=2))
    assert (exam.score, exam.passed) == (60, True)


def test_an_inspector_not_assigned_to_the_mine_may_not_examine(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    with pytest.raises(PermissionDenied):
        services.draw_exam(personas.inspector, chief)
    draw = services.draw_exam(personas.county_a, chief)
    before = state()
    with pytest.raises(PermissionDenied):
        services.take_exam(personas.inspector, draw.token, answers_for(draw))
    assert state() == before


@pytest.mark.parametrize("persona", ["ent_a", "department", "county_b", "ent_b"])
def test_the_enterprise_departments_and_other_counties_do_not_examine(personas, persona):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    with pytest.raises(PermissionDenied):
        services.draw_exam(getattr(personas, persona), chief)


@pytest.mark.parametrize("end", [dt.date(2026, 3, 9), "none"])
def test_a_person_without_an_open_appointment_is_not_examined(personas, end):
    someone = person(personas, personas.mine_a, "赵前矿长")
    if end != "none":
        appoint(personas, someone, "mine_manager", end=end)
    bank(personas)
    with pytest.raises(DomainError) as exc:
        services.draw_exam(personas.county_a, someone)
    assert exc.value.code == "no_appointment" and "no open appointment" in exc.value.message


def test_an_appointment_ending_today_is_still_open_and_one_starting_later_is_not(personas):
    leaving = person(personas, personas.mine_a, "离任", "mine_manager", end=TODAY)
    coming = person(personas, personas.mine_a, "候任", "chief_engineer", start=TODAY + dt.timedelta(days=1))
    bank(personas, 2)
    bank(personas, 2, "chief_engineer")
    assert services.draw_exam(personas.county_a, leaving).post == "mine_manager"
    with pytest.raises(DomainError):
        services.draw_exam(personas.county_a, coming)


def test_an_empty_bank_refuses_the_exam(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 3, "chief_engineer")
    for question in ExamQuestion.objects.filter(post="chief_engineer")[:1]:
        question.post = "mine_manager"
        question.save()
        services.set_question_active(personas.city, question, False)
    with pytest.raises(DomainError) as exc:
        services.draw_exam(personas.county_a, chief)
    assert exc.value.code == "empty_bank"


def test_a_holder_of_two_posts_is_examined_in_the_post_named(personas):
    someone = person(personas, personas.mine_a, "兼职", "deputy_safety")
    appoint(personas, someone, "safety_lead")
    bank(personas, 2, "deputy_safety")
    with pytest.raises(ValidationError) as exc:
        services.draw_exam(personas.county_a, someone)
    assert "post" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.draw_exam(personas.county_a, someone, "mine_manager")
    assert services.draw_exam(personas.county_a, someone, "deputy_safety").post == "deputy_safety"
    with pytest.raises(DomainError):  # no question for the safety lead yet
        services.draw_exam(personas.county_a, someone, "safety_lead")


def test_a_draw_is_used_once(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.county_a, chief)
    services.take_exam(personas.county_a, draw.token, answers_for(draw, wrong=5))
    before = state()
    with pytest.raises(DomainError) as exc:
        services.take_exam(personas.county_a, draw.token, answers_for(draw))
    assert exc.value.code == "draw_used"
    assert state() == before


def test_a_draw_belongs_to_its_examiner_and_cannot_be_forged(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.county_a, chief)
    with pytest.raises(PermissionDenied):
        services.take_exam(personas.city, draw.token, answers_for(draw))
    forged = re.sub(r"^.", lambda m: "e" if m.group(0) != "e" else "f", draw.token)
    with pytest.raises(ValidationError) as exc:
        services.take_exam(personas.county_a, forged, answers_for(draw))
    assert "token" in exc.value.message_dict
    assert not Exam.objects.exists()


def test_a_draw_expires(personas, monkeypatch):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.county_a, chief)
    freeze(monkeypatch, TODAY, hour=14)
    with pytest.raises(DomainError) as exc:
        services.take_exam(personas.county_a, draw.token, answers_for(draw))
    assert exc.value.code == "draw_expired"


@pytest.mark.parametrize("bad", ["not_drawn", "not_an_option", "not_an_id"])
def test_answers_outside_the_draw_are_refused(personas, bad):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    questions = bank(personas, 12)
    draw = services.draw_exam(personas.county_a, chief, rng=random.Random(3))
    answers = answers_for(draw)
    if bad == "not_drawn":
        answers[next(q.pk for q in questions if q not in draw.questions)] = "A"
    elif bad == "not_an_option":
        answers[draw.questions[0].pk] = "Z"
    else:
        answers["x"] = "A"
    with pytest.raises(ValidationError) as exc:
        services.take_exam(personas.county_a, draw.token, answers)
    assert "answers" in exc.value.message_dict
    assert not Exam.objects.exists()


def test_an_appointment_ended_after_the_draw_refuses_the_exam(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.county_a, chief)
    Appointment.objects.filter(person=chief).update(end_date=TODAY - dt.timedelta(days=1))
    with pytest.raises(DomainError):
        services.take_exam(personas.county_a, draw.token, answers_for(draw))


def test_a_failed_exam_notifies_the_enterprise_and_the_county(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.city, chief)
    exam = services.take_exam(personas.city, draw.token, answers_for(draw, wrong=6))
    assert not exam.passed
    notified = set(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == {"ent_a", "county_a"}
    note = Notification.objects.filter(recipient=personas.ent_a).get()
    assert "王矿长" in note.subject and "40.0" in note.subject and "blocks resumption" in note.body
    assert note.link == f"/personnel/exams/{exam.pk}/"


def test_a_passed_exam_notifies_no_one(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.city, chief)
    services.take_exam(personas.city, draw.token, answers_for(draw))
    assert not Notification.objects.exists()


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_exam_history_is_scoped(personas, persona):
    for name in MINES:
        someone = person(personas, getattr(personas, name), f"{name}-chief", "mine_manager")
        past_exam(personas, someone, "mine_manager", dt.date(2026, 1, 1), 90)
    seen = set(services.exam_history(getattr(personas, persona)).values_list("mine_id", flat=True))
    assert seen == {getattr(personas, n).pk for n in SCOPE[persona]}


# The resumption item ------------------------------------------------------------------------------
def test_the_resumption_checklist_uses_chiefs_examined(personas):
    assert COMPUTED_CHECKS["chiefs_examined"](personas.mine_a) == services.chiefs_examined(personas.mine_a)


def test_no_chief_examined_fails(personas):
    person(personas, personas.mine_a, "王矿长", "mine_manager")
    passed, reason = services.chiefs_examined(personas.mine_a)
    assert not passed and reason == "no five-post chief examined within 12 months"


def test_a_mine_without_chiefs_fails_the_same_way(personas):
    passed, reason = services.chiefs_examined(personas.mine_a)
    assert (passed, reason) == (False, "no five-post chief examined within 12 months")


def test_a_passed_chief_passes_with_evidence(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    engineer = person(personas, personas.mine_a, "刘总工", "chief_engineer")
    past_exam(personas, chief, "mine_manager", dt.date(2026, 1, 20), 90)
    passed, reason = services.chiefs_examined(personas.mine_a)
    assert passed
    assert "王矿长 (Mine manager): 90.0 (2026-01-20)" in reason and "not examined: 刘总工" in reason
    assert engineer.name not in reason.split("not examined")[0]


def test_a_current_chief_who_failed_blocks_resumption(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    deputy = person(personas, personas.mine_a, "孙副矿长", "deputy_production")
    past_exam(personas, chief, "mine_manager", dt.date(2026, 2, 1), 95)
    past_exam(personas, deputy, "deputy_production", dt.date(2026, 2, 2), 60)
    passed, reason = services.chiefs_examined(personas.mine_a)
    assert not passed
    assert "孙副矿长 (Deputy for production): 60.0 (2026-02-02)" in reason and "王矿长" not in reason


def test_a_later_pass_lifts_the_block(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    past_exam(personas, chief, "mine_manager", dt.date(2026, 1, 5), 50)
    assert not services.chiefs_examined(personas.mine_a)[0]
    past_exam(personas, chief, "mine_manager", dt.date(2026, 2, 5), 85)
    assert services.chiefs_examined(personas.mine_a)[0]


def test_a_failure_older_than_the_period_no_longer_blocks(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    engineer = person(personas, personas.mine_a, "刘总工", "chief_engineer")
    past_exam(personas, chief, "mine_manager", dt.date(2025, 3, 9), 40)  # 12 months and a day ago
    past_exam(personas, engineer, "chief_engineer", dt.date(2026, 1, 1), 88)
    assert services.chiefs_examined(personas.mine_a)[0]
    past_exam(personas, chief, "mine_manager", dt.date(2025, 3, 10), 40)  # exactly 12 months ago: inside
    assert not services.chiefs_examined(personas.mine_a)[0]


def test_only_current_five_post_holders_count(personas):
    staff = person(personas, personas.mine_a, "安全员", "safety_staff")
    former = person(personas, personas.mine_a, "前矿长", "mine_manager", end=dt.date(2026, 1, 31))
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager", start=dt.date(2026, 2, 1))
    past_exam(personas, staff, "safety_staff", dt.date(2026, 2, 1), 10)
    past_exam(personas, former, "mine_manager", dt.date(2026, 1, 10), 20)
    assert not services.chiefs_examined(personas.mine_a)[0]  # no current chief passed
    past_exam(personas, chief, "mine_manager", dt.date(2026, 2, 20), 100)
    assert services.chiefs_examined(personas.mine_a) == (
        True, "passed within 12 months: 王矿长 (Mine manager): 100.0 (2026-02-20)")


def test_an_exam_taken_through_the_platform_blocks_and_clears(personas):
    chief = person(personas, personas.mine_a2, "李矿长", "mine_manager")
    bank(personas)
    draw = services.draw_exam(personas.inspector, chief)
    services.take_exam(personas.inspector, draw.token, answers_for(draw, wrong=5))
    passed, reason = services.chiefs_examined(personas.mine_a2)
    assert not passed and "李矿长" in reason and "50.0" in reason
    draw = services.draw_exam(personas.inspector, chief)
    services.take_exam(personas.inspector, draw.token, answers_for(draw))
    assert services.chiefs_examined(personas.mine_a2)[0]


# Contractors -------------------------------------------------------------------------------------
def test_an_outsourced_project_is_recorded(personas):
    recorded = fresh(project(personas))
    assert (recorded.contractor, recorded.underground, recorded.end_date) == ("承德某建设工程有限公司", True, None)
    assert events(recorded, AuditEvent.Action.CREATE).get().after["contractor_credit_code"] == credit()
    assert services.project_flags(recorded) == []


def test_an_expired_qualification_is_refused(personas):
    with pytest.raises(ValidationError) as exc:
        project(personas, qualification_expires_on=TODAY - dt.timedelta(days=1))
    assert exc.value.message_dict["qualification_expires_on"] == ["qualification expired on 2026-03-09"]
    assert project(personas, qualification_expires_on=TODAY).pk


def test_labour_dispatch_underground_is_refused_but_not_on_the_surface(personas):
    with pytest.raises(ValidationError) as exc:
        project(personas, labour_dispatch=True)
    assert "prohibited" in exc.value.message_dict["labour_dispatch"][0]
    assert project(personas, labour_dispatch=True, underground=False).labour_dispatch


def test_an_underground_mine_may_not_outsource_blasting_but_an_open_pit_may(personas):
    with pytest.raises(ValidationError) as exc:
        project(personas, blasting=True, underground=False)
    assert "blasting" in exc.value.message_dict
    assert project(personas, personas.ent_b, personas.mine_b, blasting=True, underground=False).blasting


@pytest.mark.parametrize(("overrides", "field"), [
    ({"contractor_credit_code": "91130827MA0000F7K0"}, "contractor_credit_code"),
    ({"contractor_credit_code": "123"}, "contractor_credit_code"), ({"contractor": ""}, "contractor"),
    ({"qualification": " "}, "qualification"), ({"scope": ""}, "scope"),
    ({"qualification_expires_on": None}, "qualification_expires_on"), ({"start_date": None}, "start_date"),
    ({"end_date": dt.date(2025, 12, 31)}, "end_date"),
])
def test_bad_project_input_is_refused(personas, overrides, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        project(personas, **overrides)
    assert field in exc.value.message_dict
    assert state() == before


def test_the_credit_code_is_taken_in_upper_case(personas):
    assert project(personas, contractor_credit_code=credit().lower()).contractor_credit_code == credit()


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_a_project(personas, persona):
    with pytest.raises(PermissionDenied):
        project(personas, getattr(personas, persona))
    assert not OutsourcedProject.objects.exists()


def test_a_project_ends_once_and_a_lapsed_qualification_is_flagged(personas, monkeypatch):
    running = project(personas, qualification_expires_on=dt.date(2026, 6, 30))
    freeze(monkeypatch, dt.date(2026, 7, 1))
    assert services.project_flags(running) == ["qualification expired on 2026-06-30"]
    with pytest.raises(ValidationError):
        services.end_project(personas.ent_a, running, end_date=dt.date(2025, 12, 1))
    with pytest.raises(PermissionDenied):
        services.end_project(personas.ent_b, running, end_date=dt.date(2026, 6, 30))
    services.end_project(personas.county_a, running, end_date=dt.date(2026, 6, 30))
    assert fresh(running).end_date == dt.date(2026, 6, 30) and services.project_flags(fresh(running)) == []
    assert events(running, AuditEvent.Action.UPDATE).get().after == {"end_date": "2026-06-30"}
    with pytest.raises(DomainError):
        services.end_project(personas.county_a, running, end_date=dt.date(2026, 7, 1))


# Mining teams and the own-team share -------------------------------------------------------------
def test_the_mining_team_is_stated_and_replaced(personas):
    team = services.set_mining_team(personas.ent_a, personas.mine_a, mode=M.CONTRACTED, since=dt.date(2024, 1, 1))
    assert events(team, AuditEvent.Action.CREATE).exists()
    again = services.set_mining_team(personas.county_a, personas.mine_a, mode=M.WHOLE_ENTRUSTMENT,
                                     firm="河北某矿山管理有限公司", since=dt.date(2025, 3, 1), evidence="托管合同")
    assert again.pk == team.pk and MiningTeam.objects.count() == 1
    assert (fresh(team).mode, fresh(team).firm, fresh(team).updated_by) == (
        M.WHOLE_ENTRUSTMENT, "河北某矿山管理有限公司", personas.county_a)
    change = events(team, AuditEvent.Action.UPDATE).get()
    assert change.before["mode"] == M.CONTRACTED and change.after["mode"] == M.WHOLE_ENTRUSTMENT


@pytest.mark.parametrize(("overrides", "field"), [
    ({"mode": M.WHOLE_ENTRUSTMENT, "firm": " "}, "firm"), ({"mode": "lease"}, "mode"),
    ({"since": TODAY + dt.timedelta(days=1)}, "since"), ({"since": None}, "since"),
])
def test_bad_team_statements_are_refused(personas, overrides, field):
    data = {"mode": M.OWN_TEAM, "since": dt.date(2024, 1, 1), **overrides}
    with pytest.raises(ValidationError) as exc:
        services.set_mining_team(personas.ent_a, personas.mine_a, **data)
    assert field in exc.value.message_dict
    assert not MiningTeam.objects.exists()


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_states_the_team(personas, persona):
    with pytest.raises(PermissionDenied):
        services.set_mining_team(getattr(personas, persona), personas.mine_a, mode=M.OWN_TEAM,
                                 since=dt.date(2024, 1, 1))


@pytest.fixture
def teams(personas):
    services.set_mining_team(personas.city, personas.mine_a, mode=M.OWN_TEAM, since=dt.date(2024, 6, 1))
    services.set_mining_team(personas.city, personas.mine_a2, mode=M.CONTRACTED, since=dt.date(2024, 1, 1))
    services.set_mining_team(personas.city, personas.mine_b, mode=M.WHOLE_ENTRUSTMENT, firm="托管公司",
                             since=dt.date(2025, 6, 1))
    services.set_mining_team(personas.city, personas.pond_a, mode=M.NONE, since=dt.date(2024, 1, 1))
    return personas


def test_the_share_against_the_first_target(teams):
    report = services.own_team_share(teams.city, dt.date(2025, 1, 10))
    assert (report.target_date, report.target, report.next_target_date, report.next_target) == (
        dt.date(2024, 12, 31), 0.5, dt.date(2025, 12, 31), 1.0)
    rows = {r.county_code: r for r in report.counties}
    county_a, county_b = rows[teams.county_a_region.code], rows[teams.county_b_region.code]
    assert (county_a.producing, county_a.qualifying, county_a.share, county_a.meets) == (2, 1, 0.5, True)
    assert [g.mine.pk for g in county_a.holding_back] == [teams.mine_a2.pk]
    assert county_a.holding_back[0].mode == M.CONTRACTED
    # The whole-mine management of mine_b began after the date asked about.
    assert (county_b.producing, county_b.qualifying, county_b.share, county_b.meets) == (1, 0, 0.0, False)
    assert (report.total.producing, report.total.qualifying, report.total.meets) == (3, 1, False)


def test_the_share_against_the_final_target(teams):
    report = services.own_team_share(teams.city)
    assert (report.on_date, report.target, report.next_target) == (TODAY, 1.0, None)
    rows = {r.county_code: r for r in report.counties}
    assert rows[teams.county_a_region.code].meets is False
    assert rows[teams.county_b_region.code].meets is True and rows[teams.county_b_region.code].share == 1.0
    assert [g.mine.pk for g in report.total.holding_back] == [teams.mine_a2.pk]


def test_before_the_first_deadline_no_target_is_in_force(teams):
    report = services.own_team_share(teams.city, dt.date(2024, 12, 30))
    assert (report.target, report.next_target_date) == (None, dt.date(2024, 12, 31))
    assert all(r.meets is None for r in report.counties)


def test_only_producing_mining_mines_count_and_a_mine_without_statement_holds_back(personas):
    Mine.objects.filter(pk=personas.mine_a2.pk).update(status=Mine.Status.SUSPENDED)
    report = services.own_team_share(personas.county_a)
    assert [r.county_code for r in report.counties] == [personas.county_a_region.code]
    row = report.counties[0]
    assert (row.producing, row.qualifying, row.share, row.meets) == (1, 0, 0.0, False)
    gap = row.holding_back[0]
    assert (gap.mine.pk, gap.mode, gap.mode_label) == (personas.mine_a.pk, "", "no statement")


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_the_share_is_scoped(teams, persona):
    report = services.own_team_share(getattr(teams, persona))
    mining = {n for n in SCOPE[persona] if n != "pond_a"}
    assert report.total.producing == len(mining)


# Pages -------------------------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """Every fixture mine gets a drill, a plan, a chief with an exam, a project and a mining team."""
    for name in MINES:
        mine = getattr(personas, name)
        drill(personas, personas.city, mine, held_on=dt.date(2025, 1, 1))
        plan(personas, personas.city, mine)
        chief = person(personas, mine, f"{name}-chief", "mine_manager")
        past_exam(personas, chief, "mine_manager", dt.date(2026, 1, 1), 90)
        project(personas, personas.city, mine, underground=False)
        services.set_mining_team(personas.city, mine, mode=M.OWN_TEAM, since=dt.date(2024, 1, 1))
    return personas


def shown_mines(html: str, attribute: str = "data-mine") -> set[int]:
    return {int(pk) for pk in re.findall(rf'{attribute}="(\d+)"', html)}


def expected(personas, persona) -> set[int]:
    return {getattr(personas, n).pk for n in SCOPE[persona]}


LIST_PAGES = ["/personnel/drills/", "/personnel/plans/", "/personnel/exams/", "/personnel/contractors/"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_pages_show_exactly_the_personas_mines(client, world, persona):
    browser = web_client(client, world, persona)
    for path in LIST_PAGES:
        response = browser.get(path)
        if persona == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
            continue
        assert response.status_code == 200, path
        assert shown_mines(response.content.decode()) == expected(world, persona), path


@pytest.mark.parametrize("persona", PERSONAS)
def test_mine_pages_are_404_outside_scope(client, world, persona):
    browser = web_client(client, world, persona)
    for name in MINES:
        mine = getattr(world, name)
        for part in ("drills", "plans", "exams", "contractors"):
            response = browser.get(f"/personnel/mines/{mine.pk}/{part}/")
            if persona == "anonymous":
                assert response.status_code == 302
            else:
                assert response.status_code == (200 if name in SCOPE[persona] else 404), (name, part)


@pytest.mark.parametrize("persona", PERSONAS)
def test_exam_and_person_pages_are_404_outside_scope(client, world, persona):
    browser = web_client(client, world, persona)
    for exam in Exam.objects.select_related("mine"):
        name = next(n for n in MINES if getattr(world, n).pk == exam.mine_id)
        for path in (f"/personnel/exams/{exam.pk}/", f"/personnel/exams/person/{exam.person_id}/"):
            response = browser.get(path)
            if persona == "anonymous":
                assert response.status_code == 302
            else:
                assert response.status_code == (200 if name in SCOPE[persona] else 404), path


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_share_page_shows_the_personas_counties_and_target(client, world, persona):
    Mine.objects.filter(pk=world.mine_a2.pk).update(status=Mine.Status.PRODUCING)
    MiningTeam.objects.filter(mine=world.mine_a2).update(mode=M.CONTRACTED)
    response = web_client(client, world, persona).get("/personnel/teams/?on=2025-01-10")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    html = response.content.decode()
    counties = set(re.findall(r'data-county="(\d+)"', html))
    assert counties == {getattr(world, n).county.code for n in SCOPE[persona] if n != "pond_a"}
    assert (f'data-gap="{world.mine_a2.pk}"' in html) == ("mine_a2" in SCOPE[persona])
    assert response.context["report"].target == 0.5


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_regulators_open_the_question_bank(client, world, persona):
    question = bank(world, 1)[0]
    browser = web_client(client, world, persona)
    for path in ("/personnel/exam-questions/", f"/personnel/exam-questions/{question.pk}/"):
        response = browser.get(path)
        if persona == "anonymous":
            assert response.status_code == 302
        else:
            assert response.status_code == (200 if persona in ("city", "county_a", "county_b") else 403)


def test_the_bank_page_adds_edits_and_deactivates_questions(client, personas):
    browser = web_client(client, personas, "county_a")
    response = browser.post("/personnel/exam-questions/", {
        "action": "add", "add-post": "mine_manager", "add-text": "井下作业人员入井前须?",
        "add-options": "A. 登记\nB、不登记\n", "add-answer": "A"})
    assert response.status_code == 302
    question = ExamQuestion.objects.get()
    assert (question.post, question.options, question.answer) == (
        "mine_manager", [{"key": "A", "text": "登记"}, {"key": "B", "text": "不登记"}], "A")
    response = browser.post(f"/personnel/exam-questions/{question.pk}/", {
        "action": "edit", "edit-post": "", "edit-text": "入井前须?", "edit-options": "A. 登记\nB. 不登记",
        "edit-answer": "C"})
    assert response.status_code == 200 and fresh(question).answer == "A"  # refused on the form
    assert response.context["form"].errors["answer"]  # refused on the answer field
    browser.post(f"/personnel/exam-questions/{question.pk}/", {"action": "toggle"})
    assert not fresh(question).active
    ent = web_client(client.__class__(), personas, "ent_a")
    assert ent.post("/personnel/exam-questions/", {"action": "add"}).status_code == 403


def test_the_exam_page_draws_scores_and_shows_the_result(client, personas):
    chief = person(personas, personas.mine_a2, "李矿长", "mine_manager")
    bank(personas, 4)
    browser = web_client(client, personas, "inspector")
    page = browser.get(f"/personnel/exams/take/{chief.pk}/")
    assert page.status_code == 200
    form = page.context["form"]
    assert len(form.questions) == 4
    data = {"token": form.initial["token"], "inspection_ref": "检-9"}
    for index, question in enumerate(form.questions):
        data[f"q{question.pk}"] = question.answer if index else "C"
    response = browser.post(f"/personnel/exams/take/{chief.pk}/", data)
    exam = Exam.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/personnel/exams/{exam.pk}/"
    assert (exam.score, exam.passed, exam.inspection_ref, exam.examiner) == (75, False, "检-9", personas.inspector)
    detail = browser.get(response["Location"]).content.decode()
    assert 'id="answer-table"' in detail and "75.0" in detail
    again = browser.post(f"/personnel/exams/take/{chief.pk}/", data)  # the same draw again
    assert again.status_code == 200 and Exam.objects.count() == 1 and again.context["refusal"]


def test_the_exam_page_refuses_with_a_reason(client, personas):
    nobody = person(personas, personas.mine_a2, "无职")
    chief = person(personas, personas.mine_a2, "李矿长", "mine_manager")
    browser = web_client(client, personas, "inspector")
    empty = browser.get(f"/personnel/exams/take/{chief.pk}/")
    assert empty.status_code == 200 and empty.context["form"] is None and empty.context["refusal"]
    bank(personas, 2)
    unappointed = browser.get(f"/personnel/exams/take/{nobody.pk}/")
    assert unappointed.context["refusal"] and unappointed.context["form"] is None
    other = person(personas, personas.mine_a, "王矿长", "mine_manager")
    assert browser.get(f"/personnel/exams/take/{other.pk}/").status_code == 404  # not the inspector's mine
    department = web_client(client.__class__(), personas, "department")
    assert department.get(f"/personnel/exams/take/{chief.pk}/").status_code == 403


def test_the_answers_are_shown_to_examiners_only(client, personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 2)
    draw = services.draw_exam(personas.county_a, chief)
    exam = services.take_exam(personas.county_a, draw.token, answers_for(draw))
    for persona, shown in [("county_a", True), ("city", True), ("ent_a", False), ("department", False)]:
        html = web_client(client.__class__(), personas, persona).get(f"/personnel/exams/{exam.pk}/").content.decode()
        assert ('id="answer-table"' in html) == shown, persona
        assert ("题 0" in html) == shown, persona


def test_the_mine_exam_page_shows_holders_and_the_resumption_item(client, personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    past_exam(personas, chief, "mine_manager", dt.date(2026, 2, 1), 55)
    response = web_client(client, personas, "county_a").get(f"/personnel/mines/{personas.mine_a.pk}/exams/")
    html = response.content.decode()
    assert f'data-person="{chief.pk}"' in html and f"/personnel/exams/take/{chief.pk}/" in html
    assert not response.context["passed"] and "55.0" in response.context["reason"]
    ent = web_client(client.__class__(), personas, "ent_a").get(f"/personnel/mines/{personas.mine_a.pk}/exams/")
    assert f"/personnel/exams/take/{chief.pk}/" not in ent.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_mine_page_forms_post_only_for_recorders(client, personas, persona):
    browser = web_client(client, personas, persona)
    response = browser.post(f"/personnel/mines/{personas.mine_a.pk}/drills/", {
        "action": "drill", "drill-kind": K.EVACUATION, "drill-held_on": "2026-02-01", "drill-scenario": "火灾撤离",
        "drill-participants": "40", "drill-evidence": "记录"})
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif "mine_a" not in SCOPE[persona]:
        assert response.status_code == 404
    elif persona in RECORDERS_OF_MINE_A:
        assert response.status_code == 302 and Drill.objects.get().created_by == getattr(personas, persona)
        return
    else:
        assert response.status_code == 403
    assert not Drill.objects.exists()


def test_the_plan_and_contractor_forms_show_refusals(client, personas):
    browser = web_client(client, personas, "ent_a")
    response = browser.post(f"/personnel/mines/{personas.mine_a.pk}/plans/", {
        "action": "plan", "plan-title": "预案", "plan-version": "1", "plan-revised_on": "2025-06-01",
        "plan-next_revision_due": "2025-05-01"})
    assert response.status_code == 200 and not EmergencyPlan.objects.exists()
    assert response.context["form"].errors["next_revision_due"]
    response = browser.post(f"/personnel/mines/{personas.mine_a.pk}/contractors/", {
        "action": "project", "project-contractor": "某公司", "project-contractor_credit_code": credit(),
        "project-qualification": "二级", "project-qualification_expires_on": "2027-01-01",
        "project-scope": "掘进", "project-underground": "on", "project-labour_dispatch": "on",
        "project-start_date": "2026-01-01"})
    assert response.status_code == 200 and not OutsourcedProject.objects.exists()
    assert response.context["project_form"].errors["labour_dispatch"]
    response = browser.post(f"/personnel/mines/{personas.mine_a.pk}/contractors/", {
        "action": "team", "team-mode": M.OWN_TEAM, "team-since": "2025-01-01"})
    assert response.status_code == 302 and MiningTeam.objects.get().mode == M.OWN_TEAM


# API ---------------------------------------------------------------------------------------------
API_LISTS = ["drills", "emergency-plans", "exams", "outsourced-projects", "mining-teams"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_lists_and_details_are_scoped(world, persona):
    api = api_client(world, persona)
    for endpoint in API_LISTS:
        response = api.get(f"/api/v1/{endpoint}/?limit=500")
        if persona == "anonymous":
            assert response.status_code == 403
            continue
        rows = response.json()["results"]
        assert {row["mine"] for row in rows} == expected(world, persona), endpoint
    if persona == "anonymous":
        return
    for model, endpoint in [(Drill, "drills"), (EmergencyPlan, "emergency-plans"), (Exam, "exams"),
                            (OutsourcedProject, "outsourced-projects"), (MiningTeam, "mining-teams")]:
        for obj in model.objects.all():
            code = 200 if obj.mine_id in expected(world, persona) else 404
            assert api.get(f"/api/v1/{endpoint}/{obj.pk}/").status_code == code, endpoint


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_summaries_are_scoped(world, persona):
    api = api_client(world, persona)
    overdue = api.get("/api/v1/drills/overdue/")
    share = api.get("/api/v1/mining-teams/share/?on=2025-06-01")
    plans = api.get("/api/v1/emergency-plans/overview/")
    if persona == "anonymous":
        assert {overdue.status_code, share.status_code, plans.status_code} == {403}
        return
    assert {s["mine"] for r in overdue.json() for s in r["overdue"]} == expected(world, persona)
    assert share.json()["total"]["producing"] == len([n for n in SCOPE[persona] if n != "pond_a"])
    assert share.json()["target"] == 0.5 and share.json()["next_target"] == 1.0
    assert {r["mine"] for r in plans.json()} == expected(world, persona)
    for name in MINES:
        mine = getattr(world, name)
        code = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/drills/status/?mine={mine.pk}").status_code == code
        assert api.get(f"/api/v1/exams/check/?mine={mine.pk}").status_code == code


def test_api_records_through_the_services_and_refuses_mines_out_of_scope(personas):
    api = api_client(personas, "ent_a")
    body = {"mine": personas.mine_a.pk, "kind": "evacuation", "held_on": "2026-02-01", "scenario": "透水",
            "participants": 30, "evidence": "记录"}
    created = api.post("/api/v1/drills/", body, format="json")
    assert created.status_code == 201 and events(Drill.objects.get(), AuditEvent.Action.CREATE).exists()
    status = api.get(f"/api/v1/drills/status/?mine={personas.mine_a.pk}").json()
    assert (status["last_drill"], status["due_on"], status["overdue"]) == ("2026-02-01", "2026-08-01", False)
    out = api.post("/api/v1/drills/", {**body, "mine": personas.mine_b.pk}, format="json")
    assert out.status_code == 400 and "mine" in out.json()
    future = api.post("/api/v1/drills/", {**body, "held_on": "2026-04-01"}, format="json")
    assert future.status_code == 400 and "held_on" in future.json()
    bad_plan = api.post("/api/v1/emergency-plans/", {"mine": personas.mine_a.pk, "title": "预案", "version": "1",
                                                      "revised_on": "2025-06-01", "next_revision_due": "2025-06-01"},
                        format="json")
    assert bad_plan.status_code == 400 and "next_revision_due" in bad_plan.json()
    blasting = api.post("/api/v1/outsourced-projects/", {
        "mine": personas.mine_a.pk, "contractor": "某公司", "contractor_credit_code": credit(),
        "qualification": "二级", "qualification_expires_on": "2027-01-01", "scope": "爆破", "blasting": True,
        "start_date": "2026-01-01"}, format="json")
    assert blasting.status_code == 400 and "blasting" in blasting.json()
    team = api.post("/api/v1/mining-teams/", {"mine": personas.mine_a.pk, "mode": "whole_entrustment",
                                              "firm": "托管公司", "since": "2025-01-01"}, format="json")
    assert team.status_code == 201 and team.json()["mode"] == "whole_entrustment"
    again = api.post("/api/v1/mining-teams/", {"mine": personas.mine_a.pk, "mode": "own_team",
                                               "since": "2025-02-01"}, format="json")
    assert again.status_code == 201 and MiningTeam.objects.get().mode == "own_team"
    department = api_client(personas, "department")
    assert department.post("/api/v1/drills/", body, format="json").status_code == 403
    assert Drill.objects.count() == 1


def test_api_ends_a_project(personas):
    running = project(personas)
    api = api_client(personas, "county_a")
    response = api.post(f"/api/v1/outsourced-projects/{running.pk}/end/", {"end_date": "2026-03-01"}, format="json")
    assert response.status_code == 200 and response.json()["end_date"] == "2026-03-01"
    assert api_client(personas, "county_b").post(f"/api/v1/outsourced-projects/{running.pk}/end/", {
        "end_date": "2026-03-01"}, format="json").status_code == 404


def test_api_exam_draw_and_take(personas):
    chief = person(personas, personas.mine_a2, "李矿长", "mine_manager")
    bank(personas, 12)
    api = api_client(personas, "inspector")
    drawn = api.post("/api/v1/exams/draw/", {"person": chief.pk}, format="json")
    assert drawn.status_code == 201
    body = drawn.json()
    assert body["post"] == "mine_manager" and len(body["questions"]) == 10
    assert all("answer" not in q for q in body["questions"])
    right = {q.pk: q.answer for q in ExamQuestion.objects.all()}
    answers = [{"question": q["id"], "given": right[q["id"]]} for q in body["questions"]]
    taken = api.post("/api/v1/exams/", {"token": body["token"], "answers": answers, "inspection_ref": "检-1"},
                     format="json")
    assert taken.status_code == 201
    result = taken.json()
    assert (result["score"], result["passed"], result["person_name"]) == ("100.0", True, "李矿长")
    assert len(result["answers"]) == 10
    used = api.post("/api/v1/exams/", {"token": body["token"], "answers": answers}, format="json")
    assert used.status_code == 409 and used.json()["code"] == "draw_used"
    twice = api.post("/api/v1/exams/", {"token": body["token"], "answers": answers + answers[:1]}, format="json")
    assert twice.status_code == 400
    check = api.get(f"/api/v1/exams/check/?mine={personas.mine_a2.pk}").json()
    assert check["passed"] and "李矿长" in check["reason"]


def test_api_exam_refusals(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    nobody = person(personas, personas.mine_a, "无职")
    county = api_client(personas, "county_a")
    empty = county.post("/api/v1/exams/draw/", {"person": chief.pk}, format="json")
    assert empty.status_code == 409 and empty.json()["code"] == "empty_bank"
    bank(personas, 3)
    unappointed = county.post("/api/v1/exams/draw/", {"person": nobody.pk}, format="json")
    assert unappointed.status_code == 409 and unappointed.json()["code"] == "no_appointment"
    # The inspector is not assigned to mine_a: its people do not exist for them.
    inspector = api_client(personas, "inspector").post("/api/v1/exams/draw/", {"person": chief.pk}, format="json")
    assert inspector.status_code == 400 and "person" in inspector.json()
    # The department sees the person but does not examine.
    department = api_client(personas, "department").post("/api/v1/exams/draw/", {"person": chief.pk}, format="json")
    assert department.status_code == 403
    assert not Exam.objects.exists()


def test_api_exam_answers_are_hidden_from_the_examined(personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 2)
    draw = services.draw_exam(personas.county_a, chief)
    exam = services.take_exam(personas.county_a, draw.token, answers_for(draw))
    for persona, shown in [("county_a", True), ("city", True), ("ent_a", False), ("department", False)]:
        body = api_client(personas, persona).get(f"/api/v1/exams/{exam.pk}/").json()
        assert (body["answers"] is not None) == shown, persona
        assert body["score"] == "100.0"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_question_bank_is_for_regulators(personas, persona):
    question = bank(personas, 1)[0]
    api = api_client(personas, persona)
    listed = api.get("/api/v1/exam-questions/")
    created = api.post("/api/v1/exam-questions/", {"post": "", "text": "题", "answer": "A", "options": [
        {"key": "A", "text": "a"}, {"key": "B", "text": "b"}]}, format="json")
    patched = api.patch(f"/api/v1/exam-questions/{question.pk}/", {"answer": "B"}, format="json")
    off = api.post(f"/api/v1/exam-questions/{question.pk}/active/", {"active": False}, format="json")
    if persona in ("city", "county_a", "county_b"):
        assert listed.status_code == 200 and listed.json()["count"] == 1
        assert created.status_code == 201 and ExamQuestion.objects.count() == 2
        assert patched.status_code == 200 and fresh(question).answer == "B"
        assert off.status_code == 200 and not fresh(question).active
        wrong = api.patch(f"/api/v1/exam-questions/{question.pk}/", {"answer": "Z"}, format="json")
        assert wrong.status_code == 400 and "answer" in wrong.json()
    else:
        assert {listed.status_code, created.status_code, patched.status_code, off.status_code} == {403}
        assert ExamQuestion.objects.count() == 1 and fresh(question).active and fresh(question).answer == "A"


# Privacy -----------------------------------------------------------------------------------------
def test_exams_never_carry_id_or_phone_numbers(client, personas):
    chief = person(personas, personas.mine_a, "王矿长", "mine_manager")
    bank(personas, 2)
    draw = services.draw_exam(personas.county_a, chief)
    exam = services.take_exam(personas.county_a, draw.token, answers_for(draw, wrong=2))
    secrets = (chief.id_number, chief.phone)
    trail = str(list(AuditEvent.objects.values_list("before", "after")))
    assert not any(s in trail for s in secrets)
    assert not any(s in n.subject + n.body for n in Notification.objects.all() for s in secrets)
    for persona in ("city", "county_a", "ent_a", "department"):
        api = api_client(personas, persona)
        for path in (f"/api/v1/exams/{exam.pk}/", "/api/v1/exams/", f"/api/v1/exams/check/?mine={personas.mine_a.pk}"):
            assert not any(s in api.get(path).content.decode() for s in secrets), (persona, path)
        browser = web_client(client.__class__(), personas, persona)
        for path in (f"/personnel/exams/{exam.pk}/", f"/personnel/exams/person/{chief.pk}/",
                     f"/personnel/mines/{personas.mine_a.pk}/exams/"):
            assert not any(s in browser.get(path).content.decode() for s in secrets), (persona, path)
