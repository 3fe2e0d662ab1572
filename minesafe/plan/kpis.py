"""The action plan's key indicators computed from the live data, never typed in (issue 9).

`compute(code, as_of, county)` gives one KPI as it stood at the end of `as_of` for the whole city (county None)
or one county: its value, the target in view, whether it is met, what was counted (numerator, denominator and
a sentence to reproduce it), the monthly trend and the mines holding it back. `all_kpis` gives every KPI of the
"plan_kpis" catalogue (reference/kpis.yaml), which holds the plan's targets; the code holds only the rules.

Rules for "as of" (documented once, used by every KPI):
- A mine's status on a day comes from its dated status history (MineStatusChange): the last change effective on
  or before the day; before its first change (its registration) the mine did not exist. Closed mines therefore
  leave every population from their closure on.
- Attributes without a dated history of their own (county, type, scale, standardisation grade and date,
  intelligent-mine level, slope height; a mining team's mode and date) are taken as the registry held them at
  the end of the day: today's values rolled back through the audit log (the `before` of the first change
  recorded after that day). So a mine that moved county or changed type mid-year counts for the county and type
  it had on the day evaluated, and each month of a trend uses that month's values.
- Monthly reports (ledger, self-check) are read for the latest month whose report was due before the day.

Performance: every KPI loads its rows with a few aggregate queries (one per table, all mines at once) and then
evaluates each day of the trend in memory; nothing runs a query per mine."""

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core.models import AuditEvent, Region, User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.registry.models import LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.services import add_months, ledger_due_for_period, month_start

CATALOGUE = "plan_kpis"
S = Mine.Status
T = Mine.Type
SHARE, COUNT, CHANGE = "share", "count", "change"
UP, DOWN = "up", "down"
# Headline states of a KPI against its target in view.
NO_DATA, NO_TARGET, MET, BEHIND, MISSED = "no_data", "no_target", "met", "behind", "missed"
EARLIEST = dt.date(2000, 1, 1)
MINE_HISTORY_FIELDS = ["county_id", "mine_type", "scale_class", "standard_grade", "standard_date",
                       "intelligent_level", "slope_height"]
EPSILON = 1e-9


# The catalogue -----------------------------------------------------------------------------------
def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


def definitions(data: dict | None = None) -> dict[str, dict]:
    """The catalogue's KPIs that this code knows how to compute, by code, in catalogue order."""
    data = catalogue() if data is None else data
    return {k["code"]: k for k in data.get("kpis", []) if k.get("code") in KPI_CLASSES}


def key_county_code() -> str:
    return str(catalogue().get("key_county", "130827"))


def title(spec: dict) -> str:
    zh = (get_language() or "zh-hans").startswith("zh")
    return spec.get("title_zh" if zh else "title_en") or spec.get("title_en") or spec["code"]


def definition_text(spec: dict) -> str:
    zh = (get_language() or "zh-hans").startswith("zh")
    return (spec.get("definition_zh") if zh else None) or spec.get("definition_en", "")


# Small date helpers ------------------------------------------------------------------------------
def _date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return timezone.localdate(value)
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _number(value) -> float | None:
    return None if value is None or value == "" else float(Decimal(str(value)))


def month_end(day: dt.date) -> dt.date:
    return add_months(month_start(day), 1) - dt.timedelta(days=1)


def end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def reported_month(day: dt.date) -> dt.date:
    """The latest month whose monthly report (ledger, self-check) was due before `day`."""
    period = add_months(month_start(day), -1)
    if day <= ledger_due_for_period(period):
        period = add_months(period, -1)
    return period


def trend_days(as_of: dt.date, since: dt.date) -> list[dt.date]:
    """One day per month from `since`'s month to `as_of`'s: each month's last day, `as_of` for its own month."""
    month, last, days = month_start(min(since, as_of)), month_start(as_of), []
    while month <= last:
        days.append(min(month_end(month), as_of))
        month = add_months(month, 1)
    return days


# Histories ---------------------------------------------------------------------------------------
class Rollback:
    """Fields of one model as they stood at the end of a day: today's values, rolled back through the audit
    log (the `before` of the first change recorded after that day). One query for all objects."""

    def __init__(self, object_type: str, fields: list[str], since: dt.date, ids=None):
        self._changes: dict[tuple[int, str], tuple[list[dt.date], list]] = {}
        events = (AuditEvent.objects.filter(object_type=object_type, at__gte=end_of_day(since))
                  .filter(before__has_any_keys=fields).order_by("seq").values_list("object_id", "at", "before"))
        if ids is not None:
            events = events.filter(object_id__in=[str(i) for i in ids])
        found: dict[tuple[int, str], list[tuple[dt.date, object]]] = defaultdict(list)
        for object_id, at, before in events:
            if not str(object_id).isdigit() or not isinstance(before, dict):
                continue
            day = timezone.localdate(at)
            for name in fields:
                if name in before:
                    found[(int(object_id), name)].append((day, before[name]))
        for key, changes in found.items():
            changes.sort(key=lambda c: c[0])  # by day; the chain's order within a day
            self._changes[key] = ([c[0] for c in changes], [c[1] for c in changes])

    def value(self, object_id: int, name: str, day: dt.date, current):
        entry = self._changes.get((object_id, name))
        if entry:
            days, values = entry
            index = bisect.bisect_right(days, day)
            if index < len(days):
                return values[index]
        return current

    def past_values(self, name: str) -> set:
        """Every value `name` held before a change recorded in the window (e.g. former counties)."""
        return {v for (_, n), (_, values) in self._changes.items() if n == name for v in values}

    def objects_with(self, name: str, value) -> set[int]:
        return {i for (i, n), (_, values) in self._changes.items() if n == name and value in values}


