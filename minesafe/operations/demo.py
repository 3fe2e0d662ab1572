"""Suspension and resumption for the demo city: reports for the suspended mines (one not yet reported to the
city past its 5-day deadline, one awaiting the county), control of the suspended mines in 宽城 (officials,
on-site watch, patrols, the power company's and the police's confirmations), hidden-factor censuses, two
resumption applications ready for the county (one will pass, one fails its precondition), disposal decisions,
the tailings-pond closure plans against the plan's 10 / 9 / 7 and a few upgrade projects.

Records are written as history (dated in the past) with one audit event each; idempotent: nothing is added
when the demo already has suspension reports."""

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, User
from minesafe.registry.models import Mine, MineStatusChange

from . import models as m

SHOWCASE_COUNTY = "130827"  # 宽城
SHOWCASE_ENTERPRISE_LOGIN = "qiye_kc"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "志强", "海军", "立新", "秀兰", "国庆", "春生", "文斌", "红梅", "保平", "永胜", "晓东"]
PROVIDERS = ["河北省地矿局第四地质大队", "承德市金地勘查技术有限公司", "河北冀北勘察设计院有限公司"]


@dataclass
class OperationsSummary:
    reports: int = 0
    control_records: int = 0
    censuses: int = 0
    applications: int = 0
    decisions: int = 0
    pond_plans: int = 0
    projects: int = 0


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def ready_first(mines: list[Mine]) -> list[Mine]:
    """The mines that can pass resumption acceptance once their census is treated first: no open sign of
    production, no open major hazard, no monitoring they would have to connect."""
    from minesafe.hazards.models import Hazard
    from minesafe.monitoring.models import ProductionFlag
    from minesafe.monitoring.services import connection_q

    flagged = set(ProductionFlag.objects.filter(status="open").values_list("mine_id", flat=True))
    hazardous = set(Hazard.objects.exclude(status__in=["closed", "cancelled"]).values_list("mine_id", flat=True))
    connecting = set(Mine.objects.filter(connection_q()).values_list("pk", flat=True))
    return sorted(mines, key=lambda x: (x.pk in flagged, x.pk in hazardous, x.pk in connecting, x.code))


