"""Models of the enforcement app. This part: accidents (plan task 26) — reports with their grade, the
investigation under 四不放过, follow-up tasks the plan prescribes, and the case library for warning education."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
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


# Annual inspection plans (plan tasks 25, 27) -------------------------------------------------------
def plan_scope_q(user, prefix: str = "") -> Q:
    """Who sees an inspection plan: the city all; a county its own body's plans; an inspector or expert the plans
    naming them; nobody else (an enterprise must not learn of unannounced visits)."""
    from minesafe.core.scoping import NOTHING, is_city

    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    if user.role == "county" and user.organisation_id:
        return Q(**{f"{prefix}organisation_id": user.organisation_id})
    if user.role == "inspector":
        return Q(**{f"{prefix}pk__in": PlanExpert.objects.filter(user=user).values("plan_id")})
    return NOTHING


class InspectionPlanQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(plan_scope_q(user))


class InspectionPlan(models.Model):
    """The annual inspection plan (年度执法检查计划) of one inspecting body: a county or the city bureau."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted for approval")
        RETURNED = "returned", _("Returned for revision")
        APPROVED = "approved", _("Approved")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="inspection_plans",
                                     verbose_name=_("inspecting body"))
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The frequency catalogue version the proposal was built from (blank: built by hand).
    rules_version = models.CharField(_("frequency rules version"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    # The city's reason the last time it returned the plan (kept after resubmission; the audit log has them all).
    return_reason = models.TextField(_("reason returned"), blank=True)

    objects = InspectionPlanQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "organisation__name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "year"], name="one_plan_per_body_year")]
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")

    def __str__(self):
        return f"{self.organisation} {self.year}"

    @property
    def is_editable(self) -> bool:
        """Entries change freely only before submission or after the city returned the plan."""
        return self.status in (self.Status.DRAFT, self.Status.RETURNED)


class PlanEntryQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(plan_scope_q(user, "plan__"))


class PlanEntry(models.Model):
    """One mine in a plan: how many visits a year (by its risk) and by which methods."""

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="entries")
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="plan_entries", verbose_name=_("mine"))
    visits_per_year = models.PositiveSmallIntegerField(_("visits a year"))
    # Method values of minesafe.inspections.models.Method the visits must include (those with a minimum below).
    methods = models.JSONField(_("methods"), default=list, blank=True)
    # {method: at least this many of the year's visits by that method}; the rest may be by any method.
    method_minimums = models.JSONField(_("visits by method (at least)"), default=dict, blank=True)
    # What the frequency rules proposed, and why (structured; see plans.describe_reason). None: added by hand.
    proposed_visits = models.PositiveSmallIntegerField(_("proposed visits"), null=True, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    objects = PlanEntryQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "mine__code"]
        constraints = [models.UniqueConstraint(fields=["plan", "mine"], name="one_entry_per_plan_mine")]
        verbose_name = _("plan entry")
        verbose_name_plural = _("plan entries")

    def __str__(self):
        return f"{self.plan}: {self.mine}"


class PlanExpertQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(plan_scope_q(user, "plan__"))


class PlanExpert(models.Model):
    """An expert (专家) or technical inspector (技术检查员) joining a plan's visits: to one entry (mine), or to
    the plan for one quarter. Either a platform user of role inspector or a name with a speciality."""

    class Kind(models.TextChoices):
        EXPERT = "expert", _("Expert (专家)")
        TECHNICAL_INSPECTOR = "technical_inspector", _("Technical inspector (技术检查员)")

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="experts")
    entry = models.ForeignKey(PlanEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="experts",
                              verbose_name=_("plan entry"))
    quarter = models.PositiveSmallIntegerField(_("quarter"), null=True, blank=True)
    kind = models.CharField(_("role"), max_length=20, choices=Kind.choices, default=Kind.EXPERT)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="plan_assignments", verbose_name=_("user account"))
    name = models.CharField(_("name"), max_length=64)
    speciality = models.CharField(_("speciality"), max_length=100, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    objects = PlanExpertQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "quarter", "entry", "name"]
        verbose_name = _("plan expert")
        verbose_name_plural = _("plan experts")
        constraints = [
            models.CheckConstraint(condition=Q(quarter__isnull=True) | Q(quarter__gte=1, quarter__lte=4),
                                   name="plan_expert_quarter_range"),
            models.CheckConstraint(condition=Q(entry__isnull=False) | Q(quarter__isnull=False),
                                   name="plan_expert_entry_or_quarter"),
        ]

    def __str__(self):
        return self.name


class PlanAmendment(models.Model):
    """A change to an approved plan: which mine, what changed and why (an approved plan is never edited silently)."""

    class Action(models.TextChoices):
        ADD = "add", _("Entry added")
        CHANGE = "change", _("Entry changed")
        REMOVE = "remove", _("Entry removed")

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="amendments")
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="+", verbose_name=_("mine"))
    action = models.CharField(_("change"), max_length=8, choices=Action.choices)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-made_at", "-pk"]
        verbose_name = _("plan amendment")
        verbose_name_plural = _("plan amendments")

    def __str__(self):
        return f"{self.plan}: {self.get_action_display()} {self.mine}"


# Enforcement equipment (plan task 31) -------------------------------------------------------------
class EquipmentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The city sees every ledger; a county its own body's; nobody else any."""
        from minesafe.core.scoping import NOTHING, is_city

        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role == "county" and user.organisation_id:
            return self.filter(organisation_id=user.organisation_id)
        return self.filter(NOTHING)


class EquipmentItem(models.Model):
    """One item of enforcement equipment (执法装备) in an inspecting body's ledger."""

    class Kind(models.TextChoices):
        DRONE = "drone", _("Drone (无人机)")
        BODY_CAMERA = "body_camera", _("Body camera (执法记录仪)")
        TERMINAL = "terminal", _("Law-enforcement terminal (执法终端)")
        DETECTOR = "detector", _("Detector or gas meter (检测仪)")
        VEHICLE = "vehicle", _("Vehicle (执法车辆)")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        IN_SERVICE = "in_service", _("In service")
        UNDER_REPAIR = "under_repair", _("Under repair")
        RETIRED = "retired", _("Retired")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="equipment",
                                     verbose_name=_("organisation"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    model = models.CharField(_("model"), max_length=100)
    serial_number = models.CharField(_("serial number"), max_length=64)
    acquired_on = models.DateField(_("acquired on"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_SERVICE)
    status_since = models.DateField(_("status since"))
    assigned_to = models.CharField(_("assigned to"), max_length=64, blank=True)
    last_checked_on = models.DateField(_("last checked"), null=True, blank=True)
    # Recomputed whenever the item is checked or changes kind: last check (or acquisition) + the kind's interval.
    next_check_due = models.DateField(_("next check due"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EquipmentQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name", "kind", "serial_number"]
        verbose_name = _("equipment item")
        verbose_name_plural = _("equipment items")
        constraints = [models.UniqueConstraint(Upper("serial_number"), "organisation",
                                               name="equipment_serial_unique_per_org")]
        indexes = [models.Index(fields=["next_check_due"], name="equipment_check_due_idx",
                                condition=~Q(status="retired"))]

    def __str__(self):
        return f"{self.get_kind_display()} {self.model} {self.serial_number}"

    @property
    def check_overdue(self) -> bool:
        return bool(self.status != self.Status.RETIRED and self.next_check_due
                    and self.next_check_due < timezone.localdate())
