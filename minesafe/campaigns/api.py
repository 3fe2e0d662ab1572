"""Read-only API of the campaigns and the publicity events, scoped like the pages (outside scope: 404)."""

from django.db.models import Count
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import permissions, serializers, viewsets

from minesafe.inspections.models import Inspection

from .models import Campaign, CampaignSite, PublicityEvent, PublicityEvidence

SS = CampaignSite.Status


class CampaignSerializer(serializers.ModelSerializer):
    organiser_name = serializers.CharField(source="organiser.name", read_only=True)
    scope_code = serializers.CharField(source="scope.code", read_only=True, default=None)
    checklist_code = serializers.CharField(source="checklist.code", read_only=True)
    sites = serializers.SerializerMethodField(help_text="sites the caller may see, by status")
    overdue = serializers.SerializerMethodField(help_text="sites the caller may see that missed the deadline")

    class Meta:
        model = Campaign
        fields = ["id", "code", "title", "plan_task", "organiser", "organiser_name", "scope", "scope_code",
                  "mine_types", "checklist", "checklist_code", "description", "starts_on", "deadline", "status",
                  "started_at", "closed_at", "close_note", "sites", "overdue"]

    def _counts(self) -> dict[int, dict[str, int]]:
        if "counts" not in self.context:
            counts: dict[int, dict[str, int]] = {}
            rows = CampaignSite.objects.visible_to(self.context["request"].user).values_list(
                "campaign_id", "status").annotate(n=Count("pk")).order_by()
            for campaign_id, status, n in rows:
                counts.setdefault(campaign_id, {})[status] = n
            self.context["counts"] = counts
        return self.context["counts"]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_sites(self, campaign) -> dict:
        return {status: self._counts().get(campaign.pk, {}).get(status, 0) for status in SS.values}

    def get_overdue(self, campaign) -> int:
        if not campaign.is_past_deadline(timezone.localdate()):
            return 0
        counts = self._counts().get(campaign.pk, {})
        return sum(counts.get(s, 0) for s in (SS.PENDING, SS.INSPECTED, SS.RECTIFYING))


class CampaignSiteSerializer(serializers.ModelSerializer):
    campaign_code = serializers.CharField(source="campaign.code", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    mine_code = serializers.CharField(source="mine.code", read_only=True)
    county_code = serializers.CharField(source="mine.county.code", read_only=True)
    assigned_organisation_name = serializers.CharField(source="assigned_organisation.name", read_only=True)
    overdue = serializers.SerializerMethodField()
    inspections = serializers.SerializerMethodField(help_text="the visits (inspection ids) the caller may see")

    class Meta:
        model = CampaignSite
        fields = ["id", "campaign", "campaign_code", "mine", "mine_name", "mine_code", "county_code",
                  "assigned_organisation", "assigned_organisation_name", "status", "overdue", "findings_count",
                  "open_findings", "exempt_reason", "unfinished_reason", "closed_at", "inspections"]

    def get_overdue(self, site) -> bool:
        return site.is_overdue(timezone.localdate())

    def get_inspections(self, site) -> list[int]:
        if "visits" not in self.context:  # one query for the whole page
            many = isinstance(self.parent, serializers.ListSerializer)
            sites = [s.pk for s in (self.parent.instance if many else [site])]
            visits: dict[int, list[int]] = {}
            for site_id, pk in Inspection.objects.visible_to(self.context["request"].user).filter(
                    campaign_visit__site_id__in=sites).order_by("inspected_on", "pk").values_list(
                    "campaign_visit__site_id", "pk"):
                visits.setdefault(site_id, []).append(pk)
            self.context["visits"] = visits
        return self.context["visits"].get(site.pk, [])


class PublicityEvidenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = PublicityEvidence
        fields = ["id", "original_name", "content_type", "size", "sha256", "uploaded_at"]


class PublicityEventSerializer(serializers.ModelSerializer):
    organiser_name = serializers.CharField(source="organiser.name", read_only=True)
    county_code = serializers.CharField(source="county.code", read_only=True, default=None)
    evidence = PublicityEvidenceSerializer(many=True, read_only=True)

    class Meta:
        model = PublicityEvent
        fields = ["id", "held_on", "organiser", "organiser_name", "county", "county_code", "kind", "title", "place",
                  "audience", "reach", "online_views", "note", "evidence", "created_at"]


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CampaignSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_fields = ["status", "plan_task", "organiser"]

    def get_queryset(self):
        return Campaign.objects.visible_to(self.request.user).select_related("organiser", "scope", "checklist") \
            .order_by("-starts_on", "-pk")


class CampaignSiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CampaignSiteSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_fields = ["campaign", "status", "mine", "assigned_organisation"]

    def get_queryset(self):
        return CampaignSite.objects.visible_to(self.request.user).select_related(
            "campaign", "mine__county", "assigned_organisation").order_by("campaign_id", "pk")


class PublicityEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Publicity and education events (task 28), for the city and the counties."""

    serializer_class = PublicityEventSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_fields = ["county", "kind", "audience", "organiser"]

    def get_queryset(self):
        events = PublicityEvent.objects.visible_to(self.request.user).select_related("organiser", "county") \
            .prefetch_related("evidence").order_by("-held_on", "-pk")
        year = self.request.query_params.get("year", "")
        return events.filter(held_on__year=int(year)) if year.isdigit() else events
