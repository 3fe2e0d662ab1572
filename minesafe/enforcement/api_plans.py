"""REST API of the annual inspection plans: scoped reads, every change a POST through plans.py.

Plans (POST to the list creates one, proposed from the ledger unless `propose` is false; the detail carries the
entries, experts and amendments), their steps (submit, approve, return, propose, set or remove an entry, name or
remove an expert), progress against a plan (`progress/?until=`) and every visible plan side by side
(`overview/?year=&until=`); the entries on their own (`plan-entries`). A plan outside the caller's scope is 404;
enterprises and departments see none.
"""

import datetime as dt

import django_filters
from django.db.models import Count, Sum
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.core.models import User
from minesafe.inspections.models import Method
from minesafe.registry.models import Mine

from . import plans as services
from .models import InspectionPlan, PlanAmendment, PlanEntry, PlanExpert


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def until_param(request, year: int) -> dt.date:
    """?until=YYYY-MM-DD (default today), kept within the plan year; anything else is a 400 naming the field."""
    value = request.query_params.get("until")
    if not value:
        until = timezone.localdate()
    else:
        try:
            until = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise DRFValidationError({"until": ["give a date as YYYY-MM-DD"]}) from exc
    return min(max(until, dt.date(year, 1, 1)), dt.date(year, 12, 31))


# Serializers -------------------------------------------------------------------------------------
class PlanReasonSerializer(serializers.Serializer):
    rule = serializers.CharField()
    text = serializers.CharField()


def reasons_of(entry: PlanEntry) -> list[dict]:
    return [{"rule": r.get("rule", ""), "text": services.describe_reason(r)} for r in entry.reasons]


class PlanExpertSerializer(serializers.ModelSerializer):
    mine = serializers.IntegerField(source="entry.mine_id", read_only=True, allow_null=True)

    class Meta:
        model = PlanExpert
        fields = ["id", "kind", "user", "name", "speciality", "entry", "mine", "quarter", "assigned_at"]
        read_only_fields = fields


class PlanEntrySerializer(serializers.ModelSerializer):
    mine_code = serializers.CharField(source="mine.code", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    year = serializers.IntegerField(source="plan.year", read_only=True)
    organisation = serializers.IntegerField(source="plan.organisation_id", read_only=True)
    cross_county = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    method_minimums = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    methods = serializers.ListField(child=serializers.ChoiceField(choices=Method.choices), read_only=True)

    class Meta:
        model = PlanEntry
        fields = ["id", "plan", "year", "organisation", "mine", "mine_code", "mine_name", "county", "cross_county",
                  "visits_per_year", "method_minimums", "methods", "proposed_visits", "reasons", "note"]
        read_only_fields = fields

    def get_cross_county(self, obj) -> bool:
        return services.is_foreign(obj.plan, obj.mine)

    @extend_schema_field(PlanReasonSerializer(many=True))
    def get_reasons(self, obj) -> list[dict]:
        return reasons_of(obj)


class PlanAmendmentSerializer(serializers.ModelSerializer):
    made_by = serializers.StringRelatedField()

    class Meta:
        model = PlanAmendment
        fields = ["id", "mine", "action", "before", "after", "reason", "made_by", "made_at"]
        read_only_fields = fields


class InspectionPlanSerializer(serializers.ModelSerializer):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    entry_count = serializers.IntegerField(read_only=True)
    total_visits = serializers.IntegerField(read_only=True)

    class Meta:
        model = InspectionPlan
        fields = ["id", "organisation", "organisation_name", "year", "status", "rules_version", "note",
                  "created_at", "submitted_at", "approved_at", "return_reason", "entry_count", "total_visits"]
        read_only_fields = fields


class InspectionPlanDetailSerializer(InspectionPlanSerializer):
    entries = PlanEntrySerializer(many=True, read_only=True)
    experts = PlanExpertSerializer(many=True, read_only=True)
    amendments = PlanAmendmentSerializer(many=True, read_only=True)

    class Meta(InspectionPlanSerializer.Meta):
        fields = [*InspectionPlanSerializer.Meta.fields, "entries", "experts", "amendments"]
        read_only_fields = fields


class PlanCreateSerializer(serializers.Serializer):
    organisation = serializers.PrimaryKeyRelatedField(queryset=services.inspecting_bodies())
    year = serializers.IntegerField()
    propose = serializers.BooleanField(required=False, default=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PlanReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class PlanEntryInputSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    visits_per_year = serializers.IntegerField()
    method_minimums = serializers.DictField(child=serializers.IntegerField(), required=False, default=dict,
                                            help_text="{method: at least this many visits by it}")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="required once the plan is approved (an amendment)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["mine"].queryset = Mine.objects.visible_to(request.user)


class PlanRemoveEntrySerializer(serializers.Serializer):
    entry = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PlanExpertInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PlanExpert.Kind.choices, default=PlanExpert.Kind.EXPERT)
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(role=User.Role.INSPECTOR), required=False,
                                              allow_null=True, default=None)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    speciality = serializers.CharField(required=False, allow_blank=True, default="")
    entry = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                     max_value=2**63 - 1)
    quarter = serializers.IntegerField(required=False, allow_null=True, default=None)


