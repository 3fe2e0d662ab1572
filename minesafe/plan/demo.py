"""The action plan in the demo city: the 32 tasks synced from the catalogue, two years of quarterly progress
reports from every responsible unit (most accepted; the latest quarter partly awaiting review, one returned),
the dated parts completed by most units (a few missed), and 宽城's own implementation tasks. Written in bulk
with one audit event per record, like the other demo histories. `web.demo` calls `seed_plan(seed)`; idempotent."""

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Organisation, User

from . import services
from .models import CountyTask, PlanTask, ProgressReport, ReportEntry, TaskUnit
from .tasks_catalogue import sync_tasks

LATE_UNITS = ("130828",)  # 围场 has not reported the latest quarter
MISSED = {17: ("130826", "130828"), 22: ("130825",)}  # task -> counties that missed its dated part
WORK = {
    1: ("组织主要负责人专题培训", "参训主要负责人"), 2: ("五职矿长、专业技术人员任职资格核查", "核查人员"),
    4: ("修订应急预案并组织撤离演练", "演练矿山"), 5: ("督促企业开展重大事故隐患月度自查", "自查矿山"),
    6: ("重大隐患挂牌督办、动态分析", "督办隐患"), 7: ("重大隐患录入数据库并逐项调查", "入库隐患"),
    8: ("更新停产停建矿山台账并公告", "停产矿山"), 9: ("停产矿山包保盯守、限电和火工品管控", "巡查次数"),
    10: ("复产复工验收", "验收矿山"), 14: ("分类处置方案推进", "处置矿山"), 15: ("隐蔽致灾因素普查", "完成普查"),
    16: ("尾矿库闭库治理", "闭库尾矿库"), 17: ("在线监测系统联网", "联网矿山"),
    22: ("外包工程清理、自营采掘队伍建设", "自营矿山"),
    23: ("安全生产标准化创建", "达标矿山"), 25: ("四不两直执法检查", "检查矿山"), 28: ("安全宣传进企业", "宣传场次"),
    29: ("举报受理和奖励兑现", "受理举报"), 31: ("执法装备配备", "新增装备"),
}


@dataclass
class PlanSummary:
    tasks: int = 0
    reports: int = 0
    entries: int = 0
    completed_parts: int = 0
    county_tasks: int = 0


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def seed_plan(seed: int = 2026, today: dt.date | None = None) -> PlanSummary:
    summary = PlanSummary(tasks=sync_tasks())
    if ProgressReport.objects.exists():
        return summary
    rng = random.Random(seed + 90)
    today = today or timezone.localdate()
    city = User.objects.filter(role=User.Role.CITY, is_superuser=False).order_by("pk").first()
    if city is None:
        return summary
    periods = services.periods_due(today)
    tasks_of: dict[int, list[PlanTask]] = {}
    for unit in TaskUnit.objects.select_related("task"):
        tasks_of.setdefault(unit.organisation_id, []).append(unit.task)
    units = Organisation.objects.filter(pk__in=tasks_of).select_related("region")
    submitter = {u.organisation_id: u for u in User.objects.filter(organisation__in=units).order_by("pk")}
    reports, entries = [], []
    with transaction.atomic():
        for organisation in units:
            own = sorted(tasks_of[organisation.pk], key=lambda t: t.number)
            for index, period in enumerate(periods):
                latest = index == len(periods) - 1
                if latest and organisation.region.code in LATE_UNITS:
                    continue
                submitted = _at(services.due_date(period) - dt.timedelta(days=rng.randint(0, 9)))
                status = ProgressReport.Status.ACCEPTED
                if latest:
                    status = rng.choice([ProgressReport.Status.SUBMITTED, ProgressReport.Status.ACCEPTED])
                report = ProgressReport(
                    organisation=organisation, period_start=period.start, period_end=period.end,
                    summary=f"{period.label}：按照三年行动方案分工，扎实推进各项任务。", status=status,
                    submitted_by=submitter.get(organisation.pk, city), submitted_at=submitted,
                    reviewed_by=city if status == ProgressReport.Status.ACCEPTED else None,
                    reviewed_at=submitted + dt.timedelta(days=3) if status == ProgressReport.Status.ACCEPTED else None)
                reports.append(report)
                for task in rng.sample(own, k=min(len(own), rng.randint(2, 5))):
                    text, label = WORK.get(task.number, (task.title_zh, ""))
                    figures = [{"label": label, "value": float(rng.randint(1, 40))}] if label else []
                    entries.append((report, ReportEntry(task=task, text=f"{text}，按期推进。", figures=figures)))
        ProgressReport.objects.bulk_create(reports, batch_size=500)
        for report, entry in entries:
            entry.report = report
        ReportEntry.objects.bulk_create([e for _, e in entries], batch_size=1000)
        returned = next((r for r in reports if r.period_start == periods[-1].start
                         and r.organisation.kind == Organisation.Kind.COUNTY
                         and r.status == ProgressReport.Status.SUBMITTED), None)
        if returned is not None:
            ProgressReport.objects.filter(pk=returned.pk).update(
                status=ProgressReport.Status.RETURNED, reviewed_by=city, reviewed_at=returned.submitted_at +
                dt.timedelta(days=2), review_note="缺少闭库治理进展数据，请补充后重新报送。")
        # Dated parts: completed by their deadline except where MISSED says otherwise.
        completed = []
        dated = TaskUnit.objects.filter(task__deadline__isnull=False).select_related("task", "organisation__region")
        for unit in dated:
            if unit.task.deadline >= today or unit.organisation.region.code in MISSED.get(unit.task.number, ()):
                continue
            unit.status = TaskUnit.Status.COMPLETED
            unit.completed_on = unit.task.deadline - dt.timedelta(days=rng.randint(3, 60))
            unit.completion_note = "已按方案要求完成。"
            completed.append(unit)
        TaskUnit.objects.bulk_update(completed, ["status", "completed_on", "completion_note"], batch_size=500)
        kuancheng = Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region__code="130827").first()
        county_tasks = []
        if kuancheng is not None:
            by_number = {t.number: t for t in PlanTask.objects.filter(number__in=[5, 16, 22, 25])}
            for number, title, deadline, done in [
                (16, "完成宽城县 3 座尾矿库闭库治理", dt.date(2026, 10, 31), False),
                (22, "全县地下矿山取消劳务派遣，组建自营采掘队伍", dt.date(2025, 12, 31), True),
                (5, "每月 5 日前汇总企业重大隐患自查报告", dt.date(2026, 12, 31), False),
                (25, "每季度开展一轮四不两直暗查暗访", dt.date(2026, 12, 31), False)]:
                county_tasks.append(CountyTask(
                    task=by_number[number], organisation=kuancheng, title=title, deadline=deadline,
                    status=CountyTask.Status.DONE if done else CountyTask.Status.OPEN,
                    done_on=deadline - dt.timedelta(days=20) if done else None,
                    done_note="全县 12 座地下矿山均已组建自营队伍。" if done else "", created_by=city))
            CountyTask.objects.bulk_create(county_tasks)
        audit.record_many(city, [audit.Change(AuditEvent.Action.IMPORT, r, after={
            "period_start": r.period_start.isoformat(), "status": r.status}) for r in reports] +
            [audit.Change(AuditEvent.Action.IMPORT, u, after={"status": u.status}) for u in completed] +
            [audit.Change(AuditEvent.Action.IMPORT, c, after={"title": c.title}) for c in county_tasks])
    summary.reports, summary.entries = len(reports), len(entries)
    summary.completed_parts, summary.county_tasks = len(completed), len(county_tasks)
    return summary
