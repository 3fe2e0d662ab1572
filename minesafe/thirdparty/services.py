"""Oversight of third-party service firms (plan task 18): firms and their status, qualifications (资质),
engagements by mines, spot checks (抽查) of the firms' reports, and falsification cases (弄虚作假).

Every function checks the actor's permission, validates (ValidationError naming the field), changes state
through an explicit table of allowed transitions (InvalidTransition, HTTP 409, otherwise), writes the audit
event and notifies, in one transaction. Who does what:

- firms and qualifications: the officials (the city and the counties) register and maintain them; only the
  city suspends, reinstates, blacklists (失信) or removes a firm from the blacklist;
- engagements: the enterprise for its own mines, the mine's county or the city;
- checks: the mine's county or the city;
- falsification cases: the city, or the county that opened the case or whose mines it affects; actions that
  change the firm's status city-wide (suspension, blacklist) are the city's decision.
"""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.core.validators import credit_code_error
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from .models import (
    CaseAction,
    Check,
    Engagement,
    FalsificationCase,
    FalsifiedItem,
    Firm,
    FirmKind,
    FirmStatusChange,
    Qualification,
    ServiceKind,
    active_user,
    county_of,
    is_official,
)

FS = Firm.Status
CS = FalsificationCase.Status
KS = Check.Status
R = Check.Result
CATALOGUE = "thirdparty"
TEXT_MAX = 4000
EARLIEST = dt.date(1990, 1, 1)  # older dates are typing errors

# (from, to) -> the transition's name. Firm status changes are the city's.
FIRM_TRANSITIONS = {
    (FS.ACTIVE, FS.SUSPENDED): "suspend",
    (FS.SUSPENDED, FS.ACTIVE): "reinstate",
    (FS.ACTIVE, FS.BLACKLISTED): "blacklist",
    (FS.SUSPENDED, FS.BLACKLISTED): "blacklist",
    (FS.BLACKLISTED, FS.ACTIVE): "remove_from_blacklist",
}
CASE_TRANSITIONS = {
    (CS.UNDER_INVESTIGATION, CS.CONFIRMED): "confirm",
    (CS.UNDER_INVESTIGATION, CS.DISMISSED): "dismiss",
    (CS.CONFIRMED, CS.CLOSED): "close",
}
CHECK_TRANSITIONS = {(KS.OPEN, KS.CLOSED): "close_follow_up"}
FIRM_TRANSITION_LABELS = {"suspend": gettext_lazy("suspended"), "reinstate": gettext_lazy("reinstated"),
                          "blacklist": gettext_lazy("blacklisted"),
                          "remove_from_blacklist": gettext_lazy("removed from the blacklist")}
# Case actions that change the firm's status city-wide: the city decides them.
CITY_ACTIONS = {CaseAction.SUSPENSION, CaseAction.BLACKLIST}
FIRM_FIELDS = ("name", "credit_code", "address", "contact_person", "contact_phone", "note")
FIRM_STATUS_FIELDS = ["status", "status_since", "status_reason", "blacklist_notice", "blacklisted_until"]


# Catalogue ---------------------------------------------------------------------------------------
def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


def expiring_within_days() -> int:
    return int(catalogue()["qualifications"]["expiring_within_days"])


def follow_up_days(result: str) -> int | None:
    days = catalogue()["checks"]["follow_up_days"].get(result)
    return int(days) if days is not None else None


def blacklist_term_years() -> int:
    return int(catalogue()["blacklist"]["term_years"])


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# Permissions -------------------------------------------------------------------------------------
def require_official(user) -> None:
    if not is_official(user):
        raise PermissionDenied(_("only the city or a county may do this"))


def require_city(user) -> None:
    if not (active_user(user) and is_city(user)):
        raise PermissionDenied(_("only the city may change a firm's status"))


def may_record_engagement(user, mine: Mine) -> bool:
    """The mine's enterprise, its county or the city."""
    return active_user(user) and (can_manage_mine(user, mine) or is_mine_owner(user, mine))


def may_check(user, mine: Mine) -> bool:
    """The mine's county or the city."""
    return active_user(user) and can_manage_mine(user, mine)


def may_handle_case(user, case: FalsificationCase) -> bool:
    """The city, or the county that opened the case or whose mines it affects."""
    if not is_official(user):
        return False
    if is_city(user):
        return True
    return case.opened_by_org_id == user.organisation_id or case.mines.filter(county_id=county_of(user)).exists()


def require_case_handler(user, case: FalsificationCase) -> None:
    if not may_handle_case(user, case):
        raise PermissionDenied(_("only the city or the county handling the case may do this"))


