"""Special-operation certificates (特种作业操作证), plan task 3.

A certificate is valid for `validity_years` (6) from issue; it is reviewed (复审) every `review_interval_years`
(3) from issue or the last review, or every 6 years when the issuer extended the interval (`extended_review`:
the catalogue states the condition, the issuer decides, the platform records it). A review falling due inside
the renewal window (`renewal_window_days_before_expiry` before expiry) is merged with the renewal (延期复审).
A certificate whose review is overdue no longer licenses its holder, as one that expired or was revoked.

Underground mines: a first-time holder (no earlier certificate under the same ID number) needs senior high
school education. A person assigned to a special operation without a valid certificate of that category is
flagged (任职无证). The certificate ledger of a mine can be imported from Excel (atomic, row-level report).

Certificate numbers often embed the holder's ID number (T + 身份证号): the ID part is masked wherever ID numbers
are (for readers who may not see personal data, and always in the audit log).
"""

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, User
from minesafe.core.rows import copy_back
from minesafe.core.validators import resident_id_error
from minesafe.registry.excel import (
    ImportFileError,
    ImportResult,
    RowError,
    check_upload,
    parse_date,
    read_rows,
    safe_cell,
)
from minesafe.registry.models import Mine
from minesafe.registry.services import add_months

from . import common
from .models import EDUCATION_ORDER, Certificate, Education, Person

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


class State(models.TextChoices):
    VALID = "valid", gettext_lazy("Valid")
    EXPIRING = "expiring", gettext_lazy("Expiring (renewal window)")
    REVIEW_OVERDUE = "review_overdue", gettext_lazy("Review overdue")
    EXPIRED = "expired", gettext_lazy("Expired")
    REVOKED = "revoked", gettext_lazy("Revoked")


LICENSING_STATES = {State.VALID, State.EXPIRING}  # a certificate in these states licenses its holder


class CertificateStatus(NamedTuple):
    state: str
    next_review_due: dt.date | None  # None: no review before expiry (the renewal covers it), or not current
    in_renewal_window: bool


# The catalogue's rules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    validity_years: int
    review_interval_years: int
    extended_interval_years: int
    extended_condition: str
    renewal_window_days: int
    underground_education_min: str  # an Education code

    @property
    def renewal_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.renewal_window_days)


# The catalogue states the minimum education in words (e.g. "高中 (senior high school)").
EDUCATION_WORDS = {"小学": Education.PRIMARY, "初中": Education.JUNIOR, "高中": Education.HIGH,
                   "中专": Education.SECONDARY_TECH, "大专": Education.COLLEGE, "本科": Education.BACHELOR,
                   "硕士": Education.MASTER, "研究生": Education.MASTER, "senior high": Education.HIGH}


def education_code(entry) -> str:
    text = str(entry.get("value", "") if isinstance(entry, dict) else entry).strip()
    if text in EDUCATION_ORDER:
        return text
    for word, code in EDUCATION_WORDS.items():
        if word in text.lower():
            return str(code)
    raise ImproperlyConfigured(f"personnel catalogue: unknown education level {text!r}")


def rules() -> Rules:
    cat = common.catalogue()
    cert = cat["certificate_rules"]
    extended = cert.get("extended_review") or {}
    return Rules(
        validity_years=int(cert["validity_years"]),
        review_interval_years=int(cert["review_interval_years"]),
        extended_interval_years=int(extended.get("interval_years", cert["review_interval_years"])),
        extended_condition=str(extended.get("condition", "")),
        renewal_window_days=int(cert["renewal_window_days_before_expiry"]),
        underground_education_min=education_code(
            cat["special_operations"]["first_certificate_underground_education_min"]),
    )


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)  # 29 February -> 28 February


def category_label(code: str, categories: dict | None = None) -> str:
    item = (categories if categories is not None else common.operation_categories()).get(code)
    return common.label(item) if item else code


def category_choices() -> list[tuple[str, str]]:
    return [(code, common.label(item)) for code, item in common.operation_categories().items()]


# State -------------------------------------------------------------------------------------------
def next_review_due(cert: Certificate, limits: Rules) -> dt.date | None:
    """The next review (复审) date, or None when it would fall inside the renewal window: the renewal at expiry
    (延期复审) is then the review."""
    interval = limits.extended_interval_years if cert.extended_review else limits.review_interval_years
    due = add_years(cert.last_review_on or cert.issued_on, interval)
    return due if due < cert.expires_on - limits.renewal_window else None


