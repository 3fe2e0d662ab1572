"""Third-party service firms for the demo city, all through the services (so transitions, audit and
notifications are real): ~25 firms across the five kinds of service with their qualifications (two expiring
within the catalogue's window, one expired without renewal), two years of engagements by the demo mines, a
year of spot checks, one falsification case confirmed and closed with a blacklist (published), one under
investigation, and one firm suspended. Deterministic for a seed; does nothing when firms exist.
`web.demo` may call `seed_thirdparty(seed)` after the accidents demo."""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from minesafe.core.models import User
from minesafe.core.validators import CREDIT_ALPHABET, credit_code_check_char, org_code_check_char
from minesafe.registry.models import Mine

from . import services
from .models import CaseAction, Check, Engagement, FalsificationCase, FalsifiedItem, Firm, Qualification, ServiceKind

K = ServiceKind
R = Check.Result
SHOWCASE_COUNTY = "130827"  # 宽城
SECOND_COUNTY = "130822"  # 兴隆

# (name, registered division code, kinds). Names are invented; the division codes are real places.
FIRMS = [
    ("河北安评科技咨询有限公司", "130102", [K.SAFETY_EVALUATION]),
    ("承德正信安全技术服务有限公司", "130802", [K.SAFETY_EVALUATION, K.TRAINING]),
    ("唐山冀东安全评价中心有限公司", "130203", [K.SAFETY_EVALUATION]),
    ("北京华安泰安全评价有限公司", "110108", [K.SAFETY_EVALUATION, K.TESTING]),
    ("河北众诚安全工程技术有限公司", "130104", [K.SAFETY_EVALUATION]),
    ("承德燕山安全科技有限公司", "130803", [K.SAFETY_EVALUATION, K.SUPERVISION]),
    ("河北冶金矿山设计研究院有限公司", "130102", [K.DESIGN]),
    ("中冶北方矿业工程设计有限公司", "210204", [K.DESIGN, K.SUPERVISION]),
    ("承德金地矿山设计有限公司", "130802", [K.DESIGN]),
    ("河北地矿工程勘察设计有限公司", "130105", [K.DESIGN]),
    ("承德市矿用设备检测检验有限公司", "130802", [K.TESTING]),
    ("河北安特检测技术有限公司", "130104", [K.TESTING]),
    ("唐山矿山安全检测检验有限公司", "130203", [K.TESTING]),
    ("河北鑫安提升设备检测有限公司", "130108", [K.TESTING]),
    ("承德宽城华诚检测服务有限公司", "130827", [K.TESTING]),
    ("秦皇岛海安检测科技有限公司", "130302", [K.TESTING, K.SAFETY_EVALUATION]),
    ("承德市安全生产培训中心有限公司", "130802", [K.TRAINING]),
    ("河北应急安全培训学校有限公司", "130102", [K.TRAINING]),
    ("承德职安教育咨询有限公司", "130803", [K.TRAINING]),
    ("兴隆县安泰职业培训学校有限公司", "130822", [K.TRAINING]),
    ("滦平县矿山安全培训有限公司", "130824", [K.TRAINING]),
    ("河北建友工程监理有限公司", "130104", [K.SUPERVISION]),
    ("承德诚达工程建设监理有限公司", "130802", [K.SUPERVISION]),
    ("唐山冶金矿山工程监理有限公司", "130203", [K.SUPERVISION]),
    ("河北国基工程咨询监理有限公司", "130105", [K.SUPERVISION, K.DESIGN]),
]
AUTHORITIES = {
    K.SAFETY_EVALUATION: "河北省应急管理厅", K.TESTING: "河北省应急管理厅", K.TRAINING: "承德市应急管理局",
    K.DESIGN: "河北省住房和城乡建设厅", K.SUPERVISION: "河北省住房和城乡建设厅",
}
CERT_PREFIX = {K.SAFETY_EVALUATION: "APJ-（冀）", K.TESTING: "APJ-（冀）-J", K.TRAINING: "冀应急培",
               K.DESIGN: "A113", K.SUPERVISION: "E113"}
