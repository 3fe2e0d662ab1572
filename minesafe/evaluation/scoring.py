"""The quarterly score sheet computed from the data (执法评议).

`compute_sheet(county, quarter)` returns a JSON-safe dict: each item with its inputs (numerator, denominator,
value, the records counted), its score by the catalogue's curve, the flags (no plan, zero penalty, 倒查, fatal
accident) with their deductions, and the total. A draft is this computation, live; publishing stores it.

Attribution (documented choices):
- Inspections and penalty cases count for the body that made them (Inspection.organisation,
  PenaltyCase.organisation), whatever county the mine is in: cross-county enforcement counts for the visitor.
- Whistleblower reports count for the county handling them now (Tipoff.handling_county).
- Hazards, monthly ledgers, self-checks and accidents count for the mine's county as the registry holds it when
  the sheet is computed. The registry keeps no history of a mine's county, so a mine moved to another county
  mid-quarter counts wholly for its new county in a live draft; a published sheet keeps what it counted then.
"""

import calendar
import datetime as dt
import importlib
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core.errors import DomainError
from minesafe.core.models import Organisation, Region
from minesafe.core.services import active_catalogue
from minesafe.enforcement.models import Accident, InspectionPlan, PlanEntry
from minesafe.hazards.models import Hazard, SelfCheck
from minesafe.inspections import models as inspection_models
from minesafe.inspections.models import Inspection
from minesafe.penalties.models import PenaltyCase
from minesafe.registry.models import LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.services import add_months, ledger_due_for_period
from minesafe.tipoffs.models import Tipoff

CATALOGUE_KIND = "evaluation"
COMPUTED_ITEMS = ("inspections", "penalties", "hazards_on_time", "ledger_on_time", "self_check", "tipoffs_on_time")
DECIDED = (PenaltyCase.Status.DECIDED, PenaltyCase.Status.PAID, PenaltyCase.Status.CLOSED)
CENT = Decimal("0.01")


# Quarters ----------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    def __post_init__(self):
        if not 1 <= self.number <= 4 or not 2000 <= self.year <= 2100:
            raise ValueError(f"no such quarter: {self.year} Q{self.number}")

    @classmethod
    def of(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        month = 3 * self.number
        return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])

    def previous(self) -> "Quarter":
        return Quarter(self.year, self.number - 1) if self.number > 1 else Quarter(self.year - 1, 4)

    def __str__(self) -> str:
        return f"{self.year} Q{self.number}"


def last_ended_quarter(today: dt.date | None = None) -> Quarter:
    return Quarter.of(today or timezone.localdate()).previous()


# The catalogue -----------------------------------------------------------------------------------
def validate_catalogue(data: dict) -> None:
    """Raise ValueError naming what is wrong with an evaluation catalogue."""
    items = data.get("items") or []
    codes = [i.get("code") for i in items]
    if len(set(codes)) != len(codes):
        raise ValueError("item codes repeat")
    for item in items:
        if item.get("kind") not in ("computed", "manual"):
            raise ValueError(f"item {item.get('code')}: kind must be computed or manual")
        if item["kind"] == "computed":
            if item["code"] not in COMPUTED_ITEMS:
                raise ValueError(f"item {item['code']}: no computation of that name")
            if not float(item.get("target", 0)) > 0:
                raise ValueError(f"item {item['code']}: target must be above 0")
            if item.get("when_empty", "full") not in ("full", "zero"):
                raise ValueError(f"item {item['code']}: when_empty must be full or zero")
        if not float(item.get("max", 0)) > 0:
            raise ValueError(f"item {item.get('code')}: max must be above 0")
    total = sum(Decimal(str(i["max"])) for i in items)
    if total != 100:
        raise ValueError(f"item maxima add up to {total}, not 100")
    if int(data.get("objection_days", 0)) < 1:
        raise ValueError("objection_days must be at least 1")


