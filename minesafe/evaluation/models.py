"""County evaluation (执法评议, plan task 32): a quarterly score sheet per county, its manual items and the
county's objection (申诉).

A draft sheet is computed live from the data each time it is read; a row exists once the city enters a manual
item or publishes. Publishing freezes the computed inputs, records and scores into `snapshot` with the
catalogue version, so published figures never change when the data does."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Region, User
from minesafe.core.scoping import NOTHING, is_city


def sheet_scope(user, path: str = "") -> Q:
    """The city sees every sheet, a county its own (draft or published), nobody else any (deny)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    if user.role == User.Role.COUNTY and user.organisation_id:
        return Q(**{f"{path}county_id": user.organisation.region_id})
    return NOTHING


class ScoreSheetQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ScoreSheetQuerySet":
        return self.filter(sheet_scope(user))

    def published(self) -> "ScoreSheetQuerySet":
        return self.filter(status=ScoreSheet.Status.PUBLISHED)


class ScoreSheet(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft (computed live)")
        PUBLISHED = "published", _("Published")

    county = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="score_sheets",
                               verbose_name=_("county"))
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    catalogue_version = models.CharField(_("catalogue version"), max_length=32, blank=True)
    # The frozen result (items with inputs, records and scores, flags, total); None while a draft.
    snapshot = models.JSONField(_("published result"), null=True, blank=True)
    total = models.DecimalField(_("total"), max_digits=5, decimal_places=2, null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScoreSheetQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-quarter", "county__code"]
        verbose_name = _("score sheet")
        verbose_name_plural = _("score sheets")
        constraints = [
            models.UniqueConstraint(fields=["county", "year", "quarter"], name="one_sheet_per_county_quarter"),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="sheet_quarter_1_to_4"),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year} Q{self.quarter}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class SheetOwnedQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(sheet_scope(user, "sheet__"))


class ManualScore(models.Model):
    """An item the city scores by hand (document quality, case files, public satisfaction), with the reason."""

    sheet = models.ForeignKey(ScoreSheet, on_delete=models.CASCADE, related_name="manual_scores")
    item = models.CharField(_("item"), max_length=32)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2)
    reason = models.TextField(_("reason"))
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    objects = SheetOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["sheet", "item"]
        verbose_name = _("manual score")
        verbose_name_plural = _("manual scores")
        constraints = [models.UniqueConstraint(fields=["sheet", "item"], name="one_manual_score_per_item")]

    def __str__(self) -> str:
        return f"{self.sheet} {self.item}: {self.score}"


class Decision(models.TextChoices):
    """The city's answer to an objection."""

    ADJUST = "adjust", _("Uphold: adjust a manual item")
    REJECT = "reject", _("Reject the objection")


class Objection(models.Model):
    """A county's objection (申诉) to its published sheet, and the city's answer: adjust a manual item or reject."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting the city's answer")
        ADJUSTED = "adjusted", _("Upheld: score adjusted")
        REJECTED = "rejected", _("Rejected")

    sheet = models.OneToOneField(ScoreSheet, on_delete=models.PROTECT, related_name="objection")
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(_("answer"), blank=True)
    item = models.CharField(_("item adjusted"), max_length=32, blank=True)
    old_score = models.DecimalField(_("score before"), max_digits=5, decimal_places=2, null=True, blank=True)
    new_score = models.DecimalField(_("score after"), max_digits=5, decimal_places=2, null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = SheetOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-filed_at"]
        verbose_name = _("objection")
        verbose_name_plural = _("objections")

    def __str__(self) -> str:
        return f"{self.sheet}: {self.get_status_display()}"
