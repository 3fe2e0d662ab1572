"""The hidden disaster-causing factor census (隐蔽致灾因素普查): opening, factors, treatment only forward,
completion, falsification (offence, redo), the resumption precondition, and who sees and does what on the
pages and the API."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import override
from rest_framework.test import APIClient

from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.operations import census as services
from minesafe.operations.models import Census, HiddenFactor, Offence
from minesafe.registry import services as registry
from minesafe.registry.models import Mine
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
STARTED = dt.date(2026, 1, 5)
C = Census.Status
T = HiddenFactor.Treatment
WRITERS_OF_MINE_A = ("city", "county_a", "ent_a")
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    moment = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def counts() -> tuple:
    return (Census.objects.count(), HiddenFactor.objects.count(), Offence.objects.count(), AuditEvent.objects.count(),
            list(Census.objects.values_list("status", "completed_on", "report_summary").order_by("pk")),
            list(HiddenFactor.objects.values_list("treatment", "treated_on", "treatment_note").order_by("pk")))


def events(obj, action=None):
    qs = AuditEvent.objects.filter(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


def open_census(personas, actor=None, mine=None, **overrides) -> Census:
    data = {"provider": "河北地勘院", "scope_years": 3, "started_on": STARTED, **overrides}
    return services.open_census(actor or personas.ent_a, mine or personas.mine_a, **data)


def add(census, actor, kind=HiddenFactor.Kind.VOID, location="-120 m 中段 3 号采场", description="采空区约 2000 m³"):
    return services.add_factor(actor, census, kind=kind, location=location, description=description)


def completed_census(personas, factors: int = 2, treated: int = 2, mine=None) -> Census:
    census = open_census(personas, personas.city, mine)
    made = [add(census, personas.city, location=f"位置 {i}") for i in range(factors)]
    for factor in made[:treated]:
        services.set_treatment(personas.city, factor, T.TREATED, treated_on=dt.date(2026, 2, 1), note="充填")
    return services.complete_census(personas.city, census, completed_on=dt.date(2026, 3, 1),
                                    report_summary="查明采空区两处")


# Opening -----------------------------------------------------------------------------------------
def test_the_enterprise_opens_a_census_of_its_own_mine(personas):
    census = fresh(open_census(personas))
    assert (census.status, census.provider, census.scope_years, census.started_on) == (
        C.IN_PROGRESS, "河北地勘院", 3, STARTED)
    assert census.created_by == personas.ent_a
    event = events(census, AuditEvent.Action.CREATE).get()
    assert event.actor_id == personas.ent_a.pk and event.after["provider"] == "河北地勘院"


@pytest.mark.parametrize("persona", ["city", "county_a"])
def test_the_county_and_the_city_open_a_census(personas, persona):
    assert open_census(personas, getattr(personas, persona)).status == C.IN_PROGRESS


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_opens_a_census(personas, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        open_census(personas, getattr(personas, persona))
    assert counts() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"scope_years": 2}, "scope_years"), ({"scope_years": 6}, "scope_years"), ({"provider": "  "}, "provider"),
    ({"provider": "x" * 129}, "provider"), ({"started_on": TODAY + dt.timedelta(days=1)}, "started_on"),
    ({"started_on": None}, "started_on"),
])
def test_bad_census_input_is_refused_naming_the_field(personas, overrides, field):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        open_census(personas, **overrides)
    assert field in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("years", [3, 4, 5])
def test_scope_within_the_catalogue_range_is_accepted(personas, years):
    assert services.scope_year_range() == (3, 5)
    assert open_census(personas, scope_years=years).scope_years == years


def test_one_census_in_progress_at_a_time_and_none_before_the_latest(personas):
    first = open_census(personas)
    before = counts()
    with pytest.raises(DomainError):
        open_census(personas, started_on=TODAY)
    assert counts() == before
    completed = services.complete_census(personas.ent_a, first, completed_on=TODAY, report_summary="无")
    with pytest.raises(ValidationError) as exc:
        open_census(personas, started_on=STARTED - dt.timedelta(days=1))
    assert "started_on" in exc.value.message_dict
    assert completed.status == C.COMPLETED


def test_a_closed_mine_gets_no_census(personas):
    registry.change_status(personas.city, personas.mine_a, Mine.Status.CLOSED, reason="关闭", effective_date=TODAY)
    with pytest.raises(DomainError):
        open_census(personas, personas.city, fresh(personas.mine_a))


# Factors -----------------------------------------------------------------------------------------
def test_factors_are_added_while_in_progress_only(personas):
    census = open_census(personas)
    factor = add(census, personas.ent_a, kind=HiddenFactor.Kind.WATER)
    assert (factor.kind, factor.treatment, factor.census_id) == (HiddenFactor.Kind.WATER, T.UNTREATED, census.pk)
    assert events(factor, AuditEvent.Action.CREATE).exists()
    services.complete_census(personas.ent_a, census, completed_on=TODAY, report_summary="水体一处")
    before = counts()
    with pytest.raises(InvalidTransition):
        add(census, personas.ent_a)
    assert counts() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": "ghost"}, "kind"), ({"location": ""}, "location"), ({"description": " "}, "description"),
    ({"location": "x" * 201}, "location"),
])
def test_bad_factor_input_is_refused(personas, overrides, field):
    census = open_census(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        add(census, personas.ent_a, **overrides)
    assert field in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_others_cannot_add_factors(personas, persona):
    census = open_census(personas)
    with pytest.raises(PermissionDenied):
        add(census, getattr(personas, persona))
    assert not HiddenFactor.objects.exists()


# Treatment ---------------------------------------------------------------------------------------
def test_treatment_moves_forward_to_treated_with_its_date(personas):
    census = open_census(personas)
    factor = add(census, personas.ent_a)
    services.set_treatment(personas.ent_a, factor, T.TREATING, note="注浆充填中")
    assert (fresh(factor).treatment, fresh(factor).treated_on) == (T.TREATING, None)
    services.set_treatment(personas.county_a, factor, T.TREATED, treated_on=TODAY)
    factor = fresh(factor)
    assert (factor.treatment, factor.treated_on, factor.treatment_note) == (T.TREATED, TODAY, "注浆充填中")
    trail = list(events(factor, AuditEvent.Action.TRANSITION).order_by("seq"))
    assert [e.after["treatment"] for e in trail] == [T.TREATING, T.TREATED]
    assert trail[0].before["treatment"] == T.UNTREATED


def test_untreated_may_go_straight_to_treated(personas):
    factor = add(open_census(personas), personas.ent_a)
    services.set_treatment(personas.ent_a, factor, T.TREATED, treated_on=STARTED)
    assert fresh(factor).treatment == T.TREATED


@pytest.mark.parametrize(("start", "target"), [(T.TREATING, T.UNTREATED), (T.TREATING, T.TREATING),
                                               (T.TREATED, T.TREATING), (T.UNTREATED, T.UNTREATED)])
def test_treatment_never_moves_back_or_stays(personas, start, target):
    factor = add(open_census(personas), personas.ent_a)
    if start != T.UNTREATED:
        services.set_treatment(personas.ent_a, factor, start, treated_on=TODAY if start == T.TREATED else None)
    before = counts()
    with pytest.raises(InvalidTransition):
        services.set_treatment(personas.ent_a, factor, target)
    assert counts() == before


@pytest.mark.parametrize(("target", "treated_on", "field"), [
    (T.TREATED, None, "treated_on"), (T.TREATED, TODAY + dt.timedelta(days=1), "treated_on"),
    (T.TREATED, STARTED - dt.timedelta(days=1), "treated_on"), (T.TREATING, TODAY, "treated_on"),
    ("cured", None, "treatment"),
])
def test_bad_treatment_input_is_refused(personas, target, treated_on, field):
    factor = add(open_census(personas), personas.ent_a)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.set_treatment(personas.ent_a, factor, target, treated_on=treated_on)
    assert field in exc.value.message_dict
    assert counts() == before


def test_treatment_continues_after_completion(personas):
    census = completed_census(personas, factors=2, treated=1)
    factor = census.factors.get(treatment=T.UNTREATED)
    services.set_treatment(personas.ent_a, factor, T.TREATED, treated_on=TODAY)
    assert services.census_treated(personas.mine_a)[0]


# Completion --------------------------------------------------------------------------------------
def test_completion_records_date_and_summary_and_tells_the_county(personas):
    census = open_census(personas)
    services.complete_census(personas.ent_a, census, completed_on=TODAY, report_summary="未发现隐蔽致灾因素")
    census = fresh(census)
    assert (census.status, census.completed_on, census.report_summary) == (C.COMPLETED, TODAY, "未发现隐蔽致灾因素")
    event = events(census, AuditEvent.Action.TRANSITION).get()
    assert (event.before["status"], event.after["status"]) == (C.IN_PROGRESS, C.COMPLETED)
    assert Notification.objects.filter(recipient=personas.county_a, link=f"/operations/census/{census.pk}/").exists()


@pytest.mark.parametrize(("completed_on", "summary", "field"), [
    (STARTED - dt.timedelta(days=1), "报告", "completed_on"), (TODAY + dt.timedelta(days=1), "报告", "completed_on"),
    (None, "报告", "completed_on"), (TODAY, "  ", "report_summary"),
])
def test_bad_completion_is_refused(personas, completed_on, summary, field):
    census = open_census(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.complete_census(personas.ent_a, census, completed_on=completed_on, report_summary=summary)
    assert field in exc.value.message_dict
    assert counts() == before


def test_a_completed_census_is_not_completed_again(personas):
    census = completed_census(personas)
    with pytest.raises(InvalidTransition):
        services.complete_census(personas.city, census, completed_on=TODAY, report_summary="again")


# Falsification -----------------------------------------------------------------------------------
def test_the_county_finds_a_census_falsified_records_the_offence_and_requires_a_redo(personas):
    census = completed_census(personas)
    assert services.census_treated(personas.mine_a)[0]
    services.mark_falsified(personas.county_a, census, note="采空区范围与实测不符", accountability="追究第三方机构责任")
    census = fresh(census)
    assert (census.status, census.falsification_note, census.accountability) == (
        C.FALSIFIED, "采空区范围与实测不符", "追究第三方机构责任")
    offence = Offence.objects.get(mine=personas.mine_a)
    assert (offence.kind, offence.found_on, offence.source) == (
        Offence.Kind.FALSIFIED_CENSUS, TODAY, f"operations.census:{census.pk}")
    assert "采空区范围与实测不符" in offence.description and offence.recorded_by == personas.county_a
    assert events(census, AuditEvent.Action.TRANSITION).filter(after__status=C.FALSIFIED).exists()
    assert Notification.objects.filter(recipient=personas.ent_a, link=f"/operations/census/{census.pk}/").exists()
    passed, reason = services.census_treated(personas.mine_a)
    assert not passed and "falsified" in reason
    # The redo: a new census opens, and the precondition waits for it.
    redo = open_census(personas, started_on=TODAY)
    passed, reason = services.census_treated(personas.mine_a)
    assert not passed and "in progress" in reason
    services.complete_census(personas.ent_a, redo, completed_on=TODAY, report_summary="重新普查")
    assert services.census_treated(personas.mine_a)[0]


def test_the_enterprise_cannot_find_its_own_census_falsified(personas):
    census = completed_census(personas)
    before = counts()
    for persona in ("ent_a", "county_b", "department", "inspector", "ent_b"):
        with pytest.raises(PermissionDenied):
            services.mark_falsified(getattr(personas, persona), census, note="x", accountability="y")
    assert counts() == before


@pytest.mark.parametrize(("note", "accountability", "field"), [
    ("", "追责", "falsification_note"), ("不符", " ", "accountability")])
def test_falsification_needs_the_finding_and_the_accountability(personas, note, accountability, field):
    census = completed_census(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.mark_falsified(personas.city, census, note=note, accountability=accountability)
    assert field in exc.value.message_dict
    assert counts() == before


def test_only_a_completed_census_is_found_falsified_and_a_falsified_one_is_frozen(personas):
    census = open_census(personas)
    factor = add(census, personas.ent_a)
    with pytest.raises(InvalidTransition):
        services.mark_falsified(personas.city, census, note="x", accountability="y")
    services.complete_census(personas.ent_a, census, completed_on=TODAY, report_summary="报告")
    services.mark_falsified(personas.city, census, note="x", accountability="y")
    before = counts()
    with pytest.raises(InvalidTransition):
        services.mark_falsified(personas.city, fresh(census), note="x", accountability="y")
    with pytest.raises(InvalidTransition):
        services.set_treatment(personas.ent_a, fresh(factor), T.TREATING)
    assert counts() == before


# The resumption precondition ---------------------------------------------------------------------
def test_census_treated_without_any_census(personas):
    assert services.census_treated(personas.mine_a) == (False, "no completed census")


def test_census_treated_counts_untreated_factors(personas):
    completed_census(personas, factors=5, treated=3)
    assert services.census_treated(personas.mine_a) == (False, "2 of 5 factors not treated")


def test_census_treated_passes_with_every_factor_treated(personas):
    completed_census(personas, factors=4, treated=4)
    assert services.census_treated(personas.mine_a) == (
        True, "census by 河北地勘院 completed 2026-03-01: 4 factors, all treated")


def test_census_treated_passes_when_nothing_was_found(personas):
    completed_census(personas, factors=0, treated=0)
    passed, reason = services.census_treated(personas.mine_a)
    assert passed and "no hidden factors" in reason


def test_census_treated_looks_at_the_mines_own_latest_census_only(personas):
    completed_census(personas, factors=1, treated=1, mine=personas.mine_a2)
    assert not services.census_treated(personas.mine_a)[0]
    assert services.census_treated(personas.mine_a2)[0]


def test_census_treated_reason_is_a_plain_string_in_chinese_too(personas):
    completed_census(personas, factors=2, treated=1)
    with override("zh-hans"):
        passed, reason = services.census_treated(personas.mine_a)
    assert not passed and isinstance(reason, str) and "2" in reason


# Pages -------------------------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """A completed census with one untreated factor on every fixture mine."""
    for name in MINES:
        census = open_census(personas, personas.city, getattr(personas, name), provider=f"{name}-provider")
        add(census, personas.city)
        services.complete_census(personas.city, census, completed_on=TODAY, report_summary="报告")
    return personas


def census_of(personas, name) -> Census:
    return Census.objects.get(mine=getattr(personas, name))


@pytest.mark.parametrize("persona", PERSONAS)
def test_census_pages_show_exactly_the_personas_mines(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/operations/census/")
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        for name in MINES:
            assert web.get(f"/operations/census/{census_of(world, name).pk}/").status_code == 302
        return
    shown = {n for n in MINES if f'data-mine="{getattr(world, n).pk}"' in response.content.decode()}
    assert shown == SCOPE[persona]
    for name in MINES:
        expected = 200 if name in SCOPE[persona] else 404
        assert web.get(f"/operations/census/{census_of(world, name).pk}/").status_code == expected
        assert web.get(f"/operations/mines/{getattr(world, name).pk}/census/").status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_census_api_is_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/censuses/?limit=500")
    factors = api.get("/api/v1/hidden-factors/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403 and factors.status_code == 403
        return
    expected = {getattr(world, n).pk for n in SCOPE[persona]}
    assert {row["mine"] for row in response.json()["results"]} == expected
    assert {Census.objects.get(pk=row["census"]).mine_id for row in factors.json()["results"]} == expected
    for name in MINES:
        census = census_of(world, name)
        code = 200 if name in SCOPE[persona] else 404
        assert api.get(f"/api/v1/censuses/{census.pk}/").status_code == code
        assert api.get(f"/api/v1/hidden-factors/{census.factors.get().pk}/").status_code == code
        assert api.get(f"/api/v1/censuses/check/?mine={getattr(world, name).pk}").status_code == code


def test_the_enterprise_works_through_a_census_on_the_pages(client, personas):
    web = web_client(client, personas, "ent_a")
    page = f"/operations/mines/{personas.mine_a.pk}/census/"
    assert 'id="open-census"' in web.get(page).content.decode()
    response = web.post(page, {"open-provider": "河北地勘院", "open-scope_years": "4", "open-started_on": "2026-01-05"})
    census = Census.objects.get(mine=personas.mine_a)
    assert response.status_code == 302 and response["Location"] == f"/operations/census/{census.pk}/"
    detail = response["Location"]
    response = web.post(detail, {"action": "factor", "factor-kind": "fault", "factor-location": "F3 断层",
                                 "factor-description": "导水断层"})
    assert response.status_code == 302
    factor = census.factors.get()
    before = counts()
    response = web.post(detail, {"action": f"treat{factor.pk}", f"treat{factor.pk}-treatment": "treated",
                                 f"treat{factor.pk}-treated_on": ""})
    assert response.status_code == 200 and counts() == before  # refused on the form, nothing changed
    assert "treated_on" in response.context["forms"][f"treat{factor.pk}"].errors
    web.post(detail, {"action": f"treat{factor.pk}", f"treat{factor.pk}-treatment": "treated",
                      f"treat{factor.pk}-treated_on": "2026-03-01", f"treat{factor.pk}-note": "注浆封堵"})
    assert fresh(factor).treatment == T.TREATED
    web.post(detail, {"action": "complete", "complete-completed_on": "2026-03-02",
                      "complete-report_summary": "断层一处已治理"})
    assert fresh(census).status == C.COMPLETED
    html = web.get(detail).content.decode()
    assert 'id="step-falsify"' not in html  # the enterprise never sees the falsification form
    assert web.post(detail, {"action": "falsify", "falsify-note": "x", "falsify-accountability": "y"}
                    ).status_code == 403
    assert fresh(census).status == C.COMPLETED


def test_the_county_marks_a_census_falsified_on_the_page(client, personas):
    census = completed_census(personas)
    web = web_client(client, personas, "county_a")
    detail = f"/operations/census/{census.pk}/"
    assert 'id="step-falsify"' in web.get(detail).content.decode()
    response = web.post(detail, {"action": "falsify", "falsify-note": "", "falsify-accountability": "追责"})
    assert response.status_code == 200 and fresh(census).status == C.COMPLETED
    web.post(detail, {"action": "falsify", "falsify-note": "数据造假", "falsify-accountability": "追责"})
    assert fresh(census).status == C.FALSIFIED and Offence.objects.filter(mine=personas.mine_a).count() == 1


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_readers_and_outsiders_cannot_post_census_steps(client, personas, persona):
    census = open_census(personas, personas.city, personas.mine_a2)
    web = web_client(client, personas, persona)
    response = web.post(f"/operations/census/{census.pk}/", {"action": "factor", "factor-kind": "void",
                                                             "factor-location": "x", "factor-description": "y"})
    assert response.status_code == (403 if persona in ("department", "inspector") else 404)
    assert not HiddenFactor.objects.exists()


# API ---------------------------------------------------------------------------------------------
def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def test_the_census_lifecycle_through_the_api(personas):
    ent = api(personas.ent_a)
    response = ent.post("/api/v1/censuses/", {"mine": personas.mine_a.pk, "provider": "河北地勘院", "scope_years": 5,
                                              "started_on": "2026-01-05"}, format="json")
    assert response.status_code == 201, response.json()
    census_id = response.json()["id"]
    assert response.json()["status"] == C.IN_PROGRESS
    response = ent.post(f"/api/v1/censuses/{census_id}/factors/", {"kind": "karst", "location": "东翼",
                                                                   "description": "溶洞"}, format="json")
    assert response.status_code == 201
    factor_id = response.json()["id"]
    response = ent.post(f"/api/v1/hidden-factors/{factor_id}/treatment/", {"treatment": "treated"}, format="json")
    assert response.status_code == 400 and "treated_on" in response.json()
    response = ent.post(f"/api/v1/hidden-factors/{factor_id}/treatment/",
                        {"treatment": "treated", "treated_on": "2026-03-01", "note": "回填"}, format="json")
    assert response.status_code == 200 and response.json()["treatment"] == T.TREATED
    response = ent.post(f"/api/v1/hidden-factors/{factor_id}/treatment/", {"treatment": "treating"}, format="json")
    assert response.status_code == 409
    response = ent.post(f"/api/v1/censuses/{census_id}/complete/", {"completed_on": "2026-03-02",
                                                                    "report_summary": "溶洞一处已治理"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == C.COMPLETED
    check = ent.get(f"/api/v1/censuses/check/?mine={personas.mine_a.pk}").json()
    assert check["passed"] and "1 factor" in check["reason"]
    assert ent.post(f"/api/v1/censuses/{census_id}/falsify/", {"note": "x", "accountability": "y"},
                    format="json").status_code == 403
    response = api(personas.city).post(f"/api/v1/censuses/{census_id}/falsify/",
                                       {"note": "伪造", "accountability": "追责"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == C.FALSIFIED
    assert Offence.objects.filter(kind=Offence.Kind.FALSIFIED_CENSUS).count() == 1


def test_the_api_refuses_bad_census_input_and_invisible_mines(personas):
    before = counts()
    response = api(personas.ent_a).post("/api/v1/censuses/", {"mine": personas.mine_a.pk, "provider": "x",
                                                              "scope_years": 7, "started_on": "2026-01-05"},
                                        format="json")
    assert response.status_code == 400 and "scope_years" in response.json()
    response = api(personas.ent_b).post("/api/v1/censuses/", {"mine": personas.mine_a.pk, "provider": "x",
                                                              "scope_years": 3, "started_on": "2026-01-05"},
                                        format="json")
    assert response.status_code == 400 and "mine" in response.json()
    response = api(personas.department).post("/api/v1/censuses/", {"mine": personas.mine_a.pk, "provider": "x",
                                                                   "scope_years": 3, "started_on": "2026-01-05"},
                                             format="json")
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.parametrize("endpoint", ["censuses", "hidden-factors"])
def test_census_api_lists_read_in_a_fixed_number_of_queries(world, endpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(world.city)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/{endpoint}/?limit=500").status_code == 200
        return len(ctx.captured_queries)

    first = queries()
    census = open_census(world, world.city, world.mine_a, started_on=TODAY)
    for i in range(3):
        add(census, world.city, location=f"more {i}")
    assert queries() == first
