"""Who sees what: the role × endpoint matrix over every list, detail, export and API endpoint of the
third-party oversight, and the public blacklist without login; then the page and API flows with their
refusals (400 naming the field, 409 for a transition outside the table, 403/404 for outsiders)."""

import csv
import io
import re
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from minesafe.core.models import ReferenceCatalogue
from minesafe.thirdparty import services
from minesafe.thirdparty.models import (
    CaseAction,
    Check,
    Engagement,
    FalsificationCase,
    FalsifiedItem,
    Firm,
    Qualification,
)
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

from .factories import K, code, days, engage, firm, qualify

pytestmark = pytest.mark.django_db
R = Check.Result
OFFICIALS = {"city", "county_a", "county_b"}
ALL_FIRMS = {"city", "county_a", "county_b", "department"}


@pytest.fixture
def world(personas):
    """Three firms (active, blacklisted through a published case, suspended), an engagement of the active firm
    at every fixture mine with a published check, one unpublished check at mine_a, and a case under
    investigation opened by county B."""
    p = personas
    active = firm(p.city, "甲安全评价有限公司", 1, kinds=[K.SAFETY_EVALUATION, K.TESTING])
    qualify(p.city, active, number="A-1")
    qualify(p.city, active, kind=K.TESTING, number="A-2")
    listed = firm(p.city, "乙检测有限公司", 2, kinds=[K.TESTING])
    qualify(p.city, listed, kind=K.TESTING, number="B-1")
    paused = firm(p.city, "丙监理有限公司", 3, kinds=[K.SUPERVISION])
    qualify(p.city, paused, kind=K.SUPERVISION, number="C-1")
    engagements = {name: engage(p.city, getattr(p, name), active, report_date=days(-50)) for name in MINES}
    checks = {}
    for name, engagement in engagements.items():
        check = services.record_check(p.city, engagement, checked_on=days(-40), checkers="市局", result=R.DEFICIENCIES,
                                      findings=f"finding-{name}")
        services.publish_check(p.city, check)
        checks[name] = check
    hidden = services.record_check(p.city, engagements["mine_a"], checked_on=days(-30), checkers="市局",
                                   result=R.COMPLIANT)
    listed_work = engage(p.city, p.mine_a, listed, kind=K.TESTING, engaged_on=days(-200), report_date=days(-180))
    published = services.open_case(p.city, firm=listed, source="report", source_reference="举报 2026-01",
                                   falsified=[FalsifiedItem.DATA], description="内部描述-甲",
                                   mines=[p.mine_a, p.mine_b], opened_on=days(-100))
    services.confirm_case(p.city, published, findings="内部调查结论", confirmed_on=days(-90))
    services.close_case(p.city, published, actions=[CaseAction.BLACKLIST], decision="内部决定全文",
                        decided_on=days(-80), public_summary="出具虚假检测报告")
    services.publish_case(p.city, published)
    open_case = services.open_case(p.county_b, firm=active, source="report", source_reference="举报 2026-02",
                                   falsified=[FalsifiedItem.SIGNATURES], description="代签", mines=[p.mine_b])
    services.suspend_firm(p.city, paused, reason="内部原因-丙")
    return SimpleNamespace(p=p, active=active, listed=listed, paused=paused, engagements=engagements, checks=checks,
                           hidden=hidden, listed_work=listed_work, published=published, open_case=open_case)


def wrong_code(serial: int) -> str:
    right = code(serial)
    return right[:-1] + ("0" if right[-1] != "0" else "1")


def firms_seen(persona, w) -> set[int]:
    return {w.active.pk, w.listed.pk, w.paused.pk} if persona in ALL_FIRMS else {w.active.pk}


def engagement_mines(persona) -> set[str]:
    return set() if persona == "department" else SCOPE[persona]


def checks_seen(persona, w) -> set[int]:
    mines = engagement_mines(persona)
    seen = {w.checks[n].pk for n in mines}
    if "mine_a" in mines and persona in OFFICIALS:
        seen.add(w.hidden.pk)
    return seen


def cases_seen(persona, w) -> set[int]:
    return {"city": {w.published.pk, w.open_case.pk}, "county_a": {w.published.pk},
            "county_b": {w.published.pk, w.open_case.pk}, "ent_a": {w.published.pk}, "ent_b": {w.published.pk},
            }.get(persona, set())


