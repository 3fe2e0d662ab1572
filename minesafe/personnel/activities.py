"""Drills and emergency plans, exams at inspection (逢查必考), contractors and own mining teams.

Plan tasks 3, 4, 21 and 22 (issue 7, items 5-7):
- Every mine runs an evacuation and escape drill at least every `drills.every_months` months; a mine that
  never drilled owes its first drill that long after its registration. Emergency plans carry their next
  revision date; a plan past it is overdue.
- The city and the counties keep a question bank per post. An inspector assigned to the mine (or the mine's
  county, or the city) examines a current key-post holder during an inspection: the platform draws the
  questions (a signed draw, so the examiner cannot pick them and a draw is used once), scores the answers,
  and stores the exam with the questions as they were asked. `chiefs_examined` judges the resumption
  checklist item: a current five-post chief who failed blocks resumption.
- Outsourced projects with the contractor's qualification; the plan prohibits labour dispatch underground
  and separately outsourced blasting in underground mines. Each mine states how its mining work is staffed;
  `own_team_share` measures producing mines against the plan's dated targets.

Every change checks permission, validates (bad input changes nothing), writes and audits in one transaction.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back
from minesafe.core.scoping import is_city
from minesafe.core.validators import credit_code_error
from minesafe.registry.models import Mine, MineAssignment
from minesafe.registry.services import add_months, can_manage_mine

from . import common
from .models import Appointment, Drill, EmergencyPlan, Exam, ExamQuestion, MiningTeam, OutsourcedProject, Person

R = User.Role
S = Mine.Status
ACTIVE_STATUSES = (S.PRODUCING, S.CONSTRUCTION)  # mines that must drill and keep their plans current
# The own-team target concerns mining work: tailings ponds and processing plants have no mining teams.
MINING_TYPES = (Mine.Type.UNDERGROUND, Mine.Type.OPEN_PIT, Mine.Type.QUARRY)
QUALIFYING_MODES = (MiningTeam.Mode.OWN_TEAM, MiningTeam.Mode.WHOLE_ENTRUSTMENT)
DRAW_SALT = "minesafe.personnel.exam-draw"
DRAW_MAX_AGE = 4 * 3600  # seconds: questions are drawn and answered during one inspection visit
HUNDRED = Decimal(100)


# Shared helpers ----------------------------------------------------------------------------------
def _text(errors: dict, field: str, value, message: str, model=None, required: bool = True) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    max_length = model._meta.get_field(field).max_length if model is not None else None
    if required and not value:
        errors[field] = message
    elif max_length and len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _past_date(errors: dict, field: str, day, today: dt.date, required: str) -> None:
    if not isinstance(day, dt.date):
        errors[field] = required
    elif day > today:
        errors[field] = _("cannot be in the future")


def _require_open_mine(mine: Mine) -> None:
    if mine.status == S.CLOSED:
        raise DomainError(_("the mine is closed"), field="mine", code="closed")


def county_organisations(mine: Mine) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))


def post_label(code: str) -> str:
    post = common.posts().get(code)
    return common.label(post) if post else code


def _one_decimal(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# Permissions -------------------------------------------------------------------------------------
def may_record(user: User, mine: Mine) -> bool:
    """Drills, plans, contractors and the mining team: the mine's enterprise, its county, the city."""
    return bool(user and user.is_authenticated) and common.may_write(user, mine)


def require_record(user: User, mine: Mine) -> None:
    if not may_record(user, mine):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may record this"))


def may_edit_bank(user: User) -> bool:
    """The question bank is kept by the city and the counties."""
    return bool(user and user.is_authenticated) and (is_city(user) or (
        user.role == R.COUNTY and bool(user.organisation_id)))


def require_bank_editor(user: User) -> None:
    if not may_edit_bank(user):
        raise PermissionDenied(_("only the city or a county may keep the question bank"))


def may_examine(user: User, mine: Mine) -> bool:
    """An inspector assigned to the mine, the mine's county, or the city."""
    if not (user and user.is_authenticated):
        return False
    if can_manage_mine(user, mine):
        return True
    return user.role == R.INSPECTOR and MineAssignment.objects.filter(user=user, mine=mine).exists()


def require_examiner(user: User, mine: Mine) -> None:
    if not may_examine(user, mine):
        raise PermissionDenied(_("only an inspector assigned to the mine, its county or the city may examine "
                                 "its people"))


