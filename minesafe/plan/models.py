"""The action plan's tasks (承市安办字〔2024〕69号), who answers for each, their progress reports and the
counties' own implementation tasks. Tasks and their units are synced from the plan catalogue; reports are
the units' periodic account of what they did, reviewed by the city bureau."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, StoredFile, User
from minesafe.core.scoping import NOTHING, is_city


class PlanTask(models.Model):
    number = models.PositiveSmallIntegerField(_("task"), unique=True)
    group = models.PositiveSmallIntegerField(_("group"))
    group_title = models.CharField(_("group title"), max_length=100)
    title_zh = models.CharField(_("title"), max_length=100)
    title_en = models.CharField(_("title (English)"), max_length=200)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    ongoing = models.BooleanField(_("ongoing (长期坚持)"), default=False)
    # The plan's dated or numeric targets inside this task, as the catalogue states them.
    targets = models.JSONField(_("targets"), default=list, blank=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("plan task")
        verbose_name_plural = _("plan tasks")

    def __str__(self) -> str:
        return f"{self.number}. {self.title_zh}"


class OwnUnitQuerySet(models.QuerySet):
    def visible_to(self, user) -> "OwnUnitQuerySet":
        """The city sees every unit's records; a county or department its own; nobody else any."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role in (User.Role.COUNTY, User.Role.DEPARTMENT) and user.organisation_id:
            return self.filter(organisation_id=user.organisation_id)
        return self.filter(NOTHING)


class TaskUnit(models.Model):
    """One responsible unit's part in one task; the first unit the plan names leads (牵头)."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Dated part completed")

    task = models.ForeignKey(PlanTask, on_delete=models.CASCADE, related_name="units")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="plan_tasks",
                                     verbose_name=_("responsible unit"))
    unit_code = models.CharField(_("unit code"), max_length=8)
    lead = models.BooleanField(_("lead unit (牵头)"), default=False)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completion_note = models.TextField(_("what was completed"), blank=True)

    objects = OwnUnitQuerySet.as_manager()

    class Meta:
        ordering = ["task__number", "-lead", "organisation__region__code", "organisation__name"]
        constraints = [models.UniqueConstraint(fields=["task", "organisation"], name="one_part_per_unit_task")]
        verbose_name = _("responsible unit")
        verbose_name_plural = _("responsible units")

    def __str__(self) -> str:
        return f"{self.task.number} · {self.organisation}"


class ProgressReport(models.Model):
    """A responsible unit's account of one period's work on its tasks (one entry per task it worked on):
    submitted, then accepted or returned by the city bureau (a returned report is resubmitted in place; the
    audit log keeps every version)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        RETURNED = "returned", _("Returned for revision")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="plan_reports",
                                     verbose_name=_("responsible unit"))
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    summary = models.TextField(_("summary"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)

    objects = OwnUnitQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "organisation__region__code", "organisation__name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "period_start"],
                                               name="one_plan_report_per_period")]
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")

    def __str__(self) -> str:
        return f"{self.organisation} {self.period_start:%Y-%m}"


class ReportEntry(models.Model):
    """What the unit did on one task in the period, with the figures it reports (counts, amounts)."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="entries")
    task = models.ForeignKey(PlanTask, on_delete=models.PROTECT, related_name="report_entries")
    text = models.TextField(_("work done"))
    # [{"label": ..., "value": ...}]
    figures = models.JSONField(_("figures"), default=list, blank=True)

    class Meta:
        ordering = ["task__number"]
        constraints = [models.UniqueConstraint(fields=["report", "task"], name="one_entry_per_report_task")]

    def __str__(self) -> str:
        return f"{self.report} · {self.task.number}"


def evidence_path(instance: "ReportEvidence", filename: str) -> str:
    return f"plan/{timezone.now():%Y/%m}/{filename}"


class ReportEvidence(StoredFile):
    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to=evidence_path)

    class Meta:
        ordering = ["pk"]


class CountyTask(models.Model):
    """A county's own implementation task under one of the city's (县级细化任务)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    task = models.ForeignKey(PlanTask, on_delete=models.CASCADE, related_name="county_tasks")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="county_plan_tasks",
                                     verbose_name=_("county"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    done_on = models.DateField(_("done on"), null=True, blank=True)
    done_note = models.TextField(_("what was done"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["task__number", "deadline", "pk"]
        verbose_name = _("county task")
        verbose_name_plural = _("county tasks")

    def __str__(self) -> str:
        return self.title


class FormalReportQuerySet(models.QuerySet):
    def visible_to(self, user) -> "FormalReportQuerySet":
        """The city sees every report; a county the reports of its own county; a city department the city-wide
        ones; nobody else any."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if is_city(user):
            return self.all()
        if user.role == User.Role.COUNTY and user.organisation_id:
            return self.filter(county_id=user.organisation.region_id)
        if user.role == User.Role.DEPARTMENT:
            return self.filter(county__isnull=True)
        return self.filter(NOTHING)


def formal_report_path(instance: "FormalReport", filename: str) -> str:
    return f"plan/formal/{timezone.now():%Y/%m}/{filename}"


class FormalReport(models.Model):
    """A formal report as generated and sent (monthly statistics, quarterly county assessment, half-year notice,
    year-end summary): the file is stored once with its SHA-256 and the parameters it was generated with, and is
    never regenerated in place; generating again makes a new row."""

    class Kind(models.TextChoices):
        MONTHLY = "monthly", _("Monthly statistics (Excel)")
        QUARTERLY = "quarterly", _("Quarterly county assessment (Word)")
        HALF_YEAR = "half_year", _("Half-year notice (Word)")
        YEAR_END = "year_end", _("Year-end summary (Word)")

    kind = models.CharField(_("report"), max_length=12, choices=Kind.choices)
    period_label = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    county = models.ForeignKey("core.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("county (blank: the whole city)"))
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("generated by (blank: the system)"))
    generated_at = models.DateTimeField(_("generated at"), default=timezone.now)
    file = models.FileField(upload_to=formal_report_path)
    file_name = models.CharField(_("file name"), max_length=120)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    parameters = models.JSONField(_("parameters"), default=dict)

    objects = FormalReportQuerySet.as_manager()

    class Meta:
        ordering = ["-generated_at", "-pk"]
        indexes = [models.Index(fields=["kind", "period_start"], name="formal_kind_period_idx")]
        verbose_name = _("formal report")
        verbose_name_plural = _("formal reports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_label}"
