"""Who sees which case on every page, export, API endpoint and decision document (the role matrix); the person's
ID number masked in lists; the decision document's content; the forms and the API refusing bad input with the
field and reason (400), a step out of order (409), a stranger's case (404)."""

import csv
import io
from decimal import Decimal

import pytest
from docx import Document
from openpyxl import load_workbook

from minesafe.penalties.models import PenaltyCase
from minesafe.web.tests.test_scoping import api_client, web_client

from .conftest import BASIS, PERSON, decide, notify, open_case

pytestmark = pytest.mark.django_db
PERSONAS = ["city", "county_a", "county_b", "ent_a", "ent_b", "inspector", "department", "anonymous"]
# Which of the world's cases each persona sees: an enterprise never sees a case before it was notified.
SCOPE = {
    "city": {"a_decided", "a_opened", "a2_notified", "b_decided"},
    "county_a": {"a_decided", "a_opened", "a2_notified"},
    "county_b": {"b_decided"},
    "ent_a": {"a_decided"},
    "ent_b": {"b_decided"},
    "inspector": {"a2_notified"},
    "department": None,  # refused (403)
    "anonymous": None,
}
CASES = ["a_decided", "a_opened", "a2_notified", "b_decided"]
FULL_ID = PERSON["person_id_number"]
MASKED_ID = "110105********002X"


@pytest.fixture
def world(personas):
    cases = {"a_decided": decide(personas, notify(personas, open_case(personas))),
             "a_opened": open_case(personas, facts="草稿案件"),
             "a2_notified": notify(personas, open_case(personas, mine=personas.mine_a2))}
    b = open_case(personas, actor=personas.county_b, mine=personas.mine_b)
    cases["b_decided"] = decide(personas, notify(personas, b, actor=personas.county_b), actor=personas.county_b)
    personas.cases = cases
    return personas


def pks(world, names) -> set[int]:
    return {world.cases[n].pk for n in names}


def get(client, world, persona, path):
    if path.startswith("/api/"):
        return api_client(world, persona).get(path)
    return web_client(client, world, persona).get(path)


def refused(response, persona) -> bool:
    if persona == "anonymous":
        return response.status_code in (302, 403) and (response.status_code == 403
                                                       or "/accounts/login/" in response["Location"])
    return response.status_code == 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_page_shows_exactly_the_personas_cases_with_the_id_masked(client, world, persona):
    response = get(client, world, persona, "/penalties/")
    if SCOPE[persona] is None:
        assert refused(response, persona)
        return
    html = response.content.decode()
    shown = {pk for pk in pks(world, CASES) if f'data-case="{pk}"' in html}
    assert shown == pks(world, SCOPE[persona])
    assert FULL_ID not in html
    if "a_decided" in SCOPE[persona]:
        assert MASKED_ID in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_page_is_404_outside_scope(client, world, persona):
    for name in CASES:
        response = get(client, world, persona, f"/penalties/{world.cases[name].pk}/")
        if SCOPE[persona] is None:
            assert refused(response, persona)
        else:
            assert response.status_code == (200 if name in SCOPE[persona] else 404), name


@pytest.mark.parametrize("persona", ["city", "county_a", "ent_a", "inspector"])
def test_the_detail_page_shows_the_id_number_only_to_who_may_see_it(client, world, persona):
    case = world.cases["a_decided"] if persona != "inspector" else world.cases["a2_notified"]
    html = get(client, world, persona, f"/penalties/{case.pk}/").content.decode()
    if persona == "inspector":
        assert FULL_ID not in html and MASKED_ID in html
    else:
        assert FULL_ID in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_exports_contain_exactly_the_personas_cases(client, world, persona):
    for path in ("/penalties/export.xlsx", "/penalties/export.csv", "/api/v1/penalty-cases/export/"):
        response = get(client, world, persona, path)
        if SCOPE[persona] is None:
            assert refused(response, persona), path
            continue
        assert response.status_code == 200
        if path.endswith(".csv"):
            text = b"".join(response.streaming_content).decode("utf-8-sig")
            rows = list(csv.reader(io.StringIO(text)))[1:]
            exported = {int(r[0]) for r in rows}
        else:
            sheet = load_workbook(io.BytesIO(response.content)).active
            rows = list(sheet.iter_rows(min_row=2, values_only=True))
            exported = {r[0] for r in rows}
        assert exported == pks(world, SCOPE[persona]), path
        assert FULL_ID not in str(rows)


