"""The hidden disaster-causing factor census (隐蔽致灾因素普查), plan task 15.

A census of a mine by a third-party provider covers 3-5 years of planned mining (the catalogue's
`census.scope_years`). Factors are recorded while it is in progress; each factor's treatment only moves
forward (untreated -> treating -> treated). A completed census found falsified is marked so, the offence is
recorded, and a new census is required. `census_treated` answers the resumption checklist's precondition.

Every function checks permission, validates, changes state and audits in one transaction.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.registry.models import Mine
from minesafe.registry.services import is_mine_owner

from . import common
from .models import Census, HiddenFactor, Offence
from .resumption import record_offence

C = Census.Status
T = HiddenFactor.Treatment
TREATMENT_ORDER = [T.UNTREATED, T.TREATING, T.TREATED]
OFFENCE_SOURCE = "operations.census:{pk}"


# Permissions -------------------------------------------------------------------------------------
def may_write(user: User, mine: Mine) -> bool:
    """The mine's county, the city, or the mine's own enterprise (which commissions the census)."""
    return common.is_regulator(user, mine) or is_mine_owner(user, mine)


def may_falsify(user: User, mine: Mine) -> bool:
    """Only a regulator finds a census falsified; never the enterprise that commissioned it."""
    return common.is_regulator(user, mine)


def require_writer(user: User, mine: Mine) -> None:
    if not may_write(user, mine):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may record its census"))


# Helpers -----------------------------------------------------------------------------------------
def scope_year_range() -> tuple[int, int]:
    low, high = common.catalogue()["census"]["scope_years"]
    return int(low), int(high)


def census_link(census: Census) -> str:
    return reverse("operations:census-detail", args=[census.pk])


def regulator_organisations(mine: Mine) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))


def _required_text(errors: dict, field: str, value: str, message: str, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if not value:
        errors[field] = message
    elif max_length and len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _not_future(errors: dict, field: str, day: dt.date | None, today: dt.date, required: str) -> None:
    if day is None:
        errors[field] = required
    elif day > today:
        errors[field] = _("cannot be in the future")




# The census --------------------------------------------------------------------------------------
def open_census(actor: User, mine: Mine, *, provider: str, scope_years: int, started_on: dt.date) -> Census:
    """Start a census of `mine` by a provider covering `scope_years` years of planned mining."""
    require_writer(actor, mine)
    if mine.status == Mine.Status.CLOSED:
        raise DomainError(_("the mine is closed"), field="mine")
    low, high = scope_year_range()
    errors: dict[str, str] = {}
    provider = _required_text(errors, "provider", provider, _("name the census provider"),
                              Census._meta.get_field("provider").max_length)
    if not isinstance(scope_years, int) or not low <= scope_years <= high:
        errors["scope_years"] = _("must cover %(a)d to %(b)d years of planned mining") % {"a": low, "b": high}
    today = timezone.localdate()
    _not_future(errors, "started_on", started_on, today, _("give the start date"))
    latest = Census.objects.filter(mine=mine).order_by("-started_on", "-pk").first()
    if started_on and "started_on" not in errors and latest and started_on < latest.started_on:
        errors["started_on"] = _("is before the mine's latest census began (%(d)s)") % {"d": latest.started_on}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        list(Mine.objects.select_for_update().filter(pk=mine.pk).order_by().values_list("pk"))  # one at a time
        if Census.objects.filter(mine=mine, status=C.IN_PROGRESS).exists():
            raise DomainError(_("a census of this mine is already in progress"), field="mine", code="duplicate")
        census = Census.objects.create(mine=mine, provider=provider, scope_years=scope_years,
                                       started_on=started_on, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, census, after=audit.snapshot(census))
    return census


def add_factor(actor: User, census: Census, *, kind: str, location: str, description: str) -> HiddenFactor:
    """Record a factor the census found (only while the census is in progress)."""
    require_writer(actor, census.mine)
    if census.status != C.IN_PROGRESS:
        raise InvalidTransition(_("factors are added only while the census is in progress"))
    errors: dict[str, str] = {}
    if kind not in HiddenFactor.Kind.values:
        errors["kind"] = _("unknown kind of factor")
    location = _required_text(errors, "location", location, _("say where the factor lies"),
                              HiddenFactor._meta.get_field("location").max_length)
    description = _required_text(errors, "description", description, _("describe the factor"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(Census, census)
        if current.status != C.IN_PROGRESS:
            raise InvalidTransition(_("the census changed meanwhile; reload and try again"))
        factor = HiddenFactor.objects.create(census=current, kind=kind, location=location, description=description)
        audit.record(actor, AuditEvent.Action.CREATE, factor, after=audit.snapshot(factor))
    return factor


def set_treatment(actor: User, factor: HiddenFactor, treatment: str, *, treated_on: dt.date | None = None,
                  note: str = "") -> HiddenFactor:
    """Move a factor's treatment forward; `treated_on` (not in the future) is required for treated."""
    census = factor.census
    require_writer(actor, census.mine)
    if census.status == C.FALSIFIED:
        raise InvalidTransition(_("the census was found falsified; a new census is required"))
    if treatment not in T.values:
        raise ValidationError({"treatment": _("unknown treatment status")})
    if TREATMENT_ORDER.index(treatment) <= TREATMENT_ORDER.index(factor.treatment):
        raise InvalidTransition(_("treatment only moves forward: the factor is already %(s)s") % {
            "s": T(factor.treatment).label})
    errors: dict[str, str] = {}
    today = timezone.localdate()
    if treatment == T.TREATED:
        _not_future(errors, "treated_on", treated_on, today, _("give the date the treatment was completed"))
        if "treated_on" not in errors and treated_on < census.started_on:
            errors["treated_on"] = _("is before the census began (%(d)s)") % {"d": census.started_on}
    elif treated_on is not None:
        errors["treated_on"] = _("only a treated factor has a treatment date")
    note = (note or "").strip()
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(HiddenFactor, factor)
        census_now = Census.objects.get(pk=current.census_id)
        if census_now.status == C.FALSIFIED or current.treatment != factor.treatment:
            raise InvalidTransition(_("the factor changed meanwhile; reload and try again"))
        before = audit.snapshot(current, ["treatment", "treatment_note", "treated_on"])
        current.treatment = treatment
        current.treated_on = treated_on if treatment == T.TREATED else None
        if note:
            current.treatment_note = note
        current.save(update_fields=["treatment", "treatment_note", "treated_on"])
        old, new = audit.diff(before, audit.snapshot(current, ["treatment", "treatment_note", "treated_on"]))
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=old, after=new)
    common.copy_back(current, factor)
    return factor


