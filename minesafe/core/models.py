from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """An administrative (or statistical) division, keyed by its code (GB/T 2260 or NBS)."""

    class Kind(models.TextChoices):
        CITY = "city", _("City")
        DISTRICT = "district", _("District")
        COUNTY = "county", _("County")
        AUTONOMOUS_COUNTY = "autonomous_county", _("Autonomous county")
        COUNTY_LEVEL_CITY = "county_level_city", _("County-level city")
        DEVELOPMENT_ZONE = "development_zone", _("Development zone")

    code = models.CharField(_("division code"), max_length=12, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=64)
    name_en = models.CharField(_("name (English)"), max_length=128, blank=True)
    short_zh = models.CharField(_("short name"), max_length=32, blank=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    statistical_only = models.BooleanField(_("statistical code only"), default=False)
    former_codes = models.JSONField(_("former codes"), default=list, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.short_zh or self.name_zh

    @property
    def is_county_level(self) -> bool:
        return self.kind != self.Kind.CITY


class Organisation(models.Model):
    """A body whose users act on the platform: the city bureau, a city department, a county, an enterprise."""

    class Kind(models.TextChoices):
        CITY_BUREAU = "city_bureau", _("City emergency-management bureau")
        DEPARTMENT = "department", _("City department")
        COUNTY = "county", _("County government")
        ENTERPRISE = "enterprise", _("Enterprise")
        INSPECTION_BODY = "inspection_body", _("Inspection / expert body")

    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    # Plan unit code (YJ, ZRZY, GA …) for city departments; blank otherwise.
    unit_code = models.CharField(_("unit code"), max_length=16, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organisations")

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="organisation_kind_name_unique")]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        CITY = "city", _("City bureau")
        DEPARTMENT = "department", _("City department")
        COUNTY = "county", _("County")
        ENTERPRISE = "enterprise", _("Enterprise")
        INSPECTOR = "inspector", _("Inspector / expert")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, blank=True)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    failed_logins = models.PositiveSmallIntegerField(_("consecutive failed logins"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def county_id(self) -> int | None:
        """The county a county user acts for."""
        if self.role == self.Role.COUNTY and self.organisation_id:
            return self.organisation.region_id
        return None


class AuditEvent(models.Model):
    """Append-only change log; each event carries the hash of the one before (see core.audit)."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        TRANSITION = "transition", _("status changed")
        IMPORT = "import", _("imported")
        LOGIN = "login", _("logged in")
        LOGIN_FAILED = "login_failed", _("login failed")
        LOCKED = "locked", _("account locked")
        LOGOUT = "logout", _("logged out")

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_repr = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class StoredFile(models.Model):
    """An uploaded file kept as it was received: the name and type it came with, its size and SHA-256 (checked
    on upload, never rewritten). Each subclass adds `file` with its own storage path and the record it belongs to."""

    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.original_name


class ReferenceCatalogue(models.Model):
    """Versioned reference data (grade tables, scale thresholds …) an administrator can edit.

    Loaded from the YAML under core/reference; exactly one version per kind is active.
    """

    kind = models.CharField(_("kind"), max_length=32)
    version = models.CharField(_("version"), max_length=32)
    data = models.JSONField(_("data"))
    active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "-version"]
        verbose_name = _("reference catalogue")
        verbose_name_plural = _("reference catalogues")
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="catalogue_kind_version_unique"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(active=True), name="catalogue_one_active_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.version}"


class Notification(models.Model):
    """An in-app message to one person; other channels (e-mail, SMS) are sent alongside by core.notify."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.subject
