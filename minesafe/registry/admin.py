from django.contrib import admin

from .models import Enterprise, LedgerSubmission, Mine, MineAssignment, MineStatusChange, ResponsibleLeader


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ["name", "credit_code", "county"]
    search_fields = ["name", "credit_code"]


@admin.register(Mine)
class MineAdmin(admin.ModelAdmin):
    """Browsing only: changes go through the audited services (web UI, API, import)."""

    list_display = ["code", "name", "county", "mine_type", "status", "scale_class", "ledger_due_date"]
    list_filter = ["county", "mine_type", "status"]
    search_fields = ["code", "name"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model in (MineStatusChange, LedgerSubmission, ResponsibleLeader, MineAssignment):
    admin.site.register(model)
