"""The public form and tracking page (limits, honeypot, too-fast submissions, code secrecy, script in text,
attachments) and who sees what on the officers' pages and API (the role matrix)."""

import re

import pytest

from minesafe.tipoffs import services
from minesafe.tipoffs.models import Reward, Tipoff
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
NAME, PHONE = "李实名", "13900001111"
SCRIPT = '<script>alert("x")</script>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64
NEW, TRACK = "/public/tipoffs/new/", "/public/tipoffs/track/"




def form_data(client, clock, personas, wait: int = 30, **overrides) -> dict:
    """What a person sends: the form's own token, read after `wait` seconds of typing."""
    page = client.get(NEW)
    token = re.search(r'name="started" value="([^"]+)"', page.content.decode()).group(1)
    clock.advance(seconds=wait)
    data = {"county": personas.county_a_region.pk, "mine": personas.mine_a.pk, "place": "",
            "category": "illegal_production", "description": "停产矿山夜间出矿", "contact_name": "",
            "contact_phone": "", "website": "", "started": token, "anonymous": "on"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def send(client, clock, personas, **overrides):
    return client.post(NEW, form_data(client, clock, personas, **overrides))


def shown_code(response) -> str:
    return re.search(r'id="tracking-code"><strong>([A-Z0-9-]+)<', response.content.decode()).group(1)


# The public form ---------------------------------------------------------------------------------
def test_a_person_reports_without_login_and_gets_a_code_once(client, clock, personas):
    response = send(client, clock, personas)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    code = shown_code(response)
    tipoff = Tipoff.objects.get()
    assert tipoff.tracking_hash == services.code_hash(code) and tipoff.mine == personas.mine_a
    assert code.replace("-", "") not in str(client.session.items())


def test_a_filled_honeypot_is_refused_and_nothing_stored(client, clock, personas):
    response = send(client, clock, personas, website="http://spam.example")
    assert response.status_code == 400 and 'id="refused"' in response.content.decode()
    assert not Tipoff.objects.exists()


def test_a_submission_faster_than_a_person_types_is_refused(client, clock, personas):
    response = client.post(NEW, form_data(client, clock, personas, wait=2))
    assert response.status_code == 400 and not Tipoff.objects.exists()
    assert client.post(NEW, form_data(client, clock, personas, wait=5)).status_code == 200


@pytest.mark.parametrize("token", ["", "1700000000.0", "garbage:abc"])
def test_a_missing_or_forged_render_time_is_refused(client, clock, personas, token):
    response = send(client, clock, personas, started=token)
    assert response.status_code == 400 and not Tipoff.objects.exists()


def test_a_form_left_open_for_days_is_refused(client, clock, personas):
    data = form_data(client, clock, personas)
    clock.advance(days=2)
    assert client.post(NEW, data).status_code == 400


def test_the_sixth_submission_in_an_hour_from_one_address_is_limited(client, clock, personas):
    for _i in range(5):
        assert send(client, clock, personas).status_code == 200
    response = send(client, clock, personas)
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 3600
    assert Tipoff.objects.count() == 5
    other = client.post(NEW, form_data(client, clock, personas), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200
    clock.advance(hours=1)
    assert send(client, clock, personas).status_code == 200


def test_invalid_posts_count_against_the_limit_too(client, clock, personas):
    for _i in range(5):
        assert send(client, clock, personas, website="bot").status_code == 400
    assert send(client, clock, personas).status_code == 429


def test_form_errors_are_shown_and_the_form_can_be_sent_again(client, clock, personas):
    response = send(client, clock, personas, description="", mine="", place="")
    assert response.status_code == 400 and not Tipoff.objects.exists()
    html = response.content.decode()
    assert "describe what you report" in html or "This field is required" in html
    token = re.search(r'name="started" value="([^"]+)"', html).group(1)
    clock.advance(seconds=30)
    data = form_data(client, clock, personas, started=token)
    assert client.post(NEW, data).status_code == 200


def test_script_in_text_is_stored_as_text_and_escaped_on_every_page(client, clock, personas):
    response = send(client, clock, personas, description=SCRIPT, place=SCRIPT, anonymous=None,
                    contact_name=SCRIPT, contact_phone="139")
    code = shown_code(response)
    tipoff = Tipoff.objects.get()
    assert tipoff.description == SCRIPT and tipoff.contact_name == SCRIPT
    services.accept(personas.city, tipoff)
    services.verify(personas.city, tipoff, substantiated=False, findings=SCRIPT)
    services.handle(personas.city, tipoff, action_taken=SCRIPT)
    services.give_feedback(personas.city, tipoff, SCRIPT)
    client.force_login(personas.city)
    detail = client.get(f"/tipoffs/{tipoff.pk}/").content.decode()
    listing = client.get("/tipoffs/").content.decode()
    client.logout()
    track = client.post(TRACK, {"code": code}).content.decode()
    for html in (detail, listing, track):
        assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in detail
    assert "&lt;script&gt;" in track


# Attachments -------------------------------------------------------------------------------------
def upload(name, content, content_type="application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def test_attachments_are_typed_by_their_content_not_their_name(client, clock, personas):
    files = [upload("evidence.bin", PNG), upload("letter.txt", PDF, "text/plain")]
    response = send(client, clock, personas, attachments=files)
    assert response.status_code == 200
    kinds = sorted(Tipoff.objects.get().attachments.values_list("content_type", flat=True))
    assert kinds == ["application/pdf", "image/png"]


@pytest.mark.parametrize("files", [
    [upload("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")],
    [upload("x.pdf", b"MZ\x90\x00 an exe", "application/pdf")],
    [upload("empty.png", b"", "image/png")],
    [upload(f"p{i}.png", PNG, "image/png") for i in range(services.ATTACHMENT_MAX_COUNT + 1)],
])
def test_bad_attachments_are_refused_and_nothing_stored(client, clock, personas, files):
    response = send(client, clock, personas, attachments=files)
    assert response.status_code == 400 and not Tipoff.objects.exists()
    assert "attachments" in response.content.decode() or "file" in response.content.decode()


def test_an_attachment_over_the_size_limit_is_refused(client, clock, personas, monkeypatch):
    monkeypatch.setattr(services, "ATTACHMENT_MAX_BYTES", 100)
    response = send(client, clock, personas, attachments=[upload("big.png", PNG + b"\x00" * 100)])
    assert response.status_code == 400 and not Tipoff.objects.exists()


def test_attachments_are_served_only_to_the_handlers(client, clock, personas):
    send(client, clock, personas, attachments=[upload("p.png", PNG)])
    tipoff = Tipoff.objects.get()
    url = f"/tipoffs/{tipoff.pk}/attachments/{tipoff.attachments.get().pk}/"
    expected = {"city": 200, "county_a": 200, "county_b": 404, "ent_a": 404, "department": 404, "inspector": 404}
    for persona, status in expected.items():
        client.force_login(getattr(personas, persona))
        response = client.get(url)
        assert response.status_code == status, persona
        if status == 200:
            assert b"".join(response.streaming_content) == PNG and response["X-Content-Type-Options"] == "nosniff"
        client.logout()


# Tracking ----------------------------------------------------------------------------------------
def closed_with_reward(personas, tipoff):
    services.accept(personas.county_a, tipoff)
    services.verify(personas.county_a, tipoff, substantiated=True, findings="内部核查记录：矿长王某")
    services.handle(personas.county_a, tipoff, action_taken="内部：立案 2026-001")
    reward = services.propose_reward(personas.county_a, tipoff, "general")
    services.approve_reward(personas.city, reward)
    services.give_feedback(personas.county_a, tipoff, "经核查属实，已依法查处。")
    return reward


def test_the_reporter_sees_only_status_dates_feedback_and_reward(client, clock, personas):
    code = shown_code(send(client, clock, personas, description="描述原文"))
    other_code = shown_code(send(client, clock, personas, description="另一举报"))
    tipoff = Tipoff.objects.get(tracking_hash=services.code_hash(code))
    other = Tipoff.objects.get(tracking_hash=services.code_hash(other_code))
    closed_with_reward(personas, tipoff)
    services.reject(personas.county_a, other, "不予受理")
    services.give_feedback(personas.county_a, other, "另一举报的反馈")
    response = client.post(TRACK, {"code": code.lower()})
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "Feedback given" in html and "经核查属实，已依法查处。" in html
    assert "Approved" in html and "claim" in html
    for secret in ("描述原文", "内部核查记录", "内部：立案", "另一举报", tipoff.number, other.number, "宽城甲铁矿"):
        assert secret not in html, secret


def test_wrong_and_forged_codes_get_the_same_not_found_answer(client, clock, personas):
    code = shown_code(send(client, clock, personas)).replace("-", "")
    answers = set()
    for attempt in (code[:-1] + ("A" if code[-1] != "A" else "B"), services.new_tracking_code(), "x", ""):
        response = client.post(TRACK, {"code": attempt})
        assert response.status_code == 404
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        answers.add(html)  # the code typed is not echoed back
    assert len(answers) == 1
    assert 'id="not-found"' in answers.pop()


def test_guessing_codes_is_limited_per_address_even_for_a_right_code(client, clock, personas):
    code = shown_code(send(client, clock, personas))
    for _i in range(10):
        assert client.post(TRACK, {"code": services.new_tracking_code()}).status_code == 404
    for _i in range(5):  # right codes never count
        assert client.post(TRACK, {"code": code}).status_code in (200, 429)
    limited = client.post(TRACK, {"code": code})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert client.post(TRACK, {"code": code}, REMOTE_ADDR="10.1.1.1").status_code == 200
    clock.advance(hours=1)
    assert client.post(TRACK, {"code": code}).status_code == 200


def test_a_right_code_does_not_use_up_the_guessing_allowance(client, clock, personas):
    code = shown_code(send(client, clock, personas))
    for _i in range(20):
        assert client.post(TRACK, {"code": code}).status_code == 200


# The officers' pages and API: who sees what ------------------------------------------------------
@pytest.fixture
def two_reports(personas, clock):
    a = services.submit(county=personas.county_a_region, mine=personas.mine_a, category="hidden_hazard",
                        description="A 县举报", anonymous=False, contact_name=NAME, contact_phone=PHONE)[0]
    b = services.submit(county=personas.county_b_region, mine=personas.mine_b, category="other",
                        description="B 县举报")[0]
    return {"a": a, "b": b}


SEES = {"city": {"a", "b"}, "county_a": {"a"}, "county_b": {"b"}}
DENIED = ("ent_a", "ent_b", "department", "inspector")


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_page_shows_exactly_the_reports_in_scope(client, personas, two_reports, persona):
    response = web_client(client, personas, persona).get("/tipoffs/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona in DENIED:
        assert response.status_code == 403
        return
    html = response.content.decode()
    assert {k for k, t in two_reports.items() if t.number in html} == SEES[persona]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("which", ["a", "b"])
def test_detail_page_is_404_outside_scope_and_shows_identity_to_handlers(client, personas, two_reports, persona,
                                                                         which):
    tipoff = two_reports[which]
    response = web_client(client, personas, persona).get(f"/tipoffs/{tipoff.pk}/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    visible = which in SEES.get(persona, set())
    assert response.status_code == (200 if visible else 404)
    if visible and which == "a":
        html = response.content.decode()
        assert NAME in html and PHONE in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_lists_exactly_the_reports_in_scope(personas, two_reports, persona):
    api = api_client(personas, persona)
    response = api.get("/api/v1/tipoffs/")
    if persona == "anonymous" or persona in DENIED:
        assert response.status_code == 403
        for tipoff in two_reports.values():
            assert api.get(f"/api/v1/tipoffs/{tipoff.pk}/").status_code == 403
            assert api.post(f"/api/v1/tipoffs/{tipoff.pk}/accept/").status_code == 403
        return
    rows = response.json()["results"]
    assert {r["number"] for r in rows} == {two_reports[k].number for k in SEES[persona]}
    for key, tipoff in two_reports.items():
        expected = 200 if key in SEES[persona] else 404
        assert api.get(f"/api/v1/tipoffs/{tipoff.pk}/").status_code == expected
        if expected == 404:
            assert api.post(f"/api/v1/tipoffs/{tipoff.pk}/accept/").status_code == 404
    if "a" in SEES[persona]:
        row = next(r for r in rows if r["number"] == two_reports["a"].number)
        assert (row["contact_name"], row["contact_phone"]) == (NAME, PHONE)
        assert "tracking_hash" not in row


def test_api_runs_the_loop_and_maps_refusals(personas, two_reports, clock):
    tipoff = two_reports["a"]
    api = api_client(personas, "county_a")
    url = f"/api/v1/tipoffs/{tipoff.pk}/"
    assert api.post(url + "verify/", {"substantiated": True, "findings": "x"}, format="json").status_code == 409
    assert api.post(url + "reject/", {"reason": ""}, format="json").status_code == 400
    assert api.post(url + "accept/").json()["status"] == "accepted"
    assert api.post(url + "verify/", {"substantiated": True, "findings": "属实"}, format="json").status_code == 200
    assert api.post(url + "handle/", {"action_taken": "处罚"}, format="json").json()["status"] == "handled"
    proposed = api.post(url + "reward/propose/", {"severity": "major"}, format="json")
    assert proposed.status_code == 201 and proposed.json()["status"] == "proposed"
    assert api.post(url + "reward/approve/").status_code == 403
    assert api.post(url + "reassign/", {"county": personas.county_b_region.code}, format="json").status_code == 403
    city = api_client(personas, "city")
    assert city.post(url + "reward/approve/").json()["status"] == "approved"
    paid = city.post(url + "reward/pay/", {"paid_on": "2026-03-02", "payment_ref": "ZF-9"}, format="json")
    assert paid.json()["status"] == "paid"
    assert api.post(url + "feedback/", {"feedback": "已查处"}, format="json").status_code == 200
    assert api.post(url + "close/").json()["status"] == "closed"
    assert Reward.objects.get().status == Reward.Status.PAID


def test_api_filters_overdue_reports(personas, two_reports, clock):
    services.accept(personas.city, two_reports["b"])
    clock.advance(days=4)
    rows = api_client(personas, "city").get("/api/v1/tipoffs/?overdue=true").json()["results"]
    assert [r["number"] for r in rows] == [two_reports["a"].number]
    assert rows[0]["is_overdue"] is True


def test_officers_run_the_loop_on_the_detail_page(client, personas, two_reports, clock):
    tipoff = two_reports["a"]
    client.force_login(personas.county_a)
    url = f"/tipoffs/{tipoff.pk}/"
    assert client.post(url, {"action": "verify", "verify-substantiated": "yes", "verify-findings": "x"}) \
        .status_code == 302
    assert Tipoff.objects.get(pk=tipoff.pk).status == Tipoff.Status.RECEIVED  # not available now
    client.post(url, {"action": "accept"})
    client.post(url, {"action": "verify", "verify-substantiated": "yes", "verify-findings": "属实"})
    page = client.get(url).content.decode()
    assert 'id="step-handle"' in page and "open a major hazard" in page
    client.post(url, {"action": "handle", "handle-action_taken": "处罚"})
    assert Tipoff.objects.get(pk=tipoff.pk).status == Tipoff.Status.HANDLED
    assert 'id="step-reward"' in client.get(url).content.decode()
    overdue = client.get("/tipoffs/?overdue=1").content.decode()
    assert tipoff.number not in overdue
    clock.advance(days=31)
    client.force_login(personas.county_a)  # the idle session expired meanwhile
    assert tipoff.number in client.get("/tipoffs/?overdue=1").content.decode()