class StatusHistory:
    """A mine's status on a day from its dated status changes (None: not registered yet)."""

    def __init__(self, rows, mines: dict[int, dict]):
        self._mines = mines
        self._days: dict[int, list[dt.date]] = defaultdict(list)
        self._new: dict[int, list[str]] = defaultdict(list)
        self._first_old: dict[int, str] = {}
        for mine_id, day, old, new in rows:
            if mine_id not in self._days:
                self._first_old[mine_id] = old
            self._days[mine_id].append(day)
            self._new[mine_id].append(new)

    def on(self, mine_id: int, day: dt.date) -> str | None:
        days = self._days.get(mine_id)
        if not days:  # no history kept: the mine as registered on its creation day
            mine = self._mines.get(mine_id)
            return mine["status"] if mine and mine["created"] <= day else None
        index = bisect.bisect_right(days, day)
        if index:
            return self._new[mine_id][index - 1]
        return self._first_old.get(mine_id) or None

    def registered(self, mine_id: int) -> dt.date | None:
        days = self._days.get(mine_id)
        if days:
            return days[0]
        mine = self._mines.get(mine_id)
        return mine["created"] if mine else None


class Context:
    """What every KPI reads about the mines, loaded once per request (all_kpis shares one context)."""

    def __init__(self, as_of: dt.date, county: Region | None, first_day: dt.date, specs: dict[str, dict]):
        self.as_of = as_of
        self.specs = specs
        self.county = county
        self.first_day = first_day  # the earliest day any KPI is evaluated on
        self.trend_start = first_day  # the first day of the trend (make_context sets it)
        self.days = [as_of]  # every day a KPI will be evaluated on (make_context sets it)
        self.today = timezone.localdate()
        self._objects: dict[int, Mine] = {}
        self._days: dict[dt.date, dict[int, tuple[str, str]]] = {}

    @cached_property
    def mine_history(self) -> Rollback:
        return Rollback("registry.mine", MINE_HISTORY_FIELDS, self.first_day - dt.timedelta(days=1))

    @cached_property
    def candidate_ids(self) -> set[int] | None:
        """Mines that belonged to the county on some day evaluated (None: the whole city)."""
        if self.county is None:
            return None
        now = set(Mine.objects.filter(county=self.county).values_list("pk", flat=True))
        return now | self.mine_history.objects_with("county_id", self.county.pk)

    def mine_q(self, path: str = "mine_id") -> Q:
        return Q() if self.candidate_ids is None else Q(**{f"{path}__in": self.candidate_ids})

    @cached_property
    def mines(self) -> dict[int, dict]:
        rows = Mine.objects.filter(self.mine_q("pk")).order_by("pk").values(
            "id", "code", "status", "design_capacity", "created_at", *MINE_HISTORY_FIELDS)
        out = {}
        for row in rows:
            row["created"] = timezone.localdate(row["created_at"]) if row["created_at"] else dt.date.min
            out[row["id"]] = row
        return out

    @cached_property
    def statuses(self) -> StatusHistory:
        rows = MineStatusChange.objects.filter(self.mine_q()).order_by("mine_id", "effective_date", "id") \
            .values_list("mine_id", "effective_date", "old_status", "new_status")
        return StatusHistory(rows, self.mines)

    def attr(self, mine_id: int, name: str, day: dt.date):
        return self.mine_history.value(mine_id, name, day, self.mines[mine_id][name])

    def in_county(self, mine_id: int, day: dt.date) -> bool:
        if mine_id not in self.mines:
            return False
        return self.county is None or self.attr(mine_id, "county_id", day) == self.county.pk

    def on(self, day: dt.date) -> dict[int, tuple[str, str]]:
        """The mines registered by the end of `day` and in the county on it, each with its (status, type) on
        that day; worked out once per day and shared by every KPI."""
        found = self._days.get(day)
        if found is None:
            found = {}
            for mine_id in self.mines:
                status = self.statuses.on(mine_id, day)
                if status is not None and self.in_county(mine_id, day):
                    found[mine_id] = (status, self.attr(mine_id, "mine_type", day))
            self._days[day] = found
        return found

    def mine_objects(self, ids) -> dict[int, Mine]:
        missing = [i for i in ids if i not in self._objects]
        if missing:
            self._objects.update(Mine.objects.select_related("county").in_bulk(missing))
        return {i: self._objects[i] for i in ids if i in self._objects}


# Results -----------------------------------------------------------------------------------------
class Held(NamedTuple):
    """A mine holding the KPI back, and why."""

    mine: Mine
    reason: str


