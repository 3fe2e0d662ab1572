"""How a campaign site follows its inspections: the campaigns app (above inspections and hazards) listens for
saved inspections, findings and hazards and refreshes the sites their inspections visited. The lower apps know
nothing of campaigns."""

from django.db.models.signals import post_save

from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Finding, Inspection

from . import services
from .models import SiteVisit


def inspection_saved(sender, instance: Inspection, raw=False, **kwargs) -> None:
    if not raw and SiteVisit.objects.filter(inspection_id=instance.pk).exists():
        services.refresh_for_inspections([instance.pk])


def finding_saved(sender, instance: Finding, raw=False, **kwargs) -> None:
    if not raw and SiteVisit.objects.filter(inspection_id=instance.inspection_id).exists():
        services.refresh_for_inspections([instance.inspection_id])


def hazard_saved(sender, instance: Hazard, raw=False, created=False, **kwargs) -> None:
    if raw or created:  # a new hazard is linked to its finding afterwards (the finding's save refreshes)
        return
    visited = list(Finding.objects.filter(hazard_id=instance.pk, inspection__campaign_visit__isnull=False)
                   .values_list("inspection_id", flat=True))
    if visited:
        services.refresh_for_inspections(visited)


def connect() -> None:
    post_save.connect(inspection_saved, sender=Inspection, dispatch_uid="campaigns.inspection_saved")
    post_save.connect(finding_saved, sender=Finding, dispatch_uid="campaigns.finding_saved")
    post_save.connect(hazard_saved, sender=Hazard, dispatch_uid="campaigns.hazard_saved")
