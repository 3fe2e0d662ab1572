"""Watching suspended mines: departments' uploads (atomic, row-level errors), the three signals, the flag's
surprise-inspection outcome, and who may see what (flags are covert: never the enterprise's)."""

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import Workbook
from rest_framework.test import APIClient

from conftest import PASSWORD, make_user
from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Organisation
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.monitoring import services, suspension, uploads
from minesafe.monitoring.models import DataUpload, ExplosivesIssue, MeterReading, ProductionFlag, Reading
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)
SUSPENDED_FROM = TODAY - dt.timedelta(days=70)


@pytest.fixture
def gd(personas):
    return make_user("gongdian", "department", Organisation.objects.get(unit_code="GD"))


@pytest.fixture
def ga(personas):
    return make_user("gongan", "department", Organisation.objects.get(unit_code="GA"))


@pytest.fixture
def suspended(personas):
    mine = personas.mine_a
    registry.change_status(personas.city, mine, Mine.Status.SUSPENDED, reason="停产整顿", effective_date=SUSPENDED_FROM)
    mine.refresh_from_db()
    return mine


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def daily_rows(mine, start: dt.date, values) -> list[dict]:
    return [{"mine_code": mine.code, "period_start": (start + dt.timedelta(days=i)).isoformat(), "hours": 24,
             "kwh": v} for i, v in enumerate(values)]


def meter_history(mine, rise_days: int = 0, rise_kwh: float = 4000.0, spike_day: int | None = None) -> list[dict]:
    """60 producing days at ~10,000 kWh, then the suspension at ~1,000 kWh (a little noise), ending today-1."""
    producing = [10000 + (i % 5) * 150 for i in range(60)]
    days = (TODAY - SUSPENDED_FROM).days
    suspended_values = [1000 + ((i * 7) % 11) * 12 for i in range(days)]
    for i in range(days - rise_days, days):
        suspended_values[i] = rise_kwh + (i % 3) * 50
    if spike_day is not None:
        suspended_values[spike_day] = 6000
    return daily_rows(mine, SUSPENDED_FROM - dt.timedelta(days=60), producing + suspended_values)


def frozen(monkeypatch, day: dt.date = TODAY):
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


# Uploads -----------------------------------------------------------------------------------------
def test_only_the_owner_department_or_the_city_uploads(personas, gd, ga):
    assert uploads.may_upload(gd, DataUpload.Kind.METER) and not uploads.may_upload(gd, DataUpload.Kind.EXPLOSIVES)
    assert uploads.may_upload(ga, DataUpload.Kind.EXPLOSIVES) and not uploads.may_upload(ga, DataUpload.Kind.METER)
    assert uploads.may_upload(personas.city, DataUpload.Kind.METER)
    rows = {"rows": daily_rows(personas.mine_a, dt.date(2026, 11, 1), [100])}
    for user in (personas.department, personas.county_a, personas.ent_a, personas.inspector, ga):
        assert api(user).post("/api/v1/meter-readings", rows, format="json").status_code == 403
    assert APIClient().post("/api/v1/meter-readings", rows, format="json").status_code in (401, 403)
    assert not MeterReading.objects.exists()
    assert api(gd).post("/api/v1/meter-readings", rows, format="json").status_code == 201
    assert MeterReading.objects.count() == 1


@pytest.mark.parametrize("row, field, words", [
    ({"mine_code": "NOPE"}, "mine_code", "no mine"),
    ({"hours": 2}, "hours", "1 (hourly) or 24"),
    ({"hours": "x"}, "hours", "not a number"),
    ({"kwh": -1}, "kwh", "at least 0"),
    ({"kwh": "NaN"}, "kwh", "finite"),
    ({"kwh": 10_000_000}, "kwh", "at most"),
    ({"kwh": None}, "kwh", "required"),
    ({"period_start": "yesterday"}, "period_start", "not a date"),
    ({"period_start": "2026-11-01T08:00+08:00"}, "period_start", "local midnight"),
    ({"period_start": "2026-11-01", "hours": 1}, "period_start", "needs the hour"),
    ({"period_start": "2026-11-01T08:30+08:00", "hours": 1}, "period_start", "on the hour"),
    ({"period_start": "2099-01-01"}, "period_start", "not ended"),
])
def test_a_bad_meter_row_stores_nothing_and_is_named(personas, gd, row, field, words):
    good = daily_rows(personas.mine_a, dt.date(2026, 11, 1), [100, 120])
    bad = {**good[1], **row}
    response = api(gd).post("/api/v1/meter-readings", {"rows": [good[0], bad]}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, field)]
    assert words in errors[0]["message"]
    assert not MeterReading.objects.exists() and not DataUpload.objects.exists()


