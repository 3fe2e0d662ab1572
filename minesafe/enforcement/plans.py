"""Annual inspection plans (年度执法检查计划, plan tasks 25 and 27): one plan per inspecting body (a county
government or the city bureau) and year, its entries (mine, visits a year, methods), the experts and technical
inspectors joining it, and progress against it.

States: draft -> submitted -> approved by the city, or returned with a reason and resubmitted (TRANSITIONS).
Entries change freely in a draft or a returned plan; an approved plan changes only by an amendment with a reason
(PlanAmendment), never silently. A county plans its own county's mines; the city plans any mine and alone may put
another county's mine into a county's plan, as cross-county enforcement (交叉执法).

Frequencies come from data (reference/plans.yaml): `visits_for(mine, rules)` and `methods_for(...)` return
their numbers with the reasons, item by item; `propose_entries` builds a draft from the ledger with them, riskiest
mines first, and the officer edits it before submitting. The risk score (risk.py, issue 9) adds its band's extra
visits (reference/risk.yaml `plan_visits`) with a reason carrying the score and its items.

Every change checks permission, validates, changes state, audits and notifies in one transaction.
"""

import calendar
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Inspection, Method
from minesafe.monitoring.models import Gateway
from minesafe.registry.models import Mine

from . import risk
from .models import Accident, InspectionPlan, PlanAmendment, PlanEntry, PlanExpert
from .risk import RiskScore

S = InspectionPlan.Status
CATALOGUE = "enforcement_plans"
MAX_VISITS = 52  # more than weekly visits to one mine is a typing error
BODY_KINDS = (Organisation.Kind.CITY_BUREAU, Organisation.Kind.COUNTY)
SUSPENDED_STATUSES = (Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED)
ENTRY_FIELDS = ["visits_per_year", "methods", "method_minimums", "note"]

# The plan's state machine: (from, to) -> who may make the move. "owner": the body's own staff (or the city,
# which acts for any body); "city": the city bureau only.
OWNER, CITY = "owner", "city"
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.SUBMITTED): OWNER,
    (S.RETURNED, S.SUBMITTED): OWNER,
    (S.SUBMITTED, S.APPROVED): CITY,
    (S.SUBMITTED, S.RETURNED): CITY,
}


def catalogue() -> dict:
    return active_catalogue(CATALOGUE)


def frequency_rules(organisation: Organisation, cat: dict | None = None) -> dict:
    """The frequency rule set for a body: the city's selective one or the counties' full one, with the risk
    catalogue's extra visits by band (`risk_band_extra`) unless the plans catalogue sets its own."""
    cat = cat or catalogue()
    kind = "city" if organisation.kind == Organisation.Kind.CITY_BUREAU else "county"
    rules = dict(cat["frequency"][kind])
    if "risk_band_extra" not in rules and (extras := risk.plan_extras(kind)) is not None:
        rules["risk_band_extra"] = extras
    return rules


# Bodies and permissions --------------------------------------------------------------------------
def inspecting_bodies():
    """The bodies that make inspection plans: the city bureau and each county government."""
    return Organisation.objects.filter(kind__in=BODY_KINDS).select_related("region").order_by("kind", "region__code")


def city_bureau() -> Organisation | None:
    return Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU).order_by("pk").first()


def is_body_staff(user, organisation: Organisation) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.organisation_id == organisation.pk
                and user.role in (User.Role.CITY, User.Role.COUNTY))


def may_plan_for(user, organisation: Organisation) -> bool:
    """May create and edit the body's plans: its own staff, or the city for any body."""
    if organisation.kind not in BODY_KINDS:
        return False
    return is_city(user) or is_body_staff(user, organisation)


def may_edit(user, plan: InspectionPlan) -> bool:
    return may_plan_for(user, plan.organisation)


def allowed_moves(user, plan: InspectionPlan) -> list[str]:
    """The statuses this user may move the plan to now."""
    moves = []
    for (frm, to), who in TRANSITIONS.items():
        if frm == plan.status and (is_city(user) if who == CITY else may_edit(user, plan)):
            moves.append(to)
    return moves


def is_foreign(plan: InspectionPlan, mine: Mine) -> bool:
    """A mine of another county in a county's plan (cross-county enforcement)."""
    return plan.organisation.kind == Organisation.Kind.COUNTY and mine.county_id != plan.organisation.region_id


def plan_link(plan: InspectionPlan) -> str:
    return reverse("enforcement:plan-detail", args=[plan.pk])


def clean_text(errors: dict, name: str, value, required: str | None, max_length: int | None = None) -> str:
    value = "" if value is None else str(value).strip()
    if not value and required:
        errors[name] = required
    elif max_length and len(value) > max_length:
        errors[name] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Frequency rules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MineFacts:
    """What the rules look at beyond the registry row: open major hazards, accident dates, last monitoring data,
    and the risk score (a summary of facts, so not part of the comparison)."""

    as_of: dt.date
    open_hazards: int = 0
    accident_days: tuple[dt.date, ...] = ()
    last_data_at: dt.datetime | None = None
    risk: RiskScore | None = field(default=None, compare=False)


