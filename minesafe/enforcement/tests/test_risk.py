"""The per-mine risk score: each factor on hand-built records (points and the facts in words), caps and band
edges, a new catalogue version changing the score, bulk scoring equal to one mine at a time in a number of
queries that does not grow with the mines, the inspection plan's extra visits and order by risk, and who sees the
ranking, a mine's explanation, the exports and the API."""

import copy
import csv
import datetime as dt
import io
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from minesafe.core.models import Organisation, ReferenceCatalogue
from minesafe.enforcement import plans, risk
from minesafe.enforcement.models import Accident, FollowUpTask, InspectionPlan
from minesafe.hazards import services as hazard_services
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.inspections.models import Document, Finding, Inspection, Method
from minesafe.monitoring.models import Alarm, Level, ProductionFlag
from minesafe.penalties.models import Challenge, PenaltyCase  # penalty history is a factor the penalties app adds
from minesafe.personnel import certificates
from minesafe.personnel.models import Appointment, Certificate, Person
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)
NOW = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
SERIAL = itertools.count(1000)
FIVE = ["mine_manager", "chief_engineer", "deputy_safety", "deputy_production", "deputy_electromech"]

# Weights written out here, so the expectations below are checked by hand against them (not against risk.yaml).
WEIGHTS = {
    "version": "test-1",
    "factors": {
        "hazards": {"open": 10, "overdue": 5, "repeat": 3, "max": 40},
        "alarms": {"window_days": 90, "levels": {"blue": 1, "yellow": 2, "orange": 4, "red": 8}, "late": 3,
                   "max": 30},
        "suspension": {"window_days": 365, "open_flag": 20, "confirmed_flag": 25, "open_order": 15,
                       "onsite_order": 10, "max": 100},
        "personnel": {"statuses": ["producing", "construction"], "five_posts_for": ["underground"], "no_ledger": 8,
                      "vacant_post": 5, "unqualified_overdue": 3, "frequent_changes": 7, "expired_certificate": 2,
                      "review_overdue": 1, "unlicensed": 4, "max": 100},
        "findings": {"window_days": 365, "finding": 1, "major": 3, "overdue": 2, "max": 20},
        "accidents": {"window_days": 365, "near_miss": 3, "accident": 10, "fatal": 25, "larger_or_above": 40,
                      "max": 100},
        "penalties": {"window_days": 365, "decision": 5, "payment_overdue": 3, "max": 20},
        "profile": {"type": {"underground": 12, "open_pit": 8, "tailings_pond": 8, "quarry": 5,
                             "processing_plant": 2},
                    "scale": {"large": 6, "medium": 3, "small": 1},
                    "pond_grade": {"1": 15, "2": 12, "3": 8, "4": 4, "5": 2}, "head_pond": 15, "max": 40},
    },
    "bands": [{"code": "major", "min": 60}, {"code": "high", "min": 40}, {"code": "medium", "min": 20},
              {"code": "low", "min": 0}],
    "plan_visits": {"county": {"low": 0, "medium": 0, "high": 1, "major": 2},
                    "city": {"low": 0, "medium": 0, "high": 0, "major": 1}},
}


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def use_weights(data: dict) -> None:
    """Activate a new version of the risk catalogue (what an administrator's edit does)."""
    ReferenceCatalogue.objects.filter(kind=risk.CATALOGUE).update(active=False)
    ReferenceCatalogue.objects.create(kind=risk.CATALOGUE, version=data["version"], data=data, active=True)


@pytest.fixture
def mines(personas):
    """The personas' mines with known sizes: mine_a large, mine_a2 small, mine_b medium, pond_a grade 4."""
    use_weights(WEIGHTS)
    for mine, scale in ((personas.mine_a, "large"), (personas.mine_a2, "small"), (personas.mine_b, "medium"),
                        (personas.pond_a, "")):
        Mine.objects.filter(pk=mine.pk).update(scale_class=scale, pond_grade=4 if mine == personas.pond_a else None)
        mine.refresh_from_db()
    return personas


def config(code: str) -> dict:
    return WEIGHTS["factors"][code]


def texts(points: risk.Points) -> list[str]:
    return [risk.describe_fact(f) for f in points.facts]


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