@dataclass
class Point:
    """A KPI on one day: the value, what it was computed from, and (in detail) the mines holding it back."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    held: list[tuple[int, str, tuple]] = field(default_factory=list)  # (mine id, reason, sort key)
    counted: str = ""


@dataclass(frozen=True)
class TargetValue:
    date: dt.date | None  # None: a standing target, in force every day
    value: float
    value_then: float | None  # the KPI on the target's date once it has come (else None)
    met: bool | None  # met on its date; for a date still ahead, True once met already, else None
    wording: str = ""
    date_is_implied: bool = False


@dataclass
class KpiValue:
    code: str
    title: str
    definition: str
    plan: dict
    unit: str
    direction: str
    confidence: str
    as_of: dt.date
    county: Region | None
    value: float | None
    target: float | None
    target_date: dt.date | None
    met: bool | None
    status: str
    numerator: float | None
    denominator: float | None
    trend: list[tuple[dt.date, float | None]]
    holding_back: list[Held]
    counted: str
    targets: list[TargetValue]


def meets(value: float | None, target: float | None, direction: str) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target + EPSILON if direction == DOWN else value >= target - EPSILON


def share_point(numerator: int, denominator: int, held=None, counted: str = "") -> Point:
    return Point(numerator / denominator if denominator else None, numerator, denominator, held or [], counted)


# The KPIs ----------------------------------------------------------------------------------------
class Kpi:
    """One indicator: `load` reads its rows once; `at` evaluates it on a day, in memory."""

    unit = SHARE

    def __init__(self, spec: dict, ctx: Context):
        self.spec = spec
        self.ctx = ctx

    def load(self) -> None:
        pass

    def at(self, day: dt.date, detail: bool = False) -> Point:
        raise NotImplementedError

    def evaluated_on(self, day: dt.date) -> bool:
        """Whether the KPI can be evaluated on a past day (False leaves a gap in the trend)."""
        return True

    def targets(self) -> list[tuple[dt.date | None, float, dict]]:
        if self.ctx.county is not None and self.spec.get("county_targets", True) is False:
            return []
        return [(_date(t.get("date")), float(t["value"]), t) for t in self.spec.get("targets", [])]

    def mine_types(self, default) -> set[str]:
        return set(self.spec.get("mine_types") or default)


class PeopleUnderground(Kpi):
    """Goal 2: people underground in producing underground mines against the same mines' 2023 average."""

    unit = CHANGE

    def load(self):
        self.year = int(self.spec.get("baseline_year", 2023))
        rows = (LedgerSubmission.objects.filter(self.ctx.mine_q(), status=S.PRODUCING, people_underground__isnull=False,
                                                period__gte=dt.date(self.year, 1, 1), period__lte=self.ctx.as_of)
                .order_by().values_list("mine_id", "period", "people_underground"))
        base: dict[int, list[int]] = defaultdict(list)
        self.by_period: dict[dt.date, dict[int, int]] = defaultdict(dict)
        for mine_id, period, people in rows:
            if period.year == self.year:
                base[mine_id].append(people)
            self.by_period[period][mine_id] = people
        self.baseline = {m: sum(v) / len(v) for m, v in base.items()}
        self.threshold = next((v for _, v, _ in reversed(self.targets())), -0.10)

    def at(self, day, detail=False):
        period = reported_month(day)
        cohort, without = [], 0
        for mine_id, people in self.by_period.get(period, {}).items():
            if not self.ctx.in_county(mine_id, day):
                continue
            if mine_id in self.baseline:
                cohort.append((mine_id, people, self.baseline[mine_id]))
            else:
                without += 1
        now, base = sum(c[1] for c in cohort), sum(c[2] for c in cohort)
        point = Point(now / base - 1 if base else None, now, round(base, 1))
        if detail:
            for mine_id, people, mine_base in cohort:
                change = people / mine_base - 1 if mine_base else 0.0
                if change > self.threshold + EPSILON:
                    point.held.append((mine_id, _(
                        "%(now)d people underground in %(month)s against a %(year)d average of %(base).1f "
                        "(%(change)+.1f%%)") % {"now": people, "month": f"{period:%Y-%m}", "year": self.year,
                                                "base": mine_base, "change": change * 100},
                        (-(people - mine_base),)))
            point.counted = _(
                "Ledger month %(month)s: %(n)d underground mines that reported producing with a headcount and "
                "have a producing %(year)d ledger; %(now)d people now against %(base).1f on the same mines' "
                "%(year)d monthly average. %(without)d producing mines without a %(year)d baseline were not "
                "counted.") % {"month": f"{period:%Y-%m}", "n": len(cohort), "year": self.year, "now": now,
                               "base": base, "without": without}
        return point


class IntelligentMines(Kpi):
    """Goal 2: intelligent mines built (mines not closed at a level counted as built)."""

    unit = COUNT

    def at(self, day, detail=False):
        levels = set(self.spec.get("levels_counted") or ["intermediate", "advanced"])
        built, population, point = 0, 0, Point(None)
        for mine_id, (status, _kind) in self.ctx.on(day).items():
            if status == S.CLOSED:
                continue
            population += 1
            level = self.ctx.attr(mine_id, "intelligent_level", day) or Mine.IntelligentLevel.NONE
            if level in levels:
                built += 1
            elif detail and level != Mine.IntelligentLevel.NONE:
                point.held.append((mine_id, _("intelligent-mine level %(level)s: in progress, not yet counted as "
                                              "built") % {"level": _label(Mine.IntelligentLevel, level)}, ()))
        point.value = float(built) if population else None
        point.numerator = built
        if detail:
            point.counted = _("%(built)d of %(n)d registered mines not closed have an intelligent-mine level "
                              "counted as built (%(levels)s).") % {
                "built": built, "n": population,
                "levels": ", ".join(_label(Mine.IntelligentLevel, v) for v in sorted(levels))}
        return point


