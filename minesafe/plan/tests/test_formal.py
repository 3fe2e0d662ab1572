"""The formal reports: each report for an empty period (the file opens and says zero) and for a full one built by
hand (exact figures read back from the xlsx with openpyxl and from the docx with python-docx, the charts' cached
values included); a mine that moved county mid-month counted where the rule says; period validation; the stored
file and its SHA-256; scoping of the pages; the command line; the native Word chart part itself. The clock is
fixed at 2026-11-30 10:00 (Asia/Shanghai)."""

import datetime as dt
import hashlib
import io
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree
from openpyxl import load_workbook

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Region
from minesafe.evaluation import scoring
from minesafe.evaluation import services as evaluation
from minesafe.evaluation.tests import factories as f
from minesafe.hazards.models import Hazard
from minesafe.monitoring.models import Alarm
from minesafe.plan import docx_charts, formal, formal_docs, formal_service
from minesafe.plan.formal_docs import HEAD_ROW
from minesafe.plan.models import FormalReport
from minesafe.plan.tasks_catalogue import sync_tasks
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(dt.datetime(2026, 11, 30, 10))
TODAY = dt.date(2026, 11, 30)
K = FormalReport.Kind
MARCH = formal.Period.make(formal.MONTH, 2026, 3)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


# Reading the files back --------------------------------------------------------------------------
def workbook(record: FormalReport):
    return load_workbook(io.BytesIO(formal_service.stored_bytes(record)))


def sheet_rows(wb, title: str) -> dict[str, list]:
    """A section sheet's data rows by their first cell (the county code; '' for the city's total row)."""
    ws = wb[title]
    return {row[0] or "": list(row[2:]) for row in ws.iter_rows(min_row=HEAD_ROW + 1, values_only=True)}


def heads(wb, title: str) -> list[str]:
    return [c.value for c in wb[title][HEAD_ROW]]


def word(record: FormalReport) -> Document:
    return Document(io.BytesIO(formal_service.stored_bytes(record)))


def text_of(doc: Document) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def table_after(doc: Document, heading: str) -> list[list[str]]:
    """The rows of the first table following the heading whose text ends with `heading`."""
    found = False
    for child in doc.element.body.iterchildren():
        if child.tag.endswith("}p") and Paragraph(child, doc).text.endswith(heading):
            found = True
        elif found and child.tag.endswith("}tbl"):
            return [[cell.text for cell in row.cells] for row in Table(child, doc).rows]
    raise AssertionError(f"no table after {heading!r}")


def charts(doc: Document) -> list[dict]:
    return [docx_charts.cached_series(part.blob) for part in docx_charts.chart_parts(doc)]


def generate(actor, kind, period, county=""):
    return formal_service.generate(actor, kind, period, county)


