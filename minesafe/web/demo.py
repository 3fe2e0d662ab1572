"""A realistic demo city: Chengde's 12 county-level units, ~300 mines, users for every role,
24 months of monthly ledger history and online monitoring (gateways, sensors, 7 days of readings).
Deterministic for a given seed; dates follow today's date so the demo always looks current (some
mines have missed last month's ledger and show as overdue)."""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from minesafe.campaigns.demo import CampaignSummary, seed_campaigns
from minesafe.core import audit
from minesafe.core.models import Organisation, Region, User
from minesafe.core.services import bootstrap_reference_data
from minesafe.core.validators import CREDIT_ALPHABET, credit_code_check_char, org_code_check_char
from minesafe.enforcement.demo_accidents import AccidentSummary, seed_accidents
from minesafe.enforcement.demo_plans import PlanSummary as InspectionPlanSummary
from minesafe.enforcement.demo_plans import plan_targets, seed_plans
from minesafe.evaluation.demo import EvaluationSummary, seed_evaluation
from minesafe.inspections.demo import InspectionSummary, seed_inspections
from minesafe.monitoring.demo import MonitoringSummary, seed_monitoring
from minesafe.monitoring.models import Sensor
from minesafe.officers.demo import OfficerSummary, seed_officers
from minesafe.operations.demo import OperationsSummary, seed_operations
from minesafe.penalties.demo import PenaltySummary, seed_penalties
from minesafe.personnel.demo import PeopleSummary, seed_people
from minesafe.plan.demo import PlanSummary, seed_plan
from minesafe.plan.demo_kpis import KpiHistorySummary, seed_kpi_history
from minesafe.registry import services as registry
from minesafe.registry.models import (
    Enterprise,
    LedgerSubmission,
    Mine,
    MineAssignment,
    MineStatusChange,
    ResponsibleLeader,
)
from minesafe.thirdparty.demo import ThirdpartySummary, seed_thirdparty
from minesafe.tipoffs.demo import TipoffSummary, seed_tipoffs

DEMO_PASSWORD = "Demo@2026"

# code: (mines, approximate centre lon, lat). 宽城 is the plan's key county; iron dominates.
COUNTY_PROFILE = {
    "130802": (5, 117.94, 40.97), "130803": (15, 117.80, 40.96), "130804": (8, 117.66, 40.55),
    "130821": (35, 118.17, 40.77), "130822": (20, 117.50, 40.42), "130824": (35, 117.33, 40.94),
    "130825": (30, 117.73, 41.31), "130826": (25, 116.65, 41.21), "130827": (70, 118.48, 40.61),
    "130828": (22, 117.76, 41.94), "130881": (25, 118.70, 41.02), "130871": (10, 118.05, 40.90),
}
PLACES = [
    "大石门", "黄崖子", "孟子岭", "塌山", "化皮", "碾子峪", "汤道河", "亮甲台", "独石沟", "苇子沟", "板城",
    "三家", "岔沟", "桲罗台", "小寺沟", "黑山", "两家", "六沟", "下板城", "峪耳崖", "北大岭", "马圈子",
    "龙须门", "东川", "西沟", "铧尖", "南天门", "上谷", "安子岭", "七家", "茅沟", "杨树岭", "五道河", "蘑菇峪",
    "红旗", "大杖子", "石洞子", "柳河", "榆树林", "白草洼", "长沟", "鹿尾山", "王厂沟", "冰窖", "大营子",
]
STATUS_MIX = [("producing", 60), ("suspended", 18), ("construction", 6), ("construction_halted", 4),
              ("closed", 12)]