class LargeMediumShare(Kpi):
    """Goal 3: the share of large and medium mines among metal and non-metal mines."""

    def at(self, day, detail=False):
        types = self.mine_types([T.UNDERGROUND, T.OPEN_PIT, T.QUARRY])
        total, large, held = 0, 0, []
        for mine_id, (status, kind) in self.ctx.on(day).items():
            if status == S.CLOSED or kind not in types:
                continue
            total += 1
            scale = self.ctx.attr(mine_id, "scale_class", day)
            if scale in (Mine.Scale.LARGE, Mine.Scale.MEDIUM):
                large += 1
            elif detail:
                capacity = self.ctx.mines[mine_id]["design_capacity"]
                reason = _("small scale") if scale else _("scale not classified")
                if capacity is not None:
                    reason += _(" (design capacity %(c)s ×10k t/a)") % {"c": f"{capacity.normalize():f}"}
                held.append((mine_id, reason, (-(capacity or 0),)))
        point = share_point(large, total, held)
        if detail:
            point.counted = _("%(large)d large or medium of %(n)d registered mines not closed of the types "
                              "%(types)s.") % {"large": large, "n": total,
                                               "types": ", ".join(_label(T, t) for t in sorted(types))}
        return point


class PondsClosed(Kpi):
    """Task 16: tailings ponds closed under their closure plans, cumulatively."""

    unit = COUNT

    def load(self):
        from minesafe.operations.models import PondClosurePlan

        self.plans = list(PondClosurePlan.objects.filter(self.ctx.mine_q("pond_id")).order_by("pk").values_list(
            "pond_id", "target_year", "status", "closed_on", "works_started_on"))

    def _plans_on(self, day):
        return [p for p in self.plans if self.ctx.in_county(p[0], day)]

    def targets(self):
        if self.ctx.county is None:
            return super().targets()
        # A county's own targets: its closure plans targeting each of the plan's years or earlier.
        plans = self._plans_on(self.ctx.as_of)
        out = []
        for day, _value, spec in Kpi.targets(self):
            count = sum(1 for p in plans if day is not None and p[1] <= day.year)
            if count:
                out.append((day, float(count), spec | {"wording": _("the county's closure plans")}))
        return out

    def at(self, day, detail=False):
        plans = self._plans_on(day)
        closed = [p for p in plans if p[2] == "closed" and p[3] and p[3] <= day]
        point = Point(float(len(closed)) if plans else None, len(closed), len(plans))
        if detail:
            in_view = next((d for d, _v, _s in sorted(self.targets(), key=lambda t: t[0]) if d >= day), None)
            year = in_view.year if in_view else day.year
            for pond_id, target_year, status, closed_on, started in plans:
                if target_year > year or (status == "closed" and closed_on and closed_on <= day):
                    continue
                state = _("closure works in progress since %(d)s") % {"d": started} if started and started <= day \
                    else _("closure works not started")
                late = target_year < day.year
                point.held.append((pond_id, _("closure planned for %(year)d: %(state)s%(late)s") % {
                    "year": target_year, "state": state, "late": _(" (overdue)") if late else ""},
                    (target_year,)))
            point.counted = _("%(closed)d of %(n)d ponds with a closure plan accepted as closed by %(day)s.") % {
                "closed": len(closed), "n": len(plans), "day": day}
        return point


class Standardisation(Kpi):
    """Task 23: producing mines at standardisation grade 3 or better."""

    def at(self, day, detail=False):
        types = self.mine_types([T.UNDERGROUND, T.OPEN_PIT, T.QUARRY, T.TAILINGS_POND])
        total, graded, held = 0, 0, []
        for mine_id, (status, kind) in self.ctx.on(day).items():
            if status != S.PRODUCING or kind not in types:
                continue
            total += 1
            grade = self.ctx.attr(mine_id, "standard_grade", day)
            since = _date(self.ctx.attr(mine_id, "standard_date", day))
            if grade in (1, 2, 3) and (since is None or since <= day):
                graded += 1
            elif detail:
                reason = _("graded only from %(d)s") % {"d": since} if grade in (1, 2, 3) \
                    else _("no standardisation grade")
                held.append((mine_id, reason, ()))
        point = share_point(graded, total, held)
        if detail:
            point.counted = _("%(graded)d of %(n)d producing mines of the types %(types)s hold a standardisation "
                              "grade 1-3 in force.") % {"graded": graded, "n": total,
                                                        "types": ", ".join(_label(T, t) for t in sorted(types))}
        return point


class OwnTeams(Kpi):
    """Task 22: producing mines whose mining is done by an own team or under whole-mine management."""

    def load(self):
        from minesafe.personnel.models import MiningTeam

        self.teams = {mine_id: (pk, mode, since) for pk, mine_id, mode, since in MiningTeam.objects.filter(
            self.ctx.mine_q()).values_list("pk", "mine_id", "mode", "since")}
        self.history = Rollback("personnel.miningteam", ["mode", "since"], self.ctx.first_day - dt.timedelta(days=1),
                                ids=[t[0] for t in self.teams.values()] if self.ctx.county is not None else None)

    def at(self, day, detail=False):
        from minesafe.personnel.activities import MINING_TYPES, QUALIFYING_MODES
        from minesafe.personnel.models import MiningTeam

        types = self.mine_types(MINING_TYPES)
        total, qualifying, held = 0, 0, []
        for mine_id, (status, kind) in self.ctx.on(day).items():
            if status != S.PRODUCING or kind not in types:
                continue
            total += 1
            team = self.teams.get(mine_id)
            mode = since = None
            if team:
                mode = self.history.value(team[0], "mode", day, team[1])
                since = _date(self.history.value(team[0], "since", day, team[2]))
            if mode in QUALIFYING_MODES and since and since <= day:
                qualifying += 1
            elif detail:
                if mode is None or (since and since > day):
                    reason = _("no statement of how its mining is staffed")
                else:
                    reason = _label(MiningTeam.Mode, mode)
                held.append((mine_id, reason, ()))
        point = share_point(qualifying, total, held)
        if detail:
            point.counted = _("%(q)d of %(n)d producing underground, open-pit and quarry mines state an own "
                              "mining team or whole-mine management in force.") % {"q": qualifying, "n": total}
        return point


