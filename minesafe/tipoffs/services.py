"""Whistleblower reports (举报): intake, the closed loop 受理 → 核实 → 办理 → 反馈, and rewards.

The loop is one table of allowed transitions (TRANSITIONS); each transition is a function that checks
the actor, validates, changes state, recomputes the current step's deadline, audits and notifies in one
transaction. Handlers are the city and the county the report is assigned to (the county of the report,
unless the city reassigned it). The reporter's identity (name, phone) is shown only to handlers and never
written to the audit log: snapshots carry it masked.
"""

import datetime as dt
import decimal
import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.core.uploads import check_photos_or_pdfs
from minesafe.registry.models import Mine

from .models import Reward, Tipoff, TipoffAttachment

S = Tipoff.Status
RS = Reward.Status

# Which step each status waits for, and so which deadline (catalogue `deadlines_days`) applies to it.
STEP_OF = {S.RECEIVED: "accept", S.ACCEPTED: "verify", S.REJECTED: "feedback", S.VERIFIED: "feedback",
           S.HANDLED: "feedback"}
# (from, to): what the transition records. Every transition is for the handlers (city or handling county).
TRANSITIONS = {
    (S.RECEIVED, S.ACCEPTED): "accept",
    (S.RECEIVED, S.REJECTED): "reject",
    (S.ACCEPTED, S.VERIFIED): "verify",
    (S.VERIFIED, S.HANDLED): "handle",
    (S.HANDLED, S.FEEDBACK_GIVEN): "feedback",
    (S.REJECTED, S.FEEDBACK_GIVEN): "feedback",
    (S.FEEDBACK_GIVEN, S.CLOSED): "close",
}
DESCRIPTION_MAX = 4000
TEXT_MAX = 4000
MASK = "***"
IDENTITY_FIELDS = ("contact_name", "contact_phone")
SECRET_FIELDS = {"tracking_hash"}

# The tracking code: 20 symbols of an alphabet without look-alikes (0/O, 1/I/L), ~99 bits of randomness.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 20

ATTACHMENT_MAX_COUNT = 3
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
# Accepted attachments, recognised by their first bytes (never by the name): magic -> (content type, suffix).


def catalogue() -> dict:
    return active_catalogue("tipoffs")


# Tracking codes ----------------------------------------------------------------------------------
def new_tracking_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What the reporter typed, without spaces or dashes, upper case (codes are shown in groups of 4)."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -\t\r\n")[:64]


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def display_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def find_by_code(code: str) -> Tipoff | None:
    """The report whose tracking code this is; None for any wrong, malformed or forged code."""
    code = normalise_code(code)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return Tipoff.objects.filter(tracking_hash=code_hash(code)).select_related("reward").first()


# Who may do what ---------------------------------------------------------------------------------
def county_of(user: User) -> int | None:
    return user.organisation.region_id if user.role == User.Role.COUNTY and user.organisation_id else None


def is_handler(user, tipoff: Tipoff) -> bool:
    """The city, or the county the report is assigned to."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return is_city(user) or (county_of(user) is not None and county_of(user) == tipoff.handling_county_id)


def is_officer(user) -> bool:
    """May use the officers' pages at all (lists): the city and the counties."""
    return bool(user and user.is_authenticated and user.is_active and (
        is_city(user) or (user.role == User.Role.COUNTY and user.organisation_id)))


def may_see_identity(user, tipoff: Tipoff) -> bool:
    return is_handler(user, tipoff)


def require_handler(user, tipoff: Tipoff) -> None:
    if not is_handler(user, tipoff):
        raise PermissionDenied(_("only the county handling the report or the city may do this"))


def require_city(user) -> None:
    if not is_city(user):
        raise PermissionDenied(_("only the city may do this"))


def masked(value: str) -> str:
    return MASK if value else ""


