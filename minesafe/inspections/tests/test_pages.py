"""Who sees which inspection on every page, export, download and API endpoint (the role matrix: outside scope is
404 or absent, an enterprise never sees one in progress, departments have nothing here); the pages the team
works on; bad input is a 400 that changes nothing."""

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from minesafe.core.models import Organisation
from minesafe.inspections import checklists, documents, services
from minesafe.inspections.models import ChecklistTemplate, Document, Finding, Inspection, InspectionItem, Photo
from minesafe.web.tests.test_scoping import PERSONAS, web_client

from .conftest import JPEG, data_url, png, sign_both, start

pytestmark = pytest.mark.django_db
NAMES = ["a_done", "a_open", "a2_done", "b_done", "cross_open"]
SCOPE = {
    "city": set(NAMES),
    "county_a": {"a_done", "a_open", "a2_done", "cross_open"},
    "county_b": {"b_done", "cross_open"},
    "ent_a": {"a_done"},
    "ent_b": {"b_done"},
    "inspector": {"a2_done"},
    "department": set(),
    "anonymous": set(),
}


@pytest.fixture
def world(personas, today):
    """Five inspections: completed and open ones in county A, the inspector's, county B's, and a cross-county
    visit of county B's team at county A's pond; the completed one in A has a finding, a photo and an order."""
    w = {}
    w["a_done"] = start(personas.county_a, personas.mine_a)
    finding = services.add_finding(personas.county_a, w["a_done"], description="培训档案不全",
                                   deadline=today + dt.timedelta(days=20))
    services.add_photo(personas.county_a, w["a_done"], "p.jpg", JPEG, finding=finding)
    documents.issue(personas.county_a, w["a_done"], Document.Kind.RECTIFICATION_ORDER)
    sign_both(w["a_done"])
    services.complete(personas.county_a, w["a_done"])
    w["a_open"] = start(personas.county_a, personas.mine_a)
    w["a2_done"] = start(personas.inspector, personas.mine_a2)
    sign_both(w["a2_done"])
    services.complete(personas.inspector, w["a2_done"])
    w["b_done"] = start(personas.county_b, personas.mine_b, inspected_on=today - dt.timedelta(days=40))
    sign_both(w["b_done"])
    services.complete(personas.county_b, w["b_done"])
    w["cross_open"] = start(personas.city, personas.pond_a, method="cross_county",
                            organisation=Organisation.objects.get(kind="county", region__code="130822"),
                            lead_inspector=personas.county_b)
    personas.world = w
    return personas


def shown(html: str, world) -> set[str]:
    return {n for n in NAMES if f'data-inspection="{world.world[n].pk}"' in html}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_shows_exactly_the_personas_inspections(client, world, persona):
    response = web_client(client, world, persona).get("/inspections/")
    if persona == "anonymous":
        assert response.status_code == 302
    elif persona == "department":
        assert response.status_code == 403
    else:
        assert response.status_code == 200 and shown(response.content.decode(), world) == SCOPE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_and_downloads_are_404_outside_scope(client, world, persona):
    c = web_client(client, world, persona)
    for name in NAMES:
        inspection = world.world[name]
        expected = 200 if name in SCOPE[persona] else 404
        response = c.get(f"/inspections/{inspection.pk}/")
        if persona == "anonymous":
            assert response.status_code == 302
            continue
        assert response.status_code == expected, name
        for signature in inspection.signatures.all():
            assert c.get(f"/inspections/{inspection.pk}/signatures/{signature.pk}/").status_code == expected
        for photo in inspection.photos.all():
            response = c.get(f"/inspections/{inspection.pk}/photos/{photo.pk}/")
            assert response.status_code == expected
            if expected == 200:
                assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
        for document in inspection.documents.all():
            response = c.get(f"/inspections/{inspection.pk}/documents/{document.pk}/")
            assert response.status_code == expected
            if expected == 200:
                assert b"".join(response.streaming_content) == documents.stored_bytes(document)


