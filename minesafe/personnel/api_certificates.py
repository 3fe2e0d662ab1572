"""REST API of special-operation certificates and training: scoped reads, every change a POST through the
services (certificates.py, training.py).

Certificates carry the holder's ID number (and a certificate number that may embed it) masked unless the
caller may see the mine's personal data. Training providers are city-wide reference data (every signed-in
user reads them); training records are scoped through the person's mine, the enforcement staff's rotation
records to the city and the official's county. A record outside the caller's scope is 404.
"""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.core.models import User

from . import certificates as services
from . import common, training
from .models import Certificate, Person, ProviderCheck, TrainingProvider, TrainingRecord

K = TrainingRecord.Kind


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PersonalDataMixin:
    """Per-response masking decisions, one permission check per mine."""

    def may_see(self, mine) -> bool:
        cache = self.context.setdefault("_may_see", {})
        if mine.pk not in cache:
            request = self.context.get("request")
            cache[mine.pk] = bool(request) and common.may_see_personal(request.user, mine)
        return cache[mine.pk]

    def categories(self) -> dict:
        if "_categories" not in self.context:
            self.context["_categories"] = common.operation_categories()
        return self.context["_categories"]

    def limits(self) -> services.Rules:
        if "_limits" not in self.context:
            self.context["_limits"] = services.rules()
        return self.context["_limits"]