LEADER_POSTS = {
    "county": ["副县长", "县应急管理局局长", "县自然资源和规划局局长"],
    "township": ["乡长", "镇长", "乡党委书记", "镇党委书记"],
    "city": ["副市长", "市应急管理局局长"],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "建国志强海涛明华立新振军晓东德胜文斌永红俊杰国庆春雨玉兰丽娟秀英"


@dataclass
class DemoLogin:
    username: str
    role: str
    organisation: str


@dataclass
class DemoSummary:
    mines: int = 0
    enterprises: int = 0
    ledger_rows: int = 0
    hazards: int = 0
    logins: list[DemoLogin] = field(default_factory=list)
    monitoring: MonitoringSummary | None = None
    operations: OperationsSummary | None = None
    people: PeopleSummary | None = None
    accidents: AccidentSummary | None = None
    tipoffs: TipoffSummary | None = None
    officers: OfficerSummary | None = None
    inspection_plans: InspectionPlanSummary | None = None
    inspections: InspectionSummary | None = None
    penalties: PenaltySummary | None = None
    thirdparty: ThirdpartySummary | None = None
    campaigns: CampaignSummary | None = None
    evaluation: EvaluationSummary | None = None
    plan: PlanSummary | None = None
    kpi_history: KpiHistorySummary | None = None


DEMO_USERNAMES = ["admin", "city", "kuancheng", "xinglong", "ziranziyuan", "gongdian", "gongan", "qiye_kc",
                  "qiye_xl", "inspector"]


def is_demo_database() -> bool:
    """Whether this database holds the demo city (its mines and its fixed logins)."""
    return Mine.objects.exists() and User.objects.filter(username__in=["admin", "city", "qiye_kc"]).count() == 3


def ensure_demo_monitoring(**options) -> MonitoringSummary | None:
    """Add the demo monitoring to a demo database seeded before monitoring existed (nothing otherwise).
    `options` go to monitoring.demo.seed_monitoring."""
    if is_demo_database() and not Sensor.objects.exists():
        return seed_monitoring(**options)
    return None


def demo_logins() -> list[DemoLogin]:
    """The demo users that exist, for printing at start-up."""
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES).select_related("organisation")}
    return [DemoLogin(name, users[name].get_role_display() if users[name].role else "", str(users[name].organisation))
            for name in DEMO_USERNAMES if name in users]


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def make_credit_code(rng: random.Random, county_code: str, used: set[str]) -> str:
    # The organisation code part (GB 11714) uses the credit alphabet and carries its own check character.
    while True:
        first8 = "MA" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(6))
        org = first8 + org_code_check_char(first8)
        if org[-1] not in CREDIT_ALPHABET:
            continue
        first17 = "91" + county_code + org
        code = first17 + credit_code_check_char(first17)
        if code not in used:
            used.add(code)
            return code


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice([1, 2])))


def months_back(today: dt.date, n: int) -> list[dt.date]:
    """The n full months before this one, oldest first."""
    this_month = today.replace(day=1)
    return [registry.add_months(this_month, -k) for k in range(n, 0, -1)]


def _mine_spec(rng: random.Random, mine_type: str) -> dict:
    spec: dict = {"mine_type": mine_type}
    if mine_type == "underground":
        spec["mineral"] = weighted(rng, [("铁矿", 60), ("岩金", 25), ("萤石", 8), ("铅锌矿", 7)])
        spec["design_capacity"] = Decimal(rng.choice([3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 150]))
        spec["people_underground"] = rng.randint(15, 220)
    elif mine_type == "open_pit":
        spec["mineral"] = weighted(rng, [("铁矿", 75), ("石灰岩", 15), ("白云岩", 10)])
        spec["design_capacity"] = Decimal(rng.choice([5, 10, 20, 40, 60, 80, 120, 200, 300]))
        spec["slope_height"] = Decimal(rng.randint(40, 260))
    elif mine_type == "quarry":
        spec["mineral"] = "建筑石料"
        spec["design_capacity"] = Decimal(rng.choice([2, 3, 5, 8, 12, 20]))
        spec["slope_height"] = Decimal(rng.randint(20, 120))
    elif mine_type == "tailings_pond":
        capacity = Decimal(rng.choice([20, 50, 80, 150, 300, 600, 1200, 2500, 4000, 12000]))
        height = Decimal(rng.choice([18, 25, 35, 45, 58, 70, 85, 105]))
        spec.update(
            mineral="铁矿",
            design_pond_capacity=capacity,
            current_pond_capacity=(capacity * Decimal(rng.randint(30, 95)) / 100).quantize(Decimal("0.01")),
            design_dam_height=height,
            current_dam_height=(height * Decimal(rng.randint(40, 100)) / 100).quantize(Decimal("0.01")),
            dam_method=weighted(rng, [("upstream", 75), ("one_time", 12), ("centerline", 8), ("downstream", 5)]),
            is_head_pond=rng.random() < 0.1,
        )
        if spec["is_head_pond"]:
            spec["downstream_within_1km"] = f"{rng.choice(PLACES)}村 约{rng.randint(40, 600)}人"
    else:
        spec["mineral"] = weighted(rng, [("铁矿", 85), ("岩金", 15)])
        spec["scale_class"] = weighted(rng, [("small", 70), ("medium", 25), ("large", 5)])
    return spec


