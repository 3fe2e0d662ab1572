"""The formal reports of the action plan (承市安办字〔2024〕69号 asks for monthly statistics, a quarterly assessment
of the counties, a half-year notice and a year-end summary), computed from the data for any period and scope.

One plain function per report (`monthly_report`, `quarterly_assessment`, `half_year_notice`, `year_end_summary`)
returns a `Report`: its sections, each with its table rows and a sentence saying what it counted (the period,
the filters, the sources), so the figures can be reproduced. Rendering is formal_docs.py; storing formal_service.py.

Periods: a month (YYYY-MM), a quarter (YYYY-Qn), a half year (YYYY-H1, YYYY-H2) or a year (YYYY), from 2023-01 up
to the period running today (a running period is counted up to today). Scope: the whole city or one county.

Counting rules (each section states its own):
- Registry stock is taken at the end of the last day counted; events (status changes, hazards, suspensions,
  resumptions, alarms, training, certificates, accidents) count for the county the mine belonged to on the day of
  the event — the plan KPIs' rule (kpis.py): the county as the registry held it then, rolled back through the audit
  log. So a mine moved to another county mid-period counts for its old county before the move and its new one
  after it.
- Enforcement (inspections, findings, penalty decisions, fines) and whistleblower reports reuse the county
  evaluation's monthly statistics and its attribution: the body that inspected or decided, the county handling the
  report. The quarterly assessment, the half-year notice and the year-end summary reuse the evaluation's score
  sheets, ranking and aggregation unchanged."""

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core.models import Organisation, Region
from minesafe.core.services import active_catalogue, county_regions
from minesafe.registry.models import LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.services import add_months, ledger_due_for_period

from . import kpis
from .models import FormalReport, PlanTask, ProgressReport, TaskUnit

K = FormalReport.Kind
S = Mine.Status
MONTH, QUARTER, HALF, YEAR = "month", "quarter", "half", "year"
GRANULARITY = {K.MONTHLY: MONTH, K.QUARTERLY: QUARTER, K.HALF_YEAR: HALF, K.YEAR_END: YEAR}
MONTHS = {MONTH: 1, QUARTER: 3, HALF: 6, YEAR: 12}
PATTERNS = {MONTH: re.compile(r"^(\d{4})-(\d{1,2})$"), QUARTER: re.compile(r"^(\d{4})[- ]?Q([1-4])$", re.I),
            HALF: re.compile(r"^(\d{4})[- ]?H([12])$", re.I), YEAR: re.compile(r"^(\d{4})$")}
FORMATS = {MONTH: "YYYY-MM", QUARTER: "YYYY-Qn", HALF: "YYYY-H1 / YYYY-H2", YEAR: "YYYY"}
EARLIEST = dt.date(2023, 1, 1)


# Periods -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    granularity: str
    start: dt.date
    end: dt.date

    @classmethod
    def make(cls, granularity: str, year: int, number: int = 1) -> "Period":
        months = MONTHS[granularity]
        start = dt.date(year, (number - 1) * months + 1, 1)
        return cls(granularity, start, add_months(start, months) - dt.timedelta(days=1))

    @classmethod
    def of(cls, granularity: str, day: dt.date) -> "Period":
        """The period of `granularity` that `day` falls in."""
        return cls.make(granularity, day.year, (day.month - 1) // MONTHS[granularity] + 1)

    @property
    def number(self) -> int:
        return (self.start.month - 1) // MONTHS[self.granularity] + 1

    @property
    def label(self) -> str:
        return {MONTH: f"{self.start:%Y-%m}", QUARTER: f"{self.start.year}-Q{self.number}",
                HALF: f"{self.start.year}-H{self.number}", YEAR: str(self.start.year)}[self.granularity]

    def months(self) -> list[dt.date]:
        return [add_months(self.start, i) for i in range(MONTHS[self.granularity])]


def parse_period(kind: str, text: str, today: dt.date | None = None) -> Period:
    """The period a report of `kind` is asked for: its own granularity (a month for the monthly statistics, a
    quarter for the assessment, a half year for the notice, a year for the summary), begun by today and not before
    2023-01. Raises ValidationError({"period": reason})."""
    today = today or timezone.localdate()
    granularity = GRANULARITY[kind]
    text = (text or "").strip()
    match = PATTERNS[granularity].match(text)
    number = int(match.group(2)) if match and granularity != YEAR else 1
    if not match or not 1 <= number <= 12:
        raise ValidationError({"period": _("give the period as %(f)s (for example %(e)s)") % {
            "f": FORMATS[granularity], "e": Period.of(granularity, today).label}})
    period = Period.make(granularity, int(match.group(1)), number)
    if period.start > today:
        raise ValidationError({"period": _("%(p)s has not begun: the latest period is %(c)s") % {
            "p": period.label, "c": Period.of(granularity, today).label}})
    if period.start < EARLIEST:
        raise ValidationError({"period": _("the reports start with %(d)s") % {"d": f"{EARLIEST:%Y-%m}"}})
    return period


def resolve_county(code: str) -> Region | None:
    """The scope: blank is the whole city, else a county-level unit by its code."""
    code = (code or "").strip()
    if not code:
        return None
    region = county_regions().filter(code=code).first()
    if region is None:
        raise ValidationError({"county": _("no county-level unit has the code %(c)s") % {"c": code[:12]}})
    return region


def aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def day_span(start: dt.date, end: dt.date) -> str:
    return f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"


# Results -----------------------------------------------------------------------------------------
@dataclass
class Chart:
    """A chart of some of a section's columns: categories from one column, a series per value column, over the
    first `row_count` rows (a total row is left out)."""

    kind: str  # "bar" or "line" (docx_charts.BAR / LINE)
    title: str
    category_column: int
    value_columns: list[int]
    row_count: int


@dataclass
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list]
    counted: str
    chart: Chart | None = None
    total_rows: int = 0  # trailing rows that are totals

    def chart_data(self) -> tuple[list[str], list[tuple[str, list]]]:
        """The chart's categories and series [(name, values)] from the rows."""
        chart = self.chart
        rows = self.rows[:chart.row_count]
        categories = [str(r[chart.category_column]) for r in rows]
        series = [(self.columns[c], [None if r[c] is None else float(r[c]) for r in rows])
                  for c in chart.value_columns]
        return categories, series


