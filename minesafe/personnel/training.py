"""Training (培训), plan tasks 1 and 3: providers and their checks, training records, coverage.

Providers are created and checked by the city or a county. A check that finds fake training or fake
certificates bars the provider for good: it takes no new records, and its records no longer count for
coverage (the enterprises whose people it trained are told). Person trainings are recorded by the mine's
enterprise or its regulators; the enforcement staff's rotation training (`official`, a county or city user)
by the city.

Coverage: `annual_coverage` — per county, the share of principal heads and five-post holders (appointments open
in the year) with a passed annual training of the right kind in that year (the plan wants all of them);
`rotation_coverage` — per county and the city, the share of enforcement users trained within the rotation
period (三年轮训一遍).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.scoping import is_city, scope_q
from minesafe.core.validators import credit_code_error
from minesafe.registry.models import Mine

from . import common
from .models import Appointment, Person, ProviderCheck, TrainingProvider, TrainingRecord

K = TrainingRecord.Kind
S = TrainingProvider.Standing
PERSON_KINDS = [K.PRINCIPAL_ANNUAL, K.CHIEF_ANNUAL, K.SPECIAL_OPERATION, K.STAFF]
ENFORCEMENT_ROLES = [User.Role.CITY, User.Role.COUNTY]
MAX_HOURS = Decimal(1000)
PRINCIPAL_POST = "principal"


# Permissions -------------------------------------------------------------------------------------
def may_manage_providers(user) -> bool:
    """Providers are created and checked by the city or a county."""
    return is_city(user) or bool(user and user.is_authenticated and user.role == User.Role.COUNTY)


def require_provider_manager(user) -> None:
    if not may_manage_providers(user):
        raise PermissionDenied(_("only the city or a county may manage training providers"))


def may_record_rotation(user) -> bool:
    return is_city(user)


# Helpers -----------------------------------------------------------------------------------------
def training_config() -> dict:
    return common.catalogue().get("training") or {}


def rotation_years() -> int:
    return int(training_config().get("enforcement_rotation_years", 3))


def annual_target() -> float:
    """The plan wants every principal head and five-post holder trained each year (full coverage)."""
    return float(training_config().get("annual_target", 1.0))


def annual_kind_for_post(post: str) -> str | None:
    if post == PRINCIPAL_POST:
        return K.PRINCIPAL_ANNUAL
    if post in common.five_post_codes():
        return K.CHIEF_ANNUAL
    return None


def counts_q() -> Q:
    """Records that count for coverage: passed, and not from a barred provider."""
    return Q(passed=True) & (Q(provider__isnull=True) | ~Q(provider__standing=S.BARRED))


def provider_link(provider: TrainingProvider) -> str:
    return reverse("personnel:training-provider-detail", args=[provider.pk])


def _text(errors: dict, field: str, value, model, required: str | None = None) -> str:
    value = (value or "").strip()
    limit = model._meta.get_field(field).max_length
    if required and not value:
        errors[field] = required
    elif limit and len(value) > limit:
        errors[field] = _("at most %(n)d characters") % {"n": limit}
    return value


def _day(errors: dict, field: str, day: dt.date | None, today: dt.date, required: str) -> None:
    if day is None:
        errors[field] = required
    elif day > today:
        errors[field] = _("cannot be in the future")


def _decimal(errors: dict, field: str, value, low: Decimal, high: Decimal, *, required: bool,
             low_inclusive: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors[field] = _("required")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors[field] = _("not a number")
        return None
    if not number.is_finite() or number > high or number < low or (not low_inclusive and number == low):
        errors[field] = (_("must be more than %(a)s and at most %(b)s") if not low_inclusive
                         else _("must be between %(a)s and %(b)s")) % {"a": low, "b": high}
        return None
    return number.quantize(Decimal("0.1"))


# Providers ---------------------------------------------------------------------------------------
def create_provider(actor: User, *, name: str, credit_code: str = "", qualification: str = "") -> TrainingProvider:
    require_provider_manager(actor)
    errors: dict[str, str] = {}
    name = _text(errors, "name", name, TrainingProvider, _("name the provider"))
    credit_code = (credit_code or "").strip().upper()
    if credit_code and (reason := credit_code_error(credit_code)):
        errors["credit_code"] = reason
    qualification = _text(errors, "qualification", qualification, TrainingProvider)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        if TrainingProvider.objects.filter(name=name).exists():
            raise ValidationError({"name": _("a provider with this name is already recorded")})
        provider = TrainingProvider.objects.create(name=name, credit_code=credit_code, qualification=qualification,
                                                   created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, provider, after=audit.snapshot(provider))
    return provider


def check_provider(actor: User, provider: TrainingProvider, *, checked_on: dt.date, findings: str,
                   result: str) -> ProviderCheck:
    """Record a check of a provider; its result becomes the provider's standing. A check finding fake training
    or certificates (result `barred`) bars the provider for good."""
    require_provider_manager(actor)
    errors: dict[str, str] = {}
    today = timezone.localdate()
    _day(errors, "checked_on", checked_on, today, _("give the check date"))
    findings = (findings or "").strip()
    if not findings:
        errors["findings"] = _("say what the check found")
    if result not in S.values:
        errors["result"] = _("unknown result")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        current = TrainingProvider.objects.select_for_update().get(pk=provider.pk)
        if current.standing == S.BARRED and result != S.BARRED:
            raise InvalidTransition(_("the provider was barred for fake training or certificates; it stays barred"))
        latest = current.checks.order_by("-checked_on").values_list("checked_on", flat=True).first()
        if latest and checked_on < latest:
            raise ValidationError({"checked_on": _("is before the provider's latest check (%(d)s)") % {"d": latest}})
        check = ProviderCheck.objects.create(provider=current, checked_on=checked_on, findings=findings,
                                             result=result, checked_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, check, after=audit.snapshot(check))
        if current.standing != result:
            audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"standing": current.standing},
                         after={"standing": result, "check": check.pk})
            barring = result == S.BARRED
            current.standing = result
            current.save(update_fields=["standing"])
            if barring:
                _tell_trained_enterprises(current, findings)
    provider.standing = current.standing
    return check


def _tell_trained_enterprises(provider: TrainingProvider, findings: str) -> None:
    """The enterprises whose people the provider trained, and their counties: that training no longer counts."""
    mines = Mine.objects.filter(people__trainings__provider=provider).select_related("enterprise").distinct()
    organisations = {m.enterprise.organisation_id for m in mines}
    counties = {m.county_id for m in mines}
    orgs = list(Organisation.objects.filter(Q(pk__in=organisations) | Q(kind=Organisation.Kind.COUNTY,
                                                                         region_id__in=counties)))
    if orgs:
        notify.send(_("Training provider barred: %(p)s; its training no longer counts, retrain the people "
                      "concerned") % {"p": provider.name}, findings, provider_link(provider), organisations=orgs)


# Records -----------------------------------------------------------------------------------------
def _record_errors(*, held_on, hours, score, provider, today) -> tuple[dict, Decimal | None, Decimal | None]:
    errors: dict[str, str] = {}
    _day(errors, "held_on", held_on, today, _("give the training date"))
    hours = _decimal(errors, "hours", hours, Decimal(0), MAX_HOURS, required=True, low_inclusive=False)
    score = _decimal(errors, "score", score, Decimal(0), Decimal(100), required=False)
    if provider is not None and provider.standing == S.BARRED:
        errors["provider"] = _("the provider is barred (fake training or certificates); its training does not "
                               "count")
    return errors, hours, score


def _create_record(actor: User, provider: TrainingProvider | None, duplicate: Q, **values) -> TrainingRecord:
    with transaction.atomic():
        audit.lock_chain()
        if provider is not None:  # barred meanwhile?
            standing = TrainingProvider.objects.select_for_update().values_list("standing", flat=True).get(
                pk=provider.pk)
            if standing == S.BARRED:
                raise ValidationError({"provider": _("the provider is barred (fake training or certificates)")})
        if TrainingRecord.objects.filter(duplicate).exists():
            raise DomainError(_("this training is already recorded"), field="held_on", code="duplicate")
        record = TrainingRecord.objects.create(provider=provider, created_by=actor, **values)
        audit.record(actor, AuditEvent.Action.CREATE, record, after=common.snapshot(record))
    return record


def record_training(actor: User, person: Person, *, kind: str, held_on: dt.date, hours,
                    provider: TrainingProvider | None = None, category: str = "", passed: bool = True,
                    score=None) -> TrainingRecord:
    """A person's training (the mine's enterprise, its county or the city). Special-operation training names
    the catalogue category; a barred provider is refused."""
    common.require_write(actor, person.mine)
    today = timezone.localdate()
    errors, hours, score = _record_errors(held_on=held_on, hours=hours, score=score, provider=provider, today=today)
    if kind not in PERSON_KINDS:
        errors["kind"] = _("not a kind of person training")
    category = (category or "").strip()
    if kind == K.SPECIAL_OPERATION:
        if category not in common.operation_categories():
            errors["category"] = _("name the special-operation category")
    elif category:
        errors["category"] = _("only special-operation training has a category")
    if errors:
        raise ValidationError(errors)
    duplicate = Q(person=person, kind=kind, held_on=held_on, category=category)
    return _create_record(actor, provider, duplicate, kind=kind, person=person, category=category,
                          held_on=held_on, hours=hours, passed=bool(passed), score=score)


def is_enforcement_user(user) -> bool:
    return bool(user and user.is_active and user.role in ENFORCEMENT_ROLES)


def record_rotation_training(actor: User, official: User, *, held_on: dt.date, hours,
                             provider: TrainingProvider | None = None, passed: bool = True,
                             score=None) -> TrainingRecord:
    """An enforcement official's rotation training (recorded by the city); `official` is a county or city user."""
    if not may_record_rotation(actor):
        raise PermissionDenied(_("only the city records the enforcement staff's rotation training"))
    today = timezone.localdate()
    errors, hours, score = _record_errors(held_on=held_on, hours=hours, score=score, provider=provider, today=today)
    if not is_enforcement_user(official):
        errors["official"] = _("must be an active county or city enforcement user")
    if errors:
        raise ValidationError(errors)
    duplicate = Q(official=official, kind=K.ENFORCEMENT_ROTATION, held_on=held_on)
    return _create_record(actor, provider, duplicate, kind=K.ENFORCEMENT_ROTATION, official=official,
                          held_on=held_on, hours=hours, passed=bool(passed), score=score)


