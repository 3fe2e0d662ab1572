"""Hand-built records the evaluation counts, made directly (the other apps' services are not what is tested)."""

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from minesafe.core.models import Organisation, Region, User
from minesafe.enforcement.models import Accident, InspectionPlan, PlanEntry
from minesafe.hazards.models import Hazard, HazardItem, SelfCheck
from minesafe.inspections.models import Inspection
from minesafe.penalties.models import PenaltyCase
from minesafe.registry.models import LedgerSubmission
from minesafe.tipoffs.models import Tipoff

_serial = itertools.count(1)


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A local (Asia/Shanghai) moment on `day`."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def county_org(region: Region) -> Organisation:
    return Organisation.objects.get(kind=Organisation.Kind.COUNTY, region=region)


def plan(org: Organisation, year: int, entries, by: User, status=InspectionPlan.Status.APPROVED) -> InspectionPlan:
    made = InspectionPlan.objects.create(organisation=org, year=year, status=status, created_by=by)
    for mine, visits in entries:
        PlanEntry.objects.create(plan=made, mine=mine, visits_per_year=visits)
    return made


def inspection(mine, org: Organisation, day: dt.date, lead: User, status=Inspection.Status.COMPLETED) -> Inspection:
    return Inspection.objects.create(mine=mine, organisation=org, inspected_on=day, status=status, lead_inspector=lead,
                                     started_at=at(day, 9))


def penalty(mine, org: Organisation, decided_on: dt.date | None, by: User, *, enterprise_fine=0, person_fine=0,
            status=PenaltyCase.Status.DECIDED, opened_on: dt.date | None = None) -> PenaltyCase:
    return PenaltyCase.objects.create(
        mine=mine, organisation=org, status=status, opened_on=opened_on or (decided_on or dt.date(2026, 7, 1)),
        decided_on=decided_on, enterprise_fine=Decimal(enterprise_fine), person_fine=Decimal(person_fine),
        created_by=by)


def hazard(mine, code: str, *, source: str, found_on: dt.date, by: User, deadline: dt.date | None = None,
           closed_at: dt.datetime | None = None, status: str | None = None) -> Hazard:
    item = HazardItem.objects.filter(code=code, catalogue__active=True).first()
    status = status or (Hazard.Status.CLOSED if closed_at else Hazard.Status.RECTIFYING)
    return Hazard.objects.create(
        number=f"YHTEST{next(_serial):06d}", mine=mine, item=item, source=source, found_by=by, finder_name=str(by),
        found_on=found_on, description="测试隐患", status=status, deadline=deadline, closed_at=closed_at,
        reported_at=at(found_on, 9))


def ledger(mine, period: dt.date, submitted_on: dt.date) -> LedgerSubmission:
    return LedgerSubmission.objects.create(mine=mine, period=period, status=mine.status,
                                           submitted_at=at(submitted_on))


def self_check(mine, period: dt.date, by: User) -> SelfCheck:
    return SelfCheck.objects.create(mine=mine, period=period, hazards_found=0, led_by="矿长", submitted_by=by)


def tipoff(county: Region, received: dt.datetime, **fields) -> Tipoff:
    n = next(_serial)
    return Tipoff.objects.create(number=f"JBTEST-{n:05d}", tracking_hash=f"{n:064d}", county=county,
                                 handling_county=fields.pop("handling_county", county), category="hidden_hazard",
                                 description="举报", place="某地", received_at=received, **fields)


def accident(mine, occurred: dt.datetime, by: User, *, deaths: int = 0, near_miss: bool = False) -> Accident:
    return Accident.objects.create(mine=mine, occurred_at=occurred, place="采场", kind="roof_fall", deaths=deaths,
                                   is_near_miss=near_miss, summary="事故", reporter=Accident.Reporter.REGULATOR,
                                   reported_by=by, grade="" if near_miss else "general")
