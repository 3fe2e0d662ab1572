"""The demo's special campaign and publicity: the task-20 processing-plant campaign (选矿厂专项整治) across the demo
city's processing plants, and about forty publicity and education events over the twelve months to today.

Everything runs through the services on a replayed clock, so dates, audit events and notifications are where they
would be: the city creates the campaign five months ago with the shipped checklist, adds every processing plant
still in the ledger, exempts the suspended ones and starts it; the counties visit most plants (inspections with the
campaign checklist, findings, both signatures, completion), confirm most findings rectified weeks later (those
sites are done); some plants are still rectifying, a couple of visits are under way, a few plants were never
visited; the deadline passed twelve days ago, and the daily overdue job is replayed since. Idempotent: the campaign
is seeded once per year's code, the events once."""

import datetime as dt
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.db.models import Sum
from django.utils import timezone

from minesafe.core.models import Organisation, User
from minesafe.inspections import services as inspections
from minesafe.inspections.demo import signature_png
from minesafe.inspections.models import Finding, InspectionItem, Method, Signature
from minesafe.registry.models import Mine

from . import deadlines, publicity, services
from .models import Campaign, CampaignSite, PublicityEvent

RES = InspectionItem.Result
SS = CampaignSite.Status
# Problems the visits find, per area of the checklist (item code prefix).
NOTES = {
    "PP-B": ["尾轮防护罩缺失", "拉绳急停开关失效，拉动后输送机未停车", "岗位工在运行的皮带下清理撒料",
             "跑偏保护未接线"],
    "PP-C": ["进仓作业无审批票", "矿仓口格筛缺损，未设防护栏杆", "清堵作业无专项措施，从下方捅料"],
    "PP-R": ["厂区坡道临边无挡车设施", "装载机司机无证驾驶", "装卸区无人指挥"],
    "PP-M": ["检修球磨机未上锁挂牌", "动火作业票缺监护人签字", "外委检修无安全协议"],
    "PP-V": ["现场发现违章作业，未戴安全帽"],
}
# How often an area's items are found wanting (belts and bins most, as in the plan's wording).
FIND_RATE = {"PP-B": 0.16, "PP-C": 0.14, "PP-R": 0.06, "PP-M": 0.10, "PP-V": 0.05}
# (kind, audience, title, reach range, online views range or None)
EVENT_KINDS = [
    ("lecture", "enterprises", "《金属非金属矿山重大事故隐患判定标准》宣讲会", (60, 300), None),
    ("warning_education", "enterprises", "非煤矿山事故案例警示教育", (40, 220), None),
    ("exhibition", "public_places", "安全生产主题展览", (600, 3500), None),
    ("media", "online", "非煤矿山安全生产专题报道", (0, 0), (5000, 60000)),
    ("drill_open_day", "villages", "尾矿库应急演练开放日", (80, 400), None),
    ("enforcement", "enterprises", "执法检查中开展以案说法", (15, 70), None),
    ("lecture", "schools", "安全知识进校园", (200, 900), None),
    ("lecture", "communities", "安全宣传进社区", (100, 600), (0, 3000)),
]
SAFETY_MONTH = ("safety_month", "public_places", "“安全生产月”集中宣传咨询日", (800, 5000), (2000, 20000))
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class CampaignSummary:
    campaigns: int = 0
    sites: int = 0
    visits: int = 0
    findings: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    events: int = 0
    reach: int = 0
    problems: list[str] = field(default_factory=list)


@contextmanager
def clock_at(when: dt.datetime):
    """Run the services as if it were `when` (the services set their timestamps from timezone.now)."""
    with mock.patch.object(timezone, "now", lambda: when):
        yield


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _city_user() -> User | None:
    users = User.objects.filter(role=User.Role.CITY, is_active=True, organisation__kind=Organisation.Kind.CITY_BUREAU)
    return users.filter(is_superuser=False).order_by("pk").first() or users.order_by("pk").first()


def _county_users() -> dict[int, User]:
    """One active county officer per county (region id), the first by username."""
    found: dict[int, User] = {}
    for user in User.objects.filter(role=User.Role.COUNTY, is_active=True, organisation__kind=Organisation.Kind.COUNTY
                                    ).select_related("organisation").order_by("username"):
        found.setdefault(user.organisation.region_id, user)
    return found


