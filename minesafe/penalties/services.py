"""Penalty cases (行政处罚, plan task 25): opening, notice with the right to be heard, the decision under the
discretion benchmark with 一案双罚, service, payments with the late fee, reconsideration and lawsuits, closing.

Every status change is one row of TRANSITIONS with the role allowed to make it; steps inside a status are in
STEPS. Each function checks the actor, validates, changes state, audits and notifies in one transaction.
Roles: the *authority* is the case's deciding organisation (the county government's staff, or the city
bureau's for the city's own cases); the *party* is the enterprise owning the mine. The main responsible
person's ID number never reaches the audit log in clear.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.core.validators import resident_id_error
from minesafe.personnel.common import mask_id
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from . import benchmark, latefee, legal
from .models import Challenge, Payment, PenaltyCase

S = PenaltyCase.Status
SRC = PenaltyCase.Source
AUTHORITY, PARTY = "authority", "party"
CATALOGUE = "penalties"
TEXT_MAX = 4000
ZERO = Decimal("0")

# (from, to): (step name, role allowed). Every status change of a case is one of these.
TRANSITIONS = {
    (S.OPENED, S.NOTIFIED): ("notify", AUTHORITY),
    (S.OPENED, S.WITHDRAWN): ("withdraw", AUTHORITY),
    (S.NOTIFIED, S.DECIDED): ("decide", AUTHORITY),
    (S.NOTIFIED, S.WITHDRAWN): ("withdraw", AUTHORITY),
    (S.DECIDED, S.PAID): ("pay", AUTHORITY),  # made by the payment that settles every fine and late fee
    (S.PAID, S.CLOSED): ("close", AUTHORITY),
    (S.DECIDED, S.CLOSED): ("close", AUTHORITY),  # only once the decision was revoked on review
}
# Steps inside a status: name -> (statuses it is open in, roles allowed).
STEPS = {
    "edit": ({S.OPENED, S.NOTIFIED}, {AUTHORITY}),
    "reply": ({S.NOTIFIED}, {AUTHORITY, PARTY}),
    "hearing": ({S.NOTIFIED}, {AUTHORITY}),
    "serve": ({S.DECIDED}, {AUTHORITY}),
    "payment": ({S.DECIDED}, {AUTHORITY}),
    "challenge": ({S.DECIDED, S.PAID}, {AUTHORITY}),
}
PERSONAL = {"person_id_number"}


def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


def procedure() -> dict:
    return catalogue()["procedure"]


# Who may do what ---------------------------------------------------------------------------------
def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_authority(user, case: PenaltyCase) -> bool:
    """Staff of the deciding organisation: the county government's, or the city bureau's for the city's cases."""
    if not _active(user):
        return False
    if case.organisation.kind == Organisation.Kind.CITY_BUREAU:
        return is_city(user)
    return user.role == User.Role.COUNTY and user.organisation_id == case.organisation_id


def is_party(user, case: PenaltyCase) -> bool:
    return _active(user) and is_mine_owner(user, case.mine)


def roles(user, case: PenaltyCase) -> set[str]:
    return {r for r, ok in ((AUTHORITY, is_authority(user, case)), (PARTY, is_party(user, case))) if ok}


def require_role(user, case: PenaltyCase, allowed: set[str]) -> None:
    if not roles(user, case) & allowed:
        if allowed == {AUTHORITY}:
            raise PermissionDenied(_("only the deciding authority of the case may do this"))
        raise PermissionDenied(_("only the deciding authority or the party may do this"))


def may_step(user, case: PenaltyCase, step: str) -> bool:
    statuses, allowed = STEPS[step]
    return case.status in statuses and bool(roles(user, case) & allowed)


def may_transition(user, case: PenaltyCase, to: str) -> bool:
    rule = TRANSITIONS.get((case.status, to))
    return rule is not None and rule[1] in roles(user, case)


def may_open(user, mine: Mine) -> bool:
    """The mine's county or the city opens cases (the territorial authority decides)."""
    return _active(user) and user.role in (User.Role.CITY, User.Role.COUNTY) and can_manage_mine(user, mine)


def may_see_personal(user, case: PenaltyCase) -> bool:
    """The person's ID number in full: the mine's county, the city and the enterprise; masked for inspectors."""
    return _active(user) and (is_city(user) or can_manage_mine(user, case.mine) or is_mine_owner(user, case.mine))


def deciding_organisation(user: User) -> Organisation:
    if user.role == User.Role.COUNTY and user.organisation_id:
        return user.organisation
    org = Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU).order_by("pk").first()
    if org is None:
        raise DomainError(_("the city bureau is not set up on the platform"), field="organisation")
    return org


# Helpers -----------------------------------------------------------------------------------------
def link(case: PenaltyCase) -> str:
    return reverse("penalties:detail", args=[case.pk])


def snapshot(case: PenaltyCase, fields=None) -> dict:
    data = audit.snapshot(case, fields)
    for name in PERSONAL:
        if data.get(name):
            data[name] = mask_id(data[name])
    return data


def masked_id(case: PenaltyCase) -> str:
    return mask_id(case.person_id_number) if case.person_id_number else ""


