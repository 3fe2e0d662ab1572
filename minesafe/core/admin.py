from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin
from .models import AuditEvent, Notification, Organisation, ReferenceCatalogue, Region, User


@admin.register(Region)
class RegionAdmin(AuditedModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "statistical_only"]


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "unit_code", "region"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(AuditedModelAdmin, BaseUserAdmin):
    list_display = ["username", "display_name", "role", "organisation", "is_active", "locked_until"]
    list_filter = ["role", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("MineSafe", {"fields": ["role", "organisation", "display_name", "phone", "failed_logins", "locked_until"]}),
    ]


@admin.register(ReferenceCatalogue)
class ReferenceCatalogueAdmin(AuditedModelAdmin):
    list_display = ["kind", "version", "active", "loaded_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["seq", "at", "actor_repr", "action", "object_type", "object_repr", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "actor_repr", "request_id"]



@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "recipient", "subject", "read_at"]
