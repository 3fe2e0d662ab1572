"""REST API of the accident part: scoped reads, every change a POST through accidents.py.

Accidents (with their findings and tasks; POST to the list reports one), follow-up tasks, and the case
library (read-only, every signed-in user). A record outside the caller's scope is 404; a mine outside it is
"does not exist".
"""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.registry.models import Mine

from . import accidents as services
from .models import Accident, AccidentCase, AccidentGrade, AccidentKind, FollowUpTask, InvestigationFinding


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Serializers -------------------------------------------------------------------------------------
class FindingSerializer(serializers.ModelSerializer):
    recorded_by = serializers.StringRelatedField()

    class Meta:
        model = InvestigationFinding
        fields = ["aspect", "text", "recorded_by", "recorded_at"]


class FollowUpTaskSerializer(serializers.ModelSerializer):
    assignee_name = serializers.CharField(source="assignee.name", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = FollowUpTask
        fields = ["id", "mine", "mine_name", "accident", "kind", "level", "assignee", "assignee_name", "title",
                  "detail", "due_on", "is_overdue", "done_at", "done_note", "created_at"]
        read_only_fields = fields


class AccidentSerializer(serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    missing_findings = serializers.SerializerMethodField()
    tasks = FollowUpTaskSerializer(many=True, read_only=True)
    # Plain numbers here: the service refuses negatives and non-integers with its own field messages.
    deaths = serializers.IntegerField(required=False, default=0)
    serious_injuries = serializers.IntegerField(required=False, default=0)
    minor_injuries = serializers.IntegerField(required=False, default=0)
    direct_loss = serializers.DecimalField(max_digits=20, decimal_places=2, required=False, default=0)

    class Meta:
        model = Accident
        fields = ["id", "mine", "mine_name", "county", "occurred_at", "place", "kind", "is_near_miss", "deaths",
                  "serious_injuries", "minor_injuries", "direct_loss", "summary", "parent_company", "grade",
                  "status", "reporter", "reported_at", "investigation_started_at", "concluded_at", "closed_at",
                  "closure_note", "findings", "missing_findings", "tasks"]
        read_only_fields = ["id", "grade", "status", "reporter", "reported_at", "investigation_started_at",
                            "concluded_at", "closed_at", "closure_note"]
        extra_kwargs = {"summary": {"allow_blank": True}, "place": {"allow_blank": True}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["mine"].queryset = Mine.objects.visible_to(request.user)

    def get_missing_findings(self, obj) -> list[str]:
        recorded = {f.aspect for f in obj.findings.all()}
        return [a for a in InvestigationFinding.Aspect.values if a not in recorded]


class AmendSerializer(serializers.Serializer):
    deaths = serializers.IntegerField()
    serious_injuries = serializers.IntegerField()
    minor_injuries = serializers.IntegerField()
    direct_loss = serializers.DecimalField(max_digits=20, decimal_places=2)
    reason = serializers.CharField(allow_blank=True)


class FindingInputSerializer(serializers.Serializer):
    aspect = serializers.ChoiceField(choices=InvestigationFinding.Aspect.choices)
    text = serializers.CharField(allow_blank=True)


class CloseSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LibrarySerializer(serializers.Serializer):
    title = serializers.CharField(allow_blank=True)
    lessons = serializers.CharField(allow_blank=True)


class TaskDoneSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True)


class SuspendSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class AccidentCaseSerializer(serializers.ModelSerializer):
    date_display = serializers.CharField(read_only=True)

    class Meta:
        model = AccidentCase
        fields = ["id", "source", "title", "occurred_on", "date_precision", "date_display", "place", "kind",
                  "source_type", "deaths", "narrative", "lessons", "references", "accident"]
        read_only_fields = fields


# Filters -----------------------------------------------------------------------------------------
class AccidentFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    status = django_filters.ChoiceFilter(choices=Accident.Status.choices)
    grade = django_filters.ChoiceFilter(choices=AccidentGrade.choices)
    kind = django_filters.ChoiceFilter(choices=AccidentKind.choices)
    is_near_miss = django_filters.BooleanFilter()

    class Meta:
        model = Accident
        fields = ["mine", "county", "status", "grade", "kind", "is_near_miss"]


class TaskFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    accident = IdFilter(field_name="accident_id")
    kind = django_filters.ChoiceFilter(choices=FollowUpTask.Kind.choices)
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = FollowUpTask
        fields = ["mine", "accident", "kind", "done"]


class CaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", help_text="words, each found in the title, place or narrative")
    kind = django_filters.ChoiceFilter(choices=AccidentKind.choices)
    source = django_filters.ChoiceFilter(choices=AccidentCase.Source.choices)
    year_from = django_filters.NumberFilter(field_name="occurred_on__year", lookup_expr="gte")
    year_to = django_filters.NumberFilter(field_name="occurred_on__year", lookup_expr="lte")

    class Meta:
        model = AccidentCase
        fields = ["q", "kind", "source", "year_from", "year_to"]

    def search(self, queryset, name, value):
        for word in value.split()[:8]:
            queryset = queryset.filter(Q(title__icontains=word) | Q(place__icontains=word)
                                       | Q(narrative__icontains=word) | Q(lessons__icontains=word))
        return queryset


# Viewsets ----------------------------------------------------------------------------------------
class AccidentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Accident.objects.select_related("mine__county").prefetch_related("findings__recorded_by",
                                                                                  "tasks__assignee", "tasks__mine")
    serializer_class = AccidentSerializer
    filterset_class = AccidentFilterSet
    ordering_fields = ["occurred_at", "reported_at"]

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        accident = services.report_accident(
            request.user, data.pop("mine"), occurred_at=data["occurred_at"], place=data.get("place", ""),
            kind=data["kind"], summary=data.get("summary", ""), deaths=data["deaths"],
            serious_injuries=data["serious_injuries"], minor_injuries=data["minor_injuries"],
            direct_loss=data["direct_loss"], is_near_miss=data.get("is_near_miss", False),
            parent_company=data.get("parent_company", ""))
        return Response(self.get_serializer(self.get_queryset().get(pk=accident.pk)).data,
                        status=status.HTTP_201_CREATED)

    def _answer(self, accident):
        fresh = self.get_queryset().get(pk=accident.pk)
        return Response(AccidentSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(request=AmendSerializer, responses=AccidentSerializer)
    @action(detail=True, methods=["post"], serializer_class=AmendSerializer)
    def amend(self, request, pk=None):
        """Correct the casualties and loss before the investigation concludes (the grade is recomputed)."""
        accident = self.get_object()
        data = valid(AmendSerializer(data=request.data))
        services.amend_casualties(request.user, accident, **data)
        return self._answer(accident)

    @extend_schema(request=None, responses=AccidentSerializer)
    @action(detail=True, methods=["post"])
    def investigate(self, request, pk=None):
        """reported -> investigating (the mine's county or the city)."""
        accident = self.get_object()
        services.start_investigation(request.user, accident)
        return self._answer(accident)

    @extend_schema(request=FindingInputSerializer, responses=AccidentSerializer)
    @action(detail=True, methods=["post"], serializer_class=FindingInputSerializer)
    def findings(self, request, pk=None):
        """Record or revise one 四不放过 finding."""
        accident = self.get_object()
        data = valid(FindingInputSerializer(data=request.data))
        services.record_finding(request.user, accident, data["aspect"], data["text"])
        return self._answer(accident)

    @extend_schema(request=None, responses=AccidentSerializer)
    @action(detail=True, methods=["post"])
    def conclude(self, request, pk=None):
        """investigating -> concluded; refused (409) naming the findings still missing."""
        accident = self.get_object()
        services.conclude_investigation(request.user, accident)
        return self._answer(accident)

    @extend_schema(request=CloseSerializer, responses=AccidentSerializer)
    @action(detail=True, methods=["post"], serializer_class=CloseSerializer)
    def close(self, request, pk=None):
        """concluded -> closed; refused (409) naming the findings still missing."""
        accident = self.get_object()
        services.close_accident(request.user, accident, note=valid(CloseSerializer(data=request.data))["note"])
        return self._answer(accident)

    @extend_schema(request=LibrarySerializer, responses={201: AccidentCaseSerializer})
    @action(detail=True, methods=["post"], url_path="add-to-library", serializer_class=LibrarySerializer)
    def add_to_library(self, request, pk=None):
        """A concluded accident becomes a case of the library."""
        accident = self.get_object()
        case = services.add_to_library(request.user, accident, **valid(LibrarySerializer(data=request.data)))
        return Response(AccidentCaseSerializer(case).data, status=status.HTTP_201_CREATED)


class FollowUpTaskViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = FollowUpTask.objects.select_related("assignee", "mine")
    serializer_class = FollowUpTaskSerializer
    filterset_class = TaskFilterSet
    ordering_fields = ["due_on", "created_at"]

    def _answer(self, task):
        fresh = self.get_queryset().get(pk=task.pk)
        return Response(FollowUpTaskSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(request=TaskDoneSerializer, responses=FollowUpTaskSerializer)
    @action(detail=True, methods=["post"], serializer_class=TaskDoneSerializer)
    def done(self, request, pk=None):
        """Mark the task done with what was done (the responsible unit or the city)."""
        task = self.get_object()
        services.complete_task(request.user, task, note=valid(TaskDoneSerializer(data=request.data))["note"])
        return self._answer(task)

    @extend_schema(request=SuspendSerializer, responses=FollowUpTaskSerializer)
    @action(detail=True, methods=["post"], url_path="suspend-mine", serializer_class=SuspendSerializer)
    def suspend_mine(self, request, pk=None):
        """Carry out a suspension task: the mine is suspended in the registry and the task is done."""
        task = self.get_object()
        services.suspend_mine_for_task(request.user, task,
                                       reason=valid(SuspendSerializer(data=request.data))["reason"])
        return self._answer(task)


class AccidentCaseViewSet(viewsets.ReadOnlyModelViewSet):
    """The case library: readable by every signed-in user."""

    queryset = AccidentCase.objects.all()
    serializer_class = AccidentCaseSerializer
    filterset_class = CaseFilterSet
    ordering_fields = ["occurred_on", "deaths"]