def finding_model():
    """The inspections app's Finding model, when that app has one."""
    try:
        return apps.get_model("inspections", "Finding")
    except LookupError:
        return None


def _text(errors: dict, name: str, value, *, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required and not value:
        errors[name] = required
    elif len(value) > max_length:
        errors[name] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _date(errors: dict, name: str, value, *, not_before: dt.date | None = None, before_label: str = "",
          default_today: bool = True) -> dt.date | None:
    today = timezone.localdate()
    if value in (None, ""):
        if default_today:
            value = today
        else:
            return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            errors[name] = _("not a date (YYYY-MM-DD)")
            return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if value > today:
        errors[name] = _("cannot be in the future")
    elif not_before is not None and value < not_before:
        errors[name] = _("cannot be before %(what)s (%(d)s)") % {"what": before_label, "d": not_before.isoformat()}
    return value


def _money(errors: dict, name: str, value, *, required: bool = True, label: str = "") -> Decimal | None:
    if value in (None, ""):
        if required:
            errors[name] = _("give the amount")
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[name] = _("not an amount")
        return None
    if not amount.is_finite():
        errors[name] = _("not an amount")
        return None
    if amount < 0:
        errors[name] = _("%(what)s cannot be negative") % {"what": label or _("the amount")}
        return None
    if amount != amount.quantize(Decimal("0.01")) or amount >= Decimal("1e10"):
        errors[name] = _("%(what)s must have at most two decimals and ten digits") % {"what": label or _("amount")}
        return None
    return amount.quantize(Decimal("0.01"))


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def enterprise_organisation(case: PenaltyCase) -> Organisation:
    return case.mine.enterprise.organisation


def city_organisations() -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


def _send(subject: str, case: PenaltyCase, organisations) -> None:
    notify.send(subject, f"{case.mine.name} · {case_label(case)}", link(case), organisations=organisations)


def case_label(case: PenaltyCase) -> str:
    return case.decision_no or _("case of %(d)s") % {"d": case.opened_on.isoformat()}


def principal_of(mine: Mine) -> dict:
    """The mine's main responsible person as the personnel ledger (or the registry) knows them, to prefill forms."""
    Appointment = apps.get_model("personnel", "Appointment")
    today = timezone.localdate()
    current = (Appointment.objects.filter(mine=mine, post="principal", start_date__lte=today)
               .exclude(end_date__lt=today).select_related("person").order_by("-start_date").first())
    if current is not None:
        return {"person_name": current.person.name, "person_role": "主要负责人",
                "person_id_number": current.person.id_number}
    rep = mine.enterprise.legal_representative
    return {"person_name": rep, "person_role": "法定代表人" if rep else "", "person_id_number": ""}


def _person_fields(errors: dict, name, role, id_number) -> tuple[str, str, str]:
    name = _text(errors, "person_name", name, max_length=64)
    role = _text(errors, "person_role", role, max_length=64)
    id_number = _text(errors, "person_id_number", id_number, max_length=18).upper()
    if id_number and (reason := resident_id_error(id_number)):
        errors["person_id_number"] = reason
    return name, role, id_number


# Opening -----------------------------------------------------------------------------------------
def open_case(actor: User, *, mine: Mine, violation_type: str, facts: str, legal_basis, source: str = SRC.DIRECT,
              inspection=None, finding=None, tipoff=None, accident=None, opened_on=None) -> PenaltyCase:
    """立案: from an inspection, one of its findings, a whistleblower report, an accident, or directly."""
    if mine is None or not may_open(actor, mine):
        raise PermissionDenied(_("only the mine's county or the city may open a penalty case on this mine"))
    errors: dict = {}
    bench = benchmark.active()
    if violation_type not in bench.violations:
        errors["violation_type"] = _("choose a violation type of the discretion benchmark")
    facts = _text(errors, "facts", facts, required=_("state the facts of the violation"))
    opened_on = _date(errors, "opened_on", opened_on)
    links = _source_links(errors, actor, mine, source, inspection, finding, tipoff, accident, opened_on)
    try:
        cited = legal.snapshot(legal_basis if legal_basis is not None else [])
        legal.require_complete(cited)
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
        cited = []
    _raise(errors)
    with transaction.atomic():
        audit.lock_chain()
        case = PenaltyCase.objects.create(
            mine=mine, organisation=deciding_organisation(actor), opened_on=opened_on, created_by=actor,
            source=source, violation_type=violation_type, facts=facts, legal_basis=cited, **links)
        audit.record(actor, AuditEvent.Action.CREATE, case, after=snapshot(case))
        _send(_("Penalty case opened: %(m)s") % {"m": mine.name}, case, [case.organisation])
    return case


def _source_links(errors, actor, mine, source, inspection, finding, tipoff, accident, opened_on) -> dict:
    """The records the case was opened from, each checked to be on the same mine and visible to the actor."""
    from minesafe.enforcement.models import Accident
    from minesafe.inspections.models import Inspection
    from minesafe.tipoffs.models import Tipoff

    links = {"inspection": None, "finding_id": None, "tipoff": None, "accident": None}
    if source not in SRC.values:
        errors["source"] = _("choose where the case comes from")
        return links
    if source == SRC.FINDING:
        model = finding_model()
        finding_id = getattr(finding, "pk", finding)
        found = (model.objects.visible_to(actor).select_related("inspection").filter(pk=finding_id).first()
                 if model is not None and finding_id else None)
        if found is None or found.inspection.mine_id != mine.pk:
            errors["finding"] = _("choose a finding of an inspection of this mine")
        else:
            links.update(finding_id=found.pk, inspection=found.inspection)
    elif source == SRC.INSPECTION:
        pk = getattr(inspection, "pk", inspection)
        found = Inspection.objects.visible_to(actor).filter(pk=pk).first() if pk else None
        if found is None or found.mine_id != mine.pk or found.status == Inspection.Status.CANCELLED:
            errors["inspection"] = _("choose an inspection of this mine (not a cancelled one)")
        else:
            links["inspection"] = found
    elif source == SRC.TIPOFF:
        pk = getattr(tipoff, "pk", tipoff)
        found = Tipoff.objects.visible_to(actor).filter(pk=pk).first() if pk else None
        if found is None or found.mine_id != mine.pk:
            errors["tipoff"] = _("choose a whistleblower report about this mine")
        else:
            links["tipoff"] = found
    elif source == SRC.ACCIDENT:
        pk = getattr(accident, "pk", accident)
        found = Accident.objects.visible_to(actor).filter(pk=pk).first() if pk else None
        if found is None or found.mine_id != mine.pk:
            errors["accident"] = _("choose an accident at this mine")
        else:
            links["accident"] = found
    inspected = links["inspection"].inspected_on if links["inspection"] else None
    if inspected and opened_on and "opened_on" not in errors and opened_on < inspected:
        errors["opened_on"] = _("cannot be before the inspection (%(d)s)") % {"d": inspected.isoformat()}
    return links


def edit_case(actor: User, case: PenaltyCase, *, facts=None, legal_basis=None, violation_type=None) -> PenaltyCase:
    """Correct the facts, the provisions cited or the violation type before the decision."""
    require_role(actor, case, STEPS["edit"][1])
    if case.status not in STEPS["edit"][0]:
        raise InvalidTransition(_("a case is edited only before the decision"))
    errors: dict = {}
    changes = {}
    if facts is not None:
        changes["facts"] = _text(errors, "facts", facts, required=_("state the facts of the violation"))
    if violation_type is not None:
        if violation_type not in benchmark.active().violations:
            errors["violation_type"] = _("choose a violation type of the discretion benchmark")
        changes["violation_type"] = violation_type
    if legal_basis is not None:
        try:
            changes["legal_basis"] = legal.snapshot(legal_basis)
            legal.require_complete(changes["legal_basis"])
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    _raise(errors)
    if not changes:
        return case
    return _update(actor, case, case.status, changes, action=AuditEvent.Action.UPDATE)


# The state machine -------------------------------------------------------------------------------
def _check_transition(actor: User, case: PenaltyCase, to: str) -> None:
    require_role(actor, case, {AUTHORITY})
    rule = TRANSITIONS.get((case.status, to))
    if rule is None:
        raise InvalidTransition(_("a case that is %(s)s cannot become %(t)s") % {
            "s": S(case.status).label, "t": S(to).label})
    require_role(actor, case, {rule[1]})


def _update(actor: User, case: PenaltyCase, expected_status: str, changes: dict, *,
            action: str = AuditEvent.Action.TRANSITION, before_save=None) -> PenaltyCase:
    """Apply `changes` to the locked row if its status is still `expected_status`; audit the difference."""
    with transaction.atomic():
        current = locked_row(PenaltyCase, case)
        if current.status != expected_status:
            raise InvalidTransition(_("the case changed meanwhile; reload and try again"))
        if before_save is not None:
            changes = {**changes, **before_save(current)}
        fields = list(changes)
        before = snapshot(current, fields)
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=[*fields, "updated_at"])
        audit.record(actor, action, current, before=before, after=snapshot(current, fields))
    copy_back(current, case)
    return case