def certificate_state(cert: Certificate, today: dt.date | None = None, *,
                      limits: Rules | None = None) -> CertificateStatus:
    """(state, next review due, in the renewal window) on `today`. A certificate is valid through its expiry
    day; a review not done by its due date makes it review_overdue (it no longer licenses the holder)."""
    limits = limits or rules()
    today = today or timezone.localdate()
    if cert.revoked:
        return CertificateStatus(State.REVOKED, None, False)
    if today > cert.expires_on:
        return CertificateStatus(State.EXPIRED, None, False)
    in_window = today >= cert.expires_on - limits.renewal_window
    due = next_review_due(cert, limits)
    if due is not None and today > due:
        return CertificateStatus(State.REVIEW_OVERDUE, due, in_window)
    return CertificateStatus(State.EXPIRING if in_window else State.VALID, due, in_window)


# Masking -----------------------------------------------------------------------------------------
def mask_embedded_id(text: str, id_number: str) -> str:
    """`text` with the ID number in it (any case) masked as ID numbers are."""
    if not id_number or not text:
        return text
    at = text.upper().find(id_number.upper())
    if at < 0:
        return text
    return text[:at] + common.mask_id(id_number) + text[at + len(id_number):]


def shown_number(cert: Certificate, may_see: bool) -> str:
    return cert.number if may_see else mask_embedded_id(cert.number, cert.person.id_number)


def _audit_data(cert: Certificate, fields=None) -> dict:
    data = common.snapshot(cert, fields)
    if "number" in data:
        data["number"] = mask_embedded_id(data["number"], cert.person.id_number)
    return data


def _audit_repr(cert: Certificate) -> str:
    return f"{mask_embedded_id(cert.number, cert.person.id_number)} {cert.person.name}"


# Validation --------------------------------------------------------------------------------------
def _earlier_certificate_exists(person: Person, issued_on: dt.date, exclude_pk: int | None = None) -> bool:
    """Any certificate under the same ID number (at any mine) issued before `issued_on`."""
    qs = Certificate.objects.filter(person__id_number=person.id_number, issued_on__lt=issued_on)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def education_refusal(person: Person, limits: Rules, has_earlier: bool) -> str | None:
    """Why `person` may not get a first certificate at an underground mine, or None."""
    if has_earlier or person.mine.mine_type != Mine.Type.UNDERGROUND:
        return None
    if common.education_at_least(person.education, limits.underground_education_min):
        return None
    return _("a first certificate at an underground mine needs %(min)s education or higher; the holder has "
             "%(has)s") % {"min": Education(limits.underground_education_min).label,
                           "has": Education(person.education).label if person.education in EDUCATION_ORDER
                           else person.education}


def certificate_errors(person: Person, *, category: str, number: str, issued_on: dt.date | None,
                       expires_on: dt.date | None, last_review_on: dt.date | None, issuer: str, today: dt.date,
                       limits: Rules, categories: dict, has_earlier: bool) -> dict[str, str]:
    """Field -> reason for one certificate's values (no database access; uniqueness is checked apart)."""
    errors: dict[str, str] = {}
    if category not in categories:
        errors["category"] = _("unknown special-operation category; allowed: %(c)s") % {
            "c": "、".join(common.label(c) for c in categories.values())}
    if not number:
        errors["number"] = _("give the certificate number")
    elif len(number) > Certificate._meta.get_field("number").max_length:
        errors["number"] = _("at most %(n)d characters") % {"n": Certificate._meta.get_field("number").max_length}
    if len(issuer) > Certificate._meta.get_field("issuer").max_length:
        errors["issuer"] = _("at most %(n)d characters") % {"n": Certificate._meta.get_field("issuer").max_length}
    if issued_on is None:
        errors["issued_on"] = _("give the issue date")
        return errors
    if issued_on > today:
        errors["issued_on"] = _("cannot be in the future")
    if expires_on is not None and expires_on <= issued_on:
        errors["expires_on"] = _("expiry (%(e)s) must be after the issue date (%(i)s)") % {
            "e": expires_on, "i": issued_on}
    if last_review_on is not None:
        if last_review_on > today:
            errors["last_review_on"] = _("cannot be in the future")
        elif last_review_on < issued_on:
            errors["last_review_on"] = _("is before the issue date (%(d)s)") % {"d": issued_on}
        elif expires_on is not None and last_review_on > expires_on:
            errors["last_review_on"] = _("is after the expiry date (%(d)s)") % {"d": expires_on}
    if "issued_on" not in errors and (reason := education_refusal(person, limits, has_earlier)):
        errors["person"] = reason
    return errors


