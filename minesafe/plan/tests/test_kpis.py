"""The plan's KPIs computed from live data: every KPI against a hand-built fixture with the expected numbers
worked out in the comments, as of days in the past; mines that change county, type or status mid-year and closed
mines; scoping of the pages and the API; bad input; an empty database; the query budget; the demo history.

The computation fixtures live in two counties the shared personas do not use (C = 承德县 130821, D = 滦平县 130824)
and are evaluated for the city with no persona mines present, so each expected number counts only what the test
built. Changes that the rules read from the audit log are made through the services on the day they happen (the
clock is moved to that day)."""

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from rest_framework.routers import DefaultRouter
from rest_framework.test import APIClient

from conftest import credit_code, make_user
from minesafe.core import audit
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.services import active_catalogue
from minesafe.hazards.models import Hazard, HazardItem, SelfCheck
from minesafe.monitoring.models import Reading, Sensor
from minesafe.operations.models import PondClosurePlan
from minesafe.personnel import activities
from minesafe.personnel.models import Appointment, Drill, Person, TrainingProvider, TrainingRecord
from minesafe.plan import api_routes, kpis
from minesafe.plan.views_kpis import plan_targets, trend_chart
from minesafe.registry import services as registry
from minesafe.registry.models import LedgerSubmission, Mine
from minesafe.web.tests.test_scoping import PERSONAS, web_client

pytestmark = pytest.mark.django_db
C, D = "130821", "130824"
U, OP, Q, TP, PP = "underground", "open_pit", "quarry", "tailings_pond", "processing_plant"
OLD = dt.date(2020, 1, 1)

# The plan API is registered by plan/api_routes.py (the lead wires it into api_urls.py); the API tests mount it
# themselves in front of the site's urls, so they do not depend on that wiring.
_router = DefaultRouter()
api_routes.register(_router)
urlpatterns = [path("api/v1/", include(_router.urls)), path("", include("minesafe.urls"))]


@pytest.fixture
def site(settings):
    settings.ROOT_URLCONF = __name__