def may_see_answers(user: User, mine: Mine) -> bool:
    """The questions and right answers of an exam: the examiners only (the enterprise and departments see the
    score, so the bank does not leak to those examined)."""
    return may_examine(user, mine)


# Drills ------------------------------------------------------------------------------------------
def drill_interval_months() -> int:
    return int(common.catalogue()["drills"]["every_months"])


def record_drill(actor: User, mine: Mine, *, kind: str, held_on: dt.date, scenario: str, participants: int,
                 evidence: str) -> Drill:
    """Record a drill held at the mine (the mine's enterprise, its county or the city)."""
    require_record(actor, mine)
    _require_open_mine(mine)
    errors: dict[str, str] = {}
    if kind not in Drill.Kind.values:
        errors["kind"] = _("unknown kind of drill")
    _past_date(errors, "held_on", held_on, timezone.localdate(), _("give the date the drill was held"))
    scenario = _text(errors, "scenario", scenario, _("describe the drill's scenario"), Drill)
    evidence = _text(errors, "evidence", evidence, _("give the evidence: the record, photos, the evaluation"))
    if isinstance(participants, bool) or not isinstance(participants, int) or participants <= 0:
        errors["participants"] = _("at least one participant")
    elif participants > 100000:
        errors["participants"] = _("not a plausible number of participants")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        drill = Drill.objects.create(mine=mine, kind=kind, held_on=held_on, scenario=scenario,
                                     participants=participants, evidence=evidence, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, drill, after=common.snapshot(drill))
    return drill


@dataclass(frozen=True)
class DrillStatus:
    """A mine's evacuation-drill standing on a day: the last drill, when the next is due, and lateness."""

    mine: Mine
    last_drill: dt.date | None
    due_on: dt.date | None
    overdue: bool
    days_overdue: int


def _registration_day(mine: Mine, first_change: dt.date | None) -> dt.date | None:
    if first_change:
        return first_change
    return timezone.localdate(mine.created_at) if mine.created_at else None


def drill_statuses(mines, today: dt.date | None = None) -> list[DrillStatus]:
    """DrillStatus of each mine of a queryset, in two aggregate columns (no query per mine)."""
    today = today or timezone.localdate()
    months = drill_interval_months()
    rows = mines.annotate(
        last_evacuation=Max("drills__held_on", filter=Q(drills__kind=Drill.Kind.EVACUATION,
                                                        drills__held_on__lte=today)),
        first_change=Min("status_changes__effective_date")).select_related("county")
    out = []
    for mine in rows:
        base = mine.last_evacuation or _registration_day(mine, mine.first_change)
        due = add_months(base, months) if base else None
        overdue = bool(due and due < today)
        out.append(DrillStatus(mine=mine, last_drill=mine.last_evacuation, due_on=due, overdue=overdue,
                               days_overdue=(today - due).days if overdue else 0))
    return out


def drill_status(mine: Mine, today: dt.date | None = None) -> DrillStatus:
    """The mine's last evacuation drill and when the next one is due (last + drills.every_months; a mine that
    never drilled: its registration + drills.every_months)."""
    return drill_statuses(Mine.objects.filter(pk=mine.pk), today)[0]


@dataclass(frozen=True)
class CountyDrills:
    county_code: str
    county_name: str
    mines: int  # producing and construction mines of the county in the reader's scope
    overdue: tuple[DrillStatus, ...]


def active_mines(user):
    return Mine.objects.visible_to(user).filter(status__in=ACTIVE_STATUSES)


def overdue_drills(user: User, today: dt.date | None = None) -> list[CountyDrills]:
    """Per county in the reader's scope: its producing and construction mines (every type) and those whose
    evacuation drill is overdue, latest first."""
    counties: dict[str, dict] = {}
    for status in drill_statuses(active_mines(user).order_by("county__code", "code"), today):
        county = status.mine.county
        row = counties.setdefault(county.code, {"name": county.name_zh, "mines": 0, "overdue": []})
        row["mines"] += 1
        if status.overdue:
            row["overdue"].append(status)
    return [CountyDrills(county_code=code, county_name=row["name"], mines=row["mines"],
                         overdue=tuple(sorted(row["overdue"], key=lambda s: (-s.days_overdue, s.mine.code))))
            for code, row in sorted(counties.items())]


