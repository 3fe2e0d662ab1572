"""Inspection plans and enforcement equipment for the demo city, through the services (so reasons, audit and
notifications are real): approved 2025 and 2026 plans for every county and the city bureau, each proposed from
the ledger and touched by its officer; a cross-county assignment (宽城's team to a 兴隆 mine) by the city; one
plan returned once before approval; an amendment to an approved plan; experts and technical inspectors; and an
equipment ledger per body, one county short of its minimum kit (no drone).

Idempotent: nothing is added when the demo already has plans. `web.demo` calls `seed_plans(seed)` after the
accidents; `plan_targets(year)` gives the inspections demo what each mine's plan asks for.
"""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.inspections.models import Method
from minesafe.registry.models import Mine

from . import equipment, plans
from .models import EquipmentItem, InspectionPlan, PlanAmendment, PlanEntry, PlanExpert

YEARS = (2025, 2026)
SHOWCASE_COUNTY = "130827"  # 宽城: its team inspects a 兴隆 mine across the county line
CROSS_COUNTY_TARGET = "130822"  # 兴隆
RETURNED_COUNTY = "130822"  # 兴隆's 2026 plan was returned once
SHORT_OF_KIT = "130871"  # 高新区 has no drone yet
EXPERTS = [("王建国", "采矿工程", PlanExpert.Kind.EXPERT), ("李海涛", "尾矿库坝体", PlanExpert.Kind.EXPERT),
           ("张立新", "通风与防灭火", PlanExpert.Kind.EXPERT),
           ("刘振军", "机电设备", PlanExpert.Kind.TECHNICAL_INSPECTOR),
           ("陈晓东", "边坡稳定", PlanExpert.Kind.TECHNICAL_INSPECTOR)]
MODELS = {
    EquipmentItem.Kind.DRONE: ["大疆 Matrice 350 RTK", "大疆 Mavic 3E"],
    EquipmentItem.Kind.BODY_CAMERA: ["执法记录仪 DSJ-V9", "执法记录仪 DSJ-A8"],
    EquipmentItem.Kind.TERMINAL: ["移动执法终端 ZF-T20"],
    EquipmentItem.Kind.DETECTOR: ["四合一气体检测仪 GT-4", "测距仪 LR-1000"],
    EquipmentItem.Kind.VEHICLE: ["执法车 越野型"],
}


@dataclass
class PlanSummary:
    plans: int = 0
    entries: int = 0
    cross_county: int = 0
    experts: int = 0
    amendments: int = 0
    equipment: int = 0
    below_minimum_kit: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _aware(day: dt.date):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


def seed_plans(seed: int = 2026) -> PlanSummary:
    summary = PlanSummary()
    if InspectionPlan.objects.exists():
        return summary
    rng = random.Random(seed)
    city = (User.objects.filter(role=User.Role.CITY, username="city").first()
            or User.objects.filter(role=User.Role.CITY, is_active=True).order_by("pk").first())
    if city is None:
        summary.problems.append("no city user")
        return summary
    bodies = list(plans.inspecting_bodies())
    staff = {}
    for body in bodies:
        staff[body.pk] = city if body.kind == Organisation.Kind.CITY_BUREAU else (
            User.objects.filter(role=User.Role.COUNTY, organisation=body, is_active=True).order_by("pk").first())
        if staff[body.pk] is None:
            summary.problems.append(f"no county user for {body}")
    with transaction.atomic():
        for year in YEARS:
            for body in bodies:
                actor = staff[body.pk]
                if actor is None:
                    continue
                _seed_plan(rng, summary, city, actor, body, year)
        _seed_experts(rng, summary, city)
        _seed_equipment(rng, summary, city, staff, bodies)
    summary.plans = InspectionPlan.objects.count()
    summary.entries = PlanEntry.objects.count()
    summary.experts = PlanExpert.objects.count()
    summary.amendments = PlanAmendment.objects.count()
    summary.equipment = EquipmentItem.objects.count()
    summary.below_minimum_kit = [k.organisation.name for k in equipment.kit_summary(city) if k.below_minimum]
    return summary


