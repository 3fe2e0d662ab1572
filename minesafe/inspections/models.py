"""Inspections (执法检查, plan tasks 24–25): one visit to one mine by an inspecting body, with its method,
checklist, findings, photos, exams, signatures and the enforcement documents it produced.

A checklist template (per mine type) is versioned: editing a version that an inspection has used makes a
new version (copy-on-edit), and every inspection keeps a snapshot of the items it was started with. A
completed inspection is immutable; corrections are addenda. Files (photos, signatures, documents) are stored
with their SHA-256 and never rewritten.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, User
from minesafe.core.scoping import NOTHING, is_city
from minesafe.registry.models import Mine, MineOwnedQuerySet


class Method(models.TextChoices):
    """How an inspection is carried out; shared with the annual inspection plans."""

    ROUTINE = "routine", _("Routine inspection")
    UNANNOUNCED = "unannounced", _("Unannounced (四不两直)")
    COVERT = "covert", _("Open and covert visit (明查暗访)")
    CROSS_COUNTY = "cross_county", _("Cross-county enforcement (交叉执法)")
    REMOTE = "remote", _("Remote, by video and data (远程检查)")


def inspection_scope(user) -> Q:
    """Which inspections a user sees (a Q on Inspection), deny by default.

    The city sees all; a county the inspections of its county's mines and those its own team made elsewhere
    (cross-county enforcement); an inspector those of the mines assigned to them and those they led; an
    enterprise only the completed inspections of its own mines (never one still being written); departments
    and the public nothing.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    role = user.role
    if role == User.Role.COUNTY and user.organisation_id:
        return Q(mine__county_id=user.organisation.region_id) | Q(organisation_id=user.organisation_id)
    if role == User.Role.INSPECTOR:
        return Q(mine__in=user.mine_assignments.values("mine_id")) | Q(lead_inspector_id=user.pk)
    if role == User.Role.ENTERPRISE and user.organisation_id:
        return Q(mine__enterprise__organisation_id=user.organisation_id, status=Inspection.Status.COMPLETED)
    return NOTHING


class InspectionQuerySet(MineOwnedQuerySet):
    def visible_to(self, user) -> "InspectionQuerySet":
        return self.filter(inspection_scope(user))


class Inspection(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed and signed")
        CANCELLED = "cancelled", _("Cancelled")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("mine"))
    # The inspecting body (a county government, the city bureau); for cross-county enforcement it is
    # not the mine's own county, and evaluation counts the visit for the body that made it.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="inspections",
                                     verbose_name=_("inspecting body"))
    method = models.CharField(_("method"), max_length=16, choices=Method.choices, default=Method.ROUTINE)
    inspected_on = models.DateField(_("date"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    lead_inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("lead inspector"))
    summary = models.TextField(_("summary"), blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    # Added by the inspections app; blank for rows other apps create directly (their tests, older data).
    number = models.CharField(_("inspection number"), max_length=32, blank=True)
    team = models.CharField(_("other inspectors"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("started by"))
    checklist_template = models.ForeignKey("ChecklistTemplate", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="inspections", verbose_name=_("checklist template"))
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=500, blank=True)

    objects = InspectionQuerySet.as_manager()

    class Meta:
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["organisation", "inspected_on"], name="inspection_org_date_idx"),
                   models.Index(fields=["mine", "inspected_on"], name="inspection_mine_date_idx")]
        constraints = [models.UniqueConstraint(fields=["number"], condition=~Q(number=""),
                                               name="inspection_number_unique")]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")

    def __str__(self):
        return self.number or f"{self.mine} {self.inspected_on}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.IN_PROGRESS

    @property
    def is_cross_county(self) -> bool:
        return bool(self.organisation.kind == Organisation.Kind.COUNTY
                    and self.organisation.region_id != self.mine.county_id)


class InspectionOwnedQuerySet(models.QuerySet):
    """Records of an inspection are visible exactly when their inspection is."""

    def visible_to(self, user):
        return self.filter(inspection__in=Inspection.objects.visible_to(user).values("pk"))


# Checklist templates ---------------------------------------------------------------------------------
class ChecklistTemplate(models.Model):
    """One version of the checklist for one mine type. Versions of one checklist share `code`; exactly one
    is active, and it is the one new inspections snapshot.

    A routine checklist (one per mine type, its code the type) is what an inspection uses unless told
    otherwise; a campaign checklist (专项整治) is used only when a visit names it explicitly, for a mine that a
    registered campaign check accepts (see checklists.template_problem)."""

    class Purpose(models.TextChoices):
        ROUTINE = "routine", _("Routine inspection")
        CAMPAIGN = "campaign", _("Special campaign (专项整治)")

    code = models.CharField(_("checklist"), max_length=32)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=128)
    mine_type = models.CharField(_("mine type"), max_length=20, choices=Mine.Type.choices)
    active = models.BooleanField(_("in use"), default=True)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices, default=Purpose.ROUTINE)
    hazard_catalogue = models.ForeignKey("hazards.HazardCatalogue", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+",
                                         verbose_name=_("hazard standard version"))
    note = models.CharField(_("what changed"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["mine_type", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="checklist_code_version_unique"),
            models.UniqueConstraint(fields=["code"], condition=Q(active=True), name="checklist_one_active_version"),
        ]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")

    def __str__(self):
        return f"{self.name} v{self.version}"


class ChecklistTemplateItem(models.Model):
    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(_("position"))
    # A major-hazard item of the standard; blank for a free item (from the safety rules, licences …).
    hazard_item = models.ForeignKey("hazards.HazardItem", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("hazard standard item"))
    code = models.CharField(_("item"), max_length=16)
    text = models.CharField(_("what to check"), max_length=300)
    guidance = models.TextField(_("guidance"), blank=True)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "position"], name="checklist_item_position")]

    def __str__(self):
        return f"{self.code} {self.text}"

    @property
    def major(self) -> bool:
        return self.hazard_item_id is not None