# Emergency plans ---------------------------------------------------------------------------------
def record_plan(actor: User, mine: Mine, *, title: str, version: str, revised_on: dt.date,
                next_revision_due: dt.date, filed_with: str = "") -> EmergencyPlan:
    """Record a revision of the mine's emergency plan; the next revision must fall after this one."""
    require_record(actor, mine)
    _require_open_mine(mine)
    errors: dict[str, str] = {}
    title = _text(errors, "title", title, _("give the plan's title"), EmergencyPlan)
    version = _text(errors, "version", version, _("give the plan's version"), EmergencyPlan)
    filed_with = _text(errors, "filed_with", filed_with, "", EmergencyPlan, required=False)
    _past_date(errors, "revised_on", revised_on, timezone.localdate(), _("give the date of this revision"))
    if not isinstance(next_revision_due, dt.date):
        errors["next_revision_due"] = _("give the date the next revision is due")
    elif "revised_on" not in errors and next_revision_due <= revised_on:
        errors["next_revision_due"] = _("must be after the revision date (%(d)s)") % {"d": revised_on}
    if not errors and EmergencyPlan.objects.filter(mine=mine, title=title, version=version).exists():
        errors["version"] = _("this version of the plan is already recorded")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = EmergencyPlan.objects.create(mine=mine, title=title, version=version, revised_on=revised_on,
                                            next_revision_due=next_revision_due, filed_with=filed_with,
                                            created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, plan, after=common.snapshot(plan))
    return plan


def plan_overdue(plan: EmergencyPlan, today: dt.date | None = None) -> bool:
    return plan.next_revision_due < (today or timezone.localdate())


@dataclass(frozen=True)
class PlanStatus:
    """A mine's current emergency plan (its latest revision), or None; overdue when past its revision date."""

    mine: Mine
    plan: EmergencyPlan | None
    overdue: bool

    @property
    def missing(self) -> bool:
        return self.plan is None


def latest_plan(mine: Mine) -> EmergencyPlan | None:
    return EmergencyPlan.objects.filter(mine=mine).order_by("-revised_on", "-pk").first()


def plan_statuses(user: User, today: dt.date | None = None) -> list[PlanStatus]:
    """Every producing or construction mine in the reader's scope with its latest plan."""
    today = today or timezone.localdate()
    mines = list(active_mines(user).select_related("county").order_by("county__code", "code"))
    latest: dict[int, EmergencyPlan] = {}
    for plan in EmergencyPlan.objects.filter(mine__in=mines).order_by("mine_id", "-revised_on", "-pk"):
        latest.setdefault(plan.mine_id, plan)
    return [PlanStatus(mine=m, plan=latest.get(m.pk), overdue=bool(latest.get(m.pk)) and plan_overdue(
        latest[m.pk], today)) for m in mines]


def plans_needing_action(user: User, today: dt.date | None = None) -> list[PlanStatus]:
    """Mines in scope with no emergency plan or whose plan is past its revision date."""
    return [s for s in plan_statuses(user, today) if s.missing or s.overdue]


# Question bank -----------------------------------------------------------------------------------
def _clean_question(post, text, options, answer) -> tuple[str, str, list[dict], str]:
    errors: dict[str, str] = {}
    post = (post or "").strip()
    if post and post not in common.posts():
        errors["post"] = _("unknown post")
    text = _text(errors, "text", text, _("write the question"))
    clean: list[dict] = []
    key_max = ExamQuestion._meta.get_field("answer").max_length
    if not isinstance(options, list) or len(options) < 2:
        errors["options"] = _("give at least two options")
    else:
        seen = set()
        for index, option in enumerate(options):
            if not isinstance(option, dict) or not isinstance(option.get("key"), str) \
                    or not isinstance(option.get("text"), str):
                errors["options"] = _("option %(i)d: give a key and a text") % {"i": index + 1}
                break
            key, body = option["key"].strip(), option["text"].strip()
            if not key or not body:
                errors["options"] = _("option %(i)d: give a key and a text") % {"i": index + 1}
                break
            if len(key) > key_max:
                errors["options"] = _("option %(i)d: a key has at most %(n)d characters") % {"i": index + 1,
                                                                                             "n": key_max}
                break
            if key in seen:
                errors["options"] = _("option %(i)d: key %(k)s used twice") % {"i": index + 1, "k": key}
                break
            seen.add(key)
            clean.append({"key": key, "text": body})
    answer = (answer or "").strip() if isinstance(answer, str) else ""
    if "options" not in errors and answer not in {o["key"] for o in clean}:
        errors["answer"] = _("the answer must be the key of one of the options")
    if errors:
        raise ValidationError(errors)
    return post, text, clean, answer


