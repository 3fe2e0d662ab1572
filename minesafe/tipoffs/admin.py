"""Admin of the whistleblower reports. Reports change only through the services (the closed loop), so the
admin reads; the reporter's identity is shown only to superusers (who act as the city)."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import Reward, Tipoff, TipoffAttachment


@admin.register(Tipoff)
class TipoffAdmin(ReadOnlyAdmin):
    list_display = ["number", "received_at", "handling_county", "category", "status", "due_at"]
    list_filter = ["status", "category", "handling_county"]
    search_fields = ["number"]

    def get_exclude(self, request, obj=None):
        hidden = ["tracking_hash"]
        if not request.user.is_superuser:
            hidden += ["contact_name", "contact_phone"]
        return hidden

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(TipoffAttachment)
class TipoffAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["tipoff", "original_name", "content_type", "size"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(tipoff__in=Tipoff.objects.visible_to(request.user))


@admin.register(Reward)
class RewardAdmin(ReadOnlyAdmin):
    list_display = ["tipoff", "severity", "amount", "status", "paid_on"]
    list_filter = ["status"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(tipoff__in=Tipoff.objects.visible_to(request.user))