SCOPES = {
    K.SAFETY_EVALUATION: "金属、非金属矿及其他矿采选业安全评价", K.TESTING: "矿山提升、通风、排水设备安全检测检验",
    K.TRAINING: "非煤矿山主要负责人、安全管理人员安全培训", K.DESIGN: "冶金矿山工程设计（含安全设施设计）",
    K.SUPERVISION: "矿山工程监理",
}
# What a mine of each type engages firms for, and the report each produces.
NEEDS = {
    Mine.Type.UNDERGROUND: [K.SAFETY_EVALUATION, K.TESTING, K.TESTING, K.DESIGN, K.TRAINING, K.SUPERVISION],
    Mine.Type.OPEN_PIT: [K.SAFETY_EVALUATION, K.DESIGN, K.TRAINING, K.TESTING],
    Mine.Type.QUARRY: [K.SAFETY_EVALUATION, K.TRAINING],
    Mine.Type.TAILINGS_POND: [K.SAFETY_EVALUATION, K.TESTING, K.DESIGN],
    Mine.Type.PROCESSING_PLANT: [K.TRAINING, K.TESTING],
}
REPORTS = {
    K.SAFETY_EVALUATION: ["安全现状评价报告", "安全验收评价报告", "安全预评价报告"],
    K.TESTING: ["提升系统安全检测检验报告", "主通风机性能检测报告", "主排水系统检测报告", "坝体位移监测设施检测报告"],
    K.DESIGN: ["安全设施设计", "采矿工程初步设计", "边坡治理设计"],
    K.TRAINING: ["主要负责人及安全管理人员年度安全培训", "五职矿长年度培训", "特种作业人员复训"],
    K.SUPERVISION: ["基建工程监理总结报告", "安全设施施工监理报告"],
}
CHECKERS = ["市应急管理局 执法一科", "县应急管理局 非煤矿山股", "省专家库 专家组", "市应急管理局 专家组"]
DEFICIENCIES = ["现场照片与检测点位不符, 个别数据缺少原始记录", "评价报告未反映采空区现状, 结论依据不足",
                "检测报告缺少仪器校准证明", "培训课时不足, 签到表与考核记录不一致"]


@dataclass
class ThirdpartySummary:
    firms: int = 0
    qualifications: int = 0
    engagements: int = 0
    checks: int = 0
    cases: int = 0
    blacklisted: int = 0
    suspended: int = 0
    expiring: int = 0
    expired: int = 0
    problems: list[str] = field(default_factory=list)


def credit_code(rng: random.Random, division: str, used: set[str]) -> str:
    while True:
        first8 = "MA" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(6))
        org = first8 + org_code_check_char(first8)
        if org[-1] not in CREDIT_ALPHABET:
            continue
        first17 = "91" + division + org
        code = first17 + credit_code_check_char(first17)
        if code not in used:
            used.add(code)
            return code


def add_years(day: dt.date, years: int) -> dt.date:
    return services.add_years(day, years)


def seed_thirdparty(seed: int = 2026) -> ThirdpartySummary:
    summary = ThirdpartySummary()
    if Firm.objects.exists():
        return summary
    city = User.objects.filter(role=User.Role.CITY, is_active=True).order_by("pk").first()
    county_users = {}
    for user in User.objects.filter(role=User.Role.COUNTY, is_active=True).select_related(
            "organisation__region").order_by("pk"):
        county_users.setdefault(user.organisation.region_id, user)
    mines = list(Mine.objects.exclude(status=Mine.Status.CLOSED).select_related("county", "enterprise")
                 .order_by("county__code", "code"))
    if city is None or not mines:
        summary.problems.append("no city user or no open mines: run the registry demo first")
        return summary
    with transaction.atomic():
        _seed(random.Random(seed * 7 + 18), city, county_users, mines, summary)
    today = timezone.localdate()
    summary.firms = Firm.objects.count()
    summary.qualifications = Qualification.objects.count()
    summary.engagements = Engagement.objects.count()
    summary.checks = Check.objects.count()
    summary.cases = FalsificationCase.objects.count()
    summary.blacklisted = Firm.objects.filter(status=Firm.Status.BLACKLISTED).count()
    summary.suspended = Firm.objects.filter(status=Firm.Status.SUSPENDED).count()
    days = services.expiring_within_days()
    qualifications = Qualification.objects.exclude(firm__status=Firm.Status.BLACKLISTED)
    summary.expiring = qualifications.expiring(today, days).count()
    summary.expired = qualifications.expired(today).count()
    return summary