@dataclass
class Report:
    kind: str
    title: str
    period: Period
    until: dt.date
    county: Region | None
    scope_name: str
    generated_at: dt.datetime
    generated_by: str
    sections: list[Section]
    summary: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)


# Scope: the period, the counties and the mines as they stood ------------------------------------
class Scope:
    """What every section reads: the period (counted up to `until`), the counties in scope and, for the rules
    "as of a day", the mines with their status history and their county rolled back through the audit log."""

    def __init__(self, period: Period, county: Region | None, today: dt.date):
        self.period = period
        self.county = county
        self.today = today
        self.start = period.start
        self.until = min(period.end, today)
        self.start_at = aware(period.start)
        end = aware(self.until + dt.timedelta(days=1))
        self.end_at = min(end, timezone.now()) if self.until >= today else end
        # From the month before: the ledgers falling due in the period are for the month before it.
        self.mines = kpis.Context(self.until, county, add_months(period.start, -1), {})

    @cached_property
    def counties(self) -> list[Region]:
        from minesafe.evaluation.services import evaluated_counties

        return [self.county] if self.county else list(evaluated_counties())

    @property
    def scope_text(self) -> str:
        return _("county %(c)s (%(code)s)") % {"c": self.county, "code": self.county.code} if self.county \
            else _("the whole city")

    @property
    def span(self) -> str:
        return day_span(self.start, self.until)

    def mine_q(self, path: str = "mine_id") -> Q:
        return self.mines.mine_q(path)

    def county_on(self, mine_id: int, day: dt.date) -> int | None:
        """The county the mine belonged to on `day` when that is in scope (else None: not counted)."""
        if mine_id not in self.mines.mines:
            return None
        county_id = self.mines.attr(mine_id, "county_id", day)
        return county_id if self.county is None or county_id == self.county.pk else None

    @cached_property
    def _monthly_statistics(self) -> list:
        """The county evaluation's monthly statistics of the period's year for the counties in scope."""
        from minesafe.evaluation.statistics import monthly_statistics

        return monthly_statistics(self.start.year, self.counties, today=self.today)

    @cached_property
    def statistics(self) -> dict[int, dict[str, object]]:
        """The evaluation's monthly statistics summed over the period's months, by county."""
        from minesafe.evaluation.statistics import MEASURES

        out = {}
        for county in self._monthly_statistics:
            sums = dict.fromkeys(MEASURES, 0)
            for row in county.months:
                if self.start <= row.month <= self.until:
                    for measure in MEASURES:
                        sums[measure] += getattr(row, measure)
            out[county.county.pk] = sums
        return out

    @cached_property
    def statistics_by_month(self) -> list[tuple[dt.date, dict]]:
        """The evaluation's monthly statistics of each month of the period, summed over the counties in scope."""
        from minesafe.evaluation.statistics import MEASURES

        months: dict[dt.date, dict] = {m: dict.fromkeys(MEASURES, 0) for m in self.period.months()
                                       if m <= self.until}
        for county in self._monthly_statistics:
            for row in county.months:
                if row.month in months:
                    for measure in MEASURES:
                        months[row.month][measure] += getattr(row, measure)
        return sorted(months.items())


class Tally:
    """Counts per county and measure; the rows of a county table (and the city's total row)."""

    def __init__(self, measures: list[str]):
        self.measures = measures
        self.cells: dict[int, dict[str, object]] = defaultdict(lambda: dict.fromkeys(measures, 0))

    def add(self, county_id: int | None, measure: str, amount=1) -> None:
        if county_id is not None and amount:
            self.cells[county_id][measure] += amount

    def set(self, county_id: int, values: dict) -> None:
        for measure in self.measures:
            self.cells[county_id][measure] = values.get(measure, 0)

    def section(self, scope: Scope, key: str, title: str, labels: dict[str, str], counted: str,
                chart: tuple[str, str, list[str]] | None = None) -> Section:
        rows = [[c.code, str(c), *[self.cells[c.pk][m] for m in self.measures]] if c.pk in self.cells
                else [c.code, str(c), *[0] * len(self.measures)] for c in scope.counties]
        total_rows = 0
        if scope.county is None:
            total = [sum((cells[m] for cells in self.cells.values()), 0) for m in self.measures]
            rows.append(["", _("Whole city"), *total])
            total_rows = 1
        made = None
        if chart is not None:
            kind, chart_title, measures = chart
            made = Chart(kind, chart_title, 1, [2 + self.measures.index(m) for m in measures],
                         len(scope.counties))
        return Section(key, title, [_("Code"), _("County"), *[labels[m] for m in self.measures]], rows, counted,
                       made, total_rows)


def _label(choices, value) -> str:
    return str(choices(value).label)


# Sections: the registry ---------------------------------------------------------------------------
def section_mines(scope: Scope) -> Section:
    types = [t.value for t in Mine.Type]
    statuses = [S.PRODUCING, S.CONSTRUCTION, S.SUSPENDED, S.CONSTRUCTION_HALTED]
    tally = Tally(["mines", *types, *statuses])
    for mine_id, (status, mine_type) in scope.mines.on(scope.until).items():
        if status == S.CLOSED:
            continue
        county = scope.county_on(mine_id, scope.until)
        tally.add(county, "mines")
        tally.add(county, mine_type)
        tally.add(county, status)
    labels = {"mines": _("Mines (not closed)"), **{t: _label(Mine.Type, t) for t in types},
              **{s: _label(S, s) for s in statuses}}
    return tally.section(scope, "mines", _("Mines at the end"), labels, _(
        "Mines registered by the end of %(day)s and not closed on that day, by the type, status and county they had "
        "on that day (status from the dated status history; county and type as the registry held them then, "
        "rolled back through the audit log). Source: registry.") % {"day": scope.until},
        ("bar", _("Mines by county"), ["mines"]))


def ledger_months(scope: Scope) -> list[dt.date]:
    """The ledger months whose update fell due in the period (up to the last day counted)."""
    months, month = [], add_months(scope.start, -1)
    while ledger_due_for_period(month) <= scope.until:
        if ledger_due_for_period(month) >= scope.start:
            months.append(month)
        month = add_months(month, 1)
    return months