QUESTION_FIELDS = ["post", "text", "options", "answer", "active"]


def create_question(actor: User, *, post: str, text: str, options: list[dict], answer: str) -> ExamQuestion:
    """Add a question to the bank (the city or a county); `post` blank: asked of every post."""
    require_bank_editor(actor)
    post, text, options, answer = _clean_question(post, text, options, answer)
    with transaction.atomic():
        question = ExamQuestion.objects.create(post=post, text=text, options=options, answer=answer,
                                               created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, question, after=common.snapshot(question))
    return question


def update_question(actor: User, question: ExamQuestion, *, post: str, text: str, options: list[dict],
                    answer: str) -> ExamQuestion:
    """Edit a question (exams already taken keep the question as it was asked)."""
    require_bank_editor(actor)
    post, text, options, answer = _clean_question(post, text, options, answer)
    with transaction.atomic():
        audit.lock_chain()
        current = ExamQuestion.objects.select_for_update().get(pk=question.pk)
        before = common.snapshot(current, QUESTION_FIELDS)
        current.post, current.text, current.options, current.answer = post, text, options, answer
        current.save(update_fields=["post", "text", "options", "answer"])
        old, new = audit.diff(before, common.snapshot(current, QUESTION_FIELDS))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    copy_back(current, question)
    return question


def set_question_active(actor: User, question: ExamQuestion, active: bool) -> ExamQuestion:
    """Take a question out of use (or back into use); it stays in the exams that asked it."""
    require_bank_editor(actor)
    with transaction.atomic():
        audit.lock_chain()
        current = ExamQuestion.objects.select_for_update().get(pk=question.pk)
        if current.active != bool(active):
            current.active = bool(active)
            current.save(update_fields=["active"])
            audit.record(actor, AuditEvent.Action.UPDATE, current, before={"active": not current.active},
                         after={"active": current.active})
    copy_back(current, question)
    return question



def question_pool(post: str):
    """The active questions asked of a post: its own and those for every post."""
    return ExamQuestion.objects.filter(active=True).filter(Q(post=post) | Q(post=""))


# Exams -------------------------------------------------------------------------------------------
def questions_per_exam() -> int:
    return int(common.catalogue()["exams"]["questions_per_exam"])


def pass_score() -> Decimal:
    return Decimal(str(common.catalogue()["exams"]["pass_score"]))


def blocking_months() -> int:
    return int(common.catalogue()["exams"]["blocks_resumption_months"])


def open_appointments(today: dt.date | None = None):
    """Appointments held on `today`: begun, and not ended before it."""
    today = today or timezone.localdate()
    return Appointment.objects.filter(start_date__lte=today).filter(Q(end_date__isnull=True) | Q(end_date__gte=today))


def current_holders(mine: Mine, today: dt.date | None = None, posts: list[str] | None = None) -> list[Appointment]:
    """The mine's open appointments (optionally of some posts), with their people."""
    appointments = open_appointments(today).filter(mine=mine).select_related("person")
    if posts is not None:
        appointments = appointments.filter(post__in=posts)
    return list(appointments.order_by("post", "person__name", "pk"))


def open_posts(person: Person, today: dt.date | None = None) -> list[Appointment]:
    """The person's open appointments at their mine."""
    return list(open_appointments(today).filter(person=person, mine_id=person.mine_id).order_by("post", "pk"))


@dataclass(frozen=True)
class Draw:
    """Questions drawn for one exam; `token` carries them signed, so only these are answered and only once."""

    person: Person
    mine: Mine
    post: str
    questions: tuple[ExamQuestion, ...]
    token: str
    after: int  # the person's latest exam when drawn: a later exam means the draw was used


def _examined_appointment(person: Person, post: str) -> Appointment:
    held = open_posts(person)
    if not held:
        raise DomainError(_("%(p)s holds no post at the mine now (no open appointment)") % {"p": person.name},
                          field="person", code="no_appointment")
    posts = {a.post: a for a in held if a.post in common.posts()}
    if not post:
        if len(posts) != 1:
            raise ValidationError({"post": _("choose the post to examine: %(p)s") % {
                "p": ", ".join(post_label(p) for p in posts)}})
        post = next(iter(posts))
    if post not in posts:
        raise ValidationError({"post": _("%(p)s holds no open appointment as %(post)s") % {
            "p": person.name, "post": post_label(post)}})
    return posts[post]