def identity(user, tipoff: Tipoff) -> dict:
    """The reporter's name and phone as this user may see them."""
    show = may_see_identity(user, tipoff)
    return {f: (getattr(tipoff, f) if show else masked(getattr(tipoff, f))) for f in IDENTITY_FIELDS}


def snapshot(tipoff: Tipoff, fields=None) -> dict:
    """The audit snapshot: identity masked, the tracking hash left out."""
    data = audit.snapshot(tipoff, fields)
    for name in SECRET_FIELDS:
        data.pop(name, None)
    for name in IDENTITY_FIELDS:
        if name in data:
            data[name] = masked(data[name])
    return data


# Deadlines ---------------------------------------------------------------------------------------
def deadline_days() -> dict[str, int]:
    return {k: int(v) for k, v in catalogue()["deadlines_days"].items()}


def step_due(tipoff: Tipoff, status: str) -> dt.datetime | None:
    """The deadline of the step a report in `status` waits for, counted from its receipt."""
    step = STEP_OF.get(status)
    return tipoff.received_at + dt.timedelta(days=deadline_days()[step]) if step else None


def deadlines(tipoff: Tipoff) -> dict[str, dt.datetime]:
    return {step: tipoff.received_at + dt.timedelta(days=days) for step, days in deadline_days().items()}


# Validation helpers ------------------------------------------------------------------------------
def _text(errors: dict, field: str, value: str, *, required: str | None = None, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[field] = required
    elif len(value) > max_length:
        errors[field] = _("at most %(n)d characters") % {"n": max_length}
    return value


def check_attachments(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str, str]]:
    return check_photos_or_pdfs(files, field="attachments", max_count=ATTACHMENT_MAX_COUNT,
                                max_bytes=ATTACHMENT_MAX_BYTES)


def handler_organisations(tipoff: Tipoff) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=tipoff.handling_county_id))


def city_organisations() -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


def link(tipoff: Tipoff) -> str:
    return reverse("tipoffs:detail", args=[tipoff.pk])


def next_number(received: dt.datetime) -> str:
    year = timezone.localdate(received).year
    prefix = f"JB{year}-"
    last = Tipoff.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True)
    seq = int(last[0][len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:05d}"


# Intake ------------------------------------------------------------------------------------------
def submit(*, county: Region | None, category: str, description: str, mine: Mine | None = None, place: str = "",
           anonymous: bool = True, contact_name: str = "", contact_phone: str = "",
           attachments: list[tuple[str, bytes]] = ()) -> tuple[Tipoff, str]:
    """A report from the public form. Returns the report and its tracking code (shown once, never stored)."""
    errors: dict[str, str] = {}
    if mine is not None and county is None:
        county = mine.county
    if county is None or not county.is_county_level:
        errors["county"] = _("choose the county")
    elif mine is not None and mine.county_id != county.pk:
        errors["mine"] = _("this mine is not in the county chosen")
    if category not in Tipoff.Category.values:
        errors["category"] = _("choose a category")
    description = _text(errors, "description", description, required=_("describe what you report"),
                        max_length=DESCRIPTION_MAX)
    place = _text(errors, "place", place, max_length=200)
    if mine is None and not place and "place" not in errors:
        errors["place"] = _("choose the mine or say where it is")
    contact_name = _text(errors, "contact_name", contact_name, max_length=64)
    contact_phone = _text(errors, "contact_phone", contact_phone, max_length=32)
    if contact_phone and not all(ch.isdigit() or ch in "+- " for ch in contact_phone):
        errors["contact_phone"] = _("digits only")
    if anonymous:
        contact_name = contact_phone = ""
    elif not (contact_name or contact_phone):
        errors["contact_name"] = _("give a name or phone, or report anonymously")
    if errors:
        raise ValidationError(errors)
    files = check_attachments(list(attachments))
    code = new_tracking_code()
    with transaction.atomic():
        audit.lock_chain()  # also serialises the numbering
        now = timezone.now()
        tipoff = Tipoff(number=next_number(now), tracking_hash=code_hash(code), county=county,
                        handling_county=county, mine=mine, place=place, category=category,
                        description=description, anonymous=anonymous, contact_name=contact_name,
                        contact_phone=contact_phone, received_at=now)
        tipoff.due_at = step_due(tipoff, S.RECEIVED)
        tipoff.save()
        for name, content, content_type, suffix in files:
            digest = hashlib.sha256(content).hexdigest()
            attachment = TipoffAttachment(tipoff=tipoff, original_name=name, content_type=content_type,
                                          size=len(content), sha256=digest)
            attachment.file.save(f"{digest[:16]}{suffix}", ContentFile(content), save=False)
            attachment.save()
        audit.record("public", AuditEvent.Action.CREATE, tipoff, after={
            **snapshot(tipoff), "attachment_files": [(f[0], hashlib.sha256(f[1]).hexdigest()) for f in files]})
        notify.send(_("Whistleblower report received: %(n)s") % {"n": tipoff.number},
                    Tipoff.Category(category).label, link(tipoff),
                    organisations=handler_organisations(tipoff) + city_organisations())
    return tipoff, code


# The closed loop ---------------------------------------------------------------------------------
def _transition(actor: User, tipoff: Tipoff, to: str, **changes) -> Tipoff:
    require_handler(actor, tipoff)
    if (tipoff.status, to) not in TRANSITIONS:
        raise InvalidTransition(_("a report that is %(s)s cannot become %(t)s") % {
            "s": S(tipoff.status).label, "t": S(to).label})
    with transaction.atomic():
        current = locked_row(Tipoff, tipoff)
        if current.status != tipoff.status:
            raise InvalidTransition(_("the report changed meanwhile; reload and try again"))
        fields = ["status", "due_at", "escalated_at", *changes]
        before = snapshot(current, fields)
        current.status = to
        current.due_at = step_due(current, to)
        current.escalated_at = None  # a new step starts its own lateness
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after=snapshot(current, fields))
    copy_back(current, tipoff)
    return tipoff