def _number_taken(category: str, number: str, exclude_pk: int | None = None) -> bool:
    qs = Certificate.objects.filter(category=category, number=number)
    return (qs.exclude(pk=exclude_pk) if exclude_pk else qs).exists()


def _regulator_organisations(mine: Mine) -> list:
    from minesafe.core.models import Organisation

    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=mine.county_id))


def certificate_link(cert: Certificate) -> str:
    return reverse("personnel:certificate-detail", args=[cert.pk])


# Transitions -------------------------------------------------------------------------------------
def issue_certificate(actor: User, person: Person, *, category: str, number: str, issued_on: dt.date,
                      expires_on: dt.date | None = None, last_review_on: dt.date | None = None,
                      extended_review: bool = False, issuer: str = "") -> Certificate:
    """Record a certificate held by `person` (the mine's enterprise, its county or the city). The expiry
    defaults to issue + validity_years; `extended_review` records the issuer's decision to review every 6
    years (the catalogue's condition)."""
    common.require_write(actor, person.mine)
    limits, today = rules(), timezone.localdate()
    number, issuer, category = (number or "").strip(), (issuer or "").strip(), (category or "").strip()
    errors = certificate_errors(person, category=category, number=number, issued_on=issued_on,
                                expires_on=expires_on, last_review_on=last_review_on, issuer=issuer, today=today,
                                limits=limits, categories=common.operation_categories(),
                                has_earlier=bool(issued_on) and _earlier_certificate_exists(person, issued_on))
    if errors:
        raise ValidationError(errors)
    expires_on = expires_on or add_years(issued_on, limits.validity_years)
    if last_review_on and last_review_on > expires_on:
        raise ValidationError({"last_review_on": _("is after the expiry date (%(d)s)") % {"d": expires_on}})
    with transaction.atomic():
        audit.lock_chain()
        if _number_taken(category, number):
            raise ValidationError({"number": _("a %(c)s certificate with this number is already recorded") % {
                "c": category_label(category)}})
        cert = Certificate.objects.create(person=person, category=category, number=number, issued_on=issued_on,
                                          expires_on=expires_on, last_review_on=last_review_on,
                                          extended_review=bool(extended_review), issuer=issuer, created_by=actor)
        after = _audit_data(cert)
        if cert.extended_review:
            after["extended_review_condition"] = limits.extended_condition
        audit.record(actor, AuditEvent.Action.CREATE, cert, after=after, object_repr=_audit_repr(cert))
    return cert


def _locked(cert: Certificate) -> Certificate:
    audit.lock_chain()
    return Certificate.objects.select_for_update().select_related("person__mine__enterprise").get(pk=cert.pk)



def _require_current(cert: Certificate, today: dt.date, doing: str) -> None:
    if cert.revoked:
        raise InvalidTransition(_("the certificate is revoked; %(d)s is not possible") % {"d": doing})
    if today > cert.expires_on:
        raise InvalidTransition(_("the certificate expired on %(e)s; the holder must be examined again") % {
            "e": cert.expires_on})


def record_review(actor: User, cert: Certificate, *, reviewed_on: dt.date,
                  extended_review: bool | None = None) -> Certificate:
    """A review (复审) passed on `reviewed_on` (not in the future, not before issue or the last review);
    `extended_review` records the issuer's decision on the next interval (None keeps it)."""
    common.require_write(actor, cert.person.mine)
    today = timezone.localdate()
    _require_current(cert, today, _("a review"))
    errors: dict[str, str] = {}
    if reviewed_on is None:
        errors["reviewed_on"] = _("give the review date")
    elif reviewed_on > today:
        errors["reviewed_on"] = _("cannot be in the future")
    elif reviewed_on < cert.issued_on:
        errors["reviewed_on"] = _("is before the issue date (%(d)s)") % {"d": cert.issued_on}
    elif cert.last_review_on and reviewed_on < cert.last_review_on:
        errors["reviewed_on"] = _("is before the last review (%(d)s)") % {"d": cert.last_review_on}
    if errors:
        raise ValidationError(errors)
    fields = ["last_review_on", "extended_review"]
    with transaction.atomic():
        current = _locked(cert)
        _require_current(current, today, _("a review"))
        before = _audit_data(current, fields)
        current.last_review_on = reviewed_on
        if extended_review is not None:
            current.extended_review = bool(extended_review)
        current.save(update_fields=fields)
        after = _audit_data(current, fields)
        if current.extended_review:
            after["extended_review_condition"] = rules().extended_condition
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after=after,
                     object_repr=_audit_repr(current))
    copy_back(current, cert)
    return cert