# Validation helpers ------------------------------------------------------------------------------
def _text(errors: dict, field: str, value, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = ("" if value is None else str(value)).strip()
    if required and not value:
        errors[field] = required
    elif len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _date(errors: dict, field: str, value, required: str | None = None, *, not_future: bool = True):
    if value is None or value == "":
        if required:
            errors[field] = required
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        errors[field] = _("must be a date")
        return None
    if not_future and value > timezone.localdate():
        errors[field] = _("cannot be in the future")
    elif value < EARLIEST:
        errors[field] = _("is too far in the past")
    return value


def _phone(errors: dict, field: str, value) -> str:
    value = _text(errors, field, value, max_length=32)
    if value and not all(ch.isdigit() or ch in "+- ()" for ch in value):
        errors[field] = _("digits only (with + - ( ) and spaces)")
    return value


def _choices(errors: dict, field: str, values, choices, required: str) -> list[str]:
    """A list of distinct choice values in the choices' order; every unknown value is named."""
    if isinstance(values, str):
        values = [values]
    values = list(values or [])
    unknown = [str(v) for v in values if v not in choices.values]
    if unknown:
        errors[field] = _("unknown: %(v)s") % {"v": ", ".join(unknown[:5])[:200]}
        return []
    if not values:
        errors[field] = required
    return [v for v in choices.values if v in values]


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


# Notifications -----------------------------------------------------------------------------------
def city_organisations() -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


def county_organisations(region_ids: Iterable[int]) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id__in=set(region_ids)))


def firm_link(firm: Firm) -> str:
    return reverse("thirdparty:firm-detail", args=[firm.pk])


def check_link(check: Check) -> str:
    return reverse("thirdparty:check-detail", args=[check.pk])


def case_link(case: FalsificationCase) -> str:
    return reverse("thirdparty:case-detail", args=[case.pk])


# Firms -------------------------------------------------------------------------------------------
def _firm_errors(errors: dict, data: dict, exclude_pk: int | None = None) -> dict:
    """Check and clean the firm's fields present in `data`."""
    clean = {}
    if "name" in data:
        clean["name"] = _text(errors, "name", data["name"], _("give the firm's name"), 128)
        if clean["name"] and Firm.objects.filter(name=clean["name"]).exclude(pk=exclude_pk).exists():
            errors["name"] = _("a firm of this name is already registered")
    if "credit_code" in data:
        code = (data["credit_code"] or "").strip().upper()
        if reason := credit_code_error(code):
            errors["credit_code"] = _("Invalid unified social credit code: %(r)s") % {"r": reason}
        else:
            other = Firm.objects.filter(credit_code=code).exclude(pk=exclude_pk).first()
            if other is not None:
                errors["credit_code"] = _("already registered for %(n)s") % {"n": other.name}
        clean["credit_code"] = code
    if "address" in data:
        clean["address"] = _text(errors, "address", data["address"], max_length=200)
    if "contact_person" in data:
        clean["contact_person"] = _text(errors, "contact_person", data["contact_person"], max_length=64)
    if "contact_phone" in data:
        clean["contact_phone"] = _phone(errors, "contact_phone", data["contact_phone"])
    if "note" in data:
        clean["note"] = _text(errors, "note", data["note"])
    if "kinds" in data:
        clean["kinds"] = _choices(errors, "kinds", data["kinds"], ServiceKind,
                                  _("choose at least one kind of service"))
    return clean


def firm_snapshot(firm: Firm, fields=None) -> dict:
    data = audit.snapshot(firm, fields)
    if fields is None or "kinds" in fields:
        data["kinds"] = sorted(FirmKind.objects.filter(firm=firm).values_list("kind", flat=True))
    return data


def create_firm(actor: User, *, name: str, credit_code: str, kinds: Iterable[str], address: str = "",
                contact_person: str = "", contact_phone: str = "", note: str = "") -> Firm:
    require_official(actor)
    errors: dict[str, str] = {}
    clean = _firm_errors(errors, {"name": name, "credit_code": credit_code, "kinds": kinds, "address": address,
                                  "contact_person": contact_person, "contact_phone": contact_phone, "note": note})
    _raise(errors)
    kinds = clean.pop("kinds")
    with transaction.atomic():
        audit.lock_chain()
        firm = Firm.objects.create(created_by=actor, status_since=timezone.localdate(), **clean)
        FirmKind.objects.bulk_create([FirmKind(firm=firm, kind=k) for k in kinds])
        audit.record(actor, AuditEvent.Action.CREATE, firm, after=firm_snapshot(firm))
    return firm


