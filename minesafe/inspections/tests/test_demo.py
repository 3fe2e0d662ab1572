"""The demo's year of inspections on the demo city: completed visits with checklists and signatures attesting
them, a few major findings reported as hazards with their orders, exams, some counties behind plan, a few in
progress; with the plans' targets when given; and seeding again adds nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from minesafe.core.audit import verify_chain
from minesafe.core.models import Organisation
from minesafe.hazards.models import Hazard
from minesafe.inspections import services
from minesafe.inspections.demo import seed_inspections
from minesafe.inspections.models import Document, Finding, Inspection, InspectionItem, Method, Signature
from minesafe.web.demo import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_city(reference):
    seed_demo(months=1, monitoring=False, until="inspection_plans")


def test_a_year_of_inspections_on_the_demo_city(demo_city):
    summary = seed_inspections(seed=7)
    today = timezone.localdate()
    completed = Inspection.objects.filter(status=Inspection.Status.COMPLETED)
    assert summary.completed == completed.count() > 300
    assert summary.in_progress == Inspection.objects.filter(status=Inspection.Status.IN_PROGRESS).count() == 3
    assert summary.inspections == Inspection.objects.count()
    first = completed.order_by("inspected_on").first().inspected_on
    assert first >= dt.date(today.year - 1, 12, 1) and completed.order_by("-inspected_on").first().inspected_on < today
    # Every completed inspection has its checklist and both signatures attesting the record as it is.
    assert not completed.filter(items__isnull=True).exists()
    for inspection in completed.order_by("?")[:25]:
        signed = {s.role: s for s in inspection.signatures.all()}
        assert set(signed) == set(Signature.Role.values)
        assert all(s.record_hash == services.record_hash(inspection) for s in signed.values())
    assert Signature.objects.filter(refused=True).exists()
    # Findings: ordinary ones with deadlines (most rectified), a few major ones reported once, with their orders.
    assert summary.findings == Finding.objects.count() > 50
    majors = Finding.objects.filter(major=True)
    assert summary.major_findings == majors.count() == summary.hazards == 8
    assert all(f.hazard and f.hazard.mine_id == f.inspection.mine_id for f in majors)
    assert Hazard.objects.filter(source__in=["county_inspection", "city_inspection"],
                                 inspection_finding__isnull=False).count() == 8
    assert Document.objects.filter(kind=Document.Kind.RECTIFICATION_ORDER).count() == summary.documents == 8
    assert Finding.objects.filter(status=Finding.Status.RECTIFIED).exists()
    assert InspectionItem.objects.filter(result=InspectionItem.Result.HAZARD_FOUND).count() == summary.findings
    # 逢查必考: exams recorded against some inspections, none against others.
    from minesafe.personnel.models import Exam

    linked = Exam.objects.filter(inspection_ref__startswith="JC")
    assert summary.exams == linked.count() > 20 and linked.filter(passed=True).count() == linked.count()
    assert completed.exclude(number__in=linked.values("inspection_ref")).exists()
    # Plans: 兴隆 behind at about 60%, most others near 95%; cross-county and covert visits happen.
    done, planned = summary.by_county["130822"]
    assert 0.45 < done / planned < 0.75
    chengde_done, chengde_planned = summary.by_county["130827"]
    assert chengde_done / chengde_planned > 0.85
    assert completed.filter(method=Method.CROSS_COUNTY).exists() and completed.filter(method=Method.COVERT).exists()
    assert completed.filter(organisation__kind=Organisation.Kind.CITY_BUREAU).exists()
    assert verify_chain().ok
    # Seeding again adds nothing.
    assert seed_inspections(seed=7).inspections == 0 and Inspection.objects.count() == summary.inspections


def test_the_plans_targets_decide_who_visits_how_often(personas):
    """Without the demo city: the fixture mines, with a plan's targets (two bodies, cross-county included)."""
    county_a = Organisation.objects.get(kind="county", region__code="130827")
    county_b = Organisation.objects.get(kind="county", region__code="130822")
    targets = {personas.mine_a.pk: (county_a.pk, 6, ["unannounced", "remote"]),
               personas.pond_a.pk: (county_a.pk, 4, ["unannounced"]),
               personas.mine_a2.pk: (county_b.pk, 2, ["cross_county"]),  # 兴隆's team, assigned by the city
               personas.mine_b.pk: (county_b.pk, 10, ["routine"])}
    summary = seed_inspections(seed=1, targets=targets)
    assert summary.planned == 22
    completed = Inspection.objects.filter(status=Inspection.Status.COMPLETED)
    assert summary.completed == completed.count()
    assert set(completed.filter(mine=personas.mine_a).values_list("method", flat=True)) <= {"unannounced", "remote"}
    assert set(completed.filter(mine=personas.mine_a2).values_list("method", flat=True)) <= {"cross_county"}
    assert not completed.filter(mine=personas.mine_a2).exclude(organisation=county_b).exists()
    assert completed.filter(organisation=county_b).count() == summary.by_county["130822"][0] < 12  # behind plan
    assert completed.filter(organisation=county_a).count() == summary.by_county["130827"][0]
    assert all(i.items.exists() and i.signatures.count() == 2 for i in completed)
