"""Admin of the third-party oversight. Records change only through the services (transitions, audit), so the
admin reads, scoped like the pages."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import Check, Engagement, FalsificationCase, Firm, FirmStatusChange, Qualification


@admin.register(Firm)
class FirmAdmin(ReadOnlyAdmin):
    list_display = ["name", "credit_code", "status", "status_since"]
    list_filter = ["status"]
    search_fields = ["name", "credit_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(FirmStatusChange)
class FirmStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["firm", "old_status", "new_status", "effective_on", "changed_by"]


@admin.register(Qualification)
class QualificationAdmin(ReadOnlyAdmin):
    list_display = ["firm", "kind", "certificate_number", "valid_from", "valid_to", "revoked_on"]
    list_filter = ["kind"]
    search_fields = ["certificate_number", "firm__name"]


@admin.register(Engagement)
class EngagementAdmin(ReadOnlyAdmin):
    list_display = ["mine", "firm", "kind", "engaged_on", "report_title"]
    list_filter = ["kind"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = ["engagement", "checked_on", "result", "status", "follow_up_due"]
    list_filter = ["result", "status"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(FalsificationCase)
class FalsificationCaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "firm", "status", "opened_on", "decided_on"]
    list_filter = ["status"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)
