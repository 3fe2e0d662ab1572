from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import AuditEvent, Organisation, ReferenceCatalogue, Region, User


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "statistical_only"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "unit_code", "region"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "organisation", "is_active", "locked_until"]
    list_filter = ["role", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("MineSafe", {"fields": ["role", "organisation", "display_name", "phone", "failed_logins", "locked_until"]}),
    ]


@admin.register(ReferenceCatalogue)
class ReferenceCatalogueAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "active", "loaded_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["seq", "at", "actor_repr", "action", "object_type", "object_repr", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "actor_repr", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
