"""REST API of the inspections: scoped reads for everyone with a scope (an enterprise reads only the completed
inspections of its mines), and every change a POST through the services for the team. An inspection outside the
caller's scope is 404; a mine outside it is "does not exist" (400); a change of a completed inspection is 409."""

import django_filters
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from minesafe.core.filters import IdFilter
from minesafe.core.models import Organisation, User
from minesafe.core.scoping import is_city
from minesafe.hazards.models import HazardItem
from minesafe.registry.models import Mine

from . import documents, services
from .models import (
    Addendum,
    ChecklistTemplate,
    ChecklistTemplateItem,
    Document,
    Finding,
    Inspection,
    InspectionItem,
    Method,
    Photo,
    Signature,
)


def valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class HasScope(permissions.BasePermission):
    """Departments have no inspections; everyone else reads within their scope (deny by default)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (
            is_city(user) or (user.role in (User.Role.COUNTY, User.Role.INSPECTOR, User.Role.ENTERPRISE)
                                       and user.organisation_id)))


# Serializers -------------------------------------------------------------------------------------
class InspectionItemSerializer(serializers.ModelSerializer):
    major = serializers.BooleanField(read_only=True)

    class Meta:
        model = InspectionItem
        fields = ["id", "position", "code", "text", "guidance", "major", "hazard_item", "result", "note",
                  "checked_at"]
        read_only_fields = fields


class InspectionFindingSerializer(serializers.ModelSerializer):
    hazard_number = serializers.CharField(source="hazard.number", read_only=True, allow_null=True, default=None)
    is_overdue = serializers.BooleanField(read_only=True)
    inspection_number = serializers.CharField(source="inspection.number", read_only=True)
    mine = serializers.IntegerField(source="inspection.mine_id", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "inspection", "inspection_number", "mine", "item", "description", "major", "hazard_item",
                  "hazard", "hazard_number", "deadline", "status", "is_overdue", "rectified_at", "rectified_note",
                  "created_at"]
        read_only_fields = fields


class InspectionPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = ["id", "finding", "original_name", "content_type", "size", "sha256", "caption", "uploaded_at",
                  "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("inspections:photo", args=[obj.inspection_id, obj.pk])


class InspectionSignatureSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Signature
        fields = ["id", "role", "signer_name", "refused", "refusal_reason", "witness_name", "sha256", "record_hash",
                  "signed_at", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str | None:
        return reverse("inspections:signature", args=[obj.inspection_id, obj.pk]) if obj.file else None


class EnforcementDocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "kind", "number", "year", "serial", "size", "sha256", "issued_at", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("inspections:document", args=[obj.inspection_id, obj.pk])


class InspectionAddendumSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField()

    class Meta:
        model = Addendum
        fields = ["id", "text", "created_by", "created_at"]
        read_only_fields = fields


class InspectionListSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    lead_inspector_name = serializers.StringRelatedField(source="lead_inspector")

    class Meta:
        model = Inspection
        fields = ["id", "number", "mine", "mine_name", "county", "organisation", "organisation_name", "method",
                  "inspected_on", "status", "lead_inspector", "lead_inspector_name", "team", "summary",
                  "started_at", "completed_at", "cancelled_at", "cancel_reason", "checklist_template"]
        read_only_fields = fields


class InspectionSerializer(InspectionListSerializer):
    items = InspectionItemSerializer(many=True, read_only=True)
    findings = InspectionFindingSerializer(many=True, read_only=True)
    photos = InspectionPhotoSerializer(many=True, read_only=True)
    signatures = InspectionSignatureSerializer(many=True, read_only=True)
    documents = EnforcementDocumentSerializer(many=True, read_only=True)
    addenda = InspectionAddendumSerializer(many=True, read_only=True)

    class Meta(InspectionListSerializer.Meta):
        fields = [*InspectionListSerializer.Meta.fields, "items", "findings", "photos", "signatures", "documents",
                  "addenda"]
        read_only_fields = fields


class InspectionStartSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    inspected_on = serializers.DateField()
    method = serializers.ChoiceField(choices=Method.choices, default=Method.ROUTINE)
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none(), required=False,
                                                      allow_null=True, default=None,
                                                      help_text="the caller's own body if not given (the city may "
                                                                "name a county for cross-county enforcement)")
    lead_inspector = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False,
                                                        allow_null=True, default=None,
                                                        help_text="the caller if not given")
    team = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:
            return
        user = request.user
        self.fields["mine"].queryset = Mine.objects.visible_to(user)
        self.fields["organisation"].queryset = services.organisations_for(user)
        self.fields["lead_inspector"].queryset = User.objects.filter(
            is_active=True, role__in=services.OFFICER_ROLES, organisation__in=services.organisations_for(user))


class InspectionResultSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text="id of the inspection's checklist item")
    result = serializers.ChoiceField(choices=InspectionItem.Result.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    deadline = serializers.DateField(required=False, allow_null=True, default=None)


class InspectionDetailsSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionFindingInputSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)
    deadline = serializers.DateField()
    major = serializers.BooleanField(required=False, default=False)
    hazard_item = serializers.PrimaryKeyRelatedField(queryset=HazardItem.objects.all(), required=False,
                                                     allow_null=True, default=None)


class InspectionPhotoInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    caption = serializers.CharField(required=False, allow_blank=True, default="")
    finding = serializers.IntegerField(required=False, allow_null=True, default=None)


class InspectionSignSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Signature.Role.choices)
    image = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text="the drawing as a data:image/png;base64 URL")
    signer_name = serializers.CharField(required=False, allow_blank=True, default="")
    refused = serializers.BooleanField(required=False, default=False)
    refusal_reason = serializers.CharField(required=False, allow_blank=True, default="")
    witness_name = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class InspectionAddendumInputSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True)


class EnforcementDocumentInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Document.Kind.choices)
    measures = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    details = serializers.CharField(required=False, allow_blank=True, default="")


class FindingRectifiedSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True)


class ChecklistItemSerializer(serializers.ModelSerializer):
    major = serializers.BooleanField(read_only=True)

    class Meta:
        model = ChecklistTemplateItem
        fields = ["id", "position", "code", "text", "guidance", "hazard_item", "major"]
        read_only_fields = fields


class ChecklistTemplateSerializer(serializers.ModelSerializer):
    items = ChecklistItemSerializer(many=True, read_only=True)

    class Meta:
        model = ChecklistTemplate
        fields = ["id", "code", "version", "name", "mine_type", "active", "hazard_catalogue", "note", "created_at",
                  "items"]
        read_only_fields = fields


# Filters -----------------------------------------------------------------------------------------
class InspectionFilter(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    organisation = IdFilter(field_name="organisation_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    method = django_filters.ChoiceFilter(choices=Method.choices)
    status = django_filters.ChoiceFilter(choices=Inspection.Status.choices)
    date_from = django_filters.DateFilter(field_name="inspected_on", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="inspected_on", lookup_expr="lte")

    class Meta:
        model = Inspection
        fields = ["mine", "organisation", "county", "method", "status", "date_from", "date_to"]


class FindingFilter(django_filters.FilterSet):
    inspection = IdFilter(field_name="inspection_id")
    mine = IdFilter(field_name="inspection__mine_id")
    major = django_filters.BooleanFilter()
    status = django_filters.ChoiceFilter(choices=Finding.Status.choices)

    class Meta:
        model = Finding
        fields = ["inspection", "mine", "major", "status"]


# Viewsets ----------------------------------------------------------------------------------------
class InspectionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated, HasScope]
    filterset_class = InspectionFilter
    ordering_fields = ["inspected_on", "completed_at"]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        queryset = Inspection.objects.visible_to(self.request.user).select_related(
            "mine__county", "organisation", "lead_inspector").order_by("-inspected_on", "-pk")
        if self.action != "list":
            queryset = queryset.prefetch_related("items", "findings__hazard", "photos", "signatures", "documents",
                                                 "addenda__created_by")
        return queryset

    def get_serializer_class(self):
        if self.action == "list":
            return InspectionListSerializer
        if self.action == "create":
            return InspectionStartSerializer
        return InspectionSerializer

    def _answer(self, inspection, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=inspection.pk)
        return Response(InspectionSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=InspectionStartSerializer, responses={201: InspectionSerializer})
    def create(self, request, *args, **kwargs):
        """Start an inspection (officers within their remit; the city assigns cross-county enforcement)."""
        data = valid(InspectionStartSerializer(data=request.data, context=self.get_serializer_context()))
        inspection = services.start_inspection(request.user, data.pop("mine"), **data)
        return self._answer(inspection, status.HTTP_201_CREATED)

    @extend_schema(request=InspectionResultSerializer, responses=InspectionSerializer)
    @action(detail=True, methods=["post"], serializer_class=InspectionResultSerializer)
    def result(self, request, pk=None):
        """A checklist item's result; "hazard_found" needs a note and a deadline (a major item reports a hazard)."""
        inspection = self.get_object()
        data = valid(InspectionResultSerializer(data=request.data))
        item = get_object_or_404(InspectionItem.objects.select_related("inspection"), pk=data["item"],
                                 inspection=inspection)
        services.record_result(request.user, item, data["result"], note=data["note"], deadline=data["deadline"])
        return self._answer(inspection)

    @extend_schema(request=InspectionDetailsSerializer, responses=InspectionSerializer)
    @action(detail=True, methods=["post"], serializer_class=InspectionDetailsSerializer)
    def details(self, request, pk=None):
        inspection = self.get_object()
        services.update_details(request.user, inspection, **valid(InspectionDetailsSerializer(data=request.data)))
        return self._answer(inspection)

    @extend_schema(request=InspectionFindingInputSerializer, responses={201: InspectionFindingSerializer})
    @action(detail=True, methods=["post"], serializer_class=InspectionFindingInputSerializer)
    def findings(self, request, pk=None):
        """A finding outside the checklist (a major one cites the item of the standard and reports a hazard)."""
        inspection = self.get_object()
        data = valid(InspectionFindingInputSerializer(data=request.data))
        finding = services.add_finding(request.user, inspection, **data)
        return Response(InspectionFindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": InspectionPhotoInputSerializer},
                   responses={201: InspectionPhotoSerializer})
    @action(detail=True, methods=["post"], serializer_class=InspectionPhotoInputSerializer)
    def photos(self, request, pk=None):
        """A photo (JPEG, PNG or WebP by content, within the size limit), of the visit or of one finding."""
        inspection = self.get_object()
        data = valid(InspectionPhotoInputSerializer(data=request.data))
        finding = None
        if data["finding"] is not None:
            finding = Finding.objects.filter(pk=data["finding"], inspection=inspection).first()
            if finding is None:
                raise ValidationError({"finding": "not a finding of this inspection"})
        upload = data["file"]
        limit = int(services.catalogue()["photos"]["max_bytes"])
        photo = services.add_photo(request.user, inspection, upload.name, upload.read(limit + 1),
                                   caption=data["caption"], finding=finding)
        return Response(InspectionPhotoSerializer(photo).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=InspectionSignSerializer, responses=InspectionSerializer)
    @action(detail=True, methods=["post"], serializer_class=InspectionSignSerializer)
    def sign(self, request, pk=None):
        """Sign the record as it is now (the lead inspector for themselves; the enterprise's representative, or
        their refusal with a witness)."""
        inspection = self.get_object()
        data = valid(InspectionSignSerializer(data=request.data))
        services.sign(request.user, inspection, data.pop("role"), **data)
        return self._answer(inspection)

    @extend_schema(request=None, responses=InspectionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """in_progress → completed: refused (409) without both current signatures."""
        inspection = self.get_object()
        services.complete(request.user, inspection)
        return self._answer(inspection)

    @extend_schema(request=InspectionCancelSerializer, responses=InspectionSerializer)
    @action(detail=True, methods=["post"], serializer_class=InspectionCancelSerializer)
    def cancel(self, request, pk=None):
        inspection = self.get_object()
        services.cancel(request.user, inspection, valid(InspectionCancelSerializer(data=request.data))["reason"])
        return self._answer(inspection)

    @extend_schema(request=InspectionAddendumInputSerializer, responses={201: InspectionAddendumSerializer})
    @action(detail=True, methods=["post"], serializer_class=InspectionAddendumInputSerializer)
    def addenda(self, request, pk=None):
        """The only correction of a completed inspection."""
        inspection = self.get_object()
        addendum = services.add_addendum(request.user, inspection,
                                         valid(InspectionAddendumInputSerializer(data=request.data))["text"])
        return Response(InspectionAddendumSerializer(addendum).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EnforcementDocumentInputSerializer, responses={201: EnforcementDocumentSerializer})
    @action(detail=True, methods=["post"], serializer_class=EnforcementDocumentInputSerializer)
    def documents(self, request, pk=None):
        """Issue an order to rectify or an on-site decision (a Word file, numbered per body and year)."""
        inspection = self.get_object()
        data = valid(EnforcementDocumentInputSerializer(data=request.data))
        document = documents.issue(request.user, inspection, **data)
        return Response(EnforcementDocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = InspectionFindingSerializer
    permission_classes = [permissions.IsAuthenticated, HasScope]
    filterset_class = FindingFilter
    ordering_fields = ["deadline", "created_at"]

    def get_queryset(self):
        return Finding.objects.visible_to(self.request.user).select_related("inspection", "hazard").order_by("-pk")

    @extend_schema(request=FindingRectifiedSerializer, responses=InspectionFindingSerializer)
    @action(detail=True, methods=["post"], serializer_class=FindingRectifiedSerializer)
    def rectified(self, request, pk=None):
        """An ordinary finding's rectification confirmed (after completion; the team or the mine's county)."""
        finding = self.get_object()
        services.confirm_rectified(request.user, finding, valid(FindingRectifiedSerializer(data=request.data))["note"])
        return Response(InspectionFindingSerializer(self.get_queryset().get(pk=finding.pk)).data)


class ChecklistTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """The checklists (every version); for officers. The city edits them on the web pages."""

    serializer_class = ChecklistTemplateSerializer
    filterset_fields = ["mine_type", "active", "code"]

    def get_queryset(self):
        if not services.is_officer(self.request.user):
            return ChecklistTemplate.objects.none()
        return ChecklistTemplate.objects.prefetch_related("items").order_by("mine_type", "-version")