def collect_facts(mines, as_of: dt.date | None = None) -> dict[int, MineFacts]:
    """The facts of many mines in a fixed number of queries: three, and the risk score's (attached by
    `propose_entries` as `mine.plan_facts`)."""
    as_of = as_of or timezone.localdate()
    mines = list(mines)
    ids = [m.pk for m in mines]
    hazards = dict(Hazard.objects.open().filter(mine_id__in=ids).values("mine_id").annotate(n=Count("pk"))
                   .values_list("mine_id", "n"))
    accidents: dict[int, list[dt.date]] = defaultdict(list)
    for mine_id, at in Accident.objects.filter(mine_id__in=ids, is_near_miss=False).values_list("mine_id",
                                                                                               "occurred_at"):
        accidents[mine_id].append(timezone.localtime(at).date())
    seen: dict[int, dt.datetime] = {}
    for mine_id, at in Gateway.objects.filter(mine_id__in=ids, active=True, last_seen_at__isnull=False).values_list(
            "mine_id", "last_seen_at"):
        seen[mine_id] = max(at, seen.get(mine_id, at))
    scores = risk.score_mines(mines, as_of)
    return {i: MineFacts(as_of, hazards.get(i, 0), tuple(sorted(accidents.get(i, ()))), seen.get(i), scores.get(i))
            for i in ids}


def facts_of(mine: Mine, as_of: dt.date | None = None) -> MineFacts:
    facts = getattr(mine, "plan_facts", None)
    return facts if facts is not None else collect_facts([mine], as_of)[mine.pk]


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def visits_for(mine: Mine, rules: dict) -> tuple[int, list[dict]]:
    """Visits a year for the mine under one frequency rule set, and why, item by item (see `describe_reason`).

    The boundary issue 9's risk score replaces: it reads the mine (and `facts_of(mine)`), never the database
    beyond that."""
    if mine.status == Mine.Status.CLOSED:
        return 0, [{"rule": "closed", "add": 0}]
    facts = facts_of(mine)
    reasons: list[dict] = []
    base = int((rules.get("base") or {}).get(mine.mine_type, {}).get(mine.status, 0))
    if base:
        reasons.append({"rule": "base", "add": base, "type": mine.mine_type, "status": mine.status})
    visits = base
    if mine.is_tailings_pond and mine.pond_grade:
        extra = int((rules.get("tailings_grade_extra") or {}).get(str(mine.pond_grade), 0))
        if extra:
            reasons.append({"rule": "pond_grade", "add": extra, "grade": mine.pond_grade})
            visits += extra
    if mine.is_tailings_pond and mine.is_head_pond and int(rules.get("head_pond_extra", 0)):
        extra = int(rules["head_pond_extra"])
        reasons.append({"rule": "head_pond", "add": extra})
        visits += extra
    hazard_rule = rules.get("open_major_hazards") or {}
    if hazard_rule.get("extra") and facts.open_hazards >= int(hazard_rule.get("min_count", 1)):
        reasons.append({"rule": "open_hazards", "add": int(hazard_rule["extra"]), "count": facts.open_hazards})
        visits += int(hazard_rule["extra"])
    accident_rule = rules.get("recent_accident") or {}
    if accident_rule.get("extra"):
        months = int(accident_rule.get("months", 12))
        since = _months_before(facts.as_of, months)
        recent = [d for d in facts.accident_days if since <= d <= facts.as_of]
        if recent:
            reasons.append({"rule": "recent_accident", "add": int(accident_rule["extra"]), "count": len(recent),
                            "months": months, "last": recent[-1].isoformat()})
            visits += int(accident_rule["extra"])
    band_extra = rules.get("risk_band_extra")
    if isinstance(band_extra, dict) and facts.risk is not None:
        extra = int(band_extra.get(facts.risk.band, 0))
        reasons.append(risk_reason(facts.risk, extra))
        visits += extra
    cap = int(rules.get("max_visits", MAX_VISITS))
    if visits > cap:
        reasons.append({"rule": "cap", "add": cap - visits, "max": cap})
        visits = cap
    return visits, reasons


def risk_reason(score: RiskScore, add: int) -> dict:
    """The risk reason of a frequency: the band's extra visits with the score and its items (plain JSON, stable
    from one day to the next while the facts stay the same, so proposing again changes nothing)."""
    data = score.as_json()
    return {"rule": "risk", "add": add, "score": data["score"], "band": data["band"], "version": data["version"],
            "items": data["items"]}


def entry_risk(entry: PlanEntry) -> int | None:
    """The risk score an entry was proposed with (its risk reason), None without one: lists of entries sort by it,
    highest first."""
    return next((r.get("score") for r in entry.reasons or [] if r.get("rule") == "risk"), None)


def risk_of(mine: Mine) -> int:
    """The risk score attached to the mine's facts (0 without one): the proposal's order."""
    facts = getattr(mine, "plan_facts", None)
    return facts.risk.total if facts is not None and facts.risk is not None else 0