# Records, made by hand -------------------------------------------------------------------------
def hazard(personas, mine, **fields) -> Hazard:
    item = next(i for i in HazardItem.objects.filter(catalogue__active=True) if i.fits(mine.mine_type))
    made = hazard_services.report_hazard(personas.county_a if mine.county_id == personas.county_a_region.pk
                                         else personas.county_b, mine, item, source="county_inspection",
                                         found_on=TODAY - dt.timedelta(days=20), description="安全出口堵塞")
    Hazard.objects.filter(pk=made.pk).update(**{"is_repeat": False, **fields})  # (same item again: a repeat)
    return made


def alarm(mine, key: str, level: int, opened: dt.datetime, **fields) -> Alarm:
    deadlines = {"ack_due_at": opened + dt.timedelta(minutes=30), "response_due_at": opened + dt.timedelta(hours=2)}
    return Alarm.objects.create(key=key, mine=mine, source=Alarm.Source.THRESHOLD, level=level, max_level=level,
                                opened_at=opened, **{**deadlines, **fields})


def flag(mine, signal: str, detected: dt.datetime, status=ProductionFlag.Status.OPEN, **fields) -> ProductionFlag:
    return ProductionFlag.objects.create(mine=mine, signal=signal, episode=f"{signal}-{detected:%Y%m%d}",
                                         status=status, detected_at=detected, began_on=detected.date(),
                                         summary="用电量高于停产基线", inspect_by=detected.date() + dt.timedelta(7),
                                         **fields)


def inspection(personas, mine, day: dt.date, status=Inspection.Status.COMPLETED) -> Inspection:
    org = personas.county_a.organisation if mine.county_id == personas.county_a_region.pk \
        else personas.county_b.organisation
    return Inspection.objects.create(mine=mine, organisation=org, method=Method.ROUTINE, inspected_on=day,
                                     status=status, lead_inspector=personas.county_a)


def decision(personas, insp: Inspection, serial: int, measures: list[str]) -> Document:
    """An on-site decision (现场处理措施决定书) as the inspections app keeps it: the measures' words."""
    return Document.objects.create(inspection=insp, kind=Document.Kind.ONSITE_DECISION,
                                   organisation=insp.organisation, year=2026, serial=serial,
                                   number=f"兴隆应急现决〔2026〕{serial}号", file=f"{serial}.docx", size=1,
                                   sha256=f"{serial}" * 64, issued_by=personas.county_b,
                                   issued_at=at(insp.inspected_on), content={"measures": measures})


def finding(personas, insp: Inspection, *, major=False, deadline=TODAY + dt.timedelta(days=10),
            status=Finding.Status.OPEN) -> Finding:
    return Finding.objects.create(inspection=insp, description="x", major=major, deadline=deadline, status=status,
                                  created_by=personas.county_a)


def accident(personas, mine, day: dt.date, *, near_miss=False, deaths=0, grade="general") -> Accident:
    return Accident.objects.create(mine=mine, occurred_at=at(day), place="井下", kind="roof_fall", summary="x",
                                   reporter="regulator", reported_by=personas.city, is_near_miss=near_miss,
                                   deaths=deaths, grade="" if near_miss else grade)


def person(personas, mine, name: str, *, education="college", operations=(), active=True) -> Person:
    return Person.objects.create(mine=mine, name=name, id_number=f"13082719900101{next(SERIAL):04d}",
                                 education=education,
                                 frontline_years=12, core_specialty=True, assigned_operations=list(operations),
                                 active=active, created_by=personas.city)


def appoint(personas, mine, post: str, start=dt.date(2025, 1, 1), **person_fields) -> Appointment:
    holder = person(personas, mine, post, **person_fields)
    return Appointment.objects.create(person=holder, mine=mine, post=post, start_date=start,
                                      created_by=personas.city)


def certificate(personas, holder: Person, category: str, issued: dt.date, **fields) -> Certificate:
    return Certificate.objects.create(person=holder, category=category, number=f"T{next(SERIAL)}",
                                      issued_on=issued, expires_on=issued + dt.timedelta(days=6 * 365),
                                      created_by=personas.city, **fields)


def penalty(personas, mine, decided: dt.date, *, fine=10000, payment_due=None, status="decided") -> PenaltyCase:
    return PenaltyCase.objects.create(mine=mine, organisation=personas.county_a.organisation, status=status,
                                      opened_on=decided - dt.timedelta(days=30), decided_on=decided,
                                      enterprise_fine=fine, person_fine=fine // 10, created_by=personas.county_a,
                                      violation_type="x", facts="x", payment_due=payment_due)


