"""The demo city's enforcement staff, expert pool and technical inspectors with three years of training, through
the services (so the ledger and its audit are real): the city's yearly course and field drills, most counties
fully trained, 围场 behind (a third of its officers untrained in the window) and a few certificates to renew.
Idempotent: nothing is added when officers exist. `web.demo` calls `seed_officers(seed)`."""

import datetime as dt
import random
from dataclasses import dataclass

from django.utils import timezone

from minesafe.core.models import Organisation, User

from . import services
from .models import Officer

LAGGING_COUNTY = "130828"  # 围场: a third of its officers not trained within the window
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红海波鹏飞斌宇浩凯"
POSTS = ["执法大队长", "执法科长", "执法人员", "执法人员", "执法人员", "安全监管员"]


@dataclass
class OfficerSummary:
    officers: int = 0
    experts: int = 0
    trainings: int = 0


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def seed_officers(seed: int = 2026, today: dt.date | None = None) -> OfficerSummary:
    summary = OfficerSummary()
    if Officer.objects.exists():
        return summary
    rng = random.Random(seed + 30)
    today = today or timezone.localdate()
    city = User.objects.filter(role=User.Role.CITY, is_superuser=False).order_by("pk").first()
    bodies = list(Organisation.objects.filter(kind__in=[Organisation.Kind.CITY_BUREAU, Organisation.Kind.COUNTY])
                  .select_related("region").order_by("region__code"))
    expert_body = Organisation.objects.filter(kind=Organisation.Kind.INSPECTION_BODY).first() or \
        next((b for b in bodies if b.kind == Organisation.Kind.CITY_BUREAU), None)
    if city is None or not bodies:
        return summary
    specialities = list(services.specialities())
    staff_by_body: dict[int, list[Officer]] = {}
    number = 0
    for body in bodies:
        for index in range(rng.randint(10, 14) if body.kind == Organisation.Kind.CITY_BUREAU else rng.randint(5, 9)):
            number += 1
            expiry = today + dt.timedelta(days=rng.randint(-40, 1500))
            officer = services.add_officer(
                city, body, name=_name(rng), kind=Officer.Kind.STAFF, post=POSTS[min(index, len(POSTS) - 1)],
                certificate_no=f"13080{number:05d}", certificate_expiry=expiry,
                registered_safety_engineer=rng.random() < 0.2,
                joined_on=today - dt.timedelta(days=rng.randint(200, 4000)))
            staff_by_body.setdefault(body.pk, []).append(officer)
            summary.officers += 1
        if body.kind == Organisation.Kind.COUNTY:
            for _ in range(2):
                services.add_officer(city, body, name=_name(rng), kind=Officer.Kind.TECHNICAL,
                                     speciality=rng.choice(specialities), post="技术检查员",
                                     joined_on=today - dt.timedelta(days=rng.randint(300, 900)))
                summary.experts += 1
    if expert_body is not None:
        for index in range(24):
            services.add_officer(city, expert_body, name=_name(rng), kind=Officer.Kind.EXPERT,
                                 speciality=specialities[index % len(specialities)],
                                 post=rng.choice(["高级工程师", "正高级工程师", "教授"]),
                                 registered_safety_engineer=rng.random() < 0.5,
                                 joined_on=today - dt.timedelta(days=rng.randint(300, 2000)))
            summary.experts += 1
    # The city's yearly course (each officer attends once in three years, so the window is met by rotation)
    # and a field drill each year; 围场 sent only some of its officers.
    years = [today.year - 2, today.year - 1, today.year]
    for body in bodies:
        staff = staff_by_body.get(body.pk, [])
        rng.shuffle(staff)
        lagging = body.region.code == LAGGING_COUNTY
        send = staff[: len(staff) * 2 // 3] if lagging else staff
        for turn, year in enumerate(years):
            group = send[turn::3]
            start = dt.date(year, 5, 10 + turn)
            if group and start + dt.timedelta(days=4) <= today:
                failed = (group[0].pk,) if len(group) > 3 else ()
                rows = services.record_training(
                    city, group, course=f"{year}年非煤矿山安全执法能力提升培训班", kind="classroom",
                    provider="承德市应急管理局", start_on=start, end_on=start + dt.timedelta(days=4), hours=32,
                    failed=failed)
                summary.trainings += len(rows)
                if failed:  # the officer who failed retakes the course in the autumn
                    retake = dt.date(year, 10, 12)
                    if retake <= today:
                        summary.trainings += len(services.record_training(
                            city, [group[0]], course=f"{year}年非煤矿山安全执法能力提升培训班(补训)",
                            kind="classroom", provider="承德市应急管理局", start_on=retake, end_on=retake, hours=8))
        drill_day = dt.date(today.year, 9, 20)
        if staff and drill_day <= today and not lagging:
            summary.trainings += len(services.record_training(
                city, staff[: max(1, len(staff) // 2)], course="尾矿库汛期执法实战练兵", kind="field",
                provider="承德市应急管理局", start_on=drill_day, end_on=drill_day, hours=6))
    return summary