def is_connected(mine: Mine, method_rules: dict) -> bool:
    facts = facts_of(mine)
    days = int((method_rules.get("remote") or {}).get("seen_within_days", 7))
    if facts.last_data_at is None:
        return False
    return timezone.localtime(facts.last_data_at).date() >= facts.as_of - dt.timedelta(days=days)


def methods_for(mine: Mine, visits: int, method_rules: dict) -> tuple[dict[str, int], list[dict]]:
    """How many of the visits must be by which method (at least), and why. The rest may be by any method."""
    minimums: dict[str, int] = {}
    reasons: list[dict] = []
    if visits <= 0:
        return minimums, reasons
    hidden = math.ceil(visits * float(method_rules.get("unannounced_min_share", 0)) - 1e-9)
    covert = 0
    if mine.status in SUSPENDED_STATUSES:
        covert = min(visits, int(method_rules.get("covert_for_suspended", 0)))
        if covert:
            minimums[Method.COVERT] = covert
            reasons.append({"rule": "covert", "method": Method.COVERT, "visits": covert})
    unannounced = max(0, min(visits, hidden) - covert)
    if unannounced:
        minimums[Method.UNANNOUNCED] = unannounced
        reasons.append({"rule": "unannounced", "method": Method.UNANNOUNCED, "visits": unannounced,
                        "share": float(method_rules.get("unannounced_min_share", 0))})
    remote_rule = method_rules.get("remote") or {}
    remote = int(remote_rule.get("visits", 0))
    if remote and visits >= int(remote_rule.get("min_total_visits", 2)) and is_connected(mine, method_rules):
        remote = min(remote, visits - sum(minimums.values()))
        if remote > 0:
            minimums[Method.REMOTE] = remote
            reasons.append({"rule": "remote", "method": Method.REMOTE, "visits": remote})
    return minimums, reasons


def describe_reason(reason: dict) -> str:
    """One reason of a frequency, in words (the current language)."""
    rule = reason.get("rule")
    add = reason.get("add", 0)
    if rule == "base":
        return _("%(type)s, %(status)s: %(n)d visits a year") % {
            "type": Mine.Type(reason["type"]).label, "status": Mine.Status(reason["status"]).label, "n": add}
    if rule == "closed":
        return _("Closed: no visits")
    if rule == "pond_grade":
        return _("Tailings pond of grade %(g)s: %(n)+d") % {"g": reason["grade"], "n": add}
    if rule == "head_pond":
        return _("Head pond (头顶库), people or facilities downstream: %(n)+d") % {"n": add}
    if rule == "open_hazards":
        return _("%(c)d open major hazard(s): %(n)+d") % {"c": reason["count"], "n": add}
    if rule == "recent_accident":
        return _("%(c)d accident(s) in the last %(m)d months (latest %(d)s): %(n)+d") % {
            "c": reason["count"], "m": reason["months"], "d": reason["last"], "n": add}
    if rule == "risk":
        return _("Risk score %(s)d, %(band)s (%(items)s): %(n)+d") % {
            "s": reason["score"], "band": risk.band_label(reason.get("band", "")),
            "items": risk.describe_items(reason.get("items") or []) or _("nothing counted"), "n": add}
    if rule == "cap":
        return _("Capped at %(max)d visits a year") % {"max": reason["max"]}
    if rule == "covert":
        return _("Suspended or halted: %(n)d covert visit(s) (明查暗访) looking for signs of production") % {
            "n": reason["visits"]}
    if rule == "unannounced":
        return _("At least %(p)d%% of visits unannounced (四不两直): %(n)d") % {
            "p": round(reason["share"] * 100), "n": reason["visits"]}
    if rule == "remote":
        return _("Sends online monitoring data: %(n)d visit(s) may be remote, by video and data") % {
            "n": reason["visits"]}
    return str(reason)


def method_label(method: str) -> str:
    return str(Method(method).label) if method in Method.values else method


def methods_text(minimums: dict) -> str:
    return "; ".join(f"{method_label(m)} ≥ {n}" for m, n in sorted(minimums.items(), key=_method_order) if n)


def _method_order(item) -> int:
    return Method.values.index(item[0]) if item[0] in Method.values else 99


def _methods_list(minimums: dict) -> list[str]:
    return [m for m in Method.values if minimums.get(m)]


# Creating and proposing --------------------------------------------------------------------------
def _check_year(errors: dict, year) -> int:
    today = timezone.localdate()
    if not _whole(year):
        errors["year"] = _("must be a year")
        return 0
    if year < 2000 or year > today.year + 1:
        errors["year"] = _("plans are made for a year from 2000 to next year")
    return year


