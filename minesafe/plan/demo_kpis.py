"""What the demo city lacks for the plan's KPIs to mean something: the monthly ledger back to January 2023 (so
the 2023 baseline of people underground exists, with more people underground then than now), evacuation drills
about every six months before the single recent one (a few late), and the annual training of principal heads and
five-chief holders in the two years before this one (about nine in ten each year).

Written in bulk with one audit event per record, like the other demo histories. Deterministic for a seed and
idempotent: it only fills months before a mine's first ledger, drills before its first drill, and trainings
missing for a person, kind and year. `web.demo` calls `seed_kpi_history(seed)` after `seed_plan`."""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, User
from minesafe.registry.models import LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.services import add_months, ledger_due_for_period, month_start

BASELINE_FROM = dt.date(2023, 1, 1)
DRILLS_FROM = dt.date(2023, 7, 1)
DRILL_GAPS = [150, 160, 170, 175, 178, 180] * 3 + [200, 215, 240]  # days between drills; the last few are late
MAX_DRILL_GAP = max(DRILL_GAPS)
PEOPLE_DECLINE = 0.08  # January 2023 headcount this much above the first month the demo's ledger has


@dataclass
class KpiHistorySummary:
    ledgers: int = 0
    drills: int = 0
    trainings: int = 0


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _status_on(changes: list[tuple[dt.date, str, str]], day: dt.date) -> str | None:
    status = None
    for effective, old, new in changes:
        if effective > day:
            return status if status is not None else (old or None)
        status = new
    return status


def _ledgers(rng: random.Random, today: dt.date, actor: User) -> list[LedgerSubmission]:
    changes: dict[int, list] = {}
    for mine_id, effective, old, new in MineStatusChange.objects.order_by("mine_id", "effective_date", "id") \
            .values_list("mine_id", "effective_date", "old_status", "new_status"):
        changes.setdefault(mine_id, []).append((effective, old, new))
    first: dict[int, tuple[dt.date, int | None]] = {}
    for mine_id, period, people in LedgerSubmission.objects.order_by("mine_id", "period") \
            .values_list("mine_id", "period", "people_underground"):
        first.setdefault(mine_id, (period, people))
    out = []
    for mine in Mine.objects.order_by("pk").only("pk", "mine_type", "status", "status_since", "people_underground",
                                                 "created_at"):
        history = changes.get(mine.pk, [])
        registered = history[0][0] if history else timezone.localdate(mine.created_at)
        if mine.pk in first:
            until, people = first[mine.pk]
        elif mine.status == Mine.Status.CLOSED and mine.status_since:  # closed before the demo's ledger began
            until, people = add_months(month_start(mine.status_since), 1), mine.people_underground
        else:
            continue
        until = min(until, month_start(today))
        months = []
        period = max(BASELINE_FROM, month_start(registered))
        while period < until:
            months.append(period)
            period = add_months(period, 1)
        underground = mine.mine_type == Mine.Type.UNDERGROUND
        people = (people or mine.people_underground or rng.randint(20, 120)) if underground else None
        for index, period in enumerate(months):
            status = _status_on(history, add_months(period, 1) - dt.timedelta(days=1)) if history else mine.status
            if status is None:
                continue
            if status == Mine.Status.CLOSED and _status_on(history, period - dt.timedelta(days=1)) == \
                    Mine.Status.CLOSED:
                break
            headcount = None
            if underground:
                factor = 1 + PEOPLE_DECLINE * (len(months) - index) / len(months)
                headcount = max(5, round(people * factor) + rng.randint(-3, 3))
            due = ledger_due_for_period(period)
            late = rng.random() < 0.04
            submitted = due + dt.timedelta(days=rng.randint(2, 20)) if late else due - dt.timedelta(
                days=rng.randint(0, 8))
            out.append(LedgerSubmission(
                mine_id=mine.pk, period=period, status=status, people_underground=headcount,
                output=Decimal(rng.randint(0, 90)) / 10 if status == Mine.Status.PRODUCING else Decimal(0),
                submitted_at=_at(min(submitted, today)), submitted_by=actor))
    LedgerSubmission.objects.bulk_create(out, batch_size=2000)
    return out