@transaction.atomic
def seed_demo(seed: int = 2026, months: int = 24, scale: float = 1.0, monitoring: bool | None = None,
              until: str | None = None) -> DemoSummary:
    """Seed the demo city into an empty registry. `scale` multiplies mine counts (benchmarks use it).
    `monitoring` adds gateways, sensors and a week of readings (monitoring.demo); by default only at
    scale 1, since a scaled-up registry would make the telemetry history the benchmark's bottleneck.
    `until` names the last of LATER_STAGES to seed (an app's own demo test seeds its stage itself)."""
    if Mine.objects.exists():
        raise RuntimeError("the registry already has mines; the demo seeds an empty database only")
    bootstrap_reference_data()
    rng = random.Random(seed)
    today = timezone.localdate()
    periods = months_back(today, months)
    start = periods[0]
    summary = DemoSummary()
    counties = {r.code: r for r in Region.objects.exclude(kind=Region.Kind.CITY)}
    county_orgs = {o.region.code: o for o in Organisation.objects.filter(kind="county").select_related("region")}
    city_org = Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)
    changes: list[audit.Change] = []

    # Users for every role (one password hash: hashing is deliberately slow).
    password_hash = make_password(DEMO_PASSWORD)

    def add_user(username, role, org, name, superuser=False):
        user = User(username=username, role=role, organisation=org, display_name=name, is_superuser=superuser,
                    is_staff=superuser)
        user.password = password_hash
        user.save()
        changes.append(audit.Change("create", user, after={"username": username, "role": role}))
        return user

    admin = add_user("admin", User.Role.CITY, city_org, "系统管理员", superuser=True)
    add_user("city", User.Role.CITY, city_org, "市应急管理局 值班员")
    summary.logins.append(DemoLogin("admin", "city + Django admin", city_org.name))
    summary.logins.append(DemoLogin("city", "city", city_org.name))
    for code, org in sorted(county_orgs.items()):
        add_user(f"county_{code}", User.Role.COUNTY, org, f"{org.region} 应急管理局")
    add_user("kuancheng", User.Role.COUNTY, county_orgs["130827"], "宽城县 监管员")
    add_user("xinglong", User.Role.COUNTY, county_orgs["130822"], "兴隆县 监管员")
    summary.logins += [DemoLogin("kuancheng", "county", county_orgs["130827"].name),
                       DemoLogin("xinglong", "county", county_orgs["130822"].name)]
    for username, unit in (("ziranziyuan", "ZRZY"), ("gongdian", "GD"), ("gongan", "GA")):
        org = Organisation.objects.get(kind=Organisation.Kind.DEPARTMENT, unit_code=unit)
        add_user(username, User.Role.DEPARTMENT, org, org.name)
        summary.logins.append(DemoLogin(username, "department", org.name))

    # Enterprises and mines.
    used_codes: set[str] = set()
    mines: list[Mine] = []
    for code, (count, lon, lat) in COUNTY_PROFILE.items():
        county = counties[code]
        count = max(1, round(count * scale))
        made = 0
        serial = 0
        while made < count:
            place = rng.choice(PLACES)
            serial += 1
            credit = make_credit_code(rng, code, used_codes)
            name = f"{county.short_zh or county.name_zh[:2]}{place}矿业有限公司"
            if Organisation.objects.filter(kind="enterprise", name=name).exists():
                name = f"{county.short_zh or county.name_zh[:2]}{place}{serial}号矿业有限公司"
            org = Organisation.objects.create(kind=Organisation.Kind.ENTERPRISE, name=name, region=county)
            enterprise = Enterprise.objects.create(
                name=name, credit_code=credit, organisation=org, county=county,
                legal_representative=person_name(rng), phone=f"0314-{rng.randint(2000000, 8999999)}",
                address=f"{county.name_zh}{place}村",
            )
            changes.append(audit.Change("create", enterprise, after=audit.snapshot(enterprise)))
            summary.enterprises += 1
            # A typical group: a mine, often its processing plant and tailings pond.
            main_type = weighted(rng, [("underground", 45), ("open_pit", 33), ("quarry", 12), ("tailings_pond", 10)])
            group = [main_type]
            if main_type in ("underground", "open_pit") and rng.random() < 0.55:
                group.append("tailings_pond")
                if rng.random() < 0.6:
                    group.append("processing_plant")
            for mine_type in group[: count - made]:
                made += 1
                spec = _mine_spec(rng, mine_type)
                suffix = {"underground": spec.get("mineral", "") + "矿", "open_pit": "露天" + spec["mineral"] + "矿",
                          "quarry": "建筑石料矿", "tailings_pond": "尾矿库", "processing_plant": "选矿厂"}[mine_type]
                suffix = suffix.replace("矿矿", "矿")
                status = weighted(rng, STATUS_MIX)
                if status in ("construction", "construction_halted") and mine_type == "processing_plant":
                    status = "producing"
                registered = start - dt.timedelta(days=rng.randint(200, 4000))
                status_since = registered
                if status != "producing" and status != "construction":
                    status_since = start + dt.timedelta(days=rng.randint(0, (today - start).days - 20))
                grade = weighted(rng, [(None, 20), (3, 55), (2, 22), (1, 3)]) if status != "closed" else None
                expiry = today + dt.timedelta(days=rng.randint(-200, 1100)) if mine_type != "processing_plant" else None
                mine = Mine(
                    code=f"{code}-{len([m for m in mines if m.county_id == county.pk]) + 1:03d}",
                    name=f"{enterprise.name[:-6]}{suffix}",
                    enterprise=enterprise, county=county, status=status, status_since=status_since,
                    address=f"{county.name_zh}{place}村",
                    longitude=Decimal(str(round(lon + rng.uniform(-0.22, 0.22), 6))),
                    latitude=Decimal(str(round(lat + rng.uniform(-0.18, 0.18), 6))),
                    licence_no=f"（冀）FM安许证字〔{rng.randint(2019, 2025)}〕{rng.randint(1000, 9999)}号"
                    if expiry else "",
                    licence_expiry=expiry, standard_grade=grade,
                    standard_date=today - dt.timedelta(days=rng.randint(30, 1000)) if grade else None,
                    **spec,
                )
                registry.apply_classification(mine)
                mine._registered = registered
                mine._initial = "construction" if status in ("construction", "construction_halted") else "producing"
                mines.append(mine)
    # Two intelligent mines in progress (plan goal 2).
    underground = [m for m in mines if m.mine_type == "underground" and m.status == "producing"]
    for mine, level in zip(underground[:2], ["primary", "intermediate"], strict=False):
        mine.intelligent_level = level

    # Ledger history: most mines report every month; a few missed the latest month(s).
    submissions: list[LedgerSubmission] = []
    status_changes: list[MineStatusChange] = []
    Mine.objects.bulk_create(mines, batch_size=500)
    for mine in mines:
        status_changes.append(MineStatusChange(mine=mine, old_status="", new_status=mine._initial,
                                               effective_date=mine._registered, reason="登记"))
        if mine.status != mine._initial:
            status_changes.append(MineStatusChange(
                mine=mine, old_status=mine._initial, new_status=mine.status, effective_date=mine.status_since,
                reason={"suspended": "市场原因停产", "construction_halted": "资金原因停建",
                        "closed": "资源枯竭，依法关闭", "construction": "改扩建"}.get(mine.status, "")))
        missed = weighted(rng, [(0, 88), (1, 8), (2, 3), (4, 1)])
        last = None
        filed: set[dt.date] = set()
        people = mine.people_underground
        for i, period in enumerate(periods):
            in_effect = mine.status if period >= registry.month_start(mine.status_since) else mine._initial
            if in_effect == "closed" and mine.status == "closed" and period > registry.month_start(mine.status_since):
                break
            if i >= len(periods) - missed:
                break
            if people is not None:
                people = max(5, people + rng.randint(-6, 4))
            submissions.append(LedgerSubmission(
                mine=mine, period=period, status=in_effect,
                people_underground=people if mine.mine_type == "underground" else None,
                output=Decimal(rng.randint(0, 90)) / 10 if in_effect == "producing" else Decimal(0),
                submitted_at=timezone.make_aware(dt.datetime.combine(
                    registry.ledger_due_for_period(period) - dt.timedelta(days=rng.randint(0, 8)), dt.time(10))),
            ))
            last = period
            filed.add(period)
        mine.people_underground = people
        mine.last_ledger_period = last
        mine.ledger_due_date = registry.next_ledger_due(mine, registered_on=start, submitted=filed)
    Mine.objects.bulk_update(mines, ["last_ledger_period", "ledger_due_date", "people_underground"],
                             batch_size=500)
    MineStatusChange.objects.bulk_create(status_changes, batch_size=1000)
    LedgerSubmission.objects.bulk_create(submissions, batch_size=2000)
    changes += [audit.Change("create", m, after=audit.snapshot(m)) for m in mines]

    # 包保 leaders: a county and a township leader per mine; city leaders for head ponds.
    leaders = []
    for mine in mines:
        if mine.status == "closed":
            continue
        levels = ["county", "township"] + (["city"] if mine.is_head_pond else [])
        for level in levels:
            leaders.append(ResponsibleLeader(
                mine=mine, name=person_name(rng), post=rng.choice(LEADER_POSTS[level]), level=level,
                phone=f"13{rng.randint(100000000, 999999999)}", start_date=start, published=True))
    ResponsibleLeader.objects.bulk_create(leaders, batch_size=1000)

    # An enterprise login in 宽城 and one in 兴隆 (the enterprise with the most mines), and an inspector.
    for username, county_code in (("qiye_kc", "130827"), ("qiye_xl", "130822")):
        counts: dict[int, int] = {}
        for mine in mines:
            if mine.county.code == county_code:
                counts[mine.enterprise_id] = counts.get(mine.enterprise_id, 0) + 1
        enterprise = Enterprise.objects.get(pk=max(counts, key=counts.get))
        add_user(username, User.Role.ENTERPRISE, enterprise.organisation, enterprise.name)
        summary.logins.append(DemoLogin(username, "enterprise", enterprise.name))
    inspection_body = Organisation.objects.create(kind=Organisation.Kind.INSPECTION_BODY, name="承德市非煤矿山专家组",
                                                  region=city_org.region)
    inspector = add_user("inspector", User.Role.INSPECTOR, inspection_body, "专家 " + person_name(rng))
    summary.logins.append(DemoLogin("inspector", "inspector", inspection_body.name))
    assigned = [m for m in mines if m.county.code == "130827" and m.status != "closed"][:12]
    MineAssignment.objects.bulk_create([MineAssignment(user=inspector, mine=m) for m in assigned])

    audit.record_many(admin, changes)
    summary.hazards = seed_hazards(rng, mines, today, months, admin)
    summary.mines = len(mines)
    summary.ledger_rows = len(submissions)
    if monitoring is None:
        monitoring = scale == 1.0
    if monitoring:
        summary.monitoring = seed_monitoring(seed=seed)
    summary.operations = seed_operations(seed)  # after monitoring: it avoids mines with signs of production
    summary.people = seed_people(seed)  # after operations: a failed exam blocks one resumption application
    # In order: penalties come from the inspections' findings; the evaluation scores plans, inspections,
    # penalties and tip-offs.
    stages = {
        "accidents": seed_accidents,
        "officers": lambda: seed_officers(seed),
        "inspection_plans": lambda: seed_plans(seed),
        "inspections": lambda: seed_inspections(seed, targets=plan_targets(today.year)),
        "penalties": lambda: seed_penalties(seed),
        "tipoffs": lambda: seed_tipoffs(seed),
        "thirdparty": lambda: seed_thirdparty(seed),
        "campaigns": lambda: seed_campaigns(today.year, today, seed=seed),
        "evaluation": lambda: seed_evaluation(seed),
        "plan": lambda: seed_plan(seed),
        "kpi_history": lambda: seed_kpi_history(seed),
    }
    if until is not None and until not in stages:
        raise ValueError(f"unknown demo stage {until!r}; one of {', '.join(stages)}")
    for name, stage in stages.items():
        setattr(summary, name, stage())
        if name == until:
            break
    return summary


