from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, Region
from minesafe.core.scoping import ScopedQuerySet, ScopePaths, scope_q
from minesafe.core.validators import validate_credit_code


class EnterpriseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """An enterprise is visible to whoever sees one of its mines, and to its own staff."""
        mines = Mine.objects.visible_to(user).values("enterprise_id")
        own = Q(organisation_id=user.organisation_id) if getattr(user, "organisation_id", None) else Q(pk__in=[])
        county = scope_q(user, ScopePaths(county="county_id", organisation="organisation_id", mine="pk"))
        if user.is_authenticated and user.role == "inspector":
            county = Q(pk__in=[])
        return self.filter(Q(pk__in=mines) | own | county)


class Enterprise(models.Model):
    name = models.CharField(_("enterprise name"), max_length=128)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True,
                                   validators=[validate_credit_code])
    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="enterprise")
    county = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="enterprises",
                               verbose_name=_("county"))
    legal_representative = models.CharField(_("legal representative"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")

    def __str__(self) -> str:
        return self.name


class MineQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(county="county_id", organisation="enterprise__organisation_id", mine="pk")

    def ledger_overdue(self, today=None):
        return self.filter(ledger_due_date__lt=today or timezone.localdate())


class Mine(models.Model):
    class Type(models.TextChoices):
        UNDERGROUND = "underground", _("Underground mine")
        OPEN_PIT = "open_pit", _("Open-pit mine")
        TAILINGS_POND = "tailings_pond", _("Tailings pond")
        PROCESSING_PLANT = "processing_plant", _("Processing plant")
        QUARRY = "quarry", _("Quarry")

    class Status(models.TextChoices):
        PRODUCING = "producing", _("Producing")
        CONSTRUCTION = "construction", _("Under construction")
        SUSPENDED = "suspended", _("Production suspended")
        CONSTRUCTION_HALTED = "construction_halted", _("Construction halted")
        CLOSED = "closed", _("Closed")

    class Scale(models.TextChoices):
        LARGE = "large", _("Large")
        MEDIUM = "medium", _("Medium")
        SMALL = "small", _("Small")

    class ScaleSource(models.TextChoices):
        COMPUTED = "computed", _("computed from capacity")
        ENTERED = "entered", _("entered")

    class StandardGrade(models.IntegerChoices):
        GRADE_1 = 1, _("Grade 1")
        GRADE_2 = 2, _("Grade 2")
        GRADE_3 = 3, _("Grade 3")

    class IntelligentLevel(models.TextChoices):
        NONE = "none", _("None")
        PRIMARY = "primary", _("Primary")
        INTERMEDIATE = "intermediate", _("Intermediate")
        ADVANCED = "advanced", _("Advanced")

    class DamMethod(models.TextChoices):
        UPSTREAM = "upstream", _("Upstream")
        DOWNSTREAM = "downstream", _("Downstream")
        CENTERLINE = "centerline", _("Centerline")
        ONE_TIME = "one_time", _("One-time dam")
        DAMLESS = "damless", _("No dam (pit storage)")

    code = models.CharField(_("registry number"), max_length=32, unique=True)
    name = models.CharField(_("mine name"), max_length=128)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="mines",
                                   verbose_name=_("enterprise"))
    county = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="mines", verbose_name=_("county"))
    mine_type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    mineral = models.CharField(_("mineral"), max_length=64, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)

    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.PRODUCING)
    status_since = models.DateField(_("status since"), null=True, blank=True)

    design_capacity = models.DecimalField(_("design capacity (10k t/a)"), max_digits=10, decimal_places=2,
                                          null=True, blank=True)
    scale_class = models.CharField(_("scale"), max_length=8, choices=Scale.choices, blank=True)
    scale_source = models.CharField(_("scale source"), max_length=8, choices=ScaleSource.choices, blank=True)

    licence_no = models.CharField(_("safety licence number"), max_length=64, blank=True)
    licence_expiry = models.DateField(_("licence expiry"), null=True, blank=True)
    standard_grade = models.PositiveSmallIntegerField(_("standardisation grade"), choices=StandardGrade.choices,
                                                      null=True, blank=True)
    standard_date = models.DateField(_("standardisation date"), null=True, blank=True)
    people_underground = models.PositiveIntegerField(_("people underground"), null=True, blank=True)
    # Approved watch-keeping headcount while suspended (值守人数); more people underground is a sign of production.
    watch_headcount = models.PositiveSmallIntegerField(_("approved watch headcount while suspended"), null=True,
                                                       blank=True)
    intelligent_level = models.CharField(_("intelligent-mine level"), max_length=16,
                                         choices=IntelligentLevel.choices, default=IntelligentLevel.NONE)

    # Open pits
    slope_height = models.DecimalField(_("slope height (m)"), max_digits=7, decimal_places=2, null=True, blank=True)

    # Tailings ponds (capacity in 10^4 m3, heights in m)
    design_pond_capacity = models.DecimalField(_("design capacity (10k m³)"), max_digits=12, decimal_places=2,
                                               null=True, blank=True)
    current_pond_capacity = models.DecimalField(_("current capacity (10k m³)"), max_digits=12, decimal_places=2,
                                                null=True, blank=True)
    design_dam_height = models.DecimalField(_("design dam height (m)"), max_digits=7, decimal_places=2,
                                            null=True, blank=True)
    current_dam_height = models.DecimalField(_("current dam height (m)"), max_digits=7, decimal_places=2,
                                             null=True, blank=True)
    dam_method = models.CharField(_("dam method"), max_length=16, choices=DamMethod.choices, blank=True)
    pond_grade = models.PositiveSmallIntegerField(_("pond grade"), null=True, blank=True)
    pond_grade_raised = models.BooleanField(_("grade raised one level"), default=False)
    pond_grade_raise_reason = models.CharField(_("reason for raising"), max_length=200, blank=True)
    is_head_pond = models.BooleanField(_("head pond (头顶库)"), default=False)
    downstream_within_1km = models.CharField(_("people or facilities within 1 km downstream"), max_length=200,
                                             blank=True)

    # Monthly ledger: the date by which the next monthly update is due (None for closed mines).
    last_ledger_period = models.DateField(_("last ledger month"), null=True, blank=True)
    ledger_due_date = models.DateField(_("next ledger update due"), null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MineQuerySet.as_manager()

    class Meta:
        ordering = ["county__code", "code"]
        verbose_name = _("mine")
        verbose_name_plural = _("mines")
        indexes = [
            models.Index(fields=["county", "mine_type"], name="mine_county_type_idx"),
            models.Index(fields=["status"], name="mine_status_idx"),
            models.Index(fields=["ledger_due_date"], name="mine_ledger_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tailings_pond(self) -> bool:
        return self.mine_type == self.Type.TAILINGS_POND

    @property
    def ledger_overdue(self) -> bool:
        return bool(self.ledger_due_date and self.ledger_due_date < timezone.localdate())

    @property
    def licence_expired(self) -> bool:
        return bool(self.licence_expiry and self.licence_expiry < timezone.localdate())


class MineOwnedQuerySet(ScopedQuerySet):
    """For any record that belongs to one mine through a `mine` foreign key (used by later apps too)."""

    scope_paths = ScopePaths(county="mine__county_id", organisation="mine__enterprise__organisation_id",
                             mine="mine_id")


class MineStatusChange(models.Model):
    """One row per status change: the mine's dated operating history."""

    mine = models.ForeignKey(Mine, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=24, choices=Mine.Status.choices, blank=True)
    new_status = models.CharField(max_length=24, choices=Mine.Status.choices)
    effective_date = models.DateField(_("effective date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_date", "-id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.mine_id}: {self.old_status} → {self.new_status}"


class LedgerSubmission(models.Model):
    """A mine's monthly ledger update (月度台账): its state that month and what changed."""

    mine = models.ForeignKey(Mine, on_delete=models.CASCADE, related_name="ledger_submissions")
    period = models.DateField(_("month"), help_text=_("first day of the month reported"))
    status = models.CharField(_("status"), max_length=24, choices=Mine.Status.choices)
    people_underground = models.PositiveIntegerField(_("people underground"), null=True, blank=True)
    output = models.DecimalField(_("output this month (10k t)"), max_digits=10, decimal_places=2,
                                 null=True, blank=True)
    changes = models.JSONField(_("changes this month"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-period"]
        verbose_name = _("monthly ledger submission")
        verbose_name_plural = _("monthly ledger submissions")
        constraints = [models.UniqueConstraint(fields=["mine", "period"], name="ledger_one_per_mine_month")]

    def __str__(self) -> str:
        return f"{self.mine_id} {self.period:%Y-%m}"


class ResponsibleLeaderQuerySet(MineOwnedQuerySet):
    def published_current(self, today=None):
        today = today or timezone.localdate()
        return self.filter(published=True, start_date__lte=today).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today)
        )


class ResponsibleLeader(models.Model):
    """包保: a named government leader assigned to oversee a mine; current published ones are public."""

    class Level(models.TextChoices):
        CITY = "city", _("City")
        COUNTY = "county", _("County")
        TOWNSHIP = "township", _("Township")

    mine = models.ForeignKey(Mine, on_delete=models.CASCADE, related_name="leaders")
    name = models.CharField(_("leader name"), max_length=64)
    post = models.CharField(_("post"), max_length=128)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    phone = models.CharField(_("phone (not published)"), max_length=32, blank=True)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    published = models.BooleanField(_("published"), default=True)

    objects = ResponsibleLeaderQuerySet.as_manager()

    class Meta:
        ordering = ["mine__county__code", "mine__code", "level"]
        verbose_name = _("responsible leader")
        verbose_name_plural = _("responsible leaders")

    def __str__(self) -> str:
        return f"{self.name} ({self.post})"


class MineAssignment(models.Model):
    """An inspector or expert assigned to a mine; inspectors see only their assigned mines."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mine_assignments")
    mine = models.ForeignKey(Mine, on_delete=models.CASCADE, related_name="assignments")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "mine"], name="assignment_unique")]
        verbose_name = _("inspector assignment")
        verbose_name_plural = _("inspector assignments")

    def __str__(self) -> str:
        return f"{self.user} → {self.mine}"