def notify_party(actor: User, case: PenaltyCase, *, circumstance: str, proposed_enterprise_fine,
                 proposed_person_fine=None, person_name: str = "", person_role: str = "", person_id_number: str = "",
                 notified_on=None) -> PenaltyCase:
    """告知: the intended penalty, its facts and basis, and the right to state a defence and (for larger fines) to
    be heard within the catalogue's days."""
    _check_transition(actor, case, S.NOTIFIED)
    errors: dict = {}
    bench = benchmark.active()
    violation = bench.violation(case.violation_type)
    if violation is None or circumstance not in violation.levels:
        errors["circumstance"] = _("choose a circumstance level of this violation type")
    notified_on = _date(errors, "notified_on", notified_on, not_before=case.opened_on, before_label=_("the opening"))
    ent = _money(errors, "proposed_enterprise_fine", proposed_enterprise_fine, label=_("the fine"))
    per = _money(errors, "proposed_person_fine", proposed_person_fine or 0, label=_("the fine"))
    name, role, id_number = _person_fields(errors, person_name, person_role, person_id_number)
    if per and not (name and role):
        errors["person"] = _("name the main responsible person and their post")
    if violation is not None and ent is not None and ent > violation.legal_max_enterprise:
        errors["fine"] = _("the fine on the enterprise exceeds the legal maximum of %(m)s yuan") % {
            "m": violation.legal_max_enterprise}
    if violation is not None and per:
        legal_max = violation.legal_max_for_person(case.person_annual_income)
        if legal_max is not None and per > legal_max:
            errors["fine"] = _("the fine on the person exceeds the legal maximum of %(m)s yuan") % {"m": legal_max}
    _raise(errors)
    rules = procedure()
    thresholds = rules["hearing_thresholds"]
    hearing_right = ent >= Decimal(str(thresholds["enterprise"])) or per >= Decimal(str(thresholds["person"]))
    changes = {"status": S.NOTIFIED, "notified_on": notified_on, "circumstance": circumstance,
               "proposed_enterprise_fine": ent, "proposed_person_fine": per, "person_name": name,
               "person_role": role, "person_id_number": id_number, "hearing_right": hearing_right,
               "reply_due": notified_on + dt.timedelta(days=int(rules["hearing_request_days"]))}
    with transaction.atomic():
        _update(actor, case, S.OPENED, changes)
        _send(_("Notice of an intended administrative penalty: %(m)s") % {"m": case.mine.name}, case,
              [enterprise_organisation(case)])
    return case


