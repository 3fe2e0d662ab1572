"""Suspension reports: filing (every part required, a month or longer), the county's review, the stop that
moves the registry status, the 5-day report to the city with its overdue reminders, the pages, the API and
the role × page/API matrix."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conftest import make_user
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.registry import services as registry
from minesafe.registry.models import Mine, MineStatusChange
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

from .. import suspension, tasks
from ..models import SuspensionReport

TODAY = dt.date(2026, 3, 10)
RS = SuspensionReport.Status


def frozen(monkeypatch, day: dt.date = TODAY):
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


def parts(**overrides) -> dict:
    """A complete report starting TODAY for three months."""
    data = {"reason": "市场原因停产检修", "planned_start": TODAY, "planned_end": TODAY + dt.timedelta(days=92),
            "engineering_measures": "封闭采掘工作面，设置栅栏和警示标志",
            "management_measures": "停产期间每日巡查，钥匙由矿长保管",
            "watch_arrangements": "三班值守，每班一人下井巡查排水", "watch_headcount": 3,
            "emergency_arrangements": "保留救护协议，应急物资在位", "power_arrangements": "仅保留排水、通风和监测用电"}
    data.update(overrides)
    return data


def events(obj, action=None):
    found = AuditEvent.objects.filter(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}",
                                      object_id=str(obj.pk))
    return found.filter(action=action) if action else found


def notified(user, link_part: str = "") -> int:
    return Notification.objects.filter(recipient=user, link__contains=link_part).count()


@pytest.fixture(autouse=True)
def today(monkeypatch):
    frozen(monkeypatch)


@pytest.fixture
def ent_a2(personas):
    return make_user("ent_a2", "enterprise", personas.mine_a2.enterprise.organisation)


def filed(personas, mine=None, **overrides) -> SuspensionReport:
    return suspension.submit_report(personas.ent_a, mine or personas.mine_a, **parts(**overrides))


def stopped(personas, mine=None, **overrides) -> SuspensionReport:
    return suspension.accept_report(personas.county_a, filed(personas, mine, **overrides))


# Filing -------------------------------------------------------------------------------------------
def test_the_enterprise_files_a_complete_report_and_the_county_is_told(personas):
    report = filed(personas)
    assert report.status == RS.SUBMITTED and report.kind == SuspensionReport.Kind.SUSPENSION
    assert report.submitted_by == personas.ent_a and report.watch_headcount == 3
    assert events(report, AuditEvent.Action.CREATE).count() == 1
    assert notified(personas.county_a, f"/suspension-reports/{report.pk}/") == 1
    assert notified(personas.county_b) == 0
    assert Mine.objects.get(pk=personas.mine_a.pk).status == Mine.Status.PRODUCING  # nothing stops before review


@pytest.mark.parametrize("part", [*suspension.TEXT_PARTS, "planned_start", "watch_headcount"])
def test_every_part_of_the_report_is_required(personas, part):
    before = AuditEvent.objects.count()
    for missing in (None, "", "   "):
        if part in ("planned_start", "watch_headcount") and missing == "   ":
            continue
        with pytest.raises(ValidationError) as exc:
            filed(personas, **{part: missing})
        assert part in exc.value.message_dict
    assert not SuspensionReport.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_planned_end_before_the_start_is_refused(personas):
    with pytest.raises(ValidationError) as exc:
        filed(personas, planned_end=TODAY - dt.timedelta(days=1))
    assert "planned_end" in exc.value.message_dict
    assert not SuspensionReport.objects.exists()


def test_a_stop_shorter_than_a_month_needs_no_written_report(personas):
    with pytest.raises(ValidationError) as exc:
        filed(personas, planned_end=TODAY + dt.timedelta(days=20))
    assert "no written report" in exc.value.message_dict["planned_end"][0]
    assert not SuspensionReport.objects.exists()
    # Exactly one month is long enough; so is "until further notice".
    assert filed(personas, planned_end=dt.date(2026, 4, 10)).planned_end == dt.date(2026, 4, 10)
    assert suspension.submit_report(personas.ent_a, personas.pond_a, **parts(planned_end=None)).planned_end is None


def test_a_negative_or_fractional_headcount_is_refused(personas):
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValidationError) as exc:
            filed(personas, watch_headcount=bad)
        assert "watch_headcount" in exc.value.message_dict
    assert not SuspensionReport.objects.exists()


def test_only_the_mines_own_enterprise_files(personas):
    for user in (personas.city, personas.county_a, personas.ent_b, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            suspension.submit_report(user, personas.mine_a, **parts())
    assert not SuspensionReport.objects.exists()


def test_producing_mines_report_suspensions_and_construction_sites_halts(personas):
    with pytest.raises(ValidationError) as exc:
        filed(personas, kind=SuspensionReport.Kind.CONSTRUCTION_HALT)
    assert "kind" in exc.value.message_dict
    site = registry.create_mine(personas.city, code="KC-003", name="宽城丙在建矿", enterprise=personas.enterprise_a,
                                county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND,
                                status=Mine.Status.CONSTRUCTION, status_since=dt.date(2025, 6, 1))
    halt = suspension.accept_report(personas.county_a, filed(personas, site))
    assert halt.kind == SuspensionReport.Kind.CONSTRUCTION_HALT
    site.refresh_from_db()
    assert site.status == Mine.Status.CONSTRUCTION_HALTED and site.status_since == TODAY
    # A mine already stopped (or closed) reports nothing.
    with pytest.raises(DomainError):
        filed(personas, site)
    registry.change_status(personas.city, personas.pond_a, Mine.Status.CLOSED, reason="闭库")
    with pytest.raises(DomainError):
        filed(personas, Mine.objects.get(pk=personas.pond_a.pk))


def test_one_open_report_per_mine(personas):
    first = filed(personas)
    with pytest.raises(DomainError) as exc:
        filed(personas)
    assert exc.value.code == "duplicate"
    suspension.return_report(personas.county_a, first, reason="补充应急预案")
    with pytest.raises(DomainError):
        filed(personas)  # a returned report is still open: resubmit it
    assert SuspensionReport.objects.count() == 1


def test_a_start_before_the_mines_current_status_is_refused(personas):
    with pytest.raises(ValidationError) as exc:
        filed(personas, planned_start=dt.date(2023, 12, 1), planned_end=dt.date(2024, 3, 1))
    assert "planned_start" in exc.value.message_dict


# Review and the stop -------------------------------------------------------------------------------
def test_acceptance_on_or_after_the_planned_start_stops_the_mine(personas):
    report = filed(personas, planned_start=TODAY - dt.timedelta(days=2))
    suspension.accept_report(personas.county_a, report, note="材料齐全")
    report.refresh_from_db()
    mine = Mine.objects.get(pk=personas.mine_a.pk)
    assert report.status == RS.ACCEPTED and report.reviewed_by == personas.county_a
    assert report.stopped_on == TODAY - dt.timedelta(days=2)
    assert report.city_report_due == report.stopped_on + dt.timedelta(days=5)
    assert mine.status == Mine.Status.SUSPENDED and mine.status_since == report.stopped_on
    assert mine.watch_headcount == 3
    change = MineStatusChange.objects.filter(mine=mine).order_by("-id").first()
    assert change.new_status == Mine.Status.SUSPENDED and "市场原因停产检修" in change.reason
    assert change.changed_by == personas.county_a
    assert events(report, AuditEvent.Action.TRANSITION).count() == 2  # accepted; stopped
    assert events(mine, AuditEvent.Action.TRANSITION).count() == 1
    assert events(mine, AuditEvent.Action.UPDATE).filter(after__watch_headcount=3).count() == 1
    assert notified(personas.ent_a, f"/suspension-reports/{report.pk}/") == 1


def test_a_future_start_waits_for_the_stop(personas, monkeypatch):
    report = suspension.accept_report(personas.city, filed(personas, planned_start=TODAY + dt.timedelta(days=3)))
    assert report.status == RS.ACCEPTED and report.stopped_on is None
    assert Mine.objects.get(pk=personas.mine_a.pk).status == Mine.Status.PRODUCING
    with pytest.raises(ValidationError) as exc:
        suspension.record_stop(personas.ent_a, report, TODAY + dt.timedelta(days=1))
    assert "stopped_on" in exc.value.message_dict
    for user in (personas.ent_b, personas.county_b, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            suspension.record_stop(user, report, TODAY)
    frozen(monkeypatch, TODAY + dt.timedelta(days=4))
    suspension.record_stop(personas.ent_a, report, TODAY + dt.timedelta(days=3))
    report.refresh_from_db()
    assert report.stopped_on == TODAY + dt.timedelta(days=3)
    assert report.city_report_due == TODAY + dt.timedelta(days=8)
    assert Mine.objects.get(pk=personas.mine_a.pk).status == Mine.Status.SUSPENDED
    with pytest.raises(InvalidTransition):
        suspension.record_stop(personas.county_a, report, TODAY + dt.timedelta(days=4))
    assert MineStatusChange.objects.filter(mine=personas.mine_a, new_status=Mine.Status.SUSPENDED).count() == 1


def test_only_the_county_or_the_city_reviews(personas):
    report = filed(personas)
    for user in (personas.ent_a, personas.county_b, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            suspension.accept_report(user, report)
        with pytest.raises(PermissionDenied):
            suspension.return_report(user, report, reason="x")
    report.refresh_from_db()
    assert report.status == RS.SUBMITTED and report.reviewed_by is None


def test_a_returned_report_is_completed_and_resubmitted(personas):
    report = filed(personas)
    with pytest.raises(ValidationError):
        suspension.return_report(personas.county_a, report, reason="  ")
    assert SuspensionReport.objects.get(pk=report.pk).status == RS.SUBMITTED
    suspension.return_report(personas.county_a, report, reason="值守人数不足")
    assert report.status == RS.RETURNED and report.review_note == "值守人数不足"
    assert notified(personas.ent_a, f"/suspension-reports/{report.pk}/") == 1
    with pytest.raises(InvalidTransition):
        suspension.accept_report(personas.county_a, report)
    with pytest.raises(PermissionDenied):
        suspension.resubmit_report(personas.county_a, report, {"watch_headcount": 5})
    with pytest.raises(ValidationError):
        suspension.resubmit_report(personas.ent_a, report, {"watch_headcount": 5, "planned_end": TODAY})
    with pytest.raises(ValidationError):
        suspension.resubmit_report(personas.ent_a, report, {"address": "x"})
    unchanged = SuspensionReport.objects.get(pk=report.pk)
    assert unchanged.watch_headcount == 3 and unchanged.status == RS.RETURNED
    suspension.resubmit_report(personas.ent_a, report, {"watch_headcount": 5})
    report.refresh_from_db()
    assert report.status == RS.SUBMITTED and report.watch_headcount == 5
    last = events(report, AuditEvent.Action.TRANSITION).order_by("-seq").first()
    assert last.before == {"status": "returned", "watch_headcount": 3}
    assert last.after == {"status": "submitted", "watch_headcount": 5}
    with pytest.raises(InvalidTransition):
        suspension.resubmit_report(personas.ent_a, report, {"watch_headcount": 6})
    suspension.accept_report(personas.county_a, report)
    assert Mine.objects.get(pk=personas.mine_a.pk).watch_headcount == 5


def test_the_county_reports_the_stopped_mine_to_the_city(personas):
    waiting = suspension.accept_report(personas.county_a,
                                       filed(personas, personas.pond_a, planned_start=TODAY + dt.timedelta(days=9)))
    with pytest.raises(InvalidTransition):
        suspension.report_to_city(personas.county_a, waiting)  # not stopped yet
    report = stopped(personas)
    for user in (personas.city, personas.county_b, personas.ent_a, personas.department, personas.inspector):
        with pytest.raises(PermissionDenied):
            suspension.report_to_city(user, report)
    suspension.report_to_city(personas.county_a, report)
    report.refresh_from_db()
    assert report.status == RS.REPORTED and report.reported_by == personas.county_a
    assert report.reported_to_city_at == timezone.now()
    assert notified(personas.city, f"/suspension-reports/{report.pk}/") == 1
    assert events(report, AuditEvent.Action.TRANSITION).order_by("-seq").first().after["days_late"] == 0
    with pytest.raises(InvalidTransition):
        suspension.report_to_city(personas.county_a, report)


# The 5-day rule ------------------------------------------------------------------------------------
def test_not_reported_within_five_days_of_the_stop_is_overdue_and_reminded_daily(personas, monkeypatch):
    report = stopped(personas)  # stopped TODAY, due TODAY + 5
    link = f"/suspension-reports/{report.pk}/#city-report"
    for day in range(0, 6):
        frozen(monkeypatch, TODAY + dt.timedelta(days=day))
        assert not suspension.is_overdue(SuspensionReport.objects.get(pk=report.pk))
        assert tasks.remind_overdue_city_reports_daily.call_local() == 0
    assert Notification.objects.filter(link__endswith=link).count() == 0

    frozen(monkeypatch, TODAY + dt.timedelta(days=6))
    assert suspension.is_overdue(SuspensionReport.objects.get(pk=report.pk))
    assert list(suspension.overdue_reports()) == [report]
    assert tasks.remind_overdue_city_reports_daily.call_local() == 1
    assert notified(personas.county_a, link) == 1 and notified(personas.city, link) == 1
    assert notified(personas.county_b, link) == 0 and notified(personas.ent_a, link) == 0
    assert suspension.remind_overdue().reminded == 0  # once a day
    frozen(monkeypatch, TODAY + dt.timedelta(days=7))
    assert suspension.remind_overdue() == suspension.ReminderRun(overdue=1, reminded=1)
    assert notified(personas.county_a, link) == 2

    suspension.report_to_city(personas.county_a, report)
    assert events(report, AuditEvent.Action.TRANSITION).order_by("-seq").first().after["days_late"] == 2
    frozen(monkeypatch, TODAY + dt.timedelta(days=8))
    assert suspension.remind_overdue() == suspension.ReminderRun(overdue=0, reminded=0)
    assert not suspension.is_overdue(SuspensionReport.objects.get(pk=report.pk))


def test_overdue_reports_are_flagged_on_the_lists(client, personas, monkeypatch):
    report = stopped(personas)
    late = stopped(personas, personas.pond_a)
    suspension.report_to_city(personas.county_a, late)
    frozen(monkeypatch, TODAY + dt.timedelta(days=6))
    client.force_login(personas.county_a)
    html = client.get("/operations/suspension-reports/?status=overdue").content.decode()
    assert f'data-report="{report.pk}" class="overdue"' in html and f'data-report="{late.pk}"' not in html
    html = client.get("/operations/suspended/").content.decode()
    assert f'data-mine="{personas.mine_a.pk}" class="overdue"' in html
    assert f'data-mine="{personas.pond_a.pk}" class' not in html
    assert 'id="overdue"' in client.get(f"/operations/suspension-reports/{report.pk}/").content.decode()
    api = api_client(personas, "county_a").get("/api/v1/suspension-reports/?overdue=true").json()
    assert [r["id"] for r in api["results"]] == [report.pk] and api["results"][0]["overdue"] is True


# Pages --------------------------------------------------------------------------------------------
def form_data(**overrides) -> dict:
    return {k: ("" if v is None else v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in parts(**overrides).items()}


def test_the_whole_loop_through_the_pages(client, personas, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the refusal is read in English
    client.force_login(personas.ent_a)
    page = client.get("/operations/suspension-reports/new/")
    assert page.status_code == 200 and personas.mine_a.name in page.content.decode()
    refused = client.post("/operations/suspension-reports/new/", {"mine": personas.mine_a.pk,
                                                                  **form_data(planned_end=TODAY + dt.timedelta(9))})
    assert refused.status_code == 200 and "no written report" in refused.content.decode()
    assert not SuspensionReport.objects.exists()
    response = client.post("/operations/suspension-reports/new/", {"mine": personas.mine_a.pk, **form_data()})
    report = SuspensionReport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/operations/suspension-reports/{report.pk}/"
    # The enterprise cannot review its own report.
    assert client.post(response["Location"], {"action": "review", "decision": "accept"}).status_code == 403

    client.force_login(personas.county_a)
    detail = client.get(response["Location"]).content.decode()
    assert 'id="review-form"' in detail and 'id="city-form"' not in detail
    page = client.post(response["Location"], {"action": "review", "decision": "return", "reason": ""})
    assert page.status_code == 200 and SuspensionReport.objects.get().status == RS.SUBMITTED
    assert client.post(response["Location"], {"action": "review", "decision": "accept"}).status_code == 302
    assert Mine.objects.get(pk=personas.mine_a.pk).status == Mine.Status.SUSPENDED
    assert 'id="city-form"' in client.get(response["Location"]).content.decode()
    assert client.post(response["Location"], {"action": "city"}).status_code == 302
    assert SuspensionReport.objects.get().status == RS.REPORTED


def test_a_returned_report_is_resubmitted_through_its_page(client, personas):
    report = filed(personas)
    suspension.return_report(personas.county_a, report, reason="补充供电安排")
    client.force_login(personas.ent_a)
    url = f"/operations/suspension-reports/{report.pk}/"
    assert 'id="resubmit-form"' in client.get(url).content.decode()
    response = client.post(url, {"action": "resubmit", **form_data(power_arrangements="仅排水泵用电，其余断电")})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == RS.SUBMITTED and report.power_arrangements == "仅排水泵用电，其余断电"


def test_a_future_stop_is_recorded_on_the_report_page(client, personas, monkeypatch):
    report = suspension.accept_report(personas.county_a, filed(personas, planned_start=TODAY + dt.timedelta(2)))
    frozen(monkeypatch, TODAY + dt.timedelta(days=3))
    client.force_login(personas.ent_a)
    url = f"/operations/suspension-reports/{report.pk}/"
    assert 'id="stop-form"' in client.get(url).content.decode()
    future = client.post(url, {"action": "stop", "stopped_on": (TODAY + dt.timedelta(9)).isoformat()})
    assert future.status_code == 200 and SuspensionReport.objects.get().stopped_on is None
    assert client.post(url, {"action": "stop", "stopped_on": (TODAY + dt.timedelta(2)).isoformat()}).status_code == 302
    assert SuspensionReport.objects.get().stopped_on == TODAY + dt.timedelta(days=2)
    client.force_login(personas.ent_b)
    assert client.get(url).status_code == 404


# API ----------------------------------------------------------------------------------------------
def test_the_api_files_reviews_stops_and_reports(personas):
    ent = api_client(personas, "ent_a")
    body = {"mine": personas.mine_a.pk, **form_data()}
    missing = ent.post("/api/v1/suspension-reports/", {**body, "emergency_arrangements": ""}, format="json")
    assert missing.status_code == 400 and "emergency_arrangements" in missing.json()
    short = ent.post("/api/v1/suspension-reports/", {**body, "planned_end": "2026-03-20"}, format="json")
    assert short.status_code == 400 and "planned_end" in short.json()
    hidden = ent.post("/api/v1/suspension-reports/", {**body, "mine": personas.mine_b.pk}, format="json")
    assert hidden.status_code == 400 and "mine" in hidden.json()
    assert api_client(personas, "county_a").post("/api/v1/suspension-reports/", body,
                                                 format="json").status_code == 403
    assert not SuspensionReport.objects.exists()
    created = ent.post("/api/v1/suspension-reports/", body, format="json")
    assert created.status_code == 201 and created.json()["status"] == "submitted"
    pk = created.json()["id"]
    assert ent.post("/api/v1/suspension-reports/", body, format="json").status_code == 409

    assert ent.post(f"/api/v1/suspension-reports/{pk}/accept/", {}, format="json").status_code == 403
    assert api_client(personas, "county_b").post(f"/api/v1/suspension-reports/{pk}/accept/", {},
                                                 format="json").status_code == 404
    county = api_client(personas, "county_a")
    assert county.post(f"/api/v1/suspension-reports/{pk}/return/", {"reason": ""}, format="json").status_code == 400
    assert county.post(f"/api/v1/suspension-reports/{pk}/report-to-city/", format="json").status_code == 409
    accepted = county.post(f"/api/v1/suspension-reports/{pk}/accept/", {"note": "同意"}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["stopped_on"] == TODAY.isoformat()
    assert accepted.json()["city_report_due"] == (TODAY + dt.timedelta(days=5)).isoformat()
    assert county.post(f"/api/v1/suspension-reports/{pk}/accept/", {}, format="json").status_code == 409
    assert ent.post(f"/api/v1/suspension-reports/{pk}/stop/", {"stopped_on": TODAY.isoformat()},
                    format="json").status_code == 409
    reported = county.post(f"/api/v1/suspension-reports/{pk}/report-to-city/", format="json")
    assert reported.status_code == 200 and reported.json()["status"] == "reported"


def test_the_api_returns_and_takes_a_resubmission(personas):
    report = filed(personas, planned_start=TODAY + dt.timedelta(days=1))
    county, ent = api_client(personas, "county_a"), api_client(personas, "ent_a")
    assert county.post(f"/api/v1/suspension-reports/{report.pk}/return/", {"reason": "补充"},
                       format="json").status_code == 200
    bad = ent.post(f"/api/v1/suspension-reports/{report.pk}/resubmit/", {"planned_end": "2026-03-01"}, format="json")
    assert bad.status_code == 400 and "planned_end" in bad.json()
    again = ent.post(f"/api/v1/suspension-reports/{report.pk}/resubmit/", {"planned_end": None}, format="json")
    assert again.status_code == 200 and again.json()["planned_end"] is None and again.json()["status"] == "submitted"
    county.post(f"/api/v1/suspension-reports/{report.pk}/accept/", {}, format="json")
    assert ent.post(f"/api/v1/suspension-reports/{report.pk}/stop/", {"stopped_on": "2026-03-11"},
                    format="json").status_code == 400  # in the future
    stop = ent.post(f"/api/v1/suspension-reports/{report.pk}/stop/", {"stopped_on": TODAY.isoformat()},
                    format="json")
    assert stop.status_code == 200 and stop.json()["stopped_on"] == TODAY.isoformat()


# The role × page/API matrix ------------------------------------------------------------------------
@pytest.fixture
def reports(personas, ent_a2):
    owner = {"mine_a": personas.ent_a, "pond_a": personas.ent_a, "mine_a2": ent_a2, "mine_b": personas.ent_b}
    return {name: suspension.submit_report(owner[name], getattr(personas, name), **parts()) for name in MINES}


@pytest.mark.parametrize("persona", PERSONAS)
def test_reports_are_scoped_on_pages_and_in_the_api(client, personas, reports, persona):
    web = web_client(client, personas, persona)
    api = api_client(personas, persona)
    listing = web.get("/operations/suspension-reports/")
    listed = api.get("/api/v1/suspension-reports/?limit=100")
    if persona == "anonymous":
        assert listing.status_code == 302 and listed.status_code == 403
        for report in reports.values():
            assert web.get(f"/operations/suspension-reports/{report.pk}/").status_code == 302
            assert api.get(f"/api/v1/suspension-reports/{report.pk}/").status_code == 403
        return
    html = listing.content.decode()
    assert {n for n, r in reports.items() if f'data-report="{r.pk}"' in html} == SCOPE[persona]
    assert {r["id"] for r in listed.json()["results"]} == {reports[n].pk for n in SCOPE[persona]}
    for name, report in reports.items():
        expected = 200 if name in SCOPE[persona] else 404
        assert web.get(f"/operations/suspension-reports/{report.pk}/").status_code == expected
        assert api.get(f"/api/v1/suspension-reports/{report.pk}/").status_code == expected
    new_page = web.get("/operations/suspension-reports/new/")
    assert new_page.status_code == (200 if persona in ("ent_a", "ent_b") else 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_review_a_visible_report(personas, reports, persona):
    api = api_client(personas, persona)
    report = reports["mine_a"]
    response = api.post(f"/api/v1/suspension-reports/{report.pk}/return/", {"reason": "补充"}, format="json")
    expected = {"anonymous": 403, "city": 200, "county_a": 200, "county_b": 404, "ent_b": 404, "inspector": 404,
                "ent_a": 403, "department": 403}[persona]
    assert response.status_code == expected
    assert SuspensionReport.objects.get(pk=report.pk).status == (RS.RETURNED if expected == 200 else RS.SUBMITTED)