def _last_exam_id(person: Person) -> int:
    return Exam.objects.filter(person=person).order_by("-pk").values_list("pk", flat=True).first() or 0


def draw_exam(examiner: User, person: Person, post: str = "", *, rng: random.Random | None = None) -> Draw:
    """Draw the questions for examining `person` in `post` (their only open post when blank): up to
    exams.questions_per_exam from the post's active questions and those for every post."""
    require_examiner(examiner, person.mine)
    appointment = _examined_appointment(person, (post or "").strip())
    pool = list(question_pool(appointment.post).order_by("pk"))
    if not pool:
        raise DomainError(_("the question bank has no question for %(post)s") % {
            "post": post_label(appointment.post)}, field="post", code="empty_bank")
    chosen = (rng or random.SystemRandom()).sample(pool, min(questions_per_exam(), len(pool)))
    after = _last_exam_id(person)
    token = signing.dumps({"e": examiner.pk, "p": person.pk, "post": appointment.post, "q": [q.pk for q in chosen],
                           "after": after, "at": int(timezone.now().timestamp())}, salt=DRAW_SALT)
    return Draw(person=person, mine=appointment.mine, post=appointment.post, questions=tuple(chosen), token=token,
                after=after)


def load_draw(examiner: User, token: str) -> Draw:
    """The draw a token carries, checked: signed by us, not expired, drawn by this examiner."""
    try:
        data = signing.loads(token or "", salt=DRAW_SALT)
    except signing.BadSignature:
        raise ValidationError({"token": _("not a draw of this platform")}) from None
    if not isinstance(data, dict) or not {"e", "p", "post", "q", "after", "at"} <= set(data):
        raise ValidationError({"token": _("not a draw of this platform")})
    if timezone.now().timestamp() - data["at"] > DRAW_MAX_AGE:  # the platform's clock (tests freeze it)
        raise DomainError(_("the drawn questions have expired; draw again"), field="token", code="draw_expired")
    if data["e"] != examiner.pk:
        raise PermissionDenied(_("these questions were drawn by another examiner"))
    person = Person.objects.select_related("mine").filter(pk=data["p"]).first()
    questions = ExamQuestion.objects.in_bulk(data["q"])
    if person is None or len(questions) != len(data["q"]):
        raise DomainError(_("the drawn questions changed meanwhile; draw again"), field="token", code="draw_stale")
    return Draw(person=person, mine=person.mine, post=data["post"],
                questions=tuple(questions[pk] for pk in data["q"]), token=token, after=data["after"])


def take_exam(examiner: User, token: str, answers: dict, *, inspection_ref: str = "") -> Exam:
    """Score the answers to a draw (question id -> the key given; a question left out counts as wrong) and
    store the exam with the questions as asked. Score 0-100; passed at exams.pass_score or above."""
    draw = load_draw(examiner, token)
    person, mine = draw.person, draw.mine
    require_examiner(examiner, mine)
    _examined_appointment(person, draw.post)
    errors: dict[str, str] = {}
    inspection_ref = _text(errors, "inspection_ref", inspection_ref, "", Exam, required=False)
    given: dict[int, str] = {}
    drawn = {q.pk: q for q in draw.questions}
    if not isinstance(answers, dict):
        errors["answers"] = _("give the answers as question -> option key")
    else:
        for raw_id, raw_key in answers.items():
            try:
                question_id = int(raw_id)
            except (TypeError, ValueError):
                errors["answers"] = _("%(q)s is not a question id") % {"q": raw_id}
                break
            if question_id not in drawn:
                errors["answers"] = _("question %(q)d was not drawn for this exam") % {"q": question_id}
                break
            key = raw_key.strip() if isinstance(raw_key, str) else ""
            if key and key not in {o["key"] for o in drawn[question_id].options}:
                errors["answers"] = _("question %(q)d: %(k)s is not one of its options") % {"q": question_id,
                                                                                            "k": key}
                break
            given[question_id] = key
    if errors:
        raise ValidationError(errors)
    asked = [{"question": q.pk, "text": q.text, "options": q.options, "given": given.get(q.pk, ""),
              "right": q.answer, "correct": given.get(q.pk, "") == q.answer} for q in draw.questions]
    correct = sum(1 for a in asked if a["correct"])
    score = _one_decimal(HUNDRED * correct / len(asked))
    passed = score >= pass_score()
    today = timezone.localdate()
    with transaction.atomic():
        audit.lock_chain()
        list(Person.objects.select_for_update().filter(pk=person.pk).order_by().values_list("pk"))  # one at a time
        if _last_exam_id(person) != draw.after:
            raise DomainError(_("these questions were already used for an exam of %(p)s; draw again") % {
                "p": person.name}, field="token", code="draw_used")
        exam = Exam.objects.create(person=person, mine=mine, post=draw.post, examiner=examiner, held_on=today,
                                   inspection_ref=inspection_ref, answers=asked, score=score, passed=passed)
        audit.record(examiner, AuditEvent.Action.CREATE, exam, after=common.snapshot(exam))
        if not passed:
            five = draw.post in common.five_post_codes()
            subject = _("Exam failed at %(m)s: %(p)s (%(post)s), score %(s)s") % {
                "m": mine.name, "p": person.name, "post": post_label(draw.post), "s": score}
            body = _("A failed five-post chief blocks resumption acceptance until a later exam is passed.") \
                if five else ""
            notify.send(subject, body, reverse("personnel:exam-detail", args=[exam.pk]),
                        organisations=[mine.enterprise.organisation, *county_organisations(mine)])
    return exam