def record_reply(actor: User, case: PenaltyCase, *, request_hearing: bool = False, statement: str = "",
                 replied_on=None) -> PenaltyCase:
    """The party's answer to the notice (陈述申辩), possibly a hearing request, within the period; recorded by the
    party itself or by the authority on its behalf."""
    require_role(actor, case, STEPS["reply"][1])
    if case.status not in STEPS["reply"][0]:
        raise InvalidTransition(_("the party replies to a notice, and this case is %(s)s") % {
            "s": S(case.status).label})
    if case.replied_on is not None:
        raise DomainError(_("the party's reply was already recorded"), field="reply")
    errors: dict = {}
    statement = _text(errors, "statement", statement)
    replied_on = _date(errors, "replied_on", replied_on, not_before=case.notified_on, before_label=_("the notice"))
    if not isinstance(request_hearing, bool):
        errors["request_hearing"] = _("say whether a hearing is requested")
    elif request_hearing and not case.hearing_right:
        errors["request_hearing"] = _("the intended penalty carries no right to a hearing")
    _raise(errors)
    if replied_on > case.reply_due:
        raise DomainError(_("the period for statements and hearing requests ended on %(d)s") % {
            "d": case.reply_due.isoformat()}, field="replied_on", code="too_late")
    changes = {"replied_on": replied_on, "reply_statement": statement,
               "hearing_requested_on": replied_on if request_hearing else None}
    with transaction.atomic():
        _update(actor, case, S.NOTIFIED, changes, action=AuditEvent.Action.UPDATE)
        subject = (_("Hearing requested: %(m)s") if request_hearing else _("Party replied to the notice: %(m)s")) % {
            "m": case.mine.name}
        _send(subject, case, [case.organisation] if PARTY in roles(actor, case) else [enterprise_organisation(case)])
    return case


def record_hearing(actor: User, case: PenaltyCase, *, held_on, note: str) -> PenaltyCase:
    require_role(actor, case, STEPS["hearing"][1])
    if case.status not in STEPS["hearing"][0]:
        raise InvalidTransition(_("a hearing is held before the decision"))
    if case.hearing_requested_on is None:
        raise DomainError(_("no hearing was requested"), field="hearing")
    if case.hearing_held_on is not None:
        raise DomainError(_("the hearing was already recorded"), field="hearing")
    errors: dict = {}
    held_on = _date(errors, "held_on", held_on, not_before=case.hearing_requested_on,
                    before_label=_("the hearing request"))
    note = _text(errors, "note", note, required=_("summarise the hearing"))
    _raise(errors)
    with transaction.atomic():
        _update(actor, case, S.NOTIFIED, {"hearing_held_on": held_on, "hearing_note": note},
                action=AuditEvent.Action.UPDATE)
        _send(_("Hearing recorded: %(m)s") % {"m": case.mine.name}, case, [enterprise_organisation(case)])
    return case


