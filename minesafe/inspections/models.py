"""Inspections (执法检查, plan tasks 24–25): one visit to one mine by an inspecting body, with its method,
checklist, findings, photos, exams, signatures and the enforcement documents it produced."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation
from minesafe.registry.models import Mine, MineOwnedQuerySet


class Method(models.TextChoices):
    """How an inspection is carried out; shared with the annual inspection plans."""

    ROUTINE = "routine", _("Routine inspection")
    UNANNOUNCED = "unannounced", _("Unannounced (四不两直)")
    COVERT = "covert", _("Open and covert visit (明查暗访)")
    CROSS_COUNTY = "cross_county", _("Cross-county enforcement (交叉执法)")
    REMOTE = "remote", _("Remote, by video and data (远程检查)")


class Inspection(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed and signed")
        CANCELLED = "cancelled", _("Cancelled")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("mine"))
    # The inspecting body (a county government, the city bureau); for cross-county enforcement it is
    # not the mine's own county, and evaluation counts the visit for the body that made it.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="inspections",
                                     verbose_name=_("inspecting body"))
    method = models.CharField(_("method"), max_length=16, choices=Method.choices, default=Method.ROUTINE)
    inspected_on = models.DateField(_("date"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    lead_inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("lead inspector"))
    summary = models.TextField(_("summary"), blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["organisation", "inspected_on"], name="inspection_org_date_idx"),
                   models.Index(fields=["mine", "inspected_on"], name="inspection_mine_date_idx")]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")

    def __str__(self):
        return f"{self.mine} {self.inspected_on}"
