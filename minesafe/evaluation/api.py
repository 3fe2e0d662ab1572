"""REST API of the county evaluation, for the city and the counties only (others 403): the sheets in scope (a
published sheet's frozen result, a draft's live one), a county's live draft by quarter, the actions that
score, publish, object and answer, the published ranking and the monthly statistics. Another county's sheet
is 404; a county never sees another county's draft."""

import django_filters
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.scoping import is_city

from . import services
from .models import Decision, Objection, ScoreSheet
from .scoring import Quarter
from .services import RankStatus
from .statistics import monthly_statistics


class IsOfficer(permissions.BasePermission):
    def has_permission(self, request, view):
        return services.is_officer(request.user)


class ObjectionSerializer(serializers.ModelSerializer):
    filed_by = serializers.StringRelatedField()
    answered_by = serializers.StringRelatedField()

    class Meta:
        model = Objection
        fields = ["id", "status", "reason", "filed_by", "filed_at", "answer", "item", "old_score", "new_score",
                  "answered_by", "answered_at"]
        read_only_fields = fields


class ScoreSheetSerializer(serializers.ModelSerializer):
    county = serializers.CharField(source="county.code", read_only=True)
    county_name = serializers.CharField(source="county.name_zh", read_only=True)
    objection = serializers.SerializerMethodField()
    objection_deadline = serializers.SerializerMethodField()

    class Meta:
        model = ScoreSheet
        fields = ["id", "county", "county_name", "year", "quarter", "status", "total", "catalogue_version",
                  "published_at", "objection_deadline", "objection"]
        read_only_fields = fields

    @extend_schema(responses=ObjectionSerializer)
    def get_objection(self, obj) -> dict | None:
        objection = getattr(obj, "objection", None) if obj.is_published else None
        return ObjectionSerializer(objection).data if objection else None

    def get_objection_deadline(self, obj) -> str | None:
        deadline = services.objection_deadline(obj)
        return deadline.isoformat() if deadline else None


class ScoreSheetDetailSerializer(ScoreSheetSerializer):
    result = serializers.SerializerMethodField(help_text="the frozen result of a published sheet, or the draft "
                                                         "computed live: items with inputs, records and scores, "
                                                         "flags, deductions and total")

    class Meta(ScoreSheetSerializer.Meta):
        fields = [*ScoreSheetSerializer.Meta.fields, "result"]
        read_only_fields = fields

    def get_result(self, obj) -> dict:
        return services.result_of(obj.county, Quarter(obj.year, obj.quarter), obj)


class SheetKeySerializer(serializers.Serializer):
    county = serializers.CharField(help_text="the county's division code")
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)

    def validate_county(self, value):
        county = services.evaluated_counties().filter(code=value.strip()).first()
        if county is None:
            raise serializers.ValidationError("not a county under evaluation")
        return county


class ManualScoreInputSerializer(SheetKeySerializer):
    item = serializers.CharField()
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    reason = serializers.CharField(allow_blank=True)


class ObjectionFilingSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class ObjectionAnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(allow_blank=True)
    item = serializers.CharField(required=False, allow_blank=True, default="")
    score = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True, default=None)


class ManualScoreSerializer(serializers.Serializer):
    sheet = serializers.IntegerField(source="sheet_id")
    item = serializers.CharField()
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    reason = serializers.CharField()


class RankingRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True)
    county = serializers.CharField(source="county.code")
    county_name = serializers.CharField(source="county.name_zh")
    status = serializers.ChoiceField(choices=RankStatus.choices)
    total = serializers.FloatField(allow_null=True)
    subtotal = serializers.FloatField(allow_null=True)
    deductions = serializers.FloatField(allow_null=True)
    scores = serializers.DictField(child=serializers.FloatField())
    flags = serializers.DictField(child=serializers.IntegerField())


class StatisticsMonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    inspections = serializers.IntegerField()
    penalties = serializers.IntegerField()
    fines = serializers.DecimalField(max_digits=14, decimal_places=2)
    hazards_found = serializers.IntegerField()
    hazards_closed = serializers.IntegerField()
    tipoffs_received = serializers.IntegerField()
    tipoffs_handled = serializers.IntegerField()


class CountyStatisticsSerializer(serializers.Serializer):
    county = serializers.CharField(source="county.code")
    county_name = serializers.CharField(source="county.name_zh")
    months = StatisticsMonthSerializer(many=True)
    total = StatisticsMonthSerializer()


