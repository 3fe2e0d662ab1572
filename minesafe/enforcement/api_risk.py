"""Read-only REST API of the risk ranking (risk.py).

GET /api/v1/mine-risk/             the caller's mines (closed ones aside) by risk score, highest first;
                                   filters `county` (code), `mine_type`, `band`, `as_of` (YYYY-MM-DD); paginated
GET /api/v1/mine-risk/<mine id>/   one mine's score with every item, its points and the facts counted

For officials only (the city, the counties: 403 for anyone else, the score shows signs of hidden production); a
mine outside the caller's scope is 404.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from minesafe.registry.models import Mine

from . import risk


class RiskFactSerializer(serializers.Serializer):
    text = serializers.CharField()
    points = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(allow_blank=True)


class RiskItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    points = serializers.IntegerField()
    facts = RiskFactSerializer(many=True, source="lines")
    link = serializers.CharField(allow_blank=True)


class MineRiskSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    mine_code = serializers.CharField(source="mine.code")
    mine_name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="mine.county.code")
    mine_type = serializers.ChoiceField(source="mine.mine_type", choices=Mine.Type.choices)
    status = serializers.ChoiceField(source="mine.status", choices=Mine.Status.choices)
    score = serializers.IntegerField(source="score.total")
    band = serializers.ChoiceField(source="score.band", choices=risk.RiskBand.choices)
    colour = serializers.CharField(source="score.colour")
    as_of = serializers.DateField(source="score.as_of")
    version = serializers.CharField(source="score.version")
    items = RiskItemSerializer(many=True, source="score.items")


def as_of_param(request) -> dt.date:
    value = request.query_params.get("as_of")
    if not value:
        return timezone.localdate()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({"as_of": ["give a date as YYYY-MM-DD"]}) from exc
    if day > timezone.localdate():
        raise ValidationError({"as_of": ["a risk score is for today or a day before"]})
    return day


FILTERS = [OpenApiParameter("county", str, description="county code"),
           OpenApiParameter("mine_type", str, enum=Mine.Type.values),
           OpenApiParameter("band", str, enum=risk.RiskBand.values),
           OpenApiParameter("as_of", OpenApiTypes.DATE, description="score as of this day (default today)")]


class MineRiskViewSet(viewsets.GenericViewSet):
    """Mines by risk score with each score explained item by item (read-only)."""

    serializer_class = MineRiskSerializer
    filter_backends: list = []
    lookup_value_regex = r"\d+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not risk.may_read(request.user):
            raise PermissionDenied("the risk ranking is for the city and the counties")

    @extend_schema(parameters=FILTERS)
    def list(self, request):
        params = request.query_params
        result = risk.ranking(request.user, county=params.get("county", ""), mine_type=params.get("mine_type", ""),
                              band=params.get("band", ""), as_of=as_of_param(request))
        rows = [{"mine": mine, "score": score} for mine, score in result.rows]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(MineRiskSerializer(page, many=True).data)

    @extend_schema(parameters=FILTERS[-1:])
    def retrieve(self, request, pk=None):
        mine = get_object_or_404(Mine.objects.visible_to(request.user).select_related("county"), pk=pk)
        score = risk.score_of(mine, as_of_param(request))
        return Response(MineRiskSerializer({"mine": mine, "score": score}).data)