# Each factor -----------------------------------------------------------------------------------
def test_open_major_hazards_count_with_overdue_and_repeat_ones(mines):
    hazard(mines, mines.mine_a, deadline=TODAY - dt.timedelta(days=1), is_repeat=True)
    hazard(mines, mines.mine_a, deadline=TODAY + dt.timedelta(days=5))
    hazard(mines, mines.mine_a, status=Hazard.Status.CLOSED)  # closed: not counted
    hazard(mines, mines.mine_a2, status=Hazard.Status.SUBMITTED, deadline=TODAY - dt.timedelta(days=9))
    got = risk.hazard_factor([mines.mine_a, mines.mine_a2, mines.mine_b], TODAY, config("hazards"))
    assert got[mines.mine_a.pk].points == 2 * 10 + 5 + 3
    assert texts(got[mines.mine_a.pk]) == ["2 open major hazard(s), 1 overdue, 1 repeat offence(s) (屡改屡犯)"]
    # awaiting verification: still open, no longer overdue (the enterprise has done its part)
    assert (got[mines.mine_a2.pk].points, texts(got[mines.mine_a2.pk])) == (10, ["1 open major hazard(s)"])
    assert mines.mine_b.pk not in got


def test_alarms_count_by_level_and_those_not_answered_in_time(mines):
    a = mines.mine_a
    alarm(a, "red", Level.RED, NOW - dt.timedelta(days=10), tier=Alarm.Tier.COUNTY,
          closed_at=NOW - dt.timedelta(days=9))  # escalated for a missed deadline
    alarm(a, "yellow", Level.YELLOW, NOW - dt.timedelta(hours=3))  # open, acknowledgement overdue now
    alarm(a, "blue", Level.BLUE, NOW - dt.timedelta(days=30), status=Alarm.Status.ACKNOWLEDGED,
          acknowledged_at=NOW - dt.timedelta(days=30), response_due_at=NOW + dt.timedelta(hours=1))
    alarm(a, "old", Level.RED, NOW - dt.timedelta(days=120), closed_at=NOW - dt.timedelta(days=119))
    got = risk.alarm_factor([a], TODAY, config("alarms"))[a.pk]
    assert got.points == 8 + 2 + 1 + 2 * 3
    assert texts(got) == ["3 alarm(s) in the last 90 days, 1 Red, 1 Yellow, 1 Blue, "
                          "2 not answered in time (叫应/回应)"]


def test_suspension_signals_flags_and_orders(mines):
    a, b = mines.mine_a, mines.mine_b
    Mine.objects.filter(pk=a.pk).update(status=Mine.Status.SUSPENDED)
    a.refresh_from_db()
    open_flag = flag(a, "electricity", at(dt.date(2026, 10, 2)))
    flag(a, "explosives", at(dt.date(2026, 6, 1)), status=ProductionFlag.Status.CONFIRMED,
         closed_at=at(dt.date(2026, 6, 5)))
    flag(a, "headcount", at(dt.date(2025, 6, 1)), status=ProductionFlag.Status.CONFIRMED,
         closed_at=at(dt.date(2025, 6, 5)))  # confirmed before the window
    flag(a, "headcount", at(dt.date(2026, 9, 1)), status=ProductionFlag.Status.DISMISSED,
         closed_at=at(dt.date(2026, 9, 3)))  # a false flag
    fatal = accident(mines, b, dt.date(2026, 11, 20), deaths=1)
    FollowUpTask.objects.create(mine=b, accident=fatal, kind=FollowUpTask.Kind.SUSPEND_MINE, level="county",
                                assignee=mines.county_b.organisation, title="停产整顿", due_on=dt.date(2026, 11, 21))
    insp = inspection(mines, b, dt.date(2026, 8, 3))
    decision(mines, insp, 3, ["从危险区域内撤出作业人员", "责令暂时停产停业"])
    decision(mines, insp, 4, ["停止使用相关设施、设备"])  # no suspension ordered
    got = risk.suspension_factor([a, b], TODAY, config("suspension"))
    assert [f["points"] for f in got[a.pk].facts] == [25, 20]
    assert texts(got[a.pk]) == ["production during the suspension confirmed 2026-06-05 (explosives)",
                                "suspended but electricity flagged 2026-10-02"]
    assert got[a.pk].facts[1]["url"] == f"/monitoring/suspended/flags/{open_flag.pk}/"
    assert got[b.pk].points == 15 + 10
    assert texts(got[b.pk]) == ["ordered suspended after the accident of 2026-11-20, not done (due 2026-11-21)",
                                "on-site decision 兴隆应急现决〔2026〕3号 of 2026-08-03 ordered production suspended"]


