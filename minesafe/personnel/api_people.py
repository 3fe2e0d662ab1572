"""REST API of the key-positions ledger: people (ID and phone numbers masked for roles that may not see them),
appointments, and the compliance list with its flags. Scoped reads; every change a POST or PATCH through
people.py. A record outside the caller's scope is 404; a mine or person outside it is "does not exist".
Filtering, searching and ordering never touch ID or phone numbers (that would let a masked reader probe them).
"""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from minesafe.core.api import ScopedViewSetMixin
from minesafe.core.filters import IdFilter
from minesafe.registry.models import Mine

from . import common
from . import people as services
from .models import Appointment, Education, Person


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class RulesMixin:
    """One catalogue read per response (a list serializer's child serves every row)."""

    @property
    def rule_set(self) -> services.Rules:
        if "_rules" not in self.__dict__:
            self._rules = self.context.get("rules") or services.rules()
        return self._rules


# Serializers -------------------------------------------------------------------------------------
class PersonSerializer(serializers.ModelSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    id_number = serializers.CharField(max_length=32, help_text="masked (region code and last four) unless the "
                                                               "caller may see personal information")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                  help_text="masked unless the caller may see personal information")
    education = serializers.ChoiceField(choices=Education.choices)
    frontline_years = serializers.DecimalField(max_digits=4, decimal_places=1)
    assigned_operations = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                                default=list, help_text="codes of the catalogue's special operations")
    personal_masked = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["id", "mine", "mine_name", "county", "name", "id_number", "phone", "education", "specialty",
                  "core_specialty", "frontline_years", "assigned_operations", "own_employee", "active",
                  "personal_masked", "created_at"]
        read_only_fields = ["id", "active", "created_at"]
        extra_kwargs = {"specialty": {"required": False, "allow_blank": True}}
        validators = []  # the service checks uniqueness (and says so without echoing the number)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "mine" in self.fields:
            self.fields["mine"].queryset = Mine.objects.visible_to(request.user)

    def _may_see(self, person: Person) -> bool:
        request = self.context.get("request")
        return request is not None and common.may_see_personal(request.user, person.mine)

    def get_personal_masked(self, obj) -> bool:
        return not self._may_see(obj)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self._may_see(instance):
            data["id_number"] = common.mask_id(instance.id_number)
            data["phone"] = common.mask_phone(instance.phone) if instance.phone else ""
        return data


class PersonUpdateSerializer(PersonSerializer):
    mine = serializers.PrimaryKeyRelatedField(read_only=True)  # a person is not moved to another mine

    class Meta(PersonSerializer.Meta):
        read_only_fields = ["id", "mine", "active", "created_at"]


class DeactivateSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)
    left_on = serializers.DateField(required=False, allow_null=True, default=None)


class AppointmentSerializer(RulesMixin, serializers.ModelSerializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.none())
    person_name = serializers.CharField(source="person.name", read_only=True)
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    post = serializers.CharField(max_length=32, help_text="a code of the catalogue's posts")
    specialty = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    post_label = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField()
    incumbent = serializers.SerializerMethodField()
    qualification_gaps = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = ["id", "person", "person_name", "mine", "mine_name", "county", "post", "post_label", "specialty",
                  "start_date", "end_date", "end_reason", "current", "incumbent", "qualification_gaps"]
        read_only_fields = ["id", "mine", "end_date", "end_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "person" in self.fields:
            self.fields["person"].queryset = Person.objects.visible_to(request.user)

    def get_post_label(self, obj) -> str:
        return self.rule_set.post_label(obj.post)

    def get_current(self, obj) -> bool:
        today = timezone.localdate()
        return obj.start_date <= today and (obj.end_date is None or obj.end_date > today)

    def get_incumbent(self, obj) -> bool:
        """Appointed before the qualification rules took effect."""
        return services.is_incumbent(obj, self.rule_set)

    def get_qualification_gaps(self, obj) -> list[str]:
        return services.qualification_gaps(obj.person, obj.post, self.rule_set)


class EndAppointmentSerializer(serializers.Serializer):
    end_date = serializers.DateField()
    reason = serializers.CharField(allow_blank=True)


class ComplianceRowSerializer(serializers.Serializer):
    mine = serializers.IntegerField(source="mine.pk")
    mine_name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="county.code")
    person = serializers.IntegerField(source="person.pk")
    person_name = serializers.CharField(source="person.name")
    appointment = serializers.IntegerField(source="appointment.pk")
    post = serializers.CharField()
    post_label = serializers.CharField()
    gaps = serializers.ListField(child=serializers.CharField())
    incumbent = serializers.BooleanField()
    deadline = serializers.DateField()
    overdue = serializers.BooleanField()


class FlagSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=services.FlagKind.choices)
    mine = serializers.IntegerField(source="mine.pk")
    mine_name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="county.code")
    person = serializers.IntegerField(source="person.pk", allow_null=True, default=None)
    person_name = serializers.CharField(source="person.name", allow_null=True, default=None)
    post = serializers.CharField(allow_blank=True)
    post_label = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    last_seen = serializers.DateField(allow_null=True)
    detail = serializers.CharField()


# Filters -----------------------------------------------------------------------------------------
class PersonFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    education = django_filters.ChoiceFilter(choices=Education.choices)

    class Meta:
        model = Person
        fields = ["mine", "county", "active", "own_employee", "core_specialty", "education"]


class AppointmentFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    person = IdFilter(field_name="person_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    post = django_filters.CharFilter()
    current = django_filters.BooleanFilter(method="filter_current")

    class Meta:
        model = Appointment
        fields = ["mine", "person", "county", "post", "current"]

    def filter_current(self, queryset, name, value):
        if value is None:
            return queryset
        q = services.current_q(timezone.localdate())
        return queryset.filter(q) if value else queryset.exclude(q)


# Viewsets ----------------------------------------------------------------------------------------
class PersonViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                    viewsets.ReadOnlyModelViewSet):
    """People of the key-positions ledger. ID and phone numbers in full only for the mine's enterprise, its county
    and the city; masked for everyone else. POST records a person, PATCH corrects one (the same writers)."""

    queryset = Person.objects.select_related("mine__county", "mine__enterprise")
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet
    search_fields = ["name"]
    ordering_fields = ["name", "frontline_years", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return PersonUpdateSerializer
        return super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        mine = data.pop("mine")
        person = services.create_person(request.user, mine, **data)
        return Response(self.get_serializer(person).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PersonUpdateSerializer, responses=PersonSerializer)
    def partial_update(self, request, *args, **kwargs):
        person = self.get_object()
        data = valid(PersonUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context()))
        services.update_person(request.user, person, data)
        return Response(PersonSerializer(person, context=self.get_serializer_context()).data)

    @extend_schema(request=DeactivateSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """The person left the mine: their open appointments end on `left_on` (default today)."""
        person = self.get_object()
        data = valid(DeactivateSerializer(data=request.data))
        services.deactivate_person(request.user, person, reason=data["reason"], left_on=data["left_on"])
        return Response(self.get_serializer(person).data)

    @extend_schema(request=None, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        person = self.get_object()
        services.reactivate_person(request.user, person)
        return Response(self.get_serializer(person).data)


class AppointmentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Appointments to the ledger's posts. POST appoints (refused with the reasons when a new appointee falls
    short of the post's rule; 409 when it overlaps the person's own or, for single posts, another holder's)."""

    queryset = Appointment.objects.select_related("person", "mine__county")
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilterSet
    ordering_fields = ["start_date", "end_date"]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "rules": services.rules()}

    def create(self, request, *args, **kwargs):
        data = valid(self.get_serializer(data=request.data))
        appointment = services.appoint(request.user, data["person"], data["post"], data["start_date"],
                                       specialty=data.get("specialty", ""))
        return Response(self.get_serializer(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndAppointmentSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """The holder left the post on `end_date` (not before the start, not in the future)."""
        appointment = self.get_object()
        data = valid(EndAppointmentSerializer(data=request.data))
        services.end_appointment(request.user, appointment, data["end_date"], data["reason"])
        return Response(self.get_serializer(appointment).data)


COMPLIANCE_PARAMETERS = [OpenApiParameter("county", str, description="county division code"),
                         OpenApiParameter("overdue", bool)]


class PeopleComplianceViewSet(viewsets.ViewSet):
    """The dated compliance list (current holders short of their post's rule, with the deadline to adjust them)
    and the flags (frequent chief changes, appointed but absent), in the caller's scope."""

    @staticmethod
    def _county(request, items):
        county = request.query_params.get("county", "")
        return [i for i in items if i.county.code == county] if county else items

    @extend_schema(parameters=COMPLIANCE_PARAMETERS, responses=ComplianceRowSerializer(many=True))
    def list(self, request):
        rows = self._county(request, services.compliance_list(request.user))
        overdue = request.query_params.get("overdue", "").lower()
        if overdue in ("true", "1", "false", "0"):
            rows = [r for r in rows if r.overdue == (overdue in ("true", "1"))]
        return Response(ComplianceRowSerializer(rows, many=True).data)

    @extend_schema(parameters=COMPLIANCE_PARAMETERS[:1], responses=FlagSerializer(many=True))
    @action(detail=False, methods=["get"])
    def flags(self, request):
        return Response(FlagSerializer(self._county(request, services.flags(request.user)), many=True).data)