def renew_certificate(actor: User, cert: Certificate, *, renewed_on: dt.date,
                      expires_on: dt.date | None = None) -> Certificate:
    """The renewal at expiry (延期复审, inside the renewal window): a new expiry (default: the old one +
    validity_years); the renewal counts as the latest review."""
    common.require_write(actor, cert.person.mine)
    today, limits = timezone.localdate(), rules()
    _require_current(cert, today, _("a renewal"))
    errors: dict[str, str] = {}
    opens = cert.expires_on - limits.renewal_window
    if renewed_on is None:
        errors["renewed_on"] = _("give the renewal date")
    elif renewed_on > today:
        errors["renewed_on"] = _("cannot be in the future")
    elif renewed_on < opens:
        errors["renewed_on"] = _("the renewal window opens on %(d)s (%(n)d days before expiry)") % {
            "d": opens, "n": limits.renewal_window_days}
    new_expiry = expires_on or add_years(cert.expires_on, limits.validity_years)
    if new_expiry <= cert.expires_on:
        errors["expires_on"] = _("must be after the current expiry (%(d)s)") % {"d": cert.expires_on}
    if errors:
        raise ValidationError(errors)
    fields = ["expires_on", "last_review_on"]
    with transaction.atomic():
        current = _locked(cert)
        _require_current(current, today, _("a renewal"))
        before = _audit_data(current, fields)
        current.expires_on, current.last_review_on = new_expiry, renewed_on
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=_audit_data(current, fields), object_repr=_audit_repr(current))
    copy_back(current, cert)
    return cert


def revoke_certificate(actor: User, cert: Certificate, *, reason: str) -> Certificate:
    """Revoke (the mine's county or the city); the enterprise is told: the holder may no longer do the work."""
    mine = cert.person.mine
    common.require_regulator(actor, mine)
    if cert.revoked:
        raise InvalidTransition(_("the certificate is already revoked"))
    reason = (reason or "").strip()
    limit = Certificate._meta.get_field("revoked_reason").max_length
    if not reason:
        raise ValidationError({"reason": _("say why the certificate is revoked")})
    if len(reason) > limit:
        raise ValidationError({"reason": _("at most %(n)d characters") % {"n": limit}})
    with transaction.atomic():
        current = _locked(cert)
        if current.revoked:
            raise InvalidTransition(_("the certificate is already revoked"))
        current.revoked, current.revoked_reason = True, reason
        current.save(update_fields=["revoked", "revoked_reason"])
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"revoked": False},
                     after={"revoked": True, "revoked_reason": reason}, object_repr=_audit_repr(current))
        notify.send(_("Special-operation certificate revoked: %(p)s (%(m)s)") % {
            "p": current.person.name, "m": mine.name}, reason, certificate_link(current),
            organisations=[mine.enterprise.organisation])
    copy_back(current, cert)
    return cert


# Reading -----------------------------------------------------------------------------------------
def scoped_certificates(user):
    return Certificate.objects.visible_to(user).select_related("person__mine__county", "person__mine__enterprise")


@dataclass(frozen=True)
class CertificateRow:
    certificate: Certificate
    status: CertificateStatus

    @property
    def state_label(self) -> str:
        return str(State(self.status.state).label)


def with_states(certs: Iterable[Certificate], today: dt.date | None = None,
                limits: Rules | None = None) -> list[CertificateRow]:
    limits, today = limits or rules(), today or timezone.localdate()
    return [CertificateRow(c, certificate_state(c, today, limits=limits)) for c in certs]


def latest_per_category(certs: Iterable[Certificate]) -> list[Certificate]:
    """Of the non-revoked certificates, each person's latest one per category (by expiry): an older one
    superseded by a newer certificate of the same category is history, not a flag."""
    best: dict[tuple[int, str], Certificate] = {}
    for cert in certs:
        if cert.revoked:
            continue
        key = (cert.person_id, cert.category)
        held = best.get(key)
        if held is None or (cert.expires_on, cert.pk) > (held.expires_on, held.pk):
            best[key] = cert
    return list(best.values())