def marked(html: str, attr: str) -> set[int]:
    return {int(v) for v in re.findall(rf'data-{attr}="(\d+)"', html)}


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# Firms -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_firm_pages_and_exports_show_what_the_persona_may_see(client, world, persona):
    web = web_client(client, world.p, persona)
    response = web.get("/thirdparty/firms/")
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert web.get(f"/thirdparty/firms/{world.active.pk}/").status_code == 302
        return
    assert marked(response.content.decode(), "firm") == firms_seen(persona, world)
    for f in (world.active, world.listed, world.paused):
        expected = 200 if f.pk in firms_seen(persona, world) else 404
        assert web.get(f"/thirdparty/firms/{f.pk}/").status_code == expected
    rows = csv_rows(web.get("/thirdparty/firms/export.csv"))
    assert {r[0] for r in rows[1:]} == {f.name for f in Firm.objects.filter(pk__in=firms_seen(persona, world))}
    assert ("Status" in rows[0]) == (persona in ALL_FIRMS)
    assert ("Engagements" in rows[0]) == (persona in OFFICIALS)  # the footprint, for those who see engagements
    book = load_workbook(io.BytesIO(web.get("/thirdparty/firms/export.xlsx").content))
    assert book.active.max_row == 1 + len(firms_seen(persona, world))
    assert web.get("/thirdparty/firms/export.pdf").status_code == 404


def test_the_enterprise_reads_public_fields_of_a_firm_only(client, world):
    services.update_firm(world.p.city, world.active, note="内部备注-甲")
    page = web_client(client, world.p, "ent_a").get(f"/thirdparty/firms/{world.active.pk}/").content.decode()
    assert "甲安全评价有限公司" in page and "A-1" in page  # qualifications are public
    assert "内部备注-甲" not in page and 'id="history"' not in page and 'id="audit"' not in page
    assert 'name="action"' not in page
    footprint = marked(page, "engagement")
    assert footprint == {world.engagements["mine_a"].pk, world.engagements["pond_a"].pk}  # its own only
    city_page = web_client(client, world.p, "city").get(f"/thirdparty/firms/{world.active.pk}/").content.decode()
    assert "内部备注-甲" in city_page and 'id="audit"' in city_page


@pytest.mark.parametrize(("persona", "code"), [("city", 200), ("county_a", 200), ("department", 200),
                                               ("ent_a", 403), ("inspector", 403), ("anonymous", 302)])
def test_the_qualification_expiry_lists_are_for_the_regulators(client, world, persona, code):
    qualify(world.p.city, world.paused, kind=K.SUPERVISION, valid_from=days(-2500), valid_to=days(-1100),
            number="C-0")  # an old certificate the current C-1 followed: not expired as the firm's current one
    soon = firm(world.p.city, "丁检测有限公司", 4, kinds=[K.TESTING])
    expiring = qualify(world.p.city, soon, kind=K.TESTING, valid_to=days(20), number="D-1")
    web = web_client(client, world.p, persona)
    response = web.get("/thirdparty/qualifications/")
    assert response.status_code == code
    assert web.get("/thirdparty/qualifications/export.csv").status_code == code
    if code == 200:
        assert marked(response.content.decode(), "qualification") == {expiring.pk}
        rows = csv_rows(web.get("/thirdparty/qualifications/export.csv"))
        assert [r[3] for r in rows[1:]] == ["D-1"]


