"""REST API of the whistleblower reports, for handling officers only (the city and the counties): scoped
reads and one POST per transition through the services. The public has no API: only the two pages.
A report outside the caller's scope is 404; enterprises, departments and inspectors are refused (403)."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.models import Region
from minesafe.core.services import county_regions
from minesafe.hazards.models import HazardItem
from minesafe.registry.models import Mine

from . import services
from .models import Reward, Tipoff


class IsOfficer(permissions.BasePermission):
    def has_permission(self, request, view):
        return services.is_officer(request.user)


class RewardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", "severity", "amount", "rule", "status", "proposed_at", "decided_at", "refusal_reason",
                  "paid_on", "payment_ref"]
        read_only_fields = fields


class TipoffSerializer(serializers.ModelSerializer):
    county = serializers.CharField(source="county.code", read_only=True)
    handling_county = serializers.CharField(source="handling_county.code", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True, allow_null=True, default=None)
    contact_name = serializers.SerializerMethodField()
    contact_phone = serializers.SerializerMethodField()
    is_overdue = serializers.BooleanField(read_only=True)
    reward = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = Tipoff
        fields = ["id", "number", "county", "handling_county", "mine", "mine_name", "place", "category",
                  "description", "anonymous", "contact_name", "contact_phone", "status", "received_at", "due_at",
                  "is_overdue", "accepted_at", "rejected_at", "reject_reason", "verified_at", "substantiated",
                  "findings", "handled_at", "action_taken", "hazard", "feedback", "feedback_at", "closed_at",
                  "reward", "attachments"]
        read_only_fields = fields

    def _identity(self, obj) -> dict:
        return services.identity(self.context["request"].user, obj)

    def get_contact_name(self, obj) -> str:
        return self._identity(obj)["contact_name"]

    def get_contact_phone(self, obj) -> str:
        return self._identity(obj)["contact_phone"]

    @extend_schema(responses=RewardSerializer)
    def get_reward(self, obj) -> dict | None:
        reward = getattr(obj, "reward", None)  # none yet: the reverse one-to-one raises AttributeError
        return RewardSerializer(reward).data if reward else None

    def get_attachments(self, obj) -> list[dict]:
        return [{"id": a.pk, "name": a.original_name, "content_type": a.content_type, "size": a.size}
                for a in obj.attachments.all()]


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class VerifySerializer(serializers.Serializer):
    substantiated = serializers.BooleanField()
    findings = serializers.CharField(allow_blank=True)


class HandleSerializer(serializers.Serializer):
    action_taken = serializers.CharField(allow_blank=True)
    hazard_item = serializers.PrimaryKeyRelatedField(queryset=HazardItem.objects.filter(catalogue__active=True),
                                                     required=False, allow_null=True, default=None)
    hazard_description = serializers.CharField(required=False, allow_blank=True, default="")
    hazard_mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none(), required=False, allow_null=True,
                                                     default=None, help_text="the report's mine if not given")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["hazard_mine"].queryset = Mine.objects.visible_to(request.user)


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.CharField(allow_blank=True)


class ReassignSerializer(serializers.Serializer):
    county = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.none())
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = county_regions()


class ProposeRewardSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Reward.Severity.choices)


class PayRewardSerializer(serializers.Serializer):
    paid_on = serializers.DateField()
    payment_ref = serializers.CharField(allow_blank=True)


class TipoffFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Tipoff.Status.choices)
    category = django_filters.ChoiceFilter(choices=Tipoff.Category.choices)
    county = django_filters.CharFilter(field_name="handling_county__code")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Tipoff
        fields = ["status", "category", "county", "overdue"]

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue() if value else queryset.exclude(pk__in=queryset.overdue().values("pk"))


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class TipoffViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TipoffSerializer
    permission_classes = [permissions.IsAuthenticated, IsOfficer]
    filterset_class = TipoffFilter

    def get_queryset(self):
        return Tipoff.objects.visible_to(self.request.user).select_related(
            "county", "handling_county", "mine", "reward").prefetch_related("attachments").order_by("-received_at",
                                                                                                    "-pk")

    def _done(self, tipoff):
        fresh = self.get_queryset().get(pk=tipoff.pk)
        return Response(TipoffSerializer(fresh, context=self.get_serializer_context()).data)

    def _reward(self, tipoff) -> Reward:
        return get_object_or_404(Reward, tipoff=tipoff)

    @extend_schema(request=None, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._done(services.accept(request.user, self.get_object()))

    @extend_schema(request=RejectSerializer, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        tipoff = self.get_object()
        return self._done(services.reject(request.user, tipoff, **valid(RejectSerializer(data=request.data))))

    @extend_schema(request=VerifySerializer, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        tipoff = self.get_object()
        return self._done(services.verify(request.user, tipoff, **valid(VerifySerializer(data=request.data))))

    @extend_schema(request=HandleSerializer, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def handle(self, request, pk=None):
        tipoff = self.get_object()
        data = valid(HandleSerializer(data=request.data, context=self.get_serializer_context()))
        return self._done(services.handle(request.user, tipoff, **data))

    @extend_schema(request=FeedbackSerializer, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def feedback(self, request, pk=None):
        tipoff = self.get_object()
        return self._done(services.give_feedback(request.user, tipoff,
                                                 valid(FeedbackSerializer(data=request.data))["feedback"]))

    @extend_schema(request=None, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._done(services.close(request.user, self.get_object()))

    @extend_schema(request=ReassignSerializer, responses=TipoffSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        tipoff = self.get_object()
        data = valid(ReassignSerializer(data=request.data))
        services.reassign(request.user, tipoff, data["county"], data["note"])
        return Response(TipoffSerializer(tipoff, context=self.get_serializer_context()).data)

    @extend_schema(request=ProposeRewardSerializer, responses=RewardSerializer)
    @action(detail=True, methods=["post"], url_path="reward/propose")
    def propose_reward(self, request, pk=None):
        tipoff = self.get_object()
        data = valid(ProposeRewardSerializer(data=request.data))
        return Response(RewardSerializer(services.propose_reward(request.user, tipoff, data["severity"])).data,
                        status=201)

    @extend_schema(request=None, responses=RewardSerializer)
    @action(detail=True, methods=["post"], url_path="reward/approve")
    def approve_reward(self, request, pk=None):
        reward = self._reward(self.get_object())
        return Response(RewardSerializer(services.approve_reward(request.user, reward)).data)

    @extend_schema(request=RejectSerializer, responses=RewardSerializer)
    @action(detail=True, methods=["post"], url_path="reward/refuse")
    def refuse_reward(self, request, pk=None):
        reward = self._reward(self.get_object())
        data = valid(RejectSerializer(data=request.data))
        return Response(RewardSerializer(services.refuse_reward(request.user, reward, data["reason"])).data)

    @extend_schema(request=PayRewardSerializer, responses=RewardSerializer)
    @action(detail=True, methods=["post"], url_path="reward/pay")
    def pay_reward(self, request, pk=None):
        reward = self._reward(self.get_object())
        return Response(RewardSerializer(services.pay_reward(request.user, reward,
                                                             **valid(PayRewardSerializer(data=request.data)))).data)