def section_changes(scope: Scope) -> Section:
    tally = Tally(["registered", "stopped", "resumed", "closed", "owed", "on_time", "late", "missing"])
    for mine_id, day, old, new in MineStatusChange.objects.filter(
            scope.mine_q(), effective_date__gte=scope.start, effective_date__lte=scope.until).order_by("pk") \
            .values_list("mine_id", "effective_date", "old_status", "new_status"):
        county = scope.county_on(mine_id, day)
        if not old:
            tally.add(county, "registered")
        elif new in (S.SUSPENDED, S.CONSTRUCTION_HALTED):
            tally.add(county, "stopped")
        elif new in (S.PRODUCING, S.CONSTRUCTION) and old in (S.SUSPENDED, S.CONSTRUCTION_HALTED):
            tally.add(county, "resumed")
        elif new == S.CLOSED:
            tally.add(county, "closed")
    months = ledger_months(scope)
    filed = {(m, p): timezone.localdate(at) for m, p, at in LedgerSubmission.objects.filter(
        scope.mine_q(), period__in=months).values_list("mine_id", "period", "submitted_at")}
    for month in months:
        end, due = kpis.month_end(month), ledger_due_for_period(month)
        for mine_id, (status, _kind) in scope.mines.on(end).items():
            if status == S.CLOSED:
                continue
            county = scope.county_on(mine_id, end)
            tally.add(county, "owed")
            submitted = filed.get((mine_id, month))
            tally.add(county, "on_time" if submitted and submitted <= due else
                      "late" if submitted and submitted <= scope.until else "missing")
    labels = {"registered": _("Registered"), "stopped": _("Suspended or halted"),
              "resumed": _("Resumed"), "closed": _("Closed"), "owed": _("Ledgers owed"),
              "on_time": _("Ledgers on time"), "late": _("Ledgers late"), "missing": _("Ledgers not submitted")}
    due_text = ", ".join(f"{m:%Y-%m} ({_('due')} {ledger_due_for_period(m)})" for m in months) or _("none")
    return tally.section(scope, "changes", _("Status changes and ledgers"), labels, _(
        "Status changes effective %(span)s, counted for the county the mine belonged to on the day (registered: "
        "its first status; suspended or halted; resumed from a suspension or halt; closed). Monthly ledgers falling "
        "due in the period — %(months)s — owed by every mine registered and not closed at the end of the ledger "
        "month, for the county it belonged to then: on time when submitted by the due date, late when submitted "
        "after it but by %(until)s, otherwise not submitted. Source: registry status history and ledger "
        "submissions.") % {"span": scope.span, "months": due_text, "until": scope.until})


# Sections: hazards, operations, monitoring, personnel, accidents ---------------------------------
def hazard_events(scope: Scope) -> list[tuple[str, int | None, dt.date]]:
    """(measure, county, day) of the major hazards in the period: reported, closed, closed by the deadline, and
    overdue and open at the end; cancelled ones left out; the county the mine belonged to on the day."""
    from minesafe.hazards.models import Hazard

    events = []
    live = Hazard.objects.filter(scope.mine_q()).exclude(status=Hazard.Status.CANCELLED)
    for mine_id, found_on in live.filter(found_on__gte=scope.start, found_on__lte=scope.until) \
            .values_list("mine_id", "found_on"):
        events.append(("reported", scope.county_on(mine_id, found_on), found_on))
    for mine_id, closed_at, deadline in live.filter(status=Hazard.Status.CLOSED, closed_at__gte=scope.start_at,
                                                    closed_at__lt=scope.end_at) \
            .values_list("mine_id", "closed_at", "deadline"):
        day = timezone.localdate(closed_at)
        county = scope.county_on(mine_id, day)
        events.append(("closed", county, day))
        if deadline is not None and day <= deadline:
            events.append(("closed_on_time", county, day))
    for (mine_id,) in live.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=scope.end_at),
                                  found_on__lte=scope.until, deadline__lt=scope.until).values_list("mine_id"):
        events.append(("overdue_open", scope.county_on(mine_id, scope.until), scope.until))
    return events


def section_hazards(scope: Scope) -> Section:
    tally = Tally(["reported", "closed", "closed_on_time", "overdue_open"])
    for measure, county, _day in hazard_events(scope):
        tally.add(county, measure)
    labels = {"reported": _("Major hazards reported"), "closed": _("Closed (销号)"),
              "closed_on_time": _("Closed by the deadline"), "overdue_open": _("Overdue and open at the end")}
    return tally.section(scope, "hazards", _("Major hazards"), labels, _(
        "Major hazards (cancelled ones left out) found %(span)s, counted for the county the mine belonged to on the "
        "day found; closed (销号) in the period, for the county on the day closed, and of those closed on or "
        "before their rectification deadline; open at the end of %(until)s with a deadline before that day, for "
        "the county on that day. Source: hazards.") % {"span": scope.span, "until": scope.until},
        ("bar", _("Major hazards reported and closed"), ["reported", "closed"]))


