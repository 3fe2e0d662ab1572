"""The zero-penalty flag (零处罚 / 只检查不处罚, plan tasks 25 and 32): for a period, each county that, as the
inspecting body, completed inspections but decided no penalty case, or whose inspections found major hazards
while it opened no case at all. `zero_penalty_counties` is what the county evaluation and the city's page read;
`run_monthly` is the periodic job, which claims its period in ZeroPenaltyRun so the city is told once.

Major hazards found come from the inspections app's findings (`major`) when it has them, else from the hazards
app's records that a county inspection found on the county's mines.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.apps import apps
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core import notify
from minesafe.core.models import Organisation, Region
from minesafe.core.services import active_catalogue
from minesafe.inspections.models import Inspection

from .models import PenaltyCase, ZeroPenaltyRun

NO_DECIDED_CASE = "no_decided_case"
MAJOR_HAZARDS_WITHOUT_CASE = "major_hazards_without_case"
REASONS = {
    NO_DECIDED_CASE: gettext_lazy("completed inspections but no penalty decided (只检查不处罚)"),
    MAJOR_HAZARDS_WITHOUT_CASE: gettext_lazy("major hazards found but no penalty case opened"),
}


@dataclass
class CountyEnforcement:
    organisation: Organisation
    region: Region
    completed_inspections: int = 0
    opened_cases: int = 0
    decided_cases: int = 0
    major_hazards: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict:
        return {"organisation": self.organisation.pk, "organisation_name": self.organisation.name,
                "county": self.region.code, "county_name": self.region.name_zh,
                "completed_inspections": self.completed_inspections, "opened_cases": self.opened_cases,
                "decided_cases": self.decided_cases, "major_hazards": self.major_hazards, "reasons": self.reasons}


def thresholds() -> dict:
    cfg = active_catalogue("penalties")["zero_penalty"]
    return {"min_completed_inspections": int(cfg["min_completed_inspections"]),
            "min_major_hazards": int(cfg["min_major_hazards"])}


def month(year: int, number: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


def quarter(year: int, number: int) -> tuple[dt.date, dt.date]:
    start, _end = month(year, 3 * number - 2)
    return start, month(year, 3 * number)[1]


def parse_period(text: str) -> tuple[dt.date, dt.date] | None:
    """"2026-09" (a month) or "2026-Q3" (a quarter); None if it is neither."""
    text = (text or "").strip().upper()
    try:
        if "-Q" in text:
            year, q = text.split("-Q")
            if 1 <= int(q) <= 4 and 2000 <= int(year) <= 2100:
                return quarter(int(year), int(q))
        else:
            year, m = text.split("-")
            if 1 <= int(m) <= 12 and 2000 <= int(year) <= 2100:
                return month(int(year), int(m))
    except ValueError:
        return None
    return None


def _major_findings(start: dt.date, end: dt.date) -> Counter:
    """Major hazards the county inspections found in the period, by inspecting organisation id."""
    try:
        Finding = apps.get_model("inspections", "Finding")
    except LookupError:
        Finding = None
    if Finding is not None and any(f.name == "major" for f in Finding._meta.get_fields()):
        rows = (Finding.objects.filter(major=True, inspection__inspected_on__range=(start, end),
                                       inspection__organisation__kind=Organisation.Kind.COUNTY)
                .exclude(inspection__status=Inspection.Status.CANCELLED)
                .values_list("inspection__organisation_id", flat=True))
        return Counter(rows)
    from minesafe.hazards.models import Hazard

    by_region = Counter(Hazard.objects.filter(source=Hazard.Source.COUNTY_INSPECTION, found_on__range=(start, end))
                        .values_list("mine__county_id", flat=True))
    return Counter({org.pk: by_region.get(org.region_id, 0)
                    for org in Organisation.objects.filter(kind=Organisation.Kind.COUNTY)})


def county_enforcement(start: dt.date, end: dt.date, limits: dict | None = None) -> list[CountyEnforcement]:
    """Every county's inspections, cases and major hazards in [start, end], with the zero-penalty reasons."""
    limits = limits or thresholds()
    completed = Counter(Inspection.objects.filter(status=Inspection.Status.COMPLETED, inspected_on__range=(start, end))
                        .values_list("organisation_id", flat=True))
    decided = Counter(PenaltyCase.objects.decided().filter(decided_on__range=(start, end))
                      .values_list("organisation_id", flat=True))
    opened = Counter(PenaltyCase.objects.filter(opened_on__range=(start, end))
                     .exclude(status=PenaltyCase.Status.WITHDRAWN).values_list("organisation_id", flat=True))
    major = _major_findings(start, end)
    rows = []
    for org in Organisation.objects.filter(kind=Organisation.Kind.COUNTY).select_related("region").order_by(
            "region__code"):
        row = CountyEnforcement(org, org.region, completed[org.pk], opened[org.pk], decided[org.pk], major[org.pk])
        if row.completed_inspections >= limits["min_completed_inspections"] and not row.decided_cases:
            row.reasons.append(NO_DECIDED_CASE)
        if row.major_hazards >= limits["min_major_hazards"] and not row.opened_cases and not row.decided_cases:
            row.reasons.append(MAJOR_HAZARDS_WITHOUT_CASE)
        rows.append(row)
    return rows


def zero_penalty_counties(start: dt.date, end: dt.date) -> list[CountyEnforcement]:
    """The counties flagged for [start, end] (used by the county evaluation and the city's page)."""
    return [row for row in county_enforcement(start, end) if row.flagged]


def reason_text(reason: str) -> str:
    return str(REASONS[reason])


def previous_periods(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The month that ended before `today`, and the quarter as well when that month closed one."""
    last_day = today.replace(day=1) - dt.timedelta(days=1)
    periods = [month(last_day.year, last_day.month)]
    if last_day.month % 3 == 0:
        periods.append(quarter(last_day.year, last_day.month // 3))
    return periods


def run(start: dt.date, end: dt.date) -> ZeroPenaltyRun | None:
    """Check one period and tell the city about the flagged counties; None if the period was already checked."""
    if ZeroPenaltyRun.objects.filter(period_start=start, period_end=end).exists():
        return None
    flagged = zero_penalty_counties(start, end)
    try:
        with transaction.atomic():
            record = ZeroPenaltyRun.objects.create(period_start=start, period_end=end,
                                                   flagged=[row.as_dict() for row in flagged])
            if flagged:
                names = "、".join(row.region.name_zh for row in flagged)
                notes = notify.send(
                    _("Zero-penalty counties %(s)s–%(e)s: %(n)d") % {"s": start, "e": end, "n": len(flagged)},
                    names, f"{reverse('penalties:zero')}?start={start}&end={end}",
                    organisations=Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))
                record.notified = len(notes)
                record.save(update_fields=["notified"])
    except IntegrityError:  # another worker claimed this period first
        return None
    return record


def run_monthly(today: dt.date | None = None) -> list[ZeroPenaltyRun]:
    return [r for r in (run(*period) for period in previous_periods(today or timezone.localdate())) if r]