HAZARD_DESCRIPTIONS = {
    "UG": ["安全出口被杂物堵塞", "主排水泵仅两台可用", "井下现状图未按期更新", "通风系统风量不足",
           "提升系统安全保护装置失效"],
    "OP": ["边坡台阶宽度不足", "排土场未按设计堆排", "边坡在线监测数据中断", "未按设计进行分层开采"],
    "TP": ["干滩长度不足", "排洪设施部分堵塞", "浸润线埋深低于控制值", "在线监测系统故障未修复", "坝体局部出现渗水"],
}


def seed_hazards(rng: random.Random, mines: list[Mine], today: dt.date, months: int, actor: User) -> int:
    """Two years of major-hazard history: most closed, some open, overdue and repeated; monthly
    self-checks; then the daily escalation job replayed over the last 90 days."""
    from minesafe.hazards import services as hazard_services
    from minesafe.hazards.models import Hazard, HazardItem, HazardTransition, SelfCheck

    items = {}
    for item in HazardItem.objects.filter(catalogue__active=True):
        items.setdefault(item.facility_type, []).append(item)
    facility = {"underground": "underground", "open_pit": "open_pit", "quarry": "open_pit",
                "tailings_pond": "tailings"}
    start = registry.add_months(today.replace(day=1), -months)
    counters: dict[str, int] = {}
    hazards: list[Hazard] = []
    for mine in mines:
        if mine.status == "closed" or mine.mine_type not in facility:
            continue
        candidates = items[facility[mine.mine_type]]
        favourite = rng.choice(candidates)  # some mines keep failing on the same item
        for _ in range(weighted(rng, [(0, 25), (1, 25), (2, 20), (3, 15), (5, 10), (8, 5)])):
            item = favourite if rng.random() < 0.3 else rng.choice(candidates)
            found_on = start + dt.timedelta(days=rng.randint(0, (today - start).days - 1))
            age = (today - found_on).days
            source = weighted(rng, [("self_check", 45), ("county_inspection", 35), ("city_inspection", 10),
                                    ("tipoff", 5), ("monitoring", 5)])
            status = "closed" if age > 120 or rng.random() < 0.5 else weighted(
                rng, [("reported", 20), ("rectifying", 55), ("submitted", 20), ("cancelled", 5)])
            prefix = f"YH{mine.county.code}{found_on:%Y%m}"
            counters[prefix] = counters.get(prefix, 0) + 1
            has_plan = status != "reported" or rng.random() < 0.4
            hazard = Hazard(
                number=f"{prefix}{counters[prefix]:04d}", mine=mine, item=item, source=source, found_by=actor,
                finder_name=person_name(rng), found_on=found_on,
                description=rng.choice(HAZARD_DESCRIPTIONS[item.code[:2]]), status=status,
                responsible_person=person_name(rng) if has_plan else "",
                measures="按设计整改并组织验收" if has_plan else "",
                funds=Decimal(rng.randint(1, 300)) / 10 if has_plan else None,
                deadline=found_on + dt.timedelta(days=rng.choice([15, 30, 45, 60, 90])) if has_plan else None,
                emergency_plan="整改期间停止相关区域作业，设置警戒" if has_plan else "",
                city_supervised=rng.random() < 0.04,
                reported_at=timezone.make_aware(dt.datetime.combine(found_on, dt.time(9))),
            )
            if status == "closed":
                hazard.closed_at = hazard.reported_at + dt.timedelta(days=rng.randint(8, 85))
            hazards.append(hazard)
    rules = hazard_services.ladder()
    for hazard in hazards:
        hazard_services.schedule_escalation(hazard, today, rules)
        if hazard.escalate_on and hazard.escalate_on < today - dt.timedelta(days=90):
            hazard.escalate_on = today - dt.timedelta(days=90)  # replay only the last 90 days of the job
    Hazard.objects.bulk_create(hazards, batch_size=1000)
    # Repeat offenders: the same mine and item again within the configured window.
    window = dt.timedelta(days=hazard_services.ladder()["repeat_window_days"])
    last_seen: dict[tuple[int, str], Hazard] = {}
    repeats = []
    for hazard in sorted(hazards, key=lambda h: h.found_on):
        key = (hazard.mine_id, hazard.item.code)
        earlier = last_seen.get(key)
        if earlier and hazard.found_on - earlier.found_on <= window and earlier.status != "cancelled":
            hazard.is_repeat, hazard.repeat_of = True, earlier
            repeats.append(hazard)
        last_seen[key] = hazard
    Hazard.objects.bulk_update(repeats, ["is_repeat", "repeat_of"], batch_size=1000)
    for hazard in repeats:
        hazard_services.open_investigation(actor, hazard, hazard.repeat_of)
    transitions = [HazardTransition(hazard=h, old_status="", new_status="reported", reason="上报", actor=actor,
                                    at=h.reported_at) for h in hazards]
    transitions += [HazardTransition(hazard=h, old_status="submitted", new_status="closed", reason="验收合格，销号",
                                     actor=actor, at=h.closed_at) for h in hazards if h.status == "closed"]
    HazardTransition.objects.bulk_create(transitions, batch_size=2000)
    audit.record_many(actor, [audit.Change("import", h, after={"number": h.number, "status": h.status})
                              for h in hazards])
    # Monthly self-checks: producing mines file most months; a few missed last month.
    checks = []
    for mine in mines:
        if mine.status != "producing" or mine.mine_type == "processing_plant":
            continue
        skip_last = rng.random() < 0.12
        for period in months_back(today, months):
            if skip_last and period == months_back(today, 1)[0]:
                continue
            found = sum(1 for h in hazards if h.mine_id == mine.pk and h.source == "self_check"
                        and h.found_on.replace(day=1) == period)
            checks.append(SelfCheck(mine=mine, period=period, hazards_found=found, led_by=person_name(rng),
                                    submitted_by=actor))
    SelfCheck.objects.bulk_create(checks, batch_size=2000)
    for offset in range(90, -1, -1):  # the daily escalation job, replayed
        hazard_services.escalate_due(today - dt.timedelta(days=offset))
    return len(hazards)
