"""Third-party technical service firms (plan task 18): safety evaluation, design, testing and inspection,
training and construction supervision firms that mines engage, and the regulator's oversight of them.

A firm holds qualifications (资质) per kind of service; a mine's engagement of a firm for a service is
recorded only while a qualification for that service covers it. Officials spot-check (抽查) the reports
firms deliver; a suspected falsification (弄虚作假) becomes a case that, once confirmed, closes with actions
that may suspend or blacklist (失信) the firm. Every lifecycle is an explicit table of transitions in
services.py. Firms are city-wide, not mine-owned: everybody who uses the platform sees the active ones;
engagements, checks and cases belong to mines and are scoped like them.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, User
from minesafe.core.scoping import NOTHING, ScopePaths, is_city, scope_q
from minesafe.core.validators import validate_credit_code
from minesafe.registry.models import Mine


class ServiceKind(models.TextChoices):
    SAFETY_EVALUATION = "safety_evaluation", _("Safety evaluation (安全评价)")
    DESIGN = "design", _("Design (设计)")
    TESTING = "testing", _("Testing and inspection (检测检验)")
    TRAINING = "training", _("Training (培训)")
    SUPERVISION = "supervision", _("Construction supervision (监理)")


def county_of(user) -> int | None:
    return user.organisation.region_id if user.role == User.Role.COUNTY and user.organisation_id else None


def active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def sees_all_firms(user) -> bool:
    """The city, the counties and the city departments read every firm with every field; enterprises and
    inspectors read the active firms' public fields only."""
    if not active_user(user):
        return False
    return is_city(user) or (user.role in (User.Role.COUNTY, User.Role.DEPARTMENT) and bool(user.organisation_id))


def is_official(user) -> bool:
    """The regulators who act on firms: the city and the counties."""
    return active_user(user) and (is_city(user) or county_of(user) is not None)


class FirmQuerySet(models.QuerySet):
    def visible_to(self, user) -> "FirmQuerySet":
        if not active_user(user):
            return self.filter(NOTHING)
        if sees_all_firms(user):
            return self.all()
        if user.role in (User.Role.ENTERPRISE, User.Role.INSPECTOR):
            return self.filter(status=Firm.Status.ACTIVE)
        return self.filter(NOTHING)


