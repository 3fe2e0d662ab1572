"""The action plan's tasks and progress: the catalogue sync, reporting periods, the report's life (submit,
review, return, resubmit) with refusals that change nothing, dated parts, county tasks, what is overdue and
its reminders with a fixed clock, scoping of every page, and the demo."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.plan import services
from minesafe.plan.demo import LATE_UNITS, seed_plan
from minesafe.plan.models import CountyTask, PlanTask, ProgressReport, ReportEntry, TaskUnit
from minesafe.plan.tasks_catalogue import sync_tasks
from minesafe.web.tests.test_scoping import PERSONAS, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)
NOW = timezone.make_aware(dt.datetime(2026, 11, 30, 10))
Q3 = dt.date(2026, 7, 1)
PDF = b"%PDF-1.7\n" + b"0" * 64


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def entries(**texts):
    return {int(k[1:]): {"text": v, "figures": [{"label": "检查矿山", "value": "12"}]} for k, v in texts.items()}


def test_the_catalogue_gives_32_tasks_with_their_units(personas):
    assert sync_tasks() == 32 and sync_tasks() == 32  # idempotent
    task9 = PlanTask.objects.get(number=9)
    codes = set(task9.units.values_list("unit_code", flat=True))
    assert codes == {"YJ", "ZRZY", "GA", "GD", "COUNTY", "GXQ"}
    assert task9.units.get(lead=True).organisation.kind == Organisation.Kind.CITY_BUREAU
    assert task9.units.filter(unit_code="GXQ").count() == 1
    assert task9.units.filter(unit_code="COUNTY").count() == Organisation.objects.filter(kind="county").count() - 1
    assert PlanTask.objects.get(number=13).units.get(lead=True).unit_code == "ZRZY"
    assert PlanTask.objects.get(number=16).targets[0]["value"] == 10
    assert PlanTask.objects.get(number=16).deadline == dt.date(2026, 12, 31)


def test_periods():
    assert services.period_of(dt.date(2026, 11, 30)) == services.Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert services.period_of(dt.date(2026, 2, 10), "month") == services.Period(dt.date(2026, 2, 1),
                                                                                dt.date(2026, 2, 28))
    assert services.due_date(services.period_of(Q3)) == dt.date(2026, 10, 10)
    due = services.periods_due(TODAY)
    assert due[0].start == dt.date(2024, 7, 1) and due[-1].start == Q3 and len(due) == 9
    assert services.periods_due(dt.date(2026, 10, 10))[-1].start == dt.date(2026, 4, 1)
    assert services.period_of(Q3).label == "2026 Q3"


def test_a_unit_reports_and_the_city_reviews(personas):
    report = services.submit_report(personas.county_a, Q3, summary="三季度工作", entries=entries(t25="检查 12 座矿山",
                                                                                           t5="督促自查"),
                                    evidence=[("检查记录.pdf", PDF)])
    assert report.status == ProgressReport.Status.SUBMITTED and report.organisation == personas.county_a.organisation
    assert list(report.entries.values_list("task__number", flat=True)) == [5, 25]
    assert report.entries.get(task__number=25).figures == [{"label": "检查矿山", "value": 12.0}]
    assert report.evidence.get().sha256
    assert Notification.objects.filter(recipient=personas.city, link=services.report_link(report)).exists()
    with pytest.raises(InvalidTransition):
        services.submit_report(personas.county_a, Q3, summary="again", entries=entries(t5="x"))
    with pytest.raises(PermissionDenied):
        services.review_report(personas.county_a, report, accept=True)
    with pytest.raises(ValidationError) as error:
        services.review_report(personas.city, report, accept=False)
    assert "note" in error.value.message_dict
    services.review_report(personas.city, report, accept=False, note="补充数据")
    assert Notification.objects.filter(recipient=personas.county_a, subject__contains="returned").exists()
    services.submit_report(personas.county_a, Q3, summary="补充后", entries=entries(t16="闭库 1 座"))
    report.refresh_from_db()
    assert report.status == ProgressReport.Status.SUBMITTED and report.summary == "补充后"
    assert list(report.entries.values_list("task__number", flat=True)) == [16]
    resubmission = AuditEvent.objects.filter(object_type="plan.progressreport", action="transition").first()
    assert [e["task"] for e in resubmission.before["entries"]] == [5, 25]
    services.review_report(personas.city, report, accept=True)
    with pytest.raises(InvalidTransition):
        services.review_report(personas.city, report, accept=False, note="x")


@pytest.mark.parametrize("period,kwargs,field", [
    (dt.date(2026, 7, 2), {}, "period_start"),
    (dt.date(2027, 1, 1), {}, "period_start"),
    (dt.date(2024, 4, 1), {}, "period_start"),
    (Q3, {"summary": " "}, "summary"),
    (Q3, {"entries": {}}, "entries"),
    (Q3, {"entries": {99: {"text": "x"}}}, "task_99"),  # the counties answer for all 32; there is no 99
    (Q3, {"entries": {5: {"text": "x", "figures": [{"label": "矿山", "value": "many"}]}}}, "task_5"),
    (Q3, {"entries": {5: {"text": "x", "figures": [{"label": "", "value": "3"}]}}}, "task_5"),
    (Q3, {"evidence": [("a.exe", b"MZ\x90\x00")]}, "evidence"),
])
def test_bad_reports_are_refused_and_store_nothing(personas, period, kwargs, field):
    data = {"summary": "三季度", "entries": entries(t5="督促自查"), **kwargs}
    with pytest.raises(ValidationError) as error:
        services.submit_report(personas.county_a, period, **data)
    assert field in error.value.message_dict
    assert not ProgressReport.objects.exists() and not ReportEntry.objects.exists()


def test_only_responsible_units_report_on_their_own_tasks(personas):
    for persona in ("ent_a", "inspector"):
        with pytest.raises(PermissionDenied):
            services.submit_report(getattr(personas, persona), Q3, summary="x", entries=entries(t5="x"))
    with pytest.raises(ValidationError) as error:  # 市自然资源和规划局 does not answer for task 5
        services.submit_report(personas.department, Q3, summary="x", entries=entries(t5="x"))
    assert "task_5" in error.value.message_dict
    assert services.submit_report(personas.department, Q3, summary="x", entries=entries(t13="整合重组"))


def test_dated_parts_and_county_tasks(personas):
    task6 = TaskUnit.objects.get(task__number=6, organisation=personas.county_a.organisation)
    with pytest.raises(PermissionDenied):
        services.complete_part(personas.county_b, task6, completed_on=TODAY, note="x")
    services.complete_part(personas.county_a, task6, completed_on=dt.date(2024, 12, 20), note="隐患清单管理已建立")
    with pytest.raises(InvalidTransition):
        services.complete_part(personas.county_a, task6, completed_on=TODAY, note="again")
    ongoing = TaskUnit.objects.get(task__number=1, organisation=personas.county_a.organisation)
    with pytest.raises(ValidationError):
        services.complete_part(personas.county_a, ongoing, completed_on=TODAY, note="x")
    missed = services.missed_deadlines(TaskUnit.objects.filter(organisation=personas.county_a.organisation), TODAY)
    assert task6 not in missed and TaskUnit.objects.get(task__number=7, organisation=personas.county_a.organisation) \
        in missed
    task16 = PlanTask.objects.get(number=16)
    with pytest.raises(ValidationError) as error:
        services.add_county_task(personas.county_a, task16, title="闭库", deadline=dt.date(2027, 3, 1))
    assert "deadline" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.add_county_task(personas.county_a, task16, title="", deadline=dt.date(2026, 12, 1))
    with pytest.raises(PermissionDenied):
        services.add_county_task(personas.city, task16, title="x", deadline=dt.date(2026, 12, 1))
    county_task = services.add_county_task(personas.county_a, task16, title="完成 3 座尾矿库闭库",
                                           deadline=dt.date(2026, 11, 1))
    assert list(services.overdue_county_tasks(TODAY)) == [county_task]
    with pytest.raises(PermissionDenied):
        services.complete_county_task(personas.county_b, county_task, done_on=TODAY, note="x")
    services.complete_county_task(personas.county_a, county_task, done_on=TODAY, note="已闭库")
    assert CountyTask.objects.get().status == CountyTask.Status.DONE


def test_overdue_reports_and_reminders(personas, monkeypatch):
    own = Organisation.objects.filter(pk=personas.county_a.organisation.pk)
    for period in services.periods_due(TODAY)[:-1]:
        ProgressReport.objects.create(organisation=personas.county_a.organisation, period_start=period.start,
                                      period_end=period.end, summary="x", submitted_by=personas.county_a,
                                      status="accepted")
    [late] = services.overdue_reports(own, TODAY)
    assert (late.period.start, late.due, late.days_late) == (Q3, dt.date(2026, 10, 10), 51)
    services.submit_report(personas.county_a, Q3, summary="x", entries=entries(t5="x"))
    assert services.overdue_reports(own, TODAY) == []
    report = ProgressReport.objects.get(period_start=Q3)
    services.review_report(personas.city, report, accept=False, note="补充")
    [late] = services.overdue_reports(own, TODAY)
    assert late.returned == report

    run = services.remind_overdue(TODAY)
    assert run.reminded >= 1 and run.escalated >= 1
    county_notes = Notification.objects.filter(recipient=personas.county_a, subject__contains="overdue")
    assert county_notes.count() == 1
    city_notes = Notification.objects.filter(recipient=personas.city, subject__contains="days late").count()
    again = services.remind_overdue(TODAY)
    assert again.reminded == 0 and again.escalated == 0
    monkeypatch.setattr(timezone, "now", lambda: NOW + dt.timedelta(days=1))
    assert services.remind_overdue(TODAY + dt.timedelta(days=1)).escalated == 0  # once per report
    assert county_notes.count() == 2  # but a reminder a day
    assert Notification.objects.filter(recipient=personas.city, subject__contains="days late").count() == city_notes


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_are_scoped(client, personas, persona):
    mine = services.submit_report(personas.county_a, Q3, summary="宽城三季度", entries=entries(t5="宽城自查"),
                                  evidence=[("a.pdf", PDF)])
    theirs = services.submit_report(personas.county_b, Q3, summary="兴隆三季度", entries=entries(t5="兴隆自查"))
    web = web_client(client, personas, persona)
    officials = {"city": {mine.pk, theirs.pk}, "county_a": {mine.pk}, "county_b": {theirs.pk}, "department": set()}
    pages = ["/plan/", "/plan/tasks/5/", "/plan/reports/", "/plan/overdue/", "/plan/reports/new/"]
    for page in pages:
        status = web.get(page).status_code
        if persona == "anonymous":
            assert status == 302
        elif persona not in officials:
            assert status == 403, page
        elif page == "/plan/reports/new/" and persona == "department":
            assert status == 200  # 市自然资源和规划局 answers for several tasks
        else:
            assert status == 200, page
    if persona in officials:
        listed = {r.pk for r in web.get("/plan/reports/").context["reports"]}
        assert listed == officials[persona]
        task_page = web.get("/plan/tasks/5/").content.decode()
        assert ("兴隆自查" in task_page) == (theirs.pk in officials[persona])
        assert ("宽城自查" in task_page) == (mine.pk in officials[persona])
    evidence = mine.evidence.get()
    for report in (mine, theirs):
        status = web.get(f"/plan/reports/{report.pk}/").status_code
        allowed = report.pk in officials.get(persona, set())
        assert status == (302 if persona == "anonymous" else 200 if allowed else 403 if persona not in officials
                          else 404)
    download = web.get(f"/plan/reports/{mine.pk}/evidence/{evidence.pk}/").status_code
    assert download == (302 if persona == "anonymous" else 200 if mine.pk in officials.get(persona, set())
                        else 403 if persona not in officials else 404)


def test_report_form_and_review_pages(client, personas):
    client.force_login(personas.county_a)
    page = client.get("/plan/reports/new/")
    assert page.status_code == 200 and Q3.isoformat() in page.content.decode()
    response = client.post("/plan/reports/new/", {
        "period_start": Q3.isoformat(), "summary": "<script>x</script>三季度", "task_5": "督促自查",
        "figures_5": "自查矿山：14\n督办隐患: 3"})
    report = ProgressReport.objects.get()
    assert response.status_code == 302
    assert report.entries.get().figures == [{"label": "自查矿山", "value": 14.0}, {"label": "督办隐患", "value": 3.0}]
    detail = client.get(f"/plan/reports/{report.pk}/").content.decode()
    assert "<script>x</script>" not in detail and "&lt;script&gt;" in detail
    assert client.post(f"/plan/reports/{report.pk}/", {"review-decision": "accept"}).status_code == 403
    assert ProgressReport.objects.get().status == ProgressReport.Status.SUBMITTED  # a county cannot review
    client.force_login(personas.city)
    client.post(f"/plan/reports/{report.pk}/", {"review-decision": "accept", "review-note": ""})
    assert ProgressReport.objects.get().status == ProgressReport.Status.ACCEPTED


def test_demo_plan(personas):
    result = seed_plan(seed=1, today=TODAY)
    assert result.tasks == 32 and result.reports > 100 and result.entries > result.reports
    late = services.overdue_reports(Organisation.objects.all(), TODAY)
    late_codes = {o.organisation.region.code for o in late}
    assert set(LATE_UNITS) <= late_codes
    assert ProgressReport.objects.filter(status="returned").count() == 1
    assert services.missed_deadlines(TaskUnit.objects.all(), TODAY).filter(task__number=17).count() == 2
    assert seed_plan(seed=1, today=TODAY).reports == 0
