"""People for the demo city: the key-positions ledger of every mine that is not closed (a few incumbent chiefs
short of the qualification rules), special-operation workers with certificates (some expiring, some overdue
for review, one worker without one), annual training, drills (some overdue), emergency plans, a question bank,
exams (one failed chief whose mine has applied for resumption), contractors and mining teams below the
plan's 100% own-team target.

Records are written as history with one audit event each (personal numbers masked); idempotent: nothing is
added when the demo already has people."""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, User
from minesafe.core.validators import resident_id_check_char
from minesafe.registry.models import Mine

from . import common
from . import models as m

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["建国", "志强", "海军", "立新", "秀兰", "国庆", "春生", "文斌", "红梅", "保平", "永胜", "晓东", "振华", "宏伟",
         "俊峰", "利民", "金山", "玉兰", "德明", "长江"]
FIVE = ["mine_manager", "chief_engineer", "deputy_safety", "deputy_production", "deputy_electromech"]
SPECIALTIES = ["采矿工程", "地质工程", "测绘工程", "机电一体化", "矿物加工"]
OPERATIONS = {"underground": ["nm_hoist", "nm_ug_electrical", "nm_drainage", "nm_blasting", "nm_ventilation"],
              "open_pit": ["nm_blasting", "electrical", "nm_safety_inspection"],
              "quarry": ["nm_blasting", "electrical"], "tailings_pond": ["tailings", "electrical"],
              "processing_plant": ["electrical", "welding"]}
QUESTIONS = [
    ("金属非金属地下矿山每个生产水平至少应有几个独立的安全出口？", ["一个", "两个", "三个"], "B"),
    ("井下发生透水征兆时，首先应当怎样处置？", ["继续作业观察", "立即停止作业撤出人员", "等待矿长指示"], "B"),
    ("矿山企业主要负责人对本单位安全生产工作负有什么责任？", ["全面责任", "部分责任", "领导责任"], "A"),
    ("尾矿库安全超高低于设计最小值时应当？", ["加快排放尾矿", "立即采取措施并报告", "继续观察"], "B"),
    ("特种作业人员的操作证每几年复审一次？", ["一年", "三年", "六年"], "B"),
    ("停产停建矿山复产前必须经过？", ["企业自行决定", "复产复工验收", "口头报告"], "B"),
    ("采空区应当如何管理？", ["不必处理", "及时处理并建立台账", "只需设置标志"], "B"),
    ("一氧化碳浓度达到多少 ppm 时必须报告？", ["10", "24", "50"], "B"),
    ("应急预案至少多长时间组织一次撤离避险演练？", ["每年", "每半年", "每三年"], "B"),
    ("重大事故隐患治理实行哪五落实？",
     ["责任、措施、资金、时限、预案", "人员、设备、资金、时间、地点", "计划、总结、检查、考核、奖惩"], "A"),
]


@dataclass
class PeopleSummary:
    people: int = 0
    certificates: int = 0
    drills: int = 0
    exams: int = 0


def id_number(rng: random.Random, county_code: str, born: dt.date) -> str:
    first17 = f"{county_code}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + resident_id_check_char(first17)


