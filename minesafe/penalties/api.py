"""REST API of the penalty cases: scoped reads (a case outside the caller's scope is 404), POST to the list opens
a case, one POST per step through services.py, the Excel export and the decision document; the active
discretion benchmark for every reader and the zero-penalty table for the city. Departments are refused (403).
The person's ID number is masked in lists and for readers who may not see it."""

import datetime as dt

import django_filters
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.filters import IdFilter
from minesafe.core.scoping import is_city
from minesafe.registry.models import Mine

from . import benchmark, document, exports, services, zero
from .models import Challenge, Payment, PenaltyCase
from .views import READERS


class IsReader(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (is_city(user) or user.role in READERS))


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Serializers -------------------------------------------------------------------------------------
class CasePaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "target", "kind", "amount", "paid_on", "receipt_ref", "recorded_at"]
        read_only_fields = fields


class CaseChallengeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Challenge
        fields = ["id", "kind", "filed_on", "body", "concluded_on", "outcome", "note"]
        read_only_fields = fields


class PenaltyFineStateSerializer(serializers.Serializer):
    target = serializers.CharField()
    fine = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    outstanding = serializers.DecimalField(max_digits=12, decimal_places=2)
    late_fee = serializers.DecimalField(max_digits=12, decimal_places=2, source="late_fee.amount")
    late_fee_days = serializers.IntegerField(source="late_fee.days")
    late_fee_paused = serializers.BooleanField(source="late_fee.paused")
    late_fee_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    late_fee_due = serializers.DecimalField(max_digits=12, decimal_places=2)


class PenaltyCaseSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    person_id_number = serializers.SerializerMethodField(
        help_text="masked (region code and last four) in lists and unless the caller may see it")
    benchmark_version = serializers.CharField(source="benchmark.version", read_only=True, default=None)
    payments = CasePaymentSerializer(many=True, read_only=True)
    challenges = CaseChallengeSerializer(many=True, read_only=True)
    fines = serializers.SerializerMethodField()

    class Meta:
        model = PenaltyCase
        fields = ["id", "mine", "mine_name", "county", "organisation", "organisation_name", "status", "source",
                  "inspection", "finding_id", "tipoff", "accident", "violation_type", "facts", "legal_basis",
                  "circumstance", "factors", "opened_on", "notified_on", "proposed_enterprise_fine",
                  "proposed_person_fine", "hearing_right", "reply_due", "replied_on", "reply_statement",
                  "hearing_requested_on", "hearing_held_on", "hearing_note", "decision_no", "decided_on",
                  "enterprise_fine", "person_name", "person_role", "person_id_number", "person_annual_income",
                  "person_fine", "person_exemption", "person_exemption_note", "benchmark_version",
                  "benchmark_applied", "fine_reason", "served_on", "payment_due", "paid_on", "closed_on",
                  "close_note", "withdrawn_on", "withdraw_reason", "payments", "challenges", "fines"]
        read_only_fields = fields

    def get_person_id_number(self, obj) -> str:
        request = self.context.get("request")
        if self.context.get("reveal") and request is not None and services.may_see_personal(request.user, obj):
            return obj.person_id_number
        return services.masked_id(obj)

    @extend_schema_field(PenaltyFineStateSerializer(many=True))
    def get_fines(self, obj) -> list[dict]:
        if not obj.decided_on:
            return []
        return PenaltyFineStateSerializer(services.fine_states(obj), many=True).data


class PenaltyOpenSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    violation_type = serializers.CharField(allow_blank=True)
    facts = serializers.CharField(allow_blank=True)
    legal_basis = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                        help_text="keys of the legal-basis catalogue: at least one violated and one "
                                                  "penalty provision")
    source = serializers.ChoiceField(choices=PenaltyCase.Source.choices, default=PenaltyCase.Source.DIRECT)
    inspection = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    finding = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    tipoff = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    accident = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    opened_on = serializers.DateField(required=False, allow_null=True, default=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["mine"].queryset = Mine.objects.visible_to(request.user)


class PenaltyEditSerializer(serializers.Serializer):
    facts = serializers.CharField(required=False, allow_blank=True, default=None)
    legal_basis = serializers.ListField(child=serializers.CharField(), required=False, default=None)
    violation_type = serializers.CharField(required=False, default=None)


MONEY = {"max_digits": 14, "decimal_places": 2}


class PenaltyNotifySerializer(serializers.Serializer):
    circumstance = serializers.CharField(allow_blank=True)
    proposed_enterprise_fine = serializers.DecimalField(**MONEY)
    proposed_person_fine = serializers.DecimalField(required=False, allow_null=True, default=None, **MONEY)
    person_name = serializers.CharField(required=False, allow_blank=True, default="")
    person_role = serializers.CharField(required=False, allow_blank=True, default="")
    person_id_number = serializers.CharField(required=False, allow_blank=True, default="")
    notified_on = serializers.DateField(required=False, allow_null=True, default=None)


class PenaltyReplySerializer(serializers.Serializer):
    request_hearing = serializers.BooleanField(default=False)
    statement = serializers.CharField(required=False, allow_blank=True, default="")
    replied_on = serializers.DateField(required=False, allow_null=True, default=None)


class PenaltyHearingSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    note = serializers.CharField(allow_blank=True)


class PenaltyDecideSerializer(serializers.Serializer):
    circumstance = serializers.CharField(allow_blank=True)
    enterprise_fine = serializers.DecimalField(**MONEY)
    person_fine = serializers.DecimalField(required=False, allow_null=True, default=None, **MONEY)
    factors = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    person_name = serializers.CharField(required=False, allow_blank=True, default=None)
    person_role = serializers.CharField(required=False, allow_blank=True, default=None)
    person_id_number = serializers.CharField(required=False, allow_blank=True, default=None)
    person_annual_income = serializers.DecimalField(required=False, allow_null=True, default=None, **MONEY)
    person_exemption = serializers.CharField(required=False, allow_blank=True, default="")
    person_exemption_note = serializers.CharField(required=False, allow_blank=True, default="")
    fine_reason = serializers.CharField(required=False, allow_blank=True, default="")
    decided_on = serializers.DateField(required=False, allow_null=True, default=None)
    served_on = serializers.DateField(required=False, allow_null=True, default=None)


class PenaltyServeSerializer(serializers.Serializer):
    served_on = serializers.DateField()


class PenaltyPaymentSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=Payment.Target.choices)
    kind = serializers.ChoiceField(choices=Payment.Kind.choices, default=Payment.Kind.FINE)
    amount = serializers.DecimalField(**MONEY)
    paid_on = serializers.DateField()
    receipt_ref = serializers.CharField(allow_blank=True)


class PenaltyChallengeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Challenge.Kind.choices)
    filed_on = serializers.DateField()
    body = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PenaltyConcludeSerializer(serializers.Serializer):
    challenge = serializers.IntegerField(min_value=1)
    concluded_on = serializers.DateField()
    outcome = serializers.ChoiceField(choices=Challenge.Outcome.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PenaltyCloseSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PenaltyWithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


# Filters -----------------------------------------------------------------------------------------
class PenaltyCaseFilter(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    organisation = IdFilter(field_name="organisation_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    status = django_filters.ChoiceFilter(choices=PenaltyCase.Status.choices)
    source = django_filters.ChoiceFilter(choices=PenaltyCase.Source.choices)
    violation_type = django_filters.CharFilter()
    decided_from = django_filters.DateFilter(field_name="decided_on", lookup_expr="gte")
    decided_to = django_filters.DateFilter(field_name="decided_on", lookup_expr="lte")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = PenaltyCase
        fields = ["mine", "organisation", "county", "status", "source", "violation_type", "decided_from",
                  "decided_to", "overdue"]

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.payment_overdue()
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


# Viewsets ----------------------------------------------------------------------------------------
class PenaltyCaseViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PenaltyCaseSerializer
    permission_classes = [permissions.IsAuthenticated, IsReader]
    filterset_class = PenaltyCaseFilter
    search_fields = ["decision_no", "mine__name"]

    def get_queryset(self):
        return (PenaltyCase.objects.visible_to(self.request.user)
                .select_related("mine__county", "organisation", "benchmark")
                .prefetch_related("payments", "challenges").order_by("-opened_on", "-pk"))

    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        return Response(self.get_serializer(case, context={**self.get_serializer_context(), "reveal": True}).data)

    def _done(self, case, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=case.pk)
        context = {**self.get_serializer_context(), "reveal": True}
        return Response(PenaltyCaseSerializer(fresh, context=context).data, status=code)

    @extend_schema(request=PenaltyOpenSerializer, responses={201: PenaltyCaseSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(PenaltyOpenSerializer(data=request.data, context=self.get_serializer_context()))
        case = services.open_case(request.user, **data)
        return self._done(case, status.HTTP_201_CREATED)

    @extend_schema(request=PenaltyEditSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def edit(self, request, pk=None):
        case = self.get_object()
        return self._done(services.edit_case(request.user, case, **valid(PenaltyEditSerializer(data=request.data))))

    @extend_schema(request=PenaltyNotifySerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def notify(self, request, pk=None):
        case = self.get_object()
        data = valid(PenaltyNotifySerializer(data=request.data))
        return self._done(services.notify_party(request.user, case, **data))

    @extend_schema(request=PenaltyReplySerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        case = self.get_object()
        return self._done(services.record_reply(request.user, case, **valid(PenaltyReplySerializer(data=request.data))))

    @extend_schema(request=PenaltyHearingSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def hearing(self, request, pk=None):
        case = self.get_object()
        data = valid(PenaltyHearingSerializer(data=request.data))
        return self._done(services.record_hearing(request.user, case, **data))

    @extend_schema(request=PenaltyDecideSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        case = self.get_object()
        return self._done(services.decide(request.user, case, **valid(PenaltyDecideSerializer(data=request.data))))

    @extend_schema(request=PenaltyServeSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def serve(self, request, pk=None):
        case = self.get_object()
        return self._done(services.serve(request.user, case, **valid(PenaltyServeSerializer(data=request.data))))

    @extend_schema(request=PenaltyPaymentSerializer, responses={201: PenaltyCaseSerializer})
    @action(detail=True, methods=["post"])
    def payments(self, request, pk=None):
        case = self.get_object()
        services.record_payment(request.user, case, **valid(PenaltyPaymentSerializer(data=request.data)))
        return self._done(case, status.HTTP_201_CREATED)

    @extend_schema(request=PenaltyChallengeSerializer, responses={201: PenaltyCaseSerializer})
    @action(detail=True, methods=["post"])
    def challenges(self, request, pk=None):
        case = self.get_object()
        services.file_challenge(request.user, case, **valid(PenaltyChallengeSerializer(data=request.data)))
        return self._done(case, status.HTTP_201_CREATED)

    @extend_schema(request=PenaltyConcludeSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"], url_path="conclude-challenge")
    def conclude_challenge(self, request, pk=None):
        case = self.get_object()
        data = valid(PenaltyConcludeSerializer(data=request.data))
        challenge = get_object_or_404(Challenge, pk=data.pop("challenge"), case=case)
        services.conclude_challenge(request.user, challenge, **data)
        return self._done(case)

    @extend_schema(request=PenaltyCloseSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        case = self.get_object()
        return self._done(services.close_case(request.user, case, **valid(PenaltyCloseSerializer(data=request.data))))

    @extend_schema(request=PenaltyWithdrawSerializer, responses=PenaltyCaseSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        case = self.get_object()
        return self._done(services.withdraw(request.user, case, **valid(PenaltyWithdrawSerializer(data=request.data))))

    @extend_schema(responses={(200, document.DOCX_CONTENT_TYPE): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def document(self, request, pk=None):
        """The decision document (行政处罚决定书) as Word; 404 before the decision."""
        case = self.get_object()
        if not case.decision_no:
            raise Http404
        content = document.decision_document(case, reveal_personal=services.may_see_personal(request.user, case))
        response = HttpResponse(content, content_type=document.DOCX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="decision-{case.pk}.docx"'
        return response

    @extend_schema(responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
                              OpenApiTypes.BINARY})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered cases as Excel (ID numbers masked)."""
        content = exports.cases_workbook(self.filter_queryset(self.get_queryset()))
        response = HttpResponse(content,
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="penalty-cases.xlsx"'
        return response


class BenchmarkViewSet(viewsets.ViewSet):
    """The active discretion benchmark (version and data) for every reader of penalty cases."""

    permission_classes = [permissions.IsAuthenticated, IsReader]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def list(self, request):
        bench = benchmark.active()
        return Response({"version": bench.version, "data": bench.data})


class ZeroPenaltyViewSet(viewsets.ViewSet):
    """The zero-penalty table for a period, for the city."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("start", OpenApiTypes.DATE, required=True),
                               OpenApiParameter("end", OpenApiTypes.DATE, required=True),
                               OpenApiParameter("flagged", OpenApiTypes.BOOL)],
                   responses=OpenApiTypes.OBJECT)
    def list(self, request):
        if not is_city(request.user):
            raise PermissionDenied("only the city reads the zero-penalty table")
        errors = {}
        bounds = []
        for name in ("start", "end"):
            try:
                bounds.append(dt.date.fromisoformat(request.query_params.get(name, "")))
            except ValueError:
                errors[name] = ["give a date (YYYY-MM-DD)"]
        if not errors and (bounds[0] > bounds[1] or (bounds[1] - bounds[0]).days > 366):
            errors["end"] = ["the period runs from start to end, at most a year"]
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        rows = zero.county_enforcement(*bounds)
        if request.query_params.get("flagged") in ("1", "true"):
            rows = [r for r in rows if r.flagged]
        return Response({"start": bounds[0], "end": bounds[1], "counties": [r.as_dict() for r in rows]})