class Firm(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        BLACKLISTED = "blacklisted", _("Blacklisted (失信)")

    name = models.CharField(_("name"), max_length=128, unique=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True,
                                   validators=[validate_credit_code])
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_since = models.DateField(_("status since"), default=timezone.localdate)
    status_reason = models.TextField(_("reason for the status"), blank=True)
    # What the public blacklist shows of the 失信 behaviour (chosen on purpose; the reason stays internal).
    blacklist_notice = models.CharField(_("published notice"), max_length=500, blank=True)
    blacklisted_until = models.DateField(_("listed until"), null=True, blank=True)
    note = models.TextField(_("internal note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = FirmQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service firm")
        verbose_name_plural = _("service firms")
        indexes = [models.Index(fields=["status"], name="tp_firm_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def kinds(self) -> list[str]:
        """The kinds of service the firm offers, in the catalogue's order (prefetch `kind_rows`)."""
        mine = {row.kind for row in self.kind_rows.all()}
        return [k for k in ServiceKind.values if k in mine]

    @property
    def kind_labels(self) -> list[str]:
        return [str(ServiceKind(k).label) for k in self.kinds]


class FirmKind(models.Model):
    """One kind of service a firm offers (a firm offers several)."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="kind_rows")
    kind = models.CharField(_("kind of service"), max_length=24, choices=ServiceKind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["firm", "kind"], name="tp_firm_kind_unique")]
        verbose_name = _("kind of service")
        verbose_name_plural = _("kinds of service")

    def __str__(self) -> str:
        return f"{self.firm_id}:{self.kind}"


class FirmStatusChange(models.Model):
    """One row per status change of a firm: its dated history (the public blacklist reads the latest)."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=12, choices=Firm.Status.choices)
    new_status = models.CharField(max_length=12, choices=Firm.Status.choices)
    effective_on = models.DateField(_("effective on"))
    reason = models.TextField(_("reason"))
    case = models.ForeignKey("FalsificationCase", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="firm_changes", verbose_name=_("falsification case"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("firm status change")
        verbose_name_plural = _("firm status changes")

    def __str__(self) -> str:
        return f"{self.firm_id}: {self.old_status} → {self.new_status}"


class QualificationQuerySet(models.QuerySet):
    def visible_to(self, user) -> "QualificationQuerySet":
        return self.filter(firm__in=Firm.objects.visible_to(user))

    def latest_per_kind(self) -> "QualificationQuerySet":
        """Each firm's current qualification per kind: not revoked, and no unrevoked one of the same firm and
        kind runs longer (a renewal supersedes the certificate it renews)."""
        longer = Qualification.objects.filter(firm=OuterRef("firm"), kind=OuterRef("kind"), revoked_on__isnull=True,
                                              valid_to__gt=OuterRef("valid_to"))
        return self.filter(revoked_on__isnull=True).exclude(Exists(longer))

    def expiring(self, today: dt.date, within_days: int) -> "QualificationQuerySet":
        return self.latest_per_kind().filter(valid_to__gte=today, valid_to__lte=today + dt.timedelta(days=within_days))

    def expired(self, today: dt.date) -> "QualificationQuerySet":
        return self.latest_per_kind().filter(valid_to__lt=today)


class Qualification(models.Model):
    """A qualification certificate (资质证书) for one kind of service, valid over a period."""

    class State(models.TextChoices):
        NOT_YET_VALID = "not_yet_valid", _("Not yet valid")
        VALID = "valid", _("Valid")
        EXPIRING = "expiring", _("Expiring soon")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="qualifications")
    kind = models.CharField(_("kind of service"), max_length=24, choices=ServiceKind.choices)
    certificate_number = models.CharField(_("certificate number"), max_length=64)
    issuing_authority = models.CharField(_("issuing authority"), max_length=128)
    scope = models.TextField(_("scope"), blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewals",
                                 verbose_name=_("renews"))
    revoked_on = models.DateField(_("revoked on"), null=True, blank=True)
    revoke_reason = models.TextField(_("reason for revocation"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = QualificationQuerySet.as_manager()

    class Meta:
        ordering = ["firm__name", "kind", "-valid_to"]
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        constraints = [
            models.UniqueConstraint(fields=["firm", "kind", "certificate_number"], name="tp_qualification_unique"),
            models.CheckConstraint(condition=Q(valid_to__gte=models.F("valid_from")), name="tp_qualification_dates"),
        ]
        indexes = [models.Index(fields=["valid_to"], name="tp_qualification_to_idx")]

    def __str__(self) -> str:
        return f"{self.certificate_number} ({self.get_kind_display()})"

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_to and (self.revoked_on is None or day < self.revoked_on)

    def state(self, today: dt.date, within_days: int) -> str:
        S = self.State
        if self.revoked_on is not None and self.revoked_on <= today:
            return S.REVOKED
        if today < self.valid_from:
            return S.NOT_YET_VALID
        if today > self.valid_to:
            return S.EXPIRED
        return S.EXPIRING if (self.valid_to - today).days <= within_days else S.VALID


class MineScopedQuerySet(models.QuerySet):
    """Records of one mine (through `mine_path`): city all, a county its mines, an enterprise its own mines, an
    inspector the assigned ones; city departments none. With `published_field`, only officials see the rows
    not yet published."""

    mine_path = "mine"
    published_field: str | None = None

    def visible_to(self, user):
        if not active_user(user):
            return self.filter(NOTHING)
        p = self.mine_path
        q = scope_q(user, ScopePaths(county=f"{p}__county_id", organisation=f"{p}__enterprise__organisation_id",
                                     mine=f"{p}_id"), department_reads=False)
        if self.published_field and not is_official(user):
            q &= Q(**{f"{self.published_field}__isnull": False})
        return self.filter(q)


class EngagementQuerySet(MineScopedQuerySet):
    mine_path = "mine"


class Engagement(models.Model):
    """A mine engaged a firm for a service; the report or deliverable is the thing officials check."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="thirdparty_engagements",
                             verbose_name=_("mine"))
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="engagements", verbose_name=_("firm"))
    kind = models.CharField(_("service"), max_length=24, choices=ServiceKind.choices)
    qualification = models.ForeignKey(Qualification, on_delete=models.PROTECT, related_name="engagements",
                                      verbose_name=_("qualification relied on"))
    engaged_on = models.DateField(_("engaged on"))
    report_title = models.CharField(_("report or deliverable"), max_length=200)
    report_number = models.CharField(_("report number"), max_length=64, blank=True)
    report_date = models.DateField(_("report date"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-engaged_on", "-pk"]
        verbose_name = _("engagement")
        verbose_name_plural = _("engagements")
        indexes = [models.Index(fields=["firm", "engaged_on"], name="tp_engagement_firm_idx")]

    def __str__(self) -> str:
        return f"{self.mine} · {self.firm} · {self.report_title}"


class CheckQuerySet(MineScopedQuerySet):
    mine_path = "engagement__mine"
    published_field = "published_at"

    def follow_up_overdue(self, today: dt.date | None = None) -> "CheckQuerySet":
        return self.filter(status=Check.Status.OPEN, follow_up_due__lt=today or timezone.localdate())


class Check(models.Model):
    """An official's spot check (抽查) of a firm's work: one engagement's report."""

    class Result(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        DEFICIENCIES = "deficiencies", _("Deficiencies")
        FALSIFICATION_SUSPECTED = "falsification_suspected", _("Falsification suspected (疑似弄虚作假)")

    class Status(models.TextChoices):
        OPEN = "open", _("Follow-up open")
        CLOSED = "closed", _("Closed")

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="checks",
                                   verbose_name=_("engagement"))
    checked_on = models.DateField(_("checked on"))
    checkers = models.CharField(_("checked by"), max_length=200)
    result = models.CharField(_("result"), max_length=24, choices=Result.choices)
    findings = models.TextField(_("findings"), blank=True)
    follow_up_due = models.DateField(_("follow-up due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    followed_up_on = models.DateField(_("followed up on"), null=True, blank=True)
    follow_up_note = models.TextField(_("follow-up"), blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_on", "-pk"]
        verbose_name = _("check of a firm's work")
        verbose_name_plural = _("checks of firms' work")
        indexes = [models.Index(fields=["follow_up_due"], condition=Q(status="open"), name="tp_check_due_idx")]

    def __str__(self) -> str:
        return f"{self.engagement.report_title} ({self.checked_on})"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.follow_up_due is not None \
            and self.follow_up_due < timezone.localdate()


class FalsifiedItem(models.TextChoices):
    DATA = "data", _("Data falsified (数据造假)")
    SIGNATURES = "signatures", _("Signatures forged or signed for others (冒签代签)")
    SITE_WORK_NOT_DONE = "site_work_not_done", _("On-site work not done (未到现场)")
    FALSE_REPORT = "false_report", _("False report or certificate (虚假报告)")
    QUALIFICATION_LENT = "qualification_lent", _("Qualification rented or lent (租借资质、挂靠)")
    OTHER = "other", _("Other")


class CaseAction(models.TextChoices):
    WARNING = "warning", _("Warning")
    SUSPENSION = "suspension", _("Suspension of the firm")
    BLACKLIST = "blacklist", _("Blacklist (失信名单)")
    LICENSING_REFERRAL = "licensing_referral", _("Referral to the licensing authority")
    PENALTY_REFERRAL = "penalty_referral", _("Referral for an administrative penalty")


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseQuerySet":
        """The city all; a county the cases it opened or that affect its mines; an enterprise or inspector the
        published cases affecting its (assigned) mines; nobody else."""
        if not active_user(user):
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        affected = FalsificationCase.mines.through.objects
        county = county_of(user)
        if county is not None:
            return self.filter(Q(opened_by_org_id=user.organisation_id)
                               | Q(pk__in=affected.filter(mine__county_id=county).values("falsificationcase_id")))
        mines = Mine.objects.visible_to(user) if user.role in (User.Role.ENTERPRISE, User.Role.INSPECTOR) \
            else Mine.objects.none()
        return self.filter(published_at__isnull=False,
                           pk__in=affected.filter(mine__in=mines).values("falsificationcase_id"))


class FalsificationCase(models.Model):
    """A case of falsification (弄虚作假) by a firm: from a check or from a report."""

    class Status(models.TextChoices):
        UNDER_INVESTIGATION = "under_investigation", _("Under investigation")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed (unfounded)")
        CLOSED = "closed", _("Closed with actions")

    class Source(models.TextChoices):
        CHECK = "check", _("Spot check")
        REPORT = "report", _("Report (举报 or referral)")

    number = models.CharField(_("case number"), max_length=24, unique=True)
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="cases", verbose_name=_("firm"))
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    source_check = models.ForeignKey(Check, null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
                                     verbose_name=_("check"))
    source_reference = models.CharField(_("source reference"), max_length=200, blank=True)
    falsified = models.JSONField(_("what was falsified"), default=list)
    description = models.TextField(_("description"))
    mines = models.ManyToManyField(Mine, related_name="thirdparty_cases", verbose_name=_("mines affected"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices,
                              default=Status.UNDER_INVESTIGATION)
    opened_on = models.DateField(_("opened on"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("opened by (person)"))
    opened_by_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("opened by (authority)"))
    findings = models.TextField(_("findings"), blank=True)
    confirmed_on = models.DateField(_("confirmed on"), null=True, blank=True)
    dismiss_reason = models.TextField(_("reason for dismissal"), blank=True)
    actions = models.JSONField(_("actions"), default=list, blank=True)
    decision = models.TextField(_("decision"), blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    public_summary = models.CharField(_("published summary"), max_length=500, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-pk"]
        verbose_name = _("falsification case")
        verbose_name_plural = _("falsification cases")

    def __str__(self) -> str:
        return self.number

    @property
    def falsified_labels(self) -> list[str]:
        return [str(FalsifiedItem(v).label) for v in self.falsified if v in FalsifiedItem.values]

    @property
    def action_labels(self) -> list[str]:
        return [str(CaseAction(v).label) for v in self.actions if v in CaseAction.values]
