"""Admin of the campaigns: read-only. Campaigns, sites and events change only through the services."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import Campaign, CampaignSite, PublicityEvent


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "plan_task", "organiser", "status", "starts_on", "deadline"]
    list_filter = ["status", "plan_task"]
    search_fields = ["code", "title"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(CampaignSite)
class CampaignSiteAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "mine", "assigned_organisation", "status", "findings_count", "open_findings"]
    list_filter = ["status"]
    search_fields = ["mine__name", "mine__code", "campaign__code"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(PublicityEvent)
class PublicityEventAdmin(ReadOnlyAdmin):
    list_display = ["held_on", "title", "kind", "county", "organiser", "reach", "online_views"]
    list_filter = ["kind", "audience"]
    search_fields = ["title", "place"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)
