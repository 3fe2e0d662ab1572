"""Penalty cases for the demo city: a year of cases opened from the inspections the demo has (from their findings
when the inspections app records them), run through the services so numbers, audit and notifications are real:
noticed, some answered or heard, decided with fines from the benchmark (一案双罚 where it prescribes it), served,
most paid and closed, one overdue with a late fee, one under reconsideration, one withdrawn. One county (丰宁) is
left with inspections but no penalty in the last complete quarter, so the zero-penalty flag shows.

Deterministic for a seed; `web.demo` may call `seed_penalties(seed)` after the inspections demo. Adds nothing when
the demo already has penalty cases. Without any inspection it opens a few cases directly (and says so)."""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from minesafe.core.models import Organisation, User
from minesafe.core.validators import resident_id_check_char
from minesafe.inspections.models import Inspection
from minesafe.registry.models import Mine

from . import benchmark, legal, services, zero
from .models import Challenge, Payment, PenaltyCase

ZERO_COUNTY = "130826"  # 丰宁: inspects but decides nothing in the last complete quarter
MAX_CASES = 45
S = PenaltyCase.Status
FACTS = {
    "hazard_not_eliminated": "检查发现{m}井下运输巷道局部支护失效、安全出口标识缺失，未及时消除。",
    "safety_equipment": "检查发现{m}主提升机安全保护装置未按期检测，局部通风机未经常性维护。",
    "unqualified_operators": "检查发现{m}两名爆破作业人员未取得特种作业操作证上岗作业。",
    "emergency_plan": "检查发现{m}应急救援预案未按规定修订，本年度未组织应急演练。",
    "monitoring_tampered": "检查发现{m}在线监测系统一氧化碳传感器被人为断电，相关数据缺失。",
    "hazard_system": "检查发现{m}未建立事故隐患排查治理制度，重大事故隐患排查治理情况未按规定报告。",
    "dangerous_work": "检查发现{m}爆破作业时未安排专门人员进行现场安全管理。",
    "major_hazard": "检查发现{m}存在重大事故隐患：{d}，未采取措施消除。",
}
ORDINARY = [("hazard_not_eliminated", 30), ("safety_equipment", 20), ("unqualified_operators", 15),
            ("emergency_plan", 12), ("hazard_system", 8), ("dangerous_work", 8), ("monitoring_tampered", 7)]
LEVELS = [("minor", 30), ("general", 40), ("serious", 20), ("severe", 10)]


@dataclass
class PenaltySummary:
    cases: int = 0
    decided: int = 0
    paid: int = 0
    closed: int = 0
    overdue: int = 0
    withdrawn: int = 0
    challenged: int = 0
    zero_penalty_counties: list[str] = field(default_factory=list)
    zero_penalty_period: tuple[dt.date, dt.date] | None = None
    problems: list[str] = field(default_factory=list)


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def resident_id(rng: random.Random, county_code: str) -> str:
    birth = dt.date(1962, 1, 1) + dt.timedelta(days=rng.randint(0, 9000))
    first17 = f"{county_code}{birth:%Y%m%d}{rng.randint(100, 999)}"
    return first17 + resident_id_check_char(first17)


def last_quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    q = (today.month - 1) // 3  # the current quarter's index; the one before it is complete
    return zero.quarter(today.year, q) if q else zero.quarter(today.year - 1, 4)


class Actors:
    """Who acts for a mine's case: a county user of the mine's county, or a city user."""

    def __init__(self):
        self.city = User.objects.filter(role=User.Role.CITY, is_active=True).order_by("pk").first()
        self.by_region = {}
        for user in User.objects.filter(role=User.Role.COUNTY, is_active=True).select_related(
                "organisation").order_by("username"):
            self.by_region.setdefault(user.organisation.region_id, user)

    def for_mine(self, mine: Mine, inspecting: Organisation | None) -> User | None:
        if inspecting is not None and inspecting.kind == Organisation.Kind.CITY_BUREAU:
            return self.city
        return self.by_region.get(mine.county_id) or self.city