def update_firm(actor: User, firm: Firm, **changes) -> Firm:
    """Change the firm's particulars and kinds of service (not its status: see the transitions)."""
    require_official(actor)
    unknown = set(changes) - {*FIRM_FIELDS, "kinds"}
    if unknown:
        raise ValidationError({name: _("cannot be changed here") for name in sorted(unknown)})
    errors: dict[str, str] = {}
    clean = _firm_errors(errors, changes, exclude_pk=firm.pk)
    _raise(errors)
    kinds = clean.pop("kinds", None)
    fields = [*clean, *(["kinds"] if kinds is not None else [])]
    with transaction.atomic():
        current = locked_row(Firm, firm)
        before = firm_snapshot(current, fields)
        for name, value in clean.items():
            setattr(current, name, value)
        if clean:
            current.save(update_fields=list(clean))
        if kinds is not None:
            FirmKind.objects.filter(firm=current).exclude(kind__in=kinds).delete()
            FirmKind.objects.bulk_create([FirmKind(firm=current, kind=k) for k in kinds], ignore_conflicts=True)
        old, new = audit.diff(before, firm_snapshot(current, fields))
        if new:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before=old, after=new)
    copy_back(current, firm)
    return firm


def _firm_transition(actor: User, firm: Firm, name: str, to: str, *, reason: str, effective_on: dt.date,
                     notice: str = "", case: FalsificationCase | None = None) -> Firm:
    """Move the firm along FIRM_TRANSITIONS by the transition `name`, write the history row, audit and notify
    (the caller checked the permission)."""
    if FIRM_TRANSITIONS.get((firm.status, to)) != name:
        raise InvalidTransition(_("a firm that is %(s)s cannot be %(t)s") % {
            "s": FS(firm.status).label, "t": FIRM_TRANSITION_LABELS[name]})
    with transaction.atomic():
        current = locked_row(Firm, firm)
        if current.status != firm.status:
            raise InvalidTransition(_("the firm changed meanwhile; reload and try again"))
        before = audit.snapshot(current, FIRM_STATUS_FIELDS)
        old = current.status
        current.status, current.status_since, current.status_reason = to, effective_on, reason
        if to == FS.BLACKLISTED:
            current.blacklist_notice = notice
            current.blacklisted_until = add_years(effective_on, blacklist_term_years())
        else:
            current.blacklist_notice, current.blacklisted_until = "", None
        current.save(update_fields=FIRM_STATUS_FIELDS)
        change = FirmStatusChange.objects.create(firm=current, old_status=old, new_status=to,
                                                 effective_on=effective_on, reason=reason, case=case,
                                                 changed_by=actor)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after={**audit.snapshot(current, FIRM_STATUS_FIELDS), "case": case.number if case else None,
                            "history_row": change.pk})
        _notify_firm_status(current)
    copy_back(current, firm)
    return firm


def _notify_firm_status(firm: Firm) -> None:
    """The counties whose mines engaged the firm read the firm's page; the enterprises are told too."""
    mines = set(Mine.objects.filter(thirdparty_engagements__firm=firm).values_list("county_id",
                                                                                   "enterprise__organisation_id"))
    counties = {c for c, _o in mines}
    enterprises = list(Organisation.objects.filter(pk__in={o for _c, o in mines}))
    subject = _("Service firm %(f)s is now %(s)s") % {"f": firm.name, "s": FS(firm.status).label}
    notify.send(subject, firm.status_reason[:500], firm_link(firm), organisations=county_organisations(counties))
    public = reverse("thirdparty:public-blacklist") if firm.status == FS.BLACKLISTED else ""
    body = firm.blacklist_notice if firm.status == FS.BLACKLISTED else ""
    notify.send(subject, body, public if firm.status != FS.ACTIVE else firm_link(firm), organisations=enterprises)


def _status_reason(reason: str) -> str:
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, _("give the reason"))
    _raise(errors)
    return reason


def suspend_firm(actor: User, firm: Firm, *, reason: str) -> Firm:
    require_city(actor)
    return _firm_transition(actor, firm, "suspend", FS.SUSPENDED, reason=_status_reason(reason),
                            effective_on=timezone.localdate())


def reinstate_firm(actor: User, firm: Firm, *, reason: str) -> Firm:
    require_city(actor)
    return _firm_transition(actor, firm, "reinstate", FS.ACTIVE, reason=_status_reason(reason),
                            effective_on=timezone.localdate())


def blacklist_firm(actor: User, firm: Firm, *, reason: str, notice: str) -> Firm:
    """List the firm as 失信; `notice` is what the public list shows (the reason stays internal)."""
    require_city(actor)
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, _("give the reason"))
    notice = _text(errors, "notice", notice, _("write the notice the public list shows"), 500)
    _raise(errors)
    return _firm_transition(actor, firm, "blacklist", FS.BLACKLISTED, reason=reason, notice=notice,
                            effective_on=timezone.localdate())


def remove_from_blacklist(actor: User, firm: Firm, *, reason: str) -> Firm:
    """Take the firm off the list before its term ends (credit repair) or at the end of the term."""
    require_city(actor)
    return _firm_transition(actor, firm, "remove_from_blacklist", FS.ACTIVE, reason=_status_reason(reason),
                            effective_on=timezone.localdate())


