"""The inspection's life through the services: who may start one (cross-county only by the city's assignment),
the checklist snapshot against template edits, findings becoming hazards once, photos judged by content,
signatures attesting the record, completion, immutability and addenda, cancelling, rectification, exams."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.inspections import checklists, services
from minesafe.inspections.models import (
    ChecklistTemplate,
    Finding,
    Inspection,
    InspectionItem,
    Method,
    Photo,
    Signature,
)

from .conftest import JPEG, data_url, first_item, png, sign_both, start

pytestmark = pytest.mark.django_db
RES = InspectionItem.Result


def county_b_org():
    return Organisation.objects.get(kind="county", region__code="130822")


def fitting_item(mine) -> HazardItem:
    return checklists.hazard_items_for(mine.mine_type).first()


# Starting ----------------------------------------------------------------------------------------
def test_county_starts_an_inspection_of_its_mine_with_the_checklist_of_the_type(personas, today):
    inspection = start(personas.county_a, personas.mine_a, method=Method.UNANNOUNCED, team="张三")
    template = checklists.active_template("underground")
    assert inspection.status == Inspection.Status.IN_PROGRESS
    assert inspection.organisation == personas.county_a.organisation
    assert inspection.lead_inspector == personas.county_a and inspection.created_by == personas.county_a
    assert inspection.number == f"JC130827{today.year}0001"
    assert inspection.checklist_template == template
    items = list(inspection.items.order_by("position"))
    assert [(i.code, i.text) for i in items] == list(template.items.order_by("position").values_list("code", "text"))
    major = [i for i in items if i.major]
    assert {i.hazard_item.facility_type for i in major} == {"underground"} and len(major) == 32
    assert any(i.code == "G-01" for i in items) and all(i.result == RES.NOT_CHECKED for i in items)
    assert AuditEvent.objects.filter(object_type="inspections.inspection", object_id=str(inspection.pk),
                                     action="create").exists()
    # Unannounced: the enterprise is told nothing.
    assert not Notification.objects.filter(recipient=personas.ent_a).exists()
    assert start(personas.county_a, personas.pond_a).number == f"JC130827{today.year}0002"


def test_each_mine_type_has_a_checklist_from_the_standard_and_free_items(personas):
    pond = checklists.active_template("tailings_pond")
    plant = checklists.active_template("processing_plant")
    assert pond.items.filter(hazard_item__facility_type="tailings").count() == 19
    assert not pond.items.filter(hazard_item__facility_type="underground").exists()
    assert plant.items.exists() and not plant.items.filter(hazard_item__isnull=False).exists()
    assert checklists.ensure_default_templates() == 0  # idempotent


@pytest.mark.parametrize("who", ["county_b", "ent_a", "department", "anonymous"])
def test_only_officers_within_their_remit_start_inspections(personas, who, today):
    with pytest.raises(PermissionDenied):
        services.start_inspection(getattr(personas, who), personas.mine_a, inspected_on=today)
    assert not Inspection.objects.exists()


def test_an_inspector_inspects_only_assigned_mines(personas, today):
    inspection = start(personas.inspector, personas.mine_a2)
    assert inspection.organisation == personas.inspector.organisation
    with pytest.raises(PermissionDenied):
        start(personas.inspector, personas.mine_a)


def test_cross_county_enforcement_is_the_citys_assignment(personas, today):
    team_b = county_b_org()
    with pytest.raises(ValidationError) as refused:
        start(personas.city, personas.mine_a, organisation=team_b, lead_inspector=personas.county_b)
    assert "method" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        start(personas.county_a, personas.mine_a, method=Method.CROSS_COUNTY)
    assert "method" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:  # a county names no other body
        start(personas.county_a, personas.mine_a, organisation=team_b)
    assert "organisation" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:  # the lead must belong to the inspecting body
        start(personas.city, personas.mine_a, organisation=team_b, method=Method.CROSS_COUNTY,
              lead_inspector=personas.county_a)
    assert "lead_inspector" in refused.value.message_dict
    assert not Inspection.objects.exists()

    inspection = start(personas.city, personas.mine_a, organisation=team_b, method=Method.CROSS_COUNTY,
                       lead_inspector=personas.county_b)
    assert inspection.is_cross_county and inspection.number.startswith("JC130822")
    assert services.may_work(personas.county_b, inspection)
    assert Inspection.objects.visible_to(personas.county_b).filter(pk=inspection.pk).exists()
    assert Inspection.objects.visible_to(personas.county_a).filter(pk=inspection.pk).exists()  # the mine's county
    assert not services.may_work(personas.county_a, inspection)  # ... reads, but the visiting team works
    assert Notification.objects.filter(recipient=personas.county_b).exists()


@pytest.mark.parametrize("field, kwargs, days", [
    ("inspected_on", {}, 1), ("inspected_on", {}, -400), ("method", {"method": "telepathy"}, 0),
    ("team", {"team": "x" * 201}, 0)])
def test_bad_input_is_refused_with_the_field_and_changes_nothing(personas, today, field, kwargs, days):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.start_inspection(personas.county_a, personas.mine_a, inspected_on=today + dt.timedelta(days=days),
                                  **kwargs)
    assert field in refused.value.message_dict
    assert not Inspection.objects.exists() and not InspectionItem.objects.exists()
    assert AuditEvent.objects.count() == before


# Checklist templates: copy-on-edit and the snapshot ------------------------------------------------
def test_a_started_inspection_keeps_its_checklist_when_the_city_edits_the_template(personas):
    template = checklists.active_template("underground")
    before = list(template.items.order_by("position").values_list("code", "text"))
    # Unused: edited in place.
    same = checklists.add_item(personas.city, template, text="井口值班记录", code="UX-09")
    assert same.pk == template.pk and same.items.count() == len(before) + 1
    inspection = start(personas.county_a, personas.mine_a)
    snapshot = list(inspection.items.order_by("position").values_list("code", "text"))
    assert snapshot == [*before, ("UX-09", "井口值班记录")]

    # Used: every edit goes to a new version; the old one and the inspection stay as they were.
    first = template.items.order_by("position").first()
    v2 = checklists.update_item(personas.city, template, first.pk, text="安全出口（改写）")
    assert v2.pk != template.pk and v2.version == 2 and v2.active
    template.refresh_from_db()
    assert not template.active and list(template.items.order_by("position").values_list("code", "text")) == snapshot
    v2_again = checklists.remove_item(personas.city, v2, v2.items.get(code="UX-09").pk)
    assert v2_again.pk == v2.pk  # v2 is unused: edited in place
    moved = checklists.move_item(personas.city, v2, v2.items.get(position=2).pk, "up")
    assert moved.pk == v2.pk and moved.items.get(position=1).code == before[1][0]
    inspection.refresh_from_db()
    assert inspection.checklist_template == template
    assert list(inspection.items.order_by("position").values_list("code", "text")) == snapshot
    later = start(personas.county_a, personas.mine_a2)
    assert later.checklist_template == v2
    assert later.items.get(position=2).text == "安全出口（改写）" and not later.items.filter(code="UX-09").exists()
    assert ChecklistTemplate.objects.filter(code="underground").count() == 2


def test_only_the_city_edits_checklists_and_bad_edits_change_nothing(personas):
    template = checklists.active_template("underground")
    count = template.items.count()
    for who in ("county_a", "inspector", "ent_a"):
        with pytest.raises(PermissionDenied):
            checklists.add_item(getattr(personas, who), template, text="x")
    with pytest.raises(ValidationError):
        checklists.add_item(personas.city, template, text="  ")
    pond_item = HazardItem.objects.filter(catalogue__active=True, facility_type="tailings").first()
    with pytest.raises(ValidationError) as refused:
        checklists.add_item(personas.city, template, text="x", hazard_item=pond_item)
    assert "hazard_item" in refused.value.message_dict
    with pytest.raises(DomainError):
        checklists.move_item(personas.city, template, template.items.get(position=1).pk, "up")
    assert template.items.count() == count and ChecklistTemplate.objects.filter(code="underground").count() == 1


# Findings ----------------------------------------------------------------------------------------
def test_a_hazard_found_on_a_major_item_is_reported_to_the_hazards_app_once(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=True)
    deadline = today + dt.timedelta(days=20)
    services.record_result(personas.county_a, item, RES.HAZARD_FOUND, note="安全出口被杂物堵塞", deadline=deadline)
    services.record_result(personas.county_a, item, RES.HAZARD_FOUND, note="安全出口被杂物堵塞，已拍照",
                           deadline=deadline)
    finding = Finding.objects.get()
    hazard = Hazard.objects.get()
    assert finding.item == item and finding.major and finding.hazard == hazard
    assert finding.description == "安全出口被杂物堵塞，已拍照"
    assert hazard.mine == personas.mine_a and hazard.item == item.hazard_item
    assert hazard.source == Hazard.Source.COUNTY_INSPECTION and hazard.found_by == personas.county_a
    assert hazard.deadline == deadline and inspection.number in hazard.description
    with pytest.raises(DomainError) as refused:
        services.record_result(personas.county_a, item, RES.COMPLIANT)
    assert refused.value.code == "hazard_reported"
    item.refresh_from_db()
    assert item.result == RES.HAZARD_FOUND and Hazard.objects.count() == 1


def test_hazard_found_needs_a_description_and_a_deadline_not_before_the_visit(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=True)
    with pytest.raises(ValidationError) as refused:
        services.record_result(personas.county_a, item, RES.HAZARD_FOUND, note="", deadline=None)
    assert set(refused.value.message_dict) == {"note", "deadline"}
    with pytest.raises(ValidationError) as refused:
        services.record_result(personas.county_a, item, RES.HAZARD_FOUND, note="x",
                               deadline=today - dt.timedelta(days=1))
    assert "deadline" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.record_result(personas.county_a, item, "maybe")
    item.refresh_from_db()
    assert item.result == RES.NOT_CHECKED and not Finding.objects.exists() and not Hazard.objects.exists()


def test_an_ordinary_finding_gets_a_deadline_but_no_hazard_and_goes_if_the_result_changes(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=False)
    services.record_result(personas.county_a, item, RES.HAZARD_FOUND, note="培训档案不全",
                           deadline=today + dt.timedelta(days=30))
    finding = Finding.objects.get()
    assert not finding.major and finding.hazard is None and not Hazard.objects.exists()
    photo = services.add_photo(personas.county_a, inspection, "a.jpg", JPEG, finding=finding)
    services.record_result(personas.county_a, item, RES.COMPLIANT, note="补齐")
    assert not Finding.objects.exists()
    photo.refresh_from_db()
    assert photo.finding is None  # the photo stays with the visit


def test_a_free_major_finding_cites_an_item_that_fits_the_mine(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    deadline = today + dt.timedelta(days=10)
    with pytest.raises(ValidationError) as refused:
        services.add_finding(personas.county_a, inspection, description="x", deadline=deadline, major=True)
    assert "hazard_item" in refused.value.message_dict
    pond_item = HazardItem.objects.filter(catalogue__active=True, facility_type="tailings").first()
    with pytest.raises(ValidationError):
        services.add_finding(personas.county_a, inspection, description="x", deadline=deadline, major=True,
                             hazard_item=pond_item)
    with pytest.raises(ValidationError):
        services.add_finding(personas.county_a, inspection, description="x", deadline=deadline, major=False,
                             hazard_item=fitting_item(personas.mine_a))
    assert not Finding.objects.exists()
    finding = services.add_finding(personas.county_a, inspection, description="主扇风机停运", deadline=deadline,
                                   major=True, hazard_item=fitting_item(personas.mine_a))
    assert finding.hazard is not None and finding.item is None
    ordinary = services.add_finding(personas.county_a, inspection, description="警示标志缺失", deadline=deadline)
    services.withdraw_finding(personas.county_a, ordinary)
    with pytest.raises(DomainError):
        services.withdraw_finding(personas.county_a, finding)
    assert list(Finding.objects.all()) == [finding]


def test_the_hazard_source_follows_the_inspecting_body(personas, today):
    inspection = start(personas.city, personas.mine_b)
    finding = services.add_finding(personas.city, inspection, description="边坡监测中断", major=True,
                                   deadline=today + dt.timedelta(days=5), hazard_item=fitting_item(personas.mine_b))
    assert finding.hazard.source == Hazard.Source.CITY_INSPECTION


def test_a_cross_county_team_reports_hazards_under_the_citys_assignment(personas, today):
    inspection = start(personas.city, personas.mine_a, organisation=county_b_org(), method=Method.CROSS_COUNTY,
                       lead_inspector=personas.county_b)
    item = first_item(inspection, major=True)
    services.record_result(personas.county_b, item, RES.HAZARD_FOUND, note="保安矿柱被破坏",
                           deadline=today + dt.timedelta(days=15))
    hazard = Hazard.objects.get()
    assert hazard.source == Hazard.Source.COUNTY_INSPECTION and hazard.found_by == personas.city
    assert "county_b" in hazard.finder_name and hazard.mine == personas.mine_a


def test_outsiders_cannot_work_on_an_inspection(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=False)
    for who in ("county_b", "ent_a", "department", "inspector"):
        with pytest.raises(PermissionDenied):
            services.record_result(getattr(personas, who), item, RES.COMPLIANT)
    services.record_result(personas.city, item, RES.COMPLIANT)  # the city may
    item.refresh_from_db()
    assert item.result == RES.COMPLIANT and item.checked_by == personas.city


# Photos ------------------------------------------------------------------------------------------
def test_photos_are_judged_by_their_content_and_stored_with_their_hash(personas, settings):
    inspection = start(personas.county_a, personas.mine_a)
    photo = services.add_photo(personas.county_a, inspection, "../../etc/现场.png", png(), caption="井口")
    assert photo.content_type == "image/png" and photo.original_name == "现场.png"
    assert photo.sha256 == __import__("hashlib").sha256(png()).hexdigest() and photo.file.read() == png()
    with pytest.raises(ValidationError) as refused:
        services.add_photo(personas.county_a, inspection, "fake.jpg", b"<html>not a photo</html>")
    assert "file" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.add_photo(personas.county_a, inspection, "empty.jpg", b"")
    settings_limit = services.catalogue()["photos"]["max_bytes"]
    with pytest.raises(ValidationError):
        services.add_photo(personas.county_a, inspection, "big.jpg", JPEG + b"\x00" * settings_limit)
    other = start(personas.county_a, personas.mine_a2)
    foreign = services.add_finding(personas.county_a, other, description="x",
                                   deadline=other.inspected_on + dt.timedelta(days=3))
    with pytest.raises(ValidationError):
        services.add_photo(personas.county_a, inspection, "a.jpg", JPEG, finding=foreign)
    assert Photo.objects.count() == 1


# Signatures and completion -----------------------------------------------------------------------
def test_completion_needs_both_signatures_on_the_record_as_it_is(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=False)
    with pytest.raises(DomainError) as refused:
        services.complete(personas.county_a, inspection)
    assert refused.value.code == "unsigned"
    services.sign(personas.county_a, inspection, Signature.Role.LEAD_INSPECTOR, image=data_url())
    with pytest.raises(DomainError) as refused:
        services.complete(personas.county_a, inspection)
    assert "Enterprise representative" in refused.value.message
    services.sign(personas.county_a, inspection, Signature.Role.ENTERPRISE, signer_name="王矿长",
                  image=data_url(png(seed=9)))
    services.record_result(personas.county_a, item, RES.COMPLIANT)  # a change after signing
    with pytest.raises(DomainError) as refused:
        services.complete(personas.county_a, inspection)
    assert refused.value.code == "stale_signature"
    inspection.refresh_from_db()
    assert inspection.status == Inspection.Status.IN_PROGRESS and inspection.completed_at is None
    sign_both(inspection)
    services.complete(personas.county_a, inspection)
    inspection.refresh_from_db()
    assert inspection.status == Inspection.Status.COMPLETED and inspection.completed_at is not None
    assert Notification.objects.filter(recipient=personas.ent_a, subject__contains=inspection.number).exists()
    with pytest.raises(InvalidTransition):
        services.complete(personas.county_a, inspection)


def test_a_refusal_to_sign_is_recorded_with_a_witness(personas):
    inspection = start(personas.county_a, personas.mine_a)
    with pytest.raises(ValidationError) as refused:
        services.sign(personas.county_a, inspection, Signature.Role.ENTERPRISE, signer_name="王矿长", refused=True)
    assert "witness_name" in refused.value.message_dict
    sign_both(inspection, refused=True)
    signature = Signature.objects.get(role=Signature.Role.ENTERPRISE)
    assert signature.refused and signature.witness_name == "李村主任" and not signature.file
    services.complete(personas.county_a, inspection)


@pytest.mark.parametrize("image", [
    "", "not a data url", "data:image/png;base64,!!!!", "data:image/png;base64," + "QUJD" * 10,
    data_url(png()[:23] + b"\x15" + png()[24:]),  # a damaged header (the CRC no longer matches)
    data_url(JPEG)])
def test_a_signature_must_be_a_real_png(personas, image):
    inspection = start(personas.county_a, personas.mine_a)
    with pytest.raises(ValidationError) as refused:
        services.sign(personas.county_a, inspection, Signature.Role.LEAD_INSPECTOR, image=image)
    assert "image" in refused.value.message_dict
    assert not Signature.objects.exists()


def test_only_the_lead_inspector_signs_as_lead(personas):
    inspection = start(personas.county_a, personas.mine_a)
    with pytest.raises(PermissionDenied):
        services.sign(personas.city, inspection, Signature.Role.LEAD_INSPECTOR, image=data_url())
    assert not Signature.objects.exists()


def test_a_completed_inspection_is_immutable_and_takes_addenda(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    item = first_item(inspection, major=False)
    with pytest.raises(DomainError):
        services.add_addendum(personas.county_a, inspection, "too early")
    sign_both(inspection)
    services.complete(personas.county_a, inspection)
    deadline = today + dt.timedelta(days=3)
    attempts = [
        lambda: services.record_result(personas.county_a, item, RES.COMPLIANT),
        lambda: services.add_finding(personas.county_a, inspection, description="x", deadline=deadline),
        lambda: services.add_photo(personas.county_a, inspection, "a.jpg", JPEG),
        lambda: services.sign(personas.county_a, inspection, Signature.Role.LEAD_INSPECTOR, image=data_url()),
        lambda: services.update_details(personas.county_a, inspection, summary="changed", team=""),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "immutable" and refused.value.status_code == 409
    with pytest.raises(InvalidTransition):
        services.cancel(personas.county_a, inspection, "late")
    with pytest.raises(PermissionDenied):
        services.add_addendum(personas.ent_a, inspection, "not theirs")
    with pytest.raises(ValidationError):
        services.add_addendum(personas.county_a, inspection, " ")
    addendum = services.add_addendum(personas.county_a, inspection, "检查编号补记：井下 -230 m 中段")
    assert AuditEvent.objects.filter(object_type="inspections.addendum", object_id=str(addendum.pk)).exists()
    item.refresh_from_db()
    assert item.result == RES.NOT_CHECKED and not Photo.objects.exists() and not Finding.objects.exists()


def test_cancelling_needs_a_reason_and_no_reported_hazard(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    with pytest.raises(ValidationError):
        services.cancel(personas.county_a, inspection, "")
    services.add_finding(personas.county_a, inspection, description="x", deadline=today, major=True,
                         hazard_item=fitting_item(personas.mine_a))
    with pytest.raises(DomainError):
        services.cancel(personas.county_a, inspection, "误建")
    other = start(personas.county_a, personas.mine_a2)
    services.cancel(personas.county_a, other, "企业停产，现场无人")
    other.refresh_from_db()
    assert other.status == Inspection.Status.CANCELLED and other.cancel_reason == "企业停产，现场无人"
    with pytest.raises(DomainError):
        services.record_result(personas.county_a, other.items.first(), RES.COMPLIANT)


def test_ordinary_findings_are_confirmed_rectified_after_completion(personas, today):
    inspection = start(personas.county_a, personas.mine_a)
    finding = services.add_finding(personas.county_a, inspection, description="警示标志缺失",
                                   deadline=today + dt.timedelta(days=10))
    with pytest.raises(DomainError):
        services.confirm_rectified(personas.county_a, finding, "已补设")
    sign_both(inspection)
    services.complete(personas.county_a, inspection)
    finding.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.confirm_rectified(personas.ent_a, finding, "我们改好了")
    services.confirm_rectified(personas.county_a, finding, "复查已补设")
    assert finding.status == Finding.Status.RECTIFIED
    with pytest.raises(InvalidTransition):
        services.confirm_rectified(personas.county_a, finding, "again")


# Exams at the inspection (逢查必考) -----------------------------------------------------------------
def test_exams_taken_during_the_visit_are_listed_with_the_inspection(personas, today):
    from minesafe.personnel import activities
    from minesafe.personnel.models import Appointment, ExamQuestion, Person

    inspection = start(personas.county_a, personas.mine_a)
    assert not services.exams_of(personas.county_a, inspection).exists()
    person = Person.objects.create(mine=personas.mine_a, name="赵矿长", id_number="130827198001010011",
                                   education="bachelor", frontline_years=12, created_by=personas.city)
    Appointment.objects.create(person=person, mine=personas.mine_a, post="mine_manager",
                               start_date=today - dt.timedelta(days=400), created_by=personas.city)
    for n in range(3):
        ExamQuestion.objects.create(post="", text=f"问题{n}", answer="A", created_by=personas.city,
                                    options=[{"key": "A", "text": "对"}, {"key": "B", "text": "错"}])
    assert [a.person for a in services.examinable_people(inspection)] == [person]
    draw = services.draw_exam(personas.county_a, inspection, person)
    exam = services.take_exam(personas.county_a, inspection, draw.token, {q.pk: "A" for q in draw.questions})
    assert exam.passed and exam.inspection_ref == inspection.number
    assert list(services.exams_of(personas.county_a, inspection)) == [exam]
    assert list(services.exams_of(personas.ent_a, inspection)) == [exam]  # the enterprise sees the score
    other = start(personas.county_a, personas.mine_a2)
    assert not services.exams_of(personas.county_a, other).exists()
    with pytest.raises(ValidationError):
        services.draw_exam(personas.county_a, other, person)  # not a person of that mine
    assert activities.exam_history(personas.county_a).count() == 1