class PlanRemoveExpertSerializer(serializers.Serializer):
    expert = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class PlanProposalSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    refreshed = serializers.IntegerField()
    skipped_closed = serializers.IntegerField()
    rules_version = serializers.CharField()


class PlanMethodProgressSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Method.choices)
    planned_year = serializers.IntegerField()
    due_to_date = serializers.IntegerField()
    done_to_date = serializers.IntegerField()
    done_total = serializers.IntegerField()
    behind = serializers.BooleanField()


class PlanQuarterProgressSerializer(serializers.Serializer):
    quarter = serializers.IntegerField()
    planned = serializers.IntegerField()
    done = serializers.IntegerField()
    ended = serializers.BooleanField()


class PlanEntryProgressSerializer(serializers.Serializer):
    entry = serializers.IntegerField(source="entry.pk")
    mine = serializers.IntegerField(source="mine.pk")
    mine_name = serializers.CharField(source="mine.name")
    planned_year = serializers.IntegerField()
    due_to_date = serializers.IntegerField()
    done_to_date = serializers.IntegerField()
    done_year = serializers.IntegerField()
    by_method = serializers.DictField(child=serializers.IntegerField())
    method_due = serializers.DictField(child=serializers.IntegerField())
    behind_methods = serializers.ListField(child=serializers.CharField())
    behind = serializers.BooleanField()
    last_visit = serializers.DateField(allow_null=True)


class PlanProgressSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(source="organisation.pk")
    organisation_name = serializers.CharField(source="organisation.name")
    year = serializers.IntegerField()
    until = serializers.DateField()
    plan = serializers.IntegerField(source="plan.pk", allow_null=True, default=None)
    status = serializers.CharField()
    planned_year = serializers.IntegerField()
    planned_to_date = serializers.IntegerField()
    done_to_date = serializers.IntegerField()
    done_year = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    unplanned = serializers.IntegerField()
    by_method = PlanMethodProgressSerializer(many=True)
    by_quarter = PlanQuarterProgressSerializer(many=True)
    entries_behind = PlanEntryProgressSerializer(many=True)


class PlanProgressDetailSerializer(PlanProgressSerializer):
    entries = PlanEntryProgressSerializer(many=True)


# Filters -----------------------------------------------------------------------------------------
class PlanFilterSet(django_filters.FilterSet):
    organisation = IdFilter(field_name="organisation_id")
    year = django_filters.NumberFilter()
    status = django_filters.ChoiceFilter(choices=InspectionPlan.Status.choices)

    class Meta:
        model = InspectionPlan
        fields = ["organisation", "year", "status"]


class EntryFilterSet(django_filters.FilterSet):
    plan = IdFilter(field_name="plan_id")
    mine = IdFilter(field_name="mine_id")
    organisation = IdFilter(field_name="plan__organisation_id")
    year = django_filters.NumberFilter(field_name="plan__year")

    class Meta:
        model = PlanEntry
        fields = ["plan", "mine", "organisation", "year"]


