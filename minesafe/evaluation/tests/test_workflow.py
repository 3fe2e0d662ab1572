"""Manual items, publication (the sheet freezes), the objection (申诉) and the city's answer, all audited and
notified; the ranking with ties; the half-year notice and annual summary; the monthly statistics."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, ReferenceCatalogue, Region
from minesafe.evaluation import scoring, services
from minesafe.evaluation.models import ManualScore, Objection, ScoreSheet
from minesafe.evaluation.scoring import Quarter
from minesafe.evaluation.statistics import monthly_statistics
from minesafe.hazards.models import Hazard
from minesafe.penalties.models import PenaltyCase

from . import factories as f

pytestmark = pytest.mark.django_db
Q3 = Quarter(2026, 3)
MANUAL = {"documents": 4, "case_files": "4.5", "satisfaction": 3}


def score_all(actor, county, quarter=Q3, values=None):
    for item, value in (values or MANUAL).items():
        services.set_manual_score(actor, county, quarter, item, value, "评查记录")


def published(personas, county=None, quarter=Q3, values=None) -> ScoreSheet:
    county = county or personas.county_a_region
    score_all(personas.city, county, quarter, values)
    return services.publish(personas.city, county, quarter)


# Manual items ------------------------------------------------------------------------------------
def test_the_city_scores_manual_items_with_a_reason_and_may_change_them_before_publication(personas):
    p = personas
    services.set_manual_score(p.city, p.county_a_region, Q3, "documents", "4.5", "文书规范")
    services.set_manual_score(p.city, p.county_a_region, Q3, "documents", 3, "复核后调整")
    score = ManualScore.objects.get()
    assert (score.score, score.reason) == (Decimal("3.00"), "复核后调整")
    events = AuditEvent.objects.filter(object_type="evaluation.manualscore").order_by("seq")
    assert [e.action for e in events] == ["create", "update"] and events[1].after["reason"] == "复核后调整"
    result = services.result_of(p.county_a_region, Q3, ScoreSheet.objects.get())
    documents = next(i for i in result["items"] if i["code"] == "documents")
    assert (documents["score"], documents["status"], documents["note"]) == (3.0, "ok", "复核后调整")


@pytest.mark.parametrize(("item", "score", "reason", "field"), [
    ("documents", 6, "过高", "score"), ("documents", -1, "负数", "score"), ("documents", "1.234", "小数", "score"),
    ("documents", "abc", "非数", "score"), ("inspections", 3, "计算项", "item"), ("nonsense", 3, "未知", "item"),
    ("documents", 3, "  ", "reason"),
])
def test_bad_manual_scores_are_refused_and_change_nothing(personas, item, score, reason, field):
    with pytest.raises(ValidationError) as exc:
        services.set_manual_score(personas.city, personas.county_a_region, Q3, item, score, reason)
    assert field in exc.value.message_dict
    assert not ScoreSheet.objects.exists() and not ManualScore.objects.exists()


def test_only_the_city_scores_and_publishes(personas):
    p = personas
    for user in (p.county_a, p.ent_a, p.department, p.inspector):
        with pytest.raises(PermissionDenied):
            services.set_manual_score(user, p.county_a_region, Q3, "documents", 3, "自评")
        with pytest.raises(PermissionDenied):
            services.publish(user, p.county_a_region, Q3)
    assert not ScoreSheet.objects.exists()


# Publication -------------------------------------------------------------------------------------
def test_publication_needs_every_manual_item_and_an_ended_quarter(personas):
    p = personas
    services.set_manual_score(p.city, p.county_a_region, Q3, "documents", 4, "文书")
    with pytest.raises(ValidationError) as exc:
        services.publish(p.city, p.county_a_region, Q3)
    assert "manual" in exc.value.message_dict
    running = Quarter.of(timezone.localdate())
    with pytest.raises(DomainError) as exc:
        services.publish(p.city, p.county_a_region, running)
    assert exc.value.code == "quarter_running"
    assert ScoreSheet.objects.get().status == ScoreSheet.Status.DRAFT


def test_a_published_sheet_is_frozen_when_the_data_changes_later(personas):
    p = personas
    f.hazard(p.mine_a, "UG-01", source=Hazard.Source.COUNTY_INSPECTION, found_on=dt.date(2026, 7, 1), by=p.county_a,
             deadline=dt.date(2026, 7, 20), closed_at=f.at(dt.date(2026, 7, 19)))
    sheet = published(p)
    frozen = sheet.snapshot
    hazards = next(i for i in frozen["items"] if i["code"] == "hazards_on_time")
    assert (hazards["numerator"], hazards["denominator"]) == (1, 1)
    assert sheet.total == scoring.cents(frozen["total"]) and sheet.catalogue_version == "2026.1"
    # Later: a late hazard due in Q3 appears, a county inspection and a fatal accident are recorded.
    f.hazard(p.mine_a2, "UG-02", source=Hazard.Source.CITY_INSPECTION, found_on=dt.date(2026, 7, 2), by=p.city,
             deadline=dt.date(2026, 8, 1))
    f.accident(p.mine_a, f.at(dt.date(2026, 8, 3)), p.city, deaths=1)
    live = scoring.compute_sheet(p.county_a_region, Q3, manual=services.manual_map(sheet))
    assert live["total"] != frozen["total"]
    sheet.refresh_from_db()
    assert sheet.snapshot == frozen
    assert services.result_of(p.county_a_region, Q3, sheet) == frozen
    event = AuditEvent.objects.get(object_type="evaluation.scoresheet", action="transition")
    assert event.after["status"] == "published" and event.after["total"] == str(sheet.total)
    assert Notification.objects.filter(recipient=p.county_a, subject__contains="2026 Q3").exists()


def test_publishing_twice_is_an_invalid_transition_and_a_published_score_cannot_be_edited(personas):
    p = personas
    published(p)
    with pytest.raises(InvalidTransition):
        services.publish(p.city, p.county_a_region, Q3)
    with pytest.raises(InvalidTransition):
        services.set_manual_score(p.city, p.county_a_region, Q3, "documents", 1, "改分")
    assert ManualScore.objects.get(item="documents").score == 4


def test_a_published_sheet_keeps_its_catalogue_version_when_a_new_version_is_loaded(personas):
    p = personas
    sheet = published(p)
    data = scoring.catalogue()
    data["version"] = "2027.1"
    for entry in data["items"]:
        if entry["code"] == "hazards_on_time":
            entry["max"] = 10
        if entry["code"] == "inspections":
            entry["max"] = 30
    ReferenceCatalogue.objects.filter(kind="evaluation").update(active=False)
    ReferenceCatalogue.objects.create(kind="evaluation", version="2027.1", data=data)
    sheet.refresh_from_db()
    assert sheet.catalogue_version == "2026.1"
    assert next(i for i in sheet.snapshot["items"] if i["code"] == "hazards_on_time")["max"] == 15
    draft = services.result_of(p.county_b_region, Q3)
    assert draft["catalogue_version"] == "2027.1"
    assert next(i for i in draft["items"] if i["code"] == "hazards_on_time")["max"] == 10


# Objections --------------------------------------------------------------------------------------
def test_the_county_objects_and_the_city_adjusts_a_manual_item_the_total_follows(personas):
    p = personas
    sheet = published(p)
    before_total = sheet.total
    objection = services.file_objection(p.county_a, sheet, "群众满意度调查样本不足")
    assert objection.status == Objection.Status.PENDING
    assert Notification.objects.filter(recipient=p.city, subject__contains="Objection").exists()
    with pytest.raises(DomainError) as exc:
        services.file_objection(p.county_a, sheet, "再次申诉")
    assert exc.value.code == "duplicate"
    services.answer_objection(p.city, objection, decision="adjust", item="satisfaction", score="4.5",
                              reason="补充调查后调整")
    sheet.refresh_from_db()
    objection.refresh_from_db()
    assert objection.status == Objection.Status.ADJUSTED
    assert (objection.old_score, objection.new_score) == (Decimal("3.00"), Decimal("4.50"))
    assert sheet.total == before_total + Decimal("1.5")
    assert sheet.snapshot["total"] == float(sheet.total)
    satisfaction = next(i for i in sheet.snapshot["items"] if i["code"] == "satisfaction")
    assert satisfaction["score"] == 4.5 and sheet.snapshot["adjustments"][0]["before"] == 3.0
    assert ManualScore.objects.get(sheet=sheet, item="satisfaction").score == Decimal("4.5")
    actions = list(AuditEvent.objects.filter(object_type__startswith="evaluation.").values_list(
        "object_type", "action").order_by("seq"))[-3:]
    assert actions == [("evaluation.objection", "create"), ("evaluation.scoresheet", "update"),
                       ("evaluation.objection", "transition")]
    assert Notification.objects.filter(recipient=p.county_a, subject__contains="objection").exists()
    with pytest.raises(InvalidTransition):
        services.answer_objection(p.city, objection, decision="reject", reason="再答复")
    assert audit.verify_chain().ok


def test_the_city_rejects_an_objection_and_nothing_changes(personas):
    p = personas
    sheet = published(p)
    snapshot, total = sheet.snapshot, sheet.total
    objection = services.file_objection(p.county_a, sheet, "检查计划完成率计算有误")
    services.answer_objection(p.city, objection, decision="reject", reason="计划数据无误")
    sheet.refresh_from_db()
    assert objection.status == Objection.Status.REJECTED and objection.answer == "计划数据无误"
    assert (sheet.snapshot, sheet.total) == (snapshot, total)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"decision": "adjust", "item": "inspections", "score": 5}, "item"),
    ({"decision": "adjust", "item": "satisfaction", "score": 9}, "score"),
    ({"decision": "adjust", "item": "satisfaction", "score": 3}, "score"),  # unchanged
    ({"decision": "maybe"}, "decision"),
])
def test_bad_answers_are_refused_and_change_nothing(personas, kwargs, field):
    p = personas
    sheet = published(p)
    objection = services.file_objection(p.county_a, sheet, "申诉")
    with pytest.raises(ValidationError) as exc:
        services.answer_objection(p.city, objection, reason="答复", **kwargs)
    assert field in exc.value.message_dict
    objection.refresh_from_db()
    assert objection.status == Objection.Status.PENDING


def test_objections_only_by_the_county_itself_within_the_period_and_on_published_sheets(personas):
    p = personas
    services.set_manual_score(p.city, p.county_b_region, Q3, "documents", 3, "文书")
    draft = ScoreSheet.objects.get()
    with pytest.raises(InvalidTransition):
        services.file_objection(p.county_b, draft, "草稿申诉")
    sheet = published(p)
    for user in (p.county_b, p.city, p.ent_a):
        with pytest.raises(PermissionDenied):
            services.file_objection(user, sheet, "越权申诉")
    with pytest.raises(ValidationError):
        services.file_objection(p.county_a, sheet, " ")
    deadline = services.objection_deadline(sheet)
    assert deadline == timezone.localdate() + dt.timedelta(days=10)
    with pytest.raises(DomainError) as exc:
        services.file_objection(p.county_a, sheet, "逾期申诉", today=deadline + dt.timedelta(days=1))
    assert exc.value.code == "objection_closed"
    assert services.file_objection(p.county_a, sheet, "期限内申诉", today=deadline).pk
    with pytest.raises(PermissionDenied):
        services.answer_objection(p.county_a, sheet.objection, decision="reject", reason="自己答复")


# Ranking -----------------------------------------------------------------------------------------
def test_equal_totals_share_a_rank_and_the_next_rank_skips(personas):
    p = personas
    a, b, c = (Region.objects.get(code=code) for code in ("130802", "130803", "130804"))  # no mines: equal items
    published(p, a, values={"documents": 5, "case_files": 5, "satisfaction": 5})
    published(p, b, values={"documents": 5, "case_files": 4, "satisfaction": 5})
    published(p, c, values={"documents": 4, "case_files": 5, "satisfaction": 5})
    rows = services.ranking(Q3)
    ranked = [(r.county.code, r.rank) for r in rows if r.rank]
    assert ranked == [("130802", 1), ("130803", 2), ("130804", 2)]
    assert rows[0].total == rows[1].total + 1
    unpublished = [r for r in rows if r.status == "none"]
    assert len(unpublished) == 9 and all(r.rank is None and r.total is None for r in unpublished)
    live = services.ranking(Q3, live=True)
    assert all(r.status in ("published", "draft") and r.rank for r in live)


def test_the_ranking_puts_ties_in_county_code_order_and_lists_unranked_last():
    rows = [services.RankRow(county=Region(code=code), status="published", total=total)
            for code, total in (("3", 80.0), ("1", 90.0), ("2", 80.0), ("4", None), ("5", 70.0))]
    ranked = services.assign_ranks(rows)
    assert [(r.county.code, r.rank) for r in ranked] == [("1", 1), ("2", 2), ("3", 2), ("5", 4), ("4", None)]


# Half-year notice and annual summary -------------------------------------------------------------
def test_the_half_year_notice_averages_the_published_quarters_and_names_best_and_worst(personas):
    p = personas
    a, b = Region.objects.get(code="130802"), Region.objects.get(code="130803")
    for quarter in (Quarter(2026, 1), Quarter(2026, 2)):
        published(p, a, quarter, values={"documents": 5, "case_files": 5, "satisfaction": 5})
    published(p, b, Quarter(2026, 1), values={"documents": 1, "case_files": 5, "satisfaction": 5})
    data = services.aggregate(2026, "h1")
    assert data["published"] == {1: 2, 2: 1}
    rows = {r.county.code: r for r in data["rows"]}
    assert rows["130802"].rank == 1 and rows["130803"].rank == 2 and rows["130803"].totals == {1: rows[
        "130803"].average}
    assert rows["130802"].average - rows["130803"].average == 4
    assert rows[p.county_a_region.code].average is None and rows[p.county_a_region.code].rank is None
    documents = next(i for i in data["items"] if i["code"] == "documents")
    assert [e["county"].code for e in documents["best"]] == ["130802"]
    assert [e["county"].code for e in documents["worst"]] == ["130803"]
    assert rows["130803"].worst_item["code"] in ("inspections", "penalties")  # no plan, no cases: 0
    annual = services.aggregate(2026, "year")
    assert annual["quarters"] == (1, 2, 3, 4) and {r.county.code: r.rank for r in annual["rows"]}["130802"] == 1


# Monthly statistics ------------------------------------------------------------------------------
def test_monthly_statistics_count_each_measure_per_county_and_month(personas):
    p = personas
    org_a = f.county_org(p.county_a_region)
    f.inspection(p.mine_a, org_a, dt.date(2026, 3, 5), p.county_a)
    f.inspection(p.mine_b, org_a, dt.date(2026, 3, 6), p.county_a)  # cross-county: counts for A
    f.inspection(p.mine_a, org_a, dt.date(2026, 3, 7), p.county_a, status="in_progress")
    f.penalty(p.mine_a, org_a, dt.date(2026, 3, 20), p.county_a, enterprise_fine=20000, person_fine=5000)
    f.penalty(p.mine_a, org_a, dt.date(2026, 3, 21), p.county_a, enterprise_fine=1, status=PenaltyCase.Status.OPENED)
    f.hazard(p.mine_a, "UG-01", source="county_inspection", found_on=dt.date(2026, 2, 27), by=p.county_a,
             deadline=dt.date(2026, 3, 30), closed_at=f.at(dt.date(2026, 3, 31), 23, 50))  # local March 31
    f.tipoff(p.county_a_region, f.at(dt.date(2026, 3, 1), 0, 10), status="handled",
             handled_at=f.at(dt.date(2026, 4, 1), 0, 5))
    stats = {s.county.code: s for s in monthly_statistics(2026, services.evaluated_counties(),
                                                          today=dt.date(2026, 11, 30))}
    a = stats[p.county_a_region.code]
    assert len(a.months) == 11
    march, april = a.months[2], a.months[3]
    assert (march.inspections, march.penalties, march.fines) == (2, 1, Decimal(25000))
    assert (a.months[1].hazards_found, march.hazards_closed, march.tipoffs_received, april.tipoffs_handled) == (
        1, 1, 1, 1)
    assert a.total.inspections == 2 and a.total.fines == Decimal(25000)
    assert stats[p.county_b_region.code].total.inspections == 0
