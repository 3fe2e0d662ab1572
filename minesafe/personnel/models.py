"""People: key positions and qualifications (履职台账), special-operation certificates, training and
providers, drills and emergency plans, exams at inspection (逢查必考), contractors and own mining teams.
Plan tasks 1-4, 21 and 22. Personal information (ID and phone numbers) is masked for roles that do not
need it (see personnel.common.may_see_personal).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from minesafe.core.scoping import scoped_through
from minesafe.core.validators import validate_resident_id
from minesafe.registry.models import Mine, MineOwnedQuerySet

USER = settings.AUTH_USER_MODEL


class Education(models.TextChoices):
    """Highest education, in order (the rules compare levels)."""

    PRIMARY = "primary", _("Primary school or less")
    JUNIOR = "junior", _("Junior high school")
    HIGH = "high", _("Senior high school")
    SECONDARY_TECH = "secondary_tech", _("Technical secondary school (中专)")
    COLLEGE = "college", _("College (大专)")
    BACHELOR = "bachelor", _("Bachelor")
    MASTER = "master", _("Master or higher")


EDUCATION_ORDER = [e.value for e in Education]


# Key positions (履职台账) --------------------------------------------------------------------------
class Person(models.Model):
    """Someone working at (or for) a mine: a key person, technical staff, or a special-operation worker."""

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="people", verbose_name=_("mine"))
    name = models.CharField(_("name"), max_length=64)
    id_number = models.CharField(_("resident ID number"), max_length=18, validators=[validate_resident_id])
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    education = models.CharField(_("education"), max_length=16, choices=Education.choices)
    specialty = models.CharField(_("specialty"), max_length=64, blank=True)
    core_specialty = models.BooleanField(_("core mining specialty"), default=False)
    frontline_years = models.DecimalField(_("years of front-line experience"), max_digits=4, decimal_places=1)
    # Special operations (catalogue codes) the person is assigned to do at the mine: each needs a valid certificate.
    assigned_operations = models.JSONField(_("special operations assigned"), default=list, blank=True)
    own_employee = models.BooleanField(_("employed by the mine's enterprise"), default=True)
    active = models.BooleanField(_("working at the mine"), default=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [models.UniqueConstraint(fields=["mine", "id_number"], name="person_once_per_mine")]

    def __str__(self):
        return self.name


class Appointment(models.Model):
    """A person in a post at a mine over a period; the appointment history of the post."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="appointments")
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("mine"))
    post = models.CharField(_("post"), max_length=32)  # a code of the catalogue's posts
    specialty = models.CharField(_("specialty (technical staff)"), max_length=32, blank=True)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    end_reason = models.CharField(_("reason for leaving"), max_length=200, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "post", "-start_date"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")

    def __str__(self):
        return f"{self.person} · {self.post} · {self.start_date}"


# Special-operation certificates (特种作业操作证) -----------------------------------------------------
class Certificate(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="certificates")
    category = models.CharField(_("operation category"), max_length=32)  # a code of the catalogue's categories
    number = models.CharField(_("certificate number"), max_length=64)
    issued_on = models.DateField(_("issued on"))
    expires_on = models.DateField(_("expires on"))
    last_review_on = models.DateField(_("last review (复审)"), null=True, blank=True)
    extended_review = models.BooleanField(_("review extended to 6 years"), default=False)
    issuer = models.CharField(_("issuing authority"), max_length=128, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)
    revoked_reason = models.CharField(_("reason for revoking"), max_length=200, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = scoped_through("person__mine").as_manager()

    class Meta:
        ordering = ["expires_on", "number"]
        verbose_name = _("special-operation certificate")
        verbose_name_plural = _("special-operation certificates")
        constraints = [models.UniqueConstraint(fields=["category", "number"], name="certificate_number_unique")]

    def __str__(self):
        return f"{self.number} {self.person}"


# Training (培训) ----------------------------------------------------------------------------------
class TrainingProvider(models.Model):
    """A training institution; checks of it may find fake training or fake certificates."""

    class Standing(models.TextChoices):
        GOOD = "good", _("In good standing")
        WARNED = "warned", _("Warned")
        BARRED = "barred", _("Barred (fake training or certificates)")

    name = models.CharField(_("name"), max_length=128, unique=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    qualification = models.CharField(_("qualification"), max_length=200, blank=True)
    standing = models.CharField(_("standing"), max_length=8, choices=Standing.choices, default=Standing.GOOD)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]
        verbose_name = _("training provider")
        verbose_name_plural = _("training providers")

    def __str__(self):
        return self.name


class ProviderCheck(models.Model):
    provider = models.ForeignKey(TrainingProvider, on_delete=models.PROTECT, related_name="checks")
    checked_on = models.DateField(_("checked on"))
    findings = models.TextField(_("findings"))
    result = models.CharField(_("result"), max_length=8, choices=TrainingProvider.Standing.choices)
    checked_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-checked_on", "-pk"]
        verbose_name = _("provider check")
        verbose_name_plural = _("provider checks")

    def __str__(self):
        return f"{self.provider} · {self.checked_on}"



class TrainingRecord(models.Model):
    """One person's training: the annual training of principal heads and five mine chiefs, special-operation
    training and exams; `official` instead of `person` for the enforcement staff's rotation training."""

    class Kind(models.TextChoices):
        PRINCIPAL_ANNUAL = "principal_annual", _("Principal head: annual safety training")
        CHIEF_ANNUAL = "chief_annual", _("Five mine chiefs: annual safety training")
        SPECIAL_OPERATION = "special_operation", _("Special-operation training and exam")
        STAFF = "staff", _("Other safety training")
        ENFORCEMENT_ROTATION = "enforcement_rotation", _("Enforcement staff rotation training")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="trainings")
    official = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="trainings",
                                 verbose_name=_("enforcement official"))
    provider = models.ForeignKey(TrainingProvider, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="trainings", verbose_name=_("provider"))
    category = models.CharField(_("operation category"), max_length=32, blank=True)
    held_on = models.DateField(_("held on"))
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1)
    passed = models.BooleanField(_("passed"), default=True)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=1, null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = scoped_through("person__mine").as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        verbose_name = _("training record")
        verbose_name_plural = _("training records")

    def __str__(self):
        return f"{self.get_kind_display()} · {self.held_on}"