class _Sensors(Kpi):
    def load(self):
        from minesafe.monitoring import services as monitoring
        from minesafe.monitoring.models import Sensor

        self.settings = monitoring.catalogue()
        self.sensors = []
        for pk, mine_id, interval, created, heard in Sensor.objects.filter(
                self.ctx.mine_q(), active=True, source__isnull=True).order_by("pk").values_list(
                "pk", "mine_id", "interval_s", "created_at", "last_received_at"):
            self.sensors.append((pk, mine_id, interval, timezone.localdate(created) if created else dt.date.min,
                                 heard))
        self.first = min((s[3] for s in self.sensors), default=None)


class MonitoringConnected(_Sensors):
    """Task 17: mines required to send sensing data that are connected (应联尽联)."""

    def evaluated_on(self, day):
        # Before the first sensor was registered the platform knew nothing of connections: a gap, not 0 %.
        return self.first is not None and day >= self.first

    def required(self, mine_id, day, status, kind) -> bool:
        if status not in (S.PRODUCING, S.CONSTRUCTION):
            return False
        if kind in (T.TAILINGS_POND, T.UNDERGROUND):
            return True
        slope = _number(self.ctx.attr(mine_id, "slope_height", day))
        return kind == T.OPEN_PIT and slope is not None and slope >= float(
            self.settings.get("networking_slope_height_m", 150))

    def at(self, day, detail=False):
        sensors: dict[int, int] = defaultdict(int)
        reporting: dict[int, int] = defaultdict(int)
        for _pk, mine_id, _interval, created, heard in self.sensors:
            if created <= day:
                sensors[mine_id] += 1
                reporting[mine_id] += heard is not None
        total, connected, held = 0, 0, []
        for mine_id, (status, kind) in self.ctx.on(day).items():
            if not self.required(mine_id, day, status, kind):
                continue
            total += 1
            if reporting[mine_id]:
                connected += 1
            elif detail:
                held.append((mine_id, _("active sensors have never sent data") if sensors[mine_id]
                             else _("no active sensor registered"), ()))
        point = share_point(connected, total, held)
        if detail:
            point.counted = _("%(c)d of %(n)d mines that must send sensing data (ponds and underground mines, open "
                              "pits with a slope of %(h)s m or more, producing or under construction) have an "
                              "active measured sensor registered by %(day)s whose data reached the platform.") % {
                "c": connected, "n": total, "h": self.settings.get("networking_slope_height_m", 150), "day": day}
        return point


class MonitoringOnline(_Sensors):
    """Task 17: the online rate of active measured sensors (在线率)."""

    def evaluated_on(self, day):
        return self.first is not None and day >= self.first

    def at(self, day, detail=False):
        from minesafe.monitoring import services as monitoring

        sensors = [s for s in self.sensors if s[3] <= day and self.ctx.in_county(s[1], day)]
        if not sensors:
            return Point(None, 0, 0, counted=_("No active measured sensor was registered by %(day)s.") % {
                "day": day} if detail else "")
        per_mine: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # mine -> [sensors, online]
        if day == self.ctx.today:  # the monitoring app's own online rate, from each sensor's last receipt
            rates = monitoring.online_rates(Mine.objects.filter(pk__in={s[1] for s in sensors}))
            for row in rates["mines"]:
                per_mine[row.key.pk] = [row.sensors, row.online]
        else:  # the latest reading kept before the end of that day, within the sensor's no-data window
            from minesafe.monitoring.models import Reading, Sensor

            intervals = int(self.settings.get("defaults", {}).get("no_data_intervals", 3))
            end = end_of_day(day)
            window = dt.timedelta(seconds=max(s[2] for s in sensors) * intervals)
            last = Reading.objects.filter(sensor_id=OuterRef("pk"), ts__lte=end, ts__gt=end - window) \
                .order_by("-ts").values("ts")[:1]
            heard = dict(Sensor.objects.filter(self.ctx.mine_q(), active=True, source__isnull=True,
                                               created_at__lt=end).annotate(last=Subquery(last))
                         .values_list("pk", "last"))
            for pk, mine_id, interval, _created, _heard in sensors:
                at = heard.get(pk)
                per_mine[mine_id][0] += 1
                per_mine[mine_id][1] += bool(at and end - at <= dt.timedelta(seconds=interval * intervals))
        total = sum(v[0] for v in per_mine.values())
        online = sum(v[1] for v in per_mine.values())
        held = [(m, _("%(off)d of %(n)d sensors silent") % {"off": n - on, "n": n}, (-(n - on),))
                for m, (n, on) in per_mine.items() if on < n] if detail else []
        point = share_point(online, total, held)
        if detail:
            point.counted = _("%(on)d of %(n)d active measured sensors heard within their no-data window at the "
                              "end of %(day)s.") % {"on": online, "n": total, "day": day}
        return point


