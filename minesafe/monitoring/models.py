"""Online monitoring: gateways, sensors, rules, readings, alarms with 叫应回应, quarantine.

Readings are a narrow table keyed by (sensor, ts), written by raw batch SQL in `ingest.py` (the
migration creates it by hand: WITHOUT ROWID on SQLite, partitioned by month on PostgreSQL).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minesafe.core.scoping import ScopedQuerySet, ScopePaths, is_city
from minesafe.registry.models import Mine, MineOwnedQuerySet


class SensorOwnedQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(county="sensor__mine__county_id",
                             organisation="sensor__mine__enterprise__organisation_id", mine="sensor__mine_id")


class AlarmOwnedQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(county="alarm__mine__county_id",
                             organisation="alarm__mine__enterprise__organisation_id", mine="alarm__mine_id")


class Level(models.IntegerChoices):
    NONE = 0, _("Normal")
    BLUE = 1, _("Blue")
    YELLOW = 2, _("Yellow")
    ORANGE = 3, _("Orange")
    RED = 4, _("Red")


LEVEL_CODES = {"blue": Level.BLUE, "yellow": Level.YELLOW, "orange": Level.ORANGE, "red": Level.RED}


class Gateway(models.Model):
    """A mine's data-collection gateway; its token is shown once and kept only as a SHA-256 hash."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="gateways", verbose_name=_("mine"))
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(_("token prefix"), max_length=12, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("token issued at"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "name"]
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"


class Sensor(models.Model):
    """One measuring point. A derived sensor (no gateway) computes offset + scale x its source's value."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="sensors", verbose_name=_("mine"))
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.PROTECT, related_name="sensors",
                                verbose_name=_("gateway"))
    code = models.CharField(_("sensor code"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32)
    unit = models.CharField(_("unit"), max_length=16)
    interval_s = models.PositiveIntegerField(_("expected interval (s)"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    source = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived",
                               verbose_name=_("derived from"))
    derive_offset = models.FloatField(_("derived offset"), default=0.0)
    derive_scale = models.FloatField(_("derived scale"), default=1.0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Live state, written by ingest in batches: the newest reading and each rule's evaluation state.
    level = models.SmallIntegerField(_("level"), choices=Level.choices, default=Level.NONE)
    last_value = models.FloatField(_("last value"), null=True, blank=True)
    last_ts = models.DateTimeField(_("last reading at"), null=True, blank=True)
    last_epoch = models.FloatField(null=True, blank=True, editable=False)  # last_ts as epoch seconds (ingest)
    last_received_at = models.DateTimeField(_("last received"), null=True, blank=True)
    silent = models.BooleanField(_("silent"), default=False)
    state = models.JSONField(default=dict, blank=True)
    # Hourly samples [received epoch, reading epoch] of the newest reading: its clock against the server's,
    # for the data-quality check of clock drift (readings themselves keep no receive time).
    clock_samples = models.JSONField(default=list, blank=True, editable=False)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "kind", "code"]
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        constraints = [models.UniqueConstraint(fields=["mine", "code"], name="sensor_code_unique_per_mine")]
        indexes = [models.Index(fields=["mine", "kind"], name="sensor_mine_kind_idx")]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def derived_sensor(self) -> bool:
        return self.source_id is not None


class Rule(models.Model):
    """One evaluation rule of a sensor: four-colour threshold, rate of change, or no data."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("Threshold")
        RATE = "rate", _("Rate of change")
        NO_DATA = "no_data", _("No data")

    class Direction(models.TextChoices):
        UPPER = "upper", _("Upper (value at or above)")
        LOWER = "lower", _("Lower (value at or below)")

    sensor = models.ForeignKey(Sensor, on_delete=models.CASCADE, related_name="rules", verbose_name=_("sensor"))
    kind = models.CharField(_("rule kind"), max_length=16, choices=Kind.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.UPPER)
    blue = models.FloatField(_("blue"), null=True, blank=True)
    yellow = models.FloatField(_("yellow"), null=True, blank=True)
    orange = models.FloatField(_("orange"), null=True, blank=True)
    red = models.FloatField(_("red"), null=True, blank=True)
    hysteresis = models.FloatField(_("hysteresis"), default=0.0)
    min_duration_s = models.PositiveIntegerField(_("minimum duration (s)"), default=0)
    window_s = models.PositiveIntegerField(_("rate window (s)"), null=True, blank=True)
    per_s = models.PositiveIntegerField(_("rate per (s)"), null=True, blank=True)
    silent_intervals = models.PositiveSmallIntegerField(_("silent intervals"), default=3)
    level = models.SmallIntegerField(_("no-data level"), choices=Level.choices, default=Level.YELLOW)
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SensorOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["sensor", "kind", "pk"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")

    def __str__(self):
        return f"{self.sensor.code} {self.get_kind_display()}"

    def thresholds(self) -> list[tuple[int, float]]:
        return [(lvl, t) for lvl, t in ((1, self.blue), (2, self.yellow), (3, self.orange), (4, self.red))
                if t is not None]


class Reading(models.Model):
    """Telemetry: one value per sensor and timestamp. Written by `ingest.write_readings` only."""

    pk = models.CompositePrimaryKey("sensor_id", "ts")
    sensor = models.ForeignKey(Sensor, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        # Migration 0001 creates the table with vendor SQL (partitioned on PostgreSQL, WITHOUT ROWID on
        # SQLite); the model stays managed so that test flushes empty it.
        db_table = "monitoring_reading"
        ordering = ["sensor", "ts"]

    def __str__(self):
        return f"{self.sensor_id}@{self.ts:%Y-%m-%d %H:%M:%S}={self.value}"


class Alarm(models.Model):
    """One open alarm per key (sensor and rule, item, or mine); level changes are appended as events."""

    class Source(models.TextChoices):
        THRESHOLD = "threshold", _("Threshold")
        RATE = "rate", _("Rate of change")
        NO_DATA = "no_data", _("No data")
        AGGREGATE = "aggregate", _("Monitoring item (aggregated points)")
        MINE_DARK = "mine_dark", _("Whole mine silent")
        FORECAST = "forecast", _("Failure-time forecast")
        DATA_QUALITY = "data_quality", _("Data quality (stuck, replayed or falsified data)")

    class Status(models.TextChoices):
        UNACKNOWLEDGED = "unacknowledged", _("Awaiting acknowledgement (叫应)")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged, awaiting response (回应)")
        RESPONDED = "responded", _("Responded, awaiting review")
        ACCEPTED = "accepted", _("Response accepted")

    class Tier(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprise")
        COUNTY = "county", _("County")
        CITY = "city", _("City")

    key = models.CharField(max_length=64, editable=False)
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("mine"))
    sensor = models.ForeignKey(Sensor, null=True, blank=True, on_delete=models.PROTECT, related_name="alarms",
                               verbose_name=_("sensor"))
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alarms")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    kind = models.CharField(_("monitored quantity"), max_length=32, blank=True)
    level = models.SmallIntegerField(_("level"), choices=Level.choices)
    max_level = models.SmallIntegerField(_("highest level"), choices=Level.choices)
    value = models.FloatField(_("value"), null=True, blank=True)
    active = models.BooleanField(_("condition present"), default=True)
    opened_at = models.DateTimeField(_("opened at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    status = models.CharField(_("handling"), max_length=16, choices=Status.choices, default=Status.UNACKNOWLEDGED)
    tier = models.CharField(_("escalated to"), max_length=12, choices=Tier.choices, default=Tier.ENTERPRISE)
    ack_due_at = models.DateTimeField(_("acknowledge by"))
    response_due_at = models.DateTimeField(_("respond by"))
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name=_("acknowledged by"))
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    responded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("responded by"))
    measures = models.TextField(_("measures taken"), blank=True)
    people_withdrawn = models.BooleanField(_("people withdrawn"), null=True, blank=True)
    withdrawn_count = models.PositiveIntegerField(_("people withdrawn (count)"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("reviewed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # What an analysis found (data-quality spans, forecast figures): shown with the alarm as its evidence.
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-level", "-opened_at"]
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(closed_at__isnull=True),
                                               name="alarm_one_open_per_key")]
        indexes = [
            models.Index(fields=["mine", "closed_at"], name="alarm_mine_open_idx"),
            models.Index(fields=["status", "ack_due_at"], name="alarm_status_due_idx"),
        ]

    def __str__(self):
        return f"{self.mine} · {self.get_source_display()} · {self.get_level_display()}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class AlarmEvent(models.Model):
    """Append-only history of one alarm: opened, raised, lowered, cleared, 叫应, 回应, escalations, reminders."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        RAISED = "raised", _("Level raised")
        LOWERED = "lowered", _("Level lowered")
        CLEARED = "cleared", _("Condition cleared")
        REACTIVATED = "reactivated", _("Condition returned")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged (叫应)")
        RESPONDED = "responded", _("Response recorded (回应)")
        ACCEPTED = "accepted", _("Response accepted")
        RETURNED = "returned", _("Response returned")
        ESCALATED = "escalated", _("Escalated")
        REMINDED = "reminded", _("Reminder sent")
        CLOSED = "closed", _("Closed")

    alarm = models.ForeignKey(Alarm, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    level = models.SmallIntegerField(_("level"), choices=Level.choices)
    value = models.FloatField(_("value"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    note = models.TextField(_("note"), blank=True)

    objects = AlarmOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["alarm", "at", "pk"]
        verbose_name = _("alarm event")

    def __str__(self):
        return f"{self.alarm_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class QuarantineQuerySet(MineOwnedQuerySet):
    def visible_to(self, user):
        """A message no mine could be identified for is the city's alone (it may name any mine)."""
        qs = super().visible_to(user)
        return qs if is_city(user) else qs.filter(mine__isnull=False)


class QuarantinedMessage(models.Model):
    """A telemetry message (or the bad rows of one) that could not be stored, kept with the reasons."""

    received_at = models.DateTimeField(_("received at"))
    channel = models.CharField(_("channel"), max_length=8)
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    mine = models.ForeignKey(Mine, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("mine"))
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("gateway"))
    payload = models.TextField(_("payload"))
    truncated = models.BooleanField(_("payload truncated"), default=False)
    errors = models.JSONField(_("errors"), default=list)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)

    objects = QuarantineQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("quarantined message")
        verbose_name_plural = _("quarantined messages")

    def __str__(self):
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M:%S} ({self.rows_rejected}/{self.rows_total})"


# Suspended mines watched through other bodies' data (issue 5, part 2) ------------------------------
class CovertQuerySet(MineOwnedQuerySet):
    """Signals of hidden production are for regulators only: the city, the mine's county and inspectors
    assigned to the mine. The enterprise must not learn that it is watched (暗查暗访), and departments only
    see the data they uploaded themselves (see `uploaded_by`)."""

    def visible_to(self, user):
        if user is None or not user.is_authenticated:
            return self.none()
        if user.role in (user.Role.ENTERPRISE, user.Role.DEPARTMENT) and not user.is_superuser:
            return self.none()
        return super().visible_to(user)


class UploadedQuerySet(CovertQuerySet):
    def visible_to(self, user):
        if user is not None and user.is_authenticated and user.role == user.Role.DEPARTMENT \
                and not user.is_superuser:
            return self.filter(upload__organisation_id=user.organisation_id)
        return super().visible_to(user)


class DataUpload(models.Model):
    """One batch of another body's data about mines: meter readings from the power company (供电公司) or
    explosives issued, from the police (公安局). Kept so every stored row says where it came from."""

    class Kind(models.TextChoices):
        METER = "meter", _("Electricity meter readings")
        EXPLOSIVES = "explosives", _("Explosives issued")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    organisation = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("organisation"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"))
    channel = models.CharField(_("channel"), max_length=8)  # file / api
    filename = models.CharField(_("file"), max_length=200, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("new rows"), default=0)
    replaced = models.PositiveIntegerField(_("corrected rows"), default=0)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        verbose_name = _("data upload")
        verbose_name_plural = _("data uploads")

    def __str__(self):
        return f"{self.get_kind_display()} {self.uploaded_at:%Y-%m-%d %H:%M} ({self.rows})"


class MeterReading(models.Model):
    """Energy drawn by a mine over one hour or one day (kWh), as the power company metered it."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="meter_readings", verbose_name=_("mine"))
    period_start = models.DateTimeField(_("period start"))
    hours = models.PositiveSmallIntegerField(_("hours covered"))  # 1 or 24
    kwh = models.FloatField(_("energy (kWh)"))
    upload = models.ForeignKey(DataUpload, on_delete=models.PROTECT, related_name="meter_readings")

    objects = UploadedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "period_start"]
        verbose_name = _("meter reading")
        verbose_name_plural = _("meter readings")
        constraints = [models.UniqueConstraint(fields=["mine", "period_start"], name="meter_one_per_period")]

    def __str__(self):
        return f"{self.mine_id} {self.period_start:%Y-%m-%d %H:%M} {self.kwh} kWh"


class ExplosivesIssue(models.Model):
    """Explosives issued to a mine (police data, 民爆物品)."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="explosives_issues", verbose_name=_("mine"))
    issued_on = models.DateField(_("issued on"))
    permit_no = models.CharField(_("permit number"), max_length=64)
    explosive_kg = models.DecimalField(_("explosive (kg)"), max_digits=10, decimal_places=2, default=0)
    detonators = models.PositiveIntegerField(_("detonators"), default=0)
    upload = models.ForeignKey(DataUpload, on_delete=models.PROTECT, related_name="explosives_issues")

    objects = UploadedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "mine"]
        verbose_name = _("explosives issue")
        verbose_name_plural = _("explosives issues")
        constraints = [models.UniqueConstraint(fields=["mine", "permit_no"], name="explosives_one_per_permit")]

    def __str__(self):
        return f"{self.mine_id} {self.issued_on} {self.permit_no}"


class ProductionFlag(models.Model):
    """A sign that a suspended mine is producing: a task for the county to check by surprise (暗查暗访).

    open → confirmed (production found: may open a hazard, an enforcement case is due)
    open → dismissed (false flag, with the reason; for electricity the baseline is relearned from it)
    """

    class Signal(models.TextChoices):
        ELECTRICITY = "electricity", _("Electricity use above the suspension baseline")
        HEADCOUNT = "headcount", _("People underground above the watch headcount")
        EXPLOSIVES = "explosives", _("Explosives issued to a suspended mine")

    class Status(models.TextChoices):
        OPEN = "open", _("Awaiting surprise inspection")
        CONFIRMED = "confirmed", _("Production confirmed")
        DISMISSED = "dismissed", _("False flag")

    class Method(models.TextChoices):
        COVERT = "covert", _("Unannounced visit (暗查暗访)")
        SURPRISE = "surprise", _("Surprise inspection (突击检查)")
        CROSS = "cross", _("Cross inspection (交叉互查)")
        REMOTE = "remote", _("Remote check (video and data)")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="production_flags", verbose_name=_("mine"))
    signal = models.CharField(_("signal"), max_length=12, choices=Signal.choices)
    # Identifies the episode so a re-run does not flag it twice: the change day, the headcount day, the permit.
    episode = models.CharField(max_length=64, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    detected_at = models.DateTimeField(_("detected at"))
    began_on = models.DateField(_("began on"))
    summary = models.CharField(_("summary"), max_length=300)
    evidence = models.JSONField(_("evidence"), default=dict)
    inspect_by = models.DateField(_("inspect by"))
    inspected_on = models.DateField(_("inspected on"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    dismissal_reason = models.TextField(_("reason for dismissal"), blank=True)
    case_required = models.BooleanField(_("enforcement case required"), default=False)
    hazard = models.ForeignKey("hazards.Hazard", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("hazard opened"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = CovertQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-pk"]
        verbose_name = _("production flag")
        verbose_name_plural = _("production flags")
        constraints = [models.UniqueConstraint(fields=["mine", "signal", "episode"], name="flag_one_per_episode")]
        indexes = [models.Index(fields=["status", "inspect_by"], name="flag_status_due_idx")]

    def __str__(self):
        return f"{self.mine} · {self.get_signal_display()} · {self.began_on}"

    @property
    def overdue(self) -> bool:
        from django.utils import timezone

        return self.status == self.Status.OPEN and self.inspect_by < timezone.localdate()
