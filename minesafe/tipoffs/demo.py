"""A year of whistleblower reports for the demo city, run through the services on a replayed clock so every
date, deadline, hazard and audit event is where it would be: most reports closed on time, some late, some
not accepted, substantiated ones opening hazards and earning rewards (proposed, approved, paid), and the
newest still open, one of them late enough to have been reported to the city. Idempotent: nothing is added
when the demo already has reports. `web.demo` calls `seed_tipoffs(seed)` after the hazards demo."""

import datetime as dt
import random
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from django.utils import timezone

from minesafe.core.models import User
from minesafe.hazards.models import HazardItem
from minesafe.registry.models import Mine

from . import escalation, services
from .models import Reward, Tipoff

# (category, what the reporter writes, what verification finds)
STORIES = [
    ("illegal_production", "停产矿山夜间有矿车出入，井口有灯光和机器声。",
     "夜查发现井下有人员作业，停产期间擅自组织生产。"),
    ("beyond_bounds", "矿山在采矿许可范围外的山坡上开采，已经挖了很大的坑。",
     "经测量，东侧露天采场越界开采约 0.8 公顷。"),
    ("hidden_hazard", "井下 -180 米中段巷道顶板开裂掉块，矿上让工人继续干活。", "现场核实顶板离层，未及时支护。"),
    ("falsified_data", "矿上让人把井下人员定位卡放在地面，下井人数对不上。", "人员定位记录与考勤不符，存在弄虚作假。"),
    ("unlicensed", "新来的提升机司机没有操作证就上岗了。", "两名提升机司机未取得特种作业操作证。"),
    ("hidden_hazard", "尾矿库下游有人盖房，库里水位很高。", "干滩长度不足，调洪库容不满足要求。"),
    ("other", "矿上拖欠工人工资。", "反映事项不属于安全生产监管职责。"),
]
NOT_OURS = "您反映的问题不属于本部门职责，请向人力资源和社会保障部门反映。"
MINE_TYPES_FOR = {"beyond_bounds": ["open_pit", "quarry"], "hidden_hazard": ["underground", "tailings_pond"],
                  "illegal_production": ["underground", "open_pit"]}


@dataclass
class TipoffSummary:
    reports: int = 0
    closed: int = 0
    open: int = 0
    hazards: int = 0
    rewards_paid: int = 0
    escalated: int = 0


@contextmanager
def clock_at(when: dt.datetime):
    """Run the services as if it were `when` (model defaults are set explicitly by the services)."""
    with mock.patch.object(timezone, "now", lambda: when):
        yield


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 17)))


