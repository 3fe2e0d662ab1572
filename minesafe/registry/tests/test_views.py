"""Registry web pages: the filtered mine list, detail with history and audit trail, editing, status and
monthly-ledger forms, the ledger import page with its error report, the public leaders page and language."""

import datetime as dt
import io
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from minesafe.core.models import AuditEvent
from minesafe.registry import excel, services, views
from minesafe.registry.forms import MineForm, fields_for
from minesafe.registry.models import Enterprise, LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.tests.workbooks import NEW_CREDIT_A, good_row, workbook


def browser(user=None, language: str = "en") -> Client:
    client = Client()
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    if user is not None:
        client.force_login(user)
    return client


def listed_codes(response) -> set[str]:
    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="mine-table"'):]
    table = table[:table.index("</table>")]
    return set(re.findall(r"<tr>\s*<td>([^<]+)</td>", table))


def section(html: str, heading: str) -> str:
    """The card section whose <h2> is `heading` (pages rendered in English)."""
    for part in html.split('<section class="card"'):
        if f"<h2>{heading}</h2>" in part:
            return part
    raise AssertionError(f"no section {heading!r}")


def messages_of(response) -> list[tuple[str, str]]:
    html = response.content.decode()
    return re.findall(r'<li class="msg-(\w+)">(.*?)</li>', html, flags=re.S)


def last_month() -> dt.date:
    return services.add_months(timezone.localdate().replace(day=1), -1)


# Mine list -----------------------------------------------------------------------------------------
ALL = {"KC-001", "KC-002", "KC-T01", "XL-001"}


@pytest.mark.parametrize("query, expected", [
    ({}, ALL),
    ({"county": "130827"}, {"KC-001", "KC-002", "KC-T01"}),
    ({"county": "130822"}, {"XL-001"}),
    ({"mine_type": "tailings_pond"}, {"KC-T01"}),
    ({"mine_type": "open_pit"}, {"XL-001"}),
    ({"scale_class": "medium"}, {"KC-001"}),
    ({"scale_class": "large"}, {"XL-001"}),
    ({"q": "金矿"}, {"KC-002"}),
    ({"q": "尾矿库"}, {"KC-T01"}),
    ({"q": "xl-0"}, {"XL-001"}),
    ({"county": "130827", "mine_type": "underground"}, {"KC-001", "KC-002"}),
])
def test_mine_list_filters(personas, query, expected):
    assert listed_codes(browser(personas.city).get("/mines/", query)) == expected


def test_mine_list_filters_by_status(personas):
    services.change_status(personas.city, personas.mine_a2, "suspended", reason="整改")
    client = browser(personas.city)
    assert listed_codes(client.get("/mines/", {"status": "suspended"})) == {"KC-002"}
    assert listed_codes(client.get("/mines/", {"status": "producing"})) == {"KC-001", "KC-T01", "XL-001"}


def test_mine_list_filters_overdue_ledgers(personas):
    Mine.objects.filter(pk=personas.mine_a.pk).update(ledger_due_date=timezone.localdate() - dt.timedelta(days=3))
    client = browser(personas.city)
    response = client.get("/mines/", {"overdue": "true"})
    assert listed_codes(response) == {"KC-001"}
    assert listed_codes(client.get("/mines/", {"overdue": "false"})) == ALL - {"KC-001"}


def test_mine_list_is_scoped_whatever_the_filter(personas):
    client = browser(personas.county_a)
    assert listed_codes(client.get("/mines/")) == {"KC-001", "KC-002", "KC-T01"}
    assert listed_codes(client.get("/mines/", {"county": "130822"})) == set()
    assert listed_codes(browser(personas.ent_a).get("/mines/")) == {"KC-001", "KC-T01"}


def test_mine_list_needs_login(personas):
    response = browser().get("/mines/")
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


