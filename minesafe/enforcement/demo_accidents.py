"""Accidents for the demo city: the case library loaded from the shared real records, and three local accidents
through the services (so grades, tasks, audit and notifications are real): a fatal roof fall investigated under
四不放过, closed, the mine suspended and the case added to the library; a larger blasting accident under
investigation with the city's summons open; a near miss just reported. Idempotent: nothing is added when the
demo already has accidents. `web.demo` may call `seed_accidents()` after the operations demo."""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from minesafe.core.models import User
from minesafe.registry.models import Mine

from . import accidents as services
from . import case_library, case_sources
from .models import Accident, FollowUpTask, InvestigationFinding

SHOWCASE_COUNTY = "130827"  # 宽城
A = InvestigationFinding.Aspect


@dataclass
class AccidentSummary:
    accidents: int = 0
    tasks: int = 0
    cases_loaded: int = 0
    problems: list[str] = field(default_factory=list)


def seed_accidents(today: dt.date | None = None) -> AccidentSummary:
    summary = AccidentSummary()
    try:
        for report in case_library.load_accident_cases():
            summary.cases_loaded += report.created
    except case_sources.SourceError as exc:  # the demo still runs without the shared data
        summary.problems.append(str(exc))
    if Accident.objects.exists():
        return summary
    city = User.objects.filter(role=User.Role.CITY).order_by("pk").first()
    county = User.objects.filter(role=User.Role.COUNTY, organisation__region__code=SHOWCASE_COUNTY).first()
    mines = list(Mine.objects.filter(county__code=SHOWCASE_COUNTY, status=Mine.Status.PRODUCING,
                                     mine_type=Mine.Type.UNDERGROUND).select_related("enterprise").order_by("code")[:3])
    if city is None or county is None or len(mines) < 3:
        summary.problems.append("no city or showcase-county user, or fewer than three producing underground mines")
        return summary
    now = timezone.now()
    with transaction.atomic():
        fatal = services.report_accident(
            county, mines[0], occurred_at=now - dt.timedelta(days=40), place="-230 m 中段 7 号采场", kind="roof_fall",
            deaths=1, serious_injuries=1, direct_loss=1_350_000, summary="出矿作业时顶板冒落, 一人死亡一人重伤。")
        services.start_investigation(county, fatal)
        for aspect, text in [
            (A.CAUSE, "采场顶板节理发育, 未按设计进行锚网支护; 作业前未敲帮问顶。"),
            (A.RESPONSIBILITY, "采场班长、安全员移送处理; 矿长、安全副矿长给予行政处罚。"),
            (A.RECTIFICATION, "全矿采场支护专项排查, 补打锚杆 1200 根; 修订顶板管理制度。"),
            (A.EDUCATION, "全员警示教育两次, 事故通报全县非煤矿山。")]:
            services.record_finding(county, fatal, aspect, text)
        services.conclude_investigation(county, fatal)
        task = FollowUpTask.objects.get(accident=fatal, kind=FollowUpTask.Kind.SUSPEND_MINE)
        services.suspend_mine_for_task(county, task, reason="死亡事故停产整顿")
        services.close_accident(county, fatal, note="四不放过落实, 结案。")
        services.add_to_library(county, fatal, title=f"{mines[0].name}冒顶死亡事故",
                                lessons="顶板管理是地下矿山的第一道防线: 作业前必须敲帮问顶, 支护必须按设计施工。")
        larger = services.report_accident(
            mines[1].enterprise.organisation.users.first() or county, mines[1],
            occurred_at=now - dt.timedelta(days=6), place="-120 m 中段掘进工作面", kind="blasting",
            serious_injuries=11, minor_injuries=4, direct_loss=2_800_000, parent_company="承德某矿业集团有限公司",
            summary="爆破警戒不到位, 爆破飞石致 11 人重伤。")
        services.start_investigation(city, larger)
        services.record_finding(city, larger, A.CAUSE, "起爆前未清点人数, 警戒距离不足。")
        services.report_accident(county, mines[2], occurred_at=now - dt.timedelta(days=1), place="主斜坡道",
                                 kind="vehicle", is_near_miss=True, direct_loss=60_000,
                                 summary="铲运机制动失灵溜车, 未造成人员伤亡。")
    summary.accidents = Accident.objects.count()
    summary.tasks = FollowUpTask.objects.count()
    return summary
