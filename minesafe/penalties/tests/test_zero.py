"""The zero-penalty flag (零处罚 / 只检查不处罚) with hand-made inspections: which county is flagged for a period and
why, the thresholds, the periods, and the monthly job that tells the city once per period."""

import pytest
from django.apps import apps

from minesafe.core.models import Notification
from minesafe.inspections.models import Inspection
from minesafe.penalties import zero
from minesafe.penalties.models import ZeroPenaltyRun

from .conftest import D, decide, inspect, notify, open_case

pytestmark = pytest.mark.django_db
Q3 = (D(2026, 7, 1), D(2026, 9, 30))


def inspections(personas, which: str, days, status=Inspection.Status.COMPLETED):
    user = getattr(personas, f"county_{which}")
    mine = personas.mine_a if which == "a" else personas.mine_b
    return [inspect(mine, user.organisation, day, user, status=status) for day in days]


def flagged_codes(start, end) -> dict[str, list[str]]:
    return {row.region.code: row.reasons for row in zero.zero_penalty_counties(start, end)}


def test_a_county_that_inspects_but_decides_nothing_is_flagged(personas):
    inspections(personas, "a", [D(2026, 7, 10), D(2026, 8, 3), D(2026, 9, 20)])
    inspections(personas, "b", [D(2026, 7, 11), D(2026, 8, 4), D(2026, 9, 21)])
    case = open_case(personas, opened_on=D(2026, 8, 5))
    notify(personas, case, notified_on=D(2026, 8, 6))
    decide(personas, case, decided_on=D(2026, 8, 20), served_on=D(2026, 8, 21))
    assert flagged_codes(*Q3) == {"130822": [zero.NO_DECIDED_CASE]}
    rows = {r.region.code: r for r in zero.county_enforcement(*Q3)}
    assert rows["130827"].completed_inspections == 3 and rows["130827"].decided_cases == 1
    assert rows["130822"].decided_cases == 0 and rows["130822"].flagged


def test_cases_decided_outside_the_period_and_unfinished_inspections_do_not_count(personas):
    inspections(personas, "a", [D(2026, 7, 10), D(2026, 8, 3), D(2026, 9, 20)])
    inspections(personas, "b", [D(2026, 7, 10), D(2026, 8, 3)])
    inspections(personas, "b", [D(2026, 9, 1)], status=Inspection.Status.IN_PROGRESS)
    inspections(personas, "b", [D(2026, 9, 2)], status=Inspection.Status.CANCELLED)
    case = open_case(personas, opened_on=D(2026, 10, 1))
    decide(personas, notify(personas, case))  # decided 2026-10-15: Q4
    assert flagged_codes(*Q3) == {"130827": [zero.NO_DECIDED_CASE]}  # 兴隆: 2 completed, below the threshold
    assert flagged_codes(D(2026, 10, 1), D(2026, 12, 31)) == {}


def test_major_hazards_found_without_any_case_are_flagged(personas):
    visits = inspections(personas, "b", [D(2026, 8, 1)])
    Finding = apps.get_model("inspections", "Finding")
    Finding.objects.create(inspection=visits[0], description="尾矿库干滩长度不足", major=True, deadline=D(2026, 9, 1),
                           created_by=personas.county_b)
    assert flagged_codes(*Q3) == {"130822": [zero.MAJOR_HAZARDS_WITHOUT_CASE]}
    case = open_case(personas, actor=personas.county_b, mine=personas.mine_b, opened_on=D(2026, 8, 2))
    assert case.organisation == personas.county_b.organisation
    assert flagged_codes(*Q3) == {}  # a case is open: not "found but no case"


def test_periods_months_and_quarters():
    assert zero.month(2026, 2) == (D(2026, 2, 1), D(2026, 2, 28))
    assert zero.month(2026, 12) == (D(2026, 12, 1), D(2026, 12, 31))
    assert zero.quarter(2026, 3) == Q3 and zero.parse_period("2026-Q3") == Q3
    assert zero.parse_period("2026-09") == (D(2026, 9, 1), D(2026, 9, 30))
    for bad in ("", "2026", "2026-13", "2026-Q5", "abc-de", "1900-01"):
        assert zero.parse_period(bad) is None
    assert zero.previous_periods(D(2026, 10, 1)) == [zero.month(2026, 9), Q3]
    assert zero.previous_periods(D(2026, 11, 30)) == [zero.month(2026, 10)]
    assert zero.previous_periods(D(2027, 1, 1)) == [zero.month(2026, 12), zero.quarter(2026, 4)]


def test_the_monthly_job_tells_the_city_once_per_period(personas):
    inspections(personas, "b", [D(2026, 9, 2), D(2026, 9, 12), D(2026, 9, 22)])
    runs = zero.run_monthly(D(2026, 10, 1))
    assert [(r.period_start, r.period_end) for r in runs] == [zero.month(2026, 9), Q3]
    assert [f["county"] for f in runs[0].flagged] == ["130822"]
    notes = Notification.objects.filter(recipient=personas.city, subject__startswith="Zero-penalty counties")
    assert notes.count() == 2 and "兴隆县" in notes.first().body
    assert not Notification.objects.filter(recipient=personas.county_b, subject__startswith="Zero-penalty").exists()
    assert zero.run_monthly(D(2026, 10, 1)) == []  # the job ran again: nothing sent twice
    assert ZeroPenaltyRun.objects.count() == 2 and notes.count() == 2


def test_the_periodic_task_runs_the_check(personas):
    from minesafe.penalties.tasks import flag_zero_penalty_counties_monthly

    inspections(personas, "a", [D(2026, 10, 2), D(2026, 10, 12), D(2026, 10, 22)])
    assert flag_zero_penalty_counties_monthly.call_local() >= 1
    assert ZeroPenaltyRun.objects.filter(flagged__isnull=False).exists()


def test_the_thresholds_are_data(personas):
    inspections(personas, "b", [D(2026, 7, 10)])
    rows = zero.county_enforcement(*Q3, limits={"min_completed_inspections": 1, "min_major_hazards": 1})
    assert [r.region.code for r in rows if r.flagged] == ["130822"]
    assert zero.thresholds() == {"min_completed_inspections": 3, "min_major_hazards": 1}
    assert flagged_codes(*Q3) == {}