def seed_campaigns(year: int | None = None, today: dt.date | None = None, seed: int = 2026,
                   events: int = 40) -> CampaignSummary:
    today = today or timezone.localdate()
    year = year or today.year
    rng = random.Random(f"{seed}:campaigns:{year}")
    summary = CampaignSummary()
    city = _city_user()
    if city is None:
        summary.problems.append("no city user")
        return summary
    counties = _county_users()
    seed_processing_plant_campaign(rng, year, today, city, counties, summary)
    if not PublicityEvent.objects.exists():
        seed_publicity(rng, today, city, counties, summary, count=events)
    summary.events = PublicityEvent.objects.count()
    summary.reach = PublicityEvent.objects.aggregate(r=Sum("reach"))["r"] or 0
    return summary


def seed_processing_plant_campaign(rng: random.Random, year: int, today: dt.date, city: User,
                                   counties: dict[int, User], summary: CampaignSummary) -> Campaign | None:
    code = f"ZX-{year}-20"
    if Campaign.objects.filter(code=code).exists():
        return None
    plants = list(Mine.objects.filter(mine_type=Mine.Type.PROCESSING_PLANT, county_id__in=list(counties))
                  .exclude(status=Mine.Status.CLOSED).select_related("county", "enterprise").order_by("code"))
    if not plants:
        summary.problems.append("no processing plants in counties with an officer")
        return None
    starts_on, deadline = today - dt.timedelta(days=150), today - dt.timedelta(days=12)
    with clock_at(_at(starts_on - dt.timedelta(days=10), 10)):
        campaign = services.create_campaign(
            city, code=code, title=f"{year}年选矿厂安全专项整治", plan_task=20, starts_on=starts_on, deadline=deadline,
            description="按照行动方案任务20，对全市选矿厂的带式输送机、矿仓、厂区道路、检修和清理作业开展专项整治，"
                        "严查“三违”行为。各县（市、区）对辖区选矿厂逐一检查，问题闭环整改。")
        services.add_sites(city, campaign, plants)
    sites = {s.mine_id: s for s in campaign.sites.select_related("mine", "campaign")}
    with clock_at(_at(starts_on, 9)):
        for plant in plants:
            if plant.status != Mine.Status.PRODUCING:
                services.exempt_site(city, sites[plant.pk], "停产停建期间不具备检查条件，复产复工验收时一并检查。")
        services.start_campaign(city, campaign)
    items = list(services.current_checklist(campaign).items.order_by("position"))
    producing = [p for p in plants if p.status == Mine.Status.PRODUCING]
    fates = _fates(rng, len(producing))
    for plant, fate in zip(producing, fates, strict=True):
        officer = counties[plant.county_id]
        site = sites[plant.pk]
        if fate == "never":
            continue
        if fate == "under_way":
            day = today - dt.timedelta(days=rng.randint(0, 2))
            with clock_at(_at(day, 9, rng.randint(0, 59))):
                inspection = services.visit_site(officer, site, inspected_on=day, method=Method.UNANNOUNCED,
                                                 team="专项整治检查组")
                for item in list(inspection.items.order_by("position"))[:rng.randint(3, 8)]:
                    inspections.record_result(officer, item, RES.COMPLIANT)
            summary.visits += 1
            continue
        late = fate == "late_visit"
        day = (deadline + dt.timedelta(days=rng.randint(1, 10))) if late else \
            starts_on + dt.timedelta(days=rng.randint(5, (deadline - starts_on).days - 20))
        day = min(day, today - dt.timedelta(days=1))
        findings = _visit(rng, officer, site, day, items, clean=fate == "clean")
        summary.visits += 1
        summary.findings += len(findings)
        if fate == "rectifying":
            findings = findings[1:]  # one stays open
        for finding in findings:
            confirmed = finding.deadline - dt.timedelta(days=rng.randint(0, 12))
            if confirmed >= today:
                continue
            with clock_at(_at(confirmed, 15, rng.randint(0, 59))):
                inspections.confirm_rectified(officer, finding, "复查确认已整改到位。")
    for offset in range((today - deadline).days - 1, -1, -1):  # the daily overdue job, replayed
        day = today - dt.timedelta(days=offset)
        with clock_at(_at(day, 6, 50)):
            deadlines.remind_overdue(day)
    summary.campaigns += 1
    summary.sites = campaign.sites.count()
    summary.by_status = {s: campaign.sites.filter(status=s).count() for s in SS.values}
    summary.overdue = campaign.sites.overdue(today).count()
    return campaign


