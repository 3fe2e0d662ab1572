"""The enforcement-staff ledger: who manages whom, refusals that change nothing, the training window of
task 30 with fixed dates, the per-body summary, scoping of every page, export and API, and the demo."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Organisation
from minesafe.officers import services
from minesafe.officers.demo import LAGGING_COUNTY, seed_officers
from minesafe.officers.models import Officer, OfficerTraining
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
NOW = timezone.now()
TODAY = timezone.localdate(NOW)


@pytest.fixture(autouse=True)
def clock_at_import(monkeypatch):
    """The clock stays where TODAY was read (at import, and in parametrize lists): a run that crosses midnight in
    Asia/Shanghai would otherwise see yesterday's dates as the past."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def body(personas, persona):
    return getattr(personas, persona).organisation


def add(personas, actor="county_a", **data) -> Officer:
    values = {"name": "张执法", "kind": "staff", "post": "执法人员", "certificate_no": "",
              "joined_on": dt.date(2020, 1, 1), **data}
    return services.add_officer(getattr(personas, actor), body(personas, actor if actor != "city" else "county_a"),
                                **values)


def train(personas, officers, end_on, passed=True, actor="city", course="执法培训"):
    return services.record_training(getattr(personas, actor), officers, course=course, kind="classroom",
                                    provider="市应急管理局", start_on=end_on - dt.timedelta(days=2), end_on=end_on,
                                    hours="24", failed=() if passed else tuple(o.pk for o in officers))


def test_county_manages_its_own_officers_only(personas):
    officer = add(personas)
    assert officer.organisation == personas.county_a.organisation
    assert AuditEvent.objects.filter(object_type="officers.officer", object_id=str(officer.pk)).exists()
    with pytest.raises(PermissionDenied):
        services.add_officer(personas.county_b, personas.county_a.organisation, name="李", joined_on=TODAY)
    with pytest.raises(PermissionDenied):
        services.update_officer(personas.county_b, officer, post="科长")
    for persona in ("ent_a", "department", "inspector"):
        with pytest.raises(PermissionDenied):
            services.add_officer(getattr(personas, persona), getattr(personas, persona).organisation, name="李",
                                 joined_on=TODAY)
    services.add_officer(personas.city, personas.county_b.organisation, name="王", joined_on=TODAY)


@pytest.mark.parametrize("data,field", [
    ({"name": " "}, "name"),
    ({"kind": "boss"}, "kind"),
    ({"kind": "expert"}, "speciality"),
    ({"speciality": "astrology"}, "speciality"),
    ({"certificate_expiry": dt.date(2027, 1, 1)}, "certificate_no"),
    ({"joined_on": TODAY + dt.timedelta(days=1)}, "joined_on"),
])
def test_bad_officers_are_refused_with_the_field(personas, data, field):
    with pytest.raises(ValidationError) as error:
        add(personas, **data)
    assert field in error.value.message_dict
    assert not Officer.objects.exists()


def test_certificate_numbers_are_unique_and_logins_stay_in_their_body(personas):
    add(personas, certificate_no="130800001")
    with pytest.raises(ValidationError) as error:
        add(personas, name="李", certificate_no="130800001")
    assert "certificate_no" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        add(personas, name="赵", user=personas.county_b)
    assert "user" in error.value.message_dict
    assert Officer.objects.count() == 1


def test_update_is_audited_with_before_and_after(personas):
    officer = add(personas)
    services.update_officer(personas.county_a, officer, post="执法大队长", registered_safety_engineer=True)
    event = AuditEvent.objects.filter(object_type="officers.officer", action="update").get()
    assert event.before == {"post": "执法人员", "registered_safety_engineer": False}
    assert event.after == {"post": "执法大队长", "registered_safety_engineer": True}
    with pytest.raises(ValidationError):
        services.update_officer(personas.county_a, officer, kind="expert")


def test_leaving(personas):
    officer = add(personas)
    with pytest.raises(ValidationError) as error:
        services.mark_left(personas.county_a, officer, dt.date(2019, 1, 1), "调离")
    assert "left_on" in error.value.message_dict
    services.mark_left(personas.county_a, officer, TODAY, "调离")
    assert Officer.objects.get(pk=officer.pk).status == Officer.Status.LEFT
    with pytest.raises(DomainError):
        services.mark_left(personas.county_a, officer, TODAY, "调离")
    with pytest.raises(ValidationError):
        train(personas, [officer], TODAY)


def test_a_course_is_recorded_for_all_or_none(personas):
    mine, theirs = add(personas), add(personas, actor="county_b", name="李")
    with pytest.raises(PermissionDenied):
        train(personas, [mine, theirs], TODAY, actor="county_a")
    assert not OfficerTraining.objects.exists()
    train(personas, [mine], TODAY, actor="county_a")
    with pytest.raises(ValidationError) as error:  # the same course again
        train(personas, [mine], TODAY, actor="county_a")
    assert "officers" in error.value.message_dict
    for bad, field in [({"hours": "0"}, "hours"), ({"hours": "abc"}, "hours"), ({"course": ""}, "course"),
                       ({"end_on": TODAY + dt.timedelta(days=1)}, "end_on"),
                       ({"start_on": TODAY, "end_on": TODAY - dt.timedelta(days=1)}, "end_on")]:
        kwargs = {"course": "新课程", "kind": "field", "provider": "市局", "start_on": TODAY - dt.timedelta(days=1),
                  "end_on": TODAY, "hours": "8", **bad}
        with pytest.raises(ValidationError) as error:
            services.record_training(personas.city, [mine], **kwargs)
        assert field in error.value.message_dict
    assert OfficerTraining.objects.count() == 1