def decide(actor: User, case: PenaltyCase, *, circumstance: str, enterprise_fine, person_fine=None,
           factors=(), person_name=None, person_role=None, person_id_number=None, person_annual_income=None,
           person_exemption: str = "", person_exemption_note: str = "", fine_reason: str = "", decided_on=None,
           served_on=None) -> PenaltyCase:
    """决定: the fines under the active benchmark version. Outside the level's range needs a written reason;
    beyond the legal maximum is refused; 一案双罚 requires the person's fine unless an exemption provision applies."""
    _check_transition(actor, case, S.DECIDED)
    errors: dict = {}
    decided_on = _date(errors, "decided_on", decided_on, not_before=case.notified_on, before_label=_("the notice"))
    if "decided_on" not in errors:
        if case.hearing_requested_on and not case.hearing_held_on:
            raise DomainError(_("the party requested a hearing; record the hearing before deciding"), field="hearing",
                              code="hearing_pending")
        if case.replied_on is None and decided_on <= case.reply_due:
            raise DomainError(_("the party may state a defence or request a hearing until %(d)s") % {
                "d": case.reply_due.isoformat()}, field="decided_on", code="reply_pending")
    try:
        legal.require_complete(case.legal_basis)
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    bench = benchmark.active()
    violation = bench.violation(case.violation_type)
    level = violation.levels.get(circumstance) if violation else None
    if violation is None:
        errors["violation_type"] = _("the case's violation type is not in the active benchmark")
    elif level is None:
        errors["circumstance"] = _("choose a circumstance level of this violation type")
    factors = list(factors or [])
    if any(not isinstance(f, str) or f not in bench.factors for f in factors):
        errors["factors"] = _("unknown aggravating or mitigating factor")
    ent = _money(errors, "enterprise_fine", enterprise_fine, label=_("the fine"))
    per = _money(errors, "person_fine", person_fine or 0, label=_("the fine"))
    income = _money(errors, "person_annual_income", person_annual_income if person_annual_income is not None
                    else case.person_annual_income, required=False, label=_("the income"))
    name, role, id_number = _person_fields(
        errors, case.person_name if person_name is None else person_name,
        case.person_role if person_role is None else person_role,
        case.person_id_number if person_id_number is None else person_id_number)
    fine_reason = _text(errors, "fine_reason", fine_reason)
    exemption_note = _text(errors, "person_exemption_note", person_exemption_note)
    person_exemption = (person_exemption or "").strip()
    served_on = _date(errors, "served_on", served_on, not_before=decided_on, before_label=_("the decision"),
                      default_today=False) if decided_on else None
    _raise(errors)

    # The benchmark: ranges, legal maxima, 一案双罚.
    if level.person_income_share is not None and per and income is None:
        errors["person_annual_income"] = _("give the person's income of last year (the fine is a share of it)")
    person_range = level.person_range(income)
    out_of_range = []
    if ent > violation.legal_max_enterprise:
        errors["fine"] = _("the fine on the enterprise exceeds the legal maximum of %(m)s yuan") % {
            "m": violation.legal_max_enterprise}
    elif ent not in level.enterprise:
        out_of_range.append(_("the fine on the enterprise is outside %(lo)s–%(hi)s yuan") % {
            "lo": level.enterprise.low, "hi": level.enterprise.high})
    if per:
        legal_max = violation.legal_max_for_person(income)
        if not level.fines_person and not violation.person_penalty:
            errors["fine"] = _("this violation type prescribes no fine on the person")
        elif legal_max is not None and per > legal_max:
            errors["fine"] = _("the fine on the person exceeds the legal maximum of %(m)s yuan") % {"m": legal_max}
        elif not level.fines_person:
            out_of_range.append(_("the benchmark prescribes no fine on the person at this level"))
        elif person_range is not None and per not in person_range:
            out_of_range.append(_("the fine on the person is outside %(lo)s–%(hi)s yuan") % {
                "lo": person_range.low, "hi": person_range.high})
        if not (name and role):
            errors["person"] = _("name the main responsible person and their post")
    if out_of_range and not fine_reason and "fine" not in errors:
        errors["fine"] = _("%(what)s of the benchmark (%(v)s); give the reason in writing") % {
            "what": "; ".join(out_of_range), "v": bench.version}
    exemption = None
    if level.double_penalty and not per:
        exemptions = {p["key"]: p for p in legal.with_role(legal.EXEMPTION)}
        if not person_exemption:
            errors["person"] = _("一案双罚: this violation requires a fine on the main responsible person (name, post "
                                 "and amount), unless a provision exempts them (give it and the reason)")
        elif person_exemption not in exemptions:
            errors["person_exemption"] = _("choose an exemption provision of the legal-basis catalogue")
        elif not exemption_note:
            errors["person_exemption_note"] = _("record why the person is not liable")
        else:
            exemption = exemptions[person_exemption]
    elif person_exemption:
        errors["person_exemption"] = _("no exemption is needed: the person is fined or not required to be")
    _raise(errors)

    legal_basis = list(case.legal_basis)
    if exemption is not None and exemption["key"] not in {p["key"] for p in legal_basis}:
        legal_basis += legal.snapshot([exemption["key"]])
    year = decided_on.year
    changes = {"status": S.DECIDED, "decided_on": decided_on, "circumstance": circumstance, "factors": factors,
               "enterprise_fine": ent, "person_fine": per, "person_name": name, "person_role": role,
               "person_id_number": id_number, "person_annual_income": income,
               "person_exemption": person_exemption if exemption else "",
               "person_exemption_note": exemption_note if exemption else "", "fine_reason": fine_reason,
               "benchmark": bench.row, "benchmark_applied": benchmark.applied(bench, violation, level, income),
               "legal_basis": legal_basis, "decision_year": year}
    if served_on:
        changes.update(served_on=served_on, payment_due=payment_due(served_on))

    def numbered(current: PenaltyCase) -> dict:
        last = (PenaltyCase.objects.filter(organisation_id=current.organisation_id, decision_year=year)
                .aggregate(m=Max("decision_seq"))["m"]) or 0
        return {"decision_seq": last + 1, "decision_no": decision_number(current.organisation, year, last + 1)}

    with transaction.atomic():
        _update(actor, case, S.NOTIFIED, changes, before_save=numbered)
        _send(_("Administrative penalty decided: %(n)s") % {"n": case.decision_no}, case,
              [enterprise_organisation(case), *city_organisations()])
    return case