class SheetFilter(django_filters.FilterSet):
    county = django_filters.CharFilter(field_name="county__code")
    status = django_filters.ChoiceFilter(choices=ScoreSheet.Status.choices)

    class Meta:
        model = ScoreSheet
        fields = ["county", "year", "quarter", "status"]


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def quarter_of(data: dict) -> Quarter:
    return Quarter(data["year"], data["quarter"])


QUARTER_PARAMS = [OpenApiParameter("year", OpenApiTypes.INT, required=True),
                  OpenApiParameter("quarter", OpenApiTypes.INT, required=True)]


class SheetViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated, IsOfficer]
    filterset_class = SheetFilter

    def get_queryset(self):
        return ScoreSheet.objects.visible_to(self.request.user).select_related("county", "objection").order_by(
            "-year", "-quarter", "county__code")

    def get_serializer_class(self):
        return ScoreSheetDetailSerializer if self.action == "retrieve" else ScoreSheetSerializer

    def _sheet(self, sheet):
        fresh = self.get_queryset().get(pk=sheet.pk)
        return Response(ScoreSheetDetailSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[OpenApiParameter("county", OpenApiTypes.STR, required=True), *QUARTER_PARAMS],
                   responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def live(self, request):
        """A county's sheet for a quarter as the data says now (the frozen one once published)."""
        data = valid(SheetKeySerializer(data=request.query_params))
        county = data["county"]
        if not services.may_see_county(request.user, county):
            raise Http404
        quarter = quarter_of(data)
        return Response(services.result_of(county, quarter, services.sheet_for(county, quarter)))

    @extend_schema(request=ManualScoreInputSerializer, responses=ManualScoreSerializer)
    @action(detail=False, methods=["post"], url_path="manual-score")
    def manual_score(self, request):
        data = valid(ManualScoreInputSerializer(data=request.data))
        score = services.set_manual_score(request.user, data["county"], quarter_of(data), data["item"],
                                          data["score"], data["reason"])
        return Response(ManualScoreSerializer(score).data)

    @extend_schema(request=SheetKeySerializer, responses=ScoreSheetDetailSerializer)
    @action(detail=False, methods=["post"])
    def publish(self, request):
        data = valid(SheetKeySerializer(data=request.data))
        return self._sheet(services.publish(request.user, data["county"], quarter_of(data)))

    @extend_schema(request=ObjectionFilingSerializer, responses=ObjectionSerializer)
    @action(detail=True, methods=["post"])
    def objection(self, request, pk=None):
        sheet = self.get_object()
        data = valid(ObjectionFilingSerializer(data=request.data))
        return Response(ObjectionSerializer(services.file_objection(request.user, sheet, data["reason"])).data,
                        status=201)

    @extend_schema(request=ObjectionAnswerSerializer, responses=ObjectionSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        sheet = self.get_object()
        objection = Objection.objects.filter(sheet=sheet).first()
        if objection is None:
            raise Http404
        data = valid(ObjectionAnswerSerializer(data=request.data))
        return Response(ObjectionSerializer(services.answer_objection(request.user, objection, **data)).data)


class RankingQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)
    live = serializers.BooleanField(required=False, default=False)


class RankingViewSet(viewsets.ViewSet):
    """A quarter's ranking: published totals for everyone; the city may add `live=true` to rank drafts too."""

    permission_classes = [permissions.IsAuthenticated, IsOfficer]

    @extend_schema(parameters=[*QUARTER_PARAMS, OpenApiParameter("live", OpenApiTypes.BOOL)],
                   responses=RankingRowSerializer(many=True))
    def list(self, request):
        data = valid(RankingQuerySerializer(data=request.query_params))
        live = data["live"] and is_city(request.user)
        return Response(RankingRowSerializer(services.ranking(quarter_of(data), live=live), many=True).data)


class StatisticsViewSet(viewsets.ViewSet):
    """Monthly statistics of the counties in scope (the city: all; a county: its own)."""

    permission_classes = [permissions.IsAuthenticated, IsOfficer]

    @extend_schema(parameters=[OpenApiParameter("year", OpenApiTypes.INT)],
                   responses=CountyStatisticsSerializer(many=True))
    def list(self, request):
        year = request.query_params.get("year") or timezone.localdate().year
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise serializers.ValidationError({"year": "enter a year"}) from None
        if not 2000 <= year <= timezone.localdate().year:
            raise serializers.ValidationError({"year": "between 2000 and this year"})
        stats = monthly_statistics(year, services.visible_counties(request.user))
        return Response(CountyStatisticsSerializer(stats, many=True).data)
