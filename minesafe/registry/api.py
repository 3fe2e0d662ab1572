"""REST API for the registry. Every queryset is scoped by `visible_to`; every change goes through services."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from minesafe.core.api import ScopedReadOnlyViewSet, ScopedViewSetMixin
from minesafe.core.audit import history
from minesafe.core.models import Region

from . import excel, services
from .filters import LedgerSubmissionFilterSet, MineFilterSet
from .models import Enterprise, LedgerSubmission, Mine, MineStatusChange, ResponsibleLeader
from .serializers import (
    AuditEventSerializer,
    EnterpriseSerializer,
    LeaderSerializer,
    LedgerSubmissionSerializer,
    MineCreateSerializer,
    MineSerializer,
    MineWriteSerializer,
    PublicLeaderSerializer,
    RegionSerializer,
    StatusChangeSerializer,
    TransitionSerializer,
)


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=excel.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """Division codes are public reference data for every signed-in user."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    lookup_field = "code"
    pagination_class = None


class EnterpriseViewSet(ScopedReadOnlyViewSet):
    queryset = Enterprise.objects.select_related("county")
    serializer_class = EnterpriseSerializer
    search_fields = ["name", "credit_code"]


class MineViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                  viewsets.ReadOnlyModelViewSet):
    queryset = Mine.objects.select_related("county", "enterprise__county")
    serializer_class = MineSerializer
    filterset_class = MineFilterSet
    ordering_fields = ["code", "name", "status", "ledger_due_date", "updated_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return MineCreateSerializer
        if self.action in ("update", "partial_update"):
            return MineWriteSerializer
        return super().get_serializer_class()

    @extend_schema(request=MineCreateSerializer, responses=MineSerializer)
    def create(self, request, *args, **kwargs):
        data = self._valid(MineCreateSerializer, request.data)
        mine = services.register_mine(request.user, **data)
        return Response(MineSerializer(mine).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MineWriteSerializer, responses=MineSerializer)
    def partial_update(self, request, *args, **kwargs):
        mine = self.get_object()
        data = self._valid(MineWriteSerializer, request.data, partial=True)
        services.update_mine(request.user, mine, data)
        return Response(MineSerializer(mine).data)

    @extend_schema(request=TransitionSerializer, responses=StatusChangeSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Change operating status along the allowed transitions (409 if not allowed from the current one)."""
        mine = self.get_object()
        data = self._valid(TransitionSerializer, request.data)
        change = services.change_status(request.user, mine, data["status"], reason=data["reason"],
                                        effective_date=data.get("effective_date"))
        return Response(StatusChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LedgerSubmissionSerializer, responses=LedgerSubmissionSerializer)
    @action(detail=True, methods=["post"])
    def ledger(self, request, pk=None):
        """Submit the monthly ledger for one month (409 if that month is already in)."""
        mine = self.get_object()
        data = self._valid(LedgerSubmissionSerializer, request.data)
        submission = services.submit_monthly_ledger(
            request.user, mine, data["period"], people_underground=data.get("people_underground"),
            output=data.get("output"), note=data.get("note", ""))
        return Response(LedgerSubmissionSerializer(submission).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The mine's audit trail, newest first."""
        mine = self.get_object()
        return Response(AuditEventSerializer(history(mine)[:200], many=True).data)

    @extend_schema(responses={(200, excel.XLSX_CONTENT_TYPE): bytes})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as the ledger workbook (same columns as the import template)."""
        mines = self.filter_queryset(self.get_queryset()).select_related("enterprise", "county")
        return xlsx_response(excel.build_export(mines), "mines.xlsx")

    @extend_schema(responses={(200, excel.XLSX_CONTENT_TYPE): bytes})
    @action(detail=False, methods=["get"], url_path="import-template")
    def import_template(self, request):
        return xlsx_response(excel.build_template(), "mine-ledger-template.xlsx")

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_ledger(self, request):
        """Import a filled template: all rows or none; 400 with every bad cell when any is wrong."""
        if not excel.may_import(request.user):
            raise PermissionDenied("only the city and county bureaus import the mine ledger")
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"file": ["upload the workbook in the field 'file'"]}, status=400)
        result = excel.import_ledger(request.user, upload.name, upload.read(settings.IMPORT_MAX_BYTES + 1))
        if not result.ok:
            return Response({
                "detail": result.file_error or "the workbook has errors; nothing was imported",
                "errors": [e.__dict__ for e in result.errors],
            }, status=status.HTTP_400_BAD_REQUEST)
        return Response({"rows": result.rows, "created": result.created, "updated": result.updated,
                         "unchanged": result.unchanged})

    def _valid(self, serializer_class, data, partial=False) -> dict:
        serializer = serializer_class(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class LedgerSubmissionViewSet(ScopedReadOnlyViewSet):
    queryset = LedgerSubmission.objects.all()
    serializer_class = LedgerSubmissionSerializer
    filterset_class = LedgerSubmissionFilterSet


class StatusChangeViewSet(ScopedReadOnlyViewSet):
    queryset = MineStatusChange.objects.all()
    serializer_class = StatusChangeSerializer
    filterset_fields = ["mine", "new_status"]


class LeaderViewSet(ScopedReadOnlyViewSet):
    queryset = ResponsibleLeader.objects.select_related("mine")
    serializer_class = LeaderSerializer
    filterset_fields = ["mine", "level", "published"]


class PublicLeaderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """包保 leaders now in post, as published; no login, no phone numbers."""

    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = PublicLeaderSerializer

    def get_queryset(self):
        return ResponsibleLeader.objects.published_current().select_related("mine__county").exclude(
            mine__status=Mine.Status.CLOSED)