class TrainingCoverage(Kpi):
    """Tasks 1-2: principal heads and five-chief holders with their annual safety training."""

    def load(self):
        from minesafe.personnel import common
        from minesafe.personnel.models import Appointment, TrainingRecord
        from minesafe.personnel.training import PRINCIPAL_POST, counts_q

        posts = [PRINCIPAL_POST, *common.five_post_codes()]
        self.labels = {code: common.label(p) for code, p in common.posts().items()}
        K = TrainingRecord.Kind
        self.kinds = (K.PRINCIPAL_ANNUAL, K.CHIEF_ANNUAL)
        # (person's ID number, training kind owed, mine, post, from, until); `until` None: still in post.
        self.appointments = [
            (id_number, K.PRINCIPAL_ANNUAL if post == PRINCIPAL_POST else K.CHIEF_ANNUAL, mine_id, post, start,
             end or dt.date.max)
            for id_number, mine_id, post, start, end in Appointment.objects.filter(
                self.ctx.mine_q(), post__in=posts, start_date__lte=self.ctx.as_of).filter(
                Q(end_date__isnull=True) | Q(end_date__gte=self.ctx.first_day)).order_by("pk").values_list(
                "person__id_number", "mine_id", "post", "start_date", "end_date")]
        self.trained: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
        for id_number, kind, held_on in TrainingRecord.objects.filter(
                counts_q(), person__isnull=False, kind__in=self.kinds, held_on__lte=self.ctx.as_of,
                held_on__gt=add_months(self.ctx.first_day, -12)).order_by("held_on").values_list(
                "person__id_number", "kind", "held_on"):
            self.trained[(id_number, kind)].append(held_on)

    def at(self, day, detail=False):
        since = add_months(day, -12)
        mines = self.ctx.on(day)
        obligations: dict[tuple[str, str], tuple[int, list[str]]] = {}
        for id_number, kind, mine_id, post, start, end in self.appointments:
            if start <= day <= end and mine_id in mines and mines[mine_id][0] != S.CLOSED:
                obligations.setdefault((id_number, kind), (mine_id, []))[1].append(post)
        trained, missing = 0, defaultdict(list)
        for key, (mine_id, posts) in obligations.items():
            dates = self.trained.get(key, [])
            index = bisect.bisect_right(dates, day)
            if index and dates[index - 1] > since:
                trained += 1
            else:
                missing[mine_id] += posts
        held = [(m, _("key-post holders without annual training in the 12 months: %(posts)s") % {
            "posts": ", ".join(self.labels.get(p, p) for p in posts)}, (-len(posts),))
            for m, posts in missing.items()] if detail else []
        point = share_point(trained, len(obligations), held)
        if detail:
            point.counted = _("%(t)d of %(n)d principal heads and five-chief holders (at mines not closed on "
                              "%(day)s) passed their annual training between %(since)s and %(day)s.") % {
                "t": trained, "n": len(obligations), "day": day, "since": since + dt.timedelta(days=1)}
        return point


class DrillsOnTime(Kpi):
    """Task 4: mines whose evacuation drill is not overdue (every 6 months)."""

    def load(self):
        from minesafe.personnel.activities import drill_interval_months
        from minesafe.personnel.models import Drill

        self.months = drill_interval_months()
        self.drills: dict[int, list[dt.date]] = defaultdict(list)
        for mine_id, held_on in Drill.objects.filter(self.ctx.mine_q(), kind=Drill.Kind.EVACUATION,
                                                     held_on__lte=self.ctx.as_of).order_by("held_on") \
                .values_list("mine_id", "held_on"):
            self.drills[mine_id].append(held_on)

    def at(self, day, detail=False):
        total, on_time, held = 0, 0, []
        for mine_id, (status, _kind) in self.ctx.on(day).items():
            if status not in (S.PRODUCING, S.CONSTRUCTION):
                continue
            total += 1
            dates = self.drills.get(mine_id, [])
            index = bisect.bisect_right(dates, day)
            last = dates[index - 1] if index else None
            base = last or self.ctx.statuses.registered(mine_id)
            due = add_months(base, self.months) if base else None
            if due is None or due >= day:
                on_time += 1
            elif detail:
                reason = _("last evacuation drill %(last)s, next was due %(due)s") % {"last": last, "due": due} \
                    if last else _("no evacuation drill since registration; the first was due %(due)s") % {
                        "due": due}
                held.append((mine_id, reason, (due,)))
        point = share_point(on_time, total, held)
        if detail:
            point.counted = _("%(ok)d of %(n)d mines producing or under construction on %(day)s held an evacuation "
                              "drill within the last %(m)d months (or were registered within them).") % {
                "ok": on_time, "n": total, "day": day, "m": self.months}
        return point


