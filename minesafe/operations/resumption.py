"""Resumption acceptance (复产复工验收) and offences of the suspension regime.

The enterprise applies; the county opens the check, which copies the checklist from the catalogue and
judges the computed items from the platform's data (census, open hazards, licence, monitoring, signs of
production); the team judges the others with evidence; the decision accepts (the mine's status goes back
through the registry, the only way a suspended mine may resume) or refuses with the failed items.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit, notify
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.registry.models import Mine
from minesafe.registry.services import change_status

from .common import catalogue, label, require_owner, require_regulator
from .models import AcceptanceItem, Offence, ResumptionApplication


def record_offence(actor: User | None, mine: Mine, kind: str, *, found_on: dt.date, description: str,
                   source: str = "") -> Offence:
    """Record an offence (idempotent per source: the same finding is recorded once)."""
    with transaction.atomic():
        if source:
            existing = Offence.objects.filter(mine=mine, kind=kind, source=source).first()
            if existing:
                return existing
        offence = Offence.objects.create(mine=mine, kind=kind, found_on=found_on, description=description,
                                         source=source, recorded_by=actor, recorded_at=timezone.now())
        audit.record(actor or "system", AuditEvent.Action.CREATE, offence, after=audit.snapshot(offence))
    return offence


VIA_ACCEPTANCE = "resumption_acceptance"
RESUMES = {Mine.Status.SUSPENDED: Mine.Status.PRODUCING, Mine.Status.CONSTRUCTION_HALTED: Mine.Status.CONSTRUCTION}


def resumption_guard(mine: Mine, new_status: str, via: str | None) -> str | None:
    """Registry status guard: a suspended (or construction-halted) mine goes back to work only through an
    accepted resumption application."""
    if RESUMES.get(mine.status) == new_status and via != VIA_ACCEPTANCE:
        return _("a suspended mine resumes only through resumption acceptance (复产复工验收)")
    return None


# Computed checklist items: each returns (passed, evidence or reason) from the platform's data -----------
def check_census(mine: Mine) -> tuple[bool, str]:
    from .census import census_treated

    return census_treated(mine)


def check_no_open_major_hazard(mine: Mine) -> tuple[bool, str]:
    from minesafe.hazards.models import Hazard

    numbers = list(Hazard.objects.filter(mine=mine).exclude(
        status__in=[Hazard.Status.CLOSED, Hazard.Status.CANCELLED]).values_list("number", flat=True)[:20])
    if numbers:
        return False, _("major hazards still open: %(n)s") % {"n": ", ".join(numbers)}
    return True, _("no major hazard open")


def check_licence(mine: Mine) -> tuple[bool, str]:
    today = timezone.localdate()
    if not mine.licence_no or not mine.licence_expiry:
        return False, _("no safety licence recorded in the ledger")
    if mine.licence_expiry < today:
        return False, _("licence %(n)s expired on %(d)s") % {"n": mine.licence_no, "d": mine.licence_expiry}
    return True, _("licence %(n)s valid until %(d)s") % {"n": mine.licence_no, "d": mine.licence_expiry}


def check_monitoring(mine: Mine) -> tuple[bool, str]:
    from minesafe.monitoring.models import Sensor
    from minesafe.monitoring.services import connection_q

    if not Mine.objects.filter(pk=mine.pk).filter(connection_q()).exists():
        return True, _("this mine is not required to connect online monitoring")
    hours = catalogue()["resumption"]["monitoring_online_hours"]
    since = timezone.now() - dt.timedelta(hours=hours)
    sensors = Sensor.objects.filter(mine=mine, active=True, source__isnull=True)
    total = sensors.count()
    reporting = sensors.filter(last_received_at__gte=since).count()
    if total == 0:
        return False, _("no monitoring sensor connected")
    text = _("%(r)d of %(t)d sensors reported within %(h)d h") % {"r": reporting, "t": total, "h": hours}
    return reporting == total, text


def check_no_open_production_flag(mine: Mine) -> tuple[bool, str]:
    from minesafe.monitoring.models import ProductionFlag

    open_flags = ProductionFlag.objects.filter(mine=mine, status=ProductionFlag.Status.OPEN).count()
    if open_flags:
        return False, _("%(n)d sign(s) of production still awaiting the county's inspection") % {"n": open_flags}
    return True, _("no open sign of production")


COMPUTED_CHECKS = {
    "census_treated": check_census,
    "no_open_major_hazard": check_no_open_major_hazard,
    "licence_valid": check_licence,
    "monitoring_connected": check_monitoring,
    "no_open_production_flag": check_no_open_production_flag,
}


def register_check(name: str, check) -> None:
    """Let another app judge a checklist item from its data (the personnel app: the chiefs' exams)."""
    COMPUTED_CHECKS[name] = check


# Items whose evidence the enterprise does not see (signs of production are covert until inspected).
COVERT_ITEMS = {"no_open_production_flag"}


# The application's life ---------------------------------------------------------------------------
A = ResumptionApplication.Status
OPEN = (A.APPLIED, A.CHECKING)


def _notify_regulators(application: ResumptionApplication, subject: str) -> None:
    orgs = list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=application.mine.county_id))
    notify.send(subject, application.statement[:200], application_link(application), organisations=orgs)