@dataclass(frozen=True)
class UnlicensedWork:
    """任职无证: a person assigned to a special operation without a valid certificate of that category."""

    person: Person
    operation: str
    operation_label: str
    reason: str
    certificate: Certificate | None  # the best certificate held (expired, review overdue, revoked), if any


def _unlicensed_reason(cert: Certificate | None, status: CertificateStatus | None) -> str:
    if cert is None:
        return _("no certificate of this category")
    if status.state == State.REVOKED:
        return _("certificate revoked: %(r)s") % {"r": cert.revoked_reason}
    if status.state == State.EXPIRED:
        return _("certificate expired on %(d)s") % {"d": cert.expires_on}
    return _("certificate review overdue since %(d)s") % {"d": status.next_review_due}


STATE_RANK = {State.VALID: 4, State.EXPIRING: 3, State.REVIEW_OVERDUE: 2, State.EXPIRED: 1, State.REVOKED: 0}


def unlicensed_work(user, today: dt.date | None = None, *, people=None) -> list[UnlicensedWork]:
    """Active people at working mines in `user`'s scope doing an assigned special operation without a valid
    certificate of that category (valid or in its renewal window); ordered by county, mine, name."""
    limits, today = rules(), today or timezone.localdate()
    categories = common.operation_categories()
    if people is None:
        people = Person.objects.visible_to(user)
    people = (people.filter(active=True).exclude(mine__status=Mine.Status.CLOSED)
              .select_related("mine__county", "mine__enterprise").prefetch_related("certificates")
              .order_by("mine__county__code", "mine__name", "name", "pk"))
    flags = []
    for person in people:
        operations = person.assigned_operations if isinstance(person.assigned_operations, list) else []
        for operation in dict.fromkeys(str(o) for o in operations):
            if operation not in categories:
                flags.append(UnlicensedWork(person, operation, operation,
                                            _("not a special-operation category of the catalogue"), None))
                continue
            held = [(c, certificate_state(c, today, limits=limits)) for c in person.certificates.all()
                    if c.category == operation]
            held.sort(key=lambda cs: (STATE_RANK[cs[1].state], cs[0].expires_on, cs[0].pk), reverse=True)
            best, status = held[0] if held else (None, None)
            if status is not None and status.state in LICENSING_STATES:
                continue
            flags.append(UnlicensedWork(person, operation, category_label(operation, categories),
                                        _unlicensed_reason(best, status), best))
    return flags


@dataclass(frozen=True)
class CountyCounts:
    county_code: str
    county_name: str
    expiring: int
    review_overdue: int
    expired: int
    unlicensed: int


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    window_days: int
    expiring: tuple[CertificateRow, ...]
    review_overdue: tuple[CertificateRow, ...]
    expired: tuple[CertificateRow, ...]
    unlicensed: tuple[UnlicensedWork, ...]
    counties: tuple[CountyCounts, ...]


def expiry_dashboard(user, today: dt.date | None = None, *, county: str = "") -> Dashboard:
    """The certificates to act on in `user`'s scope (optionally one county, by code), each person's latest
    certificate per category at working mines: expiring within the renewal window, review overdue, expired;
    and the unlicensed workers (任职无证); with counts per county."""
    limits, today = rules(), today or timezone.localdate()
    certs = scoped_certificates(user).filter(person__active=True).exclude(person__mine__status=Mine.Status.CLOSED)
    people = Person.objects.visible_to(user)
    if county:
        certs = certs.filter(person__mine__county__code=county)
        people = people.filter(mine__county__code=county)
    rows = with_states(latest_per_category(certs), today, limits)

    def ordered(state):
        picked = [r for r in rows if r.status.state == state]
        return tuple(sorted(picked, key=lambda r: (r.certificate.expires_on, r.certificate.person.mine.name,
                                                   r.certificate.person.name, r.certificate.pk)))

    expiring, overdue, expired = ordered(State.EXPIRING), ordered(State.REVIEW_OVERDUE), ordered(State.EXPIRED)
    unlicensed = tuple(unlicensed_work(user, today, people=people))
    tally: dict[int, dict] = {}

    def bump(mine: Mine, key: str):
        entry = tally.setdefault(mine.county_id, {"county": mine.county, "expiring": 0, "review_overdue": 0,
                                                  "expired": 0, "unlicensed": 0})
        entry[key] += 1

    for key, group in (("expiring", expiring), ("review_overdue", overdue), ("expired", expired)):
        for row in group:
            bump(row.certificate.person.mine, key)
    for flag in unlicensed:
        bump(flag.person.mine, "unlicensed")
    counties = tuple(CountyCounts(e["county"].code, str(e["county"]), e["expiring"], e["review_overdue"],
                                  e["expired"], e["unlicensed"])
                     for e in sorted(tally.values(), key=lambda e: e["county"].code))
    return Dashboard(today, limits.renewal_window_days, expiring, overdue, expired, unlicensed, counties)