def exam_history(user: User, *, person: Person | None = None, mine: Mine | None = None):
    """Exams in the reader's scope, latest first; of one person and/or one mine."""
    exams = Exam.objects.visible_to(user).select_related("person", "mine__county", "examiner")
    if person is not None:
        exams = exams.filter(person=person)
    if mine is not None:
        exams = exams.filter(mine=mine)
    return exams.order_by("-held_on", "-pk")


def chiefs_examined(mine: Mine, today: dt.date | None = None) -> tuple[bool, str]:
    """The resumption checklist item (逢查必考). Fails when a current five-post holder's latest exam at the
    mine within exams.blocks_resumption_months failed, or when no current five-post holder passed one in that
    period. Returns (passed, evidence or reason)."""
    today = today or timezone.localdate()
    months = blocking_months()
    since = add_months(today, -months)
    holders = current_holders(mine, today, common.five_post_codes())
    people: dict[int, tuple[Person, list[str]]] = {}
    for appointment in holders:
        people.setdefault(appointment.person_id, (appointment.person, []))[1].append(appointment.post)
    latest: dict[int, Exam] = {}
    for exam in Exam.objects.filter(mine=mine, person_id__in=people, held_on__gte=since, held_on__lte=today) \
            .order_by("person_id", "-held_on", "-pk"):
        latest.setdefault(exam.person_id, exam)

    def who(person_id: int) -> str:
        person, posts = people[person_id]
        return f"{person.name} ({', '.join(post_label(p) for p in posts)})"

    failed = [f"{who(pid)}: {exam.score} ({exam.held_on})" for pid, exam in latest.items() if not exam.passed]
    if failed:
        return False, _("failed exam of a current five-post chief within %(n)d months: %(who)s") % {
            "n": months, "who": "; ".join(failed)}
    passed = [f"{who(pid)}: {exam.score} ({exam.held_on})" for pid, exam in latest.items()]
    if not passed:
        return False, _("no five-post chief examined within %(n)d months") % {"n": months}
    text = _("passed within %(n)d months: %(who)s") % {"n": months, "who": "; ".join(passed)}
    missing = [who(pid) for pid in people if pid not in latest]
    if missing:
        text += "; " + _("not examined: %(who)s") % {"who": ", ".join(missing)}
    return True, text


# Contractors -------------------------------------------------------------------------------------
def outsourcing_rules() -> dict:
    return common.catalogue()["outsourcing"]


