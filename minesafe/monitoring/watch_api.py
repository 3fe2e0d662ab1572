"""API for watching suspended mines: departments post their data, regulators read and close the flags.

POST /api/v1/meter-readings       the power company's readings  {"rows": [{mine_code, period_start, hours, kwh}],
                                                                   "replace": false}
POST /api/v1/explosives-issues    the police's issues            {"rows": [{mine_code, issued_on, permit_no,
                                                                   explosive_kg, detonators}], "replace": false}
An upload with any bad row stores nothing: 400 with one error per row (row = 1-based index in "rows").
/api/v1/production-flags          the flags (covert: never the enterprise's), with confirm and dismiss.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from minesafe.core.api import ScopedReadOnlyViewSet

from . import suspension, uploads
from .models import DataUpload, ProductionFlag


class _UploadView(APIView):
    permission_classes = [IsAuthenticated]
    kind = ""

    @extend_schema(request={"application/json": {"type": "object"}},
                   responses={201: {"type": "object"}, 400: {"type": "object"}, 403: {"type": "object"}})
    def post(self, request):
        if not uploads.may_upload(request.user, self.kind):
            return Response({"detail": _("only the data's owner department or the city may upload this")},
                            status=status.HTTP_403_FORBIDDEN)
        body = request.data
        rows = body.get("rows") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return Response({"detail": _("expected an object with a list \"rows\" of objects"), "field": "rows"},
                            status=status.HTTP_400_BAD_REQUEST)
        replace = body.get("replace", False)
        if not isinstance(replace, bool):
            return Response({"detail": _("must be true or false"), "field": "replace"},
                            status=status.HTTP_400_BAD_REQUEST)
        report = uploads.upload(request.user, self.kind, list(enumerate(rows, start=1)), channel="api",
                                replace=replace)
        if report.ok:
            suspension.scan(mine_ids=report.mine_ids)
        return Response(report.as_json(), status=status.HTTP_201_CREATED if report.ok else status.HTTP_400_BAD_REQUEST)


class MeterUploadView(_UploadView):
    kind = DataUpload.Kind.METER


class ExplosivesUploadView(_UploadView):
    kind = DataUpload.Kind.EXPLOSIVES


class ProductionFlagSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)

    class Meta:
        model = ProductionFlag
        fields = ["id", "mine", "mine_name", "signal", "status", "began_on", "detected_at", "summary", "evidence",
                  "inspect_by", "inspected_on", "method", "findings", "dismissal_reason", "case_required",
                  "hazard", "closed_at"]
        read_only_fields = fields


class FlagCloseSerializer(serializers.Serializer):
    inspected_on = serializers.DateField()
    method = serializers.ChoiceField(choices=ProductionFlag.Method.choices)
    findings = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    case_required = serializers.BooleanField(required=False, default=True)


class ProductionFlagViewSet(ScopedReadOnlyViewSet):
    """Signs of production in suspended mines; confirm or dismiss one after the surprise inspection."""

    queryset = ProductionFlag.objects.select_related("mine")
    serializer_class = ProductionFlagSerializer
    filterset_fields = ["mine", "signal", "status"]

    def _closing(self, request):
        data = FlagCloseSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationError(data.errors)
        return self.get_object(), data.validated_data

    @extend_schema(request=FlagCloseSerializer, responses=ProductionFlagSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        flag, data = self._closing(request)
        flag = suspension.confirm(request.user, flag, inspected_on=data["inspected_on"], method=data["method"],
                                  findings=data.get("findings", ""), case_required=data["case_required"])
        return Response(ProductionFlagSerializer(flag).data)

    @extend_schema(request=FlagCloseSerializer, responses=ProductionFlagSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        flag, data = self._closing(request)
        flag = suspension.dismiss(request.user, flag, inspected_on=data["inspected_on"], method=data["method"],
                                  reason=data.get("reason", ""))
        return Response(ProductionFlagSerializer(flag).data)