def _seed_plan(rng: random.Random, summary: PlanSummary, city: User, actor: User, body: Organisation,
               year: int) -> None:
    plan = plans.create_plan(actor, body, year, propose=True, note=f"{year}年度非煤矿山执法检查计划")
    entries = list(plan.entries.select_related("mine").order_by("mine__code"))
    if not entries:
        summary.problems.append(f"{body} {year}: the proposal gave no entries")
        return
    # The officer's touch: one mine gets an extra visit, with the reason in the note.
    touched = rng.choice(entries)
    plans.set_entry(actor, plan, touched.mine, visits_per_year=min(plans.MAX_VISITS, touched.visits_per_year + 1),
                    method_minimums=touched.method_minimums, note="群众反映较多, 增加一次检查")
    code = body.region.code
    if year == 2026 and code == SHOWCASE_COUNTY:
        target = (Mine.objects.filter(county__code=CROSS_COUNTY_TARGET, status="producing",
                                            mine_type__in=["underground", "open_pit"]).order_by("code").first())
        if target is not None:
            plans.set_entry(city, plan, target, visits_per_year=1, method_minimums={Method.CROSS_COUNTY: 1},
                            note="市局安排交叉执法")
            summary.cross_county += 1
    submitted_on = dt.date(year - 1, 12, 10)
    plans.submit_plan(actor, plan)
    if year == 2026 and code == RETURNED_COUNTY:
        plans.return_plan(city, plan, reason="尾矿库检查频次偏低, 请按头顶库要求补充暗查暗访安排。")
        plans.submit_plan(actor, plan)
        submitted_on = dt.date(year - 1, 12, 22)
    plans.approve_plan(city, plan)
    InspectionPlan.objects.filter(pk=plan.pk).update(  # the demo's plans were made before their year began
        created_at=_aware(dt.date(year - 1, 12, 1)), submitted_at=_aware(submitted_on),
        approved_at=_aware(submitted_on + dt.timedelta(days=8)))
    if year == 2026 and code == SHOWCASE_COUNTY:
        amended = rng.choice([e for e in entries if e.mine_id != touched.mine_id] or entries)
        amended.refresh_from_db()
        plans.set_entry(actor, plan, amended.mine, visits_per_year=min(plans.MAX_VISITS, amended.visits_per_year + 2),
                        method_minimums=amended.method_minimums, note=amended.note,
                        reason="二季度检查发现重大事故隐患, 加密检查频次")
        PlanAmendment.objects.filter(plan=plan).update(made_at=_aware(dt.date(year, 6, 15)))


def _seed_experts(rng: random.Random, summary: PlanSummary, city: User) -> None:
    inspector = User.objects.filter(role=User.Role.INSPECTOR, is_active=True).order_by("pk").first()
    city_plan = InspectionPlan.objects.filter(year=2026, organisation__kind=Organisation.Kind.CITY_BUREAU).first()
    if city_plan is not None:
        for quarter in range(1, 5):
            name, speciality, kind = EXPERTS[(quarter - 1) % len(EXPERTS)]
            plans.add_expert(city, city_plan, kind=kind, name=name, speciality=speciality, quarter=quarter)
            if inspector is not None:
                plans.add_expert(city, city_plan, kind=PlanExpert.Kind.EXPERT, user=inspector, speciality="综合",
                                 quarter=quarter)
    plan = InspectionPlan.objects.filter(year=2026, organisation__region__code=SHOWCASE_COUNTY).first()
    if plan is None:
        return
    actor = User.objects.filter(role=User.Role.COUNTY, organisation=plan.organisation).order_by("pk").first() or city
    ponds = list(plan.entries.filter(mine__mine_type="tailings_pond").select_related("mine").order_by("mine__code"))
    for entry in ponds[:4]:
        plans.add_expert(actor, plan, kind=PlanExpert.Kind.EXPERT, name=EXPERTS[1][0], speciality=EXPERTS[1][1],
                         entry=entry)
    others = list(plan.entries.exclude(mine__mine_type="tailings_pond").select_related("mine").order_by("mine__code"))
    for entry in rng.sample(others, min(4, len(others))):
        name, speciality, kind = rng.choice([EXPERTS[0], EXPERTS[2], EXPERTS[3]])
        plans.add_expert(actor, plan, kind=kind, name=name, speciality=speciality, entry=entry)
    if inspector is not None:
        assigned = set(inspector.mine_assignments.values_list("mine_id", flat=True))
        for entry in plan.entries.filter(mine_id__in=assigned).order_by("mine__code")[:3]:
            plans.add_expert(actor, plan, kind=PlanExpert.Kind.EXPERT, user=inspector, speciality="综合",
                             entry=entry)