def create_plan(actor: User, organisation: Organisation, year: int, *, propose: bool = True,
                note: str = "") -> InspectionPlan:
    """A new draft plan for the body and year; with `propose`, filled from the ledger by the frequency rules."""
    if organisation is None or organisation.kind not in BODY_KINDS:
        raise ValidationError({"organisation": _("plans are made by the city bureau or a county government")})
    if not may_plan_for(actor, organisation):
        raise PermissionDenied(_("only the body's own staff or the city make its inspection plan"))
    errors: dict[str, str] = {}
    year = _check_year(errors, year)
    note = clean_text(errors, "note", note, None, 2000)
    if errors:
        raise ValidationError(errors)
    if InspectionPlan.objects.filter(organisation=organisation, year=year).exists():
        raise DomainError(_("%(o)s already has a plan for %(y)d") % {"o": organisation, "y": year}, field="year",
                          code="duplicate")
    with transaction.atomic():
        audit.lock_chain()
        try:
            with transaction.atomic():
                plan = InspectionPlan.objects.create(organisation=organisation, year=year, created_by=actor,
                                                     note=note)
        except IntegrityError as exc:  # a parallel request made it first
            raise DomainError(_("%(o)s already has a plan for %(y)d") % {"o": organisation, "y": year},
                              field="year", code="duplicate") from exc
        audit.record(actor, AuditEvent.Action.CREATE, plan, after=audit.snapshot(plan))
        if propose:
            propose_entries(actor, plan)
    return plan


@dataclass
class ProposalResult:
    added: int = 0
    refreshed: int = 0
    skipped_closed: int = 0
    rules_version: str = ""


def candidate_mines(organisation: Organisation):
    """The mines a body's proposal considers: a county's own mines; every mine for the city."""
    mines = Mine.objects.all()
    if organisation.kind == Organisation.Kind.COUNTY:
        mines = mines.filter(county_id=organisation.region_id)
    return mines.order_by("code")


def propose_entries(actor: User, plan: InspectionPlan, as_of: dt.date | None = None) -> ProposalResult:
    """Fill a draft (or returned) plan from the ledger: an entry for each mine the rules give visits to that is
    not yet in the plan; the proposal and its reasons are refreshed on entries already there (the officer's
    numbers stay)."""
    if not may_edit(actor, plan):
        raise PermissionDenied(_("only the body's own staff or the city edit its inspection plan"))
    cat = catalogue()
    rules, method_rules = frequency_rules(plan.organisation, cat), cat["methods"]
    result = ProposalResult(rules_version=str(cat.get("version", "")))
    with transaction.atomic():
        current = locked_row(InspectionPlan, plan)
        if not current.is_editable:
            raise InvalidTransition(_("only a draft or returned plan takes a proposal"))
        mines = list(candidate_mines(current.organisation))
        facts = collect_facts(mines, as_of)
        for mine in mines:
            mine.plan_facts = facts[mine.pk]
        mines.sort(key=lambda m: (-risk_of(m), m.code))  # the riskiest first: entries are made in this order
        existing = {e.mine_id: e for e in current.entries.all()}
        new, refreshed, changes = [], [], []
        for mine in mines:
            visits, reasons = visits_for(mine, rules)
            minimums, method_reasons = methods_for(mine, visits, method_rules)
            entry = existing.get(mine.pk)
            if entry is not None:
                if (entry.proposed_visits, entry.reasons) != (visits, reasons + method_reasons):
                    before = audit.snapshot(entry, ["proposed_visits", "reasons"])
                    entry.proposed_visits, entry.reasons = visits, reasons + method_reasons
                    refreshed.append(entry)
                    changes.append(audit.Change(AuditEvent.Action.UPDATE, entry, before=before,
                                                after=audit.snapshot(entry, ["proposed_visits", "reasons"])))
            elif visits > 0:
                new.append(PlanEntry(plan=current, mine=mine, visits_per_year=visits, method_minimums=minimums,
                                     methods=_methods_list(minimums), proposed_visits=visits,
                                     reasons=reasons + method_reasons, added_by=actor))
            elif mine.status == Mine.Status.CLOSED:
                result.skipped_closed += 1
        PlanEntry.objects.bulk_create(new, batch_size=500)
        PlanEntry.objects.bulk_update(refreshed, ["proposed_visits", "reasons"], batch_size=500)
        changes += [audit.Change(AuditEvent.Action.CREATE, e, after=audit.snapshot(e)) for e in new]
        before = audit.snapshot(current, ["rules_version"])
        current.rules_version = result.rules_version
        current.save(update_fields=["rules_version"])
        changes.append(audit.Change(AuditEvent.Action.UPDATE, current, before=before, after={
            "rules_version": current.rules_version, "proposal_added": len(new), "proposal_refreshed": len(refreshed)}))
        audit.record_many(actor, changes)
    copy_back(current, plan)
    result.added, result.refreshed = len(new), len(refreshed)
    return result


# Entries -----------------------------------------------------------------------------------------
def _check_minimums(errors: dict, minimums, visits: int) -> dict[str, int]:
    if minimums is None:
        return {}
    if isinstance(minimums, list | tuple):  # a plain list of methods: at least one visit each
        minimums = dict.fromkeys(minimums, 1)
    if not isinstance(minimums, dict):
        errors["method_minimums"] = _("give the visits by method as {method: number}")
        return {}
    clean: dict[str, int] = {}
    for method, count in minimums.items():
        if method not in Method.values:
            errors["method_minimums"] = _("unknown method %(m)s") % {"m": str(method)[:40]}
            return {}
        if not _whole(count) or count < 0:
            errors["method_minimums"] = _("the visits by %(m)s must be a whole number, 0 or more") % {
                "m": method_label(method)}
            return {}
        if count:
            clean[method] = count
    if not errors.get("visits_per_year") and sum(clean.values()) > visits:
        errors["method_minimums"] = _("the visits by method add up to %(s)d, more than the %(v)d visits a year") % {
            "s": sum(clean.values()), "v": visits}
    return dict(sorted(clean.items(), key=_method_order))