def test_the_export_carries_the_fines_and_the_provisions(client, world):
    response = get(client, world, "county_a", "/penalties/export.xlsx?status=decided")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    row = dict(zip(header, next(sheet.iter_rows(min_row=2, values_only=True)), strict=True))
    assert row["决定书文号"] == "宽城应急罚〔2026〕1号" and row["对单位罚款(元)"] == 25000
    assert "《安全生产法》第一百零二条" in row["处罚依据"] and row["身份证号码"] == MASKED_ID


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_list_and_detail_are_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/penalty-cases/?limit=500")
    if SCOPE[persona] is None:
        assert response.status_code == 403
        assert api.get(f"/api/v1/penalty-cases/{world.cases['a_decided'].pk}/").status_code == 403
        return
    results = response.json()["results"]
    assert {r["id"] for r in results} == pks(world, SCOPE[persona])
    assert FULL_ID not in str(results)
    for name in CASES:
        detail = api.get(f"/api/v1/penalty-cases/{world.cases[name].pk}/")
        assert detail.status_code == (200 if name in SCOPE[persona] else 404)
        if detail.status_code == 200 and detail.json()["person_id_number"]:
            may_see = persona in ("city", "county_a", "county_b", "ent_a", "ent_b")
            assert detail.json()["person_id_number"] == (FULL_ID if may_see else MASKED_ID)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_decision_document_is_scoped(client, world, persona):
    for name in ("a_decided", "b_decided"):
        pk = world.cases[name].pk
        for path in (f"/api/v1/penalty-cases/{pk}/document/", f"/penalties/{pk}/decision.docx"):
            response = get(client, world, persona, path)
            if SCOPE[persona] is None:
                assert refused(response, persona)
            else:
                assert response.status_code == (200 if name in SCOPE[persona] else 404), path


def test_no_document_before_the_decision(client, world):
    assert get(client, world, "county_a", f"/penalties/{world.cases['a_opened'].pk}/decision.docx").status_code == 404


def document_text(response) -> str:
    doc = Document(io.BytesIO(response.content))
    return "\n".join(p.text for p in doc.paragraphs)


def test_the_decision_document_opens_and_carries_the_fines_and_legal_basis(client, world):
    case = world.cases["a_decided"]
    text = document_text(get(client, world, "county_a", f"/penalties/{case.pk}/decision.docx"))
    assert "行政处罚决定书" in text and "宽城应急罚〔2026〕1号" in text
    assert "处以罚款人民币25000.00元（大写：贰万伍仟元整）" in text
    assert "对主要负责人王建国处以罚款人民币28000.00元（大写：贰万捌仟元整）" in text
    assert "违反了《安全生产法》第四十一条、《金属非金属矿山重大事故隐患判定标准》" in text
    assert "依据《安全生产法》第一百零二条、《安全生产法》第九十四条第一款的规定" in text
    assert "一般" in text and case.benchmark_applied["version"] in text
    assert FULL_ID in text and "2026年10月15日" in text
    assert "每日按罚款数额的百分之三加处罚款" in text


def test_the_document_masks_the_id_number_for_readers_who_may_not_see_it(client, world, personas):
    from minesafe.registry.models import MineAssignment

    MineAssignment.objects.create(user=personas.inspector, mine=personas.mine_a)
    text = document_text(get(client, world, "inspector", f"/penalties/{world.cases['a_decided'].pk}/decision.docx"))
    assert FULL_ID not in text and MASKED_ID in text


# Bad input and refusals through the API -------------------------------------------------------------
def test_the_api_refuses_a_case_without_legal_basis_with_the_field(world):
    api = api_client(world, "county_a")
    body = {"mine": world.mine_a.pk, "violation_type": "major_hazard", "facts": "安全出口堵塞"}
    before = PenaltyCase.objects.count()
    for basis in (None, [], ["aqsf-41"], "aqsf-41"):
        payload = {**body, **({"legal_basis": basis} if basis is not None else {})}
        response = api.post("/api/v1/penalty-cases/", payload, format="json")
        assert response.status_code == 400 and "legal_basis" in response.json()
    response = api.post("/api/v1/penalty-cases/", {**body, "legal_basis": BASIS, "opened_on": "2026-10-01"},
                        format="json")
    assert response.status_code == 201 and response.json()["status"] == "opened"
    assert PenaltyCase.objects.count() == before + 1
    stranger = api.post("/api/v1/penalty-cases/", {**body, "mine": world.mine_b.pk, "legal_basis": BASIS},
                        format="json")
    assert stranger.status_code == 400 and "mine" in stranger.json()


