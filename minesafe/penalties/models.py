"""Administrative penalty cases (行政处罚, plan task 25): the case, its legal basis and discretion, the fines
on the enterprise and on its main responsible person (一案双罚), and the way to payment.

A case runs opened (立案) → notified (告知, with the right to be heard) → decided (决定, numbered per authority
and year) → paid → closed (结案), or is withdrawn before the decision; services.TRANSITIONS is the table.
Deadlines are columns: `reply_due` (the hearing request period) and `payment_due` (15 days after service),
so "what is overdue?" is one query. Payments are rows per fine; reconsiderations and lawsuits are rows that
pause the late fee (加处罚款)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, ReferenceCatalogue, User
from minesafe.core.scoping import NOTHING, is_city
from minesafe.inspections.models import Inspection
from minesafe.registry.models import Mine, MineOwnedQuerySet

MONEY = {"max_digits": 12, "decimal_places": 2}


class PenaltyCaseQuerySet(MineOwnedQuerySet):
    def visible_to(self, user) -> "PenaltyCaseQuerySet":
        """The city all; a county its county's mines; an inspector its assigned mines (read-only); an enterprise
        its own mines' cases once it was notified (never drafts); departments nothing."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role == User.Role.DEPARTMENT:
            return self.filter(NOTHING)
        visible = super().visible_to(user)
        if user.role == User.Role.ENTERPRISE:
            visible = visible.filter(notified_on__isnull=False)
        return visible

    def decided(self) -> "PenaltyCaseQuerySet":
        """Cases with a decision in force or done with (what enforcement statistics count)."""
        return self.filter(status__in=PenaltyCase.DECIDED_STATES)

    def payment_overdue(self, today=None) -> "PenaltyCaseQuerySet":
        return self.filter(status=PenaltyCase.Status.DECIDED, payment_due__lt=today or timezone.localdate())