# Builders ----------------------------------------------------------------------------------------
class World:
    """Mines in counties C and D built through the registry's services, by a city user."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        city_org = Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)
        self.city = make_user("kpi_city", User.Role.CITY, city_org)
        self.c, self.d = Region.objects.get(code=C), Region.objects.get(code=D)
        self.enterprises = {
            C: registry.get_or_create_enterprise(self.city, "承德县测试矿业", credit_code("91130821MA000001A"),
                                                 self.c)[0],
            D: registry.get_or_create_enterprise(self.city, "滦平测试矿业", credit_code("91130824MA000002B"),
                                                 self.d)[0]}

    def mine(self, code: str, mine_type: str, county: str = C, since: dt.date = OLD, **fields) -> Mine:
        return registry.create_mine(self.city, code=code, name=code, enterprise=self.enterprises[county],
                                    county=Region.objects.get(code=county), mine_type=mine_type, status_since=since,
                                    **fields)

    @contextlib.contextmanager
    def on(self, day: dt.date):
        """Act through the services on `day` (the audit log records the change on that day)."""
        with self.monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda: timezone.make_aware(dt.datetime.combine(day, dt.time(10))))
            yield

    def update(self, mine: Mine, day: dt.date, **changes) -> None:
        with self.on(day):
            registry.update_mine(self.city, mine, changes)

    def status(self, mine: Mine, status: str, day: dt.date) -> None:
        registry.change_status(self.city, mine, status, reason="test", effective_date=day)

    def move(self, mine: Mine, county: str, day: dt.date) -> None:
        """A mine moved to another county on `day`: the registry has no service for this (an administrator's
        correction), so the change is written and audited as one would be."""
        new = Region.objects.get(code=county)
        with self.on(day):
            audit.record(self.city, AuditEvent.Action.UPDATE, mine, before={"county_id": mine.county_id},
                         after={"county_id": new.pk})
        Mine.objects.filter(pk=mine.pk).update(county=new)
        mine.refresh_from_db()


@pytest.fixture
def world(reference, monkeypatch) -> World:
    return World(monkeypatch)


def value(code, as_of, county=None):
    return kpis.compute(code, as_of, Region.objects.get(code=county) if county else None)


def held(result) -> dict[str, str]:
    return {h.mine.code: h.reason for h in result.holding_back}


def trend(result) -> dict[dt.date, float | None]:
    return dict(result.trend)


def ledger(mine, period, people, status="producing", submitted=None):
    return LedgerSubmission(mine=mine, period=period, status=status, people_underground=people,
                            submitted_at=timezone.make_aware(dt.datetime.combine(
                                submitted or registry.ledger_due_for_period(period), dt.time(9))))


# People underground against 2023 (goal 2) --------------------------------------------------------
@pytest.fixture
def headcounts(world):
    w = world
    u1, u2 = w.mine("U1", U), w.mine("U2", U)
    u3 = w.mine("U3", U, county=D)
    u4 = w.mine("U4", U, since=dt.date(2024, 2, 1))  # registered 2024: no 2023 baseline
    u5 = w.mine("U5", U)  # underground only since 2024 (an open pit's ledger in 2023: no headcount)
    rows = []
    for month in range(1, 13):
        period = dt.date(2023, month, 1)
        rows.append(ledger(u1, period, 100))  # baseline 100
        # Producing January-June with 60 people, then suspended with 5 on watch: the baseline is 60.
        rows.append(ledger(u2, period, 60) if month <= 6 else ledger(u2, period, 5, status="suspended"))
        rows.append(ledger(u3, period, 40))  # baseline 40
        rows.append(ledger(u5, period, None))
    for period, people in ((dt.date(2025, 1, 1), (90, 57, 40, 30, 70)), (dt.date(2025, 5, 1), (85, 57, 40, 30, 70))):
        rows += [ledger(m, period, n) for m, n in zip((u1, u2, u3, u4, u5), people, strict=True)]
    rows += [ledger(u2, dt.date(2025, 9, 1), 57), ledger(u3, dt.date(2025, 9, 1), 40)]
    LedgerSubmission.objects.bulk_create(rows)
    w.move(u3, C, dt.date(2025, 3, 15))  # U3 moves from D to C in March 2025
    w.status(u1, "closed", dt.date(2025, 9, 1))  # U1 closes in September 2025 (no ledger after)
    return w


def test_people_underground_against_the_same_mines_2023_average(headcounts):
    # 2025-06-30: the latest ledger due before it is May's (June's is due 2025-07-05).
    # Cohort U1, U2, U3: 85 + 57 + 40 = 182 people against 100 + 60 + 40 = 200 -> -9 %: not yet the -10 %.
    result = value("people_underground", dt.date(2025, 6, 30))
    assert result.value == pytest.approx(-0.09) and (result.numerator, result.denominator) == (182, 200)
    assert (result.target, result.target_date, result.status) == (-0.10, dt.date(2026, 12, 31), kpis.BEHIND)
    assert result.met is False
    # U4 (no 2023) and U5 (no 2023 headcount) are not counted; U1 (-15 %) is ahead, U2 (-5 %) and U3 (0 %) not.
    assert "2 producing mines without a 2023 baseline" in result.counted
    assert set(held(result)) == {"U2", "U3"} and "57 people underground in 2025-05" in held(result)["U2"]
    # The trend: a value where a month's ledger exists (Jan 2025 read at the end of February, May at June's).
    points = trend(result)
    assert points[dt.date(2025, 2, 1)] == pytest.approx((90 + 57 + 40) / 200 - 1)
    assert points[dt.date(2025, 6, 1)] == pytest.approx(-0.09)
    assert points[dt.date(2025, 1, 1)] is None and points[dt.date(2024, 2, 1)] is None  # no ledger those months
    assert points[dt.date(2024, 1, 1)] == 0.0  # December 2023: U1 100 and U3 40, their own averages
    assert min(points) == dt.date(2024, 1, 1) and max(points) == dt.date(2025, 6, 1)


def test_a_mine_counts_for_the_county_it_belonged_to_on_the_day(headcounts):
    # U3 was in D until 2025-03-15. End of February (January's ledger): C has U1 90 + U2 57 against 160 ...
    assert value("people_underground", dt.date(2025, 2, 28), C).value == pytest.approx(147 / 160 - 1)
    assert value("people_underground", dt.date(2025, 2, 28), D).value == pytest.approx(0.0)  # ... D has U3: 40/40
    # ... and after the move U3 is C's: C holds all three (-9 %), D has nothing left: no data, not an error.
    assert value("people_underground", dt.date(2025, 6, 30), C).value == pytest.approx(-0.09)
    d = value("people_underground", dt.date(2025, 6, 30), D)
    assert (d.value, d.status, d.holding_back) == (None, kpis.NO_DATA, [])


def test_a_closed_mine_leaves_the_headcount(headcounts):
    # September 2025 (read at the end of October): U1 closed, U2 57 + U3 40 against 60 + 40 -> -3 %.
    result = value("people_underground", dt.date(2025, 10, 31))
    assert (result.numerator, result.denominator) == (97, 100) and result.value == pytest.approx(-0.03)


# Registry attributes as they stood: intelligent mines, scale, standardisation ---------------------
@pytest.fixture
def registry_world(world):
    w = world
    w.mine("M1", U, scale_class="large", intelligent_level="intermediate", standard_grade=2,
           standard_date=dt.date(2024, 6, 1))
    m2 = w.mine("M2", OP, scale_class="small", intelligent_level="primary")
    m3 = w.mine("M3", Q, scale_class="medium", standard_grade=3, standard_date=dt.date(2023, 1, 1))
    w.mine("M4", TP)
    m5 = w.mine("M5", U, county=D, scale_class="small")
    m6 = w.mine("M6", PP, scale_class="medium")
    w.update(m2, dt.date(2025, 3, 1), standard_grade=3, standard_date=dt.date(2025, 3, 1))
    w.move(m5, C, dt.date(2025, 3, 15))
    w.status(m3, "closed", dt.date(2025, 4, 1))
    w.update(m2, dt.date(2025, 5, 10), intelligent_level="advanced")
    w.update(m6, dt.date(2025, 5, 10), mine_type=Q)  # the plant is re-registered as a (medium) quarry
    return w


def test_intelligent_mines_built(registry_world):
    # 2025-04-30: only M1 (intermediate) is built; M2 (primary) is on its way and holds the target back.
    april = value("intelligent_mines", dt.date(2025, 4, 30))
    assert (april.value, april.target, april.status) == (1, 2, kpis.BEHIND)
    assert list(held(april)) == ["M2"] and "Primary" in held(april)["M2"]
    # 2025-05-10 M2 reached advanced: two built, the plan's "2 by end-2026" is met.
    june = value("intelligent_mines", dt.date(2025, 6, 30))
    assert (june.value, june.met, june.status, june.holding_back) == (2, True, kpis.MET, [])
    assert trend(june)[dt.date(2025, 4, 1)] == 1 and trend(june)[dt.date(2025, 5, 1)] == 2
    # A county has no target of its own for this city-wide count.
    county = value("intelligent_mines", dt.date(2025, 6, 30), C)
    assert (county.value, county.target, county.status, county.targets) == (2, None, kpis.NO_TARGET, [])


def test_share_of_large_and_medium_mines(registry_world):
    # Mines proper (underground, open pit, quarry) not closed. 2025-03-31: M1 large, M2 small, M3 medium, M5
    # small -> 2 of 4. M4 (pond) and M6 (still a plant) are not mines proper.
    march = value("large_medium_share", dt.date(2025, 3, 31))
    assert (march.numerator, march.denominator, march.value) == (2, 4, 0.5)
    # 2025-04-30: M3 closed on 04-01 -> M1 of M1, M2, M5.
    assert value("large_medium_share", dt.date(2025, 4, 30)).value == pytest.approx(1 / 3)
    # 2025-06-30: M6 became a medium quarry on 05-10 -> M1, M6 of M1, M2, M5, M6; target 20 % met.
    june = value("large_medium_share", dt.date(2025, 6, 30))
    assert (june.numerator, june.denominator, june.status) == (2, 4, kpis.MET)
    assert set(held(june)) == {"M2", "M5"} and held(june)["M2"] == "small scale"
    # By county: on 2025-03-01 M5 was still in D.
    assert value("large_medium_share", dt.date(2025, 3, 1), C).value == pytest.approx(2 / 3)
    assert value("large_medium_share", dt.date(2025, 3, 1), D).value == 0.0
    assert value("large_medium_share", dt.date(2025, 4, 30), C).value == pytest.approx(1 / 3)


def test_producing_mines_at_standardisation_grade_3_or_better(registry_world):
    # Producing underground, open-pit, quarry and pond mines: M1, M2, M3 (until 04-01), M4, M5.
    # 2024-05-31: only M3 (grade 3 since 2023); M1's grade counts from 2024-06-01 -> 1 of 5.
    may = value("standardisation", dt.date(2024, 5, 31))
    assert (may.numerator, may.denominator) == (1, 5)
    assert held(may)["M1"] == "graded only from 2024-06-01" and held(may)["M4"] == "no standardisation grade"
    # 2025-02-28: M1 and M3 -> 2 of 5; M2 was graded on 2025-03-01 (the audit log rolls it back before that).
    assert value("standardisation", dt.date(2025, 2, 28)).value == pytest.approx(0.4)
    # 2025-03-31: M1, M2, M3 -> 3 of 5.
    march = value("standardisation", dt.date(2025, 3, 31))
    assert (march.numerator, march.denominator, march.status) == (3, 5, kpis.BEHIND)
    assert march.targets[0].date == dt.date(2026, 12, 31) and march.targets[0].met is None
    # 2025-06-30: M3 closed, M6 (now a quarry) is producing without a grade -> M1, M2 of M1, M2, M4, M5, M6.
    june = value("standardisation", dt.date(2025, 6, 30))
    assert (june.numerator, june.denominator) == (2, 5) and set(held(june)) == {"M4", "M5", "M6"}


# Tailings ponds closed (task 16) -----------------------------------------------------------------
@pytest.fixture
def ponds(world):
    w = world
    plans = [("P1", C, 2024, "closed", dt.date(2024, 10, 1)), ("P2", C, 2024, "closed", dt.date(2025, 2, 1)),
             ("P3", C, 2025, "in_progress", None), ("P4", C, 2026, "planned", None),
             ("P5", D, 2025, "closed", dt.date(2025, 6, 1))]
    for code, county, year, status, closed_on in plans:
        pond = w.mine(code, TP, county=county)
        PondClosurePlan.objects.create(pond=pond, target_year=year, status=status, closed_on=closed_on,
                                       works_started_on=dt.date(2025, 3, 1) if status != "planned" else None,
                                       created_by=w.city)
        if closed_on:
            w.status(pond, "closed", closed_on)
    return w


def test_ponds_closed_against_the_plans_10_9_7(ponds):
    # City, 2025-06-30: P1 (2024-10), P2 (2025-02), P5 (2025-06) closed -> 3.
    result = value("ponds_closed", dt.date(2025, 6, 30))
    assert (result.value, result.denominator) == (3, 5)
    # Cumulative targets 10, 19, 26: end-2024 had 1 closed (missed); 19 by end-2025 is the one in view.
    first, second, third = result.targets
    assert (first.date, first.value, first.value_then, first.met) == (dt.date(2024, 12, 31), 10, 1, False)
    assert (second.value, second.met, third.value, third.met) == (19, None, 26, None)
    assert (result.target, result.target_date, result.status) == (19, dt.date(2025, 12, 31), kpis.BEHIND)
    # Holding back: the plans for 2025 or earlier not closed yet (P3); P4 is for 2026.
    assert held(result) == {"P3": "closure planned for 2025: closure works in progress since 2025-03-01"}
    assert trend(result)[dt.date(2024, 10, 1)] == 1 and trend(result)[dt.date(2025, 2, 1)] == 2


def test_a_countys_pond_targets_are_its_own_closure_plans(ponds):
    # C has P1-P4: 2 plans for 2024, 3 by 2025, 4 by 2026; P1 and P2 closed by 2025-06-30.
    result = value("ponds_closed", dt.date(2025, 6, 30), C)
    assert result.value == 2 and [(t.value, t.met) for t in result.targets] == [(2, False), (3, None), (4, None)]
    assert result.targets[0].value_then == 1  # P2 closed only in February 2025
    assert value("ponds_closed", dt.date(2025, 6, 30), D).value == 1


# Own mining teams (task 22) ----------------------------------------------------------------------
@pytest.fixture
def teams(world):
    w = world
    t1, t2, t3 = w.mine("T1", U), w.mine("T2", OP), w.mine("T3", Q)
    w.mine("T4", U)  # no statement
    t5, t6 = w.mine("T5", TP), w.mine("T6", U)
    with w.on(dt.date(2024, 12, 1)):
        activities.set_mining_team(w.city, t1, mode="own_team", since=dt.date(2024, 3, 1))
        activities.set_mining_team(w.city, t2, mode="contracted", since=dt.date(2023, 1, 1))
        activities.set_mining_team(w.city, t3, mode="whole_entrustment", firm="某矿山管理公司",
                                   since=dt.date(2024, 11, 1))
        activities.set_mining_team(w.city, t5, mode="own_team", since=dt.date(2024, 1, 1))
        activities.set_mining_team(w.city, t6, mode="own_team", since=dt.date(2024, 1, 1))
    with w.on(dt.date(2025, 2, 1)):
        activities.set_mining_team(w.city, t2, mode="own_team", since=dt.date(2025, 2, 1))
    w.status(t6, "suspended", dt.date(2024, 6, 1))
    return w


def test_own_mining_teams_share(teams):
    # Producing underground, open-pit and quarry mines: T1-T4 (T5 is a pond, T6 suspended since 2024-06).
    # 2024-12-31: T1 (own team) and T3 (whole-mine management) -> 2 of 4 = the 50 % due that day.
    dec = value("own_teams", dt.date(2024, 12, 31))
    assert (dec.numerator, dec.denominator, dec.value) == (2, 4, 0.5)
    assert dec.targets[0].date == dt.date(2024, 12, 31) and dec.targets[0].met is True
    assert held(dec)["T2"] == "Contracted teams" and "no statement" in held(dec)["T4"]
    # 2025-01-31: T2 still contracted (its own team dates from 2025-02-01; the audit log has the old mode).
    assert value("own_teams", dt.date(2025, 1, 31)).value == 0.5
    # 2025-06-30: T1, T2, T3 -> 75 %, short of the 100 % due by end-2025.
    june = value("own_teams", dt.date(2025, 6, 30))
    assert (june.numerator, june.denominator, june.status, june.target) == (3, 4, kpis.BEHIND, 1.0)
    assert list(held(june)) == ["T4"]


# Monitoring: connected (应联尽联) and online rate (task 17) ---------------------------------------
@pytest.fixture
def sensors(world):
    w = world
    mp1 = w.mine("MP1", TP)
    w.mine("MU1", U)
    mo1 = w.mine("MO1", OP, slope_height=Decimal(160))
    mo2 = w.mine("MO2", OP, slope_height=Decimal(100))  # below 150 m: need not connect ...
    mu2 = w.mine("MU2", U)
    w.status(mu2, "suspended", dt.date(2024, 6, 1))  # suspended: need not connect
    w.update(mo2, dt.date(2025, 5, 10), mine_type=U, slope_height=None)  # ... until it goes underground

    def sensor(mine, code, interval, created, heard=None):
        s = Sensor.objects.create(mine=mine, code=code, name=code, kind="co", unit="ppm", interval_s=interval,
                                  last_received_at=heard)
        Sensor.objects.filter(pk=s.pk).update(created_at=timezone.make_aware(dt.datetime.combine(created,
                                                                                                   dt.time(8))))
        return s

    now = timezone.now()
    s1 = sensor(mp1, "S1", 60, dt.date(2025, 1, 10), heard=now)
    s2 = sensor(mo1, "S2", 600, dt.date(2025, 1, 10))  # never heard
    s3 = sensor(mp1, "S3", 600, dt.date(2025, 6, 15), heard=now - dt.timedelta(hours=1))
    end = timezone.make_aware(dt.datetime(2025, 6, 1))  # the end of 2025-05-31
    Reading.objects.bulk_create([Reading(sensor=s1, ts=end - dt.timedelta(seconds=120), value=1.0),
                                 Reading(sensor=s2, ts=end - dt.timedelta(hours=4), value=1.0)])
    w.s1, w.s2, w.s3 = s1, s2, s3
    return w


def test_mines_required_to_connect_that_are_connected(sensors):
    # Today: MP1 (pond), MU1 (underground), MO1 (slope 160 m) and MO2 (underground since 2025-05) must connect;
    # MP1 has sensors whose data arrived -> 1 of 4.
    today = value("monitoring_connected", timezone.localdate())
    assert (today.numerator, today.denominator) == (1, 4)
    assert held(today) == {"MU1": "no active sensor registered", "MO1": "active sensors have never sent data",
                           "MO2": "no active sensor registered"}
    # 2025-04-30: MO2 was still a 100 m open pit -> 1 of 3. Before the first sensor (2025-01-10): no data.
    april = value("monitoring_connected", dt.date(2025, 4, 30))
    assert (april.numerator, april.denominator) == (1, 3)
    assert trend(april)[dt.date(2024, 12, 1)] is None and trend(april)[dt.date(2025, 1, 1)] == pytest.approx(1 / 3)
    assert april.targets[0].date == dt.date(2024, 12, 31) and april.status == kpis.MISSED


def test_online_rate_today_and_on_a_past_day(sensors):
    # 2025-05-31 (readings kept): S1 read 2 minutes before midnight (window 3 x 60 s) is online, S2's last
    # reading was 4 hours earlier (window 3 x 600 s) -> 1 of 2; S3 did not exist yet.
    past = value("monitoring_online", dt.date(2025, 5, 31))
    assert (past.numerator, past.denominator, past.value) == (1, 2, 0.5)
    assert held(past) == {"MO1": "1 of 1 sensors silent"} and past.status == kpis.MISSED
    # Today, from the monitoring app's online rate: S1 heard now; S2 never; S3 an hour ago (window 30 min).
    today = value("monitoring_online", timezone.localdate())
    assert (today.numerator, today.denominator) == (1, 3)
    assert held(today) == {"MO1": "1 of 1 sensors silent", "MP1": "1 of 2 sensors silent"}
    assert trend(past)[dt.date(2024, 12, 1)] is None  # before any sensor: a gap


# Training, drills, hazards, self-checks, ledgers --------------------------------------------------
def test_annual_training_of_principal_heads_and_five_chiefs(world):
    w = world
    tm1, tm2 = w.mine("TM1", U), w.mine("TM2", U)
    w.status(tm2, "closed", dt.date(2025, 1, 1))
    good = TrainingProvider.objects.create(name="培训中心", created_by=w.city)
    barred = TrainingProvider.objects.create(name="假培训", standing=TrainingProvider.Standing.BARRED,
                                             created_by=w.city)

    def person(mine, name, id_number, post, end=None):
        p = Person.objects.create(mine=mine, name=name, id_number=id_number, education="bachelor",
                                  frontline_years=10, created_by=w.city)
        Appointment.objects.create(person=p, mine=mine, post=post, start_date=OLD, end_date=end, created_by=w.city)
        return p

    def trained(p, kind, day, provider=good):
        TrainingRecord.objects.create(kind=kind, person=p, provider=provider, held_on=day, hours=48,
                                      created_by=w.city)

    pa = person(tm1, "甲", "130821198001010011", "principal")
    pb = person(tm1, "乙", "130821198001010027", "mine_manager")
    pc = person(tm1, "丙", "130821198001010035", "deputy_safety", end=dt.date(2025, 3, 31))
    person(tm2, "丁", "130821198001010043", "principal")
    trained(pa, "principal_annual", dt.date(2025, 2, 10))
    trained(pb, "chief_annual", dt.date(2024, 5, 1))
    trained(pb, "chief_annual", dt.date(2025, 4, 1), provider=barred)  # a barred provider's record never counts
    trained(pc, "chief_annual", dt.date(2025, 1, 15))
    # 2024-12-31: 甲 (not yet), 乙 (2024-05 ✓), 丙 (not yet), 丁 (TM2 open until 2025-01-01) -> 1 of 4.
    assert value("training_coverage", dt.date(2024, 12, 31)).value == 0.25
    # 2025-03-15: 甲 ✓, 乙 ✓ (within 12 months), 丙 ✓; TM2 closed -> 3 of 3.
    assert value("training_coverage", dt.date(2025, 3, 15)).value == 1.0
    # 2025-06-30: 丙 left; 乙's training is over 12 months old (the barred one does not count) -> 1 of 2.
    june = value("training_coverage", dt.date(2025, 6, 30))
    assert (june.numerator, june.denominator, june.status) == (1, 2, kpis.MISSED)
    assert held(june) == {"TM1": "key-post holders without annual training in the 12 months: Mine manager"}


def test_evacuation_drills_on_time(world):
    w = world
    d1, d2 = w.mine("D1", U), w.mine("D2", OP)
    w.mine("D3", U, status="construction", since=dt.date(2025, 3, 1))  # registered 2025-03: first due 09-01
    d4, d5 = w.mine("D4", U), w.mine("D5", U)
    w.status(d4, "suspended", dt.date(2024, 1, 1))
    w.status(d5, "closed", dt.date(2025, 5, 1))  # never drilled: overdue until it closed
    for mine, kind, day in [(d1, "evacuation", dt.date(2024, 9, 1)), (d1, "evacuation", dt.date(2025, 2, 20)),
                            (d2, "evacuation", dt.date(2024, 10, 1)), (d2, "other", dt.date(2025, 5, 1))]:
        Drill.objects.create(mine=mine, kind=kind, held_on=day, scenario="撤离", participants=20, evidence="记录",
                             created_by=w.city)
    # 2025-04-30: D1 ✓ (next due 08-20), D2 ✗ (due 2025-04-01; an "other" drill does not count), D3 ✓, D5 ✗.
    april = value("drills_on_time", dt.date(2025, 4, 30))
    assert (april.numerator, april.denominator) == (2, 4)
    assert held(april)["D2"] == "last evacuation drill 2024-10-01, next was due 2025-04-01"
    assert "first was due 2020-07-01" in held(april)["D5"]
    # 2025-06-30: D5 closed -> D1, D3 of D1, D2, D3. 2025-02-28: D3 not registered; D1, D2 on time.
    assert value("drills_on_time", dt.date(2025, 6, 30)).value == pytest.approx(2 / 3)
    assert value("drills_on_time", dt.date(2025, 2, 28)).value == pytest.approx(2 / 3)  # D1, D2 of D1, D2, D5


def test_major_hazards_closed_by_their_deadline(world):
    w = world
    h1 = w.mine("H1", U)
    item = HazardItem.objects.filter(catalogue__active=True).first()

    def hazard(number, deadline, status="closed", closed=None):
        Hazard.objects.create(number=number, mine=h1, item=item, source="self_check", found_by=w.city,
                              finder_name="检查员", found_on=deadline - dt.timedelta(days=30), description="隐患",
                              status=status, deadline=deadline, closed_at=timezone.make_aware(
                                  dt.datetime.combine(closed, dt.time(15))) if closed else None)

    hazard("h1", dt.date(2025, 3, 1), closed=dt.date(2025, 2, 20))  # on time
    hazard("h2", dt.date(2025, 4, 1), closed=dt.date(2025, 4, 10))  # late
    hazard("h3", dt.date(2025, 5, 1), status="rectifying")  # late and still open
    hazard("h4", dt.date(2024, 5, 1), closed=dt.date(2024, 4, 1))  # on time, a year before
    hazard("h5", dt.date(2025, 6, 1), status="cancelled")  # never counts
    hazard("h6", dt.date(2025, 8, 1), status="rectifying")  # not due yet
    # 2025-06-30: due in (2024-06-30, 2025-06-30]: h1, h2, h3 -> 1 of 3.
    june = value("hazards_on_time", dt.date(2025, 6, 30))
    assert (june.numerator, june.denominator) == (1, 3)
    assert held(june) == {"H1": "2 of 3 hazards due in the 12 months not closed by their deadline (1 still open)"}
    # 2025-04-05: h4, h1, h2 -> 2 of 3; h2 was still open that day.
    april = value("hazards_on_time", dt.date(2025, 4, 5))
    assert (april.numerator, april.denominator) == (2, 3) and "(1 still open)" in held(april)["H1"]


def test_monthly_self_checks_and_ledgers(world):
    w = world
    sc1, sc2 = w.mine("SC1", U), w.mine("SC2", OP)
    w.mine("SC3", PP)
    sc4 = w.mine("SC4", U)
    w.status(sc4, "suspended", dt.date(2024, 1, 1))
    may = dt.date(2025, 5, 1)
    due = registry.ledger_due_for_period(may)  # 2025-06-05 with the default 5 grace days
    SelfCheck.objects.create(mine=sc1, period=may, led_by="甲", submitted_by=w.city)
    SelfCheck.objects.create(mine=sc4, period=may, led_by="乙", submitted_by=w.city)  # suspended: not owed
    LedgerSubmission.objects.bulk_create([
        ledger(sc1, may, 20, submitted=due - dt.timedelta(days=2)),
        ledger(sc2, may, None, submitted=due + dt.timedelta(days=15)),  # late
        ledger(sc4, may, 3, status="suspended", submitted=due - dt.timedelta(days=4))])
    # 2025-06-30 reads May. Self-checks: producing mines of the hazard standard SC1, SC2 -> 1 of 2.
    checks = value("self_checks", dt.date(2025, 6, 30))
    assert (checks.numerator, checks.denominator) == (1, 2) and held(checks) == {"SC2": "no self-check for 2025-05"}
    # Ledgers: every mine not closed owes one, suspended too: SC1 and SC4 on time of SC1-SC4 -> 2 of 4.
    ledgers = value("ledger_on_time", dt.date(2025, 6, 30))
    assert (ledgers.numerator, ledgers.denominator) == (2, 4)
    assert held(ledgers)["SC2"] == f"ledger for 2025-05 submitted {due + dt.timedelta(days=15)}, due {due}"
    assert held(ledgers)["SC3"] == f"no ledger for 2025-05 (due {due})"
    # On the due date itself May is not read yet (April, for which nothing was filed).
    assert value("ledger_on_time", due).numerator == 0


# The whole: empty database, catalogue, plan targets, query budget ---------------------------------
def test_an_empty_database_gives_no_data_not_an_error(reference):
    results = kpis.all_kpis(timezone.localdate())
    assert [r.code for r in results] == list(kpis.definitions())
    for result in results:
        assert result.value is None and result.status == kpis.NO_DATA and result.holding_back == [], result.code
        assert all(v is None for _, v in result.trend)


def test_bad_input_changes_nothing_and_says_what_is_wrong(reference):
    with pytest.raises(ValidationError) as error:
        kpis.compute("standardisation", timezone.localdate() + dt.timedelta(days=1))
    assert "as_of" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        kpis.parse_as_of("2025-13-01")
    assert "as_of" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        kpis.compute("share_of_happiness", timezone.localdate())
    assert "kpi" in error.value.message_dict


def test_the_catalogue_names_the_plans_own_targets(reference):
    plan = active_catalogue("action_plan")
    metrics = {("goal", g["number"], t["metric"]) for g in plan["goals"] for t in g.get("targets", [])}
    metrics |= {("task", t["task"], t["metric"]) for t in plan["targets"]}
    specs = kpis.definitions()
    assert set(specs) == set(kpis.KPI_CLASSES)
    for code, spec in specs.items():
        where = "goal" if "goal" in spec["plan"] else "task"
        if spec["plan"].get("metric"):
            assert (where, spec["plan"][where], spec["plan"]["metric"]) in metrics, code
        assert spec["confidence"] in ("verified", "unverified") and spec["targets"], code
    # The plan's own numbers: 10/9/7 ponds (cumulative), 50 % and 100 % own teams, -10 % people underground.
    assert [t["value"] for t in specs["ponds_closed"]["targets"]] == [10, 19, 26]
    assert [t["value"] for t in specs["own_teams"]["targets"]] == [0.5, 1.0]
    assert specs["people_underground"]["targets"][0]["value"] == -0.10
    assert specs["training_coverage"]["confidence"] == "unverified"


def test_every_goal_and_dated_target_of_the_plan_is_listed(personas):
    values = kpis.all_kpis(timezone.localdate(), with_trend=False)
    rows = plan_targets(values, personas.city)
    plan = active_catalogue("action_plan")
    # Every goal (1 and 4 have no number: one row each) and every target of the goals and tasks.
    assert len(rows) == sum(len(g.get("targets") or [None]) for g in plan["goals"]) + len(plan["targets"])
    assert {r["number"] for r in rows if r["kind"] == "goal"} == {1, 2, 3, 4, 5}
    measured = {(r["kind"], r["number"]) for r in rows if r["kpi"]}
    assert {("goal", 2), ("goal", 3), ("task", 16), ("task", 22), ("task", 23), ("task", 17), ("task", 4),
            ("task", 5), ("task", 8)} <= measured
    ponds_2024 = next(r for r in rows if r["kind"] == "task" and r["number"] == 16 and r["due"] == "2024-12-31")
    assert ponds_2024["kpi"]["dated"]["target"].value == 10


def test_the_query_count_does_not_grow_with_the_mines(world):
    def queries(count_from: int) -> int:
        for n in range(count_from, count_from + 3):
            mine = world.mine(f"N{n}", U, standard_grade=3, standard_date=dt.date(2024, 1, 1))
            LedgerSubmission.objects.create(mine=mine, period=dt.date(2023, 5, 1), status="producing",
                                            people_underground=30)
            Drill.objects.create(mine=mine, kind="evacuation", held_on=dt.date(2025, 1, 1), scenario="撤离",
                                 participants=9, evidence="记录", created_by=world.city)
        with CaptureQueriesContext(connection) as captured:
            kpis.all_kpis(dt.date(2025, 6, 30))
        return len(captured)

    few = queries(0)
    for start in (10, 20, 30):
        many = queries(start)
    assert many == few and few < 40, (few, many)


# Pages and API: scope and rendering --------------------------------------------------------------
@pytest.fixture
def scoped(personas):
    """The persona mines (registered producing on 2024-01-01, no standardisation grade) hold standardisation
    back: mine_a, mine_a2 and pond_a in county A, mine_b in county B."""
    return personas


PAGE_STATUS = {"city": 200, "county_a": 200, "county_b": 200, "ent_a": 403, "ent_b": 403, "department": 403,
               "inspector": 403, "anonymous": 302}
SEES = {"city": {"KC-001", "KC-002", "KC-T01", "XL-001"}, "county_a": {"KC-001", "KC-002", "KC-T01"},
        "county_b": {"XL-001"}}


@pytest.mark.parametrize("persona", PERSONAS)
def test_kpi_pages_show_each_reader_its_own_scope(client, scoped, persona):
    c = web_client(client, scoped, persona)
    listing = c.get("/plan/kpis/")
    detail = c.get("/plan/kpis/standardisation/")
    assert listing.status_code == detail.status_code == PAGE_STATUS[persona]
    if persona not in SEES:
        return
    html = detail.content.decode()
    shown = {code for code in SEES["city"] if f">{code}<" in html}
    assert shown == SEES[persona]
    assert "<svg" in html and "<polyline" in html and "<script" not in html
    for code in SEES[persona]:
        mine = Mine.objects.get(code=code)
        assert f'href="/mines/{mine.pk}/"' in html
    listing_html = listing.content.decode()
    assert 'data-kpi="standardisation"' in listing_html and 'id="plan-targets"' in listing_html
    assert ('id="key-county"' in listing_html) == (persona in ("city", "county_a"))


@pytest.mark.parametrize("persona", ["county_a", "county_b"])
def test_a_county_cannot_read_another_countys_figures(client, scoped, persona):
    other = "130822" if persona == "county_a" else "130827"
    c = web_client(client, scoped, persona)
    assert c.get(f"/plan/kpis/?county={other}").status_code == 404
    assert c.get(f"/plan/kpis/standardisation/?county={other}").status_code == 404
    own = "130827" if persona == "county_a" else "130822"
    assert c.get(f"/plan/kpis/standardisation/?county={own}").status_code == 200


def test_the_city_reads_any_county_and_bad_input_is_a_400(client, scoped):
    c = web_client(client, scoped, "city")
    html = c.get("/plan/kpis/standardisation/?county=130822").content.decode()
    assert ">XL-001<" in html and ">KC-001<" not in html
    response = c.get("/plan/kpis/?as_of=2099-01-01")
    assert response.status_code == 400 and "cannot be in the future" in response.content.decode()
    assert c.get("/plan/kpis/?county=999999").status_code == 400
    assert c.get("/plan/kpis/no_such_kpi/").status_code == 404
    past = c.get("/plan/kpis/standardisation/?as_of=2024-06-30")
    assert past.status_code == 200 and "2024-06-30" in past.content.decode()


API_STATUS = {"city": 200, "county_a": 200, "county_b": 200, "ent_a": 403, "ent_b": 403, "department": 403,
              "inspector": 403, "anonymous": 403}


@pytest.mark.parametrize("persona", PERSONAS)
def test_kpi_api_is_scoped(site, scoped, persona):
    api = APIClient()
    if persona != "anonymous":
        api.force_login(getattr(scoped, persona))
    listing = api.get("/api/v1/plan-kpis/")
    detail = api.get("/api/v1/plan-kpis/standardisation/")
    assert listing.status_code == detail.status_code == API_STATUS[persona]
    if persona not in SEES:
        return
    assert [k["code"] for k in listing.json()] == list(kpis.definitions())
    body = detail.json()
    assert {h["code"] for h in body["holding_back"]} == SEES[persona]
    assert body["county"] == {"city": None, "county_a": "130827", "county_b": "130822"}[persona]
    assert body["trend"][0]["month"] == "2024-01-01" and body["status"] == "behind"
    assert body["denominator"] == len(SEES[persona])  # every persona mine is producing and ungraded


def test_kpi_api_refuses_bad_input_and_other_counties(site, scoped):
    api = APIClient()
    api.force_login(scoped.city)
    assert api.get("/api/v1/plan-kpis/?as_of=tomorrow").json() == {"as_of": ["give a date as YYYY-MM-DD"]}
    assert api.get("/api/v1/plan-kpis/?as_of=2099-01-01").status_code == 400
    assert "county" in api.get("/api/v1/plan-kpis/?county=12").json()
    assert api.get("/api/v1/plan-kpis/no_such_kpi/").status_code == 404
    body = api.get("/api/v1/plan-kpis/standardisation/?as_of=2024-06-30&county=130827").json()
    assert (body["as_of"], body["county"], body["trend"][-1]["month"]) == ("2024-06-30", "130827", "2024-06-01")
    api.force_login(scoped.county_a)
    assert api.get("/api/v1/plan-kpis/?county=130822").status_code == 404
    assert api.get("/api/v1/plan-kpis/?county=130827").status_code == 200


def test_trend_chart_geometry(reference):
    result = kpis.KpiValue(
        code="x", title="x", definition="", plan={}, unit=kpis.SHARE, direction=kpis.UP, confidence="verified",
        as_of=dt.date(2025, 3, 31), county=None, value=0.5, target=1.0, target_date=None, met=False,
        status=kpis.MISSED, numerator=1, denominator=2, holding_back=[], counted="",
        trend=[(dt.date(2025, 1, 1), 0.25), (dt.date(2025, 2, 1), None), (dt.date(2025, 3, 1), 0.5)],
        targets=[kpis.TargetValue(None, 1.0, None, False)])
    chart = trend_chart(result)
    # A gap breaks the line: two runs of one point each; the target is a full-width red dashed line at 100 %.
    assert len(chart.lines) == 2 and len(chart.dots) == 2
    assert chart.targets[0]["x2"] == chart.plot_right and chart.targets[0]["colour"] == "#c62828"
    assert chart.targets[0]["y"] == chart.top and chart.y_ticks[-1][1] == "100.0%"
    assert chart.dots[0][1] > chart.dots[1][1]  # 25 % is drawn below 50 %
    assert trend_chart(kpis.KpiValue(**{**result.__dict__, "trend": [(dt.date(2025, 1, 1), None)]})) is None


# The demo ------------------------------------------------------------------------------------------
def test_demo_history_gives_the_baseline_and_is_idempotent(reference):
    from minesafe.plan.demo_kpis import seed_kpi_history
    from minesafe.web.demo import seed_demo

    seed_demo(months=1, scale=0.25, monitoring=False, until="plan")  # a smaller city: faster, the same kinds of records
    summary = seed_kpi_history(seed=3)
    assert summary.ledgers > 500 and summary.drills > 50 and summary.trainings > 50
    assert LedgerSubmission.objects.filter(period__year=2023, people_underground__isnull=False).exists()
    again = seed_kpi_history(seed=3)
    assert (again.ledgers, again.drills, again.trainings) == (0, 0, 0)
    results = {r.code: r for r in kpis.all_kpis(timezone.localdate())}
    people = results["people_underground"]
    assert people.value is not None and people.value < 0 and people.denominator > 0
    assert results["drills_on_time"].trend[0][1] is not None  # drills reach back before the latest one
    assert all(r.status != kpis.NO_DATA for code, r in results.items()
               if code not in ("monitoring_connected", "monitoring_online")), [
        (c, r.status) for c, r in results.items()]