# Engagements, checks and cases -------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_engagement_pages_and_exports_are_scoped(client, world, persona):
    web = web_client(client, world.p, persona)
    response = web.get("/thirdparty/engagements/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona == "department":
        assert response.status_code == 403
        assert web.get("/thirdparty/engagements/export.csv").status_code == 403
    else:
        mines = {getattr(world.p, n).pk for n in engagement_mines(persona)}
        expected = {e.pk for e in Engagement.objects.filter(mine_id__in=mines)}
        assert marked(response.content.decode(), "engagement") == expected
        rows = csv_rows(web.get("/thirdparty/engagements/export.csv"))
        assert len(rows) - 1 == len(expected)
        book = load_workbook(io.BytesIO(web.get("/thirdparty/engagements/export.xlsx").content))
        assert book.active.max_row - 1 == len(expected)
    for name, engagement in world.engagements.items():
        code = 200 if name in engagement_mines(persona) else 404
        assert web.get(f"/thirdparty/engagements/{engagement.pk}/").status_code == code


@pytest.mark.parametrize("persona", PERSONAS)
def test_check_pages_and_exports_are_scoped_and_unpublished_checks_stay_with_officials(client, world, persona):
    web = web_client(client, world.p, persona)
    response = web.get("/thirdparty/checks/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona == "department":
        assert response.status_code == 403 and web.get("/thirdparty/checks/export.xlsx").status_code == 403
        return
    expected = checks_seen(persona, world)
    assert marked(response.content.decode(), "check") == expected
    assert len(csv_rows(web.get("/thirdparty/checks/export.csv"))) - 1 == len(expected)
    for check in [*world.checks.values(), world.hidden]:
        assert web.get(f"/thirdparty/checks/{check.pk}/").status_code == (200 if check.pk in expected else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_case_pages_and_exports_are_scoped(client, world, persona):
    web = web_client(client, world.p, persona)
    response = web.get("/thirdparty/cases/")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona == "department":
        assert response.status_code == 403 and web.get("/thirdparty/cases/export.csv").status_code == 403
        return
    expected = cases_seen(persona, world)
    assert marked(response.content.decode(), "case") == expected
    rows = csv_rows(web.get("/thirdparty/cases/export.csv"))
    assert {r[0] for r in rows[1:]} == set(FalsificationCase.objects.filter(pk__in=expected).values_list(
        "number", flat=True))
    for case in (world.published, world.open_case):
        assert web.get(f"/thirdparty/cases/{case.pk}/").status_code == (200 if case.pk in expected else 404)


def test_a_published_case_shows_the_enterprise_its_own_mines_and_the_public_summary_only(client, world):
    page = web_client(client, world.p, "ent_a").get(f"/thirdparty/cases/{world.published.pk}/").content.decode()
    assert world.p.mine_a.name in page and world.p.mine_b.name not in page
    assert "出具虚假检测报告" in page
    assert "内部决定全文" not in page and "内部调查结论" not in page and "内部描述-甲" not in page
    rows = csv_rows(web_client(client, world.p, "ent_a").get("/thirdparty/cases/export.csv"))
    assert rows[1][4] == world.p.mine_a.name


# API ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_is_scoped_like_the_pages(world, persona):
    api = api_client(world.p, persona)
    endpoints = ["service-firms", "firm-qualifications", "firm-engagements", "firm-checks", "falsification-cases"]
    answers = {name: api.get(f"/api/v1/{name}/?limit=500") for name in endpoints}
    if persona == "anonymous":
        assert {a.status_code for a in answers.values()} == {403}
        return
    ids = {name: {row["id"] for row in a.json()["results"]} for name, a in answers.items()}
    assert ids["service-firms"] == firms_seen(persona, world)
    assert ids["firm-qualifications"] == set(Qualification.objects.filter(
        firm_id__in=firms_seen(persona, world)).values_list("pk", flat=True))
    mines = {getattr(world.p, n).pk for n in engagement_mines(persona)}
    assert ids["firm-engagements"] == set(Engagement.objects.filter(mine_id__in=mines).values_list("pk", flat=True))
    assert ids["firm-checks"] == checks_seen(persona, world)
    assert ids["falsification-cases"] == cases_seen(persona, world)
    assert api.get(f"/api/v1/service-firms/{world.listed.pk}/").status_code == (
        200 if persona in ALL_FIRMS else 404)
    listed_certificate = Qualification.objects.get(firm=world.listed)
    assert api.get(f"/api/v1/firm-qualifications/{listed_certificate.pk}/").status_code == (
        200 if persona in ALL_FIRMS else 404)
    for name, engagement in world.engagements.items():
        assert api.get(f"/api/v1/firm-engagements/{engagement.pk}/").status_code == (
            200 if name in engagement_mines(persona) else 404)
    assert api.get(f"/api/v1/firm-checks/{world.hidden.pk}/").status_code == (
        200 if world.hidden.pk in checks_seen(persona, world) else 404)
    assert api.get(f"/api/v1/falsification-cases/{world.open_case.pk}/").status_code == (
        200 if world.open_case.pk in cases_seen(persona, world) else 404)
    firm_row = api.get(f"/api/v1/service-firms/{world.active.pk}/").json()
    assert ("status_reason" in firm_row) == (persona in ALL_FIRMS)
    if world.published.pk in cases_seen(persona, world):
        case_row = api.get(f"/api/v1/falsification-cases/{world.published.pk}/").json()
        assert set(case_row["mines"]) == {getattr(world.p, n).pk for n in SCOPE[persona]} & {
            world.p.mine_a.pk, world.p.mine_b.pk}
        assert ("decision" in case_row) == (persona in OFFICIALS)


def test_exported_text_cannot_smuggle_a_spreadsheet_formula(client, personas):
    firm(personas.city, name="=HYPERLINK(\"http://x\")", serial=8)
    rows = csv_rows(web_client(client, personas, "city").get("/thirdparty/firms/export.csv"))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"


# The public blacklist ----------------------------------------------------------------------------
def test_the_public_blacklist_needs_no_login_and_shows_published_fields_only(client, world):
    response = client.get("/public/thirdparty/blacklist/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "乙检测有限公司" in page and code(2) in page and "出具虚假检测报告" in page
    assert world.published.number in page and "2029-09-11" in page  # listed on 2026-09-11 for 3 years
    assert "甲安全评价有限公司" not in page and "丙监理有限公司" not in page  # active, suspended
    assert "内部决定全文" not in page and "内部原因-丙" not in page
    rows = csv_rows(client.get("/public/thirdparty/blacklist.csv"))
    assert rows[0] == ["Firm", "Unified social credit code", "Kinds of service", "Listed on", "Listed until",
                       "Dishonest conduct (失信行为)", "Case number"]
    assert rows[1][0] == "乙检测有限公司" and len(rows) == 2

    catalogue = ReferenceCatalogue.objects.get(kind="thirdparty", active=True)
    catalogue.data["public_blacklist"]["fields"] = ["name", "status_reason", "note", "notice"]
    catalogue.save()
    rows = csv_rows(client.get("/public/thirdparty/blacklist.csv"))
    assert rows == [["Firm", "Dishonest conduct (失信行为)"], ["乙检测有限公司", "出具虚假检测报告"]]


def test_an_unpublished_case_number_stays_off_the_public_list(client, personas):
    listed = firm(personas.city)
    services.blacklist_firm(personas.city, listed, reason="内部", notice="冒用他人签字")
    rows = csv_rows(client.get("/public/thirdparty/blacklist.csv"))
    assert rows[1][-1] == "" and rows[1][-2] == "冒用他人签字"


# Page flows --------------------------------------------------------------------------------------
def test_an_official_registers_a_firm_and_its_qualification_on_the_pages(client, personas):
    web = web_client(client, personas, "county_a")
    bad = web.post("/thirdparty/firms/new/", {"name": "新机构", "credit_code": wrong_code(5), "kinds": ["design"]})
    assert bad.status_code == 200 and "Invalid unified social credit code" in bad.content.decode()
    assert not Firm.objects.exists()
    response = web.post("/thirdparty/firms/new/", {"name": "新机构", "credit_code": code(5), "kinds": ["design"]})
    made = Firm.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/thirdparty/firms/{made.pk}/"
    url = f"/thirdparty/firms/{made.pk}/"
    overlapping = {"action": "qualification", "qualification-kind": "design",
                   "qualification-certificate_number": "A113-1", "qualification-issuing_authority": "省住建厅",
                   "qualification-valid_from": "2024-01-01", "qualification-valid_to": "2028-12-31"}
    assert web.post(url, overlapping).status_code == 302
    again = web.post(url, {**overlapping, "qualification-certificate_number": "A113-2"})
    assert again.status_code == 200 and "overlaps certificate A113-1" in again.content.decode()
    assert Qualification.objects.count() == 1
    assert web.post(url, {"action": "suspend", "suspend-reason": "x"}).status_code == 302  # not offered to a county
    assert Firm.objects.get().status == Firm.Status.ACTIVE
    edit = web.post(f"/thirdparty/firms/{made.pk}/edit/", {"name": "新机构", "credit_code": code(5),
                                                          "kinds": ["design", "supervision"], "address": "承德"})
    assert edit.status_code == 302 and Firm.objects.get().kinds == ["design", "supervision"]


@pytest.mark.parametrize(("persona", "code_"), [("ent_a", 403), ("department", 403), ("inspector", 403)])
def test_readers_cannot_register_or_edit_firms(client, personas, persona, code_):
    made = firm(personas.city)
    web = web_client(client, personas, persona)
    assert web.get("/thirdparty/firms/new/").status_code == code_
    assert web.get(f"/thirdparty/firms/{made.pk}/edit/").status_code == code_
    assert web.post(f"/thirdparty/firms/{made.pk}/", {"action": "suspend", "suspend-reason": "x"}).status_code == 403


def test_the_enterprise_records_an_engagement_and_an_expired_qualification_is_refused(client, personas):
    made = firm(personas.city)
    qualify(personas.city, made, valid_from=days(-1500), valid_to=days(-61), number="OLD")
    web = web_client(client, personas, "ent_a")
    data = {"mine": personas.mine_a.pk, "firm": made.pk, "kind": "safety_evaluation", "engaged_on": "2026-11-01",
            "report_title": "安全现状评价报告"}
    refused = web.post("/thirdparty/engagements/new/", data)
    assert refused.status_code == 200 and "expired on 2026-09-30" in refused.content.decode()
    assert not Engagement.objects.exists()
    other = web.post("/thirdparty/engagements/new/", {**data, "mine": personas.mine_b.pk, "engaged_on": "2026-08-01"})
    assert other.status_code == 200 and not Engagement.objects.exists()  # another's mine is not a choice
    done = web.post("/thirdparty/engagements/new/", {**data, "engaged_on": "2026-08-01"})
    assert done.status_code == 302 and Engagement.objects.get().mine == personas.mine_a
    assert web_client(client, personas, "department").get("/thirdparty/engagements/new/").status_code == 403


def test_a_check_and_its_case_run_on_the_pages(client, personas):
    made = firm(personas.city)
    qualify(personas.city, made)
    engagement = engage(personas.ent_a, personas.mine_a, made, report_date=days(-50))
    county = web_client(client, personas, "county_a")
    url = f"/thirdparty/engagements/{engagement.pk}/"
    county.post(url, {"action": "check", "check-checked_on": "2026-11-20", "check-checkers": "县局",
                      "check-result": "falsification_suspected", "check-findings": "数据不符"})
    check = Check.objects.get()
    assert check.follow_up_due == days(5)  # the catalogue's 15 days for suspected falsification
    check_url = f"/thirdparty/checks/{check.pk}/"
    county.post(check_url, {"action": "case", "case-falsified": ["data"], "case-description": "编造数据"})
    case = FalsificationCase.objects.get()
    assert case.source_check == check and list(case.mines.all()) == [personas.mine_a]
    case_url = f"/thirdparty/cases/{case.pk}/"
    county.post(case_url, {"action": "confirm", "confirm-findings": "属实", "confirm-confirmed_on": "2026-11-30"})
    page = county.get(case_url).content.decode()
    assert 'value="blacklist"' not in page  # a county refers blacklisting to the city
    county.post(case_url, {"action": "close", "close-actions": ["blacklist"], "close-decision": "x",
                           "close-decided_on": "2026-11-30"})
    assert FalsificationCase.objects.get().status == FalsificationCase.Status.CONFIRMED
    city = web_client(client, personas, "city")
    city.post(case_url, {"action": "close", "close-actions": ["blacklist", "penalty_referral"],
                         "close-decision": "列入失信名单", "close-decided_on": "2026-11-30",
                         "close-public_summary": "编造检测数据"})
    assert Firm.objects.get().status == Firm.Status.BLACKLISTED
    city.post(case_url, {"action": "publish"})
    assert FalsificationCase.objects.get().published_at is not None
    other = web_client(client, personas, "county_b")
    assert other.post(case_url, {"action": "publish"}).status_code == 404
    assert other.post(check_url, {"action": "publish"}).status_code == 404


@pytest.mark.parametrize("persona", ["ent_a", "inspector"])
def test_mine_side_readers_cannot_post_steps(client, world, persona):
    web = web_client(client, world.p, persona)
    engagement = world.engagements["mine_a2" if persona == "inspector" else "mine_a"]
    check = world.checks["mine_a2" if persona == "inspector" else "mine_a"]
    assert web.post(f"/thirdparty/engagements/{engagement.pk}/", {"action": "check"}).status_code == 403
    assert web.post(f"/thirdparty/checks/{check.pk}/", {"action": "publish"}).status_code == 403
    assert Check.objects.count() == 5


# API flows ---------------------------------------------------------------------------------------
def test_the_api_refuses_bad_input_with_the_field_and_wrong_transitions_with_409(personas):
    city = api_client(personas, "city")
    bad = city.post("/api/v1/service-firms/", {"name": "x", "credit_code": wrong_code(7), "kinds": ["design"]},
                    format="json")
    assert bad.status_code == 400 and "check character" in bad.json()["credit_code"][0]
    made = city.post("/api/v1/service-firms/", {"name": "新机构", "credit_code": code(7), "kinds": ["testing"]},
                     format="json")
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    qualification = city.post(f"/api/v1/service-firms/{pk}/qualifications/", {
        "kind": "testing", "certificate_number": "T-1", "issuing_authority": "省厅", "valid_from": "2021-01-01",
        "valid_to": "2026-10-31"}, format="json")
    assert qualification.status_code == 201 and qualification.json()["state"] == "expired"
    overlap = city.post(f"/api/v1/service-firms/{pk}/qualifications/", {
        "kind": "testing", "certificate_number": "T-2", "issuing_authority": "省厅", "valid_from": "2026-10-01",
        "valid_to": "2026-09-30"}, format="json")
    assert overlap.status_code == 400 and "valid_to" in overlap.json()
    engagement = api_client(personas, "ent_a").post("/api/v1/firm-engagements/", {
        "mine": personas.mine_a.pk, "firm": pk, "kind": "testing", "engaged_on": "2026-11-10",
        "report_title": "提升机检测报告"}, format="json")
    assert engagement.status_code == 400 and "expired on 2026-10-31" in engagement.json()["firm"][0]
    assert city.post(f"/api/v1/service-firms/{pk}/reinstate/", {"reason": "x"}, format="json").status_code == 409
    assert api_client(personas, "county_a").post(f"/api/v1/service-firms/{pk}/suspend/", {"reason": "x"},
                                                 format="json").status_code == 403
    listed = city.post(f"/api/v1/service-firms/{pk}/blacklist/", {"reason": "内部", "notice": "公示"}, format="json")
    assert listed.status_code == 200 and listed.json()["status"] == "blacklisted"
    assert api_client(personas, "ent_a").get(f"/api/v1/service-firms/{pk}/").status_code == 404
    expired = city.get("/api/v1/firm-qualifications/?state=expired").json()["results"]
    assert expired == []  # blacklisted firms leave the expiry lists


def test_the_api_runs_a_check_and_a_case_and_hides_other_counties_records(personas):
    made = firm(personas.city)
    qualify(personas.city, made)
    engagement = engage(personas.ent_a, personas.mine_a, made, report_date=days(-50))
    county_b = api_client(personas, "county_b")
    outside = county_b.post("/api/v1/firm-checks/", {"engagement": engagement.pk, "checked_on": "2026-11-20",
                                                      "checkers": "x", "result": "compliant"}, format="json")
    assert outside.status_code == 400 and "engagement" in outside.json()
    county = api_client(personas, "county_a")
    check = county.post("/api/v1/firm-checks/", {"engagement": engagement.pk, "checked_on": "2026-11-20",
                                                  "checkers": "县局", "result": "deficiencies", "findings": "缺记录"},
                        format="json")
    assert check.status_code == 201 and check.json()["follow_up_due"] == "2026-12-20"
    check_id = check.json()["id"]
    assert county_b.post(f"/api/v1/firm-checks/{check_id}/publish/").status_code == 404
    assert county.post(f"/api/v1/firm-checks/{check_id}/publish/").json()["published_at"]
    assert county.post(f"/api/v1/firm-checks/{check_id}/publish/").status_code == 409
    closed = county.post(f"/api/v1/firm-checks/{check_id}/follow-up/", {"followed_up_on": "2026-11-29",
                                                                        "note": "已补正"}, format="json")
    assert closed.json()["status"] == "closed"
    case = county.post("/api/v1/falsification-cases/", {"source": "check", "source_check": check_id,
                                                        "falsified": ["data"], "description": "x"}, format="json")
    assert case.status_code == 201 and case.json()["mines"] == [personas.mine_a.pk]
    case_id = case.json()["id"]
    assert county.post(f"/api/v1/falsification-cases/{case_id}/close/", {"actions": ["warning"], "decision": "x"},
                       format="json").status_code == 409
    assert county.post(f"/api/v1/falsification-cases/{case_id}/confirm/", {"findings": "属实"},
                       format="json").json()["status"] == "confirmed"
    refused = county.post(f"/api/v1/falsification-cases/{case_id}/close/", {"actions": ["blacklist"], "decision": "x",
                                                                           "public_summary": "y"}, format="json")
    assert refused.status_code == 403
    closed = county.post(f"/api/v1/falsification-cases/{case_id}/close/", {"actions": ["warning"], "decision": "约谈"},
                         format="json")
    assert closed.status_code == 200 and closed.json()["actions"] == ["warning"]
    assert api_client(personas, "ent_a").get(f"/api/v1/falsification-cases/{case_id}/").status_code == 404
    county.post(f"/api/v1/falsification-cases/{case_id}/publish/")
    public = api_client(personas, "ent_a").get(f"/api/v1/falsification-cases/{case_id}/").json()
    assert "description" not in public and public["mines"] == [personas.mine_a.pk]