def section_operations(scope: Scope) -> Section:
    from minesafe.operations.models import Offence, ResumptionApplication, SuspensionReport

    RA = ResumptionApplication.Status
    tally = Tally(["reports", "stops", "city_overdue", "applications", "accepted", "refused", "production_found"])
    reports = SuspensionReport.objects.filter(scope.mine_q())
    for mine_id, at in reports.filter(submitted_at__gte=scope.start_at, submitted_at__lt=scope.end_at) \
            .values_list("mine_id", "submitted_at"):
        tally.add(scope.county_on(mine_id, timezone.localdate(at)), "reports")
    for mine_id, day in reports.filter(stopped_on__gte=scope.start, stopped_on__lte=scope.until) \
            .values_list("mine_id", "stopped_on"):
        tally.add(scope.county_on(mine_id, day), "stops")
    for (mine_id,) in reports.filter(Q(reported_to_city_at__isnull=True) | Q(reported_to_city_at__gte=scope.end_at),
                                     city_report_due__lt=scope.until).values_list("mine_id"):
        tally.add(scope.county_on(mine_id, scope.until), "city_overdue")
    applications = ResumptionApplication.objects.filter(scope.mine_q())
    for mine_id, at in applications.filter(applied_at__gte=scope.start_at, applied_at__lt=scope.end_at) \
            .values_list("mine_id", "applied_at"):
        tally.add(scope.county_on(mine_id, timezone.localdate(at)), "applications")
    for mine_id, at, status in applications.filter(status__in=[RA.ACCEPTED, RA.REFUSED], decided_at__gte=scope.start_at,
                                                   decided_at__lt=scope.end_at) \
            .values_list("mine_id", "decided_at", "status"):
        tally.add(scope.county_on(mine_id, timezone.localdate(at)), "accepted" if status == RA.ACCEPTED else "refused")
    for mine_id, day in Offence.objects.filter(scope.mine_q(), kind=Offence.Kind.UNACCEPTED_RESUMPTION,
                                               found_on__gte=scope.start, found_on__lte=scope.until) \
            .values_list("mine_id", "found_on"):
        tally.add(scope.county_on(mine_id, day), "production_found")
    labels = {"reports": _("Suspension reports submitted"), "stops": _("Stops effective"),
              "city_overdue": _("Reports to the city overdue at the end"),
              "applications": _("Resumption applications"), "accepted": _("Resumptions accepted"),
              "refused": _("Resumptions refused"), "production_found": _("Production found while suspended")}
    return tally.section(scope, "operations", _("Suspension and resumption"), labels, _(
        "Suspension reports (停产停建) submitted and stops taking effect %(span)s; the county's reports to the city "
        "due before %(until)s and not made by the end of it; resumption applications made, and accepted or "
        "refused (复产复工验收), in the period; production found at a mine without resumption acceptance. Each counted "
        "for the county the mine belonged to on the day. Source: operations.") % {
        "span": scope.span, "until": scope.until})


def section_alarms(scope: Scope) -> Section:
    from minesafe.monitoring.models import Alarm, Level

    levels = [Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED]
    tally = Tally(["alarms", *[f"level_{int(v)}" for v in levels], "ack_missed", "response_missed"])
    for mine_id, opened, level, acked, ack_due, responded, response_due in Alarm.objects.filter(
            scope.mine_q(), opened_at__gte=scope.start_at, opened_at__lt=scope.end_at).values_list(
            "mine_id", "opened_at", "max_level", "acknowledged_at", "ack_due_at", "responded_at", "response_due_at"):
        county = scope.county_on(mine_id, timezone.localdate(opened))
        tally.add(county, "alarms")
        if level in levels:
            tally.add(county, f"level_{level}")
        tally.add(county, "ack_missed", int(ack_due < scope.end_at and (acked is None or acked > ack_due)))
        tally.add(county, "response_missed",
                  int(response_due < scope.end_at and (responded is None or responded > response_due)))
    labels = {"alarms": _("Alarms opened"), **{f"level_{int(v)}": _label(Level, v) for v in levels},
              "ack_missed": _("Not acknowledged in time (叫应)"), "response_missed": _("Not responded in time (回应)")}
    return tally.section(scope, "alarms", _("Monitoring alarms"), labels, _(
        "Alarms opened %(span)s by the highest level they reached, counted for the county the mine belonged to on "
        "the day opened; of those, the ones whose acknowledgement (叫应) or response (回应) deadline passed within "
        "the period without it. Source: monitoring.") % {"span": scope.span},
        ("bar", _("Alarms by highest level"), [f"level_{int(v)}" for v in levels]))


def section_personnel(scope: Scope) -> Section:
    from minesafe.personnel.models import Certificate, TrainingRecord

    TK = TrainingRecord.Kind
    tally = Tally(["trainings", "annual", "special", "issued", "expired", "valid"])
    for mine_id, day, kind in TrainingRecord.objects.filter(
            scope.mine_q("person__mine_id"), person__isnull=False, passed=True, held_on__gte=scope.start,
            held_on__lte=scope.until).exclude(kind=TK.ENFORCEMENT_ROTATION).values_list(
            "person__mine_id", "held_on", "kind"):
        county = scope.county_on(mine_id, day)
        tally.add(county, "trainings")
        tally.add(county, "annual", int(kind in (TK.PRINCIPAL_ANNUAL, TK.CHIEF_ANNUAL)))
        tally.add(county, "special", int(kind == TK.SPECIAL_OPERATION))
    certificates = Certificate.objects.filter(scope.mine_q("person__mine_id"))
    for mine_id, day in certificates.filter(issued_on__gte=scope.start, issued_on__lte=scope.until) \
            .values_list("person__mine_id", "issued_on"):
        tally.add(scope.county_on(mine_id, day), "issued")
    for mine_id, day in certificates.filter(revoked=False, expires_on__gte=scope.start,
                                            expires_on__lte=scope.until).values_list("person__mine_id", "expires_on"):
        tally.add(scope.county_on(mine_id, day), "expired")
    for (mine_id,) in certificates.filter(revoked=False, issued_on__lte=scope.until,
                                          expires_on__gt=scope.until).values_list("person__mine_id"):
        tally.add(scope.county_on(mine_id, scope.until), "valid")
    labels = {"trainings": _("Training passed"), "annual": _("of which annual (principal, five chiefs)"),
              "special": _("of which special-operation"), "issued": _("Certificates issued"),
              "expired": _("Certificates expired"), "valid": _("Valid certificates at the end")}
    return tally.section(scope, "personnel", _("Training and certificates"), labels, _(
        "Training passed by people of the mines %(span)s (enforcement staff's training left out); special-operation "
        "certificates issued and expiring (not revoked) in the period; certificates not revoked, issued by "
        "%(until)s and expiring after it. Each counted for the county the person's mine belonged to on the day. "
        "Source: personnel.") % {"span": scope.span, "until": scope.until})


