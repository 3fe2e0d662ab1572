"""REST API for suspension reports and the control of suspended mines: scoped querysets (404 outside the
caller's scope), every change through suspension.py, refusals mapped by core.api.exception_handler
(400 bad input, 403 not yours to do, 409 wrong state).

/api/v1/suspension-reports/                 list, detail; POST: the enterprise files a report
/api/v1/suspension-reports/{id}/accept/     the county or city accepts      {"note": ""}
/api/v1/suspension-reports/{id}/return/     ... or returns it               {"reason": "..."}
/api/v1/suspension-reports/{id}/resubmit/   the enterprise resubmits        {changed parts}
/api/v1/suspension-reports/{id}/stop/       the stop of an accepted report  {"stopped_on": "YYYY-MM-DD"}
/api/v1/suspension-reports/{id}/report-to-city/   the county has reported the mine to the city
/api/v1/control-records/                    list, detail, POST a control record
/api/v1/control-assignments/                list, detail, POST an assignment; {id}/end/ {"end_date": ...}
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.registry.models import Mine

from . import suspension
from .models import ControlAssignment, ControlRecord, SuspensionReport


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema_field(OpenApiTypes.INT)
class VisibleMineField(serializers.PrimaryKeyRelatedField):
    """A mine the caller can see: any other id is "does not exist", never "not yours"."""

    def get_queryset(self):
        return Mine.objects.visible_to(self.context["request"].user)


# Serializers ----------------------------------------------------------------------------------------
class SuspensionReportSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    submitted_by = serializers.StringRelatedField()
    reviewed_by = serializers.StringRelatedField()
    reported_by = serializers.StringRelatedField()
    overdue = serializers.SerializerMethodField(help_text="stopped, not reported to the city, due date passed")

    class Meta:
        model = SuspensionReport
        fields = ["id", "mine", "mine_name", "county", "kind", "status", *suspension.REPORT_FIELDS, "submitted_by",
                  "submitted_at", "reviewed_by", "reviewed_at", "review_note", "stopped_on", "city_report_due",
                  "reported_to_city_at", "reported_by", "overdue"]
        read_only_fields = fields

    def get_overdue(self, report) -> bool:
        return suspension.is_overdue(report)


class ReportPartsSerializer(serializers.Serializer):
    """The parts of a report. Whether each is present and consistent is the service's rule (400 with the part)."""

    reason = serializers.CharField(required=False, allow_blank=True)
    planned_start = serializers.DateField(required=False, allow_null=True)
    planned_end = serializers.DateField(required=False, allow_null=True)
    engineering_measures = serializers.CharField(required=False, allow_blank=True)
    management_measures = serializers.CharField(required=False, allow_blank=True)
    watch_arrangements = serializers.CharField(required=False, allow_blank=True)
    watch_headcount = serializers.IntegerField(required=False, allow_null=True)
    emergency_arrangements = serializers.CharField(required=False, allow_blank=True)
    power_arrangements = serializers.CharField(required=False, allow_blank=True)


class ReportCreateSerializer(ReportPartsSerializer):
    mine = VisibleMineField()
    kind = serializers.ChoiceField(choices=SuspensionReport.Kind.choices, required=False,
                                   help_text="default: from the mine's status")


class AcceptSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class ReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class StopSerializer(serializers.Serializer):
    stopped_on = serializers.DateField()


class ControlRecordSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    recorded_by = serializers.StringRelatedField()

    class Meta:
        model = ControlRecord
        fields = ["id", "mine", "mine_name", "kind", "done_on", "outcome", "notes", "recorded_by", "recorded_at"]
        read_only_fields = fields


class ControlRecordCreateSerializer(serializers.Serializer):
    mine = VisibleMineField()
    kind = serializers.ChoiceField(choices=ControlRecord.Kind.choices)
    done_on = serializers.DateField()
    outcome = serializers.ChoiceField(choices=ControlRecord.Outcome.choices)
    notes = serializers.CharField(max_length=4000)


class ControlAssignmentSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)

    class Meta:
        model = ControlAssignment
        fields = ["id", "mine", "mine_name", "role", "name", "post", "phone", "start_date", "end_date"]
        read_only_fields = fields


class ControlAssignmentCreateSerializer(serializers.Serializer):
    mine = VisibleMineField()
    role = serializers.ChoiceField(choices=ControlAssignment.Role.choices)
    name = serializers.CharField(max_length=64)
    post = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    start_date = serializers.DateField()


