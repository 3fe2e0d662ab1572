"""The per-mine risk score (issue 9, part 5): open major hazards, alarms, signs of production while suspended,
personnel non-compliance, enforcement history and the mine's type, scale and pond grade, explained item by item,
used to rank mines and to prioritise inspection plans (plans.visits_for adds the band's extra visits).

A factor counts facts for many mines at once, in a fixed number of queries (never one per mine), and returns per
mine its points and the facts counted; the weights, windows, caps and band edges are the versioned catalogue
`enforcement_risk` (reference/risk.yaml). Facts are plain JSON-ready dicts (`{"fact": kind, …}`) rendered in words
by `describe_fact` in the reader's language, so a score stored with a plan entry reads in Chinese and English.

Higher apps add factors with `register_factor` (the penalties app registers penalty history: enforcement must not
import penalties). A factor the catalogue has no section for is not scored.

Windows end on `as_of` (both ends included); the states counted (open, overdue, vacant, expired) are today's.
Nothing here changes state.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db import models
from django.db.models import Count, Q, QuerySet
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.hazards.models import Hazard
from minesafe.inspections import documents
from minesafe.inspections.models import Document, Finding, Inspection
from minesafe.monitoring.models import Alarm, Level, ProductionFlag
from minesafe.monitoring.queries import overdue_q
from minesafe.personnel import certificates, common, people
from minesafe.personnel.models import Appointment, Certificate, Person
from minesafe.registry.models import Mine

from .models import GRADE_ORDER, Accident, AccidentGrade, FollowUpTask

CATALOGUE = "enforcement_risk"
SUSPENDED_STATUSES = (Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED)


class RiskBand(models.TextChoices):
    LOW = "low", pgettext_lazy("risk band", "Low")
    MEDIUM = "medium", pgettext_lazy("risk band", "Medium")
    HIGH = "high", pgettext_lazy("risk band", "High")
    MAJOR = "major", pgettext_lazy("risk band", "Major")


BAND_ORDER = [RiskBand.LOW, RiskBand.MEDIUM, RiskBand.HIGH, RiskBand.MAJOR]
BAND_COLOURS = {RiskBand.LOW: "blue", RiskBand.MEDIUM: "yellow", RiskBand.HIGH: "orange", RiskBand.MAJOR: "red"}


def band_label(band: str) -> str:
    return str(RiskBand(band).label) if band in RiskBand.values else band


def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


# Scores ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Points:
    """What a factor found at one mine: its points before the cap and the facts counted (each fact may carry the
    `points` it adds; a lone fact without them is given the factor's)."""

    points: int
    facts: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class RiskItem:
    code: str  # the factor
    mine_id: int
    points: int
    facts: tuple[dict, ...]

    @property
    def label(self) -> str:
        factor = FACTORS.get(self.code)
        return str(factor.label) if factor else self.code

    @property
    def texts(self) -> list[str]:
        return [describe_fact(f) for f in self.facts]

    @property
    def text(self) -> str:
        return ", ".join(self.texts)

    @property
    def lines(self) -> list[dict]:
        """Each fact in words with its points and the page showing it, when it has one: [{"text", "url", "points"}]."""
        return [{"text": describe_fact(f), "url": f.get("url", ""), "points": f.get("points")} for f in self.facts]

    @property
    def link(self) -> str:
        """Where the facts live (a page of the app that owns them)."""
        factor = FACTORS.get(self.code)
        return factor.link(self.mine_id) if factor and factor.link else ""

    def as_json(self) -> dict:
        return {"code": self.code, "points": self.points, "facts": [dict(f) for f in self.facts]}


@dataclass(frozen=True)
class RiskScore:
    mine_id: int
    as_of: dt.date
    total: int
    band: str
    items: tuple[RiskItem, ...]  # the factors that scored, most points first
    version: str

    @property
    def colour(self) -> str:
        return BAND_COLOURS.get(self.band, "blue")

    @property
    def band_label(self) -> str:
        return band_label(self.band)

    def top(self, n: int = 3) -> tuple[RiskItem, ...]:
        return self.items[:n]

    def as_json(self) -> dict:
        """The score as plain JSON (what a plan entry's reason keeps)."""
        return {"score": self.total, "band": self.band, "version": self.version, "as_of": self.as_of.isoformat(),
                "items": [i.as_json() for i in self.items]}


# Factors and their words -------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    code: str
    label: str
    compute: Callable[[list[Mine], dt.date, dict], dict[int, Points]]
    link: Callable[[int], str] | None = None


FACTORS: dict[str, Factor] = {}
FACT_TEXTS: dict[str, Callable[[dict], str]] = {}


def register_factor(code: str, func: Callable[[list[Mine], dt.date, dict], dict[int, Points]], *, label,
                    facts: dict[str, Callable[[dict], str]] | None = None,
                    link: Callable[[int], str] | None = None) -> None:
    """Add (or replace) a factor: `func(mines, as_of, config)` returns {mine id: Points} for the mines it found
    anything at, in a fixed number of queries; `config` is the factor's section of the catalogue. `facts` renders
    each fact kind the factor emits; `link(mine_id)` is the page where its facts live."""
    FACTORS[code] = Factor(code, label, func, link)
    FACT_TEXTS.update(facts or {})


def describe_fact(fact: dict) -> str:
    """One fact in words (the current language)."""
    render = FACT_TEXTS.get(fact.get("fact", ""))
    try:
        return render(fact) if render else str(fact)
    except (KeyError, TypeError, ValueError):  # a fact stored by an older version of a factor
        return str(fact)


def describe_items(items: list[dict]) -> str:
    """Items as stored (`RiskItem.as_json`, e.g. in a plan entry's reason) in words, most points first."""
    parts = []
    for item in items:
        factor = FACTORS.get(item.get("code", ""))
        facts = ", ".join(describe_fact(f) for f in item.get("facts") or [])
        parts.append(f"{factor.label if factor else item.get('code', '')} {item.get('points', 0)}"
                     + (f" ({facts})" if facts else ""))
    return "; ".join(parts)


def factor_labels() -> list[tuple[str, str]]:
    return [(code, str(f.label)) for code, f in FACTORS.items()]


def window(as_of: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The days counted: from `days` before `as_of` to `as_of`, both included."""
    return as_of - dt.timedelta(days=days), as_of


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def window_text(days: int) -> str:
    return _("the last 12 months") if days in (365, 366) else _("the last %(d)d days") % {"d": days}


_URLS: dict[tuple[str, str], str] = {}


def url_for(name: str, pk: int | None = None) -> str:
    """`reverse(name, args=[pk])`, the pattern resolved once per name (a score builds links for many mines)."""
    key = (get_script_prefix(), name)
    if key not in _URLS:
        _URLS[key] = reverse(name) if pk is None else reverse(name, args=[987654321]).replace("987654321", "{}")
    return _URLS[key] if pk is None else _URLS[key].format(pk)


def weight(config: dict, name: str) -> int:
    return int(config.get(name, 0) or 0)


def ids_of(mines: list[Mine]) -> list[int]:
    return [m.pk for m in mines]


# Open major hazards ------------------------------------------------------------------------------
def hazard_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    ids = ids_of(mines)
    overdue = dict(Hazard.objects.overdue(as_of).filter(mine_id__in=ids).order_by().values("mine_id")
                   .annotate(n=Count("pk")).values_list("mine_id", "n"))
    result = {}
    for row in Hazard.objects.open().filter(mine_id__in=ids).order_by().values("mine_id").annotate(
            n=Count("pk"), repeat=Count("pk", filter=Q(is_repeat=True))):
        late = overdue.get(row["mine_id"], 0)
        points = (row["n"] * weight(config, "open") + late * weight(config, "overdue")
                  + row["repeat"] * weight(config, "repeat"))
        result[row["mine_id"]] = Points(points, [{"fact": "hazards", "open": row["n"], "overdue": late,
                                                  "repeat": row["repeat"]}])
    return result


def _hazards_text(fact: dict) -> str:
    parts = [_("%(n)d open major hazard(s)") % {"n": fact["open"]}]
    if fact.get("overdue"):
        parts.append(_("%(n)d overdue") % {"n": fact["overdue"]})
    if fact.get("repeat"):
        parts.append(_("%(n)d repeat offence(s) (屡改屡犯)") % {"n": fact["repeat"]})
    return ", ".join(parts)


# Alarms ------------------------------------------------------------------------------------------
LEVEL_NAMES = {Level.BLUE: "blue", Level.YELLOW: "yellow", Level.ORANGE: "orange", Level.RED: "red"}


def alarm_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    days = int(config.get("window_days", 90))
    since, until = window(as_of, days)
    end = day_start(until + dt.timedelta(days=1))
    cutoff = min(timezone.now(), end)
    late = Q(tier__in=[Alarm.Tier.COUNTY, Alarm.Tier.CITY]) | (Q(closed_at__isnull=True) & overdue_q(cutoff))
    counts = {name: Count("pk", filter=Q(max_level=int(level))) for level, name in LEVEL_NAMES.items()}
    rows = (Alarm.objects.filter(mine_id__in=ids_of(mines), opened_at__gte=day_start(since), opened_at__lt=end)
            .order_by().values("mine_id").annotate(n=Count("pk"), late=Count("pk", filter=late), **counts))
    levels = config.get("levels") or {}
    result = {}
    for row in rows:
        by_level = {name: row[name] for name in LEVEL_NAMES.values() if row[name]}
        points = sum(n * int(levels.get(name, 0)) for name, n in by_level.items()) + row["late"] * weight(
            config, "late")
        result[row["mine_id"]] = Points(points, [{"fact": "alarms", "n": row["n"], "days": days, "levels": by_level,
                                                  "late": row["late"]}])
    return result


def _alarms_text(fact: dict) -> str:
    parts = [_("%(n)d alarm(s) in %(w)s") % {"n": fact["n"], "w": window_text(fact["days"])}]
    for level, name in reversed(LEVEL_NAMES.items()):
        if fact["levels"].get(name):
            parts.append(f"{fact['levels'][name]} {Level(level).label}")
    if fact.get("late"):
        parts.append(_("%(n)d not answered in time (叫应/回应)") % {"n": fact["late"]})
    return ", ".join(parts)


# Signs of production while suspended, orders to suspend -------------------------------------------
SIGNAL_WORDS = {ProductionFlag.Signal.ELECTRICITY: gettext_lazy("electricity"),
                ProductionFlag.Signal.HEADCOUNT: gettext_lazy("people underground"),
                ProductionFlag.Signal.EXPLOSIVES: gettext_lazy("explosives")}


def suspension_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    ids = ids_of(mines)
    status = {m.pk: m.status for m in mines}
    days = int(config.get("window_days", 365))
    since, until = window(as_of, days)
    start, end = day_start(since), day_start(until + dt.timedelta(days=1))
    found: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    flags = ProductionFlag.objects.filter(mine_id__in=ids).filter(
        Q(status=ProductionFlag.Status.OPEN)
        | Q(status=ProductionFlag.Status.CONFIRMED, closed_at__gte=start, closed_at__lt=end)).order_by(
        "detected_at", "pk").values_list("mine_id", "pk", "signal", "status", "detected_at", "closed_at")
    for mine_id, pk, signal, state, detected, closed in flags:
        url = url_for("monitoring:flag", pk)
        if state == ProductionFlag.Status.OPEN:
            found[mine_id].append((weight(config, "open_flag"), {
                "fact": "production_flag", "signal": signal, "on": timezone.localdate(detected).isoformat(),
                "suspended": status[mine_id] in SUSPENDED_STATUSES, "url": url}))
        else:
            found[mine_id].append((weight(config, "confirmed_flag"), {
                "fact": "production_confirmed", "signal": signal, "on": timezone.localdate(closed).isoformat(),
                "url": url}))
    orders = FollowUpTask.objects.open().filter(mine_id__in=ids, kind=FollowUpTask.Kind.SUSPEND_MINE).order_by(
        "due_on", "pk").values_list("mine_id", "due_on", "accident__occurred_at")
    for mine_id, due, occurred in orders:
        found[mine_id].append((weight(config, "open_order"), {
            "fact": "suspension_ordered", "due": due.isoformat(),
            "accident": timezone.localdate(occurred).isoformat() if occurred else "",
            "url": url_for("enforcement:task-list")}))
    suspend = {"suspend_production", dict(documents.measure_choices()).get("suspend_production", "")} - {""}
    decisions = Document.objects.filter(kind=Document.Kind.ONSITE_DECISION, inspection__mine_id__in=ids,
                                        issued_at__gte=start, issued_at__lt=end).order_by("issued_at", "pk") \
        .values_list("inspection__mine_id", "inspection_id", "number", "issued_at", "content")
    for mine_id, inspection_id, number, issued, content in decisions:
        measures = (content or {}).get("measures") or []
        if suspend & set(measures):
            found[mine_id].append((weight(config, "onsite_order"), {
                "fact": "onsite_suspension", "number": number, "on": timezone.localdate(issued).isoformat(),
                "url": url_for("inspections:detail", inspection_id)}))
    return sum_facts(found)


def sum_facts(found: dict[int, list[tuple[int, dict]]]) -> dict[int, Points]:
    """Per mine, facts that each carry their own points: the sum, and each fact with its `points`."""
    return {mine_id: Points(sum(p for p, _f in rows), [{**f, "points": p} for p, f in rows])
            for mine_id, rows in found.items()}


def _signal(fact: dict) -> str:
    return str(SIGNAL_WORDS.get(fact["signal"], fact["signal"]))


def _flag_text(fact: dict) -> str:
    if fact.get("suspended"):
        return _("suspended but %(signal)s flagged %(d)s") % {"signal": _signal(fact), "d": fact["on"]}
    return _("%(signal)s flagged %(d)s, not yet checked") % {"signal": _signal(fact), "d": fact["on"]}


def _confirmed_text(fact: dict) -> str:
    return _("production during the suspension confirmed %(d)s (%(signal)s)") % {"d": fact["on"],
                                                                               "signal": _signal(fact)}


def _ordered_text(fact: dict) -> str:
    if fact.get("accident"):
        return _("ordered suspended after the accident of %(a)s, not done (due %(d)s)") % {
            "a": fact["accident"], "d": fact["due"]}
    return _("ordered suspended, not done (due %(d)s)") % {"d": fact["due"]}


def _onsite_text(fact: dict) -> str:
    return _("on-site decision %(no)s of %(d)s ordered production suspended") % {"no": fact["number"],
                                                                                  "d": fact["on"]}


# Personnel ---------------------------------------------------------------------------------------
def personnel_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    ids = ids_of(mines)
    rule_set = people.rules()
    five = rule_set.five_posts()
    expected = {m.pk for m in mines if m.status in set(config.get("statuses") or [])
                and m.mine_type in set(config.get("five_posts_for") or [])}
    ruled = [code for code in rule_set.posts if rule_set.rule_for(code) is not None]
    current = Appointment.objects.filter(people.current_q(as_of), mine_id__in=ids, person__active=True)
    staffed = set(current.order_by().values_list("mine_id", flat=True).distinct())
    held: dict[int, set[str]] = defaultdict(set)
    unqualified: dict[int, int] = defaultdict(int)
    holders = current.filter(post__in=set(five) | set(ruled)).values_list(
        "mine_id", "post", "start_date", "person__education", "person__core_specialty", "person__specialty",
        "person__frontline_years")
    for mine_id, post, start, *qualifications in holders:
        appointment = HolderRow(mine_id, post, start, PersonRow(*qualifications))
        held[appointment.mine_id].add(appointment.post)
        if appointment.post in ruled and people.holder_status(appointment, as_of, rule_set).overdue:
            unqualified[appointment.mine_id] += 1
    changes = people.chief_changes(ids, as_of, rule_set)
    expired, review, unlicensed = certificate_counts(mines, as_of)

    found: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for mine_id in ids:
        facts = found[mine_id]
        if mine_id in expected and mine_id not in staffed:
            facts.append((weight(config, "no_ledger"), {
                "fact": "no_ledger", "url": url_for("personnel:people-mine", mine_id)}))
        elif mine_id in expected and (vacant := [p for p in five if p not in held[mine_id]]):
            facts.append((len(vacant) * weight(config, "vacant_post"), {"fact": "vacant_posts", "posts": [
                {k: v for k, v in rule_set.posts[p].items() if k in ("code", "zh", "en")} for p in vacant],
                "url": url_for("personnel:people-mine", mine_id)}))
        if unqualified.get(mine_id):
            facts.append((unqualified[mine_id] * weight(config, "unqualified_overdue"), {
                "fact": "unqualified", "n": unqualified[mine_id], "url": url_for("personnel:people-compliance")}))
        if changes.get(mine_id, 0) > rule_set.frequent_more_than:
            facts.append((weight(config, "frequent_changes"), {
                "fact": "frequent_changes", "n": changes[mine_id], "months": rule_set.frequent_within_months}))
        for key, counts in (("expired_certificate", expired), ("review_overdue", review),
                            ("unlicensed", unlicensed)):
            if counts.get(mine_id):
                facts.append((counts[mine_id] * weight(config, key), {
                    "fact": key, "n": counts[mine_id],
                    "url": url_for("personnel:certificate-mine", mine_id)}))
    return sum_facts({mine_id: facts for mine_id, facts in found.items() if facts})


class PersonRow(NamedTuple):
    """What the personnel app's qualification rules read of a person (people.qualification_gaps)."""

    education: str
    core_specialty: bool
    specialty: str
    frontline_years: Decimal


class HolderRow(NamedTuple):
    """What people.holder_status reads of an appointment: plain rows instead of model instances, for speed."""

    mine_id: int
    post: str
    start_date: dt.date
    person: PersonRow


class CertificateRow(NamedTuple):
    """What certificates.certificate_state and latest_per_category read of a certificate."""

    pk: int
    person_id: int
    mine_id: int
    category: str
    issued_on: dt.date
    expires_on: dt.date
    last_review_on: dt.date | None
    extended_review: bool
    revoked: bool


def certificate_counts(mines: list[Mine], as_of: dt.date) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Per mine that is not closed, of its working people: the latest certificates per category expired, those
    with the review overdue (as the expiry dashboard counts them), and the special operations done without a valid
    certificate (任职无证) as `certificates.unlicensed_work` judges them, here on plain rows of many mines at once
    (the same states, in three queries instead of model instances per person)."""
    working = [m.pk for m in mines if m.status != Mine.Status.CLOSED]
    limits = certificates.rules()
    certs = [CertificateRow(*row) for row in Certificate.objects.filter(
        person__mine_id__in=working, person__active=True).values_list(*CertificateRow._fields[:2], "person__mine_id",
                                                                     *CertificateRow._fields[3:])]
    states = {c.pk: certificates.certificate_state(c, as_of, limits=limits).state for c in certs}
    expired: dict[int, int] = defaultdict(int)
    review: dict[int, int] = defaultdict(int)
    for cert in certificates.latest_per_category(certs):
        if states[cert.pk] == certificates.State.EXPIRED:
            expired[cert.mine_id] += 1
        elif states[cert.pk] == certificates.State.REVIEW_OVERDUE:
            review[cert.mine_id] += 1
    held: dict[tuple[int, str], set[str]] = defaultdict(set)
    for cert in certs:
        held[(cert.person_id, cert.category)].add(states[cert.pk])
    categories = common.operation_categories()
    unlicensed: dict[int, int] = defaultdict(int)
    workers = Person.objects.filter(mine_id__in=working, active=True).exclude(assigned_operations=[]) \
        .values_list("pk", "mine_id", "assigned_operations")
    for person_id, mine_id, operations in workers:
        for operation in dict.fromkeys(str(o) for o in (operations if isinstance(operations, list) else [])):
            if operation not in categories or not held[(person_id, operation)] & certificates.LICENSING_STATES:
                unlicensed[mine_id] += 1
    return expired, review, unlicensed


def _post_names(fact: dict) -> str:
    return ", ".join(common.label(p) for p in fact["posts"])


# Inspection findings -----------------------------------------------------------------------------
def finding_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    days = int(config.get("window_days", 365))
    since, until = window(as_of, days)
    overdue = Q(status=Finding.Status.OPEN, major=False, deadline__lt=as_of)
    rows = (Finding.objects.filter(inspection__mine_id__in=ids_of(mines), inspection__inspected_on__gte=since,
                                   inspection__inspected_on__lte=until)
            .exclude(inspection__status=Inspection.Status.CANCELLED).order_by().values("inspection__mine_id")
            .annotate(n=Count("pk"), n_major=Count("pk", filter=Q(major=True)), n_overdue=Count("pk", filter=overdue)))
    result = {}
    for row in rows:
        points = (row["n"] * weight(config, "finding") + row["n_major"] * weight(config, "major")
                  + row["n_overdue"] * weight(config, "overdue"))
        result[row["inspection__mine_id"]] = Points(points, [{
            "fact": "findings", "n": row["n"], "major": row["n_major"], "overdue": row["n_overdue"], "days": days}])
    return result


def _findings_text(fact: dict) -> str:
    parts = [_("%(n)d finding(s) in %(w)s") % {"n": fact["n"], "w": window_text(fact["days"])}]
    if fact.get("major"):
        parts.append(_("%(n)d major") % {"n": fact["major"]})
    if fact.get("overdue"):
        parts.append(_("%(n)d open past the deadline") % {"n": fact["overdue"]})
    return ", ".join(parts)


# Accidents ---------------------------------------------------------------------------------------
LARGER_OR_ABOVE = set(GRADE_ORDER[GRADE_ORDER.index(AccidentGrade.LARGER):])


def accident_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    days = int(config.get("window_days", 365))
    since, until = window(as_of, days)
    rows = Accident.objects.filter(mine_id__in=ids_of(mines), occurred_at__gte=day_start(since),
                                   occurred_at__lt=day_start(until + dt.timedelta(days=1))).order_by(
        "occurred_at", "pk").values_list("mine_id", "pk", "occurred_at", "is_near_miss", "deaths", "grade")
    found: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for mine_id, pk, occurred, near_miss, deaths, grade in rows:
        if near_miss:
            kind = "near_miss"
        elif grade in LARGER_OR_ABOVE:
            kind = "larger_or_above"
        else:
            kind = "fatal" if deaths else "accident"
        found[mine_id].append((weight(config, kind), {
            "fact": "accident", "kind": kind, "on": timezone.localdate(occurred).isoformat(), "deaths": deaths,
            "grade": grade, "url": url_for("enforcement:accident-detail", pk)}))
    return sum_facts(found)


def _accident_text(fact: dict) -> str:
    if fact["kind"] == "near_miss":
        return _("near miss %(d)s") % {"d": fact["on"]}
    if fact["kind"] == "larger_or_above":
        text = _("%(grade)s accident %(d)s") % {"grade": AccidentGrade(fact["grade"]).label, "d": fact["on"]}
        return text + (_(", %(n)d dead") % {"n": fact["deaths"]} if fact.get("deaths") else "")
    if fact["kind"] == "fatal":
        return _("fatal accident %(d)s, %(n)d dead") % {"d": fact["on"], "n": fact["deaths"]}
    return _("accident %(d)s") % {"d": fact["on"]}


# The mine itself ---------------------------------------------------------------------------------
def profile_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    types, scales = config.get("type") or {}, config.get("scale") or {}
    grades = {str(k): v for k, v in (config.get("pond_grade") or {}).items()}
    result = {}
    for mine in mines:
        if mine.status == Mine.Status.CLOSED:
            continue
        points = int(types.get(mine.mine_type, 0)) + int(scales.get(mine.scale_class, 0))
        fact = {"fact": "profile", "type": mine.mine_type, "scale": mine.scale_class or ""}
        if mine.is_tailings_pond:
            if mine.pond_grade:
                points += int(grades.get(str(mine.pond_grade), 0))
                fact["grade"] = mine.pond_grade
            if mine.is_head_pond:
                points += weight(config, "head_pond")
                fact["head_pond"] = True
        result[mine.pk] = Points(points, [fact])
    return result


def _profile_text(fact: dict) -> str:
    parts = [str(Mine.Type(fact["type"]).label) if fact["type"] in Mine.Type.values else fact["type"]]
    if fact.get("scale") in Mine.Scale.values:
        parts.append(_("%(s)s scale") % {"s": str(Mine.Scale(fact["scale"]).label).lower()})
    if fact.get("grade"):
        parts.append(_("grade %(g)s") % {"g": fact["grade"]})
    if fact.get("head_pond"):
        parts.append(_("head pond (头顶库)"))
    return ", ".join(parts)


register_factor("hazards", hazard_factor, label=gettext_lazy("Open major hazards"),
                facts={"hazards": _hazards_text},
                link=lambda mine_id: f"{url_for('hazards:list')}?mine={mine_id}")
register_factor("alarms", alarm_factor, label=gettext_lazy("Monitoring alarms"), facts={"alarms": _alarms_text},
                link=lambda mine_id: f"{url_for('monitoring:alarms')}?mine={mine_id}")
register_factor("suspension", suspension_factor, label=gettext_lazy("Suspension signals"),
                facts={"production_flag": _flag_text, "production_confirmed": _confirmed_text,
                       "suspension_ordered": _ordered_text, "onsite_suspension": _onsite_text},
                link=lambda mine_id: url_for("monitoring:watch"))
register_factor("personnel", personnel_factor, label=gettext_lazy("Personnel non-compliance"), facts={
    "no_ledger": lambda f: _("no key-post holder recorded"),
    "vacant_posts": lambda f: _("no %(posts)s in post") % {"posts": _post_names(f)},
    "unqualified": lambda f: _("%(n)d key-post holder(s) short of the qualification rules past the deadline") % {
        "n": f["n"]},
    "frequent_changes": lambda f: _("%(n)d changes of the five mine chiefs in %(m)d months") % {
        "n": f["n"], "m": f["months"]},
    "expired_certificate": lambda f: _("%(n)d certificate(s) expired") % {"n": f["n"]},
    "review_overdue": lambda f: _("%(n)d certificate review(s) overdue") % {"n": f["n"]},
    "unlicensed": lambda f: _("%(n)d special operation(s) without a valid certificate") % {"n": f["n"]},
}, link=lambda mine_id: url_for("personnel:people-mine", mine_id))
register_factor("findings", finding_factor, label=gettext_lazy("Inspection findings"),
                facts={"findings": _findings_text},
                link=lambda mine_id: url_for("inspections:mine", mine_id))
register_factor("accidents", accident_factor, label=gettext_lazy("Accidents"), facts={"accident": _accident_text},
                link=lambda mine_id: url_for("enforcement:accident-list"))
register_factor("profile", profile_factor, label=gettext_lazy("Type, scale and pond"), facts={"profile": _profile_text},
                link=lambda mine_id: url_for("registry:mine-detail", mine_id))
FACT_TEXTS["capped"] = lambda f: _("counted up to %(max)d points (%(raw)d in all)") % {"max": f["max"],
                                                                                     "raw": f["raw"]}


# Scoring -----------------------------------------------------------------------------------------
def bands(cat: dict | None = None) -> list[tuple[str, int]]:
    """(band, lowest score) highest first, from the catalogue."""
    cat = cat or catalogue()
    rows = [(str(b["code"]), int(b["min"])) for b in cat.get("bands") or [] if b.get("code") in RiskBand.values]
    return sorted(rows, key=lambda r: r[1], reverse=True)


def band_for(total: int, edges: list[tuple[str, int]]) -> str:
    for code, minimum in edges:
        if total >= minimum:
            return code
    return RiskBand.LOW


def score_mines(mines: Iterable[Mine], as_of: dt.date | None = None) -> dict[int, RiskScore]:
    """The risk score of each mine, computed for all of them at once: a fixed number of queries whatever their
    number (each factor's own few, and the catalogues)."""
    as_of = as_of or timezone.localdate()
    mines = list(mines)
    if not mines:
        return {}
    cat = catalogue()
    configs = cat.get("factors") or {}
    version = str(cat.get("version", ""))
    found: dict[int, list[RiskItem]] = {m.pk: [] for m in mines}
    order = {code: i for i, code in enumerate(FACTORS)}
    for code, factor in FACTORS.items():
        config = configs.get(code)
        if not isinstance(config, dict):
            continue
        cap = weight(config, "max")
        for mine_id, got in factor.compute(mines, as_of, config).items():
            points, facts = got.points, list(got.facts)
            if len(facts) == 1 and "points" not in facts[0]:
                facts = [{**facts[0], "points": points}]
            if cap and points > cap:
                facts.append({"fact": "capped", "max": cap, "raw": points, "points": cap - points})
                points = cap
            if points > 0:
                found[mine_id].append(RiskItem(code, mine_id, points, tuple(facts)))
    edges = bands(cat)
    scores = {}
    for mine_id, items in found.items():
        items.sort(key=lambda i: (-i.points, order[i.code]))
        total = sum(i.points for i in items)
        scores[mine_id] = RiskScore(mine_id, as_of, total, band_for(total, edges), tuple(items), version)
    return scores


def score_of(mine: Mine, as_of: dt.date | None = None) -> RiskScore:
    return score_mines([mine], as_of)[mine.pk]


SCORED_FIELDS = ["id", "code", "mine_type", "status", "scale_class", "pond_grade", "is_head_pond"]


def risk_summary(mines, as_of: dt.date | None = None) -> dict[int, str]:
    """mine id -> band, for colouring a map (the dashboard): the same bulk computation on the few mine fields it
    reads (`mines` a queryset, e.g. `Mine.objects.visible_to(user)`)."""
    if isinstance(mines, QuerySet):
        mines = mines.only(*SCORED_FIELDS)
    return {mine_id: score.band for mine_id, score in score_mines(mines, as_of).items()}


def ranked(scores: dict[int, RiskScore], mines: Iterable[Mine]) -> list[tuple[Mine, RiskScore]]:
    """The mines with their scores, highest first (then by code)."""
    rows = [(m, scores[m.pk]) for m in mines if m.pk in scores]
    rows.sort(key=lambda r: (-r[1].total, r[0].code))
    return rows


# Reading the ranking -----------------------------------------------------------------------------
def may_read(user) -> bool:
    """The ranking is for officials: the city and the counties. It shows signs of hidden production, so never
    the enterprise; departments and inspectors have their own lists."""
    return bool(user and user.is_authenticated and user.is_active) and (is_city(user) or user.role == User.Role.COUNTY)


def scoped_mines(user):
    """The mines the reader ranks: those in scope, closed ones aside (nothing left to inspect)."""
    return Mine.objects.visible_to(user).exclude(status=Mine.Status.CLOSED).select_related("county")


@dataclass
class Ranking:
    rows: list[tuple[Mine, RiskScore]]  # after every filter, highest first
    band_counts: dict[str, int]  # per band, highest band first, before the band filter


def ranking(user, *, county: str = "", mine_type: str = "", band: str = "", as_of: dt.date | None = None) -> Ranking:
    """The reader's mines ranked by risk, filtered by county code, type and band."""
    mines = scoped_mines(user)
    if county:
        mines = mines.filter(county__code=county)
    if mine_type in Mine.Type.values:
        mines = mines.filter(mine_type=mine_type)
    mines = list(mines)
    rows = ranked(score_mines(mines, as_of), mines)
    counts = {b.value: 0 for b in reversed(BAND_ORDER)}
    for _mine, score in rows:
        counts[score.band] = counts.get(score.band, 0) + 1
    if band in RiskBand.values:
        rows = [r for r in rows if r[1].band == band]
    return Ranking(rows, counts)


def plan_extras(kind: str, cat: dict | None = None) -> dict[str, int] | None:
    """Extra visits a year by band for a kind of plan ("county" or "city"); None when the catalogue has none."""
    extras = ((cat or catalogue()).get("plan_visits") or {}).get(kind)
    return {str(k): int(v) for k, v in extras.items()} if isinstance(extras, dict) else None