def record_project(actor: User, mine: Mine, *, contractor: str, contractor_credit_code: str, qualification: str,
                   qualification_expires_on: dt.date, scope: str, underground: bool = False,
                   labour_dispatch: bool = False, blasting: bool = False, start_date: dt.date,
                   end_date: dt.date | None = None) -> OutsourcedProject:
    """Record work outsourced by the mine, with the contractor's qualification. Refused: an expired
    qualification, labour dispatch for underground work, blasting outsourced by an underground mine."""
    require_record(actor, mine)
    _require_open_mine(mine)
    today = timezone.localdate()
    rules = outsourcing_rules()
    errors: dict[str, str] = {}
    contractor = _text(errors, "contractor", contractor, _("name the contractor"), OutsourcedProject)
    code = (contractor_credit_code or "").strip().upper() if isinstance(contractor_credit_code, str) else ""
    if reason := credit_code_error(code):
        errors["contractor_credit_code"] = reason
    qualification = _text(errors, "qualification", qualification, _("give the contractor's qualification (资质)"),
                          OutsourcedProject)
    if not isinstance(qualification_expires_on, dt.date):
        errors["qualification_expires_on"] = _("give the date the qualification expires")
    elif qualification_expires_on < today:
        errors["qualification_expires_on"] = _("qualification expired on %(d)s") % {"d": qualification_expires_on}
    scope = _text(errors, "scope", scope, _("describe the work outsourced"), OutsourcedProject)
    if not isinstance(start_date, dt.date):
        errors["start_date"] = _("give the start date")
    elif end_date is not None and (not isinstance(end_date, dt.date) or end_date < start_date):
        errors["end_date"] = _("cannot be before the start date")
    underground, labour_dispatch, blasting = bool(underground), bool(labour_dispatch), bool(blasting)
    if underground and labour_dispatch and rules.get("underground_labour_dispatch") == "prohibited":
        errors["labour_dispatch"] = _("labour dispatch for underground work is prohibited by the plan")
    if blasting and mine.mine_type == Mine.Type.UNDERGROUND \
            and rules.get("blasting_outsourced_separately_by_underground_mines") == "prohibited":
        errors["blasting"] = _("an underground mine may not outsource blasting (prohibited by the plan)")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        project = OutsourcedProject.objects.create(
            mine=mine, contractor=contractor, contractor_credit_code=code, qualification=qualification,
            qualification_expires_on=qualification_expires_on, scope=scope, underground=underground,
            labour_dispatch=labour_dispatch, blasting=blasting, start_date=start_date, end_date=end_date,
            created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, project, after=common.snapshot(project))
    return project