def test_personnel_non_compliance(mines):
    a, a2, b = mines.mine_a, mines.mine_a2, mines.mine_b
    # mine_a: nobody recorded; mine_a2: three of the five chiefs, one of them an incumbent short of the rules
    for post in FIVE[:2]:
        appoint(mines, a2, post)
    appoint(mines, a2, "deputy_safety", start=dt.date(2020, 3, 1), education="high")  # fix by 2025-12-31: overdue
    left = appoint(mines, a2, "deputy_production", start=dt.date(2024, 1, 1))
    Appointment.objects.filter(pk=left.pk).update(end_date=dt.date(2026, 10, 1))  # left: vacant again
    worker = person(mines, a2, "爆破工", education="high", operations=["nm_blasting"])
    certificate(mines, worker, "nm_blasting", dt.date(2020, 1, 1))  # expired 2025-12-30
    electrician = person(mines, a2, "电工", education="high", operations=["electrical"])  # no certificate
    certificate(mines, electrician, "welding", dt.date(2022, 1, 1))  # review due 2025: overdue
    gone = person(mines, a2, "已离职", education="high", active=False)
    certificate(mines, gone, "electrical", dt.date(2019, 1, 1))  # a person who left: not counted
    # mine_b, an open pit, needs no five chiefs; its chiefs change too often
    for i, start in enumerate([dt.date(2026, 2, 1), dt.date(2026, 5, 1), dt.date(2026, 8, 1), dt.date(2026, 10, 1)]):
        held = appoint(mines, b, "mine_manager", start=start)
        Appointment.objects.filter(pk=held.pk).update(end_date=[dt.date(2026, 5, 1), dt.date(2026, 8, 1),
                                                                dt.date(2026, 10, 1), None][i])
    got = risk.personnel_factor([a, a2, b], TODAY, config("personnel"))
    assert (got[a.pk].points, texts(got[a.pk])) == (8, ["no key-post holder recorded"])
    assert got[a2.pk].points == 2 * 5 + 3 + 2 + 1 + 2 * 4
    assert [f["points"] for f in got[a2.pk].facts] == [2 * 5, 3, 2, 1, 2 * 4]
    assert texts(got[a2.pk]) == [
        "no Deputy for production, Deputy for electro-mechanical work in post",
        "1 key-post holder(s) short of the qualification rules past the deadline",
        "1 certificate(s) expired", "1 certificate review(s) overdue",
        "2 special operation(s) without a valid certificate"]
    assert (got[b.pk].points, texts(got[b.pk])) == (7, ["3 changes of the five mine chiefs in 12 months"])


def test_certificate_counts_agree_with_the_personnel_apps_own_lists(mines):
    a, a2, b = mines.mine_a, mines.mine_a2, mines.mine_b
    for mine, offset in ((a, 0), (a2, 400), (b, 800)):
        for i, (category, issued) in enumerate([("nm_blasting", dt.date(2019, 6, 1) + dt.timedelta(offset)),
                                                ("electrical", dt.date(2021, 1, 1) + dt.timedelta(offset)),
                                                ("welding", dt.date(2024, 1, 1))]):
            worker = person(mines, mine, f"工{i}", education="high", operations=[category, "teleport"][: i % 2 + 1])
            certificate(mines, worker, category, issued)
            if i == 2:
                certificate(mines, worker, category, dt.date(2018, 1, 1), revoked=True)
    expired, review, unlicensed = risk.certificate_counts([a, a2, b], TODAY)
    board = certificates.expiry_dashboard(mines.city, TODAY)
    flags = certificates.unlicensed_work(mines.city, TODAY)
    for mine in (a, a2, b):
        assert expired.get(mine.pk, 0) == sum(r.certificate.person.mine_id == mine.pk for r in board.expired)
        assert review.get(mine.pk, 0) == sum(r.certificate.person.mine_id == mine.pk for r in board.review_overdue)
        assert unlicensed.get(mine.pk, 0) == sum(f.person.mine_id == mine.pk for f in flags)
    assert sum(expired.values()) and sum(review.values()) and sum(unlicensed.values())