def seed_penalties(seed: int = 2026, today: dt.date | None = None) -> PenaltySummary:
    summary = PenaltySummary()
    if PenaltyCase.objects.exists():
        return summary
    rng = random.Random(seed)
    today = today or timezone.localdate()
    quiet = last_quarter(today)
    summary.zero_penalty_period = quiet
    actors = Actors()
    if actors.city is None:
        summary.problems.append("no city user: seed the demo city first")
        return summary
    bench = benchmark.active()
    known = legal.provisions()
    inspections = list(
        Inspection.objects.filter(status=Inspection.Status.COMPLETED, inspected_on__gte=today - dt.timedelta(days=365),
                                  inspected_on__lte=today - dt.timedelta(days=3))
        .select_related("mine__county", "mine__enterprise", "organisation").order_by("inspected_on", "pk"))
    # 丰宁's cases stay clear of the quiet quarter (and of the weeks before it, whose decisions would fall in it).
    inspections = [i for i in inspections if not (
        i.mine.county.code == ZERO_COUNTY and quiet[0] - dt.timedelta(days=45) <= i.inspected_on <= quiet[1])]
    findings = _major_findings([i.pk for i in inspections])
    share = min(0.35, MAX_CASES / max(len(inspections), 1))
    chosen = [i for i in inspections if i.pk in findings or rng.random() < share]
    if len(chosen) > MAX_CASES:
        chosen = sorted(rng.sample(chosen, MAX_CASES), key=lambda i: (i.inspected_on, i.pk))
    plans = [(i.mine, i, findings.get(i.pk), i.inspected_on) for i in chosen]
    if not plans:
        summary.problems.append("no completed inspections in the last year: cases opened directly")
        mines = list(Mine.objects.filter(status=Mine.Status.PRODUCING).exclude(county__code=ZERO_COUNTY)
                     .select_related("county", "enterprise").order_by("code"))
        plans = [(m, None, None, today - dt.timedelta(days=rng.randint(20, 360)))
                 for m in rng.sample(mines, min(12, len(mines)))]
        plans.sort(key=lambda p: p[3])
    overdue_done = withdrawn_done = challenge_done = False
    with transaction.atomic():
        for mine, inspection, finding, found_on in plans:
            actor = actors.for_mine(mine, inspection.organisation if inspection else None)
            if actor is None:
                continue
            violation = bench.violation("major_hazard" if finding else weighted(rng, ORDINARY))
            keys = [k for k in violation.provisions if k in known]
            opened = min(found_on + dt.timedelta(days=rng.randint(1, 4)), today)
            source = PenaltyCase.Source.FINDING if finding else (
                PenaltyCase.Source.INSPECTION if inspection else PenaltyCase.Source.DIRECT)
            case = services.open_case(
                actor, mine=mine, violation_type=violation.key, source=source, inspection=inspection,
                finding=finding.pk if finding else None, legal_basis=keys, opened_on=opened,
                facts=FACTS[violation.key].format(m=mine.name, d=getattr(finding, "description", "")))
            summary.cases += 1
            notified = opened + dt.timedelta(days=rng.randint(2, 5))
            if notified > today:
                continue
            level = violation.levels.get(weighted(rng, LEVELS)) or next(iter(violation.levels.values()))
            factors = [rng.choice(list(bench.factors))] if rng.random() < 0.4 else []
            ent, per = benchmark.suggest(level, factors, bench)
            person = services.principal_of(mine)
            if not person["person_name"]:
                person.update(person_name="张建国", person_role="矿长")
            if not person["person_id_number"]:
                person["person_id_number"] = resident_id(rng, mine.county.code)
            per = per if level.double_penalty or (per and rng.random() < 0.3) else None
            services.notify_party(actor, case, circumstance=level.key, proposed_enterprise_fine=ent,
                                  proposed_person_fine=per, notified_on=notified, **person)
            decide_after = case.reply_due + dt.timedelta(days=1)
            if not withdrawn_done and today - dt.timedelta(days=120) < notified:
                services.withdraw(actor, case, reason="经复核，违法事实不清、证据不足，撤销立案。",
                                  withdrawn_on=min(notified + dt.timedelta(days=3), today))
                withdrawn_done, summary.withdrawn = True, 1
                continue
            roll = rng.random()
            if case.hearing_right and roll < 0.12:
                services.record_reply(actor, case, request_hearing=True, statement="对罚款数额有异议，申请听证。",
                                      replied_on=notified + dt.timedelta(days=2))
                held = notified + dt.timedelta(days=rng.randint(8, 12))
                if held > today:
                    continue
                services.record_hearing(actor, case, held_on=held, note="听证会听取当事人陈述申辩，维持原拟处罚意见。")
                decide_after = held + dt.timedelta(days=1)
            elif roll < 0.4:
                services.record_reply(actor, case, statement="对违法事实无异议，已开始整改，请求从轻处罚。",
                                      replied_on=notified + dt.timedelta(days=rng.randint(1, 4)))
            decided = decide_after + dt.timedelta(days=rng.randint(0, 6))
            if decided > today:
                continue
            served = min(decided + dt.timedelta(days=rng.randint(0, 2)), today)
            services.decide(actor, case, circumstance=level.key, factors=factors, enterprise_fine=ent,
                            person_fine=per, decided_on=decided, served_on=served)
            summary.decided += 1
            _pay(rng, actor, case, today, summary, overdue_done, challenge_done)
            overdue_done = overdue_done or summary.overdue > 0
            challenge_done = challenge_done or summary.challenged > 0
    summary.zero_penalty_counties = [row.region.code for row in zero.zero_penalty_counties(*quiet)]
    if ZERO_COUNTY not in summary.zero_penalty_counties:
        summary.problems.append(f"{ZERO_COUNTY} has too few completed inspections in {quiet[0]}–{quiet[1]} "
                                "to be flagged")
    return summary


