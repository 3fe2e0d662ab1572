"""Read-only API of the enforcement-staff ledger, scoped like the pages."""

from django.utils import timezone
from rest_framework import serializers, viewsets

from . import services
from .models import Officer, OfficerTraining


class TrainingSerializer(serializers.ModelSerializer):
    class Meta:
        model = OfficerTraining
        fields = ["id", "course", "kind", "provider", "start_on", "end_on", "hours", "passed"]


class OfficerSerializer(serializers.ModelSerializer):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    last_trained = serializers.SerializerMethodField()
    trained_in_window = serializers.SerializerMethodField()
    trainings = TrainingSerializer(many=True, read_only=True)

    class Meta:
        model = Officer
        fields = ["id", "organisation", "organisation_name", "name", "kind", "post", "speciality",
                  "certificate_no", "certificate_expiry", "registered_safety_engineer", "joined_on", "status",
                  "left_on", "last_trained", "trained_in_window", "trainings"]

    def _state(self, officer) -> services.OfficerStatus:
        cache = self.context.setdefault("states", {})
        if officer.pk not in cache:
            cache[officer.pk] = services.statuses([officer], timezone.localdate())[0]
        return cache[officer.pk]

    def get_last_trained(self, officer) -> str | None:
        day = self._state(officer).last_trained
        return day.isoformat() if day else None

    def get_trained_in_window(self, officer) -> bool:
        return self._state(officer).trained


class OfficerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OfficerSerializer
    filterset_fields = ["kind", "status", "organisation"]

    def get_queryset(self):
        return Officer.objects.visible_to(self.request.user).select_related("organisation") \
            .prefetch_related("trainings").order_by("pk")
