"""REST API of the plan's KPIs (read-only): `plan-kpis/` lists every indicator at `?as_of=YYYY-MM-DD` (default
today) for the whole city or `?county=<division code>`; `plan-kpis/<code>/` gives one with its monthly trend and
the mines holding it back. The city reads the city and any county; a county reads its own figures (another
county is 404); everyone else gets 403. A bad date or county code is a 400 naming the parameter."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from . import kpis

PARAMETERS = [
    OpenApiParameter("as_of", OpenApiTypes.DATE, description="the day evaluated (default today; not in the future)"),
    OpenApiParameter("county", str, description="county division code (default: the whole city for the city "
                                                "bureau, the caller's own county for a county)"),
]


class TargetSerializer(serializers.Serializer):
    date = serializers.DateField(allow_null=True, help_text="null: a standing target, in force every day")
    value = serializers.FloatField()
    value_then = serializers.FloatField(allow_null=True, help_text="the indicator on the date, once it has come")
    met = serializers.BooleanField(allow_null=True, help_text="null: not due yet and not met yet")
    wording = serializers.CharField()
    date_is_implied = serializers.BooleanField()


class TrendPointSerializer(serializers.Serializer):
    month = serializers.DateField()
    value = serializers.FloatField(allow_null=True)


class HeldSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    code = serializers.CharField(source="mine.code")
    name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="mine.county.code", help_text="the mine's county today")
    reason = serializers.CharField()


class KpiSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    definition = serializers.CharField()
    plan = serializers.DictField(help_text="the plan's goal or task and the metric as the plan words it")
    unit = serializers.CharField(help_text="share (0..1), count, or change (relative to the baseline)")
    direction = serializers.CharField(help_text="up: higher is better; down: lower is better")
    confidence = serializers.CharField(help_text="verified: the plan's number; unverified: the project's reading")
    as_of = serializers.DateField()
    county = serializers.SerializerMethodField()
    value = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    target_date = serializers.DateField(allow_null=True)
    met = serializers.BooleanField(allow_null=True)
    status = serializers.CharField(help_text="met, behind (not met, due later), missed, no_data or no_target")
    numerator = serializers.FloatField(allow_null=True)
    denominator = serializers.FloatField(allow_null=True)
    counted = serializers.CharField()
    targets = TargetSerializer(many=True)
    holding_back_count = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_county(self, obj) -> str | None:
        return obj.county.code if obj.county else None

    def get_holding_back_count(self, obj) -> int:
        return len(obj.holding_back)


class KpiDetailSerializer(KpiSerializer):
    trend = serializers.SerializerMethodField()
    holding_back = HeldSerializer(many=True)

    @extend_schema_field(TrendPointSerializer(many=True))
    def get_trend(self, obj) -> list[dict]:
        return [{"month": month, "value": value} for month, value in obj.trend]


def _parameters(request):
    county = kpis.readable_county(request.user, request.query_params.get("county", ""))
    return county, kpis.parse_as_of(request.query_params.get("as_of", ""))


class KpiViewSet(viewsets.ViewSet):
    """The action plan's indicators computed from live data (read-only)."""

    lookup_field = "code"
    lookup_value_regex = "[a-z0-9_]+"

    @extend_schema(operation_id="plan_kpis_list", parameters=PARAMETERS, responses=KpiSerializer(many=True))
    def list(self, request):
        """Every indicator on the day, without its trend and mines (see the detail)."""
        county, as_of = _parameters(request)
        return Response(KpiSerializer(kpis.all_kpis(as_of, county, with_trend=False), many=True).data)

    @extend_schema(operation_id="plan_kpis_retrieve", responses=KpiDetailSerializer, parameters=[
        *PARAMETERS, OpenApiParameter("code", str, OpenApiParameter.PATH, description="the indicator's code")])
    def retrieve(self, request, code=None):
        """One indicator with its monthly trend and the mines holding it back."""
        county, as_of = _parameters(request)
        if code not in kpis.definitions():
            raise NotFound("no such indicator")
        return Response(KpiDetailSerializer(kpis.compute(code, as_of, county)).data)