def _major_findings(inspection_ids: list[int]) -> dict:
    """The first major finding of each inspection, when the inspections app records findings."""
    try:
        Finding = apps.get_model("inspections", "Finding")
    except LookupError:
        return {}
    if not any(f.name == "major" for f in Finding._meta.get_fields()):
        return {}
    found = {}
    for finding in Finding.objects.filter(inspection_id__in=inspection_ids, major=True).order_by("pk"):
        found.setdefault(finding.inspection_id, finding)
    return found


def _pay(rng, actor, case: PenaltyCase, today: dt.date, summary: PenaltySummary, overdue_done: bool,
         challenge_done: bool) -> None:
    """Most pay in time (some in two instalments, one late with its late fee); one does not pay and is overdue;
    one applies for reconsideration, which the reconsideration body upholds."""
    due = case.payment_due
    if not overdue_done and today - dt.timedelta(days=60) <= due <= today - dt.timedelta(days=10):
        summary.overdue = 1
        return
    if not challenge_done and due < today - dt.timedelta(days=60):
        filed = case.served_on + dt.timedelta(days=rng.randint(5, 20))
        challenge = services.file_challenge(actor, case, kind=Challenge.Kind.RECONSIDERATION, filed_on=filed,
                                            body="承德市人民政府", note="当事人认为罚款数额过高。")
        services.conclude_challenge(actor, challenge, concluded_on=filed + dt.timedelta(days=30),
                                    outcome=Challenge.Outcome.UPHELD, note="复议决定维持原处罚决定。")
        summary.challenged = 1
    late = rng.random() < 0.08
    paid_on = due + dt.timedelta(days=rng.randint(3, 9)) if late else case.served_on + dt.timedelta(
        days=rng.randint(2, 14))
    if paid_on > today:
        return
    for state in services.fine_states(case, as_of=paid_on):
        if rng.random() < 0.2 and state.fine >= 2000:
            first = (state.fine / 2).quantize(Decimal("0.01"))
            services.record_payment(actor, case, target=state.target, amount=first, paid_on=paid_on - dt.timedelta(
                days=1), receipt_ref=f"FS{case.pk:05d}{state.target[0].upper()}1")
            services.record_payment(actor, case, target=state.target, amount=state.fine - first, paid_on=paid_on,
                                    receipt_ref=f"FS{case.pk:05d}{state.target[0].upper()}2")
        else:
            services.record_payment(actor, case, target=state.target, amount=state.fine, paid_on=paid_on,
                                    receipt_ref=f"FS{case.pk:05d}{state.target[0].upper()}")
    for state in services.fine_states(case, as_of=paid_on):
        if state.late_fee_due:
            services.record_payment(actor, case, target=state.target, kind=Payment.Kind.LATE_FEE,
                                    amount=state.late_fee_due, paid_on=paid_on,
                                    receipt_ref=f"JC{case.pk:05d}{state.target[0].upper()}")
    case.refresh_from_db()
    if case.status == S.PAID:
        summary.paid += 1
        closed_on = case.paid_on + dt.timedelta(days=rng.randint(3, 10))
        if closed_on <= today:
            services.close_case(actor, case, note="罚款已缴清，结案。", closed_on=closed_on)
            summary.closed += 1
