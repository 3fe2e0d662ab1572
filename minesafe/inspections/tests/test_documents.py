"""Enforcement documents: Word files that open with python-docx and list the findings and deadlines, numbered per
issuing body, kind and year, stored with their hash; issuing again never changes a stored document."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from docx import Document as WordDocument

from minesafe.core.errors import DomainError
from minesafe.core.models import Notification
from minesafe.inspections import checklists, documents, services
from minesafe.inspections.models import Document

from .conftest import sign_both, start

pytestmark = pytest.mark.django_db
K = Document.Kind


def text_of(data: bytes) -> str:
    doc = WordDocument(io.BytesIO(data))
    cells = [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


@pytest.fixture
def inspection_with_findings(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    services.add_finding(personas.county_a, inspection, description="培训档案不全",
                         deadline=today + dt.timedelta(days=30))
    services.add_finding(personas.county_a, inspection, description="安全出口被堵塞", major=True,
                         deadline=today + dt.timedelta(days=60),
                         hazard_item=checklists.hazard_items_for("underground").first())
    return inspection


def test_an_order_to_rectify_lists_every_finding_and_its_deadline(personas, inspection_with_findings, today):
    inspection = inspection_with_findings
    document = documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)
    assert document.number == f"宽城应急责改〔{today.year}〕1号" and document.serial == 1
    data = documents.stored_bytes(document)
    assert hashlib.sha256(data).hexdigest() == document.sha256 and len(data) == document.size
    text = text_of(data)
    assert "责令限期整改指令书" in text and document.number in text and personas.mine_a.enterprise.name in text
    assert "培训档案不全" in text and "安全出口被堵塞" in text
    assert (today + dt.timedelta(days=30)).isoformat() in text and (today + dt.timedelta(days=60)).isoformat() in text
    hazard_number = inspection.findings.get(major=True).hazard.number
    assert hazard_number in text and inspection.number in text
    assert [f["description"] for f in document.content["findings"]] == ["培训档案不全", "安全出口被堵塞"]


def test_issuing_again_makes_a_new_number_and_leaves_the_stored_document_as_it_was(personas,
                                                                                    inspection_with_findings, today):
    inspection = inspection_with_findings
    first = documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)
    before = documents.stored_bytes(first)
    services.add_finding(personas.county_a, inspection, description="新增问题：警示标志缺失",
                         deadline=today + dt.timedelta(days=7))
    second = documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)
    first.refresh_from_db()
    assert second.serial == 2 and second.number == f"宽城应急责改〔{today.year}〕2号"
    assert documents.stored_bytes(first) == before and hashlib.sha256(before).hexdigest() == first.sha256
    assert "警示标志缺失" not in text_of(before) and "警示标志缺失" in text_of(documents.stored_bytes(second))
    assert first.file.name != second.file.name
    # Another body's series starts at 1; so does the on-site decision series.
    other = start(personas.city, personas.mine_b)
    services.add_finding(personas.city, other, description="边坡监测中断", major=True, deadline=today,
                         hazard_item=checklists.hazard_items_for("open_pit").first())
    decision = documents.issue(personas.city, other, K.ONSITE_DECISION, measures=["suspend_production",
                                                                                  "withdraw_people"])
    assert decision.number == f"承市应急现决〔{today.year}〕1号"
    text = text_of(documents.stored_bytes(decision))
    assert "现场处理措施决定书" in text and "责令暂时停产停业" in text and "从危险区域内撤出作业人员" in text
    assert "边坡监测中断" in text


def test_a_decision_needs_a_major_hazard_and_its_measures(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    with pytest.raises(DomainError):
        documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)  # nothing to rectify
    services.add_finding(personas.county_a, inspection, description="一般问题", deadline=today)
    with pytest.raises(DomainError):
        documents.issue(personas.county_a, inspection, K.ONSITE_DECISION, measures=["suspend_production"])
    with pytest.raises(ValidationError) as refused:
        documents.issue(personas.county_a, inspection, K.ONSITE_DECISION, measures=["burn_it_down"])
    assert "measures" in refused.value.message_dict
    with pytest.raises(ValidationError):
        documents.issue(personas.county_a, inspection, "fine")
    with pytest.raises(PermissionDenied):
        documents.issue(personas.county_b, inspection, K.RECTIFICATION_ORDER)
    with pytest.raises(ValidationError):
        documents.issue_dated(personas.county_a, inspection, K.RECTIFICATION_ORDER, today + dt.timedelta(days=1))
    assert not Document.objects.exists()


def test_the_enterprise_is_told_of_a_document_issued_after_completion(personas, inspection_with_findings):
    inspection = inspection_with_findings
    documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)
    assert not Notification.objects.filter(recipient=personas.ent_a, subject__contains="责令").exists()
    sign_both(inspection)
    services.complete(personas.county_a, inspection)
    document = documents.issue(personas.county_a, inspection, K.RECTIFICATION_ORDER)
    assert Notification.objects.filter(recipient=personas.ent_a, subject__contains=document.number).exists()