def complete_census(actor: User, census: Census, *, completed_on: dt.date, report_summary: str) -> Census:
    """in_progress -> completed, with the report's summary."""
    require_writer(actor, census.mine)
    if census.status != C.IN_PROGRESS:
        raise InvalidTransition(_("only a census in progress can be completed"))
    errors: dict[str, str] = {}
    _not_future(errors, "completed_on", completed_on, timezone.localdate(), _("give the completion date"))
    if "completed_on" not in errors and completed_on < census.started_on:
        errors["completed_on"] = _("is before the census began (%(d)s)") % {"d": census.started_on}
    report_summary = _required_text(errors, "report_summary", report_summary, _("summarise the census report"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(Census, census)
        if current.status != C.IN_PROGRESS:
            raise InvalidTransition(_("the census changed meanwhile; reload and try again"))
        current.status, current.completed_on, current.report_summary = C.COMPLETED, completed_on, report_summary
        current.save(update_fields=["status", "completed_on", "report_summary"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": C.IN_PROGRESS}, after={
            "status": C.COMPLETED, "completed_on": completed_on, "report_summary": report_summary})
        if not common.is_regulator(actor, census.mine):  # the county reviews what the enterprise filed
            notify.send(_("Hidden-factor census completed: %(m)s") % {"m": census.mine.name},
                        census.provider, census_link(current), organisations=regulator_organisations(census.mine))
    common.copy_back(current, census)
    return census


def mark_falsified(actor: User, census: Census, *, note: str, accountability: str) -> Census:
    """completed -> falsified: the finding and who answers for it; the offence is recorded, a redo required."""
    if not may_falsify(actor, census.mine):
        raise PermissionDenied(_("only the mine's county or the city may find a census falsified"))
    if census.status != C.COMPLETED:
        raise InvalidTransition(_("only a completed census can be found falsified"))
    errors: dict[str, str] = {}
    note = _required_text(errors, "falsification_note", note, _("say what was found falsified"))
    accountability = _required_text(errors, "accountability", accountability,
                                    _("say who answers for it and what follows"))
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        current = common.locked_row(Census, census)
        if current.status != C.COMPLETED:
            raise InvalidTransition(_("the census changed meanwhile; reload and try again"))
        current.status, current.falsification_note, current.accountability = C.FALSIFIED, note, accountability
        current.save(update_fields=["status", "falsification_note", "accountability"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": C.COMPLETED}, after={
            "status": C.FALSIFIED, "falsification_note": note, "accountability": accountability})
        record_offence(actor, census.mine, Offence.Kind.FALSIFIED_CENSUS, found_on=today,
                       description=_("Census by %(p)s completed %(d)s found falsified: %(n)s. Accountability: %(a)s")
                       % {"p": current.provider, "d": current.completed_on, "n": note, "a": accountability},
                       source=OFFENCE_SOURCE.format(pk=current.pk))
        notify.send(_("Hidden-factor census found falsified: %(m)s; a new census is required") % {
            "m": census.mine.name}, note, census_link(current),
            organisations=[census.mine.enterprise.organisation, *regulator_organisations(census.mine)])
    common.copy_back(current, census)
    return census


# Reading -----------------------------------------------------------------------------------------
def with_counts(censuses):
    """Annotate factor counts: `factor_count` and `untreated_count` (not yet treated)."""
    return censuses.annotate(factor_count=Count("factors"),
                             untreated_count=Count("factors", filter=~Q(factors__treatment=T.TREATED)))


def latest_census(mine: Mine) -> Census | None:
    return Census.objects.filter(mine=mine).order_by("-started_on", "-pk").first()


def census_treated(mine: Mine) -> tuple[bool, str]:
    """The resumption precondition: the mine's latest census is completed (not falsified) and every factor it
    found is treated. Returns (passed, evidence or reason)."""
    census = latest_census(mine)
    if census is None:
        return False, _("no completed census")
    if census.status == C.FALSIFIED:
        return False, _("latest census (by %(p)s, completed %(d)s) found falsified; a new census is required") % {
            "p": census.provider, "d": census.completed_on}
    if census.status == C.IN_PROGRESS:
        return False, _("no completed census: the census by %(p)s begun %(d)s is in progress") % {
            "p": census.provider, "d": census.started_on}
    counts = census.factors.aggregate(total=Count("pk"), untreated=Count("pk", filter=~Q(treatment=T.TREATED)))
    total, untreated = counts["total"], counts["untreated"]
    if untreated:
        return False, ngettext("%(u)d of %(n)d factor not treated", "%(u)d of %(n)d factors not treated",
                               total) % {"u": untreated, "n": total}
    if total == 0:
        return True, _("census by %(p)s completed %(d)s: no hidden factors found") % {
            "p": census.provider, "d": census.completed_on}
    return True, ngettext("census by %(p)s completed %(d)s: %(n)d factor, treated",
                          "census by %(p)s completed %(d)s: %(n)d factors, all treated", total) % {
        "p": census.provider, "d": census.completed_on, "n": total}
