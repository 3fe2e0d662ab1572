"""Admin of the inspections: read-only. Inspections change only through the services (a completed one never),
and checklists through the city's checklist pages (copy-on-edit)."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import ChecklistTemplate, ChecklistTemplateItem, Document, Finding, Inspection


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["number", "inspected_on", "mine", "organisation", "method", "status"]
    list_filter = ["status", "method", "organisation__kind"]
    search_fields = ["number", "mine__name", "mine__code"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["inspection", "description", "major", "deadline", "status", "hazard"]
    list_filter = ["major", "status"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "organisation", "issued_at", "sha256"]
    list_filter = ["kind", "year"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


class TemplateItemInline(admin.TabularInline):
    model = ChecklistTemplateItem
    fields = ["position", "code", "text", "hazard_item"]
    readonly_fields = fields
    can_delete = False
    extra = 0


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "mine_type", "version", "active", "created_at"]
    list_filter = ["mine_type", "active"]
    inlines = [TemplateItemInline]