# Qualifications ----------------------------------------------------------------------------------
def add_qualification(actor: User, firm: Firm, *, kind: str, certificate_number: str, issuing_authority: str,
                      valid_from: dt.date, valid_to: dt.date, scope: str = "",
                      replaces: Qualification | None = None) -> Qualification:
    """Record a qualification certificate. Its period may not overlap another current certificate of the firm
    for the same service, except the one it renews (`replaces`), which it must outlast."""
    require_official(actor)
    errors: dict[str, str] = {}
    if kind not in ServiceKind.values:
        errors["kind"] = _("unknown kind of service")
    elif kind not in firm.kinds:
        errors["kind"] = _("the firm does not offer this service; add it to the firm's kinds first")
    certificate_number = _text(errors, "certificate_number", certificate_number,
                               _("give the certificate number"), 64)
    issuing_authority = _text(errors, "issuing_authority", issuing_authority, _("give the issuing authority"), 128)
    scope = _text(errors, "scope", scope)
    valid_from = _date(errors, "valid_from", valid_from, _("give the first day of validity"))
    valid_to = _date(errors, "valid_to", valid_to, _("give the last day of validity"), not_future=False)
    if valid_from and valid_to and "valid_to" not in errors and valid_to < valid_from:
        errors["valid_to"] = _("ends before it starts")
    if replaces is not None and "kind" not in errors:
        if replaces.firm_id != firm.pk or replaces.kind != kind:
            errors["replaces"] = _("renews only a certificate of the same firm and service")
        elif replaces.revoked_on is not None:
            errors["replaces"] = _("a revoked certificate is not renewed")
        elif valid_to and valid_to <= replaces.valid_to:
            errors["valid_to"] = _("a renewal must run beyond %(d)s, the end of the certificate it renews") % {
                "d": replaces.valid_to.isoformat()}
    if not errors:
        overlapping = (firm.qualifications.filter(kind=kind, revoked_on__isnull=True, valid_from__lte=valid_to,
                                                  valid_to__gte=valid_from)
                       .exclude(pk=replaces.pk if replaces else None).order_by("valid_from").first())
        if overlapping is not None:
            errors["valid_from"] = _(
                "overlaps certificate %(n)s, valid %(a)s to %(b)s; record it as the renewal of that certificate "
                "or correct the dates") % {"n": overlapping.certificate_number, "a": overlapping.valid_from,
                                           "b": overlapping.valid_to}
        elif firm.qualifications.filter(kind=kind, certificate_number=certificate_number).exists():
            errors["certificate_number"] = _("this certificate is already recorded for the firm")
    _raise(errors)
    with transaction.atomic():
        audit.lock_chain()
        qualification = Qualification.objects.create(
            firm=firm, kind=kind, certificate_number=certificate_number, issuing_authority=issuing_authority,
            scope=scope, valid_from=valid_from, valid_to=valid_to, replaces=replaces, recorded_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, qualification, after=audit.snapshot(qualification))
    return qualification


def revoke_qualification(actor: User, qualification: Qualification, *, revoked_on: dt.date,
                         reason: str) -> Qualification:
    """From `revoked_on` on the certificate covers no engagement."""
    require_official(actor)
    errors: dict[str, str] = {}
    revoked_on = _date(errors, "revoked_on", revoked_on, _("give the date of revocation"))
    reason = _text(errors, "reason", reason, _("give the reason"))
    if revoked_on and "revoked_on" not in errors and revoked_on < qualification.valid_from:
        errors["revoked_on"] = _("is before the certificate became valid")
    _raise(errors)
    if qualification.revoked_on is not None:
        raise InvalidTransition(_("the certificate is already revoked"))
    with transaction.atomic():
        current = locked_row(Qualification, qualification)
        if current.revoked_on is not None:
            raise InvalidTransition(_("the certificate changed meanwhile; reload and try again"))
        current.revoked_on, current.revoke_reason = revoked_on, reason
        current.save(update_fields=["revoked_on", "revoke_reason"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"revoked_on": None},
                     after={"revoked_on": revoked_on, "revoke_reason": reason})
    copy_back(current, qualification)
    return qualification


def covering_qualification(firm: Firm, kind: str, day: dt.date) -> Qualification | None:
    """The firm's certificate for the service valid on `day` (the longest-running when several are)."""
    candidates = firm.qualifications.filter(kind=kind, valid_from__lte=day, valid_to__gte=day).order_by("-valid_to")
    return next((q for q in candidates if q.covers(day)), None)