def test_repeats_conflicts_and_corrections(personas, gd):
    client = api(gd)
    rows = daily_rows(personas.mine_a, dt.date(2026, 11, 1), [100, 120])
    assert client.post("/api/v1/meter-readings", {"rows": rows}, format="json").status_code == 201
    again = client.post("/api/v1/meter-readings", {"rows": rows}, format="json").json()
    assert (again["created"], again["unchanged"]) == (0, 2)
    twice = client.post("/api/v1/meter-readings", {"rows": rows[:1] + rows[:1]}, format="json")
    assert twice.status_code == 400 and "repeats row 1" in twice.json()["errors"][0]["message"]
    changed = [{**rows[1], "kwh": 150}]
    refused = client.post("/api/v1/meter-readings", {"rows": changed}, format="json")
    assert refused.status_code == 400 and "already uploaded as 120" in refused.json()["errors"][0]["message"]
    hourly = {"mine_code": personas.mine_a.code, "period_start": "2026-11-01T05:00:00+08:00", "hours": 1, "kwh": 3}
    mixed = client.post("/api/v1/meter-readings", {"rows": [hourly]}, format="json")
    assert mixed.status_code == 400 and "either hourly or daily" in mixed.json()["errors"][0]["message"]
    corrected = client.post("/api/v1/meter-readings", {"rows": changed, "replace": True}, format="json")
    assert corrected.status_code == 201 and corrected.json()["replaced"] == 1
    assert MeterReading.objects.get(period_start__date=dt.date(2026, 11, 2)).kwh == 150
    event = AuditEvent.objects.filter(object_type="monitoring.meterreading").get()
    assert (event.before["kwh"], event.after["kwh"]) == (120, 150)
    assert client.post("/api/v1/meter-readings", {"rows": "x"}, format="json").status_code == 400
    assert client.post("/api/v1/meter-readings", {"rows": [], "replace": "yes"}, format="json").status_code == 400