def test_a_file_of_another_inspection_is_not_served_through_a_visible_one(client, world):
    photo = Photo.objects.get()
    other = world.world["a_open"]
    assert web_client(client, world, "county_a").get(f"/inspections/{other.pk}/photos/{photo.pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["city", "county_a", "county_b", "ent_a", "inspector"])
def test_exports_contain_exactly_the_personas_inspections(client, world, persona):
    for fmt in ("csv", "xlsx"):
        response = web_client(client, world, persona).get(f"/inspections/export.{fmt}")
        assert response.status_code == 200
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        else:
            rows = [list(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
        numbers = {r[0] for r in rows[1:]}
        assert numbers == {world.world[n].number for n in SCOPE[persona]}


def test_the_list_filters_by_county_method_status_and_dates(client, world, today):
    c = web_client(client, world, "city")
    html = c.get("/inspections/?county=130822").content.decode()
    assert shown(html, world) == {"b_done"}  # by the mine's county
    assert shown(c.get("/inspections/?method=cross_county").content.decode(), world) == {"cross_open"}
    assert shown(c.get("/inspections/?status=in_progress").content.decode(), world) == {"a_open", "cross_open"}
    since = (today - dt.timedelta(days=10)).isoformat()
    assert "b_done" not in shown(c.get(f"/inspections/?from={since}").content.decode(), world)
    until = (today - dt.timedelta(days=30)).isoformat()
    assert shown(c.get(f"/inspections/?to={until}").content.decode(), world) == {"b_done"}
    assert shown(c.get("/inspections/?from=not-a-date&status=nonsense").content.decode(), world) == set(NAMES)
    rows = list(csv.reader(io.StringIO(c.get("/inspections/export.csv?status=completed").content.decode("utf-8-sig"))))
    assert len(rows) == 4


@pytest.mark.parametrize("persona, code", [("city", 200), ("county_a", 200), ("county_b", 404), ("ent_a", 200),
                                           ("inspector", 404), ("department", 403)])
def test_the_mine_page_lists_its_inspections_in_scope(client, world, persona, code):
    response = web_client(client, world, persona).get(f"/inspections/mines/{world.mine_a.pk}/")
    assert response.status_code == code
    if code == 200:
        expected = {"a_done", "a_open"} & SCOPE[persona]
        assert shown(response.content.decode(), world) == expected
        assert ('id="start-link"' in response.content.decode()) == (persona in ("city", "county_a"))


def test_the_enterprise_reads_a_completed_inspection_but_cannot_change_it(client, world):
    inspection = world.world["a_done"]
    c = web_client(client, world, "ent_a")
    html = c.get(f"/inspections/{inspection.pk}/").content.decode()
    assert "培训档案不全" in html and inspection.documents.get().number in html
    assert 'name="action"' not in html and "item-result" not in html
    response = c.post(f"/inspections/{inspection.pk}/", {"action": "addendum", "addendum-text": "x"})
    assert response.status_code == 403
    item = inspection.items.first()
    assert c.post(f"/inspections/{inspection.pk}/items/{item.pk}/", {"result": "compliant"}).status_code == 403


# The team's pages ---------------------------------------------------------------------------------
def test_a_county_officer_starts_an_inspection_from_the_page(client, world, today):
    c = web_client(client, world, "county_a")
    page = c.get(f"/inspections/new/?mine={world.mine_a2.pk}").content.decode()
    assert f'value="{world.mine_b.pk}"' not in page  # only the county's mines are offered
    response = c.post("/inspections/new/", {"mine": world.mine_a2.pk, "inspected_on": today.isoformat(),
                                            "method": "unannounced", "team": "李四"})
    inspection = Inspection.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == f"/inspections/{inspection.pk}/"
    assert inspection.mine == world.mine_a2 and inspection.method == "unannounced"


@pytest.mark.parametrize("data, field", [
    ({"inspected_on": "2099-01-01"}, "cannot be in the future"),
    ({"mine": "MINE_B"}, "Select a valid choice"),
    ({"method": "cross_county"}, "cross-county"),
])
def test_bad_start_input_is_a_400_and_changes_nothing(client, world, today, data, field):
    count = Inspection.objects.count()
    post = {"mine": world.mine_a2.pk, "inspected_on": today.isoformat(), "method": "routine", **data}
    if post["mine"] == "MINE_B":
        post["mine"] = world.mine_b.pk
    response = web_client(client, world, "county_a").post("/inspections/new/", post)
    assert response.status_code == 400 and field in response.content.decode()
    assert Inspection.objects.count() == count


@pytest.mark.parametrize("persona, code", [("ent_a", 403), ("department", 403), ("county_a", 200)])
def test_only_officers_get_the_start_page(client, world, persona, code):
    assert web_client(client, world, persona).get("/inspections/new/").status_code == code


def test_the_team_records_results_photos_signatures_and_completes_on_the_page(client, world, today):
    inspection = world.world["a_open"]
    c = web_client(client, world, "county_a")
    url = f"/inspections/{inspection.pk}/"
    page = c.get(url).content.decode()
    assert 'name="viewport"' in page and "inspections.css" in page and "signature.js" in page
    assert 'class="columns"' not in page and 'id="no-exam"' in page
    item = inspection.items.filter(hazard_item__isnull=False).first()
    response = c.post(f"{url}items/{item.pk}/", {"result": "hazard_found", "note": "排水泵仅两台",
                                                 "deadline": (today + dt.timedelta(days=30)).isoformat()})
    assert response.status_code == 302 and response["Location"].endswith(f"#item-{item.pk}")
    finding = Finding.objects.get(item=item)
    assert finding.major and finding.hazard is not None
    # A bad photo is refused and nothing is stored; a real one is stored.
    response = c.post(url, {"action": "photo", "photo-file": io.BytesIO(b"GIF89a not allowed"), "photo-caption": ""},
                      follow=True)
    assert "JPEG, PNG or WebP only" in response.content.decode() and not inspection.photos.exists()
    upload = io.BytesIO(png())
    upload.name = "现场.png"
    c.post(url, {"action": "photo", "photo-file": upload, "photo-caption": "泵房", "photo-finding": finding.pk})
    assert inspection.photos.get().finding == finding
    # Signatures: the lead's drawing, the enterprise's refusal with a witness; then completion.
    response = c.post(url, {"action": "complete"}, follow=True)
    assert "completion needs the signatures" in response.content.decode()
    c.post(url, {"action": "sign_lead", "sign_lead-image": data_url()})
    c.post(url, {"action": "sign_enterprise", "sign_enterprise-signer_name": "王矿长", "sign_enterprise-refused": "on",
                 "sign_enterprise-witness_name": "李村主任", "sign_enterprise-refusal_reason": "不认可"})
    assert inspection.signatures.count() == 2
    response = c.post(url, {"action": "complete"})
    assert response.status_code == 302
    inspection.refresh_from_db()
    assert inspection.status == Inspection.Status.COMPLETED
    # Completed: the forms are gone, a change is refused, an addendum is taken.
    page = c.get(url).content.decode()
    assert "item-result" not in page and 'value="addendum"' in page
    other = inspection.items.exclude(pk=item.pk).first()
    response = c.post(f"{url}items/{other.pk}/", {"result": "compliant"}, follow=True)
    assert "completed and signed" in response.content.decode()
    assert InspectionItem.objects.get(pk=other.pk).result == "not_checked"
    c.post(url, {"action": "addendum", "addendum-text": "补充：泵房照片一张"})
    assert inspection.addenda.get().text == "补充：泵房照片一张"


def test_a_step_not_offered_is_refused(client, world):
    inspection = world.world["a_open"]
    c = web_client(client, world, "county_a")
    response = c.post(f"/inspections/{inspection.pk}/", {"action": "addendum", "addendum-text": "x"}, follow=True)
    assert "not available" in response.content.decode() and not inspection.addenda.exists()
    # The mine's county reads a cross-county visit but is not on its team.
    cross = world.world["cross_open"]
    assert c.post(f"/inspections/{cross.pk}/", {"action": "complete"}).status_code == 403


def test_exams_are_offered_and_recorded_against_the_inspection(client, world, today):
    from minesafe.personnel.models import Appointment, Exam, ExamQuestion, Person

    inspection = world.world["a_open"]
    person = Person.objects.create(mine=world.mine_a, name="赵矿长", id_number="130827198001010011",
                                   education="bachelor", frontline_years=12, created_by=world.city)
    Appointment.objects.create(person=person, mine=world.mine_a, post="mine_manager",
                               start_date=today - dt.timedelta(days=400), created_by=world.city)
    for n in range(3):
        ExamQuestion.objects.create(post="", text=f"问题{n}", answer="B", created_by=world.city,
                                    options=[{"key": "A", "text": "甲"}, {"key": "B", "text": "乙"}])
    c = web_client(client, world, "county_a")
    page = c.get(f"/inspections/{inspection.pk}/").content.decode()
    exam_url = f"/inspections/{inspection.pk}/exams/{person.pk}/"
    assert exam_url in page
    form = c.get(exam_url).content.decode()
    token = form.split('name="token" value="')[1].split('"')[0]
    answers = {f"q{q.pk}": "B" for q in ExamQuestion.objects.all()}
    response = c.post(exam_url, {"token": token, **answers})
    assert response.status_code == 302
    exam = Exam.objects.get()
    assert exam.inspection_ref == inspection.number and exam.passed
    page = c.get(f"/inspections/{inspection.pk}/").content.decode()
    assert "赵矿长" in page and 'id="no-exam"' not in page
    # Not on a completed inspection, and not by someone outside the team.
    done = world.world["a_done"]
    assert c.get(f"/inspections/{done.pk}/exams/{person.pk}/").status_code == 403
    assert web_client(client, world, "ent_a").get(exam_url).status_code == 404


# Checklist templates -------------------------------------------------------------------------------
def test_the_city_edits_a_checklist_on_the_page_and_a_used_version_is_copied(client, world):
    template = checklists.active_template("underground")  # used by the world's inspections
    c = web_client(client, world, "city")
    page = c.get(f"/inspections/checklists/{template.pk}/").content.decode()
    assert 'id="copy-on-edit"' in page
    response = c.post(f"/inspections/checklists/{template.pk}/", {"action": "add", "text": "井口值班记录",
                                                                  "code": "UX-09"})
    new = checklists.active_template("underground")
    assert new.version == 2 and response["Location"] == f"/inspections/checklists/{new.pk}/"
    assert new.items.filter(code="UX-09").exists() and not template.items.filter(code="UX-09").exists()
    item = new.items.get(code="UX-09")
    c.post(f"/inspections/checklists/{new.pk}/", {"action": "up", "item": item.pk})
    assert new.items.get(pk=item.pk).position == new.items.count() - 1
    response = c.post(f"/inspections/checklists/{new.pk}/", {"action": "add", "text": ""})
    assert response.status_code == 400
    assert ChecklistTemplate.objects.filter(code="underground").count() == 2


@pytest.mark.parametrize("persona, get_code, post_code", [("county_a", 200, 403), ("inspector", 200, 403),
                                                          ("ent_a", 403, 403), ("department", 403, 403)])
def test_only_the_city_edits_checklists(client, world, persona, get_code, post_code):
    template = checklists.active_template("underground")
    c = web_client(client, world, persona)
    assert c.get("/inspections/checklists/").status_code == get_code
    assert c.get(f"/inspections/checklists/{template.pk}/").status_code == get_code
    response = c.post(f"/inspections/checklists/{template.pk}/", {"action": "add", "text": "x"})
    assert response.status_code == post_code and template.items.filter(text="x").count() == 0