def coverage_refusal(firm: Firm, kind: str, day: dt.date) -> str | None:
    """Why the firm may not be recorded as working for the service on `day`, or None when a certificate covers it."""
    if covering_qualification(firm, kind, day) is not None:
        return None
    label = ServiceKind(kind).label
    quals = list(firm.qualifications.filter(kind=kind).order_by("valid_from"))
    if not quals:
        return _("the firm holds no qualification for %(k)s") % {"k": label}
    revoked = next((q for q in quals if q.revoked_on is not None and q.valid_from <= day <= q.valid_to), None)
    if revoked is not None:
        return _("the firm's %(k)s qualification %(n)s was revoked on %(d)s") % {
            "k": label, "n": revoked.certificate_number, "d": revoked.revoked_on}
    earlier = [q for q in quals if q.valid_to < day]
    if earlier:
        last = max(earlier, key=lambda q: q.valid_to)
        return _("the firm's %(k)s qualification %(n)s expired on %(d)s") % {
            "k": label, "n": last.certificate_number, "d": last.valid_to}
    return _("the firm's %(k)s qualification is valid only from %(d)s") % {"k": label, "d": quals[0].valid_from}


def expiry_lists(user, today: dt.date | None = None) -> tuple[list[Qualification], list[Qualification], int]:
    """The current qualifications expiring within the catalogue's days, and those expired without renewal, of
    firms not blacklisted; and the number of days."""
    today = today or timezone.localdate()
    days = expiring_within_days()
    base = Qualification.objects.visible_to(user).exclude(firm__status=FS.BLACKLISTED).select_related("firm")
    expiring = list(base.expiring(today, days).order_by("valid_to", "firm__name"))
    expired = list(base.expired(today).order_by("-valid_to", "firm__name"))
    return expiring, expired, days


# Engagements -------------------------------------------------------------------------------------
def record_engagement(actor: User, mine: Mine, *, firm: Firm, kind: str, engaged_on: dt.date, report_title: str,
                      report_number: str = "", report_date: dt.date | None = None, note: str = "") -> Engagement:
    """A mine engaged a firm. Refused (400, on `firm`) when no qualification of the firm for the service covers
    the engagement and the report dates, or when the firm was suspended or blacklisted by then."""
    if not may_record_engagement(actor, mine):
        raise PermissionDenied(_("only the mine's enterprise, its county or the city may record its engagements"))
    errors: dict[str, str] = {}
    if kind not in ServiceKind.values:
        errors["kind"] = _("unknown kind of service")
    elif kind not in firm.kinds:
        errors["kind"] = _("the firm does not offer this service")
    engaged_on = _date(errors, "engaged_on", engaged_on, _("give the date of the engagement"))
    report_title = _text(errors, "report_title", report_title, _("give the report's or deliverable's title"), 200)
    report_number = _text(errors, "report_number", report_number, max_length=64)
    report_date = _date(errors, "report_date", report_date)
    note = _text(errors, "note", note)
    if engaged_on and report_date and "engaged_on" not in errors and "report_date" not in errors \
            and report_date < engaged_on:
        errors["report_date"] = _("is before the engagement")
    qualification = None
    if engaged_on and "engaged_on" not in errors and "kind" not in errors:
        if firm.status != FS.ACTIVE and engaged_on >= firm.status_since:
            errors["firm"] = _("the firm is %(s)s since %(d)s and may not be engaged") % {
                "s": FS(firm.status).label, "d": firm.status_since}
        else:
            qualification = covering_qualification(firm, kind, engaged_on)
            if qualification is None:
                errors["firm"] = coverage_refusal(firm, kind, engaged_on)
            elif report_date and "report_date" not in errors and not qualification.covers(report_date) \
                    and covering_qualification(firm, kind, report_date) is None:
                errors["firm"] = coverage_refusal(firm, kind, report_date)
    _raise(errors)
    with transaction.atomic():
        audit.lock_chain()
        engagement = Engagement.objects.create(
            mine=mine, firm=firm, kind=kind, qualification=qualification,
            engaged_on=engaged_on, report_title=report_title, report_number=report_number, report_date=report_date,
            note=note, recorded_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, engagement, after=audit.snapshot(engagement))
    return engagement


