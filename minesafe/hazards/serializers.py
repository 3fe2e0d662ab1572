from rest_framework import serializers

from minesafe.registry.models import Mine

from .models import (
    DeadlineExtension,
    EscalationStep,
    Hazard,
    HazardAttachment,
    HazardItem,
    HazardTransition,
    Investigation,
    SelfCheck,
)


class HazardItemSerializer(serializers.ModelSerializer):
    catalogue = serializers.CharField(source="catalogue.code", read_only=True)

    class Meta:
        model = HazardItem
        fields = ["id", "catalogue", "code", "facility_type", "title_zh", "summary_en", "detectable_by", "verified",
                  "evidence"]


class HazardSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    item_code = serializers.CharField(source="item.code", read_only=True)
    item_title = serializers.CharField(source="item.title_zh", read_only=True)
    catalogue = serializers.CharField(source="item.catalogue.code", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)
    plan_complete = serializers.BooleanField(read_only=True)

    class Meta:
        model = Hazard
        fields = ["id", "number", "mine", "mine_name", "county", "item", "item_code", "item_title", "catalogue",
                  "source", "finder_name", "found_on", "description", "status", "responsible_person", "measures",
                  "funds", "deadline", "emergency_plan", "plan_complete", "is_overdue", "city_supervised",
                  "is_repeat", "repeat_of", "escalation_level", "reported_at", "closed_at"]
        read_only_fields = fields


class HazardReportSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.all())
    item = serializers.CharField(help_text="standard item code, e.g. UG-01 (active version)")
    source = serializers.ChoiceField(choices=Hazard.Source.choices)
    found_on = serializers.DateField()
    description = serializers.CharField()
    finder_name = serializers.CharField(required=False, allow_blank=True, max_length=64)
    city_supervised = serializers.BooleanField(required=False, default=False)
    responsible_person = serializers.CharField(required=False, allow_blank=True, max_length=64)
    measures = serializers.CharField(required=False, allow_blank=True)
    funds = serializers.DecimalField(required=False, allow_null=True, max_digits=10, decimal_places=2)
    deadline = serializers.DateField(required=False, allow_null=True)
    emergency_plan = serializers.CharField(required=False, allow_blank=True)

    def __init__(self, *args, mines=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mines is not None:  # only mines the caller can see: an invisible mine is "does not exist"
            self.fields["mine"].queryset = mines


class PlanSerializer(serializers.Serializer):
    responsible_person = serializers.CharField(required=False, allow_blank=True, max_length=64)
    measures = serializers.CharField(required=False, allow_blank=True)
    funds = serializers.DecimalField(required=False, allow_null=True, max_digits=10, decimal_places=2)
    deadline = serializers.DateField(required=False, allow_null=True)
    emergency_plan = serializers.CharField(required=False, allow_blank=True)


class HazardTransitionRequestSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Hazard.Status.choices)
    reason = serializers.CharField(max_length=500)


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = HazardAttachment
        fields = ["id", "hazard", "kind", "original_name", "content_type", "size", "sha256", "uploaded_at"]


class AttachmentUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HazardAttachment.Kind.choices)
    file = serializers.FileField()


class ExtensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadlineExtension
        fields = ["id", "hazard", "old_deadline", "new_deadline", "reason", "status", "requested_at", "decided_at",
                  "decision_note"]
        read_only_fields = ["id", "hazard", "old_deadline", "status", "requested_at", "decided_at", "decision_note"]


class DecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class SuperviseSerializer(serializers.Serializer):
    city_supervised = serializers.BooleanField()


class HazardTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = HazardTransition
        fields = ["id", "hazard", "old_status", "new_status", "reason", "at"]


class EscalationStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = EscalationStep
        fields = ["id", "hazard", "level", "rung", "days_overdue", "recipients", "at"]


class SelfCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = SelfCheck
        fields = ["id", "mine", "period", "hazards_found", "led_by", "note", "submitted_at"]
        read_only_fields = ["id", "submitted_at"]

    def __init__(self, *args, mines=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mines is not None:
            self.fields["mine"].queryset = mines


class InvestigationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Investigation
        fields = ["id", "mine", "hazards", "opened_at", "status", "team", "cause", "responsibility",
                  "accountability_proposal", "propose_closure", "parent_company_note", "concluded_at"]
        read_only_fields = fields


class ConcludeSerializer(serializers.Serializer):
    team = serializers.CharField(max_length=200)
    cause = serializers.CharField()
    responsibility = serializers.CharField()
    accountability_proposal = serializers.CharField()
    propose_closure = serializers.BooleanField()
    parent_company_note = serializers.CharField(required=False, allow_blank=True, max_length=300)