# One inspection's checklist, findings and evidence -------------------------------------------------------
class InspectionItem(models.Model):
    """The checklist item as it was when the inspection started, with its result."""

    class Result(models.TextChoices):
        NOT_CHECKED = "not_checked", _("Not checked")
        COMPLIANT = "compliant", _("Compliant")
        HAZARD_FOUND = "hazard_found", _("Hazard found")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(_("position"))
    hazard_item = models.ForeignKey("hazards.HazardItem", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("hazard standard item"))
    code = models.CharField(_("item"), max_length=16)
    text = models.CharField(_("what to check"), max_length=300)
    guidance = models.TextField(_("guidance"), blank=True)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, default=Result.NOT_CHECKED)
    note = models.TextField(_("note"), blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)

    objects = InspectionOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["inspection", "position"]
        constraints = [models.UniqueConstraint(fields=["inspection", "position"], name="inspection_item_position")]

    def __str__(self):
        return f"{self.code} {self.text}"

    @property
    def major(self) -> bool:
        return self.hazard_item_id is not None


class FindingQuerySet(InspectionOwnedQuerySet):
    def open(self):
        return self.filter(status=Finding.Status.OPEN)


class Finding(models.Model):
    """A problem found: a checklist item marked "hazard found", or a free finding. A major one is also a
    hazard of the hazards app (the FK, set once); an ordinary one is rectified by its deadline."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RECTIFIED = "rectified", _("Rectification confirmed")

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="findings")
    item = models.OneToOneField(InspectionItem, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="finding", verbose_name=_("checklist item"))
    description = models.TextField(_("what was found"))
    major = models.BooleanField(_("major hazard"), default=False)
    hazard_item = models.ForeignKey("hazards.HazardItem", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("hazard standard item"))
    hazard = models.OneToOneField("hazards.Hazard", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="inspection_finding", verbose_name=_("hazard record"))
    deadline = models.DateField(_("rectification deadline"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    rectified_at = models.DateTimeField(_("rectification confirmed at"), null=True, blank=True)
    rectified_note = models.CharField(_("rectification note"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["inspection", "pk"]
        verbose_name = _("inspection finding")
        verbose_name_plural = _("inspection findings")

    def __str__(self):
        return self.description[:60]

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and not self.major and self.deadline < timezone.localdate()


def photo_path(instance: "Photo", filename: str) -> str:
    return f"inspections/{instance.inspection_id}/photos/{filename}"


class Photo(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="photos")
    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.PROTECT, related_name="photos")
    file = models.FileField(upload_to=photo_path)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = InspectionOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.original_name


def signature_path(instance: "Signature", filename: str) -> str:
    return f"inspections/{instance.inspection_id}/signatures/{filename}"


class Signature(models.Model):
    """A signature drawn on the phone (a PNG), or the enterprise's refusal to sign, witnessed."""

    class Role(models.TextChoices):
        LEAD_INSPECTOR = "lead_inspector", _("Lead inspector")
        ENTERPRISE = "enterprise", _("Enterprise representative")

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="signatures")
    role = models.CharField(_("signs as"), max_length=16, choices=Role.choices)
    signer_name = models.CharField(_("name"), max_length=64)
    signer_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    file = models.FileField(upload_to=signature_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    refused = models.BooleanField(_("refused to sign"), default=False)
    refusal_reason = models.CharField(_("reason given"), max_length=300, blank=True)
    witness_name = models.CharField(_("witness"), max_length=64, blank=True)
    # The fingerprint of the record this signature attests (services.record_hash): a change after signing
    # makes the signature stale, and completion refuses it.
    record_hash = models.CharField(max_length=64, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    objects = InspectionOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["inspection", "role"]
        constraints = [models.UniqueConstraint(fields=["inspection", "role"], name="one_signature_per_role")]

    def __str__(self):
        return f"{self.get_role_display()}: {self.signer_name}"


def document_path(instance: "Document", filename: str) -> str:
    return f"inspections/documents/{instance.year}/{filename}"


class Document(models.Model):
    """An enforcement document (Word) issued from an inspection; stored once, never regenerated in place."""

    class Kind(models.TextChoices):
        RECTIFICATION_ORDER = "rectification_order", _("Order to rectify within a deadline (责令限期整改指令书)")
        ONSITE_DECISION = "onsite_decision", _("On-site decision (现场处理措施决定书)")

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("document"), max_length=24, choices=Kind.choices)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("issued by"))
    year = models.PositiveSmallIntegerField(_("year"))
    serial = models.PositiveIntegerField(_("serial"))
    number = models.CharField(_("document number"), max_length=64)
    file = models.FileField(upload_to=document_path)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.JSONField(_("content"), default=dict)  # what the document says, for the record
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField(default=timezone.now)

    objects = InspectionOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["issued_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["organisation", "kind", "year", "serial"],
                                               name="document_serial_per_body_year")]
        verbose_name = _("enforcement document")
        verbose_name_plural = _("enforcement documents")

    def __str__(self):
        return self.number


class Addendum(models.Model):
    """A correction or addition to a completed inspection; the record itself never changes."""

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="addenda")
    text = models.TextField(_("addendum"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = InspectionOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("addendum")
        verbose_name_plural = _("addenda")

    def __str__(self):
        return self.text[:60]