# Checks ------------------------------------------------------------------------------------------
def record_check(actor: User, engagement: Engagement, *, checked_on: dt.date, checkers: str, result: str,
                 findings: str = "", follow_up_due: dt.date | None = None) -> Check:
    """An official's spot check of the engagement's report. A check that finds something gets a follow-up
    deadline (by default the catalogue's days for the result) and stays open until followed up."""
    if not may_check(actor, engagement.mine):
        raise PermissionDenied(_("only the mine's county or the city may check the work done for it"))
    errors: dict[str, str] = {}
    checked_on = _date(errors, "checked_on", checked_on, _("give the date of the check"))
    if checked_on and "checked_on" not in errors and checked_on < engagement.engaged_on:
        errors["checked_on"] = _("is before the engagement (%(d)s)") % {"d": engagement.engaged_on}
    checkers = _text(errors, "checkers", checkers, _("name who checked"), 200)
    if result not in R.values:
        errors["result"] = _("choose the result")
    findings = _text(errors, "findings", findings,
                     None if result == R.COMPLIANT else _("record what the check found"))
    follow_up_due = _date(errors, "follow_up_due", follow_up_due, not_future=False)
    if result == R.COMPLIANT and follow_up_due is not None:
        errors["follow_up_due"] = _("a compliant check needs no follow-up")
    elif result in R.values and checked_on and "checked_on" not in errors and "follow_up_due" not in errors:
        if follow_up_due is None and result != R.COMPLIANT:
            follow_up_due = checked_on + dt.timedelta(days=follow_up_days(result) or 30)
        elif follow_up_due is not None and follow_up_due <= checked_on:
            errors["follow_up_due"] = _("must be after the check")
    _raise(errors)
    with transaction.atomic():
        audit.lock_chain()
        check = Check.objects.create(
            engagement=engagement, checked_on=checked_on, checkers=checkers, result=result, findings=findings,
            follow_up_due=follow_up_due, status=KS.CLOSED if result == R.COMPLIANT else KS.OPEN, recorded_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, check, after=audit.snapshot(check))
        if result != R.COMPLIANT:
            mine = engagement.mine
            notify.send(_("%(r)s: %(f)s's report for %(m)s") % {
                "r": R(result).label, "f": engagement.firm.name, "m": mine.name},
                _("Follow-up due %(d)s.") % {"d": follow_up_due}, check_link(check),
                organisations=county_organisations([mine.county_id]) + city_organisations())
    return check


def _check_transition(actor: User, check: Check, to: str, **changes) -> Check:
    if (check.status, to) not in CHECK_TRANSITIONS:
        raise InvalidTransition(_("a check that is %(s)s cannot become %(t)s") % {
            "s": KS(check.status).label, "t": KS(to).label})
    with transaction.atomic():
        current = locked_row(Check, check)
        if current.status != check.status:
            raise InvalidTransition(_("the check changed meanwhile; reload and try again"))
        fields = ["status", *changes]
        before = audit.snapshot(current, fields)
        current.status = to
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after=audit.snapshot(current, fields))
    copy_back(current, check)
    return check


def close_follow_up(actor: User, check: Check, *, followed_up_on: dt.date, note: str) -> Check:
    """The follow-up of a check's findings is done: open -> closed."""
    if not may_check(actor, check.engagement.mine):
        raise PermissionDenied(_("only the mine's county or the city may follow up this check"))
    errors: dict[str, str] = {}
    followed_up_on = _date(errors, "followed_up_on", followed_up_on, _("give the date of the follow-up"))
    if followed_up_on and "followed_up_on" not in errors and followed_up_on < check.checked_on:
        errors["followed_up_on"] = _("is before the check")
    note = _text(errors, "note", note, _("say what was done"))
    _raise(errors)
    return _check_transition(actor, check, KS.CLOSED, followed_up_on=followed_up_on, follow_up_note=note)