# Detail --------------------------------------------------------------------------------------------
def test_detail_shows_the_status_history_and_audit_trail(personas):
    mine = personas.mine_a
    services.update_mine(personas.county_a, mine, {"licence_no": "冀FM安许证字-7788"})
    services.change_status(personas.county_a, mine, "suspended", reason="设备检修停产")

    response = browser(personas.county_a).get(f"/mines/{mine.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    history = section(html, "Status history")
    assert "设备检修停产" in history
    assert "Production suspended" in history
    trail = section(html, "Audit trail")
    assert "冀FM安许证字-7788" in trail
    assert trail.count("<tr><td>") == AuditEvent.objects.filter(object_type="registry.mine",
                                                                object_id=str(mine.pk)).count() == 3


def test_detail_links_to_the_mines_hazards_and_monitoring(personas):
    mine = personas.mine_a
    html = browser(personas.ent_a).get(f"/mines/{mine.pk}/").content.decode()
    assert f'href="/hazards/?mine={mine.pk}"' in html and f'href="/monitoring/mines/{mine.pk}/"' in html
    hazards = browser(personas.ent_a).get(f"/hazards/?mine={mine.pk}")
    assert hazards.status_code == 200


def test_detail_of_a_mine_outside_scope_is_404(personas):
    assert browser(personas.county_b).get(f"/mines/{personas.mine_a.pk}/").status_code == 404
    assert browser(personas.ent_b).get(f"/mines/{personas.mine_a.pk}/edit/").status_code == 404


# Edit ----------------------------------------------------------------------------------------------
def form_data(mine: Mine, user, **changes) -> dict:
    """What the edit form, as the page renders it from the database, posts when the user changes only `changes`."""
    mine = Mine.objects.get(pk=mine.pk)
    form = MineForm(instance=mine, field_names=fields_for(mine.mine_type, user, mine))
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    data.update(changes)
    return data


def test_county_edits_the_licence_and_the_change_is_audited(personas):
    mine = personas.mine_a
    client = browser(personas.county_a)
    page = client.get(f"/mines/{mine.pk}/edit/")
    assert page.status_code == 200
    assert 'name="licence_no"' in page.content.decode()

    response = client.post(f"/mines/{mine.pk}/edit/", form_data(mine, personas.county_a, licence_no="KC-LIC-2026"))

    assert response.status_code == 302
    assert response.url == f"/mines/{mine.pk}/"
    mine.refresh_from_db()
    assert mine.licence_no == "KC-LIC-2026"
    event = AuditEvent.objects.filter(action="update", object_id=str(mine.pk)).get()
    assert (event.actor_id, event.before, event.after) == (personas.county_a.pk, {"licence_no": ""},
                                                          {"licence_no": "KC-LIC-2026"})


def test_retyping_a_number_without_trailing_zeros_is_not_recorded_as_a_change(personas):
    mine = personas.mine_a  # design capacity 40, shown on the form as 40.00
    response = browser(personas.county_a).post(f"/mines/{mine.pk}/edit/",
                                                form_data(mine, personas.county_a, design_capacity="40"))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.design_capacity == 40
    assert not AuditEvent.objects.filter(action="update", object_id=str(mine.pk)).exists()


def test_edit_with_a_cross_field_error_shows_it_and_saves_nothing(personas):
    mine = personas.mine_a
    data = form_data(mine, personas.county_a, standard_grade="1", standard_date="")
    response = browser(personas.county_a).post(f"/mines/{mine.pk}/edit/", data)
    assert response.status_code == 200
    assert "required when a standardisation grade is given" in response.content.decode()
    mine.refresh_from_db()
    assert mine.standard_grade is None
    assert not AuditEvent.objects.filter(action="update", object_id=str(mine.pk)).exists()


def test_enterprise_is_not_offered_the_licence_field(personas):
    mine = personas.mine_a
    page = browser(personas.ent_a).get(f"/mines/{mine.pk}/edit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="licence_no"' not in html
    assert 'name="people_underground"' in html


def test_enterprise_posting_a_licence_changes_only_its_own_fields(personas):
    mine = personas.mine_a
    data = form_data(mine, personas.ent_a, people_underground="18")
    data["licence_no"] = "FORGED-1"
    response = browser(personas.ent_a).post(f"/mines/{mine.pk}/edit/", data)
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.licence_no == ""
    assert mine.people_underground == 18


def test_department_may_not_edit(personas):
    assert browser(personas.department).get(f"/mines/{personas.mine_a.pk}/edit/").status_code == 403


# Registering a mine ----------------------------------------------------------------------------------
def create_data(personas, **overrides) -> dict:
    data = {"code": "KC-400", "name": "宽城新铁矿", "mine_type": "underground", "county": personas.county_a_region.pk,
            "enterprise_name": "宽城新建矿业有限公司", "credit_code": NEW_CREDIT_A, "status": "producing",
            "status_since": "", "mineral": "铁矿", "design_capacity": "150", "intelligent_level": "none"}
    data.update(overrides)
    return data


def test_registration_page_asks_for_number_county_enterprise_and_status(personas):
    response = browser(personas.county_a).get("/mines/new/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("code", "name", "mine_type", "county", "enterprise_name", "credit_code", "status", "status_since"):
        assert f'name="{name}"' in html, name


def test_county_registers_a_mine_through_the_page(personas):
    response = browser(personas.county_a).post("/mines/new/", create_data(personas))
    mine = Mine.objects.get(code="KC-400")
    assert response.status_code == 302
    assert response.url == f"/mines/{mine.pk}/"
    assert (mine.county, mine.scale_class, mine.enterprise.credit_code) == (personas.county_a_region, "large",
                                                                            NEW_CREDIT_A)


def test_county_may_not_register_a_mine_in_another_county_through_the_page(personas):
    response = browser(personas.county_b).post("/mines/new/", create_data(personas))
    assert response.status_code == 200
    assert not Mine.objects.filter(code="KC-400").exists()
    assert not Enterprise.objects.filter(credit_code=NEW_CREDIT_A).exists()


def test_registering_a_duplicate_number_shows_the_error_and_leaves_no_new_enterprise(personas):
    response = browser(personas.county_a).post("/mines/new/", create_data(personas, code="KC-001"))
    assert response.status_code == 200
    assert "registry number KC-001 is already used" in response.content.decode()
    assert Mine.objects.get(code="KC-001") == personas.mine_a
    assert not Enterprise.objects.filter(credit_code=NEW_CREDIT_A).exists()


def test_enterprise_may_not_register_mines(personas):
    assert browser(personas.ent_a).get("/mines/new/").status_code == 403


# Status change and monthly ledger forms ------------------------------------------------------------
def test_status_change_through_the_page(personas):
    mine = personas.mine_a
    response = browser(personas.county_a).post(f"/mines/{mine.pk}/status/",
                                               {"status": "suspended", "reason": "设备检修", "effective_date": ""},
                                               follow=True)
    assert response.status_code == 200
    assert [kind for kind, _ in messages_of(response)] == ["success"]
    mine.refresh_from_db()
    assert mine.status == "suspended"
    assert MineStatusChange.objects.filter(mine=mine, new_status="suspended", reason="设备检修").exists()


@pytest.mark.parametrize("data", [
    {"status": "suspended", "reason": "", "effective_date": ""},
    {"status": "suspended", "reason": "检修", "effective_date": "2099-01-01"},
    {"status": "closed", "reason": "企业申请"},  # not a choice for an enterprise
], ids=["empty reason", "future date", "transition not allowed for the role"])
def test_bad_status_change_shows_an_error_and_changes_nothing(personas, data):
    mine = personas.mine_a
    changes = MineStatusChange.objects.count()
    response = browser(personas.ent_a).post(f"/mines/{mine.pk}/status/", data, follow=True)
    assert response.status_code == 200
    assert [kind for kind, _ in messages_of(response)] == ["error"]
    mine.refresh_from_db()
    assert mine.status == "producing"
    assert MineStatusChange.objects.count() == changes


def test_status_change_needs_post(personas):
    assert browser(personas.county_a).get(f"/mines/{personas.mine_a.pk}/status/").status_code == 405


def test_monthly_ledger_through_the_page(personas):
    mine = personas.mine_a
    period = last_month()
    response = browser(personas.ent_a).post(f"/mines/{mine.pk}/ledger/",
                                            {"period": period.strftime("%Y-%m"), "people_underground": "14"},
                                            follow=True)
    assert [kind for kind, _ in messages_of(response)] == ["success"]
    submission = LedgerSubmission.objects.get(mine=mine)
    assert (submission.period, submission.people_underground) == (period, 14)
    assert period.strftime("%Y-%m") in section(response.content.decode(), "Monthly ledger")


@pytest.mark.parametrize("period", [
    lambda: services.add_months(timezone.localdate().replace(day=1), 1).strftime("%Y-%m"),
    lambda: "2024-13",
    lambda: "",
], ids=["future month", "no such month", "empty"])
def test_bad_monthly_ledger_shows_an_error_and_changes_nothing(personas, period):
    mine = personas.mine_a
    response = browser(personas.ent_a).post(f"/mines/{mine.pk}/ledger/", {"period": period()}, follow=True)
    assert [kind for kind, _ in messages_of(response)] == ["error"]
    assert not LedgerSubmission.objects.exists()
    mine.refresh_from_db()
    assert mine.last_ledger_period is None


def test_future_month_error_names_the_problem(personas):
    future = services.add_months(timezone.localdate().replace(day=1), 1).strftime("%Y-%m")
    response = browser(personas.ent_a).post(f"/mines/{personas.mine_a.pk}/ledger/", {"period": future}, follow=True)
    assert "report a month once it has ended" in messages_of(response)[0][1]


def test_monthly_ledger_twice_for_one_month_is_refused(personas):
    mine = personas.mine_a
    client = browser(personas.ent_a)
    data = {"period": last_month().strftime("%Y-%m")}
    client.post(f"/mines/{mine.pk}/ledger/", data, follow=True)
    response = client.post(f"/mines/{mine.pk}/ledger/", data, follow=True)
    assert [kind for kind, _ in messages_of(response)] == ["error"]
    assert LedgerSubmission.objects.filter(mine=mine).count() == 1


# Ledger import page --------------------------------------------------------------------------------
def upload(client, data: bytes, name: str = "ledger.xlsx"):
    file = SimpleUploadedFile(name, data, content_type=excel.XLSX_CONTENT_TYPE)
    return client.post("/ledger/import/", {"file": file})


@pytest.fixture
def report_tokens():
    """Error reports the tests cause are removed from var/ afterwards."""
    tokens: list[str] = []
    yield tokens
    for token in tokens:
        (views.REPORT_DIR / f"{token}.xlsx").unlink(missing_ok=True)


def test_good_import_through_the_page(personas):
    response = upload(browser(personas.county_a), workbook([good_row("KC-300"), good_row("KC-301")]))
    assert response.status_code == 302
    assert Mine.objects.filter(code__in=["KC-300", "KC-301"]).count() == 2


def test_bad_import_lists_the_errors_and_offers_a_report_only_to_the_uploader(personas, report_tokens):
    mines = Mine.objects.count()
    client = browser(personas.county_a)

    response = upload(client, workbook([good_row("KC-300"), good_row("KC-301", county="火星县")]))
    report_tokens.extend(client.session.get("import_reports", []))

    assert response.status_code == 200
    html = response.content.decode()
    errors = html[html.index('id="import-errors"'):]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td>", errors)
    assert rows == [("3", "所属县区", "火星县")]
    links = re.findall(r'href="(/ledger/import/report/(\w+)\.xlsx)"', errors)
    assert len(links) == 1
    url, token = links[0]
    assert token in report_tokens
    assert Mine.objects.count() == mines

    report = client.get(url)
    assert report.status_code == 200
    assert report["Content-Type"] == excel.XLSX_CONTENT_TYPE
    ws = load_workbook(io.BytesIO(b"".join(report.streaming_content))).worksheets[0]
    assert [c.value for c in ws[1]][:2] == ["行号", "错误"]
    assert ws.cell(row=2, column=1).value == 3  # the bad row, with its problem
    assert "所属县区" in ws.cell(row=2, column=2).value

    assert browser(personas.county_b).get(url).status_code == 404
    assert browser(personas.city).get(url).status_code == 404


def test_file_error_is_shown_on_the_import_page(personas, report_tokens):
    client = browser(personas.county_a)
    response = upload(client, workbook([good_row("KC-300")]), name="ledger.xls")
    assert response.status_code == 200
    html = response.content.decode()
    assert "only .xlsx files are accepted" in html[html.index('id="import-errors"'):]
    report_tokens.extend(client.session.get("import_reports", []))
    assert not Mine.objects.filter(code="KC-300").exists()


def test_unknown_report_token_is_404(personas):
    assert browser(personas.county_a).get("/ledger/import/report/0123456789abcdef.xlsx").status_code == 404


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector"])
def test_import_page_is_for_regulators_only(personas, persona):
    assert browser(getattr(personas, persona)).get("/ledger/import/").status_code == 403


def test_import_template_download(personas):
    response = browser(personas.county_a).get("/ledger/import/template.xlsx")
    assert response.status_code == 200
    header = [c.value for c in load_workbook(io.BytesIO(response.content)).worksheets[0][1]]
    assert header[0] == "矿山编号"


def test_export_download_follows_the_list_filters(personas):
    response = browser(personas.county_a).get("/mines/export.xlsx", {"mine_type": "underground"})
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["KC-001", "KC-002"]


# Public leaders ------------------------------------------------------------------------------------
def test_public_leaders_page_needs_no_login_and_hides_phone_numbers(personas):
    services.assign_leader(personas.city, personas.mine_a, name="王包保", post="宽城县副县长", level="county",
                           start_date=dt.date(2024, 1, 1), phone="13900000000")
    services.assign_leader(personas.city, personas.mine_b, name="李包保", post="兴隆县副县长", level="county",
                           start_date=dt.date(2024, 1, 1), phone="13900000001")
    client = browser()

    response = client.get("/public/leaders/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "王包保" in html and "李包保" in html
    assert "宽城甲铁矿" in html
    assert "1390000000" not in html
    only_b = client.get("/public/leaders/", {"county": "130822"}).content.decode()
    assert "李包保" in only_b and "王包保" not in only_b


# Language ------------------------------------------------------------------------------------------
def test_pages_are_chinese_by_default_and_switch_to_english(reference):
    client = Client()
    assert 'lang="zh-hans"' in client.get("/public/leaders/").content.decode()

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/public/leaders/"})
    assert response.status_code == 302

    assert 'lang="en"' in client.get("/public/leaders/").content.decode()
