from django.contrib import admin

from minesafe.core.admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin

from .models import Enterprise, LedgerSubmission, Mine, MineAssignment, MineStatusChange, ResponsibleLeader


@admin.register(Mine)
class MineAdmin(ReadOnlyModelAdmin):
    """Browsing only: changes go through the audited services (web UI, API, import)."""

    list_display = ["code", "name", "county", "mine_type", "status", "scale_class", "ledger_due_date"]
    list_filter = ["county", "mine_type", "status"]
    search_fields = ["code", "name"]


@admin.register(Enterprise)
class EnterpriseAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "credit_code", "county"]
    search_fields = ["name", "credit_code"]


@admin.register(MineStatusChange, LedgerSubmission, ResponsibleLeader)
class RegistryHistoryAdmin(ReadOnlyModelAdmin):
    pass


@admin.register(MineAssignment)
class MineAssignmentAdmin(AuditedModelAdmin):
    """Which mines an inspector sees: edited here, and audited."""

    list_display = ["user", "mine", "assigned_at"]
    autocomplete_fields = ["mine"]
