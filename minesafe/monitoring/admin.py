from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin

from .models import Alarm, AlarmEvent, Gateway, QuarantinedMessage, Rule, Sensor


@admin.register(Gateway)
class GatewayAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "mine", "token_prefix", "active", "last_seen_at"]
    list_filter = ["active"]


@admin.register(Sensor)
class SensorAdmin(ReadOnlyModelAdmin):
    list_display = ["code", "name", "mine", "kind", "level", "last_value", "last_received_at", "active"]
    list_filter = ["kind", "active", "level"]
    search_fields = ["code", "name", "mine__name"]


@admin.register(Rule)
class RuleAdmin(ReadOnlyModelAdmin):
    list_display = ["sensor", "kind", "direction", "blue", "yellow", "orange", "red", "active"]
    list_filter = ["kind"]


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyModelAdmin):
    list_display = ["mine", "source", "kind", "level", "status", "tier", "opened_at", "closed_at"]
    list_filter = ["source", "level", "status", "tier"]


@admin.register(AlarmEvent)
class AlarmEventAdmin(ReadOnlyModelAdmin):
    list_display = ["alarm", "at", "kind", "level", "actor"]


@admin.register(QuarantinedMessage)
class QuarantinedMessageAdmin(ReadOnlyModelAdmin):
    list_display = ["received_at", "channel", "topic", "mine", "rows_total", "rows_rejected"]
    list_filter = ["channel"]