def catalogue() -> dict:
    data = active_catalogue(CATALOGUE_KIND)
    try:
        validate_catalogue(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise DomainError(_("the evaluation catalogue is invalid: %(e)s") % {"e": exc}, code="catalogue") from None
    return data


def manual_items(cat: dict) -> list[dict]:
    return [i for i in cat["items"] if i["kind"] == "manual"]


def item_config(cat: dict, code: str) -> dict | None:
    return next((i for i in cat["items"] if i["code"] == code), None)


def label(entry: dict) -> str:
    """An item's name in the reader's language (catalogue entries carry both)."""
    return entry.get("zh") if (get_language() or "").startswith("zh") else entry.get("en") or entry.get("zh")


# Scores ------------------------------------------------------------------------------------------
def cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def linear(value, target, maximum) -> Decimal:
    """Linear between 0 (value 0) and the item's maximum (value at or above target)."""
    share = min(Decimal(1), max(Decimal(0), Decimal(str(value)) / Decimal(str(target))))
    return cents(Decimal(str(maximum)) * share)


def scored(cfg: dict, *, numerator, denominator, status: str = "ok", note: str = "", inputs: dict | None = None,
           records: list | None = None) -> dict:
    """An item's result; a zero denominator scores by the item's `when_empty`, status no_plan scores 0."""
    value = None
    if status == "no_plan":
        score = cents(0)
    elif not denominator:
        status = "empty"
        score = cents(cfg["max"]) if cfg.get("when_empty", "full") == "full" else cents(0)
    else:
        value = round(numerator / denominator, 4)  # shown; the score uses the exact ratio
        score = linear(Decimal(numerator) / Decimal(denominator), cfg["target"], cfg["max"])
    return {"code": cfg["code"], "kind": "computed", "zh": cfg.get("zh", ""), "en": cfg.get("en", ""),
            "max": float(cfg["max"]), "target": float(cfg["target"]), "numerator": numerator,
            "denominator": denominator, "value": value, "score": float(score), "status": status, "note": note,
            "inputs": inputs or {}, "records": records or []}


# Context -----------------------------------------------------------------------------------------
@dataclass
class Context:
    county: Region
    organisation: Organisation | None
    quarter: Quarter
    until: dt.date  # the last day counted: the quarter's end, or today in a running quarter
    until_end: dt.datetime  # the end of `until` (exclusive), never after now
    catalogue: dict

    @property
    def start(self) -> dt.date:
        return self.quarter.start

    @property
    def start_at(self) -> dt.datetime:
        return aware(self.quarter.start)


def aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def county_organisation(county: Region) -> Organisation | None:
    return Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region=county).order_by("pk").first()


def make_context(county: Region, quarter: Quarter, today: dt.date | None = None, cat: dict | None = None) -> Context:
    from django.core.exceptions import ValidationError

    today = today or timezone.localdate()
    if quarter.start > today:
        raise ValidationError({"quarter": _("%(q)s has not begun") % {"q": quarter}})
    until = min(quarter.end, today)
    until_end = min(aware(until + dt.timedelta(days=1)), timezone.now()) if until == today else aware(
        until + dt.timedelta(days=1))
    return Context(county=county, organisation=county_organisation(county), quarter=quarter, until=until,
                   until_end=until_end, catalogue=cat or catalogue())


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


