"""Admin of the penalty cases. Cases change only through the services (audited), so the admin reads; the
person's ID number is left out."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import Challenge, Payment, PenaltyCase, ZeroPenaltyRun


@admin.register(PenaltyCase)
class PenaltyCaseAdmin(ReadOnlyAdmin):
    list_display = ["decision_no", "mine", "organisation", "violation_type", "status", "opened_on", "decided_on",
                    "enterprise_fine", "person_fine"]
    list_filter = ["status", "source", "organisation"]
    search_fields = ["decision_no", "mine__name"]
    exclude = ["person_id_number"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["case", "target", "kind", "amount", "paid_on", "receipt_ref"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=PenaltyCase.objects.visible_to(request.user))


@admin.register(Challenge)
class ChallengeAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "filed_on", "concluded_on", "outcome"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=PenaltyCase.objects.visible_to(request.user))


@admin.register(ZeroPenaltyRun)
class ZeroPenaltyRunAdmin(ReadOnlyAdmin):
    list_display = ["period_start", "period_end", "run_at", "notified"]