# Reading -----------------------------------------------------------------------------------------
def person_records_q(user) -> Q:
    return scope_q(user, TrainingRecord.objects.all().scope_paths) & Q(person__isnull=False)


def rotation_records_q(user) -> Q:
    """Rotation records: the city sees all; a county its own officials'; an official always their own."""
    if not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    own = Q(kind=K.ENFORCEMENT_ROTATION, official=user)
    if is_city(user):
        return Q(kind=K.ENFORCEMENT_ROTATION, person__isnull=True)
    if user.role == User.Role.COUNTY and user.organisation_id:
        return own | Q(kind=K.ENFORCEMENT_ROTATION, person__isnull=True, official__role=User.Role.COUNTY,
                       official__organisation__region_id=user.organisation.region_id)
    return own


def visible_records(user):
    """Every training record `user` may read: person records through their mine, rotation records as above."""
    return TrainingRecord.objects.filter(person_records_q(user) | rotation_records_q(user))


def enforcement_users(user=None):
    """The county and city enforcement users (active) whose rotation `user` may see (None: all)."""
    users = User.objects.filter(is_active=True, role__in=ENFORCEMENT_ROLES).select_related("organisation__region")
    if user is None or is_city(user):
        return users
    if user.is_authenticated and user.role == User.Role.COUNTY and user.organisation_id:
        return users.filter(role=User.Role.COUNTY, organisation__region_id=user.organisation.region_id)
    return users.none()