def application_link(application: ResumptionApplication) -> str:
    return f"/operations/resumption/{application.pk}/"


def _transition(actor, application: ResumptionApplication, new: str, **fields) -> ResumptionApplication:
    """Lock, check the state has not moved, change, audit."""
    with transaction.atomic():
        audit.lock_chain()
        current = ResumptionApplication.objects.select_for_update().select_related("mine").get(pk=application.pk)
        if current.status != application.status:
            raise InvalidTransition(_("the application changed meanwhile; reload and try again"))
        old = current.status
        current.status = new
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before={"status": old},
                     after={"status": new, **{k: (v.pk if hasattr(v, "pk") else str(v)) for k, v in fields.items()}})
    return current


def apply(actor: User, mine: Mine, *, planned_resumption: dt.date | None, statement: str) -> ResumptionApplication:
    """The enterprise applies for acceptance of its suspended (or construction-halted) mine."""
    require_owner(actor, mine)
    if mine.status not in RESUMES:
        raise InvalidTransition(_("only a suspended or construction-halted mine applies for resumption "
                                  "(this one is %(s)s)") % {"s": Mine.Status(mine.status).label})
    errors = {}
    if not (statement or "").strip():
        errors["statement"] = _("state how the mine is ready to resume")
    if planned_resumption is None:
        errors["planned_resumption"] = _("required")
    elif planned_resumption < timezone.localdate():
        errors["planned_resumption"] = _("cannot be in the past")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if ResumptionApplication.objects.select_for_update().filter(mine=mine, status__in=OPEN).exists():
            raise InvalidTransition(_("this mine already has an open application"))
        application = ResumptionApplication.objects.create(
            mine=mine, planned_resumption=planned_resumption, statement=statement.strip(), applied_by=actor,
            applied_at=timezone.now())
        audit.record(actor, AuditEvent.Action.CREATE, application, after=audit.snapshot(application))
        _notify_regulators(application, _("Resumption applied for: %(m)s") % {"m": mine.name})
    return application


def withdraw(actor: User, application: ResumptionApplication) -> ResumptionApplication:
    require_owner(actor, application.mine)
    if application.status != A.APPLIED:
        raise InvalidTransition(_("only an application not yet being checked can be withdrawn"))
    return _transition(actor, application, A.WITHDRAWN)


def start_check(actor: User, application: ResumptionApplication, *, team: str) -> ResumptionApplication:
    """The county opens the acceptance check: the checklist is copied from the catalogue and the computed
    items are judged at once."""
    require_regulator(actor, application.mine)
    if application.status != A.APPLIED:
        raise InvalidTransition(_("the check can start only on a new application"))
    if not (team or "").strip():
        raise ValidationError({"team": _("name the acceptance team")})
    with transaction.atomic():
        current = _transition(actor, application, A.CHECKING, team=team.strip())
        AcceptanceItem.objects.bulk_create([AcceptanceItem(
            application=current, code=entry["code"], title=label(entry)[:300], computed=bool(entry.get("check")),
            precondition=bool(entry.get("precondition"))) for entry in catalogue()["resumption"]["checklist"]])
        refresh_computed(current)
    return current