# Drills and emergency plans --------------------------------------------------------------------------
class Drill(models.Model):
    class Kind(models.TextChoices):
        EVACUATION = "evacuation", _("Evacuation and escape drill (应急撤离避险)")
        OTHER = "other", _("Other emergency drill")

    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="drills", verbose_name=_("mine"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    held_on = models.DateField(_("held on"))
    scenario = models.CharField(_("scenario"), max_length=200)
    participants = models.PositiveIntegerField(_("participants"))
    evidence = models.TextField(_("evidence (record, photos, evaluation)"))
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        verbose_name = _("drill")
        verbose_name_plural = _("drills")

    def __str__(self):
        return f"{self.mine} · {self.held_on}"



class EmergencyPlan(models.Model):
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="emergency_plans",
                             verbose_name=_("mine"))
    title = models.CharField(_("title"), max_length=200)
    version = models.CharField(_("version"), max_length=32)
    revised_on = models.DateField(_("revised on"))
    next_revision_due = models.DateField(_("next revision due"))
    filed_with = models.CharField(_("filed with (备案)"), max_length=128, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "-revised_on"]
        verbose_name = _("emergency plan")
        verbose_name_plural = _("emergency plans")

    def __str__(self):
        return f"{self.title} {self.version}"



# Exams at inspection (逢查必考) -----------------------------------------------------------------------
class ExamQuestion(models.Model):
    """An editable question of the bank, for one post (or all posts)."""

    post = models.CharField(_("post"), max_length=32, blank=True)  # blank: any post
    text = models.TextField(_("question"))
    options = models.JSONField(_("options"), default=list)
    answer = models.CharField(_("answer"), max_length=8)  # the key of the right option, e.g. "B"
    active = models.BooleanField(_("in use"), default=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["post", "pk"]
        verbose_name = _("exam question")
        verbose_name_plural = _("exam questions")

    def __str__(self):
        return self.text[:40]



class Exam(models.Model):
    """A key person examined by an inspector during an inspection."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="exams")
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="exams", verbose_name=_("mine"))
    post = models.CharField(_("post"), max_length=32)
    examiner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("examiner"))
    held_on = models.DateField(_("held on"))
    inspection_ref = models.CharField(_("inspection"), max_length=100, blank=True)
    answers = models.JSONField(_("answers"), default=list)  # [{question, given, right}]
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=1)
    passed = models.BooleanField(_("passed"))

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        verbose_name = _("exam")
        verbose_name_plural = _("exams")

    def __str__(self):
        return f"{self.person} · {self.held_on} · {self.score}"



# Contractors and own teams ---------------------------------------------------------------------------
class OutsourcedProject(models.Model):
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="outsourced_projects",
                             verbose_name=_("mine"))
    contractor = models.CharField(_("contractor"), max_length=128)
    contractor_credit_code = models.CharField(_("contractor's credit code"), max_length=18)
    qualification = models.CharField(_("qualification (资质)"), max_length=200)
    qualification_expires_on = models.DateField(_("qualification expires on"))
    scope = models.CharField(_("scope of work"), max_length=200)
    underground = models.BooleanField(_("work underground"), default=False)
    labour_dispatch = models.BooleanField(_("labour dispatch (劳务派遣)"), default=False)
    blasting = models.BooleanField(_("blasting"), default=False)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["mine", "-start_date"]
        verbose_name = _("outsourced project")
        verbose_name_plural = _("outsourced projects")

    def __str__(self):
        return f"{self.mine} · {self.contractor}"



class MiningTeam(models.Model):
    """How a mine's mining work is staffed (task 22): its own team, or management by a qualified firm."""

    class Mode(models.TextChoices):
        OWN_TEAM = "own_team", _("Own mining team (自营采掘队伍)")
        WHOLE_ENTRUSTMENT = "whole_entrustment", _("Whole-mine management by a qualified firm (整体托管)")
        CONTRACTED = "contracted", _("Contracted teams")
        NONE = "none", _("Not stated")

    mine = models.OneToOneField(Mine, on_delete=models.PROTECT, related_name="mining_team", verbose_name=_("mine"))
    mode = models.CharField(_("mode"), max_length=20, choices=Mode.choices)
    firm = models.CharField(_("managing firm"), max_length=128, blank=True)
    since = models.DateField(_("since"))
    evidence = models.TextField(_("evidence"), blank=True)
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    objects = MineOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("mining team")
        verbose_name_plural = _("mining teams")

    def __str__(self):
        return f"{self.mine} · {self.get_mode_display()}"
