"""The city and county dashboards (issue 9, part 3): what the duty room looks at.

One function gathers a scope's figures — the city's (county None) or one county's — from the apps that own them:
mines and suspensions from the registry, open alarms from monitoring, major hazards, the KPIs of the plan, plan
progress and the latest published evaluation per county, and each mine's risk band for the map. Nothing here
changes state; the views only check who may look at which scope.

Every figure comes with the date and the scope it was counted for; the counts use the same querysets as the
pages they link to, so a number on the dashboard is the length of the list behind it.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core.models import Organisation, Region, User
from minesafe.core.scoping import is_city
from minesafe.enforcement import risk
from minesafe.enforcement.plans import progress_overview
from minesafe.evaluation.models import ScoreSheet
from minesafe.hazards.models import Hazard
from minesafe.monitoring import queries as alarm_queries
from minesafe.monitoring.models import Alarm, Level
from minesafe.plan import kpis as plan_kpis
from minesafe.registry.models import Mine

STOPPED = [Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED]
HIGH_BANDS = {risk.RiskBand.HIGH, risk.RiskBand.MAJOR}
# The four warning colours (as the stylesheet's --blue … --red) for the risk bands' colour names.
COLOURS = {"blue": "#1565c0", "yellow": "#f9a825", "orange": "#ef6c00", "red": "#c62828"}
KPI_CACHE_SECONDS = 600  # the KPIs read three years of history; the duty room's screen polls every minute
RISK_CACHE_SECONDS = 300


def may_view(user) -> bool:
    return bool(user.is_authenticated and (is_city(user) or user.role == User.Role.COUNTY))


def scope_for(user, county_code: str = "") -> Region | None:
    """The county the dashboard shows (None: the whole city). The city picks any county; a county user sees
    its own only (asking for another is a 404, as for any record outside one's scope); others are refused."""
    if not may_view(user):
        raise PermissionDenied
    if is_city(user):
        if not county_code:
            return None
        county = Region.objects.filter(code=county_code).exclude(kind=Region.Kind.CITY).first()
        if county is None:
            raise Http404
        return county
    own = user.organisation.region if user.organisation_id else None
    if own is None or (county_code and county_code != own.code):
        raise Http404
    return own


def scoped_mines(user, county: Region | None):
    mines = Mine.objects.visible_to(user)
    return mines.filter(county=county) if county is not None else mines


@dataclass
class CountyRow:
    code: str
    name: str
    mines: int = 0
    producing: int = 0
    stopped: int = 0
    open_hazards: int = 0
    overdue_hazards: int = 0
    open_alarms: int = 0
    red_orange_alarms: int = 0
    high_risk: int = 0
    inspections_planned_to_date: int = 0
    inspections_done_to_date: int = 0
    evaluation_total: float | None = None
    evaluation_quarter: str = ""

    @property
    def inspection_share(self) -> float | None:
        if not self.inspections_planned_to_date:
            return None
        return round(min(self.inspections_done_to_date / self.inspections_planned_to_date, 1.0), 3)


@dataclass
class Dashboard:
    as_of: dt.date
    generated_at: dt.datetime
    county: Region | None
    totals: dict
    alarms: alarm_queries.Summary
    hazards: dict
    overdue_hazards: list
    stopped_mines: list
    kpis: list
    risk_bands: dict  # band -> number of mines
    counties: list[CountyRow] = field(default_factory=list)
    highest_risk: list = field(default_factory=list)

    @property
    def scope_name(self) -> str:
        return self.county.name_zh if self.county is not None else _("Chengde City")


def _totals(mines, today: dt.date) -> dict:
    return mines.aggregate(
        total=Count("id", filter=~Q(status=Mine.Status.CLOSED)),
        producing=Count("id", filter=Q(status=Mine.Status.PRODUCING)),
        stopped=Count("id", filter=Q(status__in=STOPPED)),
        construction=Count("id", filter=Q(status=Mine.Status.CONSTRUCTION)),
        closed=Count("id", filter=Q(status=Mine.Status.CLOSED)),
        ponds=Count("id", filter=Q(mine_type=Mine.Type.TAILINGS_POND) & ~Q(status=Mine.Status.CLOSED)),
        head_ponds=Count("id", filter=Q(is_head_pond=True) & ~Q(status=Mine.Status.CLOSED)),
        ledger_overdue=Count("id", filter=Q(ledger_due_date__lt=today) & ~Q(status=Mine.Status.CLOSED)),
    )


def _hazards(user, county: Region | None, today: dt.date) -> tuple[dict, list]:
    hazards = Hazard.objects.visible_to(user)
    if county is not None:
        hazards = hazards.filter(mine__county=county)
    month_start = today.replace(day=1)
    figures = hazards.aggregate(
        open=Count("id", filter=~Q(status__in=[Hazard.Status.CLOSED, Hazard.Status.CANCELLED])),
        overdue=Count("id", filter=Q(status__in=[Hazard.Status.REPORTED, Hazard.Status.RECTIFYING],
                                     deadline__lt=today)),
        awaiting_verification=Count("id", filter=Q(status=Hazard.Status.SUBMITTED)),
        found_this_month=Count("id", filter=Q(found_on__gte=month_start, found_on__lte=today)),
        closed_this_month=Count("id", filter=Q(status=Hazard.Status.CLOSED, closed_at__date__gte=month_start)),
    )
    overdue = list(hazards.overdue(today).select_related("mine__county", "item").order_by("deadline", "pk")[:8])
    return figures, overdue


def _alarms(user, county: Region | None, now: dt.datetime) -> alarm_queries.Summary:
    alarms = alarm_queries.open_alarms(user)
    mines = Mine.objects.visible_to(user)
    if county is not None:
        alarms, mines = alarms.filter(mine__county=county), mines.filter(county=county)
    totals = alarms.order_by().aggregate(open=Count("pk"), overdue=Count("pk", filter=alarm_queries.overdue_q(now)),
                                         unack=Count("pk", filter=Q(status=Alarm.Status.UNACKNOWLEDGED)))
    from minesafe.monitoring import services as monitoring_services

    return alarm_queries.Summary(
        levels=alarm_queries.level_counts(alarms), open_total=totals["open"], overdue=totals["overdue"],
        unacknowledged=totals["unack"], top=alarm_queries.with_deadlines(alarms[:8], now),
        rates=monitoring_services.online_rates(mines, now))


def scores_for(county: Region | None, mines: list[Mine], as_of: dt.date) -> dict:
    """The scope's risk scores, kept for five minutes: scoring a thousand mines takes about a second and the
    panels refresh every minute (the ranking page itself always scores afresh)."""
    key = f"dashboard-risk:{county.code if county else 'city'}:{as_of.isoformat()}"
    scores = cache.get(key)
    if scores is None or set(scores) != {m.pk for m in mines}:
        scores = risk.score_mines(mines, as_of)
        cache.set(key, scores, RISK_CACHE_SECONDS)
    return scores


def inspection_progress(user, today: dt.date) -> dict[str, tuple[int, int]]:
    """Each county's inspections planned and done to date under its approved plan (the city's view of every
    body), kept ten minutes: it walks every plan entry and visit of the year."""
    key = f"dashboard-inspections:{today.isoformat()}"
    figures = cache.get(key)
    if figures is None:
        figures = {}
        for progress in progress_overview(user, today.year, today):
            organisation = progress.organisation
            if organisation.kind == Organisation.Kind.COUNTY:
                figures[organisation.region.code] = (progress.planned_to_date, progress.done_to_date)
        cache.set(key, figures, KPI_CACHE_SECONDS)
    return figures


def kpis_for(county: Region | None, as_of: dt.date) -> list:
    """Every KPI without its trend, kept for ten minutes per scope, day and language (the titles are translated)."""
    key = f"dashboard-kpis:{county.code if county else 'city'}:{as_of.isoformat()}:{get_language()}"
    values = cache.get(key)
    if values is None:
        values = plan_kpis.all_kpis(as_of, county, with_trend=False)
        cache.set(key, values, KPI_CACHE_SECONDS)
    return values


def _county_rows(user, mines, bands: dict[int, str], today: dt.date, now: dt.datetime) -> list[CountyRow]:
    regions = Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")
    rows = {r.pk: CountyRow(r.code, r.short_zh or r.name_zh) for r in regions}
    for row in (mines.values("county_id").annotate(
            total=Count("id", filter=~Q(status=Mine.Status.CLOSED)),
            producing=Count("id", filter=Q(status=Mine.Status.PRODUCING)),
            stopped=Count("id", filter=Q(status__in=STOPPED))).order_by()):
        county = rows.get(row["county_id"])
        if county:
            county.mines, county.producing, county.stopped = row["total"], row["producing"], row["stopped"]
    for row in (Hazard.objects.visible_to(user).open().values("mine__county_id").annotate(
            n=Count("id"), late=Count("id", filter=Q(status__in=[Hazard.Status.REPORTED, Hazard.Status.RECTIFYING],
                                                      deadline__lt=today))).order_by()):
        county = rows.get(row["mine__county_id"])
        if county:
            county.open_hazards, county.overdue_hazards = row["n"], row["late"]
    for row in (Alarm.objects.visible_to(user).filter(closed_at__isnull=True).values("mine__county_id").annotate(
            n=Count("id"), severe=Count("id", filter=Q(level__gte=Level.ORANGE))).order_by()):
        county = rows.get(row["mine__county_id"])
        if county:
            county.open_alarms, county.red_orange_alarms = row["n"], row["severe"]
    county_of = dict(mines.values_list("pk", "county_id"))
    for mine_id, band in bands.items():
        if band in HIGH_BANDS and county_of.get(mine_id) in rows:
            rows[county_of[mine_id]].high_risk += 1
    by_region = {row.code: row for row in rows.values()}
    for code, (planned, done) in inspection_progress(user, today).items():
        if code in by_region:
            by_region[code].inspections_planned_to_date, by_region[code].inspections_done_to_date = planned, done
    latest = {}
    for sheet in ScoreSheet.objects.visible_to(user).published().select_related("county").order_by("year", "quarter"):
        latest[sheet.county.code] = sheet
    for code, sheet in latest.items():
        if code in by_region and sheet.total is not None:
            by_region[code].evaluation_total = float(sheet.total)
            by_region[code].evaluation_quarter = f"{sheet.year} Q{sheet.quarter}"
    return [row for row in rows.values() if row.mines or row.open_hazards or row.open_alarms]


def build(user, county: Region | None, *, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    today = timezone.localdate(now)
    mines = scoped_mines(user, county)
    live = list(mines.exclude(status=Mine.Status.CLOSED).select_related("county"))
    scores = scores_for(county, live, today)
    bands = {pk: score.band for pk, score in scores.items()}
    band_counts = {band: 0 for band in risk.BAND_ORDER}
    for band in bands.values():
        band_counts[band] = band_counts.get(band, 0) + 1
    hazards, overdue = _hazards(user, county, today)
    stopped = list(mines.filter(status__in=STOPPED).select_related("county").order_by("-status_since", "code")[:10])
    dashboard = Dashboard(
        as_of=today, generated_at=now, county=county, totals=_totals(mines, today), alarms=_alarms(user, county, now),
        hazards=hazards, overdue_hazards=overdue, stopped_mines=stopped, kpis=kpis_for(county, today),
        risk_bands=band_counts)
    if county is None:
        dashboard.counties = _county_rows(user, mines, bands, today, now)
    dashboard.highest_risk = [(mine, score) for mine, score in risk.ranked(scores, live)
                              if score.band in HIGH_BANDS][:10]
    return dashboard


def mine_points(user, county: Region | None, today: dt.date | None = None) -> dict:
    """The map's mines as GeoJSON points with their risk band (mines without coordinates are left off and counted)."""
    today = today or timezone.localdate()
    mines = scoped_mines(user, county).exclude(status=Mine.Status.CLOSED)
    bands = {pk: score.band for pk, score in scores_for(county, list(mines.select_related("county")), today).items()}
    labels_type, labels_status = dict(Mine.Type.choices), dict(Mine.Status.choices)
    features, unplaced = [], 0
    for pk, code, name, lon, lat, mine_type, status, county_code in mines.values_list(
            "pk", "code", "name", "longitude", "latitude", "mine_type", "status", "county__code").order_by("code"):
        if lon is None or lat is None:
            unplaced += 1
            continue
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                         "properties": {"id": pk, "code": code, "name": name, "type": str(labels_type[mine_type]),
                                        "status": str(labels_status[status]), "county": county_code,
                                        "band": bands.get(pk, ""),
                                        "url": reverse("registry:mine-detail", args=[pk])}})
    return {"type": "FeatureCollection", "features": features, "unplaced": unplaced}


def basemap() -> dict:
    """The tile layer from settings (empty: the map draws the county outlines and the mines on a plain ground)."""
    return {"url": settings.MAP_BASEMAP_URL, "attribution": settings.MAP_BASEMAP_ATTRIBUTION}


def county_choices(user) -> list[tuple[str, str]]:
    """The counties the city may switch to (a county user has no choice to make)."""
    if not is_city(user):
        return []
    return [(r.code, r.short_zh or r.name_zh) for r in Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")]


def band_legend() -> list[tuple[str, str, str]]:
    """(band, label, colour) from the lowest band to the highest, for the map's legend and the chips."""
    return [(str(band), risk.band_label(band), COLOURS[risk.BAND_COLOURS[band]]) for band in risk.BAND_ORDER]
