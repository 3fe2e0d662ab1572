"""Disposal of unsafe mines (分类处置, 三个一批), tailings-pond closure plans (闭库) and upgrade and
consolidation projects (提升改造, 整合重组), plan tasks 12-14 and 16.

Regulators act here (the city everywhere, a county over its own mines); the enterprise reads the decisions
about its own mines. Every function checks permission, validates, changes state and audits in one
transaction; a completed closure and a closed pond change the mine's status in the registry in the same
transaction.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Region, User
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from . import common
from .models import DisposalDecision, PondClosurePlan, UpgradeProject

D = DisposalDecision.Status
P = PondClosurePlan.Status
U = UpgradeProject.Status
OPEN_DECISIONS = (D.PROPOSED, D.IN_PROGRESS)
EARLIEST_YEAR = 2000
YEARS_AHEAD = 10  # a pond closure target further ahead than this is not a plan


# Catalogue ---------------------------------------------------------------------------------------
def grounds() -> list[dict]:
    return common.catalogue()["disposal"]["grounds"]


def ground_labels() -> dict[str, str]:
    """Legal ground code -> its name in the active language (read the catalogue once for a whole list)."""
    return {item["code"]: common.label(item) for item in grounds()}


def ground_label(code: str, labels: dict[str, str] | None = None) -> str:
    """The legal ground's name in the active language (the code itself when the catalogue no longer has it)."""
    return (labels if labels is not None else ground_labels()).get(code, code)


def unification_codes() -> list[str]:
    return [item["code"] for item in common.catalogue()["disposal"]["five_unifications"]]


def unification_labels(codes) -> list[str]:
    names = {item["code"]: common.label(item) for item in common.catalogue()["disposal"]["five_unifications"]}
    return [names.get(code, code) for code in codes]


