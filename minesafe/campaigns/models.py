"""Special campaigns (专项整治) run through the inspections machinery, and publicity and education events (task 28).

A campaign is a set of sites (mines), a campaign checklist (an inspections checklist template of purpose
"campaign") and a deadline: draft → running → closed. A visit to a site is an ordinary inspection started with the
campaign's checklist (findings, hazards, signatures, documents and immutability as usual); the site's status
follows its inspections: pending → inspected (a visit under way) → rectifying (completed with findings still open)
→ done (completed, every finding rectified or its hazard closed), or exempt with a reason. A site not done by the
deadline of a running campaign is overdue.

A publicity event (安全宣传) is a dated activity with its organiser, kind, audience and reach (people reached, and
online views where it was online), with evidence files checked by content.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, Region, StoredFile, User
from minesafe.core.scoping import NOTHING, ScopePaths, is_city, scope_q
from minesafe.inspections.models import ChecklistTemplate, Inspection
from minesafe.registry.models import Mine

SITE_PATHS = ScopePaths(county="mine__county_id", organisation="mine__enterprise__organisation_id", mine="mine_id")


def site_scope(user) -> Q:
    """Which campaign sites a user sees (a Q on CampaignSite), deny by default: the city all; a county the sites
    in its county; an enterprise its own mines' sites; an inspector the sites at the mines assigned to them;
    departments and the public nothing. Draft campaigns are seen by their organiser's side only."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    q = scope_q(user, SITE_PATHS, department_reads=False)
    if is_city(user):
        return q
    own_draft = Q(campaign__organiser_id=user.organisation_id) if user.role == User.Role.COUNTY else NOTHING
    return q & (~Q(campaign__status=Campaign.Status.DRAFT) | own_draft)


def campaign_scope(user) -> Q:
    """Which campaigns a user sees: the city all; a county those it organises and the others (not drafts) scoped to
    its county, city-wide, or with a site in its county; enterprises and inspectors the campaigns (not drafts)
    with a site they see; departments and the public none."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    sites = CampaignSite.objects.filter(site_scope(user)).values("campaign_id")
    if user.role == User.Role.COUNTY and user.organisation_id:
        region = user.organisation.region_id
        published = ~Q(status=Campaign.Status.DRAFT) & (Q(scope_id=region) | Q(scope__isnull=True) | Q(pk__in=sites))
        return Q(organiser_id=user.organisation_id) | published
    if user.role in (User.Role.ENTERPRISE, User.Role.INSPECTOR):
        return Q(pk__in=sites) & ~Q(status=Campaign.Status.DRAFT)
    return NOTHING


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CampaignQuerySet":
        return self.filter(campaign_scope(user))


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        CLOSED = "closed", _("Closed")

    code = models.CharField(_("campaign number"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    # The action plan's task this campaign carries out (承市安办字〔2024〕69号, e.g. 20 for processing plants).
    plan_task = models.PositiveSmallIntegerField(_("plan task"), null=True, blank=True)
    organiser = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="campaigns",
                                  verbose_name=_("organiser"))
    # None: the whole city; else the one county the campaign covers.
    scope = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("county covered"))
    mine_types = models.JSONField(_("mine types targeted"), default=list)
    # The campaign checklist (purpose "campaign"); visits use the version of its code in use at the time.
    checklist = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT, related_name="campaigns",
                                  verbose_name=_("checklist"))
    description = models.TextField(_("what the campaign is about"), blank=True)
    starts_on = models.DateField(_("starts on"))
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    close_note = models.TextField(_("closing summary"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-pk"]
        verbose_name = _("special campaign")
        verbose_name_plural = _("special campaigns")

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def scope_label(self) -> str:
        return str(self.scope) if self.scope_id else str(_("the whole city"))

    def mine_type_labels(self) -> list[str]:
        return [str(Mine.Type(t).label) for t in self.mine_types if t in Mine.Type.values]

    def is_past_deadline(self, today=None) -> bool:
        return self.status == self.Status.RUNNING and self.deadline < (today or timezone.localdate())


OPEN_SITE_STATUSES = ("pending", "inspected", "rectifying")


class CampaignSiteQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CampaignSiteQuerySet":
        return self.filter(site_scope(user))

    def unfinished(self) -> "CampaignSiteQuerySet":
        return self.filter(status__in=OPEN_SITE_STATUSES)

    def overdue(self, today=None) -> "CampaignSiteQuerySet":
        """Sites not done by the deadline of a running campaign."""
        return self.unfinished().filter(campaign__status=Campaign.Status.RUNNING,
                                        campaign__deadline__lt=today or timezone.localdate())


class CampaignSite(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Not yet visited")
        INSPECTED = "inspected", _("Inspected, record being completed")
        RECTIFYING = "rectifying", _("Rectifying findings")
        DONE = "done", _("Done")
        EXEMPT = "exempt", _("Exempt")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sites",
                                 verbose_name=_("campaign"))
    mine = models.ForeignKey(Mine, on_delete=models.PROTECT, related_name="campaign_sites", verbose_name=_("mine"))
    # Who visits: the mine's county government by default, or the city bureau or an inspection body.
    assigned_organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                              verbose_name=_("assigned to"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    findings_count = models.PositiveIntegerField(_("findings"), default=0)
    open_findings = models.PositiveIntegerField(_("findings open"), default=0)
    exempt_reason = models.CharField(_("reason for exemption"), max_length=500, blank=True)
    # Written when the campaign was closed with this site still open.
    unfinished_reason = models.CharField(_("reason left open at closing"), max_length=500, blank=True)
    closed_at = models.DateTimeField(_("done or exempt at"), null=True, blank=True)
    # The organiser is told once that the site missed the deadline.
    overdue_reported_at = models.DateTimeField(_("overdue reported to the organiser"), null=True, blank=True)
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    objects = CampaignSiteQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "mine__county__code", "mine__code"]
        constraints = [models.UniqueConstraint(fields=["campaign", "mine"], name="campaign_site_once")]
        indexes = [models.Index(fields=["campaign", "status"], name="campaign_site_status_idx")]
        verbose_name = _("campaign site")
        verbose_name_plural = _("campaign sites")

    def __str__(self) -> str:
        return f"{self.campaign.code} · {self.mine}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SITE_STATUSES

    def is_overdue(self, today=None) -> bool:
        return self.is_open and self.campaign.is_past_deadline(today)


class SiteVisit(models.Model):
    """An inspection made as a visit of a campaign site (one site per inspection)."""

    site = models.ForeignKey(CampaignSite, on_delete=models.PROTECT, related_name="visits")
    inspection = models.OneToOneField(Inspection, on_delete=models.PROTECT, related_name="campaign_visit")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "pk"]
        verbose_name = _("campaign visit")
        verbose_name_plural = _("campaign visits")

    def __str__(self) -> str:
        return f"{self.site} · {self.inspection}"


# Publicity and education (task 28) -----------------------------------------------------------------
def event_scope(user) -> Q:
    """The city sees every event; a county the events held in its county or organised by it; nobody else any."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    if user.role == User.Role.COUNTY and user.organisation_id:
        return Q(county_id=user.organisation.region_id) | Q(organiser_id=user.organisation_id)
    return NOTHING


class PublicityEventQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PublicityEventQuerySet":
        return self.filter(event_scope(user))


class PublicityEvent(models.Model):
    class Kind(models.TextChoices):
        LECTURE = "lecture", _("Lecture or briefing (宣讲)")
        EXHIBITION = "exhibition", _("Exhibition (展览)")
        WARNING_EDUCATION = "warning_education", _("Warning education with accident cases (警示教育)")
        MEDIA = "media", _("Media campaign (媒体宣传)")
        SAFETY_MONTH = "safety_month", _("Safety Production Month activity (安全生产月)")
        DRILL_OPEN_DAY = "drill_open_day", _("Drill open day (演练开放日)")
        ENFORCEMENT = "enforcement", _("Publicity at inspections (执法即普法)")
        OTHER = "other", _("Other")

    class Audience(models.TextChoices):
        # The settings of the plan's publicity (进企业、进农村、进社区、进学校、进家庭、进公共场所、进机关;
        # the list is unverified).
        ENTERPRISES = "enterprises", _("Enterprises and their workers")
        VILLAGES = "villages", _("Villages near mines")
        COMMUNITIES = "communities", _("Urban communities")
        SCHOOLS = "schools", _("Schools")
        FAMILIES = "families", _("Families")
        PUBLIC_PLACES = "public_places", _("Public places")
        OFFICIALS = "officials", _("Government bodies and officials")
        ONLINE = "online", _("Online audience")

    held_on = models.DateField(_("held on"))
    organiser = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="publicity_events",
                                  verbose_name=_("organiser"))
    # The county where it was held; None for a city-wide activity (media, online).
    county = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("county"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    place = models.CharField(_("place"), max_length=200, blank=True)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    reach = models.PositiveIntegerField(_("people reached"))
    online_views = models.PositiveIntegerField(_("online views"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = PublicityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["county", "held_on"], name="publicity_county_day_idx")]
        verbose_name = _("publicity event")
        verbose_name_plural = _("publicity events")

    def __str__(self) -> str:
        return f"{self.held_on} {self.title}"


def evidence_path(instance: "PublicityEvidence", filename: str) -> str:
    return f"campaigns/publicity/{instance.event_id}/{filename}"


class PublicityEvidence(StoredFile):
    """A photo or PDF of an event, recognised by its content, stored with its SHA-256 and never rewritten."""

    event = models.ForeignKey(PublicityEvent, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=evidence_path)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event", "pk"]
        verbose_name = _("publicity evidence")
        verbose_name_plural = _("publicity evidence")