def test_training_window_and_summary_with_fixed_dates(personas):
    today = dt.date(2026, 11, 30)
    recent, old, failed, never = (add(personas, name=n) for n in ("甲", "乙", "丙", "丁"))
    expert = add(personas, name="专家", kind="expert", speciality="tailings", certificate_no="9", certificate_expiry=
                 dt.date(2026, 12, 20))
    train(personas, [recent], dt.date(2023, 12, 1))  # inside the three years before 2026-11-30
    train(personas, [old], dt.date(2023, 11, 29))  # one day outside
    train(personas, [failed], dt.date(2025, 6, 1), passed=False)
    states = {s.officer.name: s for s in services.statuses(Officer.objects.all(), today)}
    assert states["甲"].trained and not states["乙"].trained and not states["丙"].trained
    assert states["丁"].last_trained is None and states["丙"].last_trained is None
    assert states["专家"].certificate == "expiring"
    assert services.certificate_state(expert, dt.date(2026, 12, 21)) == "expired"
    [row] = services.summary(Officer.objects.all(), today)
    assert (row.staff, row.trained, row.experts) == (4, 1, 1)
    assert row.trained_ratio == 0.25 and {o.name for o in row.untrained} == {"乙", "丙", "丁"}
    assert services.window_start(dt.date(2028, 2, 29)) == dt.date(2025, 2, 28)


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_export_and_api_are_scoped(client, personas, persona):
    mine, theirs = add(personas, name="宽城执法员"), add(personas, actor="county_b", name="兴隆执法员")
    train(personas, [mine], TODAY - dt.timedelta(days=10))
    web = web_client(client, personas, persona)
    expected = {"city": {mine.pk, theirs.pk}, "county_a": {mine.pk}, "county_b": {theirs.pk}, "inspector": set()}
    response = web.get("/officers/")
    if persona == "anonymous":
        assert response.status_code == 302
    elif persona not in expected:
        assert response.status_code == 403
        assert web.get("/officers/?format=csv").status_code == 403
    else:
        assert response.status_code == 200
        shown = {s.officer.pk for s in response.context["page"].object_list}
        assert shown == expected[persona]
        csv_text = web.get("/officers/?format=csv").content.decode("utf-8-sig")
        assert ("兴隆执法员" in csv_text) == (theirs.pk in expected[persona])
        assert ("宽城执法员" in csv_text) == (mine.pk in expected[persona])
    for officer in (mine, theirs):
        status = web.get(f"/officers/{officer.pk}/").status_code
        if persona == "anonymous":
            assert status == 302
        else:
            assert status == (200 if officer.pk in expected.get(persona, set()) else 404)
    api = api_client(personas, persona).get("/api/v1/officers/")
    if persona == "anonymous":
        assert api.status_code in (401, 403)
    else:
        assert {row["id"] for row in api.json()["results"]} == expected.get(persona, set())


def test_forms_change_through_the_services(client, personas):
    client.force_login(personas.county_a)
    response = client.post("/officers/new/", {"organisation": personas.county_b.organisation.pk, "name": "越权",
                                              "kind": "staff", "joined_on": "2024-01-01"})
    assert response.status_code == 200 and not Officer.objects.exists()  # another county is not a choice
    response = client.post("/officers/new/", {"organisation": personas.county_a.organisation.pk,
                                              "name": "<script>x</script>", "kind": "staff",
                                              "joined_on": "2024-01-01"})
    officer = Officer.objects.get()
    assert response.status_code == 302
    page = client.get(f"/officers/{officer.pk}/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    response = client.post("/officers/training/new/", {
        "officers": [officer.pk], "course": "执法培训", "kind": "classroom", "provider": "市局",
        "start_on": (TODAY - dt.timedelta(days=3)).isoformat(), "end_on": TODAY.isoformat(), "hours": "16"})
    assert response.status_code == 302
    assert OfficerTraining.objects.get().hours == Decimal("16.0")
    client.force_login(personas.county_b)
    assert client.post(f"/officers/{officer.pk}/", {"action": "left", "left-left_on": TODAY.isoformat(),
                                                     "left-reason": "x"}).status_code == 404
    summary = client.get("/officers/summary/")
    assert summary.status_code == 200 and summary.context["staff"] == 0


def test_demo_officers(personas):
    result = seed_officers(seed=3, today=dt.date(2026, 11, 30))
    assert result.officers > 0 and result.experts >= 24 and result.trainings > 0
    rows = {r.organisation.region.code: r for r in services.summary(Officer.objects.all(), dt.date(2026, 11, 30))}
    lagging = rows[LAGGING_COUNTY]
    assert lagging.trained_ratio < 0.8
    others = [r for code, r in rows.items() if code != LAGGING_COUNTY and r.staff]
    assert others and all(r.trained == r.staff for r in others)
    assert Organisation.objects.filter(officers__kind="expert").exists()
    assert seed_officers(seed=3).officers == 0