class VisiblePersonMixin:
    """The person field accepts only people the caller can see: any other is "does not exist"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "person" in self.fields:
            self.fields["person"].queryset = Person.objects.visible_to(request.user)


# Certificates ------------------------------------------------------------------------------------
class CertificateSerializer(PersonalDataMixin, VisiblePersonMixin, serializers.ModelSerializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.none())
    person_name = serializers.CharField(source="person.name", read_only=True)
    id_number = serializers.SerializerMethodField(help_text="the holder's ID number, masked unless the caller "
                                                            "may see the mine's personal data")
    mine = serializers.IntegerField(source="person.mine_id", read_only=True)
    mine_name = serializers.CharField(source="person.mine.name", read_only=True)
    county = serializers.CharField(source="person.mine.county.code", read_only=True)
    category = serializers.CharField(max_length=32, help_text="a code of the catalogue's special operations")
    category_label = serializers.SerializerMethodField()
    expires_on = serializers.DateField(required=False, allow_null=True, default=None,
                                       help_text="default: issued_on + validity_years (6)")
    state = serializers.SerializerMethodField()
    next_review_due = serializers.SerializerMethodField()
    in_renewal_window = serializers.SerializerMethodField()

    class Meta:
        model = Certificate
        fields = ["id", "person", "person_name", "id_number", "mine", "mine_name", "county", "category",
                  "category_label", "number", "issued_on", "expires_on", "last_review_on", "extended_review",
                  "issuer", "revoked", "revoked_reason", "state", "next_review_due", "in_renewal_window"]
        read_only_fields = ["id", "revoked", "revoked_reason"]
        extra_kwargs = {"issuer": {"allow_blank": True}, "last_review_on": {"required": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["number"] = services.shown_number(instance, self.may_see(instance.person.mine))
        return data

    def status(self, obj) -> services.CertificateStatus:
        cache = self.context.setdefault("_status", {})
        if obj.pk not in cache:
            cache[obj.pk] = services.certificate_state(obj, timezone.localdate(), limits=self.limits())
        return cache[obj.pk]

    def get_id_number(self, obj) -> str:
        person = obj.person
        return person.id_number if self.may_see(person.mine) else common.mask_id(person.id_number)

    def get_category_label(self, obj) -> str:
        return services.category_label(obj.category, self.categories())

    @extend_schema_field(serializers.ChoiceField(choices=services.State.choices))
    def get_state(self, obj) -> str:
        return self.status(obj).state

    def get_next_review_due(self, obj) -> str | None:
        due = self.status(obj).next_review_due
        return due.isoformat() if due else None

    def get_in_renewal_window(self, obj) -> bool:
        return self.status(obj).in_renewal_window


class CertificateReviewSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField()
    extended_review = serializers.BooleanField(required=False, allow_null=True, default=None,
                                               help_text="the issuer's decision on the next interval; "
                                                         "omitted: unchanged")


class CertificateRenewSerializer(serializers.Serializer):
    renewed_on = serializers.DateField()
    expires_on = serializers.DateField(required=False, allow_null=True, default=None,
                                       help_text="default: the current expiry + validity_years")


class CertificateRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class UnlicensedSerializer(serializers.Serializer):
    person = serializers.IntegerField(source="person.pk")
    person_name = serializers.CharField(source="person.name")
    mine = serializers.IntegerField(source="person.mine_id")
    mine_name = serializers.CharField(source="person.mine.name")
    county = serializers.CharField(source="person.mine.county.code")
    operation = serializers.CharField()
    operation_label = serializers.CharField()
    reason = serializers.CharField()
    certificate = serializers.IntegerField(source="certificate.pk", allow_null=True, default=None)


class CountyCountsSerializer(serializers.Serializer):
    county_code = serializers.CharField()
    county_name = serializers.CharField()
    expiring = serializers.IntegerField()
    review_overdue = serializers.IntegerField()
    expired = serializers.IntegerField()
    unlicensed = serializers.IntegerField()


class CertificateFilterSet(django_filters.FilterSet):
    person = IdFilter(field_name="person_id")
    mine = IdFilter(field_name="person__mine_id")
    county = django_filters.CharFilter(field_name="person__mine__county__code")
    category = django_filters.CharFilter()
    revoked = django_filters.BooleanFilter()

    class Meta:
        model = Certificate
        fields = ["person", "mine", "county", "category", "revoked"]


county_param = OpenApiParameter("county", str, description="a county code (all counties in scope when omitted)")


class CertificateViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Special-operation certificates (特种作业操作证) in scope, with their state on the day. POST records one
    (the mine's enterprise, its county or the city)."""

    queryset = Certificate.objects.select_related("person__mine__county", "person__mine__enterprise")
    serializer_class = CertificateSerializer
    filterset_class = CertificateFilterSet
    ordering_fields = ["expires_on", "issued_on", "number"]

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        cert = services.issue_certificate(
            request.user, data["person"], category=data["category"], number=data["number"],
            issued_on=data["issued_on"], expires_on=data.get("expires_on"),
            last_review_on=data.get("last_review_on"), extended_review=data.get("extended_review", False),
            issuer=data.get("issuer", ""))
        return Response(self.get_serializer(cert).data, status=status.HTTP_201_CREATED)

    def step(self, call, serializer_class):
        cert = self.get_object()
        call(cert, **valid(serializer_class(data=self.request.data)))
        return Response(self.get_serializer(cert).data)

    @extend_schema(request=CertificateReviewSerializer, responses=CertificateSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """A review (复审) passed; `extended_review` records the issuer's decision on the next interval."""
        return self.step(lambda c, **d: services.record_review(request.user, c, **d), CertificateReviewSerializer)

    @extend_schema(request=CertificateRenewSerializer, responses=CertificateSerializer)
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        """The renewal at expiry (延期复审), inside the renewal window."""
        return self.step(lambda c, **d: services.renew_certificate(request.user, c, **d), CertificateRenewSerializer)

    @extend_schema(request=CertificateRevokeSerializer, responses=CertificateSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke (the mine's county or the city)."""
        return self.step(lambda c, **d: services.revoke_certificate(request.user, c, **d), CertificateRevokeSerializer)

    @extend_schema(parameters=[county_param], responses=UnlicensedSerializer(many=True))
    @action(detail=False, methods=["get"])
    def unlicensed(self, request):
        """People assigned to a special operation without a valid certificate of that category (任职无证)."""
        people = Person.objects.visible_to(request.user)
        county = request.query_params.get("county", "")
        if county:
            people = people.filter(mine__county__code=county)
        flags = services.unlicensed_work(request.user, people=people)
        return Response(UnlicensedSerializer(flags, many=True).data)

    @extend_schema(parameters=[county_param], responses=CountyCountsSerializer(many=True))
    @action(detail=False, methods=["get"])
    def dashboard(self, request):
        """Per county: certificates expiring within the renewal window, reviews overdue, expired, and
        unlicensed workers (each person's latest certificate per category at working mines)."""
        board = services.expiry_dashboard(request.user, county=request.query_params.get("county", ""))
        return Response(CountyCountsSerializer(board.counties, many=True).data)


# Training providers ------------------------------------------------------------------------------
class ProviderCheckSerializer(serializers.ModelSerializer):
    checked_by = serializers.StringRelatedField()

    class Meta:
        model = ProviderCheck
        fields = ["id", "checked_on", "findings", "result", "checked_by"]
        read_only_fields = fields


class CheckInputSerializer(serializers.Serializer):
    checked_on = serializers.DateField()
    findings = serializers.CharField(allow_blank=True)
    result = serializers.ChoiceField(choices=TrainingProvider.Standing.choices)


class TrainingProviderSerializer(serializers.ModelSerializer):
    checks = ProviderCheckSerializer(many=True, read_only=True)

    class Meta:
        model = TrainingProvider
        fields = ["id", "name", "credit_code", "qualification", "standing", "checks"]
        read_only_fields = ["id", "standing", "checks"]
        extra_kwargs = {"credit_code": {"allow_blank": True}, "qualification": {"allow_blank": True},
                        "name": {"validators": []}}


class TrainingProviderViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Training providers (city-wide; every signed-in user reads them). POST records one and `check` records a
    check (the city or a county); a check finding fake training or certificates bars the provider."""

    queryset = TrainingProvider.objects.prefetch_related("checks__checked_by")
    serializer_class = TrainingProviderSerializer
    filterset_fields = ["standing"]
    search_fields = ["name", "credit_code"]
    ordering_fields = ["name"]

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        provider = training.create_provider(request.user, name=data["name"], credit_code=data.get("credit_code", ""),
                                            qualification=data.get("qualification", ""))
        return Response(self.get_serializer(provider).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CheckInputSerializer, responses={201: ProviderCheckSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        provider = self.get_object()
        data = valid(CheckInputSerializer(data=request.data))
        made = training.check_provider(request.user, provider, **data)
        return Response(ProviderCheckSerializer(made).data, status=status.HTTP_201_CREATED)


# Training records --------------------------------------------------------------------------------
class TrainingRecordSerializer(PersonalDataMixin, VisiblePersonMixin, serializers.ModelSerializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.none(), required=False, allow_null=True,
                                                default=None)
    person_name = serializers.CharField(source="person.name", read_only=True, default=None)
    mine = serializers.IntegerField(source="person.mine_id", read_only=True, default=None)
    county = serializers.CharField(source="person.mine.county.code", read_only=True, default=None)
    official = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False, allow_null=True,
                                                  default=None, help_text="the enforcement official "
                                                                          "(enforcement_rotation only)")
    official_name = serializers.CharField(source="official.__str__", read_only=True, default=None)
    provider = serializers.PrimaryKeyRelatedField(queryset=TrainingProvider.objects.all(), required=False,
                                                  allow_null=True, default=None)
    provider_name = serializers.CharField(source="provider.name", read_only=True, default=None)
    category = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                     help_text="a special-operation category code (special_operation only)")
    counts = serializers.SerializerMethodField(help_text="counts for coverage: passed, provider not barred")

    class Meta:
        model = TrainingRecord
        fields = ["id", "kind", "person", "person_name", "mine", "county", "official", "official_name", "provider",
                  "provider_name", "category", "held_on", "hours", "passed", "score", "counts"]
        read_only_fields = ["id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "official" in self.fields:
            self.fields["official"].queryset = training.enforcement_users(request.user)

    def get_counts(self, obj) -> bool:
        return obj.passed and (obj.provider is None or obj.provider.standing != TrainingProvider.Standing.BARRED)


class TrainingRecordFilterSet(django_filters.FilterSet):
    person = IdFilter(field_name="person_id")
    official = IdFilter(field_name="official_id")
    mine = IdFilter(field_name="person__mine_id")
    provider = IdFilter(field_name="provider_id")
    county = django_filters.CharFilter(field_name="person__mine__county__code")
    kind = django_filters.ChoiceFilter(choices=K.choices)
    year = django_filters.NumberFilter(field_name="held_on", lookup_expr="year")

    class Meta:
        model = TrainingRecord
        fields = ["person", "official", "mine", "provider", "county", "kind", "year"]


class TrainingRecordViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Training records in scope. POST records one: a person's training (the mine's enterprise, its county or
    the city), or with kind enforcement_rotation and `official` an enforcement official's (the city)."""

    queryset = TrainingRecord.objects.none()
    serializer_class = TrainingRecordSerializer
    filterset_class = TrainingRecordFilterSet
    ordering_fields = ["held_on"]

    def get_queryset(self):
        return training.visible_records(self.request.user).select_related(
            "person__mine__county", "official", "provider")

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        common_values = {"held_on": data["held_on"], "hours": data["hours"], "provider": data["provider"],
                         "passed": data.get("passed", True), "score": data.get("score")}
        if data["kind"] == K.ENFORCEMENT_ROTATION:
            if data["official"] is None or data["person"] is not None:
                raise serializers.ValidationError({"official": ["rotation training names the official, no person"]})
            record = training.record_rotation_training(request.user, data["official"], **common_values)
        else:
            if data["person"] is None or data["official"] is not None:
                raise serializers.ValidationError({"person": ["a person's training names the person, no official"]})
            record = training.record_training(request.user, data["person"], kind=data["kind"],
                                              category=data["category"], **common_values)
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)


# Coverage ----------------------------------------------------------------------------------------
class MissingTrainingSerializer(serializers.Serializer):
    person_id = serializers.IntegerField()
    person_name = serializers.CharField()
    mine_id = serializers.IntegerField()
    mine_name = serializers.CharField()
    posts = serializers.ListField(child=serializers.CharField())
    kind = serializers.CharField()


class CountyCoverageSerializer(serializers.Serializer):
    county_code = serializers.CharField()
    county_name = serializers.CharField()
    required = serializers.IntegerField()
    trained = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    target = serializers.FloatField()
    meets_target = serializers.BooleanField()
    missing = MissingTrainingSerializer(many=True)


class AnnualCoverageSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    target = serializers.FloatField()
    required = serializers.IntegerField()
    trained = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    counties = CountyCoverageSerializer(many=True)


class OfficialSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="__str__")


class UnitRotationSerializer(serializers.Serializer):
    unit = serializers.CharField(help_text='a county code, or "city"')
    unit_name = serializers.CharField()
    officials = serializers.IntegerField()
    trained = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    missing = OfficialSerializer(many=True)


class RotationCoverageSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    years = serializers.IntegerField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    officials = serializers.IntegerField()
    trained = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    units = UnitRotationSerializer(many=True)


def year_of(request) -> int:
    raw = request.query_params.get("year", "")
    if not raw:
        return timezone.localdate().year
    try:
        year = int(raw)
    except ValueError:
        raise serializers.ValidationError({"year": ["give a year, e.g. 2026"]}) from None
    if not 2000 <= year <= 2100:
        raise serializers.ValidationError({"year": ["between 2000 and 2100"]})
    return year


year_param = OpenApiParameter("year", int, description="the year (default: this year)")


class TrainingCoverageViewSet(viewsets.ViewSet):
    """Training coverage in the caller's scope."""

    @extend_schema(parameters=[year_param], responses=AnnualCoverageSerializer)
    def list(self, request):
        """Annual training of principal heads and five-post holders per county, against the plan's 100%."""
        return Response(AnnualCoverageSerializer(training.annual_coverage(request.user, year_of(request))).data)

    @extend_schema(parameters=[year_param], responses=RotationCoverageSerializer)
    @action(detail=False, methods=["get"])
    def rotation(self, request):
        """The enforcement staff trained within the rotation period ending with the year (the city: all; a
        county: its own officials; others: none)."""
        return Response(RotationCoverageSerializer(training.rotation_coverage(year_of(request), request.user)).data)