class EndAssignmentSerializer(serializers.Serializer):
    end_date = serializers.DateField()


# Viewsets -------------------------------------------------------------------------------------------
@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("overdue", bool, required=False)]))
class SuspensionReportViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Suspension reports (停产停建报告) in the caller's scope. `?overdue=true`: not reported to the city in time."""

    queryset = SuspensionReport.objects.select_related("mine__county", "submitted_by", "reviewed_by", "reported_by")
    serializer_class = SuspensionReportSerializer
    filterset_fields = ["status", "kind", "mine"]
    ordering_fields = ["submitted_at", "planned_start", "city_report_due"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.query_params.get("overdue") in ("1", "true"):
            queryset = queryset.filter(suspension.overdue_q(timezone.localdate()))
        return queryset

    def _answer(self, report, code=status.HTTP_200_OK):
        return Response(SuspensionReportSerializer(report).data, status=code)

    @extend_schema(request=ReportCreateSerializer, responses={201: SuspensionReportSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(ReportCreateSerializer(data=request.data, context={"request": request}))
        mine, kind = data.pop("mine"), data.pop("kind", None)
        report = suspension.submit_report(request.user, mine, kind=kind, **data)
        return self._answer(report, status.HTTP_201_CREATED)

    @extend_schema(request=AcceptSerializer, responses=SuspensionReportSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept; the stop is recorded at once when the planned start has come."""
        data = valid(AcceptSerializer(data=request.data))
        return self._answer(suspension.accept_report(request.user, self.get_object(), note=data.get("note", "")))

    @extend_schema(request=ReturnSerializer, responses=SuspensionReportSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_report(self, request, pk=None):
        """Return for completion, with the reason."""
        report = self.get_object()
        data = valid(ReturnSerializer(data=request.data))
        return self._answer(suspension.return_report(request.user, report, reason=data["reason"]))

    @extend_schema(request=ReportPartsSerializer, responses=SuspensionReportSerializer)
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        """The enterprise completes a returned report (only the parts sent change) and submits it again."""
        report = self.get_object()
        changes = valid(ReportPartsSerializer(data=request.data, partial=True))
        return self._answer(suspension.resubmit_report(request.user, report, changes))

    @extend_schema(request=StopSerializer, responses=SuspensionReportSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        report = self.get_object()
        data = valid(StopSerializer(data=request.data))
        return self._answer(suspension.record_stop(request.user, report, data["stopped_on"]))

    @extend_schema(request=None, responses=SuspensionReportSerializer)
    @action(detail=True, methods=["post"], url_path="report-to-city")
    def report_to_city(self, request, pk=None):
        return self._answer(suspension.report_to_city(request.user, self.get_object()))


class ControlRecordViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Control records of suspended mines (append-only)."""

    queryset = ControlRecord.objects.select_related("mine", "recorded_by")
    serializer_class = ControlRecordSerializer
    filterset_fields = ["mine", "kind", "outcome"]
    ordering_fields = ["done_on", "recorded_at"]
    http_method_names = ["get", "post", "head", "options"]

    @extend_schema(request=ControlRecordCreateSerializer, responses={201: ControlRecordSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(ControlRecordCreateSerializer(data=request.data, context={"request": request}))
        record = suspension.record_control(request.user, data.pop("mine"), **data)
        return Response(ControlRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class ControlAssignmentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Who answers for a suspended mine: responsible officials (包联包保) and the on-site watch (驻矿盯守)."""

    queryset = ControlAssignment.objects.select_related("mine")
    serializer_class = ControlAssignmentSerializer
    filterset_fields = ["mine", "role"]
    http_method_names = ["get", "post", "head", "options"]

    @extend_schema(request=ControlAssignmentCreateSerializer, responses={201: ControlAssignmentSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(ControlAssignmentCreateSerializer(data=request.data, context={"request": request}))
        assignment = suspension.add_assignment(request.user, data.pop("mine"), **data)
        return Response(ControlAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndAssignmentSerializer, responses=ControlAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        assignment = self.get_object()
        data = valid(EndAssignmentSerializer(data=request.data))
        suspension.end_assignment(request.user, assignment, data["end_date"])
        return Response(ControlAssignmentSerializer(assignment).data)