class HazardsOnTime(Kpi):
    """Task 6: major hazards due in the last 12 months that were closed (销号) by their deadline."""

    def load(self):
        from minesafe.hazards.models import Hazard

        self.hazards = [(mine_id, deadline, timezone.localdate(closed) if closed else None)
                        for mine_id, deadline, closed in Hazard.objects.filter(
                            self.ctx.mine_q(), deadline__isnull=False, deadline__lte=self.ctx.as_of,
                            deadline__gt=add_months(self.ctx.first_day, -12))
                        .exclude(status=Hazard.Status.CANCELLED).order_by("pk")
                        .values_list("mine_id", "deadline", "closed_at")]

    def at(self, day, detail=False):
        since = add_months(day, -12)
        due = on_time = 0
        late: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # mine -> [due, late, still open]
        for mine_id, deadline, closed in self.hazards:
            if not (since < deadline <= day) or not self.ctx.in_county(mine_id, day):
                continue
            due += 1
            late[mine_id][0] += 1
            if closed and closed <= deadline:
                on_time += 1
            else:
                late[mine_id][1] += 1
                late[mine_id][2] += closed is None or closed > day
        held = [(m, _("%(late)d of %(due)d hazards due in the 12 months not closed by their deadline (%(open)d "
                      "still open)") % {"late": v[1], "due": v[0], "open": v[2]}, (-v[1], -v[2]))
                for m, v in late.items() if v[1]] if detail else []
        point = share_point(on_time, due, held)
        if detail:
            point.counted = _("%(ok)d of %(n)d major hazards (not cancelled) with a deadline between %(since)s and "
                              "%(day)s were closed on or before it.") % {
                "ok": on_time, "n": due, "since": since + dt.timedelta(days=1), "day": day}
        return point


class SelfChecks(Kpi):
    """Task 5: producing mines with the monthly major-hazard self-check."""

    def load(self):
        from minesafe.hazards.models import SelfCheck

        self.filed = set(SelfCheck.objects.filter(
            self.ctx.mine_q(), period__in={reported_month(d) for d in self.ctx.days}).values_list("mine_id",
                                                                                                  "period"))

    def at(self, day, detail=False):
        types = self.mine_types([T.UNDERGROUND, T.OPEN_PIT, T.QUARRY, T.TAILINGS_POND])
        period = reported_month(day)
        end = month_end(period)
        total, filed, held = 0, 0, []
        then = self.ctx.on(end)
        for mine_id in self.ctx.on(day):
            status, kind = then.get(mine_id, (None, None))
            if status != S.PRODUCING or kind not in types:
                continue
            total += 1
            if (mine_id, period) in self.filed:
                filed += 1
            elif detail:
                held.append((mine_id, _("no self-check for %(month)s") % {"month": f"{period:%Y-%m}"}, ()))
        point = share_point(filed, total, held)
        if detail:
            point.counted = _("%(ok)d of %(n)d mines producing at the end of %(month)s filed that month's "
                              "major-hazard self-check.") % {"ok": filed, "n": total, "month": f"{period:%Y-%m}"}
        return point


class LedgerOnTime(Kpi):
    """Task 8: mines whose monthly ledger was submitted by its due date."""

    def load(self):
        self.filed = {(mine_id, period): timezone.localdate(at) for mine_id, period, at in
                      LedgerSubmission.objects.filter(
                          self.ctx.mine_q(), period__in={reported_month(d) for d in self.ctx.days})
                      .values_list("mine_id", "period", "submitted_at")}

    def at(self, day, detail=False):
        period = reported_month(day)
        end, due = month_end(period), ledger_due_for_period(period)
        total, on_time, held = 0, 0, []
        then = self.ctx.on(end)
        for mine_id in self.ctx.on(day):
            if then.get(mine_id, (S.CLOSED,))[0] == S.CLOSED:
                continue
            total += 1
            filed = self.filed.get((mine_id, period))
            if filed and filed <= due:
                on_time += 1
            elif detail:
                reason = _("ledger for %(month)s submitted %(filed)s, due %(due)s") % {
                    "month": f"{period:%Y-%m}", "filed": filed, "due": due} if filed and filed <= day \
                    else _("no ledger for %(month)s (due %(due)s)") % {"month": f"{period:%Y-%m}", "due": due}
                held.append((mine_id, reason, ()))
        point = share_point(on_time, total, held)
        if detail:
            point.counted = _("%(ok)d of %(n)d mines registered and not closed at the end of %(month)s submitted "
                              "that month's ledger by %(due)s.") % {"ok": on_time, "n": total,
                                                                    "month": f"{period:%Y-%m}", "due": due}
        return point


KPI_CLASSES: dict[str, type[Kpi]] = {
    "people_underground": PeopleUnderground,
    "intelligent_mines": IntelligentMines,
    "large_medium_share": LargeMediumShare,
    "ponds_closed": PondsClosed,
    "standardisation": Standardisation,
    "own_teams": OwnTeams,
    "monitoring_connected": MonitoringConnected,
    "monitoring_online": MonitoringOnline,
    "training_coverage": TrainingCoverage,
    "drills_on_time": DrillsOnTime,
    "hazards_on_time": HazardsOnTime,
    "self_checks": SelfChecks,
    "ledger_on_time": LedgerOnTime,
}


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


# Who reads which figures ---------------------------------------------------------------------------
def may_read(user) -> bool:
    """The KPIs are for the regulators: the city bureau (any county) and the counties (their own)."""
    return is_city(user) or bool(user and user.is_authenticated and user.is_active
                                 and user.role == User.Role.COUNTY and user.organisation_id)


