"""Whistleblower reports (举报): the report, its attachments and the reward.

A report comes in through the public form without login; the reporter keeps a random tracking code, of
which only the SHA-256 is stored. It then runs the closed loop 受理 → 核实 → 办理 → 反馈 as an explicit
state machine (services.TRANSITIONS), handled by the county of the report or the city. `due_at` is the
deadline of the current step, recomputed by every transition, so "what is overdue?" is one query.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Region, StoredFile, User
from minesafe.core.scoping import NOTHING, is_city


class TipoffQuerySet(models.QuerySet):
    def visible_to(self, user) -> "TipoffQuerySet":
        """The city sees every report, a county the reports it handles; nobody else sees any (deny)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role == User.Role.COUNTY and user.organisation_id:
            return self.filter(handling_county_id=user.organisation.region_id)
        return self.filter(NOTHING)

    def overdue(self, now: dt.datetime | None = None) -> "TipoffQuerySet":
        return self.filter(due_at__lt=now or timezone.now())


class Tipoff(models.Model):
    class Category(models.TextChoices):
        ILLEGAL_PRODUCTION = "illegal_production", _("Illegal production in a suspended mine")
        BEYOND_BOUNDS = "beyond_bounds", _("Mining beyond the licensed bounds")
        HIDDEN_HAZARD = "hidden_hazard", _("Hidden or unreported hazard")
        FALSIFIED_DATA = "falsified_data", _("Falsified data or records")
        UNLICENSED = "unlicensed", _("Unlicensed work or operators")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Not accepted")
        VERIFIED = "verified", _("Verified")
        HANDLED = "handled", _("Handled")
        FEEDBACK_GIVEN = "feedback_given", _("Feedback given")
        CLOSED = "closed", _("Closed")

    number = models.CharField(_("report number"), max_length=24, unique=True)
    tracking_hash = models.CharField(max_length=64, unique=True, editable=False)
    county = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("county"))
    handling_county = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("handled by county"))
    mine = models.ForeignKey("registry.Mine", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="tipoffs", verbose_name=_("mine"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    category = models.CharField(_("report category"), max_length=24, choices=Category.choices)
    description = models.TextField(_("description"))
    anonymous = models.BooleanField(_("anonymous"), default=True)
    contact_name = models.CharField(_("reporter's name"), max_length=64, blank=True)
    contact_phone = models.CharField(_("reporter's phone"), max_length=32, blank=True)

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    due_at = models.DateTimeField(_("current step due"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("not accepted at"), null=True, blank=True)
    reject_reason = models.TextField(_("reason for not accepting"), blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    substantiated = models.BooleanField(_("substantiated"), null=True, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    action_taken = models.TextField(_("action taken"), blank=True)
    hazard = models.ForeignKey("hazards.Hazard", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("hazard opened"))
    feedback = models.TextField(_("feedback to the reporter"), blank=True)
    feedback_at = models.DateTimeField(_("feedback given at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # When the current step's lateness was reported to the city (cleared by every transition).
    escalated_at = models.DateTimeField(_("reported late to the city"), null=True, blank=True)

    objects = TipoffQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("whistleblower report")
        verbose_name_plural = _("whistleblower reports")
        indexes = [models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="tipoff_due")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at < timezone.now()


def attachment_path(instance: "TipoffAttachment", filename: str) -> str:
    return f"tipoffs/{timezone.now():%Y/%m}/{filename}"


class TipoffAttachment(StoredFile):
    """A photo or PDF sent with a report; served only to the officers who see the report."""

    tipoff = models.ForeignKey(Tipoff, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)

    class Meta:
        ordering = ["pk"]


class Reward(models.Model):
    """The reward for a substantiated report: proposed by the handler, approved by the city, then paid."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        PAID = "paid", _("Paid")

    class Severity(models.TextChoices):
        GENERAL = "general", _("General")
        MAJOR = "major", _("Major")

    tipoff = models.OneToOneField(Tipoff, on_delete=models.CASCADE, related_name="reward")
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=10, decimal_places=2)
    rule = models.CharField(_("rule applied"), max_length=200)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_ref = models.CharField(_("payment reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")

    def __str__(self) -> str:
        return f"{self.tipoff.number} {self.amount}"
