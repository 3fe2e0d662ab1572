"""REST API for hazards: scoped querysets, every change through services."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from minesafe.core.api import ScopedReadOnlyViewSet, ScopedViewSetMixin
from minesafe.core.audit import history
from minesafe.registry.api import xlsx_response
from minesafe.registry.models import Mine
from minesafe.registry.serializers import AuditEventSerializer

from . import exports, services
from .filters import HazardFilterSet, SelfCheckFilterSet
from .models import DeadlineExtension, EscalationStep, Hazard, HazardItem, HazardTransition, Investigation, SelfCheck
from .serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    ConcludeSerializer,
    DecisionSerializer,
    EscalationStepSerializer,
    ExtensionSerializer,
    HazardItemSerializer,
    HazardReportSerializer,
    HazardSerializer,
    HazardTransitionRequestSerializer,
    HazardTransitionSerializer,
    InvestigationSerializer,
    PlanSerializer,
    SelfCheckSerializer,
    SuperviseSerializer,
)


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class HazardItemViewSet(viewsets.ReadOnlyModelViewSet):
    """The major-hazard standard (every version); reference data for every signed-in user."""

    queryset = HazardItem.objects.select_related("catalogue")
    serializer_class = HazardItemSerializer
    filterset_fields = ["facility_type", "catalogue__code", "code"]
    pagination_class = None


class HazardViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                    viewsets.ReadOnlyModelViewSet):
    queryset = Hazard.objects.select_related("mine__county", "item__catalogue")
    serializer_class = HazardSerializer
    filterset_class = HazardFilterSet
    ordering_fields = ["found_on", "deadline", "number", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return HazardReportSerializer
        if self.action == "partial_update":
            return PlanSerializer
        return super().get_serializer_class()

    @extend_schema(request=HazardReportSerializer, responses=HazardSerializer)
    def create(self, request, *args, **kwargs):
        """Report a hazard on a visible mine; the item is a standard item code of an active version."""
        data = valid(HazardReportSerializer(data=request.data, mines=Mine.objects.visible_to(request.user)))
        item = services.active_item(data.pop("item"))
        hazard = services.report_hazard(request.user, data.pop("mine"), item, **data)
        return Response(HazardSerializer(hazard).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanSerializer, responses=HazardSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Fill or change the 五落实 plan."""
        hazard = self.get_object()
        services.set_plan(request.user, hazard, valid(PlanSerializer(data=request.data, partial=True)))
        return Response(HazardSerializer(hazard).data)

    @extend_schema(request=HazardTransitionRequestSerializer, responses=HazardSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        hazard = self.get_object()
        data = valid(HazardTransitionRequestSerializer(data=request.data))
        services.transition(request.user, hazard, data["status"], reason=data["reason"])
        return Response(HazardSerializer(hazard).data)

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses=AttachmentSerializer)
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request, pk=None):
        hazard = self.get_object()
        data = valid(AttachmentUploadSerializer(data=request.data))
        upload = data["file"]
        attachment = services.add_attachment(request.user, hazard, data["kind"], upload.name,
                                             upload.read(services.UPLOAD_MAX_BYTES + 1))
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExtensionSerializer, responses=ExtensionSerializer)
    @action(detail=True, methods=["post"])
    def extensions(self, request, pk=None):
        """Request a later deadline; a county or the city decides."""
        hazard = self.get_object()
        data = valid(ExtensionSerializer(data=request.data))
        extension = services.request_extension(request.user, hazard, data["new_deadline"], data["reason"])
        return Response(ExtensionSerializer(extension).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SuperviseSerializer, responses=HazardSerializer)
    @action(detail=True, methods=["post"])
    def supervise(self, request, pk=None):
        """挂牌督办 (city only)."""
        hazard = self.get_object()
        data = valid(SuperviseSerializer(data=request.data))
        services.set_city_supervision(request.user, hazard, data["city_supervised"])
        return Response(HazardSerializer(hazard).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        return Response(AuditEventSerializer(history(self.get_object())[:200], many=True).data)

    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as a workbook."""
        return xlsx_response(exports.hazards_workbook(self.filter_queryset(self.get_queryset())), "hazards.xlsx")

    @action(detail=False, methods=["get"])
    def analysis(self, request):
        """Counts and trends by county, mine type, item, source and status over the filtered list."""
        return Response(services.analysis(self.filter_queryset(self.get_queryset())))

    @action(detail=False, methods=["get"], url_path="work-list")
    def work_list(self, request):
        """Today's work: overdue, awaiting verification, plan missing, due within 7 days, pending extensions."""
        lists = services.work_list(self.get_queryset())
        body = {k: HazardSerializer(v[:200], many=True).data for k, v in lists.items() if k != "extensions"}
        body["extensions"] = ExtensionSerializer(lists["extensions"][:200], many=True).data
        return Response(body)


class ExtensionViewSet(ScopedReadOnlyViewSet):
    queryset = DeadlineExtension.objects.select_related("hazard__mine")
    serializer_class = ExtensionSerializer
    filterset_fields = ["status", "hazard"]

    @extend_schema(request=DecisionSerializer, responses=ExtensionSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        extension = self.get_object()
        data = valid(DecisionSerializer(data=request.data))
        services.decide_extension(request.user, extension, approve=data["approve"], note=data.get("note", ""))
        return Response(ExtensionSerializer(extension).data)


class HazardTransitionViewSet(ScopedReadOnlyViewSet):
    queryset = HazardTransition.objects.all()
    serializer_class = HazardTransitionSerializer
    filterset_fields = ["hazard", "new_status"]


class EscalationStepViewSet(ScopedReadOnlyViewSet):
    queryset = EscalationStep.objects.all()
    serializer_class = EscalationStepSerializer
    filterset_fields = ["hazard", "rung"]


class SelfCheckViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = SelfCheck.objects.select_related("mine")
    serializer_class = SelfCheckSerializer
    filterset_class = SelfCheckFilterSet

    def create(self, request, *args, **kwargs):
        data = valid(SelfCheckSerializer(data=request.data, mines=Mine.objects.visible_to(request.user)))
        check = services.submit_self_check(request.user, data["mine"], data["period"],
                                           hazards_found=data["hazards_found"], led_by=data["led_by"],
                                           note=data.get("note", ""))
        return Response(SelfCheckSerializer(check).data, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["get"])
    def overdue(self, request):
        """Producing mines in the caller's scope without last month's self-check."""
        mines, period = services.self_check_overdue(Mine.objects.visible_to(request.user))
        return Response({"period": period, "mines": list(mines.values("id", "code", "name", "county__code"))})


class InvestigationViewSet(ScopedReadOnlyViewSet):
    queryset = Investigation.objects.prefetch_related("hazards")
    serializer_class = InvestigationSerializer
    filterset_fields = ["status", "mine", "propose_closure"]

    @extend_schema(request=ConcludeSerializer, responses=InvestigationSerializer)
    @action(detail=True, methods=["post"])
    def conclude(self, request, pk=None):
        investigation = self.get_object()
        services.conclude_investigation(request.user, investigation, **valid(ConcludeSerializer(data=request.data)))
        return Response(InvestigationSerializer(investigation).data)


def visible_hazard(user, pk) -> Hazard:
    return get_object_or_404(Hazard.objects.visible_to(user).select_related("mine__county", "item"), pk=pk)
