"""REST API for online monitoring: scoped querysets, every change through services.

Gateways push telemetry to /api/v1/telemetry (telemetry_api.py); everything here is for people.
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from minesafe.core.api import ScopedReadOnlyViewSet, ScopedViewSetMixin
from minesafe.registry.api import xlsx_response
from minesafe.registry.excel import XLSX_CONTENT_TYPE
from minesafe.registry.models import Mine

from . import exports, services
from .filters import AlarmFilterSet, SensorFilterSet
from .models import Alarm, AlarmEvent, Gateway, QuarantinedMessage, Reading, Rule, Sensor
from .serializers import (
    AcknowledgeSerializer,
    AlarmEventSerializer,
    AlarmSerializer,
    GatewayCreateSerializer,
    GatewaySerializer,
    GatewayTokenSerializer,
    OnlineRateSerializer,
    QuarantinedMessageSerializer,
    ReadingsQuerySerializer,
    ReadingsSerializer,
    RespondSerializer,
    ReviewSerializer,
    RuleCreateSerializer,
    RuleSerializer,
    RuleWriteSerializer,
    SensorCreateSerializer,
    SensorSerializer,
    SensorWriteSerializer,
)

READINGS_LIMIT = 10_000  # rows per answer; a longer range is fetched in pieces (`next`)


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class FileRenderer(BaseRenderer):
    """Lets `?format=csv|xlsx` (or the Accept header) ask a view for a file; the view builds the file
    itself. An error answer (bad input, not signed in) still goes out as JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data)


class CSVRenderer(FileRenderer):
    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(FileRenderer):
    media_type = XLSX_CONTENT_TYPE
    format = "xlsx"


def wants(request, fmt: str) -> bool:
    return getattr(request.accepted_renderer, "format", None) == fmt


