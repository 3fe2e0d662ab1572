"""Publicity and education events (task 28): recorded by the city or a county (in its own county), reach required
and never negative, evidence recognised by its content (photos and PDF only, size and count limited), audited;
totals per county and per quarter."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.campaigns import publicity
from minesafe.campaigns.models import PublicityEvent, PublicityEvidence
from minesafe.core.models import AuditEvent
from minesafe.inspections.demo import signature_png

from .conftest import days

pytestmark = pytest.mark.django_db
PNG = signature_png(3)
PDF = b"%PDF-1.4\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100


def record(actor, **extra):
    fields = {"held_on": days(-3), "kind": "lecture", "title": "重大事故隐患判定标准宣讲", "audience": "enterprises",
              "reach": 120}
    return publicity.record_event(actor, **{**fields, **extra})


def test_a_county_records_an_event_in_its_county_with_evidence(personas):
    event = record(personas.county_a, place="宽城县应急管理局", online_views=3000,
                   evidence=[("现场.png", PNG), ("总结.pdf", PDF), ("照片.jpg", JPEG)])
    assert event.county == personas.county_a_region and event.organiser == personas.county_a.organisation
    assert (event.reach, event.online_views) == (120, 3000)
    stored = {e.original_name: e for e in event.evidence.all()}
    assert {n: e.content_type for n, e in stored.items()} == {
        "现场.png": "image/png", "总结.pdf": "application/pdf", "照片.jpg": "image/jpeg"}
    assert stored["现场.png"].file.read() == PNG and len(stored["现场.png"].sha256) == 64
    created = AuditEvent.objects.get(object_type="campaigns.publicityevent", object_id=str(event.pk))
    assert created.after["reach"] == 120 and len(created.after["evidence_sha256"]) == 3


def test_a_county_records_only_in_its_own_county_and_the_city_anywhere_or_city_wide(personas):
    with pytest.raises(ValidationError) as refused:
        record(personas.county_a, county=personas.county_b_region)
    assert "county" in refused.value.message_dict
    assert record(personas.city, county=personas.county_b_region).county == personas.county_b_region
    assert record(personas.city, kind="media", audience="online", reach=0, online_views=50000).county is None


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector", "anonymous"])
def test_only_the_city_and_counties_record_events(personas, persona):
    with pytest.raises(PermissionDenied):
        record(getattr(personas, persona))


@pytest.mark.parametrize("reach, message", [(-1, "cannot be negative"), (None, "give the number"),
                                            ("12.5", "whole number"), ("many", "whole number"),
                                            (True, "whole number")])
def test_reach_is_required_and_a_whole_number_not_below_zero(personas, reach, message):
    with pytest.raises(ValidationError) as refused:
        record(personas.county_a, reach=reach)
    assert message in refused.value.message_dict["reach"][0]
    assert not PublicityEvent.objects.exists()


def test_online_views_are_optional_but_never_negative(personas):
    with pytest.raises(ValidationError) as refused:
        record(personas.county_a, online_views=-5)
    assert "online_views" in refused.value.message_dict
    assert record(personas.county_a, reach="0").reach == 0


@pytest.mark.parametrize("files, message", [
    ([("evil.pdf", b"<script>alert(1)</script>")], "not a photo"),  # the name says PDF, the content does not
    ([("photo.gif", b"GIF89a" + b"\x00" * 50)], "not a photo"),
    ([("empty.png", b"")], "is empty"),
    ([("big.pdf", b"%PDF-" + b"0" * publicity.EVIDENCE_MAX_BYTES)], "larger than"),
    ([(f"p{n}.png", PNG) for n in range(publicity.EVIDENCE_MAX_COUNT + 1)], "at most"),
])
def test_evidence_is_judged_by_its_content_size_and_count(personas, files, message):
    with pytest.raises(ValidationError) as refused:
        record(personas.county_a, evidence=files)
    assert message in refused.value.message_dict["evidence"][0]
    assert not PublicityEvent.objects.exists() and not PublicityEvidence.objects.exists()


def test_the_date_kind_audience_and_title_are_checked(personas):
    with pytest.raises(ValidationError) as refused:
        record(personas.county_a, held_on=days(1), kind="party", audience="aliens", title=" ")
    assert set(refused.value.message_dict) == {"held_on", "kind", "audience", "title"}


def test_evidence_is_added_later_by_the_organiser_or_the_city_only(personas):
    event = record(personas.county_a)
    publicity.add_evidence(personas.county_a, event, [("a.png", PNG)])
    publicity.add_evidence(personas.city, event, [("b.pdf", PDF)])
    with pytest.raises(PermissionDenied):
        publicity.add_evidence(personas.county_b, event, [("c.png", PNG)])
    assert event.evidence.count() == 2


def test_totals_per_county_and_per_quarter(personas):
    from datetime import date

    record(personas.county_a, held_on=date(2026, 2, 10), reach=100)
    record(personas.county_a, held_on=date(2026, 6, 16), kind="safety_month", reach=1000, online_views=500)
    record(personas.county_b, held_on=date(2026, 6, 20), reach=50)
    record(personas.city, held_on=date(2026, 7, 1), kind="media", audience="online", reach=0, online_views=9000)
    report = publicity.report(PublicityEvent.objects.all())
    assert (report.total.events, report.total.reach, report.total.online_views) == (4, 1150, 9500)
    by_county = {name: (t.events, t.reach) for name, t in report.by_county}
    assert by_county == {str(personas.county_b_region): (1, 50), str(personas.county_a_region): (2, 1100),
                         "city-wide": (1, 0)}
    assert [(label, t.events, t.reach) for label, t in report.by_quarter] == [
        ("2026 Q1", 1, 100), ("2026 Q2", 2, 1050), ("2026 Q3", 1, 0)]
    county_a_only = publicity.report(PublicityEvent.objects.visible_to(personas.county_a))
    assert county_a_only.total.events == 2