# Excel -------------------------------------------------------------------------------------------
def _sheet(wb: Workbook, title: str, header: list[str], rows: Iterable[list]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(v) for v in row])


def build_dashboard_export(user, board: Dashboard) -> bytes:
    """The dashboard as a workbook; ID numbers (also inside certificate numbers) masked unless the reader
    may see the mine's personal data."""
    wb = Workbook(write_only=True)
    categories = common.operation_categories()
    seen: dict[int, bool] = {}

    def may_see(mine: Mine) -> bool:
        if mine.pk not in seen:
            seen[mine.pk] = common.may_see_personal(user, mine)
        return seen[mine.pk]

    def id_shown(person: Person) -> str:
        return person.id_number if may_see(person.mine) else common.mask_id(person.id_number)

    _sheet(wb, "汇总", ["县区", "即将到期", "复审逾期", "已过期", "任职无证"],
           ([c.county_name, c.expiring, c.review_overdue, c.expired, c.unlicensed] for c in board.counties))
    header = ["县区", "矿山", "姓名", "身份证号", "作业类别", "证书编号", "初领日期", "有效期至", "复审日期",
              "下次复审", "状态"]
    for title, group in (("即将到期", board.expiring), ("复审逾期", board.review_overdue), ("已过期", board.expired)):
        _sheet(wb, title, header, ([
            str(r.certificate.person.mine.county), r.certificate.person.mine.name, r.certificate.person.name,
            id_shown(r.certificate.person), category_label(r.certificate.category, categories),
            shown_number(r.certificate, may_see(r.certificate.person.mine)), r.certificate.issued_on,
            r.certificate.expires_on, r.certificate.last_review_on, r.status.next_review_due, r.state_label]
            for r in group))
    _sheet(wb, "任职无证", ["县区", "矿山", "姓名", "身份证号", "作业类别", "原因"], ([
        str(f.person.mine.county), f.person.mine.name, f.person.name, id_shown(f.person), f.operation_label,
        f.reason] for f in board.unlicensed))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# Ledger import -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportColumn:
    key: str
    zh: str
    required: bool
    note: str


IMPORT_COLUMNS = [
    ImportColumn("number", "证书编号", True, "证书上的编号"),
    ImportColumn("category", "作业类别", True, "类别代码或中文名称"),
    ImportColumn("name", "姓名", True, "须与人员台账一致"),
    ImportColumn("id_number", "身份证号", True, "18位；须已在本矿人员台账中"),
    ImportColumn("issued_on", "初领日期", True, "YYYY-MM-DD，不得晚于今天"),
    ImportColumn("expires_on", "有效期至", False, "留空则为初领日期后6年"),
    ImportColumn("last_review_on", "复审日期", False, "最近一次复审日期"),
    ImportColumn("issuer", "发证机关", False, ""),
]
IMPORT_COLUMN_BY_HEADER = {alias: c for c in IMPORT_COLUMNS for alias in (c.key, c.zh)}