def _check_entry(plan: InspectionPlan, mine: Mine, visits, minimums, note) -> tuple[int, dict, str]:
    errors: dict[str, str] = {}
    if not _whole(visits) or visits < 1 or visits > MAX_VISITS:
        errors["visits_per_year"] = _("must be a whole number from 1 to %(n)d (remove the entry instead of 0)") % {
            "n": MAX_VISITS}
    minimums = _check_minimums(errors, minimums, visits if _whole(visits) else 0)
    note = clean_text(errors, "note", note, None, PlanEntry._meta.get_field("note").max_length)
    if not errors:
        cross = minimums.get(Method.CROSS_COUNTY, 0)
        if is_foreign(plan, mine):
            if not cross:
                errors["method_minimums"] = _("a mine of another county is in a county's plan only for "
                                              "cross-county enforcement (交叉执法): give its cross-county visits")
        elif cross:
            errors["method_minimums"] = _("cross-county enforcement (交叉执法) is a county's visits to another "
                                          "county's mines")
    if errors:
        raise ValidationError(errors)
    return visits, minimums, note


def _entry_state(entry: PlanEntry | None) -> dict | None:
    return None if entry is None else {"visits_per_year": entry.visits_per_year,
                                       "method_minimums": entry.method_minimums, "note": entry.note}


def _require_changeable(plan: InspectionPlan, reason: str) -> str:
    """Entries change in a draft or returned plan; an approved one by amendment with a reason; never under review."""
    if plan.status == S.SUBMITTED:
        raise InvalidTransition(_("the plan is with the city for approval; it changes after the city returns it"))
    if plan.status == S.APPROVED:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": _("an approved plan changes only by an amendment: give the reason")})
        if len(reason) > 2000:
            raise ValidationError({"reason": _("at most %(n)d characters") % {"n": 2000}})
    return reason


def _amend(actor: User, plan: InspectionPlan, mine: Mine, action: str, before, after, reason: str) -> None:
    amendment = PlanAmendment.objects.create(plan=plan, mine=mine, action=action, before=before, after=after,
                                             reason=reason, made_by=actor)
    audit.record(actor, AuditEvent.Action.CREATE, amendment, after=audit.snapshot(amendment))
    others = [city_bureau()] if not is_city(actor) else [plan.organisation]
    notify.send(_("Approved inspection plan amended: %(p)s, %(m)s") % {"p": plan, "m": mine.name},
                f"{PlanAmendment.Action(action).label}: {reason}", plan_link(plan), organisations=others)


def set_entry(actor: User, plan: InspectionPlan, mine: Mine, *, visits_per_year, method_minimums=None,
              note: str = "", reason: str = "") -> PlanEntry:
    """Add the mine to the plan or change its entry. In an approved plan this is an amendment (reason needed)."""
    if not may_edit(actor, plan):
        raise PermissionDenied(_("only the body's own staff or the city edit its inspection plan"))
    if mine is None:
        raise ValidationError({"mine": _("choose a mine")})
    if not is_city(actor) and is_foreign(plan, mine):
        raise PermissionDenied(_("only the city assigns another county's mines to a county (交叉执法)"))
    reason = _require_changeable(plan, reason)
    visits, minimums, note = _check_entry(plan, mine, visits_per_year, method_minimums, note)
    with transaction.atomic():
        current = locked_row(InspectionPlan, plan)
        if current.status != plan.status:
            raise InvalidTransition(_("the plan changed meanwhile; reload and try again"))
        entry = PlanEntry.objects.filter(plan=current, mine=mine).first()
        before = _entry_state(entry)
        if entry is None:
            entry = PlanEntry.objects.create(plan=current, mine=mine, visits_per_year=visits,
                                             method_minimums=minimums, methods=_methods_list(minimums), note=note,
                                             added_by=actor)
            audit.record(actor, AuditEvent.Action.CREATE, entry, after={**audit.snapshot(entry), "reason": reason})
        else:
            if before == {"visits_per_year": visits, "method_minimums": minimums, "note": note}:
                return entry  # nothing changes
            old = audit.snapshot(entry, ENTRY_FIELDS)
            entry.visits_per_year, entry.method_minimums, entry.note = visits, minimums, note
            entry.methods = _methods_list(minimums)
            entry.save(update_fields=ENTRY_FIELDS)
            old, new = audit.diff(old, audit.snapshot(entry, ENTRY_FIELDS))
            audit.record(actor, AuditEvent.Action.UPDATE, entry, before=old, after={**new, "reason": reason})
        if current.status == S.APPROVED:
            _amend(actor, current, mine, PlanAmendment.Action.ADD if before is None else PlanAmendment.Action.CHANGE,
                   before, _entry_state(entry), reason)
        elif is_foreign(current, mine) and before is None:
            notify.send(_("Cross-county enforcement assigned: %(m)s (%(c)s) in your plan %(y)d") % {
                "m": mine.name, "c": mine.county, "y": current.year}, methods_text(minimums), plan_link(current),
                organisations=[current.organisation])
    return entry