# Viewsets ----------------------------------------------------------------------------------------
class InspectionPlanViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = InspectionPlan.objects.select_related("organisation")
    serializer_class = InspectionPlanSerializer
    filterset_class = PlanFilterSet
    ordering_fields = ["year", "status"]

    def get_queryset(self):
        queryset = super().get_queryset().annotate(entry_count=Count("entries", distinct=True),
                                                   total_visits=Sum("entries__visits_per_year"))
        if self.action != "list":
            queryset = queryset.prefetch_related("entries__mine__county", "entries__plan__organisation",
                                                 "experts__entry", "amendments__made_by")
        return queryset.order_by("-year", "organisation__kind", "organisation__region__code")

    def get_serializer_class(self):
        if self.action == "create":
            return PlanCreateSerializer
        return InspectionPlanSerializer if self.action == "list" else InspectionPlanDetailSerializer

    def _answer(self, plan, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=plan.pk)
        return Response(InspectionPlanDetailSerializer(fresh, context=self.get_serializer_context()).data,
                        status=code)

    @extend_schema(request=PlanCreateSerializer, responses={201: InspectionPlanDetailSerializer})
    def create(self, request, *args, **kwargs):
        """A new draft plan for a body and year, proposed from the ledger unless `propose` is false."""
        data = valid(PlanCreateSerializer(data=request.data, context=self.get_serializer_context()))
        plan = services.create_plan(request.user, data["organisation"], data["year"], propose=data["propose"],
                                    note=data["note"])
        return self._answer(plan, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PlanProposalSerializer)
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        """Add the mines the frequency rules give visits to; refresh the proposal on the others."""
        result = services.propose_entries(request.user, self.get_object())
        return Response(PlanProposalSerializer(result).data)

    @extend_schema(request=PlanEntryInputSerializer, responses=PlanEntrySerializer)
    @action(detail=True, methods=["post"], serializer_class=PlanEntryInputSerializer)
    def entries(self, request, pk=None):
        """Add or change the entry of a mine (in an approved plan: an amendment, `reason` required)."""
        plan = self.get_object()
        data = valid(PlanEntryInputSerializer(data=request.data, context=self.get_serializer_context()))
        entry = services.set_entry(request.user, plan, data["mine"], visits_per_year=data["visits_per_year"],
                                   method_minimums=data["method_minimums"], note=data["note"],
                                   reason=data["reason"])
        entry = PlanEntry.objects.select_related("mine__county", "plan__organisation").get(pk=entry.pk)
        return Response(PlanEntrySerializer(entry).data)

    @extend_schema(request=PlanRemoveEntrySerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="remove-entry", serializer_class=PlanRemoveEntrySerializer)
    def remove_entry(self, request, pk=None):
        """Take a mine out of the plan (in an approved plan: an amendment, `reason` required)."""
        plan = self.get_object()
        data = valid(PlanRemoveEntrySerializer(data=request.data))
        entry = plan.entries.select_related("mine").filter(pk=data["entry"]).first()
        if entry is None:
            raise DRFValidationError({"entry": ["not an entry of this plan"]})
        services.remove_entry(request.user, entry, reason=data["reason"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PlanExpertInputSerializer, responses={201: PlanExpertSerializer})
    @action(detail=True, methods=["post"], serializer_class=PlanExpertInputSerializer)
    def experts(self, request, pk=None):
        """Name an expert or technical inspector for an entry or for a quarter."""
        plan = self.get_object()
        data = valid(PlanExpertInputSerializer(data=request.data))
        entry = None
        if data["entry"] is not None:
            entry = plan.entries.select_related("mine").filter(pk=data["entry"]).first()
            if entry is None:
                raise DRFValidationError({"entry": ["not an entry of this plan"]})
        expert = services.add_expert(request.user, plan, kind=data["kind"], user=data["user"], name=data["name"],
                                     speciality=data["speciality"], entry=entry, quarter=data["quarter"])
        return Response(PlanExpertSerializer(expert).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanRemoveExpertSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="remove-expert", serializer_class=PlanRemoveExpertSerializer)
    def remove_expert(self, request, pk=None):
        plan = self.get_object()
        data = valid(PlanRemoveExpertSerializer(data=request.data))
        expert = plan.experts.filter(pk=data["expert"]).first()
        if expert is None:
            raise DRFValidationError({"expert": ["not an expert of this plan"]})
        services.remove_expert(request.user, expert)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=InspectionPlanDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """draft or returned -> submitted (the body's staff)."""
        plan = self.get_object()
        services.submit_plan(request.user, plan)
        return self._answer(plan)

    @extend_schema(request=None, responses=InspectionPlanDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """submitted -> approved (the city)."""
        plan = self.get_object()
        services.approve_plan(request.user, plan)
        return self._answer(plan)

    @extend_schema(request=PlanReturnSerializer, responses=InspectionPlanDetailSerializer)
    @action(detail=True, methods=["post"], url_path="return", serializer_class=PlanReturnSerializer)
    def return_plan(self, request, pk=None):
        """submitted -> returned with the reason (the city)."""
        plan = self.get_object()
        services.return_plan(request.user, plan, reason=valid(PlanReturnSerializer(data=request.data))["reason"])
        return self._answer(plan)

    @extend_schema(parameters=[OpenApiParameter("until", OpenApiTypes.DATE, description="default today")],
                   responses=PlanProgressDetailSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Done against due, per entry, method and quarter, up to `until`."""
        plan = self.get_object()
        return Response(PlanProgressDetailSerializer(services.progress_for_plan(plan, until_param(request,
                                                                                                  plan.year))).data)

    @extend_schema(parameters=[OpenApiParameter("year", OpenApiTypes.INT, description="default this year"),
                               OpenApiParameter("until", OpenApiTypes.DATE, description="default today")],
                   responses=PlanProgressSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def overview(self, request):
        """Every plan of the year the caller sees, side by side (the city: every body, with or without a plan)."""
        value = request.query_params.get("year") or str(timezone.localdate().year)
        if not value.isdigit() or not 2000 <= int(value) <= timezone.localdate().year + 1:
            raise DRFValidationError({"year": ["give a year from 2000 to next year"]})
        year = int(value)
        rows = services.progress_overview(request.user, year, until_param(request, year))
        return Response(PlanProgressSerializer(rows, many=True).data)


class PlanEntryViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PlanEntry.objects.select_related("mine__county", "plan__organisation")
    serializer_class = PlanEntrySerializer
    filterset_class = EntryFilterSet
    ordering_fields = ["visits_per_year"]