def section_accidents(scope: Scope) -> Section:
    from minesafe.enforcement.models import Accident

    tally = Tally(["accidents", "near_misses", "deaths", "serious", "minor", "loss"])
    for mine_id, at, near, deaths, serious, minor, loss in Accident.objects.filter(
            scope.mine_q(), occurred_at__gte=scope.start_at, occurred_at__lt=scope.end_at).values_list(
            "mine_id", "occurred_at", "is_near_miss", "deaths", "serious_injuries", "minor_injuries", "direct_loss"):
        county = scope.county_on(mine_id, timezone.localdate(at))
        tally.add(county, "near_misses" if near else "accidents")
        tally.add(county, "deaths", deaths)
        tally.add(county, "serious", serious)
        tally.add(county, "minor", minor)
        tally.add(county, "loss", loss or Decimal(0))
    labels = {"accidents": _("Accidents"), "near_misses": _("Near misses (涉险)"), "deaths": _("Deaths"),
              "serious": _("Serious injuries"), "minor": _("Minor injuries"),
              "loss": _("Direct loss (CNY)")}
    return tally.section(scope, "accidents", _("Accidents"), labels, _(
        "Accidents and near misses that occurred %(span)s with their casualties and direct loss, counted for the "
        "county the mine belonged to on the day. Source: accidents (enforcement).") % {"span": scope.span})


# Sections: enforcement and whistleblower reports (the county evaluation's statistics) -------------
def section_enforcement(scope: Scope) -> Section:
    from minesafe.inspections.models import Finding, Inspection

    tally = Tally(["inspections", "findings", "major", "penalties", "fines"])
    for county_id, sums in scope.statistics.items():
        tally.set(county_id, {"inspections": sums["inspections"], "penalties": sums["penalties"],
                              "fines": Decimal(sums["fines"])})
    for row in Finding.objects.filter(
            inspection__organisation__kind=Organisation.Kind.COUNTY,
            inspection__organisation__region__in=[c.pk for c in scope.counties],
            inspection__status=Inspection.Status.COMPLETED, inspection__inspected_on__gte=scope.start,
            inspection__inspected_on__lte=scope.until).values("inspection__organisation__region") \
            .annotate(n=Count("id"), major=Count("id", filter=Q(major=True))):
        tally.add(row["inspection__organisation__region"], "findings", row["n"])
        tally.add(row["inspection__organisation__region"], "major", row["major"])
    labels = {"inspections": _("Inspections completed"), "findings": _("Findings"),
              "major": _("of which major hazards"), "penalties": _("Penalty decisions"),
              "fines": _("Fines decided (CNY)")}
    return tally.section(scope, "enforcement", _("Inspections and penalties"), labels, _(
        "The county evaluation's monthly statistics for %(span)s: inspections completed (by inspection date) and "
        "penalty cases decided (by decision date; decided, paid or closed) with their fines on the enterprise and "
        "the person, each counted for the county government that made it, whatever county the mine is in; the "
        "findings recorded in those inspections. The city bureau's own inspections are not in these rows. "
        "Source: inspections, penalties.") % {"span": scope.span},
        ("bar", _("Inspections and penalty decisions"), ["inspections", "penalties"]))


def section_tipoffs(scope: Scope) -> Section:
    from minesafe.evaluation.scoring import tipoff_steps
    from minesafe.tipoffs.models import Tipoff
    from minesafe.tipoffs.services import deadline_days

    tally = Tally(["received", "handled", "due", "on_time"])
    for county_id, sums in scope.statistics.items():
        tally.set(county_id, {"received": sums["tipoffs_received"], "handled": sums["tipoffs_handled"]})
    days = deadline_days()
    span = dt.timedelta(days=days["feedback"])
    for tipoff in Tipoff.objects.filter(handling_county__in=[c.pk for c in scope.counties],
                                        received_at__gte=scope.start_at - span, received_at__lt=scope.end_at - span):
        tally.add(tipoff.handling_county_id, "due")
        tally.add(tipoff.handling_county_id, "on_time", int(all(s["on_time"] for s in tipoff_steps(tipoff, days))))
    labels = {"received": _("Reports received"), "handled": _("Reports handled"),
              "due": _("Feedback due in the period"), "on_time": _("Every step on time")}
    return tally.section(scope, "tipoffs", _("Whistleblower reports"), labels, _(
        "Whistleblower reports received and handled %(span)s (the county evaluation's monthly statistics), counted "
        "for the county handling them; the reports whose last step (feedback, %(days)d days after receipt) fell due "
        "in the period, and of those the ones with every step (accept, verify, feedback) done by its deadline, as "
        "the evaluation counts them. Source: tip-offs.") % {"span": scope.span, "days": days["feedback"]})


# Sections: the plan ------------------------------------------------------------------------------
def plan_units(scope: Scope):
    from . import services

    units = Organisation.objects.filter(pk__in=services.reporting_units())
    if scope.county is not None:
        units = units.filter(kind=Organisation.Kind.COUNTY, region=scope.county)
    return list(units.select_related("region").order_by("kind", "region__code", "name"))


def section_progress_reports(scope: Scope) -> Section:
    from . import services

    units = plan_units(scope)
    periods = services.periods_due(scope.until)
    reports = defaultdict(list)
    for report in ProgressReport.objects.filter(organisation__in=units).order_by("period_start"):
        reports[report.organisation_id].append(report)
    rows = []
    for unit in units:
        own = reports.get(unit.pk, [])
        submitted = [r for r in own if scope.start_at <= r.submitted_at < scope.end_at]
        accepted = [r for r in own if r.status == ProgressReport.Status.ACCEPTED and r.reviewed_at
                    and scope.start_at <= r.reviewed_at < scope.end_at]
        by_start = {r.period_start: r for r in own}
        overdue = [p for p in periods if (r := by_start.get(p.start)) is None or r.submitted_at >= scope.end_at
                   or r.status == ProgressReport.Status.RETURNED]
        rows.append([unit.name, len(submitted), len(accepted), len(overdue),
                     ", ".join(p.label for p in overdue[:6]) + (" …" if len(overdue) > 6 else "")])
    return Section("progress", _("Plan progress reports"), [
        _("Responsible unit"), _("Reports submitted"), _("Reports accepted"), _("Periods overdue at the end"),
        _("Overdue periods")], rows, _(
        "Each responsible unit's progress reports on the action plan's tasks submitted, and accepted by the city, "
        "%(span)s; the reporting periods whose report was due (%(days)s days after the period) before %(until)s "
        "and was not submitted by the end of it, or was returned and not yet resubmitted. Source: plan progress "
        "reports.") % {"span": scope.span, "days": services.rules().get("due_days", 10), "until": scope.until})


