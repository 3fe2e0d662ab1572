"""Enforcement staff, the expert pool and technical inspectors (plan tasks 27 and 30), with their training.

An officer belongs to an inspecting body (the city bureau, a county government, an inspection/expert body)
and may have a login; training records are appended, never edited, so "trained within three years" is a
query over them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, User
from minesafe.core.scoping import NOTHING, is_city


class OfficerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "OfficerQuerySet":
        """The city sees every body's officers; a county or an inspection body its own; nobody else any."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role in (User.Role.COUNTY, User.Role.INSPECTOR) and user.organisation_id:
            return self.filter(organisation_id=user.organisation_id)
        return self.filter(NOTHING)


class Officer(models.Model):
    class Kind(models.TextChoices):
        STAFF = "staff", _("Enforcement officer (执法人员)")
        EXPERT = "expert", _("Expert (专家)")
        TECHNICAL = "technical", _("Technical inspector (技术检查员)")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LEFT = "left", _("Left")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="officers",
                                     verbose_name=_("body"))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="officer", verbose_name=_("login"))
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.STAFF)
    post = models.CharField(_("post"), max_length=64, blank=True)
    speciality = models.CharField(_("speciality"), max_length=32, blank=True)
    certificate_no = models.CharField(_("law-enforcement certificate (执法证) number"), max_length=32, blank=True)
    certificate_expiry = models.DateField(_("certificate valid until"), null=True, blank=True)
    registered_safety_engineer = models.BooleanField(_("registered safety engineer"), default=False)
    joined_on = models.DateField(_("joined on"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OfficerQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name", "kind", "name"]
        constraints = [models.UniqueConstraint(
            fields=["certificate_no"], condition=~models.Q(certificate_no=""), name="officer_certificate_unique")]
        verbose_name = _("officer")
        verbose_name_plural = _("officers")

    def __str__(self) -> str:
        return self.name


class OfficerTraining(models.Model):
    """One officer's attendance of one course (a course for many officers is recorded as one row each)."""

    class Kind(models.TextChoices):
        CLASSROOM = "classroom", _("Classroom training")
        FIELD = "field", _("Field drill (实战练兵)")
        ONLINE = "online", _("Online course")

    officer = models.ForeignKey(Officer, on_delete=models.CASCADE, related_name="trainings")
    course = models.CharField(_("course"), max_length=128)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CLASSROOM)
    provider = models.CharField(_("provider"), max_length=128)
    start_on = models.DateField(_("from"))
    end_on = models.DateField(_("to"))
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1)
    passed = models.BooleanField(_("passed the assessment"), default=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-end_on", "pk"]
        indexes = [models.Index(fields=["officer", "end_on"], name="officer_training_end_idx")]
        verbose_name = _("officer training")
        verbose_name_plural = _("officer trainings")

    def __str__(self) -> str:
        return f"{self.officer} {self.course}"
