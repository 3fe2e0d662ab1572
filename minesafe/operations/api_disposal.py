"""REST API of the census and disposal part: scoped reads, every change a POST through the services.

Censuses (with their factors), disposal decisions, tailings-pond closure plans and upgrade projects; plus
the pond-closure progress against the plan's targets and the census precondition of a mine. A record
outside the caller's scope is 404; a mine outside it is "does not exist".
"""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedReadOnlyViewSet, ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.registry.models import Mine

from . import census as census_services
from . import disposal
from .models import Census, DisposalDecision, HiddenFactor, PondClosurePlan, UpgradeProject


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class VisibleMineSerializerMixin:
    """The `mine_field` accepts only mines the caller can see: any other is "does not exist"."""

    mine_field = "mine"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and self.mine_field in self.fields:
            self.fields[self.mine_field].queryset = Mine.objects.visible_to(request.user)


# Serializers -------------------------------------------------------------------------------------
# One serializer per model for reading and creating (read-only fields ignored on input), so each choice set
# is documented once.
class HiddenFactorSerializer(serializers.ModelSerializer):
    class Meta:
        model = HiddenFactor
        fields = ["id", "census", "kind", "location", "description", "treatment", "treatment_note", "treated_on"]
        read_only_fields = ["id", "census", "treatment", "treatment_note", "treated_on"]


class CensusSerializer(VisibleMineSerializerMixin, serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    factors = HiddenFactorSerializer(many=True, read_only=True)

    class Meta:
        model = Census
        fields = ["id", "mine", "mine_name", "county", "provider", "scope_years", "started_on", "completed_on",
                  "status", "report_summary", "falsification_note", "accountability", "factors", "created_at"]
        read_only_fields = ["id", "completed_on", "status", "report_summary", "falsification_note",
                            "accountability", "created_at"]
        extra_kwargs = {"scope_years": {"min_value": 0, "max_value": 100}}


class TreatmentSerializer(serializers.Serializer):
    treatment = serializers.ChoiceField(choices=HiddenFactor.Treatment.choices)
    treated_on = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CensusCompleteSerializer(serializers.Serializer):
    completed_on = serializers.DateField()
    report_summary = serializers.CharField(allow_blank=True)


class CensusFalsifySerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True)
    accountability = serializers.CharField(allow_blank=True)


class CensusCheckSerializer(serializers.Serializer):
    mine = serializers.IntegerField()
    passed = serializers.BooleanField()
    reason = serializers.CharField()