@dataclass(frozen=True)
class MissingTraining:
    person_id: int
    person_name: str
    mine_id: int
    mine_name: str
    posts: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class CountyCoverage:
    county_code: str
    county_name: str
    required: int
    trained: int
    share: float | None  # None when no one needs training
    target: float
    missing: tuple[MissingTraining, ...]

    @property
    def meets_target(self) -> bool:
        return self.share is None or self.share >= self.target


@dataclass(frozen=True)
class AnnualCoverage:
    year: int
    target: float
    required: int
    trained: int
    share: float | None
    counties: tuple[CountyCoverage, ...]


def _share(trained: int, required: int) -> float | None:
    return trained / required if required else None


def annual_coverage(user, year: int) -> AnnualCoverage:
    """Per county in `user`'s scope: of the principal heads and five-post holders (appointments open at some
    time in `year`, at working mines), how many passed an annual training of their kind in `year` (a record
    from a barred provider does not count); one obligation per person and kind. Training is matched by ID
    number, so a person recorded at two mines is trained once."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    mines = Mine.objects.visible_to(user).exclude(status=Mine.Status.CLOSED)
    five = common.five_post_codes()
    labels = {code: common.label(p) for code, p in common.posts().items()}
    appointments = (Appointment.objects.filter(mine__in=mines, post__in=[PRINCIPAL_POST, *five],
                                               start_date__lte=end)
                    .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
                    .select_related("person", "mine__county").order_by("mine__county__code", "mine__name", "pk"))
    obligations: dict[tuple[int, str], dict] = {}
    for appointment in appointments:
        kind = annual_kind_for_post(appointment.post)
        entry = obligations.setdefault((appointment.person_id, kind), {
            "person": appointment.person, "mine": appointment.mine, "kind": kind, "posts": []})
        entry["posts"].append(labels.get(appointment.post, appointment.post))
    ids = {e["person"].id_number for e in obligations.values()}
    trained = set(TrainingRecord.objects.filter(counts_q(), kind__in=[K.PRINCIPAL_ANNUAL, K.CHIEF_ANNUAL],
                                                held_on__gte=start, held_on__lte=end,
                                                person__id_number__in=ids)
                  .values_list("person__id_number", "kind"))
    counties = {m.county_id: m.county for m in mines.select_related("county")}
    tally = {cid: {"required": 0, "trained": 0, "missing": []} for cid in counties}
    for entry in obligations.values():
        county = tally[entry["mine"].county_id]
        county["required"] += 1
        if (entry["person"].id_number, entry["kind"]) in trained:
            county["trained"] += 1
        else:
            county["missing"].append(MissingTraining(entry["person"].pk, entry["person"].name, entry["mine"].pk,
                                                     entry["mine"].name, tuple(entry["posts"]), entry["kind"]))
    target = annual_target()
    rows = tuple(CountyCoverage(region.code, str(region), tally[cid]["required"], tally[cid]["trained"],
                                _share(tally[cid]["trained"], tally[cid]["required"]), target,
                                tuple(tally[cid]["missing"]))
                 for cid, region in sorted(counties.items(), key=lambda kv: kv[1].code))
    required, done = sum(r.required for r in rows), sum(r.trained for r in rows)
    return AnnualCoverage(year, target, required, done, _share(done, required), rows)


@dataclass(frozen=True)
class UnitRotation:
    unit: str  # a county code, or "city"
    unit_name: str
    officials: int
    trained: int
    share: float | None
    missing: tuple[User, ...]


@dataclass(frozen=True)
class RotationCoverage:
    year: int
    years: int
    window_start: dt.date
    window_end: dt.date
    officials: int
    trained: int
    share: float | None
    units: tuple[UnitRotation, ...]


def rotation_window(year: int) -> tuple[dt.date, dt.date]:
    """The rotation period ending with `year`: the calendar years year-(n-1) .. year."""
    return dt.date(year - rotation_years() + 1, 1, 1), dt.date(year, 12, 31)


def rotation_coverage(year: int, user=None) -> RotationCoverage:
    """The share of county and city enforcement users (active) with a passed rotation training within the
    rotation period ending with `year` (a record from a barred provider does not count), per county and the
    city; `user` limits it to what they may see (None: all)."""
    start, end = rotation_window(year)
    officials = list(enforcement_users(user).order_by("username"))
    trained = set(TrainingRecord.objects.filter(counts_q(), kind=K.ENFORCEMENT_ROTATION, held_on__gte=start,
                                                held_on__lte=end, official__in=[o.pk for o in officials])
                  .values_list("official_id", flat=True))
    units: dict[str, dict] = {}
    for official in officials:
        if official.role == User.Role.COUNTY and official.organisation_id:
            region = official.organisation.region
            key, name = region.code, str(region)
        else:
            key, name = "city", _("City bureau")
        unit = units.setdefault(key, {"name": name, "officials": 0, "trained": 0, "missing": []})
        unit["officials"] += 1
        if official.pk in trained:
            unit["trained"] += 1
        else:
            unit["missing"].append(official)
    rows = tuple(UnitRotation(key, u["name"], u["officials"], u["trained"], _share(u["trained"], u["officials"]),
                              tuple(u["missing"]))
                 for key, u in sorted(units.items(), key=lambda kv: (kv[0] != "city", kv[0])))
    total, done = sum(r.officials for r in rows), sum(r.trained for r in rows)
    return RotationCoverage(year, rotation_years(), start, end, total, done, _share(done, total), rows)
