"""The county evaluation for the demo city, through the services (so scores, audit and notifications are real):
every county's sheet for each ended quarter of this year scored by hand where the city scores (document
quality, case files, public satisfaction) and published; 宽城 objects to its latest sheet and the city upholds
it, raising its satisfaction score; the running quarter stays a live draft with a few manual items entered.

Deterministic for a seed. Runs after the other demos (plans, inspections, penalties, tip-offs), whose records
the computed items count; the manual items alone already spread the ranking. Idempotent: nothing is added when
the demo already has score sheets. `web.demo` calls `seed_evaluation(seed)` last."""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from minesafe.core.models import User

from . import scoring, services
from .models import ScoreSheet
from .scoring import Quarter

SHOWCASE_COUNTY = "130827"  # 宽城 objects to its latest sheet
REASONS = {
    "documents": ["抽查执法文书 10 份, 格式规范、引用依据准确", "抽查执法文书 10 份, 2 份责令整改期限不明确",
                  "文书送达回证不全, 个别笔录未签名"],
    "case_files": ["案卷评查: 证据链完整, 裁量说明充分", "案卷评查: 1 件案卷缺少现场照片",
                   "案卷评查: 一案双罚落实, 归档及时"],
    "satisfaction": ["企业及群众回访 30 人次, 满意度较高", "回访中反映检查频次偏多、指导不足",
                     "举报人回访满意"],
}


@dataclass
class EvaluationSummary:
    published: int = 0
    drafts: int = 0
    manual_scores: int = 0
    objections: int = 0
    quarters: list[str] = field(default_factory=list)
    spread: float = 0.0  # best minus worst total of the latest published quarter
    problems: list[str] = field(default_factory=list)


def _score(rng: random.Random, maximum: float) -> Decimal:
    """A manual score in half points, mostly in the upper half of the range."""
    steps = int(maximum * 2)
    return Decimal(rng.randint(steps // 2, steps)) / 2


def seed_evaluation(seed: int = 2026, today: dt.date | None = None) -> EvaluationSummary:
    summary = EvaluationSummary()
    if ScoreSheet.objects.exists():
        return summary
    today = today or timezone.localdate()
    city = User.objects.filter(role=User.Role.CITY, is_superuser=False, is_active=True).order_by("pk").first() \
        or User.objects.filter(role=User.Role.CITY, is_active=True).order_by("pk").first()
    if city is None:
        summary.problems.append("no city user")
        return summary
    rng = random.Random(seed)
    running = Quarter.of(today)
    ended = [Quarter(today.year, n) for n in range(1, running.number)]
    counties = list(services.evaluated_counties())
    items = scoring.manual_items(scoring.catalogue())
    with transaction.atomic():
        for quarter in ended:
            memo: dict = {}  # the same data for every county's sheet of the quarter (one transaction)
            for county in counties:
                scores = {item["code"]: (_score(rng, item["max"]), rng.choice(REASONS.get(item["code"], ["评议"])))
                          for item in items}
                services.set_manual_scores(city, county, quarter, scores, today=today)
                summary.manual_scores += len(scores)
                services.publish(city, county, quarter, today=today, memo=memo)
                summary.published += 1
            summary.quarters.append(str(quarter))
        if ended:
            latest = ended[-1]
            totals = [float(s.total) for s in ScoreSheet.objects.filter(year=latest.year, quarter=latest.number)]
            summary.spread = round(max(totals) - min(totals), 2) if totals else 0.0
            _objection(city, latest, today, summary)
        for county in counties[::4]:  # the running quarter: a few document reviews already done
            services.set_manual_score(city, county, running, "documents", _score(rng, 5),
                                      rng.choice(REASONS["documents"]), today=today)
            summary.manual_scores += 1
            summary.drafts += 1
    return summary


def _objection(city: User, quarter: Quarter, today: dt.date, summary: EvaluationSummary) -> None:
    county_user = User.objects.filter(role=User.Role.COUNTY, is_active=True,
                                      organisation__region__code=SHOWCASE_COUNTY).order_by("pk").first()
    sheet = ScoreSheet.objects.filter(county__code=SHOWCASE_COUNTY, year=quarter.year,
                                      quarter=quarter.number).first()
    if county_user is None or sheet is None:
        summary.problems.append(f"no user or sheet of {SHOWCASE_COUNTY} to object with")
        return
    objection = services.file_objection(county_user, sheet, "本季度群众满意度回访样本仅 10 人次, 且未包含举报人回访, "
                                        "请求按补充回访结果重新评定。", today=today)
    current = next(i["score"] for i in sheet.snapshot["items"] if i["code"] == "satisfaction")
    raised = min(Decimal(5), Decimal(str(current)) + Decimal(1))
    if raised == Decimal(str(current)):
        services.answer_objection(city, objection, decision="reject", reason="回访结果已达满分, 无需调整。")
    else:
        services.answer_objection(city, objection, decision="adjust", item="satisfaction", score=raised,
                                  reason="补充回访 30 人次(含举报人), 满意度结果较好, 予以调整。")
    summary.objections += 1