class DisposalDecisionSerializer(VisibleMineSerializerMixin, serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    ground = serializers.CharField(max_length=40, help_text="a code of the catalogue's disposal grounds")
    ground_label = serializers.SerializerMethodField()
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = DisposalDecision
        fields = ["id", "mine", "mine_name", "county", "category", "ground", "ground_label", "ground_detail",
                  "status", "deadline", "is_overdue", "decided_on", "decision_ref", "completed_on", "follow_up",
                  "created_at"]
        read_only_fields = ["id", "status", "decided_on", "decision_ref", "completed_on", "follow_up", "created_at"]
        extra_kwargs = {"ground_detail": {"allow_blank": True}}

    def get_ground_label(self, obj) -> str:
        if "_labels" not in self.__dict__:  # one catalogue read per response (the child serves every row)
            self._labels = disposal.ground_labels()
        return disposal.ground_label(obj.ground, self._labels)

    def get_is_overdue(self, obj) -> bool:
        return disposal.decision_overdue(obj)


class DecideSerializer(serializers.Serializer):
    decided_on = serializers.DateField()
    decision_ref = serializers.CharField(allow_blank=True)


class DecisionCompleteSerializer(serializers.Serializer):
    completed_on = serializers.DateField()
    follow_up = serializers.CharField(allow_blank=True)
    close_mine = serializers.BooleanField(required=False, default=False,
                                          help_text="close the mine in the registry (closures only)")


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class CountyCountSerializer(serializers.Serializer):
    county_code = serializers.CharField()
    county_name = serializers.CharField()
    total = serializers.IntegerField()
    close = serializers.IntegerField()
    consolidate = serializers.IntegerField()
    upgrade = serializers.IntegerField()
    open = serializers.IntegerField()
    completed = serializers.IntegerField()
    revoked = serializers.IntegerField()
    overdue = serializers.IntegerField()


class PondClosurePlanSerializer(VisibleMineSerializerMixin, serializers.ModelSerializer):
    mine_field = "pond"
    pond = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    pond_name = serializers.CharField(source="pond.name", read_only=True)
    county = serializers.CharField(source="pond.county.code", read_only=True)

    class Meta:
        model = PondClosurePlan
        fields = ["id", "pond", "pond_name", "county", "target_year", "status", "design_ref", "works_started_on",
                  "closed_on", "note"]
        read_only_fields = ["id", "status", "works_started_on", "closed_on"]
        extra_kwargs = {"target_year": {"min_value": 0, "max_value": 9999}}


class WorksStartSerializer(serializers.Serializer):
    works_started_on = serializers.DateField()


class PondCloseSerializer(serializers.Serializer):
    closed_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PondYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    target = serializers.IntegerField(allow_null=True)
    planned = serializers.IntegerField()
    closed = serializers.IntegerField()
    cumulative_target = serializers.IntegerField(allow_null=True)
    cumulative_closed = serializers.IntegerField()


class PondCountySerializer(serializers.Serializer):
    county_code = serializers.CharField()
    county_name = serializers.CharField()
    planned = serializers.DictField(child=serializers.IntegerField(), help_text="year -> plans targeting it")
    closed = serializers.DictField(child=serializers.IntegerField(), help_text="year -> ponds closed in it")
    total_plans = serializers.IntegerField()
    total_closed = serializers.IntegerField()


class PondProgressSerializer(serializers.Serializer):
    eligible = serializers.IntegerField()
    target_total = serializers.IntegerField()
    plans = serializers.IntegerField()
    closed = serializers.IntegerField()
    years = PondYearSerializer(many=True)
    counties = PondCountySerializer(many=True)


class UpgradeProjectSerializer(VisibleMineSerializerMixin, serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    unifications = serializers.ListField(child=serializers.CharField(max_length=32), required=False, default=list,
                                         help_text="codes of the catalogue's five unifications (consolidation)")
    is_overdue = serializers.SerializerMethodField()
    design_capacity = serializers.DecimalField(source="mine.design_capacity", max_digits=10, decimal_places=2,
                                               read_only=True, allow_null=True)
    above_capacity_threshold = serializers.SerializerMethodField()

    class Meta:
        model = UpgradeProject
        fields = ["id", "mine", "mine_name", "county", "kind", "description", "partners", "unifications",
                  "deadline", "status", "is_overdue", "completed_on", "progress", "design_capacity",
                  "above_capacity_threshold"]
        read_only_fields = ["id", "status", "completed_on", "progress"]
        extra_kwargs = {"description": {"allow_blank": True}}

    def get_is_overdue(self, obj) -> bool:
        return disposal.project_overdue(obj)

    def get_above_capacity_threshold(self, obj) -> bool | None:
        """Design capacity at or above the task-12 threshold; null when not recorded (depth is not in the ledger)."""
        if "_limits" not in self.__dict__:  # one catalogue read per response (the child serves every row)
            self._limits = disposal.upgrade_thresholds()
        return disposal.threshold_check(obj.mine, self._limits).above_capacity


class ProjectStepSerializer(serializers.Serializer):
    progress = serializers.CharField(required=False, allow_blank=True, default="")
    unifications = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                         allow_null=True, default=None)


class ProjectCompleteSerializer(ProjectStepSerializer):
    completed_on = serializers.DateField()


# Filters -----------------------------------------------------------------------------------------
class OverdueFilterMixin:
    overdue_q = None

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        q = type(self).overdue_q()
        return queryset.filter(q) if value else queryset.exclude(q)


class DisposalDecisionFilterSet(OverdueFilterMixin, django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    category = django_filters.ChoiceFilter(choices=DisposalDecision.Category.choices)
    status = django_filters.ChoiceFilter(choices=DisposalDecision.Status.choices)
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    overdue_q = staticmethod(disposal.overdue_decisions_q)

    class Meta:
        model = DisposalDecision
        fields = ["mine", "county", "category", "status", "overdue"]


class UpgradeProjectFilterSet(OverdueFilterMixin, django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    kind = django_filters.ChoiceFilter(choices=UpgradeProject.Kind.choices)
    status = django_filters.ChoiceFilter(choices=UpgradeProject.Status.choices)
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    overdue_q = staticmethod(disposal.overdue_projects_q)

    class Meta:
        model = UpgradeProject
        fields = ["mine", "county", "kind", "status", "overdue"]


class CensusFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    status = django_filters.ChoiceFilter(choices=Census.Status.choices)

    class Meta:
        model = Census
        fields = ["mine", "county", "status"]


class PondClosurePlanFilterSet(django_filters.FilterSet):
    pond = IdFilter(field_name="pond_id")
    county = django_filters.CharFilter(field_name="pond__county__code")
    status = django_filters.ChoiceFilter(choices=PondClosurePlan.Status.choices)
    target_year = django_filters.NumberFilter()

    class Meta:
        model = PondClosurePlan
        fields = ["pond", "county", "status", "target_year"]


# Viewsets ----------------------------------------------------------------------------------------
class CreateScopedViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List and read in scope; POST to the list creates through `perform_service_create`."""

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        obj = self.service_create(data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def service_create(self, data: dict):
        raise NotImplementedError

    def step(self, call, serializer_class):
        """Run one transition on the object in scope with the posted data; answer the object as it is now."""
        obj = self.get_object()
        call(obj, **valid(serializer_class(data=self.request.data)))
        return Response(self.get_serializer(obj).data)


class CensusViewSet(CreateScopedViewSet):
    """Hidden-factor censuses (隐蔽致灾因素普查). POST opens one (the mine's enterprise, its county, the city)."""

    queryset = Census.objects.select_related("mine__county").prefetch_related("factors")
    serializer_class = CensusSerializer
    filterset_class = CensusFilterSet
    ordering_fields = ["started_on", "completed_on"]

    def service_create(self, data):
        return census_services.open_census(self.request.user, data["mine"], provider=data["provider"],
                                           scope_years=data["scope_years"], started_on=data["started_on"])

    @extend_schema(request=HiddenFactorSerializer, responses={201: HiddenFactorSerializer})
    @action(detail=True, methods=["post"])
    def factors(self, request, pk=None):
        """Record a factor found (while the census is in progress)."""
        census = self.get_object()
        data = valid(HiddenFactorSerializer(data=request.data))
        factor = census_services.add_factor(request.user, census, kind=data["kind"], location=data["location"],
                                            description=data["description"])
        return Response(HiddenFactorSerializer(factor).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CensusCompleteSerializer, responses=CensusSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self.step(lambda c, **d: census_services.complete_census(request.user, c, **d),
                         CensusCompleteSerializer)

    @extend_schema(request=CensusFalsifySerializer, responses=CensusSerializer)
    @action(detail=True, methods=["post"])
    def falsify(self, request, pk=None):
        """Find a completed census falsified (the county or the city): the offence is recorded, a redo required."""
        return self.step(lambda c, **d: census_services.mark_falsified(request.user, c, **d),
                         CensusFalsifySerializer)

    @extend_schema(parameters=[OpenApiParameter("mine", int, required=True)], responses=CensusCheckSerializer)
    @action(detail=False, methods=["get"])
    def check(self, request):
        """The resumption precondition for a mine in scope: latest census completed and all factors treated."""
        try:
            mine_id = int(request.query_params.get("mine", ""))
        except ValueError:
            raise serializers.ValidationError({"mine": ["give a mine id"]}) from None
        mine = get_object_or_404(Mine.objects.visible_to(request.user), pk=mine_id)
        passed, reason = census_services.census_treated(mine)
        return Response(CensusCheckSerializer({"mine": mine.pk, "passed": passed, "reason": reason}).data)


class HiddenFactorViewSet(ScopedReadOnlyViewSet):
    queryset = HiddenFactor.objects.select_related("census__mine")
    serializer_class = HiddenFactorSerializer
    filterset_fields = ["census", "kind", "treatment"]

    @extend_schema(request=TreatmentSerializer, responses=HiddenFactorSerializer)
    @action(detail=True, methods=["post"])
    def treatment(self, request, pk=None):
        """Move the treatment forward (untreated -> treating -> treated; treated needs treated_on)."""
        factor = self.get_object()
        data = valid(TreatmentSerializer(data=request.data))
        census_services.set_treatment(request.user, factor, data["treatment"], treated_on=data["treated_on"],
                                      note=data["note"])
        return Response(HiddenFactorSerializer(factor).data)


class DisposalDecisionViewSet(CreateScopedViewSet):
    """Disposal of unsafe mines (分类处置, 三个一批). POST proposes (the mine's county or the city)."""

    queryset = DisposalDecision.objects.select_related("mine__county")
    serializer_class = DisposalDecisionSerializer
    filterset_class = DisposalDecisionFilterSet
    ordering_fields = ["deadline", "created_at"]

    def service_create(self, data):
        return disposal.propose_decision(self.request.user, data["mine"], category=data["category"],
                                         ground=data["ground"], ground_detail=data["ground_detail"],
                                         deadline=data["deadline"])

    @extend_schema(request=DecideSerializer, responses=DisposalDecisionSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        return self.step(lambda d, **kw: disposal.decide(request.user, d, **kw), DecideSerializer)

    @extend_schema(request=DecisionCompleteSerializer, responses=DisposalDecisionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self.step(lambda d, **kw: disposal.complete_decision(request.user, d, **kw),
                         DecisionCompleteSerializer)

    @extend_schema(request=RevokeSerializer, responses=DisposalDecisionSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return self.step(lambda d, **kw: disposal.revoke_decision(request.user, d, **kw), RevokeSerializer)

    @extend_schema(responses=CountyCountSerializer(many=True))
    @action(detail=False, methods=["get"])
    def counties(self, request):
        """Per county counts of the filtered decisions: by category, open, completed, revoked, overdue."""
        rows = disposal.county_counts(self.filter_queryset(self.get_queryset()))
        return Response(CountyCountSerializer(rows, many=True).data)


class PondClosurePlanViewSet(CreateScopedViewSet):
    """Tailings-pond closure plans (闭库). POST plans one (tailings ponds only; the county or the city)."""

    queryset = PondClosurePlan.objects.select_related("pond__county")
    serializer_class = PondClosurePlanSerializer
    filterset_class = PondClosurePlanFilterSet
    ordering_fields = ["target_year", "closed_on"]

    def service_create(self, data):
        return disposal.plan_pond_closure(self.request.user, data["pond"], target_year=data["target_year"],
                                          design_ref=data.get("design_ref", ""), note=data.get("note", ""))

    @extend_schema(request=WorksStartSerializer, responses=PondClosurePlanSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self.step(lambda p, **kw: disposal.start_pond_works(request.user, p, **kw), WorksStartSerializer)

    @extend_schema(request=PondCloseSerializer, responses=PondClosurePlanSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Closure accepted (闭库验收): the pond's status in the registry becomes closed."""
        return self.step(lambda p, **kw: disposal.close_pond(request.user, p, **kw), PondCloseSerializer)

    @extend_schema(responses=PondProgressSerializer)
    @action(detail=False, methods=["get"])
    def progress(self, request):
        """Progress against the plan's yearly targets, counted over the plans in the caller's scope."""
        result = disposal.pond_progress(self.get_queryset())
        return Response(PondProgressSerializer(result).data)


class UpgradeProjectViewSet(CreateScopedViewSet):
    """Consolidation (整合重组, 五统一) and upgrade projects (task 12-13). POST tracks one (the county or city)."""

    queryset = UpgradeProject.objects.select_related("mine__county")
    serializer_class = UpgradeProjectSerializer
    filterset_class = UpgradeProjectFilterSet
    ordering_fields = ["deadline"]

    def service_create(self, data):
        return disposal.create_project(self.request.user, data["mine"], kind=data["kind"],
                                       description=data["description"], deadline=data["deadline"],
                                       partners=data.get("partners", ""), unifications=data.get("unifications", []))

    @extend_schema(request=ProjectStepSerializer, responses=UpgradeProjectSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self.step(lambda p, **kw: disposal.start_project(request.user, p, **kw), ProjectStepSerializer)

    @extend_schema(request=ProjectStepSerializer, responses=UpgradeProjectSerializer)
    @action(detail=True, methods=["post"], url_path="record-progress")
    def record_progress(self, request, pk=None):
        return self.step(lambda p, **kw: disposal.record_progress(request.user, p, **kw), ProjectStepSerializer)

    @extend_schema(request=ProjectCompleteSerializer, responses=UpgradeProjectSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self.step(lambda p, **kw: disposal.complete_project(request.user, p, **kw),
                         ProjectCompleteSerializer)