def section_tasks(scope: Scope) -> Section:
    units = TaskUnit.objects.select_related("task", "organisation")
    if scope.county is not None:
        units = units.filter(organisation__kind=Organisation.Kind.COUNTY, organisation__region=scope.county)
    by_task: dict[int, list[TaskUnit]] = defaultdict(list)
    for unit in units:
        by_task[unit.task_id].append(unit)
    rows = []
    for task in PlanTask.objects.filter(pk__in=by_task).order_by("number"):
        own = by_task[task.pk]
        done = [u for u in own if u.status == TaskUnit.Status.COMPLETED and u.completed_on
                and u.completed_on <= scope.until]
        missed = len(own) - len(done) if task.deadline and task.deadline < scope.until else 0
        rows.append([task.number, task.title_zh if (get_language() or "").startswith("zh") else task.title_en,
                     task.deadline.isoformat() if task.deadline else _("ongoing"), len(own), len(done), missed])
    return Section("tasks", _("The plan's tasks"), [
        _("Task"), _("Title"), _("Deadline"), _("Responsible units"), _("Dated part completed"),
        _("Deadline missed")], rows, _(
        "Each task of the action plan with its responsible units%(scope)s: the units whose dated part was recorded "
        "completed on or before %(until)s, and, for a deadline before that day, the units that had not completed "
        "it. Source: plan tasks.") % {"scope": _(" of %(c)s") % {"c": scope.county} if scope.county else "",
                                      "until": scope.until})


def section_kpis(scope: Scope) -> Section:
    from .views_kpis import format_target, format_value, status_label

    rows = []
    for kpi in kpis.all_kpis(scope.until, scope.county, with_trend=False):
        rows.append([kpi.title, format_value(kpi.unit, kpi.value), kpi.numerator, kpi.denominator,
                     format_target(kpi.unit, kpi.direction, kpi.target),
                     kpi.target_date.isoformat() if kpi.target_date else "", status_label(kpi.status)[1],
                     kpi.counted])
    return Section("kpis", _("Plan indicators"), [
        _("Indicator"), _("Value"), _("Numerator"), _("Denominator"), _("Target"), _("Target date"), _("Status"),
        _("What was counted")], rows, _(
        "The action plan's indicators as they stood at the end of %(until)s for %(scope)s, computed from the data "
        "by the indicator rules (catalogue plan_kpis, version %(v)s); the last column says what each counted.") % {
        "until": scope.until, "scope": scope.scope_text, "v": kpis.catalogue().get("version", "")})


def section_months(scope: Scope) -> Section:
    """Month by month over the period, for the counties in scope: the county evaluation's monthly statistics
    (inspections, penalties, whistleblower reports) and the major hazards by the rule of the hazards section."""
    keys = ["inspections", "penalties", "fines", "tipoffs_received", "tipoffs_handled"]
    hazards: dict[tuple[dt.date, str], int] = defaultdict(int)
    for measure, county, day in hazard_events(scope):
        if county is not None and measure in ("reported", "closed"):
            hazards[(day.replace(day=1), measure)] += 1
    rows = [[f"{month:%Y-%m}", *[Decimal(sums[k]) if k == "fines" else sums[k] for k in keys[:3]],
             hazards[(month, "reported")], hazards[(month, "closed")], *[sums[k] for k in keys[3:]]]
            for month, sums in scope.statistics_by_month]
    if rows:
        rows.append([_("Total"), *[sum((r[i] for r in rows), 0) for i in range(1, len(keys) + 3)]])
    return Section("months", _("Enforcement month by month"), [
        _("Month"), _("Inspections completed"), _("Penalty decisions"), _("Fines decided (CNY)"),
        _("Major hazards reported"), _("Major hazards closed"), _("Reports received"), _("Reports handled")], rows, _(
        "Month by month for %(scope)s, %(span)s: inspections completed and penalty cases decided by the county "
        "governments that made them, and whistleblower reports received and handled by the county handling them "
        "(the county evaluation's monthly statistics); major hazards reported and closed as the major hazards "
        "section counts them (cancelled ones left out, the county the mine belonged to on the day). Sources: "
        "inspections, penalties, tip-offs, hazards.") % {"scope": scope.scope_text, "span": scope.span},
        Chart("line", _("Inspections and major hazards by month"), 0, [1, 4, 5], max(len(rows) - 1, 0)),
        total_rows=1 if rows else 0)


# The county evaluation ---------------------------------------------------------------------------
def evaluation_flags() -> dict[str, str]:
    from minesafe.evaluation.views import FLAG_LABELS

    return {code: str(text) for code, text in FLAG_LABELS.items()}


def quarter_results(quarter, today: dt.date) -> tuple[list, dict]:
    """Every county's sheet for the quarter as the evaluation's ranking reads it (the published snapshot, else
    the draft computed live), with the ranks; also each county's full result by county id."""
    from minesafe.evaluation import scoring, services

    sheets = {s.county_id: s for s in services.ScoreSheet.objects.filter(year=quarter.year, quarter=quarter.number)}
    rows, results, memo = [], {}, {}
    for county in services.evaluated_counties():
        sheet = sheets.get(county.pk)
        if sheet is not None and sheet.is_published:
            result, status = sheet.snapshot, services.RankStatus.PUBLISHED
        else:
            result = scoring.compute_sheet(county, quarter, manual=services.manual_map(sheet), today=today, memo=memo)
            status = services.RankStatus.DRAFT
        results[county.pk] = result
        rows.append(services.RankRow(county=county, status=status, total=result["total"],
                                     subtotal=result["subtotal"], deductions=result["deductions"],
                                     scores={i["code"]: i["score"] for i in result["items"]},
                                     flags={f["code"]: f["count"] for f in result["flags"]}))
    return services.assign_ranks(rows), results


