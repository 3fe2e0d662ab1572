"""The personnel hub: per county, the compliance lists against the plan's targets (unqualified chiefs,
expiring certificates and unlicensed work, annual training, overdue drills, the own-team share)."""

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from . import activities, certificates, people, training


@dataclass
class CountyLine:
    code: str
    name: str
    unqualified: int = 0
    unqualified_overdue: int = 0
    certificates_expiring: int = 0
    certificates_expired: int = 0
    unlicensed: int = 0
    training_share: float | None = None
    drills_overdue: int = 0
    active_mines: int = 0
    team_share: float | None = None
    team_meets: bool | None = None
    extra: dict = field(default_factory=dict)


@login_required
def index(request):
    user, today = request.user, timezone.localdate()
    lines: dict[str, CountyLine] = {}

    def line(code: str, name: str) -> CountyLine:
        return lines.setdefault(code, CountyLine(code, name))

    for row in people.compliance_list(user, today):
        item = line(row.county.code, row.county.name_zh)
        item.unqualified += 1
        item.unqualified_overdue += row.overdue
    for county in certificates.expiry_dashboard(user, today).counties:
        item = line(county.county_code, county.county_name)
        item.certificates_expiring = county.expiring + county.review_overdue
        item.certificates_expired, item.unlicensed = county.expired, county.unlicensed
    coverage = training.annual_coverage(user, today.year)
    for county in coverage.counties:
        line(county.county_code, county.county_name).training_share = county.share
    for county in activities.overdue_drills(user, today):
        item = line(county.county_code, county.county_name)
        item.drills_overdue, item.active_mines = len(county.overdue), county.mines
    share = activities.own_team_share(user, today)
    for county in share.counties:
        item = line(county.county_code, county.county_name)
        item.team_share, item.team_meets = county.share, county.meets
    return render(request, "personnel/index.html", {
        "lines": sorted(lines.values(), key=lambda x: x.code), "coverage": coverage, "share": share,
        "today": today, "flags": people.flags(user, today)[:20]})
