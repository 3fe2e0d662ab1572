from rest_framework import serializers

from minesafe.core.models import AuditEvent, Region
from minesafe.core.scoping import is_city
from minesafe.core.validators import validate_credit_code

from .models import Enterprise, LedgerSubmission, Mine, MineStatusChange, ResponsibleLeader
from .services import MINE_FIELDS


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name_zh", "name_en", "short_zh", "kind", "statistical_only", "former_codes"]


class EnterpriseSerializer(serializers.ModelSerializer):
    county = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Enterprise
        fields = ["id", "name", "credit_code", "county", "legal_representative", "phone", "address"]


class MineSerializer(serializers.ModelSerializer):
    county = serializers.SlugRelatedField(slug_field="code", read_only=True)
    enterprise = EnterpriseSerializer(read_only=True)
    ledger_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Mine
        fields = ["id", "code", "county", "enterprise", "status", "status_since", *MINE_FIELDS, "scale_source",
                  "pond_grade", "last_ledger_period", "ledger_due_date", "ledger_overdue", "updated_at"]
        read_only_fields = fields


class MineWriteSerializer(serializers.ModelSerializer):
    """Input for create and update: field validation only; the service applies the domain rules."""

    class Meta:
        model = Mine
        fields = MINE_FIELDS
        extra_kwargs = {name: {"required": False} for name in MINE_FIELDS if name not in ("name", "mine_type")}


class MineCreateSerializer(MineWriteSerializer):
    code = serializers.CharField(max_length=32)
    county = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.exclude(kind="city"))
    status = serializers.ChoiceField(choices=Mine.Status.choices, default=Mine.Status.PRODUCING)
    status_since = serializers.DateField(required=False)
    enterprise_name = serializers.CharField(max_length=128)
    credit_code = serializers.CharField(max_length=18, validators=[validate_credit_code])

    class Meta(MineWriteSerializer.Meta):
        fields = ["code", "county", "status", "status_since", "enterprise_name", "credit_code", *MINE_FIELDS]


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Mine.Status.choices)
    reason = serializers.CharField(max_length=200)
    effective_date = serializers.DateField(required=False)


class LedgerSubmissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerSubmission
        fields = ["id", "mine", "period", "status", "people_underground", "output", "changes", "note",
                  "submitted_at"]
        read_only_fields = ["id", "mine", "status", "changes", "submitted_at"]


class StatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MineStatusChange
        fields = ["id", "mine", "old_status", "new_status", "effective_date", "reason", "created_at"]


class LeaderSerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField()

    def get_phone(self, leader) -> str:
        """Leaders' phone numbers are for the regulators who assign them, not every reader."""
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return leader.phone if user is not None and (is_city(user) or user.role == "county") else ""

    class Meta:
        model = ResponsibleLeader
        fields = ["id", "mine", "name", "post", "level", "phone", "start_date", "end_date", "published"]


class PublicLeaderSerializer(serializers.ModelSerializer):
    """What the public sees: no phone numbers."""

    mine_name = serializers.CharField(source="mine.name")
    county = serializers.CharField(source="mine.county.name_zh")

    class Meta:
        model = ResponsibleLeader
        fields = ["mine_name", "county", "name", "post", "level", "start_date"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["seq", "at", "actor_repr", "action", "object_type", "object_id", "object_repr", "before", "after",
                  "request_id", "hash"]
