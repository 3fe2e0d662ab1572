"""A campaign's progress as the reader may see it: sites by status, by county (with overdue), and findings by
checklist item (which items found most problems). The caller passes the sites already scoped."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.utils import timezone

from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Finding, Inspection, InspectionItem

from .models import Campaign, CampaignSite

SS = CampaignSite.Status


@dataclass
class CountyRow:
    county: str
    code: str
    sites: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    findings: int = 0

    @property
    def settled(self) -> int:
        return self.by_status.get(SS.DONE, 0) + self.by_status.get(SS.EXEMPT, 0)

    @property
    def counts(self) -> list[int]:
        """Sites per status, in the lifecycle's order."""
        return [self.by_status.get(status, 0) for status in SS.values]


@dataclass
class ItemRow:
    code: str
    text: str
    found: int  # visits where the item was marked "hazard found"
    open: int  # of those, findings still open


@dataclass
class Progress:
    sites: int
    by_status: list[tuple[str, str, int]]  # (status, label, count) in the lifecycle's order
    overdue: int
    findings: int
    open_findings: int
    by_county: list[CountyRow]
    items: list[ItemRow]
    free_findings: int  # findings outside the checklist

    @property
    def settled(self) -> int:
        return sum(n for status, _label, n in self.by_status if status in (SS.DONE, SS.EXEMPT))

    @property
    def share_settled(self) -> float | None:
        return self.settled / self.sites if self.sites else None


def progress(campaign: Campaign, sites, inspections, today=None) -> Progress:
    """`sites` and `inspections` are what the reader may see (an enterprise never sees a visit still under way)."""
    today = today or timezone.localdate()
    sites = sites.filter(campaign=campaign).order_by()
    counts = dict(sites.values_list("status").annotate(n=Count("pk")))
    past = campaign.is_past_deadline(today)
    rows: dict[int, CountyRow] = {}
    for row in sites.values("mine__county_id", "mine__county__code", "mine__county__short_zh",
                            "mine__county__name_zh", "status").annotate(n=Count("pk")):
        county = rows.setdefault(row["mine__county_id"], CountyRow(
            county=row["mine__county__short_zh"] or row["mine__county__name_zh"], code=row["mine__county__code"]))
        county.sites += row["n"]
        county.by_status[row["status"]] = row["n"]
        if past and row["status"] in (SS.PENDING, SS.INSPECTED, SS.RECTIFYING):
            county.overdue += row["n"]
    for row in sites.values("mine__county_id").annotate(f=Sum("findings_count")):
        rows[row["mine__county_id"]].findings = row["f"] or 0
    totals = sites.aggregate(f=Sum("findings_count"), o=Sum("open_findings"))
    visited = inspections.filter(campaign_visit__site__in=sites).exclude(status=Inspection.Status.CANCELLED)
    settled = [Hazard.Status.CLOSED, Hazard.Status.CANCELLED]
    still_open = Q(finding__major=False, finding__status=Finding.Status.OPEN) | Q(
        finding__major=True, finding__hazard__isnull=False) & ~Q(finding__hazard__status__in=settled)
    found = (InspectionItem.objects.filter(inspection__in=visited, result=InspectionItem.Result.HAZARD_FOUND)
             .values("code", "text").annotate(n=Count("pk"), open=Count("pk", filter=still_open))
             .order_by("-n", "code"))
    free = Finding.objects.filter(inspection__in=visited, item__isnull=True).count()
    return Progress(
        sites=sum(counts.values()),
        by_status=[(status, label, counts.get(status, 0)) for status, label in SS.choices],
        overdue=sum(counts.get(s, 0) for s in (SS.PENDING, SS.INSPECTED, SS.RECTIFYING)) if past else 0,
        findings=totals["f"] or 0, open_findings=totals["o"] or 0,
        by_county=sorted(rows.values(), key=lambda r: r.code),
        items=[ItemRow(code=r["code"], text=r["text"], found=r["n"], open=r["open"]) for r in found],
        free_findings=free)