def test_inspection_findings_in_the_window(mines):
    a = mines.mine_a
    recent = inspection(mines, a, dt.date(2026, 9, 1))
    finding(mines, recent, major=True)
    finding(mines, recent, deadline=dt.date(2026, 10, 1))  # open past its deadline
    finding(mines, recent, deadline=dt.date(2026, 10, 1), status=Finding.Status.RECTIFIED)
    finding(mines, inspection(mines, a, dt.date(2026, 9, 2), status=Inspection.Status.CANCELLED))
    finding(mines, inspection(mines, a, dt.date(2025, 11, 29)))  # a day before the window
    got = risk.finding_factor([a], TODAY, config("findings"))[a.pk]
    assert got.points == 3 * 1 + 3 + 2
    assert texts(got) == ["3 finding(s) in the last 12 months, 1 major, 1 open past the deadline"]


def test_accidents_by_gravity_in_the_window(mines):
    a = mines.mine_a
    accident(mines, a, dt.date(2026, 3, 1), deaths=1)
    accident(mines, a, dt.date(2026, 5, 1), near_miss=True)
    accident(mines, a, dt.date(2026, 7, 1), deaths=3, grade="larger")
    accident(mines, a, dt.date(2026, 8, 1))
    accident(mines, a, dt.date(2025, 11, 1), deaths=2)  # before the window
    got = risk.accident_factor([a], TODAY, config("accidents"))[a.pk]
    assert got.points == 25 + 3 + 40 + 10
    assert texts(got) == ["fatal accident 2026-03-01, 1 dead", "near miss 2026-05-01",
                          "Larger (较大) accident 2026-07-01, 3 dead", "accident 2026-08-01"]


def test_penalty_history_is_a_factor_the_penalties_app_registers(mines):
    assert "penalties" in risk.FACTORS  # PenaltiesConfig.ready()
    a = mines.mine_a
    penalty(mines, a, dt.date(2026, 4, 1), fine=50000, payment_due=dt.date(2026, 5, 1))  # fines overdue
    penalty(mines, a, dt.date(2026, 9, 1), fine=20000, status="paid")
    revoked = penalty(mines, a, dt.date(2026, 6, 1))
    Challenge.objects.create(case=revoked, kind="reconsideration", filed_on=dt.date(2026, 6, 10),
                             concluded_on=dt.date(2026, 8, 1), outcome="revoked", recorded_by=mines.city)
    penalty(mines, a, dt.date(2026, 10, 1), status="notified")  # not decided
    penalty(mines, a, dt.date(2025, 10, 1))  # before the window
    item = next(i for i in risk.score_of(a).items if i.code == "penalties")
    assert item.points == 2 * 5 + 3
    assert item.texts == ["2 penalty decision(s) in the last 12 months, fines 77,000 CNY, 1 with fines overdue"]
    assert item.label == "Penalty history" and item.link == "/penalties/"


def test_the_profile_weighs_type_scale_pond_grade_and_head_pond(mines):
    registry.update_mine(mines.city, mines.pond_a, {"is_head_pond": True, "downstream_within_1km": "下游村庄"})
    Mine.objects.filter(pk=mines.pond_a.pk).update(pond_grade=3, scale_class="")
    pond = Mine.objects.get(pk=mines.pond_a.pk)
    closed = registry.create_mine(mines.city, code="KC-099", name="已关闭矿", enterprise=mines.enterprise_a,
                                  county=mines.county_a_region, mine_type="underground", status="closed",
                                  status_since=dt.date(2020, 1, 1))
    got = risk.profile_factor([mines.mine_a, pond, closed], TODAY, config("profile"))
    assert (got[mines.mine_a.pk].points, texts(got[mines.mine_a.pk])) == (12 + 6, ["Underground mine, large scale"])
    assert (got[pond.pk].points, texts(got[pond.pk])) == (8 + 8 + 15, ["Tailings pond, grade 3, head pond (头顶库)"])
    assert closed.pk not in got


# The score -------------------------------------------------------------------------------------
def test_the_score_adds_the_items_most_points_first_each_capped(mines):
    a = mines.mine_a
    for _i in range(5):
        hazard(mines, a, deadline=TODAY - dt.timedelta(days=3))  # 5 x (10 + 5) = 75, capped at 40
    accident(mines, a, dt.date(2026, 8, 1))
    score = risk.score_of(a)
    assert [(i.code, i.points) for i in score.items] == [("hazards", 40), ("profile", 18), ("accidents", 10),
                                                         ("personnel", 8)]
    assert score.total == 76 and (score.band, score.colour, score.band_label) == ("major", "red", "Major")
    assert score.items[0].texts == ["5 open major hazard(s), 5 overdue", "counted up to 40 points (75 in all)"]
    assert [f["points"] for f in score.items[0].facts] == [75, -35]  # each fact's points add up to the item's
    assert score.items[0].link == f"/hazards/?mine={a.pk}"
    assert score.version == "test-1" and score.as_of == TODAY