def test_hourly_readings_make_a_day(personas, gd):
    start = timezone.make_aware(dt.datetime(2026, 11, 1))
    rows = [{"mine_code": personas.mine_a.code, "period_start": (start + dt.timedelta(hours=h)).isoformat(),
             "hours": 1, "kwh": 40} for h in range(24)]
    assert api(gd).post("/api/v1/meter-readings", {"rows": rows}, format="json").status_code == 201
    days = suspension.daily_use(personas.mine_a, dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    assert days == [(dt.date(2026, 11, 1), pytest.approx(960))]


def test_file_upload_page_csv_and_xlsx(client, personas, gd):
    client.login(username=gd.username, password=PASSWORD)
    csv_file = io.BytesIO(b"mine_code,period_start,hours,kwh\nKC-001,2026-11-01,24,1500\n")
    csv_file.name = "meter.csv"
    response = client.post("/monitoring/uploads/", {"kind": "meter", "file": csv_file})
    assert response.status_code == 302 and MeterReading.objects.count() == 1
    wb = Workbook()
    wb.active.append(["矿山编号", "起始时间", "时长(小时)", "电量(kWh)"])
    wb.active.append(["KC-001", dt.date(2026, 11, 2), 24, 1600])
    wb.active.append(["KC-001", dt.date(2026, 11, 3), 24, -5])
    data = io.BytesIO()
    wb.save(data)
    data.seek(0)
    data.name = "meter.xlsx"
    response = client.post("/monitoring/uploads/", {"kind": "meter", "file": data})
    assert response.status_code == 200 and 'id="upload-report"' in response.content.decode()
    assert MeterReading.objects.count() == 1
    bad_header = io.BytesIO(b"mine,when,kwh\nKC-001,2026-11-01,1\n")
    bad_header.name = "meter.csv"
    page = client.post("/monitoring/uploads/", {"kind": "meter", "file": bad_header}).content.decode()
    assert "period_start" in page and MeterReading.objects.count() == 1
    client.logout()
    client.login(username=personas.ent_a.username, password=PASSWORD)
    assert client.get("/monitoring/uploads/").status_code == 403


# Signals -----------------------------------------------------------------------------------------
def test_a_sustained_rise_flags_once_a_spike_does_not(monkeypatch, personas, gd, suspended):
    frozen(monkeypatch)
    uploads.upload(gd, DataUpload.Kind.METER, enumerate(meter_history(suspended, spike_day=40), 1), channel="api")
    assert suspension.scan(TODAY).flags == 0
    MeterReading.objects.all().delete()
    uploads.upload(gd, DataUpload.Kind.METER, enumerate(meter_history(suspended, rise_days=6), 1), channel="api")
    assert suspension.scan(TODAY).flags == 1
    assert suspension.scan(TODAY).flags == 0  # re-running finds the same episode
    flag = ProductionFlag.objects.get()
    assert flag.signal == "electricity" and flag.status == "open"
    assert abs((flag.began_on - (TODAY - dt.timedelta(days=6))).days) <= 2
    assert flag.inspect_by == TODAY + dt.timedelta(days=7)
    assert 900 <= flag.evidence["baseline_kwh"] <= 1200 and flag.evidence["producing_kwh"] > 9000


def test_producing_mines_are_not_watched(monkeypatch, personas, gd):
    frozen(monkeypatch)
    uploads.upload(gd, DataUpload.Kind.METER, enumerate(meter_history(personas.mine_a, rise_days=6), 1),
                   channel="api")
    assert suspension.scan(TODAY).mines == 0 and not ProductionFlag.objects.exists()


def test_people_underground_above_the_watch_headcount(monkeypatch, personas, suspended):
    frozen(monkeypatch)
    suspended.watch_headcount = 4
    suspended.save()
    gateway, _token = services.create_gateway(personas.city, suspended, "人员定位")
    sensor = services.create_sensor(personas.city, suspended, code="RY-01", name="井下人数", kind="people_underground",
                                    gateway=gateway)
    start = timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(22)))
    values = [3] * 20 + [12] * 50 + [3] * 20 + [9] * 10  # 25 min above at 22:10, then 5 min above
    Reading.objects.bulk_create([Reading(sensor_id=sensor.pk, ts=start + dt.timedelta(seconds=30 * i), value=v)
                                 for i, v in enumerate(values)])
    assert suspension.scan(TODAY).flags == 0  # 25 minutes is under the 30-minute default
    more = start + dt.timedelta(hours=1)
    Reading.objects.bulk_create([Reading(sensor_id=sensor.pk, ts=more + dt.timedelta(seconds=30 * i), value=15)
                                 for i in range(80)])
    assert suspension.scan(TODAY).flags == 1
    flag = ProductionFlag.objects.get()
    assert flag.signal == "headcount" and flag.evidence["peak"] == 15 and flag.evidence["limit"] == 4


