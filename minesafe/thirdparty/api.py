"""REST API of the third-party oversight: firms (public fields only for enterprises and inspectors),
qualifications with the expiry filters, engagements, checks and falsification cases. Reads are scoped
(`visible_to`); a row outside the caller's scope is 404 and a related id outside it "does not exist"; every
change is a POST (or PATCH of a firm's particulars) through services.py."""

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.registry.models import Mine

from . import services
from .models import (
    CaseAction,
    Check,
    Engagement,
    FalsificationCase,
    FalsifiedItem,
    Firm,
    Qualification,
    ServiceKind,
    is_official,
    sees_all_firms,
)


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def user_of(serializer):
    request = serializer.context.get("request")
    return request.user if request is not None else None


class KindsField(serializers.ListField):
    child = serializers.ChoiceField(choices=ServiceKind.choices)


# Serializers -------------------------------------------------------------------------------------
class FirmQualificationSerializer(serializers.ModelSerializer):
    firm_name = serializers.CharField(source="firm.name", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = ["id", "firm", "firm_name", "kind", "certificate_number", "issuing_authority", "scope", "valid_from",
                  "valid_to", "replaces", "revoked_on", "revoke_reason", "state"]
        read_only_fields = fields

    def get_state(self, obj) -> str:
        days = self.context.setdefault("expiring_within_days", services.expiring_within_days())
        return obj.state(timezone.localdate(), days)


class FirmQualificationInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ServiceKind.choices)
    certificate_number = serializers.CharField(allow_blank=True)
    issuing_authority = serializers.CharField(allow_blank=True)
    scope = serializers.CharField(required=False, allow_blank=True, default="")
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()
    replaces = serializers.PrimaryKeyRelatedField(queryset=Qualification.objects.none(), required=False,
                                                  allow_null=True, default=None)

    def __init__(self, *args, firm: Firm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if firm is not None:
            self.fields["replaces"].queryset = firm.qualifications.all()


class ServiceFirmPublicSerializer(serializers.ModelSerializer):
    """What enterprises and inspectors read of an (active) firm."""

    kinds = KindsField(read_only=True)
    qualifications = FirmQualificationSerializer(many=True, read_only=True)

    class Meta:
        model = Firm
        fields = ["id", "name", "credit_code", "kinds", "address", "contact_person", "contact_phone",
                  "qualifications"]
        read_only_fields = fields


class ServiceFirmSerializer(serializers.ModelSerializer):
    kinds = KindsField(allow_empty=True)
    qualifications = FirmQualificationSerializer(many=True, read_only=True)

    class Meta:
        model = Firm
        fields = ["id", "name", "credit_code", "kinds", "address", "contact_person", "contact_phone", "status",
                  "status_since", "status_reason", "blacklist_notice", "blacklisted_until", "note", "qualifications"]
        read_only_fields = ["id", "status", "status_since", "status_reason", "blacklist_notice", "blacklisted_until",
                            "qualifications"]
        # The services give the reasons (credit code check digit, duplicates, lengths): no model validators here.
        extra_kwargs = {name: {"validators": [], "allow_blank": True, "max_length": None}
                        for name in ["name", "credit_code", "address", "contact_person", "contact_phone", "note"]}


class FirmReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class FirmBlacklistSerializer(FirmReasonSerializer):
    notice = serializers.CharField(allow_blank=True)


class QualificationRevokeSerializer(serializers.Serializer):
    revoked_on = serializers.DateField()
    reason = serializers.CharField(allow_blank=True)


class FirmEngagementSerializer(serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    firm = serializers.PrimaryKeyRelatedField(queryset=Firm.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    firm_name = serializers.CharField(source="firm.name", read_only=True)

    class Meta:
        model = Engagement
        fields = ["id", "mine", "mine_name", "county", "firm", "firm_name", "kind", "qualification", "engaged_on",
                  "report_title", "report_number", "report_date", "note", "recorded_at"]
        read_only_fields = ["id", "qualification", "recorded_at"]
        extra_kwargs = {"report_title": {"allow_blank": True, "max_length": None},
                        "report_number": {"max_length": None}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = user_of(self)
        if user is not None:
            self.fields["mine"].queryset = Mine.objects.visible_to(user)
            self.fields["firm"].queryset = Firm.objects.visible_to(user)


class FirmCheckSerializer(serializers.ModelSerializer):
    engagement = serializers.PrimaryKeyRelatedField(queryset=Engagement.objects.none())
    mine = serializers.IntegerField(source="engagement.mine_id", read_only=True)
    firm = serializers.IntegerField(source="engagement.firm_id", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Check
        fields = ["id", "engagement", "mine", "firm", "checked_on", "checkers", "result", "findings", "follow_up_due",
                  "status", "is_overdue", "followed_up_on", "follow_up_note", "published_at"]
        read_only_fields = ["id", "status", "followed_up_on", "follow_up_note", "published_at"]
        extra_kwargs = {"checkers": {"allow_blank": True, "max_length": None}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = user_of(self)
        if user is not None:
            self.fields["engagement"].queryset = Engagement.objects.visible_to(user)


class FirmCheckFollowUpSerializer(serializers.Serializer):
    followed_up_on = serializers.DateField()
    note = serializers.CharField(allow_blank=True)


def visible_mine_ids(serializer, obj) -> list[int]:
    visible = serializer.context.get("visible_mines")
    if visible is None:
        user = user_of(serializer)
        visible = serializer.context["visible_mines"] = set(Mine.objects.visible_to(user).values_list("pk", flat=True))
    return sorted(m.pk for m in obj.mines.all() if m.pk in visible)


class FalsificationCasePublicSerializer(serializers.ModelSerializer):
    """What enterprises and inspectors read of a published case (no internal description or findings)."""

    firm_name = serializers.CharField(source="firm.name", read_only=True)
    falsified = serializers.ListField(child=serializers.ChoiceField(choices=FalsifiedItem.choices), read_only=True)
    actions = serializers.ListField(child=serializers.ChoiceField(choices=CaseAction.choices), read_only=True)
    mines = serializers.SerializerMethodField()

    class Meta:
        model = FalsificationCase
        fields = ["id", "number", "firm", "firm_name", "falsified", "mines", "status", "opened_on", "actions",
                  "decided_on", "public_summary", "published_at"]
        read_only_fields = fields

    def get_mines(self, obj) -> list[int]:
        """The affected mines the caller sees."""
        return visible_mine_ids(self, obj)


class FalsificationCaseSerializer(serializers.ModelSerializer):
    firm = serializers.PrimaryKeyRelatedField(queryset=Firm.objects.none(), required=False, allow_null=True)
    firm_name = serializers.CharField(source="firm.name", read_only=True)
    source_check = serializers.PrimaryKeyRelatedField(queryset=Check.objects.none(), required=False,
                                                      allow_null=True)
    falsified = serializers.ListField(child=serializers.ChoiceField(choices=FalsifiedItem.choices), allow_empty=True)
    actions = serializers.ListField(child=serializers.ChoiceField(choices=CaseAction.choices), read_only=True)
    mines = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none(), many=True, required=False)

    class Meta:
        model = FalsificationCase
        fields = ["id", "number", "firm", "firm_name", "source", "source_check", "source_reference", "falsified",
                  "description", "mines", "status", "opened_on", "opened_by_org", "findings", "confirmed_on",
                  "dismiss_reason", "actions", "decision", "decided_on", "public_summary", "published_at"]
        read_only_fields = ["id", "number", "status", "opened_by_org", "findings", "confirmed_on", "dismiss_reason",
                            "decision", "decided_on", "public_summary", "published_at"]
        extra_kwargs = {"description": {"allow_blank": True}, "source_reference": {"max_length": None},
                        "opened_on": {"required": False}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = user_of(self)
        if user is not None:
            self.fields["firm"].queryset = Firm.objects.visible_to(user)
            self.fields["source_check"].queryset = Check.objects.visible_to(user)
            self.fields["mines"].child_relation.queryset = Mine.objects.visible_to(user)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["mines"] = visible_mine_ids(self, instance)
        return data


class CaseMinesSerializer(serializers.Serializer):
    mines = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none(), many=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = user_of(self)
        if user is not None:
            self.fields["mines"].child_relation.queryset = Mine.objects.visible_to(user)


class CaseConfirmSerializer(serializers.Serializer):
    findings = serializers.CharField(allow_blank=True)
    confirmed_on = serializers.DateField(required=False, allow_null=True, default=None)


class CaseCloseSerializer(serializers.Serializer):
    actions = serializers.ListField(child=serializers.ChoiceField(choices=CaseAction.choices), allow_empty=True)
    decision = serializers.CharField(allow_blank=True)
    decided_on = serializers.DateField(required=False, allow_null=True, default=None)
    public_summary = serializers.CharField(required=False, allow_blank=True, default="")


# Filters -----------------------------------------------------------------------------------------
class FirmFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", help_text="part of the name or the credit code")
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices, field_name="kind_rows__kind")
    status = django_filters.ChoiceFilter(choices=Firm.Status.choices)

    class Meta:
        model = Firm
        fields = ["q", "kind", "status"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(credit_code__icontains=value.upper()))


class QualificationFilterSet(django_filters.FilterSet):
    firm = IdFilter(field_name="firm_id")
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices)
    state = django_filters.ChoiceFilter(
        method="filter_state", choices=[("expiring", "expiring"), ("expired", "expired")],
        help_text="expiring: current certificates ending within the catalogue's days; expired: ended, not renewed")

    class Meta:
        model = Qualification
        fields = ["firm", "kind", "state"]

    def filter_state(self, queryset, name, value):
        today = timezone.localdate()
        queryset = queryset.exclude(firm__status=Firm.Status.BLACKLISTED)
        if value == "expiring":
            return queryset.expiring(today, services.expiring_within_days())
        return queryset.expired(today)


class EngagementFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    firm = IdFilter(field_name="firm_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices)
    year = django_filters.NumberFilter(field_name="engaged_on__year")

    class Meta:
        model = Engagement
        fields = ["mine", "firm", "county", "kind", "year"]


class CheckFilterSet(django_filters.FilterSet):
    engagement = IdFilter(field_name="engagement_id")
    firm = IdFilter(field_name="engagement__firm_id")
    county = django_filters.CharFilter(field_name="engagement__mine__county__code")
    result = django_filters.ChoiceFilter(choices=Check.Result.choices)
    status = django_filters.ChoiceFilter(choices=Check.Status.choices)
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Check
        fields = ["engagement", "firm", "county", "result", "status", "overdue"]

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.follow_up_overdue()
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class CaseFilterSet(django_filters.FilterSet):
    firm = IdFilter(field_name="firm_id")
    status = django_filters.ChoiceFilter(choices=FalsificationCase.Status.choices)
    year = django_filters.NumberFilter(field_name="opened_on__year")

    class Meta:
        model = FalsificationCase
        fields = ["firm", "status", "year"]


# Viewsets ----------------------------------------------------------------------------------------
class FirmViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                  viewsets.ReadOnlyModelViewSet):
    """Firms: every signed-in user reads the active ones (public fields); the city, the counties and the city
    departments read all. Officials register and edit firms; only the city changes a firm's status."""

    queryset = Firm.objects.prefetch_related("kind_rows", "qualifications__firm")
    filterset_class = FirmFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["name", "status_since"]

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or sees_all_firms(self.request.user):
            return ServiceFirmSerializer
        return ServiceFirmPublicSerializer

    def get_queryset(self):
        return super().get_queryset().order_by("name")

    def _answer(self, firm, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=firm.pk)
        return Response(self.get_serializer_class()(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        data = valid(ServiceFirmSerializer(data=request.data, context=self.get_serializer_context()))
        return self._answer(services.create_firm(request.user, **data), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        firm = self.get_object()
        data = valid(ServiceFirmSerializer(firm, data=request.data, partial=True,
                                           context=self.get_serializer_context()))
        return self._answer(services.update_firm(request.user, firm, **data))

    @extend_schema(request=FirmReasonSerializer, responses=ServiceFirmSerializer)
    @action(detail=True, methods=["post"], serializer_class=FirmReasonSerializer)
    def suspend(self, request, pk=None):
        firm = self.get_object()
        return self._answer(services.suspend_firm(request.user, firm, **valid(FirmReasonSerializer(data=request.data))))

    @extend_schema(request=FirmReasonSerializer, responses=ServiceFirmSerializer)
    @action(detail=True, methods=["post"], serializer_class=FirmReasonSerializer)
    def reinstate(self, request, pk=None):
        firm = self.get_object()
        return self._answer(services.reinstate_firm(request.user, firm,
                                                    **valid(FirmReasonSerializer(data=request.data))))

    @extend_schema(request=FirmBlacklistSerializer, responses=ServiceFirmSerializer)
    @action(detail=True, methods=["post"], serializer_class=FirmBlacklistSerializer)
    def blacklist(self, request, pk=None):
        """Put the firm on the blacklist (失信); `notice` is what the public list shows."""
        firm = self.get_object()
        return self._answer(services.blacklist_firm(request.user, firm,
                                                    **valid(FirmBlacklistSerializer(data=request.data))))

    @extend_schema(request=FirmReasonSerializer, responses=ServiceFirmSerializer)
    @action(detail=True, methods=["post"], url_path="remove-from-blacklist", serializer_class=FirmReasonSerializer)
    def remove_from_blacklist(self, request, pk=None):
        firm = self.get_object()
        return self._answer(services.remove_from_blacklist(request.user, firm,
                                                           **valid(FirmReasonSerializer(data=request.data))))

    @extend_schema(request=FirmQualificationInputSerializer, responses={201: FirmQualificationSerializer})
    @action(detail=True, methods=["post"], serializer_class=FirmQualificationInputSerializer)
    def qualifications(self, request, pk=None):
        """Record a qualification certificate of the firm (a renewal names the certificate it `replaces`)."""
        firm = self.get_object()
        data = valid(FirmQualificationInputSerializer(data=request.data, firm=firm))
        qualification = services.add_qualification(request.user, firm, **data)
        return Response(FirmQualificationSerializer(qualification, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


class QualificationViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Qualification.objects.select_related("firm")
    serializer_class = FirmQualificationSerializer
    filterset_class = QualificationFilterSet
    ordering_fields = ["valid_to", "valid_from"]

    @extend_schema(request=QualificationRevokeSerializer, responses=FirmQualificationSerializer)
    @action(detail=True, methods=["post"], serializer_class=QualificationRevokeSerializer)
    def revoke(self, request, pk=None):
        qualification = self.get_object()
        services.revoke_qualification(request.user, qualification,
                                      **valid(QualificationRevokeSerializer(data=request.data)))
        return Response(FirmQualificationSerializer(qualification, context=self.get_serializer_context()).data)


class EngagementViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Engagement.objects.select_related("mine__county", "firm")
    serializer_class = FirmEngagementSerializer
    filterset_class = EngagementFilterSet
    ordering_fields = ["engaged_on", "report_date"]

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        engagement = services.record_engagement(request.user, data.pop("mine"), **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=engagement.pk)).data,
                        status=status.HTTP_201_CREATED)


class CheckViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Check.objects.select_related("engagement")
    serializer_class = FirmCheckSerializer
    filterset_class = CheckFilterSet
    ordering_fields = ["checked_on", "follow_up_due"]

    def _answer(self, check, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=check.pk)
        return Response(FirmCheckSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        check = services.record_check(request.user, data.pop("engagement"), **data)
        return self._answer(check, status.HTTP_201_CREATED)

    @extend_schema(request=FirmCheckFollowUpSerializer, responses=FirmCheckSerializer)
    @action(detail=True, methods=["post"], url_path="follow-up", serializer_class=FirmCheckFollowUpSerializer)
    def follow_up(self, request, pk=None):
        """The follow-up is done: open -> closed."""
        check = self.get_object()
        return self._answer(services.close_follow_up(request.user, check,
                                                     **valid(FirmCheckFollowUpSerializer(data=request.data))))

    @extend_schema(request=None, responses=FirmCheckSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Show the check to the mine's enterprise."""
        return self._answer(services.publish_check(request.user, self.get_object()))


class CaseViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = FalsificationCase.objects.select_related("firm").prefetch_related("mines")
    filterset_class = CaseFilterSet
    ordering_fields = ["opened_on", "decided_on"]

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_official(self.request.user):
            return FalsificationCaseSerializer
        return FalsificationCasePublicSerializer

    def _answer(self, case, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=case.pk)
        return Response(self.get_serializer_class()(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        """Open a case: `source` "check" with `source_check` (its firm and mine come with it), or "report" with
        `source_reference`."""
        data = valid(FalsificationCaseSerializer(data=request.data, context=self.get_serializer_context()))
        case = services.open_case(request.user, **data)
        return self._answer(case, status.HTTP_201_CREATED)

    @extend_schema(request=CaseMinesSerializer, responses=FalsificationCaseSerializer)
    @action(detail=True, methods=["post"], url_path="add-mines", serializer_class=CaseMinesSerializer)
    def add_mines(self, request, pk=None):
        case = self.get_object()
        data = valid(CaseMinesSerializer(data=request.data, context=self.get_serializer_context()))
        return self._answer(services.add_affected_mines(request.user, case, data["mines"]))

    @extend_schema(request=CaseConfirmSerializer, responses=FalsificationCaseSerializer)
    @action(detail=True, methods=["post"], serializer_class=CaseConfirmSerializer)
    def confirm(self, request, pk=None):
        case = self.get_object()
        data = valid(CaseConfirmSerializer(data=request.data))
        return self._answer(services.confirm_case(request.user, case, **data))

    @extend_schema(request=FirmReasonSerializer, responses=FalsificationCaseSerializer)
    @action(detail=True, methods=["post"], serializer_class=FirmReasonSerializer)
    def dismiss(self, request, pk=None):
        case = self.get_object()
        return self._answer(services.dismiss_case(request.user, case, **valid(FirmReasonSerializer(data=request.data))))

    @extend_schema(request=CaseCloseSerializer, responses=FalsificationCaseSerializer)
    @action(detail=True, methods=["post"], serializer_class=CaseCloseSerializer)
    def close(self, request, pk=None):
        """confirmed -> closed with the actions; a blacklist or suspension changes the firm's status (the city)."""
        case = self.get_object()
        return self._answer(services.close_case(request.user, case, **valid(CaseCloseSerializer(data=request.data))))

    @extend_schema(request=None, responses=FalsificationCaseSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._answer(services.publish_case(request.user, self.get_object()))