def publish_check(actor: User, check: Check) -> Check:
    """Show the check to the mine's enterprise (and its assigned inspectors)."""
    if not may_check(actor, check.engagement.mine):
        raise PermissionDenied(_("only the mine's county or the city may publish this check"))
    if check.published_at is not None:
        raise InvalidTransition(_("the check is already published"))
    with transaction.atomic():
        current = locked_row(Check, check)
        if current.published_at is not None:
            raise InvalidTransition(_("the check is already published"))
        current.published_at = timezone.now()
        current.save(update_fields=["published_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"published_at": None},
                     after={"published_at": current.published_at})
        engagement = current.engagement
        notify.send(_("Check of %(f)s's report: %(r)s") % {"f": engagement.firm.name, "r": R(current.result).label},
                    current.findings[:500], check_link(current),
                    organisations=[engagement.mine.enterprise.organisation])
    copy_back(current, check)
    return check


# Falsification cases -----------------------------------------------------------------------------
def next_case_number(year: int) -> str:
    """TP-<year>-<nnn>; the caller holds the audit chain's lock, which serialises numbering."""
    prefix = f"TP-{year}-"
    last = (FalsificationCase.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:03d}"


def _case_mines(errors: dict, actor: User, mines: Iterable[Mine]) -> list[Mine]:
    mines = list(dict.fromkeys(mines or []))
    outside = [m.name for m in mines if not can_manage_mine(actor, m)]
    if outside:
        errors["mines"] = _("not in your remit: %(m)s") % {"m": ", ".join(outside[:5])}
    return mines


def case_snapshot(case: FalsificationCase, fields=None) -> dict:
    data = audit.snapshot(case, fields)
    if fields is None:
        data["mines"] = sorted(case.mines.values_list("pk", flat=True))
    return data


def open_case(actor: User, *, firm: Firm | None = None, source: str, description: str, falsified: Iterable[str],
              mines: Iterable[Mine] = (), source_check: Check | None = None, source_reference: str = "",
              opened_on: dt.date | None = None) -> FalsificationCase:
    """Open a falsification case, from a check that found something (its firm and mine come with it) or from a
    report (举报, a referral) named in `source_reference`."""
    require_official(actor)
    errors: dict[str, str] = {}
    mines = list(mines or [])
    if source == FalsificationCase.Source.CHECK:
        if source_check is None:
            errors["source_check"] = _("choose the check the case comes from")
        elif not may_check(actor, source_check.engagement.mine):
            raise PermissionDenied(_("only the mine's county or the city may act on this check"))
        elif source_check.result == R.COMPLIANT:
            errors["source_check"] = _("the check found the work compliant")
        else:
            check_firm = source_check.engagement.firm
            if firm is not None and firm.pk != check_firm.pk:
                errors["firm"] = _("the check is of %(f)s's work") % {"f": check_firm.name}
            firm = check_firm
            mines = [source_check.engagement.mine, *mines]
        source_reference = _text(errors, "source_reference", source_reference, max_length=200)
    elif source == FalsificationCase.Source.REPORT:
        source_check = None
        source_reference = _text(errors, "source_reference", source_reference,
                                 _("name the report (number, date or sender)"), 200)
    else:
        errors["source"] = _("choose the source")
    if firm is None and "firm" not in errors and "source_check" not in errors:
        errors["firm"] = _("choose the firm")
    falsified = _choices(errors, "falsified", falsified, FalsifiedItem, _("say what was falsified"))
    description = _text(errors, "description", description, _("describe the suspected falsification"))
    mines = _case_mines(errors, actor, mines)
    opened_on = _date(errors, "opened_on", opened_on or timezone.localdate())
    if source_check is not None and opened_on and "opened_on" not in errors and opened_on < source_check.checked_on:
        errors["opened_on"] = _("is before the check")
    _raise(errors)
    with transaction.atomic():
        audit.lock_chain()
        case = FalsificationCase.objects.create(
            number=next_case_number(opened_on.year), firm=firm, source=source, source_check=source_check,
            source_reference=source_reference, falsified=falsified, description=description, opened_on=opened_on,
            opened_by=actor, opened_by_org=actor.organisation)
        case.mines.set(mines)
        audit.record(actor, AuditEvent.Action.CREATE, case, after=case_snapshot(case))
        notify.send(_("Falsification case %(n)s opened against %(f)s") % {"n": case.number, "f": firm.name},
                    description[:500], case_link(case),
                    organisations=city_organisations() + county_organisations(m.county_id for m in mines))
    return case


def add_affected_mines(actor: User, case: FalsificationCase, mines: Iterable[Mine]) -> FalsificationCase:
    """Add mines the falsification affected (e.g. other reports of the firm) while the case is open."""
    require_case_handler(actor, case)
    if case.status not in (CS.UNDER_INVESTIGATION, CS.CONFIRMED):
        raise InvalidTransition(_("mines are added while the case is open"))
    errors: dict[str, str] = {}
    mines = _case_mines(errors, actor, mines)
    if not mines and "mines" not in errors:
        errors["mines"] = _("choose at least one mine")
    _raise(errors)
    with transaction.atomic():
        current = locked_row(FalsificationCase, case)
        before = sorted(current.mines.values_list("pk", flat=True))
        current.mines.add(*mines)
        after = sorted(current.mines.values_list("pk", flat=True))
        if after != before:
            audit.record(actor, AuditEvent.Action.UPDATE, current, before={"mines": before}, after={"mines": after})
    copy_back(current, case)
    return case


def _case_transition(actor: User, case: FalsificationCase, to: str, **changes) -> FalsificationCase:
    if (case.status, to) not in CASE_TRANSITIONS:
        raise InvalidTransition(_("a case that is %(s)s cannot become %(t)s") % {
            "s": CS(case.status).label, "t": CS(to).label})
    with transaction.atomic():
        current = locked_row(FalsificationCase, case)
        if current.status != case.status:
            raise InvalidTransition(_("the case changed meanwhile; reload and try again"))
        fields = ["status", *changes]
        before = audit.snapshot(current, fields)
        current.status = to
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
    copy_back(current, case)
    return case


def confirm_case(actor: User, case: FalsificationCase, *, findings: str,
                 confirmed_on: dt.date | None = None) -> FalsificationCase:
    """under investigation -> confirmed, with the findings."""
    require_case_handler(actor, case)
    errors: dict[str, str] = {}
    findings = _text(errors, "findings", findings, _("record the findings"))
    confirmed_on = _date(errors, "confirmed_on", confirmed_on or timezone.localdate())
    if confirmed_on and "confirmed_on" not in errors and confirmed_on < case.opened_on:
        errors["confirmed_on"] = _("is before the case was opened")
    _raise(errors)
    return _case_transition(actor, case, CS.CONFIRMED, findings=findings, confirmed_on=confirmed_on)


def dismiss_case(actor: User, case: FalsificationCase, *, reason: str) -> FalsificationCase:
    """under investigation -> dismissed: the suspicion was unfounded."""
    require_case_handler(actor, case)
    return _case_transition(actor, case, CS.DISMISSED, dismiss_reason=_status_reason(reason),
                            closed_at=timezone.now())


def close_case(actor: User, case: FalsificationCase, *, actions: Iterable[str], decision: str,
               decided_on: dt.date | None = None, public_summary: str = "") -> FalsificationCase:
    """confirmed -> closed with the actions taken. A blacklist moves the firm to the blacklist (with
    `public_summary` as the public notice); a suspension suspends an active firm. Both are the city's."""
    require_case_handler(actor, case)
    errors: dict[str, str] = {}
    actions = _choices(errors, "actions", actions, CaseAction, _("choose the actions taken"))
    decision = _text(errors, "decision", decision, _("record the decision"))
    public_summary = _text(errors, "public_summary", public_summary,
                           _("write the notice the public blacklist shows") if CaseAction.BLACKLIST in actions
                           else None, 500)
    decided_on = _date(errors, "decided_on", decided_on or timezone.localdate())
    if decided_on and "decided_on" not in errors and case.confirmed_on and decided_on < case.confirmed_on:
        errors["decided_on"] = _("is before the case was confirmed")
    if set(actions) & CITY_ACTIONS and not is_city(actor):
        raise PermissionDenied(_("only the city suspends or blacklists a firm; refer the case to the city"))
    _raise(errors)
    if case.status != CS.CONFIRMED:  # before touching the firm
        raise InvalidTransition(_("only a confirmed case is closed with actions"))
    with transaction.atomic():
        closed = _case_transition(actor, case, CS.CLOSED, actions=actions, decision=decision, decided_on=decided_on,
                                  public_summary=public_summary, closed_at=timezone.now())
        firm = Firm.objects.get(pk=case.firm_id)
        reason = _("Falsification case %(n)s: %(d)s") % {"n": case.number, "d": decision}
        if CaseAction.BLACKLIST in actions and firm.status != FS.BLACKLISTED:
            _firm_transition(actor, firm, "blacklist", FS.BLACKLISTED, reason=reason, notice=public_summary,
                             effective_on=decided_on, case=closed)
        elif CaseAction.SUSPENSION in actions and firm.status == FS.ACTIVE:
            _firm_transition(actor, firm, "suspend", FS.SUSPENDED, reason=reason, effective_on=decided_on,
                             case=closed)
        notify.send(_("Falsification case %(n)s closed: %(a)s") % {
            "n": closed.number, "a": ", ".join(str(CaseAction(a).label) for a in actions)},
            decision[:500], case_link(closed),
            organisations=county_organisations(closed.mines.values_list("county_id", flat=True)))
    return closed


def publish_case(actor: User, case: FalsificationCase) -> FalsificationCase:
    """Show a closed case to the enterprises of the affected mines (and their assigned inspectors)."""
    require_case_handler(actor, case)
    if case.status != CS.CLOSED:
        raise InvalidTransition(_("only a closed case is published"))
    if case.published_at is not None:
        raise InvalidTransition(_("the case is already published"))
    with transaction.atomic():
        current = locked_row(FalsificationCase, case)
        if current.published_at is not None:
            raise InvalidTransition(_("the case is already published"))
        current.published_at = timezone.now()
        current.save(update_fields=["published_at"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"published_at": None},
                     after={"published_at": current.published_at})
        orgs = Organisation.objects.filter(pk__in=current.mines.values("enterprise__organisation_id"))
        notify.send(_("Falsification case %(n)s concerning %(f)s") % {"n": current.number, "f": current.firm.name},
                    current.public_summary or current.decision[:500], case_link(current), organisations=list(orgs))
    copy_back(current, case)
    return case


# Public blacklist --------------------------------------------------------------------------------
def blacklisted_firms():
    """The firms on the blacklist now, newest listing first, with the listing's case when it is published."""
    return Firm.objects.filter(status=FS.BLACKLISTED).prefetch_related("kind_rows").order_by("-status_since", "name")


def listing_case(firm: Firm) -> FalsificationCase | None:
    change = (FirmStatusChange.objects.filter(firm=firm, new_status=FS.BLACKLISTED).select_related("case")
              .order_by("-changed_at", "-pk").first())
    return change.case if change is not None else None
