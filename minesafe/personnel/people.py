"""Key positions ledger (履职台账) and qualification rules, plan tasks 1, 2 and 21.

People are recorded per mine (resident ID validated, stored in full, shown masked to roles that do not need
it, never written to the audit log in clear). Appointments put a person in a catalogue post over a period;
the period is half-open: a holder is in post from `start_date` up to, not including, `end_date` (the day
they left), so a successor may start on the day the predecessor leaves.

Qualification rules are catalogue data (`qualification`): appointments starting on or after `rules_from`
are "new" and must meet the rule of their post; earlier ones are incumbents, allowed but listed with a
deadline (`incumbents_fix_by`). Flags (`flags`): frequent changes of the five mine chiefs, and key-post
holders with no attendance evidence (挂名不履职).

Every changing function checks permission, validates, changes and audits in one transaction.
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.rows import copy_back
from minesafe.core.validators import resident_id_error
from minesafe.registry.models import Mine
from minesafe.registry.services import add_months

from . import common
from .models import Appointment, Education, Exam, Person, TrainingRecord

MIN_WORKING_AGE = 16
MAX_FRONTLINE_YEARS = Decimal(60)
PERSON_FIELDS = ("name", "id_number", "phone", "education", "specialty", "core_specialty", "frontline_years",
                 "assigned_operations", "own_employee")
# Ownership posts: their holders are not expected on site, so no attendance flag (a data field would be better).
ATTENDANCE_EXEMPT_POSTS = frozenset({"legal_representative", "actual_controller"})
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]*$")


# Catalogue ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """The catalogue's posts, qualification rules and flag settings, read once for a whole list."""

    posts: dict  # code -> catalogue item
    five_rule: dict
    technical_rule: dict
    rules_from: dt.date
    incumbents_fix_by: dt.date
    frequent_more_than: int
    frequent_within_months: int
    absent_days: int

    def post_label(self, code: str) -> str:
        item = self.posts.get(code)
        return common.label(item) if item else code

    def rule_for(self, post: str) -> dict | None:
        item = self.posts.get(post) or {}
        if item.get("five"):
            return self.five_rule
        if item.get("technical"):
            return self.technical_rule
        return None

    def five_posts(self) -> list[str]:
        return [code for code, item in self.posts.items() if item.get("five")]


def rules() -> Rules:
    cat = common.catalogue()
    qual, flags = cat["qualification"], cat["flags"]
    frequent = flags["frequent_chief_changes"]
    return Rules(posts={p["code"]: p for p in cat["posts"]}, five_rule=qual["five_posts"],
                 technical_rule=qual["technical_staff"], rules_from=dt.date.fromisoformat(str(qual["rules_from"])),
                 incumbents_fix_by=dt.date.fromisoformat(str(qual["incumbents_fix_by"])),
                 frequent_more_than=int(frequent["more_than"]), frequent_within_months=int(frequent["within_months"]),
                 absent_days=int(flags["absent_days"]))


def specialty_suggestions() -> list[str]:
    """The 五科 candidates (unverified, editable data): suggestions for technical staff, not a closed list."""
    return list(common.catalogue().get("five_specialties", {}).get("specialties", {}).get("candidates", []))


def education_label(code: str) -> str:
    return str(Education(code).label) if code in Education.values else code


# Personal facts ----------------------------------------------------------------------------------
def birth_date(id_number: str) -> dt.date:
    """The birth date in a valid 18-character resident ID number."""
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def qualification_gaps(person: Person, post: str, rule_set: Rules | None = None) -> list[str]:
    """Why `person` falls short of the qualification rule of `post` (empty: qualified, or the post has no rule)."""
    rule_set = rule_set or rules()
    rule = rule_set.rule_for(post)
    if rule is None:
        return []
    gaps = []
    minimum = rule.get("education_min")
    if minimum and not common.education_at_least(person.education, minimum):
        gaps.append(_("education %(has)s is below the required %(min)s") % {
            "has": education_label(person.education), "min": education_label(minimum)})
    if rule.get("core_specialty") and not person.core_specialty:
        gaps.append(_("specialty %(s)s is not a core mining specialty") % {"s": person.specialty}
                    if person.specialty else _("no core mining specialty"))
    years_min = rule.get("frontline_years_min")
    if years_min is not None and Decimal(person.frontline_years) < Decimal(str(years_min)):
        gaps.append(_("%(has)s years of front-line experience, %(min)s required") % {
            "has": person.frontline_years, "min": years_min})
    return gaps