def refresh_computed(application: ResumptionApplication) -> None:
    """Judge the computed items again from today's data (a hazard may have been closed meanwhile)."""
    checks = {e["code"]: e.get("check") for e in catalogue()["resumption"]["checklist"]}
    now = timezone.now()
    changes = []
    for item in application.items.filter(computed=True):
        check = COMPUTED_CHECKS.get(checks.get(item.code) or "")
        if check is None:
            passed, evidence = False, _("the catalogue names an unknown check %(c)s") % {"c": checks.get(item.code)}
        else:
            passed, evidence = check(application.mine)
        result = AcceptanceItem.Result.PASSED if passed else AcceptanceItem.Result.FAILED
        if (item.result, item.evidence if passed else item.reason) != (result, evidence):
            before = {"result": item.result, "evidence": item.evidence, "reason": item.reason}
            item.result, item.checked_at, item.checked_by = result, now, None
            item.evidence, item.reason = (evidence, "") if passed else ("", evidence)
            item.save()
            changes.append(audit.Change(AuditEvent.Action.UPDATE, item, before=before, after={
                "result": item.result, "evidence": item.evidence, "reason": item.reason}))
    audit.record_many("system", changes)


def failing_precondition(application: ResumptionApplication) -> AcceptanceItem | None:
    return application.items.filter(precondition=True).exclude(result=AcceptanceItem.Result.PASSED).first()


def record_item(actor: User, item: AcceptanceItem, *, passed: bool, evidence: str = "",
                reason: str = "") -> AcceptanceItem:
    """The team's judgement of one manual item: a pass needs evidence, a failure its reason."""
    application = item.application
    require_regulator(actor, application.mine)
    if application.status != A.CHECKING:
        raise InvalidTransition(_("the application is not being checked"))
    if item.computed:
        raise InvalidTransition(_("this item is judged from the platform's data, not by hand"))
    blocking = failing_precondition(application)
    if blocking and blocking.pk != item.pk:
        raise InvalidTransition(_("the precondition \"%(t)s\" has not passed: %(r)s") % {
            "t": blocking.title, "r": blocking.reason or _("not yet checked")})
    evidence, reason = (evidence or "").strip(), (reason or "").strip()
    if passed and not evidence:
        raise ValidationError({"evidence": _("an item passes only with its evidence")})
    if not passed and not reason:
        raise ValidationError({"reason": _("say why the item fails")})
    with transaction.atomic():
        audit.lock_chain()
        current = AcceptanceItem.objects.select_for_update().get(pk=item.pk)
        before = {"result": current.result, "evidence": current.evidence, "reason": current.reason}
        current.result = AcceptanceItem.Result.PASSED if passed else AcceptanceItem.Result.FAILED
        current.evidence, current.reason = (evidence, "") if passed else ("", reason)
        current.checked_by, current.checked_at = actor, timezone.now()
        current.save()
        audit.record(actor, AuditEvent.Action.UPDATE, current, before=before, after={
            "result": current.result, "evidence": current.evidence, "reason": current.reason})
    return current


def decide(actor: User, application: ResumptionApplication, *, note: str = "") -> ResumptionApplication:
    """Every item passed: accepted, and the mine goes back to work. Any failed item: refused, with the items
    and their reasons as the decision. Unchecked items: no decision yet."""
    require_regulator(actor, application.mine)
    if application.status != A.CHECKING:
        raise InvalidTransition(_("the application is not being checked"))
    with transaction.atomic():
        refresh_computed(application)
        items = list(application.items.all())
        pending = [i.title for i in items if i.result == AcceptanceItem.Result.PENDING]
        if pending:
            raise InvalidTransition(_("not yet checked: %(items)s") % {"items": "; ".join(pending)})
        failed = [i for i in items if i.result == AcceptanceItem.Result.FAILED]
        now = timezone.now()
        if failed:
            text = "\n".join(f"{i.title}: {i.reason}" for i in failed)
            if note.strip():
                text += "\n" + note.strip()
            decided = _transition(actor, application, A.REFUSED, decided_by=actor, decided_at=now,
                                  decision_note=text)
            notify.send(_("Resumption refused: %(m)s") % {"m": application.mine.name}, text,
                        application_link(decided), organisations=[application.mine.enterprise.organisation])
            return decided
        decided = _transition(actor, application, A.ACCEPTED, decided_by=actor, decided_at=now,
                              decision_note=note.strip() or _("all items passed"))
        mine = Mine.objects.get(pk=application.mine_id)
        if mine.status not in RESUMES:
            raise InvalidTransition(_("the mine is no longer suspended (%(s)s)") % {
                "s": Mine.Status(mine.status).label})
        change_status(actor, mine, RESUMES[mine.status], reason=_("resumption accepted (application %(n)d)") % {
            "n": decided.pk}, via=VIA_ACCEPTANCE)
        notify.send(_("Resumption accepted: %(m)s") % {"m": mine.name}, decided.decision_note,
                    application_link(decided), organisations=[mine.enterprise.organisation])
    return decided
