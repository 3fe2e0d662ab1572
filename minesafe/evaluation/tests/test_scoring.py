"""Each computed item of the quarterly sheet against hand-built records, with its edge cases (no plan, zero
denominators, zero penalties, late and missing reports, a mine closed or moved mid-quarter), and the flags."""

import datetime as dt

import pytest
from django.db.models import F

from minesafe.enforcement.models import InspectionPlan
from minesafe.evaluation import scoring
from minesafe.evaluation.scoring import Quarter
from minesafe.hazards.models import Hazard
from minesafe.inspections.models import Inspection
from minesafe.penalties.models import PenaltyCase
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from . import factories as f

pytestmark = pytest.mark.django_db
Q3 = Quarter(2026, 3)
TODAY = dt.date(2026, 11, 30)
H = Hazard.Source


def sheet(county, quarter=Q3, today=TODAY):
    return scoring.compute_sheet(county, quarter, today=today)


def item(result, code):
    return next(i for i in result["items"] if i["code"] == code)


def flags(result):
    return {fl["code"]: fl for fl in result["flags"]}


# Quarters ------------------------------------------------------------------------------------------
def test_quarter_bounds_and_the_previous_quarter():
    assert (Q3.start, Q3.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert Quarter(2024, 1).end == dt.date(2024, 3, 31) and Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert Quarter.of(dt.date(2026, 11, 30)) == Quarter(2026, 4)
    with pytest.raises(ValueError):
        Quarter(2026, 5)


def test_a_quarter_not_begun_cannot_be_computed(personas):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        sheet(personas.county_a_region, Quarter(2027, 1))
    assert "quarter" in exc.value.message_dict


def test_the_shipped_catalogue_is_valid_and_adds_up_to_100():
    cat = scoring.catalogue()
    assert sum(i["max"] for i in cat["items"]) == 100 and cat["confidence"] == "unverified"
    broken = {**cat, "items": [*cat["items"][:-1]]}
    with pytest.raises(ValueError, match="not 100"):
        scoring.validate_catalogue(broken)
    with pytest.raises(ValueError, match="no computation"):
        scoring.validate_catalogue({**cat, "items": [{**cat["items"][0], "code": "nonsense"}, *cat["items"][1:]]})


def test_linear_curve_is_capped_at_the_maximum():
    assert scoring.linear(0.5, 1.0, 10) == scoring.cents(5)
    assert scoring.linear(0.3, 0.2, 15) == scoring.cents(15)
    assert scoring.linear(0, 0.2, 15) == scoring.cents(0)


# Inspections against plan ------------------------------------------------------------------------
def test_inspections_count_against_the_plan_due_to_date_capped_per_mine(personas):
    p = personas
    org = f.county_org(p.county_a_region)
    f.plan(org, 2026, [(p.mine_a, 4), (p.mine_a2, 12), (p.pond_a, 2)], p.city)
    for day in (dt.date(2026, 2, 1), dt.date(2026, 5, 1), dt.date(2026, 8, 1)):  # 3 done, 2 due: 2 count
        f.inspection(p.mine_a, org, day, p.county_a)
    for month in range(1, 6):
        f.inspection(p.mine_a2, org, dt.date(2026, month, 10), p.county_a)
    f.inspection(p.pond_a, org, dt.date(2026, 9, 1), p.county_a, status=Inspection.Status.IN_PROGRESS)
    f.inspection(p.pond_a, f.county_org(p.county_b_region), dt.date(2026, 9, 2), p.county_b)  # another body's
    f.inspection(p.pond_a, org, dt.date(2025, 12, 20), p.county_a)  # last year
    f.inspection(p.mine_a, org, dt.date(2026, 10, 2), p.county_a)  # after the quarter
    result = item(sheet(p.county_a_region), "inspections")
    # The enforcement app's plan progress: by the end of September 9 of 12 months have passed, so 3, 9 and 1
    # visits are due; completed visits count up to each entry's visits a year (3, 5 and 0).
    assert (result["numerator"], result["denominator"]) == (3 + 5 + 0, 13)
    assert result["score"] == 15.38  # 25 × 8/13
    rows = {r["mine_code"]: r for r in result["records"]}
    assert rows["KC-001"] == {**rows["KC-001"], "due": 3, "completed": 3, "counted": 3, "behind": False}
    assert rows["KC-T01"]["behind"] and rows["KC-002"]["behind"] and result["inputs"]["entries_behind"] == 2
    assert "no_plan" not in flags(sheet(p.county_a_region))
    # Without the enforcement app's function the evaluation reads the plan itself: Jan 1 – Sep 30 is 273 of 365
    # days, due floor(4×273/365)=2, floor(12×273/365)=8, floor(2×273/365)=1, done capped at the number due.
    own = scoring.own_plan_progress(org, 2026, dt.date(2026, 9, 30))
    assert (own["done_to_date"], own["planned_to_date"]) == (2 + 5 + 0, 11)
    assert [(r["due"], r["counted"]) for r in own["entries"]] == [(2, 2), (8, 5), (1, 0)]


def test_no_approved_plan_scores_zero_and_is_flagged(personas):
    p = personas
    f.plan(f.county_org(p.county_b_region), 2026, [(p.mine_b, 4)], p.city, status=InspectionPlan.Status.DRAFT)
    result = sheet(p.county_b_region)
    assert item(result, "inspections")["status"] == "no_plan" and item(result, "inspections")["score"] == 0
    assert flags(result)["no_plan"]["count"] == 1


def test_a_plan_with_nothing_due_yet_scores_full(personas):
    p = personas
    f.plan(f.county_org(p.county_b_region), 2026, [(p.mine_b, 1)], p.city)
    result = item(sheet(p.county_b_region, Quarter(2026, 1)), "inspections")  # 1 visit a year: none due by March
    assert (result["denominator"], result["status"], result["score"]) == (0, "empty", 25.0)


# Penalties ---------------------------------------------------------------------------------------
def test_penalties_count_decided_cases_per_completed_inspection(personas):
    p = personas
    org = f.county_org(p.county_a_region)
    for day in range(1, 21):
        f.inspection(p.mine_a, org, dt.date(2026, 7, day), p.county_a)
    f.penalty(p.mine_a, org, dt.date(2026, 7, 20), p.county_a, enterprise_fine=50000, person_fine=10000)
    f.penalty(p.mine_a2, org, dt.date(2026, 9, 30), p.county_a, enterprise_fine=30000,
              status=PenaltyCase.Status.PAID)
    f.penalty(p.mine_a2, org, None, p.county_a, status=PenaltyCase.Status.OPENED)
    f.penalty(p.mine_a2, org, dt.date(2026, 8, 1), p.county_a, status=PenaltyCase.Status.WITHDRAWN)
    f.penalty(p.mine_a2, org, dt.date(2026, 6, 30), p.county_a)  # decided in Q2
    result = item(sheet(p.county_a_region), "penalties")
    assert (result["numerator"], result["denominator"], result["value"]) == (2, 20, 0.1)
    assert result["score"] == 7.5  # 15 × 0.1 / 0.2
    assert result["inputs"] == {"enterprise_fines": 80000.0, "person_fines": 10000.0, "inspections": 20}
    assert [r["decided_on"] for r in result["records"]] == ["2026-07-20", "2026-09-30"]


def test_zero_penalties_with_inspections_scores_zero_and_is_flagged(personas):
    p = personas
    org = f.county_org(p.county_b_region)
    for day in (1, 2, 3):
        f.inspection(p.mine_b, org, dt.date(2026, 8, day), p.county_b)
    result = sheet(p.county_b_region)
    assert item(result, "penalties")["status"] == "zero_penalty" and item(result, "penalties")["score"] == 0
    assert flags(result)["zero_penalty"]["count"] == 1


def test_no_inspections_means_no_penalty_rate_and_no_zero_penalty_flag(personas):
    result = sheet(personas.county_b_region)
    penalties = item(result, "penalties")
    assert (penalties["denominator"], penalties["status"], penalties["score"]) == (0, "empty", 0.0)
    assert "zero_penalty" not in flags(result)


# Major hazards closed on time --------------------------------------------------------------------
def test_hazards_due_in_the_quarter_count_when_closed_by_their_deadline(personas):
    p = personas
    kw = {"source": H.COUNTY_INSPECTION, "by": p.county_a}
    f.hazard(p.mine_a, "UG-01", found_on=dt.date(2026, 6, 1), deadline=dt.date(2026, 7, 10),
             closed_at=f.at(dt.date(2026, 7, 10), 23, 30), **kw)  # late evening of the deadline: on time
    f.hazard(p.mine_a, "UG-02", found_on=dt.date(2026, 7, 1), deadline=dt.date(2026, 8, 1),
             closed_at=f.at(dt.date(2026, 8, 5)), **kw)
    f.hazard(p.mine_a2, "UG-01", found_on=dt.date(2026, 8, 1), deadline=dt.date(2026, 9, 30), **kw)  # still open
    f.hazard(p.mine_a2, "UG-02", found_on=dt.date(2026, 8, 1), deadline=dt.date(2026, 9, 15),
             status=Hazard.Status.CANCELLED, **kw)
    f.hazard(p.mine_a2, "UG-03", found_on=dt.date(2026, 9, 1), deadline=dt.date(2026, 10, 2), **kw)  # due in Q4
    f.hazard(p.mine_b, "OP-01", found_on=dt.date(2026, 7, 1), deadline=dt.date(2026, 7, 20), source=H.CITY_INSPECTION,
             by=p.city)  # county B's
    result = item(sheet(p.county_a_region), "hazards_on_time")
    assert (result["numerator"], result["denominator"], result["score"]) == (1, 3, 5.0)
    assert [r["counted"] for r in result["records"]] == [True, False, False]


def test_no_hazard_due_scores_full(personas):
    result = item(sheet(personas.county_b_region), "hazards_on_time")
    assert (result["denominator"], result["status"], result["score"]) == (0, "empty", 15.0)


# Monthly ledger ----------------------------------------------------------------------------------
def test_ledger_mine_months_due_in_the_quarter_count_when_submitted_by_the_due_date(personas):
    p = personas
    june, july, aug = dt.date(2026, 6, 1), dt.date(2026, 7, 1), dt.date(2026, 8, 1)  # due Jul 5, Aug 5, Sep 5
    f.ledger(p.mine_a, june, dt.date(2026, 7, 3))
    f.ledger(p.mine_a, july, dt.date(2026, 8, 7))  # late
    for period in (june, july, aug):
        f.ledger(p.mine_a2, period, registry.ledger_due_for_period(period))  # on the due date: on time
    f.ledger(p.pond_a, june, dt.date(2026, 7, 1))
    f.ledger(p.pond_a, july, dt.date(2026, 8, 1))
    registry.change_status(p.city, p.pond_a, "closed", reason="闭库", effective_date=dt.date(2026, 8, 20))
    registry.create_mine(p.city, code="KC-NEW", name="宽城新矿", enterprise=p.enterprise_a, county=p.county_a_region,
                         mine_type=Mine.Type.UNDERGROUND, status_since=dt.date(2026, 8, 10))
    result = item(sheet(p.county_a_region), "ledger_on_time")
    # mine_a 3 + mine_a2 3 + pond (closed before Aug's due date) 2 + new mine (August only) 1 = 9 owed; 3 late.
    assert (result["numerator"], result["denominator"]) == (6, 9)
    assert result["score"] == 6.67 and result["inputs"]["overdue_mine_months"] == 3
    assert sorted((r["mine_code"], r["month"]) for r in result["records"]) == [
        ("KC-001", "2026-07"), ("KC-001", "2026-08"), ("KC-NEW", "2026-08")]


# Self-checks -------------------------------------------------------------------------------------
def test_self_checks_are_owed_by_mines_producing_on_the_first_of_the_month(personas):
    p = personas
    june, july, aug = dt.date(2026, 6, 1), dt.date(2026, 7, 1), dt.date(2026, 8, 1)
    for period in (june, july, aug):
        f.self_check(p.mine_a, period, p.ent_a)
    f.self_check(p.mine_a2, june, p.city)
    registry.change_status(p.city, p.pond_a, "suspended", reason="停产", effective_date=dt.date(2026, 7, 15))
    registry.create_mine(p.city, code="KC-P01", name="宽城选矿厂", enterprise=p.enterprise_a, county=p.county_a_region,
                         mine_type=Mine.Type.PROCESSING_PLANT, scale_class="small", status_since=dt.date(2024, 1, 1))
    result = item(sheet(p.county_a_region), "self_check")
    # mine_a 3/3, mine_a2 1/3, pond owes June and July (suspended by August) and files none; no plant owes one.
    assert (result["numerator"], result["denominator"], result["score"]) == (4, 8, 5.0)
    assert sorted((r["mine_code"], r["month"]) for r in result["records"]) == [
        ("KC-002", "2026-07"), ("KC-002", "2026-08"), ("KC-T01", "2026-06"), ("KC-T01", "2026-07")]


# Whistleblower reports ---------------------------------------------------------------------------
def test_reports_whose_last_deadline_fell_in_the_quarter_count_when_every_step_was_on_time(personas):
    p = personas
    a, b = p.county_a_region, p.county_b_region
    d = dt.date
    f.tipoff(a, f.at(d(2026, 6, 10)), status="feedback_given", accepted_at=f.at(d(2026, 6, 11)),
             verified_at=f.at(d(2026, 6, 20)), feedback_at=f.at(d(2026, 7, 5)))  # on time
    f.tipoff(a, f.at(d(2026, 7, 1)), status="feedback_given", accepted_at=f.at(d(2026, 7, 6)),
             verified_at=f.at(d(2026, 7, 10)), feedback_at=f.at(d(2026, 7, 20)))  # accepted late
    f.tipoff(a, f.at(d(2026, 8, 1)), status="feedback_given", rejected_at=f.at(d(2026, 8, 2)),
             feedback_at=f.at(d(2026, 8, 20)))  # not accepted: owes no verification; on time
    f.tipoff(a, f.at(d(2026, 8, 20)), status="accepted", accepted_at=f.at(d(2026, 8, 21)))  # no feedback by Sep 19
    f.tipoff(a, f.at(d(2026, 9, 10)), status="received")  # feedback due in October
    f.tipoff(b, f.at(d(2026, 7, 1)), status="received", handling_county=b)
    f.tipoff(b, f.at(d(2026, 7, 2)), status="received", handling_county=a)  # reassigned to A: counts for A
    result = item(sheet(a), "tipoffs_on_time")
    assert (result["numerator"], result["denominator"], result["score"]) == (2, 5, 4.0)
    late = {r["received_at"][:10]: r["late_steps"] for r in result["records"]}
    assert late["2026-07-01"] == ["accept"] and late["2026-08-20"] == ["verify", "feedback"]
    assert late["2026-08-01"] == []


# Flags -------------------------------------------------------------------------------------------
def test_reverse_accountability_flags_hazards_found_by_others_after_a_county_visit(personas):
    p = personas
    org_a, org_b = f.county_org(p.county_a_region), f.county_org(p.county_b_region)
    f.inspection(p.mine_a, org_a, dt.date(2026, 7, 1), p.county_a)
    f.inspection(p.mine_a, org_b, dt.date(2026, 7, 5), p.county_b)  # cross-county visit by B
    f.inspection(p.mine_a2, org_a, dt.date(2026, 5, 1), p.county_a)  # too long before
    missed = f.hazard(p.mine_a, "UG-01", source=H.CITY_INSPECTION, found_on=dt.date(2026, 7, 20), by=p.city)
    f.hazard(p.mine_a, "UG-02", source=H.COUNTY_INSPECTION, found_on=dt.date(2026, 7, 1), by=p.county_a)
    f.hazard(p.mine_a, "UG-02", source=H.TIPOFF, found_on=dt.date(2026, 7, 25), by=p.city)  # the county reported it
    f.hazard(p.mine_a, "UG-03", source=H.SELF_CHECK, found_on=dt.date(2026, 7, 10), by=p.ent_a)  # not by others
    f.hazard(p.mine_a2, "UG-01", source=H.TIPOFF, found_on=dt.date(2026, 7, 10), by=p.city)  # visit 70 days before
    result = flags(sheet(p.county_a_region))["reverse_accountability"]
    assert [(r["record"], r["inspected_on"], r["days"]) for r in result["records"]] == [
        (missed.number, "2026-07-01", 19)]
    assert result["deduction"] == 2.0
    cross = flags(sheet(p.county_b_region))["reverse_accountability"]["records"]  # B's visit missed it too
    assert [(r["record"], r["days"]) for r in cross] == [(missed.number, 15)]


def test_fatal_accidents_flag_the_county_and_a_missed_accident_counts_for_reverse_accountability(personas):
    p = personas
    org = f.county_org(p.county_a_region)
    f.inspection(p.mine_a2, org, dt.date(2026, 8, 1), p.county_a)
    f.accident(p.mine_a2, f.at(dt.date(2026, 8, 15)), p.county_a, deaths=1)
    f.accident(p.mine_a, f.at(dt.date(2026, 9, 1)), p.county_a, deaths=2)
    f.accident(p.mine_a, f.at(dt.date(2026, 9, 2)), p.county_a, near_miss=True)
    f.accident(p.mine_a, f.at(dt.date(2026, 10, 2)), p.county_a, deaths=1)  # Q4
    result = sheet(p.county_a_region)
    found = flags(result)
    assert found["fatal_accident"]["count"] == 2 and found["fatal_accident"]["deduction"] == 10.0  # capped at 10
    assert [(r["kind"], r["days"]) for r in found["reverse_accountability"]["records"]] == [("accident", 14)]
    assert result["deductions"] == 12.0 and result["total"] == round(result["subtotal"] - 12.0, 2)


def test_the_total_never_goes_below_zero(personas):
    p = personas
    for day in range(1, 6):
        f.accident(p.mine_a, f.at(dt.date(2026, 8, day)), p.county_a, deaths=1)
    cat = scoring.catalogue()
    cat["flags"]["fatal_accident"] = {"deduction": 50, "deduction_cap": 200}
    result = scoring.compute_sheet(p.county_a_region, Q3, today=TODAY, cat=cat)
    assert result["deductions"] == 200.0 and result["total"] == 0.0


# A mine moved to another county ------------------------------------------------------------------
def test_a_mine_moved_to_another_county_counts_for_its_county_when_computed(personas):
    """The registry keeps no history of a mine's county: a live sheet counts the mine for its county now."""
    p = personas
    f.hazard(p.mine_a, "UG-01", source=H.COUNTY_INSPECTION, found_on=dt.date(2026, 7, 1), by=p.county_a,
             deadline=dt.date(2026, 7, 20), closed_at=f.at(dt.date(2026, 7, 19)))
    assert item(sheet(p.county_a_region), "hazards_on_time")["denominator"] == 1
    Mine.objects.filter(pk=p.mine_a.pk).update(county=p.county_b_region, updated_at=F("updated_at"))
    assert item(sheet(p.county_a_region), "hazards_on_time")["denominator"] == 0
    assert item(sheet(p.county_b_region), "hazards_on_time")["denominator"] == 1


def test_a_running_quarter_counts_up_to_today(personas):
    result = sheet(personas.county_a_region, Quarter(2026, 4), today=dt.date(2026, 11, 30))
    assert result["until"] == "2026-11-30" and result["end"] == "2026-12-31"
    assert result["pending_manual"] == ["documents", "case_files", "satisfaction"]


def test_a_major_finding_recorded_on_the_visit_is_not_a_miss(personas):
    """The inspections app's checklist finding of the same item on the county's visit counts as reported."""
    finding = pytest.importorskip("minesafe.inspections.models").__dict__.get("Finding")
    if finding is None:
        pytest.skip("the inspections app has no findings")
    from minesafe.hazards.models import HazardItem

    p = personas
    org = f.county_org(p.county_a_region)
    visit = f.inspection(p.mine_a, org, dt.date(2026, 7, 1), p.county_a)
    finding.objects.create(inspection=visit, description="安全出口不畅", major=True, created_by=p.county_a,
                           hazard_item=HazardItem.objects.get(code="UG-01", catalogue__active=True),
                           deadline=dt.date(2026, 7, 30))
    f.hazard(p.mine_a, "UG-01", source=H.CITY_INSPECTION, found_on=dt.date(2026, 7, 20), by=p.city)
    missed = f.hazard(p.mine_a, "UG-02", source=H.MONITORING, found_on=dt.date(2026, 7, 21), by=p.city)
    records = flags(sheet(p.county_a_region))["reverse_accountability"]["records"]
    assert [r["record"] for r in records] == [missed.number]


def test_a_hazard_already_on_record_at_the_visit_is_not_a_miss(personas):
    p = personas
    org = f.county_org(p.county_a_region)
    f.hazard(p.mine_a, "UG-01", source=H.SELF_CHECK, found_on=dt.date(2026, 6, 20), by=p.ent_a,
             deadline=dt.date(2026, 8, 1))  # open when the county visited
    f.hazard(p.mine_a, "UG-02", source=H.SELF_CHECK, found_on=dt.date(2026, 6, 1), by=p.ent_a,
             deadline=dt.date(2026, 6, 20), closed_at=f.at(dt.date(2026, 6, 25)))  # closed before the visit
    f.inspection(p.mine_a, org, dt.date(2026, 7, 1), p.county_a)
    f.hazard(p.mine_a, "UG-01", source=H.REFERRAL, found_on=dt.date(2026, 7, 10), by=p.city)
    again = f.hazard(p.mine_a, "UG-02", source=H.REFERRAL, found_on=dt.date(2026, 7, 11), by=p.city)
    records = flags(sheet(p.county_a_region))["reverse_accountability"]["records"]
    assert [r["record"] for r in records] == [again.number]