@pytest.mark.parametrize(("total", "band"), [(0, "low"), (19, "low"), (20, "medium"), (39, "medium"),
                                             (40, "high"), (59, "high"), (60, "major"), (500, "major")])
def test_band_edges(mines, total, band):
    assert risk.band_for(total, risk.bands()) == band


@pytest.mark.parametrize(("points", "band"), [(19, "low"), (20, "medium"), (40, "high"), (60, "major")])
def test_a_mine_on_a_band_edge_takes_the_higher_band(mines, points, band):
    weights = copy.deepcopy(WEIGHTS)
    weights["version"] = f"edge-{points}"
    weights["factors"]["profile"] = {"type": {"open_pit": points}, "max": 100}
    use_weights(weights)
    score = risk.score_of(mines.mine_b)
    assert (score.total, score.band) == (points, band)


def test_a_new_catalogue_version_changes_the_score_and_a_factor_without_a_section_is_not_scored(mines):
    hazard(mines, mines.mine_a)
    before = risk.score_of(mines.mine_a)
    weights = copy.deepcopy(WEIGHTS)
    weights["version"] = "test-2"
    weights["factors"]["hazards"]["open"] = 30
    del weights["factors"]["profile"]
    use_weights(weights)
    after = risk.score_of(mines.mine_a)
    assert before.total - after.total == -20 + 18
    assert after.version == "test-2" and "profile" not in {i.code for i in after.items}


def test_bulk_scores_equal_one_mine_at_a_time(mines):
    hazard(mines, mines.mine_a, deadline=TODAY - dt.timedelta(days=1))
    alarm(mines.mine_b, "k", Level.ORANGE, NOW - dt.timedelta(days=2))
    accident(mines, mines.pond_a, dt.date(2026, 6, 1), near_miss=True)
    appoint(mines, mines.mine_a2, "mine_manager")
    all_mines = [mines.mine_a, mines.mine_a2, mines.mine_b, mines.pond_a]
    bulk = risk.score_mines(all_mines, TODAY)
    assert bulk == {m.pk: risk.score_of(m, TODAY) for m in all_mines}
    assert risk.risk_summary(Mine.objects.all(), TODAY) == {pk: s.band for pk, s in bulk.items()}
    assert risk.score_mines([], TODAY) == {}


def fill(personas, mine, n: int) -> None:
    """Something for every factor at the mine."""
    hazard(personas, mine, deadline=TODAY - dt.timedelta(days=1))
    alarm(mine, f"k{n}", Level.RED, NOW - dt.timedelta(days=2))
    flag(mine, "electricity", at(dt.date(2026, 10, 2)))
    appoint(personas, mine, "mine_manager", education="high", start=dt.date(2020, 1, 1))
    worker = person(personas, mine, "工", operations=["nm_blasting"])
    certificate(personas, worker, "nm_blasting", dt.date(2019, 1, 1))
    finding(personas, inspection(personas, mine, dt.date(2026, 9, 1)), major=True)
    accident(personas, mine, dt.date(2026, 6, 1), deaths=1)
    penalty(personas, mine, dt.date(2026, 4, 1), payment_due=dt.date(2026, 5, 1))


def test_scoring_takes_the_same_queries_for_one_mine_or_many(mines, django_assert_max_num_queries):
    few = [mines.mine_a]
    many = [mines.mine_a, mines.mine_a2, mines.pond_a]
    for i, mine in enumerate(many):
        fill(mines, mine, i)
    for i in range(6):
        many.append(registry.create_mine(mines.city, code=f"KC-1{i:02d}", name=f"矿{i}", enterprise=mines.enterprise_a,
                                         county=mines.county_a_region, mine_type="underground",
                                         status_since=dt.date(2024, 1, 1)))
        fill(mines, many[-1], 10 + i)
    with CaptureQueriesContext(connection) as one:
        risk.score_mines(few, TODAY)
    with django_assert_max_num_queries(len(one.captured_queries)):
        scores = risk.score_mines(many, TODAY)
    assert len(one.captured_queries) <= 25
    assert all({i.code for i in scores[m.pk].items} >= {"hazards", "alarms", "suspension", "personnel", "findings",
                                                        "accidents", "penalties", "profile"} for m in many)


# Inspection plans ------------------------------------------------------------------------------
def county_rules() -> dict:
    return plans.frequency_rules(Organisation.objects.get(kind="county", region__code="130827"))