# Periods -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "text", "label", "start", "end"), [
    (K.MONTHLY, "2026-10", "2026-10", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    (K.MONTHLY, "2024-2", "2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    (K.QUARTERLY, "2026-Q3", "2026-Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    (K.QUARTERLY, "2026q4", "2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
    (K.HALF_YEAR, "2025-H2", "2025-H2", dt.date(2025, 7, 1), dt.date(2025, 12, 31)),
    (K.YEAR_END, "2023", "2023", dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
])
def test_each_report_takes_its_own_period(kind, text, label, start, end):
    period = formal.parse_period(kind, text, TODAY)
    assert (period.label, period.start, period.end) == (label, start, end)


@pytest.mark.parametrize(("kind", "text", "reason"), [
    (K.MONTHLY, "", "give the period as YYYY-MM"),
    (K.MONTHLY, "2026-13", "give the period as YYYY-MM"),
    (K.MONTHLY, "2026-Q3", "give the period as YYYY-MM"),
    (K.QUARTERLY, "2026-10", "give the period as YYYY-Qn"),
    (K.HALF_YEAR, "2026-H3", "give the period as YYYY-H1"),
    (K.YEAR_END, "26", "give the period as YYYY"),
    (K.MONTHLY, "2026-12", "2026-12 has not begun: the latest period is 2026-11"),
    (K.QUARTERLY, "2027-Q1", "2027-Q1 has not begun: the latest period is 2026-Q4"),
    (K.YEAR_END, "2027", "2027 has not begun"),
    (K.MONTHLY, "2022-12", "the reports start with 2023-01"),
    (K.HALF_YEAR, "2022-H2", "the reports start with 2023-01"),
])
def test_a_bad_period_is_refused_with_the_reason(kind, text, reason):
    with pytest.raises(ValidationError) as exc:
        formal.parse_period(kind, text, TODAY)
    assert list(exc.value.message_dict) == ["period"] and reason in exc.value.message_dict["period"][0]


def test_generation_names_every_bad_field_and_stores_nothing(personas):
    with pytest.raises(ValidationError) as exc:
        generate(personas.city, "weekly", "2026-10", "999999")
    assert set(exc.value.message_dict) == {"kind", "county"}
    with pytest.raises(ValidationError) as exc:
        generate(personas.city, K.MONTHLY, "2026-12", "130800")  # the city is not a county-level unit
    assert set(exc.value.message_dict) == {"period", "county"}
    assert not FormalReport.objects.exists()


# Empty periods -----------------------------------------------------------------------------------
def test_the_monthly_statistics_of_an_empty_month_open_and_say_zero(personas):
    # The persona mines are registered from 2024-01-01: in 2023-03 there is nothing at all.
    record = generate(personas.city, K.MONTHLY, "2023-03")
    wb = workbook(record)
    assert wb.sheetnames[0] == "About" and len(wb.sheetnames) == 12
    for title in wb.sheetnames[1:10]:  # the county tables: every cell of the city's total row is 0
        total = sheet_rows(wb, title)[""]
        assert total and all(v == 0 for v in total), title
    assert wb["Major hazards"]["A1"].value.startswith("Monthly statistics of the action plan, 2023-03")
    assert wb["Major hazards"]["B2"].value == "2023-03-01 – 2023-03-31 (2023-03)"
    assert wb["Major hazards"]["A5"].value == "Counted" and "2023-03-01 – 2023-03-31" in wb["Major hazards"]["B5"].value
    assert len(wb["Major hazards"]._charts) == 1
    kpis = list(wb["Plan indicators"].iter_rows(min_row=HEAD_ROW + 1, values_only=True))
    assert kpis and all(row[1] == "—" and row[6] == "No data" for row in kpis)


@pytest.mark.parametrize(("kind", "period"), [(K.QUARTERLY, "2023-Q1"), (K.HALF_YEAR, "2023-H1"),
                                              (K.YEAR_END, "2023")])
def test_the_word_reports_of_an_empty_period_open_with_their_charts(personas, kind, period):
    doc = word(generate(personas.city, kind, period))
    assert doc.core_properties.title.endswith(f"{period}, the whole city")
    assert "Period: 2023-01-01 – " in text_of(doc)
    assert charts(doc) and all(c["categories"] for c in charts(doc))
    for part in docx_charts.chart_parts(doc):
        etree.fromstring(part.blob)  # well-formed
    if kind != K.QUARTERLY:
        # Nothing published: no county ranked, the averages' chart has only gaps; the months show zeros.
        assert "Published quarterly sheets in the period: Q1 0/12" in text_of(doc)
        assert all(v is None for v in charts(doc)[0]["series"]["Average"])
        months = table_after(doc, "Enforcement month by month")
        assert months[-1][:3] == ["Total", "0", "0"]


# A full month ------------------------------------------------------------------------------------
@pytest.fixture
def march(personas):
    """March 2026 in counties A (宽城) and B (兴隆); mine_a2 moves from A to B on 2026-03-20."""
    p = personas
    at = f.at
    org_a = f.county_org(p.county_a_region)
    # Hazards: one closed on time, one closed late, one at B overdue and open, one cancelled (left out).
    f.hazard(p.mine_a, "UG-01", source="county_inspection", found_on=dt.date(2026, 3, 5), by=p.county_a,
             deadline=dt.date(2026, 3, 20), closed_at=at(dt.date(2026, 3, 18)))
    f.hazard(p.mine_a, "UG-02", source="self_check", found_on=dt.date(2026, 2, 10), by=p.county_a,
             deadline=dt.date(2026, 3, 10), closed_at=at(dt.date(2026, 3, 25)))
    f.hazard(p.mine_b, "OP-01", source="county_inspection", found_on=dt.date(2026, 3, 2), by=p.county_b,
             deadline=dt.date(2026, 3, 15))
    f.hazard(p.mine_b, "OP-02", source="county_inspection", found_on=dt.date(2026, 3, 3), by=p.county_b,
             deadline=dt.date(2026, 3, 15), status=Hazard.Status.CANCELLED)
    # mine_a2: suspended on 03-15 (in A), moved to B on 03-20, a hazard found there on 03-25 (B's).
    registry.change_status(p.city, p.mine_a2, Mine.Status.SUSPENDED, reason="停产整顿",
                           effective_date=dt.date(2026, 3, 15))
    move(p.mine_a2, p.county_b_region, dt.date(2026, 3, 20), p.city)
    f.hazard(p.mine_a2, "UG-03", source="county_inspection", found_on=dt.date(2026, 3, 25), by=p.county_b,
             deadline=dt.date(2026, 4, 25))
    # Enforcement by county A's government: two inspections (one at B's mine), a major finding, a decision.
    first = f.inspection(p.mine_a, org_a, dt.date(2026, 3, 6), p.county_a)
    f.inspection(p.mine_b, org_a, dt.date(2026, 3, 7), p.county_a)
    f.inspection(p.mine_a, org_a, dt.date(2026, 3, 8), p.county_a, status="in_progress")
    first.findings.create(description="安全出口堵塞", major=True, deadline=dt.date(2026, 3, 20), created_by=p.county_a)
    first.findings.create(description="记录不全", major=False, deadline=dt.date(2026, 3, 20), created_by=p.county_a)
    f.penalty(p.mine_a, org_a, dt.date(2026, 3, 20), p.county_a, enterprise_fine=20000, person_fine=5000)
    # Whistleblower report handled by A, an accident at B, a red alarm at A never acknowledged.
    f.tipoff(p.county_a_region, at(dt.date(2026, 3, 1), 9))
    f.accident(p.mine_b, at(dt.date(2026, 3, 10)), p.city, deaths=1)
    Alarm.objects.create(key="T-1", mine=p.mine_a, source=Alarm.Source.THRESHOLD, level=4, max_level=4,
                         opened_at=at(dt.date(2026, 3, 3)), ack_due_at=at(dt.date(2026, 3, 3), 10, 30),
                         response_due_at=at(dt.date(2026, 3, 3), 12))
    # February's ledgers (due 2026-03-05): A on time, A2 late, B on time, the pond none.
    f.ledger(p.mine_a, dt.date(2026, 2, 1), dt.date(2026, 3, 2))
    f.ledger(p.mine_a2, dt.date(2026, 2, 1), dt.date(2026, 3, 8))
    f.ledger(p.mine_b, dt.date(2026, 2, 1), dt.date(2026, 3, 5))
    return p


def move(mine, county, day, actor):
    """A mine moved to another county on `day` (an administrator's correction, audited as the KPIs read it)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
    real_now = timezone.now
    timezone.now = lambda: moment
    try:
        audit.record(actor, AuditEvent.Action.UPDATE, mine, before={"county_id": mine.county_id},
                     after={"county_id": county.pk})
    finally:
        timezone.now = real_now
    Mine.objects.filter(pk=mine.pk).update(county=county)
    mine.refresh_from_db()


A, B = "130827", "130822"


def test_the_monthly_statistics_of_a_full_month_give_the_exact_figures(march):
    record = generate(march.city, K.MONTHLY, "2026-03")
    wb = workbook(record)
    hazards = sheet_rows(wb, "Major hazards")
    # reported, closed, closed by the deadline, overdue and open at the end
    assert hazards[A] == [1, 2, 1, 0] and hazards[B] == [2, 0, 0, 1] and hazards[""] == [3, 2, 1, 1]
    mines = sheet_rows(wb, "Mines at the end")
    assert heads(wb, "Mines at the end")[2:4] == ["Mines (not closed)", "Underground mine"]
    # At 03-31: A has mine_a and the pond, B has mine_b and (moved in) mine_a2, suspended.
    assert mines[A][:2] == [2, 1] and mines[B][:2] == [2, 1] and mines[B][-2] == 1
    changes = sheet_rows(wb, "Status changes and ledgers")
    # registered, stopped, resumed, closed, owed, on time, late, not submitted: the stop counts for A (03-15).
    assert changes[A] == [0, 1, 0, 0, 3, 1, 1, 1] and changes[B] == [0, 0, 0, 0, 1, 1, 0, 0]
    enforcement = sheet_rows(wb, "Inspections and penalties")
    assert enforcement[A] == [2, 2, 1, 1, 25000] and enforcement[B] == [0, 0, 0, 0, 0]
    # Received 03-01 09:00, its feedback due 30 days later (03-31): due in March, and nothing done on time.
    assert sheet_rows(wb, "Whistleblower reports")[A] == [1, 0, 1, 0]
    assert sheet_rows(wb, "Accidents")[B] == [1, 0, 1, 0, 0, 0]
    alarms = sheet_rows(wb, "Monitoring alarms")
    assert alarms[A] == [1, 0, 0, 0, 1, 1, 1] and alarms[""] == [1, 0, 0, 0, 1, 1, 1]
    about = wb["About"]
    assert about["B3"].value == "Whole city"
    assert '"period": "2026-03"' in next(r[1] for r in about.iter_rows(values_only=True) if r[0] == "Parameters")


def test_a_county_report_holds_that_county_only_and_counts_the_moved_mine_by_the_day(march):
    record = generate(march.county_a, K.MONTHLY, "2026-03", A)
    wb = workbook(record)
    hazards = sheet_rows(wb, "Major hazards")
    assert hazards == {A: [1, 2, 1, 0]}  # no other county, no city total
    assert sheet_rows(wb, "Status changes and ledgers") == {A: [0, 1, 0, 0, 3, 1, 1, 1]}
    b = generate(march.county_b, K.MONTHLY, "2026-03", B)
    # B: mine_b's two hazards and mine_a2's found after the move; the suspension (before the move) is not B's.
    assert sheet_rows(workbook(b), "Major hazards") == {B: [2, 0, 0, 1]}
    assert sheet_rows(workbook(b), "Status changes and ledgers")[B][1] == 0
    assert sheet_rows(workbook(b), "Mines at the end")[B][0] == 2


# Quarterly assessment ----------------------------------------------------------------------------
def test_the_quarterly_assessment_ranks_the_counties_from_the_evaluation(march):
    p = march
    record = generate(p.city, K.QUARTERLY, "2026-Q1")
    doc = word(record)
    quarter = scoring.Quarter(2026, 1)
    expected = {c.code: scoring.compute_sheet(c, quarter, today=TODAY)["total"] for c in
                evaluation.evaluated_counties()}
    ranking = table_after(doc, "Ranking of the counties")
    assert ranking[0][:4] == ["Rank", "Code", "County", "Sheet"] and ranking[0][-1] == "Total"
    totals = {row[1]: float(row[-1]) for row in ranking[1:]}
    assert totals == pytest.approx(expected)
    chart = charts(doc)[0]
    assert chart["title"] == "Total score by county" and chart["kind"] == docx_charts.BAR
    assert dict(zip([r[2] for r in ranking[1:]], chart["series"]["Total"], strict=True)) == pytest.approx(
        {r[2]: float(r[-1]) for r in ranking[1:]})
    sheets = table_after(doc, "Score sheets item by item")
    penalties = next(r for r in sheets if r[0] == str(p.county_a_region) and r[1].startswith("Penalty cases"))
    assert penalties[2:5] == ["1 / 2", "15", "15"]  # 1 decision per 2 inspections: at the 0.2 target, full marks


def test_a_county_reads_its_own_assessment_with_its_rank(march):
    doc = word(generate(march.county_a, K.QUARTERLY, "2026-Q1", A))
    ranking = table_after(doc, "Ranking of the counties")
    assert len(ranking) == 2 and ranking[1][1] == A
    assert f"{march.county_a_region}: {float(ranking[1][-1]):g} points, rank {ranking[1][0]} of 12 counties." in \
        text_of(doc)
    items = charts(doc)[0]
    assert items["title"] == "Item scores against their maxima" and set(items["series"]) == {"Score", "Maximum"}
    assert sum(items["series"]["Maximum"]) == 100


# Half-year notice and year-end summary -----------------------------------------------------------
def publish(p, county, quarter, values):
    for item, value in values.items():
        evaluation.set_manual_score(p.city, county, quarter, item, value, "评查")
    return evaluation.publish(p.city, county, quarter)


def test_the_half_year_notice_averages_the_published_sheets(march):
    p = march
    first = publish(p, p.county_a_region, scoring.Quarter(2026, 1), {"documents": 5, "case_files": 5,
                                                                      "satisfaction": 5})
    second = publish(p, p.county_a_region, scoring.Quarter(2026, 2), {"documents": 1, "case_files": 1,
                                                                       "satisfaction": 1})
    average = float(scoring.cents((Decimal(first.total) + Decimal(second.total)) / 2))
    doc = word(generate(p.city, K.HALF_YEAR, "2026-H1"))
    ranking = table_after(doc, "Ranking of the counties")
    a = next(r for r in ranking if r[1] == A)
    assert a[0] == "1" and [float(a[3]), float(a[4]), float(a[5])] == pytest.approx(
        [float(first.total), float(second.total), average])
    assert all(r[0] == "—" for r in ranking[1:] if r[1] != A)  # not published: not ranked
    averages = charts(doc)[0]["series"]["Average"]
    assert averages[[r[1] for r in ranking[1:]].index(A)] == pytest.approx(average)
    assert sum(v is not None for v in averages) == 1
    months = table_after(doc, "Enforcement month by month")
    assert months[3][:6] == ["2026-03", "2", "1", "25,000.00", "3", "2"] and len(months) == 1 + 6 + 1
    assert months[2][4:6] == ["1", "0"] and months[-1][:6] == ["Total", "2", "1", "25,000.00", "4", "2"]
    line = charts(doc)[1]
    assert line["kind"] == docx_charts.LINE and line["series"]["Inspections completed"] == [0, 0, 2, 0, 0, 0]
    hazards = table_after(doc, "Major hazards")
    assert next(r for r in hazards if r[0] == A)[2:] == ["2", "2", "1", "0"]
    # The county's own notice: its row only, and its items' averages (penalties: 15 in Q1, none decided in Q2).
    own = word(generate(p.county_a, K.HALF_YEAR, "2026-H1", A))
    assert [r[1] for r in table_after(own, "Ranking of the counties")[1:]] == [A]
    scores = [next(i["score"] for i in s.snapshot["items"] if i["code"] == "penalties") for s in (first, second)]
    assert scores == [15.0, 0.0]
    items = {r[0]: r[1:] for r in table_after(own, "Items across the counties")}
    assert items["Penalty cases decided per completed inspection"] == ["15", "7.5", "50.0%"]


def test_the_year_end_summary_of_a_county_covers_the_year_to_date_with_the_tasks(march):
    sync_tasks()
    doc = word(generate(march.county_a, K.YEAR_END, "2026", A))
    text = text_of(doc)
    assert "Period: 2026-01-01 – 2026-12-31 (2026) counted up to 2026-11-30" in text
    tasks = table_after(doc, "The plan's tasks")
    assert tasks[0] == ["Task", "Title", "Deadline", "Responsible units", "Dated part completed", "Deadline missed"]
    assert len(tasks) > 10 and all(row[3] == "1" for row in tasks[1:])  # the county's own part of each task
    accidents = table_after(doc, "Accidents")
    assert accidents[1][:3] == [A, str(march.county_a_region), "0"] and len(accidents) == 2
    assert doc.core_properties.identifier == f"year_end:2026:{A}"


# Storing, downloading, auditing ------------------------------------------------------------------
def test_the_stored_file_matches_its_sha256_and_is_never_regenerated_in_place(march, client):
    first = generate(march.city, K.MONTHLY, "2026-03")
    sent = formal_service.stored_bytes(first)
    assert hashlib.sha256(sent).hexdigest() == first.sha256 and first.size == len(sent)
    assert (first.period_start, first.period_end, first.county, first.generated_by) == (
        dt.date(2026, 3, 1), dt.date(2026, 3, 31), None, march.city)
    assert first.parameters["counted_until"] == "2026-03-31" and first.parameters["scope"] == "city"
    f.hazard(march.mine_a, "UG-04", source="self_check", found_on=dt.date(2026, 3, 30), by=march.city)
    second = generate(march.city, K.MONTHLY, "2026-03")
    assert second.pk != first.pk and second.sha256 != first.sha256
    first.refresh_from_db()
    assert formal_service.stored_bytes(first) == sent  # the one sent is kept unchanged
    assert sheet_rows(workbook(second), "Major hazards")[A][0] == 2
    client.force_login(march.city)
    response = client.get(f"/plan/formal/{first.pk}/download/")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and hashlib.sha256(body).hexdigest() == first.sha256
    assert response["X-Content-SHA256"] == first.sha256
    assert response["Content-Disposition"] == 'attachment; filename="monthly-2026-03-city.xlsx"'
    event = AuditEvent.objects.filter(object_type="plan.formalreport", object_id=str(first.pk)).get()
    assert (event.action, event.after["sha256"], event.after["period"]) == ("create", first.sha256, "2026-03")


# Who may ------------------------------------------------------------------------------------------
@pytest.fixture
def reports(personas):
    return {"city": generate(personas.city, K.MONTHLY, "2026-03"),
            "a": generate(personas.county_a, K.MONTHLY, "2026-03", A)}


@pytest.mark.parametrize(("persona", "city_report", "a_report", "listing"), [
    ("city", 200, 200, 200), ("county_a", 404, 200, 200), ("county_b", 404, 404, 200),
    ("department", 200, 404, 200), ("ent_a", 403, 403, 403), ("ent_b", 403, 403, 403),
    ("inspector", 403, 403, 403),
])
def test_who_reads_which_report(reports, personas, client, persona, city_report, a_report, listing):
    client.force_login(getattr(personas, persona))
    assert client.get(f"/plan/formal/{reports['city'].pk}/download/").status_code == city_report
    assert client.get(f"/plan/formal/{reports['a'].pk}/download/").status_code == a_report
    page = client.get("/plan/formal/")
    assert page.status_code == listing
    if listing == 200:
        shown = {int(v) for v in re.findall(r'data-report="(\d+)"', page.content.decode())}
        assert shown == {r.pk for key, r in reports.items() if (key == "city" and city_report == 200)
                         or (key == "a" and a_report == 200)}


def test_the_public_is_sent_to_the_login(reports, client):
    assert client.get(f"/plan/formal/{reports['a'].pk}/download/").status_code == 302
    assert client.get("/plan/formal/").status_code == 302


def test_a_county_generates_its_own_county_only_and_a_department_nothing(personas):
    p = personas
    for scope in (B, ""):
        with pytest.raises(PermissionDenied):
            generate(p.county_a, K.MONTHLY, "2026-03", scope)
    for persona in (p.department, p.ent_a, p.inspector):
        with pytest.raises(PermissionDenied):
            generate(persona, K.MONTHLY, "2026-03", A)
    assert not FormalReport.objects.exists()


def test_the_page_generates_a_report_and_lists_it(personas, client):
    client.force_login(personas.county_a)
    page = client.get("/plan/formal/")
    assert page.status_code == 200 and b'id="formal-form"' in page.content
    assert f'value="{B}"'.encode() not in page.content  # a county chooses its own county only
    response = client.post("/plan/formal/", {"new-kind": K.QUARTERLY, "new-period": "2026-Q3", "new-county": A})
    record = FormalReport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"#report-{record.pk}")
    assert (record.kind, record.period_label, record.county.code) == (K.QUARTERLY, "2026-Q3", A)
    refused = client.post("/plan/formal/", {"new-kind": K.MONTHLY, "new-period": "2026-12", "new-county": A})
    assert refused.status_code == 200 and b"2026-12 has not begun" in refused.content
    client.force_login(personas.department)
    page = client.get("/plan/formal/")
    assert page.status_code == 200 and b'id="formal-form"' not in page.content
    assert client.post("/plan/formal/", {"new-kind": K.MONTHLY, "new-period": "2026-03"}).status_code == 403
    assert FormalReport.objects.count() == 1


# The command line --------------------------------------------------------------------------------
def test_the_command_writes_the_report_generated_by_the_system(personas, tmp_path):
    out = io.StringIO()
    target = tmp_path / "march.xlsx"
    call_command("report", "monthly", "2026-03", "--county", A, "--output", str(target), "--language", "en",
                 stdout=out)
    record = FormalReport.objects.get()
    assert target.read_bytes() == formal_service.stored_bytes(record)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == record.sha256 and record.sha256 in out.getvalue()
    assert record.generated_by is None and record.county == Region.objects.get(code=A)
    assert AuditEvent.objects.get(object_type="plan.formalreport").actor_repr == "system"
    assert sheet_rows(load_workbook(target), "Major hazards") == {A: [0, 0, 0, 0]}
    with pytest.raises(CommandError, match="period"):
        call_command("report", "year-end", "2027", stdout=out)


# The Word chart part -----------------------------------------------------------------------------
def test_a_word_chart_is_a_native_chart_part_with_its_values_cached():
    doc = Document()
    part = docx_charts.add_chart(doc, docx_charts.BAR, "Hazards", ["宽城", "兴隆"], [("found", [3, None]),
                                                                                   ("closed", [1.5, 0])])
    assert part.content_type == "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
    buffer = io.BytesIO()
    doc.save(buffer)
    reopened = Document(io.BytesIO(buffer.getvalue()))
    [chart] = charts(reopened)
    assert chart == {"kind": "bar", "title": "Hazards", "categories": ["宽城", "兴隆"],
                     "series": {"found": [3.0, None], "closed": [1.5, 0.0]}}
    inline = reopened.element.body.xpath(".//c:chart")
    assert len(inline) == 1 and inline[0].get(f"{{{docx_charts.R_NS}}}id") in reopened.part.rels
    [embedded] = [r.target_part for r in docx_charts.chart_parts(reopened)[0].rels.values()]
    assert load_workbook(io.BytesIO(embedded.blob)).active["B2"].value == 3
    with pytest.raises(ValueError):
        docx_charts.chart_xml(docx_charts.LINE, "x", ["a", "b"], [("s", [1])])


def test_report_rendering_formats_numbers_for_reading():
    assert [formal_docs.cell_text(v) for v in (None, 3, 2.5, 1 / 3, Decimal("25000"), dt.date(2026, 3, 1))] == [
        "—", "3", "2.5", "0.33", "25,000.00", "2026-03-01"]