def _seed_equipment(rng: random.Random, summary: PlanSummary, city: User, staff: dict, bodies) -> None:
    """Each body's kit, made in bulk (one audit batch); the repairs and retirements go through the services."""
    today = timezone.localdate()
    cat = equipment.rules()
    items, changes = [], []
    for body in bodies:
        code = body.region.code
        kit = dict(equipment.minimum_kit(body, cat))
        if body.kind == Organisation.Kind.CITY_BUREAU:
            kit = {k: n + 1 for k, n in kit.items()}
        else:
            kit[EquipmentItem.Kind.VEHICLE] = 1
            # One spare camera at least: a camera sent for repair keeps the body at its minimum.
            kit[EquipmentItem.Kind.BODY_CAMERA] = kit.get(EquipmentItem.Kind.BODY_CAMERA, 0) + rng.randint(1, 2)
        if code == SHORT_OF_KIT:
            kit.pop(EquipmentItem.Kind.DRONE, None)
        kit.setdefault(EquipmentItem.Kind.DETECTOR, 0)
        if bodies.index(body) % 3 == 0:
            kit[EquipmentItem.Kind.DETECTOR] += 1  # an old one, retired below
        serial = 0
        for kind, count in kit.items():
            for _i in range(count):
                serial += 1
                acquired = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 900))
                checked = acquired + dt.timedelta(days=rng.randint(150, 700))
                item = EquipmentItem(
                    organisation=body, kind=kind, model=rng.choice(MODELS.get(kind, ["通用装备"])),
                    serial_number=f"{kind[:3].upper()}-{code}-{serial:03d}", acquired_on=acquired,
                    status_since=acquired, last_checked_on=checked if checked < today else None,
                    assigned_to=f"执法{rng.randint(1, 6)}组" if kind != EquipmentItem.Kind.VEHICLE else "执法大队")
                item.next_check_due = equipment.next_check(item, cat)
                items.append(item)
    EquipmentItem.objects.bulk_create(items, batch_size=500)
    changes = [audit.Change(AuditEvent.Action.CREATE, item, after=audit.snapshot(item)) for item in items]
    audit.record_many(city, changes)
    # A body camera in repair and the oldest detector retired, in every third body.
    for body in bodies[::3]:
        actor = staff.get(body.pk) or city
        camera = EquipmentItem.objects.filter(organisation=body, kind=EquipmentItem.Kind.BODY_CAMERA).first()
        if camera is not None:
            equipment.change_status(actor, camera, EquipmentItem.Status.UNDER_REPAIR, reason="屏幕损坏, 返厂维修")
        old = EquipmentItem.objects.filter(organisation=body, kind=EquipmentItem.Kind.DETECTOR).order_by(
            "acquired_on").first()
        if old is not None:
            equipment.change_status(actor, old, EquipmentItem.Status.RETIRED, reason="超过使用年限, 报废")


# For the inspections demo ------------------------------------------------------------------------
def visit_methods(entry: PlanEntry) -> list[str]:
    """The method of each planned visit: the entry's minimums first, then routine visits for the rest."""
    methods = [m for m in Method.values for _i in range(entry.method_minimums.get(m, 0))]
    return (methods + [Method.ROUTINE] * entry.visits_per_year)[:entry.visits_per_year]


def all_plan_targets(year: int) -> list[tuple[int, int, int, list[str]]]:
    """Every approved entry of the year: (mine id, inspecting body id, visits a year, method of each visit).
    A mine may be in several plans (its county's, the city's, another county's for cross-county enforcement)."""
    entries = PlanEntry.objects.filter(plan__year=year, plan__status=InspectionPlan.Status.APPROVED).select_related(
        "plan").order_by("mine_id", "plan__organisation__kind", "pk")
    return [(e.mine_id, e.plan.organisation_id, e.visits_per_year, visit_methods(e)) for e in entries]


def plan_targets(year: int) -> dict[int, tuple[int, int, list[str]]]:
    """mine id -> (inspecting body id, visits a year, method of each visit) from the year's approved plans: the
    mine's own county's entry where there is one (see `all_plan_targets` for the city's and cross-county ones)."""
    targets: dict[int, tuple[int, int, list[str]]] = {}
    own = dict(Organisation.objects.filter(kind=Organisation.Kind.COUNTY).values_list("pk", "region_id"))
    counties = dict(Mine.objects.values_list("pk", "county_id"))
    for mine_id, org_id, visits, methods in all_plan_targets(year):
        if mine_id not in targets or own.get(org_id) == counties.get(mine_id):
            targets[mine_id] = (org_id, visits, methods)
    return targets