def seed_operations(seed: int = 2026, today: dt.date | None = None) -> OperationsSummary:
    summary = OperationsSummary()
    if m.SuspensionReport.objects.exists():
        return summary
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}:operations")
    city = User.objects.filter(username="city").first() or User.objects.filter(role="city").first()
    if city is None:
        return summary
    county_users = {u.organisation.region_id: u for u in User.objects.filter(role="county").select_related(
        "organisation").order_by("username")}
    department = {u.organisation.unit_code: u for u in User.objects.filter(role="department").select_related(
        "organisation")}
    created: list[object] = []
    now = timezone.now()

    def at(day: dt.date, hour: int = 10) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))

    suspended = list(Mine.objects.filter(status__in=[Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED],
                                         status_since__isnull=False).select_related("county", "enterprise")
                     .order_by("county__code", "code"))
    showcase = [x for x in suspended if x.county.code == SHOWCASE_COUNTY]
    with transaction.atomic():
        # Reports: every suspended mine has its accepted report, reported to the city within 5 days; the
        # most recent showcase suspension is not yet reported (overdue).
        overdue = max(showcase, key=lambda x: x.status_since, default=None)
        for mine in suspended:
            stopped = mine.status_since
            reviewer = county_users.get(mine.county_id, city)
            submitter = mine.enterprise.organisation.users.first() or reviewer
            report = m.SuspensionReport(
                mine=mine, kind="suspension" if mine.status == Mine.Status.SUSPENDED else "construction_halt",
                reason=rng.choice(["市场原因停产", "设备检修改造", "安全整顿", "资金原因停建"]),
                planned_start=stopped, planned_end=None if rng.random() < 0.4 else stopped + dt.timedelta(
                    days=rng.randint(60, 400)),
                engineering_measures="封闭井口及采场入口，设置警示标志；保持主排水、通风系统正常运转",
                management_measures="停产期间严禁任何人员擅自入井；每日巡查并记录",
                watch_arrangements="矿方安排值守人员24小时值班，每日两次巡查", watch_headcount=rng.randint(3, 6),
                emergency_arrangements="保留应急救援队伍和物资，与县救护队签订救护协议",
                power_arrangements="除排水、通风、监测监控外切断生产用电", submitted_by=submitter,
                submitted_at=at(stopped - dt.timedelta(days=3)), reviewed_by=reviewer,
                reviewed_at=at(stopped - dt.timedelta(days=1)), review_note="同意", stopped_on=stopped,
                city_report_due=stopped + dt.timedelta(days=5), status="reported",
                reported_to_city_at=at(stopped + dt.timedelta(days=rng.randint(1, 4))), reported_by=reviewer)
            if mine == overdue:
                report.status, report.reported_to_city_at, report.reported_by = "accepted", None, None
                if report.city_report_due >= today:  # make the demo show an overdue report
                    report.stopped_on = today - dt.timedelta(days=8)
                    report.city_report_due = report.stopped_on + dt.timedelta(days=5)
            report.save()
            created.append(report)
            summary.reports += 1
        producing = Mine.objects.filter(status=Mine.Status.PRODUCING, county__code=SHOWCASE_COUNTY,
                                        mine_type=Mine.Type.UNDERGROUND).select_related("enterprise").first()
        if producing:
            submitter = producing.enterprise.organisation.users.first() or city
            report = m.SuspensionReport.objects.create(
                mine=producing, kind="suspension", reason="冬季停产检修", planned_start=today + dt.timedelta(days=10),
                planned_end=today + dt.timedelta(days=100), engineering_measures="封闭采场，保持排水通风",
                management_measures="停产期间严禁人员入井", watch_arrangements="值守4人，每日巡查两次",
                watch_headcount=4, emergency_arrangements="保留救护协议", power_arrangements="切断生产用电",
                submitted_by=submitter, submitted_at=now - dt.timedelta(hours=20))
            created.append(report)
            summary.reports += 1

        # Control of the showcase county's suspended mines.
        for mine in showcase:
            county = county_users.get(mine.county_id, city)
            for role, post in (("liaison", "乡镇党委副书记"), ("on_site", "县应急管理局驻矿干部")):
                created.append(m.ControlAssignment.objects.create(
                    mine=mine, role=role, name=person(rng), post=post, phone=f"139{rng.randint(10000000, 99999999)}",
                    start_date=mine.status_since, created_by=county))
            for weeks in range(1, 9):
                day = today - dt.timedelta(days=7 * weeks - rng.randint(0, 3))
                if day < mine.status_since:
                    break
                kind = "patrol" if weeks % 4 else rng.choice(["covert", "surprise", "cross"])
                created.append(m.ControlRecord.objects.create(
                    mine=mine, kind=kind, done_on=day, outcome="compliant",
                    notes="井口封闭完好，值守人员在岗，未发现生产迹象", recorded_by=county, recorded_at=at(day, 16)))
                summary.control_records += 1
            for unit, kind, note in (("GD", "power_limit", "已对生产线路实施限电，仅保留排水、通风、监控用电"),
                                     ("GA", "explosives", "已停止民用爆炸物品供应，库存已清退")):
                day = mine.status_since + dt.timedelta(days=2)
                created.append(m.ControlRecord.objects.create(
                    mine=mine, kind=kind, done_on=min(day, today), outcome="compliant", notes=note,
                    recorded_by=department.get(unit, city), recorded_at=at(min(day, today), 15)))
                summary.control_records += 1

        # Censuses and two applications ready for the county: the first showcase mine is ready (census done
        # and treated, licence valid), the second has a factor still being treated (its precondition fails).
        for index, mine in enumerate(ready_first(showcase)[:3]):
            owner = mine.enterprise.organisation.users.first() or city
            started = today - dt.timedelta(days=rng.randint(60, 120))
            census = m.Census.objects.create(
                mine=mine, provider=rng.choice(PROVIDERS), scope_years=rng.choice([3, 4, 5]), started_on=started,
                completed_on=started + dt.timedelta(days=40), status="completed",
                report_summary="查明采空区、老窿及含水构造，提出治理措施", created_by=owner)
            created.append(census)
            summary.censuses += 1
            for n, (kind, where) in enumerate([("void", "-120m 中段 3#采空区"), ("water", "F2 断层含水带"),
                                               ("old_workings", "东翼老窿")][: rng.randint(2, 3)]):
                treated = index != 1 or n == 0
                created.append(m.HiddenFactor.objects.create(
                    census=census, kind=kind, location=where, description="普查发现", treatment="treated" if treated
                    else "treating", treatment_note="充填封闭" if treated else "正在充填",
                    treated_on=started + dt.timedelta(days=50) if treated else None))
            if index < 2:
                licence = mine.licence_no or f"（冀）FM安许证字〔2024〕{mine.pk:03d}号"
                Mine.objects.filter(pk=mine.pk).update(licence_no=licence, licence_expiry=today + dt.timedelta(400))
                created.append(m.ResumptionApplication.objects.create(
                    mine=mine, planned_resumption=today + dt.timedelta(days=7), applied_by=owner,
                    statement="停产期间问题已全部整改，隐蔽致灾因素普查已完成并治理，申请复产验收。",
                    applied_at=now - dt.timedelta(days=1)))
                summary.applications += 1

        # Disposal, pond closures, upgrades.
        candidates = list(Mine.objects.exclude(status=Mine.Status.CLOSED).exclude(mine_type=Mine.Type.TAILINGS_POND)
                          .select_related("county").order_by("code"))
        rng.shuffle(candidates)
        plans = [("close", "no_licence"), ("close", "depleted"), ("consolidate", "split_ore_body"),
                 ("upgrade", "upgrade_required"), ("close", "failed_rectification"), ("upgrade", "banned_equipment")]
        for (category, ground), mine in zip(plans, candidates, strict=False):
            status = rng.choice(["proposed", "in_progress", "in_progress", "completed"])
            decided = today - dt.timedelta(days=rng.randint(30, 200))
            created.append(m.DisposalDecision.objects.create(
                mine=mine, category=category, ground=ground, ground_detail="经县应急管理局、自然资源局联合核查确认",
                status=status if category != "close" or status != "completed" else "in_progress",
                deadline=decided + dt.timedelta(days=rng.choice([90, 180, 365])),
                decided_on=None if status == "proposed" else decided,
                decision_ref="" if status == "proposed" else f"承县安委〔{decided.year}〕{rng.randint(1, 60)}号",
                created_by=county_users.get(mine.county_id, city)))
            summary.decisions += 1
        ponds = list(Mine.objects.filter(mine_type=Mine.Type.TAILINGS_POND).select_related("county").order_by("code"))
        rng.shuffle(ponds)
        targets = [(2024, 10, 10), (2025, 9, 8), (2026, 7, 3)]  # year, planned, closed so far
        for year, planned, closed in targets:
            for n in range(planned):
                if not ponds:
                    break
                pond = ponds.pop()
                done = n < closed and pond.status != Mine.Status.CLOSED
                closed_on = min(dt.date(year, rng.randint(6, 11), rng.randint(1, 28)), today) if done else None
                created.append(m.PondClosurePlan.objects.create(
                    pond=pond, target_year=year, status="closed" if done else "in_progress" if year >= 2025
                    else "planned", design_ref=f"{pond.name}闭库设计",
                    works_started_on=dt.date(year, 3, 1) if year >= 2025 or done else None,
                    closed_on=closed_on, created_by=county_users.get(pond.county_id, city)))
                if done:  # a closed pond is closed in the registry too
                    MineStatusChange.objects.create(mine=pond, old_status=pond.status, new_status=Mine.Status.CLOSED,
                                                    effective_date=closed_on, reason="闭库验收", changed_by=city)
                    Mine.objects.filter(pk=pond.pk).update(status=Mine.Status.CLOSED, status_since=closed_on,
                                                           ledger_due_date=None)
                summary.pond_plans += 1
        for kind, mine in zip(["filling", "mechanised_scaling", "consolidation"], candidates[6:9], strict=False):
            created.append(m.UpgradeProject.objects.create(
                mine=mine, kind=kind, description={"filling": "采空区充填系统建设", "mechanised_scaling":
                                                   "引进机械化撬毛台车", "consolidation": "与相邻矿山整合"}[kind],
                partners="相邻两处小型矿山" if kind == "consolidation" else "",
                unifications=["planning", "design"] if kind == "consolidation" else [],
                deadline=today + dt.timedelta(days=rng.randint(-20, 300)), status="in_progress",
                created_by=county_users.get(mine.county_id, city)))
            summary.projects += 1
        audit.record_many(city, [audit.Change(AuditEvent.Action.CREATE, obj, after=audit.snapshot(obj))
                                 for obj in created])
    return summary