def _seed(rng: random.Random, city: User, county_users: dict, mines: list[Mine], summary: ThirdpartySummary) -> None:
    today = timezone.localdate()
    used: set[str] = set()
    firms: list[Firm] = []
    for name, division, kinds in FIRMS:
        firms.append(services.create_firm(
            city, name=name, credit_code=credit_code(rng, division, used), kinds=kinds,
            address=f"{name[:2]}市{rng.choice(['建设', '迎宾', '新华', '学府', '南营子'])}路{rng.randint(1, 300)}号",
            contact_person=rng.choice("王李张刘陈杨赵周吴孙") + rng.choice(["经理", "工", "主任"]),
            contact_phone=f"0{rng.choice(['314', '311', '315', '10'])}-{rng.randint(2000000, 8999999)}"))

    # Qualifications: one current certificate per firm and kind; a few renewed; two expiring soon; one expired.
    expiring_firms = {firms[2].pk: 35, firms[12].pk: 70}  # days to expiry
    expired_firm = firms[19]  # a county training school whose certificate lapsed
    serial = 100
    for firm in firms:
        for kind in firm.kinds:
            serial += rng.randint(3, 40)
            number = f"{CERT_PREFIX[kind]}-{serial:05d}"
            if firm.pk in expiring_firms:
                valid_to = today + dt.timedelta(days=expiring_firms[firm.pk])
                valid_from = add_years(valid_to, -5) + dt.timedelta(days=1)
            elif firm.pk == expired_firm.pk:
                valid_to = today - dt.timedelta(days=48)
                valid_from = add_years(valid_to, -3) + dt.timedelta(days=1)
            else:
                valid_from = today - dt.timedelta(days=rng.randint(400, 1400))
                valid_to = add_years(valid_from, 5) - dt.timedelta(days=1)
            renew = valid_from > today - dt.timedelta(days=720) and rng.random() < 0.35
            previous = None
            if renew:  # the certificate before, renewed a little before it ran out
                old_to = valid_from + dt.timedelta(days=rng.randint(5, 40))
                previous = services.add_qualification(
                    city, firm, kind=kind, certificate_number=f"{CERT_PREFIX[kind]}-{serial - 1:05d}",
                    issuing_authority=AUTHORITIES[kind], scope=SCOPES[kind], valid_from=add_years(old_to, -5),
                    valid_to=old_to)
            services.add_qualification(city, firm, kind=kind, certificate_number=number,
                                       issuing_authority=AUTHORITIES[kind], scope=SCOPES[kind],
                                       valid_from=valid_from, valid_to=valid_to, replaces=previous)

    # The firm to be blacklisted (a testing firm) and the date the city decides it.
    villain = firms[14]  # 承德宽城华诚检测服务有限公司
    blacklist_on = today - dt.timedelta(days=92)

    # Engagements: mines of the demo enterprises and assigned mines first, then a sample of the rest.
    logins = set(User.objects.filter(role=User.Role.ENTERPRISE).values_list("organisation_id", flat=True))
    assigned = set(Mine.objects.filter(assignments__isnull=False).values_list("pk", flat=True))
    first = [m for m in mines if m.enterprise.organisation_id in logins or m.pk in assigned]
    rest = [m for m in mines if m not in first]
    chosen = first + rng.sample(rest, min(len(rest), 70))
    by_kind = {k: [f for f in firms if k in f.kinds] for k in K.values}
    engagements: list[Engagement] = []
    for mine in chosen:
        actor = county_users.get(mine.county_id, city)
        needs = NEEDS.get(mine.mine_type, [K.SAFETY_EVALUATION])
        for kind in rng.sample(needs, min(len(needs), rng.randint(1, 3))):
            candidates = list(by_kind[kind])
            if mine.county.code == SHOWCASE_COUNTY and kind == K.TESTING and rng.random() < 0.5:
                candidates = [villain]  # the local testing firm serves many 宽城 mines
            firm = rng.choice(candidates)
            engaged_on = today - dt.timedelta(days=rng.randint(25, 700))
            if firm.pk == villain.pk:
                engaged_on = min(engaged_on, blacklist_on - dt.timedelta(days=rng.randint(150, 400)))
            report_date = min(engaged_on + dt.timedelta(days=rng.randint(10, 60)), today)
            try:
                engagements.append(services.record_engagement(
                    actor, mine, firm=firm, kind=kind, engaged_on=engaged_on,
                    report_title=f"{mine.name}{rng.choice(REPORTS[kind])}",
                    report_number=f"{firm.credit_code[-6:]}-{report_date.year}-{rng.randint(1, 999):03d}",
                    report_date=report_date))
            except ValidationError:
                continue  # the firm was not qualified then (refused before any write): the mine chose another

    # A year of spot checks (抽查) of reports delivered in the last 13 months.
    recent = [e for e in engagements if e.report_date and e.report_date >= today - dt.timedelta(days=395)
              and e.firm_id != villain.pk]
    for engagement in rng.sample(recent, min(len(recent), 45)):
        actor = county_users.get(engagement.mine.county_id, city)
        checked_on = min(engagement.report_date + dt.timedelta(days=rng.randint(5, 90)), today)
        result = rng.choices([R.COMPLIANT, R.DEFICIENCIES], [68, 32])[0]
        check = services.record_check(
            actor, engagement, checked_on=checked_on, checkers=rng.choice(CHECKERS), result=result,
            findings="" if result == R.COMPLIANT else rng.choice(DEFICIENCIES))
        if check.status == Check.Status.OPEN and check.follow_up_due and check.follow_up_due < today \
                and rng.random() < 0.7:
            services.close_follow_up(actor, check, followed_up_on=min(check.follow_up_due, today),
                                     note="机构已补充原始记录并重新出具报告, 复核通过。")
        if rng.random() < 0.6:
            services.publish_check(actor, check)

    # The confirmed case: a check of the villain's report finds the detection data fabricated; the city
    # blacklists the firm and refers it on.
    villain_work = sorted((e for e in engagements if e.firm_id == villain.pk), key=lambda e: (e.engaged_on, e.pk))
    if villain_work:
        target = villain_work[-1]
        checked_on = max(target.report_date or target.engaged_on, blacklist_on - dt.timedelta(days=75))
        check = services.record_check(
            city, target, checked_on=checked_on, checkers="市应急管理局 执法一科 + 省专家库 专家组",
            result=R.FALSIFICATION_SUSPECTED,
            findings="检测报告所列提升机制动力矩数据与现场复测严重不符; 检测当日检测人员未到矿 (门禁与车辆记录)。")
        case = services.open_case(
            city, source=FalsificationCase.Source.CHECK, source_check=check, opened_on=checked_on,
            falsified=[FalsifiedItem.DATA, FalsifiedItem.SITE_WORK_NOT_DONE, FalsifiedItem.SIGNATURES],
            description="该机构出具的提升系统检测报告涉嫌未到现场检测、编造检测数据、检测人员代签。")
        others = sorted({e.mine for e in villain_work[:-1]} - {target.mine}, key=lambda m: m.pk)
        if others:
            services.add_affected_mines(city, case, others[:6])
        services.confirm_case(city, case, confirmed_on=checked_on + dt.timedelta(days=30),
                              findings="调取门禁、车辆及仪器使用记录, 证实 3 份报告的检测人员未到现场, "
                                       "数据系套用模板。")
        services.close_case(
            city, case, decided_on=blacklist_on,
            actions=[CaseAction.BLACKLIST, CaseAction.LICENSING_REFERRAL, CaseAction.PENALTY_REFERRAL],
            decision="列入安全生产失信名单; 移送资质审批机关依法处理; 移送行政处罚。涉事矿山重新委托检测。",
            public_summary="出具虚假检测报告: 检测人员未到现场, 编造检测数据。")
        services.publish_case(city, case)
    else:
        summary.problems.append("no engagement of the firm to blacklist")

    # The case under investigation: a whistleblower report against a safety evaluation firm in 兴隆.
    county = next((u for region, u in county_users.items() if u.organisation.region.code == SECOND_COUNTY), None)
    evaluated = [e for e in engagements if e.kind == K.SAFETY_EVALUATION and e.mine.county.code == SECOND_COUNTY
                 and e.firm.status == Firm.Status.ACTIVE]
    if county is not None and evaluated:
        engagement = evaluated[0]
        services.open_case(
            county, firm=engagement.firm, source=FalsificationCase.Source.REPORT,
            source_reference=f"举报 {today.year}-{rng.randint(100, 999)}: 评价报告专家签字系代签",
            falsified=[FalsifiedItem.SIGNATURES, FalsifiedItem.FALSE_REPORT], mines=[engagement.mine],
            opened_on=today - dt.timedelta(days=18),
            description="举报人称该机构出具的安全现状评价报告中, 评价组成员签字系他人代签, 部分人员未参与现场勘查。")
    else:
        summary.problems.append("no safety evaluation in the second county for the open case")

    # A firm suspended by the city after repeated deficiencies.
    suspended = firms[21]
    if suspended.status == Firm.Status.ACTIVE:
        services.suspend_firm(city, suspended,
                              reason="近一年两次抽查发现监理记录与现场不符, 暂停在本市承接矿山监理业务, 限期整改。")
