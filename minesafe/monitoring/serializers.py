import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from minesafe.registry.models import Mine

from .models import Alarm, AlarmEvent, Gateway, QuarantinedMessage, Rule, Sensor
from .services import RULE_FIELDS


class GatewaySerializer(serializers.ModelSerializer):
    """A gateway as everyone sees it: the token prefix only, never the token or its hash."""

    mine_name = serializers.CharField(source="mine.name", read_only=True)

    class Meta:
        model = Gateway
        fields = ["id", "mine", "mine_name", "name", "token_prefix", "active", "created_at", "rotated_at",
                  "last_seen_at"]
        read_only_fields = fields


class GatewayTokenSerializer(GatewaySerializer):
    """The answer to creating a gateway or rotating its token: the only time the token is shown."""

    token = serializers.CharField(read_only=True, help_text="shown once; only its hash is kept")

    class Meta(GatewaySerializer.Meta):
        fields = [*GatewaySerializer.Meta.fields, "token"]
        read_only_fields = fields


class GatewayCreateSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    name = serializers.CharField(max_length=100)

    def __init__(self, *args, mines=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only mines the caller can see (deny by default): an invisible mine is "does not exist".
        self.fields["mine"].queryset = mines if mines is not None else Mine.objects.none()


class SensorSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    derived_sensor = serializers.BooleanField(read_only=True)

    class Meta:
        model = Sensor
        fields = ["id", "mine", "mine_name", "county", "gateway", "code", "name", "kind", "unit", "interval_s",
                  "location", "latitude", "longitude", "active", "source", "derive_offset", "derive_scale",
                  "derived_sensor", "level", "last_value", "last_ts", "last_received_at", "silent", "created_at"]
        read_only_fields = fields


class SensorWriteSerializer(serializers.ModelSerializer):
    """Input for changing a sensor: field validation only; the service checks kind, gateway and source."""

    class Meta:
        model = Sensor
        fields = ["code", "name", "kind", "unit", "interval_s", "location", "latitude", "longitude", "active",
                  "gateway", "source", "derive_offset", "derive_scale"]
        validators = []  # the service reports a duplicate code on the field, with the other domain checks

    def __init__(self, *args, gateways=None, sensors=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].queryset = gateways if gateways is not None else Gateway.objects.none()
        self.fields["source"].queryset = sensors if sensors is not None else Sensor.objects.none()


class SensorCreateSerializer(SensorWriteSerializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=Mine.objects.none())
    default_rules = serializers.BooleanField(
        default=True, help_text="add the kind's default rules and a no-data rule")

    class Meta(SensorWriteSerializer.Meta):
        fields = ["mine", *SensorWriteSerializer.Meta.fields, "default_rules"]
        extra_kwargs = {name: {"required": False} for name in SensorWriteSerializer.Meta.fields
                        if name not in ("code", "kind")}

    def __init__(self, *args, mines=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines if mines is not None else Mine.objects.none()


class RuleSerializer(serializers.ModelSerializer):
    mine = serializers.IntegerField(source="sensor.mine_id", read_only=True)

    class Meta:
        model = Rule
        fields = ["id", "sensor", "mine", *RULE_FIELDS, "updated_at"]
        read_only_fields = fields


class RuleWriteSerializer(serializers.ModelSerializer):
    """Input for changing a rule (its kind stays)."""

    class Meta:
        model = Rule
        fields = [name for name in RULE_FIELDS if name != "kind"]


class RuleCreateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rule
        fields = ["sensor", *RULE_FIELDS]

    def __init__(self, *args, sensors=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sensor"].queryset = sensors if sensors is not None else Sensor.objects.none()


class AlarmSerializer(serializers.ModelSerializer):
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    county = serializers.CharField(source="mine.county.code", read_only=True)
    sensor_code = serializers.CharField(source="sensor.code", read_only=True, default=None)
    sensor_name = serializers.CharField(source="sensor.name", read_only=True, default=None)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Alarm
        fields = ["id", "mine", "mine_name", "county", "sensor", "sensor_code", "sensor_name", "rule", "source",
                  "kind", "level", "max_level", "value", "active", "is_open", "opened_at", "cleared_at", "status",
                  "tier", "ack_due_at", "response_due_at", "acknowledged_at", "acknowledged_by", "responded_at",
                  "responded_by", "measures", "people_withdrawn", "withdrawn_count", "reviewed_at", "reviewed_by",
                  "closed_at", "evidence"]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RespondSerializer(serializers.Serializer):
    measures = serializers.CharField()
    people_withdrawn = serializers.BooleanField(required=False, allow_null=True, default=None)
    withdrawn_count = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)


class ReviewSerializer(serializers.Serializer):
    accept = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AlarmEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.display_name", read_only=True, default=None)

    class Meta:
        model = AlarmEvent
        fields = ["id", "alarm", "at", "kind", "level", "value", "actor", "actor_name", "note"]
        read_only_fields = fields


class QuarantinedMessageSerializer(serializers.ModelSerializer):
    """A stored bad message. An MQTT body carries its gateway's token: ingest.redact masked it before the
    message was stored, so the payload is shown as it is."""

    class Meta:
        model = QuarantinedMessage
        fields = ["id", "received_at", "channel", "topic", "mine", "gateway", "payload", "truncated", "errors",
                  "rows_total", "rows_rejected"]
        read_only_fields = fields


class RateSerializer(serializers.Serializer):
    sensors = serializers.IntegerField()
    online = serializers.IntegerField()
    online_ratio = serializers.FloatField(allow_null=True)
    required_mines = serializers.IntegerField()
    connected_mines = serializers.IntegerField()
    connection_ratio = serializers.FloatField(allow_null=True)


class MineRateSerializer(RateSerializer):
    mine = serializers.IntegerField(source="key.pk")
    code = serializers.CharField(source="key.code")
    name = serializers.CharField(source="label")
    county = serializers.CharField(source="key.county.code")


class CountyRateSerializer(RateSerializer):
    county = serializers.CharField(source="key.code")
    name = serializers.CharField(source="label")


class CityRateSerializer(RateSerializer):
    name = serializers.CharField(source="label")


class OnlineRateSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    mines = MineRateSerializer(many=True)
    counties = CountyRateSerializer(many=True)
    city = CityRateSerializer()


class ReadingsQuerySerializer(serializers.Serializer):
    """The range of a readings request; both ends included."""

    since = serializers.DateTimeField(required=False, help_text="ISO 8601; default: `until` minus 24 hours")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; default: now")

    def validate(self, attrs):
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - dt.timedelta(hours=24)
        if since > until:
            raise serializers.ValidationError({"since": _("the start must not be later than the end")})
        return {"since": since, "until": until}


class ReadingSerializer(serializers.Serializer):
    ts = serializers.DateTimeField()
    value = serializers.FloatField()


class ReadingsSerializer(serializers.Serializer):
    sensor = serializers.IntegerField()
    unit = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="more readings in the range than `limit`; ask again from `next`")
    next = serializers.DateTimeField(allow_null=True, help_text="`since` for the rest of the range when truncated")
    readings = ReadingSerializer(many=True)