def decision_number(organisation: Organisation, year: int, seq: int) -> str:
    cfg = catalogue()["decision_number"]
    if organisation.kind == Organisation.Kind.CITY_BUREAU:
        prefix = cfg.get("city_prefix", "")
    else:
        prefix = short_name(organisation.region)
    return cfg["format"].format(org=prefix, year=year, seq=seq)


REGION_SUFFIXES = ("满族蒙古族自治县", "满族自治县", "自治县", "矿区", "县", "区", "市")


def short_name(region) -> str:
    """宽城满族自治县 -> 宽城, 兴隆县 -> 兴隆 (a decision number's prefix); a region's own short name first."""
    if region.short_zh:
        return region.short_zh
    for suffix in REGION_SUFFIXES:
        if region.name_zh.endswith(suffix) and len(region.name_zh) - len(suffix) >= 2:
            return region.name_zh[: -len(suffix)]
    return region.name_zh


def payment_due(served_on: dt.date) -> dt.date:
    return served_on + dt.timedelta(days=int(procedure()["payment_days"]))


def serve(actor: User, case: PenaltyCase, *, served_on) -> PenaltyCase:
    """送达: the decision reaches the party; the fines fall due `payment_days` later."""
    require_role(actor, case, STEPS["serve"][1])
    if case.status not in STEPS["serve"][0]:
        raise InvalidTransition(_("a decision is served once it is made and before it is paid"))
    if case.served_on is not None:
        raise DomainError(_("the decision was already served on %(d)s") % {"d": case.served_on}, field="served_on")
    errors: dict = {}
    served_on = _date(errors, "served_on", served_on, not_before=case.decided_on, before_label=_("the decision"))
    _raise(errors)
    with transaction.atomic():
        _update(actor, case, S.DECIDED, {"served_on": served_on, "payment_due": payment_due(served_on)},
                action=AuditEvent.Action.UPDATE)
        _send(_("Penalty decision served: %(n)s") % {"n": case.decision_no}, case, [enterprise_organisation(case)])
    return case


# Money -------------------------------------------------------------------------------------------
@dataclass
class FineState:
    target: str
    label: str
    fine: Decimal
    paid: Decimal
    late_fee: latefee.LateFee
    late_fee_paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.fine - self.paid, ZERO)

    @property
    def late_fee_due(self) -> Decimal:
        return max(self.late_fee.amount - self.late_fee_paid, ZERO)

    @property
    def settled(self) -> bool:
        return self.outstanding == 0 and self.late_fee_due == 0


def late_fee_rules() -> dict:
    cfg = catalogue()["late_fee"]
    return {"rate": Decimal(str(cfg["daily_rate"])), "cap_share": Decimal(str(cfg.get("cap_share", "1"))),
            "base": cfg.get("base", "outstanding")}


def fine_states(case: PenaltyCase, as_of: dt.date | None = None, rules: dict | None = None) -> list[FineState]:
    """Each fine of a decided case: paid, outstanding, and its late fee as of `as_of` (today)."""
    as_of = as_of or timezone.localdate()
    rules = rules or late_fee_rules()
    payments = list(case.payments.all())
    pauses = [(c.filed_on, c.concluded_on) for c in case.challenges.all()]
    states = []
    for target, fine in ((Payment.Target.ENTERPRISE, case.enterprise_fine), (Payment.Target.PERSON, case.person_fine)):
        if not fine:
            continue
        mine = [p for p in payments if p.target == target]
        fine_paid = [(p.paid_on, p.amount) for p in mine if p.kind == Payment.Kind.FINE]
        fee = latefee.compute(fine, case.payment_due, fine_paid, pauses, as_of, **rules)
        states.append(FineState(target=target, label=str(Payment.Target(target).label), fine=fine,
                                paid=sum((a for d, a in fine_paid if d <= as_of), ZERO), late_fee=fee,
                                late_fee_paid=sum((p.amount for p in mine if p.kind == Payment.Kind.LATE_FEE
                                                   and p.paid_on <= as_of), ZERO)))
    return states