def remove_entry(actor: User, entry: PlanEntry, *, reason: str = "") -> None:
    """Take a mine out of the plan (an amendment with a reason once approved); its experts go with it."""
    plan = entry.plan
    if not may_edit(actor, plan):
        raise PermissionDenied(_("only the body's own staff or the city edit its inspection plan"))
    if not is_city(actor) and is_foreign(plan, entry.mine):
        raise PermissionDenied(_("only the city changes a cross-county assignment (交叉执法)"))
    reason = _require_changeable(plan, reason)
    with transaction.atomic():
        current = locked_row(InspectionPlan, plan)
        if current.status != plan.status:
            raise InvalidTransition(_("the plan changed meanwhile; reload and try again"))
        row = PlanEntry.objects.filter(pk=entry.pk, plan=current).select_related("mine").first()
        if row is None:
            raise DomainError(_("the entry was removed meanwhile"), code="gone")
        before = _entry_state(row)
        changes = [audit.Change(AuditEvent.Action.DELETE, e, before=audit.snapshot(e)) for e in row.experts.all()]
        changes.append(audit.Change(AuditEvent.Action.DELETE, row, before={**audit.snapshot(row)},
                                    after={"reason": reason} if reason else None))
        audit.record_many(actor, changes)
        mine = row.mine
        row.delete()
        if current.status == S.APPROVED:
            _amend(actor, current, mine, PlanAmendment.Action.REMOVE, before, None, reason)


# Transitions -------------------------------------------------------------------------------------
def _transition(actor: User, plan: InspectionPlan, to: str, check=None, **changes) -> InspectionPlan:
    who = TRANSITIONS.get((plan.status, to))
    if who is None:
        raise InvalidTransition(_("a plan that is %(s)s cannot become %(t)s") % {
            "s": S(plan.status).label, "t": S(to).label})
    if not (is_city(actor) if who == CITY else may_edit(actor, plan)):
        raise PermissionDenied(_("only the city approves or returns inspection plans") if who == CITY
                               else _("only the body's own staff or the city submit its inspection plan"))
    with transaction.atomic():
        current = locked_row(InspectionPlan, plan)
        if current.status != plan.status:
            raise InvalidTransition(_("the plan changed meanwhile; reload and try again"))
        if check:
            check(current)
        fields = ["status", *changes]
        before = audit.snapshot(current, fields)
        current.status = to
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before, after=audit.snapshot(current, fields))
    copy_back(current, plan)
    return plan


def _ready_for_review(plan: InspectionPlan) -> None:
    if not plan.entries.exists():
        raise DomainError(_("the plan has no entries; add mines or take the proposal first"), field="entries",
                          code="empty")
    foreign = []
    if plan.organisation.kind == Organisation.Kind.COUNTY:
        foreign = plan.entries.exclude(mine__county_id=plan.organisation.region_id).select_related("mine")
    wrong = [e.mine.name for e in foreign if not e.method_minimums.get(Method.CROSS_COUNTY)]
    if wrong:
        raise DomainError(_("mines of another county without cross-county visits: %(m)s") % {"m": ", ".join(wrong)},
                          field="entries", code="cross_county")


def submit_plan(actor: User, plan: InspectionPlan) -> InspectionPlan:
    """draft or returned -> submitted; the city is told."""
    _transition(actor, plan, S.SUBMITTED, submitted_at=timezone.now(), submitted_by=actor, check=_ready_for_review)
    notify.send(_("Inspection plan submitted for approval: %(p)s") % {"p": plan}, "", plan_link(plan),
                organisations=[city_bureau()])
    return plan


def approve_plan(actor: User, plan: InspectionPlan) -> InspectionPlan:
    """submitted -> approved (the city)."""
    _transition(actor, plan, S.APPROVED, approved_at=timezone.now(), approved_by=actor, check=_ready_for_review)
    notify.send(_("Inspection plan approved: %(p)s") % {"p": plan}, "", plan_link(plan),
                organisations=[plan.organisation])
    return plan


def return_plan(actor: User, plan: InspectionPlan, *, reason: str) -> InspectionPlan:
    """submitted -> returned with the city's reason; the body revises and resubmits."""
    errors: dict[str, str] = {}
    reason = clean_text(errors, "reason", reason, _("say what the body must change"), 2000)
    if errors:
        raise ValidationError(errors)
    _transition(actor, plan, S.RETURNED, return_reason=reason)
    notify.send(_("Inspection plan returned for revision: %(p)s") % {"p": plan}, reason, plan_link(plan),
                organisations=[plan.organisation])
    return plan


