"""Suspension and resumption (停产停建, 复产复工), control of suspended mines, the hidden disaster-causing
factor census (隐蔽致灾因素普查) and the disposal of unsafe mines (分类处置, 三个一批), with tailings-pond
closure plans and upgrade/consolidation projects. Plan tasks 8-10 and 12-16.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minesafe.core.scoping import scoped_through
from minesafe.registry.models import Mine, MineOwnedQuerySet

USER = settings.AUTH_USER_MODEL


# Suspension reports ---------------------------------------------------------------------------------
class SuspensionReport(models.Model):
    """The written report of a mine stopping for one month or longer (停产停建报告).

    submitted --county accepts--> accepted --county reports to the city--> reported
    submitted --county returns--> returned --enterprise resubmits--> submitted
    The county must report an accepted suspension to the city within 5 days of the stop.
    """

    class Kind(models.TextChoices):
        SUSPENSION = "suspension", _("Production suspended (停产)")
        CONSTRUCTION_HALT = "construction_halt", _("Construction halted (停建)")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted, awaiting the county")
        RETURNED = "returned", _("Returned for completion")
        ACCEPTED = "accepted", _("Accepted by the county")
        REPORTED = "reported", _("Reported to the city")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="suspension_reports",
                             verbose_name=_("mine"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    reason = models.TextField(_("reason"))
    planned_start = models.DateField(_("planned start"))
    planned_end = models.DateField(_("planned end"), null=True, blank=True)  # None: until further notice
    engineering_measures = models.TextField(_("engineering measures during the stop"))
    management_measures = models.TextField(_("management measures during the stop"))
    watch_arrangements = models.TextField(_("watch staff and patrols"))
    watch_headcount = models.PositiveSmallIntegerField(_("watch headcount"))
    emergency_arrangements = models.TextField(_("emergency arrangements"))
    power_arrangements = models.TextField(_("power arrangements"))
    submitted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted at"))
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("reviewed by"))
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    stopped_on = models.DateField(_("stopped on"), null=True, blank=True)  # the actual stop (status change)
    city_report_due = models.DateField(_("report to the city by"), null=True, blank=True)
    reported_to_city_at = models.DateTimeField(_("reported to the city at"), null=True, blank=True)
    reported_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("reported by"))

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("suspension report")
        verbose_name_plural = _("suspension reports")
        indexes = [models.Index(fields=["status", "city_report_due"], name="suspension_report_due_idx")]

    def __str__(self):
        return f"{self.mine} · {self.get_kind_display()} · {self.planned_start}"


# Control of suspended mines (停产停建管控) -----------------------------------------------------------
class ControlAssignment(models.Model):
    """Who answers for a suspended mine: the responsible official (包联包保) and the on-site watch (驻矿盯守)."""

    class Role(models.TextChoices):
        LIAISON = "liaison", _("Responsible official (包联包保)")
        ON_SITE = "on_site", _("On-site watch (驻矿盯守)")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="control_assignments",
                             verbose_name=_("mine"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    name = models.CharField(_("name"), max_length=64)
    post = models.CharField(_("post"), max_length=100)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "role", "-start_date"]
        verbose_name = _("control assignment")
        verbose_name_plural = _("control assignments")

    def __str__(self):
        return f"{self.mine} · {self.get_role_display()} · {self.name}"


class ControlRecord(models.Model):
    """One dated act of control over a suspended mine: a patrol, a surprise inspection, the power company's
    confirmation of the power limit, the police's confirmation of explosives control. Append-only."""

    class Kind(models.TextChoices):
        PATROL = "patrol", _("Patrol (巡查)")
        COVERT = "covert", _("Unannounced visit (暗查暗访)")
        SURPRISE = "surprise", _("Surprise inspection (突击检查)")
        CROSS = "cross", _("Cross inspection (交叉互查)")
        POWER_LIMIT = "power_limit", _("Power limitation confirmed (限电)")
        EXPLOSIVES = "explosives", _("Explosives control confirmed (民爆物品管控)")

    class Outcome(models.TextChoices):
        COMPLIANT = "compliant", _("No production found; controls in place")
        ISSUES = "issues", _("Problems found")
        PRODUCING = "producing", _("Production found")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="control_records", verbose_name=_("mine"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    done_on = models.DateField(_("date"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    notes = models.TextField(_("notes"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"))

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-done_on", "-pk"]
        verbose_name = _("control record")
        verbose_name_plural = _("control records")

    def __str__(self):
        return f"{self.mine} · {self.get_kind_display()} · {self.done_on}"


class Offence(models.Model):
    """A recorded offence of the suspension regime, e.g. production without resumption acceptance
    (未经验收擅自复产). The enforcement app turns offences into cases."""

    class Kind(models.TextChoices):
        UNACCEPTED_RESUMPTION = "unaccepted_resumption", _("Production without resumption acceptance")
        FALSIFIED_CENSUS = "falsified_census", _("Falsified hidden-factor census")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="offences", verbose_name=_("mine"))
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    found_on = models.DateField(_("found on"))
    description = models.TextField(_("description"))
    source = models.CharField(_("source"), max_length=200, blank=True)  # e.g. "production flag 12"
    recorded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"))

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-found_on", "-pk"]
        verbose_name = _("offence")
        verbose_name_plural = _("offences")

    def __str__(self):
        return f"{self.mine} · {self.get_kind_display()} · {self.found_on}"


# Hidden disaster-causing factor census (隐蔽致灾因素普查) ----------------------------------------------
class Census(models.Model):
    """One census of a mine by a provider, covering 3-5 years of planned mining.

    in_progress --complete--> completed ; completed --found falsified--> falsified (redo required)
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        FALSIFIED = "falsified", _("Falsified: redo required")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="censuses", verbose_name=_("mine"))
    provider = models.CharField(_("census provider"), max_length=128)
    scope_years = models.PositiveSmallIntegerField(_("planned mining covered (years)"))
    started_on = models.DateField(_("started on"))
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    report_summary = models.TextField(_("report summary"), blank=True)
    falsification_note = models.TextField(_("falsification found"), blank=True)
    accountability = models.TextField(_("accountability (who answers, measures)"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "-started_on", "-pk"]
        verbose_name = _("hidden-factor census")
        verbose_name_plural = _("hidden-factor censuses")

    def __str__(self):
        return f"{self.mine} · {self.provider} · {self.started_on}"


class HiddenFactor(models.Model):
    class Kind(models.TextChoices):
        VOID = "void", _("Goaf or void (采空区)")
        OLD_WORKINGS = "old_workings", _("Old workings (老窿)")
        WATER = "water", _("Water body or aquifer (水体)")
        FAULT = "fault", _("Fault or fracture zone (断层)")
        KARST = "karst", _("Karst (岩溶)")
        OTHER = "other", _("Other")

    class Treatment(models.TextChoices):
        UNTREATED = "untreated", _("Not yet treated")
        TREATING = "treating", _("Being treated")
        TREATED = "treated", _("Treated")

    census = models.ForeignKey(Census, on_delete=models.PROTECT, related_name="factors")
    kind = models.CharField(_("factor"), max_length=14, choices=Kind.choices)
    location = models.CharField(_("location"), max_length=200)
    description = models.TextField(_("description"))
    treatment = models.CharField(_("treatment"), max_length=10, choices=Treatment.choices,
                                 default=Treatment.UNTREATED)
    treatment_note = models.TextField(_("treatment measures"), blank=True)
    treated_on = models.DateField(_("treated on"), null=True, blank=True)

    objects = scoped_through("census__mine").as_manager()

    class Meta:
        ordering = ["census", "pk"]
        verbose_name = _("hidden factor")
        verbose_name_plural = _("hidden factors")

    def __str__(self):
        return f"{self.get_kind_display()} · {self.location}"


# Resumption acceptance (复产复工验收) -----------------------------------------------------------------
class ResumptionApplication(models.Model):
    """applied --county starts--> checking --all items pass, decided--> accepted (the mine produces again)
                                          --any item fails, decided--> refused (a new application may follow)
    applied --enterprise withdraws--> withdrawn"""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        CHECKING = "checking", _("Acceptance check in progress")
        ACCEPTED = "accepted", _("Accepted: production may resume")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="resumption_applications",
                             verbose_name=_("mine"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.APPLIED)
    planned_resumption = models.DateField(_("planned resumption"))
    statement = models.TextField(_("the enterprise's statement of readiness"))
    applied_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("applied by"))
    applied_at = models.DateTimeField(_("applied at"))
    team = models.CharField(_("acceptance team"), max_length=300, blank=True)
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision"), blank=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-applied_at", "-pk"]
        verbose_name = _("resumption application")
        verbose_name_plural = _("resumption applications")
        constraints = [models.UniqueConstraint(
            fields=["mine"], condition=Q(status__in=["applied", "checking"]), name="one_open_resumption_per_mine")]

    def __str__(self):
        return f"{self.mine} · {self.planned_resumption} · {self.get_status_display()}"


class AcceptanceItem(models.Model):
    """One requirement of the acceptance checklist, copied from the catalogue when checking starts. Computed
    items are judged from the platform's data (with that data as evidence); manual ones by the team with
    evidence. A failed item blocks acceptance with its reason."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Not yet checked")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    application = models.ForeignKey(ResumptionApplication, on_delete=models.PROTECT, related_name="items")
    code = models.CharField(_("item"), max_length=32)
    title = models.CharField(_("requirement"), max_length=300)
    computed = models.BooleanField(_("judged from the platform's data"), default=False)
    precondition = models.BooleanField(_("precondition"), default=False)
    result = models.CharField(_("result"), max_length=8, choices=Result.choices, default=Result.PENDING)
    evidence = models.TextField(_("evidence"), blank=True)
    reason = models.TextField(_("reason for failure"), blank=True)
    checked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("checked by"))
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)

    objects = scoped_through("application__mine").as_manager()

    class Meta:
        ordering = ["application", "pk"]
        verbose_name = _("acceptance item")
        verbose_name_plural = _("acceptance items")
        constraints = [models.UniqueConstraint(fields=["application", "code"], name="acceptance_item_unique")]

    def __str__(self):
        return f"{self.code} {self.get_result_display()}"


# Disposal of unsafe mines (分类处置, 三个一批) -------------------------------------------------------------
class DisposalDecision(models.Model):
    """A mine classified for closure, consolidation or upgrade, on a legal ground, with its follow-up.

    proposed --decided--> in_progress --done--> completed ; proposed/in_progress --revoked--> revoked
    """

    class Category(models.TextChoices):
        CLOSE = "close", _("Close (关闭一批)")
        CONSOLIDATE = "consolidate", _("Consolidate (整合重组一批)")
        UPGRADE = "upgrade", _("Upgrade (提升改造一批)")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        IN_PROGRESS = "in_progress", _("Decided, in progress")
        COMPLETED = "completed", _("Completed")
        REVOKED = "revoked", _("Revoked")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="disposal_decisions",
                             verbose_name=_("mine"))
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    ground = models.CharField(_("legal ground"), max_length=40)  # a code of the catalogue's grounds
    ground_detail = models.TextField(_("facts and legal basis"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PROPOSED)
    deadline = models.DateField(_("deadline"))
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decision_ref = models.CharField(_("decision document"), max_length=100, blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    follow_up = models.TextField(_("follow-up"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["deadline", "pk"]
        verbose_name = _("disposal decision")
        verbose_name_plural = _("disposal decisions")

    def __str__(self):
        return f"{self.mine} · {self.get_category_display()}"


class PondClosurePlan(models.Model):
    """Closure (闭库) of a tailings pond, counted against the plan's yearly targets (10 / 9 / 7 of 26).

    planned --works start--> in_progress --closure accepted--> closed
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("Closure works in progress")
        CLOSED = "closed", _("Closed (闭库验收)")

    pond = models.OneToOneField(Mine, on_delete=models.PROTECT, related_name="closure_plan", verbose_name=_("pond"))
    target_year = models.PositiveSmallIntegerField(_("target year"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    design_ref = models.CharField(_("closure design"), max_length=200, blank=True)
    works_started_on = models.DateField(_("works started on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = scoped_through("pond").as_manager()

    class Meta:
        ordering = ["target_year", "pond"]
        verbose_name = _("pond closure plan")
        verbose_name_plural = _("pond closure plans")

    def __str__(self):
        return f"{self.pond} · {self.target_year}"


class UpgradeProject(models.Model):
    """A consolidation (整合重组, the 五统一) or upgrade project (task 12: filling mining, mechanised scaling
    beyond 800 m depth or 300,000 t/a) tracked per mine with its deadline."""

    class Kind(models.TextChoices):
        CONSOLIDATION = "consolidation", _("Consolidation (整合重组, 五统一)")
        FILLING = "filling", _("Filling mining (充填采矿)")
        MECHANISED_SCALING = "mechanised_scaling", _("Mechanised scaling (机械化撬毛)")
        OTHER = "other", _("Other upgrade")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="upgrade_projects", verbose_name=_("mine"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    description = models.TextField(_("description"))
    partners = models.CharField(_("mines merged"), max_length=300, blank=True)  # consolidation: the others
    unifications = models.JSONField(_("五统一 achieved"), default=list, blank=True)
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    progress = models.TextField(_("progress"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["deadline", "pk"]
        verbose_name = _("upgrade project")
        verbose_name_plural = _("upgrade projects")

    def __str__(self):
        return f"{self.mine} · {self.get_kind_display()}"
