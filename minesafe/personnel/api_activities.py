"""REST API of drills, emergency plans, exams at inspection (逢查必考), the question bank, outsourced projects,
mining teams and the own-team share. Scoped reads; every change a POST (or PATCH for questions) through
activities.py. A record outside the caller's scope is 404; a mine or person outside it is "does not exist".
"""

import datetime as dt

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.registry.models import Mine

from . import activities as services
from .models import Drill, EmergencyPlan, Exam, ExamQuestion, MiningTeam, OutsourcedProject, Person


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def mine_param(request) -> Mine:
    """The `mine` query parameter: a mine in the caller's scope (404 otherwise)."""
    try:
        mine_id = int(request.query_params.get("mine", ""))
    except ValueError:
        raise serializers.ValidationError({"mine": ["give a mine id"]}) from None
    return get_object_or_404(Mine.objects.visible_to(request.user), pk=mine_id)


class VisibleMineSerializerMixin:
    """The `mine` field accepts only mines the caller can see: any other is "does not exist"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "mine" in self.fields and not self.fields["mine"].read_only:
            self.fields["mine"].queryset = Mine.objects.visible_to(request.user)


class MineFieldsMixin(VisibleMineSerializerMixin, serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)


# Drills and plans --------------------------------------------------------------------------------
class DrillSerializer(MineFieldsMixin):
    participants = serializers.IntegerField(min_value=1, max_value=100000)

    class Meta:
        model = Drill
        fields = ["id", "mine", "mine_name", "county", "kind", "held_on", "scenario", "participants", "evidence"]
        read_only_fields = ["id"]
        extra_kwargs = {"scenario": {"allow_blank": True}, "evidence": {"allow_blank": True}}


class DrillStatusSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    mine_code = serializers.CharField(source="mine.code")
    mine_name = serializers.CharField(source="mine.name")
    mine_type = serializers.CharField(source="mine.mine_type")
    last_drill = serializers.DateField(allow_null=True)
    due_on = serializers.DateField(allow_null=True)
    overdue = serializers.BooleanField()
    days_overdue = serializers.IntegerField()


class CountyDrillsSerializer(serializers.Serializer):
    county_code = serializers.CharField()
    county_name = serializers.CharField()
    mines = serializers.IntegerField(help_text="producing and construction mines in scope")
    overdue = DrillStatusSerializer(many=True)


class EmergencyPlanSerializer(MineFieldsMixin):
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = EmergencyPlan
        fields = ["id", "mine", "mine_name", "county", "title", "version", "revised_on", "next_revision_due",
                  "filed_with", "is_overdue"]
        read_only_fields = ["id"]
        extra_kwargs = {"title": {"allow_blank": True}, "version": {"allow_blank": True}}

    def get_is_overdue(self, obj) -> bool:
        return services.plan_overdue(obj)


class PlanStatusSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    mine_code = serializers.CharField(source="mine.code")
    mine_name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="mine.county.code")
    plan = EmergencyPlanSerializer(allow_null=True, read_only=True)
    missing = serializers.BooleanField()
    overdue = serializers.BooleanField()


# Exams -------------------------------------------------------------------------------------------
class OptionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=8)
    text = serializers.CharField()


class ExamQuestionSerializer(serializers.ModelSerializer):
    options = OptionSerializer(many=True)

    class Meta:
        model = ExamQuestion
        fields = ["id", "post", "text", "options", "answer", "active"]
        read_only_fields = ["id", "active"]
        extra_kwargs = {"post": {"allow_blank": True, "required": False, "help_text": "a catalogue post; blank: "
                                 "every post"}, "text": {"allow_blank": True}, "answer": {"allow_blank": True}}


class DrawnQuestionSerializer(serializers.ModelSerializer):
    """A question as the examiner reads it out: without its answer."""

    options = OptionSerializer(many=True)

    class Meta:
        model = ExamQuestion
        fields = ["id", "text", "options"]


class DrawRequestSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.none())
    post = serializers.CharField(required=False, allow_blank=True, default="",
                                 help_text="the post examined; blank: the person's only open post")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["person"].queryset = Person.objects.visible_to(request.user)


class DrawSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="give it back with the answers (valid for 4 hours, once)")
    person = serializers.IntegerField(source="person.pk")
    mine = serializers.IntegerField(source="mine.pk")
    post = serializers.CharField()
    questions = DrawnQuestionSerializer(many=True)


class AnswerSerializer(serializers.Serializer):
    question = serializers.IntegerField()
    given = serializers.CharField(max_length=8, allow_blank=True)


class ExamCreateSerializer(serializers.Serializer):
    token = serializers.CharField()
    answers = AnswerSerializer(many=True, help_text="one per drawn question; a question left out counts as wrong")
    inspection_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


class ExamSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    examiner_name = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()

    class Meta:
        model = Exam
        fields = ["id", "person", "person_name", "mine", "mine_name", "county", "post", "examiner",
                  "examiner_name", "held_on", "inspection_ref", "score", "passed", "answers"]
        read_only_fields = fields

    def get_examiner_name(self, obj) -> str:
        return obj.examiner.display_name or obj.examiner.username

    def get_answers(self, obj) -> list[dict] | None:
        """The questions as asked, with the answers given and the right ones: examiners only (null otherwise)."""
        request = self.context.get("request")
        if request is None or not services.may_see_answers(request.user, obj.mine):
            return None
        return obj.answers


class CheckSerializer(serializers.Serializer):
    mine = serializers.IntegerField()
    passed = serializers.BooleanField()
    reason = serializers.CharField()


class QuestionActiveSerializer(serializers.Serializer):
    active = serializers.BooleanField()


# Contractors and teams ---------------------------------------------------------------------------
class OutsourcedProjectSerializer(MineFieldsMixin):
    flags = serializers.SerializerMethodField()

    class Meta:
        model = OutsourcedProject
        fields = ["id", "mine", "mine_name", "county", "contractor", "contractor_credit_code", "qualification",
                  "qualification_expires_on", "scope", "underground", "labour_dispatch", "blasting", "start_date",
                  "end_date", "flags"]
        read_only_fields = ["id"]
        extra_kwargs = {"contractor": {"allow_blank": True}, "contractor_credit_code": {"allow_blank": True},
                        "qualification": {"allow_blank": True}, "scope": {"allow_blank": True}}

    def get_flags(self, obj) -> list[str]:
        return services.project_flags(obj)


class EndProjectSerializer(serializers.Serializer):
    end_date = serializers.DateField()


class MiningTeamSerializer(MineFieldsMixin):
    class Meta:
        model = MiningTeam
        fields = ["id", "mine", "mine_name", "county", "mode", "firm", "since", "evidence"]
        read_only_fields = ["id"]
        extra_kwargs = {"firm": {"allow_blank": True}, "evidence": {"allow_blank": True}}


class TeamGapSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    mine_code = serializers.CharField(source="mine.code")
    mine_name = serializers.CharField(source="mine.name")
    mode = serializers.CharField(help_text="blank: no statement")
    since = serializers.DateField(allow_null=True)


class ShareRowSerializer(serializers.Serializer):
    county_code = serializers.CharField(help_text="blank on the total row")
    county_name = serializers.CharField()
    producing = serializers.IntegerField()
    qualifying = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    meets = serializers.BooleanField(allow_null=True)
    holding_back = TeamGapSerializer(many=True)


class ShareReportSerializer(serializers.Serializer):
    on_date = serializers.DateField()
    target_date = serializers.DateField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    next_target_date = serializers.DateField(allow_null=True)
    next_target = serializers.FloatField(allow_null=True)
    counties = ShareRowSerializer(many=True)
    total = ShareRowSerializer()


# Filters -----------------------------------------------------------------------------------------
class MineCountyFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")


class DrillFilterSet(MineCountyFilterSet):
    kind = django_filters.ChoiceFilter(choices=Drill.Kind.choices)

    class Meta:
        model = Drill
        fields = ["mine", "county", "kind"]


class EmergencyPlanFilterSet(MineCountyFilterSet):
    class Meta:
        model = EmergencyPlan
        fields = ["mine", "county"]


class ExamFilterSet(MineCountyFilterSet):
    person = IdFilter(field_name="person_id")
    passed = django_filters.BooleanFilter()
    post = django_filters.CharFilter()

    class Meta:
        model = Exam
        fields = ["mine", "county", "person", "passed", "post"]


class OutsourcedProjectFilterSet(MineCountyFilterSet):
    class Meta:
        model = OutsourcedProject
        fields = ["mine", "county", "underground", "labour_dispatch", "blasting"]


class MiningTeamFilterSet(MineCountyFilterSet):
    mode = django_filters.ChoiceFilter(choices=MiningTeam.Mode.choices)

    class Meta:
        model = MiningTeam
        fields = ["mine", "county", "mode"]


# Viewsets ----------------------------------------------------------------------------------------
class CreateScopedViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List and read in scope; POST to the list creates through `service_create`."""

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        obj = self.service_create(data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def service_create(self, data: dict):
        raise NotImplementedError


class DrillViewSet(CreateScopedViewSet):
    """Drills. POST records one (the mine's enterprise, its county or the city)."""

    queryset = Drill.objects.select_related("mine__county")
    serializer_class = DrillSerializer
    filterset_class = DrillFilterSet
    ordering_fields = ["held_on"]

    def service_create(self, data):
        return services.record_drill(self.request.user, data["mine"], kind=data["kind"], held_on=data["held_on"],
                                     scenario=data["scenario"], participants=data["participants"],
                                     evidence=data["evidence"])

    @extend_schema(parameters=[OpenApiParameter("mine", int, required=True)], responses=DrillStatusSerializer)
    @action(detail=False, methods=["get"], url_path="status")
    def drill_status(self, request):
        """A mine's last evacuation drill and when the next is due."""
        return Response(DrillStatusSerializer(services.drill_status(mine_param(request))).data)

    @extend_schema(responses=CountyDrillsSerializer(many=True))
    @action(detail=False, methods=["get"])
    def overdue(self, request):
        """Per county in scope: producing and construction mines, and those whose evacuation drill is overdue."""
        return Response(CountyDrillsSerializer(services.overdue_drills(request.user), many=True).data)


class EmergencyPlanViewSet(CreateScopedViewSet):
    """Emergency plans (应急预案). POST records a revision (next_revision_due after revised_on)."""

    queryset = EmergencyPlan.objects.select_related("mine__county")
    serializer_class = EmergencyPlanSerializer
    filterset_class = EmergencyPlanFilterSet
    ordering_fields = ["revised_on", "next_revision_due"]

    def service_create(self, data):
        return services.record_plan(self.request.user, data["mine"], title=data["title"], version=data["version"],
                                    revised_on=data["revised_on"], next_revision_due=data["next_revision_due"],
                                    filed_with=data.get("filed_with", ""))

    @extend_schema(parameters=[OpenApiParameter("action", bool, description="only missing or overdue plans")],
                   responses=PlanStatusSerializer(many=True))
    @action(detail=False, methods=["get"])
    def overview(self, request):
        """Every producing or construction mine in scope with its current plan."""
        rows = services.plan_statuses(request.user)
        if request.query_params.get("action") in ("1", "true", "True"):
            rows = [r for r in rows if r.missing or r.overdue]
        return Response(PlanStatusSerializer(rows, many=True, context=self.get_serializer_context()).data)


class ExamViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Exams at inspection (逢查必考). POST /draw/ draws the questions for a person and post; POST to the list
    takes the exam with the draw's token and the answers (an inspector assigned to the mine, its county or the
    city). The answers as asked are shown to examiners only."""

    queryset = Exam.objects.select_related("person", "mine__county", "examiner")
    serializer_class = ExamSerializer
    filterset_class = ExamFilterSet
    ordering_fields = ["held_on", "score"]

    @extend_schema(request=ExamCreateSerializer, responses={201: ExamSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(ExamCreateSerializer(data=request.data))
        answers: dict[int, str] = {}
        for item in data["answers"]:
            if item["question"] in answers:
                raise serializers.ValidationError({"answers": [f"question {item['question']} answered twice"]})
            answers[item["question"]] = item["given"]
        exam = services.take_exam(request.user, data["token"], answers, inspection_ref=data["inspection_ref"])
        return Response(self.get_serializer(exam).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DrawRequestSerializer, responses={201: DrawSerializer})
    @action(detail=False, methods=["post"])
    def draw(self, request):
        """Draw the questions for examining a current key-post holder (without their answers)."""
        data = valid(DrawRequestSerializer(data=request.data, context=self.get_serializer_context()))
        drawn = services.draw_exam(request.user, data["person"], data["post"])
        return Response(DrawSerializer(drawn).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("mine", int, required=True)], responses=CheckSerializer)
    @action(detail=False, methods=["get"])
    def check(self, request):
        """The resumption checklist item for a mine in scope: the current five mine chiefs examined."""
        mine = mine_param(request)
        passed, reason = services.chiefs_examined(mine)
        return Response(CheckSerializer({"mine": mine.pk, "passed": passed, "reason": reason}).data)


class IsBankEditor(permissions.BasePermission):
    message = "only the city or a county may keep the question bank"

    def has_permission(self, request, view) -> bool:
        return services.may_edit_bank(request.user)


class ExamQuestionViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The question bank (the city and the counties only). POST adds, PUT/PATCH edits, POST /active/ takes a
    question out of use or back."""

    queryset = ExamQuestion.objects.all()
    serializer_class = ExamQuestionSerializer
    permission_classes = [permissions.IsAuthenticated, IsBankEditor]
    filterset_fields = ["post", "active"]

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        question = services.create_question(request.user, post=data.get("post", ""), text=data["text"],
                                            options=[dict(o) for o in data["options"]], answer=data["answer"])
        return Response(self.get_serializer(question).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        question = self.get_object()
        data = valid(self.get_serializer(question, data=request.data, partial=kwargs.get("partial", False)))
        services.update_question(
            request.user, question, post=data.get("post", question.post), text=data.get("text", question.text),
            options=[dict(o) for o in data["options"]] if "options" in data else question.options,
            answer=data.get("answer", question.answer))
        return Response(self.get_serializer(question).data)

    @extend_schema(request=QuestionActiveSerializer, responses=ExamQuestionSerializer)
    @action(detail=True, methods=["post"])
    def active(self, request, pk=None):
        question = self.get_object()
        data = valid(QuestionActiveSerializer(data=request.data))
        services.set_question_active(request.user, question, data["active"])
        return Response(self.get_serializer(question).data)


class OutsourcedProjectViewSet(CreateScopedViewSet):
    """Outsourced projects. POST records one (refused: expired qualification, labour dispatch underground,
    blasting outsourced by an underground mine)."""

    queryset = OutsourcedProject.objects.select_related("mine__county")
    serializer_class = OutsourcedProjectSerializer
    filterset_class = OutsourcedProjectFilterSet
    ordering_fields = ["start_date", "qualification_expires_on"]

    def service_create(self, data):
        return services.record_project(
            self.request.user, data["mine"], contractor=data["contractor"],
            contractor_credit_code=data["contractor_credit_code"], qualification=data["qualification"],
            qualification_expires_on=data["qualification_expires_on"], scope=data["scope"],
            underground=data.get("underground", False), labour_dispatch=data.get("labour_dispatch", False),
            blasting=data.get("blasting", False), start_date=data["start_date"], end_date=data.get("end_date"))

    @extend_schema(request=EndProjectSerializer, responses=OutsourcedProjectSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        project = self.get_object()
        services.end_project(request.user, project, **valid(EndProjectSerializer(data=request.data)))
        return Response(self.get_serializer(project).data)


class MiningTeamViewSet(CreateScopedViewSet):
    """How each mine's mining work is staffed. POST states it (creates or replaces the mine's statement)."""

    queryset = MiningTeam.objects.select_related("mine__county")
    serializer_class = MiningTeamSerializer
    filterset_class = MiningTeamFilterSet

    def service_create(self, data):
        return services.set_mining_team(self.request.user, data["mine"], mode=data["mode"],
                                        firm=data.get("firm", ""), since=data["since"],
                                        evidence=data.get("evidence", ""))

    @extend_schema(parameters=[OpenApiParameter("on", dt.date, description="the date (default today)")],
                   responses=ShareReportSerializer)
    @action(detail=False, methods=["get"])
    def share(self, request):
        """Per county in scope and in total: the share of producing mines with own teams or whole-mine
        management, against the plan's target in force on the date, with the mines holding it back."""
        raw = request.query_params.get("on", "")
        try:
            on_date = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise serializers.ValidationError({"on": ["give a date as YYYY-MM-DD"]}) from None
        return Response(ShareReportSerializer(services.own_team_share(request.user, on_date)).data)