def section_ranking(scope: Scope, rows: list, items: list[dict]) -> Section:
    from minesafe.evaluation import scoring, services

    shown = [r for r in rows if scope.county is None or r.county.pk == scope.county.pk]
    table = [[r.rank, r.county.code, str(r.county), str(services.RankStatus(r.status).label),
              *[r.scores.get(i["code"]) for i in items], r.subtotal, r.deductions, r.total] for r in shown]
    columns = [_("Rank"), _("Code"), _("County"), _("Sheet"), *[f"{scoring.label(i)} ({i['max']:g})" for i in items],
               _("Subtotal"), _("Deductions"), _("Total")]
    chart = Chart("bar", _("Total score by county"), 2, [len(columns) - 1], len(table)) if scope.county is None \
        else None
    return Section("ranking", _("Ranking of the counties"), columns, table, _(
        "Each county's quarterly score sheet as the county evaluation computes it (catalogue version %(v)s): a "
        "published sheet as frozen on publication, otherwise the draft computed live from the data up to %(until)s "
        "(manual items not yet scored count 0). Counties ranked by total; equal totals share a rank.") % {
        "v": scoring.catalogue().get("version", ""), "until": scope.until}, chart)


def section_sheets(scope: Scope, results: dict) -> Section:
    from minesafe.evaluation import scoring
    from minesafe.evaluation.views import STATUS_LABELS

    rows = []
    for county in scope.counties:
        result = results.get(county.pk)
        for item in (result or {}).get("items", []):
            counted = f"{item['numerator']:g} / {item['denominator']:g}" if item["denominator"] else ""
            note = " ".join(x for x in (str(STATUS_LABELS.get(item["status"], "")), str(item.get("note") or "")) if x)
            rows.append([str(county), scoring.label(item), counted, item["score"], item["max"], note])
    chart = Chart("bar", _("Item scores against their maxima"), 1, [3, 4], len(rows)) if scope.county else None
    return Section("sheets", _("Score sheets item by item"), [
        _("County"), _("Item"), _("Counted"), _("Score"), _("Maximum"), _("Note")], rows, _(
        "The items of each sheet with what they counted (numerator / denominator over the quarter up to %(until)s, "
        "as the evaluation defines each item) and the score by the catalogue's curve.") % {"until": scope.until},
        chart)


def section_flags(scope: Scope, results: dict) -> Section:
    labels = evaluation_flags()
    rows = []
    for county in scope.counties:
        for flag in (results.get(county.pk) or {}).get("flags", []):
            rows.append([str(county), labels.get(flag["code"], flag["code"]), flag["count"], flag["deduction"]])
    return Section("flags", _("Flags and deductions"), [_("County"), _("Flag"), _("Cases"), _("Deduction")], rows, _(
        "The evaluation's flags in the quarter (no approved plan, zero penalties, reverse accountability 倒查, fatal "
        "accidents) with the points deducted by the catalogue's rules."))


def section_period_ranking(scope: Scope, data: dict) -> Section:
    from minesafe.evaluation import scoring

    labels = evaluation_flags()
    shown = [r for r in data["rows"] if scope.county is None or r.county.pk == scope.county.pk]
    quarters = list(data["quarters"])
    table = [[r.rank, r.county.code, str(r.county), *[r.totals.get(q) for q in quarters], r.average,
              *[r.flags.get(code, 0) for code in labels],
              scoring.label(r.best_item) if r.best_item else "", scoring.label(r.worst_item) if r.worst_item else ""]
             for r in shown]
    columns = [_("Rank"), _("Code"), _("County"), *[_("Q%(n)d total") % {"n": q} for q in quarters], _("Average"),
               *labels.values(), _("Strongest item"), _("Weakest item")]
    published = ", ".join(f"Q{q}: {n}" for q, n in data["published"].items())
    return Section("ranking", _("Ranking of the counties"), columns, table, _(
        "The average of each county's published quarterly score sheets of %(year)d (quarters %(q)s; sheets "
        "published per quarter: %(p)s of %(n)d counties), as the county evaluation aggregates them; a county without "
        "a published sheet is not ranked; flags summed over the sheets; the strongest and weakest item by average "
        "share of the item's maximum.") % {"year": data["year"], "q": ", ".join(map(str, quarters)),
                                            "p": published, "n": data["counties"]},
        Chart("bar", _("Average score by county"), 2, [3 + len(quarters)], len(table)))


def section_period_items(scope: Scope, data: dict) -> Section:
    from minesafe.evaluation import scoring

    if scope.county is None:
        rows = [[scoring.label(item), item["max"], item["average_score"],
                 "、".join(str(e["county"]) for e in item["best"]), "、".join(str(e["county"]) for e in item["worst"])]
                for item in data["items"]]
        columns = [_("Item"), _("Maximum"), _("Average score"), _("Best"), _("Worst")]
    else:
        rows = []
        for item in data["items"]:
            own = item["counties"].get(scope.county.code)
            rows.append([scoring.label(item), item["max"], own["score"] if own else None,
                         f"{own['share'] * 100:.1f}%" if own else None])
        columns = [_("Item"), _("Maximum"), _("Average score of the county"), _("Share of the maximum")]
    return Section("items", _("Items across the counties"), columns, rows, _(
        "Per item of the sheet: the average score over the published sheets of the period — for the city, over "
        "every county's, with the counties of the highest and the lowest average share of the item's maximum; for "
        "a county, over its own."))


# The reports -------------------------------------------------------------------------------------
def _catalogue_versions() -> dict:
    return {name: str(active_catalogue(name).get("version", "")) for name in
            ("evaluation", "plan_kpis", "plan_reporting")}


def _report(kind: str, title: str, scope: Scope, sections: list[Section], generated_at: dt.datetime,
            generated_by: str, summary: list[str]) -> Report:
    parameters = {
        "kind": kind, "period": scope.period.label, "period_start": scope.start.isoformat(),
        "period_end": scope.period.end.isoformat(), "counted_until": scope.until.isoformat(),
        "scope": scope.county.code if scope.county else "city", "scope_name": str(scope.county or _("Whole city")),
        "generated_at": timezone.localtime(generated_at).isoformat(timespec="seconds"),
        "generated_by": generated_by, "language": get_language() or settings.LANGUAGE_CODE,
        "catalogues": _catalogue_versions(), "ledger_grace_days": settings.LEDGER_GRACE_DAYS,
        "sections": [s.key for s in sections],
    }
    return Report(kind=kind, title=title, period=scope.period, until=scope.until, county=scope.county,
                  scope_name=str(scope.county) if scope.county else str(_("Whole city")), generated_at=generated_at,
                  generated_by=generated_by, sections=sections, summary=summary, parameters=parameters)