def test_the_band_adds_its_visits_with_a_reason_carrying_the_score(mines):
    for _i in range(3):
        hazard(mines, mines.mine_a, deadline=TODAY - dt.timedelta(days=1))  # 45, capped at 40: with 18 + 8: major
    mine = Mine.objects.get(pk=mines.mine_a.pk)
    visits, reasons = plans.visits_for(mine, county_rules())
    assert visits == 4 + 1 + 2  # base, open hazards, risk band major
    reason = reasons[-1]
    assert (reason["rule"], reason["add"], reason["score"], reason["band"]) == ("risk", 2, 66, "major")
    assert [i["code"] for i in reason["items"]] == ["hazards", "profile", "personnel"]
    assert plans.describe_reason(reason) == (
        "Risk score 66, Major (Open major hazards 40 (3 open major hazard(s), 3 overdue, counted up to 40 points "
        "(45 in all)); Type, scale and pond 18 (Underground mine, large scale); Personnel non-compliance 8 (no "
        "key-post holder recorded)): +2")
    low = Mine.objects.get(pk=mines.mine_b.pk)
    assert plans.visits_for(low, county_rules())[1][-1] == {
        "rule": "risk", "add": 0, "score": 11, "band": "low", "version": "test-1",
        "items": [{"code": "profile", "points": 11, "facts": [{"fact": "profile", "type": "open_pit",
                                                               "scale": "medium", "points": 11}]}]}


def test_rules_without_risk_extras_leave_the_frequency_as_it_was(mines):
    hazard(mines, mines.mine_a)
    rules = plans.catalogue()["frequency"]["county"]  # the plans catalogue alone: no risk_band_extra
    assert [r["rule"] for r in plans.visits_for(Mine.objects.get(pk=mines.mine_a.pk), rules)[1]] == [
        "base", "open_hazards"]


def test_the_proposal_is_made_riskiest_first_and_proposing_again_changes_nothing(mines):
    accident(mines, mines.pond_a, dt.date(2026, 6, 1), deaths=1)  # pond: 8 + 4 + 25 = 37
    hazard(mines, mines.mine_a2)  # 12 + 1 + 8 + 10 = 31
    plan = plans.create_plan(mines.county_a, mines.county_a.organisation, 2027)
    entries = list(plan.entries.order_by("pk").select_related("mine"))
    assert [e.mine.code for e in entries] == ["KC-T01", "KC-002", "KC-001"]  # mine_a: 12 + 6 + 8 = 26
    assert [plans.entry_risk(e) for e in entries] == [37, 31, 26]
    result = plans.propose_entries(mines.county_a, plan)
    assert (result.added, result.refreshed) == (0, 0)


def test_the_city_plan_adds_a_visit_for_a_major_risk(mines):
    for _i in range(4):
        hazard(mines, mines.mine_b, deadline=TODAY - dt.timedelta(days=1))  # 40 + 11 = 51: high
    city = Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)
    entry = plans.create_plan(mines.city, city, 2027).entries.get()
    assert (entry.mine, entry.visits_per_year) == (mines.mine_b, 1)  # the city's rule: 2 or more open hazards
    assert [(r["rule"], r["add"], r.get("band")) for r in entry.reasons[:2]] == [("open_hazards", 1, None),
                                                                                ("risk", 0, "high")]
    for key in ("co-1", "co-2"):
        alarm(mines.mine_b, key, Level.RED, NOW - dt.timedelta(days=5), closed_at=NOW - dt.timedelta(days=4))
    entry = plans.create_plan(mines.city, city, 2026).entries.get()  # 51 + 16 = 67: major
    assert entry.visits_per_year == 2 and entry.reasons[1]["band"] == "major"
    assert InspectionPlan.objects.count() == 2


# Who sees what ---------------------------------------------------------------------------------
SCOPE = {"city": {"mine_a", "mine_a2", "mine_b", "pond_a"}, "county_a": {"mine_a", "mine_a2", "pond_a"},
         "county_b": {"mine_b"}}
MINE_NAMES = ["mine_a", "mine_a2", "mine_b", "pond_a"]


@pytest.fixture
def world(mines):
    hazard(mines, mines.mine_a, deadline=TODAY - dt.timedelta(days=1))
    flag(mines.mine_b, "electricity", at(dt.date(2026, 10, 2)))
    return mines