def _item_for(mine: Mine) -> HazardItem | None:
    items = [i for i in HazardItem.objects.filter(catalogue__active=True).order_by("code") if i.fits(mine.mine_type)]
    return items[len(items) // 3] if items else None


def seed_tipoffs(seed: int = 2026, today: dt.date | None = None, count: int = 36) -> TipoffSummary:
    summary = TipoffSummary()
    if Tipoff.objects.exists():
        return summary
    rng = random.Random(seed + 8)
    today = today or timezone.localdate()
    city = User.objects.filter(role=User.Role.CITY, is_superuser=False).order_by("pk").first()
    county_users = {u.organisation.region_id: u for u in User.objects.filter(
        role=User.Role.COUNTY, username__startswith="county_").select_related("organisation")}
    mines = [m for m in Mine.objects.exclude(status=Mine.Status.CLOSED).select_related("county").order_by("code")
             if m.county_id in county_users]
    if city is None or not mines:
        return summary
    start = today - dt.timedelta(days=360)
    days = sorted(start + dt.timedelta(days=rng.randint(0, 355)) for _ in range(count))
    for index, received in enumerate(days):
        category, text, finding = STORIES[index % len(STORIES)] if index < len(STORIES) else rng.choice(STORIES)
        kinds = MINE_TYPES_FOR.get(category)
        pool = [m for m in mines if not kinds or m.mine_type in kinds] or mines
        mine = rng.choice(pool)
        handler = county_users[mine.county_id]
        anonymous = rng.random() < 0.7
        with clock_at(_at(received, 7 + index % 3)):  # before the day's steps (from 10:00)
            tipoff, _code = services.submit(
                county=mine.county, mine=mine, category=category, description=text, anonymous=anonymous,
                contact_name="" if anonymous else "王" + "建国明华"[index % 4], contact_phone="" if anonymous else
                f"1390314{index:04d}")
        age = (today - received).days
        # Steps happen after these many days from receipt; an occasional county is slow.
        slow = rng.random() < 0.15
        accept_d = rng.randint(4, 7) if slow else rng.randint(0, 2)
        verify_d = accept_d + (rng.randint(14, 22) if slow else rng.randint(3, 11))
        handle_d = verify_d + rng.randint(1, 5)
        feedback_d = handle_d + (rng.randint(6, 12) if slow else rng.randint(1, 8))
        summary.reports += 1
        if age < accept_d:
            continue
        if category == "other":
            with clock_at(_at(received + dt.timedelta(days=accept_d), 10)):
                services.reject(handler, tipoff, "不属于非煤矿山安全生产监管职责，已告知向人社部门反映。")
            if age >= accept_d + 3:
                with clock_at(_at(received + dt.timedelta(days=accept_d + 3), 15)):
                    services.give_feedback(handler, tipoff, NOT_OURS)
                    services.close(handler, tipoff)
            continue
        with clock_at(_at(received + dt.timedelta(days=accept_d), 10)):
            services.accept(handler, tipoff)
        if age < verify_d:
            continue
        substantiated = rng.random() < 0.7
        with clock_at(_at(received + dt.timedelta(days=verify_d), 11)):
            services.verify(handler, tipoff, substantiated=substantiated,
                            findings=finding if substantiated else "现场核查未发现反映的问题。")
        if age < handle_d:
            continue
        item = _item_for(mine) if substantiated and category != "unlicensed" else None
        with clock_at(_at(received + dt.timedelta(days=handle_d), 14)):
            action = "责令立即停止违法行为，立案查处。" if substantiated else "向举报人说明核查情况。"
            services.handle(handler, tipoff, hazard_item=item, hazard_description=finding if item else "",
                            action_taken=action)
        summary.hazards += item is not None
        if age < feedback_d:
            continue
        with clock_at(_at(received + dt.timedelta(days=feedback_d), 16)):
            services.give_feedback(handler, tipoff, "经核实情况属实，已依法处理。感谢您的监督。" if substantiated
                                   else "经现场核查，未发现您反映的问题。感谢您的监督。")
        reward = None
        if substantiated and age > feedback_d + 2:
            with clock_at(_at(received + dt.timedelta(days=feedback_d + 2), 9)):
                reward = services.propose_reward(handler, tipoff, "major" if item else "general")
        if reward is not None and age > feedback_d + 9:
            with clock_at(_at(received + dt.timedelta(days=feedback_d + 9), 9)):
                services.approve_reward(city, reward)
        if reward is not None and age > feedback_d + 20:
            paid_on = received + dt.timedelta(days=feedback_d + 20)
            with clock_at(_at(paid_on, 15)):
                services.pay_reward(city, reward, paid_on=paid_on, payment_ref=f"JL{paid_on:%Y%m%d}{index:03d}")
                services.close(handler, tipoff)
        elif reward is None and age > feedback_d + 5:
            with clock_at(_at(received + dt.timedelta(days=feedback_d + 5), 9)):
                services.close(handler, tipoff)
    summary.escalated = escalation.escalate_overdue().escalated
    summary.closed = Tipoff.objects.filter(status=Tipoff.Status.CLOSED).count()
    summary.open = Tipoff.objects.exclude(status=Tipoff.Status.CLOSED).count()
    summary.rewards_paid = Reward.objects.filter(status=Reward.Status.PAID).count()
    return summary