# Gateways ------------------------------------------------------------------------------------------
class GatewayViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """A mine's data-collection gateways. The token is shown once, when created or rotated."""

    queryset = Gateway.objects.select_related("mine")
    serializer_class = GatewaySerializer
    filterset_fields = ["mine", "active"]

    def get_serializer_class(self):
        if self.action == "create":
            return GatewayCreateSerializer
        return super().get_serializer_class()

    @extend_schema(request=GatewayCreateSerializer, responses={201: GatewayTokenSerializer})
    def create(self, request, *args, **kwargs):
        """A new gateway on a visible mine; the answer carries its token, which is never shown again."""
        data = valid(GatewayCreateSerializer(data=request.data, mines=Mine.objects.visible_to(request.user)))
        gateway, token = services.create_gateway(request.user, data["mine"], data["name"])
        return token_answer(gateway, token, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=GatewayTokenSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Issue a new token; the old one stops working at once. The new token is shown only here."""
        gateway = self.get_object()
        token = services.rotate_token(request.user, gateway)
        return token_answer(gateway, token)

    @extend_schema(request=None, responses=GatewaySerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """Refuse this gateway's telemetry until it is activated again."""
        gateway = services.set_gateway_active(request.user, self.get_object(), False)
        return Response(GatewaySerializer(gateway).data)

    @extend_schema(request=None, responses=GatewaySerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        gateway = services.set_gateway_active(request.user, self.get_object(), True)
        return Response(GatewaySerializer(gateway).data)


def token_answer(gateway: Gateway, token: str, status_code: int = status.HTTP_200_OK) -> Response:
    """The gateway with its new token: the only answer that ever carries it, so no cache keeps it."""
    gateway.token = token
    return Response(GatewayTokenSerializer(gateway).data, status=status_code, headers={"Cache-Control": "no-store"})


# Sensors and rules ---------------------------------------------------------------------------------
class SensorViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                    viewsets.ReadOnlyModelViewSet):
    queryset = Sensor.objects.select_related("mine__county")
    serializer_class = SensorSerializer
    filterset_class = SensorFilterSet
    ordering_fields = ["code", "kind", "level", "last_ts"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return SensorCreateSerializer
        if self.action == "partial_update":
            return SensorWriteSerializer
        return super().get_serializer_class()

    def scoped_choices(self) -> dict:
        user = self.request.user
        return {"gateways": Gateway.objects.visible_to(user), "sensors": Sensor.objects.visible_to(user)}

    @extend_schema(request=SensorCreateSerializer, responses={201: SensorSerializer})
    def create(self, request, *args, **kwargs):
        """A sensor on a visible mine; unit and interval default from its kind, and unless `default_rules`
        is false it gets the kind's default rules and a no-data rule."""
        data = valid(SensorCreateSerializer(data=request.data, mines=Mine.objects.visible_to(request.user),
                                            **self.scoped_choices()))
        sensor = services.create_sensor(request.user, data.pop("mine"), code=data.pop("code"),
                                        name=data.pop("name", ""), kind=data.pop("kind"), **data)
        return Response(SensorSerializer(sensor).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SensorWriteSerializer, responses=SensorSerializer)
    def partial_update(self, request, *args, **kwargs):
        sensor = self.get_object()
        data = valid(SensorWriteSerializer(data=request.data, partial=True, **self.scoped_choices()))
        return Response(SensorSerializer(services.update_sensor(request.user, sensor, data)).data)

    @extend_schema(parameters=[ReadingsQuerySerializer],
                   responses={(200, "application/json"): ReadingsSerializer, (200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def readings(self, request, pk=None):
        """The stored readings from `since` to `until` (both included), oldest first, at most 10 000:
        `truncated` says when the range holds more, and `next` is where to continue.
        `?format=csv` answers the same rows as CSV (headers X-Readings-Truncated and X-Readings-Next)."""
        sensor = self.get_object()
        span = valid(ReadingsQuerySerializer(data=request.query_params))
        rows = list(Reading.objects.filter(sensor_id=sensor.pk, ts__gte=span["since"], ts__lte=span["until"])
                    .order_by("ts").values_list("ts", "value")[:READINGS_LIMIT + 1])
        truncated = len(rows) > READINGS_LIMIT
        following = rows.pop()[0] if truncated else None
        if wants(request, "csv"):
            return readings_csv(sensor, rows, following)
        return Response(ReadingsSerializer({
            "sensor": sensor.pk, "unit": sensor.unit, **span, "count": len(rows), "limit": READINGS_LIMIT,
            "truncated": truncated, "next": following, "readings": [{"ts": ts, "value": v} for ts, v in rows],
        }).data)


def readings_csv(sensor: Sensor, rows, following):
    response = exports.csv_response(["ts", f"value ({sensor.unit})"],
                                    ([timezone.localtime(ts).isoformat(), value] for ts, value in rows),
                                    f"readings-{sensor.pk}.csv")
    response["X-Readings-Truncated"] = "true" if following else "false"
    if following:
        response["X-Readings-Next"] = timezone.localtime(following).isoformat()
    return response


class RuleViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                  viewsets.ReadOnlyModelViewSet):
    """A sensor's evaluation rules; every change is audited field by field."""

    queryset = Rule.objects.select_related("sensor")
    serializer_class = RuleSerializer
    filterset_fields = ["sensor", "kind", "active"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return RuleCreateSerializer
        if self.action == "partial_update":
            return RuleWriteSerializer
        return super().get_serializer_class()

    @extend_schema(request=RuleCreateSerializer, responses={201: RuleSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(RuleCreateSerializer(data=request.data, sensors=Sensor.objects.visible_to(request.user)))
        rule = services.create_rule(request.user, data.pop("sensor"), **data)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleWriteSerializer, responses=RuleSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change thresholds and settings (the kind of a rule stays)."""
        rule = self.get_object()
        data = valid(RuleWriteSerializer(data=request.data, partial=True))
        return Response(RuleSerializer(services.update_rule(request.user, rule, data)).data)


# Alarms --------------------------------------------------------------------------------------------
class AlarmViewSet(ScopedReadOnlyViewSet):
    """Alarms with 叫应回应: acknowledge, respond, and (county or city) review the response."""

    queryset = Alarm.objects.select_related("mine__county", "sensor")
    serializer_class = AlarmSerializer
    filterset_class = AlarmFilterSet
    ordering_fields = ["opened_at", "level", "status", "ack_due_at", "response_due_at"]

    @extend_schema(request=AcknowledgeSerializer, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """叫应 (409 unless the alarm waits for acknowledgement)."""
        alarm = self.get_object()
        data = valid(AcknowledgeSerializer(data=request.data))
        alarm = services.acknowledge(request.user, alarm, note=data.get("note", ""))
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(request=RespondSerializer, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def respond(self, request, pk=None):
        """回应: the measures taken and, from orange up, whether (and how many) people were withdrawn
        (409 unless acknowledged)."""
        alarm = self.get_object()
        alarm = services.respond(request.user, alarm, **valid(RespondSerializer(data=request.data)))
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(request=ReviewSerializer, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """The county or city accepts the response or returns it with a reason (409 unless responded)."""
        alarm = self.get_object()
        alarm = services.review(request.user, alarm, **valid(ReviewSerializer(data=request.data)))
        return Response(AlarmSerializer(alarm).data)

    @extend_schema(responses=AlarmEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """The alarm's history, oldest first."""
        events = self.get_object().events.select_related("actor")
        return Response(AlarmEventSerializer(events, many=True).data)

    @extend_schema(responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as a workbook."""
        return xlsx_response(exports.alarms_workbook(self.filter_queryset(self.get_queryset())), "alarms.xlsx")


class AlarmEventViewSet(ScopedReadOnlyViewSet):
    queryset = AlarmEvent.objects.select_related("actor")
    serializer_class = AlarmEventSerializer
    filterset_fields = ["alarm", "kind"]


class QuarantineViewSet(ScopedReadOnlyViewSet):
    """Telemetry that could not be stored, with the reasons. A message whose gateway was not recognised
    belongs to no mine: only the city sees those."""

    queryset = QuarantinedMessage.objects.all()
    serializer_class = QuarantinedMessageSerializer
    filterset_fields = ["mine", "gateway", "channel"]


# Online rate -----------------------------------------------------------------------------------------
class OnlineRateView(generics.GenericAPIView):
    """在线率 and 应联尽联 over the caller's mines: per mine, per county and for the whole city."""

    renderer_classes = [JSONRenderer, XLSXRenderer]
    serializer_class = OnlineRateSerializer
    filter_backends = []
    pagination_class = None

    @extend_schema(
        operation_id="online_rate",
        parameters=[OpenApiParameter("county", str, description="county division code")],
        responses={(200, "application/json"): OnlineRateSerializer, (200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY})
    def get(self, request):
        """Active measured sensors heard within their no-data window (online), and mines required to
        connect that have a sensor (connected). `?format=xlsx` answers a workbook."""
        mines = Mine.objects.visible_to(request.user)
        county = request.query_params.get("county")
        if county:
            mines = mines.filter(county__code=county)
        now = timezone.now()
        rates = services.online_rates(mines, now)
        if wants(request, "xlsx"):
            return xlsx_response(exports.online_workbook(rates, counties=True), "online-rate.xlsx")
        return Response(OnlineRateSerializer({"at": now, **rates}).data)