def accept(actor: User, tipoff: Tipoff) -> Tipoff:
    """受理: received -> accepted."""
    return _transition(actor, tipoff, S.ACCEPTED, accepted_at=timezone.now())


def reject(actor: User, tipoff: Tipoff, reason: str) -> Tipoff:
    """Not accepted (e.g. not a mine-safety matter, or outside the city), with the reason."""
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, required=_("give the reason"))
    if errors:
        raise ValidationError(errors)
    return _transition(actor, tipoff, S.REJECTED, rejected_at=timezone.now(), reject_reason=reason)


def verify(actor: User, tipoff: Tipoff, *, substantiated: bool, findings: str) -> Tipoff:
    """核实: accepted -> verified, substantiated or not, with the findings."""
    errors: dict[str, str] = {}
    findings = _text(errors, "findings", findings, required=_("record the findings"))
    if not isinstance(substantiated, bool):
        errors["substantiated"] = _("say whether the report is substantiated")
    if errors:
        raise ValidationError(errors)
    return _transition(actor, tipoff, S.VERIFIED, verified_at=timezone.now(), substantiated=substantiated,
                       findings=findings)


def handle(actor: User, tipoff: Tipoff, *, action_taken: str, hazard_item=None, hazard_description: str = "",
           hazard_mine: Mine | None = None) -> Tipoff:
    """办理: verified -> handled, with the action taken. A substantiated report may open a major hazard in the
    hazards app (source "tipoff") on its mine (or `hazard_mine` in the handler's remit) under `hazard_item`."""
    from minesafe.hazards import services as hazards

    errors: dict[str, str] = {}
    action_taken = _text(errors, "action_taken", action_taken, required=_("record the action taken"))
    mine = hazard_mine or tipoff.mine
    if hazard_item is not None:
        if not tipoff.substantiated:
            errors["hazard_item"] = _("only a substantiated report opens a hazard")
        elif mine is None:
            errors["hazard_mine"] = _("choose the mine the hazard is at")
        elif mine.county_id != tipoff.handling_county_id and not is_city(actor):
            errors["hazard_mine"] = _("the mine is not in the county handling the report")
    if errors:
        raise ValidationError(errors)
    require_handler(actor, tipoff)
    if tipoff.status != S.VERIFIED:
        raise InvalidTransition(_("only a verified report can be handled"))
    with transaction.atomic():
        hazard = None
        if hazard_item is not None:
            hazard = hazards.report_hazard(
                actor, mine, hazard_item, source="tipoff", found_on=timezone.localdate(),
                description=(hazard_description or "").strip() or tipoff.findings,
                finder_name=_("whistleblower report %(n)s") % {"n": tipoff.number})
        return _transition(actor, tipoff, S.HANDLED, handled_at=timezone.now(), action_taken=action_taken,
                           hazard=hazard)