def _fates(rng: random.Random, n: int) -> list[str]:
    """What happens at each producing plant: never visited, a visit under way today, visited with findings (most
    rectified, some still open), visited clean, visited after the deadline."""
    fates = ["visited"] * n
    picks = list(range(n))
    rng.shuffle(picks)
    plan = [("never", max(1, n // 8)), ("under_way", 1 if n < 8 else 2), ("rectifying", max(1, n // 6)),
            ("clean", max(1, n // 5)), ("late_visit", 1 if n >= 6 else 0)]
    cursor = 0
    for fate, count in plan:
        for index in picks[cursor:cursor + count]:
            fates[index] = fate
        cursor += count
    return fates


def _visit(rng: random.Random, officer: User, site: CampaignSite, day: dt.date, items, *, clean: bool) -> list[Finding]:
    """A completed visit: every item checked, some found wanting (at least one unless clean), both signatures."""
    with clock_at(_at(day, 9, rng.randint(0, 59))):
        inspection = services.visit_site(officer, site, inspected_on=day, method=rng.choice(
            [Method.UNANNOUNCED, Method.UNANNOUNCED, Method.ROUTINE]), team="专项整治检查组")
    wanting = set() if clean else {i.position for i in items if rng.random() < FIND_RATE.get(i.code[:4], 0.05)}
    if not clean and not wanting:
        wanting = {rng.choice(items).position}
    with clock_at(_at(day, 10, rng.randint(0, 59))):
        for item in inspection.items.order_by("position"):
            if item.position in wanting:
                note = rng.choice(NOTES.get(item.code[:4], ["现场发现问题"]))
                inspections.record_result(officer, item, RES.HAZARD_FOUND, note=note,
                                          deadline=day + dt.timedelta(days=30))
            else:
                inspections.record_result(officer, item, RES.COMPLIANT)
        inspections.update_details(officer, inspection, team="专项整治检查组",
                                   summary="按专项整治检查表逐项检查，问题已当场反馈企业并下达整改要求。")
    with clock_at(_at(day, 11, rng.randint(30, 59))):
        inspections.sign(officer, inspection, Signature.Role.LEAD_INSPECTOR, image=signature_png(1))
        inspections.sign(officer, inspection, Signature.Role.ENTERPRISE,
                         signer_name=site.mine.enterprise.legal_representative or "厂长", image=signature_png(4))
        inspections.complete(officer, inspection)
    return list(Finding.objects.filter(inspection=inspection).order_by("pk"))


def seed_publicity(rng: random.Random, today: dt.date, city: User, counties: dict[int, User],
                   summary: CampaignSummary, count: int = 40) -> None:
    """About `count` events over the twelve months to today: the counties' own (lectures, warning education with
    accident cases, drill open days, publicity at inspections …), the city's media campaigns, and a cluster in June,
    the Safety Production Month (安全生产月); a third with a photo or PDF as evidence."""
    start = today - dt.timedelta(days=364)
    county_ids = sorted(counties)
    june = dt.date(today.year if today.month >= 7 else today.year - 1, 6, 1)
    days = sorted(start + dt.timedelta(days=rng.randint(0, 364)) for _ in range(count - count // 5))
    days += [june + dt.timedelta(days=rng.randint(0, 29)) for _ in range(count // 5)]
    for n, day in enumerate(sorted(d for d in days if start <= d <= today)):
        in_june = day.month == 6 and rng.random() < 0.6
        kind, audience, title, reach, views = SAFETY_MONTH if in_june else rng.choice(EVENT_KINDS)
        if kind == "media" or not county_ids:
            actor, county = city, None
        elif rng.random() < 0.12:  # the city's own, city-wide or in one county
            actor = city
            county = counties[rng.choice(county_ids)].organisation.region if rng.random() < 0.5 else None
        else:
            actor = counties[rng.choice(county_ids)]
            county = actor.organisation.region
        evidence = []
        if n % 3 == 0:
            evidence = [("现场照片.png", signature_png(n))] if n % 2 == 0 else [("活动总结.pdf", PDF)]
        with clock_at(_at(day, 17, rng.randint(0, 59))):
            publicity.record_event(
                actor, held_on=day, kind=kind, audience=audience, title=f"{county or '全市'}{title}",
                place=f"{county}{rng.choice(['县应急管理局会议室', '文化广场', '矿区', '中学'])}" if county else "",
                reach=rng.randint(*reach), online_views=rng.randint(*views) if views else None,
                county=county, evidence=evidence)