def shown(world, html: str) -> set[str]:
    return {n for n in MINE_NAMES if f'data-mine="{getattr(world, n).pk}"' in html}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_ranking_page_and_mine_pages_are_scoped(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/enforcement/risk/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona not in SCOPE:
        assert response.status_code == 403
        for name in MINE_NAMES:
            assert web.get(f"/enforcement/risk/{getattr(world, name).pk}/").status_code == 403
        return
    assert response.status_code == 200 and shown(world, response.content.decode()) == SCOPE[persona]
    for name in MINE_NAMES:
        expected = 200 if name in SCOPE[persona] else 404
        assert web.get(f"/enforcement/risk/{getattr(world, name).pk}/").status_code == expected, name


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_exports_hold_exactly_the_readers_mines(client, world, persona, fmt):
    response = web_client(client, world, persona).get(f"/enforcement/risk/export.{fmt}")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona not in SCOPE:
        assert response.status_code == 403
        return
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content)).active
        rows = [[c.value for c in r] for r in sheet.iter_rows()]
    else:
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:8] == ["Rank", "Mine code", "Mine", "County", "Type", "Status", "Risk score", "Band"]
    assert {r[1] for r in rows[1:]} == {getattr(world, n).code for n in SCOPE[persona]}
    assert [int(r[6]) for r in rows[1:]] == sorted((int(r[6]) for r in rows[1:]), reverse=True)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_is_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/mine-risk/?limit=100")
    if persona not in SCOPE:
        assert response.status_code == 403
        assert api.get(f"/api/v1/mine-risk/{world.mine_a.pk}/").status_code == 403
        return
    ids = [row["mine"] for row in response.json()["results"]]
    assert {n for n in MINE_NAMES if getattr(world, n).pk in ids} == SCOPE[persona]
    for name in MINE_NAMES:
        expected = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/mine-risk/{getattr(world, name).pk}/").status_code == expected, name


def test_the_ranking_sorts_by_score_filters_and_shows_the_top_items(client, world):
    web = web_client(client, world, "city")
    html = web.get("/enforcement/risk/").content.decode()
    order = [n for _pos, n in sorted((html.index(f'data-mine="{getattr(world, n).pk}"'), n) for n in MINE_NAMES)]
    assert order == ["mine_a", "mine_b", "mine_a2", "pond_a"]  # 15 + 18 + 8 = 41, 20 + 11, 13 + 8, 8 + 4
    row = html.split(f'data-mine="{world.mine_a.pk}"')[1].split("</tr>")[0]
    assert "Open major hazards 15</b>: 1 open major hazard(s), 1 overdue" in row
    county = web.get("/enforcement/risk/?county=130822").content.decode()
    assert shown(world, county) == {"mine_b"}
    typed = web.get("/enforcement/risk/?mine_type=tailings_pond").content.decode()
    assert shown(world, typed) == {"pond_a"}
    high = web.get("/enforcement/risk/?band=high")
    assert shown(world, high.content.decode()) == {"mine_a"}
    assert dict((c, n) for c, _l, _colour, n in high.context["band_counts"]) == {
        "major": 0, "high": 1, "medium": 2, "low": 1}
    api = api_client(world, "county_a")
    body = api.get("/api/v1/mine-risk/?band=high").json()
    assert [row["mine_code"] for row in body["results"]] == ["KC-001"]
    assert body["results"][0]["items"][1] == {
        "code": "hazards", "label": "Open major hazards", "points": 15,
        "facts": [{"text": "1 open major hazard(s), 1 overdue", "points": 15, "url": ""}],
        "link": f"/hazards/?mine={world.mine_a.pk}"}
    assert api.get("/api/v1/mine-risk/?as_of=yesterday").status_code == 400


def test_the_detail_page_explains_every_item_with_links(client, world):
    page = web_client(client, world, "county_b").get(f"/enforcement/risk/{world.mine_b.pk}/")
    html = page.content.decode()
    assert page.context["score"].total == 20 + 11
    assert 'data-factor="suspension" data-points="20"' in html and 'data-factor="profile" data-points="11"' in html
    assert "not yet checked</a> <span class=\"pts\">+20</span>" in html
    assert "adds 0 visit(s) a year to a county's plan and 0 to the city's" in html  # medium
    assert "electricity flagged 2026-10-02, not yet checked" in html  # mine_b is producing, not suspended
    flag_pk = ProductionFlag.objects.get(mine=world.mine_b).pk
    assert f'href="/monitoring/suspended/flags/{flag_pk}/"' in html
    assert f'href="/mines/{world.mine_b.pk}/"' in html
    assert page.context["unscored"]  # the factors with nothing counted are named
