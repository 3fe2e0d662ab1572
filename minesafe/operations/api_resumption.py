"""API of resumption acceptance: applications with their checklists; every change through resumption.py."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from minesafe.core.api import ScopedViewSetMixin
from minesafe.registry.models import Mine
from minesafe.registry.services import is_mine_owner

from . import resumption
from .models import AcceptanceItem, ResumptionApplication


class AcceptanceItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = AcceptanceItem
        fields = ["id", "code", "title", "computed", "precondition", "result", "evidence", "reason", "checked_by",
                  "checked_at"]
        read_only_fields = fields


class ApplicationSerializer(serializers.ModelSerializer):
    items = serializers.SerializerMethodField()

    class Meta:
        model = ResumptionApplication
        fields = ["id", "mine", "status", "planned_resumption", "statement", "applied_by", "applied_at", "team",
                  "decided_by", "decided_at", "decision_note", "items"]
        read_only_fields = fields

    @extend_schema_field(AcceptanceItemSerializer(many=True))
    def get_items(self, application) -> list:
        user = self.context["request"].user
        owner = is_mine_owner(user, application.mine)
        rows = AcceptanceItemSerializer(application.items.all(), many=True).data
        for row in rows:
            if owner and row["code"] in resumption.COVERT_ITEMS:
                row["evidence"] = row["reason"] = ""  # signs of production stay covert
        return rows


class ApplySerializer(serializers.Serializer):
    mine = serializers.IntegerField()
    planned_resumption = serializers.DateField()
    statement = serializers.CharField(max_length=4000, allow_blank=True)


class TeamSerializer(serializers.Serializer):
    team = serializers.CharField(max_length=300, allow_blank=True)


class ItemResultSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    passed = serializers.BooleanField()
    evidence = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


def valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    if not data.is_valid():
        raise ValidationError(data.errors)
    return data.validated_data


class ResumptionApplicationViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                                   GenericViewSet):
    """Resumption applications (复产复工验收) in the caller's scope, with their checklist."""

    queryset = ResumptionApplication.objects.select_related("mine__enterprise").prefetch_related("items")
    serializer_class = ApplicationSerializer
    filterset_fields = ["mine", "status"]

    def _reply(self, application, code=status.HTTP_200_OK):
        application = ResumptionApplication.objects.get(pk=application.pk)
        return Response(ApplicationSerializer(application, context={"request": self.request}).data, status=code)

    @extend_schema(request=ApplySerializer, responses=ApplicationSerializer)
    def create(self, request):
        data = valid(ApplySerializer, request)
        mine = get_object_or_404(Mine.objects.visible_to(request.user), pk=data["mine"])
        application = resumption.apply(request.user, mine, planned_resumption=data["planned_resumption"],
                                       statement=data["statement"])
        return self._reply(application, status.HTTP_201_CREATED)

    @extend_schema(request=TeamSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._reply(resumption.start_check(request.user, self.get_object(),
                                                  team=valid(TeamSerializer, request)["team"]))

    @extend_schema(request=ItemResultSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        application = self.get_object()
        data = valid(ItemResultSerializer, request)
        item = get_object_or_404(AcceptanceItem, pk=data["item"], application=application)
        resumption.record_item(request.user, item, passed=data["passed"], evidence=data["evidence"],
                               reason=data["reason"])
        return self._reply(application)

    @extend_schema(request=NoteSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        note = valid(NoteSerializer, request)["note"]
        return self._reply(resumption.decide(request.user, self.get_object(), note=note))

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._reply(resumption.withdraw(request.user, self.get_object()))