def give_feedback(actor: User, tipoff: Tipoff, feedback: str) -> Tipoff:
    """反馈: the text the reporter reads with the code (handled or rejected -> feedback given)."""
    errors: dict[str, str] = {}
    feedback = _text(errors, "feedback", feedback, required=_("write the feedback to the reporter"))
    if errors:
        raise ValidationError(errors)
    return _transition(actor, tipoff, S.FEEDBACK_GIVEN, feedback_at=timezone.now(), feedback=feedback)


def close(actor: User, tipoff: Tipoff) -> Tipoff:
    if tipoff.substantiated and tipoff.status == S.FEEDBACK_GIVEN:
        reward = Reward.objects.filter(tipoff=tipoff).first()
        if reward is not None and reward.status in (RS.PROPOSED, RS.APPROVED):
            raise InvalidTransition(_("the reward is %(s)s; close the report once it is paid or refused") % {
                "s": RS(reward.status).label})
    return _transition(actor, tipoff, S.CLOSED, closed_at=timezone.now())


def reassign(actor: User, tipoff: Tipoff, county: Region, note: str = "") -> Tipoff:
    """The city hands a report to another county (before it is closed)."""
    require_city(actor)
    if county is None or not county.is_county_level:
        raise ValidationError({"county": _("choose a county")})
    if tipoff.status == S.CLOSED:
        raise InvalidTransition(_("a closed report cannot be reassigned"))
    if county.pk == tipoff.handling_county_id:
        raise ValidationError({"county": _("the report is already with this county")})
    with transaction.atomic():
        current = locked_row(Tipoff, tipoff)
        before = {"handling_county": current.handling_county_id}
        current.handling_county = county
        current.save(update_fields=["handling_county"])
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before,
                     after={"handling_county": county.pk, "note": (note or "").strip()[:500]})
        notify.send(_("Whistleblower report assigned to you: %(n)s") % {"n": current.number},
                    Tipoff.Category(current.category).label, link(current),
                    organisations=handler_organisations(current))
    copy_back(current, tipoff)
    return tipoff


# Rewards -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RewardQuote:
    amount: decimal.Decimal
    rule: str


def quote_reward(category: str, severity: str, rules: dict | None = None) -> RewardQuote:
    """The reward by the catalogue's rule: base of the category × multiplier of the severity, capped."""
    rules = rules or catalogue()["rewards"]
    if category not in rules["base_by_category"]:
        raise ValidationError({"category": _("no reward rule for this category")})
    if severity not in rules["severity_multiplier"]:
        raise ValidationError({"severity": _("unknown severity")})
    base = decimal.Decimal(str(rules["base_by_category"][category]))
    factor = decimal.Decimal(str(rules["severity_multiplier"][severity]))
    cap = decimal.Decimal(str(rules["cap"]))
    raw = (base * factor).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)
    amount = min(raw, cap)
    rule = f"{base} × {factor}" + (f" = {raw}, capped at {cap}" if raw > cap else f" = {amount}")
    return RewardQuote(amount=amount.quantize(decimal.Decimal("0.01")), rule=rule)


