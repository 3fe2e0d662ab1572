from django.contrib import admin

from minesafe.core.admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin

from .models import DeadlineExtension, EscalationStep, Hazard, HazardCatalogue, HazardItem, Investigation, SelfCheck


@admin.register(HazardCatalogue)
class HazardCatalogueAdmin(AuditedModelAdmin):
    list_display = ["code", "doc_no", "title", "effective", "active"]


@admin.register(HazardItem)
class HazardItemAdmin(AuditedModelAdmin):
    """The city administrator maintains the standard; every edit is audited."""

    list_display = ["code", "catalogue", "facility_type", "title_zh", "verified"]
    list_filter = ["catalogue", "facility_type", "verified"]
    search_fields = ["code", "title_zh"]


@admin.register(Hazard, DeadlineExtension, EscalationStep, Investigation, SelfCheck)
class HazardRecordAdmin(ReadOnlyModelAdmin):
    pass