# Shared helpers ----------------------------------------------------------------------------------
def _text(errors: dict, name: str, value: str, message: str, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if not value:
        errors[name] = message
    elif max_length and len(value) > max_length:
        errors[name] = _("at most %(n)d characters") % {"n": max_length}
    return value


def _past_date(errors: dict, name: str, day: dt.date | None, message: str, not_before: dt.date | None = None,
               not_before_what: str = "") -> None:
    """A date that has happened: required, not in the future, not before `not_before`."""
    if day is None:
        errors[name] = message
    elif day > timezone.localdate():
        errors[name] = _("cannot be in the future")
    elif not_before and day < not_before:
        errors[name] = _("is before %(what)s (%(d)s)") % {"what": not_before_what, "d": not_before}




def _transition(actor, obj, old: str, changes: dict) -> None:
    """Apply `changes` to the locked row `obj`, save and audit them as one transition from `old`."""
    before = {"status": old, **{k: audit.json_safe(getattr(obj, k)) for k in changes if k != "status"}}
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save(update_fields=list(changes))
    audit.record(actor, AuditEvent.Action.TRANSITION, obj, before=before, after=changes)


def _close_in_registry(actor: User, mine: Mine, effective: dt.date, reason: str, date_field: str) -> bool:
    """Close the mine in the registry (its status history follows); False when it was closed already.
    The registry's refusal of the date is reported on our own date field."""
    mine = Mine.objects.select_related("county").get(pk=mine.pk)
    if mine.status == Mine.Status.CLOSED:
        return False
    try:
        registry.change_status(actor, mine, Mine.Status.CLOSED, reason=reason[:200], effective_date=effective)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "effective_date" in exc.message_dict:
            raise ValidationError({date_field: exc.message_dict["effective_date"]}) from exc
        raise
    return True


def _require_regulator(actor: User, mine: Mine) -> None:
    common.require_regulator(actor, mine)


def _tell_enterprise(mine: Mine, subject: str, body: str, link: str) -> None:
    notify.send(subject, body, link, organisations=[mine.enterprise.organisation])


# Disposal decisions (分类处置) --------------------------------------------------------------------
def decision_overdue(decision: DisposalDecision, today: dt.date | None = None) -> bool:
    return decision.status in OPEN_DECISIONS and decision.deadline < (today or timezone.localdate())


def overdue_decisions_q(today: dt.date | None = None) -> Q:
    return Q(status__in=OPEN_DECISIONS, deadline__lt=today or timezone.localdate())


def decision_link(decision: DisposalDecision) -> str:
    return reverse("operations:disposal-detail", args=[decision.pk])


def propose_decision(actor: User, mine: Mine, *, category: str, ground: str, ground_detail: str,
                     deadline: dt.date | None) -> DisposalDecision:
    """Classify a mine for closure, consolidation or upgrade on a legal ground of the catalogue."""
    _require_regulator(actor, mine)
    if mine.status == Mine.Status.CLOSED:
        raise DomainError(_("the mine is closed already"), field="mine")
    errors: dict[str, str] = {}
    if category not in DisposalDecision.Category.values:
        errors["category"] = _("unknown category")
    codes = [item["code"] for item in grounds()]
    if ground not in codes:
        errors["ground"] = _("not a legal ground of the catalogue: %(g)s (known: %(k)s)") % {
            "g": ground or "—", "k": ", ".join(codes)}
    ground_detail = _text(errors, "ground_detail", ground_detail, _("state the facts and the legal basis"))
    if deadline is None:
        errors["deadline"] = _("set a deadline")
    elif deadline < timezone.localdate():
        errors["deadline"] = _("cannot be in the past")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        list(Mine.objects.select_for_update().filter(pk=mine.pk).order_by().values_list("pk"))
        if DisposalDecision.objects.filter(mine=mine, status__in=OPEN_DECISIONS).exists():
            raise DomainError(_("the mine already has an open disposal decision"), field="mine", code="duplicate")
        decision = DisposalDecision.objects.create(mine=mine, category=category, ground=ground,
                                                   ground_detail=ground_detail, deadline=deadline, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, decision, after=audit.snapshot(decision))
    return decision


def decide(actor: User, decision: DisposalDecision, *, decided_on: dt.date | None,
           decision_ref: str) -> DisposalDecision:
    """proposed -> in_progress: the decision is taken (its document) and the enterprise is told."""
    _require_regulator(actor, decision.mine)
    if decision.status != D.PROPOSED:
        raise InvalidTransition(_("only a proposed disposal can be decided"))
    errors: dict[str, str] = {}
    _past_date(errors, "decided_on", decided_on, _("give the date of the decision"),
               timezone.localdate(decision.created_at) if decision.created_at else None, _("the proposal"))
    decision_ref = _text(errors, "decision_ref", decision_ref, _("give the decision document's reference"),
                         DisposalDecision._meta.get_field("decision_ref").max_length)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(DisposalDecision, decision)
        if current.status != D.PROPOSED:
            raise InvalidTransition(_("the decision changed meanwhile; reload and try again"))
        _transition(actor, current, D.PROPOSED, {"status": D.IN_PROGRESS, "decided_on": decided_on,
                                                 "decision_ref": decision_ref})
        _tell_enterprise(decision.mine, _("Disposal decided for %(m)s: %(c)s by %(d)s") % {
            "m": decision.mine.name, "c": current.get_category_display(), "d": current.deadline},
            f"{decision_ref} · {ground_label(current.ground)}", decision_link(current))
    common.copy_back(current, decision)
    return decision


def complete_decision(actor: User, decision: DisposalDecision, *, completed_on: dt.date | None, follow_up: str,
                      close_mine: bool = False) -> DisposalDecision:
    """in_progress -> completed, with the follow-up; a completed closure may close the mine in the registry."""
    _require_regulator(actor, decision.mine)
    if decision.status != D.IN_PROGRESS:
        raise InvalidTransition(_("only a decided disposal in progress can be completed"))
    errors: dict[str, str] = {}
    _past_date(errors, "completed_on", completed_on, _("give the completion date"), decision.decided_on,
               _("the decision"))
    follow_up = _text(errors, "follow_up", follow_up, _("describe the follow-up"))
    if close_mine and decision.category != DisposalDecision.Category.CLOSE:
        errors["close_mine"] = _("only a closure closes the mine")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(DisposalDecision, decision)
        if current.status != D.IN_PROGRESS:
            raise InvalidTransition(_("the decision changed meanwhile; reload and try again"))
        _transition(actor, current, D.IN_PROGRESS, {"status": D.COMPLETED, "completed_on": completed_on,
                                                    "follow_up": follow_up})
        if close_mine:
            _close_in_registry(actor, decision.mine, completed_on, _("closed by disposal decision %(r)s") % {
                "r": current.decision_ref}, "completed_on")
    common.copy_back(current, decision)
    return decision


def revoke_decision(actor: User, decision: DisposalDecision, *, reason: str) -> DisposalDecision:
    """proposed/in_progress -> revoked. The model has no field of its own for the reason: it is kept as the
    decision's follow-up (and in the audit event)."""
    _require_regulator(actor, decision.mine)
    if decision.status not in OPEN_DECISIONS:
        raise InvalidTransition(_("only an open disposal can be revoked"))
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, _("give the reason for revoking"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(DisposalDecision, decision)
        old = current.status
        if old not in OPEN_DECISIONS:
            raise InvalidTransition(_("the decision changed meanwhile; reload and try again"))
        _transition(actor, current, old, {"status": D.REVOKED, "follow_up": reason})
        if old == D.IN_PROGRESS:  # the enterprise was told of the decision: tell it the decision is gone
            _tell_enterprise(decision.mine, _("Disposal decision for %(m)s revoked") % {"m": decision.mine.name},
                             reason, decision_link(current))
    common.copy_back(current, decision)
    return decision


def filter_decisions(decisions, *, county: str = "", category: str = "", status: str = "",
                     overdue: bool | None = None, today: dt.date | None = None):
    """The list's filters: county code, category, status and overdue (unknown values are ignored)."""
    if county:
        decisions = decisions.filter(mine__county__code=county)
    if category in DisposalDecision.Category.values:
        decisions = decisions.filter(category=category)
    if status in D.values:
        decisions = decisions.filter(status=status)
    if overdue is not None:
        q = overdue_decisions_q(today)
        decisions = decisions.filter(q) if overdue else decisions.exclude(q)
    return decisions


@dataclass(frozen=True)
class CountyCount:
    county_code: str
    county_name: str
    total: int
    close: int
    consolidate: int
    upgrade: int
    open: int
    completed: int
    revoked: int
    overdue: int


def county_counts(decisions, today: dt.date | None = None) -> list[CountyCount]:
    """Per county of the (scoped, filtered) decisions: by category, open, completed, revoked and overdue."""
    cat = DisposalDecision.Category
    rows = (decisions.order_by().values("mine__county__code", "mine__county__name_zh")
            .annotate(total=Count("pk"), close=Count("pk", filter=Q(category=cat.CLOSE)),
                      consolidate=Count("pk", filter=Q(category=cat.CONSOLIDATE)),
                      upgrade=Count("pk", filter=Q(category=cat.UPGRADE)),
                      open=Count("pk", filter=Q(status__in=OPEN_DECISIONS)),
                      completed=Count("pk", filter=Q(status=D.COMPLETED)),
                      revoked=Count("pk", filter=Q(status=D.REVOKED)),
                      overdue=Count("pk", filter=overdue_decisions_q(today)))
            .order_by("mine__county__code"))
    return [CountyCount(county_code=r["mine__county__code"], county_name=r["mine__county__name_zh"],
                        **{k: r[k] for k in ("total", "close", "consolidate", "upgrade", "open", "completed",
                                             "revoked", "overdue")}) for r in rows]


# Tailings-pond closure plans (闭库) -----------------------------------------------------------------
def pond_link(plan: PondClosurePlan) -> str:
    return reverse("operations:pond-detail", args=[plan.pk])


def plan_pond_closure(actor: User, pond: Mine, *, target_year: int | None, design_ref: str = "",
                      note: str = "") -> PondClosurePlan:
    """Plan the closure of a tailings pond (only a tailings pond; one plan per pond)."""
    _require_regulator(actor, pond)
    if not pond.is_tailings_pond:
        raise ValidationError({"pond": _("%(m)s is not a tailings pond: only tailings ponds are closed (闭库)") % {
            "m": pond.name}})
    if pond.status == Mine.Status.CLOSED:
        raise DomainError(_("the pond is closed already"), field="pond")
    errors: dict[str, str] = {}
    latest = timezone.localdate().year + YEARS_AHEAD
    if not isinstance(target_year, int) or not EARLIEST_YEAR <= target_year <= latest:
        errors["target_year"] = _("must be a year from %(a)d to %(b)d") % {"a": EARLIEST_YEAR, "b": latest}
    design_ref = (design_ref or "").strip()
    if len(design_ref) > PondClosurePlan._meta.get_field("design_ref").max_length:
        errors["design_ref"] = _("at most %(n)d characters") % {
            "n": PondClosurePlan._meta.get_field("design_ref").max_length}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audit.lock_chain()
        list(Mine.objects.select_for_update().filter(pk=pond.pk).order_by().values_list("pk"))
        if PondClosurePlan.objects.filter(pond=pond).exists():
            raise DomainError(_("the pond already has a closure plan"), field="pond", code="duplicate")
        plan = PondClosurePlan.objects.create(pond=pond, target_year=target_year, design_ref=design_ref,
                                              note=(note or "").strip(), created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, plan, after=audit.snapshot(plan))
    return plan


def start_pond_works(actor: User, plan: PondClosurePlan, *, works_started_on: dt.date | None) -> PondClosurePlan:
    """planned -> in_progress: closure works have started."""
    _require_regulator(actor, plan.pond)
    if plan.status != P.PLANNED:
        raise InvalidTransition(_("only a planned closure can start its works"))
    errors: dict[str, str] = {}
    _past_date(errors, "works_started_on", works_started_on, _("give the date the works started"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(PondClosurePlan, plan)
        if current.status != P.PLANNED:
            raise InvalidTransition(_("the plan changed meanwhile; reload and try again"))
        _transition(actor, current, P.PLANNED, {"status": P.IN_PROGRESS, "works_started_on": works_started_on})
    common.copy_back(current, plan)
    return plan


def close_pond(actor: User, plan: PondClosurePlan, *, closed_on: dt.date | None, note: str = "") -> PondClosurePlan:
    """in_progress -> closed (闭库验收); the pond's status in the registry becomes closed."""
    _require_regulator(actor, plan.pond)
    if plan.status != P.IN_PROGRESS:
        raise InvalidTransition(_("only a pond whose closure works are in progress can be closed"))
    errors: dict[str, str] = {}
    _past_date(errors, "closed_on", closed_on, _("give the date of the closure acceptance"), plan.works_started_on,
               _("the works started"))
    if errors:
        raise ValidationError(errors)
    note = (note or "").strip()
    with transaction.atomic():
        current = common.locked_row(PondClosurePlan, plan)
        if current.status != P.IN_PROGRESS:
            raise InvalidTransition(_("the plan changed meanwhile; reload and try again"))
        changes = {"status": P.CLOSED, "closed_on": closed_on}
        if note:
            changes["note"] = note
        _transition(actor, current, P.IN_PROGRESS, changes)
        _close_in_registry(actor, plan.pond, closed_on, _("tailings pond closed (闭库), acceptance %(d)s") % {
            "d": closed_on}, "closed_on")
    common.copy_back(current, plan)
    return plan


@dataclass(frozen=True)
class PondYear:
    year: int
    target: int | None  # None: a year without a target in the plan
    planned: int  # plans targeting this year
    closed: int  # ponds closed in this year
    cumulative_target: int | None
    cumulative_closed: int


@dataclass(frozen=True)
class PondCounty:
    county_code: str
    county_name: str
    planned: dict = field(default_factory=dict)  # year -> plans targeting it
    closed: dict = field(default_factory=dict)  # year -> ponds closed in it
    total_plans: int = 0
    total_closed: int = 0


@dataclass(frozen=True)
class PondProgress:
    eligible: int  # ponds eligible for closure in the city's plan
    target_total: int
    years: list[PondYear]
    counties: list[PondCounty]
    plans: int  # plans in the reader's scope
    closed: int  # of which closed


def pond_progress(plans) -> PondProgress:
    """Progress of the (scoped) closure plans against the catalogue's yearly targets: per year the target,
    the plans targeting it, the ponds closed in it and both cumulatively; and per county."""
    ponds = common.catalogue()["ponds"]
    targets = {int(year): int(n) for year, n in ponds["closures_per_year"].items()}
    rows = list(plans.order_by().values("target_year", "status", "closed_on", "pond__county__code",
                                        "pond__county__name_zh"))
    planned_by_year: dict[int, int] = {}
    closed_by_year: dict[int, int] = {}
    counties: dict[str, dict] = {}
    for row in rows:
        planned_by_year[row["target_year"]] = planned_by_year.get(row["target_year"], 0) + 1
        county = counties.setdefault(row["pond__county__code"], {
            "name": row["pond__county__name_zh"], "planned": {}, "closed": {}, "plans": 0, "done": 0})
        county["planned"][row["target_year"]] = county["planned"].get(row["target_year"], 0) + 1
        county["plans"] += 1
        if row["status"] == P.CLOSED and row["closed_on"]:
            year = row["closed_on"].year
            closed_by_year[year] = closed_by_year.get(year, 0) + 1
            county["closed"][year] = county["closed"].get(year, 0) + 1
            county["done"] += 1
    years = sorted(set(targets) | set(planned_by_year) | set(closed_by_year))
    cumulative_target, cumulative_closed, out = 0, 0, []
    for year in years:
        target = targets.get(year)
        cumulative_target += target or 0
        cumulative_closed += closed_by_year.get(year, 0)
        out.append(PondYear(year=year, target=target, planned=planned_by_year.get(year, 0),
                            closed=closed_by_year.get(year, 0),
                            cumulative_target=cumulative_target if target is not None or cumulative_target else None,
                            cumulative_closed=cumulative_closed))
    county_rows = [PondCounty(county_code=code, county_name=c["name"], planned=dict(sorted(c["planned"].items())),
                              closed=dict(sorted(c["closed"].items())), total_plans=c["plans"], total_closed=c["done"])
                   for code, c in sorted(counties.items())]
    return PondProgress(eligible=int(ponds["eligible_for_closure"]), target_total=sum(targets.values()), years=out,
                        counties=county_rows, plans=len(rows), closed=sum(closed_by_year.values()))


# Upgrade and consolidation projects (提升改造, 整合重组) ----------------------------------------------
def project_overdue(project: UpgradeProject, today: dt.date | None = None) -> bool:
    return project.status != U.COMPLETED and project.deadline < (today or timezone.localdate())


def overdue_projects_q(today: dt.date | None = None) -> Q:
    return Q(deadline__lt=today or timezone.localdate()) & ~Q(status=U.COMPLETED)


def project_link(project: UpgradeProject) -> str:
    return reverse("operations:upgrade-detail", args=[project.pk])


def _clean_unifications(errors: dict, kind: str, unifications) -> list[str]:
    unifications = list(unifications or [])
    if not unifications:
        return []
    if kind != UpgradeProject.Kind.CONSOLIDATION:
        errors["unifications"] = _("only a consolidation achieves the five unifications (五统一)")
        return []
    known = unification_codes()
    unknown = [code for code in unifications if code not in known]
    if unknown:
        errors["unifications"] = _("unknown unification %(u)s (known: %(k)s)") % {
            "u": ", ".join(map(str, unknown)), "k": ", ".join(known)}
        return []
    return [code for code in known if code in unifications]  # catalogue order, no repeats


def create_project(actor: User, mine: Mine, *, kind: str, description: str, deadline: dt.date | None,
                   partners: str = "", unifications=()) -> UpgradeProject:
    """Track a consolidation or upgrade project for a mine with its deadline."""
    _require_regulator(actor, mine)
    if mine.status == Mine.Status.CLOSED:
        raise DomainError(_("the mine is closed"), field="mine")
    errors: dict[str, str] = {}
    if kind not in UpgradeProject.Kind.values:
        errors["kind"] = _("unknown kind of project")
    description = _text(errors, "description", description, _("describe the project"))
    partners = (partners or "").strip()
    if kind == UpgradeProject.Kind.CONSOLIDATION and not partners:
        errors["partners"] = _("name the mines merged in the consolidation")
    elif partners and kind != UpgradeProject.Kind.CONSOLIDATION:
        errors["partners"] = _("only a consolidation merges mines")
    elif len(partners) > (limit := UpgradeProject._meta.get_field("partners").max_length):
        errors["partners"] = _("at most %(n)d characters") % {"n": limit}
    unifications = _clean_unifications(errors, kind, unifications)
    if deadline is None:
        errors["deadline"] = _("set a deadline")
    elif deadline < timezone.localdate():
        errors["deadline"] = _("cannot be in the past")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        project = UpgradeProject.objects.create(mine=mine, kind=kind, description=description, partners=partners,
                                                unifications=unifications, deadline=deadline, created_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, project, after=audit.snapshot(project))
        _tell_enterprise(mine, _("%(k)s project for %(m)s, due %(d)s") % {
            "k": project.get_kind_display(), "m": mine.name, "d": deadline}, description, project_link(project))
    return project


def start_project(actor: User, project: UpgradeProject, *, progress: str = "", unifications=None) -> UpgradeProject:
    """planned -> in_progress."""
    return _advance_project(actor, project, U.PLANNED, U.IN_PROGRESS, progress=progress, unifications=unifications)


def record_progress(actor: User, project: UpgradeProject, *, progress: str, unifications=None) -> UpgradeProject:
    """Update the progress (and, for a consolidation, the unifications achieved) of a project in progress."""
    return _advance_project(actor, project, U.IN_PROGRESS, U.IN_PROGRESS, progress=progress,
                            unifications=unifications, progress_required=True)


def complete_project(actor: User, project: UpgradeProject, *, completed_on: dt.date | None, progress: str,
                     unifications=None) -> UpgradeProject:
    """in_progress -> completed, with what was done."""
    return _advance_project(actor, project, U.IN_PROGRESS, U.COMPLETED, progress=progress, unifications=unifications,
                            completed_on=completed_on, progress_required=True)


def _advance_project(actor: User, project: UpgradeProject, old: str, new: str, *, progress: str, unifications,
                     completed_on: dt.date | None = None, progress_required: bool = False) -> UpgradeProject:
    _require_regulator(actor, project.mine)
    if project.status != old:
        raise InvalidTransition(_("the project is %(s)s") % {"s": U(project.status).label})
    errors: dict[str, str] = {}
    progress = (progress or "").strip()
    if progress_required and not progress:
        errors["progress"] = _("describe the progress")
    if new == U.COMPLETED:
        _past_date(errors, "completed_on", completed_on, _("give the completion date"))
    cleaned = _clean_unifications(errors, project.kind, unifications) if unifications is not None else None
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = common.locked_row(UpgradeProject, project)
        if current.status != old:
            raise InvalidTransition(_("the project changed meanwhile; reload and try again"))
        changes: dict = {}
        if new != old:
            changes["status"] = new
        if progress:
            changes["progress"] = progress
        if cleaned is not None and cleaned != current.unifications:
            changes["unifications"] = cleaned
        if new == U.COMPLETED:
            changes["completed_on"] = completed_on
        if changes:
            before = {k: audit.json_safe(getattr(current, k)) for k in changes}
            for name, value in changes.items():
                setattr(current, name, value)
            current.save(update_fields=list(changes))
            action = AuditEvent.Action.TRANSITION if new != old else AuditEvent.Action.UPDATE
            audit.record(actor, action, current, before=before, after=changes)
    common.copy_back(current, project)
    return project


def filter_projects(projects, *, county: str = "", kind: str = "", status: str = "", overdue: bool | None = None,
                    today: dt.date | None = None):
    if county:
        projects = projects.filter(mine__county__code=county)
    if kind in UpgradeProject.Kind.values:
        projects = projects.filter(kind=kind)
    if status in U.values:
        projects = projects.filter(status=status)
    if overdue is not None:
        q = overdue_projects_q(today)
        projects = projects.filter(q) if overdue else projects.exclude(q)
    return projects


@dataclass(frozen=True)
class ThresholdCheck:
    """Task 12: is the mine above the mechanised-scaling thresholds? Only capacity is in the ledger."""

    capacity_10k_t: Decimal | None  # the mine's design capacity (10k t/a), None when not recorded
    capacity_threshold: Decimal
    above_capacity: bool | None  # None: capacity not recorded
    depth_threshold_m: int
    depth_known: bool  # always False: mining depth is not in the ledger

    @property
    def text(self) -> str:
        if self.above_capacity is None:
            capacity = _("design capacity not recorded in the ledger")
        elif self.above_capacity:
            capacity = _("design capacity %(c)s ≥ %(t)s (10k t/a): above the threshold") % {
                "c": self.capacity_10k_t, "t": self.capacity_threshold}
        else:
            capacity = _("design capacity %(c)s < %(t)s (10k t/a): below the threshold") % {
                "c": self.capacity_10k_t, "t": self.capacity_threshold}
        depth = _("mining depth (threshold %(d)d m) is not recorded in the ledger") % {"d": self.depth_threshold_m}
        return f"{capacity}; {depth}"


def upgrade_thresholds() -> dict:
    return common.catalogue()["disposal"]["upgrade_thresholds"]


def threshold_check(mine: Mine, limits: dict | None = None) -> ThresholdCheck:
    """Pass `limits` (upgrade_thresholds()) when checking many mines, to read the catalogue once."""
    limits = limits or upgrade_thresholds()
    threshold = Decimal(str(limits["capacity_10k_t"]))
    capacity = mine.design_capacity
    return ThresholdCheck(capacity_10k_t=capacity, capacity_threshold=threshold,
                          above_capacity=None if capacity is None else capacity >= threshold,
                          depth_threshold_m=int(limits["depth_m"]), depth_known=False)


def counties_in(queryset, path: str) -> list[Region]:
    """The counties present in a scoped queryset (for a filter's choices: only what the reader can see)."""
    ids = queryset.order_by().values_list(path, flat=True).distinct()
    return list(Region.objects.filter(pk__in=ids).order_by("code"))
