"""REST API of the enforcement equipment ledger: scoped reads, every change a POST through equipment.py.

Items (POST to the list adds one), their steps (edit, check, status), each visible body's kit against the
minimum (`summary/`) and the filtered list as CSV (`export/`). The city sees every ledger, a county its own,
nobody else any (an empty list; an item outside the scope is 404).
"""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.monitoring.exports import csv_response

from . import equipment as services
from . import plans
from .models import EquipmentItem


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class EquipmentItemSerializer(serializers.ModelSerializer):
    organisation = serializers.PrimaryKeyRelatedField(queryset=plans.inspecting_bodies())
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    check_overdue = serializers.BooleanField(read_only=True)
    # Plain text here: the service trims, requires and checks lengths with its own field messages.
    model = serializers.CharField(allow_blank=True)
    serial_number = serializers.CharField(allow_blank=True)
    assigned_to = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        model = EquipmentItem
        fields = ["id", "organisation", "organisation_name", "kind", "model", "serial_number", "acquired_on",
                  "status", "status_since", "assigned_to", "last_checked_on", "next_check_due", "check_overdue",
                  "note", "created_at"]
        read_only_fields = ["id", "status", "status_since", "next_check_due", "created_at"]
        validators = []  # the service says which serial number clashes, as a field error


class EquipmentEditSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EquipmentItem.Kind.choices, required=False)
    model = serializers.CharField(required=False, allow_blank=True)
    serial_number = serializers.CharField(required=False, allow_blank=True)
    acquired_on = serializers.DateField(required=False)
    assigned_to = serializers.CharField(required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True)


class EquipmentCheckSerializer(serializers.Serializer):
    checked_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class EquipmentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=EquipmentItem.Status.choices)
    reason = serializers.CharField(allow_blank=True)
    on = serializers.DateField(required=False, allow_null=True, default=None)


class EquipmentKitLineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EquipmentItem.Kind.choices)
    minimum = serializers.IntegerField()
    in_service = serializers.IntegerField()
    under_repair = serializers.IntegerField()
    short = serializers.IntegerField()


class EquipmentKitSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(source="organisation.pk")
    organisation_name = serializers.CharField(source="organisation.name")
    below_minimum = serializers.BooleanField()
    checks_overdue = serializers.IntegerField()
    total_in_service = serializers.IntegerField()
    lines = EquipmentKitLineSerializer(many=True)


class EquipmentFilterSet(django_filters.FilterSet):
    organisation = IdFilter(field_name="organisation_id")
    kind = django_filters.ChoiceFilter(choices=EquipmentItem.Kind.choices)
    status = django_filters.ChoiceFilter(choices=EquipmentItem.Status.choices)
    check_due_before = django_filters.DateFilter(field_name="next_check_due", lookup_expr="lt")

    class Meta:
        model = EquipmentItem
        fields = ["organisation", "kind", "status", "check_due_before"]


class EquipmentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = EquipmentItem.objects.select_related("organisation__region")
    serializer_class = EquipmentItemSerializer
    filterset_class = EquipmentFilterSet
    search_fields = ["serial_number", "model", "assigned_to"]
    ordering_fields = ["acquired_on", "next_check_due", "kind"]

    def _answer(self, item, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=item.pk)
        return Response(EquipmentItemSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        item = services.add_item(request.user, data.pop("organisation"), **data)
        return self._answer(item, status.HTTP_201_CREATED)

    @extend_schema(request=EquipmentEditSerializer, responses=EquipmentItemSerializer)
    @action(detail=True, methods=["post"], serializer_class=EquipmentEditSerializer)
    def edit(self, request, pk=None):
        """Change the particulars (only the fields given)."""
        item = self.get_object()
        services.update_item(request.user, item, **valid(EquipmentEditSerializer(data=request.data)))
        return self._answer(item)

    @extend_schema(request=EquipmentCheckSerializer, responses=EquipmentItemSerializer)
    @action(detail=True, methods=["post"], url_path="check", serializer_class=EquipmentCheckSerializer)
    def record_check(self, request, pk=None):
        """Record a check; the next one falls due an interval later."""
        item = self.get_object()
        services.record_check(request.user, item, **valid(EquipmentCheckSerializer(data=request.data)))
        return self._answer(item)

    @extend_schema(request=EquipmentStatusSerializer, responses=EquipmentItemSerializer)
    @action(detail=True, methods=["post"], url_path="status", serializer_class=EquipmentStatusSerializer)
    def change_status(self, request, pk=None):
        """In service <-> under repair, either -> retired (final), with the reason; 409 for any other move."""
        item = self.get_object()
        data = valid(EquipmentStatusSerializer(data=request.data))
        services.change_status(request.user, item, data["status"], reason=data["reason"], on=data["on"])
        return self._answer(item)

    @extend_schema(responses=EquipmentKitSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def summary(self, request):
        """Each visible body's items in service against its minimum kit."""
        return Response(EquipmentKitSerializer(services.kit_summary(request.user), many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as CSV."""
        items = self.filter_queryset(self.get_queryset())
        return csv_response(services.export_header(), services.export_rows(items), "enforcement-equipment.csv")
