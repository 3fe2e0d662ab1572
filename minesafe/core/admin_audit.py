"""Admin changes are changes too: every save and delete through the admin writes an audit event."""

from django.contrib import admin

from . import audit
from .models import AuditEvent


class AuditedModelAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        before = audit.snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        old, new = audit.diff(before, audit.snapshot(obj))
        if new or not change:
            audit.record(request.user, AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE, obj,
                         before=old or None, after=new)

    def delete_model(self, request, obj):
        before = audit.snapshot(obj)
        audit.record(request.user, AuditEvent.Action.DELETE, obj, before=before)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For records that change only through the audited services (web UI, API, import)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