def is_incumbent(appointment: Appointment, rule_set: Rules | None = None) -> bool:
    """Appointed before the rules took effect: may stay while unqualified, until `incumbents_fix_by`."""
    return appointment.start_date < (rule_set or rules()).rules_from


# Validation --------------------------------------------------------------------------------------
def _text(errors: dict, name: str, value, max_length: int, required: str | None = None) -> str:
    value = ("" if value is None else str(value)).strip()
    if not value and required:
        errors[name] = required
    elif len(value) > max_length:
        errors[name] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _years(errors: dict, value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["frontline_years"] = _("give the years of front-line experience")
        return None
    if isinstance(value, bool):
        errors["frontline_years"] = _("not a number")
        return None
    try:
        years = Decimal(str(value).strip())
    except InvalidOperation:
        errors["frontline_years"] = _("not a number")
        return None
    if not years.is_finite() or not Decimal(0) <= years <= MAX_FRONTLINE_YEARS:
        errors["frontline_years"] = _("must be between 0 and %(n)s years") % {"n": MAX_FRONTLINE_YEARS}
        return None
    if years != years.quantize(Decimal("0.1")):
        errors["frontline_years"] = _("at most one decimal place")
        return None
    return years.quantize(Decimal("0.1"))


def _phone(errors: dict, value) -> str:
    phone = _text(errors, "phone", value, Person._meta.get_field("phone").max_length)
    if phone and "phone" not in errors:
        digits = sum(c.isdigit() for c in phone)
        if not _PHONE_RE.match(phone) or not 7 <= digits <= 15:
            errors["phone"] = _("not a phone number: digits, spaces and hyphens, 7 to 15 digits")
    return phone


def _operations(errors: dict, value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        errors["assigned_operations"] = _("give a list of special-operation codes")
        return []
    known = common.operation_categories()
    codes = [str(v).strip() for v in value]
    unknown = [c for c in codes if c not in known]
    if unknown:
        errors["assigned_operations"] = _("unknown special operation: %(c)s (known: %(k)s)") % {
            "c": ", ".join(unknown), "k": ", ".join(known)}
        return []
    return [code for code in known if code in codes]  # catalogue order, each once


def clean_person(data: dict, mine: Mine, person_pk: int | None = None) -> dict:
    """The person's fields checked and normalised; ValidationError naming each bad field with the reason."""
    errors: dict[str, str] = {}
    today = timezone.localdate()
    clean = {"name": _text(errors, "name", data.get("name"), Person._meta.get_field("name").max_length,
                           _("give the person's name"))}
    id_number = ("" if data.get("id_number") is None else str(data["id_number"])).strip().upper()
    clean["id_number"] = id_number
    if reason := resident_id_error(id_number, today):
        errors["id_number"] = _("Invalid resident ID number: %(r)s") % {"r": reason}
    elif age_on(birth_date(id_number), today) < MIN_WORKING_AGE:
        errors["id_number"] = _("the person is under %(n)d years old") % {"n": MIN_WORKING_AGE}
    elif Person.objects.filter(mine=mine, id_number=id_number).exclude(pk=person_pk).exists():
        errors["id_number"] = _("a person with this ID number is already recorded at this mine")
    clean["phone"] = _phone(errors, data.get("phone"))
    education = data.get("education")
    if education not in Education.values:
        errors["education"] = _("unknown education level")
    clean["education"] = education
    clean["specialty"] = _text(errors, "specialty", data.get("specialty"),
                               Person._meta.get_field("specialty").max_length)
    clean["core_specialty"] = bool(data.get("core_specialty", False))
    if clean["core_specialty"] and not clean["specialty"] and "specialty" not in errors:
        errors["specialty"] = _("name the core specialty")
    years = _years(errors, data.get("frontline_years"))
    if years is not None and "id_number" not in errors:
        age = age_on(birth_date(id_number), today)
        if years > age - MIN_WORKING_AGE:
            errors["frontline_years"] = _(
                "impossible experience: %(y)s years of front-line work at age %(a)d (at most %(m)d)") % {
                "y": years, "a": age, "m": max(age - MIN_WORKING_AGE, 0)}
    clean["frontline_years"] = years
    clean["assigned_operations"] = _operations(errors, data.get("assigned_operations"))
    clean["own_employee"] = bool(data.get("own_employee", True))
    if errors:
        raise ValidationError(errors)
    return clean


def _require_open_mine(mine: Mine) -> None:
    if mine.status == Mine.Status.CLOSED:
        raise DomainError(_("the mine is closed"), field="mine")


def _not_future(errors: dict, name: str, day: dt.date | None, required: str) -> None:
    if day is None:
        errors[name] = required
    elif day > timezone.localdate():
        errors[name] = _("cannot be in the future")


def person_link(person: Person) -> str:
    return reverse("personnel:person-detail", args=[person.pk])


def ledger_link(mine: Mine) -> str:
    return reverse("personnel:people-mine", args=[mine.pk])


def _lock_mine(mine: Mine) -> None:
    """Changes to one mine's ledger one at a time (the chain lock first, see audit.lock_chain)."""
    audit.lock_chain()
    list(Mine.objects.select_for_update().filter(pk=mine.pk).order_by().values_list("pk"))



# People ------------------------------------------------------------------------------------------
def create_person(actor: User, mine: Mine, *, name: str, id_number: str, education: str, frontline_years,
                  specialty: str = "", core_specialty: bool = False, phone: str = "",
                  assigned_operations: Iterable[str] = (), own_employee: bool = True) -> Person:
    """Record a person at `mine` (the mine's enterprise, its county or the city)."""
    common.require_write(actor, mine)
    _require_open_mine(mine)
    data = clean_person({"name": name, "id_number": id_number, "education": education,
                         "frontline_years": frontline_years, "specialty": specialty, "core_specialty": core_specialty,
                         "phone": phone, "assigned_operations": list(assigned_operations or []),
                         "own_employee": own_employee}, mine)
    with transaction.atomic():
        _lock_mine(mine)
        if Person.objects.filter(mine=mine, id_number=data["id_number"]).exists():
            raise ValidationError({"id_number": _("a person with this ID number is already recorded at this mine")})
        person = Person.objects.create(mine=mine, created_by=actor, **data)
        audit.record(actor, AuditEvent.Action.CREATE, person, after=common.snapshot(person))
    return person


def update_person(actor: User, person: Person, changes: dict) -> Person:
    """Correct a person's record; `changes` holds any of PERSON_FIELDS. The whole record is checked again."""
    mine = person.mine
    common.require_write(actor, mine)
    unknown = sorted(set(changes) - set(PERSON_FIELDS))
    if unknown:
        raise ValidationError({name: _("cannot be changed here") for name in unknown})
    merged = {name: getattr(person, name) for name in PERSON_FIELDS} | dict(changes)
    data = clean_person(merged, mine, person.pk)
    with transaction.atomic():
        _lock_mine(mine)
        current = Person.objects.select_for_update().get(pk=person.pk)
        raw_before = audit.snapshot(current, PERSON_FIELDS)
        masked_before = common.snapshot(current, PERSON_FIELDS)
        for name, value in data.items():
            setattr(current, name, value)
        raw_after = audit.snapshot(current, PERSON_FIELDS)
        changed = [k for k in raw_after if raw_before.get(k) != raw_after.get(k)]
        if not changed:
            return person
        if Person.objects.filter(mine=mine, id_number=current.id_number).exclude(pk=current.pk).exists():
            raise ValidationError({"id_number": _("a person with this ID number is already recorded at this mine")})
        current.save(update_fields=changed)
        # Changed keys come from the clear values (a changed middle of an ID still shows), values masked.
        masked_after = common.snapshot(current, PERSON_FIELDS)
        audit.record(actor, AuditEvent.Action.UPDATE, current, before={k: masked_before[k] for k in changed},
                     after={k: masked_after[k] for k in changed})
    copy_back(current, person)
    return person


def deactivate_person(actor: User, person: Person, *, reason: str, left_on: dt.date | None = None) -> Person:
    """The person no longer works at the mine: their open appointments end on `left_on` (default today)."""
    common.require_write(actor, person.mine)
    if not person.active:
        raise InvalidTransition(_("the person is already recorded as no longer working at the mine"))
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, Appointment._meta.get_field("end_reason").max_length,
                   _("say why the person left"))
    left_on = left_on or timezone.localdate()
    _not_future(errors, "left_on", left_on, _("give the date the person left"))
    latest_start = person.appointments.filter(end_date__isnull=True).aggregate(m=Max("start_date"))["m"]
    if "left_on" not in errors and latest_start and left_on < latest_start:
        errors["left_on"] = _("is before an open appointment began (%(d)s)") % {"d": latest_start}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _lock_mine(person.mine)
        current = Person.objects.select_for_update().get(pk=person.pk)
        if not current.active:
            raise InvalidTransition(_("the person changed meanwhile; reload and try again"))
        for appointment in Appointment.objects.select_for_update().filter(person=current, end_date__isnull=True):
            if left_on < appointment.start_date:
                raise ValidationError({"left_on": _("is before an open appointment began (%(d)s)") % {
                    "d": appointment.start_date}})
            appointment.end_date, appointment.end_reason = left_on, reason
            appointment.save(update_fields=["end_date", "end_reason"])
            audit.record(actor, AuditEvent.Action.TRANSITION, appointment, before={"end_date": None},
                         after={"end_date": left_on.isoformat(), "end_reason": reason})
        current.active = False
        current.save(update_fields=["active"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"active": True},
                     after={"active": False, "reason": reason, "left_on": left_on.isoformat()})
    copy_back(current, person)
    return person


def reactivate_person(actor: User, person: Person) -> Person:
    """The person works at the mine again (their earlier appointments stay ended)."""
    common.require_write(actor, person.mine)
    _require_open_mine(person.mine)
    if person.active:
        raise InvalidTransition(_("the person is recorded as working at the mine already"))
    with transaction.atomic():
        _lock_mine(person.mine)
        current = Person.objects.select_for_update().get(pk=person.pk)
        if current.active:
            raise InvalidTransition(_("the person changed meanwhile; reload and try again"))
        current.active = True
        current.save(update_fields=["active"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"active": False}, after={"active": True})
    copy_back(current, person)
    return person


# Appointments ------------------------------------------------------------------------------------
def _overlapping(qs, start: dt.date):
    """Appointments overlapping an open-ended period from `start` (periods are [start, end))."""
    return qs.filter(Q(end_date__isnull=True) | Q(end_date__gt=start))


def _require_qualified(person: Person, post: str, start_date: dt.date, rule_set: Rules) -> None:
    """A new appointment (from `rules_from`) of someone short of the post's rule is refused with the reasons."""
    if start_date >= rule_set.rules_from:
        gaps = qualification_gaps(person, post, rule_set)
        if gaps:
            raise ValidationError({"person": _("%(n)s does not meet the rule for new appointments as %(p)s: %(g)s") % {
                "n": person.name, "p": rule_set.post_label(post), "g": "; ".join(gaps)}})


def appoint(actor: User, person: Person, post: str, start_date: dt.date, specialty: str = "") -> Appointment:
    """Put `person` in `post` at their mine from `start_date`. A new appointment (from `rules_from`) of someone
    short of the post's qualification rule is refused with the reasons."""
    mine = person.mine
    common.require_write(actor, mine)
    _require_open_mine(mine)
    if not person.active:
        raise DomainError(_("the person no longer works at the mine"), field="person")
    rule_set = rules()
    errors: dict[str, str] = {}
    item = rule_set.posts.get(post)
    if item is None:
        errors["post"] = _("not a post of the catalogue: %(p)s (known: %(k)s)") % {
            "p": post or "—", "k": ", ".join(rule_set.posts)}
    specialty = _text(errors, "specialty", specialty, Appointment._meta.get_field("specialty").max_length)
    if item is not None and "specialty" not in errors:
        if item.get("technical") and not specialty:
            errors["specialty"] = _("technical staff are appointed for a specialty")
        elif specialty and not item.get("technical"):
            errors["specialty"] = _("only technical staff are appointed for a specialty")
    _not_future(errors, "start_date", start_date, _("give the start date"))
    if errors:
        raise ValidationError(errors)
    _require_qualified(person, post, start_date, rule_set)
    with transaction.atomic():
        _lock_mine(mine)
        current = Person.objects.get(pk=person.pk)  # as it is now, under the mine's lock
        if not current.active:
            raise DomainError(_("the person no longer works at the mine"), field="person")
        _require_qualified(current, post, start_date, rule_set)
        same_post = Appointment.objects.filter(mine=mine, post=post)
        own = _overlapping(same_post.filter(person=person), start_date).order_by("start_date").first()
        if own is not None:
            raise DomainError(_("%(n)s already holds %(p)s from %(d)s in this period") % {
                "n": person.name, "p": rule_set.post_label(post), "d": own.start_date}, field="start_date",
                code="overlap")
        if item.get("single"):
            other = _overlapping(same_post.exclude(person=person), start_date).select_related("person") \
                .order_by("start_date").first()
            if other is not None:
                raise DomainError(_("%(n)s holds %(p)s from %(d)s: end that appointment first") % {
                    "n": other.person.name, "p": rule_set.post_label(post), "d": other.start_date},
                    field="start_date", code="overlap")
        appointment = Appointment.objects.create(person=person, mine=mine, post=post, specialty=specialty,
                                                 start_date=start_date, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, appointment, after=common.snapshot(appointment))
        if item.get("five"):
            _tell_county_of_frequent_changes(mine, rule_set)
    return appointment


def end_appointment(actor: User, appointment: Appointment, end_date: dt.date, reason: str) -> Appointment:
    """The holder leaves the post on `end_date` (not before the start, not in the future), for `reason`."""
    common.require_write(actor, appointment.mine)
    if appointment.end_date is not None:
        raise InvalidTransition(_("the appointment has ended already"))
    errors: dict[str, str] = {}
    _not_future(errors, "end_date", end_date, _("give the date the appointment ended"))
    if "end_date" not in errors and end_date < appointment.start_date:
        errors["end_date"] = _("is before the appointment began (%(d)s)") % {"d": appointment.start_date}
    reason = _text(errors, "reason", reason, Appointment._meta.get_field("end_reason").max_length,
                   _("say why the appointment ended"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _lock_mine(appointment.mine)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.end_date is not None:
            raise InvalidTransition(_("the appointment changed meanwhile; reload and try again"))
        current.end_date, current.end_reason = end_date, reason
        current.save(update_fields=["end_date", "end_reason"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"end_date": None},
                     after={"end_date": end_date.isoformat(), "end_reason": reason})
    copy_back(current, appointment)
    return appointment


# Reading -----------------------------------------------------------------------------------------
def current_q(today: dt.date, prefix: str = "") -> Q:
    """Appointments in force on `today`."""
    return Q(**{f"{prefix}start_date__lte": today}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gt": today}))


def current_holders(mine: Mine, posts: Iterable[str] | None = None, today: dt.date | None = None
                    ) -> dict[str, list[Person]]:
    """Who holds each post at `mine` on `today` (every catalogue post when `posts` is None); a post without a
    holder maps to an empty list. Only people still working at the mine."""
    today = today or timezone.localdate()
    codes = list(posts) if posts is not None else [p["code"] for p in common.catalogue()["posts"]]
    holders: dict[str, list[Person]] = {code: [] for code in codes}
    appointments = Appointment.objects.filter(current_q(today), mine=mine, post__in=codes, person__active=True) \
        .select_related("person").order_by("start_date", "pk")
    for appointment in appointments:
        if appointment.person not in holders[appointment.post]:
            holders[appointment.post].append(appointment.person)
    return holders


def appointment_history(mine: Mine, post: str) -> list[Appointment]:
    """Every appointment to `post` at `mine`, latest first."""
    return list(Appointment.objects.filter(mine=mine, post=post).select_related("person")
                .order_by("-start_date", "-pk"))


@dataclass(frozen=True)
class Holder:
    appointment: Appointment
    person: Person
    gaps: list[str]
    incumbent: bool
    deadline: dt.date | None  # by when an unqualified holder must be adjusted
    overdue: bool

    @property
    def qualified(self) -> bool:
        return not self.gaps


def holder_status(appointment: Appointment, today: dt.date, rule_set: Rules) -> Holder:
    gaps = qualification_gaps(appointment.person, appointment.post, rule_set)
    incumbent = is_incumbent(appointment, rule_set)
    deadline = None
    if gaps:
        # An unqualified new holder (possible only when the record or the rules changed later) was due at once.
        deadline = rule_set.incumbents_fix_by if incumbent else appointment.start_date
    return Holder(appointment=appointment, person=appointment.person, gaps=gaps, incumbent=incumbent,
                  deadline=deadline, overdue=bool(gaps) and today > deadline)


@dataclass(frozen=True)
class PostRow:
    post: str
    label: str
    single: bool
    five: bool
    technical: bool
    holders: list[Holder]
    history: list[Appointment] = field(default_factory=list)


def mine_ledger(mine: Mine, today: dt.date | None = None, rule_set: Rules | None = None) -> list[PostRow]:
    """The key-positions ledger of one mine: every catalogue post with its current holders (qualification
    status) and its appointment history, latest first."""
    today = today or timezone.localdate()
    rule_set = rule_set or rules()
    by_post: dict[str, list[Appointment]] = defaultdict(list)
    for appointment in Appointment.objects.filter(mine=mine).select_related("person").order_by("-start_date", "-pk"):
        by_post[appointment.post].append(appointment)
    rows = []
    for code, item in rule_set.posts.items():
        history = by_post.pop(code, [])
        holders = [holder_status(a, today, rule_set) for a in reversed(history)
                   if a.person.active and a.start_date <= today and (a.end_date is None or a.end_date > today)]
        rows.append(PostRow(post=code, label=common.label(item), single=bool(item.get("single")),
                            five=bool(item.get("five")), technical=bool(item.get("technical")), holders=holders,
                            history=history))
    for code, history in by_post.items():  # a post the catalogue no longer has: keep its history visible
        rows.append(PostRow(post=code, label=code, single=False, five=False, technical=False, holders=[],
                            history=history))
    return rows


# Compliance and flags ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ComplianceRow:
    mine: Mine
    county: Region
    person: Person
    post: str
    post_label: str
    appointment: Appointment
    gaps: list[str]
    incumbent: bool
    deadline: dt.date
    overdue: bool


def _current_appointments(user, today: dt.date):
    return Appointment.objects.visible_to(user).filter(current_q(today), person__active=True) \
        .exclude(mine__status=Mine.Status.CLOSED) \
        .select_related("person", "mine__county", "mine__enterprise")


def compliance_list(user, today: dt.date | None = None, rule_set: Rules | None = None) -> list[ComplianceRow]:
    """Current holders in the user's scope who fall short of their post's rule: incumbents with the deadline to
    adjust them (overdue after it), and any unqualified new holder (overdue at once). Ordered by county, mine."""
    today = today or timezone.localdate()
    rule_set = rule_set or rules()
    ruled = [code for code in rule_set.posts if rule_set.rule_for(code) is not None]
    rows = []
    for appointment in _current_appointments(user, today).filter(post__in=ruled):
        holder = holder_status(appointment, today, rule_set)
        if holder.gaps:
            mine = appointment.mine
            rows.append(ComplianceRow(mine=mine, county=mine.county, person=appointment.person,
                                      post=appointment.post, post_label=rule_set.post_label(appointment.post),
                                      appointment=appointment, gaps=holder.gaps, incumbent=holder.incumbent,
                                      deadline=holder.deadline, overdue=holder.overdue))
    order = list(rule_set.posts)
    rows.sort(key=lambda r: (r.county.code, r.mine.name, r.mine.pk, order.index(r.post) if r.post in order else 99,
                             r.person.name))
    return rows


def last_seen(person: Person, today: dt.date | None = None) -> dt.date | None:
    """The latest attendance evidence of `person` up to `today`: an exam at inspection, a training record, or the
    start of an appointment. The platform has no per-person positioning data, so these stand in for it."""
    today = today or timezone.localdate()
    dates = [Exam.objects.filter(person=person, held_on__lte=today).aggregate(m=Max("held_on"))["m"],
             TrainingRecord.objects.filter(person=person, held_on__lte=today).aggregate(m=Max("held_on"))["m"],
             Appointment.objects.filter(person=person, start_date__lte=today).aggregate(m=Max("start_date"))["m"]]
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else None


def _with_last_seen(appointments, today: dt.date):
    """Annotate `seen_exam`, `seen_training`, `seen_appointment`: the evidence dates of `last_seen`, in bulk."""
    def latest(model, date_field):
        return Subquery(model.objects.filter(person_id=OuterRef("person_id"), **{f"{date_field}__lte": today})
                        .order_by().values("person_id").annotate(m=Max(date_field)).values("m")[:1])
    return appointments.annotate(seen_exam=latest(Exam, "held_on"), seen_training=latest(TrainingRecord, "held_on"),
                                 seen_appointment=latest(Appointment, "start_date"))


@dataclass(frozen=True)
class Flag:
    kind: str  # a FlagKind
    mine: Mine
    county: Region
    detail: str
    person: Person | None = None
    post: str = ""
    post_label: str = ""
    count: int = 0  # frequent changes: appointments counted
    last_seen: dt.date | None = None  # nominal-only: the latest evidence (None: none at all)

    @property
    def kind_label(self) -> str:
        return str(FlagKind(self.kind).label)


class FlagKind(models.TextChoices):
    FREQUENT_CHANGES = "frequent_chief_changes", gettext_lazy("Frequent changes of five mine chiefs")
    NOMINAL_ONLY = "nominal_only", gettext_lazy("Appointed but absent (挂名不履职)")


FREQUENT_CHANGES = FlagKind.FREQUENT_CHANGES
NOMINAL_ONLY = FlagKind.NOMINAL_ONLY


def chief_changes(mines, today: dt.date, rule_set: Rules) -> dict[int, int]:
    """Per mine id (`mines`: ids, or a queryset of them): the changes of holder of a five post that began within
    the last `within_months` months. A change is an appointment to a post the mine had filled before (the first
    holder ever recorded for a post is not a change, so recording a mine's ledger for the first time flags
    nothing)."""
    since = add_months(today, -rule_set.frequent_within_months)
    seen: set[tuple[int, str]] = set()
    counts: dict[int, int] = defaultdict(int)
    rows = Appointment.objects.filter(mine__in=mines, post__in=rule_set.five_posts(), start_date__lte=today) \
        .order_by("mine_id", "post", "start_date", "pk").values_list("mine_id", "post", "start_date")
    for mine_id, post, start in rows:
        if (mine_id, post) in seen and start > since:
            counts[mine_id] += 1
        seen.add((mine_id, post))
    return counts


def _frequent_detail(count: int, rule_set: Rules) -> str:
    return _("%(n)d changes of five mine chiefs in the last %(m)d months (more than %(k)d)") % {
        "n": count, "m": rule_set.frequent_within_months, "k": rule_set.frequent_more_than}


def _tell_county_of_frequent_changes(mine: Mine, rule_set: Rules) -> None:
    """When this appointment takes the mine over the threshold, the county must look at it."""
    count = chief_changes([mine.pk], timezone.localdate(), rule_set).get(mine.pk, 0)
    if count == rule_set.frequent_more_than + 1:
        notify.send(_("Frequent changes of mine chiefs: %(m)s") % {"m": mine.name}, _frequent_detail(count, rule_set),
                    ledger_link(mine), organisations=Organisation.objects.filter(
                        kind=Organisation.Kind.COUNTY, region_id=mine.county_id))


def flags(user, today: dt.date | None = None, rule_set: Rules | None = None) -> list[Flag]:
    """The warning signs in the user's scope: mines whose five mine chiefs change too often, and current key-post
    holders with no attendance evidence (exam, training, appointment) for more than `absent_days` days."""
    today = today or timezone.localdate()
    rule_set = rule_set or rules()
    result: list[Flag] = []
    visible = Mine.objects.visible_to(user).exclude(status=Mine.Status.CLOSED)
    mines = {m.pk: m for m in visible.select_related("county")}
    for mine_id, count in chief_changes(visible.values("pk"), today, rule_set).items():
        if count > rule_set.frequent_more_than:
            mine = mines[mine_id]
            result.append(Flag(kind=FREQUENT_CHANGES, mine=mine, county=mine.county, count=count,
                               detail=_frequent_detail(count, rule_set)))
    cutoff = today - dt.timedelta(days=rule_set.absent_days)
    appointments = _with_last_seen(_current_appointments(user, today).exclude(post__in=ATTENDANCE_EXEMPT_POSTS),
                                   today)
    for appointment in appointments:
        seen = max([d for d in (appointment.seen_exam, appointment.seen_training, appointment.seen_appointment)
                    if d is not None], default=None)
        if seen is None or seen < cutoff:
            mine = appointment.mine
            result.append(Flag(
                kind=NOMINAL_ONLY, mine=mine, county=mine.county, person=appointment.person, post=appointment.post,
                post_label=rule_set.post_label(appointment.post), last_seen=seen,
                detail=_("no attendance evidence (exam, training) for more than %(n)d days") % {
                    "n": rule_set.absent_days}))
    result.sort(key=lambda f: (f.county.code, f.mine.name, f.mine.pk, f.kind, f.person.name if f.person else ""))
    return result
