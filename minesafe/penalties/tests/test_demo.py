"""The demo's penalty cases: a year of cases from the demo's inspections through the services, most paid, one
overdue with a late fee, one withdrawn, and 丰宁 flagged for inspecting without penalties in the last quarter."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from minesafe.core.audit import verify_chain
from minesafe.core.models import Organisation, User
from minesafe.inspections.models import Inspection
from minesafe.penalties import services
from minesafe.penalties.demo import ZERO_COUNTY, last_quarter, seed_penalties
from minesafe.penalties.models import PenaltyCase
from minesafe.registry.models import Mine
from minesafe.web.demo import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_city(reference):
    seed_demo(months=1, monitoring=False, until="inspection_plans")


def hand_made_inspections(today: dt.date) -> int:
    """What the inspections demo will provide: each county inspects some of its mines through the year."""
    rng = random.Random(5)
    made = []
    for org in Organisation.objects.filter(kind=Organisation.Kind.COUNTY).select_related("region"):
        user = User.objects.filter(role=User.Role.COUNTY, organisation=org).first()
        mines = list(Mine.objects.filter(county=org.region).exclude(status=Mine.Status.CLOSED).order_by("code")[:6])
        days = [10 + 30 * k + rng.randint(0, 9) for k in range(12 if mines else 0)]
        if org.region.code == ZERO_COUNTY:  # 丰宁 keeps inspecting through the quiet quarter
            start, _end = last_quarter(today)
            days += [(today - start).days - offset for offset in (5, 35, 65)]
        for k, back in enumerate(days):
            made.append(Inspection(mine=mines[k % len(mines)], organisation=org, lead_inspector=user,
                                   status=Inspection.Status.COMPLETED, inspected_on=today - dt.timedelta(days=back)))
    Inspection.objects.bulk_create(made)
    return len(made)


def test_the_demo_seeds_a_year_of_cases_through_the_services(demo_city):
    today = timezone.localdate()
    assert hand_made_inspections(today) > 50
    summary = seed_penalties(seed=2026)
    assert not summary.problems, summary.problems
    assert summary.cases >= 20 and summary.decided >= 10 and summary.paid >= summary.decided // 2
    assert summary.withdrawn == 1 and summary.overdue == 1 and summary.closed >= 1 and summary.challenged == 1
    cases = PenaltyCase.objects.all()
    assert cases.count() == summary.cases and not cases.filter(source="direct").exists()
    assert set(cases.values_list("status", flat=True)) >= {"opened", "decided", "paid", "closed", "withdrawn"} - {
        "opened"}
    overdue = cases.payment_overdue(today).get()
    fee = sum(s.late_fee.amount for s in services.fine_states(overdue, as_of=today))
    assert fee > 0
    decided = cases.filter(decision_no__gt="")
    assert decided.values("decision_no").distinct().count() == decided.count()
    for case in decided.filter(benchmark_applied__double_penalty=True):
        assert case.person_fine > 0 and case.person_name
    start, end = last_quarter(today)
    assert ZERO_COUNTY in summary.zero_penalty_counties
    assert not cases.filter(organisation__region__code=ZERO_COUNTY, decided_on__range=(start, end)).exists()
    assert verify_chain().ok
    assert seed_penalties(seed=2026).cases == 0  # seeded already: nothing added


def test_without_inspections_the_demo_opens_cases_directly(personas):
    summary = seed_penalties(seed=3)
    assert summary.cases > 0 and summary.problems
    assert set(PenaltyCase.objects.values_list("source", flat=True)) == {"direct"}