def build_import_template() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "特种作业证书台账"
    ws.append([c.zh for c in IMPORT_COLUMNS])
    for i, col in enumerate(IMPORT_COLUMNS, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True, color="9C0006" if col.required else "000000")
        cell.fill = HEADER_FILL
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明"])
    for col in IMPORT_COLUMNS:
        notes.append([col.zh, "是" if col.required else "", col.note])
    notes.append([])
    notes.append(["作业类别", "代码", "名称"])
    for code, item in common.operation_categories().items():
        notes.append(["", code, item["zh"]])
    notes.append([])
    notes.append(["规则", "", "整表任一行有误则全部不导入；与已存证书完全相同的行不变。"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _category_lookup(categories: dict) -> dict[str, str]:
    lookup = {}
    for code, item in categories.items():
        for alias in (code, item.get("zh", ""), item.get("en", "")):
            if alias:
                lookup[str(alias).strip().lower()] = code
    return lookup


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed into a text column
    return str(value).strip()



@dataclass
class _Row:
    row: int
    person: Person
    category: str
    number: str
    issued_on: dt.date
    expires_on: dt.date | None
    last_review_on: dt.date | None
    issuer: str


def import_certificates(actor: User, mine: Mine, name: str, data: bytes) -> ImportResult:
    """Import a mine's certificate ledger (.xlsx). Every row is checked first (the holder must be in the mine's
    people ledger, matched by ID number); any bad row stores nothing and the result lists (row, column, value,
    reason). A row equal to a stored certificate is unchanged; a stored certificate of the same holder with
    other values is updated (empty optional cells keep the stored values)."""
    common.require_write(actor, mine)
    try:
        check_upload(name, data)
        header, body = read_rows(data)
    except ImportFileError as exc:
        return ImportResult(ok=False, file_error=str(exc))
    result = ImportResult(ok=False, rows=len(body), header=header, raw_rows=[r for _n, r in body],
                          row_numbers=[n for n, _r in body])
    index: dict[str, int] = {}
    for i, title in enumerate(header):
        col = IMPORT_COLUMN_BY_HEADER.get(title)
        if title and col is None:
            result.file_error = _("unknown column %(c)s; use the template") % {"c": title}
            return result
        if col is not None and col.key in index:
            result.file_error = _("column %(c)s appears twice") % {"c": col.zh}
            return result
        if col is not None:
            index[col.key] = i
    missing = [c.zh for c in IMPORT_COLUMNS if c.required and c.key not in index]
    if missing:
        result.file_error = _("missing required columns: %(c)s") % {"c": "、".join(missing)}
        return result
    if not body:
        result.file_error = _("the sheet has no data rows")
        return result
    with transaction.atomic():
        # Checked and written in one transaction with the stored certificates locked: what was checked is
        # what gets written.
        audit.lock_chain()
        plans = _check_rows(mine, header, index, body, result)
        if result.errors:
            return result
        _apply_rows(actor, plans, result)
    result.ok = True
    return result


def _check_rows(mine: Mine, header: list[str], index: dict[str, int], body, result: ImportResult) -> list:
    limits, today = rules(), timezone.localdate()
    categories = common.operation_categories()
    lookup = _category_lookup(categories)
    people = {p.id_number.upper(): p for p in Person.objects.filter(mine=mine).select_related("mine")}
    titles = {key: header[i] for key, i in index.items()}

    def raw(values, key):
        i = index.get(key)
        return values[i] if i is not None and i < len(values) else None

    def fail(row, key, value, message):
        result.errors.append(RowError(row, titles.get(key, key), "" if value is None else str(value)[:100],
                                      str(message)))

    parsed: list[_Row] = []
    for number_row, values in body:
        errors_before = len(result.errors)
        cells = {c.key: raw(values, c.key) for c in IMPORT_COLUMNS}
        texts = {k: _cell_text(cells[k]) for k in ("number", "category", "name", "id_number", "issuer")}
        for key in ("number", "category", "name", "id_number"):
            if not texts[key]:
                fail(number_row, key, cells[key], _("required"))
        category = lookup.get(texts["category"].lower(), "") if texts["category"] else ""
        if texts["category"] and not category:
            fail(number_row, "category", cells["category"], _("unknown special-operation category; allowed: %(c)s")
                 % {"c": "、".join(common.label(c) for c in categories.values())})
        person = None
        id_number = texts["id_number"].upper()
        if id_number:
            if reason := resident_id_error(id_number, today):
                fail(number_row, "id_number", cells["id_number"], _("invalid resident ID number: %(r)s") % {
                    "r": reason})
            elif (person := people.get(id_number)) is None:
                fail(number_row, "id_number", cells["id_number"],
                     _("no person with this ID number in the mine's people ledger; record the person first"))
            elif texts["name"] and texts["name"] != person.name:
                fail(number_row, "name", cells["name"], _("the person with this ID number is recorded as %(n)s")
                     % {"n": person.name})
        dates = {}
        for key in ("issued_on", "expires_on", "last_review_on"):
            try:
                dates[key] = parse_date(cells[key])
            except ValueError as exc:
                fail(number_row, key, cells[key], exc)
                dates[key] = None
            else:
                if key == "issued_on" and dates[key] is None:
                    fail(number_row, key, cells[key], _("required"))
        if len(result.errors) > errors_before or person is None or dates["issued_on"] is None:
            continue
        parsed.append(_Row(number_row, person, category, texts["number"], dates["issued_on"], dates["expires_on"],
                           dates["last_review_on"], texts["issuer"]))

    # Against each other and the stored certificates.
    stored = {(c.category, c.number): c for c in Certificate.objects.select_for_update().filter(
        number__in={p.number for p in parsed}).select_related("person__mine")}
    seen: dict[tuple[str, str], int] = {}
    ids = {p.person.id_number for p in parsed}
    stored_issues: dict[str, list[tuple[dt.date, int]]] = {}
    for pk, id_number, issued_on in Certificate.objects.filter(person__id_number__in=ids).values_list(
            "pk", "person__id_number", "issued_on"):
        stored_issues.setdefault(id_number, []).append((issued_on, pk))
    file_issues: dict[str, list[tuple[dt.date, int]]] = {}
    for p in parsed:
        file_issues.setdefault(p.person.id_number, []).append((p.issued_on, p.row))
    plans = []
    for p in parsed:
        key = (p.category, p.number)
        if key in seen:
            fail(p.row, "number", p.number, _("repeats row %(r)d of this file") % {"r": seen[key]})
            continue
        seen[key] = p.row
        existing = stored.get(key)
        if existing is not None and existing.person_id != p.person.pk:
            fail(p.row, "number", p.number, _("this number is already recorded for another holder"))
            continue
        if existing is not None and existing.revoked:
            fail(p.row, "number", p.number, _("this certificate is revoked; it cannot be changed by import"))
            continue
        expires_on = p.expires_on or (existing.expires_on if existing else add_years(p.issued_on,
                                                                                      limits.validity_years))
        last_review_on = p.last_review_on or (existing.last_review_on if existing else None)
        issuer = p.issuer or (existing.issuer if existing else "")
        has_earlier = any(day < p.issued_on for day, pk in stored_issues.get(p.person.id_number, [])
                          if not existing or pk != existing.pk) or any(
            day < p.issued_on for day, row in file_issues.get(p.person.id_number, []) if row != p.row)
        errors = certificate_errors(p.person, category=p.category, number=p.number, issued_on=p.issued_on,
                                    expires_on=expires_on, last_review_on=last_review_on, issuer=issuer,
                                    today=today, limits=limits, categories=categories, has_earlier=has_earlier)
        for field, message in errors.items():
            column = {"person": "id_number", "expires_on": "expires_on" if p.expires_on else "issued_on"}.get(
                field, field)
            fail(p.row, column, {"number": p.number, "issued_on": p.issued_on, "expires_on": expires_on,
                                 "last_review_on": last_review_on, "issuer": issuer, "category": p.category,
                                 "id_number": p.person.id_number}.get(column, ""), message)
        if errors:
            continue
        plans.append((p, existing, {"issued_on": p.issued_on, "expires_on": expires_on,
                                    "last_review_on": last_review_on, "issuer": issuer}))
    return plans


def _apply_rows(actor: User, plans: list, result: ImportResult) -> None:
    changes: list[audit.Change] = []
    creates, updates = [], []
    for p, existing, values in plans:
        if existing is None:
            creates.append(Certificate(person=p.person, category=p.category, number=p.number, created_by=actor,
                                       **values))
            continue
        before = _audit_data(existing, values.keys())
        for field, value in values.items():
            setattr(existing, field, value)
        old, new = audit.diff(before, _audit_data(existing, values.keys()))
        if not new:
            result.unchanged += 1
            continue
        updates.append(existing)
        changes.append(audit.Change(AuditEvent.Action.IMPORT, existing, before=old, after=new,
                                    object_repr=_audit_repr(existing)))
    created = Certificate.objects.bulk_create(creates, batch_size=1000)
    if updates:
        Certificate.objects.bulk_update(updates, ["issued_on", "expires_on", "last_review_on", "issuer"],
                                        batch_size=1000)
    # bulk_create sets primary keys on PostgreSQL and SQLite (RETURNING); fetch them otherwise.
    if created and created[0].pk is None:
        by_key = {(c.category, c.number): c.pk for c in Certificate.objects.filter(
            number__in=[c.number for c in created])}
        for cert in created:
            cert.pk = by_key[(cert.category, cert.number)]
    changes = [audit.Change(AuditEvent.Action.IMPORT, c, after=_audit_data(c), object_repr=_audit_repr(c))
               for c in created] + changes
    audit.record_many(actor, changes)
    result.created, result.updated = len(created), len(updates)