def end_project(actor: User, project: OutsourcedProject, *, end_date: dt.date) -> OutsourcedProject:
    """The outsourced work ended (not in the future, not before it began)."""
    require_record(actor, project.mine)
    errors: dict[str, str] = {}
    _past_date(errors, "end_date", end_date, timezone.localdate(), _("give the date the work ended"))
    if "end_date" not in errors and end_date < project.start_date:
        errors["end_date"] = _("cannot be before the start date (%(d)s)") % {"d": project.start_date}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        current = OutsourcedProject.objects.select_for_update().get(pk=project.pk)
        if current.end_date is not None and current.end_date <= timezone.localdate():
            raise DomainError(_("the project already ended on %(d)s") % {"d": current.end_date}, field="end_date",
                              code="ended")
        before = {"end_date": current.end_date}
        current.end_date = end_date
        current.save(update_fields=["end_date"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before, after={"end_date": end_date})
    copy_back(current, project)
    return project


def project_running(project: OutsourcedProject, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return project.start_date <= today and (project.end_date is None or project.end_date >= today)


def project_flags(project: OutsourcedProject, today: dt.date | None = None) -> list[str]:
    """What is wrong with a project now: a running project whose contractor's qualification has since
    expired; prohibited arrangements (from records made before the rules, or by other means)."""
    today = today or timezone.localdate()
    flags = []
    if project_running(project, today) and project.qualification_expires_on < today:
        flags.append(_("qualification expired on %(d)s") % {"d": project.qualification_expires_on})
    if project.underground and project.labour_dispatch:
        flags.append(_("labour dispatch underground"))
    if project.blasting and project.mine.mine_type == Mine.Type.UNDERGROUND:
        flags.append(_("blasting outsourced by an underground mine"))
    return flags


# Own mining teams --------------------------------------------------------------------------------
TEAM_FIELDS = ["mode", "firm", "since", "evidence"]


def set_mining_team(actor: User, mine: Mine, *, mode: str, firm: str = "", since: dt.date,
                    evidence: str = "") -> MiningTeam:
    """State how the mine's mining work is staffed (creates or replaces the statement). Whole-mine
    management names the qualified firm."""
    require_record(actor, mine)
    _require_open_mine(mine)
    errors: dict[str, str] = {}
    if mode not in MiningTeam.Mode.values:
        errors["mode"] = _("unknown mode")
    firm = _text(errors, "firm", firm, _("name the firm managing the mine"), MiningTeam,
                 required=mode == MiningTeam.Mode.WHOLE_ENTRUSTMENT)
    evidence = _text(errors, "evidence", evidence, "", MiningTeam, required=False)
    _past_date(errors, "since", since, timezone.localdate(), _("give the date since when"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        current = MiningTeam.objects.select_for_update().filter(mine=mine).first()
        if current is None:
            team = MiningTeam.objects.create(mine=mine, mode=mode, firm=firm, since=since, evidence=evidence,
                                             updated_by=actor)
            audit.record(actor, AuditEvent.Action.CREATE, team, after=common.snapshot(team))
            return team
        before = common.snapshot(current, TEAM_FIELDS)
        current.mode, current.firm, current.since, current.evidence = mode, firm, since, evidence
        current.updated_by = actor
        current.save(update_fields=[*TEAM_FIELDS, "updated_by"])
        old, new = audit.diff(before, common.snapshot(current, TEAM_FIELDS))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    return current


def share_targets() -> list[tuple[dt.date, float]]:
    """The plan's dated targets for the share of producing mines with own teams or whole-mine management."""
    raw = outsourcing_rules()["own_team_or_whole_entrustment_share"]
    return sorted((dt.date.fromisoformat(str(day)), float(share)) for day, share in raw.items())


def target_in_force(on_date: dt.date) -> tuple[dt.date, float] | None:
    """The latest target whose deadline has come by `on_date` (None before the first deadline)."""
    due = [t for t in share_targets() if t[0] <= on_date]
    return due[-1] if due else None


def next_target(on_date: dt.date) -> tuple[dt.date, float] | None:
    upcoming = [t for t in share_targets() if t[0] > on_date]
    return upcoming[0] if upcoming else None


@dataclass(frozen=True)
class TeamGap:
    """A producing mine holding the share back, with how it says its mining is staffed ("" when not stated)."""

    mine: Mine
    mode: str
    since: dt.date | None

    @property
    def mode_label(self) -> str:
        return MiningTeam.Mode(self.mode).label if self.mode else _("no statement")


@dataclass(frozen=True)
class ShareRow:
    county_code: str
    county_name: str
    producing: int
    qualifying: int
    share: float | None  # None when there is no producing mine
    target: float | None
    meets: bool | None  # None without a target in force or without producing mines
    holding_back: tuple[TeamGap, ...]


@dataclass(frozen=True)
class ShareReport:
    on_date: dt.date
    target_date: dt.date | None
    target: float | None
    next_target_date: dt.date | None
    next_target: float | None
    counties: tuple[ShareRow, ...]
    total: ShareRow


def _share_row(code: str, name: str, producing: int, gaps: list[TeamGap], target: float | None) -> ShareRow:
    qualifying = producing - len(gaps)
    share = qualifying / producing if producing else None
    meets = None if share is None or target is None else share >= target - 1e-9
    return ShareRow(county_code=code, county_name=name, producing=producing, qualifying=qualifying,
                    share=share, target=target, meets=meets,
                    holding_back=tuple(sorted(gaps, key=lambda g: g.mine.code)))


def own_team_share(user: User, on_date: dt.date | None = None) -> ShareReport:
    """Per county in the reader's scope and in total: among producing mining mines (underground, open pit,
    quarry), the share whose mining is done by an own team or under whole-mine management since `on_date` or
    earlier, against the target in force on that date, with the mines holding the share back."""
    on_date = on_date or timezone.localdate()
    in_force, upcoming = target_in_force(on_date), next_target(on_date)
    target = in_force[1] if in_force else None
    mines = (Mine.objects.visible_to(user).filter(status=S.PRODUCING, mine_type__in=MINING_TYPES)
             .select_related("county", "mining_team").order_by("county__code", "code"))
    counties: dict[str, dict] = {}
    for mine in mines:
        row = counties.setdefault(mine.county.code, {"name": mine.county.name_zh, "producing": 0, "gaps": []})
        row["producing"] += 1
        team = getattr(mine, "mining_team", None)
        if team is None or team.mode not in QUALIFYING_MODES or team.since > on_date:
            row["gaps"].append(TeamGap(mine=mine, mode=team.mode if team else "", since=team.since if team else None))
    rows = tuple(_share_row(code, row["name"], row["producing"], row["gaps"], target)
                 for code, row in sorted(counties.items()))
    total = _share_row("", _("All mines in scope"), sum(r.producing for r in rows),
                       [g for r in rows for g in r.holding_back], target)
    return ShareReport(on_date=on_date, target_date=in_force[0] if in_force else None, target=target,
                       next_target_date=upcoming[0] if upcoming else None,
                       next_target=upcoming[1] if upcoming else None, counties=rows, total=total)
