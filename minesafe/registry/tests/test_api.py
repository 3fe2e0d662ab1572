"""REST API at /api/v1/: scoped mine CRUD, the status machine, the monthly ledger, Excel import/export,
leaders (public and scoped), the OpenAPI schema and docs, and the mine list's query budget."""

import datetime as dt
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from minesafe.core.models import AuditEvent, Organisation
from minesafe.core.validators import credit_code_check_char
from minesafe.registry import excel, services
from minesafe.registry.models import Enterprise, LedgerSubmission, Mine, MineStatusChange
from minesafe.registry.tests.workbooks import NEW_CREDIT_A, good_row, workbook

MINES = "/api/v1/mines/"
XLSX = excel.XLSX_CONTENT_TYPE


def credit_code(prefix17: str) -> str:
    return prefix17 + credit_code_check_char(prefix17)




def api(user=None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def counts() -> dict:
    return {"mines": Mine.objects.count(), "enterprises": Enterprise.objects.count(),
            "organisations": Organisation.objects.count(), "events": AuditEvent.objects.count(),
            "status_changes": MineStatusChange.objects.count(), "ledger": LedgerSubmission.objects.count()}


def create_payload(**overrides) -> dict:
    payload = {"code": "KC-200", "name": "宽城新铁矿", "mine_type": "underground", "county": "130827",
               "enterprise_name": "宽城新建矿业有限公司", "credit_code": NEW_CREDIT_A, "mineral": "铁矿",
               "design_capacity": "150"}
    payload.update(overrides)
    return payload


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def last_month() -> dt.date:
    return services.add_months(month_start(timezone.localdate()), -1)


# Create --------------------------------------------------------------------------------------------
def test_county_creates_a_mine_in_its_own_county(personas):
    response = api(personas.county_a).post(MINES, create_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["county"], body["scale_class"], body["status"]) == (
        "KC-200", "130827", "large", "producing")
    assert body["enterprise"]["credit_code"] == NEW_CREDIT_A
    mine = Mine.objects.get(code="KC-200")
    assert mine.county == personas.county_a_region
    assert AuditEvent.objects.filter(action="create", object_type="registry.mine", object_id=str(mine.pk)).exists()


def test_county_may_not_create_a_mine_in_another_county(personas):
    before = counts()
    response = api(personas.county_b).post(MINES, create_payload(), format="json")
    assert response.status_code == 403
    assert counts() == before


def test_county_may_not_create_in_another_county_even_for_a_known_enterprise(personas):
    payload = create_payload(enterprise_name=personas.enterprise_a.name,
                             credit_code=personas.enterprise_a.credit_code)
    before = counts()
    response = api(personas.county_b).post(MINES, payload, format="json")
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector"])
def test_only_regulators_create_mines(personas, persona):
    response = api(getattr(personas, persona)).post(MINES, create_payload(), format="json")
    assert response.status_code == 403
    assert not Mine.objects.filter(code="KC-200").exists()


def test_anonymous_cannot_use_the_mine_api(personas):
    assert api().get(MINES).status_code in (401, 403)
    assert api().post(MINES, create_payload(), format="json").status_code in (401, 403)
    assert not Mine.objects.filter(code="KC-200").exists()


def test_create_with_a_bad_credit_code_is_400_naming_the_field(personas):
    bad = NEW_CREDIT_A[:17] + ("1" if NEW_CREDIT_A[17] != "1" else "2")
    response = api(personas.city).post(MINES, create_payload(credit_code=bad), format="json")
    assert response.status_code == 400
    assert "credit_code" in response.json()
    assert not Mine.objects.filter(code="KC-200").exists()


def test_create_with_a_duplicate_registry_number_is_409_duplicate(personas):
    payload = create_payload(code="KC-001", enterprise_name=personas.enterprise_a.name,
                             credit_code=personas.enterprise_a.credit_code)
    before = counts()
    response = api(personas.city).post(MINES, payload, format="json")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["field"]) == ("duplicate", "code")
    assert body["detail"]
    assert counts() == before


def test_create_breaking_a_cross_field_rule_is_400_naming_the_field(personas):
    response = api(personas.city).post(MINES, create_payload(mine_type="open_pit", people_underground=5),
                                       format="json")
    assert response.status_code == 400
    assert "people_underground" in response.json()


@pytest.mark.parametrize("overrides, status", [
    ({"code": "KC-001"}, 409),  # duplicate registry number
    ({"mine_type": "open_pit", "people_underground": 5}, 400),  # cross-field rule
])
def test_a_rejected_create_leaves_no_new_enterprise_behind(personas, overrides, status):
    before = counts()
    response = api(personas.city).post(MINES, create_payload(**overrides), format="json")
    assert response.status_code == status
    assert not Enterprise.objects.filter(credit_code=NEW_CREDIT_A).exists()
    assert counts() == before


