from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.registry.models import Mine, MineOwnedQuerySet


class HazardCatalogue(models.Model):
    """One version of the major-hazard standard (e.g. 矿安〔2022〕88号); items never change in place."""

    code = models.CharField(_("catalogue id"), max_length=32, unique=True)
    doc_no = models.CharField(_("document number"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    effective = models.DateField(_("in force from"))
    active = models.BooleanField(_("active"), default=True, help_text=_("new hazards cite items of active versions"))

    class Meta:
        ordering = ["-effective"]
        verbose_name = _("hazard standard version")
        verbose_name_plural = _("hazard standard versions")

    def __str__(self) -> str:
        return f"{self.doc_no} {self.title}"


class HazardItem(models.Model):
    class Facility(models.TextChoices):
        UNDERGROUND = "underground", _("Underground mine")
        OPEN_PIT = "open_pit", _("Open-pit mine")
        TAILINGS = "tailings", _("Tailings pond")

    # Which registry mine types an item of each facility type may be cited for.
    MINE_TYPES = {
        Facility.UNDERGROUND: {Mine.Type.UNDERGROUND},
        Facility.OPEN_PIT: {Mine.Type.OPEN_PIT, Mine.Type.QUARRY},
        Facility.TAILINGS: {Mine.Type.TAILINGS_POND},
    }

    catalogue = models.ForeignKey(HazardCatalogue, on_delete=models.PROTECT, related_name="items")
    code = models.CharField(_("item"), max_length=16)
    facility_type = models.CharField(_("applies to"), max_length=16, choices=Facility.choices)
    title_zh = models.CharField(_("title"), max_length=100)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    detectable_by = models.JSONField(_("detectable by"), default=list, blank=True)
    verified = models.BooleanField(_("verified against a public source"), default=False)
    evidence = models.CharField(_("evidence"), max_length=16, blank=True)

    class Meta:
        ordering = ["catalogue", "code"]
        verbose_name = _("hazard standard item")
        verbose_name_plural = _("hazard standard items")
        constraints = [models.UniqueConstraint(fields=["catalogue", "code"], name="hazard_item_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.title_zh}"

    def fits(self, mine_type: str) -> bool:
        return mine_type in self.MINE_TYPES.get(self.facility_type, set())


class HazardQuerySet(MineOwnedQuerySet):
    def open(self):
        return self.exclude(status__in=[Hazard.Status.CLOSED, Hazard.Status.CANCELLED])

    def overdue(self, today=None):
        today = today or timezone.localdate()
        return self.filter(status__in=[Hazard.Status.REPORTED, Hazard.Status.RECTIFYING], deadline__lt=today)


class Hazard(models.Model):
    class Status(models.TextChoices):
        REPORTED = "reported", _("Reported")
        RECTIFYING = "rectifying", _("Rectifying")
        SUBMITTED = "submitted", _("Awaiting verification")
        CLOSED = "closed", _("Closed (销号)")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        SELF_CHECK = "self_check", _("Enterprise self-check")
        COUNTY_INSPECTION = "county_inspection", _("County inspection")
        CITY_INSPECTION = "city_inspection", _("City inspection")
        TIPOFF = "tipoff", _("Whistleblower report")
        MONITORING = "monitoring", _("Monitoring alarm")
        REFERRAL = "referral", _("Higher-level referral")

    number = models.CharField(_("hazard number"), max_length=32, unique=True)
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="hazards", verbose_name=_("mine"))
    item = models.ForeignKey(HazardItem, on_delete=models.PROTECT, related_name="hazards",
                             verbose_name=_("standard item"))
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    found_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("recorded by"))
    finder_name = models.CharField(_("found by"), max_length=64)
    found_on = models.DateField(_("date found"))
    description = models.TextField(_("description"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REPORTED)

    # 五落实: responsibility, measures, funds, deadline, emergency plan.
    responsible_person = models.CharField(_("responsible person"), max_length=64, blank=True)
    measures = models.TextField(_("rectification measures"), blank=True)
    funds = models.DecimalField(_("funds (10k yuan)"), max_digits=10, decimal_places=2, null=True, blank=True)
    deadline = models.DateField(_("rectification deadline"), null=True, blank=True)
    emergency_plan = models.TextField(_("emergency plan meanwhile"), blank=True)

    city_supervised = models.BooleanField(_("supervised by the city (挂牌督办)"), default=False)
    is_repeat = models.BooleanField(_("repeat offence (屡改屡犯)"), default=False)
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="repeats")
    # Escalation: the rung reached (0 = none) and the day the daily job looks at this hazard again.
    escalation_level = models.PositiveSmallIntegerField(_("escalation rung"), default=0)
    escalate_on = models.DateField(_("next escalation check"), null=True, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = HazardQuerySet.as_manager()

    class Meta:
        ordering = ["-found_on", "-id"]
        verbose_name = _("major accident hazard")
        verbose_name_plural = _("major accident hazards")
        indexes = [
            models.Index(fields=["status", "deadline"], name="hazard_status_deadline_idx"),
            models.Index(fields=["mine", "item"], name="hazard_mine_item_idx"),
            # Scoped work lists: a county's mines, then only their hazards in the wanted status.
            models.Index(fields=["mine", "status", "deadline"], name="hazard_mine_status_idx"),
            models.Index(fields=["escalate_on"], name="hazard_escalate_idx",
                         condition=Q(escalate_on__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.item.code}"

    @property
    def plan_complete(self) -> bool:
        return all([self.responsible_person.strip(), self.measures.strip(), self.funds is not None,
                    self.deadline, self.emergency_plan.strip()])

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.CLOSED, self.Status.CANCELLED)

    @property
    def is_overdue(self) -> bool:
        return bool(self.status in (self.Status.REPORTED, self.Status.RECTIFYING) and self.deadline
                    and self.deadline < timezone.localdate())


class HazardOwnedQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(hazard__in=Hazard.objects.visible_to(user).values("pk"))


class HazardTransition(models.Model):
    """One row per status change, with its reason (Healthchecks' Flip)."""

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="transitions")
    old_status = models.CharField(max_length=12, choices=Hazard.Status.choices, blank=True)
    new_status = models.CharField(max_length=12, choices=Hazard.Status.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    objects = HazardOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.hazard_id}: {self.old_status} → {self.new_status}"


def attachment_path(instance, filename: str) -> str:
    return f"hazards/{instance.hazard_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


class HazardAttachment(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo of the hazard")
        DOCUMENT = "document", _("Document")
        RECTIFICATION = "rectification", _("Rectification evidence")
        VERIFICATION = "verification", _("Verification record")

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to=attachment_path)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = HazardOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


class DeadlineExtension(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="extensions")
    old_deadline = models.DateField(_("current deadline"))
    new_deadline = models.DateField(_("requested deadline"))
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    objects = HazardOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [models.UniqueConstraint(fields=["hazard"], condition=Q(status="pending"),
                                               name="one_pending_extension_per_hazard")]

    def __str__(self) -> str:
        return f"{self.hazard_id}: {self.old_deadline} → {self.new_deadline}"


class EscalationStep(models.Model):
    """A rung of the ladder reached by a hazard, and whom it went to."""

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(_("rung"))
    rung = models.CharField(_("step"), max_length=16)
    days_overdue = models.IntegerField(_("days overdue"))
    recipients = models.JSONField(_("sent to"), default=list)
    at = models.DateTimeField(default=timezone.now)

    objects = HazardOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["hazard", "level"]
        constraints = [models.UniqueConstraint(fields=["hazard", "level"], name="escalation_once_per_rung")]

    def __str__(self) -> str:
        return f"{self.hazard_id} {self.rung}"


class SelfCheck(models.Model):
    """A producing mine's monthly major-hazard self-check; zero hazards found is a valid report."""

    mine = models.ForeignKey(Mine, on_delete=models.CASCADE, related_name="self_checks")
    period = models.DateField(_("month"))
    hazards_found = models.PositiveIntegerField(_("major hazards found"), default=0)
    led_by = models.CharField(_("led by (principal head)"), max_length=64)
    note = models.CharField(_("note"), max_length=500, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-period"]
        constraints = [models.UniqueConstraint(fields=["mine", "period"], name="self_check_once_per_month")]

    def __str__(self) -> str:
        return f"{self.mine_id} {self.period:%Y-%m}"


class Investigation(models.Model):
    """屡改屡犯: an investigation of a mine that keeps having the same hazard, which may propose closure."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONCLUDED = "concluded", _("Concluded")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="investigations")
    hazards = models.ManyToManyField(Hazard, related_name="investigations")
    opened_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    team = models.CharField(_("investigation team"), max_length=200, blank=True)
    cause = models.TextField(_("cause"), blank=True)
    responsibility = models.TextField(_("responsibility"), blank=True)
    accountability_proposal = models.TextField(_("accountability proposal"), blank=True)
    propose_closure = models.BooleanField(_("propose closing the mine (提请关闭)"), default=False)
    parent_company_note = models.CharField(_("parent company's responsibility"), max_length=300, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [models.UniqueConstraint(fields=["mine"], condition=Q(status="open"),
                                               name="one_open_investigation_per_mine")]

    def __str__(self) -> str:
        return f"{self.mine} {self.opened_at:%Y-%m-%d}"