# Experts and technical inspectors ----------------------------------------------------------------
def add_expert(actor: User, plan: InspectionPlan, *, kind: str = PlanExpert.Kind.EXPERT, user: User | None = None,
               name: str = "", speciality: str = "", entry: PlanEntry | None = None,
               quarter: int | None = None) -> PlanExpert:
    """Name an expert or technical inspector for one entry (mine) or for the plan in one quarter. The team may
    change in any state; every change is audited and the named user is told."""
    if not may_edit(actor, plan):
        raise PermissionDenied(_("only the body's own staff or the city edit its inspection plan"))
    errors: dict[str, str] = {}
    if kind not in PlanExpert.Kind.values:
        errors["kind"] = _("unknown role")
    if user is not None and (user.role != User.Role.INSPECTOR or not user.is_active):
        errors["user"] = _("only an active account of an inspector or expert can be named")
    name = clean_text(errors, "name", name or (str(user) if user else ""), _("give the expert's name"),
                 PlanExpert._meta.get_field("name").max_length)
    speciality = clean_text(errors, "speciality", speciality, None, PlanExpert._meta.get_field("speciality").max_length)
    if entry is not None and entry.plan_id != plan.pk:
        errors["entry"] = _("the entry belongs to another plan")
    if quarter is not None and (not _whole(quarter) or not 1 <= quarter <= 4):
        errors["quarter"] = _("a quarter is 1, 2, 3 or 4")
    if entry is None and quarter is None:
        errors["quarter"] = _("name the mine (entry) or the quarter the expert joins")
    if errors:
        raise ValidationError(errors)
    same = PlanExpert.objects.filter(plan=plan, entry=entry, quarter=quarter)
    if same.filter(Q(user=user) if user else Q(user__isnull=True, name=name)).exists():
        raise ValidationError({"name": _("already named there")})
    with transaction.atomic():
        audit.lock_chain()
        expert = PlanExpert.objects.create(plan=plan, entry=entry, quarter=quarter, kind=kind, user=user, name=name,
                                           speciality=speciality, assigned_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, expert, after=audit.snapshot(expert))
        if user is not None:
            where = entry.mine.name if entry else _("quarter %(q)d") % {"q": quarter}
            notify.send(_("You join the inspection plan %(p)s: %(w)s") % {"p": plan, "w": where},
                        PlanExpert.Kind(kind).label, plan_link(plan), users=[user])
    return expert


def remove_expert(actor: User, expert: PlanExpert) -> None:
    if not may_edit(actor, expert.plan):
        raise PermissionDenied(_("only the body's own staff or the city edit its inspection plan"))
    with transaction.atomic():
        audit.lock_chain()
        audit.record(actor, AuditEvent.Action.DELETE, expert, before=audit.snapshot(expert))
        expert.delete()


# Progress ----------------------------------------------------------------------------------------
def months_elapsed(year: int, until: dt.date) -> int:
    """Whole months of the plan year ended by `until` (its last day counts as the month ended)."""
    if until.year < year:
        return 0
    if until.year > year:
        return 12
    return until.month if (until + dt.timedelta(days=1)).month != until.month else until.month - 1


def due_by(visits: int, months: int) -> int:
    """Visits due after `months` whole months, spread evenly (4 a year: 1 due by the end of each quarter)."""
    return visits * months // 12


@dataclass
class MethodProgress:
    method: str
    label: str
    planned_year: int = 0  # the entries' minimums for this method
    due_to_date: int = 0
    done_to_date: int = 0  # counted toward the minimums (no entry counts beyond its minimum)
    done_total: int = 0  # every completed visit by this method to a planned mine

    @property
    def behind(self) -> bool:
        return self.done_to_date < self.due_to_date


@dataclass
class EntryProgress:
    entry: PlanEntry
    mine: Mine
    planned_year: int
    due_to_date: int
    done_to_date: int  # completed visits up to the date (all methods)
    done_year: int  # completed visits in the whole plan year (also those recorded after the date)
    by_method: dict[str, int] = field(default_factory=dict)
    method_due: dict[str, int] = field(default_factory=dict)
    behind_methods: list[str] = field(default_factory=list)
    last_visit: dt.date | None = None

    @property
    def behind(self) -> bool:
        return self.done_to_date < self.due_to_date or bool(self.behind_methods)

    @property
    def missing(self) -> int:
        return max(0, self.due_to_date - self.done_to_date)

    @property
    def behind_method_labels(self) -> str:
        return ", ".join(f"{method_label(m)} {self.by_method.get(m, 0)}/{self.method_due[m]}"
                         for m in self.behind_methods)


@dataclass
class QuarterProgress:
    quarter: int
    planned: int = 0  # visits falling due in the quarter
    done: int = 0  # completed visits to planned mines in the quarter (up to the date)
    ended: bool = False


@dataclass
class PlanProgress:
    """Progress of one body's plan for a year, up to a date. `plan` is None when the body has none."""

    organisation: Organisation
    year: int
    until: dt.date
    plan: InspectionPlan | None = None
    status: str = ""
    planned_year: int = 0
    planned_to_date: int = 0
    done_to_date: int = 0  # per entry at most its visits a year
    done_year: int = 0  # the same over the whole plan year
    entries: list[EntryProgress] = field(default_factory=list)
    entries_behind: list[EntryProgress] = field(default_factory=list)
    by_method: list[MethodProgress] = field(default_factory=list)
    by_quarter: list[QuarterProgress] = field(default_factory=list)
    unplanned: int = 0  # completed visits by the body to mines not in its plan

    @property
    def share(self) -> float | None:
        """Done against due to date (1.0 = on plan); None before anything falls due."""
        return self.done_to_date / self.planned_to_date if self.planned_to_date else None

    @property
    def percent(self) -> int | None:
        return None if self.share is None else round(self.share * 100)

    @property
    def status_label(self) -> str:
        return str(S(self.status).label) if self.status else _("No plan")