class PenaltyCase(models.Model):
    class Status(models.TextChoices):
        OPENED = "opened", _("Case opened (立案)")
        NOTIFIED = "notified", _("Notified of the intended penalty (告知)")
        DECIDED = "decided", _("Decided (决定)")
        PAID = "paid", _("Fines paid")
        CLOSED = "closed", _("Closed (结案)")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Source(models.TextChoices):
        INSPECTION = "inspection", _("Inspection (执法检查)")
        FINDING = "finding", _("Inspection finding (检查发现的问题)")
        TIPOFF = "tipoff", _("Whistleblower report (举报)")
        ACCIDENT = "accident", _("Accident (事故)")
        DIRECT = "direct", _("Opened directly")

    DECIDED_STATES = ("decided", "paid", "closed")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="penalty_cases", verbose_name=_("mine"))
    # The deciding authority; the county evaluation counts a case for it.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="penalty_cases",
                                     verbose_name=_("deciding authority"))
    inspection = models.ForeignKey(Inspection, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="penalty_cases", verbose_name=_("inspection"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPENED)
    opened_on = models.DateField(_("opened on"))
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    enterprise_fine = models.DecimalField(_("fine on the enterprise (CNY)"), max_digits=12, decimal_places=2,
                                          default=Decimal("0"))
    person_fine = models.DecimalField(_("fine on the main responsible person (CNY)"), max_digits=12,
                                      decimal_places=2, default=Decimal("0"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    # Where the case came from. A finding of the inspections app is kept by id (that model is the inspections
    # app's); its inspection is set too.
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.DIRECT)
    finding_id = models.PositiveBigIntegerField(_("inspection finding"), null=True, blank=True)
    tipoff = models.ForeignKey("tipoffs.Tipoff", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="penalty_cases", verbose_name=_("whistleblower report"))
    accident = models.ForeignKey("enforcement.Accident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="penalty_cases", verbose_name=_("accident"))

    # What the case is about: a violation type of the benchmark, the facts and the provisions cited (a snapshot
    # of the legal-basis catalogue entries: [{key, roles, law, article, title, citation}]).
    violation_type = models.CharField(_("violation type"), max_length=64)
    facts = models.TextField(_("facts of the violation (违法事实)"))
    legal_basis = models.JSONField(_("legal basis"), default=list)
    circumstance = models.CharField(_("circumstances (情节)"), max_length=32, blank=True)
    factors = models.JSONField(_("aggravating and mitigating factors"), default=list, blank=True)

    # The main responsible person (主要负责人) fined with the enterprise (一案双罚).
    person_name = models.CharField(_("main responsible person"), max_length=64, blank=True)
    person_role = models.CharField(_("post of the main responsible person"), max_length=64, blank=True)
    person_id_number = models.CharField(_("resident ID number of the main responsible person"), max_length=18,
                                        blank=True)
    person_annual_income = models.DecimalField(_("last year's income of the person (CNY)"), null=True, blank=True,
                                               **MONEY)
    # When the benchmark prescribes 一案双罚 but the person is not fined: the exemption provision and why.
    person_exemption = models.CharField(_("provision exempting the person"), max_length=32, blank=True)
    person_exemption_note = models.TextField(_("why the person is not fined"), blank=True)

    # 告知: the intended penalty and the right to be heard.
    notified_on = models.DateField(_("notified on"), null=True, blank=True)
    proposed_enterprise_fine = models.DecimalField(_("intended fine on the enterprise"), null=True, blank=True,
                                                   **MONEY)
    proposed_person_fine = models.DecimalField(_("intended fine on the person"), null=True, blank=True, **MONEY)
    hearing_right = models.BooleanField(_("hearing right stated"), default=False)
    reply_due = models.DateField(_("statements and hearing request due"), null=True, blank=True)
    replied_on = models.DateField(_("party replied on"), null=True, blank=True)
    reply_statement = models.TextField(_("statement and defence (陈述申辩)"), blank=True)
    hearing_requested_on = models.DateField(_("hearing requested on"), null=True, blank=True)
    hearing_held_on = models.DateField(_("hearing held on"), null=True, blank=True)
    hearing_note = models.TextField(_("hearing record"), blank=True)

    # 决定: numbered per authority and year, under the benchmark version then active (kept with its ranges).
    decision_no = models.CharField(_("decision number"), max_length=64, blank=True)
    decision_year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    decision_seq = models.PositiveIntegerField(null=True, blank=True, editable=False)
    benchmark = models.ForeignKey(ReferenceCatalogue, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("benchmark version"))
    benchmark_applied = models.JSONField(_("benchmark applied"), null=True, blank=True)
    fine_reason = models.TextField(_("reason for a fine outside the benchmark range"), blank=True)
    served_on = models.DateField(_("decision served on (送达)"), null=True, blank=True)
    payment_due = models.DateField(_("fines due"), null=True, blank=True)
    paid_on = models.DateField(_("paid in full on"), null=True, blank=True)

    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    close_note = models.TextField(_("closing note"), blank=True)
    withdrawn_on = models.DateField(_("withdrawn on"), null=True, blank=True)
    withdraw_reason = models.TextField(_("reason for withdrawing"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PenaltyCaseQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-id"]
        indexes = [models.Index(fields=["organisation", "decided_on"], name="penalty_org_decided_idx"),
                   models.Index(fields=["payment_due"], condition=Q(status="decided"), name="penalty_payment_due")]
        constraints = [models.UniqueConstraint(fields=["organisation", "decision_year", "decision_seq"],
                                               condition=Q(decision_seq__isnull=False),
                                               name="penalty_decision_number_unique")]
        verbose_name = _("penalty case")
        verbose_name_plural = _("penalty cases")

    def __str__(self):
        return self.decision_no or f"{self.mine} {self.opened_on}"

    @property
    def total_fine(self) -> Decimal:
        return self.enterprise_fine + self.person_fine


class Payment(models.Model):
    """One payment towards one fine (or its late fee), with the bank's receipt reference."""

    class Target(models.TextChoices):
        ENTERPRISE = "enterprise", _("Fine on the enterprise")
        PERSON = "person", _("Fine on the main responsible person")

    class Kind(models.TextChoices):
        FINE = "fine", _("Fine")
        LATE_FEE = "late_fee", _("Late fee (加处罚款)")

    case = models.ForeignKey(PenaltyCase, on_delete=models.PROTECT, related_name="payments")
    target = models.CharField(_("fine"), max_length=12, choices=Target.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.FINE)
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    paid_on = models.DateField(_("paid on"))
    receipt_ref = models.CharField(_("receipt reference"), max_length=64)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["paid_on", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self):
        return f"{self.case_id} {self.target} {self.amount}"


class Challenge(models.Model):
    """An application for administrative reconsideration (申请行政复议) or a lawsuit (提起行政诉讼) against the
    decision. While it runs, no late fee accrues (《行政处罚法》第七十三条)."""

    class Kind(models.TextChoices):
        RECONSIDERATION = "reconsideration", _("Administrative reconsideration (行政复议)")
        LAWSUIT = "lawsuit", _("Administrative lawsuit (行政诉讼)")

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("Decision upheld (维持)")
        REVOKED = "revoked", _("Decision revoked (撤销)")
        WITHDRAWN = "withdrawn", _("Application withdrawn (撤回)")

    case = models.ForeignKey(PenaltyCase, on_delete=models.PROTECT, related_name="challenges")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    filed_on = models.DateField(_("filed on"))
    body = models.CharField(_("reconsideration body or court"), max_length=128, blank=True)
    concluded_on = models.DateField(_("concluded on"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["filed_on", "pk"]
        verbose_name = _("reconsideration or lawsuit")
        verbose_name_plural = _("reconsiderations and lawsuits")

    def __str__(self):
        return f"{self.case_id} {self.kind} {self.filed_on}"


class ZeroPenaltyRun(models.Model):
    """One run of the zero-penalty check (零处罚) for a period; its row claims the period so the city is told once."""

    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    run_at = models.DateTimeField(default=timezone.now)
    flagged = models.JSONField(_("counties flagged"), default=list)
    notified = models.PositiveIntegerField(_("people notified"), default=0)

    class Meta:
        ordering = ["-period_end", "-period_start"]
        constraints = [models.UniqueConstraint(fields=["period_start", "period_end"], name="zero_penalty_run_once")]
        verbose_name = _("zero-penalty check")
        verbose_name_plural = _("zero-penalty checks")

    def __str__(self):
        return f"{self.period_start}–{self.period_end}"