def _drills(rng: random.Random, actor: User) -> list:
    from minesafe.personnel.models import Drill

    earliest = dict(Drill.objects.filter(kind=Drill.Kind.EVACUATION).values("mine_id").annotate(
        first=Min("held_on")).values_list("mine_id", "first"))
    registered = dict(MineStatusChange.objects.values("mine_id").annotate(first=Min("effective_date"))
                      .values_list("mine_id", "first"))
    out = []
    for mine in Mine.objects.exclude(status=Mine.Status.CLOSED).order_by("pk").only("pk", "code", "mine_type"):
        held_on = earliest.get(mine.pk)
        if held_on is None:
            continue
        floor = max(DRILLS_FROM, registered.get(mine.pk) or DRILLS_FROM)
        if (held_on - floor).days <= MAX_DRILL_GAP:  # already filled back (or nothing to fill)
            continue
        scenario = "井下火灾撤离避险" if mine.mine_type == Mine.Type.UNDERGROUND else "边坡滑塌撤离"
        while True:
            held_on -= dt.timedelta(days=rng.choice(DRILL_GAPS))
            if held_on < floor:
                break
            drill = Drill(mine_id=mine.pk, kind=Drill.Kind.EVACUATION, held_on=held_on, scenario=scenario,
                          participants=rng.randint(12, 80), evidence="演练方案、签到表、现场照片、评估报告",
                          created_by=actor)
            drill.label = f"{mine.code} · {held_on}"  # the audit's object text, without a query per drill
            out.append(drill)
    Drill.objects.bulk_create(out, batch_size=1000)
    return out


def _trainings(seed: int, today: dt.date, actor: User) -> list:
    from minesafe.personnel import common
    from minesafe.personnel.models import Appointment, TrainingProvider, TrainingRecord
    from minesafe.personnel.training import PRINCIPAL_POST

    K = TrainingRecord.Kind
    provider = TrainingProvider.objects.filter(standing=TrainingProvider.Standing.GOOD).order_by("pk").first()
    have = {(person, kind, held_on.year) for person, kind, held_on in TrainingRecord.objects.filter(
        kind__in=[K.PRINCIPAL_ANNUAL, K.CHIEF_ANNUAL], person__isnull=False).values_list("person_id", "kind",
                                                                                        "held_on")}
    out = []
    appointments = Appointment.objects.filter(post__in=[PRINCIPAL_POST, *common.five_post_codes()]) \
        .exclude(mine__status=Mine.Status.CLOSED).order_by("pk").values_list("person_id", "post", "start_date",
                                                                              "end_date")
    for person_id, post, start, end in appointments:
        kind = K.PRINCIPAL_ANNUAL if post == PRINCIPAL_POST else K.CHIEF_ANNUAL
        for year in (today.year - 2, today.year - 1):
            first, last = max(start, dt.date(year, 3, 1)), min(end or dt.date(year, 11, 30), dt.date(year, 11, 30))
            # One draw per person, kind and year: a second run makes the same choice (and so adds nothing).
            rng = random.Random(f"{seed}-{person_id}-{kind}-{year}")
            if first > last or (person_id, kind, year) in have or rng.random() >= 0.9:
                continue
            held_on = first + dt.timedelta(days=rng.randint(0, (last - first).days))
            have.add((person_id, kind, year))
            out.append(TrainingRecord(kind=kind, person_id=person_id, provider=provider, held_on=held_on,
                                      hours=Decimal(48), passed=True, created_by=actor))
    TrainingRecord.objects.bulk_create(out, batch_size=1000)
    return out


def seed_kpi_history(seed: int = 2026, today: dt.date | None = None) -> KpiHistorySummary:
    summary = KpiHistorySummary()
    actor = User.objects.filter(role=User.Role.CITY, is_superuser=False).order_by("pk").first()
    if actor is None or not Mine.objects.exists():
        return summary
    rng = random.Random(seed + 96)
    today = today or timezone.localdate()
    with transaction.atomic():
        ledgers = _ledgers(rng, today, actor)
        drills = _drills(rng, actor)
        trainings = _trainings(seed, today, actor)
        A = AuditEvent.Action.IMPORT
        audit.record_many(actor, [audit.Change(A, x, after={"period": x.period.isoformat(), "status": x.status,
                                                            "people_underground": x.people_underground})
                                  for x in ledgers]
                          + [audit.Change(A, x, object_repr=x.label, after={"held_on": x.held_on.isoformat()})
                             for x in drills]
                          + [audit.Change(A, x, after={"kind": x.kind, "held_on": x.held_on.isoformat()})
                             for x in trainings])
    summary.ledgers, summary.drills, summary.trainings = len(ledgers), len(drills), len(trainings)
    return summary