def _visits(organisations, year: int):
    """Completed inspections of the bodies in the year: (organisation, mine, method, date)."""
    return Inspection.objects.filter(status=Inspection.Status.COMPLETED, organisation__in=organisations,
                                     inspected_on__gte=dt.date(year, 1, 1),
                                     inspected_on__lte=dt.date(year, 12, 31)).values_list(
        "organisation_id", "mine_id", "method", "inspected_on")


def _progress(organisation: Organisation, year: int, until: dt.date, plan: InspectionPlan | None,
              visits: list[tuple]) -> PlanProgress:
    result = PlanProgress(organisation=organisation, year=year, until=until, plan=plan,
                          status=plan.status if plan else "")
    months = months_elapsed(year, until)
    result.by_quarter = [QuarterProgress(q, ended=months >= 3 * q) for q in range(1, 5)]
    if plan is None:
        return result
    by_mine: dict[int, list[tuple[str, dt.date]]] = defaultdict(list)
    year_count: dict[int, int] = defaultdict(int)
    for _org, mine_id, method, day in visits:
        year_count[mine_id] += 1
        if day <= until:
            by_mine[mine_id].append((method, day))
    methods: dict[str, MethodProgress] = {}
    entries = list(plan.entries.select_related("mine__county").order_by("mine__code"))
    planned_mines = {e.mine_id for e in entries}
    result.unplanned = sum(len(v) for m, v in by_mine.items() if m not in planned_mines)
    for entry in entries:
        n = entry.visits_per_year
        done = by_mine.get(entry.mine_id, [])
        counted: dict[str, int] = {}
        for method, _day in done:
            counted[method] = counted.get(method, 0) + 1
        row = EntryProgress(entry=entry, mine=entry.mine, planned_year=n, due_to_date=due_by(n, months),
                            done_to_date=len(done), done_year=year_count.get(entry.mine_id, 0), by_method=counted,
                            last_visit=max((d for _m, d in done), default=None))
        for method, minimum in entry.method_minimums.items():
            row.method_due[method] = due_by(minimum, months)
            if counted.get(method, 0) < row.method_due[method]:
                row.behind_methods.append(method)
            mp = methods.setdefault(method, MethodProgress(method, method_label(method)))
            mp.planned_year += minimum
            mp.due_to_date += row.method_due[method]
            mp.done_to_date += min(counted.get(method, 0), minimum)
        for method, count in counted.items():
            methods.setdefault(method, MethodProgress(method, method_label(method))).done_total += count
        for q in result.by_quarter:
            q.planned += due_by(n, 3 * q.quarter) - due_by(n, 3 * (q.quarter - 1))
        for _method, day in done:
            result.by_quarter[(day.month - 1) // 3].done += 1
        result.planned_year += n
        result.planned_to_date += row.due_to_date
        result.done_to_date += min(row.done_to_date, n)
        result.done_year += min(row.done_year, n)
        result.entries.append(row)
    result.entries_behind = [e for e in result.entries if e.behind]
    result.by_method = sorted(methods.values(), key=lambda m: _method_order((m.method, 0)))
    return result


def progress_for_plan(plan: InspectionPlan, until: dt.date) -> PlanProgress:
    return _progress(plan.organisation, plan.year, until, plan, list(_visits([plan.organisation], plan.year)))


def plan_progress(organisation: Organisation, year: int, until: dt.date) -> PlanProgress:
    """Progress of the body's plan for the year (whatever its status: see `status`) up to `until`: planned and done
    to date and for the year, per entry, method and quarter, and the entries behind plan. Called by the county
    evaluation; a body without a plan gets zeros and `plan=None`."""
    plan = InspectionPlan.objects.filter(organisation=organisation, year=year).first()
    return _progress(organisation, year, until, plan, list(_visits([organisation], year)) if plan else [])


def progress_overview(user, year: int, until: dt.date) -> list[PlanProgress]:
    """Every plan of the year the user sees, side by side; for the city, every body (those without a plan too)."""
    plans = {p.organisation_id: p for p in InspectionPlan.objects.visible_to(user).filter(year=year)
             .select_related("organisation__region")}
    if is_city(user):
        bodies = list(inspecting_bodies())
    else:
        bodies = sorted({p.organisation for p in plans.values()}, key=lambda o: (o.kind, o.region.code))
    visits: dict[int, list] = defaultdict(list)
    for row in _visits([b for b in bodies if b.pk in plans], year):
        visits[row[0]].append(row)
    return [_progress(b, year, until, plans.get(b.pk), visits.get(b.pk, [])) for b in bodies]