def record_payment(actor: User, case: PenaltyCase, *, target: str, amount, paid_on, receipt_ref: str,
                   kind: str = Payment.Kind.FINE) -> Payment:
    """A payment towards one fine or its late fee. The payment that settles everything makes the case paid."""
    require_role(actor, case, STEPS["payment"][1])
    if case.status not in STEPS["payment"][0]:
        raise InvalidTransition(_("payments are recorded for a decided case, and this case is %(s)s") % {
            "s": S(case.status).label})
    errors: dict = {}
    if target not in Payment.Target.values:
        errors["target"] = _("choose which fine is paid")
    elif target == Payment.Target.PERSON and not case.person_fine:
        errors["target"] = _("the decision fines only the enterprise")
    if kind not in Payment.Kind.values:
        errors["kind"] = _("choose fine or late fee")
    amount = _money(errors, "amount", amount, label=_("the amount"))
    if amount is not None and amount == 0:
        errors["amount"] = _("give the amount paid")
    paid_on = _date(errors, "paid_on", paid_on, not_before=case.decided_on, before_label=_("the decision"))
    receipt_ref = _text(errors, "receipt_ref", receipt_ref, required=_("give the receipt reference"), max_length=64)
    _raise(errors)
    with transaction.atomic():
        current = locked_row(PenaltyCase, case)
        if current.status != S.DECIDED:
            raise InvalidTransition(_("the case changed meanwhile; reload and try again"))
        state = next(s for s in fine_states(current, as_of=paid_on) if s.target == target)
        if kind == Payment.Kind.FINE and amount > state.outstanding:
            raise ValidationError({"amount": _("more than the %(o)s yuan still owed on this fine") % {
                "o": state.outstanding}})
        if kind == Payment.Kind.LATE_FEE and amount > state.late_fee_due:
            raise ValidationError({"amount": _("more than the %(o)s yuan of late fee owed on %(d)s") % {
                "o": state.late_fee_due, "d": paid_on.isoformat()}})
        payment = Payment.objects.create(case=current, target=target, kind=kind, amount=amount, paid_on=paid_on,
                                         receipt_ref=receipt_ref, recorded_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, payment, after=audit.snapshot(payment))
        settled = all(s.settled for s in fine_states(current, as_of=max(paid_on, timezone.localdate())))
        if settled:
            last = max(p.paid_on for p in current.payments.all())
            _update(actor, case, S.DECIDED, {"status": S.PAID, "paid_on": last})
            _send(_("Fines paid in full: %(n)s") % {"n": current.decision_no}, case,
                  [case.organisation, enterprise_organisation(case)])
    return payment


# Reconsideration and lawsuits ----------------------------------------------------------------------
def file_challenge(actor: User, case: PenaltyCase, *, kind: str, filed_on, body: str = "", note: str = "") -> Challenge:
    """The party applied for reconsideration or sued: recorded, and the late fee pauses while it runs."""
    require_role(actor, case, STEPS["challenge"][1])
    if case.status not in STEPS["challenge"][0]:
        raise InvalidTransition(_("a reconsideration or lawsuit is against a decision"))
    if case.challenges.filter(concluded_on__isnull=True).exists():
        raise DomainError(_("a reconsideration or lawsuit is still running"), field="challenge")
    errors: dict = {}
    if kind not in Challenge.Kind.values:
        errors["kind"] = _("choose reconsideration or lawsuit")
    filed_on = _date(errors, "filed_on", filed_on, not_before=case.decided_on, before_label=_("the decision"))
    body = _text(errors, "body", body, max_length=128)
    note = _text(errors, "note", note)
    _raise(errors)
    with transaction.atomic():
        locked_row(PenaltyCase, case)
        challenge = Challenge.objects.create(case=case, kind=kind, filed_on=filed_on, body=body, note=note,
                                             recorded_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, challenge, after=audit.snapshot(challenge))
        _send(_("%(k)s against %(n)s") % {"k": Challenge.Kind(kind).label, "n": case.decision_no}, case,
              city_organisations())
    return challenge