def test_the_api_runs_the_steps_and_answers_400_409_403_404(world):
    county, ent, other = (api_client(world, p) for p in ("county_a", "ent_a", "county_b"))
    opened = world.cases["a_opened"]
    url = f"/api/v1/penalty-cases/{opened.pk}"
    decide_body = {"circumstance": "general", "enterprise_fine": "25000", "person_fine": "28000",
                   "decided_on": "2026-10-15"}
    conflict = county.post(f"{url}/decide/", decide_body, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "invalid_transition"
    assert other.post(f"{url}/notify/", {}, format="json").status_code == 404
    bad = county.post(f"{url}/notify/", {"circumstance": "general", "proposed_enterprise_fine": "lots"}, format="json")
    assert bad.status_code == 400 and "proposed_enterprise_fine" in bad.json()
    notice = {"circumstance": "general", "proposed_enterprise_fine": "25000", "proposed_person_fine": "28000",
              "notified_on": "2026-10-05", **PERSON}
    assert county.post(f"{url}/notify/", notice, format="json").status_code == 200
    assert ent.post(f"{url}/decide/", decide_body, format="json").status_code == 403
    out = county.post(f"{url}/decide/", {**decide_body, "enterprise_fine": "31000"}, format="json")
    assert out.status_code == 400 and "fine" in out.json()
    single = county.post(f"{url}/decide/", {**decide_body, "person_fine": None}, format="json")
    assert single.status_code == 400 and "person" in single.json()
    done = county.post(f"{url}/decide/", decide_body, format="json")
    assert done.status_code == 200 and done.json()["decision_no"] == "宽城应急罚〔2026〕2号"
    assert done.json()["person_id_number"] == FULL_ID
    serve = county.post(f"{url}/serve/", {"served_on": "2026-10-16"}, format="json")
    assert serve.json()["payment_due"] == "2026-10-31"
    pay = county.post(f"{url}/payments/", {"target": "enterprise", "amount": "25000", "paid_on": "2026-10-20",
                                           "receipt_ref": "R1"}, format="json")
    assert pay.status_code == 201 and pay.json()["fines"][0]["outstanding"] == "0.00"
    pay = county.post(f"{url}/payments/", {"target": "person", "amount": "28000", "paid_on": "2026-10-20",
                                           "receipt_ref": "R2"}, format="json")
    assert pay.json()["status"] == "paid"
    closed = county.post(f"{url}/close/", {"note": "结案"}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_the_party_requests_a_hearing_through_the_api(world):
    case = world.cases["a2_notified"]  # intended 25000 + 28000: the person's fine carries the hearing right
    ent_a2 = api_client(world, "ent_a")
    assert ent_a2.post(f"/api/v1/penalty-cases/{case.pk}/reply/", {"request_hearing": True},
                       format="json").status_code == 404  # not ent_a's mine
    county = api_client(world, "county_a")
    late = county.post(f"/api/v1/penalty-cases/{case.pk}/reply/", {"request_hearing": True, "replied_on": "2026-10-11"},
                       format="json")
    assert late.status_code == 409 and late.json()["field"] == "replied_on"


# Forms -------------------------------------------------------------------------------------------
def test_opening_a_case_on_the_page(client, world):
    client.force_login(world.county_a)
    before = PenaltyCase.objects.count()
    data = {"mine": world.mine_a.pk, "source": "direct", "violation_type": "major_hazard", "facts": "安全出口堵塞",
            "opened_on": "2026-10-01"}
    response = client.post("/penalties/new/", data)
    assert response.status_code == 200 and PenaltyCase.objects.count() == before
    assert "violated provision" in response.content.decode()
    response = client.post("/penalties/new/", {**data, "legal_basis": ["aqsf-41", "aqsf-102"]})
    assert response.status_code == 302 and PenaltyCase.objects.count() == before + 1
    for persona in ("ent_a", "inspector", "department"):
        client.force_login(getattr(world, persona))
        assert client.get("/penalties/new/").status_code == 403


def test_the_steps_on_the_detail_page(client, world):
    case = world.cases["a2_notified"]
    client.force_login(world.county_a)
    page = client.get(f"/penalties/{case.pk}/").content.decode()
    assert 'id="step-decide"' in page and 'id="step-withdraw"' in page and 'id="step-payment"' not in page
    data = {"action": "decide", "decide-circumstance": "general", "decide-enterprise_fine": "35000",
            "decide-person_fine": "28000", "decide-person_name": "王建国", "decide-person_role": "矿长",
            "decide-decided_on": "2026-10-15"}
    response = client.post(f"/penalties/{case.pk}/", data)
    assert response.status_code == 200 and "give the reason in writing" in response.content.decode()
    response = client.post(f"/penalties/{case.pk}/", {**data, "decide-fine_reason": "拒不整改"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "decided" and case.fine_reason == "拒不整改"
    client.force_login(world.ent_a)  # the party sees its own case, but no step on it
    other = world.cases["a_decided"]
    page = client.get(f"/penalties/{other.pk}/").content.decode()
    assert 'id="step-' not in page
    assert client.post(f"/penalties/{other.pk}/", {"action": "close"}).status_code == 403


def test_the_zero_penalty_page_and_api_are_for_the_city(client, world):
    assert get(client, world, "city", "/penalties/zero-penalty/?period=2026-Q3").status_code == 200
    assert get(client, world, "county_a", "/penalties/zero-penalty/").status_code == 403
    api = api_client(world, "city")
    ok = api.get("/api/v1/penalty-zero/?start=2026-07-01&end=2026-09-30")
    assert ok.status_code == 200 and len(ok.json()["counties"]) == 12
    assert api.get("/api/v1/penalty-zero/?start=2026-09-30&end=2026-07-01").status_code == 400
    assert api.get("/api/v1/penalty-zero/?start=x").status_code == 400
    assert api_client(world, "county_a").get("/api/v1/penalty-zero/?start=2026-07-01&end=2026-09-30"
                                             ).status_code == 403


def test_the_benchmark_page_is_read_by_all_and_edited_by_the_city(client, world):
    client.force_login(world.county_a)
    page = client.get("/penalties/benchmark/").content.decode()
    assert "《安全生产法》第一百零二条" in page and "unverified" in page
    edit = {"violation": "major_hazard", "level": "minor", "enterprise_min": "12000", "enterprise_max": "20000",
            "person_min": "20000", "person_max": "25000", "double_penalty": "on", "note": "调整"}
    assert client.post("/penalties/benchmark/", edit).status_code == 403
    client.force_login(world.city)
    assert client.post("/penalties/benchmark/", {**edit, "enterprise_max": "60000"}).status_code == 200
    assert client.post("/penalties/benchmark/", edit).status_code == 302
    assert api_client(world, "ent_a").get("/api/v1/penalty-benchmark/").json()["data"]["violations"][0]["levels"][0][
        "enterprise"] == ["12000.00", "20000.00"]
    assert Decimal(world.cases["a_decided"].benchmark_applied["enterprise_range"][0]) == Decimal("20000")


def test_the_list_filters(client, world):
    client.force_login(world.city)

    def shown(query):
        html = client.get(f"/penalties/?{query}").content.decode()
        return {name for name in CASES if f'data-case="{world.cases[name].pk}"' in html}

    assert shown("status=decided") == {"a_decided", "b_decided"}
    assert shown("county=130822") == {"b_decided"}
    assert shown("q=宽城乙") == {"a2_notified"}
    assert shown("year=2026&violation_type=major_hazard") == set(CASES)
    assert shown("overdue=1") == {"a_decided", "b_decided"}  # due 10-31, nothing paid
    assert shown("status=nonsense&year=20x6") == set(CASES)


def test_the_new_case_form_is_prefilled_from_its_source(client, world, inspection_a):
    client.force_login(world.county_a)
    html = client.get(f"/penalties/new/?inspection={inspection_a.pk}&mine={world.mine_a.pk}").content.decode()
    assert f'name="inspection" value="{inspection_a.pk}"' in html
    assert '<option value="inspection" selected>' in html


def test_the_detail_page_of_every_stage_renders_its_money_and_history(client, world, personas):
    from minesafe.penalties import services

    case = world.cases["a_decided"]
    services.record_payment(personas.county_a, case, target="person", amount="28000", paid_on="2026-10-20",
                            receipt_ref="R-P")
    challenge = services.file_challenge(personas.county_a, case, kind="lawsuit", filed_on="2026-11-02",
                                        body="宽城满族自治县人民法院")
    client.force_login(personas.county_a)
    html = client.get(f"/penalties/{case.pk}/").content.decode()
    assert 'id="fines"' in html and "R-P" in html and "宽城满族自治县人民法院" in html
    assert "paused: reconsideration or lawsuit" in html and f'id="conclude-{challenge.pk}"' in html
    assert 'id="step-close"' not in html and 'id="step-challenge"' not in html
    response = client.post(f"/penalties/{case.pk}/", {"action": f"conclude{challenge.pk}",
                                                      f"conclude{challenge.pk}-concluded_on": "2026-11-20",
                                                      f"conclude{challenge.pk}-outcome": "revoked"})
    assert response.status_code == 302
    html = client.get(f"/penalties/{case.pk}/").content.decode()
    assert 'id="step-close"' in html
    assert client.post(f"/penalties/{case.pk}/", {"action": "close", "close-note": "判决撤销"}).status_code == 302
    html = client.get(f"/penalties/{case.pk}/").content.decode()
    assert "Closed (结案)" in html and "判决撤销" in html
    withdrawn = world.cases["a2_notified"]
    client.post(f"/penalties/{withdrawn.pk}/", {"action": "withdraw", "withdraw-reason": "证据不足"})
    assert "证据不足" in client.get(f"/penalties/{withdrawn.pk}/").content.decode()
    client.force_login(personas.city)
    assert client.get("/penalties/zero-penalty/?start=2026-07-01&end=2026-09-30").status_code == 200