def propose_reward(actor: User, tipoff: Tipoff, severity: str) -> Reward:
    """The handler proposes the rule's reward for a substantiated report (once it is handled)."""
    require_handler(actor, tipoff)
    if not tipoff.substantiated or tipoff.status not in (S.HANDLED, S.FEEDBACK_GIVEN):
        raise InvalidTransition(_("a reward is proposed for a substantiated report once it is handled"))
    quote = quote_reward(tipoff.category, severity)
    with transaction.atomic():
        locked_row(Tipoff, tipoff)
        if Reward.objects.filter(tipoff=tipoff).exists():
            raise InvalidTransition(_("a reward was already proposed for this report"))
        reward = Reward.objects.create(tipoff=tipoff, severity=severity, amount=quote.amount, rule=quote.rule,
                                       proposed_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, reward, after=audit.snapshot(reward))
        if not is_city(actor):
            notify.send(_("Reward proposed for report %(n)s") % {"n": tipoff.number}, str(quote.amount),
                        link(tipoff), organisations=city_organisations())
    return reward


def _reward_step(actor: User, reward: Reward, frm: str, to: str, **changes) -> Reward:
    require_city(actor)
    if reward.status != frm:
        raise InvalidTransition(_("the reward is %(s)s") % {"s": RS(reward.status).label})
    with transaction.atomic():
        current = locked_row(Reward, reward)
        if current.status != frm:
            raise InvalidTransition(_("the reward changed meanwhile; reload and try again"))
        fields = ["status", *changes]
        before = audit.snapshot(current, fields)
        current.status = to
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
    copy_back(current, reward)
    return reward


def approve_reward(actor: User, reward: Reward) -> Reward:
    return _reward_step(actor, reward, RS.PROPOSED, RS.APPROVED, decided_by=actor, decided_at=timezone.now())


def refuse_reward(actor: User, reward: Reward, reason: str) -> Reward:
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, required=_("give the reason"))
    if errors:
        raise ValidationError(errors)
    return _reward_step(actor, reward, RS.PROPOSED, RS.REFUSED, decided_by=actor, decided_at=timezone.now(),
                        refusal_reason=reason)


def pay_reward(actor: User, reward: Reward, *, paid_on: dt.date, payment_ref: str) -> Reward:
    errors: dict[str, str] = {}
    payment_ref = _text(errors, "payment_ref", payment_ref, required=_("give the payment reference"), max_length=64)
    if paid_on is None:
        errors["paid_on"] = _("give the payment date")
    elif paid_on > timezone.localdate():
        errors["paid_on"] = _("cannot be in the future")
    elif reward.decided_at and paid_on < timezone.localdate(reward.decided_at):
        errors["paid_on"] = _("is before the approval")
    if errors:
        raise ValidationError(errors)
    return _reward_step(actor, reward, RS.APPROVED, RS.PAID, paid_on=paid_on, payment_ref=payment_ref)


# What the reporter sees --------------------------------------------------------------------------
def public_view(tipoff: Tipoff) -> dict:
    """Only status, dates, the public feedback and the reward's status: nothing the officers wrote internally."""
    reward = Reward.objects.filter(tipoff=tipoff).first()
    return {
        "status": S(tipoff.status).label,
        "received_at": tipoff.received_at, "accepted_at": tipoff.accepted_at or tipoff.rejected_at,
        "verified_at": tipoff.verified_at, "handled_at": tipoff.handled_at, "feedback_at": tipoff.feedback_at,
        "closed_at": tipoff.closed_at, "feedback": tipoff.feedback if tipoff.feedback_at else "",
        "reward_status": RS(reward.status).label if reward else "",
        "reward_amount": reward.amount if reward and reward.status in (RS.APPROVED, RS.PAID) else None,
        "reward_paid_on": reward.paid_on if reward else None,
        "claimable": bool(reward and reward.status == RS.APPROVED),
    }
