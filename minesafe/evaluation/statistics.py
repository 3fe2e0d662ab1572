"""Monthly enforcement statistics per county (月度统计, plan task 32): inspections, penalties and fines, major
hazards found and closed, whistleblower reports received and handled. Counted in the database, one grouped
query per measure; attribution as in scoring (inspections and cases for the body that made them, hazards for the
mine's county, reports for the county handling them)."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from minesafe.core.models import Organisation, Region
from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Inspection
from minesafe.penalties.models import PenaltyCase
from minesafe.tipoffs.models import Tipoff

from .scoring import DECIDED

MEASURES = ["inspections", "penalties", "fines", "hazards_found", "hazards_closed", "tipoffs_received",
            "tipoffs_handled"]


@dataclass
class MonthRow:
    county: Region
    month: dt.date
    inspections: int = 0
    penalties: int = 0
    fines: Decimal = Decimal(0)
    hazards_found: int = 0
    hazards_closed: int = 0
    tipoffs_received: int = 0
    tipoffs_handled: int = 0


@dataclass
class CountyStatistics:
    county: Region
    months: list[MonthRow] = field(default_factory=list)
    total: MonthRow | None = None


def month_key(value) -> dt.date:
    """TruncMonth gives a date for date fields and an aware datetime for datetime fields."""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


def monthly_statistics(year: int, counties, today: dt.date | None = None) -> list[CountyStatistics]:
    """One row per county and month of `year` (up to this month in the current year), with the county's total."""
    today = today or timezone.localdate()
    last_month = 12 if year < today.year else (today.month if year == today.year else 0)
    months = [dt.date(year, m, 1) for m in range(1, last_month + 1)]
    counties = list(counties)
    ids = [c.pk for c in counties]
    orgs = dict(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id__in=ids)
                .values_list("pk", "region_id"))
    cells: dict[tuple[int, dt.date], dict] = {}

    def add(county_id, month, **values):
        if county_id is None:
            return
        cell = cells.setdefault((county_id, month_key(month)), {})
        for k, v in values.items():
            cell[k] = cell.get(k, 0) + (v or 0)

    start = dt.date(year, 1, 1)
    end = dt.date(year, 12, 31)
    for row in (Inspection.objects.filter(organisation_id__in=orgs, status=Inspection.Status.COMPLETED,
                                          inspected_on__range=(start, end))
                .annotate(m=TruncMonth("inspected_on")).values("organisation_id", "m").annotate(n=Count("id"))):
        add(orgs[row["organisation_id"]], row["m"], inspections=row["n"])
    for row in (PenaltyCase.objects.filter(organisation_id__in=orgs, status__in=DECIDED,
                                           decided_on__range=(start, end))
                .annotate(m=TruncMonth("decided_on")).values("organisation_id", "m")
                .annotate(n=Count("id"), e=Sum("enterprise_fine"), p=Sum("person_fine"))):
        add(orgs[row["organisation_id"]], row["m"], penalties=row["n"], fines=(row["e"] or 0) + (row["p"] or 0))
    for row in (Hazard.objects.filter(mine__county_id__in=ids, found_on__range=(start, end))
                .annotate(m=TruncMonth("found_on")).values("mine__county_id", "m").annotate(n=Count("id"))):
        add(row["mine__county_id"], row["m"], hazards_found=row["n"])
    start_at = timezone.make_aware(dt.datetime(year, 1, 1))
    end_at = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    for row in (Hazard.objects.filter(mine__county_id__in=ids, status=Hazard.Status.CLOSED, closed_at__gte=start_at,
                                      closed_at__lt=end_at)
                .annotate(m=TruncMonth("closed_at")).values("mine__county_id", "m").annotate(n=Count("id"))):
        add(row["mine__county_id"], row["m"], hazards_closed=row["n"])
    for row in (Tipoff.objects.filter(handling_county_id__in=ids, received_at__gte=start_at, received_at__lt=end_at)
                .annotate(m=TruncMonth("received_at")).values("handling_county_id", "m").annotate(n=Count("id"))):
        add(row["handling_county_id"], row["m"], tipoffs_received=row["n"])
    for row in (Tipoff.objects.filter(Q(handled_at__gte=start_at) & Q(handled_at__lt=end_at),
                                      handling_county_id__in=ids)
                .annotate(m=TruncMonth("handled_at")).values("handling_county_id", "m").annotate(n=Count("id"))):
        add(row["handling_county_id"], row["m"], tipoffs_handled=row["n"])

    out = []
    for county in counties:
        stats = CountyStatistics(county=county)
        total = MonthRow(county=county, month=start)
        for month in months:
            row = MonthRow(county=county, month=month, **cells.get((county.pk, month), {}))
            row.fines = Decimal(row.fines)
            stats.months.append(row)
            for measure in MEASURES:
                setattr(total, measure, getattr(total, measure) + getattr(row, measure))
        stats.total = total
        out.append(stats)
    return out