# Items -------------------------------------------------------------------------------------------
def shared(module: str, name: str):
    """A function another app provides (its plan progress, its zero-penalty rule), or None where it has none:
    the evaluation then uses its own reading of the same data."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def plan_progress(organisation: Organisation | None, year: int, until: dt.date) -> dict | None:
    """Year-to-date progress of the body's approved plan (None: no approved plan), as the enforcement app
    computes it for its own progress page, so both show the same figures."""
    if organisation is None:
        return None
    enforcement_progress = shared("minesafe.enforcement.plans", "plan_progress")
    if enforcement_progress is None:
        return own_plan_progress(organisation, year, until)
    progress = enforcement_progress(organisation, year, until)
    if progress.plan is None or progress.status != InspectionPlan.Status.APPROVED:
        return None
    rows = [{"mine": e.mine.name, "mine_code": e.mine.code, "visits_per_year": e.planned_year,
             "due": e.due_to_date, "completed": e.done_to_date, "counted": min(e.done_to_date, e.planned_year),
             "behind": bool(e.behind)} for e in progress.entries]
    return {"plan_id": progress.plan.pk, "planned_to_date": progress.planned_to_date,
            "done_to_date": progress.done_to_date, "planned_year": progress.planned_year,
            "done_year": progress.done_year, "entries": rows}


def own_plan_progress(organisation: Organisation, year: int, until: dt.date) -> dict | None:
    """The evaluation's own reading where the enforcement app has none: per entry the visits due by `until`
    (the year's visits spread evenly, floor(visits × days elapsed / days in year)) and the completed inspections
    counted against them (at most the number due, so extra visits to one mine do not make up for another)."""
    plan = InspectionPlan.objects.filter(organisation=organisation, year=year,
                                         status=InspectionPlan.Status.APPROVED).first()
    if plan is None:
        return None
    jan1 = dt.date(year, 1, 1)
    days_in_year = 366 if calendar.isleap(year) else 365
    elapsed = (until - jan1).days + 1
    entries = list(PlanEntry.objects.filter(plan=plan).select_related("mine").order_by("mine__code"))
    done = dict(Inspection.objects.filter(
        organisation=organisation, status=Inspection.Status.COMPLETED, inspected_on__gte=jan1,
        inspected_on__lte=until, mine__in=[e.mine_id for e in entries]).values("mine").annotate(n=Count("id"))
        .values_list("mine", "n"))
    rows = []
    for entry in entries:
        due = math.floor(entry.visits_per_year * elapsed / days_in_year)
        completed = done.get(entry.mine_id, 0)
        rows.append({"mine": entry.mine.name, "mine_code": entry.mine.code, "visits_per_year": entry.visits_per_year,
                     "due": due, "completed": completed, "counted": min(completed, due), "behind": completed < due})
    return {"plan_id": plan.pk, "planned_to_date": sum(r["due"] for r in rows),
            "done_to_date": sum(r["counted"] for r in rows), "planned_year": sum(e.visits_per_year for e in entries),
            "done_year": sum(done.values()), "entries": rows}


def item_inspections(ctx: Context, cfg: dict) -> dict:
    progress = plan_progress(ctx.organisation, ctx.quarter.year, ctx.until)
    if progress is None:
        return scored(cfg, numerator=0, denominator=0, status="no_plan",
                      note=_("no approved inspection plan for %(y)s") % {"y": ctx.quarter.year})
    return scored(cfg, numerator=progress["done_to_date"], denominator=progress["planned_to_date"],
                  note=_("year to date, until %(d)s") % {"d": ctx.until},
                  inputs={"plan": progress["plan_id"], "planned_year": progress["planned_year"],
                          "done_year": progress["done_year"],
                          "entries_behind": sum(1 for r in progress["entries"] if r["behind"])},
                  records=progress["entries"])


def completed_inspections(ctx: Context):
    return Inspection.objects.filter(organisation=ctx.organisation, status=Inspection.Status.COMPLETED,
                                     inspected_on__gte=ctx.start, inspected_on__lte=ctx.until)


def item_penalties(ctx: Context, cfg: dict) -> dict:
    if ctx.organisation is None:
        return scored(cfg, numerator=0, denominator=0, note=_("no county government registered"))
    cases = list(PenaltyCase.objects.filter(organisation=ctx.organisation, status__in=DECIDED,
                                            decided_on__gte=ctx.start, decided_on__lte=ctx.until)
                 .select_related("mine").order_by("decided_on", "pk"))
    inspections = completed_inspections(ctx).count()
    fines = (sum((c.enterprise_fine for c in cases), Decimal(0)), sum((c.person_fine for c in cases), Decimal(0)))
    result = scored(cfg, numerator=len(cases), denominator=inspections, inputs={
        "enterprise_fines": float(fines[0]), "person_fines": float(fines[1]), "inspections": inspections},
        records=[{"mine": c.mine.name, "opened_on": iso(c.opened_on), "decided_on": iso(c.decided_on),
                  "status": c.status, "enterprise_fine": float(c.enterprise_fine),
                  "person_fine": float(c.person_fine)} for c in cases])
    if inspections and not cases:
        result["status"] = "zero_penalty"
        result["note"] = _("%(n)d inspections and no penalty decided (零处罚)") % {"n": inspections}
    elif not inspections:
        result["note"] = _("no completed inspections in the quarter")
    return result


def item_hazards_on_time(ctx: Context, cfg: dict) -> dict:
    hazards = list(Hazard.objects.filter(mine__county=ctx.county, deadline__gte=ctx.start, deadline__lte=ctx.until)
                   .exclude(status=Hazard.Status.CANCELLED).select_related("mine", "item")
                   .order_by("deadline", "number"))
    records = []
    for h in hazards:
        closed_on = timezone.localdate(h.closed_at) if h.closed_at and h.status == Hazard.Status.CLOSED else None
        on_time = closed_on is not None and closed_on <= h.deadline
        records.append({"number": h.number, "mine": h.mine.name, "item": h.item.code, "source": h.source,
                        "deadline": iso(h.deadline), "closed_on": iso(closed_on), "counted": on_time})
    return scored(cfg, numerator=sum(r["counted"] for r in records), denominator=len(records), records=records)


def due_months(ctx: Context) -> list[tuple[dt.date, dt.date]]:
    """(month, due date) of the monthly reports whose due date falls in the quarter up to `until`."""
    months = []
    month = add_months(ctx.start, -1)
    while month <= ctx.quarter.end:
        due = ledger_due_for_period(month)
        if ctx.start <= due <= ctx.until:
            months.append((month, due))
        month = add_months(month, 1)
    return months


class StatusHistory:
    """Each mine's status on a given day, from the registry's status changes."""

    def __init__(self, mine_ids):
        self.changes: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
        for mine_id, day, status in (MineStatusChange.objects.filter(mine_id__in=mine_ids)
                                     .order_by("effective_date", "created_at", "id")
                                     .values_list("mine_id", "effective_date", "new_status")):
            self.changes[mine_id].append((day, status))

    def status_on(self, mine_id: int, day: dt.date) -> str | None:
        status = None
        for effective, new in self.changes.get(mine_id, []):
            if effective > day:
                break
            status = new
        return status

    def registered(self, mine_id: int) -> dt.date | None:
        changes = self.changes.get(mine_id)
        return changes[0][0] if changes else None


def county_mines(ctx: Context) -> list[Mine]:
    return list(Mine.objects.filter(county=ctx.county).only("id", "code", "name", "mine_type", "created_at")
                .order_by("code"))


def item_ledger(ctx: Context, cfg: dict, mines: list[Mine], history: StatusHistory) -> dict:
    months = due_months(ctx)
    filed = {(m, p): timezone.localdate(at) for m, p, at in LedgerSubmission.objects.filter(
        mine__county=ctx.county, period__in=[m for m, _d in months]).values_list("mine_id", "period", "submitted_at")}
    owed = late = 0
    records = []
    for mine in mines:
        registered = history.registered(mine.pk) or timezone.localdate(mine.created_at)
        for month, due in months:
            if month < registered.replace(day=1) or history.status_on(mine.pk, due) == Mine.Status.CLOSED:
                continue
            owed += 1
            submitted = filed.get((mine.pk, month))
            if submitted is None or submitted > due:
                late += 1
                records.append({"mine": mine.name, "mine_code": mine.code, "month": f"{month:%Y-%m}",
                                "due": iso(due), "submitted_on": iso(submitted)})
    return scored(cfg, numerator=owed - late, denominator=owed, inputs={"overdue_mine_months": late},
                  note=_("the list shows the mine-months overdue"), records=records)


def item_self_check(ctx: Context, cfg: dict, mines: list[Mine], history: StatusHistory) -> dict:
    types = set(ctx.catalogue.get("self_check_mine_types") or [])
    months = [m for m, _due in due_months(ctx)]
    mines = [m for m in mines if m.mine_type in types]
    filed = set(SelfCheck.objects.filter(mine__in=mines, period__in=months).values_list("mine_id", "period"))
    owed = 0
    records = []
    for mine in mines:
        for month in months:
            if history.status_on(mine.pk, month) != Mine.Status.PRODUCING:
                continue
            owed += 1
            if (mine.pk, month) not in filed:
                records.append({"mine": mine.name, "mine_code": mine.code, "month": f"{month:%Y-%m}"})
    return scored(cfg, numerator=owed - len(records), denominator=owed, inputs={"missing": len(records)},
                  note=_("the list shows the self-checks missing"), records=records)


def tipoff_steps(tipoff: Tipoff, days: dict[str, int]) -> list[dict]:
    """Each step the report owed with its deadline (from receipt), when it was done and whether on time. A report
    not accepted owes no verification."""
    received = tipoff.received_at
    steps = [("accept", tipoff.accepted_at or tipoff.rejected_at)]
    if tipoff.rejected_at is None:
        steps.append(("verify", tipoff.verified_at))
    steps.append(("feedback", tipoff.feedback_at))
    out = []
    for step, done in steps:
        due = received + dt.timedelta(days=days[step])
        out.append({"step": step, "due": iso(due), "done": iso(done), "on_time": done is not None and done <= due})
    return out


def item_tipoffs(ctx: Context, cfg: dict) -> dict:
    """Reports whose last deadline (feedback) fell in the quarter up to now: all their steps were due by then."""
    from minesafe.tipoffs.services import deadline_days

    days = deadline_days()
    span = dt.timedelta(days=days["feedback"])
    tipoffs = Tipoff.objects.filter(handling_county=ctx.county, received_at__gte=ctx.start_at - span,
                                    received_at__lt=ctx.until_end - span).order_by("received_at", "pk")
    records = []
    for t in tipoffs:
        steps = tipoff_steps(t, days)
        late = [s["step"] for s in steps if not s["on_time"]]
        records.append({"number": t.number, "received_at": iso(t.received_at), "status": t.status,
                        "late_steps": late, "counted": not late})
    return scored(cfg, numerator=sum(r["counted"] for r in records), denominator=len(records), records=records)


# Flags -------------------------------------------------------------------------------------------
def reverse_accountability(ctx: Context) -> list[dict]:
    """倒查: major hazards found by others (or accidents) in the quarter at mines this county's own inspection had
    visited within the window before, when no county inspection reported a hazard of that item on the mine between
    the visit and the finding (for an accident: no hazard at all) and none was already on record at the visit.
    "Reported by the visit" means a major finding of that item on the body's own inspection of the mine (the
    inspections app's checklist), or a hazard of source county inspection on that mine and item found from the
    visit's day on (hazards recorded without an inspection record)."""
    cfg = ctx.catalogue["flags"]["reverse_accountability"]
    if ctx.organisation is None:
        return []
    window = dt.timedelta(days=int(cfg["window_days"]))
    visits: dict[int, list[dt.date]] = defaultdict(list)
    for mine_id, day in (Inspection.objects.filter(
            organisation=ctx.organisation, status=Inspection.Status.COMPLETED, inspected_on__gte=ctx.start - window,
            inspected_on__lte=ctx.until).order_by("inspected_on").values_list("mine_id", "inspected_on")):
        visits[mine_id].append(day)
    if not visits:
        return []
    # What the regulators knew at each mine: (pk, item, found on, closed on, source) of its hazards.
    known: dict[int, list[tuple]] = defaultdict(list)
    for pk, mine_id, item_id, found_on, closed_at, source in (
            Hazard.objects.filter(mine_id__in=visits, found_on__lte=ctx.until)
            .exclude(status=Hazard.Status.CANCELLED).exclude(closed_at__lt=aware(ctx.start - window))
            .values_list("pk", "mine_id", "item_id", "found_on", "closed_at", "source")):
        known[mine_id].append((pk, item_id, found_on, timezone.localdate(closed_at) if closed_at else None, source))

    # Major findings the body's own visits recorded (the inspections app's checklist: mine, day, hazard item).
    findings: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    finding_model = getattr(inspection_models, "Finding", None)
    if finding_model is not None:
        for mine_id, day, item_id in finding_model.objects.filter(
                inspection__organisation=ctx.organisation, inspection__mine_id__in=visits,
                inspection__inspected_on__gte=ctx.start - window, hazard_item__isnull=False).values_list(
                "inspection__mine_id", "inspection__inspected_on", "hazard_item_id"):
            findings[mine_id].append((day, item_id))

    def earlier_visit(mine_id: int, day: dt.date) -> dt.date | None:
        before = [v for v in visits[mine_id] if day - window <= v < day]
        return before[-1] if before else None

    def missed(pk: int, mine_id: int, item_id: int, visit: dt.date, day: dt.date) -> bool:
        """Not missed when the body's visits recorded it as a major finding, a county inspection reported it
        between the visit and the finding, or it was already on record (found before the visit, open then)."""
        if any(visit <= d <= day and i == item_id for d, i in findings[mine_id]):
            return False
        for other, item, found_on, closed_on, source in known[mine_id]:
            if other == pk or item != item_id:
                continue
            if source == Hazard.Source.COUNTY_INSPECTION and visit <= found_on <= day:
                return False
            if found_on <= visit and (closed_on is None or closed_on >= visit):
                return False
        return True

    def reported_any(mine_id: int, visit: dt.date, day: dt.date) -> bool:
        """Whether the visits recorded any major hazard at the mine between the visit and the day."""
        return any(visit <= d <= day for d, _i in findings[mine_id]) or any(
            source == Hazard.Source.COUNTY_INSPECTION and visit <= found_on <= day
            for _pk, _i, found_on, _c, source in known[mine_id])

    cases = []
    for h in (Hazard.objects.filter(mine_id__in=visits, found_on__gte=ctx.start, found_on__lte=ctx.until,
                                    source__in=cfg["sources"]).exclude(status=Hazard.Status.CANCELLED)
              .select_related("mine", "item").order_by("found_on", "number")):
        visit = earlier_visit(h.mine_id, h.found_on)
        if visit is None or not missed(h.pk, h.mine_id, h.item_id, visit, h.found_on):
            continue
        cases.append({"kind": "hazard", "record": h.number, "mine": h.mine.name, "item": h.item.code,
                      "source": h.source, "found_on": iso(h.found_on), "inspected_on": iso(visit),
                      "days": (h.found_on - visit).days})
    if cfg.get("accidents"):
        for a in (Accident.objects.filter(mine_id__in=visits, occurred_at__gte=ctx.start_at,
                                          occurred_at__lt=ctx.until_end, is_near_miss=False)
                  .select_related("mine").order_by("occurred_at")):
            day = timezone.localdate(a.occurred_at)
            visit = earlier_visit(a.mine_id, day)
            if visit is None or reported_any(a.mine_id, visit, day):
                continue
            cases.append({"kind": "accident", "record": f"{a.get_kind_display()} · {iso(a.occurred_at)}",
                          "mine": a.mine.name, "item": "", "source": "accident", "found_on": iso(day),
                          "inspected_on": iso(visit), "days": (day - visit).days})
    return cases


def zero_penalty(ctx: Context, penalties: dict | None, memo: dict) -> list[dict]:
    """零处罚: by the penalties app's rule for the period (its thresholds, its reasons) where it has one, else
    completed inspections without a decided case. The rule looks at every county at once: `memo` keeps its
    answer for the other sheets of a batch."""
    rule = shared("minesafe.penalties.zero", "zero_penalty_counties")
    if rule is None or ctx.organisation is None:
        return [{"record": penalties["note"]}] if penalties and penalties["status"] == "zero_penalty" else []
    reason_text = shared("minesafe.penalties.zero", "reason_text") or str
    key = ("zero_penalty", ctx.start, ctx.until)
    if key not in memo:
        memo[key] = list(rule(ctx.start, ctx.until))
    return [{"record": "; ".join(str(reason_text(r)) for r in row.reasons),
             "inspections": row.completed_inspections, "decided": row.decided_cases}
            for row in memo[key] if row.organisation.pk == ctx.organisation.pk]


def fatal_accidents(ctx: Context) -> list[dict]:
    return [{"record": f"{a.get_kind_display()} · {iso(a.occurred_at)}", "mine": a.mine.name, "deaths": a.deaths,
             "occurred_at": iso(a.occurred_at)}
            for a in Accident.objects.filter(mine__county=ctx.county, deaths__gt=0, occurred_at__gte=ctx.start_at,
                                             occurred_at__lt=ctx.until_end).select_related("mine")
            .order_by("occurred_at")]


def flag(ctx: Context, code: str, records: list[dict]) -> dict:
    cfg = ctx.catalogue.get("flags", {}).get(code, {})
    per = Decimal(str(cfg.get("deduction", 0)))
    cap = cfg.get("deduction_cap")
    deduction = per * len(records)
    if cap is not None:
        deduction = min(deduction, Decimal(str(cap)))
    return {"code": code, "count": len(records), "deduction": float(cents(deduction)), "records": records}


# The sheet ---------------------------------------------------------------------------------------
def manual_result(cfg: dict, entered) -> dict:
    base = {"code": cfg["code"], "kind": "manual", "zh": cfg.get("zh", ""), "en": cfg.get("en", ""),
            "max": float(cfg["max"]), "target": None, "numerator": None, "denominator": None, "value": None,
            "inputs": {}, "records": []}
    if entered is None:
        return {**base, "score": 0.0, "status": "pending", "note": _("not yet scored")}
    return {**base, "score": float(cents(entered.score)), "status": "ok", "note": entered.reason,
            "inputs": {"entered_by": str(entered.entered_by), "entered_at": iso(entered.entered_at)}}


def compute_sheet(county: Region, quarter: Quarter, *, manual: dict | None = None, today: dt.date | None = None,
                  cat: dict | None = None, memo: dict | None = None) -> dict:
    """The sheet as the data says now. `manual`: item code -> ManualScore (or None); `memo`: shared by the sheets
    of one quarter computed together (a ranking, a batch of publications), for what is the same for all."""
    ctx = make_context(county, quarter, today, cat)
    cat = ctx.catalogue
    manual = manual or {}
    mines = county_mines(ctx)
    history = StatusHistory([m.pk for m in mines])
    compute = {
        "inspections": lambda c: item_inspections(ctx, c),
        "penalties": lambda c: item_penalties(ctx, c),
        "hazards_on_time": lambda c: item_hazards_on_time(ctx, c),
        "ledger_on_time": lambda c: item_ledger(ctx, c, mines, history),
        "self_check": lambda c: item_self_check(ctx, c, mines, history),
        "tipoffs_on_time": lambda c: item_tipoffs(ctx, c),
    }
    items = [compute[c["code"]](c) if c["kind"] == "computed" else manual_result(c, manual.get(c["code"]))
             for c in cat["items"]]
    by_code = {i["code"]: i for i in items}
    flags = []
    if by_code.get("inspections", {}).get("status") == "no_plan":
        flags.append(flag(ctx, "no_plan", [{"record": by_code["inspections"]["note"]}]))
    zero = zero_penalty(ctx, by_code.get("penalties"), {} if memo is None else memo)
    if zero:
        flags.append(flag(ctx, "zero_penalty", zero))
    reverse = reverse_accountability(ctx)
    if reverse:
        flags.append(flag(ctx, "reverse_accountability", reverse))
    fatal = fatal_accidents(ctx)
    if fatal:
        flags.append(flag(ctx, "fatal_accident", fatal))
    return totals({
        "county": {"id": county.pk, "code": county.code, "name": str(county)},
        "year": quarter.year, "quarter": quarter.number, "start": iso(quarter.start), "end": iso(quarter.end),
        "until": iso(ctx.until), "computed_at": iso(timezone.now()), "catalogue_version": str(cat.get("version", "")),
        "items": items, "flags": flags,
    })


def totals(result: dict) -> dict:
    """Subtotal of the items, the flags' deductions and the total (never below 0), in place."""
    subtotal = sum((cents(i["score"]) for i in result["items"]), Decimal(0))
    deductions = sum((cents(f["deduction"]) for f in result["flags"]), Decimal(0))
    result["subtotal"] = float(cents(subtotal))
    result["deductions"] = float(cents(deductions))
    result["total"] = float(cents(max(Decimal(0), subtotal - deductions)))
    result["pending_manual"] = [i["code"] for i in result["items"] if i["status"] == "pending"]
    return result