def _scope(kind: str, period: Period, county: Region | None, today: dt.date | None) -> Scope:
    if period.granularity != GRANULARITY[kind]:
        raise ValidationError({"period": _("give the period as %(f)s") % {"f": FORMATS[GRANULARITY[kind]]}})
    return Scope(period, county, today or timezone.localdate())


def monthly_report(period: Period, county: Region | None = None, *, today: dt.date | None = None,
                   generated_at: dt.datetime | None = None, generated_by: str = "system") -> Report:
    """The monthly statistics (月度统计): registry, hazards, operations, monitoring, personnel, enforcement,
    whistleblower reports, accidents and the plan's progress reports and indicators at the month's end."""
    scope = _scope(K.MONTHLY, period, county, today)
    sections = [section_mines(scope), section_changes(scope), section_hazards(scope), section_operations(scope),
                section_alarms(scope), section_personnel(scope), section_enforcement(scope), section_tipoffs(scope),
                section_accidents(scope), section_progress_reports(scope), section_kpis(scope)]
    title = _("Monthly statistics of the action plan, %(p)s, %(s)s") % {"p": period.label, "s": scope.scope_text}
    return _report(K.MONTHLY, title, scope, sections, generated_at or timezone.now(), generated_by, [])


def quarterly_assessment(period: Period, county: Region | None = None, *, today: dt.date | None = None,
                         generated_at: dt.datetime | None = None, generated_by: str = "system") -> Report:
    """The quarterly assessment of the counties (季度考核): the evaluation's score sheets and ranking, the flags,
    and the plan's indicators at the quarter's end."""
    from minesafe.evaluation import scoring

    scope = _scope(K.QUARTERLY, period, county, today)
    quarter = scoring.Quarter(period.start.year, period.number)
    rows, results = quarter_results(quarter, scope.today)
    items = scoring.catalogue()["items"]
    summary = []
    published = sum(1 for r in rows if r.status == "published")
    summary.append(_("%(p)d of %(n)d county sheets published; the others are drafts computed live up to %(d)s.") % {
        "p": published, "n": len(rows), "d": scope.until})
    if county is not None:
        own = next((r for r in rows if r.county.pk == county.pk), None)
        if own is not None:
            summary.append(_("%(c)s: %(t)s points, rank %(r)s of %(n)d counties.") % {
                "c": county, "t": f"{own.total:g}", "r": own.rank, "n": len(rows)})
    else:
        top = [str(r.county) for r in rows if r.rank == 1]
        if top:
            summary.append(_("First: %(c)s.") % {"c": "、".join(top)})
    sections = [section_ranking(scope, rows, items), section_sheets(scope, results), section_flags(scope, results),
                section_kpis(scope)]
    title = _("Quarterly assessment of the counties, %(p)s, %(s)s") % {"p": period.label, "s": scope.scope_text}
    return _report(K.QUARTERLY, title, scope, sections, generated_at or timezone.now(), generated_by, summary)


def _period_summary(kind: str, period: Period, county: Region | None, today, generated_at, generated_by,
                    title: str, with_tasks: bool) -> Report:
    from minesafe.evaluation import services

    scope = _scope(kind, period, county, today)
    data = services.aggregate(period.start.year, {HALF: "h1" if period.number == 1 else "h2", YEAR: "year"}[
        period.granularity])
    ranked = [r for r in data["rows"] if r.rank is not None]
    summary = [_("Published quarterly sheets in the period: %(p)s.") % {
        "p": ", ".join(f"Q{q} {n}/{data['counties']}" for q, n in data["published"].items())}]
    if county is not None:
        own = next((r for r in data["rows"] if r.county.pk == county.pk), None)
        if own is not None and own.average is not None:
            summary.append(_("%(c)s: average %(a)s points, rank %(r)s of %(n)d ranked counties.") % {
                "c": county, "a": f"{own.average:g}", "r": own.rank, "n": len(ranked)})
    elif ranked:
        summary.append(_("First: %(c)s.") % {"c": "、".join(str(r.county) for r in ranked if r.rank == 1)})
    sections = [section_period_ranking(scope, data), section_period_items(scope, data), section_months(scope),
                section_hazards(scope), section_accidents(scope), section_kpis(scope)]
    if with_tasks:
        sections += [section_tasks(scope), section_progress_reports(scope)]
    return _report(kind, title % {"p": period.label, "s": scope.scope_text}, scope, sections,
                   generated_at or timezone.now(), generated_by, summary)


def half_year_notice(period: Period, county: Region | None = None, *, today: dt.date | None = None,
                     generated_at: dt.datetime | None = None, generated_by: str = "system") -> Report:
    """The half-year notice (半年通报): the counties' average over the half year's published sheets, the items, the
    enforcement month by month, hazards and accidents by county, and the indicators at the end."""
    return _period_summary(K.HALF_YEAR, period, county, today, generated_at, generated_by,
                           _("Half-year notice on the action plan, %(p)s, %(s)s"), with_tasks=False)


def year_end_summary(period: Period, county: Region | None = None, *, today: dt.date | None = None,
                     generated_at: dt.datetime | None = None, generated_by: str = "system") -> Report:
    """The year-end summary (年终总结): the half-year notice's contents over the year, plus the plan's tasks and the
    units' progress reports."""
    return _period_summary(K.YEAR_END, period, county, today, generated_at, generated_by,
                           _("Year-end summary of the action plan, %(p)s, %(s)s"), with_tasks=True)


BUILDERS = {K.MONTHLY: monthly_report, K.QUARTERLY: quarterly_assessment, K.HALF_YEAR: half_year_notice,
            K.YEAR_END: year_end_summary}


def build(kind: str, period: Period, county: Region | None = None, **kwargs) -> Report:
    return BUILDERS[kind](period, county, **kwargs)
