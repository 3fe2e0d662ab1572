"""Models of the enforcement app. This part: accidents (plan task 26) — reports with their grade, the
investigation under 四不放过, follow-up tasks the plan prescribes, and the case library for warning education."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation
from minesafe.registry.models import Mine, MineOwnedQuerySet


class AccidentKind(models.TextChoices):
    """Kinds of accident (after GB 6441 as used for non-coal mines); shared by reports and library cases."""

    ROOF_FALL = "roof_fall", _("Roof or rib fall (冒顶片帮)")
    COLLAPSE = "collapse", _("Collapse or slope failure (坍塌)")
    FALL_FROM_HEIGHT = "fall_from_height", _("Fall from height (高处坠落)")
    VEHICLE = "vehicle", _("Vehicle or haulage (车辆伤害)")
    HOISTING = "hoisting", _("Hoisting or shaft conveyance (提升运输)")
    BLASTING = "blasting", _("Blasting (放炮)")
    EXPLOSION = "explosion", _("Gas, dust or other explosion (爆炸)")
    POISONING = "poisoning", _("Poisoning or asphyxiation (中毒和窒息)")
    FLOODING = "flooding", _("Flooding or water inrush (透水)")
    FIRE = "fire", _("Fire (火灾)")
    TAILINGS_DAM = "tailings_dam", _("Tailings dam failure (溃坝)")
    ELECTROCUTION = "electrocution", _("Electrocution (触电)")
    MACHINERY = "machinery", _("Machinery (机械伤害)")
    STRUCK_BY = "struck_by", _("Struck by object (物体打击)")
    OTHER = "other", _("Other (其他)")


class AccidentGrade(models.TextChoices):
    GENERAL = "general", _("General (一般)")
    LARGER = "larger", _("Larger (较大)")
    MAJOR = "major", _("Major (重大)")
    ESPECIALLY_MAJOR = "especially_major", _("Especially major (特别重大)")


GRADE_ORDER = [AccidentGrade.GENERAL, AccidentGrade.LARGER, AccidentGrade.MAJOR, AccidentGrade.ESPECIALLY_MAJOR]


class Accident(models.Model):
    """One accident or near miss (涉险事故) at a mine, from the report to the closed investigation."""

    class Status(models.TextChoices):
        REPORTED = "reported", _("Reported")
        INVESTIGATING = "investigating", _("Under investigation")
        CONCLUDED = "concluded", _("Investigation concluded")
        CLOSED = "closed", _("Closed")

    class Reporter(models.TextChoices):
        ENTERPRISE = "enterprise", _("The enterprise")
        REGULATOR = "regulator", _("A regulator")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="accidents", verbose_name=_("mine"))
    occurred_at = models.DateTimeField(_("occurred at"))
    place = models.CharField(_("place"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=AccidentKind.choices)
    is_near_miss = models.BooleanField(_("near miss (涉险事故)"), default=False)
    deaths = models.PositiveIntegerField(_("deaths"), default=0)
    serious_injuries = models.PositiveIntegerField(_("serious injuries"), default=0)
    minor_injuries = models.PositiveIntegerField(_("minor injuries"), default=0)
    direct_loss = models.DecimalField(_("direct economic loss (CNY)"), max_digits=14, decimal_places=2, default=0)
    summary = models.TextField(_("summary"))
    parent_company = models.CharField(_("parent company"), max_length=128, blank=True)
    # Computed from the casualties and loss by the catalogue's thresholds; blank for a near miss.
    grade = models.CharField(_("grade"), max_length=20, choices=AccidentGrade.choices, blank=True)

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REPORTED)
    reporter = models.CharField(_("reported by"), max_length=12, choices=Reporter.choices)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    investigation_started_at = models.DateTimeField(_("investigation started"), null=True, blank=True)
    concluded_at = models.DateTimeField(_("concluded"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closure_note = models.TextField(_("closure note"), blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = _("accident")
        verbose_name_plural = _("accidents")
        indexes = [models.Index(fields=["status"], name="accident_status_idx")]

    def __str__(self) -> str:
        return f"{self.mine} {timezone.localtime(self.occurred_at):%Y-%m-%d} {self.get_kind_display()}"


class InvestigationFinding(models.Model):
    """One of the four 四不放过 findings; all four are needed before the investigation concludes."""

    class Aspect(models.TextChoices):
        CAUSE = "cause", _("Cause found (原因未查清不放过)")
        RESPONSIBILITY = "responsibility", _("Responsible people dealt with (责任人员未处理不放过)")
        RECTIFICATION = "rectification", _("Corrective measures in place (整改措施未落实不放过)")
        EDUCATION = "education", _("People concerned educated (有关人员未受到教育不放过)")

    accident = models.ForeignKey(Accident, on_delete=models.CASCADE, related_name="findings")
    aspect = models.CharField(_("aspect"), max_length=16, choices=Aspect.choices)
    text = models.TextField(_("finding"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)


    class Meta:
        ordering = ["accident", "aspect"]
        verbose_name = _("investigation finding")
        verbose_name_plural = _("investigation findings")
        constraints = [models.UniqueConstraint(fields=["accident", "aspect"], name="finding_one_per_aspect")]

    def __str__(self) -> str:
        return f"{self.accident_id} {self.aspect}"


class FollowUpTaskQuerySet(MineOwnedQuerySet):
    def open(self):
        return self.filter(done_at__isnull=True)

    def overdue(self, today=None):
        return self.open().filter(due_on__lt=today or timezone.localdate())


class FollowUpTask(models.Model):
    """A consequence the plan prescribes, raised for a unit with a due date (an accident's for now; later
    parts of the app raise theirs too). One task of each kind per source record."""

    class Kind(models.TextChoices):
        SUSPEND_MINE = "suspend_mine", _("Suspend the mine for rectification (停产整顿)")
        SUMMONS = "summons", _("Summon the company and its parent (约谈)")

    class Level(models.TextChoices):
        COUNTY = "county", _("County")
        CITY = "city", _("City")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="follow_up_tasks", verbose_name=_("mine"))
    accident = models.ForeignKey(Accident, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    level = models.CharField(_("assigned to"), max_length=8, choices=Level.choices)
    assignee = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="follow_up_tasks",
                                 verbose_name=_("responsible unit"))
    title = models.CharField(_("title"), max_length=200)
    detail = models.TextField(_("detail"), blank=True)
    due_on = models.DateField(_("due on"))
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    done_note = models.TextField(_("what was done"), blank=True)

    objects = FollowUpTaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        constraints = [models.UniqueConstraint(fields=["accident", "kind"], condition=Q(accident__isnull=False),
                                               name="task_one_kind_per_accident")]
        indexes = [models.Index(fields=["due_on"], condition=Q(done_at__isnull=True), name="task_open_due_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due_on < timezone.localdate()


class AccidentCase(models.Model):
    """A case of the warning-education library: real records from public sources and concluded local accidents.
    Readable by every signed-in user."""

    class Source(models.TextChoices):
        CSP2 = "csp2", _("CSP2 tailings dam failures 1915-2022")
        NIOSH = "niosh", _("NIOSH US mining disasters 1839-2010")
        LOCAL = "local", _("Local accident investigation")

    class Precision(models.TextChoices):
        DAY = "day", _("day")
        MONTH = "month", _("month")
        YEAR = "year", _("year")

    key = models.CharField(_("source key"), max_length=40, unique=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    title = models.CharField(_("title"), max_length=200)
    occurred_on = models.DateField(_("date"))
    date_precision = models.CharField(_("date known to the"), max_length=5, choices=Precision.choices,
                                      default=Precision.DAY)
    place = models.CharField(_("place"), max_length=300)
    kind = models.CharField(_("type"), max_length=20, choices=AccidentKind.choices)
    source_type = models.CharField(_("type in the source"), max_length=120, blank=True)
    deaths = models.PositiveIntegerField(_("deaths"), null=True, blank=True)  # None: the source gives no count
    narrative = models.TextField(_("narrative"))
    lessons = models.TextField(_("lessons"), blank=True)
    references = models.TextField(_("references"), blank=True)
    accident = models.OneToOneField(Accident, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="library_case")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_on", "pk"]
        verbose_name = _("accident case")
        verbose_name_plural = _("accident cases")
        indexes = [models.Index(fields=["kind", "occurred_on"], name="case_kind_date_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def date_display(self) -> str:
        if self.date_precision == self.Precision.YEAR:
            return f"{self.occurred_on:%Y}"
        if self.date_precision == self.Precision.MONTH:
            return f"{self.occurred_on:%Y-%m}"
        return f"{self.occurred_on:%Y-%m-%d}"


class InspectionPlan(models.Model):
    """The annual inspection plan (年度执法检查计划) of one inspecting body: a county or the city bureau."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="inspection_plans",
                                     verbose_name=_("inspecting body"))
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "organisation__name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "year"], name="one_plan_per_body_year")]
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")

    def __str__(self):
        return f"{self.organisation} {self.year}"


class PlanEntry(models.Model):
    """One mine in a plan: how many visits a year (by its risk) and by which methods."""

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="entries")
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="plan_entries", verbose_name=_("mine"))
    visits_per_year = models.PositiveSmallIntegerField(_("visits a year"))
    # Method values of minesafe.inspections.models.Method the visits must include.
    methods = models.JSONField(_("methods"), default=list, blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "mine__code"]
        constraints = [models.UniqueConstraint(fields=["plan", "mine"], name="one_entry_per_plan_mine")]
        verbose_name = _("plan entry")
        verbose_name_plural = _("plan entries")

    def __str__(self):
        return f"{self.plan}: {self.mine}"