def conclude_challenge(actor: User, challenge: Challenge, *, concluded_on, outcome: str, note: str = "") -> Challenge:
    case = challenge.case
    require_role(actor, case, STEPS["challenge"][1])
    if challenge.concluded_on is not None:
        raise DomainError(_("this reconsideration or lawsuit is already concluded"), field="challenge")
    errors: dict = {}
    if outcome not in Challenge.Outcome.values:
        errors["outcome"] = _("choose the outcome")
    concluded_on = _date(errors, "concluded_on", concluded_on, not_before=challenge.filed_on,
                         before_label=_("the filing"))
    note = _text(errors, "note", note)
    _raise(errors)
    with transaction.atomic():
        locked_row(PenaltyCase, case)
        current = Challenge.objects.select_for_update().get(pk=challenge.pk)
        if current.concluded_on is not None:
            raise DomainError(_("this reconsideration or lawsuit is already concluded"), field="challenge")
        before = audit.snapshot(current, ["concluded_on", "outcome", "note"])
        current.concluded_on, current.outcome = concluded_on, outcome
        current.note = "\n".join(filter(None, [current.note, note]))
        current.save(update_fields=["concluded_on", "outcome", "note"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before,
                     after=audit.snapshot(current, ["concluded_on", "outcome", "note"]))
        _send(_("%(k)s concluded: %(o)s") % {"k": Challenge.Kind(current.kind).label,
                                             "o": Challenge.Outcome(outcome).label}, case,
              [enterprise_organisation(case), *city_organisations()])
    copy_back(current, challenge)
    return challenge


def revoked(case: PenaltyCase) -> bool:
    return case.challenges.filter(outcome=Challenge.Outcome.REVOKED).exists()


# Closing and withdrawing ---------------------------------------------------------------------------
def close_case(actor: User, case: PenaltyCase, *, note: str = "", closed_on=None) -> PenaltyCase:
    """结案: once the fines are paid, or once a reconsideration or court revoked the decision."""
    _check_transition(actor, case, S.CLOSED)
    if case.challenges.filter(concluded_on__isnull=True).exists():
        raise DomainError(_("a reconsideration or lawsuit is still running"), field="challenge")
    if case.status == S.DECIDED and not revoked(case):
        raise InvalidTransition(_("a decided case is closed once its fines are paid (or the decision is revoked)"))
    errors: dict = {}
    note = _text(errors, "note", note)
    closed_on = _date(errors, "closed_on", closed_on, not_before=case.paid_on or case.decided_on,
                      before_label=_("the payment or decision"))
    _raise(errors)
    with transaction.atomic():
        _update(actor, case, case.status, {"status": S.CLOSED, "closed_on": closed_on, "close_note": note})
        _send(_("Penalty case closed: %(n)s") % {"n": case_label(case)}, case, [enterprise_organisation(case)])
    return case


def withdraw(actor: User, case: PenaltyCase, *, reason: str, withdrawn_on=None) -> PenaltyCase:
    """撤销立案: before the decision, with the reason (e.g. the violation is not established)."""
    _check_transition(actor, case, S.WITHDRAWN)
    errors: dict = {}
    reason = _text(errors, "reason", reason, required=_("give the reason for withdrawing the case"))
    withdrawn_on = _date(errors, "withdrawn_on", withdrawn_on, not_before=case.opened_on,
                         before_label=_("the opening"))
    _raise(errors)
    was_notified = case.status == S.NOTIFIED
    with transaction.atomic():
        _update(actor, case, case.status, {"status": S.WITHDRAWN, "withdrawn_on": withdrawn_on,
                                           "withdraw_reason": reason})
        _send(_("Penalty case withdrawn: %(m)s") % {"m": case.mine.name}, case,
              [case.organisation, *([enterprise_organisation(case)] if was_notified else [])])
    return case


# Reading -----------------------------------------------------------------------------------------
@dataclass
class Entry:
    on: dt.date
    label: str
    detail: str = ""


def timeline(case: PenaltyCase) -> list[Entry]:
    """The case's dated steps in order, for the detail page."""
    entries = [Entry(case.opened_on, _("Case opened (立案)"), SRC(case.source).label)]
    if case.notified_on:
        detail = _("intended fines %(e)s + %(p)s yuan; replies until %(d)s") % {
            "e": case.proposed_enterprise_fine, "p": case.proposed_person_fine or 0, "d": case.reply_due}
        if case.hearing_right:
            detail += _("; hearing right stated")
        entries.append(Entry(case.notified_on, _("Notified (告知)"), detail))
    if case.replied_on:
        entries.append(Entry(case.replied_on, _("Hearing requested") if case.hearing_requested_on
                             else _("Party replied (陈述申辩)"), case.reply_statement[:200]))
    if case.hearing_held_on:
        entries.append(Entry(case.hearing_held_on, _("Hearing held (听证)"), case.hearing_note[:200]))
    if case.decided_on:
        entries.append(Entry(case.decided_on, _("Decided (决定)"), _("%(n)s: %(e)s + %(p)s yuan") % {
            "n": case.decision_no, "e": case.enterprise_fine, "p": case.person_fine}))
    if case.served_on:
        entries.append(Entry(case.served_on, _("Decision served (送达)"), _("fines due %(d)s") % {
            "d": case.payment_due}))
    for p in case.payments.all():
        entries.append(Entry(p.paid_on, _("Payment"), f"{p.get_target_display()} · {p.get_kind_display()} · "
                                                       f"{p.amount} · {p.receipt_ref}"))
    for c in case.challenges.all():
        entries.append(Entry(c.filed_on, c.get_kind_display(), c.body))
        if c.concluded_on:
            entries.append(Entry(c.concluded_on, _("Concluded: %(o)s") % {"o": c.get_outcome_display()}, c.note))
    if case.paid_on and case.status in (S.PAID, S.CLOSED):
        entries.append(Entry(case.paid_on, _("Fines paid in full")))
    if case.closed_on:
        entries.append(Entry(case.closed_on, _("Closed (结案)"), case.close_note))
    if case.withdrawn_on:
        entries.append(Entry(case.withdrawn_on, _("Withdrawn"), case.withdraw_reason))
    return sorted(entries, key=lambda e: e.on)


def decision_overdue(case: PenaltyCase, today: dt.date | None = None) -> bool:
    """Not decided within the catalogue's days of opening (《行政处罚法》第六十条: 90 days)."""
    if case.status not in (S.OPENED, S.NOTIFIED):
        return False
    today = today or timezone.localdate()
    return (today - case.opened_on).days > int(procedure()["decision_due_days"])