def readable_county(user, code: str = "") -> Region | None:
    """The county whose figures `user` asked for (None: the whole city). The city reads the city and every
    county; a county reads only its own (another county is 404, as if it did not exist); nobody else any."""
    if not may_read(user):
        raise PermissionDenied(_("the plan's indicators are for the city bureau and the counties"))
    code = (code or "").strip()
    if is_city(user):
        if not code:
            return None
        region = Region.objects.filter(code=code).exclude(kind=Region.Kind.CITY).first()
        if region is None:
            raise ValidationError({"county": _("no county-level unit has the code %(c)s") % {"c": code[:12]}})
        return region
    own = user.organisation.region
    if code and code != own.code:
        raise Http404
    return own


def parse_as_of(text: str) -> dt.date:
    """`as_of` from a query string: blank is today; otherwise YYYY-MM-DD, not in the future."""
    text = (text or "").strip()
    if not text:
        return timezone.localdate()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError({"as_of": _("give a date as YYYY-MM-DD")}) from exc
    return check_as_of(day)


# Entry points ------------------------------------------------------------------------------------
def check_as_of(as_of: dt.date) -> dt.date:
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ValidationError({"as_of": _("give a date")})
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": _("cannot be in the future")})
    if as_of < EARLIEST:
        raise ValidationError({"as_of": _("cannot be before %(d)s") % {"d": EARLIEST}})
    return as_of


def _county(county: Region | None) -> Region | None:
    return None if county is None or county.kind == Region.Kind.CITY else county


def make_context(as_of: dt.date, county: Region | None, with_trend: bool = True) -> Context:
    """The shared loads for `as_of`, reaching back to the first month of the trend (or, without the trend, to
    the earliest target date already come, on which the KPI is evaluated too)."""
    data = catalogue()
    specs = definitions(data)
    trend_start = trend_days(as_of, _date(data.get("trend_from")) or as_of)[0]
    dates = [_date(t.get("date")) for spec in specs.values() for t in spec.get("targets", [])]
    first = min([trend_start if with_trend else as_of, *[d for d in dates if d and d <= as_of]])
    ctx = Context(as_of, _county(county), first, specs)
    ctx.trend_start = trend_start
    ctx.days = sorted({as_of, *(trend_days(as_of, trend_start) if with_trend else []),
                       *[d for d in dates if d and d <= as_of]})
    return ctx


def compute(kpi_code: str, as_of: dt.date, county: Region | None = None, *, context: Context | None = None,
            with_trend: bool = True) -> KpiValue:
    """One KPI at the end of `as_of`, for the city (county None) or one county."""
    check_as_of(as_of)
    ctx = context or make_context(as_of, county, with_trend)
    spec = ctx.specs.get(kpi_code)
    if spec is None:
        raise ValidationError({"kpi": _("unknown indicator %(c)s") % {"c": kpi_code}})
    kpi = KPI_CLASSES[kpi_code](spec, ctx)
    kpi.load()
    now = kpi.at(as_of, detail=True)
    direction = spec.get("direction", UP)

    trend = []
    if with_trend:
        for day in trend_days(as_of, ctx.trend_start):
            value = now.value if day == as_of else (kpi.at(day).value if kpi.evaluated_on(day) else None)
            trend.append((month_start(day), value))

    targets = []
    for day, value, raw in sorted(kpi.targets(), key=lambda t: (t[0] is not None, t[0] or EARLIEST)):
        if day is None:
            then, met = None, meets(now.value, value, direction)
        elif day <= as_of:
            then = kpi.at(day).value if kpi.evaluated_on(day) else None
            met = meets(then, value, direction)
        else:
            then, met = None, (True if meets(now.value, value, direction) else None)
        targets.append(TargetValue(day, value, then, met, raw.get("wording", ""), bool(raw.get("date_is_implied"))))
    in_view = next((t for t in targets if t.date is None), None) or \
        next((t for t in targets if t.date >= as_of), None) or (targets[-1] if targets else None)
    met = meets(now.value, in_view.value if in_view else None, direction)
    if now.value is None:
        status = NO_DATA
    elif in_view is None:
        status = NO_TARGET
    elif met:
        status = MET
    elif in_view.date is None or in_view.date <= as_of:
        status = MISSED
    else:
        status = BEHIND

    ordered = sorted(now.held, key=lambda h: (h[2], ctx.mines.get(h[0], {}).get("code", "")))
    objects = ctx.mine_objects([h[0] for h in ordered])
    held = [Held(objects[h[0]], h[1]) for h in ordered if h[0] in objects]
    return KpiValue(
        code=kpi_code, title=title(spec), definition=definition_text(spec), plan=dict(spec.get("plan") or {}),
        unit=spec.get("unit", kpi.unit), direction=direction, confidence=spec.get("confidence", "unverified"),
        as_of=as_of, county=ctx.county, value=now.value, target=in_view.value if in_view else None,
        target_date=in_view.date if in_view else None, met=met, status=status, numerator=now.numerator,
        denominator=now.denominator, trend=trend, holding_back=held, counted=now.counted or _("No data."),
        targets=targets)


def all_kpis(as_of: dt.date, county: Region | None = None, *, with_trend: bool = True) -> list[KpiValue]:
    """Every KPI of the catalogue at the end of `as_of`, sharing one load of the mines and their history."""
    check_as_of(as_of)
    ctx = make_context(as_of, county, with_trend)
    return [compute(code, as_of, county, context=ctx, with_trend=with_trend) for code in ctx.specs]
