"""Administrative penalty cases (行政处罚, plan task 25): the case, its legal basis and discretion, the fines
on the enterprise and on its main responsible person (一案双罚), and the way to payment."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation
from minesafe.inspections.models import Inspection
from minesafe.registry.models import Mine, MineOwnedQuerySet


class PenaltyCase(models.Model):
    class Status(models.TextChoices):
        OPENED = "opened", _("Case opened (立案)")
        NOTIFIED = "notified", _("Notified of the intended penalty (告知)")
        DECIDED = "decided", _("Decided (决定)")
        PAID = "paid", _("Fines paid")
        CLOSED = "closed", _("Closed (结案)")
        WITHDRAWN = "withdrawn", _("Withdrawn")

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

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-id"]
        indexes = [models.Index(fields=["organisation", "decided_on"], name="penalty_org_decided_idx")]
        verbose_name = _("penalty case")
        verbose_name_plural = _("penalty cases")

    def __str__(self):
        return f"{self.mine} {self.opened_on}"