def test_explosives_issued_to_a_suspended_mine(monkeypatch, personas, ga, suspended):
    frozen(monkeypatch)
    rows = [{"mine_code": suspended.code, "issued_on": (TODAY - dt.timedelta(days=3)).isoformat(),
             "permit_no": "GA-1", "explosive_kg": "200", "detonators": 400},
            {"mine_code": personas.mine_b.code, "issued_on": (TODAY - dt.timedelta(days=3)).isoformat(),
             "permit_no": "GA-2", "explosive_kg": "80", "detonators": 0},
            {"mine_code": suspended.code, "issued_on": (SUSPENDED_FROM - dt.timedelta(days=3)).isoformat(),
             "permit_no": "GA-0", "explosive_kg": "300", "detonators": 10}]
    response = api(ga).post("/api/v1/explosives-issues", {"rows": rows}, format="json")
    assert response.status_code == 201, response.json()
    flag = ProductionFlag.objects.get()  # only the issue during the suspension
    assert flag.signal == "explosives" and flag.evidence["permit_no"] == "GA-1"
    bad = api(ga).post("/api/v1/explosives-issues", {"rows": [{**rows[0], "permit_no": "GA-9", "explosive_kg": 0,
                                                                "detonators": 0}]}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "explosive_kg"
    assert ExplosivesIssue.objects.count() == 3


# The outcome -------------------------------------------------------------------------------------
@pytest.fixture
def flag(monkeypatch, personas, gd, suspended):
    frozen(monkeypatch)
    uploads.upload(gd, DataUpload.Kind.METER, enumerate(meter_history(suspended, rise_days=6), 1), channel="api")
    suspension.scan(TODAY)
    return ProductionFlag.objects.get()


def test_dismissal_needs_a_reason_and_relearns_the_baseline(monkeypatch, personas, gd, flag):
    with pytest.raises(ValidationError) as refused:
        suspension.dismiss(personas.county_a, flag, inspected_on=TODAY, method="covert", reason=" ")
    assert "dismissal_reason" in refused.value.message_dict
    with pytest.raises(ValidationError) as future:
        suspension.dismiss(personas.county_a, flag, inspected_on=TODAY + dt.timedelta(days=1), method="covert",
                           reason="新装排水泵")
    assert "inspected_on" in future.value.message_dict
    with pytest.raises(PermissionDenied):
        suspension.dismiss(personas.county_b, flag, inspected_on=TODAY, method="covert", reason="新装排水泵")
    suspension.dismiss(personas.county_a, flag, inspected_on=TODAY, method="covert", reason="新装排水泵")
    flag.refresh_from_db()
    assert flag.status == "dismissed" and flag.closed_by == personas.county_a
    assert suspension.accepted_from(flag.mine) == flag.began_on
    # Twelve more days at the same legitimate level: nothing new.
    later = TODAY + dt.timedelta(days=12)
    frozen(monkeypatch, later)
    uploads.upload(personas.city, DataUpload.Kind.METER,
                   enumerate(daily_rows(flag.mine, TODAY, [4000 + (i % 3) * 50 for i in range(12)]), 1), channel="api")
    assert suspension.scan(later).flags == 0
    assert AuditEvent.objects.filter(object_type="monitoring.productionflag", action="transition").count() == 1


def test_confirmation_can_open_a_hazard_and_closes_once(personas, flag):
    item = next(i for i in HazardItem.objects.filter(catalogue__active=True) if i.fits(flag.mine.mine_type))
    suspension.confirm(personas.county_a, flag, inspected_on=TODAY, method="covert", findings="井下有人作业，矿石外运",
                       hazard_item=item)
    flag.refresh_from_db()
    assert flag.status == "confirmed" and flag.case_required and flag.hazard.mine == flag.mine
    assert Hazard.objects.get().source == "county_inspection"
    with pytest.raises(InvalidTransition) as again:
        suspension.dismiss(personas.county_a, flag, inspected_on=TODAY, method="covert", reason="x")
    assert "already closed" in str(again.value)


# Who sees what -----------------------------------------------------------------------------------
def test_flags_are_covert(client, personas, gd, flag):
    for user, sees in ((personas.city, True), (personas.county_a, True), (personas.county_b, False),
                       (personas.ent_a, False), (gd, False), (personas.department, False),
                       (personas.inspector, False)):
        listed = api(user).get("/api/v1/production-flags/").json()
        ids = [f["id"] for f in listed.get("results", listed)] if isinstance(listed, (dict, list)) else []
        assert (flag.pk in ids) == sees, user
        assert api(user).get(f"/api/v1/production-flags/{flag.pk}/").status_code == (200 if sees else 404)
        client.force_login(user)
        page = client.get("/monitoring/suspended/")
        if user.role in ("enterprise", "department"):
            assert page.status_code == 403
        else:
            assert page.status_code == 200 and (f'data-flag="{flag.pk}"' in page.content.decode()) == sees
        detail = client.get(f"/monitoring/suspended/flags/{flag.pk}/")
        assert detail.status_code == (200 if sees else (403 if user.role in ("enterprise", "department") else 404))
    # An inspector assigned to the mine sees it and may record the outcome.
    from minesafe.registry.models import MineAssignment

    MineAssignment.objects.create(user=personas.inspector, mine=flag.mine)
    response = api(personas.inspector).post(f"/api/v1/production-flags/{flag.pk}/dismiss/", {
        "inspected_on": TODAY.isoformat(), "method": "remote", "reason": "视频核查为排水泵检修"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "dismissed"


def test_outcome_form_on_the_flag_page(client, personas, flag):
    client.force_login(personas.county_a)
    page = client.get(f"/monitoring/suspended/flags/{flag.pk}/").content.decode()
    assert "<svg" in page and 'id="outcome"' in page
    response = client.post(f"/monitoring/suspended/flags/{flag.pk}/", {
        "outcome": "confirmed", "inspected_on": TODAY.isoformat(), "method": "covert", "findings": ""})
    assert response.status_code == 200 and ProductionFlag.objects.get().status == "open"
    response = client.post(f"/monitoring/suspended/flags/{flag.pk}/", {
        "outcome": "confirmed", "inspected_on": TODAY.isoformat(), "method": "surprise", "findings": "井下生产",
        "case_required": "on"})
    assert response.status_code == 302 and ProductionFlag.objects.get().status == "confirmed"
    client.force_login(personas.city)
    assert 'id="outcome"' not in client.get(f"/monitoring/suspended/flags/{flag.pk}/").content.decode()