# Update --------------------------------------------------------------------------------------------
def test_enterprise_may_patch_its_own_operational_fields(personas):
    mine = personas.mine_a
    response = api(personas.ent_a).patch(f"{MINES}{mine.pk}/", {"people_underground": 25}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["people_underground"] == 25
    mine.refresh_from_db()
    assert mine.people_underground == 25
    event = AuditEvent.objects.filter(action="update", object_id=str(mine.pk)).get()
    assert event.after == {"people_underground": 25}
    assert event.actor_id == personas.ent_a.pk


def test_enterprise_may_not_patch_the_licence(personas):
    mine = personas.mine_a
    before = counts()
    response = api(personas.ent_a).patch(f"{MINES}{mine.pk}/", {"licence_no": "（冀）FM安许证字〔2099〕1号"},
                                         format="json")
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.licence_no == ""
    assert counts() == before


def test_county_may_patch_the_licence_of_its_mine(personas):
    mine = personas.mine_a
    response = api(personas.county_a).patch(f"{MINES}{mine.pk}/", {"licence_no": "KC-LIC-1"}, format="json")
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.licence_no == "KC-LIC-1"


def test_patching_a_mine_outside_scope_is_404(personas):
    mine = personas.mine_b
    response = api(personas.county_a).patch(f"{MINES}{mine.pk}/", {"licence_no": "X"}, format="json")
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.licence_no == ""


def test_patch_breaking_a_cross_field_rule_is_400_and_changes_nothing(personas):
    pond = personas.pond_a
    response = api(personas.city).patch(f"{MINES}{pond.pk}/", {"people_underground": 5}, format="json")
    assert response.status_code == 400
    assert "people_underground" in response.json()
    pond.refresh_from_db()
    assert pond.people_underground is None


def test_patch_cannot_change_status_outside_the_state_machine(personas):
    mine = personas.mine_a
    api(personas.city).patch(f"{MINES}{mine.pk}/", {"status": "closed"}, format="json")
    mine.refresh_from_db()
    assert mine.status == "producing"
    assert not MineStatusChange.objects.filter(mine=mine, new_status="closed").exists()


def test_put_is_not_offered(personas):
    response = api(personas.city).put(f"{MINES}{personas.mine_a.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 405


# Status transitions --------------------------------------------------------------------------------
def transition(client, mine, **data):
    return client.post(f"{MINES}{mine.pk}/transition/", data, format="json")


def test_enterprise_may_suspend_its_mine_but_not_resume_it(personas):
    mine = personas.mine_a
    client = api(personas.ent_a)
    response = transition(client, mine, status="suspended", reason="设备检修")
    assert response.status_code == 201, response.content
    assert (response.json()["old_status"], response.json()["new_status"]) == ("producing", "suspended")
    mine.refresh_from_db()
    assert mine.status == "suspended"

    response = transition(client, mine, status="producing", reason="检修完毕")
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.status == "suspended"


def test_a_suspended_mine_resumes_only_through_acceptance(personas):
    mine = personas.mine_a
    assert transition(api(personas.ent_a), mine, status="suspended", reason="设备检修").status_code == 201
    response = transition(api(personas.county_a), mine, status="producing", reason="验收合格")
    assert response.status_code == 409 and "resumption acceptance" in response.json()["detail"]
    mine.refresh_from_db()
    assert mine.status == "suspended"


def test_an_impossible_transition_is_409_naming_status(personas):
    mine = personas.mine_a
    services.change_status(personas.city, mine, "closed", reason="资源枯竭")
    before = counts()
    response = transition(api(personas.city), mine, status="producing", reason="重新开采")
    assert response.status_code == 409
    body = response.json()
    assert body["field"] == "status"
    assert body["code"] == "invalid_transition"
    assert body["detail"]
    mine.refresh_from_db()
    assert mine.status == "closed"
    assert counts() == before


def test_a_transition_without_reason_is_400(personas):
    mine = personas.mine_a
    response = transition(api(personas.county_a), mine, status="suspended")
    assert response.status_code == 400
    assert "reason" in response.json()
    mine.refresh_from_db()
    assert mine.status == "producing"


def test_a_transition_with_a_future_date_is_400(personas):
    mine = personas.mine_a
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = transition(api(personas.county_a), mine, status="suspended", reason="检修", effective_date=future)
    assert response.status_code == 400
    assert "effective_date" in response.json()
    mine.refresh_from_db()
    assert mine.status == "producing"


def test_transition_on_a_mine_outside_scope_is_404(personas):
    response = transition(api(personas.ent_b), personas.mine_a, status="suspended", reason="x")
    assert response.status_code == 404
    personas.mine_a.refresh_from_db()
    assert personas.mine_a.status == "producing"


# Monthly ledger ------------------------------------------------------------------------------------
def test_monthly_ledger_is_accepted_once_per_month(personas):
    mine = personas.mine_a
    client = api(personas.ent_a)
    url = f"{MINES}{mine.pk}/ledger/"
    period = last_month().isoformat()

    response = client.post(url, {"period": period, "people_underground": 12}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["period"] == period
    mine.refresh_from_db()
    assert mine.last_ledger_period == last_month()
    assert mine.people_underground == 12

    response = client.post(url, {"period": period}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert LedgerSubmission.objects.filter(mine=mine).count() == 1


def test_monthly_ledger_for_a_future_month_is_400(personas):
    mine = personas.mine_a
    future = services.add_months(month_start(timezone.localdate()), 1).isoformat()
    response = api(personas.ent_a).post(f"{MINES}{mine.pk}/ledger/", {"period": future}, format="json")
    assert response.status_code == 400
    assert "period" in response.json()
    assert not LedgerSubmission.objects.filter(mine=mine).exists()


def test_monthly_ledger_for_a_closed_mine_is_409(personas):
    mine = personas.mine_a
    services.change_status(personas.city, mine, "closed", reason="资源枯竭")
    response = api(personas.city).post(f"{MINES}{mine.pk}/ledger/", {"period": last_month().isoformat()},
                                       format="json")
    assert response.status_code == 409
    assert not LedgerSubmission.objects.filter(mine=mine).exists()


def test_ledger_submissions_list_is_scoped(personas):
    for mine in (personas.mine_a, personas.mine_b):
        services.submit_monthly_ledger(personas.city, mine, last_month())
    results = api(personas.county_b).get("/api/v1/ledger-submissions/").json()["results"]
    assert [r["mine"] for r in results] == [personas.mine_b.pk]


# History and status changes ------------------------------------------------------------------------
def test_history_lists_the_mine_audit_trail_newest_first(personas):
    mine = personas.mine_a
    services.update_mine(personas.city, mine, {"licence_no": "KC-LIC-1"})
    response = api(personas.county_a).get(f"{MINES}{mine.pk}/history/")
    assert response.status_code == 200
    events = response.json()
    assert [e["action"] for e in events] == ["update", "create"]
    assert events[0]["after"] == {"licence_no": "KC-LIC-1"}
    assert api(personas.county_b).get(f"{MINES}{mine.pk}/history/").status_code == 404


def test_status_changes_list_is_scoped(personas):
    response = api(personas.ent_a).get("/api/v1/status-changes/")
    assert response.status_code == 200
    assert {r["mine"] for r in response.json()["results"]} == {personas.mine_a.pk, personas.pond_a.pk}


def test_enterprises_list_is_scoped(personas):
    response = api(personas.county_b).get("/api/v1/enterprises/")
    assert response.status_code == 200
    assert [r["credit_code"] for r in response.json()["results"]] == [personas.enterprise_b.credit_code]


# Excel over the API --------------------------------------------------------------------------------
def upload(client, data: bytes, name: str = "ledger.xlsx"):
    return client.post(f"{MINES}import/", {"file": SimpleUploadedFile(name, data, content_type=XLSX)},
                       format="multipart")


def test_import_of_a_good_workbook_returns_the_counts(personas):
    response = upload(api(personas.county_a), workbook([good_row("KC-300"), good_row("KC-301")]))
    assert response.status_code == 200, response.content
    assert response.json() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    assert Mine.objects.filter(code__in=["KC-300", "KC-301"], scale_class="large").count() == 2


def test_import_of_a_bad_workbook_is_400_listing_row_and_column_and_changes_nothing(personas):
    before = counts()
    response = upload(api(personas.city), workbook([good_row("KC-300"), good_row("KC-301", county="火星县")]))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [(3, "所属县区", "火星县")]
    assert body["errors"][0]["message"]
    assert counts() == before


def test_import_of_a_non_xlsx_file_is_400_with_the_file_error(personas):
    before = counts()
    response = upload(api(personas.city), workbook([good_row("KC-300")]), name="ledger.xls")
    assert response.status_code == 400
    assert ".xlsx" in response.json()["detail"]
    assert response.json()["errors"] == []
    assert counts() == before


def test_import_without_a_file_is_400(personas):
    response = api(personas.city).post(f"{MINES}import/", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_enterprise_import_changes_nothing(personas):
    before = counts()
    response = upload(api(personas.ent_a), workbook([good_row("KC-300")]))
    assert response.status_code == 403
    assert counts() == before


def test_import_template_downloads_as_xlsx(personas):
    response = api(personas.county_a).get(f"{MINES}import-template/")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"]
    header = [c.value for c in load_workbook(io.BytesIO(response.content)).worksheets[0][1]]
    assert header[0] == "矿山编号"


def exported_codes(response) -> list[str]:
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    return [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]


def test_export_is_scoped_and_filtered(personas):
    client = api(personas.county_a)
    response = client.get(f"{MINES}export/")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert sorted(exported_codes(response)) == ["KC-001", "KC-002", "KC-T01"]
    assert exported_codes(client.get(f"{MINES}export/", {"mine_type": "tailings_pond"})) == ["KC-T01"]


def test_mine_list_is_scoped_and_filterable(personas):
    client = api(personas.county_a)
    codes = sorted(r["code"] for r in client.get(MINES).json()["results"])
    assert codes == ["KC-001", "KC-002", "KC-T01"]
    assert [r["code"] for r in client.get(MINES, {"q": "金矿"}).json()["results"]] == ["KC-002"]
    assert client.get(f"{MINES}{personas.mine_b.pk}/").status_code == 404


# Leaders -------------------------------------------------------------------------------------------
@pytest.fixture
def leaders(personas):
    start = dt.date(2024, 1, 1)
    return {
        "a": services.assign_leader(personas.city, personas.mine_a, name="王县长", post="副县长", level="county",
                                    start_date=start, phone="13900000000"),
        "b": services.assign_leader(personas.city, personas.mine_b, name="李县长", post="副县长", level="county",
                                    start_date=start, phone="13900000001"),
        "hidden": services.assign_leader(personas.city, personas.mine_a2, name="赵未公开", post="乡长",
                                         level="township", start_date=start, phone="13900000002", published=False),
    }


def test_public_leaders_need_no_login_and_show_no_phone_numbers(leaders):
    response = api().get("/api/v1/public/leaders/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert sorted(r["name"] for r in results) == ["李县长", "王县长"]
    assert all("phone" not in r for r in results)
    assert "1390000000" not in response.content.decode()


def test_public_leaders_omit_ended_assignments_and_closed_mines(personas, leaders):
    services.end_leader(personas.city, leaders["b"], timezone.localdate() - dt.timedelta(days=1))
    services.change_status(personas.city, personas.mine_a, "closed", reason="资源枯竭")
    assert api().get("/api/v1/public/leaders/").json()["results"] == []


def test_leaders_list_needs_login_and_is_scoped(personas, leaders):
    assert api().get("/api/v1/leaders/").status_code in (401, 403)
    names = {r["name"] for r in api(personas.county_b).get("/api/v1/leaders/").json()["results"]}
    assert names == {"李县长"}
    names = {r["name"] for r in api(personas.county_a).get("/api/v1/leaders/").json()["results"]}
    assert names == {"王县长", "赵未公开"}
    assert {r["name"] for r in api(personas.ent_a).get("/api/v1/leaders/").json()["results"]} == {"王县长"}


# Schema and docs -----------------------------------------------------------------------------------
def test_schema_is_an_openapi_3_document(personas):
    response = api(personas.city).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/mines/", "/api/v1/mines/{id}/transition/", "/api/v1/mines/{id}/ledger/",
                 "/api/v1/mines/import/", "/api/v1/public/leaders/"):
        assert path in doc["paths"], path


def test_docs_page_uses_only_local_assets(personas):
    response = api(personas.city).get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" in html
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    scripts = re.findall(r"""<script[^>]*\bsrc\s*=\s*["']([^"']+)["']""", html)
    assert scripts, "the page loads Swagger UI from a script file"
    for url in assets:
        assert not re.match(r"^(https?:)?//", url), url
        assert "cdn" not in url.lower(), url
    assert all(url.startswith("/static/") for url in scripts), scripts


# Query budget --------------------------------------------------------------------------------------
def add_mines(personas, n: int) -> None:
    enterprises = [personas.enterprise_a, personas.enterprise_b]
    for i in range(n):
        enterprise = enterprises[i % 2]
        if i % 2:
            services.create_mine(personas.city, code=f"XL-B{i:03}", name=f"兴隆矿{i}", enterprise=enterprise,
                                 county=personas.county_b_region, mine_type=Mine.Type.OPEN_PIT, mineral="石灰岩",
                                 design_capacity=50, slope_height=30)
        else:
            services.create_mine(personas.city, code=f"KC-P{i:03}", name=f"宽城尾矿库{i}", enterprise=enterprise,
                                 county=personas.county_a_region, mine_type=Mine.Type.TAILINGS_POND,
                                 design_pond_capacity=500, design_dam_height=45)


def test_mine_list_makes_a_constant_number_of_queries(personas, django_assert_max_num_queries):
    client = api(personas.city)
    client.get(MINES)  # warm up the session
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(MINES).json()["results"]) == 4
    add_mines(personas, 26)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(MINES)
    assert response.json()["count"] == 30
    assert len(response.json()["results"]) == 30