def seed_people(seed: int = 2026, today: dt.date | None = None) -> PeopleSummary:
    summary = PeopleSummary()
    if m.Person.objects.exists():
        return summary
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}:people")
    city = User.objects.filter(username="city").first() or User.objects.filter(role="city").first()
    inspector = User.objects.filter(role="inspector").first() or city
    if city is None:
        return summary
    rules_from = dt.date.fromisoformat(common.catalogue()["qualification"]["rules_from"])
    created: list[object] = []
    mines = list(Mine.objects.exclude(status=Mine.Status.CLOSED).select_related("county", "enterprise")
                 .order_by("county__code", "code"))
    with transaction.atomic():
        questions = []
        for post in ["", *FIVE]:
            for text, options, answer in QUESTIONS:
                questions.append(m.ExamQuestion(post=post, text=text, answer=answer, created_by=city, options=[
                    {"key": "ABC"[i], "text": option} for i, option in enumerate(options)]))
        created += m.ExamQuestion.objects.bulk_create(questions)
        provider = m.TrainingProvider.objects.create(name="承德市安全生产培训中心", qualification="安全培训机构",
                                                     created_by=city)
        barred = m.TrainingProvider.objects.create(name="某安全咨询服务部", qualification="无培训资质",
                                                   standing="barred", created_by=city)
        created += [provider, barred, m.ProviderCheck.objects.create(
            provider=barred, checked_on=today - dt.timedelta(days=40), findings="培训记录与签到不符，存在虚假培训",
            result="barred", checked_by=city)]
        people, appointments, certificates, trainings = [], [], [], []
        for mine in mines:
            posts = ["principal", "legal_representative", "safety_lead"]
            posts += FIVE if mine.mine_type == Mine.Type.UNDERGROUND else ["mine_manager", "chief_engineer"]
            posts += ["safety_staff", "safety_staff", "technical_staff", "technical_staff"]
            for post in posts:
                born = dt.date(rng.randint(1962, 1992), rng.randint(1, 12), rng.randint(1, 28))
                age = (today - born).days / 365.25
                short = post in FIVE and rng.random() < 0.08  # an incumbent short of the rules
                person = m.Person(
                    mine=mine, name=rng.choice(SURNAMES) + rng.choice(GIVEN), created_by=city,
                    id_number=id_number(rng, mine.county.code, born), phone=f"13{rng.randint(100000000, 999999999)}",
                    education="secondary_tech" if short else rng.choice(["college", "bachelor", "bachelor", "master"]),
                    specialty=rng.choice(SPECIALTIES), core_specialty=True,
                    frontline_years=Decimal(str(min(round(age - 22, 1), rng.choice([12, 15, 18, 22, 26])))))
                person._post = post
                person._short = short
                people.append(person)
            for _worker in range(3):
                born = dt.date(rng.randint(1968, 1998), rng.randint(1, 12), rng.randint(1, 28))
                person = m.Person(
                    mine=mine, name=rng.choice(SURNAMES) + rng.choice(GIVEN), created_by=city,
                    id_number=id_number(rng, mine.county.code, born), education=rng.choice(["high", "secondary_tech"]),
                    frontline_years=Decimal(rng.randint(2, 15)),
                    assigned_operations=[rng.choice(OPERATIONS.get(mine.mine_type, ["electrical"]))])
                person._post = None
                person._short = False
                people.append(person)
        m.Person.objects.bulk_create(people, batch_size=1000)
        by_mine = {x.pk: x for x in mines}
        unlicensed_left = 1
        for person in people:
            mine = by_mine[person.mine_id]
            if person._post:
                incumbent = person._short or rng.random() < 0.6
                start = rules_from - dt.timedelta(days=rng.randint(200, 2000)) if incumbent \
                    else rules_from + dt.timedelta(days=rng.randint(1, max(2, (today - rules_from).days - 1)))
                appointments.append(m.Appointment(
                    person=person, mine=mine, post=person._post, start_date=start, created_by=city,
                    specialty=person.specialty if person._post == "technical_staff" else ""))
                if person._post in ("principal", *FIVE) and rng.random() < 0.9:
                    trainings.append(m.TrainingRecord(
                        kind="principal_annual" if person._post == "principal" else "chief_annual", person=person,
                        provider=provider, held_on=dt.date(today.year, rng.randint(3, min(10, today.month)), 15),
                        hours=Decimal(48), passed=True, created_by=city))
            else:
                operation = person.assigned_operations[0]
                if unlicensed_left and mine.county.code == "130827":
                    unlicensed_left -= 1  # 任职无证: assigned, no certificate
                    continue
                issued = today - dt.timedelta(days=rng.choice([200, 900, 1500, 2150, 2170, 2300]))
                expires = issued + dt.timedelta(days=6 * 365)
                reviewed = issued + dt.timedelta(days=3 * 365) if (today - issued).days > 3 * 365 + 30 and \
                    rng.random() < 0.8 else None
                certificates.append(m.Certificate(
                    person=person, category=operation, number=f"T{person.id_number}{len(certificates):03d}",
                    issued_on=issued, expires_on=expires, last_review_on=reviewed, issuer="承德市应急管理局",
                    created_by=city))
        created += m.Appointment.objects.bulk_create(appointments, batch_size=1000)
        created += m.Certificate.objects.bulk_create(certificates, batch_size=1000)
        created += m.TrainingRecord.objects.bulk_create(trainings, batch_size=1000)
        summary.people, summary.certificates = len(people), len(certificates)

        drills, plans, teams = [], [], []
        for mine in mines:
            last = today - dt.timedelta(days=rng.choice([30, 60, 100, 150, 170, 200, 260]))
            scenario = "井下火灾撤离避险" if mine.mine_type == Mine.Type.UNDERGROUND else "边坡滑塌撤离"
            drills.append(m.Drill(mine=mine, kind="evacuation", held_on=last, scenario=scenario,
                                  participants=rng.randint(12, 80), evidence="演练方案、签到表、现场照片、评估报告",
                                  created_by=city))
            revised = today - dt.timedelta(days=rng.randint(100, 1200))
            plans.append(m.EmergencyPlan(mine=mine, title=f"{mine.name}生产安全事故应急预案", version="2024版",
                                         revised_on=revised, next_revision_due=revised + dt.timedelta(days=3 * 365),
                                         filed_with=f"{mine.county.name_zh}应急管理局", created_by=city))
            if mine.status == Mine.Status.PRODUCING:
                mode = rng.choices(["own_team", "whole_entrustment", "contracted"], [70, 12, 18])[0]
                firm = "河北某矿山工程管理有限公司" if mode == "whole_entrustment" else ""
                teams.append(m.MiningTeam(mine=mine, mode=mode, firm=firm, updated_by=city,
                                          since=today - dt.timedelta(days=rng.randint(60, 900))))
        created += m.Drill.objects.bulk_create(drills)
        created += m.EmergencyPlan.objects.bulk_create(plans)
        created += m.MiningTeam.objects.bulk_create(teams)
        summary.drills = len(drills)

        # Exams: a passed chief at most mines' inspections; a failed one where the mine has applied for
        # resumption and its census is not treated yet (so the demo shows an exam blocking resumption).
        from minesafe.operations.models import ResumptionApplication

        applied = {a.mine_id for a in ResumptionApplication.objects.filter(status="applied")}
        failing_mine = None
        for application in ResumptionApplication.objects.filter(status="applied").order_by("pk"):
            failing_mine = application.mine_id  # the last one: the demo's "not ready" application
        exams = []
        managers = m.Appointment.objects.filter(post="mine_manager", end_date__isnull=True).select_related("person")
        for appointment in managers:
            if appointment.mine_id not in applied and rng.random() > 0.3:
                continue
            failed = appointment.mine_id == failing_mine
            score = Decimal(60) if failed else Decimal(rng.choice([80, 90, 100]))
            exams.append(m.Exam(person=appointment.person, mine_id=appointment.mine_id, post="mine_manager",
                                examiner=inspector, held_on=today - dt.timedelta(days=rng.randint(5, 60)),
                                inspection_ref="执法检查", answers=[], score=score, passed=not failed))
        created += m.Exam.objects.bulk_create(exams)
        summary.exams = len(exams)
        audit.record_many(city, [audit.Change(AuditEvent.Action.CREATE, obj, after=common.snapshot(obj))
                                 for obj in created])
    return summary
